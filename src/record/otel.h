/* otel.h: request traces for OpenTelemetry: a record sink (records.h) that turns each
 * finished request's record into spans and exports them with OTLP/HTTP in its JSON encoding
 * (POST <traces_url>, Content-Type: application/json) from a thread of its own.
 *
 *   one request   a SERVER span "chat <requested model>": the GenAI attributes (gen_ai.system,
 *                 gen_ai.request.model, gen_ai.response.model, gen_ai.usage.*), the status,
 *                 the session, the label, rule, deployment, cost, attempts and the request's
 *                 tags (ccproxy.tag.<name>);
 *   each attempt  a CLIENT span under it, "chat <model>", with its deployment, status or
 *                 failure.
 *
 * take() holds the record on a bounded queue (cc_otel_settings_t.max_queue spans: when it
 * is full the record's spans are dropped and counted) and returns; the exporter sends a batch
 * every schedule_ms, or sooner when max_batch spans wait, one export at a time, each within
 * timeout_ms. A collector that is down, slow or refusing costs requests nothing: its batches
 * are dropped and counted, and the log says so at most once a minute (the endpoint, never
 * the headers' values). /health shows the counters.
 *
 * Ownership: the sink owns a copy of the settings, its queue and its thread; stop() sends
 * what is queued (for at most a few seconds), joins the thread and frees everything. */
#ifndef CC_OTEL_H
#define CC_OTEL_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "buf.h"
#include "config/config.h"
#include "record/records.h"

/** What the exporter did so far. Spans are dropped when the queue is full, when their export
 *  failed (no connection, a timeout, a status other than 2xx) or the collector rejected them
 *  (partialSuccess.rejectedSpans), and when they were still queued at the stop's deadline. */
typedef struct {
    unsigned long long spans_exported;
    unsigned long long spans_dropped;
    unsigned long long spans_dropped_full; /* ... of those, because the queue was full */
    unsigned long long spans_queued;       /* waiting now */
    unsigned long long exports;            /* requests that got a 2xx */
    unsigned long long exports_failed;
    char last_error[200];                  /* the last failed export's reason, "" if none */
} cc_otel_stats_t;

/** A sink exporting to `s->traces_url` (which must be set), with a copy of the settings.
 *  Returns NULL with a reason in `err` when it cannot start (a URL it cannot use, no thread). */
cc_record_sink_t *cc_otel_sink_new(const cc_otel_settings_t *s, char *err, size_t errlen);
/** The counters of a sink cc_otel_sink_new made. */
void cc_otel_sink_stats(cc_record_sink_t *sink, cc_otel_stats_t *out);

/** At start (server.c): when cfg->otel names a traces URL, makes the process's exporter and
 *  adds it to the record sinks. Returns 0 (also when there is nothing to do), or -1 with a
 *  reason in `err`. */
int cc_otel_start(const cc_config_t *cfg, char *err, size_t errlen);
/** /health's "otel" member: {"state": "off"}, or the endpoint and the counters. */
void cc_otel_add_json(cJSON *health);
/** The traces URL the process's exporter sends to, NULL when there is none (a reload cannot
 *  change it: reload.c says a restart is needed). */
const char *cc_otel_running_url(void);

/* --- internal, for the tests ----------------------------------------------------------- */

/** The spans a record makes: one for the request, one per attempt. */
size_t cc__otel_span_count(const cc_record_t *r);

/** When attempt `i` of `r` ran, in ms after the request arrived (see otel.c: derived from
 *  the attempts' durations and the time to the answer's head). */
void cc__otel_attempt_times(const cc_record_t *r, size_t i, double *start_ms, double *end_ms);

/** One export request's JSON (ExportTraceServiceRequest) for `n` records, appended to `out`;
 *  ids come from the generator state `*rng` (never 0). */
void cc__otel_export_json(const char *service_name, const cc_record_t *const *recs, size_t n,
                          uint64_t *rng, cc_buf_t *out);

/** The gen_ai.system value for a ccproxy provider name ("gemini" -> "gcp.gemini"). */
const char *cc__otel_system(const char *provider);

#endif
