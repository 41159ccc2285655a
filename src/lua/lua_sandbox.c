/* lua_sandbox.c: memory limit, time budget and global guard for script states
 * (see lua_sandbox.h). */
#include "lua/lua_sandbox.h"

#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "lua/lua_bindings.h"
#include "lua/lua_vm.h"
#include "stats.h"

#define RESERVE_BYTES (8u << 20)

typedef struct {
    size_t used;
    size_t limit;
    uint64_t deadline_ns; /* 0: no budget running */
    unsigned budget_ms;
    int expired;
} sandbox_t;

static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    sandbox_t *sb = ud;
    if (nsize == 0) {
        if (ptr) {
            sb->used -= osize;
            atomic_fetch_sub(&cc_stats.lua_bytes, (long long)osize);
        }
        free(ptr);
        return NULL;
    }
    size_t old = ptr ? osize : 0;
    /* The limit binds scripts (inside core.call); the trusted runtime around them gets a
     * reserve so it can always report a script's memory error and clean up. */
    size_t limit = sb->deadline_ns ? sb->limit : sb->limit + RESERVE_BYTES;
    if (nsize > old && sb->used - old + nsize > limit) return NULL;
    void *p = realloc(ptr, nsize);
    if (!p) return NULL;
    sb->used = sb->used - old + nsize;
    long long now = atomic_fetch_add(&cc_stats.lua_bytes, (long long)nsize - (long long)old) +
                    (long long)nsize - (long long)old;
    long long peak = atomic_load(&cc_stats.lua_peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&cc_stats.lua_peak_bytes, &peak, now)) {
    }
    return p;
}

static sandbox_t *get_sandbox(lua_State *L) {
    void *ud = NULL;
    lua_Alloc f = lua_getallocf(L, &ud);
    return f == sandbox_alloc ? ud : NULL;
}

static int panic(lua_State *L) {
    (void)L;
    abort();
}

lua_State *cc_lua_new_sandboxed_state(size_t limit) {
    sandbox_t *sb = calloc(1, sizeof *sb);
    if (!sb) return NULL;
    sb->limit = limit;
    lua_State *L = lua_newstate(sandbox_alloc, sb);
    if (!L) {
        free(sb);
        return NULL;
    }
    lua_atpanic(L, panic);
    if (cc_lua_setup_state(L) != 0) {
        cc_lua_close_sandboxed(L);
        return NULL;
    }
    /* Count hooks only run in interpreted code. After the libraries: opening `jit` turns
     * the compiler on. */
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    return L;
}

void cc_lua_close_sandboxed(lua_State *L) {
    if (!L) return;
    sandbox_t *sb = get_sandbox(L);
    lua_close(L);
    free(sb);
}

/* The count hook: past the deadline it raises, and re-arms itself to fire on every
 * instruction so that a pcall inside the script cannot catch the stop and go on. */
static void budget_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    sandbox_t *sb = get_sandbox(L);
    if (!sb || !sb->deadline_ns) return;
    if (!sb->expired && uv_hrtime() < sb->deadline_ns) return;
    if (!sb->expired) {
        sb->expired = 1;
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    }
    luaL_error(L, "script stopped: it ran longer than its budget of %u ms "
                  "(ccproxy.scripts.budget)", sb->budget_ms);
}

/* The error handler of a script call. It runs before the call returns, still under the
 * budget, so a __tostring of the script's error object runs there too; whatever comes out,
 * the caller gets a string and never calls back into the script to print it. */
static int script_traceback(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (!msg && luaL_callmeta(L, 1, "__tostring")) msg = lua_tostring(L, -1);
    if (!msg) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* core.call(budget_ms, fn, ...) */
static int l_call(lua_State *L) {
    lua_Number ms = luaL_checknumber(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    int nargs = lua_gettop(L) - 2;
    sandbox_t *sb = get_sandbox(L);
    uint64_t saved_deadline = sb ? sb->deadline_ns : 0;
    if (sb) {
        sb->budget_ms = (unsigned)ms;
        sb->deadline_ns = uv_hrtime() + (uint64_t)(ms * 1e6);
        sb->expired = 0;
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1000);
    }
    lua_pushcfunction(L, script_traceback);
    lua_insert(L, 2);                             /* ms tb fn args... */
    const int base = 3;                           /* fn, then its results */
    int rc = lua_pcall(L, nargs, LUA_MULTRET, 2);
    int expired = 0;
    if (sb) {
        /* Off before any more Lua runs here. */
        lua_sethook(L, NULL, 0, 0);
        if (rc == LUA_ERRMEM) lua_gc(L, LUA_GCCOLLECT, 0); /* the script's garbage, now */
        expired = sb->expired;
        sb->deadline_ns = saved_deadline;
        sb->expired = 0;
        if (saved_deadline) lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1000);
    }
    if (rc == 0) {
        int nres = lua_gettop(L) - base + 1;
        lua_pushboolean(L, 1);
        lua_insert(L, base);
        return nres + 1;
    }
    const char *kind = expired ? "budget" : rc == LUA_ERRMEM ? "memory" : "error";
    if (expired) atomic_fetch_add(&cc_stats.budget_exceeded, 1);
    if (rc == LUA_ERRMEM) atomic_fetch_add(&cc_stats.memory_errors, 1);
    lua_pushboolean(L, 0);                        /* ... err false */
    lua_insert(L, -2);                            /* ... false err */
    if (rc == LUA_ERRMEM || !lua_isstring(L, -1)) { /* no message, or none could be made */
        lua_pop(L, 1);
        lua_pushstring(L, rc == LUA_ERRMEM ? "script stopped: it needed more memory than "
                                             "ccproxy.scripts.memory allows"
                                           : "script failed (its error could not be shown)");
    }
    lua_pushstring(L, kind);
    return 3;
}

static int l_count(lua_State *L) {
    const char *what = luaL_checkstring(L, 1);
    if (strcmp(what, "rule_error") == 0) atomic_fetch_add(&cc_stats.rule_errors, 1);
    else if (strcmp(what, "hook_error") == 0) atomic_fetch_add(&cc_stats.hook_errors, 1);
    return 0;
}

void cc_lua_sandbox_register(lua_State *L) {
    lua_pushcfunction(L, l_call);
    lua_setfield(L, -2, "call");
    lua_pushcfunction(L, l_count);
    lua_setfield(L, -2, "count");
}

static int global_assign(lua_State *L) {
    const char *k = lua_tostring(L, 2);
    return luaL_error(L, "assignment to global '%s': scripts may not set globals (they would "
                         "leak between requests); use a local, or req.ctx for per-request data",
                      k ? k : "?");
}

void cc_lua_guard_globals(lua_State *L) {
    lua_pushvalue(L, LUA_GLOBALSINDEX);           /* _G */
    lua_newtable(L);                              /* _G mt */
    lua_pushcfunction(L, global_assign);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);                      /* _G */
    lua_pop(L, 1);
}
