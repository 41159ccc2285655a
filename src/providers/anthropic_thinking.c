/* anthropic_thinking.c: removing other providers' thinking blocks from requests to Anthropic
 * (see anthropic_thinking.h). */
#define _GNU_SOURCE /* memmem */
#include "providers/anthropic_thinking.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_body.h"

static bool has_prefix(const cJSON *s, const char *prefix) {
    return cJSON_IsString(s) && strncmp(s->valuestring, prefix, strlen(prefix)) == 0;
}

static bool foreign(const cJSON *block) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(block, "type");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "server_tool_use") == 0)
        return has_prefix(cJSON_GetObjectItemCaseSensitive(block, "id"),
                          CC_FOREIGN_SEARCH_ID_PREFIX);
    if (cJSON_IsString(type) && strcmp(type->valuestring, "web_search_tool_result") == 0)
        return has_prefix(cJSON_GetObjectItemCaseSensitive(block, "tool_use_id"),
                          CC_FOREIGN_SEARCH_ID_PREFIX);
    if (!cJSON_IsString(type) || (strcmp(type->valuestring, "thinking") != 0 &&
                                  strcmp(type->valuestring, "redacted_thinking") != 0))
        return false;
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(block, "signature");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(block, "data");
    const char *s = cJSON_IsString(sig) ? sig->valuestring
                    : cJSON_IsString(data) ? data->valuestring
                                           : NULL;
    return s && strncmp(s, CC_FOREIGN_SIGNATURE_PREFIX, strlen(CC_FOREIGN_SIGNATURE_PREFIX)) == 0;
}

static bool is_thinking(const cJSON *block) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(block, "type");
    return cJSON_IsString(type) && (strcmp(type->valuestring, "thinking") == 0 ||
                                    strcmp(type->valuestring, "redacted_thinking") == 0);
}

static bool has_tool_result(const cJSON *msg) {
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    if (!cJSON_IsArray(content)) return false;
    const cJSON *b;
    cJSON_ArrayForEach(b, content) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(b, "type");
        if (cJSON_IsString(type) && strcmp(type->valuestring, "tool_result") == 0) return true;
    }
    return false;
}

/* Removes the blocks `drop` picks from every message; a turn left empty keeps a note, so roles
 * still alternate. Returns how many went; *last_assistant tells whether the last assistant
 * turn lost any. */
static int strip_blocks(cJSON *messages, bool (*drop)(const cJSON *), bool *last_assistant) {
    int removed = 0;
    *last_assistant = false;
    cJSON *msg;
    cJSON_ArrayForEach(msg, messages) {
        cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
        if (!cJSON_IsArray(content)) continue;
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
        bool assistant = cJSON_IsString(role) && strcmp(role->valuestring, "assistant") == 0;
        int here = 0;
        cJSON *b = content->child;
        while (b) {
            cJSON *next = b->next;
            if (drop(b)) {
                cJSON_Delete(cJSON_DetachItemViaPointer(content, b));
                here++;
            }
            b = next;
        }
        if (assistant) *last_assistant = here > 0;
        removed += here;
        if (here && cJSON_GetArraySize(content) == 0) {
            cJSON *t = cJSON_CreateObject();
            cJSON_AddStringToObject(t, "type", "text");
            cJSON_AddStringToObject(t, "text", "(reasoning or search from another model omitted)");
            cJSON_AddItemToArray(content, t);
        }
    }
    return removed;
}

/* The body with `messages` replaced by the parsed one and the other edits; 1 or -1. */
static int write_body(const char *body, size_t len, const cJSON *messages, cc_json_edit_t *more,
                      size_t n_more, cc_buf_t *out) {
    char *text = cJSON_PrintUnformatted(messages);
    if (!text) return -1;
    cc_json_edit_t ed[4] = {{"messages", text, strlen(text)}};
    for (size_t i = 0; i < n_more && i < 3; i++) ed[1 + i] = more[i];
    int rc = cc_json_apply_edits(body, len, ed, 1 + (n_more < 3 ? n_more : 3), out) == 0 ? 1 : -1;
    cJSON_free(text);
    return rc;
}

int cc_anthropic_strip_foreign_thinking(const char *body, size_t len, cc_buf_t *out) {
    /* Almost every request has none: a byte search decides without parsing. */
    if (!memmem(body, len, "\"" CC_FOREIGN_SIGNATURE_PREFIX, strlen(CC_FOREIGN_SIGNATURE_PREFIX) + 1) &&
        !memmem(body, len, "\"" CC_FOREIGN_SEARCH_ID_PREFIX, strlen(CC_FOREIGN_SEARCH_ID_PREFIX) + 1))
        return 0;
    cc_json_member_t m;
    if (cc_json_find_member(body, len, "messages", &m) != 0) return 0;
    cJSON *messages = cJSON_ParseWithLength(body + m.value.start, m.value.len);
    if (!messages) return -1;
    bool last;
    int rc = strip_blocks(messages, foreign, &last) ? write_body(body, len, messages, NULL, 0, out) : 0;
    cJSON_Delete(messages);
    return rc;
}

/* context_management without its clear_thinking edits: NULL when none remain (the member
 * goes), "" when there were none (the member stays), else the new JSON (free it). */
static char *without_clear_thinking(const char *body, size_t len) {
    cc_json_member_t m;
    if (cc_json_find_member(body, len, "context_management", &m) != 0) return strdup("");
    cJSON *cm = cJSON_ParseWithLength(body + m.value.start, m.value.len);
    cJSON *edits = cJSON_GetObjectItemCaseSensitive(cm, "edits");
    bool changed = false;
    cJSON *e = cJSON_IsArray(edits) ? edits->child : NULL;
    while (e) {
        cJSON *next = e->next;
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
        if (cJSON_IsString(type) && strncmp(type->valuestring, "clear_thinking", 14) == 0) {
            cJSON_Delete(cJSON_DetachItemViaPointer(edits, e));
            changed = true;
        }
        e = next;
    }
    char *out;
    if (!changed) out = strdup("");
    else if (cJSON_GetArraySize(edits) == 0 && cJSON_GetArraySize(cm) == 1) out = NULL;
    else out = cJSON_PrintUnformatted(cm);
    cJSON_Delete(cm);
    return out;
}

int cc_anthropic_strip_all_thinking(const char *body, size_t len, cc_buf_t *out) {
    cc_json_member_t m;
    if (cc_json_find_member(body, len, "messages", &m) != 0) return 0;
    cJSON *messages = cJSON_ParseWithLength(body + m.value.start, m.value.len);
    if (!messages) return -1;
    bool last_assistant;
    int removed = strip_blocks(messages, is_thinking, &last_assistant);
    int rc = 0;
    if (removed) {
        /* Inside a tool loop Anthropic wants the assistant turn to open with its thinking: with
         * that gone, this request goes without thinking (and its clear_thinking edits). */
        const cJSON *tail = cJSON_GetArrayItem(messages, cJSON_GetArraySize(messages) - 1);
        cc_json_edit_t more[2];
        size_t n = 0;
        char *cm = NULL;
        bool loop = last_assistant && has_tool_result(tail);
        if (loop) {
            more[n++] = (cc_json_edit_t){"thinking", NULL, 0};
            cm = without_clear_thinking(body, len);
            if (!cm) more[n++] = (cc_json_edit_t){"context_management", NULL, 0};
            else if (*cm) more[n++] = (cc_json_edit_t){"context_management", cm, strlen(cm)};
        }
        rc = write_body(body, len, messages, more, n, out) < 0 ? -1 : removed;
        if (cm) cJSON_free(cm);
    }
    cJSON_Delete(messages);
    return rc;
}

bool cc_anthropic_signature_rejected(const char *body, size_t len) {
    /* "messages.1.content.0: Invalid `signature` in `thinking` block" (also unquoted). */
    return body && memmem(body, len, "signature", 9) && memmem(body, len, "thinking", 8) &&
           (memmem(body, len, "Invalid", 7) || memmem(body, len, "invalid signature", 17));
}
