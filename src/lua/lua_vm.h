/* lua_vm.h: LuaJIT states. Creates a state with ccproxy's Lua runtime on the module path
 * (the data dir's lua/ before the system's), the C bindings registered as `ccproxy.core`,
 * and one protected-call helper that every call into Lua goes through (adds a traceback). */
#ifndef CC_LUA_VM_H
#define CC_LUA_VM_H

#include <lua.h>

#include "buf.h"

/** A new state with the standard libraries and the ccproxy module path. NULL on ENOMEM. */
lua_State *cc_lua_new_state(void);

/** Opens the libraries, sets the module path and registers the bindings on a new state. */
int cc_lua_setup_state(lua_State *L);

/** Calls the function below `nargs` arguments on the stack like lua_pcall, adding a
 *  traceback to the error. On error the message (with traceback) is left on the stack and
 *  also copied to `err` when non-NULL. Returns 0 or the lua_pcall error code. */
int cc_lua_pcall(lua_State *L, int nargs, int nresults, cc_buf_t *err);

/** Calls require(module)[fn](arg) with `arg` the value on top of the stack (popped), and
 *  returns the integer it answers in *result. Returns 0, or the error code with the message
 *  (and traceback) in `err`. The stack is left as it was below `arg`. */
int cc_lua_call_module(lua_State *L, const char *module, const char *fn, int *result,
                       cc_buf_t *err);

#endif
