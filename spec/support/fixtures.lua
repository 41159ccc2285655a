-- spec/support/fixtures.lua: real Claude Code requests (spec/fixtures/claude-code) as request
-- views built by ccproxy.core.request, exactly as the server builds them.
--   fixtures.body("a_say_hi")              the raw body bytes of 01-messages.body.json
--   fixtures.headers("a_say_hi")           the header list {{name, value}, ...} in wire order
--   fixtures.request("a_say_hi", opts)     a request view; opts: n (default 1), kind
--                                          ("messages" or "count_tokens"), body (overrides the
--                                          fixture's), config_dir, headers (more fields),
--                                          drop (names of the fixture's fields to leave out)
--   fixtures.config("lua-route")           the path of spec/fixtures/config/<name>
local core = require("ccproxy.core")

local M = {}

-- spec/, from this file's own place (so specs run from any directory).
M.spec_dir = debug.getinfo(1, "S").source:match("^@(.*)/support/[^/]*$")
  or os.getenv("CCPROXY_SPEC_DIR") or "spec"
M.root = M.spec_dir .. "/fixtures/claude-code"
M.repo = M.spec_dir:match("^(.*)/spec/?$") or "."

local function read(path)
  local f = assert(io.open(path, "rb"), "missing fixture " .. path)
  local s = f:read("*a")
  f:close()
  return s
end
M.read = read

local function file(name, n, kind, ext)
  return string.format("%s/%s/%02d-%s.%s.json", M.root, name, n or 1, kind or "messages", ext)
end

function M.body(name, n, kind)
  return read(file(name, n, kind, "body"))
end

-- The whole headers file: method, path, query, header_list.
function M.head(name, n, kind)
  return core.json.decode(read(file(name, n, kind, "headers")))
end

function M.headers(name, n, kind)
  local list = {}
  for i, pair in ipairs(M.head(name, n, kind).header_list) do
    list[i] = { pair[1], pair[2] }
  end
  return list
end

function M.config(name)
  return M.spec_dir .. "/fixtures/config/" .. name
end

function M.request(name, opts)
  opts = opts or {}
  local head = M.head(name, opts.n, opts.kind)
  local headers = {}
  for _, pair in ipairs(M.headers(name, opts.n, opts.kind)) do
    local drop = false
    for _, d in ipairs(opts.drop or {}) do drop = drop or d:lower() == pair[1]:lower() end
    if not drop then headers[#headers + 1] = pair end
  end
  for _, pair in ipairs(opts.headers or {}) do headers[#headers + 1] = pair end
  return core.request {
    method = head.method,
    path = head.path,
    query = head.query,
    headers = headers,
    body = opts.body or M.body(name, opts.n, opts.kind),
    config_dir = opts.config_dir,
  }
end

-- The fixture names that have a 01-messages request.
M.messages = { "a_say_hi", "b_thinking_parallel_tools", "b_tool_roundtrip", "c_auth_token",
  "c_oauth", "e_model_haiku", "e_model_sonnet45" }

-- `s` with the first occurrence of the literal `from` replaced by `to` (no patterns).
function M.replace(s, from, to)
  local i, j = s:find(from, 1, true)
  assert(i, "not found: " .. from)
  return s:sub(1, i - 1) .. to .. s:sub(j + 1)
end

-- The runtime holds one set of modules at a time, so the functions below load theirs again
-- on every call: a match or run function taken earlier stays itself after later loads.
local function loader(spec)
  local rt = require("ccproxy.runtime")
  local ok, err = rt.load(spec)
  assert(ok, err)
  return function()
    assert(rt.load(spec))
    return rt
  end
end

-- Loads one rule through the runtime, as ccproxy.yaml would name it, and returns
-- match(req) -> true/false. A rule that raises makes match raise too (the runtime alone would
-- quietly count it as no match, which would hide the error from a spec).
function M.rule(module, params)
  local use = loader {
    config_dir = M.config("lua-route"),
    builtin_dir = M.repo,
    default_model_passthrough = true,
    rules = { { name = "hit", module = module, params = params or {}, where = "spec:1:1" } },
  }
  return function(req)
    local rt = use()
    local before = rt.stats().rule_errors
    local label, rule = rt.classify(req)
    assert(rt.stats().rule_errors == before, "rule " .. module .. " raised")
    assert(label == "hit" and rule == "hit" or label == "default" and rule == nil)
    return label == "hit"
  end
end

-- Loads rules and hooks through the runtime as the server does and returns run(req), the
-- request stage. opts: rules ({name, module, params}...), hooks (module names or {module,
-- params}), passthrough (default true), config_dir (default lua-route), trusted (the
-- modules get the full LuaJIT globals, as with ccproxy.scripts.trusted), allow_errors.
-- Unless allow_errors, run raises when a rule or hook raised (the runtime hides that).
function M.pipeline(opts)
  local spec = {
    config_dir = opts.config_dir or M.config("lua-route"),
    builtin_dir = M.repo,
    default_model_passthrough = opts.passthrough ~= false,
    trusted = opts.trusted,
    rules = {},
    hooks = {},
  }
  for i, r in ipairs(opts.rules or {}) do
    spec.rules[i] = { name = r.name or r[1], module = r.module or r[2],
                      params = r.params or r[3] or {}, where = "ccproxy.yaml:" .. i .. ":5" }
  end
  for i, h in ipairs(opts.hooks or {}) do
    if type(h) == "string" then h = { module = h } end
    spec.hooks[i] = { module = h.module, params = h.params or {},
                      where = "ccproxy.yaml:" .. i .. ":9" }
  end
  local use = loader(spec)
  return function(req)
    local rt = use()
    local before = rt.stats()
    rt.run(req)
    if not opts.allow_errors then
      local after = rt.stats()
      assert(after.rule_errors == before.rule_errors, "a rule raised")
      assert(after.hook_errors == before.hook_errors, "a hook raised")
    end
    return req
  end
end

-- The value of header `name` (any case) in a list {{name, value}, ...}, and how many times
-- it occurs.
function M.header(list, name)
  local value, count = nil, 0
  for _, pair in ipairs(list) do
    if pair[1]:lower() == name:lower() then
      value, count = pair[2], count + 1
    end
  end
  return value, count
end

-- A request from a body alone (a table is encoded, a string sent as is).
function M.body_request(body, opts)
  opts = opts or {}
  return core.request {
    method = "POST",
    path = opts.path or "/v1/messages",
    headers = opts.headers or { { "content-type", "application/json" } },
    body = body,
    config_dir = opts.config_dir,
  }
end

return M
