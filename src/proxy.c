/* proxy.c: one proxied request (see proxy.h).
 *
 *   client request -> cc_preq_t -> pipeline (rules, hooks, route) -> upstream request
 *   upstream head  -> client head (hop-by-hop fields dropped)
 *   upstream body  -> client body, piece by piece; the client's write queue over its high
 *                     mark pauses the upstream, draining resumes it
 *   client gone    -> upstream cancelled at once
 *   failure        -> Anthropic error (before the head) or `event: error` + close (after)
 */
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "anthropic_thinking.h"
#include "api_error.h"
#include "log.h"
#include "oauth.h"
#include "pipeline.h"
#include "preq.h"
#include "sse.h"
#include "translate.h"
#include "upstream.h"
#include "url.h"
#include "worker.h"

typedef struct {
    cc_conn_t *conn;
    cc_worker_t *w;
    cc_wgen_t *wg;        /* the generation this request pinned */
    const cc_config_t *cfg; /* wg->gen->cfg */
    cc_preq_t r;
    cc_upstream_t *up;
    cc_upstream_req_t ur; /* kept for a retry */
    cc_headers_t up_headers;
    /* A 401 to a request that used an oat_sources token: held back while the token is
     * refreshed and the request retried once. */
    bool held_401;
    bool retried;
    bool refreshing;      /* waiting for the token command */
    bool client_gone;     /* ... and the client left meanwhile */
    cc_headers_t held_headers;
    cc_buf_t held_body;
    /* Another provider: the adapter translates the request and the answer. */
    const cc_provider_t *prov;
    cc_xlate_ctx_t xctx;
    cc_xlate_request_t xreq;
    cc_xlate_resp_t *xresp;
    cc_buf_t xout;
    bool head_held;          /* a whole translated answer: the head waits for its end */
    int held_status;
    cc_headers_t held_client_headers;
    cc_buf_t held_out;       /* ... and its body so far */
    cc_buf_t anthropic_body; /* the body without other providers' thinking blocks */
    uv_timer_t *ping_timer; /* pings while a translated stream is silent */
    uint64_t last_emit_ns;
    /* Event hooks: the upstream's SSE body is parsed and re-framed. */
    bool events;
    cc_sse_parser_t sse_in;
    cc_buf_t sse_out;
    char target[2048];
    char host[256];
    int status;
    bool sse;
    bool paused;
    size_t bytes;
    uint64_t start_ns, head_ns;
} exchange_t;

static void on_ping_timer_closed(uv_handle_t *h) {
    free(h);
}

static void ex_free(exchange_t *ex) {
    if (ex->ping_timer) uv_close((uv_handle_t *)ex->ping_timer, on_ping_timer_closed);
    if (ex->xresp) ex->prov->response_free(ex->xresp);
    cc_xlate_request_free(&ex->xreq);
    cc_buf_free(&ex->xout);
    cc_headers_free(&ex->held_client_headers);
    cc_buf_free(&ex->held_out);
    cc_buf_free(&ex->anthropic_body);
    cc_pipeline_release(ex->wg->pipeline, &ex->r);
    if (ex->events) cc_sse_parser_free(&ex->sse_in);
    cc_buf_free(&ex->sse_out);
    cc_preq_free(&ex->r);
    cc_headers_free(&ex->up_headers);
    cc_headers_free(&ex->held_headers);
    cc_buf_free(&ex->held_body);
    cc_wgen_unref(ex->wg);
    free(ex);
}

/* " name=value" for each tag a script added; values with spaces or quotes are quoted. */
static void format_tags(const cc_headers_t *tags, cc_buf_t *out) {
    for (size_t i = 0; i < tags->n; i++) {
        const char *v = tags->items[i].value;
        if (*v && !strpbrk(v, " \t\"=")) {
            cc_buf_printf(out, " %s=%s", tags->items[i].name, v);
        } else {
            cc_buf_printf(out, " %s=\"", tags->items[i].name);
            cc_buf_json_escape(out, v, strlen(v));
            cc_buf_puts(out, "\"");
        }
    }
}

static void log_line(exchange_t *ex, const char *outcome) {
    const cc_config_t *cfg = ex->cfg;
    cc_buf_t tags = CC_BUF_INIT;
    format_tags(&ex->r.tags, &tags);
    const char *dep = ex->r.routed ? cfg->models[ex->r.deployment].model_name : "-";
    double total = (double)(cc_now_ns() - ex->start_ns) / 1e6;
    double ttfb = ex->head_ns ? (double)(ex->head_ns - ex->start_ns) / 1e6 : -1;
    cc_info("%s %s %s rule=%s label=%s deployment=%s model=%s status=%d bytes=%zu ttfb=%.1fms "
            "total=%.1fms%s%s%s%s%s",
            cc_conn_request_id(ex->conn), ex->r.client->method, ex->r.client->path,
            ex->r.rule ? ex->r.rule : "-", ex->r.label ? ex->r.label : "default", dep,
            ex->r.upstream_model ? ex->r.upstream_model : "-", ex->status, ex->bytes, ttfb,
            total, ex->r.session_id ? " session=" : "", ex->r.session_id ? ex->r.session_id : "",
            outcome ? " " : "", outcome ? outcome : "", tags.data ? tags.data : "");
    cc_buf_free(&tags);
}

/* The done stage: after the client got everything (or went away). */
static void run_done(exchange_t *ex, const char *outcome) {
    if (!cc_pipeline_stages(ex->wg->pipeline)->done || !ex->r.routed) return;
    cc_done_info_t info = {
        .status = ex->status,
        .bytes = ex->bytes,
        .ttfb_ms = ex->head_ns ? (double)(ex->head_ns - ex->start_ns) / 1e6 : -1,
        .total_ms = (double)(cc_now_ns() - ex->start_ns) / 1e6,
        .outcome = outcome,
    };
    cc_pipeline_done(ex->wg->pipeline, &ex->r, &info);
}

/* --- client events --------------------------------------------------------------------- */

static void on_client_drain(void *arg) {
    exchange_t *ex = arg;
    if (ex->paused) {
        ex->paused = false;
        cc_upstream_resume(ex->up);
    }
}

static void on_client_gone(void *arg) {
    exchange_t *ex = arg;
    if (ex->refreshing) { /* the token command still runs; it frees ex when it ends */
        ex->client_gone = true;
        return;
    }
    cc_upstream_cancel(ex->up);
    ex->up = NULL;
    ex->status = ex->status ? ex->status : 499;
    log_line(ex, "client-closed");
    run_done(ex, "client-closed");
    ex_free(ex);
}

/* --- upstream events ------------------------------------------------------------------- */

static int on_sse_event(void *arg, const cc_sse_event_t *ev);

/* Client bytes of the answer: through the event hooks when there are any. */
static void emit(exchange_t *ex, const char *data, size_t len) {
    if (!len) return;
    ex->last_emit_ns = cc_now_ns();
    if (ex->events) {
        cc_buf_reset(&ex->sse_out);
        cc_sse_feed(&ex->sse_in, data, len);
        if (ex->sse_out.len) cc_conn_write_body(ex->conn, ex->sse_out.data, ex->sse_out.len);
    } else {
        cc_conn_write_body(ex->conn, data, len);
    }
}

/* While a translated stream is silent, a ping now and then keeps the client from giving up. */
static void on_ping(uv_timer_t *t) {
    exchange_t *ex = t->data;
    uint64_t interval = uv_timer_get_repeat(t) * 1000000ull;
    if (!ex->xresp || cc_now_ns() - ex->last_emit_ns < interval) return;
    cc_buf_reset(&ex->xout);
    if (ex->prov->response_idle) ex->prov->response_idle(ex->xresp, &ex->xout);
    emit(ex, ex->xout.data, ex->xout.len);
}

static void start_pings(exchange_t *ex) {
    if (!ex->xctx.stream || ex->ping_timer) return;
    static unsigned interval_ms;
    if (!interval_ms) {
        const char *env = getenv("CCPROXY_PING_INTERVAL_MS");
        long v = env ? strtol(env, NULL, 10) : 0;
        interval_ms = v > 0 ? (unsigned)v : 15000;
    }
    ex->ping_timer = malloc(sizeof *ex->ping_timer);
    if (!ex->ping_timer) return;
    uv_timer_init(&ex->w->loop, ex->ping_timer);
    ex->ping_timer->data = ex;
    ex->last_emit_ns = cc_now_ns();
    uv_timer_start(ex->ping_timer, on_ping, interval_ms, interval_ms);
}

static int on_sse_event(void *arg, const cc_sse_event_t *ev) {
    exchange_t *ex = arg;
    cc_pipeline_event(ex->wg->pipeline, &ex->r, ev->event, ev->data, ev->data_len, &ex->sse_out);
    return 0;
}

static void on_up_head(void *arg, int status, const cc_headers_t *h, long long content_length) {
    exchange_t *ex = arg;
    ex->status = status;
    if (status == 401 && ex->r.oauth_provider && !ex->retried) {
        ex->held_401 = true;
        cc_headers_free(&ex->held_headers);
        cc_headers_copy(&ex->held_headers, h);
        return;
    }
    ex->head_ns = cc_now_ns();
    cc_headers_t out = CC_HEADERS_INIT;
    if (ex->prov) {
        /* The adapter decides the client's status and fields (content type, retry-after). */
        int client_status = status;
        ex->xresp = ex->prov->response_new(&ex->xctx, status, h, &client_status, &out);
        status = client_status;
        content_length = -1;
        start_pings(ex);
    } else {
        for (size_t i = 0; i < h->n; i++) {
            const cc_header_t *f = &h->items[i];
            if (cc_headers_is_hop_by_hop(h, f->name)) continue;
            cc_headers_add(&out, f->name, strlen(f->name), f->value, strlen(f->value));
        }
    }
    const char *ct = cc_headers_get(&out, "content-type");
    ex->sse = ct && strncasecmp(ct, "text/event-stream", 17) == 0;
    const cc_config_t *cfg = ex->cfg;
    if (ex->r.routed) {
        cc_headers_set(&out, "x-ccproxy-deployment", cfg->models[ex->r.deployment].model_name);
        if (ex->r.upstream_model) cc_headers_set(&out, "x-ccproxy-model", ex->r.upstream_model);
    }
    cc_headers_set(&out, "x-ccproxy-label", ex->r.label ? ex->r.label : "default");
    const cc_stages_t *st = cc_pipeline_stages(ex->wg->pipeline);
    if (st->response) cc_pipeline_response(ex->wg->pipeline, &ex->r, &status, &out);
    if (st->event && ex->sse) {
        ex->events = true;
        cc_sse_parser_init(&ex->sse_in, on_sse_event, ex);
        content_length = -1; /* re-framed events may differ in length */
    }
    ex->status = status;
    if (ex->xresp && !ex->xctx.stream) {
        /* A whole translated answer may turn out to be an error only at its end. */
        ex->head_held = true;
        ex->held_status = status;
        ex->held_client_headers = out;
        return;
    }
    cc_conn_write_head(ex->conn, status, &out, content_length);
    cc_headers_free(&out);
}

static void on_up_body(void *arg, const char *data, size_t len) {
    exchange_t *ex = arg;
    if (ex->held_401) {
        if (ex->held_body.len + len <= 65536) cc_buf_append(&ex->held_body, data, len);
        return;
    }
    ex->bytes += len;
    if (ex->xresp && ex->head_held) {
        ex->prov->response_feed(ex->xresp, data, len, &ex->held_out);
    } else if (ex->xresp) {
        cc_buf_reset(&ex->xout);
        ex->prov->response_feed(ex->xresp, data, len, &ex->xout);
        emit(ex, ex->xout.data, ex->xout.len);
    } else {
        emit(ex, data, len);
    }
    if (!ex->paused && cc_conn_write_queue(ex->conn) > CC_CONN_HIGH_WATER) {
        ex->paused = true;
        cc_upstream_pause(ex->up);
    }
}

static void start_upstream(exchange_t *ex);
static void retry_after_refresh(exchange_t *ex);

static void on_up_done(void *arg) {
    exchange_t *ex = arg;
    ex->up = NULL;
    if (ex->held_401) {
        retry_after_refresh(ex);
        return;
    }
    cc_conn_set_observer(ex->conn, NULL);
    if (ex->xresp) {
        if (ex->head_held) {
            /* The whole answer was collected by the adapter: now its status is final. */
            ex->prov->response_end(ex->xresp, &ex->held_out);
            int st = ex->prov->response_status ? ex->prov->response_status(ex->xresp) : 0;
            if (st > 0) ex->status = ex->held_status = st;
            ex->head_held = false;
            cc_conn_write_head(ex->conn, ex->held_status, &ex->held_client_headers,
                               (long long)ex->held_out.len);
            emit(ex, ex->held_out.data, ex->held_out.len);
        } else {
            cc_buf_reset(&ex->xout);
            ex->prov->response_end(ex->xresp, &ex->xout);
            emit(ex, ex->xout.data, ex->xout.len);
        }
    }
    if (ex->events) {
        cc_buf_reset(&ex->sse_out);
        cc_sse_finish(&ex->sse_in);
        if (ex->sse_out.len) cc_conn_write_body(ex->conn, ex->sse_out.data, ex->sse_out.len);
    }
    log_line(ex, NULL);
    cc_conn_end(ex->conn);
    run_done(ex, NULL);
    ex_free(ex);
}

static void on_up_fail(void *arg, cc_up_fail_t kind, const char *msg, bool after_head) {
    exchange_t *ex = arg;
    ex->up = NULL;
    cc_conn_set_observer(ex->conn, NULL);
    const char *dep = ex->r.routed ? ex->cfg->models[ex->r.deployment].model_name : "?";
    char text[1024];
    snprintf(text, sizeof text, "upstream %s (%s): %s", dep, ex->host, msg);
    cc_warn("%s %s", cc_conn_request_id(ex->conn), text);
    if (ex->head_held) after_head = false; /* the client has seen nothing yet */
    if (after_head) {
        if (ex->sse) {
            cc_buf_t ev = CC_BUF_INIT;
            cc_api_error_sse(&ev, "api_error", text);
            cc_conn_write_body(ex->conn, ev.data, ev.len);
            cc_buf_free(&ev);
            cc_conn_close_after_response(ex->conn);
            log_line(ex, "upstream-broke");
            cc_conn_end(ex->conn);
        } else {
            log_line(ex, "upstream-broke");
            cc_conn_abort(ex->conn);
        }
        run_done(ex, "upstream-broke");
        ex_free(ex);
        return;
    }
    int status;
    const char *type;
    switch (kind) {
    case CC_UP_UNREACHABLE: status = 529; type = "overloaded_error"; break;
    case CC_UP_TIMEOUT: status = 504; type = "api_error"; break;
    default: status = 502; type = "api_error"; break;
    }
    ex->status = status;
    log_line(ex, "upstream-failed");
    if (kind == CC_UP_TLS) {
        /* Retrying cannot fix a certificate problem: tell the client not to. */
        cc_buf_t body = CC_BUF_INIT;
        cc_api_error_json(&body, type, text);
        cc_headers_t h = CC_HEADERS_INIT;
        cc_headers_set(&h, "x-should-retry", "false");
        cc_conn_respond(ex->conn, status, "application/json", body.data, body.len, &h);
        cc_headers_free(&h);
        cc_buf_free(&body);
    } else {
        cc_conn_respond_error(ex->conn, status, type, text);
    }
    run_done(ex, "upstream-failed");
    ex_free(ex);
}

/* --- 401 with an oat_sources token: refresh it, retry once -------------------------------- */

/* Sends the 401 that was held back, as the upstream gave it. */
static void relay_held_401(exchange_t *ex) {
    cc_headers_t out = CC_HEADERS_INIT;
    for (size_t i = 0; i < ex->held_headers.n; i++) {
        const cc_header_t *f = &ex->held_headers.items[i];
        if (cc_headers_is_hop_by_hop(&ex->held_headers, f->name)) continue;
        cc_headers_add(&out, f->name, strlen(f->name), f->value, strlen(f->value));
    }
    ex->status = 401;
    ex->head_ns = cc_now_ns();
    log_line(ex, "token-refresh-did-not-help");
    cc_conn_set_observer(ex->conn, NULL);
    cc_conn_respond(ex->conn, 401, NULL, ex->held_body.data ? ex->held_body.data : "",
                    ex->held_body.len, &out);
    cc_headers_free(&out);
    ex_free(ex);
}

static void on_token_refreshed(void *arg, int ok) {
    exchange_t *ex = arg;
    ex->refreshing = false;
    if (ex->client_gone) {
        ex->status = 499;
        log_line(ex, "client-closed");
        ex_free(ex);
        return;
    }
    char *token = NULL, *ua = NULL;
    if (!ok || cc_oauth_get(ex->r.oauth_provider, &token, &ua, NULL) < 0 ||
        (ex->r.oauth_token && strcmp(token, ex->r.oauth_token) == 0)) {
        free(token);
        free(ua);
        relay_held_401(ex);
        return;
    }
    /* Put the new token where the old one was sent. */
    for (size_t i = 0; i < ex->up_headers.n; i++) {
        cc_header_t *f = &ex->up_headers.items[i];
        char *at = ex->r.oauth_token ? strstr(f->value, ex->r.oauth_token) : NULL;
        if (!at) continue;
        cc_buf_t v = CC_BUF_INIT;
        cc_buf_append(&v, f->value, (size_t)(at - f->value));
        cc_buf_puts(&v, token);
        cc_buf_puts(&v, at + strlen(ex->r.oauth_token));
        free(f->value);
        f->value = cc_buf_steal(&v, NULL);
    }
    free(ex->r.oauth_token);
    ex->r.oauth_token = token;
    free(ua);
    ex->held_401 = false;
    cc_headers_free(&ex->held_headers);
    cc_buf_reset(&ex->held_body);
    cc_info("%s upstream answered 401: refreshed the %s token, retrying once",
            cc_conn_request_id(ex->conn), ex->r.oauth_provider);
    start_upstream(ex);
}

static void retry_after_refresh(exchange_t *ex) {
    ex->retried = true;
    const cc_oat_source_t *src = NULL;
    for (size_t i = 0; i < ex->cfg->n_oat_sources; i++)
        if (strcmp(ex->cfg->oat_sources[i].provider, ex->r.oauth_provider) == 0)
            src = &ex->cfg->oat_sources[i];
    if (!src || !ex->w->oauth) {
        relay_held_401(ex);
        return;
    }
    ex->refreshing = true;
    cc_oauth_run(ex->w->oauth, src, on_token_refreshed, ex);
}

/* --- the request ----------------------------------------------------------------------- */

static void fail_early(exchange_t *ex, int status, const char *type, const char *msg) {
    ex->status = status;
    log_line(ex, "rejected");
    cc_conn_respond_error(ex->conn, status, type, msg);
    ex_free(ex);
}

/* Client fields that mean something only to Anthropic's API, or are its SDK's telemetry. */
static bool anthropic_only(const char *name) {
    return strncasecmp(name, "anthropic-", 10) == 0 || strncasecmp(name, "x-stainless-", 12) == 0 ||
           strcasecmp(name, "x-api-key") == 0;
}

/* The upstream fields of a translated request: the client's end-to-end fields minus the
 * Anthropic ones and the client's own credentials (unless a hook set them, as forward_oauth
 * does for the providers its forward_to names), then the adapter's fields. */
static void translated_headers(exchange_t *ex) {
    const cc_headers_t *client = &ex->r.client->headers;
    for (size_t i = 0; i < ex->r.headers.n; i++) {
        const cc_header_t *f = &ex->r.headers.items[i];
        if (anthropic_only(f->name)) continue;
        if (strcasecmp(f->name, "authorization") == 0 &&
            !cc_headers_get(&ex->r.written, "authorization")) {
            /* The client's own credentials, which no hook chose to send to this provider. */
            const char *theirs = cc_headers_get(client, "authorization");
            if (theirs && strcmp(theirs, f->value) == 0) continue;
        }
        cc_headers_add(&ex->up_headers, f->name, strlen(f->name), f->value, strlen(f->value));
    }
    for (size_t i = 0; i < ex->xreq.headers.n; i++)
        cc_headers_set(&ex->up_headers, ex->xreq.headers.items[i].name,
                       ex->xreq.headers.items[i].value);
}

/* Builds the provider's request; answers the client itself on errors and local answers.
 * Returns 0 to go on upstream, -1 when the exchange is over. */
static int translate_request(exchange_t *ex, const cc_model_t *d) {
    const cc_buf_t *body = cc_preq_body(&ex->r);
    ex->xctx = (cc_xlate_ctx_t){
        .deployment = d,
        .upstream_model = ex->r.upstream_model,
        .client_model = ex->r.model ? ex->r.model : ex->r.upstream_model,
        .endpoint = ex->r.endpoint,
        .stream = ex->r.stream,
    };
    cc_buf_t err = CC_BUF_INIT;
    if (ex->prov->request(&ex->xctx, body->data ? body->data : "", body->len, &ex->xreq,
                          &err) < 0) {
        fail_early(ex, 400, "invalid_request_error",
                   err.data ? err.data : "the request cannot be translated");
        cc_buf_free(&err);
        return -1;
    }
    cc_buf_free(&err);
    if (ex->xreq.local_answer) {
        ex->status = 200;
        log_line(ex, "answered-locally");
        cc_conn_respond(ex->conn, 200, "application/json",
                        ex->xreq.body.data ? ex->xreq.body.data : "{}", ex->xreq.body.len, NULL);
        ex_free(ex);
        return -1;
    }
    /* response_new may read the client body (a Perplexity answer names the search query). */
    ex->xctx.body = body->data;
    ex->xctx.body_len = body->len;
    return 0;
}

void cc_proxy_handle(cc_conn_t *c, cc_request_t *req) {
    cc_worker_t *w = cc_conn_worker(c);
    exchange_t *ex = calloc(1, sizeof *ex);
    if (!ex) {
        cc_conn_respond_error(c, 500, "api_error", "out of memory");
        return;
    }
    ex->conn = c;
    ex->w = w;
    ex->wg = w->current;
    cc_wgen_ref(ex->wg);
    ex->cfg = ex->wg->gen->cfg;
    ex->start_ns = req->start_ns ? req->start_ns : cc_now_ns();
    cc_buf_t err = CC_BUF_INIT;
    if (cc_preq_init(&ex->r, req, ex->cfg, cc_conn_request_id(c), &err) < 0) {
        fail_early(ex, 400, "invalid_request_error", err.data);
        cc_buf_free(&err);
        return;
    }
    int prc = cc_pipeline_run(ex->wg->pipeline, &ex->r, &err);
    if (prc == -2) {
        fail_early(ex, 500, "api_error", err.data ? err.data : "a hook failed");
        cc_buf_free(&err);
        return;
    }
    if (prc < 0) {
        fail_early(ex, 404, "not_found_error", err.data ? err.data : "cannot route the request");
        cc_buf_free(&err);
        return;
    }
    cc_buf_free(&err);
    const cc_model_t *d = &ex->cfg->models[ex->r.deployment];
    ex->prov = cc_provider_for(d->provider);
    if (ex->prov && translate_request(ex, d) < 0) return;
    cc_url_t url;
    char uerr[300];
    if (!d->api_base || cc_url_parse(d->api_base, &url, uerr, sizeof uerr) < 0) {
        fail_early(ex, 500, "api_error", d->api_base ? uerr : "the deployment has no api_base");
        return;
    }
    snprintf(ex->host, sizeof ex->host, "%s", url.host);
    const cc_buf_t *body = cc_preq_body(&ex->r);
    if (ex->prov) {
        snprintf(ex->target, sizeof ex->target, "%s%s", url.path,
                 ex->xreq.target.data ? ex->xreq.target.data : "");
        translated_headers(ex);
        body = &ex->xreq.body;
    } else {
        cc_url_target(&url, req->path, req->query, ex->target, sizeof ex->target);
        cc_headers_copy(&ex->up_headers, &ex->r.headers);
        /* Reasoning another provider produced never reaches Anthropic with a made-up
         * signature. */
        if (cc_anthropic_strip_foreign_thinking(body->data ? body->data : "", body->len,
                                                &ex->anthropic_body) == 1)
            body = &ex->anthropic_body;
    }
    if (ex->prov || cc_pipeline_stages(ex->wg->pipeline)->event) /* the answer is read */
        cc_headers_set(&ex->up_headers, "Accept-Encoding", "identity");
    ex->ur = (cc_upstream_req_t){
        .origin = {.tls = url.tls, .host = ex->host, .port = url.port, .verify = d->ssl_verify,
                   .ca_file = d->ca_file},
        .method = req->method,
        .target = ex->target,
        .headers = &ex->up_headers,
        .body = body->data ? body->data : "",
        .body_len = body->len,
        .first_byte_timeout_ms = d->timeout > 0 ? (unsigned)(d->timeout * 1000)
                                                : ex->cfg->limits.first_byte_timeout_ms,
        .idle_timeout_ms = ex->cfg->limits.upstream_idle_timeout_ms,
    };
    cc_conn_observer_t obs = {on_client_drain, on_client_gone, ex};
    cc_conn_set_observer(c, &obs);
    start_upstream(ex);
}

static void start_upstream(exchange_t *ex) {
    static const cc_upstream_cb_t up_cb = {on_up_head, on_up_body, on_up_done, on_up_fail};
    ex->up = cc_upstream_start(ex->w->pool, &ex->ur, &up_cb, ex);
    if (!ex->up) {
        cc_conn_set_observer(ex->conn, NULL);
        fail_early(ex, 500, "api_error", "out of memory");
    }
}
