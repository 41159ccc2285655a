-- spec/functional/strategies_spec.lua: the routing strategies against two mock upstreams:
-- least-busy avoids the deployment with an answer in progress, latency-based-routing moves to
-- the faster one once both are measured, usage-based-routing keeps under each deployment's
-- rpm, and max_parallel_requests holds with every strategy (a 429 with retry-after when the
-- whole group is at its limit).
local H = require("proxy_harness")
local sh = require("sh")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
litellm:
  host: 127.0.0.1
  port: 4000
]]

-- Two members of group `name`, on A and B, with `extra_a` / `extra_b` litellm_params.
local function group(name, extra_a, extra_b)
  return ("  - model_name: %s\n    litellm_params: {model: anthropic/claude-a, api_base: A%s}\n"
    .. "  - model_name: %s\n    litellm_params: {model: anthropic/claude-b, api_base: B%s}\n")
    :format(name, extra_a or "", name, extra_b or "")
end

describe("routing strategies", function()
  local a, b

  setup(function()
    a = H.start_mock()
    b = H.start_mock()
  end)

  teardown(function()
    H.cleanup()
  end)

  before_each(function()
    a:reset(true)
    b:reset(true)
  end)

  local function proxy_with(models, settings)
    local config = ("model_list:\n" .. models .. "router_settings:\n" .. settings)
      :gsub("api_base: A", "api_base: " .. a:base()):gsub("api_base: B", "api_base: " .. b:base())
    return H.start_proxy({ dir = H.config_dir({ ccproxy_yaml = CCPROXY_YAML, config_yaml = config }) })
  end

  local function body(model, text)
    local bd = H.messages_body({ messages = { { role = "user", content = text or "hello" } } })
    bd.model = model
    return bd
  end

  -- Sends a request that the mock answers after `ms`, on its own connection (left open).
  local function send_slow(proxy, model, ms)
    local conn = H.connect(proxy.port)
    assert(conn:send(H.build_request(proxy.port, { path = "/v1/messages",
      json = body(model, "MOCK:delay " .. ms) })))
    return conn
  end

  -- Waits until the mocks together have seen n requests; returns the one holding the slow one.
  local function await_requests(n)
    assert(sh.wait_for(function() return #a:requests() + #b:requests() >= n end, 3),
      "the upstreams did not see " .. n .. " requests")
  end

  it("least-busy: a request goes where no answer is in progress", function()
    local proxy = proxy_with(group("lb"), "  routing_strategy: least-busy\n")
    local slow = send_slow(proxy, "lb", 1500)
    await_requests(1)
    local busy, idle = a, b
    if #b:requests() == 1 then busy, idle = b, a end
    for _ = 1, 6 do
      assert.equal(200, proxy:messages(body("lb")).status)
    end
    assert.equal(1, #busy:requests(), "least-busy sent a request to the busy deployment")
    assert.equal(6, #idle:requests())
    assert.equal(200, slow:read_response().status)
    slow:close()
    -- Nothing in progress: the ties are broken at random, both get some.
    for _ = 1, 20 do
      assert.equal(200, proxy:messages(body("lb")).status)
    end
    assert.is_true(#busy:requests() > 1 and #idle:requests() > 6,
      ("idle ties went %d / %d"):format(#busy:requests() - 1, #idle:requests() - 6))
    proxy:check_clean()
  end)

  it("latency-based-routing: once both are measured, the faster one takes the requests", function()
    local proxy = proxy_with(group("lat"), "  routing_strategy: latency-based-routing\n")
    -- A answers its first request slowly; B always fast. The first two requests measure one
    -- each (the unmeasured go first), then everything goes to B.
    a:script({ { delay_ms = 400 } })
    for _ = 1, 2 do
      assert.equal(200, proxy:messages(body("lat")).status)
    end
    assert.equal(1, #a:requests(), "an unmeasured deployment was not tried first")
    assert.equal(1, #b:requests())
    for _ = 1, 8 do
      assert.equal(200, proxy:messages(body("lat")).status)
    end
    assert.equal(1, #a:requests(), "latency-based-routing picked the slow deployment again")
    assert.equal(9, #b:requests())
    proxy:check_clean()
  end)

  it("usage-based-routing: keeps under rpm, then answers 429 with retry-after", function()
    local proxy = proxy_with(group("use", ", rpm: 2", ", rpm: 1"),
      "  routing_strategy: usage-based-routing\n")
    -- A calendar minute may roll over between the requests and reset the counts: then again.
    local res
    for _ = 1, 2 do
      a:reset(true)
      b:reset(true)
      local minute = math.floor(os.time() / 60)
      for _ = 1, 3 do
        assert.equal(200, proxy:messages(body("use")).status)
      end
      res = proxy:messages(body("use"))
      if math.floor(os.time() / 60) == minute then break end
    end
    assert.equal(2, #a:requests())
    assert.equal(1, #b:requests())
    assert.equal(429, res.status, res.body)
    local err = H.decode(res.body)
    assert.equal("rate_limit_error", err.error.type)
    assert.matches("every deployment of 'use' %(and of its fallbacks%) is at its limit",
      err.error.message)
    local after = tonumber(res.headers["retry-after"])
    assert.is_true(after >= 1 and after <= 60, res.headers["retry-after"])
    assert.matches("status=429 .* at%-limit", proxy:log())
    proxy:check_clean()
  end)

  it("usage-based-routing: counts the tokens answers took against tpm", function()
    local proxy = proxy_with(group("tok", ", tpm: 37", ", tpm: 37"),
      "  routing_strategy: usage-based-routing\n")
    local res
    for _ = 1, 2 do -- a calendar minute may roll over between the requests: then again
      a:reset(true)
      b:reset(true)
      local usage = { usage = { input_tokens = 25, output_tokens = 10 } } -- 35 of 37
      a:script({ usage })
      b:script({ usage })
      local minute = math.floor(os.time() / 60)
      assert.equal(200, proxy:messages(body("tok")).status)
      -- the fewest tokens this minute: the other one, though both are under their tpm
      assert.equal(200, proxy:messages(body("tok")).status)
      res = proxy:messages(body("tok"))
      if math.floor(os.time() / 60) == minute then break end
    end
    assert.equal(1, #a:requests(), "the second request went to the deployment with more tokens\n"
      .. proxy:log())
    assert.equal(1, #b:requests())
    -- 35 + this request's estimate (a few tokens) does not fit under 37 on either
    assert.equal(429, res.status, res.body)
    assert.matches("tokens=in:25,out:10", proxy:log())
    -- the answers were asked for unencoded, so their usage could be read
    assert.equal("identity", H.record_header(a:last_request(), "accept-encoding"))
    proxy:check_clean()
  end)

  it("max_parallel_requests: a full deployment is passed over, even of a lower order", function()
    local proxy = proxy_with(group("mp", ", order: 1, max_parallel_requests: 1", ", order: 2")
      .. "  - model_name: solo\n    litellm_params: {model: anthropic/claude-solo, api_base: A}\n",
      "  default_max_parallel_requests: 1\n")
    local slow = send_slow(proxy, "mp", 1000)
    await_requests(1)
    assert.equal(1, #a:requests(), "order 1 was not tried first")
    local res = proxy:messages(body("mp"))
    assert.equal(200, res.status, res.body)
    assert.equal("claude-b", res.headers["x-ccproxy-model"])
    assert.equal(200, slow:read_response().status)
    slow:close()
    -- A is free again: order 1 takes the next request.
    assert.equal(200, proxy:messages(body("mp")).status)
    assert.equal(2, #a:requests())
    -- The single member of solo is at default_max_parallel_requests: 429 for the second.
    slow = send_slow(proxy, "solo", 1000)
    await_requests(4)
    res = proxy:messages(body("solo"))
    assert.equal(429, res.status, res.body)
    assert.equal("1", res.headers["retry-after"])
    assert.equal(200, slow:read_response().status)
    slow:close()
    assert.equal(200, proxy:messages(body("solo")).status)
    proxy:check_clean()
  end)
end)
