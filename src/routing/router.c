/* router.c: groups, plans, picks and cooldowns (see router.h). */
#include "routing/router.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "routing/deployment_id.h"
#include "routing/failure.h"
#include "routing/shared_state.h"
#include "routing/strategy.h"

#define LATENCY_SAMPLES 8 /* the latency of a deployment is the mean of its last 8 */

typedef struct {
    uint64_t window_start_ms; /* the minute allowed_fails counts in */
    int fails;          /* failures in it that count toward allowed_fails */
    int fails_by[CC_FAIL_CLASSES]; /* ... per class, for allowed_fails_policy */
    uint64_t cooling_until_ms;
    int cooling_status; /* the failure that made it cool down */
    int busy;           /* attempts in progress at it */
    uint64_t minute;    /* the wall-clock minute rpm and tpm count in */
    unsigned rpm;       /* attempts started in that minute */
    unsigned long long tpm; /* tokens their answers took */
    float latency_ms[LATENCY_SAMPLES]; /* time to the response head of its last answers */
    uint64_t latency_at[LATENCY_SAMPLES]; /* when each was measured (0: no sample) */
    unsigned latency_next;
} health_t;

struct cc_router_s {
    const cc_config_t *cfg;
    int *group_of;   /* per entry: the first deployment of its model_name, -1 for aliases */
    int *group_size; /* per entry: how many deployments its group has */
    pthread_mutex_t lock;
    health_t *health;
    uint64_t rng;    /* xorshift state, under the lock */
    cc_shared_t *shared; /* the state shared with other instances (NULL: this one's only) */
};

cc_router_t *cc_router_new(const cc_config_t *cfg) {
    cc_router_t *rt = calloc(1, sizeof *rt);
    size_t n = cfg->n_models ? cfg->n_models : 1;
    if (!rt) return NULL;
    pthread_mutex_init(&rt->lock, NULL);
    rt->cfg = cfg;
    rt->group_of = calloc(n, sizeof *rt->group_of);
    rt->group_size = calloc(n, sizeof *rt->group_size);
    rt->health = calloc(n, sizeof *rt->health);
    if (!rt->group_of || !rt->group_size || !rt->health) {
        cc_router_free(rt);
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_models; i++) {
        rt->group_of[i] = -1;
        if (cfg->models[i].alias_of >= 0) continue;
        for (size_t j = 0; j <= i; j++) {
            if (cfg->models[j].alias_of < 0 &&
                strcmp(cfg->models[j].model_name, cfg->models[i].model_name) == 0) {
                rt->group_of[i] = (int)j;
                rt->group_size[j]++;
                break;
            }
        }
    }
    for (size_t i = 0; i < cfg->n_models; i++)
        if (rt->group_of[i] >= 0) rt->group_size[i] = rt->group_size[rt->group_of[i]];
    rt->rng = (uint64_t)(uintptr_t)rt ^ 0x9E3779B97F4A7C15ull;
    return rt;
}

void cc_router_free(cc_router_t *rt) {
    if (!rt) return;
    cc_shared_stop_later(rt->shared); /* its farewell to Redis must not hold up a loop */
    pthread_mutex_destroy(&rt->lock);
    free(rt->group_of);
    free(rt->group_size);
    free(rt->health);
    free(rt);
}

int cc_router_share(cc_router_t *rt, char *err, size_t errlen) {
    const cc_config_t *cfg = rt->cfg;
    if (!cfg->router.redis.host || rt->shared) return 0;
    size_t n = cfg->n_models;
    char **ids = calloc(n ? n : 1, sizeof *ids);
    int rc = ids ? 0 : -1;
    for (size_t i = 0; ids && i < n; i++) {
        ids[i] = cc_deployment_id(cfg, i);
        if (!ids[i]) rc = -1;
    }
    /* Two entries that give the same model_info.id: the later one is told apart. */
    for (size_t i = 0; rc == 0 && i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(ids[i], ids[j]) == 0) {
                char *alt = malloc(strlen(ids[i]) + 24);
                if (!alt) {
                    rc = -1;
                    break;
                }
                snprintf(alt, strlen(ids[i]) + 24, "%s#%zu", ids[i], i);
                free(ids[i]);
                ids[i] = alt;
            }
    if (rc == 0) {
        rt->shared = cc_shared_start(&cfg->router.redis, n, (const char *const *)ids, err, errlen);
        if (!rt->shared) rc = -1;
    } else {
        snprintf(err, errlen, "out of memory");
    }
    for (size_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    return rc;
}

bool cc_router_shared_status(cc_router_t *rt, cc_shared_status_t *out) {
    if (!rt->shared) return false;
    cc_shared_status(rt->shared, out);
    return true;
}

/* --- plans ------------------------------------------------------------------------------ */

static int group_named(const cc_router_t *rt, const char *name) {
    cc_route_t r;
    if (!name || cc_config_resolve(rt->cfg, name, &r) < 0) return -1;
    return rt->group_of[r.deployment];
}

static void add_group(cc_route_plan_t *p, int g) {
    if (g < 0 || p->n_groups >= CC_ROUTER_MAX_GROUPS) return;
    for (size_t i = 0; i < p->n_groups; i++)
        if (p->groups[i] == g) return;
    p->groups[p->n_groups++] = g;
}

/* The fallbacks written for the group named `name`, or 0 when none are. */
static size_t add_fallbacks(const cc_router_t *rt, const char *name, cc_route_plan_t *p) {
    const cc_router_settings_t *s = &rt->cfg->router;
    size_t added = 0;
    for (size_t i = 0; name && i < s->n_fallbacks; i++) {
        if (strcmp(s->fallbacks[i].from, name) != 0) continue;
        for (size_t j = 0; j < s->fallbacks[i].n_to; j++, added++)
            add_group(p, group_named(rt, s->fallbacks[i].to[j]));
    }
    return added;
}

int cc_router_plan(const cc_router_t *rt, int deployment, const char *via, cc_route_plan_t *p) {
    size_t n = rt->cfg->n_models ? rt->cfg->n_models : 1;
    memset(p, 0, sizeof *p);
    p->tried = calloc(n, 1);
    p->candidates = calloc(n, sizeof *p->candidates);
    if (!p->tried || !p->candidates) {
        cc_route_plan_free(p);
        return -1;
    }
    p->retries = rt->cfg->router.num_retries;
    int g = rt->group_of[deployment];
    add_group(p, g);
    const char *name = rt->cfg->models[deployment].model_name;
    if (!add_fallbacks(rt, name, p) && !(via && strcmp(via, name) != 0 && add_fallbacks(rt, via, p)))
        for (size_t i = 0; i < rt->cfg->router.n_default_fallbacks; i++)
            add_group(p, group_named(rt, rt->cfg->router.default_fallbacks[i]));
    size_t most = 1 + (size_t)rt->cfg->router.max_fallbacks;
    if (p->n_groups > most) p->n_groups = most;
    return 0;
}

/* --- what a failure changes ------------------------------------------------------------- */

/* The retries a group gets after failure f: model_group_retry_policy, else retry_policy, else
 * num_retries; a bad request (or a refusal) is not repeated unless a policy says so. */
static int retries_for(const cc_router_t *rt, int group, cc_failure_t f) {
    const cc_router_settings_t *s = &rt->cfg->router;
    if (f.cls < 0 || f.context_window) return 0;
    const char *name = rt->cfg->models[group].model_name;
    for (size_t i = 0; i < s->n_group_retry_policy; i++)
        if (strcmp(s->group_retry_policy[i].group, name) == 0 &&
            s->group_retry_policy[i].retries[f.cls] >= 0)
            return s->group_retry_policy[i].retries[f.cls];
    if (s->retry_policy[f.cls] >= 0) return s->retry_policy[f.cls];
    if (f.cls == CC_FAIL_BAD_REQUEST || f.cls == CC_FAIL_CONTENT_POLICY) return 0;
    return s->num_retries;
}

/* Replaces the rest of the plan with the groups `list` names for group g; false when it
 * names none. */
static bool divert(const cc_router_t *rt, cc_route_plan_t *p, int g, const cc_fallback_t *list,
                   size_t n) {
    const char *name = rt->cfg->models[g].model_name;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].from, name) != 0) continue;
        cc_route_plan_t next = *p;
        next.n_groups = 0;
        for (size_t j = 0; j < list[i].n_to && j <= (size_t)rt->cfg->router.max_fallbacks; j++)
            add_group(&next, group_named(rt, list[i].to[j]));
        if (!next.n_groups) return false;
        memcpy(p->groups, next.groups, sizeof p->groups);
        p->n_groups = next.n_groups;
        p->g = 0;
        p->tries = 0;
        p->retries = rt->cfg->router.num_retries;
        p->group_only = false;
        p->diverted = true;
        return true;
    }
    return false;
}

void cc_router_note(const cc_router_t *rt, cc_route_plan_t *p, cc_failure_t f) {
    const cc_router_settings_t *s = &rt->cfg->router;
    p->diverted = false;
    if (p->g >= p->n_groups) return;
    int g = p->groups[p->g];
    if (f.context_window &&
        divert(rt, p, g, s->context_window_fallbacks, s->n_context_window_fallbacks))
        return;
    if (f.cls == CC_FAIL_CONTENT_POLICY &&
        divert(rt, p, g, s->content_policy_fallbacks, s->n_content_policy_fallbacks))
        return;
    p->retries = retries_for(rt, g, f);
    /* The request itself is what failed: another group would refuse it as well. */
    p->group_only = f.cls < 0 || f.cls == CC_FAIL_BAD_REQUEST || f.cls == CC_FAIL_CONTENT_POLICY;
}

bool cc_router_has_more(const cc_route_plan_t *p) {
    if (p->g >= p->n_groups) return false;
    return p->tries <= p->retries || (!p->group_only && p->g + 1 < p->n_groups);
}

bool cc_router_would_retry(const cc_router_t *rt, const cc_route_plan_t *p, cc_failure_t f) {
    cc_route_plan_t copy = *p;
    cc_router_note(rt, &copy, f);
    return cc_router_has_more(&copy);
}

bool cc_router_wants_body(const cc_router_t *rt, const cc_route_plan_t *p, int status) {
    const cc_router_settings_t *s = &rt->cfg->router;
    cc_failure_t f = cc_failure_of_answer(status, NULL, 0);
    if (f.cls != CC_FAIL_BAD_REQUEST || p->g >= p->n_groups) return false;
    if (p->tries <= retries_for(rt, p->groups[p->g], f)) return true;
    cc_failure_t refusal = {CC_FAIL_CONTENT_POLICY, false};
    if (p->tries <= retries_for(rt, p->groups[p->g], refusal)) return true;
    const char *name = rt->cfg->models[p->groups[p->g]].model_name;
    for (size_t i = 0; i < s->n_context_window_fallbacks; i++)
        if (strcmp(s->context_window_fallbacks[i].from, name) == 0) return true;
    for (size_t i = 0; i < s->n_content_policy_fallbacks; i++)
        if (strcmp(s->content_policy_fallbacks[i].from, name) == 0) return true;
    return false;
}

int cc_router_redirect(const cc_router_t *rt, cc_route_plan_t *p, const char *name) {
    int g = group_named(rt, name);
    if (g < 0) return -1;
    p->groups[0] = g;
    p->n_groups = 1;
    p->g = 0;
    p->tries = 0;
    p->retries = rt->cfg->router.num_retries;
    p->group_only = false;
    return 0;
}

void cc_route_plan_free(cc_route_plan_t *p) {
    free(p->tried);
    free(p->candidates);
    p->tried = NULL;
    p->candidates = NULL;
}

/* --- picking ---------------------------------------------------------------------------- */

static uint64_t next_random(cc_router_t *rt) {
    uint64_t x = rt->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rt->rng = x;
    return x;
}

/* Sorts as the pick does: order 1, 2, ... first, members without an order last. */
static int order_rank(const cc_model_t *m) {
    return m->order > 0 ? m->order : 1 << 30;
}

/* The wall-clock minute since the epoch: rpm and tpm count in calendar minutes, the same on
 * every instance. */
static uint64_t wall_minute(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec / 60;
}

/* Starts the counts of a new minute (under the lock). */
static void roll_minute(health_t *h, uint64_t minute) {
    if (h->minute == minute) return;
    h->minute = minute;
    h->rpm = 0;
    h->tpm = 0;
}

/* The mean of the samples younger than the ttl, or -1 when there is none. */
static double latency_of(const cc_router_t *rt, const health_t *h, uint64_t now) {
    double sum = 0;
    int n = 0;
    for (int i = 0; i < LATENCY_SAMPLES; i++) {
        if (!h->latency_at[i] || now - h->latency_at[i] > rt->cfg->router.latency_ttl_ms) continue;
        sum += h->latency_ms[i];
        n++;
    }
    return n ? sum / n : -1;
}

/* What a pick knows of a deployment: this instance's numbers, or every instance's when the
 * state is shared and Redis is reachable. */
typedef struct {
    uint64_t cooling_until_ms; /* monotonic */
    int cooling_status;
    int busy;
    unsigned rpm;
    unsigned long long tpm;
} load_t;

/* The offset from the monotonic clock the router runs on to the wall clock of shared state. */
static int64_t wall_offset(uint64_t now_ms) {
    return (int64_t)cc_shared_wall_ms() - (int64_t)now_ms;
}

/* Deployment i's load (under the lock). */
static void load_of(cc_router_t *rt, size_t i, uint64_t now, uint64_t minute, load_t *ld) {
    health_t *h = &rt->health[i];
    roll_minute(h, minute);
    *ld = (load_t){h->cooling_until_ms, h->cooling_status, h->busy, h->rpm, h->tpm};
    cc_shared_view_t v;
    if (!rt->shared) return;
    int64_t off = wall_offset(now);
    if (!cc_shared_view(rt->shared, i, (uint64_t)((int64_t)now + off), &v)) return;
    uint64_t until = v.cooling_until_ms ? (uint64_t)((int64_t)v.cooling_until_ms - off) : 0;
    if (rt->group_size[i] > 1 && until > ld->cooling_until_ms) {
        ld->cooling_until_ms = until;
        ld->cooling_status = v.cooling_status;
    }
    ld->busy = v.busy;
    ld->rpm = v.rpm;
    ld->tpm = v.tpm;
}

typedef enum { FREE, COOLING, LIMITED } avail_t;

/* Whether member i, whose load is `ld`, may take an attempt now. */
static avail_t availability(const cc_router_t *rt, const cc_route_plan_t *p, size_t i,
                            uint64_t now, const load_t *ld) {
    const cc_model_t *m = &rt->cfg->models[i];
    if (ld->cooling_until_ms > now) return COOLING;
    int max = m->max_parallel ? m->max_parallel : rt->cfg->router.default_max_parallel;
    if (max > 0 && ld->busy >= max) return LIMITED;
    if (rt->cfg->router.strategy == CC_STRATEGY_USAGE) {
        if (m->rpm && ld->rpm + 1 > m->rpm) return LIMITED;
        if (m->tpm && ld->tpm + p->est_tokens > m->tpm) return LIMITED;
    }
    return FREE;
}

/* A member of group g (under the lock): among those that may take it, the lowest order, and
 * among those the strategy's pick. `tried_ok`: members this request tried count too. Returns
 * -1 when none may; p->limited tells whether some were left out for their limits. */
static int pick_in_group(cc_router_t *rt, cc_route_plan_t *p, int g, uint64_t now,
                         bool tried_ok) {
    const cc_config_t *cfg = rt->cfg;
    uint64_t minute = wall_minute();
    int best_rank = -1;
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_models; i++) {
        if (rt->group_of[i] != g || (!tried_ok && p->tried[i])) continue;
        load_t ld;
        load_of(rt, i, now, minute, &ld);
        avail_t a = availability(rt, p, i, now, &ld);
        if (a == LIMITED) p->limited = true;
        if (a != FREE) continue;
        int rank = order_rank(&cfg->models[i]);
        if (best_rank >= 0 && rank > best_rank) continue;
        if (rank != best_rank) n = 0; /* a lower order: the higher ones are out */
        best_rank = rank;
        p->candidates[n++] = (cc_candidate_t){
            .dep = (int)i,
            .weight = cfg->models[i].weight > 0 ? cfg->models[i].weight : 1,
            .busy = ld.busy,
            .latency_ms = latency_of(rt, &rt->health[i], now),
            .tpm = ld.tpm,
        };
    }
    if (!n) return -1;
    size_t k = cc_strategy_pick(cfg->router.strategy, p->candidates, n,
                                cfg->router.latency_buffer, next_random(rt));
    return p->candidates[k].dep;
}

int cc_router_next(cc_router_t *rt, cc_route_plan_t *p, uint64_t now_ms, bool *again) {
    int d = -1;
    *again = false;
    p->limited = false;
    pthread_mutex_lock(&rt->lock);
    while (p->g < p->n_groups) {
        if (p->tries <= p->retries) {
            int g = p->groups[p->g];
            d = pick_in_group(rt, p, g, now_ms, false);
            if (d < 0 && p->tries > 0) { /* every member tried: one of them again */
                d = pick_in_group(rt, p, g, now_ms, true);
                *again = d >= 0;
            }
            if (d >= 0) break;
        }
        if (p->group_only) {
            p->g = p->n_groups;
            break;
        }
        p->g++;
        p->tries = 0;
        p->retries = rt->cfg->router.num_retries;
    }
    pthread_mutex_unlock(&rt->lock);
    if (d < 0) return -1;
    p->tries++;
    p->attempts++;
    p->tried[d] = 1;
    return d;
}

/* --- load ------------------------------------------------------------------------------- */

void cc_router_begin(cc_router_t *rt, int deployment) {
    uint64_t minute = wall_minute();
    pthread_mutex_lock(&rt->lock);
    health_t *h = &rt->health[deployment];
    roll_minute(h, minute);
    h->busy++;
    h->rpm++;
    pthread_mutex_unlock(&rt->lock);
    cc_shared_busy(rt->shared, (size_t)deployment, +1);
    cc_shared_count(rt->shared, (size_t)deployment, 1, 0);
}

void cc_router_end(cc_router_t *rt, int deployment, unsigned long long tokens) {
    uint64_t minute = wall_minute();
    pthread_mutex_lock(&rt->lock);
    health_t *h = &rt->health[deployment];
    roll_minute(h, minute);
    if (h->busy > 0) h->busy--;
    h->tpm += tokens;
    pthread_mutex_unlock(&rt->lock);
    cc_shared_busy(rt->shared, (size_t)deployment, -1);
    if (tokens)
        cc_shared_count(rt->shared, (size_t)deployment, 0,
                        tokens > 0xffffffffull ? 0xffffffffu : (unsigned)tokens);
}

void cc_router_latency(cc_router_t *rt, int deployment, double ms, uint64_t now_ms) {
    pthread_mutex_lock(&rt->lock);
    health_t *h = &rt->health[deployment];
    unsigned k = h->latency_next++ % LATENCY_SAMPLES;
    h->latency_ms[k] = (float)ms;
    h->latency_at[k] = now_ms ? now_ms : 1;
    pthread_mutex_unlock(&rt->lock);
}

void cc_router_load(cc_router_t *rt, int deployment, uint64_t now_ms, cc_router_load_t *out) {
    uint64_t minute = wall_minute();
    load_t ld;
    pthread_mutex_lock(&rt->lock);
    load_of(rt, (size_t)deployment, now_ms, minute, &ld);
    out->busy = ld.busy;
    out->rpm = ld.rpm;
    out->tpm = ld.tpm;
    out->latency_ms = latency_of(rt, &rt->health[deployment], now_ms);
    pthread_mutex_unlock(&rt->lock);
}

/* --- health ----------------------------------------------------------------------------- */

/* Whether failure f, now counted, puts the deployment in cooldown (under the lock). */
static bool cools(const cc_router_settings_t *s, const health_t *h, cc_failure_t f) {
    if (s->allowed_fails_policy[f.cls] >= 0) return h->fails_by[f.cls] > s->allowed_fails_policy[f.cls];
    switch (f.cls) {
    case CC_FAIL_RATE_LIMIT:
    case CC_FAIL_AUTH: return true; /* at once */
    case CC_FAIL_BAD_REQUEST:
    case CC_FAIL_CONTENT_POLICY: return false; /* the request's fault, not the deployment's */
    default: return h->fails > s->allowed_fails;
    }
}

void cc_router_failed(cc_router_t *rt, int deployment, int status, cc_failure_t f,
                      unsigned retry_after_ms, uint64_t now_ms) {
    const cc_router_settings_t *s = &rt->cfg->router;
    if (f.cls < 0 || s->disable_cooldowns) return;
    if (rt->group_size[deployment] <= 1) return; /* nothing else to pick: never cooled down */
    pthread_mutex_lock(&rt->lock);
    health_t *h = &rt->health[deployment];
    if (now_ms - h->window_start_ms >= 60000) {
        h->window_start_ms = now_ms;
        h->fails = 0;
        memset(h->fails_by, 0, sizeof h->fails_by);
    }
    h->fails_by[f.cls]++;
    if (f.cls != CC_FAIL_BAD_REQUEST && f.cls != CC_FAIL_CONTENT_POLICY) h->fails++;
    uint64_t until = 0;
    if (cools(s, h, f)) {
        unsigned ms = s->cooldown_ms > retry_after_ms ? s->cooldown_ms : retry_after_ms;
        if (now_ms + ms > h->cooling_until_ms) h->cooling_until_ms = now_ms + ms;
        h->cooling_status = status;
        h->fails = 0;
        memset(h->fails_by, 0, sizeof h->fails_by);
        h->window_start_ms = now_ms;
        until = h->cooling_until_ms;
    }
    pthread_mutex_unlock(&rt->lock);
    if (until && rt->shared)
        cc_shared_cooldown(rt->shared, (size_t)deployment,
                           (uint64_t)((int64_t)until + wall_offset(now_ms)), status);
}

bool cc_router_cooling(cc_router_t *rt, int deployment, uint64_t now_ms, uint64_t *until_ms) {
    load_t ld;
    pthread_mutex_lock(&rt->lock);
    load_of(rt, (size_t)deployment, now_ms, wall_minute(), &ld);
    uint64_t until = ld.cooling_until_ms;
    pthread_mutex_unlock(&rt->lock);
    if (until_ms) *until_ms = until;
    return until > now_ms;
}

size_t cc_router_members(const cc_router_t *rt, int group, int *out, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < rt->cfg->n_models; i++) {
        if (rt->group_of[i] != group) continue;
        if (n < max) out[n] = (int)i;
        n++;
    }
    size_t kept = n < max ? n : max;
    for (size_t i = 1; i < kept; i++) { /* a stable insertion sort by order */
        int v = out[i];
        size_t k = i;
        while (k > 0 && order_rank(&rt->cfg->models[out[k - 1]]) > order_rank(&rt->cfg->models[v])) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = v;
    }
    return n;
}

size_t cc_router_cooldowns(cc_router_t *rt, uint64_t now_ms, cc_cooldown_t *out, size_t max) {
    size_t n = 0;
    uint64_t minute = wall_minute();
    pthread_mutex_lock(&rt->lock);
    for (size_t i = 0; i < rt->cfg->n_models; i++) {
        if (rt->group_of[i] < 0) continue;
        load_t ld;
        load_of(rt, i, now_ms, minute, &ld);
        if (ld.cooling_until_ms <= now_ms) continue;
        if (n < max) out[n] = (cc_cooldown_t){(int)i, ld.cooling_until_ms, ld.cooling_status};
        n++;
    }
    pthread_mutex_unlock(&rt->lock);
    return n;
}
