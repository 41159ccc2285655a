/* buf.h: a growable byte buffer, the one container for bytes in ccproxy.
 * Ownership: a cc_buf_t owns its data; cc_buf_free releases it and leaves an empty buffer.
 * The data is always NUL-terminated (not counted in len) so it can be used as a C string. */
#ifndef CC_BUF_H
#define CC_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} cc_buf_t;

#define CC_BUF_INIT {NULL, 0, 0}

/** Makes room for at least `extra` more bytes. Returns 0 or -ENOMEM. */
int cc_buf_reserve(cc_buf_t *b, size_t extra);
/** Appends `len` bytes. Returns 0 or -ENOMEM. */
int cc_buf_append(cc_buf_t *b, const void *data, size_t len);
/** Appends a NUL-terminated string. */
int cc_buf_puts(cc_buf_t *b, const char *s);
/** Appends printf-formatted text. */
int cc_buf_printf(cc_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cc_buf_vprintf(cc_buf_t *b, const char *fmt, va_list ap);
/** Appends `s` as the inside of a JSON string (escaped, without quotes). */
int cc_buf_json_escape(cc_buf_t *b, const char *s, size_t len);
/** Drops the first `n` bytes. */
void cc_buf_consume(cc_buf_t *b, size_t n);
/** Empties the buffer but keeps its memory. */
void cc_buf_reset(cc_buf_t *b);
/** Releases the memory. */
void cc_buf_free(cc_buf_t *b);
/** Hands the data over to the caller (who frees it) and empties the buffer. */
char *cc_buf_steal(cc_buf_t *b, size_t *len);

#endif
