/* failure.c: failures into LiteLLM's error classes (see failure.h). The texts are what
 * Anthropic, OpenAI-compatible providers, Gemini and Bedrock put in their error messages. */
#include "routing/failure.h"

#include <strings.h>

#include "config/config.h"

_Static_assert(CC_FAIL_CLASSES == CC_POLICY_CLASSES,
               "the policies of config.h have one entry per class");

static const char *const class_names[CC_FAIL_CLASSES] = {
    "BadRequestError",    "AuthenticationError",         "TimeoutError",
    "RateLimitError",     "ContentPolicyViolationError", "InternalServerError"};

const char *cc_fail_class_name(cc_fail_class_t c) {
    return c >= 0 && c < CC_FAIL_CLASSES ? class_names[c] : "none";
}

/* Lower-case `needle` in body[0..len), ignoring case. */
static bool has(const char *body, size_t len, const char *needle) {
    size_t n = 0;
    while (needle[n]) n++;
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (strncasecmp(body + i, needle, n) == 0) return true;
    return false;
}

static bool any_of(const char *body, size_t len, const char *const *needles) {
    for (; *needles; needles++)
        if (has(body, len, *needles)) return true;
    return false;
}

static const char *const context_texts[] = {
    "prompt is too long",        /* Anthropic */
    "exceed context limit",      /* Anthropic: input length and max_tokens exceed ... */
    "context_length_exceeded",   /* OpenAI's code */
    "maximum context length",    /* OpenAI-compatible servers */
    "context window",            /* "exceeds the context window" */
    "input is too long",         /* Bedrock */
    "exceeds the maximum number of tokens", /* Gemini */
    NULL};

static const char *const content_texts[] = {
    "content_policy_violation", "content management policy", "content_filter",
    "content filtering policy", "responsibleaipolicyviolation", "safety system", NULL};

cc_failure_t cc_failure_of_answer(int status, const char *body, size_t len) {
    cc_failure_t f = {CC_FAIL_NONE, false};
    if (!body) len = 0;
    switch (status) {
    case 400:
    case 413:
    case 422:
        if (len && any_of(body, len, content_texts)) {
            f.cls = CC_FAIL_CONTENT_POLICY;
        } else {
            f.cls = CC_FAIL_BAD_REQUEST;
            f.context_window = len && any_of(body, len, context_texts);
        }
        return f;
    case 401:
    case 403: f.cls = CC_FAIL_AUTH; return f;
    case 408: f.cls = CC_FAIL_TIMEOUT; return f;
    case 429: f.cls = CC_FAIL_RATE_LIMIT; return f;
    default: break;
    }
    if (status >= 500 && status <= 599) f.cls = CC_FAIL_SERVER;
    return f;
}

cc_failure_t cc_failure_of_transport(bool timeout) {
    return (cc_failure_t){timeout ? CC_FAIL_TIMEOUT : CC_FAIL_SERVER, false};
}
