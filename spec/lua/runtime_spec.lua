-- spec/lua/runtime_spec.lua: lua/ccproxy/runtime.lua: finding rule and hook modules, loading
-- them with errors that name the config position and the file, merging and checking params,
-- and running them.
local fx = require("fixtures")
local core = require("ccproxy.core")
local rt = require("ccproxy.runtime")

local MODS = fx.config("lua-modules")
local PLAIN = fx.config("lua-route") -- no rules/ or hooks/ of its own
local REPO = fx.repo

local function load(rules, hooks, extra)
  local spec = { config_dir = MODS, builtin_dir = REPO, rules = rules or {}, hooks = hooks or {} }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return rt.load(spec)
end

local function load_error(rules, hooks)
  local ok, err = load(rules, hooks)
  assert.is_false(ok)
  assert.is_string(err)
  return err
end

describe("runtime", function()
  describe("resolve", function()
    it("finds the built-ins by name", function()
      for _, name in ipairs({ "match_model", "thinking", "token_count", "match_tool",
                              "web_search" }) do
        assert.equal(REPO .. "/rules/" .. name .. ".lua", rt.resolve(name, "rules", PLAIN, REPO))
      end
      for _, name in ipairs({ "rule_evaluator", "model_router", "forward_apikey",
                              "extract_session_id" }) do
        assert.equal(REPO .. "/hooks/" .. name .. ".lua", rt.resolve(name, "hooks", PLAIN, REPO))
      end
    end)

    it("takes the Python tool's names", function()
      local python = {
        ["ccproxy.rules.TokenCountRule"] = "token_count",
        ["ccproxy.rules.MatchModelRule"] = "match_model",
        ["ccproxy.rules.ThinkingRule"] = "thinking",
        ["ccproxy.rules.MatchToolRule"] = "match_tool",
        ["ccproxy.rules.WebSearchRule"] = "web_search",
        ["ccproxy.rules.token_count"] = "token_count",
      }
      for name, base in pairs(python) do
        assert.equal(REPO .. "/rules/" .. base .. ".lua", rt.resolve(name, "rules", MODS, REPO))
      end
      assert.equal(REPO .. "/hooks/model_router.lua",
        rt.resolve("ccproxy.hooks.model_router", "hooks", MODS, REPO))
      assert.equal(REPO .. "/hooks/extract_session_id.lua",
        rt.resolve("ccproxy.hooks.extract_session_id", "hooks", MODS, REPO))
    end)

    it("lets a module in the config dir shadow a built-in name, not a ccproxy. name", function()
      assert.equal(MODS .. "/rules/thinking.lua", rt.resolve("thinking", "rules", MODS, REPO))
      assert.equal(REPO .. "/rules/thinking.lua",
        rt.resolve("ccproxy.rules.ThinkingRule", "rules", MODS, REPO))
      assert.equal(MODS .. "/rules/mine.lua", rt.resolve("mine", "rules", MODS, REPO))
      assert.equal(MODS .. "/hooks/tag.lua", rt.resolve("tag", "hooks", MODS, REPO))
    end)

    it("maps a dotted name to a path under the config dir", function()
      assert.equal(MODS .. "/team/big.lua", rt.resolve("team.big", "rules", MODS, REPO))
      local path, tried = rt.resolve("team.small", "rules", MODS, REPO)
      assert.is_nil(path)
      assert.same({ MODS .. "/team/small.lua" }, tried)
    end)

    it("lists the places it looked when nothing is there", function()
      local path, tried = rt.resolve("nope", "rules", MODS, REPO)
      assert.is_nil(path)
      assert.same({ MODS .. "/rules/nope.lua", REPO .. "/rules/nope.lua" }, tried)
      path, tried = rt.resolve("ccproxy.rules.DefaultRule", "rules", MODS, REPO)
      assert.is_nil(path)
      assert.same({ REPO .. "/rules/DefaultRule.lua" }, tried)
      -- a hook name is not a rule name
      assert.is_nil(rt.resolve("ccproxy.hooks.model_router", "rules", MODS, REPO))
    end)
  end)

  describe("load errors", function()
    it("names the config position and where it looked for a missing module", function()
      local err = load_error({ { name = "x", module = "nope", where = "ccproxy.yaml:30:7" } })
      assert.equal("ccproxy.yaml:30:7: rule module 'nope' not found (looked in " .. MODS
        .. "/rules/nope.lua, " .. REPO .. "/rules/nope.lua); write a built-in name, or create "
        .. MODS .. "/rules/nope.lua", err)
      err = load_error({ { name = "x", module = "ccproxy.rules.DefaultRule",
                           where = "ccproxy.yaml:31:7" } })
      assert.matches("^ccproxy.yaml:31:7: rule module 'ccproxy.rules.DefaultRule' not found", err)
      assert.matches("ccproxy has no such built-in rule; the built-ins are in " .. REPO
        .. "/rules", err, 1, true)
      err = load_error(nil, { { module = "team.hook", where = "ccproxy.yaml:4:7" } })
      assert.matches("ccproxy.yaml:4:7: hook module 'team.hook' not found (looked in " .. MODS
        .. "/team/hook.lua); write a built-in name, or create " .. MODS .. "/team/hook.lua",
        err, 1, true)
    end)

    it("gives a syntax error with file and line", function()
      local err = load_error({ { name = "s", module = "broken_syntax", where = "ccproxy.yaml:5:7" } })
      assert.equal("ccproxy.yaml:5:7: cannot load rule 'broken_syntax': " .. MODS
        .. "/rules/broken_syntax.lua:3: unexpected symbol near 'end'", err)
    end)

    it("says what shape a module must have", function()
      local err = load_error({ { name = "a", module = "no_match_fn", where = "ccproxy.yaml:6:7" } })
      assert.matches("ccproxy.yaml:6:7: cannot load rule 'no_match_fn': " .. MODS
        .. "/rules/no_match_fn.lua: a rule module must return a table with a match(req, params) "
        .. "function; it returned a table without match", err, 1, true)
      err = load_error({ { name = "b", module = "returns_string", where = "ccproxy.yaml:7:7" } })
      assert.matches("it returned string", err, 1, true)
      err = load_error(nil, { { module = "team.big", where = "ccproxy.yaml:8:7" } })
      assert.matches("ccproxy.yaml:8:7: cannot load hook 'team.big': " .. MODS
        .. "/team/big.lua: a hook module must return a table with a request(req, params) "
        .. "function", err, 1, true)
    end)

    it("reports a module that fails while loading", function()
      local err = load_error({ { name = "c", module = "raises_on_load", where = "ccproxy.yaml:9:7" } })
      assert.equal("ccproxy.yaml:9:7: cannot load rule 'raises_on_load': error while loading "
        .. MODS .. "/rules/raises_on_load.lua:2: cannot start: missing setting", err)
    end)

    it("reports every problem at once, one a line", function()
      local err = load_error({
        { name = "a", module = "nope", where = "ccproxy.yaml:1:1" },
        { name = "b", module = "no_match_fn", where = "ccproxy.yaml:2:1" },
        { name = "ok", module = "thinking", where = "ccproxy.yaml:3:1" },
        { name = "c", module = "raises_on_load", where = "ccproxy.yaml:4:1" },
        { name = "d", module = "broken_syntax", where = "ccproxy.yaml:5:1" },
      }, { { module = "nope_hook", where = "ccproxy.yaml:6:1" } })
      local lines = {}
      for line in err:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.equal(5, #lines)
      for i, n in ipairs({ 1, 2, 4, 5, 6 }) do
        assert.matches("^ccproxy.yaml:" .. n .. ":1:", lines[i])
      end
    end)

    it("keeps the modules loaded before when a load fails", function()
      assert.is_true(load({ { name = "think", module = "thinking", where = "w" } }))
      local before = rt.stats()
      assert.equal(1, before.rules)
      assert.equal(0, before.hooks)
      load_error({ { name = "x", module = "nope", where = "w" },
                   { name = "y", module = "mine", where = "w" } })
      local after = rt.stats()
      assert.equal(1, after.rules)
      assert.equal(0, after.hooks)
      -- a failed load counts no error of a rule or hook: none of them ran
      assert.equal(before.rule_errors, after.rule_errors)
      assert.equal(before.hook_errors, after.hook_errors)
      assert.equal("think", rt.classify(fx.request("a_say_hi")))
    end)

    it("loads modules as text only, never bytecode", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert.is_true(os.execute("mkdir -p '" .. dir .. "/rules'") == 0
        or os.execute("mkdir -p '" .. dir .. "/rules'") == true)
      local f = assert(io.open(dir .. "/rules/compiled.lua", "wb"))
      f:write(string.dump(function() return { match = function() return true end } end))
      f:close()
      local ok, err = rt.load { config_dir = dir, builtin_dir = REPO,
        rules = { { name = "c", module = "compiled", where = "ccproxy.yaml:2:3" } } }
      os.remove(dir .. "/rules/compiled.lua")
      os.remove(dir .. "/rules")
      os.remove(dir)
      assert.is_false(ok)
      assert.matches("ccproxy.yaml:2:3: cannot load rule 'compiled':", err, 1, true)
      assert.matches(dir .. "/rules/compiled.lua: is compiled bytecode; write the module as Lua "
        .. "source", err, 1, true)
    end)
  end)

  describe("params", function()
    it("merges config params over the module's defaults", function()
      assert.is_true(load({ { name = "m", module = "mine", params = { word = "opus", extra = "x" },
                              where = "w" } }))
      local req = fx.request("a_say_hi")
      assert.equal("m", rt.classify(req))
      assert.same({ word = "opus", times = 1, extra = "x" }, req.ctx.mine_params)
      assert.is_true(load({ { name = "m", module = "mine", where = "w" } }))
      req = fx.request("e_model_haiku")
      assert.equal("m", rt.classify(req))
      assert.same({ word = "haiku", times = 1 }, req.ctx.mine_params)
    end)

    it("checks each param against the type of its default", function()
      local err = load_error({ { name = "m", module = "mine", params = { times = "2", word = 5 },
                                 where = "ccproxy.yaml:14:9" } })
      assert.matches("ccproxy.yaml:14:9: rule 'm' param times must be a number (default 1), "
        .. "got string", err, 1, true)
      assert.matches("ccproxy.yaml:14:9: rule 'm' param word must be a string (default haiku), "
        .. "got number", err, 1, true)
      -- null leaves the check to the module
      assert.is_true(load({ { name = "m", module = "mine", params = { times = core.json.null },
                              where = "w" } }))
    end)

    it("runs the module's check and reports its verdict", function()
      local err = load_error({ { name = "c", module = "checked", params = { limit = 0 },
                                 where = "ccproxy.yaml:20:5" } })
      assert.equal("ccproxy.yaml:20:5: rule 'c' params rejected: limit must be positive", err)
      err = load_error({ { name = "c", module = "checked", params = { mode = "warp" },
                           where = "ccproxy.yaml:21:5" } })
      assert.matches("^ccproxy.yaml:21:5: rule 'c' params rejected: .*mode must be fast or slow",
        err)
      assert.is_true(load({ { name = "c", module = "checked", params = { limit = 3, mode = "slow" },
                              where = "w" } }))
    end)

    it("checks hook params the same way", function()
      local err = load_error(nil, { { module = "tag", params = { value = 3 },
                                      where = "ccproxy.yaml:40:7" } })
      assert.matches("ccproxy.yaml:40:7: hook 'tag' param value must be a string", err, 1, true)
    end)
  end)

  describe("running", function()
    it("uses a user module that shadows a built-in", function()
      assert.is_true(load({ { name = "shadowed", module = "thinking", where = "w" } }))
      local req = fx.body_request({ model = "m" }) -- no thinking: the built-in would not match
      assert.equal("shadowed", rt.classify(req))
      assert.is_true(req.ctx.shadow)
    end)

    it("uses a dotted user module with its params", function()
      assert.is_true(load({ { name = "big", module = "team.big", params = { min = 2 }, where = "w" } }))
      assert.equal("default", rt.classify(fx.request("a_say_hi"))) -- 2 messages
      assert.equal("big", rt.classify(fx.request("b_tool_roundtrip", { n = 2 }))) -- 4
    end)

    it("skips a hook that raises and runs the next", function()
      assert.is_true(load(nil, { { module = "explode", where = "w" }, { module = "tag", where = "w" } }))
      local before = rt.stats().hook_errors
      local req = fx.request("a_say_hi")
      rt.run(req)
      assert.equal(before + 1, rt.stats().hook_errors)
      assert.same({ "none" }, req.ctx.tags)
      local n = #req.headers()
      assert.same({ "x-tag", "none" }, core.finish(req).headers[n])
    end)

    it("hands the settings to ccproxy.config()", function()
      assert.is_true(load(nil, nil, { default_model_passthrough = false, debug = true,
        oat_sources = { anthropic = { command = "echo t", user_agent = "UA/1" } } }))
      local cfg = require("ccproxy").config()
      assert.is_false(cfg.default_model_passthrough)
      assert.is_true(cfg.debug)
      assert.equal(MODS, cfg.config_dir)
      assert.same({ anthropic = { command = "echo t", user_agent = "UA/1" } }, cfg.oat_sources)
      assert.equal(MODS, rt.spec().config_dir)
      assert.is_true(load())
      assert.is_true(require("ccproxy").config().default_model_passthrough)
    end)
  end)
end)
