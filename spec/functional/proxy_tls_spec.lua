-- spec/functional/proxy_tls_spec.lua: the real ccproxy binary talking HTTPS to the mock
-- upstream, whose certificate a test CA signed: trusted through SSL_CERT_FILE or a
-- deployment's ssl_verify path, refused (502, x-should-retry: false) when nothing trusts it,
-- accepted unverified with ssl_verify: false; and its TLS connections reused.
local H = require("proxy_harness")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
  upstream:
    connect_timeout: 3
    first_byte_timeout: 5
litellm:
  host: 127.0.0.1
  port: 4000
]]

local function config_yaml(port, ca)
  return ([[
model_list:
  - model_name: tls-default
    litellm_params:
      model: anthropic/tls-default
      api_base: https://127.0.0.1:PORT
  - model_name: tls-localhost
    litellm_params:
      model: anthropic/tls-localhost
      api_base: https://localhost:PORT
  - model_name: tls-noverify
    litellm_params:
      model: anthropic/tls-noverify
      api_base: https://127.0.0.1:PORT
      ssl_verify: false
  - model_name: tls-ca
    litellm_params:
      model: anthropic/tls-ca
      api_base: https://127.0.0.1:PORT
      ssl_verify: CA
]]):gsub("PORT", port):gsub("CA", ca)
end

describe("ccproxy with a TLS upstream", function()
  local certs, mock
  local trusting, plain -- proxies with and without SSL_CERT_FILE=<test CA>

  setup(function()
    certs = H.make_certs()
    mock = H.start_mock({ tls = certs })
    local cfg = config_yaml(mock.port, certs.ca)
    trusting = H.start_proxy({
      ccproxy_yaml = CCPROXY_YAML,
      config_yaml = cfg,
      env = { SSL_CERT_FILE = certs.ca, SSL_CERT_DIR = false },
    })
    plain = H.start_proxy({
      ccproxy_yaml = CCPROXY_YAML,
      config_yaml = cfg,
      env = { SSL_CERT_FILE = false, SSL_CERT_DIR = false },
    })
  end)

  teardown(function()
    H.cleanup()
  end)

  after_each(function()
    -- A crash shows as one, on the test that caused it.
    trusting:check_alive()
    plain:check_alive()
  end)

  local function ask(proxy, model, extra)
    return proxy:messages(H.messages_body({ model = model, stream = extra and extra.stream }))
  end

  it("succeeds when SSL_CERT_FILE names the CA that signed the upstream's certificate", function()
    local res = ask(trusting, "tls-default")
    assert.equals(200, res.status, res.body)
    assert.equals("tls-default", H.decode(res.body).model)
  end)

  -- The mock listens on 127.0.0.1 only. Where /etc/hosts maps localhost to ::1 as well (a
  -- stock Debian 12 lists ::1 first), the proxy must go on to 127.0.0.1 when ::1 refuses,
  -- as for Ollama's default http://localhost:11434. A socket bound (not listening) to
  -- [::1]:<mock port> makes ::1 refuse for certain; without an IPv6 loopback, or where
  -- localhost is 127.0.0.1 only, the same request simply has one address less to try.
  it("checks the name against a DNS name too (https://localhost)", function()
    local socket = require("socket")
    local v6 = socket.tcp6 and socket.tcp6()
    if v6 then
      v6:setoption("ipv6-v6only", true)
      if not v6:bind("::1", mock.port) then
        v6:close()
        v6 = nil
      end
    end
    local ok = pcall(H.connect, mock.port, "::1")
    assert.is_false(ok, "something answers on [::1]:" .. mock.port)
    local res = ask(trusting, "tls-localhost")
    if v6 then v6:close() end
    assert.equals(200, res.status, res.body)
    assert.equals("tls-localhost", H.decode(res.body).model)
    local rec = mock:last_request()
    assert.equals("localhost:" .. mock.port, H.record_header(rec, "host"))
  end)

  it("streams over TLS", function()
    local res = ask(trusting, "tls-default", { stream = true })
    assert.equals(200, res.status)
    assert.is_true(res.complete)
    assert.equals("message_stop", res.events[#res.events].event)
  end)

  it("gives 502 with x-should-retry: false when nothing trusts the certificate", function()
    local res = ask(plain, "tls-default")
    assert.equals(502, res.status)
    assert.equals("false", res.headers["x-should-retry"])
    local body = H.decode(res.body)
    assert.equals("error", body.type)
    assert.equals("api_error", body.error.type)
    assert.matches("certificate verify failed", body.error.message)
  end)

  it("succeeds with ssl_verify: false", function()
    local res = ask(plain, "tls-noverify")
    assert.equals(200, res.status, res.body)
    assert.equals("tls-noverify", H.decode(res.body).model)
  end)

  it("succeeds with ssl_verify naming the CA file", function()
    local res = ask(plain, "tls-ca")
    assert.equals(200, res.status, res.body)
    assert.equals("tls-ca", H.decode(res.body).model)
  end)

  it("reuses one TLS connection for sequential requests", function()
    mock:reset(true)
    for i = 1, 5 do
      H.settle()
      local res = ask(trusting, "tls-default", { stream = i % 2 == 1 })
      assert.equals(200, res.status)
      assert.is_true(res.complete)
    end
    local stats = mock:stats()
    assert.equals(5, stats.requests)
    assert.equals(1, stats.connections)
  end)
end)
