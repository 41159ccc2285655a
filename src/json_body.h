/* json_body.h: reading and editing a request body without parsing and re-printing it.
 * Finds top-level members of a JSON object by scanning (strings and nesting are skipped, not
 * decoded), and rebuilds a body where only chosen members changed: every other byte stays
 * identical, which keeps upstream prompt caching and signatures intact.
 * No allocation except in the output buffer; safe on any input (fuzzed). */
#ifndef CC_JSON_BODY_H
#define CC_JSON_BODY_H

#include <stdbool.h>
#include <stddef.h>

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

/** Finds the top-level member `key` (compared after decoding the key's escapes) of the JSON
 *  object `body`. Returns 0 and the member, -1 when it is absent, -2 when body is not an
 *  object. The body need not be validated first; broken input returns -2. */
int cc_json_find_member(const char *body, size_t len, const char *key, cc_json_member_t *out);

/** Calls `fn` for each top-level member in order; stops early when fn returns non-zero and
 *  returns that value. Returns -2 when body is not an object. */
int cc_json_each_member(const char *body, size_t len,
                        int (*fn)(const char *body, const cc_json_member_t *m, void *arg),
                        void *arg);

/** Decodes the JSON string literal lit[0..len) (with its quotes) into `out` as UTF-8.
 *  Returns 0, or -1 when it is not a valid string literal. */
int cc_json_string_decode(const char *lit, size_t len, cc_buf_t *out);

/** An edit of one top-level member: set `key` to the raw JSON text `value` (NULL removes it). */
typedef struct {
    const char *key;
    const char *value;
    size_t value_len;
} cc_json_edit_t;

/** Writes `body` with the edits applied to `out`: a present member has its value bytes
 *  replaced (key, white space and commas kept), a removed member disappears with its comma,
 *  a new member is added before the closing brace. All other bytes are copied unchanged.
 *  Returns 0, or -2 when body is not an object. */
int cc_json_apply_edits(const char *body, size_t len, const cc_json_edit_t *edits,
                        size_t n_edits, cc_buf_t *out);

#endif
