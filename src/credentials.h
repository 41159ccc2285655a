/* credentials.h: the one place that answers "which fields, and which credentials, go
 * upstream" for a routed request. Every credential field (Authorization, x-api-key, api-key,
 * x-goog-api-key) is decided by one precedence:
 *
 *   1. what a hook wrote in req.headers, or removed from it, goes as the hook left it;
 *   2. else the deployment's api_key, in the field its provider reads (Anthropic: x-api-key;
 *      an adapter names its own field in the request it builds);
 *   3. else the client's own credentials, to Anthropic only.
 *
 * A deployment's key replaces all of the client's credentials. Other providers never get
 * Anthropic's own fields (x-api-key, anthropic-*, x-stainless-*). */
#ifndef CC_CREDENTIALS_H
#define CC_CREDENTIALS_H

#include <stdbool.h>

#include "config.h"
#include "headers.h"

typedef struct {
    const cc_headers_t *request;  /* the client's end-to-end fields after the hooks' edits */
    const cc_headers_t *written;  /* names of the fields hooks set or removed */
    const cc_model_t *deployment; /* the chosen deployment (its api_key) */
    const cc_headers_t *adapter;  /* the fields an adapter set (its key among them), or NULL
                                     for an Anthropic deployment */
} cc_credentials_in_t;

/** Appends the upstream request's fields to `out` (Host and Content-Length excepted, which
 *  the upstream exchange sets). */
void cc_credentials_headers(const cc_credentials_in_t *in, cc_headers_t *out);

/** Replaces an old token by a new one in the credential fields of `h` that carry exactly it
 *  (as "Bearer <token>" or bare). Returns how many fields changed. */
int cc_credentials_swap_token(cc_headers_t *h, const char *old_token, const char *new_token);

/** True for the fields that carry credentials. */
bool cc_credentials_field(const char *name);

#endif
