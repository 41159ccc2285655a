/* config_redis.c: config.yaml's router_settings that say where the Redis is that shares routing
 * state between ccproxy instances (src/routing/shared_state.c): redis_host, redis_port and
 * redis_password, or all of them in redis_url (redis://[user:password@]host[:port][/db]), into
 * cfg->router.redis. Each value may be written os.environ/VAR. These are LiteLLM's Router
 * keys, so they are read from router_settings only (LiteLLM has no redis_username: a user name
 * goes in redis_url). No message ever shows a password, nor a URL that may hold one. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "config/yaml_tree.h"

#define SECTION "router_settings"
#define URL_FORM "redis://[user:password@]host[:port][/db]"
#define MAX_DB 1000000

static bool present(const cc_yaml_node_t *n) {
    return n && !cc_yaml_is_null(n);
}

static bool starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Reads `key`'s string, resolving os.environ/VAR now. Returns 0 when set (*out malloc'd), 1
 * when absent or empty, -1 after an error. */
static int read_value(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *key, char **out) {
    char path[96], *s = NULL;
    snprintf(path, sizeof path, SECTION ".%s", key);
    int rc = cc__cfg_string(x, n, path, &s);
    if (rc != 0) return rc;
    if (strlen(s) != n->len) {
        cc__cfg_error(x, n, "%s contains a NUL byte; remove it", path);
        free(s);
        return -1;
    }
    if (!*s) {
        free(s);
        return 1;
    }
    if (!starts_with(s, "os.environ/")) {
        *out = s;
        return 0;
    }
    const char *var = s + strlen("os.environ/");
    const char *v = *var ? cc__cfg_getenv(x, var) : NULL;
    if (!*var)
        cc__cfg_error(x, n, "%s is \"os.environ/\" without a variable name; write "
                            "os.environ/VARIABLE", path);
    else if (!v)
        cc__cfg_error(x, n, "%s names os.environ/%s, which is not set; export it or remove %s",
                      path, var, key);
    if (!v) {
        free(s);
        return -1;
    }
    *out = strdup(v);
    free(s);
    if (!*out) {
        cc__cfg_error(x, n, "out of memory");
        return -1;
    }
    return 0;
}

/* A whole number in [lo, hi] written with digits only, else -1. */
static long parse_digits(const char *s, size_t len, long lo, long hi) {
    long v = 0;
    if (len == 0 || len > 9) return -1;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= lo && v <= hi ? v : -1;
}

static int read_port(cc__cfgctx_t *x, const cc_yaml_node_t *n, int *out) {
    if (!present(n)) return 1;
    if (n->kind == CC_YAML_SCALAR && starts_with(n->text, "os.environ/")) {
        char *s = NULL;
        int rc = read_value(x, n, "redis_port", &s);
        if (rc != 0) return rc;
        long v = parse_digits(s, strlen(s), 1, 65535);
        if (v < 0)
            cc__cfg_error(x, n,
                          SECTION ".redis_port reads %s, which is '%s', not a port number from 1 "
                                  "to 65535; correct the variable",
                          n->text, s);
        free(s);
        if (v < 0) return -1;
        *out = (int)v;
        return 0;
    }
    long v;
    int rc = cc__cfg_int(x, n, SECTION ".redis_port", 1, 65535, &v);
    if (rc == 0) *out = (int)v;
    return rc;
}

/* Checks a host name or address; writes what is wrong into why. */
static bool host_ok(const char *h, char *why, size_t whylen) {
    if (!*h) {
        snprintf(why, whylen, "has no host");
        return false;
    }
    for (const char *p = h; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= ' ' || ch == 0x7f || strchr("/@?#[]\\\"'", ch)) {
            snprintf(why, whylen, "has a host with a space, a control character or one of "
                                  "/@?#[]\\\"' in it");
            return false;
        }
    }
    return true;
}

/* Decodes %XX escapes of [s, s+len) into a malloc'd string (*out; NULL when len is 0). */
static int unescape(const char *s, size_t len, char **out, const char *what, char *why,
                    size_t whylen) {
    *out = NULL;
    if (len == 0) return 0;
    char *d = malloc(len + 1);
    size_t j = 0;
    if (!d) {
        snprintf(why, whylen, "could not be read: out of memory");
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            d[j++] = s[i];
            continue;
        }
        if (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) ||
            !isxdigit((unsigned char)s[i + 2]))
            goto bad;
        char hex[3] = {s[i + 1], s[i + 2], 0};
        long v = strtol(hex, NULL, 16);
        if (v == 0) {
            snprintf(why, whylen, "has %%00 in its %s; remove it", what);
            free(d);
            return -1;
        }
        d[j++] = (char)v;
        i += 2;
    }
    d[j] = '\0';
    *out = d;
    return 0;
bad:
    snprintf(why, whylen, "has a %% in its %s that is not followed by two hex digits; write %% as "
                          "%%25",
             what);
    free(d);
    return -1;
}

/* Parses redis://[user:password@]host[:port][/db] into r (host, port, username, password, db).
 * On error returns -1 with why saying what is wrong, never quoting the URL. */
static int parse_url(const char *url, cc_redis_settings_t *r, char *why, size_t whylen) {
    const char *p;
    if (strncasecmp(url, "redis://", 8) != 0) {
        snprintf(why, whylen, "must start with redis:// (unix sockets and other schemes are not "
                              "supported)");
        return -1;
    }
    p = url + 8;
    size_t alen = strcspn(p, "/?#");
    const char *rest = p + alen;
    if (*rest == '?' || *rest == '#' || strchr(rest, '?') || strchr(rest, '#')) {
        snprintf(why, whylen, "has a query or fragment (?... or #...), which ccproxy does not "
                              "read; give the database as /N");
        return -1;
    }
    /* user:password@ (the last '@' ends it: a password may hold an unescaped one) */
    const char *at = NULL;
    for (const char *q = p; q < p + alen; q++)
        if (*q == '@') at = q;
    const char *hp = p;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon) {
            snprintf(why, whylen, "has user information without a ':'; write user:password@ "
                                  "or :password@ before the host");
            return -1;
        }
        if (unescape(p, (size_t)(colon - p), &r->username, "user name", why, whylen) != 0)
            return -1;
        if (unescape(colon + 1, (size_t)(at - colon - 1), &r->password, "password", why,
                     whylen) != 0)
            return -1;
        hp = at + 1;
    }
    size_t hlen = (size_t)(p + alen - hp);
    const char *hend = hp + hlen, *port = NULL;
    char *host;
    if (hlen && *hp == '[') {
        const char *close = memchr(hp, ']', hlen);
        if (!close || close == hp + 1) {
            snprintf(why, whylen, "has a '[' without an IPv6 address and ']' after it");
            return -1;
        }
        for (const char *q = hp + 1; q < close; q++)
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.') {
                snprintf(why, whylen, "has something else than an IPv6 address in [...]");
                return -1;
            }
        host = strndup(hp + 1, (size_t)(close - hp - 1));
        if (close + 1 < hend) {
            if (close[1] != ':') {
                snprintf(why, whylen, "has something else than :port after ']'");
                free(host);
                return -1;
            }
            port = close + 2;
        }
    } else {
        const char *colon = memchr(hp, ':', hlen);
        host = strndup(hp, colon ? (size_t)(colon - hp) : hlen);
        if (colon) port = colon + 1;
    }
    if (!host) {
        snprintf(why, whylen, "could not be read: out of memory");
        return -1;
    }
    if (!host_ok(host, why, whylen)) {
        free(host);
        return -1;
    }
    r->host = host;
    r->port = 6379;
    if (port) {
        long v = parse_digits(port, (size_t)(hend - port), 1, 65535);
        if (v < 0) {
            snprintf(why, whylen, "has a port that is not a number from 1 to 65535");
            return -1;
        }
        r->port = (int)v;
    }
    r->db = 0;
    if (*rest == '/' && rest[1]) {
        long v = parse_digits(rest + 1, strlen(rest + 1), 0, MAX_DB);
        if (v < 0) {
            snprintf(why, whylen, "has a database (after the host's '/') that is not a whole "
                                  "number from 0 to %d",
                     MAX_DB);
            return -1;
        }
        r->db = (int)v;
    }
    return 0;
}

static void warn_unused(cc__cfgctx_t *x, const cc_yaml_node_t *rs, const char *key) {
    const cc_yaml_node_t *n = cc_yaml_map_get(rs, key);
    if (!present(n)) return;
    cc__cfg_warn(x, n,
                 SECTION ".%s is set but neither redis_host nor redis_url is, so no Redis is "
                         "used; add redis_host (or redis_url), or remove %s",
                 key, key);
}

void cc__cfg_load_redis(cc__cfgctx_t *x, const cc_yaml_node_t *rs) {
    cc_redis_settings_t *r = &x->cfg->router.redis;
    if (!rs || rs->kind != CC_YAML_MAP) return;
    const cc_yaml_node_t *nh = cc_yaml_map_get(rs, "redis_host");
    const cc_yaml_node_t *np = cc_yaml_map_get(rs, "redis_port");
    const cc_yaml_node_t *npw = cc_yaml_map_get(rs, "redis_password");
    const cc_yaml_node_t *nu = cc_yaml_map_get(rs, "redis_url");
    char *host = NULL, *password = NULL, *url = NULL, why[256];
    int port = 0;
    int rh = read_value(x, nh, "redis_host", &host);
    int rp = read_port(x, np, &port);
    int rw = read_value(x, npw, "redis_password", &password);
    int ru = read_value(x, nu, "redis_url", &url);
    if (rh < 0 || rp < 0 || rw < 0 || ru < 0) goto done;

    if (ru == 0) {
        bool bad = false;
        if (present(nh)) {
            cc__cfg_error(x, nu,
                          SECTION ".redis_url and redis_host (line %d) are both set; the URL "
                                  "names the host: keep one of them",
                          nh->line);
            bad = true;
        }
        if (present(np)) {
            cc__cfg_error(x, nu,
                          SECTION ".redis_url and redis_port (line %d) are both set; the URL "
                                  "holds the port (6379 when it has none): keep one of them",
                          np->line);
            bad = true;
        }
        if (bad) goto done;
        cc_redis_settings_t u = {0};
        if (strncasecmp(url, "rediss://", 9) == 0) {
            cc__cfg_error(x, nu,
                          SECTION ".redis_url is a rediss:// (TLS) URL, and ccproxy does not "
                                  "support TLS to Redis; use plain redis:// to a Redis on "
                                  "loopback, or to a local stunnel that carries it to the remote "
                                  "one over TLS");
            goto done;
        }
        if (parse_url(url, &u, why, sizeof why) != 0) {
            cc__cfg_error(x, nu, SECTION ".redis_url %s; write " URL_FORM, why);
            cc__cfg_free_redis(&u);
            goto done;
        }
        if (u.password && rw == 0) {
            cc__cfg_error(x, nu,
                          SECTION ".redis_url holds a password and redis_password (line %d) "
                                  "gives one too; keep one of them",
                          npw->line);
            cc__cfg_free_redis(&u);
            goto done;
        }
        if (rw == 0) {
            u.password = password;
            password = NULL;
        }
        if (u.username && !u.password) {
            cc__cfg_error(x, nu,
                          SECTION ".redis_url names a user but no password; write "
                                  "redis://user:password@host, or give redis_password");
            cc__cfg_free_redis(&u);
            goto done;
        }
        cc__cfg_free_redis(r);
        *r = u;
        goto done;
    }

    if (rh != 0) {
        if (rp == 0) warn_unused(x, rs, "redis_port");
        if (rw == 0) warn_unused(x, rs, "redis_password");
        goto done;
    }
    if (strstr(host, "://")) {
        cc__cfg_error(x, nh,
                      SECTION ".redis_host is a URL; write it as redis_url (" URL_FORM
                              "), or give only the host name here");
        goto done;
    }
    /* [::1] as written in URLs; host:port only when it is not an IPv6 address. */
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    const char *colon = strchr(host, ':');
    if (colon && !strchr(colon + 1, ':')) {
        cc__cfg_error(x, nh,
                      SECTION ".redis_host has a ':port'; give the host name alone and the port "
                              "as redis_port");
        goto done;
    }
    if (!host_ok(host, why, sizeof why)) {
        cc__cfg_error(x, nh, SECTION ".redis_host %s; give a host name or an IP address", why);
        goto done;
    }
    cc__cfg_free_redis(r);
    r->host = host;
    r->port = rp == 0 ? port : 6379;
    r->password = password;
    host = password = NULL;

done:
    free(host);
    free(password);
    free(url);
}

void cc__cfg_free_redis(cc_redis_settings_t *r) {
    free(r->host);
    free(r->username);
    if (r->password) {
        memset(r->password, 0, strlen(r->password));
        free(r->password);
    }
    memset(r, 0, sizeof *r);
}
