/* test_context_limit.c: every provider's context-length error reads as one, with its numbers,
 * and is written in Anthropic's words, which Claude Code compacts on. */
#include <string.h>

#include "providers/context_limit.h"
#include "check.h"

typedef struct {
    const char *text;
    long tokens, maximum;
} said_t;

static void test_reads_every_provider(void) {
    const said_t cases[] = {
        /* OpenAI */
        {"This model's maximum context length is 128000 tokens. However, your messages resulted "
         "in 150000 tokens. Please reduce the length of the messages.", 150000, 128000},
        /* vLLM, DeepSeek */
        {"This model's maximum context length is 65536 tokens. However, you requested 70000 "
         "tokens (70000 in the messages, 0 in the completion).", 70000, 65536},
        /* OpenRouter */
        {"This endpoint's maximum context length is 163840 tokens. However, you requested about "
         "200123 tokens (190000 of text input, 10123 in the output).", 200123, 163840},
        /* Mistral */
        {"Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 "
         "maximum context length", 40000, 32768},
        /* llama.cpp */
        {"request (40000 tokens) exceeds the available context size (32768 tokens), try "
         "increasing it", 40000, 32768},
        /* Gemini */
        {"The input token count (1200000) exceeds the maximum number of tokens allowed "
         "(1048576).", 1200000, 1048576},
        /* Anthropic itself */
        {"prompt is too long: 210000 tokens > 200000 maximum", 210000, 200000},
        /* Groq: the code only, no numbers */
        {"{\"error\":{\"message\":\"Please reduce the length of the messages or completion.\","
         "\"code\":\"context_length_exceeded\"}}", 0, 0},
        /* Bedrock */
        {"Input is too long for requested model.", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long tokens = -1, maximum = -1;
        CHECK(cc_context_limit_read(cases[i].text, strlen(cases[i].text), &tokens, &maximum));
        CHECK_EQ_INT(tokens, cases[i].tokens);
        CHECK_EQ_INT(maximum, cases[i].maximum);
    }
}

static void test_other_errors_are_not(void) {
    const char *texts[] = {"max_tokens: 128000 > 64000, which is the maximum allowed",
                           "Invalid API key", "tools.3.input_schema: unknown field", ""};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        long tokens, maximum;
        CHECK(!cc_context_limit_read(texts[i], strlen(texts[i]), &tokens, &maximum));
    }
    long t, m;
    CHECK(!cc_context_limit_read(NULL, 0, &t, &m));
}

static void test_writes_anthropic_words(void) {
    cc_buf_t out = CC_BUF_INIT;
    cc_context_limit_message(&out, 150000, 128000, "ignored");
    CHECK_EQ_STR(out.data, "prompt is too long: 150000 tokens > 128000 maximum");
    cc_buf_free(&out);
    /* Without both numbers (or with ones that do not say "over"): the words, and what was said. */
    cc_context_limit_message(&out, 0, 32768, "groq answered HTTP 400: reduce the length");
    CHECK_EQ_STR(out.data, "prompt is too long (groq answered HTTP 400: reduce the length)");
    cc_buf_free(&out);
    cc_context_limit_message(&out, 1000, 32768, NULL);
    CHECK_EQ_STR(out.data, "prompt is too long");
    cc_buf_free(&out);
}

static void test_rewrite_fills_in_what_the_provider_left_out(void) {
    const char *groq = "{\"error\":{\"message\":\"Please reduce the length of the messages.\","
                       "\"code\":\"context_length_exceeded\"}}";
    cc_buf_t msg = CC_BUF_INIT;
    cc_buf_puts(&msg, "groq answered HTTP 400: Please reduce the length of the messages.");
    /* ccproxy's estimate of the request and the deployment's model_info.max_input_tokens */
    CHECK(cc_context_limit_rewrite(groq, strlen(groq), 40100, 32000, &msg));
    CHECK_EQ_STR(msg.data, "prompt is too long: 40100 tokens > 32000 maximum");
    cc_buf_free(&msg);
    const char *other = "{\"error\":{\"message\":\"Invalid model\"}}";
    cc_buf_puts(&msg, "kept");
    CHECK(!cc_context_limit_rewrite(other, strlen(other), 40100, 32000, &msg));
    CHECK_EQ_STR(msg.data, "kept");
    cc_buf_free(&msg);
}

int main(void) {
    CC_RUN(test_reads_every_provider);
    CC_RUN(test_other_errors_are_not);
    CC_RUN(test_writes_anthropic_words);
    CC_RUN(test_rewrite_fills_in_what_the_provider_left_out);
    return CC_DONE();
}
