/* translate.h: provider adapters. An adapter turns an Anthropic Messages request into its
 * provider's request, and the provider's answer (streamed or not, success or error) back into
 * the Anthropic answer Claude Code expects. One file per provider family
 * (provider_openai.c, provider_gemini.c); Anthropic deployments need none (pass-through).
 * Ownership: a cc_xlate_request_t owns its buffers (cc_xlate_request_free); a response
 * translator owns its state and is freed with its adapter's response_free. */
#ifndef CC_TRANSLATE_H
#define CC_TRANSLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config/config.h"
#include "http/headers.h"

typedef struct {
    const cc_model_t *deployment; /* provider, upstream_model, api_base, api_key, params */
    const char *upstream_model;   /* the model to ask the provider for */
    const char *client_model;     /* the model the client asked for (message_start reports it) */
    const char *endpoint;         /* "messages" or "count_tokens" */
    bool stream;                  /* the client asked for a stream */
    const char *body;             /* the client's (Anthropic) request body, or NULL; read by
                                     response_new only (the search query a Perplexity answer
                                     reports), so it need not outlive that call */
    size_t body_len;
} cc_xlate_ctx_t;

typedef struct {
    cc_buf_t target;      /* path and query under the api_base, e.g. "/chat/completions" */
    cc_headers_t headers; /* fields to set on the upstream request (auth, content-type, ...) */
    cc_buf_t body;
    bool local_answer;    /* no upstream call: `body` is the Anthropic answer (count_tokens) */
} cc_xlate_request_t;

void cc_xlate_request_free(cc_xlate_request_t *r);

/** Whether ctx is a /v1/messages/count_tokens request, which no adapter sends upstream. */
bool cc_xlate_is_count_tokens(const cc_xlate_ctx_t *ctx);
/** The answer every adapter gives count_tokens itself (so /context works with every
 *  provider): `{"input_tokens":N}` with ccproxy's estimate (tokens.h) as the local answer in
 *  `out`. Returns 0, or -1 with a message for the client in `err` when the body is not a
 *  JSON object. */
int cc_xlate_count_tokens(const char *body, size_t len, cc_xlate_request_t *out, cc_buf_t *err);

typedef struct cc_xlate_resp_s cc_xlate_resp_t;

typedef struct {
    const char *family; /* "openai", "gemini" */
    /** Builds the provider request from the Anthropic body. Returns 0, or -1 with a message
     *  for the client in `err` (answered as invalid_request_error). */
    int (*request)(const cc_xlate_ctx_t *ctx, const char *body, size_t len,
                   cc_xlate_request_t *out, cc_buf_t *err);
    /** A translator for the provider's response with `status` and `headers`; sets the
     *  client's status and the header fields to send (content-type, retry-after, ...). */
    cc_xlate_resp_t *(*response_new)(const cc_xlate_ctx_t *ctx, int status,
                                     const cc_headers_t *headers, int *client_status,
                                     cc_headers_t *client_headers);
    /** Response body bytes, split anywhere; appends what the client gets now. Returns 0 or -1
     *  (the stream is broken; an error was appended when possible). */
    int (*response_feed)(cc_xlate_resp_t *t, const char *data, size_t len, cc_buf_t *out);
    /** The upstream finished; appends the rest (for a non-stream answer, all of it). */
    int (*response_end)(cc_xlate_resp_t *t, cc_buf_t *out);
    /** Optional. After response_end of a whole (non-stream) answer: the client's status,
     *  which differs from response_new's when the answer turned out to be an error only at its
     *  end (0 = keep it). The proxy holds a whole answer's head until then. */
    int (*response_status)(cc_xlate_resp_t *t);
    /** Something to send during a long silence (a ping event), or nothing. */
    void (*response_idle)(cc_xlate_resp_t *t, cc_buf_t *out);
    void (*response_free)(cc_xlate_resp_t *t);
} cc_provider_t;

/** The adapter for a provider name ("openai", "openrouter", "gemini", ...), or NULL when the
 *  provider speaks Anthropic's API (no translation). */
const cc_provider_t *cc_provider_for(const char *provider);

#endif
