/* metrics.h: the Prometheus metrics of GET /metrics. A record sink (records.h) counts every
 * finished request into process-wide series (requests, latencies, tokens, cost, attempts);
 * cc_metrics_render writes them, with the process's gauges read at scrape time, in the text
 * exposition format 0.0.4 (# HELP / # TYPE lines, escaped label values, histograms as
 * _bucket{le=...} cumulative up to +Inf, _sum and _count).
 *
 * Threads: take() runs on any worker concurrently. Finding a series takes one mutex for a
 * few instructions (a hash probe); a new label set is allocated once, the first time it
 * appears; the values are atomics, so rendering takes no lock and never holds a worker up.
 * Series are never removed. Each metric keeps at most `max_series` label sets (label values
 * are cut to CC_METRICS_MAX_VALUE bytes, invalid UTF-8 replaced): past that, new ones are
 * counted in one series whose every label is CC_METRICS_OVERFLOW.
 *
 * Ownership: cc_metrics_new's result is the caller's (cc_metrics_free), unless it is handed
 * to a sink (cc_metrics_sink_new), whose stop() frees both. cc_metrics_start makes the
 * process's instance (server.c, at start, before the workers run). */
#ifndef CC_METRICS_H
#define CC_METRICS_H

#include <stddef.h>

#include "buf.h"
#include "record/record.h"
#include "record/records.h"

#define CC_METRICS_MAX_SERIES 1000 /* label sets per metric, the overflow series apart */
#define CC_METRICS_MAX_VALUE 200   /* bytes of one label value */
#define CC_METRICS_OVERFLOW "__overflow__"
/** The Content-Type of the text format. */
#define CC_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct cc_metrics_s cc_metrics_t;

/** NULL when out of memory. max_series 0 means CC_METRICS_MAX_SERIES. */
cc_metrics_t *cc_metrics_new(size_t max_series);
/** NULL is fine. No take() or render may run meanwhile. */
void cc_metrics_free(cc_metrics_t *m);
/** Counts one finished request. Any thread. */
void cc_metrics_take(cc_metrics_t *m, const cc_record_t *r);

/** A record sink whose take() is cc_metrics_take(m, ...) and whose stop() frees m and
 *  itself. NULL when out of memory (m is then still the caller's). */
cc_record_sink_t *cc_metrics_sink_new(cc_metrics_t *m);

/** Makes the process's metrics and adds their sink to the record sinks. Returns 0, or -1
 *  (out of memory, or no room for another sink): then there are none. */
int cc_metrics_start(void);
/** The process's metrics: NULL before cc_metrics_start, when it failed, or after the sink
 *  stopped (metrics turned off). */
cc_metrics_t *cc_metrics_process(void);

/** A configured deployment, for ccproxy_deployment_cooldown. */
typedef struct {
    const char *deployment; /* its model_name */
    const char *model;      /* its litellm_params.model */
    int cooling;            /* 1 while it cools down, else 0 */
} cc_metrics_deployment_t;

/** What the process knows at scrape time: the gauges. */
typedef struct {
    const char *version;
    double uptime_s;
    long long requests_in_flight; /* proxied requests between their start and their end */
    long long open_streams;       /* of them, those that asked for a stream */
    long long generation;         /* the configuration generation serving new requests */
    unsigned long long reloads_ok, reloads_failed;
    unsigned long long rule_errors, hook_errors, budget_exceeded, memory_errors;
    long long lua_bytes;          /* memory held by every Lua state */
    long long resident_bytes;     /* < 0: not known (cc_metrics_resident_bytes) */
    /* Every model_list entry; entries with the same model_name and model are one series,
       the sum of their `cooling`. */
    const cc_metrics_deployment_t *deployments;
    size_t n_deployments;
} cc_metrics_process_t;

/** Appends every metric to `out`: the requests' series from `m` (NULL: none), then the
 *  gauges of `p` (NULL: none). Takes no lock. */
void cc_metrics_render(cc_metrics_t *m, const cc_metrics_process_t *p, cc_buf_t *out);

/** The process's resident memory in bytes (/proc/self/statm), or -1. */
long long cc_metrics_resident_bytes(void);

#endif
