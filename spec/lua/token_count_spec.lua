-- spec/lua/token_count_spec.lua: rules/token_count.lua and the estimate behind it
-- (req:tokens, req:tokens_over) on real Claude Code requests and crafted bodies.
local fx = require("fixtures")
local core = require("ccproxy.core")

describe("rule token_count", function()
  it("puts the fixtures between 5000 and 60000 tokens", function()
    for _, name in ipairs(fx.messages) do
      local n = fx.request(name):tokens()
      assert.is_true(n > 10000 and n < 30000, name .. ": " .. n)
    end
  end)

  it("matches above the threshold only", function()
    for _, name in ipairs(fx.messages) do
      assert.is_true(fx.rule("token_count", { threshold = 5000 })(fx.request(name)), name)
      assert.is_false(fx.rule("token_count", { threshold = 60000 })(fx.request(name)), name)
      assert.is_false(fx.rule("token_count")(fx.request(name)), name) -- default 60000
    end
  end)

  it("is strictly greater than, at the exact count", function()
    local n = fx.request("a_say_hi"):tokens()
    assert.is_false(fx.rule("token_count", { threshold = n })(fx.request("a_say_hi")))
    assert.is_true(fx.rule("token_count", { threshold = n - 1 })(fx.request("a_say_hi")))
  end)

  it("gives tokens_over the same answer whether or not the count was made", function()
    -- a fresh request decides from the cheap bound when it can; a counted one from the count
    for _, name in ipairs({ "a_say_hi", "e_model_sonnet45" }) do
      local n = fx.request(name):tokens()
      for _, t in ipairs({ 0, 1000, n - 1, n, n + 1, 2 * n, 10 * n, 1e9 }) do
        local fresh = fx.request(name)
        assert.equal(n > t, fresh:tokens_over(t), name .. " " .. t)
        assert.equal(n, fresh:tokens())
        assert.equal(n > t, fresh:tokens_over(t), name .. " " .. t .. " after counting")
      end
    end
  end)

  it("answers a tiny body without reaching the threshold", function()
    local req = fx.body_request({ model = "m", messages = { { role = "user", content = "hi" } } })
    assert.is_false(fx.rule("token_count", { threshold = 1000 })(req))
    local n = req:tokens()
    assert.is_true(n >= 1 and n < 10, tostring(n))
    assert.is_true(fx.rule("token_count", { threshold = 0 })(req))
    assert.is_false(fx.rule("token_count", { threshold = 0 })(fx.body_request("{}")))
  end)

  it("counts system and tools, not only messages", function()
    local text = string.rep("word ", 400)
    local bare = fx.body_request({ messages = { { role = "user", content = "hi" } } }):tokens()
    local sys = fx.body_request({ system = text,
                                  messages = { { role = "user", content = "hi" } } }):tokens()
    local tools = fx.body_request({ messages = { { role = "user", content = "hi" } },
                                    tools = { { name = "t", description = text,
                                                input_schema = { type = "object" } } } }):tokens()
    assert.is_true(sys > bare + 200, sys .. " vs " .. bare)
    assert.is_true(tools > bare + 200, tools .. " vs " .. bare)
  end)

  it("counts the count_tokens fixtures too", function()
    local small = fx.request("count_tokens", { n = 6, kind = "count_tokens" })
    local big = fx.request("count_tokens", { n = 5, kind = "count_tokens" })
    assert.equal("count_tokens", small.endpoint)
    assert.is_true(big:tokens() > small:tokens())
    assert.is_false(fx.rule("token_count", { threshold = 5000 })(big))
  end)

  it("counts the client's body, not later edits", function()
    local req = fx.request("a_say_hi")
    local n = req:tokens()
    req.body.system = "short"
    assert.equal(n, req:tokens())
    core.finish(req)
  end)

  it("rejects a negative or non-number threshold at load", function()
    local rt = require("ccproxy.runtime")
    local function load(params)
      return rt.load { config_dir = fx.config("lua-route"), builtin_dir = fx.repo,
        rules = { { name = "big", module = "ccproxy.rules.TokenCountRule", params = params,
                    where = "ccproxy.yaml:4:7" } } }
    end
    local ok, err = load({ threshold = -1 })
    assert.is_false(ok)
    assert.matches("ccproxy.yaml:4:7: rule 'big' params rejected: threshold must be >= 0", err,
      1, true)
    ok, err = load({ threshold = "60000" })
    assert.is_false(ok)
    assert.matches("param threshold must be a number (default 60000), got string", err, 1, true)
    assert.is_true(load({ threshold = 0 }))
  end)
end)
