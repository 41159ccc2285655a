/* sessions.c: per-session totals (see sessions.h). A fixed hash table of chains (twice as many
 * buckets as sessions) and a doubly linked list in the order of use, most recent first, both
 * under one mutex. */
#include "record/sessions.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry_s entry_t;
struct entry_s {
    cc_session_t s;
    entry_t *chain;       /* the next in its bucket */
    entry_t *prev, *next; /* the use order: prev more recent */
    uint64_t hash;
};

struct cc_sessions_s {
    pthread_mutex_t lock;
    size_t max, count;
    size_t n_buckets; /* a power of two */
    entry_t **buckets;
    entry_t *head, *tail; /* most and least recently used */
};

static uint64_t hash_of(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* A copy of `s` cut to CC_SESSION_STR_MAX bytes (NULL for NULL or out of memory). */
static char *dup_cut(const char *s) {
    if (!s) return NULL;
    return strndup(s, CC_SESSION_STR_MAX);
}

/* Whether `kept` (a cut copy) is what `v` cuts to. */
static bool same_cut(const char *kept, const char *v) {
    if (!kept || !v) return false;
    size_t n = strlen(kept);
    return strnlen(v, CC_SESSION_STR_MAX) == n && memcmp(kept, v, n) == 0;
}

/* *slot becomes a copy of `v` (cut), unless it already holds that; NULL leaves it. */
static void set_str(char **slot, const char *v) {
    if (!v || same_cut(*slot, v)) return;
    char *c = dup_cut(v);
    if (!c) return; /* out of memory: keep the old value */
    free(*slot);
    *slot = c;
}

cc_sessions_t *cc_sessions_new(size_t max) {
    if (max == 0) return NULL;
    cc_sessions_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->max = max;
    s->n_buckets = 16;
    while (s->n_buckets < 2 * max) s->n_buckets *= 2;
    s->buckets = calloc(s->n_buckets, sizeof *s->buckets);
    if (!s->buckets) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

static void model_clear(cc_session_model_t *m) {
    free(m->deployment);
    free(m->model);
    free(m->requested_model);
    free(m->label);
    memset(m, 0, sizeof *m);
}

void cc_session_clear(cc_session_t *ss) {
    if (!ss) return;
    free(ss->id);
    free(ss->label);
    free(ss->requested_model);
    for (size_t i = 0; i < ss->n_models; i++) model_clear(&ss->models[i]);
    memset(ss, 0, sizeof *ss);
    ss->last_model = -1;
}

void cc_sessions_free(cc_sessions_t *s) {
    if (!s) return;
    for (entry_t *e = s->head, *next; e; e = next) {
        next = e->next;
        cc_session_clear(&e->s);
        free(e);
    }
    free(s->buckets);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* --- the use order and the buckets (under the lock) ----------------------------------------- */

static void unlink_use(cc_sessions_t *s, entry_t *e) {
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(cc_sessions_t *s, entry_t *e) {
    e->prev = NULL;
    e->next = s->head;
    if (s->head) s->head->prev = e;
    s->head = e;
    if (!s->tail) s->tail = e;
}

static void touch(cc_sessions_t *s, entry_t *e) {
    if (s->head == e) return;
    unlink_use(s, e);
    push_front(s, e);
}

static entry_t *find(cc_sessions_t *s, const char *id, size_t n, uint64_t h) {
    for (entry_t *e = s->buckets[h & (s->n_buckets - 1)]; e; e = e->chain)
        if (e->hash == h && strlen(e->s.id) == n && memcmp(e->s.id, id, n) == 0) return e;
    return NULL;
}

static void unlink_bucket(cc_sessions_t *s, entry_t *e) {
    entry_t **p = &s->buckets[e->hash & (s->n_buckets - 1)];
    while (*p && *p != e) p = &(*p)->chain;
    if (*p) *p = e->chain;
}

/* The least recently used session goes. */
static void evict_one(cc_sessions_t *s) {
    entry_t *e = s->tail;
    if (!e) return;
    unlink_use(s, e);
    unlink_bucket(s, e);
    cc_session_clear(&e->s);
    free(e);
    s->count--;
}

static entry_t *insert(cc_sessions_t *s, const char *id, size_t n, uint64_t h) {
    entry_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->s.id = strndup(id, n);
    if (!e->s.id) {
        free(e);
        return NULL;
    }
    e->s.last_model = -1;
    e->hash = h;
    while (s->count >= s->max) evict_one(s);
    size_t b = h & (s->n_buckets - 1);
    e->chain = s->buckets[b];
    s->buckets[b] = e;
    push_front(s, e);
    s->count++;
    return e;
}

/* --- taking a record ------------------------------------------------------------------------ */

/* The model entry of (deployment, model), made when new: the least recently used one makes
 * room. NULL when out of memory. */
static cc_session_model_t *model_slot(cc_session_t *ss, const char *dep, const char *model) {
    for (size_t i = 0; i < ss->n_models; i++) {
        cc_session_model_t *m = &ss->models[i];
        if (same_cut(m->deployment, dep) &&
            (m->model ? same_cut(m->model, model) : model == NULL)) {
            ss->last_model = (int)i;
            return m;
        }
    }
    char *d = dup_cut(dep), *mo = model ? dup_cut(model) : NULL;
    if (!d || (model && !mo)) {
        free(d);
        free(mo);
        return NULL;
    }
    size_t at = ss->n_models;
    if (at == CC_SESSION_MODELS) {
        at = 0;
        for (size_t i = 1; i < ss->n_models; i++)
            if (ss->models[i].last_ms < ss->models[at].last_ms) at = i;
        ss->other_requests += ss->models[at].requests;
        model_clear(&ss->models[at]);
        /* Keep the order in which they first answered: the new one goes last. */
        memmove(&ss->models[at], &ss->models[at + 1],
                (ss->n_models - at - 1) * sizeof ss->models[0]);
        at = ss->n_models - 1;
        memset(&ss->models[at], 0, sizeof ss->models[at]);
    } else {
        ss->n_models++;
    }
    ss->models[at].deployment = d;
    ss->models[at].model = mo;
    ss->last_model = (int)at;
    return &ss->models[at];
}

static bool is_error(const cc_record_t *r) {
    return r->status >= 400 || r->status < 100 || r->outcome != NULL;
}

/* The deployment gave an answer (of any status): its last attempt got one, or the client
 * got a complete one. */
static bool answered(const cc_record_t *r) {
    if (!r->deployment) return false;
    if (r->n_attempts) return r->attempts[r->n_attempts - 1].status > 0;
    return !is_error(r);
}

void cc_sessions_take(cc_sessions_t *s, const cc_record_t *r) {
    if (!s || !r || !r->session_id || !*r->session_id) return;
    if (r->endpoint && strcmp(r->endpoint, "messages") != 0) return;
    size_t n = strlen(r->session_id);
    if (n > CC_SESSION_ID_MAX) return;
    uint64_t h = hash_of(r->session_id, n);
    const cc_usage_t *u = &r->usage;
    bool err = is_error(r);
    /* Tokens were used and their price is not known (an error answer without usage used
     * none; a complete answer whose usage was not read did). */
    bool unknown = !r->cost_known && (u->seen || !err);
    uint64_t ctx = u->input + u->cache_creation + u->cache_read;

    pthread_mutex_lock(&s->lock);
    entry_t *e = find(s, r->session_id, n, h);
    if (e)
        touch(s, e);
    else
        e = insert(s, r->session_id, n, h);
    if (!e) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    cc_session_t *ss = &e->s;
    if (!ss->first_ms || r->time_ms < ss->first_ms) ss->first_ms = r->time_ms;
    if (r->time_ms > ss->last_ms) ss->last_ms = r->time_ms;
    ss->requests++;
    if (err) ss->errors++;
    if (u->seen) {
        ss->input += u->input;
        ss->output += u->output;
        ss->cache_creation += u->cache_creation;
        ss->cache_read += u->cache_read;
        ss->context_seen = true;
        ss->context_tokens = ctx;
    }
    if (r->cost_known) {
        ss->cost_usd += r->cost_usd;
        ss->priced++;
    } else if (unknown) {
        ss->cost_unknown = true;
    }
    set_str(&ss->label, r->label);
    set_str(&ss->requested_model, r->requested_model);
    if (answered(r)) {
        cc_session_model_t *m = model_slot(ss, r->deployment, r->sent_model);
        if (m) {
            m->requests++;
            if (err) m->errors++;
            if (r->time_ms > m->last_ms) m->last_ms = r->time_ms;
            set_str(&m->requested_model, r->requested_model);
            set_str(&m->label, r->label);
            /* A subagent's request does not replace the main conversation's context. */
            if (u->seen && (!r->agent_id || !m->context_seen)) {
                m->context_seen = true;
                m->context_tokens = ctx;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
}

/* --- reading -------------------------------------------------------------------------------- */

static int copy_str(char **to, const char *from) {
    *to = NULL;
    if (!from) return 0;
    *to = strdup(from);
    return *to ? 0 : -1;
}

static int copy_session(cc_session_t *to, const cc_session_t *from) {
    *to = *from;
    to->id = to->label = to->requested_model = NULL;
    to->n_models = 0;
    int rc = copy_str(&to->id, from->id) | copy_str(&to->label, from->label) |
             copy_str(&to->requested_model, from->requested_model);
    for (size_t i = 0; i < from->n_models; i++) {
        const cc_session_model_t *f = &from->models[i];
        cc_session_model_t *t = &to->models[i];
        *t = *f;
        t->deployment = t->model = t->requested_model = t->label = NULL;
        to->n_models = i + 1;
        rc |= copy_str(&t->deployment, f->deployment) | copy_str(&t->model, f->model) |
              copy_str(&t->requested_model, f->requested_model) |
              copy_str(&t->label, f->label);
    }
    if (rc) {
        cc_session_clear(to);
        return -2;
    }
    return 0;
}

int cc_sessions_get(cc_sessions_t *s, const char *id, cc_session_t *out) {
    memset(out, 0, sizeof *out);
    out->last_model = -1;
    if (!s || !id) return -1;
    size_t n = strlen(id);
    if (n == 0 || n > CC_SESSION_ID_MAX) return -1;
    uint64_t h = hash_of(id, n);
    pthread_mutex_lock(&s->lock);
    entry_t *e = find(s, id, n, h);
    int rc = -1;
    if (e) {
        touch(s, e);
        rc = copy_session(out, &e->s);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

size_t cc_sessions_count(cc_sessions_t *s) {
    if (!s) return 0;
    pthread_mutex_lock(&s->lock);
    size_t n = s->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* --- the context window ----------------------------------------------------------------------- */

uint64_t cc_sessions_context_window(const cc_config_t *cfg, const cc_prices_t *prices,
                                    const char *deployment, const char *model) {
    /* The member of the group that sends `model`, else its first member. */
    const cc_model_t *m = NULL;
    for (size_t i = 0; cfg && deployment && i < cfg->n_models; i++) {
        const cc_model_t *e = &cfg->models[i];
        if (e->alias_of >= 0 || strcmp(e->model_name, deployment) != 0) continue;
        bool sends = model && ((e->upstream_model && strcmp(e->upstream_model, model) == 0) ||
                               (e->model && strcmp(e->model, model) == 0));
        if (sends) {
            m = e;
            break;
        }
        if (!m) m = e;
    }
    /* A deployment no longer configured (a reload): the tables by the model alone. */
    cc_model_t none;
    memset(&none, 0, sizeof none);
    none.model_name = (char *)(deployment ? deployment : "");
    none.upstream_model = (char *)model;
    if (!m) {
        if (!model) return 0;
        m = &none;
    }
    cc_price_t price;
    cc_prices_for(prices, m, model, &price);
    return price.max_input_tokens > 0 ? (uint64_t)price.max_input_tokens : 0;
}

/* --- JSON ----------------------------------------------------------------------------------- */

static void add_str(cJSON *o, const char *k, const char *v) {
    if (v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

/* {"tokens": N | null, "window": N | null} */
static void add_context(cJSON *o, bool seen, uint64_t tokens, uint64_t window) {
    cJSON *c = cJSON_AddObjectToObject(o, "context");
    if (!c) return;
    if (seen)
        cJSON_AddNumberToObject(c, "tokens", (double)tokens);
    else
        cJSON_AddNullToObject(c, "tokens");
    if (window)
        cJSON_AddNumberToObject(c, "window", (double)window);
    else
        cJSON_AddNullToObject(c, "window");
}

void cc_session_json(const cc_session_t *ss, const cc_config_t *cfg, const cc_prices_t *prices,
                     cc_buf_t *out) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return;
    add_str(o, "session_id", ss->id);
    cJSON_AddNumberToObject(o, "first_ms", (double)ss->first_ms);
    cJSON_AddNumberToObject(o, "last_ms", (double)ss->last_ms);
    cJSON_AddNumberToObject(o, "requests", (double)ss->requests);
    cJSON_AddNumberToObject(o, "errors", (double)ss->errors);
    cJSON *t = cJSON_AddObjectToObject(o, "tokens");
    if (t) {
        cJSON_AddNumberToObject(t, "input", (double)ss->input);
        cJSON_AddNumberToObject(t, "output", (double)ss->output);
        cJSON_AddNumberToObject(t, "cache_creation", (double)ss->cache_creation);
        cJSON_AddNumberToObject(t, "cache_read", (double)ss->cache_read);
    }
    cJSON_AddNumberToObject(o, "cost_usd", ss->cost_usd);
    cJSON_AddBoolToObject(o, "cost_unknown", ss->cost_unknown);
    cJSON_AddNumberToObject(o, "priced_requests", (double)ss->priced);
    add_str(o, "label", ss->label);
    add_str(o, "requested_model", ss->requested_model);
    const cc_session_model_t *last =
        ss->last_model >= 0 && (size_t)ss->last_model < ss->n_models ? &ss->models[ss->last_model]
                                                                      : NULL;
    add_str(o, "deployment", last ? last->deployment : NULL);
    add_str(o, "model", last ? last->model : NULL);
    add_context(o, ss->context_seen, ss->context_tokens,
                last ? cc_sessions_context_window(cfg, prices, last->deployment, last->model) : 0);
    cJSON *list = cJSON_AddArrayToObject(o, "models");
    for (size_t i = 0; list && i < ss->n_models; i++) {
        const cc_session_model_t *m = &ss->models[i];
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        add_str(e, "deployment", m->deployment);
        add_str(e, "model", m->model);
        add_str(e, "requested_model", m->requested_model);
        add_str(e, "label", m->label);
        cJSON_AddNumberToObject(e, "requests", (double)m->requests);
        cJSON_AddNumberToObject(e, "errors", (double)m->errors);
        cJSON_AddNumberToObject(e, "last_ms", (double)m->last_ms);
        add_context(e, m->context_seen, m->context_tokens,
                    cc_sessions_context_window(cfg, prices, m->deployment, m->model));
        cJSON_AddItemToArray(list, e);
    }
    cJSON_AddNumberToObject(o, "other_requests", (double)ss->other_requests);
    char *text = cJSON_PrintUnformatted(o);
    if (text) cc_buf_puts(out, text);
    free(text);
    cJSON_Delete(o);
}

/* --- the sink and the process's table --------------------------------------------------------- */

typedef struct {
    cc_record_sink_t sink;
    cc_sessions_t *table;
} sessions_sink_t;

static cc_sessions_t *process_table;

static void sink_take(cc_record_sink_t *s, cc_record_t *r) {
    cc_sessions_take(((sessions_sink_t *)s)->table, r);
}

static void sink_stop(cc_record_sink_t *s) {
    sessions_sink_t *ss = (sessions_sink_t *)s;
    if (process_table == ss->table) process_table = NULL;
    cc_sessions_free(ss->table);
    free(ss);
}

cc_record_sink_t *cc_sessions_sink(cc_sessions_t *s) {
    if (!s) return NULL;
    sessions_sink_t *ss = calloc(1, sizeof *ss);
    if (!ss) return NULL;
    ss->sink.name = "sessions";
    ss->sink.take = sink_take;
    ss->sink.stop = sink_stop;
    ss->table = s;
    return &ss->sink;
}

int cc_sessions_start(size_t max) {
    cc_sessions_t *t = cc_sessions_new(max);
    cc_record_sink_t *sink = cc_sessions_sink(t);
    if (!sink) {
        cc_sessions_free(t);
        return -1;
    }
    if (cc_records_add(sink) != 0) {
        sink->stop(sink);
        return -1;
    }
    process_table = t;
    return 0;
}

cc_sessions_t *cc_sessions_process(void) {
    return process_table;
}
