/* provider_openai.h: internals shared by the two halves of the OpenAI-family adapter:
 * provider_openai.c (the provider policies and the request: Anthropic Messages -> Chat
 * Completions) and provider_openai_resp.c (the answer: Chat Completions -> Anthropic).
 * The adapter itself is cc_provider_openai (providers.h). */
#ifndef CC_PROVIDER_OPENAI_H
#define CC_PROVIDER_OPENAI_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "providers/translate.h"

/* What a provider of the family accepts beyond the common Chat Completions core. */
enum {
    CC_OA_FILES = 1u << 0,            /* {type: file} PDF parts */
    CC_OA_STREAM_OPTIONS = 1u << 1,   /* stream_options.include_usage */
    CC_OA_USER = 1u << 2,             /* `user` */
    CC_OA_TOP_K = 1u << 3,            /* `top_k` */
    CC_OA_REASONING_REPLAY = 1u << 4, /* reasoning_content on assistant turns (DeepSeek) */
    CC_OA_REASONING_OBJECT = 1u << 5, /* reasoning: {effort} (OpenRouter) */
    CC_OA_SHORT_TOOL_IDS = 1u << 6,   /* tool call ids must be 9 letters or digits (Mistral) */
    CC_OA_AZURE = 1u << 7,            /* deployment URL, api-version, api-key header */
    CC_OA_NO_TOOLS = 1u << 8,         /* no function calling; strictly alternating turns
                                         (Perplexity) */
    CC_OA_V1_PATH = 1u << 9,          /* the OpenAI API lives under /v1 of api_base (Ollama) */
    CC_OA_PARALLEL = 1u << 10,        /* parallel_tool_calls */
    CC_OA_OPENAI_HOST = 1u << 11,     /* OpenAI's own API: max_completion_tokens */
};

typedef struct {
    const char *name;
    unsigned flags;
} cc__oa_policy_t;

/** The policy of a provider name; unknown names get the plain Chat Completions policy. */
const cc__oa_policy_t *cc__oa_policy(const char *provider);

/** "ccproxy:<provider>:": the start of the signature given to reasoning from `provider`. */
void cc__oa_signature_prefix(cc_buf_t *out, const char *provider);

/* The response half (provider_openai_resp.c). */
cc_xlate_resp_t *cc__oa_response_new(const cc_xlate_ctx_t *ctx, int status,
                                     const cc_headers_t *headers, int *client_status,
                                     cc_headers_t *client_headers);
int cc__oa_response_feed(cc_xlate_resp_t *t, const char *data, size_t len, cc_buf_t *out);
int cc__oa_response_end(cc_xlate_resp_t *t, cc_buf_t *out);
void cc__oa_response_idle(cc_xlate_resp_t *t, cc_buf_t *out);
/** The client status of a whole answer once it ended (translate.h response_status). */
int cc__oa_response_status(cc_xlate_resp_t *t);
void cc__oa_response_free(cc_xlate_resp_t *t);

#endif
