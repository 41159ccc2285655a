-- rules/thinking.lua: matches when the request asks for extended thinking: `thinking` present
-- and not {"type": "disabled"}. Current Claude Code sends {"type": "adaptive"} on nearly every
-- request, so narrow it with params:
--   min_budget_tokens  only "enabled" thinking with at least this budget (adaptive counts as
--                      unlimited unless adaptive = false)
--   adaptive           false: adaptive thinking does not count
--   efforts            a list of output_config.effort levels that count (e.g. {"high","max"});
--                      a request without an effort counts as "high", the API's default
local function contains(list, value)
  for _, v in ipairs(list) do
    if v == value then return true end
  end
  return false
end

return {
  params = { min_budget_tokens = 0, adaptive = true },
  match = function(req, params)
    local thinking = req:field("thinking")
    if type(thinking) ~= "table" then return false end
    local kind = thinking.type
    if kind == "disabled" then return false end
    if kind == "adaptive" then
      if params.adaptive == false then return false end
    elseif params.min_budget_tokens > 0 then
      local budget = tonumber(thinking.budget_tokens) or 0
      if budget < params.min_budget_tokens then return false end
    end
    if type(params.efforts) == "table" then
      local oc = req:field("output_config")
      local effort = type(oc) == "table" and oc.effort or "high"
      if not contains(params.efforts, effort) then return false end
    end
    return true
  end,
}
