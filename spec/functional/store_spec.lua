-- spec/functional/store_spec.lua: the request store through the real binary and a mock
-- upstream: every request a row, `ccproxy usage` (table and --json, by model and by session)
-- with the tokens the answers reported and their cost, rows from before and after a restart,
-- and a SIGKILL that loses no committed row.
local H = require("proxy_harness")
local sh = require("sh")

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
    - ccproxy.hooks.extract_session_id
litellm:
  host: 127.0.0.1
  port: 4000
]]

describe("the request store and ccproxy usage", function()
  local mock, dir, proxy

  setup(function()
    mock = H.start_mock()
    dir = H.config_dir({ ccproxy_yaml = CCPROXY_YAML, config_yaml = ([[
model_list:
  - model_name: "claude-*"
    litellm_params: {model: "anthropic/*", api_base: BASE}
]]):gsub("BASE", mock:base()) })
    proxy = H.start_proxy({ dir = dir })
  end)

  teardown(function()
    H.cleanup()
  end)

  local function usage(args)
    local argv = { H.bin, "--config-dir", dir, "usage" }
    for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
    return sh.run(argv, { env = { CCPROXY_CONFIG_DIR = false } })
  end

  local function usage_json(args)
    local a = { "--json" }
    for _, x in ipairs(args or {}) do a[#a + 1] = x end
    local r = usage(a)
    assert.equal(0, r.code, r.stdout .. r.stderr)
    return H.decode(r.stdout)
  end

  local function total_requests(rows)
    local n = 0
    for _, row in ipairs(rows) do n = n + row.requests end
    return n
  end

  -- Waits until the store holds n requests (the writer commits in batches).
  local function await_rows(n)
    local rows = sh.wait_for(function()
      local r = usage_json()
      return total_requests(r) >= n and r
    end, 5)
    assert(rows, "the store did not get " .. n .. " requests: " .. H.encode(usage_json()))
    return rows
  end

  local function ask(model, fields, session)
    local body = H.messages_body(fields)
    body.model = model
    return proxy:messages(body, { headers = session and { ["X-Claude-Code-Session-Id"] = session } })
  end

  it("records every request, with its tokens and cost", function()
    mock:script({
      { text = "streamed", usage = { input_tokens = 100, output_tokens = 10,
                                     cache_read_input_tokens = 1000 } },
      { text = "whole", usage = { input_tokens = 50, output_tokens = 5 } },
      { status = 500, error = { type = "api_error", message = "oops" } },
    })
    assert.equal(200, ask("claude-sonnet-4-5", { stream = true }, "sess-a").status)
    assert.equal(200, ask("claude-sonnet-4-5", nil, "sess-a").status)
    assert.equal(500, ask("claude-opus-5-5", nil, "sess-b").status)
    local rows = await_rows(3)
    assert.equal(1, #rows) -- by day: today
    local day = rows[1]
    assert.same({ 3, 1, 150, 15, 1000 },
      { day.requests, day.errors, day.input_tokens, day.output_tokens, day.cache_read_tokens })
    -- 150 x 3e-6 + 15 x 1.5e-5 + 1000 x 3e-7 = 0.000975; the 500 cost nothing
    assert.is_true(math.abs(day.cost_usd - 0.000975) < 1e-9, H.encode(day))
    local by_model = usage_json({ "--by", "model" })
    assert.equal(2, #by_model)
    local by_session = usage_json({ "--by", "session" })
    local a
    for _, row in ipairs(by_session) do if row.session == "sess-a" then a = row end end
    assert.is_table(a, H.encode(by_session))
    assert.equal(2, a.requests)
    -- the table reads well: a header, the rows, a total
    local r = usage({ "--by", "model" })
    assert.equal(0, r.code, r.stderr)
    assert.matches("claude%-sonnet%-4%-5", r.stdout)
    assert.matches("total", r.stdout)
    assert.matches("0%.0010", r.stdout) -- rounded to a tenth of a cent in the table
  end)

  it("keeps the rows across a restart and a SIGKILL", function()
    local before = total_requests(usage_json())
    proxy:stop()
    proxy = H.start_proxy({ dir = dir })
    mock:script({ { text = "after restart", usage = { input_tokens = 1, output_tokens = 1 } } })
    assert.equal(200, ask("claude-sonnet-4-5").status)
    await_rows(before + 1)
    -- committed rows survive a kill -9
    proxy.proc:kill("KILL")
    proxy.proc:wait(3)
    proxy = H.start_proxy({ dir = dir })
    assert.equal(before + 1, total_requests(usage_json()))
    mock:script({ { text = "after the kill", usage = { input_tokens = 1, output_tokens = 1 } } })
    assert.equal(200, ask("claude-sonnet-4-5").status)
    await_rows(before + 2)
  end)

  it("says clearly when nothing was recorded and when an argument is wrong", function()
    local empty = H.config_dir({ ccproxy_yaml = CCPROXY_YAML, config_yaml = "model_list: []\n" })
    local r = sh.run({ H.bin, "--config-dir", empty, "usage" }, { env = { CCPROXY_CONFIG_DIR = false } })
    assert.matches("usage%.db", r.stdout .. r.stderr)
    r = usage({ "--by", "planet" })
    assert.are_not.equal(0, r.code)
    assert.matches("planet", r.stderr)
    r = usage({ "--since", "yesterdayish" })
    assert.are_not.equal(0, r.code)
    assert.matches("yesterdayish", r.stderr)
  end)
end)
