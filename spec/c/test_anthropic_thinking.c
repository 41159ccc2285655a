/* test_anthropic_thinking.c: other providers' thinking blocks never reach Anthropic. */
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

int main(void) {
    CC_RUN(test_untouched);
    CC_RUN(test_removes_foreign);
    CC_RUN(test_removes_foreign_search);
    CC_RUN(test_broken_body);
    return CC_DONE();
}
