-- ccproxy.runtime: loads the rule and hook modules named in ccproxy.yaml and runs them for each
-- request. Trusted code: it is the only Lua that sees every module, and it contains every
-- script error (a failing rule counts as no match, a failing hook is skipped) so one broken
-- script never costs a request.
local core = require("ccproxy.core")
local sandbox = require("ccproxy.sandbox")

local M = {}

-- Loading a module or checking its params may take this long: a module whose top level never
-- returns must not hang the proxy's start or a reload.
local LOAD_BUDGET_MS = 2000

local state = {
  rules = {},   -- { name, module, path, match, params, where }
  hooks = {},   -- { module, path, request, response, event, done, params, where }
  spec = nil,
  sources = {}, -- path -> the text loaded from it
  errors = { rules = 0, hooks = 0 },
}

-- The Python tool's class and module names, as aliases of the built-ins.
local aliases = {
  ["ccproxy.rules.TokenCountRule"] = "token_count",
  ["ccproxy.rules.MatchModelRule"] = "match_model",
  ["ccproxy.rules.ThinkingRule"] = "thinking",
  ["ccproxy.rules.MatchToolRule"] = "match_tool",
  ["ccproxy.rules.WebSearchRule"] = "web_search",
}

local function file_exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("*a")
  f:close()
  return text
end

-- Where a module named `name` lives, for kind "rules" or "hooks"; nil and the places tried.
-- `exists(path)` says whether a module is there (default: a file is).
function M.resolve(name, kind, config_dir, builtin_dir, exists)
  local file_exists = exists or file_exists
  local base = aliases[name]
  if not base then
    base = name:match("^ccproxy%." .. kind .. "%.([%w_]+)$")
  end
  local tried = {}
  if base then
    local p = builtin_dir .. "/" .. kind .. "/" .. base .. ".lua"
    tried[#tried + 1] = p
    if file_exists(p) then return p end
    return nil, tried
  end
  if name:find("%.") then
    local p = config_dir .. "/" .. name:gsub("%.", "/") .. ".lua"
    tried[#tried + 1] = p
    if file_exists(p) then return p end
    return nil, tried
  end
  for _, dir in ipairs({ config_dir .. "/" .. kind, builtin_dir .. "/" .. kind }) do
    local p = dir .. "/" .. name .. ".lua"
    tried[#tried + 1] = p
    if file_exists(p) then return p end
  end
  return nil, tried
end

local function first_line(msg)
  return (tostring(msg):match("^[^\n]*"))
end

-- tostring for values a script made, without running its metamethods outside its budget.
local function shown(v)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" or t == "nil" then return tostring(v) end
  return "a " .. t
end

-- Lua shortens long file names in its messages to "...tail"; put the whole path back.
local function full_path(msg, path)
  local shown_name, rest = msg:match("^%.%.%.(.-)(:%d+:.*)$")
  if shown_name and path:sub(-#shown_name) == shown_name then return path .. rest end
  return msg
end

local STAGES = { "response", "event", "done", "retry" }

-- Compiles a module's text (never bytecode) in its environment, runs its top level under the
-- load budget and checks its shape. Returns the entry's functions {match | request,
-- response, event, done, params, check, examples}, read once here so that nothing the module
-- does later (metatables, changed fields) reaches trusted code.
local function load_module(path, text, fn_name, kind_word, trusted)
  local chunk, err = load(text, "@" .. path, "t", sandbox.env(trusted))
  if not chunk then
    if tostring(err):find("attempt to load a binary chunk", 1, true)
        or tostring(err):find("wrong mode", 1, true) then
      return nil, path .. ": is compiled bytecode; write the module as Lua source (ccproxy "
        .. "loads modules only as text)"
    end
    return nil, full_path(tostring(err), path)
  end
  local ok, mod, kind = core.call(LOAD_BUDGET_MS, chunk)
  if not ok and kind == "budget" then
    return nil, path .. ": its top level did not finish loading within " .. LOAD_BUDGET_MS
      .. " ms (an endless loop outside match/request?)"
  end
  if not ok then
    -- One line that names the file: this goes into the list of config errors.
    local msg = full_path(first_line(mod), path)
    if msg:sub(1, #path) ~= path then msg = path .. ": " .. msg end
    return nil, "error while loading " .. msg
  end
  local fns = {}
  if type(mod) == "table" then
    for _, k in ipairs({ fn_name, "params", "check", "examples", unpack(STAGES) }) do
      fns[k] = rawget(mod, k)
    end
  end
  local has_stage = fn_name == "request" and (type(fns.response) == "function"
    or type(fns.event) == "function" or type(fns.done) == "function"
    or type(fns.retry) == "function")
  if has_stage and fns.request == nil then
    fns.request = function() end
  end
  if type(mod) ~= "table" or type(fns[fn_name]) ~= "function" then
    return nil, string.format("%s: a %s module must return a table with a %s(req, params) "
      .. "function; it returned %s", path, kind_word, fn_name,
      type(mod) == "table" and "a table without " .. fn_name or type(mod))
  end
  for _, stage in ipairs(STAGES) do
    if type(fns[stage]) ~= "function" then fns[stage] = nil end
  end
  if type(fns.check) ~= "function" then fns.check = nil end
  return fns
end

-- Config params over the module's declared defaults, with type checks against the defaults.
-- `param_where` maps a param's name to where its value was written (file:line:col).
local function merge_params(mod, given, where, what, errors, param_where)
  local errors_before = #errors
  local params = {}
  local defaults = type(mod.params) == "table" and mod.params or {}
  for k, v in next, defaults do params[k] = v end
  for k, v in pairs(given or {}) do
    local d = rawget(defaults, k)
    if d ~= nil and type(d) ~= type(v) and v ~= core.json.null then
      errors[#errors + 1] = string.format("%s: %s param %s must be a %s (default %s), got %s",
        (param_where and param_where[k]) or where, what, tostring(k), type(d), shown(d),
        type(v))
    end
    params[k] = v
  end
  if mod.check and #errors == errors_before then
    local ok, res, msg = core.call(LOAD_BUDGET_MS, mod.check, params)
    if not ok then
      errors[#errors + 1] = string.format("%s: %s params rejected: %s", where, what, res)
    elseif res == false or (res == nil and msg) then
      errors[#errors + 1] = string.format("%s: %s params rejected: %s", where, what,
        msg == nil and "invalid" or shown(msg))
    end
  end
  return params
end

local function load_entry(entry, kind, fn_name, kind_word, spec, errors, sources)
  local given = spec.sources
  local exists = given and function(p) return given[p] ~= nil end
  local path, tried = M.resolve(entry.module, kind, spec.config_dir, spec.builtin_dir, exists)
  if not path then
    local fix
    if entry.module:find("^ccproxy%.") then
      fix = "ccproxy has no such built-in " .. kind_word .. "; the built-ins are in "
        .. spec.builtin_dir .. "/" .. kind
    else
      fix = "write a built-in name, or create " .. tried[1]
    end
    errors[#errors + 1] = string.format("%s: %s module '%s' not found (looked in %s); %s",
      entry.where, kind_word, entry.module, table.concat(tried, ", "), fix)
    return nil
  end
  local text, rerr = sources[path] or (given and given[path]) or read_file(path)
  if not text then
    errors[#errors + 1] = string.format("%s: cannot read %s '%s' (%s): %s", entry.where,
      kind_word, entry.module, path, tostring(rerr))
    return nil
  end
  sources[path] = text
  local mod, err = load_module(path, text, fn_name, kind_word, spec.trusted)
  if not mod then
    errors[#errors + 1] = string.format("%s: cannot load %s '%s': %s", entry.where, kind_word,
      entry.module, err)
    return nil
  end
  local what = kind_word .. " '" .. (entry.name or entry.module) .. "'"
  local params = merge_params(mod, entry.params, entry.where, what, errors, entry.param_where)
  return { name = entry.name, module = entry.module, path = path, mod = mod,
           params = params, where = entry.where, fail_on_error = entry.fail_on_error }
end

-- Loads every module of `spec` ({config_dir, builtin_dir, rules, hooks, budget_ms, trusted,
-- sources, ...}). With spec.sources ({path = text}), modules are found and loaded only from
-- those texts; without, from their files. budget_ms and trusted come from the configuration
-- (config.c has their defaults; a spec that leaves them out gets those, core.defaults).
-- Returns true, or false and all errors as one string.
function M.load(spec)
  local errors = {}
  local rules, hooks, sources = {}, {}, {}
  for _, e in ipairs(spec.rules or {}) do
    local r = load_entry(e, "rules", "match", "rule", spec, errors, sources)
    if r then rules[#rules + 1] = r end
  end
  for _, e in ipairs(spec.hooks or {}) do
    local h = load_entry(e, "hooks", "request", "hook", spec, errors, sources)
    if h then hooks[#hooks + 1] = h end
  end
  if #errors > 0 then return false, table.concat(errors, "\n") end
  state.rules, state.hooks, state.spec, state.sources = rules, hooks, spec, sources
  state.stage_hooks = { response = {}, event = {}, done = {}, retry = {} }
  for _, h in ipairs(hooks) do
    for stage, list in pairs(state.stage_hooks) do
      if h.mod[stage] then list[#list + 1] = h end
    end
  end
  state.budget_ms = spec.budget_ms
  if state.budget_ms == nil then state.budget_ms = core.defaults.budget_ms end
  return true
end

-- {path = text} of the modules loaded last: what the other workers of a generation load.
function M.sources()
  return state.sources
end

function M.spec()
  return state.spec
end

-- The loaded modules, in config order: rules {name, module, path, mod, params, where} and
-- hooks {module, path, mod, params, where, fail_on_error}, where `mod` holds the functions
-- read from the module at load (match or request, response, event, done, check, params,
-- examples); and the per-call budget in ms.
function M.loaded()
  return state.rules, state.hooks, state.budget_ms
end

-- What watches a request stage (explain passes one to M.run); every field is optional:
--   observer.hook(h, req)                      before hook h's request()
--   observer.hook_done(h, req, ok, err, kind)  after it (ok false: it raised)
--   observer.rule(r, req, ok, res, kind)       after each rule classify ran
--   observer.classified(req, label, rule)      when classify has its answer
--   observer.log(level, msg)                   instead of the proxy log
local observer = nil

local function report(level, msg)
  if observer and observer.log then
    observer.log(level, msg)
  else
    core.log(level, msg)
  end
end

-- One rule's match() on a read-only view of `req`, under the budget: ok, result, kind.
-- `params` (default: the rule's own) is for `ccproxy check`'s examples.
function M.match_rule(r, req, params)
  local was = core.readonly(req, true)
  local ok, res, kind = core.call(state.budget_ms, r.mod.match, req, params or r.params)
  core.readonly(req, was)
  return ok, res, kind
end

-- Rules in config order; the first that matches names the label. A rule that raises counts
-- as no match. Returns the label ("default" when none matched) and the rule's name or nil.
function M.classify(req)
  local label, rule = "default", nil
  for _, r in ipairs(state.rules) do
    local ok, res, kind = M.match_rule(r, req)
    if observer and observer.rule then observer.rule(r, req, ok, res, kind) end
    if not ok then
      state.errors.rules = state.errors.rules + 1
      core.count("rule_error")
      report("error", string.format("%s rule '%s' (%s) failed%s and counts as no match: %s",
        req.id or "-", r.name, r.path, kind == "error" and "" or " (" .. kind .. ")", res))
    elseif res then
      label, rule = r.name, r.name
      break
    end
  end
  if observer and observer.classified then observer.classified(req, label, rule) end
  return label, rule
end

-- The request stage: every hook in config order. A hook that raises is logged and skipped,
-- unless its config entry says on_error: fail; then this returns false, the hook's module
-- name and the error, and the request fails. `watch` is an observer (see above) or nil.
function M.run(req, watch)
  local budget = state.budget_ms
  local outer = observer
  observer = watch
  for _, h in ipairs(state.hooks) do
    if watch and watch.hook then watch.hook(h, req) end
    local ok, err, kind = core.call(budget, h.mod.request, req, h.params)
    if watch and watch.hook_done then watch.hook_done(h, req, ok, err, kind) end
    if not ok then
      state.errors.hooks = state.errors.hooks + 1
      core.count("hook_error")
      local why = kind == "error" and "" or " (" .. kind .. ")"
      if h.fail_on_error then
        report("error", string.format("%s hook '%s' (%s) failed%s; on_error: fail, so the "
          .. "request fails: %s", req.id or "-", h.module, h.path, why, err))
        observer = outer
        return false, h.module, first_line(err)
      end
      report("error", string.format("%s hook '%s' (%s) failed%s and was skipped: %s",
        req.id or "-", h.module, h.path, why, err))
    end
  end
  observer = outer
  return true
end

-- The response stages. A hook that raises in one of them is logged and disabled for the rest
-- of that request's stream; it never affects other requests.
local disabled = {} -- request id -> { [hook] = true }

local function run_stage(stage, req, h, ...)
  local off = disabled[req.id]
  if off and off[h] then return true end
  local ok, res, kind = core.call(state.budget_ms, h.mod[stage], ...)
  if not ok then
    state.errors.hooks = state.errors.hooks + 1
    core.count("hook_error")
    disabled[req.id] = off or {}
    disabled[req.id][h] = true
    core.log("error", string.format("%s hook '%s' (%s) failed in its %s stage%s and is off for "
      .. "the rest of this response: %s", req.id or "-", h.module, h.path, stage,
      kind == "error" and "" or " (" .. kind .. ")", res))
    return true
  end
  return true, res
end

-- Which response stages any hook takes part in.
function M.stages()
  local sh = state.stage_hooks or { response = {}, event = {}, done = {}, retry = {} }
  return #sh.response > 0, #sh.event > 0, #sh.done > 0, #sh.retry > 0
end

-- response(res, req, params): res.status and res.headers may be changed.
function M.response(req, res)
  for _, h in ipairs(state.stage_hooks.response) do
    run_stage("response", req, h, res, req, h.params)
  end
end

-- event(ev, req, params) for each server-sent event: returning nil passes it on (with any
-- changes made to ev), false drops it, a table replaces it. Returns the event or false.
function M.event(req, ev)
  for _, h in ipairs(state.stage_hooks.event) do
    local _, res = run_stage("event", req, h, ev, req, h.params)
    if res == false then return false end
    if type(res) == "table" then ev = res end
  end
  return ev
end

-- done(req, res, params): after the response ended; cannot affect the client.
function M.done(req, res)
  for _, h in ipairs(state.stage_hooks.done) do
    run_stage("done", req, h, req, res, h.params)
  end
end

-- retry(req, failure, params) before another attempt: returning false gives the client this
-- failure instead, a string names the model_list group the next attempt goes to, nil keeps
-- the plan. The first hook that returns false or a string decides.
function M.retry(req, failure)
  for _, h in ipairs(state.stage_hooks.retry) do
    local _, res = run_stage("retry", req, h, req, failure, h.params)
    if res == false or type(res) == "string" then return res end
  end
  return nil
end

-- The request is over: forget its per-request state.
function M.forget(id)
  disabled[id] = nil
end

function M.stats()
  return { rule_errors = state.errors.rules, hook_errors = state.errors.hooks,
           rules = #state.rules, hooks = #state.hooks }
end

M.first_line = first_line
return M
