/* metrics.c: the Prometheus metrics (see metrics.h). Each metric is a family of series, one
 * per label set: an insertion-ordered list that rendering reads without a lock (its length
 * is published with release order once a new series is complete), and a hash index that
 * only take() touches, under the mutex. A series' values are atomics. */
#include "record/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json/utf8.h"

/* Histogram upper bounds in seconds, for LLM answers: a cached or short answer's first byte
 * in tens of milliseconds, a long stream in minutes. */
static const double BOUNDS[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600};
#define NB (sizeof BOUNDS / sizeof BOUNDS[0])

typedef struct {
    atomic_ullong n[NB + 1]; /* per bucket, not cumulative; n[NB] above the last bound */
    _Atomic double sum;
} hist_t;

enum { TOK_INPUT, TOK_OUTPUT, TOK_CACHE_CREATION, TOK_CACHE_READ, TOK_N };
static const char *const TOK_TYPES[TOK_N] = {"input", "output", "cache_creation", "cache_read"};

#define MAX_LABELS 4

typedef struct {
    uint64_t hash;
    char *label[MAX_LABELS];
    union {
        atomic_ullong count; /* requests, attempts */
        struct {
            hist_t total, ttfb;
        } lat; /* by deployment */
        struct {
            atomic_ullong tokens[TOK_N];
            _Atomic double cost;
            atomic_bool cost_known; /* a known cost was added */
        } tok; /* by deployment and model */
    } v;
} series_t;

typedef struct {
    int n_labels;
    series_t **list;             /* the series in the order they appeared: [0, n) */
    atomic_size_t n;
    series_t **index;            /* open addressing, `cap` slots (a power of two) */
    size_t cap;
    _Atomic(series_t *) overflow; /* the label sets past the bound, NULL until one came */
} family_t;

struct cc_metrics_s {
    size_t max; /* label sets per family, the overflow series apart */
    pthread_mutex_t lock; /* the families' index */
    family_t requests;    /* endpoint, label, deployment, status */
    family_t latency;     /* deployment */
    family_t tokens;      /* deployment, model */
    family_t attempts;    /* deployment, result */
    atomic_ullong retries, cost_unknown;
};

static const char *const REQ_LABELS[] = {"endpoint", "label", "deployment", "status"};
static const char *const DEP_LABELS[] = {"deployment", "model"};
static const char *const ATT_LABELS[] = {"deployment", "result"};

/* --- families ----------------------------------------------------------------------------- */

static void series_free(series_t *s) {
    if (!s) return;
    for (int i = 0; i < MAX_LABELS; i++) free(s->label[i]);
    free(s);
}

static int family_init(family_t *f, int n_labels, size_t max) {
    memset(f, 0, sizeof *f);
    f->n_labels = n_labels;
    f->cap = 16;
    while (f->cap < 2 * (max + 1)) f->cap *= 2;
    f->list = calloc(max, sizeof *f->list);
    f->index = calloc(f->cap, sizeof *f->index);
    atomic_init(&f->n, 0);
    atomic_init(&f->overflow, NULL);
    return f->list && f->index ? 0 : -1;
}

static void family_free(family_t *f) {
    size_t n = atomic_load(&f->n);
    for (size_t i = 0; i < n; i++) series_free(f->list[i]);
    series_free(atomic_load(&f->overflow));
    free(f->list);
    free(f->index);
}

static uint64_t hash_values(const char *const *v, int n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)v[i]; *p; p++) {
            h ^= *p;
            h *= 1099511628211ull;
        }
        h ^= 0xff; /* no byte of UTF-8 text: values "ab","c" differ from "a","bc" */
        h *= 1099511628211ull;
    }
    return h;
}

static series_t *series_new(const family_t *f, const char *const *v, uint64_t h) {
    series_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->hash = h;
    for (int i = 0; i < f->n_labels; i++) {
        s->label[i] = strdup(v[i]);
        if (!s->label[i]) {
            series_free(s);
            return NULL;
        }
    }
    return s;
}

/* The one series of every label set past the bound (made the first time). Under m->lock. */
static series_t *overflow_series(family_t *f) {
    series_t *s = atomic_load_explicit(&f->overflow, memory_order_relaxed);
    if (s) return s;
    const char *v[MAX_LABELS] = {CC_METRICS_OVERFLOW, CC_METRICS_OVERFLOW, CC_METRICS_OVERFLOW,
                                 CC_METRICS_OVERFLOW};
    s = series_new(f, v, 0);
    if (s) atomic_store_explicit(&f->overflow, s, memory_order_release);
    return s;
}

/* The series of label set `v`, made when it is new; NULL when out of memory. Under m->lock. */
static series_t *find(const cc_metrics_t *m, family_t *f, const char *const *v) {
    bool all_overflow = true;
    for (int i = 0; i < f->n_labels && all_overflow; i++)
        all_overflow = strcmp(v[i], CC_METRICS_OVERFLOW) == 0;
    if (all_overflow) return overflow_series(f); /* one series for that label set, not two */
    uint64_t h = hash_values(v, f->n_labels);
    size_t mask = f->cap - 1, i = (size_t)h & mask;
    for (series_t *s; (s = f->index[i]) != NULL; i = (i + 1) & mask) {
        if (s->hash != h) continue;
        int k = 0;
        while (k < f->n_labels && strcmp(s->label[k], v[k]) == 0) k++;
        if (k == f->n_labels) return s;
    }
    size_t n = atomic_load_explicit(&f->n, memory_order_relaxed);
    if (n >= m->max) return overflow_series(f);
    series_t *s = series_new(f, v, h);
    if (!s) return NULL;
    f->index[i] = s;
    f->list[n] = s;
    atomic_store_explicit(&f->n, n + 1, memory_order_release);
    return s;
}

/* --- taking records ----------------------------------------------------------------------- */

#define VALUE_BUF (CC_METRICS_MAX_VALUE + 1)

/* `s` as a label value in `buf` (VALUE_BUF bytes): at most CC_METRICS_MAX_VALUE bytes, cut
 * before a character, invalid UTF-8 as U+FFFD, control characters but tab and newline as '?'.
 * NULL is "". */
static const char *label_value(const char *s, char *buf) {
    if (!s) return "";
    /* Every byte read gives at least one byte out, so nothing past this is ever reached. */
    size_t n = strnlen(s, CC_METRICS_MAX_VALUE + 8), o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = cc_utf8_len(s + i, n - i);
        const char *piece = s + i;
        size_t plen = k;
        unsigned char c = (unsigned char)s[i];
        if (k == 0) {
            piece = "\xEF\xBF\xBD";
            plen = 3;
            k = 1;
        } else if (k == 1 && ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)) {
            piece = "?";
        }
        if (o + plen > CC_METRICS_MAX_VALUE) break;
        memcpy(buf + o, piece, plen);
        o += plen;
        i += k;
    }
    buf[o] = '\0';
    return buf;
}

/* *a += v, atomically (a compound assignment would need libatomic for its floating-point
 * exceptions). */
static void add_double(_Atomic double *a, double v) {
    double old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old, old + v, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

static void observe(hist_t *h, double seconds) {
    if (isnan(seconds)) return;
    if (seconds < 0) seconds = 0;
    size_t i = 0;
    while (i < NB && seconds > BOUNDS[i]) i++;
    atomic_fetch_add_explicit(&h->n[i], 1, memory_order_relaxed);
    add_double(&h->sum, seconds);
}

static void add(atomic_ullong *a, unsigned long long v) {
    atomic_fetch_add_explicit(a, v, memory_order_relaxed);
}

void cc_metrics_take(cc_metrics_t *m, const cc_record_t *r) {
    if (!m || !r) return;
    char endpoint[VALUE_BUF], label[VALUE_BUF], dep[VALUE_BUF], status[VALUE_BUF],
        model[VALUE_BUF];
    const char *d = label_value(r->deployment, dep);
    if (r->outcome && strcmp(r->outcome, "client-closed") == 0)
        snprintf(status, sizeof status, "client-closed");
    else
        snprintf(status, sizeof status, "%d", r->status);
    const char *req_v[] = {label_value(r->endpoint, endpoint), label_value(r->label, label), d,
                           status};
    const char *m_name = r->sent_model ? r->sent_model : r->requested_model;
    const char *tok_v[] = {d, label_value(m_name, model)};
    const cc_usage_t *u = &r->usage;
    bool tokens = u->seen || (r->cost_known && r->cost_usd > 0);

    pthread_mutex_lock(&m->lock);
    series_t *sr = find(m, &m->requests, req_v);
    series_t *sl = find(m, &m->latency, &d);
    series_t *st = tokens ? find(m, &m->tokens, tok_v) : NULL;
    pthread_mutex_unlock(&m->lock);

    if (sr) add(&sr->v.count, 1);
    if (sl) {
        observe(&sl->v.lat.total, r->total_ms / 1000.0);
        if (r->ttfb_ms >= 0) observe(&sl->v.lat.ttfb, r->ttfb_ms / 1000.0);
    }
    if (st) {
        add(&st->v.tok.tokens[TOK_INPUT], u->input);
        add(&st->v.tok.tokens[TOK_OUTPUT], u->output);
        add(&st->v.tok.tokens[TOK_CACHE_CREATION], u->cache_creation);
        add(&st->v.tok.tokens[TOK_CACHE_READ], u->cache_read);
        if (r->cost_known) {
            add_double(&st->v.tok.cost, r->cost_usd);
            atomic_store_explicit(&st->v.tok.cost_known, true, memory_order_relaxed);
        }
    }
    if (u->seen && !r->cost_known) add(&m->cost_unknown, 1);
    if (r->n_attempts > 1) add(&m->retries, r->n_attempts - 1);
    for (size_t i = 0; i < r->n_attempts; i++) {
        const cc_record_attempt_t *a = &r->attempts[i];
        char ad[VALUE_BUF], res[VALUE_BUF];
        if (a->reason)
            label_value(a->reason, res);
        else if (a->status > 0)
            snprintf(res, sizeof res, "%d", a->status);
        else
            snprintf(res, sizeof res, "none");
        const char *att_v[] = {label_value(a->deployment, ad), res};
        pthread_mutex_lock(&m->lock);
        series_t *sa = find(m, &m->attempts, att_v);
        pthread_mutex_unlock(&m->lock);
        if (sa) add(&sa->v.count, 1);
    }
}

cc_metrics_t *cc_metrics_new(size_t max_series) {
    cc_metrics_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->max = max_series ? max_series : CC_METRICS_MAX_SERIES;
    pthread_mutex_init(&m->lock, NULL);
    atomic_init(&m->retries, 0);
    atomic_init(&m->cost_unknown, 0);
    int rc = family_init(&m->requests, 4, m->max);
    rc |= family_init(&m->latency, 1, m->max);
    rc |= family_init(&m->tokens, 2, m->max);
    rc |= family_init(&m->attempts, 2, m->max);
    if (rc) {
        cc_metrics_free(m);
        return NULL;
    }
    return m;
}

void cc_metrics_free(cc_metrics_t *m) {
    if (!m) return;
    family_free(&m->requests);
    family_free(&m->latency);
    family_free(&m->tokens);
    family_free(&m->attempts);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* --- the sink and the process's instance -------------------------------------------------- */

typedef struct {
    cc_record_sink_t base;
    cc_metrics_t *m;
} metrics_sink_t;

/* Set at start before any worker runs, cleared at exit after the last: no lock. */
static cc_metrics_t *process_metrics;

static void sink_take(cc_record_sink_t *s, cc_record_t *r) {
    cc_metrics_take(((metrics_sink_t *)s)->m, r);
}

static void sink_stop(cc_record_sink_t *s) {
    metrics_sink_t *ms = (metrics_sink_t *)s;
    if (process_metrics == ms->m) process_metrics = NULL;
    cc_metrics_free(ms->m);
    free(ms);
}

cc_record_sink_t *cc_metrics_sink_new(cc_metrics_t *m) {
    metrics_sink_t *ms = calloc(1, sizeof *ms);
    if (!ms) return NULL;
    ms->base.name = "metrics";
    ms->base.take = sink_take;
    ms->base.stop = sink_stop;
    ms->m = m;
    return &ms->base;
}

int cc_metrics_start(void) {
    cc_metrics_t *m = cc_metrics_new(0);
    cc_record_sink_t *s = m ? cc_metrics_sink_new(m) : NULL;
    if (!s) {
        cc_metrics_free(m);
        return -1;
    }
    if (cc_records_add(s) < 0) {
        s->stop(s);
        return -1;
    }
    process_metrics = m;
    return 0;
}

cc_metrics_t *cc_metrics_process(void) {
    return process_metrics;
}

long long cc_metrics_resident_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    unsigned long long size, resident;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    if (n != 2 || page <= 0) return -1;
    return (long long)(resident * (unsigned long long)page);
}

/* --- rendering ---------------------------------------------------------------------------- */

/* The shortest text that reads back as `v` (Go's and Prometheus's form: 1, 0.05, 1e+21), in
 * `b` (40 bytes). */
static const char *fmt_double(double v, char *b) {
    if (isnan(v)) return "NaN";
    if (isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    for (int p = 15; p <= 17; p++) {
        snprintf(b, 40, "%.*g", p, v);
        if (strtod(b, NULL) == v) break;
    }
    return b;
}

/* A label value inside its quotes: backslash, double quote and newline escaped. */
static void put_escaped(cc_buf_t *out, const char *s) {
    while (*s) {
        size_t run = strcspn(s, "\\\"\n");
        cc_buf_append(out, s, run);
        s += run;
        if (!*s) break;
        cc_buf_puts(out, *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : "\\n");
        s++;
    }
}

/* name{names[0]="vals[0]",...,extra="extra_val"} with the braces only when there are labels. */
static void put_name(cc_buf_t *out, const char *name, const char *suffix,
                     const char *const *names, char *const *vals, int n, const char *extra,
                     const char *extra_val) {
    cc_buf_puts(out, name);
    if (suffix) cc_buf_puts(out, suffix);
    if (n == 0 && !extra) return;
    cc_buf_puts(out, "{");
    for (int i = 0; i < n; i++) {
        cc_buf_printf(out, "%s%s=\"", i ? "," : "", names[i]);
        put_escaped(out, vals[i]);
        cc_buf_puts(out, "\"");
    }
    if (extra) {
        cc_buf_printf(out, "%s%s=\"", n ? "," : "", extra);
        put_escaped(out, extra_val);
        cc_buf_puts(out, "\"");
    }
    cc_buf_puts(out, "}");
}

static void put_header(cc_buf_t *out, const char *name, const char *type, const char *help) {
    cc_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_u64(cc_buf_t *out, unsigned long long v) {
    cc_buf_printf(out, " %llu\n", v);
}

static void put_value(cc_buf_t *out, double v) {
    char b[40];
    cc_buf_printf(out, " %s\n", fmt_double(v, b));
}

/* Runs the statement after it with `s` each series of `f` in turn: in the order they appeared,
 * the overflow one last. */
#define FOR_SERIES(f, s)                                                                      \
    for (size_t i_ = 0, n_ = atomic_load_explicit(&(f)->n, memory_order_acquire) + 1;        \
         i_ < n_; i_++)                                                                       \
        for (series_t *s = i_ + 1 < n_ ? (f)->list[i_]                                        \
                                       : atomic_load_explicit(&(f)->overflow,                 \
                                                              memory_order_acquire);          \
             s; s = NULL)

static void put_histogram(cc_buf_t *out, const char *name, const char *label, const char *value,
                          const hist_t *h) {
    char *v[] = {(char *)value};
    const char *names[] = {label};
    unsigned long long n[NB + 1], cum = 0;
    for (size_t b = 0; b <= NB; b++)
        n[b] = atomic_load_explicit(&h->n[b], memory_order_relaxed);
    char le[40];
    for (size_t b = 0; b < NB; b++) {
        cum += n[b];
        put_name(out, name, "_bucket", names, v, 1, "le", fmt_double(BOUNDS[b], le));
        put_u64(out, cum);
    }
    cum += n[NB];
    put_name(out, name, "_bucket", names, v, 1, "le", "+Inf");
    put_u64(out, cum);
    put_name(out, name, "_sum", names, v, 1, NULL, NULL);
    put_value(out, atomic_load_explicit(&((hist_t *)h)->sum, memory_order_relaxed));
    put_name(out, name, "_count", names, v, 1, NULL, NULL);
    put_u64(out, cum); /* the +Inf bucket's, so the two always agree */
}

static void render_requests(cc_metrics_t *m, cc_buf_t *out) {
    put_header(out, "ccproxy_requests_total", "counter",
               "Requests finished, by endpoint, routing label, answering deployment and the "
               "status the client got (client-closed when it left first).");
    FOR_SERIES(&m->requests, s) {
        put_name(out, "ccproxy_requests_total", NULL, REQ_LABELS, s->label, 4, NULL, NULL);
        put_u64(out, atomic_load_explicit(&s->v.count, memory_order_relaxed));
    }
    static const char *const names[2] = {"ccproxy_request_duration_seconds",
                                         "ccproxy_time_to_first_byte_seconds"};
    static const char *const helps[2] = {
        "Time from a request's arrival to its end, by answering deployment.",
        "Time from a request's arrival to the answer's head, by answering deployment."};
    for (int k = 0; k < 2; k++) {
        put_header(out, names[k], "histogram", helps[k]);
        FOR_SERIES(&m->latency, s) {
            put_histogram(out, names[k], "deployment", s->label[0],
                          k == 0 ? &s->v.lat.total : &s->v.lat.ttfb);
        }
    }
    put_header(out, "ccproxy_tokens_total", "counter",
               "Tokens the answers reported, by deployment, model sent upstream and type.");
    FOR_SERIES(&m->tokens, s) {
        for (int t = 0; t < TOK_N; t++) {
            put_name(out, "ccproxy_tokens_total", NULL, DEP_LABELS, s->label, 2, "type",
                     TOK_TYPES[t]);
            put_u64(out, atomic_load_explicit(&s->v.tok.tokens[t], memory_order_relaxed));
        }
    }
    put_header(out, "ccproxy_cost_usd_total", "counter",
               "Cost in US dollars of the answers whose every token has a price, by deployment "
               "and model.");
    FOR_SERIES(&m->tokens, s) {
        if (!atomic_load_explicit(&s->v.tok.cost_known, memory_order_relaxed)) continue;
        put_name(out, "ccproxy_cost_usd_total", NULL, DEP_LABELS, s->label, 2, NULL, NULL);
        put_value(out, atomic_load_explicit(&s->v.tok.cost, memory_order_relaxed));
    }
    put_header(out, "ccproxy_requests_cost_unknown_total", "counter",
               "Answers that reported tokens of which some have no price.");
    cc_buf_puts(out, "ccproxy_requests_cost_unknown_total");
    put_u64(out, atomic_load_explicit(&m->cost_unknown, memory_order_relaxed));
    put_header(out, "ccproxy_upstream_attempts_total", "counter",
               "Upstream attempts, by deployment and result (the status it answered, or "
               "unreachable, timeout, tls, broken).");
    FOR_SERIES(&m->attempts, s) {
        put_name(out, "ccproxy_upstream_attempts_total", NULL, ATT_LABELS, s->label, 2, NULL,
                 NULL);
        put_u64(out, atomic_load_explicit(&s->v.count, memory_order_relaxed));
    }
    put_header(out, "ccproxy_retries_total", "counter",
               "Upstream attempts beyond each request's first.");
    cc_buf_puts(out, "ccproxy_retries_total");
    put_u64(out, atomic_load_explicit(&m->retries, memory_order_relaxed));
}

static void render_cooldowns(const cc_metrics_process_t *p, cc_buf_t *out) {
    put_header(out, "ccproxy_deployment_cooldown", "gauge",
               "1 while a deployment cools down (left out of every pick), else 0; entries that "
               "share a model_name and model add up.");
    size_t n = p->n_deployments;
    /* The label values of every entry, cleaned once: [2i] its name, [2i+1] its model. */
    char (*v)[VALUE_BUF] = n ? malloc(2 * n * sizeof *v) : NULL;
    if (!v) return;
    for (size_t i = 0; i < n; i++) {
        label_value(p->deployments[i].deployment, v[2 * i]);
        label_value(p->deployments[i].model, v[2 * i + 1]);
    }
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        int cooling = 0;
        for (size_t j = 0; j < n && !seen; j++) {
            if (strcmp(v[2 * j], v[2 * i]) != 0 || strcmp(v[2 * j + 1], v[2 * i + 1]) != 0)
                continue;
            if (j < i)
                seen = true; /* written with its first entry */
            else
                cooling += p->deployments[j].cooling;
        }
        if (seen) continue;
        char *labels[] = {v[2 * i], v[2 * i + 1]};
        put_name(out, "ccproxy_deployment_cooldown", NULL, DEP_LABELS, labels, 2, NULL, NULL);
        cc_buf_printf(out, " %d\n", cooling);
    }
    free(v);
}

static void render_process(const cc_metrics_process_t *p, cc_buf_t *out) {
    put_header(out, "ccproxy_requests_in_flight", "gauge",
               "Proxied requests between their arrival and their end, streams included.");
    cc_buf_printf(out, "ccproxy_requests_in_flight %lld\n", p->requests_in_flight);
    put_header(out, "ccproxy_open_streams", "gauge",
               "Proxied requests in flight that asked for a stream.");
    cc_buf_printf(out, "ccproxy_open_streams %lld\n", p->open_streams);
    render_cooldowns(p, out);
    put_header(out, "ccproxy_script_errors_total", "counter",
               "Rule and hook failures: rules that raised, hooks that raised, calls stopped by "
               "their time budget, calls that hit the memory limit.");
    static const char *const kinds[] = {"rule", "hook", "budget_exceeded", "memory"};
    const unsigned long long counts[] = {p->rule_errors, p->hook_errors, p->budget_exceeded,
                                         p->memory_errors};
    static const char *const kind_label[] = {"kind"};
    for (int i = 0; i < 4; i++) {
        char *v[] = {(char *)kinds[i]};
        put_name(out, "ccproxy_script_errors_total", NULL, kind_label, v, 1, NULL, NULL);
        put_u64(out, counts[i]);
    }
    put_header(out, "ccproxy_reloads_total", "counter", "Reloads (SIGHUP), by result.");
    cc_buf_printf(out, "ccproxy_reloads_total{result=\"ok\"} %llu\n", p->reloads_ok);
    cc_buf_printf(out, "ccproxy_reloads_total{result=\"failed\"} %llu\n", p->reloads_failed);
    put_header(out, "ccproxy_config_generation", "gauge",
               "The configuration generation serving new requests (1 at start, +1 per "
               "successful reload).");
    cc_buf_printf(out, "ccproxy_config_generation %lld\n", p->generation);
    if (p->resident_bytes >= 0) {
        put_header(out, "ccproxy_process_resident_memory_bytes", "gauge",
                   "Resident memory of the process.");
        cc_buf_printf(out, "ccproxy_process_resident_memory_bytes %lld\n", p->resident_bytes);
    }
    put_header(out, "ccproxy_lua_memory_bytes", "gauge", "Memory held by every Lua state.");
    cc_buf_printf(out, "ccproxy_lua_memory_bytes %lld\n", p->lua_bytes);
    put_header(out, "ccproxy_uptime_seconds", "gauge", "Seconds since the process started.");
    cc_buf_puts(out, "ccproxy_uptime_seconds");
    put_value(out, p->uptime_s);
    put_header(out, "ccproxy_build_info", "gauge", "Always 1; the version in its label.");
    static const char *const version_label[] = {"version"};
    char *v[] = {(char *)(p->version ? p->version : "")};
    put_name(out, "ccproxy_build_info", NULL, version_label, v, 1, NULL, NULL);
    cc_buf_puts(out, " 1\n");
}

void cc_metrics_render(cc_metrics_t *m, const cc_metrics_process_t *p, cc_buf_t *out) {
    if (m) render_requests(m, out);
    if (p) render_process(p, out);
}
