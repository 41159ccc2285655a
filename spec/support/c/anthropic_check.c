/* anthropic_check.c: the invariant checker for Anthropic streams and messages (see
 * anthropic_check.h). The stream is read with the SSE parser; each event's data is decoded
 * with cJSON and checked against the state built from the events before it. */
#include "anthropic_check.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/sse.h"

enum { K_NONE, K_TEXT, K_THINKING, K_TOOL, K_OTHER };

struct cc_acheck_s {
    cc_sse_parser_t sse;
    int n_events;
    const char *ev_name;
    bool failed;
    char *error;
    bool got_start, got_delta, got_stop, got_error;
    int next_index;
    int open_kind; /* K_* of the open block, K_NONE when none is open */
    int open_index;
    bool signed_;           /* the open thinking block had its signature_delta */
    bool start_input_empty; /* the open tool block started with input {} */
    cc_buf_t acc;           /* the open block's text or partial_json */
    int blocks, tool_uses;
    char **tool_ids;
    size_t n_tool_ids;
};

static const char *const stop_reasons[] = {"end_turn",
                                           "max_tokens",
                                           "stop_sequence",
                                           "tool_use",
                                           "pause_turn",
                                           "refusal",
                                           "model_context_window_exceeded",
                                           NULL};

static const char *const error_types[] = {"invalid_request_error",
                                          "authentication_error",
                                          "billing_error",
                                          "permission_error",
                                          "not_found_error",
                                          "request_too_large",
                                          "rate_limit_error",
                                          "api_error",
                                          "overloaded_error",
                                          "timeout_error",
                                          NULL};

static const char *const block_types[] = {"text",
                                          "thinking",
                                          "redacted_thinking",
                                          "tool_use",
                                          "server_tool_use",
                                          "mcp_tool_use",
                                          "web_search_tool_result",
                                          "web_fetch_tool_result",
                                          "mcp_tool_result",
                                          "code_execution_tool_result",
                                          "bash_code_execution_tool_result",
                                          "text_editor_code_execution_tool_result",
                                          "tool_search_tool_result",
                                          "container_upload",
                                          NULL};

static bool in_list(const char *s, const char *const *list) {
    for (; *list; list++)
        if (strcmp(s, *list) == 0) return true;
    return false;
}

static bool is_tool_like(const char *type) {
    return strcmp(type, "tool_use") == 0 || strcmp(type, "server_tool_use") == 0 ||
           strcmp(type, "mcp_tool_use") == 0;
}

static int fail(cc_acheck_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(cc_acheck_t *c, const char *fmt, ...) {
    if (c->failed) return -1;
    c->failed = true;
    cc_buf_t b = CC_BUF_INIT;
    if (c->n_events) cc_buf_printf(&b, "event %d (%s): ", c->n_events, c->ev_name);
    va_list ap;
    va_start(ap, fmt);
    cc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    c->error = cc_buf_steal(&b, NULL);
    return -1;
}

static const cJSON *member(const cJSON *o, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const char *str_member(const cJSON *o, const char *key) {
    const cJSON *v = member(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool count_ok(const cJSON *o, const char *key, bool required) {
    const cJSON *v = member(o, key);
    if (!v || cJSON_IsNull(v)) return !required;
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9e15 &&
           v->valuedouble == (double)(long long)v->valuedouble;
}

/* The usage object of message_start, message_delta or a message. */
static int check_usage(cc_acheck_t *c, const cJSON *u, bool need_input) {
    static const char *const counts[] = {"input_tokens", "output_tokens",
                                         "cache_creation_input_tokens", "cache_read_input_tokens",
                                         NULL};
    if (!cJSON_IsObject(u)) return fail(c, "usage is missing or not an object");
    for (int i = 0; counts[i]; i++) {
        bool required = i == 1 || (i == 0 && need_input);
        if (!count_ok(u, counts[i], required))
            return fail(c, "usage.%s must be a whole number >= 0%s", counts[i],
                        required ? " and is required" : "");
    }
    return 0;
}

static int check_tool_id(cc_acheck_t *c, const char *id) {
    for (size_t i = 0; i < c->n_tool_ids; i++)
        if (strcmp(c->tool_ids[i], id) == 0) return fail(c, "tool id \"%s\" is used twice", id);
    char **p = realloc(c->tool_ids, (c->n_tool_ids + 1) * sizeof *p);
    if (!p) return fail(c, "out of memory");
    c->tool_ids = p;
    if (!(p[c->n_tool_ids] = strdup(id))) return fail(c, "out of memory");
    c->n_tool_ids++;
    return 0;
}

/* A content block as a whole (message mode) or as content_block_start carries it (`start`). */
static int check_block(cc_acheck_t *c, const cJSON *b, bool start, int *kind) {
    const char *type = str_member(b, "type");
    if (!cJSON_IsObject(b) || !type) return fail(c, "a content block needs a string type");
    if (!in_list(type, block_types)) return fail(c, "unknown content block type \"%s\"", type);
    *kind = K_OTHER;
    if (strcmp(type, "text") == 0) {
        const char *text = str_member(b, "text");
        if (!text) return fail(c, "text block without a string text");
        if (!start && !*text) return fail(c, "empty text block");
        *kind = K_TEXT;
    } else if (strcmp(type, "thinking") == 0) {
        if (!str_member(b, "thinking")) return fail(c, "thinking block without a string thinking");
        const cJSON *sig = member(b, "signature");
        if (!start && !cJSON_IsString(sig)) return fail(c, "thinking block without a signature");
        if (sig && !cJSON_IsString(sig)) return fail(c, "thinking signature is not a string");
        *kind = K_THINKING;
    } else if (strcmp(type, "redacted_thinking") == 0) {
        if (!str_member(b, "data")) return fail(c, "redacted_thinking block without data");
    } else if (is_tool_like(type)) {
        const char *id = str_member(b, "id");
        if (!id || !*id) return fail(c, "%s block without an id", type);
        if (!str_member(b, "name")) return fail(c, "%s block without a name", type);
        if (!cJSON_IsObject(member(b, "input")))
            return fail(c, "%s block input is not an object", type);
        if (check_tool_id(c, id) < 0) return -1;
        if (strcmp(type, "tool_use") == 0) c->tool_uses++;
        *kind = K_TOOL;
    } else if (strstr(type, "_tool_result")) {
        if (!str_member(b, "tool_use_id")) return fail(c, "%s block without tool_use_id", type);
    }
    c->blocks++;
    return 0;
}

static int check_stop(cc_acheck_t *c, const cJSON *holder) {
    const cJSON *reason = member(holder, "stop_reason");
    const cJSON *seq = member(holder, "stop_sequence");
    if (!cJSON_IsString(reason) || !in_list(reason->valuestring, stop_reasons))
        return fail(c, "stop_reason must be one of end_turn, max_tokens, stop_sequence, "
                       "tool_use, pause_turn, refusal, model_context_window_exceeded");
    bool by_seq = strcmp(reason->valuestring, "stop_sequence") == 0;
    if (by_seq && !cJSON_IsString(seq))
        return fail(c, "stop_reason stop_sequence without the stop_sequence string");
    if (!by_seq && seq && !cJSON_IsNull(seq))
        return fail(c, "stop_sequence is set but stop_reason is %s", reason->valuestring);
    if (strcmp(reason->valuestring, "tool_use") == 0 && c->tool_uses == 0)
        return fail(c, "stop_reason tool_use without a tool_use block");
    return 0;
}

/* ---- stream events -------------------------------------------------------------------------- */

static int on_message_start(cc_acheck_t *c, const cJSON *d) {
    if (c->got_start) return fail(c, "a second message_start");
    c->got_start = true;
    const cJSON *m = member(d, "message");
    if (!cJSON_IsObject(m)) return fail(c, "message_start without a message object");
    const char *id = str_member(m, "id");
    const char *type = str_member(m, "type");
    const char *role = str_member(m, "role");
    if (!id || !*id) return fail(c, "message without an id");
    if (!type || strcmp(type, "message") != 0) return fail(c, "message.type is not \"message\"");
    if (!role || strcmp(role, "assistant") != 0)
        return fail(c, "message.role is not \"assistant\"");
    if (!str_member(m, "model")) return fail(c, "message without a model");
    const cJSON *content = member(m, "content");
    if (!cJSON_IsArray(content) || cJSON_GetArraySize(content) != 0)
        return fail(c, "message_start content must be an empty array");
    return check_usage(c, member(m, "usage"), true);
}

static int on_block_start(cc_acheck_t *c, const cJSON *d) {
    const cJSON *index = member(d, "index");
    if (c->open_kind != K_NONE)
        return fail(c, "content_block_start while block %d is still open", c->open_index);
    if (!cJSON_IsNumber(index) || index->valueint != c->next_index ||
        index->valuedouble != (double)c->next_index)
        return fail(c, "content_block_start index must be %d", c->next_index);
    const cJSON *b = member(d, "content_block");
    int kind;
    if (check_block(c, b, true, &kind) < 0) return -1;
    c->open_kind = kind;
    c->open_index = c->next_index++;
    c->signed_ = false;
    cc_buf_reset(&c->acc);
    if (kind == K_TEXT) cc_buf_puts(&c->acc, str_member(b, "text"));
    if (kind == K_TOOL) c->start_input_empty = cJSON_GetArraySize(member(b, "input")) == 0;
    return 0;
}

static int on_block_delta(cc_acheck_t *c, const cJSON *d) {
    const cJSON *index = member(d, "index");
    if (c->open_kind == K_NONE) return fail(c, "content_block_delta with no open block");
    if (!cJSON_IsNumber(index) || index->valuedouble != (double)c->open_index)
        return fail(c, "content_block_delta index must be the open block's, %d", c->open_index);
    const cJSON *delta = member(d, "delta");
    const char *type = str_member(delta, "type");
    if (!cJSON_IsObject(delta) || !type) return fail(c, "delta without a type");
    const char *field = NULL;
    int want = K_NONE;
    if (strcmp(type, "text_delta") == 0)
        field = "text", want = K_TEXT;
    else if (strcmp(type, "citations_delta") == 0)
        want = K_TEXT;
    else if (strcmp(type, "thinking_delta") == 0)
        field = "thinking", want = K_THINKING;
    else if (strcmp(type, "signature_delta") == 0)
        field = "signature", want = K_THINKING;
    else if (strcmp(type, "input_json_delta") == 0)
        field = "partial_json", want = K_TOOL;
    else
        return fail(c, "unknown delta type \"%s\"", type);
    if (want != c->open_kind) return fail(c, "%s in a block of another type", type);
    if (field && !str_member(delta, field)) return fail(c, "%s without a string %s", type, field);
    if (want == K_THINKING) {
        if (c->signed_) return fail(c, "%s after the thinking block's signature_delta", type);
        c->signed_ = strcmp(type, "signature_delta") == 0;
    }
    if (want == K_TOOL && !c->start_input_empty)
        return fail(c, "input_json_delta for a block that started with a non-empty input");
    if (field && want != K_THINKING) cc_buf_puts(&c->acc, str_member(delta, field));
    return 0;
}

static int on_block_stop(cc_acheck_t *c, const cJSON *d) {
    const cJSON *index = member(d, "index");
    if (c->open_kind == K_NONE) return fail(c, "content_block_stop with no open block");
    if (!cJSON_IsNumber(index) || index->valuedouble != (double)c->open_index)
        return fail(c, "content_block_stop index must be the open block's, %d", c->open_index);
    if (c->open_kind == K_TEXT && c->acc.len == 0) return fail(c, "empty text block");
    if (c->open_kind == K_TOOL && c->acc.len) {
        cJSON *input = cJSON_ParseWithLength(c->acc.data, c->acc.len);
        bool ok = cJSON_IsObject(input);
        cJSON_Delete(input);
        if (!ok)
            return fail(c, "tool input of block %d is not a JSON object: %.200s", c->open_index,
                        c->acc.data);
    }
    c->open_kind = K_NONE;
    return 0;
}

static int on_message_delta(cc_acheck_t *c, const cJSON *d) {
    if (c->open_kind != K_NONE)
        return fail(c, "message_delta while block %d is still open", c->open_index);
    if (c->got_delta) return fail(c, "a second message_delta");
    c->got_delta = true;
    const cJSON *delta = member(d, "delta");
    if (!cJSON_IsObject(delta)) return fail(c, "message_delta without a delta object");
    if (check_stop(c, delta) < 0) return -1;
    return check_usage(c, member(d, "usage"), false);
}

static int check_error_json(cc_acheck_t *c, const cJSON *d) {
    const cJSON *e = member(d, "error");
    const char *type = str_member(e, "type");
    if (!cJSON_IsObject(e)) return fail(c, "error without an error object");
    if (!type || !in_list(type, error_types)) return fail(c, "error.type is not a known type");
    if (!str_member(e, "message")) return fail(c, "error.message is not a string");
    return 0;
}

static int on_event(void *arg, const cc_sse_event_t *ev) {
    cc_acheck_t *c = arg;
    static const char *const names[] = {"message_start",
                                        "content_block_start",
                                        "content_block_delta",
                                        "content_block_stop",
                                        "message_delta",
                                        "message_stop",
                                        "ping",
                                        "error",
                                        NULL};
    c->n_events++;
    c->ev_name = ev->event;
    if (c->got_stop || c->got_error) return fail(c, "an event after the end of the stream");
    if (!*ev->event) return fail(c, "an event without an event: name (clients ignore it)");
    if (!in_list(ev->event, names)) return fail(c, "unknown event type");
    cJSON *d = cJSON_ParseWithLength(ev->data, ev->data_len);
    int rc = 0;
    const char *type = str_member(d, "type");
    if (!cJSON_IsObject(d))
        rc = fail(c, "data is not a JSON object");
    else if (!type || strcmp(type, ev->event) != 0)
        rc = fail(c, "data.type is not the event's name");
    else if (strcmp(type, "error") == 0) {
        c->got_error = true;
        rc = check_error_json(c, d);
    } else if (!c->got_start && strcmp(type, "message_start") != 0)
        rc = fail(c, "message_start must come first");
    else if (strcmp(type, "message_start") == 0)
        rc = on_message_start(c, d);
    else if (strcmp(type, "content_block_start") == 0)
        rc = on_block_start(c, d);
    else if (strcmp(type, "content_block_delta") == 0)
        rc = on_block_delta(c, d);
    else if (strcmp(type, "content_block_stop") == 0)
        rc = on_block_stop(c, d);
    else if (strcmp(type, "message_delta") == 0)
        rc = on_message_delta(c, d);
    else if (strcmp(type, "message_stop") == 0) {
        if (!c->got_delta) rc = fail(c, "message_stop before message_delta");
        c->got_stop = true;
    }
    cJSON_Delete(d);
    return rc;
}

cc_acheck_t *cc_acheck_new(void) {
    cc_acheck_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    cc_sse_parser_init(&c->sse, on_event, c);
    c->ev_name = "";
    return c;
}

void cc_acheck_free(cc_acheck_t *c) {
    if (!c) return;
    cc_sse_parser_free(&c->sse);
    cc_buf_free(&c->acc);
    for (size_t i = 0; i < c->n_tool_ids; i++)
        free(c->tool_ids[i]);
    free(c->tool_ids);
    free(c->error);
    free(c);
}

int cc_acheck_feed(cc_acheck_t *c, const char *data, size_t len) {
    if (c->failed) return -1;
    int rc = cc_sse_feed(&c->sse, data, len);
    if (rc && !c->failed) fail(c, "the SSE framing is broken (an event over 16 MiB)");
    return c->failed ? -1 : 0;
}

int cc_acheck_end(cc_acheck_t *c) {
    if (c->failed) return -1;
    if (c->sse.line.len || c->sse.has_data) {
        c->n_events = 0;
        return fail(c, "the stream ends inside an event (no blank line after it)");
    }
    if (!c->got_stop && !c->got_error) {
        c->n_events = 0;
        return fail(c, "the stream ended without message_stop or an error event");
    }
    return 0;
}

const char *cc_acheck_error(const cc_acheck_t *c) {
    return c->error;
}

int cc_acheck_blocks(const cc_acheck_t *c) {
    return c->blocks;
}

int cc_acheck_tool_uses(const cc_acheck_t *c) {
    return c->tool_uses;
}

static int report(cc_acheck_t *c, int rc, cc_buf_t *err) {
    if (rc && err) cc_buf_puts(err, c->error ? c->error : "out of memory");
    cc_acheck_free(c);
    return rc ? -1 : 0;
}

int cc_acheck_stream(const char *data, size_t len, cc_buf_t *err) {
    cc_acheck_t *c = cc_acheck_new();
    if (!c) return -1;
    int rc = cc_acheck_feed(c, data, len);
    if (!rc) rc = cc_acheck_end(c);
    return report(c, rc, err);
}

int cc_acheck_stream_prefix(const char *data, size_t len, cc_buf_t *err) {
    cc_acheck_t *c = cc_acheck_new();
    if (!c) return -1;
    int rc = cc_acheck_feed(c, data, len);
    if (!rc && (c->sse.line.len || c->sse.has_data))
        rc = fail(c, "the stream ends inside an event (no blank line after it)");
    if (!rc && (c->got_stop || c->got_error))
        rc = fail(c, "the stream has its end (message_stop or an error event): not a prefix");
    return report(c, rc, err);
}

/* ---- whole messages ------------------------------------------------------------------------- */

static int check_message(cc_acheck_t *c, const cJSON *m) {
    if (!cJSON_IsObject(m)) return fail(c, "the body is not a JSON object");
    const char *type = str_member(m, "type");
    if (!type || strcmp(type, "message") != 0) return fail(c, "type is not \"message\"");
    const char *id = str_member(m, "id");
    const char *role = str_member(m, "role");
    if (!id || !*id) return fail(c, "message without an id");
    if (!role || strcmp(role, "assistant") != 0) return fail(c, "role is not \"assistant\"");
    if (!str_member(m, "model")) return fail(c, "message without a model");
    const cJSON *content = member(m, "content");
    if (!cJSON_IsArray(content)) return fail(c, "content is not an array");
    const cJSON *b;
    int i = 0;
    cJSON_ArrayForEach(b, content) {
        int kind;
        if (check_block(c, b, false, &kind) < 0) {
            char *prev = c->error;
            c->error = NULL;
            c->failed = false;
            fail(c, "content[%d]: %s", i, prev);
            free(prev);
            return -1;
        }
        i++;
    }
    if (check_stop(c, m) < 0) return -1;
    return check_usage(c, member(m, "usage"), true);
}

int cc_acheck_message(const char *json, size_t len, cc_buf_t *err) {
    cc_acheck_t *c = cc_acheck_new();
    if (!c) return -1;
    cJSON *m = cJSON_ParseWithLength(json, len);
    int rc = m ? check_message(c, m) : fail(c, "the body is not JSON");
    cJSON_Delete(m);
    return report(c, rc, err);
}

int cc_acheck_error_body(const char *json, size_t len, cc_buf_t *err) {
    cc_acheck_t *c = cc_acheck_new();
    if (!c) return -1;
    cJSON *m = cJSON_ParseWithLength(json, len);
    const char *type = str_member(m, "type");
    int rc;
    if (!cJSON_IsObject(m))
        rc = fail(c, "the error body is not a JSON object");
    else if (!type || strcmp(type, "error") != 0)
        rc = fail(c, "type is not \"error\"");
    else
        rc = check_error_json(c, m);
    cJSON_Delete(m);
    return report(c, rc, err);
}
