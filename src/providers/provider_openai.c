/* provider_openai.c: the OpenAI-family adapter (cc_provider_openai) and its request half:
 * an Anthropic Messages request becomes a Chat Completions request for OpenAI, Azure OpenAI,
 * OpenRouter, DeepSeek, Groq, Mistral, xAI, Together, Perplexity, Ollama, LM Studio and vLLM.
 * What each provider accepts beyond the common core is a row of the policy table below; the
 * mapping rules are documented in docs/providers.md. The answer is translated by
 * provider_openai_resp.c. */
#include "providers/provider_openai.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/b64.h"
#include "json/json_body.h"
#include "json/json_view.h"
#include "providers/providers.h"
#include "json/utf8.h"

/* ---- policies ------------------------------------------------------------------------------- */

#define BASE (CC_OA_STREAM_OPTIONS)

static const cc__oa_policy_t policies[] = {
    {"openai", BASE | CC_OA_FILES | CC_OA_USER | CC_OA_PARALLEL},
    {"text-completion-openai", BASE | CC_OA_FILES | CC_OA_USER | CC_OA_PARALLEL},
    {"azure", BASE | CC_OA_FILES | CC_OA_USER | CC_OA_PARALLEL | CC_OA_AZURE},
    {"openrouter",
     BASE | CC_OA_FILES | CC_OA_USER | CC_OA_TOP_K | CC_OA_REASONING_OBJECT | CC_OA_PARALLEL},
    {"deepseek", BASE | CC_OA_REASONING_REPLAY},
    {"groq", BASE | CC_OA_USER | CC_OA_PARALLEL},
    {"mistral", CC_OA_SHORT_TOOL_IDS | CC_OA_PARALLEL},
    {"xai", BASE | CC_OA_USER | CC_OA_PARALLEL},
    {"together_ai", BASE | CC_OA_TOP_K | CC_OA_PARALLEL},
    {"perplexity", CC_OA_NO_TOOLS | CC_OA_TOP_K},
    {"ollama", BASE | CC_OA_V1_PATH},
    {"ollama_chat", BASE | CC_OA_V1_PATH},
    {"lm_studio", BASE | CC_OA_TOP_K},
    {"hosted_vllm", BASE | CC_OA_TOP_K | CC_OA_PARALLEL},
    {"fireworks_ai", BASE | CC_OA_TOP_K | CC_OA_USER | CC_OA_PARALLEL},
    {"cerebras", BASE | CC_OA_USER | CC_OA_PARALLEL},
    {"deepinfra", BASE | CC_OA_TOP_K | CC_OA_USER},
    {"custom_openai", BASE},
};

static const cc__oa_policy_t default_policy = {"openai-compatible", BASE};

const cc__oa_policy_t *cc__oa_policy(const char *provider) {
    for (size_t i = 0; provider && i < sizeof policies / sizeof policies[0]; i++)
        if (strcmp(policies[i].name, provider) == 0) return &policies[i];
    return &default_policy;
}

/* ---- signatures ---------------------------------------------------------------------------- */

void cc__oa_signature_prefix(cc_buf_t *out, const char *provider) {
    cc_buf_printf(out, "ccproxy:%s:", provider ? provider : "");
}

/* ---- small helpers -------------------------------------------------------------------------- */

static bool starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The model name without a routing prefix ("openai/gpt-4o" -> "gpt-4o"). */
static const char *base_model(const char *m) {
    const char *slash = strrchr(m, '/');
    return slash ? slash + 1 : m;
}

/* OpenAI's reasoning models: o1, o3, o4-mini, ..., gpt-5 (not its -chat variants), codex. */
static bool reasoning_model(const char *model) {
    const char *b = base_model(model);
    if (strstr(b, "-chat")) return false;
    return (b[0] == 'o' && isdigit((unsigned char)b[1])) || starts_with(b, "gpt-5") ||
           starts_with(b, "codex");
}

static cc_jv_t get(cc_jv_t o, const char *key) {
    return cc_jv_get(o, key);
}

static bool type_is(cc_jv_t block, const char *type) {
    return cc_jv_eq(cc_jv_get(block, "type"), type);
}

/* The escaped inside of a string literal, as it is. */
static void put_inner(cc_buf_t *b, cc_jv_t str) {
    cc_jv_t in = cc_jv_inner(str);
    cc_buf_append(b, in.p, in.n);
}

static void put_esc(cc_buf_t *b, const char *s) {
    cc_buf_json_escape(b, s, strlen(s));
}

/* ---- the request being built ---------------------------------------------------------------- */

enum { C_TEXT, C_PARTS, C_NULL };

/* One Chat Completions message. Strings are kept escaped, ready to be written. */
typedef struct {
    const char *role;
    int content;    /* C_* */
    cc_buf_t body;  /* C_TEXT: the inside of the string; C_PARTS: the parts, comma-separated */
    cc_buf_t extra; /* further members, each starting with ',' */
    char *call_id;  /* tool messages: the call they answer (as sent), for ordering */
} msg_t;

typedef struct {
    const cc_xlate_ctx_t *ctx;
    const cc__oa_policy_t *pol;
    const char *provider;
    const char *model;
    cc_buf_t sys; /* system instructions folded together (escaped) */
    msg_t *msgs;
    size_t n_msgs, cap_msgs;
    char **calls; /* ids of the tool calls of the assistant message just added */
    size_t n_calls;
    cc_buf_t sig_prefix; /* signatures of this provider's reasoning start with it */
    cc_buf_t *err;
} rq_t;

static bool has(const rq_t *r, unsigned flag) {
    return (r->pol->flags & flag) != 0;
}

static int bad(rq_t *r, const char *fmt, int i) {
    cc_buf_printf(r->err, fmt, i);
    return -1;
}

static void msg_free(msg_t *m) {
    cc_buf_free(&m->body);
    cc_buf_free(&m->extra);
    free(m->call_id);
}

static void clear_calls(rq_t *r) {
    for (size_t i = 0; i < r->n_calls; i++)
        free(r->calls[i]);
    free(r->calls);
    r->calls = NULL;
    r->n_calls = 0;
}

/* Takes the message over (its buffers now belong to the list). */
static int msg_push(rq_t *r, msg_t *m) {
    if (r->n_msgs == r->cap_msgs) {
        size_t cap = r->cap_msgs ? r->cap_msgs * 2 : 16;
        msg_t *p = realloc(r->msgs, cap * sizeof *p);
        if (!p) {
            msg_free(m);
            return -1;
        }
        r->msgs = p;
        r->cap_msgs = cap;
    }
    r->msgs[r->n_msgs++] = *m;
    return 0;
}

static void add_system_text(rq_t *r, cc_jv_t text) {
    if (!cc_jv_is_string(text) || cc_jv_blank(text) ||
        cc_jv_prefix(text, "x-anthropic-billing-header:"))
        return;
    if (r->sys.len) cc_buf_puts(&r->sys, "\\n\\n");
    put_inner(&r->sys, text);
}

/* `system` (a string or text blocks), or the content of a role:"system" message. */
static void add_system(rq_t *r, cc_jv_t v) {
    if (cc_jv_is_string(v)) {
        add_system_text(r, v);
        return;
    }
    cc_jv_iter_t it;
    cc_jv_t b;
    cc_jv_iter(cc_jv_is_array(v) ? v : (cc_jv_t){NULL, 0}, &it);
    while (cc_jv_next(&it, NULL, &b))
        if (type_is(b, "text")) add_system_text(r, get(b, "text"));
}

/* The id of a tool call as the provider gets it (decoded). Mistral takes only ids of 9
 * letters or digits: others are hashed into one, the same way for the call and its result. */
static char *call_id(const rq_t *r, cc_jv_t lit) {
    static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char *id = cc_jv_strdup(lit);
    if (!id) id = strdup("");
    if (!id || !has(r, CC_OA_SHORT_TOOL_IDS)) return id;
    size_t n = strlen(id);
    bool ok = n == 9;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)id[i]) != 0;
    if (ok) return id;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    char *s = realloc(id, 10);
    if (!s) return id;
    for (int i = 0; i < 9; i++) {
        s[i] = alnum[h % 62];
        h /= 62;
        if (i == 4) h ^= h >> 29 ^ (uint64_t)n * 0x9E3779B97F4A7C15ull;
    }
    s[9] = '\0';
    return s;
}

/* ---- content parts -------------------------------------------------------------------------- */

/* The content of a user turn as it is built: text parts are also kept joined, so that a turn
 * of text only becomes one string. */
typedef struct {
    cc_buf_t text;  /* text parts joined by blank lines (escaped) */
    cc_buf_t parts; /* every part, comma-separated */
    size_t n;
    bool other; /* a part that is not text */
} parts_t;

static void parts_free(parts_t *p) {
    cc_buf_free(&p->text);
    cc_buf_free(&p->parts);
}

/* A text part from escaped text. */
static void parts_text(parts_t *p, const char *esc, size_t n) {
    if (p->text.len) cc_buf_puts(&p->text, "\\n\\n");
    cc_buf_append(&p->text, esc, n);
    if (p->n++) cc_buf_puts(&p->parts, ",");
    cc_buf_puts(&p->parts, "{\"type\":\"text\",\"text\":\"");
    cc_buf_append(&p->parts, esc, n);
    cc_buf_puts(&p->parts, "\"}");
}

static void parts_literal(parts_t *p, cc_jv_t str) {
    if (!cc_jv_is_string(str) || cc_jv_blank(str)) return;
    cc_jv_t in = cc_jv_inner(str);
    parts_text(p, in.p, in.n);
}

static void parts_other(parts_t *p, const char *json, size_t n) {
    if (p->n++) cc_buf_puts(&p->parts, ",");
    cc_buf_append(&p->parts, json, n);
    p->other = true;
}

static bool image_part(cc_jv_t b, parts_t *p) {
    cc_jv_t src = get(b, "source");
    cc_jv_t data = get(src, "data"), url = get(src, "url"), mt = get(src, "media_type");
    cc_buf_t j = CC_BUF_INIT;
    cc_buf_puts(&j, "{\"type\":\"image_url\",\"image_url\":{\"url\":\"");
    if (cc_jv_eq(get(src, "type"), "base64") && cc_jv_is_string(data)) {
        cc_buf_puts(&j, "data:");
        if (cc_jv_is_string(mt))
            put_inner(&j, mt);
        else
            cc_buf_puts(&j, "image/png");
        cc_buf_puts(&j, ";base64,");
        put_inner(&j, data);
    } else if (cc_jv_eq(get(src, "type"), "url") && cc_jv_is_string(url)) {
        put_inner(&j, url);
    } else {
        cc_buf_free(&j);
        return false;
    }
    cc_buf_puts(&j, "\"}}");
    parts_other(p, j.data, j.len);
    cc_buf_free(&j);
    return true;
}

/* A document block: a PDF as a file part where the provider reads files, plain text as text,
 * anything else as a note saying it was left out. */
static void document_part(rq_t *r, cc_jv_t b, parts_t *p) {
    cc_jv_t src = get(b, "source");
    cc_jv_t stype = get(src, "type"), title = get(b, "title"), mt = get(src, "media_type");
    cc_jv_t data = get(src, "data");
    cc_buf_t t = CC_BUF_INIT;
    if (cc_jv_is_string(title) && (cc_jv_eq(stype, "text") || cc_jv_eq(stype, "content"))) {
        cc_buf_puts(&t, "Document: ");
        put_inner(&t, title);
        cc_buf_puts(&t, "\\n\\n");
    }
    if (cc_jv_eq(stype, "text") && cc_jv_is_string(data)) {
        put_inner(&t, data);
    } else if (cc_jv_eq(stype, "content")) {
        cc_jv_t c = get(src, "content"), x;
        cc_jv_iter_t it;
        if (cc_jv_is_string(c)) put_inner(&t, c);
        cc_jv_iter(cc_jv_is_array(c) ? c : (cc_jv_t){NULL, 0}, &it);
        while (cc_jv_next(&it, NULL, &x)) {
            if (!cc_jv_is_string(get(x, "text"))) continue;
            if (t.len) cc_buf_puts(&t, "\\n");
            put_inner(&t, get(x, "text"));
        }
    } else if (cc_jv_eq(stype, "base64") && cc_jv_is_string(data) && has(r, CC_OA_FILES)) {
        cc_buf_puts(&t, "{\"type\":\"file\",\"file\":{\"filename\":\"");
        if (cc_jv_is_string(title))
            put_inner(&t, title);
        else
            cc_buf_puts(&t, "document");
        if (!cc_jv_is_string(title) || !memchr(title.p, '.', title.n)) cc_buf_puts(&t, ".pdf");
        cc_buf_puts(&t, "\",\"file_data\":\"data:");
        if (cc_jv_is_string(mt))
            put_inner(&t, mt);
        else
            cc_buf_puts(&t, "application/pdf");
        cc_buf_puts(&t, ";base64,");
        put_inner(&t, data);
        cc_buf_puts(&t, "\"}}");
        parts_other(p, t.data, t.len);
        cc_buf_free(&t);
        return;
    } else {
        cc_jv_t url = get(src, "url");
        cc_buf_puts(&t, "[The user attached ");
        if (cc_jv_eq(stype, "url") && cc_jv_is_string(url))
            put_inner(&t, url);
        else if (cc_jv_is_string(title))
            put_inner(&t, title);
        else
            cc_buf_puts(&t, "a document");
        cc_buf_puts(&t, " here (");
        if (cc_jv_is_string(mt))
            put_inner(&t, mt);
        else
            cc_buf_puts(&t, "document");
        cc_buf_puts(&t, "); it cannot be passed to this model through ");
        put_esc(&t, r->provider);
        cc_buf_puts(&t, ", so it was left out.]");
    }
    if (t.len) parts_text(p, t.data, t.len);
    cc_buf_free(&t);
}

/* ---- user turns ----------------------------------------------------------------------------- */

/* What a model that takes no images (model_info.supports_vision: false) gets in their place. */
#define NO_VISION_TEXT "[an image was here: this model does not take images]"

static bool no_vision(const rq_t *r) {
    const cc_model_t *d = r->ctx->deployment;
    const cJSON *v = d ? cJSON_GetObjectItemCaseSensitive(d->model_info, "supports_vision") : NULL;
    return cJSON_IsFalse(v);
}

/* A tool_result's text, escaped ("Error: " first when is_error); its images go to `images`
 * since tool messages carry text only. */
static void tool_result_text(const rq_t *r, cc_jv_t b, cc_buf_t *text, parts_t *images) {
    cc_jv_t c = get(b, "content"), x;
    if (cc_jv_is_true(get(b, "is_error"))) cc_buf_puts(text, "Error: ");
    size_t start = text->len;
    if (cc_jv_is_string(c)) put_inner(text, c);
    cc_jv_iter_t it;
    cc_jv_iter(cc_jv_is_array(c) ? c : (cc_jv_t){NULL, 0}, &it);
    while (cc_jv_next(&it, NULL, &x)) {
        if (type_is(x, "text") && cc_jv_is_string(get(x, "text"))) {
            if (text->len > start) cc_buf_puts(text, "\\n");
            put_inner(text, get(x, "text"));
        } else if (type_is(x, "image") && no_vision(r)) {
            if (text->len > start) cc_buf_puts(text, "\\n");
            cc_buf_puts(text, NO_VISION_TEXT);
        } else if (type_is(x, "image")) {
            image_part(x, images);
        }
    }
    if (text->len == start) cc_buf_puts(text, "(no output)");
}

static void search_result_part(cc_jv_t b, parts_t *p) {
    cc_buf_t t = CC_BUF_INIT;
    cc_jv_t c = get(b, "content"), x;
    cc_jv_iter_t it;
    cc_buf_puts(&t, "Search result: ");
    put_inner(&t, get(b, "title"));
    cc_buf_puts(&t, " (");
    put_inner(&t, get(b, "source"));
    cc_buf_puts(&t, ")");
    cc_jv_iter(cc_jv_is_array(c) ? c : (cc_jv_t){NULL, 0}, &it);
    while (cc_jv_next(&it, NULL, &x)) {
        if (!cc_jv_is_string(get(x, "text"))) continue;
        cc_buf_puts(&t, "\\n");
        put_inner(&t, get(x, "text"));
    }
    parts_text(p, t.data, t.len);
    cc_buf_free(&t);
}

/* Moves the tool messages into the list in the order of the assistant's calls (results the
 * calls do not name keep their order, after the others). */
static int push_tool_messages(rq_t *r, msg_t *tm, size_t n) {
    int rc = 0;
    for (size_t c = 0; c < r->n_calls; c++)
        for (size_t i = 0; i < n; i++)
            if (tm[i].role && strcmp(tm[i].call_id, r->calls[c]) == 0) {
                rc |= msg_push(r, &tm[i]);
                tm[i].role = NULL;
                break;
            }
    for (size_t i = 0; i < n; i++)
        if (tm[i].role) rc |= msg_push(r, &tm[i]);
    return rc;
}

static int add_user(rq_t *r, cc_jv_t content, int mi) {
    parts_t p = {0}, images = {0};
    msg_t *tm = NULL;
    size_t n_tm = 0;
    int rc = 0;
    if (cc_jv_is_string(content)) {
        parts_literal(&p, content);
    } else if (cc_jv_is_array(content)) {
        size_t n_blocks = cc_jv_count(content);
        tm = calloc(n_blocks ? n_blocks : 1, sizeof *tm);
        if (!tm) return bad(r, "out of memory at messages[%d]", mi);
        cc_jv_iter_t it;
        cc_jv_t b;
        cc_jv_iter(content, &it);
        while (cc_jv_next(&it, NULL, &b)) {
            if (type_is(b, "text")) {
                parts_literal(&p, get(b, "text"));
            } else if (type_is(b, "image") && no_vision(r)) {
                parts_text(&p, NO_VISION_TEXT, strlen(NO_VISION_TEXT));
            } else if (type_is(b, "image")) {
                image_part(b, &p);
            } else if (type_is(b, "document")) {
                document_part(r, b, &p);
            } else if (type_is(b, "tool_result")) {
                cc_buf_t text = CC_BUF_INIT;
                if (has(r, CC_OA_NO_TOOLS)) {
                    cc_buf_puts(&text, "Result of the tool call: ");
                    tool_result_text(r, b, &text, &images);
                    parts_text(&p, text.data, text.len);
                    cc_buf_free(&text);
                    continue;
                }
                tool_result_text(r, b, &text, &images);
                msg_t *m = &tm[n_tm++];
                m->role = "tool";
                m->content = C_TEXT;
                m->body = text;
                m->call_id = call_id(r, get(b, "tool_use_id"));
                cc_buf_puts(&m->extra, ",\"tool_call_id\":\"");
                put_esc(&m->extra, m->call_id ? m->call_id : "");
                cc_buf_puts(&m->extra, "\"");
            } else if (type_is(b, "search_result")) {
                search_result_part(b, &p);
            }
            /* Other blocks (thinking, server tool blocks, ...) have no Chat Completions form. */
        }
    } else {
        return bad(r, "messages[%d].content must be a string or an array of content blocks", mi);
    }
    rc |= push_tool_messages(r, tm, n_tm);
    free(tm);
    msg_t m = {"user", C_TEXT, CC_BUF_INIT, CC_BUF_INIT, NULL};
    if (images.n) {
        /* Images returned by tools follow the tool messages, in a user turn of their own. */
        parts_t all = {0};
        const char *note = "Images returned by the tool calls above:";
        parts_text(&all, note, strlen(note));
        parts_other(&all, images.parts.data, images.parts.len);
        if (p.n) parts_other(&all, p.parts.data, p.parts.len);
        m.content = C_PARTS;
        m.body = all.parts;
        cc_buf_free(&all.text);
        rc |= msg_push(r, &m);
    } else if (p.n) {
        m.content = p.other ? C_PARTS : C_TEXT;
        m.body = p.other ? p.parts : p.text;
        if (p.other)
            p.parts = (cc_buf_t)CC_BUF_INIT;
        else
            p.text = (cc_buf_t)CC_BUF_INIT;
        rc |= msg_push(r, &m);
    }
    parts_free(&p);
    parts_free(&images);
    clear_calls(r);
    return rc ? bad(r, "out of memory at messages[%d]", mi) : 0;
}

/* ---- assistant turns ------------------------------------------------------------------------ */

/* Reasoning this provider produced (its signature says so), decoded from the signature. */
static bool replay_reasoning(rq_t *r, cc_jv_t b, cc_buf_t *reasoning) {
    char *sig = cc_jv_strdup(get(b, "signature"));
    bool ours = sig && starts_with(sig, r->sig_prefix.data);
    if (ours) {
        /* The reasoning as the provider wrote it; a signature that does not decode to text
         * (edited, cut) gives way to the block's thinking text. */
        const char *enc = sig + r->sig_prefix.len;
        cc_buf_t raw = CC_BUF_INIT;
        size_t before = reasoning->len;
        if (cc_b64_decode(&raw, enc, strlen(enc)) != 0 ||
            cc_utf8_clean(reasoning, raw.data ? raw.data : "", raw.len) != 0) {
            reasoning->len = before;
            if (reasoning->data) reasoning->data[before] = '\0';
            cc_jv_decode(get(b, "thinking"), reasoning);
        }
        cc_buf_free(&raw);
    }
    free(sig);
    return ours;
}

/* A tool_use input as the arguments string: compact JSON text, escaped. */
static void put_arguments(cc_buf_t *out, cc_jv_t input) {
    if (!cc_jv_is_object(input)) {
        cc_buf_puts(out, "{}");
        return;
    }
    cc_buf_t compact = CC_BUF_INIT;
    cc_jv_compact(input, &compact);
    cc_buf_json_escape(out, compact.data, compact.len);
    cc_buf_free(&compact);
}

static int add_assistant(rq_t *r, cc_jv_t content, int mi) {
    cc_buf_t text = CC_BUF_INIT, reasoning = CC_BUF_INIT, calls = CC_BUF_INIT;
    size_t n_calls = 0;
    bool replayed = false;
    clear_calls(r);
    if (cc_jv_is_string(content)) {
        if (!cc_jv_blank(content)) put_inner(&text, content);
    } else if (cc_jv_is_array(content)) {
        r->calls = calloc(cc_jv_count(content) + 1, sizeof *r->calls);
        if (!r->calls) return bad(r, "out of memory at messages[%d]", mi);
        cc_jv_iter_t it;
        cc_jv_t b;
        cc_jv_iter(content, &it);
        while (cc_jv_next(&it, NULL, &b)) {
            if (type_is(b, "text")) {
                cc_jv_t t = get(b, "text");
                if (!cc_jv_is_string(t) || cc_jv_blank(t)) continue;
                if (text.len) cc_buf_puts(&text, "\\n\\n");
                put_inner(&text, t);
            } else if (type_is(b, "thinking") && has(r, CC_OA_REASONING_REPLAY)) {
                if (replay_reasoning(r, b, &reasoning)) replayed = true;
            } else if (type_is(b, "tool_use")) {
                cc_jv_t input = get(b, "input");
                cc_jv_t name = get(b, "name");
                if (has(r, CC_OA_NO_TOOLS)) {
                    if (text.len) cc_buf_puts(&text, "\\n\\n");
                    cc_buf_puts(&text, "[Called the tool ");
                    put_inner(&text, name);
                    cc_buf_puts(&text, " with ");
                    put_arguments(&text, input);
                    cc_buf_puts(&text, "]");
                    continue;
                }
                char *id = call_id(r, get(b, "id"));
                if (!id) continue;
                if (n_calls++) cc_buf_puts(&calls, ",");
                cc_buf_puts(&calls, "{\"id\":\"");
                put_esc(&calls, id);
                cc_buf_puts(&calls, "\",\"type\":\"function\",\"function\":{\"name\":\"");
                put_inner(&calls, name);
                cc_buf_puts(&calls, "\",\"arguments\":\"");
                put_arguments(&calls, input);
                cc_buf_puts(&calls, "\"}}");
                r->calls[r->n_calls++] = id;
            }
            /* redacted_thinking, other providers' thinking, server tool blocks: dropped. */
        }
    } else {
        return bad(r, "messages[%d].content must be a string or an array of content blocks", mi);
    }
    int rc = 0;
    if (text.len || n_calls || replayed) {
        msg_t m = {"assistant", C_TEXT, CC_BUF_INIT, CC_BUF_INIT, NULL};
        if (text.len) {
            m.body = text;
            text = (cc_buf_t)CC_BUF_INIT;
        } else if (n_calls) {
            m.content = C_NULL;
        }
        /* DeepSeek's thinking mode wants reasoning_content back on every turn that called
         * tools (empty when there was none), and accepts it on the others. */
        if (has(r, CC_OA_REASONING_REPLAY) && (replayed || n_calls)) {
            cc_buf_puts(&m.extra, ",\"reasoning_content\":\"");
            cc_buf_json_escape(&m.extra, reasoning.data ? reasoning.data : "", reasoning.len);
            cc_buf_puts(&m.extra, "\"");
        }
        if (n_calls) {
            cc_buf_puts(&m.extra, ",\"tool_calls\":[");
            cc_buf_append(&m.extra, calls.data, calls.len);
            cc_buf_puts(&m.extra, "]");
        }
        rc = msg_push(r, &m);
    }
    cc_buf_free(&text);
    cc_buf_free(&reasoning);
    cc_buf_free(&calls);
    return rc ? bad(r, "out of memory at messages[%d]", mi) : 0;
}

/* A message's content as parts (text becomes one text part). */
static void to_parts(msg_t *m) {
    if (m->content == C_PARTS) return;
    cc_buf_t p = CC_BUF_INIT;
    if (m->content == C_TEXT && m->body.len) {
        cc_buf_puts(&p, "{\"type\":\"text\",\"text\":\"");
        cc_buf_append(&p, m->body.data, m->body.len);
        cc_buf_puts(&p, "\"}");
    }
    cc_buf_free(&m->body);
    m->body = p;
    m->content = C_PARTS;
}

/* Perplexity wants user and assistant turns to alternate: neighbours of one role merge. */
static void merge_neighbours(rq_t *r) {
    size_t w = 0;
    for (size_t i = 0; i < r->n_msgs; i++) {
        msg_t *m = &r->msgs[i];
        msg_t *prev = w ? &r->msgs[w - 1] : NULL;
        if (!prev || strcmp(prev->role, m->role) != 0 || prev->extra.len || m->extra.len) {
            r->msgs[w++] = *m;
            continue;
        }
        if (prev->content == C_TEXT && m->content == C_TEXT) {
            if (prev->body.len && m->body.len) cc_buf_puts(&prev->body, "\\n\\n");
            cc_buf_append(&prev->body, m->body.data, m->body.len);
        } else {
            to_parts(prev);
            to_parts(m);
            if (prev->body.len && m->body.len) cc_buf_puts(&prev->body, ",");
            cc_buf_append(&prev->body, m->body.data, m->body.len);
        }
        msg_free(m);
    }
    r->n_msgs = w;
}

static int convert_messages(rq_t *r, cc_jv_t messages) {
    if (!cc_jv_is_array(messages)) {
        cc_buf_puts(r->err, "messages must be an array of {role, content} objects");
        return -1;
    }
    cc_jv_iter_t it;
    cc_jv_t m;
    int i = 0;
    cc_jv_iter(messages, &it);
    while (cc_jv_next(&it, NULL, &m)) {
        cc_jv_t role = get(m, "role");
        cc_jv_t content = get(m, "content");
        int rc = 0;
        if (!cc_jv_is_object(m) || !cc_jv_is_string(role))
            rc = bad(r, "messages[%d] must be an object with a role and content", i);
        else if (cc_jv_eq(role, "system"))
            add_system(r, content);
        else if (cc_jv_eq(role, "user"))
            rc = add_user(r, content, i);
        else if (cc_jv_eq(role, "assistant"))
            rc = add_assistant(r, content, i);
        else
            rc = bad(r, "messages[%d].role must be \"user\", \"assistant\" or \"system\"", i);
        if (rc < 0) return -1;
        i++;
    }
    if (has(r, CC_OA_NO_TOOLS)) merge_neighbours(r);
    return 0;
}

static void put_messages(const rq_t *r, cc_buf_t *out) {
    cc_buf_puts(out, ",\"messages\":[");
    bool first = true;
    if (r->sys.len) {
        cc_buf_puts(out, "{\"role\":\"system\",\"content\":\"");
        cc_buf_append(out, r->sys.data, r->sys.len);
        cc_buf_puts(out, "\"}");
        first = false;
    }
    for (size_t i = 0; i < r->n_msgs; i++) {
        const msg_t *m = &r->msgs[i];
        cc_buf_printf(out, "%s{\"role\":\"%s\",\"content\":", first ? "" : ",", m->role);
        first = false;
        if (m->content == C_NULL) {
            cc_buf_puts(out, "null");
        } else {
            cc_buf_puts(out, m->content == C_PARTS ? "[" : "\"");
            cc_buf_append(out, m->body.data, m->body.len);
            cc_buf_puts(out, m->content == C_PARTS ? "]" : "\"");
        }
        cc_buf_append(out, m->extra.data, m->extra.len);
        cc_buf_puts(out, "}");
    }
    cc_buf_puts(out, "]");
}

/* ---- tools ---------------------------------------------------------------------------------- */

/* Function parameters: the input_schema without $schema, always an object schema. */
static void put_parameters(cc_jv_t schema, cc_buf_t *out) {
    if (!cc_jv_is_object(schema)) {
        cc_buf_puts(out, "{\"type\":\"object\",\"properties\":{}}");
        return;
    }
    cc_jv_t k, v, type = get(schema, "type");
    cc_jv_iter_t it;
    bool first = true;
    cc_buf_puts(out, "{");
    cc_jv_iter(schema, &it);
    while (cc_jv_next(&it, &k, &v)) {
        if (cc_jv_eq(k, "$schema")) continue;
        if (!first) cc_buf_puts(out, ",");
        first = false;
        cc_buf_append(out, k.p, k.n);
        cc_buf_puts(out, ":");
        cc_buf_append(out, v.p, v.n);
    }
    if (!cc_jv_ok(type)) {
        cc_buf_puts(out, first ? "\"type\":\"object\"" : ",\"type\":\"object\"");
        first = false;
    }
    if ((!cc_jv_ok(type) || cc_jv_eq(type, "object")) && !cc_jv_ok(get(schema, "properties")))
        cc_buf_puts(out, first ? "\"properties\":{}" : ",\"properties\":{}");
    cc_buf_puts(out, "}");
}

/* Anthropic tools -> functions. Server tools (web_search_..., no input_schema) and deferred
 * placeholders (defer_loading) have no function form and are left out. Returns how many. */
static size_t put_tools(cc_jv_t tools, cc_buf_t *out) {
    cc_jv_iter_t it;
    cc_jv_t t;
    size_t n = 0;
    cc_jv_iter(cc_jv_is_array(tools) ? tools : (cc_jv_t){NULL, 0}, &it);
    while (cc_jv_next(&it, NULL, &t)) {
        cc_jv_t name = get(t, "name"), type = get(t, "type"), schema = get(t, "input_schema");
        cc_jv_t desc = get(t, "description");
        if (!cc_jv_is_string(name) || cc_jv_is_true(get(t, "defer_loading"))) continue;
        if (!cc_jv_ok(schema) || (cc_jv_ok(type) && !cc_jv_eq(type, "custom"))) continue;
        cc_buf_puts(out, n++ ? "," : ",\"tools\":[");
        cc_buf_puts(out, "{\"type\":\"function\",\"function\":{\"name\":");
        cc_buf_append(out, name.p, name.n);
        if (cc_jv_is_string(desc)) {
            cc_buf_puts(out, ",\"description\":");
            cc_buf_append(out, desc.p, desc.n);
        }
        cc_buf_puts(out, ",\"parameters\":");
        put_parameters(schema, out);
        cc_buf_puts(out, "}}");
    }
    if (n) cc_buf_puts(out, "]");
    return n;
}

static void put_tool_choice(const rq_t *r, cc_jv_t tc, cc_buf_t *out) {
    cc_jv_t type = get(tc, "type"), name = get(tc, "name");
    if (cc_jv_eq(type, "auto"))
        cc_buf_puts(out, ",\"tool_choice\":\"auto\"");
    else if (cc_jv_eq(type, "any"))
        cc_buf_puts(out, ",\"tool_choice\":\"required\"");
    else if (cc_jv_eq(type, "none"))
        cc_buf_puts(out, ",\"tool_choice\":\"none\"");
    else if (cc_jv_eq(type, "tool") && cc_jv_is_string(name)) {
        cc_buf_puts(out, ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":");
        cc_buf_append(out, name.p, name.n);
        cc_buf_puts(out, "}}");
    }
    if (has(r, CC_OA_PARALLEL) && cc_jv_is_true(get(tc, "disable_parallel_tool_use")))
        cc_buf_puts(out, ",\"parallel_tool_calls\":false");
}

/* ---- limits and reasoning ------------------------------------------------------------------- */

/* Output limits of well-known models, used when the deployment sets none (model_info.
 * max_output_tokens or litellm_params.max_tokens win). Longer prefixes first. */
static const struct {
    const char *prefix;
    long max;
} known_limits[] = {
    {"gpt-4o-mini", 16384},
    {"gpt-4o", 16384},
    {"chatgpt-4o", 16384},
    {"gpt-4.1", 32768},
    {"gpt-4-turbo", 4096},
    {"gpt-3.5", 4096},
    {"gpt-5", 128000},
    {"o1-mini", 65536},
    {"o1", 100000},
    {"o3", 100000},
    {"o4-mini", 100000},
    {"deepseek-chat", 8192},
    {"deepseek-reasoner", 65536},
};

/* A positive whole number from the config (a number or a numeric string), or 0. */
static long config_number(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(v) && v->valuedouble >= 1) return (long)v->valuedouble;
    if (cJSON_IsString(v)) {
        char *end;
        long n = strtol(v->valuestring, &end, 10);
        if (end != v->valuestring && !*end && n >= 1) return n;
    }
    return 0;
}

static long output_limit(const cc_model_t *d, const char *model) {
    long n = d ? config_number(d->model_info, "max_output_tokens") : 0;
    if (!n && d) n = config_number(d->litellm_params, "max_tokens");
    if (n) return n;
    const char *b = base_model(model);
    for (size_t i = 0; i < sizeof known_limits / sizeof known_limits[0]; i++)
        if (starts_with(b, known_limits[i].prefix)) return known_limits[i].max;
    return 0;
}

/* The top-level members the translation reads, found in one pass over the body. */
enum {
    K_SYSTEM,
    K_MESSAGES,
    K_TOOLS,
    K_TOOL_CHOICE,
    K_MAX_TOKENS,
    K_TEMPERATURE,
    K_TOP_P,
    K_TOP_K,
    K_STOP,
    K_OUTPUT_CONFIG,
    K_THINKING,
    K_METADATA,
    K_COUNT
};
static const char *const top_keys[K_COUNT] = {
    "system", "messages", "tools",          "tool_choice",   "max_tokens", "temperature",
    "top_p",  "top_k",    "stop_sequences", "output_config", "thinking",   "metadata"};

/* low / medium / high from output_config.effort, else from a thinking budget. */
static const char *effort_of(const cc_jv_t *top) {
    cc_jv_t e = get(top[K_OUTPUT_CONFIG], "effort");
    if (cc_jv_is_string(e)) {
        if (cc_jv_eq(e, "low") || cc_jv_eq(e, "minimal")) return "low";
        if (cc_jv_eq(e, "medium")) return "medium";
        return "high";
    }
    cc_jv_t th = top[K_THINKING];
    if (!cc_jv_eq(get(th, "type"), "enabled")) return NULL;
    double budget = cc_jv_number(get(th, "budget_tokens"), 0);
    return budget < 4096 ? "low" : budget < 16384 ? "medium" : "high";
}

static void put_reasoning(const rq_t *r, const cc_jv_t *top, cc_buf_t *out) {
    const char *effort = effort_of(top);
    if (!effort) return;
    const char *b = base_model(r->model);
    bool openai_family = strcmp(r->provider, "openai") == 0 || has(r, CC_OA_AZURE);
    if (has(r, CC_OA_REASONING_OBJECT)) {
        cc_buf_printf(out, ",\"reasoning\":{\"effort\":\"%s\"}", effort);
    } else if ((openai_family && reasoning_model(r->model)) || strstr(b, "gpt-oss")) {
        cc_buf_printf(out, ",\"reasoning_effort\":\"%s\"", effort);
    } else if (strcmp(r->provider, "xai") == 0 && strstr(b, "grok-3-mini")) {
        /* grok-3-mini knows only low and high. */
        cc_buf_printf(out, ",\"reasoning_effort\":\"%s\"",
                      strcmp(effort, "low") == 0 ? "low" : "high");
    }
}

/* metadata.user_id is a JSON text with a session_id (or the older user_..._session_<id>):
 * the session id identifies the end user well enough and fits OpenAI's 64 characters. */
static void put_user_id(const cc_jv_t *top, cc_buf_t *out) {
    char *uid = cc_jv_strdup(get(top[K_METADATA], "user_id"));
    if (!uid || !*uid) {
        free(uid);
        return;
    }
    cJSON *parsed = cJSON_Parse(uid);
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(parsed, "session_id");
    const char *s = strstr(uid, "_session_");
    const char *v = cJSON_IsString(sid) && *sid->valuestring ? sid->valuestring
                    : s && s[9]                              ? s + 9
                                                             : uid;
    size_t n = cc_utf8_cut(v, strlen(v), 64); /* between characters */
    cc_buf_puts(out, ",\"user\":\"");
    cc_buf_json_escape(out, v, n);
    cc_buf_puts(out, "\"");
    cJSON_Delete(parsed);
    free(uid);
}

static void put_sampling(const rq_t *r, const cc_jv_t *top, cc_buf_t *out) {
    const cc_model_t *d = r->ctx->deployment;
    double asked = cc_jv_number(top[K_MAX_TOKENS], 0);
    long max = asked >= 1e9 ? 1000000000L : asked >= 1 ? (long)asked : 0;
    long limit = output_limit(d, r->model);
    if (max > 0 && limit && max > limit) max = limit;
    bool openai = strcmp(r->provider, "openai") == 0;
    bool openai_host = openai && (!d || !d->api_base || strstr(d->api_base, "api.openai.com"));
    bool completion_tokens =
        openai_host || ((openai || has(r, CC_OA_AZURE)) && reasoning_model(r->model));
    if (max > 0)
        cc_buf_printf(out, ",\"%s\":%ld",
                      completion_tokens ? "max_completion_tokens" : "max_tokens", max);

    /* OpenAI's reasoning models take only the default sampling. */
    bool fixed_sampling = (openai || has(r, CC_OA_AZURE)) && reasoning_model(r->model);
    static const char *const sampling[] = {"temperature", "top_p", "top_k"};
    for (int k = 0; k < 3 && !fixed_sampling; k++) {
        cc_jv_t v = top[K_TEMPERATURE + k];
        if (!cc_jv_is_number(v) || (k == 2 && !has(r, CC_OA_TOP_K))) continue;
        cc_buf_printf(out, ",\"%s\":", sampling[k]);
        cc_buf_append(out, v.p, v.n);
    }
    cc_jv_t stops = top[K_STOP], s;
    cc_jv_iter_t it;
    int n = 0;
    cc_jv_iter(cc_jv_is_array(stops) ? stops : (cc_jv_t){NULL, 0}, &it);
    while (cc_jv_next(&it, NULL, &s) && n < 4) { /* OpenAI takes at most 4 */
        if (!cc_jv_is_string(s)) continue;
        cc_buf_puts(out, n++ ? "," : ",\"stop\":[");
        cc_buf_append(out, s.p, s.n);
    }
    if (n) cc_buf_puts(out, "]");
}

/* ---- the request ---------------------------------------------------------------------------- */

static void build_target(const rq_t *r, cc_buf_t *target) {
    const cc_model_t *d = r->ctx->deployment;
    if (has(r, CC_OA_AZURE)) {
        const cJSON *ver =
            d ? cJSON_GetObjectItemCaseSensitive(d->litellm_params, "api_version") : NULL;
        cc_buf_puts(target, "/openai/deployments/");
        for (const char *p = r->model; *p; p++) {
            unsigned char c = (unsigned char)*p;
            if (isalnum(c) || strchr("-._~", c))
                cc_buf_append(target, p, 1);
            else
                cc_buf_printf(target, "%%%02X", c);
        }
        cc_buf_printf(target, "/chat/completions?api-version=%s",
                      cJSON_IsString(ver) ? ver->valuestring : "2024-10-21");
        return;
    }
    const char *base = d && d->api_base ? d->api_base : "";
    size_t n = strlen(base);
    bool has_v1 = n >= 3 && strcmp(base + n - 3, "/v1") == 0;
    cc_buf_puts(target,
                has(r, CC_OA_V1_PATH) && !has_v1 ? "/v1/chat/completions" : "/chat/completions");
}

static void build_headers(const rq_t *r, cc_headers_t *h) {
    const cc_model_t *d = r->ctx->deployment;
    const char *key = d ? d->api_key : NULL;
    if (key && *key) {
        if (has(r, CC_OA_AZURE)) {
            cc_headers_set(h, "api-key", key);
        } else {
            cc_buf_t v = CC_BUF_INIT;
            cc_buf_printf(&v, "Bearer %s", key);
            cc_headers_set(h, "Authorization", v.data);
            cc_buf_free(&v);
        }
    }
    cc_headers_set(h, "Content-Type", "application/json");
}

static int oa_request(const cc_xlate_ctx_t *ctx, const char *body, size_t len,
                      cc_xlate_request_t *out, cc_buf_t *err) {
    if (cc_xlate_is_count_tokens(ctx)) return cc_xlate_count_tokens(body, len, out, err);
    rq_t r = {0};
    cc_buf_t o = CC_BUF_INIT;
    size_t at = 0;
    int rc = -1;
    r.ctx = ctx;
    r.provider =
        ctx->deployment && ctx->deployment->provider ? ctx->deployment->provider : "openai";
    r.pol = cc__oa_policy(r.provider);
    r.model = ctx->upstream_model                                  ? ctx->upstream_model
              : ctx->deployment && ctx->deployment->upstream_model ? ctx->deployment->upstream_model
                                                                   : "";
    r.err = err;
    cc__oa_signature_prefix(&r.sig_prefix, r.provider);
    if (cc_json_validate(body, len, &at) != 0) {
        cc_buf_printf(err, "the request body is not valid JSON (at byte %zu)", at);
        goto fail;
    }
    cc_jv_t req = cc_jv(body, len);
    if (!cc_jv_is_object(req)) {
        cc_buf_puts(err, "the request body is not a JSON object");
        goto fail;
    }
    cc_jv_t top[K_COUNT];
    cc_jv_pick(req, top_keys, top, K_COUNT);
    add_system(&r, top[K_SYSTEM]);
    if (convert_messages(&r, top[K_MESSAGES]) < 0) goto fail;

    cc_buf_reserve(&o, len + len / 8);
    cc_buf_puts(&o, "{\"model\":\"");
    put_esc(&o, r.model);
    cc_buf_puts(&o, "\"");
    put_messages(&r, &o);
    if (!has(&r, CC_OA_NO_TOOLS) && put_tools(top[K_TOOLS], &o) > 0)
        put_tool_choice(&r, top[K_TOOL_CHOICE], &o);
    put_sampling(&r, top, &o);
    put_reasoning(&r, top, &o);
    if (has(&r, CC_OA_USER)) put_user_id(top, &o);
    if (ctx->stream) {
        cc_buf_puts(&o, ",\"stream\":true");
        if (has(&r, CC_OA_STREAM_OPTIONS))
            cc_buf_puts(&o, ",\"stream_options\":{\"include_usage\":true}");
    }
    if (cc_buf_puts(&o, "}") < 0) {
        cc_buf_puts(err, "out of memory while translating the request");
        goto fail;
    }
    cc_buf_free(&out->body);
    out->body = o;
    o = (cc_buf_t)CC_BUF_INIT;
    build_target(&r, &out->target);
    build_headers(&r, &out->headers);
    out->local_answer = false;
    rc = 0;
fail:
    cc_buf_free(&o);
    for (size_t i = 0; i < r.n_msgs; i++)
        msg_free(&r.msgs[i]);
    free(r.msgs);
    clear_calls(&r);
    cc_buf_free(&r.sys);
    cc_buf_free(&r.sig_prefix);
    return rc;
}

const cc_provider_t cc_provider_openai = {
    .family = "openai",
    .request = oa_request,
    .response_new = cc__oa_response_new,
    .response_feed = cc__oa_response_feed,
    .response_end = cc__oa_response_end,
    .response_status = cc__oa_response_status,
    .response_idle = cc__oa_response_idle,
    .response_free = cc__oa_response_free,
};
