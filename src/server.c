/* server.c: the process-level server: starts one worker (event loop + listener) per
 * litellm.num_workers, runs worker 0 on the calling thread with the signal handlers, and on
 * SIGTERM/SIGINT stops every listener, waits for in-flight requests (up to the shutdown grace)
 * and returns. See server.h and worker.h. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "endpoints.h"
#include "log.h"
#include "oauth.h"
#include "pipeline.h"
#include "upstream_pool.h"
#include "worker.h"

uint64_t cc_now_ns(void) {
    return uv_hrtime();
}

uint64_t cc_now_ms(void) {
    return uv_hrtime() / 1000000;
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

/* Runs in the worker's own thread: stop accepting, close idle connections, let the rest end. */
static void worker_stop(cc_worker_t *w) {
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
    worker_stop(a->data);
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

static int worker_init(cc_worker_t *w, cc_server_t *srv, cc_gen_t *gen, int index, char *err,
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

static void worker_destroy(cc_worker_t *w) {
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

static void *worker_thread(void *arg) {
    cc_worker_t *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* Signal handling lives on worker 0's loop. */
typedef struct {
    uv_signal_t sigterm, sigint, sighup;
    cc_worker_t *workers;
    int n;
} signals_t;

static void on_stop_signal(uv_signal_t *s, int signum) {
    signals_t *sig = s->data;
    cc_info("received %s: finishing in-flight requests, then stopping",
            signum == SIGINT ? "SIGINT" : "SIGTERM");
    for (int i = 1; i < sig->n; i++) uv_async_send(&sig->workers[i].stop_async);
    worker_stop(&sig->workers[0]);
    uv_close((uv_handle_t *)&sig->sigterm, NULL);
    uv_close((uv_handle_t *)&sig->sigint, NULL);
    uv_close((uv_handle_t *)&sig->sighup, NULL);
}

static void set_reload_status(cc_server_t *srv, bool ok, const char *error,
                              const char *restart) {
    pthread_mutex_lock(&srv->lock);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(srv->reload.at, sizeof srv->reload.at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    srv->reload.ok = ok;
    srv->reload.count++;
    free(srv->reload.error);
    srv->reload.error = error ? strdup(error) : NULL;
    free(srv->reload.restart_needed);
    srv->reload.restart_needed = restart ? strdup(restart) : NULL;
    pthread_mutex_unlock(&srv->lock);
}

/* Settings that only a restart can apply. */
static void restart_needs(const cc_server_t *srv, const cc_config_t *cfg, cc_buf_t *out) {
    int workers = cfg->num_workers > 0 ? cfg->num_workers : 1;
    if (strcmp(cfg->host, srv->listen_host) != 0 || cfg->port != srv->listen_port)
        cc_buf_printf(out, "listen address %s:%d -> %s:%d; ", srv->listen_host, srv->listen_port,
                      cfg->host, cfg->port);
    if (workers != srv->n_workers)
        cc_buf_printf(out, "num_workers %d -> %d; ", srv->n_workers, workers);
    if (out->len >= 2) {
        out->len -= 2;
        out->data[out->len] = '\0';
    }
}

/* SIGHUP, on worker 0: load and validate a complete new generation, then swap it in. A
 * failure keeps the current generation serving. */
static void reload(signals_t *sig) {
    cc_server_t *srv = sig->workers[0].server;
    cc_buf_t errs = CC_BUF_INIT, warns = CC_BUF_INIT, restart = CC_BUF_INIT;
    int cur = atomic_load(&srv->generation);
    cc_info("reloading %s (SIGHUP)", srv->config_dir);
    cc_config_t *cfg = cc_config_load(srv->config_dir, &errs, &warns);
    if (warns.len) cc_warn("%s", warns.data);
    if (!cfg) {
        cc_error("reload failed; generation %d keeps serving:\n%s", cur,
                 errs.data ? errs.data : "?");
        set_reload_status(srv, false, errs.data, NULL);
        goto done;
    }
    restart_needs(srv, cfg, &restart);
    cc_gen_t *gen = cc_gen_new(cfg, cur + 1);
    cc_wgen_t *wg = cc_wgen_new(gen, &errs);
    if (!wg) {
        cc_error("reload failed; generation %d keeps serving:\n%s", cur,
                 errs.data ? errs.data : "?");
        set_reload_status(srv, false, errs.data, NULL);
        cc_gen_unref(gen);
        goto done;
    }
    if (gen->cfg->debug) cc_log_set_level(CC_LOG_DEBUG);
    else cc_log_set_level(CC_LOG_INFO);
    cc_worker_use(&sig->workers[0], wg);
    for (int i = 1; i < sig->n; i++) {
        cc_worker_t *w = &sig->workers[i];
        pthread_mutex_lock(&srv->lock);
        cc_gen_ref(gen);
        if (w->pending) cc_gen_unref(w->pending);
        w->pending = gen;
        pthread_mutex_unlock(&srv->lock);
        uv_async_send(&w->reload_async);
    }
    atomic_store(&srv->generation, gen->id);
    cc_oauth_run_all(sig->workers[0].oauth, gen->cfg, NULL, NULL);
    cc_gen_unref(gen);
    set_reload_status(srv, true, NULL, restart.len ? restart.data : NULL);
    cc_info("reloaded: generation %d (%zu rules, %zu hooks, %zu models)%s%s", cur + 1,
            cfg->n_rules, cfg->n_hooks, cfg->n_models,
            restart.len ? "; restart to apply: " : "", restart.len ? restart.data : "");
done:
    cc_buf_free(&errs);
    cc_buf_free(&warns);
    cc_buf_free(&restart);
}

static void on_sighup(uv_signal_t *s, int signum) {
    (void)signum;
    reload(s->data);
}

static void on_tokens_done(void *arg, int ok) {
    *(int *)arg = ok ? 1 : 2;
}

/* At start: runs every oat_sources command (concurrently, each with its timeout) before the
 * first request can arrive. Failures are logged; the proxy starts anyway. */
static void fetch_tokens_now(const cc_config_t *cfg) {
    if (cfg->n_oat_sources == 0) return;
    uv_loop_t loop;
    if (uv_loop_init(&loop) < 0) return;
    cc_oauth_runner_t *r = cc_oauth_runner_new(&loop, cfg->limits.oat_timeout_ms);
    int state = 0;
    cc_oauth_run_all(r, cfg, on_tokens_done, &state);
    while (state == 0 && uv_run(&loop, UV_RUN_ONCE)) {
    }
    cc_oauth_runner_free(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

static void report_ready(int fd, const char *msg) {
    if (fd < 0) return;
    (void)!write(fd, msg, strlen(msg));
    close(fd);
}

int cc_server_run(cc_config_t *cfg, int ready_fd) {
    signal(SIGPIPE, SIG_IGN);
    if (cfg->debug) cc_log_set_level(CC_LOG_DEBUG);
    cc_server_t srv;
    memset(&srv, 0, sizeof srv);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    srv.started_ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
    atomic_init(&srv.next_request_id, 1);
    atomic_init(&srv.requests_total, 0);
    atomic_init(&srv.generation, 1);
    pthread_mutex_init(&srv.lock, NULL);
    srv.config_dir = strdup(cfg->dir ? cfg->dir : ".");
    srv.listen_host = strdup(cfg->host);
    srv.listen_port = cfg->port;

    int n = cfg->num_workers > 0 ? cfg->num_workers : 1;
    srv.n_workers = n;
    fetch_tokens_now(cfg);
    cc_gen_t *gen = cc_gen_new(cfg, 1);
    cc_worker_t *workers = calloc((size_t)n, sizeof *workers);
    pthread_t *threads = calloc((size_t)n, sizeof *threads);
    int started = 0, rc = 0;
    char err[4096] = "";
    for (; started < n; started++) {
        if (worker_init(&workers[started], &srv, gen, started, err, sizeof err) < 0) {
            started++;
            rc = 1;
            break;
        }
    }
    if (rc) {
        cc_error("ccproxy could not start: %s", err);
        report_ready(ready_fd, err);
        for (int i = 0; i < started; i++) worker_destroy(&workers[i]);
        goto done;
    }
    signals_t sig = {.workers = workers, .n = n};
    uv_signal_init(&workers[0].loop, &sig.sigterm);
    uv_signal_init(&workers[0].loop, &sig.sigint);
    uv_signal_init(&workers[0].loop, &sig.sighup);
    sig.sigterm.data = sig.sigint.data = sig.sighup.data = &sig;
    uv_signal_start(&sig.sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&sig.sigint, on_stop_signal, SIGINT);
    uv_signal_start(&sig.sighup, on_sighup, SIGHUP);

    for (int i = 1; i < n; i++) pthread_create(&threads[i], NULL, worker_thread, &workers[i]);
    cc_info("ccproxy %s listening on http://%s:%d (%d worker%s, %zu rule%s, %zu hook%s, %zu "
            "model%s)",
            CCPROXY_VERSION, cfg->host, cfg->port, n, n == 1 ? "" : "s", cfg->n_rules,
            cfg->n_rules == 1 ? "" : "s", cfg->n_hooks, cfg->n_hooks == 1 ? "" : "s",
            cfg->n_models, cfg->n_models == 1 ? "" : "s");
    report_ready(ready_fd, "\n");
    uv_run(&workers[0].loop, UV_RUN_DEFAULT);
    for (int i = 1; i < n; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < n; i++) worker_destroy(&workers[i]);
    cc_info("ccproxy stopped");
done:
    for (int i = 0; i < n; i++)
        if (workers[i].pending) cc_gen_unref(workers[i].pending);
    cc_gen_unref(gen);
    free(workers);
    free(threads);
    free(srv.config_dir);
    free(srv.listen_host);
    free(srv.reload.error);
    free(srv.reload.restart_needed);
    pthread_mutex_destroy(&srv.lock);
    return rc;
}
