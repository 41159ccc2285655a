/* test_anthropic_thinking.c: other providers' thinking blocks never reach Anthropic, and a
 * request Anthropic rejected for a signature goes again without thinking blocks. */
#include <string.h>

#include "providers/anthropic_thinking.h"
#include "check.h"
#include "json/json_body.h"

static void test_untouched(void) {
    const char *b = "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
                    "\"thinking\",\"thinking\":\"x\",\"signature\":\"EqQBCkgIBxABGAIiQ\"},"
                    "{\"type\":\"text\",\"text\":\"hi\"}]}]}";
    cc_buf_t out = CC_BUF_INIT;
    CHECK_EQ_INT(cc_anthropic_strip_foreign_thinking(b, strlen(b), &out), 0);
    CHECK_EQ_INT(out.len, 0);
    cc_buf_free(&out);
}

static void test_removes_foreign(void) {
    const char *b =
        "{\"model\":\"m\", \"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\","
        "\"signature\":\"ccproxy:gemini:AAAA\"},{\"type\":\"text\",\"text\":\"a\"}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"own\","
        "\"signature\":\"EqQBCkgI\"}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"only\","
        "\"signature\":\"ccproxy:deepseek:BBBB\"}]}], \"stream\":true}";
    cc_buf_t out = CC_BUF_INIT;
    CHECK_EQ_INT(cc_anthropic_strip_foreign_thinking(b, strlen(b), &out), 1);
    CHECK(strstr(out.data, "ccproxy:") == NULL);
    CHECK(strstr(out.data, "EqQBCkgI") != NULL);         /* Anthropic's own stays */
    CHECK(strstr(out.data, "\"text\":\"a\"") != NULL);
    CHECK(strstr(out.data, "reasoning or search from another model omitted") != NULL);
    CHECK(strncmp(out.data, "{\"model\":\"m\", \"messages\":", 25) == 0); /* bytes kept */
    CHECK(strstr(out.data, "], \"stream\":true}") != NULL);
    size_t bad;
    CHECK_EQ_INT(cc_json_validate(out.data, out.len, &bad), 0);
    cc_buf_free(&out);
}

static void test_removes_foreign_search(void) {
    const char *b =
        "{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"server_tool_use\","
        "\"id\":\"" CC_FOREIGN_SEARCH_ID_PREFIX "01abc\",\"name\":\"web_search\",\"input\":{}},"
        "{\"type\":\"web_search_tool_result\",\"tool_use_id\":\"" CC_FOREIGN_SEARCH_ID_PREFIX
        "01abc\",\"content\":[]},{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_01real\","
        "\"name\":\"web_search\",\"input\":{}},{\"type\":\"text\",\"text\":\"found\"}]}]}";
    cc_buf_t out = CC_BUF_INIT;
    CHECK_EQ_INT(cc_anthropic_strip_foreign_thinking(b, strlen(b), &out), 1);
    CHECK(strstr(out.data, CC_FOREIGN_SEARCH_ID_PREFIX) == NULL);
    CHECK(strstr(out.data, "srvtoolu_01real") != NULL); /* Anthropic's own search stays */
    CHECK(strstr(out.data, "\"found\"") != NULL);
    cc_buf_free(&out);
}

static void test_broken_body(void) {
    const char *b = "{\"messages\":[{\"content\":[{\"signature\":\"ccproxy:x\"";
    cc_buf_t out = CC_BUF_INIT;
    CHECK(cc_anthropic_strip_foreign_thinking(b, strlen(b), &out) <= 0);
    cc_buf_free(&out);
}

static void test_strip_all_keeps_thinking_on_a_new_prompt(void) {
    const char *b =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\","
        "\"signature\":\"EqQBold\"},{\"type\":\"redacted_thinking\",\"data\":\"EmwKAhgB\"},"
        "{\"type\":\"text\",\"text\":\"a\"}]},{\"role\":\"user\",\"content\":\"next\"}],"
        "\"thinking\":{\"type\":\"adaptive\"},\"context_management\":{\"edits\":[{\"type\":"
        "\"clear_thinking_20251015\",\"keep\":\"all\"}]}}";
    cc_buf_t out = CC_BUF_INIT;
    CHECK_EQ_INT(cc_anthropic_strip_all_thinking(b, strlen(b), &out), 2);
    CHECK(strstr(out.data, "EqQBold") == NULL);
    CHECK(strstr(out.data, "EmwKAhgB") == NULL);
    CHECK(strstr(out.data, "\"text\":\"a\"") != NULL);
    /* A new prompt needs no thinking block before it: the request keeps its thinking. */
    CHECK(strstr(out.data, "\"thinking\":{\"type\":\"adaptive\"}") != NULL);
    CHECK(strstr(out.data, "clear_thinking_20251015") != NULL);
    CHECK_EQ_INT(cc_json_validate(out.data, out.len, NULL), 0);
    cc_buf_free(&out);
}

static void test_strip_all_in_a_tool_loop(void) {
    const char *b =
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\","
        "\"signature\":\"EqQBold\"},{\"type\":\"tool_use\",\"id\":\"tu1\",\"name\":\"Bash\","
        "\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
        "\"tool_use_id\":\"tu1\",\"content\":\"ok\"}]}],\"thinking\":{\"type\":\"adaptive\"},"
        "\"context_management\":{\"edits\":[{\"type\":\"clear_thinking_20251015\",\"keep\":"
        "\"all\"},{\"type\":\"clear_tool_uses_20250919\"}]},\"stream\":true}";
    cc_buf_t out = CC_BUF_INIT;
    CHECK_EQ_INT(cc_anthropic_strip_all_thinking(b, strlen(b), &out), 1);
    /* The tool loop's assistant turn lost its thinking: this request goes without thinking. */
    CHECK(strstr(out.data, "\"thinking\":{") == NULL);
    CHECK(strstr(out.data, "clear_thinking") == NULL);
    CHECK(strstr(out.data, "clear_tool_uses_20250919") != NULL); /* other edits stay */
    CHECK(strstr(out.data, "\"tool_use\"") != NULL);
    CHECK(strstr(out.data, "\"stream\":true") != NULL);
    CHECK_EQ_INT(cc_json_validate(out.data, out.len, NULL), 0);
    cc_buf_free(&out);

    /* Only clear_thinking edits: context_management goes as a whole. */
    const char *c =
        "{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
        "\"thinking\":\"t\",\"signature\":\"S\"},{\"type\":\"tool_use\",\"id\":\"tu1\","
        "\"name\":\"X\",\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":"
        "\"tool_result\",\"tool_use_id\":\"tu1\",\"content\":\"ok\"}]}],\"thinking\":"
        "{\"type\":\"adaptive\"},\"context_management\":{\"edits\":[{\"type\":"
        "\"clear_thinking_20251015\"}]}}";
    CHECK_EQ_INT(cc_anthropic_strip_all_thinking(c, strlen(c), &out), 1);
    CHECK(strstr(out.data, "context_management") == NULL);
    CHECK(strstr(out.data, "\"thinking\":{") == NULL);
    CHECK_EQ_INT(cc_json_validate(out.data, out.len, NULL), 0);
    cc_buf_free(&out);
}

static void test_strip_all_without_thinking(void) {
    const char *b = "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}";
    cc_buf_t out = CC_BUF_INIT;
    CHECK_EQ_INT(cc_anthropic_strip_all_thinking(b, strlen(b), &out), 0);
    CHECK_EQ_INT(out.len, 0);
    CHECK(cc_anthropic_strip_all_thinking("{\"messages\":[", 13, &out) <= 0);
    CHECK_EQ_INT(out.len, 0);
    cc_buf_free(&out);
}

static void test_signature_rejected(void) {
    const char *yes = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                      "\"message\":\"messages.1.content.0: Invalid `signature` in `thinking` block\"}}";
    CHECK(cc_anthropic_signature_rejected(yes, strlen(yes)));
    const char *plain = "messages.3.content.0: Invalid signature in thinking block";
    CHECK(cc_anthropic_signature_rejected(plain, strlen(plain)));
    const char *other = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                        "\"message\":\"prompt is too long: 210000 tokens > 200000 maximum\"}}";
    CHECK(!cc_anthropic_signature_rejected(other, strlen(other)));
    const char *expected = "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, "
                           "but found `text`";
    CHECK(!cc_anthropic_signature_rejected(expected, strlen(expected)));
    CHECK(!cc_anthropic_signature_rejected(NULL, 0));
}

int main(void) {
    CC_RUN(test_strip_all_keeps_thinking_on_a_new_prompt);
    CC_RUN(test_strip_all_in_a_tool_loop);
    CC_RUN(test_strip_all_without_thinking);
    CC_RUN(test_signature_rejected);
    CC_RUN(test_untouched);
    CC_RUN(test_removes_foreign);
    CC_RUN(test_removes_foreign_search);
    CC_RUN(test_broken_body);
    return CC_DONE();
}
