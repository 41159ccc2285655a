/* test_sessions.c: the per-session totals (record/sessions.c): requests, errors, tokens and
 * cost add up per session; records without a session or of count_tokens are left out; the
 * models that answered with their counts, labels and context; a subagent does not replace the
 * main conversation's context; unknown costs; the bound (least recently used, reads count as
 * use); long ids and strings; the context window from model_info and the JSON; and eight
 * threads taking records while others read. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config/config.h"
#include "record/records.h"
#include "record/sessions.h"

/* A finished POST /v1/messages of session `sid`, answered by `dep` with `model`. */
static cc_record_t rec(const char *sid, const char *dep, const char *model, unsigned long long in,
                       unsigned long long out, unsigned long long cw, unsigned long long cr) {
    cc_record_t r;
    memset(&r, 0, sizeof r);
    r.time_ms = 1700000000000ull;
    r.session_id = (char *)sid;
    r.endpoint = (char *)"messages";
    r.label = (char *)"default";
    r.requested_model = (char *)"claude-sonnet-5-5";
    r.sent_model = (char *)model;
    r.deployment = (char *)dep;
    r.status = 200;
    r.usage.seen = true;
    r.usage.input = in;
    r.usage.output = out;
    r.usage.cache_creation = cw;
    r.usage.cache_read = cr;
    r.cost_known = true;
    r.cost_usd = 0.25;
    r.ttfb_ms = 10;
    return r;
}

static void test_totals(void) {
    cc_sessions_t *s = cc_sessions_new(10);
    cc_record_t a = rec("s1", "sonnet-pool", "claude-sonnet-5-5", 10, 5, 100, 1000);
    cc_sessions_take(s, &a);
    a.time_ms += 1000;
    a.usage.input = 20;
    a.usage.cache_read = 2000;
    a.label = (char *)"long_context";
    cc_sessions_take(s, &a);
    cc_record_t b = rec("s1", "background", "claude-haiku-5-5", 3, 1, 0, 0);
    b.time_ms = a.time_ms + 500;
    b.requested_model = (char *)"claude-haiku-5-5";
    b.label = (char *)"background";
    b.cost_usd = 0.01;
    cc_sessions_take(s, &b);
    /* An error answer from the upstream: counted, no tokens. */
    cc_record_attempt_t overloaded = {(char *)"sonnet-pool", (char *)"claude-sonnet-5-5", 529,
                                      NULL, 3};
    cc_record_t e = rec("s1", "sonnet-pool", "claude-sonnet-5-5", 0, 0, 0, 0);
    e.attempts = &overloaded;
    e.n_attempts = 1;
    e.usage.seen = false;
    e.status = 529;
    e.cost_usd = 0;
    e.time_ms = b.time_ms + 10;
    cc_sessions_take(s, &e);
    /* Left out: another session, no session, count_tokens. */
    cc_record_t other = rec("s2", "sonnet-pool", "claude-sonnet-5-5", 1, 1, 1, 1);
    cc_sessions_take(s, &other);
    cc_record_t none = rec(NULL, "sonnet-pool", "claude-sonnet-5-5", 1, 1, 1, 1);
    cc_sessions_take(s, &none);
    cc_record_t ct = rec("s1", "sonnet-pool", "claude-sonnet-5-5", 1, 0, 0, 0);
    ct.endpoint = (char *)"count_tokens";
    cc_sessions_take(s, &ct);
    CHECK_EQ_INT(cc_sessions_count(s), 2);

    cc_session_t ss;
    CHECK_EQ_INT(cc_sessions_get(s, "s1", &ss), 0);
    CHECK_EQ_STR(ss.id, "s1");
    CHECK_EQ_INT(ss.requests, 4);
    CHECK_EQ_INT(ss.errors, 1);
    CHECK_EQ_INT(ss.input, 33);
    CHECK_EQ_INT(ss.output, 11);
    CHECK_EQ_INT(ss.cache_creation, 200);
    CHECK_EQ_INT(ss.cache_read, 3000);
    CHECK(ss.cost_usd > 0.5099 && ss.cost_usd < 0.5101);
    CHECK_EQ_INT(ss.priced, 4);
    CHECK(!ss.cost_unknown);
    CHECK_EQ_INT(ss.first_ms, 1700000000000ull);
    CHECK_EQ_INT(ss.last_ms, e.time_ms);
    CHECK_EQ_STR(ss.label, "default"); /* the last request's */
    /* The context in use: the last request that reported usage (the haiku one). */
    CHECK(ss.context_seen);
    CHECK_EQ_INT(ss.context_tokens, 3);
    CHECK_EQ_INT(ss.n_models, 2);
    CHECK_EQ_INT(ss.last_model, 0);
    CHECK_EQ_STR(ss.models[0].deployment, "sonnet-pool");
    CHECK_EQ_STR(ss.models[0].model, "claude-sonnet-5-5");
    CHECK_EQ_INT(ss.models[0].requests, 3);
    CHECK_EQ_INT(ss.models[0].errors, 1);
    CHECK_EQ_STR(ss.models[0].label, "default");
    CHECK(ss.models[0].context_seen);
    CHECK_EQ_INT(ss.models[0].context_tokens, 20 + 100 + 2000);
    CHECK_EQ_STR(ss.models[1].deployment, "background");
    CHECK_EQ_STR(ss.models[1].requested_model, "claude-haiku-5-5");
    CHECK_EQ_INT(ss.models[1].requests, 1);
    CHECK_EQ_INT(ss.models[1].context_tokens, 3);
    cc_session_clear(&ss);

    CHECK_EQ_INT(cc_sessions_get(s, "nope", &ss), -1);
    CHECK_EQ_INT(cc_sessions_get(s, "", &ss), -1);
    cc_sessions_free(s);
}

/* A subagent's requests count, but the main conversation's context stays. */
static void test_subagent_context(void) {
    cc_sessions_t *s = cc_sessions_new(4);
    cc_record_t sub = rec("s", "pool", "m", 500, 1, 0, 0);
    sub.agent_id = (char *)"agent-1";
    cc_sessions_take(s, &sub); /* the first: taken, nothing better is known */
    cc_record_t main = rec("s", "pool", "m", 40000, 10, 0, 5000);
    cc_sessions_take(s, &main);
    cc_sessions_take(s, &sub);
    cc_session_t ss;
    CHECK_EQ_INT(cc_sessions_get(s, "s", &ss), 0);
    CHECK_EQ_INT(ss.requests, 3);
    CHECK_EQ_INT(ss.models[0].context_tokens, 45000);
    CHECK_EQ_INT(ss.context_tokens, 500); /* the session's own: the last request's */
    cc_session_clear(&ss);
    cc_sessions_free(s);
}

/* A deployment that gave no answer (unreachable) is not among the models that answered;
 * one that answered with an error is. */
static void test_answered(void) {
    cc_sessions_t *s = cc_sessions_new(4);
    cc_record_t ok = rec("s", "pool", "m", 1, 1, 0, 0);
    cc_sessions_take(s, &ok);
    cc_record_attempt_t none = {(char *)"down", (char *)"m", 0, (char *)"unreachable", 5};
    cc_record_t down = rec("s", "down", "m", 0, 0, 0, 0);
    down.usage.seen = false;
    down.cost_known = false;
    down.status = 529;
    down.attempts = &none;
    down.n_attempts = 1;
    cc_sessions_take(s, &down);
    cc_record_attempt_t said = {(char *)"busy", (char *)"m", 429, NULL, 5};
    cc_record_t busy = down;
    busy.deployment = (char *)"busy";
    busy.status = 429;
    busy.attempts = &said;
    cc_sessions_take(s, &busy);
    cc_session_t ss;
    CHECK_EQ_INT(cc_sessions_get(s, "s", &ss), 0);
    CHECK_EQ_INT(ss.requests, 3);
    CHECK_EQ_INT(ss.errors, 2);
    CHECK(!ss.cost_unknown);
    CHECK_EQ_INT(ss.n_models, 2);
    CHECK_EQ_STR(ss.models[0].deployment, "pool");
    CHECK_EQ_STR(ss.models[1].deployment, "busy");
    CHECK_EQ_INT(ss.models[1].errors, 1);
    CHECK_EQ_INT(ss.last_model, 1);
    cc_session_clear(&ss);
    /* The client left before an answer: the last one that answered stays the last. */
    cc_record_t gone = rec("s", "pool", "m", 0, 0, 0, 0);
    gone.usage.seen = false;
    gone.cost_known = false;
    gone.status = 499;
    gone.outcome = (char *)"client-closed";
    cc_sessions_take(s, &gone);
    CHECK_EQ_INT(cc_sessions_get(s, "s", &ss), 0);
    CHECK_EQ_INT(ss.last_model, 1);
    CHECK_EQ_INT(ss.errors, 3);
    cc_session_clear(&ss);
    cc_sessions_free(s);
}

static void test_unknown_cost(void) {
    cc_sessions_t *s = cc_sessions_new(4);
    cc_record_t a = rec("s", "d", "m", 10, 10, 0, 0);
    cc_sessions_take(s, &a);
    cc_session_t ss;
    /* An error answer with no usage and no price used nothing: still all known. */
    cc_record_t e = rec("s", "d", "m", 0, 0, 0, 0);
    e.usage.seen = false;
    e.status = 500;
    e.cost_known = false;
    cc_sessions_take(s, &e);
    CHECK_EQ_INT(cc_sessions_get(s, "s", &ss), 0);
    CHECK(!ss.cost_unknown);
    CHECK_EQ_INT(ss.priced, 1);
    cc_session_clear(&ss);
    /* Tokens without a price. */
    cc_record_t u = rec("s", "d", "unpriced-model", 10, 10, 0, 0);
    u.cost_known = false;
    u.cost_usd = 99;
    cc_sessions_take(s, &u);
    CHECK_EQ_INT(cc_sessions_get(s, "s", &ss), 0);
    CHECK(ss.cost_unknown);
    CHECK(ss.cost_usd > 0.2499 && ss.cost_usd < 0.2501); /* only the known ones */
    CHECK_EQ_INT(ss.priced, 1);
    cc_session_clear(&ss);
    /* A complete answer whose usage was not read (compressed) used tokens, price unknown. */
    cc_record_t z = rec("t", "d", "m", 0, 0, 0, 0);
    z.usage.seen = false;
    z.cost_known = false;
    cc_sessions_take(s, &z);
    CHECK_EQ_INT(cc_sessions_get(s, "t", &ss), 0);
    CHECK(ss.cost_unknown);
    CHECK(!ss.context_seen);
    CHECK_EQ_INT(ss.priced, 0);
    cc_session_clear(&ss);
    cc_sessions_free(s);
}

static void test_lru(void) {
    cc_sessions_t *s = cc_sessions_new(3);
    char id[32];
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof id, "s%d", i);
        cc_record_t r = rec(id, "d", "m", 1, 1, 0, 0);
        cc_sessions_take(s, &r);
    }
    CHECK_EQ_INT(cc_sessions_count(s), 3);
    /* s0 is used again (taken), s1 read: s2 is now the least recently used. */
    cc_record_t r0 = rec("s0", "d", "m", 1, 1, 0, 0);
    cc_sessions_take(s, &r0);
    cc_session_t ss;
    CHECK_EQ_INT(cc_sessions_get(s, "s1", &ss), 0);
    cc_session_clear(&ss);
    cc_record_t r3 = rec("s3", "d", "m", 1, 1, 0, 0);
    cc_sessions_take(s, &r3);
    CHECK_EQ_INT(cc_sessions_count(s), 3);
    CHECK_EQ_INT(cc_sessions_get(s, "s2", &ss), -1);
    CHECK_EQ_INT(cc_sessions_get(s, "s0", &ss), 0);
    CHECK_EQ_INT(ss.requests, 2);
    cc_session_clear(&ss);
    CHECK_EQ_INT(cc_sessions_get(s, "s3", &ss), 0);
    cc_session_clear(&ss);
    /* Many more: never above the bound. */
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "many-%d", i);
        cc_record_t r = rec(id, "d", "m", 1, 1, 0, 0);
        cc_sessions_take(s, &r);
        CHECK(cc_sessions_count(s) <= 3);
    }
    CHECK_EQ_INT(cc_sessions_get(s, "many-999", &ss), 0);
    cc_session_clear(&ss);
    CHECK_EQ_INT(cc_sessions_get(s, "many-996", &ss), -1);
    cc_sessions_free(s);
}

/* More models than kept: the least recently used goes, its requests in other_requests. */
static void test_model_bound(void) {
    cc_sessions_t *s = cc_sessions_new(2);
    char dep[32];
    for (int i = 0; i < CC_SESSION_MODELS + 2; i++) {
        snprintf(dep, sizeof dep, "dep-%d", i);
        cc_record_t r = rec("s", dep, "m", 1, 1, 0, 0);
        r.time_ms += (uint64_t)i;
        cc_sessions_take(s, &r);
        if (i == 0) cc_sessions_take(s, &r);
    }
    cc_session_t ss;
    CHECK_EQ_INT(cc_sessions_get(s, "s", &ss), 0);
    CHECK_EQ_INT(ss.n_models, CC_SESSION_MODELS);
    CHECK_EQ_INT(ss.other_requests, 3); /* dep-0 twice, dep-1 once */
    CHECK_EQ_STR(ss.models[0].deployment, "dep-2");
    CHECK_EQ_STR(ss.models[CC_SESSION_MODELS - 1].deployment, "dep-9");
    CHECK_EQ_INT(ss.last_model, CC_SESSION_MODELS - 1);
    CHECK_EQ_INT(ss.requests, CC_SESSION_MODELS + 3);
    cc_session_clear(&ss);
    cc_sessions_free(s);
}

static void test_long_strings(void) {
    cc_sessions_t *s = cc_sessions_new(2);
    char longid[CC_SESSION_ID_MAX + 2];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    cc_record_t r = rec(longid, "d", "m", 1, 1, 0, 0);
    cc_sessions_take(s, &r);
    CHECK_EQ_INT(cc_sessions_count(s), 0);
    char big[5000];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cc_record_t b = rec("s", "d", big, 1, 1, 0, 0);
    b.label = big;
    cc_sessions_take(s, &b);
    cc_sessions_take(s, &b); /* the same cut model: one entry */
    cc_session_t ss;
    CHECK_EQ_INT(cc_sessions_get(s, "s", &ss), 0);
    CHECK_EQ_INT(ss.n_models, 1);
    CHECK_EQ_INT(ss.models[0].requests, 2);
    CHECK_EQ_INT(strlen(ss.models[0].model), CC_SESSION_STR_MAX);
    CHECK_EQ_INT(strlen(ss.label), CC_SESSION_STR_MAX);
    cc_session_clear(&ss);
    cc_sessions_free(s);
}

static const char CONFIG_YAML[] =
    "model_list:\n"
    "  - model_name: sonnet-pool\n"
    "    litellm_params:\n"
    "      model: anthropic/claude-sonnet-5-5\n"
    "    model_info:\n"
    "      max_input_tokens: 200000\n"
    "  - model_name: sonnet-pool\n"
    "    litellm_params:\n"
    "      model: anthropic/claude-sonnet-5-5-big\n"
    "    model_info:\n"
    "      max_input_tokens: 1000000\n"
    "  - model_name: nowindow\n"
    "    litellm_params:\n"
    "      model: anthropic/claude-haiku-5-5\n"
    "  - model_name: alias\n"
    "    litellm_params:\n"
    "      model: sonnet-pool\n";

static void test_context_window_and_json(void) {
    cc_buf_t err = CC_BUF_INIT;
    cc_config_t *cfg =
        cc_config_load_mem("/sesstest", "", 0, CONFIG_YAML, strlen(CONFIG_YAML), &err, NULL);
    CHECK(cfg != NULL);
    if (!cfg) {
        fprintf(stderr, "%s", err.data ? err.data : "");
        cc_buf_free(&err);
        return;
    }
    CHECK_EQ_INT(cc_sessions_context_window(cfg, NULL, "sonnet-pool", "claude-sonnet-5-5"), 200000);
    CHECK_EQ_INT(cc_sessions_context_window(cfg, NULL, "sonnet-pool", "claude-sonnet-5-5-big"),
                 1000000);
    /* A model no member sends: the first member that says. */
    CHECK_EQ_INT(cc_sessions_context_window(cfg, NULL, "sonnet-pool", "other"), 200000);
    CHECK_EQ_INT(cc_sessions_context_window(cfg, NULL, "nowindow", "zz-unknown-model"), 0);
    CHECK_EQ_INT(cc_sessions_context_window(cfg, NULL, "gone", "zz-unknown-model"), 0);
    CHECK_EQ_INT(cc_sessions_context_window(NULL, NULL, "sonnet-pool", "zz-unknown-model"), 0);

    /* The price tables' windows, by the model sent, when model_info says nothing. */
    char path[] = "/tmp/ccproxy-test-prices-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    static const char TABLE[] =
        "{\"models\": {\"claude-haiku-5-5\": {\"max_input_tokens\": 200000},"
        " \"zz-known\": {\"max_input_tokens\": 64000}}}";
    CHECK(write(fd, TABLE, strlen(TABLE)) == (ssize_t)strlen(TABLE));
    close(fd);
    cc_prices_t *prices = cc_prices_load(path, NULL, &err);
    unlink(path);
    CHECK(prices != NULL);
    CHECK_EQ_INT(cc_sessions_context_window(cfg, prices, "nowindow", "claude-haiku-5-5"), 200000);
    CHECK_EQ_INT(cc_sessions_context_window(cfg, prices, "sonnet-pool", "claude-sonnet-5-5"),
                 200000); /* model_info first */
    CHECK_EQ_INT(cc_sessions_context_window(cfg, prices, "gone", "zz-known"), 64000);
    CHECK_EQ_INT(cc_sessions_context_window(cfg, prices, NULL, "zz-known"), 64000);
    CHECK_EQ_INT(cc_sessions_context_window(cfg, prices, "gone", NULL), 0);
    cc_prices_free(prices);

    cc_sessions_t *s = cc_sessions_new(2);
    cc_record_t a = rec("sess \"q\"", "sonnet-pool", "claude-sonnet-5-5-big", 1000, 50, 0, 44000);
    cc_sessions_take(s, &a);
    cc_session_t ss;
    CHECK_EQ_INT(cc_sessions_get(s, "sess \"q\"", &ss), 0);
    cc_buf_t out = CC_BUF_INIT;
    cc_session_json(&ss, cfg, NULL, &out);
    cJSON *o = cJSON_ParseWithLength(out.data, out.len);
    CHECK(o != NULL);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "session_id")), "sess \"q\"");
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "requests")), 1);
    cJSON *t = cJSON_GetObjectItem(o, "tokens");
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(t, "cache_read")), 44000);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "deployment")), "sonnet-pool");
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(o, "cost_unknown")));
    cJSON *c = cJSON_GetObjectItem(o, "context");
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(c, "tokens")), 45000);
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(c, "window")), 1000000);
    cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "models"), 0);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(m, "model")), "claude-sonnet-5-5-big");
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(m, "requests")), 1);
    cJSON_Delete(o);
    cc_buf_reset(&out);
    /* Without a config: no window. */
    cc_session_json(&ss, NULL, NULL, &out);
    o = cJSON_ParseWithLength(out.data, out.len);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "context"), "window")));
    cJSON_Delete(o);
    cc_buf_free(&out);
    cc_session_clear(&ss);
    cc_sessions_free(s);
    cc_config_free(cfg);
    cc_buf_free(&err);
}

/* The process's table behind its record sink: records emitted reach it, stop frees it. */
static void test_process_sink(void) {
    CHECK(cc_sessions_process() == NULL);
    CHECK_EQ_INT(cc_sessions_start(5), 0);
    CHECK(cc_sessions_process() != NULL);
    CHECK(cc_records_wanted());
    cc_record_t a = rec("p", "d", "m", 1, 2, 3, 4);
    cc_records_emit(&a);
    cc_session_t ss;
    CHECK_EQ_INT(cc_sessions_get(cc_sessions_process(), "p", &ss), 0);
    CHECK_EQ_INT(ss.output, 2);
    cc_session_clear(&ss);
    cc_records_stop();
    CHECK(cc_sessions_process() == NULL);
}

#define THREADS 8
#define PER_THREAD 20000

typedef struct {
    cc_sessions_t *s;
    int index;
} worker_arg_t;

static void *taker(void *arg) {
    worker_arg_t *w = arg;
    char id[32], dep[32];
    for (int i = 0; i < PER_THREAD; i++) {
        /* Everyone adds to "shared"; each thread also to sessions of its own, more than the
         * table keeps, so evictions run concurrently with takes and reads. */
        snprintf(dep, sizeof dep, "dep-%d", i % 3);
        cc_record_t r = rec("shared", dep, "m", 1, 2, 0, 0);
        r.time_ms += (uint64_t)i;
        cc_sessions_take(w->s, &r);
        snprintf(id, sizeof id, "t%d-%d", w->index, i % 50);
        cc_record_t o = rec(id, dep, "m", 1, 1, 0, 0);
        cc_sessions_take(w->s, &o);
    }
    return NULL;
}

static void *reader(void *arg) {
    worker_arg_t *w = arg;
    int found = 0;
    for (int i = 0; i < PER_THREAD; i++) {
        cc_session_t ss;
        if (cc_sessions_get(w->s, "shared", &ss) == 0) {
            found++;
            if (ss.requests > (uint64_t)THREADS * PER_THREAD || ss.output != 2 * ss.requests)
                found = -1000000;
            cc_session_clear(&ss);
        }
        char id[32];
        snprintf(id, sizeof id, "t%d-%d", i % THREADS, i % 50);
        if (cc_sessions_get(w->s, id, &ss) == 0) cc_session_clear(&ss);
    }
    return (void *)(intptr_t)found;
}

static void test_concurrency(void) {
    /* Room for "shared" and a few others: "shared" is taken all the time, so it stays. */
    cc_sessions_t *s = cc_sessions_new(40);
    pthread_t t[THREADS], rd[2];
    worker_arg_t args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg_t){s, i};
        pthread_create(&t[i], NULL, taker, &args[i]);
    }
    for (int i = 0; i < 2; i++) pthread_create(&rd[i], NULL, reader, &args[i]);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        void *ret;
        pthread_join(rd[i], &ret);
        CHECK((intptr_t)ret >= 0);
    }
    CHECK(cc_sessions_count(s) <= 40);
    cc_session_t ss;
    CHECK_EQ_INT(cc_sessions_get(s, "shared", &ss), 0);
    CHECK_EQ_INT(ss.requests, THREADS * PER_THREAD);
    CHECK_EQ_INT(ss.input, THREADS * PER_THREAD);
    CHECK_EQ_INT(ss.output, 2 * THREADS * PER_THREAD);
    CHECK_EQ_INT(ss.n_models, 3);
    CHECK_EQ_INT(ss.models[0].requests + ss.models[1].requests + ss.models[2].requests,
                 THREADS * PER_THREAD);
    CHECK(ss.cost_usd > 0.25 * THREADS * PER_THREAD - 1e-3 &&
          ss.cost_usd < 0.25 * THREADS * PER_THREAD + 1e-3);
    cc_session_clear(&ss);
    cc_sessions_free(s);
}

int main(void) {
    CC_RUN(test_totals);
    CC_RUN(test_subagent_context);
    CC_RUN(test_answered);
    CC_RUN(test_unknown_cost);
    CC_RUN(test_lru);
    CC_RUN(test_model_bound);
    CC_RUN(test_long_strings);
    CC_RUN(test_context_window_and_json);
    CC_RUN(test_process_sink);
    CC_RUN(test_concurrency);
    return CC_DONE();
}
