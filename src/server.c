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
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "pipeline.h"
#include "upstream_pool.h"
#include "worker.h"

uint64_t cc_now_ns(void) {
    return uv_hrtime();
}

uint64_t cc_now_ms(void) {
    return uv_hrtime() / 1000000;
}

void cc_worker_track_conn(cc_worker_t *w, cc_conn_t *c) {
    if (w->n_conns == w->cap_conns) {
        size_t cap = w->cap_conns ? w->cap_conns * 2 : 64;
        cc_conn_t **p = realloc(w->conns, cap * sizeof *p);
        if (!p) return;
        w->conns = p;
        w->cap_conns = cap;
    }
    w->conns[w->n_conns++] = c;
}

void cc_worker_untrack_conn(cc_worker_t *w, cc_conn_t *c) {
    for (size_t i = 0; i < w->n_conns; i++) {
        if (w->conns[i] == c) {
            w->conns[i] = w->conns[--w->n_conns];
            return;
        }
    }
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
    if (status < 0 || w->stopping) return;
    cc_conn_accept(w, server);
}

static void on_listener_closed(uv_handle_t *h) {
    (void)h;
}

static void on_grace_expired(uv_timer_t *t) {
    cc_worker_t *w = t->data;
    if (w->n_conns)
        cc_warn("worker %d: %zu connection(s) still busy after the shutdown grace; closing them",
                w->index, w->n_conns);
    while (w->n_conns) cc_conn_abort(w->conns[w->n_conns - 1]);
}

/* Runs in the worker's own thread: stop accepting, close idle connections, let the rest end. */
static void worker_stop(cc_worker_t *w) {
    if (w->stopping) return;
    w->stopping = true;
    if (w->listening) {
        uv_close((uv_handle_t *)&w->listener, on_listener_closed);
        w->listening = false;
    }
    for (size_t i = w->n_conns; i > 0; i--) {
        cc_conn_t *c = w->conns[i - 1];
        if (!cc_conn_close_if_idle(c)) cc_conn_close_after_response(c);
    }
    uv_close((uv_handle_t *)&w->stop_async, NULL);
    uv_timer_start(&w->grace_timer, on_grace_expired, w->cfg->limits.shutdown_grace_ms, 0);
    uv_unref((uv_handle_t *)&w->grace_timer);
    cc_pool_shutdown(w->pool);
}

static void on_stop_async(uv_async_t *a) {
    worker_stop(a->data);
}

static int worker_init(cc_worker_t *w, cc_server_t *srv, int index, char *err, size_t errlen) {
    memset(w, 0, sizeof *w);
    w->index = index;
    w->server = srv;
    w->cfg = srv->cfg;
    if (uv_loop_init(&w->loop) < 0) {
        snprintf(err, errlen, "cannot create an event loop");
        return -1;
    }
    uv_async_init(&w->loop, &w->stop_async, on_stop_async);
    w->stop_async.data = w;
    uv_timer_init(&w->loop, &w->grace_timer);
    w->grace_timer.data = w;
    w->pool = cc_pool_new(&w->loop, &w->cfg->limits);
    cc_buf_t perr = CC_BUF_INIT;
    w->pipeline = cc_pipeline_new(w->cfg, &perr);
    if (!w->pipeline) {
        snprintf(err, errlen, "%s", perr.data ? perr.data : "cannot load the Lua pipeline");
        cc_buf_free(&perr);
        return -1;
    }
    cc_buf_free(&perr);
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
    cc_pipeline_free(w->pipeline);
    w->pipeline = NULL;
    cc_pool_free(w->pool);
    w->pool = NULL;
    uv_walk(&w->loop, close_walk, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    free(w->conns);
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

static void on_sighup(uv_signal_t *s, int signum) {
    (void)s;
    (void)signum;
    cc_warn("received SIGHUP: configuration reload is not available yet; restart to apply "
            "changes (`ccproxy restart`)");
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
    srv.cfg = cfg;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    srv.started_ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
    atomic_init(&srv.next_request_id, 1);
    atomic_init(&srv.requests_total, 0);
    atomic_init(&srv.generation, 1);

    int n = cfg->num_workers > 0 ? cfg->num_workers : 1;
    cc_worker_t *workers = calloc((size_t)n, sizeof *workers);
    pthread_t *threads = calloc((size_t)n, sizeof *threads);
    int started = 0, rc = 0;
    char err[512] = "";
    for (; started < n; started++) {
        if (worker_init(&workers[started], &srv, started, err, sizeof err) < 0) {
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
    free(workers);
    free(threads);
    cc_config_free(cfg);
    return rc;
}
