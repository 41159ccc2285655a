-- spec/functional/response_hooks_spec.lua: hooks that act on the response: status and headers
-- (response), each server-sent event (event: change, drop, pass), and after completion (done,
-- which cannot affect the client). A hook that fails in a response stage is switched off for
-- that stream only; the stream still completes.
local H = require("proxy_harness")
local sh = require("sh")

local HOOK = [[
local json = require("ccproxy").json
return {
  response = function(res, req)
    res.headers["x-response-hook"] = "seen " .. tostring(res.status)
    req.ctx.events = 0
  end,
  event = function(ev, req)
    req.ctx.events = req.ctx.events + 1
    if ev.event == "ping" then return false end
    local j = ev.json
    if j and j.type == "content_block_delta" and j.delta.type == "text_delta" then
      j.delta.text = j.delta.text:upper()
      ev.data = j
    end
  end,
  done = function(req, res)
    local f = assert(io.open(os.getenv("DONE_FILE"), "a"))
    f:write(string.format("%s %d %d %s\n", req.id, res.status, req.ctx.events,
      tostring(res.outcome)))
    f:close()
  end,
}
]]

local BROKEN = [[
return {
  event = function(ev)
    if ev.event == "content_block_delta" then error("event hook bug") end
  end,
}
]]

local function config_yaml(base)
  return H.claude_config(base)
end

describe("response stages", function()
  local mock, proxy, done_file

  setup(function()
    mock = H.start_mock()
    local dir = sh.tmpdir()
    done_file = dir .. "/done.log"
    sh.run({ "mkdir", "-p", dir .. "/hooks" })
    sh.write_file(dir .. "/hooks/shout.lua", HOOK)
    sh.write_file(dir .. "/hooks/broken_events.lua", BROKEN)
    proxy = H.start_proxy({
      dir = H.config_dir({ dir = dir, config_yaml = config_yaml(mock:base()), ccproxy_yaml = [[
ccproxy:
  scripts: {trusted: true}   # shout's done stage writes a file
  hooks:
    - broken_events
    - shout
]] }),
      env = { DONE_FILE = done_file },
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

  it("lets hooks change headers and events, and runs done after the client got it all", function()
    mock:script({ { text = "hello there", gzip = true } })
    local res = proxy:messages(H.messages_body({ stream = true }),
      { headers = { { "Content-Type", "application/json" }, { "Accept-Encoding", "gzip" } } })
    assert.equal(200, res.status)
    assert.equal("seen 200", res.headers["x-response-hook"])
    -- events are read, so the upstream is asked for an uncompressed body
    assert.equal("identity", H.record_header(mock:last_request(), "accept-encoding"))
    assert.is_nil(res.headers["content-encoding"])
    local text, names = {}, {}
    for _, ev in ipairs(res.events) do
      names[#names + 1] = ev.event
      local j = H.decode(ev.data)
      if j.type == "content_block_delta" then text[#text + 1] = j.delta.text end
    end
    assert.equal("HELLO THERE", table.concat(text))
    for _, n in ipairs(names) do assert.not_equal("ping", n) end
    assert.equal("message_stop", names[#names])
    -- done ran once, with the status and the number of events it saw
    local log = sh.wait_for(function()
      local t = sh.read_file(done_file)
      return t and t ~= "" and t
    end, 2)
    assert.matches("^r%d+ 200 %d+ nil\n$", log)
    -- the broken event hook was switched off after its first failure, for this stream only
    local plog = proxy:log()
    local _, failures = plog:gsub("hook 'broken_events' .- failed in its event stage", "")
    assert.equal(1, failures)
  end)

  it("passes non-stream responses through the response stage only", function()
    local res = proxy:messages(H.messages_body({ stream = false }))
    assert.equal(200, res.status)
    assert.equal("seen 200", res.headers["x-response-hook"])
    assert.equal("Hello from mock", H.body_json(res).content[1].text)
  end)
end)
