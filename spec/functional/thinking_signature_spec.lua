-- spec/functional/thinking_signature_spec.lua: a session whose thinking blocks Anthropic no
-- longer accepts (resumed under another key, moved from another model) is not stranded. The
-- mock rejects signatures it did not issue, with Anthropic's own 400; ccproxy retries once
-- without the conversation's thinking blocks, says so in the log, and relays anything else.
local H = require("proxy_harness")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
litellm:
  host: 127.0.0.1
  port: 4000
]]

local function config_yaml(base)
  return ([[
model_list:
  - model_name: "claude-*"
    litellm_params:
      model: anthropic/*
      api_base: BASE
]]):gsub("BASE", base)
end

local REJECTED = "messages.1.content.0: Invalid `signature` in `thinking` block"

-- A conversation whose earlier assistant turn thought, signed `sig`; then `last` from the user.
local function conversation(sig, last)
  return {
    { role = "user", content = "first question" },
    { role = "assistant", content = {
      { type = "thinking", thinking = "let me think", signature = sig },
      { type = "redacted_thinking", data = "redacted-" .. sig },
      { type = "text", text = "first answer" },
    } },
    { role = "user", content = last or "next question" },
  }
end

local function thinking_blocks(body)
  local n = 0
  for _, m in ipairs(body.messages) do
    if type(m.content) == "table" then
      for _, b in ipairs(m.content) do
        if b.type == "thinking" or b.type == "redacted_thinking" then n = n + 1 end
      end
    end
  end
  return n
end

describe("a thinking block's signature that Anthropic rejects", function()
  local S = H.suite({ ccproxy_yaml = CCPROXY_YAML, config_yaml = config_yaml })

  local function send(messages, extra)
    local fields = { messages = messages, thinking = { type = "adaptive" },
      context_management = { edits = { { type = "clear_thinking_20251015", keep = "all" } } } }
    for k, v in pairs(extra or {}) do fields[k] = v end
    return S.proxy:messages(H.messages_body(fields), { timeout = 5 })
  end

  it("goes once more without the thinking blocks, keeps thinking on, and says so", function()
    S.mock:script({ { text = "answered anyway", accept_signatures = { "sig-new" } } })
    local res = send(conversation("sig-old"))
    assert.equals(200, res.status, res.body)
    assert.matches("answered anyway", res.body)
    local reqs = S.mock:requests()
    assert.equals(2, #reqs)
    assert.equals(400, reqs[1].status)
    local first, second = H.decode(reqs[1].body), H.decode(reqs[2].body)
    assert.equals(2, thinking_blocks(first))
    assert.equals(0, thinking_blocks(second))
    -- The rest of the request is as it was: the text, the turns, thinking itself.
    assert.equals(#first.messages, #second.messages)
    assert.equals("first answer", second.messages[2].content[1].text)
    assert.same({ type = "adaptive" }, second.thinking)
    assert.same(first.context_management, second.context_management)
    assert.matches("rejected a thinking block's signature %(a resumed or moved session%): " ..
      "retrying once without the conversation's 2 thinking blocks", S.proxy:log())
  end)

  it("in a tool loop also turns thinking off for that request", function()
    local messages = {
      { role = "user", content = "run it" },
      { role = "assistant", content = {
        { type = "thinking", thinking = "I will run it", signature = "sig-old" },
        { type = "tool_use", id = "toolu_1", name = "Bash", input = { command = "true" } },
      } },
      { role = "user", content = {
        { type = "tool_result", tool_use_id = "toolu_1", content = "done" },
      } },
    }
    S.mock:script({ { text = "after the tool", accept_signatures = {} } })
    local res = send(messages)
    assert.equals(200, res.status, res.body)
    local reqs = S.mock:requests()
    assert.equals(2, #reqs)
    local second = H.decode(reqs[2].body)
    assert.equals(0, thinking_blocks(second))
    assert.is_nil(second.thinking)
    assert.is_nil(second.context_management)
    assert.equals("tool_use", second.messages[2].content[1].type)
  end)

  it("retries only once, and relays the second rejection", function()
    local rejected = { status = 400, error = { type = "invalid_request_error", message = REJECTED } }
    S.mock:script({ rejected, rejected })
    local res = send(conversation("sig-old"))
    assert.equals(400, res.status)
    assert.equals(REJECTED, H.decode(res.body).error.message)
    assert.equals(2, #S.mock:requests())
  end)

  it("relays any other 400 unchanged, without a retry", function()
    S.mock:script({ { status = 400, error = { type = "invalid_request_error",
      message = "max_tokens: must be at most 64000" } } })
    local res = send(conversation("sig-old"))
    assert.equals(400, res.status)
    assert.matches("max_tokens: must be at most 64000", res.body)
    assert.equals(1, #S.mock:requests())
  end)

  it("relays the rejection of a request that has no thinking blocks to remove", function()
    S.mock:script({ { status = 400, error = { type = "invalid_request_error", message = REJECTED } } })
    local res = S.proxy:messages(H.messages_body(), { timeout = 5 })
    assert.equals(400, res.status)
    assert.equals(1, #S.mock:requests())
  end)

  it("streams the retried answer to a streaming client", function()
    S.mock:script({ { text = "streamed after all", accept_signatures = {} } })
    local res = send(conversation("sig-old"), { stream = true })
    assert.equals(200, res.status)
    assert.equals("message_stop", res.events[#res.events].event)
    assert.equals(2, #S.mock:requests())
  end)
end)
