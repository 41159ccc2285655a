/* buf.c: the growable byte buffer (see buf.h). */
#include "buf.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cc_buf_reserve(cc_buf_t *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int cc_buf_append_grow(cc_buf_t *b, const void *data, size_t len) {
    if (cc_buf_reserve(b, len) < 0) return -ENOMEM;
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int cc_buf_vprintf(cc_buf_t *b, const char *fmt, va_list ap) {
    /* Formatted once into the room there is; a second time only when it did not fit. */
    if (cc_buf_reserve(b, 64) < 0) return -ENOMEM;
    size_t room = b->cap - b->len;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(b->data + b->len, room, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->data[b->len] = '\0';
        return -EINVAL;
    }
    if ((size_t)n >= room) {
        if (cc_buf_reserve(b, (size_t)n) < 0) {
            b->data[b->len] = '\0';
            return -ENOMEM;
        }
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    }
    b->len += (size_t)n;
    return 0;
}

int cc_buf_put_u64(cc_buf_t *b, uint64_t v) {
    char tmp[20];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return cc_buf_append(b, tmp + sizeof tmp - n, n);
}

int cc_buf_put_i64(cc_buf_t *b, int64_t v) {
    if (v >= 0) return cc_buf_put_u64(b, (uint64_t)v);
    if (cc_buf_append(b, "-", 1) < 0) return -ENOMEM;
    return cc_buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
}

int cc_buf_put_fixed(cc_buf_t *b, double v, int places) {
    static const double scale[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    if (places < 0 || places > 9 || !(fabs(v) * scale[places] < 1e15))
        return cc_buf_printf(b, "%.*f", places < 0 ? 0 : places, v); /* NaN, inf, huge */
    double scaled = v * scale[places];
    bool neg = scaled < 0;
    uint64_t u = (uint64_t)llround(neg ? -scaled : scaled);
    uint64_t p10 = (uint64_t)scale[places];
    if (neg && u && cc_buf_append(b, "-", 1) < 0) return -ENOMEM;
    if (cc_buf_put_u64(b, u / p10) < 0) return -ENOMEM;
    if (places == 0) return 0;
    char frac[10];
    uint64_t f = u % p10;
    for (int i = places - 1; i >= 0; i--) {
        frac[i] = (char)('0' + f % 10);
        f /= 10;
    }
    if (cc_buf_append(b, ".", 1) < 0) return -ENOMEM;
    return cc_buf_append(b, frac, (size_t)places);
}

int cc_buf_printf(cc_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = cc_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Whether one of the eight bytes in x is a quote, a backslash or below 0x20. */
static inline bool needs_escape8(uint64_t x) {
    uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
    return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((x - ONES * 0x20) & ~x)) & HIGHS;
}

/* Runs of bytes that need no escape (most text) are found eight bytes at a time and copied
 * at once. */
int cc_buf_json_escape(cc_buf_t *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    size_t run = 0, i = 0;
    if (cc_buf_reserve(b, len) < 0) return -ENOMEM;
    while (i < len) {
        uint64_t x;
        while (len - i >= 8 && (memcpy(&x, s + i, 8), !needs_escape8(x)))
            i += 8;
        if (i >= len) break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        char esc[6] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (cc_buf_append(b, s + run, i - run) < 0 || cc_buf_append(b, esc, n) < 0)
            return -ENOMEM;
        run = ++i;
    }
    return cc_buf_append(b, s + run, len - run);
}

int cc_buf_json_string(cc_buf_t *b, const char *s) {
    if (!s) return cc_buf_append(b, "null", 4);
    if (cc_buf_append(b, "\"", 1) < 0 || cc_buf_json_escape(b, s, strlen(s)) < 0) return -ENOMEM;
    return cc_buf_append(b, "\"", 1);
}

void cc_buf_consume(cc_buf_t *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data) b->data[b->len] = '\0';
}

void cc_buf_reset(cc_buf_t *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void cc_buf_free(cc_buf_t *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *cc_buf_steal(cc_buf_t *b, size_t *len) {
    if (!b->data) {
        if (cc_buf_reserve(b, 0) < 0) return NULL;
        b->data[0] = '\0';
    }
    char *p = b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
