-- spec/functional/proxy_errors_spec.lua: the real ccproxy binary on the client side of HTTP
-- (bad requests, limits, Expect: 100-continue, chunked bodies, pipelining) and when the
-- upstream fails (down, too slow). Broken mid-answer: broken_answers_spec.lua. A client that
-- goes away: cancel_spec.lua.
local H = require("proxy_harness")
local sh = require("sh")

local MAX_HEADER = 4096
local MAX_BODY = 100000

local CCPROXY_YAML = ([[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
  server:
    max_header_bytes: MAX_HEADER
    max_body_bytes: MAX_BODY
    header_timeout: 1
  upstream:
    connect_timeout: 2
    first_byte_timeout: 1
    idle_timeout: 5
litellm:
  host: 127.0.0.1
  port: 4000
]]):gsub("MAX_HEADER", MAX_HEADER):gsub("MAX_BODY", MAX_BODY)

local function config_yaml(base, closed_port)
  return ([[
model_list:
  - model_name: down-model
    litellm_params:
      model: anthropic/down-model
      api_base: http://127.0.0.1:CLOSED
  - model_name: "claude-*"
    litellm_params:
      model: anthropic/*
      api_base: BASE
]]):gsub("BASE", base):gsub("CLOSED", closed_port)
end

-- Asserts an Anthropic-shaped error body of the given type; returns the message.
local function assert_api_error(res, type_)
  assert.matches("^application/json", res.headers["content-type"] or "")
  local body = H.decode(res.body)
  assert.equals("error", body.type)
  assert.equals(type_, body.error.type)
  assert.is_string(body.error.message)
  assert.is_true(#body.error.message > 0)
  return body.error.message
end

describe("ccproxy's answers to client and upstream failures", function()
  local mock, proxy

  setup(function()
    mock = H.start_mock()
    proxy = H.start_proxy({
      ccproxy_yaml = CCPROXY_YAML,
      config_yaml = config_yaml(mock:base(), sh.free_port()),
    })
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

  describe("the client's request", function()
    it("gets a 404 in Anthropic's error shape for an unknown path", function()
      local res = proxy:request({ method = "GET", path = "/v1/nothing-here" })
      assert.equals(404, res.status)
      local msg = assert_api_error(res, "not_found_error")
      assert.matches("/v1/nothing%-here", msg)
      assert.equals(0, #mock:requests())
    end)

    it("gets a 405 for GET on /v1/messages", function()
      local res = proxy:request({ method = "GET", path = "/v1/messages" })
      assert.equals(405, res.status)
      assert_api_error(res, "invalid_request_error")
      assert.equals(0, #mock:requests())
    end)

    it("gets a 400 for a malformed request line, and the connection is closed", function()
      local conn = H.connect(proxy.port)
      assert(conn:send("this is not http\r\n\r\n"))
      local res = assert(conn:read_response())
      assert.equals(400, res.status)
      assert_api_error(res, "invalid_request_error")
      assert.is_true(conn:wait_closed(2))
      conn:close()
    end)

    it("gets a 400 for a body that is not JSON", function()
      local res = proxy:messages("this is not json")
      assert.equals(400, res.status)
      assert_api_error(res, "invalid_request_error")
      assert.equals(0, #mock:requests())
    end)

    it("gets a 431 for a header block over max_header_bytes, and the connection closes", function()
      local conn = H.connect(proxy.port)
      local raw = H.build_request(proxy.port, {
        method = "POST",
        path = "/v1/messages",
        headers = {
          { "Content-Type", "application/json" },
          { "x-big", ("x"):rep(MAX_HEADER + 100) },
        },
        body = H.encode(H.messages_body()),
      })
      assert(conn:send(raw))
      local res = assert(conn:read_response())
      assert.equals(431, res.status)
      assert_api_error(res, "invalid_request_error")
      assert.is_true(conn:wait_closed(2))
      conn:close()
      assert.equals(0, #mock:requests())
    end)

    it("accepts a header block just under max_header_bytes", function()
      local res = proxy:messages(H.messages_body(), {
        headers = {
          { "Content-Type", "application/json" },
          { "x-big", ("x"):rep(MAX_HEADER - 600) },
        },
      })
      assert.equals(200, res.status)
    end)

    it("gets a 413 when Content-Length is over max_body_bytes, before sending the body", function()
      local conn = H.connect(proxy.port)
      assert(conn:send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        .. "Content-Length: " .. (MAX_BODY + 1) .. "\r\n\r\n"))
      local res = assert(conn:read_response({ timeout = 3 }))
      assert.equals(413, res.status)
      assert_api_error(res, "request_too_large")
      assert.is_true(conn:wait_closed(2))
      conn:close()
      assert.equals(0, #mock:requests())
    end)

    it("gets a 413 for a chunked body (no Content-Length) growing over max_body_bytes", function()
      local conn = H.connect(proxy.port)
      assert(conn:send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        .. "Transfer-Encoding: chunked\r\n\r\n"))
      -- 20 KB chunks until the proxy answers (it must before the body ends).
      local piece = ("a"):rep(20000)
      local res
      for _ = 1, 10 do
        local ok = conn:send(string.format("%x\r\n%s\r\n", #piece, piece))
        if not ok then
          break
        end
        local ready = require("socket").select({ conn.sock }, nil, 0.05)
        if ready and #ready > 0 then
          break
        end
      end
      res = assert(conn:read_response({ timeout = 3 }))
      assert.equals(413, res.status)
      assert_api_error(res, "request_too_large")
      conn:close()
      assert.equals(0, #mock:requests())
    end)

    it("answers Expect: 100-continue with 100, then the response once the body is sent", function()
      local body = H.encode(H.messages_body())
      local conn = H.connect(proxy.port)
      assert(conn:send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        .. "Expect: 100-continue\r\nContent-Length: " .. #body .. "\r\n\r\n"))
      local interim = assert(conn:read_response({ timeout = 2 }))
      assert.equals(100, interim.status)
      assert(conn:send(body))
      local res = assert(conn:read_response())
      assert.equals(200, res.status)
      assert.equals("message", H.decode(res.body).type)
      conn:close()
      local rec = mock:last_request()
      assert.equals(body, rec.body)
      assert.is_nil(H.record_header(rec, "expect"))
    end)

    it("takes a chunked request body and sends it upstream with a Content-Length", function()
      local body = H.encode(H.messages_body({ metadata = { user_id = ("u"):rep(3000) } }))
      local res = proxy:request({
        method = "POST",
        path = "/v1/messages",
        headers = { { "Content-Type", "application/json" } },
        body = body,
        chunked = true,
        chunk_size = 700,
      })
      assert.equals(200, res.status)
      local rec = mock:last_request()
      assert.equals(body, rec.body)
      assert.equals(tostring(#body), H.record_header(rec, "content-length"))
      assert.is_nil(H.record_header(rec, "transfer-encoding"))
    end)

    it("answers two pipelined requests on one connection, in order", function()
      -- The first answer closes its upstream connection (the second request, sent the moment
      -- the first is done, goes on a new one); that must not close the client's connection.
      mock:script({
        { text = "first", delay_ms = 200, headers = { connection = "close" } },
        { text = "second" },
      })
      local conn = H.connect(proxy.port)
      local one = H.build_request(proxy.port, { path = "/v1/messages", json = H.messages_body() })
      local two = H.build_request(proxy.port, {
        path = "/v1/messages",
        json = H.messages_body({ stream = true }),
      })
      assert(conn:send(one .. two))
      local r1 = assert(conn:read_response())
      local r2 = assert(conn:read_response())
      conn:close()
      assert.equals(200, r1.status)
      assert.equals("keep-alive", (r1.headers["connection"] or ""):lower())
      assert.equals("first", H.decode(r1.body).content[1].text)
      assert.equals(200, r2.status)
      assert.is_true(r2.complete)
      assert.equals("message_stop", r2.events[#r2.events].event)
      assert.are_not.equals(r1.headers["x-ccproxy-request-id"], r2.headers["x-ccproxy-request-id"])
      assert.equals(2, #mock:requests())
    end)

    it("gets a 408 when the headers stall past header_timeout; the connection closes", function()
      local conn = H.connect(proxy.port)
      local t0 = H.now()
      assert(conn:send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Ty"))
      local res = assert(conn:read_response({ timeout = 4 }))
      local took = H.now() - t0
      assert.equals(408, res.status)
      assert_api_error(res, "invalid_request_error")
      assert.is_true(took >= 0.9 and took < 3, string.format("answered after %.2f s", took))
      assert.is_true(conn:wait_closed(2))
      conn:close()
    end)

    it("sends a body just under max_body_bytes upstream whole", function()
      local body = H.encode(H.messages_body({ metadata = { user_id = ("z"):rep(MAX_BODY - 500) } }))
      assert.is_true(#body < MAX_BODY)
      local res = proxy:messages(body)
      assert.equals(200, res.status)
      assert.is_true(body == mock:last_request().body)
    end)

    it("closes the connection after the response when the client sent Connection: close", function()
      local conn = H.connect(proxy.port)
      local res = proxy:messages(H.messages_body(), {
        conn = conn,
        headers = { { "Content-Type", "application/json" }, { "Connection", "close" } },
      })
      assert.equals(200, res.status)
      assert.equals("close", res.headers["connection"]:lower())
      assert.is_true(conn:wait_closed(2))
      conn:close()
    end)

    it("streams to an HTTP/1.0 client by closing the connection at the end", function()
      local conn = H.connect(proxy.port)
      local res = proxy:messages(H.messages_body({ stream = true }), {
        conn = conn,
        version = "HTTP/1.0",
      })
      conn:close()
      assert.equals(200, res.status)
      assert.equals("HTTP/1.0", res.version)
      assert.is_nil(res.headers["transfer-encoding"])
      assert.is_true(res.closed)
      assert.equals("message_stop", res.events[#res.events].event)
    end)

    it("puts a request id on its own error responses too", function()
      local res = proxy:request({ method = "GET", path = "/v2/whatever" })
      assert.equals(404, res.status)
      assert.is_string(res.headers["x-ccproxy-request-id"])
    end)

    it("keeps serving a keep-alive connection after an error response", function()
      local conn = H.connect(proxy.port)
      local r1 = proxy:request({ method = "GET", path = "/nope", conn = conn })
      assert.equals(404, r1.status)
      local r2 = proxy:messages(H.messages_body(), { conn = conn })
      assert.equals(200, r2.status)
      conn:close()
    end)
  end)

  describe("a failing upstream", function()
    it("gives 529 overloaded_error when the upstream refuses connections", function()
      local res = proxy:messages(H.messages_body({ model = "down-model" }))
      assert.equals(529, res.status)
      assert_api_error(res, "overloaded_error")
    end)

    it("gives 504 when the upstream sends nothing within first_byte_timeout", function()
      mock:script({ { hang = true } })
      local t0 = H.now()
      local res = proxy:messages(H.messages_body(), { timeout = 5 })
      local took = H.now() - t0
      assert.equals(504, res.status)
      assert_api_error(res, "api_error")
      assert.is_true(took >= 0.9 and took < 3, string.format("answered after %.2f s", took))
      -- The proxy gave up on the upstream request.
      assert.truthy(sh.wait_for(function()
        local rec = mock:last_request()
        return rec and rec.aborted
      end, 2))
    end)

    -- An answer that breaks after its head went out: broken_answers_spec.lua.
    -- A client that goes away (mid-stream and at every other stage): cancel_spec.lua.

    it("keeps serving after all of the above", function()
      local res = proxy:messages(H.messages_body())
      assert.equals(200, res.status)
    end)
  end)
end)
