/* lua_req.c: the request view (see lua_req.h and docs/lua-api.md).
 *
 *   req (userdata "ccproxy.request") -> cc_preq_t
 *     req.headers / req.client_headers -> userdata "ccproxy.headers" (case-insensitive)
 *     req.body -> the whole body decoded on first access; edits are diffed member by member
 *                 when the stage ends (lua_req_body.c), so untouched bytes go upstream
 *                 unchanged
 *   core.request / core.finish build and end real requests for specs, check and explain
 *   (lua_req_spec.c)
 *   core.readonly(req, on) makes the view read-only while rules run
 */
#include "lua/lua_req.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_body.h"
#include "log.h"
#include "lua/lua_json.h"
#include "lua/lua_req_internal.h"
#include "oauth.h"
#include "tokens.h"

#define REQ_MT CC__REQ_MT
#define HDR_MT "ccproxy.headers"

/* A view is read-only while rules run (core.readonly): rules answer a question, hooks edit.
 * Meanwhile req.body and req:field read a copy (ref_ro_body) when a hook decoded the body
 * before, so nothing a rule does to the tables it reads reaches the request. */
typedef struct {
    cc_preq_t *r;
    int readonly;
    int ref_ro_body; /* the copy rules read, while read-only; LUA_NOREF otherwise */
} req_ud_t;

typedef struct {
    cc_headers_t *list; /* NULL once its stage ended */
    cc_headers_t *written; /* where names set through this view are noted (req.headers) */
    int readonly;
    int in_rule;        /* req.headers while rules run (follows the request's read-only flag) */
    const char *what;   /* for messages: "req.client_headers", "res.headers", ... */
} hdr_ud_t;

#define IN_RULE_FIX "rules only read the request (match() gets a read-only view); make the " \
                    "change in a hook (docs/lua-api.md, \"Rules read, hooks write\")"

cc_preq_t *cc__lua_req_of(lua_State *L, int idx) {
    return ((req_ud_t *)luaL_checkudata(L, idx, REQ_MT))->r;
}

static req_ud_t *check_ud(lua_State *L, int idx) {
    req_ud_t *ud = luaL_checkudata(L, idx, REQ_MT);
    if (!ud->r) luaL_error(L, "request used after its stage ended (keep what you need in locals)");
    return ud;
}

static cc_preq_t *check_req(lua_State *L, int idx) {
    return check_ud(L, idx)->r;
}

/* The request behind a view a script may change: raises in a rule's match(). */
static cc_preq_t *check_writable(lua_State *L, int idx, const char *what) {
    req_ud_t *ud = check_ud(L, idx);
    if (ud->readonly) luaL_error(L, "%s in a rule: " IN_RULE_FIX, what);
    return ud->r;
}

static void push_ref(lua_State *L, int ref) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
}

/* tostring() of any value, as the `tostring` function would write it. */
static const char *display_string(lua_State *L, int idx) {
    lua_getglobal(L, "tostring");
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);
    const char *s = lua_tostring(L, -1);
    return s ? s : "";
}

static void push_opt_string(lua_State *L, const char *s) {
    if (s)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
}

static const char *body_data(const cc_preq_t *r, size_t *len) {
    *len = r->client->body.len;
    return r->client->body.data ? r->client->body.data : "";
}

/* --- headers view ---------------------------------------------------------------------- */

static cc_headers_t *hdr_list(lua_State *L, hdr_ud_t *h) {
    if (!h->list) luaL_error(L, "%s used after its stage ended", h->what);
    return h->list;
}

static int hdr_index(lua_State *L) {
    hdr_ud_t *h = luaL_checkudata(L, 1, HDR_MT);
    const char *name = luaL_checkstring(L, 2);
    push_opt_string(L, cc_headers_get(hdr_list(L, h), name));
    return 1;
}

static int hdr_newindex(lua_State *L) {
    hdr_ud_t *h = luaL_checkudata(L, 1, HDR_MT);
    const char *name = luaL_checkstring(L, 2);
    cc_headers_t *list = hdr_list(L, h);
    if (h->readonly)
        return luaL_error(L, "%s is read-only%s", h->what,
                          strcmp(h->what, "req.client_headers") == 0 ? "; edit req.headers" : "");
    if (h->in_rule) return luaL_error(L, "setting %s[\"%s\"] in a rule: " IN_RULE_FIX, h->what, name);
    if (lua_isnil(L, 3)) {
        cc_headers_remove(list, name);
        if (h->written) cc_headers_set(h->written, name, "removed");
        return 0;
    }
    const char *value = luaL_checkstring(L, 3);
    if (!*name || strpbrk(name, " \t\r\n:") || strpbrk(value, "\r\n"))
        return luaL_error(L, "invalid header %s: names have no spaces or ':', values no newlines",
                          name);
    cc_headers_set(list, name, value);
    if (h->written) cc_headers_set(h->written, name, "set");
    return 0;
}

void cc__lua_push_pairs(lua_State *L, const cc_headers_t *list) {
    lua_createtable(L, (int)list->n, 0);          /* list */
    for (size_t i = 0; i < list->n; i++) {
        lua_createtable(L, 2, 0);                 /* list pair */
        lua_pushstring(L, list->items[i].name);
        lua_rawseti(L, -2, 1);
        lua_pushstring(L, list->items[i].value);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, (int)i + 1);           /* list */
    }
}

static int hdr_list_fn(lua_State *L) {
    hdr_ud_t *h = luaL_checkudata(L, 1, HDR_MT);
    cc__lua_push_pairs(L, hdr_list(L, h));
    return 1;
}

void *cc_lua_headers_push(lua_State *L, cc_headers_t *list, int readonly, const char *what) {
    hdr_ud_t *h = lua_newuserdata(L, sizeof *h);
    h->list = list;
    h->written = NULL;
    h->readonly = readonly;
    h->in_rule = 0;
    h->what = what;
    luaL_getmetatable(L, HDR_MT);
    lua_setmetatable(L, -2);
    return h;
}

void cc_lua_headers_end(void *view) {
    if (view) ((hdr_ud_t *)view)->list = NULL;
}

static void push_headers(lua_State *L, const req_ud_t *ud, int client) {
    cc_preq_t *r = ud->r;
    int *ref = client ? &r->ref_client_headers : &r->ref_headers;
    if (*ref != LUA_NOREF) {
        push_ref(L, *ref);
        return;
    }
    /* The client's list is never written through a read-only view. */
    hdr_ud_t *h = cc_lua_headers_push(L, client ? (cc_headers_t *)&r->client->headers
                                                 : &r->headers,
                                       client, client ? "req.client_headers" : "req.headers");
    if (!client) {
        h->written = &r->written;
        h->in_rule = ud->readonly;
    }
    lua_pushvalue(L, -1);
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* --- body ------------------------------------------------------------------------------ */

/* A decoded body carries the model set through req.model or routing, so req.model and
 * req.body.model always read the same value. */
static void sync_body_model(lua_State *L, const cc_preq_t *r, const char *model) {
    if (r->ref_body == LUA_NOREF || !model) return;
    push_ref(L, r->ref_body);
    if (lua_istable(L, -1)) {
        lua_pushstring(L, model);
        lua_setfield(L, -2, "model");
    }
    lua_pop(L, 1);
}

static void push_body(lua_State *L, cc_preq_t *r) {
    if (r->ref_body == LUA_NOREF) {
        size_t len;
        const char *b = body_data(r, &len);
        if (cc_lua_push_json_text(L, b, len) < 0) luaL_error(L, "the request body is not JSON");
        r->ref_body = luaL_ref(L, LUA_REGISTRYINDEX);
        sync_body_model(L, r, r->model_set);
    }
    push_ref(L, r->ref_body);
}

/* req.body while rules run: a copy, so a rule's edits go nowhere. It is the decoded body's
 * copy when a hook decoded it before (its edits included), else a fresh decode. */
static void push_ro_body(lua_State *L, req_ud_t *ud) {
    cc_preq_t *r = ud->r;
    if (ud->ref_ro_body == LUA_NOREF) {
        cc_buf_t text = CC_BUF_INIT, err = CC_BUF_INIT;
        int rc;
        if (r->ref_body != LUA_NOREF) {
            push_ref(L, r->ref_body);             /* body */
            rc = cc_lua_to_json(L, -1, NULL, &text, &err);
            lua_pop(L, 1);                        /* */
        } else {
            size_t len;
            const char *b = body_data(r, &len);
            rc = cc_buf_append(&text, b, len) < 0 ? -1 : 0;
        }
        rc = rc < 0 ? -1 : cc_lua_push_json_text(L, text.data ? text.data : "", text.len);
        cc_buf_free(&text);
        if (rc < 0) {
            lua_pushfstring(L, "the request body cannot be read in a rule: %s",
                            err.data ? err.data : "it is not JSON");
            cc_buf_free(&err);
            lua_error(L);
        }
        cc_buf_free(&err);                        /* copy */
        if (r->ref_body == LUA_NOREF && r->model_set) {
            lua_pushstring(L, r->model_set);
            lua_setfield(L, -2, "model");
        }
        ud->ref_ro_body = luaL_ref(L, LUA_REGISTRYINDEX); /* */
    }
    push_ref(L, ud->ref_ro_body);
}

/* req:field(name): one top-level member, decoded alone (or from req.body once decoded). */
static int req_field(lua_State *L) {
    req_ud_t *ud = check_ud(L, 1);
    cc_preq_t *r = ud->r;
    const char *key = luaL_checkstring(L, 2);
    if (r->ref_body != LUA_NOREF || ud->ref_ro_body != LUA_NOREF) {
        if (ud->readonly)
            push_ro_body(L, ud);
        else
            push_ref(L, r->ref_body);
        lua_pushstring(L, key);
        lua_rawget(L, -2);
        return 1;
    }
    if (r->ref_fields == LUA_NOREF) {
        lua_newtable(L);
        r->ref_fields = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    push_ref(L, r->ref_fields);                   /* cache */
    lua_getfield(L, -1, key);                     /* cache v|nil */
    if (!lua_isnil(L, -1)) return 1;
    lua_pop(L, 1);
    size_t len;
    const char *b = body_data(r, &len);
    cc_json_member_t m;
    if (cc_preq_member(r, key, &m) != 0) {
        lua_pushnil(L);
        return 1;
    }
    cc_lua_push_json_text(L, b + m.value.start, m.value.len); /* cache v */
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, key);
    return 1;
}

/* --- routing --------------------------------------------------------------------------- */

void cc__lua_push_deployment(lua_State *L, const cc_preq_t *r) {
    if (!r->routed) {
        lua_pushnil(L);
        return;
    }
    const cc_model_t *d = &r->cfg->models[r->deployment];
    lua_createtable(L, 0, 8);
    lua_pushstring(L, d->model_name);
    lua_setfield(L, -2, "model_name");
    push_opt_string(L, d->provider);
    lua_setfield(L, -2, "provider");
    push_opt_string(L, r->upstream_model);
    lua_setfield(L, -2, "model");
    push_opt_string(L, d->api_base);
    lua_setfield(L, -2, "api_base");
    push_opt_string(L, r->route_via);
    lua_setfield(L, -2, "via");
    lua_pushboolean(L, r->passthrough);
    lua_setfield(L, -2, "passthrough");
    lua_pushboolean(L, d->api_key != NULL);
    lua_setfield(L, -2, "has_api_key");
    if (d->litellm_params)
        cc_lua_push_json(L, d->litellm_params);
    else
        lua_pushnil(L);
    /* The api_key stays out of scripts' reach: hooks decide headers, not secrets. */
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        lua_setfield(L, -2, "api_key");
    }
    lua_setfield(L, -2, "litellm_params");
    if (d->model_info)
        cc_lua_push_json(L, d->model_info);
    else
        lua_pushnil(L);
    lua_setfield(L, -2, "model_info");
}

/* The Lua result of a routing call: the deployment, or nil and the reason. */
static int route_result(lua_State *L, cc_preq_t *r, int rc, cc_buf_t *err) {
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err->data ? err->data : "cannot route");
        cc_buf_free(err);
        return 2;
    }
    cc_buf_free(err);
    sync_body_model(L, r, r->upstream_model);
    cc__lua_push_deployment(L, r);
    return 1;
}

/* Does config.yaml have something for "provider/model" (as preq.c's cc_preq_route reads
 * it): a deployment of that provider serving that model, or the provider's wildcard one? */
static bool has_provider_model(const cc_config_t *cfg, const char *name) {
    const char *slash = strchr(name, '/');
    if (!slash || slash == name || !slash[1]) return false;
    size_t plen = (size_t)(slash - name);
    for (size_t i = 0; i < cfg->n_models; i++) {
        const cc_model_t *m = &cfg->models[i];
        if (m->alias_of >= 0 || !m->provider || !m->upstream_model) continue;
        if (strlen(m->provider) != plen || strncmp(m->provider, name, plen) != 0) continue;
        if (strcmp(m->upstream_model, slash + 1) == 0 || strcmp(m->upstream_model, "*") == 0)
            return true;
    }
    return false;
}

/* req:route(name): a name config.yaml does not know is reported, never routed elsewhere. */
static int req_route(lua_State *L) {
    cc_preq_t *r = check_writable(L, 1, "req:route()");
    const char *name = luaL_checkstring(L, 2);
    if (cc_config_find_model(r->cfg, name) < 0 && !has_provider_model(r->cfg, name)) {
        luaL_where(L, 1);                         /* "file:line:" of the caller */
        lua_pushnil(L);
        lua_pushfstring(L,
                        "%sreq:route('%s'): config.yaml has no model_name '%s'%s; add such an "
                        "entry to model_list, or choose the fallback yourself: "
                        "req:route('%s') or req:route('default')",
                        lua_tostring(L, -2), name, name,
                        strchr(name, '/') ? " and no deployment of that provider/model" : "",
                        name);
        return 2;
    }
    cc_buf_t err = CC_BUF_INIT;
    return route_result(L, r, cc_preq_route(r, name, &err), &err);
}

static int req_route_passthrough(lua_State *L) {
    cc_preq_t *r = check_writable(L, 1, "req:route_passthrough()");
    cc_buf_t err = CC_BUF_INIT;
    return route_result(L, r, cc_preq_route_passthrough(r, &err), &err);
}

/* --- other methods --------------------------------------------------------------------- */

static int req_tokens(lua_State *L) {
    cc_preq_t *r = check_req(L, 1);
    if (r->tokens < 0) {
        size_t len;
        const char *b = body_data(r, &len);
        r->tokens = cc_tokens_estimate(b, len);
        if (r->tokens < 0) r->tokens = 0;
    }
    lua_pushnumber(L, (lua_Number)r->tokens);
    return 1;
}

static int req_tokens_over(lua_State *L) {
    cc_preq_t *r = check_req(L, 1);
    lua_Number threshold = luaL_checknumber(L, 2);
    size_t len;
    const char *b = body_data(r, &len);
    if (r->tokens < 0 && (lua_Number)cc_tokens_upper_bound(b, len) <= threshold) {
        lua_pushboolean(L, 0); /* cannot exceed it: no need to count */
        return 1;
    }
    req_tokens(L);
    lua_pushboolean(L, lua_tonumber(L, -1) > threshold);
    return 1;
}

static int req_log(lua_State *L) {
    cc_preq_t *r = check_req(L, 1);
    const char *level = luaL_checkstring(L, 2);
    const char *msg = luaL_checkstring(L, 3);
    cc_log_level_t lv = level[0] == 'd' ? CC_LOG_DEBUG
                        : level[0] == 'w' ? CC_LOG_WARN
                        : level[0] == 'e' ? CC_LOG_ERROR
                                          : CC_LOG_INFO;
    cc_log(lv, "%s %s", r->id ? r->id : "-", msg);
    return 0;
}

/* req:tag(name, value): adds name=value to the request's log line (value nil removes it). */
static int req_tag(lua_State *L) {
    cc_preq_t *r = check_writable(L, 1, "req:tag()");
    const char *name = luaL_checkstring(L, 2);
    if (!*name || strpbrk(name, " =\t\r\n"))
        return luaL_error(L, "req:tag name '%s' must be a word without spaces or '='", name);
    if (lua_isnoneornil(L, 3)) {
        cc_headers_remove(&r->tags, name);
        return 0;
    }
    const char *value = display_string(L, 3);
    cc_headers_set(&r->tags, name, value);
    return 0;
}

/* req:oauth_token(provider): the oat_sources token of `provider` and its user agent, or nil
 * and why. Marks the request as using it: a 401 then refreshes the token and retries once. */
static int req_oauth_token(lua_State *L) {
    cc_preq_t *r = check_writable(L, 1, "req:oauth_token()");
    const char *provider = luaL_checkstring(L, 2);
    char *token = NULL, *ua = NULL, *why = NULL;
    int rc = cc__lua_req_spec_token(L, 1, provider, &token, &ua, &why);
    if (rc == -2) rc = cc_oauth_get(provider, &token, &ua, &why);
    char *prov = rc < 0 ? NULL : strdup(provider);
    if (rc < 0 || !prov) {
        free(token);
        free(ua);
        free(prov);
        lua_pushnil(L);
        lua_pushstring(L, why ? why : "no token (out of memory)");
        free(why);
        return 2;
    }
    /* The request owns the token from here on; nothing malloc'd is held while Lua allocates
     * except the user agent, pushed first. */
    free(r->oauth_provider);
    free(r->oauth_token);
    r->oauth_provider = prov;
    r->oauth_token = token;
    if (ua) {
        lua_pushstring(L, ua);                    /* ua */
        free(ua);
    } else {
        lua_pushnil(L);                           /* nil */
    }
    lua_pushstring(L, r->oauth_token);            /* ua token */
    lua_insert(L, -2);                            /* token ua */
    return 2;
}

static const luaL_Reg req_methods[] = {
    {"tag", req_tag},
    {"oauth_token", req_oauth_token},
    {"field", req_field},
    {"route", req_route},
    {"route_passthrough", req_route_passthrough},
    {"tokens", req_tokens},
    {"tokens_over", req_tokens_over},
    {"log", req_log},
    {NULL, NULL},
};

/* The fields req_index answers (methods are in req_methods); core.request_api() lists both
 * so a spec can check that docs/lua-api.md documents every one. */
static const char *const req_fields[] = {
    "id",    "method", "path",  "query",      "endpoint", "headers", "client_headers",
    "body",  "model",  "requested_model", "stream", "label", "rule", "session_id",
    "ctx",   "deployment", "attempts", NULL};

static int l_request_api(lua_State *L) {
    lua_newtable(L);
    lua_newtable(L);
    int i = 1;
    for (const char *const *f = req_fields; *f; f++) {
        lua_pushstring(L, *f);
        lua_rawseti(L, -2, i++);
    }
    lua_setfield(L, -2, "fields");
    lua_newtable(L);
    i = 1;
    for (const luaL_Reg *m = req_methods; m->name; m++) {
        lua_pushstring(L, m->name);
        lua_rawseti(L, -2, i++);
    }
    lua_setfield(L, -2, "methods");
    return 1;
}

/* req.attempts: {{model_name, model, status, reason, ms}, ...}, a new table each time. */
static void push_attempts(lua_State *L, const cc_preq_t *r) {
    lua_createtable(L, (int)r->n_attempts, 0);    /* list */
    for (size_t i = 0; i < r->n_attempts; i++) {
        const cc_attempt_rec_t *a = &r->attempts[i];
        const cc_model_t *m = &r->cfg->models[a->deployment];
        lua_createtable(L, 0, 5);                 /* list item */
        lua_pushstring(L, m->model_name);
        lua_setfield(L, -2, "model_name");
        push_opt_string(L, m->model);
        lua_setfield(L, -2, "model");
        if (a->status) {
            lua_pushinteger(L, a->status);
            lua_setfield(L, -2, "status");
        }
        push_opt_string(L, a->reason);
        lua_setfield(L, -2, "reason");
        lua_pushnumber(L, a->ms);
        lua_setfield(L, -2, "ms");
        lua_rawseti(L, -2, (int)i + 1);           /* list */
    }
}

static int req_index(lua_State *L) {
    req_ud_t *ud = check_ud(L, 1);
    cc_preq_t *r = ud->r;
    const char *k = luaL_checkstring(L, 2);
    for (const luaL_Reg *m = req_methods; m->name; m++) {
        if (strcmp(k, m->name) == 0) {
            lua_pushcfunction(L, m->func);
            return 1;
        }
    }
    if (strcmp(k, "method") == 0) push_opt_string(L, r->client->method);
    else if (strcmp(k, "path") == 0) push_opt_string(L, r->client->path);
    else if (strcmp(k, "query") == 0) push_opt_string(L, r->client->query);
    else if (strcmp(k, "id") == 0) push_opt_string(L, r->id);
    else if (strcmp(k, "endpoint") == 0) push_opt_string(L, r->endpoint);
    else if (strcmp(k, "headers") == 0) push_headers(L, ud, 0);
    else if (strcmp(k, "client_headers") == 0) push_headers(L, ud, 1);
    else if (strcmp(k, "body") == 0) {
        if (ud->readonly)
            push_ro_body(L, ud);
        else
            push_body(L, r);
    } else if (strcmp(k, "model") == 0) {
        if (r->ref_body != LUA_NOREF) {
            push_ref(L, r->ref_body);
            lua_pushliteral(L, "model");
            lua_rawget(L, -2);
            if (lua_type(L, -1) == LUA_TSTRING) return 1;
            lua_pop(L, 2);
        }
        push_opt_string(L, cc_preq_model(r));
    } else if (strcmp(k, "requested_model") == 0) push_opt_string(L, r->model);
    else if (strcmp(k, "stream") == 0) lua_pushboolean(L, r->stream);
    else if (strcmp(k, "label") == 0) push_opt_string(L, r->label);
    else if (strcmp(k, "rule") == 0) push_opt_string(L, r->rule);
    else if (strcmp(k, "session_id") == 0) push_opt_string(L, r->session_id);
    else if (strcmp(k, "deployment") == 0) cc__lua_push_deployment(L, r);
    else if (strcmp(k, "attempts") == 0) push_attempts(L, r);
    else if (strcmp(k, "ctx") == 0) {
        if (r->ref_ctx == LUA_NOREF) {
            lua_newtable(L);
            r->ref_ctx = luaL_ref(L, LUA_REGISTRYINDEX);
        }
        push_ref(L, r->ref_ctx);
    } else
        lua_pushnil(L);
    return 1;
}

static void set_string_field(lua_State *L, const char *field, char **slot) {
    if (lua_isnil(L, 3)) {
        free(*slot);
        *slot = NULL;
        return;
    }
    if (!lua_isstring(L, 3))
        luaL_error(L, "req.%s must be a string or nil, not a %s", field, luaL_typename(L, 3));
    const char *v = lua_tostring(L, 3);
    char *copy = strdup(v);
    if (!copy) luaL_error(L, "out of memory");
    free(*slot);
    *slot = copy;
}

static int req_newindex(lua_State *L) {
    req_ud_t *ud = check_ud(L, 1);
    cc_preq_t *r = ud->r;
    const char *k = luaL_checkstring(L, 2);
    if (ud->readonly) return luaL_error(L, "setting req.%s in a rule: " IN_RULE_FIX, k);
    if (strcmp(k, "model") == 0) {
        if (lua_type(L, 3) != LUA_TSTRING)
            return luaL_error(L, "req.model must be a string (a model name), not a %s",
                              luaL_typename(L, 3));
        const char *m = lua_tostring(L, 3);
        cc_preq_set_model(r, m);
        if (r->ref_body != LUA_NOREF) {
            push_ref(L, r->ref_body);
            lua_pushvalue(L, 3);
            lua_setfield(L, -2, "model");
            lua_pop(L, 1);
        }
    } else if (strcmp(k, "label") == 0) {
        set_string_field(L, "label", &r->label);
    } else if (strcmp(k, "rule") == 0) {
        set_string_field(L, "rule", &r->rule);
    } else if (strcmp(k, "session_id") == 0) {
        set_string_field(L, "session_id", &r->session_id);
    } else if (strcmp(k, "body") == 0) {
        if (!lua_istable(L, 3))
            return luaL_error(L, "req.body must be a table (the JSON object to send), not a %s",
                              luaL_typename(L, 3));
        if (r->ref_body != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, r->ref_body);
        lua_pushvalue(L, 3);
        r->ref_body = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        return luaL_error(L, "req.%s cannot be set (settable: model, label, rule, session_id, "
                             "body; keep your own data in req.ctx)", k);
    }
    return 0;
}

static int req_tostring(lua_State *L) {
    req_ud_t *ud = luaL_checkudata(L, 1, REQ_MT);
    if (!ud->r)
        lua_pushliteral(L, "ccproxy.request (ended)");
    else
        lua_pushfstring(L, "ccproxy.request %s %s", ud->r->client->method, ud->r->client->path);
    return 1;
}

void cc_lua_req_push(lua_State *L, cc_preq_t *r) {
    req_ud_t *ud = lua_newuserdata(L, sizeof *ud);
    ud->r = r;
    ud->readonly = 0;
    ud->ref_ro_body = LUA_NOREF;
    luaL_getmetatable(L, REQ_MT);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    r->ref_view = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void unref(lua_State *L, int *ref) {
    if (*ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, *ref);
    *ref = LUA_NOREF;
}

/* core.readonly(req, on): the view becomes read-only (rules run) or writable again; returns
 * what it was. Trusted code only (the runtime, around every rule). */
static int l_readonly(lua_State *L) {
    req_ud_t *ud = check_ud(L, 1);
    int was = ud->readonly;
    ud->readonly = lua_toboolean(L, 2);
    if (!ud->readonly) unref(L, &ud->ref_ro_body); /* the next rules copy the body anew */
    if (ud->r->ref_headers != LUA_NOREF) {
        push_ref(L, ud->r->ref_headers);
        ((hdr_ud_t *)lua_touserdata(L, -1))->in_rule = ud->readonly;
        lua_pop(L, 1);
    }
    lua_pushboolean(L, was);
    return 1;
}

/* core.peek(req): what a stage did so far that the view does not show, for explain:
 * {tags = {{name, value}, ...}, body_decoded = bool}. */
static int l_peek(lua_State *L) {
    cc_preq_t *r = check_req(L, 1);
    lua_createtable(L, 0, 2);                     /* t */
    cc__lua_push_pairs(L, &r->tags);              /* t tags */
    lua_setfield(L, -2, "tags");                  /* t */
    lua_pushboolean(L, r->ref_body != LUA_NOREF);
    lua_setfield(L, -2, "body_decoded");
    return 1;
}

void cc_lua_req_end_stage(lua_State *L, cc_preq_t *r) {
    if (r->ref_view != LUA_NOREF) {
        push_ref(L, r->ref_view);
        req_ud_t *ud = lua_touserdata(L, -1);
        ud->r = NULL;
        ud->readonly = 0;
        unref(L, &ud->ref_ro_body);
        lua_pop(L, 1);
    }
    int *hrefs[] = {&r->ref_headers, &r->ref_client_headers};
    for (int i = 0; i < 2; i++) {
        if (*hrefs[i] == LUA_NOREF) continue;
        push_ref(L, *hrefs[i]);
        cc_lua_headers_end(lua_touserdata(L, -1));
        lua_pop(L, 1);
    }
    unref(L, &r->ref_view);
    unref(L, &r->ref_body);
    unref(L, &r->ref_headers);
    unref(L, &r->ref_client_headers);
    unref(L, &r->ref_fields);
}

void cc_lua_req_release(lua_State *L, cc_preq_t *r) {
    cc_lua_req_end_stage(L, r);
    unref(L, &r->ref_ctx);
}

int cc_lua_req_finish(lua_State *L, cc_preq_t *r, cc_buf_t *err) {
    int rc = 0;
    rc = cc__lua_req_apply_body(L, r, err);
    cc_lua_req_end_stage(L, r); /* req.ctx lives on for the response stages */
    return rc;
}

void cc_lua_req_register(lua_State *L) {
    lua_pushcfunction(L, l_request_api);
    lua_setfield(L, -2, "request_api");
    lua_pushcfunction(L, l_readonly);
    lua_setfield(L, -2, "readonly");
    lua_pushcfunction(L, l_peek);
    lua_setfield(L, -2, "peek");
    luaL_newmetatable(L, REQ_MT);
    /* getmetatable(req) gives this name, not the table: scripts cannot rewire the view. */
    lua_pushliteral(L, REQ_MT);
    lua_setfield(L, -2, "__metatable");
    lua_pushcfunction(L, req_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, req_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, req_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    luaL_newmetatable(L, HDR_MT);
    lua_pushliteral(L, HDR_MT);
    lua_setfield(L, -2, "__metatable");
    lua_pushcfunction(L, hdr_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, hdr_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, hdr_list_fn);
    lua_setfield(L, -2, "__call");
    lua_pop(L, 1);
    cc__lua_req_spec_register(L);
}
