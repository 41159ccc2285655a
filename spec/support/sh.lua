-- spec/support/sh.lua: running programs from specs. Runs a command and collects its exit code,
-- stdout and stderr; starts programs in the background and signals them; temporary dirs and
-- files; polling with a deadline; a free loopback port. No shell is involved in what a command
-- means: every argument is quoted.
--
--   local sh = require("sh")
--   local r = sh.run({ os.getenv("CCPROXY_BIN"), "status", "--json" }, { env = { PORT = false } })
--   assert.equals(0, r.code)
--
-- Needs LuaJIT 2.1 (or Lua 5.1), luasocket and a POSIX sh with coreutils (mktemp, timeout).
local socket = require("socket")

local M = {}

local tmpdirs = {}

-- os.execute's result as a boolean (Lua 5.1 returns a status number, 5.2 style true/nil).
local function execute(cmd)
  local r = os.execute(cmd)
  return r == 0 or r == true
end

-- Removes the temporary dirs when the Lua state closes (an exit through os.exit(code, true)
-- or the end of `ccproxy lua`).
local sentinel = newproxy and newproxy(true)
if sentinel then
  getmetatable(sentinel).__gc = function()
    for _, d in ipairs(tmpdirs) do
      os.execute("rm -rf " .. M.quote(d))
    end
  end
  M._sentinel = sentinel
end

--- Quotes one word for sh: 'it''s' style, safe for any byte but NUL.
function M.quote(s)
  s = tostring(s)
  return "'" .. s:gsub("'", [['\'']]) .. "'"
end

--- The argv table as one sh command line.
function M.join(argv)
  local parts = {}
  for i, a in ipairs(argv) do
    parts[i] = M.quote(a)
  end
  return table.concat(parts, " ")
end

--- Reads a whole file; nil and a message when it cannot.
function M.read_file(path)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, err
  end
  local s = f:read("*a")
  f:close()
  return s
end

--- Writes `content` to `path` (replacing it); `mode` (e.g. "600") is applied with chmod.
function M.write_file(path, content, mode)
  local f = assert(io.open(path, "wb"))
  assert(f:write(content))
  f:close()
  if mode then
    assert(execute("chmod " .. mode .. " " .. M.quote(path)), "chmod " .. path)
  end
  return path
end

--- Appends `content` to `path`.
function M.append_file(path, content)
  local f = assert(io.open(path, "ab"))
  assert(f:write(content))
  f:close()
end

--- True when `path` exists.
function M.exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return execute("test -e " .. M.quote(path))
end

--- The permission bits of `path` as an octal string ("600"), or nil.
function M.mode(path)
  local p = io.popen("stat -c %a " .. M.quote(path) .. " 2>/dev/null")
  local s = p:read("*l")
  p:close()
  return s
end

--- A new temporary directory (removed when the Lua state closes).
function M.tmpdir()
  local p = io.popen("mktemp -d 2>/dev/null")
  local d = p:read("*l")
  p:close()
  assert(d and d ~= "", "mktemp -d failed")
  tmpdirs[#tmpdirs + 1] = d
  return d
end

local function tmpfile()
  return os.tmpname()
end

-- The sh prefix that applies opts.cwd, opts.env and opts.timeout to `argv`.
local function command_line(argv, opts)
  local cmd = {}
  if opts.cwd then
    cmd[#cmd + 1] = "cd " .. M.quote(opts.cwd) .. " &&"
  end
  cmd[#cmd + 1] = "exec"
  if opts.timeout then
    cmd[#cmd + 1] = "timeout -k 2 " .. tostring(opts.timeout)
  end
  if opts.env and next(opts.env) then
    cmd[#cmd + 1] = "env"
    local names = {}
    for k in pairs(opts.env) do
      names[#names + 1] = k
    end
    table.sort(names)
    for _, k in ipairs(names) do
      local v = opts.env[k]
      if v == false then
        cmd[#cmd + 1] = "-u " .. M.quote(k)
      end
    end
    for _, k in ipairs(names) do
      local v = opts.env[k]
      if v ~= false then
        cmd[#cmd + 1] = M.quote(k .. "=" .. tostring(v))
      end
    end
  end
  cmd[#cmd + 1] = M.join(argv)
  return table.concat(cmd, " ")
end

--- Runs argv and waits for it. Returns { code, stdout, stderr } where code is the exit code,
--- or 128+N when signal N ended it (as sh reports it).
--- opts: env = { NAME = "value" | false (unset) }, cwd = dir, stdin = string,
---       timeout = seconds (then code 124 means it was stopped).
function M.run(argv, opts)
  opts = opts or {}
  local errf, rcf, inf = tmpfile(), tmpfile(), nil
  local stdin = "</dev/null"
  if opts.stdin then
    inf = tmpfile()
    M.write_file(inf, opts.stdin)
    stdin = "<" .. M.quote(inf)
  end
  local line = "(" .. command_line(argv, opts) .. ") " .. stdin .. " 2>" .. M.quote(errf)
    .. "; echo $? >" .. M.quote(rcf)
  local p = assert(io.popen(line, "r"))
  local out = p:read("*a")
  p:close()
  local err = M.read_file(errf) or ""
  local code = tonumber((M.read_file(rcf) or ""):match("%d+"))
  os.remove(errf)
  os.remove(rcf)
  if inf then
    os.remove(inf)
  end
  return { code = code, stdout = out, stderr = err }
end

--- Starts argv in the background and returns its pid and a table with the paths of its
--- output { stdout = path, stderr = path } (opts.stdout / opts.stderr choose them).
--- The process is not a child of this one: stop it with kill and poll with alive.
--- opts: as for run (env, cwd), plus stdout, stderr.
function M.spawn(argv, opts)
  opts = opts or {}
  local out = opts.stdout or tmpfile()
  local err = opts.stderr or tmpfile()
  local line = "(" .. command_line(argv, opts) .. ") </dev/null >" .. M.quote(out)
    .. " 2>" .. M.quote(err) .. " & echo $!"
  local p = assert(io.popen(line, "r"))
  local pid = tonumber(p:read("*l"))
  p:close()
  assert(pid, "could not start " .. M.join(argv))
  return pid, { stdout = out, stderr = err }
end

--- Sends a signal ("TERM", "INT", "KILL", 15, ...) to pid. True when it was delivered.
function M.kill(pid, sig)
  sig = sig or "TERM"
  return execute("kill -" .. tostring(sig) .. " " .. tonumber(pid) .. " 2>/dev/null")
end

--- True while pid is a running process (an exited one that nobody reaped yet counts as gone).
function M.alive(pid)
  local stat = M.read_file("/proc/" .. tonumber(pid) .. "/stat")
  if not stat then
    return false
  end
  local state = stat:match("%) (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end

--- Sleeps for `s` seconds (fractions allowed).
function M.sleep(s)
  socket.sleep(s)
end

--- Calls fn every 50 ms until it returns a true value (returned) or timeout_s (default 5)
--- passes (then nil, "timeout").
function M.wait_for(fn, timeout_s)
  local deadline = socket.gettime() + (timeout_s or 5)
  while true do
    local v = fn()
    if v then
      return v
    end
    if socket.gettime() >= deadline then
      return nil, "timeout"
    end
    socket.sleep(0.05)
  end
end

--- A TCP port on 127.0.0.1 that was free a moment ago.
function M.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

return M
