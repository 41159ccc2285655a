/* provider_registry.c: which adapter translates for which provider name (cc_provider_for), and
 * the release of a translated request (cc_xlate_request_free). Providers not listed here speak
 * Anthropic's Messages API and are passed through untouched. */
#include <stdlib.h>
#include <string.h>

#include "providers.h"
#include "translate.h"

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
