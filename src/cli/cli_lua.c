/* lua_cli.c: `ccproxy lua FILE [ARGS...]`, a Lua script run inside ccproxy's own LuaJIT with the
 * ccproxy runtime and C bindings, as `nvim -l` does; the busted specs run this way. */
#include <lauxlib.h>
#include <stdio.h>

#include "cli/cli.h"
#include "lua/lua_bindings.h"
#include "lua/lua_vm.h"

int cc_cmd_lua(const char *config_dir, int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: ccproxy lua FILE [ARGS...]\n");
        return 2;
    }
    lua_State *L = cc_lua_new_state();
    if (!L) {
        fprintf(stderr, "ccproxy lua: out of memory\n");
        return 1;
    }
    cc_lua_register_spec_helpers(L); /* this is the spec runner: specs fill the token store */
    /* arg[0] = FILE, arg[1..] = ARGS, as the standalone interpreter sets it. */
    lua_newtable(L);                              /* arg */
    for (int i = 1; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - 1);
    }
    lua_setglobal(L, "arg");                      /* */
    if (config_dir) {
        lua_pushstring(L, config_dir);
        lua_setglobal(L, "CCPROXY_CONFIG_DIR");
    }
    int rc = luaL_loadfile(L, argv[1]);
    if (rc == 0) {
        for (int i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
        rc = cc_lua_pcall(L, argc - 2, 0, NULL);
    }
    if (rc != 0) {
        if (lua_isstring(L, -1)) fprintf(stderr, "ccproxy lua: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    lua_close(L);
    return 0;
}
