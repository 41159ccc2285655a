-- spec/lua/forward_apikey_spec.lua: hooks/forward_apikey.lua: the client's x-api-key goes
-- upstream even when the deployment has an api_key of its own (what a hook writes wins).
local fx = require("fixtures")
local core = require("ccproxy.core")

local KEYED = { "keyed", "match_model", { model_name = "claude" } }
local GPT = { "gpt", "match_model", { model_name = "claude" } }

local function route(name, rules, hooks)
  local run = fx.pipeline { rules = rules, hooks = hooks }
  return core.finish(run(fx.request(name, { config_dir = fx.config("lua-route") })))
end

describe("hook forward_apikey", function()
  it("lets the deployment's api_key go upstream when it is not configured", function()
    local out = route("a_say_hi", { KEYED }, { "rule_evaluator", "model_router" })
    assert.equal("keyed", out.deployment.model_name)
    assert.is_true(out.deployment.has_api_key)
    assert.same({ "sk-ant-from-config", 1 }, { fx.header(out.upstream_headers, "x-api-key") })
    -- scripts never see the key: req.headers keeps the client's
    assert.same({ "sk-ant-dummy", 1 }, { fx.header(out.headers, "x-api-key") })
  end)

  it("puts the client's x-api-key over the deployment's", function()
    local out = route("a_say_hi", { KEYED }, { "rule_evaluator", "model_router", "forward_apikey" })
    assert.equal("keyed", out.deployment.model_name)
    assert.same({ "sk-ant-dummy", 1 }, { fx.header(out.upstream_headers, "x-api-key") })
    assert.is_nil(fx.header(out.upstream_headers, "authorization"))
  end)

  it("is reached by its Python name", function()
    local out = route("a_say_hi", { KEYED }, { "ccproxy.hooks.rule_evaluator",
      "ccproxy.hooks.model_router", "ccproxy.hooks.forward_apikey" })
    assert.same({ "sk-ant-dummy", 1 }, { fx.header(out.upstream_headers, "x-api-key") })
  end)

  it("leaves a non-Anthropic deployment's key to its adapter", function()
    local out = route("a_say_hi", { GPT }, { "rule_evaluator", "model_router", "forward_apikey" })
    assert.equal("gpt", out.deployment.model_name)
    assert.equal("openai", out.deployment.provider)
    -- the OpenAI adapter puts the key in "Authorization: Bearer <api_key>", and x-api-key (an
    -- Anthropic field) never goes to OpenAI, even when a hook wrote it
    assert.same({ "Bearer sk-openai-from-config", 1 },
                { fx.header(out.upstream_headers, "authorization") })
    assert.is_nil(fx.header(out.upstream_headers, "x-api-key"))
    assert.same({ "sk-ant-dummy", 1 }, { fx.header(out.headers, "x-api-key") })
    assert.equal("blue", (fx.header(out.upstream_headers, "x-team")))
    assert.equal("gpt-5", out.model)
  end)

  it("keeps the deployment's key when the client sent none", function()
    -- c_oauth authenticates with Authorization: Bearer, no x-api-key
    local out = route("c_oauth", { KEYED }, { "rule_evaluator", "model_router", "forward_apikey" })
    assert.same({ "sk-ant-from-config", 1 }, { fx.header(out.upstream_headers, "x-api-key") })
    -- the key replaces the client's credentials
    assert.is_nil(fx.header(out.upstream_headers, "authorization"))
  end)

  it("ignores an empty client x-api-key", function()
    local run = fx.pipeline { rules = { KEYED },
                              hooks = { "rule_evaluator", "model_router", "forward_apikey" } }
    local req = fx.body_request({ model = "claude-opus-5-5" }, {
      config_dir = fx.config("lua-route"), headers = { { "x-api-key", "" } } })
    local out = core.finish(run(req))
    assert.same({ "sk-ant-from-config", 1 }, { fx.header(out.upstream_headers, "x-api-key") })
  end)

  it("forwards the client's key without routing too", function()
    local run = fx.pipeline { hooks = { "forward_apikey" } }
    local req = fx.request("a_say_hi")
    req.headers["x-api-key"] = nil
    local out = core.finish(run(req))
    assert.same({ "sk-ant-dummy", 1 }, { fx.header(out.headers, "x-api-key") })
  end)
end)
