/* buf.c: the growable byte buffer (see buf.h). */
#include "buf.h"

#include <errno.h>
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

int cc_buf_append(cc_buf_t *b, const void *data, size_t len) {
    if (cc_buf_reserve(b, len) < 0) return -ENOMEM;
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int cc_buf_puts(cc_buf_t *b, const char *s) {
    return cc_buf_append(b, s, strlen(s));
}

int cc_buf_vprintf(cc_buf_t *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return -EINVAL;
    if (cc_buf_reserve(b, (size_t)n) < 0) return -ENOMEM;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int cc_buf_printf(cc_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = cc_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int cc_buf_json_escape(cc_buf_t *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    if (cc_buf_reserve(b, len + 2) < 0) return -ENOMEM;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t n = 0;
        switch (c) {
        case '"': esc[0] = '\\'; esc[1] = '"'; n = 2; break;
        case '\\': esc[0] = '\\'; esc[1] = '\\'; n = 2; break;
        case '\n': esc[0] = '\\'; esc[1] = 'n'; n = 2; break;
        case '\r': esc[0] = '\\'; esc[1] = 'r'; n = 2; break;
        case '\t': esc[0] = '\\'; esc[1] = 't'; n = 2; break;
        case '\b': esc[0] = '\\'; esc[1] = 'b'; n = 2; break;
        case '\f': esc[0] = '\\'; esc[1] = 'f'; n = 2; break;
        default:
            if (c < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                n = 6;
            } else {
                esc[0] = (char)c;
                n = 1;
            }
        }
        if (cc_buf_append(b, esc, n) < 0) return -ENOMEM;
    }
    return 0;
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
    if (!b->data && cc_buf_reserve(b, 0) < 0) return NULL;
    char *p = b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
