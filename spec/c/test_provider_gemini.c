/* test_provider_gemini.c: the Gemini adapter (provider_gemini.c) against golden files in
 * spec/fixtures/translate/gemini/:
 *   request/<name>.in.json   {model, stream, endpoint, api_base, api_key, model_info,
 *                             litellm_params, body}: an Anthropic request and its deployment
 *   request/<name>.out.json  {target, headers, local_answer, body} or {error}
 *   request/cc-<scenario>-<NN>.out.json  the same for every real Claude Code request in
 *                             spec/fixtures/claude-code
 *   response/<name>.in.json  {stream, status, model, headers, chunks | body | raw}: what Gemini
 *                             answers (chunks are sent as SSE events)
 *   response/<name>.out.json {status, headers, feed_rc, end_rc, events | body}
 * Files are compared as parsed JSON, with generated ids (msg_, toolu_, srvtoolu_) numbered in
 * order of appearance. UPDATE_GOLDEN=1 rewrites the .out.json files.
 * Every stream is also fed split at each byte boundary and one byte at a time (the output must
 * not change), and every output goes through the Anthropic invariant checker. Besides the
 * golden files: the properties the golden files must have (no forbidden schema keyword in any
 * Claude Code tool, system messages folded, function responses named and ordered, signatures
 * carried across a round trip), user errors, and timings (printed). */
#include <cjson/cJSON.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anthropic_check.h"
#include "providers/anthropic_stream.h"
#include "buf.h"
#include "check.h"
#include "json/json_body.h"
#include "providers/providers.h"
#include "http/sse.h"
#include "providers/translate.h"

#define GEMINI_DIR CC_FIXTURES_DIR "/translate/gemini"

static int update_golden;

static cJSON *read_json(const char *path) {
    char *raw = read_file(path, NULL);
    cJSON *j = raw ? cJSON_Parse(raw) : NULL;
    free(raw);
    return j;
}

/* Compares `got` with the golden file at `path` (or rewrites it under UPDATE_GOLDEN=1). */
static void golden(const char *path, const cJSON *got) {
    if (update_golden) {
        char *text = cJSON_Print(got);
        FILE *f = fopen(path, "wb");
        CHECK(f && text);
        if (f && text) {
            fputs(text, f);
            fputs("\n", f);
        }
        if (f) fclose(f);
        free(text);
        return;
    }
    cJSON *want = read_json(path);
    if (!want) {
        fprintf(stderr, "  %s: missing or not JSON; run with UPDATE_GOLDEN=1 to write it\n", path);
        CHECK(0);
        return;
    }
    if (!cJSON_Compare(want, got, 1)) {
        char *g = cJSON_Print(got);
        fprintf(stderr, "  %s differs; got:\n%s\n", path, g ? g : "(null)");
        free(g);
        CHECK(0);
    }
    cJSON_Delete(want);
}

/* Replaces every generated id ("msg_...", "toolu_...", "srvtoolu_...") by "<prefix>N", N in
 * order of first appearance, so outputs compare across runs. */
static void normalize_ids(const char *in, size_t len, cc_buf_t *out) {
    static const char *const prefixes[] = {"srvtoolu_", "toolu_", "msg_"};
    char *seen[256];
    int n_seen = 0;
    size_t i = 0;
    while (i < len) {
        size_t plen = 0;
        const char *pre = NULL;
        if (i > 0 && in[i - 1] == '"')
            for (int p = 0; p < 3 && !pre; p++) {
                size_t l = strlen(prefixes[p]);
                if (i + l <= len && memcmp(in + i, prefixes[p], l) == 0) {
                    pre = prefixes[p];
                    plen = l;
                }
            }
        if (!pre) {
            cc_buf_append(out, in + i, 1);
            i++;
            continue;
        }
        size_t e = i + plen;
        while (e < len && (in[e] == '_' || (in[e] >= '0' && in[e] <= '9') ||
                           (in[e] >= 'a' && in[e] <= 'z') || (in[e] >= 'A' && in[e] <= 'Z')))
            e++;
        int k = -1;
        for (int s = 0; s < n_seen; s++)
            if (strlen(seen[s]) == e - i && memcmp(seen[s], in + i, e - i) == 0) k = s;
        if (k < 0 && n_seen < 256) {
            seen[n_seen] = strndup(in + i, e - i);
            k = n_seen++;
        }
        cc_buf_printf(out, "%s%d", pre, k + 1);
        i = e;
    }
    for (int s = 0; s < n_seen; s++)
        free(seen[s]);
}

/* ---- requests ----------------------------------------------------------------------------- */

typedef struct {
    cc_model_t dep;
    cc_xlate_ctx_t ctx;
    cJSON *info, *params;
} deploy_t;

static void deploy_init(deploy_t *d, const cJSON *spec) {
    memset(d, 0, sizeof *d);
    const cJSON *v;
    d->dep.provider = (char *)"gemini";
    v = cJSON_GetObjectItemCaseSensitive(spec, "model");
    d->dep.upstream_model = (char *)(cJSON_IsString(v) ? v->valuestring : "gemini-2.5-pro");
    v = cJSON_GetObjectItemCaseSensitive(spec, "api_base");
    d->dep.api_base =
        (char *)(cJSON_IsString(v) ? v->valuestring : "https://generativelanguage.googleapis.com");
    v = cJSON_GetObjectItemCaseSensitive(spec, "api_key");
    d->dep.api_key = (char *)(cJSON_IsString(v) ? v->valuestring : NULL);
    v = cJSON_GetObjectItemCaseSensitive(spec, "model_info");
    d->info = v ? cJSON_Duplicate(v, 1) : NULL;
    d->dep.model_info = d->info;
    v = cJSON_GetObjectItemCaseSensitive(spec, "litellm_params");
    d->params = v ? cJSON_Duplicate(v, 1) : NULL;
    d->dep.litellm_params = d->params;
    d->ctx.deployment = &d->dep;
    d->ctx.upstream_model = d->dep.upstream_model;
    v = cJSON_GetObjectItemCaseSensitive(spec, "client_model");
    d->ctx.client_model = cJSON_IsString(v) ? v->valuestring : "claude-sonnet-4-5";
    v = cJSON_GetObjectItemCaseSensitive(spec, "endpoint");
    d->ctx.endpoint = cJSON_IsString(v) ? v->valuestring : "messages";
    d->ctx.stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "stream"));
}

static void deploy_free(deploy_t *d) {
    cJSON_Delete(d->info);
    cJSON_Delete(d->params);
}

/* Translates `body` and returns {target, headers, local_answer, body} or {error}. */
static cJSON *translate(const cc_xlate_ctx_t *ctx, const char *body, size_t len) {
    cc_xlate_request_t req = {CC_BUF_INIT, CC_HEADERS_INIT, CC_BUF_INIT, false};
    cc_buf_t err = CC_BUF_INIT;
    cJSON *o = cJSON_CreateObject();
    if (cc_provider_gemini.request(ctx, body, len, &req, &err) != 0) {
        CHECK(err.len > 0);
        cJSON_AddStringToObject(o, "error", err.data ? err.data : "");
    } else {
        cJSON_AddStringToObject(o, "target", req.target.data ? req.target.data : "");
        cJSON *h = cJSON_AddObjectToObject(o, "headers");
        for (size_t i = 0; i < req.headers.n; i++)
            cJSON_AddStringToObject(h, req.headers.items[i].name, req.headers.items[i].value);
        cJSON_AddBoolToObject(o, "local_answer", req.local_answer);
        cJSON *b = cJSON_ParseWithLength(req.body.data ? req.body.data : "", req.body.len);
        CHECK(b != NULL);
        cJSON_AddItemToObject(o, "body", b ? b : cJSON_CreateNull());
    }
    cc_xlate_request_free(&req);
    cc_buf_free(&err);
    return o;
}

static cJSON *translate_spec(const cJSON *spec) {
    deploy_t d;
    deploy_init(&d, spec);
    char *body = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(spec, "body"));
    cJSON *o = translate(&d.ctx, body, strlen(body));
    free(body);
    deploy_free(&d);
    return o;
}

static char *out_path(const char *in_path) {
    cc_buf_t b = CC_BUF_INIT;
    size_t n = strlen(in_path) - strlen(".in.json");
    cc_buf_append(&b, in_path, n);
    cc_buf_puts(&b, ".out.json");
    return cc_buf_steal(&b, NULL);
}

static void test_request_goldens(void) {
    glob_t g;
    CHECK_EQ_INT(glob(GEMINI_DIR "/request/*.in.json", 0, NULL, &g), 0);
    CHECK(g.gl_pathc >= 10);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        cJSON *spec = read_json(g.gl_pathv[i]);
        CHECK(spec != NULL);
        if (!spec) continue;
        cJSON *got = translate_spec(spec);
        char *out = out_path(g.gl_pathv[i]);
        golden(out, got);
        free(out);
        cJSON_Delete(got);
        cJSON_Delete(spec);
    }
    globfree(&g);
}

/* The Gemini model each Claude Code scenario is sent to, for variety of thinking configs. */
static const char *scenario_model(const char *path) {
    if (strstr(path, "b_thinking_parallel_tools")) return "gemini-3-flash-preview";
    if (strstr(path, "b_tool_roundtrip")) return "gemini-2.5-pro";
    if (strstr(path, "e_model_sonnet45")) return "gemini-2.5-pro";
    if (strstr(path, "e_model_haiku")) return "gemini-2.5-flash-lite";
    if (strstr(path, "c_")) return "gemini-2.5-flash";
    return "gemini-3-pro-preview";
}

/* clang-format off */
static const char *const forbidden[] = {
    "$schema", "additionalProperties", "propertyNames", "const", "exclusiveMinimum",
    "exclusiveMaximum", "$ref", "$defs", "default", "examples", "patternProperties", NULL};
/* clang-format on */

/* Counts forbidden keywords at schema positions below `s`. */
static int forbidden_in(const cJSON *s) {
    int n = 0;
    const cJSON *it;
    if (!cJSON_IsObject(s)) return 0;
    cJSON_ArrayForEach(it, s) {
        for (int k = 0; forbidden[k]; k++)
            if (strcmp(it->string, forbidden[k]) == 0) n++;
        if (strcmp(it->string, "type") == 0 && !cJSON_IsString(it)) n++;
        if (strcmp(it->string, "format") == 0 && cJSON_IsString(it) &&
            strcmp(it->valuestring, "date-time") != 0 && strcmp(it->valuestring, "enum") != 0)
            n++;
    }
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    cJSON_ArrayForEach(it, props) n += forbidden_in(it);
    n += forbidden_in(cJSON_GetObjectItemCaseSensitive(s, "items"));
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(s, "anyOf")) n += forbidden_in(it);
    return n;
}

static bool parts_contain(const cJSON *parts, const char *needle) {
    const cJSON *p;
    cJSON_ArrayForEach(p, parts) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (cJSON_IsString(t) && strstr(t->valuestring, needle)) return true;
    }
    return false;
}

static void test_claude_code_requests(void) {
    glob_t g;
    CHECK_EQ_INT(glob(CC_FIXTURES_DIR "/claude-code/*/*.body.json", 0, NULL, &g), 0);
    CHECK(g.gl_pathc >= 10);
    int decls_checked = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *path = g.gl_pathv[i];
        size_t len = 0;
        char *body = read_file(path, &len);
        cJSON *in = body ? cJSON_Parse(body) : NULL;
        CHECK(in != NULL);
        if (!in) continue;
        cJSON *spec = cJSON_CreateObject();
        cJSON_AddStringToObject(spec, "model", scenario_model(path));
        cJSON_AddStringToObject(spec, "api_key", "AIza-test-key");
        cJSON_AddBoolToObject(spec, "stream",
                              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "stream")));
        if (strstr(path, "count_tokens")) cJSON_AddStringToObject(spec, "endpoint", "count_tokens");
        deploy_t d;
        deploy_init(&d, spec);
        cJSON *got = translate(&d.ctx, body, len);

        /* golden: request/cc-<scenario>-<file>.out.json */
        const char *rel = strstr(path, "claude-code/") + strlen("claude-code/");
        cc_buf_t name = CC_BUF_INIT;
        cc_buf_puts(&name, GEMINI_DIR "/request/cc-");
        for (const char *p = rel; *p && strcmp(p, ".body.json") != 0; p++)
            cc_buf_append(&name, *p == '/' ? "-" : p, 1);
        cc_buf_puts(&name, ".out.json");
        golden(name.data, got);
        cc_buf_free(&name);

        CHECK(cJSON_GetObjectItemCaseSensitive(got, "error") == NULL);
        const cJSON *gb = cJSON_GetObjectItemCaseSensitive(got, "body");
        if (strstr(path, "count_tokens")) {
            CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(got, "local_answer")));
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(gb, "input_tokens");
            CHECK(cJSON_IsNumber(n) && n->valueint > 0);
        } else {
            /* Only Gemini's members go upstream. */
            const cJSON *it;
            cJSON_ArrayForEach(it, gb) {
                CHECK(strcmp(it->string, "contents") == 0 ||
                      strcmp(it->string, "systemInstruction") == 0 ||
                      strcmp(it->string, "tools") == 0 || strcmp(it->string, "toolConfig") == 0 ||
                      strcmp(it->string, "generationConfig") == 0);
            }
            /* Every tool schema is clean. */
            const cJSON *decls = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(gb, "tools"), 0),
                "functionDeclarations");
            CHECK(cJSON_GetArraySize(decls) >= 11);
            const cJSON *fd;
            cJSON_ArrayForEach(fd, decls) {
                CHECK_EQ_INT(forbidden_in(cJSON_GetObjectItemCaseSensitive(fd, "parameters")), 0);
                CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(fd, "name")->valuestring,
                             "DeferredToolPlaceholder") != 0);
                decls_checked++;
            }
            /* The system prompt: billing header gone, mid-conversation system folded in. */
            const cJSON *sys = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(gb, "systemInstruction"), "parts");
            CHECK(!parts_contain(sys, "x-anthropic-billing-header"));
            CHECK(parts_contain(sys, "Claude"));
            bool has_system_msg = false;
            const cJSON *m;
            cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(in, "messages")) {
                if (strcmp(cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring, "system") == 0)
                    has_system_msg = true;
            }
            if (has_system_msg) CHECK(parts_contain(sys, "# Environment"));
            /* Roles alternate and are Gemini's. */
            const cJSON *prev = NULL;
            cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(gb, "contents")) {
                const char *role = cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring;
                CHECK(strcmp(role, "user") == 0 || strcmp(role, "model") == 0);
                CHECK(!prev || strcmp(cJSON_GetObjectItemCaseSensitive(prev, "role")->valuestring,
                                      role) != 0);
                if (has_system_msg) /* then the environment text is only in the system prompt */
                    CHECK(!parts_contain(cJSON_GetObjectItemCaseSensitive(m, "parts"),
                                         "# Environment"));
                prev = m;
            }
            const cJSON *gc = cJSON_GetObjectItemCaseSensitive(gb, "generationConfig");
            const cJSON *mo = cJSON_GetObjectItemCaseSensitive(gc, "maxOutputTokens");
            CHECK(cJSON_IsNumber(mo) && mo->valueint <= 65536);
            CHECK(cJSON_GetObjectItemCaseSensitive(gc, "thinkingConfig") != NULL);
            CHECK_EQ_STR(cJSON_GetObjectItemCaseSensitive(
                             cJSON_GetObjectItemCaseSensitive(got, "headers"), "x-goog-api-key")
                             ->valuestring,
                         "AIza-test-key");
        }
        if (strstr(path, "b_thinking_parallel_tools/02")) {
            /* Two Bash calls answered in reverse completion order: responses follow the calls,
             * named Bash; the call turn (Anthropic thinking dropped) gets the skip signature. */
            const cJSON *contents = cJSON_GetObjectItemCaseSensitive(gb, "contents");
            int n = cJSON_GetArraySize(contents);
            const cJSON *model = cJSON_GetArrayItem(contents, n - 2);
            const cJSON *user = cJSON_GetArrayItem(contents, n - 1);
            const cJSON *mp = cJSON_GetObjectItemCaseSensitive(model, "parts");
            const cJSON *up = cJSON_GetObjectItemCaseSensitive(user, "parts");
            CHECK_EQ_INT(cJSON_GetArraySize(mp), 2);
            CHECK_EQ_STR(
                cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(mp, 0), "thoughtSignature")
                    ->valuestring,
                "skip_thought_signature_validator");
            CHECK(!cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(mp, 1), "thoughtSignature"));
            CHECK_EQ_INT(cJSON_GetArraySize(up), 2);
            for (int k = 0; k < 2; k++) {
                const cJSON *fr =
                    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(up, k), "functionResponse");
                CHECK_EQ_STR(cJSON_GetObjectItemCaseSensitive(fr, "name")->valuestring, "Bash");
                CHECK_EQ_STR(cJSON_GetObjectItemCaseSensitive(
                                 cJSON_GetObjectItemCaseSensitive(fr, "response"), "content")
                                 ->valuestring,
                             k == 0 ? "one" : "two");
            }
        }
        cJSON_Delete(got);
        deploy_free(&d);
        cJSON_Delete(spec);
        cJSON_Delete(in);
        free(body);
    }
    globfree(&g);
    CHECK(decls_checked >= 80);
}

/* Specific expectations of the synthetic request cases (beyond their golden files). */
static cJSON *translate_file(const char *name) {
    cc_buf_t p = CC_BUF_INIT;
    cc_buf_printf(&p, GEMINI_DIR "/request/%s.in.json", name);
    cJSON *spec = read_json(p.data);
    cc_buf_free(&p);
    CHECK(spec != NULL);
    cJSON *o = spec ? translate_spec(spec) : cJSON_CreateObject();
    cJSON_Delete(spec);
    return o;
}

static const cJSON *path_get(const cJSON *j, const char *path) {
    char key[64];
    while (j && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key) return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        path += n + (path[n] == '.');
        if (key[0] >= '0' && key[0] <= '9')
            j = cJSON_GetArrayItem(j, atoi(key));
        else
            j = cJSON_GetObjectItemCaseSensitive(j, key);
    }
    return j;
}

static const char *path_str(const cJSON *j, const char *path) {
    const cJSON *v = path_get(j, path);
    return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static double path_num(const cJSON *j, const char *path) {
    const cJSON *v = path_get(j, path);
    return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}

static void test_request_details(void) {
    cJSON *o = translate_file("system_folding");
    CHECK_EQ_STR(path_str(o, "target"),
                 "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
    CHECK_EQ_INT(cJSON_GetArraySize(path_get(o, "body.systemInstruction.parts")), 4);
    CHECK_EQ_STR(path_str(o, "body.systemInstruction.parts.2.text"),
                 "# Environment\nPlatform: linux");
    CHECK_EQ_STR(path_str(o, "body.systemInstruction.parts.3.text"), "Late system note.");
    CHECK_EQ_INT(cJSON_GetArraySize(path_get(o, "body.contents")), 3); /* user, model, user */
    CHECK_EQ_INT(cJSON_GetArraySize(path_get(o, "body.contents.0.parts")), 2);
    CHECK_EQ_INT(cJSON_GetArraySize(path_get(o, "body.generationConfig.stopSequences")), 5);
    CHECK_EQ_INT(path_num(o, "body.generationConfig.maxOutputTokens"), 65536);
    cJSON_Delete(o);

    o = translate_file("tool_results");
    const cJSON *up = path_get(o, "body.contents.2.parts");
    CHECK_EQ_STR(path_str(up, "0.functionResponse.name"), "Bash");
    CHECK_EQ_STR(path_str(up, "0.functionResponse.response.content"), "one\ntwo");
    CHECK_EQ_STR(path_str(up, "1.functionResponse.name"), "Read");
    CHECK_EQ_STR(path_str(up, "2.functionResponse.name"), "Bash");
    CHECK_EQ_STR(path_str(up, "2.functionResponse.response.error"), "exit 1");
    CHECK_EQ_STR(path_str(up, "3.inlineData.mimeType"), "image/png");
    CHECK(strstr(path_str(up, "4.text"), "toolu_unknown") != NULL);
    CHECK_EQ_STR(path_str(o, "body.contents.1.parts.1.thoughtSignature"),
                 "skip_thought_signature_validator");
    CHECK_EQ_INT(cJSON_GetArraySize(path_get(o, "body.tools.0.functionDeclarations")), 3);
    CHECK(path_get(o, "body.tools.0.functionDeclarations.2.parameters") == NULL); /* Agent {} */
    CHECK_EQ_STR(path_str(o, "body.toolConfig.functionCallingConfig.mode"), "AUTO");
    cJSON_Delete(o);

    o = translate_file("thought_signatures");
    CHECK_EQ_STR(path_str(o, "target"), "/v1beta/models/gemini-3-pro-preview:generateContent");
    CHECK_EQ_STR(path_str(o, "body.contents.1.parts.0.thoughtSignature"), "U0lHLUZDLTE=");
    CHECK(path_get(o, "body.contents.1.parts.1.thoughtSignature") == NULL);
    CHECK_EQ_STR(path_str(o, "body.contents.2.parts.0.functionResponse.response.content"), "a b");
    CHECK_EQ_STR(path_str(o, "body.contents.3.parts.1.thoughtSignature"), "U0lHLVRFWFQ=");
    CHECK(path_get(o, "body.contents.3.parts.0.thoughtSignature") == NULL);
    CHECK_EQ_STR(path_str(o, "body.contents.5.parts.0.thoughtSignature"), "U0lHLUVORA==");
    CHECK_EQ_STR(path_str(o, "body.contents.7.parts.0.thoughtSignature"),
                 "skip_thought_signature_validator");
    CHECK_EQ_STR(path_str(o, "body.generationConfig.thinkingConfig.thinkingLevel"), "low");
    cJSON_Delete(o);

    o = translate_file("tool_choice_tool");
    CHECK_EQ_STR(path_str(o, "target"), "/models/gemini-2.5-flash:generateContent");
    CHECK_EQ_STR(path_str(o, "body.toolConfig.functionCallingConfig.mode"), "ANY");
    CHECK_EQ_STR(path_str(o, "body.toolConfig.functionCallingConfig.allowedFunctionNames.0"),
                 "record");
    CHECK_EQ_INT(path_num(o, "body.generationConfig.maxOutputTokens"), 8192);
    CHECK_EQ_INT(path_num(o, "body.generationConfig.thinkingConfig.thinkingBudget"), 8191);
    cJSON_Delete(o);

    o = translate_file("tool_choice_none_search");
    CHECK(path_get(o, "body.tools.0.googleSearch") != NULL);
    CHECK(path_get(o, "body.toolConfig") == NULL);
    CHECK_EQ_INT(path_num(o, "body.generationConfig.maxOutputTokens"), 4096);
    CHECK_EQ_STR(path_str(o, "body.generationConfig.thinkingConfig.thinkingLevel"), "medium");
    CHECK(path_get(o, "headers.x-goog-api-key") == NULL);
    cJSON_Delete(o);

    o = translate_file("search_with_functions");
    CHECK(path_get(o, "body.tools.1") == NULL);
    CHECK(path_get(o, "body.tools.0.googleSearch") == NULL);
    CHECK(path_get(o, "body.generationConfig.thinkingConfig") == NULL);
    cJSON_Delete(o);
}

/* A tool_use id used twice (a client bug): each result answers the closest call before it. */
static void test_repeated_tool_id(void) {
    cc_xlate_ctx_t ctx = {.upstream_model = "gemini-2.5-pro",
                          .client_model = "claude-x",
                          .endpoint = "messages",
                          .stream = true};
    const char *body =
        "{\"messages\":[{\"role\":\"user\",\"content\":\"go\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"dup\","
        "\"name\":\"First\",\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":"
        "\"tool_result\",\"tool_use_id\":\"dup\",\"content\":\"1\"}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"dup\","
        "\"name\":\"Second\",\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":"
        "\"tool_result\",\"tool_use_id\":\"dup\",\"content\":\"2\"}]}]}";
    cJSON *o = translate(&ctx, body, strlen(body));
    CHECK_EQ_STR(path_str(o, "body.contents.2.parts.0.functionResponse.name"), "First");
    CHECK_EQ_STR(path_str(o, "body.contents.4.parts.0.functionResponse.name"), "Second");
    cJSON_Delete(o);
}

static void test_request_errors(void) {
    deploy_t d;
    cJSON *spec = cJSON_Parse("{\"model\":\"gemini-2.5-pro\",\"stream\":true}");
    deploy_init(&d, spec);
    static const char *const bad[] = {"",
                                      "[]",
                                      "{\"messages\":{}}",
                                      "{\"messages\":[1]}",
                                      "not json",
                                      "{\"messages\":[{\"role\":\"user\"}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *o = translate(&d.ctx, bad[i], strlen(bad[i]));
        CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "error")));
        cJSON_Delete(o);
    }
    /* No model at all. */
    d.ctx.upstream_model = NULL;
    d.dep.upstream_model = NULL;
    const char *ok = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    cJSON *o = translate(&d.ctx, ok, strlen(ok));
    CHECK(strstr(path_str(o, "error"), "litellm_params.model") != NULL);
    cJSON_Delete(o);
    /* count_tokens of a broken body. */
    d.ctx.endpoint = "count_tokens";
    o = translate(&d.ctx, "{", 1);
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "error")));
    cJSON_Delete(o);
    deploy_free(&d);
    cJSON_Delete(spec);
}

/* count_tokens is answered here as by every adapter: the same answer, the same refusal. */
static void test_count_tokens_shared(void) {
    size_t len = 0;
    char *body = read_file(CC_FIXTURES_DIR "/claude-code/count_tokens/05-count_tokens.body.json",
                           &len);
    CHECK(body != NULL);
    if (!body) return;
    cc_model_t dep = {0};
    char gemini[] = "gemini", groq[] = "groq";
    cc_xlate_ctx_t ctx = {.deployment = &dep, .upstream_model = "m", .endpoint = "count_tokens"};
    const char *inputs[] = {body, "[1]"};
    size_t lens[] = {len, 3};
    for (size_t i = 0; i < 2; i++) {
        cc_xlate_request_t g = {0}, o = {0}, want = {0};
        cc_buf_t ge = CC_BUF_INIT, oe = CC_BUF_INIT, we = CC_BUF_INIT;
        dep.provider = gemini;
        int grc = cc_provider_gemini.request(&ctx, inputs[i], lens[i], &g, &ge);
        dep.provider = groq;
        int orc = cc_provider_openai.request(&ctx, inputs[i], lens[i], &o, &oe);
        int wrc = cc_xlate_count_tokens(inputs[i], lens[i], &want, &we);
        CHECK_EQ_INT(wrc, i == 0 ? 0 : -1);
        CHECK_EQ_INT(grc, wrc);
        CHECK_EQ_INT(orc, wrc);
        if (wrc == 0) {
            CHECK(g.local_answer && o.local_answer && want.local_answer);
            CHECK_EQ_STR(g.body.data, want.body.data);
            CHECK_EQ_STR(o.body.data, want.body.data);
            CHECK(strncmp(want.body.data, "{\"input_tokens\":", 16) == 0);
            CHECK_EQ_INT(g.target.len + o.target.len, 0);
        } else {
            CHECK_EQ_STR(ge.data, we.data);
            CHECK_EQ_STR(oe.data, we.data);
        }
        cc_xlate_request_free(&g);
        cc_xlate_request_free(&o);
        cc_xlate_request_free(&want);
        cc_buf_free(&ge);
        cc_buf_free(&oe);
        cc_buf_free(&we);
    }
    free(body);
}

/* ---- responses ---------------------------------------------------------------------------- */

typedef struct {
    int status;
    cc_headers_t headers;
    int feed_rc, end_rc;
    cc_buf_t out;
} run_t;

static void run_free(run_t *r) {
    cc_headers_free(&r->headers);
    cc_buf_free(&r->out);
}

/* Runs the response translator over `data` fed in the pieces that `cuts` (ascending offsets,
 * n_cuts of them) make; cuts == NULL with n_cuts == 1 means one byte at a time. */
static void run_response(const cc_xlate_ctx_t *ctx, int status, const cc_headers_t *up_headers,
                         const char *data, size_t len, const size_t *cuts, size_t n_cuts,
                         run_t *r) {
    memset(r, 0, sizeof *r);
    cc_xlate_resp_t *t =
        cc_provider_gemini.response_new(ctx, status, up_headers, &r->status, &r->headers);
    CHECK(t != NULL);
    if (!t) return;
    size_t pos = 0;
    if (!cuts && n_cuts == 1) {
        for (; pos < len; pos++)
            if (cc_provider_gemini.response_feed(t, data + pos, 1, &r->out) < 0) r->feed_rc = -1;
    } else {
        for (size_t i = 0; i <= n_cuts; i++) {
            size_t end = i < n_cuts ? cuts[i] : len;
            if (cc_provider_gemini.response_feed(t, data + pos, end - pos, &r->out) < 0)
                r->feed_rc = -1;
            pos = end;
        }
    }
    r->end_rc = cc_provider_gemini.response_end(t, &r->out);
    cc_provider_gemini.response_free(t);
}

static int sse_collect(void *arg, const cc_sse_event_t *ev) {
    cJSON *events = arg;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "event", ev->event);
    cJSON *d = cJSON_ParseWithLength(ev->data, ev->data_len);
    CHECK(d != NULL);
    cJSON_AddItemToObject(e, "data", d ? d : cJSON_CreateString(ev->data));
    cJSON_AddItemToArray(events, e);
    return 0;
}

/* The output as golden JSON, ids normalised. */
static cJSON *describe_run(const run_t *r, bool stream) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "status", r->status);
    cJSON *h = cJSON_AddObjectToObject(o, "headers");
    for (size_t i = 0; i < r->headers.n; i++)
        cJSON_AddStringToObject(h, r->headers.items[i].name, r->headers.items[i].value);
    cJSON_AddNumberToObject(o, "feed_rc", r->feed_rc);
    cJSON_AddNumberToObject(o, "end_rc", r->end_rc);
    cc_buf_t norm = CC_BUF_INIT;
    normalize_ids(r->out.data ? r->out.data : "", r->out.len, &norm);
    if (stream && r->status == 200) {
        cJSON *events = cJSON_AddArrayToObject(o, "events");
        cc_sse_parser_t p;
        cc_sse_parser_init(&p, sse_collect, events);
        cc_sse_feed(&p, norm.data ? norm.data : "", norm.len);
        cc_sse_finish(&p);
        cc_sse_parser_free(&p);
    } else {
        cJSON *b = cJSON_ParseWithLength(norm.data ? norm.data : "", norm.len);
        if (b)
            cJSON_AddItemToObject(o, "body", b);
        else
            cJSON_AddStringToObject(o, "body_text", norm.data ? norm.data : "");
    }
    cc_buf_free(&norm);
    return o;
}

/* The invariant checker on an output: a complete stream (or, when the translator reports the
 * answer incomplete, a clean start of one), a message, or an error body. */
static void check_output(const run_t *r, bool stream, const char *name) {
    cc_buf_t err = CC_BUF_INIT;
    const char *data = r->out.data ? r->out.data : "";
    int rc;
    if (r->status != 200)
        rc = cc_acheck_error_body(data, r->out.len, &err);
    else if (stream && (r->end_rc < 0 || r->feed_rc < 0)) /* complete, or cut short cleanly */
        rc = cc_acheck_stream_prefix(data, r->out.len, NULL) &&
             cc_acheck_stream(data, r->out.len, &err);
    else if (stream)
        rc = cc_acheck_stream(data, r->out.len, &err);
    else if (strncmp(data, "{\"type\":\"error\"", 15) == 0)
        rc = cc_acheck_error_body(data, r->out.len, &err);
    else
        rc = cc_acheck_message(data, r->out.len, &err);
    if (rc != 0) fprintf(stderr, "  %s: checker: %s\n", name, err.data ? err.data : "?");
    CHECK_EQ_INT(rc, 0);
    cc_buf_free(&err);
}

/* The upstream bytes of a response case. */
static void case_bytes(const cJSON *spec, cc_buf_t *out) {
    const cJSON *raw = cJSON_GetObjectItemCaseSensitive(spec, "raw");
    const cJSON *chunks = cJSON_GetObjectItemCaseSensitive(spec, "chunks");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(spec, "body");
    if (cJSON_IsString(raw)) {
        cc_buf_puts(out, raw->valuestring);
    } else if (chunks) {
        const cJSON *c;
        cJSON_ArrayForEach(c, chunks) {
            char *s = cJSON_PrintUnformatted(c);
            cc_buf_printf(out, "data: %s\r\n\r\n", s);
            free(s);
        }
    } else if (body) {
        char *s = cJSON_Print(body);
        cc_buf_puts(out, s);
        free(s);
    }
}

static int split_runs;

static void test_response_goldens(void) {
    glob_t g;
    CHECK_EQ_INT(glob(GEMINI_DIR "/response/*.in.json", 0, NULL, &g), 0);
    CHECK(g.gl_pathc >= 20);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *name = strrchr(g.gl_pathv[i], '/') + 1;
        cJSON *spec = read_json(g.gl_pathv[i]);
        CHECK(spec != NULL);
        if (!spec) continue;
        bool stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "stream"));
        int status = (int)path_num(spec, "status");
        cc_xlate_ctx_t ctx = {.upstream_model = "gemini-2.5-flash",
                              .client_model = path_str(spec, "model"),
                              .endpoint = "messages",
                              .stream = stream};
        cc_headers_t uh = CC_HEADERS_INIT;
        const cJSON *h;
        cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(spec, "headers")) {
            cc_headers_add(&uh, h->string, strlen(h->string), h->valuestring,
                           strlen(h->valuestring));
        }
        cc_buf_t bytes = CC_BUF_INIT;
        case_bytes(spec, &bytes);
        const char *data = bytes.data ? bytes.data : "";

        run_t whole;
        size_t none = 0;
        run_response(&ctx, status, &uh, data, bytes.len, &none, 0, &whole);
        cJSON *got = describe_run(&whole, stream);
        char *out = out_path(g.gl_pathv[i]);
        golden(out, got);
        free(out);
        check_output(&whole, stream, name);

        /* Any split gives the same bytes (ids aside). */
        cc_buf_t ref = CC_BUF_INIT;
        normalize_ids(whole.out.data ? whole.out.data : "", whole.out.len, &ref);
        int mismatches = 0;
        for (size_t k = 0; k <= bytes.len + 1; k++) {
            run_t r;
            if (k <= bytes.len)
                run_response(&ctx, status, &uh, data, bytes.len, &k, 1, &r);
            else
                run_response(&ctx, status, &uh, data, bytes.len, NULL, 1, &r);
            cc_buf_t norm = CC_BUF_INIT;
            normalize_ids(r.out.data ? r.out.data : "", r.out.len, &norm);
            if (norm.len != ref.len || (norm.len && memcmp(norm.data, ref.data, norm.len) != 0) ||
                r.end_rc != whole.end_rc || r.status != whole.status) {
                if (!mismatches++)
                    fprintf(stderr, "  %s: split at %zu differs:\n%s\n", name, k,
                            norm.data ? norm.data : "");
            }
            split_runs++;
            cc_buf_free(&norm);
            run_free(&r);
        }
        CHECK_EQ_INT(mismatches, 0);
        cc_buf_free(&ref);
        cJSON_Delete(got);
        run_free(&whole);
        cc_buf_free(&bytes);
        cc_headers_free(&uh);
        cJSON_Delete(spec);
    }
    globfree(&g);
    fprintf(stderr, "  %d split runs\n", split_runs);
}

/* What the response cases must show, beyond matching their golden files. */
static cJSON *run_case(const char *name, run_t *keep) {
    cc_buf_t p = CC_BUF_INIT;
    cc_buf_printf(&p, GEMINI_DIR "/response/%s.in.json", name);
    cJSON *spec = read_json(p.data);
    cc_buf_free(&p);
    CHECK(spec != NULL);
    bool stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "stream"));
    cc_xlate_ctx_t ctx = {.upstream_model = "gemini-2.5-flash",
                          .client_model = "claude-test",
                          .endpoint = "messages",
                          .stream = stream};
    cc_buf_t bytes = CC_BUF_INIT;
    case_bytes(spec, &bytes);
    run_t r;
    size_t none = 0;
    run_response(&ctx, (int)path_num(spec, "status"), NULL, bytes.data ? bytes.data : "", bytes.len,
                 &none, 0, &r);
    cJSON *o = describe_run(&r, stream);
    if (keep)
        *keep = r;
    else
        run_free(&r);
    cc_buf_free(&bytes);
    cJSON_Delete(spec);
    return o;
}

/* The data of the first event named `name` after `skip` others of that name. */
static const cJSON *event(const cJSON *o, const char *name, int skip) {
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, "events")) {
        if (strcmp(path_str(e, "event"), name) == 0 && skip-- == 0)
            return cJSON_GetObjectItemCaseSensitive(e, "data");
    }
    return NULL;
}

static void test_response_details(void) {
    cJSON *o = run_case("text", NULL);
    CHECK_EQ_INT(path_num(event(o, "message_start", 0), "message.usage.input_tokens"), 120);
    CHECK_EQ_STR(path_str(event(o, "message_start", 0), "message.model"), "claude-test");
    CHECK_EQ_STR(path_str(event(o, "message_delta", 0), "delta.stop_reason"), "end_turn");
    CHECK_EQ_INT(path_num(event(o, "message_delta", 0), "usage.output_tokens"), 9);
    cJSON_Delete(o);

    o = run_case("thinking_tool_calls", NULL);
    CHECK_EQ_STR(path_str(event(o, "content_block_start", 0), "content_block.type"), "thinking");
    const cJSON *sig = event(o, "content_block_delta", 2);
    CHECK_EQ_STR(path_str(sig, "delta.type"), "signature_delta");
    CHECK_EQ_STR(path_str(sig, "delta.signature"), "ccproxy:gemini:Q2lZQkJ5a0JydW1vcg==");
    CHECK_EQ_STR(path_str(event(o, "content_block_start", 1), "content_block.name"), "Bash");
    CHECK_EQ_STR(path_str(event(o, "content_block_start", 2), "content_block.name"), "Bash");
    CHECK_EQ_STR(path_str(event(o, "message_delta", 0), "delta.stop_reason"), "tool_use");
    CHECK_EQ_INT(path_num(event(o, "message_delta", 0), "usage.output_tokens"), 75);
    CHECK_EQ_INT(path_num(event(o, "message_delta", 0), "usage.input_tokens"), 1000);
    CHECK_EQ_INT(path_num(event(o, "message_delta", 0), "usage.cache_read_input_tokens"), 4000);
    cJSON_Delete(o);

    o = run_case("signature_after_text", NULL);
    CHECK_EQ_STR(path_str(event(o, "content_block_start", 1), "content_block.type"), "thinking");
    CHECK_EQ_STR(path_str(event(o, "content_block_delta", 2), "delta.signature"),
                 "ccproxy:gemini:dGV4dC1zaWc=");
    cJSON_Delete(o);

    o = run_case("max_tokens", NULL);
    CHECK_EQ_STR(path_str(event(o, "message_delta", 0), "delta.stop_reason"), "max_tokens");
    cJSON_Delete(o);

    o = run_case("safety", NULL);
    CHECK(strstr(path_str(event(o, "content_block_delta", 1), "delta.text"), "SAFETY") != NULL);
    CHECK_EQ_STR(path_str(event(o, "message_delta", 0), "delta.stop_reason"), "end_turn");
    cJSON_Delete(o);

    static const char *const stream_errors[] = {"malformed_function_call", "error_in_stream",
                                                "not_json_event"};
    for (size_t i = 0; i < sizeof stream_errors / sizeof stream_errors[0]; i++) {
        run_t r;
        o = run_case(stream_errors[i], &r);
        CHECK(event(o, "error", 0) != NULL);
        CHECK(event(o, "message_stop", 0) == NULL);
        CHECK_EQ_INT(r.end_rc < 0 || r.feed_rc < 0, 1);
        run_free(&r);
        cJSON_Delete(o);
    }
    /* A stream that ends cleanly before its finishReason ends so for the client too: what came,
     * no message_stop, no error event made up; the translator reports it incomplete. */
    static const char *const cut_short[] = {"cut_off", "empty_stream"};
    for (size_t i = 0; i < 2; i++) {
        run_t r;
        o = run_case(cut_short[i], &r);
        CHECK(event(o, "error", 0) == NULL);
        CHECK(event(o, "message_stop", 0) == NULL);
        CHECK_EQ_INT(r.end_rc, -1);
        run_free(&r);
        cJSON_Delete(o);
    }
    o = run_case("cut_off", NULL);
    CHECK_EQ_STR(path_str(event(o, "content_block_delta", 1), "delta.text"), "never finishes");
    cJSON_Delete(o);
    o = run_case("error_in_stream", NULL);
    CHECK_EQ_STR(path_str(event(o, "error", 0), "error.type"), "overloaded_error");
    cJSON_Delete(o);

    o = run_case("grounding", NULL);
    CHECK_EQ_STR(path_str(event(o, "content_block_start", 1), "content_block.type"),
                 "server_tool_use");
    CHECK_EQ_STR(path_str(event(o, "content_block_start", 2), "content_block.type"),
                 "web_search_tool_result");
    CHECK_EQ_INT(
        cJSON_GetArraySize(path_get(event(o, "content_block_start", 2), "content_block.content")),
        2);
    CHECK_EQ_INT(
        path_num(event(o, "message_delta", 0), "usage.server_tool_use.web_search_requests"), 1);
    CHECK_EQ_INT(path_num(event(o, "message_delta", 0), "usage.input_tokens"), 340);
    cJSON_Delete(o);

    o = run_case("nonstream_text_and_call", NULL);
    CHECK_EQ_STR(path_str(o, "body.content.0.type"), "thinking");
    CHECK_EQ_STR(path_str(o, "body.content.1.type"), "text");
    CHECK_EQ_STR(path_str(o, "body.content.2.type"), "thinking");
    CHECK_EQ_STR(path_str(o, "body.content.2.signature"), "ccproxy:gemini:bm9uLXN0cmVhbQ==");
    CHECK_EQ_STR(path_str(o, "body.content.3.type"), "tool_use");
    CHECK_EQ_STR(path_str(o, "body.content.3.input.file_path"), "/etc/hosts");
    CHECK_EQ_STR(path_str(o, "body.stop_reason"), "tool_use");
    CHECK_EQ_INT(path_num(o, "body.usage.input_tokens"), 388);
    cJSON_Delete(o);

    struct {
        const char *name;
        int status;
        const char *type;
        const char *needle;
    } errs[] = {
        {"error_400", 400, "invalid_request_error", "additionalProperties"},
        {"error_400_too_long", 400, "invalid_request_error", "prompt is too long"},
        {"error_400_api_key", 400, "authentication_error", "api_key"},
        {"error_401", 401, "authentication_error", "UNAUTHENTICATED"},
        {"error_403", 403, "permission_error", "PERMISSION_DENIED"},
        {"error_404", 404, "not_found_error", "gemini-9-pro"},
        {"error_429", 429, "rate_limit_error", "retry in 34s"},
        {"error_500", 500, "api_error", "internal error"},
        {"error_503", 529, "overloaded_error", "overloaded"},
        {"error_502_html", 502, "api_error", "Bad Gateway"},
        {"error_array_body", 400, "invalid_request_error", "location"},
        {"nonstream_malformed", 200, "api_error", "MALFORMED_FUNCTION_CALL"},
        {"nonstream_not_json", 200, "api_error", "not JSON"},
    };
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        o = run_case(errs[i].name, NULL);
        CHECK_EQ_INT(path_num(o, "status"), errs[i].status);
        CHECK_EQ_STR(path_str(o, "body.type"), "error");
        CHECK_EQ_STR(path_str(o, "body.error.type"), errs[i].type);
        if (!strstr(path_str(o, "body.error.message"), errs[i].needle)) {
            fprintf(stderr, "  %s: message lacks \"%s\"\n", errs[i].name, errs[i].needle);
            CHECK(0);
        }
        cJSON_Delete(o);
    }
}

/* A non-JSON error body or stream event with bytes that are not UTF-8 is quoted cleaned, so the
 * client's error stays valid JSON. */
static void test_error_quotes_are_utf8(void) {
    cc_xlate_ctx_t ctx = {.upstream_model = "gemini-2.5-pro",
                          .client_model = "claude-x",
                          .endpoint = "messages",
                          .stream = false};
    cc_headers_t ch = CC_HEADERS_INIT;
    int st = 0;
    cc_buf_t out = CC_BUF_INIT;
    cc_xlate_resp_t *t = cc_provider_gemini.response_new(&ctx, 502, NULL, &st, &ch);
    const char bad[] = "<html>Bad \xff\xfe Gateway \xe2\x82</html>";
    cc_provider_gemini.response_feed(t, bad, sizeof bad - 1, &out);
    cc_provider_gemini.response_end(t, &out);
    CHECK(cc_json_validate(out.data, out.len, NULL) == 0);
    CHECK(strstr(out.data, "Bad ") != NULL);
    cc_provider_gemini.response_free(t);
    cc_headers_free(&ch);
    cc_buf_free(&out);

    ctx.stream = true;
    t = cc_provider_gemini.response_new(&ctx, 200, NULL, &st, &ch);
    const char ev[] = "data: not json \xc3\n\n";
    cc_provider_gemini.response_feed(t, ev, sizeof ev - 1, &out);
    cc_provider_gemini.response_end(t, &out);
    const char *data = strstr(out.data ? out.data : "", "event: error\ndata: ");
    CHECK(data != NULL);
    if (data) {
        data += strlen("event: error\ndata: ");
        const char *nl = strchr(data, '\n');
        CHECK(nl && cc_json_validate(data, (size_t)(nl - data), NULL) == 0);
    }
    cc_provider_gemini.response_free(t);
    cc_headers_free(&ch);
    cc_buf_free(&out);
}

/* Retry-After survives, and a ping is sent only once the message started. */
static void test_headers_and_idle(void) {
    cc_xlate_ctx_t ctx = {.upstream_model = "gemini-2.5-pro",
                          .client_model = "claude-x",
                          .endpoint = "messages",
                          .stream = true};
    cc_headers_t up = CC_HEADERS_INIT, ch = CC_HEADERS_INIT;
    cc_headers_add(&up, "Retry-After", 11, "20", 2);
    int st = 0;
    cc_xlate_resp_t *t = cc_provider_gemini.response_new(&ctx, 429, &up, &st, &ch);
    CHECK_EQ_INT(st, 429);
    CHECK_EQ_STR(cc_headers_get(&ch, "retry-after"), "20");
    cc_provider_gemini.response_free(t);
    cc_headers_free(&ch);
    cc_headers_free(&up);

    t = cc_provider_gemini.response_new(&ctx, 200, NULL, &st, &ch);
    CHECK_EQ_STR(cc_headers_get(&ch, "content-type"), "text/event-stream");
    cc_buf_t out = CC_BUF_INIT;
    cc_provider_gemini.response_idle(t, &out);
    CHECK_EQ_INT(out.len, 0);
    const char *c = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"}]}}]}\n\n";
    CHECK_EQ_INT(cc_provider_gemini.response_feed(t, c, strlen(c), &out), 0);
    size_t before = out.len;
    cc_provider_gemini.response_idle(t, &out);
    CHECK(strstr(out.data + before, "event: ping") == out.data + before);
    const char *e = "data: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n";
    CHECK_EQ_INT(cc_provider_gemini.response_feed(t, e, strlen(e), &out), 0);
    CHECK_EQ_INT(cc_provider_gemini.response_end(t, &out), 0);
    before = out.len;
    cc_provider_gemini.response_idle(t, &out);
    CHECK_EQ_INT(out.len, before); /* nothing after message_stop */
    CHECK_EQ_INT(cc_acheck_stream(out.data, out.len, NULL), 0);
    cc_provider_gemini.response_free(t);
    cc_headers_free(&ch);
    cc_buf_free(&out);
}

/* A Gemini answer with a signed function call, stored as Claude Code stores it, then sent back
 * with the tool result: the signature returns on the same call, the result names it. */
static void test_signature_round_trip(void) {
    cc_xlate_ctx_t ctx = {.upstream_model = "gemini-3-pro-preview",
                          .client_model = "claude-opus-5-5",
                          .endpoint = "messages",
                          .stream = false};
    cc_headers_t ch = CC_HEADERS_INIT;
    int st = 0;
    cc_xlate_resp_t *t = cc_provider_gemini.response_new(&ctx, 200, NULL, &st, &ch);
    const char *answer =
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Let me look.\","
        "\"thoughtSignature\":\"VEVYVA==\"},{\"functionCall\":{\"name\":\"Glob\",\"args\":"
        "{\"pattern\":\"*.c\"}},\"thoughtSignature\":\"RkMtU0lH\"},{\"functionCall\":{\"name\":"
        "\"Read\",\"args\":{\"file_path\":\"/x\"}}}]},\"finishReason\":\"STOP\"}],"
        "\"usageMetadata\":{\"promptTokenCount\":10,\"candidatesTokenCount\":5}}";
    cc_buf_t out = CC_BUF_INIT;
    CHECK_EQ_INT(cc_provider_gemini.response_feed(t, answer, strlen(answer), &out), 0);
    CHECK_EQ_INT(cc_provider_gemini.response_end(t, &out), 0);
    cc_provider_gemini.response_free(t);
    cc_headers_free(&ch);
    cJSON *msg = cJSON_Parse(out.data);
    CHECK(msg != NULL);
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    CHECK_EQ_INT(cJSON_GetArraySize(content), 5); /* thinking, text, thinking, 2 tool_use */

    /* The next request: the assistant message as returned, then both results. */
    cJSON *req = cJSON_CreateObject();
    cJSON *msgs = cJSON_AddArrayToObject(req, "messages");
    cJSON *u = cJSON_CreateObject();
    cJSON_AddStringToObject(u, "role", "user");
    cJSON_AddStringToObject(u, "content", "find C files");
    cJSON_AddItemToArray(msgs, u);
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "role", "assistant");
    cJSON_AddItemToObject(a, "content", cJSON_Duplicate(content, 1));
    cJSON_AddItemToArray(msgs, a);
    cJSON *results = cJSON_CreateArray();
    for (int i = 4; i >= 3; i--) { /* completion order: Read first */
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "type", "tool_result");
        cJSON_AddStringToObject(r, "tool_use_id", path_str(content, i == 3 ? "3.id" : "4.id"));
        cJSON_AddStringToObject(r, "content", i == 3 ? "a.c" : "data");
        cJSON_AddItemToArray(results, r);
    }
    cJSON *u2 = cJSON_CreateObject();
    cJSON_AddStringToObject(u2, "role", "user");
    cJSON_AddItemToObject(u2, "content", results);
    cJSON_AddItemToArray(msgs, u2);
    char *body = cJSON_PrintUnformatted(req);
    ctx.stream = true;
    cJSON *o = translate(&ctx, body, strlen(body));
    const cJSON *mp = path_get(o, "body.contents.1.parts");
    CHECK_EQ_INT(cJSON_GetArraySize(mp), 3);
    CHECK_EQ_STR(path_str(mp, "0.text"), "Let me look.");
    CHECK_EQ_STR(path_str(mp, "0.thoughtSignature"), "VEVYVA==");
    CHECK_EQ_STR(path_str(mp, "1.functionCall.name"), "Glob");
    CHECK_EQ_STR(path_str(mp, "1.thoughtSignature"), "RkMtU0lH");
    CHECK(path_get(mp, "2.thoughtSignature") == NULL);
    const cJSON *rp = path_get(o, "body.contents.2.parts");
    CHECK_EQ_STR(path_str(rp, "0.functionResponse.name"), "Glob");
    CHECK_EQ_STR(path_str(rp, "0.functionResponse.response.content"), "a.c");
    CHECK_EQ_STR(path_str(rp, "1.functionResponse.name"), "Read");
    free(body);
    cJSON_Delete(o);
    cJSON_Delete(req);
    cJSON_Delete(msg);
    cc_buf_free(&out);
}

/* ---- timings (printed, not asserted) ------------------------------------------------------ */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_timings(void) {
    size_t len = 0;
    char *body = read_file(CC_FIXTURES_DIR "/claude-code/b_thinking_parallel_tools/"
                                           "02-messages.body.json",
                           &len);
    CHECK(body != NULL);
    cJSON *spec = cJSON_Parse("{\"model\":\"gemini-3-pro-preview\",\"stream\":true}");
    deploy_t d;
    deploy_init(&d, spec);
    int n = 200;
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        cc_xlate_request_t req = {CC_BUF_INIT, CC_HEADERS_INIT, CC_BUF_INIT, false};
        cc_buf_t err = CC_BUF_INIT;
        CHECK_EQ_INT(cc_provider_gemini.request(&d.ctx, body, len, &req, &err), 0);
        cc_xlate_request_free(&req);
        cc_buf_free(&err);
    }
    double ms = (now_ms() - t0) / n;
    fprintf(stderr, "  request of %zu bytes: %.3f ms per translation\n", len, ms);

    /* A stream of 2000 chunks of text and thinking. */
    cc_buf_t up = CC_BUF_INIT;
    for (int i = 0; i < 2000; i++)
        cc_buf_printf(
            &up,
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"word %d of "
            "a long streamed answer, with some \\\"quotes\\\" and unicode \\u00e9 \"%s}],"
            "\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":"
            "5000,\"candidatesTokenCount\":%d},\"modelVersion\":\"gemini-3-pro\"}\r\n\r\n",
            i, i < 200 ? ",\"thought\":true" : "", i);
    cc_buf_puts(&up,
                "data: {\"candidates\":[{\"content\":{\"parts\":[]},\"finishReason\":\"STOP\"}]"
                "}\r\n\r\n");
    cc_xlate_ctx_t ctx = {.upstream_model = "gemini-3-pro-preview",
                          .client_model = "claude-opus-5-5",
                          .endpoint = "messages",
                          .stream = true};
    t0 = now_ms();
    run_t r;
    size_t cuts[64];
    for (size_t i = 0; i < 64; i++)
        cuts[i] = up.len * (i + 1) / 65; /* 65 network reads */
    run_response(&ctx, 200, NULL, up.data, up.len, cuts, 64, &r);
    ms = now_ms() - t0;
    fprintf(stderr, "  stream of %zu bytes (2000 chunks) -> %zu bytes: %.2f ms (%.1f MB/s)\n",
            up.len, r.out.len, ms, up.len / 1e3 / (ms > 0 ? ms : 1e-3));
    CHECK_EQ_INT(cc_acheck_stream(r.out.data, r.out.len, NULL), 0);
    run_free(&r);
    cc_buf_free(&up);
    deploy_free(&d);
    cJSON_Delete(spec);
    free(body);
}

int main(void) {
    const char *u = getenv("UPDATE_GOLDEN");
    update_golden = u && *u && strcmp(u, "0") != 0;
    CC_RUN(test_request_goldens);
    CC_RUN(test_claude_code_requests);
    CC_RUN(test_request_details);
    CC_RUN(test_repeated_tool_id);
    CC_RUN(test_request_errors);
    CC_RUN(test_count_tokens_shared);
    CC_RUN(test_response_goldens);
    CC_RUN(test_response_details);
    CC_RUN(test_error_quotes_are_utf8);
    CC_RUN(test_headers_and_idle);
    CC_RUN(test_signature_round_trip);
    CC_RUN(test_timings);
    return CC_DONE();
}
