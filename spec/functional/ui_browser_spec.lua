-- spec/functional/ui_browser_spec.lua: the dashboard in a real headless Chromium. The real
-- binary against the mock answers requests with usage (three models, one retried after a 429
-- that cools a deployment down); Chromium opens http://127.0.0.1:<port>/ui/, runs the page's
-- script (which reads /ui/api/summary) and gives its DOM (--dump-dom) and a screenshot
-- (--screenshot). The DOM must hold the charts drawn from those numbers (SVG bars per model
-- and per day carrying the summary's values), a row per request and the cooldown; the
-- screenshot is kept as test output: <build dir>/spec-output/ui_dashboard.png (the directory
-- of $CCPROXY_BIN; $CCPROXY_UI_SHOT_DIR chooses another) and the spec's temp dir.
--
-- Chromium is Debian's `chromium` (spec/run.sh installs it; $CCPROXY_CHROMIUM names another
-- binary). Without it the spec is pending, so the rest of the suite runs on a machine that
-- lacks it. Chromium runs with its own temp profile, no proxy, a resolver that resolves
-- nothing but 127.0.0.1, background networking off; --no-sandbox only as root.
local H = require("proxy_harness")
local sh = require("sh")

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
  - model_name: ordered
    litellm_params: {model: anthropic/claude-a, api_base: BASE, order: 1}
  - model_name: ordered
    litellm_params: {model: anthropic/claude-b, api_base: BASE, order: 2}
  - model_name: "claude-*"
    litellm_params: {model: anthropic/*, api_base: BASE}
router_settings:
  num_retries: 1
  cooldown_time: 120
]]):gsub("BASE", base)
end

local function find_chromium()
  local named = os.getenv("CCPROXY_CHROMIUM")
  if named and named ~= "" then
    return named
  end
  for _, name in ipairs({ "chromium", "chromium-browser" }) do
    local r = sh.run({ "sh", "-c", "command -v " .. name })
    if r.code == 0 and r.stdout:match("%S") then
      return (r.stdout:gsub("%s+$", ""))
    end
  end
  return nil
end

local function is_root()
  local r = sh.run({ "id", "-u" })
  return r.stdout:match("^0%s") ~= nil
end

-- Where the screenshot is kept after the run: $CCPROXY_UI_SHOT_DIR, else spec-output/ in the
-- directory of the binary under test (the build dir).
local function output_dir()
  local dir = os.getenv("CCPROXY_UI_SHOT_DIR")
  if not dir or dir == "" then
    local bin = H.bin
    if not bin:find("/", 1, true) then
      return nil
    end
    dir = bin:match("^(.*)/[^/]*$") .. "/spec-output"
  end
  if sh.run({ "mkdir", "-p", dir }).code ~= 0 then
    return nil
  end
  return dir
end

local chromium = find_chromium()

describe("the dashboard in headless Chromium", function()
  if not chromium then
    pending("needs chromium (Debian package chromium; spec/run.sh installs it, "
      .. "or set CCPROXY_CHROMIUM to a Chromium binary)")
    return
  end

  local mock, proxy, tmp, ids, summary

  -- Chromium's command line for `url` with `extra` flags (--dump-dom or --screenshot=...).
  local function chromium_argv(url, extra)
    local argv = { chromium, "--headless=new", "--disable-gpu",
      "--user-data-dir=" .. tmp .. "/profile", "--no-first-run", "--no-default-browser-check",
      "--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-default-apps", "--disable-dev-shm-usage", "--no-proxy-server",
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--hide-scrollbars",
      "--window-size=1280,900", "--virtual-time-budget=5000" }
    if is_root() then
      argv[#argv + 1] = "--no-sandbox" -- Chromium refuses to run as root with its sandbox
    end
    for _, a in ipairs(extra) do
      argv[#argv + 1] = a
    end
    argv[#argv + 1] = url
    return argv
  end

  local function run_chromium(extra)
    local url = "http://127.0.0.1:" .. proxy.port .. "/ui/"
    local r = sh.run(chromium_argv(url, extra),
      { timeout = 90, env = { TZ = os.getenv("TZ") or false } })
    assert(r.code == 0,
      "chromium failed (exit " .. tostring(r.code) .. "): " .. r.stderr:sub(-2000))
    return r
  end

  setup(function()
    tmp = sh.tmpdir()
    mock = H.start_mock()
    proxy = H.start_proxy({ ccproxy_yaml = CCPROXY_YAML, config_yaml = config_yaml(mock:base()) })
    ids = {}
    local function ask(model, steps, fields)
      mock:script(steps)
      local body = H.messages_body(fields)
      body.model = model
      local res = proxy:messages(body)
      assert(res.status == 200 or res.status == 400, res.body)
      ids[#ids + 1] = res.headers["x-ccproxy-request-id"]
      H.settle()
    end
    ask("claude-sonnet-4-5-20250929", { { text = "a", usage = { input_tokens = 1200,
      output_tokens = 340, cache_read_input_tokens = 5000, cache_creation_input_tokens = 800 } } },
      { stream = true })
    ask("claude-sonnet-4-5-20250929", { { text = "b", usage = { input_tokens = 300,
      output_tokens = 90 } } })
    ask("claude-haiku-4-5",
      { { text = "c", usage = { input_tokens = 2000, output_tokens = 150 } } })
    ask("claude-haiku-4-5", { { status = 400, error = { type = "invalid_request_error",
      message = "no" } } })
    ask("ordered", { { status = 429, error = { type = "rate_limit_error", message = "slow" } },
                     { text = "d", usage = { input_tokens = 700, output_tokens = 60 } } })
    sh.wait_for(function()
      summary = H.decode(proxy:request({ path = "/ui/api/summary" }).body)
      return summary.totals.requests >= #ids
    end, 3)
    assert.equal(#ids, summary.totals.requests)
  end)

  teardown(function()
    H.cleanup()
  end)

  after_each(function()
    proxy:check_clean()
  end)

  -- The opening tags of elements with class `cls` (the first word of its class attribute) in
  -- `dom`, each as a table of its attributes.
  local function elements(dom, tag, cls)
    local out = {}
    for attrs in dom:gmatch("<" .. tag .. "(%s[^>]*)>") do
      local a = {}
      for k, v in attrs:gmatch('([%w%-]+)="([^"]*)"') do
        a[k] = v
      end
      if not cls or (a.class or ""):match("^" .. cls:gsub("%-", "%%-") .. "%f[%s%z]") then
        out[#out + 1] = a
      end
    end
    return out
  end

  -- The part of the DOM inside the figure with id `id`.
  local function figure(dom, id)
    local open = '<figure id="' .. id .. '">'
    local a = dom:find(open, 1, true)
    assert.is_number(a, "no figure " .. id)
    local b = dom:find("</figure>", a, true)
    return dom:sub(a + #open, b - 1)
  end

  local function unescape(s)
    return (s:gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&quot;", '"'):gsub("&amp;", "&"))
  end

  it("draws the charts and the table from the summary's numbers", function()
    local dom = run_chromium({ "--dump-dom" }).stdout
    sh.write_file(tmp .. "/ui_dashboard.html", dom)
    assert.matches('<body data%-state="loaded"', dom, 1)
    assert.matches('data%-requests="' .. #ids .. '"', dom)

    -- cost per model: one bar per model that has a cost, carrying its value
    local by_model = {}
    for _, m in ipairs(summary.models) do
      by_model[m.model] = m
    end
    local bars = elements(figure(dom, "chart-cost-model"), "rect", "bar")
    local seen = {}
    for _, b in ipairs(bars) do
      local m = by_model[unescape(b["data-key"])]
      assert.is_table(m, "a bar for a model the summary does not have: " .. tostring(b["data-key"]))
      assert.equal("cost", b["data-series"])
      assert.is_true(math.abs(tonumber(b["data-value"]) - m.cost_usd) < 1e-12)
      seen[m.model] = true
    end
    assert.is_true(seen["claude-sonnet-4-5-20250929"], "no cost bar for claude-sonnet-4-5-20250929")
    assert.is_true(seen["claude-haiku-4-5"], "no cost bar for claude-haiku-4-5")
    -- and the models' names are written beside their bars
    local names = figure(dom, "chart-tokens-model")
    for _, m in ipairs({ "claude-sonnet-4-5-20250929", "claude-haiku-4-5", "claude-b" }) do
      assert.matches(">" .. m:gsub("%-", "%%-") .. "<", names)
    end

    -- tokens per model: the stacked series add up to the summary's tokens
    local sums = {}
    for _, b in ipairs(elements(figure(dom, "chart-tokens-model"), "rect", "bar")) do
      local key = unescape(b["data-key"])
      sums[key] = sums[key] or {}
      sums[key][b["data-series"]] = tonumber(b["data-value"])
    end
    for name, m in pairs(by_model) do
      for series, v in pairs(m.tokens) do
        assert.equal(v > 0 and v or nil, (sums[name] or {})[series], name .. " " .. series)
      end
    end
    assert.equal(5000, sums["claude-sonnet-4-5-20250929"].cache_read)

    -- per day: today's column with the day's cost and tokens
    local day = summary.days[#summary.days]
    local cost_day = elements(figure(dom, "chart-cost-day"), "rect", "bar")
    assert.equal(#summary.days, #cost_day)
    assert.equal(day.date, cost_day[#cost_day]["data-key"])
    assert.is_true(math.abs(tonumber(cost_day[#cost_day]["data-value"]) - day.cost_usd) < 1e-12)
    local input_day
    for _, b in ipairs(elements(figure(dom, "chart-tokens-day"), "rect", "bar")) do
      if b["data-key"] == day.date and b["data-series"] == "input" then
        input_day = tonumber(b["data-value"])
      end
    end
    assert.equal(day.tokens.input, input_day)
    assert.equal(4200, input_day)

    -- the table: a row per request, newest first
    local rows = elements(dom, "tr", "req")
    assert.equal(#ids, #rows)
    for i, row in ipairs(rows) do
      assert.equal(ids[#ids + 1 - i], row["data-id"])
    end
    local last = dom:match('<tr class="req" data%-id="' .. ids[#ids] .. '">(.-)</tr>')
    assert.matches("claude%-b", last)

    -- the cooldown the 429 caused
    local cd = elements(dom, "tr")
    local found = false
    for _, r in ipairs(cd) do
      found = found or r["data-deployment"] == "ordered"
    end
    assert.is_true(found, "the cooldown of 'ordered' is listed")
    assert.equal("none", dom:match('data%-reload="(%a+)"'))
  end)

  it("renders it: the screenshot is kept as test output", function()
    local shot = tmp .. "/ui_dashboard.png"
    run_chromium({ "--screenshot=" .. shot })
    local png = sh.read_file(shot)
    assert.is_string(png, "no screenshot written")
    assert.equal("\137PNG\r\n\26\n", png:sub(1, 8))
    -- width and height from the IHDR chunk: the window's size
    local function be32(s, i)
      local a, b, c, d = s:byte(i, i + 3)
      return ((a * 256 + b) * 256 + c) * 256 + d
    end
    assert.equal(1280, be32(png, 17))
    assert.equal(900, be32(png, 21))
    assert.is_true(#png > 20000, "a screenshot of " .. #png .. " bytes is too plain to hold charts")
    local dir = output_dir()
    local kept = shot
    if dir then
      kept = dir .. "/ui_dashboard.png"
      sh.write_file(kept, png)
      local dom = sh.read_file(tmp .. "/ui_dashboard.html")
      if dom then
        sh.write_file(dir .. "/ui_dashboard.html", dom)
      end
    end
    print("\nscreenshot of the dashboard: " .. kept)
  end)
end)
