/* test_provider_openai.c: the OpenAI-family adapter against golden files.
 *  - requests: every Claude Code fixture body and the synthetic ones under
 *    fixtures/translate/openai/in/, for several providers, compared (as parsed JSON) with
 *    fixtures/translate/openai/<name>.json (target, headers, body);
 *  - answers: the upstream bytes under fixtures/translate/openai/resp/, compared with
 *    resp/<name>.golden.json (client status, headers, and the events or message). Every answer
 *    is fed whole, split at each byte boundary and one byte at a time, must give identical
 *    bytes each way, and must pass the invariant checker; so must every truncation of it;
 *  - errors, the registry, and timings of a Claude Code sized request and answer.
 * UPDATE_GOLDEN=1 rewrites the golden files instead of comparing (review them before
 * committing). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anthropic_check.h"
#include "providers/anthropic_stream.h"
#include "check.h"
#include "json/json_body.h"
#include "providers/providers.h"
#include "http/sse.h"
#include "providers/translate.h"

#define DIR CC_FIXTURES_DIR "/translate/openai/"
#define CLAUDE CC_FIXTURES_DIR "/claude-code/"

static bool updating(void) {
    const char *u = getenv("UPDATE_GOLDEN");
    return u && *u && strcmp(u, "0") != 0;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cc_buf_t b = CC_BUF_INIT;
    char chunk[65536];
    size_t n;
    if (!f) {
        fprintf(stderr, "cannot read %s\n", path);
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        cc_buf_append(&b, chunk, n);
    fclose(f);
    if (!b.data) cc_buf_append(&b, "", 0);
    return cc_buf_steal(&b, len);
}

static void spit(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        CHECK(0);
        return;
    }
    fputs(text, f);
    fputs("\n", f);
    fclose(f);
}

/* Compares `got` with the golden file (or rewrites it). Takes ownership of `got`. */
static void golden(const char *path, cJSON *got) {
    char *text = cJSON_Print(got);
    if (updating()) {
        spit(path, text);
    } else {
        size_t len;
        char *want_text = slurp(path, &len);
        cJSON *want = want_text ? cJSON_Parse(want_text) : NULL;
        bool same = want && cJSON_Compare(got, want, 1);
        CHECK(same);
        if (!same) {
            fprintf(stderr, "  differs from %s; got (also in /tmp/ccproxy-golden.json):\n%.3000s\n",
                    path, text);
            spit("/tmp/ccproxy-golden.json", text);
        }
        cJSON_Delete(want);
        free(want_text);
    }
    free(text);
    cJSON_Delete(got);
}

/* ---- deployments ---------------------------------------------------------------------------- */

typedef struct {
    const char *provider;
    const char *model;
    const char *api_base; /* NULL: the provider's default */
    const char *api_key;
    const char *litellm_params; /* JSON or NULL */
    const char *model_info;     /* JSON or NULL */
} dep_t;

static void dep_make(const dep_t *d, cc_model_t *m) {
    memset(m, 0, sizeof *m);
    m->provider = (char *)d->provider;
    m->upstream_model = (char *)d->model;
    m->api_base = (char *)(d->api_base ? d->api_base : cc_provider_default_api_base(d->provider));
    m->api_key = (char *)d->api_key;
    m->litellm_params = d->litellm_params ? cJSON_Parse(d->litellm_params) : cJSON_CreateObject();
    m->model_info = d->model_info ? cJSON_Parse(d->model_info) : NULL;
    m->alias_of = -1;
}

static void dep_free(cc_model_t *m) {
    cJSON_Delete(m->litellm_params);
    cJSON_Delete(m->model_info);
}

/* ---- requests ------------------------------------------------------------------------------- */

typedef struct {
    const char *golden; /* <golden>.json */
    const char *input;  /* body file */
    dep_t dep;
    bool stream;
} req_case_t;

static const req_case_t req_cases[] = {
    {"a_say_hi.openai",
     CLAUDE "a_say_hi/01-messages.body.json",
     {"openai", "gpt-5", NULL, "sk-test", NULL, NULL},
     true},
    {"b_thinking_parallel_tools-01.deepseek",
     CLAUDE "b_thinking_parallel_tools/01-messages.body.json",
     {"deepseek", "deepseek-reasoner", NULL, "sk-ds", NULL, NULL},
     true},
    {"b_thinking_parallel_tools-02.openai",
     CLAUDE "b_thinking_parallel_tools/02-messages.body.json",
     {"openai", "gpt-4.1", NULL, "sk-test", NULL, NULL},
     true},
    {"b_tool_roundtrip-02.mistral",
     CLAUDE "b_tool_roundtrip/02-messages.body.json",
     {"mistral", "mistral-large-latest", NULL, "mk", NULL, "{\"max_output_tokens\": 32768}"},
     true},
    {"e_model_sonnet45-01.openrouter",
     CLAUDE "e_model_sonnet45/01-messages.body.json",
     {"openrouter", "openai/gpt-5", NULL, "or-key", NULL, NULL},
     true},
    {"system_in_the_middle.groq",
     DIR "in/system_in_the_middle.json",
     {"groq", "llama-3.3-70b-versatile", NULL, "gk", "{\"max_tokens\": 512}", NULL},
     true},
    {"images.openai",
     DIR "in/images.json",
     {"openai", "gpt-4o", NULL, "sk-test", NULL, NULL},
     false},
    {"documents.openai",
     DIR "in/documents.json",
     {"openai", "gpt-4.1-mini", NULL, "sk", NULL, NULL},
     false},
    {"documents.groq",
     DIR "in/documents.json",
     {"groq", "llama-4-scout", NULL, "gk", NULL, NULL},
     false},
    {"deepseek_replay.deepseek",
     DIR "in/deepseek_replay.json",
     {"deepseek", "deepseek-chat", NULL, "sk-ds", NULL, NULL},
     true},
    {"deepseek_replay.openrouter",
     DIR "in/deepseek_replay.json",
     {"openrouter", "deepseek/deepseek-r1", NULL, "or", NULL, NULL},
     true},
    {"tool_choice_and_sampling.together_ai",
     DIR "in/tool_choice_and_sampling.json",
     {"together_ai", "Qwen/Qwen3-235B", NULL, "tk", NULL, NULL},
     true},
    {"tool_choice_and_sampling.openai-o3",
     DIR "in/tool_choice_and_sampling.json",
     {"openai", "o3", NULL, "sk", NULL, NULL},
     true},
    {"tool_choice_and_sampling.azure",
     DIR "in/tool_choice_and_sampling.json",
     {"azure", "my gpt-4o", "https://res.openai.azure.com", "az-key",
      "{\"api_version\": \"2025-03-01-preview\"}", NULL},
     false},
    {"perplexity_search.perplexity",
     DIR "in/perplexity_search.json",
     {"perplexity", "sonar", NULL, "pk", NULL, NULL},
     true},
    {"empty_blocks.ollama",
     DIR "in/empty_blocks.json",
     {"ollama", "gpt-oss:20b", NULL, NULL, NULL, NULL},
     false},
    {"empty_blocks.vllm",
     DIR "in/empty_blocks.json",
     {"hosted_vllm", "Qwen/Qwen3-8B", "http://127.0.0.1:8000/v1", NULL, NULL, NULL},
     true},
};

static cJSON *request_doc(const cc_xlate_request_t *r) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "target", r->target.data ? r->target.data : "");
    cJSON *h = cJSON_AddObjectToObject(doc, "headers");
    for (size_t i = 0; i < r->headers.n; i++)
        cJSON_AddStringToObject(h, r->headers.items[i].name, r->headers.items[i].value);
    cJSON_AddBoolToObject(doc, "local_answer", r->local_answer);
    cJSON *body = cJSON_Parse(r->body.data ? r->body.data : "");
    cJSON_AddItemToObject(doc, "body", body ? body : cJSON_CreateString(r->body.data));
    return doc;
}

static int translate(const dep_t *d, const char *endpoint, bool stream, const char *body,
                     size_t len, cc_xlate_request_t *out, cc_buf_t *err) {
    cc_model_t m;
    dep_make(d, &m);
    cc_xlate_ctx_t ctx = {&m, d->model, "claude-opus-5-5", endpoint, stream, body, len};
    int rc = cc_provider_openai.request(&ctx, body, len, out, err);
    dep_free(&m);
    return rc;
}

static void test_request_goldens(void) {
    for (size_t i = 0; i < sizeof req_cases / sizeof req_cases[0]; i++) {
        const req_case_t *c = &req_cases[i];
        size_t len;
        char *body = slurp(c->input, &len);
        cc_xlate_request_t r = {0};
        cc_buf_t err = CC_BUF_INIT;
        CHECK(body != NULL);
        if (!body) continue;
        int rc = translate(&c->dep, "messages", c->stream, body, len, &r, &err);
        CHECK_EQ_INT(rc, 0);
        if (rc) fprintf(stderr, "  %s: %s\n", c->golden, err.data);
        char path[512];
        snprintf(path, sizeof path, DIR "%s.json", c->golden);
        golden(path, request_doc(&r));
        cc_xlate_request_free(&r);
        cc_buf_free(&err);
        free(body);
    }
}

/* Properties every translated Claude Code request must have, whatever the golden says. */
static void test_request_invariants(void) {
    for (size_t i = 0; i < sizeof req_cases / sizeof req_cases[0]; i++) {
        const req_case_t *c = &req_cases[i];
        size_t len;
        char *body = slurp(c->input, &len);
        cc_xlate_request_t r = {0};
        cc_buf_t err = CC_BUF_INIT;
        if (!body || translate(&c->dep, "messages", c->stream, body, len, &r, &err) != 0) {
            CHECK(0);
            free(body);
            continue;
        }
        cJSON *b = cJSON_Parse(r.body.data);
        const cJSON *msgs = cJSON_GetObjectItem(b, "messages");
        const cJSON *m;
        int idx = 0, pending_calls = 0;
        cJSON_ArrayForEach(m, msgs) {
            const char *role = cJSON_GetObjectItem(m, "role")->valuestring;
            /* One system message, first; no Anthropic-only fields anywhere. */
            if (strcmp(role, "system") == 0) CHECK_EQ_INT(idx, 0);
            const cJSON *content = cJSON_GetObjectItem(m, "content");
            if (cJSON_IsString(content) && strcmp(role, "assistant") != 0)
                CHECK(content->valuestring[0] != '\0');
            if (cJSON_IsString(content))
                CHECK(strstr(content->valuestring, "x-anthropic-billing-header") == NULL);
            /* Tool messages answer the calls of the assistant message right before them. */
            if (strcmp(role, "tool") == 0)
                CHECK(pending_calls-- > 0);
            else
                CHECK_EQ_INT(pending_calls, 0);
            if (strcmp(role, "assistant") == 0)
                pending_calls = cJSON_GetArraySize(cJSON_GetObjectItem(m, "tool_calls"));
            idx++;
        }
        CHECK(strstr(r.body.data, "cache_control") == NULL);
        CHECK(strstr(r.body.data, "\"$schema\"") == NULL);
        CHECK(strstr(r.body.data, "context_management") == NULL);
        CHECK(strstr(r.body.data, "output_config") == NULL);
        CHECK(strstr(r.body.data, "defer_loading") == NULL);
        CHECK(strstr(r.body.data, "\"thinking\"") == NULL);
        CHECK(strstr(r.body.data, "\"metadata\"") == NULL);
        CHECK(strstr(r.body.data, "DeferredToolPlaceholder") == NULL);
        CHECK_EQ_STR(cJSON_GetObjectItem(b, "model")->valuestring, c->dep.model);
        cJSON_Delete(b);
        cc_xlate_request_free(&r);
        cc_buf_free(&err);
        free(body);
    }
}

static void test_request_errors(void) {
    static const struct {
        const char *body;
        const char *msg;
    } cases[] = {
        {"not json", "not valid JSON (at byte 1)"},
        {"{\"messages\":[}", "not valid JSON (at byte 13)"},
        {"[1,2]", "not a JSON object"},
        {"{\"model\":\"m\"}", "messages must be an array"},
        {"{\"messages\":[\"hi\"]}", "messages[0] must be an object"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"robot\",\"content\":"
         "\"b\"}]}",
         "messages[1].role must be"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":42}]}", "messages[0].content must be"},
        {"{\"messages\":[{\"role\":\"assistant\",\"content\":{}}]}", "messages[0].content must be"},
    };
    dep_t d = {"openai", "gpt-4o", NULL, "k", NULL, NULL};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cc_xlate_request_t r = {0};
        cc_buf_t err = CC_BUF_INIT;
        CHECK_EQ_INT(
            translate(&d, "messages", true, cases[i].body, strlen(cases[i].body), &r, &err), -1);
        CHECK(err.data && strstr(err.data, cases[i].msg));
        if (!err.data || !strstr(err.data, cases[i].msg))
            fprintf(stderr, "  body %s: got \"%s\"\n", cases[i].body, err.data ? err.data : "");
        cc_xlate_request_free(&r);
        cc_buf_free(&err);
    }
}

/* Translates `body` for `d` and returns the parsed upstream body (NULL on error). */
static cJSON *translated(const dep_t *d, const char *body) {
    cc_xlate_request_t r = {0};
    cc_buf_t err = CC_BUF_INIT;
    cJSON *j = NULL;
    if (translate(d, "messages", false, body, strlen(body), &r, &err) == 0) {
        CHECK_EQ_INT(cc_json_validate(r.body.data, r.body.len, NULL), 0);
        j = cJSON_Parse(r.body.data);
    } else {
        fprintf(stderr, "  refused: %s\n", err.data);
    }
    cc_xlate_request_free(&r);
    cc_buf_free(&err);
    return j;
}

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static void test_request_edge_cases(void) {
    dep_t d = {"openai", "gpt-4o-2024", "http://127.0.0.1:9/v1", "k", NULL, NULL};
    dep_t vllm = {"hosted_vllm", "qwen", "http://127.0.0.1:8000/v1", NULL, NULL, NULL};
    /* Escaped keys, repeated keys (the last wins), assistant string content. */
    cJSON *j = translated(&d, "{\"mess\\u0061ges\":[{\"role\":\"user\",\"content\":\"a\"},"
                              "{\"role\":\"assistant\",\"content\":\"b\"}],\"max_tokens\":5,"
                              "\"max_tokens\":7}");
    const cJSON *msgs = cJSON_GetObjectItem(j, "messages");
    CHECK_EQ_INT(cJSON_GetArraySize(msgs), 2);
    CHECK_EQ_STR(jstr(cJSON_GetArrayItem(msgs, 1), "content"), "b");
    /* Not OpenAI's own host: max_tokens, not max_completion_tokens. */
    CHECK_EQ_INT(cJSON_GetObjectItem(j, "max_tokens")->valueint, 7);
    cJSON_Delete(j);
    /* A huge max_tokens stays a sane integer. */
    j = translated(&vllm, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],"
                          "\"max_tokens\":1e300}");
    CHECK(cJSON_GetObjectItem(j, "max_tokens")->valuedouble == 1e9);
    cJSON_Delete(j);
    /* tool_choice forms. */
    static const char *const choices[][2] = {{"{\"type\":\"auto\"}", "auto"},
                                             {"{\"type\":\"any\"}", "required"},
                                             {"{\"type\":\"none\"}", "none"}};
    for (int i = 0; i < 3; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"tools\":[{\"name\":"
                 "\"T\",\"input_schema\":{\"type\":\"object\"}}],\"tool_choice\":%s}",
                 choices[i][0]);
        j = translated(&d, body);
        CHECK_EQ_STR(jstr(j, "tool_choice"), choices[i][1]);
        CHECK(cJSON_GetObjectItem(j, "parallel_tool_calls") == NULL);
        const cJSON *params = cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tools"), 0), "function"),
            "parameters");
        CHECK(cJSON_IsObject(cJSON_GetObjectItem(params, "properties")));
        cJSON_Delete(j);
    }
    /* Only server tools: no tools, no tool_choice. */
    j = translated(&d, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"tools\":[{\"type\":"
                       "\"web_search_20250305\",\"name\":\"web_search\"}],\"tool_choice\":"
                       "{\"type\":\"any\"}}");
    CHECK(cJSON_GetObjectItem(j, "tools") == NULL && cJSON_GetObjectItem(j, "tool_choice") == NULL);
    cJSON_Delete(j);
    /* DeepSeek: a signature that does not decode to text gives way to the thinking text. */
    dep_t ds = {"deepseek", "deepseek-chat", NULL, "k", NULL, NULL};
    j = translated(&ds, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":"
                        "\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"plan\","
                        "\"signature\":\"ccproxy:deepseek:/w==\"},{\"type\":\"thinking\","
                        "\"thinking\":\"more\",\"signature\":\"ccproxy:deepseek:IGFuZCBtb3Jl\"},"
                        "{\"type\":\"text\",\"text\":\"ok\"}]}]}");
    CHECK_EQ_STR(
        jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "messages"), 1), "reasoning_content"),
        "plan and more");
    cJSON_Delete(j);
    /* A user id longer than 64 bytes is cut between UTF-8 characters. */
    cc_buf_t body = CC_BUF_INIT;
    cc_buf_puts(&body, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"metadata\":"
                       "{\"user_id\":\"");
    for (int i = 0; i < 40; i++)
        cc_buf_puts(&body, "\xC3\xA9");
    cc_buf_puts(&body, "\"}}");
    j = translated(&d, body.data);
    CHECK_EQ_INT(strlen(jstr(j, "user")), 64);
    cJSON_Delete(j);
    cc_buf_free(&body);
}

static void test_count_tokens_local(void) {
    size_t len;
    char *body = slurp(CLAUDE "count_tokens/05-count_tokens.body.json", &len);
    dep_t d = {"groq", "llama", NULL, "k", NULL, NULL};
    cc_xlate_request_t r = {0};
    cc_buf_t err = CC_BUF_INIT;
    CHECK_EQ_INT(translate(&d, "count_tokens", false, body, len, &r, &err), 0);
    CHECK(r.local_answer);
    cJSON *a = cJSON_Parse(r.body.data);
    const cJSON *n = cJSON_GetObjectItem(a, "input_tokens");
    CHECK(cJSON_IsNumber(n) && n->valueint > 100 && n->valueint < 2000);
    CHECK_EQ_INT(r.target.len, 0);
    cJSON_Delete(a);
    cc_xlate_request_free(&r);
    CHECK_EQ_INT(translate(&d, "count_tokens", false, "nope", 4, &r, &err), -1);
    CHECK(strstr(err.data, "count_tokens") != NULL);
    cc_xlate_request_free(&r);
    cc_buf_free(&err);
    free(body);
}

/* Thinking produced by a provider comes back to it on the next turn, through the signature. */
static void test_reasoning_roundtrip(void) {
    size_t len;
    char *upstream = slurp(DIR "resp/reasoning_deepseek.sse", &len);
    dep_t d = {"deepseek", "deepseek-reasoner", NULL, "k", NULL, NULL};
    cc_model_t m;
    dep_make(&d, &m);
    cc_xlate_ctx_t ctx = {&m, "deepseek-reasoner", "claude-opus-5-5", "messages", false, NULL, 0};
    cc_headers_t uh = CC_HEADERS_INIT, ch = CC_HEADERS_INIT;
    cc_headers_set(&uh, "Content-Type", "text/event-stream");
    int status = 0;
    cc_xlate_resp_t *t = cc_provider_openai.response_new(&ctx, 200, &uh, &status, &ch);
    cc_buf_t out = CC_BUF_INIT;
    cc_provider_openai.response_feed(t, upstream, len, &out);
    cc_provider_openai.response_end(t, &out);
    cc_provider_openai.response_free(t);
    /* The answer, as Claude Code stores it, goes into the next request. */
    cJSON *answer = cJSON_Parse(out.data);
    cJSON *next = cJSON_CreateObject();
    cJSON *msgs = cJSON_AddArrayToObject(next, "messages");
    cJSON *u1 = cJSON_CreateObject();
    cJSON_AddStringToObject(u1, "role", "user");
    cJSON_AddStringToObject(u1, "content", "hi");
    cJSON_AddItemToArray(msgs, u1);
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "role", "assistant");
    cJSON_AddItemToObject(a, "content", cJSON_DetachItemFromObject(answer, "content"));
    cJSON_AddItemToArray(msgs, a);
    cJSON *u2 = cJSON_CreateObject();
    cJSON_AddStringToObject(u2, "role", "user");
    cJSON_AddStringToObject(u2, "content", "again");
    cJSON_AddItemToArray(msgs, u2);
    char *body = cJSON_PrintUnformatted(next);
    cc_xlate_request_t r = {0};
    cc_buf_t err = CC_BUF_INIT;
    CHECK_EQ_INT(translate(&d, "messages", true, body, strlen(body), &r, &err), 0);
    cJSON *req = cJSON_Parse(r.body.data);
    const cJSON *am = cJSON_GetArrayItem(cJSON_GetObjectItem(req, "messages"), 1);
    CHECK_EQ_STR(cJSON_GetObjectItem(am, "reasoning_content")->valuestring,
                 "The user wants a greeting.");
    CHECK_EQ_STR(cJSON_GetObjectItem(am, "content")->valuestring, "Hi there!");
    cc_xlate_request_free(&r);
    /* Another provider does not get DeepSeek's reasoning. */
    dep_t other = {"openai", "gpt-4o", NULL, "k", NULL, NULL};
    CHECK_EQ_INT(translate(&other, "messages", true, body, strlen(body), &r, &err), 0);
    CHECK(strstr(r.body.data, "reasoning_content") == NULL);
    CHECK(strstr(r.body.data, "greeting") == NULL);
    cc_xlate_request_free(&r);
    cJSON_Delete(req);
    free(body);
    cJSON_Delete(next);
    cJSON_Delete(answer);
    cc_buf_free(&out);
    cc_buf_free(&err);
    cc_headers_free(&uh);
    cc_headers_free(&ch);
    dep_free(&m);
    free(upstream);
}

/* ---- answers -------------------------------------------------------------------------------- */

typedef struct {
    const char *name; /* golden: resp/<name>.golden.json */
    const char *file; /* upstream bytes: resp/<file> */
    const char *provider;
    int status;
    const char *content_type;
    bool client_stream;
    const char *request; /* the client's body (for the search query), or NULL */
} resp_case_t;

static const resp_case_t resp_cases[] = {
    {"text", "text.sse", "openai", 200, "text/event-stream; charset=utf-8", true, NULL},
    {"reasoning_deepseek", "reasoning_deepseek.sse", "deepseek", 200, "text/event-stream", true,
     NULL},
    {"reasoning_openrouter", "reasoning_openrouter.sse", "openrouter", 200, "text/event-stream",
     true, NULL},
    {"parallel_tools", "parallel_tools.sse", "openai", 200, "text/event-stream", true, NULL},
    {"parallel_tools.message", "parallel_tools.sse", "openai", 200, "text/event-stream", false,
     NULL},
    {"length", "length.sse", "groq", 200, "text/event-stream", true, NULL},
    {"content_filter", "content_filter.sse", "azure", 200, "text/event-stream", true, NULL},
    {"vllm_stop_sequence", "vllm_stop_sequence.sse", "hosted_vllm", 200, "text/event-stream", true,
     NULL},
    {"perplexity", "perplexity.sse", "perplexity", 200, "text/event-stream", true,
     DIR "in/perplexity_search.json"},
    {"perplexity.message", "perplexity.sse", "perplexity", 200, "text/event-stream", false,
     DIR "in/perplexity_search.json"},
    {"stream_error", "stream_error.sse", "openai", 200, "text/event-stream", true, NULL},
    {"truncated", "truncated.sse", "openai", 200, "text/event-stream", true, NULL},
    {"completion_tools", "completion_tools.json", "deepseek", 200, "application/json", false, NULL},
    {"completion_as_stream", "completion_as_stream.json", "openai", 200, "application/json", true,
     NULL},
    {"ollama_whole_calls", "ollama_whole_calls.sse", "ollama", 200, "text/event-stream", true,
     NULL},
    {"late_name", "late_name.sse", "xai", 200, "text/event-stream", true, NULL},
};

typedef struct {
    cc_buf_t out;
    int status;
    cc_headers_t headers;
    bool failed; /* a feed or the end returned -1 */
} run_t;

static void run_free(run_t *r) {
    cc_buf_free(&r->out);
    cc_headers_free(&r->headers);
}

/* Runs the translator over `in` fed as [0,k) and [k,n), or one byte at a time when k > n. */
static void run_split(const resp_case_t *c, const char *in, size_t n, size_t k, const char *req,
                      size_t req_len, run_t *r) {
    dep_t d = {c->provider, "model-x", NULL, "key", NULL, NULL};
    cc_model_t m;
    dep_make(&d, &m);
    cc_xlate_ctx_t ctx = {&m,  "model-x", "claude-opus-5-5", "messages", c->client_stream,
                          req, req_len};
    cc_headers_t uh = CC_HEADERS_INIT;
    if (c->content_type) cc_headers_set(&uh, "Content-Type", c->content_type);
    memset(r, 0, sizeof *r);
    cc__astream_seed(7);
    cc_xlate_resp_t *t =
        cc_provider_openai.response_new(&ctx, c->status, &uh, &r->status, &r->headers);
    if (k > n) {
        for (size_t i = 0; i < n; i++)
            if (cc_provider_openai.response_feed(t, in + i, 1, &r->out) < 0) r->failed = true;
    } else {
        if (cc_provider_openai.response_feed(t, in, k, &r->out) < 0) r->failed = true;
        if (cc_provider_openai.response_feed(t, in + k, n - k, &r->out) < 0) r->failed = true;
    }
    if (cc_provider_openai.response_end(t, &r->out) < 0) r->failed = true;
    cc_provider_openai.response_free(t);
    cc_headers_free(&uh);
    dep_free(&m);
}

static int collect_event(void *arg, const cc_sse_event_t *ev) {
    cJSON *list = arg;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "event", ev->event);
    cJSON *data = cJSON_ParseWithLength(ev->data, ev->data_len);
    cJSON_AddItemToObject(e, "data", data ? data : cJSON_CreateString(ev->data));
    cJSON_AddItemToArray(list, e);
    return 0;
}

/* What the client got, as JSON: the events of a stream or the body. */
static cJSON *client_doc(const run_t *r, bool stream) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "status", r->status);
    cJSON *h = cJSON_AddObjectToObject(doc, "headers");
    for (size_t i = 0; i < r->headers.n; i++)
        cJSON_AddStringToObject(h, r->headers.items[i].name, r->headers.items[i].value);
    cJSON_AddBoolToObject(doc, "failed", r->failed);
    if (stream && r->status == 200) {
        cJSON *events = cJSON_AddArrayToObject(doc, "events");
        cc_sse_parser_t p;
        cc_sse_parser_init(&p, collect_event, events);
        cc_sse_feed(&p, r->out.data ? r->out.data : "", r->out.len);
        cc_sse_finish(&p);
        cc_sse_parser_free(&p);
    } else {
        cJSON *body = cJSON_Parse(r->out.data ? r->out.data : "");
        cJSON_AddItemToObject(doc, "body",
                              body ? body : cJSON_CreateString(r->out.data ? r->out.data : ""));
    }
    return doc;
}

/* The client's bytes pass the checker: a stream, a message, or an error body. */
static void check_client_bytes(const resp_case_t *c, const run_t *r, const char *what) {
    cc_buf_t err = CC_BUF_INIT;
    const char *data = r->out.data ? r->out.data : "";
    int rc;
    if (r->status != 200)
        rc = cc_acheck_error_body(data, r->out.len, &err);
    else if (c->client_stream && r->failed) /* complete, or cut short cleanly */
        rc = cc_acheck_stream_prefix(data, r->out.len, NULL) &&
             cc_acheck_stream(data, r->out.len, &err);
    else if (c->client_stream)
        rc = cc_acheck_stream(data, r->out.len, &err);
    else if (r->failed)
        rc = cc_acheck_error_body(data, r->out.len, &err);
    else
        rc = cc_acheck_message(data, r->out.len, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stderr, "  %s (%s): %s\n%s\n", c->name, what, err.data, data);
    cc_buf_free(&err);
}

static void test_response_goldens(void) {
    for (size_t i = 0; i < sizeof resp_cases / sizeof resp_cases[0]; i++) {
        const resp_case_t *c = &resp_cases[i];
        char path[512];
        size_t n, req_len = 0;
        snprintf(path, sizeof path, DIR "resp/%s", c->file);
        char *in = slurp(path, &n);
        char *req = c->request ? slurp(c->request, &req_len) : NULL;
        CHECK(in != NULL);
        if (!in) continue;
        run_t whole;
        run_split(c, in, n, n, req, req_len, &whole);
        check_client_bytes(c, &whole, "whole");
        snprintf(path, sizeof path, DIR "resp/%s.golden.json", c->name);
        golden(path, client_doc(&whole, c->client_stream));
        /* Every split, and byte by byte: the same bytes, the same outcome. */
        int differing = 0;
        for (size_t k = 0; k <= n + 1; k++) {
            run_t r;
            run_split(c, in, n, k, req, req_len, &r);
            if (r.out.len != whole.out.len || memcmp(r.out.data, whole.out.data, r.out.len) != 0 ||
                r.failed != whole.failed || r.status != whole.status)
                differing++;
            run_free(&r);
        }
        CHECK_EQ_INT(differing, 0);
        if (differing) fprintf(stderr, "  %s: %d splits differ\n", c->name, differing);
        /* Ended cleanly anywhere (the upstream's body stopped short): a stream is complete, or
         * a valid start without an end that the translator reports (-1), as an Anthropic
         * stream cut short would be; a whole answer is a message or an error body. */
        int invalid = 0;
        for (size_t k = 0; k < n; k++) {
            run_t r;
            run_split(c, in, k, k, req, req_len, &r);
            cc_buf_t err = CC_BUF_INIT;
            const char *out = r.out.data ? r.out.data : "";
            int rc = !c->client_stream ? (r.failed ? cc_acheck_error_body(out, r.out.len, &err)
                                                   : cc_acheck_message(out, r.out.len, &err))
                     : r.failed        ? cc_acheck_stream_prefix(out, r.out.len, &err) &&
                                      cc_acheck_stream(out, r.out.len, &err)
                                       : cc_acheck_stream(out, r.out.len, &err);
            if (rc) {
                if (!invalid) fprintf(stderr, "  %s cut at %zu: %s\n", c->name, k, err.data);
                invalid++;
            }
            cc_buf_free(&err);
            run_free(&r);
        }
        CHECK_EQ_INT(invalid, 0);
        run_free(&whole);
        free(in);
        free(req);
    }
}

/* HTTP errors from the provider: status, type, message, headers. */
static void test_error_mapping(void) {
    static const struct {
        int status;
        const char *body;
        const char *retry_after;
        int want_status;
        const char *want_type;
        const char *want_msg;
    } cases[] = {
        {429, "{\"error\":{\"message\":\"Rate limit reached for gpt-4o\",\"type\":\"requests\"}}",
         "7", 429, "rate_limit_error", "groq answered HTTP 429: Rate limit reached for gpt-4o"},
        {401, "{\"error\":{\"message\":\"Incorrect API key provided\"}}", NULL, 401,
         "authentication_error", "check the api_key"},
        {403, "{\"error\":\"forbidden region\"}", NULL, 403, "permission_error",
         "forbidden region"},
        {402, "{\"error\":{\"message\":\"Insufficient credits\",\"code\":402}}", NULL, 403,
         "permission_error", "Insufficient credits"},
        {404, "{\"error\":{\"message\":\"The model `gpt-9` does not exist\"}}", NULL, 404,
         "not_found_error", "check the model and api_base"},
        {400,
         "{\"error\":{\"message\":\"max_tokens is too large: 128000. This model supports at most "
         "16384 completion tokens\"}}",
         NULL, 400, "invalid_request_error", "model_info.max_output_tokens"},
        {422,
         "{\"detail\":[{\"loc\":[\"body\",\"x\"],\"msg\":\"Extra inputs are not permitted\"}]}",
         NULL, 400, "invalid_request_error", "Extra inputs are not permitted"},
        /* Context-length errors in Anthropic's words, which Claude Code compacts on. */
        {400,
         "{\"error\":{\"message\":\"This model's maximum context length is 128000 tokens. "
         "However, your messages resulted in 150000 tokens. Please reduce the length of the "
         "messages.\",\"type\":\"invalid_request_error\",\"code\":\"context_length_exceeded\"}}",
         NULL, 400, "invalid_request_error", "prompt is too long: 150000 tokens > 128000 maximum"},
        {400,
         "{\"object\":\"error\",\"message\":\"This model's maximum context length is 32768 "
         "tokens. However, you requested 40000 tokens (35000 in the messages, 5000 in the "
         "completion).\",\"type\":\"BadRequestError\",\"code\":400}",
         NULL, 400, "invalid_request_error", "prompt is too long: 40000 tokens > 32768 maximum"},
        {413, "request entity too large", NULL, 413, "request_too_large",
         "request entity too large"},
        {500, "<html>oops</html>", NULL, 500, "api_error", "HTTP 500: <html>oops</html>"},
        {502, "", NULL, 500, "api_error", "HTTP 502: (no details)"},
        {503, "{\"message\":\"overloaded\"}", "30", 529, "overloaded_error", "overloaded"},
        {529, "{\"error\":{\"message\":\"Overloaded\"}}", NULL, 529, "overloaded_error", "Overloaded"},
        {504, "{\"error\":{\"message\":\"upstream timeout\",\"metadata\":{\"raw\":\"deadline\"}}}",
         NULL, 500, "api_error", "upstream timeout (deadline)"},
        {418, "teapot", NULL, 400, "invalid_request_error", "teapot"},
        /* Bytes that are not UTF-8 become U+FFFD, so the error stays valid JSON. */
        {500, "bad \xFF\xC3 bytes", NULL, 500, "api_error", "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        resp_case_t c = {"error", NULL, "groq", cases[i].status, "application/json", true, NULL};
        const char *b = cases[i].body;
        size_t n = strlen(b);
        run_t r;
        dep_t d = {"groq", "m", NULL, "k", NULL, NULL};
        cc_model_t m;
        dep_make(&d, &m);
        cc_xlate_ctx_t ctx = {&m, "m", "claude-opus-5-5", "messages", true, NULL, 0};
        cc_headers_t uh = CC_HEADERS_INIT;
        if (cases[i].retry_after) cc_headers_set(&uh, "Retry-After", cases[i].retry_after);
        memset(&r, 0, sizeof r);
        cc_xlate_resp_t *t =
            cc_provider_openai.response_new(&ctx, cases[i].status, &uh, &r.status, &r.headers);
        for (size_t k = 0; k < n; k++)
            cc_provider_openai.response_feed(t, b + k, 1, &r.out);
        /* An idle tick during an error body sends nothing. */
        cc_provider_openai.response_idle(t, &r.out);
        CHECK_EQ_INT(cc_provider_openai.response_end(t, &r.out), 0);
        cc_provider_openai.response_free(t);
        CHECK_EQ_INT(r.status, cases[i].want_status);
        CHECK_EQ_INT(cc_json_validate(r.out.data, r.out.len, NULL), 0);
        check_client_bytes(&c, &r, "error");
        cJSON *j = cJSON_Parse(r.out.data);
        const cJSON *e = cJSON_GetObjectItem(j, "error");
        const cJSON *type = cJSON_GetObjectItem(e, "type");
        const cJSON *msg = cJSON_GetObjectItem(e, "message");
        CHECK(cJSON_IsString(type) && strcmp(type->valuestring, cases[i].want_type) == 0);
        CHECK(cJSON_IsString(msg) && strstr(msg->valuestring, cases[i].want_msg));
        if (!cJSON_IsString(msg) || !strstr(msg->valuestring, cases[i].want_msg))
            fprintf(stderr, "  HTTP %d: %s\n", cases[i].status, r.out.data);
        CHECK_EQ_STR(cc_headers_get(&r.headers, "content-type"), "application/json");
        const char *ra = cc_headers_get(&r.headers, "retry-after");
        if (cases[i].retry_after)
            CHECK(ra && strcmp(ra, cases[i].retry_after) == 0);
        else
            CHECK(ra == NULL);
        cJSON_Delete(j);
        cc_headers_free(&uh);
        dep_free(&m);
        run_free(&r);
    }
}

/* A silence before the first chunk: message_start and a ping, then the answer as usual, the
 * same for every split of it; a silence after the end sends nothing. */
static void test_idle_ping(void) {
    dep_t d = {"openai", "gpt-4o", NULL, "k", NULL, NULL};
    cc_model_t m;
    dep_make(&d, &m);
    cc_xlate_ctx_t ctx = {&m, "gpt-4o", "claude-opus-5-5", "messages", true, NULL, 0};
    cc_headers_t uh = CC_HEADERS_INIT;
    cc_headers_set(&uh, "content-type", "text/event-stream");
    const char *rest = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},"
                       "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    size_t n = strlen(rest);
    cc_buf_t first = CC_BUF_INIT;
    int differing = 0;
    for (size_t k = 0; k <= n; k++) {
        cc_headers_t ch = CC_HEADERS_INIT;
        cc_buf_t out = CC_BUF_INIT;
        int status;
        cc__astream_seed(3);
        cc_xlate_resp_t *t = cc_provider_openai.response_new(&ctx, 200, &uh, &status, &ch);
        CHECK_EQ_STR(cc_headers_get(&ch, "content-type"), "text/event-stream");
        cc_provider_openai.response_idle(t, &out);
        if (k == 0) {
            CHECK(strstr(out.data, "event: message_start") != NULL);
            CHECK(strstr(out.data, "event: ping") != NULL);
        }
        CHECK_EQ_INT(cc_provider_openai.response_feed(t, rest, k, &out), 0);
        CHECK_EQ_INT(cc_provider_openai.response_feed(t, rest + k, n - k, &out), 0);
        size_t len = out.len;
        cc_provider_openai.response_idle(t, &out); /* finished: nothing more */
        CHECK_EQ_INT(out.len, len);
        CHECK_EQ_INT(cc_provider_openai.response_end(t, &out), 0);
        CHECK_EQ_INT(cc_acheck_stream(out.data, out.len, NULL), 0);
        const char *start = strstr(out.data, "event: message_start");
        CHECK(start && !strstr(start + 1, "event: message_start"));
        if (k == 0)
            cc_buf_append(&first, out.data, out.len);
        else if (out.len != first.len || memcmp(out.data, first.data, out.len) != 0)
            differing++;
        cc_provider_openai.response_free(t);
        cc_headers_free(&ch);
        cc_buf_free(&out);
    }
    CHECK_EQ_INT(differing, 0);
    cc_buf_free(&first);
    cc_headers_free(&uh);
    dep_free(&m);
}

static void test_registry(void) {
    static const char *const openai[] = {"openai",      "openrouter",
                                         "deepseek",    "groq",
                                         "mistral",     "xai",
                                         "together_ai", "perplexity",
                                         "ollama",      "ollama_chat",
                                         "lm_studio",   "hosted_vllm",
                                         "azure",       "text-completion-openai"};
    for (size_t i = 0; i < sizeof openai / sizeof openai[0]; i++)
        CHECK(cc_provider_for(openai[i]) == &cc_provider_openai);
    CHECK(cc_provider_for("gemini") == &cc_provider_gemini);
    CHECK(cc_provider_for("anthropic") == NULL);
    CHECK(cc_provider_for(NULL) == NULL);
    CHECK(cc_provider_for("OpenAI") == NULL);
    CHECK_EQ_STR(cc_provider_openai.family, "openai");
    cc_xlate_request_t r = {0};
    cc_buf_puts(&r.body, "x");
    cc_headers_set(&r.headers, "a", "b");
    cc_xlate_request_free(&r);
    CHECK(r.body.data == NULL && r.headers.n == 0);
    cc_xlate_request_free(&r); /* twice is harmless */
}

/* ---- timings -------------------------------------------------------------------------------- */

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* An answer like a real one: `words` text chunks, then (when `tool_pieces` > 0) a tool call
 * whose arguments come in that many pieces, a usage chunk and [DONE]. */
static void make_answer(cc_buf_t *sse, int words, int tool_pieces) {
    for (int i = 0; i < words; i++)
        cc_buf_printf(
            sse,
            "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
            "\"created\":1760000000,\"model\":\"gpt-4.1\",\"choices\":[{\"index\":0,"
            "\"delta\":{\"content\":\"word %d and \\\"more\\\" \"},\"finish_reason\":null}]}\n\n",
            i);
    if (tool_pieces) {
        cc_buf_puts(
            sse, "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":"
                 "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"Write\",\"arguments\":"
                 "\"{\\\"content\\\":\\\"\"}}]},\"finish_reason\":null}]}\n\n");
        for (int i = 0; i < tool_pieces; i++)
            cc_buf_puts(sse,
                        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
                        "\"function\":{\"arguments\":\"line of the "
                        "file\\\\n\"}}]},\"finish_reason\":null}]}\n\n");
        cc_buf_puts(
            sse,
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
            "\"function\":{\"arguments\":\"\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n");
    } else {
        cc_buf_puts(
            sse, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    }
    cc_buf_puts(
        sse, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12000,\"completion_tokens\":2100,"
             "\"prompt_tokens_details\":{\"cached_tokens\":11000}}}\n\ndata: [DONE]\n\n");
}

/* Microseconds to translate the answer `sse`, fed in pieces of 1400 bytes as TCP reads
 * deliver them; the output is checked once. */
static double time_answer(const cc_buf_t *sse, int rounds, size_t *out_len) {
    resp_case_t c = {"timing", NULL, "openai", 200, "text/event-stream", true, NULL};
    dep_t d = {"openai", "gpt-4.1", NULL, "k", NULL, NULL};
    cc_model_t m;
    dep_make(&d, &m);
    cc_xlate_ctx_t ctx = {&m, "gpt-4.1", "claude-opus-5-5", "messages", true, NULL, 0};
    cc_headers_t uh = CC_HEADERS_INIT;
    cc_headers_set(&uh, "content-type", "text/event-stream");
    double t0 = now_us();
    for (int i = 0; i < rounds; i++) {
        run_t r;
        memset(&r, 0, sizeof r);
        cc_xlate_resp_t *t = cc_provider_openai.response_new(&ctx, 200, &uh, &r.status, &r.headers);
        for (size_t off = 0; off < sse->len; off += 1400)
            cc_provider_openai.response_feed(t, sse->data + off,
                                             sse->len - off < 1400 ? sse->len - off : 1400, &r.out);
        cc_provider_openai.response_end(t, &r.out);
        cc_provider_openai.response_free(t);
        if (i == 0) {
            check_client_bytes(&c, &r, "timing");
            *out_len = r.out.len;
        }
        run_free(&r);
    }
    double us = (now_us() - t0) / rounds;
    cc_headers_free(&uh);
    dep_free(&m);
    return us;
}

static void test_timings(void) {
    size_t len;
    char *body = slurp(CLAUDE "a_say_hi/01-messages.body.json", &len);
    dep_t d = {"openai", "gpt-5", NULL, "k", NULL, NULL};
    const int rounds = 200;
    double t0 = now_us();
    for (int i = 0; i < rounds; i++) {
        cc_xlate_request_t r = {0};
        cc_buf_t err = CC_BUF_INIT;
        CHECK_EQ_INT(translate(&d, "messages", true, body, len, &r, &err), 0);
        cc_xlate_request_free(&r);
        cc_buf_free(&err);
    }
    double req_us = (now_us() - t0) / rounds;
    cc_buf_t small = CC_BUF_INIT, big = CC_BUF_INIT;
    size_t small_out = 0, big_out = 0;
    make_answer(&small, 12, 0);
    make_answer(&big, 600, 200);
    double small_us = time_answer(&small, rounds, &small_out);
    double big_us = time_answer(&big, rounds / 4, &big_out);
    fprintf(
        stderr,
        "timing: request %zu bytes: %.1f us; short answer (14 chunks, %zu -> %zu bytes): %.1f us; "
        "long answer (804 chunks, %zu -> %zu bytes): %.1f us (%.2f us a chunk)\n",
        len, req_us, small.len, small_out, small_us, big.len, big_out, big_us, big_us / 804);
    cc_buf_free(&small);
    cc_buf_free(&big);
    free(body);
}

int main(void) {
    CC_RUN(test_request_goldens);
    CC_RUN(test_request_invariants);
    CC_RUN(test_request_errors);
    CC_RUN(test_request_edge_cases);
    CC_RUN(test_count_tokens_local);
    CC_RUN(test_reasoning_roundtrip);
    CC_RUN(test_response_goldens);
    CC_RUN(test_error_mapping);
    CC_RUN(test_idle_ping);
    CC_RUN(test_registry);
    CC_RUN(test_timings);
    return CC_DONE();
}
