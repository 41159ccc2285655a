-- spec/functional/policies_spec.lua: the router's rules per error class, against two mock
-- upstreams that fail on cue: retry_policy and model_group_retry_policy, a 400 relayed as it
-- is unless a rule applies, context_window_fallbacks and content_policy_fallbacks (and plain
-- fallbacks not used for a bad request), allowed_fails_policy, disable_cooldowns,
-- max_fallbacks, and router_settings' timeout and stream_timeout as the request's deadline.
local H = require("proxy_harness")
local socket = require("socket")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
litellm:
  host: 127.0.0.1
  port: 4000
]]

local MODELS = [[
model_list:
  - model_name: rl
    litellm_params: {model: anthropic/claude-a, api_base: A, order: 1}
  - model_name: rl
    litellm_params: {model: anthropic/claude-b, api_base: B, order: 2}
  - model_name: br
    litellm_params: {model: anthropic/claude-a, api_base: A, order: 1}
  - model_name: br
    litellm_params: {model: anthropic/claude-b, api_base: B, order: 2}
  - model_name: plain
    litellm_params: {model: anthropic/claude-a, api_base: A, order: 1}
  - model_name: plain
    litellm_params: {model: anthropic/claude-b, api_base: B, order: 2}
  - model_name: small
    litellm_params: {model: anthropic/claude-small, api_base: A}
  - model_name: big
    litellm_params: {model: anthropic/claude-big, api_base: B}
  - model_name: other
    litellm_params: {model: anthropic/claude-other, api_base: B}
  - model_name: strict
    litellm_params: {model: anthropic/claude-strict, api_base: A}
  - model_name: lenient
    litellm_params: {model: anthropic/claude-lenient, api_base: B}
  - model_name: main
    litellm_params: {model: anthropic/claude-main, api_base: A}
  - model_name: f1
    litellm_params: {model: anthropic/claude-f1, api_base: A}
  - model_name: f2
    litellm_params: {model: anthropic/claude-f2, api_base: B}
  - model_name: slow
    litellm_params: {model: anthropic/claude-slow, api_base: A}
]]

local SETTINGS = [[
router_settings:
  num_retries: 1
  cooldown_time: 1
  timeout: 1
  stream_timeout: 3
  max_fallbacks: 1
  model_group_retry_policy:
    rl: {RateLimitErrorRetries: 0}
    br: {BadRequestErrorRetries: 1}
  allowed_fails_policy: {RateLimitErrorAllowedFails: 1}
  fallbacks: [{small: [other]}, {main: [f1, f2]}]
  context_window_fallbacks: [{small: [big]}]
  content_policy_fallbacks: [{strict: [lenient]}]
]]

local function error_step(status, type_, message)
  return { status = status, error = { type = type_, message = message } }
end

describe("retry and fallback rules per error class", function()
  local a, b, proxy

  setup(function()
    a = H.start_mock()
    b = H.start_mock()
    local config = (MODELS .. SETTINGS):gsub("api_base: A", "api_base: " .. a:base())
      :gsub("api_base: B", "api_base: " .. b:base())
    proxy = H.start_proxy({ dir = H.config_dir({ ccproxy_yaml = CCPROXY_YAML,
                                                 config_yaml = config }) })
  end)

  teardown(function()
    H.cleanup()
  end)

  before_each(function()
    a:reset(true)
    b:reset(true)
    socket.sleep(1.1) -- past any cooldown a test left behind
  end)

  local function ask(model, fields)
    local body = H.messages_body(fields)
    body.model = model
    return proxy:messages(body)
  end

  it("retry_policy per group: no retry for a 429 where it says 0, a retry for a 500", function()
    a:script({ error_step(429, "rate_limit_error", "slow down") })
    local res = ask("rl")
    assert.equal(429, res.status, res.body)
    assert.equal(0, #b:requests(), "RateLimitErrorRetries: 0 was not honoured")
    a:script({ error_step(500, "api_error", "oops") })
    res = ask("rl")
    assert.equal(200, res.status, res.body)
    assert.equal(1, #b:requests())
  end)

  it("a 400 goes to the client as it is, unless a rule says to retry it", function()
    a:script({ error_step(400, "invalid_request_error", "messages: field required") })
    local res = ask("plain")
    assert.equal(400, res.status)
    assert.equal("messages: field required", H.decode(res.body).error.message)
    assert.equal(0, #b:requests())
    -- BadRequestErrorRetries: 1 for br: the next member gets it
    a:script({ error_step(400, "invalid_request_error", "messages: field required") })
    res = ask("br")
    assert.equal(200, res.status, res.body)
    assert.equal(1, #b:requests())
    assert.matches("attempts=2 failed=br:400:", proxy:log())
  end)

  it("context_window_fallbacks: a too-long request moves to the larger group", function()
    a:script({ error_step(400, "invalid_request_error",
      "prompt is too long: 250000 tokens > 200000 maximum") })
    local res = ask("small")
    assert.equal(200, res.status, res.body)
    assert.equal("big", res.headers["x-ccproxy-deployment"])
    assert.equal("claude-big", H.decode(b:last_request().body).model)
    assert.matches("failed %(400, the input is too long for it: context_window_fallbacks%)",
      proxy:log())
    -- Another bad request of small: neither the context window fallback nor plain fallbacks.
    b:reset(true)
    a:script({ error_step(400, "invalid_request_error", "max_tokens: must be positive") })
    res = ask("small")
    assert.equal(400, res.status)
    assert.equal(0, #b:requests(), "a bad request went to a fallback group")
  end)

  it("content_policy_fallbacks: a refusal by policy moves to the group that allows it", function()
    a:script({ error_step(400, "invalid_request_error",
      "Output blocked by content filtering policy") })
    local res = ask("strict")
    assert.equal(200, res.status, res.body)
    assert.equal("lenient", res.headers["x-ccproxy-deployment"])
    assert.matches("content_policy_fallbacks", proxy:log())
  end)

  it("allowed_fails_policy: a 429 cools down only after the allowed number", function()
    -- RateLimitErrorAllowedFails: 1 — the first 429 does not cool A down
    a:script({ error_step(429, "rate_limit_error", "slow down") })
    assert.equal(200, ask("plain").status)
    assert.equal(0, #H.decode(proxy:request({ path = "/health" }).body).cooldowns)
    assert.equal(200, ask("plain").status)
    assert.equal(2, #a:requests(), "A cooled down after its first 429")
    -- the second within the minute does
    a:script({ error_step(429, "rate_limit_error", "slow down") })
    assert.equal(200, ask("plain").status)
    local cds = H.decode(proxy:request({ path = "/health" }).body).cooldowns
    assert.equal(1, #cds, H.encode(cds))
    assert.equal(200, ask("plain").status)
    assert.equal(3, #a:requests(), "A was picked while cooling down")
  end)

  it("max_fallbacks: no more fallback groups than it allows", function()
    local oops = error_step(500, "api_error", "oops")
    a:script({ oops, oops, oops, oops })
    local res = ask("main")
    assert.equal(500, res.status)
    assert.equal(4, #a:requests()) -- main twice, f1 twice
    assert.equal(0, #b:requests(), "f2 was tried past max_fallbacks: 1")
  end)

  it("timeout bounds a request's attempts; stream_timeout a streaming one's", function()
    local t0 = H.now()
    local res = ask("slow", { messages = { { role = "user", content = "MOCK:delay 2000" } } })
    assert.equal(504, res.status, res.body)
    local took = H.now() - t0
    assert.is_true(took >= 0.9 and took < 1.8, ("timeout 1 s took %.2f s"):format(took))
    res = ask("slow", { stream = true,
                        messages = { { role = "user", content = "MOCK:delay 2000" } } })
    assert.equal(200, res.status, res.body)
  end)
end)

describe("disable_cooldowns", function()
  local a, b, proxy

  setup(function()
    a = H.start_mock()
    b = H.start_mock()
    local config = (MODELS .. "router_settings:\n  num_retries: 1\n  disable_cooldowns: true\n")
      :gsub("api_base: A", "api_base: " .. a:base()):gsub("api_base: B", "api_base: " .. b:base())
    proxy = H.start_proxy({ dir = H.config_dir({ ccproxy_yaml = CCPROXY_YAML,
                                                 config_yaml = config }) })
  end)

  teardown(function()
    H.cleanup()
  end)

  it("keeps every deployment in the picks after a 429", function()
    a:script({ error_step(429, "rate_limit_error", "slow down") })
    assert.equal(200, proxy:messages(H.messages_body({ model = "plain" })).status)
    assert.equal(0, #H.decode(proxy:request({ path = "/health" }).body).cooldowns)
    assert.equal(200, proxy:messages(H.messages_body({ model = "plain" })).status)
    assert.equal(2, #a:requests())
  end)
end)
