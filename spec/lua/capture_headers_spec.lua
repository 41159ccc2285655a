-- spec/lua/capture_headers_spec.lua: hooks/capture_headers.lua: the client's headers in the
-- request's log line (core.finish(req).tags), secrets redacted, values cut at 200 characters.
local fx = require("fixtures")
local core = require("ccproxy.core")

local function capture(req, params)
  local run = fx.pipeline { hooks = { { module = "ccproxy.hooks.capture_headers",
                                        params = params } } }
  return core.finish(run(req))
end

local function tags_of(headers, params)
  return capture(fx.body_request({ model = "m" }, { headers = headers }), params).tags
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

describe("hook capture_headers", function()
  it("records every header of a real request but the x-stainless ones", function()
    local raw = fx.headers("a_say_hi")
    local out = capture(fx.request("a_say_hi"))
    local want = 0
    for _, pair in ipairs(raw) do
      local name = pair[1]:lower()
      if name:sub(1, 12) == "x-stainless-" then
        assert.is_nil(out.tags["h." .. name])
      else
        want = want + 1
        if name ~= "x-api-key" then
          assert.equal(pair[2]:sub(1, 200), out.tags["h." .. name], name)
        end
      end
    end
    assert.equal(want, count(out.tags))
    assert.equal("sk-ant-...", out.tags["h.x-api-key"])
    assert.equal("claude-cli/2.1.332 (external, sdk-cli)", out.tags["h.user-agent"])
    assert.equal(200, #out.tags["h.anthropic-beta"]) -- Claude Code's list is longer
    assert.equal("e8788ba3-0afb-42db-a340-75985313d704", out.tags["h.x-claude-code-session-id"])
    -- the request itself is untouched
    assert.is_false(out.body_changed)
    assert.same(fx.header(raw, "x-api-key"), fx.header(out.headers, "x-api-key"))
  end)

  it("keeps the scheme and key prefix of an OAuth bearer", function()
    local out = capture(fx.request("c_oauth"))
    assert.equal("Bearer sk-ant-oat01-...", out.tags["h.authorization"])
    assert.equal("Bearer sk-ant-oat01-dummy", (fx.header(out.headers, "authorization")))
    local tags = tags_of({ { "Authorization", "Bearer sk-ant-oat01-1234567890abcdef" },
                           { "x-api-key", "sk-ant-api03-0123456789abcdef" } })
    assert.equal("Bearer sk-ant-oat01-...cdef", tags["h.authorization"])
    assert.equal("sk-ant-api03-...cdef", tags["h.x-api-key"])
  end)

  it("redacts every header that may hold a secret", function()
    local secret = "AIzaSyD-0123456789abcdefWXYZ"
    local tags = tags_of({
      { "Cookie", "session=abc; other=def" },
      { "Set-Cookie", "id=1" },
      { "x-goog-api-key", secret },
      { "api-key", "0123456789abcdef0123" },
      { "Proxy-Authorization", "Basic dXNlcjpwYXNzd29yZDEyMzQ=" },
      { "x-auth-token", "tok_live_0123456789abcdef" },
      { "x-client-secret", "shh-0123456789abcdefgh" },
      { "X-Custom-Key", "short" },
      { "authorization", "custom-token-1234567890" },
      { "x-session", "not-a-secret-0123456789" },
    })
    assert.equal("[redacted]", tags["h.cookie"])
    assert.equal("[redacted]", tags["h.set-cookie"])
    assert.equal("...WXYZ", tags["h.x-goog-api-key"])
    assert.equal("...0123", tags["h.api-key"])
    assert.equal("Basic ...", tags["h.proxy-authorization"]) -- its tail is the password's
    assert.equal("...cdef", tags["h.x-auth-token"])
    assert.equal("shh-...efgh", tags["h.x-client-secret"])
    assert.equal("...", tags["h.x-custom-key"])
    assert.equal("custom-token-...7890", tags["h.authorization"])
    assert.equal("not-a-secret-0123456789", tags["h.x-session"])
    for _, value in pairs(tags) do
      assert.not_matches("abc; other", value, 1, true)
      assert.not_matches("0123456789abcdef", value, 1, true)
    end
  end)

  it("redacts as explain does: password, credential and signature headers too", function()
    local redact = require("ccproxy.redact")
    local headers = { { "x-db-password", "hunter2hunter2hunter2" },
                      { "x-credential", "c-0123456789abcdef" },
                      { "x-signature", "0123456789abcdef0123" },
                      { "x-forwarded-auth", "Bearer sk-ant-oat01-1234567890abcdef" },
                      { "x-note", "sk-live-0123456789abcdef" } }
    local tags = tags_of(headers)
    for _, pair in ipairs(headers) do
      local shown = tags["h." .. pair[1]]
      assert.equal(redact.header(pair[1], pair[2]), shown)
      assert.not_matches("0123456789abcdef", shown, 1, true)
      assert.not_matches("hunter2hunter2", shown, 1, true)
    end
  end)

  it("never shows the last characters of a short secret", function()
    local tags = tags_of({ { "x-api-key", "sk-ant-abcdefgh" }, { "authorization", "Bearer x" } })
    assert.equal("sk-ant-...", tags["h.x-api-key"])
    assert.equal("Bearer ...", tags["h.authorization"])
  end)

  it("cuts values at 200 characters", function()
    local long = string.rep("0123456789", 30)
    local tags = tags_of({ { "x-long", long }, { "x-short", "ok" } })
    assert.equal(long:sub(1, 200), tags["h.x-long"])
    assert.equal("ok", tags["h.x-short"])
  end)

  it("records only the named headers, in any case, x-stainless ones too", function()
    local out = capture(fx.request("c_oauth"), { headers = { "User-Agent", "AUTHORIZATION",
                                                             "x-stainless-os", "x-missing" } })
    assert.same({ ["h.user-agent"] = "claude-cli/2.1.332 (external, sdk-cli)",
                  ["h.authorization"] = "Bearer sk-ant-oat01-...",
                  ["h.x-stainless-os"] = "Linux" }, out.tags)
  end)

  it("joins repeated fields and skips empty ones", function()
    local tags = tags_of({ { "anthropic-beta", "a-1" }, { "Anthropic-Beta", "b-2" },
                           { "x-empty", "" } })
    assert.equal("a-1, b-2", tags["h.anthropic-beta"])
    assert.is_nil(tags["h.x-empty"])
  end)

  it("records what the client sent, not what an earlier hook set", function()
    local run = fx.pipeline { hooks = { "forward_apikey", "capture_headers" } }
    local req = fx.request("a_say_hi")
    req.headers["user-agent"] = "changed/1"
    local out = core.finish(run(req))
    assert.equal("claude-cli/2.1.332 (external, sdk-cli)", out.tags["h.user-agent"])
  end)

  it("refuses header names that cannot be headers", function()
    local rt = require("ccproxy.runtime")
    local ok, err = rt.load { config_dir = fx.config("lua-route"), builtin_dir = fx.repo,
      hooks = { { module = "capture_headers", params = { headers = { "user agent" } },
                  where = "ccproxy.yaml:9:7" } } }
    assert.is_false(ok)
    assert.equal("ccproxy.yaml:9:7: hook 'capture_headers' params rejected: headers[1] must be "
      .. "a header name, got user agent", err)
  end)
end)
