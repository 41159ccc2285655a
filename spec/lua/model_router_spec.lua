-- spec/lua/model_router_spec.lua: hooks/model_router.lua: label -> alias -> deployment, the
-- passthrough of "default", and the upstream body (only the model value may change).
local fx = require("fixtures")
local core = require("ccproxy.core")

local THINK = { "think", "ccproxy.rules.ThinkingRule" }
local BG = { "background", "ccproxy.rules.MatchModelRule", { model_name = "haiku" } }
local HOOKS = { "ccproxy.hooks.rule_evaluator", "ccproxy.hooks.model_router" }

local function with_model(raw, from, to)
  return fx.replace(raw, '"model":"' .. from .. '"', '"model":"' .. to .. '"')
end

describe("hook model_router", function()
  it("routes a label through its alias to the deployment, model in the body", function()
    local run = fx.pipeline { rules = { THINK }, hooks = HOOKS }
    local req = run(fx.request("c_oauth", { config_dir = fx.config("lua-route") }))
    assert.equal("think", req.label)
    assert.equal("claude-opus-5-5", req.model)
    assert.equal("claude-sonnet-5-5", req.requested_model)
    local d = req.deployment
    assert.equal("claude-opus-5-5", d.model_name)
    assert.equal("claude-opus-5-5", d.model)
    assert.equal("think", d.via)
    assert.equal("anthropic", d.provider)
    assert.equal("http://127.0.0.1:9", d.api_base)
    assert.is_false(d.passthrough)
    local out = core.finish(req)
    assert.is_true(out.body_changed)
    assert.equal("claude-opus-5-5", out.model)
    assert.equal(with_model(fx.body("c_oauth"), "claude-sonnet-5-5", "claude-opus-5-5"), out.body)
    assert.equal("claude-opus-5-5", out.deployment.model_name)
  end)

  it("changes only the model bytes of every fixture", function()
    local run = fx.pipeline { rules = {}, hooks = HOOKS, passthrough = false }
    for _, name in ipairs(fx.messages) do
      local raw = fx.body(name)
      local req = fx.request(name, { config_dir = fx.config("lua-route") })
      local from = req.model
      run(req)
      local out = core.finish(req)
      assert.equal("claude-sonnet-5-5", out.model, name)
      if from == "claude-sonnet-5-5" then
        assert.is_false(out.body_changed, name)
        assert.equal(raw, out.body, name)
      else
        assert.is_true(out.body_changed, name)
        assert.equal(with_model(raw, from, "claude-sonnet-5-5"), out.body, name)
      end
    end
  end)

  it("changes only the model bytes when a hook decoded the body first", function()
    local run = fx.pipeline { rules = { { "background", "match_model", { model_name = "opus" } } },
                              hooks = HOOKS }
    local req = fx.request("a_say_hi", { config_dir = fx.config("lua-route") })
    assert.equal("user", req.body.messages[1].role) -- decodes the whole body
    run(req)
    assert.equal("claude-haiku-5-5", req.body.model)
    assert.equal("claude-haiku-5-5", req.model)
    local out = core.finish(req)
    assert.is_true(out.body_changed)
    assert.equal("claude-haiku-5-5", out.model)
    assert.equal(with_model(fx.body("a_say_hi"), "claude-opus-5-5", "claude-haiku-5-5"), out.body)
  end)

  it("keeps the client's model for 'default' with passthrough, exact deployment", function()
    local run = fx.pipeline { rules = { BG }, hooks = HOOKS }
    local req = run(fx.request("a_say_hi", { config_dir = fx.config("lua-route") }))
    assert.equal("default", req.label)
    local d = req.deployment
    assert.equal("claude-opus-5-5", d.model_name)
    assert.equal("claude-opus-5-5", d.model)
    assert.is_true(d.passthrough)
    local out = core.finish(req)
    assert.is_false(out.body_changed)
    assert.equal(fx.body("a_say_hi"), out.body)
    assert.equal("claude-opus-5-5", out.model)
  end)

  it("sends an unlisted Claude model through the glob deployment unchanged", function()
    local run = fx.pipeline { rules = { BG }, hooks = HOOKS }
    local req = run(fx.request("e_model_sonnet45", { config_dir = fx.config("lua-route") }))
    local d = req.deployment
    assert.equal("claude-*", d.model_name)
    assert.equal("claude-sonnet-4-5-20250929", d.model)
    assert.is_true(d.passthrough)
    local out = core.finish(req)
    assert.is_false(out.body_changed)
    assert.equal(fx.body("e_model_sonnet45"), out.body)
  end)

  it("falls back to the default entry for a label without one", function()
    local run = fx.pipeline { rules = { { "nolabel", "match_model", { model_name = "opus" } } },
                              hooks = HOOKS }
    local req = run(fx.request("a_say_hi", { config_dir = fx.config("lua-route") }))
    assert.equal("nolabel", req.label)
    local d = req.deployment
    assert.equal("claude-sonnet-5-5", d.model_name)
    assert.equal("default", d.via)
    assert.is_false(d.passthrough)
    local out = core.finish(req)
    assert.equal(with_model(fx.body("a_say_hi"), "claude-opus-5-5", "claude-sonnet-5-5"), out.body)
  end)

  it("routes 'default' to the default entry when passthrough is off", function()
    local run = fx.pipeline { rules = { BG }, hooks = HOOKS, passthrough = false }
    local req = run(fx.request("e_model_sonnet45", { config_dir = fx.config("lua-route") }))
    assert.equal("default", req.label)
    local d = req.deployment
    assert.equal("claude-sonnet-5-5", d.model_name)
    assert.equal("default", d.via)
    assert.is_false(d.passthrough)
    assert.equal("claude-sonnet-5-5", core.finish(req).model)
  end)

  it("uses the label set by an earlier hook, and 'default' when none", function()
    local run = fx.pipeline { hooks = { "model_router" } }
    local req = fx.request("a_say_hi", { config_dir = fx.config("lua-route") })
    req.label = "background"
    run(req)
    assert.equal("claude-haiku-5-5", req.deployment.model_name)
    req = run(fx.request("c_oauth", { config_dir = fx.config("lua-route") }))
    assert.is_true(req.deployment.passthrough)
    assert.equal("claude-sonnet-5-5", req.deployment.model_name)
  end)

  it("leaves the request unrouted when nothing fits, and the stage then fails", function()
    local run = fx.pipeline { rules = { BG }, hooks = HOOKS, passthrough = false,
                              config_dir = fx.config("lua-nodefault") }
    local req = run(fx.request("e_model_haiku", { config_dir = fx.config("lua-nodefault") }))
    assert.equal("background", req.label)
    assert.is_nil(req.deployment)
    -- the server answers such a request with a not_found_error naming the model
    assert.has_error(function() core.finish(req) end,
      "finish: model 'claude-haiku-5-5' is not configured: add a model_list entry for it "
      .. "(or a 'default' or a glob like 'claude-*') to config.yaml")
  end)

  it("routes a model a hook set when no router runs", function()
    local req = fx.request("a_say_hi", { config_dir = fx.config("lua-route") })
    req.model = "claude-haiku-5-5"
    local out = core.finish(req)
    assert.equal("claude-haiku-5-5", out.deployment.model_name)
    assert.equal("claude-haiku-5-5", out.model)
  end)
end)

-- req.ctx.route: a target a rule (subagent) or hook chose, before the label.
describe("hook model_router with req.ctx.route", function()
  local CFG = fx.config("hooks-route")

  -- `req` seen through a table whose :log calls are recorded.
  local function logging(req)
    local lines = {}
    return setmetatable({}, {
      __index = function(_, k)
        if k == "log" then
          return function(_, level, msg) lines[#lines + 1] = { level = level, msg = msg } end
        end
        local v = req[k]
        if type(v) == "function" then return function(_, ...) return v(req, ...) end end
        return v
      end,
      __newindex = function(_, k, v) req[k] = v end,
    }), lines
  end

  local HOOK = dofile(fx.repo .. "/hooks/model_router.lua")
  local function route(target, label)
    local req = fx.request("a_say_hi", { config_dir = CFG })
    req.ctx.route = target
    req.label = label
    -- the settings ccproxy.config() hands the hook: passthrough on
    assert(require("ccproxy.runtime").load { config_dir = CFG, builtin_dir = fx.repo,
                                             default_model_passthrough = true })
    local view, lines = logging(req)
    HOOK.request(view, {})
    return core.finish(req), lines
  end

  it("routes to provider/model, over the label", function()
    local out, lines = route("openai/gpt-5", "claude-sonnet-5-5")
    assert.equal("gpt", out.deployment.model_name)
    assert.equal("gpt-5", out.model)
    assert.equal(0, #lines)
    assert.equal(with_model(fx.body("a_say_hi"), "claude-opus-5-5", "gpt-5"), out.body)
  end)

  it("routes to a provider's wildcard deployment with the model as written", function()
    local out = route("gemini/gemini-3-flash")
    assert.equal("gemini-*", out.deployment.model_name)
    assert.equal("gemini", out.deployment.provider)
    assert.equal("gemini-3-flash", out.model)
  end)

  it("routes to a model_name, alias or deployment", function()
    local out = route("keyed", "claude-sonnet-5-5")
    assert.equal("keyed", out.deployment.model_name)
    assert.equal("claude-keyed-1", out.model)
    out = route("default")
    assert.equal("claude-sonnet-5-5", out.deployment.model_name)
    assert.equal("default", out.deployment.via)
  end)

  it("warns and routes by the label when config.yaml has nothing for the target", function()
    local out, lines = route("openai/gpt-nope", "claude-haiku-5-5")
    -- hooks-route has no haiku entry of its own: the claude-* glob
    assert.equal("claude-*", out.deployment.model_name)
    assert.equal("claude-haiku-5-5", out.model)
    assert.equal(1, #lines)
    assert.equal("warn", lines[1].level)
    -- req:route's own message: the entry, where it was asked for, and what to do
    assert.equal("model_router: req.ctx.route 'openai/gpt-nope' routes nowhere ("
      .. fx.repo .. "/hooks/model_router.lua:17: req:route('openai/gpt-nope'): config.yaml has "
      .. "no model_name 'openai/gpt-nope' and no deployment of that provider/model; add such an "
      .. "entry to model_list, or choose the fallback yourself: req:route('openai/gpt-nope') or "
      .. "req:route('default')); routing by the label 'claude-haiku-5-5' instead", lines[1].msg)
    out, lines = route("nothing-here")
    assert.equal("claude-opus-5-5", out.deployment.model_name) -- "default": passthrough
    assert.is_true(out.deployment.passthrough)
    assert.equal("model_router: req.ctx.route 'nothing-here' routes nowhere (" .. fx.repo
      .. "/hooks/model_router.lua:17: req:route('nothing-here'): config.yaml has no model_name 'nothing-here'; add such an "
      .. "entry to model_list, or choose the fallback yourself: req:route('nothing-here') or "
      .. "req:route('default')); routing by the label 'default' instead", lines[1].msg)
  end)

  it("warns about a target that is not a string", function()
    for _, target in ipairs({ 5, "", { "openai/gpt-5" } }) do
      local out, lines = route(target, "claude-sonnet-5-5")
      assert.equal("claude-sonnet-5-5", out.deployment.model_name)
      assert.equal(1, #lines)
      assert.matches("model_router: req.ctx.route must be a non-empty string", lines[1].msg,
                     1, true)
    end
  end)
end)
