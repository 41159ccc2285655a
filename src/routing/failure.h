/* failure.h: what kind of failure an attempt met, in LiteLLM's error classes, which
 * router_settings.retry_policy and allowed_fails_policy are written in: from the answer's
 * status and, for a 400, its error text (a context window too small, a content policy), or
 * from how the upstream could not answer. */
#ifndef CC_FAILURE_H
#define CC_FAILURE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    CC_FAIL_BAD_REQUEST,    /* BadRequestError: 400, 413, 422 */
    CC_FAIL_AUTH,           /* AuthenticationError: 401, 403 */
    CC_FAIL_TIMEOUT,        /* TimeoutError: 408, no answer in time */
    CC_FAIL_RATE_LIMIT,     /* RateLimitError: 429 */
    CC_FAIL_CONTENT_POLICY, /* ContentPolicyViolationError: a 400 that says so */
    CC_FAIL_SERVER,         /* InternalServerError: 5xx, 529, unreachable, broken */
    CC_FAIL_CLASSES,
    CC_FAIL_NONE = -1       /* not a failure ccproxy retries or counts (404, ...) */
} cc_fail_class_t;

typedef struct {
    cc_fail_class_t cls;
    bool context_window; /* a BadRequestError that says the input does not fit the model */
} cc_failure_t;

/** The failure of an answer with `status` and error body `body` (may be NULL). */
cc_failure_t cc_failure_of_answer(int status, const char *body, size_t len);

/** The failure of an attempt that got no answer: timed out (`timeout`) or not. */
cc_failure_t cc_failure_of_transport(bool timeout);

/** LiteLLM's name of the class: "BadRequestError", ... */
const char *cc_fail_class_name(cc_fail_class_t c);

#endif
