/* recent.c: the last requests and the totals per day and per model, in memory (see recent.h). */
#include "record/recent.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cc_recent_s {
    cc_record_sink_t sink; /* first: the sink's pointer is the memory's */
    pthread_mutex_t lock;
    cc_recent_request_t *ring; /* max_requests slots; next is where the next one goes */
    size_t max_requests, n_requests, next;
    cc_recent_day_t *days; /* oldest first */
    size_t max_days, n_days;
    unsigned long long days_dropped;
    cc_recent_model_t *models;
    size_t max_models, n_models;
    cc_recent_totals_t all;
};

static _Atomic(cc_recent_t *) process_recent;

/* Copies `s` into `dst` (of size n), cut at a UTF-8 character boundary when too long. */
static void copy_field(char *dst, size_t n, const char *s) {
    if (!s) {
        dst[0] = '\0';
        return;
    }
    size_t len = strlen(s);
    if (len >= n) {
        len = n - 1;
        /* Back off continuation bytes (10xxxxxx), then the lead byte they belonged to. */
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80) len--;
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
}

cc_recent_t *cc_recent_new(size_t max_requests, size_t max_days, size_t max_models) {
    cc_recent_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->max_requests = max_requests ? max_requests : CC_RECENT_REQUESTS;
    r->max_days = max_days ? max_days : CC_RECENT_DAYS;
    r->max_models = max_models ? max_models : CC_RECENT_MODELS;
    if (r->max_models < 2) r->max_models = 2; /* one model and the bucket for the others */
    r->ring = calloc(r->max_requests, sizeof *r->ring);
    r->days = calloc(r->max_days, sizeof *r->days);
    r->models = calloc(r->max_models, sizeof *r->models);
    if (!r->ring || !r->days || !r->models || pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r->ring);
        free(r->days);
        free(r->models);
        free(r);
        return NULL;
    }
    return r;
}

void cc_recent_free(cc_recent_t *r) {
    if (!r) return;
    cc_recent_t *self = r;
    atomic_compare_exchange_strong(&process_recent, &self, NULL);
    pthread_mutex_destroy(&r->lock);
    free(r->ring);
    free(r->days);
    free(r->models);
    free(r);
}

static void add_to(cc_recent_totals_t *t, const cc_recent_request_t *e, bool error) {
    t->requests++;
    if (error) t->errors++;
    if (!e->usage.seen) return;
    t->input += e->usage.input;
    t->output += e->usage.output;
    t->cache_creation += e->usage.cache_creation;
    t->cache_read += e->usage.cache_read;
    if (e->cost_known)
        t->cost_usd += e->cost_usd;
    else
        t->cost_unknown++;
}

/* The day `date`, made (in date order) when it is not there yet; NULL when it is older than
 * every day kept and there is no room. Called under the lock. */
static cc_recent_day_t *day_for(cc_recent_t *r, const char *date) {
    size_t i = r->n_days;
    while (i > 0 && strcmp(r->days[i - 1].date, date) > 0) i--;
    if (i > 0 && strcmp(r->days[i - 1].date, date) == 0) return &r->days[i - 1];
    if (r->n_days == r->max_days) {
        if (i == 0) return NULL; /* older than everything kept */
        memmove(&r->days[0], &r->days[1], (r->n_days - 1) * sizeof *r->days);
        r->n_days--;
        r->days_dropped++;
        i--;
    }
    memmove(&r->days[i + 1], &r->days[i], (r->n_days - i) * sizeof *r->days);
    r->n_days++;
    memset(&r->days[i], 0, sizeof r->days[i]);
    memcpy(r->days[i].date, date, sizeof r->days[i].date);
    return &r->days[i];
}

/* The model's totals: max_models - 1 slots for distinct models, then the last slot is the
 * bucket for every further one. Called under the lock. */
static cc_recent_model_t *model_for(cc_recent_t *r, const char *model) {
    for (size_t i = 0; i < r->n_models; i++)
        if (strcmp(r->models[i].model, model) == 0) return &r->models[i];
    if (r->n_models < r->max_models - 1) {
        cc_recent_model_t *m = &r->models[r->n_models++];
        copy_field(m->model, sizeof m->model, model);
        return m;
    }
    cc_recent_model_t *other = &r->models[r->max_models - 1];
    if (r->n_models < r->max_models) {
        r->n_models = r->max_models;
        copy_field(other->model, sizeof other->model, CC_RECENT_OTHER);
    }
    return other;
}

void cc_recent_take(cc_recent_t *r, const cc_record_t *rec) {
    if (!r || !rec) return;
    /* Everything that needs no lock first: the entry, its day, its model's name. */
    cc_recent_request_t e;
    memset(&e, 0, sizeof e);
    e.time_ms = rec->time_ms;
    copy_field(e.id, sizeof e.id, rec->id);
    copy_field(e.endpoint, sizeof e.endpoint, rec->endpoint);
    copy_field(e.label, sizeof e.label, rec->label);
    copy_field(e.requested_model, sizeof e.requested_model, rec->requested_model);
    copy_field(e.deployment, sizeof e.deployment, rec->deployment);
    copy_field(e.sent_model, sizeof e.sent_model, rec->sent_model);
    copy_field(e.outcome, sizeof e.outcome, rec->outcome);
    e.status = rec->status;
    e.stream = rec->stream;
    e.attempts = (unsigned)rec->n_attempts;
    e.usage = rec->usage;
    e.cost_known = rec->cost_known && rec->usage.seen;
    e.cost_usd = e.cost_known ? rec->cost_usd : 0;
    e.ttfb_ms = rec->ttfb_ms;
    e.total_ms = rec->total_ms;
    bool error = rec->status >= 400 || (rec->outcome && rec->outcome[0]);

    char date[11];
    time_t secs = (time_t)(rec->time_ms / 1000);
    struct tm tm;
    if (!localtime_r(&secs, &tm) || strftime(date, sizeof date, "%Y-%m-%d", &tm) == 0)
        memcpy(date, "0000-00-00", sizeof date);

    char model[sizeof e.sent_model];
    const char *name = e.sent_model[0]   ? e.sent_model
                       : e.deployment[0] ? e.deployment
                                         : CC_RECENT_NONE;
    copy_field(model, sizeof model, name);

    pthread_mutex_lock(&r->lock);
    r->ring[r->next] = e;
    r->next = (r->next + 1) % r->max_requests;
    if (r->n_requests < r->max_requests) r->n_requests++;
    add_to(&r->all, &e, error);
    cc_recent_day_t *d = day_for(r, date);
    if (d) add_to(&d->t, &e, error);
    add_to(&model_for(r, model)->t, &e, error);
    pthread_mutex_unlock(&r->lock);
}

cc_recent_snapshot_t *cc_recent_snapshot(cc_recent_t *r) {
    if (!r) return NULL;
    cc_recent_snapshot_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->requests = malloc(r->max_requests * sizeof *s->requests);
    s->days = malloc(r->max_days * sizeof *s->days);
    s->models = malloc(r->max_models * sizeof *s->models);
    if (!s->requests || !s->days || !s->models) {
        cc_recent_snapshot_free(s);
        return NULL;
    }
    s->max_requests = r->max_requests;
    s->max_days = r->max_days;
    s->max_models = r->max_models;
    pthread_mutex_lock(&r->lock);
    /* Newest first: the ring backwards from the slot before `next`. */
    size_t n = r->n_requests, m = r->max_requests;
    for (size_t i = 0; i < n; i++) s->requests[i] = r->ring[(r->next + m - 1 - i) % m];
    s->n_requests = n;
    memcpy(s->days, r->days, r->n_days * sizeof *s->days);
    s->n_days = r->n_days;
    memcpy(s->models, r->models, r->n_models * sizeof *s->models);
    s->n_models = r->n_models;
    s->all = r->all;
    s->days_dropped = r->days_dropped;
    pthread_mutex_unlock(&r->lock);
    return s;
}

void cc_recent_snapshot_free(cc_recent_snapshot_t *s) {
    if (!s) return;
    free(s->requests);
    free(s->days);
    free(s->models);
    free(s);
}

static void add_totals(cJSON *o, const cc_recent_totals_t *t) {
    cJSON_AddNumberToObject(o, "requests", (double)t->requests);
    cJSON_AddNumberToObject(o, "errors", (double)t->errors);
    cJSON *tok = cJSON_AddObjectToObject(o, "tokens");
    cJSON_AddNumberToObject(tok, "input", (double)t->input);
    cJSON_AddNumberToObject(tok, "output", (double)t->output);
    cJSON_AddNumberToObject(tok, "cache_creation", (double)t->cache_creation);
    cJSON_AddNumberToObject(tok, "cache_read", (double)t->cache_read);
    cJSON_AddNumberToObject(o, "cost_usd", t->cost_usd);
    cJSON_AddNumberToObject(o, "cost_unknown", (double)t->cost_unknown);
}

/* A string member, null when empty. */
static void add_str(cJSON *o, const char *name, const char *v) {
    if (v[0])
        cJSON_AddStringToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

static void add_request(cJSON *list, const cc_recent_request_t *e) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "time_ms", (double)e->time_ms);
    cJSON_AddStringToObject(o, "id", e->id);
    add_str(o, "endpoint", e->endpoint);
    add_str(o, "label", e->label);
    add_str(o, "requested_model", e->requested_model);
    add_str(o, "deployment", e->deployment);
    add_str(o, "sent_model", e->sent_model);
    cJSON_AddNumberToObject(o, "status", e->status);
    add_str(o, "outcome", e->outcome);
    cJSON_AddBoolToObject(o, "stream", e->stream);
    cJSON_AddNumberToObject(o, "attempts", e->attempts);
    if (e->usage.seen) {
        cJSON *u = cJSON_AddObjectToObject(o, "usage");
        cJSON_AddNumberToObject(u, "input", (double)e->usage.input);
        cJSON_AddNumberToObject(u, "output", (double)e->usage.output);
        cJSON_AddNumberToObject(u, "cache_creation", (double)e->usage.cache_creation);
        cJSON_AddNumberToObject(u, "cache_read", (double)e->usage.cache_read);
    } else {
        cJSON_AddNullToObject(o, "usage");
    }
    if (e->cost_known)
        cJSON_AddNumberToObject(o, "cost_usd", e->cost_usd);
    else
        cJSON_AddNullToObject(o, "cost_usd");
    if (e->ttfb_ms >= 0)
        cJSON_AddNumberToObject(o, "ttfb_ms", e->ttfb_ms);
    else
        cJSON_AddNullToObject(o, "ttfb_ms");
    cJSON_AddNumberToObject(o, "total_ms", e->total_ms);
    cJSON_AddItemToArray(list, o);
}

void cc_recent_add_json(const cc_recent_snapshot_t *s, cJSON *obj) {
    add_totals(cJSON_AddObjectToObject(obj, "totals"), &s->all);
    cJSON *days = cJSON_AddArrayToObject(obj, "days");
    for (size_t i = 0; i < s->n_days; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "date", s->days[i].date);
        add_totals(d, &s->days[i].t);
        cJSON_AddItemToArray(days, d);
    }
    cJSON *models = cJSON_AddArrayToObject(obj, "models");
    for (size_t i = 0; i < s->n_models; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "model", s->models[i].model);
        add_totals(m, &s->models[i].t);
        cJSON_AddItemToArray(models, m);
    }
    cJSON *reqs = cJSON_AddArrayToObject(obj, "requests");
    for (size_t i = 0; i < s->n_requests; i++) add_request(reqs, &s->requests[i]);
    cJSON *lim = cJSON_AddObjectToObject(obj, "limits");
    cJSON_AddNumberToObject(lim, "requests", (double)s->max_requests);
    cJSON_AddNumberToObject(lim, "days", (double)s->max_days);
    cJSON_AddNumberToObject(lim, "models", (double)s->max_models);
    cJSON_AddNumberToObject(lim, "days_dropped", (double)s->days_dropped);
}

/* --- the record sink ------------------------------------------------------------------- */

static void sink_take(cc_record_sink_t *s, cc_record_t *rec) {
    cc_recent_take((cc_recent_t *)s, rec);
}

static void sink_stop(cc_record_sink_t *s) {
    cc_recent_free((cc_recent_t *)s);
}

cc_record_sink_t *cc_recent_sink(cc_recent_t *r) {
    if (!r) return NULL;
    r->sink.name = "recent";
    r->sink.take = sink_take;
    r->sink.stop = sink_stop;
    return &r->sink;
}

int cc_recent_start(void) {
    cc_recent_t *r = cc_recent_new(0, 0, 0);
    if (!r) return -1;
    if (cc_records_add(cc_recent_sink(r)) < 0) {
        cc_recent_free(r);
        return -1;
    }
    atomic_store(&process_recent, r);
    return 0;
}

cc_recent_t *cc_recent_process(void) {
    return atomic_load(&process_recent);
}
