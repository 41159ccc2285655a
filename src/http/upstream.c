/* upstream.c: one HTTP/1.1 request/response with an upstream (see upstream.h).
 *
 *   acquire connection -> write head + body -> llhttp(HTTP_RESPONSE) -> head/body/done
 *   timers: first byte (until the status line), then idle (between reads)
 */
#include "http/upstream.h"

#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "buf.h"
#include "log.h"

struct cc_upstream_s {
    cc_pool_t *pool;
    cc_upstream_req_t req;
    cc_upstream_cb_t cb;
    void *arg;
    cc_upconn_t *conn;
    llhttp_t parser;
    llhttp_settings_t settings;
    uv_timer_t *timer;   /* separately allocated: closing it outlives the exchange */
    cc_headers_t resp_headers;
    cc_buf_t field, value;
    bool header_value;
    bool head_done;
    bool any_byte;
    bool reused;
    bool retried;
    bool finished;
    bool paused;
    int status;
    int busy;            /* inside llhttp or cc_pool_acquire, which may call back: freeing
                            must wait until they return */
    bool free_pending;   /* x_free was asked for while busy */
    bool complete;       /* the response ended (set inside llhttp) */
    bool reusable;       /* ... and the connection may be kept */
};

static void on_timer_closed(uv_handle_t *h) {
    free(h);
}

/* Frees x, or, while a call that may call back into x runs (llhttp, the pool), marks it for
 * that call's caller to free. */
static void x_free(cc_upstream_t *x) {
    if (x->busy) {
        x->free_pending = true;
        return;
    }
    if (x->timer) {
        uv_timer_stop(x->timer);
        uv_close((uv_handle_t *)x->timer, on_timer_closed);
    }
    cc_headers_free(&x->resp_headers);
    cc_buf_free(&x->field);
    cc_buf_free(&x->value);
    free(x);
}

static void x_fail(cc_upstream_t *x, cc_up_fail_t kind, const char *msg) {
    if (x->finished) return;
    x->finished = true;
    if (x->conn) {
        cc_upconn_close(x->conn);
        x->conn = NULL;
    }
    cc_upstream_cb_t cb = x->cb;
    void *arg = x->arg;
    bool after = x->head_done;
    x_free(x);
    cb.fail(arg, kind, msg, after);
}

static void on_x_timeout(uv_timer_t *t) {
    cc_upstream_t *x = t->data;
    char msg[200];
    if (!x->head_done)
        snprintf(msg, sizeof msg, "the upstream sent no response within %u ms",
                 x->req.first_byte_timeout_ms);
    else
        snprintf(msg, sizeof msg, "the upstream went silent for %u ms inside its response",
                 x->req.idle_timeout_ms);
    x_fail(x, CC_UP_TIMEOUT, msg);
}

static void arm(cc_upstream_t *x, unsigned ms) {
    if (ms && x->timer) uv_timer_start(x->timer, on_x_timeout, ms, 0);
}

/* --- response parsing ------------------------------------------------------------------ */

#define X(p) ((cc_upstream_t *)(p)->data)

static int flush_field(cc_upstream_t *x) {
    if (!x->field.len) return 0;
    int rc = cc_headers_add(&x->resp_headers, x->field.data, x->field.len,
                            x->value.data ? x->value.data : "", x->value.len);
    cc_buf_reset(&x->field);
    cc_buf_reset(&x->value);
    return rc;
}

static int r_message_begin(llhttp_t *p) {
    cc_upstream_t *x = X(p);
    cc_headers_free(&x->resp_headers);
    cc_buf_reset(&x->field);
    cc_buf_reset(&x->value);
    x->header_value = false;
    return 0;
}

static int r_header_field(llhttp_t *p, const char *at, size_t len) {
    cc_upstream_t *x = X(p);
    if (x->header_value) {
        if (flush_field(x) < 0) return -1;
        x->header_value = false;
    }
    return cc_buf_append(&x->field, at, len);
}

static int r_header_value(llhttp_t *p, const char *at, size_t len) {
    cc_upstream_t *x = X(p);
    x->header_value = true;
    return cc_buf_append(&x->value, at, len);
}

static int r_headers_complete(llhttp_t *p) {
    cc_upstream_t *x = X(p);
    if (flush_field(x) < 0) return -1;
    if (p->status_code < 200) return 0; /* 1xx: an interim response; the real one follows */
    x->status = p->status_code;
    x->head_done = true;
    long long cl = (p->flags & F_CONTENT_LENGTH) ? (long long)p->content_length : -1;
    arm(x, x->req.idle_timeout_ms);
    x->cb.head(x->arg, x->status, &x->resp_headers, cl);
    return x->finished ? -1 : 0; /* the user may have cancelled x */
}

static int r_body(llhttp_t *p, const char *at, size_t len) {
    cc_upstream_t *x = X(p);
    x->cb.body(x->arg, at, len);
    return x->finished ? -1 : 0;
}

static int r_message_complete(llhttp_t *p) {
    cc_upstream_t *x = X(p);
    if (!x->head_done) return 0; /* end of a 1xx */
    x->complete = true;
    x->reusable = llhttp_should_keep_alive(p);
    return HPE_PAUSED; /* stop here; run_parser finishes the exchange */
}

/* Runs llhttp on `data` (or finishes the message at EOF when data is NULL), then does what the
 * callbacks asked for. Returns true when x is gone (finished, failed or cancelled). */
static bool run_parser(cc_upstream_t *x, const char *data, size_t len) {
    x->busy++;
    llhttp_errno_t err = data ? llhttp_execute(&x->parser, data, len) : llhttp_finish(&x->parser);
    x->busy--;
    if (x->free_pending) {
        x_free(x);
        return true;
    }
    if (x->complete) {
        x->finished = true;
        cc_upconn_t *conn = x->conn;
        x->conn = NULL;
        if (conn) cc_upconn_release(conn, x->reusable);
        cc_upstream_cb_t cb = x->cb;
        void *arg = x->arg;
        x_free(x);
        cb.done(arg);
        return true;
    }
    if (err == HPE_OK) return false;
    char msg[256];
    snprintf(msg, sizeof msg, "the upstream's response is not valid HTTP: %s",
             llhttp_get_error_reason(&x->parser));
    x_fail(x, CC_UP_BROKEN, msg);
    return true;
}

/* --- connection events ----------------------------------------------------------------- */

static void send_request(cc_upstream_t *x);

static void on_conn_data(cc_upconn_t *u, const char *data, size_t len, void *arg) {
    cc_upstream_t *x = arg;
    x->any_byte = true;
    if (x->head_done) arm(x, x->req.idle_timeout_ms);
    run_parser(x, data, len);
}

static void on_conn_closed(cc_upconn_t *u, int status, const char *err, void *arg) {
    cc_upstream_t *x = arg;
    x->conn = NULL;
    if (status == UV_EOF && x->head_done) {
        /* A response delimited by the close: llhttp decides whether that completes it. */
        if (run_parser(x, NULL, 0)) return;
        x_fail(x, CC_UP_BROKEN, "the upstream closed the connection mid-response");
        return;
    }
    if (!x->any_byte && x->reused && !x->retried) {
        /* A pooled connection the server had already closed: try once on a fresh one. */
        x->retried = true;
        x->reused = false;
        llhttp_reset(&x->parser);
        send_request(x);
        return;
    }
    char msg[320];
    snprintf(msg, sizeof msg, "%s%s", err ? err : "the upstream connection failed",
             x->head_done ? " (mid-response)" : "");
    x_fail(x, status == UV_ECONNRESET ? CC_UP_RESET : CC_UP_BROKEN, msg);
}

static void write_request(cc_upstream_t *x) {
    cc_buf_t head = CC_BUF_INIT;
    const cc_upstream_req_t *r = &x->req;
    cc_buf_printf(&head, "%s %s HTTP/1.1\r\n", r->method, r->target);
    bool default_port = (r->origin.tls && r->origin.port == 443) || (!r->origin.tls && r->origin.port == 80);
    bool v6 = strchr(r->origin.host, ':') != NULL;
    if (default_port)
        cc_buf_printf(&head, v6 ? "Host: [%s]\r\n" : "Host: %s\r\n", r->origin.host);
    else
        cc_buf_printf(&head, v6 ? "Host: [%s]:%d\r\n" : "Host: %s:%d\r\n", r->origin.host,
                      r->origin.port);
    for (size_t i = 0; i < r->headers->n; i++) {
        const cc_header_t *f = &r->headers->items[i];
        if (!strcasecmp(f->name, "host") || !strcasecmp(f->name, "content-length") ||
            !strcasecmp(f->name, "transfer-encoding") || !strcasecmp(f->name, "connection"))
            continue;
        cc_buf_printf(&head, "%s: %s\r\n", f->name, f->value);
    }
    cc_buf_printf(&head, "Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n", r->body_len);
    /* One write for small bodies, two otherwise (no copy of a large body). */
    if (r->body_len < 16384) {
        cc_buf_append(&head, r->body, r->body_len);
        cc_upconn_write(x->conn, head.data, head.len);
    } else {
        cc_upconn_write(x->conn, head.data, head.len);
        cc_upconn_write(x->conn, r->body, r->body_len);
    }
    cc_buf_free(&head);
    arm(x, x->req.first_byte_timeout_ms);
}

static void on_conn_ready(cc_upconn_t *u, int status, const char *err, bool reused, void *arg) {
    cc_upstream_t *x = arg;
    if (status < 0) {
        x->conn = NULL;
        bool tls = err && (strstr(err, "TLS") || strstr(err, "certificate") || strstr(err, "SSL"));
        x_fail(x, tls ? CC_UP_TLS : CC_UP_UNREACHABLE, err ? err : "cannot connect");
        return;
    }
    x->conn = u;
    x->reused = reused;
    if (x->paused) cc_upconn_pause(u);
    write_request(x);
}

/* Asks the pool for a connection. A pending one (resolving, connecting, in its TLS
 * handshake) is held in x->conn from the start, so that cancelling closes it and the pool never
 * calls back into a freed exchange. The pool may call on_conn_ready before it returns (a pooled
 * connection, or a failure), which may fail and free x: that free waits for this return. */
static void send_request(cc_upstream_t *x) {
    static const cc_upconn_handler_t h = {on_conn_ready, on_conn_data, on_conn_closed};
    x->any_byte = false;
    x->busy++;
    cc_upconn_t *u = cc_pool_acquire(x->pool, &x->req.origin, &h, x);
    x->busy--;
    if (x->free_pending) {
        x_free(x);
        return;
    }
    if (u && !x->finished && !x->conn) x->conn = u;
}

static void on_start(uv_timer_t *t) {
    send_request(t->data);
}

cc_upstream_t *cc_upstream_start(cc_pool_t *pool, const cc_upstream_req_t *req,
                                 const cc_upstream_cb_t *cb, void *arg) {
    cc_upstream_t *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->pool = pool;
    x->req = *req;
    x->cb = *cb;
    x->arg = arg;
    llhttp_settings_init(&x->settings);
    x->settings.on_message_begin = r_message_begin;
    x->settings.on_header_field = r_header_field;
    x->settings.on_header_value = r_header_value;
    x->settings.on_headers_complete = r_headers_complete;
    x->settings.on_body = r_body;
    x->settings.on_message_complete = r_message_complete;
    llhttp_init(&x->parser, HTTP_RESPONSE, &x->settings);
    x->parser.data = x;
    x->timer = malloc(sizeof *x->timer);
    uv_timer_init(cc_pool_loop(pool), x->timer);
    x->timer->data = x;
    /* Start on the next loop turn so no callback runs before this returns. The connect
     * timeout is the pool's; the first-byte timer starts once the request is written. */
    uv_timer_start(x->timer, on_start, 0, 0);
    return x;
}

void cc_upstream_pause(cc_upstream_t *x) {
    if (!x || x->finished || x->paused) return;
    x->paused = true;
    if (x->conn) cc_upconn_pause(x->conn);
}

void cc_upstream_resume(cc_upstream_t *x) {
    if (!x || x->finished || !x->paused) return;
    x->paused = false;
    if (x->conn) cc_upconn_resume(x->conn);
}

void cc_upstream_cancel(cc_upstream_t *x) {
    if (!x || x->finished) return;
    x->finished = true;
    if (x->conn) cc_upconn_close(x->conn);
    x->conn = NULL;
    x_free(x);
}

