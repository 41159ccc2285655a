-- spec/functional/statusline_spec.lua: per-session totals and Claude Code's status line, with
-- the real binary against the mock upstream: requests of a session (its id from the
-- X-Claude-Code-Session-Id header or from metadata.user_id, by the extract_session_id hook)
-- add up in GET /ccproxy/sessions/<id> (tokens, cost from model_info, an unknown cost, the
-- models that answered, the label, the context against model_info.max_input_tokens); `ccproxy
-- statusline` fed Claude Code's statusLine JSON prints the session's line, and nothing (exit 0,
-- quickly) when the proxy is down, silent, or does not know the session; `ccproxy run claude`
-- hands a fake `claude` a --settings file whose statusLine runs `ccproxy statusline` (and
-- removes it afterwards), and leaves it out when told to or when the user has one.
local H = require("proxy_harness")
local sh = require("sh")
local socket = require("socket")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
    - ccproxy.hooks.extract_session_id
  rules:
    - name: background
      rule: match_model
      params:
        - model_name: haiku
    - name: main
      rule: match_model
      params:
        - model_name: sonnet
litellm:
  host: 127.0.0.1
  port: 4000
]]

-- "main" is an alias of the deployment "sonnet-pool", which has prices and a context window;
-- "background" has neither (its cost is unknown).
local function config_yaml(base)
  return ([[
model_list:
  - model_name: main
    litellm_params:
      model: sonnet-pool
  - model_name: sonnet-pool
    litellm_params:
      model: anthropic/claude-sonnet-5-5
      api_base: BASE
    model_info:
      max_input_tokens: 200000
      input_cost_per_token: 0.000003
      output_cost_per_token: 0.000015
      cache_creation_input_token_cost: 0.00000375
      cache_read_input_token_cost: 0.0000003
  - model_name: background
    litellm_params:
      model: anthropic/claude-haiku-5-5
      api_base: BASE
  - model_name: "claude-*"
    litellm_params:
      model: anthropic/*
      api_base: BASE
]]):gsub("BASE", base)
end

local BIN = H.bin
local BASE_ENV = { HOST = false, CCPROXY_CONFIG_DIR = false, CCPROXY_STATUSLINE = false,
  CLAUDE_CONFIG_DIR = false }

-- Runs `ccproxy --config-dir dir <args>` with `stdin`; opts.env added to the environment.
-- Returns the result and the seconds it took.
local function ccproxy(dir, args, opts)
  opts = opts or {}
  local env = {}
  for k, v in pairs(BASE_ENV) do
    env[k] = v
  end
  for k, v in pairs(opts.env or {}) do
    env[k] = v
  end
  local argv = { BIN, "--config-dir", dir }
  for _, a in ipairs(args) do
    argv[#argv + 1] = a
  end
  local t0 = socket.gettime()
  local r = sh.run(argv, { env = env, stdin = opts.stdin, cwd = opts.cwd, timeout = 30 })
  return r, socket.gettime() - t0
end

-- What Claude Code writes on the status line command's stdin.
local function status_input(session, model_id)
  return H.encode({
    hook_event_name = "Status",
    session_id = session,
    transcript_path = "/tmp/transcript.jsonl",
    cwd = "/tmp",
    model = { id = model_id or "claude-sonnet-5-5", display_name = "Sonnet" },
    workspace = { current_dir = "/tmp", project_dir = "/tmp" },
    version = "2.1.332",
    output_style = { name = "default" },
    cost = { total_cost_usd = 0.5, total_duration_ms = 1000 },
  })
end

describe("per-session totals and the status line", function()
  local mock, proxy

  setup(function()
    mock = H.start_mock()
    proxy = H.start_proxy({ ccproxy_yaml = CCPROXY_YAML, config_yaml = config_yaml(mock:base()) })
  end)

  teardown(function()
    H.cleanup()
  end)

  before_each(function()
    mock:reset()
  end)

  after_each(function()
    proxy:check_clean()
  end)

  local function session(id)
    local res = proxy:request({ method = "GET", path = "/ccproxy/sessions/" .. id })
    return res, res.status == 200 and H.body_json(res) or nil
  end

  -- A request of session `sid` (in the header) answered with `usage`.
  local function ask(sid, usage, fields)
    mock:script({ { text = "ok", usage = usage } })
    local res = proxy:messages(H.messages_body(fields), {
      headers = { { "Content-Type", "application/json" }, { "X-Claude-Code-Session-Id", sid } },
    })
    assert.equal(200, res.status, res.body)
    H.settle()
    return res
  end

  -- The session's totals once `n` requests are in (the record is taken after the answer).
  local function wait_session(id, n)
    local s
    sh.wait_for(function()
      local _, got = session(id)
      s = got
      return s and s.requests >= n
    end, 3)
    assert.is_table(s, "no session " .. id)
    assert.equal(n, s.requests)
    return s
  end

  local SID = "5b3c0f7e-1111-4a2b-9c3d-abcdef012345"
  local A = { input_tokens = 1000, output_tokens = 200, cache_creation_input_tokens = 4000,
    cache_read_input_tokens = 40000 }
  local B = { input_tokens = 520, output_tokens = 300, cache_read_input_tokens = 44000 }
  local COST = (1000 * 3e-6 + 200 * 1.5e-5 + 4000 * 3.75e-6 + 40000 * 3e-7)
    + (520 * 3e-6 + 300 * 1.5e-5 + 44000 * 3e-7)

  it("adds up a session's requests (X-Claude-Code-Session-Id)", function()
    ask(SID, A, { stream = true })
    ask(SID, B)
    local s = wait_session(SID, 2)
    assert.equal(SID, s.session_id)
    assert.equal(0, s.errors)
    assert.same({ input = 1520, output = 500, cache_creation = 4000, cache_read = 84000 },
      s.tokens)
    assert.is_true(math.abs(s.cost_usd - COST) < 1e-9, tostring(s.cost_usd))
    assert.is_false(s.cost_unknown)
    assert.equal("main", s.label)
    assert.equal("sonnet-pool", s.deployment)
    assert.equal("claude-sonnet-5-5", s.model)
    assert.same({ tokens = 520 + 44000, window = 200000 }, s.context)
    assert.equal(1, #s.models)
    local m = s.models[1]
    assert.equal("sonnet-pool", m.deployment)
    assert.equal("claude-sonnet-5-5", m.model)
    assert.equal("claude-sonnet-5-5", m.requested_model)
    assert.equal(2, m.requests)
    -- The upstream got the deployment's model.
    assert.equal("claude-sonnet-5-5", H.decode(mock:last_request().body).model)
  end)

  it("prints the session's line for Claude Code's status line", function()
    local r, took = ccproxy(proxy.dir, { "statusline" },
      { stdin = status_input(SID), env = { PORT = proxy.port } })
    assert.equal(0, r.code, r.stderr)
    assert.equal("claude-sonnet-5-5 via sonnet-pool | main | 90k in 500 out | $0.05 | ctx 45k/200k\n",
      r.stdout)
    assert.equal("", r.stderr)
    assert.is_true(took < 1, "took " .. took .. " s")
  end)

  it("finds the port in ccproxy.yaml (litellm.port) without HOST or PORT", function()
    local dir = sh.tmpdir()
    sh.write_file(dir .. "/ccproxy.yaml", "litellm:\n  host: 0.0.0.0\n  port: " .. proxy.port .. "\n")
    local r = ccproxy(dir, { "statusline" }, { stdin = status_input(SID), env = { PORT = false } })
    assert.equal(0, r.code, r.stderr)
    assert.matches("^claude%-sonnet%-5%-5 via sonnet%-pool | main | ", r.stdout)
  end)

  it("counts other models and unknown costs; the line stays on the model Claude Code uses", function()
    ask(SID, { input_tokens = 30, output_tokens = 5 }, { model = "claude-haiku-5-5" })
    local s = wait_session(SID, 3)
    assert.is_true(s.cost_unknown)
    assert.is_true(math.abs(s.cost_usd - COST) < 1e-9)
    assert.equal("background", s.label)
    assert.equal("background", s.deployment)
    assert.same({ tokens = 30, window = H.json.null }, s.context)
    assert.equal(2, #s.models)
    assert.equal("background", s.models[2].deployment)
    assert.equal("claude-haiku-5-5", s.models[2].model)
    local r = ccproxy(proxy.dir, { "statusline" },
      { stdin = status_input(SID), env = { PORT = proxy.port } })
    assert.equal("claude-sonnet-5-5 via sonnet-pool (+1 more) | main | 90k in 505 out | $0.05+? "
      .. "| ctx 45k/200k\n", r.stdout)
    -- Claude Code on haiku: the line is about haiku's deployment (no window known).
    r = ccproxy(proxy.dir, { "statusline" },
      { stdin = status_input(SID, "claude-haiku-5-5"), env = { PORT = proxy.port } })
    assert.equal("claude-haiku-5-5 via background (+1 more) | background | 90k in 505 out "
      .. "| $0.05+? | ctx 30\n", r.stdout)
  end)

  it("reads the session from metadata.user_id", function()
    local sid = "0a1b2c3d-2222-4e5f-8a9b-0123456789ab"
    mock:script({ { text = "ok", usage = { input_tokens = 7, output_tokens = 3 } } })
    local res = proxy:messages(H.messages_body({
      metadata = { user_id = H.encode({ device_id = "dev", account_uuid = "", session_id = sid }) },
    }))
    assert.equal(200, res.status, res.body)
    local s = wait_session(sid, 1)
    assert.same({ input = 7, output = 3, cache_creation = 0, cache_read = 0 }, s.tokens)
    assert.equal("sonnet-pool", s.deployment)
  end)

  it("counts an error answer as an error, with no tokens and no unknown cost", function()
    local sid = "err-session"
    mock:script({ { status = 400, error = { type = "invalid_request_error", message = "no" } } })
    local res = proxy:messages(H.messages_body(), {
      headers = { { "Content-Type", "application/json" }, { "X-Claude-Code-Session-Id", sid } },
    })
    assert.equal(400, res.status)
    local s = wait_session(sid, 1)
    assert.equal(1, s.errors)
    assert.is_false(s.cost_unknown)
    assert.same({ tokens = H.json.null, window = 200000 }, s.context)
    local r = ccproxy(proxy.dir, { "statusline" },
      { stdin = status_input(sid), env = { PORT = proxy.port } })
    assert.equal("claude-sonnet-5-5 via sonnet-pool | main | 0 in 0 out | $0.00 | 1 error\n",
      r.stdout)
  end)

  it("answers an unknown session with an Anthropic 404, and other methods with 405", function()
    local res = session("no-such-session")
    assert.equal(404, res.status)
    local e = H.body_json(res)
    assert.equal("error", e.type)
    assert.equal("not_found_error", e.error.type)
    res = proxy:request({ method = "POST", path = "/ccproxy/sessions/" .. SID, body = "{}" })
    assert.equal(405, res.status)
    -- Percent-encoded ids are decoded.
    res = session(SID:gsub("%-", "%%2D"))
    assert.equal(200, res.status)
  end)

  it("answers when stdin stays open after the JSON", function()
    local p = H.spawn({ "sh", "-c", '(printf "%s\\n" "$1"; sleep 3) | { "$2" --config-dir "$3" '
      .. 'statusline; echo "rc=$?"; }', "sh", status_input(SID), BIN, proxy.dir },
      { env = { PORT = proxy.port, HOST = false } })
    local t0 = socket.gettime()
    local out = sh.wait_for(function()
      local text = p:stdout_text()
      return text:find("rc=", 1, true) and text
    end, 2.5)
    assert.is_string(out, "no answer while stdin was open")
    assert.is_true(socket.gettime() - t0 < 1, "took " .. (socket.gettime() - t0) .. " s")
    assert.matches("^claude%-sonnet%-5%-5 via sonnet%-pool %(%+1 more%) | main | .*\nrc=0\n$", out)
  end)

  it("prints nothing and exits 0 for a session the proxy does not know, or bad input", function()
    for _, input in ipairs({ status_input("never-seen"), "", "not json", "{}", '{"session_id": 5}' }) do
      local r = ccproxy(proxy.dir, { "statusline" }, { stdin = input, env = { PORT = proxy.port } })
      assert.equal(0, r.code)
      assert.equal("", r.stdout, input)
      assert.equal("", r.stderr, input)
    end
  end)

  it("prints nothing, exits 0 and returns quickly when the proxy is down or silent", function()
    local r, took = ccproxy(proxy.dir, { "statusline" },
      { stdin = status_input(SID), env = { PORT = sh.free_port() } })
    assert.equal(0, r.code)
    assert.equal("", r.stdout)
    assert.equal("", r.stderr)
    assert.is_true(took < 1, "took " .. took .. " s")
    -- Something that accepts and never answers: the budget (300 ms) ends it.
    local l = H.silent_listener()
    r, took = ccproxy(proxy.dir, { "statusline" },
      { stdin = status_input(SID), env = { PORT = l.port } })
    l:close()
    assert.equal(0, r.code)
    assert.equal("", r.stdout)
    assert.is_true(took < 1, "took " .. took .. " s")
  end)

  describe("ccproxy run claude", function()
    -- A fake `claude` on PATH: prints its arguments and the content of the --settings file.
    local bin
    setup(function()
      bin = sh.tmpdir()
      sh.write_file(bin .. "/claude", [[
#!/bin/sh
for a in "$@"; do printf 'arg:%s\n' "$a"; done
if [ "$1" = "--settings" ]; then printf 'file:%s\n' "$2"; cat "$2" 2>/dev/null; fi
exit 0
]], "755")
      os.execute("chmod 755 " .. sh.quote(bin .. "/claude"))
    end)

    local function run(args, opts)
      opts = opts or {}
      local env = { PATH = bin .. ":" .. os.getenv("PATH"), PORT = proxy.port,
        HOME = opts.home or sh.tmpdir() }
      for k, v in pairs(opts.env or {}) do
        env[k] = v
      end
      local r = ccproxy(proxy.dir, args, { env = env, cwd = opts.cwd or sh.tmpdir() })
      local out = { args = {}, file = r.stdout:match("\nfile:([^\n]+)\n") }
      for a in r.stdout:gmatch("arg:([^\n]*)") do
        out.args[#out.args + 1] = a
      end
      local text = r.stdout:match("\nfile:[^\n]+\n(.*)$")
      if text and text ~= "" then
        out.settings = H.decode(text)
      end
      return r, out
    end

    it("passes a --settings file whose statusLine runs ccproxy statusline, removed afterwards",
      function()
        local r, out = run({ "run", "claude", "-p", "hi there" })
        assert.equal(0, r.code, r.stderr)
        assert.equal("", r.stderr)
        assert.same({ "--settings", out.file, "-p", "hi there" }, out.args)
        assert.is_false(sh.exists(out.file), "the settings file is removed")
        local sl = out.settings.statusLine
        assert.equal("command", sl.type)
        assert.matches("' %-%-config%-dir '" .. proxy.dir:gsub("%p", "%%%0") .. "' statusline$",
          sl.command)
        -- The command, as Claude Code runs it (a shell, the JSON on stdin), prints the line.
        local cmd = sh.run({ "sh", "-c", sl.command },
          { stdin = status_input(SID), env = { PORT = proxy.port, HOST = false } })
        assert.equal(0, cmd.code, cmd.stderr)
        assert.matches("^claude%-sonnet%-5%-5 via sonnet%-pool %(%+1 more%) | main | ", cmd.stdout)
      end)

    it("names the binary by its absolute path", function()
      local _, out = run({ "run", "--", "claude" })
      local exe = out.settings.statusLine.command:match("^'([^']+)'")
      assert.equal("/", exe:sub(1, 1))
      assert.is_true(sh.exists(exe))
      assert.equal(sh.read_file(exe), sh.read_file(BIN))
    end)

    it("is off with --no-statusline or CCPROXY_STATUSLINE=0", function()
      local r, out = run({ "run", "--no-statusline", "claude", "-p", "x" })
      assert.equal(0, r.code, r.stderr)
      assert.same({ "-p", "x" }, out.args)
      assert.is_nil(out.file)
      r, out = run({ "run", "--no-statusline", "--", "claude" })
      assert.same({}, out.args)
      for _, v in ipairs({ "0", "off", "false" }) do
        r, out = run({ "run", "claude", "-p", "x" }, { env = { CCPROXY_STATUSLINE = v } })
        assert.same({ "-p", "x" }, out.args, v)
      end
    end)

    it("leaves the user's --settings, and a statusLine of their own, alone", function()
      local r, out = run({ "run", "claude", "--settings", "/my/settings.json", "-p", "x" })
      assert.equal(0, r.code, r.stderr)
      assert.same({ "--settings", "/my/settings.json", "-p", "x" }, out.args)
      assert.equal("", r.stderr)
      r, out = run({ "run", "claude", "--settings={}" })
      assert.same({ "--settings={}" }, out.args)
      -- ~/.claude/settings.json with a statusLine
      local home = sh.tmpdir()
      os.execute("mkdir -p " .. sh.quote(home .. "/.claude"))
      sh.write_file(home .. "/.claude/settings.json",
        '{"statusLine": {"type": "command", "command": "echo mine"}}')
      r, out = run({ "run", "claude" }, { home = home })
      assert.same({}, out.args)
      assert.equal("", r.stderr)
      -- the project's .claude/settings.local.json
      local project = sh.tmpdir()
      os.execute("mkdir -p " .. sh.quote(project .. "/.claude"))
      sh.write_file(project .. "/.claude/settings.local.json", '{"statusLine": {}}')
      r, out = run({ "run", "claude" }, { cwd = project })
      assert.same({}, out.args)
      -- settings without one do not count
      sh.write_file(home .. "/.claude/settings.json", '{"model": "opus"}')
      r, out = run({ "run", "claude" }, { home = home })
      assert.equal("--settings", out.args[1])
    end)

    it("only for claude", function()
      local r = ccproxy(proxy.dir, { "run", "sh", "-c", 'printf "%s|" "$@"', "sh", "a" },
        { env = { PORT = proxy.port } })
      assert.equal(0, r.code)
      assert.equal("a|", r.stdout)
    end)
  end)
end)
