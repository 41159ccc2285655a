/* lua_vm.c: creating LuaJIT states and calling into them safely (see lua_vm.h). */
#include "lua/lua_vm.h"

#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "lua/lua_bindings.h"
#include "paths.h"

/* Puts <datadir>/lua first on package.path so `require "ccproxy.x"` finds the runtime. */
static void set_module_path(lua_State *L) {
    const char *dir = cc_paths_datadir();
    lua_getglobal(L, "package");                  /* package */
    lua_getfield(L, -1, "path");                  /* package path */
    const char *old = lua_tostring(L, -1);
    lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s", dir, dir, old ? old : "");
    lua_setfield(L, -3, "path");                  /* package path */
    lua_pop(L, 2);                                /* */
}

int cc_lua_setup_state(lua_State *L) {
    luaL_openlibs(L);
    set_module_path(L);
    cc_lua_register_bindings(L);
    return 0;
}

lua_State *cc_lua_new_state(void) {
    lua_State *L = luaL_newstate();
    if (!L) return NULL;
    cc_lua_setup_state(L);
    return L;
}

static int traceback(lua_State *L) {
    if (lua_isnoneornil(L, 1)) return 1; /* error() without a message: a plain failure exit */
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int cc_lua_pcall(lua_State *L, int nargs, int nresults, cc_buf_t *err) {
    int base = lua_gettop(L) - nargs;             /* index of the function */
    lua_pushcfunction(L, traceback);
    lua_insert(L, base);                          /* traceback fn args... */
    int rc = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    if (rc != 0 && err) {
        size_t n = 0;
        const char *m = lua_tolstring(L, -1, &n);
        if (m) cc_buf_append(err, m, n);
    }
    return rc;
}

int cc_lua_call_module(lua_State *L, const char *module, const char *fn, int *result,
                       cc_buf_t *err) {
    int top = lua_gettop(L) - 1;                  /* below arg */
    lua_getglobal(L, "require");                  /* arg require */
    lua_pushstring(L, module);
    int rc = cc_lua_pcall(L, 1, 1, err);          /* arg mod */
    if (rc == 0) {
        lua_getfield(L, -1, fn);                  /* arg mod f */
        lua_pushvalue(L, top + 1);                /* arg mod f arg */
        rc = cc_lua_pcall(L, 1, 1, err);          /* arg mod res */
        if (rc == 0) *result = (int)lua_tointeger(L, -1);
    }
    lua_settop(L, top);
    return rc;
}
