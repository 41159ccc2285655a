/* http_request.c: the client request parser (see http_request.h). */
#include "http/http_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

void cc_request_clear(cc_request_t *r) {
    free(r->method);
    free(r->target);
    free(r->path);
    free(r->query);
    cc_headers_free(&r->headers);
    cc_buf_free(&r->body);
    memset(r, 0, sizeof *r);
}

void cc_request_move(cc_request_t *dst, cc_request_t *src) {
    *dst = *src;
    src->method = src->target = src->path = src->query = NULL;
    src->headers = (cc_headers_t)CC_HEADERS_INIT;
    src->body = (cc_buf_t)CC_BUF_INIT;
}

#define P(h) ((cc_http_request_parser_t *)(h)->data)

static int fail(cc_http_request_parser_t *p, int status, const char *msg) {
    p->error_status = status;
    snprintf(p->error_msg, sizeof p->error_msg, "%s", msg);
    return -1;
}

static int on_message_begin(llhttp_t *h) {
    cc_http_request_parser_t *p = P(h);
    cc_request_clear(&p->req);
    p->in_message = true;
    p->header_value = false;
    p->header_bytes = 0;
    cc_buf_reset(&p->field);
    cc_buf_reset(&p->value);
    p->req.start_ns = uv_hrtime();
    if (p->ev.begin) p->ev.begin(p->ev.arg);
    return 0;
}

static int count_head(cc_http_request_parser_t *p, size_t len) {
    p->header_bytes += len;
    if (p->header_bytes > p->max_header_bytes)
        return fail(p, 431, "the request's headers are larger than ccproxy.server.max_header_bytes");
    return 0;
}

static int on_url(llhttp_t *h, const char *at, size_t len) {
    cc_http_request_parser_t *p = P(h);
    if (count_head(p, len) < 0) return -1;
    size_t old = p->req.target ? strlen(p->req.target) : 0;
    char *t = realloc(p->req.target, old + len + 1);
    if (!t) return fail(p, 500, "out of memory");
    memcpy(t + old, at, len);
    t[old + len] = '\0';
    p->req.target = t;
    return 0;
}

static int flush_header(cc_http_request_parser_t *p) {
    if (p->field.len == 0) return 0;
    int rc = cc_headers_add(&p->req.headers, p->field.data, p->field.len,
                            p->value.data ? p->value.data : "", p->value.len);
    cc_buf_reset(&p->field);
    cc_buf_reset(&p->value);
    return rc < 0 ? fail(p, 500, "out of memory") : 0;
}

static int on_header_field(llhttp_t *h, const char *at, size_t len) {
    cc_http_request_parser_t *p = P(h);
    if (count_head(p, len) < 0) return -1;
    if (p->header_value) {
        if (flush_header(p) < 0) return -1;
        p->header_value = false;
    }
    return cc_buf_append(&p->field, at, len) < 0 ? fail(p, 500, "out of memory") : 0;
}

static int on_header_value(llhttp_t *h, const char *at, size_t len) {
    cc_http_request_parser_t *p = P(h);
    if (count_head(p, len) < 0) return -1;
    p->header_value = true;
    return cc_buf_append(&p->value, at, len) < 0 ? fail(p, 500, "out of memory") : 0;
}

static int on_headers_complete(llhttp_t *h) {
    cc_http_request_parser_t *p = P(h);
    if (flush_header(p) < 0) return -1;
    cc_request_t *r = &p->req;
    r->method = strdup(llhttp_method_name((llhttp_method_t)h->method));
    r->http_major = h->http_major;
    r->http_minor = h->http_minor;
    r->keep_alive = llhttp_should_keep_alive(h);
    if (!r->target) r->target = strdup("/");
    if (!r->target || !r->method) return fail(p, 500, "out of memory");
    char *q = strchr(r->target, '?');
    r->path = q ? strndup(r->target, (size_t)(q - r->target)) : strdup(r->target);
    r->query = q ? strdup(q + 1) : NULL;
    if (!r->path) return fail(p, 500, "out of memory");
    if ((h->flags & F_CONTENT_LENGTH) && h->content_length > p->max_body_bytes)
        return fail(p, 413, "the request body is larger than ccproxy.server.max_body_bytes");
    if ((h->flags & F_CONTENT_LENGTH) && h->content_length > 0)
        cc_buf_reserve(&r->body, (size_t)h->content_length);
    if (p->ev.head) p->ev.head(p->ev.arg, r);
    return 0;
}

static int on_body(llhttp_t *h, const char *at, size_t len) {
    cc_http_request_parser_t *p = P(h);
    if (p->req.body.len + len > p->max_body_bytes)
        return fail(p, 413, "the request body is larger than ccproxy.server.max_body_bytes");
    if (cc_buf_append(&p->req.body, at, len) < 0) return fail(p, 500, "out of memory");
    if (p->ev.body) p->ev.body(p->ev.arg);
    return 0;
}

static int on_message_complete(llhttp_t *h) {
    P(h)->in_message = false;
    return HPE_PAUSED;
}

void cc_http_request_init(cc_http_request_parser_t *p, size_t max_header_bytes,
                          size_t max_body_bytes, const cc_http_request_events_t *ev) {
    memset(p, 0, sizeof *p);
    p->max_header_bytes = max_header_bytes;
    p->max_body_bytes = max_body_bytes;
    if (ev) p->ev = *ev;
    llhttp_settings_init(&p->settings);
    p->settings.on_message_begin = on_message_begin;
    p->settings.on_url = on_url;
    p->settings.on_header_field = on_header_field;
    p->settings.on_header_value = on_header_value;
    p->settings.on_headers_complete = on_headers_complete;
    p->settings.on_body = on_body;
    p->settings.on_message_complete = on_message_complete;
    llhttp_init(&p->parser, HTTP_REQUEST, &p->settings);
    p->parser.data = p;
}

int cc_http_request_feed(cc_http_request_parser_t *p, const char *data, size_t len,
                         size_t *consumed) {
    *consumed = len;
    if (p->error_status) return CC_HTTP_REQ_ERROR;
    llhttp_errno_t err = llhttp_execute(&p->parser, data, len);
    if (err == HPE_OK) return CC_HTTP_REQ_MORE;
    if (err == HPE_PAUSED) {
        const char *pos = llhttp_get_error_pos(&p->parser);
        if (pos && pos >= data && pos <= data + len) *consumed = (size_t)(pos - data);
        return CC_HTTP_REQ_DONE;
    }
    if (!p->error_status) {
        char msg[200];
        snprintf(msg, sizeof msg, "malformed HTTP request: %s",
                 llhttp_get_error_reason(&p->parser));
        fail(p, 400, msg);
    }
    return CC_HTTP_REQ_ERROR;
}

bool cc_http_request_in_progress(const cc_http_request_parser_t *p) {
    return p->in_message;
}

cc_request_t *cc_http_request_current(cc_http_request_parser_t *p) {
    return &p->req;
}

void cc_http_request_next(cc_http_request_parser_t *p) {
    cc_request_clear(&p->req);
    p->in_message = false;
    p->header_bytes = 0;
    llhttp_resume(&p->parser);
}

void cc_http_request_free(cc_http_request_parser_t *p) {
    cc_request_clear(&p->req);
    cc_buf_free(&p->field);
    cc_buf_free(&p->value);
}
