-- rules/web_search.lua: matches when the request carries Anthropic's web search server tool
-- ({"type": "web_search_20250305", "name": "web_search"}), which is how Claude Code's
-- WebSearch reaches the API: a separate request whose only job is the search.
return {
  params = {},
  match = function(req)
    local tools = req:field("tools")
    if type(tools) ~= "table" then return false end
    for _, tool in ipairs(tools) do
      if type(tool) == "table" and type(tool.type) == "string"
          and tool.type:sub(1, 11) == "web_search_" then
        return true
      end
    end
    return false
  end,
  -- Run by `ccproxy check`.
  examples = {
    { name = "the web search server tool",
      body = [[{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"news?"}],
               "tools":[{"type":"web_search_20250305","name":"web_search","max_uses":8}]}]],
      expect = true },
    { name = "ordinary tools only",
      body = [[{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}],
               "tools":[{"name":"WebSearch","input_schema":{"type":"object"}}]}]],
      expect = false },
    { name = "no tools", expect = false },
  },
}
