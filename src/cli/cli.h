/* cli.h: the command-line interface. main.c parses the global options and dispatches to one
 * cc_cmd_* function per subcommand (one file each, cli_<name>.c). Each returns the process exit
 * code. `config_dir` is already resolved (--config-dir, $CCPROXY_CONFIG_DIR, ~/.ccproxy). */
#ifndef CC_CLI_H
#define CC_CLI_H

int cc_cmd_install(const char *config_dir, int argc, char **argv);
int cc_cmd_start(const char *config_dir, int argc, char **argv);
int cc_cmd_stop(const char *config_dir, int argc, char **argv);
int cc_cmd_restart(const char *config_dir, int argc, char **argv);
int cc_cmd_status(const char *config_dir, int argc, char **argv);
int cc_cmd_logs(const char *config_dir, int argc, char **argv);
int cc_cmd_reload(const char *config_dir, int argc, char **argv);
int cc_cmd_run(const char *config_dir, int argc, char **argv);
/** `ccproxy statusline`: reads Claude Code's statusLine JSON on stdin and prints one line
 *  about that session from the running proxy (GET /ccproxy/sessions/<id>); prints nothing
 *  when the proxy is down or does not know it. Exit 0 (2: usage error). */
int cc_cmd_statusline(const char *config_dir, int argc, char **argv);
/** `ccproxy check`: loads the configuration and every rule and hook as `start` would, runs
 *  the modules' examples, prints every problem (exit 1) or a summary (exit 0). */
int cc_cmd_check(const char *config_dir, int argc, char **argv);
/** `ccproxy explain [--json] [--headers FILE] [FILE|-]`: runs the pipeline on a captured
 *  request without sending it and shows each rule's verdict, each hook's edits, the route and
 *  the upstream request. */
int cc_cmd_explain(const char *config_dir, int argc, char **argv);
/** `ccproxy lua FILE [ARGS...]`: runs a Lua script inside ccproxy's own LuaJIT with the
 *  ccproxy modules and the request constructor available (how the busted specs run against
 *  the real request view). */
int cc_cmd_lua(const char *config_dir, int argc, char **argv);
/** `ccproxy usage [--since WHEN] [--by KEY] [--session ID] [--json]`: the requests, errors,
 *  tokens and cost the request store (record/store.h) holds, per day, model, deployment,
 *  label, session or agent, read-only. */
int cc_cmd_usage(const char *config_dir, int argc, char **argv);

#endif
