/* fuzz_openai_request.c: the OpenAI-family request translator on arbitrary bodies. The first
 * byte chooses the provider and whether the client streams. Checks that a body is either
 * refused with a message or translated into one valid JSON object. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_body.h"
#include "providers/providers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const providers[] = {"openai",  "deepseek", "perplexity", "openrouter",
                                        "mistral", "ollama",   "azure",      "xai"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    cc_model_t m;
    memset(&m, 0, sizeof m);
    m.provider = (char *)providers[data[0] & 7];
    m.upstream_model = (char *)"gpt-5";
    m.api_key = (char *)"k";
    m.alias_of = -1;
    cc_xlate_ctx_t ctx = {
        &m,   "gpt-5", "claude", data[0] & 64 ? "count_tokens" : "messages", (data[0] & 8) != 0,
        NULL, 0};
    cc_xlate_request_t r = {0};
    cc_buf_t err = CC_BUF_INIT;
    const char *body = (const char *)data + 1;
    int rc = cc_provider_openai.request(&ctx, body, size - 1, &r, &err);
    if (rc == 0) {
        if (!r.body.data || cc_json_validate(r.body.data, r.body.len, NULL) != 0) abort();
        if (!r.local_answer && (!r.target.data || r.body.data[0] != '{')) abort();
    } else if (!err.len) {
        abort();
    }
    cc_xlate_request_free(&r);
    cc_buf_free(&err);
    return 0;
}
