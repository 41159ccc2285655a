-- spec/functional/containment_spec.lua: a broken script never costs a request or the proxy.
-- Rules that loop forever (also inside their own pcall) are stopped by the time budget and
-- count as no match; a hook that writes a global, or allocates without bound, is stopped and
-- skipped; a hook configured with on_error: fail turns its error into a 500 naming it.
-- And a script that tries to get out of its restricted environment cannot: no debug.sethook,
-- jit.on, rawset on its globals, ffi, io, os.execute, loaders, token store or the shared
-- metatables; a loop inside a coroutine is stopped like any other. ccproxy.scripts.trusted
-- gives the full libraries, still without the spec-only token store functions.
local H = require("proxy_harness")
local sh = require("sh")

local function write_scripts(dir)
  sh.run({ "mkdir", "-p", dir .. "/rules", dir .. "/hooks" })
  sh.write_file(dir .. "/rules/spin.lua", [[
return { match = function() while true do end end }
]])
  sh.write_file(dir .. "/rules/spin_pcall.lua", [[
-- Tries to swallow the stop with its own pcall, again and again.
return {
  match = function()
    while true do
      pcall(function() while true do end end)
    end
  end,
}
]])
  sh.write_file(dir .. "/hooks/leak_global.lua", [[
return { request = function(req) leaked_state = req.id end }
]])
  sh.write_file(dir .. "/hooks/hog.lua", [[
return {
  request = function()
    local t = {}
    for i = 1, 1e6 do t[i] = string.rep("x", 1024 * 1024) .. i end
  end,
}
]])
  sh.write_file(dir .. "/hooks/must.lua", [[
return { request = function() error("upstream credentials missing") end }
]])
end

-- One attempt per entry, each in its own pcall; the hook sends what happened upstream as
-- x-escape-<name> (the error's text, or "escaped" when the attempt worked).
local ESCAPES = [[
local attempts = {
  sethook = function() debug.sethook() end,
  jit = function() jit.on() end,
  rawset = function() rawset(_G, "leak", 1) end,
  setmetatable_g = function() setmetatable(_G, nil) end,
  ffi = function() return require("ffi") end,
  core = function() return require("ccproxy.core").oat_set end,
  io = function() return io.open("/etc/hostname") end,
  os_execute = function() return os.execute("true") end,
  os_getenv = function() return os.getenv("HOME") end,
  load = function() return load("return 1") end,
  loadstring = function() return loadstring("return 1") end,
  dofile = function() return dofile("/dev/null") end,
  setfenv = function() return setfenv(1, {}) end,
  getfenv = function() return getfenv(1) end,
  package = function() return package.loaded end,
  collectgarbage = function() return collectgarbage("stop") end,
  string_mt = function() return getmetatable("").__index end,
  string_dump = function() return string.dump(function() end) end,
  string_lib = function() string.rep = nil end,
  ccproxy_module = function() require("ccproxy").classify = nil end,
  json_marker = function()
    local mt = getmetatable(require("ccproxy").json.object())
    mt.__index = function() return "hijacked" end
  end,
  req_mt = function(req) getmetatable(req).__index = nil end,
}
return {
  request = function(req)
    for name, try in pairs(attempts) do
      local ok, err = pcall(try, req)
      req.headers["x-escape-" .. name] = ok and "escaped"
        or tostring(err):gsub("[\r\n].*", ""):sub(1, 400)
    end
    -- the string library of other scripts (and of ccproxy itself) is untouched
    req.headers["x-string-rep"] = ("ab"):rep(2)
  end,
}
]]

local TRUSTED = [[
return {
  request = function(req)
    local f = io.open("/dev/null")
    req.headers["x-trusted-io"] = tostring(f ~= nil)
    if f then f:close() end
    req.headers["x-trusted-libs"] = tostring(debug ~= nil and jit ~= nil and load ~= nil)
    req.headers["x-trusted-oat-set"] = tostring(require("ccproxy.core").oat_set)
  end,
}
]]

local function config_yaml(base)
  return H.claude_config(base, { background = true, default = true })
end

local function health(proxy)
  return H.body_json(proxy:request({ method = "GET", path = "/health" }))
end

describe("script containment", function()
  local mock

  setup(function()
    mock = H.start_mock()
  end)

  teardown(function()
    H.cleanup()
  end)

  before_each(function()
    mock:reset()
  end)

  describe("with runaway and misbehaving scripts", function()
    local proxy

    setup(function()
      local dir = sh.tmpdir()
      write_scripts(dir)
      proxy = H.start_proxy({
        dir = H.config_dir({ dir = dir, config_yaml = config_yaml(mock:base()), ccproxy_yaml = [[
ccproxy:
  scripts:
    budget: 0.2
    memory: 32MiB
  hooks:
    - ccproxy.hooks.rule_evaluator
    - leak_global
    - hog
    - ccproxy.hooks.model_router
  rules:
    - name: spin
      rule: spin
    - name: spin_pcall
      rule: spin_pcall
    - name: background
      rule: match_model
      params: {model_name: haiku}
]] }),
      })
    end)

    after_each(function()
      proxy:check_alive()
    end)

    it("stops loops by their budget, skips broken hooks, and still routes the request", function()
      local before = health(proxy).scripts
      local t0 = H.now()
      local res = proxy:messages(H.messages_body({ model = "claude-haiku-5-5", stream = false }))
      local elapsed = H.now() - t0
      assert.equal(200, res.status)
      assert.equal("background", res.headers["x-ccproxy-label"])
      assert.equal("up-background", H.decode(mock:last_request().body).model)
      -- two rules stopped at 0.2 s each, plus a hook that ran out of memory: well under 5 s
      assert.is_true(elapsed < 5, "took " .. elapsed .. " s")
      local after = health(proxy).scripts
      assert.equal(before.budget_exceeded + 2, after.budget_exceeded)
      assert.equal(before.rule_errors + 2, after.rule_errors)
      assert.equal(before.hook_errors + 2, after.hook_errors)
      assert.equal(before.memory_errors + 1, after.memory_errors)
      local log = proxy:log()
      assert.matches("rule 'spin' %(.-spin%.lua%) failed %(budget%) and counts as no match", log)
      assert.matches("rule 'spin_pcall' .- failed %(budget%)", log)
      assert.matches("assignment to global 'leaked_state'", log)
      assert.matches("hook 'hog' .- failed %(memory%) and was skipped", log)
    end)

    it("keeps serving other connections afterwards, with memory back under the limit", function()
      for _ = 1, 3 do
        local res = proxy:messages(H.messages_body({ model = "claude-haiku-5-5", stream = false }))
        assert.equal(200, res.status)
      end
      local h = health(proxy)
      assert.equal("ok", h.status)
      assert.is_true(h.scripts.memory_bytes < 32 * 1024 * 1024)
    end)
  end)

  describe("with scripts that try to leave their environment", function()
    local proxy

    setup(function()
      local dir = sh.tmpdir()
      sh.run({ "mkdir", "-p", dir .. "/rules", dir .. "/hooks" })
      sh.write_file(dir .. "/hooks/escapes.lua", ESCAPES)
      -- Each rule tries to switch its budget off, then loops.
      sh.write_file(dir .. "/rules/sethook_spin.lua", [[
return { match = function() pcall(function() debug.sethook() end) while true do end end }
]])
      sh.write_file(dir .. "/rules/jit_spin.lua", [[
return { match = function() pcall(function() jit.on() end) while true do end end }
]])
      sh.write_file(dir .. "/rules/coroutine_spin.lua", [[
return {
  match = function()
    -- a loop inside a coroutine, resumed again and again from a pcall
    while true do
      pcall(coroutine.resume, coroutine.create(function() while true do end end))
    end
  end,
}
]])
      sh.write_file(dir .. "/rules/error_object.lua", [[
-- an error whose __tostring never returns: it must not run outside the budget
return {
  match = function()
    error(setmetatable({}, { __tostring = function() while true do end end }))
  end,
}
]])
      proxy = H.start_proxy({
        dir = H.config_dir({ dir = dir, config_yaml = config_yaml(mock:base()), ccproxy_yaml = [[
ccproxy:
  scripts: {budget: 0.2}
  hooks:
    - escapes
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
  rules:
    - name: sethook_spin
      rule: sethook_spin
    - name: jit_spin
      rule: jit_spin
    - name: coroutine_spin
      rule: coroutine_spin
    - name: error_object
      rule: error_object
    - name: background
      rule: match_model
      params: {model_name: haiku}
]] }),
      })
    end)

    after_each(function()
      proxy:check_alive()
    end)

    it("refuses every way out, with a message that says how to opt in", function()
      local res = proxy:messages(H.messages_body({ model = "claude-haiku-5-5", stream = false }))
      assert.equal(200, res.status)
      local rec = mock:last_request()
      local function seen(name) return (H.record_header(rec, "x-escape-" .. name)) end
      local refused = "is not available to rules and hooks: rules and hooks run in a "
        .. "restricted environment"
      for _, name in ipairs({ "sethook", "jit", "io", "load", "loadstring", "dofile",
                              "setfenv", "getfenv", "package", "collectgarbage" }) do
        assert.matches(refused, seen(name), 1, true)
        assert.matches("set ccproxy.scripts.trusted: true in ccproxy.yaml", seen(name), 1, true)
      end
      assert.matches("escapes.lua:%d+: debug is not available", seen("sethook"))
      assert.matches("os.execute is not available", seen("os_execute"), 1, true)
      assert.matches("os.getenv is not available", seen("os_getenv"), 1, true)
      assert.matches("require('ffi'): rules and hooks may require only ccproxy, "
        .. "ccproxy.claude and ccproxy.redact", seen("ffi"), 1, true)
      assert.matches("require('ccproxy.core'): rules and hooks may require only",
        seen("core"), 1, true)
      assert.matches("rawset on a read-only table", seen("rawset"), 1, true)
      assert.matches("cannot change a protected metatable", seen("setmetatable_g"), 1, true)
      assert.matches("attempt to index a nil value", seen("string_mt"), 1, true)
      assert.matches("string.dump is not available", seen("string_dump"), 1, true)
      assert.equal("escaped", seen("string_lib")) -- its own copy of string
      assert.equal("abab", (H.record_header(rec, "x-string-rep")))
      assert.matches("ccproxy is read-only (setting classify)", seen("ccproxy_module"), 1, true)
      assert.matches("attempt to index", seen("json_marker"), 1, true)
      assert.matches("attempt to index", seen("req_mt"), 1, true)
      assert.equal("background", res.headers["x-ccproxy-label"])
      assert.equal("up-background", H.decode(rec.body).model)
    end)

    it("stops a loop after a try at the budget's switches, in a coroutine, or in __tostring",
      function()
      local before = health(proxy).scripts
      local t0 = H.now()
      local res = proxy:messages(H.messages_body({ model = "claude-haiku-5-5", stream = false }))
      assert.equal(200, res.status)
      assert.equal("background", res.headers["x-ccproxy-label"])
      assert.is_true(H.now() - t0 < 5, "took " .. (H.now() - t0) .. " s")
      local after = health(proxy).scripts
      assert.equal(before.budget_exceeded + 4, after.budget_exceeded)
      assert.equal(before.rule_errors + 4, after.rule_errors)
      local log = proxy:log()
      for _, name in ipairs({ "sethook_spin", "jit_spin", "coroutine_spin", "error_object" }) do
        assert.matches("rule '" .. name .. "' %(.-%) failed %(budget%) and counts as no match",
          log)
      end
    end)
  end)

  describe("with ccproxy.scripts.trusted", function()
    it("gives the full libraries, but never the spec-only token store functions", function()
      local dir = sh.tmpdir()
      sh.run({ "mkdir", "-p", dir .. "/hooks" })
      sh.write_file(dir .. "/hooks/trusted.lua", TRUSTED)
      local proxy = H.start_proxy({
        dir = H.config_dir({ dir = dir, config_yaml = config_yaml(mock:base()), ccproxy_yaml = [[
ccproxy:
  scripts: {trusted: true}
  hooks: [trusted]
]] }),
      })
      local res = proxy:messages(H.messages_body({ stream = false }))
      assert.equal(200, res.status)
      local rec = mock:last_request()
      assert.equal("true", (H.record_header(rec, "x-trusted-io")))
      assert.equal("true", (H.record_header(rec, "x-trusted-libs")))
      assert.equal("nil", (H.record_header(rec, "x-trusted-oat-set")))
      proxy:check_alive()
    end)
  end)

  describe("a hook that fills its memory with many small allocations", function()
    local proxy

    setup(function()
      local dir = sh.tmpdir()
      sh.run({ "mkdir", "-p", dir .. "/hooks" })
      sh.write_file(dir .. "/hooks/nibble.lua", [[
return {
  request = function()
    local t = {}
    for i = 1, 1e8 do t[i] = string.rep("x", 64) .. i end
  end,
}
]])
      proxy = H.start_proxy({
        dir = H.config_dir({ dir = dir, config_yaml = config_yaml(mock:base()), ccproxy_yaml = [[
ccproxy:
  scripts: {budget: 10, memory: 16MiB}
  hooks: [nibble]
]] }),
      })
    end)

    it("stops it every time and serves every request, with no crash afterwards", function()
      for _ = 1, 3 do
        local res = proxy:messages(H.messages_body({ stream = false }))
        assert.equal(200, res.status)
      end
      proxy:check_alive()
      local h = health(proxy)
      assert.equal(3, h.scripts.memory_errors)
      assert.matches("hook 'nibble' .- failed %(memory%) and was skipped: script stopped: it "
        .. "needed more memory than ccproxy.scripts.memory allows", proxy:log())
    end)
  end)

  it("refuses to start with a module whose top level never finishes, naming it", function()
    local dir = sh.tmpdir()
    sh.run({ "mkdir", "-p", dir .. "/rules" })
    sh.write_file(dir .. "/rules/hang.lua", "while true do end\nreturn { match = function() end }\n")
    H.config_dir({ dir = dir, config_yaml = config_yaml(mock:base()), ccproxy_yaml = [[
ccproxy:
  rules:
    - name: default
      rule: hang
]] })
    local t0 = H.now()
    local r = sh.run({ H.bin, "--config-dir", dir, "start" })
    assert.is_true(H.now() - t0 < 10)
    assert.equal(1, r.code)
    assert.matches("hang%.lua: its top level did not finish loading within 2000 ms", r.stderr)
  end)

  describe("a hook with on_error: fail", function()
    local proxy

    setup(function()
      local dir = sh.tmpdir()
      write_scripts(dir)
      proxy = H.start_proxy({
        dir = H.config_dir({ dir = dir, config_yaml = config_yaml(mock:base()), ccproxy_yaml = [[
ccproxy:
  hooks:
    - hook: must
      on_error: fail
]] }),
      })
    end)

    it("answers 500 naming the hook, and sends nothing upstream", function()
      local res = proxy:messages(H.messages_body({ stream = false }))
      assert.equal(500, res.status)
      local body = H.body_json(res)
      assert.equal("error", body.type)
      assert.equal("api_error", body.error.type)
      assert.matches("hook 'must' failed: .*upstream credentials missing", body.error.message)
      assert.equal(0, #mock:requests())
      proxy:check_alive()
    end)
  end)
end)
