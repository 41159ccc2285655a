-- spec/functional/cli_spec.lua: the ccproxy command line, run as a real binary ($CCPROXY_BIN)
-- against temporary config dirs. Tests tagged #server need the proxy server itself (start,
-- status of a live proxy, stop); the rest run without it:
--   ccproxy lua spec/busted.lua --exclude-tags=server spec/functional
local sh = require("sh")
local json = require("dkjson")

local BIN = assert(os.getenv("CCPROXY_BIN"), "set CCPROXY_BIN to the ccproxy binary")
local SPEC_DIR = os.getenv("CCPROXY_SPEC_DIR") or "spec"

-- The environment every command runs with: nothing from the caller's shell may change where
-- ccproxy looks or listens.
local BASE_ENV = { HOST = false, PORT = false, CCPROXY_CONFIG_DIR = false, CCPROXY_DATA_DIR = false }

local function ccproxy(dir, args, opts)
  opts = opts or {}
  local env = {}
  for k, v in pairs(BASE_ENV) do
    env[k] = v
  end
  for k, v in pairs(opts.env or {}) do
    env[k] = v
  end
  local argv = { BIN }
  if dir then
    argv[#argv + 1] = "--config-dir"
    argv[#argv + 1] = dir
  end
  for _, a in ipairs(args) do
    argv[#argv + 1] = a
  end
  return sh.run(argv, { env = env, timeout = opts.timeout or 60 })
end

local CONFIG_YAML = [[
model_list:
  - model_name: default
    litellm_params:
      model: anthropic/claude-sonnet-4-5
  - model_name: big
    litellm_params:
      model: anthropic/claude-opus-4-5
      api_base: http://127.0.0.1:9/v1
  - model_name: think
    litellm_params:
      model: big
]]

-- A config dir with a valid configuration listening on `port`.
local function config_dir(port)
  local dir = sh.tmpdir()
  sh.write_file(dir .. "/ccproxy.yaml", ([[
ccproxy:
  hooks:
    - model_router
  rules:
    - name: big
      rule: token_count
      params:
        threshold: 1000
litellm:
  host: 127.0.0.1
  port: %d
]]):format(port))
  sh.write_file(dir .. "/config.yaml", CONFIG_YAML)
  return dir
end

local function lines_of(n, from)
  local t = {}
  for i = from or 1, n do
    t[#t + 1] = "line " .. i
  end
  return table.concat(t, "\n") .. "\n"
end

-- Processes started by a test; killed after it.
local spawned = {}
local function spawn(argv, opts)
  local pid, files = sh.spawn(argv, opts)
  spawned[#spawned + 1] = pid
  return pid, files
end

-- A live process whose command line says ccproxy (for the pid file checks): `ccproxy lua`
-- running a script that sleeps.
local function fake_ccproxy()
  local dir = sh.tmpdir()
  local script = sh.write_file(dir .. "/sleep.lua", 'require("socket").sleep(120)\n')
  local pid = spawn({ BIN, "lua", script })
  assert(sh.wait_for(function()
    local cmd = sh.read_file("/proc/" .. pid .. "/cmdline")
    return cmd and cmd:find("sleep.lua", 1, true)
  end), "the stand-in ccproxy did not start")
  return pid
end

-- A stand-in proxy answering GET /health on 127.0.0.1:port (also a `ccproxy lua` process).
local function fake_health_server(port)
  local dir = sh.tmpdir()
  local script = sh.write_file(dir .. "/health.lua", [[
local socket = require("socket")
local srv = assert(socket.bind("127.0.0.1", tonumber(arg[1])))
srv:settimeout(120)
while true do
  local c = srv:accept()
  if not c then break end
  c:settimeout(2)
  repeat local l = c:receive("*l") until not l or l == ""
  local body = '{"status":"ok","stand_in":true}'
  c:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " .. #body
    .. "\r\nConnection: close\r\n\r\n" .. body)
  c:close()
end
]])
  local pid = spawn({ BIN, "lua", script, tostring(port) })
  assert(sh.wait_for(function()
    local c = require("socket").connect("127.0.0.1", port)
    if c then
      c:close()
      return true
    end
  end), "the stand-in health server did not listen")
  return pid
end

-- A pid that cannot belong to any process (above the largest possible pid_max, 2^22).
local DEAD_PID = 4999999

local function decode(s)
  local v, _, err = json.decode(s, 1, json.null)
  assert(v, "not JSON: " .. tostring(err) .. "\n" .. s)
  return v
end

describe("ccproxy CLI", function()
  after_each(function()
    for _, pid in ipairs(spawned) do
      sh.kill(pid, "KILL")
    end
    spawned = {}
  end)

  describe("usage", function()
    local commands = { "install", "start", "stop", "restart", "status", "logs", "run" }

    for _, name in ipairs(commands) do
      it(name .. " --help and -h print the usage on stdout and exit 0", function()
        for _, flag in ipairs({ "--help", "-h" }) do
          local r = ccproxy(sh.tmpdir(), { name, flag })
          assert.equals(0, r.code)
          assert.matches("^usage: ccproxy %[%-%-config%-dir DIR%] " .. name, r.stdout)
          assert.equals("", r.stderr)
        end
      end)
    end

    for _, name in ipairs({ "install", "start", "stop", "restart", "status", "logs" }) do
      it(name .. " rejects an unknown option with exit 2 and the usage on stderr", function()
        local r = ccproxy(sh.tmpdir(), { name, "--bogus" })
        assert.equals(2, r.code)
        assert.equals("", r.stdout)
        assert.matches("ccproxy " .. name .. ": unknown option '%-%-bogus'", r.stderr)
        assert.matches("usage: ccproxy", r.stderr)
      end)

      it(name .. " rejects a stray argument with exit 2", function()
        local r = ccproxy(sh.tmpdir(), { name, "extra" })
        assert.equals(2, r.code)
        assert.matches("unexpected argument 'extra'", r.stderr)
      end)
    end

    it("accepts only whole option names", function()
      local dir = sh.tmpdir() .. "/c"
      local r = ccproxy(dir, { "install", "--forc" })
      assert.equals(2, r.code)
      assert.matches("unknown option '%-%-forc'", r.stderr)
      assert.is_false(sh.exists(dir))
      r = ccproxy(dir, { "status", "--json=yes" })
      assert.equals(2, r.code)
      assert.matches("option '%-%-json' takes no value", r.stderr)
    end)

    it("rejects an unknown short option", function()
      local r = ccproxy(sh.tmpdir(), { "status", "-x" })
      assert.equals(2, r.code)
      assert.matches("unknown option '%-x'", r.stderr)
    end)

    it("logs rejects a --lines value that is not a number", function()
      local r = ccproxy(sh.tmpdir(), { "logs", "-n", "many" })
      assert.equals(2, r.code)
      assert.matches("%-%-lines needs a whole number >= 0, got 'many'", r.stderr)
      r = ccproxy(sh.tmpdir(), { "logs", "--lines" })
      assert.equals(2, r.code)
      assert.matches("option '%-%-lines' needs a value", r.stderr)
    end)

    it("run without a command prints the usage and exits 2", function()
      local r = ccproxy(sh.tmpdir(), { "run" })
      assert.equals(2, r.code)
      assert.matches("ccproxy run: no command given", r.stderr)
      assert.matches("usage: ccproxy", r.stderr)
      r = ccproxy(sh.tmpdir(), { "run", "--" })
      assert.equals(2, r.code)
    end)

    it("run rejects an option before the command", function()
      local r = ccproxy(sh.tmpdir(), { "run", "-x", "true" })
      assert.equals(2, r.code)
      assert.matches("unknown option '%-x'", r.stderr)
    end)
  end)

  describe("install", function()
    -- A data dir with known templates, so the copies can be compared byte for byte.
    local function data_dir()
      local d = sh.tmpdir()
      assert(os.execute("mkdir -p " .. sh.quote(d .. "/config")))
      sh.write_file(d .. "/config/ccproxy.yaml", "# ccproxy template\nccproxy: {}\n")
      sh.write_file(d .. "/config/config.yaml", "# models template\nmodel_list: []\n")
      return d
    end

    it("creates the config dir (0700) and writes both files (0600)", function()
      local data = data_dir()
      local dir = sh.tmpdir() .. "/nested/ccproxy"
      local r = ccproxy(dir, { "install" }, { env = { CCPROXY_DATA_DIR = data } })
      assert.equals(0, r.code)
      assert.equals("700", sh.mode(dir))
      for _, f in ipairs({ "ccproxy.yaml", "config.yaml" }) do
        assert.equals(sh.read_file(data .. "/config/" .. f), sh.read_file(dir .. "/" .. f))
        assert.equals("600", sh.mode(dir .. "/" .. f))
        assert.matches("Wrote " .. dir:gsub("%p", "%%%0") .. "/" .. f:gsub("%p", "%%%0"),
          r.stdout)
      end
      assert.matches("start %-%-detach", r.stdout)
      assert.matches("run claude", r.stdout)
    end)

    it("installs into an existing empty directory", function()
      local dir = sh.tmpdir()
      local r = ccproxy(dir, { "install" }, { env = { CCPROXY_DATA_DIR = data_dir() } })
      assert.equals(0, r.code)
      assert.is_true(sh.exists(dir .. "/config.yaml"))
    end)

    it("refuses to overwrite without --force and writes nothing", function()
      local data = data_dir()
      local dir = sh.tmpdir()
      sh.write_file(dir .. "/config.yaml", "mine\n")
      local r = ccproxy(dir, { "install" }, { env = { CCPROXY_DATA_DIR = data } })
      assert.equals(1, r.code)
      assert.equals("ccproxy install: " .. dir .. "/config.yaml already exists; use --force to "
        .. "overwrite it\n", r.stderr)
      assert.equals("mine\n", sh.read_file(dir .. "/config.yaml"))
      assert.is_false(sh.exists(dir .. "/ccproxy.yaml"))
    end)

    it("--force overwrites both files", function()
      local data = data_dir()
      local dir = sh.tmpdir()
      sh.write_file(dir .. "/config.yaml", "mine\n", "644")
      sh.write_file(dir .. "/ccproxy.yaml", "mine too\n")
      local r = ccproxy(dir, { "install", "--force" }, { env = { CCPROXY_DATA_DIR = data } })
      assert.equals(0, r.code)
      assert.equals(sh.read_file(data .. "/config/config.yaml"), sh.read_file(dir .. "/config.yaml"))
      assert.equals(sh.read_file(data .. "/config/ccproxy.yaml"),
        sh.read_file(dir .. "/ccproxy.yaml"))
      assert.equals("600", sh.mode(dir .. "/config.yaml"))
    end)

    it("says which template is missing", function()
      local data = sh.tmpdir()
      local dir = sh.tmpdir() .. "/c"
      local r = ccproxy(dir, { "install" }, { env = { CCPROXY_DATA_DIR = data } })
      assert.equals(1, r.code)
      assert.matches("the template " .. data:gsub("%p", "%%%0") .. "/config/ccproxy.yaml is missing",
        r.stderr)
      assert.is_false(sh.exists(dir))
    end)

    it("installs the shipped templates, and they load", function()
      assert.is_true(sh.exists(SPEC_DIR .. "/../config/ccproxy.yaml"),
        "the template config/ccproxy.yaml is missing from the source tree")
      local dir = sh.tmpdir() .. "/c"
      local r = ccproxy(dir, { "install" })
      assert.equals(0, r.code)
      local s = ccproxy(dir, { "status", "--json" })
      assert.equals(0, s.code)
      local st = decode(s.stdout)
      assert.is_string(st.url)
    end)
  end)

  describe("status", function()
    it("--json reports a proxy that is not running", function()
      local port = sh.free_port()
      local dir = config_dir(port)
      local r = ccproxy(dir, { "status", "--json" })
      assert.equals(0, r.code)
      -- the keys, in this order
      local keys = { "proxy", "running", "pid", "url", "config", "callbacks", "hooks", "rules",
        "models", "model_list", "log", "health" }
      local last = 0
      for _, k in ipairs(keys) do
        local at = r.stdout:find('"' .. k .. '":', 1, true)
        assert(at and at > last, "key " .. k .. " missing or out of order in\n" .. r.stdout)
        last = at
      end
      local st = decode(r.stdout)
      assert.is_false(st.proxy)
      assert.is_false(st.running)
      assert.equals(json.null, st.pid)
      assert.equals("http://127.0.0.1:" .. port, st.url)
      assert.same({ ["ccproxy.yaml"] = dir .. "/ccproxy.yaml", ["config.yaml"] = dir .. "/config.yaml" },
        st.config)
      assert.same({}, st.callbacks)
      assert.same({ "model_router" }, st.hooks)
      assert.same({ { name = "big", rule = "token_count" } }, st.rules)
      assert.same({ "default", "big", "think" }, st.models)
      assert.equals(3, #st.model_list)
      assert.equals("big", st.model_list[2].model_name)
      assert.equals("anthropic/claude-opus-4-5", st.model_list[2].litellm_params.model)
      assert.equals("http://127.0.0.1:9/v1", st.model_list[2].litellm_params.api_base)
      assert.equals("big", st.model_list[3].litellm_params.model)
      assert.equals(json.null, st.log)
      assert.equals(json.null, st.health)
    end)

    it("--json names the log file when there is one, and ignores a stale pid file", function()
      local dir = config_dir(sh.free_port())
      sh.write_file(dir .. "/ccproxy.log", "x\n")
      sh.write_file(dir .. "/ccproxy.pid", DEAD_PID .. "\n")
      local st = decode(ccproxy(dir, { "status", "--json" }).stdout)
      assert.equals(dir .. "/ccproxy.log", st.log)
      assert.is_false(st.running)
      assert.equals(json.null, st.pid)
      assert.is_true(sh.exists(dir .. "/ccproxy.pid")) -- status only reads
    end)

    it("--json uses PORT from the environment", function()
      local dir = config_dir(4000)
      local st = decode(ccproxy(dir, { "status", "--json" }, { env = { PORT = "4555" } }).stdout)
      assert.equals("http://127.0.0.1:4555", st.url)
    end)

    it("--json has a null url and only the files that exist when the config does not load",
      function()
        local dir = sh.tmpdir()
        sh.write_file(dir .. "/ccproxy.yaml", "ccproxy: [\n")
        local r = ccproxy(dir, { "status", "--json" })
        assert.equals(0, r.code)
        local st = decode(r.stdout)
        assert.equals(json.null, st.url)
        assert.same({ ["ccproxy.yaml"] = dir .. "/ccproxy.yaml" }, st.config)
        assert.same({}, st.hooks)
        assert.same({}, st.model_list)
      end)

    it("prints a text report with the config errors when the config does not load", function()
      local dir = sh.tmpdir()
      sh.write_file(dir .. "/ccproxy.yaml", "ccproxy: [\n")
      sh.write_file(dir .. "/config.yaml", CONFIG_YAML)
      local r = ccproxy(dir, { "status" })
      assert.equals(0, r.code)
      assert.matches("running%s+no", r.stdout)
      assert.matches("does not load", r.stdout)
      assert.matches("ccproxy%.yaml:%d+:%d+:", r.stdout)
    end)

    it("prints a text report of the configuration", function()
      local port = sh.free_port()
      local r = ccproxy(config_dir(port), { "status" })
      assert.equals(0, r.code)
      assert.matches("running%s+no\n", r.stdout)
      assert.matches("url%s+http://127%.0%.0%.1:" .. port, r.stdout)
      assert.matches("1%. model_router", r.stdout)
      assert.matches("big%s+token_count", r.stdout)
      assert.matches("big%s+anthropic/claude%-opus%-4%-5%s+127%.0%.0%.1:9", r.stdout)
      assert.matches("think%s+big%s+%-> big", r.stdout)
    end)

    it("reports a live proxy and its /health answer", function()
      local port = sh.free_port()
      local dir = config_dir(port)
      local pid = fake_health_server(port)
      sh.write_file(dir .. "/ccproxy.pid", pid .. "\n")
      local st = decode(ccproxy(dir, { "status", "--json" }).stdout)
      assert.is_true(st.running)
      assert.is_true(st.proxy)
      assert.equals(pid, st.pid)
      assert.same({ status = "ok", stand_in = true }, st.health)
      local r = ccproxy(dir, { "status" })
      assert.matches("running%s+yes %(pid " .. pid .. "%)", r.stdout)
      assert.matches("health%s+ok", r.stdout)
    end)
  end)

  describe("logs", function()
    it("says where the log would be when there is none", function()
      local dir = sh.tmpdir()
      local r = ccproxy(dir, { "logs" })
      assert.equals(1, r.code)
      assert.equals("ccproxy logs: no log file at " .. dir .. "/ccproxy.log (the log is written "
        .. "by `ccproxy start --detach`)\n", r.stderr)
    end)

    it("prints the last N lines", function()
      local dir = sh.tmpdir()
      sh.write_file(dir .. "/ccproxy.log", lines_of(150))
      local r = ccproxy(dir, { "logs", "-n", "3" })
      assert.equals(0, r.code)
      assert.equals(lines_of(150, 148), r.stdout)
      assert.equals(lines_of(150, 141), ccproxy(dir, { "logs", "--lines=10" }).stdout)
      assert.equals(lines_of(150, 51), ccproxy(dir, { "logs" }).stdout) -- 100 by default
      assert.equals(lines_of(150), ccproxy(dir, { "logs", "-n", "1000" }).stdout)
      assert.equals("", ccproxy(dir, { "logs", "-n", "0" }).stdout)
    end)

    it("counts a last line without a newline", function()
      local dir = sh.tmpdir()
      sh.write_file(dir .. "/ccproxy.log", "a\nb\nc")
      assert.equals("b\nc", ccproxy(dir, { "logs", "-n", "2" }).stdout)
    end)

    it("reads only the end of a large log", function()
      local dir = sh.tmpdir()
      local f = assert(io.open(dir .. "/ccproxy.log", "wb"))
      local filler = string.rep("x", 1023) .. "\n"
      for _ = 1, 4096 do
        f:write(filler)
      end
      f:write("the end\n")
      f:close()
      local r = ccproxy(dir, { "logs", "-n", "2" })
      assert.equals(filler .. "the end\n", r.stdout)
    end)

    it("-f prints the last N lines, then what is appended, and stops on SIGINT", function()
      local dir = sh.tmpdir()
      local log = dir .. "/ccproxy.log"
      sh.write_file(log, lines_of(5))
      local out = dir .. "/out"
      local pid = spawn({ BIN, "--config-dir", dir, "logs", "-f", "-n", "2" }, { stdout = out })
      assert(sh.wait_for(function()
        return sh.read_file(out) == lines_of(5, 4)
      end), "the last lines did not appear")
      sh.append_file(log, "appended\n")
      assert(sh.wait_for(function()
        return sh.read_file(out) == lines_of(5, 4) .. "appended\n"
      end), "the appended line did not appear")
      sh.kill(pid, "INT")
      assert(sh.wait_for(function()
        return not sh.alive(pid)
      end), "logs -f did not stop on SIGINT")
    end)
  end)

  describe("stop", function()
    it("says so when there is no pid file", function()
      local dir = sh.tmpdir()
      local r = ccproxy(dir, { "stop" })
      assert.equals(1, r.code)
      assert.equals("ccproxy is not running (no pid file at " .. dir .. "/ccproxy.pid)\n",
        r.stderr)
    end)

    it("removes a stale pid file", function()
      local dir = sh.tmpdir()
      sh.write_file(dir .. "/ccproxy.pid", DEAD_PID .. "\n")
      local r = ccproxy(dir, { "stop" })
      assert.equals(1, r.code)
      assert.matches("ccproxy is not running %(pid " .. DEAD_PID .. " is gone%); removed the "
        .. "stale pid file", r.stderr)
      assert.is_false(sh.exists(dir .. "/ccproxy.pid"))
    end)

    it("removes an unreadable pid file", function()
      local dir = sh.tmpdir()
      sh.write_file(dir .. "/ccproxy.pid", "not a pid\n")
      local r = ccproxy(dir, { "stop" })
      assert.equals(1, r.code)
      assert.is_false(sh.exists(dir .. "/ccproxy.pid"))
    end)

    it("never signals a process that is not ccproxy", function()
      local dir = sh.tmpdir()
      local pid = spawn({ "sleep", "60" })
      sh.write_file(dir .. "/ccproxy.pid", pid .. "\n")
      local r = ccproxy(dir, { "stop" })
      assert.equals(1, r.code)
      assert.matches("pid " .. pid .. " belongs to another program", r.stderr)
      assert.is_true(sh.alive(pid))
      assert.is_false(sh.exists(dir .. "/ccproxy.pid"))
    end)

    it("stops a live ccproxy with SIGTERM and removes its pid file", function()
      local dir = config_dir(sh.free_port())
      local pid = fake_ccproxy()
      sh.write_file(dir .. "/ccproxy.pid", pid .. "\n")
      local r = ccproxy(dir, { "stop" })
      assert.equals(0, r.code)
      assert.equals("ccproxy stopped (pid " .. pid .. ")\n", r.stdout)
      assert.is_false(sh.alive(pid))
      assert.is_false(sh.exists(dir .. "/ccproxy.pid"))
    end)
  end)

  describe("run", function()
    local SHOW = 'echo "$ANTHROPIC_BASE_URL|$OPENAI_BASE_URL|$OPENAI_API_BASE|$*"'

    it("points the command at the proxy and passes its arguments", function()
      local port = sh.free_port()
      local r = ccproxy(config_dir(port), { "run", "sh", "-c", SHOW, "sh", "a b", "--help" })
      assert.equals(0, r.code)
      local url = "http://127.0.0.1:" .. port
      assert.equals(url .. "|" .. url .. "|" .. url .. "|a b --help\n", r.stdout)
    end)

    it("drops one leading --", function()
      local r = ccproxy(config_dir(sh.free_port()), { "run", "--", "sh", "-c", "echo $1", "sh", "--" })
      assert.equals(0, r.code)
      assert.equals("--\n", r.stdout)
    end)

    it("warns when the proxy does not answer, and still runs the command", function()
      local port = sh.free_port()
      local r = ccproxy(config_dir(port), { "run", "true" })
      assert.equals(0, r.code)
      assert.equals("ccproxy: the proxy is not running at http://127.0.0.1:" .. port
        .. "; start it with `ccproxy start --detach`\n", r.stderr)
    end)

    it("does not warn when the proxy answers /health", function()
      local port = sh.free_port()
      fake_health_server(port)
      local r = ccproxy(config_dir(port), { "run", "true" })
      assert.equals(0, r.code)
      assert.equals("", r.stderr)
    end)

    it("exits with the command's code", function()
      local r = ccproxy(config_dir(sh.free_port()), { "run", "sh", "-c", "exit 7" })
      assert.equals(7, r.code)
    end)

    it("exits with 128+N when signal N ends the command", function()
      local r = ccproxy(config_dir(sh.free_port()), { "run", "sh", "-c", "kill -TERM $$" })
      assert.equals(143, r.code)
      r = ccproxy(config_dir(sh.free_port()), { "run", "sh", "-c", "kill -INT $$" })
      assert.equals(130, r.code)
    end)

    it("exits 127 when the command does not exist", function()
      local r = ccproxy(config_dir(sh.free_port()), { "run", "no-such-command-ccproxy" })
      assert.equals(127, r.code)
      assert.matches("ccproxy run: no%-such%-command%-ccproxy: command not found\n$", r.stderr)
    end)

    it("falls back to HOST/PORT (a wildcard host means loopback) when the config does not load",
      function()
        local dir = sh.tmpdir() -- empty: config.yaml is missing
        local r = ccproxy(dir, { "run", "sh", "-c", "echo $ANTHROPIC_BASE_URL" },
          { env = { HOST = "0.0.0.0", PORT = "4777" } })
        assert.equals(0, r.code)
        assert.equals("http://127.0.0.1:4777\n", r.stdout)
        assert.matches("does not load", r.stderr)
        r = ccproxy(dir, { "run", "sh", "-c", "echo $ANTHROPIC_BASE_URL" }, { env = { HOST = "::" } })
        assert.equals("http://[::1]:4000\n", r.stdout)
        r = ccproxy(dir, { "run", "sh", "-c", "echo $ANTHROPIC_BASE_URL" })
        assert.equals("http://127.0.0.1:4000\n", r.stdout)
      end)
  end)

  describe("start", function()
    it("refuses a broken config and names file:line", function()
      local dir = sh.tmpdir()
      sh.write_file(dir .. "/ccproxy.yaml", "ccproxy:\n  hooks: [\n")
      sh.write_file(dir .. "/config.yaml", CONFIG_YAML)
      for _, args in ipairs({ { "start" }, { "start", "--detach" } }) do
        local r = ccproxy(dir, args)
        assert.equals(1, r.code)
        assert.matches(dir:gsub("%p", "%%%0") .. "/ccproxy%.yaml:%d+:%d+: ", r.stderr)
        assert.matches("ccproxy start: fix the configuration above %(" .. dir:gsub("%p", "%%%0")
          .. "%)\n$", r.stderr)
        assert.is_false(sh.exists(dir .. "/ccproxy.pid"))
      end
    end)

    it("refuses to start without config.yaml and says to install", function()
      local dir = sh.tmpdir()
      local r = ccproxy(dir, { "start" })
      assert.equals(1, r.code)
      assert.matches("ccproxy install", r.stderr)
    end)

    it("refuses a second start while one runs", function()
      local port = sh.free_port()
      local dir = config_dir(port)
      local pid = fake_ccproxy()
      sh.write_file(dir .. "/ccproxy.pid", pid .. "\n")
      for _, args in ipairs({ { "start" }, { "start", "-d" } }) do
        local r = ccproxy(dir, args)
        assert.equals(1, r.code)
        assert.equals("ccproxy is already running (pid " .. pid .. ", http://127.0.0.1:" .. port
          .. "); stop it with `ccproxy stop`\n", r.stderr)
      end
      assert.is_true(sh.alive(pid))
      assert.equals(pid .. "\n", sh.read_file(dir .. "/ccproxy.pid"))
    end)
  end)

  describe("with the server #server", function()
    local function start_detached(dir)
      local r = ccproxy(dir, { "start", "--detach" })
      assert.equals(0, r.code, r.stderr)
      local pid = tonumber(r.stdout:match("^ccproxy started %(pid (%d+)%)"))
      assert(pid, "unexpected output: " .. r.stdout)
      spawned[#spawned + 1] = pid
      return pid, r
    end

    it("start --detach, status, run, a second start, stop", function()
      local port = sh.free_port()
      local dir = config_dir(port)
      sh.write_file(dir .. "/ccproxy.log", "kept from before\n")
      local pid, r = start_detached(dir)
      assert.equals("ccproxy started (pid " .. pid .. "), listening on http://127.0.0.1:" .. port
        .. "; log: " .. dir .. "/ccproxy.log\n", r.stdout)
      assert.equals(pid .. "\n", sh.read_file(dir .. "/ccproxy.pid"))
      assert.matches("^kept from before\n", sh.read_file(dir .. "/ccproxy.log"))

      local st = decode(ccproxy(dir, { "status", "--json" }).stdout)
      assert.is_true(st.running)
      assert.equals(pid, st.pid)
      assert.is_table(st.health)
      assert.equals(dir .. "/ccproxy.log", st.log)

      r = ccproxy(dir, { "run", "true" })
      assert.equals(0, r.code)
      assert.equals("", r.stderr)

      r = ccproxy(dir, { "start", "--detach" })
      assert.equals(1, r.code)
      assert.matches("ccproxy is already running %(pid " .. pid .. ",", r.stderr)

      r = ccproxy(dir, { "stop" })
      assert.equals(0, r.code)
      assert.equals("ccproxy stopped (pid " .. pid .. ")\n", r.stdout)
      assert.is_false(sh.alive(pid))
      assert.is_false(sh.exists(dir .. "/ccproxy.pid"))
      assert.is_false(decode(ccproxy(dir, { "status", "--json" }).stdout).running)
    end)

    it("restart --detach starts a stopped proxy and replaces a running one", function()
      local dir = config_dir(sh.free_port())
      local r = ccproxy(dir, { "restart", "--detach" })
      assert.equals(0, r.code, r.stderr)
      local first = tonumber(r.stdout:match("ccproxy started %(pid (%d+)%)"))
      assert(first, r.stdout)
      spawned[#spawned + 1] = first
      r = ccproxy(dir, { "restart", "-d" })
      assert.equals(0, r.code, r.stderr)
      assert.matches("ccproxy stopped %(pid " .. first .. "%)", r.stdout)
      local second = tonumber(r.stdout:match("ccproxy started %(pid (%d+)%)"))
      assert(second, r.stdout)
      spawned[#spawned + 1] = second
      assert.is_false(sh.alive(first))
      assert.equals(0, ccproxy(dir, { "stop" }).code)
    end)

    it("start --detach reports a port that is taken", function()
      local port = sh.free_port()
      local dir = config_dir(port)
      local holder = assert(require("socket").bind("127.0.0.1", port))
      local r = ccproxy(dir, { "start", "--detach" })
      holder:close()
      assert.equals(1, r.code)
      assert.matches("^ccproxy start: the proxy did not start: .+; see " .. dir:gsub("%p", "%%%0")
        .. "/ccproxy%.log\n$", r.stderr)
      assert.is_false(sh.exists(dir .. "/ccproxy.pid"))
    end)

    it("start in the foreground keeps a pid file until SIGTERM", function()
      local port = sh.free_port()
      local dir = config_dir(port)
      local pid = spawn({ BIN, "--config-dir", dir, "start" }, { env = BASE_ENV })
      assert(sh.wait_for(function()
        return sh.read_file(dir .. "/ccproxy.pid") == pid .. "\n"
      end, 10), "no pid file")
      assert(sh.wait_for(function()
        return decode(ccproxy(dir, { "status", "--json" }).stdout).health ~= json.null
      end, 10), "no /health answer")
      sh.kill(pid, "TERM")
      assert(sh.wait_for(function()
        return not sh.alive(pid)
      end, 40), "the server did not stop on SIGTERM")
      assert.is_false(sh.exists(dir .. "/ccproxy.pid"))
    end)
  end)
end)
