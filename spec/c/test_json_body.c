/* test_json_body.c: the body scanner and editor (json_body.h): validation, member lookup with
 * escaped keys and nesting, string decoding, edits at every position, byte identity outside the
 * edited spans on the real Claude Code bodies, and a randomized edit property test. */
#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "json/json_body.h"

/* --- helpers --- */

static int fixture_bodies(glob_t *g) {
    return glob(CC_FIXTURES_DIR "/claude-code/*/*.body.json", 0, NULL, g);
}

static int valid(const char *s) {
    return cc_json_validate(s, strlen(s), NULL) == 0;
}

/* The error offset of an invalid text, or -1 when it validates. */
static long err_at(const char *s) {
    size_t off = 0;
    if (cc_json_validate(s, strlen(s), &off) == 0) return -1;
    return (long)off;
}

static int find(const char *body, const char *key, cc_json_member_t *m) {
    return cc_json_find_member(body, strlen(body), key, m);
}

/* The value text of `key` in body, in a static buffer ("<absent>" or "<error>" otherwise). */
static const char *value_of(const char *body, size_t len, const char *key) {
    static char buf[4096];
    cc_json_member_t m;
    int rc = cc_json_find_member(body, len, key, &m);
    if (rc == -1) return "<absent>";
    if (rc != 0 || m.value.len >= sizeof buf) return "<error>";
    memcpy(buf, body + m.value.start, m.value.len);
    buf[m.value.len] = '\0';
    return buf;
}

/* Applies edits to a NUL-terminated body; returns the rc and the text in *out. */
static int edit(const char *body, const cc_json_edit_t *edits, size_t n, cc_buf_t *out) {
    cc_buf_reset(out);
    return cc_json_apply_edits(body, strlen(body), edits, n, out);
}

#define SET(k, v)                                                                                  \
    { (k), (v), sizeof(v) - 1 }
#define DEL(k)                                                                                     \
    { (k), NULL, 0 }

/* --- validation --- */

static void test_validate_accepts(void) {
    static const char *ok[] = {
        "{}",
        "[]",
        " { } ",
        "\t\r\n[ ]\n",
        "0",
        "-0",
        "1.5e+10",
        "-12.25E-3",
        "1e5",
        "true",
        "false",
        "null",
        "\"\"",
        "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"",
        "\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"",
        "\"\\ud800\"",
        "{\"a\":[1,{\"b\":null},\"}\"],\"c\":{}}",
        "[[],[[]],{\"\":[]}]",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        if (!valid(ok[i])) fprintf(stderr, "  rejected: %s\n", ok[i]);
        CHECK(valid(ok[i]));
    }
}

static void test_validate_rejects(void) {
    /* Each invalid text with the offset of its first bad byte. */
    static const struct {
        const char *text;
        long at;
    } bad[] = {
        {"", 0},
        {"   ", 3},
        {"{", 1},
        {"{\"a\"}", 4},
        {"{\"a\":}", 5},
        {"{\"a\":1,}", 7},
        {"[1,]", 3},
        {"[1 2]", 3},
        {"{a:1}", 1},
        {"01", 1},
        {"-", 1},
        {"1.", 2},
        {"1e", 2},
        {"+1", 0},
        {".5", 0},
        {"tru", 3},
        {"nul", 3},
        {"truex", 4},
        {"{} {}", 3},
        {"\"abc", 4},
        {"\"a\nb\"", 2},
        {"\"\\x\"", 2},
        {"\"\\u12g4\"", 5},
        {"\"\\u12\"", 5},
        {"\"\xc0\x80\"", 1},
        {"\"\xed\xa0\x80\"", 1},
        {"\"\xe4\xb8\"", 1},
        {"\"\xff\"", 1},
        {"[}", 1},
        {"{]", 1},
        {"[1}", 2},
        {"\"\\", 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        long at = err_at(bad[i].text);
        if (at != bad[i].at) fprintf(stderr, "  case %zu: error at %ld\n", i, at);
        CHECK_EQ_INT(at, bad[i].at);
    }
    CHECK_EQ_INT(cc_json_validate(NULL, 0, NULL), -1);
}

static void test_validate_depth(void) {
    char deep[2 * 520 + 1];
    for (int n = 511; n <= 513; n++) {
        memset(deep, '[', (size_t)n);
        memset(deep + n, ']', (size_t)n);
        deep[2 * n] = '\0';
        CHECK_EQ_INT(valid(deep), n <= 512);
    }
    /* The top-level object counts as one level for find and edits too. */
    char body[2 * 520 + 16];
    for (int n = 511; n <= 512; n++) {
        int len = snprintf(body, sizeof body, "{\"k\":");
        memset(body + len, '[', (size_t)n);
        memset(body + len + n, ']', (size_t)n);
        strcpy(body + len + 2 * n, "}");
        CHECK_EQ_INT(find(body, "k", NULL), n <= 511 ? 0 : -2);
    }
}

/* --- finding members --- */

static void test_find_basic(void) {
    const char *body = " {\"model\" : \"claude\" ,\"n\":12,\"x\":[1,2]} \n";
    cc_json_member_t m;
    CHECK_EQ_INT(find(body, "model", &m), 0);
    CHECK_EQ_INT(m.key.start, 2);
    CHECK_EQ_INT(m.key.len, 7);
    CHECK_EQ_INT(m.value.start, 12);
    CHECK_EQ_INT(m.value.len, 8);
    CHECK_EQ_STR(value_of(body, strlen(body), "n"), "12");
    CHECK_EQ_STR(value_of(body, strlen(body), "x"), "[1,2]");
    CHECK_EQ_INT(find(body, "missing", &m), -1);
    CHECK_EQ_INT(find(body, "mode", &m), -1);
    CHECK_EQ_INT(find(body, "", &m), -1);
    CHECK_EQ_INT(find("{\"\":5}", "", &m), 0);
    CHECK_EQ_INT(find("{}", "a", &m), -1);
}

static void test_find_escaped_keys(void) {
    const char *body = "{\"mod\\u0065l\":\"a\",\"caf\\u00e9\":1,\"\\\"q\\\"\":2,\"e\\/\":3,"
                       "\"\\ud83d\\ude00\":4,\"a\\nb\":5}";
    size_t len = strlen(body);
    CHECK_EQ_STR(value_of(body, len, "model"), "\"a\"");
    CHECK_EQ_STR(value_of(body, len, "caf\xc3\xa9"), "1");
    CHECK_EQ_STR(value_of(body, len, "\"q\""), "2");
    CHECK_EQ_STR(value_of(body, len, "e/"), "3");
    CHECK_EQ_STR(value_of(body, len, "\xf0\x9f\x98\x80"), "4");
    CHECK_EQ_STR(value_of(body, len, "a\nb"), "5");
    CHECK_EQ_STR(value_of(body, len, "mod\\u0065l"), "<absent>");
    CHECK_EQ_STR(value_of(body, len, "caf"), "<absent>");
}

static void test_find_skips_nesting_and_strings(void) {
    /* Decoys: "model" as a nested key, inside strings, and after braces in strings. */
    const char *body = "{\"a\":{\"model\":\"x\",\"b\":[\"model\",{\"model\":1}]},"
                       "\"s\":\"}{\\\"model\\\":1,[\\\\\",\"t\":\"]]]}}}\","
                       "\"model\":\"real\",\"z\":[[[{\"model\":[]}]]]}";
    cc_json_member_t m;
    CHECK_EQ_STR(value_of(body, strlen(body), "model"), "\"real\"");
    CHECK_EQ_STR(value_of(body, strlen(body), "t"), "\"]]]}}}\"");
    CHECK_EQ_INT(find(body, "b", &m), -1);
}

static void test_find_duplicates_last_wins(void) {
    const char *body =
        "{\"model\":\"first\",\"x\":1,\"mod\\u0065l\":\"second\",\"model\":\"third\"}";
    CHECK_EQ_STR(value_of(body, strlen(body), "model"), "\"third\"");
    const char *body2 = "{\"model\":\"first\",\"model\":\"second\",\"y\":0}";
    CHECK_EQ_STR(value_of(body2, strlen(body2), "model"), "\"second\"");
}

static void test_find_not_object(void) {
    static const char *bad[] = {
        "",
        "[]",
        "\"model\"",
        "12",
        "null",
        "{\"model\":\"x\",",
        "{\"model\":\"x\"} junk",
        "{\"model\":\"x\",\"y\":[}",
        "{\"model\":\"x\"}}",
        "{\"model\":\"x\" \"y\":1}",
        "{\"model\":\"x\",\"s\":\"\x01\"}",
        "{\"model\":tru}",
        "  ",
    };
    cc_json_member_t m;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(find(bad[i], "model", &m), -2);
        CHECK_EQ_INT(find(bad[i], "absent", &m), -2);
    }
    CHECK_EQ_INT(cc_json_find_member(NULL, 0, "model", &m), -2);
    /* The length is respected: the object ends where len says. */
    CHECK_EQ_INT(cc_json_find_member("{\"a\":1}xyz", 7, "a", &m), 0);
    CHECK_EQ_INT(cc_json_find_member("{\"a\":1}", 6, "a", &m), -2);
}

typedef struct {
    char keys[8][16];
    int n;
    int stop_at;
} each_acc_t;

static int each_cb(const char *body, const cc_json_member_t *m, void *arg) {
    each_acc_t *acc = arg;
    if (acc->n < 8 && m->key.len < 16) {
        memcpy(acc->keys[acc->n], body + m->key.start, m->key.len);
        acc->keys[acc->n][m->key.len] = '\0';
    }
    acc->n++;
    return acc->n == acc->stop_at ? 42 : 0;
}

static void test_each_member(void) {
    const char *body = "{\"a\":1,\"b\":{\"c\":2},\"a\":[3]}";
    each_acc_t acc = {.stop_at = 0};
    CHECK_EQ_INT(cc_json_each_member(body, strlen(body), each_cb, &acc), 0);
    CHECK_EQ_INT(acc.n, 3);
    CHECK_EQ_STR(acc.keys[0], "\"a\"");
    CHECK_EQ_STR(acc.keys[1], "\"b\"");
    CHECK_EQ_STR(acc.keys[2], "\"a\"");
    each_acc_t stop = {.stop_at = 2};
    CHECK_EQ_INT(cc_json_each_member(body, strlen(body), each_cb, &stop), 42);
    CHECK_EQ_INT(stop.n, 2);
    each_acc_t none = {.stop_at = 0};
    CHECK_EQ_INT(cc_json_each_member("[1]", 3, each_cb, &none), -2);
    CHECK_EQ_INT(cc_json_each_member(" {} ", 4, each_cb, &none), 0);
    CHECK_EQ_INT(none.n, 0);
    CHECK_EQ_INT(cc_json_each_member("{\"a\":1,", 7, each_cb, &none), -2);
    CHECK_EQ_INT(none.n, 1); /* the member before the break was reported */
}

/* --- decoding --- */

static const char *decode(const char *lit, cc_buf_t *out) {
    cc_buf_reset(out);
    if (cc_json_string_decode(lit, strlen(lit), out) != 0) return "<invalid>";
    return out->data ? out->data : "";
}

static void test_string_decode(void) {
    cc_buf_t b = CC_BUF_INIT;
    /* A fresh buffer holds a terminated empty string after decoding "". */
    CHECK_EQ_INT(cc_json_string_decode("\"\"", 2, &b), 0);
    CHECK(b.data != NULL && b.len == 0 && b.data[0] == '\0');
    cc_buf_free(&b);
    CHECK_EQ_STR(decode("\"\"", &b), "");
    CHECK_EQ_STR(decode("\"plain\"", &b), "plain");
    CHECK_EQ_STR(decode("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", &b), "a\"b\\c/d\b\f\n\r\t");
    CHECK_EQ_STR(decode("\"\\u0041\\u00e9\\u4e2d\\uFFFF\"", &b),
                 "A\xc3\xa9\xe4\xb8\xad\xef\xbf\xbf");
    CHECK_EQ_STR(decode("\"\\ud83d\\ude00!\"", &b), "\xf0\x9f\x98\x80!");
    CHECK_EQ_STR(decode("\"\\uDBFF\\uDFFF\"", &b), "\xf4\x8f\xbf\xbf");
    /* Lone surrogates become U+FFFD; the character after a lone high one survives. */
    CHECK_EQ_STR(decode("\"\\ud800\"", &b), "\xef\xbf\xbd");
    CHECK_EQ_STR(decode("\"\\udc00x\"", &b), "\xef\xbf\xbdx");
    CHECK_EQ_STR(decode("\"\\ud800\\u0041\"", &b), "\xef\xbf\xbd"
                                                   "A");
    CHECK_EQ_STR(decode("\"\\ud800\\ud800\\udc00\"", &b), "\xef\xbf\xbd\xf0\x90\x80\x80");
    CHECK_EQ_STR(decode("\"raw \xe4\xb8\xad\"", &b), "raw \xe4\xb8\xad");
    /* An escaped NUL is kept: the length counts it. */
    cc_buf_reset(&b);
    CHECK_EQ_INT(cc_json_string_decode("\"a\\u0000b\"", 10, &b), 0);
    CHECK_EQ_INT(b.len, 3);
    CHECK(b.len == 3 && memcmp(b.data, "a\0b", 3) == 0);
    static const char *bad[] = {"",          "\"",       "abc", "\"abc",    "\"a\"b\"", "\"\\x\"",
                                "\"\\u12\"", "\"a\nb\"", "'a'", "\"\xc3\"", "\"a\" "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_EQ_STR(decode(bad[i], &b), "<invalid>");
    /* Decoding appends. */
    cc_buf_reset(&b);
    cc_buf_puts(&b, "pre:");
    CHECK_EQ_INT(cc_json_string_decode("\"x\"", 3, &b), 0);
    CHECK_EQ_STR(b.data, "pre:x");
    CHECK_EQ_INT(cc_json_string_decode("\"x", 2, &b), -1);
    CHECK_EQ_STR(b.data, "pre:x");
    cc_buf_free(&b);
}

/* --- edits --- */

static void check_edit(const char *body, const cc_json_edit_t *edits, size_t n, const char *want) {
    cc_buf_t out = CC_BUF_INIT;
    int rc = edit(body, edits, n, &out);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        CHECK_EQ_STR(out.data, want);
        CHECK(cc_json_validate(out.data, out.len, NULL) == 0);
    }
    cc_buf_free(&out);
}

static void test_edit_replace(void) {
    cc_json_edit_t e[] = {SET("a", "[true]")};
    check_edit("{\"a\":1,\"b\":2}", e, 1, "{\"a\":[true],\"b\":2}");
    check_edit("{ \"a\" : 1 , \"b\":2 }", e, 1, "{ \"a\" : [true] , \"b\":2 }");
    check_edit("{\"b\":2,\"a\":{\"x\":1}}", e, 1, "{\"b\":2,\"a\":[true]}");
    check_edit("\n{\n  \"a\": \"old\"\n}\n", e, 1, "\n{\n  \"a\": [true]\n}\n");
    cc_json_edit_t esc[] = {SET("model", "\"new\"")};
    check_edit("{\"mod\\u0065l\":\"old\"}", esc, 1, "{\"mod\\u0065l\":\"new\"}");
}

static void test_edit_remove_positions(void) {
    cc_json_edit_t a[] = {DEL("a")}, b[] = {DEL("b")}, c[] = {DEL("c")};
    const char *abc = "{\"a\":1,\"b\":2,\"c\":3}";
    check_edit(abc, a, 1, "{\"b\":2,\"c\":3}");
    check_edit(abc, b, 1, "{\"a\":1,\"c\":3}");
    check_edit(abc, c, 1, "{\"a\":1,\"b\":2}");
    check_edit("{\"a\":1}", a, 1, "{}");
    check_edit("{ \"a\" : 1 }", a, 1, "{  }");
    check_edit("{\"z\":0}", a, 1, "{\"z\":0}");
    /* Pretty-printed: the lines go, the layout of the rest stays. */
    const char *pretty = "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3\n}";
    check_edit(pretty, a, 1, "{\n  \"b\": 2,\n  \"c\": 3\n}");
    check_edit(pretty, b, 1, "{\n  \"a\": 1,\n  \"c\": 3\n}");
    check_edit(pretty, c, 1, "{\n  \"a\": 1,\n  \"b\": 2\n}");
    /* Several removals: adjacent, first two, last two, all. */
    const char *abcd = "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}";
    cc_json_edit_t bc[] = {DEL("b"), DEL("c")}, ab[] = {DEL("a"), DEL("b")},
                   cd[] = {DEL("c"), DEL("d")}, ad[] = {DEL("a"), DEL("d")},
                   all[] = {DEL("d"), DEL("b"), DEL("a"), DEL("c")};
    check_edit(abcd, bc, 2, "{\"a\":1,\"d\":4}");
    check_edit(abcd, ab, 2, "{\"c\":3,\"d\":4}");
    check_edit(abcd, cd, 2, "{\"a\":1,\"b\":2}");
    check_edit(abcd, ad, 2, "{\"b\":2,\"c\":3}");
    check_edit(abcd, all, 4, "{}");
}

static void test_edit_add(void) {
    cc_json_edit_t x[] = {SET("x", "1")};
    check_edit("{}", x, 1, "{\"x\":1}");
    check_edit(" { } ", x, 1, " { \"x\":1} ");
    check_edit("{\"a\":0}", x, 1, "{\"a\":0,\"x\":1}");
    check_edit("{\n  \"a\": 0\n}", x, 1, "{\n  \"a\": 0,\"x\":1\n}");
    cc_json_edit_t xy[] = {SET("x", "1"), SET("y", "{\"k\":[]}")};
    check_edit("{}", xy, 2, "{\"x\":1,\"y\":{\"k\":[]}}");
    check_edit("{\"a\":0}", xy, 2, "{\"a\":0,\"x\":1,\"y\":{\"k\":[]}}");
    /* Adding after removals: the new member takes the place of the removed tail. */
    cc_json_edit_t rm_add[] = {DEL("b"), SET("x", "1")};
    check_edit("{\"a\":0,\"b\":2}", rm_add, 2, "{\"a\":0,\"x\":1}");
    cc_json_edit_t all_add[] = {DEL("a"), DEL("b"), SET("x", "1")};
    check_edit("{ \"a\":0, \"b\":2 }", all_add, 3, "{ \"x\":1 }");
    /* A key that needs escaping is written escaped. */
    cc_json_edit_t weird[] = {SET("we\"ird\n\xc3\xa9", "true")};
    check_edit("{}", weird, 1, "{\"we\\\"ird\\n\xc3\xa9\":true}");
    /* Removing an absent key changes nothing. */
    cc_json_edit_t none[] = {DEL("nope")};
    check_edit("{\"a\":0}", none, 1, "{\"a\":0}");
    check_edit(" {\"a\" :0} ", NULL, 0, " {\"a\" :0} ");
}

static void test_edit_duplicates(void) {
    /* The last occurrence is replaced, the earlier ones go. */
    cc_json_edit_t m[] = {SET("m", "\"v\"")};
    check_edit("{\"m\":1,\"a\":2,\"m\":3}", m, 1, "{\"a\":2,\"m\":\"v\"}");
    check_edit("{\"m\":1,\"m\":2,\"a\":3}", m, 1, "{\"m\":\"v\",\"a\":3}");
    check_edit("{\"a\":0,\"m\":1,\"m\\u0020\":5,\"\\u006d\":2}", m, 1,
               "{\"a\":0,\"m\\u0020\":5,\"\\u006d\":\"v\"}");
    cc_json_edit_t del[] = {DEL("m")};
    check_edit("{\"m\":1,\"a\":2,\"m\":3}", del, 1, "{\"a\":2}");
    check_edit("{\"m\":1,\"m\":3}", del, 1, "{}");
    /* Two edits of one key: the last edit wins. */
    cc_json_edit_t twice[] = {SET("a", "1"), SET("a", "2")};
    check_edit("{\"a\":0}", twice, 2, "{\"a\":2}");
    check_edit("{}", twice, 2, "{\"a\":2}");
    cc_json_edit_t set_then_del[] = {SET("a", "1"), DEL("a")};
    check_edit("{\"a\":0,\"b\":1}", set_then_del, 2, "{\"b\":1}");
    check_edit("{}", set_then_del, 2, "{}");
}

static void test_edit_errors(void) {
    cc_buf_t out = CC_BUF_INIT;
    cc_json_edit_t ok[] = {SET("a", "1")};
    cc_buf_puts(&out, "kept");
    CHECK_EQ_INT(cc_json_apply_edits("[1]", 3, ok, 1, &out), -2);
    CHECK_EQ_INT(cc_json_apply_edits("{\"a\":1", 6, ok, 1, &out), -2);
    CHECK_EQ_INT(cc_json_apply_edits("{\"a\":1}x", 8, ok, 1, &out), -2);
    CHECK_EQ_INT(cc_json_apply_edits(NULL, 0, ok, 1, &out), -2);
    cc_json_edit_t bad_value[] = {SET("a", "{oops}")};
    CHECK_EQ_INT(cc_json_apply_edits("{}", 2, bad_value, 1, &out), -1);
    cc_json_edit_t empty_value[] = {{"a", "", 0}};
    CHECK_EQ_INT(cc_json_apply_edits("{}", 2, empty_value, 1, &out), -1);
    cc_json_edit_t null_key[] = {{NULL, "1", 1}};
    CHECK_EQ_INT(cc_json_apply_edits("{}", 2, null_key, 1, &out), -1);
    cc_json_edit_t bad_key[] = {SET("\xff", "1")};
    CHECK_EQ_INT(cc_json_apply_edits("{}", 2, bad_key, 1, &out), -1);
    cc_json_edit_t many[65];
    for (int i = 0; i < 65; i++)
        many[i] = (cc_json_edit_t)SET("k", "1");
    CHECK_EQ_INT(cc_json_apply_edits("{}", 2, many, 65, &out), -1);
    CHECK_EQ_INT(cc_json_apply_edits("{}", 2, many, 64, &out), 0);
    /* Errors leave the buffer as it was; success appends. */
    CHECK_EQ_STR(out.data, "kept{\"k\":1}");
    /* A value may carry white space around it; it is copied as given. */
    cc_json_edit_t spaced[] = {SET("a", " 7 ")};
    check_edit("{\"a\":1}", spaced, 1, "{\"a\": 7 }");
    cc_buf_free(&out);
}

/* --- the real bodies --- */

/* Collects the members of a body (up to 64). */
typedef struct {
    cc_json_member_t m[64];
    int n;
} members_t;

static int collect_cb(const char *body, const cc_json_member_t *m, void *arg) {
    members_t *ms = arg;
    (void)body;
    if (ms->n < 64) ms->m[ms->n++] = *m;
    return 0;
}

static void check_spliced(const cc_buf_t *out, const char *a, size_t a_len, const char *mid,
                          const char *b, size_t b_len) {
    size_t mid_len = strlen(mid);
    CHECK_EQ_INT(out->len, a_len + mid_len + b_len);
    if (out->len != a_len + mid_len + b_len) return;
    CHECK(memcmp(out->data, a, a_len) == 0);
    CHECK(memcmp(out->data + a_len, mid, mid_len) == 0);
    CHECK(memcmp(out->data + a_len + mid_len, b, b_len) == 0);
}

static void test_fixture_edits(void) {
    glob_t g;
    CHECK_EQ_INT(fixture_bodies(&g), 0);
    CHECK(g.gl_pathc >= 10);
    for (size_t f = 0; f < g.gl_pathc; f++) {
        size_t len = 0;
        char *body = read_file(g.gl_pathv[f], &len);
        cc_buf_t out = CC_BUF_INIT;
        members_t ms = {.n = 0};
        cc_json_member_t model;
        CHECK(body != NULL);
        if (!body) continue;
        CHECK_EQ_INT(cc_json_validate(body, len, NULL), 0);
        CHECK_EQ_INT(cc_json_each_member(body, len, collect_cb, &ms), 0);
        CHECK(ms.n >= 3);
        CHECK_EQ_INT(cc_json_find_member(body, len, "model", &model), 0);

        /* Replacing the model touches only its value bytes. */
        cc_json_edit_t set_model[] = {SET("model", "\"claude-haiku-4-5\"")};
        CHECK_EQ_INT(cc_json_apply_edits(body, len, set_model, 1, &out), 0);
        check_spliced(&out, body, model.value.start, "\"claude-haiku-4-5\"",
                      body + model.value.start + model.value.len,
                      len - model.value.start - model.value.len);
        CHECK_EQ_INT(cc_json_validate(out.data, out.len, NULL), 0);

        /* Removing each member: a middle one goes with the comma after it, the last one with
         * the comma before it. */
        for (int i = 0; i < ms.n; i++) {
            char key[64];
            const cc_json_member_t *m = &ms.m[i];
            if (m->key.len - 2 >= sizeof key) continue;
            memcpy(key, body + m->key.start + 1, m->key.len - 2);
            key[m->key.len - 2] = '\0';
            cc_json_edit_t del[] = {DEL(key)};
            cc_buf_reset(&out);
            CHECK_EQ_INT(cc_json_apply_edits(body, len, del, 1, &out), 0);
            if (i + 1 < ms.n) {
                size_t next = ms.m[i + 1].key.start;
                check_spliced(&out, body, m->key.start, "", body + next, len - next);
            } else {
                size_t prev_end = ms.m[i - 1].value.start + ms.m[i - 1].value.len;
                size_t end = m->value.start + m->value.len;
                check_spliced(&out, body, prev_end, "", body + end, len - end);
            }
            CHECK_EQ_INT(cc_json_validate(out.data, out.len, NULL), 0);
            CHECK_EQ_STR(value_of(out.data, out.len, key), "<absent>");
        }

        /* Adding a member puts it right after the last value. */
        const cc_json_member_t *last = &ms.m[ms.n - 1];
        size_t last_end = last->value.start + last->value.len;
        cc_json_edit_t add[] = {SET("ccproxy_added", "{\"a\":[1,2]}")};
        cc_buf_reset(&out);
        CHECK_EQ_INT(cc_json_apply_edits(body, len, add, 1, &out), 0);
        check_spliced(&out, body, last_end, ",\"ccproxy_added\":{\"a\":[1,2]}", body + last_end,
                      len - last_end);
        CHECK_EQ_STR(value_of(out.data, out.len, "ccproxy_added"), "{\"a\":[1,2]}");
        cc_buf_free(&out);
        free(body);
    }
    globfree(&g);
}

/* --- randomized edits: the output always validates and says what the edits asked --- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static void check_random_edits(const char *body, size_t len, int rounds) {
    static const char *values[] = {
        "1",      "\"x\"", "null", "[]", "{}", " {\"a\" : [1, \"}\"]} ", "\"\\u00e9\\\"\"",
        "-0.5e3", "true"};
    static const char *extra[] = {"new1", "new2", "we\"ird", "m\xc3\xa9"};
    members_t ms = {.n = 0};
    char keys[64][64];
    cc_buf_t out = CC_BUF_INIT, dec = CC_BUF_INIT;

    CHECK_EQ_INT(cc_json_each_member(body, len, collect_cb, &ms), 0);
    for (int i = 0; i < ms.n; i++) {
        cc_buf_reset(&dec);
        const cc_json_member_t *m = &ms.m[i];
        if (cc_json_string_decode(body + m->key.start, m->key.len, &dec) == 0 && dec.len < 64)
            memcpy(keys[i], dec.data, dec.len + 1);
        else
            strcpy(keys[i], "?");
    }
    for (int r = 0; r < rounds; r++) {
        cc_json_edit_t e[8];
        size_t n = 1 + rnd(6);
        for (size_t i = 0; i < n; i++) {
            if (ms.n && rnd(4) != 0)
                e[i].key = keys[rnd((uint32_t)ms.n)];
            else
                e[i].key = extra[rnd(4)];
            if (rnd(3) == 0) {
                e[i].value = NULL;
                e[i].value_len = 0;
            } else {
                e[i].value = values[rnd(sizeof values / sizeof *values)];
                e[i].value_len = strlen(e[i].value);
            }
        }
        cc_buf_reset(&out);
        int rc = cc_json_apply_edits(body, len, e, n, &out);
        CHECK_EQ_INT(rc, 0);
        if (rc != 0) continue;
        size_t at = 0;
        int ok = cc_json_validate(out.data, out.len, &at) == 0;
        if (!ok) fprintf(stderr, "  invalid output at %zu: %.80s\n", at, out.data);
        CHECK(ok);
        /* Each edited key now has its last edit's value (or is gone). */
        for (size_t i = 0; i < n; i++) {
            size_t j = n;
            while (j-- > 0)
                if (strcmp(e[j].key, e[i].key) == 0) break;
            char want[256];
            if (e[j].value) {
                /* A found value starts and ends at its first and last non-blank byte. */
                const char *v = e[j].value;
                size_t vl = e[j].value_len;
                while (vl && *v == ' ')
                    v++, vl--;
                while (vl && v[vl - 1] == ' ')
                    vl--;
                snprintf(want, sizeof want, "%.*s", (int)vl, v);
            } else
                snprintf(want, sizeof want, "<absent>");
            CHECK_EQ_STR(value_of(out.data, out.len, e[i].key), want);
        }
        /* Members not edited keep their value bytes. */
        for (int k = 0; k < ms.n; k++) {
            int edited = 0;
            for (size_t i = 0; i < n; i++)
                edited |= strcmp(keys[k], e[i].key) == 0;
            if (edited || strcmp(keys[k], "?") == 0) continue;
            char before[4096];
            snprintf(before, sizeof before, "%s", value_of(body, len, keys[k]));
            if (strlen(before) >= 4000 || strcmp(before, "<error>") == 0) continue;
            CHECK_EQ_STR(value_of(out.data, out.len, keys[k]), before);
        }
    }
    cc_buf_free(&out);
    cc_buf_free(&dec);
}

static void test_random_edits(void) {
    static const char *synthetic[] = {
        "{}",
        " { } ",
        "{\"a\":1}",
        "{\n\t\"a\" :\n 1 ,\n\t\"b\" : [ 2 ] ,\n\t\"a\" : { } \n}\n",
        "{\"new1\":0,\"x\":{\"new1\":1},\"new1\":\"\\\"}\",\"mod\\u0065l\":\"m\"}",
        "{ \"k1\" : 1 , \"k2\" : 2 , \"k3\" : 3 , \"k4\" : 4 , \"k5\" : 5 }",
    };
    for (size_t i = 0; i < sizeof synthetic / sizeof *synthetic; i++)
        check_random_edits(synthetic[i], strlen(synthetic[i]), 300);
    glob_t g;
    CHECK_EQ_INT(fixture_bodies(&g), 0);
    for (size_t f = 0; f < g.gl_pathc; f++) {
        size_t len = 0;
        char *body = read_file(g.gl_pathv[f], &len);
        if (!body) continue;
        check_random_edits(body, len, 40);
        free(body);
    }
    globfree(&g);
}

/* --- speed (printed, not asserted) --- */

/* CPU time of this process: steadier than wall time on a busy machine. */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_speed(void) {
    size_t flen = 0;
    char *fixture = read_file(CC_FIXTURES_DIR "/claude-code/b_thinking_parallel_tools/"
                                              "02-messages.body.json",
                              &flen);
    cc_json_member_t msgs, m;
    cc_buf_t big = CC_BUF_INIT, out = CC_BUF_INIT;
    CHECK(fixture != NULL);
    if (!fixture) return;
    CHECK_EQ_INT(cc_json_find_member(fixture, flen, "messages", &msgs), 0);
    /* model first, then about 2 MiB of messages, then "stream" last. */
    cc_buf_puts(&big, "{\"model\":\"claude-opus-4-1\",\"messages\":[");
    while (big.len < 2 * 1024 * 1024) {
        cc_buf_append(&big, fixture + msgs.value.start + 1, msgs.value.len - 2);
        cc_buf_puts(&big, ",");
    }
    big.data[--big.len] = '\0';
    cc_buf_puts(&big, "],\"max_tokens\":32000,\"stream\":true}");
    CHECK_EQ_INT(cc_json_validate(big.data, big.len, NULL), 0);

    int iters = 50;
    double t0 = now_s();
    for (int i = 0; i < iters; i++)
        CHECK_EQ_INT(cc_json_find_member(big.data, big.len, "stream", &m), 0);
    double t1 = now_s();
    double mbps = (double)big.len * iters / (t1 - t0) / 1e6;
    fprintf(stderr, "  find \"stream\" in %.2f MiB body: %.0f us, %.0f MB/s\n",
            (double)big.len / 1048576.0, (t1 - t0) / iters * 1e6, mbps);
    CHECK_EQ_STR(value_of(big.data, big.len, "stream"), "true");

    cc_json_edit_t e[] = {SET("model", "\"claude-haiku-4-5\"")};
    t0 = now_s();
    for (int i = 0; i < iters; i++) {
        cc_buf_reset(&out);
        CHECK_EQ_INT(cc_json_apply_edits(big.data, big.len, e, 1, &out), 0);
    }
    t1 = now_s();
    fprintf(stderr, "  set model in %.2f MiB body: %.0f us\n", (double)big.len / 1048576.0,
            (t1 - t0) / iters * 1e6);

    iters = 2000;
    t0 = now_s();
    for (int i = 0; i < iters; i++)
        CHECK_EQ_INT(cc_json_find_member(fixture, flen, "stream", &m), 0);
    t1 = now_s();
    fprintf(stderr, "  find \"stream\" in %zu-byte fixture: %.1f us\n", flen,
            (t1 - t0) / iters * 1e6);
    cc_buf_free(&big);
    cc_buf_free(&out);
    free(fixture);
}

int main(void) {
    CC_RUN(test_validate_accepts);
    CC_RUN(test_validate_rejects);
    CC_RUN(test_validate_depth);
    CC_RUN(test_find_basic);
    CC_RUN(test_find_escaped_keys);
    CC_RUN(test_find_skips_nesting_and_strings);
    CC_RUN(test_find_duplicates_last_wins);
    CC_RUN(test_find_not_object);
    CC_RUN(test_each_member);
    CC_RUN(test_string_decode);
    CC_RUN(test_edit_replace);
    CC_RUN(test_edit_remove_positions);
    CC_RUN(test_edit_add);
    CC_RUN(test_edit_duplicates);
    CC_RUN(test_edit_errors);
    CC_RUN(test_fixture_edits);
    CC_RUN(test_random_edits);
    CC_RUN(test_speed);
    return CC_DONE();
}
