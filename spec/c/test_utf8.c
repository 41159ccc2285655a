/* test_utf8.c: utf8.h against a reference written from RFC 3629's table (every sequence of
 * up to three bytes, and four-byte ones around every boundary), encode/decode of every code
 * point, cleaning (U+FFFD per bad byte) and cutting to a byte limit. */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "json/utf8.h"

/* The length of the well-formed sequence at s[0..n), computed another way: decode the bits a
 * lead byte announces, then reject what RFC 3629 forbids. */
static size_t ref_len(const unsigned char *s, size_t n) {
    size_t len;
    uint32_t cp;
    if (!n) return 0;
    if (s[0] < 0x80) return 1;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2;
        cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    static const uint32_t min_of[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_of[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

static void test_len_matches_reference(void) {
    unsigned char s[4];
    long mismatches = 0;
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        if (cc_utf8_len((const char *)s, 1) != ref_len(s, 1)) mismatches++;
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            if (cc_utf8_len((const char *)s, 2) != ref_len(s, 2)) mismatches++;
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                if (cc_utf8_len((const char *)s, 3) != ref_len(s, 3)) mismatches++;
            }
        }
    }
    static const unsigned char tails[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0xBF, 0xC0, 0xFF};
    for (unsigned a = 0xF0; a < 0x100; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c < sizeof tails; c++)
                for (size_t d = 0; d < sizeof tails; d++) {
                    unsigned char q[4] = {(unsigned char)a, (unsigned char)b, tails[c], tails[d]};
                    for (size_t n = 1; n <= 4; n++)
                        if (cc_utf8_len((const char *)q, n) != ref_len(q, n)) mismatches++;
                }
    CHECK_EQ_INT(mismatches, 0);
    CHECK_EQ_INT(cc_utf8_len("", 0), 0);
    CHECK_EQ_INT(cc_utf8_len("\0", 1), 1);
}

static void test_encode_decode(void) {
    long bad = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        char b[4];
        size_t n = cc_utf8_encode(cp, b);
        size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (n != want || cc_utf8_len(b, n) != n || cc_utf8_len(b, n - 1) != 0 ||
            cc_utf8_decode(b, n) != cp)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(cc_utf8_decode("\xE2\x82\xAC", 3), 0x20AC);
    CHECK_EQ_INT(cc_utf8_decode("\xF0\x9F\x98\x80", 4), 0x1F600);
}

static void clean_is(const char *in, const char *want, size_t want_bad) {
    cc_buf_t b = CC_BUF_INIT;
    cc_buf_puts(&b, "<");
    CHECK_EQ_INT(cc_utf8_clean(&b, in, strlen(in)), want_bad);
    CHECK_EQ_STR(b.data, want);
    cc_buf_free(&b);
}

static void test_clean(void) {
    clean_is("", "<", 0);
    clean_is("plain", "<plain", 0);
    clean_is("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
             "<caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 0);
    clean_is("bad \xFF\xC3 bytes", "<bad \xEF\xBF\xBD\xEF\xBF\xBD bytes", 2);
    /* A cut sequence: each byte of it is replaced. */
    clean_is("\xE2\x82", "<\xEF\xBF\xBD\xEF\xBF\xBD", 2);
    /* Overlong, surrogate, above U+10FFFF. */
    clean_is("\xC0\xAF", "<\xEF\xBF\xBD\xEF\xBF\xBD", 2);
    clean_is("\xED\xA0\x80", "<\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 3);
    clean_is("\xF4\x90\x80\x80", "<\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 4);
    /* NUL bytes are ASCII. */
    cc_buf_t b = CC_BUF_INIT;
    CHECK_EQ_INT(cc_utf8_clean(&b, "a\0b", 3), 0);
    CHECK_EQ_INT(b.len, 3);
    cc_buf_free(&b);
}

/* cc_utf8_valid says yes exactly when cc_utf8_clean would replace nothing: on each sample, at
 * every offset into a run of ASCII (the eight-byte fast path's every alignment). */
static void test_valid(void) {
    const char *samples[] = {"", "plain ascii text", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
                             "bad \xFF", "\xE2\x82", "\xC0\xAF", "\xED\xA0\x80",
                             "\xF4\x90\x80\x80", "\x80", "ok\xC3\xA9"};
    char text[64];
    for (size_t k = 0; k < sizeof samples / sizeof samples[0]; k++) {
        for (size_t pad = 0; pad <= 17; pad++) {
            size_t n = strlen(samples[k]);
            memset(text, 'a', pad);
            memcpy(text + pad, samples[k], n);
            memset(text + pad + n, 'z', 9);
            for (size_t tail = 0; tail <= 9; tail += 9) {
                size_t len = pad + n + tail;
                cc_buf_t b = CC_BUF_INIT;
                bool clean = cc_utf8_clean(&b, text, len) == 0;
                cc_buf_free(&b);
                CHECK_EQ_INT(cc_utf8_valid(text, len), clean);
            }
        }
    }
    CHECK(cc_utf8_valid("a\0b", 3)); /* NUL bytes are ASCII */
}

static void test_cut(void) {
    /* 40 two-byte characters (80 bytes) cut to 64: 32 characters. */
    char e[81];
    for (int i = 0; i < 40; i++)
        memcpy(e + 2 * i, "\xC3\xA9", 2);
    e[80] = 0;
    CHECK_EQ_INT(cc_utf8_cut(e, 80, 64), 64);
    CHECK_EQ_INT(cc_utf8_cut(e, 80, 63), 62);
    CHECK_EQ_INT(cc_utf8_cut(e, 80, 80), 80);
    CHECK_EQ_INT(cc_utf8_cut(e, 80, 200), 80);
    CHECK_EQ_INT(cc_utf8_cut(e, 80, 1), 0);
    CHECK_EQ_INT(cc_utf8_cut(e, 80, 0), 0);
    /* "a" then a four-byte character: every cut inside it falls before it. */
    const char *s = "a\xF0\x9F\x98\x80z";
    for (size_t max = 1; max <= 4; max++)
        CHECK_EQ_INT(cc_utf8_cut(s, 6, max), 1);
    CHECK_EQ_INT(cc_utf8_cut(s, 6, 5), 5);
    /* Bytes that start no sequence are characters of their own. */
    CHECK_EQ_INT(cc_utf8_cut("\x80\x80\x80\x80\x80", 5, 3), 3);
    CHECK_EQ_INT(cc_utf8_cut("ab\xE2\x82x", 5, 3), 3);
    CHECK_EQ_INT(cc_utf8_cut("ab\xE2\x82\xAC", 5, 4), 2);
    /* Against a forward walk, on text of mixed widths and every limit. */
    const char *mixed = "x\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80y\xFF\xE2\x82z";
    size_t n = strlen(mixed);
    for (size_t max = 0; max <= n + 1; max++) {
        size_t i = 0;
        while (i < n) {
            size_t k = cc_utf8_len(mixed + i, n - i);
            if (!k) k = 1;
            if (i + k > max) break;
            i += k;
        }
        CHECK_EQ_INT(cc_utf8_cut(mixed, n, max), i);
    }
}

int main(void) {
    CC_RUN(test_len_matches_reference);
    CC_RUN(test_encode_decode);
    CC_RUN(test_clean);
    CC_RUN(test_valid);
    CC_RUN(test_cut);
    return CC_DONE();
}
