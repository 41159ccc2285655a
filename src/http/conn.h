/* conn.h: one client connection (Claude Code or an SDK talking to ccproxy).
 *
 *   bytes in -> llhttp (limits, timeouts, 100-continue) -> cc_request_t -> host's dispatch
 *   handler  -> cc_conn_write_head / _write_body / _end   -> bytes out (chunked when needed)
 *
 * One request is handled at a time; pipelined bytes wait until the response ends. While a
 * request is being handled the socket is still read, so a client that goes away is noticed at
 * once and the handler's `gone` callback runs (the upstream request is then cancelled).
 * Ownership: the connection owns its cc_request_t; a handler borrows it until cc_conn_end or
 * until `gone` is called, after which it must not touch the connection again. */
#ifndef CC_CONN_H
#define CC_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "http/headers.h"

typedef struct cc_conn_s cc_conn_t;

typedef struct {
    char *method;
    char *target; /* as received: path and query */
    char *path;   /* target without the query */
    char *query;  /* after '?', or NULL */
    cc_headers_t headers;
    cc_buf_t body;
    int http_major;
    int http_minor;
    bool keep_alive;
    uint64_t start_ns; /* when the first byte of this request arrived */
} cc_request_t;

/** What a handler wants to hear about the client while it works. */
typedef struct {
    void (*drain)(void *arg); /* the write queue fell below the low-water mark */
    void (*gone)(void *arg);  /* the client closed or failed; stop using the connection */
    void *arg;
} cc_conn_observer_t;

/** Write-queue marks for back-pressure (bytes queued to the client socket). */
#define CC_CONN_HIGH_WATER (256 * 1024)
#define CC_CONN_LOW_WATER (64 * 1024)

/** Limits of the client side, in bytes and milliseconds. */
typedef struct {
    size_t max_header_bytes;
    size_t max_body_bytes;
    unsigned header_timeout_ms; /* a request's head and body must arrive within this */
    unsigned idle_timeout_ms;   /* a kept-alive connection may wait this long for a request */
} cc_conn_limits_t;

/** What the connections of one event loop share, owned by whoever runs the loop (a worker).
 *  The owner sets the loop, the limits (again after a reload), `dispatch` and the counters,
 *  and `stopping` at shutdown; the connections keep `conns`. */
typedef struct {
    uv_loop_t *loop;
    cc_conn_limits_t limits;
    bool stopping; /* close each connection after its current response */
    /** Handles one complete request. Must end in cc_conn_end (or cc_conn_abort). */
    void (*dispatch)(cc_conn_t *c, cc_request_t *req);
    void *owner;                           /* for the handler: cc_conn_owner */
    atomic_uint_fast64_t *next_request_id; /* shared by every loop of the process */
    atomic_uint_fast64_t *requests_total;
    cc_conn_t **conns;                     /* the open connections */
    size_t n_conns, cap_conns;
} cc_conn_host_t;

/** Accepts a connection from `server` (the listener) onto a new cc_conn_t. */
void cc_conn_accept(cc_conn_host_t *host, uv_stream_t *server);
/** Frees what the host holds for its connections (after they are all closed). */
void cc_conn_host_free(cc_conn_host_t *host);

/** The host's owner (the worker the connection belongs to). */
void *cc_conn_owner(const cc_conn_t *c);
/** The request id shown in logs and the x-ccproxy-request-id header ("r" + number). */
const char *cc_conn_request_id(cc_conn_t *c);
void cc_conn_set_observer(cc_conn_t *c, const cc_conn_observer_t *obs);
size_t cc_conn_write_queue(const cc_conn_t *c);
/** Sends the status line and headers. `content_length` < 0 means the body length is not
 *  known (chunked for HTTP/1.1 clients, close-delimited for HTTP/1.0). Content-Length,
 *  Transfer-Encoding, Connection and Date are set here; hop-by-hop fields in `h` are dropped.
 *  The answer to a HEAD request (and a 1xx, 204 or 304) has no body: the body calls are then
 *  no-ops, so a handler serves HEAD by serving GET. */
int cc_conn_write_head(cc_conn_t *c, int status, const cc_headers_t *h, long long content_length);
/** Sends body bytes (framed as the head said). Returns 0, or -1 when the client is gone. */
int cc_conn_write_body(cc_conn_t *c, const char *data, size_t len);
/** Finishes the response; the connection then reads the next request or closes. */
void cc_conn_end(cc_conn_t *c);
/** Ends a response that broke (its upstream's did): what is queued is written, then the
 *  connection closes without the rest of the framing (no last chunk, a body short of its
 *  Content-Length), with a FIN, or with a TCP reset when `reset` (the upstream reset its
 *  connection) or when only the close could end the body (HTTP/1.0). The client sees the
 *  broken answer a direct connection would have shown it. Its `gone` is not called. */
void cc_conn_break(cc_conn_t *c, bool reset);
/** Closes the connection now (a broken response: the client must not take it as complete).
 *  For the handler itself: its `gone` is not called. */
void cc_conn_abort(cc_conn_t *c);
/** Closes the connection now, whatever it is doing (the shutdown grace ran out): a handler
 *  still working on its request hears `gone` first. */
void cc_conn_close(cc_conn_t *c);
/** A whole response in one call. */
void cc_conn_respond(cc_conn_t *c, int status, const char *content_type, const char *body,
                     size_t len, const cc_headers_t *extra);
/** An Anthropic-shaped error response (api_error.h); type NULL = from the status. */
void cc_conn_respond_error(cc_conn_t *c, int status, const char *type, const char *message);
/** Asks the connection to close after the current response (server shutdown). */
void cc_conn_close_after_response(cc_conn_t *c);
/** Closes an idle connection (no request in progress); returns true if it was idle. */
bool cc_conn_close_if_idle(cc_conn_t *c);

#endif
