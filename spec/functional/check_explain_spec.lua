-- spec/functional/check_explain_spec.lua: `ccproxy check` and `ccproxy explain`, run as the
-- real binary ($CCPROXY_BIN) on temporary config dirs and on real Claude Code captures
-- (spec/fixtures/claude-code). Neither command starts a proxy or contacts an upstream.
local sh = require("sh")
local json = require("dkjson")
local socket = require("socket")

local BIN = assert(os.getenv("CCPROXY_BIN"), "set CCPROXY_BIN to the ccproxy binary")
local SPEC_DIR = os.getenv("CCPROXY_SPEC_DIR") or "spec"
local FIXTURES = SPEC_DIR .. "/fixtures/claude-code"

local BASE_ENV = { HOST = false, PORT = false, CCPROXY_CONFIG_DIR = false,
                   CCPROXY_DATA_DIR = false }

local function ccproxy(dir, args, opts)
  opts = opts or {}
  local argv = { BIN, "--config-dir", dir }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return sh.run(argv, { env = BASE_ENV, timeout = 60, stdin = opts.stdin })
end

local function fixture(name, n, kind, ext)
  return string.format("%s/%s/%02d-%s.%s.json", FIXTURES, name, n or 1, kind or "messages", ext)
end

local function decode(s)
  local v, _, err = json.decode(s, 1, json.null)
  assert(v, "not JSON: " .. tostring(err) .. "\n" .. s)
  return v
end

local function plain(s, text)
  return s:find(text, 1, true) ~= nil
end

local function assert_has(s, text)
  assert(plain(s, text), "expected to find\n  " .. text .. "\nin\n" .. s)
end

local function assert_lacks(s, text)
  assert(not plain(s, text), "did not expect\n  " .. text .. "\nin\n" .. s)
end

local SECRET = "sk-ant-api03-CONFIGSECRETvalue0123456789wxyz"

local CCPROXY_YAML = [[
ccproxy:
  hooks:
    - rule_evaluator
    - model_router
    - extract_session_id
    - forward_apikey
  rules:
    - name: background
      rule: match_model
      params: {model_name: haiku}
    - name: long_context
      rule: ccproxy.rules.TokenCountRule
      params: {threshold: 5000}
    - name: search
      rule: web_search
litellm:
  host: 127.0.0.1
  port: 4000
]]

local CONFIG_YAML = [[
model_list:
  - model_name: default
    litellm_params:
      model: claude-sonnet-4-5
  - model_name: background
    litellm_params:
      model: claude-haiku-5-5
  - model_name: search
    litellm_params:
      model: claude-haiku-5-5
  - model_name: long_context
    litellm_params:
      model: anthropic/claude-opus-4-5
      api_base: %s
      api_key: ]] .. SECRET .. [[

  - model_name: "claude-*"
    litellm_params:
      model: "anthropic/*"
      api_base: %s
]]

-- A config dir with the three rules and four hooks above; `base` is the api_base of the
-- deployments (default https://api.anthropic.com; nothing is ever sent to it).
local function config_dir(opts)
  opts = opts or {}
  local dir = sh.tmpdir()
  local base = opts.base or "https://api.anthropic.com"
  sh.write_file(dir .. "/ccproxy.yaml", opts.ccproxy or CCPROXY_YAML)
  sh.write_file(dir .. "/config.yaml", opts.config or CONFIG_YAML:format(base, base))
  return dir
end

describe("ccproxy check", function()
  it("passes a clean config and counts rules, hooks, models and the built-in examples", function()
    local r = ccproxy(config_dir(), { "check" })
    assert.equals(0, r.code, r.stdout .. r.stderr)
    -- match_model (3), token_count (2) and web_search (3) declare examples.
    assert.equals("ok: 3 rules, 4 hooks, 5 models, 8 examples\n", r.stdout)
  end)

  it("runs a module's examples once however many rules name it", function()
    local dir = config_dir({ ccproxy = CCPROXY_YAML:gsub("rule: web_search",
      "rule: match_model\n      params: {model_name: sonnet}") })
    local r = ccproxy(dir, { "check" })
    assert.equals(0, r.code, r.stdout)
    assert.equals("ok: 3 rules, 4 hooks, 5 models, 5 examples\n", r.stdout)
  end)

  it("reports a syntax error in a rule with file:line and exits 1", function()
    local dir = config_dir({ ccproxy = CCPROXY_YAML:gsub("rule: web_search", "rule: mine") })
    assert(os.execute("mkdir -p " .. sh.quote(dir .. "/rules")))
    sh.write_file(dir .. "/rules/mine.lua", "return {\n  match = function(req)\n"
      .. "    return req.model ==\n  end,\n}\n")
    local r = ccproxy(dir, { "check" })
    assert.equals(1, r.code)
    assert_has(r.stdout, dir .. "/ccproxy.yaml:14:7: cannot load rule 'mine': ")
    assert_has(r.stdout, dir .. "/rules/mine.lua:4: unexpected symbol near 'end'")
    assert.matches("1 problem with the rules and hooks; fix it and run `ccproxy check` again\n$",
      r.stdout)
  end)

  it("reports an unknown module with where it looked", function()
    local dir = config_dir({ ccproxy = CCPROXY_YAML:gsub("rule: web_search", "rule: no_such") })
    local r = ccproxy(dir, { "check" })
    assert.equals(1, r.code)
    assert_has(r.stdout, dir .. "/ccproxy.yaml:14:7: rule module 'no_such' not found (looked in "
      .. dir .. "/rules/no_such.lua")
    assert_has(r.stdout, "create " .. dir .. "/rules/no_such.lua")
  end)

  it("reports bad params: a wrong type, and params a module's check refuses", function()
    local yaml = CCPROXY_YAML:gsub("threshold: 5000", "threshold: lots")
      :gsub("model_name: haiku", "model_name: ''")
    local r = ccproxy(config_dir({ ccproxy = yaml }), { "check" })
    assert.equals(1, r.code)
    assert.matches("ccproxy%.yaml:%d+:%d+: rule 'long_context' param threshold must be a number "
      .. "%(default 60000%), got string", r.stdout)
    assert.matches("ccproxy%.yaml:%d+:%d+: rule 'background' params rejected: model_name is "
      .. "required", r.stdout)
  end)

  it("reports configuration errors with file:line:col and warnings without failing", function()
    local dir = config_dir({ ccproxy = CCPROXY_YAML:gsub("  port: 4000", "  port: many") })
    local r = ccproxy(dir, { "check" })
    assert.equals(1, r.code)
    assert.matches(dir:gsub("%p", "%%%0") .. "/ccproxy%.yaml:%d+:%d+: ", r.stdout)
    assert.matches("problem in the configuration of", r.stdout)

    dir = config_dir({ ccproxy = CCPROXY_YAML .. "unknown_section: 1\n" })
    r = ccproxy(dir, { "check" })
    assert.equals(0, r.code, r.stdout)
    assert.matches("^warning: " .. dir:gsub("%p", "%%%0") .. "/ccproxy%.yaml:%d+:%d+: ", r.stdout)
    assert.matches("ok: 3 rules, 4 hooks, 5 models, 8 examples %(1 warning above%)\n$", r.stdout)
  end)

  it("reports failing and malformed examples with the module's file:line", function()
    local dir = config_dir({ ccproxy = CCPROXY_YAML:gsub("rule: web_search", "rule: mine")
      :gsub("    %- forward_apikey\n", "    - forward_apikey\n    - team\n") })
    assert(os.execute("mkdir -p " .. sh.quote(dir .. "/rules") .. " " .. sh.quote(dir .. "/hooks")))
    sh.write_file(dir .. "/rules/mine.lua", [[
return {
  params = { word = "x" },
  match = function(req, params) return (req.model or ""):find(params.word, 1, true) ~= nil end,
  examples = {
    { name = "opus has the word", params = { word = "opus" }, body = { model = "claude-opus-4-5" },
      expect = true },
    { name = "wrong expectation", params = { word = "opus" },
      body = '{"model":"claude-haiku-4-5"}', expect = true },
    { name = "no expect" },
    { name = "body is not an object", body = "[1]", expect = false },
    { name = "bad param type", params = { word = 5 }, expect = false },
  },
}
]])
    sh.write_file(dir .. "/hooks/team.lua", [[
return {
  params = { team = "core" },
  request = function(req, params)
    req.headers["x-team"] = params.team
    req:tag("team", params.team)
    if params.team == "raise" then error("no such team") end
  end,
  examples = {
    { name = "sets the header", label = "background",
      expect = { headers = { ["x-team"] = "core", ["x-gone"] = false }, tags = { team = "core" },
        model = "claude-sonnet-4-5", body = { max_tokens = 1024 }, label = "background" } },
    { name = "another team", params = { team = "infra" },
      expect = { headers = { ["x-team"] = "core" } } },
    { name = "raises", params = { team = "raise" }, expect = {} },
    { name = "unknown expectation", expect = { lable = "x" } },
  },
}
]])
    local r = ccproxy(dir, { "check" })
    assert.equals(1, r.code)
    local out = r.stdout
    local rule, hook = dir .. "/rules/mine.lua", dir .. "/hooks/team.lua"
    assert_has(out, rule .. ":7: rule module 'mine', example 'wrong expectation': expected a "
      .. "match, but match() returned false; fix the rule or its example")
    assert_has(out, rule .. ":9: rule module 'mine', example 'no expect': a rule's example needs "
      .. "expect = true")
    assert_has(out, rule .. ":10: rule module 'mine', example 'body is not an object': its "
      .. "request cannot be built: the request body is not a JSON object; fix the example")
    assert_has(out, rule .. ":11: rule module 'mine', example 'bad param type': param word must "
      .. "be a string")
    assert_has(out, hook .. ":12: hook module 'team', example 'another team': header x-team is "
      .. '"infra", expected "core"; fix the hook or its example')
    assert_has(out, hook .. ":14: hook module 'team', example 'raises': request() raised: ")
    assert_has(out, "no such team")
    assert_has(out, hook .. ":15: hook module 'team', example 'unknown expectation': expect has "
      .. "no field 'lable'")
    assert_lacks(out, "opus has the word")
    assert_lacks(out, "sets the header")
    assert.matches("\n7 problems found; fix them and run `ccproxy check` again\n$", out)
  end)

  it("reports examples that are not a list", function()
    local dir = config_dir({ ccproxy = CCPROXY_YAML:gsub("rule: web_search", "rule: mine") })
    assert(os.execute("mkdir -p " .. sh.quote(dir .. "/rules")))
    sh.write_file(dir .. "/rules/mine.lua",
      "return {\n  match = function() return true end,\n  examples = \"yes\",\n}\n")
    local r = ccproxy(dir, { "check" })
    assert.equals(1, r.code)
    assert_has(r.stdout, dir .. "/rules/mine.lua:3: rule module 'mine': examples must be a list")
  end)

  it("takes no arguments", function()
    local r = ccproxy(config_dir(), { "check", "extra" })
    assert.equals(2, r.code)
    assert.matches("unexpected argument 'extra'", r.stderr)
    r = ccproxy(config_dir(), { "check", "--help" })
    assert.equals(0, r.code)
    assert.matches("^usage: ccproxy %[%-%-config%-dir DIR%] check", r.stdout)
  end)
end)

describe("ccproxy explain", function()
  local say_hi = { "explain", "--headers", fixture("a_say_hi", 1, nil, "headers"),
                   fixture("a_say_hi", 1, nil, "body") }

  it("shows the request, the verdicts, the label, each hook's edits and the route", function()
    local dir = config_dir()
    local r = ccproxy(dir, say_hi)
    assert.equals(0, r.code, r.stdout .. r.stderr)
    local out = r.stdout
    assert_has(out, "request     POST /v1/messages?beta=true\n")
    assert_has(out, "  model     claude-opus-5-5\n")
    assert_has(out, "  stream    true\n")
    assert.matches("  tokens    ~%d+ %(estimate%)\n", out)
    assert_has(out, "  thinking  adaptive")
    assert_has(out, "Bash, Edit")
    assert_has(out, "  session   e8788ba3-0afb-42db-a340-75985313d704\n")
    -- Rules in order: the first match names the label, the later one is marked.
    assert.matches("1%. background%s+match_model%s+no match\n", out)
    assert.matches("2%. long_context%s+ccproxy%.rules%.TokenCountRule%s+matched %-> label "
      .. "long_context\n", out)
    assert.matches("3%. search%s+web_search%s+no match %(not reached", out)
    assert_has(out, "label       long_context (rule long_context)\n")
    -- Each hook's edits.
    assert.matches("1%. rule_evaluator\n%s+label%s+%(none%) %-> long_context\n", out)
    assert.matches("2%. model_router\n%s+model%s+claude%-opus%-5%-5 %-> claude%-opus%-4%-5\n", out)
    -- Routing writes no credentials into req.headers: they are chosen as the request leaves.
    assert.not_matches("header%s+~ x%-api%-key", out)
    assert.matches("3%. extract_session_id\n%s+session_id%s+%(none%) %-> "
      .. "e8788ba3%-0afb%-42db%-a340%-75985313d704\n", out)
    assert.matches("4%. forward_apikey\n%s+no edits\n", out)
    -- The deployment and the upstream request.
    assert.matches("model_name%s+long_context\n", out)
    assert.matches("model%s+claude%-opus%-4%-5\n", out)
    assert.matches("passthrough no\n", out)
    assert_has(out, "  POST https://api.anthropic.com/v1/messages?beta=true\n")
    assert_has(out, "  Host: api.anthropic.com\n")
    assert_has(out, "  anthropic-version: 2023-06-01\n")
    assert_has(out, "  changed model \"claude-opus-4-5\"\n")
    -- Secrets never appear whole.
    assert_lacks(out, SECRET)
    assert_lacks(out, "sk-ant-dummy")
  end)

  it("prints the same content as JSON with --json", function()
    local dir = config_dir()
    local args = { "explain", "--json" }
    for i = 2, #say_hi do args[#args + 1] = say_hi[i] end
    local r = ccproxy(dir, args)
    assert.equals(0, r.code, r.stderr)
    local o = decode(r.stdout)
    assert.equals("claude-opus-5-5", o.request.model)
    assert.equals("beta=true", o.request.query)
    assert.is_true(o.request.stream)
    assert.is_true(o.request.tokens > 5000)
    assert.equals("adaptive", o.request.thinking.type)
    assert.equals("e8788ba3-0afb-42db-a340-75985313d704", o.request.session_id)
    assert.is_true(#o.request.tools > 0)
    assert.is_true(o.rules_ran)
    assert.same({ "no match", "matched", "no match" },
      { o.rules[1].verdict, o.rules[2].verdict, o.rules[3].verdict })
    assert.same({ true, true, false }, { o.rules[1].reached, o.rules[2].reached,
                                         o.rules[3].reached })
    assert.is_true(o.rules[2].chosen)
    assert.equals("long_context", o.label)
    assert.equals("long_context", o.rule)
    assert.equals("e8788ba3-0afb-42db-a340-75985313d704", o.session_id)
    assert.equals(4, #o.hooks)
    assert.equals("model_router", o.hooks[2].module)
    assert.same({ from = "claude-opus-5-5", to = "claude-opus-4-5" }, o.hooks[2].edits.model)
    assert.equals("long_context", o.hooks[2].edits.route.model_name)
    assert.is_nil(o.hooks[4].edits.headers)
    assert.equals("e8788ba3-0afb-42db-a340-75985313d704", o.hooks[3].edits.session_id.to)
    assert.is_true(o.routed)
    assert.equals(json.null, o.error)
    assert.equals("long_context", o.deployment.model_name)
    assert.equals("anthropic", o.deployment.provider)
    assert.equals("claude-opus-4-5", o.deployment.model)
    assert.is_false(o.deployment.passthrough)
    assert.equals("https://api.anthropic.com/v1/messages?beta=true", o.upstream.url)
    assert.is_true(o.upstream.body.changed)
    assert.same({ name = "model", action = "changed", value = "claude-opus-4-5",
                  bytes = #'"claude-opus-4-5"' }, o.upstream.body.members[1])
    local seen = {}
    for _, pair in ipairs(o.upstream.headers) do seen[pair[1]:lower()] = pair[2] end
    assert.equals("sk-ant-...", seen["x-api-key"])
    assert.equals("api.anthropic.com", seen.host)
    assert.equals(tostring(o.upstream.body.bytes), seen["content-length"])
    assert_lacks(r.stdout, SECRET)
  end)

  it("routes by the first matching rule, redacts a Bearer token and sends nothing", function()
    -- The deployments point at a listening socket that must see no connection.
    local srv = assert(socket.bind("127.0.0.1", 0))
    local _, port = srv:getsockname()
    local dir = config_dir({ base = "http://127.0.0.1:" .. port .. "/v1" })
    local r = ccproxy(dir, { "explain", "--headers", fixture("c_oauth", 1, nil, "headers"),
                             fixture("e_model_haiku", 1, nil, "body") })
    srv:settimeout(0)
    local conn = srv:accept()
    srv:close()
    assert.is_nil(conn, "explain connected to the upstream")
    assert.equals(0, r.code, r.stderr)
    assert.matches("1%. background%s+match_model%s+matched %-> label background\n", r.stdout)
    assert.matches("2%. long_context[^\n]*%(not reached", r.stdout)
    assert_has(r.stdout, "POST http://127.0.0.1:" .. port .. "/v1/messages?beta=true\n")
    assert_has(r.stdout, "Authorization: Bearer sk-ant-oat01-...\n")
    assert_lacks(r.stdout, "sk-ant-oat01-dummy")
  end)

  it("shows a request bound for another provider as that provider gets it", function()
    local gpt_secret = "sk-openai-SECRETvalue0123456789abcd"
    local dir = config_dir({ config = CONFIG_YAML:format("https://api.anthropic.com",
      "https://api.anthropic.com"):gsub("model: claude%-haiku%-5%-5\n  %- model_name: search",
      "model: openai/gpt-5-mini\n      api_base: https://api.openai.com/v1\n      api_key: "
      .. gpt_secret .. "\n  - model_name: search", 1) })
    local r = ccproxy(dir, { "explain", "--json", "--headers", fixture("c_oauth", 1, nil, "headers"),
                             fixture("e_model_haiku", 1, nil, "body") })
    assert.equals(0, r.code, r.stdout .. r.stderr)
    local o = decode(r.stdout)
    assert.equals("background", o.label)
    assert.equals("openai", o.deployment.provider)
    assert.equals("https://api.openai.com/v1/chat/completions", o.upstream.url)
    local seen = {}
    for _, pair in ipairs(o.upstream.headers) do seen[pair[1]:lower()] = pair[2] end
    assert.equals("api.openai.com", seen.host)
    -- the deployment's key in OpenAI's field, shortened; none of Anthropic's own fields
    assert.matches("^Bearer sk%-", seen.authorization)
    assert.is_nil(seen["x-api-key"])
    assert.is_nil(seen["anthropic-version"])
    assert.is_true(o.upstream.body.translated)
    assert.equals(tostring(o.upstream.body.bytes), seen["content-length"])
    local keys = table.concat(o.upstream.body.keys, ",")
    assert.matches("messages", keys)
    assert.matches("model", keys)
    assert_lacks(r.stdout, gpt_secret)
    assert_lacks(r.stdout, "sk-ant-oat01-dummy")
  end)

  it("shows the attempts a group and its fallbacks would get", function()
    local dir = config_dir({ config = [[
model_list:
  - model_name: background
    litellm_params: {model: anthropic/claude-haiku-5-5, api_key: sk-ant-first-0123456789, order: 2}
  - model_name: background
    litellm_params: {model: anthropic/claude-haiku-4-5, api_key: sk-ant-second-0123456789, order: 1, weight: 3, rpm: 50, max_parallel_requests: 4}
  - model_name: cheap
    litellm_params: {model: openai/gpt-5-mini, api_base: "https://api.openai.com/v1", api_key: sk-x-0123456789}
  - model_name: "claude-*"
    litellm_params: {model: "anthropic/*"}
  - model_name: default
    litellm_params: {model: claude-sonnet-5-5}
router_settings:
  num_retries: 1
  routing_strategy: usage-based-routing
  fallbacks: [{background: [cheap]}]
]] })
    local r = ccproxy(dir, { "explain", "--json", "--headers", fixture("c_oauth", 1, nil, "headers"),
                             fixture("e_model_haiku", 1, nil, "body") })
    assert.equals(0, r.code, r.stdout .. r.stderr)
    local o = decode(r.stdout)
    assert.equals(2, #o.plan)
    assert.same({ "background", 2, "usage-based-routing" },
      { o.plan[1].group, o.plan[1].tries, o.plan[1].strategy })
    assert.same({ 50, 0, 4 }, { o.plan[1].members[1].rpm, o.plan[1].members[1].tpm,
                               o.plan[1].members[1].max_parallel })
    -- lowest order first
    assert.same({ "anthropic/claude-haiku-4-5", 1, 3 },
      { o.plan[1].members[1].model, o.plan[1].members[1].order, o.plan[1].members[1].weight })
    assert.same({ "anthropic/claude-haiku-5-5", 2 },
      { o.plan[1].members[2].model, o.plan[1].members[2].order })
    assert.same({ "cheap", "openai/gpt-5-mini" }, { o.plan[2].group, o.plan[2].members[1].model })
    local text = ccproxy(dir, { "explain", "--headers", fixture("c_oauth", 1, nil, "headers"),
                                fixture("e_model_haiku", 1, nil, "body") }).stdout
    assert.matches("2%. group cheap, up to 2 attempts %(fallback%)", text)
    assert.matches("routing_strategy usage%-based%-routing: each picks a member by order, then "
      .. "by fewest tokens this minute, under rpm/tpm", text)
    assert.matches("order 1  weight 3  rpm 50  max_parallel 4", text)
    assert_lacks(text, "0123456789")
  end)

  it("reads the body from stdin, curl-style headers, and --path count_tokens", function()
    local dir = config_dir()
    local headers = sh.write_file(sh.tmpdir() .. "/h.txt",
      "# captured by hand\n-H 'anthropic-version: 2023-06-01'\nx-api-key: sk-ant-xyz\n"
      .. "Cookie: session=abcdefghijklmnop0123\n")
    local r = ccproxy(dir, { "explain", "--headers", headers, "--path", "count_tokens",
                             "--query", "beta=true", "-" },
      { stdin = '{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}' })
    assert.equals(0, r.code, r.stderr)
    assert_has(r.stdout, "request     POST /v1/messages/count_tokens?beta=true\n")
    assert_has(r.stdout, "POST https://api.anthropic.com/v1/messages/count_tokens?beta=true\n")
    assert_has(r.stdout, "  anthropic-version: 2023-06-01\n")
    assert_has(r.stdout, "  Cookie: [redacted]\n")
    assert.matches("passthrough yes\n", r.stdout)
    assert_has(r.stdout, "body unchanged (")
    assert_lacks(r.stdout, "session=abcdefghijklmnop0123")
  end)

  it("takes a {name: value} headers object and a real count_tokens capture", function()
    local dir = config_dir()
    local headers = sh.write_file(sh.tmpdir() .. "/h.json",
      '{"x-api-key": "sk-ant-abc", "anthropic-beta": "x"}')
    local r = ccproxy(dir, { "explain", "--json", "--headers", headers },
      { stdin = sh.read_file(fixture("count_tokens", 5, "count_tokens", "body")) })
    assert.equals(0, r.code, r.stderr)
    local o = decode(r.stdout)
    assert.equals("/v1/messages", o.request.path)
    assert.equals(json.null, o.request.query)
    local names = {}
    for _, pair in ipairs(o.upstream.headers) do names[#names + 1] = pair[1] end
    assert.same({ "Host", "anthropic-beta", "x-api-key", "Content-Length", "Connection" }, names)

    r = ccproxy(dir, { "explain", "--json", "--headers",
                       fixture("count_tokens", 5, "count_tokens", "headers"),
                       fixture("count_tokens", 5, "count_tokens", "body") })
    assert.equals(0, r.code, r.stderr)
    o = decode(r.stdout)
    assert.equals("count_tokens", o.request.endpoint)
    assert.matches("/v1/messages/count_tokens%?beta=true$", o.upstream.url)
  end)

  it("records body edits, tags and header removals per hook, and rule errors", function()
    local dir = config_dir({ ccproxy = [[
ccproxy:
  hooks:
    - rule_evaluator
    - edit
    - model_router
  rules:
    - name: broken
      rule: raises
    - name: background
      rule: match_model
      params: {model_name: haiku}
]] })
    assert(os.execute("mkdir -p " .. sh.quote(dir .. "/rules") .. " " .. sh.quote(dir .. "/hooks")))
    sh.write_file(dir .. "/rules/raises.lua",
      'return { match = function() error("rule exploded") end }\n')
    sh.write_file(dir .. "/hooks/edit.lua", [[
return { request = function(req)
  req.body.max_tokens = 77
  req.body.metadata = { user_id = "u1" }
  req.body.temperature = nil
  req:tag("team", "core")
  req.headers["x-app"] = nil
end }
]])
    local r = ccproxy(dir, { "explain", "--json", "--headers", fixture("a_say_hi", 1, nil,
      "headers") }, { stdin = '{"model":"claude-haiku-4-5","max_tokens":5,"temperature":1,'
      .. '"messages":[{"role":"user","content":"hi"}]}' })
    assert.equals(0, r.code, r.stderr)
    local o = decode(r.stdout)
    assert.equals("error", o.rules[1].verdict)
    assert.matches("rule exploded", o.rules[1].error)
    assert.equals("matched", o.rules[2].verdict)
    assert.equals("background", o.label)
    local e = o.hooks[2].edits
    assert.same({ { name = "team", value = "core" } }, e.tags)
    assert.same({ name = "x-app", action = "removed", from = "cli" }, e.headers[1])
    assert.same({ "max_tokens", "metadata", "temperature" },
      { e.body[1].name, e.body[2].name, e.body[3].name })
    assert.same({ "changed", "added", "removed" },
      { e.body[1].action, e.body[2].action, e.body[3].action })
    assert.equals(77, e.body[1].value)
    assert.same({ user_id = "u1" }, e.body[2].value)
    assert.same({ team = "core" }, o.tags)
    assert.is_nil(o.hooks[3].edits.body)
    local sent = {}
    for _, m in ipairs(o.upstream.body.members) do sent[m.name] = m end
    assert.equals("claude-haiku-5-5", sent.model.value)
    assert.equals(77, sent.max_tokens.value)
    assert.equals("removed", sent.temperature.action)
  end)

  it("gives hooks a stand-in oat_sources token and says so", function()
    local dir = config_dir({ ccproxy = [[
ccproxy:
  oat_sources:
    anthropic: "exit 1"
  hooks:
    - oat
    - model_router
]] })
    assert(os.execute("mkdir -p " .. sh.quote(dir .. "/hooks")))
    sh.write_file(dir .. "/hooks/oat.lua", [[
return { request = function(req)
  local token = req:oauth_token("anthropic")
  req.headers["authorization"] = "Bearer " .. token
  local none = req:oauth_token("gemini")
  if none == nil then req:tag("gemini", "none") end
end }
]])
    local r = ccproxy(dir, { "explain" }, { stdin = '{"model":"claude-sonnet-4-5"}' })
    assert.equals(0, r.code, r.stderr)
    assert_has(r.stdout, "+ authorization: Bearer sk-ant-oat01-(oat_sources token for "
      .. "anthropic)\n")
    assert_has(r.stdout, "tag         gemini=none\n")
    assert_has(r.stdout, "note: hook oat asked for the anthropic oat_sources token; explain "
      .. "runs no oat_sources command")
    assert_has(r.stdout, "note: hook oat asked for the gemini oat_sources token and got none")
  end)

  it("exits 1 with the reason when the request cannot be routed, still showing the rest",
    function()
      local dir = config_dir({ config = [[
model_list:
  - model_name: claude-opus-5-5
    litellm_params:
      model: anthropic/claude-opus-5-5
]], ccproxy = "ccproxy:\n  hooks:\n    - model_router\n" })
      local r = ccproxy(dir, { "explain", "--headers", fixture("e_model_haiku", 1, nil, "headers"),
                               fixture("e_model_haiku", 1, nil, "body") })
      assert.equals(1, r.code)
      assert_has(r.stdout, "1. model_router\n")
      assert_has(r.stdout, "deployment\n  (none)\n")
      assert_has(r.stdout, "not sent: model 'claude-haiku-5-5' is not configured: add a "
        .. "model_list entry for it")
      assert_lacks(r.stdout, "upstream request")

      r = ccproxy(dir, { "explain", "--json", fixture("e_model_haiku", 1, nil, "body") })
      assert.equals(1, r.code)
      local o = decode(r.stdout)
      assert.is_false(o.routed)
      assert.matches("not configured", o.error)
      assert.equals(json.null, o.upstream)
      assert.equals(json.null, o.deployment)
    end)

  it("exits 1 when a hook with on_error: fail raises", function()
    local dir = config_dir({ ccproxy = [[
ccproxy:
  hooks:
    - hook: boom
      on_error: fail
    - model_router
]] })
    assert(os.execute("mkdir -p " .. sh.quote(dir .. "/hooks")))
    sh.write_file(dir .. "/hooks/boom.lua",
      'return { request = function() error("boom here") end }\n')
    local r = ccproxy(dir, { "explain" }, { stdin = '{"model":"claude-sonnet-4-5"}' })
    assert.equals(1, r.code)
    assert_has(r.stdout, "not sent: hook 'boom' failed and has on_error: fail")
    assert_has(r.stdout, "boom here")
    assert_lacks(r.stdout, "2. model_router")
  end)

  it("exits 1 for a body that is not a JSON object, 2 for usage errors", function()
    local dir = config_dir()
    local r = ccproxy(dir, { "explain" }, { stdin = "not json" })
    assert.equals(1, r.code)
    assert.matches("ccproxy explain: stdin: the request body is not a JSON object %(the server "
      .. "answers 400%)", r.stderr)
    r = ccproxy(dir, { "explain", "/nonexistent/body.json" })
    assert.equals(1, r.code)
    assert.matches("cannot open the request body /nonexistent/body%.json", r.stderr)
    r = ccproxy(dir, { "explain", "--help" })
    assert.equals(0, r.code)
    assert.matches("^usage: ccproxy %[%-%-config%-dir DIR%] explain", r.stdout)
    r = ccproxy(dir, { "explain", "--bogus" })
    assert.equals(2, r.code)
    assert.matches("unknown option '%-%-bogus'", r.stderr)
    r = ccproxy(dir, { "explain", "--path", "models" })
    assert.equals(2, r.code)
    assert.matches("%-%-path takes messages or count_tokens", r.stderr)
    r = ccproxy(dir, { "explain", "a.json", "b.json" })
    assert.equals(2, r.code)
    assert.matches("more than one request file", r.stderr)
    local bad = sh.write_file(sh.tmpdir() .. "/h.txt", "no colon here\n")
    r = ccproxy(dir, { "explain", "--headers", bad }, { stdin = "{}" })
    assert.equals(1, r.code)
    assert.matches("h%.txt:1: expected a header line", r.stderr)
  end)
end)
