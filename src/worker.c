/* worker.c: one event loop with what it owns (see worker.h): its listener, its client
 * connections (conn.c, through the worker's cc_conn_host_t), its Lua pipeline for the current
 * generation and its upstream pool; stopping it (listener closed, idle connections closed, the
 * rest given the shutdown grace) and building its pipeline for a reloaded generation. */
#include "worker.h"

#include <time.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/conn.h"
#include "endpoints.h"
#include "log.h"
#include "oauth.h"
#include "lua/pipeline.h"
#include "http/upstream_pool.h"

uint64_t cc_now_ns(void) {
    return uv_hrtime();
}

uint64_t cc_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static cc_pool_limits_t pool_limits(const cc_limits_t *l) {
    return (cc_pool_limits_t){.connect_timeout_ms = l->connect_timeout_ms,
                              .pool_max_idle = l->pool_max_idle,
                              .pool_idle_ttl_ms = l->pool_idle_ttl_ms};
}

void cc_worker_use(cc_worker_t *w, cc_wgen_t *wg) {
    cc_wgen_t *old = w->current;
    w->current = wg;
    w->cfg = wg->gen->cfg;
    const cc_limits_t *l = &w->cfg->limits;
    w->clients.limits = (cc_conn_limits_t){
        .max_header_bytes = l->max_header_bytes,
        .max_body_bytes = l->max_body_bytes,
        .header_timeout_ms = l->header_timeout_ms,
        .idle_timeout_ms = l->idle_timeout_ms,
    };
    cc_pool_limits_t pl = pool_limits(l);
    if (w->pool) cc_pool_set_limits(w->pool, &pl);
    cc_wgen_unref(old);
}

/* A listening socket with SO_REUSEPORT so every worker can have its own. */
static int open_listener(cc_worker_t *w, const char *host, int port, char *err, size_t errlen) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve listen address %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s%s", host, port, strerror(errno),
                 errno == EADDRINUSE ? " (is another ccproxy or server using this port? set "
                                       "litellm.port in ccproxy.yaml or PORT)"
                                     : "");
        close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    if (uv_tcp_open(&w->listener, fd) < 0) {
        snprintf(err, errlen, "cannot use the listening socket");
        close(fd);
        return -1;
    }
    return 0;
}

static void on_connection(uv_stream_t *server, int status) {
    cc_worker_t *w = server->data;
    if (status < 0 || w->clients.stopping) return;
    cc_conn_accept(&w->clients, server);
}

static void on_listener_closed(uv_handle_t *h) {
    (void)h;
}

static void on_grace_expired(uv_timer_t *t) {
    cc_worker_t *w = t->data;
    cc_conn_host_t *h = &w->clients;
    if (h->n_conns)
        cc_warn("worker %d: %zu connection(s) still busy after the shutdown grace; closing them",
                w->index, h->n_conns);
    /* Each handler hears that its client is gone, so its upstream is cancelled too. */
    while (h->n_conns) cc_conn_close(h->conns[h->n_conns - 1]);
}

void cc_worker_stop(cc_worker_t *w) {
    if (w->clients.stopping) return;
    w->clients.stopping = true;
    if (w->listening) {
        uv_close((uv_handle_t *)&w->listener, on_listener_closed);
        w->listening = false;
    }
    for (size_t i = w->clients.n_conns; i > 0; i--) {
        cc_conn_t *c = w->clients.conns[i - 1];
        if (!cc_conn_close_if_idle(c)) cc_conn_close_after_response(c);
    }
    uv_close((uv_handle_t *)&w->stop_async, NULL);
    uv_close((uv_handle_t *)&w->reload_async, NULL);
    uv_timer_start(&w->grace_timer, on_grace_expired, w->cfg->limits.shutdown_grace_ms, 0);
    uv_unref((uv_handle_t *)&w->grace_timer);
    cc_pool_shutdown(w->pool);
}

static void on_stop_async(uv_async_t *a) {
    cc_worker_stop(a->data);
}

/* In a worker's own thread: build its pipeline for the generation worker 0 validated. */
static void on_reload_async(uv_async_t *a) {
    cc_worker_t *w = a->data;
    pthread_mutex_lock(&w->server->lock);
    cc_gen_t *gen = w->pending;
    w->pending = NULL;
    pthread_mutex_unlock(&w->server->lock);
    if (!gen) return;
    cc_buf_t err = CC_BUF_INIT;
    cc_wgen_t *wg = cc_wgen_new(gen, &err);
    if (wg)
        cc_worker_use(w, wg);
    else
        cc_error("worker %d kept generation %d: it could not load generation %d's scripts "
                 "(they were validated by worker 0, so this is a resource problem: %s)",
                 w->index, w->current->gen->id, gen->id, err.data ? err.data : "?");
    cc_buf_free(&err);
    cc_gen_unref(gen);
}

int cc_worker_init(cc_worker_t *w, cc_server_t *srv, cc_gen_t *gen, int index, char *err,
                   size_t errlen) {
    memset(w, 0, sizeof *w);
    w->index = index;
    w->server = srv;
    if (uv_loop_init(&w->loop) < 0) {
        snprintf(err, errlen, "cannot create an event loop");
        return -1;
    }
    w->clients.loop = &w->loop;
    w->clients.dispatch = cc_endpoints_dispatch;
    w->clients.owner = w;
    w->clients.next_request_id = &srv->next_request_id;
    w->clients.requests_total = &srv->requests_total;
    uv_async_init(&w->loop, &w->stop_async, on_stop_async);
    w->stop_async.data = w;
    uv_async_init(&w->loop, &w->reload_async, on_reload_async);
    w->reload_async.data = w;
    uv_timer_init(&w->loop, &w->grace_timer);
    w->grace_timer.data = w;
    cc_buf_t perr = CC_BUF_INIT;
    cc_wgen_t *wg = cc_wgen_new(gen, &perr);
    if (!wg) {
        snprintf(err, errlen, "%s", perr.data ? perr.data : "cannot load the Lua pipeline");
        cc_buf_free(&perr);
        return -1;
    }
    cc_buf_free(&perr);
    cc_worker_use(w, wg);
    cc_pool_limits_t pl = pool_limits(&w->cfg->limits);
    w->pool = cc_pool_new(&w->loop, &pl);
    w->oauth = cc_oauth_runner_new(&w->loop, w->cfg->limits.oat_timeout_ms);
    if (open_listener(w, w->cfg->host, w->cfg->port, err, errlen) < 0) return -1;
    int rc = uv_listen((uv_stream_t *)&w->listener, 1024, on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", w->cfg->host, w->cfg->port,
                 uv_strerror(rc));
        return -1;
    }
    w->listening = true;
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg) {
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

void cc_worker_destroy(cc_worker_t *w) {
    cc_oauth_runner_free(w->oauth);
    w->oauth = NULL;
    cc_wgen_unref(w->current);
    w->current = NULL;
    cc_pool_free(w->pool);
    w->pool = NULL;
    uv_walk(&w->loop, close_walk, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    cc_conn_host_free(&w->clients);
}

void *cc_worker_thread(void *arg) {
    cc_worker_t *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}
