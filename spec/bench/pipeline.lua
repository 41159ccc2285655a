-- spec/bench/pipeline.lua: the CPU cost of the request pipeline in isolation, with no sockets.
-- Run inside the binary, so it uses the real request view, rules and hooks:
--   ccproxy lua spec/bench/pipeline.lua REPO CONFIG_DIR [N]
-- REPO is the source tree (fixtures and built-in modules), CONFIG_DIR a config dir whose
-- config.yaml routes claude-* models (run.sh writes one). N defaults to 2000.
--
-- It times, in process CPU seconds (os.clock) over N iterations each, five rounds taking the
-- fastest (other work on the machine can only add time):
--   build      core.request{...} + core.finish(req): what every request costs without rules
--   config     the same with config_dir: core.request reloads the config each time (a cost of
--              this helper only; the server loads it once), measured to be taken out again
--   pipeline   core.request{..., config_dir} + runtime.run(req) + core.finish(req)
--   tokens     req:tokens() alone, on fresh requests (it is cached per request)
--   find       string.find(body, key, 1, true) for a key that is absent: one plain scan
-- and prints the rows of section 2 of run.sh's table.
local core = require("ccproxy.core")
local rt = require("ccproxy.runtime")

local repo, config_dir = arg[1], arg[2]
local N = tonumber(arg[3] or "2000")
if not repo or not config_dir or not N then
  io.stderr:write("usage: ccproxy lua spec/bench/pipeline.lua REPO CONFIG_DIR [N]\n")
  os.exit(2)
end

local fixture = repo .. "/spec/fixtures/claude-code/a_say_hi/01-messages"

local function read(path)
  local f, err = io.open(path, "rb")
  if not f then error("pipeline.lua: cannot read " .. tostring(err)) end
  local s = f:read("*a")
  f:close()
  return s
end

local body = read(fixture .. ".body.json")
local head = core.json.decode(read(fixture .. ".headers.json"))
local headers = {}
for _, pair in ipairs(head.header_list) do
  local name = pair[1]:lower()
  if name ~= "host" and name ~= "content-length" then
    headers[#headers + 1] = { pair[1], pair[2] }
  end
end

-- The same rules and hooks as the ccproxy.yaml run.sh writes.
local ok, err = rt.load {
  config_dir = config_dir,
  builtin_dir = repo,
  default_model_passthrough = true,
  rules = {
    { name = "background", module = "ccproxy.rules.MatchModelRule",
      params = { model_name = "haiku" }, where = "bench:1:1" },
    { name = "long_context", module = "ccproxy.rules.TokenCountRule",
      params = { threshold = 40000 }, where = "bench:2:1" },
  },
  hooks = {
    { module = "ccproxy.hooks.rule_evaluator", params = {}, where = "bench:3:1" },
    { module = "ccproxy.hooks.model_router", params = {}, where = "bench:4:1" },
    { module = "ccproxy.hooks.extract_session_id", params = {}, where = "bench:5:1" },
  },
}
if not ok then error("pipeline.lua: cannot load the rules and hooks: " .. tostring(err)) end

local function new_request(with_config)
  return core.request {
    method = head.method,
    path = head.path,
    query = head.query,
    headers = headers,
    body = body,
    config_dir = with_config and config_dir or nil,
  }
end

-- Check once that the pipeline does the work it is meant to: both rules run (token_count has
-- to count: its threshold is under the body size), nothing matches, the request is routed and
-- the session id is found.
do
  local req = new_request(true)
  rt.run(req)
  local out = core.finish(req)
  local stats = rt.stats()
  assert(stats.rule_errors == 0 and stats.hook_errors == 0, "a rule or hook raised")
  assert(out.label == "default", "expected label default, got " .. tostring(out.label))
  assert(out.deployment and out.deployment.model == "claude-opus-5-5",
    "the request was not routed to claude-opus-5-5")
  assert(out.session_id == "e8788ba3-0afb-42db-a340-75985313d704", "no session id")
  assert(#body > 40000, "token_count would not count: body smaller than its threshold")
end

local sink = 0

local phases = {
  build = function(n)
    local c0 = os.clock()
    for _ = 1, n do core.finish(new_request(false)) end
    return os.clock() - c0
  end,
  config = function(n)
    local c0 = os.clock()
    for _ = 1, n do core.finish(new_request(true)) end
    return os.clock() - c0
  end,
  pipeline = function(n)
    local c0 = os.clock()
    for _ = 1, n do
      local req = new_request(true)
      rt.run(req)
      core.finish(req)
    end
    return os.clock() - c0
  end,
  -- Only the tokens() calls are timed: the requests are built beforehand, in batches.
  tokens = function(n)
    local spent, batch = 0, 100
    local done = 0
    while done < n do
      local m = math.min(batch, n - done)
      local reqs = {}
      for i = 1, m do reqs[i] = new_request(false) end
      local c0 = os.clock()
      for i = 1, m do sink = sink + reqs[i]:tokens() end
      spent = spent + (os.clock() - c0)
      for i = 1, m do core.finish(reqs[i]) end
      done = done + m
    end
    return spent
  end,
  -- The start varies and the result is used, or LuaJIT would hoist the pure call out of the
  -- loop or drop it as dead code.
  find = function(n)
    local c0 = os.clock()
    for i = 1, n do
      local at = string.find(body, '"no_such_member"', 1 + i % 2, true)
      sink = sink + (at or 1)
    end
    return os.clock() - c0
  end,
}
local order = { "build", "config", "pipeline", "tokens", "find" }

-- Warm up (JIT traces, allocator), then five rounds.
for _, name in ipairs(order) do phases[name](math.max(50, math.floor(N / 10))) end
local rounds = {}
for _, name in ipairs(order) do rounds[name] = {} end
for _ = 1, 5 do
  for _, name in ipairs(order) do
    collectgarbage()
    table.insert(rounds[name], phases[name](N))
  end
end

local us = {}
for _, name in ipairs(order) do
  table.sort(rounds[name])
  us[name] = rounds[name][1] / N * 1e6
end
local config_load = math.max(0, us.config - us.build)
local full = us.pipeline - config_load
local rules = full - us.build

local function row(label, value, note)
  print(string.format("   %-40s %9.1f us%s", label, value, note and ("   " .. note) or ""))
end
print(string.format("   (%d KB body; CPU time per call, fastest of 5 rounds of N=%d)",
  math.floor(#body / 1024), N))
row("build + finish (baseline)", us.build)
row("build + rules and hooks + finish", full,
  string.format("%.2fx the baseline", full / us.build))
row("  of which rules and hooks", rules)
row("req:tokens() on the body", us.tokens,
  string.format("%.0fx one string.find scan", us.tokens / us.find))
row("string.find scan of the body (baseline)", us.find)
print(string.format("   (core.request with config_dir reloads the config, %.1f us a call: "
  .. "taken out above)", config_load))
if sink == 0 then print("") end
