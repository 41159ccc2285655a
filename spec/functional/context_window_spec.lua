-- spec/functional/context_window_spec.lua: the context window follows the routed model. A
-- translated provider's context-length error reaches the client in Anthropic's words ("prompt
-- is too long: N tokens > M maximum", 400 invalid_request_error), which Claude Code compacts
-- on; and a request clearly over a deployment's model_info.max_input_tokens is answered so
-- before it is sent, or moved by context_window_fallbacks.
local H = require("proxy_harness")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
  rules:
    - name: via_openai
      rule: ccproxy.rules.MatchModelRule
      params:
        - model_name: via-openai
    - name: via_gemini
      rule: ccproxy.rules.MatchModelRule
      params:
        - model_name: via-gemini
    - name: tiny
      rule: ccproxy.rules.MatchModelRule
      params:
        - model_name: tiny
    - name: small
      rule: ccproxy.rules.MatchModelRule
      params:
        - model_name: small
litellm:
  host: 127.0.0.1
  port: 4000
]]

local function config_yaml(base)
  return ([[
model_list:
  - model_name: via_openai
    litellm_params:
      model: openai/gpt-mock
      api_base: BASE/v1
      api_key: sk-mock
    model_info:
      max_input_tokens: 100000
  - model_name: via_gemini
    litellm_params:
      model: gemini/gemini-mock
      api_base: BASE
      api_key: mock-key
  - model_name: tiny
    litellm_params:
      model: openai/gpt-tiny
      api_base: BASE/v1
      api_key: sk-mock
    model_info:
      max_input_tokens: 20
  - model_name: small
    litellm_params:
      model: openai/gpt-small
      api_base: BASE/v1
      api_key: sk-mock
    model_info:
      max_input_tokens: 20
  - model_name: big
    litellm_params:
      model: openai/gpt-big
      api_base: BASE/v1
      api_key: sk-mock
  - model_name: "claude-*"
    litellm_params:
      model: anthropic/*
      api_base: BASE
router_settings:
  context_window_fallbacks: [{small: [big]}]
]]):gsub("BASE", base)
end

local LONG_PROMPT = string.rep("a long prompt with many words in it ", 40)

describe("the context window of the routed model", function()
  local S = H.suite({ ccproxy_yaml = CCPROXY_YAML, config_yaml = config_yaml })

  local function ask(model, prompt)
    local body = H.messages_body({ model = model })
    if prompt then body.messages = { { role = "user", content = prompt } } end
    return S.proxy:messages(body, { timeout = 5 })
  end

  local function error_of(res)
    local e = H.decode(res.body)
    assert.equals("error", e.type)
    return e.error
  end

  it("maps OpenAI's context-length error to Anthropic's, with its numbers", function()
    S.mock:script({ { dialect = "openai", status = 400, error = {
      message = "This model's maximum context length is 128000 tokens. However, your messages "
        .. "resulted in 150000 tokens. Please reduce the length of the messages.",
      type = "invalid_request_error", code = "context_length_exceeded" } } })
    local res = ask("claude-sonnet-5-5-via-openai")
    assert.equals(400, res.status)
    local e = error_of(res)
    assert.equals("invalid_request_error", e.type)
    assert.equals("prompt is too long: 150000 tokens > 128000 maximum", e.message)
  end)

  it("maps Gemini's, streaming or not", function()
    for _, stream in ipairs({ false, true }) do
      S.mock:reset()
      S.mock:script({ { dialect = "gemini", status = 400, error = {
        message = "The input token count (1200000) exceeds the maximum number of tokens "
          .. "allowed (1048576).", type = "INVALID_ARGUMENT" } } })
      local res = S.proxy:messages(H.messages_body({ model = "claude-sonnet-5-5-via-gemini",
        stream = stream }), { timeout = 5 })
      assert.equals(400, res.status)
      assert.equals("prompt is too long: 1200000 tokens > 1048576 maximum", error_of(res).message)
    end
  end)

  it("says prompt is too long, with the provider's words, when no numbers tell how much", function()
    S.mock:script({ { dialect = "openai", status = 400, error = {
      message = "Please reduce the length of the messages or completion.",
      code = "context_length_exceeded" } } })
    local res = ask("claude-sonnet-5-5-via-openai")
    assert.equals(400, res.status)
    -- The estimate is under model_info.max_input_tokens (100000): no numbers that would lie.
    assert.equals("prompt is too long (openai answered HTTP 400: Please reduce the length of "
      .. "the messages or completion.)", error_of(res).message)
  end)

  it("leaves other 400s as the provider worded them", function()
    S.mock:script({ { dialect = "openai", status = 400, error = { message = "Invalid tool schema" } } })
    local res = ask("claude-sonnet-5-5-via-openai")
    assert.equals(400, res.status)
    assert.matches("openai answered HTTP 400: Invalid tool schema", error_of(res).message)
  end)

  it("answers a request clearly over model_info.max_input_tokens without sending it", function()
    local res = ask("claude-tiny", LONG_PROMPT)
    assert.equals(400, res.status)
    local e = error_of(res)
    assert.equals("invalid_request_error", e.type)
    local n, m = e.message:match("^prompt is too long: (%d+) tokens > (%d+) maximum$")
    assert.truthy(n, e.message)
    assert.equals("20", m)
    assert.is_true(tonumber(n) > 22)
    assert.equals(0, #S.mock:requests(), "the request went upstream")
    assert.matches("not sent to tiny: its estimated %d+ input tokens are over the deployment's "
      .. "model_info.max_input_tokens %(20%)", S.proxy:log())
    assert.matches(" status=400 .*over%-context%-window", S.proxy:log())
  end)

  it("sends a request within the window", function()
    S.mock:script({ { dialect = "openai", text = "fits" } })
    local res = ask("claude-sonnet-5-5-via-openai", "short")
    assert.equals(200, res.status, res.body)
    assert.equals(1, #S.mock:requests())
  end)

  it("moves a request over the window to context_window_fallbacks", function()
    S.mock:script({ { dialect = "openai", text = "the big one answered" } })
    local res = ask("claude-small", LONG_PROMPT)
    assert.equals(200, res.status, res.body)
    assert.equals("big", res.headers["x-ccproxy-deployment"])
    local reqs = S.mock:requests()
    assert.equals(1, #reqs)
    assert.equals("gpt-big", H.decode(reqs[1].body).model)
  end)
end)
