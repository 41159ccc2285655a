/* test_recent.c: the dashboard's memory (record/recent.h): the last requests are bounded and
 * newest first, the totals per day (local date), per model (sent model, else deployment) and
 * overall add up, the bounds on days and models hold, long strings are cut on a character
 * boundary, the JSON shape, the sink's life as a record sink, and takes from many threads at
 * once against snapshots taken meanwhile. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "record/recent.h"
#include "record/records.h"

#define DAY_MS 86400000ull
/* 2026-03-01T12:00:00Z */
#define T0 1772366400000ull

static bool near(double a, double b) {
    return fabs(a - b) < 1e-12;
}

/* A record of a request with usage (in, out) and, when cost >= 0, that cost. */
static cc_record_attempt_t one_attempt = {(char *)"dep", (char *)"anthropic/*", 200, NULL, 10};

static cc_record_t rec(const char *id, uint64_t t, const char *sent, int status, unsigned in,
                       unsigned out, double cost) {
    cc_record_t r = {.attempts = &one_attempt, .time_ms = t, .id = (char *)id, .endpoint = "messages", .label = "default",
                     .requested_model = "claude-x", .sent_model = (char *)sent,
                     .deployment = "dep", .provider = "anthropic", .n_attempts = 1,
                     .status = status, .ttfb_ms = 10, .total_ms = 20};
    if (in || out) r.usage = (cc_usage_t){.seen = true, .input = in, .output = out};
    if (cost >= 0) {
        r.cost_known = true;
        r.cost_usd = cost;
    }
    return r;
}

static void test_requests_bounded_newest_first(void) {
    cc_recent_t *m = cc_recent_new(5, 0, 0);
    CHECK(m != NULL);
    char ids[12][8];
    for (int i = 0; i < 12; i++) {
        snprintf(ids[i], sizeof ids[i], "r%d", i + 1);
        cc_record_t r = rec(ids[i], T0 + (uint64_t)i, "claude-a", 200, 1, 1, 0.5);
        cc_recent_take(m, &r);
    }
    cc_recent_snapshot_t *s = cc_recent_snapshot(m);
    CHECK_EQ_INT(s->n_requests, 5);
    CHECK_EQ_INT(s->max_requests, 5);
    const char *want[] = {"r12", "r11", "r10", "r9", "r8"};
    for (int i = 0; i < 5; i++) CHECK_EQ_STR(s->requests[i].id, want[i]);
    CHECK_EQ_INT(s->all.requests, 12); /* the totals count every request, not only those kept */
    CHECK(near(s->all.cost_usd, 6.0));
    cc_recent_snapshot_free(s);

    /* Fewer than the bound: all of them, newest first. */
    cc_recent_t *m2 = cc_recent_new(5, 0, 0);
    for (int i = 0; i < 3; i++) {
        cc_record_t r = rec(ids[i], T0, "claude-a", 200, 1, 1, 0);
        cc_recent_take(m2, &r);
    }
    s = cc_recent_snapshot(m2);
    CHECK_EQ_INT(s->n_requests, 3);
    CHECK_EQ_STR(s->requests[0].id, "r3");
    CHECK_EQ_STR(s->requests[2].id, "r1");
    cc_recent_snapshot_free(s);
    cc_recent_free(m2);
    cc_recent_free(m);
}

static void test_totals(void) {
    cc_recent_t *m = cc_recent_new(0, 0, 0);
    cc_record_t a = rec("r1", T0, "claude-a", 200, 100, 20, 0.25);
    a.usage.cache_read = 1000;
    a.usage.cache_creation = 50;
    cc_record_t b = rec("r2", T0 + 1, "claude-a", 200, 10, 5, -1); /* tokens, unknown cost */
    cc_record_t c = rec("r3", T0 + 2, "claude-b", 529, 0, 0, -1);  /* an error, no usage */
    cc_record_t d = rec("r4", T0 + 3, NULL, 200, 0, 0, -1);         /* no sent model */
    d.deployment = "count-dep";
    d.endpoint = "count_tokens";
    cc_record_t e = rec("r5", T0 + 4, "claude-b", 499, 3, 1, 0.01);
    e.outcome = "client-closed";
    cc_record_t f = rec("r6", T0 + 5, NULL, 404, 0, 0, -1); /* routed nowhere */
    f.deployment = NULL;
    f.outcome = "rejected";
    cc_record_t g = rec("r7", T0 + 6, "claude-b", 200, 0, 0, 0.75);
    g.cost_known = true; /* a cost without usage is not a cost: nothing was reported */
    cc_record_t *all[] = {&a, &b, &c, &d, &e, &f, &g};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) cc_recent_take(m, all[i]);
    cc_recent_snapshot_t *s = cc_recent_snapshot(m);
    CHECK_EQ_INT(s->all.requests, 7);
    CHECK_EQ_INT(s->all.errors, 3); /* 529, 499 client-closed, 404 rejected */
    CHECK_EQ_INT(s->all.input, 113);
    CHECK_EQ_INT(s->all.output, 26);
    CHECK_EQ_INT(s->all.cache_read, 1000);
    CHECK_EQ_INT(s->all.cache_creation, 50);
    CHECK(near(s->all.cost_usd, 0.26));
    CHECK_EQ_INT(s->all.cost_unknown, 1);

    CHECK_EQ_INT(s->n_models, 4);
    CHECK_EQ_STR(s->models[0].model, "claude-a");
    CHECK_EQ_INT(s->models[0].t.requests, 2);
    CHECK_EQ_INT(s->models[0].t.input, 110);
    CHECK(near(s->models[0].t.cost_usd, 0.25));
    CHECK_EQ_INT(s->models[0].t.cost_unknown, 1);
    CHECK_EQ_STR(s->models[1].model, "claude-b");
    CHECK_EQ_INT(s->models[1].t.requests, 3);
    CHECK_EQ_INT(s->models[1].t.errors, 2);
    CHECK(near(s->models[1].t.cost_usd, 0.01));
    CHECK_EQ_STR(s->models[2].model, "count-dep"); /* the deployment when nothing was sent */
    CHECK_EQ_STR(s->models[3].model, CC_RECENT_NONE);
    CHECK_EQ_INT(s->models[3].t.errors, 1);

    /* The entries keep what the table shows. */
    CHECK_EQ_STR(s->requests[0].id, "r7");
    CHECK(!s->requests[0].cost_known);
    CHECK_EQ_STR(s->requests[1].outcome, "rejected");
    CHECK_EQ_STR(s->requests[1].deployment, "");
    CHECK_EQ_STR(s->requests[3].endpoint, "count_tokens");
    CHECK(s->requests[6].usage.seen);
    CHECK_EQ_INT(s->requests[6].usage.cache_read, 1000);
    CHECK(s->requests[6].cost_known && near(s->requests[6].cost_usd, 0.25));
    CHECK_EQ_INT(s->requests[6].attempts, 1);
    cc_recent_snapshot_free(s);
    cc_recent_free(m);
}

static void test_days(void) {
    cc_recent_t *m = cc_recent_new(0, 3, 0);
    /* Local dates: with TZ=UTC (set in main), T0 is 2026-03-01. */
    uint64_t when[] = {T0, T0 + DAY_MS, T0 + 100, T0 + 3 * DAY_MS, T0 + 2 * DAY_MS};
    for (size_t i = 0; i < 5; i++) {
        cc_record_t r = rec("r", when[i], "claude-a", 200, 1, 0, 0.5);
        cc_recent_take(m, &r);
    }
    cc_recent_snapshot_t *s = cc_recent_snapshot(m);
    /* Four dates with room for three: the oldest went, the others stay in date order (the
     * 3rd arrived after the 4th and was put before it). */
    CHECK_EQ_INT(s->n_days, 3);
    CHECK_EQ_STR(s->days[0].date, "2026-03-02");
    CHECK_EQ_STR(s->days[1].date, "2026-03-03");
    CHECK_EQ_STR(s->days[2].date, "2026-03-04");
    CHECK_EQ_INT(s->days_dropped, 1);
    CHECK_EQ_INT(s->days[0].t.requests, 1);
    CHECK(near(s->days[2].t.cost_usd, 0.5));
    CHECK_EQ_INT(s->all.requests, 5);
    cc_recent_snapshot_free(s);
    /* A request dated before every day kept, with no room: only the overall totals count it. */
    cc_record_t old = rec("old", T0 - DAY_MS, "claude-a", 200, 1, 0, 0.5);
    cc_recent_take(m, &old);
    s = cc_recent_snapshot(m);
    CHECK_EQ_INT(s->n_days, 3);
    CHECK_EQ_STR(s->days[0].date, "2026-03-02");
    CHECK_EQ_INT(s->all.requests, 6);
    cc_recent_snapshot_free(s);
    cc_recent_free(m);

    /* Another time zone moves the date: 2026-03-01T23:30Z is already the 2nd in Tokyo. */
    setenv("TZ", "Asia/Tokyo", 1);
    tzset();
    m = cc_recent_new(0, 0, 0);
    cc_record_t late = rec("r", T0 + 11 * 3600000ull + 1800000ull, "claude-a", 200, 1, 0, 0);
    cc_recent_take(m, &late);
    s = cc_recent_snapshot(m);
    CHECK_EQ_INT(s->n_days, 1);
    /* Asia/Tokyo may be missing (no tzdata): then the date is UTC's. */
    CHECK(strcmp(s->days[0].date, "2026-03-02") == 0 || strcmp(s->days[0].date, "2026-03-01") == 0);
    cc_recent_snapshot_free(s);
    cc_recent_free(m);
    setenv("TZ", "UTC", 1);
    tzset();
}

static void test_models_bounded(void) {
    cc_recent_t *m = cc_recent_new(0, 0, 3);
    const char *names[] = {"m1", "m2", "m3", "m4", "m1", "m5"};
    for (size_t i = 0; i < 6; i++) {
        cc_record_t r = rec("r", T0, names[i], 200, 10, 1, 0.1);
        cc_recent_take(m, &r);
    }
    cc_recent_snapshot_t *s = cc_recent_snapshot(m);
    CHECK_EQ_INT(s->n_models, 3);
    CHECK_EQ_STR(s->models[0].model, "m1");
    CHECK_EQ_INT(s->models[0].t.requests, 2);
    CHECK_EQ_STR(s->models[1].model, "m2");
    CHECK_EQ_STR(s->models[2].model, CC_RECENT_OTHER); /* m3, m4, m5 */
    CHECK_EQ_INT(s->models[2].t.requests, 3);
    CHECK_EQ_INT(s->models[2].t.input, 30);
    CHECK(near(s->models[2].t.cost_usd, 0.3));
    cc_recent_snapshot_free(s);
    cc_recent_free(m);
}

static void test_long_strings_cut_on_characters(void) {
    cc_recent_t *m = cc_recent_new(0, 0, 0);
    /* 94 ASCII bytes, then "é" (2 bytes): the field holds 95 bytes, so "é" does not fit. */
    char model[200];
    memset(model, 'a', 94);
    strcpy(model + 94, "\xc3\xa9tail");
    char id[64];
    memset(id, 'x', 40);
    id[40] = '\0';
    cc_record_t r = rec(id, T0, model, 200, 1, 1, 0);
    cc_recent_take(m, &r);
    cc_recent_snapshot_t *s = cc_recent_snapshot(m);
    CHECK_EQ_INT(strlen(s->requests[0].sent_model), 94);
    CHECK_EQ_INT(strlen(s->models[0].model), 94);
    CHECK_EQ_INT(strlen(s->requests[0].id), sizeof s->requests[0].id - 1);
    cc_recent_snapshot_free(s);
    cc_recent_free(m);
}

static void test_json(void) {
    cc_recent_t *m = cc_recent_new(0, 0, 0);
    cc_record_t a = rec("r1", T0, "claude-a", 200, 12, 7, 0.000164);
    a.usage.cache_read = 40;
    a.usage.cache_creation = 3;
    a.stream = true;
    cc_record_t b = rec("r2", T0 + 5, NULL, 529, 0, 0, -1);
    b.ttfb_ms = -1;
    b.outcome = "upstream-failed";
    b.n_attempts = 3;
    cc_recent_take(m, &a);
    cc_recent_take(m, &b);
    cc_recent_snapshot_t *s = cc_recent_snapshot(m);
    cJSON *o = cJSON_CreateObject();
    cc_recent_add_json(s, o);
    cc_recent_snapshot_free(s);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    o = cJSON_Parse(text);
    free(text);
    CHECK(o != NULL);
    cJSON *tot = cJSON_GetObjectItem(o, "totals");
    CHECK_EQ_INT(cJSON_GetObjectItem(tot, "requests")->valueint, 2);
    CHECK_EQ_INT(cJSON_GetObjectItem(tot, "errors")->valueint, 1);
    cJSON *tok = cJSON_GetObjectItem(tot, "tokens");
    CHECK_EQ_INT(cJSON_GetObjectItem(tok, "cache_read")->valueint, 40);
    CHECK(near(cJSON_GetObjectItem(tot, "cost_usd")->valuedouble, 0.000164));
    CHECK_EQ_INT(cJSON_GetObjectItem(tot, "cost_unknown")->valueint, 0);
    cJSON *days = cJSON_GetObjectItem(o, "days");
    CHECK_EQ_INT(cJSON_GetArraySize(days), 1);
    CHECK_EQ_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(days, 0), "date")->valuestring,
                 "2026-03-01");
    cJSON *models = cJSON_GetObjectItem(o, "models");
    CHECK_EQ_INT(cJSON_GetArraySize(models), 2);
    CHECK_EQ_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(models, 1), "model")->valuestring, "dep");
    cJSON *reqs = cJSON_GetObjectItem(o, "requests");
    CHECK_EQ_INT(cJSON_GetArraySize(reqs), 2);
    cJSON *r2 = cJSON_GetArrayItem(reqs, 0), *r1 = cJSON_GetArrayItem(reqs, 1);
    CHECK_EQ_STR(cJSON_GetObjectItem(r2, "id")->valuestring, "r2");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(r2, "usage")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(r2, "cost_usd")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(r2, "ttfb_ms")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(r2, "sent_model")));
    CHECK_EQ_STR(cJSON_GetObjectItem(r2, "outcome")->valuestring, "upstream-failed");
    CHECK_EQ_INT(cJSON_GetObjectItem(r2, "attempts")->valueint, 3);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(r1, "outcome")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(r1, "stream")));
    cJSON *u1 = cJSON_GetObjectItem(r1, "usage");
    CHECK_EQ_INT(cJSON_GetObjectItem(u1, "cache_creation")->valueint, 3);
    CHECK_EQ_INT((long long)cJSON_GetObjectItem(r1, "time_ms")->valuedouble, (long long)T0);
    CHECK_EQ_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "limits"), "requests")->valueint,
                 CC_RECENT_REQUESTS);
    /* No client, no headers: nothing of who asked is kept. */
    CHECK(cJSON_GetObjectItem(r1, "client") == NULL);
    cJSON_Delete(o);
    cc_recent_free(m);
}

static void test_process_sink(void) {
    CHECK(cc_recent_process() == NULL);
    CHECK_EQ_INT(cc_recent_start(), 0);
    cc_recent_t *m = cc_recent_process();
    CHECK(m != NULL);
    CHECK(cc_records_wanted());
    cc_record_t r = rec("r1", T0, "claude-a", 200, 5, 5, 0.5);
    cc_records_emit(&r);
    cc_records_emit(&r);
    cc_recent_snapshot_t *s = cc_recent_snapshot(m);
    CHECK_EQ_INT(s->all.requests, 2);
    cc_recent_snapshot_free(s);
    cc_records_stop(); /* frees it, and it is no longer the process's */
    CHECK(cc_recent_process() == NULL);
    CHECK(cc_recent_snapshot(cc_recent_process()) == NULL);
}

/* Many writers and a reader at once: every snapshot is consistent (the models', the days' and
 * the overall totals agree), and in the end nothing was lost. */
#define WRITERS 6
#define TAKES 4000

typedef struct {
    cc_recent_t *m;
    int index;
} writer_arg_t;

static void *writer(void *p) {
    writer_arg_t *a = p;
    char id[32], model[32];
    snprintf(model, sizeof model, "model-%d", a->index % 3);
    for (int i = 0; i < TAKES; i++) {
        snprintf(id, sizeof id, "w%d-%d", a->index, i);
        cc_record_t r = rec(id, T0 + (uint64_t)(i % 2) * DAY_MS, model, i % 10 == 0 ? 500 : 200,
                            2, 3, i % 4 == 0 ? -1 : 0.25);
        cc_recent_take(a->m, &r);
    }
    return NULL;
}

static atomic_int readers_stop;
static atomic_int inconsistent, snapshots;

static void *reader(void *p) {
    cc_recent_t *m = p;
    while (!atomic_load(&readers_stop)) {
        cc_recent_snapshot_t *s = cc_recent_snapshot(m);
        unsigned long long by_model = 0, by_day = 0, in = 0;
        for (size_t i = 0; i < s->n_models; i++) {
            by_model += s->models[i].t.requests;
            in += s->models[i].t.input;
        }
        for (size_t i = 0; i < s->n_days; i++) by_day += s->days[i].t.requests;
        if (by_model != s->all.requests || by_day != s->all.requests || in != s->all.input ||
            s->n_requests > s->max_requests ||
            (s->all.requests >= s->max_requests && s->n_requests != s->max_requests))
            atomic_fetch_add(&inconsistent, 1);
        for (size_t i = 0; i < s->n_requests; i++)
            if (s->requests[i].id[0] != 'w') atomic_fetch_add(&inconsistent, 1);
        atomic_fetch_add(&snapshots, 1);
        cc_recent_snapshot_free(s);
    }
    return NULL;
}

static void test_concurrency(void) {
    cc_recent_t *m = cc_recent_new(0, 0, 0);
    pthread_t w[WRITERS], rd;
    writer_arg_t args[WRITERS];
    atomic_store(&readers_stop, 0);
    pthread_create(&rd, NULL, reader, m);
    for (int i = 0; i < WRITERS; i++) {
        args[i] = (writer_arg_t){m, i};
        pthread_create(&w[i], NULL, writer, &args[i]);
    }
    for (int i = 0; i < WRITERS; i++) pthread_join(w[i], NULL);
    atomic_store(&readers_stop, 1);
    pthread_join(rd, NULL);
    CHECK_EQ_INT(atomic_load(&inconsistent), 0);
    CHECK(atomic_load(&snapshots) > 0);
    cc_recent_snapshot_t *s = cc_recent_snapshot(m);
    const unsigned long long n = (unsigned long long)WRITERS * TAKES;
    CHECK_EQ_INT(s->all.requests, n);
    CHECK_EQ_INT(s->all.errors, n / 10);
    CHECK_EQ_INT(s->all.input, 2 * n);
    CHECK_EQ_INT(s->all.output, 3 * n);
    CHECK_EQ_INT(s->all.cost_unknown, n / 4);
    CHECK(near(s->all.cost_usd, 0.25 * (double)(n - n / 4)));
    CHECK_EQ_INT(s->n_requests, CC_RECENT_REQUESTS);
    CHECK_EQ_INT(s->n_models, 3);
    for (size_t i = 0; i < s->n_models; i++) CHECK_EQ_INT(s->models[i].t.requests, n / 3);
    CHECK_EQ_INT(s->n_days, 2);
    CHECK_EQ_INT(s->days[0].t.requests, n / 2);
    cc_recent_snapshot_free(s);
    cc_recent_free(m);
}

int main(void) {
    setenv("TZ", "UTC", 1);
    tzset();
    CC_RUN(test_requests_bounded_newest_first);
    CC_RUN(test_totals);
    CC_RUN(test_days);
    CC_RUN(test_models_bounded);
    CC_RUN(test_long_strings_cut_on_characters);
    CC_RUN(test_json);
    CC_RUN(test_process_sink);
    CC_RUN(test_concurrency);
    fprintf(stderr, "%d checks, %d failed\n", cc_check_count, cc_check_failures);
    return cc_check_failures ? 1 : 0;
}
