-- spec/functional/metrics_spec.lua: GET /metrics, the Prometheus text format, against the real
-- binary and the mock upstream on loopback. Requests of every kind (a priced stream, a whole
-- answer of an unpriced model, errors 429 and 500, a route translated to OpenAI, a 429 that
-- moves to the group's next member and cools the first down, count_tokens, a client that
-- leaves a hanging stream) show in the counters, histograms, token and cost series, attempts
-- and retries, and the gauges (in flight, open streams, cooldowns, reloads, generation);
-- promtool finds nothing to say about the text. Then a real Prometheus (Debian's, started
-- here on loopback and stopped by PID) scrapes the proxy every second, and its query API
-- gives the same values. With ccproxy.metrics_enabled: false there is no /metrics.
local H = require("proxy_harness")
local sh = require("sh")
local socket = require("socket")

local function have(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == 0
end

local function find_prometheus()
  if have("prometheus") then
    return "prometheus"
  end
  if sh.exists("/usr/bin/prometheus") then
    return "/usr/bin/prometheus"
  end
end

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
  rules:
    - name: to_openai
      rule: match_model
      params:
        - model_name: to-openai
litellm:
  host: 127.0.0.1
  port: 4000
]]

local function config_yaml(base)
  return ([[
model_list:
  - model_name: to_openai
    litellm_params:
      model: openai/gpt-mock
      api_base: BASE/v1
      api_key: spec-openai-key
  - model_name: ordered
    litellm_params: {model: anthropic/claude-a, api_base: BASE, order: 1}
  - model_name: ordered
    litellm_params: {model: anthropic/claude-b, api_base: BASE, order: 2}
  - model_name: "claude-*"
    litellm_params:
      model: anthropic/*
      api_base: BASE
router_settings:
  num_retries: 1
  cooldown_time: 120
]]):gsub("BASE", base)
end

-- The samples of a text exposition: { {name, labels = {k = v}, value, line}, ... }; raises on
-- a line that is neither a comment nor a sample.
local function parse(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    if not line:find("^#") then
      local name, rest = line:match("^([%a_:][%w_:]*)(.*)$")
      assert(name, "not a sample line: " .. line)
      local labels = {}
      if rest:sub(1, 1) == "{" then
        local i = 2
        while rest:sub(i, i) ~= "}" do
          local k, j = rest:match("^([%a_][%w_]*)=\"()", i)
          assert(k, "bad labels in: " .. line)
          local v = {}
          while true do
            local c = rest:sub(j, j)
            assert(c ~= "", "unterminated label value in: " .. line)
            if c == "\\" then
              local e = rest:sub(j + 1, j + 1)
              v[#v + 1] = e == "n" and "\n" or e
              j = j + 2
            elseif c == '"' then
              j = j + 1
              break
            else
              v[#v + 1] = c
              j = j + 1
            end
          end
          labels[k] = table.concat(v)
          if rest:sub(j, j) == "," then
            j = j + 1
          end
          i = j
        end
        rest = rest:sub(i + 1)
      end
      local value = rest:match("^ (%S+)$")
      assert(value, "no value in: " .. line)
      out[#out + 1] = { name = name, labels = labels, value = tonumber(value) or value, line = line }
    end
  end
  return out
end

-- Whether every label of `want` is in `have` with that value, and `have` has no other (an
-- empty value counts as absent, as Prometheus takes it).
local function same_labels(have_l, want, ignore)
  for k, v in pairs(want) do
    if (have_l[k] or "") ~= v then
      return false
    end
  end
  for k, v in pairs(have_l) do
    if not (ignore and ignore[k]) and want[k] == nil and v ~= "" then
      return false
    end
  end
  return true
end

-- The value of the one sample `name` with exactly `labels`, or nil.
local function value(samples, name, labels)
  local found
  for _, s in ipairs(samples) do
    if s.name == name and same_labels(s.labels, labels or {}) then
      assert(found == nil, "two samples " .. name .. " with the same labels: " .. s.line)
      found = s.value
    end
  end
  return found
end

-- The sum of every sample `name` whose labels include `labels`.
local function sum(samples, name, labels)
  local total = 0
  for _, s in ipairs(samples) do
    local ok = s.name == name
    for k, v in pairs(labels or {}) do
      ok = ok and s.labels[k] == v
    end
    if ok then
      total = total + s.value
    end
  end
  return total
end

local function close_to(a, b)
  return type(a) == "number" and type(b) == "number" and math.abs(a - b) <= 1e-9 * math.max(1, math.abs(b))
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

describe("GET /metrics", function()
  local mock, proxy

  setup(function()
    mock = H.start_mock()
    proxy = H.start_proxy({ ccproxy_yaml = CCPROXY_YAML, config_yaml = config_yaml(mock:base()) })
  end)

  teardown(function()
    H.cleanup()
  end)

  after_each(function()
    proxy:check_clean()
  end)

  local function scrape()
    local res = proxy:request({ path = "/metrics" })
    assert.equal(200, res.status, res.body)
    assert.equal("text/plain; version=0.0.4; charset=utf-8", res.headers["content-type"])
    return parse(res.body), res.body
  end

  local function ask(model, fields, opts)
    local body = H.messages_body(fields)
    body.model = model
    return proxy:messages(body, opts)
  end

  -- Waits for `n` request log lines in all (every request's record is counted by then: the
  -- record goes to the sinks right after the log line is written, on the same thread).
  local function wait_requests(n)
    sh.wait_for(function()
      return #proxy:request_log() >= n
    end, 5)
    socket.sleep(0.05)
    assert.equal(n, #proxy:request_log(), proxy:log())
  end

  local no_retry = { ["x-should-retry"] = "false" }
  local USAGE = { input_tokens = 12, output_tokens = 7, cache_creation_input_tokens = 3,
                  cache_read_input_tokens = 40 }

  it("starts with every metric and no request counted", function()
    local s, text = scrape()
    assert.equal(0, value(s, "ccproxy_retries_total"))
    assert.equal(0, value(s, "ccproxy_requests_cost_unknown_total"))
    assert.equal(0, value(s, "ccproxy_requests_in_flight"))
    assert.equal(1, value(s, "ccproxy_config_generation"))
    assert.is_nil(text:find("\nccproxy_requests_total{", 1, true))
    for _, t in ipairs({ "ccproxy_requests_total counter", "ccproxy_request_duration_seconds histogram",
                         "ccproxy_time_to_first_byte_seconds histogram", "ccproxy_tokens_total counter",
                         "ccproxy_cost_usd_total counter", "ccproxy_upstream_attempts_total counter",
                         "ccproxy_deployment_cooldown gauge", "ccproxy_script_errors_total counter",
                         "ccproxy_reloads_total counter", "ccproxy_uptime_seconds gauge",
                         "ccproxy_process_resident_memory_bytes gauge", "ccproxy_lua_memory_bytes gauge",
                         "ccproxy_open_streams gauge" }) do
      assert.truthy(text:find("# TYPE " .. t .. "\n", 1, true), t)
    end
    assert.is_true(value(s, "ccproxy_process_resident_memory_bytes") > 1e6)
    assert.is_true(value(s, "ccproxy_lua_memory_bytes") > 0)
    assert.equal(1, value(s, "ccproxy_build_info", { version = s[#s].labels.version }))
  end)

  it("counts requests of every kind: status, tokens, cost, attempts, cooldowns", function()
    -- 1. a stream of a model the price table knows
    mock:script({ { text = "priced stream", usage = USAGE } })
    local res = ask("claude-sonnet-4-5-20250929", { stream = true })
    assert.equal(200, res.status, res.body)
    -- 2. a whole answer of a model it does not know
    mock:script({ { text = "whole", usage = { input_tokens = 5, output_tokens = 2 } } })
    res = ask("claude-sonnet-5-5")
    assert.equal(200, res.status, res.body)
    -- 3, 4. errors, relayed as they are (the upstream says not to retry)
    mock:script({ { status = 429, error = { type = "rate_limit_error", message = "slow" },
                    headers = no_retry } })
    assert.equal(429, ask("claude-sonnet-5-5").status)
    mock:script({ { status = 500, error = { type = "api_error", message = "oops" },
                    headers = no_retry } })
    assert.equal(500, ask("claude-sonnet-5-5", { stream = true }).status)
    -- 5. translated to OpenAI's API and back
    mock:script({ { dialect = "openai", text = "translated",
                    usage = { input_tokens = 100, output_tokens = 20, cache_read_input_tokens = 30 } } })
    res = ask("claude-sonnet-5-5-to-openai", { stream = true })
    assert.equal(200, res.status, res.body)
    assert.equal("to_openai", res.headers["x-ccproxy-deployment"])
    -- 6. a 429 from the group's first member: the second answers, the first cools down
    mock:script({ { status = 429, error = { type = "rate_limit_error", message = "slow" } },
                  { text = "from b", usage = { input_tokens = 1, output_tokens = 1 } } })
    res = ask("ordered")
    assert.equal(200, res.status, res.body)
    assert.equal("2", res.headers["x-ccproxy-attempts"])
    -- 7. count_tokens
    res = proxy:messages(H.messages_body(), { path = "/v1/messages/count_tokens" })
    assert.equal(200, res.status, res.body)
    wait_requests(7)

    local s, text = scrape()
    local function requests(endpoint, label, deployment, status)
      return value(s, "ccproxy_requests_total",
        { endpoint = endpoint, label = label, deployment = deployment, status = status })
    end
    assert.equal(2, requests("messages", "default", "claude-*", "200"), text)
    assert.equal(1, requests("messages", "default", "claude-*", "429"), text)
    assert.equal(1, requests("messages", "default", "claude-*", "500"), text)
    assert.equal(1, requests("messages", "to_openai", "to_openai", "200"), text)
    assert.equal(1, requests("messages", "default", "ordered", "200"), text)
    assert.equal(1, requests("count_tokens", "default", "claude-*", "200"), text)
    assert.equal(7, sum(s, "ccproxy_requests_total"))

    local function tokens(deployment, model, type)
      return value(s, "ccproxy_tokens_total", { deployment = deployment, model = model, type = type })
    end
    local priced = "claude-sonnet-4-5-20250929"
    assert.equal(12, tokens("claude-*", priced, "input"))
    assert.equal(7, tokens("claude-*", priced, "output"))
    assert.equal(3, tokens("claude-*", priced, "cache_creation"))
    assert.equal(40, tokens("claude-*", priced, "cache_read"))
    assert.equal(5, tokens("claude-*", "claude-sonnet-5-5", "input"))
    assert.equal(2, tokens("claude-*", "claude-sonnet-5-5", "output"))
    assert.equal(100, tokens("to_openai", "gpt-mock", "input"))
    assert.equal(20, tokens("to_openai", "gpt-mock", "output"))
    assert.equal(30, tokens("to_openai", "gpt-mock", "cache_read"))
    assert.equal(1, tokens("ordered", "claude-b", "input"))
    -- 12 x 3e-6 + 7 x 1.5e-5 + 3 x 3.75e-6 + 40 x 3e-7, the shipped prices of claude-sonnet-4-5
    local cost = value(s, "ccproxy_cost_usd_total", { deployment = "claude-*", model = priced })
    assert.is_true(close_to(cost, 0.00016425), tostring(cost))
    -- the others' models have no price: no cost series, counted as unknown
    assert.is_nil(value(s, "ccproxy_cost_usd_total", { deployment = "claude-*", model = "claude-sonnet-5-5" }))
    assert.is_nil(value(s, "ccproxy_cost_usd_total", { deployment = "to_openai", model = "gpt-mock" }))
    assert.equal(3, value(s, "ccproxy_requests_cost_unknown_total"), text)

    -- attempts: one each, but the group's two; the retry counted
    assert.equal(3, value(s, "ccproxy_upstream_attempts_total", { deployment = "claude-*", result = "200" }))
    assert.equal(1, value(s, "ccproxy_upstream_attempts_total", { deployment = "claude-*", result = "429" }))
    assert.equal(1, value(s, "ccproxy_upstream_attempts_total", { deployment = "claude-*", result = "500" }))
    assert.equal(1, value(s, "ccproxy_upstream_attempts_total", { deployment = "ordered", result = "429" }))
    assert.equal(1, value(s, "ccproxy_upstream_attempts_total", { deployment = "ordered", result = "200" }))
    assert.equal(1, value(s, "ccproxy_retries_total"))
    assert.equal(1, value(s, "ccproxy_deployment_cooldown", { deployment = "ordered", model = "anthropic/claude-a" }))
    assert.equal(0, value(s, "ccproxy_deployment_cooldown", { deployment = "ordered", model = "anthropic/claude-b" }))
    assert.equal(0, value(s, "ccproxy_deployment_cooldown", { deployment = "claude-*", model = "anthropic/*" }))

    -- histograms: a sample per request of the deployment, buckets cumulative up to +Inf
    local h = "ccproxy_request_duration_seconds"
    assert.equal(5, value(s, h .. "_count", { deployment = "claude-*" }))
    assert.equal(5, value(s, h .. "_bucket", { deployment = "claude-*", le = "+Inf" }))
    assert.equal(5, value(s, h .. "_bucket", { deployment = "claude-*", le = "600" }))
    local prev = -1
    for _, le in ipairs({ "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "20", "30", "60",
                          "120", "300", "600", "+Inf" }) do
      local n = value(s, h .. "_bucket", { deployment = "ordered", le = le })
      assert.is_true(n >= prev, le)
      prev = n
    end
    assert.is_true(value(s, h .. "_sum", { deployment = "claude-*" }) > 0)
    assert.equal(5, value(s, "ccproxy_time_to_first_byte_seconds_count", { deployment = "claude-*" }))
    assert.equal(0, value(s, "ccproxy_requests_in_flight"))
    assert.equal(0, value(s, "ccproxy_open_streams"))
    assert.equal(0, sum(s, "ccproxy_script_errors_total"))
  end)

  it("shows a request in flight, then the client-closed status when its client leaves", function()
    local before = #proxy:request_log()
    mock:reset()
    mock:script({ { hang = true } })
    local conn = H.connect(proxy.port)
    assert(conn:send(H.build_request(proxy.port,
      { path = "/v1/messages", json = H.messages_body({ stream = true }) })))
    local s
    assert(sh.wait_for(function()
      s = scrape()
      return value(s, "ccproxy_requests_in_flight") == 1
    end, 5), "the request was never in flight")
    assert.equal(1, value(s, "ccproxy_open_streams"))
    conn:close()
    assert(sh.wait_for(function()
      s = scrape()
      return value(s, "ccproxy_requests_in_flight") == 0
    end, 5), "the request stayed in flight")
    wait_requests(before + 1)
    s = scrape()
    assert.equal(0, value(s, "ccproxy_open_streams"))
    assert.equal(1, value(s, "ccproxy_requests_total", { endpoint = "messages", label = "default",
      deployment = "claude-*", status = "client-closed" }))
  end)

  it("answers only GET", function()
    local res = proxy:request({ method = "POST", path = "/metrics", body = "" })
    assert.equal(405, res.status)
  end)

  it("is text promtool finds nothing wrong with", function()
    if not have("promtool") then
      return -- prometheus's package has it; the scrape below checks the format anyway
    end
    local _, text = scrape()
    local file = sh.tmpdir() .. "/metrics.txt"
    sh.write_file(file, text)
    local r = sh.run({ "sh", "-c", "promtool check metrics < " .. sh.quote(file) }, { timeout = 20 })
    assert.equal(0, r.code, r.stdout .. r.stderr)
  end)

  describe("scraped by a real Prometheus", function()
    local bin = find_prometheus()
    if not bin then
      pending("needs /usr/bin/prometheus (Debian's prometheus package; spec/run.sh installs it)")
      return
    end
    local prom, prom_port

    setup(function()
      prom_port = sh.free_port()
      local dir = sh.tmpdir()
      local cfg = dir .. "/prometheus.yml"
      sh.write_file(cfg, ([[
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: ccproxy
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:PORT"]
]]):gsub("PORT", tostring(proxy.port)))
      prom = H.spawn({ bin, "--config.file=" .. cfg, "--storage.tsdb.path=" .. dir .. "/data",
                       "--web.listen-address=127.0.0.1:" .. prom_port,
                       "--storage.tsdb.retention.time=1h" })
    end)

    teardown(function()
      if prom then
        prom:stop(5)
      end
    end)

    -- GET on Prometheus's HTTP API; the decoded answer, or nil while it is not up.
    local function api(path)
      local ok, res = pcall(H.request, prom_port,
        { path = path, headers = { { "Connection", "close" } }, timeout = 5 })
      if not ok or res.status ~= 200 then
        return nil
      end
      local body = H.decode(res.body)
      return body.status == "success" and body.data or nil
    end

    local function query(q)
      return api("/api/v1/query?query=" .. urlencode(q))
    end

    it("finds the target up and the same values in its queries", function()
      local target
      local up = sh.wait_for(function()
        if not prom:alive() then
          return "dead"
        end
        local d = api("/api/v1/targets")
        target = d and d.activeTargets and d.activeTargets[1]
        return target and target.health == "up" and "up"
      end, 60)
      assert.equal("up", up, "Prometheus never scraped the proxy: " .. H.encode(target or {})
        .. "\n" .. prom:stderr_text():sub(-3000))
      assert.equal("127.0.0.1:" .. proxy.port, target.labels.instance)
      assert.equal("", target.lastError)

      -- No request comes meanwhile, so every counter Prometheus scraped is the text's now.
      local s = scrape()
      local ignore = { __name__ = true, instance = true, job = true }
      local function check(q, name, labels_filter)
        local want = {}
        for _, smp in ipairs(s) do
          local keep = smp.name == name
          for k, v in pairs(labels_filter or {}) do
            keep = keep and smp.labels[k] == v
          end
          if keep then
            want[#want + 1] = smp
          end
        end
        assert.is_true(#want > 0, "no " .. name .. " in /metrics")
        local result
        assert(sh.wait_for(function()
          local d = query(q)
          result = d and d.result
          return result and #result == #want
        end, 10), q .. ": " .. H.encode(result or {}) .. " (want " .. #want .. " series)")
        for _, w in ipairs(want) do
          local got
          for _, r in ipairs(result) do
            if same_labels(r.metric, w.labels, ignore) then
              assert.is_nil(got, "two series for " .. w.line)
              got = tonumber(r.value[2])
            end
          end
          assert.is_true(close_to(got, w.value), w.line .. " but Prometheus has " .. tostring(got))
        end
        return result
      end
      local res = check("ccproxy_requests_total", "ccproxy_requests_total")
      assert.equal(7, #res) -- the label sets of the 8 requests
      for _, r in ipairs(res) do
        assert.equal("ccproxy", r.metric.job)
      end
      check('ccproxy_tokens_total{type="input"}', "ccproxy_tokens_total", { type = "input" })
      check("ccproxy_cost_usd_total", "ccproxy_cost_usd_total")
      check("ccproxy_upstream_attempts_total", "ccproxy_upstream_attempts_total")
      check("ccproxy_deployment_cooldown", "ccproxy_deployment_cooldown")
      check("ccproxy_retries_total", "ccproxy_retries_total")
      check('ccproxy_request_duration_seconds_bucket{deployment="claude-*"}',
        "ccproxy_request_duration_seconds_bucket", { deployment = "claude-*" })
      -- and what PromQL makes of them
      local d = query("sum(ccproxy_requests_total)")
      assert.equal(8, tonumber(d.result[1].value[2]))
      d = query('sum by (type) (ccproxy_tokens_total{deployment="to_openai"})')
      local by_type = {}
      for _, r in ipairs(d.result) do
        by_type[r.metric.type] = tonumber(r.value[2])
      end
      assert.same({ input = 100, output = 20, cache_read = 30, cache_creation = 0 }, by_type)
      d = query('histogram_quantile(0.5, sum by (le) (ccproxy_request_duration_seconds_bucket))')
      local median = tonumber(d.result[1].value[2])
      assert.is_true(median > 0 and median <= 5, tostring(median))
    end)
  end)

  it("counts reloads, good and failed, and the generation", function()
    sh.kill(proxy.pid, "HUP")
    proxy:wait_log("reloaded: generation 2", 10)
    local s = scrape()
    assert.equal(1, value(s, "ccproxy_reloads_total", { result = "ok" }))
    assert.equal(0, value(s, "ccproxy_reloads_total", { result = "failed" }))
    assert.equal(2, value(s, "ccproxy_config_generation"))
    -- the counters live on through reloads; cooldowns start again with the new generation
    assert.equal(8, sum(s, "ccproxy_requests_total"))
    assert.equal(0, value(s, "ccproxy_deployment_cooldown", { deployment = "ordered", model = "anthropic/claude-a" }))
    local good = sh.read_file(proxy.dir .. "/config.yaml")
    sh.write_file(proxy.dir .. "/config.yaml", "model_list: [oops\n")
    sh.kill(proxy.pid, "HUP")
    proxy:wait_log("reload failed", 10)
    sh.write_file(proxy.dir .. "/config.yaml", good)
    s = scrape()
    assert.equal(1, value(s, "ccproxy_reloads_total", { result = "ok" }))
    assert.equal(1, value(s, "ccproxy_reloads_total", { result = "failed" }))
    assert.equal(2, value(s, "ccproxy_config_generation"))
  end)
end)

describe("GET /metrics with ccproxy.metrics_enabled: false", function()
  local proxy

  setup(function()
    proxy = H.start_proxy({
      ccproxy_yaml = "ccproxy:\n  metrics_enabled: false\nlitellm:\n  host: 127.0.0.1\n",
      config_yaml = H.claude_config("http://127.0.0.1:9"),
    })
  end)

  teardown(function()
    H.cleanup()
  end)

  it("is not there, and /health still is", function()
    local res = proxy:request({ path = "/metrics" })
    assert.equal(404, res.status)
    assert.matches("metrics_enabled", res.body)
    assert.equal(200, proxy:request({ path = "/health" }).status)
    proxy:check_clean()
  end)
end)
