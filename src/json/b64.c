/* b64.c: standard base64 (see b64.h). */
#include "json/b64.h"

#include <errno.h>
#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The value of a base64 character, or -1. */
static int value_of(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int cc_b64_encode(cc_buf_t *out, const void *data, size_t len) {
    const unsigned char *p = data;
    if (cc_buf_reserve(out, (len + 2) / 3 * 4) < 0) return -ENOMEM;
    char *w = out->data + out->len;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *w++ = alphabet[v >> 18];
        *w++ = alphabet[(v >> 12) & 63];
        *w++ = alphabet[(v >> 6) & 63];
        *w++ = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        *w++ = alphabet[v >> 18];
        *w++ = alphabet[(v >> 12) & 63];
        *w++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        *w++ = '=';
    }
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
    return 0;
}

int cc_b64_decode(cc_buf_t *out, const char *data, size_t len) {
    uint32_t acc = 0;
    int bits = 0;
    while (len && data[len - 1] == '=')
        len--;
    if (cc_buf_reserve(out, len / 4 * 3 + 2) < 0) return -1;
    for (size_t i = 0; i < len; i++) {
        int v = value_of((unsigned char)data[i]);
        if (v < 0) return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char byte = (char)((acc >> bits) & 0xFF);
            if (cc_buf_append(out, &byte, 1) < 0) return -1;
        }
    }
    return 0;
}
