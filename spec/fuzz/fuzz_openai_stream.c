/* fuzz_openai_stream.c: the OpenAI-family answer translator on arbitrary upstream bytes. The
 * first byte chooses the provider, whether the client streams, whether the upstream says
 * SSE or JSON, and the upstream status; the second where the bytes are split. Checks that
 * whatever the upstream sends, the client gets what the invariant checker accepts (a complete
 * stream, one message, or an error body) once the answer ended, that the split does not
 * change a byte of it, and that an idle tick (a ping) anywhere keeps the stream valid. A whole
 * answer that turned out to be an error has the status of its error type (cc_api_error_status);
 * a whole message keeps 200. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic_check.h"
#include "providers/anthropic_stream.h"
#include "http/api_error.h"
#include "providers/providers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const providers[] = {"openai",  "deepseek", "perplexity", "openrouter",
                                        "mistral", "ollama",   "azure",      "hosted_vllm"};
static const int statuses[] = {200, 200, 200, 200, 200, 429, 400, 503};

static int run(uint8_t flags, const char *in, size_t n, size_t split, bool idle, cc_buf_t *out,
               int *status, int *held) {
    cc_model_t m;
    memset(&m, 0, sizeof m);
    m.provider = (char *)providers[flags & 7];
    m.upstream_model = (char *)"model";
    m.alias_of = -1;
    bool stream = flags & 8;
    const char *req = "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}";
    cc_xlate_ctx_t ctx = {&m, "model", "claude-opus-5-5", "messages", stream, req, strlen(req)};
    cc_headers_t uh = CC_HEADERS_INIT, ch = CC_HEADERS_INIT;
    cc_headers_set(&uh, "Content-Type", flags & 16 ? "application/json" : "text/event-stream");
    cc__astream_seed(1);
    int st = statuses[(flags >> 5) & 7];
    cc_xlate_resp_t *t = cc_provider_openai.response_new(&ctx, st, &uh, status, &ch);
    int failed = 0;
    if (!t) abort();
    failed |= cc_provider_openai.response_feed(t, in, split, out) < 0;
    if (idle) cc_provider_openai.response_idle(t, out);
    failed |= cc_provider_openai.response_feed(t, in + split, n - split, out) < 0;
    failed |= cc_provider_openai.response_end(t, out) < 0;
    *held = cc_provider_openai.response_status(t);
    cc_provider_openai.response_free(t);
    cc_headers_free(&uh);
    cc_headers_free(&ch);
    return failed;
}

/* A whole Anthropic stream; or, when the translator reported the provider's stream as
 * ending early, a clean start of one (the client's stream ends as the provider's did). */
static int stream_ok(const char *body, size_t len, int failed) {
    if (cc_acheck_stream(body, len, NULL) == 0) return 0;
    return failed ? cc_acheck_stream_prefix(body, len, NULL) : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    uint8_t flags = data[0];
    const char *in = (const char *)data + 2;
    size_t n = size - 2;
    size_t split = n ? data[1] % (n + 1) : 0;
    cc_buf_t a = CC_BUF_INIT, b = CC_BUF_INIT, c = CC_BUF_INIT;
    int sa, sb, sc, ha, hb, hc;
    int fa = run(flags, in, n, n, false, &a, &sa, &ha);
    int fb = run(flags, in, n, split, false, &b, &sb, &hb);
    int fc = run(flags, in, n, split, true, &c, &sc, &hc);
    if (sa != sb || sa != sc || ha != hb || fa != fb || a.len != b.len ||
        (a.len && memcmp(a.data, b.data, a.len) != 0))
        abort();
    const char *body = a.data ? a.data : "";
    int rc;
    if (sa != 200)
        rc = cc_acheck_error_body(body, a.len, NULL);
    else if (flags & 8)
        rc = stream_ok(body, a.len, fa);
    else if (fa)
        rc = cc_acheck_error_body(body, a.len, NULL);
    else
        rc = cc_acheck_message(body, a.len, NULL);
    if (rc != 0) abort();
    if (sa == 200 && !(flags & 8)) {
        cJSON *j = fa ? cJSON_Parse(body) : NULL;
        const cJSON *type = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "type");
        int want = fa ? cc_api_error_status(cJSON_GetStringValue(type)) : 200;
        cJSON_Delete(j);
        if (ha != want && !(ha == 0 && want == 200)) abort(); /* 0 keeps the status */
    }
    if ((flags & 8) && sc == 200 && stream_ok(c.data ? c.data : "", c.len, fc) != 0) abort();
    cc_buf_free(&c);
    cc_buf_free(&a);
    cc_buf_free(&b);
    return 0;
}
