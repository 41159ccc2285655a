/* headers.h: an ordered list of HTTP header fields. Names keep the case they arrived with and
 * compare case-insensitively; order is kept so requests go upstream as the client wrote them.
 * Ownership: the list owns copies of every name and value. */
#ifndef CC_HEADERS_H
#define CC_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

typedef struct {
    char *name;
    char *value;
} cc_header_t;

typedef struct {
    cc_header_t *items;
    size_t n;
    size_t cap;
} cc_headers_t;

#define CC_HEADERS_INIT {NULL, 0, 0}

/** Appends a field (copies). Returns 0 or -ENOMEM. */
int cc_headers_add(cc_headers_t *h, const char *name, size_t nlen, const char *value,
                   size_t vlen);
/** The first value of `name`, or NULL. */
const char *cc_headers_get(const cc_headers_t *h, const char *name);
/** Replaces every field named `name` by one with `value` (kept at the first one's place, or
 *  appended). Returns 0 or -ENOMEM. */
int cc_headers_set(cc_headers_t *h, const char *name, const char *value);
/** Removes every field named `name`; returns how many. */
size_t cc_headers_remove(cc_headers_t *h, const char *name);
/** Copies all fields of `src` onto the end of `dst`. */
int cc_headers_copy(cc_headers_t *dst, const cc_headers_t *src);
void cc_headers_free(cc_headers_t *h);

/** True for the hop-by-hop fields of RFC 9110 section 7.6.1 (Connection, Keep-Alive,
 *  Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Authenticate,
 *  Proxy-Authorization) and for any field the Connection header names. */
bool cc_headers_is_hop_by_hop(const cc_headers_t *h, const char *name);
/** True when the comma-separated header value contains `token` (case-insensitive). */
bool cc_header_has_token(const char *value, const char *token);

#endif
