/* url.h: splitting an api_base such as "https://api.anthropic.com" or
 * "http://127.0.0.1:8080/anthropic" into what the upstream side needs. */
#ifndef CC_URL_H
#define CC_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    bool tls;
    char host[256]; /* without brackets for IPv6 */
    int port;
    char path[1024]; /* base path without a trailing '/', "" for none */
} cc_url_t;

/** Parses http(s)://host[:port][/path]. Returns 0, or -1 with a reason in `err`. */
int cc_url_parse(const char *s, cc_url_t *u, char *err, size_t errlen);

/** The request target for `path` (e.g. "/v1/messages") and `query` (may be NULL) under the
 *  base path; a base ending in "/v1" is not doubled ("/v1" + "/v1/messages"). */
void cc_url_target(const cc_url_t *u, const char *path, const char *query, char *out,
                   size_t outlen);

#endif
