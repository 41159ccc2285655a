-- spec/lua/api_docs_spec.lua: docs/lua-api.md documents everything scripts can reach (every
-- field and method of the request view, every function of the ccproxy and ccproxy.claude
-- modules, every built-in rule and hook), and the files docs/writing-rules.md shows are the
-- tested ones in spec/fixtures/config/hooks-*/, and they work.
local fx = require("fixtures")
local core = require("ccproxy.core")
local json = require("ccproxy").json

local function read(path)
  local f = assert(io.open(path, "rb"), "cannot read " .. path)
  local s = f:read("*a")
  f:close()
  return s
end

local function lines_of(text)
  local lines = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  return lines
end

local API = lines_of(read(fx.repo .. "/docs/lua-api.md"))

-- The lines of docs/lua-api.md that document something: table rows and headings, with the
-- heading of the section each is in.
local function doc_lines()
  local out, section = {}, ""
  for _, line in ipairs(API) do
    if line:match("^#") then
      section = line
      out[#out + 1] = { text = line, section = section }
    elseif line:match("^|") then
      out[#out + 1] = { text = line, section = section }
    end
  end
  return out
end

-- Is `needle` (plain text; a Lua pattern when `pattern`) in a table row or heading (of a
-- section whose heading contains `section`, when given)?
local function documented(needle, section, pattern)
  for _, l in ipairs(doc_lines()) do
    if (not section or l.section:find(section, 1, true))
        and l.text:find(needle, 1, not pattern) then
      return true
    end
  end
  return false
end

local function missing(names, needle_of, section, pattern)
  local gone = {}
  for _, name in ipairs(names) do
    if not documented(needle_of(name), section, pattern) then
      gone[#gone + 1] = needle_of(name)
    end
  end
  return gone
end

local function keys(t)
  local list = {}
  for k in pairs(t) do list[#list + 1] = k end
  table.sort(list)
  return list
end

local function files(dir)
  local list = {}
  local p = assert(io.popen("ls " .. dir))
  for name in p:lines() do
    local base = name:match("^([%w_]+)%.lua$")
    if base then list[#list + 1] = base end
  end
  p:close()
  return list
end

local function assert_none(gone, what)
  assert(#gone == 0, "docs/lua-api.md does not document " .. what .. ": "
    .. table.concat(gone, ", ") .. " (add a table row naming it)")
end

describe("docs/lua-api.md", function()
  it("documents every field of the request view", function()
    local api = core.request_api()
    assert.is_true(#api.fields >= 16)
    assert_none(missing(api.fields, function(f) return "`req." .. f .. "`" end), "these fields")
  end)

  it("documents every method of the request view", function()
    local api = core.request_api()
    assert.is_true(#api.methods >= 8)
    assert_none(missing(api.methods, function(m) return "`req:" .. m .. "(" end),
                "these methods")
  end)

  it("documents every member of the ccproxy module, and of ccproxy.json", function()
    local ccproxy = require("ccproxy")
    local names = keys(ccproxy)
    assert.is_true(#names >= 5)
    assert_none(missing(names, function(k) return "`ccproxy." .. k end), "these members")
    assert_none(missing(keys(ccproxy.json), function(k) return "ccproxy.json." .. k end),
                "these members")
  end)

  it("documents every member of the ccproxy.claude module", function()
    local names = keys(require("ccproxy.claude"))
    assert.is_true(#names >= 7)
    assert_none(missing(names, function(k) return "`claude." .. k end, "ccproxy.claude"),
                "these members of ccproxy.claude")
  end)

  it("documents every built-in rule and hook in its own table", function()
    local rules, hooks = files(fx.repo .. "/rules"), files(fx.repo .. "/hooks")
    assert.is_true(#rules >= 8)
    assert.is_true(#hooks >= 7)
    assert_none(missing(rules, function(n) return "| `" .. n .. "` |" end, "Built-in rules"),
                "these built-in rules (under \"Built-in rules\")")
    assert_none(missing(hooks, function(n) return "| `" .. n .. "` |" end, "Built-in hooks"),
                "these built-in hooks (under \"Built-in hooks\")")
  end)

  it("documents the spec helpers of ccproxy.core", function()
    -- `core.request{...}` or `core.finish(req)`
    assert_none(missing({ "request", "finish", "oat_set", "oat_clear", "request_api" },
                        function(n) return "`core%." .. n .. "[%({]" end, "In specs", true),
                "these spec helpers (under \"In specs\")")
  end)

  it("finds what is missing (the check itself)", function()
    assert.is_true(documented("`req:tag(", nil))
    assert.is_false(documented("`req:no_such_method(", nil))
    assert.is_false(documented("| `image` |", "Built-in hooks"))
  end)
end)

-- Code blocks of docs/writing-rules.md preceded by <!-- file: DIR/PATH --> show the file
-- spec/fixtures/config/DIR/PATH.
local function shown_files()
  local doc = lines_of(read(fx.repo .. "/docs/writing-rules.md"))
  local shown, i = {}, 1
  while i <= #doc do
    local path = doc[i]:match("^<!%-%- file: (%S+) %-%->$")
    if path then
      assert(doc[i + 1]:match("^```"), "no code block after the file comment of " .. path)
      local body = {}
      i = i + 2
      while not doc[i]:match("^```") do
        body[#body + 1] = doc[i]
        i = i + 1
      end
      shown[#shown + 1] = { path = path, text = table.concat(body, "\n") .. "\n" }
    end
    i = i + 1
  end
  return shown
end

describe("docs/writing-rules.md", function()
  local TUTORIAL = fx.config("hooks-tutorial")

  it("shows the tested files, byte for byte", function()
    local shown = shown_files()
    assert.is_true(#shown >= 9)
    for _, f in ipairs(shown) do
      assert.equal(read(fx.spec_dir .. "/fixtures/config/" .. f.path), f.text, f.path)
    end
  end)

  it("has a tutorial configuration that loads, rules and hooks with their params", function()
    -- config.yaml loads (C) and the modules load and check their params (the runtime)
    core.request { body = "{}", config_dir = TUTORIAL }
    local rt = require("ccproxy.runtime")
    assert(rt.load { config_dir = TUTORIAL, builtin_dir = fx.repo, budget_ms = 1000,
      rules = { { name = "long_context", module = "long_context",
                  params = { threshold = 150000 }, where = "ccproxy.yaml:10:7" } },
      hooks = { { module = "turns", params = { header = "x-conversation-turns" },
                  where = "ccproxy.yaml:4:7" },
                { module = "save_body", params = { dir = "/tmp" }, where = "ccproxy.yaml:1:1" },
                { module = "rule_evaluator", where = "ccproxy.yaml:7:7" },
                { module = "model_router", where = "ccproxy.yaml:8:7" } }, trusted = true })
    local ok, err = rt.load { config_dir = TUTORIAL, builtin_dir = fx.repo,
      rules = { { name = "long_context", module = "long_context", params = { threshold = 0 },
                  where = "ccproxy.yaml:12:7" } } }
    assert.is_false(ok)
    assert.equal("ccproxy.yaml:12:7: rule 'long_context' params rejected: threshold must be "
      .. "more than 0", err)
  end)

  it("routes a long conversation by the tutorial's rule and tags it", function()
    local run = fx.pipeline { config_dir = TUTORIAL,
      rules = { { "long_context", "long_context", { threshold = 150000 } } },
      hooks = { { module = "turns", params = { header = "x-conversation-turns" } },
                "rule_evaluator", "model_router" } }
    local body = json.decode(read(TUTORIAL .. "/spec/say_hi.json"))
    table.insert(body.messages, { role = "assistant", content = "Hi!" })
    table.insert(body.messages, { role = "user", content = string.rep("many words ", 90000) })
    local out = core.finish(run(core.request { body = body, config_dir = TUTORIAL }))
    assert.equal("long_context", out.label)
    assert.equal("claude-*", out.deployment.model_name)
    assert.equal("claude-sonnet-5-5", out.model)
    assert.equal("4", out.tags.turns)
    assert.equal("4", (fx.header(out.headers, "x-conversation-turns")))
  end)

  it("has a save_body hook that writes the body it saw", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. dir) == 0)
    local run = fx.pipeline { config_dir = TUTORIAL, trusted = true,
                              hooks = { { module = "save_body", params = { dir = dir } } } }
    local req = fx.request("a_say_hi")
    local id = req.id
    local out = core.finish(run(req))
    local path = dir .. "/" .. id .. ".json"
    local saved = read(path)
    os.remove(path)
    os.remove(dir)
    assert.same(json.decode(fx.body("a_say_hi")), json.decode(saved))
    assert.is_false(out.body_changed) -- reading the body changes nothing upstream
  end)

  describe("has a spec that passes:", function()
    -- the tutorial's spec file, run here as `ccproxy --config-dir <tutorial> lua ...` would
    local chunk = assert(loadfile(TUTORIAL .. "/spec/long_context_spec.lua"))
    setfenv(chunk, setmetatable({ CCPROXY_CONFIG_DIR = TUTORIAL }, { __index = getfenv(1) }))
    chunk()
  end)

  it("has a subagent example that routes the agent's requests and hides the tag", function()
    local dir = fx.config("hooks-subagent")
    local agent = read(dir .. "/agents/reviewer.md")
    local prompt = agent:match("^%-%-%-\n.-\n%-%-%-\n(.*)$")
    assert.matches("^<CCR%-SUBAGENT%-MODEL>", prompt)
    local run = fx.pipeline { config_dir = dir,
      rules = { { "subagent", "subagent" },
                { "background", "match_model", { model_name = "haiku" } } },
      hooks = { "subagent", "rule_evaluator", "model_router", "forward_oauth" } }
    -- a subagent request as Claude Code sends it: the agent's prompt in the system blocks
    local body = json.decode(fx.body("c_oauth"))
    body.system[3].text = prompt
    local out = core.finish(run(core.request { body = body, config_dir = dir,
                                               headers = fx.headers("c_oauth") }))
    assert.equal("subagent", out.label)
    assert.equal("claude-*", out.deployment.model_name)
    assert.equal("claude-haiku-5-5", out.model)
    local system = json.decode(out.body).system
    assert.equal(prompt:gsub("^<CCR%-SUBAGENT%-MODEL>.-</CCR%-SUBAGENT%-MODEL>\n\n", ""),
                 system[3].text)
    assert.equal("Bearer sk-ant-oat01-dummy", (fx.header(out.headers, "authorization")))
  end)
end)
