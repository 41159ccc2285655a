/* json_view.c: views into validated JSON text (see json_view.h). Skipping a value only
 * looks for the bytes that end it (quotes with their backslashes, brackets), which is valid
 * because the text was validated before. */
#include "json/json_view.h"

#include <stdlib.h>
#include <string.h>

#include "json/json_body.h"

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at an opening quote; returns the position after the closing one. */
static const char *skip_string(const char *p, const char *end) {
    const char *start = ++p;
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q) return end;
        /* The quote ends the string unless an odd number of backslashes precede it. */
        size_t bs = 0;
        while (q - bs > start && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (bs % 2 == 0) return q + 1;
        p = q + 1;
    }
}

static const char *skip_value(const char *p, const char *end) {
    if (p >= end) return end;
    if (*p == '"') return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                p = skip_string(p, end);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return end;
    }
    while (p < end && !strchr(",]} \t\n\r", *p))
        p++;
    return p;
}

cc_jv_t cc_jv(const char *text, size_t len) {
    /* Valid text is one value: trimming the white space around it is enough. */
    const char *end = text + len;
    const char *p = skip_ws(text, end);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    cc_jv_t v = {p, (size_t)(end - p)};
    return v;
}

void cc_jv_iter(cc_jv_t c, cc_jv_iter_t *it) {
    it->pos = NULL;
    it->end = NULL;
    if (c.n < 2 || (c.p[0] != '{' && c.p[0] != '[')) return;
    it->pos = c.p + 1;
    it->end = c.p + c.n - 1; /* the closing bracket */
}

bool cc_jv_next(cc_jv_iter_t *it, cc_jv_t *key, cc_jv_t *val) {
    if (!it->pos) return false;
    const char *p = skip_ws(it->pos, it->end);
    if (p < it->end && *p == ',') p = skip_ws(p + 1, it->end);
    if (p >= it->end) {
        it->pos = NULL;
        return false;
    }
    if (key) {
        key->p = NULL;
        key->n = 0;
    }
    /* An object member: "key" : value. An array's values start otherwise or have no colon. */
    if (*p == '"' && it->end[0] == '}') {
        const char *k = p;
        p = skip_string(p, it->end);
        if (key) {
            key->p = k;
            key->n = (size_t)(p - k);
        }
        p = skip_ws(p, it->end);
        if (p < it->end && *p == ':') p = skip_ws(p + 1, it->end);
    }
    const char *q = skip_value(p, it->end);
    val->p = p;
    val->n = (size_t)(q - p);
    it->pos = q;
    return true;
}

size_t cc_jv_count(cc_jv_t c) {
    cc_jv_iter_t it;
    cc_jv_t v;
    size_t n = 0;
    cc_jv_iter(c, &it);
    while (cc_jv_next(&it, NULL, &v))
        n++;
    return n;
}

cc_jv_t cc_jv_inner(cc_jv_t s) {
    cc_jv_t v = {NULL, 0};
    if (!cc_jv_is_string(s) || s.n < 2) return v;
    v.p = s.p + 1;
    v.n = s.n - 2;
    return v;
}

/* One escape at p (after the backslash) decoded to a single byte, or -1 (a \u escape). */
static int simple_escape(char c) {
    switch (c) {
    case '"':
        return '"';
    case '\\':
        return '\\';
    case '/':
        return '/';
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return -1;
    }
}

/* The decoded text compared with s: equal (`whole`) or starting with it. Decodes only as far
 * as needed; \u escapes fall back to decoding the literal. */
static bool compare(cc_jv_t str, const char *s, bool whole) {
    cc_jv_t in = cc_jv_inner(str);
    size_t n = strlen(s), i = 0, k = 0;
    if (!cc_jv_is_string(str)) return false;
    if (whole && in.n > 6 * n) return false; /* too long even if every byte were escaped */
    for (; i < in.n && k < n; k++) {
        int c = (unsigned char)in.p[i];
        if (c == '\\') {
            if (i + 1 >= in.n) return false;
            c = simple_escape(in.p[i + 1]);
            if (c < 0) goto slow;
            i += 2;
        } else {
            i++;
        }
        if ((char)c != s[k]) return false;
    }
    return k == n && (!whole || i == in.n);
slow : {
    cc_buf_t b = CC_BUF_INIT;
    bool eq = cc_json_string_decode(str.p, str.n, &b) == 0 && (whole ? b.len == n : b.len >= n) &&
              memcmp(b.data ? b.data : "", s, n) == 0;
    cc_buf_free(&b);
    return eq;
}
}

static bool key_is(cc_jv_t k, const char *key, size_t n) {
    /* Fast path: a key literal without escapes compares byte for byte. */
    if (k.n == n + 2 && memcmp(k.p + 1, key, n) == 0) return true;
    return k.n > 2 && memchr(k.p, '\\', k.n) && cc_jv_eq(k, key);
}

void cc_jv_pick(cc_jv_t obj, const char *const *keys, cc_jv_t *out, size_t n) {
    cc_jv_t k, v;
    cc_jv_iter_t it;
    size_t lens[32];
    for (size_t i = 0; i < n; i++) {
        out[i] = (cc_jv_t){NULL, 0};
        if (i < 32) lens[i] = strlen(keys[i]);
    }
    cc_jv_iter(cc_jv_is_object(obj) ? obj : (cc_jv_t){NULL, 0}, &it);
    while (cc_jv_next(&it, &k, &v))
        for (size_t i = 0; i < n; i++)
            if (key_is(k, keys[i], i < 32 ? lens[i] : strlen(keys[i]))) out[i] = v;
}

bool cc_jv_eq(cc_jv_t str, const char *s) {
    return compare(str, s, true);
}

bool cc_jv_prefix(cc_jv_t str, const char *prefix) {
    return compare(str, prefix, false);
}

cc_jv_t cc_jv_get(cc_jv_t obj, const char *key) {
    cc_jv_t found = {NULL, 0}, k, v;
    cc_jv_iter_t it;
    if (!cc_jv_is_object(obj)) return found;
    cc_jv_iter(obj, &it);
    size_t n = strlen(key);
    while (cc_jv_next(&it, &k, &v))
        if (key_is(k, key, n)) found = v;
    return found;
}

bool cc_jv_blank(cc_jv_t str) {
    cc_jv_t in = cc_jv_inner(str);
    for (size_t i = 0; i < in.n; i++) {
        char c = in.p[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
        if (c == '\\' && i + 1 < in.n && strchr("ntr", in.p[i + 1])) {
            i++;
            continue;
        }
        return false;
    }
    return cc_jv_is_string(str);
}

int cc_jv_decode(cc_jv_t str, cc_buf_t *out) {
    if (!cc_jv_is_string(str)) return -1;
    return cc_json_string_decode(str.p, str.n, out) == 0 ? 0 : -1;
}

char *cc_jv_strdup(cc_jv_t str) {
    cc_buf_t b = CC_BUF_INIT;
    if (cc_jv_decode(str, &b) < 0) {
        cc_buf_free(&b);
        return NULL;
    }
    if (!b.data) cc_buf_append(&b, "", 0);
    return cc_buf_steal(&b, NULL);
}

void cc_jv_compact(cc_jv_t v, cc_buf_t *out) {
    const char *p = v.p, *end = v.p + v.n, *run = p;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            p = skip_string(p, end);
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            cc_buf_append(out, run, (size_t)(p - run));
            p = run = skip_ws(p, end);
        } else {
            p++;
        }
    }
    cc_buf_append(out, run, (size_t)(p - run));
}

double cc_jv_number(cc_jv_t v, double dflt) {
    char tmp[64];
    if (!cc_jv_is_number(v) || v.n >= sizeof tmp) return dflt;
    memcpy(tmp, v.p, v.n);
    tmp[v.n] = '\0';
    return strtod(tmp, NULL);
}
