/* server.c: the process (see server.h): starts one worker (worker.c) per
 * litellm.num_workers, runs worker 0 on the calling thread with the signal handlers (SIGHUP:
 * reload.c; SIGTERM/SIGINT: every worker stops, in-flight requests get the shutdown grace) and
 * returns when every loop has ended. */
#include "server.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "record/metrics.h"
#include "record/recent.h"
#include "record/records.h"
#include "record/sessions.h"
#include "record/store.h"
#include "routing/shared_state.h"
#include "log.h"
#include "record/otel.h"
#include "oauth.h"
#include "reload.h"
#include "worker.h"

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
    cc_worker_stop(&sig->workers[0]);
    uv_close((uv_handle_t *)&sig->sigterm, NULL);
    uv_close((uv_handle_t *)&sig->sigint, NULL);
    uv_close((uv_handle_t *)&sig->sighup, NULL);
}

static void on_sighup(uv_signal_t *s, int signum) {
    (void)signum;
    signals_t *sig = s->data;
    cc_reload(sig->workers, sig->n);
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
    srv.metrics = cfg->metrics_enabled;
    if (srv.metrics && cc_metrics_start() < 0)
        cc_warn("GET /metrics is off: its record sink could not be added");
    if (cc_recent_start() < 0) cc_warn("the dashboard will show no requests: out of memory");
    fetch_tokens_now(cfg);
    char err[4096] = "";
    if (cc_otel_start(cfg, err, sizeof err) != 0) cc_error("no request traces: %s", err);
    if (cc_sessions_start(CC_SESSIONS_MAX) != 0) /* GET /ccproxy/sessions/<id>, statusline */
        cc_warn("the per-session totals are off (out of memory or record sinks)");
    cc_store_start(cfg); /* a store that cannot open is logged; the proxy runs without it */
    cc_gen_t *gen = cc_gen_new(cfg, 1);
    cc_worker_t *workers = calloc((size_t)n, sizeof *workers);
    pthread_t *threads = calloc((size_t)n, sizeof *threads);
    int started = 0, rc = 0;
    for (; started < n; started++) {
        if (cc_worker_init(&workers[started], &srv, gen, started, err, sizeof err) < 0) {
            started++;
            rc = 1;
            break;
        }
    }
    if (rc) {
        cc_error("ccproxy could not start: %s", err);
        report_ready(ready_fd, err);
        for (int i = 0; i < started; i++) cc_worker_destroy(&workers[i]);
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

    for (int i = 1; i < n; i++) pthread_create(&threads[i], NULL, cc_worker_thread, &workers[i]);
    cc_info("ccproxy %s listening on http://%s:%d (%d worker%s, %zu rule%s, %zu hook%s, %zu "
            "model%s)",
            CCPROXY_VERSION, cfg->host, cfg->port, n, n == 1 ? "" : "s", cfg->n_rules,
            cfg->n_rules == 1 ? "" : "s", cfg->n_hooks, cfg->n_hooks == 1 ? "" : "s",
            cfg->n_models, cfg->n_models == 1 ? "" : "s");
    report_ready(ready_fd, "\n");
    uv_run(&workers[0].loop, UV_RUN_DEFAULT);
    for (int i = 1; i < n; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < n; i++) cc_worker_destroy(&workers[i]);
    cc_info("ccproxy stopped");
done:
    cc_records_stop(); /* every worker has stopped: no take() is to come; flushes the store */
    for (int i = 0; i < n; i++)
        if (workers[i].pending) cc_gen_unref(workers[i].pending);
    cc_gen_unref(gen);
    cc_shared_drain(2000); /* the generations' farewells to Redis */
    free(workers);
    free(threads);
    free(srv.config_dir);
    free(srv.listen_host);
    free(srv.reload.error);
    free(srv.reload.restart_needed);
    pthread_mutex_destroy(&srv.lock);
    return rc;
}
