/* lua_bindings.c: the `ccproxy.core` module table: collects the functions of lua_json.c,
 * lua_req.c and friends under one name (see lua_bindings.h). */
#include "lua/lua_bindings.h"

#include <lauxlib.h>

#include "config/config.h"
#include "log.h"
#include "lua/lua_json.h"
#include "lua/lua_req.h"
#include "lua/lua_sandbox.h"

static int l_log(lua_State *L) {
    const char *level = luaL_checkstring(L, 1);
    const char *msg = luaL_checkstring(L, 2);
    cc_log_level_t lv = CC_LOG_INFO;
    if (level[0] == 'd') lv = CC_LOG_DEBUG;
    else if (level[0] == 'w') lv = CC_LOG_WARN;
    else if (level[0] == 'e') lv = CC_LOG_ERROR;
    cc_log(lv, "%s", msg);
    return 0;
}

static int open_core(lua_State *L) {
    lua_newtable(L);                              /* core */
    lua_pushcfunction(L, l_log);
    lua_setfield(L, -2, "log");
    lua_pushstring(L, CCPROXY_VERSION);
    lua_setfield(L, -2, "version");
    /* config.c's defaults, for Lua that loads modules without a configuration (specs). */
    cc_limits_t l;
    cc_config_default_limits(&l);
    lua_createtable(L, 0, 3);                     /* core defaults */
    lua_pushnumber(L, l.script_budget_ms);
    lua_setfield(L, -2, "budget_ms");
    lua_pushnumber(L, (lua_Number)l.script_memory_bytes);
    lua_setfield(L, -2, "memory_bytes");
    lua_pushboolean(L, l.script_trusted);
    lua_setfield(L, -2, "trusted");
    lua_setfield(L, -2, "defaults");              /* core */
    lua_newtable(L);                              /* core json */
    cc_lua_json_register(L);
    lua_setfield(L, -2, "json");                  /* core */
    cc_lua_req_register(L);
    cc_lua_sandbox_register(L);
    return 1;
}

void cc_lua_register_bindings(lua_State *L) {
    lua_getglobal(L, "package");                  /* package */
    lua_getfield(L, -1, "preload");               /* package preload */
    lua_pushcfunction(L, open_core);
    lua_setfield(L, -2, "ccproxy.core");
    lua_pop(L, 2);                                /* */
}
