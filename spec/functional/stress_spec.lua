-- spec/functional/stress_spec.lua: dozens of concurrent clients that leave at random moments
-- (spec/support/stress_client.mjs), against upstreams that answer (streams and whole answers,
-- Anthropic and OpenAI), answer slowly, reset the connection, stall before or inside their
-- answer, never complete the TCP connect, or accept and never answer; meanwhile SIGHUP every
-- 200 ms. A few seconds of load, bounded in count and time. Afterwards the proxy runs without
-- a sanitizer report, answers a normal request, its descriptors are back to where they were
-- and its memory within a bound, and it exits 0 on SIGTERM (LeakSanitizer checks then).
-- Every request read to its end got what its upstream's behaviour calls for.
--
-- The choices are random with a fixed seed, printed with every failure; CCPROXY_STRESS_SEED
-- replays another one. What each choice meets still depends on timing.
local H = require("proxy_harness")
local sh = require("sh")
local socket = require("socket")

local SEED = tonumber(os.getenv("CCPROXY_STRESS_SEED")) or 20261202
local CLIENTS = 48
local WARMUP_MS, LOAD_MS = 2000, 6000
local MAX_REQUESTS = 6000
local HUP_EVERY_S = 0.2

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
  server:
    shutdown_grace: 2
    header_timeout: 2
  upstream:
    connect_timeout: 1
    first_byte_timeout: 1
    idle_timeout: 1
    pool_idle_ttl: 0.5
litellm:
  host: 127.0.0.1
  port: 4000
  num_workers: 2
]]

local function config_yaml(mock, stall, silent)
  return H.claude_config(mock:base()) .. ([[
  - model_name: to-openai
    litellm_params:
      model: openai/gpt-mock
      api_base: MOCK/v1
      api_key: spec-key
  - model_name: stall-connect
    litellm_params:
      model: anthropic/claude-sonnet-5-5
      api_base: STALL
  - model_name: silent-http
    litellm_params:
      model: anthropic/claude-sonnet-5-5
      api_base: SILENT
]]):gsub("MOCK", mock:base()):gsub("STALL", stall:base()):gsub("SILENT", silent:base())
end

describe("ccproxy under clients that leave at random", function()
  local mock, stall, silent, proxy

  setup(function()
    mock = H.start_mock()
    stall = H.silent_listener({ stall_connect = true })
    silent = H.silent_listener({ backlog = 2048 })
    proxy = H.start_proxy({ ccproxy_yaml = CCPROXY_YAML,
                            config_yaml = config_yaml(mock, stall, silent) })
  end)

  teardown(function()
    H.cleanup()
    stall:close()
    silent:close()
  end)

  local function with_seed(msg)
    return string.format("%s (seed %d; replay with CCPROXY_STRESS_SEED=%d)", msg, SEED, SEED)
  end

  -- check_clean, with the seed in its message.
  local function check_clean()
    local ok, err = pcall(proxy.check_clean, proxy)
    if not ok then
      error(with_seed(tostring(err)), 2)
    end
  end

  -- One wave of load: the client runs for duration_ms while the proxy gets a SIGHUP every
  -- HUP_EVERY_S (when hup). Returns the client's summary and the number of reloads sent.
  local function wave(seed, clients, duration_ms, hup)
    local out = sh.tmpdir()
    local client = H.spawn({ "node", H.spec_path("support/stress_client.mjs"),
      "--port", tostring(proxy.port), "--seed", tostring(seed), "--clients", tostring(clients),
      "--duration-ms", tostring(duration_ms), "--max-requests", tostring(MAX_REQUESTS),
      "--models", H.encode({ mock = "claude-sonnet-5-5", openai = "to-openai",
                             stall = "stall-connect", silent = "silent-http" }) },
      { cwd = out })
    local hups = 0
    local deadline = H.now() + duration_ms / 1000 + 12
    while client:alive() and H.now() < deadline do
      if hup and proxy.proc:alive() then
        proxy.proc:kill("HUP")
        hups = hups + 1
      end
      socket.sleep(HUP_EVERY_S)
    end
    local rc = client:wait(1) or client:stop()
    local text = client:stdout_text()
    local line = text:match("[^\n]+")
    assert(rc == 0 and line, with_seed(("the stress client failed (exit %s): %s %s"):format(
      tostring(rc), text, client:stderr_text())))
    return H.decode(line), hups
  end

  it("survives, answers, and gives back its descriptors and memory", function()
    assert.equal(200, proxy:messages(H.messages_body({ stream = false })).status)
    -- A first, shorter wave warms up what is allocated once (Lua states, pools, buffers);
    -- the baseline is taken after it has settled.
    local warm = wave(SEED + 1, 16, WARMUP_MS, false)
    check_clean()
    socket.sleep(1.5) -- past the timeouts and the pool's idle TTL
    local fd_base = proxy:fd_count()
    local rss_base = proxy:rss_kib()

    local summary, hups = wave(SEED, CLIENTS, LOAD_MS, true)
    check_clean()
    local res = proxy:messages(H.messages_body({ stream = true }))
    assert.equal(200, res.status, with_seed("a normal request after the load"))
    assert.equal("message_stop", res.events[#res.events].event)
    check_clean()

    local fds = proxy:wait_fds(fd_base + 2, 3)
    local rss = proxy:rss_kib()
    local stats = string.format("%d requests (%d read to the end) in %d ms with %d reloads, "
      .. "after a warm-up of %d; descriptors %d -> %s; RSS %d -> %s KiB", summary.requests,
      summary.checked, summary.elapsed_ms, hups, warm.requests, fd_base, tostring(fds),
      rss_base, tostring(rss))
    print("stress: " .. stats)
    assert.is_true(summary.requests >= CLIENTS, with_seed("too few requests: " .. stats))
    assert.is_true(fds <= fd_base + 2, with_seed("descriptors not given back: " .. stats))
    -- ASan's quarantine keeps freed memory resident: there, leaks are LeakSanitizer's to find
    -- at exit. Without it, what the load leaves must stay small.
    if not H.sanitized() then
      assert.is_true(rss - rss_base < 32 * 1024, with_seed("memory grew: " .. stats))
    end
    assert.equal(0, summary.mismatch_count, with_seed(("%d requests read to the end got the "
      .. "wrong answer, e.g. %s; %s"):format(summary.mismatch_count,
      H.encode(summary.mismatches), stats)))

    local rc = proxy:stop()
    local report = proxy:sanitizer_report()
    assert.is_nil(report, report and with_seed(report))
    assert.equal(0, rc, with_seed("exit code on SIGTERM"))
  end)
end)
