/* test_failure.c: failures into LiteLLM's error classes (routing/failure.h): by status, the
 * 400s whose text says the context window or a content policy, and transport failures. */
#include <string.h>

#include "check.h"
#include "routing/failure.h"

static cc_failure_t of(int status, const char *body) {
    return cc_failure_of_answer(status, body, body ? strlen(body) : 0);
}

static void test_by_status(void) {
    static const struct {
        int status;
        cc_fail_class_t cls;
    } cases[] = {{400, CC_FAIL_BAD_REQUEST}, {413, CC_FAIL_BAD_REQUEST}, {422, CC_FAIL_BAD_REQUEST},
                 {401, CC_FAIL_AUTH},        {403, CC_FAIL_AUTH},        {408, CC_FAIL_TIMEOUT},
                 {429, CC_FAIL_RATE_LIMIT},  {500, CC_FAIL_SERVER},      {503, CC_FAIL_SERVER},
                 {529, CC_FAIL_SERVER},      {404, CC_FAIL_NONE},        {200, CC_FAIL_NONE},
                 {409, CC_FAIL_NONE}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cc_failure_t f = of(cases[i].status, NULL);
        CHECK_EQ_INT(f.cls, cases[i].cls);
        CHECK(!f.context_window);
    }
}

static void test_context_window(void) {
    const char *texts[] = {
        "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"prompt "
        "is too long: 250000 tokens > 200000 maximum\"}}",
        "{\"error\":{\"message\":\"This model's maximum context length is 128000 tokens.\","
        "\"code\":\"context_length_exceeded\"}}",
        "{\"error\":{\"code\":400,\"message\":\"The input token count (1200000) exceeds the "
        "maximum number of tokens allowed (1048576).\",\"status\":\"INVALID_ARGUMENT\"}}",
        "input length and `max_tokens` exceed context limit: 190000 + 64000 > 200000",
        "Input is too long for requested model.",
        "PROMPT IS TOO LONG",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        cc_failure_t f = of(400, texts[i]);
        CHECK_EQ_INT(f.cls, CC_FAIL_BAD_REQUEST);
        CHECK(f.context_window);
    }
    CHECK(!of(400, "max_tokens: must be positive").context_window);
    /* Only a 400-class answer says so: a 500 with the words is a server error. */
    CHECK(!of(500, "prompt is too long").context_window);
    CHECK_EQ_INT(of(500, "prompt is too long").cls, CC_FAIL_SERVER);
    /* A body cut short of the words says nothing. */
    const char *cut = "prompt is too long";
    CHECK(!cc_failure_of_answer(400, cut, 10).context_window);
}

static void test_content_policy(void) {
    CHECK_EQ_INT(of(400, "Output blocked by content filtering policy").cls,
                 CC_FAIL_CONTENT_POLICY);
    CHECK_EQ_INT(of(400, "{\"error\":{\"code\":\"content_policy_violation\"}}").cls,
                 CC_FAIL_CONTENT_POLICY);
    CHECK_EQ_INT(of(400, "The response was filtered due to the prompt triggering Azure OpenAI's "
                         "content management policy.").cls,
                 CC_FAIL_CONTENT_POLICY);
    CHECK_EQ_INT(of(422, "content_filter").cls, CC_FAIL_CONTENT_POLICY);
    CHECK_EQ_INT(of(400, "bad tool schema").cls, CC_FAIL_BAD_REQUEST);
}

static void test_transport_and_names(void) {
    CHECK_EQ_INT(cc_failure_of_transport(true).cls, CC_FAIL_TIMEOUT);
    CHECK_EQ_INT(cc_failure_of_transport(false).cls, CC_FAIL_SERVER);
    CHECK_EQ_STR(cc_fail_class_name(CC_FAIL_RATE_LIMIT), "RateLimitError");
    CHECK_EQ_STR(cc_fail_class_name(CC_FAIL_CONTENT_POLICY), "ContentPolicyViolationError");
    CHECK_EQ_STR(cc_fail_class_name(CC_FAIL_NONE), "none");
}

int main(void) {
    CC_RUN(test_by_status);
    CC_RUN(test_context_window);
    CC_RUN(test_content_policy);
    CC_RUN(test_transport_and_names);
    return CC_DONE();
}
