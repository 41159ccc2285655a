/* config_otel.c: where request traces go (record/otel.c): ccproxy.yaml's ccproxy.otel section
 * and the environment variables every OpenTelemetry SDK reads, into cfg->otel.
 *
 *   ccproxy:
 *     otel:
 *       endpoint: http://127.0.0.1:4318     # base URL: /v1/traces is appended
 *       traces_endpoint: https://.../traces # or the full URL, used as it is
 *       headers: {Authorization: os.environ/OTLP_AUTH}
 *       service_name: ccproxy
 *       timeout: 5                          # seconds, one export, connecting included
 *
 * The environment wins, key by key, as in the SDKs (where the environment configures
 * everything): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (as it is) over OTEL_EXPORTER_OTLP_ENDPOINT
 * (a base) over traces_endpoint over endpoint; OTEL_EXPORTER_OTLP_HEADERS, then
 * OTEL_EXPORTER_OTLP_TRACES_HEADERS, replace the yaml's headers of the same names;
 * OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT (ms) and
 * OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE likewise. OTEL_SDK_DISABLED=true or
 * OTEL_TRACES_EXPORTER=none turn traces off; OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_QUEUE_SIZE
 * and OTEL_BSP_MAX_EXPORT_BATCH_SIZE tune the batching. An environment value the SDKs would
 * ignore (a number that is not one, a header entry without '=') is ignored with a warning;
 * an endpoint that is not an http:// or https:// URL is an error, wherever it was written.
 * No message shows a header's value (they carry credentials). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "config/yaml_tree.h"
#include "http/url.h"

#define SECTION "ccproxy.otel"
#define OTEL_DEFAULT_TIMEOUT_MS 5000
#define OTEL_DEFAULT_SCHEDULE_MS 1000
#define OTEL_DEFAULT_MAX_QUEUE 2048
#define OTEL_DEFAULT_MAX_BATCH 512

/* ---- URLs ------------------------------------------------------------------------------- */

/* Checks `url` (http or https, a host, no spaces or control bytes). Returns 0, or -1 with the
 * reason in `why`. */
static int check_url(const char *url, bool base, char *why, size_t len) {
    cc_url_t u;
    char err[256];
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            snprintf(why, len, "contains a space or a control character");
            return -1;
        }
    if (cc_url_parse(url, &u, err, sizeof err) != 0) {
        snprintf(why, len, "is not an http:// or https:// URL with a host");
        return -1;
    }
    if (base && strpbrk(url, "?#")) {
        snprintf(why, len, "is a base URL (/v1/traces is appended): it cannot have a query");
        return -1;
    }
    return 0;
}

/* The traces URL of a base URL: base + "/v1/traces" (one '/' between them). A base that ends
 * in /v1/traces already is taken as it is. NULL when out of memory. */
static char *traces_of_base(const char *base) {
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/') n--;
    const char *suffix = "/v1/traces";
    size_t sl = strlen(suffix);
    if (n >= sl && strncmp(base + n - sl, suffix, sl) == 0) return strndup(base, n);
    char *out = malloc(n + sl + 1);
    if (!out) return NULL;
    memcpy(out, base, n);
    memcpy(out + n, suffix, sl + 1);
    return out;
}

/* ---- headers ---------------------------------------------------------------------------- */

static bool token_char(int c) {
    return c > ' ' && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static bool header_name_ok(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!token_char((unsigned char)s[i])) return false;
    return true;
}

static bool header_value_ok(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < ' ' && *s != '\t') return false;
    return true;
}

/* Adds or replaces (by name, any case) a header; takes `name` and `value`. Returns 0, -1 when
 * out of memory (both freed). */
static int put_header(cc_otel_settings_t *o, char *name, char *value) {
    for (size_t i = 0; i < o->n_headers; i++)
        if (strcasecmp(o->headers[i].name, name) == 0) {
            free(o->headers[i].name);
            free(o->headers[i].value);
            o->headers[i].name = name;
            o->headers[i].value = value;
            return 0;
        }
    cc_header_kv_t *h = realloc(o->headers, (o->n_headers + 1) * sizeof *h);
    if (!h) {
        free(name);
        free(value);
        return -1;
    }
    o->headers = h;
    h[o->n_headers++] = (cc_header_kv_t){name, value};
    return 0;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* `s` [0, n) trimmed of spaces and tabs, percent-decoded (a '%' without two hex digits stays
 * as it is). malloc'd, NULL when out of memory. */
static char *trim_decode(const char *s, size_t n, bool decode) {
    while (n > 0 && (*s == ' ' || *s == '\t')) s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    char *out = malloc(n + 1), *w = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        int h1, h2;
        if (decode && s[i] == '%' && i + 2 < n && (h1 = hexval((unsigned char)s[i + 1])) >= 0 &&
            (h2 = hexval((unsigned char)s[i + 2])) >= 0 && (h1 || h2)) { /* %00 stays */
            *w++ = (char)(h1 * 16 + h2);
            i += 2;
        } else {
            *w++ = s[i];
        }
    }
    *w = '\0';
    return out;
}

/* An OTEL_EXPORTER_OTLP_*HEADERS value: "name=value,name2=value2", values URL-encoded. A bad
 * entry is skipped with a warning that names its place, never its text. */
static void env_headers(cc__cfgctx_t *x, const char *var) {
    const char *v = cc__cfg_getenv(x, var);
    if (!v) return;
    cc_otel_settings_t *o = &x->cfg->otel;
    int entry = 0;
    for (const char *p = v; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        entry++;
        const char *eq = memchr(p, '=', len);
        char *name = eq ? trim_decode(p, (size_t)(eq - p), false) : NULL;
        char *value = eq ? trim_decode(eq + 1, len - (size_t)(eq - p) - 1, true) : NULL;
        bool blank = true;
        for (size_t i = 0; i < len; i++)
            if (p[i] != ' ' && p[i] != '\t') blank = false;
        if (blank) {
            /* an empty entry (a trailing comma): nothing */
        } else if (!eq || !name || !value || !header_name_ok(name, strlen(name)) ||
                   !header_value_ok(value)) {
            cc__cfg_warn(x, NULL,
                         "%s: entry %d is not name=value with a header name and a value "
                         "without control characters; it is ignored",
                         var, entry);
        } else {
            put_header(o, name, value);
            name = value = NULL;
        }
        free(name);
        free(value);
        p += len;
        if (*p == ',') p++;
    }
}

/* ---- ccproxy.otel ----------------------------------------------------------------------- */

/* Reads a string that may be written os.environ/VAR (resolved now). Returns 0 when set (*out
 * malloc'd), 1 when absent or empty, -1 after an error. */
static int read_value(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path, char **out) {
    char *s = NULL;
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
    if (strncmp(s, "os.environ/", 11) != 0) {
        *out = s;
        return 0;
    }
    const char *var = s + 11;
    const char *v = *var ? cc__cfg_getenv(x, var) : NULL;
    if (!*var)
        cc__cfg_error(x, n, "%s is \"os.environ/\" without a variable name; write "
                            "os.environ/VARIABLE", path);
    else if (!v)
        cc__cfg_error(x, n, "%s names os.environ/%s, which is not set; export it or remove it",
                      path, var);
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

/* endpoint / traces_endpoint: checked where they are written. */
static void read_endpoint(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *key, bool base,
                          char **out) {
    char path[64], why[128];
    snprintf(path, sizeof path, SECTION ".%s", key);
    const cc_yaml_node_t *n = cc_yaml_map_get(map, key);
    char *v = NULL;
    if (read_value(x, n, path, &v) != 0) return;
    if (check_url(v, base, why, sizeof why) != 0) {
        cc__cfg_error(x, n, "%s %s; write e.g. %s", path, why,
                      base ? "http://127.0.0.1:4318" : "http://127.0.0.1:4318/v1/traces");
        free(v);
        return;
    }
    free(*out);
    *out = base ? traces_of_base(v) : v;
    if (base) free(v);
}

void cc__cfg_load_otel(cc__cfgctx_t *x, const cc_yaml_node_t *n) {
    static const char *const keys[] = {"endpoint", "traces_endpoint", "headers", "service_name",
                                       "timeout",  NULL};
    cc_otel_settings_t *o = &x->cfg->otel;
    if (!n || cc__cfg_want_map(x, n, SECTION) != 0) return;
    cc__cfg_check_keys(x, n, SECTION, keys);
    char *from_base = NULL, *full = NULL;
    read_endpoint(x, n, "endpoint", true, &from_base);
    read_endpoint(x, n, "traces_endpoint", false, &full);
    free(o->traces_url);
    o->traces_url = full ? full : from_base;
    if (full) free(from_base);

    const cc_yaml_node_t *h = cc_yaml_map_get(n, "headers");
    if (h && !cc_yaml_is_null(h)) {
        if (h->kind != CC_YAML_MAP) {
            char d[96];
            cc__cfg_error(x, h, SECTION ".headers must be a map of header names to values, got "
                                "%s; write headers: {Authorization: os.environ/OTLP_AUTH}",
                          cc_yaml_describe(h, d, sizeof d));
        } else {
            for (size_t i = 0; i < h->n_pairs; i++) {
                const cc_yaml_node_t *k = h->pairs[i].key, *v = h->pairs[i].value;
                char path[320];
                snprintf(path, sizeof path, SECTION ".headers.%.256s", k->text);
                if (!header_name_ok(k->text, strlen(k->text)) || strlen(k->text) != k->len) {
                    cc__cfg_error(x, k, "%s: '%s' is not a header name; use letters, digits "
                                        "and -", path, k->text);
                    continue;
                }
                char *value = NULL;
                if (read_value(x, v, path, &value) != 0) continue;
                if (!header_value_ok(value)) {
                    cc__cfg_error(x, v, "%s has a control character (a line break?); remove it",
                                  path);
                    free(value);
                    continue;
                }
                char *name = strdup(k->text);
                if (!name || put_header(o, name, value) != 0) cc__cfg_error(x, v, "out of memory");
            }
        }
    }
    char *svc = NULL;
    const cc_yaml_node_t *sn = cc_yaml_map_get(n, "service_name");
    if (read_value(x, sn, SECTION ".service_name", &svc) == 0) {
        free(o->service_name);
        o->service_name = svc;
    }
    cc__cfg_seconds(x, n, "timeout", SECTION, false, &o->timeout_ms);
}

/* ---- the environment -------------------------------------------------------------------- */

/* A whole number of `var` in [lo, hi]; `*out` untouched (with a warning) when it is not. */
static void env_number(cc__cfgctx_t *x, const char *var, long lo, long hi, unsigned *out) {
    const char *v = cc__cfg_getenv(x, var);
    if (!v) return;
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || !isdigit((unsigned char)v[0]) || n < lo || n > hi) {
        cc__cfg_warn(x, NULL, "%s=\"%.40s\" is not a whole number from %ld to %ld; it is ignored",
                     var, v, lo, hi);
        return;
    }
    *out = (unsigned)n;
}

/* The first of two variables that is set (the signal's own first). */
static const char *env2(cc__cfgctx_t *x, const char *traces_var, const char *var,
                        const char **which) {
    const char *v = cc__cfg_getenv(x, traces_var);
    *which = traces_var;
    if (v) return v;
    *which = var;
    return cc__cfg_getenv(x, var);
}

void cc__cfg_otel_env(cc__cfgctx_t *x) {
    cc_otel_settings_t *o = &x->cfg->otel;
    const char *saved = x->file;
    x->file = "environment";
    const char *which, *v;

    v = env2(x, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", &which);
    if (v) {
        bool base = strcmp(which, "OTEL_EXPORTER_OTLP_ENDPOINT") == 0;
        char why[128];
        if (check_url(v, base, why, sizeof why) != 0) {
            cc__cfg_error(x, NULL, "%s=\"%.200s\" %s; set it to e.g. %s or unset it", which, v,
                          why, base ? "http://127.0.0.1:4318" : "http://127.0.0.1:4318/v1/traces");
        } else {
            char *url = base ? traces_of_base(v) : strdup(v);
            if (url) {
                free(o->traces_url);
                o->traces_url = url;
            }
        }
    }
    env_headers(x, "OTEL_EXPORTER_OTLP_HEADERS");
    env_headers(x, "OTEL_EXPORTER_OTLP_TRACES_HEADERS");
    if ((v = cc__cfg_getenv(x, "OTEL_SERVICE_NAME"))) {
        char *s = strdup(v);
        if (s) {
            free(o->service_name);
            o->service_name = s;
        }
    }
    if (!o->service_name) o->service_name = strdup("ccproxy");
    env_number(x, "OTEL_EXPORTER_OTLP_TIMEOUT", 1, 600000, &o->timeout_ms);
    env_number(x, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", 1, 600000, &o->timeout_ms);
    if (!o->timeout_ms) o->timeout_ms = OTEL_DEFAULT_TIMEOUT_MS;
    if ((v = env2(x, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE",
                  &which))) {
        if (access(v, R_OK) != 0) {
            cc__cfg_error(x, NULL, "%s=\"%.200s\" is not a file ccproxy can read; point it at "
                                   "a PEM CA certificate or unset it", which, v);
        } else {
            free(o->ca_file);
            o->ca_file = strdup(v);
        }
    }
    o->schedule_ms = OTEL_DEFAULT_SCHEDULE_MS;
    o->max_queue = OTEL_DEFAULT_MAX_QUEUE;
    o->max_batch = OTEL_DEFAULT_MAX_BATCH;
    env_number(x, "OTEL_BSP_SCHEDULE_DELAY", 1, 3600000, &o->schedule_ms);
    env_number(x, "OTEL_BSP_MAX_QUEUE_SIZE", 1, 1000000, &o->max_queue);
    env_number(x, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1, 1000000, &o->max_batch);
    if (o->max_batch > o->max_queue) o->max_batch = o->max_queue;

    const char *proto = env2(x, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                             "OTEL_EXPORTER_OTLP_PROTOCOL", &which);
    if (o->traces_url && proto && strcmp(proto, "http/json") != 0)
        cc__cfg_warn(x, NULL, "%s=\"%.40s\": ccproxy sends OTLP as http/json only, to %s", which,
                     proto, o->traces_url);
    const char *disabled = cc__cfg_getenv(x, "OTEL_SDK_DISABLED");
    const char *exporter = cc__cfg_getenv(x, "OTEL_TRACES_EXPORTER");
    if (exporter && strcmp(exporter, "none") != 0 && strcmp(exporter, "otlp") != 0)
        cc__cfg_warn(x, NULL, "OTEL_TRACES_EXPORTER=\"%.40s\": ccproxy exports traces with otlp "
                              "only (or none)", exporter);
    if ((disabled && strcasecmp(disabled, "true") == 0) || (exporter && !strcmp(exporter, "none"))) {
        free(o->traces_url);
        o->traces_url = NULL;
    }
    x->file = saved;
}

void cc__cfg_free_otel(cc_otel_settings_t *o) {
    free(o->traces_url);
    for (size_t i = 0; i < o->n_headers; i++) {
        free(o->headers[i].name);
        if (o->headers[i].value) {
            memset(o->headers[i].value, 0, strlen(o->headers[i].value));
            free(o->headers[i].value);
        }
    }
    free(o->headers);
    free(o->service_name);
    free(o->ca_file);
    memset(o, 0, sizeof *o);
}
