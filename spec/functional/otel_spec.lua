-- spec/functional/otel_spec.lua: request traces over OTLP/HTTP JSON, through the real binary.
-- A receiver on loopback (spec/support/otlp_receiver.mjs) is OTEL_EXPORTER_OTLP_ENDPOINT, with
-- OTEL_EXPORTER_OTLP_HEADERS; requests go to the mock upstream: a stream, a whole answer, a
-- retried request (two attempts), one whose every attempt fails. The receiver gets a SERVER
-- span per request with the GenAI attributes and the captured header, and a CLIENT span per
-- attempt under it, with the headers asked for. Then collectors that are down or never answer:
-- requests stay fast and succeed, the drops are counted in /health and logged without the
-- headers' values, and the proxy still stops at once. An https receiver trusted through
-- OTEL_EXPORTER_OTLP_CERTIFICATE (and refused under another CA); a reload that changes the
-- endpoint asks for a restart; OTEL_SDK_DISABLED=true: no traces.
local H = require("proxy_harness")
local sh = require("sh")
local socket = require("socket")

local AUTH = "Basic cGs6c2s=" -- base64 of "pk:sk", as LangFuse's keys are sent

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
    - ccproxy.hooks.extract_session_id
    - hook: ccproxy.hooks.capture_headers
      params:
        headers: [x-spec-tag]
litellm:
  host: 127.0.0.1
  port: 4000
]]

local function config_yaml(base, dead)
  return ([[
model_list:
  - model_name: ordered
    litellm_params: {model: anthropic/claude-a, api_base: BASE, order: 1}
  - model_name: ordered
    litellm_params: {model: anthropic/claude-b, api_base: BASE, order: 2}
  - model_name: dead
    litellm_params: {model: anthropic/claude-dead, api_base: DEAD}
  - model_name: "claude-*"
    litellm_params: {model: anthropic/*, api_base: BASE}
router_settings:
  num_retries: 1
  cooldown_time: 1
]]):gsub("BASE", base):gsub("DEAD", dead)
end

-- A port nothing listens on.
local function closed_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

--------------------------------------------------------------------------------------------
-- The receiver
--------------------------------------------------------------------------------------------

local Receiver = {}
Receiver.__index = Receiver

-- opts.tls = { cert, key }: the exports come over HTTPS.
local function start_receiver(opts)
  local argv = { "node", H.spec_path("support/otlp_receiver.mjs"), "--port", "0" }
  if opts and opts.tls then
    for _, a in ipairs({ "--tls-cert", opts.tls.cert, "--tls-key", opts.tls.key }) do
      argv[#argv + 1] = a
    end
  end
  local p = H.spawn(argv)
  local port, control = nil, nil
  sh.wait_for(function()
    port, control = p:stdout_text():match('"port":(%d+),"control_port":(%d+)')
    return port
  end, 5)
  assert(port, "the OTLP receiver did not start: " .. p:stderr_text())
  return setmetatable({ proc = p, port = tonumber(port), control_port = tonumber(control),
                        tls = opts and opts.tls }, Receiver)
end

function Receiver:base()
  return (self.tls and "https" or "http") .. "://127.0.0.1:" .. self.port
end

function Receiver:control(method, path, value)
  local res = H.request(self.control_port, { method = method, path = path,
    body = value and H.encode(value) or nil,
    headers = { { "Connection", "close" }, { "Content-Type", "application/json" } } })
  assert(res.status == 200, "receiver " .. path .. ": " .. tostring(res.body))
  return H.decode(res.body)
end

function Receiver:exports()
  return self:control("GET", "/__otlp/requests")
end

function Receiver:reset()
  return self:control("POST", "/__otlp/reset")
end

-- An attribute list as a table: name -> string, number (intValue, doubleValue) or boolean.
local function attributes(list)
  local out = {}
  for _, a in ipairs(list or {}) do
    local v = a.value
    if v.stringValue ~= nil then
      out[a.key] = v.stringValue
    elseif v.intValue ~= nil then
      out[a.key] = tonumber(v.intValue)
    elseif v.doubleValue ~= nil then
      out[a.key] = v.doubleValue
    elseif v.boolValue ~= nil then
      out[a.key] = v.boolValue
    end
  end
  return out
end

-- Every span received, each with .attrs, .resource (its resource's attributes) and .export
-- (the request that carried it).
function Receiver:spans()
  local out = {}
  for _, ex in ipairs(self:exports()) do
    for _, rs in ipairs((ex.body or {}).resourceSpans or {}) do
      local resource = attributes(rs.resource and rs.resource.attributes)
      for _, ss in ipairs(rs.scopeSpans or {}) do
        for _, span in ipairs(ss.spans or {}) do
          span.attrs = attributes(span.attributes)
          span.resource = resource
          span.export = ex
          out[#out + 1] = span
        end
      end
    end
  end
  return out
end

-- The spans of request `id` (x-ccproxy-request-id): its SERVER span and its CLIENT spans in
-- the order of their attempts, once they have all arrived (up to 5 s).
function Receiver:trace_of(id, n_attempts)
  local server, clients
  sh.wait_for(function()
    server, clients = nil, {}
    local spans = self:spans()
    for _, s in ipairs(spans) do
      if s.kind == 2 and s.attrs["ccproxy.request_id"] == id then
        server = s
      end
    end
    if not server then
      return false
    end
    for _, s in ipairs(spans) do
      if s.kind == 3 and s.parentSpanId == server.spanId then
        clients[#clients + 1] = s
      end
    end
    table.sort(clients, function(a, b)
      return a.attrs["ccproxy.attempt"] < b.attrs["ccproxy.attempt"]
    end)
    return #clients >= n_attempts
  end, 5)
  assert(server, "no span arrived for request " .. tostring(id))
  return server, clients
end

-- unix nanos as a string -> seconds (a double keeps ~0.1 us at this scale; enough here)
local function seconds(nanos)
  return tonumber(nanos:sub(1, -10) .. "." .. nanos:sub(-9))
end

local function health(proxy)
  return H.decode(proxy:request({ path = "/health" }).body)
end

--------------------------------------------------------------------------------------------

describe("request traces over OTLP/HTTP", function()
  local mock, rx, proxy

  setup(function()
    mock = H.start_mock()
    rx = start_receiver()
    proxy = H.start_proxy({
      ccproxy_yaml = CCPROXY_YAML,
      config_yaml = config_yaml(mock:base(), "http://127.0.0.1:" .. closed_port()),
      env = {
        OTEL_EXPORTER_OTLP_ENDPOINT = rx:base(),
        OTEL_EXPORTER_OTLP_HEADERS = "Authorization=Basic%20cGs6c2s=,x-team=core",
        OTEL_SERVICE_NAME = "ccproxy-spec",
        OTEL_BSP_SCHEDULE_DELAY = "100",
      },
    })
  end)

  teardown(function()
    H.cleanup()
  end)

  before_each(function()
    mock:reset(true)
    rx:reset()
  end)

  after_each(function()
    if not proxy.proc.exited then proxy:check_clean() end
  end)

  local function ask(fields, headers)
    local res = proxy:messages(H.messages_body(fields), { headers = headers })
    local id = res.headers["x-ccproxy-request-id"]
    assert.is_truthy(id, "no x-ccproxy-request-id")
    return res, id
  end

  it("sends a streamed request as a SERVER span with a CLIENT span under it", function()
    mock:script({ { text = "streamed", usage = { input_tokens = 11, output_tokens = 7,
      cache_read_input_tokens = 3, cache_creation_input_tokens = 2 } } })
    local t0 = socket.gettime()
    local res, id = ask({ stream = true }, {
      { "Content-Type", "application/json" },
      { "X-Claude-Code-Session-Id", "sess-otel-1" },
      { "X-Spec-Tag", "blue" },
    })
    local t1 = socket.gettime()
    assert.equal(200, res.status)
    local server, clients = rx:trace_of(id, 1)

    -- the export itself
    local ex = server.export
    assert.equal("POST", ex.method)
    assert.equal("/v1/traces", ex.path)
    assert.equal("application/json", ex.headers["content-type"])
    assert.equal(AUTH, ex.headers["authorization"])
    assert.equal("core", ex.headers["x-team"])
    assert.equal("ccproxy-spec", server.resource["service.name"])
    assert.is_truthy(server.resource["service.version"])

    -- the request's span
    assert.equal(2, server.kind)
    assert.equal("chat claude-sonnet-5-5", server.name)
    assert.is_nil(server.parentSpanId)
    assert.matches("^%x+$", server.traceId)
    assert.equal(32, #server.traceId)
    assert.equal(16, #server.spanId)
    local a = server.attrs
    assert.equal("chat", a["gen_ai.operation.name"])
    assert.equal("anthropic", a["gen_ai.system"])
    assert.equal("claude-sonnet-5-5", a["gen_ai.request.model"])
    assert.equal("claude-sonnet-5-5", a["gen_ai.response.model"])
    assert.equal(11, a["gen_ai.usage.input_tokens"])
    assert.equal(7, a["gen_ai.usage.output_tokens"])
    assert.equal(3, a["gen_ai.usage.cache_read_input_tokens"])
    assert.equal(2, a["gen_ai.usage.cache_creation_input_tokens"])
    assert.equal(200, a["http.response.status_code"])
    assert.equal("sess-otel-1", a["session.id"])
    assert.equal("sess-otel-1", a["ccproxy.session_id"])
    assert.equal("default", a["ccproxy.label"])
    assert.equal("claude-*", a["ccproxy.deployment"])
    assert.equal(1, a["ccproxy.attempts"])
    assert.equal(true, a["ccproxy.stream"])
    assert.equal("blue", a["ccproxy.tag.h.x-spec-tag"])
    assert.is_true(server.status == nil or server.status.code == nil or server.status.code == 0)
    -- its times: within the request's as the client saw it
    local s, e = seconds(server.startTimeUnixNano), seconds(server.endTimeUnixNano)
    assert.is_true(s >= t0 - 0.05 and e <= t1 + 0.05 and e >= s,
      string.format("span %.3f..%.3f outside the request %.3f..%.3f", s, e, t0, t1))

    -- the attempt's span
    assert.equal(1, #clients)
    local c = clients[1]
    assert.equal(3, c.kind)
    assert.equal(server.traceId, c.traceId)
    assert.equal(server.spanId, c.parentSpanId)
    assert.are_not.equal(server.spanId, c.spanId)
    assert.equal("chat claude-sonnet-5-5", c.name)
    assert.equal(200, c.attrs["http.response.status_code"])
    assert.equal("claude-*", c.attrs["ccproxy.deployment"])
    local cs, ce = seconds(c.startTimeUnixNano), seconds(c.endTimeUnixNano)
    assert.is_true(cs >= s - 0.001 and ce <= e + 0.001 and ce >= cs)
  end)

  it("sends a whole answer's request with its usage", function()
    mock:script({ { text = "whole", usage = { input_tokens = 5, output_tokens = 9 } } })
    local res, id = ask({ stream = false })
    assert.equal(200, res.status)
    local server, clients = rx:trace_of(id, 1)
    assert.equal(false, server.attrs["ccproxy.stream"])
    assert.equal(5, server.attrs["gen_ai.usage.input_tokens"])
    assert.equal(9, server.attrs["gen_ai.usage.output_tokens"])
    assert.is_nil(server.attrs["session.id"])
    assert.equal(1, #clients)
  end)

  it("gives a retried request one CLIENT span per attempt, the failed one an error", function()
    mock:script({ { status = 529, error = { type = "overloaded_error", message = "busy" } } })
    local res, id = ask({ model = "ordered" })
    assert.equal(200, res.status, res.body)
    assert.equal("2", res.headers["x-ccproxy-attempts"])
    local server, clients = rx:trace_of(id, 2)
    assert.equal(2, server.attrs["ccproxy.attempts"])
    assert.equal("chat ordered", server.name)
    assert.equal(200, server.attrs["http.response.status_code"])
    assert.equal(2, #clients)
    local first, second = clients[1], clients[2]
    for _, c in ipairs(clients) do
      assert.equal(server.traceId, c.traceId)
      assert.equal(server.spanId, c.parentSpanId)
      assert.equal("ordered", c.attrs["ccproxy.deployment"])
    end
    assert.are_not.equal(first.spanId, second.spanId)
    assert.equal(529, first.attrs["http.response.status_code"])
    assert.equal("claude-a", first.attrs["gen_ai.request.model"])
    assert.equal(2, first.status.code)
    assert.equal(200, second.attrs["http.response.status_code"])
    assert.equal("claude-b", second.attrs["gen_ai.request.model"])
    assert.is_true(second.status == nil or second.status.code == nil)
    assert.is_true(seconds(first.endTimeUnixNano) <= seconds(second.startTimeUnixNano) + 0.001)
  end)

  it("marks a request whose every attempt failed as an error", function()
    local res, id = ask({ model = "dead" })
    assert.equal(529, res.status, res.body)
    local server, clients = rx:trace_of(id, 2)
    assert.equal(2, server.status.code)
    assert.equal("upstream-failed", server.attrs["ccproxy.outcome"])
    assert.equal(529, server.attrs["http.response.status_code"])
    assert.equal(2, #clients)
    for _, c in ipairs(clients) do
      assert.equal("unreachable", c.attrs["error.type"])
      assert.equal(2, c.status.code)
    end
  end)

  it("reports the exporter in /health", function()
    local res = ask({})
    assert.equal(200, res.status)
    local o
    sh.wait_for(function()
      o = health(proxy).otel
      return o.spans_exported > 0 and o.spans_queued == 0
    end, 5)
    assert.equal("on", o.state)
    assert.equal(rx:base() .. "/v1/traces", o.endpoint)
    assert.is_true(o.spans_exported > 0)
    assert.equal(0, o.spans_dropped)
    assert.is_true(o.exports > 0)
    assert.equal(0, o.exports_failed)
    assert.matches("otel: exporting request traces to " .. rx:base():gsub("%p", "%%%0")
      .. "/v1/traces %(service.name=ccproxy%-spec, 2 headers%)", proxy:log())
    assert.is_nil(proxy:log():find("cGs6c2s=", 1, true))
  end)

  it("stops clean, its spans sent", function()
    local _, id = ask({})
    assert.equal(0, proxy:stop())
    assert.is_nil(proxy:sanitizer_report())
    local server = rx:trace_of(id, 1)
    assert.equal(id, server.attrs["ccproxy.request_id"])
  end)
end)

describe("request traces with a collector that is down or never answers", function()
  local mock

  setup(function()
    mock = H.start_mock()
  end)

  teardown(function()
    H.cleanup()
  end)

  -- A proxy exporting to `endpoint`; n requests, each timed; returns the proxy and the
  -- slowest request's seconds.
  local function run(endpoint, n, env)
    local e = {
      OTEL_EXPORTER_OTLP_ENDPOINT = endpoint,
      OTEL_EXPORTER_OTLP_HEADERS = "Authorization=Basic%20cGs6c2s=",
      OTEL_BSP_SCHEDULE_DELAY = "100",
    }
    for k, v in pairs(env or {}) do e[k] = v end
    local proxy = H.start_proxy({ ccproxy_yaml = CCPROXY_YAML,
      config_yaml = config_yaml(mock:base(), "http://127.0.0.1:" .. closed_port()), env = e })
    local slowest = 0
    for i = 1, n do
      local t = socket.gettime()
      local res = proxy:messages(H.messages_body({ stream = i % 2 == 0 }))
      slowest = math.max(slowest, socket.gettime() - t)
      assert.equal(200, res.status, res.body)
    end
    return proxy, slowest
  end

  it("drops and counts the spans when the collector is down; requests stay fast", function()
    local port = closed_port()
    local proxy, slowest = run("http://127.0.0.1:" .. port, 20)
    assert.is_true(slowest < 1, string.format("a request took %.3f s", slowest))
    local o
    sh.wait_for(function()
      o = health(proxy).otel
      return o.spans_dropped >= 40 and o.spans_queued == 0
    end, 5)
    assert.equal(40, o.spans_dropped) -- 20 requests, a span each and one for its attempt
    assert.equal(0, o.spans_exported)
    assert.is_true(o.exports_failed >= 1)
    assert.matches("connect", o.last_error)
    local lines = proxy:wait_log("otel: %d+ spans? dropped", 3)
    assert.is_true(#lines >= 1)
    assert.matches("exporting to http://127.0.0.1:" .. port .. "/v1/traces", lines[1])
    assert.is_nil(proxy:log():find("cGs6c2s=", 1, true))
    proxy:check_clean()
    local t = socket.gettime()
    assert.equal(0, proxy:stop())
    assert.is_true(socket.gettime() - t < 4)
    assert.is_nil(proxy:sanitizer_report())
  end)

  it("costs requests nothing when the collector never answers", function()
    local silent = H.silent_listener()
    local proxy, slowest = run(silent:base(), 20, { OTEL_EXPORTER_OTLP_TIMEOUT = "300" })
    assert.is_true(slowest < 1, string.format("a request took %.3f s", slowest))
    local o
    sh.wait_for(function()
      o = health(proxy).otel
      return o.exports_failed >= 1 and o.spans_queued == 0
    end, 5)
    assert.is_true(o.exports_failed >= 1)
    assert.matches("300 ms", o.last_error)
    assert.equal(0, o.spans_exported)
    proxy:check_clean()
    -- the stop does not wait on it for long
    assert.equal(200, proxy:messages(H.messages_body({})).status)
    local t = socket.gettime()
    assert.equal(0, proxy:stop())
    assert.is_true(socket.gettime() - t < 4, "the stop waited on the collector")
    assert.is_nil(proxy:sanitizer_report())
    silent:close()
  end)

  it("exports over https, trusting OTEL_EXPORTER_OTLP_CERTIFICATE", function()
    local certs = H.make_certs()
    local rx = start_receiver({ tls = certs })
    local proxy = run(rx:base(), 1, { OTEL_EXPORTER_OTLP_CERTIFICATE = certs.ca })
    local o
    sh.wait_for(function()
      o = health(proxy).otel
      return o.spans_exported >= 2
    end, 5)
    assert.equal(2, o.spans_exported, o.last_error)
    local ex = rx:exports()[1]
    assert.equal("/v1/traces", ex.path)
    assert.equal(AUTH, ex.headers["authorization"])
    proxy:check_clean()
    -- trusting another CA, the certificate is refused, and the spans are dropped
    local untrusting = run(rx:base(), 1, { SSL_CERT_FILE = H.make_certs().ca })
    sh.wait_for(function()
      o = health(untrusting).otel
      return o.exports_failed >= 1
    end, 5)
    assert.equal(1, o.exports_failed)
    assert.equal(2, o.spans_dropped)
    assert.matches("certificate", o.last_error)
    untrusting:check_clean()
  end)

  it("says a reload that changes the endpoint needs a restart", function()
    local rx = start_receiver()
    local yaml = CCPROXY_YAML:gsub("litellm:", "  otel:\n    endpoint: " .. rx:base() .. "\nlitellm:")
    local proxy = H.start_proxy({ ccproxy_yaml = yaml,
      config_yaml = config_yaml(mock:base(), "http://127.0.0.1:" .. closed_port()) })
    assert.equal(rx:base() .. "/v1/traces", health(proxy).otel.endpoint)
    sh.write_file(proxy.dir .. "/ccproxy.yaml", CCPROXY_YAML)
    sh.kill(proxy.pid, "HUP")
    local h
    sh.wait_for(function()
      h = health(proxy)
      return h.last_reload and h.last_reload.ok
    end, 5)
    assert.matches("otel traces " .. rx:base():gsub("%p", "%%%0") .. "/v1/traces %-> off",
      h.last_reload.restart_needed)
    assert.equal("on", h.otel.state) -- still exporting where it started
    proxy:check_clean()
  end)

  it("sends nothing with OTEL_SDK_DISABLED=true", function()
    local rx = start_receiver()
    local proxy = run(rx:base(), 2, { OTEL_SDK_DISABLED = "true" })
    assert.equal("off", health(proxy).otel.state)
    socket.sleep(0.3)
    assert.equal(0, #rx:exports())
    proxy:check_clean()
  end)
end)
