/* test_anthropic_stream.c: the Anthropic response builder (event order, blocks, tool
 * arguments split anywhere and completed when cut, parallel calls, stop reasons, usage, both
 * output modes) and the invariant checker that every stream test relies on (it must accept
 * what the builder makes and reject each kind of broken stream). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic_check.h"
#include "providers/anthropic_stream.h"
#include "http/api_error.h"
#include "check.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static void check_stream(const cc_buf_t *out) {
    cc_buf_t err = CC_BUF_INIT;
    int rc = cc_acheck_stream(out->data ? out->data : "", out->len, &err);
    if (rc) fprintf(stderr, "checker: %s\nstream:\n%s\n", err.data, out->data);
    CHECK_EQ_INT(rc, 0);
    cc_buf_free(&err);
}

static cJSON *check_message(const cc_buf_t *out) {
    cc_buf_t err = CC_BUF_INIT;
    int rc = cc_acheck_message(out->data ? out->data : "", out->len, &err);
    if (rc) fprintf(stderr, "checker: %s\nmessage: %s\n", err.data, out->data);
    CHECK_EQ_INT(rc, 0);
    cc_buf_free(&err);
    return cJSON_Parse(out->data ? out->data : "");
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static const cJSON *block(const cJSON *msg, int i) {
    return cJSON_GetArrayItem(cJSON_GetObjectItem(msg, "content"), i);
}

static const char *bstr(const cJSON *b, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(b, key);
    return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static char *input_of(const cJSON *b) {
    return cJSON_PrintUnformatted(cJSON_GetObjectItem(b, "input"));
}

/* ---- the builder ---------------------------------------------------------------------------- */

static void test_text_stream_exact(void) {
    cc_buf_t out = CC_BUF_INIT;
    cc__astream_seed(1);
    cc_astream_t *s = cc_astream_new("claude-opus-5-5", true);
    cc_astream_usage_t in = {12, -1, 3, -1};
    cc_astream_start(s, &in, &out);
    cc_astream_text(s, "Hi", 2, &out);
    cc_astream_text(s, " \"there\"\n", 9, &out);
    cc_astream_usage_t fin = {-1, 7, -1, -1};
    cc_astream_finish(s, "end_turn", NULL, &fin, &out);
    const char *id_start = strstr(out.data, "\"id\":\"msg_01");
    CHECK(id_start != NULL);
    char id[64] = "";
    if (id_start) sscanf(id_start + 6, "%63[^\"]", id);
    CHECK_EQ_INT(strlen(id), 28);
    cc_buf_t want = CC_BUF_INIT;
    cc_buf_printf(
        &want,
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"%s\","
        "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-5-5\",\"content\":[],"
        "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,"
        "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":3,\"output_tokens\":0}}}"
        "\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\" \\\"there\\\"\\n\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":12,"
        "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":3,\"output_tokens\":7}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        id);
    CHECK_EQ_STR(out.data, want.data);
    check_stream(&out);
    /* Idempotent: nothing more after the end. */
    size_t len = out.len;
    cc_astream_finish(s, "end_turn", NULL, NULL, &out);
    cc_astream_text(s, "late", 4, &out);
    cc_astream_ping(s, &out);
    cc_astream_start(s, NULL, &out);
    CHECK_EQ_INT(out.len, len);
    CHECK(cc_astream_finished(s));
    cc_astream_free(s);
    cc_buf_free(&out);
    cc_buf_free(&want);
}

static void test_seed_repeats_ids(void) {
    char a[40], b[40], c[40];
    cc__astream_seed(99);
    cc__astream_id(a, sizeof a, "toolu_");
    cc__astream_id(c, sizeof c, "toolu_");
    cc__astream_seed(99);
    cc__astream_id(b, sizeof b, "toolu_");
    CHECK_EQ_STR(a, b);
    CHECK(strcmp(a, c) != 0);
    CHECK(strncmp(a, "toolu_01", 8) == 0);
    CHECK_EQ_INT(strlen(a), 30);
    char tiny[8] = "xxxxxxx";
    cc__astream_id(tiny, sizeof tiny, "toolu_");
    CHECK_EQ_STR(tiny, "");
}

static void test_blank_text_never_a_block(void) {
    cc_buf_t out = CC_BUF_INIT;
    cc_astream_t *s = cc_astream_new("m", true);
    cc_astream_text(s, "\n\n", 2, &out);
    cc_astream_text(s, "", 0, &out);
    cc_astream_tool_call(s, "call_1", "Bash", "{\"command\":\"ls\"}", 16, &out);
    cc_astream_text(s, " \t", 2, &out);
    cc_astream_finish(s, "tool_use", NULL, NULL, &out);
    CHECK_EQ_INT(count(out.data, "\"type\":\"text\""), 0);
    CHECK_EQ_INT(count(out.data, "event: content_block_start"), 1);
    check_stream(&out);
    cc_astream_free(s);
    cc_buf_reset(&out);

    /* Leading white space waits for visible text and goes with it. */
    s = cc_astream_new("m", false);
    cc_astream_text(s, "\n", 1, &out);
    cc_astream_text(s, "  ", 2, &out);
    cc_astream_text(s, "ok", 2, &out);
    cc_astream_text(s, "\n", 1, &out);
    cc_astream_finish(s, NULL, NULL, NULL, &out);
    cJSON *m = check_message(&out);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(m, "content")), 1);
    CHECK_EQ_STR(bstr(block(m, 0), "text"), "\n  ok\n");
    CHECK_EQ_STR(bstr(m, "stop_reason"), "end_turn");
    cJSON_Delete(m);
    cc_astream_free(s);
    cc_buf_free(&out);
}

static void test_thinking(void) {
    cc_buf_t out = CC_BUF_INIT;
    cc_astream_t *s = cc_astream_new("m", true);
    cc_astream_thinking(s, "Let me", 6, &out);
    cc_astream_thinking(s, " think", 6, &out);
    cc_astream_thinking_signature(s, "sig-1", &out);
    cc_astream_thinking(s, "more", 4, &out); /* after a signature: a new block */
    cc_astream_thinking_signature(s, "sig-2", &out);
    cc_astream_text(s, "answer", 6, &out);
    cc_astream_thinking_signature(s, "sig-3", &out); /* none open: an empty signed block */
    cc_astream_finish(s, "end_turn", NULL, NULL, &out);
    check_stream(&out);
    CHECK_EQ_INT(count(out.data, "\"type\":\"thinking\""), 3);
    CHECK_EQ_INT(count(out.data, "signature_delta"), 3);
    cc_astream_free(s);

    cc_buf_reset(&out);
    s = cc_astream_new("m", false);
    cc_astream_thinking(s, "Let me", 6, &out);
    cc_astream_thinking_signature(s, "sig-1", &out);
    cc_astream_text(s, "answer", 6, &out);
    cc_astream_finish(s, "end_turn", NULL, NULL, &out);
    cJSON *m = check_message(&out);
    CHECK_EQ_STR(bstr(block(m, 0), "type"), "thinking");
    CHECK_EQ_STR(bstr(block(m, 0), "thinking"), "Let me");
    CHECK_EQ_STR(bstr(block(m, 0), "signature"), "sig-1");
    CHECK_EQ_STR(bstr(block(m, 1), "text"), "answer");
    cJSON_Delete(m);
    cc_astream_free(s);
    cc_buf_free(&out);
}

/* Tool calls as a provider streams them, in message mode: the final inputs. */
static void test_parallel_tools_sequential(void) {
    cc_buf_t out = CC_BUF_INIT;
    cc_astream_t *s = cc_astream_new("m", true);
    cc_astream_tool_start(s, 0, "call_a", "Bash", &out);
    cc_astream_tool_args(s, 0, "{\"command\":", 11, &out);
    cc_astream_tool_args(s, 0, "\"echo one\"}", 11, &out);
    /* Block 0 is complete: it closes as soon as the next call starts. */
    size_t before = out.len;
    cc_astream_tool_start(s, 1, "call_b", "Bash", &out);
    CHECK(strstr(out.data + before, "\"content_block_stop\",\"index\":0") != NULL);
    CHECK(strstr(out.data + before, "\"index\":1,\"content_block\":{\"type\":\"tool_use\","
                                    "\"id\":\"call_b\"") != NULL);
    cc_astream_tool_args(s, 1, "{\"command\":\"echo two\"}", 22, &out);
    cc_astream_tool_start(s, 1, "call_b", "Bash", &out); /* a repeated start is ignored */
    cc_astream_finish(s, "tool_use", NULL, NULL, &out);
    check_stream(&out);
    CHECK_EQ_INT(count(out.data, "event: content_block_start"), 2);
    cc_astream_free(s);
    cc_buf_free(&out);
}

static void test_parallel_tools_interleaved(void) {
    static const struct {
        int key;
        const char *args;
    } steps[] = {
        {0, "{\"command\":\"ec"}, {1, "{\"path\""}, {2, "{}"}, {1, ":\"/tmp\"}"}, {0, "ho one\"}"}};
    for (int mode = 0; mode < 2; mode++) {
        cc_buf_t out = CC_BUF_INIT;
        cc_astream_t *s = cc_astream_new("m", mode == 0);
        cc_astream_tool_start(s, 0, "call_0", "Bash", &out);
        cc_astream_tool_start(s, 1, "call_1", "Read", &out);
        cc_astream_tool_start(s, 2, NULL, "ListAgents", &out);
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
            cc_astream_tool_args(s, steps[i].key, steps[i].args, strlen(steps[i].args), &out);
        cc_astream_finish(s, "tool_use", NULL, NULL, &out);
        if (mode == 0) {
            check_stream(&out);
            CHECK_EQ_INT(count(out.data, "\"type\":\"tool_use\""), 3);
        } else {
            cJSON *m = check_message(&out);
            char *a = input_of(block(m, 0)), *b = input_of(block(m, 1)), *c = input_of(block(m, 2));
            CHECK_EQ_STR(bstr(block(m, 0), "id"), "call_0");
            CHECK_EQ_STR(a, "{\"command\":\"echo one\"}");
            CHECK_EQ_STR(bstr(block(m, 1), "name"), "Read");
            CHECK_EQ_STR(b, "{\"path\":\"/tmp\"}");
            CHECK_EQ_STR(c, "{}");
            CHECK(strncmp(bstr(block(m, 2), "id"), "toolu_01", 8) == 0);
            CHECK_EQ_STR(bstr(m, "stop_reason"), "tool_use");
            free(a);
            free(b);
            free(c);
            cJSON_Delete(m);
        }
        cc_astream_free(s);
        cc_buf_free(&out);
    }
}

/* Arguments split at every byte give the same client bytes... once reassembled: the deltas
 * differ, but the accumulated input and the checker's verdict must not. */
static void test_tool_args_every_split(void) {
    const char *args = "{\"command\":\"printf '\\\\u00e9 \\\"q\\\" \\ud83d\\ude00'\",\"n\":-1.5e+3,"
                       "\"list\":[true,false,null,{}],\"o\":{\"k\":[]}}";
    size_t n = strlen(args);
    cJSON *want = cJSON_Parse(args);
    CHECK(want != NULL);
    int bad = 0;
    for (size_t k = 0; k <= n; k++) {
        cc_buf_t out = CC_BUF_INIT;
        cc_astream_t *s = cc_astream_new("m", false);
        cc_astream_tool_start(s, 3, "call", "Bash", &out);
        cc_astream_tool_args(s, 3, args, k, &out);
        cc_astream_tool_args(s, 3, args + k, n - k, &out);
        cc_astream_finish(s, "tool_use", NULL, NULL, &out);
        cJSON *m = cJSON_Parse(out.data);
        if (!cJSON_Compare(cJSON_GetObjectItem(block(m, 0), "input"), want, 1)) bad++;
        cJSON_Delete(m);
        cc_astream_free(s);
        cc_buf_free(&out);
    }
    CHECK_EQ_INT(bad, 0);
    cJSON_Delete(want);
}

/* What the client gets for arguments that stop or go wrong midway. */
static void expect_input(const char *args, const char *want) {
    cc_buf_t out = CC_BUF_INIT;
    cc_astream_t *s = cc_astream_new("m", false);
    cc_astream_tool_call(s, "c", "T", args, strlen(args), &out);
    cc_astream_finish(s, "tool_use", NULL, NULL, &out);
    cJSON *m = check_message(&out);
    char *got = input_of(block(m, 0));
    CHECK_EQ_STR(got, want);
    if (got && strcmp(got, want) != 0) fprintf(stderr, "  for arguments: %s\n", args);
    free(got);
    cJSON_Delete(m);
    cc_astream_free(s);
    cc_buf_free(&out);

    /* The stream form must pass the checker too. */
    s = cc_astream_new("m", true);
    cc_astream_tool_call(s, "c", "T", args, strlen(args), &out);
    cc_astream_finish(s, "tool_use", NULL, NULL, &out);
    check_stream(&out);
    cc_astream_free(s);
    cc_buf_free(&out);
}

static void test_tool_args_completed(void) {
    expect_input("", "{}");
    expect_input("   ", "{}");
    expect_input("not json", "{}");
    expect_input("[1,2]", "{}");
    expect_input("{\"a\":tru", "{\"a\":true}");
    expect_input("{\"a\":nu", "{\"a\":null}");
    expect_input("{\"a\":1}}", "{\"a\":1}");
    expect_input("{\"a\":1} x", "{\"a\":1}");
    expect_input("{\"n\":-", "{\"n\":-0}");
    expect_input("{\"n\":1.", "{\"n\":1}");
    expect_input("{\"n\":1e+", "{\"n\":1}");
    expect_input("{\"n\":01}", "{\"n\":0}");
    expect_input("{\"k\"", "{\"k\":null}");
    expect_input("{\"k\":", "{\"k\":null}");
    expect_input("{\"k", "{\"k\":null}");
    expect_input("{\"a\":1,", "{\"a\":1,\"\":null}");
    expect_input("{\"a\":[1,", "{\"a\":[1,null]}");
    expect_input("{\"a\":[", "{\"a\":[]}");
    expect_input("{\"a\":{\"b\":[{\"c\":\"x", "{\"a\":{\"b\":[{\"c\":\"x\"}]}}");
    expect_input("{\"a\":\"x\\", "{\"a\":\"x\\\\\"}");
    expect_input("{\"a\":\"\\u00", "{\"a\":\"\"}");      /* U+0000 ends a C string */
    expect_input("{\"a\":\"x\ny\"}", "{\"a\":\"x\"}");   /* raw control byte in a string */
    expect_input("{\"a\":\"\\q\"}", "{\"a\":\"\\\\\"}"); /* unknown escape */
    /* Surrogates pair up or the text is cut before the lone half. */
    expect_input("{\"a\":\"\\ud83d\\ude00\"}", "{\"a\":\"\xF0\x9F\x98\x80\"}");
    expect_input("{\"a\":\"\\ud83d", "{\"a\":\"\xF0\x9F\x90\x80\"}");
    expect_input("{\"a\":\"\\ud83d\\", "{\"a\":\"\xF0\x9F\x90\x80\"}");
    expect_input("{\"a\":\"\\ud8", "{\"a\":\"\xF0\x90\x80\x80\"}");
    expect_input("{\"a\":\"\\ud83dx\"}", "{\"a\":\"\xF0\x9F\x90\x80\"}");
    expect_input("{\"a\":\"\\udc00\"}", "{\"a\":\"\xED\x80\x80\"}");
}

/* Every prefix of a document, closed as it stands, gives a valid object. */
static void test_tool_args_every_prefix(void) {
    const char *doc = "{\"a\" : [1, -2.5e-3, \"s\\\"t\\u0041\\ud83d\\ude00\", {\"b\": {}}, [], "
                      "true, false, null], \"c\": {\"d\": \"e\"}}";
    size_t n = strlen(doc);
    int bad = 0;
    for (size_t k = 0; k <= n; k++) {
        cc_buf_t out = CC_BUF_INIT;
        cc_astream_t *s = cc_astream_new("m", true);
        cc_astream_tool_call(s, "c", "T", doc, k, &out);
        cc_astream_finish(s, "tool_use", NULL, NULL, &out);
        if (cc_acheck_stream(out.data, out.len, NULL) != 0) {
            bad++;
            fprintf(stderr, "prefix %zu fails: %.*s\n", k, (int)k, doc);
        }
        cc_astream_free(s);
        cc_buf_free(&out);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_deep_nesting_is_cut(void) {
    cc_buf_t args = CC_BUF_INIT;
    cc_buf_puts(&args, "{\"a\":");
    for (int i = 0; i < 2000; i++)
        cc_buf_puts(&args, "[");
    cc_buf_t out = CC_BUF_INIT;
    cc_astream_t *s = cc_astream_new("m", true);
    cc_astream_tool_call(s, "c", "T", args.data, args.len, &out);
    cc_astream_finish(s, "tool_use", NULL, NULL, &out);
    check_stream(&out);
    cc_astream_free(s);
    cc_buf_free(&out);
    cc_buf_free(&args);
}

/* Tool ids are unique within a message even when the provider repeats one. */
static void test_duplicate_tool_ids(void) {
    cc_buf_t out = CC_BUF_INIT;
    cc_astream_t *s = cc_astream_new("m", false);
    cc_astream_tool_call(s, "call_1", "A", "{}", 2, &out);
    cc_astream_tool_call(s, "call_1", "B", "{}", 2, &out);
    const char *use = "{\"type\":\"server_tool_use\",\"id\":\"call_1\",\"name\":\"web_search\","
                      "\"input\":{}}";
    cc_astream_raw_block(s, use, strlen(use), &out); /* repeats a tool's id: left out */
    cc_astream_finish(s, "tool_use", NULL, NULL, &out);
    cJSON *m = check_message(&out);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(m, "content")), 2);
    CHECK_EQ_STR(bstr(block(m, 0), "id"), "call_1");
    CHECK(strncmp(bstr(block(m, 1), "id"), "toolu_01", 8) == 0);
    CHECK(strstr(out.data, "web_search_requests") == NULL);
    cJSON_Delete(m);
    cc_astream_free(s);
    cc_buf_free(&out);
}

static void test_text_between_tools_flushes(void) {
    cc_buf_t out = CC_BUF_INIT;
    cc_astream_t *s = cc_astream_new("m", false);
    cc_astream_tool_start(s, 0, "a", "A", &out);
    cc_astream_tool_args(s, 0, "{\"x\":", 5, &out);
    cc_astream_tool_start(s, 1, "b", "B", &out);
    cc_astream_tool_args(s, 1, "{\"y\":2}", 7, &out);
    cc_astream_text(s, "note", 4, &out);       /* closes A (completed) and flushes B first */
    cc_astream_tool_args(s, 0, "1}", 2, &out); /* too late: A is closed */
    cc_astream_finish(s, "end_turn", NULL, NULL, &out);
    cJSON *m = check_message(&out);
    char *a = input_of(block(m, 0)), *b = input_of(block(m, 1));
    CHECK_EQ_STR(a, "{\"x\":null}");
    CHECK_EQ_STR(b, "{\"y\":2}");
    CHECK_EQ_STR(bstr(block(m, 2), "text"), "note");
    CHECK_EQ_STR(bstr(m, "stop_reason"), "tool_use");
    free(a);
    free(b);
    cJSON_Delete(m);
    cc_astream_free(s);
    cc_buf_free(&out);
}

static void test_raw_blocks_and_search_usage(void) {
    const char *use = "{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\",\"name\":\"web_search\","
                      "\"input\":{\"query\":\"weather\"}}";
    const char *res = "{\"type\":\"web_search_tool_result\",\"tool_use_id\":\"srvtoolu_1\","
                      "\"content\":[{\"type\":\"web_search_result\",\"url\":\"https://a.example\","
                      "\"title\":\"A\",\"encrypted_content\":\"x\"}]}";
    for (int mode = 0; mode < 2; mode++) {
        cc_buf_t out = CC_BUF_INIT;
        cc_astream_t *s = cc_astream_new("m", mode == 0);
        cc_astream_raw_block(s, use, strlen(use), &out);
        cc_astream_raw_block(s, res, strlen(res), &out);
        cc_astream_raw_block(s, "not json", 8, &out); /* ignored */
        cc_astream_raw_block(s, "{\"no\":\"type\"}", 13, &out);
        cc_astream_raw_block(s, "{\"type\":\"text\",\"text\":\"It is sunny.\"}", 37, &out);
        cc_astream_finish(s, "end_turn", NULL, NULL, &out);
        if (mode == 0) {
            check_stream(&out);
            /* A tool-like block starts with an empty input and streams it, as Anthropic does. */
            CHECK(strstr(out.data, "\"content_block\":{\"type\":\"server_tool_use\",\"id\":"
                                   "\"srvtoolu_1\",\"name\":\"web_search\",\"input\":{}}") != NULL);
            CHECK(strstr(out.data, "\"partial_json\":\"{\\\"query\\\":\\\"weather\\\"}\"") != NULL);
            CHECK(strstr(out.data, "\"server_tool_use\":{\"web_search_requests\":1}") != NULL);
        } else {
            cJSON *m = check_message(&out);
            CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(m, "content")), 3);
            CHECK_EQ_STR(bstr(block(m, 1), "type"), "web_search_tool_result");
            CHECK_EQ_STR(bstr(block(m, 2), "text"), "It is sunny.");
            const cJSON *u = cJSON_GetObjectItem(m, "usage");
            CHECK_EQ_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(u, "server_tool_use"),
                                             "web_search_requests")
                             ->valueint,
                         1);
            cJSON_Delete(m);
        }
        cc_astream_free(s);
        cc_buf_free(&out);
    }
}

static const char *stop_of(const char *reason, const char *seq, bool tool) {
    static char got[64];
    cc_buf_t out = CC_BUF_INIT;
    cc_astream_t *s = cc_astream_new("m", false);
    if (tool)
        cc_astream_tool_call(s, "c", "T", "{}", 2, &out);
    else
        cc_astream_text(s, "x", 1, &out);
    cc_astream_finish(s, reason, seq, NULL, &out);
    cJSON *m = check_message(&out);
    const cJSON *sq = cJSON_GetObjectItem(m, "stop_sequence");
    snprintf(got, sizeof got, "%s/%s", bstr(m, "stop_reason"),
             cJSON_IsString(sq) ? sq->valuestring : "null");
    cJSON_Delete(m);
    cc_astream_free(s);
    cc_buf_free(&out);
    return got;
}

static void test_stop_reasons_agree_with_blocks(void) {
    CHECK_EQ_STR(stop_of("end_turn", NULL, false), "end_turn/null");
    CHECK_EQ_STR(stop_of(NULL, NULL, false), "end_turn/null");
    CHECK_EQ_STR(stop_of("tool_use", NULL, false), "end_turn/null");
    CHECK_EQ_STR(stop_of("end_turn", NULL, true), "tool_use/null");
    CHECK_EQ_STR(stop_of("max_tokens", NULL, true), "max_tokens/null");
    CHECK_EQ_STR(stop_of("stop_sequence", "###", false), "stop_sequence/###");
    CHECK_EQ_STR(stop_of("end_turn", "###", false), "end_turn/null");
    CHECK_EQ_STR(stop_of("refusal", NULL, false), "refusal/null");
}

static void test_usage_merge(void) {
    cc_buf_t out = CC_BUF_INIT;
    cc_astream_t *s = cc_astream_new("m", true);
    cc_astream_usage_t start = {100, 1, 40, -1};
    cc_astream_start(s, &start, &out);
    cc_astream_text(s, "x", 1, &out);
    cc_astream_usage_t end = {-1, 25, -1, 5};
    cc_astream_finish(s, NULL, NULL, &end, &out);
    check_stream(&out);
    CHECK(strstr(out.data, "\"usage\":{\"input_tokens\":100,\"cache_creation_input_tokens\":5,"
                           "\"cache_read_input_tokens\":40,\"output_tokens\":25}}") != NULL);
    /* message_start reports what was known then. */
    CHECK(strstr(out.data, "\"usage\":{\"input_tokens\":100,\"cache_creation_input_tokens\":0,"
                           "\"cache_read_input_tokens\":40,\"output_tokens\":1}}}") != NULL);
    cc_astream_free(s);
    cc_buf_free(&out);
}

static void test_ping_and_error(void) {
    cc_buf_t out = CC_BUF_INIT;
    cc_astream_t *s = cc_astream_new("m", true);
    cc_astream_ping(s, &out);
    CHECK_EQ_INT(out.len, 0); /* nothing before message_start */
    cc_astream_start(s, NULL, &out);
    CHECK(cc_astream_started(s));
    cc_astream_ping(s, &out);
    CHECK_EQ_INT(count(out.data, "event: ping\n"), 1);
    cc_astream_text(s, "partial", 7, &out);
    cc_astream_error(s, "overloaded_error", "upstream went away", &out);
    cc_astream_finish(s, "end_turn", NULL, NULL, &out); /* nothing after the error */
    CHECK_EQ_INT(count(out.data, "message_delta"), 0);
    CHECK(strstr(out.data,
                 "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                 "\"overloaded_error\",\"message\":\"upstream went away\"}}\n\n") != NULL);
    check_stream(&out);
    cc_astream_free(s);

    /* Message mode: no ping; the error body replaces the message, with its status. */
    static const struct {
        const char *type;
        int status;
    } errs[] = {{"api_error", 502},
                {"invalid_request_error", 400},
                {"rate_limit_error", 429},
                {"overloaded_error", 529},
                {NULL, 502}};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        cc_buf_reset(&out);
        s = cc_astream_new("m", false);
        cc_astream_start(s, NULL, &out);
        cc_astream_ping(s, &out);
        cc_astream_text(s, "partial", 7, &out);
        CHECK_EQ_INT(out.len, 0);
        CHECK_EQ_INT(cc_astream_error(s, errs[i].type, "x", &out), errs[i].status);
        CHECK(cc_astream_finished(s));
        cc_buf_t want = CC_BUF_INIT;
        cc_api_error_json(&want, errs[i].type ? errs[i].type : "api_error", "x");
        CHECK_EQ_STR(out.data, want.data);
        cc_buf_free(&want);
        /* Nothing more once it failed, and no second status. */
        cc_astream_finish(s, "end_turn", NULL, NULL, &out);
        CHECK_EQ_INT(cc_astream_error(s, "api_error", "again", &out), 0);
        CHECK(strstr(out.data, "again") == NULL && strstr(out.data, "partial") == NULL);
        cc_astream_free(s);
    }
    /* A finished message takes no error after it. */
    cc_buf_reset(&out);
    s = cc_astream_new("m", false);
    cc_astream_finish(s, "end_turn", NULL, NULL, &out);
    size_t done_len = out.len;
    CHECK_EQ_INT(cc_astream_error(s, "api_error", "late", &out), 0);
    CHECK_EQ_INT(out.len, done_len);
    cc_astream_free(s);
    cc_buf_free(&out);
}

static void test_empty_message(void) {
    cc_buf_t out = CC_BUF_INIT;
    cc_astream_t *s = cc_astream_new("m", true);
    cc_astream_finish(s, "max_tokens", NULL, NULL, &out);
    check_stream(&out);
    cc_astream_free(s);
    cc_buf_reset(&out);
    s = cc_astream_new("m\"odel", false);
    cc_astream_finish(s, "max_tokens", NULL, NULL, &out);
    cJSON *m = check_message(&out);
    CHECK_EQ_STR(bstr(m, "model"), "m\"odel");
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(m, "content")), 0);
    cJSON_Delete(m);
    cc_astream_free(s);
    cc_buf_free(&out);
}

/* ---- the checker ---------------------------------------------------------------------------- */

#define START                                                                                      \
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","       \
    "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],"                  \
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,"                   \
    "\"output_tokens\":1}}}\n\n"
#define TEXT_START(i)                                                                              \
    "event: content_block_start\ndata: {\"type\":\"content_block_start\","                         \
    "\"index\":" #i ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
#define TOOL_START(i, id)                                                                          \
    "event: content_block_start\ndata: {\"type\":\"content_block_start\","                         \
    "\"index\":" #i ",\"content_block\":{\"type\":\"tool_use\",\"id\":\"" id                       \
    "\",\"name\":\"T\",\"input\":{}}}\n\n"
#define DELTA(i, type, field, value)                                                               \
    "event: content_block_delta\ndata: {\"type\":"                                                 \
    "\"content_block_delta\",\"index\":" #i ",\"delta\":{\"type\":\"" type "\",\"" field           \
    "\":" value "}}\n\n"
#define STOP(i)                                                                                    \
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":" #i "}\n\n"
#define MDELTA(reason)                                                                             \
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"                           \
    "{\"stop_reason\":\"" reason "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":3}}\n\n"
#define MSTOP "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

static void expect_violation(const char *stream, const char *needle) {
    cc_buf_t err = CC_BUF_INIT;
    CHECK_EQ_INT(cc_acheck_stream(stream, strlen(stream), &err), -1);
    CHECK(err.data && strstr(err.data, needle));
    if (!err.data || !strstr(err.data, needle))
        fprintf(stderr, "  wanted \"%s\", got \"%s\"\n", needle, err.data ? err.data : "");
    cc_buf_free(&err);
}

static void test_checker_accepts(void) {
    const char *ok = START "event: ping\ndata: {\"type\":\"ping\"}\n\n" TEXT_START(0)
        DELTA(0, "text_delta", "text", "\"hi\"") STOP(0) TOOL_START(1, "t1")
            DELTA(1, "input_json_delta", "partial_json", "\"{\\\"a\\\":\"")
                DELTA(1, "input_json_delta", "partial_json", "\"1}\"") STOP(1) TOOL_START(2, "t2")
                    STOP(2) MDELTA("tool_use") MSTOP;
    cc_buf_t err = CC_BUF_INIT;
    CHECK_EQ_INT(cc_acheck_stream(ok, strlen(ok), &err), 0);
    if (err.len) fprintf(stderr, "%s\n", err.data);
    /* Split anywhere, the verdict is the same. */
    size_t n = strlen(ok);
    int bad = 0;
    for (size_t k = 0; k <= n; k++) {
        cc_acheck_t *c = cc_acheck_new();
        if (cc_acheck_feed(c, ok, k) || cc_acheck_feed(c, ok + k, n - k) || cc_acheck_end(c)) bad++;
        if (k == n) {
            CHECK_EQ_INT(cc_acheck_blocks(c), 3);
            CHECK_EQ_INT(cc_acheck_tool_uses(c), 2);
        }
        cc_acheck_free(c);
    }
    CHECK_EQ_INT(bad, 0);
    /* An error event ends a stream properly, even before message_start. */
    const char *e = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                    "\"message\":\"x\"}}\n\n";
    CHECK_EQ_INT(cc_acheck_stream(e, strlen(e), NULL), 0);
    cc_buf_free(&err);
}

static void test_checker_rejects(void) {
    expect_violation("data: {\"type\":\"message_start\"}\n\n", "without an event: name");
    expect_violation("event: hello\ndata: {\"type\":\"hello\"}\n\n", "unknown event type");
    expect_violation("event: message_start\ndata: {\"type\":\"ping\"}\n\n", "data.type");
    expect_violation("event: message_start\ndata: [1]\n\n", "not a JSON object");
    expect_violation(TEXT_START(0), "message_start must come first");
    expect_violation(START START, "a second message_start");
    expect_violation(START TEXT_START(1), "index must be 0");
    expect_violation(START TEXT_START(0) TEXT_START(1), "still open");
    expect_violation(START DELTA(0, "text_delta", "text", "\"x\""), "no open block");
    expect_violation(START TEXT_START(0) DELTA(1, "text_delta", "text", "\"x\""), "open block's");
    expect_violation(START TEXT_START(0) DELTA(0, "input_json_delta", "partial_json", "\"{}\""),
                     "another type");
    expect_violation(START TEXT_START(0) DELTA(0, "magic_delta", "text", "\"x\""),
                     "unknown delta type");
    expect_violation(START TEXT_START(0) STOP(0), "empty text block");
    expect_violation(START TEXT_START(0) DELTA(0, "text_delta", "text", "\"\"") STOP(0),
                     "empty text block");
    expect_violation(START TOOL_START(0, "t")
                         DELTA(0, "input_json_delta", "partial_json", "\"{\\\"a\\\":\"") STOP(0),
                     "not a JSON object");
    expect_violation(START TOOL_START(0, "t")
                         DELTA(0, "input_json_delta", "partial_json", "\"[1]\"") STOP(0),
                     "not a JSON object");
    expect_violation(START TOOL_START(0, "t") STOP(0) TOOL_START(1, "t"), "used twice");
    expect_violation(START
                     "event: content_block_start\ndata: {\"type\":\"content_block_start\","
                     "\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}"
                     "\n\n" DELTA(0, "signature_delta", "signature", "\"s\"")
                         DELTA(0, "thinking_delta", "thinking", "\"t\""),
                     "after the thinking block's signature_delta");
    expect_violation(START "event: content_block_start\ndata: {\"type\":\"content_block_start\","
                           "\"index\":0,\"content_block\":{\"type\":\"hologram\"}}\n\n",
                     "unknown content block type");
    expect_violation(START TEXT_START(0) MDELTA("end_turn"), "still open");
    expect_violation(START MDELTA("because"), "stop_reason must be one of");
    expect_violation(START MDELTA("tool_use"), "tool_use without a tool_use block");
    expect_violation(START "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
                           "{\"stop_reason\":\"end_turn\"},\"usage\":{}}\n\n",
                     "usage.output_tokens");
    expect_violation(START "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
                           "{\"stop_reason\":\"end_turn\"}}\n\n",
                     "usage is missing");
    expect_violation(START MDELTA("end_turn") MDELTA("end_turn"), "a second message_delta");
    expect_violation(START MSTOP, "message_stop before message_delta");
    expect_violation(START MDELTA("end_turn") MSTOP "event: ping\ndata: {\"type\":\"ping\"}\n\n",
                     "after the end of the stream");
    expect_violation(START MDELTA("end_turn"), "without message_stop");
    expect_violation(
        START MDELTA("end_turn") "event: message_stop\ndata: {\"type\":\"message_stop\"}",
        "inside an event");
    expect_violation("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"bad\"}}\n\n",
                     "error.type");
    expect_violation("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{"
                     "\"id\":\"m\",\"type\":\"message\",\"role\":\"user\",\"model\":\"m\","
                     "\"content\":[],\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n",
                     "assistant");
}

static void test_checker_messages(void) {
    cc_buf_t err = CC_BUF_INIT;
    const char *ok =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
        "\"content\":[{\"type\":\"text\",\"text\":\"hi\"},{\"type\":\"tool_use\","
        "\"id\":\"t\",\"name\":\"T\",\"input\":{}}],\"stop_reason\":\"tool_use\","
        "\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}";
    CHECK_EQ_INT(cc_acheck_message(ok, strlen(ok), &err), 0);
    const char *empty_text = "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
                             "\"model\":\"m\",\"content\":[{\"type\":\"text\",\"text\":\"\"}],"
                             "\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":1,"
                             "\"output_tokens\":2}}";
    CHECK_EQ_INT(cc_acheck_message(empty_text, strlen(empty_text), &err), -1);
    CHECK(strstr(err.data, "content[0]: empty text block") != NULL);
    cc_buf_reset(&err);
    const char *no_usage = "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
                           "\"model\":\"m\",\"content\":[],\"stop_reason\":\"end_turn\"}";
    CHECK_EQ_INT(cc_acheck_message(no_usage, strlen(no_usage), &err), -1);
    CHECK_EQ_INT(cc_acheck_message("nope", 4, NULL), -1);
    const char *e =
        "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"x\"}}";
    CHECK_EQ_INT(cc_acheck_error_body(e, strlen(e), NULL), 0);
    CHECK_EQ_INT(cc_acheck_error_body(ok, strlen(ok), NULL), -1);
    cc_buf_free(&err);
}

int main(void) {
    CC_RUN(test_text_stream_exact);
    CC_RUN(test_seed_repeats_ids);
    CC_RUN(test_blank_text_never_a_block);
    CC_RUN(test_thinking);
    CC_RUN(test_parallel_tools_sequential);
    CC_RUN(test_parallel_tools_interleaved);
    CC_RUN(test_tool_args_every_split);
    CC_RUN(test_tool_args_completed);
    CC_RUN(test_tool_args_every_prefix);
    CC_RUN(test_deep_nesting_is_cut);
    CC_RUN(test_duplicate_tool_ids);
    CC_RUN(test_text_between_tools_flushes);
    CC_RUN(test_raw_blocks_and_search_usage);
    CC_RUN(test_stop_reasons_agree_with_blocks);
    CC_RUN(test_usage_merge);
    CC_RUN(test_ping_and_error);
    CC_RUN(test_empty_message);
    CC_RUN(test_checker_accepts);
    CC_RUN(test_checker_rejects);
    CC_RUN(test_checker_messages);
    return CC_DONE();
}
