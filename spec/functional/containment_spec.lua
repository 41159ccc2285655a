-- spec/functional/containment_spec.lua: a broken script never costs a request or the proxy.
-- Rules that loop forever (also inside their own pcall) are stopped by the time budget and
-- count as no match; a hook that writes a global, or allocates without bound, is stopped and
-- skipped; a hook configured with on_error: fail turns its error into a 500 naming it.
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
