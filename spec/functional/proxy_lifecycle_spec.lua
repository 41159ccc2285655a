-- spec/functional/proxy_lifecycle_spec.lua: the real ccproxy binary under load and on stop:
-- a large stream read slowly arrives whole without the proxy holding it in memory
-- (back-pressure), and SIGTERM lets a stream in flight finish before the process exits 0.
local H = require("proxy_harness")
local sh = require("sh")
local socket = require("socket")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
  server:
    shutdown_grace: 5
  upstream:
    first_byte_timeout: 5
    idle_timeout: 10
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

-- A 20 MiB answer as a raw SSE body of 320 text deltas of 64 KiB, made of numbered lines so
-- that any lost, repeated or reordered byte shows. Returns the step's JSON text (written by
-- hand: the JSON-escaped body is built beside the raw one) and the whole text.
local function big_stream_step()
  local filler = ("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUV"):sub(1, 55)
  local texts, body = {}, {}
  local function event(name, data)
    -- raw: event: NAME\ndata: DATA\n\n, escaped for a JSON string.
    body[#body + 1] = "event: " .. name .. "\\ndata: " .. data:gsub('"', '\\"') .. "\\n\\n"
  end
  event("message_start", '{"type":"message_start","message":{"id":"msg_big","type":"message",'
    .. '"role":"assistant","model":"claude-sonnet-5-5","content":[],"stop_reason":null,'
    .. '"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}')
  event("content_block_start",
    '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}')
  local n = 0
  for _ = 1, 320 do
    local lines = {}
    for j = 1, 1024 do
      n = n + 1
      lines[j] = string.format("%08d:", n) .. filler
    end
    local piece = table.concat(lines)
    texts[#texts + 1] = piece
    event("content_block_delta", '{"type":"content_block_delta","index":0,'
      .. '"delta":{"type":"text_delta","text":"' .. piece .. '"}}')
  end
  event("content_block_stop", '{"type":"content_block_stop","index":0}')
  event("message_delta", '{"type":"message_delta","delta":{"stop_reason":"end_turn",'
    .. '"stop_sequence":null},"usage":{"output_tokens":5000000}}')
  event("message_stop", '{"type":"message_stop"}')
  local step = '{"steps":[{"raw":{"status":200,"headers":{"content-type":"text/event-stream"},'
    .. '"body":"' .. table.concat(body) .. '"}}]}'
  return step, table.concat(texts)
end

describe("ccproxy under load and on stop", function()
  local mock

  local function start_proxy()
    return H.start_proxy({ ccproxy_yaml = CCPROXY_YAML, config_yaml = config_yaml(mock:base()) })
  end

  setup(function()
    mock = H.start_mock()
  end)

  teardown(function()
    H.cleanup()
  end)

  before_each(function()
    mock:reset()
  end)

  it("relays a 20 MiB stream read slowly, complete and in order, without buffering it", function()
    local proxy = start_proxy()
    local step, text = big_stream_step()
    mock:script(step)
    local base_rss = proxy:rss_kib()
    local max_rss, reads = base_rss, 0
    local res = proxy:messages(H.messages_body({ stream = true }), {
      timeout = 30,
      read_size = 65536,
      read_delay = 0.001,
      on_data = function()
        reads = reads + 1
        if reads % 16 == 0 then
          max_rss = math.max(max_rss, proxy:rss_kib() or 0)
        end
      end,
    })
    assert.equals(200, res.status)
    assert.is_true(res.complete)
    assert.equals(325, #res.events)
    assert.equals("message_stop", res.events[#res.events].event)
    local parts = {}
    for _, ev in ipairs(res.events) do
      if ev.event == "content_block_delta" then
        -- {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"..."}}
        parts[#parts + 1] = assert(ev.data:match('"text_delta","text":"(.*)"}}$'))
      end
    end
    local got = table.concat(parts)
    assert.equals(#text, #got)
    assert.is_true(text == got, "the streamed text differs from what the upstream sent")
    -- Back-pressure: the proxy held a small window, not the 20 MiB the upstream had ready.
    local grew = max_rss - base_rss
    if not H.sanitized() then -- ASan's quarantine keeps freed memory resident
      assert.is_true(grew < 8 * 1024, string.format("the proxy's memory grew by %d KiB", grew))
    end
    proxy:stop()
  end)

  it("lets a stream in flight finish on SIGTERM, then exits 0", function()
    local proxy = start_proxy()
    mock:script({ { text = "x", event_delay_ms = 200 } }) -- 7 events
    local conn = H.connect(proxy.port)
    assert(conn:send(H.build_request(proxy.port, {
      path = "/v1/messages",
      json = H.messages_body({ stream = true }),
    })))
    local refused
    local res = conn:read_response({
      timeout = 8,
      on_event = function(ev, r)
        if #r.events == 1 then
          assert(proxy.proc:kill("TERM"))
          -- The listener closes at once; the stream goes on.
          refused = sh.wait_for(function()
            local s = socket.tcp()
            s:settimeout(0.2)
            local ok = s:connect("127.0.0.1", proxy.port)
            s:close()
            return not ok
          end, 1)
        end
      end,
    })
    conn:close()
    assert.equals(200, res.status)
    assert.is_true(res.complete, "the stream was cut: " .. tostring(res.error))
    assert.equals(7, #res.events)
    assert.equals("message_stop", res.events[#res.events].event)
    assert.truthy(refused, "the proxy still accepted connections after SIGTERM")
    local rc = proxy.proc:wait(5)
    assert.equals(0, rc)
    assert.matches("SIGTERM", proxy:log())
    local rec = mock:last_request()
    assert.is_true(rec.completed)
  end)

  it("exits 0 on SIGTERM when idle, and removes its pid file", function()
    local proxy = start_proxy()
    assert.equals(200, proxy:messages(H.messages_body()).status)
    assert.is_true(sh.exists(proxy.dir .. "/ccproxy.pid"))
    assert(proxy.proc:kill("TERM"))
    assert.equals(0, proxy.proc:wait(3))
    assert.is_false(sh.exists(proxy.dir .. "/ccproxy.pid"))
  end)
end)
