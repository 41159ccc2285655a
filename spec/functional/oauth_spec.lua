-- spec/functional/oauth_spec.lua: oat_sources commands run at start (without blocking the
-- loop), their tokens reach hooks through req:oauth_token, a 401 to a request that used one
-- re-runs the command once and retries the request once, and a failing command is reported
-- with the provider and its stderr without costing the request.
local H = require("proxy_harness")
local sh = require("sh")

-- A hook that sends the anthropic oat_sources token (as forward_oauth does, reduced to what
-- this spec needs so it does not depend on that hook's other behaviour).
local USE_TOKEN = [[
return {
  request = function(req)
    local token = req:oauth_token("anthropic")
    if token then req.headers["authorization"] = "Bearer " .. token end
  end,
}
]]

local function config_yaml(base)
  return H.claude_config(base)
end

local function start(mock, command, extra)
  local dir = sh.tmpdir()
  sh.run({ "mkdir", "-p", dir .. "/hooks" })
  sh.write_file(dir .. "/hooks/use_token.lua", USE_TOKEN)
  local yaml = ([[
ccproxy:
  oat_timeout: 1
  oat_sources:
    anthropic: "COMMAND"
  hooks:
    - use_token
]]):gsub("COMMAND", (command:gsub("\\", "\\\\"):gsub('"', '\\"')))
  return H.start_proxy({ dir = H.config_dir({ dir = dir, ccproxy_yaml = yaml,
                                              config_yaml = config_yaml(mock:base()) }) }), dir
end

local function auth_of(rec)
  return H.record_header(rec, "authorization")
end

describe("oat_sources", function()
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

  it("loads the token at start and hands it to hooks", function()
    local proxy = start(mock, "echo '  tok-start  '")
    local res = proxy:messages(H.messages_body({ stream = false }))
    assert.equal(200, res.status)
    assert.equal("Bearer tok-start", auth_of(mock:last_request()))
    assert.matches("oat_sources: loaded the anthropic token", proxy:log())
    assert.is_nil(proxy:log():find("tok%-start"), "the token must not appear in the log")
    proxy:stop()
  end)

  it("refreshes the token after a 401 and retries the request once", function()
    local counter = sh.tmpdir() .. "/n"
    sh.write_file(counter, "0")
    -- Each run prints the next token: tok-1, tok-2, ...
    local cmd = ("n=$(($(cat %s)+1)); echo $n > %s; echo tok-$n"):format(counter, counter)
    local proxy = start(mock, cmd)
    mock:script({ { status = 401, error = { type = "authentication_error",
                                            message = "OAuth token has expired" } } })
    local res = proxy:messages(H.messages_body({ stream = false }))
    assert.equal(200, res.status)
    local reqs = mock:requests()
    assert.equal(2, #reqs)
    assert.equal("Bearer tok-1", auth_of(reqs[1]))
    assert.equal("Bearer tok-2", auth_of(reqs[2]))
    assert.matches("refreshed the anthropic token, retrying once", proxy:log())
    proxy:stop()
  end)

  it("relays the 401 when the refreshed token is the same, without a second retry", function()
    local proxy = start(mock, "echo tok-same")
    mock:script({ { status = 401, error = { type = "authentication_error", message = "nope" } } })
    local res = proxy:messages(H.messages_body({ stream = false }))
    assert.equal(401, res.status)
    assert.equal("authentication_error", H.body_json(res).error.type)
    assert.equal(1, #mock:requests())
    proxy:stop()
  end)

  it("reports a failing command with the provider and its stderr, and still serves", function()
    local proxy = start(mock, "echo 'credentials file missing' >&2; exit 3")
    local res = proxy:messages(H.messages_body({ stream = false }))
    assert.equal(200, res.status)
    assert.is_nil(auth_of(mock:last_request()))
    assert.matches("oat_sources%.anthropic %(.-%): the command failed %(exit 3%); stderr: "
      .. "credentials file missing", proxy:log())
    proxy:stop()
  end)

  it("stops a command that hangs, at start, within its timeout", function()
    local t0 = H.now()
    local proxy = start(mock, "exec sleep 60")
    assert.is_true(H.now() - t0 < 4)
    assert.matches("oat_sources%.anthropic .-did not finish within 1 s", proxy:log())
    proxy:stop()
  end)
end)

describe("a client's token and other providers", function()
  local mock

  setup(function()
    mock = H.start_mock()
  end)

  teardown(function()
    H.cleanup()
  end)

  local function proxy_with(forward_to)
    local yaml = ([[
ccproxy:
  hooks:
    - ccproxy.hooks.model_router
    - hook: ccproxy.hooks.forward_oauth
      params: {forward_to: [FORWARD]}
]]):gsub("FORWARD", forward_to)
    local models = ([[
model_list:
  - model_name: gemini-mock
    litellm_params:
      model: gemini/gemini-mock
      api_base: BASE
]]):gsub("BASE", mock:base())
    return H.start_proxy({ ccproxy_yaml = yaml, config_yaml = models })
  end

  local function ask(proxy)
    mock:reset()
    local res = proxy:messages(H.messages_body({ model = "gemini-mock", stream = false }), {
      headers = { { "Content-Type", "application/json" },
                  { "Authorization", "Bearer ya29.client-token" } },
    })
    assert.equal(200, res.status, res.body)
    local rec = mock:last_request()
    assert.equal("gemini", rec.dialect)
    return H.record_header(rec, "authorization")
  end

  it("reaches a provider forward_oauth's forward_to names", function()
    local proxy = proxy_with("anthropic, gemini")
    assert.equal("Bearer ya29.client-token", ask(proxy))
    proxy:stop()
  end)

  it("never reaches another provider by default", function()
    local proxy = proxy_with("anthropic")
    assert.is_nil(ask(proxy))
    proxy:stop()
  end)
end)
