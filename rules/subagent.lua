-- rules/subagent.lua: matches the requests of a Claude Code agent whose definition chose its
-- model with <CCR-SUBAGENT-MODEL>provider,model</CCR-SUBAGENT-MODEL> (see hooks/subagent.lua,
-- which reads the tag, removes it from the body and sets req.ctx.route). The rule only reads:
-- it matches when the hook found a tag (req.ctx.subagent). Without the hook before
-- rule_evaluator, a request that still carries the tag matches too, with a warning, but the
-- tag then goes upstream and nothing sets the route.
local json = require("ccproxy").json

-- The first user message of a messages list, or nil.
local function first_user(messages)
  if type(messages) ~= "table" then return nil end
  for _, m in ipairs(messages) do
    if type(m) == "table" and m.role == "user" then return m end
  end
  return nil
end

local function carries(value, open)
  if value == nil then return false end
  local text = type(value) == "string" and value or json.encode(value) or ""
  return text:find(open, 1, true) ~= nil
end

return {
  params = { tag = "CCR-SUBAGENT-MODEL" },
  check = function(params)
    if not params.tag:match("^[%w_%-]+$") then
      return false, "tag must be letters, digits, '_' or '-' (written without < >), got '"
        .. params.tag .. "'"
    end
    return true
  end,
  match = function(req, params)
    if req.ctx.subagent then return true end
    local open = "<" .. params.tag .. ">"
    local msg = first_user(req:field("messages"))
    if not carries(req:field("system"), open) and not (msg and carries(msg.content, open)) then
      return false
    end
    req:log("warn", string.format("subagent: this request carries <%s> but no subagent hook "
      .. "ran before rule_evaluator, so the tag goes upstream and the route is not set; add "
      .. "`- subagent` to ccproxy.hooks before rule_evaluator", params.tag))
    return true
  end,
}
