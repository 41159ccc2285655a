-- spec/functional/reload_spec.lua: SIGHUP reloads configuration and scripts without costing a
-- request. Requests pin the generation they started with (a stream that spans a reload ends
-- on its old scripts); a broken reload keeps the current generation serving and is reported;
-- under load with many reloads, good and broken, every request completes correctly.
local H = require("proxy_harness")
local sh = require("sh")

local MARKER = [[
return {
  params = { mark = "?" },
  request = function(req, params) req:tag("mark", params.mark) end,
  done = function(req, res, params)
    local f = assert(io.open(os.getenv("MARK_FILE"), "a"))
    f:write(req.id, " ", params.mark, " ", tostring(res.status), "\n")
    f:close()
  end,
}
]]

-- The marker hook writes a file from its done stage, so its scripts are trusted.
local function ccproxy_yaml(mark)
  return ([[
ccproxy:
  scripts: {trusted: true}
  hooks:
    - ccproxy.hooks.rule_evaluator
    - hook: marker
      params: {mark: MARK}
    - ccproxy.hooks.model_router
  rules:
    - name: background
      rule: match_model
      params: {model_name: haiku}
]]):gsub("MARK", mark)
end

local function config_yaml(base)
  return H.claude_config(base, { background = true, default = true })
end

local function health(proxy)
  return H.body_json(proxy:request({ method = "GET", path = "/health" }))
end

-- A hook whose top level rewrites its own file the first time it loads: version A becomes B
-- on disk. A worker that read the file after another had loaded it would run B.
local SELF_EDITING = [[
local path = debug.getinfo(1, "S").source:sub(2)
local f = assert(io.open(path, "rb"))
local text = f:read("*a")
f:close()
if text:find("VERSION_A", 1, true) then
  local g = assert(io.open(path, "wb"))
  g:write((text:gsub("VERSION_A", "VERSION_B")))
  g:close()
end
return { request = function(req) req.headers["x-version"] = "VERSION_A" end }
]]

describe("every worker of a generation", function()
  local mock, proxy, dir

  setup(function()
    mock = H.start_mock()
    dir = sh.tmpdir()
    sh.run({ "mkdir", "-p", dir .. "/hooks" })
    sh.write_file(dir .. "/hooks/self_editing.lua", SELF_EDITING)
    proxy = H.start_proxy({
      dir = H.config_dir({ dir = dir, config_yaml = config_yaml(mock:base()), ccproxy_yaml = [[
ccproxy:
  scripts: {trusted: true}
  hooks: [self_editing]
litellm:
  num_workers: 3
]] }),
    })
  end)

  teardown(function()
    H.cleanup()
  end)

  -- Versions seen upstream over many connections (the kernel spreads them over the workers).
  local function versions()
    mock:reset()
    for _ = 1, 24 do
      assert.equal(200, proxy:messages(H.messages_body({ stream = false })).status)
    end
    local seen = {}
    for _, rec in ipairs(mock:requests()) do seen[H.record_header(rec, "x-version")] = true end
    return seen
  end

  it("runs the script text the generation read once, not the file as it is later", function()
    assert.matches("VERSION_B", sh.read_file(dir .. "/hooks/self_editing.lua"), 1, true)
    assert.same({ VERSION_A = true }, versions())
    -- and again after a reload, which reads the file once more
    local gen = health(proxy).generation
    sh.write_file(dir .. "/hooks/self_editing.lua", SELF_EDITING)
    sh.kill(proxy.pid, "HUP")
    assert.is_truthy(sh.wait_for(function() return health(proxy).generation == gen + 1 end, 5))
    assert.matches("VERSION_B", sh.read_file(dir .. "/hooks/self_editing.lua"), 1, true)
    assert.same({ VERSION_A = true }, versions())
    proxy:check_alive()
  end)
end)

describe("reload", function()
  local mock, proxy, dir, mark_file

  setup(function()
    mock = H.start_mock()
    dir = sh.tmpdir()
    mark_file = dir .. "/marks.log"
    sh.run({ "mkdir", "-p", dir .. "/hooks" })
    sh.write_file(dir .. "/hooks/marker.lua", MARKER)
    sh.write_file(dir .. "/ccproxy.yaml", ccproxy_yaml("A"))
    sh.write_file(dir .. "/config.yaml", config_yaml(mock:base()))
    proxy = H.start_proxy({ dir = dir, env = { MARK_FILE = mark_file } })
  end)

  teardown(function()
    H.cleanup()
  end)

  after_each(function()
    proxy:check_alive()
  end)

  local function hup()
    sh.kill(proxy.pid, "HUP")
  end

  local function wait_generation(n)
    return sh.wait_for(function() return health(proxy).generation == n end, 5)
  end

  it("finishes a stream on the scripts it started with", function()
    mock:reset()
    mock:script({ { text = "one two three four five six seven eight", event_delay_ms = 150 } })
    local reloaded = false
    local res = proxy:messages(H.messages_body({ stream = true }), {
      on_event = function(ev)
        if not reloaded and ev.event == "content_block_start" then
          reloaded = true
          sh.write_file(dir .. "/ccproxy.yaml", ccproxy_yaml("B"))
          hup()
        end
      end,
    })
    assert.is_true(reloaded)
    assert.equal(200, res.status)
    assert.equal("message_stop", res.events[#res.events].event)
    assert.is_truthy(wait_generation(2))
    proxy:messages(H.messages_body({ stream = false }))
    local marks = sh.wait_for(function()
      local t = sh.read_file(mark_file) or ""
      local _, n = t:gsub("\n", "")
      return n >= 2 and t
    end, 3)
    local lines = {}
    for line in marks:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.matches("^r%d+ A 200$", lines[1]) -- the stream, on generation 1's scripts
    assert.matches("^r%d+ B 200$", lines[2]) -- the next request, on generation 2's
  end)

  it("keeps serving the current generation when a reload is broken, and says why", function()
    local gen = health(proxy).generation
    sh.write_file(dir .. "/hooks/marker.lua", "return { request = function( end }")
    hup()
    local h = sh.wait_for(function()
      local j = health(proxy)
      return j.last_reload and not j.last_reload.ok and j
    end, 5)
    assert.is_truthy(h)
    assert.equal(gen, h.generation)
    assert.matches("marker%.lua:1:", h.last_reload.error)
    local res = proxy:messages(H.messages_body({ model = "claude-haiku-5-5", stream = false }))
    assert.equal(200, res.status)
    assert.equal("background", res.headers["x-ccproxy-label"])
    sh.write_file(dir .. "/hooks/marker.lua", MARKER)
    hup()
    assert.is_truthy(wait_generation(gen + 1))
  end)

  it("reports the outcome through `ccproxy reload`", function()
    local gen = health(proxy).generation
    -- `reload` finds the proxy through the pid file `start` wrote in the config dir, and asks
    -- it on the address the configuration (with PORT, as the proxy was started) names
    local env = { env = { PORT = proxy.port } }
    local ok = sh.run({ H.bin, "--config-dir", dir, "reload" }, env)
    assert.equal(0, ok.code, ok.stderr)
    assert.equal(("reloaded: generation %d\n"):format(gen + 1), ok.stdout)
    sh.write_file(dir .. "/hooks/marker.lua", "return {")
    local bad = sh.run({ H.bin, "--config-dir", dir, "reload" }, env)
    assert.equal(1, bad.code)
    assert.matches("marker%.lua:1:", bad.stderr)
    assert.matches(("generation %d keeps serving"):format(gen + 1), bad.stderr)
    sh.write_file(dir .. "/hooks/marker.lua", MARKER)
    assert.equal(0, sh.run({ H.bin, "--config-dir", dir, "reload" }, env).code)
  end)

  it("loses no request under load while reloads, good and broken, keep coming", function()
    mock:reset()
    local url = ("http://127.0.0.1:%d/v1/messages"):format(proxy.port)
    local out = dir .. "/load"
    sh.run({ "mkdir", "-p", out })
    local body = H.encode(H.messages_body({ model = "claude-haiku-5-5", stream = true }))
    sh.write_file(out .. "/stream.json", body)
    sh.write_file(out .. "/short.json",
      H.encode(H.messages_body({ model = "claude-opus-5-5", stream = false })))
    -- Three clients: two streaming, one short requests, 25 requests each.
    local pids = {}
    for i, kind in ipairs({ "stream", "stream", "short" }) do
      local script = ([[
for n in $(seq 1 25); do
  curl -s -N -o %s/%d-$n.out -w '%%{http_code}\n' -H 'content-type: application/json' \
    --data-binary @%s/%s.json %s >> %s/%d.codes
done
]]):format(out, i, out, kind, url, out, i)
      pids[i] = sh.spawn({ "sh", "-c", script })
    end
    -- Meanwhile: 30 reloads, every third one broken. Each one is waited for (signals sent
    -- too close together could merge), so the count and the generation are exact.
    local start = health(proxy)
    local count0 = start.last_reload and start.last_reload.count or 0
    local reloads = count0
    local function reload_and_wait()
      reloads = reloads + 1
      hup()
      assert.is_truthy(sh.wait_for(function()
        local lr = health(proxy).last_reload
        return lr and lr.count == reloads
      end, 5), "reload " .. reloads .. " was not reported on /health")
    end
    for n = 1, 30 do
      if n % 3 == 0 then
        sh.write_file(dir .. "/ccproxy.yaml", "ccproxy:\n  hooks: [\n")
      else
        sh.write_file(dir .. "/ccproxy.yaml", ccproxy_yaml("L" .. n))
      end
      reload_and_wait()
      sh.sleep(0.02)
    end
    sh.write_file(dir .. "/ccproxy.yaml", ccproxy_yaml("final"))
    reload_and_wait()
    for _, pid in ipairs(pids) do
      assert.is_truthy(sh.wait_for(function() return not sh.alive(pid) end, 60))
    end
    for i = 1, 3 do
      local codes = sh.read_file(out .. "/" .. i .. ".codes") or ""
      local _, ok = codes:gsub("200\n", "")
      assert.equal(25, ok, "client " .. i .. " codes: " .. codes)
      for n = 1, 25 do
        local text = sh.read_file(("%s/%d-%d.out"):format(out, i, n)) or ""
        if i < 3 then
          assert.matches("event: message_stop", text)
        else
          assert.matches('"stop_reason":"end_turn"', text)
        end
      end
    end
    assert.equal(75, #mock:requests())
    local h = health(proxy)
    assert.equal("ok", h.status)
    -- 31 reloads: the 10 broken ones refused, the 21 good ones each a new generation
    assert.equal(count0 + 31, h.last_reload.count)
    assert.is_true(h.last_reload.ok)
    assert.equal(start.generation + 21, h.generation)
  end)
end)
