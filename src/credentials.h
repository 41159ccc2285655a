/* credentials.h: the one place that answers "which fields, and which credentials, go
 * upstream" for a routed request. The credential fields (Authorization, x-api-key, api-key,
 * x-goog-api-key) are decided by one precedence:
 *
 *   1. credentials a hook set in req.headers go as the hook set them, and then no
 *      deployment key is added; a field a hook removed stays removed;
 *   2. else the deployment's api_key, in the field its provider reads (Anthropic: x-api-key;
 *      an adapter names its own field in the request it builds);
 *   3. the client's own credentials travel only to Anthropic, and only when the deployment
 *      has no key (a deployment's key replaces them).
 *
 * Other providers never get Anthropic's own fields (x-api-key, anthropic-*, x-stainless-*).
 * The deployment's extra headers (litellm_params.headers / extra_headers) replace the
 * client's values of those fields, but not what a hook set. */
#ifndef CC_CREDENTIALS_H
#define CC_CREDENTIALS_H

#include <stdbool.h>

#include "config/config.h"
#include "http/headers.h"

typedef struct {
    const cc_headers_t *request;  /* the client's end-to-end fields after the hooks' edits */
    const cc_headers_t *written;  /* the fields hooks wrote: value "set" or "removed" */
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
