/* test_metrics.c: the Prometheus metrics (record/metrics.h). One record gives exactly the
 * expected samples, each metric one # HELP and one # TYPE line before them; label values are
 * escaped (backslash, quote, newline), cleaned (invalid UTF-8, control characters) and cut;
 * histogram buckets are cumulative, a value on a bound counts in it, _count is the +Inf
 * bucket; the status label and the attempts' results; known and unknown costs; the gauges and
 * their cooldown series (entries of the same name and model summed); the bound on label sets
 * and its overflow series; the sink and the process's instance; and several threads taking
 * records while another renders, with exact totals. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "record/metrics.h"
#include "record/records.h"

/* The sample lines (not comments) of a rendering, joined by "\n". */
static char *samples(const char *text) {
    cc_buf_t b = CC_BUF_INIT;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len && p[0] != '#') {
            if (b.len) cc_buf_puts(&b, "\n");
            cc_buf_append(&b, p, len);
        }
        p += len + (e ? 1 : 0);
    }
    return b.data ? b.data : strdup("");
}

/* Whether `line` is one whole line of `text`. */
static bool has_line(const char *text, const char *line) {
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n') return true;
    return false;
}

/* The value of the sample line that starts with `series` followed by a space, or -1. */
static double value_of(const char *text, const char *series) {
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == ' ') return strtod(p + n + 1, NULL);
    return -1;
}

static char *render(cc_metrics_t *m, const cc_metrics_process_t *p) {
    cc_buf_t out = CC_BUF_INIT;
    cc_metrics_render(m, p, &out);
    return out.data ? out.data : strdup("");
}

/* A complete streamed answer from mock-haiku after one attempt. */
static cc_record_t base_record(cc_record_attempt_t *att) {
    att[0] = (cc_record_attempt_t){"mock-haiku", "anthropic/claude-haiku-5-5", 200, NULL, 120};
    cc_record_t r = {
        .endpoint = "messages",
        .label = "background",
        .requested_model = "claude-haiku-5-5",
        .sent_model = "claude-haiku-5-5",
        .deployment = "mock-haiku",
        .attempts = att,
        .n_attempts = 1,
        .status = 200,
        .stream = true,
        .usage = {.seen = true, .input = 10, .output = 5, .cache_creation = 2, .cache_read = 100},
        .cost_known = true,
        .cost_usd = 0.0123,
        .ttfb_ms = 120,
        .total_ms = 1500,
    };
    return r;
}

static const char *ONE_RECORD =
    "ccproxy_requests_total{endpoint=\"messages\",label=\"background\",deployment=\"mock-haiku\","
    "status=\"200\"} 1\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"0.05\"} 0\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"0.1\"} 0\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"0.25\"} 0\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"0.5\"} 0\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"1\"} 0\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"2.5\"} 1\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"5\"} 1\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"10\"} 1\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"20\"} 1\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"30\"} 1\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"60\"} 1\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"120\"} 1\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"300\"} 1\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"600\"} 1\n"
    "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"+Inf\"} 1\n"
    "ccproxy_request_duration_seconds_sum{deployment=\"mock-haiku\"} 1.5\n"
    "ccproxy_request_duration_seconds_count{deployment=\"mock-haiku\"} 1\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"0.05\"} 0\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"0.1\"} 0\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"0.25\"} 1\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"0.5\"} 1\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"1\"} 1\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"2.5\"} 1\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"5\"} 1\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"10\"} 1\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"20\"} 1\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"30\"} 1\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"60\"} 1\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"120\"} 1\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"300\"} 1\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"600\"} 1\n"
    "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"mock-haiku\",le=\"+Inf\"} 1\n"
    "ccproxy_time_to_first_byte_seconds_sum{deployment=\"mock-haiku\"} 0.12\n"
    "ccproxy_time_to_first_byte_seconds_count{deployment=\"mock-haiku\"} 1\n"
    "ccproxy_tokens_total{deployment=\"mock-haiku\",model=\"claude-haiku-5-5\",type=\"input\"} 10\n"
    "ccproxy_tokens_total{deployment=\"mock-haiku\",model=\"claude-haiku-5-5\",type=\"output\"} 5\n"
    "ccproxy_tokens_total{deployment=\"mock-haiku\",model=\"claude-haiku-5-5\","
    "type=\"cache_creation\"} 2\n"
    "ccproxy_tokens_total{deployment=\"mock-haiku\",model=\"claude-haiku-5-5\","
    "type=\"cache_read\"} 100\n"
    "ccproxy_cost_usd_total{deployment=\"mock-haiku\",model=\"claude-haiku-5-5\"} 0.0123\n"
    "ccproxy_requests_cost_unknown_total 0\n"
    "ccproxy_upstream_attempts_total{deployment=\"mock-haiku\",result=\"200\"} 1\n"
    "ccproxy_retries_total 0";

static void test_one_record_exact(void) {
    cc_metrics_t *m = cc_metrics_new(0);
    cc_record_attempt_t att[1];
    cc_record_t r = base_record(att);
    cc_metrics_take(m, &r);
    char *text = render(m, NULL);
    char *s = samples(text);
    CHECK_EQ_STR(s, ONE_RECORD);
    /* Every metric: its HELP line, then its TYPE line, once, before its samples. */
    static const char *const types[][2] = {
        {"ccproxy_requests_total", "counter"},
        {"ccproxy_request_duration_seconds", "histogram"},
        {"ccproxy_time_to_first_byte_seconds", "histogram"},
        {"ccproxy_tokens_total", "counter"},
        {"ccproxy_cost_usd_total", "counter"},
        {"ccproxy_requests_cost_unknown_total", "counter"},
        {"ccproxy_upstream_attempts_total", "counter"},
        {"ccproxy_retries_total", "counter"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char type[128], help[128];
        snprintf(type, sizeof type, "\n# TYPE %s %s\n", types[i][0], types[i][1]);
        snprintf(help, sizeof help, "# HELP %s ", types[i][0]);
        const char *t = strstr(text, type), *h = strstr(text, help);
        CHECK(t != NULL && strstr(t + 1, type) == NULL);
        CHECK(h != NULL && h < t && strchr(h, '\n') == t); /* HELP is the line before */
        const char *first = strstr(text, types[i][0]);
        CHECK(first == h + 7); /* no sample before its comments */
    }
    CHECK(text[strlen(text) - 1] == '\n');
    free(s);
    free(text);
    /* A second record of the same label sets adds to the same series. */
    r.total_ms = 50; /* exactly on the first bound: it counts in le="0.05" */
    r.ttfb_ms = -1;  /* no head: no time to first byte */
    cc_metrics_take(m, &r);
    text = render(m, NULL);
    CHECK(has_line(text, "ccproxy_requests_total{endpoint=\"messages\",label=\"background\","
                         "deployment=\"mock-haiku\",status=\"200\"} 2"));
    CHECK(has_line(text,
                   "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"0.05\"} 1"));
    CHECK(has_line(text,
                   "ccproxy_request_duration_seconds_bucket{deployment=\"mock-haiku\",le=\"2.5\"} 2"));
    CHECK(has_line(text, "ccproxy_request_duration_seconds_sum{deployment=\"mock-haiku\"} 1.55"));
    CHECK(has_line(text, "ccproxy_time_to_first_byte_seconds_count{deployment=\"mock-haiku\"} 1"));
    CHECK(has_line(text, "ccproxy_tokens_total{deployment=\"mock-haiku\","
                         "model=\"claude-haiku-5-5\",type=\"cache_read\"} 200"));
    CHECK(has_line(text, "ccproxy_cost_usd_total{deployment=\"mock-haiku\","
                         "model=\"claude-haiku-5-5\"} 0.0246"));
    free(text);
    cc_metrics_free(m);
}

static void test_label_values(void) {
    cc_metrics_t *m = cc_metrics_new(0);
    cc_record_attempt_t att[1];
    cc_record_t r = base_record(att);
    r.n_attempts = 0;
    r.label = "a\\b \"q\"\nnext";      /* escaped */
    r.deployment = "bad\xff\xc3(\x01)\t"; /* invalid UTF-8 and a control character */
    char long_value[400];
    memset(long_value, 'x', sizeof long_value);
    memcpy(long_value + 198, "\xc3\xa9", 2); /* é across bytes 198-199: kept */
    memcpy(long_value + 200, "\xe2\x82\xac", 3); /* € would end past 200: cut before it */
    long_value[sizeof long_value - 1] = '\0';
    r.sent_model = long_value;
    cc_metrics_take(m, &r);
    char *text = render(m, NULL);
    CHECK(has_line(text, "ccproxy_requests_total{endpoint=\"messages\","
                         "label=\"a\\\\b \\\"q\\\"\\nnext\",deployment=\"bad\xef\xbf\xbd\xef\xbf\xbd(?)\t\","
                         "status=\"200\"} 1"));
    char want[600];
    snprintf(want, sizeof want,
             "ccproxy_cost_usd_total{deployment=\"bad\xef\xbf\xbd\xef\xbf\xbd(?)\t\",model=\"%.198s"
             "\xc3\xa9\"} 0.0123",
             long_value);
    CHECK(has_line(text, want));
    free(text);
    /* NULL fields are empty values; a record with no routing still counts. */
    cc_record_t bare = {.status = 404, .outcome = "rejected", .ttfb_ms = -1, .total_ms = 2};
    cc_metrics_take(m, &bare);
    text = render(m, NULL);
    CHECK(has_line(text, "ccproxy_requests_total{endpoint=\"\",label=\"\",deployment=\"\","
                         "status=\"404\"} 1"));
    CHECK(has_line(text, "ccproxy_request_duration_seconds_count{deployment=\"\"} 1"));
    free(text);
    cc_metrics_free(m);
}

static void test_histogram_cumulative(void) {
    cc_metrics_t *m = cc_metrics_new(0);
    /* One duration in each of several buckets, on bounds and between them, and beyond. */
    const double ms[] = {10, 50, 50.001, 700, 1000, 4000, 59000, 60000, 700000, 1e9};
    double sum = 0;
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        cc_record_t r = {.endpoint = "messages", .deployment = "d", .status = 200,
                         .ttfb_ms = -1, .total_ms = ms[i]};
        cc_metrics_take(m, &r);
        sum += ms[i] / 1000.0;
    }
    char *text = render(m, NULL);
    static const struct {
        const char *le;
        int n;
    } want[] = {{"0.05", 2},  {"0.1", 3},  {"0.25", 3}, {"0.5", 3},  {"1", 5},
                {"2.5", 5},   {"5", 6},    {"10", 6},   {"20", 6},   {"30", 6},
                {"60", 8},    {"120", 8},  {"300", 8},  {"600", 8},  {"+Inf", 10}};
    double prev = -1;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char series[160];
        snprintf(series, sizeof series,
                 "ccproxy_request_duration_seconds_bucket{deployment=\"d\",le=\"%s\"}", want[i].le);
        double v = value_of(text, series);
        CHECK_EQ_INT(v, want[i].n);
        CHECK(v >= prev);
        prev = v;
    }
    CHECK_EQ_INT(value_of(text, "ccproxy_request_duration_seconds_count{deployment=\"d\"}"), 10);
    double got = value_of(text, "ccproxy_request_duration_seconds_sum{deployment=\"d\"}");
    CHECK(got > sum * 0.999999 && got < sum * 1.000001);
    /* No first byte was seen: its histogram is there, empty. */
    CHECK(has_line(text, "ccproxy_time_to_first_byte_seconds_bucket{deployment=\"d\",le=\"+Inf\"} 0"));
    CHECK(has_line(text, "ccproxy_time_to_first_byte_seconds_sum{deployment=\"d\"} 0"));
    free(text);
    cc_metrics_free(m);
}

static void test_status_and_attempts(void) {
    cc_metrics_t *m = cc_metrics_new(0);
    cc_record_attempt_t att[4] = {
        {"a", "anthropic/x", 429, NULL, 5},
        {"a", "anthropic/x", 0, "timeout", 5000},
        {"b", "openai/y", 0, NULL, 1},
        {"b", "openai/y", 500, NULL, 3},
    };
    cc_record_t r = {.endpoint = "messages", .label = "default", .deployment = "b",
                     .attempts = att, .n_attempts = 4, .status = 500, .ttfb_ms = 10,
                     .total_ms = 6000};
    cc_metrics_take(m, &r);
    cc_record_t gone = {.endpoint = "messages", .label = "default", .deployment = "a",
                        .attempts = att, .n_attempts = 1, .status = 499,
                        .outcome = "client-closed", .ttfb_ms = -1, .total_ms = 30};
    cc_metrics_take(m, &gone);
    char *text = render(m, NULL);
    CHECK(has_line(text, "ccproxy_requests_total{endpoint=\"messages\",label=\"default\","
                         "deployment=\"b\",status=\"500\"} 1"));
    CHECK(has_line(text, "ccproxy_requests_total{endpoint=\"messages\",label=\"default\","
                         "deployment=\"a\",status=\"client-closed\"} 1"));
    CHECK(has_line(text, "ccproxy_upstream_attempts_total{deployment=\"a\",result=\"429\"} 2"));
    CHECK(has_line(text, "ccproxy_upstream_attempts_total{deployment=\"a\",result=\"timeout\"} 1"));
    CHECK(has_line(text, "ccproxy_upstream_attempts_total{deployment=\"b\",result=\"none\"} 1"));
    CHECK(has_line(text, "ccproxy_upstream_attempts_total{deployment=\"b\",result=\"500\"} 1"));
    CHECK(has_line(text, "ccproxy_retries_total 3"));
    /* No usage: no token series. */
    CHECK(strstr(text, "ccproxy_tokens_total{") == NULL);
    free(text);
    cc_metrics_free(m);
}

static void test_costs(void) {
    cc_metrics_t *m = cc_metrics_new(0);
    cc_record_t known = {.deployment = "d", .sent_model = "m1", .status = 200, .ttfb_ms = 1,
                         .total_ms = 2, .usage = {.seen = true, .input = 1, .output = 1},
                         .cost_known = true, .cost_usd = 0.25};
    cc_record_t unknown = {.deployment = "d", .sent_model = "m2", .status = 200, .ttfb_ms = 1,
                           .total_ms = 2, .usage = {.seen = true, .input = 7},
                           .cost_known = false, .cost_usd = 0};
    cc_record_t none = {.deployment = "d", .sent_model = "m3", .status = 429, .ttfb_ms = 1,
                        .total_ms = 2};
    cc_metrics_take(m, &known);
    cc_metrics_take(m, &known);
    cc_metrics_take(m, &unknown);
    cc_metrics_take(m, &none);
    char *text = render(m, NULL);
    CHECK(has_line(text, "ccproxy_cost_usd_total{deployment=\"d\",model=\"m1\"} 0.5"));
    CHECK(strstr(text, "ccproxy_cost_usd_total{deployment=\"d\",model=\"m2\"}") == NULL);
    CHECK(has_line(text, "ccproxy_tokens_total{deployment=\"d\",model=\"m2\",type=\"input\"} 7"));
    CHECK(strstr(text, "model=\"m3\"") == NULL); /* no usage, no cost: nothing to count */
    CHECK(has_line(text, "ccproxy_requests_cost_unknown_total 1"));
    free(text);
    /* The requested model stands in when none was sent. */
    cc_record_t req_only = {.deployment = "d", .requested_model = "asked", .status = 200,
                            .ttfb_ms = 1, .total_ms = 2, .usage = {.seen = true, .output = 3},
                            .cost_known = true, .cost_usd = 0};
    cc_metrics_take(m, &req_only);
    text = render(m, NULL);
    CHECK(has_line(text, "ccproxy_tokens_total{deployment=\"d\",model=\"asked\",type=\"output\"} 3"));
    CHECK(has_line(text, "ccproxy_cost_usd_total{deployment=\"d\",model=\"asked\"} 0"));
    free(text);
    cc_metrics_free(m);
}

static const char *GAUGES =
    "ccproxy_requests_in_flight 3\n"
    "ccproxy_open_streams 2\n"
    "ccproxy_deployment_cooldown{deployment=\"pool\",model=\"anthropic/claude-x\"} 1\n"
    "ccproxy_deployment_cooldown{deployment=\"solo\",model=\"openai/gpt\"} 0\n"
    "ccproxy_deployment_cooldown{deployment=\"claude-*\",model=\"anthropic/*\"} 2\n"
    "ccproxy_script_errors_total{kind=\"rule\"} 4\n"
    "ccproxy_script_errors_total{kind=\"hook\"} 5\n"
    "ccproxy_script_errors_total{kind=\"budget_exceeded\"} 6\n"
    "ccproxy_script_errors_total{kind=\"memory\"} 7\n"
    "ccproxy_reloads_total{result=\"ok\"} 8\n"
    "ccproxy_reloads_total{result=\"failed\"} 9\n"
    "ccproxy_config_generation 9\n"
    "ccproxy_process_resident_memory_bytes 123456\n"
    "ccproxy_lua_memory_bytes 65536\n"
    "ccproxy_uptime_seconds 12.5\n"
    "ccproxy_build_info{version=\"1.2.3\"} 1";

static void test_gauges(void) {
    cc_metrics_deployment_t deps[] = {
        {"pool", "anthropic/claude-x", 1},
        {"solo", "openai/gpt", 0},
        {"pool", "anthropic/claude-x", 0}, /* the same series as the first */
        {"claude-*", "anthropic/*", 1},
        {"claude-*", "anthropic/*", 1},
    };
    cc_metrics_process_t p = {
        .version = "1.2.3",
        .uptime_s = 12.5,
        .requests_in_flight = 3,
        .open_streams = 2,
        .generation = 9,
        .reloads_ok = 8,
        .reloads_failed = 9,
        .rule_errors = 4,
        .hook_errors = 5,
        .budget_exceeded = 6,
        .memory_errors = 7,
        .lua_bytes = 65536,
        .resident_bytes = 123456,
        .deployments = deps,
        .n_deployments = sizeof deps / sizeof deps[0],
    };
    char *text = render(NULL, &p);
    char *s = samples(text);
    CHECK_EQ_STR(s, GAUGES);
    CHECK(strstr(text, "# TYPE ccproxy_deployment_cooldown gauge\n") != NULL);
    CHECK(strstr(text, "# TYPE ccproxy_script_errors_total counter\n") != NULL);
    CHECK(strstr(text, "# TYPE ccproxy_reloads_total counter\n") != NULL);
    CHECK(strstr(text, "# TYPE ccproxy_uptime_seconds gauge\n") != NULL);
    free(s);
    free(text);
    /* Resident memory unknown: the metric is left out. */
    p.resident_bytes = -1;
    text = render(NULL, &p);
    CHECK(strstr(text, "resident") == NULL);
    free(text);
    CHECK(cc_metrics_resident_bytes() > 0);
}

static void take_one(cc_metrics_t *m, char *deployment) {
    cc_record_t r = {.endpoint = "messages", .label = "default", .deployment = deployment,
                     .status = 200, .ttfb_ms = -1, .total_ms = 1};
    cc_metrics_take(m, &r);
}

static int count_of(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++) n++;
    return n;
}

static void test_bound(void) {
    cc_metrics_t *m = cc_metrics_new(3);
    char *deps[] = {"d0", "d1", "d2", "d3", "d4", "d0"};
    for (size_t i = 0; i < sizeof deps / sizeof deps[0]; i++) take_one(m, deps[i]);
    char *text = render(m, NULL);
    CHECK(has_line(text, "ccproxy_requests_total{endpoint=\"messages\",label=\"default\","
                         "deployment=\"d0\",status=\"200\"} 2"));
    CHECK(has_line(text, "ccproxy_requests_total{endpoint=\"messages\",label=\"default\","
                         "deployment=\"d2\",status=\"200\"} 1"));
    CHECK(strstr(text, "deployment=\"d3\"") == NULL);
    CHECK(strstr(text, "deployment=\"d4\"") == NULL);
    /* d3 and d4 went to the overflow series, every label of which says so. */
    CHECK(has_line(text, "ccproxy_requests_total{endpoint=\"__overflow__\","
                         "label=\"__overflow__\",deployment=\"__overflow__\","
                         "status=\"__overflow__\"} 2"));
    CHECK(has_line(text, "ccproxy_request_duration_seconds_count{deployment=\"__overflow__\"} 2"));
    CHECK_EQ_INT(count_of(text, "ccproxy_requests_total{"), 4);
    CHECK_EQ_INT(count_of(text, "ccproxy_request_duration_seconds_count{"), 4);
    free(text);
    cc_metrics_free(m);

    /* Below the bound, a label set that is the overflow one's is counted in it: never two
       series with the same labels. */
    m = cc_metrics_new(3);
    take_one(m, CC_METRICS_OVERFLOW);
    take_one(m, "d0");
    text = render(m, NULL);
    CHECK(has_line(text, "ccproxy_request_duration_seconds_count{deployment=\"__overflow__\"} 1"));
    CHECK_EQ_INT(count_of(text, "ccproxy_request_duration_seconds_count{"), 2);
    CHECK_EQ_INT(count_of(text, "ccproxy_requests_total{"), 2); /* its other labels differ */
    free(text);
    cc_metrics_free(m);
}

static void test_sink_and_process(void) {
    cc_metrics_t *m = cc_metrics_new(0);
    cc_record_sink_t *s = cc_metrics_sink_new(m);
    CHECK(s != NULL && strcmp(s->name, "metrics") == 0);
    cc_record_attempt_t att[1];
    cc_record_t r = base_record(att);
    cc_record_t *packed = cc_record_pack(&r);
    s->take(s, packed);
    cc_record_release(packed);
    char *text = render(m, NULL);
    CHECK(has_line(text, "ccproxy_upstream_attempts_total{deployment=\"mock-haiku\",result=\"200\"} 1"));
    free(text);
    s->stop(s); /* frees m too (ASan says so) */

    CHECK(cc_metrics_process() == NULL);
    CHECK_EQ_INT(cc_metrics_start(), 0);
    CHECK(cc_records_wanted());
    cc_metrics_t *pm = cc_metrics_process();
    CHECK(pm != NULL);
    cc_records_emit(&r);
    text = render(pm, NULL);
    CHECK(has_line(text, "ccproxy_retries_total 0"));
    CHECK(has_line(text, "ccproxy_cost_usd_total{deployment=\"mock-haiku\","
                         "model=\"claude-haiku-5-5\"} 0.0123"));
    free(text);
    cc_records_stop();
    CHECK(cc_metrics_process() == NULL);
}

/* Threads taking records at once, while another renders: every count exact at the end. */
#define THREADS 8
#define PER_THREAD 20000
#define LABEL_SETS 10

static cc_metrics_t *shared;
static atomic_int takers_left;

static void *taker(void *arg) {
    int t = (int)(long)arg;
    char dep[LABEL_SETS][16];
    for (int k = 0; k < LABEL_SETS; k++) snprintf(dep[k], sizeof dep[k], "dep%d", k);
    cc_record_attempt_t att[2];
    for (int i = 0; i < PER_THREAD; i++) {
        int k = (i + t) % LABEL_SETS;
        att[0] = (cc_record_attempt_t){dep[k], "m", 529, NULL, 1};
        att[1] = (cc_record_attempt_t){dep[k], "m", 200, NULL, 1};
        cc_record_t r = {.endpoint = "messages", .label = "default", .deployment = dep[k],
                         .sent_model = "m", .attempts = att, .n_attempts = 1 + (size_t)(i & 1),
                         .status = 200, .ttfb_ms = 100, .total_ms = 250 + (i % 3) * 1000,
                         .usage = {.seen = true, .input = 3, .output = 2, .cache_read = 1},
                         .cost_known = true, .cost_usd = 0.5};
        cc_metrics_take(shared, &r);
    }
    atomic_fetch_sub(&takers_left, 1);
    return NULL;
}

static void *renderer(void *arg) {
    (void)arg;
    int renders = 0;
    while (atomic_load(&takers_left) > 0 || renders == 0) {
        cc_buf_t out = CC_BUF_INIT;
        cc_metrics_render(shared, NULL, &out);
        cc_buf_free(&out);
        renders++;
    }
    return NULL;
}

static double sum_of(const char *text, const char *prefix, const char *suffix) {
    double total = 0;
    for (const char *p = text; (p = strstr(p, prefix)) != NULL; p++) {
        if (p != text && p[-1] != '\n') continue;
        const char *sp = strchr(p, ' '), *nl = strchr(p, '\n');
        if (!sp || (nl && nl < sp)) continue;
        if (suffix && (size_t)(sp - p) >= strlen(suffix) &&
            strncmp(sp - strlen(suffix), suffix, strlen(suffix)) != 0)
            continue;
        total += strtod(sp + 1, NULL);
    }
    return total;
}

static void test_concurrency(void) {
    shared = cc_metrics_new(0);
    pthread_t th[THREADS], r;
    atomic_store(&takers_left, THREADS);
    pthread_create(&r, NULL, renderer, NULL);
    for (long t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, taker, (void *)t);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    pthread_join(r, NULL);
    char *text = render(shared, NULL);
    const double n = (double)THREADS * PER_THREAD;
    CHECK_EQ_INT(sum_of(text, "ccproxy_requests_total{", NULL), n);
    CHECK_EQ_INT(sum_of(text, "ccproxy_request_duration_seconds_count{", NULL), n);
    CHECK_EQ_INT(sum_of(text, "ccproxy_time_to_first_byte_seconds_bucket{", "le=\"0.1\"}"), n);
    CHECK_EQ_INT(sum_of(text, "ccproxy_tokens_total{", "type=\"input\"}"), 3 * n);
    CHECK_EQ_INT(sum_of(text, "ccproxy_tokens_total{", "type=\"output\"}"), 2 * n);
    CHECK_EQ_INT(sum_of(text, "ccproxy_tokens_total{", "type=\"cache_read\"}"), n);
    CHECK_EQ_INT(sum_of(text, "ccproxy_cost_usd_total{", NULL), 0.5 * n); /* exact in binary */
    CHECK_EQ_INT(sum_of(text, "ccproxy_upstream_attempts_total{", NULL), 1.5 * n);
    CHECK_EQ_INT(value_of(text, "ccproxy_retries_total"), n / 2);
    /* Durations 0.25 s, 1.25 s and 2.25 s in turn: exact sums per series. */
    double want = 0;
    for (int i = 0; i < PER_THREAD; i++) want += THREADS * (0.25 + (i % 3));
    CHECK(sum_of(text, "ccproxy_request_duration_seconds_sum{", NULL) == want);
    /* One series per label set, however many threads met it first at once. */
    int series = 0;
    for (const char *p = text; (p = strstr(p, "\nccproxy_requests_total{")) != NULL; p++) series++;
    CHECK_EQ_INT(series, LABEL_SETS);
    CHECK(strstr(text, CC_METRICS_OVERFLOW) == NULL);
    free(text);
    cc_metrics_free(shared);
}

int main(void) {
    CC_RUN(test_one_record_exact);
    CC_RUN(test_label_values);
    CC_RUN(test_histogram_cumulative);
    CC_RUN(test_status_and_attempts);
    CC_RUN(test_costs);
    CC_RUN(test_gauges);
    CC_RUN(test_bound);
    CC_RUN(test_sink_and_process);
    CC_RUN(test_concurrency);
    return CC_DONE();
}
