-- spec/functional/cancel_spec.lua: a client that leaves (closes its socket) at each stage of
-- its request's upstream exchange: while the upstream's name resolves, while connecting, in
-- the TLS handshake, while the request body is written, before the first response byte,
-- mid-stream, while a whole translated answer is held, during a 401 token refresh, while
-- event hooks run, and while its own request is still arriving. After each, the proxy is
-- still running without a sanitizer report, logged the request as client-closed, closed the
-- upstream connection at once (its descriptors are back to what they were), answers a normal
-- request and exits 0 on SIGTERM (with LeakSanitizer, without leaks). And the shutdown: a
-- SIGTERM with streams still running ends the process at the end of the grace.
-- Upstreams that never answer are listening sockets of this process that never accept
-- (H.silent_listener); the others are the mock's steps.
local H = require("proxy_harness")
local sh = require("sh")
local socket = require("socket")

local CONNECT_TIMEOUT = 2 -- seconds; a stalled connect or handshake fails after this

-- ccproxy.yaml: rule_evaluator and model_router, then `extra` (lines to append to the hooks
-- list, and more keys of ccproxy:). opts: grace (default 5), connect (default CONNECT_TIMEOUT).
local function ccproxy_yaml(extra, opts)
  opts = opts or {}
  return (([[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
EXTRA
  server:
    shutdown_grace: GRACE
  upstream:
    connect_timeout: CONNECT
    first_byte_timeout: 20
    idle_timeout: 20
litellm:
  host: 127.0.0.1
  port: 4000
]]):gsub("GRACE", tostring(opts.grace or 5)):gsub("CONNECT", tostring(opts.connect or CONNECT_TIMEOUT))
    :gsub("EXTRA\n", extra or ""))
end

-- Deployments by name: `name` -> api_base (and provider).
local function config_yaml(mock, silent, stall)
  local function entry(name, model, base, more)
    return ("  - model_name: %s\n    litellm_params:\n      model: %s\n      api_base: %s\n%s")
      :format(name, model, base, more or "")
  end
  return "model_list:\n"
    .. entry("via-localhost", "anthropic/claude-sonnet-5-5", mock:base("localhost"))
    .. entry("slow-dns", "anthropic/claude-sonnet-5-5", mock:base("upstream.slow-dns.test"))
    .. entry("stall-connect", "anthropic/claude-sonnet-5-5", stall:base())
    .. entry("silent-tls", "anthropic/claude-sonnet-5-5", silent:base("https"))
    .. entry("silent-http", "anthropic/claude-sonnet-5-5", silent:base())
    .. entry("to-openai", "openai/gpt-mock", mock:base() .. "/v1", "      api_key: spec-key\n")
    .. entry('"claude-*"', "anthropic/*", mock:base())
end

-- Sends a /v1/messages request on a new connection and returns the connection (open).
local function send_request(proxy, body, opts)
  local ok, conn = pcall(H.connect, proxy.port)
  if not ok then
    proxy:check_clean() -- a proxy that died says so
    error(conn, 2)
  end
  local o = { path = "/v1/messages", json = body }
  for k, v in pairs(opts or {}) do
    o[k] = v
  end
  assert(conn:send(H.build_request(proxy.port, o)))
  return conn
end

-- Calls fn until it returns a true value or timeout_s passes; raises `what` on timeout.
local function await(what, fn, timeout_s)
  local v = sh.wait_for(fn, timeout_s or 3)
  assert(v, "timed out waiting for " .. what)
  return v
end

-- The most bytes a connection to/from `port` has queued on `side` ("tx" or "rx").
local function max_queue(port, side, which)
  local m = 0
  for _, q in ipairs(H.tcp_queues(port)) do
    if q.side == side then
      m = math.max(m, q[which])
    end
  end
  return m
end

local mock, silent, stall

-- One mock and two silent listeners serve every test of the file.
setup(function()
  mock = H.start_mock()
  silent = H.silent_listener()
  stall = H.silent_listener({ stall_connect = true })
end)

teardown(function()
  H.cleanup()
  silent:close()
  stall:close()
end)

describe("a client that leaves", function()
  local proxy, fd_base

  local function start(opts)
    opts = opts or {}
    local dir = H.config_dir({ dir = opts.dir, ccproxy_yaml = ccproxy_yaml(opts.extra),
                               config_yaml = config_yaml(mock, silent, stall) })
    proxy = H.start_proxy({ dir = dir, env = opts.env })
    fd_base = proxy:fd_count()
    return proxy
  end

  before_each(function()
    mock:reset(true)
  end)

  after_each(function()
    if proxy then
      proxy:stop()
      proxy = nil
    end
  end)

  -- What every stage must leave behind once the client has gone:
  --   * the request logged as client-closed (with `status` when given);
  --   * the proxy's descriptors back to their count before the request within fds_within_s
  --     (the upstream connection closed at once, not at its timeout), plus `pooled` upstream
  --     connections that ended their exchange cleanly and wait in the pool;
  --   * after quiet_s more (past timeouts a forgotten callback would run at), the proxy
  --     running and its log free of sanitizer reports;
  --   * a normal request answered 200, and SIGTERM ending the process with 0 (LeakSanitizer
  --     reports leaks at that exit).
  local function expect_recovered(opts)
    opts = opts or {}
    local fd_max = fd_base + (opts.pooled or 0)
    local fds = proxy:wait_fds(fd_max, opts.fds_within_s or 1)
    if opts.quiet_s then
      socket.sleep(opts.quiet_s)
    end
    proxy:check_clean()
    local closed = {}
    sh.wait_for(function()
      closed = {}
      for _, e in ipairs(proxy:request_log()) do
        if e.outcome == "client-closed" then
          closed[#closed + 1] = e
        end
      end
      return #closed >= (opts.n or 1)
    end, 3)
    assert.is_true(#closed >= (opts.n or 1), "no request was logged as client-closed; the log:\n"
      .. proxy:log():sub(-1500))
    if opts.status then
      for _, e in ipairs(closed) do
        assert.equal(opts.status, e.status, e.line)
      end
    end
    assert.is_true(fds <= fd_max, string.format("the proxy holds %s descriptors %.1f s after the "
      .. "client left, %d before the request%s (an upstream connection left open?)",
      tostring(fds), opts.fds_within_s or 1, fd_base,
      opts.pooled and (" and " .. opts.pooled .. " kept in the pool") or ""))
    mock:reset(true)
    H.settle()
    local res = proxy:messages(H.messages_body({ stream = false }))
    assert.equal(200, res.status, res.body)
    proxy:check_clean()
    local rc = proxy:stop()
    local report = proxy:sanitizer_report()
    assert.is_nil(report, report)
    assert.equal(0, rc, "exit code on SIGTERM; the end of the log:\n" .. proxy:log():sub(-1500))
    proxy = nil
  end

  -- The mock saw its (one) request's connection closed, before the answer was complete, soon
  -- after the client left.
  local function expect_upstream_closed()
    local rec = sh.wait_for(function()
      local r = mock:requests()[1]
      return r and r.aborted and r
    end, 1.2)
    assert.truthy(rec, "the upstream request went on after the client left")
    assert.is_false(rec.completed)
  end

  -- The proxy with spec/support/c/slow_resolver.c preloaded: names under .slow-dns.test take
  -- `ms` to resolve (to 127.0.0.1), every other name resolves as usual.
  local function slow_dns_env(ms)
    local resolver = assert(os.getenv("CCPROXY_SLOW_RESOLVER"),
      "CCPROXY_SLOW_RESOLVER names the test resolver library (spec/CMakeLists.txt sets it)")
    local asan = os.getenv("ASAN_OPTIONS")
    return { LD_PRELOAD = resolver, CCPROXY_TEST_DNS_DELAY_MS = tostring(ms),
             -- the preloaded library comes before the sanitizers' runtime
             ASAN_OPTIONS = (asan and asan ~= "" and asan .. ":" or "") .. "verify_asan_link_order=0" }
  end

  it("while the upstream's name resolves", function()
    start({ env = slow_dns_env(1000) })
    local conn = send_request(proxy, H.messages_body({ model = "slow-dns" }))
    socket.sleep(0.3) -- the resolver is still busy: it answers after 1 s
    conn:close()
    -- Past the moment the name resolves: a forgotten connection would connect then, and send
    -- the request.
    socket.sleep(1.2)
    proxy:check_clean()
    assert.equal(0, #mock:requests(), "the request reached the upstream after its client left")
    expect_recovered({ status = 499 })
  end)

  it("right after sending, while localhost resolves (leaving 0-4 ms after the request)", function()
    start()
    -- The resolver runs on libuv's threadpool right after the request is dispatched; leaving
    -- 0-4 ms after sending lands in it, or just before or after, varying from run to run.
    local n = 10
    for i = 1, n do
      local conn = send_request(proxy, H.messages_body({ model = "via-localhost" }))
      socket.sleep(((i - 1) % 5) / 1000)
      conn:close()
    end
    -- No request may stay in flight: every one is logged.
    local lines = proxy:wait_log(" INFO  r%d+ POST /v1/messages ", 3, n)
    proxy:check_clean()
    assert.equal(n, #lines, proxy:log():sub(-1500))
    -- A request the upstream answered before the client's close was noticed ends cleanly, and
    -- its connection waits in the pool (one at most: the requests went one after another).
    local completed = 0
    for _, e in ipairs(proxy:request_log()) do
      if not e.outcome then completed = completed + 1 end
    end
    expect_recovered({ quiet_s = 0.5, pooled = completed > 0 and 1 or 0,
                       n = n - completed > 0 and 1 or 0 })
  end)

  -- Sends a request for `model`, waits until `stalled()` says the connection to it is stuck
  -- (`what`), leaves, and expects the recovery, past the connect timeout too: a connect or
  -- handshake the proxy did not cancel reports its failure then.
  local function leave_while_connecting(model, what, stalled)
    start()
    local conn = send_request(proxy, H.messages_body({ model = model }))
    await(what, stalled, 2)
    socket.sleep(0.1)
    local left_at = H.now()
    conn:close()
    expect_recovered({ status = 499, fds_within_s = 0.8,
                       quiet_s = math.max(0, CONNECT_TIMEOUT + 0.7 - (H.now() - left_at)) })
  end

  it("while the TCP connect is in progress", function()
    -- Connecting: the upstream socket is one more descriptor than the client's connection.
    leave_while_connecting("stall-connect", "the proxy to open its upstream socket", function()
      return proxy:fd_count() >= fd_base + 2
    end)
  end)

  it("during the TLS handshake (the server never answers the ClientHello)", function()
    -- The ClientHello sits unread in the silent listener's queue.
    leave_while_connecting("silent-tls", "the ClientHello to reach the silent server", function()
      return max_queue(silent.port, "local", "rx") > 0
    end)
  end)

  it("while the request body is being written to an upstream that does not read", function()
    start()
    -- 12 MiB: far more than the socket buffers of both ends hold.
    local big = H.messages_body({ model = "silent-http", messages = {
      { role = "user", content = string.rep("abcdefghijklmnop", 12 * 65536) } } })
    local conn = send_request(proxy, big)
    await("the proxy to be stuck writing the body", function()
      -- (MiBs in the proxy's send queue; the unaccepted socket's own buffer is smaller)
      return max_queue(silent.port, "remote", "tx") > 1024 * 1024
        and max_queue(silent.port, "local", "rx") > 0
    end, 10)
    conn:close()
    expect_recovered({ status = 499, fds_within_s = 1, quiet_s = 0.3 })
  end)

  it("after the request is written, before the first response byte", function()
    start()
    mock:script({ { hang = true } })
    local conn = send_request(proxy, H.messages_body({ stream = true }))
    await("the mock to receive the request", function()
      local r = mock:requests()[1]
      return r and #r.body > 0
    end)
    socket.sleep(0.1)
    conn:close()
    expect_upstream_closed()
    expect_recovered({ status = 499 })
  end)

  it("mid-stream, with part of the events relayed", function()
    start()
    mock:script({ { text = "one two three four five six seven eight", event_delay_ms = 150 } })
    local conn = send_request(proxy, H.messages_body({ stream = true }))
    local res = conn:read_response({ timeout = 5, on_event = function(_, r)
      return #r.events >= 3
    end })
    assert.equal(200, res.status)
    assert.is_true(res.stopped)
    conn:close()
    expect_upstream_closed()
    expect_recovered({ status = 200 })
  end)

  it("while a whole translated answer is held until its end (OpenAI, not streamed)", function()
    start()
    -- The head and the start of the answer come; the rest never does.
    mock:script({ { dialect = "openai", hang_after_bytes = 40 } })
    local conn = send_request(proxy, H.messages_body({ model = "to-openai", stream = false }))
    await("the mock to receive the request", function()
      return mock:requests()[1]
    end)
    socket.sleep(0.3)
    -- The client has seen nothing: the head waits for the end of the answer.
    local got = conn:fill(H.now() + 0.05)
    assert.is_false(got, "the client got bytes of a held answer: " .. conn.buf)
    conn:close()
    expect_upstream_closed()
    -- the client got no head: its log line says so
    expect_recovered({ status = 499 })
  end)

  it("during the token refresh that follows a 401", function()
    -- The first run (at start) prints tok-1 at once; the next one, the refresh, takes 1 s.
    local dir = sh.tmpdir()
    local counter = dir .. "/n"
    sh.write_file(counter, "0")
    local cmd = ("n=$(($(cat %s)+1)); echo $n > %s; [ $n -gt 1 ] && sleep 1; echo tok-$n")
      :format(counter, counter)
    local extra = ([[
    - ccproxy.hooks.forward_oauth
  oat_timeout: 3
  oat_sources:
    anthropic: "COMMAND"
]]):gsub("COMMAND", (cmd:gsub("\\", "\\\\"):gsub('"', '\\"')))
    start({ extra = extra, dir = dir })
    mock:script({ { status = 401, error = { type = "authentication_error",
                                            message = "OAuth token has expired" } } })
    local conn = send_request(proxy, H.messages_body({ stream = false }))
    await("the refresh to start", function()
      return sh.read_file(counter) == "2\n"
    end)
    conn:close()
    -- The refresh ends 1 s after it began; nothing may be retried for a client that left.
    socket.sleep(1.3)
    proxy:check_clean()
    assert.equal(1, #mock:requests(), "the request was retried after its client left")
    -- The 401 itself ended cleanly: its connection may wait in the pool.
    expect_recovered({ status = 499, pooled = 1 })
  end)

  it("while event hooks run on a stream", function()
    local dir = sh.tmpdir()
    sh.run({ "mkdir", "-p", dir .. "/hooks" })
    -- Each event costs the hook ~20 ms, so the client's close arrives while hooks are busy.
    sh.write_file(dir .. "/hooks/slow_events.lua", [[
return {
  event = function(ev, req)
    local t = os.clock() + 0.02
    while os.clock() < t do end
    req.ctx.events = (req.ctx.events or 0) + 1
  end,
  done = function(req, res)
    req:log("info", string.format("done-stage %d %d %s", res.status, req.ctx.events or 0,
      tostring(res.outcome)))
  end,
}
]])
    start({ extra = "    - slow_events\n", dir = dir })
    mock:script({ { text = "one two three four five six seven eight nine ten",
                    event_delay_ms = 30 } })
    local conn = send_request(proxy, H.messages_body({ stream = true }))
    local res = conn:read_response({ timeout = 5, on_event = function(_, r)
      return #r.events >= 2
    end })
    assert.equal(200, res.status)
    conn:close()
    local done = sh.wait_for(function()
      return proxy:log():match("(r%d+ done%-stage [^\n]*)")
    end, 3)
    assert.matches("^r%d+ done%-stage 200 %d+ client%-closed$", done or "(the done stage did not run)")
    expect_recovered({ status = 200 })
  end)

  it("while its own request is still arriving", function()
    start()
    -- A body that stops short of its Content-Length, then a chunked one that stops mid-way.
    local conn = H.connect(proxy.port)
    local body = H.encode(H.messages_body({ messages = { { role = "user",
      content = string.rep("x", 100000) } } }))
    local req = H.build_request(proxy.port, { path = "/v1/messages", body = body,
      headers = { { "Content-Type", "application/json" } } })
    assert(conn:send(req:sub(1, #req - 60000)))
    socket.sleep(0.2)
    conn:close()
    conn = H.connect(proxy.port)
    req = H.build_request(proxy.port, { path = "/v1/messages", body = body, chunked = true,
      headers = { { "Content-Type", "application/json" } } })
    assert(conn:send(req:sub(1, 30000)))
    socket.sleep(0.2)
    conn:close()
    assert.equal(fd_base, proxy:wait_fds(fd_base, 1))
    proxy:check_clean()
    assert.equal(0, #mock:requests())
    -- No exchange began, so no request line: only the recovery checks that do not need one.
    local res = proxy:messages(H.messages_body({ stream = false }))
    assert.equal(200, res.status, res.body)
    proxy:check_clean()
    assert.equal(0, proxy:stop())
    assert.is_nil(proxy:sanitizer_report())
    proxy = nil
  end)
end)

describe("SIGTERM with requests still in flight", function()
  local GRACE = 1

  before_each(function()
    mock:reset(true)
  end)

  local function start(connect_timeout)
    local yaml = ccproxy_yaml(nil, { grace = GRACE, connect = connect_timeout })
    local models = H.claude_config(mock:base()) .. ([[
  - model_name: stall-connect
    litellm_params:
      model: anthropic/claude-sonnet-5-5
      api_base: BASE
]]):gsub("BASE", stall:base())
    return H.start_proxy({ ccproxy_yaml = yaml, config_yaml = models })
  end

  -- TERM, then: the process ends within the grace + 1 s, with 0 and no sanitizer report.
  local function term_and_expect_exit(proxy)
    local t0 = H.now()
    assert(proxy.proc:kill("TERM"))
    local rc = proxy.proc:wait(GRACE + 4)
    local took = H.now() - t0
    local report = proxy:sanitizer_report()
    assert.is_nil(report, report)
    assert.truthy(rc, "still running 4 s after the grace ended")
    assert.is_true(took <= GRACE + 1, string.format("exited %.2f s after SIGTERM; the grace is %d s",
      took, GRACE))
    assert.equal(0, rc, proxy:log():sub(-1500))
    return took
  end

  it("ends at the end of the grace while streams keep running, closing them", function()
    local proxy = start(10)
    local words = {}
    for i = 1, 30 do
      words[i] = "w" .. i
    end
    local steps = {}
    for i = 1, 3 do
      steps[i] = { text = table.concat(words, " "), event_delay_ms = 400 } -- ~15 s each
    end
    mock:script(steps)
    local conns = {}
    for i = 1, 3 do
      conns[i] = send_request(proxy, H.messages_body({ stream = true }))
      local res = conns[i]:read_response({ timeout = 5, on_event = function(_, r)
        return #r.events >= 1
      end })
      assert.equal(200, res.status)
    end
    local took = term_and_expect_exit(proxy)
    for i, conn in ipairs(conns) do
      assert.is_true(conn:wait_closed(1), "stream " .. i .. " was not closed")
      assert.is_nil(conn.buf:find("message_stop", 1, true), "stream " .. i .. " ended normally")
      conn:close()
    end
    assert.is_true(took >= GRACE - 0.2, string.format("exited %.2f s after SIGTERM, before the "
      .. "grace ended", took))
    assert.matches("still busy after the shutdown grace", proxy:log())
    assert.equal(3, #proxy:request_log(), "every stream gets its log line:\n" .. proxy:log())
    -- The mock notices the closes on its own loop turn: give it a moment.
    local recs = sh.wait_for(function()
      local all = mock:requests()
      for i = 1, 3 do
        if not (all[i] and all[i].aborted) then return nil end
      end
      return all
    end, 1) or mock:requests()
    for i = 1, 3 do
      assert.is_true(recs[i].aborted, "upstream stream " .. i .. " was not closed: "
        .. H.encode({ completed = recs[i].completed, status = recs[i].status, n = #recs }))
    end
  end)

  it("ends at the end of the grace while an upstream connect is still in progress", function()
    -- The connect timeout is beyond the grace: only cancelling the connect lets the loop end.
    local proxy = start(GRACE + 3)
    local conn = send_request(proxy, H.messages_body({ model = "stall-connect" }))
    socket.sleep(0.3)
    term_and_expect_exit(proxy)
    assert.is_true(conn:wait_closed(1), "the client's connection was not closed")
    conn:close()
    assert.equal(1, #proxy:request_log(), "the request gets its log line:\n" .. proxy:log())
  end)
end)
