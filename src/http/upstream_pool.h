/* upstream_pool.h: connections to upstream origins (DNS with uv_getaddrinfo, TCP connect,
 * TLS handshake) and the per-worker keep-alive pool they return to, bounded per origin and
 * closed after an idle time. Steady traffic to one origin makes no new handshakes.
 *
 * Connecting tries every address the host resolves to, racing them as RFC 8305 (Happy
 * Eyeballs) describes: families interleaved, a new attempt when one fails or after
 * CC_POOL_ATTEMPT_DELAY_MS without an answer, the first to connect wins. The limits'
 * connect_timeout_ms bounds the whole of it (resolving, every attempt, the TLS handshake).
 *
 * Ownership: the pool owns idle connections; an acquired connection belongs to its user until
 * cc_upconn_release (back to the pool, or closed). After release or close the user gets no
 * more callbacks. */
#ifndef CC_UPSTREAM_POOL_H
#define CC_UPSTREAM_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>


/** RFC 8305's "connection attempt delay": how long an attempt may go unanswered before the
 *  next address is tried beside it. */
#define CC_POOL_ATTEMPT_DELAY_MS 250

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

/** How long connecting may take, and how many idle connections are kept, for how long. */
typedef struct {
    unsigned connect_timeout_ms; /* resolving, every address's attempt and the handshake */
    unsigned pool_max_idle;      /* idle connections kept per origin (8 times that in all) */
    unsigned pool_idle_ttl_ms;
} cc_pool_limits_t;

/** A pool; it keeps a copy of `limits`. */
cc_pool_t *cc_pool_new(uv_loop_t *loop, const cc_pool_limits_t *limits);
/** New limits (after a reload) for connections made or pooled from now on. */
void cc_pool_set_limits(cc_pool_t *p, const cc_pool_limits_t *limits);
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

/* --- internal, for the tests ----------------------------------------------------------- */

/** cc_pool_acquire's new-connection path with the addresses given instead of resolving
 *  `origin->host` (which still names the connection in messages and for TLS). The addresses
 *  (struct sockaddr_in or sockaddr_in6) are copied and ordered as by cc__order_addrs. Returns
 *  the connection, or NULL when ready has already reported a failure. */
cc_upconn_t *cc__pool_connect_addrs(cc_pool_t *p, const cc_origin_t *origin,
                                    const struct sockaddr *const *addrs, size_t n,
                                    const cc_upconn_handler_t *h, void *arg);
/** Orders resolved addresses the way connecting tries them, in place: duplicates and other
 *  families dropped, then IPv6 and IPv4 alternating, starting with the first address's
 *  family, each family in the resolver's order. Returns how many remain. */
size_t cc__order_addrs(struct sockaddr_storage *addrs, size_t n);

#endif
