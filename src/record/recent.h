/* recent.h: the dashboard's memory (/ui/, endpoints.c): a record sink that keeps, in memory
 * and bounded, the last requests and the totals per day (local date of arrival) and per model
 * (the sent model, else the deployment) since the process started.
 *
 *   take()      any worker thread, concurrently: the record's few fields are copied into a
 *               fixed-size entry before the lock, then one mutex held for a ring slot and two
 *               short scans (days, models); no allocation, no I/O.
 *   snapshot    a consistent copy of everything, taken under the same lock (plain copies
 *               of fixed-size entries), printed as JSON outside it.
 *
 * Bounds: `max_requests` entries (the oldest is overwritten), `max_days` days (the oldest day
 * is dropped; the overall totals keep counting), `max_models` models, at least 2 (the last
 * of them is one bucket, named CC_RECENT_OTHER, for every model that finds no slot). Strings
 * longer than their field are cut at a UTF-8 character boundary.
 *
 * Ownership: cc_recent_new's result is the caller's (cc_recent_free), unless it is handed to
 * the record sinks through cc_recent_sink (then its stop() frees it). A snapshot is the
 * caller's (cc_recent_snapshot_free). */
#ifndef CC_RECENT_H
#define CC_RECENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/record.h"
#include "record/records.h"

#define CC_RECENT_REQUESTS 200 /* the defaults of cc_recent_new(0, 0, 0) */
#define CC_RECENT_DAYS 92
#define CC_RECENT_MODELS 64
#define CC_RECENT_OTHER "(other models)"
#define CC_RECENT_NONE "(not routed)" /* the model of a request that went nowhere */

/** What a group of requests added up to. */
typedef struct {
    unsigned long long requests;
    unsigned long long errors;       /* status >= 400, or an outcome (client-closed, ...) */
    unsigned long long input, output, cache_creation, cache_read; /* tokens */
    double cost_usd;                 /* of the requests whose cost is known */
    unsigned long long cost_unknown; /* requests that reported tokens without a known cost */
} cc_recent_totals_t;

/** One request, as the dashboard's table shows it. Strings are "" when the record had none. */
typedef struct {
    uint64_t time_ms;
    char id[32];
    char endpoint[16];
    char label[64];
    char requested_model[96];
    char deployment[96];
    char sent_model[96];
    char outcome[32];
    int status;
    bool stream;
    unsigned attempts;
    cc_usage_t usage; /* usage.seen: the answer reported tokens */
    bool cost_known;
    double cost_usd;
    double ttfb_ms; /* < 0: no response head came */
    double total_ms;
} cc_recent_request_t;

typedef struct {
    char date[11]; /* YYYY-MM-DD, local time */
    cc_recent_totals_t t;
} cc_recent_day_t;

typedef struct {
    char model[96];
    cc_recent_totals_t t;
} cc_recent_model_t;

/** Everything at one moment. */
typedef struct {
    cc_recent_request_t *requests; /* newest first */
    size_t n_requests, max_requests;
    cc_recent_day_t *days; /* oldest first */
    size_t n_days, max_days;
    cc_recent_model_t *models; /* in the order first seen */
    size_t n_models, max_models;
    cc_recent_totals_t all; /* every request since the start */
    unsigned long long days_dropped; /* days that no longer fit */
} cc_recent_snapshot_t;

typedef struct cc_recent_s cc_recent_t;

/** A new, empty memory; 0 for a bound takes its default. NULL when out of memory. */
cc_recent_t *cc_recent_new(size_t max_requests, size_t max_days, size_t max_models);
/** NULL is fine. */
void cc_recent_free(cc_recent_t *r);

/** Counts one request (thread-safe). */
void cc_recent_take(cc_recent_t *r, const cc_record_t *rec);

/** A copy of everything now (thread-safe); NULL when out of memory. */
cc_recent_snapshot_t *cc_recent_snapshot(cc_recent_t *r);
void cc_recent_snapshot_free(cc_recent_snapshot_t *s);

/** Adds "totals", "days", "models" and "requests" to `obj` (the shape of /ui/api/summary,
 *  docs/observability.md): tokens as {input, output, cache_creation, cache_read}, a request's
 *  usage null when none was reported, cost_usd null when not known, ttfb_ms null when no head
 *  came, outcome null for a complete answer. */
void cc_recent_add_json(const cc_recent_snapshot_t *s, cJSON *obj);

/** The record sink that feeds `r`; its stop() frees `r` (and forgets it as the process's). */
cc_record_sink_t *cc_recent_sink(cc_recent_t *r);

/** At start (server.c, before any worker runs): makes the process's memory and adds its sink
 *  to the record sinks. Returns 0, or -1 (out of memory, or no room among the sinks). */
int cc_recent_start(void);
/** The process's memory: NULL before cc_recent_start and after the sinks were stopped. */
cc_recent_t *cc_recent_process(void);

#endif
