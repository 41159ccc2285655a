/* provider_gemini.c: the Google Gemini adapter (Generative Language API, generateContent and
 * streamGenerateContent). Anthropic Messages requests become GenerateContentRequest bodies;
 * Gemini's answers (SSE chunks, one JSON, or a Google error) become what Claude Code expects,
 * through the Anthropic response builder (anthropic_stream.h).
 *
 * Request (Anthropic -> Gemini):
 * - system text and every role:"system" message (wherever it sits) fold into
 *   systemInstruction, in order; the "x-anthropic-billing-header:" block is dropped.
 * - user -> "user", assistant -> "model"; consecutive turns of one role merge; empty text and
 *   empty turns are dropped. Images and PDFs become inlineData (base64) or fileData (URL).
 * - tool_use -> functionCall {name, args}; tool_result -> functionResponse {name (found from
 *   the tool_use id), response: {content} or {error}}, put first in the user turn in the
 *   order of the calls (Claude Code sends results in completion order, Gemini matches parallel
 *   calls of one function by position); images in a result follow as inlineData parts. A
 *   result whose call is unknown becomes text.
 * - Thought signatures: a thinking block whose signature is "ccproxy:gemini:<sig>" (made by
 *   the response side below) puts thoughtSignature <sig> on the next text or functionCall part
 *   of its turn (or the last part when none follows). Other thinking blocks are dropped. A
 *   model turn whose first functionCall has no signature (history from another model) gets
 *   Gemini's documented "skip_thought_signature_validator", which Gemini 3 needs.
 * - tools -> functionDeclarations with schemas sanitised (schema_sanitize.h); a parameters
 *   object without properties is left out (Gemini rejects empty ones). defer_loading tools
 *   and server tools other than web search are dropped; web_search_* becomes googleSearch
 *   when no function is declared (Gemini 2.x rejects search combined with functions; Claude
 *   Code's WebSearch tool sends it alone). tool_choice -> functionCallingConfig.
 * - max_tokens -> maxOutputTokens clamped to model_info.max_output_tokens or
 *   litellm_params.max_tokens (the smaller when both), else to 65536 (the output limit of
 *   Gemini 2.5 and 3; Claude Code asks for up to 128000).
 * - thinking enabled -> thinkingBudget (at most 32768, 24576 on Flash models, below
 *   maxOutputTokens) with includeThoughts; adaptive -> includeThoughts with thinkingLevel on
 *   Gemini 3 models (output_config.effort low -> "low", medium -> "medium" on Flash else
 *   "high", high/xhigh/max -> "high"; no effort -> the model's default) or thinkingBudget -1
 *   (dynamic) on earlier ones; disabled or absent -> no thinkingConfig.
 * - cache_control, context_management, metadata, output_config and the rest are not sent.
 * - count_tokens is answered locally with cc_tokens_estimate.
 *
 * Response (Gemini -> Anthropic):
 * - text parts -> text; thought parts -> thinking; a thoughtSignature -> the signature
 *   "ccproxy:gemini:" + the signature (already base64 in Gemini's JSON) of the open thinking
 *   block, or of an empty thinking block placed right before the part that carries it, so
 *   Claude Code stores it and sends it back; functionCall -> a complete tool_use (a new id).
 * - finishReason STOP -> end_turn (tool_use with calls), MAX_TOKENS -> max_tokens; SAFETY,
 *   RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII, LANGUAGE and the image ones -> end_turn
 *   with a text note saying why (Claude Code's "refusal" message speaks of Anthropic's usage
 *   policy, which would mislead); MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL and
 *   TOO_MANY_TOOL_CALLS -> an error (Claude Code retries); a blocked prompt -> a note.
 * - usageMetadata: input = promptTokenCount + toolUsePromptTokenCount -
 *   cachedContentTokenCount, cache_read = cachedContentTokenCount, output =
 *   candidatesTokenCount + thoughtsTokenCount. message_start carries the first chunk's.
 * - groundingMetadata (Google Search) -> server_tool_use + web_search_tool_result blocks
 *   before the end, so the WebSearch tool sees its results.
 * - A stream that ends without a finishReason, an error object inside it, or a chunk that is
 *   not JSON -> event: error. Google errors (status >= 400) -> Anthropic error bodies: 400
 *   invalid_request_error ("prompt is too long" when the input is over the model's limit),
 *   401/403/404 as Anthropic (an invalid API key, a 400 for Google, is an
 *   authentication_error), 429 rate_limit_error (retry-after kept, RetryInfo in the message),
 *   503 -> 529 overloaded_error, other 5xx api_error. A non-stream answer that fails after the
 *   status was set (MALFORMED_FUNCTION_CALL, a body that is not JSON) gets an error body.
 * - A stream answered as JSON (content-type *json*: an array of chunks, as
 *   streamGenerateContent sends without alt=sse) is read whole, then sent as events. */
#include "providers.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "anthropic_stream.h"
#include "anthropic_thinking.h"
#include "api_error.h"
#include "schema_sanitize.h"
#include "sse.h"
#include "tokens.h"

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

static const cJSON *member(const cJSON *o, const char *key) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static const char *str_member(const cJSON *o, const char *key) {
    const cJSON *v = member(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool is_str(const cJSON *v, const char *s) {
    return cJSON_IsString(v) && strcmp(v->valuestring, s) == 0;
}

static bool starts_with(const char *s, const char *prefix) {
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A number member as a long, or `dflt` when absent or not a number. */
static long num_member(const cJSON *o, const char *key, long dflt) {
    const cJSON *v = member(o, key);
    if (!cJSON_IsNumber(v)) return dflt;
    if (v->valuedouble >= 9e15) return 9000000000000000L;
    if (v->valuedouble <= -9e15) return -9000000000000000L;
    return (long)v->valuedouble;
}

/* ---- request: Anthropic -> Gemini --------------------------------------------------------- */

typedef struct {
    const char *id;
    const char *name;
    int msg; /* the assistant message it is in */
    int pos; /* its place among that message's tool calls */
} tool_use_ref_t;

typedef struct {
    int msg, pos; /* where its call is: results go in call order */
    cJSON *part;
} response_part_t;

typedef struct {
    cc_buf_t *err;
    cJSON *sys_parts; /* systemInstruction.parts */
    cJSON *contents;
    tool_use_ref_t *uses;
    size_t n_uses, cap_uses;
} req_t;

static int req_fail(req_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int req_fail(req_t *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (r->err) {
        cc_buf_reset(r->err);
        cc_buf_vprintf(r->err, fmt, ap);
    }
    va_end(ap);
    return -1;
}

static int add_use(req_t *r, const char *id, const char *name, int msg, int pos) {
    if (r->n_uses == r->cap_uses) {
        size_t cap = r->cap_uses ? r->cap_uses * 2 : 16;
        tool_use_ref_t *p = realloc(r->uses, cap * sizeof *p);
        if (!p) return -1;
        r->uses = p;
        r->cap_uses = cap;
    }
    r->uses[r->n_uses++] = (tool_use_ref_t){id, name, msg, pos};
    return 0;
}

/* By id, then later messages first (so a lookup finds the latest of repeated ids). */
static int cmp_use(const void *a, const void *b) {
    const tool_use_ref_t *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c) return c;
    return x->msg > y->msg ? -1 : x->msg < y->msg;
}

/* Every tool_use of the assistant turns, sorted by id, so a tool_result can name its
 * function. */
static int collect_uses(req_t *r, const cJSON *messages) {
    int mi = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, messages) {
        const cJSON *content = member(m, "content");
        if (is_str(member(m, "role"), "assistant") && cJSON_IsArray(content)) {
            int pos = 0;
            const cJSON *b;
            cJSON_ArrayForEach(b, content) {
                const char *id = str_member(b, "id"), *name = str_member(b, "name");
                if (is_str(member(b, "type"), "tool_use") && id && name) {
                    if (add_use(r, id, name, mi, pos++) < 0)
                        return req_fail(r, "out of memory while translating the request");
                }
            }
        }
        mi++;
    }
    if (r->n_uses > 1) qsort(r->uses, r->n_uses, sizeof *r->uses, cmp_use);
    return 0;
}

/* The latest tool_use with this id in a message before `before` (ids are unique; with a
 * repeated id, a result answers the closest call before it). */
static const tool_use_ref_t *find_use(const req_t *r, const char *id, int before) {
    size_t lo = 0, hi = r->n_uses;
    while (lo < hi) { /* the first entry whose id is >= id */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(r->uses[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < r->n_uses && strcmp(r->uses[lo].id, id) == 0; lo++)
        if (r->uses[lo].msg < before) return &r->uses[lo];
    return NULL;
}

static cJSON *text_part(const char *text) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "text", text);
    return p;
}

static void add_system_text(req_t *r, const char *text) {
    if (!text || !*text || starts_with(text, BILLING_PREFIX)) return;
    cJSON_AddItemToArray(r->sys_parts, text_part(text));
}

/* `system`, or the content of a role:"system" message: a string or text blocks. */
static int add_system(req_t *r, const cJSON *sys, const char *where) {
    if (cJSON_IsString(sys)) {
        add_system_text(r, sys->valuestring);
        return 0;
    }
    if (!cJSON_IsArray(sys))
        return req_fail(r, "%s must be a string or a list of text blocks", where);
    const cJSON *b;
    cJSON_ArrayForEach(b, sys) {
        if (cJSON_IsString(b))
            add_system_text(r, b->valuestring);
        else
            add_system_text(r, str_member(b, "text"));
    }
    return 0;
}

/* The MIME type of an image URL, from its extension. */
static const char *image_mime(const char *url) {
    static const char *const map[][2] = {{".png", "image/png"},   {".gif", "image/gif"},
                                         {".webp", "image/webp"}, {".heic", "image/heic"},
                                         {".heif", "image/heif"}, {".jpg", "image/jpeg"},
                                         {".jpeg", "image/jpeg"}};
    size_t n = strcspn(url, "?#");
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t e = strlen(map[i][0]);
        if (n >= e && strncasecmp(url + n - e, map[i][0], e) == 0) return map[i][1];
    }
    return "image/jpeg";
}

static cJSON *blob_part(const char *kind, const char *mime, const char *key, const char *value) {
    cJSON *p = cJSON_CreateObject();
    cJSON *d = cJSON_AddObjectToObject(p, kind);
    cJSON_AddStringToObject(d, "mimeType", mime);
    cJSON_AddStringToObject(d, key, value);
    return p;
}

/* An image or document block as parts appended to `parts`. */
static int media_parts(req_t *r, const cJSON *block, const char *where, cJSON *parts) {
    bool image = is_str(member(block, "type"), "image");
    const cJSON *src = member(block, "source");
    const char *stype = str_member(src, "type");
    if (!stype)
        return req_fail(r, "%s: the %s has no source.type; send base64 data or a URL", where,
                        image ? "image" : "document");
    if (strcmp(stype, "base64") == 0) {
        const char *data = str_member(src, "data");
        const char *mime = str_member(src, "media_type");
        if (!data) return req_fail(r, "%s: the base64 source has no data string", where);
        if (!mime) mime = image ? "image/png" : "application/pdf";
        cJSON_AddItemToArray(parts, blob_part("inlineData", mime, "data", data));
        return 0;
    }
    if (strcmp(stype, "url") == 0) {
        const char *url = str_member(src, "url");
        if (!url) return req_fail(r, "%s: the url source has no url string", where);
        cJSON_AddItemToArray(
            parts,
            blob_part("fileData", image ? image_mime(url) : "application/pdf", "fileUri", url));
        return 0;
    }
    if (!image && strcmp(stype, "text") == 0) {
        const char *data = str_member(src, "data");
        if (data && *data) cJSON_AddItemToArray(parts, text_part(data));
        return 0;
    }
    if (!image && strcmp(stype, "content") == 0) {
        const cJSON *c = member(src, "content");
        if (cJSON_IsString(c) && *c->valuestring)
            cJSON_AddItemToArray(parts, text_part(c->valuestring));
        const cJSON *list = cJSON_IsArray(c) ? c : NULL, *b;
        cJSON_ArrayForEach(b, list) {
            const char *t = str_member(b, "text");
            if (t && *t) cJSON_AddItemToArray(parts, text_part(t));
        }
        return 0;
    }
    if (strcmp(stype, "file") == 0)
        return req_fail(r,
                        "%s: %s from the Files API (file_id) cannot be sent to Gemini; send "
                        "it as base64 data or a URL",
                        where, image ? "an image" : "a document");
    return req_fail(r, "%s: unsupported %s source type \"%s\"; use base64 or url", where,
                    image ? "image" : "document", stype);
}

/* A tool_result block: its text, and its images or documents as parts in `media`. */
static int tool_result_text(req_t *r, const cJSON *block, const char *where, cc_buf_t *text,
                            cJSON *media) {
    const cJSON *c = member(block, "content");
    if (cJSON_IsString(c)) {
        cc_buf_puts(text, c->valuestring);
        return 0;
    }
    if (!cJSON_IsArray(c)) return 0;
    int i = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, c) {
        const cJSON *type = member(b, "type");
        char sub[96];
        snprintf(sub, sizeof sub, "%s.content[%d]", where, i++);
        if (is_str(type, "text")) {
            const char *t = str_member(b, "text");
            if (!t || !*t) continue;
            if (text->len) cc_buf_puts(text, "\n");
            cc_buf_puts(text, t);
        } else if (is_str(type, "image") || is_str(type, "document")) {
            if (media_parts(r, b, sub, media) < 0) return -1;
        } else if (cJSON_IsObject(b)) {
            char *j = cJSON_PrintUnformatted(b);
            if (j) {
                if (text->len) cc_buf_puts(text, "\n");
                cc_buf_puts(text, j);
                free(j);
            }
        }
    }
    return 0;
}

static int add_response(response_part_t **v, size_t *n, const tool_use_ref_t *use, cJSON *part) {
    response_part_t *p = realloc(*v, (*n + 1) * sizeof *p);
    if (!p) {
        cJSON_Delete(part);
        return -1;
    }
    *v = p;
    p[(*n)++] = (response_part_t){use->msg, use->pos, part};
    return 0;
}

/* Appends the parts of one Anthropic message to the Gemini turn list (merging with the last
 * turn when the role is the same). */
static void add_turn(req_t *r, const char *role, cJSON *parts) {
    if (!parts || !parts->child) {
        cJSON_Delete(parts);
        return;
    }
    cJSON *last = cJSON_GetArrayItem(r->contents, cJSON_GetArraySize(r->contents) - 1);
    if (last && is_str(member(last, "role"), role)) {
        cJSON *lp = cJSON_GetObjectItemCaseSensitive(last, "parts");
        while (parts->child)
            cJSON_AddItemToArray(lp, cJSON_DetachItemViaPointer(parts, parts->child));
        cJSON_Delete(parts);
        return;
    }
    cJSON *turn = cJSON_CreateObject();
    cJSON_AddStringToObject(turn, "role", role);
    cJSON_AddItemToObject(turn, "parts", parts);
    cJSON_AddItemToArray(r->contents, turn);
}

static bool has_sig(const cJSON *part) {
    return member(part, "thoughtSignature") != NULL;
}

/* An assistant message -> a model turn. */
static int model_turn(req_t *r, const cJSON *content, int mi) {
    cJSON *parts = cJSON_CreateArray();
    const char *pending = NULL; /* a carried signature waiting for its part */
    const cJSON *b;
    if (!parts) return req_fail(r, "out of memory while translating the request");
    if (cJSON_IsString(content)) {
        if (*content->valuestring) cJSON_AddItemToArray(parts, text_part(content->valuestring));
        add_turn(r, "model", parts);
        return 0;
    }
    cJSON_ArrayForEach(b, content) {
        const cJSON *type = member(b, "type");
        cJSON *part = NULL;
        if (is_str(type, "text")) {
            const char *t = str_member(b, "text");
            if (t && *t) part = text_part(t);
        } else if (is_str(type, "tool_use")) {
            const char *name = str_member(b, "name");
            if (!name) {
                cJSON_Delete(parts);
                return req_fail(r, "messages[%d]: a tool_use block has no name", mi);
            }
            const cJSON *input = member(b, "input");
            part = cJSON_CreateObject();
            cJSON *fc = cJSON_AddObjectToObject(part, "functionCall");
            cJSON_AddStringToObject(fc, "name", name);
            cJSON_AddItemToObject(fc, "args",
                                  cJSON_IsObject(input) ? cJSON_Duplicate(input, 1)
                                                        : cJSON_CreateObject());
        } else if (is_str(type, "thinking")) {
            const char *sig = str_member(b, "signature");
            if (starts_with(sig, SIG_PREFIX) && sig[SIG_PREFIX_LEN]) pending = sig + SIG_PREFIX_LEN;
        }
        /* redacted_thinking, server_tool_use, web_search_tool_result, ...: not for Gemini */
        if (!part) continue;
        if (pending) {
            cJSON_AddStringToObject(part, "thoughtSignature", pending);
            pending = NULL;
        }
        cJSON_AddItemToArray(parts, part);
    }
    if (pending) {
        /* The signature came after the last part (Gemini signs a text answer's last part). */
        cJSON *last = NULL, *p;
        cJSON_ArrayForEach(p, parts) {
            if (!has_sig(p)) last = p;
        }
        if (last) cJSON_AddStringToObject(last, "thoughtSignature", pending);
    }
    cJSON *p;
    cJSON_ArrayForEach(p, parts) {
        if (!member(p, "functionCall")) continue;
        if (!has_sig(p)) cJSON_AddStringToObject(p, "thoughtSignature", SIG_SKIP);
        break;
    }
    add_turn(r, "model", parts);
    return 0;
}

static int cmp_response(const void *a, const void *b) {
    const response_part_t *x = a, *y = b;
    if (x->msg != y->msg) return x->msg < y->msg ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* A user message -> a user turn: function responses first (in call order), then the media of
 * tool results, then the rest in order. */
static int user_turn(req_t *r, const cJSON *content, int mi) {
    cJSON *parts = cJSON_CreateArray(), *media = cJSON_CreateArray();
    response_part_t *resp = NULL;
    size_t n_resp = 0;
    cc_buf_t text = CC_BUF_INIT;
    int rc = -1, bi = 0;
    const cJSON *b;
    if (!parts || !media) {
        req_fail(r, "out of memory while translating the request");
        goto fail;
    }
    if (cJSON_IsString(content)) {
        if (*content->valuestring) cJSON_AddItemToArray(parts, text_part(content->valuestring));
    }
    const cJSON *blocks = cJSON_IsArray(content) ? content : NULL;
    cJSON_ArrayForEach(b, blocks) {
        char where[64];
        snprintf(where, sizeof where, "messages[%d].content[%d]", mi, bi++);
        const cJSON *type = member(b, "type");
        if (is_str(type, "text")) {
            const char *t = str_member(b, "text");
            if (t && *t) cJSON_AddItemToArray(parts, text_part(t));
        } else if (is_str(type, "image") || is_str(type, "document")) {
            if (media_parts(r, b, where, parts) < 0) goto fail;
        } else if (is_str(type, "tool_result")) {
            const char *id = str_member(b, "tool_use_id");
            cc_buf_reset(&text);
            if (tool_result_text(r, b, where, &text, media) < 0) goto fail;
            const tool_use_ref_t *use = id ? find_use(r, id, mi) : NULL;
            if (!use) {
                /* No call to answer: keep the content as text. */
                cc_buf_t t = CC_BUF_INIT;
                cc_buf_printf(&t, "[result of tool call %s]\n%s", id ? id : "(no id)",
                              text.data ? text.data : "");
                cJSON_AddItemToArray(parts, text_part(t.data ? t.data : ""));
                cc_buf_free(&t);
                continue;
            }
            cJSON *part = cJSON_CreateObject();
            cJSON *fr = cJSON_AddObjectToObject(part, "functionResponse");
            cJSON_AddStringToObject(fr, "name", use->name);
            cJSON *res = cJSON_AddObjectToObject(fr, "response");
            cJSON_AddStringToObject(res, cJSON_IsTrue(member(b, "is_error")) ? "error" : "content",
                                    text.data ? text.data : "");
            if (add_response(&resp, &n_resp, use, part) < 0) {
                req_fail(r, "out of memory while translating the request");
                goto fail;
            }
        } else if (is_str(type, "search_result")) {
            const cJSON *c;
            cJSON_ArrayForEach(c, member(b, "content")) {
                const char *t = str_member(c, "text");
                if (t && *t) cJSON_AddItemToArray(parts, text_part(t));
            }
        }
        /* thinking and other assistant-only blocks in a user turn: nothing to send */
    }
    /* A stable sort: results of one call order keep their relative order. */
    for (size_t i = 1; i < n_resp; i++)
        for (size_t j = i; j > 0 && cmp_response(&resp[j - 1], &resp[j]) > 0; j--) {
            response_part_t tmp = resp[j - 1];
            resp[j - 1] = resp[j];
            resp[j] = tmp;
        }
    cJSON *all = cJSON_CreateArray();
    for (size_t i = 0; i < n_resp; i++)
        cJSON_AddItemToArray(all, resp[i].part);
    n_resp = 0;
    while (media->child)
        cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(media, media->child));
    while (parts->child)
        cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(parts, parts->child));
    add_turn(r, "user", all);
    rc = 0;
fail:
    for (size_t i = 0; i < n_resp; i++)
        cJSON_Delete(resp[i].part);
    free(resp);
    cJSON_Delete(parts);
    cJSON_Delete(media);
    cc_buf_free(&text);
    return rc;
}

static int translate_messages(req_t *r, const cJSON *messages) {
    int mi = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, messages) {
        const cJSON *role = member(m, "role");
        const cJSON *content = member(m, "content");
        char where[64];
        snprintf(where, sizeof where, "messages[%d].content", mi);
        if (!cJSON_IsObject(m)) return req_fail(r, "messages[%d] is not an object", mi);
        if (!cJSON_IsString(content) && !cJSON_IsArray(content))
            return req_fail(r, "%s must be a string or a list of content blocks", where);
        if (is_str(role, "system")) {
            if (add_system(r, content, where) < 0) return -1;
        } else if (is_str(role, "assistant")) {
            if (model_turn(r, content, mi) < 0) return -1;
        } else if (is_str(role, "user")) {
            if (user_turn(r, content, mi) < 0) return -1;
        } else {
            return req_fail(r, "messages[%d].role must be \"user\" or \"assistant\"", mi);
        }
        mi++;
    }
    return 0;
}

/* tools -> functionDeclarations (and googleSearch); tool_choice -> toolConfig. */
static int translate_tools(req_t *r, const cJSON *in, cJSON *g) {
    const cJSON *tools = member(in, "tools");
    cJSON *decls = cJSON_CreateArray();
    bool search = false;
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
        const char *type = str_member(t, "type");
        const char *name = str_member(t, "name");
        int ti = i++;
        if (cJSON_IsTrue(member(t, "defer_loading"))) continue;
        if (type && starts_with(type, "web_search")) {
            search = true;
            continue;
        }
        if (type && strcmp(type, "custom") != 0) continue; /* another server tool */
        if (!name || !*name) {
            cJSON_Delete(decls);
            return req_fail(r, "tools[%d] has no name", ti);
        }
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "name", name);
        const char *desc = str_member(t, "description");
        if (desc) cJSON_AddStringToObject(d, "description", desc);
        cJSON *params = cc_schema_sanitize(member(t, "input_schema"), &cc_schema_rules_gemini);
        if (!params) {
            cJSON_Delete(d);
            cJSON_Delete(decls);
            return req_fail(r, "out of memory while translating tools[%d]", ti);
        }
        if (member(params, "properties") || member(params, "anyOf"))
            cJSON_AddItemToObject(d, "parameters", params);
        else
            cJSON_Delete(params);
        cJSON_AddItemToArray(decls, d);
    }
    int n = cJSON_GetArraySize(decls);
    if (n > 0 || search) {
        cJSON *arr = cJSON_AddArrayToObject(g, "tools");
        cJSON *tool = cJSON_CreateObject();
        if (n > 0) {
            cJSON_AddItemToObject(tool, "functionDeclarations", decls);
            decls = NULL;
        } else {
            cJSON_AddObjectToObject(tool, "googleSearch");
        }
        cJSON_AddItemToArray(arr, tool);
    }
    cJSON_Delete(decls);

    const cJSON *choice = member(in, "tool_choice");
    const char *ct = str_member(choice, "type");
    if (n == 0 || !ct) return 0;
    const char *mode = NULL;
    if (strcmp(ct, "auto") == 0)
        mode = "AUTO";
    else if (strcmp(ct, "any") == 0 || strcmp(ct, "tool") == 0)
        mode = "ANY";
    else if (strcmp(ct, "none") == 0)
        mode = "NONE";
    else
        return req_fail(r, "tool_choice.type \"%s\" is unknown; use auto, any, tool or none", ct);
    cJSON *fcc =
        cJSON_AddObjectToObject(cJSON_AddObjectToObject(g, "toolConfig"), "functionCallingConfig");
    cJSON_AddStringToObject(fcc, "mode", mode);
    if (strcmp(ct, "tool") == 0) {
        const char *name = str_member(choice, "name");
        if (!name) return req_fail(r, "tool_choice of type tool needs a name");
        cJSON_AddItemToArray(cJSON_AddArrayToObject(fcc, "allowedFunctionNames"),
                             cJSON_CreateString(name));
    }
    return 0;
}

/* The output limit: the configured ones (model_info.max_output_tokens,
 * litellm_params.max_tokens), else DEFAULT_MAX_OUTPUT. */
static long output_limit(const cc_model_t *dep) {
    long limit = -1;
    if (dep) {
        long a = num_member(dep->model_info, "max_output_tokens", -1);
        long b = num_member(dep->litellm_params, "max_tokens", -1);
        if (a > 0) limit = a;
        if (b > 0 && (limit < 0 || b < limit)) limit = b;
    }
    return limit > 0 ? limit : DEFAULT_MAX_OUTPUT;
}

static void translate_thinking(const cJSON *in, const char *model, long max_out, cJSON *gc) {
    const cJSON *th = member(in, "thinking");
    const char *type = str_member(th, "type");
    if (!type) return;
    bool flash = strstr(model, "flash") != NULL;
    if (strcmp(type, "enabled") == 0) {
        long budget = num_member(th, "budget_tokens", -1);
        cJSON *tc = cJSON_AddObjectToObject(gc, "thinkingConfig");
        if (budget >= 0) {
            long cap = flash ? MAX_BUDGET_FLASH : MAX_BUDGET;
            if (budget > cap) budget = cap;
            if (max_out > 1 && budget >= max_out) budget = max_out - 1;
            cJSON_AddNumberToObject(tc, "thinkingBudget", (double)budget);
        } else {
            cJSON_AddNumberToObject(tc, "thinkingBudget", -1);
        }
        cJSON_AddTrueToObject(tc, "includeThoughts");
    } else if (strcmp(type, "adaptive") == 0) {
        cJSON *tc = cJSON_AddObjectToObject(gc, "thinkingConfig");
        cJSON_AddTrueToObject(tc, "includeThoughts");
        if (strstr(model, "gemini-3")) {
            const char *effort = str_member(member(in, "output_config"), "effort");
            const char *level = NULL;
            if (!effort)
                level = NULL;
            else if (strcmp(effort, "low") == 0)
                level = "low";
            else if (strcmp(effort, "medium") == 0)
                level = flash ? "medium" : "high";
            else
                level = "high";
            if (level) cJSON_AddStringToObject(tc, "thinkingLevel", level);
        } else {
            cJSON_AddNumberToObject(tc, "thinkingBudget", -1);
        }
    }
}

static void translate_generation(const cc_xlate_ctx_t *ctx, const cJSON *in, const char *model,
                                 cJSON *g) {
    cJSON *gc = cJSON_CreateObject();
    long limit = output_limit(ctx->deployment);
    long max_out = num_member(in, "max_tokens", -1);
    if (max_out > limit) max_out = limit;
    if (max_out > 0) cJSON_AddNumberToObject(gc, "maxOutputTokens", (double)max_out);
    const cJSON *v;
    if (cJSON_IsNumber(v = member(in, "temperature")))
        cJSON_AddNumberToObject(gc, "temperature", v->valuedouble);
    if (cJSON_IsNumber(v = member(in, "top_p")))
        cJSON_AddNumberToObject(gc, "topP", v->valuedouble);
    if (cJSON_IsNumber(v = member(in, "top_k")))
        cJSON_AddNumberToObject(gc, "topK", v->valuedouble);
    if (cJSON_IsArray(v = member(in, "stop_sequences")) && v->child) {
        cJSON *stops = cJSON_AddArrayToObject(gc, "stopSequences");
        const cJSON *s;
        int n = 0;
        cJSON_ArrayForEach(s, v) {
            if (cJSON_IsString(s) && *s->valuestring && n++ < MAX_STOP_SEQUENCES)
                cJSON_AddItemToArray(stops, cJSON_CreateString(s->valuestring));
        }
    }
    translate_thinking(in, model, max_out > 0 ? max_out : limit, gc);
    if (gc->child)
        cJSON_AddItemToObject(g, "generationConfig", gc);
    else
        cJSON_Delete(gc);
}

/* "/v1beta/models/<model>:<method>" (without the version when api_base already ends in one). */
static void build_target(const cc_xlate_ctx_t *ctx, const char *model, cc_buf_t *out) {
    const char *base = ctx->deployment ? ctx->deployment->api_base : NULL;
    size_t bl = base ? strlen(base) : 0;
    while (bl && base[bl - 1] == '/')
        bl--;
    bool versioned = false;
    static const char *const versions[] = {"/v1beta", "/v1", "/v1alpha"};
    for (size_t i = 0; i < 3; i++) {
        size_t vl = strlen(versions[i]);
        if (bl >= vl && strncmp(base + bl - vl, versions[i], vl) == 0) versioned = true;
    }
    if (!versioned) cc_buf_puts(out, "/v1beta");
    cc_buf_puts(out, "/models/");
    if (starts_with(model, "models/")) model += 7;
    for (const unsigned char *p = (const unsigned char *)model; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            cc_buf_append(out, p, 1);
        else
            cc_buf_printf(out, "%%%02X", *p);
    }
    cc_buf_puts(out, ctx->stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
}

static int gemini_request(const cc_xlate_ctx_t *ctx, const char *body, size_t len,
                          cc_xlate_request_t *out, cc_buf_t *err) {
    req_t r = {.err = err};
    cJSON *in = NULL, *g = NULL;
    int rc = -1;

    if (ctx->endpoint && strcmp(ctx->endpoint, "count_tokens") == 0) {
        long n = cc_tokens_estimate(body, len);
        if (n < 0) return req_fail(&r, "the request body is not a JSON object");
        out->local_answer = true;
        cc_buf_printf(&out->body, "{\"input_tokens\":%ld}", n);
        return 0;
    }
    const char *model = ctx->upstream_model;
    if ((!model || !*model) && ctx->deployment) model = ctx->deployment->upstream_model;
    if (!model || !*model)
        return req_fail(&r, "no Gemini model is configured for this deployment; set "
                            "litellm_params.model to gemini/<model> in config.yaml");

    in = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(in)) {
        req_fail(&r, "the request body is not a JSON object");
        goto fail;
    }
    const cJSON *messages = member(in, "messages");
    if (!cJSON_IsArray(messages)) {
        req_fail(&r, "messages must be a list of messages");
        goto fail;
    }
    g = cJSON_CreateObject();
    r.sys_parts = cJSON_CreateArray();
    r.contents = cJSON_CreateArray();
    if (!g || !r.sys_parts || !r.contents) {
        req_fail(&r, "out of memory while translating the request");
        goto fail;
    }
    const cJSON *sys = member(in, "system");
    if (sys && add_system(&r, sys, "system") < 0) goto fail;
    if (collect_uses(&r, messages) < 0 || translate_messages(&r, messages) < 0) goto fail;
    if (!r.contents->child) {
        req_fail(&r, "messages has no content to send (no text, image, tool call or result)");
        goto fail;
    }
    if (r.sys_parts->child) {
        cJSON_AddItemToObject(cJSON_AddObjectToObject(g, "systemInstruction"), "parts",
                              r.sys_parts);
        r.sys_parts = NULL;
    }
    cJSON_AddItemToObject(g, "contents", r.contents);
    r.contents = NULL;
    if (translate_tools(&r, in, g) < 0) goto fail;
    translate_generation(ctx, in, model, g);

    char *text = cJSON_PrintUnformatted(g);
    if (!text) {
        req_fail(&r, "out of memory while translating the request");
        goto fail;
    }
    cc_buf_puts(&out->body, text);
    free(text);
    build_target(ctx, model, &out->target);
    cc_headers_set(&out->headers, "Content-Type", "application/json");
    if (ctx->deployment && ctx->deployment->api_key && *ctx->deployment->api_key)
        cc_headers_set(&out->headers, "x-goog-api-key", ctx->deployment->api_key);
    out->local_answer = false;
    rc = 0;
fail:
    cJSON_Delete(in);
    cJSON_Delete(g);
    cJSON_Delete(r.sys_parts);
    cJSON_Delete(r.contents);
    free(r.uses);
    return rc;
}

/* ---- response: Gemini -> Anthropic -------------------------------------------------------- */

struct cc_xlate_resp_s {
    cc_astream_t *as;
    cc_sse_parser_t sse;
    bool stream;       /* the client asked for a stream (events out) */
    bool sse_in;       /* the upstream answers with SSE (else one JSON: an object or an
                          array of chunks, as streamGenerateContent without alt=sse sends) */
    bool error_status; /* the upstream answered >= 400: collect the body, answer an error */
    int final_status;  /* a whole answer that failed at its end: the client's status */
    int status;
    cc_buf_t body;  /* the non-stream answer or the error body */
    cc_buf_t *out;  /* where the SSE callback appends */
    bool failed;    /* an error was sent; nothing more is */
    bool text_sent; /* visible text went out (a note then starts on a new paragraph) */
    char *finish;   /* the last finishReason */
    char *finish_message;
    char *block_reason; /* promptFeedback.blockReason */
    cc_usage_t usage;
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
    if (t->stream) {
        cc_astream_error(t->as, type, message, out);
    } else {
        cc_api_error_json(out, type, message);
        /* A whole answer's head waits for this (response_status). */
        t->final_status = strcmp(type, "invalid_request_error") == 0 ? 400
                          : strcmp(type, "overloaded_error") == 0    ? 529
                                                                     : 502;
    }
}

static int gemini_response_status(cc_xlate_resp_t *t) {
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
    char id[48];
    cc__astream_id(id, sizeof id, CC_FOREIGN_SEARCH_ID_PREFIX);
    cc_buf_t query = CC_BUF_INIT;
    const cJSON *q;
    cJSON_ArrayForEach(q, queries) {
        if (!cJSON_IsString(q)) continue;
        if (query.len) cc_buf_puts(&query, "; ");
        cc_buf_puts(&query, q->valuestring);
    }
    cJSON *use = cJSON_CreateObject();
    cJSON_AddStringToObject(use, "type", "server_tool_use");
    cJSON_AddStringToObject(use, "id", id);
    cJSON_AddStringToObject(use, "name", "web_search");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(use, "input"), "query",
                            query.data ? query.data : "");
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "type", "web_search_tool_result");
    cJSON_AddStringToObject(res, "tool_use_id", id);
    cJSON *list = cJSON_AddArrayToObject(res, "content");
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
    char *a = cJSON_PrintUnformatted(use), *b = cJSON_PrintUnformatted(res);
    if (a && b) {
        cc_astream_raw_block(t->as, a, strlen(a), out);
        cc_astream_raw_block(t->as, b, strlen(b), out);
    }
    free(a);
    free(b);
    cJSON_Delete(use);
    cJSON_Delete(res);
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
    if (!f && !t->block_reason) {
        resp_fail(t, "api_error",
                  t->stream ? "the Gemini stream ended before its finishReason (cut off); "
                              "retry the request"
                            : "Gemini answered without a candidate or finishReason; retry the "
                              "request",
                  out);
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
        int n = ev->data_len > 100 ? 100 : (int)ev->data_len;
        cc_buf_printf(&msg, "Gemini sent a stream event that is not JSON: %.*s", n, ev->data);
        resp_fail(t, "api_error", msg.data ? msg.data : "", t->out);
        cc_buf_free(&msg);
        return 1;
    }
    int rc = handle_chunk(t, r, t->out);
    cJSON_Delete(r);
    return rc < 0 ? 1 : 0;
}

static void gemini_response_free(cc_xlate_resp_t *t) {
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

static cc_xlate_resp_t *gemini_response_new(const cc_xlate_ctx_t *ctx, int status,
                                            const cc_headers_t *headers, int *client_status,
                                            cc_headers_t *client_headers) {
    cc_xlate_resp_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->stream = ctx->stream;
    const char *ctype = headers ? cc_headers_get(headers, "content-type") : NULL;
    t->sse_in = t->stream && !(ctype && strstr(ctype, "json"));
    t->status = status;
    t->error_status = status >= 400 || status < 200;
    t->usage = (cc_usage_t)CC_USAGE_UNKNOWN;
    t->as =
        cc_astream_new(ctx->client_model ? ctx->client_model : ctx->upstream_model, ctx->stream);
    if (!t->as) {
        gemini_response_free(t);
        return NULL;
    }
    cc_sse_parser_init(&t->sse, on_event, t);
    if (t->error_status) {
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

static int gemini_response_feed(cc_xlate_resp_t *t, const char *data, size_t len, cc_buf_t *out) {
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
        size_t n = t->body.len > MAX_ERROR_QUOTE ? MAX_ERROR_QUOTE : t->body.len;
        cc_buf_printf(&msg, "Gemini answered HTTP %d", t->status);
        if (n) {
            cc_buf_puts(&msg, ": ");
            cc_buf_append(&msg, t->body.data, n);
        }
    }
    cc_api_error_json(out, type, msg.data ? msg.data : "Gemini error");
    cc_buf_free(&msg);
    cJSON_Delete(j);
}

static int gemini_response_end(cc_xlate_resp_t *t, cc_buf_t *out) {
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

static void gemini_response_idle(cc_xlate_resp_t *t, cc_buf_t *out) {
    if (t->stream && !t->failed && cc_astream_started(t->as)) cc_astream_ping(t->as, out);
}

const cc_provider_t cc_provider_gemini = {
    .family = "gemini",
    .request = gemini_request,
    .response_new = gemini_response_new,
    .response_feed = gemini_response_feed,
    .response_end = gemini_response_end,
    .response_status = gemini_response_status,
    .response_idle = gemini_response_idle,
    .response_free = gemini_response_free,
};
