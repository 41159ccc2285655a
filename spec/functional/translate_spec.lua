-- spec/functional/translate_spec.lua: the real ccproxy binary translating to other providers,
-- with the mock upstream speaking OpenAI Chat Completions and Gemini generateContent. For each
-- dialect, streamed and whole answers with text, tool calls (OpenAI arguments arrive split),
-- thinking and errors: the Anthropic events or message the client gets (order, block types,
-- text, tool input, stop_reason, usage), and the request the provider gets (path, its own
-- credentials, nothing of Anthropic's headers, the upstream model). Pings keep a silent
-- translated stream alive; the spec sets CCPROXY_PING_INTERVAL_MS on that proxy.
local H = require("proxy_harness")

local null = H.json.null

local OPENAI_KEY = "spec-openai-key"
local GEMINI_KEY = "spec-gemini-key"
local AZURE_KEY = "spec-azure-key"
local CLIENT_KEY = "sk-ant-client-key"
-- A short ping interval for the ping spec (the proxy's default is 15 s).
local PING_MS = tonumber(os.getenv("CCPROXY_PING_INTERVAL_MS")) or 100

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
    - ccproxy.hooks.forward_apikey
  rules:
    - name: to_openai
      rule: match_model
      params:
        - model_name: to-openai
    - name: to_gemini
      rule: match_model
      params:
        - model_name: to-gemini
    - name: to_azure
      rule: match_model
      params:
        - model_name: to-azure
litellm:
  host: 127.0.0.1
  port: 4000
]]

local function config_yaml(base)
  return (([[
model_list:
  - model_name: to_openai
    litellm_params:
      model: openai/gpt-mock
      api_base: BASE/v1
      api_key: os.environ/SPEC_OPENAI_KEY
  - model_name: to_gemini
    litellm_params:
      model: gemini/gemini-mock
      api_base: BASE
      api_key: GEMINI_KEY
  - model_name: to_azure
    litellm_params:
      model: azure/gpt-mock-deploy
      api_base: BASE
      api_key: AZURE_KEY
      api_version: "2024-10-21"
  - model_name: "claude-*"
    litellm_params:
      model: anthropic/*
      api_base: BASE
]]):gsub("BASE", base):gsub("GEMINI_KEY", GEMINI_KEY):gsub("AZURE_KEY", AZURE_KEY))
end

local DIALECTS = {
  openai = {
    model = "claude-sonnet-5-5-to-openai",
    label = "to_openai",
    upstream = "gpt-mock",
  },
  gemini = {
    model = "claude-sonnet-5-5-to-gemini",
    label = "to_gemini",
    upstream = "gemini-mock",
  },
}

--------------------------------------------------------------------------------------------
-- The Anthropic event stream, checked as a client relies on it
--------------------------------------------------------------------------------------------

local STOP_REASONS = {
  end_turn = true, max_tokens = true, stop_sequence = true, tool_use = true,
  pause_turn = true, refusal = true, model_context_window_exceeded = true,
}
local DELTAS = {
  text = { text_delta = true, citations_delta = true },
  thinking = { thinking_delta = true, signature_delta = true },
  redacted_thinking = {},
  tool_use = { input_json_delta = true },
  server_tool_use = { input_json_delta = true },
  web_search_tool_result = {},
}

-- Checks res.events: message_start; per block start / deltas of its kind / stop with the next
-- index; no blank text block; tool input JSON that parses at its stop; one message_delta with
-- a stop reason and usage; message_stop last; pings anywhere before it. opts.allow_error lets
-- an error event end the stream. Returns the message the events build (tool inputs decoded,
-- usage updated by message_delta), the number of pings and the error, if any.
local function check_stream(events, opts)
  opts = opts or {}
  local message, open, phase, pings, err = nil, nil, "start", 0, nil
  local function fail(i, why)
    local lines = {}
    for k = math.max(1, i - 3), math.min(#events, i + 1) do
      lines[#lines + 1] = (k == i and "  > #" or "    #") .. k .. " " .. events[k].event .. " "
        .. events[k].data:sub(1, 200)
    end
    error(("Anthropic stream, event #%d: %s\n%s"):format(i, why, table.concat(lines, "\n")), 0)
  end
  for i, ev in ipairs(events) do
    local ok, d = pcall(H.decode, ev.data)
    if not ok or type(d) ~= "table" or type(d.type) ~= "string" then
      fail(i, "data is not a JSON object with a type")
    end
    if ev.event ~= d.type then
      fail(i, ("the event line says %s, data.type is %s"):format(tostring(ev.event), d.type))
    end
    if phase == "done" then
      fail(i, "an event after message_stop or an error")
    end
    if d.type == "ping" then
      pings = pings + 1
    elseif d.type == "error" then
      if not opts.allow_error then
        fail(i, "an error event: " .. ev.data)
      end
      err = d.error
      phase = "done"
    elseif phase == "start" then
      if d.type ~= "message_start" then
        fail(i, "the first event must be message_start")
      end
      local m = d.message
      if m.type ~= "message" or m.role ~= "assistant" or type(m.id) ~= "string" then
        fail(i, "message_start needs id, type message, role assistant")
      end
      if #m.content ~= 0 or m.stop_reason ~= null then
        fail(i, "message_start needs empty content and stop_reason null")
      end
      if type(m.usage) ~= "table" or type(m.usage.input_tokens) ~= "number" then
        fail(i, "message_start needs usage.input_tokens")
      end
      message = { id = m.id, model = m.model, content = {}, usage = m.usage }
      phase = "blocks"
    elseif phase == "blocks" then
      if d.type == "content_block_start" then
        if open then
          fail(i, "block " .. open.index .. " has not stopped")
        end
        if d.index ~= #message.content then
          fail(i, ("index %s, expected %d"):format(tostring(d.index), #message.content))
        end
        local b = d.content_block
        if not DELTAS[b.type] then
          fail(i, "unknown block type " .. tostring(b.type))
        end
        if b.type == "text" and b.text ~= "" then
          fail(i, "a text block must start empty")
        end
        local named = type(b.id) == "string" and b.id ~= "" and type(b.name) == "string"
        if b.type == "tool_use" and not named then
          fail(i, "a tool_use block needs an id and a name")
        end
        open = { index = d.index, block = b, json = {}, deltas = 0 }
        b.text = b.text or (b.type == "text" and "" or nil)
        if b.type == "thinking" then
          b.thinking, b.signature = b.thinking or "", b.signature or ""
        end
        message.content[#message.content + 1] = b
      elseif d.type == "content_block_delta" then
        if not open or d.index ~= open.index then
          fail(i, "a delta for a block that is not open")
        end
        local b, delta = open.block, d.delta
        if not DELTAS[b.type][delta.type] then
          fail(i, delta.type .. " in a " .. b.type .. " block")
        end
        if delta.type == "text_delta" then
          b.text = b.text .. delta.text
        elseif delta.type == "thinking_delta" then
          if open.signed then
            fail(i, "thinking text after the signature")
          end
          b.thinking = b.thinking .. delta.thinking
        elseif delta.type == "signature_delta" then
          b.signature = b.signature .. delta.signature
          open.signed = true
        elseif delta.type == "input_json_delta" then
          open.json[#open.json + 1] = delta.partial_json
          if delta.partial_json ~= "" then
            open.deltas = open.deltas + 1
          end
        end
      elseif d.type == "content_block_stop" then
        if not open or d.index ~= open.index then
          fail(i, "a stop for a block that is not open")
        end
        local b = open.block
        if b.type == "text" and not b.text:find("%S") then
          fail(i, "an empty or blank text block")
        end
        if b.type == "thinking" and b.thinking == "" and b.signature == "" then
          fail(i, "a thinking block with neither text nor signature")
        end
        if b.type == "tool_use" or b.type == "server_tool_use" then
          local text = table.concat(open.json)
          local ok2, input = pcall(H.decode, text == "" and "{}" or text)
          if not ok2 or type(input) ~= "table" then
            fail(i, "tool input is not a JSON object: " .. text)
          end
          b.input, b.json_deltas = input, open.deltas
        end
        open = nil
      elseif d.type == "message_delta" then
        if open then
          fail(i, "message_delta while a block is open")
        end
        if #message.content == 0 then
          fail(i, "a message without content blocks")
        end
        local reason = d.delta.stop_reason
        if not STOP_REASONS[reason] then
          fail(i, "stop_reason " .. tostring(reason) .. " is not Anthropic's")
        end
        local tools = 0
        for _, b in ipairs(message.content) do
          if b.type == "tool_use" then
            tools = tools + 1
          end
        end
        if (reason == "tool_use") ~= (tools > 0) and reason ~= "max_tokens" then
          fail(i, ("stop_reason %s with %d tool_use block(s)"):format(reason, tools))
        end
        if type(d.usage) ~= "table" or type(d.usage.output_tokens) ~= "number" then
          fail(i, "message_delta needs usage.output_tokens")
        end
        message.stop_reason = reason
        for k, v in pairs(d.usage) do
          if v ~= null then
            message.usage[k] = v
          end
        end
        phase = "delta"
      else
        fail(i, "unexpected " .. d.type .. " among content blocks")
      end
    elseif phase == "delta" then
      if d.type ~= "message_stop" then
        fail(i, "expected message_stop after message_delta")
      end
      phase = "done"
    end
  end
  if phase ~= "done" then
    fail(#events + 1, "the stream ended in phase " .. phase .. " without message_stop")
  end
  return message, pings, err
end

--------------------------------------------------------------------------------------------

local function request_body(model, text, fields)
  local b = {
    model = model,
    max_tokens = 1024,
    system = "You are terse.",
    messages = { { role = "user", content = text or "hello" } },
  }
  for k, v in pairs(fields or {}) do
    b[k] = v
  end
  return b
end

local CLIENT_HEADERS = {
  { "x-api-key", CLIENT_KEY },
  { "anthropic-version", "2023-06-01" },
  { "anthropic-beta", "interleaved-thinking-2025-05-14" },
  { "Content-Type", "application/json" },
}

local TOOLS = {
  {
    name = "Bash",
    description = "Run a command",
    input_schema = {
      ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
      type = "object",
      properties = {
        command = { type = "string" },
        description = { type = "string" },
      },
      required = { "command" },
      additionalProperties = false,
    },
  },
}

-- Asserts an Anthropic error body of `type_`; returns it.
local function assert_api_error(res, status, type_)
  assert.equals(status, res.status, res.body)
  assert.matches("^application/json", res.headers["content-type"] or "")
  local body = H.decode(res.body)
  assert.equals("error", body.type)
  assert.equals(type_, body.error.type)
  assert.is_true(type(body.error.message) == "string" and #body.error.message > 0)
  return body
end

describe("translation to other providers", function()
  local mock, proxy

  setup(function()
    mock = H.start_mock()
    proxy = H.start_proxy({
      ccproxy_yaml = CCPROXY_YAML,
      config_yaml = config_yaml(mock:base()),
      env = { SPEC_OPENAI_KEY = OPENAI_KEY },
    })
  end)

  teardown(function()
    H.cleanup()
  end)

  before_each(function()
    mock:reset()
  end)

  after_each(function()
    proxy:check_alive()
  end)

  -- Sends an Anthropic request for dialect `d`; the response, the mock's records.
  local function send(d, text, fields, opts)
    opts = opts or {}
    opts.headers = CLIENT_HEADERS
    opts.timeout = opts.timeout or 10
    local res = proxy:messages(request_body(DIALECTS[d].model, text, fields), opts)
    return res, mock:requests()
  end

  -- The one request of dialect `d` the mock saw, checked as every translated request must be.
  local function upstream_request(records, d, stream)
    local mine = {}
    for _, r in ipairs(records) do
      assert.is_true(r.invalid == null, ("#%d was rejected as %s would: %s"):format(r.n, r.dialect,
        tostring(r.invalid)))
      if r.dialect == d then
        mine[#mine + 1] = r
      end
    end
    assert.equals(1, #mine, "requests of dialect " .. d .. ": " .. #mine)
    local rec = mine[1]
    local body = H.decode(rec.body)
    if d == "openai" then
      assert.equals("/v1/chat/completions", rec.path)
      assert.equals("Bearer " .. OPENAI_KEY, (H.record_header(rec, "authorization")))
      assert.is_nil((H.record_header(rec, "x-goog-api-key")))
      assert.equals("gpt-mock", body.model)
      if stream then
        assert.is_true(body.stream)
        assert.is_true(body.stream_options.include_usage)
      else
        assert.is_true(body.stream == nil or body.stream == false)
      end
    else
      local method = stream and "streamGenerateContent?alt=sse" or "generateContent"
      assert.equals("/v1beta/models/gemini-mock:" .. method, rec.path)
      assert.equals(GEMINI_KEY, (H.record_header(rec, "x-goog-api-key")))
      assert.is_nil((H.record_header(rec, "authorization")))
    end
    for _, name in ipairs({ "x-api-key", "anthropic-version", "anthropic-beta" }) do
      assert.is_nil((H.record_header(rec, name)), name .. " must not reach the provider")
    end
    assert.matches("^application/json", H.record_header(rec, "content-type") or "")
    return rec, body
  end

  local function assert_routed(res, d)
    assert.equals(DIALECTS[d].label, res.headers["x-ccproxy-label"])
    assert.equals(DIALECTS[d].label, res.headers["x-ccproxy-deployment"])
    assert.equals(DIALECTS[d].upstream, res.headers["x-ccproxy-model"])
  end

  for _, d in ipairs({ "openai", "gemini" }) do
    describe("to " .. d, function()
      it("streams text as Anthropic events", function()
        mock:script({ { dialect = d, text = "one two three four" } })
        local res, records = send(d, "hi", { stream = true })
        assert.equals(200, res.status, res.body)
        assert.matches("^text/event%-stream", res.headers["content-type"])
        assert_routed(res, d)
        local msg = check_stream(res.events)
        assert.equals(DIALECTS[d].model, msg.model, "message_start names the client's model")
        assert.equals(1, #msg.content)
        assert.equals("text", msg.content[1].type)
        assert.equals("one two three four", msg.content[1].text)
        assert.equals("end_turn", msg.stop_reason)
        assert.is_true(msg.usage.input_tokens > 0)
        assert.is_true(msg.usage.output_tokens > 0)
        local deltas = 0
        for _, ev in ipairs(res.events) do
          if ev.data:find('"text_delta"', 1, true) then
            deltas = deltas + 1
          end
        end
        assert.is_true(deltas >= 2, "the text came in " .. deltas .. " delta(s)")
        local _, body = upstream_request(records, d, true)
        if d == "openai" then
          assert.equals("system", body.messages[1].role)
          assert.equals("user", body.messages[#body.messages].role)
        else
          assert.is_table(body.systemInstruction or body.system_instruction)
          assert.equals("user", body.contents[#body.contents].role)
        end
      end)

      it("answers a whole message when the client does not stream", function()
        mock:script({ { dialect = d, text = "all at once" } })
        local res, records = send(d, "hi")
        assert.equals(200, res.status, res.body)
        assert.matches("^application/json", res.headers["content-type"])
        assert_routed(res, d)
        local msg = H.decode(res.body)
        assert.equals("message", msg.type)
        assert.equals("assistant", msg.role)
        assert.matches("^msg_", msg.id)
        assert.equals(DIALECTS[d].model, msg.model)
        assert.equals(1, #msg.content)
        assert.same({ type = "text", text = "all at once" }, msg.content[1])
        assert.equals("end_turn", msg.stop_reason)
        assert.is_true(msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0)
        upstream_request(records, d, false)
      end)

      it("streams a tool call whose input arrives whole at its stop", function()
        local input = { command = "echo hi there", description = "Say hi" }
        mock:script({ { dialect = d, tool_use = { { name = "Bash", input = input } } } })
        local res, records = send(d, "run it", { stream = true, tools = TOOLS })
        assert.equals(200, res.status, res.body)
        local msg = check_stream(res.events)
        assert.equals(1, #msg.content)
        local b = msg.content[1]
        assert.equals("tool_use", b.type)
        assert.equals("Bash", b.name)
        assert.same(input, b.input)
        assert.equals("tool_use", msg.stop_reason)
        if d == "openai" then
          -- The mock splits the arguments over three chunks; they pass as they come.
          assert.is_true(b.json_deltas >= 2, "input came in " .. b.json_deltas .. " delta(s)")
        end
        local _, body = upstream_request(records, d, true)
        if d == "openai" then
          assert.equals("function", body.tools[1].type)
          assert.equals("Bash", body.tools[1]["function"].name)
        else
          assert.equals("Bash", body.tools[1].functionDeclarations[1].name)
        end
      end)

      it("keeps two parallel tool calls apart", function()
        mock:script({ {
          dialect = d,
          text = "Running both.",
          tool_use = {
            { name = "Bash", input = { command = "echo one" } },
            { name = "Bash", input = { command = "echo two", description = "Two \"quoted\"" } },
          },
        } })
        local res = send(d, "run both", { stream = true, tools = TOOLS })
        assert.equals(200, res.status, res.body)
        local msg = check_stream(res.events)
        assert.equals(3, #msg.content)
        assert.same({ type = "text", text = "Running both." }, msg.content[1])
        assert.same({ command = "echo one" }, msg.content[2].input)
        assert.same({ command = "echo two", description = "Two \"quoted\"" }, msg.content[3].input)
        assert.not_equals(msg.content[2].id, msg.content[3].id)
        assert.equals("tool_use", msg.stop_reason)
      end)

      it("answers a tool call in a whole message", function()
        local call = { name = "Bash", input = { command = "ls" } }
        mock:script({ { dialect = d, tool_use = { call } } })
        local res, records = send(d, "list", { tools = TOOLS })
        assert.equals(200, res.status, res.body)
        local msg = H.decode(res.body)
        assert.equals(1, #msg.content)
        assert.equals("tool_use", msg.content[1].type)
        assert.matches("^[%w_%-]+$", msg.content[1].id) -- Anthropic's tool id pattern
        assert.same({ command = "ls" }, msg.content[1].input)
        assert.equals("tool_use", msg.stop_reason)
        upstream_request(records, d, false)
      end)

      it("sends the tool result back as the provider expects it", function()
        local body = request_body(DIALECTS[d].model, "run it", { tools = TOOLS, stream = true })
        body.messages = {
          { role = "user", content = "run it" },
          { role = "assistant", content = {
            { type = "tool_use", id = "toolu_01abc", name = "Bash",
              input = { command = "echo x" } },
          } },
          { role = "user", content = {
            { type = "tool_result", tool_use_id = "toolu_01abc", content = "x-output" },
          } },
        }
        local res = proxy:messages(body, { headers = CLIENT_HEADERS })
        assert.equals(200, res.status, res.body)
        local msg = check_stream(res.events)
        assert.equals("Tool said: x-output", msg.content[1].text)
        local _, sent = upstream_request(mock:requests(), d, true)
        if d == "openai" then
          local last = sent.messages[#sent.messages]
          assert.equals("tool", last.role)
          assert.equals(sent.messages[#sent.messages - 1].tool_calls[1].id, last.tool_call_id)
        else
          local last = sent.contents[#sent.contents]
          assert.equals("Bash", last.parts[1].functionResponse.name)
        end
      end)

      it("streams thinking as a thinking block before the text", function()
        mock:script({
          { dialect = d, thinking = "Let me think it over", text = "Thought through" },
        })
        local res = send(d, "think", {
          stream = true,
          thinking = { type = "enabled", budget_tokens = 2048 },
        })
        assert.equals(200, res.status, res.body)
        local msg = check_stream(res.events)
        assert.equals(2, #msg.content)
        assert.equals("thinking", msg.content[1].type)
        assert.equals("Let me think it over", msg.content[1].thinking)
        assert.same({ type = "text", text = "Thought through" }, msg.content[2])
        assert.equals("end_turn", msg.stop_reason)
        if d == "openai" then
          assert.is_true(#msg.content[1].signature > 0, "reasoning gets a signature to replay")
        end
      end)

      it("answers thinking in a whole message", function()
        mock:script({ { dialect = d, thinking = "Quiet thought", text = "Said aloud" } })
        local res = send(d, "think", { thinking = { type = "enabled", budget_tokens = 2048 } })
        assert.equals(200, res.status, res.body)
        local msg = H.decode(res.body)
        assert.equals("thinking", msg.content[1].type)
        assert.equals("Quiet thought", msg.content[1].thinking)
        assert.same({ type = "text", text = "Said aloud" }, msg.content[2])
      end)

      if d == "gemini" then
        it("carries a thought signature on the thinking block of the call", function()
          mock:script({ {
            dialect = d,
            thinking = "Need a command",
            thought_signature = "c2lnLWZvci1iYXNo",
            tool_use = { { name = "Bash", input = { command = "pwd" } } },
          } })
          local res = send(d, "where", { stream = true, tools = TOOLS })
          local msg = check_stream(res.events)
          assert.equals("thinking", msg.content[1].type)
          assert.equals("Need a command", msg.content[1].thinking)
          assert.truthy(msg.content[1].signature:find("c2lnLWZvci1iYXNo", 1, true),
            "the signature keeps Gemini's: " .. msg.content[1].signature)
          assert.equals("tool_use", msg.content[2].type)
        end)
      end

      it("reports the provider's usage, cache reads apart", function()
        local usage = { input_tokens = 100, output_tokens = 20, cache_read_input_tokens = 30 }
        mock:script({ { dialect = d, text = "counted", usage = usage } })
        local res = send(d, "count", { stream = true })
        local msg = check_stream(res.events)
        assert.equals(100, msg.usage.input_tokens)
        assert.equals(30, msg.usage.cache_read_input_tokens)
        assert.equals(20, msg.usage.output_tokens)
      end)

      it("maps max_tokens", function()
        mock:script({ { dialect = d, text = "cut off", stop_reason = "max_tokens" } })
        local msg = check_stream(send(d, "long", { stream = true }).events)
        assert.equals("max_tokens", msg.stop_reason)
      end)

      it("turns an upstream 429 into rate_limit_error with its retry-after", function()
        mock:script({ {
          dialect = d,
          status = 429,
          error = { message = "slow down" },
          headers = { ["retry-after"] = "7" },
        } })
        local res = send(d, "hi", { stream = true })
        local body = assert_api_error(res, 429, "rate_limit_error")
        assert.matches("slow down", body.error.message)
        assert.equals("7", res.headers["retry-after"])
      end)

      it("turns an upstream 503 into 529 overloaded_error", function()
        mock:script({ { dialect = d, status = 503, error = { message = "too busy" } } })
        local res = send(d, "hi")
        local body = assert_api_error(res, 529, "overloaded_error")
        assert.matches("too busy", body.error.message)
      end)

      it("turns an upstream 400 into invalid_request_error", function()
        mock:script({ { dialect = d, status = 400, error = { message = "bad field" } } })
        local res = send(d, "hi", { stream = true })
        local body = assert_api_error(res, 400, "invalid_request_error")
        assert.matches("bad field", body.error.message)
      end)

      it("ends a stream the provider breaks off with an error event", function()
        mock:script({ {
          dialect = d,
          text = "never finished here",
          status = 503,
          error_in_stream = true,
          error = { message = "gone mid-stream" },
        } })
        local res = send(d, "hi", { stream = true })
        assert.equals(200, res.status)
        local _, _, err = check_stream(res.events, { allow_error = true })
        assert.is_table(err, "the stream must end with an error event")
        assert.is_string(err.type)
        assert.matches("gone mid%-stream", err.message)
      end)

      it("answers count_tokens itself", function()
        local res = proxy:messages(request_body(DIALECTS[d].model, "count these words please"), {
          path = "/v1/messages/count_tokens",
          headers = CLIENT_HEADERS,
        })
        assert.equals(200, res.status, res.body)
        local n = H.decode(res.body).input_tokens
        assert.is_true(type(n) == "number" and n > 0 and n == math.floor(n))
        for _, r in ipairs(mock:requests()) do
          assert.not_equals("anthropic", r.dialect, "count_tokens went to " .. r.path)
        end
      end)
    end)
  end

  it("answers a whole gemini answer that fails at its end with an error status", function()
    mock:script({ { dialect = "gemini", text = "partial", finish_reason = "MALFORMED_FUNCTION_CALL" } })
    local res = send("gemini", "hi", { stream = false })
    assert.equals(502, res.status, res.body)
    local body = H.decode(res.body)
    assert.equals("error", body.type)
    assert.equals("api_error", body.error.type)
    assert.equals(#res.body, tonumber(res.headers["content-length"]))
  end)

  describe("to azure", function()
    it("uses the deployment path, api-version and api-key", function()
      mock:script({ { dialect = "openai", text = "from azure" } })
      local body = request_body("claude-sonnet-5-5-to-azure", "hi", { stream = true })
      local res = proxy:messages(body, { headers = CLIENT_HEADERS })
      assert.equals(200, res.status, res.body)
      assert.equals("from azure", check_stream(res.events).content[1].text)
      local rec = mock:last_request()
      assert.equals("openai", rec.dialect)
      assert.equals("/openai/deployments/gpt-mock-deploy/chat/completions?api-version=2024-10-21",
        rec.path)
      assert.equals(AZURE_KEY, (H.record_header(rec, "api-key")))
      assert.is_nil((H.record_header(rec, "authorization")))
      assert.is_nil((H.record_header(rec, "x-api-key")))
    end)
  end)

  it("still passes Anthropic routes through untouched", function()
    local body = request_body("claude-sonnet-5-5", "MOCK:text native", { stream = true })
    local res = proxy:messages(body, { headers = CLIENT_HEADERS })
    assert.equals(200, res.status)
    assert.equals("native", check_stream(res.events).content[1].text)
    local rec = mock:last_request()
    assert.equals("anthropic", rec.dialect)
    assert.equals(CLIENT_KEY, (H.record_header(rec, "x-api-key")))
    assert.equals("2023-06-01", (H.record_header(rec, "anthropic-version")))
  end)
end)

describe("pings on a silent translated stream", function()
  local mock, proxy

  setup(function()
    mock = H.start_mock()
    proxy = H.start_proxy({
      ccproxy_yaml = CCPROXY_YAML,
      config_yaml = config_yaml(mock:base()),
      env = { SPEC_OPENAI_KEY = OPENAI_KEY, CCPROXY_PING_INTERVAL_MS = PING_MS },
    })
  end)

  teardown(function()
    H.cleanup()
  end)

  after_each(function()
    proxy:check_alive()
  end)

  -- Steps with a few frames, each after a silence of 3.5 ping intervals: OpenAI sends its
  -- role, two content pieces, the finish, the usage and [DONE]; Gemini two thought chunks and
  -- two text chunks.
  local STEPS = {
    openai = { text = "ab" },
    gemini = { thinking = "ab", text = "cd" },
  }

  for _, d in ipairs({ "openai", "gemini" }) do
    it("sends pings to " .. d .. " clients while the provider is silent, and only then", function()
      local step = { dialect = d, event_delay_ms = math.floor(PING_MS * 3.5) }
      for k, v in pairs(STEPS[d]) do
        step[k] = v
      end
      mock:reset()
      mock:script({ step })
      local res = proxy:messages(request_body(DIALECTS[d].model, "hi", { stream = true }), {
        headers = CLIENT_HEADERS,
        timeout = 30,
      })
      assert.equals(200, res.status, res.body)
      local msg, pings = check_stream(res.events)
      assert.equals(STEPS[d].text, msg.content[#msg.content].text)
      -- A ping comes once the client has heard nothing for an interval (checked every
      -- interval), so no silence reaches 2.5 intervals, and no ping comes much sooner than an
      -- interval after the previous event: pings fill silences, they do not pad the stream.
      local prev = res.t_head
      for i, ev in ipairs(res.events) do
        local since_ms = (ev.t - prev) * 1000
        if ev.event == "ping" then
          assert.is_true(since_ms >= PING_MS * 0.8, ("ping #%d came %.0f ms after the previous "
            .. "event (interval %d ms)"):format(i, since_ms, PING_MS))
        else
          assert.is_true(since_ms < PING_MS * 2.5, ("%.0f ms of silence before event #%d (%s), "
            .. "interval %d ms"):format(since_ms, i, ev.event, PING_MS))
        end
        prev = ev.t
      end
      assert.is_true(pings >= 2, "only " .. pings .. " ping(s) during the silences")
    end)
  end
end)
