-- spec/lua/match_model_spec.lua: rules/match_model.lua on real Claude Code requests and on
-- crafted bodies, loaded through the runtime as ccproxy.yaml names it.
local fx = require("fixtures")
local core = require("ccproxy.core")

describe("rule match_model", function()
  it("matches the haiku fixture by substring and not the opus one", function()
    local match = fx.rule("match_model", { model_name = "haiku" })
    assert.is_true(match(fx.request("e_model_haiku")))
    assert.is_false(match(fx.request("a_say_hi")))
    assert.is_false(match(fx.request("c_oauth")))
  end)

  it("is case-sensitive", function()
    assert.is_false(fx.rule("match_model", { model_name = "HAIKU" })(fx.request("e_model_haiku")))
    assert.is_false(fx.rule("match_model", { model_name = "Opus" })(fx.request("a_say_hi")))
    assert.is_true(fx.rule("match_model", { model_name = "opus" })(fx.request("a_say_hi")))
  end)

  it("matches any part of the name, dated or not", function()
    local match = fx.rule("match_model", { model_name = "sonnet-4-5" })
    assert.is_true(match(fx.request("e_model_sonnet45")))
    assert.is_true(fx.rule("match_model", { model_name = "20250929" })(
      fx.request("e_model_sonnet45")))
    assert.is_false(match(fx.request("c_oauth"))) -- claude-sonnet-5-5
  end)

  it("treats the name literally, not as a Lua pattern", function()
    local match = fx.rule("match_model", { model_name = "claude-.*" })
    assert.is_false(match(fx.body_request({ model = "claude-haiku" })))
    assert.is_true(match(fx.body_request({ model = "x-claude-.*-y" })))
  end)

  it("does not match a body without a model or with a non-string one", function()
    local match = fx.rule("match_model", { model_name = "haiku" })
    assert.is_false(match(fx.body_request({ messages = {} })))
    assert.is_false(match(fx.body_request('{"model": 42}')))
    assert.is_false(match(fx.body_request('{"model": null}')))
    assert.is_false(match(fx.body_request('{"model": ["haiku"]}')))
  end)

  it("sees a model a hook set earlier", function()
    local req = fx.request("a_say_hi")
    req.model = "claude-haiku-5-5"
    assert.is_true(fx.rule("match_model", { model_name = "haiku" })(req))
    core.finish(req)
  end)

  it("is reached by the Python name and rejects a missing model_name", function()
    assert.is_true(fx.rule("ccproxy.rules.MatchModelRule", { model_name = "haiku" })(
      fx.request("e_model_haiku")))
    local rt = require("ccproxy.runtime")
    local ok, err = rt.load {
      config_dir = fx.config("lua-route"), builtin_dir = fx.repo,
      rules = { { name = "bg", module = "ccproxy.rules.MatchModelRule", params = {},
                  where = "ccproxy.yaml:7:7" } },
    }
    assert.is_false(ok)
    assert.matches("ccproxy.yaml:7:7: rule 'bg' params rejected: model_name is required", err,
      1, true)
  end)
end)
