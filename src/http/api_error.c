/* api_error.c: Anthropic-shaped error bodies and SSE error events (see api_error.h). */
#include "http/api_error.h"

#include <string.h>

const char *cc_api_error_type(int status) {
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

int cc_api_error_status(const char *type) {
    if (!type) return 502;
    if (strcmp(type, "invalid_request_error") == 0) return 400;
    if (strcmp(type, "rate_limit_error") == 0) return 429;
    if (strcmp(type, "overloaded_error") == 0) return 529;
    return 502;
}

void cc_api_error_json(cc_buf_t *out, const char *type, const char *message) {
    cc_buf_puts(out, "{\"type\":\"error\",\"error\":{\"type\":\"");
    cc_buf_json_escape(out, type, strlen(type));
    cc_buf_puts(out, "\",\"message\":\"");
    cc_buf_json_escape(out, message, strlen(message));
    cc_buf_puts(out, "\"}}");
}

void cc_api_error_sse(cc_buf_t *out, const char *type, const char *message) {
    cc_buf_puts(out, "event: error\ndata: ");
    cc_api_error_json(out, type, message);
    cc_buf_puts(out, "\n\n");
}
