-- spec/lua/extract_session_id_spec.lua: hooks/extract_session_id.lua: Claude Code's session
-- id from metadata.user_id (JSON or legacy form) or the X-Claude-Code-Session-Id header.
local fx = require("fixtures")
local core = require("ccproxy.core")

local HASH = string.rep("e53ac6", 10) .. "41dc"
local ACCOUNT = "a929b7ef-d758-4a98-b88e-07166e6c8537"
local SESSION = "d2101641-25fd-4f4b-b8de-30cf972ee5d3"

local function run(req)
  return fx.pipeline { hooks = { "ccproxy.hooks.extract_session_id" } }(req)
end

local function with_user_id(user_id, headers)
  return fx.body_request({ model = "m", metadata = { user_id = user_id } }, { headers = headers })
end

describe("hook extract_session_id", function()
  it("reads the JSON user_id of every fixture, equal to the session header", function()
    for _, name in ipairs(fx.messages) do
      local header = fx.request(name).client_headers["X-Claude-Code-Session-Id"]
      assert.is_string(header)
      -- without the header, so the id can only come from the body
      local req = fx.request(name, { drop = { "x-claude-code-session-id" } })
      assert.is_nil(req.client_headers["X-Claude-Code-Session-Id"])
      local user_id = core.json.decode(req:field("metadata").user_id)
      assert.equal(header, user_id.session_id)
      run(req)
      assert.equal(header, req.session_id, name)
      assert.same({ device_id = user_id.device_id }, req.ctx.claude) -- account_uuid is ""
      assert.equal(header, core.finish(req).session_id)
    end
  end)

  it("prefers the body over the header", function()
    local req = fx.request("a_say_hi", { body = fx.replace(fx.body("a_say_hi"),
      "e8788ba3-0afb-42db-a340-75985313d704", "from-the-body") })
    run(req)
    assert.equal("from-the-body", req.session_id)
  end)

  it("keeps a non-empty account_uuid of the JSON form", function()
    local req = run(with_user_id(core.json.encode({ device_id = "dev", account_uuid = ACCOUNT,
                                                    session_id = SESSION })))
    assert.equal(SESSION, req.session_id)
    assert.same({ device_id = "dev", account_uuid = ACCOUNT }, req.ctx.claude)
  end)

  it("reads the legacy user_<hash>_account_<uuid>_session_<uuid> form", function()
    local req = run(with_user_id("user_" .. HASH .. "_account_" .. ACCOUNT .. "_session_" .. SESSION))
    assert.equal(SESSION, req.session_id)
    assert.same({ user_hash = HASH, account_uuid = ACCOUNT }, req.ctx.claude)
    assert.equal(SESSION, core.finish(req).session_id)
  end)

  it("reads a legacy form without the account part", function()
    local req = run(with_user_id("someone_session_" .. SESSION))
    assert.equal(SESSION, req.session_id)
    assert.is_nil(req.ctx.claude)
  end)

  it("falls back to the X-Claude-Code-Session-Id header", function()
    local headers = { { "X-Claude-Code-Session-Id", "hdr-session" } }
    assert.equal("hdr-session", run(fx.body_request({ model = "m" }, { headers = headers })).session_id)
    -- a user_id without a session in it
    assert.equal("hdr-session", run(with_user_id("user_" .. HASH, headers)).session_id)
    local req = run(with_user_id('{"device_id":"dev","account_uuid":"","session_id":""}', headers))
    assert.equal("hdr-session", req.session_id)
    assert.same({ device_id = "dev" }, req.ctx.claude)
    assert.equal("hdr-session", run(with_user_id("{not json", headers)).session_id)
    assert.equal("hdr-session", run(fx.body_request('{"metadata": {"user_id": 12}}',
                                                    { headers = headers })).session_id)
  end)

  it("leaves session_id nil and ctx.claude unset when there is nothing", function()
    for _, req in ipairs({
      fx.body_request({ model = "m" }),
      fx.body_request('{"metadata": null}'),
      with_user_id(""),
      with_user_id("plain-user"),
      fx.body_request({ model = "m" }, { headers = { { "x-claude-code-session-id", "" } } }),
    }) do
      run(req)
      assert.is_nil(req.session_id)
      assert.is_nil(req.ctx.claude)
      assert.is_nil(core.finish(req).session_id)
    end
  end)

  it("does not change the body or the headers", function()
    local req = run(fx.request("b_tool_roundtrip", { n = 2 }))
    local out = core.finish(req)
    assert.is_false(out.body_changed)
    assert.equal(fx.body("b_tool_roundtrip", 2), out.body)
    assert.is_nil(fx.header(out.headers, "x-session-id"))
  end)
end)
