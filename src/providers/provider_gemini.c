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
 * - count_tokens is answered locally, as by every adapter (cc_xlate_count_tokens).
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
#include "providers/providers.h"
#include "providers/provider_gemini.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "providers/schema_sanitize.h"

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
    bool no_vision; /* model_info.supports_vision: false: images become a text note */
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
    if (image && r->no_vision) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "text", "[an image was here: this model does not take images]");
        cJSON_AddItemToArray(parts, t);
        return 0;
    }
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
    r.no_vision = ctx->deployment && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(
                                         ctx->deployment->model_info, "supports_vision"));
    cJSON *in = NULL, *g = NULL;
    int rc = -1;

    if (cc_xlate_is_count_tokens(ctx)) return cc_xlate_count_tokens(body, len, out, err);
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

const cc_provider_t cc_provider_gemini = {
    .family = "gemini",
    .request = gemini_request,
    .response_new = cc__gm_response_new,
    .response_feed = cc__gm_response_feed,
    .response_end = cc__gm_response_end,
    .response_status = cc__gm_response_status,
    .response_idle = cc__gm_response_idle,
    .response_free = cc__gm_response_free,
};
