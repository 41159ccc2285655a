/* test_buf.c: the byte buffer (buf.h): growth, consume, steal, and the JSON string escaper
 * against a byte-by-byte reference on every byte value, at every alignment of the eight-byte
 * fast path; printf into the buffer at every size, and the number writers against printf. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "json/json_body.h"

static void test_basics(void) {
    cc_buf_t b = CC_BUF_INIT;
    CHECK_EQ_INT(cc_buf_puts(&b, "hello"), 0);
    CHECK_EQ_INT(cc_buf_printf(&b, " %d", 42), 0);
    CHECK_EQ_STR(b.data, "hello 42");
    cc_buf_consume(&b, 6);
    CHECK_EQ_STR(b.data, "42");
    cc_buf_reset(&b);
    CHECK_EQ_INT(b.len, 0);
    for (int i = 0; i < 1000; i++)
        cc_buf_append(&b, "0123456789", 10);
    CHECK_EQ_INT(b.len, 10000);
    size_t n = 0;
    char *p = cc_buf_steal(&b, &n);
    CHECK(p != NULL && n == 10000 && p[n] == '\0');
    CHECK(b.data == NULL && b.len == 0);
    free(p);
    p = cc_buf_steal(&b, &n); /* an empty buffer gives an empty string */
    CHECK(p != NULL && n == 0 && p[0] == '\0');
    free(p);
}

/* printf formats once into the room there is, again only when that was too small: long
 * output, output that fills the room exactly, and appending after it. */
static void test_printf_sizes(void) {
    char want[700];
    for (size_t n = 0; n < 600; n += 7) {
        cc_buf_t b = CC_BUF_INIT;
        cc_buf_puts(&b, "ab");
        memset(want, 'x', n);
        want[n] = '\0';
        CHECK_EQ_INT(cc_buf_printf(&b, "%s|%d", want, 7), 0);
        CHECK_EQ_INT(b.len, 2 + n + 2);
        CHECK(memcmp(b.data, "ab", 2) == 0 && memcmp(b.data + 2, want, n) == 0);
        CHECK_EQ_STR(b.data + 2 + n, "|7");
        CHECK(b.data[b.len] == '\0' && b.len < b.cap);
        cc_buf_puts(&b, "!");
        CHECK_EQ_STR(b.data + b.len - 3, "|7!");
        cc_buf_free(&b);
    }
}

/* The number writers print what printf would. */
static void test_numbers(void) {
    const unsigned long long us[] = {0, 7, 10, 99, 1000, 4294967295ull, 18446744073709551615ull};
    const long long is[] = {0, -1, 42, -9223372036854775807ll - 1, 9223372036854775807ll};
    char want[400];
    cc_buf_t b = CC_BUF_INIT;
    for (size_t i = 0; i < sizeof us / sizeof us[0]; i++) {
        cc_buf_reset(&b);
        cc_buf_put_u64(&b, us[i]);
        snprintf(want, sizeof want, "%llu", us[i]);
        CHECK_EQ_STR(b.data, want);
    }
    for (size_t i = 0; i < sizeof is / sizeof is[0]; i++) {
        cc_buf_reset(&b);
        cc_buf_put_i64(&b, is[i]);
        snprintf(want, sizeof want, "%lld", is[i]);
        CHECK_EQ_STR(b.data, want);
    }
    /* Values with no tie at the last place: exactly printf's digits. */
    const double ds[] = {0, 1, 2.7, -2.3, 0.1, 0.00125, 12.3456789, 1234567.891, -0.04443,
                         99.96, 1e-7, 123456789012.0};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        for (int places = 0; places <= 9; places++) {
            cc_buf_reset(&b);
            cc_buf_put_fixed(&b, ds[i], places);
            snprintf(want, sizeof want, "%.*f", places, ds[i]);
            /* printf keeps the sign of a value that rounds to zero ("-0.00"); we drop it */
            if (want[0] == '-' && strspn(want + 1, "0.") == strlen(want + 1)) {
                CHECK_EQ_STR(b.data, want + 1);
                continue;
            }
            CHECK_EQ_STR(b.data, want);
        }
    }
    /* Out of the fast range: printf's own answer. */
    cc_buf_reset(&b);
    cc_buf_put_fixed(&b, 1e300, 2);
    snprintf(want, sizeof want, "%.2f", 1e300);
    CHECK_EQ_STR(b.data, want);
    cc_buf_free(&b);
}

/* The escape of each byte, looked up plainly. */
static void ref_escape(cc_buf_t *b, const unsigned char *s, size_t n) {
    static const char named[] = "\"\\\n\r\t\b\f", letter[] = "\"\\nrtbf";
    for (size_t i = 0; i < n; i++) {
        const char *k = s[i] ? memchr(named, s[i], 7) : NULL;
        if (k)
            cc_buf_printf(b, "\\%c", letter[k - named]);
        else if (s[i] < 0x20)
            cc_buf_printf(b, "\\u%04x", s[i]);
        else
            cc_buf_append(b, &s[i], 1);
    }
}

static void test_json_escape(void) {
    cc_buf_t got = CC_BUF_INIT, want = CC_BUF_INIT;
    CHECK_EQ_INT(cc_buf_json_escape(&got, "", 0), 0);
    CHECK(got.data != NULL && got.len == 0);
    cc_buf_json_escape(&got, "a\"b\\c\n\x01\x1f\x7f\xC3\xA9", 11);
    CHECK_EQ_STR(got.data, "a\\\"b\\\\c\\n\\u0001\\u001f\x7f\xC3\xA9");

    /* Every byte value, in plain runs of every length around it, at every offset. */
    unsigned char text[64];
    long mismatches = 0;
    for (unsigned c = 0; c < 256; c++) {
        for (size_t at = 0; at < 24; at++) {
            for (size_t i = 0; i < sizeof text; i++)
                text[i] = (unsigned char)('a' + i % 26);
            text[at] = (unsigned char)c;
            text[at + 9] = (unsigned char)c;
            for (size_t len = at; len <= sizeof text; len += 7) {
                cc_buf_reset(&got);
                cc_buf_reset(&want);
                cc_buf_puts(&got, "[");
                cc_buf_puts(&want, "[");
                cc_buf_json_escape(&got, (const char *)text, len);
                ref_escape(&want, text, len);
                if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0) mismatches++;
            }
        }
    }
    CHECK_EQ_INT(mismatches, 0);

    /* What is escaped decodes back to the same bytes. */
    unsigned char all[256];
    for (unsigned c = 0; c < 256; c++)
        all[c] = (unsigned char)c;
    cc_buf_reset(&got);
    cc_buf_puts(&got, "\"");
    cc_buf_json_escape(&got, (const char *)all, 128); /* ASCII: valid JSON text */
    cc_buf_puts(&got, "\"");
    cc_buf_reset(&want);
    CHECK_EQ_INT(cc_json_string_decode(got.data, got.len, &want), 0);
    CHECK(want.len == 128 && memcmp(want.data, all, 128) == 0);
    cc_buf_free(&got);
    cc_buf_free(&want);
}

int main(void) {
    CC_RUN(test_basics);
    CC_RUN(test_printf_sizes);
    CC_RUN(test_numbers);
    CC_RUN(test_json_escape);
    return CC_DONE();
}
