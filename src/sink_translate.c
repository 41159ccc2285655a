/* sink_translate.c: another provider's answer becomes Anthropic's (see sinks.h). The adapter
 * picks the client's status and fields from the upstream's head, then turns body pieces into
 * Anthropic events (or a whole message) as they arrive. While a translated stream is silent,
 * a ping every ping_ms keeps the client from giving up. */
#include <stdlib.h>

#include "buf.h"
#include "sinks.h"
#include "worker.h"

typedef struct {
    cc_sink_t base;
    const cc_provider_t *prov;
    const cc_xlate_ctx_t *ctx;
    cc_xlate_resp_t *xresp;
    cc_buf_t out;
    uv_loop_t *loop;
    unsigned ping_ms;
    uv_timer_t *ping; /* separately allocated: closing it outlives the sink */
    uint64_t last_emit_ns;
} translate_sink_t;

static void emit(translate_sink_t *k) {
    if (k->out.len) {
        k->last_emit_ns = cc_now_ns();
        cc_sink_body(k->base.next, k->out.data, k->out.len);
    }
    cc_buf_reset(&k->out);
}

static void on_ping(uv_timer_t *t) {
    translate_sink_t *k = t->data;
    if (!k->xresp || cc_now_ns() - k->last_emit_ns < (uint64_t)k->ping_ms * 1000000ull) return;
    if (k->prov->response_idle) k->prov->response_idle(k->xresp, &k->out);
    emit(k);
}

static void start_pings(translate_sink_t *k) {
    if (!k->ctx->stream || k->ping || !k->ping_ms) return;
    k->ping = malloc(sizeof *k->ping);
    if (!k->ping) return;
    uv_timer_init(k->loop, k->ping);
    k->ping->data = k;
    k->last_emit_ns = cc_now_ns();
    uv_timer_start(k->ping, on_ping, k->ping_ms, k->ping_ms);
}

static void translate_head(cc_sink_t *s, int status, cc_headers_t *h, long long cl) {
    (void)cl;
    translate_sink_t *k = (translate_sink_t *)s;
    cc_headers_t out = CC_HEADERS_INIT;
    int client_status = status;
    k->xresp = k->prov->response_new(k->ctx, status, h, &client_status, &out);
    start_pings(k);
    cc_sink_head(s->next, client_status, &out, -1);
    cc_headers_free(&out);
}

static void translate_body(cc_sink_t *s, const char *data, size_t len) {
    translate_sink_t *k = (translate_sink_t *)s;
    if (!k->xresp) return;
    k->prov->response_feed(k->xresp, data, len, &k->out);
    emit(k);
}

static void translate_end(cc_sink_t *s, int status) {
    translate_sink_t *k = (translate_sink_t *)s;
    if (k->xresp) {
        k->prov->response_end(k->xresp, &k->out);
        emit(k);
        /* A whole answer's status is final only now (it may end in an error). */
        if (!k->ctx->stream && k->prov->response_status) {
            int st = k->prov->response_status(k->xresp);
            if (st > 0) status = st;
        }
    }
    cc_sink_end(s->next, status);
}

static void on_ping_closed(uv_handle_t *h) {
    free(h);
}

static void translate_free(cc_sink_t *s) {
    translate_sink_t *k = (translate_sink_t *)s;
    if (k->ping) uv_close((uv_handle_t *)k->ping, on_ping_closed);
    if (k->xresp) k->prov->response_free(k->xresp);
    cc_buf_free(&k->out);
    free(k);
}

static const cc_sink_ops_t translate_ops = {translate_head, translate_body, translate_end,
                                            translate_free};

cc_sink_t *cc_sink_translate_new(const cc_provider_t *prov, const cc_xlate_ctx_t *ctx,
                                 uv_loop_t *loop, unsigned ping_ms) {
    translate_sink_t *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->base.ops = &translate_ops;
    k->prov = prov;
    k->ctx = ctx;
    k->loop = loop;
    k->ping_ms = ping_ms;
    return &k->base;
}
