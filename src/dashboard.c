/* dashboard.c: /ui/, its assets and /ui/api/summary (see dashboard.h). */
#include "dashboard.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "endpoints.h"
#include "paths.h"
#include "record/recent.h"
#include "worker.h"

/* The page and its assets: config/ui/ in the data dir, read at the first request for any of
 * them and kept for the life of the process. */
typedef struct {
    const char *path; /* under /ui/ */
    const char *file; /* under <data dir>/config/ui/ */
    const char *type;
    char *data; /* NULL when it could not be read */
    size_t len;
} ui_file_t;

static ui_file_t ui_files[] = {
    {"/ui/", "index.html", "text/html; charset=utf-8", NULL, 0},
    {"/ui/index.html", "index.html", "text/html; charset=utf-8", NULL, 0},
    {"/ui/app.js", "app.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/ui/style.css", "style.css", "text/css; charset=utf-8", NULL, 0},
};
#define N_UI_FILES (sizeof ui_files / sizeof ui_files[0])
static pthread_once_t ui_once = PTHREAD_ONCE_INIT;
static char ui_dir[4096];

static char *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *data = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16384;
            char *p = ncap <= (4u << 20) ? realloc(data, ncap) : NULL; /* 4 MiB at most */
            if (!p) {
                free(data);
                fclose(f);
                return NULL;
            }
            data = p;
            cap = ncap;
        }
        size_t got = fread(data + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(data);
        return NULL;
    }
    *len = n;
    return data;
}

static void load_files(void) {
    snprintf(ui_dir, sizeof ui_dir, "%s/config/ui", cc_paths_datadir());
    for (size_t i = 0; i < N_UI_FILES; i++) {
        for (size_t j = 0; j < i; j++) /* a file served at two paths is read once */
            if (strcmp(ui_files[j].file, ui_files[i].file) == 0) {
                ui_files[i].data = ui_files[j].data;
                ui_files[i].len = ui_files[j].len;
                break;
            }
        if (ui_files[i].data) continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", ui_dir, ui_files[i].file);
        ui_files[i].data = read_whole(path, &ui_files[i].len);
    }
}

bool cc_dashboard_path(const char *path) {
    return strcmp(path, "/ui") == 0 || strncmp(path, "/ui/", 4) == 0;
}

/* An IP literal (IPv6 without brackets) or "localhost" that is loopback. */
static bool loopback_name(const char *s, size_t len) {
    char buf[64];
    if (len == 0 || len >= sizeof buf) return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strcasecmp(buf, "localhost") == 0) return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, buf, &a6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
        return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
    }
    return false;
}

bool cc_dashboard_loopback(const char *host) {
    return host && loopback_name(host, strlen(host));
}

/* A Host field ("127.0.0.1:4000", "[::1]:4000", "localhost") that names loopback. */
static bool host_field_ok(const char *v) {
    if (*v == '[') {
        const char *end = strchr(v, ']');
        return end && loopback_name(v + 1, (size_t)(end - v - 1)) &&
               (end[1] == '\0' || end[1] == ':');
    }
    return loopback_name(v, strcspn(v, ":"));
}

static void respond(cc_conn_t *c, int status, const char *type, const char *body, size_t len,
                    const char *cache) {
    cc_headers_t h = CC_HEADERS_INIT;
    cc_headers_set(&h, "Cache-Control", cache);
    cc_headers_set(&h, "X-Content-Type-Options", "nosniff");
    cc_headers_set(&h, "X-Frame-Options", "DENY");
    cc_headers_set(&h, "Referrer-Policy", "no-referrer");
    /* Nothing from elsewhere, no inline script: the page is its three files and the summary. */
    cc_headers_set(&h, "Content-Security-Policy",
                   "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                   "connect-src 'self'; base-uri 'none'; form-action 'none'; "
                   "frame-ancestors 'none'");
    cc_conn_respond(c, status, type, body, len, &h);
    cc_headers_free(&h);
}

static void serve_summary(cc_conn_t *c) {
    cc_worker_t *w = cc_conn_worker(c);
    cc_server_t *srv = w->server;
    uint64_t now = cc_wall_ms();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "version", CCPROXY_VERSION);
    cJSON_AddNumberToObject(o, "now_ms", (double)now);
    cJSON_AddNumberToObject(o, "started_ms", (double)srv->started_ms);
    cJSON_AddNumberToObject(o, "uptime_s", (double)(now - srv->started_ms) / 1000.0);
    cJSON_AddNumberToObject(o, "generation", atomic_load(&srv->generation));
    cJSON_AddNumberToObject(o, "workers", srv->n_workers);
    cc_endpoints_add_last_reload(o, srv);
    cc_endpoints_add_cooldowns(o, w);
    cc_recent_snapshot_t *snap = cc_recent_snapshot(cc_recent_process());
    cc_recent_snapshot_t none = {0};
    cc_recent_add_json(snap ? snap : &none, o);
    cc_recent_snapshot_free(snap);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) {
        cc_conn_respond_error(c, 500, "api_error", "out of memory");
        return;
    }
    respond(c, 200, "application/json", text, strlen(text), "no-store");
    free(text);
}

void cc_dashboard_serve(cc_conn_t *c, cc_request_t *req) {
    cc_worker_t *w = cc_conn_worker(c);
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        cc_conn_respond_error(c, 405, "invalid_request_error",
                              "the dashboard is read-only: use GET (or HEAD)");
        return;
    }
    if (!cc_dashboard_loopback(w->server->listen_host)) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "the dashboard is served only while ccproxy listens on loopback, and it "
                 "listens on %s (litellm.host); it has no client authentication yet, and what "
                 "it shows (models, tokens, costs, request ids) is not for the network",
                 w->server->listen_host);
        cc_conn_respond_error(c, 403, "permission_error", msg);
        return;
    }
    const char *host = cc_headers_get(&req->headers, "host");
    if (host && !host_field_ok(host)) {
        cc_conn_respond_error(c, 403, "permission_error",
                              "the dashboard answers only to a Host that names loopback "
                              "(127.0.0.1, [::1] or localhost), so that a web page cannot reach "
                              "it by pointing its own name at this machine");
        return;
    }
    const char *p = req->path;
    if (strcmp(p, "/ui") == 0) {
        cc_headers_t h = CC_HEADERS_INIT;
        cc_headers_set(&h, "Location", "/ui/");
        cc_conn_respond(c, 308, "text/plain; charset=utf-8", "/ui/\n", 5, &h);
        cc_headers_free(&h);
        return;
    }
    if (strcmp(p, "/ui/api/summary") == 0) {
        serve_summary(c);
        return;
    }
    for (size_t i = 0; i < N_UI_FILES; i++) {
        if (strcmp(p, ui_files[i].path) != 0) continue;
        pthread_once(&ui_once, load_files);
        if (!ui_files[i].data) {
            char msg[4400];
            snprintf(msg, sizeof msg,
                     "the dashboard's file %s/%s could not be read; set CCPROXY_DATA_DIR to the "
                     "directory that holds config/ui/, or reinstall ccproxy",
                     ui_dir, ui_files[i].file);
            cc_conn_respond_error(c, 500, "api_error", msg);
            return;
        }
        respond(c, 200, ui_files[i].type, ui_files[i].data, ui_files[i].len, "no-cache");
        return;
    }
    char msg[512];
    snprintf(msg, sizeof msg,
             "%.300s is not part of the dashboard (it serves /ui/, /ui/app.js, /ui/style.css "
             "and /ui/api/summary)", p);
    cc_conn_respond_error(c, 404, "not_found_error", msg);
}
