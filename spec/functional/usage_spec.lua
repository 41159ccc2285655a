-- spec/functional/usage_spec.lua: the token usage each answer reports, read as it passes, in
-- the request's log line (tokens=in:N,out:N,cache_read:N,cache_write:N): an Anthropic stream
-- (message_delta's totals win over message_start's), an Anthropic whole answer, an
-- OpenAI-compatible stream translated to Anthropic's, message_start's alone for a stream that
-- ends in an error event, and none for an error answer or count_tokens. A client that accepts
-- gzip still gets its usage read (ccproxy asks the upstream for plain bytes); an upstream that
-- compresses anyway is relayed as it is, its usage logged as unread. The client's bytes are
-- what the upstream sent.
local H = require("proxy_harness")
local sh = require("sh")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
    - usage_log
  rules:
    - name: to_openai
      rule: match_model
      params:
        - model_name: to-openai
litellm:
  host: 127.0.0.1
  port: 4000
]]

-- The done stage sees the usage and the cost.
local USAGE_LOG = [[
return {
  done = function(req, res)
    if res.usage then
      req:log("info", string.format("done-usage in=%d out=%d cache_read=%d cost=%s",
        res.usage.input_tokens, res.usage.output_tokens, res.usage.cache_read_input_tokens,
        res.cost_usd and string.format("%.8f", res.cost_usd) or "unknown"))
    end
  end,
}
]]

local function config_yaml(base)
  return ([[
model_list:
  - model_name: to_openai
    litellm_params:
      model: openai/gpt-mock
      api_base: BASE/v1
      api_key: spec-openai-key
  - model_name: "claude-*"
    litellm_params:
      model: anthropic/*
      api_base: BASE
]]):gsub("BASE", base)
end

describe("token usage in the log line", function()
  local mock, proxy

  setup(function()
    mock = H.start_mock()
    local dir = sh.tmpdir()
    sh.run({ "mkdir", "-p", dir .. "/hooks" })
    sh.write_file(dir .. "/hooks/usage_log.lua", USAGE_LOG)
    proxy = H.start_proxy({ dir = H.config_dir({ dir = dir, ccproxy_yaml = CCPROXY_YAML,
                                                 config_yaml = config_yaml(mock:base()) }) })
  end)

  teardown(function()
    H.cleanup()
  end)

  before_each(function()
    mock:reset()
  end)

  after_each(function()
    proxy:check_clean()
  end)

  -- The request's log line (the response names its id).
  local function log_line(res)
    local id = res.headers["x-ccproxy-request-id"]
    assert.is_string(id, "the response names its request id")
    local lines = proxy:wait_log(" " .. id .. " POST %S+ rule=", 3)
    assert.equal(1, #lines, "one log line for " .. id .. ":\n" .. proxy:log())
    return lines[1]
  end

  -- The tokens field of the request's log line, or nil; checks there is at most one.
  local function tokens(res)
    local line = log_line(res)
    local _, n = line:gsub(" tokens=", "")
    assert.is_true(n <= 1, line)
    return line:match(" tokens=(%S+)"), line
  end

  local USAGE = {
    input_tokens = 12,
    output_tokens = 7,
    cache_creation_input_tokens = 3,
    cache_read_input_tokens = 40,
  }

  it("reads an Anthropic stream: message_delta's totals", function()
    mock:script({ { text = "one two three four five six", usage = USAGE } })
    local res = proxy:messages(H.messages_body({ stream = true }))
    assert.equal(200, res.status, res.body)
    assert.matches("^text/event%-stream", res.headers["content-type"])
    -- The events are the upstream's, untouched: message_start said 1 output token.
    assert.equal("message_start", res.events[1].event)
    assert.equal(1, H.decode(res.events[1].data).message.usage.output_tokens)
    assert.equal("message_stop", res.events[#res.events].event)
    local t, line = tokens(res)
    assert.equal("in:12,out:7,cache_read:40,cache_write:3", t, line)
    local entry = proxy:request_log()[#proxy:request_log()]
    assert.is_nil(entry.outcome, "the tokens field is not taken for an outcome: " .. line)
  end)

  it("prices the tokens of a model the price table knows, and says when it does not", function()
    mock:script({ { text = "priced", usage = USAGE } })
    local body = H.messages_body()
    body.model = "claude-sonnet-4-5-20250929"
    local res = proxy:messages(body)
    assert.equal(200, res.status, res.body)
    local line = log_line(res)
    -- 12 x 3e-6 + 7 x 1.5e-5 + 3 x 3.75e-6 + 40 x 3e-7 = 0.00016425
    assert.matches(" cost=%$0%.000164 ", line .. " ")
    assert.matches("done%-usage in=12 out=7 cache_read=40 cost=0%.00016425", proxy:log())
    mock:script({ { text = "unpriced", usage = USAGE } })
    res = proxy:messages(H.messages_body()) -- claude-sonnet-5-5: not in the table
    assert.matches(" cost=%? ", log_line(res) .. " ")
    assert.matches("done%-usage in=12 out=7 cache_read=40 cost=unknown", proxy:log())
  end)

  it("reads an Anthropic whole answer", function()
    mock:script({ { text = "whole", usage = { input_tokens = 5, output_tokens = 2 } } })
    local res = proxy:messages(H.messages_body())
    assert.equal(200, res.status, res.body)
    local body = H.body_json(res)
    assert.equal(5, body.usage.input_tokens)
    local t, line = tokens(res)
    assert.equal("in:5,out:2,cache_read:0,cache_write:0", t, line)
  end)

  it("reads the usage of a client that accepts gzip: the upstream is asked for plain bytes", function()
    mock:script({ { text = "plain", gzip = true, usage = { input_tokens = 9, output_tokens = 4 } } })
    local res = proxy:messages(H.messages_body({ stream = true }), {
      headers = { { "Content-Type", "application/json" },
                  { "Accept-Encoding", "gzip, deflate, br, zstd" } },
    })
    assert.equal(200, res.status, res.body)
    assert.equal("identity", H.record_header(mock:last_request(), "accept-encoding"))
    assert.is_nil(res.headers["content-encoding"])
    local t, line = tokens(res)
    assert.equal("in:9,out:4,cache_read:0,cache_write:0", t, line)
  end)

  it("relays an answer compressed against its asking as it is, and logs its usage unread", function()
    mock:script({ { text = "squeezed", gzip = "always",
      usage = { input_tokens = 9, output_tokens = 4 } } })
    local res = proxy:messages(H.messages_body(), {
      headers = { { "Content-Type", "application/json" }, { "Accept-Encoding", "gzip" } },
    })
    assert.equal(200, res.status, res.body)
    assert.equal("gzip", res.headers["content-encoding"])
    assert.equal("\31\139", res.body:sub(1, 2))
    local t, line = tokens(res)
    assert.is_nil(t, line)
    assert.truthy(line:find(" usage=unread(content-encoding gzip)", 1, true), line)
  end)

  it("reads an OpenAI-compatible stream after its translation", function()
    mock:script({ {
      dialect = "openai",
      text = "translated words",
      usage = { input_tokens = 100, output_tokens = 20, cache_read_input_tokens = 30 },
    } })
    local res = proxy:messages(H.messages_body({ model = "claude-sonnet-5-5-to-openai",
      stream = true }))
    assert.equal(200, res.status, res.body)
    assert.equal("to_openai", res.headers["x-ccproxy-deployment"])
    assert.equal("openai", mock:last_request().dialect)
    local t, line = tokens(res)
    assert.equal("in:100,out:20,cache_read:30,cache_write:0", t, line)
  end)

  it("logs no tokens for an error answer", function()
    mock:script({ { status = 400, error = { type = "invalid_request_error", message = "no" } } })
    local res = proxy:messages(H.messages_body({ stream = true }))
    assert.equal(400, res.status, res.body)
    local t, line = tokens(res)
    assert.is_nil(t, line)
    assert.matches(" status=400 ", line)
  end)

  it("reports what message_start said when a stream ends in an error event", function()
    mock:script({ { usage = { input_tokens = 21 },
      error_in_stream = { type = "overloaded_error", message = "busy" } } })
    local res = proxy:messages(H.messages_body({ stream = true }))
    assert.equal(200, res.status, res.body)
    assert.equal("error", res.events[#res.events].event, res.body)
    local t, line = tokens(res)
    assert.equal("in:21,out:1,cache_read:0,cache_write:0", t, line)
  end)

  it("logs no tokens for count_tokens", function()
    local res = proxy:messages({ model = "claude-sonnet-5-5", messages = { { role = "user",
      content = "count me" } } }, { path = "/v1/messages/count_tokens" })
    assert.equal(200, res.status, res.body)
    assert.is_number(H.body_json(res).input_tokens)
    local t, line = tokens(res)
    assert.is_nil(t, line)
  end)
end)
