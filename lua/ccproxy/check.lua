-- ccproxy.check: the script half of `ccproxy check`. By the time it runs, the C side has
-- loaded the configuration and built the pipeline exactly as `start` does (every module
-- loaded, params checked); this runs the examples the loaded modules declare and prints the
-- problems and the summary.
--
-- A module's examples: `examples = { { name =, body =, headers =, path =, query =, params =,
-- label =, expect = } }`. `body` is a table or JSON text (default: a one-message request),
-- `params` go over the module's default params (examples never depend on ccproxy.yaml).
-- Rules: `expect` is true or false (does match() return a truthy value?).
-- Hooks: `expect` is a table of what the request holds after the hook and routing: `label`,
-- `rule`, `model`, `session_id`, `headers = { name = value | false }` (false: absent),
-- `body = { member = value }`, `tags = { name = value }`; `label` on the example is set
-- before the hook runs.
local core = require("ccproxy.core")
local runtime = require("ccproxy.runtime")
local json = core.json

local M = {}

-- A module's check() may take this long, as when the runtime loads it.
local LOAD_BUDGET_MS = 2000

M.DEFAULT_BODY = '{"model":"claude-sonnet-4-5","max_tokens":1024,'
  .. '"messages":[{"role":"user","content":"hi"}]}'

local EXPECT_KEYS = { label = true, rule = true, model = true, session_id = true,
                      headers = true, body = true, tags = true }

local first_line = runtime.first_line

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- The line of `text` where `needle` first appears, or nil.
local function find_line(text, needle, pattern)
  local at = text and text:find(needle, 1, not pattern)
  if not at then return nil end
  local _, n = text:sub(1, at):gsub("\n", "")
  return n + 1
end

local function examples_line(text)
  return find_line(text, "examples%s*=", true) or 1
end

-- Where an example is written: the line that names it, else the `examples` line.
local function example_line(text, ex)
  if type(ex) == "table" and type(ex.name) == "string" then
    local l = find_line(text, '"' .. ex.name .. '"') or find_line(text, "'" .. ex.name .. "'")
    if l then return l end
  end
  return examples_line(text)
end

-- JSON-ish equality: numbers, strings, booleans, null and tables compared member by member
-- (an empty object equals an empty array).
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function show(v)
  if v == nil then return "nothing" end
  if type(v) == "string" then return string.format("%q", v) end
  local text = json.encode(v)
  return text or tostring(v)
end

local function header_value(list, name)
  local lname = name:lower()
  for _, pair in ipairs(list) do
    if pair[1]:lower() == lname then return pair[2] end
  end
  return nil
end

-- The module's default params with the example's over them, checked like config params.
local function example_params(mod, given)
  local params = {}
  local defaults = type(mod.params) == "table" and mod.params or {}
  for k, v in pairs(defaults) do params[k] = v end
  for k, v in pairs(given or {}) do
    local d = defaults[k]
    if d ~= nil and type(d) ~= type(v) then
      return nil, string.format("param %s must be a %s like its default, got %s", tostring(k),
        type(d), type(v))
    end
    params[k] = v
  end
  if type(mod.check) == "function" then
    local ok, res, msg = core.call(LOAD_BUDGET_MS, mod.check, params)
    if not ok then return nil, "params rejected: " .. first_line(res) end
    if res == false or (res == nil and msg) then
      return nil, "params rejected: " .. tostring(msg or "invalid")
    end
  end
  return params
end

-- The request an example describes, built as the server builds one.
local function example_request(ex, config_dir)
  local headers = ex.headers or { { "content-type", "application/json" } }
  local ok, req = pcall(core.request, {
    method = "POST",
    path = ex.path or "/v1/messages",
    query = ex.query,
    headers = headers,
    body = ex.body or M.DEFAULT_BODY,
    config_dir = config_dir,
  })
  if not ok then return nil, "its request cannot be built: " .. first_line(req), true end
  return req
end

-- Shape problems of one example; nil when it can run.
local function shape_problem(ex, kind)
  if type(ex) ~= "table" then return "must be a table { name =, body =, expect = }" end
  if ex.name ~= nil and type(ex.name) ~= "string" then return "name must be a string" end
  if ex.body ~= nil and type(ex.body) ~= "string" and type(ex.body) ~= "table" then
    return "body must be a table or JSON text, not a " .. type(ex.body)
  end
  for _, f in ipairs({ "headers", "params" }) do
    if ex[f] ~= nil and type(ex[f]) ~= "table" then
      return f .. " must be a table, not a " .. type(ex[f])
    end
  end
  for _, f in ipairs({ "path", "query", "label" }) do
    if ex[f] ~= nil and type(ex[f]) ~= "string" then
      return f .. " must be a string, not a " .. type(ex[f])
    end
  end
  if kind == "rule" then
    if type(ex.expect) ~= "boolean" then
      return "a rule's example needs expect = true (match() returns a truthy value) or false"
    end
  else
    if type(ex.expect) ~= "table" then
      return "a hook's example needs expect = { label =, model =, headers = { name = value }, "
        .. "body = { member = value } }"
    end
    for k in pairs(ex.expect) do
      if not EXPECT_KEYS[k] then
        return string.format("expect has no field '%s' (it may hold label, rule, model, "
          .. "session_id, headers, body, tags)", tostring(k))
      end
    end
  end
  return nil
end

local function run_rule_example(entry, ex, params)
  local req, err, bad_example = example_request(ex, nil)
  if not req then return err, bad_example end
  local ok, res, kind = runtime.match_rule(entry, req, params)
  if not ok then
    return string.format("match() raised%s: %s", kind == "error" and "" or " (" .. kind .. ")",
      first_line(res))
  end
  local matched = res and true or false
  if matched ~= ex.expect then
    return ex.expect and "expected a match, but match() returned " .. show(res)
      or "expected no match, but match() returned " .. show(res)
  end
  return nil
end

-- What differs between a hook example's expectations and the finished request.
local function compare_hook(expect, res)
  local diffs = {}
  for _, f in ipairs({ "label", "rule", "model", "session_id" }) do
    if expect[f] ~= nil and expect[f] ~= res[f] then
      diffs[#diffs + 1] = string.format("%s is %s, expected %s", f, show(res[f]),
        show(expect[f]))
    end
  end
  if type(expect.headers) == "table" then
    local names = {}
    for name in pairs(expect.headers) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local want, got = expect.headers[name], header_value(res.headers, name)
      if want == false then
        if got ~= nil then
          diffs[#diffs + 1] = string.format("header %s is %s, expected it absent", name,
            show(got))
        end
      elseif got ~= tostring(want) then
        diffs[#diffs + 1] = string.format("header %s is %s, expected %s", name, show(got),
          show(tostring(want)))
      end
    end
  end
  if type(expect.body) == "table" then
    local body = json.decode(res.body)
    local names = {}
    for name in pairs(expect.body) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local got = type(body) == "table" and body[name] or nil
      if not same(got, expect.body[name]) then
        diffs[#diffs + 1] = string.format("body.%s is %s, expected %s", name, show(got),
          show(expect.body[name]))
      end
    end
  end
  if type(expect.tags) == "table" then
    for name, want in pairs(expect.tags) do
      local got = res.tags and res.tags[name]
      if got ~= tostring(want) then
        diffs[#diffs + 1] = string.format("tag %s is %s, expected %s", name, show(got),
          show(tostring(want)))
      end
    end
  end
  if #diffs == 0 then return nil end
  return table.concat(diffs, "; ")
end

local function run_hook_example(entry, ex, params, budget, config_dir)
  local req, err, bad_example = example_request(ex, config_dir)
  if not req then return err, bad_example end
  if ex.label then req.label = ex.label end
  local ok, res, kind = core.call(budget, entry.mod.request, req, params)
  if not ok then
    return string.format("request() raised%s: %s",
      kind == "error" and "" or " (" .. kind .. ")", first_line(res))
  end
  local fok, finished = pcall(core.finish, req)
  if not fok then
    return "the request cannot be finished after the hook: "
      .. first_line(finished):gsub("^finish: ", "")
  end
  return compare_hook(ex.expect, finished)
end

-- Runs the examples of one loaded module; adds problems; returns how many ran.
local function run_module(entry, kind, budget, config_dir, problems)
  local examples = entry.mod.examples
  if examples == nil then return 0 end
  local text = read_file(entry.path)
  local where = entry.path .. ":" .. examples_line(text)
  local what = string.format("%s module '%s'", kind, entry.module)
  if type(examples) ~= "table" then
    problems[#problems + 1] = string.format("%s: %s: examples must be a list of tables "
      .. "{ name =, body =, expect = }, not a %s", where, what, type(examples))
    return 0
  end
  local ran = 0
  for i, ex in ipairs(examples) do
    local name = type(ex) == "table" and type(ex.name) == "string" and ex.name
      or "example " .. i
    local at = entry.path .. ":" .. example_line(text, ex)
    local problem = shape_problem(ex, kind)
    local params, bad_example = nil, true
    if not problem then
      params, problem = example_params(entry.mod, ex.params)
    end
    if not problem then
      ran = ran + 1
      if kind == "rule" then
        problem, bad_example = run_rule_example(entry, ex, params)
      else
        problem, bad_example = run_hook_example(entry, ex, params, budget, config_dir)
      end
    end
    if problem then
      problem = problem .. (bad_example and "; fix the example"
        or "; fix the " .. kind .. " or its example")
    end
    if problem then
      problems[#problems + 1] = string.format("%s: %s, example '%s': %s", at, what, name, problem)
    end
  end
  return ran
end

local function plural(n, word)
  return string.format("%d %s%s", n, word, n == 1 and "" or "s")
end

-- opts: config_dir, models (count), warnings (count printed before). Prints the problems and
-- the summary; returns the exit code (0 or 1).
function M.run(opts)
  local rules, hooks, budget = runtime.loaded()
  local problems, seen, examples = {}, {}, 0
  local function each(list, kind)
    for _, entry in ipairs(list) do
      local key = kind .. ":" .. entry.path
      if not seen[key] then
        seen[key] = true
        examples = examples + run_module(entry, kind, budget, opts.config_dir, problems)
      end
    end
  end
  each(rules, "rule")
  each(hooks, "hook")
  for _, p in ipairs(problems) do
    io.write(p, "\n")
  end
  if #problems > 0 then
    io.write(string.format("%s found; fix %s and run `ccproxy check` again\n",
      plural(#problems, "problem"), #problems == 1 and "it" or "them"))
    return 1
  end
  local warned = (opts.warnings or 0) > 0
    and string.format(" (%s above)", plural(opts.warnings, "warning")) or ""
  io.write(string.format("ok: %s, %s, %s, %s%s\n", plural(#rules, "rule"),
    plural(#hooks, "hook"), plural(opts.models or 0, "model"), plural(examples, "example"),
    warned))
  return 0
end

M.same = same
return M
