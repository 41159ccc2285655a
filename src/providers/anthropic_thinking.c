/* anthropic_thinking.c: removing other providers' thinking blocks from requests to Anthropic
 * (see anthropic_thinking.h). */
#define _GNU_SOURCE /* memmem */
#include "providers/anthropic_thinking.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
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

int cc_anthropic_strip_foreign_thinking(const char *body, size_t len, cc_buf_t *out) {
    /* Almost every request has none: a byte search decides without parsing. */
    if (!memmem(body, len, "\"" CC_FOREIGN_SIGNATURE_PREFIX, strlen(CC_FOREIGN_SIGNATURE_PREFIX) + 1) &&
        !memmem(body, len, "\"" CC_FOREIGN_SEARCH_ID_PREFIX, strlen(CC_FOREIGN_SEARCH_ID_PREFIX) + 1))
        return 0;
    cc_json_member_t m;
    if (cc_json_find_member(body, len, "messages", &m) != 0) return 0;
    cJSON *messages = cJSON_ParseWithLength(body + m.value.start, m.value.len);
    if (!messages) return -1;
    int removed = 0;
    cJSON *msg;
    cJSON_ArrayForEach(msg, messages) {
        cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
        if (!cJSON_IsArray(content)) continue;
        cJSON *b = content->child;
        while (b) {
            cJSON *next = b->next;
            if (foreign(b)) {
                cJSON_Delete(cJSON_DetachItemViaPointer(content, b));
                removed++;
            }
            b = next;
        }
        if (cJSON_GetArraySize(content) == 0) {
            /* A turn that was only reasoning: keep the turn, with a note, so roles alternate. */
            cJSON *t = cJSON_CreateObject();
            cJSON_AddStringToObject(t, "type", "text");
            cJSON_AddStringToObject(t, "text", "(reasoning or search from another model omitted)");
            cJSON_AddItemToArray(content, t);
        }
    }
    int rc = 0;
    if (removed) {
        char *text = cJSON_PrintUnformatted(messages);
        cc_json_edit_t ed = {"messages", text, text ? strlen(text) : 0};
        rc = text && cc_json_apply_edits(body, len, &ed, 1, out) == 0 ? 1 : -1;
        cJSON_free(text);
    }
    cJSON_Delete(messages);
    return rc;
}
