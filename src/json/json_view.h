/* json_view.h: read-only views into JSON text that is already known to be valid (checked
 * once with cc_json_validate): find members, walk arrays and objects, compare and decode
 * strings, without building a tree or copying. A translator can then copy string literals
 * into its output as they are (escapes included), which is both faster and exact.
 * A view points into the caller's text and lives as long as it. On text that is not valid
 * JSON the functions stay within the bytes given but their answers mean nothing. */
#ifndef CC_JSON_VIEW_H
#define CC_JSON_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/** One value's bytes; n == 0 means "absent". */
typedef struct {
    const char *p;
    size_t n;
} cc_jv_t;

/** An iterator over an array's values or an object's members. */
typedef struct {
    const char *pos;
    const char *end;
} cc_jv_iter_t;

/** The view of a whole text (one value, white space around it trimmed). */
cc_jv_t cc_jv(const char *text, size_t len);

static inline bool cc_jv_ok(cc_jv_t v) {
    return v.n > 0;
}
static inline bool cc_jv_is_object(cc_jv_t v) {
    return v.n && v.p[0] == '{';
}
static inline bool cc_jv_is_array(cc_jv_t v) {
    return v.n && v.p[0] == '[';
}
static inline bool cc_jv_is_string(cc_jv_t v) {
    return v.n && v.p[0] == '"';
}
static inline bool cc_jv_is_true(cc_jv_t v) {
    return v.n && v.p[0] == 't';
}
static inline bool cc_jv_is_number(cc_jv_t v) {
    return v.n && (v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9'));
}

/** Member `key` of an object (the last one when repeated), or an absent view. */
cc_jv_t cc_jv_get(cc_jv_t obj, const char *key);
/** Members keys[0..n) of an object in one pass: out[i] is the (last) value of keys[i], or an
 *  absent view. Cheaper than n calls of cc_jv_get on a large object. */
void cc_jv_pick(cc_jv_t obj, const char *const *keys, cc_jv_t *out, size_t n);
/** Starts iterating an array or object (an absent view or a scalar iterates nothing). */
void cc_jv_iter(cc_jv_t container, cc_jv_iter_t *it);
/** The next value (arrays) or member (objects: `key` gets the key literal). Returns false at
 *  the end. `key` may be NULL. */
bool cc_jv_next(cc_jv_iter_t *it, cc_jv_t *key, cc_jv_t *val);
/** Number of values or members. */
size_t cc_jv_count(cc_jv_t container);

/** The bytes between a string literal's quotes, still escaped (absent if not a string). */
cc_jv_t cc_jv_inner(cc_jv_t str);
/** Whether the string literal decodes to `s`. */
bool cc_jv_eq(cc_jv_t str, const char *s);
/** Whether the string literal's decoded text starts with `prefix`. */
bool cc_jv_prefix(cc_jv_t str, const char *prefix);
/** Whether the string literal is empty or only white space (space, tab, CR, LF). */
bool cc_jv_blank(cc_jv_t str);
/** Appends the decoded text of a string literal. Returns 0, or -1 when it is not one. */
int cc_jv_decode(cc_jv_t str, cc_buf_t *out);
/** The decoded text of a string literal as a new C string (NULL when it is not one). */
char *cc_jv_strdup(cc_jv_t str);
/** Appends the value without the white space between its tokens. */
void cc_jv_compact(cc_jv_t v, cc_buf_t *out);
/** A number's value, or `dflt` when it is not a number. */
double cc_jv_number(cc_jv_t v, double dflt);

#endif
