/* fuzz_json_body.c: the body scanner and editor on arbitrary bytes. The first byte picks up to
 * three edits, two bytes each (key and value choice); the rest is the body. Checks that find,
 * each and apply_edits agree with cc_json_validate about what is a valid object, that spans
 * stay inside the body, and that edits of a valid body always give a valid body that says what
 * the edits asked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_KEYS 16

typedef struct {
    char keys[MAX_KEYS][32];
    int n;
    size_t members;
    size_t len;
} seen_t;

static int collect(const char *body, const cc_json_member_t *m, void *arg) {
    seen_t *s = arg;
    cc_buf_t key = CC_BUF_INIT;
    if (m->key.start + m->key.len > s->len || m->value.start + m->value.len > s->len ||
        m->key.start + m->key.len > m->value.start)
        abort();
    if (cc_json_string_decode(body + m->key.start, m->key.len, &key) != 0) abort();
    if (cc_json_validate(body + m->value.start, m->value.len, NULL) != 0) abort();
    if (s->n < MAX_KEYS && key.len < 32 && (!key.data || strlen(key.data) == key.len)) {
        memcpy(s->keys[s->n], key.data ? key.data : "", key.len + 1);
        s->n++;
    }
    s->members++;
    cc_buf_free(&key);
    return 0;
}

static bool is_object(const char *body, size_t len) {
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return c == '{';
    }
    return false;
}

/* The value with the blanks around it trimmed, as find reports it. */
static bool same_value(const char *body, const cc_json_member_t *m, const char *v, size_t n) {
    while (n && (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\n' || v[n - 1] == '\r'))
        n--;
    return m->value.len == n && memcmp(body + m->value.start, v, n) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *fixed_keys[] = {"model", "stream", "a", "we\"ird", "", "mod\xc3\xa9l"};
    static const char *values[] = {
        "1",           "\"x\"",  "null",  "[]", "{}", " {\"a\" : [1, \"}\"]} ",
        "\"\\ud800\"", "-0.5e3", "{oops", ""};
    const size_t n_values = sizeof values / sizeof *values;
    if (size < 7) return 0;
    size_t n_edits = data[0] % 4;
    const uint8_t *sel = data + 1;
    const char *body = (const char *)data + 7;
    size_t len = size - 7;
    seen_t seen = {.n = 0, .members = 0, .len = len};
    cc_json_member_t m;
    cc_buf_t out = CC_BUF_INIT;

    bool valid = cc_json_validate(body, len, NULL) == 0;
    bool object = valid && is_object(body, len);

    /* find and each agree with the validator. */
    int rc = cc_json_find_member(body, len, "model", &m);
    if (object != (rc != -2)) abort();
    if (rc == 0 && (m.value.start + m.value.len > len || m.key.start >= m.value.start)) abort();
    rc = cc_json_each_member(body, len, collect, &seen);
    if (object != (rc == 0)) abort();

    /* Every key seen is found, with a value inside the body. */
    for (int i = 0; object && i < seen.n; i++) {
        if (cc_json_find_member(body, len, seen.keys[i], &m) != 0) abort();
    }

    /* Decoding the whole input as a literal never grows it. */
    if (cc_json_string_decode(body, len, &out) == 0 && out.len > len) abort();
    cc_buf_reset(&out);

    /* Edits: keys from the body or a fixed set, values valid or not. */
    cc_json_edit_t edits[3];
    char keybuf[3][32];
    for (size_t i = 0; i < n_edits; i++) {
        uint8_t k = sel[2 * i], v = sel[2 * i + 1];
        if (seen.n && (k & 1))
            memcpy(keybuf[i], seen.keys[(k >> 1) % seen.n], 32);
        else
            strcpy(keybuf[i], fixed_keys[(k >> 1) % (sizeof fixed_keys / sizeof *fixed_keys)]);
        edits[i].key = keybuf[i];
        if (v % (n_values + 1) == n_values) {
            edits[i].value = NULL;
            edits[i].value_len = 0;
        } else {
            edits[i].value = values[v % (n_values + 1)];
            edits[i].value_len = strlen(edits[i].value);
        }
    }
    rc = cc_json_apply_edits(body, len, edits, n_edits, &out);
    if (!object) {
        if (rc == 0) abort();
    } else if (rc == 0) {
        size_t at;
        if (cc_json_validate(out.data, out.len, &at) != 0) abort();
        for (size_t i = 0; i < n_edits; i++) {
            const cc_json_edit_t *last = &edits[i];
            for (size_t j = i + 1; j < n_edits; j++)
                if (strcmp(edits[j].key, edits[i].key) == 0) last = &edits[j];
            int f = cc_json_find_member(out.data, out.len, last->key, &m);
            if (last->value ? (f != 0 || !same_value(out.data, &m, last->value, last->value_len))
                            : f != -1)
                abort();
        }
        /* No edits: a byte-for-byte copy. */
        if (n_edits == 0 && (out.len != len || memcmp(out.data, body, len) != 0)) abort();
    } else {
        /* Only a bad value can fail a valid object. */
        bool bad = false;
        for (size_t i = 0; i < n_edits; i++)
            bad |= edits[i].value && cc_json_validate(edits[i].value, edits[i].value_len, NULL);
        if (!bad || rc != -1 || out.len != 0) abort();
    }
    cc_buf_free(&out);
    return 0;
}
