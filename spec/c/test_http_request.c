/* test_http_request.c: the client request parser: framing, limits and errors. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http/http_request.h"

static int feed_all(cc_http_request_parser_t *p, const char *s, size_t *used) {
    return cc_http_request_feed(p, s, strlen(s), used);
}

static void test_simple_post(void) {
    cc_http_request_parser_t p;
    cc_http_request_init(&p, 65536, 1 << 20, NULL);
    const char *s = "POST /v1/messages?beta=true HTTP/1.1\r\nHost: x\r\nX-Api-Key: k\r\n"
                    "Content-Length: 2\r\n\r\n{}";
    size_t used;
    CHECK_EQ_INT(feed_all(&p, s, &used), CC_HTTP_REQ_DONE);
    CHECK_EQ_INT(used, strlen(s));
    cc_request_t *r = cc_http_request_current(&p);
    CHECK_EQ_STR(r->method, "POST");
    CHECK_EQ_STR(r->path, "/v1/messages");
    CHECK_EQ_STR(r->query, "beta=true");
    CHECK_EQ_STR(r->target, "/v1/messages?beta=true");
    CHECK_EQ_STR(cc_headers_get(&r->headers, "x-api-key"), "k");
    CHECK_EQ_INT(r->body.len, 2);
    CHECK(r->keep_alive);
    cc_http_request_free(&p);
}

static void test_byte_by_byte_and_chunked(void) {
    cc_http_request_parser_t p;
    cc_http_request_init(&p, 65536, 1 << 20, NULL);
    const char *s = "POST /v1/messages HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
    size_t n = strlen(s), used = 0;
    int rc = CC_HTTP_REQ_MORE;
    for (size_t i = 0; i < n && rc == CC_HTTP_REQ_MORE; i++) rc = cc_http_request_feed(&p, s + i, 1, &used);
    CHECK_EQ_INT(rc, CC_HTTP_REQ_DONE);
    cc_request_t *r = cc_http_request_current(&p);
    CHECK_EQ_INT(r->body.len, 7);
    CHECK(r->body.data && memcmp(r->body.data, "{\"a\":1}", 7) == 0);
    CHECK(r->query == NULL);
    cc_http_request_free(&p);
}

static void test_pipelined(void) {
    cc_http_request_parser_t p;
    cc_http_request_init(&p, 65536, 1 << 20, NULL);
    const char *s = "GET /health HTTP/1.1\r\n\r\nGET /v1/models HTTP/1.1\r\n\r\n";
    size_t used;
    CHECK_EQ_INT(feed_all(&p, s, &used), CC_HTTP_REQ_DONE);
    CHECK_EQ_STR(cc_http_request_current(&p)->path, "/health");
    CHECK(used < strlen(s));
    cc_http_request_next(&p);
    size_t used2;
    CHECK_EQ_INT(cc_http_request_feed(&p, s + used, strlen(s) - used, &used2), CC_HTTP_REQ_DONE);
    CHECK_EQ_STR(cc_http_request_current(&p)->path, "/v1/models");
    cc_http_request_free(&p);
}

static void test_limits(void) {
    cc_http_request_parser_t p;
    size_t used;
    cc_http_request_init(&p, 64, 1 << 20, NULL);
    char big[256];
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX-Long: %080d\r\n\r\n", 0);
    CHECK_EQ_INT(feed_all(&p, big, &used), CC_HTTP_REQ_ERROR);
    CHECK_EQ_INT(p.error_status, 431);
    cc_http_request_free(&p);

    cc_http_request_init(&p, 65536, 10, NULL);
    CHECK_EQ_INT(feed_all(&p, "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", &used),
                 CC_HTTP_REQ_ERROR);
    CHECK_EQ_INT(p.error_status, 413);
    cc_http_request_free(&p);

    cc_http_request_init(&p, 65536, 10, NULL);
    CHECK_EQ_INT(feed_all(&p, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "6\r\n123456\r\n6\r\n123456\r\n0\r\n\r\n", &used),
                 CC_HTTP_REQ_ERROR);
    CHECK_EQ_INT(p.error_status, 413);
    cc_http_request_free(&p);
}

static void test_malformed(void) {
    cc_http_request_parser_t p;
    size_t used;
    cc_http_request_init(&p, 65536, 1 << 20, NULL);
    CHECK_EQ_INT(feed_all(&p, "HELLO\r\n\r\n", &used), CC_HTTP_REQ_ERROR);
    CHECK_EQ_INT(p.error_status, 400);
    CHECK(strstr(p.error_msg, "malformed HTTP request") != NULL);
    /* Once failed, it stays failed. */
    CHECK_EQ_INT(feed_all(&p, "GET / HTTP/1.1\r\n\r\n", &used), CC_HTTP_REQ_ERROR);
    cc_http_request_free(&p);

    cc_http_request_init(&p, 65536, 1 << 20, NULL);
    CHECK_EQ_INT(feed_all(&p, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                          &used),
                 CC_HTTP_REQ_ERROR);
    CHECK_EQ_INT(p.error_status, 400);
    cc_http_request_free(&p);
}

static int heads, begins;
static void on_begin(void *arg) {
    begins++;
}
static void on_head(void *arg, const cc_request_t *r) {
    heads++;
    CHECK_EQ_STR(cc_headers_get(&r->headers, "expect"), "100-continue");
}

static void test_events(void) {
    cc_http_request_parser_t p;
    cc_http_request_events_t ev = {on_begin, on_head, NULL, NULL};
    cc_http_request_init(&p, 65536, 1 << 20, &ev);
    size_t used;
    CHECK_EQ_INT(feed_all(&p, "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
                          &used),
                 CC_HTTP_REQ_MORE);
    CHECK_EQ_INT(begins, 1);
    CHECK_EQ_INT(heads, 1);
    CHECK(cc_http_request_in_progress(&p));
    CHECK_EQ_INT(feed_all(&p, "{}", &used), CC_HTTP_REQ_DONE);
    CHECK(!cc_http_request_in_progress(&p));
    cc_http_request_free(&p);
}

static void test_http10_close(void) {
    cc_http_request_parser_t p;
    cc_http_request_init(&p, 65536, 1 << 20, NULL);
    size_t used;
    CHECK_EQ_INT(feed_all(&p, "GET /health HTTP/1.0\r\n\r\n", &used), CC_HTTP_REQ_DONE);
    CHECK(!cc_http_request_current(&p)->keep_alive);
    CHECK_EQ_INT(cc_http_request_current(&p)->http_minor, 0);
    cc_http_request_free(&p);
}

int main(void) {
    CC_RUN(test_simple_post);
    CC_RUN(test_byte_by_byte_and_chunked);
    CC_RUN(test_pipelined);
    CC_RUN(test_limits);
    CC_RUN(test_malformed);
    CC_RUN(test_events);
    CC_RUN(test_http10_close);
    return CC_DONE();
}
