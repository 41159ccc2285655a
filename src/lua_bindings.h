/* lua_bindings.h: the C functions scripts and the Lua runtime reach through
 * `require "ccproxy.core"` (JSON, token counting, the request view, logging). */
#ifndef CC_LUA_BINDINGS_H
#define CC_LUA_BINDINGS_H

#include <lua.h>

/** Registers `ccproxy.core` in package.preload. */
void cc_lua_register_bindings(lua_State *L);

#endif
