/* lua_sandbox.h: what keeps user scripts from costing the proxy: a memory limit per Lua state
 * (a counting allocator), a time budget per script call (a count hook that re-arms itself, so a
 * script's own pcall cannot swallow the stop; the JIT is off in these states because compiled
 * code never runs count hooks), and a guard that refuses assignments to globals. */
#ifndef CC_LUA_SANDBOX_H
#define CC_LUA_SANDBOX_H

#include <lua.h>
#include <stddef.h>

/** A state whose allocations are limited to `limit` bytes (counted in cc_stats), with the JIT
 *  off, the standard libraries, the ccproxy module path and bindings (like cc_lua_new_state).
 *  NULL on failure. */
lua_State *cc_lua_new_sandboxed_state(size_t limit);
/** Closes a state made by cc_lua_new_sandboxed_state. */
void cc_lua_close_sandboxed(lua_State *L);
/** Makes assignments to undeclared globals raise (call after the trusted runtime loaded). */
void cc_lua_guard_globals(lua_State *L);
/** Registers core.call(budget_ms, fn, ...) in the table on top of the stack: runs fn(...)
 *  under the time budget; returns true and fn's results, or false, the message (with a
 *  traceback) and the kind: "error", "budget" or "memory". */
void cc_lua_sandbox_register(lua_State *L);

#endif
