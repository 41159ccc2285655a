-- spec/functional/router_spec.lua: groups, retries, fallbacks and cooldowns, against two mock
-- upstreams that fail on cue: picks by weight and order, another member after a 529, a
-- cooldown after a 429 and its end, fallback groups (across providers too), retry-after and
-- x-should-retry honoured, the request's deadline, and no retry once the answer has begun.
local H = require("proxy_harness")
local sh = require("sh")
local socket = require("socket")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
    - attempts_log
litellm:
  host: 127.0.0.1
  port: 4000
]]

-- Logs what a done hook sees of the attempts: "seen: name status reason, ...".
local ATTEMPTS_LOG = [[
return {
  done = function(req)
    local parts = {}
    for _, a in ipairs(req.attempts) do
      parts[#parts + 1] = string.format("%s %s %s", a.model, tostring(a.status), tostring(a.reason))
    end
    req:log("info", "seen: " .. table.concat(parts, ", "))
  end,
}
]]

describe("routing across deployments", function()
  local a, b, proxy

  setup(function()
    a = H.start_mock()
    b = H.start_mock()
    local config = ([[
model_list:
  - model_name: pool
    litellm_params: {model: anthropic/claude-a, api_base: A, weight: 3}
  - model_name: pool
    litellm_params: {model: anthropic/claude-b, api_base: B, weight: 1}
  - model_name: ordered
    litellm_params: {model: anthropic/claude-a, api_base: A, order: 1}
  - model_name: ordered
    litellm_params: {model: anthropic/claude-b, api_base: B, order: 2}
  - model_name: main
    litellm_params: {model: anthropic/claude-main, api_base: A}
  - model_name: backup
    litellm_params: {model: anthropic/claude-backup, api_base: B}
  - model_name: single
    litellm_params: {model: anthropic/claude-single, api_base: A}
  - model_name: hurried
    litellm_params: {model: anthropic/claude-hurried, api_base: A, timeout: 1}
  - model_name: to-gpt
    litellm_params: {model: anthropic/claude-main, api_base: A}
  - model_name: gpt
    litellm_params: {model: openai/gpt-mock, api_base: B/v1, api_key: spec-key}
router_settings:
  num_retries: 1
  cooldown_time: 1
  fallbacks: [{main: [backup]}, {to-gpt: [gpt]}]
]]):gsub("B/v1", b:base() .. "/v1"):gsub("api_base: A", "api_base: " .. a:base())
      :gsub("api_base: B", "api_base: " .. b:base())
    local dir = sh.tmpdir()
    sh.run({ "mkdir", "-p", dir .. "/hooks" })
    sh.write_file(dir .. "/hooks/attempts_log.lua", ATTEMPTS_LOG)
    proxy = H.start_proxy({ dir = H.config_dir({ dir = dir, ccproxy_yaml = CCPROXY_YAML,
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

  local function rate_limited(extra)
    local step = { status = 429, error = { type = "rate_limit_error", message = "slow down" } }
    for k, v in pairs(extra or {}) do step[k] = v end
    return step
  end

  local function overloaded(extra)
    local step = { status = 529, error = { type = "overloaded_error", message = "busy" } }
    for k, v in pairs(extra or {}) do step[k] = v end
    return step
  end

  it("spreads a group's requests in proportion to their weights", function()
    local n = 80
    for _ = 1, n do
      assert.equal(200, ask("pool").status)
    end
    local share = #a:requests() / n
    assert.equal(n, #a:requests() + #b:requests())
    assert.is_true(share > 0.6 and share < 0.9,
      string.format("weight 3:1 gave A %.2f of the requests", share))
  end)

  it("sends every request to the lowest order while it is healthy", function()
    for _ = 1, 10 do
      assert.equal(200, ask("ordered").status)
    end
    assert.equal(10, #a:requests())
    assert.equal(0, #b:requests())
  end)

  it("moves a request to the next member after a 529, and the client never sees it", function()
    a:script({ overloaded() })
    local res = ask("ordered")
    assert.equal(200, res.status, res.body)
    assert.equal("2", res.headers["x-ccproxy-attempts"])
    assert.equal("ordered", res.headers["x-ccproxy-deployment"])
    assert.equal("claude-b", res.headers["x-ccproxy-model"])
    assert.equal(1, #a:requests())
    assert.equal(1, #b:requests())
    assert.equal("claude-b", H.decode(b:last_request().body).model)
    assert.matches("attempts=2 failed=ordered:529:", proxy:log())
    -- hooks read the history: the failed attempt, then the one that answered
    assert.matches("seen: anthropic/claude%-a 529 nil, anthropic/claude%-b 200 nil", proxy:log())
  end)

  it("cools a member down after a 429, until cooldown_time has passed", function()
    a:script({ rate_limited() })
    assert.equal(200, ask("ordered").status)
    assert.equal(1, #a:requests())
    -- /health and `ccproxy status` show it, and why
    local health = H.decode(proxy:request({ path = "/health" }).body)
    assert.equal(1, #health.cooldowns, H.encode(health.cooldowns))
    local cd = health.cooldowns[1]
    assert.same({ "ordered", "anthropic/claude-a", 429 }, { cd.model_name, cd.model, cd.status })
    assert.is_true(cd.seconds_left > 0 and cd.seconds_left <= 1)
    local st = sh.run({ H.bin, "--config-dir", proxy.dir, "status" },
      { env = { PORT = tostring(proxy.port), HOST = false, CCPROXY_CONFIG_DIR = false } })
    assert.matches("cooldown  ordered %(anthropic/claude%-a%): answered 429, [%d.]+ s left", st.stdout)
    -- A cools down: the next requests go straight to B
    assert.equal(200, ask("ordered").status)
    assert.equal(200, ask("ordered").status)
    assert.equal(1, #a:requests())
    assert.equal(3, #b:requests())
    socket.sleep(1.1)
    assert.equal(200, ask("ordered").status)
    assert.equal(2, #a:requests(), "A was not picked again after its cooldown")
    assert.equal(0, #H.decode(proxy:request({ path = "/health" }).body).cooldowns)
  end)

  it("falls back to another group when the first is used up", function()
    -- main has one member and num_retries 1: two tries there, then backup
    a:script({ { status = 500, error = { type = "api_error", message = "oops" } },
               { status = 500, error = { type = "api_error", message = "oops" } } })
    local res = ask("main")
    assert.equal(200, res.status, res.body)
    assert.equal("3", res.headers["x-ccproxy-attempts"])
    assert.equal("backup", res.headers["x-ccproxy-deployment"])
    assert.equal(2, #a:requests())
    assert.equal("claude-backup", H.decode(b:last_request().body).model)
    assert.matches("seen: anthropic/claude%-main 500 nil, anthropic/claude%-main 500 nil, "
      .. "anthropic/claude%-backup 200 nil", proxy:log())
  end)

  it("falls back across providers, translating as a first attempt would", function()
    a:script({ overloaded(), overloaded() })
    b:script({ { dialect = "openai", text = "hello from the fallback" } })
    local res = ask("to-gpt")
    assert.equal(200, res.status, res.body)
    assert.equal("gpt", res.headers["x-ccproxy-deployment"])
    local msg = H.decode(res.body)
    assert.equal("message", msg.type)
    assert.equal("hello from the fallback", msg.content[1].text)
    local rec = b:last_request()
    assert.matches("/chat/completions", rec.path)
    assert.equal("Bearer spec-key", H.record_header(rec, "authorization"))
  end)

  it("waits what retry-after asks before trying again", function()
    a:script({ rate_limited({ headers = { ["retry-after"] = "1" } }) })
    local t0 = H.now()
    local res = ask("single")
    assert.equal(200, res.status, res.body)
    assert.is_true(H.now() - t0 >= 0.9, "the retry did not wait for retry-after")
    assert.equal(2, #a:requests())
  end)

  it("does not retry what the upstream says not to (x-should-retry: false)", function()
    a:script({ overloaded({ headers = { ["x-should-retry"] = "false" } }) })
    local res = ask("ordered")
    assert.equal(529, res.status)
    assert.equal(0, #b:requests())
  end)

  it("gives up when a retry would wait past the request's deadline", function()
    -- hurried has timeout 1: a retry-after of 5 s cannot fit
    a:script({ rate_limited({ headers = { ["retry-after"] = "5" } }) })
    local t0 = H.now()
    local res = ask("hurried")
    assert.equal(429, res.status)
    assert.is_true(H.now() - t0 < 0.9, "the client waited for a retry that could not fit")
    assert.equal(1, #a:requests())
  end)

  it("never retries once the answer has reached the client", function()
    a:script({ { text = "one two three four five", close_after_events = 3 } })
    local res = ask("ordered", { stream = true })
    assert.equal(200, res.status)
    assert.equal(0, #b:requests())
  end)
end)

describe("the retry stage", function()
  local a, b, proxy

  -- Says no to retrying a 500, and sends main's retries to the group elsewhere.
  local HOOK = [[
return {
  retry = function(req, failure)
    if failure.status == 500 then return false end
    if failure.model_name == "main" and failure.status == 529 then
      req:log("info", "retry hook: next would be " .. failure.next.model_name .. " after a "
        .. failure.class .. " (context window: " .. tostring(failure.context_window) .. ")")
      return "elsewhere"
    end
  end,
}
]]

  setup(function()
    a = H.start_mock()
    b = H.start_mock()
    local dir = sh.tmpdir()
    sh.run({ "mkdir", "-p", dir .. "/hooks" })
    sh.write_file(dir .. "/hooks/steer.lua", HOOK)
    local config = ([[
model_list:
  - model_name: ordered
    litellm_params: {model: anthropic/claude-a, api_base: A, order: 1}
  - model_name: ordered
    litellm_params: {model: anthropic/claude-b, api_base: B, order: 2}
  - model_name: main
    litellm_params: {model: anthropic/claude-main, api_base: A}
  - model_name: elsewhere
    litellm_params: {model: anthropic/claude-elsewhere, api_base: B}
router_settings:
  num_retries: 1
]]):gsub("api_base: A", "api_base: " .. a:base()):gsub("api_base: B", "api_base: " .. b:base())
    proxy = H.start_proxy({ dir = H.config_dir({ dir = dir, config_yaml = config,
      ccproxy_yaml = CCPROXY_YAML:gsub("    %- attempts_log\n", "    - steer\n") }) })
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
    return proxy:messages(body)
  end

  it("lets a hook say no retry: the client gets that answer", function()
    a:script({ { status = 500, error = { type = "api_error", message = "oops" } } })
    assert.equal(500, ask("ordered").status)
    assert.equal(0, #b:requests())
  end)

  it("lets a hook send the next attempt to another group", function()
    a:script({ { status = 529, error = { type = "overloaded_error", message = "busy" } } })
    local res = ask("main")
    assert.equal(200, res.status, res.body)
    assert.equal("elsewhere", res.headers["x-ccproxy-deployment"])
    assert.equal(1, #a:requests(), "main was retried although the hook sent it elsewhere")
    assert.equal("claude-elsewhere", H.decode(b:last_request().body).model)
    assert.matches("retry hook: next would be main after a InternalServerError %(context window: "
      .. "false%)", proxy:log())
  end)
end)
