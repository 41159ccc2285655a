/* lua_bindings.h: the C functions scripts and the Lua runtime reach through
 * `require "ccproxy.core"` (JSON, token counting, the request view, logging). */
#ifndef CC_LUA_BINDINGS_H
#define CC_LUA_BINDINGS_H

#include <lua.h>

/** Registers `ccproxy.core` in package.preload. */
void cc_lua_register_bindings(lua_State *L);
/** Adds the functions only specs may call to `ccproxy.core` (core.oat_set, core.oat_clear:
 *  they rewrite the process's token store). Only `ccproxy lua` calls this; server, check and
 *  explain states never have them. Defined in lua_req_spec.c. */
void cc_lua_register_spec_helpers(lua_State *L);

#endif
