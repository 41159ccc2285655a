-- spec/functional/ui_spec.lua: the dashboard (/ui/) of the real binary against the mock: the
-- page and its assets with their content types and headers; /ui/api/summary's numbers after
-- requests with usage (priced, unpriced, failed, retried after a 429 that cools a deployment
-- down, count_tokens): the totals, per day and per model, the last requests newest first,
-- the cooldowns as /health lists them, the reload status and generation after a SIGHUP; no
-- credential in it; GET only; a Host that is not loopback refused; and 403 everywhere under
-- /ui/ when the proxy listens beyond loopback (0.0.0.0), while the API still answers.
local H = require("proxy_harness")
local sh = require("sh")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
litellm:
  host: HOST
  port: 4000
]]

local function config_yaml(base)
  return ([[
model_list:
  - model_name: ordered
    litellm_params: {model: anthropic/claude-a, api_base: BASE, order: 1}
  - model_name: ordered
    litellm_params: {model: anthropic/claude-b, api_base: BASE, order: 2}
  - model_name: "claude-*"
    litellm_params: {model: anthropic/*, api_base: BASE}
router_settings:
  num_retries: 1
  cooldown_time: 60
]]):gsub("BASE", base)
end

local SECRET = "sk-ant-api03-uispecSECRETuispecSECRET9876"

local function near(a, b)
  return math.abs(a - b) < 1e-12
end

describe("the dashboard", function()
  local mock, proxy

  setup(function()
    mock = H.start_mock()
    proxy = H.start_proxy({ ccproxy_yaml = CCPROXY_YAML:gsub("HOST", "127.0.0.1"),
                            config_yaml = config_yaml(mock:base()) })
  end)

  teardown(function()
    H.cleanup()
  end)

  after_each(function()
    proxy:check_clean()
  end)

  local function get(path, opts)
    opts = opts or {}
    opts.path = path
    opts.method = opts.method or "GET"
    return proxy:request(opts)
  end

  -- The summary once it counts at least `n` requests (records are emitted as a request
  -- finishes, which may be just after its response reached us).
  local function summary(n)
    local s
    sh.wait_for(function()
      local res = get("/ui/api/summary")
      assert.equal(200, res.status, res.body)
      s = H.decode(res.body)
      return s.totals.requests >= (n or 0)
    end, 3)
    return s
  end

  it("serves the page and its assets with their content types", function()
    local page = get("/ui/")
    assert.equal(200, page.status, page.body)
    assert.equal("text/html; charset=utf-8", page.headers["content-type"])
    assert.matches('<script src="app.js"', page.body, 1, true)
    assert.matches('href="style.css"', page.body, 1, true)
    -- nothing from elsewhere, no inline script
    assert.is_nil(page.body:find("https?://"), "the page names no other site")
    local csp = page.headers["content-security-policy"]
    assert.matches("default-src 'none'", csp, 1, true)
    assert.matches("script-src 'self'", csp, 1, true)
    assert.equal("nosniff", page.headers["x-content-type-options"])

    local js = get("/ui/app.js")
    assert.equal(200, js.status)
    assert.equal("text/javascript; charset=utf-8", js.headers["content-type"])
    assert.matches("api/summary", js.body, 1, true)
    -- the one URL in it is SVG's namespace, a name and not a place
    local urls = js.body:gsub("'http://www%.w3%.org/2000/svg'", "")
    assert.is_nil(urls:find("https?://"), "the script fetches nothing from elsewhere")
    local css = get("/ui/style.css")
    assert.equal(200, css.status)
    assert.equal("text/css; charset=utf-8", css.headers["content-type"])
    assert.is_nil(css.body:find("url%("), "the style sheet loads nothing")
    assert.equal(page.body, get("/ui/index.html").body)

    local bare = get("/ui")
    assert.equal(308, bare.status)
    assert.equal("/ui/", bare.headers["location"])
    local missing = get("/ui/chart.js")
    assert.equal(404, missing.status)
    assert.matches("not part of the dashboard", H.body_json(missing).error.message)
    local api = get("/ui/api/summary")
    assert.equal("application/json", api.headers["content-type"])
    assert.equal("no-store", api.headers["cache-control"])
  end)

  it("answers GET only", function()
    for _, m in ipairs({ "POST", "PUT", "DELETE" }) do
      local res = get("/ui/api/summary", { method = m, body = "{}" })
      assert.equal(405, res.status, m)
      assert.matches("read%-only", H.body_json(res).error.message)
    end
  end)

  it("answers only to a Host that names loopback", function()
    for _, host in ipairs({ "localhost:" .. proxy.port, "[::1]:" .. proxy.port, "127.0.0.1",
                            "LOCALHOST" }) do
      assert.equal(200, get("/ui/api/summary", { host = host }).status, host)
    end
    for _, host in ipairs({ "attacker.example:" .. proxy.port, "127.0.0.1.attacker.example",
                            "10.0.0.1:" .. proxy.port, "[::2]:" .. proxy.port }) do
      local res = get("/ui/", { host = host })
      assert.equal(403, res.status, host)
      assert.matches("names loopback", H.body_json(res).error.message)
    end
  end)

  it("sums the requests' tokens and costs per day and per model, and lists them", function()
    local base = summary(0).totals.requests
    local t_before = os.time()
    local ids = {}
    local function ask(model, fields, opts)
      local body = H.messages_body(fields)
      body.model = model
      opts = opts or {}
      opts.headers = opts.headers or { { "Content-Type", "application/json" },
        { "x-api-key", SECRET }, { "User-Agent", "claude-cli/2.1.332 (external, cli)" } }
      local res = proxy:messages(body, opts)
      ids[#ids + 1] = res.headers["x-ccproxy-request-id"]
      H.settle()
      return res
    end
    -- 1: priced stream: 12 x 3e-6 + 7 x 1.5e-5 + 3 x 3.75e-6 + 40 x 3e-7 = 0.00016425
    mock:script({ { text = "one two", usage = { input_tokens = 12, output_tokens = 7,
      cache_creation_input_tokens = 3, cache_read_input_tokens = 40 } } })
    assert.equal(200, ask("claude-sonnet-4-5-20250929", { stream = true }).status)
    -- 2: priced whole answer: 5 x 3e-6 + 2 x 1.5e-5 = 0.000045
    mock:script({ { text = "whole", usage = { input_tokens = 5, output_tokens = 2 } } })
    assert.equal(200, ask("claude-sonnet-4-5-20250929").status)
    -- 3: a model without a price: tokens counted, cost unknown
    mock:script({ { text = "unpriced", usage = { input_tokens = 9, output_tokens = 4 } } })
    assert.equal(200, ask("claude-sonnet-5-5").status)
    -- 4: an error answer
    mock:script({ { status = 400, error = { type = "invalid_request_error", message = "no" } } })
    assert.equal(400, ask("claude-haiku-4-5").status)
    -- 5: a 429 cools claude-a down; the retry goes to claude-b (no price either)
    mock:script({ { status = 429, error = { type = "rate_limit_error", message = "slow down" } },
                  { text = "second", usage = { input_tokens = 100, output_tokens = 10 } } })
    local retried = ask("ordered")
    assert.equal(200, retried.status, retried.body)
    assert.equal("2", retried.headers["x-ccproxy-attempts"])
    -- 6: count_tokens: a request, no tokens reported
    local ct = ask("claude-sonnet-5-5", nil, { path = "/v1/messages/count_tokens" })
    assert.equal(200, ct.status, ct.body)

    local s = summary(base + 6)
    local t = s.totals
    assert.equal(base + 6, t.requests)
    assert.equal(1, t.errors)
    assert.same({ input = 126, output = 23, cache_read = 40, cache_creation = 3 }, t.tokens)
    assert.is_true(near(t.cost_usd, 0.00016425 + 0.000045), tostring(t.cost_usd))
    assert.equal(2, t.cost_unknown)

    -- one day: the local date the requests arrived
    assert.equal(1, #s.days, H.encode(s.days))
    local r1 = s.requests[6]
    assert.equal(os.date("%Y-%m-%d", math.floor(r1.time_ms / 1000)), s.days[1].date)
    assert.equal(base + 6, s.days[1].requests)
    assert.is_true(near(s.days[1].cost_usd, t.cost_usd))

    local models = {}
    for _, m in ipairs(s.models) do
      models[m.model] = m
    end
    local sonnet = models["claude-sonnet-4-5-20250929"]
    assert.equal(2, sonnet.requests)
    assert.same({ input = 17, output = 9, cache_read = 40, cache_creation = 3 }, sonnet.tokens)
    assert.is_true(near(sonnet.cost_usd, 0.00020925))
    assert.equal(0, sonnet.cost_unknown)
    assert.equal(2, models["claude-sonnet-5-5"].requests) -- the answer and count_tokens
    assert.equal(1, models["claude-sonnet-5-5"].cost_unknown)
    assert.equal(1, models["claude-haiku-4-5"].errors)
    assert.equal(1, models["claude-b"].requests)
    assert.equal(100, models["claude-b"].tokens.input)
    assert.is_nil(models["claude-a"], "the model that answered counts, not the one that failed")

    -- the last requests, newest first, with their route and timings
    assert.is_true(#s.requests >= 6)
    for i = 1, 6 do
      assert.equal(ids[7 - i], s.requests[i].id)
    end
    local r = s.requests -- r[1] is count_tokens, r[6] the first
    assert.equal("count_tokens", r[1].endpoint)
    assert.equal(H.json.null, r[1].usage)
    assert.equal(H.json.null, r[1].cost_usd)
    assert.equal("ordered", r[2].deployment)
    assert.equal("claude-b", r[2].sent_model)
    assert.equal("ordered", r[2].requested_model)
    assert.equal(2, r[2].attempts)
    assert.equal(H.json.null, r[2].cost_usd)
    assert.equal(100, r[2].usage.input)
    assert.equal(400, r[3].status)
    assert.equal(H.json.null, r[4].cost_usd)
    assert.equal(9, r[4].usage.input)
    assert.is_true(near(r[5].cost_usd, 0.000045))
    assert.equal(true, r[6].stream)
    assert.equal("messages", r[6].endpoint)
    assert.equal("default", r[6].label)
    assert.equal("claude-*", r[6].deployment)
    assert.equal(200, r[6].status)
    assert.equal(H.json.null, r[6].outcome)
    assert.same({ input = 12, output = 7, cache_read = 40, cache_creation = 3 }, r[6].usage)
    assert.is_true(near(r[6].cost_usd, 0.00016425))
    assert.is_true(r[6].ttfb_ms >= 0 and r[6].ttfb_ms <= r[6].total_ms)
    assert.is_true(r[6].time_ms >= (t_before - 1) * 1000 and r[6].time_ms <= (os.time() + 1) * 1000)

    -- the cooldowns as /health lists them
    local health = H.decode(get("/health").body)
    assert.equal(1, #s.cooldowns, H.encode(s.cooldowns))
    assert.same({ "ordered", "anthropic/claude-a", 429 },
      { s.cooldowns[1].model_name, s.cooldowns[1].model, s.cooldowns[1].status })
    assert.equal(#health.cooldowns, #s.cooldowns)
    assert.equal(health.cooldowns[1].model, s.cooldowns[1].model)

    -- the process
    assert.equal(1, s.generation)
    assert.equal(H.json.null, s.last_reload)
    assert.is_true(s.uptime_s >= 0 and s.uptime_s < 600)
    assert.is_string(s.version)
    assert.equal(200, s.limits.requests)

    -- no credential, nothing of who asked
    local text = get("/ui/api/summary").body
    assert.is_nil(text:find(SECRET, 1, true))
    assert.is_nil(text:find("9876", 1, true))
    assert.is_nil(text:find("claude-cli", 1, true))
    assert.is_nil(text:find('"client"', 1, true))
  end)

  it("shows the reload's status and the new generation, and keeps its totals", function()
    local before = summary(0)
    sh.kill(proxy.pid, "HUP")
    local s
    sh.wait_for(function()
      s = summary(0)
      return s.generation == 2 and s.last_reload ~= H.json.null
    end, 5)
    assert.equal(2, s.generation)
    assert.equal(true, s.last_reload.ok)
    assert.equal(1, s.last_reload.count)
    assert.is_string(s.last_reload.at)
    assert.equal(before.totals.requests, s.totals.requests)
    assert.same(H.decode(get("/health").body).last_reload, s.last_reload)
  end)
end)

describe("the dashboard, when ccproxy listens beyond loopback", function()
  local mock, proxy

  setup(function()
    mock = H.start_mock()
    -- Listens on every address for the length of this block; the spec talks to 127.0.0.1 only.
    proxy = H.start_proxy({ ccproxy_yaml = CCPROXY_YAML:gsub("HOST", "0.0.0.0"),
                            config_yaml = config_yaml(mock:base()) })
  end)

  teardown(function()
    H.cleanup()
  end)

  after_each(function()
    proxy:check_clean()
  end)

  it("answers 403 under /ui/ and says why, while the API answers", function()
    for _, path in ipairs({ "/ui/", "/ui", "/ui/app.js", "/ui/style.css", "/ui/api/summary" }) do
      local res = proxy:request({ path = path })
      assert.equal(403, res.status, path)
      local msg = H.body_json(res).error.message
      assert.matches("only while ccproxy listens on loopback", msg, 1, true)
      assert.matches("0.0.0.0", msg, 1, true)
      assert.matches("no client authentication", msg, 1, true)
    end
    assert.equal(200, proxy:request({ path = "/health" }).status)
    mock:script({ { text = "still proxying" } })
    assert.equal(200, proxy:messages(H.messages_body()).status)
  end)
end)
