/* main.c: the ccproxy command. Parses the global options (--config-dir, --help, --version),
 * resolves the config dir and hands over to one cc_cmd_* function per subcommand (cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"

typedef struct {
    const char *name;
    int (*fn)(const char *config_dir, int argc, char **argv);
    const char *summary;
} command_t;

static const command_t commands[] = {
    {"install", cc_cmd_install, "write ccproxy.yaml and config.yaml into the config dir"},
    {"start", cc_cmd_start, "start the proxy (foreground, or --detach)"},
    {"stop", cc_cmd_stop, "stop a detached proxy"},
    {"restart", cc_cmd_restart, "stop, then start"},
    {"reload", cc_cmd_reload, "re-read the configuration and scripts without stopping (SIGHUP)"},
    {"status", cc_cmd_status, "show whether the proxy runs, and its configuration"},
    {"logs", cc_cmd_logs, "show the log of a detached proxy"},
    {"run", cc_cmd_run, "run a command with ANTHROPIC_BASE_URL/OPENAI_BASE_URL set"},
    {"statusline", cc_cmd_statusline, "one line about a Claude Code session (statusLine)"},
    {"check", cc_cmd_check, "validate the configuration and scripts, run the modules' examples"},
    {"explain", cc_cmd_explain, "show what the pipeline does with a captured request"},
    {"usage", cc_cmd_usage, "requests, tokens and cost from the request store"},
    {"lua", cc_cmd_lua, "run a Lua script with the ccproxy runtime (used by the specs)"},
};

static void usage(FILE *out) {
    fprintf(out,
            "usage: ccproxy [--config-dir DIR] <command> [options]\n\n"
            "A scriptable proxy for Claude Code.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nglobal options:\n"
            "  --config-dir DIR  configuration directory (default: $CCPROXY_CONFIG_DIR or "
            "~/.ccproxy)\n"
            "  --version         print the version\n"
            "  -h, --help        show this help; `ccproxy <command> --help` for a command\n");
}

int main(int argc, char **argv) {
    const char *cli_dir = NULL;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config-dir") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ccproxy: --config-dir needs a directory\n");
                return 2;
            }
            cli_dir = argv[++i];
        } else if (strncmp(a, "--config-dir=", 13) == 0) {
            cli_dir = a + 13;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            printf("ccproxy %s\n", CCPROXY_VERSION);
            return 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "ccproxy: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else {
            break;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const command_t *cmd = NULL;
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (strcmp(argv[i], commands[k].name) == 0) cmd = &commands[k];
    if (!cmd) {
        fprintf(stderr, "ccproxy: unknown command '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    char *dir = cc_config_dir_resolve(cli_dir);
    if (!dir) {
        fprintf(stderr, "ccproxy: cannot tell the config dir: set --config-dir or $HOME\n");
        return 1;
    }
    int rc = cmd->fn(dir, argc - i, argv + i);
    free(dir);
    return rc;
}
