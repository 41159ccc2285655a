#define _GNU_SOURCE /* strcasestr */
/* test_otel.c: request records as OpenTelemetry spans (record/otel.c): the OTLP JSON of a
 * record parsed back (ids, times, kinds, attributes, the parent/child links, error
 * statuses), the attempts' times, and the exporter: its bounded queue and drop counts, its
 * POSTs to a receiver on loopback (headers, body, partialSuccess, an error status), the
 * flush at stop, and a collector that never answers. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "record/otel.h"

/* ---- records ------------------------------------------------------------------------------ */

/* A streamed request that took two attempts: the first timed out after 100 ms, the second
 * answered 200 after 50 ms; head at 300 ms, end at 1000 ms. Packed, as sinks get records;
 * a test may still change its fields before handing it on. */
static cc_record_t *sample(void) {
    cc_record_attempt_t att[2] = {
        {(char *)"haiku-a", (char *)"anthropic/claude-haiku-5-5", 0, (char *)"timeout", 100},
        {(char *)"haiku-b", (char *)"anthropic/*", 200, NULL, 50}};
    cc_record_tag_t tags[2] = {{(char *)"h.user-agent", (char *)"claude-cli/2.0 (external, cli)"},
                               {(char *)"h.x-bad", (char *)"caf\xc3\xa9 \xff end"}};
    cc_record_t d = {
        .time_ms = 1700000000123ull,
        .id = (char *)"r42",
        .session_id = (char *)"sess-1",
        .endpoint = (char *)"messages",
        .label = (char *)"background",
        .rule = (char *)"background",
        .requested_model = (char *)"claude-haiku-5-5",
        .sent_model = (char *)"claude-haiku-5-5-20261001",
        .deployment = (char *)"haiku-b",
        .provider = (char *)"anthropic",
        .attempts = att,
        .n_attempts = 2,
        .status = 200,
        .stream = true,
        .usage = {.seen = true, .input = 12, .output = 34, .cache_creation = 5, .cache_read = 6},
        .cost_known = true,
        .cost_usd = 0.00125,
        .ttfb_ms = 300,
        .total_ms = 1000,
        .bytes_in = 111,
        .bytes_out = 2222,
        .client = (char *)"127.0.0.1 oauth sk-ant-oat01-…a1b2",
        .tags = tags,
        .n_tags = 2,
    };
    return cc_record_pack(&d);
}

/* One attempt that answered 200 at once: head at 20 ms (the attempt took 15), end at 80. */
static cc_record_t *simple(int status, const char *outcome) {
    cc_record_attempt_t att = {(char *)"claude-*", (char *)"gemini/gemini-2.5-pro", status, NULL,
                               15};
    cc_record_t d = {
        .time_ms = 1700000001000ull,
        .id = (char *)"r7",
        .endpoint = (char *)"messages",
        .label = (char *)"default",
        .requested_model = (char *)"claude-sonnet-5-5",
        .sent_model = (char *)"claude-sonnet-5-5",
        .deployment = (char *)"claude-*",
        .provider = (char *)"gemini",
        .attempts = &att,
        .n_attempts = 1,
        .status = status,
        .outcome = (char *)outcome,
        .ttfb_ms = 20,
        .total_ms = 80,
    };
    return cc_record_pack(&d);
}

/* ---- reading the JSON back ---------------------------------------------------------------- */

static cJSON *spans_of(cJSON *root) {
    cJSON *rs = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "resourceSpans"), 0);
    cJSON *ss = cJSON_GetArrayItem(cJSON_GetObjectItem(rs, "scopeSpans"), 0);
    return cJSON_GetObjectItem(ss, "spans");
}

/* The value object of attribute `key` in an attributes array, or NULL. */
static cJSON *attr(cJSON *obj, const char *key) {
    cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(obj, "attributes")) {
        cJSON *k = cJSON_GetObjectItem(a, "key");
        if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0)
            return cJSON_GetObjectItem(a, "value");
    }
    return NULL;
}

static const char *attr_s(cJSON *obj, const char *key) {
    cJSON *v = cJSON_GetObjectItem(attr(obj, key), "stringValue");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static long long attr_i(cJSON *obj, const char *key) {
    cJSON *v = cJSON_GetObjectItem(attr(obj, key), "intValue");
    return cJSON_IsString(v) ? strtoll(v->valuestring, NULL, 10) : -999;
}

static double attr_d(cJSON *obj, const char *key) {
    cJSON *v = cJSON_GetObjectItem(attr(obj, key), "doubleValue");
    return cJSON_IsNumber(v) ? v->valuedouble : -999;
}

static int attr_b(cJSON *obj, const char *key) {
    cJSON *v = cJSON_GetObjectItem(attr(obj, key), "boolValue");
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : -1;
}

static const char *str(cJSON *obj, const char *key) {
    cJSON *v = cJSON_GetObjectItem(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool is_hex(const char *s, size_t n) {
    if (!s || strlen(s) != n) return false;
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return false;
        if (s[i] != '0') nonzero = true;
    }
    return nonzero;
}

static int status_code(cJSON *span) {
    cJSON *st = cJSON_GetObjectItem(span, "status");
    cJSON *c = cJSON_GetObjectItem(st, "code");
    return cJSON_IsNumber(c) ? c->valueint : 0;
}

static cJSON *export_of(cc_record_t **recs, size_t n, cc_buf_t *json) {
    uint64_t rng = 12345;
    cc_buf_reset(json);
    cc__otel_export_json("svc-test", (const cc_record_t *const *)recs, n, &rng, json);
    cJSON *root = cJSON_ParseWithLength(json->data, json->len);
    if (!root) fprintf(stderr, "  not JSON: %s\n", json->data);
    return root;
}

/* ---- the JSON ----------------------------------------------------------------------------- */

static void test_spans_of_a_record(void) {
    cc_record_t *r = sample();
    cc_buf_t json = CC_BUF_INIT;
    cJSON *root = export_of(&r, 1, &json);
    CHECK(root != NULL);
    cJSON *rs = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "resourceSpans"), 0);
    cJSON *res = cJSON_GetObjectItem(rs, "resource");
    CHECK_EQ_STR(attr_s(res, "service.name"), "svc-test");
    CHECK_EQ_STR(attr_s(res, "service.version"), CCPROXY_VERSION);
    cJSON *ss = cJSON_GetArrayItem(cJSON_GetObjectItem(rs, "scopeSpans"), 0);
    CHECK_EQ_STR(str(cJSON_GetObjectItem(ss, "scope"), "name"), "ccproxy");

    cJSON *spans = spans_of(root);
    CHECK_EQ_INT(cJSON_GetArraySize(spans), 3);
    CHECK_EQ_INT(cc__otel_span_count(r), 3);
    cJSON *srv = cJSON_GetArrayItem(spans, 0), *a1 = cJSON_GetArrayItem(spans, 1),
          *a2 = cJSON_GetArrayItem(spans, 2);

    /* The request's span. */
    CHECK(is_hex(str(srv, "traceId"), 32));
    CHECK(is_hex(str(srv, "spanId"), 16));
    CHECK(cJSON_GetObjectItem(srv, "parentSpanId") == NULL);
    CHECK_EQ_STR(str(srv, "name"), "chat claude-haiku-5-5");
    CHECK_EQ_INT(cJSON_GetObjectItem(srv, "kind")->valueint, 2);
    CHECK_EQ_STR(str(srv, "startTimeUnixNano"), "1700000000123000000");
    CHECK_EQ_STR(str(srv, "endTimeUnixNano"), "1700000001123000000");
    CHECK_EQ_STR(attr_s(srv, "gen_ai.operation.name"), "chat");
    CHECK_EQ_STR(attr_s(srv, "gen_ai.system"), "anthropic");
    CHECK_EQ_STR(attr_s(srv, "gen_ai.request.model"), "claude-haiku-5-5");
    CHECK_EQ_STR(attr_s(srv, "gen_ai.response.model"), "claude-haiku-5-5-20261001");
    CHECK_EQ_INT(attr_i(srv, "gen_ai.usage.input_tokens"), 12);
    CHECK_EQ_INT(attr_i(srv, "gen_ai.usage.output_tokens"), 34);
    CHECK_EQ_INT(attr_i(srv, "gen_ai.usage.cache_read_input_tokens"), 6);
    CHECK_EQ_INT(attr_i(srv, "gen_ai.usage.cache_creation_input_tokens"), 5);
    CHECK(attr_d(srv, "ccproxy.cost_usd") == 0.00125);
    CHECK(attr_d(srv, "gen_ai.usage.cost") == 0.00125);
    CHECK_EQ_INT(attr_i(srv, "http.response.status_code"), 200);
    CHECK_EQ_STR(attr_s(srv, "session.id"), "sess-1");
    CHECK_EQ_STR(attr_s(srv, "ccproxy.session_id"), "sess-1");
    CHECK_EQ_STR(attr_s(srv, "ccproxy.label"), "background");
    CHECK_EQ_STR(attr_s(srv, "ccproxy.rule"), "background");
    CHECK_EQ_STR(attr_s(srv, "ccproxy.deployment"), "haiku-b");
    CHECK_EQ_STR(attr_s(srv, "ccproxy.request_id"), "r42");
    CHECK_EQ_STR(attr_s(srv, "url.path"), "/v1/messages");
    CHECK_EQ_INT(attr_i(srv, "ccproxy.attempts"), 2);
    CHECK_EQ_INT(attr_b(srv, "ccproxy.stream"), 1);
    CHECK(attr_d(srv, "ccproxy.ttfb_ms") == 300);
    CHECK_EQ_INT(attr_i(srv, "http.request.body.size"), 111);
    CHECK_EQ_INT(attr_i(srv, "http.response.body.size"), 2222);
    CHECK_EQ_STR(attr_s(srv, "ccproxy.tag.h.user-agent"), "claude-cli/2.0 (external, cli)");
    /* Bytes that are not UTF-8 become U+FFFD: the JSON stays valid. */
    CHECK_EQ_STR(attr_s(srv, "ccproxy.tag.h.x-bad"), "caf\xc3\xa9 \xef\xbf\xbd end");
    CHECK(attr(srv, "ccproxy.outcome") == NULL);
    CHECK(attr(srv, "ccproxy.rule") != NULL);
    CHECK(strstr(json.data, "oauth") == NULL); /* the client's credential is not exported */
    CHECK_EQ_INT(status_code(srv), 0);

    /* The attempts: children of the request's span, in its trace, ids of their own. */
    const char *root_id = str(srv, "spanId");
    cJSON *as[] = {a1, a2};
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_STR(str(as[i], "traceId"), str(srv, "traceId"));
        CHECK_EQ_STR(str(as[i], "parentSpanId"), root_id);
        CHECK(is_hex(str(as[i], "spanId"), 16));
        CHECK(strcmp(str(as[i], "spanId"), root_id) != 0);
        CHECK_EQ_INT(cJSON_GetObjectItem(as[i], "kind")->valueint, 3);
        CHECK_EQ_STR(attr_s(as[i], "gen_ai.operation.name"), "chat");
        CHECK_EQ_INT(attr_i(as[i], "ccproxy.attempt"), i + 1);
        CHECK(attr(as[i], "gen_ai.usage.input_tokens") == NULL); /* counted once, above */
    }
    CHECK(strcmp(str(a1, "spanId"), str(a2, "spanId")) != 0);
    CHECK_EQ_STR(str(a1, "name"), "chat claude-haiku-5-5");
    CHECK_EQ_STR(attr_s(a1, "ccproxy.deployment"), "haiku-a");
    CHECK_EQ_STR(attr_s(a1, "error.type"), "timeout");
    CHECK(attr(a1, "http.response.status_code") == NULL);
    CHECK(attr(a1, "gen_ai.system") == NULL); /* not the answering deployment's provider */
    CHECK_EQ_INT(status_code(a1), 2);
    CHECK_EQ_STR(str(cJSON_GetObjectItem(a1, "status"), "message"), "timeout");
    /* The answering one asked for the model sent, not the deployment's pattern. */
    CHECK_EQ_STR(str(a2, "name"), "chat claude-haiku-5-5-20261001");
    CHECK_EQ_STR(attr_s(a2, "gen_ai.request.model"), "claude-haiku-5-5-20261001");
    CHECK_EQ_STR(attr_s(a2, "gen_ai.system"), "anthropic");
    CHECK_EQ_INT(attr_i(a2, "http.response.status_code"), 200);
    CHECK_EQ_INT(status_code(a2), 0);
    /* Times: head at 300, attempts of 100 and 50, the 150 ms left between them. */
    CHECK_EQ_STR(str(a1, "startTimeUnixNano"), "1700000000123000000");
    CHECK_EQ_STR(str(a1, "endTimeUnixNano"), "1700000000223000000");
    CHECK_EQ_STR(str(a2, "startTimeUnixNano"), "1700000000373000000"); /* 250 ms in */
    CHECK_EQ_STR(str(a2, "endTimeUnixNano"), "1700000001123000000"); /* its body: to the end */

    cJSON_Delete(root);
    cc_buf_free(&json);
    cc_record_release(r);
}

static void test_attempt_times(void) {
    cc_record_t *r = sample();
    double s, e;
    cc__otel_attempt_times(r, 0, &s, &e);
    CHECK(s == 0 && e == 100);
    cc__otel_attempt_times(r, 1, &s, &e);
    CHECK(s == 250 && e == 1000);
    /* No head (every attempt failed): the last one ends at the end. */
    r->ttfb_ms = -1;
    r->attempts[1].status = 0;
    r->attempts[1].reason = (char *)"unreachable";
    cc__otel_attempt_times(r, 1, &s, &e);
    CHECK(s == 950 && e == 1000);
    /* Durations longer than the request (clocks disagree): kept inside it. */
    r->attempts[0].ms = 5000;
    cc__otel_attempt_times(r, 0, &s, &e);
    CHECK(s == 0 && e == 1000);
    cc__otel_attempt_times(r, 1, &s, &e);
    CHECK(s == 1000 && e == 1000);
    cc_record_release(r);

    r = simple(200, NULL); /* one attempt: exact, head at 20 after 15 ms */
    cc__otel_attempt_times(r, 0, &s, &e);
    CHECK(s == 5 && e == 80);
    cc_record_release(r);
}

static void test_error_statuses(void) {
    cc_buf_t json = CC_BUF_INIT;
    struct {
        int status;
        const char *outcome;
        int server_code, client_code;
    } cases[] = {
        {200, NULL, 0, 0},
        {529, "upstream-failed", 2, 2},
        {500, NULL, 2, 2},
        {429, NULL, 0, 2},           /* a 4xx is the client's: an error on the client span only */
        {499, "client-closed", 0, 2},
        {400, "rejected", 2, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cc_record_t *r = simple(cases[i].status, cases[i].outcome);
        cJSON *root = export_of(&r, 1, &json);
        cJSON *spans = spans_of(root);
        CHECK_EQ_INT(status_code(cJSON_GetArrayItem(spans, 0)), cases[i].server_code);
        CHECK_EQ_INT(status_code(cJSON_GetArrayItem(spans, 1)), cases[i].client_code);
        if (cases[i].outcome)
            CHECK_EQ_STR(attr_s(cJSON_GetArrayItem(spans, 0), "ccproxy.outcome"),
                         cases[i].outcome);
        CHECK_EQ_STR(attr_s(cJSON_GetArrayItem(spans, 0), "gen_ai.system"), "gcp.gemini");
        cJSON_Delete(root);
        cc_record_release(r);
    }
    cc_buf_free(&json);
}

static void test_several_records(void) {
    cc_record_t *recs[3] = {sample(), simple(200, NULL), simple(200, NULL)};
    /* count_tokens: no chat operation, named after the endpoint; no usage, no cost */
    recs[2]->endpoint = (char *)"count_tokens";
    cc_buf_t json = CC_BUF_INIT;
    cJSON *root = export_of(recs, 3, &json);
    cJSON *spans = spans_of(root);
    CHECK_EQ_INT(cJSON_GetArraySize(spans), 3 + 2 + 2);
    cJSON *s0 = cJSON_GetArrayItem(spans, 0), *s3 = cJSON_GetArrayItem(spans, 3),
          *s5 = cJSON_GetArrayItem(spans, 5);
    CHECK(strcmp(str(s0, "traceId"), str(s3, "traceId")) != 0); /* a trace per request */
    CHECK(strcmp(str(s3, "traceId"), str(s5, "traceId")) != 0);
    CHECK_EQ_STR(str(cJSON_GetArrayItem(spans, 4), "parentSpanId"), str(s3, "spanId"));
    CHECK_EQ_STR(str(cJSON_GetArrayItem(spans, 6), "parentSpanId"), str(s5, "spanId"));
    CHECK_EQ_STR(str(s5, "name"), "count_tokens claude-sonnet-5-5");
    CHECK(attr(s5, "gen_ai.operation.name") == NULL);
    CHECK_EQ_STR(attr_s(s5, "url.path"), "/v1/messages/count_tokens");
    CHECK(attr(s3, "gen_ai.usage.input_tokens") == NULL);
    CHECK(attr(s3, "ccproxy.cost_usd") == NULL);
    CHECK(attr(s3, "session.id") == NULL);
    cJSON_Delete(root);
    cc_buf_free(&json);
    for (int i = 0; i < 3; i++) cc_record_release(recs[i]);
}

static void test_system_names(void) {
    CHECK_EQ_STR(cc__otel_system("anthropic"), "anthropic");
    CHECK_EQ_STR(cc__otel_system("openai"), "openai");
    CHECK_EQ_STR(cc__otel_system("gemini"), "gcp.gemini");
    CHECK_EQ_STR(cc__otel_system("vertex_ai"), "gcp.vertex_ai");
    CHECK_EQ_STR(cc__otel_system("bedrock"), "aws.bedrock");
    CHECK_EQ_STR(cc__otel_system("azure"), "azure.ai.openai");
    CHECK_EQ_STR(cc__otel_system("mistral"), "mistral_ai");
    CHECK_EQ_STR(cc__otel_system("deepseek"), "deepseek");
    CHECK_EQ_STR(cc__otel_system("openrouter"), "openrouter");
    CHECK(cc__otel_system(NULL) == NULL);
}

/* ---- a receiver on loopback --------------------------------------------------------------- */

#define RX_MAX 8

typedef struct {
    int fd;
    int port;
    pthread_t thread;
    int statuses[RX_MAX];  /* what to answer each request (0: 200 "{}") */
    const char *bodies[RX_MAX];
    atomic_int n;          /* requests received */
    char *requests[RX_MAX]; /* head + body of each, as received */
    atomic_bool stop;
} receiver_t;

static int listen_loopback(int *port, int backlog) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

/* Reads one request (head and Content-Length body) into a malloc'd string; NULL at EOF. */
static char *read_request(int c) {
    cc_buf_t b = CC_BUF_INIT;
    char tmp[4096];
    size_t need = 0;
    for (;;) {
        char *end = b.data ? strstr(b.data, "\r\n\r\n") : NULL;
        if (end && !need) {
            const char *cl = strcasestr(b.data, "\r\ncontent-length:");
            size_t body = cl ? strtoul(cl + 17, NULL, 10) : 0;
            need = (size_t)(end + 4 - b.data) + body;
        }
        if (need && b.len >= need) break;
        ssize_t n = recv(c, tmp, sizeof tmp, 0);
        if (n <= 0) {
            cc_buf_free(&b);
            return NULL;
        }
        cc_buf_append(&b, tmp, (size_t)n);
    }
    return cc_buf_steal(&b, NULL);
}

static void *receiver_main(void *arg) {
    receiver_t *rx = arg;
    while (!atomic_load(&rx->stop)) {
        int c = accept(rx->fd, NULL, NULL);
        if (c < 0) break;
        char *req;
        while ((req = read_request(c))) {
            int i = atomic_load(&rx->n);
            if (i >= RX_MAX) {
                free(req);
                break;
            }
            rx->requests[i] = req;
            int status = rx->statuses[i] ? rx->statuses[i] : 200;
            const char *body = rx->bodies[i] ? rx->bodies[i] : "{}";
            char resp[512];
            int len = snprintf(resp, sizeof resp,
                               "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                               "Content-Length: %zu\r\n\r\n%s",
                               status, strlen(body), body);
            atomic_store(&rx->n, i + 1);
            if (send(c, resp, (size_t)len, MSG_NOSIGNAL) < 0) break;
        }
        close(c);
    }
    return NULL;
}

static void receiver_start(receiver_t *rx) {
    rx->fd = listen_loopback(&rx->port, 16);
    CHECK(rx->fd >= 0);
    pthread_create(&rx->thread, NULL, receiver_main, rx);
}

static void receiver_stop(receiver_t *rx) {
    atomic_store(&rx->stop, true);
    shutdown(rx->fd, SHUT_RDWR); /* wakes accept */
    close(rx->fd);
    pthread_join(rx->thread, NULL);
    for (int i = 0; i < RX_MAX; i++) free(rx->requests[i]);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits up to 5 s for `cond`. */
#define WAIT_FOR(cond)                                                                     \
    do {                                                                                   \
        double until_ = now_s() + 5;                                                       \
        while (!(cond) && now_s() < until_) usleep(5000);                                  \
    } while (0)

static cc_otel_settings_t settings(const char *url) {
    static cc_header_kv_t headers[] = {{"Authorization", "Basic cGs6c2s="},
                                       {"x-tenant", "team a"}};
    cc_otel_settings_t s = {
        .traces_url = (char *)url,
        .headers = headers,
        .n_headers = 2,
        .service_name = "ccproxy-test",
        .timeout_ms = 2000,
        .schedule_ms = 60000,
        .max_queue = 2048,
        .max_batch = 512,
    };
    return s;
}

static cc_otel_stats_t stats(cc_record_sink_t *s) {
    cc_otel_stats_t st;
    cc_otel_sink_stats(s, &st);
    return st;
}

/* ---- the exporter ------------------------------------------------------------------------- */

static void test_queue_bound_and_drops(void) {
    /* A port nothing listens on: every export fails at once. */
    int port;
    int fd = listen_loopback(&port, 1);
    close(fd);
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", port);
    cc_otel_settings_t set = settings(url);
    set.max_queue = 10;
    set.max_batch = 10;
    char err[256] = "";
    cc_record_sink_t *s = cc_otel_sink_new(&set, err, sizeof err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    CHECK_EQ_STR(s->name, "otel");
    cc_record_t *r = sample(); /* 3 spans */
    for (int i = 0; i < 4; i++) s->take(s, r);
    cc_otel_stats_t st = stats(s);
    CHECK_EQ_INT(st.spans_queued, 9);
    CHECK_EQ_INT(st.spans_dropped, 3);
    CHECK_EQ_INT(st.spans_dropped_full, 3);
    CHECK_EQ_INT(st.exports, 0);
    /* One more span fills a batch: the export goes at once, and fails. */
    cc_record_t *one = simple(200, NULL);
    one->attempts = NULL;
    one->n_attempts = 0;
    s->take(s, one);
    WAIT_FOR(stats(s).exports_failed == 1);
    st = stats(s);
    CHECK_EQ_INT(st.exports_failed, 1);
    CHECK_EQ_INT(st.spans_dropped, 13);
    CHECK_EQ_INT(st.spans_dropped_full, 3);
    CHECK_EQ_INT(st.spans_queued, 0);
    CHECK_EQ_INT(st.spans_exported, 0);
    CHECK(st.last_error[0] != '\0');
    CHECK(strstr(st.last_error, "cGs6c2s=") == NULL);
    /* Room again. */
    s->take(s, r);
    CHECK_EQ_INT(stats(s).spans_queued, 3);
    double t0 = now_s();
    s->stop(s); /* the last 3 spans fail too, quickly */
    CHECK(now_s() - t0 < 2.5);
    cc_record_release(r);
    cc_record_release(one);
}

static void test_exports_to_a_receiver(void) {
    receiver_t rx = {0};
    rx.statuses[1] = 200;
    rx.bodies[1] = "{\"partialSuccess\":{\"rejectedSpans\":\"2\",\"errorMessage\":\"x\"}}";
    rx.statuses[2] = 503;
    receiver_start(&rx);
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/custom/v1/traces?tenant=a", rx.port);
    cc_otel_settings_t set = settings(url);
    set.schedule_ms = 30;
    char err[256] = "";
    cc_record_sink_t *s = cc_otel_sink_new(&set, err, sizeof err);
    CHECK(s != NULL);
    if (!s) {
        receiver_stop(&rx);
        return;
    }
    cc_record_t *r = sample();
    s->take(s, r);
    WAIT_FOR(stats(s).exports == 1);
    CHECK_EQ_INT(atomic_load(&rx.n), 1);
    CHECK_EQ_INT(stats(s).spans_exported, 3);
    const char *req = rx.requests[0];
    CHECK(req && strncmp(req, "POST /custom/v1/traces?tenant=a HTTP/1.1\r\n", 42) == 0);
    CHECK(req && strcasestr(req, "\r\nContent-Type: application/json\r\n"));
    CHECK(req && strcasestr(req, "\r\nAuthorization: Basic cGs6c2s=\r\n"));
    CHECK(req && strcasestr(req, "\r\nx-tenant: team a\r\n"));
    CHECK(req && strcasestr(req, "\r\nUser-Agent: ccproxy/"));
    const char *body = req ? strstr(req, "\r\n\r\n") : NULL;
    cJSON *root = body ? cJSON_Parse(body + 4) : NULL;
    CHECK(root != NULL);
    CHECK_EQ_INT(cJSON_GetArraySize(spans_of(root)), 3);
    cJSON *res = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root,
                                                                            "resourceSpans"), 0),
                                     "resource");
    CHECK_EQ_STR(attr_s(res, "service.name"), "ccproxy-test");
    cJSON_Delete(root);

    /* A partial success: the rejected spans are dropped. */
    s->take(s, r);
    WAIT_FOR(stats(s).exports == 2);
    cc_otel_stats_t st = stats(s);
    CHECK_EQ_INT(st.spans_exported, 4);
    CHECK_EQ_INT(st.spans_dropped, 2);
    CHECK(strstr(st.last_error, "rejected 2 spans") != NULL);
    /* An error status: the batch is dropped. */
    s->take(s, r);
    WAIT_FOR(stats(s).exports_failed == 1);
    st = stats(s);
    CHECK_EQ_INT(st.exports_failed, 1);
    CHECK_EQ_INT(st.spans_dropped, 5);
    CHECK(strstr(st.last_error, "HTTP 503") != NULL);
    /* The stop sends what is queued, although the schedule has not come. */
    cc_otel_settings_t slow = set;
    s->stop(s);
    slow.schedule_ms = 600000;
    s = cc_otel_sink_new(&slow, err, sizeof err);
    CHECK(s != NULL);
    if (s) {
        s->take(s, r);
        s->take(s, r);
        s->stop(s);
    }
    CHECK_EQ_INT(atomic_load(&rx.n), 4);
    root = rx.requests[3] ? cJSON_Parse(strstr(rx.requests[3], "\r\n\r\n") + 4) : NULL;
    CHECK_EQ_INT(cJSON_GetArraySize(spans_of(root)), 6);
    cJSON_Delete(root);
    receiver_stop(&rx);
    cc_record_release(r);
}

static void test_collector_that_never_answers(void) {
    /* A listener that never accepts: connections complete in the kernel, nothing answers. */
    int port;
    int fd = listen_loopback(&port, 64);
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", port);
    cc_otel_settings_t set = settings(url);
    set.timeout_ms = 200;
    set.schedule_ms = 20;
    char err[256] = "";
    cc_record_sink_t *s = cc_otel_sink_new(&set, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    cc_record_t *r = sample();
    double t0 = now_s();
    for (int i = 0; i < 1000; i++) s->take(s, r); /* takes never wait for the collector */
    CHECK(now_s() - t0 < 1.0);
    WAIT_FOR(stats(s).exports_failed >= 1);
    cc_otel_stats_t st = stats(s);
    CHECK(st.exports_failed >= 1);
    CHECK(strstr(st.last_error, "within 200 ms") != NULL || strstr(st.last_error, "200 ms"));
    CHECK(st.spans_dropped_full > 0); /* 3000 spans against a queue of 2048 */
    t0 = now_s();
    s->stop(s);
    CHECK(now_s() - t0 < 1.5); /* at most the export timeout per batch still tried */
    close(fd);
    cc_record_release(r);
}

static void test_bad_urls(void) {
    char err[256] = "";
    cc_otel_settings_t set = settings(NULL);
    CHECK(cc_otel_sink_new(&set, err, sizeof err) == NULL);
    set.traces_url = "ftp://x/v1/traces";
    CHECK(cc_otel_sink_new(&set, err, sizeof err) == NULL);
    CHECK(strstr(err, "not an http") != NULL);
}

int main(void) {
    CC_RUN(test_spans_of_a_record);
    CC_RUN(test_attempt_times);
    CC_RUN(test_error_statuses);
    CC_RUN(test_several_records);
    CC_RUN(test_system_names);
    CC_RUN(test_queue_bound_and_drops);
    CC_RUN(test_exports_to_a_receiver);
    CC_RUN(test_collector_that_never_answers);
    CC_RUN(test_bad_urls);
    fprintf(stderr, "%d checks, %d failed\n", cc_check_count, cc_check_failures);
    return cc_check_failures ? 1 : 0;
}
