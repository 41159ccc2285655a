/* otel.c: request records into OpenTelemetry spans, exported with OTLP/HTTP JSON (see
 * otel.h).
 *
 *   worker threads    take(): reserve room for the record's spans under the mutex (or drop
 *                     and count them), hold the record, queue it, wake the exporter when a
 *                     batch is full
 *   exporter thread   its own libuv loop: a timer every schedule_ms and the wake-up take a
 *                     batch (at most max_batch spans), print it as JSON, POST it; one export
 *                     in flight at a time, cancelled at timeout_ms
 *
 * The HTTP client is ccproxy's own (src/http: upstream.c over upstream_pool.c and tls.c) on
 * the exporter's loop with a pool of its own: those pieces take any loop, hold no global
 * state, and give http and https with the same TLS verification as the upstreams (the system
 * CA store, SSL_CERT_FILE, or OTEL_EXPORTER_OTLP_CERTIFICATE), address racing, keep-alive
 * and their connect and first-byte timeouts, so no second client (blocking sockets and
 * OpenSSL by hand) is needed. Every export also has a timer of its own over the whole of it.
 *
 * Span times. A record says when the request arrived (time_ms, wall clock), how long it took
 * (total_ms), when the answer's head came (ttfb_ms) and each attempt's duration (until its
 * head or its failure), not when each attempt began. The attempts are laid out in order, the
 * last one ending at the head (or, with no head, at the end); the time they leave over goes
 * before a lone attempt (the hooks), or between several (the waits before retries), split
 * evenly. The attempt whose answer the client got lasts until the request's end (its body).
 * With one attempt this is exact; with retries it is off by the hooks' time, and by how
 * unevenly the waits fell when there were more than one.
 *
 * Ids: a trace id per request and a span id per span from a splitmix64 generator seeded with
 * RAND_bytes, used by the exporter thread only. */
#include "record/otel.h"

#include <math.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uv.h>

#include "http/headers.h"
#include "http/upstream.h"
#include "http/url.h"
#include "json/utf8.h"
#include "log.h"

#define OTEL_LOG_EVERY_MS 60000   /* drops are logged at most this often */
#define OTEL_STOP_FLUSH_MS 3000   /* the most the stop waits for the last exports */
#define OTEL_MAX_RESPONSE 4096    /* response bytes kept (partialSuccess) */

typedef struct {
    cc_record_sink_t sink; /* first: the sink is the exporter */
    char *url;             /* for messages and /health (never the headers) */
    char host[256];
    cc_origin_t origin;
    char *target;          /* path and query */
    cc_headers_t headers;  /* sent with every export */
    char *service_name;
    char *ca_file;
    unsigned timeout_ms, schedule_ms, max_queue, max_batch;

    pthread_mutex_t mu;    /* guards the queue, `stopping` and last_error */
    cc_record_t **ring;    /* max_queue slots: a record has at least one span */
    size_t head, count;
    size_t queued_spans;   /* reserved by take() or in the ring */
    bool stopping;
    char last_error[200];

    atomic_ullong exported, dropped, dropped_full, exports, exports_failed;

    /* The exporter thread's own. */
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick, deadline, final;
    cc_pool_t *pool;
    cc_upstream_t *inflight;
    size_t inflight_spans;
    cc_buf_t body;         /* the export in flight's JSON */
    cc_buf_t response;     /* its answer's first bytes */
    int status;
    bool flushing, closed;
    uint64_t rng;
    uint64_t last_log_ms;
    bool logged_once;
    unsigned long long dropped_logged;
} otel_t;

/* ---- ids ---------------------------------------------------------------------------------- */

static uint64_t next_id(uint64_t *state) {
    uint64_t z;
    do {
        z = (*state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
    } while (z == 0);
    return z;
}

static void put_hex(cc_buf_t *b, uint64_t v) {
    static const char digits[] = "0123456789abcdef";
    char h[16];
    for (int i = 15; i >= 0; i--, v >>= 4) h[i] = digits[v & 15];
    cc_buf_append(b, h, sizeof h);
}

/* ---- JSON --------------------------------------------------------------------------------- */

/* A JSON string: the text made valid UTF-8, then escaped. */
static void put_string_n(cc_buf_t *b, const char *s, size_t n) {
    cc_buf_append(b, "\"", 1);
    if (cc_utf8_valid(s, n)) {
        cc_buf_json_escape(b, s, n);
    } else {
        cc_buf_t clean = CC_BUF_INIT;
        cc_utf8_clean(&clean, s, n);
        cc_buf_json_escape(b, clean.data, clean.len);
        cc_buf_free(&clean);
    }
    cc_buf_append(b, "\"", 1);
}

static void put_string(cc_buf_t *b, const char *s) {
    put_string_n(b, s, strlen(s));
}

/* A number with up to `places` decimals, trailing zeros dropped (a JSON number). */
static void put_number(cc_buf_t *b, double v, int places) {
    size_t start = b->len;
    cc_buf_put_fixed(b, v, places);
    const char *dot = memchr(b->data + start, '.', b->len - start);
    if (!dot) return;
    while (b->len > start && b->data[b->len - 1] == '0') b->len--;
    if (b->data[b->len - 1] == '.') b->len--;
    b->data[b->len] = '\0';
}

typedef struct {
    cc_buf_t *b;
    bool any;
} attrs_t;

/* The attribute's key: one of the names below, plain ASCII with nothing to escape. */
static void attr_key(attrs_t *a, const char *key) {
    cc_buf_puts(a->b, a->any ? ",{\"key\":\"" : "{\"key\":\"");
    a->any = true;
    cc_buf_puts(a->b, key);
    cc_buf_puts(a->b, "\",\"value\":{");
}

static void attr_str(attrs_t *a, const char *key, const char *v) {
    if (!v) return;
    attr_key(a, key);
    cc_buf_puts(a->b, "\"stringValue\":");
    put_string(a->b, v);
    cc_buf_puts(a->b, "}}");
}

/* OTLP/JSON writes 64-bit integers as strings (the protobuf JSON mapping). */
static void attr_int(attrs_t *a, const char *key, long long v) {
    attr_key(a, key);
    cc_buf_puts(a->b, "\"intValue\":\"");
    cc_buf_put_i64(a->b, v);
    cc_buf_puts(a->b, "\"}}");
}

/* A double to `places` decimals (costs to a billionth of a dollar, times to a microsecond). */
static void attr_double(attrs_t *a, const char *key, double v, int places) {
    if (!isfinite(v)) return;
    attr_key(a, key);
    cc_buf_puts(a->b, "\"doubleValue\":");
    put_number(a->b, v, places);
    cc_buf_puts(a->b, "}}");
}

static void attr_bool(attrs_t *a, const char *key, bool v) {
    attr_key(a, key);
    cc_buf_puts(a->b, v ? "\"boolValue\":true}}" : "\"boolValue\":false}}");
}

const char *cc__otel_system(const char *p) {
    static const char *const map[][2] = {
        {"openai", "openai"},          {"text-completion-openai", "openai"},
        {"custom_openai", "openai"},   {"gemini", "gcp.gemini"},
        {"vertex_ai", "gcp.vertex_ai"}, {"bedrock", "aws.bedrock"},
        {"azure", "azure.ai.openai"},  {"azure_ai", "azure.ai.inference"},
        {"mistral", "mistral_ai"},
    };
    if (!p) return NULL;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i][0], p) == 0) return map[i][1];
    return p; /* anthropic, deepseek, groq, xai, perplexity ... are their own names */
}

size_t cc__otel_span_count(const cc_record_t *r) {
    return 1 + r->n_attempts;
}

/* Whether attempt i's answer is the one the client got: the last attempt, with a status and
 * a head. */
static bool answered(const cc_record_t *r, size_t i) {
    const cc_record_attempt_t *a = &r->attempts[i];
    return i + 1 == r->n_attempts && a->status > 0 && !a->reason && r->ttfb_ms >= 0;
}

void cc__otel_attempt_times(const cc_record_t *r, size_t i, double *start_ms, double *end_ms) {
    double total = r->total_ms > 0 ? r->total_ms : 0;
    double anchor = r->ttfb_ms >= 0 && r->ttfb_ms <= total ? r->ttfb_ms : total;
    size_t n = r->n_attempts;
    double sum = 0;
    for (size_t k = 0; k < n; k++) sum += r->attempts[k].ms > 0 ? r->attempts[k].ms : 0;
    double slack = anchor > sum ? anchor - sum : 0;
    /* One attempt: what is left came before it (the hooks). Several: between them (the
     * waits before retries, which outlast the hooks by far), split evenly. */
    double t = n == 1 ? slack : 0, gap = n > 1 ? slack / (double)(n - 1) : 0;
    for (size_t k = 0; k < i; k++) t += (r->attempts[k].ms > 0 ? r->attempts[k].ms : 0) + gap;
    double d = r->attempts[i].ms > 0 ? r->attempts[i].ms : 0;
    double s = t, e = s + d;
    if (answered(r, i)) e = total;
    if (s > total) s = total;
    if (e > total) e = total;
    if (e < s) e = s;
    *start_ms = s;
    *end_ms = e;
}

static uint64_t nanos_at(const cc_record_t *r, double ms) {
    return (uint64_t)r->time_ms * 1000000ull + (uint64_t)llround(ms * 1e6);
}

static const char *path_of(const char *endpoint) {
    if (!endpoint) return NULL;
    if (strcmp(endpoint, "messages") == 0) return "/v1/messages";
    if (strcmp(endpoint, "count_tokens") == 0) return "/v1/messages/count_tokens";
    return NULL;
}

/* The span's name: "<operation> <model>". */
static void put_name(cc_buf_t *b, const char *op, const char *model) {
    if (!model || !*model) {
        put_string(b, op);
        return;
    }
    char n[256];
    size_t lo = strlen(op), lm = strlen(model);
    if (lo + 1 + lm > sizeof n) {
        cc_buf_t t = CC_BUF_INIT;
        cc_buf_puts(&t, op);
        cc_buf_puts(&t, " ");
        cc_buf_puts(&t, model);
        put_string_n(b, t.data, t.len);
        cc_buf_free(&t);
        return;
    }
    memcpy(n, op, lo);
    n[lo] = ' ';
    memcpy(n + lo + 1, model, lm);
    put_string_n(b, n, lo + 1 + lm);
}

static void put_times(cc_buf_t *b, uint64_t start, uint64_t end) {
    cc_buf_puts(b, ",\"startTimeUnixNano\":\"");
    cc_buf_put_u64(b, start);
    cc_buf_puts(b, "\",\"endTimeUnixNano\":\"");
    cc_buf_put_u64(b, end);
    cc_buf_puts(b, "\"");
}

/* status {code: 2 (ERROR), message} or {} (UNSET). */
static void put_status(cc_buf_t *b, bool error, const char *message) {
    if (!error) {
        cc_buf_puts(b, ",\"status\":{}");
        return;
    }
    cc_buf_puts(b, ",\"status\":{\"code\":2");
    if (message) {
        cc_buf_puts(b, ",\"message\":");
        put_string(b, message);
    }
    cc_buf_puts(b, "}");
}

static bool is_messages(const cc_record_t *r) {
    return !r->endpoint || strcmp(r->endpoint, "messages") == 0;
}

/* The request's SERVER span. */
static void put_server_span(cc_buf_t *b, const cc_record_t *r, uint64_t trace_hi,
                            uint64_t trace_lo, uint64_t span) {
    bool chat = is_messages(r);
    cc_buf_puts(b, "{\"traceId\":\"");
    put_hex(b, trace_hi);
    put_hex(b, trace_lo);
    cc_buf_puts(b, "\",\"spanId\":\"");
    put_hex(b, span);
    cc_buf_puts(b, "\",\"name\":");
    put_name(b, chat ? "chat" : r->endpoint, r->requested_model);
    cc_buf_puts(b, ",\"kind\":2");
    double total = r->total_ms > 0 ? r->total_ms : 0;
    put_times(b, nanos_at(r, 0), nanos_at(r, total));
    cc_buf_puts(b, ",\"attributes\":[");
    attrs_t a = {b, false};
    if (chat) attr_str(&a, "gen_ai.operation.name", "chat");
    attr_str(&a, "gen_ai.system", cc__otel_system(r->provider));
    attr_str(&a, "gen_ai.request.model", r->requested_model);
    attr_str(&a, "gen_ai.response.model", r->sent_model);
    if (r->usage.seen) {
        attr_int(&a, "gen_ai.usage.input_tokens", (long long)r->usage.input);
        attr_int(&a, "gen_ai.usage.output_tokens", (long long)r->usage.output);
        attr_int(&a, "gen_ai.usage.cache_read_input_tokens", (long long)r->usage.cache_read);
        attr_int(&a, "gen_ai.usage.cache_creation_input_tokens",
                 (long long)r->usage.cache_creation);
        if (r->usage.web_search)
            attr_int(&a, "ccproxy.usage.web_search_requests", (long long)r->usage.web_search);
        if (r->usage.web_fetch)
            attr_int(&a, "ccproxy.usage.web_fetch_requests", (long long)r->usage.web_fetch);
    }
    if (r->cost_known) {
        attr_double(&a, "gen_ai.usage.cost", r->cost_usd, 9);
        attr_double(&a, "ccproxy.cost_usd", r->cost_usd, 9);
    }
    attr_str(&a, "http.request.method", "POST");
    attr_str(&a, "url.path", path_of(r->endpoint));
    attr_int(&a, "http.response.status_code", r->status);
    attr_int(&a, "http.request.body.size", (long long)r->bytes_in);
    attr_int(&a, "http.response.body.size", (long long)r->bytes_out);
    attr_str(&a, "session.id", r->session_id);
    attr_str(&a, "ccproxy.session_id", r->session_id);
    attr_str(&a, "ccproxy.request_id", r->id);
    attr_str(&a, "ccproxy.endpoint", r->endpoint);
    attr_str(&a, "ccproxy.agent_id", r->agent_id);
    attr_str(&a, "ccproxy.parent_agent_id", r->parent_agent_id);
    attr_str(&a, "ccproxy.label", r->label);
    attr_str(&a, "ccproxy.rule", r->rule);
    attr_str(&a, "ccproxy.deployment", r->deployment);
    attr_str(&a, "ccproxy.provider", r->provider);
    attr_int(&a, "ccproxy.attempts", (long long)r->n_attempts);
    attr_bool(&a, "ccproxy.stream", r->stream);
    attr_str(&a, "ccproxy.outcome", r->outcome);
    if (r->ttfb_ms >= 0) attr_double(&a, "ccproxy.ttfb_ms", r->ttfb_ms, 3);
    for (size_t i = 0; i < r->n_tags; i++) {
        if (!r->tags[i].name || !r->tags[i].value) continue;
        /* A script named the tag: its key is escaped like any string. */
        cc_buf_t key = CC_BUF_INIT;
        cc_buf_puts(&key, "ccproxy.tag.");
        cc_buf_puts(&key, r->tags[i].name);
        cc_buf_puts(b, a.any ? ",{\"key\":" : "{\"key\":");
        a.any = true;
        put_string_n(b, key.data, key.len);
        cc_buf_puts(b, ",\"value\":{\"stringValue\":");
        put_string(b, r->tags[i].value);
        cc_buf_puts(b, "}}");
        cc_buf_free(&key);
    }
    cc_buf_puts(b, "]");
    /* The client leaving is not the proxy's failure; every other outcome is. */
    bool failed = r->outcome && strcmp(r->outcome, "client-closed") != 0;
    bool error = r->status >= 500 || failed;
    char msg[128] = "";
    if (failed)
        snprintf(msg, sizeof msg, "%s", r->outcome);
    else if (error)
        snprintf(msg, sizeof msg, "status %d", r->status);
    put_status(b, error, error ? msg : NULL);
    cc_buf_puts(b, "}");
}

/* Attempt i's CLIENT span, under the request's. */
static void put_attempt_span(cc_buf_t *b, const cc_record_t *r, size_t i, uint64_t trace_hi,
                             uint64_t trace_lo, uint64_t parent, uint64_t span) {
    const cc_record_attempt_t *at = &r->attempts[i];
    /* The model the attempt asked for: the one sent for the answering attempt, else its
     * deployment's model without its provider/ prefix, unless that is a pattern (a
     * wildcard deployment). */
    const char *model = at->model && strchr(at->model, '/') ? strchr(at->model, '/') + 1
                                                            : at->model; /* "anthropic/x" */
    if (answered(r, i) && r->sent_model) model = r->sent_model;
    if (model && strchr(model, '*')) model = r->requested_model;
    cc_buf_puts(b, "{\"traceId\":\"");
    put_hex(b, trace_hi);
    put_hex(b, trace_lo);
    cc_buf_puts(b, "\",\"spanId\":\"");
    put_hex(b, span);
    cc_buf_puts(b, "\",\"parentSpanId\":\"");
    put_hex(b, parent);
    cc_buf_puts(b, "\",\"name\":");
    put_name(b, is_messages(r) ? "chat" : r->endpoint, model);
    cc_buf_puts(b, ",\"kind\":3");
    double s, e;
    cc__otel_attempt_times(r, i, &s, &e);
    put_times(b, nanos_at(r, s), nanos_at(r, e));
    cc_buf_puts(b, ",\"attributes\":[");
    attrs_t a = {b, false};
    if (is_messages(r)) attr_str(&a, "gen_ai.operation.name", "chat");
    /* The record knows the provider of the answering deployment only. */
    if (r->provider && at->deployment && r->deployment && !strcmp(at->deployment, r->deployment))
        attr_str(&a, "gen_ai.system", cc__otel_system(r->provider));
    attr_str(&a, "gen_ai.request.model", model);
    if (at->status > 0) attr_int(&a, "http.response.status_code", at->status);
    attr_str(&a, "error.type", at->reason);
    attr_str(&a, "ccproxy.deployment", at->deployment);
    attr_int(&a, "ccproxy.attempt", (long long)i + 1);
    attr_double(&a, "ccproxy.attempt_ms", at->ms, 3);
    cc_buf_puts(b, "]");
    bool error = at->reason || at->status >= 400;
    char msg[128] = "";
    if (at->reason)
        snprintf(msg, sizeof msg, "%s", at->reason);
    else if (error)
        snprintf(msg, sizeof msg, "status %d", at->status);
    put_status(b, error, error ? msg : NULL);
    cc_buf_puts(b, "}");
}

void cc__otel_export_json(const char *service_name, const cc_record_t *const *recs, size_t n,
                          uint64_t *rng, cc_buf_t *out) {
    cc_buf_puts(out, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    attrs_t a = {out, false};
    attr_str(&a, "service.name", service_name ? service_name : "ccproxy");
    attr_str(&a, "service.version", CCPROXY_VERSION);
    attr_str(&a, "telemetry.sdk.name", "ccproxy");
    attr_str(&a, "telemetry.sdk.version", CCPROXY_VERSION);
    cc_buf_puts(out, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"ccproxy\",\"version\":\"" CCPROXY_VERSION
                     "\"},\"spans\":[");
    bool first = true;
    for (size_t k = 0; k < n; k++) {
        const cc_record_t *r = recs[k];
        uint64_t hi = next_id(rng), lo = next_id(rng), root = next_id(rng);
        if (!first) cc_buf_puts(out, ",");
        first = false;
        put_server_span(out, r, hi, lo, root);
        for (size_t i = 0; i < r->n_attempts; i++) {
            cc_buf_puts(out, ",");
            put_attempt_span(out, r, i, hi, lo, root, next_id(rng));
        }
    }
    cc_buf_puts(out, "]}]}]}");
}

/* ---- the exporter thread ------------------------------------------------------------------ */

static void set_error(otel_t *o, const char *msg) {
    pthread_mutex_lock(&o->mu);
    snprintf(o->last_error, sizeof o->last_error, "%s", msg);
    pthread_mutex_unlock(&o->mu);
}

/* Logs the drops since the last time, at most once a minute (the first at once; `force`: at
 * the stop, whatever the time). */
static void log_drops(otel_t *o, bool force) {
    unsigned long long dropped = atomic_load(&o->dropped);
    if (dropped == o->dropped_logged) return;
    uint64_t now = uv_now(&o->loop);
    if (!force && o->logged_once && now - o->last_log_ms < OTEL_LOG_EVERY_MS) return;
    char why[200];
    pthread_mutex_lock(&o->mu);
    snprintf(why, sizeof why, "%s", o->last_error);
    pthread_mutex_unlock(&o->mu);
    cc_warn("otel: %llu span%s dropped (%llu in all, %llu of them for a full queue), exporting "
            "to %s%s%s",
            dropped - o->dropped_logged, dropped - o->dropped_logged == 1 ? "" : "s", dropped,
            (unsigned long long)atomic_load(&o->dropped_full), o->url,
            why[0] ? "; last error: " : "", why);
    o->dropped_logged = dropped;
    o->last_log_ms = now;
    o->logged_once = true;
}

static void export_next(otel_t *o);
static void finish_thread(otel_t *o);

/* The export in flight is over: `ok` (its spans arrived, but `rejected`) or failed (`why`). */
static void export_over(otel_t *o, bool ok, unsigned long long rejected, const char *why) {
    uv_timer_stop(&o->deadline);
    o->inflight = NULL;
    unsigned long long n = o->inflight_spans;
    o->inflight_spans = 0;
    cc_buf_free(&o->body);
    cc_buf_free(&o->response);
    if (ok) {
        if (rejected > n) rejected = n;
        atomic_fetch_add(&o->exports, 1);
        atomic_fetch_add(&o->exported, n - rejected);
        if (rejected) {
            atomic_fetch_add(&o->dropped, rejected);
            char msg[96];
            snprintf(msg, sizeof msg, "the collector rejected %llu span%s", rejected,
                     rejected == 1 ? "" : "s");
            set_error(o, msg);
        }
    } else {
        atomic_fetch_add(&o->exports_failed, 1);
        atomic_fetch_add(&o->dropped, n);
        set_error(o, why);
    }
    log_drops(o, false);
    /* More now only when a full batch waits after a success, or at the stop; after a failure
     * the next tick tries again. */
    pthread_mutex_lock(&o->mu);
    bool more = o->stopping || (ok && o->queued_spans >= o->max_batch);
    pthread_mutex_unlock(&o->mu);
    if (more) export_next(o);
}

static void on_head(void *arg, int status, const cc_headers_t *h, long long content_length) {
    ((otel_t *)arg)->status = status;
}

static void on_body(void *arg, const char *data, size_t len) {
    otel_t *o = arg;
    size_t room = OTEL_MAX_RESPONSE - o->response.len;
    cc_buf_append(&o->response, data, len < room ? len : room);
}

/* partialSuccess.rejectedSpans of a 2xx answer (0 when absent or not JSON). */
static unsigned long long rejected_of(const cc_buf_t *resp) {
    if (!resp->len) return 0;
    cJSON *j = cJSON_ParseWithLength(resp->data, resp->len);
    cJSON *ps = cJSON_GetObjectItemCaseSensitive(j, "partialSuccess");
    cJSON *rs = cJSON_GetObjectItemCaseSensitive(ps, "rejectedSpans");
    unsigned long long n = 0;
    if (cJSON_IsNumber(rs) && rs->valuedouble > 0) n = (unsigned long long)rs->valuedouble;
    if (cJSON_IsString(rs)) n = strtoull(rs->valuestring, NULL, 10);
    cJSON_Delete(j);
    return n;
}

static void on_done(void *arg) {
    otel_t *o = arg;
    if (o->status >= 200 && o->status < 300) {
        export_over(o, true, rejected_of(&o->response), NULL);
        return;
    }
    char why[96];
    snprintf(why, sizeof why, "the collector answered HTTP %d", o->status);
    export_over(o, false, 0, why);
}

static void on_fail(void *arg, cc_up_fail_t kind, const char *msg, bool after_head) {
    otel_t *o = arg;
    export_over(o, false, 0, msg ? msg : "the export failed");
}

static void on_deadline(uv_timer_t *t) {
    otel_t *o = t->data;
    if (!o->inflight) return;
    cc_upstream_cancel(o->inflight);
    char why[96];
    snprintf(why, sizeof why, "no answer from the collector within %u ms", o->timeout_ms);
    export_over(o, false, 0, why);
}

/* Takes the next batch off the queue and sends it; at the stop, with the queue empty, ends
 * the thread. */
static void export_next(otel_t *o) {
    if (o->inflight || o->closed) return;
    cc_record_t *batch[1024];
    size_t n = 0, spans = 0;
    pthread_mutex_lock(&o->mu);
    while (o->count && n < sizeof batch / sizeof batch[0]) {
        cc_record_t *r = o->ring[o->head];
        size_t k = cc__otel_span_count(r);
        if (n && spans + k > o->max_batch) break;
        batch[n++] = r;
        spans += k;
        o->ring[o->head] = NULL;
        o->head = (o->head + 1) % o->max_queue;
        o->count--;
        o->queued_spans -= k;
    }
    bool stopping = o->stopping;
    pthread_mutex_unlock(&o->mu);
    if (!n) {
        if (stopping) finish_thread(o);
        return;
    }
    cc__otel_export_json(o->service_name, (const cc_record_t *const *)batch, n, &o->rng,
                         &o->body);
    for (size_t i = 0; i < n; i++) cc_record_release(batch[i]);
    o->inflight_spans = spans;
    o->status = 0;
    cc_upstream_req_t req = {
        .origin = o->origin,
        .method = "POST",
        .target = o->target,
        .headers = &o->headers,
        .body = o->body.data,
        .body_len = o->body.len,
        .first_byte_timeout_ms = o->timeout_ms,
        .idle_timeout_ms = o->timeout_ms,
    };
    static const cc_upstream_cb_t cb = {on_head, on_body, on_done, on_fail};
    o->inflight = cc_upstream_start(o->pool, &req, &cb, o);
    if (!o->inflight) {
        o->inflight_spans = spans;
        export_over(o, false, 0, "out of memory");
        return;
    }
    uv_timer_start(&o->deadline, on_deadline, o->timeout_ms, 0);
}

static void on_tick(uv_timer_t *t) {
    otel_t *o = t->data;
    log_drops(o, false);
    export_next(o);
}

/* At the stop's deadline: what is still queued or in flight is dropped. */
static void on_final(uv_timer_t *t) {
    otel_t *o = t->data;
    if (o->inflight) {
        cc_upstream_cancel(o->inflight);
        o->inflight = NULL;
        atomic_fetch_add(&o->dropped, o->inflight_spans);
        o->inflight_spans = 0;
        cc_buf_free(&o->body);
        cc_buf_free(&o->response);
    }
    finish_thread(o);
}

static void on_wake(uv_async_t *a) {
    otel_t *o = a->data;
    pthread_mutex_lock(&o->mu);
    bool stopping = o->stopping, full = o->queued_spans >= o->max_batch;
    pthread_mutex_unlock(&o->mu);
    if (stopping && !o->flushing) {
        o->flushing = true;
        uv_timer_stop(&o->tick);
        unsigned ms = o->timeout_ms < OTEL_STOP_FLUSH_MS ? o->timeout_ms : OTEL_STOP_FLUSH_MS;
        uv_timer_start(&o->final, on_final, ms, 0);
        if (!o->inflight) export_next(o);
        return;
    }
    if (full) export_next(o);
}

static void finish_thread(otel_t *o) {
    if (o->closed) return;
    o->closed = true;
    pthread_mutex_lock(&o->mu);
    size_t left = o->queued_spans;
    pthread_mutex_unlock(&o->mu);
    if (left) atomic_fetch_add(&o->dropped, left);
    log_drops(o, true);
    uv_close((uv_handle_t *)&o->wake, NULL);
    uv_close((uv_handle_t *)&o->tick, NULL);
    uv_close((uv_handle_t *)&o->deadline, NULL);
    uv_close((uv_handle_t *)&o->final, NULL);
    cc_pool_free(o->pool);
    o->pool = NULL;
}

static void *thread_main(void *arg) {
    otel_t *o = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the workers' business */
    uv_timer_start(&o->tick, on_tick, o->schedule_ms, o->schedule_ms);
    on_wake(&o->wake); /* a stop asked for before the loop ran */
    uv_run(&o->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- the sink ----------------------------------------------------------------------------- */

static void otel_take(cc_record_sink_t *s, cc_record_t *r) {
    otel_t *o = (otel_t *)s;
    size_t n = cc__otel_span_count(r);
    pthread_mutex_lock(&o->mu);
    bool room = !o->stopping && o->queued_spans + n <= o->max_queue;
    if (room) o->queued_spans += n;
    pthread_mutex_unlock(&o->mu);
    if (!room) {
        atomic_fetch_add(&o->dropped, n);
        atomic_fetch_add(&o->dropped_full, n);
        return;
    }
    pthread_mutex_lock(&o->mu);
    /* There is a slot: records in the ring never outnumber the spans reserved. */
    o->ring[(o->head + o->count) % o->max_queue] = cc_record_hold(r);
    o->count++;
    bool full = o->queued_spans >= o->max_batch;
    pthread_mutex_unlock(&o->mu);
    if (full) uv_async_send(&o->wake);
}

static void free_otel(otel_t *o) {
    if (!o) return;
    for (size_t i = 0; o->ring && i < o->count; i++)
        cc_record_release(o->ring[(o->head + i) % o->max_queue]);
    free(o->ring);
    free(o->url);
    free(o->target);
    for (size_t i = 0; i < o->headers.n; i++)
        if (o->headers.items[i].value)
            memset(o->headers.items[i].value, 0, strlen(o->headers.items[i].value));
    cc_headers_free(&o->headers);
    free(o->service_name);
    free(o->ca_file);
    cc_buf_free(&o->body);
    cc_buf_free(&o->response);
    free(o);
}

static otel_t *running; /* the process's exporter (cc_otel_start), for /health */

static void otel_stop(cc_record_sink_t *s) {
    otel_t *o = (otel_t *)s;
    pthread_mutex_lock(&o->mu);
    o->stopping = true;
    pthread_mutex_unlock(&o->mu);
    uv_async_send(&o->wake);
    pthread_join(o->thread, NULL);
    uv_loop_close(&o->loop);
    pthread_mutex_destroy(&o->mu);
    if (running == o) running = NULL;
    free_otel(o);
}

/* Splits the URL into the origin and the request target. */
static int parse_target(otel_t *o, const char *url, char *err, size_t errlen) {
    cc_url_t u;
    char why[256];
    if (cc_url_parse(url, &u, why, sizeof why) != 0) {
        snprintf(err, errlen, "otel: the traces URL %s is not an http:// or https:// URL", url);
        return -1;
    }
    snprintf(o->host, sizeof o->host, "%s", u.host);
    o->origin = (cc_origin_t){.tls = u.tls, .host = o->host, .port = u.port, .verify = true,
                              .ca_file = o->ca_file};
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    if (*p == '[') p = strchr(p, ']') ? strchr(p, ']') + 1 : p;
    const char *t = strpbrk(p, "/?#");
    size_t n = t ? strcspn(t, "#") : 0;
    cc_buf_t target = CC_BUF_INIT;
    if (!t || *t != '/') cc_buf_puts(&target, "/");
    if (t) cc_buf_append(&target, t, n);
    o->target = cc_buf_steal(&target, NULL);
    return o->target ? 0 : -1;
}

cc_record_sink_t *cc_otel_sink_new(const cc_otel_settings_t *s, char *err, size_t errlen) {
    if (!s || !s->traces_url) {
        snprintf(err, errlen, "otel: no traces URL");
        return NULL;
    }
    otel_t *o = calloc(1, sizeof *o);
    if (!o) goto oom;
    o->sink.name = "otel";
    o->sink.take = otel_take;
    o->sink.stop = otel_stop;
    o->timeout_ms = s->timeout_ms ? s->timeout_ms : 5000;
    o->schedule_ms = s->schedule_ms ? s->schedule_ms : 1000;
    o->max_queue = s->max_queue ? s->max_queue : 2048;
    o->max_batch = s->max_batch && s->max_batch <= o->max_queue ? s->max_batch : o->max_queue;
    o->url = strdup(s->traces_url);
    o->service_name = strdup(s->service_name ? s->service_name : "ccproxy");
    o->ca_file = s->ca_file ? strdup(s->ca_file) : NULL;
    o->ring = calloc(o->max_queue, sizeof *o->ring);
    if (!o->url || !o->service_name || (s->ca_file && !o->ca_file) || !o->ring) goto oom;
    if (parse_target(o, s->traces_url, err, errlen) != 0) {
        free_otel(o);
        return NULL;
    }
    if (cc_headers_set(&o->headers, "Content-Type", "application/json") < 0 ||
        cc_headers_set(&o->headers, "User-Agent", "ccproxy/" CCPROXY_VERSION) < 0)
        goto oom;
    for (size_t i = 0; i < s->n_headers; i++)
        if (cc_headers_set(&o->headers, s->headers[i].name, s->headers[i].value) < 0) goto oom;
    unsigned char seed[8];
    if (RAND_bytes(seed, sizeof seed) != 1) {
        snprintf(err, errlen, "otel: no random bytes for the span ids");
        free_otel(o);
        return NULL;
    }
    memcpy(&o->rng, seed, sizeof o->rng);

    pthread_mutex_init(&o->mu, NULL);
    int rc = uv_loop_init(&o->loop);
    if (rc != 0) {
        snprintf(err, errlen, "otel: no event loop: %s", uv_strerror(rc));
        pthread_mutex_destroy(&o->mu);
        free_otel(o);
        return NULL;
    }
    cc_pool_limits_t limits = {.connect_timeout_ms = o->timeout_ms, .pool_max_idle = 2,
                               .pool_idle_ttl_ms = 30000};
    o->pool = cc_pool_new(&o->loop, &limits);
    uv_async_init(&o->loop, &o->wake, on_wake);
    uv_timer_init(&o->loop, &o->tick);
    uv_timer_init(&o->loop, &o->deadline);
    uv_timer_init(&o->loop, &o->final);
    o->wake.data = o->tick.data = o->deadline.data = o->final.data = o;
    rc = o->pool ? pthread_create(&o->thread, NULL, thread_main, o) : -1;
    if (rc != 0) {
        snprintf(err, errlen, "otel: no exporter thread");
        o->closed = true;
        uv_close((uv_handle_t *)&o->wake, NULL);
        uv_close((uv_handle_t *)&o->tick, NULL);
        uv_close((uv_handle_t *)&o->deadline, NULL);
        uv_close((uv_handle_t *)&o->final, NULL);
        cc_pool_free(o->pool);
        uv_run(&o->loop, UV_RUN_DEFAULT);
        uv_loop_close(&o->loop);
        pthread_mutex_destroy(&o->mu);
        free_otel(o);
        return NULL;
    }
    return &o->sink;
oom:
    snprintf(err, errlen, "otel: out of memory");
    free_otel(o);
    return NULL;
}

void cc_otel_sink_stats(cc_record_sink_t *s, cc_otel_stats_t *out) {
    otel_t *o = (otel_t *)s;
    memset(out, 0, sizeof *out);
    out->spans_exported = atomic_load(&o->exported);
    out->spans_dropped = atomic_load(&o->dropped);
    out->spans_dropped_full = atomic_load(&o->dropped_full);
    out->exports = atomic_load(&o->exports);
    out->exports_failed = atomic_load(&o->exports_failed);
    pthread_mutex_lock(&o->mu);
    out->spans_queued = o->queued_spans;
    snprintf(out->last_error, sizeof out->last_error, "%s", o->last_error);
    pthread_mutex_unlock(&o->mu);
}

/* ---- the process's exporter --------------------------------------------------------------- */

int cc_otel_start(const cc_config_t *cfg, char *err, size_t errlen) {
    if (!cfg->otel.traces_url) return 0;
    cc_record_sink_t *s = cc_otel_sink_new(&cfg->otel, err, errlen);
    if (!s) return -1;
    if (cc_records_add(s) != 0) {
        snprintf(err, errlen, "otel: too many record sinks");
        s->stop(s);
        return -1;
    }
    running = (otel_t *)s;
    cc_info("otel: exporting request traces to %s (service.name=%s, %zu header%s)",
            running->url, running->service_name, cfg->otel.n_headers,
            cfg->otel.n_headers == 1 ? "" : "s");
    return 0;
}

const char *cc_otel_running_url(void) {
    return running ? running->url : NULL;
}

void cc_otel_add_json(cJSON *health) {
    cJSON *j = cJSON_AddObjectToObject(health, "otel");
    if (!running) {
        cJSON_AddStringToObject(j, "state", "off");
        return;
    }
    cc_otel_stats_t st;
    cc_otel_sink_stats(&running->sink, &st);
    cJSON_AddStringToObject(j, "state", "on");
    cJSON_AddStringToObject(j, "endpoint", running->url);
    cJSON_AddNumberToObject(j, "spans_exported", (double)st.spans_exported);
    cJSON_AddNumberToObject(j, "spans_dropped", (double)st.spans_dropped);
    cJSON_AddNumberToObject(j, "spans_dropped_queue_full", (double)st.spans_dropped_full);
    cJSON_AddNumberToObject(j, "spans_queued", (double)st.spans_queued);
    cJSON_AddNumberToObject(j, "exports", (double)st.exports);
    cJSON_AddNumberToObject(j, "exports_failed", (double)st.exports_failed);
    if (st.last_error[0])
        cJSON_AddStringToObject(j, "last_error", st.last_error);
    else
        cJSON_AddNullToObject(j, "last_error");
}
