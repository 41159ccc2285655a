/* test_json_view.c: views into validated JSON (members, iteration, strings compared and
 * decoded without copying, compaction). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json/json_body.h"
#include "json/json_view.h"

static cc_jv_t view(const char *s) {
    CHECK_EQ_INT(cc_json_validate(s, strlen(s), NULL), 0);
    return cc_jv(s, strlen(s));
}

static int same(cc_jv_t v, const char *raw) {
    return v.n == strlen(raw) && memcmp(v.p, raw, v.n) == 0;
}

static void test_members(void) {
    cc_jv_t o =
        view("  {\"a\": 1, \"b\" : [1, {\"x\": \"}]\"}], \"a\":\"last\", \"k\\u0065y\": true,"
             " \"s\": \"q\\\"}\" }  ");
    CHECK(cc_jv_is_object(o));
    CHECK(same(cc_jv_get(o, "a"), "\"last\""));             /* the last one wins */
    CHECK(same(cc_jv_get(o, "b"), "[1, {\"x\": \"}]\"}]")); /* brackets inside strings */
    CHECK(same(cc_jv_get(o, "key"), "true"));               /* escaped key */
    CHECK(same(cc_jv_get(o, "s"), "\"q\\\"}\""));           /* escaped quote */
    CHECK(!cc_jv_ok(cc_jv_get(o, "missing")));
    CHECK(!cc_jv_ok(cc_jv_get(cc_jv_get(o, "b"), "x"))); /* not an object */
    CHECK_EQ_INT(cc_jv_count(o), 5);

    const char *const keys[] = {"s", "a", "nope", "key"};
    cc_jv_t out[4];
    cc_jv_pick(o, keys, out, 4);
    CHECK(same(out[0], "\"q\\\"}\""));
    CHECK(same(out[1], "\"last\""));
    CHECK(!cc_jv_ok(out[2]));
    CHECK(same(out[3], "true"));
    cc_jv_pick(view("[1]"), keys, out, 4);
    CHECK(!cc_jv_ok(out[0]) && !cc_jv_ok(out[3]));
}

static void test_iteration(void) {
    cc_jv_t a = view("[ \"x\\\\\", -1.5e3 ,{\"k\":[[]]}, null,[\"]\"], \"\" ]");
    const char *want[] = {"\"x\\\\\"", "-1.5e3", "{\"k\":[[]]}", "null", "[\"]\"]", "\"\""};
    cc_jv_iter_t it;
    cc_jv_t v, k;
    int i = 0;
    cc_jv_iter(a, &it);
    while (cc_jv_next(&it, &k, &v)) {
        CHECK(i < 6 && same(v, want[i]));
        CHECK(!cc_jv_ok(k)); /* arrays have no keys */
        i++;
    }
    CHECK_EQ_INT(i, 6);
    CHECK(!cc_jv_next(&it, NULL, &v)); /* stays at the end */
    CHECK_EQ_INT(cc_jv_count(view("[]")), 0);
    CHECK_EQ_INT(cc_jv_count(view("{ }")), 0);
    CHECK_EQ_INT(cc_jv_count(view("\"[1,2]\"")), 0);
    cc_jv_t none = {NULL, 0};
    CHECK_EQ_INT(cc_jv_count(none), 0);

    cc_jv_t o = view("{\"a\":{\"b\":1},\"c\":\"d\"}");
    cc_jv_iter(o, &it);
    CHECK(cc_jv_next(&it, &k, &v) && same(k, "\"a\"") && same(v, "{\"b\":1}"));
    CHECK(cc_jv_next(&it, &k, &v) && same(k, "\"c\"") && same(v, "\"d\""));
    CHECK(!cc_jv_next(&it, &k, &v));
}

static void test_strings(void) {
    cc_jv_t s = view("\"x-anthropic-billing-header: cc_version=1\"");
    CHECK(cc_jv_prefix(s, "x-anthropic-billing-header:"));
    CHECK(!cc_jv_prefix(s, "x-anthropic-billing-header:  "));
    CHECK(!cc_jv_eq(s, "x-anthropic"));
    CHECK(cc_jv_eq(view("\"a\\nb\\\"c\\/\""), "a\nb\"c/"));
    CHECK(cc_jv_eq(view("\"\\u0041\\u00e9\""), "A\xC3\xA9")); /* \u: the slow path */
    CHECK(cc_jv_prefix(view("\"\\u0041BC\""), "AB"));
    CHECK(!cc_jv_eq(view("\"abc\""), "abcd"));
    CHECK(!cc_jv_eq(view("\"abcd\""), "abc"));
    CHECK(cc_jv_eq(view("\"\""), ""));
    CHECK(!cc_jv_eq(view("12"), "12")); /* not a string */
    CHECK(same(cc_jv_inner(view("\"in\\\"side\"")), "in\\\"side"));
    CHECK(!cc_jv_ok(cc_jv_inner(view("{}"))));

    CHECK(cc_jv_blank(view("\"\"")));
    CHECK(cc_jv_blank(view("\" \\n\\t\\r \\n\"")));
    CHECK(!cc_jv_blank(view("\" \\u0020 \"")));
    CHECK(!cc_jv_blank(view("\"  x \"")));
    CHECK(!cc_jv_blank(view("null")));

    cc_buf_t b = CC_BUF_INIT;
    CHECK_EQ_INT(cc_jv_decode(view("\"tab\\there \\ud83d\\ude00\""), &b), 0);
    CHECK_EQ_STR(b.data, "tab\there \xF0\x9F\x98\x80");
    CHECK_EQ_INT(cc_jv_decode(view("true"), &b), -1);
    cc_buf_free(&b);
    char *d = cc_jv_strdup(view("\"\""));
    CHECK_EQ_STR(d, "");
    free(d);
    CHECK(cc_jv_strdup(view("[]")) == NULL);
}

static void test_numbers_and_compact(void) {
    CHECK(cc_jv_number(view("128000"), 0) == 128000);
    CHECK(cc_jv_number(view("-0.25"), 0) == -0.25);
    CHECK(cc_jv_number(view("\"5\""), -1) == -1);
    CHECK(cc_jv_number(view("1e400"), 0) > 1e300);
    cc_buf_t b = CC_BUF_INIT;
    cc_jv_compact(view("{ \"a b\" : [ 1 ,\n\t2 ] , \"c\":\"x \\\" y\" }"), &b);
    CHECK_EQ_STR(b.data, "{\"a b\":[1,2],\"c\":\"x \\\" y\"}");
    cc_buf_reset(&b);
    cc_jv_compact(view("{\"already\":\"compact\"}"), &b);
    CHECK_EQ_STR(b.data, "{\"already\":\"compact\"}");
    cc_buf_free(&b);
}

int main(void) {
    CC_RUN(test_members);
    CC_RUN(test_iteration);
    CC_RUN(test_strings);
    CC_RUN(test_numbers_and_compact);
    return CC_DONE();
}
