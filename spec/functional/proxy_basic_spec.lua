-- spec/functional/proxy_basic_spec.lua: the real ccproxy binary relaying to the mock upstream
-- on loopback: responses and their headers, live streaming, what travels upstream (query,
-- headers, Host, hop-by-hop fields), the byte-identical model splice, the local endpoints
-- (/v1/models, /health), upstream errors relayed as-is, compression (plain /v1/messages
-- answers asked for, a compressed count_tokens answer passed on), and upstream keep-alive.
local H = require("proxy_harness")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
  rules:
    - name: background
      rule: ccproxy.rules.MatchModelRule
      params:
        - model_name: haiku
  upstream:
    first_byte_timeout: 5
    idle_timeout: 5
litellm:
  host: 127.0.0.1
  port: 4000
]]

local function config_yaml(base)
  return ([[
model_list:
  - model_name: background
    litellm_params:
      model: anthropic/mock-background-model
      api_base: BASE
  - model_name: "claude-*"
    litellm_params:
      model: anthropic/*
      api_base: BASE
]]):gsub("BASE", base)
end

local function text_of(msg)
  local parts = {}
  for _, block in ipairs(msg.content or {}) do
    if block.type == "text" then
      parts[#parts + 1] = block.text
    end
  end
  return table.concat(parts)
end

-- The text deltas of a stream's events, joined.
local function stream_text(events)
  local parts = {}
  for _, ev in ipairs(events) do
    if ev.event == "content_block_delta" then
      local d = H.decode(ev.data)
      if d.delta.type == "text_delta" then
        parts[#parts + 1] = d.delta.text
      end
    end
  end
  return table.concat(parts)
end

describe("ccproxy relaying to an Anthropic upstream", function()
  local mock, proxy

  setup(function()
    mock = H.start_mock()
    proxy = H.start_proxy({ ccproxy_yaml = CCPROXY_YAML, config_yaml = config_yaml(mock:base()) })
  end)

  teardown(function()
    H.cleanup()
  end)

  after_each(function()
    -- A crash shows as one, on the test that caused it.
    proxy:check_alive()
  end)

  before_each(function()
    mock:reset()
  end)

  describe("a non-streaming request", function()
    it("relays the status, the body and the upstream's headers, and adds a request id", function()
      mock:script({ { text = "pong", headers = { ["x-upstream-extra"] = "kept" } } })
      local res = proxy:messages(H.messages_body())
      assert.equals(200, res.status)
      assert.is_true(res.complete)
      assert.equals("application/json", res.headers["content-type"])
      assert.equals("kept", res.headers["x-upstream-extra"])
      assert.equals("req_mock_1", res.headers["request-id"])
      assert.matches("^%S+$", res.headers["x-ccproxy-request-id"])
      assert.equals(#res.body, tonumber(res.headers["content-length"]))
      local msg = H.decode(res.body)
      assert.equals("message", msg.type)
      assert.equals("pong", text_of(msg))
      assert.equals("claude-sonnet-5-5", msg.model)
      assert.equals("default", res.headers["x-ccproxy-label"])
    end)

    it("gives every request its own request id", function()
      local a = proxy:messages(H.messages_body())
      local b = proxy:messages(H.messages_body())
      assert.is_string(a.headers["x-ccproxy-request-id"])
      assert.is_string(b.headers["x-ccproxy-request-id"])
      assert.are_not.equals(a.headers["x-ccproxy-request-id"], b.headers["x-ccproxy-request-id"])
    end)

    it("relays an upstream error status and body unchanged", function()
      mock:script({
        { status = 400, error = { type = "invalid_request_error", message = "bad thing" } },
      })
      local res = proxy:messages(H.messages_body())
      assert.equals(400, res.status)
      local body = H.decode(res.body)
      assert.equals("error", body.type)
      assert.equals("invalid_request_error", body.error.type)
      assert.equals("bad thing", body.error.message)
    end)

    it("relays an upstream 429 with its retry-after as-is", function()
      mock:script({
        {
          status = 429,
          error = { type = "rate_limit_error", message = "slow down" },
          headers = { ["retry-after"] = "17", ["anthropic-ratelimit-requests-remaining"] = "0" },
        },
      })
      local res = proxy:messages(H.messages_body())
      assert.equals(429, res.status)
      assert.equals("17", res.headers["retry-after"])
      assert.equals("0", res.headers["anthropic-ratelimit-requests-remaining"])
      local body = H.decode(res.body)
      assert.equals("rate_limit_error", body.error.type)
      assert.equals("slow down", body.error.message)
    end)

    it("asks for a plain /v1/messages answer, whose usage it reads, though the client takes gzip", function()
      mock:script({ { text = "plain hello", gzip = true } })
      local res = proxy:messages(H.messages_body(), {
        headers = { { "Content-Type", "application/json" }, { "Accept-Encoding", "gzip" } },
      })
      assert.equals(200, res.status)
      assert.equals("identity", H.record_header(mock:last_request(), "accept-encoding"))
      assert.is_nil(res.headers["content-encoding"])
      assert.equals("plain hello", text_of(H.decode(res.body)))
    end)

    it("passes a gzip count_tokens answer through with its content-encoding intact", function()
      mock:script({ { endpoint = "count_tokens", count_tokens = 321, gzip = true } })
      local res = proxy:messages(H.messages_body(), {
        path = "/v1/messages/count_tokens",
        headers = { { "Content-Type", "application/json" }, { "Accept-Encoding", "gzip" } },
      })
      assert.equals(200, res.status, res.body)
      assert.equals("gzip", res.headers["content-encoding"])
      assert.equals("\31\139", res.body:sub(1, 2)) -- the gzip magic bytes
      local sh = require("sh")
      local r = sh.run({ "gzip", "-dc" }, { stdin = res.body })
      assert.equals(0, r.code, r.stderr)
      assert.equals(321, H.decode(r.stdout).input_tokens)
      -- The client's Accept-Encoding went upstream, so the upstream could choose gzip.
      assert.equals("gzip", H.record_header(mock:last_request(), "accept-encoding"))
    end)
  end)

  describe("a streaming request", function()
    it("delivers each SSE event as the upstream sends it", function()
      -- 7 events (message_start, ping, block start, one delta, block stop, message_delta,
      -- message_stop) 300 ms apart: 1.8 s from the first to the last.
      mock:script({ { text = "x", event_delay_ms = 300 } })
      local res = proxy:messages(H.messages_body({ stream = true }), { timeout = 10 })
      assert.equals(200, res.status)
      assert.is_true(res.complete)
      assert.matches("^text/event%-stream", res.headers["content-type"])
      assert.equals(7, #res.events)
      assert.equals("message_start", res.events[1].event)
      assert.equals("message_stop", res.events[7].event)
      local first = res.events[1].t - res.t_start
      local spread = res.events[7].t - res.events[1].t
      assert.is_true(first < 0.3, string.format("first event after %.3f s", first))
      assert.is_true(spread >= 1.2, string.format("first to last event: %.3f s", spread))
      -- Every event came on its own, not in a burst.
      for i = 2, #res.events do
        local gap = res.events[i].t - res.events[i - 1].t
        assert.is_true(gap > 0.15,
          string.format("event %d came %.3f s after the one before", i, gap))
      end
      assert.equals("x", stream_text(res.events))
    end)

    it("serves concurrent streams side by side", function()
      -- Three streams of 7 events 100 ms apart: 0.6 s each, 1.8 s if served one by one.
      mock:script({
        { text = "x", event_delay_ms = 100 },
        { text = "x", event_delay_ms = 100 },
        { text = "x", event_delay_ms = 100 },
      })
      local t0 = H.now()
      local conns = {}
      for i = 1, 3 do
        conns[i] = H.connect(proxy.port)
        assert(conns[i]:send(H.build_request(proxy.port, {
          path = "/v1/messages",
          json = H.messages_body({ stream = true }),
        })))
      end
      for i = 1, 3 do
        local res = assert(conns[i]:read_response({ timeout = 5 }))
        conns[i]:close()
        assert.equals(200, res.status)
        assert.is_true(res.complete)
        assert.equals(7, #res.events)
      end
      local took = H.now() - t0
      assert.is_true(took < 1.4, string.format("three streams took %.2f s", took))
    end)

    it("relays the whole stream of a longer answer in order", function()
      local text = ("The quick brown fox jumps over the lazy dog. "):rep(40)
      mock:script({ { text = text } })
      local res = proxy:messages(H.messages_body({ stream = true }))
      assert.equals(200, res.status)
      assert.is_true(res.complete)
      assert.equals(text, stream_text(res.events))
      assert.equals("message_stop", res.events[#res.events].event)
    end)
  end)

  describe("the upstream request", function()
    it("keeps the query string and forwards the API headers unchanged", function()
      local beta = "claude-code-20250219,interleaved-thinking-2025-05-14"
      local res = proxy:messages(H.messages_body(), {
        path = "/v1/messages?beta=true",
        headers = {
          { "Content-Type", "application/json" },
          { "anthropic-version", "2023-06-01" },
          { "anthropic-beta", beta },
          { "x-api-key", "sk-ant-test-key" },
          { "Authorization", "Bearer tok-123" },
          { "X-Claude-Code-Session-Id", "e8788ba3-0afb-42db-a340-75985313d704" },
          { "User-Agent", "claude-cli/2.1.332 (external, sdk-cli)" },
        },
      })
      assert.equals(200, res.status)
      local rec = mock:last_request()
      assert.equals("/v1/messages?beta=true", rec.path)
      assert.equals("2023-06-01", H.record_header(rec, "anthropic-version"))
      assert.equals(beta, H.record_header(rec, "anthropic-beta"))
      assert.equals("sk-ant-test-key", H.record_header(rec, "x-api-key"))
      assert.equals("Bearer tok-123", H.record_header(rec, "authorization"))
      assert.equals("e8788ba3-0afb-42db-a340-75985313d704",
        H.record_header(rec, "x-claude-code-session-id"))
      assert.equals("claude-cli/2.1.332 (external, sdk-cli)", H.record_header(rec, "user-agent"))
    end)

    it("sends the upstream's Host, not the client's", function()
      proxy:messages(H.messages_body(), {
        host = "proxy.example:4000",
        headers = { { "Content-Type", "application/json" } },
      })
      local rec = mock:last_request()
      local host, all = H.record_header(rec, "host")
      assert.equals("127.0.0.1:" .. mock.port, host)
      assert.equals(1, #all)
    end)

    it("drops hop-by-hop request headers, including those Connection names", function()
      local res = proxy:messages(H.messages_body(), {
        headers = {
          { "Content-Type", "application/json" },
          { "Connection", "keep-alive, x-foo" },
          { "x-foo", "hop" },
          { "Keep-Alive", "timeout=5" },
          { "TE", "trailers" },
          { "Upgrade", "h2c" },
          { "Proxy-Authorization", "Basic c2VjcmV0" },
          { "x-bar", "end-to-end" },
        },
      })
      assert.equals(200, res.status)
      local rec = mock:last_request()
      for _, name in ipairs({ "x-foo", "keep-alive", "te", "upgrade", "proxy-authorization" }) do
        assert.is_nil(H.record_header(rec, name), name .. " was forwarded")
      end
      assert.equals("end-to-end", H.record_header(rec, "x-bar"))
      -- The proxy's own Connection value for its upstream connection, not the client's.
      local conn = H.record_header(rec, "connection")
      assert.is_falsy(conn and conn:find("x-foo", 1, true))
    end)

    it("sends the body with a Content-Length of its own", function()
      local body = H.encode(H.messages_body())
      proxy:messages(body)
      local rec = mock:last_request()
      assert.equals(body, rec.body)
      assert.equals(tostring(#body), H.record_header(rec, "content-length"))
      assert.is_nil(H.record_header(rec, "transfer-encoding"))
    end)
  end)

  describe("the model splice", function()
    local fixture_dir = "fixtures/claude-code/a_say_hi/"
    local fixture, fixture_headers
    local splice_proxy

    setup(function()
      fixture = assert(require("sh").read_file(H.spec_path(fixture_dir .. "01-messages.body.json")))
      local spec = H.decode(require("sh").read_file(
        H.spec_path(fixture_dir .. "01-messages.headers.json")))
      fixture_headers = {}
      for _, kv in ipairs(spec.header_list) do
        local n = kv[1]:lower()
        if n ~= "host" and n ~= "content-length" and n ~= "connection" then
          fixture_headers[#fixture_headers + 1] = { kv[1], kv[2] }
        end
      end
      -- A second proxy whose rule gives Claude Code's opus requests a label with another model.
      splice_proxy = H.start_proxy({
        ccproxy_yaml = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
  rules:
    - name: spliced
      rule: ccproxy.rules.MatchModelRule
      params:
        - model_name: opus
]],
        config_yaml = ([[
model_list:
  - model_name: spliced
    litellm_params:
      model: anthropic/mock-spliced-model-x
      api_base: BASE
  - model_name: "claude-*"
    litellm_params:
      model: anthropic/*
      api_base: BASE
]]):gsub("BASE", mock:base()),
      })
    end)

    after_each(function()
      splice_proxy:check_alive()
    end)

    it("changes only the model value of a real Claude Code body, byte for byte", function()
      local head = '{"model":"claude-opus-5-5",'
      assert.equals(head, fixture:sub(1, #head))
      local res = splice_proxy:messages(fixture, {
        path = "/v1/messages?beta=true",
        headers = fixture_headers,
      })
      assert.equals(200, res.status)
      assert.equals("spliced", res.headers["x-ccproxy-label"])
      local rec = mock:last_request()
      local expected = '{"model":"mock-spliced-model-x",' .. fixture:sub(#head + 1)
      assert.equals(#expected, #rec.body)
      assert.is_true(expected == rec.body,
        "the upstream body differs from the fixture beyond the model")
      assert.equals("/v1/messages?beta=true", rec.path)
    end)

    it("passes an unrouted body through untouched", function()
      local res = proxy:messages(fixture, {
        path = "/v1/messages?beta=true",
        headers = fixture_headers,
      })
      assert.equals(200, res.status)
      assert.equals("default", res.headers["x-ccproxy-label"])
      local rec = mock:last_request()
      assert.equals(#fixture, #rec.body)
      assert.is_true(fixture == rec.body, "the upstream body differs from the client's")
      -- Claude Code's own header fields arrive in the order it sent them.
      local names = {}
      for _, kv in ipairs(rec.headers) do
        local n = kv[1]:lower()
        if n ~= "host" and n ~= "content-length" and n ~= "connection" then
          names[#names + 1] = n
        end
      end
      local sent = {}
      for _, kv in ipairs(fixture_headers) do
        sent[#sent + 1] = kv[1]:lower()
      end
      assert.same(sent, names)
    end)
  end)

  describe("local endpoints", function()
    it("GET /v1/models lists the configured model names", function()
      local res = proxy:request({ method = "GET", path = "/v1/models" })
      assert.equals(200, res.status)
      assert.matches("^application/json", res.headers["content-type"])
      local list = H.decode(res.body)
      local ids = {}
      for _, m in ipairs(list.data) do
        assert.equals("model", m.type)
        ids[#ids + 1] = m.id
      end
      assert.same({ "background" }, ids) -- the "claude-*" glob is not a model
      assert.is_false(list.has_more)
      assert.equals(0, #mock:requests()) -- answered by the proxy itself
    end)

    it("GET /health reports status, version, uptime, generation and pid", function()
      local res = proxy:request({ method = "GET", path = "/health" })
      assert.equals(200, res.status)
      local h = H.decode(res.body)
      assert.equals("ok", h.status)
      assert.matches("^%d+%.%d+%.%d+", h.version)
      assert.is_number(h.uptime_s)
      assert.is_true(h.uptime_s >= 0)
      assert.is_number(h.generation)
      assert.is_true(h.generation >= 1)
      assert.equals(proxy.pid, h.pid)
    end)

    it("answers HEAD without a body, so the connection stays usable (HEAD / is 200)", function()
      local conn = H.connect(proxy.port)
      -- Three requests in one write: if a HEAD answer carried a body, the next answer's head
      -- would start inside it.
      assert(conn:send("HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        .. "HEAD /no/such/path HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        .. "HEAD /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        .. "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
      local root = assert(conn:read_response({ method = "HEAD" }))
      assert.equals(200, root.status)
      assert.matches("^application/json", root.headers["content-type"])
      assert.is_truthy(tonumber(root.headers["content-length"]) > 0) -- what GET would send
      assert.is_nil(root.headers["transfer-encoding"])
      local missing = assert(conn:read_response({ method = "HEAD" }))
      assert.equals(404, missing.status)
      local wrong = assert(conn:read_response({ method = "HEAD" }))
      assert.equals(405, wrong.status)
      -- Whatever is left must be exactly the next answer.
      local health = assert(conn:read_response())
      assert.equals(200, health.status)
      assert.equals("ok", H.decode(health.body).status)
      conn:close()
      -- GET / names the proxy.
      local res = proxy:request({ method = "GET", path = "/" })
      assert.equals(200, res.status)
      assert.equals("ccproxy", H.decode(res.body).name)
    end)
  end)

  describe("upstream keep-alive", function()
    it("reuses one upstream connection for sequential requests from new clients", function()
      mock:reset(true)
      for i = 1, 5 do
        H.settle()
        mock:script({ { text = "n" .. i } })
        local res = proxy:messages(H.messages_body())
        assert.equals(200, res.status)
        assert.equals("n" .. i, text_of(H.decode(res.body)))
      end
      local stats = mock:stats()
      assert.equals(5, stats.requests)
      assert.equals(1, stats.connections)
    end)

    it("reuses it for sequential requests on one keep-alive client connection", function()
      mock:reset(true)
      local conn = H.connect(proxy.port)
      for i = 1, 5 do
        H.settle()
        local res = proxy:messages(H.messages_body({ stream = i % 2 == 0 }), { conn = conn })
        assert.equals(200, res.status)
        assert.is_true(res.complete)
      end
      conn:close()
      local stats = mock:stats()
      assert.equals(5, stats.requests)
      assert.equals(1, stats.connections)
    end)
  end)
end)
