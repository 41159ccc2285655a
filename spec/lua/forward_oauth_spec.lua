-- spec/lua/forward_oauth_spec.lua: hooks/forward_oauth.lua: the client's Authorization to the
-- providers of forward_to, oat_sources tokens where the client sent none (or for other
-- providers), and what Anthropic needs with an OAuth token (the beta, no x-api-key).
local fx = require("fixtures")
local core = require("ccproxy.core")

local CFG = fx.config("hooks-route")
local HOOK = dofile(fx.repo .. "/hooks/forward_oauth.lua")
local DEFAULTS = { forward_to = { "anthropic" } }
local OAUTH_BETA = "oauth-2025-04-20"
local OAT = "sk-ant-oat01-SOURCEtoken0123456789"

-- `req` seen through a table whose :log calls are recorded; everything else reaches req.
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

-- Routes `req` to `name` (nil: leaves it unrouted), runs the hook and finishes the request.
local function run(req, name, params)
  if name then assert(req:route(name)) end
  local view, lines = logging(req)
  HOOK.request(view, params or DEFAULTS)
  return core.finish(req), lines
end

local function request(headers, body)
  return core.request { headers = headers, config_dir = CFG,
                        body = body or { model = "claude-sonnet-5-5", max_tokens = 10 } }
end

local function betas(out)
  local v = fx.header(out.headers, "anthropic-beta")
  local list = {}
  for b in (v or ""):gmatch("[^,]+") do list[#list + 1] = b end
  return list
end

local function count(list, value)
  local n = 0
  for _, v in ipairs(list) do if v == value then n = n + 1 end end
  return n
end

describe("hook forward_oauth", function()
  before_each(function() core.oat_clear() end)
  after_each(function() core.oat_clear() end)

  describe("with the client's Authorization", function()
    it("sends Claude Code's OAuth request to Anthropic unchanged", function()
      local raw = fx.headers("c_oauth")
      local out, lines = run(fx.request("c_oauth", { config_dir = CFG }), "claude-sonnet-5-5")
      assert.same({ "Bearer sk-ant-oat01-dummy", 1 }, { fx.header(out.headers, "authorization") })
      assert.is_nil(fx.header(out.headers, "x-api-key"))
      -- the beta was there: the header goes as the client wrote it
      assert.same({ fx.header(raw, "anthropic-beta"), 1 },
                  { fx.header(out.headers, "anthropic-beta") })
      assert.equal(fx.header(raw, "user-agent"), (fx.header(out.headers, "user-agent")))
      assert.is_false(out.body_changed)
      assert.equal(fx.body("c_oauth"), out.body)
      assert.is_nil(out.oauth_provider) -- no oat_sources token was used
      assert.equal(1, #lines)
      assert.equal("debug", lines[1].level)
      assert.matches("forwarded the client's Authorization", lines[1].msg, 1, true)
    end)

    it("wins over an Anthropic deployment's api_key, which it removes", function()
      local req = fx.request("c_oauth", { config_dir = CFG })
      assert(req:route("keyed"))
      -- routing alone would send the configured key in place of the client's bearer
      local alone = fx.request("c_oauth", { config_dir = CFG })
      assert(alone:route("keyed"))
      local routed = core.finish(alone)
      assert.same({ "sk-ant-api03-from-config", 1 },
                  { fx.header(routed.upstream_headers, "x-api-key") })
      assert.is_nil(fx.header(routed.upstream_headers, "authorization"))
      local out = run(req)
      assert.equal("keyed", out.deployment.model_name)
      assert.same({ "Bearer sk-ant-oat01-dummy", 1 },
                  { fx.header(out.upstream_headers, "authorization") })
      assert.is_nil(fx.header(out.upstream_headers, "x-api-key"))
    end)

    it("removes an x-api-key the client sent beside its OAuth token", function()
      local req = fx.request("c_oauth", { config_dir = CFG,
                                          headers = { { "X-Api-Key", "sk-ant-api03-client" } } })
      assert.equal("sk-ant-api03-client", req.headers["x-api-key"])
      local out = run(req, "claude-sonnet-5-5")
      assert.is_nil(fx.header(out.headers, "x-api-key"))
      assert.same({ "Bearer sk-ant-oat01-dummy", 1 }, { fx.header(out.headers, "authorization") })
    end)

    it("adds the OAuth beta once, after the client's own, keeping their order", function()
      local req = fx.request("c_oauth", { config_dir = CFG, drop = { "anthropic-beta" },
        headers = { { "anthropic-beta", "claude-code-20250219, effort-2025-11-24" },
                    { "anthropic-beta", "effort-2025-11-24,context-management-2025-06-27" } } })
      local out, lines = run(req, "claude-opus-5-5")
      assert.same({ "claude-code-20250219,effort-2025-11-24,context-management-2025-06-27,"
                    .. OAUTH_BETA, 1 }, { fx.header(out.headers, "anthropic-beta") })
      assert.matches("added anthropic-beta " .. OAUTH_BETA, lines[1].msg, 1, true)
    end)

    it("creates anthropic-beta when the client sent none", function()
      local out = run(fx.request("c_oauth", { config_dir = CFG, drop = { "anthropic-beta" } }),
                      "claude-sonnet-5-5")
      assert.same({ OAUTH_BETA, 1 }, { fx.header(out.headers, "anthropic-beta") })
    end)

    it("treats a Bearer API key as no OAuth: no beta, the client's x-api-key stays", function()
      local req = request({ { "Authorization", "Bearer sk-ant-api03-abcdefghijklmnop" },
                            { "x-api-key", "sk-ant-api03-client" },
                            { "anthropic-beta", "claude-code-20250219" } })
      local out, lines = run(req, "keyed")
      assert.same({ "Bearer sk-ant-api03-abcdefghijklmnop", 1 },
                  { fx.header(out.headers, "authorization") })
      -- the client's own key, not the deployment's, and only one
      assert.same({ "sk-ant-api03-client", 1 }, { fx.header(out.headers, "x-api-key") })
      assert.same({ "claude-code-20250219" }, betas(out))
      assert.not_matches("OAuth", lines[1].msg, 1, true)
    end)

    it("forwards Claude Code's non-OAuth bearer (ANTHROPIC_AUTH_TOKEN) as it is", function()
      local out = run(fx.request("c_auth_token", { config_dir = CFG }), "keyed")
      assert.same({ "Bearer sk-dummy-bearer", 1 }, { fx.header(out.headers, "authorization") })
      assert.is_nil(fx.header(out.headers, "x-api-key"))
      assert.equal(0, count(betas(out), OAUTH_BETA))
    end)

    it("never sends the client's token to another provider by default", function()
      core.oat_set("gemini", "ya29.gemini-token", "MyApp/1.0")
      local out, lines = run(fx.request("c_oauth", { config_dir = CFG }), "gemini-pro")
      assert.equal("gemini", out.deployment.provider)
      assert.same({ "Bearer ya29.gemini-token", 1 }, { fx.header(out.headers, "authorization") })
      assert.same({ "MyApp/1.0", 1 }, { fx.header(out.headers, "user-agent") })
      assert.equal("gemini", out.oauth_provider)
      -- Anthropic's beta handling is for Anthropic only
      assert.equal(1, count(betas(out), OAUTH_BETA)) -- the client's, untouched
      assert.matches("did not send the client's Authorization to gemini", lines[1].msg, 1, true)
    end)

    it("sends nothing to another provider without a token of its own, and says so", function()
      local out, lines = run(fx.request("c_oauth", { config_dir = CFG }), "gpt")
      assert.equal("openai", out.deployment.provider)
      assert.is_nil(fx.header(out.headers, "authorization"))
      assert.is_nil(out.oauth_provider)
      local warn
      for _, l in ipairs(lines) do if l.level == "warn" then warn = l.msg end end
      assert.equal("forward_oauth: no Authorization for openai: the client's is not sent to "
        .. "openai (add it to forward_to to send it), and there is no oat_sources token (no "
        .. "token for provider 'openai' (add it to ccproxy.oat_sources))", warn)
    end)

    it("leaves a provider with its own api_key to its adapter, without the client's token",
      function()
      local out = run(fx.request("c_oauth", { config_dir = CFG }), "gpt-keyed")
      -- the OpenAI adapter adds "Authorization: Bearer <api_key>" when it translates
      assert.same({ nil, 0 }, { fx.header(out.headers, "authorization") })
      assert.is_true(out.deployment.has_api_key)
    end)

    it("sends the client's token to the providers forward_to names", function()
      core.oat_set("gemini", "ya29.gemini-token", "MyApp/1.0")
      local out = run(fx.request("c_oauth", { config_dir = CFG }), "gemini-pro",
                      { forward_to = { "anthropic", "gemini" } })
      assert.same({ "Bearer sk-ant-oat01-dummy", 1 }, { fx.header(out.headers, "authorization") })
      -- the source's user agent goes only with the source's token
      assert.equal("claude-cli/2.1.332 (external, sdk-cli)",
                   (fx.header(out.headers, "user-agent")))
      assert.is_nil(out.oauth_provider)
    end)

    it("sends the client's token over a deployment's own key when forward_to names it", function()
      local out = run(fx.request("c_oauth", { config_dir = CFG }), "gpt-keyed",
                      { forward_to = { "anthropic", "openai" } })
      assert.equal("openai", out.deployment.provider)
      assert.is_true(out.deployment.has_api_key)
      -- what the hook wrote wins over the key the OpenAI adapter would put there
      assert.same({ "Bearer sk-ant-oat01-dummy", 1 },
                  { fx.header(out.upstream_headers, "authorization") })
      -- without forward_to, the deployment's key goes
      out = run(fx.request("c_oauth", { config_dir = CFG }), "gpt-keyed")
      assert.same({ "Bearer sk-openai-from-config", 1 },
                  { fx.header(out.upstream_headers, "authorization") })
    end)

    it("uses the oat_sources token for Anthropic when forward_to leaves it out", function()
      core.oat_set("anthropic", OAT)
      local out = run(fx.request("c_auth_token", { config_dir = CFG }), "claude-sonnet-5-5",
                      { forward_to = {} })
      assert.same({ "Bearer " .. OAT, 1 }, { fx.header(out.headers, "authorization") })
      assert.equal("anthropic", out.oauth_provider)
      assert.equal(1, count(betas(out), OAUTH_BETA))
    end)

    it("never replaces the user agent of the client's own token", function()
      core.oat_set("anthropic", OAT, "SourceAgent/2")
      local out = run(fx.request("c_oauth", { config_dir = CFG }), "claude-sonnet-5-5")
      assert.equal("claude-cli/2.1.332 (external, sdk-cli)",
                   (fx.header(out.headers, "user-agent")))
      assert.same({ "Bearer sk-ant-oat01-dummy", 1 }, { fx.header(out.headers, "authorization") })
    end)
  end)

  describe("without the client's Authorization", function()
    it("sends the oat_sources token in place of Claude Code's x-api-key", function()
      core.oat_set("anthropic", OAT)
      local raw = fx.headers("a_say_hi")
      local out, lines = run(fx.request("a_say_hi", { config_dir = CFG }), "claude-opus-5-5")
      assert.same({ "Bearer " .. OAT, 1 }, { fx.header(out.headers, "authorization") })
      assert.is_nil(fx.header(out.headers, "x-api-key"))
      assert.same({ fx.header(raw, "anthropic-beta") .. "," .. OAUTH_BETA, 1 },
                  { fx.header(out.headers, "anthropic-beta") })
      assert.equal(fx.header(raw, "user-agent"), (fx.header(out.headers, "user-agent")))
      assert.equal("anthropic", out.oauth_provider)
      assert.equal(fx.body("a_say_hi"), out.body)
      assert.equal(1, #lines)
      assert.matches("sent the anthropic oat_sources token", lines[1].msg, 1, true)
      assert.not_matches(OAT, lines[1].msg, 1, true)
      assert.not_matches("SOURCEtoken", lines[1].msg, 1, true)
    end)

    it("sends the source's user agent with its token", function()
      core.oat_set("anthropic", OAT, "SourceAgent/2")
      local out, lines = run(request({ { "User-Agent", "my-sdk/1" } }), "claude-sonnet-5-5")
      assert.same({ "SourceAgent/2", 1 }, { fx.header(out.headers, "user-agent") })
      assert.matches("with its user agent", lines[1].msg, 1, true)
    end)

    it("does not write Bearer twice", function()
      core.oat_set("anthropic", "Bearer " .. OAT)
      local out = run(request({}), "claude-sonnet-5-5")
      assert.same({ "Bearer " .. OAT, 1 }, { fx.header(out.headers, "authorization") })
      core.oat_set("anthropic", "bearer " .. OAT)
      out = run(request({}), "claude-sonnet-5-5")
      assert.same({ "bearer " .. OAT, 1 }, { fx.header(out.headers, "authorization") })
      assert.equal(1, count(betas(out), OAUTH_BETA))
    end)

    it("takes the routed provider's token", function()
      core.oat_set("anthropic", OAT)
      core.oat_set("gemini", "ya29.gemini-token")
      local out = run(request({}, { model = "gemini-3-flash" }), "gemini/gemini-3-flash")
      assert.equal("gemini-*", out.deployment.model_name)
      assert.same({ "Bearer ya29.gemini-token", 1 }, { fx.header(out.headers, "authorization") })
      assert.is_nil(fx.header(out.headers, "anthropic-beta"))
      assert.equal("gemini", out.oauth_provider)
    end)

    it("takes Anthropic's token before routing", function()
      core.oat_set("anthropic", OAT)
      local out = run(request({}))
      assert.same({ "Bearer " .. OAT, 1 }, { fx.header(out.headers, "authorization") })
      assert.equal("anthropic", out.oauth_provider)
    end)

    it("leaves a deployment's own api_key alone", function()
      core.oat_set("anthropic", OAT)
      local out, lines = run(fx.request("a_say_hi", { config_dir = CFG }), "keyed")
      assert.same({ "sk-ant-api03-from-config", 1 },
                  { fx.header(out.upstream_headers, "x-api-key") })
      assert.is_nil(fx.header(out.upstream_headers, "authorization"))
      assert.is_nil(out.oauth_provider)
      assert.matches("kept the deployment's api_key", lines[1].msg, 1, true)
    end)

    it("sets nothing without a token, and logs why (a warning when no key either)", function()
      local out, lines = run(request({ { "anthropic-beta", "a-1" } }), "claude-sonnet-5-5")
      assert.is_nil(fx.header(out.headers, "authorization"))
      assert.is_nil(fx.header(out.headers, "x-api-key"))
      assert.same({ "a-1", 1 }, { fx.header(out.headers, "anthropic-beta") })
      assert.is_nil(out.oauth_provider)
      assert.equal(1, #lines)
      assert.equal("warn", lines[1].level)
      assert.equal("forward_oauth: no Authorization for anthropic: the client sent none, and "
        .. "there is no oat_sources token (no token for provider 'anthropic' (add it to "
        .. "ccproxy.oat_sources))", lines[1].msg)
      -- with the client's x-api-key the request can still work: only a debug line
      out, lines = run(fx.request("a_say_hi", { config_dir = CFG }), "claude-sonnet-5-5")
      assert.same({ "sk-ant-dummy", 1 }, { fx.header(out.headers, "x-api-key") })
      assert.is_nil(fx.header(out.headers, "authorization"))
      assert.equal(1, #lines)
      assert.equal("debug", lines[1].level)
      assert.matches("(it sent an x-api-key)", lines[1].msg, 1, true)
    end)

    it("ignores an empty Authorization", function()
      core.oat_set("anthropic", OAT)
      local out = run(request({ { "Authorization", "" } }), "claude-sonnet-5-5")
      assert.same({ "Bearer " .. OAT, 1 }, { fx.header(out.headers, "authorization") })
    end)
  end)

  describe("loaded as ccproxy.yaml names it", function()
    it("runs after model_router by its Python name", function()
      core.oat_set("anthropic", OAT)
      local run_all = fx.pipeline { config_dir = CFG,
        rules = { { "claude-opus-5-5", "match_model", { model_name = "opus" } } },
        hooks = { "ccproxy.hooks.rule_evaluator", "ccproxy.hooks.model_router",
                  "ccproxy.hooks.forward_oauth" } }
      local out = core.finish(run_all(fx.request("a_say_hi", { config_dir = CFG })))
      assert.equal("claude-opus-5-5", out.deployment.model_name)
      assert.same({ "Bearer " .. OAT, 1 }, { fx.header(out.headers, "authorization") })
      assert.is_nil(fx.header(out.headers, "x-api-key"))
    end)

    it("takes forward_to from the config", function()
      local run_all = fx.pipeline { config_dir = CFG, hooks = {
        "model_router", { module = "forward_oauth", params = { forward_to = { "openai" } } } } }
      local req = fx.request("c_oauth", { config_dir = CFG })
      req.label = "gpt"
      local out = core.finish(run_all(req))
      assert.same({ "Bearer sk-ant-oat01-dummy", 1 }, { fx.header(out.headers, "authorization") })
    end)

    it("refuses a forward_to that is not a list of provider names", function()
      local rt = require("ccproxy.runtime")
      local ok, err = rt.load { config_dir = CFG, builtin_dir = fx.repo, hooks = {
        { module = "forward_oauth", params = { forward_to = { "anthropic", 3 } },
          where = "ccproxy.yaml:7:7" } } }
      assert.is_false(ok)
      assert.matches("ccproxy.yaml:7:7: hook 'forward_oauth' params rejected: forward_to[2] "
        .. "must be a provider name", err, 1, true)
      ok, err = rt.load { config_dir = CFG, builtin_dir = fx.repo, hooks = {
        { module = "forward_oauth", params = { forward_to = "anthropic" }, where = "y:1:1" } } }
      assert.is_false(ok)
      assert.matches("param forward_to must be a table", err, 1, true)
    end)
  end)
end)
