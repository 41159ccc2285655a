/* test_tokens.c: the input-token estimate (tokens.h): plausible totals on the Claude Code
 * fixtures, calibration of prose and JSON, what counts and what does not (images, signatures,
 * metadata), monotonicity, the upper bound, invalid input, and speed (printed only). */
#include <cjson/cJSON.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "check.h"
#include "json/json_body.h"
#include "tokens.h"

static long est(const char *body) {
    return cc_tokens_estimate(body, strlen(body));
}

/* The estimate of a cJSON tree printed compactly; also checks the bound. */
static long est_json(const cJSON *j) {
    char *s = cJSON_PrintUnformatted(j);
    long n = -100;
    if (s) {
        n = est(s);
        CHECK(n <= cc_tokens_upper_bound(s, strlen(s)));
        free(s);
    }
    return n;
}

/* The estimate of `text` as a system string: the bare text cost, no overheads. */
static long est_text(const char *text) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "system", text);
    long n = est_json(o);
    cJSON_Delete(o);
    return n;
}

#define FIXTURE(name) CC_FIXTURES_DIR "/claude-code/" name

static cJSON *load_fixture(const char *path, char **raw, size_t *len) {
    *raw = read_file(path, len);
    return *raw ? cJSON_ParseWithLength(*raw, *len) : NULL;
}

static void test_fixture_totals(void) {
    glob_t g;
    CHECK_EQ_INT(glob(CC_FIXTURES_DIR "/claude-code/*/*.body.json", 0, NULL, &g), 0);
    CHECK(g.gl_pathc >= 10);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        size_t len = 0;
        char *body = read_file(g.gl_pathv[i], &len);
        long n = body ? cc_tokens_estimate(body, len) : -1;
        const char *name = strstr(g.gl_pathv[i], "claude-code/");
        fprintf(stderr, "  %-52s %6zu bytes %6ld tokens (%.2f bytes/token)\n",
                name ? name + 12 : g.gl_pathv[i], len, n, n > 0 ? (double)len / n : 0.0);
        CHECK(n > 0);
        CHECK(n <= cc_tokens_upper_bound(body, len));
        /* Whole Claude Code bodies are English prose plus JSON schemas. */
        if (len > 40000) CHECK((double)len / n > 2.8 && (double)len / n < 5.0);
        free(body);
    }
    globfree(&g);

    size_t len = 0;
    char *body = read_file(FIXTURE("a_say_hi/01-messages.body.json"), &len);
    long n = body ? cc_tokens_estimate(body, len) : -1;
    CHECK(n >= 11000 && n <= 16000);
    free(body);
}

/* Prose lands near 4 characters a token and JSON near 3 (the calibration targets). */
static void test_calibration(void) {
    char *raw;
    size_t len;
    cJSON *j = load_fixture(FIXTURE("a_say_hi/01-messages.body.json"), &raw, &len);
    CHECK(j != NULL);
    if (!j) return;
    cc_buf_t prose = CC_BUF_INIT, schemas = CC_BUF_INIT;
    cJSON *tool;
    cJSON_ArrayForEach(tool, cJSON_GetObjectItem(j, "tools")) {
        const char *d = cJSON_GetStringValue(cJSON_GetObjectItem(tool, "description"));
        char *s = cJSON_PrintUnformatted(cJSON_GetObjectItem(tool, "input_schema"));
        if (d) cc_buf_puts(&prose, d);
        if (s) cc_buf_puts(&schemas, s);
        cc_buf_puts(&prose, "\n");
        free(s);
    }
    cJSON *sys = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "system"), 2);
    const char *sys_text = cJSON_GetStringValue(cJSON_GetObjectItem(sys, "text"));
    CHECK(sys_text != NULL);

    /* Characters, not bytes: count UTF-8 lead bytes. */
    struct {
        const char *what, *text;
        double lo, hi;
    } cases[] = {
        {"system prompt (prose, markdown)", sys_text ? sys_text : "", 3.4, 4.6},
        {"tool descriptions (prose)", prose.data, 3.4, 4.6},
        {"input schemas (JSON)", schemas.data, 2.5, 3.5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t chars = 0;
        for (const unsigned char *p = (const unsigned char *)cases[i].text; *p; p++)
            chars += (*p & 0xC0) != 0x80;
        long n = est_text(cases[i].text);
        double ratio = n > 0 ? (double)chars / n : 0;
        fprintf(stderr, "  %-34s %6zu chars %5ld tokens: %.2f chars/token\n", cases[i].what, chars,
                n, ratio);
        CHECK(ratio >= cases[i].lo && ratio <= cases[i].hi);
    }
    /* Plain English sentences, for the record. */
    const char *english =
        "The quick brown fox jumps over the lazy dog. When the request arrives, the proxy "
        "reads the model name, decides where to send it, and passes the body through "
        "unchanged so that prompt caching keeps working. Nothing else is touched.";
    long n = est_text(english);
    fprintf(stderr, "  %-34s %6zu chars %5ld tokens: %.2f chars/token\n", "English sentences",
            strlen(english), n, (double)strlen(english) / n);
    CHECK((double)strlen(english) / n >= 3.4 && (double)strlen(english) / n <= 4.6);
    cc_buf_free(&prose);
    cc_buf_free(&schemas);
    cJSON_Delete(j);
    free(raw);
}

static void test_text_rules(void) {
    /* Words: ceil(letters / 6); a single space is free, longer runs are not. */
    CHECK_EQ_INT(est_text("the"), 1);
    CHECK_EQ_INT(est_text("the cat sat"), 3);
    CHECK_EQ_INT(est_text("tokens"), 1);
    CHECK_EQ_INT(est_text("information"), 2);
    CHECK_EQ_INT(est_text("internationalization"), 4);
    CHECK_EQ_INT(est_text("the          cat"), 4);
    /* Digits: ceil(n / 3). */
    CHECK_EQ_INT(est_text("1234567"), 3);
    /* Punctuation: 1 each, runs of one character ceil(n / 4). */
    CHECK_EQ_INT(est_text("----------------"), 4);
    CHECK_EQ_INT(est_text("{\"}:[,]"), 7);
    CHECK_EQ_INT(est_text("a.b"), 3);
    /* Newlines: a pair is one token. */
    CHECK_EQ_INT(est_text("a\n\nb\nc"), 5);
    /* Accented letters join words with weight 2; U+0080-U+00BF is a token of its own. */
    CHECK_EQ_INT(est_text("caf\xc3\xa9s"), 1);
    CHECK_EQ_INT(est_text("\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"), 2);
    CHECK_EQ_INT(est_text("\xc2\xa9"), 1);
    /* General punctuation (em dash) is punctuation; other symbols cost 2. */
    CHECK_EQ_INT(est_text("a \xe2\x80\x94 b"), 3);
    CHECK_EQ_INT(est_text("\xe2\x9c\x93"), 2);
    /* Escapes decode: \n is a newline (1 token), \u4e2d is one CJK character. */
    CHECK_EQ_INT(est("{\"system\":\"a\\nb\"}"), 3);
    CHECK_EQ_INT(est("{\"system\":\"\\u4e2d\\u6587\"}"), 2);
    CHECK_EQ_INT(est_text("\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97"), 3);
    CHECK_EQ_INT(est("{\"system\":\"\\ud83d\\ude00\"}"), 2);
    CHECK_EQ_INT(est_text(""), 0);
    /* Keys are matched after decoding their escapes. */
    CHECK_EQ_INT(est("{\"syst\\u0065m\":\"the\"}"), 1);
}

static cJSON *message(const char *role, cJSON *content) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddItemToObject(m, "content", content);
    return m;
}

static cJSON *text_block(const char *text) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "text");
    cJSON_AddStringToObject(b, "text", text);
    return b;
}

static void test_monotonic(void) {
    char *raw;
    size_t len;
    cJSON *j = load_fixture(FIXTURE("b_tool_roundtrip/02-messages.body.json"), &raw, &len);
    CHECK(j != NULL);
    if (!j) return;
    long base = est_json(j), raw_n = cc_tokens_estimate(raw, len);
    /* Re-printing changes a few escapes, not the count beyond a fraction of a percent. */
    CHECK(base > raw_n * 99 / 100 && base < raw_n * 101 / 100);
    cJSON *msgs = cJSON_GetObjectItem(j, "messages");
    cJSON_AddItemToArray(msgs, message("user", cJSON_CreateString("and now?")));
    long more = est_json(j);
    CHECK(more > base);
    cJSON *blocks = cJSON_CreateArray();
    cJSON_AddItemToArray(blocks, text_block("Then run the tests."));
    cJSON_AddItemToArray(msgs, message("assistant", blocks));
    long more2 = est_json(j);
    CHECK(more2 > more);
    /* Longer text in the same block costs more. */
    cJSON_SetValuestring(cJSON_GetObjectItem(cJSON_GetArrayItem(blocks, 0), "text"),
                         "Then run the tests, all of them, and report every failure.");
    CHECK(est_json(j) > more2);
    fprintf(stderr, "  b_tool_roundtrip/02: %ld, +1 message %ld, +2 messages %ld\n", base, more,
            more2);
    cJSON_Delete(j);
    free(raw);
}

static long est_blocks(cJSON *blocks) {
    cJSON *o = cJSON_CreateObject();
    cJSON *msgs = cJSON_AddArrayToObject(o, "messages");
    cJSON_AddItemToArray(msgs, message("user", blocks));
    long n = est_json(o);
    cJSON_Delete(o);
    return n;
}

static cJSON *media_block(const char *type, size_t data_len) {
    cJSON *b = cJSON_CreateObject(), *src;
    char *data = malloc(data_len + 1);
    for (size_t i = 0; i < data_len; i++)
        data[i] = "ABCDEFGHabcdefgh0123456789+/"[i % 28];
    data[data_len] = '\0';
    cJSON_AddStringToObject(b, "type", type);
    src = cJSON_AddObjectToObject(b, "source");
    cJSON_AddStringToObject(src, "type", "base64");
    cJSON_AddStringToObject(src, "media_type",
                            strcmp(type, "image") ? "application/pdf" : "image/png");
    cJSON_AddStringToObject(src, "data", data);
    cJSON_AddItemToObject(b, "cache_control", cJSON_Parse("{\"type\":\"ephemeral\"}"));
    free(data);
    return b;
}

static void test_images_and_documents(void) {
    cJSON *none = cJSON_CreateArray();
    cJSON_AddItemToArray(none, text_block("what is this?"));
    long base = est_blocks(none);

    long img[2], doc[2];
    size_t sizes[2] = {20000, 400000};
    for (int i = 0; i < 2; i++) {
        cJSON *b = cJSON_CreateArray();
        cJSON_AddItemToArray(b, media_block("image", sizes[i]));
        cJSON_AddItemToArray(b, text_block("what is this?"));
        img[i] = est_blocks(b);
        b = cJSON_CreateArray();
        cJSON_AddItemToArray(b, media_block("document", sizes[i]));
        cJSON_AddItemToArray(b, text_block("what is this?"));
        doc[i] = est_blocks(b);
    }
    fprintf(stderr, "  text only %ld, +image %ld / %ld, +document %ld / %ld\n", base, img[0],
            img[1], doc[0], doc[1]);
    /* The fixed cost plus one block overhead, whatever the base64 size. */
    CHECK_EQ_INT(img[0], img[1]);
    CHECK_EQ_INT(doc[0], doc[1]);
    CHECK_EQ_INT(img[0] - base, 1600 + 3);
    CHECK_EQ_INT(doc[0] - base, 3000 + 3);

    /* An image inside a tool_result counts the same. */
    cJSON *tr = cJSON_CreateObject(), *inner = cJSON_CreateArray(), *blocks = cJSON_CreateArray();
    cJSON_AddStringToObject(tr, "type", "tool_result");
    cJSON_AddStringToObject(tr, "tool_use_id", "toolu_01");
    cJSON_AddItemToArray(inner, media_block("image", 30000));
    cJSON_AddItemToObject(tr, "content", inner);
    cJSON_AddItemToArray(blocks, tr);
    long with_tr = est_blocks(blocks);
    CHECK(with_tr >= 1600 + 6 && with_tr <= 1600 + 6 + 12);
}

static void test_what_does_not_count(void) {
    const char *base = "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":["
                       "{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"\"}]}]}";
    const char *more = "{\"model\":\"claude-opus-4-1-20250805\",\"max_tokens\":32000,"
                       "\"metadata\":{\"user_id\":\"a long identifier with many words in it\"},"
                       "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":31999},"
                       "\"messages\":[{\"role\":\"assistant\",\"content\":["
                       "{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":"
                       "\"EqQBCkYIBxgCKkBsignaturesignaturesignaturesignature==\","
                       "\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}}]}],"
                       "\"context_management\":{\"edits\":[{\"type\":\"clear_thinking\"}]}}";
    CHECK_EQ_INT(est(base), est(more));
    CHECK_EQ_INT(est(base), 3 + 3 + 1);
    /* redacted_thinking data is not counted; the block overhead is. */
    CHECK_EQ_INT(est("{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
                     "\"redacted_thinking\",\"data\":\"AAAA BBBB CCCC DDDD EEEE\"}]}]}"),
                 3 + 3);
}

static void test_what_counts(void) {
    /* tool_use: name plus the JSON text of the input. */
    long tu = est("{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
                  "\"id\":\"toolu_01ABC\",\"name\":\"Bash\",\"input\":{\"command\":\"ls\"}}]}]}");
    long tu_big = est("{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
                      "\"tool_use\",\"id\":\"toolu_01ABC\",\"name\":\"Bash\",\"input\":"
                      "{\"command\":\"ls -la /usr/share/doc | head -40\"}}]}]}");
    CHECK(tu > 3 + 3 + 1 + 4);
    CHECK(tu_big > tu);
    /* tool_result: string or nested blocks. */
    long tr_s = est("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
                    "\"tool_use_id\":\"t\",\"content\":\"the cat sat\"}]}]}");
    long tr_b = est("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
                    "\"tool_use_id\":\"t\",\"content\":[{\"type\":\"text\",\"text\":"
                    "\"the cat sat\"}]}]}]}");
    CHECK_EQ_INT(tr_s, 3 + 3 + 3);
    CHECK_EQ_INT(tr_b, 3 + 3 + 3 + 3);
    /* Message content as a plain string; system as blocks. */
    CHECK_EQ_INT(est("{\"messages\":[{\"role\":\"user\",\"content\":\"the cat sat\"}]}"), 3 + 3);
    CHECK_EQ_INT(est("{\"system\":[{\"type\":\"text\",\"text\":\"the cat sat\","
                     "\"cache_control\":{\"type\":\"ephemeral\"}}]}"),
                 3 + 3);
    /* Tools: name, description and the schema JSON text. */
    long t1 = est("{\"tools\":[{\"name\":\"Read\",\"description\":\"Reads a file\","
                  "\"input_schema\":{\"type\":\"object\"}}]}");
    long t2 = est("{\"tools\":[{\"name\":\"Read\",\"description\":\"Reads a file\","
                  "\"input_schema\":{\"type\":\"object\",\"properties\":{\"path\":"
                  "{\"type\":\"string\"}}}}]}");
    CHECK(t1 > 3 + 1 + 3);
    CHECK(t2 > t1);
    /* Unknown members of a block or tool are skipped, whatever they hold. */
    CHECK_EQ_INT(est("{\"tools\":[{\"name\":\"Read\",\"x\":[\"lots of words here\"]}]}"), 3 + 1);
}

static void test_invalid(void) {
    static const char *bad[] = {"",
                                "[]",
                                "\"x\"",
                                "42",
                                "null",
                                "{",
                                "{\"messages\":[}",
                                "{\"system\":\"a\"} x",
                                "{\"messages\":[{\"content\":\"\x01\"}]}",
                                "{\"tools\":[{\"name\":\"\xff\"}]}",
                                "{\"a\":1,}",
                                "   "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_EQ_INT(est(bad[i]), -1);
    CHECK_EQ_INT(cc_tokens_estimate(NULL, 0), -1);
    CHECK_EQ_INT(est("{}"), 0);
    CHECK_EQ_INT(est(" {\"model\":\"x\"} "), 0);
    /* Too deep: 512 levels is the limit everywhere. */
    cc_buf_t b = CC_BUF_INIT;
    cc_buf_puts(&b, "{\"messages\":");
    for (int i = 0; i < 600; i++)
        cc_buf_puts(&b, "[");
    for (int i = 0; i < 600; i++)
        cc_buf_puts(&b, "]");
    cc_buf_puts(&b, "}");
    CHECK_EQ_INT(cc_tokens_estimate(b.data, b.len), -1);
    cc_buf_free(&b);
}

/* The bound holds on shapes that pack the most tokens into the fewest bytes. */
static void test_upper_bound(void) {
    static const char *dense[] = {
        "{\"messages\":[{},{},{},{}]}",
        "{\"messages\":[{\"content\":[{},{},{}]},{\"content\":[{}]}]}",
        "{\"tools\":[{},{},{}]}",
        "{\"system\":[{},{}]}",
        "{\"messages\":[{\"content\":[{\"type\":\"image\",\"source\":{}}]}]}",
        "{\"messages\":[{\"content\":[{\"type\":\"document\",\"source\":{\"a\":1}}]}]}",
        "{\"system\":\"a b c d e f 1 2 3 . , ; : ! ? \\n \\u4e2d \\ud83d\\ude00\"}",
        "{\"system\":\"\xe4\xb8\xad\xe6\x96\x87\xf0\x9f\x98\x80\xc3\xa9\xc2\xa9\"}",
        "{\"messages\":[{\"content\":[{\"content\":[{\"content\":[{}]}]}]}]}",
    };
    for (size_t i = 0; i < sizeof dense / sizeof *dense; i++) {
        long n = est(dense[i]), ub = cc_tokens_upper_bound(dense[i], strlen(dense[i]));
        if (n > ub) fprintf(stderr, "  case %zu: %ld > %ld\n", i, n, ub);
        CHECK(n >= 0);
        CHECK(n <= ub);
    }
    CHECK(cc_tokens_upper_bound("", 0) >= 0);
}

/* CPU time of this process: steadier than wall time on a busy machine. */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_speed(void) {
    size_t len = 0;
    char *body = read_file(FIXTURE("a_say_hi/01-messages.body.json"), &len);
    CHECK(body != NULL);
    if (!body) return;
    int iters = 2000;
    long n = 0;
    double t0 = now_s();
    for (int i = 0; i < iters; i++)
        n += cc_tokens_estimate(body, len);
    double t1 = now_s();
    fprintf(stderr, "  estimate of %zu-byte body: %.1f us (%ld tokens)\n", len,
            (t1 - t0) / iters * 1e6, n / iters);

    /* About 2 MiB: the fixture's messages repeated. */
    cc_json_member_t msgs;
    cc_buf_t big = CC_BUF_INIT;
    CHECK_EQ_INT(cc_json_find_member(body, len, "messages", &msgs), 0);
    cc_buf_append(&big, body, msgs.value.start + 1);
    while (big.len < 2 * 1024 * 1024) {
        cc_buf_append(&big, body + msgs.value.start + 1, msgs.value.len - 2);
        cc_buf_puts(&big, ",");
    }
    big.len--;
    cc_buf_append(&big, body + msgs.value.start + msgs.value.len - 1,
                  len - msgs.value.start - msgs.value.len + 1);
    iters = 20;
    t0 = now_s();
    for (int i = 0; i < iters; i++)
        n = cc_tokens_estimate(big.data, big.len);
    t1 = now_s();
    fprintf(stderr, "  estimate of %.2f MiB body: %.2f ms (%ld tokens)\n",
            (double)big.len / 1048576.0, (t1 - t0) / iters * 1e3, n);
    CHECK(n > 0 && n <= cc_tokens_upper_bound(big.data, big.len));
    cc_buf_free(&big);
    free(body);
}

int main(void) {
    CC_RUN(test_fixture_totals);
    CC_RUN(test_calibration);
    CC_RUN(test_text_rules);
    CC_RUN(test_monotonic);
    CC_RUN(test_images_and_documents);
    CC_RUN(test_what_does_not_count);
    CC_RUN(test_what_counts);
    CC_RUN(test_invalid);
    CC_RUN(test_upper_bound);
    CC_RUN(test_speed);
    return CC_DONE();
}
