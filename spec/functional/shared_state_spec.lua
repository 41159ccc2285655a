-- spec/functional/shared_state_spec.lua: two ccproxy instances behind a real HAProxy share
-- their routing state through a real redis-server (all Debian's, started here on loopback and
-- stopped by PID): a cooldown caused through one instance is honoured by the other, rpm is
-- counted across both, and when Redis is killed mid-run both keep routing on their own state,
-- say so in /health, and share again once it is back.
local H = require("proxy_harness")
local sh = require("sh")
local socket = require("socket")

local function have(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == 0
end

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
litellm:
  host: 127.0.0.1
  port: 4000
]]

local function start_redis(port)
  local p = H.spawn({ "redis-server", "--port", tostring(port), "--bind", "127.0.0.1",
                      "--save", "", "--appendonly", "no", "--daemonize", "no" })
  assert(sh.wait_for(function()
    local s = socket.tcp()
    s:settimeout(0.2)
    local ok = s:connect("127.0.0.1", port)
    if ok then
      s:send("PING\r\n")
      local line = s:receive("*l")
      s:close()
      return line == "+PONG"
    end
    s:close()
  end, 5), "redis-server did not come up: " .. p:stderr_text() .. p:stdout_text())
  return p
end

local function start_haproxy(port, backends)
  local lines = { "global", "  maxconn 200", "defaults", "  mode http", "  timeout connect 2s",
                  "  timeout client 30s", "  timeout server 30s", "frontend fe",
                  "  bind 127.0.0.1:" .. port, "  default_backend be", "backend be",
                  "  balance roundrobin" }
  for i, p in ipairs(backends) do
    lines[#lines + 1] = ("  server p%d 127.0.0.1:%d"):format(i, p)
  end
  local cfg = sh.write_file(sh.tmpdir() .. "/haproxy.cfg", table.concat(lines, "\n") .. "\n")
  local p = H.spawn({ "haproxy", "-db", "-f", cfg })
  assert(sh.wait_for(function()
    local s = socket.tcp()
    s:settimeout(0.2)
    local ok = s:connect("127.0.0.1", port)
    s:close()
    return ok
  end, 5), "haproxy did not come up: " .. p:stderr_text())
  return p
end

local have_all = have("redis-server") and have("haproxy")

describe("routing state shared through Redis by two instances behind HAProxy", function()
  if not have_all then
    pending("needs redis-server and haproxy (Debian packages; spec/run.sh installs them)")
    return
  end
  local a, b, redis, redis_port, lb_port, p1, p2, haproxy

  setup(function()
    a = H.start_mock()
    b = H.start_mock()
    redis_port = sh.free_port()
    redis = start_redis(redis_port)
    local config = ([[
model_list:
  - model_name: pool
    litellm_params: {model: anthropic/claude-a, api_base: A, order: 1}
  - model_name: pool
    litellm_params: {model: anthropic/claude-b, api_base: B, order: 2}
  - model_name: use
    litellm_params: {model: anthropic/claude-ua, api_base: A, rpm: 2}
  - model_name: use
    litellm_params: {model: anthropic/claude-ub, api_base: B, rpm: 2}
router_settings:
  routing_strategy: usage-based-routing
  num_retries: 1
  cooldown_time: 30
  redis_host: 127.0.0.1
  redis_port: REDIS_PORT
]]):gsub("api_base: A", "api_base: " .. a:base()):gsub("api_base: B", "api_base: " .. b:base())
      :gsub("REDIS_PORT", tostring(redis_port))
    p1 = H.start_proxy({ ccproxy_yaml = CCPROXY_YAML, config_yaml = config })
    p2 = H.start_proxy({ ccproxy_yaml = CCPROXY_YAML, config_yaml = config })
    lb_port = sh.free_port()
    haproxy = start_haproxy(lb_port, { p1.port, p2.port })
  end)

  teardown(function()
    H.cleanup()
  end)

  before_each(function()
    a:reset(true)
    b:reset(true)
  end)

  local function ask(model)
    local body = H.messages_body()
    body.model = model
    return H.request(lb_port, { method = "POST", path = "/v1/messages", json = body })
  end

  local function health(p)
    return H.decode(p:request({ path = "/health" }).body)
  end

  local function shared_state(p)
    local s = health(p).shared_state
    return s and s.state
  end

  local function served(p, model)
    local n = 0
    for _ in p:log():gmatch("deployment=" .. model .. " ") do n = n + 1 end
    return n
  end

  it("shares a cooldown: what one instance saw, the other honours", function()
    assert(sh.wait_for(function()
      return shared_state(p1) == "connected" and shared_state(p2) == "connected"
    end, 5), "the instances did not connect to redis: " .. H.encode(health(p1)))
    local before1, before2 = served(p1, "pool"), served(p2, "pool")
    a:script({ { status = 429, error = { type = "rate_limit_error", message = "slow down" } } })
    local res = ask("pool")
    assert.equal(200, res.status, res.body) -- retried on B
    assert.equal(1, #a:requests())
    socket.sleep(0.5) -- a few sync ticks
    for _ = 1, 6 do
      assert.equal(200, ask("pool").status)
    end
    assert.equal(1, #a:requests(), "an instance sent a request to the deployment cooling down")
    assert.equal(7, #b:requests())
    -- both instances served some (HAProxy alternates), and both list the cooldown
    assert.is_true(served(p1, "pool") > before1 and served(p2, "pool") > before2)
    for _, p in ipairs({ p1, p2 }) do
      local cds = health(p).cooldowns
      assert.equal(1, #cds, H.encode(cds))
      assert.equal("anthropic/claude-a", cds[1].model)
    end
  end)

  it("counts rpm across both instances", function()
    local res, reqs
    for _ = 1, 2 do -- a calendar minute may roll over mid-test: then once more
      a:reset(true)
      b:reset(true)
      local minute = math.floor(os.time() / 60)
      for _ = 1, 4 do
        assert.equal(200, ask("use").status)
        socket.sleep(0.3) -- the count reaches the other instance
      end
      res = ask("use")
      reqs = #a:requests() + #b:requests()
      if math.floor(os.time() / 60) == minute then break end
    end
    assert.equal(4, reqs)
    assert.equal(2, #a:requests())
    assert.equal(2, #b:requests())
    assert.equal(429, res.status, "the fifth request within rpm 2 + 2 was sent: " .. res.body)
  end)

  it("keeps routing when Redis goes away, says so, and shares again when it is back", function()
    redis:stop()
    assert(sh.wait_for(function()
      return shared_state(p1) == "unreachable" and shared_state(p2) == "unreachable"
    end, 5), "/health did not say redis is unreachable: " .. H.encode(health(p1)))
    for _ = 1, 4 do
      assert.equal(200, ask("pool").status)
    end
    for _, p in ipairs({ p1, p2 }) do
      local _, said = p:log():gsub("is unreachable", "")
      assert.equal(1, said, "the loss of redis was not logged once:\n" .. p:log())
    end
    redis = start_redis(redis_port)
    assert(sh.wait_for(function()
      return shared_state(p1) == "connected" and shared_state(p2) == "connected"
    end, 8), "the instances did not reconnect: " .. H.encode(health(p1)))
    assert.matches("reachable again", p1:log())
    -- shared again: a 429 of the order-2 member through one instance cools it on both
    a:reset(true)
    b:reset(true)
    -- A still cools down from the first test (30 s): B answers, and now B fails once
    b:script({ { status = 429, error = { type = "rate_limit_error", message = "slow down" } } })
    ask("pool")
    socket.sleep(0.5)
    local cds1, cds2 = health(p1).cooldowns, health(p2).cooldowns
    assert.equal(#cds1, #cds2, H.encode(cds1) .. " vs " .. H.encode(cds2))
    p1:check_clean()
    p2:check_clean()
    assert.is_true(haproxy:alive())
  end)
end)
