/* json_body.c: the byte-level JSON scanner behind json_body.h. It validates, finds and edits
 * the top-level members of a request body without building a tree: strings are skipped eight
 * bytes at a time, nesting is tracked in a bit stack (no recursion), and nothing is allocated
 * except the caller's output buffer. It also owns the cc__json_* helpers tokens.c walks with.
 * Strictness: RFC 8259 grammar, UTF-8 checked inside strings, nesting at most 512. */
#include "json/json_body.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "json/utf8.h"

#define CC_JSON_MAX_DEPTH 512
#define CC_JSON_MAX_EDITS 64

typedef const unsigned char *uptr;

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uptr skip_ws(uptr p, uptr end) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static inline int hex_digit(unsigned c) {
    if (c - '0' < 10) return (int)(c - '0');
    c |= 0x20;
    if (c - 'a' < 6) return (int)(c - 'a' + 10);
    return -1;
}

/* The four hex digits at p as a number, or -1. The caller checked that 4 bytes exist. */
static long hex4(uptr p) {
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Skips the string literal whose opening quote is at p. Returns the byte after the closing
 * quote, or NULL with *errp at the offending byte. *escaped tells whether it held a backslash.
 * Runs of plain printable ASCII are skipped a 64-bit word at a time. */
static uptr scan_string(uptr p, uptr end, bool *escaped, uptr *errp) {
    bool esc = false;
    p++;
    for (;;) {
        while (end - p >= 8) {
            uint64_t x, q, b;
            memcpy(&x, p, 8);
            q = x ^ (ONES * '"');
            b = x ^ (ONES * '\\');
            /* A high bit is set iff some byte is '"', '\\', below 0x20 or above 0x7F. */
            if ((((q - ONES) & ~q) | ((b - ONES) & ~b) | (x - ONES * 0x20) | x) & HIGHS) break;
            p += 8;
        }
        if (p >= end) goto fail;
        unsigned c = *p;
        if (c == '"') {
            if (escaped) *escaped = esc;
            return p + 1;
        }
        if (c == '\\') {
            esc = true;
            if (end - p < 2) {
                p = end;
                goto fail;
            }
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                p += 2;
                break;
            case 'u':
                for (int i = 2; i < 6; i++) {
                    if (p + i >= end || hex_digit(p[i]) < 0) {
                        p += i;
                        goto fail;
                    }
                }
                p += 6;
                break;
            default:
                p++;
                goto fail;
            }
        } else if (c < 0x20) {
            goto fail;
        } else if (c < 0x80) {
            p++;
        } else {
            size_t n = cc_utf8_len((const char *)p, (size_t)(end - p));
            if (!n) goto fail;
            p += n;
        }
    }
fail:
    *errp = p;
    return NULL;
}

static uptr scan_number(uptr p, uptr end, uptr *errp) {
    if (p < end && *p == '-') p++;
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && *p - (unsigned)'0' < 10)
            p++;
    } else {
        goto fail;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p - (unsigned)'0' >= 10) goto fail;
        while (p < end && *p - (unsigned)'0' < 10)
            p++;
    }
    if (p < end && (*p | 0x20) == 'e') {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p - (unsigned)'0' >= 10) goto fail;
        while (p < end && *p - (unsigned)'0' < 10)
            p++;
    }
    return p;
fail:
    *errp = p;
    return NULL;
}

static uptr scan_literal(uptr p, uptr end, const char *word, uptr *errp) {
    for (; *word; word++, p++) {
        if (p >= end || *p != (unsigned char)*word) {
            *errp = p;
            return NULL;
        }
    }
    return p;
}

/* Skips one value (white space before it allowed) that sits inside `depth` containers.
 * Iterative: a bit stack records, per open container, whether it is an object. */
static uptr scan_value(uptr p, uptr end, int depth, uptr *errp) {
    uint64_t is_obj[CC_JSON_MAX_DEPTH / 64 + 1];
    int n = 0; /* containers opened by this call */
    bool obj;

value:
    p = skip_ws(p, end);
    if (p >= end) goto fail;
    switch (*p) {
    case '{':
    case '[':
        if (depth + n >= CC_JSON_MAX_DEPTH) goto fail;
        obj = *p == '{';
        if (obj)
            is_obj[n / 64] |= 1ULL << (n % 64);
        else
            is_obj[n / 64] &= ~(1ULL << (n % 64));
        n++;
        p = skip_ws(p + 1, end);
        if (p < end && *p == (obj ? '}' : ']')) {
            p++;
            n--;
            goto after;
        }
        if (obj) goto key;
        goto value;
    case '"':
        p = scan_string(p, end, NULL, errp);
        break;
    case 't':
        p = scan_literal(p, end, "true", errp);
        break;
    case 'f':
        p = scan_literal(p, end, "false", errp);
        break;
    case 'n':
        p = scan_literal(p, end, "null", errp);
        break;
    default:
        p = scan_number(p, end, errp);
        break;
    }
    if (!p) return NULL;

after:
    if (n == 0) return p;
    p = skip_ws(p, end);
    if (p >= end) goto fail;
    obj = (is_obj[(n - 1) / 64] >> ((n - 1) % 64)) & 1;
    if (*p == ',') {
        p++;
        if (obj) goto key;
        goto value;
    }
    if (*p != (obj ? '}' : ']')) goto fail;
    p++;
    n--;
    goto after;

key:
    p = skip_ws(p, end);
    if (p >= end || *p != '"') goto fail;
    p = scan_string(p, end, NULL, errp);
    if (!p) return NULL;
    p = skip_ws(p, end);
    if (p >= end || *p != ':') goto fail;
    p++;
    goto value;

fail:
    *errp = p;
    return NULL;
}

const char *cc__json_unescape(const char *cp_p, const char *cp_end, uint32_t *cp) {
    uptr p = (uptr)cp_p, end = (uptr)cp_end;
    long u, lo;
    if (end - p < 2) return NULL;
    switch (p[1]) {
    case '"':
    case '\\':
    case '/': *cp = p[1]; return (const char *)p + 2;
    case 'b': *cp = '\b'; return (const char *)p + 2;
    case 'f': *cp = '\f'; return (const char *)p + 2;
    case 'n': *cp = '\n'; return (const char *)p + 2;
    case 'r': *cp = '\r'; return (const char *)p + 2;
    case 't': *cp = '\t'; return (const char *)p + 2;
    case 'u': break;
    default: return NULL;
    }
    if (end - p < 6 || (u = hex4(p + 2)) < 0) return NULL;
    p += 6;
    if (u >= 0xD800 && u <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
        (lo = hex4(p + 2)) >= 0xDC00 && lo <= 0xDFFF) {
        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
    } else if (u >= 0xD800 && u <= 0xDFFF) {
        u = 0xFFFD;
    }
    *cp = (uint32_t)u;
    return (const char *)p;
}

/* Decodes the escape sequence at *pp (a backslash, before end) into out[0..return) as UTF-8
 * and advances *pp. Returns 0 on a malformed escape. */
static size_t decode_escape(uptr *pp, uptr end, unsigned char out[4]) {
    uint32_t cp;
    const char *next = cc__json_unescape((const char *)*pp, (const char *)end, &cp);
    if (!next) return 0;
    *pp = (uptr)next;
    return cc_utf8_encode(cp, (char *)out);
}

/* Internal helpers shared with tokens.c (declared in json_body.h). */

const char *cc__json_skip_ws(const char *p, const char *end) {
    return (const char *)skip_ws((uptr)p, (uptr)end);
}

const char *cc__json_skip_string(const char *p, const char *end, bool *escaped) {
    uptr err;
    if (p >= end || *p != '"') return NULL;
    return (const char *)scan_string((uptr)p, (uptr)end, escaped, &err);
}

const char *cc__json_skip_value(const char *p, const char *end, int depth) {
    uptr err;
    return (const char *)scan_value((uptr)p, (uptr)end, depth, &err);
}

bool cc__json_key_equals(const char *lit, size_t len, bool escaped, const char *key,
                         size_t key_len) {
    uptr p, end;
    size_t i = 0;
    if (!lit || len < 2) return false;
    p = (uptr)lit + 1;
    end = (uptr)lit + len - 1;
    if (!escaped) return len - 2 == key_len && memcmp(p, key, key_len) == 0;
    while (p < end) {
        unsigned char ch[4];
        size_t n = 1;
        if (*p == '\\') {
            n = decode_escape(&p, end, ch);
            if (!n) return false;
        } else {
            ch[0] = *p++;
        }
        if (n > key_len - i || memcmp(key + i, ch, n) != 0) return false;
        i += n;
    }
    return i == key_len;
}

int cc_json_validate(const char *body, size_t len, size_t *err_offset) {
    uptr base = (uptr)body, end, err = base, p;
    if (!body) {
        if (err_offset) *err_offset = 0;
        return -1;
    }
    end = base + len;
    p = scan_value(base, end, 0, &err);
    if (p) {
        p = skip_ws(p, end);
        if (p == end) return 0;
        err = p;
    }
    if (err_offset) *err_offset = (size_t)(err - base);
    return -1;
}

/* Walks the members of the top-level object. */
typedef struct {
    uptr base, end, p;
    size_t close; /* offset of the closing brace, once reached */
    bool first;
    bool key_escaped;
} member_iter_t;

static int iter_open(member_iter_t *it, const char *body, size_t len) {
    if (!body) return -2;
    it->base = (uptr)body;
    it->end = it->base + len;
    it->p = skip_ws(it->base, it->end);
    it->first = true;
    it->close = 0;
    if (it->p >= it->end || *it->p != '{') return -2;
    it->p++;
    return 0;
}

/* Returns 1 with the next member, 0 at the closing brace (only white space may follow it),
 * or -2 when the body is not valid JSON. */
static int iter_next(member_iter_t *it, cc_json_member_t *m) {
    uptr end = it->end, err, p = skip_ws(it->p, end), key;
    if (p >= end) return -2;
    if (*p == '}') {
        it->close = (size_t)(p - it->base);
        it->p = p + 1;
        return skip_ws(p + 1, end) == end ? 0 : -2;
    }
    if (!it->first) {
        if (*p != ',') return -2;
        p = skip_ws(p + 1, end);
        if (p >= end) return -2;
    }
    it->first = false;
    if (*p != '"') return -2;
    key = p;
    p = scan_string(p, end, &it->key_escaped, &err);
    if (!p) return -2;
    m->key.start = (size_t)(key - it->base);
    m->key.len = (size_t)(p - key);
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return -2;
    p = skip_ws(p + 1, end);
    m->value.start = (size_t)(p - it->base);
    p = scan_value(p, end, 1, &err);
    if (!p) return -2;
    m->value.len = (size_t)(p - it->base) - m->value.start;
    it->p = p;
    return 1;
}

int cc_json_find_member(const char *body, size_t len, const char *key, cc_json_member_t *out) {
    member_iter_t it;
    cc_json_member_t m, found;
    size_t key_len = key ? strlen(key) : 0;
    bool have = false;
    int rc;

    if (iter_open(&it, body, len) < 0) return -2;
    while ((rc = iter_next(&it, &m)) == 1) {
        /* Keep going after a match: with duplicate keys the last one wins. */
        if (key &&
            cc__json_key_equals(body + m.key.start, m.key.len, it.key_escaped, key, key_len)) {
            found = m;
            have = true;
        }
    }
    if (rc < 0) return -2;
    if (!have) return -1;
    if (out) *out = found;
    return 0;
}

int cc_json_each_member(const char *body, size_t len,
                        int (*fn)(const char *body, const cc_json_member_t *m, void *arg),
                        void *arg) {
    member_iter_t it;
    cc_json_member_t m;
    int rc;

    if (iter_open(&it, body, len) < 0) return -2;
    while ((rc = iter_next(&it, &m)) == 1) {
        int r = fn(body, &m, arg);
        if (r) return r;
    }
    return rc < 0 ? -2 : 0;
}

int cc_json_string_decode(const char *lit, size_t len, cc_buf_t *out) {
    uptr p = (uptr)lit, end, err;
    size_t old_len = out->len;

    if (!lit || len < 2 || p[0] != '"') return -1;
    end = p + len;
    if (scan_string(p, end, NULL, &err) != end) return -1;
    /* Decoding never grows the text, so one reservation covers every append below. */
    if (cc_buf_reserve(out, len) < 0) return -ENOMEM;
    out->data[out->len] = '\0'; /* also for an empty string */
    p++;
    end--;
    while (p < end) {
        uptr bs = memchr(p, '\\', (size_t)(end - p));
        unsigned char ch[4];
        size_t n;
        if (!bs) bs = end;
        if (bs > p) cc_buf_append(out, p, (size_t)(bs - p));
        if (bs == end) break;
        n = decode_escape(&bs, end, ch);
        if (!n) goto fail; /* unreachable: the literal was validated */
        cc_buf_append(out, ch, n);
        p = bs;
    }
    return 0;
fail:
    out->len = old_len;
    if (out->data) out->data[old_len] = '\0';
    return -1;
}

/* The index of the live edit naming this member's key, or -1. */
static int match_edit(const char *body, const cc_json_member_t *m, bool escaped,
                      const cc_json_edit_t *edits, const size_t *key_len, const bool *live,
                      size_t n_edits) {
    for (size_t e = 0; e < n_edits; e++) {
        if (live[e] &&
            cc__json_key_equals(body + m->key.start, m->key.len, escaped, edits[e].key, key_len[e]))
            return (int)e;
    }
    return -1;
}

/* Appends the members that were not present, each as "key":value, commas between. */
static int append_added(cc_buf_t *out, const cc_json_edit_t *edits, const size_t *key_len,
                        const bool *live, const bool *found, size_t n_edits, bool comma) {
    int rc = 0;
    for (size_t e = 0; e < n_edits && rc == 0; e++) {
        if (!live[e] || found[e] || !edits[e].value) continue;
        if (comma) rc = cc_buf_append(out, ",", 1);
        if (!rc) rc = cc_buf_append(out, "\"", 1);
        if (!rc) rc = cc_buf_json_escape(out, edits[e].key, key_len[e]);
        if (!rc) rc = cc_buf_append(out, "\":", 2);
        if (!rc) rc = cc_buf_append(out, edits[e].value, edits[e].value_len);
        comma = true;
    }
    return rc;
}

/* Checks the edits and marks which are live (a later edit of the same key supersedes an
 * earlier one). Returns 0 or -1. */
static int check_edits(const cc_json_edit_t *edits, size_t n_edits, size_t *key_len, bool *live) {
    if (n_edits > CC_JSON_MAX_EDITS || (n_edits && !edits)) return -1;
    for (size_t e = 0; e < n_edits; e++) {
        uptr k = (uptr)edits[e].key;
        if (!k) return -1;
        key_len[e] = strlen(edits[e].key);
        for (uptr p = k, end = k + key_len[e]; p < end;) {
            size_t n = cc_utf8_len((const char *)p, (size_t)(end - p));
            if (!n) return -1; /* the key must be UTF-8 to be written as JSON */
            p += n;
        }
        if (edits[e].value && cc_json_validate(edits[e].value, edits[e].value_len, NULL) < 0)
            return -1;
        live[e] = true;
    }
    for (size_t e = 0; e < n_edits; e++)
        for (size_t f = e + 1; f < n_edits && live[e]; f++)
            if (key_len[e] == key_len[f] && memcmp(edits[e].key, edits[f].key, key_len[e]) == 0)
                live[e] = false;
    return 0;
}

int cc_json_apply_edits(const char *body, size_t len, const cc_json_edit_t *edits, size_t n_edits,
                        cc_buf_t *out) {
    size_t key_len[CC_JSON_MAX_EDITS], last[CC_JSON_MAX_EDITS];
    bool live[CC_JSON_MAX_EDITS], found[CC_JSON_MAX_EDITS] = {false};
    size_t old_len = out->len, n = 0, last_kept = 0, pos = 0, i = 0;
    bool has_kept = false, pending = false, tail = false;
    member_iter_t it;
    cc_json_member_t m;
    int rc, e;

    if (check_edits(edits, n_edits, key_len, live) < 0) return -1;

    /* Pass 1: validate, and find the last occurrence of every edited key and the last member
     * that stays. Members after that one are a removed tail. */
    if (iter_open(&it, body, len) < 0) return -2;
    while ((rc = iter_next(&it, &m)) == 1) {
        e = match_edit(body, &m, it.key_escaped, edits, key_len, live, n_edits);
        if (e < 0) {
            last_kept = n;
            has_kept = true;
        } else {
            last[e] = n;
            found[e] = true;
        }
        n++;
    }
    if (rc < 0) return -2;
    for (size_t f = 0; f < n_edits; f++) {
        if (live[f] && found[f] && edits[f].value && (!has_kept || last[f] > last_kept)) {
            last_kept = last[f];
            has_kept = true;
        }
    }

    /* Pass 2: copy, replacing values and cutting removed members. A removed member followed
     * by a kept one goes with the comma after it; the removed tail goes with the comma before
     * it; when nothing stays, the members go and the white space inside the braces stays. */
    iter_open(&it, body, len);
    while ((rc = iter_next(&it, &m)) == 1) {
        size_t ks = m.key.start, vs = m.value.start, ve = vs + m.value.len;
        bool removed;
        if (pending) {
            pos = ks;
            pending = false;
        }
        e = match_edit(body, &m, it.key_escaped, edits, key_len, live, n_edits);
        removed = e >= 0 && (!edits[e].value || last[e] != i);
        if (tail) {
            pos = ve;
        } else if (removed && has_kept) { /* i < last_kept, or tail would be set */
            if ((rc = cc_buf_append(out, body + pos, ks - pos)) < 0) goto fail;
            pending = true;
        } else if (removed) { /* the first of all-removed members */
            if ((rc = cc_buf_append(out, body + pos, ks - pos)) < 0) goto fail;
            rc = append_added(out, edits, key_len, live, found, n_edits, false);
            if (rc < 0) goto fail;
            tail = true;
            pos = ve;
        } else {
            if (e >= 0) {
                if ((rc = cc_buf_append(out, body + pos, vs - pos)) < 0) goto fail;
                rc = cc_buf_append(out, edits[e].value, edits[e].value_len);
                if (rc < 0) goto fail;
                pos = ve;
            }
            if (i == last_kept) {
                if ((rc = cc_buf_append(out, body + pos, ve - pos)) < 0) goto fail;
                rc = append_added(out, edits, key_len, live, found, n_edits, true);
                if (rc < 0) goto fail;
                tail = true;
                pos = ve;
            }
        }
        i++;
    }
    if (rc < 0) goto fail;
    if (n == 0) {
        if ((rc = cc_buf_append(out, body + pos, it.close - pos)) < 0) goto fail;
        rc = append_added(out, edits, key_len, live, found, n_edits, false);
        if (rc < 0) goto fail;
        pos = it.close;
    }
    if ((rc = cc_buf_append(out, body + pos, len - pos)) < 0) goto fail;
    return 0;

fail:
    out->len = old_len;
    if (out->data) out->data[old_len] = '\0';
    return rc;
}
