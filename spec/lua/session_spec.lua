-- spec/lua/session_spec.lua: rules/session.lua: the requests of the listed Claude Code sessions,
-- the id read from metadata.user_id or the X-Claude-Code-Session-Id header (ccproxy.claude).
local fx = require("fixtures")
local core = require("ccproxy.core")
local claude = require("ccproxy.claude")

local OAUTH_SESSION = "dbb1ba13-71a2-4fc1-8750-82e8aa660fde" -- c_oauth's
local SAY_HI_SESSION = "e8788ba3-0afb-42db-a340-75985313d704" -- a_say_hi's
local LEGACY = "user_" .. string.rep("ab", 32) .. "_account_a929b7ef-d758-4a98-b88e-07166e6c8537"
  .. "_session_d2101641-25fd-4f4b-b8de-30cf972ee5d3"

local function with_user_id(user_id, headers)
  return fx.body_request({ model = "m", metadata = { user_id = user_id } }, { headers = headers })
end

describe("rule session", function()
  it("matches the fixture of a listed session and no other", function()
    local match = fx.rule("session", { sessions = { OAUTH_SESSION } })
    for _, name in ipairs(fx.messages) do
      assert.equal(name == "c_oauth", match(fx.request(name)), name)
    end
  end)

  it("takes any of several sessions, in any letter case", function()
    local match = fx.rule("session", { sessions = { "other", SAY_HI_SESSION:upper(),
                                                     OAUTH_SESSION } })
    assert.is_true(match(fx.request("a_say_hi")))
    assert.is_true(match(fx.request("c_oauth")))
    assert.is_false(match(fx.request("e_model_haiku")))
  end)

  it("reads the session from the header when the body has none", function()
    local match = fx.rule("session", { sessions = { "hdr-1" } })
    local headers = { { "X-Claude-Code-Session-Id", "hdr-1" } }
    assert.is_true(match(fx.body_request({ model = "m" }, { headers = headers })))
    assert.is_true(match(with_user_id("{\"device_id\":\"d\",\"session_id\":\"\"}", headers)))
    assert.is_false(match(fx.body_request({ model = "m" })))
    -- a fixture without its metadata: the header alone
    local body = core.json.decode(fx.body("c_oauth"))
    body.metadata = nil
    local req = fx.request("c_oauth", { body = core.json.encode(body) })
    assert.is_true(fx.rule("session", { sessions = { OAUTH_SESSION } })(req))
  end)

  it("reads the session from metadata.user_id when there is no header", function()
    local match = fx.rule("session", { sessions = { OAUTH_SESSION } })
    assert.is_true(match(fx.request("c_oauth", { drop = { "x-claude-code-session-id" } })))
    local legacy = fx.rule("session", { sessions = { "d2101641-25fd-4f4b-b8de-30cf972ee5d3" } })
    assert.is_true(legacy(with_user_id(LEGACY)))
  end)

  it("prefers metadata.user_id over the header, as extract_session_id does", function()
    local req = with_user_id(core.json.encode({ session_id = "from-body" }),
                             { { "X-Claude-Code-Session-Id", "from-header" } })
    assert.is_true(fx.rule("session", { sessions = { "from-body" } })(req))
    assert.is_false(fx.rule("session", { sessions = { "from-header" } })(req))
    assert.same({ "from-body", "metadata", {} }, { claude.session_id(req) })
  end)

  it("uses req.session_id when a hook set it", function()
    local run = fx.pipeline {
      rules = { { "pinned", "session", { sessions = { "set-by-hook" } } } },
      hooks = { "rule_evaluator" } }
    local req = fx.request("a_say_hi")
    req.session_id = "set-by-hook"
    run(req)
    assert.equal("pinned", req.label)
    assert.equal("pinned", req.rule)
  end)

  it("pins a session's requests to the deployment of its name", function()
    local run = fx.pipeline {
      rules = { { "claude-haiku-5-5", "session", { sessions = { OAUTH_SESSION } } } },
      hooks = { "extract_session_id", "rule_evaluator", "model_router" } }
    local out = core.finish(run(fx.request("c_oauth", { config_dir = fx.config("lua-route") })))
    assert.equal("claude-haiku-5-5", out.label)
    assert.equal("claude-haiku-5-5", out.deployment.model_name)
    assert.equal("claude-haiku-5-5", out.model)
    assert.equal(OAUTH_SESSION, out.session_id)
    out = core.finish(run(fx.request("a_say_hi", { config_dir = fx.config("lua-route") })))
    assert.equal("default", out.label)
    assert.equal("claude-opus-5-5", out.model)
  end)

  it("matches nothing without a session id", function()
    local match = fx.rule("session", { sessions = { "x" } })
    for _, req in ipairs({ fx.body_request({ model = "m" }), with_user_id(""),
                           with_user_id("plain"), fx.body_request('{"metadata": 5}'),
                           fx.body_request({ model = "m" },
                             { headers = { { "x-claude-code-session-id", "" } } }) }) do
      assert.is_false(match(req))
    end
  end)

  it("refuses an empty or malformed list", function()
    local rt = require("ccproxy.runtime")
    local function load(params)
      return rt.load { config_dir = fx.config("lua-route"), builtin_dir = fx.repo, rules = {
        { name = "pinned", module = "session", params = params, where = "ccproxy.yaml:3:5" } } }
    end
    local ok, err = load({})
    assert.is_false(ok)
    assert.equal("ccproxy.yaml:3:5: rule 'pinned' params rejected: sessions is empty: list the "
      .. "Claude Code session ids to match, e.g. params: {sessions: "
      .. "[dbb1ba13-71a2-4fc1-8750-82e8aa660fde]}", err)
    ok, err = load({ sessions = { "a", 5 } })
    assert.is_false(ok)
    assert.matches("sessions[2] must be a session id (a string), got 5", err, 1, true)
  end)
end)

describe("ccproxy.claude", function()
  it("parses both forms of metadata.user_id", function()
    assert.same({ "s-1", { device_id = "d", account_uuid = "a" } },
                { claude.parse_user_id('{"device_id":"d","account_uuid":"a","session_id":"s-1"}') })
    assert.same({ "d2101641-25fd-4f4b-b8de-30cf972ee5d3",
                  { user_hash = string.rep("ab", 32),
                    account_uuid = "a929b7ef-d758-4a98-b88e-07166e6c8537" } },
                { claude.parse_user_id(LEGACY) })
    assert.same({ nil, {} }, { claude.parse_user_id("{broken") })
    assert.same({ nil, {} }, { claude.parse_user_id(42) })
  end)

  it("tells OAuth tokens from API keys sent as a bearer", function()
    assert.is_true(claude.is_oauth("Bearer sk-ant-oat01-abc"))
    assert.is_true(claude.is_oauth("bearer  sk-ant-oat01-abc "))
    assert.is_true(claude.is_oauth("sk-ant-oat01-abc"))
    assert.is_false(claude.is_oauth("Bearer sk-ant-api03-abc"))
    assert.is_false(claude.is_oauth("Bearer sk-dummy-bearer"))
    assert.is_false(claude.is_oauth(""))
    assert.is_false(claude.is_oauth(nil))
    assert.equal("tok", claude.bearer_token("Bearer tok"))
  end)
end)
