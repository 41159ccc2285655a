/* upstream_pool.h: connections to upstream origins (DNS with uv_getaddrinfo, TCP connect,
 * TLS handshake) and the per-worker keep-alive pool they return to, bounded per origin and
 * closed after an idle time. Steady traffic to one origin makes no new handshakes.
 *
 * Ownership: the pool owns idle connections; an acquired connection belongs to its user until
 * cc_upconn_release (back to the pool, or closed). After release or close the user gets no
 * more callbacks. */
#ifndef CC_UPSTREAM_POOL_H
#define CC_UPSTREAM_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config.h"

typedef struct cc_pool_s cc_pool_t;
typedef struct cc_upconn_s cc_upconn_t;

/** Where to connect. `verify` and `ca_file` choose the TLS trust (https only). */
typedef struct {
    bool tls;
    const char *host;
    int port;
    bool verify;
    const char *ca_file;
} cc_origin_t;

/** What the user of a connection hears. All are optional but `ready` and `closed`. */
typedef struct {
    /** Connected (TCP and TLS) or reused: status 0; or failed: status < 0 and a message.
     *  `reused` tells a pooled connection from a fresh one. On failure the connection is
     *  already gone. */
    void (*ready)(cc_upconn_t *u, int status, const char *err, bool reused, void *arg);
    /** Plaintext from the upstream. */
    void (*data)(cc_upconn_t *u, const char *data, size_t len, void *arg);
    /** The upstream closed (status UV_EOF) or the connection failed; it is gone. */
    void (*closed)(cc_upconn_t *u, int status, const char *err, void *arg);
} cc_upconn_handler_t;

/** A pool; it keeps a copy of `limits`. */
cc_pool_t *cc_pool_new(uv_loop_t *loop, const cc_limits_t *limits);
/** New limits (after a reload) for connections made or pooled from now on. */
void cc_pool_set_limits(cc_pool_t *p, const cc_limits_t *limits);
/** Closes idle connections and stops keeping new ones (server shutdown). */
void cc_pool_shutdown(cc_pool_t *p);
/** Frees the pool; its loop must still be run afterwards to finish closing handles. */
void cc_pool_free(cc_pool_t *p);

/** Gets a connection to `origin`: an idle pooled one (ready is called before this returns)
 *  or a new one (ready is called later). Returns the connection, or NULL when ready has
 *  already reported a failure. */
cc_upconn_t *cc_pool_acquire(cc_pool_t *p, const cc_origin_t *origin,
                             const cc_upconn_handler_t *h, void *arg);
/** Sends bytes (encrypted when TLS). Returns 0 or -1. */
int cc_upconn_write(cc_upconn_t *u, const char *data, size_t len);
/** Stops / resumes reading (back-pressure). */
void cc_upconn_pause(cc_upconn_t *u);
void cc_upconn_resume(cc_upconn_t *u);
/** Gives the connection back: kept for reuse when `reusable`, else closed. */
void cc_upconn_release(cc_upconn_t *u, bool reusable);
/** Closes now (cancelled request or broken response). */
void cc_upconn_close(cc_upconn_t *u);
uv_loop_t *cc_pool_loop(cc_pool_t *p);

#endif
