/* upstream.h: one HTTP/1.1 exchange with an upstream: takes a pooled connection, sends the
 * request, parses the response with llhttp and hands status, headers and body pieces to its
 * user as they arrive (nothing is buffered). Owns the connect, first-byte and idle timeouts;
 * retries once on a fresh connection when a reused one turns out closed before any response
 * byte. */
#ifndef CC_UPSTREAM_H
#define CC_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "http/headers.h"
#include "http/upstream_pool.h"

typedef struct cc_upstream_s cc_upstream_t;

typedef struct {
    cc_origin_t origin;
    const char *method;
    const char *target;  /* path and query */
    const cc_headers_t *headers; /* sent as given, plus Host and Content-Length */
    const char *body;
    size_t body_len;
    unsigned first_byte_timeout_ms;
    unsigned idle_timeout_ms;
} cc_upstream_req_t;

/** Kinds of failure, to pick the client's status. */
typedef enum {
    CC_UP_UNREACHABLE, /* resolve or connect failed, or connect timed out */
    CC_UP_TLS,         /* TLS handshake or verification failed */
    CC_UP_TIMEOUT,     /* no response headers in time, or silence inside the response */
    CC_UP_BROKEN,      /* the connection broke or the response was not valid HTTP */
    CC_UP_RESET,       /* the upstream reset the connection (ECONNRESET) */
} cc_up_fail_t;

typedef struct {
    /** Response status and headers (`content_length` -1 when not given). */
    void (*head)(void *arg, int status, const cc_headers_t *h, long long content_length);
    void (*body)(void *arg, const char *data, size_t len);
    void (*done)(void *arg);
    /** The exchange failed; `after_head` tells whether head was already called. */
    void (*fail)(void *arg, cc_up_fail_t kind, const char *msg, bool after_head);
} cc_upstream_cb_t;

/** Starts the exchange; the request memory must stay valid until done/fail/cancel.
 *  No callback runs before this returns. Returns NULL only when out of memory. */
cc_upstream_t *cc_upstream_start(cc_pool_t *pool, const cc_upstream_req_t *req,
                                 const cc_upstream_cb_t *cb, void *arg);
void cc_upstream_pause(cc_upstream_t *x);
void cc_upstream_resume(cc_upstream_t *x);
/** Abandons the exchange (the client left): the connection is closed, no more callbacks. */
void cc_upstream_cancel(cc_upstream_t *x);

#endif
