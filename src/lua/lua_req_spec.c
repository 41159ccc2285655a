/* lua_req_spec.c: core.request{...} and core.finish(req), which build and end real requests
 * exactly as the server does (the same cc_request_t, cc_preq_t and view), so specs of rules
 * and hooks, `ccproxy check` and `ccproxy explain` exercise the real C request view; and
 * core.oat_set / core.oat_clear, which fill the process's OAuth token store for specs: those
 * two exist only in `ccproxy lua` states (cc_lua_register_spec_helpers), never in a server's.
 * A request built with `oauth_tokens` answers req:oauth_token from them instead of the store
 * (explain's stand-ins), and notes each call. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "lua/lua_json.h"
#include "lua/lua_req.h"
#include "lua/lua_bindings.h"
#include "lua/lua_req_internal.h"
#include "attempt.h"
#include "routing/router.h"
#include "buf.h"
#include "oauth.h"

static void push_opt_string(lua_State *L, const char *s) {
    if (s)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
}

/* What ccproxy.core.request() builds: a client request and its preq, kept alive by the view
 * (through its environment table) and freed when both are collected. */
typedef struct {
    cc_request_t client;
    cc_preq_t r;
    cc_config_t *cfg;
    int finished;
} test_req_t;

#define TEST_MT "ccproxy.test_request"

static int test_gc(lua_State *L) {
    test_req_t *t = luaL_checkudata(L, 1, TEST_MT);
    if (!t->finished) cc_lua_req_release(L, &t->r);
    cc_preq_free(&t->r);
    free(t->client.method);
    free(t->client.target);
    free(t->client.path);
    free(t->client.query);
    cc_headers_free(&t->client.headers);
    cc_buf_free(&t->client.body);
    cc_config_free(t->cfg);
    return 0;
}

static void add_headers_from(lua_State *L, int idx, cc_headers_t *h) {
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TNUMBER && lua_istable(L, -1)) {
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            size_t nl, vl;
            const char *n = luaL_checklstring(L, -2, &nl);
            const char *v = luaL_checklstring(L, -1, &vl);
            cc_headers_add(h, n, nl, v, vl);
            lua_pop(L, 2);
        } else if (lua_type(L, -2) == LUA_TSTRING) {
            size_t nl, vl;
            const char *n = lua_tolstring(L, -2, &nl);
            const char *v = luaL_checklstring(L, -1, &vl);
            cc_headers_add(h, n, nl, v, vl);
        }
        lua_pop(L, 1);
    }
}

/* ccproxy.core.request{method=, path=, query=, headers=, body=, config_dir=}:
 * a real request view, built exactly as the server builds one. Raises on bad input. */
static int l_request(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    test_req_t *t = lua_newuserdata(L, sizeof *t);  /* opts t */
    memset(t, 0, sizeof *t);
    t->finished = 1;
    luaL_getmetatable(L, TEST_MT);
    lua_setmetatable(L, -2);
    int tidx = lua_gettop(L);
    lua_getfield(L, 1, "method");
    t->client.method = strdup(luaL_optstring(L, -1, "POST"));
    lua_getfield(L, 1, "path");
    t->client.path = strdup(luaL_optstring(L, -1, "/v1/messages"));
    lua_getfield(L, 1, "query");
    if (lua_isstring(L, -1)) t->client.query = strdup(lua_tostring(L, -1));
    lua_pop(L, 3);
    cc_buf_t target = CC_BUF_INIT;
    cc_buf_printf(&target, "%s%s%s", t->client.path, t->client.query ? "?" : "",
                  t->client.query ? t->client.query : "");
    t->client.target = cc_buf_steal(&target, NULL);
    t->client.http_major = t->client.http_minor = 1;
    t->client.keep_alive = true;
    lua_getfield(L, 1, "headers");
    if (lua_istable(L, -1)) add_headers_from(L, lua_gettop(L), &t->client.headers);
    lua_pop(L, 1);
    lua_getfield(L, 1, "body");
    if (lua_istable(L, -1)) {
        cc_buf_t err = CC_BUF_INIT;
        if (cc_lua_to_json(L, -1, NULL, &t->client.body, &err) < 0) {
            lua_pushfstring(L, "request body: %s", err.data ? err.data : "?");
            cc_buf_free(&err);
            return lua_error(L);
        }
        cc_buf_free(&err);
    } else {
        size_t n;
        const char *b = luaL_optlstring(L, -1, "{}", &n);
        cc_buf_append(&t->client.body, b, n);
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "config_dir");
    const char *dir = lua_tostring(L, -1);
    cc_buf_t errs = CC_BUF_INIT;
    if (dir) {
        t->cfg = cc_config_load(dir, &errs, NULL);
        if (!t->cfg) {
            lua_pushfstring(L, "config %s: %s", dir, errs.data ? errs.data : "?");
            cc_buf_free(&errs);
            return lua_error(L);
        }
    } else {
        t->cfg = calloc(1, sizeof *t->cfg);
        if (!t->cfg) return luaL_error(L, "out of memory");
        t->cfg->default_model_passthrough = true;
        cc_config_default_limits(&t->cfg->limits);
    }
    lua_pop(L, 1);
    cc_buf_reset(&errs);
    if (cc_preq_init(&t->r, &t->client, t->cfg, "spec", &errs) < 0) {
        lua_pushstring(L, errs.data ? errs.data : "bad request");
        cc_buf_free(&errs);
        return lua_error(L);
    }
    cc_buf_free(&errs);
    t->finished = 0;
    cc_lua_req_push(L, &t->r);                    /* opts t view */
    lua_createtable(L, 0, 3);                     /* opts t view env */
    lua_pushvalue(L, tidx);
    lua_setfield(L, -2, "owner");
    lua_getfield(L, 1, "oauth_tokens");           /* opts t view env tokens|nil */
    if (lua_istable(L, -1)) {
        lua_setfield(L, -2, "oauth_tokens");      /* opts t view env */
        lua_newtable(L);
        lua_setfield(L, -2, "oauth_calls");
    } else {
        lua_pop(L, 1);
    }
    lua_setfenv(L, -2);                           /* opts t view */
    return 1;
}

/* upstream_url, upstream_host (the Host field) and upstream_body of the attempt, as the
 * upstream exchange writes them (upstream.c): the default port is left out, IPv6 in brackets. */
static void push_wire(lua_State *L, const cc_attempt_t *a) {
    cc_attempt_wire_t w;
    cc_attempt_wire(a, &w);
    bool default_port = w.port == (w.tls ? 443 : 80);
    bool v6 = strchr(w.host, ':') != NULL;
    cc_buf_t host = CC_BUF_INIT, url = CC_BUF_INIT;
    cc_buf_printf(&host, v6 ? "[%s]" : "%s", w.host);
    if (!default_port) cc_buf_printf(&host, ":%d", w.port);
    cc_buf_printf(&url, "%s://%s%s", w.tls ? "https" : "http", host.data, w.target);
    lua_pushlstring(L, url.data, url.len);        /* result url */
    lua_setfield(L, -2, "upstream_url");
    lua_pushlstring(L, host.data, host.len);      /* result host */
    lua_setfield(L, -2, "upstream_host");
    lua_pushlstring(L, w.body ? w.body : "", w.body_len);
    lua_setfield(L, -2, "upstream_body");
    cc_buf_free(&host);
    cc_buf_free(&url);
}

/* upstream_plan: the groups the attempts would go through, each {group=, tries=, strategy=,
 * members={{model_name, model, api_base, order, weight, rpm, tpm, max_parallel}, ...}}
 * (router.h), as `ccproxy explain` shows them (0: not set). */
static void push_plan(lua_State *L, const cc_preq_t *r) {
    cc_router_t *rt = cc_router_new(r->cfg);
    cc_route_plan_t plan;
    if (!rt || cc_router_plan(rt, r->deployment, r->route_via, &plan) < 0) {
        cc_router_free(rt);
        return;
    }
    lua_createtable(L, (int)plan.n_groups, 0);               /* result plan */
    for (size_t g = 0; g < plan.n_groups; g++) {
        int members[64];
        size_t n = cc_router_members(rt, plan.groups[g], members, 64);
        lua_createtable(L, 0, 3);                            /* result plan group */
        lua_pushstring(L, r->cfg->models[plan.groups[g]].model_name);
        lua_setfield(L, -2, "group");
        lua_pushinteger(L, 1 + r->cfg->router.num_retries);
        lua_setfield(L, -2, "tries");
        lua_pushstring(L, cc_strategy_name(r->cfg->router.strategy));
        lua_setfield(L, -2, "strategy");
        lua_createtable(L, (int)n, 0);                       /* result plan group members */
        for (size_t i = 0; i < n && i < 64; i++) {
            const cc_model_t *m = &r->cfg->models[members[i]];
            lua_createtable(L, 0, 4);
            lua_pushstring(L, m->model_name);
            lua_setfield(L, -2, "model_name");
            lua_pushstring(L, m->model ? m->model : "");
            lua_setfield(L, -2, "model");
            lua_pushinteger(L, m->order);
            lua_setfield(L, -2, "order");
            lua_pushnumber(L, m->weight > 0 ? m->weight : 1);
            lua_setfield(L, -2, "weight");
            lua_pushstring(L, m->api_base ? m->api_base : "");
            lua_setfield(L, -2, "api_base");
            lua_pushinteger(L, m->rpm);
            lua_setfield(L, -2, "rpm");
            lua_pushinteger(L, m->tpm);
            lua_setfield(L, -2, "tpm");
            lua_pushinteger(L, m->max_parallel ? m->max_parallel
                                               : r->cfg->router.default_max_parallel);
            lua_setfield(L, -2, "max_parallel");
            lua_rawseti(L, -2, (int)i + 1);
        }
        lua_setfield(L, -2, "members");                      /* result plan group */
        lua_rawseti(L, -2, (int)g + 1);                      /* result plan */
    }
    lua_setfield(L, -2, "upstream_plan");                    /* result */
    cc_route_plan_free(&plan);
    cc_router_free(rt);
}

/* ccproxy.core.finish(req): ends the request stage as the server does and returns what would
 * go upstream: {body=, headers={{name,value},...} (as the hooks left them),
 * upstream_headers={...}, upstream_url=, upstream_host=, upstream_body= (the request as the
 * upstream exchange would send it, translated for another provider; or upstream_error= when
 * it cannot be built), upstream_plan= (the groups and members the attempts would go through),
 * model=, label=, rule=, session_id=, deployment=...}. */
static int l_finish(lua_State *L) {
    cc_preq_t *view_r = cc__lua_req_of(L, 1);
    if (!view_r) return luaL_error(L, "request already finished");
    lua_getfenv(L, 1);
    lua_getfield(L, -1, "owner");
    test_req_t *t = luaL_checkudata(L, -1, TEST_MT);
    lua_pop(L, 2);
    cc_preq_t *r = view_r;
    cc_buf_t rerr = CC_BUF_INIT;
    if (t->cfg->n_models && cc_preq_route_unrouted(r, &rerr) < 0) {
        lua_pushfstring(L, "finish: %s", rerr.data ? rerr.data : "cannot route");
        cc_buf_free(&rerr);
        return lua_error(L);
    }
    cc_buf_free(&rerr);
    lua_newtable(L);                              /* result */
    cc__lua_push_deployment(L, r);
    lua_setfield(L, -2, "deployment");
    cc_buf_t err = CC_BUF_INIT;
    int rc = cc_lua_req_finish(L, r, &err);
    t->finished = 1;
    if (rc < 0) {
        lua_pushfstring(L, "finish: %s", err.data ? err.data : "?");
        cc_buf_free(&err);
        return lua_error(L);
    }
    cc_buf_free(&err);
    const cc_buf_t *body = cc_preq_body(r);
    lua_pushlstring(L, body->data ? body->data : "", body->len);
    lua_setfield(L, -2, "body");
    lua_pushboolean(L, r->body_changed);
    lua_setfield(L, -2, "body_changed");
    cc__lua_push_pairs(L, &r->headers);
    lua_setfield(L, -2, "headers");
    /* The fields as the upstream request carries them, built by the same attempt code the
     * server sends with (credentials, other providers' fields). */
    if (r->routed) {
        int ast = 0;
        cc_buf_t aerr = CC_BUF_INIT;
        cc_attempt_t *a = cc_attempt_new(r, r->deployment, false, &ast, &aerr);
        if (a && !cc_attempt_local_answer(a)) {
            cc__lua_push_pairs(L, cc_attempt_headers(a));
            lua_setfield(L, -2, "upstream_headers");
            push_wire(L, a);
            push_plan(L, r);
        } else if (!a) {
            lua_pushstring(L, aerr.data ? aerr.data : "cannot build the upstream request");
            lua_setfield(L, -2, "upstream_error");
        }
        cc_attempt_free(a);
        cc_buf_free(&aerr);
    }
    lua_createtable(L, 0, (int)r->tags.n);
    for (size_t i = 0; i < r->tags.n; i++) {
        lua_pushstring(L, r->tags.items[i].value);
        lua_setfield(L, -2, r->tags.items[i].name);
    }
    lua_setfield(L, -2, "tags");
    push_opt_string(L, r->oauth_provider);
    lua_setfield(L, -2, "oauth_provider");
    push_opt_string(L, cc_preq_model(r));
    lua_setfield(L, -2, "model");
    push_opt_string(L, r->label);
    lua_setfield(L, -2, "label");
    push_opt_string(L, r->rule);
    lua_setfield(L, -2, "rule");
    push_opt_string(L, r->session_id);
    lua_setfield(L, -2, "session_id");
    return 1;
}

/* The environment table of a view core.request built, pushed; 0 (nothing pushed) for any
 * other view. */
static int push_test_env(lua_State *L, int idx) {
    lua_getfenv(L, idx);                          /* env */
    if (lua_istable(L, -1)) {
        lua_pushliteral(L, "owner");
        lua_rawget(L, -2);                        /* env owner */
        int ours = luaL_testudata(L, -1, TEST_MT) != NULL;
        lua_pop(L, 1);                            /* env */
        if (ours) return 1;
    }
    lua_pop(L, 1);
    return 0;
}

int cc__lua_req_spec_token(lua_State *L, int idx, const char *provider, char **token, char **ua,
                           char **why) {
    if (!push_test_env(L, idx)) return -2;        /* env */
    lua_getfield(L, -1, "oauth_tokens");          /* env tokens|nil */
    if (!lua_istable(L, -1)) {
        lua_pop(L, 2);
        return -2;
    }
    lua_getfield(L, -1, provider);                /* env tokens entry|nil */
    int found = lua_istable(L, -1);
    if (found) {
        lua_rawgeti(L, -1, 1);                    /* env tokens entry token */
        lua_rawgeti(L, -2, 2);                    /* env tokens entry token ua */
        const char *t = lua_tostring(L, -2), *u = lua_tostring(L, -1);
        *token = strdup(t ? t : "");
        *ua = u ? strdup(u) : NULL;
        lua_pop(L, 2);
        if (!*token) found = 0;
    } else {
        *why = strdup("ccproxy.oat_sources has no entry for this provider");
    }
    lua_pop(L, 2);                                /* env */
    lua_getfield(L, -1, "oauth_calls");           /* env calls */
    if (lua_istable(L, -1)) {
        lua_createtable(L, 0, 2);                 /* env calls call */
        lua_pushstring(L, provider);
        lua_setfield(L, -2, "provider");
        lua_pushboolean(L, found);
        lua_setfield(L, -2, "got");
        lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
    }
    lua_pop(L, 2);                                /* */
    return found ? 0 : -1;
}

/* core.oauth_calls(req): the req:oauth_token calls of a request built with oauth_tokens,
 * {{provider =, got =}, ...} (explain reports them); nil for other requests. */
static int l_oauth_calls(lua_State *L) {
    if (!push_test_env(L, 1)) return 0;
    lua_getfield(L, -1, "oauth_calls");
    return 1;
}

/* core.oat_set(provider, token, user_agent) / core.oat_clear(): the token store, for specs. */
static int l_oat_set(lua_State *L) {
    cc_oauth_set(luaL_checkstring(L, 1), luaL_checkstring(L, 2), luaL_optstring(L, 3, NULL));
    return 0;
}

static int l_oat_clear(lua_State *L) {
    (void)L;
    cc_oauth_clear();
    return 0;
}

void cc__lua_req_spec_register(lua_State *L) {
    luaL_newmetatable(L, TEST_MT);
    lua_pushcfunction(L, test_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_request);
    lua_setfield(L, -2, "request");
    lua_pushcfunction(L, l_finish);
    lua_setfield(L, -2, "finish");
    lua_pushcfunction(L, l_oauth_calls);
    lua_setfield(L, -2, "oauth_calls");
}

void cc_lua_register_spec_helpers(lua_State *L) {
    static const luaL_Reg helpers[] = {{"oat_set", l_oat_set}, {"oat_clear", l_oat_clear},
                                       {NULL, NULL}};
    lua_getglobal(L, "require");                  /* require */
    lua_pushliteral(L, "ccproxy.core");
    lua_call(L, 1, 1);                            /* core */
    for (const luaL_Reg *h = helpers; h->name; h++) {
        lua_pushcfunction(L, h->func);
        lua_setfield(L, -2, h->name);
    }
    lua_pop(L, 1);                                /* */
}
