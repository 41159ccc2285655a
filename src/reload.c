/* reload.c: SIGHUP (see reload.h). Worker 0 loads and validates a complete new generation
 * (configuration, then every script in a fresh Lua state), swaps it in, and hands it to the
 * other workers, which build their pipelines for it on their own loops. A failure keeps the
 * current generation serving; /health and `ccproxy status` show the outcome. */
#include "reload.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "oauth.h"
#include "record/otel.h"
#include "record/store.h"

static void set_reload_status(cc_server_t *srv, bool ok, const char *error,
                              const char *restart) {
    pthread_mutex_lock(&srv->lock);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(srv->reload.at, sizeof srv->reload.at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    srv->reload.ok = ok;
    srv->reload.count++;
    if (!ok) srv->reload.failed++;
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
    if (cfg->metrics_enabled != srv->metrics)
        cc_buf_printf(out, "metrics_enabled %s -> %s; ", srv->metrics ? "true" : "false",
                      cfg->metrics_enabled ? "true" : "false");
    const char *traces = cc_otel_running_url(), *want = cfg->otel.traces_url;
    if ((traces || want) && (!traces || !want || strcmp(traces, want) != 0))
        cc_buf_printf(out, "otel traces %s -> %s; ", traces ? traces : "off", want ? want : "off");
    cc_store_restart_needs(cfg, out);
    if (out->len >= 2) {
        out->len -= 2;
        out->data[out->len] = '\0';
    }
}

void cc_reload(cc_worker_t *workers, int n) {
    cc_server_t *srv = workers[0].server;
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
    cc_worker_use(&workers[0], wg);
    for (int i = 1; i < n; i++) {
        cc_worker_t *w = &workers[i];
        pthread_mutex_lock(&srv->lock);
        cc_gen_ref(gen);
        if (w->pending) cc_gen_unref(w->pending);
        w->pending = gen;
        pthread_mutex_unlock(&srv->lock);
        uv_async_send(&w->reload_async);
    }
    atomic_store(&srv->generation, gen->id);
    cc_oauth_run_all(workers[0].oauth, gen->cfg, NULL, NULL);
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
