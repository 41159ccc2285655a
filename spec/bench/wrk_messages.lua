-- spec/bench/wrk_messages.lua: a wrk script that sends Claude Code's first request of a session
-- (POST /v1/messages?beta=true with the body and the headers Claude Code sent) over and over.
-- Environment:
--   BENCH_BODY      the body file (spec/fixtures/claude-code/a_say_hi/01-messages.body.json)
--   BENCH_MAX_REQS  optional: each thread stops after this many responses and creates the file
--   BENCH_DONE_FILE (wrk alone only knows a duration: its main thread sleeps for all of -d, so
--                   run.sh watches for that file and ends the sleep with SIGINT)
-- At the end it prints one line that run.sh reads:
--   BENCH requests=N seconds=S rps=R p50_us=A p99_us=B errors=E non2xx=F

local body_path = os.getenv("BENCH_BODY")
if not body_path then
  error("wrk_messages.lua: set BENCH_BODY to the request body file")
end
local f = io.open(body_path, "rb")
if not f then
  error("wrk_messages.lua: cannot read BENCH_BODY=" .. body_path)
end
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.path = "/v1/messages?beta=true"
wrk.body = body
-- The headers of spec/fixtures/claude-code/a_say_hi/01-messages.headers.json (wrk sends a
-- table in its own order, and adds Host and Content-Length itself).
wrk.headers = {
  ["Accept"] = "application/json",
  ["Content-Type"] = "application/json",
  ["User-Agent"] = "claude-cli/2.1.332 (external, sdk-cli)",
  ["X-Claude-Code-Session-Id"] = "e8788ba3-0afb-42db-a340-75985313d704",
  ["X-Stainless-Arch"] = "x64",
  ["X-Stainless-Lang"] = "js",
  ["X-Stainless-OS"] = "Linux",
  ["X-Stainless-Package-Version"] = "0.128.0",
  ["X-Stainless-Retry-Count"] = "0",
  ["X-Stainless-Runtime"] = "node",
  ["X-Stainless-Runtime-Version"] = "v26.12.1",
  ["X-Stainless-Timeout"] = "600",
  ["anthropic-beta"] = "claude-code-20250219,interleaved-thinking-2025-05-14,"
    .. "context-management-2025-06-27,per-turn-control-2026-07-01,"
    .. "mid-conversation-tool-changes-2026-07-01,thinking-token-count-2026-05-13,"
    .. "advanced-tool-use-2025-11-20,effort-2025-11-24",
  ["anthropic-dangerous-direct-browser-access"] = "true",
  ["anthropic-version"] = "2023-06-01",
  ["x-api-key"] = "sk-ant-dummy",
  ["x-app"] = "cli",
  ["Connection"] = "keep-alive",
  ["Accept-Encoding"] = "gzip, deflate, br, zstd",
}

local max_reqs = tonumber(os.getenv("BENCH_MAX_REQS") or "")
local done_file = os.getenv("BENCH_DONE_FILE")
if max_reqs then
  local seen = 0
  -- Only defined when a count is asked for: a response() callback costs wrk some speed.
  function response()
    seen = seen + 1
    if seen == max_reqs then
      wrk.thread:stop()
      local f = done_file and io.open(done_file, "w")
      if f then f:close() end
    end
  end
end

function done(summary, latency)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  print(string.format(
    "BENCH requests=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d errors=%d non2xx=%d",
    summary.requests, seconds, summary.requests / seconds, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
