/* pipeline.c: loading the runtime and modules into a worker's Lua state, and running the
 * request stage (see pipeline.h). The decisions themselves live in lua/ccproxy/runtime.lua. */
#include "lua/pipeline.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lua/lua_json.h"
#include "lua/lua_req.h"
#include "lua/lua_sandbox.h"
#include "http/sse.h"
#include "lua/lua_vm.h"
#include "paths.h"

struct cc_pipeline_s {
    lua_State *L;
    int ref_runtime; /* the runtime module */
    int ref_run;     /* runtime.run(req) */
    const cc_config_t *cfg;
    cc_stages_t stages;
};

/* {name = "file:line:col"} for each param written in the file. */
static void push_param_where(lua_State *L, const cc_param_pos_t *pos, size_t n) {
    lua_createtable(L, 0, (int)n);
    for (size_t i = 0; i < n; i++) {
        if (!pos[i].key || !pos[i].pos.file) continue;
        lua_pushfstring(L, "%s:%d:%d", pos[i].pos.file, pos[i].pos.line, pos[i].pos.col);
        lua_setfield(L, -2, pos[i].key);
    }
}

static void push_where(lua_State *L, const cc_srcpos_t *pos) {
    if (pos->file)
        lua_pushfstring(L, "%s:%d:%d", pos->file, pos->line, pos->col);
    else
        lua_pushliteral(L, "ccproxy.yaml");
}

/* The part of the configuration the runtime needs, as a Lua table. */
static void push_spec(lua_State *L, const cc_config_t *cfg) {
    lua_newtable(L);                              /* spec */
    lua_pushstring(L, cfg->dir ? cfg->dir : ".");
    lua_setfield(L, -2, "config_dir");
    lua_pushstring(L, cc_paths_datadir());
    lua_setfield(L, -2, "builtin_dir");
    lua_pushboolean(L, cfg->debug);
    lua_setfield(L, -2, "debug");
    lua_pushboolean(L, cfg->default_model_passthrough);
    lua_setfield(L, -2, "default_model_passthrough");
    lua_pushnumber(L, cfg->limits.script_budget_ms);
    lua_setfield(L, -2, "budget_ms");
    lua_pushboolean(L, cfg->limits.script_trusted);
    lua_setfield(L, -2, "trusted");
    lua_createtable(L, (int)cfg->n_rules, 0);     /* spec rules */
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const cc_rule_cfg_t *rc = &cfg->rules[i];
        lua_createtable(L, 0, 4);
        lua_pushstring(L, rc->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, rc->module);
        lua_setfield(L, -2, "module");
        cc_lua_push_json(L, rc->params);
        lua_setfield(L, -2, "params");
        push_param_where(L, rc->param_pos, rc->n_param_pos);
        lua_setfield(L, -2, "param_where");
        push_where(L, &rc->pos);
        lua_setfield(L, -2, "where");
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "rules");
    lua_createtable(L, (int)cfg->n_hooks, 0);     /* spec hooks */
    for (size_t i = 0; i < cfg->n_hooks; i++) {
        const cc_hook_cfg_t *hc = &cfg->hooks[i];
        lua_createtable(L, 0, 3);
        lua_pushstring(L, hc->module);
        lua_setfield(L, -2, "module");
        cc_lua_push_json(L, hc->params);
        lua_setfield(L, -2, "params");
        push_param_where(L, hc->param_pos, hc->n_param_pos);
        lua_setfield(L, -2, "param_where");
        push_where(L, &hc->pos);
        lua_setfield(L, -2, "where");
        lua_pushboolean(L, hc->fail_on_error);
        lua_setfield(L, -2, "fail_on_error");
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "hooks");
    lua_createtable(L, 0, (int)cfg->n_oat_sources); /* spec oat_sources */
    for (size_t i = 0; i < cfg->n_oat_sources; i++) {
        const cc_oat_source_t *o = &cfg->oat_sources[i];
        lua_createtable(L, 0, 2);
        lua_pushstring(L, o->command);
        lua_setfield(L, -2, "command");
        if (o->user_agent) {
            lua_pushstring(L, o->user_agent);
            lua_setfield(L, -2, "user_agent");
        }
        lua_setfield(L, -2, o->provider);
    }
    lua_setfield(L, -2, "oat_sources");
}

void cc_scripts_free(cc_scripts_t *s) {
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].path);
        free(s->items[i].text);
    }
    free(s->items);
    memset(s, 0, sizeof *s);
}

/* {path = text} of `s`, for runtime.load's spec.sources. */
static void push_sources(lua_State *L, const cc_scripts_t *s) {
    lua_createtable(L, 0, (int)s->n);             /* sources */
    for (size_t i = 0; i < s->n; i++) {
        lua_pushlstring(L, s->items[i].text, s->items[i].len);
        lua_setfield(L, -2, s->items[i].path);
    }
}

/* Copies runtime.sources() ({path = text}, on top of the stack) into `s`. */
static int keep_sources(lua_State *L, cc_scripts_t *s, cc_buf_t *err) {
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        n++;
        lua_pop(L, 1);
    }
    s->items = calloc(n ? n : 1, sizeof *s->items);
    if (!s->items) goto oom;
    lua_pushnil(L);                               /* sources nil */
    while (lua_next(L, -2)) {                     /* sources path text */
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        cc_script_t *it = &s->items[s->n];
        it->path = strdup(lua_tostring(L, -2));
        it->text = malloc(len + 1);
        if (it->text) {
            memcpy(it->text, text, len);
            it->text[len] = '\0';
        }
        it->len = len;
        s->n++;
        lua_pop(L, 1);                            /* sources path */
        if (!it->path || !it->text) {
            lua_pop(L, 1);                        /* sources */
            goto oom;
        }
    }
    s->filled = true;
    return 0;
oom:
    cc_scripts_free(s);
    cc_buf_puts(err, "out of memory while keeping the scripts' text");
    return -1;
}

cc_pipeline_t *cc_pipeline_new(const cc_config_t *cfg, cc_buf_t *err) {
    return cc_pipeline_new_scripts(cfg, NULL, err);
}

cc_pipeline_t *cc_pipeline_new_scripts(const cc_config_t *cfg, cc_scripts_t *scripts,
                                       cc_buf_t *err) {
    cc_pipeline_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->cfg = cfg;
    p->ref_run = p->ref_runtime = LUA_NOREF;
    p->L = cc_lua_new_sandboxed_state(cfg->limits.script_memory_bytes);
    if (!p->L) {
        cc_buf_puts(err, "cannot create a Lua state (out of memory)");
        goto fail;
    }
    lua_State *L = p->L;
    cc_lua_guard_globals(L);
    lua_getglobal(L, "require");                  /* require */
    lua_pushliteral(L, "ccproxy.runtime");
    if (cc_lua_pcall(L, 1, 1, err) != 0) goto fail; /* runtime */
    lua_getfield(L, -1, "load");                  /* runtime load */
    push_spec(L, cfg);                            /* runtime load spec */
    if (scripts && scripts->filled) {
        push_sources(L, scripts);                 /* runtime load spec sources */
        lua_setfield(L, -2, "sources");           /* runtime load spec */
    }
    if (cc_lua_pcall(L, 1, 2, err) != 0) goto fail; /* runtime ok errs */
    if (!lua_toboolean(L, -2)) {
        if (lua_isstring(L, -1)) cc_buf_puts(err, lua_tostring(L, -1));
        goto fail;
    }
    lua_pop(L, 2);                                /* runtime */
    if (scripts && !scripts->filled) {
        lua_getfield(L, -1, "sources");           /* runtime sources */
        if (cc_lua_pcall(L, 0, 1, err) != 0) goto fail; /* runtime {path = text} */
        if (keep_sources(L, scripts, err) != 0) goto fail;
        lua_pop(L, 1);                            /* runtime */
    }
    lua_getfield(L, -1, "run");                   /* runtime run */
    p->ref_run = luaL_ref(L, LUA_REGISTRYINDEX);  /* runtime */
    lua_getfield(L, -1, "stages");                /* runtime stages */
    if (cc_lua_pcall(L, 0, 4, err) != 0) goto fail; /* runtime resp event done retry */
    p->stages.response = lua_toboolean(L, -4);
    p->stages.event = lua_toboolean(L, -3);
    p->stages.done = lua_toboolean(L, -2);
    p->stages.retry = lua_toboolean(L, -1);
    lua_pop(L, 4);                                /* runtime */
    p->ref_runtime = luaL_ref(L, LUA_REGISTRYINDEX); /* */
    return p;
fail:
    cc_pipeline_free(p);
    return NULL;
}

void cc_pipeline_free(cc_pipeline_t *p) {
    if (!p) return;
    cc_lua_close_sandboxed(p->L);
    free(p);
}

lua_State *cc_pipeline_lua(cc_pipeline_t *p) {
    return p->L;
}

cc_pipeline_result_t cc_pipeline_run(cc_pipeline_t *p, cc_preq_t *r, cc_buf_t *err) {
    lua_State *L = p->L;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref_run); /* run */
    cc_lua_req_push(L, r);                        /* run req */
    cc_buf_t lerr = CC_BUF_INIT;
    cc_pipeline_result_t rc = CC_PIPELINE_OK;
    if (cc_lua_pcall(L, 1, 3, &lerr) != 0) {
        /* runtime.run contains every script error itself; reaching here is a runtime bug. */
        cc_error("%s pipeline failed: %s", r->id, lerr.data ? lerr.data : "?");
    } else if (!lua_toboolean(L, -3)) {
        /* A hook with on_error: fail raised. */
        const char *hook = lua_tostring(L, -2), *msg = lua_tostring(L, -1);
        cc_buf_printf(err, "hook '%s' failed: %s", hook ? hook : "?", msg ? msg : "?");
        rc = CC_PIPELINE_HOOK_FAILED;
    }
    cc_buf_free(&lerr);
    lua_settop(L, top);
    if (rc == CC_PIPELINE_OK && cc_preq_route_unrouted(r, err) < 0) rc = CC_PIPELINE_UNROUTED;
    cc_buf_t ferr = CC_BUF_INIT;
    if (cc_lua_req_finish(L, r, &ferr) < 0) {
        cc_error("%s the body edited by a hook cannot be sent: %s", r->id,
                 ferr.data ? ferr.data : "?");
        if (rc == CC_PIPELINE_OK) {
            cc_buf_printf(err, "a hook left the request body in a state that cannot be encoded "
                               "as JSON: %s", ferr.data ? ferr.data : "?");
            rc = CC_PIPELINE_UNROUTED;
        }
    }
    cc_buf_free(&ferr);
    lua_settop(L, top);
    return rc;
}

/* --- response stages ------------------------------------------------------------------- */

const cc_stages_t *cc_pipeline_stages(const cc_pipeline_t *p) {
    return &p->stages;
}

/* Pushes runtime[name]; returns the stack top before it (to restore). */
static int push_stage_fn(cc_pipeline_t *p, const char *name) {
    lua_State *L = p->L;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref_runtime); /* runtime */
    lua_getfield(L, -1, name);                    /* runtime fn */
    lua_remove(L, -2);                            /* fn */
    return top;
}

static void call_stage(cc_pipeline_t *p, cc_preq_t *r, int nargs, int nres, const char *stage) {
    cc_buf_t err = CC_BUF_INIT;
    if (cc_lua_pcall(p->L, nargs, nres, &err) != 0)
        cc_error("%s %s stage failed: %s", r->id, stage, err.data ? err.data : "?");
    cc_buf_free(&err);
}

void cc_pipeline_response(cc_pipeline_t *p, cc_preq_t *r, int *status, cc_headers_t *headers) {
    if (!p->stages.response) return;
    lua_State *L = p->L;
    int top = push_stage_fn(p, "response");       /* fn */
    cc_lua_req_push(L, r);                        /* fn req */
    lua_createtable(L, 0, 2);                     /* fn req res */
    lua_pushinteger(L, *status);
    lua_setfield(L, -2, "status");
    void *hv = cc_lua_headers_push(L, headers, 0, "res.headers");
    lua_setfield(L, -2, "headers");
    lua_pushvalue(L, -1);
    int res_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    call_stage(p, r, 2, 0, "response");
    lua_rawgeti(L, LUA_REGISTRYINDEX, res_ref);   /* res */
    lua_pushliteral(L, "status");
    lua_rawget(L, -2);                            /* res status (no metamethods: the scripts'
                                                   * budget is over) */
    if (lua_isnumber(L, -1)) {
        int st = (int)lua_tointeger(L, -1);
        if (st >= 100 && st <= 999)
            *status = st;
        else
            cc_warn("%s a response hook set res.status to %d; ignored (100-999)", r->id, st);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, res_ref);
    cc_lua_headers_end(hv);
    cc_lua_req_end_stage(L, r);
    lua_settop(L, top);
}

static int ev_json_index(lua_State *L) {
    /* ev.json: the data decoded on first use (only hooks that read it pay for it). */
    if (lua_isstring(L, 2) && strcmp(lua_tostring(L, 2), "json") == 0) {
        lua_getfield(L, 1, "data");
        size_t n;
        const char *d = lua_tolstring(L, -1, &n);
        if (!d || cc_lua_push_json_text(L, d, n) < 0) return 0;
        lua_pushvalue(L, -1);
        lua_setfield(L, 1, "json");
        return 1;
    }
    return 0;
}

void cc_pipeline_event(cc_pipeline_t *p, cc_preq_t *r, const char *event, const char *data,
                       size_t len, cc_buf_t *out) {
    lua_State *L = p->L;
    int top = push_stage_fn(p, "event");          /* fn */
    cc_lua_req_push(L, r);                        /* fn req */
    lua_createtable(L, 0, 2);                     /* fn req ev */
    lua_pushstring(L, event ? event : "");
    lua_setfield(L, -2, "event");
    lua_pushlstring(L, data, len);
    lua_setfield(L, -2, "data");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, ev_json_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    cc_buf_t err = CC_BUF_INIT;
    if (cc_lua_pcall(L, 2, 1, &err) != 0) {
        cc_error("%s event stage failed: %s", r->id, err.data ? err.data : "?");
        cc_sse_write(out, event && *event ? event : NULL, data, len); /* pass it on as it was */
    } else if (lua_istable(L, -1)) {              /* ev */
        /* Raw reads: a table a script returned may carry metamethods, and its budget is over. */
        lua_pushliteral(L, "event");
        lua_rawget(L, -2);                        /* ev name */
        const char *name = lua_tostring(L, -1);
        lua_pushliteral(L, "data");
        lua_rawget(L, -3);                        /* ev name data */
        if (lua_istable(L, -1)) { /* a decoded value: encode it */
            cc_buf_t text = CC_BUF_INIT, eerr = CC_BUF_INIT;
            if (cc_lua_to_json(L, -1, NULL, &text, &eerr) == 0)
                cc_sse_write(out, name && *name ? name : NULL, text.data ? text.data : "",
                             text.len);
            else
                cc_error("%s an event hook set ev.data to a table that is not JSON: %s", r->id,
                         eerr.data ? eerr.data : "?");
            cc_buf_free(&text);
            cc_buf_free(&eerr);
        } else {
            size_t n = 0;
            const char *d = lua_tolstring(L, -1, &n);
            cc_sse_write(out, name && *name ? name : NULL, d ? d : "", n);
        }
    } /* false: dropped */
    cc_buf_free(&err);
    cc_lua_req_end_stage(L, r);
    lua_settop(L, top);
}

void cc_pipeline_done(cc_pipeline_t *p, cc_preq_t *r, const cc_done_info_t *info) {
    if (!p->stages.done) return;
    lua_State *L = p->L;
    int top = push_stage_fn(p, "done");           /* fn */
    cc_lua_req_push(L, r);                        /* fn req */
    lua_createtable(L, 0, 5);                     /* fn req res */
    lua_pushinteger(L, info->status);
    lua_setfield(L, -2, "status");
    lua_pushnumber(L, (lua_Number)info->bytes);
    lua_setfield(L, -2, "bytes");
    if (info->ttfb_ms >= 0) {
        lua_pushnumber(L, info->ttfb_ms);
        lua_setfield(L, -2, "ttfb_ms");
    }
    lua_pushnumber(L, info->total_ms);
    lua_setfield(L, -2, "total_ms");
    if (info->outcome) {
        lua_pushstring(L, info->outcome);
        lua_setfield(L, -2, "outcome");
    }
    if (info->usage && info->usage->seen) {
        const cc_usage_t *u = info->usage;
        lua_createtable(L, 0, 6);
        const struct {
            const char *name;
            unsigned long long n;
        } f[] = {{"input_tokens", u->input},
                 {"output_tokens", u->output},
                 {"cache_creation_input_tokens", u->cache_creation},
                 {"cache_read_input_tokens", u->cache_read},
                 {"web_search_requests", u->web_search},
                 {"web_fetch_requests", u->web_fetch}};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
            lua_pushnumber(L, (lua_Number)f[i].n);
            lua_setfield(L, -2, f[i].name);
        }
        lua_setfield(L, -2, "usage");
    }
    if (info->cost_known) {
        lua_pushnumber(L, info->cost_usd);
        lua_setfield(L, -2, "cost_usd");
    }
    call_stage(p, r, 2, 0, "done");
    cc_lua_req_end_stage(L, r);
    lua_settop(L, top);
}

static void set_opt_string(lua_State *L, const char *field, const char *v) {
    if (!v) return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, field);
}

int cc_pipeline_retry(cc_pipeline_t *p, cc_preq_t *r, const cc_retry_info_t *info,
                      cc_buf_t *group) {
    if (!p->stages.retry) return 0;
    lua_State *L = p->L;
    int top = push_stage_fn(p, "retry");          /* fn */
    cc_lua_req_push(L, r);                        /* fn req */
    lua_createtable(L, 0, 5);                     /* fn req failure */
    set_opt_string(L, "model_name", info->model_name);
    set_opt_string(L, "model", info->model);
    if (info->status) {
        lua_pushinteger(L, info->status);
        lua_setfield(L, -2, "status");
    }
    set_opt_string(L, "reason", info->reason);
    set_opt_string(L, "class", info->error_class);
    lua_pushboolean(L, info->context_window);
    lua_setfield(L, -2, "context_window");
    lua_createtable(L, 0, 2);                     /* fn req failure next */
    set_opt_string(L, "model_name", info->next_model_name);
    set_opt_string(L, "model", info->next_model);
    lua_setfield(L, -2, "next");                  /* fn req failure */
    int rc = 0;
    cc_buf_t err = CC_BUF_INIT;
    if (cc_lua_pcall(L, 2, 1, &err) != 0) {
        cc_error("%s retry stage failed: %s", r->id, err.data ? err.data : "?");
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        cc_buf_puts(group, lua_tostring(L, -1));
        rc = 1;
    } else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) {
        rc = -1;
    }
    cc_buf_free(&err);
    cc_lua_req_end_stage(L, r);
    lua_settop(L, top);
    return rc;
}

void cc_pipeline_release(cc_pipeline_t *p, cc_preq_t *r) {
    lua_State *L = p->L;
    int top = lua_gettop(L);
    if (p->stages.response || p->stages.event || p->stages.done || p->stages.retry) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref_runtime);
        lua_getfield(L, -1, "forget");
        lua_pushstring(L, r->id ? r->id : "");
        cc_lua_pcall(L, 1, 0, NULL);
    }
    cc_lua_req_release(L, r);
    lua_settop(L, top);
}
