/* provider_gemini.h: what the two halves of the Gemini adapter share: provider_gemini.c
 * (requests: Anthropic -> Gemini, and the adapter table) and provider_gemini_resp.c (answers:
 * Gemini -> Anthropic). Not for other files. */
#ifndef CC_PROVIDER_GEMINI_H
#define CC_PROVIDER_GEMINI_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <string.h>

#include "providers/translate.h"

#define SIG_PREFIX "ccproxy:gemini:"
#define SIG_PREFIX_LEN (sizeof SIG_PREFIX - 1)
#define SIG_SKIP "skip_thought_signature_validator"
#define BILLING_PREFIX "x-anthropic-billing-header:"
#define DEFAULT_MAX_OUTPUT 65536
#define MAX_BUDGET 32768
#define MAX_BUDGET_FLASH 24576
#define MAX_STOP_SEQUENCES 5
#define MAX_BODY (32u << 20)     /* a non-stream answer or an error body */
#define MAX_ERROR_QUOTE 200      /* bytes of a non-JSON error body quoted in the message */
#define MAX_COUNT 1000000000000L /* a token count beyond this is nonsense: clamped */

/* ---- small helpers ------------------------------------------------------------------------ */

static inline const cJSON *member(const cJSON *o, const char *key) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static inline const char *str_member(const cJSON *o, const char *key) {
    const cJSON *v = member(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline bool is_str(const cJSON *v, const char *s) {
    return cJSON_IsString(v) && strcmp(v->valuestring, s) == 0;
}

static inline bool starts_with(const char *s, const char *prefix) {
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A number member as a long, or `dflt` when absent or not a number. */
static inline long num_member(const cJSON *o, const char *key, long dflt) {
    const cJSON *v = member(o, key);
    if (!cJSON_IsNumber(v)) return dflt;
    if (v->valuedouble >= 9e15) return 9000000000000000L;
    if (v->valuedouble <= -9e15) return -9000000000000000L;
    return (long)v->valuedouble;
}

cc_xlate_resp_t *cc__gm_response_new(const cc_xlate_ctx_t *ctx, int status,
                                     const cc_headers_t *headers, int *client_status,
                                     cc_headers_t *client_headers);
int cc__gm_response_feed(cc_xlate_resp_t *t, const char *data, size_t len, cc_buf_t *out);
int cc__gm_response_end(cc_xlate_resp_t *t, cc_buf_t *out);
int cc__gm_response_status(cc_xlate_resp_t *t);
void cc__gm_response_idle(cc_xlate_resp_t *t, cc_buf_t *out);
void cc__gm_response_free(cc_xlate_resp_t *t);

#endif
