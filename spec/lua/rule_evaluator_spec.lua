-- spec/lua/rule_evaluator_spec.lua: hooks/rule_evaluator.lua: the first rule of ccproxy.yaml
-- that matches labels the request.
local fx = require("fixtures")
local core = require("ccproxy.core")

local BG = { "background", "ccproxy.rules.MatchModelRule", { model_name = "haiku" } }
local BIG = { "long", "ccproxy.rules.TokenCountRule", { threshold = 5000 } }
local THINK = { "think", "ccproxy.rules.ThinkingRule", { adaptive = false } }

describe("hook rule_evaluator", function()
  it("labels with the first matching rule in config order", function()
    -- e_model_haiku matches both "background" and "long"
    local run = fx.pipeline { rules = { BG, BIG, THINK }, hooks = { "ccproxy.hooks.rule_evaluator" } }
    local req = run(fx.request("e_model_haiku"))
    assert.equal("background", req.label)
    assert.equal("background", req.rule)
    local out = core.finish(req)
    assert.equal("background", out.label)
    assert.equal("background", out.rule)

    run = fx.pipeline { rules = { BIG, BG, THINK }, hooks = { "ccproxy.hooks.rule_evaluator" } }
    assert.equal("long", run(fx.request("e_model_haiku")).label)
  end)

  it("goes down the list until one matches", function()
    local run = fx.pipeline { rules = { BG, { "bash", "match_tool", { tool_name = "nothing" } },
                                        THINK }, hooks = { "rule_evaluator" } }
    local req = run(fx.request("e_model_sonnet45")) -- enabled thinking, not haiku
    assert.equal("think", req.label)
    assert.equal("think", req.rule)
  end)

  it("labels 'default' with no rule when none matches", function()
    local run = fx.pipeline { rules = { BG, THINK }, hooks = { "rule_evaluator" } }
    local req = run(fx.request("a_say_hi"))
    assert.equal("default", req.label)
    assert.is_nil(req.rule)
    local out = core.finish(req)
    assert.equal("default", out.label)
    assert.is_nil(out.rule)
  end)

  it("labels 'default' when no rules are configured", function()
    local run = fx.pipeline { rules = {}, hooks = { "rule_evaluator" } }
    assert.equal("default", run(fx.request("e_model_haiku")).label)
  end)

  it("counts a rule that raises as no match and tries the next", function()
    local rt = require("ccproxy.runtime")
    local run = fx.pipeline { config_dir = fx.config("lua-modules"), allow_errors = true,
      rules = { { "broken", "raises" }, BG }, hooks = { "rule_evaluator" } }
    local before = rt.stats().rule_errors
    local req = run(fx.request("e_model_haiku"))
    assert.equal("background", req.label)
    assert.equal(before + 1, rt.stats().rule_errors)
    req = run(fx.request("a_say_hi"))
    assert.equal("default", req.label)
    assert.equal(before + 2, rt.stats().rule_errors)
  end)

  it("overwrites a label set earlier", function()
    local run = fx.pipeline { rules = { BG }, hooks = { "rule_evaluator" } }
    local req = fx.request("a_say_hi")
    req.label = "stale"
    req.rule = "stale"
    run(req)
    assert.equal("default", req.label)
    assert.is_nil(req.rule)
  end)

  it("does not touch the body or the headers", function()
    local run = fx.pipeline { rules = { BG, BIG }, hooks = { "rule_evaluator" } }
    local req = run(fx.request("e_model_haiku"))
    local out = core.finish(req)
    assert.is_false(out.body_changed)
    assert.equal(fx.body("e_model_haiku"), out.body)
    assert.is_nil(out.deployment)
  end)

  it("is what ccproxy.classify answers", function()
    fx.pipeline { rules = { BIG, BG }, hooks = { "rule_evaluator" } }
    local ccproxy = require("ccproxy")
    local label, rule = ccproxy.classify(fx.request("e_model_haiku"))
    assert.equal("long", label)
    assert.equal("long", rule)
    label, rule = ccproxy.classify(fx.body_request({ model = "x" }))
    assert.equal("default", label)
    assert.is_nil(rule)
  end)
end)
