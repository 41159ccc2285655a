-- spec/functional/key_pool_spec.lua: the two setups people put a router in front of Claude
-- Code for, against a mock upstream: a pool of API keys that rotates to the next key when one
-- is rate-limited (and leaves it out while it cools down), and the subscription first, with
-- an API key taking over when the subscription answers 429, without the client's token ever
-- going along with the key.
local H = require("proxy_harness")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
litellm:
  host: 127.0.0.1
  port: 4000
]]

describe("key pools and subscription first", function()
  local mock, proxy

  setup(function()
    mock = H.start_mock()
    local config = ([[
model_list:
  - model_name: keys
    litellm_params: {model: anthropic/claude-sonnet-5-5, api_base: A, api_key: sk-ant-key-one}
  - model_name: keys
    litellm_params: {model: anthropic/claude-sonnet-5-5, api_base: A, api_key: sk-ant-key-two}
  - model_name: sub
    litellm_params: {model: anthropic/claude-sonnet-5-5, api_base: A, order: 1}
  - model_name: sub
    litellm_params: {model: anthropic/claude-sonnet-5-5, api_base: A, api_key: sk-ant-paid-key, order: 2}
router_settings:
  num_retries: 1
  cooldown_time: 30
]]):gsub("api_base: A", "api_base: " .. mock:base())
    proxy = H.start_proxy({ dir = H.config_dir({ ccproxy_yaml = CCPROXY_YAML, config_yaml = config }) })
  end)

  teardown(function()
    H.cleanup()
  end)

  before_each(function()
    mock:reset(true)
  end)

  local rate_limited = { status = 429, error = { type = "rate_limit_error", message = "slow down" } }

  local function ask(model, headers)
    local body = H.messages_body()
    body.model = model
    return proxy:messages(body, { headers = headers })
  end

  it("rotates to the next key on a 429 and leaves the limited key out", function()
    mock:script({ rate_limited })
    local res = ask("keys", { ["x-api-key"] = "sk-ant-client-own" })
    assert.equal(200, res.status, res.body)
    local reqs = mock:requests()
    assert.equal(2, #reqs)
    local first = H.record_header(reqs[1], "x-api-key")
    local second = H.record_header(reqs[2], "x-api-key")
    assert.is_truthy(first == "sk-ant-key-one" or first == "sk-ant-key-two", first)
    assert.is_truthy(second == "sk-ant-key-one" or second == "sk-ant-key-two", second)
    assert.are_not.equal(first, second)
    -- the limited key cools down: every next request uses the other one
    for _ = 1, 6 do
      assert.equal(200, ask("keys", { ["x-api-key"] = "sk-ant-client-own" }).status)
    end
    reqs = mock:requests()
    for i = 3, #reqs do
      assert.equal(second, H.record_header(reqs[i], "x-api-key"))
    end
  end)

  it("sends the subscription first, and the key when the subscription is used up", function()
    local oauth = { authorization = "Bearer sk-ant-oat01-client-subscription" }
    assert.equal(200, ask("sub", oauth).status)
    local rec = mock:last_request()
    assert.equal("Bearer sk-ant-oat01-client-subscription", H.record_header(rec, "authorization"))
    assert.is_nil(H.record_header(rec, "x-api-key"))
    mock:reset(true)
    mock:script({ rate_limited })
    local res = ask("sub", oauth)
    assert.equal(200, res.status, res.body)
    local reqs = mock:requests()
    assert.equal(2, #reqs)
    assert.equal(429, reqs[1].status)
    assert.equal("sk-ant-paid-key", H.record_header(reqs[2], "x-api-key"))
    assert.is_nil(H.record_header(reqs[2], "authorization"),
      "the client's subscription token went along with the paid key")
    -- the subscription cools down: the key takes the next ones directly
    assert.equal(200, ask("sub", oauth).status)
    assert.equal(3, #mock:requests())
    assert.equal("sk-ant-paid-key", H.record_header(mock:last_request(), "x-api-key"))
  end)
end)
