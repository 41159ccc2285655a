/* provider_openai_resp.c: the answer half of the OpenAI-family adapter. A Chat Completions
 * answer (an SSE stream of chunks, one JSON completion, or an error) becomes the Anthropic
 * answer through the response builder (anthropic_stream.h):
 *   delta.content -> text; delta.reasoning_content / delta.reasoning -> thinking, signed
 *   "ccproxy:<provider>:" + base64(reasoning) when it ends; delta.tool_calls[index] -> tool_use
 *   blocks (id and name may come late, arguments split anywhere, calls interleaved);
 *   finish_reason -> stop_reason; usage (with cached prompt tokens) -> message_delta usage;
 *   citations / search_results (Perplexity) -> server_tool_use + web_search_tool_result;
 *   an {"error": ...} chunk -> `event: error`; HTTP errors -> Anthropic error bodies. */
#define _GNU_SOURCE /* strcasestr */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "providers/context_limit.h"
#include "providers/anthropic_stream.h"
#include "http/api_error.h"
#include "json/b64.h"
#include "json/json_body.h"
#include "json/json_view.h"
#include "providers/provider_openai.h"
#include "http/sse.h"
#include "json/utf8.h"

#define MAX_JSON_BODY (64u * 1024u * 1024u)
#define MAX_ERROR_BODY (1024u * 1024u)

enum { R_SSE, R_JSON, R_ERROR };

typedef struct {
    int index; /* the provider's index */
    int key;   /* the builder's key */
    char *id;
    char *name;
    bool started;
    cc_buf_t args; /* arguments that came before the name */
} slot_t;

struct cc_xlate_resp_s {
    int mode;
    int status; /* the upstream's */
    int client_status;
    long ctx_estimate, ctx_max; /* for a context-length error (context_limit.h) */
    bool client_stream;
    char *provider;
    cc_astream_t *as;
    cc_sse_parser_t sse;
    cc_buf_t body; /* R_JSON, R_ERROR: the body so far */
    cc_buf_t *out; /* where the SSE callback writes */
    bool done;     /* [DONE], an error, or the end was written */
    bool failed;
    bool finish_seen;
    const char *stop_reason; /* Anthropic's, static */
    char *stop_sequence;
    cc_astream_usage_t usage;
    cc_buf_t reasoning; /* the open thinking block's text */
    bool thinking;
    slot_t *slots;
    size_t n_slots, cap_slots;
    int next_key;
    bool searched;
    char *query;
    cc_buf_t scratch; /* decoded strings of the chunk at hand */
};

/* ---- helpers -------------------------------------------------------------------------------- */

static const cJSON *get(const cJSON *o, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* `v` when it is an array, else NULL (cJSON_ArrayForEach also walks objects). */
static const cJSON *array_or_null(const cJSON *v) {
    return cJSON_IsArray(v) ? v : NULL;
}

static const char *str_of(const cJSON *o, const char *key) {
    const cJSON *v = get(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The client's status for an upstream error status. */
static int client_status_for(int status) {
    switch (status) {
    case 400:
    case 422:
        return 400;
    case 401:
        return 401;
    case 402:
    case 403:
        return 403;
    case 404:
        return 404;
    case 413:
        return 413;
    case 429:
        return 429;
    case 503:
    case 529: /* gateways in front of Anthropic models pass its overloaded status on */
        return 529;
    default:
        if (status >= 500 || status == 408) return 500;
        if (status >= 400) return 400;
        return 502; /* a redirect or other answer that is not the completion */
    }
}

/* "<provider> answered HTTP <status>: <its message>" and what to do about it. */
static void error_message(const cc_xlate_resp_t *t, int status, const char *body, size_t len,
                          cc_buf_t *msg) {
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *e = get(j, "error");
    const char *text = NULL;
    if (cJSON_IsString(e)) text = e->valuestring;
    if (!text) text = str_of(e, "message");
    if (!text) text = str_of(j, "message");
    if (!text) text = str_of(j, "detail");
    if (!text && cJSON_IsArray(get(j, "detail")))
        text = str_of(cJSON_GetArrayItem(get(j, "detail"), 0), "msg");
    cc_buf_printf(msg, "%s answered HTTP %d: ", t->provider, status);
    size_t start = msg->len;
    if (text) {
        cc_utf8_clean(msg, text, strlen(text));
        const char *raw = str_of(get(e, "metadata"), "raw");
        if (raw) {
            cc_buf_puts(msg, " (");
            cc_utf8_clean(msg, raw, strlen(raw));
            cc_buf_puts(msg, ")");
        }
    } else {
        /* Not JSON, or JSON of another shape: the text itself, trimmed and cut short. */
        while (len && (*body == ' ' || *body == '\n' || *body == '\r' || *body == '\t'))
            body++, len--;
        while (len && (body[len - 1] == ' ' || body[len - 1] == '\n' || body[len - 1] == '\r'))
            len--;
        cc_utf8_clean(msg, body, len > 500 ? 500 : len);
        if (!len) cc_buf_puts(msg, "(no details)");
    }
    const char *said = msg->data + start;
    if (status == 400 && (strstr(said, "max_tokens") || strstr(said, "max_completion_tokens")))
        cc_buf_puts(msg, "; set model_info.max_output_tokens of this deployment in config.yaml "
                         "to the model's output limit");
    else if (status == 401)
        cc_buf_puts(msg, "; check the api_key of this deployment in config.yaml");
    else if (status == 404)
        cc_buf_puts(msg, "; check the model and api_base of this deployment in config.yaml");
    cJSON_Delete(j);
}

/* The decoded text of a string literal: its own bytes when it has no escape, else decoded
 * into `scratch`. False when it is not a string. */
static bool text_of(cc_jv_t str, cc_buf_t *scratch, const char **p, size_t *n) {
    cc_jv_t in = cc_jv_inner(str);
    if (!cc_jv_is_string(str)) return false;
    if (!memchr(in.p, '\\', in.n)) {
        *p = in.p;
        *n = in.n;
        return true;
    }
    cc_buf_reset(scratch);
    if (cc_jv_decode(str, scratch) < 0) return false;
    *p = scratch->data ? scratch->data : "";
    *n = scratch->len;
    return true;
}

static bool contains(cc_jv_t str, const char *what) {
    char *s = cc_jv_strdup(str);
    bool yes = s && strstr(s, what);
    free(s);
    return yes;
}

/* The Anthropic error type of an error object inside a stream or a 200 body. */
static const char *stream_error_type(cc_jv_t e) {
    cc_jv_t code = cc_jv_get(e, "code"), type = cc_jv_get(e, "type");
    double ncode = cc_jv_number(code, 0);
    if (ncode == 429 || contains(code, "rate_limit") || contains(type, "rate_limit"))
        return "rate_limit_error";
    if (ncode == 503 || ncode == 529 || contains(code, "overloaded") ||
        contains(type, "overloaded"))
        return "overloaded_error";
    return "api_error";
}

/* A failure after the answer began: an error event in a stream, an error body otherwise. */
static void fail_now(cc_xlate_resp_t *t, const char *type, const char *message, cc_buf_t *out) {
    if (t->done) return;
    t->done = true;
    t->failed = true;
    int status = cc_astream_error(t->as, type, message, out);
    if (status) t->client_status = status; /* a whole answer's held head waits for it */
}

int cc__oa_response_status(cc_xlate_resp_t *t) {
    return t->client_status;
}

/* ---- the pieces of a completion ------------------------------------------------------------- */

/* The open thinking block ends: its signature lets the request side give the reasoning back to
 * the same provider on the next turn. */
static void close_thinking(cc_xlate_resp_t *t, cc_buf_t *out) {
    if (!t->thinking) return;
    cc_buf_t sig = CC_BUF_INIT;
    cc__oa_signature_prefix(&sig, t->provider);
    cc_b64_encode(&sig, t->reasoning.data ? t->reasoning.data : "", t->reasoning.len);
    cc_astream_thinking_signature(t->as, sig.data, out);
    cc_buf_free(&sig);
    cc_buf_reset(&t->reasoning);
    t->thinking = false;
}

static void on_reasoning(cc_xlate_resp_t *t, const char *text, size_t n, cc_buf_t *out) {
    if (!n) return;
    cc_astream_thinking(t->as, text, n, out);
    cc_buf_append(&t->reasoning, text, n);
    t->thinking = true;
}

static void on_text(cc_xlate_resp_t *t, const char *text, size_t n, cc_buf_t *out) {
    if (!n) return;
    close_thinking(t, out);
    cc_astream_text(t->as, text, n, out);
}

/* content: a string, or (some servers) an array of parts with text. */
static void on_content(cc_xlate_resp_t *t, cc_jv_t c, cc_buf_t *out) {
    const char *p;
    size_t n;
    if (text_of(c, &t->scratch, &p, &n)) {
        on_text(t, p, n, out);
        return;
    }
    cc_jv_iter_t it;
    cc_jv_t part;
    cc_jv_iter(cc_jv_is_array(c) ? c : (cc_jv_t){NULL, 0}, &it);
    while (cc_jv_next(&it, NULL, &part))
        if (text_of(cc_jv_get(part, "text"), &t->scratch, &p, &n)) on_text(t, p, n, out);
}

static slot_t *slot_for(cc_xlate_resp_t *t, int index, cc_jv_t id) {
    slot_t *s = NULL;
    for (size_t i = t->n_slots; i > 0 && !s; i--)
        if (t->slots[i - 1].index == index) s = &t->slots[i - 1];
    /* The same index with another id is a new call (servers that reuse index 0). */
    bool other = s && s->id && cc_jv_is_string(id) && id.n > 2 && !cc_jv_eq(id, s->id);
    if (s && !other) return s;
    if (t->n_slots == t->cap_slots) {
        size_t cap = t->cap_slots ? t->cap_slots * 2 : 8;
        slot_t *p = realloc(t->slots, cap * sizeof *p);
        if (!p) return NULL;
        t->slots = p;
        t->cap_slots = cap;
    }
    s = &t->slots[t->n_slots++];
    memset(s, 0, sizeof *s);
    s->index = index;
    s->key = t->next_key++;
    return s;
}

static void slot_start(cc_xlate_resp_t *t, slot_t *s, cc_buf_t *out) {
    if (s->started || !s->name) return;
    s->started = true;
    cc_astream_tool_start(t->as, s->key, s->id, s->name, out);
    if (s->args.len) cc_astream_tool_args(t->as, s->key, s->args.data, s->args.len, out);
    cc_buf_free(&s->args);
}

static void on_tool_call(cc_xlate_resp_t *t, cc_jv_t tc, int pos, cc_buf_t *out) {
    static const char *const keys[] = {"index", "id", "function"};
    cc_jv_t v[3];
    cc_jv_pick(tc, keys, v, 3);
    cc_jv_t name = cc_jv_get(v[2], "name"), args = cc_jv_get(v[2], "arguments");
    double index = cc_jv_number(v[0], -1);
    slot_t *s = slot_for(t, index >= 0 && index < 1e6 ? (int)index : pos, v[1]);
    if (!s) return;
    close_thinking(t, out);
    if (!s->id && cc_jv_is_string(v[1]) && v[1].n > 2) s->id = cc_jv_strdup(v[1]);
    if (!s->name && cc_jv_is_string(name) && name.n > 2) s->name = cc_jv_strdup(name);
    slot_start(t, s, out);
    const char *a = NULL;
    size_t n = 0;
    if (cc_jv_is_object(args)) { /* servers that send the arguments decoded */
        cc_buf_reset(&t->scratch);
        cc_jv_compact(args, &t->scratch);
        a = t->scratch.data;
        n = t->scratch.len;
    } else if (!text_of(args, &t->scratch, &a, &n)) {
        n = 0;
    }
    if (!n) return;
    if (s->started)
        cc_astream_tool_args(t->as, s->key, a, n, out);
    else
        cc_buf_append(&s->args, a, n);
}

/* Perplexity's sources become the blocks Anthropic's own web search produces, before the text
 * they support, so the client shows the search. */
static void on_search(cc_xlate_resp_t *t, cc_jv_t results, cc_jv_t citations, cc_buf_t *out) {
    if (t->searched) return;
    cc_jv_t list_view = cc_jv_count(results) ? results : citations;
    if (!cc_jv_count(list_view)) return;
    t->searched = true;
    close_thinking(t, out);
    cJSON *list = cJSON_CreateArray();
    cJSON *found = cJSON_ParseWithLength(list_view.p, list_view.n);
    const cJSON *r;
    cJSON_ArrayForEach(r, array_or_null(found)) {
        const char *url = cJSON_IsString(r) ? r->valuestring : str_of(r, "url");
        if (!url) continue;
        const char *title = str_of(r, "title");
        const char *age = str_of(r, "date") ? str_of(r, "date") : str_of(r, "last_updated");
        const char *snippet = str_of(r, "snippet");
        cc_buf_t enc = CC_BUF_INIT;
        cc_b64_encode(&enc, snippet ? snippet : url, strlen(snippet ? snippet : url));
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "type", "web_search_result");
        cJSON_AddStringToObject(item, "url", url);
        cJSON_AddStringToObject(item, "title", title && *title ? title : url);
        cJSON_AddStringToObject(item, "encrypted_content", enc.data ? enc.data : "");
        if (age && *age) cJSON_AddStringToObject(item, "page_age", age);
        cJSON_AddItemToArray(list, item);
        cc_buf_free(&enc);
    }
    cJSON_Delete(found);
    cc_astream_web_search(t->as, t->query, list, out);
}

/* A token count, or -1. */
static long count_in(cc_jv_t o, const char *key) {
    double v = cc_jv_number(cc_jv_get(o, key), -1);
    return v >= 0 && v < 1e15 ? (long)v : -1;
}

/* usage: prompt tokens include the cached ones, Anthropic's input_tokens do not. */
static bool parse_usage(cc_jv_t u, cc_astream_usage_t *out) {
    if (!cc_jv_is_object(u)) return false;
    long prompt = count_in(u, "prompt_tokens");
    long completion = count_in(u, "completion_tokens");
    long cached = count_in(cc_jv_get(u, "prompt_tokens_details"), "cached_tokens");
    if (cached < 0) cached = count_in(u, "prompt_cache_hit_tokens"); /* DeepSeek */
    if (prompt < 0 && completion < 0) return false;
    if (prompt >= 0) {
        if (cached < 0 || cached > prompt) cached = cached < 0 ? 0 : prompt;
        out->input_tokens = prompt - cached;
        out->cache_read_input_tokens = cached;
        out->cache_creation_input_tokens = 0;
    }
    if (completion >= 0) out->output_tokens = completion;
    return true;
}

static const char *stop_reason_for(cc_jv_t finish) {
    if (cc_jv_eq(finish, "length")) return "max_tokens";
    if (cc_jv_eq(finish, "tool_calls") || cc_jv_eq(finish, "function_call")) return "tool_use";
    if (cc_jv_eq(finish, "content_filter")) return "refusal";
    return "end_turn";
}

static bool present(cc_jv_t v) {
    return v.n && v.p[0] != 'n'; /* there, and not null */
}

static void on_error_object(cc_xlate_resp_t *t, cc_jv_t err, cc_buf_t *out) {
    cc_buf_t msg = CC_BUF_INIT;
    char *m = cc_jv_strdup(cc_jv_is_string(err) ? err : cc_jv_get(err, "message"));
    cc_buf_printf(&msg, "%s reported an error in its answer: %s", t->provider,
                  m && *m ? m : "(no message)");
    fail_now(t, stream_error_type(err), msg.data, out);
    cc_buf_free(&msg);
    free(m);
}

/* The members of a chunk, a choice and a delta that the translation reads. */
enum { C_USAGE, C_X_GROQ, C_ERROR, C_RESULTS, C_CITATIONS, C_CHOICES, C_COUNT };
static const char *const chunk_keys[C_COUNT] = {"usage",          "x_groq",    "error",
                                                "search_results", "citations", "choices"};
enum { H_DELTA, H_MESSAGE, H_FINISH, H_STOP_REASON, H_MATCHED, H_COUNT };
static const char *const choice_keys[H_COUNT] = {"delta", "message", "finish_reason", "stop_reason",
                                                 "matched_stop"};
enum { D_REASONING_CONTENT, D_REASONING, D_CONTENT, D_REFUSAL, D_TOOL_CALLS, D_COUNT };
static const char *const delta_keys[D_COUNT] = {"reasoning_content", "reasoning", "content",
                                                "refusal", "tool_calls"};

static void on_finish(cc_xlate_resp_t *t, const cc_jv_t *h) {
    if (!cc_jv_is_string(h[H_FINISH]) || h[H_FINISH].n <= 2) return;
    t->finish_seen = true;
    t->stop_reason = stop_reason_for(h[H_FINISH]);
    /* vLLM and SGLang say which stop string matched. */
    cc_jv_t seq = cc_jv_is_string(h[H_STOP_REASON]) ? h[H_STOP_REASON] : h[H_MATCHED];
    if (cc_jv_is_string(seq) && cc_jv_eq(h[H_FINISH], "stop")) {
        free(t->stop_sequence);
        t->stop_sequence = cc_jv_strdup(seq);
        t->stop_reason = "stop_sequence";
    }
}

/* One chunk of a stream, or (whole) a complete non-stream completion (valid JSON). Returns -1
 * when it carried an error. */
static int on_chunk(cc_xlate_resp_t *t, cc_jv_t chunk, bool whole, cc_buf_t *out) {
    cc_jv_t c[C_COUNT], h[H_COUNT], d[D_COUNT];
    cc_jv_pick(chunk, chunk_keys, c, C_COUNT);
    cc_astream_usage_t u = CC_ASTREAM_USAGE_UNKNOWN;
    bool has_usage =
        parse_usage(c[C_USAGE], &u) || parse_usage(cc_jv_get(c[C_X_GROQ], "usage"), &u);
    cc_astream_start(t->as, has_usage ? &u : NULL, out);
    if (has_usage) t->usage = u;
    if (present(c[C_ERROR])) {
        on_error_object(t, c[C_ERROR], out);
        return -1;
    }
    on_search(t, c[C_RESULTS], c[C_CITATIONS], out);
    cc_jv_iter_t it;
    cc_jv_t c0 = {NULL, 0};
    cc_jv_iter(cc_jv_is_array(c[C_CHOICES]) ? c[C_CHOICES] : (cc_jv_t){NULL, 0}, &it);
    if (!cc_jv_next(&it, NULL, &c0)) return 0;
    cc_jv_pick(c0, choice_keys, h, H_COUNT);
    cc_jv_pick(whole ? h[H_MESSAGE] : h[H_DELTA], delta_keys, d, D_COUNT);
    const char *p;
    size_t n;
    if ((text_of(d[D_REASONING_CONTENT], &t->scratch, &p, &n) && n) ||
        text_of(d[D_REASONING], &t->scratch, &p, &n))
        on_reasoning(t, p, n, out);
    on_content(t, d[D_CONTENT], out);
    if (text_of(d[D_REFUSAL], &t->scratch, &p, &n)) on_text(t, p, n, out);
    cc_jv_t tc;
    int pos = 0;
    cc_jv_iter(cc_jv_is_array(d[D_TOOL_CALLS]) ? d[D_TOOL_CALLS] : (cc_jv_t){NULL, 0}, &it);
    while (cc_jv_next(&it, NULL, &tc))
        on_tool_call(t, tc, pos++, out);
    on_finish(t, h);
    return 0;
}

static void finish(cc_xlate_resp_t *t, cc_buf_t *out) {
    if (t->done) return;
    t->done = true;
    close_thinking(t, out);
    /* Calls whose name never came cannot be run: they are left out. */
    cc_astream_finish(t->as, t->stop_reason, t->stop_sequence, &t->usage, out);
}

/* ---- the translator ------------------------------------------------------------------------- */

static int on_event(void *arg, const cc_sse_event_t *ev) {
    cc_xlate_resp_t *t = arg;
    const char *data = ev->data;
    size_t n = ev->data_len;
    while (n && (*data == ' ' || *data == '\t'))
        data++, n--;
    if (n == 6 && memcmp(data, "[DONE]", 6) == 0) {
        finish(t, t->out);
        return 1;
    }
    /* Data that is not a JSON object (keep-alive text) is skipped. */
    if (!n || data[0] != '{' || cc_json_validate(data, n, NULL) != 0) return 0;
    cc_jv_t chunk = cc_jv(data, n);
    if (strcmp(ev->event, "error") == 0 && !cc_jv_ok(cc_jv_get(chunk, "error"))) {
        char *m = cc_jv_strdup(cc_jv_get(chunk, "message"));
        fail_now(t, "api_error", m ? m : "the upstream stream reported an error", t->out);
        free(m);
        return 1;
    }
    return on_chunk(t, chunk, false, t->out) < 0 ? 1 : 0;
}

/* The query of a web search answer: the last user text, without the phrase Claude Code's
 * WebSearch tool wraps it in. */
static char *search_query(const char *body, size_t len) {
    cc_json_member_t m;
    if (!body || cc_json_find_member(body, len, "messages", &m) != 0) return NULL;
    cJSON *msgs = cJSON_ParseWithLength(body + m.value.start, m.value.len);
    char *q = NULL;
    for (int i = cJSON_GetArraySize(msgs) - 1; i >= 0 && !q; i--) {
        const cJSON *msg = cJSON_GetArrayItem(msgs, i);
        const char *role = str_of(msg, "role");
        if (!role || strcmp(role, "user") != 0) continue;
        const cJSON *c = get(msg, "content");
        const char *text = cJSON_IsString(c) ? c->valuestring : NULL;
        for (int k = cJSON_GetArraySize(c) - 1; k >= 0 && !text; k--) {
            const cJSON *b = cJSON_GetArrayItem(c, k);
            const char *bt = str_of(b, "text");
            if (bt && strncmp(bt, "<system-reminder>", 17) != 0) text = bt;
        }
        if (!text) continue;
        static const char lead[] = "Perform a web search for the query: ";
        if (strncmp(text, lead, sizeof lead - 1) == 0) text += sizeof lead - 1;
        q = strdup(text);
    }
    cJSON_Delete(msgs);
    return q;
}

cc_xlate_resp_t *cc__oa_response_new(const cc_xlate_ctx_t *ctx, int status,
                                     const cc_headers_t *headers, int *client_status,
                                     cc_headers_t *client_headers) {
    cc_xlate_resp_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    const char *provider =
        ctx->deployment && ctx->deployment->provider ? ctx->deployment->provider : "openai";
    t->provider = strdup(provider);
    t->client_stream = ctx->stream;
    t->status = status;
    t->as = cc_astream_new(ctx->client_model, ctx->stream);
    cc_astream_usage_t unknown = CC_ASTREAM_USAGE_UNKNOWN;
    t->usage = unknown;
    if (!t->provider || !t->as) {
        cc__oa_response_free(t);
        return NULL;
    }
    cc_sse_parser_init(&t->sse, on_event, t);
    if (status < 200 || status >= 300) {
        t->mode = R_ERROR;
        t->client_status = client_status_for(status);
        cc_context_limit_note(ctx, &t->ctx_estimate, &t->ctx_max);
        cc_headers_set(client_headers, "content-type", "application/json");
        const char *ra = headers ? cc_headers_get(headers, "retry-after") : NULL;
        if (ra && (status == 429 || status >= 500))
            cc_headers_set(client_headers, "retry-after", ra);
    } else {
        const char *ct = headers ? cc_headers_get(headers, "content-type") : NULL;
        bool sse = ct ? strcasestr(ct, "text/event-stream") != NULL : ctx->stream;
        t->mode = sse ? R_SSE : R_JSON;
        t->client_status = 200;
        cc_headers_set(client_headers, "content-type",
                       ctx->stream ? "text/event-stream" : "application/json");
        if (strcmp(provider, "perplexity") == 0) t->query = search_query(ctx->body, ctx->body_len);
    }
    if (client_status) *client_status = t->client_status;
    return t;
}

int cc__oa_response_feed(cc_xlate_resp_t *t, const char *data, size_t len, cc_buf_t *out) {
    if (t->done) return t->failed ? -1 : 0;
    if (t->mode != R_SSE) {
        size_t limit = t->mode == R_ERROR ? MAX_ERROR_BODY : MAX_JSON_BODY;
        size_t room = t->body.len < limit ? limit - t->body.len : 0;
        if (t->mode == R_JSON && len > room) {
            fail_now(t, "api_error", "the upstream answer is larger than 64 MiB", out);
            return -1;
        }
        cc_buf_append(&t->body, data, len < room ? len : room);
        return 0;
    }
    t->out = out;
    int rc = cc_sse_feed(&t->sse, data, len);
    t->out = NULL;
    if (rc < 0) {
        fail_now(t, "api_error", "the upstream stream sent an event larger than 16 MiB", out);
        return -1;
    }
    return t->failed ? -1 : 0;
}

int cc__oa_response_end(cc_xlate_resp_t *t, cc_buf_t *out) {
    if (t->mode == R_ERROR) {
        if (t->done) return 0;
        t->done = true;
        cc_buf_t msg = CC_BUF_INIT;
        error_message(t, t->status, t->body.data ? t->body.data : "", t->body.len, &msg);
        if (t->client_status == 400)
            cc_context_limit_rewrite(t->body.data, t->body.len, t->ctx_estimate, t->ctx_max, &msg);
        cc_api_error_json(out, cc_api_error_type(t->client_status), msg.data);
        cc_buf_free(&msg);
        return 0;
    }
    if (t->done) return t->failed ? -1 : 0;
    if (t->mode == R_JSON) {
        const char *body = t->body.data ? t->body.data : "";
        bool valid = cc_json_validate(body, t->body.len, NULL) == 0;
        cc_jv_t j = valid ? cc_jv(body, t->body.len) : (cc_jv_t){NULL, 0};
        int rc = 0;
        if (!cc_jv_is_object(j)) {
            cc_buf_t msg = CC_BUF_INIT;
            error_message(t, t->status, t->body.data ? t->body.data : "", t->body.len, &msg);
            cc_buf_puts(&msg, " (the answer is not a JSON completion)");
            fail_now(t, "api_error", msg.data, out);
            cc_buf_free(&msg);
            rc = -1;
        } else if (on_chunk(t, j, true, out) < 0) {
            rc = -1;
        } else {
            finish(t, out);
        }
        return rc;
    }
    t->out = out;
    cc_sse_finish(&t->sse);
    t->out = NULL;
    if (t->done) return t->failed ? -1 : 0;
    if (t->finish_seen) {
        finish(t, out);
        return 0;
    }
    /* Ended cleanly before its end (no finish_reason, no [DONE]): a client's stream ends here
     * too, without message_stop, as an Anthropic stream cut short would, and no error event is
     * made up (the exchange's log line says "upstream-incomplete"); a whole answer becomes an
     * error, its head being still held. */
    if (t->client_stream) {
        t->done = true;
        t->failed = true;
        return -1;
    }
    fail_now(t, "api_error",
             "the upstream stream ended before the answer was complete (no finish_reason and no "
             "[DONE])",
             out);
    return -1;
}

void cc__oa_response_idle(cc_xlate_resp_t *t, cc_buf_t *out) {
    if (t->mode == R_ERROR || t->done || !t->client_stream) return;
    cc_astream_start(t->as, NULL, out);
    cc_astream_ping(t->as, out);
}

void cc__oa_response_free(cc_xlate_resp_t *t) {
    if (!t) return;
    cc_astream_free(t->as);
    cc_sse_parser_free(&t->sse);
    cc_buf_free(&t->body);
    cc_buf_free(&t->reasoning);
    cc_buf_free(&t->scratch);
    for (size_t i = 0; i < t->n_slots; i++) {
        free(t->slots[i].id);
        free(t->slots[i].name);
        cc_buf_free(&t->slots[i].args);
    }
    free(t->slots);
    free(t->stop_sequence);
    free(t->query);
    free(t->provider);
    free(t);
}
