/* test_url_headers.c: api_base parsing, request targets and header lists. */
#include <string.h>

#include "check.h"
#include "http/headers.h"
#include "http/url.h"

static void test_url(void) {
    cc_url_t u;
    char err[256], t[512];
    CHECK_EQ_INT(cc_url_parse("https://api.anthropic.com", &u, err, sizeof err), 0);
    CHECK(u.tls);
    CHECK_EQ_STR(u.host, "api.anthropic.com");
    CHECK_EQ_INT(u.port, 443);
    CHECK_EQ_STR(u.path, "");
    cc_url_target(&u, "/v1/messages", "beta=true", t, sizeof t);
    CHECK_EQ_STR(t, "/v1/messages?beta=true");

    CHECK_EQ_INT(cc_url_parse("http://127.0.0.1:8080/anthropic/", &u, err, sizeof err), 0);
    CHECK(!u.tls);
    CHECK_EQ_INT(u.port, 8080);
    CHECK_EQ_STR(u.path, "/anthropic");
    cc_url_target(&u, "/v1/messages/count_tokens", NULL, t, sizeof t);
    CHECK_EQ_STR(t, "/anthropic/v1/messages/count_tokens");

    CHECK_EQ_INT(cc_url_parse("https://host/api/v1", &u, err, sizeof err), 0);
    cc_url_target(&u, "/v1/messages", NULL, t, sizeof t);
    CHECK_EQ_STR(t, "/api/v1/messages");

    CHECK_EQ_INT(cc_url_parse("http://[::1]:9000", &u, err, sizeof err), 0);
    CHECK_EQ_STR(u.host, "::1");
    CHECK_EQ_INT(u.port, 9000);

    CHECK_EQ_INT(cc_url_parse("ftp://x", &u, err, sizeof err), -1);
    CHECK(strstr(err, "http://") != NULL);
    CHECK_EQ_INT(cc_url_parse("http://x:99999", &u, err, sizeof err), -1);
    CHECK_EQ_INT(cc_url_parse("http://", &u, err, sizeof err), -1);
    CHECK_EQ_INT(cc_url_parse("http://[::1", &u, err, sizeof err), -1);
}

static void test_headers(void) {
    cc_headers_t h = CC_HEADERS_INIT;
    cc_headers_add(&h, "X-Api-Key", 9, "a", 1);
    cc_headers_add(&h, "Connection", 10, "keep-alive, X-Custom", 20);
    cc_headers_add(&h, "x-api-key", 9, "b", 1);
    CHECK_EQ_STR(cc_headers_get(&h, "X-API-KEY"), "a");
    CHECK(cc_headers_is_hop_by_hop(&h, "x-custom"));
    CHECK(cc_headers_is_hop_by_hop(&h, "Transfer-Encoding"));
    CHECK(!cc_headers_is_hop_by_hop(&h, "anthropic-beta"));
    cc_headers_set(&h, "x-api-key", "c");
    CHECK_EQ_INT(h.n, 2);
    CHECK_EQ_STR(h.items[0].name, "X-Api-Key"); /* kept at the first one's place and case */
    CHECK_EQ_STR(h.items[0].value, "c");
    CHECK_EQ_INT(cc_headers_remove(&h, "connection"), 1);
    CHECK_EQ_INT(h.n, 1);
    cc_headers_set(&h, "New", "v");
    CHECK_EQ_STR(h.items[1].name, "New");
    CHECK(cc_header_has_token("gzip, deflate,br", "BR"));
    CHECK(!cc_header_has_token("gzip, deflate", "flate"));
    cc_headers_free(&h);
    CHECK_EQ_INT(h.n, 0);
}

int main(void) {
    CC_RUN(test_url);
    CC_RUN(test_headers);
    return CC_DONE();
}
