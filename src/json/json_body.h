/* json_body.h: reading and editing a request body without parsing and re-printing it.
 * Finds top-level members of a JSON object by scanning (strings and nesting are skipped, not
 * decoded), and rebuilds a body where only chosen members changed: every other byte stays
 * identical, which keeps upstream prompt caching and signatures intact.
 * No allocation except in the output buffer; safe on any input (fuzzed).
 * "Valid" everywhere here means RFC 8259 with UTF-8 checked inside strings and nesting at most
 * 512; functions that scan an object read all of it, so broken input anywhere is reported.
 * Duplicate keys: the LAST occurrence wins (as JSON.parse and most servers do). */
#ifndef CC_JSON_BODY_H
#define CC_JSON_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/** A byte range of the body. */
typedef struct {
    size_t start;
    size_t len;
} cc_span_t;

/** One top-level member: key (the literal with its quotes) and raw value. */
typedef struct {
    cc_span_t key;
    cc_span_t value;
} cc_json_member_t;

/** Checks that body[0..len) is exactly one JSON value (RFC 8259, surrounding white space
 *  allowed) with nesting at most 512. Returns 0, or -1 with *err_offset at the first bad byte. */
int cc_json_validate(const char *body, size_t len, size_t *err_offset);

/** Finds the top-level member `key` (compared after decoding the key's escapes, so
 *  "mod\u0065l" is "model") of the JSON object `body`. With duplicate keys the last one is
 *  returned. Returns 0 and the member, -1 when it is absent, -2 when body is not an object.
 *  The body need not be validated first; broken input returns -2. */
int cc_json_find_member(const char *body, size_t len, const char *key, cc_json_member_t *out);

/** Calls `fn` for each top-level member in order (duplicates included); stops early when fn
 *  returns non-zero and returns that value. Returns 0, or -2 when body is not an object; broken
 *  input is found as the scan reaches it, so fn may have seen the members before it. */
int cc_json_each_member(const char *body, size_t len,
                        int (*fn)(const char *body, const cc_json_member_t *m, void *arg),
                        void *arg);

/** Appends the JSON string literal lit[0..len) (with its quotes), decoded, to `out` as UTF-8:
 *  surrogate pairs combine, a lone surrogate becomes U+FFFD. Returns 0, -1 when it is not a
 *  valid string literal, or -ENOMEM. */
int cc_json_string_decode(const char *lit, size_t len, cc_buf_t *out);

/** An edit of one top-level member: set `key` to the raw JSON text `value` (NULL removes it). */
typedef struct {
    const char *key;
    const char *value;
    size_t value_len;
} cc_json_edit_t;

/** Appends `body` with the edits applied to `out`: a present member has its value bytes
 *  replaced (key, white space and commas kept), a removed member disappears with exactly one
 *  adjacent comma, a new member is added as "key":value right after the last remaining member
 *  (before the closing brace). A key present several times: the last occurrence is edited and
 *  the earlier ones are removed. Several edits of one key: the last edit wins. All other bytes
 *  are copied unchanged, so valid input gives valid output. At most 64 edits; every value must
 *  be valid JSON and every key UTF-8. Returns 0, -1 for bad edits, -2 when body is not an
 *  object, or -ENOMEM; on error `out` is left as it was. */
int cc_json_apply_edits(const char *body, size_t len, const cc_json_edit_t *edits,
                        size_t n_edits, cc_buf_t *out);

/* Internal pieces of the scanner, shared with tokens.c only. Each takes the position of a
 * token's first byte and returns the position just past it, or NULL when it is not valid. */
const char *cc__json_skip_ws(const char *p, const char *end);
/* p at the opening quote; *escaped (may be NULL) tells whether the literal holds a backslash. */
const char *cc__json_skip_string(const char *p, const char *end, bool *escaped);
/* One value (leading white space allowed) inside `depth` containers; nesting stays <= 512. */
const char *cc__json_skip_value(const char *p, const char *end, int depth);
/* The escape sequence at p (a backslash, before end) as a code point in *cp: surrogate pairs
 * combine, a lone surrogate is U+FFFD. Returns the byte after it, or NULL when malformed. */
const char *cc__json_unescape(const char *p, const char *end, uint32_t *cp);
/* Whether the key literal lit[0..len) (with quotes) decodes to key[0..key_len). */
bool cc__json_key_equals(const char *lit, size_t len, bool escaped, const char *key,
                         size_t key_len);

#endif
