-- hooks/add_beta_headers.lua: merges params.betas into the anthropic-beta header of requests
-- that go to Anthropic deployments (place it after model_router; before routing a request
-- counts as Anthropic's). The client's values keep their order, new ones are appended, none
-- is repeated; a header that already holds them all is left as it was.
local claude = require("ccproxy.claude")

return {
  params = { betas = {} },
  check = function(params)
    if #params.betas == 0 then
      return false, "betas is empty: list the anthropic-beta values to add, e.g. "
        .. "params: {betas: [interleaved-thinking-2025-05-14]}"
    end
    for i, v in ipairs(params.betas) do
      if type(v) ~= "string" or not v:match("^[%w%._%-]+$") then
        return false, string.format("betas[%d] must be a beta name (letters, digits, '-', "
          .. "'_' or '.'), got %s", i, tostring(v))
      end
    end
    return true
  end,
  request = function(req, params)
    local d = req.deployment
    if d and d.provider ~= "anthropic" then return end
    local added = claude.add_betas(req.headers, params.betas)
    if #added > 0 then
      req:log("debug", "add_beta_headers: added " .. table.concat(added, ","))
    end
  end,
}
