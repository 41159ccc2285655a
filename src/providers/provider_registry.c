/* provider_registry.c: which adapter translates for which provider name (cc_provider_for), and
 * what all adapters share of a translated request: the count_tokens answer and its release
 * (cc_xlate_request_free). Providers not listed here speak Anthropic's Messages API and are
 * passed through untouched. */
#include <stdlib.h>
#include <string.h>

#include "providers/providers.h"
#include "tokens.h"
#include "providers/translate.h"

/* Provider names (LiteLLM's) whose API is OpenAI Chat Completions. */
static const char *const openai_family[] = {
    "openai",       "text-completion-openai",
    "azure",        "openrouter",
    "deepseek",     "groq",
    "mistral",      "xai",
    "together_ai",  "perplexity",
    "ollama",       "ollama_chat",
    "lm_studio",    "hosted_vllm",
    "fireworks_ai", "cerebras",
    "deepinfra",    "custom_openai",
};

const cc_provider_t *cc_provider_for(const char *provider) {
    if (!provider) return NULL;
    for (size_t i = 0; i < sizeof openai_family / sizeof openai_family[0]; i++)
        if (strcmp(provider, openai_family[i]) == 0) return &cc_provider_openai;
    if (strcmp(provider, "gemini") == 0) return &cc_provider_gemini;
    return NULL;
}

void cc_xlate_request_free(cc_xlate_request_t *r) {
    if (!r) return;
    cc_buf_free(&r->target);
    cc_headers_free(&r->headers);
    cc_buf_free(&r->body);
    r->local_answer = false;
}

bool cc_xlate_is_count_tokens(const cc_xlate_ctx_t *ctx) {
    return ctx->endpoint && strcmp(ctx->endpoint, "count_tokens") == 0;
}

int cc_xlate_count_tokens(const char *body, size_t len, cc_xlate_request_t *out, cc_buf_t *err) {
    long n = cc_tokens_estimate(body, len);
    if (n < 0) {
        cc_buf_puts(err, "the count_tokens request body is not a JSON object; send the same body "
                         "as to /v1/messages");
        return -1;
    }
    cc_buf_reset(&out->body);
    cc_buf_printf(&out->body, "{\"input_tokens\":%ld}", n);
    out->local_answer = true;
    return 0;
}
