-- spec/lua/subagent_spec.lua: hooks/subagent.lua: the <CCR-SUBAGENT-MODEL> tag of an agent's
-- system prompt or first user message sets req.ctx.route and leaves the body; model_router
-- then routes there. rules/subagent.lua only reads: it matches what the hook found.
local fx = require("fixtures")
local core = require("ccproxy.core")
local json = require("ccproxy").json

local CFG = fx.config("hooks-route")
local HOOK = dofile(fx.repo .. "/hooks/subagent.lua")
local DEFAULTS = { tag = "CCR-SUBAGENT-MODEL" }

local function tag(value, name)
  name = name or "CCR-SUBAGENT-MODEL"
  return "<" .. name .. ">" .. value .. "</" .. name .. ">"
end

-- a_say_hi with the tag put into its raw bytes, at the start of system[3]'s text (after its
-- leading newline) followed by a blank line, as an agent file's first lines would put it.
local SYSTEM_AT = '"text":"\\nYou are an agent working'
local function in_system(raw, value)
  return fx.replace(raw, SYSTEM_AT,
    '"text":"\\n' .. tag(value) .. '\\n\\nYou are an agent working')
end

-- ... and in the first user message's second text block ("say hi").
local function in_message(raw, value)
  return fx.replace(raw, '"text":"say hi"', '"text":"' .. tag(value) .. '\\n\\nsay hi"')
end

-- `req` seen through a table whose :log calls are recorded.
local function logging(req)
  local lines = {}
  local view = setmetatable({}, {
    __index = function(_, k)
      if k == "log" then
        return function(_, level, msg) lines[#lines + 1] = { level = level, msg = msg } end
      end
      local v = req[k]
      if type(v) == "function" then return function(_, ...) return v(req, ...) end end
      return v
    end,
    __newindex = function(_, k, v) req[k] = v end,
  })
  return view, lines
end

-- Runs the hook on `req`; true when it found a tag that names a target.
local function match(req, params)
  local view, lines = logging(req)
  HOOK.request(view, params or DEFAULTS)
  return req.ctx.subagent ~= nil, lines
end

local function body_request(body)
  return fx.body_request(type(body) == "table" and json.encode(body) or body,
                         { config_dir = CFG })
end

local PIPELINE = {
  config_dir = CFG,
  rules = { { "subagent", "subagent" }, { "claude-haiku-5-5", "match_model",
                                          { model_name = "claude" } } },
  hooks = { "subagent", "rule_evaluator", "model_router" },
}

describe("rule subagent", function()
  it("matches what the hook found, and only reads", function()
    local m = fx.rule("subagent")
    local raw = fx.body("a_say_hi")
    local req = fx.request("a_say_hi", { body = in_system(raw, "openai,gpt-5") })
    HOOK.request(req, DEFAULTS)
    assert.is_true(m(req))
    -- without the hook: the tag is seen, a warning says what is missing, nothing changes
    local body = in_system(raw, "openai,gpt-5")
    req = fx.request("a_say_hi", { body = body })
    local view, lines = logging(req)
    assert.is_true(dofile(fx.repo .. "/rules/subagent.lua").match(view, DEFAULTS))
    assert.matches("carries <CCR-SUBAGENT-MODEL> but no subagent hook ran before "
      .. "rule_evaluator", lines[1].msg, 1, true)
    assert.is_true(m(req)) -- read-only, through the runtime
    assert.is_nil(req.ctx.route)
    local out = core.finish(req)
    assert.is_false(out.body_changed)
    assert.equal(body, out.body)
  end)
end)

describe("hook subagent", function()
  it("matches no fixture, and reads them without decoding or changing the body", function()
    local m = fx.rule("subagent")
    for _, name in ipairs(fx.messages) do
      local req = fx.request(name)
      assert.is_false(m(req), name)
      assert.is_nil(req.ctx.route)
      local out = core.finish(req)
      assert.is_false(out.body_changed, name)
      assert.equal(fx.body(name), out.body)
    end
  end)

  it("takes the tag out of the system prompt, leaving every other byte as it was", function()
    local raw = fx.body("a_say_hi")
    local req = fx.request("a_say_hi", { body = in_system(raw, "openai,gpt-5") })
    assert.is_true((match(req)))
    assert.equal("openai/gpt-5", req.ctx.route)
    local out = core.finish(req)
    assert.is_true(out.body_changed)
    assert.equal(raw, out.body)
  end)

  it("takes the tag out of the first user message, leaving every other byte", function()
    local raw = fx.body("a_say_hi")
    local req = fx.request("a_say_hi", { body = in_message(raw, "claude-haiku-5-5") })
    assert.is_true((match(req)))
    assert.equal("claude-haiku-5-5", req.ctx.route) -- no comma: a model_name
    assert.equal(raw, core.finish(req).body)
    -- a long real conversation (thinking blocks, tool results, a system message)
    raw = fx.body("b_tool_roundtrip", 2)
    local body = fx.replace(raw, '"messages":[{"role":"user","content":[{"type":"text","text":"',
      '"messages":[{"role":"user","content":[{"type":"text","text":"' .. tag("gemini,gemini-3-pro")
      .. '\\n')
    req = fx.request("b_tool_roundtrip", { n = 2, body = body })
    assert.is_true((match(req)))
    assert.equal("gemini/gemini-3-pro", req.ctx.route)
    assert.equal(raw, core.finish(req).body)
  end)

  it("routes the subagent there through model_router", function()
    local raw = fx.body("a_say_hi")
    local run = fx.pipeline(PIPELINE)
    local req = run(fx.request("a_say_hi", { config_dir = CFG,
                                             body = in_system(raw, " openai , gpt-5 ") }))
    assert.equal("subagent", req.label)
    local out = core.finish(req)
    assert.equal("gpt", out.deployment.model_name)
    assert.equal("openai", out.deployment.provider)
    assert.equal("gpt-5", out.model)
    assert.equal(fx.replace(raw, '"model":"claude-opus-5-5"', '"model":"gpt-5"'), out.body)
    -- a provider's wildcard deployment, with the model as written
    req = run(fx.request("a_say_hi", { config_dir = CFG,
                                       body = in_message(raw, "gemini,gemini-3-flash") }))
    out = core.finish(req)
    assert.equal("gemini-*", out.deployment.model_name)
    assert.equal("gemini-3-flash", out.model)
    -- a model_name
    req = run(fx.request("a_say_hi", { config_dir = CFG, body = in_system(raw, "keyed") }))
    out = core.finish(req)
    assert.equal("keyed", out.deployment.model_name)
    assert.equal("claude-keyed-1", out.model)
  end)

  it("falls back to the label when the target is not configured", function()
    local raw = fx.body("a_say_hi")
    local req = fx.pipeline(PIPELINE)(fx.request("a_say_hi", { config_dir = CFG,
      body = in_system(raw, "openai,gpt-nope") }))
    assert.equal("subagent", req.label)
    local out = core.finish(req)
    -- the label "subagent" has no entry: the "default" entry
    assert.equal("claude-sonnet-5-5", out.deployment.model_name)
    assert.equal("default", out.deployment.via)
    -- and the tag is gone all the same
    assert.equal(fx.replace(raw, '"model":"claude-opus-5-5"', '"model":"claude-sonnet-5-5"'),
                 out.body)
  end)

  it("reads a system string and removes the tag with its blank line", function()
    local cases = {
      { tag("a,b") .. "\n\nYou review code.", "You review code." },
      { "Intro.\n\n" .. tag("a,b") .. "\n\nRules.", "Intro.\n\nRules." },
      { "Intro.\n" .. tag("a,b") .. "\n\nRules.", "Intro.\n\nRules." },
      { "Intro.\n\n" .. tag("a,b") .. "\nRules.", "Intro.\n\nRules." },
      { "Intro.\n\n  " .. tag("a,b") .. "  \r\n\r\nRules.", "Intro.\n\nRules." },
      { "Intro.\n\n" .. tag("a,b") .. "\n", "Intro." },
      { "Use " .. tag("a,b") .. " here.", "Use here." },
      { "Use" .. tag("a,b") .. ".", "Use." },
      { tag("a,b") .. "\n" .. tag("c,d") .. "\n\nBoth.", "Both." },
    }
    for _, case in ipairs(cases) do
      local req = body_request({ model = "m", system = case[1],
                                 messages = { { role = "user", content = "hi" } } })
      assert.is_true((match(req)))
      assert.equal("a/b", req.ctx.route)
      assert.equal(case[2], json.decode(core.finish(req).body).system, case[1])
    end
  end)

  it("drops a system block that held only the tag, and a system left empty", function()
    local req = body_request({ model = "m", messages = { { role = "user", content = "hi" } },
      system = { { type = "text", text = "head" }, { type = "text", text = tag("a,b") .. "\n" },
                 { type = "text", text = "tail", cache_control = { type = "ephemeral" } } } })
    assert.is_true((match(req)))
    assert.same({ { type = "text", text = "head" },
                  { type = "text", text = "tail", cache_control = { type = "ephemeral" } } },
                json.decode(core.finish(req).body).system)
    for _, system in ipairs({ tag("x"), { { type = "text", text = " " .. tag("x") .. " " } } }) do
      req = body_request({ model = "m", system = system,
                           messages = { { role = "user", content = "hi" } } })
      assert.is_true((match(req)))
      local out = json.decode(core.finish(req).body)
      assert.is_nil(out.system)
      assert.equal("hi", out.messages[1].content)
    end
  end)

  it("reads the first user message only, as a string or text blocks", function()
    local req = body_request({ model = "m", messages = {
      { role = "user", content = tag("p,m") .. "\n\nDo it." },
      { role = "assistant", content = "ok" },
      { role = "user", content = tag("q,n") } } })
    assert.is_true((match(req)))
    assert.equal("p/m", req.ctx.route)
    local out = json.decode(core.finish(req).body)
    assert.equal("Do it.", out.messages[1].content)
    assert.equal(tag("q,n"), out.messages[3].content) -- a later message is the user's text
    req = body_request({ model = "m", messages = {
      { role = "user", content = "first" }, { role = "assistant", content = "ok" },
      { role = "user", content = tag("q,n") } } })
    assert.is_false((match(req)))
    assert.is_false(core.finish(req).body_changed)
    req = body_request({ model = "m", messages = { { role = "user", content = {
      { type = "text", text = tag("p,m") },
      { type = "image", source = { type = "base64", media_type = "image/png", data = "AA" } },
      { type = "text", text = "see " .. tag("r,s") .. " this" } } } } })
    assert.is_true((match(req)))
    assert.equal("p/m", req.ctx.route)
    out = json.decode(core.finish(req).body)
    assert.same({ "image", "text" }, { out.messages[1].content[1].type,
                                       out.messages[1].content[2].type })
    assert.equal("see this", out.messages[1].content[2].text)
  end)

  it("prefers the system prompt's tag and removes both", function()
    local req = body_request({ model = "m", system = tag("sys,one"),
      messages = { { role = "user", content = tag("msg,two") .. "\n\nhi" } } })
    assert.is_true((match(req)))
    assert.equal("sys/one", req.ctx.route)
    local out = json.decode(core.finish(req).body)
    assert.is_nil(out.system)
    assert.equal("hi", out.messages[1].content)
  end)

  it("removes a malformed tag without matching, with a warning", function()
    for _, value in ipairs({ "", "openai,", ",gpt-5", "two words", "a/b,c" }) do
      local req = body_request({ model = "m", system = "S " .. tag(value) .. " T",
                                 messages = { { role = "user", content = "hi" } } })
      local ok, lines = match(req)
      assert.is_false(ok, value)
      assert.is_nil(req.ctx.route)
      assert.equal(1, #lines)
      assert.equal("warn", lines[1].level)
      assert.equal("subagent: " .. tag(value) .. " is not \"provider,model\" or a model name; "
        .. "the tag was removed and the request is routed as usual", lines[1].msg)
      assert.equal("S T", json.decode(core.finish(req).body).system)
    end
  end)

  it("leaves an opening tag without its end in place", function()
    local req = body_request({ model = "m", system = "<CCR-SUBAGENT-MODEL>a,b and no end",
                               messages = { { role = "user", content = "hi" } } })
    assert.is_false((match(req)))
    assert.is_false(core.finish(req).body_changed)
  end)

  it("answers the same when the rules run again on the request", function()
    local req = body_request({ model = "m", system = tag("a,b"),
                               messages = { { role = "user", content = "hi" } } })
    assert.is_true((match(req)))
    assert.is_true((match(req)))
    assert.equal("a/b", req.ctx.route)
  end)

  it("takes another tag name from params", function()
    local params = { tag = "MODEL" }
    local req = body_request({ model = "m", system = tag("a,b", "MODEL") .. "\n\nx",
                               messages = { { role = "user", content = "hi" } } })
    assert.is_true((match(req, params)))
    assert.equal("x", json.decode(core.finish(req).body).system)
    req = body_request({ model = "m", system = tag("a,b"),
                         messages = { { role = "user", content = "hi" } } })
    assert.is_false((match(req, params)))
    assert.is_true(fx.rule("subagent", params)(body_request({ model = "m",
      messages = { { role = "user", content = tag("a,b", "MODEL") } } })))
    local rt = require("ccproxy.runtime")
    local ok, err = rt.load { config_dir = CFG, builtin_dir = fx.repo, rules = {
      { name = "subagent", module = "subagent", params = { tag = "<MODEL>" },
        where = "ccproxy.yaml:5:5" } } }
    assert.is_false(ok)
    assert.equal("ccproxy.yaml:5:5: rule 'subagent' params rejected: tag must be letters, "
      .. "digits, '_' or '-' (written without < >), got '<MODEL>'", err)
  end)
end)
