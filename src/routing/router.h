/* router.h: which deployment each attempt of a request goes to. A group is the model_list
 * deployments that share a model_name; a request's plan is the group it was routed to, then
 * that group's fallbacks (router_settings.fallbacks, else default_fallbacks). In a group, an
 * attempt takes the lowest `order` among the members that may take it (not cooling down, not
 * already tried by this request, under max_parallel_requests and, with usage-based-routing,
 * under rpm/tpm), and among those the routing strategy's pick (strategy.h); a group gets
 * 1 + num_retries attempts, then the next group of the plan.
 *
 * A deployment cools down (is left out of every pick, for every request) for cooldown_time,
 * or the upstream's retry-after when longer: at once after a 429 or a 401, or when it failed
 * more than allowed_fails times within a minute. The only member of a group never cools
 * down: there would be nothing left to pick.
 *
 * Ownership: a generation owns its router (generation.c), shared by every worker; its state
 * (cooldowns, attempts in progress, rpm/tpm, latencies) is guarded by a mutex and starts
 * empty with each reload. With Redis, the router also owns its shared state (shared_state.h):
 * picks then see every instance's cooldowns, load and counts, and a reload finds the shared
 * part where the old generation left it. A plan belongs to one request. */
#ifndef CC_ROUTER_H
#define CC_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "routing/failure.h"
#include "routing/shared_state.h"
#include "routing/strategy.h"

#define CC_ROUTER_MAX_GROUPS 8 /* a request's group and up to 7 fallbacks */

typedef struct cc_router_s cc_router_t;

cc_router_t *cc_router_new(const cc_config_t *cfg);
void cc_router_free(cc_router_t *rt);

/** Shares cooldowns, rpm/tpm and attempts in progress with the other instances through the
 *  Redis router_settings names (routing/shared_state.h); nothing without one. Only a running
 *  server's generation shares (not `ccproxy explain`). Returns 0, or -1 with `err` filled. */
int cc_router_share(cc_router_t *rt, char *err, size_t errlen);
/** Fills *out and returns true when the state is shared (Redis configured). */
bool cc_router_shared_status(cc_router_t *rt, cc_shared_status_t *out);

/** One request's way through the groups. */
typedef struct {
    int groups[CC_ROUTER_MAX_GROUPS]; /* a deployment of each group, in the order tried */
    size_t n_groups;
    size_t g;          /* the group being tried */
    int tries;         /* attempts made in it */
    int retries;       /* the retries it gets after its last failure (retry_policy) */
    bool group_only;   /* the last failure was the request's own: no other group */
    bool diverted;     /* the last failure moved the plan to context-window or
                          content-policy fallbacks */
    unsigned char *tried; /* per deployment: this request tried it (malloc'd) */
    cc_candidate_t *candidates; /* room for a pick's candidates (malloc'd) */
    unsigned attempts; /* attempts made in all */
    unsigned long long est_tokens; /* what the request may take of a tpm limit */
    bool limited; /* a pick left out members at their rpm/tpm/max_parallel_requests limit */
} cc_route_plan_t;

/** The plan of a request routed to `deployment` (whose route went through the entry named
 *  `via`, a label or alias, or NULL). Returns 0, or -1 when out of memory. */
int cc_router_plan(const cc_router_t *rt, int deployment, const char *via, cc_route_plan_t *p);
void cc_route_plan_free(cc_route_plan_t *p);
/** The deployment of the next attempt, or -1 when the plan is used up. `again` is set when it
 *  is one this request tried before (the only member left of its group). */
int cc_router_next(cc_router_t *rt, cc_route_plan_t *p, uint64_t now_ms, bool *again);

/** Sends the rest of the plan to the group named `name` (a model_list name, through aliases):
 *  its members get 1 + num_retries attempts, and nothing after. Returns 0, or -1 when no
 *  group has that name. */
int cc_router_redirect(const cc_router_t *rt, cc_route_plan_t *p, const char *name);

/** An attempt starts at `deployment` (it counts as busy, and one request of its rpm) and ends
 *  (every begin has one end; `tokens` is what its answer took of the tpm, 0 when unknown). */
void cc_router_begin(cc_router_t *rt, int deployment);
void cc_router_end(cc_router_t *rt, int deployment, unsigned long long tokens);
/** The time from an attempt's start to its response head, for latency-based-routing. */
void cc_router_latency(cc_router_t *rt, int deployment, double ms, uint64_t now_ms);

/** A deployment's load now, for /health and explain. */
typedef struct {
    int busy;
    unsigned rpm;
    unsigned long long tpm;
    double latency_ms; /* < 0: not measured */
} cc_router_load_t;
void cc_router_load(cc_router_t *rt, int deployment, uint64_t now_ms, cc_router_load_t *out);

/** An attempt at `deployment` failed with `status` (an HTTP status, or 0 when the upstream
 *  could not be reached or broke before answering), of class `f`; `retry_after_ms` is what
 *  the upstream asked for (0: nothing). Counts toward its cooldown. */
void cc_router_failed(cc_router_t *rt, int deployment, int status, cc_failure_t f,
                      unsigned retry_after_ms, uint64_t now_ms);

/** What failure f of the current attempt changes in the plan: the retries its group gets
 *  (retry_policy), whether other groups may follow, and, for a context window too small or a
 *  content-policy refusal, a move to context_window_fallbacks / content_policy_fallbacks. */
void cc_router_note(const cc_router_t *rt, cc_route_plan_t *p, cc_failure_t f);
/** Whether the plan still has an attempt to offer (the pick itself may still find none). */
bool cc_router_has_more(const cc_route_plan_t *p);
/** Whether failure f would lead to another attempt (the plan is not changed). */
bool cc_router_would_retry(const cc_router_t *rt, const cc_route_plan_t *p, cc_failure_t f);
/** Whether an answer with this status may lead to another attempt once its error text is
 *  read (a 400 where context-window or content-policy fallbacks, or a retry_policy, apply):
 *  the answer is then held whole. */
bool cc_router_wants_body(const cc_router_t *rt, const cc_route_plan_t *p, int status);
/** Whether `deployment` cools down now; *until_ms tells until when. */
bool cc_router_cooling(cc_router_t *rt, int deployment, uint64_t now_ms, uint64_t *until_ms);

/** The members of the group of deployment `group` (a plan's groups[i]), lowest order first
 *  (members without an order last), in config order otherwise: out[0..max); returns how many
 *  there are. For `ccproxy explain`. */
size_t cc_router_members(const cc_router_t *rt, int group, int *out, size_t max);

/** A deployment cooling down, for /health and `ccproxy status`. */
typedef struct {
    int deployment;
    uint64_t until_ms;
    int status; /* what made it cool down: an HTTP status, 0 for no answer */
} cc_cooldown_t;

/** Fills out[0..max) with the deployments cooling down now; returns how many there are. */
size_t cc_router_cooldowns(cc_router_t *rt, uint64_t now_ms, cc_cooldown_t *out, size_t max);


#endif
