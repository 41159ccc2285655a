/* check.h: the assertions of the C unit tests. A test file defines test functions and lists
 * them in main with CC_RUN; a failed CHECK prints file:line and the expression, counts, and the
 * test goes on. main returns non-zero if anything failed, which CTest reports. */
#ifndef CC_CHECK_H
#define CC_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cc_check_failures;
static int cc_check_count;

#define CHECK(expr)                                                                        \
    do {                                                                                   \
        cc_check_count++;                                                                  \
        if (!(expr)) {                                                                     \
            cc_check_failures++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr);       \
        }                                                                                  \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                 \
    do {                                                                                   \
        long long cc_a_ = (long long)(a), cc_b_ = (long long)(b);                          \
        cc_check_count++;                                                                  \
        if (cc_a_ != cc_b_) {                                                              \
            cc_check_failures++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__,    \
                    __LINE__, #a, #b, cc_a_, cc_b_);                                       \
        }                                                                                  \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                 \
    do {                                                                                   \
        const char *cc_a_ = (a), *cc_b_ = (b);                                             \
        cc_check_count++;                                                                  \
        if (!cc_a_ || !cc_b_ || strcmp(cc_a_, cc_b_) != 0) {                               \
            cc_check_failures++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__, \
                    __LINE__, #a, #b, cc_a_ ? cc_a_ : "(null)", cc_b_ ? cc_b_ : "(null)");  \
        }                                                                                  \
    } while (0)

#define CC_RUN(fn)                                                                         \
    do {                                                                                   \
        int cc_before_ = cc_check_failures;                                                \
        fn();                                                                              \
        fprintf(stderr, "%s %s\n", cc_check_failures == cc_before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

/* The whole file at `path` (NUL-terminated, malloc'd; *len its size), or NULL. */
static __attribute__((unused)) char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        data = malloc((size_t)n + 1);
        if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
            free(data);
            data = NULL;
        }
        if (data) {
            data[n] = '\0';
            if (len) *len = (size_t)n;
        }
    }
    fclose(f);
    return data;
}

#define CC_DONE()                                                                          \
    (fprintf(stderr, "%d checks, %d failed\n", cc_check_count, cc_check_failures),         \
     cc_check_failures ? 1 : 0)

#endif
