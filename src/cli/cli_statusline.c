/* cli_statusline.c: `ccproxy statusline`: the command of Claude Code's `statusLine` setting.
 * Claude Code runs it after each turn with a JSON object on stdin (session_id, model {id,
 * display_name}, workspace {current_dir}, ...); it asks the running proxy for that session's
 * totals (GET /ccproxy/sessions/<id>, record/sessions.h) and prints one line:
 *
 *   claude-sonnet-5-5 via sonnet-pool | default | 48k in 3.2k out | $0.42 | ctx 45k/200k
 *
 * It must be quick and never in the way: the whole run (stdin and the request) takes at most
 * STATUSLINE_BUDGET_MS, it reads only litellm.host/port of ccproxy.yaml (and HOST/PORT), no
 * Lua, no validation, and when the proxy is down, slow, or does not know the session, it
 * prints nothing and exits 0. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "config/yaml_tree.h"
#include "paths.h"

#define STATUSLINE_BUDGET_MS 300
#define STDIN_MAX (1u << 20)
#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 4000

static const char usage[] =
    "usage: ccproxy [--config-dir DIR] statusline\n"
    "\n"
    "For Claude Code's statusLine setting (`ccproxy run claude` sets it up): reads the JSON\n"
    "Claude Code writes on stdin, asks the running proxy about that session and prints one\n"
    "line: the model(s) that answered, the label, tokens, cost so far and the context in use\n"
    "against the model's window. Prints nothing when the proxy is down or does not know the\n"
    "session. Always exits 0 (2 for a usage error).\n"
    "\n"
    "options:\n"
    "  -h, --help  show this help\n";
static const cc__cli_cmd_t cmd = {"statusline", usage};

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* stdin until its end, a whole JSON value, the deadline or STDIN_MAX bytes. The JSON read
 * (NULL when none). */
static cJSON *read_stdin(cc_buf_t *in, long deadline) {
    cJSON *v = NULL;
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0) break;
        struct pollfd p = {.fd = 0, .events = POLLIN};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        char chunk[8192];
        ssize_t got = read(0, chunk, sizeof chunk);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) break;
        if (cc_buf_append(in, chunk, (size_t)got) < 0 || in->len > STDIN_MAX) break;
        /* A writer that keeps stdin open: a whole object is enough. */
        size_t end = in->len;
        while (end > 0 && (in->data[end - 1] == '\n' || in->data[end - 1] == '\r' ||
                           in->data[end - 1] == ' ' || in->data[end - 1] == '\t'))
            end--;
        if (end && in->data[end - 1] == '}' && (v = cJSON_ParseWithLength(in->data, in->len)))
            return v;
    }
    return in->data ? cJSON_ParseWithLength(in->data, in->len) : NULL;
}

/* The proxy's address as `ccproxy start` reads it: litellm.host and litellm.port of
 * ccproxy.yaml (only those), then HOST and PORT from the environment. */
static void proxy_address(const char *config_dir, char *host, size_t hostlen, int *port) {
    snprintf(host, hostlen, "%s", DEFAULT_HOST);
    *port = DEFAULT_PORT;
    char *path = cc_path_join(config_dir, "ccproxy.yaml");
    FILE *f = path ? fopen(path, "rb") : NULL;
    free(path);
    if (f) {
        cc_buf_t text = CC_BUF_INIT;
        char chunk[8192];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && text.len < STDIN_MAX)
            cc_buf_append(&text, chunk, n);
        fclose(f);
        cc_yaml_node_t *root = NULL;
        if (text.data && cc_yaml_parse(text.data, text.len, "ccproxy.yaml", &root, NULL) == 0) {
            const cc_yaml_node_t *l = cc_yaml_map_get(root, "litellm");
            const cc_yaml_node_t *h = cc_yaml_map_get(l, "host");
            const cc_yaml_node_t *p = cc_yaml_map_get(l, "port");
            double v;
            if (h && h->kind == CC_YAML_SCALAR && h->text && *h->text)
                snprintf(host, hostlen, "%s", h->text);
            if (p && cc_yaml_get_number(p, &v) == 0 && v >= 1 && v <= 65535 && v == (int)v)
                *port = (int)v;
        }
        cc_yaml_free(root);
        cc_buf_free(&text);
    }
    const char *eh = getenv("HOST"), *ep = getenv("PORT");
    if (eh && *eh) snprintf(host, hostlen, "%s", eh);
    if (ep && *ep) {
        char *end;
        long v = strtol(ep, &end, 10);
        if (!*end && v >= 1 && v <= 65535) *port = (int)v;
    }
}

/* "/ccproxy/sessions/<id>" with the id percent-encoded. */
static void session_path(const char *id, cc_buf_t *out) {
    static const char hex[] = "0123456789ABCDEF";
    cc_buf_puts(out, "/ccproxy/sessions/");
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            cc_buf_append(out, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            cc_buf_append(out, e, 3);
        }
    }
}

/* --- the line ------------------------------------------------------------------------------- */

/* 950 -> "950", 1234 -> "1.2k", 45000 -> "45k", 1500000 -> "1.5M". */
static void fmt_tokens(double n, char *out, size_t len) {
    if (n < 999.5)
        snprintf(out, len, "%.0f", n);
    else if (n < 9950)
        snprintf(out, len, "%.1fk", n / 1e3);
    else if (n < 999500)
        snprintf(out, len, "%.0fk", n / 1e3);
    else if (n < 9950000)
        snprintf(out, len, "%.1fM", n / 1e6);
    else
        snprintf(out, len, "%.0fM", n / 1e6);
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Whether two model ids name the same model, a "[1m]"-style suffix aside. */
static bool same_model(const char *a, const char *b) {
    if (!a || !b) return false;
    size_t na = strcspn(a, "["), nb = strcspn(b, "[");
    return na == nb && strncmp(a, b, na) == 0;
}

/* The model entry the line is about: among those that answered the model Claude Code uses
 * now (stdin's model.id), the one that answered last; else the one that answered last. */
static const cJSON *main_model(const cJSON *session, const char *model_id) {
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(session, "models");
    const cJSON *m, *best = NULL, *last = NULL;
    const char *dep = str(session, "deployment"), *sent = str(session, "model");
    cJSON_ArrayForEach(m, models) {
        if (same_model(str(m, "requested_model"), model_id) &&
            (!best || num(m, "last_ms") >= num(best, "last_ms")))
            best = m;
        const char *md = str(m, "deployment"), *ms = str(m, "model");
        if (dep && md && strcmp(dep, md) == 0 &&
            ((!sent && !ms) || (sent && ms && strcmp(sent, ms) == 0)))
            last = m;
    }
    return best ? best : last;
}

static void sep(cc_buf_t *line) {
    if (line->len) cc_buf_puts(line, " | ");
}

/* The one line for `session` (GET /ccproxy/sessions/<id>'s object). */
static void format_line(const cJSON *session, const char *model_id, cc_buf_t *line) {
    const cJSON *m = main_model(session, model_id);
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(session, "models");
    if (m) {
        const char *dep = str(m, "deployment"), *model = str(m, "model");
        if (model) cc_buf_puts(line, model);
        /* "via" names a deployment of its own: not a pass-through glob ("claude-*"). */
        if (dep && (!model || (strcmp(dep, model) != 0 && !strpbrk(dep, "*?"))))
            cc_buf_printf(line, "%s%s", model ? " via " : "", dep);
        int others = cJSON_GetArraySize(models) - 1;
        if (others > 0) cc_buf_printf(line, " (+%d more)", others);
    }
    const char *label = m && str(m, "label") ? str(m, "label") : str(session, "label");
    if (label) {
        sep(line);
        cc_buf_puts(line, label);
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(session, "tokens");
    char in[16], out[16];
    fmt_tokens(num(t, "input") + num(t, "cache_creation") + num(t, "cache_read"), in, sizeof in);
    fmt_tokens(num(t, "output"), out, sizeof out);
    sep(line);
    cc_buf_printf(line, "%s in %s out", in, out);
    double cost = num(session, "cost_usd");
    bool unknown = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(session, "cost_unknown"));
    sep(line);
    if (unknown && num(session, "priced_requests") == 0)
        cc_buf_puts(line, "$?");
    else
        cc_buf_printf(line, cost > 0 && cost < 0.01 ? "$%.3f%s" : "$%.2f%s", cost,
                      unknown ? "+?" : "");
    /* The context of the model the line is about, else the session's last. */
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(m ? m : session, "context");
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(ctx, "tokens");
    if (cJSON_IsNumber(tokens)) {
        char used[16], window[16];
        fmt_tokens(tokens->valuedouble, used, sizeof used);
        sep(line);
        cc_buf_printf(line, "ctx %s", used);
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(ctx, "window");
        if (cJSON_IsNumber(w) && w->valuedouble > 0) {
            fmt_tokens(w->valuedouble, window, sizeof window);
            cc_buf_printf(line, "/%s", window);
        }
    }
    double errors = num(session, "errors");
    if (errors > 0) {
        sep(line);
        cc_buf_printf(line, "%.0f error%s", errors, errors == 1 ? "" : "s");
    }
}

int cc_cmd_statusline(const char *config_dir, int argc, char **argv) {
    int oi = 0, c;
    while ((c = cc__cli_next_opt(&cmd, argc, argv, "", NULL, &oi)) != -1) {
        if (c == -3) return 0;
        if (c < 0) return 2;
    }
    if (cc__cli_no_args(&cmd, argc, argv, oi)) return 2;

    long deadline = now_ms() + STATUSLINE_BUDGET_MS;
    cc_buf_t in = CC_BUF_INIT, path = CC_BUF_INIT, body = CC_BUF_INIT, line = CC_BUF_INIT;
    cJSON *input = NULL, *session = NULL;
    input = read_stdin(&in, deadline);
    const char *sid = str(input, "session_id");
    if (!sid || !*sid) goto out;
    const char *model_id = str(cJSON_GetObjectItemCaseSensitive(input, "model"), "id");

    char host[256];
    int port;
    proxy_address(config_dir, host, sizeof host, &port);
    session_path(sid, &path);
    long left = deadline - now_ms();
    if (left < 50) left = 50; /* a slow stdin leaves the request a moment */
    if (!path.data ||
        cc__http_get(cc__client_host(host), port, path.data, (int)left, &body) != 200)
        goto out;
    session = body.data ? cJSON_ParseWithLength(body.data, body.len) : NULL;
    if (!cJSON_IsObject(session)) goto out;
    format_line(session, model_id, &line);
    if (line.data) printf("%s\n", line.data);
out:
    cJSON_Delete(input);
    cJSON_Delete(session);
    cc_buf_free(&in);
    cc_buf_free(&path);
    cc_buf_free(&body);
    cc_buf_free(&line);
    return 0;
}
