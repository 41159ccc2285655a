-- spec/lua/match_tool_spec.lua: rules/match_tool.lua: the tools a request offers, in the
-- Anthropic, OpenAI and plain string forms.
local fx = require("fixtures")
local core = require("ccproxy.core")

describe("rule match_tool", function()
  it("finds Claude Code's Bash tool case-insensitively", function()
    for _, name in ipairs(fx.messages) do
      assert.is_true(fx.rule("match_tool", { tool_name = "bash" })(fx.request(name)), name)
      assert.is_true(fx.rule("match_tool", { tool_name = "BASH" })(fx.request(name)), name)
    end
  end)

  it("matches a substring of a tool name", function()
    local req = fx.request("a_say_hi")
    assert.is_true(fx.rule("match_tool", { tool_name = "agents" })(req)) -- ListAgents
    assert.is_true(fx.rule("match_tool", { tool_name = "toolsearch" })(req))
    assert.is_false(fx.rule("match_tool", { tool_name = "websearch" })(req))
    assert.is_false(fx.rule("match_tool", { tool_name = "no_such_tool" })(req))
  end)

  it("treats the name literally, not as a Lua pattern", function()
    local req = fx.body_request({ tools = { { name = "Bash" } } })
    assert.is_false(fx.rule("match_tool", { tool_name = "b.sh" })(req))
    assert.is_false(fx.rule("match_tool", { tool_name = "%a" })(req))
  end)

  it("reads the OpenAI function form", function()
    local req = fx.body_request({ tools = {
      { type = "function", ["function"] = { name = "Get_Weather", parameters = {} } } } })
    assert.is_true(fx.rule("match_tool", { tool_name = "get_weather" })(req))
    assert.is_true(fx.rule("match_tool", { tool_name = "WEATHER" })(req))
    assert.is_false(fx.rule("match_tool", { tool_name = "function" })(req))
  end)

  it("reads string tools", function()
    local req = fx.body_request({ tools = { "read_file", "WebFetch" } })
    assert.is_true(fx.rule("match_tool", { tool_name = "webfetch" })(req))
    assert.is_true(fx.rule("match_tool", { tool_name = "read" })(req))
    assert.is_false(fx.rule("match_tool", { tool_name = "write" })(req))
  end)

  it("does not match without tools or with tools that are not a list of tools", function()
    local match = fx.rule("match_tool", { tool_name = "bash" })
    assert.is_false(match(fx.body_request({ model = "m", messages = {} })))
    assert.is_false(match(fx.body_request('{"tools": []}')))
    assert.is_false(match(fx.body_request('{"tools": null}')))
    assert.is_false(match(fx.body_request('{"tools": "bash"}')))
    assert.is_false(match(fx.body_request('{"tools": [1, true, null, {"name": 7}]}')))
    assert.is_false(match(fx.body_request('{"tools": [{"function": "bash"}]}')))
  end)

  it("looks at tools offered, not tools used in messages", function()
    local req = fx.body_request({ tools = { { name = "Read" } }, messages = { {
      role = "assistant",
      content = { { type = "tool_use", id = "t1", name = "Bash", input = {} } } } } })
    assert.is_false(fx.rule("match_tool", { tool_name = "bash" })(req))
  end)

  it("reads tools edited through req.body", function()
    local req = fx.request("a_say_hi")
    req.body.tools = core.json.array({ { name = "OnlyThis" } })
    assert.is_false(fx.rule("match_tool", { tool_name = "bash" })(req))
    assert.is_true(fx.rule("match_tool", { tool_name = "onlythis" })(req))
    core.finish(req)
  end)

  it("requires tool_name", function()
    local rt = require("ccproxy.runtime")
    local ok, err = rt.load { config_dir = fx.config("lua-route"), builtin_dir = fx.repo,
      rules = { { name = "tool", module = "ccproxy.rules.MatchToolRule", params = {},
                  where = "ccproxy.yaml:12:7" } } }
    assert.is_false(ok)
    assert.matches("ccproxy.yaml:12:7: rule 'tool' params rejected: tool_name is required", err,
      1, true)
  end)
end)
