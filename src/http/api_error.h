/* api_error.h: errors in the Anthropic shape that Claude Code understands:
 *   {"type":"error","error":{"type":"<type>","message":"<message>"}}
 * as a whole response body or as an `event: error` inside a started SSE stream. */
#ifndef CC_API_ERROR_H
#define CC_API_ERROR_H

#include "buf.h"

/** The Anthropic error type that goes with an HTTP status (400 invalid_request_error,
 *  401 authentication_error, 403 permission_error, 404 not_found_error, 413
 *  request_too_large, 429 rate_limit_error, 529 overloaded_error, other 5xx api_error). */
const char *cc_api_error_type(int status);
/** The client's status for an error of `type` that an adapter finds inside an answer the
 *  upstream sent as a success (an error object in a 200 body, a broken answer), whose head was
 *  held until its end: 400 invalid_request_error, 429 rate_limit_error, 529 overloaded_error
 *  (Claude Code retries both), 502 for every other type (the upstream failed). */
int cc_api_error_status(const char *type);
/** Appends the JSON error body. */
void cc_api_error_json(cc_buf_t *out, const char *type, const char *message);
/** Appends an SSE `event: error` frame carrying the same JSON. */
void cc_api_error_sse(cc_buf_t *out, const char *type, const char *message);

#endif
