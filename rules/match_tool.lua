-- rules/match_tool.lua: matches when a tool offered in `tools` has a name containing
-- `tool_name` (case-insensitive). Note that Claude Code offers its whole tool list on every
-- main-agent request: this rule tells which tools are offered, not which are used.
return {
  params = { tool_name = "" },
  check = function(params)
    if params.tool_name == "" then return false, "tool_name is required" end
    return true
  end,
  match = function(req, params)
    local tools = req:field("tools")
    if type(tools) ~= "table" then return false end
    local want = params.tool_name:lower()
    for _, tool in ipairs(tools) do
      local name
      if type(tool) == "table" then
        name = tool.name or (type(tool["function"]) == "table" and tool["function"].name)
      elseif type(tool) == "string" then
        name = tool
      end
      if type(name) == "string" and name:lower():find(want, 1, true) then return true end
    end
    return false
  end,
}
