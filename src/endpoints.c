/* endpoints.c: what each path of the API does. POST /v1/messages and
 * /v1/messages/count_tokens go through the proxy (exchange.c); GET /, GET /v1/models, GET /health,
 * GET /metrics, GET /ccproxy/sessions/<id> and the 404/405 answers are served here; /ui/ by
 * the dashboard (dashboard.c). HEAD works wherever GET does. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <stdio.h>
#include <unistd.h>

#include "http/conn.h"
#include "dashboard.h"
#include "endpoints.h"
#include "exchange.h"
#include "record/metrics.h"
#include "record/otel.h"
#include "record/sessions.h"
#include "routing/router.h"
#include "stats.h"
#include "worker.h"

static void respond_json(cc_conn_t *c, int status, cJSON *obj) {
    char *text = cJSON_PrintUnformatted(obj);
    cc_conn_respond(c, status, "application/json", text ? text : "{}", text ? strlen(text) : 2,
                    NULL);
    free(text);
    cJSON_Delete(obj);
}

/* "cooldowns": the deployments left out of every pick now, until when and why. */
void cc_endpoints_add_cooldowns(cJSON *o, cc_worker_t *w) {
    cc_cooldown_t cd[64];
    uint64_t now = cc_now_ns() / 1000000;
    const cc_config_t *cfg = w->current->gen->cfg;
    size_t n = cc_router_cooldowns(w->current->gen->router, now, cd, 64);
    cJSON *list = cJSON_AddArrayToObject(o, "cooldowns");
    for (size_t i = 0; i < n && i < 64; i++) {
        const cc_model_t *m = &cfg->models[cd[i].deployment];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "model_name", m->model_name);
        cJSON_AddStringToObject(e, "model", m->model ? m->model : "");
        cJSON_AddNumberToObject(e, "index", cd[i].deployment);
        cJSON_AddNumberToObject(e, "seconds_left", (double)(cd[i].until_ms - now) / 1000.0);
        if (cd[i].status)
            cJSON_AddNumberToObject(e, "status", cd[i].status);
        else
            cJSON_AddStringToObject(e, "status", "no answer");
        cJSON_AddItemToArray(list, e);
    }
}

/* "shared_state": Redis's address and whether it is reachable; {"state": "local"} without. */
static void add_shared_state(cJSON *o, cc_worker_t *w) {
    cc_shared_status_t st;
    cJSON *s = cJSON_AddObjectToObject(o, "shared_state");
    if (!cc_router_shared_status(w->current->gen->router, &st)) {
        cJSON_AddStringToObject(s, "state", "local");
        return;
    }
    cJSON_AddStringToObject(s, "state", st.state);
    cJSON_AddStringToObject(s, "address", st.address);
    cJSON_AddNumberToObject(s, "since_s",
                            (double)(cc_shared_wall_ms() - st.since_ms) / 1000.0);
    if (st.error[0]) cJSON_AddStringToObject(s, "error", st.error);
}

static void serve_health(cc_conn_t *c) {
    cc_worker_t *w = cc_conn_worker(c);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint64_t now = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", w->clients.stopping ? "stopping" : "ok");
    cJSON_AddStringToObject(o, "version", CCPROXY_VERSION);
    cJSON_AddNumberToObject(o, "uptime_s", (double)(now - w->server->started_ms) / 1000.0);
    cJSON_AddNumberToObject(o, "generation", atomic_load(&w->server->generation));
    cJSON_AddNumberToObject(o, "pid", (double)getpid());
    cJSON_AddNumberToObject(o, "requests", (double)atomic_load(&w->server->requests_total));
    cJSON_AddNumberToObject(o, "workers", w->server->n_workers);
    cc_endpoints_add_last_reload(o, w->server);
    cc_endpoints_add_cooldowns(o, w);
    add_shared_state(o, w);
    cc_otel_add_json(o);
    cc_stats_add_json(o);
    respond_json(c, 200, o);
}

/* GET /: who answers here and where to look next. */
static void serve_root(cc_conn_t *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", "ccproxy");
    cJSON_AddStringToObject(o, "version", CCPROXY_VERSION);
    cJSON_AddStringToObject(o, "messages", "/v1/messages");
    cJSON_AddStringToObject(o, "health", "/health");
    cJSON_AddStringToObject(o, "dashboard", "/ui/");
    respond_json(c, 200, o);
}

/* "last_reload": what the last reload did, null before the first. */
void cc_endpoints_add_last_reload(cJSON *o, cc_server_t *srv) {
    pthread_mutex_lock(&srv->lock);
    if (srv->reload.at[0]) {
        cJSON *r = cJSON_AddObjectToObject(o, "last_reload");
        cJSON_AddStringToObject(r, "at", srv->reload.at);
        cJSON_AddBoolToObject(r, "ok", srv->reload.ok);
        cJSON_AddNumberToObject(r, "count", srv->reload.count);
        if (srv->reload.error)
            cJSON_AddStringToObject(r, "error", srv->reload.error);
        else
            cJSON_AddNullToObject(r, "error");
        if (srv->reload.restart_needed)
            cJSON_AddStringToObject(r, "restart_needed", srv->reload.restart_needed);
    } else {
        cJSON_AddNullToObject(o, "last_reload");
    }
    pthread_mutex_unlock(&srv->lock);
}

/* GET /metrics: the Prometheus text format (record/metrics.h), the requests' series and the
 * gauges as they are now. Open like /health: no client authentication (yet). */
static void serve_metrics(cc_conn_t *c) {
    cc_metrics_t *m = cc_metrics_process();
    if (!m) {
        cc_conn_respond_error(c, 404, "not_found_error",
                              "GET /metrics is off (ccproxy.metrics_enabled: false)");
        return;
    }
    cc_worker_t *w = cc_conn_worker(c);
    cc_server_t *srv = w->server;
    const cc_config_t *cfg = w->current->gen->cfg;
    size_t n = cfg->n_models;
    cc_metrics_deployment_t *deps = calloc(n ? n : 1, sizeof *deps);
    cc_cooldown_t *cd = calloc(n ? n : 1, sizeof *cd);
    if (!deps || !cd) {
        free(deps);
        free(cd);
        cc_conn_respond_error(c, 500, "api_error", "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        deps[i].deployment = cfg->models[i].model_name;
        deps[i].model = cfg->models[i].model ? cfg->models[i].model : "";
    }
    size_t n_cd = cc_router_cooldowns(w->current->gen->router, cc_now_ns() / 1000000, cd, n);
    for (size_t i = 0; i < n_cd && i < n; i++)
        if (cd[i].deployment >= 0 && (size_t)cd[i].deployment < n) deps[cd[i].deployment].cooling = 1;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint64_t now = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
    cc_metrics_process_t p = {
        .version = CCPROXY_VERSION,
        .uptime_s = (double)(now - srv->started_ms) / 1000.0,
        .requests_in_flight = atomic_load(&cc_stats.requests_in_flight),
        .open_streams = atomic_load(&cc_stats.open_streams),
        .generation = atomic_load(&srv->generation),
        .rule_errors = atomic_load(&cc_stats.rule_errors),
        .hook_errors = atomic_load(&cc_stats.hook_errors),
        .budget_exceeded = atomic_load(&cc_stats.budget_exceeded),
        .memory_errors = atomic_load(&cc_stats.memory_errors),
        .lua_bytes = atomic_load(&cc_stats.lua_bytes),
        .resident_bytes = cc_metrics_resident_bytes(),
        .deployments = deps,
        .n_deployments = n,
    };
    pthread_mutex_lock(&srv->lock);
    p.reloads_ok = srv->reload.count - srv->reload.failed;
    p.reloads_failed = srv->reload.failed;
    pthread_mutex_unlock(&srv->lock);
    cc_buf_t out = CC_BUF_INIT;
    cc_metrics_render(m, &p, &out);
    cc_conn_respond(c, 200, CC_METRICS_CONTENT_TYPE, out.data ? out.data : "", out.len, NULL);
    cc_buf_free(&out);
    free(deps);
    free(cd);
}

/* GET /v1/models: the configured model names in the Anthropic list shape. */
static void serve_models(cc_conn_t *c) {
    const cc_config_t *cfg = cc_conn_worker(c)->cfg;
    cJSON *o = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    const char *first = NULL, *last = NULL;
    for (size_t i = 0; i < cfg->n_models; i++) {
        const char *name = cfg->models[i].model_name;
        if (strchr(name, '*') || strchr(name, '?')) continue; /* globs are not models */
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "type", "model");
        cJSON_AddStringToObject(m, "id", name);
        cJSON_AddStringToObject(m, "display_name", name);
        cJSON_AddStringToObject(m, "created_at", "1970-01-01T00:00:00Z");
        cJSON_AddItemToArray(data, m);
        if (!first) first = name;
        last = name;
    }
    cJSON_AddBoolToObject(o, "has_more", 0);
    if (first)
        cJSON_AddStringToObject(o, "first_id", first);
    else
        cJSON_AddNullToObject(o, "first_id");
    if (last)
        cJSON_AddStringToObject(o, "last_id", last);
    else
        cJSON_AddNullToObject(o, "last_id");
    respond_json(c, 200, o);
}

/* "%41b" -> "Ab" into `out` (size n); false when it is malformed, too long or holds a NUL. */
static bool percent_decode(const char *s, char *out, size_t n) {
    size_t j = 0;
    for (size_t i = 0; s[i]; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            char hex[3] = {s[i + 1], s[i + 1] ? s[i + 2] : 0, 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (!hex[0] || !hex[1] || *end || v <= 0) return false;
            ch = (int)v;
            i += 2;
        }
        if (j + 1 >= n) return false;
        out[j++] = (char)ch;
    }
    out[j] = '\0';
    return j > 0;
}

/* GET /ccproxy/sessions/<id>: one Claude Code session's totals (record/sessions.h), read
 * only; the context windows from the current generation's configuration and prices. */
static void serve_session(cc_conn_t *c, const char *raw_id) {
    char id[CC_SESSION_ID_MAX + 1];
    cc_session_t ss;
    if (!percent_decode(raw_id, id, sizeof id) ||
        cc_sessions_get(cc_sessions_process(), id, &ss) != 0) {
        cc_conn_respond_error(c, 404, "not_found_error",
                              "ccproxy knows no session with this id (it keeps the sessions it "
                              "proxied since it started, the most recently used ones)");
        return;
    }
    const cc_gen_t *gen = cc_conn_worker(c)->current->gen;
    cc_buf_t body = CC_BUF_INIT;
    cc_session_json(&ss, gen->cfg, gen->prices, &body);
    cc_session_clear(&ss);
    cc_conn_respond(c, 200, "application/json", body.data ? body.data : "{}",
                    body.data ? body.len : 2, NULL);
    cc_buf_free(&body);
}

void cc_endpoints_dispatch(cc_conn_t *c, cc_request_t *req) {
    const char *p = req->path;
    /* HEAD is GET without the body (the connection leaves the body out, http/conn.c). */
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    bool post = strcmp(req->method, "POST") == 0;
    if (strcmp(p, "/v1/messages") == 0 || strcmp(p, "/v1/messages/count_tokens") == 0) {
        if (!post) {
            cc_conn_respond_error(c, 405, "invalid_request_error", "use POST for this endpoint");
            return;
        }
        cc_exchange_start(c, req);
        return;
    }
    if (strcmp(p, "/") == 0) {
        /* The root: clients probe it (Claude Code sends HEAD / before its first request). */
        if (!get)
            cc_conn_respond_error(c, 405, "invalid_request_error", "use GET or HEAD for /");
        else
            serve_root(c);
        return;
    }
    if (strcmp(p, "/health") == 0 || strcmp(p, "/health/liveliness") == 0 ||
        strcmp(p, "/health/readiness") == 0) {
        serve_health(c);
        return;
    }
    if (strcmp(p, "/metrics") == 0) {
        if (!get)
            cc_conn_respond_error(c, 405, "invalid_request_error", "use GET for /metrics");
        else
            serve_metrics(c);
        return;
    }
    if (get && strcmp(p, "/v1/models") == 0) {
        serve_models(c);
        return;
    }
    if (strncmp(p, "/ccproxy/sessions/", 18) == 0 && p[18] && !strchr(p + 18, '/')) {
        if (!get)
            cc_conn_respond_error(c, 405, "invalid_request_error", "use GET for this endpoint");
        else
            serve_session(c, p + 18);
        return;
    }
    if (cc_dashboard_path(p)) {
        cc_dashboard_serve(c, req);
        return;
    }
    char msg[512];
    snprintf(msg, sizeof msg, "%s %s is not an endpoint of ccproxy (it serves POST /v1/messages, "
             "POST /v1/messages/count_tokens, GET /v1/models, GET /health, GET /metrics, "
             "GET /ccproxy/sessions/<id>, GET /ui/)",
             req->method, p);
    cc_conn_respond_error(c, 404, "not_found_error", msg);
}
