/* test_record.c: request records (record/record.h): a packed record owns its strings and is
 * freed by its last release, the JSON shape, and credentials redacted by the same rule as lua/ccproxy/redact.lua. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "record/record.h"

static void test_pack_and_json(void) {
    cc_record_attempt_t att[2] = {{"pool", "anthropic/claude-a", 529, NULL, 12.5},
                                  {"pool", "anthropic/claude-b", 0, "timeout", 1000}};
    char id[] = "r7", label[] = "background";
    cc_record_t r = {.time_ms = 1764000000000ull, .id = id, .session_id = "s-1",
                     .endpoint = "messages", .label = label, .requested_model = "claude-x",
                     .sent_model = "claude-b", .deployment = "pool", .provider = "anthropic",
                     .attempts = att, .n_attempts = 2, .status = 200, .stream = true,
                     .usage = {.seen = true, .input = 10, .output = 20, .cache_read = 5},
                     .cost_known = true, .cost_usd = 0.0125, .ttfb_ms = 40, .total_ms = 900,
                     .bytes_in = 100, .bytes_out = 2000, .client = "claude-cli/2 sk-ant-..."};
    cc_record_t *c = cc_record_pack(&r);
    CHECK(c != NULL);
    if (!c) return;
    id[0] = 'X'; /* the packed record does not share the draft's strings */
    label[0] = 'X';
    CHECK_EQ_STR(c->id, "r7");
    CHECK_EQ_STR(c->label, "background");
    CHECK(c->attempts != r.attempts);
    CHECK_EQ_STR(c->attempts[1].reason, "timeout");
    cc_buf_t j = CC_BUF_INIT;
    cc_record_json(c, &j);
    cJSON *o = cJSON_Parse(j.data);
    CHECK(o != NULL);
    CHECK_EQ_STR(cJSON_GetObjectItem(o, "session_id")->valuestring, "s-1");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "agent_id")));
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "attempts")), 2);
    CHECK_EQ_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "usage"), "cache_read")->valueint, 5);
    CHECK(cJSON_GetObjectItem(o, "cost_usd")->valuedouble == 0.0125);
    cJSON_Delete(o);
    cc_buf_reset(&j);
    c->usage.seen = false;
    c->cost_known = false;
    c->ttfb_ms = -1;
    cc_record_json(c, &j);
    o = cJSON_Parse(j.data);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "usage")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "cost_usd")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "ttfb_ms")));
    cJSON_Delete(o);
    cc_buf_free(&j);
    cc_record_release(c);
}

static void test_tags(void) {
    cc_record_tag_t tags[2] = {{"h.user-agent", "claude-cli/2.0"}, {"team", "a \"b\""}};
    cc_record_t r = {.id = "r1", .tags = tags, .n_tags = 2};
    cc_record_t *c = cc_record_pack(&r);
    CHECK(c != NULL);
    if (!c) return;
    CHECK(c->tags != tags);
    CHECK(c->tags[0].name != tags[0].name);
    CHECK_EQ_STR(c->tags[1].value, "a \"b\"");
    cc_buf_t j = CC_BUF_INIT;
    cc_record_json(c, &j);
    cJSON *o = cJSON_Parse(j.data);
    cJSON *t = cJSON_GetObjectItem(o, "tags");
    CHECK_EQ_STR(cJSON_GetObjectItem(t, "h.user-agent")->valuestring, "claude-cli/2.0");
    CHECK_EQ_STR(cJSON_GetObjectItem(t, "team")->valuestring, "a \"b\"");
    cJSON_Delete(o);
    cc_buf_reset(&j);
    cc_record_release(c);
    r.n_tags = 0;
    cc_record_json(&r, &j);
    o = cJSON_Parse(j.data);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "tags")), 0);
    cJSON_Delete(o);
    cc_buf_free(&j);
}

static void test_redact(void) {
    char out[128];
    const char *cases[][2] = {
        {"Bearer sk-ant-oat01-abcdefghijklmnopqrstuvwxyz0123", "Bearer sk-ant-oat01-...0123"},
        {"sk-ant-api03-abcdefghijklmnopqrstuvwxyz9876", "sk-ant-api03-...9876"},
        {"Basic dXNlcjpwYXNzd29yZA==", "Basic ..."},
        {"short", "..."},
        {"Bearer abcdefghijkl", "Bearer ...ijkl"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cc_record_redact(cases[i][0], out, sizeof out);
        CHECK_EQ_STR(out, cases[i][1]);
    }
}

/* A draft with nothing but scalars: its packed record has no arrays and NULL strings. */
static void test_empty_pack(void) {
    cc_record_t d = {.status = 499, .ttfb_ms = -1};
    cc_record_t *c = cc_record_pack(&d);
    CHECK(c != NULL);
    if (!c) return;
    CHECK(c->id == NULL && c->label == NULL && c->client == NULL);
    CHECK(c->attempts == NULL && c->tags == NULL);
    CHECK_EQ_INT(c->status, 499);
    CHECK(cc_record_hold(NULL) == NULL);
    cc_record_release(NULL);
    cc_record_release(c);
}

/* Sinks on other threads hold and release one record: it is freed once, by the last release
 * (under ASan a double free or a leak fails the test). */
#define HOLDERS 4
#define ROUNDS 10000
static void *hold_and_release(void *arg) {
    cc_record_t *r = arg;
    for (int i = 0; i < ROUNDS; i++) {
        cc_record_hold(r);
        if (strcmp(r->label, "background") != 0) return (void *)1;
        cc_record_release(r);
    }
    cc_record_release(r); /* the reference the main thread gave this thread */
    return NULL;
}

static void test_shared_across_threads(void) {
    cc_record_t d = {.id = (char *)"r1", .label = (char *)"background"};
    cc_record_t *r = cc_record_pack(&d);
    CHECK(r != NULL);
    if (!r) return;
    pthread_t t[HOLDERS];
    for (int i = 0; i < HOLDERS; i++) CHECK_EQ_INT(pthread_create(&t[i], NULL, hold_and_release,
                                                                  cc_record_hold(r)), 0);
    cc_record_release(r); /* the packer's reference goes first: the threads keep it alive */
    for (int i = 0; i < HOLDERS; i++) {
        void *bad = NULL;
        pthread_join(t[i], &bad);
        CHECK(bad == NULL);
    }
}

int main(void) {
    CC_RUN(test_pack_and_json);
    CC_RUN(test_empty_pack);
    CC_RUN(test_shared_across_threads);
    CC_RUN(test_tags);
    CC_RUN(test_redact);
    return CC_DONE();
}
