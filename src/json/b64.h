/* b64.h: standard base64 (RFC 4648, section 4: "+/" and "=" padding), into cc_buf_t. ccproxy
 * carries another provider's reasoning inside a thinking block's signature, and a web search
 * result's snippet inside `encrypted_content`, as base64. */
#ifndef CC_B64_H
#define CC_B64_H

#include <stddef.h>

#include "buf.h"

/** Appends the base64 of data[0..len), with padding. Returns 0 or -ENOMEM. */
int cc_b64_encode(cc_buf_t *out, const void *data, size_t len);
/** Appends the bytes that data[0..len) encodes; the padding is optional, and bits left over at
 *  the end are dropped. Returns 0, or -1 on a character outside the alphabet (or out of
 *  memory); what was appended before then stays. */
int cc_b64_decode(cc_buf_t *out, const char *data, size_t len);

#endif
