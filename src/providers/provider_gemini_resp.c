/* provider_gemini_resp.c: the answer half of the Gemini adapter: Gemini's streamed or whole
 * answers and errors -> Anthropic events or message (see provider_gemini.c for the mapping). */
#include "providers/context_limit.h"
#include "providers/provider_gemini.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/anthropic_stream.h"
#include "http/api_error.h"
#include "http/sse.h"
#include "json/utf8.h"

/* ---- response: Gemini -> Anthropic -------------------------------------------------------- */

struct cc_xlate_resp_s {
    cc_astream_t *as;
    cc_sse_parser_t sse;
    bool stream;       /* the client asked for a stream (events out) */
    bool sse_in;       /* the upstream answers with SSE (else one JSON: an object or an
                          array of chunks, as streamGenerateContent without alt=sse sends) */
    bool error_status; /* the upstream answered >= 400: collect the body, answer an error */
    long ctx_estimate, ctx_max; /* for a context-length error (context_limit.h) */
    int final_status;  /* a whole answer that failed at its end: the client's status */
    int status;
    cc_buf_t body;  /* the non-stream answer or the error body */
    cc_buf_t *out;  /* where the SSE callback appends */
    bool failed;    /* an error was sent; nothing more is */
    bool text_sent; /* visible text went out (a note then starts on a new paragraph) */
    char *finish;   /* the last finishReason */
    char *finish_message;
    char *block_reason; /* promptFeedback.blockReason */
    cc_astream_usage_t usage;
    bool have_usage;
    cJSON *grounding; /* the last groundingMetadata */
};

/* The Anthropic error type of a Google error (its HTTP code and status name). */
static const char *error_type(long code, const char *status) {
    if (status) {
        if (strcmp(status, "RESOURCE_EXHAUSTED") == 0) return "rate_limit_error";
        if (strcmp(status, "UNAVAILABLE") == 0) return "overloaded_error";
        if (strcmp(status, "INVALID_ARGUMENT") == 0 || strcmp(status, "FAILED_PRECONDITION") == 0 ||
            strcmp(status, "OUT_OF_RANGE") == 0)
            return "invalid_request_error";
        if (strcmp(status, "UNAUTHENTICATED") == 0) return "authentication_error";
        if (strcmp(status, "PERMISSION_DENIED") == 0) return "permission_error";
        if (strcmp(status, "NOT_FOUND") == 0) return "not_found_error";
    }
    if (code == 503) return "overloaded_error";
    if (code >= 400) return cc_api_error_type((int)code);
    return "api_error";
}

/* The client's status for an upstream error status. */
static int client_error_status(int status) {
    if (status == 503) return 529;
    if (status == 400 || status == 401 || status == 403 || status == 404 || status == 413 ||
        status == 429 || status >= 500)
        return status;
    return status >= 400 ? status : 502;
}

/* Appends the human part of a Google error object: message, retry delay, hints. Sets *type. */
static void describe_error(const cJSON *e, int http_status, const char **type, cc_buf_t *msg) {
    long code = num_member(e, "code", http_status);
    const char *status = str_member(e, "status");
    const char *text = str_member(e, "message");
    *type = error_type(code, status);
    bool key_invalid = false;
    const char *retry = NULL;
    const cJSON *d;
    cJSON_ArrayForEach(d, member(e, "details")) {
        if (is_str(member(d, "reason"), "API_KEY_INVALID")) key_invalid = true;
        if (str_member(d, "retryDelay")) retry = str_member(d, "retryDelay");
    }
    if (text && strstr(text, "input token count") && strstr(text, "exceeds the maximum"))
        cc_buf_puts(msg, "prompt is too long: ");
    if (key_invalid) *type = "authentication_error";
    cc_buf_printf(msg, "%s", text && *text ? text : "Gemini answered with an error");
    cc_buf_printf(msg, " (Gemini API, HTTP %ld%s%s)", code, status ? " " : "",
                  status ? status : "");
    if (retry) cc_buf_printf(msg, "; retry in %s", retry);
    if (key_invalid)
        cc_buf_puts(msg, "; check the api_key of this Gemini deployment in config.yaml");
}

static void resp_fail(cc_xlate_resp_t *t, const char *type, const char *message, cc_buf_t *out) {
    if (t->failed) return;
    t->failed = true;
    int status = cc_astream_error(t->as, type, message, out);
    if (status) t->final_status = status; /* a whole answer's held head waits for it */
}

int cc__gm_response_status(cc_xlate_resp_t *t) {
    return t->final_status;
}

/* A token count: 0 when absent or negative, at most MAX_COUNT (sums stay far from overflow). */
static long count_member(const cJSON *o, const char *key) {
    long v = num_member(o, key, 0);
    return v < 0 ? 0 : v > MAX_COUNT ? MAX_COUNT : v;
}

static void update_usage(cc_xlate_resp_t *t, const cJSON *u) {
    if (!cJSON_IsObject(u)) return;
    long prompt = count_member(u, "promptTokenCount");
    long tool_prompt = count_member(u, "toolUsePromptTokenCount");
    long cached = count_member(u, "cachedContentTokenCount");
    long cand = count_member(u, "candidatesTokenCount");
    long thoughts = count_member(u, "thoughtsTokenCount");
    long input = prompt + tool_prompt - cached;
    t->usage.input_tokens = input > 0 ? input : 0;
    t->usage.cache_read_input_tokens = cached > 0 ? cached : 0;
    t->usage.cache_creation_input_tokens = 0;
    t->usage.output_tokens = cand + thoughts > 0 ? cand + thoughts : 0;
    t->have_usage = true;
}

static void replace_str(char **dst, const char *src) {
    if (!src) return;
    char *copy = strdup(src);
    if (!copy) return;
    free(*dst);
    *dst = copy;
}

/* The signature of the thinking block that carries a part's thoughtSignature. */
static void carry_signature(cc_xlate_resp_t *t, const char *sig, cc_buf_t *out) {
    cc_buf_t s = CC_BUF_INIT;
    cc_buf_puts(&s, SIG_PREFIX);
    cc_buf_puts(&s, sig);
    if (s.data) cc_astream_thinking_signature(t->as, s.data, out);
    cc_buf_free(&s);
}

static void handle_part(cc_xlate_resp_t *t, const cJSON *p, cc_buf_t *out) {
    const cJSON *text = member(p, "text");
    const char *sig = str_member(p, "thoughtSignature");
    if (sig && !*sig) sig = NULL;
    const cJSON *fc = member(p, "functionCall");
    if (cJSON_IsTrue(member(p, "thought"))) {
        if (cJSON_IsString(text))
            cc_astream_thinking(t->as, text->valuestring, strlen(text->valuestring), out);
        if (sig) carry_signature(t, sig, out);
        return;
    }
    if (sig) carry_signature(t, sig, out); /* the signature belongs before its part */
    if (cJSON_IsObject(fc)) {
        const char *name = str_member(fc, "name");
        const cJSON *args = member(fc, "args");
        char *json = cJSON_IsObject(args) ? cJSON_PrintUnformatted(args) : NULL;
        cc_astream_tool_call(t->as, NULL, name ? name : "", json ? json : "{}",
                             json ? strlen(json) : 2, out);
        free(json);
    } else if (cJSON_IsString(text) && *text->valuestring) {
        cc_astream_text(t->as, text->valuestring, strlen(text->valuestring), out);
        t->text_sent = true;
    }
    /* inlineData, executableCode, codeExecutionResult: nothing Claude Code can show */
}

/* One GenerateContentResponse (a stream chunk or the whole answer). Returns 0 or -1. */
static int handle_chunk(cc_xlate_resp_t *t, const cJSON *r, cc_buf_t *out) {
    if (!cJSON_IsObject(r)) {
        resp_fail(t, "api_error", "Gemini sent a response that is not a JSON object", out);
        return -1;
    }
    const cJSON *e = member(r, "error");
    if (e) {
        const char *type;
        cc_buf_t msg = CC_BUF_INIT;
        describe_error(e, t->status >= 400 ? t->status : 500, &type, &msg);
        resp_fail(t, type, msg.data ? msg.data : "Gemini error", out);
        cc_buf_free(&msg);
        return -1;
    }
    update_usage(t, member(r, "usageMetadata"));
    if (!cc_astream_started(t->as)) cc_astream_start(t->as, t->have_usage ? &t->usage : NULL, out);
    replace_str(&t->block_reason, str_member(member(r, "promptFeedback"), "blockReason"));
    const cJSON *cand = cJSON_GetArrayItem(member(r, "candidates"), 0);
    if (!cJSON_IsObject(cand)) return 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, member(member(cand, "content"), "parts")) handle_part(t, p, out);
    replace_str(&t->finish, str_member(cand, "finishReason"));
    replace_str(&t->finish_message, str_member(cand, "finishMessage"));
    const cJSON *gm = member(cand, "groundingMetadata");
    if (cJSON_IsObject(gm)) {
        cJSON *copy = cJSON_Duplicate(gm, 1);
        if (copy) {
            cJSON_Delete(t->grounding);
            t->grounding = copy;
        }
    }
    return 0;
}

/* Google Search grounding -> server_tool_use + web_search_tool_result. */
static void emit_grounding(cc_xlate_resp_t *t, cc_buf_t *out) {
    const cJSON *gm = t->grounding;
    const cJSON *queries = member(gm, "webSearchQueries");
    const cJSON *chunks = member(gm, "groundingChunks");
    if (!cJSON_GetArraySize(queries) && !cJSON_GetArraySize(chunks)) return;
    cc_buf_t query = CC_BUF_INIT;
    const cJSON *q;
    cJSON_ArrayForEach(q, queries) {
        if (!cJSON_IsString(q)) continue;
        if (query.len) cc_buf_puts(&query, "; ");
        cc_buf_puts(&query, q->valuestring);
    }
    cJSON *list = cJSON_CreateArray();
    const cJSON *c;
    cJSON_ArrayForEach(c, chunks) {
        const cJSON *web = member(c, "web");
        const char *uri = str_member(web, "uri");
        if (!uri) continue;
        const char *title = str_member(web, "title");
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "type", "web_search_result");
        cJSON_AddStringToObject(item, "url", uri);
        cJSON_AddStringToObject(item, "title", title ? title : uri);
        cJSON_AddStringToObject(item, "encrypted_content", "");
        cJSON_AddNullToObject(item, "page_age");
        cJSON_AddItemToArray(list, item);
    }
    cc_astream_web_search(t->as, query.data, list, out);
    cc_buf_free(&query);
}

static bool in_set(const char *s, const char *const *set) {
    for (; *set; set++)
        if (strcmp(s, *set) == 0) return true;
    return false;
}

/* clang-format off */
static const char *const blocked_reasons[] = {
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "LANGUAGE",
    "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "IMAGE_OTHER", NULL};
static const char *const failed_reasons[] = {
    "MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS", NULL};
/* clang-format on */

static void note(cc_xlate_resp_t *t, const char *text, cc_buf_t *out) {
    cc_buf_t b = CC_BUF_INIT;
    if (t->text_sent) cc_buf_puts(&b, "\n\n");
    cc_buf_puts(&b, text);
    if (b.data) cc_astream_text(t->as, b.data, b.len, out);
    cc_buf_free(&b);
    t->text_sent = true;
}

/* The end of a successful answer: grounding, notes, stop reason and usage. */
static int finish_answer(cc_xlate_resp_t *t, cc_buf_t *out) {
    const char *f = t->finish;
    cc_buf_t msg = CC_BUF_INIT;
    int rc = 0;
    if (!f && !t->block_reason && t->stream) {
        /* Ended cleanly before its finishReason: the client's stream ends here too, without
         * message_stop, as an Anthropic stream cut short would; no error event is made up
         * (the exchange's log line says "upstream-incomplete"). */
        t->failed = true;
        return -1;
    }
    if (!f && !t->block_reason) {
        resp_fail(t, "api_error",
                  "Gemini answered without a candidate or finishReason; retry the request", out);
        return -1;
    }
    if (f && in_set(f, failed_reasons)) {
        cc_buf_printf(&msg, "Gemini stopped with %s%s%s; retry the request", f,
                      t->finish_message ? ": " : "", t->finish_message ? t->finish_message : "");
        resp_fail(t, "api_error", msg.data, out);
        cc_buf_free(&msg);
        return -1;
    }
    if (!cc_astream_started(t->as)) cc_astream_start(t->as, t->have_usage ? &t->usage : NULL, out);
    emit_grounding(t, out);
    const char *stop = "end_turn";
    if (!f) {
        cc_buf_printf(&msg,
                      "[Gemini blocked this prompt (blockReason %s). Rephrase the request, or "
                      "route it to another model.]",
                      t->block_reason);
        note(t, msg.data, out);
    } else if (in_set(f, blocked_reasons)) {
        cc_buf_printf(&msg,
                      "[Gemini stopped this answer (finishReason %s%s%s). Rephrase the "
                      "request, or route it to another model.]",
                      f, t->finish_message ? ": " : "", t->finish_message ? t->finish_message : "");
        note(t, msg.data, out);
    } else if (strcmp(f, "MAX_TOKENS") == 0) {
        stop = "max_tokens";
    }
    cc_astream_finish(t->as, stop, NULL, t->have_usage ? &t->usage : NULL, out);
    cc_buf_free(&msg);
    return rc;
}

static int on_event(void *arg, const cc_sse_event_t *ev) {
    cc_xlate_resp_t *t = arg;
    size_t i = 0;
    while (i < ev->data_len && strchr(" \t\r\n", ev->data[i]))
        i++;
    if (i == ev->data_len) return 0; /* an empty event */
    cJSON *r = cJSON_ParseWithLength(ev->data, ev->data_len);
    if (!r) {
        cc_buf_t msg = CC_BUF_INIT;
        cc_buf_puts(&msg, "Gemini sent a stream event that is not JSON: ");
        /* quoted between characters, and clean: the message goes into JSON */
        cc_utf8_clean(&msg, ev->data, cc_utf8_cut(ev->data, ev->data_len, 100));
        resp_fail(t, "api_error", msg.data ? msg.data : "", t->out);
        cc_buf_free(&msg);
        return 1;
    }
    int rc = handle_chunk(t, r, t->out);
    cJSON_Delete(r);
    return rc < 0 ? 1 : 0;
}

void cc__gm_response_free(cc_xlate_resp_t *t) {
    if (!t) return;
    cc_astream_free(t->as);
    cc_sse_parser_free(&t->sse);
    cc_buf_free(&t->body);
    free(t->finish);
    free(t->finish_message);
    free(t->block_reason);
    cJSON_Delete(t->grounding);
    free(t);
}

cc_xlate_resp_t *cc__gm_response_new(const cc_xlate_ctx_t *ctx, int status,
                                            const cc_headers_t *headers, int *client_status,
                                            cc_headers_t *client_headers) {
    cc_xlate_resp_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->stream = ctx->stream;
    const char *ctype = headers ? cc_headers_get(headers, "content-type") : NULL;
    t->sse_in = t->stream && !(ctype && strstr(ctype, "json"));
    t->status = status;
    t->error_status = status >= 400 || status < 200;
    t->usage = (cc_astream_usage_t)CC_ASTREAM_USAGE_UNKNOWN;
    t->as =
        cc_astream_new(ctx->client_model ? ctx->client_model : ctx->upstream_model, ctx->stream);
    if (!t->as) {
        cc__gm_response_free(t);
        return NULL;
    }
    cc_sse_parser_init(&t->sse, on_event, t);
    if (t->error_status) {
        cc_context_limit_note(ctx, &t->ctx_estimate, &t->ctx_max);
        *client_status = client_error_status(status);
        cc_headers_set(client_headers, "content-type", "application/json");
        const char *retry = headers ? cc_headers_get(headers, "retry-after") : NULL;
        if (retry) cc_headers_set(client_headers, "retry-after", retry);
    } else {
        *client_status = 200;
        cc_headers_set(client_headers, "content-type",
                       t->stream ? "text/event-stream" : "application/json");
        if (t->stream) cc_headers_set(client_headers, "cache-control", "no-cache");
    }
    return t;
}

int cc__gm_response_feed(cc_xlate_resp_t *t, const char *data, size_t len, cc_buf_t *out) {
    if (t->failed) return -1;
    if (t->error_status || !t->sse_in) {
        if (t->body.len + len > MAX_BODY) {
            if (!t->error_status) {
                resp_fail(t, "api_error", "the Gemini answer is larger than 32 MiB", out);
                return -1;
            }
            return 0; /* an error body: its start is enough */
        }
        cc_buf_append(&t->body, data, len);
        return 0;
    }
    t->out = out;
    int rc = cc_sse_feed(&t->sse, data, len);
    t->out = NULL;
    if (rc != 0) {
        if (!t->failed)
            resp_fail(t, "api_error", "a Gemini stream event is larger than 16 MiB", out);
        return -1;
    }
    return 0;
}

/* The Anthropic error for an upstream error status and its body. */
static void error_answer(cc_xlate_resp_t *t, cc_buf_t *out) {
    cJSON *j = cJSON_ParseWithLength(t->body.data ? t->body.data : "", t->body.len);
    const cJSON *e = member(cJSON_IsArray(j) ? cJSON_GetArrayItem(j, 0) : j, "error");
    const char *type = cc_api_error_type(client_error_status(t->status));
    cc_buf_t msg = CC_BUF_INIT;
    if (cJSON_IsObject(e)) {
        describe_error(e, t->status, &type, &msg);
        if (t->status == 503) type = "overloaded_error";
    } else {
        const char *body = t->body.data ? t->body.data : "";
        size_t n = cc_utf8_cut(body, t->body.len, MAX_ERROR_QUOTE);
        cc_buf_printf(&msg, "Gemini answered HTTP %d", t->status);
        if (n) {
            cc_buf_puts(&msg, ": ");
            cc_utf8_clean(&msg, body, n); /* the message goes into JSON */
        }
    }
    if (client_error_status(t->status) == 400 &&
        cc_context_limit_rewrite(t->body.data, t->body.len, t->ctx_estimate, t->ctx_max, &msg))
        type = "invalid_request_error";
    cc_api_error_json(out, type, msg.data ? msg.data : "Gemini error");
    cc_buf_free(&msg);
    cJSON_Delete(j);
}

int cc__gm_response_end(cc_xlate_resp_t *t, cc_buf_t *out) {
    if (t->failed) return -1;
    if (t->error_status) {
        t->failed = true;
        error_answer(t, out);
        return 0;
    }
    if (t->sse_in) {
        t->out = out;
        int rc = cc_sse_finish(&t->sse);
        t->out = NULL;
        if (rc != 0 && !t->failed)
            resp_fail(t, "api_error", "a Gemini stream event is larger than 16 MiB", out);
        if (rc != 0 || t->failed) return -1;
        return finish_answer(t, out);
    }
    cJSON *j = cJSON_ParseWithLength(t->body.data ? t->body.data : "", t->body.len);
    if (!j) {
        resp_fail(t, "api_error", "Gemini answered with a body that is not JSON", out);
        return -1;
    }
    int rc = 0;
    if (cJSON_IsArray(j)) { /* the chunks of a stream in one array */
        const cJSON *c;
        cJSON_ArrayForEach(c, j) {
            if ((rc = handle_chunk(t, c, out)) < 0) break;
        }
    } else {
        rc = handle_chunk(t, j, out);
    }
    cJSON_Delete(j);
    if (rc < 0) return -1;
    return finish_answer(t, out);
}

void cc__gm_response_idle(cc_xlate_resp_t *t, cc_buf_t *out) {
    if (t->stream && !t->failed && cc_astream_started(t->as)) cc_astream_ping(t->as, out);
}
