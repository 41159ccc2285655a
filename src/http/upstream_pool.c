/* upstream_pool.c: upstream connections and the keep-alive pool (see upstream_pool.h).
 *
 *   acquire -> idle one for this origin? -> ready(reused)
 *           -> resolve (uv_getaddrinfo) -> connect -> TLS handshake -> ready
 *   release -> idle list of the origin (bounded, expires) or close
 *
 * Connecting (RFC 8305, Happy Eyeballs, without separate A/AAAA queries): the resolved
 * addresses are ordered with their families interleaved, starting with the family the
 * resolver put first. Each address gets its own attempt (socket and connect request). The
 * first attempt starts at once; the next one starts as soon as an attempt fails, or when the
 * newest one has gone CC_POOL_ATTEMPT_DELAY_MS without an answer (earlier attempts keep
 * trying). The first attempt to connect wins and every other one is closed; the TLS
 * handshake runs on the winner only. One timer, connect_timeout_ms, bounds all of it from
 * acquire on (resolving, every attempt, the handshake).
 *
 * Lifetime: a connection is freed when every libuv handle it opened (the two timers, each
 * attempt's socket) is closed and the resolver request has called back. Closing a socket
 * makes libuv call its pending connect callback (UV_ECANCELED) before the close callback, so
 * an attempt's callback always finds its connection alive.
 */
#include "http/upstream_pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "log.h"
#include "http/tls.h"

typedef enum { UC_RESOLVING, UC_CONNECTING, UC_HANDSHAKE, UC_ACTIVE, UC_IDLE, UC_CLOSING } uc_state_t;

/* At most this many resolved addresses are tried. */
#define UC_MAX_ADDRS 32

typedef enum { UA_WAITING, UA_CONNECTING, UA_FAILED, UA_WON, UA_DROPPED } ua_state_t;

/* One address's connection attempt. */
typedef struct {
    cc_upconn_t *u;
    struct sockaddr_storage addr;
    uv_tcp_t tcp;         /* tcp.data is the connection (its close callback unrefs it) */
    uv_connect_t req;     /* req.data is the attempt */
    ua_state_t state;
    int status;           /* why it failed (UA_FAILED) */
    bool open;            /* tcp is initialised: it must be closed */
} uc_attempt_t;

typedef struct tls_ctx_entry_s {
    struct tls_ctx_entry_s *next;
    bool verify;
    char *ca_file;
    cc_tls_ctx_t *ctx;
} tls_ctx_entry_t;

struct cc_pool_s {
    uv_loop_t *loop;
    cc_pool_limits_t limits_copy;
    const cc_pool_limits_t *limits; /* &limits_copy */
    cc_upconn_t *idle;    /* idle connections, newest first */
    size_t n_idle;
    tls_ctx_entry_t *ctxs;
    bool shutdown;
    size_t live;          /* connections with open handles */
    bool freed;
};

struct cc_upconn_s {
    cc_pool_t *pool;
    uv_tcp_t *tcp;        /* the winning attempt's socket, once connected */
    uv_timer_t timer;     /* connect timeout, then idle expiry */
    uv_timer_t delay;     /* connection attempt delay; closed once connected */
    uv_getaddrinfo_t gai;
    uc_attempt_t *att;    /* one per address, in the order they are tried */
    size_t n_att;
    size_t next_att;      /* the next attempt to start */
    size_t racing;        /* attempts with a connect request pending */
    uc_state_t state;
    char *key;            /* origin key: scheme://host:port|verify|ca */
    char *host;
    int port;
    cc_tls_t *tls;
    cc_buf_t tls_buf;     /* scratch for ciphertext / plaintext */
    cc_upconn_handler_t h;
    void *arg;
    cc_upconn_t *next_idle;
    uint64_t idle_since;
    bool reading;
    bool paused;
    int handles;
    char read_buf[65536];
};

static void uc_close(cc_upconn_t *u, int status, const char *err, bool notify);

cc_pool_t *cc_pool_new(uv_loop_t *loop, const cc_pool_limits_t *limits) {
    cc_pool_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->loop = loop;
    p->limits_copy = *limits;
    p->limits = &p->limits_copy;
    return p;
}

void cc_pool_set_limits(cc_pool_t *p, const cc_pool_limits_t *limits) {
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
    free(u->att);
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
    if (!uv_is_closing((uv_handle_t *)&u->delay))
        uv_close((uv_handle_t *)&u->delay, on_uc_handle_closed);
    /* Pending connect requests call back with UV_ECANCELED, which is ignored. */
    for (size_t i = 0; i < u->n_att; i++) {
        uc_attempt_t *a = &u->att[i];
        if (a->open && !uv_is_closing((uv_handle_t *)&a->tcp))
            uv_close((uv_handle_t *)&a->tcp, on_uc_handle_closed);
    }
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
    if (uv_write(w, (uv_stream_t *)u->tcp, &b, 1, on_uc_write) < 0) {
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

/* Whether the socket holds a reset not yet reported. libuv reports EOF when a hang-up comes
 * with the last bytes in one poll, without the read that would have returned ECONNRESET; the
 * pending socket error still tells a reset from a close. */
static bool reset_pending(uv_tcp_t *tcp) {
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)tcp, &fd) != 0) return false;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return false;
    return err == ECONNRESET;
}

static void on_uc_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    cc_upconn_t *u = s->data;
    if (nread == 0) return;
    if (u->state == UC_IDLE) {
        /* The server closed or spoke out of turn: this connection cannot be reused. */
        uc_close(u, 0, NULL, false);
        return;
    }
    if (nread == UV_EOF && reset_pending(u->tcp)) nread = UV_ECONNRESET;
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
    if (uv_read_start((uv_stream_t *)u->tcp, on_uc_alloc, on_uc_read) == 0) u->reading = true;
}

void cc_upconn_pause(cc_upconn_t *u) {
    if (u->state != UC_ACTIVE || u->paused) return;
    u->paused = true;
    uv_read_stop((uv_stream_t *)u->tcp);
    u->reading = false;
}

void cc_upconn_resume(cc_upconn_t *u) {
    if (u->state != UC_ACTIVE || !u->paused) return;
    u->paused = false;
    start_reading(u);
}

/* --- connecting ------------------------------------------------------------------------ */

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
    if (a->ss_family != b->ss_family) return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

size_t cc__order_addrs(struct sockaddr_storage *addrs, size_t n) {
    /* Keep the first copy of each IPv4 and IPv6 address, in the resolver's order. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        int fam = addrs[i].ss_family;
        if (fam != AF_INET && fam != AF_INET6) continue;
        bool dup = false;
        for (size_t j = 0; j < kept && !dup; j++) dup = same_addr(&addrs[j], &addrs[i]);
        if (dup) continue;
        if (kept != i) addrs[kept] = addrs[i];
        kept++;
    }
    if (kept < 3) return kept;
    /* Interleave the families, the first address's family first, each family in order. */
    struct sockaddr_storage *tmp = malloc(kept * sizeof *tmp);
    if (!tmp) return kept;
    int first = addrs[0].ss_family;
    size_t fi = 0, oi = 0, out = 0; /* next of the first family, next of the other */
    for (bool want_first = true; out < kept; want_first = !want_first) {
        size_t *pos = want_first ? &fi : &oi;
        while (*pos < kept && (addrs[*pos].ss_family == first) != want_first) (*pos)++;
        if (*pos < kept) tmp[out++] = addrs[(*pos)++];
    }
    memcpy(addrs, tmp, kept * sizeof *tmp);
    free(tmp);
    return kept;
}

/* The address as text, without the port ("::1", "127.0.0.1"). */
static void addr_name(const struct sockaddr_storage *sa, char *out, size_t len) {
    int rc = sa->ss_family == AF_INET6 ? uv_ip6_name((const void *)sa, out, len)
                                       : uv_ip4_name((const void *)sa, out, len);
    if (rc != 0) snprintf(out, len, "?");
}

/* Appends "host:port" ("[::1]:443" for an IPv6 literal). */
static void put_origin(cc_buf_t *b, const cc_upconn_t *u) {
    cc_buf_printf(b, strchr(u->host, ':') ? "[%s]:%d" : "%s:%d", u->host, u->port);
}

/* Appends what each started attempt said: "::1 connection refused; 127.0.0.1 no answer". */
static void put_attempts(cc_buf_t *b, const cc_upconn_t *u) {
    const char *sep = "";
    for (size_t i = 0; i < u->n_att; i++) {
        const uc_attempt_t *a = &u->att[i];
        if (a->state == UA_WAITING) continue;
        char name[64];
        addr_name(&a->addr, name, sizeof name);
        cc_buf_printf(b, "%s%s %s", sep, name,
                      a->state == UA_FAILED ? uv_strerror(a->status) : "no answer");
        sep = "; ";
    }
    size_t untried = u->n_att - u->next_att;
    if (untried)
        cc_buf_printf(b, "%s%zu more address%s not tried", sep, untried, untried == 1 ? "" : "es");
}

static void on_connect_timeout(uv_timer_t *t) {
    cc_upconn_t *u = t->data;
    cc_buf_t msg = CC_BUF_INIT;
    cc_buf_printf(&msg, "connecting to ");
    put_origin(&msg, u);
    cc_buf_printf(&msg, " timed out after %u ms", u->pool->limits->connect_timeout_ms);
    if (u->state == UC_CONNECTING && u->next_att > 0) {
        cc_buf_printf(&msg, " (");
        put_attempts(&msg, u);
        cc_buf_printf(&msg, ")");
    }
    uc_close(u, UV_ETIMEDOUT, msg.data ? msg.data : "connect timed out", true);
    cc_buf_free(&msg);
}

static void finish_connect(cc_upconn_t *u) {
    uv_timer_stop(&u->timer);
    u->state = UC_ACTIVE;
    if (u->h.ready) u->h.ready(u, 0, NULL, false, u->arg);
}

/* Every address failed: one error naming each. */
static void fail_attempts(cc_upconn_t *u) {
    cc_buf_t msg = CC_BUF_INIT;
    cc_buf_printf(&msg, "cannot connect to ");
    put_origin(&msg, u);
    cc_buf_printf(&msg, ": ");
    put_attempts(&msg, u);
    int status = u->n_att ? u->att[u->n_att - 1].status : UV_EADDRNOTAVAIL;
    if (!u->n_att) cc_buf_printf(&msg, "no address to connect to");
    uc_close(u, status, msg.data ? msg.data : "cannot connect", true);
    cc_buf_free(&msg);
}

static void drop_attempt(uc_attempt_t *a) {
    if (a->open && !uv_is_closing((uv_handle_t *)&a->tcp))
        uv_close((uv_handle_t *)&a->tcp, on_uc_handle_closed);
}

static void on_attempt_connect(uv_connect_t *req, int status);
static void on_attempt_delay(uv_timer_t *t);

/* Starts the next attempt that can start (an address whose connect fails at once is noted
 * and the one after it tried); arms the attempt delay while more addresses remain. When
 * nothing is left to try and no attempt is pending, the connection fails. */
static void start_attempts(cc_upconn_t *u) {
    uv_timer_stop(&u->delay);
    while (u->next_att < u->n_att) {
        uc_attempt_t *a = &u->att[u->next_att++];
        a->u = u;
        a->state = UA_CONNECTING;
        int rc = uv_tcp_init(u->pool->loop, &a->tcp);
        if (rc == 0) {
            a->open = true;
            a->tcp.data = u;
            u->handles++;
            a->req.data = a;
            rc = uv_tcp_connect(&a->req, &a->tcp, (const struct sockaddr *)&a->addr,
                                on_attempt_connect);
        }
        if (rc == 0) {
            u->racing++;
            if (u->next_att < u->n_att)
                uv_timer_start(&u->delay, on_attempt_delay, CC_POOL_ATTEMPT_DELAY_MS, 0);
            return;
        }
        a->state = UA_FAILED;
        a->status = rc;
        drop_attempt(a);
    }
    if (u->racing == 0) fail_attempts(u);
}

static void on_attempt_delay(uv_timer_t *t) {
    cc_upconn_t *u = t->data;
    if (u->state == UC_CONNECTING) start_attempts(u);
}

static void on_attempt_connect(uv_connect_t *req, int status) {
    uc_attempt_t *a = req->data;
    cc_upconn_t *u = a->u;
    if (a->state != UA_CONNECTING) return;
    u->racing--;
    if (u->state != UC_CONNECTING) {
        /* Closing (status UV_ECANCELED): uc_close already closes the socket. */
        a->state = UA_DROPPED;
        return;
    }
    if (status < 0) {
        a->state = UA_FAILED;
        a->status = status;
        drop_attempt(a);
        if (u->next_att < u->n_att)
            start_attempts(u); /* at once, not after the delay */
        else if (u->racing == 0)
            fail_attempts(u);
        return;
    }
    /* The winner: every other attempt is closed (their callbacks see UV_ECANCELED). */
    a->state = UA_WON;
    for (size_t i = 0; i < u->n_att; i++) {
        uc_attempt_t *o = &u->att[i];
        if (o == a) continue;
        if (o->state == UA_CONNECTING) {
            o->state = UA_DROPPED;
            u->racing--;
        }
        drop_attempt(o);
    }
    u->next_att = u->n_att;
    uv_close((uv_handle_t *)&u->delay, on_uc_handle_closed);
    u->tcp = &a->tcp;
    uv_tcp_nodelay(u->tcp, 1);
    uv_tcp_keepalive(u->tcp, 1, 60);
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

/* Orders `addrs` (consumed: reordered in place) into attempts and starts the first. */
static void begin_connect(cc_upconn_t *u, struct sockaddr_storage *addrs, size_t n) {
    u->state = UC_CONNECTING;
    n = cc__order_addrs(addrs, n);
    if (n > UC_MAX_ADDRS) n = UC_MAX_ADDRS;
    if (n) {
        u->att = calloc(n, sizeof *u->att);
        if (!u->att) {
            uc_close(u, UV_ENOMEM, "out of memory", true);
            return;
        }
    }
    u->n_att = n;
    for (size_t i = 0; i < n; i++) u->att[i].addr = addrs[i];
    start_attempts(u);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    cc_upconn_t *u = req->data;
    if (u->state == UC_CLOSING) {
        uv_freeaddrinfo(res);
        uc_unref(u);
        return;
    }
    u->handles--; /* the resolver is done; the timers still hold u */
    size_t n = 0;
    for (struct addrinfo *ai = status < 0 ? NULL : res; ai; ai = ai->ai_next)
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
            ai->ai_addrlen <= sizeof(struct sockaddr_storage))
            n++;
    if (n == 0) {
        cc_buf_t msg = CC_BUF_INIT;
        cc_buf_printf(&msg, "cannot resolve %s: %s", u->host,
                      status < 0 ? uv_strerror(status) : "no IPv4 or IPv6 address");
        uv_freeaddrinfo(res);
        uc_close(u, status < 0 ? status : UV_EAI_NODATA, msg.data ? msg.data : "cannot resolve",
                 true);
        cc_buf_free(&msg);
        return;
    }
    struct sockaddr_storage *addrs = calloc(n, sizeof *addrs);
    if (!addrs) {
        uv_freeaddrinfo(res);
        uc_close(u, UV_ENOMEM, "out of memory", true);
        return;
    }
    size_t i = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
            ai->ai_addrlen <= sizeof(struct sockaddr_storage))
            memcpy(&addrs[i++], ai->ai_addr, ai->ai_addrlen);
    uv_freeaddrinfo(res);
    begin_connect(u, addrs, n);
    free(addrs);
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

/* A new connection to `origin` (owning `key`), its connect timeout running; it resolves the
 * host when `resolve`, else waits for begin_connect. Returns NULL when it failed at once (ready
 * has been called). */
static cc_upconn_t *uc_new(cc_pool_t *p, const cc_origin_t *origin, char *key,
                           const cc_upconn_handler_t *h, void *arg, bool resolve) {
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
    if (!u) {
        free(key);
        h->ready(NULL, UV_ENOMEM, "out of memory", false, arg);
        return NULL;
    }
    u->pool = p;
    u->key = key;
    u->host = strdup(origin->host);
    u->port = origin->port;
    u->h = *h;
    u->arg = arg;
    u->state = resolve ? UC_RESOLVING : UC_CONNECTING;
    if (ctx) u->tls = cc_tls_new(ctx, origin->host);
    uv_timer_init(p->loop, &u->timer);
    u->timer.data = u;
    uv_timer_init(p->loop, &u->delay);
    u->delay.data = u;
    u->handles = 2; /* the timers */
    p->live++;
    uv_timer_start(&u->timer, on_connect_timeout, p->limits->connect_timeout_ms, 0);
    if (!resolve) return u;
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof port, "%d", origin->port);
    u->gai.data = u;
    u->handles++; /* the resolver request */
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
    return uc_new(p, origin, key, h, arg, true);
}

cc_upconn_t *cc__pool_connect_addrs(cc_pool_t *p, const cc_origin_t *origin,
                                    const struct sockaddr *const *addrs, size_t n,
                                    const cc_upconn_handler_t *h, void *arg) {
    cc_upconn_t *u = uc_new(p, origin, origin_key(origin), h, arg, false);
    if (!u) return NULL;
    struct sockaddr_storage *copy = calloc(n ? n : 1, sizeof *copy);
    if (!copy) {
        uc_close(u, UV_ENOMEM, "out of memory", true);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(&copy[i], addrs[i], addrs[i]->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                   : sizeof(struct sockaddr_in));
    begin_connect(u, copy, n);
    free(copy);
    return u->state == UC_CLOSING ? NULL : u;
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
