/* test_api_error.c: Anthropic error bodies and events (api_error.h), the status that goes with
 * each error type both ways, and that every adapter gives a whole answer that turns out to
 * be an error the same status for the same kind of error (one mapping, so they cannot drift
 * apart again). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "http/api_error.h"
#include "check.h"
#include "json/json_body.h"
#include "providers/providers.h"

static void test_type_of_status(void) {
    static const struct {
        int status;
        const char *type;
    } cases[] = {
        {400, "invalid_request_error"}, {401, "authentication_error"}, {403, "permission_error"},
        {404, "not_found_error"},       {413, "request_too_large"},    {429, "rate_limit_error"},
        {529, "overloaded_error"},      {500, "api_error"},            {502, "api_error"},
        {504, "api_error"},             {418, "invalid_request_error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_EQ_STR(cc_api_error_type(cases[i].status), cases[i].type);
}

static void test_status_of_type(void) {
    CHECK_EQ_INT(cc_api_error_status("invalid_request_error"), 400);
    CHECK_EQ_INT(cc_api_error_status("rate_limit_error"), 429);
    CHECK_EQ_INT(cc_api_error_status("overloaded_error"), 529);
    CHECK_EQ_INT(cc_api_error_status("api_error"), 502);
    CHECK_EQ_INT(cc_api_error_status("authentication_error"), 502);
    CHECK_EQ_INT(cc_api_error_status("no such type"), 502);
    CHECK_EQ_INT(cc_api_error_status(NULL), 502);
    /* Where both directions are defined, they agree. */
    static const int round[] = {400, 429, 529};
    for (size_t i = 0; i < sizeof round / sizeof round[0]; i++)
        CHECK_EQ_INT(cc_api_error_status(cc_api_error_type(round[i])), round[i]);
}

static void test_bodies(void) {
    cc_buf_t b = CC_BUF_INIT;
    cc_api_error_json(&b, "api_error", "a \"quoted\"\nline");
    CHECK_EQ_STR(b.data, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                         "\"message\":\"a \\\"quoted\\\"\\nline\"}}");
    CHECK_EQ_INT(cc_json_validate(b.data, b.len, NULL), 0);
    cc_buf_reset(&b);
    cc_api_error_sse(&b, "overloaded_error", "busy");
    CHECK_EQ_STR(b.data, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                         "\"overloaded_error\",\"message\":\"busy\"}}\n\n");
    cc_buf_free(&b);
}

/* One whole (non-stream) answer through an adapter: the body, the status the held head gets,
 * and the error type in the body. */
static int whole_answer(const cc_provider_t *p, const char *body, char *type, size_t type_cap) {
    cc_model_t d = {0};
    char name[8];
    snprintf(name, sizeof name, "%s", p == &cc_provider_gemini ? "gemini" : "openai");
    d.provider = name;
    cc_xlate_ctx_t ctx = {.deployment = &d,
                          .upstream_model = "m",
                          .client_model = "claude-x",
                          .endpoint = "messages",
                          .stream = false};
    cc_headers_t in = CC_HEADERS_INIT, hdrs = CC_HEADERS_INIT;
    cc_headers_set(&in, "content-type", "application/json");
    int status = 0;
    cc_buf_t out = CC_BUF_INIT;
    cc_xlate_resp_t *t = p->response_new(&ctx, 200, &in, &status, &hdrs);
    CHECK(t != NULL);
    if (!t) return -1;
    CHECK_EQ_INT(status, 200);
    p->response_feed(t, body, strlen(body), &out);
    p->response_end(t, &out);
    int held = p->response_status ? p->response_status(t) : 0;
    p->response_free(t);
    cJSON *j = cJSON_Parse(out.data ? out.data : "");
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(j, "error"), "type");
    snprintf(type, type_cap, "%s", cJSON_IsString(ty) ? ty->valuestring : "(none)");
    cJSON_Delete(j);
    cc_buf_free(&out);
    cc_headers_free(&in);
    cc_headers_free(&hdrs);
    return held ? held : status;
}

static void test_adapters_agree(void) {
    static const struct {
        const char *kind;
        const char *openai, *gemini;
        const char *type;
        int status;
    } cases[] = {
        {"rate limit", "{\"error\":{\"message\":\"Rate limit reached\",\"code\":429}}",
         "{\"error\":{\"code\":429,\"message\":\"Quota exceeded\",\"status\":"
         "\"RESOURCE_EXHAUSTED\"}}",
         "rate_limit_error", 429},
        {"overloaded", "{\"error\":{\"message\":\"Overloaded\",\"code\":503}}",
         "{\"error\":{\"code\":503,\"message\":\"The model is overloaded\",\"status\":"
         "\"UNAVAILABLE\"}}",
         "overloaded_error", 529},
        {"server error", "{\"error\":{\"message\":\"Internal\",\"code\":\"server_error\"}}",
         "{\"error\":{\"code\":500,\"message\":\"Internal\",\"status\":\"INTERNAL\"}}",
         "api_error", 502},
        {"not JSON", "<html>oops", "<html>oops", "api_error", 502},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char ot[64], gt[64];
        int os = whole_answer(&cc_provider_openai, cases[i].openai, ot, sizeof ot);
        int gs = whole_answer(&cc_provider_gemini, cases[i].gemini, gt, sizeof gt);
        if (os != gs || strcmp(ot, gt) != 0)
            fprintf(stderr, "  %s: openai %d %s, gemini %d %s\n", cases[i].kind, os, ot, gs, gt);
        CHECK_EQ_STR(ot, cases[i].type);
        CHECK_EQ_STR(gt, cases[i].type);
        CHECK_EQ_INT(os, cases[i].status);
        CHECK_EQ_INT(gs, cases[i].status);
        CHECK_EQ_INT(os, cc_api_error_status(ot));
    }
    /* Gemini can also say the request was wrong, which keeps its status. */
    char gt[64];
    int gs = whole_answer(&cc_provider_gemini,
                          "{\"error\":{\"code\":400,\"message\":\"bad\",\"status\":"
                          "\"INVALID_ARGUMENT\"}}",
                          gt, sizeof gt);
    CHECK_EQ_STR(gt, "invalid_request_error");
    CHECK_EQ_INT(gs, 400);
}

int main(void) {
    CC_RUN(test_type_of_status);
    CC_RUN(test_status_of_type);
    CC_RUN(test_bodies);
    CC_RUN(test_adapters_agree);
    return CC_DONE();
}
