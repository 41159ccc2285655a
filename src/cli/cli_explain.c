/* cli_explain.c: `ccproxy explain [--json] [--headers FILE] [--path P] [--query Q] [FILE|-]`:
 * runs the pipeline the server would build on a captured request and shows what happens to
 * it, without sending anything. This file parses the options, reads the files, loads the
 * configuration and the pipeline; lua/ccproxy/explain.lua does the rest. */
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "lua/lua_vm.h"
#include "lua/pipeline.h"

static const char usage[] =
    "usage: ccproxy [--config-dir DIR] explain [options] [FILE|-]\n"
    "\n"
    "Runs the rules and hooks of the configuration on a captured request body (FILE, or\n"
    "stdin when FILE is - or missing) as the proxy would, and shows the request, each rule's\n"
    "verdict, the label, each hook's edits, the deployment chosen and the upstream request\n"
    "(secrets redacted). Nothing is sent.\n"
    "\n"
    "options:\n"
    "  --headers FILE  the request's headers: a capture with header_list [[name, value],\n"
    "                  ...], a {\"name\": \"value\"} object, or \"Name: value\" lines\n"
    "  --path PATH     messages (default) or count_tokens, or the full path\n"
    "  --query QUERY   the query string, e.g. beta=true (default: the headers file's)\n"
    "  --json          print one JSON object instead of the text report\n"
    "  -h, --help      show this help\n"
    "\n"
    "exit: 0 routed; 1 the request cannot be built or routed, or a hook failed; 2 usage\n";
static const cc__cli_cmd_t cmd = {"explain", usage};

typedef struct {
    bool json;
    const char *headers_file;
    const char *path;
    const char *query;
    const char *body_file; /* NULL or "-": stdin */
} opts_t;

/* "messages", "count_tokens" or a full path -> the path; NULL when unknown. */
static const char *endpoint_path(const char *arg) {
    if (strcmp(arg, "messages") == 0 || strcmp(arg, "/v1/messages") == 0) return "/v1/messages";
    if (strcmp(arg, "count_tokens") == 0 || strcmp(arg, "/v1/messages/count_tokens") == 0)
        return "/v1/messages/count_tokens";
    return NULL;
}

/* 0, 2 after a usage error, -3 after --help. */
static int parse(int argc, char **argv, opts_t *o) {
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"headers", required_argument, NULL, 'H'},
                                             {"path", required_argument, NULL, 'p'},
                                             {"query", required_argument, NULL, 'q'},
                                             {0, 0, 0, 0}};
    int oi = 0, c;
    for (;;) {
        c = cc__cli_next_opt(&cmd, argc, argv, "", longopts, &oi);
        if (c == -3) return -3;
        if (c == -2) return 2;
        if (c == -1) {
            /* Options may also follow the file: take it and go on. */
            if (oi >= argc) break;
            if (o->body_file)
                return cc__cli_usage_error(&cmd, "more than one request file ('%s' and '%s')",
                                           o->body_file, argv[oi]);
            o->body_file = argv[oi];
            optind = ++oi;
            continue;
        }
        switch (c) {
        case 'j':
            o->json = true;
            break;
        case 'H':
            o->headers_file = optarg;
            break;
        case 'p':
            o->path = endpoint_path(optarg);
            if (!o->path)
                return cc__cli_usage_error(&cmd,
                                           "--path takes messages or count_tokens, not "
                                           "'%s'",
                                           optarg);
            break;
        case 'q':
            o->query = optarg[0] == '?' ? optarg + 1 : optarg;
            break;
        default:
            return 2;
        }
    }
    return 0;
}

/* Reads all of `name` ("-" or NULL: stdin) into `out`. Returns 0, or -1 after saying why. */
static int read_all(const char *name, const char *what, cc_buf_t *out) {
    bool std = !name || strcmp(name, "-") == 0;
    FILE *f = std ? stdin : fopen(name, "rb");
    if (!f) {
        fprintf(stderr, "ccproxy explain: cannot open the %s %s: %s\n", what, name,
                strerror(errno));
        return -1;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (cc_buf_append(out, chunk, n) < 0) break;
    }
    int rc = ferror(f) ? -1 : 0;
    if (rc < 0)
        fprintf(stderr, "ccproxy explain: cannot read the %s %s: %s\n", what,
                std ? "from stdin" : name, strerror(errno));
    if (!std) fclose(f);
    return rc;
}

/* Writes `b` to stderr, ending with one newline. */
static void print_block(const cc_buf_t *b) {
    if (!b->len) return;
    fwrite(b->data, 1, b->len, stderr);
    if (b->data[b->len - 1] != '\n') fputc('\n', stderr);
}

static void set_str(lua_State *L, const char *key, const char *s, size_t len) {
    if (!s) return;
    lua_pushlstring(L, s, len);
    lua_setfield(L, -2, key);
}

/* Calls require("ccproxy.explain").run{...}; returns its exit code. */
static int run_explain(lua_State *L, const opts_t *o, const cc_config_t *cfg, const cc_buf_t *body,
                       const cc_buf_t *headers) {
    cc_buf_t err = CC_BUF_INIT;
    int rc = 1;
    lua_createtable(L, 0, 9);
    set_str(L, "body", body->data ? body->data : "", body->len);
    const char *bname = o->body_file && strcmp(o->body_file, "-") != 0 ? o->body_file : "stdin";
    set_str(L, "body_name", bname, strlen(bname));
    if (o->headers_file) {
        set_str(L, "headers_text", headers->data ? headers->data : "", headers->len);
        set_str(L, "headers_name", o->headers_file, strlen(o->headers_file));
    }
    if (o->path) set_str(L, "path", o->path, strlen(o->path));
    if (o->query) set_str(L, "query", o->query, strlen(o->query));
    lua_pushboolean(L, o->json);
    lua_setfield(L, -2, "json");
    set_str(L, "config_dir", cfg->dir, strlen(cfg->dir));
    if (cc_lua_call_module(L, "ccproxy.explain", "run", &rc, &err) != 0) {
        fflush(stdout);
        fprintf(stderr, "ccproxy explain: internal error: %s\n", err.data ? err.data : "?");
        rc = 1;
    }
    cc_buf_free(&err);
    return rc;
}

int cc_cmd_explain(const char *config_dir, int argc, char **argv) {
    opts_t o = {0};
    int prc = parse(argc, argv, &o);
    if (prc == -3) return 0;
    if (prc) return prc;

    int rc = 1;
    cc_buf_t body = CC_BUF_INIT, headers = CC_BUF_INIT, err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = NULL;
    cc_pipeline_t *p = NULL;
    if (o.headers_file && read_all(o.headers_file, "headers file", &headers) < 0) goto fail;
    if (read_all(o.body_file, "request body", &body) < 0) goto fail;
    cfg = cc_config_load(config_dir, &err, &warn);
    if (!cfg) {
        print_block(&err);
        fprintf(stderr,
                "ccproxy explain: fix the configuration above (%s); `ccproxy check` "
                "lists every problem\n",
                config_dir);
        goto fail;
    }
    cc_buf_reset(&err);
    p = cc_pipeline_new(cfg, &err);
    if (!p) {
        print_block(&err);
        fprintf(stderr, "ccproxy explain: the rules and hooks above do not load; `ccproxy "
                        "check` lists every problem\n");
        goto fail;
    }
    rc = run_explain(cc_pipeline_lua(p), &o, cfg, &body, &headers);
fail:
    fflush(stdout);
    cc_pipeline_free(p);
    cc_config_free(cfg);
    cc_buf_free(&body);
    cc_buf_free(&headers);
    cc_buf_free(&err);
    cc_buf_free(&warn);
    return rc;
}
