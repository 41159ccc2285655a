/* fuzz_gemini_stream.c: the Gemini response translator (provider_gemini.c) on arbitrary upstream
 * bytes. The first byte chooses the mode: bit 0 a streamed (SSE) or a whole JSON answer, bits
 * 1-2 the upstream status (200, 200, 429, 503), bits 3-7 the size of the pieces the rest is fed
 * in (0 = all at once). Whatever the bytes, what the client gets must pass the Anthropic
 * invariant checker once the upstream ends: a complete stream (message_stop, or an error
 * event), a valid message, or a valid error body; a whole answer that turned out to be an
 * error has the status of its error type (cc_api_error_status), a whole message keeps 200.
 * The same bytes also go through the request translator as an Anthropic body, which must
 * either succeed with a JSON body or say why not.
 *
 *   CC=clang cmake -B build-fuzz -DCCPROXY_FUZZ=ON && cmake --build build-fuzz
 *   build-fuzz/spec/fuzz_gemini_stream -max_total_time=60 spec/fuzz/corpus/gemini_stream
 * The corpus holds Gemini streams and answers: text, thinking with signatures, parallel
 * function calls, grounding, finish reasons, errors. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic_check.h"
#include "http/api_error.h"
#include "providers/providers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_response(bool stream, int status, size_t piece, const char *in, size_t len) {
    cc_xlate_ctx_t ctx = {.upstream_model = "gemini-2.5-pro",
                          .client_model = "claude-sonnet-4-5",
                          .endpoint = "messages",
                          .stream = stream};
    cc_headers_t ch = CC_HEADERS_INIT;
    int client_status = 0;
    cc_xlate_resp_t *t = cc_provider_gemini.response_new(&ctx, status, NULL, &client_status, &ch);
    if (!t) abort();
    cc_buf_t out = CC_BUF_INIT;
    size_t pos = 0;
    while (pos < len) {
        size_t n = piece && len - pos > piece ? piece : len - pos;
        cc_provider_gemini.response_feed(t, in + pos, n, &out);
        if (pos == 0) cc_provider_gemini.response_idle(t, &out);
        pos += n;
    }
    bool failed = cc_provider_gemini.response_end(t, &out) < 0;
    cc_provider_gemini.response_idle(t, &out); /* nothing may follow the end */
    int held = cc_provider_gemini.response_status(t);
    cc_provider_gemini.response_free(t);

    const char *o = out.data ? out.data : "";
    int rc;
    if (client_status != 200)
        rc = cc_acheck_error_body(o, out.len, NULL);
    else if (stream) /* a stream the provider ended early ends early, cleanly */
        rc = cc_acheck_stream(o, out.len, NULL) == 0 || (failed &&
             cc_acheck_stream_prefix(o, out.len, NULL) == 0) ? 0 : -1;
    else if (strncmp(o, "{\"type\":\"error\"", 15) == 0)
        rc = cc_acheck_error_body(o, out.len, NULL);
    else
        rc = cc_acheck_message(o, out.len, NULL);
    if (rc != 0) abort();
    if (client_status == 200 && !stream) {
        cJSON *j = cJSON_ParseWithLength(o, out.len);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "type"));
        if (held != (type ? cc_api_error_status(type) : 0)) abort();
        cJSON_Delete(j);
    }
    cc_buf_free(&out);
    cc_headers_free(&ch);
}

static void fuzz_request(const char *in, size_t len) {
    cc_xlate_ctx_t ctx = {.upstream_model = "gemini-3-pro-preview",
                          .client_model = "claude-sonnet-4-5",
                          .endpoint = "messages",
                          .stream = true};
    cc_xlate_request_t req = {CC_BUF_INIT, CC_HEADERS_INIT, CC_BUF_INIT, false};
    cc_buf_t err = CC_BUF_INIT;
    if (cc_provider_gemini.request(&ctx, in, len, &req, &err) == 0) {
        cJSON *j = cJSON_ParseWithLength(req.body.data ? req.body.data : "", req.body.len);
        if (!cJSON_IsObject(j) || !req.target.len) abort();
        cJSON_Delete(j);
    } else if (err.len == 0) {
        abort(); /* a refused request always says why */
    }
    cc_xlate_request_free(&req);
    cc_buf_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int statuses[] = {200, 200, 429, 503};
    if (size < 1) return 0;
    uint8_t mode = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    fuzz_response(mode & 1, statuses[(mode >> 1) & 3], (size_t)(mode >> 3), in, len);
    fuzz_request(in, len);
    return 0;
}
