/* buf.h: a growable byte buffer, the one container for bytes in ccproxy.
 * Ownership: a cc_buf_t owns its data; cc_buf_free releases it and leaves an empty buffer.
 * The data is always NUL-terminated (not counted in len) so it can be used as a C string. */
#ifndef CC_BUF_H
#define CC_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} cc_buf_t;

#define CC_BUF_INIT {NULL, 0, 0}

/** Makes room for at least `extra` more bytes. Returns 0 or -ENOMEM. */
int cc_buf_reserve(cc_buf_t *b, size_t extra);
/** cc_buf_append when the bytes do not fit: grows the buffer, then appends. */
int cc_buf_append_grow(cc_buf_t *b, const void *data, size_t len);
/** Appends `len` bytes. Returns 0 or -ENOMEM. Inline: when they fit, a copy and no call. */
static inline int cc_buf_append(cc_buf_t *b, const void *data, size_t len) {
    if (len >= b->cap - b->len) return cc_buf_append_grow(b, data, len); /* room for the NUL */
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}
/** Appends a NUL-terminated string (a literal's length is known when this is compiled). */
static inline int cc_buf_puts(cc_buf_t *b, const char *s) {
    return cc_buf_append(b, s, strlen(s));
}
/** Appends printf-formatted text. */
int cc_buf_printf(cc_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cc_buf_vprintf(cc_buf_t *b, const char *fmt, va_list ap);
/** Appends a number in decimal, as "%llu" / "%lld" would, without printf's cost. */
int cc_buf_put_u64(cc_buf_t *b, uint64_t v);
int cc_buf_put_i64(cc_buf_t *b, int64_t v);
/** Appends `v` with `places` decimals (0..9), as "%.*f" would (rounded half away from zero
 *  where printf rounds the binary value: the last digit may differ on exact ties). */
int cc_buf_put_fixed(cc_buf_t *b, double v, int places);
/** Appends `s` as the inside of a JSON string (escaped, without quotes). */
int cc_buf_json_escape(cc_buf_t *b, const char *s, size_t len);
/** Appends the NUL-terminated `s` as a JSON string (quoted, escaped), or null when NULL. */
int cc_buf_json_string(cc_buf_t *b, const char *s);
/** Drops the first `n` bytes. */
void cc_buf_consume(cc_buf_t *b, size_t n);
/** Empties the buffer but keeps its memory. */
void cc_buf_reset(cc_buf_t *b);
/** Releases the memory. */
void cc_buf_free(cc_buf_t *b);
/** Hands the data over to the caller (who frees it) and empties the buffer. */
char *cc_buf_steal(cc_buf_t *b, size_t *len);

#endif
