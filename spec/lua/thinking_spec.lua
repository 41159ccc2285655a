-- spec/lua/thinking_spec.lua: rules/thinking.lua: adaptive and enabled thinking, budgets and
-- effort levels, on real Claude Code requests and crafted bodies.
local fx = require("fixtures")

local function body(thinking, output_config)
  return fx.body_request({ model = "claude-opus-5-5", messages = {}, thinking = thinking,
                           output_config = output_config })
end

describe("rule thinking", function()
  it("matches Claude Code's adaptive thinking by default", function()
    local match = fx.rule("thinking")
    for _, name in ipairs(fx.messages) do
      assert.is_true(match(fx.request(name)), name)
    end
  end)

  it("leaves adaptive thinking out with adaptive = false", function()
    local match = fx.rule("thinking", { adaptive = false })
    assert.is_false(match(fx.request("a_say_hi")))
    assert.is_false(match(fx.request("e_model_haiku")))
    -- enabled thinking still counts
    assert.is_true(match(fx.request("e_model_sonnet45")))
  end)

  it("compares an enabled budget with min_budget_tokens", function()
    -- e_model_sonnet45 asks for {"type":"enabled","budget_tokens":31999}
    local req = fx.request("e_model_sonnet45")
    assert.same({ type = "enabled", budget_tokens = 31999, display = "omitted" },
      req:field("thinking"))
    assert.is_false(fx.rule("thinking", { min_budget_tokens = 32000 })(req))
    assert.is_true(fx.rule("thinking", { min_budget_tokens = 31999 })(req))
    assert.is_true(fx.rule("thinking", { min_budget_tokens = 1024 })(req))
    assert.is_true(fx.rule("thinking")(req))
  end)

  it("counts adaptive thinking as unlimited against a budget", function()
    assert.is_true(fx.rule("thinking", { min_budget_tokens = 1000000 })(fx.request("a_say_hi")))
    assert.is_false(fx.rule("thinking", { min_budget_tokens = 1000000, adaptive = false })(
      fx.request("a_say_hi")))
  end)

  it("treats an enabled request without a budget as budget 0", function()
    assert.is_true(fx.rule("thinking")(body({ type = "enabled" })))
    assert.is_false(fx.rule("thinking", { min_budget_tokens = 1 })(body({ type = "enabled" })))
  end)

  it("never matches disabled thinking", function()
    for _, params in ipairs({ {}, { adaptive = true }, { min_budget_tokens = 0 },
                              { efforts = { "low", "medium", "high", "max" } } }) do
      assert.is_false(fx.rule("thinking", params)(body({ type = "disabled" })))
      assert.is_false(fx.rule("thinking", params)(
        body({ type = "disabled" }, { effort = "high" })))
    end
  end)

  it("never matches when thinking is absent or not an object", function()
    local match = fx.rule("thinking")
    assert.is_false(match(body(nil)))
    assert.is_false(match(fx.request("count_tokens", { n = 5, kind = "count_tokens" })))
    assert.is_false(match(fx.body_request('{"thinking": null}')))
    assert.is_false(match(fx.body_request('{"thinking": true}')))
    assert.is_false(match(fx.body_request('{"thinking": "adaptive"}')))
  end)

  it("checks output_config.effort against an efforts list", function()
    -- the fixtures ask for effort "medium"
    local req = fx.request("a_say_hi")
    assert.equal("medium", req:field("output_config").effort)
    assert.is_false(fx.rule("thinking", { efforts = { "high", "max" } })(req))
    assert.is_true(fx.rule("thinking", { efforts = { "medium" } })(req))
    assert.is_true(fx.rule("thinking", { efforts = { "low", "medium", "high" } })(req))
    assert.is_false(fx.rule("thinking", { efforts = {} })(req))
  end)

  it("takes a request without an effort as high", function()
    -- e_model_sonnet45 has no output_config
    local req = fx.request("e_model_sonnet45")
    assert.is_nil(req:field("output_config"))
    assert.is_true(fx.rule("thinking", { efforts = { "high" } })(req))
    assert.is_false(fx.rule("thinking", { efforts = { "low", "medium" } })(req))
    assert.is_true(fx.rule("thinking", { efforts = { "max" } })(
      body({ type = "adaptive" }, { effort = "max" })))
    assert.is_false(fx.rule("thinking", { efforts = { "max" } })(
      body({ type = "adaptive" }, { effort = "low" })))
  end)

  it("needs every condition: budget and effort together", function()
    local req = body({ type = "enabled", budget_tokens = 50000 }, { effort = "low" })
    assert.is_true(fx.rule("thinking", { min_budget_tokens = 32000 })(req))
    assert.is_false(fx.rule("thinking", { min_budget_tokens = 32000, efforts = { "high" } })(req))
    assert.is_true(fx.rule("thinking", { min_budget_tokens = 32000, efforts = { "low" } })(req))
  end)

  it("rejects params of the wrong type at load", function()
    local rt = require("ccproxy.runtime")
    local ok, err = rt.load {
      config_dir = fx.config("lua-route"), builtin_dir = fx.repo,
      rules = { { name = "think", module = "ccproxy.rules.ThinkingRule",
                  params = { min_budget_tokens = "lots" }, where = "ccproxy.yaml:9:7" } },
    }
    assert.is_false(ok)
    assert.matches("ccproxy.yaml:9:7: rule 'think' param min_budget_tokens must be a number",
      err, 1, true)
  end)
end)
