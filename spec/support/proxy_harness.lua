-- spec/support/proxy_harness.lua: what the functional specs need to drive the real ccproxy
-- binary against the mock Anthropic upstream (spec/support/mock_upstream.mjs) on loopback:
--   * processes: the mock and the proxy in the background, their exit codes, cleanup of
--     everything still running (call H.cleanup() from teardown / after_each);
--   * config dirs written from YAML text into temp dirs;
--   * a small HTTP/1.1 client over luasocket that sends raw bytes and reads responses
--     incrementally, recording when each piece, and each SSE event, arrived; it decodes
--     chunked bodies and keeps leftover bytes for the next (pipelined) response.
--
--   local H = require("proxy_harness")
--   local mock = H.start_mock()
--   local proxy = H.start_proxy({ ccproxy_yaml = "...", config_yaml = "..." })
--   local res = H.request(proxy.port, { path = "/v1/messages", json = { model = "x" } })
--   H.cleanup()
local socket = require("socket")
local json = require("dkjson")
local sh = require("sh")

local H = {}

H.json = json
H.now = socket.gettime

local spec_dir = os.getenv("CCPROXY_SPEC_DIR") or "spec"
H.spec_dir = spec_dir
H.bin = os.getenv("CCPROXY_BIN") or "ccproxy"

--- The path of a file under spec/ (e.g. "fixtures/claude-code/a_say_hi/01-messages.body.json").
function H.spec_path(rel)
  return spec_dir .. "/" .. rel
end

--- Decodes JSON text; raises with the text when it is not JSON.
function H.decode(text)
  local v, _, err = json.decode(text or "", 1, json.null)
  if err or v == nil then
    error("not JSON (" .. tostring(err) .. "): " .. tostring(text):sub(1, 300), 2)
  end
  return v
end

--- Encodes a Lua value as JSON (H.object() marks an empty table as {}).
function H.encode(v)
  return json.encode(v)
end

--- An empty JSON object (a plain {} encodes as []).
function H.object(t)
  return setmetatable(t or {}, { __jsontype = "object" })
end

--------------------------------------------------------------------------------------------
-- Processes
--------------------------------------------------------------------------------------------

local procs = {} -- every process started here and not yet stopped

-- The `env` prefix of a command: NAME=value sets, NAME=false unsets.
local function env_prefix(env)
  if not env or not next(env) then
    return ""
  end
  local names = {}
  for k in pairs(env) do
    names[#names + 1] = k
  end
  table.sort(names)
  local parts = { "env" }
  for _, k in ipairs(names) do
    if env[k] == false then
      parts[#parts + 1] = "-u " .. sh.quote(k)
    end
  end
  for _, k in ipairs(names) do
    if env[k] ~= false then
      parts[#parts + 1] = sh.quote(k .. "=" .. tostring(env[k]))
    end
  end
  return table.concat(parts, " ") .. " "
end

--- Starts argv in the background. Unlike sh.spawn it also records the exit code, so
--- proc:wait() can return it. opts: env, cwd. Returns a proc { pid, stdout, stderr }.
function H.spawn(argv, opts)
  opts = opts or {}
  local dir = sh.tmpdir()
  local p = {
    stdout = dir .. "/stdout",
    stderr = dir .. "/stderr",
    rc_file = dir .. "/rc",
    argv = argv,
  }
  local pid_file = dir .. "/pid"
  local cmd = env_prefix(opts.env) .. sh.join(argv)
  if opts.cwd then
    cmd = "cd " .. sh.quote(opts.cwd) .. " && " .. cmd
  end
  -- The inner subshell runs the program in the background, notes its pid, waits for it and
  -- writes its exit status; the outer & detaches the whole group from this process.
  local line = "( (" .. cmd .. ") </dev/null >" .. sh.quote(p.stdout) .. " 2>" .. sh.quote(p.stderr)
    .. " & echo $! >" .. sh.quote(pid_file) .. "; wait $!; echo $? >" .. sh.quote(p.rc_file)
    .. ".tmp; mv " .. sh.quote(p.rc_file .. ".tmp") .. " " .. sh.quote(p.rc_file)
    .. " ) >/dev/null 2>&1 &"
  os.execute(line)
  local pid = sh.wait_for(function()
    local s = sh.read_file(pid_file)
    return s and tonumber(s:match("%d+"))
  end, 5)
  assert(pid, "could not start " .. sh.join(argv))
  p.pid = pid
  procs[#procs + 1] = p
  return setmetatable(p, { __index = H.Proc })
end

H.Proc = {}

--- True while the process runs.
function H.Proc.alive(p)
  return sh.read_file(p.rc_file) == nil and sh.alive(p.pid)
end

--- Waits up to timeout_s (default 5) for the process to exit; its exit code (128+N for a
--- signal) or nil when it still runs.
function H.Proc.wait(p, timeout_s)
  local rc = sh.wait_for(function()
    local s = sh.read_file(p.rc_file)
    return s and tonumber(s:match("%d+"))
  end, timeout_s or 5)
  if rc then
    p.exited = true
  end
  return rc
end

--- Sends a signal (default TERM).
function H.Proc.kill(p, sig)
  return sh.kill(p.pid, sig or "TERM")
end

--- TERM, then KILL when it has not exited within timeout_s (default 3). Returns the exit code.
function H.Proc.stop(p, timeout_s)
  if p.exited then
    return p:wait(0)
  end
  if p:alive() then
    p:kill("TERM")
  end
  local rc = p:wait(timeout_s or 3)
  if not rc then
    p:kill("KILL")
    rc = p:wait(2)
  end
  return rc
end

function H.Proc.stderr_text(p)
  return sh.read_file(p.stderr) or ""
end

function H.Proc.stdout_text(p)
  return sh.read_file(p.stdout) or ""
end

--- Stops every process started through this module that is still running: TERM, then
--- KILL for those still there after 3 s.
function H.cleanup()
  local list = procs
  procs = {}
  local running = {}
  for _, p in ipairs(list) do
    if sh.alive(p.pid) then
      p:kill("TERM")
      running[#running + 1] = p
    end
  end
  local function all_gone()
    for _, p in ipairs(running) do
      if sh.alive(p.pid) then
        return false
      end
    end
    return true
  end
  if not sh.wait_for(all_gone, 3) then
    for _, p in ipairs(running) do
      if sh.alive(p.pid) then
        p:kill("KILL")
      end
    end
    sh.wait_for(all_gone, 2)
  end
end

-- Stops what is still running when the Lua state closes (a spec file that ended without
-- its teardown, an error in setup).
local sentinel = newproxy and newproxy(true)
if sentinel then
  getmetatable(sentinel).__gc = function()
    H.cleanup()
  end
  H._sentinel = sentinel
end

--------------------------------------------------------------------------------------------
-- HTTP client
--------------------------------------------------------------------------------------------

local Conn = {}
Conn.__index = Conn
H.Conn = Conn

-- recv(2) on a socket select() found readable, through the FFI: luasocket reports a reset as
-- "closed", and the specs tell a FIN from a RST. Returns data, or nil and "closed" (a FIN),
-- "connection reset by peer" (a RST), "timeout" (nothing after all) or the errno.
local ffi = require("ffi")
ffi.cdef([[ long recv(int fd, void *buf, size_t n, int flags); ]])
local recv_buf, recv_cap = nil, 0
local function raw_recv(sock, max)
  if recv_cap < max then
    recv_buf, recv_cap = ffi.new("char[?]", max), max
  end
  local n = tonumber(ffi.C.recv(sock:getfd(), recv_buf, max, 0x40 --[[MSG_DONTWAIT]]))
  if n > 0 then
    return ffi.string(recv_buf, n)
  elseif n == 0 then
    return nil, "closed"
  end
  local e = ffi.errno()
  if e == 11 then return nil, "timeout" end -- EAGAIN
  if e == 104 then return nil, "connection reset by peer" end
  return nil, "errno " .. e
end

--- Opens a TCP connection to 127.0.0.1:port. Raises when it cannot.
function H.connect(port, host)
  local s = socket.tcp()
  s:settimeout(5)
  local ok, err = s:connect(host or "127.0.0.1", port)
  if not ok then
    s:close()
    error("cannot connect to " .. (host or "127.0.0.1") .. ":" .. tostring(port) .. ": " .. err, 2)
  end
  s:setoption("tcp-nodelay", true)
  return setmetatable({ sock = s, buf = "", eof = false, port = port }, Conn)
end

--- Sends raw bytes. Returns true, or nil and the error ("closed", ...).
function Conn:send(data)
  self.sock:settimeout(5)
  local i = 1
  while i <= #data do
    local n, err, last = self.sock:send(data, i)
    if not n then
      if err == "timeout" and last and last >= i then
        i = last + 1
      else
        return nil, err
      end
    else
      i = n + 1
    end
  end
  return true
end

function Conn:close()
  if not self.closed then
    self.closed = true
    self.sock:close()
  end
end

--- Waits until `deadline` for more bytes and appends them to self.buf. Returns true when
--- bytes came; false and "timeout" or "closed" otherwise. max: the most bytes to take.
function Conn:fill(deadline, max)
  if self.eof then
    return false, "closed"
  end
  local left = deadline - socket.gettime()
  if left <= 0 then
    return false, "timeout"
  end
  local ready = socket.select({ self.sock }, nil, left)
  if not ready or #ready == 0 then
    return false, "timeout"
  end
  local data, err = raw_recv(self.sock, max or 65536)
  if err == "closed" or (err and err ~= "timeout") then
    self.eof = true
    self.eof_reason = err -- "closed" (a FIN) or "connection reset by peer" (a RST)
  end
  if data and #data > 0 then
    self.last_t = socket.gettime()
    self.buf = self.buf .. data
    return true
  end
  return false, self.eof and "closed" or "timeout"
end

--- Takes n bytes from the front of the buffer.
function Conn:take(n)
  local s = self.buf:sub(1, n)
  self.buf = self.buf:sub(n + 1)
  return s
end

--- True when the peer closes the connection within timeout_s (default 2); bytes that arrive
--- meanwhile are kept in self.buf.
function Conn:wait_closed(timeout_s)
  local deadline = socket.gettime() + (timeout_s or 2)
  while true do
    local ok, err = self:fill(deadline)
    if not ok then
      return err == "closed"
    end
  end
end

-- One SSE event block (without its blank line) as { event, data, t, raw }.
local function parse_event(block, t)
  local ev = { t = t, raw = block }
  local datas = {}
  for line in (block .. "\n"):gmatch("([^\n]*)\n") do
    if line:sub(-1) == "\r" then
      line = line:sub(1, -2)
    end
    local colon = line:find(":", 1, true)
    if colon then
      local k, v = line:sub(1, colon - 1), line:sub(colon + 1)
      if v:sub(1, 1) == " " then
        v = v:sub(2)
      end
      if k == "event" then
        ev.event = v
      elseif k == "data" then
        datas[#datas + 1] = v
      end
    end
  end
  ev.data = table.concat(datas, "\n")
  return ev
end

-- Parses the SSE events completed by `data` (arrived at `t`) into res.events; calls
-- opts.on_event(ev, res) for each. Returns true when on_event asked to stop. Only the new
-- bytes are searched for the blank line, so a multi-megabyte event costs linear time.
local function feed_sse(res, data, t, opts)
  while #data > 0 do
    local tail = res.sse_tail
    local window = tail .. data
    local _, b = window:find("\n\r?\n")
    if not b then
      res.sse_pending[#res.sse_pending + 1] = data
      res.sse_tail = window:sub(-3)
      return false
    end
    local cut = b - #tail -- bytes of `data` up to the end of the blank line
    res.sse_pending[#res.sse_pending + 1] = data:sub(1, cut)
    data = data:sub(cut + 1)
    local block = table.concat(res.sse_pending)
    res.sse_pending, res.sse_tail = {}, ""
    local keep = #block
    while keep > 0 and (block:byte(keep) == 10 or block:byte(keep) == 13) do
      keep = keep - 1
    end
    local ev = parse_event(block:sub(1, keep), t)
    res.events[#res.events + 1] = ev
    if opts.on_event and opts.on_event(ev, res) then
      return true
    end
  end
  return false
end

-- Hands body bytes to the response: keeps them, times them, parses SSE. True to stop.
local function deliver(res, data, t, opts)
  if #data == 0 then
    return false
  end
  res.parts[#res.parts + 1] = data
  res.body_bytes = res.body_bytes + #data
  res.t_first_body = res.t_first_body or t
  res.t_last_body = t
  if opts.on_data and opts.on_data(data, t, res) then
    return true
  end
  if res.sse then
    return feed_sse(res, data, t, opts)
  end
  return false
end

-- Parses a response head (status line and fields, without the blank line) into res.
local function parse_head(res, head)
  local lines = {}
  for line in (head .. "\r\n"):gmatch("(.-)\r\n") do
    lines[#lines + 1] = line
  end
  res.status_line = lines[1]
  local version, status, reason = lines[1]:match("^(HTTP/%d%.%d) (%d%d%d) ?(.*)$")
  if not version then
    error("malformed status line: " .. tostring(lines[1]), 0)
  end
  res.version, res.status, res.reason = version, tonumber(status), reason
  for i = 2, #lines do
    local name, value = lines[i]:match("^([^:]+):%s*(.-)%s*$")
    if name then
      res.header_list[#res.header_list + 1] = { name, value }
      local k = name:lower()
      if res.headers[k] then
        res.headers[k] = res.headers[k] .. ", " .. value
      else
        res.headers[k] = value
      end
    end
  end
end

--- Reads the next response (a 1xx interim one counts as a response). opts:
---   timeout    seconds for the whole response (default 5)
---   method     "HEAD" when the request was HEAD (no body)
---   on_event   fn(ev, res) for each SSE event ({event, data, t}); true stops reading
---   on_data    fn(bytes, t, res) for each body piece; true stops reading
---   read_size  the most bytes per read (default 65536)
---   read_delay seconds to sleep between reads (a slow reader)
--- Returns res { status, reason, version, headers (lower-case names), header_list (wire
--- order), body, events, complete (framing ended), closed (peer closed), stopped, error,
--- t_start, t_head, t_first_body, t_last_body, t_end }. On a missing head: nil, why, res.
function Conn:read_response(opts)
  opts = opts or {}
  local t_start = socket.gettime()
  local deadline = t_start + (opts.timeout or 5)
  local res = {
    headers = {},
    header_list = {},
    events = {},
    parts = {},
    body_bytes = 0,
    sse_pending = {},
    sse_tail = "",
    t_start = opts.t_start or t_start,
    complete = false,
  }
  local function wait_more()
    if opts.read_delay then
      socket.sleep(opts.read_delay)
    end
    local ok, err = self:fill(deadline, opts.read_size)
    if not ok then
      res.error = err
      res.closed = err == "closed"
    end
    return ok
  end
  local function finish()
    res.body = table.concat(res.parts)
    res.parts, res.sse_pending = nil, nil
    res.t_end = socket.gettime()
    return res
  end

  -- The head.
  while true do
    local a = self.buf:find("\r\n\r\n", 1, true)
    if a then
      parse_head(res, self.buf:sub(1, a - 1))
      self.buf = self.buf:sub(a + 4)
      res.t_head = self.last_t or socket.gettime()
      break
    end
    if not wait_more() then
      res.raw = self.buf
      return nil, "no response head (" .. tostring(res.error) .. "): " .. self.buf:sub(1, 200), res
    end
  end
  res.sse = (res.headers["content-type"] or ""):find("text/event-stream", 1, true) ~= nil

  -- The body, framed by status, chunked encoding, content-length or the close.
  if res.status < 200 or res.status == 204 or res.status == 304 or opts.method == "HEAD" then
    res.complete = true
    return finish()
  end
  local te = (res.headers["transfer-encoding"] or ""):lower()
  local cl = tonumber(res.headers["content-length"])
  if te:find("chunked", 1, true) then
    while true do
      local a, b = self.buf:find("\r\n", 1, true)
      if a then
        local size = tonumber(self.buf:sub(1, a - 1):match("^%s*(%x+)"), 16)
        if not size then
          res.error = "bad chunk size line: " .. self.buf:sub(1, a - 1)
          return finish()
        end
        self.buf = self.buf:sub(b + 1)
        res.chunk_count = (res.chunk_count or 0) + 1
        if size == 0 then
          -- Trailers (none expected) and the final CRLF.
          while true do
            if self.buf:sub(1, 2) == "\r\n" then
              self.buf = self.buf:sub(3)
              break
            end
            local e = self.buf:find("\r\n\r\n", 1, true)
            if e then
              self.buf = self.buf:sub(e + 4)
              break
            end
            if not wait_more() then
              return finish()
            end
          end
          res.complete = true
          return finish()
        end
        local left = size
        while left > 0 do
          if #self.buf == 0 and not wait_more() then
            return finish()
          end
          local piece = self:take(left)
          left = left - #piece
          if deliver(res, piece, self.last_t, opts) then
            res.stopped = true
            return finish()
          end
        end
        while #self.buf < 2 do
          if not wait_more() then
            return finish()
          end
        end
        if self.buf:sub(1, 2) ~= "\r\n" then
          res.error = "chunk not followed by CRLF"
          return finish()
        end
        self.buf = self.buf:sub(3)
      elseif not wait_more() then
        return finish()
      end
    end
  elseif cl then
    local left = cl
    while left > 0 do
      if #self.buf == 0 and not wait_more() then
        return finish()
      end
      local piece = self:take(left)
      left = left - #piece
      if deliver(res, piece, self.last_t, opts) then
        res.stopped = true
        return finish()
      end
    end
    res.complete = true
    return finish()
  else
    while true do
      if #self.buf > 0 then
        if deliver(res, self:take(#self.buf), self.last_t, opts) then
          res.stopped = true
          return finish()
        end
      end
      if not wait_more() then
        res.complete = res.closed
        return finish()
      end
    end
  end
end

--- The raw bytes of a request. opts: method (default POST when there is a body, else GET),
--- path (default "/"), headers (a list of {name, value} in wire order, or a map), body (a
--- string) or json (a value to encode), host (default "127.0.0.1:<port>"; false for none),
--- chunked (send the body in chunked encoding), no_length (no Content-Length).
function H.build_request(port, opts)
  local body = opts.body
  if opts.json ~= nil then
    body = H.encode(opts.json)
  end
  local method = opts.method or (body and "POST" or "GET")
  local lines = { method .. " " .. (opts.path or "/") .. " " .. (opts.version or "HTTP/1.1") }
  local names = {}
  if opts.host ~= false then
    lines[#lines + 1] = "Host: " .. (opts.host or ("127.0.0.1:" .. tostring(port)))
  end
  local hdrs = opts.headers or {}
  if hdrs[1] then
    for _, kv in ipairs(hdrs) do
      lines[#lines + 1] = kv[1] .. ": " .. kv[2]
      names[kv[1]:lower()] = true
    end
  else
    local keys = {}
    for k in pairs(hdrs) do
      keys[#keys + 1] = k
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
      lines[#lines + 1] = k .. ": " .. hdrs[k]
      names[k:lower()] = true
    end
  end
  if body and opts.json ~= nil and not names["content-type"] then
    lines[#lines + 1] = "Content-Type: application/json"
  end
  local payload = body or ""
  if opts.chunked then
    lines[#lines + 1] = "Transfer-Encoding: chunked"
    payload = H.chunk(body or "", opts.chunk_size or 1000)
  elseif body and not opts.no_length and not names["content-length"] then
    lines[#lines + 1] = "Content-Length: " .. #body
  end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. payload
end

--- `s` in chunked encoding, in pieces of `size` bytes, with the last chunk.
function H.chunk(s, size)
  local out = {}
  local i = 1
  while i <= #s do
    local piece = s:sub(i, i + size - 1)
    out[#out + 1] = string.format("%x\r\n%s\r\n", #piece, piece)
    i = i + size
  end
  out[#out + 1] = "0\r\n\r\n"
  return table.concat(out)
end

--- One request and its response on a new connection (closed afterwards), or on opts.conn
--- (left open). opts as for H.build_request and Conn:read_response. Raises when no response
--- head arrives. res.conn is the connection used.
function H.request(port, opts)
  opts = opts or {}
  local conn = opts.conn or H.connect(port)
  local t0 = socket.gettime()
  assert(conn:send(H.build_request(port, opts)))
  opts.t_start = t0
  local res, why = conn:read_response(opts)
  if not opts.conn then
    conn:close()
  end
  if not res then
    error("request " .. tostring(opts.path) .. " to port " .. tostring(port) .. ": " .. why, 2)
  end
  res.conn = conn
  return res
end

--- The response body decoded as JSON.
function H.body_json(res)
  return H.decode(res.body)
end

--- A Claude request body (a Lua table) with the given extra fields.
function H.messages_body(fields)
  local b = {
    model = "claude-sonnet-5-5",
    max_tokens = 64,
    messages = { { role = "user", content = "hello" } },
  }
  for k, v in pairs(fields or {}) do
    b[k] = v
  end
  return b
end

--------------------------------------------------------------------------------------------
-- The mock upstream
--------------------------------------------------------------------------------------------

local Mock = {}
Mock.__index = Mock
H.Mock = Mock

local node_control_script = [[
const [, method, url, body] = process.argv;
const mod = url.startsWith('https:') ? require('https') : require('http');
const req = mod.request(url, { method, headers: { 'content-type': 'application/json' } }, (res) => {
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => {
    process.stdout.write(JSON.stringify({ status: res.statusCode,
      body: Buffer.concat(chunks).toString('utf8') }));
  });
});
req.on('error', (e) => { process.stderr.write(String(e)); process.exit(1); });
req.end(body || '');
]]

--- Starts the mock. opts.tls = { cert = path, key = path, ca = path } serves HTTPS (the
--- control API then goes through a node one-liner trusting opts.tls.ca). Raises when the
--- mock does not come up within 5 s.
function H.start_mock(opts)
  opts = opts or {}
  local argv = { "node", H.spec_path("support/mock_upstream.mjs"), "--port", "0" }
  if opts.tls then
    argv[#argv + 1] = "--tls-cert"
    argv[#argv + 1] = opts.tls.cert
    argv[#argv + 1] = "--tls-key"
    argv[#argv + 1] = opts.tls.key
  end
  local p = H.spawn(argv)
  local port = sh.wait_for(function()
    local out = p:stdout_text()
    return tonumber(out:match('"port":(%d+)'))
  end, 5)
  if not port then
    p:stop()
    error("the mock upstream did not start: " .. p:stderr_text(), 2)
  end
  return setmetatable({ proc = p, pid = p.pid, port = port, tls = opts.tls }, Mock)
end

--- The mock's base URL as a deployment's api_base names it.
function Mock:base(host)
  return (self.tls and "https://" or "http://") .. (host or "127.0.0.1") .. ":" .. self.port
end

--- One control request; returns the decoded JSON answer. `value` is encoded as JSON, unless
--- it is a string (sent as it is: JSON text).
function Mock:control(method, path, value)
  local body = value
  if type(value) ~= "string" and value ~= nil then
    body = H.encode(value)
  end
  if self.tls then
    local r = sh.run({ "node", "-e", node_control_script, method,
      "https://127.0.0.1:" .. self.port .. path, body or "" },
      { env = { NODE_EXTRA_CA_CERTS = self.tls.ca }, timeout = 10 })
    assert(r.code == 0, "mock control " .. path .. " failed: " .. r.stderr)
    local out = H.decode(r.stdout)
    assert(out.status == 200, "mock control " .. path .. ": " .. out.body)
    return H.decode(out.body)
  end
  local ok, res = pcall(H.request, self.port, {
    method = method,
    path = path,
    body = body,
    headers = { { "Connection", "close" }, { "Content-Type", "application/json" } },
  })
  if not ok then
    error(string.format("mock control %s: %s (mock %s; its stderr: %s)", path, tostring(res),
      self.proc:alive() and "running" or "exited", self.proc:stderr_text()), 2)
  end
  assert(res.status == 200, "mock control " .. path .. ": " .. tostring(res.body))
  return H.decode(res.body)
end

--- Queues scripted steps (a list of step tables, or the JSON text of {"steps": [...]}).
function Mock:script(steps)
  if type(steps) == "string" then
    return self:control("POST", "/__mock/script", steps)
  end
  return self:control("POST", "/__mock/script", { steps = steps })
end

--- Every API request the mock saw since the last reset: { n, method, path, headers (list of
--- {name, value} in wire order), body (string), status, completed, aborted }.
function Mock:requests()
  return self:control("GET", "/__mock/requests")
end

--- The last API request, or nil.
function Mock:last_request()
  local all = self:requests()
  return all[#all]
end

--- { connections, open_connections, requests, aborted, pending_steps }.
function Mock:stats()
  return self:control("GET", "/__mock/stats")
end

--- Clears steps, records and stats (close: also drops the open API connections).
function Mock:reset(close)
  return self:control("POST", "/__mock/reset", close and { close_connections = true } or nil)
end

function Mock:stop()
  return self.proc:stop()
end

--- Waits a moment between two requests that reuse one upstream connection. Node's HTTP
--- server (the mock) queues a request that arrives before its previous response's 'finish'
--- event, and the mock then takes that request for one whose client went away and never
--- answers it; a proxy that reuses its connection at once can be that fast.
function H.settle()
  socket.sleep(0.05)
end

--- The value of header `name` (any case) in a mock record, or nil; all values as a list.
function H.record_header(rec, name)
  local lname = name:lower()
  local found = {}
  for _, kv in ipairs(rec.headers) do
    if kv[1]:lower() == lname then
      found[#found + 1] = kv[2]
    end
  end
  return found[1], found
end

--------------------------------------------------------------------------------------------
-- The proxy
--------------------------------------------------------------------------------------------

local Proxy = {}
Proxy.__index = Proxy
H.Proxy = Proxy

--- Writes a config dir (a new temp dir unless opts.dir): ccproxy.yaml from opts.ccproxy_yaml
--- and config.yaml from opts.config_yaml. Returns the dir.
function H.config_dir(opts)
  local dir = opts.dir or sh.tmpdir()
  sh.write_file(dir .. "/ccproxy.yaml", opts.ccproxy_yaml or "")
  sh.write_file(dir .. "/config.yaml", opts.config_yaml)
  return dir
end

--- config.yaml text for specs: any Claude model passes through to the mock at `base` (a
--- "claude-*" wildcard deployment); opts.background adds a label "background" sent to the
--- upstream model "up-background"; opts.default adds a "default" entry.
function H.claude_config(base, opts)
  opts = opts or {}
  local out = { "model_list:" }
  if opts.background then
    out[#out + 1] = "  - model_name: background\n    litellm_params:\n"
      .. "      model: anthropic/up-background\n      api_base: " .. base
  end
  out[#out + 1] = '  - model_name: "claude-*"\n    litellm_params:\n'
    .. "      model: anthropic/*\n      api_base: " .. base
  if opts.default then
    out[#out + 1] = "  - model_name: default\n    litellm_params:\n      model: claude-sonnet-5-5"
  end
  return table.concat(out, "\n") .. "\n"
end

--- Starts `ccproxy --config-dir DIR start` in the foreground on a free port (given in $PORT)
--- and waits until it answers GET /health. opts: ccproxy_yaml, config_yaml (written into a
--- new config dir) or dir, env (added to the proxy's environment). Raises, with its stderr,
--- when it does not come up within 5 s.
function H.start_proxy(opts)
  local dir = opts.dir or H.config_dir(opts)
  local port = sh.free_port()
  local env = { PORT = port, HOST = false, CCPROXY_CONFIG_DIR = false }
  for k, v in pairs(opts.env or {}) do
    env[k] = v
  end
  local argv = {}
  -- CCPROXY_SPEC_WRAPPER="gdb -batch -ex run -ex bt --args" (or valgrind ...) runs every proxy
  -- under that command, for debugging a crash a spec finds.
  for word in (os.getenv("CCPROXY_SPEC_WRAPPER") or ""):gmatch("%S+") do
    argv[#argv + 1] = word
  end
  for _, a in ipairs({ H.bin, "--config-dir", dir, "start" }) do
    argv[#argv + 1] = a
  end
  local p = H.spawn(argv, { env = env })
  local up = sh.wait_for(function()
    if not p:alive() then
      return "dead"
    end
    local s = socket.tcp()
    s:settimeout(0.2)
    local ok = s:connect("127.0.0.1", port)
    s:close()
    return ok and "up"
  end, os.getenv("CCPROXY_SPEC_WRAPPER") and 30 or 5)
  if up ~= "up" then
    p:stop()
    error("ccproxy did not start (" .. tostring(up) .. "): " .. p:stderr_text(), 2)
  end
  return setmetatable({ proc = p, pid = p.pid, port = port, dir = dir }, Proxy)
end

--- The proxy's log so far (stderr).
function Proxy:log()
  return self.proc:stderr_text()
end

function Proxy:stop()
  return self.proc:stop()
end

--- Raises when the proxy is no longer running, with its exit code and the end of its log
--- (so a crash is reported as one, not as a refused connection). Call it from after_each.
function Proxy:check_alive()
  if self.proc:alive() then
    return true
  end
  local rc = self.proc:wait(1)
  if self.reported then
    error(string.format("ccproxy (pid %d) is no longer running (exit code %s; reported above)",
      self.pid, tostring(rc)), 2)
  end
  self.reported = true
  local log = self:log()
  local signal = rc and rc > 128 and " (signal " .. (rc - 128) .. ")" or ""
  local report = H.sanitizer_report(log)
  error(string.format("ccproxy (pid %d) is no longer running: exit code %s%s; %s:\n%s",
    self.pid, tostring(rc), signal, report and "its sanitizer report" or "the end of its log",
    report or log:sub(-2000)), 2)
end

--- A request to the proxy (see H.request). When it fails because the proxy died, the error
--- says so.
function Proxy:request(opts)
  local ok, res = pcall(H.request, self.port, opts)
  if ok then
    return res
  end
  self:check_alive()
  error(res, 2)
end

--- A POST /v1/messages with a JSON body. opts as for H.request.
function Proxy:messages(body, opts)
  opts = opts or {}
  opts.method = "POST"
  opts.path = opts.path or "/v1/messages"
  if type(body) == "string" then
    opts.body = body
    opts.headers = opts.headers or { { "Content-Type", "application/json" } }
  else
    opts.json = body
  end
  return self:request(opts)
end

--- The proxy's open file descriptors (entries of /proc/<pid>/fd), or nil when it is gone.
function Proxy:fd_count()
  return H.fd_count(self.pid)
end

--- The proxy's resident memory in KiB, or nil when it is gone.
function Proxy:rss_kib()
  return H.rss_kib(self.pid)
end

--- The first sanitizer report in the proxy's log, or nil.
function Proxy:sanitizer_report()
  return H.sanitizer_report(self:log())
end

--- Raises when the proxy died (see check_alive) or its log holds a sanitizer report (UBSan
--- goes on after reporting; ASan with abort_on_error kills the process), with the report.
function Proxy:check_clean()
  self:check_alive()
  local report = self:sanitizer_report()
  if report then
    error(string.format("ccproxy (pid %d) logged a sanitizer report:\n%s", self.pid, report), 2)
  end
  return true
end

--- The log lines (after the level) matching `pattern`, waiting up to timeout_s (default 3)
--- for at least `n` (default 1) of them; the list found, possibly shorter.
function Proxy:wait_log(pattern, timeout_s, n)
  local found
  sh.wait_for(function()
    found = {}
    for line in self:log():gmatch("[^\n]+") do
      if line:find(pattern) then
        found[#found + 1] = line
      end
    end
    return #found >= (n or 1)
  end, timeout_s or 3)
  return found
end

--- The request log lines (one per proxied request, see proxy.c log_line) as
--- { id, status, outcome (nil for a completed request), line }.
function Proxy:request_log()
  local out = {}
  for line in self:log():gmatch("[^\n]+") do
    local id, status, rest = line:match(" INFO  (r%d+) %S+ %S+ rule=.- status=(%d+) .-total=[%d.]+ms(.*)$")
    if id then
      -- After the times: " session=..." (optional), " <outcome>" (optional), then " name=value" tags.
      local outcome
      for word in rest:gmatch("%S+") do
        if not word:find("^session=") then
          outcome = not word:find("=", 1, true) and word or nil
          break
        end
      end
      out[#out + 1] = { id = id, status = tonumber(status), outcome = outcome, line = line }
    end
  end
  return out
end

--- Waits up to timeout_s (default 2) until the proxy has at most `max` open descriptors;
--- returns the last count seen (nil when the proxy is gone).
function Proxy:wait_fds(max, timeout_s)
  local n
  sh.wait_for(function()
    n = self:fd_count()
    return n == nil or n <= max
  end, timeout_s or 2)
  return n
end

--------------------------------------------------------------------------------------------
-- Process resources and sanitizer reports
--------------------------------------------------------------------------------------------

--- The open file descriptors of a process, or nil when it is gone.
function H.fd_count(pid)
  local p = io.popen("ls /proc/" .. tonumber(pid) .. "/fd 2>/dev/null")
  local n = 0
  for _ in p:lines() do
    n = n + 1
  end
  p:close()
  return n > 0 and n or nil
end

--- The resident memory of a process in KiB, or nil.
function H.rss_kib(pid)
  local status = sh.read_file("/proc/" .. tonumber(pid) .. "/status")
  return status and tonumber(status:match("VmRSS:%s*(%d+)"))
end

local sanitized_bin
--- True when the binary was built with AddressSanitizer, whose quarantine keeps freed memory
--- resident (then a process's memory says little about what the program holds).
function H.sanitized()
  if sanitized_bin == nil then
    local bin = sh.read_file(H.bin) or ""
    sanitized_bin = bin:find("__asan_init", 1, true) ~= nil
  end
  return sanitized_bin
end

--- The first sanitizer report (ASan, LSan, UBSan) in `text`, from its first line on, without
--- ASan's shadow-byte dump (at most 3000 bytes), or nil.
function H.sanitizer_report(text)
  local at = text:find("==%d+==ERROR: %a+Sanitizer") or text:find("[^\n]*runtime error: ")
    or text:find("==%d+==WARNING: %a+Sanitizer")
  if not at then
    return nil
  end
  local start = text:sub(1, at):match(".*()\n") or 1
  local report = text:sub(start, start + 3000)
  return report:match("^(.-)\nShadow bytes around") or report
end

--------------------------------------------------------------------------------------------
-- Upstreams that never get as far as answering
--------------------------------------------------------------------------------------------

local Listener = {}
Listener.__index = Listener
H.Listener = Listener

--- A listening socket on 127.0.0.1 that never accepts: the kernel completes TCP handshakes
--- into its accept queue and buffers what the peer sends (a few MiB), and nothing ever answers.
--- An upstream that "accepts" and then stays silent: no TLS ServerHello, no response, never
--- reading a large request body. opts.stall_connect: a backlog of 0 whose one slot is taken
--- at once by a connection of ours, so that every later SYN is dropped (Linux) and connecting
--- never completes. opts.backlog: how many connections the queue holds (default 128; each
--- stays there, closed or not, until the listener closes). Returns { port, close = fn }.
function H.silent_listener(opts)
  opts = opts or {}
  local s = assert(socket.tcp())
  s:setoption("reuseaddr", true)
  assert(s:bind("127.0.0.1", 0))
  assert(s:listen(opts.stall_connect and 0 or opts.backlog or 128))
  local _, port = s:getsockname()
  local l = setmetatable({ sock = s, port = tonumber(port), fillers = {} }, Listener)
  if opts.stall_connect then
    local c = socket.tcp()
    c:settimeout(2)
    assert(c:connect("127.0.0.1", l.port))
    l.fillers[1] = c
    -- The queue is full now: a further connect must stall (checked, so that a kernel that
    -- behaves otherwise fails here rather than passing the spec for the wrong reason).
    local probe = socket.tcp()
    probe:settimeout(0.3)
    local ok = probe:connect("127.0.0.1", l.port)
    probe:close()
    assert(not ok, "a connect to a listener with a full backlog completed; cannot stall")
  end
  return l
end

function Listener:base(scheme)
  return (scheme or "http") .. "://127.0.0.1:" .. self.port
end

function Listener:close()
  for _, c in ipairs(self.fillers) do
    c:close()
  end
  self.fillers = {}
  self.sock:close()
end

--- The established TCP connections with local or remote port `port` in this network
--- namespace (/proc/net/tcp), as { side = "local" | "remote", tx, rx }: tx the bytes queued to
--- send (unsent or unacknowledged: a sender stuck on a peer that does not read), rx the bytes
--- received and not yet read (what sits in a silent listener's queue).
function H.tcp_queues(port)
  local out = {}
  local want = string.format("%04X", port)
  for line in (sh.read_file("/proc/net/tcp") or ""):gmatch("[^\n]+") do
    local lp, rp, st, tx, rx = line:match("^%s*%d+: %x+:(%x+) %x+:(%x+) (%x+) (%x+):(%x+)")
    if st == "01" and (lp == want or rp == want) then
      out[#out + 1] = { side = lp == want and "local" or "remote", tx = tonumber(tx, 16),
                        rx = tonumber(rx, 16) }
    end
  end
  return out
end

--------------------------------------------------------------------------------------------
-- Certificates
--------------------------------------------------------------------------------------------

--- A test CA and a server certificate for localhost / 127.0.0.1 in a new temp dir:
--- { dir, ca, cert, key }.
function H.make_certs()
  local dir = sh.tmpdir()
  local r = sh.run({ "sh", H.spec_path("support/gen-certs.sh"), dir }, { timeout = 30 })
  assert(r.code == 0, "gen-certs.sh failed: " .. r.stderr)
  return {
    dir = dir,
    ca = dir .. "/ca.pem",
    cert = dir .. "/server.pem",
    key = dir .. "/server.key",
  }
end

-- The usual life of a describe block: a mock, and a proxy with `opts` (start_proxy's, where
-- config_yaml may be a function of the mock's base URL) started once; the mock reset before
-- each test; the proxy checked alive after each; both stopped at the end. Call it inside
-- describe; returns a table whose `mock` and `proxy` are set once setup ran.
function H.suite(opts)
  local s = {}
  -- busted's functions live in the calling spec's environment, not this module's.
  local env = getfenv(2)
  local setup, teardown, before_each, after_each =
    env.setup, env.teardown, env.before_each, env.after_each
  setup(function()
    s.mock = H.start_mock()
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    if type(o.config_yaml) == "function" then o.config_yaml = o.config_yaml(s.mock:base()) end
    s.proxy = H.start_proxy(o)
  end)
  teardown(function()
    if s.proxy then s.proxy:stop() end
    if s.mock then s.mock:stop() end
  end)
  before_each(function()
    s.mock:reset()
  end)
  after_each(function()
    s.proxy:check_alive()
  end)
  return s
end

return H
