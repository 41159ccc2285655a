/* url.c: api_base parsing (see url.h). */
#include "http/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cc_url_parse(const char *s, cc_url_t *u, char *err, size_t errlen) {
    memset(u, 0, sizeof *u);
    const char *p;
    if (strncasecmp(s, "https://", 8) == 0) {
        u->tls = true;
        u->port = 443;
        p = s + 8;
    } else if (strncasecmp(s, "http://", 7) == 0) {
        u->port = 80;
        p = s + 7;
    } else {
        snprintf(err, errlen, "api_base '%s' must start with http:// or https://", s);
        return -1;
    }
    const char *host_end;
    if (*p == '[') {
        host_end = strchr(p, ']');
        if (!host_end) {
            snprintf(err, errlen, "api_base '%s' has an unclosed '['", s);
            return -1;
        }
        snprintf(u->host, sizeof u->host, "%.*s", (int)(host_end - p - 1), p + 1);
        host_end++;
    } else {
        host_end = p + strcspn(p, ":/?#");
        snprintf(u->host, sizeof u->host, "%.*s", (int)(host_end - p), p);
    }
    if (!u->host[0]) {
        snprintf(err, errlen, "api_base '%s' has no host", s);
        return -1;
    }
    p = host_end;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535) {
            snprintf(err, errlen, "api_base '%s' has a bad port", s);
            return -1;
        }
        u->port = (int)port;
        p = end;
    }
    if (*p == '/') {
        size_t n = strcspn(p, "?#");
        while (n > 0 && p[n - 1] == '/') n--;
        snprintf(u->path, sizeof u->path, "%.*s", (int)n, p);
    } else if (*p && *p != '?' && *p != '#') {
        snprintf(err, errlen, "api_base '%s' is not a URL", s);
        return -1;
    }
    return 0;
}

void cc_url_target(const cc_url_t *u, const char *path, const char *query, char *out,
                   size_t outlen) {
    size_t bl = strlen(u->path);
    const char *rest = path;
    if (bl >= 3 && strcmp(u->path + bl - 3, "/v1") == 0 && strncmp(path, "/v1/", 4) == 0)
        rest = path + 3;
    snprintf(out, outlen, "%s%s%s%s", u->path, rest, query ? "?" : "", query ? query : "");
}
