-- spec/lua/web_search_spec.lua: rules/web_search.lua: Anthropic's web search server tool.
local fx = require("fixtures")

local server_tool = { type = "web_search_20250305", name = "web_search", max_uses = 8 }

describe("rule web_search", function()
  it("matches a request carrying the web search server tool", function()
    local match = fx.rule("web_search")
    assert.is_true(match(fx.body_request({ model = "claude-haiku-5-5", tools = { server_tool },
      messages = { { role = "user", content = "Perform a web search for the query: x" } } })))
  end)

  it("matches it among other tools, and a later version of it", function()
    local match = fx.rule("web_search")
    assert.is_true(match(fx.body_request({ tools = { { name = "Bash" }, server_tool } })))
    assert.is_true(match(fx.body_request({ tools = { { type = "web_search_20260101",
                                                        name = "web_search" } } })))
  end)

  it("does not match Claude Code's main requests", function()
    local match = fx.rule("web_search")
    for _, name in ipairs(fx.messages) do
      assert.is_false(match(fx.request(name)), name)
    end
  end)

  it("does not match a custom tool named web_search", function()
    local match = fx.rule("web_search")
    assert.is_false(match(fx.body_request({ tools = { { name = "web_search",
      description = "search", input_schema = { type = "object" } } } })))
    assert.is_false(match(fx.body_request({ tools = { { type = "custom", name = "web_search" } } })))
    assert.is_false(match(fx.body_request({ tools = { { type = "function",
      ["function"] = { name = "web_search" } } } })))
    assert.is_false(match(fx.body_request({ tools = { "web_search" } })))
  end)

  it("does not match other server tools or no tools", function()
    local match = fx.rule("web_search")
    assert.is_false(match(fx.body_request({ tools = { { type = "web_fetch_20250910",
                                                         name = "web_fetch" } } })))
    assert.is_false(match(fx.body_request({ tools = { { type = "bash_20250124",
                                                         name = "bash" } } })))
    assert.is_false(match(fx.body_request({ messages = {} })))
    assert.is_false(match(fx.body_request('{"tools": {"type": "web_search_20250305"}}')))
  end)

  it("is reached by the Python name", function()
    assert.is_true(fx.rule("ccproxy.rules.WebSearchRule")(
      fx.body_request({ tools = { server_tool } })))
  end)
end)
