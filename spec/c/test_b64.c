/* test_b64.c: base64 (b64.h): RFC 4648's test vectors, round trips of every length and byte
 * value, optional padding, and characters outside the alphabet. */
#include <string.h>

#include "json/b64.h"
#include "check.h"

static void test_vectors(void) {
    static const char *const vec[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        cc_buf_t e = CC_BUF_INIT, d = CC_BUF_INIT;
        CHECK_EQ_INT(cc_b64_encode(&e, vec[i][0], strlen(vec[i][0])), 0);
        CHECK_EQ_STR(e.data, vec[i][1]);
        CHECK_EQ_INT(cc_b64_decode(&d, vec[i][1], strlen(vec[i][1])), 0);
        CHECK_EQ_INT(d.len, strlen(vec[i][0]));
        CHECK(d.len == 0 || memcmp(d.data, vec[i][0], d.len) == 0);
        cc_buf_free(&e);
        cc_buf_free(&d);
    }
}

static void test_round_trip(void) {
    unsigned char data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 151 + 7);
    long bad = 0;
    for (size_t n = 0; n <= sizeof data; n++) {
        cc_buf_t e = CC_BUF_INIT, d = CC_BUF_INIT;
        cc_buf_puts(&e, "x"); /* appends after what is there */
        cc_b64_encode(&e, data, n);
        if (e.len != 1 + (n + 2) / 3 * 4 || e.data[0] != 'x') bad++;
        if (cc_b64_decode(&d, e.data + 1, e.len - 1) != 0 || d.len != n ||
            (n && memcmp(d.data, data, n) != 0))
            bad++;
        /* Without the padding. */
        size_t m = e.len - 1;
        while (m && e.data[m] == '=')
            m--;
        cc_buf_reset(&d);
        if (cc_b64_decode(&d, e.data + 1, m) != 0 || d.len != n) bad++;
        cc_buf_free(&e);
        cc_buf_free(&d);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_bad_input(void) {
    static const char *const bad[] = {"Zm9v!", "Zm 9v", "Zm9v-_", "Z=m9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cc_buf_t d = CC_BUF_INIT;
        CHECK_EQ_INT(cc_b64_decode(&d, bad[i], strlen(bad[i])), -1);
        cc_buf_free(&d);
    }
    cc_buf_t d = CC_BUF_INIT;
    CHECK_EQ_INT(cc_b64_decode(&d, "Zm9v\0Zm9v", 9), -1);
    cc_buf_free(&d);
}

int main(void) {
    CC_RUN(test_vectors);
    CC_RUN(test_round_trip);
    CC_RUN(test_bad_input);
    return CC_DONE();
}
