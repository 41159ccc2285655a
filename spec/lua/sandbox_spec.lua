-- spec/lua/sandbox_spec.lua: what rules and hooks run in (lua/ccproxy/sandbox.lua and the
-- runtime): the restricted environment, the read-only request rules get, and modules loaded
-- from the texts a generation keeps rather than from their files.
local fx = require("fixtures")
local core = require("ccproxy.core")
local rt = require("ccproxy.runtime")

local DIR = "/nonexistent/ccproxy-config" -- nothing on disk: every module comes from sources

-- Loads rules and hooks given as texts; returns the runtime.
local function load(rules, hooks, extra)
  local spec = { config_dir = DIR, builtin_dir = fx.repo, rules = {}, hooks = {}, sources = {} }
  for i, r in ipairs(rules or {}) do
    spec.sources[DIR .. "/rules/" .. r[1] .. ".lua"] = r[2]
    spec.rules[i] = { name = r[1], module = r[1], where = "ccproxy.yaml:" .. i .. ":5" }
  end
  for i, h in ipairs(hooks or {}) do
    spec.sources[DIR .. "/hooks/" .. h[1] .. ".lua"] = h[2]
    spec.hooks[i] = { module = h[1], where = "ccproxy.yaml:" .. i .. ":9" }
  end
  for k, v in pairs(extra or {}) do spec[k] = v end
  assert(rt.load(spec))
  return rt
end

-- The error a rule raised, from the message the runtime logs.
local function rule_error(text)
  load({ { "r", text } })
  local errors = {}
  rt.run(fx.request("a_say_hi"), { log = function(_, msg) errors[#errors + 1] = msg end })
  local req = fx.request("a_say_hi")
  local ok, res = rt.match_rule(rt.loaded()[1], req)
  core.finish(req)
  assert.is_false(ok)
  return res
end

describe("sandbox", function()
  it("loads modules from the texts it is given, and hands them back", function()
    load({ { "yes", "return { match = function() return true end }" } })
    assert.equal("yes", rt.classify(fx.request("a_say_hi")))
    assert.same({ [DIR .. "/rules/yes.lua"] = "return { match = function() return true end }" },
                rt.sources())
    -- a name the texts do not have is not looked for on disk
    local ok, err = rt.load { config_dir = DIR, builtin_dir = fx.repo, sources = {},
      rules = { { name = "x", module = "token_count", where = "ccproxy.yaml:3:5" } } }
    assert.is_false(ok)
    assert.matches("ccproxy.yaml:3:5: rule module 'token_count' not found", err, 1, true)
  end)

  it("gives file:line for errors in a module loaded from memory", function()
    local err = rule_error("return { match = function(req)\n  return nil + 1\nend }")
    assert.equal(1, err:find(DIR .. "/rules/r.lua:2: attempt to perform arithmetic", 1, true))
  end)

  it("leaves debug, jit, io, os.execute and the loaders out, saying how to opt in", function()
    for _, expr in ipairs({ "debug.sethook()", "jit.on()", "io.open('/dev/null')",
                            "os.execute('true')", "load('return 1')", "setfenv(1, {})",
                            "collectgarbage('stop')", "string.dump(print)" }) do
      local err = rule_error("return { match = function() " .. expr .. " end }")
      assert.matches("is not available to rules and hooks", err, 1, true)
      assert.matches("set ccproxy.scripts.trusted: true", err, 1, true)
    end
    assert.matches("rules and hooks may require only",
      rule_error("return { match = function() local x = require('ffi') return x end }"), 1, true)
    assert.matches("assignment to global 'x'",
      rule_error("return { match = function() x = 1 end }"), 1, true)
  end)

  it("keeps what rules need: string, table, math, os.time, pcall, coroutines", function()
    load({ { "ok", [[
return { match = function(req)
  local co = coroutine.wrap(function() coroutine.yield(("x"):rep(2)) end)
  return co() == "xx" and math.max(1, 2) == 2 and table.concat({ "a", "b" }) == "ab"
    and type(os.time()) == "number" and pcall(error, "e") == false
    and require("ccproxy.claude").OAUTH_BETA == "oauth-2025-04-20"
end }
]] } })
    assert.equal("ok", rt.classify(fx.request("a_say_hi")))
  end)

  it("gives trusted modules the full globals", function()
    load({ { "t", "return { match = function() return io ~= nil and debug ~= nil end }" } }, nil,
      { trusted = true })
    assert.equal("t", rt.classify(fx.request("a_say_hi")))
  end)

  it("has core.defaults from config.c for loads without a configuration", function()
    assert.equal(200, core.defaults.budget_ms)
    assert.is_false(core.defaults.trusted)
  end)
end)

describe("rules read, hooks write", function()
  local function refused(body)
    return rule_error("return { match = function(req) " .. body .. " end }")
  end

  it("raises for every change in match(), naming it", function()
    assert.matches("setting req.model in a rule: rules only read the request",
      refused("req.model = 'x'"), 1, true)
    assert.matches("setting req.headers[\"x-a\"] in a rule",
      refused("req.headers['x-a'] = 'b'"), 1, true)
    assert.matches("req:route() in a rule", refused("req:route('default')"), 1, true)
    assert.matches("req:tag() in a rule", refused("req:tag('a', 1)"), 1, true)
    assert.matches("req:oauth_token() in a rule", refused("req:oauth_token('anthropic')"), 1,
      true)
    assert.equal(1, refused("req.label = 'x'"):find(DIR .. "/rules/r.lua:1: setting req.label", 1,
      true))
  end)

  it("lets rules read a copy of the body: their edits go nowhere", function()
    load({ { "edit", [[
return { match = function(req)
  req.body.model = "changed"
  req.body.messages[1].content = "changed"
  return req.body.model == "changed"
end }
]] } }, { { "reads", [[
return { request = function(req)
  req.ctx.label = require("ccproxy").classify(req)
  req.ctx.model = req.body.model
  req.ctx.writes = pcall(function() req.headers["x-after"] = "1" end)
end }
]] } })
    local req = fx.request("a_say_hi")
    rt.run(req)
    assert.equal("edit", req.ctx.label)
    assert.equal("claude-opus-5-5", req.ctx.model) -- the hook sees the client's body
    assert.is_true(req.ctx.writes) -- writable again once the rules are done
    local out = core.finish(req)
    assert.is_false(out.body_changed)
    assert.equal(fx.body("a_say_hi"), out.body)
  end)
end)
