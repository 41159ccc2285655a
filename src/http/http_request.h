/* http_request.h: turning the bytes a client sends into cc_request_t values (llhttp), with the
 * limits ccproxy enforces: header block size (431), body size (413, for Content-Length and
 * chunked bodies alike), malformed input (400). Knows nothing of sockets, so it is unit-tested
 * and fuzzed on its own; conn.c feeds it.
 * Ownership: the parser owns the request it is building; cc_http_request_take hands it over. */
#ifndef CC_HTTP_REQUEST_H
#define CC_HTTP_REQUEST_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "http/conn.h"

typedef struct {
    /* Called when a request's first byte arrives, when its head is complete (for Expect:
     * 100-continue) and when body bytes arrive (to re-arm a timer). All optional. */
    void (*begin)(void *arg);
    void (*head)(void *arg, const cc_request_t *req);
    void (*body)(void *arg);
    void *arg;
} cc_http_request_events_t;

typedef struct {
    llhttp_t parser;
    llhttp_settings_t settings;
    cc_request_t req;
    cc_buf_t field, value;
    bool header_value;
    bool in_message;
    size_t header_bytes;
    size_t max_header_bytes;
    size_t max_body_bytes;
    int error_status;        /* 400, 413 or 431 after CC_HTTP_REQ_ERROR */
    char error_msg[200];
    cc_http_request_events_t ev;
} cc_http_request_parser_t;

enum { CC_HTTP_REQ_MORE = 0, CC_HTTP_REQ_DONE = 1, CC_HTTP_REQ_ERROR = -1 };

void cc_http_request_init(cc_http_request_parser_t *p, size_t max_header_bytes,
                          size_t max_body_bytes, const cc_http_request_events_t *ev);
/** Feeds bytes. CC_HTTP_REQ_DONE: a request is complete and *consumed bytes of `data` were
 *  used (the rest belongs to the next request: feed it after cc_http_request_next).
 *  CC_HTTP_REQ_MORE: all bytes used, the request is not complete yet. CC_HTTP_REQ_ERROR:
 *  error_status and error_msg say what to answer; the connection must close. */
int cc_http_request_feed(cc_http_request_parser_t *p, const char *data, size_t len,
                         size_t *consumed);
/** True while a request has started but is not complete. */
bool cc_http_request_in_progress(const cc_http_request_parser_t *p);
/** The complete request (valid until cc_http_request_next or _free). */
cc_request_t *cc_http_request_current(cc_http_request_parser_t *p);
/** Forgets the current request and gets ready for the next one. */
void cc_http_request_next(cc_http_request_parser_t *p);
void cc_http_request_free(cc_http_request_parser_t *p);
/** Frees the fields of a request (not the struct itself). */
void cc_request_clear(cc_request_t *r);
/** Moves the request's method, target, headers and body from `src` to `dst`, which then owns
 *  them (cc_request_clear); `src` keeps its HTTP version, keep-alive and start time, which
 *  the connection still needs for the response. */
void cc_request_move(cc_request_t *dst, cc_request_t *src);

#endif
