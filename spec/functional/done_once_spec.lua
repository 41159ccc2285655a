-- spec/functional/done_once_spec.lua: every request the pipeline saw ends in exactly one log
-- line and exactly one run of the done stage, whatever its outcome: a complete answer, an
-- upstream error answer, each upstream failure (unreachable, timeout, broken before and after
-- the head), the client leaving before and after the head, a hook that fails the request, a
-- request that routes nowhere or cannot be translated, a local answer, and a 401 that a token
-- refresh did not fix.
local H = require("proxy_harness")
local sh = require("sh")
local socket = require("socket")

-- Logs one line per run of the done stage, with what the stage was told.
local DONE = [[
return {
  done = function(req, res)
    req:log("info", string.format("done-stage status=%s outcome=%s", tostring(res.status),
      tostring(res.outcome)))
  end,
}
]]

local FAILING = [[
return {
  request = function(req)
    if req.model == "claude-fail-me" then error("this hook refuses the request") end
  end,
}
]]

local USE_TOKEN = [[
return {
  request = function(req)
    local token = req:oauth_token("anthropic")
    if token then req.headers["authorization"] = "Bearer " .. token end
  end,
}
]]

describe("the done stage", function()
  local mock, proxy, closed_port

  setup(function()
    mock = H.start_mock()
    local dir = sh.tmpdir()
    sh.run({ "mkdir", "-p", dir .. "/hooks" })
    sh.write_file(dir .. "/hooks/record_done.lua", DONE)
    sh.write_file(dir .. "/hooks/failing.lua", FAILING)
    sh.write_file(dir .. "/hooks/use_token.lua", USE_TOKEN)
    -- A port where nothing listens: bound, then closed.
    local s = assert(socket.bind("127.0.0.1", 0))
    closed_port = select(2, s:getsockname())
    s:close()
    local base = mock:base()
    proxy = H.start_proxy({ dir = H.config_dir({ dir = dir, ccproxy_yaml = [[
ccproxy:
  oat_sources:
    anthropic: "echo tok-same"
  hooks:
    - use_token
    - hook: failing
      on_error: fail
    - record_done
]], config_yaml = ([[
model_list:
  - model_name: "claude-*"
    litellm_params:
      model: anthropic/*
      api_base: BASE
  - model_name: slow
    litellm_params:
      model: anthropic/claude-slow
      api_base: BASE
      timeout: 0.3
  - model_name: nowhere
    litellm_params:
      model: anthropic/claude-nowhere
      api_base: http://127.0.0.1:CLOSED
  - model_name: gpt
    litellm_params:
      model: openai/gpt-5
      api_base: BASE/v1
      api_key: sk-test
]]):gsub("BASE", base):gsub("CLOSED", tostring(closed_port)) }) })
  end)

  teardown(function()
    H.cleanup()
  end)

  before_each(function()
    mock:reset(true)
  end)

  -- The log lines that appeared after `from` (a byte offset of the proxy's log), once the
  -- request's log line is there and a moment has passed for any second one.
  local function after(from)
    local text
    sh.wait_for(function()
      text = proxy:log():sub(from + 1)
      return text:find("done%-stage") and text:find(" status=%d+ bytes=")
    end, 5)
    socket.sleep(0.2)
    return proxy:log():sub(from + 1)
  end

  local function count(text, pattern)
    local n = 0
    for _ in text:gmatch(pattern) do n = n + 1 end
    return n
  end

  -- Exactly one access line and one done line, for the same request, with this outcome.
  local function assert_once(text, status, outcome)
    assert.equal(1, count(text, "done%-stage"), text)
    assert.equal(1, count(text, " rule=[^\n]* status=%d+ bytes="), text)
    local id = text:match("(r%d+) [^\n]*done%-stage")
    assert.is_not_nil(id, text)
    local line = text:match("(" .. id .. " POST [^\n]*)")
    assert.is_not_nil(line, text)
    assert.matches("status=" .. status .. " ", line)
    local esc = (outcome or "nil"):gsub("%-", "%%-")
    assert.matches("done%-stage status=" .. status .. " outcome=" .. esc, text)
    if outcome then assert.matches(" " .. esc, line) end
  end

  local function post(body, opts)
    opts = opts or {}
    opts.path = opts.path or "/v1/messages"
    opts.json = body
    return H.request(proxy.port, opts)
  end

  it("runs once for a complete streamed answer", function()
    local from = #proxy:log()
    local res = post(H.messages_body({ stream = true }))
    assert.equal(200, res.status)
    assert_once(after(from), 200, nil)
  end)

  it("runs once for an upstream's error answer", function()
    mock:script({ { status = 429, error = { type = "rate_limit_error", message = "slow down" } } })
    local from = #proxy:log()
    assert.equal(429, post(H.messages_body()).status)
    assert_once(after(from), 429, nil)
  end)

  it("runs once when the upstream cannot be reached", function()
    local from = #proxy:log()
    assert.equal(529, post(H.messages_body({ model = "nowhere" })).status)
    assert_once(after(from), 529, "upstream-failed")
  end)

  it("runs once when the upstream sends no answer in time", function()
    mock:script({ { hang = true } })
    local from = #proxy:log()
    assert.equal(504, post(H.messages_body({ model = "slow" })).status)
    assert_once(after(from), 504, "upstream-failed")
  end)

  it("runs once when the upstream breaks its stream after the head", function()
    mock:script({ { text = "one two three four five", close_after_events = 3 } })
    local from = #proxy:log()
    local res = post(H.messages_body({ stream = true }))
    assert.equal(200, res.status)
    assert_once(after(from), 200, "upstream-broke")
  end)

  it("runs once when the client leaves before the head", function()
    mock:script({ { delay_ms = 1500 } })
    local from = #proxy:log()
    local c = H.connect(proxy.port)
    assert(c:send(H.build_request(proxy.port, { path = "/v1/messages",
                                                json = H.messages_body() })))
    socket.sleep(0.2)
    c:close()
    assert_once(after(from), 499, "client-closed")
  end)

  it("runs once when the client leaves mid-stream", function()
    local from = #proxy:log()
    local c = H.connect(proxy.port)
    local body = H.messages_body({ stream = true, messages = { { role = "user",
      content = "MOCK:slow 200\nMOCK:text a b c d e f g h i j" } } })
    assert(c:send(H.build_request(proxy.port, { path = "/v1/messages", json = body })))
    socket.sleep(0.5)
    c:close()
    assert_once(after(from), 200, "client-closed")
  end)

  it("runs once when a hook with on_error: fail raises", function()
    local from = #proxy:log()
    assert.equal(500, post(H.messages_body({ model = "claude-fail-me" })).status)
    assert_once(after(from), 500, "rejected")
  end)

  it("runs once when the request routes nowhere", function()
    local from = #proxy:log()
    assert.equal(404, post(H.messages_body({ model = "gpt-unknown-model" })).status)
    assert_once(after(from), 404, "rejected")
  end)

  it("runs once when the request cannot be translated for its provider", function()
    local from = #proxy:log()
    local res = post({ model = "gpt", max_tokens = 5, messages = "not a list" })
    assert.equal(400, res.status)
    assert_once(after(from), 400, "rejected")
  end)

  it("runs once for a local answer (count_tokens for another provider)", function()
    local from = #proxy:log()
    local res = post(H.messages_body({ model = "gpt" }), { path = "/v1/messages/count_tokens" })
    assert.equal(200, res.status)
    assert_once(after(from), 200, "answered-locally")
  end)

  it("runs once for a 401 the token refresh did not fix", function()
    local err = { status = 401, error = { type = "authentication_error", message = "no" } }
    mock:script({ err })
    local from = #proxy:log()
    assert.equal(401, post(H.messages_body()).status)
    assert_once(after(from), 401, "token-refresh-did-not-help")
  end)
end)
