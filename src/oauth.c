/* oauth.c: the OAuth token store and the command runner (see oauth.h). */
#include "oauth.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

/* --- the store --------------------------------------------------------------------------- */

typedef struct entry_s {
    struct entry_s *next;
    char *provider;
    char *token;
    char *user_agent;
    char *error;
} entry_t;

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static entry_t *store;

static entry_t *find(const char *provider, int create) {
    for (entry_t *e = store; e; e = e->next)
        if (strcmp(e->provider, provider) == 0) return e;
    if (!create) return NULL;
    entry_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->provider = strdup(provider);
    e->next = store;
    store = e;
    return e;
}

static void replace(char **slot, const char *v) {
    free(*slot);
    *slot = v ? strdup(v) : NULL;
}

int cc_oauth_get(const char *provider, char **token, char **user_agent, char **why) {
    int rc = -1;
    *token = NULL;
    if (user_agent) *user_agent = NULL;
    if (why) *why = NULL;
    pthread_mutex_lock(&store_lock);
    entry_t *e = find(provider, 0);
    if (e && e->token) {
        *token = strdup(e->token);
        if (user_agent && e->user_agent) *user_agent = strdup(e->user_agent);
        rc = 0;
    } else if (why) {
        char msg[600];
        if (e && e->error)
            snprintf(msg, sizeof msg, "oat_sources.%s: %s", provider, e->error);
        else
            snprintf(msg, sizeof msg, "no token for provider '%s' (add it to ccproxy.oat_sources)",
                     provider);
        *why = strdup(msg);
    }
    pthread_mutex_unlock(&store_lock);
    return rc;
}

void cc_oauth_set(const char *provider, const char *token, const char *user_agent) {
    pthread_mutex_lock(&store_lock);
    entry_t *e = find(provider, 1);
    if (e) {
        replace(&e->token, token);
        replace(&e->user_agent, user_agent);
        replace(&e->error, NULL);
    }
    pthread_mutex_unlock(&store_lock);
}

void cc_oauth_set_error(const char *provider, const char *why) {
    pthread_mutex_lock(&store_lock);
    entry_t *e = find(provider, 1);
    if (e) replace(&e->error, why);
    pthread_mutex_unlock(&store_lock);
}

void cc_oauth_clear(void) {
    pthread_mutex_lock(&store_lock);
    while (store) {
        entry_t *e = store;
        store = e->next;
        free(e->provider);
        free(e->token);
        free(e->user_agent);
        free(e->error);
        free(e);
    }
    pthread_mutex_unlock(&store_lock);
}

/* --- the runner -------------------------------------------------------------------------- */

typedef struct waiter_s {
    struct waiter_s *next;
    void (*cb)(void *arg, int ok);
    void *arg;
} waiter_t;

typedef struct job_s {
    struct job_s *next;
    cc_oauth_runner_t *runner;
    char *provider, *command, *user_agent;
    uv_process_t proc;
    uv_pipe_t out, err;
    uv_timer_t timer;
    cc_buf_t out_buf, err_buf;
    int handles;       /* open handles */
    int pending;       /* exit and the two pipes' EOFs still to come */
    int64_t exit_status;
    int term_signal;
    int timed_out;
    int spawn_failed;
    waiter_t *waiters;
} job_t;

struct cc_oauth_runner_s {
    uv_loop_t *loop;
    unsigned timeout_ms;
    job_t *jobs;
    int closing;
};

#define MAX_OUTPUT (64 * 1024)

cc_oauth_runner_t *cc_oauth_runner_new(uv_loop_t *loop, unsigned timeout_ms) {
    cc_oauth_runner_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->loop = loop;
    r->timeout_ms = timeout_ms ? timeout_ms : 10000;
    return r;
}

static void maybe_free_runner(cc_oauth_runner_t *r) {
    if (r->closing && !r->jobs) free(r);
}

static void job_unlink(job_t *j) {
    for (job_t **p = &j->runner->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            return;
        }
}

static void on_job_handle_closed(uv_handle_t *h) {
    job_t *j = h->data;
    if (--j->handles > 0) return;
    cc_oauth_runner_t *r = j->runner;
    job_unlink(j);
    free(j->provider);
    free(j->command);
    free(j->user_agent);
    cc_buf_free(&j->out_buf);
    cc_buf_free(&j->err_buf);
    free(j);
    maybe_free_runner(r);
}

static void close_handle(job_t *j, uv_handle_t *h) {
    if (!uv_is_closing(h)) uv_close(h, on_job_handle_closed);
}

/* Everything ended: record the outcome, tell the waiters, close the handles. */
static void job_finish(job_t *j) {
    char why[700];
    int ok = 0;
    /* Trim the token. */
    char *t = j->out_buf.data ? j->out_buf.data : "";
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\n' || t[n - 1] == '\r'))
        n--;
    const char *err = j->err_buf.data ? j->err_buf.data : "";
    if (j->spawn_failed) {
        snprintf(why, sizeof why, "cannot run the command: %s", err);
    } else if (j->timed_out) {
        snprintf(why, sizeof why, "the command did not finish within %u s (it was killed); "
                 "check it by running it in a shell", j->runner->timeout_ms / 1000);
    } else if (j->term_signal) {
        snprintf(why, sizeof why, "the command was killed by signal %d%s%.400s", j->term_signal,
                 *err ? "; stderr: " : "", err);
    } else if (j->exit_status != 0) {
        snprintf(why, sizeof why, "the command failed (exit %lld)%s%.400s",
                 (long long)j->exit_status, *err ? "; stderr: " : "", err);
    } else if (n == 0) {
        snprintf(why, sizeof why, "the command printed nothing on standard output");
    } else {
        ok = 1;
    }
    if (ok) {
        char *tok = strndup(t, n);
        cc_oauth_set(j->provider, tok, j->user_agent);
        free(tok);
        cc_info("oat_sources: loaded the %s token", j->provider);
    } else {
        /* Strip a trailing newline of stderr for the message. */
        size_t wl = strlen(why);
        while (wl && (why[wl - 1] == '\n' || why[wl - 1] == '\r')) why[--wl] = '\0';
        cc_oauth_set_error(j->provider, why);
        cc_error("oat_sources.%s (%s): %s", j->provider, j->command, why);
    }
    waiter_t *w = j->waiters;
    j->waiters = NULL;
    /* Detached from the runner's list now: a new run for this provider starts afresh. */
    job_unlink(j);
    j->next = NULL;
    while (w) {
        waiter_t *next = w->next;
        w->cb(w->arg, ok);
        free(w);
        w = next;
    }
    /* Relink so the runner knows it still owns handles until they close. */
    j->next = j->runner->jobs;
    j->runner->jobs = j;
    close_handle(j, (uv_handle_t *)&j->timer);
    if (!j->spawn_failed) close_handle(j, (uv_handle_t *)&j->proc);
    close_handle(j, (uv_handle_t *)&j->out);
    close_handle(j, (uv_handle_t *)&j->err);
    j->provider[0] = '\0'; /* never matched again while closing */
}

static void step(job_t *j) {
    if (--j->pending == 0) job_finish(j);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    static __thread char scratch[16384];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(scratch, sizeof scratch);
}

static void on_out(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    job_t *j = s->data;
    cc_buf_t *b = (uv_pipe_t *)s == &j->out ? &j->out_buf : &j->err_buf;
    if (nread > 0) {
        if (b->len + (size_t)nread <= MAX_OUTPUT) cc_buf_append(b, buf->base, (size_t)nread);
        return;
    }
    if (nread < 0) {
        uv_read_stop(s);
        step(j);
    }
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
    job_t *j = p->data;
    j->exit_status = status;
    j->term_signal = j->timed_out ? 0 : sig;
    uv_timer_stop(&j->timer);
    step(j);
}

static void on_timeout(uv_timer_t *t) {
    job_t *j = t->data;
    j->timed_out = 1;
    uv_process_kill(&j->proc, SIGKILL);
}

void cc_oauth_run(cc_oauth_runner_t *r, const cc_oat_source_t *src, void (*cb)(void *arg, int ok),
                  void *arg) {
    waiter_t *w = calloc(1, sizeof *w);
    w->cb = cb;
    w->arg = arg;
    for (job_t *j = r->jobs; j; j = j->next) {
        if (strcmp(j->provider, src->provider) == 0) { /* already running: wait for it */
            w->next = j->waiters;
            j->waiters = w;
            return;
        }
    }
    job_t *j = calloc(1, sizeof *j);
    j->runner = r;
    j->provider = strdup(src->provider);
    j->command = strdup(src->command);
    j->user_agent = src->user_agent ? strdup(src->user_agent) : NULL;
    j->waiters = w;
    j->next = r->jobs;
    r->jobs = j;
    uv_timer_init(r->loop, &j->timer);
    uv_pipe_init(r->loop, &j->out, 0);
    uv_pipe_init(r->loop, &j->err, 0);
    j->timer.data = j->out.data = j->err.data = j->proc.data = j;
    j->handles = 3;
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&j->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&j->err;
    char *args[] = {"/bin/sh", "-c", j->command, NULL};
    uv_process_options_t opt = {0};
    opt.file = "/bin/sh";
    opt.args = args;
    opt.exit_cb = on_exit_cb;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    int rc = uv_spawn(r->loop, &j->proc, &opt);
    if (rc < 0) {
        j->spawn_failed = 1;
        cc_buf_puts(&j->err_buf, uv_strerror(rc));
        j->pending = 1;
        step(j);
        return;
    }
    j->handles++;
    j->pending = 3;
    uv_read_start((uv_stream_t *)&j->out, on_alloc, on_out);
    uv_read_start((uv_stream_t *)&j->err, on_alloc, on_out);
    uv_timer_start(&j->timer, on_timeout, r->timeout_ms, 0);
}

typedef struct {
    void (*cb)(void *arg, int ok);
    void *arg;
    size_t left;
    int all_ok;
} batch_t;

static void batch_step(void *arg, int ok) {
    batch_t *b = arg;
    if (!ok) b->all_ok = 0;
    if (--b->left == 0) {
        if (b->cb) b->cb(b->arg, b->all_ok);
        free(b);
    }
}

void cc_oauth_run_all(cc_oauth_runner_t *r, const cc_config_t *cfg, void (*cb)(void *arg, int ok),
                      void *arg) {
    if (cfg->n_oat_sources == 0) {
        if (cb) cb(arg, 1);
        return;
    }
    batch_t *b = calloc(1, sizeof *b);
    b->cb = cb;
    b->arg = arg;
    b->left = cfg->n_oat_sources;
    b->all_ok = 1;
    for (size_t i = 0; i < cfg->n_oat_sources; i++)
        cc_oauth_run(r, &cfg->oat_sources[i], batch_step, b);
}

void cc_oauth_runner_free(cc_oauth_runner_t *r) {
    if (!r) return;
    r->closing = 1;
    for (job_t *j = r->jobs; j; j = j->next) {
        if (!j->spawn_failed && !uv_is_closing((uv_handle_t *)&j->proc))
            uv_process_kill(&j->proc, SIGKILL);
        /* Nobody waits any more. */
        for (waiter_t *w = j->waiters, *n; w; w = n) {
            n = w->next;
            free(w);
        }
        j->waiters = NULL;
    }
    maybe_free_runner(r);
}
