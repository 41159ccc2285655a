/* fuzz_http_request.c: the client request parser on arbitrary bytes, fed in two pieces at a
 * split point taken from the input; every complete request is checked for consistency and
 * pipelined requests are parsed until the input ends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t split = data[0] % (size);
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    cc_http_request_parser_t p;
    cc_http_request_init(&p, 4096, 65536, NULL);
    size_t off = 0;
    size_t pieces[2] = {split < len ? split : len, len};
    for (int i = 0; i < 2 && off < len; i++) {
        while (off < pieces[i]) {
            size_t used = 0;
            int rc = cc_http_request_feed(&p, in + off, pieces[i] - off, &used);
            if (rc == CC_HTTP_REQ_ERROR) goto out;
            if (used > pieces[i] - off) abort();
            off += used;
            if (rc == CC_HTTP_REQ_DONE) {
                cc_request_t *r = cc_http_request_current(&p);
                if (!r->method || !r->path || !r->target) abort();
                if (r->body.len > 65536) abort();
                if (strncmp(r->target, r->path, strlen(r->path)) != 0) abort();
                cc_http_request_next(&p);
            } else {
                break;
            }
        }
    }
out:
    cc_http_request_free(&p);
    return 0;
}
