/* upstream_pool.c: upstream connections and the keep-alive pool (see upstream_pool.h).
 *
 *   acquire -> idle one for this origin? -> ready(reused)
 *           -> resolve (uv_getaddrinfo) -> connect (timeout) -> TLS handshake -> ready
 *   release -> idle list of the origin (bounded, expires) or close
 */
#include "upstream_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "tls.h"

typedef enum { UC_RESOLVING, UC_CONNECTING, UC_HANDSHAKE, UC_ACTIVE, UC_IDLE, UC_CLOSING } uc_state_t;

typedef struct tls_ctx_entry_s {
    struct tls_ctx_entry_s *next;
    bool verify;
    char *ca_file;
    cc_tls_ctx_t *ctx;
} tls_ctx_entry_t;

struct cc_pool_s {
    uv_loop_t *loop;
    cc_limits_t limits_copy;
    const cc_limits_t *limits; /* &limits_copy */
    cc_upconn_t *idle;    /* idle connections, newest first */
    size_t n_idle;
    tls_ctx_entry_t *ctxs;
    bool shutdown;
    size_t live;          /* connections with open handles */
    bool freed;
};

struct cc_upconn_s {
    cc_pool_t *pool;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    uv_connect_t connect_req;
    uc_state_t state;
    char *key;            /* origin key: scheme://host:port|verify|ca */
    char *host;
    cc_tls_t *tls;
    cc_buf_t tls_buf;     /* scratch for ciphertext / plaintext */
    cc_upconn_handler_t h;
    void *arg;
    cc_upconn_t *next_idle;
    uint64_t idle_since;
    bool reading;
    bool paused;
    bool tcp_open;
    int handles;
    char read_buf[65536];
};

static void uc_close(cc_upconn_t *u, int status, const char *err, bool notify);

cc_pool_t *cc_pool_new(uv_loop_t *loop, const cc_limits_t *limits) {
    cc_pool_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->loop = loop;
    p->limits_copy = *limits;
    p->limits = &p->limits_copy;
    return p;
}

void cc_pool_set_limits(cc_pool_t *p, const cc_limits_t *limits) {
    p->limits_copy = *limits;
}

uv_loop_t *cc_pool_loop(cc_pool_t *p) {
    return p->loop;
}

static void pool_maybe_free(cc_pool_t *p) {
    if (!p->freed || p->live) return;
    for (tls_ctx_entry_t *e = p->ctxs, *n; e; e = n) {
        n = e->next;
        cc_tls_ctx_free(e->ctx);
        free(e->ca_file);
        free(e);
    }
    free(p);
}

static void idle_remove(cc_pool_t *p, cc_upconn_t *u) {
    for (cc_upconn_t **pp = &p->idle; *pp; pp = &(*pp)->next_idle) {
        if (*pp == u) {
            *pp = u->next_idle;
            u->next_idle = NULL;
            p->n_idle--;
            return;
        }
    }
}

void cc_pool_shutdown(cc_pool_t *p) {
    if (!p) return;
    p->shutdown = true;
    while (p->idle) uc_close(p->idle, 0, NULL, false);
}

void cc_pool_free(cc_pool_t *p) {
    if (!p) return;
    cc_pool_shutdown(p);
    p->freed = true;
    pool_maybe_free(p);
}

static cc_tls_ctx_t *pool_tls_ctx(cc_pool_t *p, bool verify, const char *ca_file, char *err,
                                  size_t errlen) {
    for (tls_ctx_entry_t *e = p->ctxs; e; e = e->next) {
        if (e->verify == verify &&
            ((!e->ca_file && !ca_file) || (e->ca_file && ca_file && !strcmp(e->ca_file, ca_file))))
            return e->ctx;
    }
    cc_tls_ctx_t *ctx = cc_tls_ctx_new(verify, ca_file, err, errlen);
    if (!ctx) return NULL;
    tls_ctx_entry_t *e = calloc(1, sizeof *e);
    e->verify = verify;
    e->ca_file = ca_file ? strdup(ca_file) : NULL;
    e->ctx = ctx;
    e->next = p->ctxs;
    p->ctxs = e;
    return ctx;
}

/* --- closing --------------------------------------------------------------------------- */

/* Drops one of the things keeping `u` alive (open handles, a pending resolver request). */
static void uc_unref(cc_upconn_t *u) {
    if (--u->handles > 0) return;
    cc_pool_t *p = u->pool;
    cc_tls_free(u->tls);
    cc_buf_free(&u->tls_buf);
    free(u->key);
    free(u->host);
    free(u);
    p->live--;
    pool_maybe_free(p);
}

static void on_uc_handle_closed(uv_handle_t *h) {
    uc_unref(h->data);
}

static void uc_close(cc_upconn_t *u, int status, const char *err, bool notify) {
    if (u->state == UC_CLOSING) return;
    if (u->state == UC_IDLE) idle_remove(u->pool, u);
    uc_state_t was = u->state;
    u->state = UC_CLOSING;
    cc_upconn_handler_t h = u->h;
    void *arg = u->arg;
    memset(&u->h, 0, sizeof u->h);
    if (was == UC_RESOLVING) {
        /* The getaddrinfo callback runs (cancelled) and finishes the close. */
        uv_cancel((uv_req_t *)&u->gai);
    }
    if (!uv_is_closing((uv_handle_t *)&u->timer)) uv_close((uv_handle_t *)&u->timer, on_uc_handle_closed);
    if (u->tcp_open && !uv_is_closing((uv_handle_t *)&u->tcp))
        uv_close((uv_handle_t *)&u->tcp, on_uc_handle_closed);
    if (notify) {
        if (was == UC_ACTIVE && h.closed)
            h.closed(u, status, err, arg);
        else if (was != UC_ACTIVE && was != UC_IDLE && h.ready)
            h.ready(u, status, err, false, arg);
    }
}

void cc_upconn_close(cc_upconn_t *u) {
    if (u) uc_close(u, 0, NULL, false);
}

/* --- reading and writing --------------------------------------------------------------- */

static void on_uc_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    cc_upconn_t *u = h->data;
    *buf = uv_buf_init(u->read_buf, sizeof u->read_buf);
}

static void on_uc_write(uv_write_t *w, int status) {
    cc_upconn_t *u = w->data;
    free(w);
    if (status < 0 && u->state == UC_ACTIVE) uc_close(u, status, uv_strerror(status), true);
}

static int raw_write(cc_upconn_t *u, const char *data, size_t len) {
    if (len == 0) return 0;
    uv_write_t *w = malloc(sizeof *w + len);
    if (!w) return -1;
    char *copy = (char *)(w + 1);
    memcpy(copy, data, len);
    w->data = u;
    uv_buf_t b = uv_buf_init(copy, (unsigned)len);
    if (uv_write(w, (uv_stream_t *)&u->tcp, &b, 1, on_uc_write) < 0) {
        free(w);
        return -1;
    }
    return 0;
}

static int flush_tls(cc_upconn_t *u) {
    cc_buf_reset(&u->tls_buf);
    if (cc_tls_take_output(u->tls, &u->tls_buf) < 0) return -1;
    return raw_write(u, u->tls_buf.data, u->tls_buf.len);
}

int cc_upconn_write(cc_upconn_t *u, const char *data, size_t len) {
    if (u->state != UC_ACTIVE) return -1;
    if (!u->tls) return raw_write(u, data, len);
    if (cc_tls_write(u->tls, data, len) < 0) return -1;
    return flush_tls(u);
}

static void finish_connect(cc_upconn_t *u);

static void on_uc_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    cc_upconn_t *u = s->data;
    if (nread == 0) return;
    if (u->state == UC_IDLE) {
        /* The server closed or spoke out of turn: this connection cannot be reused. */
        uc_close(u, 0, NULL, false);
        return;
    }
    if (nread < 0) {
        const char *why = nread == UV_EOF ? "the upstream closed the connection"
                                          : uv_strerror((int)nread);
        uc_close(u, (int)nread, why, true);
        return;
    }
    if (!u->tls) {
        if (u->state == UC_ACTIVE && u->h.data) u->h.data(u, buf->base, (size_t)nread, u->arg);
        return;
    }
    if (cc_tls_feed(u->tls, buf->base, (size_t)nread) < 0) {
        uc_close(u, -1, cc_tls_error(u->tls), true);
        return;
    }
    if (u->state == UC_HANDSHAKE) {
        int rc = cc_tls_handshake(u->tls);
        flush_tls(u);
        if (rc < 0) {
            uc_close(u, -1, cc_tls_error(u->tls), true);
            return;
        }
        if (rc == CC_TLS_DONE) finish_connect(u);
        if (u->state != UC_ACTIVE) return;
    }
    cc_buf_t plain = CC_BUF_INIT;
    int rc = cc_tls_read(u->tls, &plain);
    flush_tls(u); /* reading may produce protocol output (key updates, alerts) */
    if (plain.len && u->state == UC_ACTIVE && u->h.data) u->h.data(u, plain.data, plain.len, u->arg);
    cc_buf_free(&plain);
    if (u->state != UC_ACTIVE) return;
    if (rc == CC_TLS_CLOSED)
        uc_close(u, UV_EOF, "the upstream closed the connection", true);
    else if (rc < 0)
        uc_close(u, -1, cc_tls_error(u->tls), true);
}

static void start_reading(cc_upconn_t *u) {
    if (u->reading) return;
    if (uv_read_start((uv_stream_t *)&u->tcp, on_uc_alloc, on_uc_read) == 0) u->reading = true;
}

void cc_upconn_pause(cc_upconn_t *u) {
    if (u->state != UC_ACTIVE || u->paused) return;
    u->paused = true;
    uv_read_stop((uv_stream_t *)&u->tcp);
    u->reading = false;
}

void cc_upconn_resume(cc_upconn_t *u) {
    if (u->state != UC_ACTIVE || !u->paused) return;
    u->paused = false;
    start_reading(u);
}

/* --- connecting ------------------------------------------------------------------------ */

static void on_connect_timeout(uv_timer_t *t) {
    cc_upconn_t *u = t->data;
    char msg[300];
    snprintf(msg, sizeof msg, "connecting to %s timed out after %u ms", u->host,
             u->pool->limits->connect_timeout_ms);
    uc_close(u, UV_ETIMEDOUT, msg, true);
}

static void finish_connect(cc_upconn_t *u) {
    uv_timer_stop(&u->timer);
    u->state = UC_ACTIVE;
    if (u->h.ready) u->h.ready(u, 0, NULL, false, u->arg);
}

static void on_tcp_connect(uv_connect_t *req, int status) {
    cc_upconn_t *u = req->data;
    if (u->state == UC_CLOSING) return;
    if (status < 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "cannot connect to %s: %s", u->host, uv_strerror(status));
        uc_close(u, status, msg, true);
        return;
    }
    uv_tcp_nodelay(&u->tcp, 1);
    uv_tcp_keepalive(&u->tcp, 1, 60);
    start_reading(u);
    if (!u->tls) {
        finish_connect(u);
        return;
    }
    u->state = UC_HANDSHAKE;
    int rc = cc_tls_handshake(u->tls);
    flush_tls(u);
    if (rc < 0) uc_close(u, -1, cc_tls_error(u->tls), true);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    cc_upconn_t *u = req->data;
    if (u->state == UC_CLOSING) {
        uv_freeaddrinfo(res);
        uc_unref(u);
        return;
    }
    u->handles--; /* the resolver is done; the timer still holds u */
    if (status < 0 || !res) {
        char msg[300];
        snprintf(msg, sizeof msg, "cannot resolve %s: %s", u->host, uv_strerror(status));
        uv_freeaddrinfo(res);
        uc_close(u, status, msg, true);
        return;
    }
    uv_tcp_init(u->pool->loop, &u->tcp);
    u->tcp.data = u;
    u->tcp_open = true;
    u->handles++;
    u->state = UC_CONNECTING;
    u->connect_req.data = u;
    int rc = uv_tcp_connect(&u->connect_req, &u->tcp, res->ai_addr, on_tcp_connect);
    uv_freeaddrinfo(res);
    if (rc < 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "cannot connect to %s: %s", u->host, uv_strerror(rc));
        uc_close(u, rc, msg, true);
    }
}

static void on_idle_expired(uv_timer_t *t) {
    uc_close(t->data, 0, NULL, false);
}

static char *origin_key(const cc_origin_t *o) {
    cc_buf_t b = CC_BUF_INIT;
    cc_buf_printf(&b, "%s://%s:%d|%d|%s", o->tls ? "https" : "http", o->host, o->port,
                  o->verify ? 1 : 0, o->ca_file ? o->ca_file : "");
    return cc_buf_steal(&b, NULL);
}

cc_upconn_t *cc_pool_acquire(cc_pool_t *p, const cc_origin_t *origin,
                             const cc_upconn_handler_t *h, void *arg) {
    char *key = origin_key(origin);
    for (cc_upconn_t *u = p->idle; u; u = u->next_idle) {
        if (strcmp(u->key, key) != 0) continue;
        idle_remove(p, u);
        free(key);
        uv_timer_stop(&u->timer);
        u->state = UC_ACTIVE;
        u->h = *h;
        u->arg = arg;
        u->paused = false;
        start_reading(u);
        h->ready(u, 0, NULL, true, arg);
        return u;
    }
    char err[512] = "";
    cc_tls_ctx_t *ctx = NULL;
    if (origin->tls) {
        ctx = pool_tls_ctx(p, origin->verify, origin->ca_file, err, sizeof err);
        if (!ctx) {
            free(key);
            h->ready(NULL, -1, err, false, arg);
            return NULL;
        }
    }
    cc_upconn_t *u = calloc(1, sizeof *u);
    u->pool = p;
    u->key = key;
    u->host = strdup(origin->host);
    u->h = *h;
    u->arg = arg;
    u->state = UC_RESOLVING;
    if (ctx) u->tls = cc_tls_new(ctx, origin->host);
    uv_timer_init(p->loop, &u->timer);
    u->timer.data = u;
    u->handles = 2; /* the timer and the resolver request */
    p->live++;
    uv_timer_start(&u->timer, on_connect_timeout, p->limits->connect_timeout_ms, 0);
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof port, "%d", origin->port);
    u->gai.data = u;
    int rc = uv_getaddrinfo(p->loop, &u->gai, on_resolved, origin->host, port, &hints);
    if (rc < 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "cannot resolve %s: %s", origin->host, uv_strerror(rc));
        u->state = UC_CONNECTING; /* no resolver request to cancel */
        u->handles--;
        uc_close(u, rc, msg, true);
        return NULL;
    }
    return u;
}

void cc_upconn_release(cc_upconn_t *u, bool reusable) {
    cc_pool_t *p = u->pool;
    if (!reusable || p->shutdown || u->state != UC_ACTIVE ||
        p->n_idle >= p->limits->pool_max_idle * 8) {
        uc_close(u, 0, NULL, false);
        return;
    }
    /* Bound per origin. */
    size_t same = 0;
    for (cc_upconn_t *i = p->idle; i; i = i->next_idle)
        if (strcmp(i->key, u->key) == 0) same++;
    if (same >= p->limits->pool_max_idle) {
        uc_close(u, 0, NULL, false);
        return;
    }
    memset(&u->h, 0, sizeof u->h);
    u->arg = NULL;
    u->state = UC_IDLE;
    u->paused = false;
    start_reading(u); /* notice the server closing it */
    u->next_idle = p->idle;
    p->idle = u;
    p->n_idle++;
    uv_timer_start(&u->timer, on_idle_expired, p->limits->pool_idle_ttl_ms, 0);
}
