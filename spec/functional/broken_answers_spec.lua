-- spec/functional/broken_answers_spec.lua: an upstream answer that breaks after its head reaches
-- the client broken the same way, as a direct connection would show it: a stream reset or
-- closed in the middle, a whole body cut short, a stall inside a stream. A stream that ends
-- cleanly without message_stop, or with an error event, is relayed exactly so. No error event
-- is made up, and the log line says what happened. Pass-through (Anthropic) and translated
-- (OpenAI, Gemini) routes alike.
local H = require("proxy_harness")
local sh = require("sh")

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
  upstream:
    first_byte_timeout: 2
    idle_timeout: 1
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
  - model_name: via_gemini
    litellm_params:
      model: gemini/gemini-mock
      api_base: BASE
      api_key: mock-key
  - model_name: "claude-*"
    litellm_params:
      model: anthropic/*
      api_base: BASE
]]):gsub("BASE", base)
end

describe("an upstream answer that breaks", function()
  local S = H.suite({ ccproxy_yaml = CCPROXY_YAML, config_yaml = config_yaml })

  -- The log line of the request whose answer is `res`.
  local function log_line(res)
    local id = assert(res.headers["x-ccproxy-request-id"], "no request id")
    local line
    assert.truthy(sh.wait_for(function()
      for l in S.proxy:log():gmatch("[^\n]+") do
        if l:find(" " .. id .. " POST ", 1, true) then line = l end
      end
      return line
    end, 3), "no log line for " .. id .. "\n" .. S.proxy:log():sub(-1500))
    return line
  end

  local function events_named(res)
    local names = {}
    for _, e in ipairs(res.events) do names[#names + 1] = e.event end
    return names
  end

  local function stream(model, step)
    S.mock:script({ step })
    local conn = H.connect(S.proxy.port)
    local res = S.proxy:messages(H.messages_body({ model = model, stream = true }),
      { timeout = 5, conn = conn })
    conn:wait_closed(2)
    conn:close()
    return res, conn
  end

  describe("on the pass-through route", function()
    it("resets the client's connection after the events that came when the upstream resets", function()
      local res, conn = stream("claude-sonnet-5-5", { text = "one two three four five", reset_after_events = 3 })
      assert.equals(200, res.status)
      assert.same({ "message_start", "ping", "content_block_start" }, events_named(res))
      assert.is_false(res.complete, "a broken stream must not end its framing")
      assert.equals("connection reset by peer", conn.eof_reason, S.proxy:log():sub(-600))
      assert.matches(" upstream%-broke", log_line(res))
      assert.not_matches("event: error", res.body)
    end)

    it("closes it without the last chunk when the upstream closes mid-stream", function()
      local res, conn = stream("claude-sonnet-5-5", { text = "one two three four five", close_after_events = 3 })
      assert.equals(200, res.status)
      assert.same({ "message_start", "ping", "content_block_start" }, events_named(res))
      assert.is_false(res.complete)
      assert.equals("closed", conn.eof_reason)
      assert.matches(" upstream%-broke", log_line(res))
    end)

    it("cuts a whole answer short of its Content-Length when the upstream does", function()
      for _, how in ipairs({ "reset_after_events", "close_after_events" }) do
        S.mock:reset()
        S.mock:script({ { text = "a whole answer that breaks in the middle", [how] = 1 } })
        local conn = H.connect(S.proxy.port)
        local res = S.proxy:messages(H.messages_body(), { timeout = 5, conn = conn })
        conn:close()
        assert.equals(200, res.status, how)
        local promised = tonumber(res.headers["content-length"])
        assert.is_truthy(promised, how)
        assert.is_true(#res.body < promised, how .. ": the client got the whole body")
        assert.is_false(res.complete, how)
        assert.matches(" upstream%-broke", log_line(res))
      end
    end)

    it("breaks a stream that stalls past idle_timeout, without an error event", function()
      local t0 = H.now()
      local res = stream("claude-sonnet-5-5", { text = "one two three four five", hang_after_events = 3 })
      assert.equals(200, res.status)
      assert.same({ "message_start", "ping", "content_block_start" }, events_named(res))
      assert.is_false(res.complete)
      assert.is_true(H.now() - t0 >= 0.9, "broken before idle_timeout")
      assert.matches(" upstream%-stalled", log_line(res))
    end)

    it("relays a stream that ends cleanly without message_stop exactly so, and says so", function()
      local res = stream("claude-sonnet-5-5", { text = "one two three four five", end_after_events = 4 })
      assert.equals(200, res.status)
      assert.same({ "message_start", "ping", "content_block_start", "content_block_delta" },
        events_named(res))
      assert.is_true(res.complete, "the upstream ended its body cleanly: so does the proxy")
      assert.matches(" upstream%-incomplete", log_line(res))
    end)

    it("relays the upstream's error event as it came, and says so", function()
      local res = stream("claude-sonnet-5-5", {
        text = "partial", status = 529, error_in_stream = true,
        error = { type = "overloaded_error", message = "Overloaded" },
      })
      assert.equals(200, res.status)
      local last = res.events[#res.events]
      assert.equals("error", last.event)
      assert.equals("overloaded_error", H.decode(last.data).error.type)
      assert.is_true(res.complete)
      assert.matches(" upstream%-error%-event", log_line(res))
    end)

    it("logs a complete stream with no outcome", function()
      local res = stream("claude-sonnet-5-5", { text = "all of it" })
      assert.equals("message_stop", res.events[#res.events].event)
      local line = log_line(res)
      assert.matches(" status=200 ", line)
      assert.not_matches("upstream%-", line)
    end)
  end)

  for _, route in ipairs({ { "openai", "claude-sonnet-5-5-via-openai" },
                           { "gemini", "claude-sonnet-5-5-via-gemini" } }) do
    local dialect, model = route[1], route[2]
    describe("on the " .. dialect .. " route", function()
      it("breaks the client's stream when the provider's breaks, with no error event", function()
        local res, conn = stream(model, { dialect = dialect, text = "one two three four", reset_after_events = 2 })
        assert.equals(200, res.status)
        assert.is_false(res.complete)
        assert.equals("connection reset by peer", conn.eof_reason)
        for _, e in ipairs(res.events) do
          assert.not_equals("error", e.event)
          assert.not_equals("message_stop", e.event)
        end
        assert.matches(" upstream%-broke", log_line(res))
      end)

      it("ends the client's stream cleanly without message_stop when the provider's ends early", function()
        local res = stream(model, { dialect = dialect, text = "one two three four", end_after_events = 2 })
        assert.equals(200, res.status)
        assert.is_true(res.complete)
        assert.is_true(#res.events >= 1)
        for _, e in ipairs(res.events) do
          assert.not_equals("error", e.event)
          assert.not_equals("message_stop", e.event)
        end
        assert.matches(" upstream%-incomplete", log_line(res))
      end)

      it("breaks a whole answer it was translating the way the provider's broke", function()
        for _, how in ipairs({ "reset_after_events", "close_after_events" }) do
          S.mock:reset()
          S.mock:script({ { dialect = dialect, text = "a whole answer that breaks", [how] = 1 } })
          local conn = H.connect(S.proxy.port)
          local res = S.proxy:messages(H.messages_body({ model = model }), { timeout = 5, conn = conn })
          conn:wait_closed(2)
          conn:close()
          -- The provider's head came: so does the client's, and then the same break.
          assert.equals(200, res.status, how)
          assert.is_false(res.complete, how)
          assert.equals("", res.body, how)
          assert.equals(how == "reset_after_events" and "connection reset by peer" or "closed",
            conn.eof_reason, how)
          assert.matches(" upstream%-broke", log_line(res))
        end
      end)

      it("maps the provider's own error in the stream to an error event", function()
        local res = stream(model, {
          dialect = dialect, text = "partial", status = 503, error_in_stream = true,
          error = { message = "gone mid-stream" },
        })
        assert.equals(200, res.status)
        local last = res.events[#res.events]
        assert.equals("error", last.event)
        assert.matches("gone mid%-stream", H.decode(last.data).error.message)
        assert.matches(" upstream%-error%-event", log_line(res))
      end)
    end)
  end
end)
