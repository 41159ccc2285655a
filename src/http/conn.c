/* conn.c: the client connection state machine (see conn.h).
 *
 *   accept -> READING (llhttp; idle timer, then header timer once bytes arrive)
 *          -> HANDLING (parser paused; socket still read to notice a vanished client)
 *          -> response written -> READING again (keep-alive) or CLOSING
 */
#include "http/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/api_error.h"
#include "http/http_request.h"
#include "log.h"

typedef enum { ST_READING, ST_HANDLING, ST_CLOSING } conn_state_t;

struct cc_conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    cc_conn_host_t *host;
    cc_http_request_parser_t rp;
    conn_state_t state;
    cc_buf_t pending;     /* bytes that arrived while a request was being handled */
    bool head_sent;
    bool chunked;         /* response framing */
    bool close_after;     /* close once the response is written */
    bool close_delimited; /* HTTP/1.0 body without length: close ends it */
    bool head_request;    /* the request being answered is a HEAD */
    bool no_body;         /* HEAD, 1xx, 204, 304: the head is the whole response */
    size_t write_queued;
    bool write_failed;    /* a write failed at once: the connection closes on the next turn */
    bool reset_on_drain;  /* a broken answer: reset the connection once the queue is written */
    cc_conn_observer_t obs;
    char request_id[24];
    char read_buf[65536];
    int handles_open;
};

typedef struct {
    uv_write_t req;
    cc_conn_t *c;
    size_t len;
    char data[];
} write_req_t;

static void conn_close(cc_conn_t *c);
static void process_input(cc_conn_t *c, const char *data, size_t len);

/* --- small helpers --------------------------------------------------------------------- */

void *cc_conn_owner(const cc_conn_t *c) {
    return c->host->owner;
}

static void track(cc_conn_t *c) {
    cc_conn_host_t *h = c->host;
    if (h->n_conns == h->cap_conns) {
        size_t cap = h->cap_conns ? h->cap_conns * 2 : 64;
        cc_conn_t **p = realloc(h->conns, cap * sizeof *p);
        if (!p) return; /* untracked: still served, only not closed by a shutdown */
        h->conns = p;
        h->cap_conns = cap;
    }
    h->conns[h->n_conns++] = c;
}

static void untrack(cc_conn_t *c) {
    cc_conn_host_t *h = c->host;
    for (size_t i = 0; i < h->n_conns; i++) {
        if (h->conns[i] == c) {
            h->conns[i] = h->conns[--h->n_conns];
            return;
        }
    }
}

void cc_conn_host_free(cc_conn_host_t *host) {
    free(host->conns);
    host->conns = NULL;
    host->n_conns = host->cap_conns = 0;
}

const char *cc_conn_request_id(cc_conn_t *c) {
    return c->request_id;
}

void cc_conn_set_observer(cc_conn_t *c, const cc_conn_observer_t *obs) {
    if (obs)
        c->obs = *obs;
    else
        memset(&c->obs, 0, sizeof c->obs);
}

size_t cc_conn_write_queue(const cc_conn_t *c) {
    return c->write_queued;
}

static void arm_timer(cc_conn_t *c, unsigned ms);

static void on_timeout(uv_timer_t *t) {
    cc_conn_t *c = t->data;
    if (c->state != ST_READING) return;
    if (cc_http_request_in_progress(&c->rp)) {
        cc_debug("client %s: request not received within %u ms; closing", c->request_id,
                 c->host->limits.header_timeout_ms);
        cc_conn_respond_error(c, 408, "invalid_request_error",
                              "the request was not received in time");
        return;
    }
    conn_close(c);
}

static void arm_timer(cc_conn_t *c, unsigned ms) {
    if (ms) uv_timer_start(&c->timer, on_timeout, ms, 0);
}

/* --- writing --------------------------------------------------------------------------- */

static void reset_close(cc_conn_t *c);

static void on_write(uv_write_t *wr, int status) {
    write_req_t *r = (write_req_t *)wr;
    cc_conn_t *c = r->c;
    c->write_queued -= r->len;
    free(r);
    if (c->reset_on_drain && c->write_queued == 0) {
        reset_close(c);
        return;
    }
    if (status < 0 && c->state != ST_CLOSING) {
        conn_close(c);
        return;
    }
    if (c->state == ST_CLOSING) return;
    if (c->write_queued < CC_CONN_LOW_WATER && c->obs.drain) c->obs.drain(c->obs.arg);
}

/* Queues `n` pieces as one write. Returns 0, or -1 when the connection is closing. */
static void on_close_soon(uv_timer_t *t) {
    conn_close(t->data);
}

/* A write that fails at once happens inside a handler's call (say, relaying a piece of the
 * upstream's answer): closing here would run the handler's `gone` callback under its feet.
 * Close on the next loop turn instead; until then every write fails. */
static void close_soon(cc_conn_t *c) {
    c->write_failed = true;
    uv_timer_start(&c->timer, on_close_soon, 0, 0);
}

static int write_pieces(cc_conn_t *c, const uv_buf_t *pieces, size_t n) {
    if (c->state == ST_CLOSING || c->write_failed) return -1;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += pieces[i].len;
    if (total == 0) return 0;
    write_req_t *r = malloc(sizeof *r + total);
    if (!r) {
        close_soon(c);
        return -1;
    }
    r->c = c;
    r->len = total;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(r->data + off, pieces[i].base, pieces[i].len);
        off += pieces[i].len;
    }
    uv_buf_t b = uv_buf_init(r->data, (unsigned)total);
    c->write_queued += total;
    int rc = uv_write(&r->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {
        c->write_queued -= total;
        free(r);
        close_soon(c);
        return -1;
    }
    return 0;
}

static const char *status_text(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Overloaded";
    default: return "Status";
    }
}

int cc_conn_write_head(cc_conn_t *c, int status, const cc_headers_t *h, long long content_length) {
    if (c->head_sent || c->state == ST_CLOSING) return -1;
    cc_buf_t out = CC_BUF_INIT;
    const cc_request_t *req = cc_http_request_current(&c->rp);
    int minor = req->http_major == 1 && req->http_minor == 0 ? 0 : 1;
    cc_buf_printf(&out, "HTTP/1.%d %d %s\r\n", minor, status, status_text(status));
    if (h) {
        for (size_t i = 0; i < h->n; i++) {
            const cc_header_t *f = &h->items[i];
            if (cc_headers_is_hop_by_hop(h, f->name) || strcasecmp(f->name, "content-length") == 0 ||
                strcasecmp(f->name, "date") == 0)
                continue;
            cc_buf_printf(&out, "%s: %s\r\n", f->name, f->value);
        }
    }
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cc_buf_printf(&out, "Date: %s\r\n", date);
    cc_buf_printf(&out, "x-ccproxy-request-id: %s\r\n", c->request_id);
    c->chunked = false;
    c->close_delimited = false;
    c->no_body = c->head_request || status == 204 || status == 304 ||
                 (status >= 100 && status < 200);
    if (c->no_body) {
        /* The length a GET would have had, when known; never a body, never chunk framing. */
        if (content_length >= 0 && status != 204 && status != 304)
            cc_buf_printf(&out, "Content-Length: %lld\r\n", content_length);
    } else if (content_length >= 0) {
        cc_buf_printf(&out, "Content-Length: %lld\r\n", content_length);
    } else if (minor == 1) {
        cc_buf_puts(&out, "Transfer-Encoding: chunked\r\n");
        c->chunked = true;
    } else {
        c->close_delimited = true;
        c->close_after = true;
    }
    if (!req->keep_alive || c->host->stopping) c->close_after = true;
    cc_buf_puts(&out, c->close_after ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n");
    uv_buf_t piece = uv_buf_init(out.data, (unsigned)out.len);
    int rc = write_pieces(c, &piece, 1);
    cc_buf_free(&out);
    c->head_sent = true;
    return rc;
}

int cc_conn_write_body(cc_conn_t *c, const char *data, size_t len) {
    if (c->state == ST_CLOSING) return -1;
    if (len == 0 || c->no_body) return 0;
    if (!c->chunked) {
        uv_buf_t piece = uv_buf_init((char *)data, (unsigned)len);
        return write_pieces(c, &piece, 1);
    }
    char size_line[24];
    int n = snprintf(size_line, sizeof size_line, "%zx\r\n", len);
    uv_buf_t pieces[3] = {uv_buf_init(size_line, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                          uv_buf_init("\r\n", 2)};
    return write_pieces(c, pieces, 3);
}

static void start_next_request(cc_conn_t *c);

static void on_shutdown(uv_shutdown_t *s, int status) {
    cc_conn_t *c = s->data;
    free(s);
    conn_close(c);
}

/* Closes after everything queued has been written. */
static void close_gracefully(cc_conn_t *c) {
    if (c->state == ST_CLOSING) return;
    uv_shutdown_t *s = malloc(sizeof *s);
    if (!s || uv_shutdown(s, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(s);
        conn_close(c);
        return;
    }
    s->data = c;
    c->state = ST_CLOSING; /* no more writes; on_shutdown closes the handles */
    memset(&c->obs, 0, sizeof c->obs);
    uv_read_stop((uv_stream_t *)&c->tcp);
}

void cc_conn_end(cc_conn_t *c) {
    if (c->state == ST_CLOSING) return;
    if (c->write_failed) { /* the handler is done with it: close now, nobody to tell */
        memset(&c->obs, 0, sizeof c->obs);
        c->state = ST_READING;
        conn_close(c);
        return;
    }
    if (c->chunked) {
        uv_buf_t last = uv_buf_init("0\r\n\r\n", 5);
        write_pieces(c, &last, 1);
    }
    memset(&c->obs, 0, sizeof c->obs);
    if (c->close_after || c->host->stopping) {
        close_gracefully(c);
        return;
    }
    start_next_request(c);
}

void cc_conn_break(cc_conn_t *c, bool reset) {
    if (c->state == ST_CLOSING) return;
    memset(&c->obs, 0, sizeof c->obs);
    if (c->write_failed) {
        c->state = ST_READING;
        conn_close(c);
        return;
    }
    /* A body delimited by the close would look complete after a FIN: it is reset too. */
    if (!reset && !c->close_delimited) {
        close_gracefully(c); /* FIN after what is queued; no last chunk went out */
        return;
    }
    c->state = ST_CLOSING;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (c->write_queued == 0)
        reset_close(c);
    else
        c->reset_on_drain = true; /* on_write resets it when the last byte is written */
}

void cc_conn_abort(cc_conn_t *c) {
    memset(&c->obs, 0, sizeof c->obs);
    conn_close(c);
}

void cc_conn_close(cc_conn_t *c) {
    conn_close(c);
}

void cc_conn_respond(cc_conn_t *c, int status, const char *content_type, const char *body,
                     size_t len, const cc_headers_t *extra) {
    cc_headers_t h = CC_HEADERS_INIT;
    if (extra) cc_headers_copy(&h, extra);
    if (content_type) cc_headers_set(&h, "Content-Type", content_type);
    if (cc_conn_write_head(c, status, &h, (long long)len) == 0) cc_conn_write_body(c, body, len);
    cc_headers_free(&h);
    cc_conn_end(c);
}

void cc_conn_respond_error(cc_conn_t *c, int status, const char *type, const char *message) {
    cc_buf_t body = CC_BUF_INIT;
    cc_api_error_json(&body, type ? type : cc_api_error_type(status), message);
    if (c->state == ST_READING) {
        /* Rejected while reading: answer, then close (the rest of the request is unread). */
        c->close_after = true;
        c->state = ST_HANDLING;
    }
    cc_conn_respond(c, status, "application/json", body.data, body.len, NULL);
    cc_buf_free(&body);
}

void cc_conn_close_after_response(cc_conn_t *c) {
    c->close_after = true;
}

bool cc_conn_close_if_idle(cc_conn_t *c) {
    if (c->state != ST_READING || cc_http_request_in_progress(&c->rp)) return false;
    conn_close(c);
    return true;
}

/* --- closing --------------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h) {
    cc_conn_t *c = h->data;
    if (--c->handles_open > 0) return;
    cc_http_request_free(&c->rp);
    cc_buf_free(&c->pending);
    free(c);
}

static void conn_close(cc_conn_t *c) {
    if (c->handles_open == 0) return;
    if (c->state == ST_CLOSING && uv_is_closing((uv_handle_t *)&c->tcp)) return;
    bool was_handling = c->state == ST_HANDLING;
    c->state = ST_CLOSING;
    cc_conn_observer_t obs = c->obs;
    memset(&c->obs, 0, sizeof c->obs);
    if (was_handling && obs.gone) obs.gone(obs.arg);
    untrack(c);
    if (!uv_is_closing((uv_handle_t *)&c->timer)) uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

/* Closes with a TCP reset (RST) instead of a FIN. */
static void reset_close(cc_conn_t *c) {
    c->reset_on_drain = false;
    if (c->handles_open == 0 || uv_is_closing((uv_handle_t *)&c->tcp)) return;
    c->state = ST_CLOSING;
    memset(&c->obs, 0, sizeof c->obs);
    untrack(c);
    if (!uv_is_closing((uv_handle_t *)&c->timer)) uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    if (uv_tcp_close_reset(&c->tcp, on_handle_closed) < 0) uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

/* --- reading --------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    cc_conn_t *c = h->data;
    *buf = uv_buf_init(c->read_buf, sizeof c->read_buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    cc_conn_t *c = s->data;
    if (nread < 0) {
        /* EOF or error: the client is gone (or done). */
        conn_close(c);
        return;
    }
    if (nread == 0) return;
    if (c->state == ST_HANDLING) {
        /* Pipelined bytes: keep them for later, but never without bound. */
        if (c->pending.len + (size_t)nread > c->host->limits.max_body_bytes + 65536) {
            cc_warn("client %s: too much pipelined data; closing", c->request_id);
            conn_close(c);
            return;
        }
        cc_buf_append(&c->pending, buf->base, (size_t)nread);
        return;
    }
    if (c->state != ST_READING) return;
    process_input(c, buf->base, (size_t)nread);
}

static void dispatch_request(cc_conn_t *c) {
    uv_timer_stop(&c->timer);
    c->state = ST_HANDLING;
    c->head_sent = false;
    c->chunked = false;
    c->no_body = false;
    const cc_request_t *req = cc_http_request_current(&c->rp);
    c->head_request = req->method && strcmp(req->method, "HEAD") == 0; /* a handler may take req */
    uint64_t id = atomic_fetch_add(c->host->next_request_id, 1);
    snprintf(c->request_id, sizeof c->request_id, "r%llu", (unsigned long long)id);
    atomic_fetch_add(c->host->requests_total, 1);
    c->host->dispatch(c, cc_http_request_current(&c->rp));
}

static void process_input(cc_conn_t *c, const char *data, size_t len) {
    size_t used = 0;
    int rc = cc_http_request_feed(&c->rp, data, len, &used);
    if (rc == CC_HTTP_REQ_MORE) return;
    if (rc == CC_HTTP_REQ_DONE) {
        /* A complete request: keep what follows it for the next round. */
        if (used < len) cc_buf_append(&c->pending, data + used, len - used);
        dispatch_request(c);
        return;
    }
    cc_debug("client: %s", c->rp.error_msg);
    uv_timer_stop(&c->timer);
    cc_conn_respond_error(c, c->rp.error_status, NULL, c->rp.error_msg);
}

static void start_next_request(cc_conn_t *c) {
    c->head_request = false;
    cc_http_request_next(&c->rp);
    c->state = ST_READING;
    c->head_sent = false;
    c->chunked = false;
    arm_timer(c, c->host->limits.idle_timeout_ms);
    if (c->pending.len) {
        cc_buf_t p = c->pending;
        c->pending = (cc_buf_t)CC_BUF_INIT;
        process_input(c, p.data, p.len);
        cc_buf_free(&p);
    }
}

/* --- parser events --------------------------------------------------------------------- */

static void on_request_begin(void *arg) {
    cc_conn_t *c = arg;
    arm_timer(c, c->host->limits.header_timeout_ms);
}

static void on_request_head(void *arg, const cc_request_t *r) {
    cc_conn_t *c = arg;
    const char *expect = cc_headers_get(&r->headers, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && r->http_minor >= 1) {
        uv_buf_t cont = uv_buf_init("HTTP/1.1 100 Continue\r\n\r\n", 25);
        write_pieces(c, &cont, 1);
    }
}

static void on_request_body(void *arg) {
    cc_conn_t *c = arg;
    arm_timer(c, c->host->limits.header_timeout_ms);
}

void cc_conn_accept(cc_conn_host_t *host, uv_stream_t *server) {
    cc_conn_t *c = calloc(1, sizeof *c);
    if (!c) return;
    c->host = host;
    uv_tcp_init(host->loop, &c->tcp);
    uv_timer_init(host->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    snprintf(c->request_id, sizeof c->request_id, "-");
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        c->state = ST_CLOSING;
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    cc_http_request_events_t ev = {on_request_begin, on_request_head, on_request_body, c};
    cc_http_request_init(&c->rp, c->host->limits.max_header_bytes, c->host->limits.max_body_bytes,
                         &ev);
    c->state = ST_READING;
    track(c);
    arm_timer(c, c->host->limits.idle_timeout_ms);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}
