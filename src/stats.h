/* stats.h: process-wide counters that /health and /metrics report (atomics: any thread may
 * count). */
#ifndef CC_STATS_H
#define CC_STATS_H

#include <cjson/cJSON.h>
#include <stdatomic.h>

typedef struct {
    atomic_ullong rule_errors;     /* rules that raised (counted as no match) */
    atomic_ullong hook_errors;     /* hooks that raised (skipped, or failed the request) */
    atomic_ullong budget_exceeded; /* script calls stopped by their time budget */
    atomic_ullong memory_errors;   /* script calls that hit the memory limit */
    atomic_llong lua_bytes;        /* memory held by all Lua states now */
    atomic_llong lua_peak_bytes;   /* the most they held at once */
    atomic_llong requests_in_flight; /* exchanges started and not finished (exchange.c) */
    atomic_llong open_streams;       /* of them, those whose client asked for a stream */
} cc_stats_t;

extern cc_stats_t cc_stats;

/** Adds the "scripts" object of /health to `obj`. */
void cc_stats_add_json(cJSON *obj);

#endif
