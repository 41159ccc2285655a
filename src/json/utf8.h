/* utf8.h: UTF-8 as RFC 3629 defines it, the one place ccproxy reads and writes it. A
 * well-formed sequence is ASCII, or a lead byte and its continuation bytes with no overlong
 * form, no UTF-16 surrogate (U+D800-U+DFFF) and nothing above U+10FFFF. The scanners
 * (json_body.c, tokens.c) call the inline functions on their hot paths; text that comes from
 * elsewhere is cleaned (cc_utf8_clean) or cut (cc_utf8_cut) before it goes into JSON.
 * Nothing here allocates except into the caller's buffer. */
#ifndef CC_UTF8_H
#define CC_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/** The length of the well-formed sequence at s[0..n): 1 for an ASCII byte (NUL included),
 *  2 to 4 for a multibyte character, 0 when the bytes there are not one (a stray continuation
 *  byte, an overlong form, a surrogate, above U+10FFFF, cut short by n, or n == 0). */
static inline size_t cc_utf8_len(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    unsigned c, lo = 0x80, hi = 0xBF;
    size_t len;
    if (!n) return 0;
    c = u[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0; /* no overlong three-byte form */
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90; /* no overlong four-byte form */
        if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || u[1] < lo || u[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((u[i] & 0xC0) != 0x80) return 0;
    return len;
}

/** The code point of the well-formed sequence of `len` bytes at s (len from cc_utf8_len). */
static inline uint32_t cc_utf8_decode(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp = u[0] & (len == 1 ? 0x7F : len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    for (size_t i = 1; i < len; i++)
        cp = (cp << 6) | (u[i] & 0x3F);
    return cp;
}

/** Writes code point cp (at most U+10FFFF, not a surrogate) into out as 1 to 4 bytes and
 *  returns how many. */
static inline size_t cc_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/** Whether s[0..n) is well-formed UTF-8 throughout (eight ASCII bytes at a time). */
bool cc_utf8_valid(const char *s, size_t n);

/** Appends s[0..n) with every byte that does not belong to a well-formed sequence replaced by
 *  U+FFFD, so text from elsewhere cannot break the JSON it is written into. Returns how many
 *  bytes were replaced (0: s was UTF-8 and was copied as it is). */
size_t cc_utf8_clean(cc_buf_t *out, const char *s, size_t n);

/** The length of the longest prefix of s[0..n) of at most `max` bytes that does not end inside
 *  a well-formed sequence (bytes that start none count as one character each): where to cut
 *  text to a byte limit. */
size_t cc_utf8_cut(const char *s, size_t n, size_t max);

#endif
