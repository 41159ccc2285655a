/* fuzz_usage.c: the usage reader (usage.h) on arbitrary bytes. The first byte chooses the form
 * (bit 0: whole JSON, else an event stream), a small event cap (bit 1) and where the bytes
 * are split (the rest); the others are the body. Checks that the usage does not depend on how
 * the body is split (whole, two pieces, byte by byte, pieces of pseudo-random sizes), that the
 * reader never keeps more than its cap, and for event streams that it agrees with a plain
 * whole-buffer reading of the same rules (lines, fields, which events count, the cap). A
 * whole answer whose usage the reader saw is valid JSON to cJSON too, with the same usage. */
#define _GNU_SOURCE /* memmem */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "usage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SMALL_CAP 48

static bool same(const cc_usage_t *a, const cc_usage_t *b) {
    return a->seen == b->seen && a->input == b->input && a->output == b->output &&
           a->cache_creation == b->cache_creation && a->cache_read == b->cache_read &&
           a->web_search == b->web_search && a->web_fetch == b->web_fetch;
}

/* Reads `in`: mode 0 whole, 1 byte by byte, 2 two pieces at `arg`, 3 pieces of sizes drawn
 * from `arg`. */
static cc_usage_t read_as(cc_usage_form_t form, const char *in, size_t n, size_t cap, int mode,
                          size_t arg) {
    cc_usage_t u;
    cc_usage_reader_t *r = cc_usage_reader_new(form, &u);
    if (!r) abort();
    cc_usage_reader_limit(r, cap);
    size_t limit = form == CC_USAGE_SSE ? (cap ? cap : CC_USAGE_MAX_EVENT) : CC_USAGE_MAX_MEMBER;
    uint32_t x = (uint32_t)arg * 2654435761u + 1;
    size_t i = 0;
    while (i < n) {
        size_t k = n - i;
        if (mode == 1) k = 1;
        if (mode == 2) k = i < arg ? arg - i : n - i;
        if (mode == 3) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            k = 1 + x % 17;
        }
        if (k > n - i) k = n - i;
        cc_usage_feed(r, in + i, k);
        if (cc_usage_reader_held(r) > limit) abort();
        i += k;
    }
    cc_usage_finish(r);
    cc_usage_reader_free(r);
    return u;
}

/* --- the event stream rules, read from the whole buffer ------------------------------------ */

static void take_count(const cJSON *o, const char *key, unsigned long long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0) return;
    *out = (unsigned long long)fmin(v->valuedouble, 9007199254740992.0);
}

static void apply(const cJSON *u, cc_usage_t *out) {
    if (!cJSON_IsObject(u)) return;
    take_count(u, "input_tokens", &out->input);
    take_count(u, "output_tokens", &out->output);
    take_count(u, "cache_creation_input_tokens", &out->cache_creation);
    take_count(u, "cache_read_input_tokens", &out->cache_read);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(u, "server_tool_use");
    if (cJSON_IsObject(st)) {
        take_count(st, "web_search_requests", &out->web_search);
        take_count(st, "web_fetch_requests", &out->web_fetch);
    }
    out->seen = true;
}

static bool is(const char *s, size_t n, const char *want) {
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

typedef struct {
    const char *ev; /* the event's name so far */
    size_t ev_len;
    bool has_data, take;
    cc_buf_t data;
} ref_event_t;

static bool usage_name(const ref_event_t *e) {
    return is(e->ev, e->ev_len, "message_start") || is(e->ev, e->ev_len, "message_delta");
}

static void ref_dispatch(ref_event_t *e, size_t cap, cc_usage_t *u) {
    if (e->has_data && e->take && usage_name(e) && e->data.len <= cap) {
        cJSON *root = cJSON_ParseWithLength(e->data.data ? e->data.data : "", e->data.len);
        if (is(e->ev, e->ev_len, "message_start"))
            apply(cJSON_GetObjectItemCaseSensitive(
                      cJSON_GetObjectItemCaseSensitive(root, "message"), "usage"),
                  u);
        else
            apply(cJSON_GetObjectItemCaseSensitive(root, "usage"), u);
        cJSON_Delete(root);
    }
    cc_buf_reset(&e->data);
    e->has_data = e->take = false;
    e->ev_len = 0;
}

static cc_usage_t ref_sse(const char *in, size_t n, size_t cap) {
    cc_usage_t u;
    memset(&u, 0, sizeof u);
    ref_event_t e = {"", 0, false, false, CC_BUF_INIT};
    size_t i = 0;
    if (n >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < n) {
        size_t j = i;
        while (j < n && in[j] != '\n' && in[j] != '\r') j++;
        const char *line = in + i;
        size_t len = j - i;
        if (j < n) j += (in[j] == '\r' && j + 1 < n && in[j + 1] == '\n') ? 2 : 1;
        i = j;
        if (len == 0) {
            ref_dispatch(&e, cap, &u);
            continue;
        }
        if (line[0] == ':') continue;
        const char *colon = memchr(line, ':', len);
        size_t name_len = colon ? (size_t)(colon - line) : len;
        const char *value = colon ? colon + 1 : line + len;
        size_t vlen = (size_t)(line + len - value);
        if (vlen && value[0] == ' ') value++, vlen--;
        if (is(line, name_len, "event")) {
            e.ev = value;
            e.ev_len = vlen;
        } else if (is(line, name_len, "data")) {
            if (!e.has_data) {
                e.has_data = true;
                e.take = usage_name(&e);
            } else if (e.take) {
                cc_buf_append(&e.data, "\n", 1);
            }
            if (e.take) cc_buf_append(&e.data, value, vlen);
        }
    }
    ref_dispatch(&e, cap, &u);
    cc_buf_free(&e.data);
    return u;
}

/* --- whole answers: cJSON's reading, when the reader saw usage ----------------------------- */

static void check_json(const char *in, size_t n, const cc_usage_t *got) {
    /* cJSON's keys end at a NUL: "usage\u0000" would be "usage" to it. */
    if (!got->seen || memchr(in, '\0', n) || memmem(in, n, "\\u0000", 6)) return;
    char *copy = malloc(n + 1);
    if (!copy) return;
    memcpy(copy, in, n);
    copy[n] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, n + 1, &end, 1);
    if (root) { /* cJSON rejects some texts the scanner takes (lone surrogates); not the reverse */
        const cJSON *last = NULL, *m;
        cJSON_ArrayForEach(m, root) if (m->string && strcmp(m->string, "usage") == 0) last = m;
        cc_usage_t want;
        memset(&want, 0, sizeof want);
        apply(last, &want);
        if (!cJSON_IsObject(root) || !same(got, &want)) abort();
        cJSON_Delete(root);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t flags = data[0];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    cc_usage_form_t form = flags & 1 ? CC_USAGE_JSON : CC_USAGE_SSE;
    size_t cap = flags & 2 ? SMALL_CAP : 0;
    cc_usage_t whole = read_as(form, in, n, cap, 0, 0);
    cc_usage_t bytes = read_as(form, in, n, cap, 1, 0);
    cc_usage_t two = read_as(form, in, n, cap, 2, n ? (flags >> 2) % (n + 1) : 0);
    cc_usage_t parts = read_as(form, in, n, cap, 3, flags);
    if (!same(&whole, &bytes) || !same(&whole, &two) || !same(&whole, &parts)) abort();
    if (whole.seen && cc_usage_total(&whole) > 4 * 9007199254740992ull) abort();
    if (form == CC_USAGE_SSE) {
        cc_usage_t want = ref_sse(in, n, cap ? cap : CC_USAGE_MAX_EVENT);
        if (!same(&whole, &want)) abort();
    } else {
        check_json(in, n, &whole);
    }
    return 0;
}
