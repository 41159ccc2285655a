/* lua_json.c: converting between JSON (cJSON) and Lua values (see lua_json.h). */
#include "lua/lua_json.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Registry keys: their addresses are unique. */
static char null_key, array_mt_key, object_mt_key;
#define NULL_SENTINEL ((void *)&null_key)

static void push_mt(lua_State *L, void *key, const char *name) {
    lua_pushlightuserdata(L, key);
    lua_rawget(L, LUA_REGISTRYINDEX);             /* mt|nil */
    if (!lua_isnil(L, -1)) return;
    lua_pop(L, 1);
    lua_newtable(L);                              /* mt */
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    /* getmetatable(v) answers the name: a script cannot change the marker every decoded
     * value shares (nor hang trusted code that reads a missing key). */
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__metatable");
    lua_pushlightuserdata(L, key);
    lua_pushvalue(L, -2);                         /* mt key mt */
    lua_rawset(L, LUA_REGISTRYINDEX);             /* mt */
}

void cc_lua_push_json(lua_State *L, const cJSON *item) {
    luaL_checkstack(L, 4, "JSON nesting too deep");
    if (cJSON_IsNull(item) || !item) {
        lua_pushlightuserdata(L, NULL_SENTINEL);
    } else if (cJSON_IsFalse(item)) {
        lua_pushboolean(L, 0);
    } else if (cJSON_IsTrue(item)) {
        lua_pushboolean(L, 1);
    } else if (cJSON_IsNumber(item)) {
        lua_pushnumber(L, item->valuedouble);
    } else if (cJSON_IsString(item)) {
        lua_pushstring(L, item->valuestring);
    } else if (cJSON_IsArray(item)) {
        lua_createtable(L, cJSON_GetArraySize(item), 0);
        int i = 1;
        for (const cJSON *c = item->child; c; c = c->next) {
            cc_lua_push_json(L, c);
            lua_rawseti(L, -2, i++);
        }
        push_mt(L, &array_mt_key, "json.array");
        lua_setmetatable(L, -2);
    } else {
        lua_createtable(L, 0, cJSON_GetArraySize(item));
        for (const cJSON *c = item->child; c; c = c->next) {
            lua_pushstring(L, c->string);
            cc_lua_push_json(L, c);
            lua_rawset(L, -3);
        }
        push_mt(L, &object_mt_key, "json.object");
        lua_setmetatable(L, -2);
    }
}

int cc_lua_push_json_text(lua_State *L, const char *text, size_t len) {
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j) {
        lua_pushnil(L);
        return -1;
    }
    cc_lua_push_json(L, j);
    cJSON_Delete(j);
    return 0;
}

/* 1 array, 2 object, by marker or by shape. */
static int table_kind(lua_State *L, int idx, size_t *n_out) {
    if (lua_getmetatable(L, idx)) {
        push_mt(L, &array_mt_key, "json.array");
        int is_arr = lua_rawequal(L, -1, -2);
        lua_pop(L, 1);
        push_mt(L, &object_mt_key, "json.object");
        int is_obj = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (is_arr) {
            *n_out = lua_objlen(L, idx);
            return 1;
        }
        if (is_obj) return 2;
    }
    size_t n = lua_objlen(L, idx), count = 0;
    bool only_ints = true;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        if (lua_type(L, -2) != LUA_TNUMBER) only_ints = false;
        lua_pop(L, 1);
    }
    *n_out = n;
    return (only_ints && count == n && n > 0) ? 1 : 2;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int encode(lua_State *L, int idx, const cJSON *order, cc_buf_t *out, cc_buf_t *err,
                  int depth) {
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    if (depth > 512) {
        cc_buf_puts(err, "value nested too deeply (or contains a cycle)");
        return -1;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL: cc_buf_puts(out, "null"); return 0;
    case LUA_TBOOLEAN: cc_buf_puts(out, lua_toboolean(L, idx) ? "true" : "false"); return 0;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL_SENTINEL) {
            cc_buf_puts(out, "null");
            return 0;
        }
        break;
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d)) {
            cc_buf_puts(err, "cannot encode NaN or infinity as JSON");
            return -1;
        }
        if (d == floor(d) && fabs(d) < 1e15) {
            cc_buf_printf(out, "%lld", (long long)d);
            return 0;
        }
        /* The shortest form that reads back as the same number: 0.1, not 0.10000000000000001. */
        char num[32];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(num, sizeof num, "%.*g", prec, d);
            if (strtod(num, NULL) == d) break;
        }
        cc_buf_puts(out, num);
        return 0;
    }
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        cc_buf_puts(out, "\"");
        cc_buf_json_escape(out, s, n);
        cc_buf_puts(out, "\"");
        return 0;
    }
    case LUA_TTABLE: {
        luaL_checkstack(L, 6, "JSON nesting too deep");
        size_t n = 0;
        if (table_kind(L, idx, &n) == 1) {
            const cJSON *oc = cJSON_IsArray(order) ? order->child : NULL;
            cc_buf_puts(out, "[");
            for (size_t i = 1; i <= n; i++) {
                if (i > 1) cc_buf_puts(out, ",");
                lua_rawgeti(L, idx, (int)i);
                int rc = encode(L, -1, oc, out, err, depth + 1);
                lua_pop(L, 1);
                if (rc < 0) return -1;
                if (oc) oc = oc->next;
            }
            cc_buf_puts(out, "]");
            return 0;
        }
        /* Object: keys of `order` first, in its order; then the others, sorted. */
        size_t cap = 16, cnt = 0;
        char **keys = malloc(cap * sizeof *keys);
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING) {
                const char *tn = luaL_typename(L, -1);
                lua_pop(L, 1);
                for (size_t i = 0; i < cnt; i++) free(keys[i]);
                free(keys);
                cc_buf_printf(err, "cannot encode a table with a %s key as a JSON object", tn);
                return -1;
            }
            if (cnt == cap) keys = realloc(keys, (cap *= 2) * sizeof *keys);
            keys[cnt++] = strdup(lua_tostring(L, -1));
        }
        qsort(keys, cnt, sizeof *keys, cmp_str);
        cc_buf_puts(out, "{");
        bool first = true;
        int rc = 0;
        char *used = calloc(cnt ? cnt : 1, 1);
        const cJSON *oobj = cJSON_IsObject(order) ? order : NULL;
        for (const cJSON *oc = oobj ? oobj->child : NULL; oc && rc == 0; oc = oc->next) {
            char **hit = bsearch(&oc->string, keys, cnt, sizeof *keys, cmp_str);
            if (!hit || used[hit - keys]) continue;
            used[hit - keys] = 1;
            if (!first) cc_buf_puts(out, ",");
            first = false;
            cc_buf_puts(out, "\"");
            cc_buf_json_escape(out, *hit, strlen(*hit));
            cc_buf_puts(out, "\":");
            lua_pushstring(L, *hit);
            lua_rawget(L, idx);
            rc = encode(L, -1, oc, out, err, depth + 1);
            lua_pop(L, 1);
        }
        for (size_t i = 0; i < cnt && rc == 0; i++) {
            if (used[i]) continue;
            if (!first) cc_buf_puts(out, ",");
            first = false;
            cc_buf_puts(out, "\"");
            cc_buf_json_escape(out, keys[i], strlen(keys[i]));
            cc_buf_puts(out, "\":");
            lua_pushstring(L, keys[i]);
            lua_rawget(L, idx);
            rc = encode(L, -1, NULL, out, err, depth + 1);
            lua_pop(L, 1);
        }
        for (size_t i = 0; i < cnt; i++) free(keys[i]);
        free(keys);
        free(used);
        if (rc < 0) return -1;
        cc_buf_puts(out, "}");
        return 0;
    }
    default: break;
    }
    cc_buf_printf(err, "cannot encode a %s value as JSON", luaL_typename(L, idx));
    return -1;
}

int cc_lua_to_json(lua_State *L, int idx, const cJSON *order, cc_buf_t *out, cc_buf_t *err) {
    return encode(L, idx, order, out, err, 0);
}

bool cc_lua_json_equal(lua_State *L, int idx, const cJSON *item) {
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    int t = lua_type(L, idx);
    if (cJSON_IsNull(item))
        return t == LUA_TNIL || (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL_SENTINEL);
    if (cJSON_IsBool(item))
        return t == LUA_TBOOLEAN && (lua_toboolean(L, idx) != 0) == (cJSON_IsTrue(item) != 0);
    if (cJSON_IsNumber(item)) return t == LUA_TNUMBER && lua_tonumber(L, idx) == item->valuedouble;
    if (cJSON_IsString(item)) {
        if (t != LUA_TSTRING) return false;
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return strlen(item->valuestring) == n && memcmp(s, item->valuestring, n) == 0;
    }
    if (t != LUA_TTABLE) return false;
    luaL_checkstack(L, 4, "JSON nesting too deep");
    size_t n = 0;
    int kind = table_kind(L, idx, &n);
    if (cJSON_IsArray(item)) {
        /* [] is equal only to a table marked as an array: an unmarked empty table encodes
         * as {}. */
        size_t size = (size_t)cJSON_GetArraySize(item);
        if (size == 0) return kind == 1 && n == 0;
        if (kind != 1 || n != size) return false;
        size_t i = 1;
        for (const cJSON *c = item->child; c; c = c->next, i++) {
            lua_rawgeti(L, idx, (int)i);
            bool eq = cc_lua_json_equal(L, -1, c);
            lua_pop(L, 1);
            if (!eq) return false;
        }
        return true;
    }
    if (kind != 2) return false;
    size_t count = 0;
    for (const cJSON *c = item->child; c; c = c->next) {
        lua_pushstring(L, c->string);
        lua_rawget(L, idx);
        bool eq = !lua_isnil(L, -1) && cc_lua_json_equal(L, -1, c);
        lua_pop(L, 1);
        if (!eq) return false;
        count++;
    }
    size_t lua_count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_count++;
        lua_pop(L, 1);
    }
    return lua_count == count;
}

static int l_encode(lua_State *L) {
    cc_buf_t out = CC_BUF_INIT, err = CC_BUF_INIT;
    lua_settop(L, 1);
    if (encode(L, 1, NULL, &out, &err, 0) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err.data ? err.data : "cannot encode");
        cc_buf_free(&out);
        cc_buf_free(&err);
        return 2;
    }
    lua_pushlstring(L, out.data ? out.data : "", out.len);
    cc_buf_free(&out);
    cc_buf_free(&err);
    return 1;
}

static int l_decode(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (cc_lua_push_json_text(L, s, n) < 0) {
        lua_pushstring(L, "invalid JSON");
        return 2;
    }
    return 1;
}

static int l_mark(lua_State *L, void *key, const char *name) {
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    push_mt(L, key, name);
    lua_setmetatable(L, 1);
    return 1;
}

static int l_array(lua_State *L) {
    return l_mark(L, &array_mt_key, "json.array");
}

static int l_object(lua_State *L) {
    return l_mark(L, &object_mt_key, "json.object");
}

void cc_lua_json_register(lua_State *L) {
    lua_pushlightuserdata(L, NULL_SENTINEL);
    lua_setfield(L, -2, "null");
    lua_pushcfunction(L, l_encode);
    lua_setfield(L, -2, "encode");
    lua_pushcfunction(L, l_decode);
    lua_setfield(L, -2, "decode");
    lua_pushcfunction(L, l_array);
    lua_setfield(L, -2, "array");
    lua_pushcfunction(L, l_object);
    lua_setfield(L, -2, "object");
}
