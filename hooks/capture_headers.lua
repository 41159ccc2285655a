-- hooks/capture_headers.lua: puts the client's request headers into the request's log line,
-- as tags h.<name>=<value>, with secrets redacted as ccproxy.redact says (the same as
-- `ccproxy explain`): "Bearer sk-ant-oat01-...cdef", "Basic ...", cookies "[redacted]".
-- Values are cut at 200 characters. params.headers: the names to capture (any case); empty
-- (the default) means all, except the x-stainless-* fields the Anthropic SDK adds to every
-- request (name them to capture them).
local redact = require("ccproxy.redact")

local MAX = 200

return {
  params = { headers = {} },
  check = function(params)
    for i, v in ipairs(params.headers) do
      if type(v) ~= "string" or v == "" or v:find("[%s:=]") then
        return false, string.format("headers[%d] must be a header name, got %s", i,
          tostring(v))
      end
    end
    return true
  end,
  request = function(req, params)
    local wanted
    if #params.headers > 0 then
      wanted = {}
      for _, name in ipairs(params.headers) do wanted[name:lower()] = true end
    end
    local values, order = {}, {}
    for _, field in ipairs(req.client_headers()) do
      local name = field[1]:lower()
      local take
      if wanted then
        take = wanted[name]
      else
        take = name:sub(1, 12) ~= "x-stainless-"
      end
      if take and field[2] ~= "" then
        if not values[name] then
          order[#order + 1] = name
          values[name] = {}
        end
        local list = values[name]
        list[#list + 1] = field[2]
      end
    end
    for _, name in ipairs(order) do
      local value = redact.header(name, table.concat(values[name], ", "))
      req:tag("h." .. name, #value > MAX and value:sub(1, MAX) or value)
    end
  end,
}
