-- ccproxy.sandbox: the environment rule and hook modules run in. Trusted code (runtime.lua
-- loads every module through M.env).
--
-- By default a module gets an allowlist, built fresh for each module: the base functions that
-- cannot reach outside the module (pairs, ipairs, next, type, tostring, tonumber, select,
-- error, assert, pcall, xpcall, unpack, setmetatable, getmetatable, rawequal, rawget, rawset,
-- coroutine), copies of string, table, math and bit, os.time/clock/date/difftime, and a
-- `require` that answers only the ccproxy modules written for scripts, as read-only views.
-- Left out: debug (it can remove the time budget), jit (compiled code never checks it), ffi,
-- io, package, os.execute and the rest of os, load/loadstring/dofile/loadfile, setfenv/getfenv,
-- collectgarbage, print, module, newproxy. Reading one of those names raises an error that says
-- so and how to opt in: with ccproxy.scripts.trusted, modules get the full LuaJIT globals
-- instead (M.env returns nil), and nothing below applies.
local M = {}

-- The marker on the metatables of everything this file locks (getmetatable answers it, and
-- setmetatable refuses to replace such a metatable).
local LOCKED = "ccproxy: read-only"

local HOW = "rules and hooks run in a restricted environment (docs/lua-api.md, \"What scripts "
  .. "can reach\"); set ccproxy.scripts.trusted: true in ccproxy.yaml to give them the full "
  .. "LuaJIT libraries"

local function refuse(what)
  error(what .. " is not available to rules and hooks: " .. HOW, 3)
end

-- What a module may require: the modules written for scripts. ccproxy.core, the runtime and
-- the commands' modules stay out of reach.
M.REQUIRABLE = { ["ccproxy"] = true, ["ccproxy.claude"] = true, ["ccproxy.redact"] = true }

local BASE = { "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal",
  "rawget", "select", "setmetatable", "tonumber", "tostring", "type", "unpack", "xpcall",
  "_VERSION" }
local REMOVED = { "debug", "jit", "ffi", "io", "package", "load", "loadstring", "dofile",
  "loadfile", "setfenv", "getfenv", "collectgarbage", "print", "module", "newproxy", "gcinfo",
  "bit32" }
local OS_KEPT = { "time", "clock", "date", "difftime" }
local OS_REMOVED = { "execute", "exit", "remove", "rename", "tmpname", "getenv", "setlocale" }

local removed_global = {}
for _, k in ipairs(REMOVED) do removed_global[k] = true end

-- A read-only view of `t`: reads go through (tables as read-only views too), writes raise.
local views = setmetatable({}, { __mode = "k" })
local function readonly(t, name)
  local v = views[t]
  if v then return v end
  v = setmetatable({}, {
    __index = function(_, k)
      local x = t[k]
      if type(x) == "table" then return readonly(x, name .. "." .. tostring(k)) end
      return x
    end,
    __newindex = function(_, k)
      error(string.format("%s is read-only (setting %s): keep your own data in locals or "
        .. "req.ctx", name, tostring(k)), 2)
    end,
    __metatable = LOCKED,
  })
  views[t] = v
  return v
end
M.readonly = readonly

-- A copy of library `lib` without the names in `drop` (reading one of those raises).
local function library(lib, name, keep, drop)
  local c = {}
  if keep then
    for _, k in ipairs(keep) do c[k] = lib[k] end
  else
    for k, v in pairs(lib) do c[k] = v end
  end
  local dropped = {}
  for _, k in ipairs(drop or {}) do
    c[k] = nil
    dropped[k] = true
  end
  return setmetatable(c, {
    __index = function(_, k)
      if dropped[k] then refuse(name .. "." .. tostring(k)) end
    end,
    __metatable = LOCKED,
  })
end

local real_getmetatable, real_rawset = getmetatable, rawset

-- A fresh environment for one module; nil when scripts are trusted (the full globals).
function M.env(trusted)
  if trusted then return nil end
  local env = {}
  for _, k in ipairs(BASE) do env[k] = _G[k] end
  if _G.rawlen then env.rawlen = _G.rawlen end
  env.string = library(string, "string", nil, { "dump" })
  env.table = library(table, "table")
  env.math = library(math, "math")
  env.bit = library(bit, "bit")
  env.coroutine = library(coroutine, "coroutine")
  env.os = library(os, "os", OS_KEPT, OS_REMOVED)
  -- The string metatable is shared by every string of the state (trusted code included).
  env.getmetatable = function(v)
    if type(v) == "string" then return nil end
    return real_getmetatable(v)
  end
  env.rawset = function(t, k, v)
    if real_getmetatable(t) == LOCKED then
      error("rawset on a read-only table (the module's globals, a library or a ccproxy "
        .. "module): " .. HOW, 2)
    end
    return real_rawset(t, k, v)
  end
  env.require = function(name)
    if not M.REQUIRABLE[name] then
      error(string.format("require('%s'): rules and hooks may require only %s; %s",
        tostring(name), "ccproxy, ccproxy.claude and ccproxy.redact", HOW), 2)
    end
    return readonly(require(name), name)
  end
  env._G = env
  return setmetatable(env, {
    __index = function(_, k)
      if removed_global[k] then refuse(tostring(k)) end
    end,
    __newindex = function(_, k)
      error(string.format("assignment to global '%s': scripts may not set globals (they "
        .. "would leak between requests); use a local, or req.ctx for per-request data",
        tostring(k)), 2)
    end,
    __metatable = LOCKED,
  })
end

return M
