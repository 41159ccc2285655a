/* cli_check.c: `ccproxy check`: validates the configuration offline exactly as `start` does
 * (ccproxy.yaml and config.yaml, then every rule and hook module loaded into a pipeline's
 * sandboxed Lua state, params checked), then runs the examples the loaded modules declare
 * (lua/ccproxy/check.lua). Prints every problem with file:line, or one "ok:" line. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "lua/lua_vm.h"
#include "lua/pipeline.h"

static const char usage[] =
    "usage: ccproxy [--config-dir DIR] check\n"
    "\n"
    "Validates ccproxy.yaml, config.yaml and every rule and hook script as `ccproxy start`\n"
    "would, without starting anything, then runs the examples the loaded modules declare.\n"
    "Prints every problem with file:line and what to do (exit 1), or\n"
    "\"ok: N rules, M hooks, K models, E examples\" (exit 0).\n"
    "\n"
    "options:\n"
    "  -h, --help  show this help\n";
static const cc__cli_cmd_t cmd = {"check", usage};

/* Prints each line of `text` with `prefix`; returns how many lines there were. */
static int print_lines(const char *prefix, const char *text) {
    int n = 0;
    while (text && *text) {
        size_t len = strcspn(text, "\n");
        if (len) {
            printf("%s%.*s\n", prefix, (int)len, text);
            n++;
        }
        text += len;
        if (*text == '\n') text++;
    }
    return n;
}

/* Calls require("ccproxy.check").run{...} in the pipeline's state; returns its exit code. */
static int run_examples(lua_State *L, const cc_config_t *cfg, int n_warnings) {
    cc_buf_t err = CC_BUF_INIT;
    int rc = 1;
    lua_createtable(L, 0, 3);
    lua_pushstring(L, cfg->dir);
    lua_setfield(L, -2, "config_dir");
    lua_pushinteger(L, (lua_Integer)cfg->n_models);
    lua_setfield(L, -2, "models");
    lua_pushinteger(L, n_warnings);
    lua_setfield(L, -2, "warnings");
    if (cc_lua_call_module(L, "ccproxy.check", "run", &rc, &err) != 0) {
        fflush(stdout);
        fprintf(stderr, "ccproxy check: internal error: %s\n", err.data ? err.data : "?");
        rc = 1;
    }
    cc_buf_free(&err);
    return rc;
}

int cc_cmd_check(const char *config_dir, int argc, char **argv) {
    static const struct option longopts[] = {{0, 0, 0, 0}};
    int oi = 0, c;
    while ((c = cc__cli_next_opt(&cmd, argc, argv, "", longopts, &oi)) != -1) {
        if (c == -3) return 0;
        return 2;
    }
    if (cc__cli_no_args(&cmd, argc, argv, oi)) return 2;

    int rc = 1;
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_pipeline_t *p = NULL;
    cc_config_t *cfg = cc_config_load(config_dir, &err, &warn);
    int n_warnings = print_lines("warning: ", warn.data);
    if (!cfg) {
        int n = print_lines("", err.data);
        if (!n) n = print_lines("", "the configuration does not load");
        printf("%d problem%s in the configuration of %s; fix %s and run `ccproxy check` again\n", n,
               n == 1 ? "" : "s", config_dir, n == 1 ? "it" : "them");
        goto fail;
    }
    cc_buf_reset(&err);
    p = cc_pipeline_new(cfg, &err);
    if (!p) {
        int n = print_lines("", err.data ? err.data : "the rules and hooks do not load");
        printf("%d problem%s with the rules and hooks; fix %s and run `ccproxy check` again\n", n,
               n == 1 ? "" : "s", n == 1 ? "it" : "them");
        goto fail;
    }
    rc = run_examples(cc_pipeline_lua(p), cfg, n_warnings);
fail:
    fflush(stdout);
    cc_pipeline_free(p);
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
    return rc;
}
