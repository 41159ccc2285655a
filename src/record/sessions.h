/* sessions.h: each Claude Code session's running totals, in memory: a record sink (records.h)
 * that adds every finished POST /v1/messages of a session (a record with a session_id) to
 * that session's requests, errors, tokens and cost, and keeps which deployments and models
 * answered it, the last label and the context in use (the last request's input tokens: input
 * + cache writes + cache reads). GET /ccproxy/sessions/<id> shows one session (endpoints.c),
 * `ccproxy statusline` prints it for Claude Code's status line (cli/cli_statusline.c).
 *
 * Bounded: at most `max` sessions; a new one evicts the least recently used (taken from or
 * read). A session keeps at most CC_SESSION_MODELS models (the least recently used one goes,
 * its requests counted in other_requests). Strings longer than CC_SESSION_STR_MAX bytes are
 * cut; session ids longer than CC_SESSION_ID_MAX are not tracked.
 *
 * Threads: take() runs on any worker thread, concurrently with other take()s and reads; one
 * mutex guards the table and is held for a lookup and a few additions (an allocation only
 * when a session, a model or a label is new). Reads copy a session out.
 *
 * Ownership: the table owns its sessions; cc_sessions_get fills a cc_session_t the caller
 * owns (cc_session_clear). The process's table (cc_sessions_start) is owned by its record
 * sink, and freed by the sink's stop(). */
#ifndef CC_SESSIONS_H
#define CC_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config/config.h"
#include "record/prices.h"
#include "record/record.h"
#include "record/records.h"

/** Sessions the process keeps (the least recently used goes first). */
#define CC_SESSIONS_MAX 1000
/** Models kept per session. */
#define CC_SESSION_MODELS 8
/** Longest session id tracked, and longest string kept (longer ones are cut). */
#define CC_SESSION_ID_MAX 128
#define CC_SESSION_STR_MAX 200

/** One deployment and model that answered requests of the session (with any status: an
 *  attempt that got no answer, unreachable or timed out, adds no model). */
typedef struct {
    char *deployment;      /* the answering deployment's model_name */
    char *model;           /* the model it was sent (record.sent_model) */
    char *requested_model; /* the model the client asked for, in its last request */
    char *label;           /* the label of its last request */
    uint64_t requests, errors;
    bool context_seen;       /* context_tokens was read from an answer */
    uint64_t context_tokens; /* the input size of its last request that reported usage;
                                requests of the main conversation (no agent id) win over a
                                subagent's once one was seen */
    uint64_t last_ms;        /* wall clock of its last request */
} cc_session_model_t;

typedef struct {
    char *id;
    uint64_t first_ms, last_ms; /* wall clock of the first and last request */
    uint64_t requests;          /* POST /v1/messages of the session, finished */
    uint64_t errors;            /* ... whose client got no complete answer: status >= 400,
                                   or an outcome (client-closed, upstream-broke, ...) */
    unsigned long long input, output, cache_creation, cache_read; /* the answers' usage */
    double cost_usd;      /* the sum of the costs that are known */
    uint64_t priced;      /* requests whose cost is known */
    bool cost_unknown;    /* some request used tokens without a known cost: cost_usd is
                             then a lower bound */
    char *label;          /* the last request's label */
    char *requested_model; /* the last request's model as the client asked */
    int last_model;       /* the index in models of the last deployment that answered, -1 */
    bool context_seen;
    uint64_t context_tokens; /* the last request's input (+ cache) tokens, when it reported */
    cc_session_model_t models[CC_SESSION_MODELS]; /* in the order they first answered */
    size_t n_models;
    uint64_t other_requests; /* requests of models no longer kept */
} cc_session_t;

typedef struct cc_sessions_s cc_sessions_t;

/** A table of at most `max` sessions (> 0). NULL when out of memory. */
cc_sessions_t *cc_sessions_new(size_t max);
void cc_sessions_free(cc_sessions_t *s);

/** Adds one finished request (ignored without a session id, or when not a "messages" one). */
void cc_sessions_take(cc_sessions_t *s, const cc_record_t *r);

/** Copies session `id` into *out (the caller cc_session_clear()s it) and marks it used.
 *  Returns 0, -1 when the table does not know it, -2 when out of memory. */
int cc_sessions_get(cc_sessions_t *s, const char *id, cc_session_t *out);

/** How many sessions the table holds. */
size_t cc_sessions_count(cc_sessions_t *s);

/** Frees what a copied session owns. */
void cc_session_clear(cc_session_t *ss);

/** The session as the JSON object of GET /ccproxy/sessions/<id>, appended to `out`; the
 *  context windows come from `cfg` and `prices` (cc_sessions_context_window; NULL: none). */
void cc_session_json(const cc_session_t *ss, const cc_config_t *cfg, const cc_prices_t *prices,
                     cc_buf_t *out);

/** The context window, in input tokens, of `model` sent to the deployment named
 *  `deployment`: the max_input_tokens of its price (prices.h: that config.yaml entry's
 *  model_info, else the user's prices.json, else the shipped table, by the model), taking
 *  the member of the group that sends `model`, else its first member; 0 when unknown. The
 *  only place that decides it. */
uint64_t cc_sessions_context_window(const cc_config_t *cfg, const cc_prices_t *prices,
                                    const char *deployment, const char *model);

/** A record sink that feeds `s` and frees it when stopped. NULL when out of memory (then
 *  `s` is not taken over). */
cc_record_sink_t *cc_sessions_sink(cc_sessions_t *s);

/** The process's table: made and added to the record sinks at start (server.c), before any
 *  worker runs. Returns 0, or -1 when out of memory or no sink can be added. */
int cc_sessions_start(size_t max);
/** The process's table, NULL when there is none (not started, or stopped). */
cc_sessions_t *cc_sessions_process(void);

#endif
