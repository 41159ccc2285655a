/* cli_run.c: `ccproxy run <command> [args...]`: runs a command (no shell) with
 * ANTHROPIC_BASE_URL, OPENAI_BASE_URL and OPENAI_API_BASE pointing at the proxy, warns when the
 * proxy does not answer, and exits with the command's code (128+N when a signal ended it).
 * For `claude` it also turns on ccproxy's status line: `--settings <temp file>` with a
 * statusLine that runs `ccproxy statusline` (the file is removed when the command ends). */
#define _GNU_SOURCE /* pipe2 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "paths.h"

#define HEALTH_TIMEOUT_MS 1000
#define FALLBACK_HOST "127.0.0.1"
#define FALLBACK_PORT 4000

static const char usage[] =
    "usage: ccproxy [--config-dir DIR] run [--no-statusline] [--] <command> [args...]\n"
    "\n"
    "Runs a command with ANTHROPIC_BASE_URL, OPENAI_BASE_URL and OPENAI_API_BASE set to the\n"
    "proxy's URL, e.g. `ccproxy run claude`. Everything after the command's name belongs to\n"
    "the command. Exits with the command's exit code (128+N when signal N ended it, 127 when\n"
    "it is not found).\n"
    "\n"
    "For `claude`, Claude Code's status line shows what ccproxy did (`ccproxy statusline`),\n"
    "through a `--settings` file of its own, unless the command line has `--settings` or\n"
    "Claude Code's settings already have a statusLine.\n"
    "\n"
    "options:\n"
    "  --no-statusline  leave Claude Code's status line alone (also: CCPROXY_STATUSLINE=0)\n"
    "  -h, --help       show this help\n";
static const cc__cli_cmd_t cmd = {"run", usage};

static volatile pid_t child_pid;

/* SIGTERM and SIGHUP sent to ccproxy go on to the command, which decides what to do. */
static void forward_signal(int sig) {
    if (child_pid > 0) kill(child_pid, sig);
}

/* The proxy's address as clients reach it; from the config, else $HOST/$PORT or the defaults
 * (with a warning). */
static char *proxy_url(const char *config_dir, char **host_out, int *port_out) {
    cc_buf_t errors = CC_BUF_INIT;
    cc_config_t *cfg = cc__cli_load_config(config_dir, false, &errors);
    const char *host;
    int port;
    char *url = NULL;
    if (cfg) {
        host = cfg->host;
        port = cfg->port;
    } else {
        host = getenv("HOST") && *getenv("HOST") ? getenv("HOST") : FALLBACK_HOST;
        const char *p = getenv("PORT");
        char *end = NULL;
        long v = p ? strtol(p, &end, 10) : 0;
        port = p && end != p && !*end && v > 0 && v < 65536 ? (int)v : FALLBACK_PORT;
    }
    host = cc__client_host(host);
    *host_out = strdup(host);
    *port_out = port;
    url = cc__url_for(host, port);
    if (!cfg && url)
        fprintf(stderr,
                "ccproxy run: the configuration in %s does not load (see above); "
                "using %s\n",
                config_dir, url);
    if (cfg) cc_config_free(cfg);
    cc_buf_free(&errors);
    return url;
}

static void check_proxy(const char *config_dir, const char *host, int port, const char *url) {
    int code = cc__http_get(host, port, "/health", HEALTH_TIMEOUT_MS, NULL);
    if (code >= 200 && code < 300) return;
    pid_t pid = 0;
    char *pidfile = cc_paths_pidfile(config_dir);
    cc__pid_state_t st = pidfile ? cc__pidfile_check(pidfile, &pid) : CC_PID_NONE;
    free(pidfile);
    if (st == CC_PID_RUNNING)
        fprintf(stderr,
                "ccproxy: the proxy (pid %d) does not answer at %s/health; see "
                "`ccproxy logs`\n",
                (int)pid, url);
    else
        fprintf(stderr,
                "ccproxy: the proxy is not running at %s; start it with "
                "`ccproxy start --detach`\n",
                url);
}

/* Runs argv and returns the exit code as described in the usage. */
static int spawn_and_wait(char **cargv) {
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) != 0) {
        fprintf(stderr, "ccproxy run: pipe: %s\n", strerror(errno));
        return 1;
    }
    struct sigaction ign, fwd, old_int, old_quit, old_term, old_hup;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    fwd = ign;
    fwd.sa_handler = forward_signal;
    fwd.sa_flags = SA_RESTART;
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    sigaction(SIGTERM, &fwd, &old_term);
    sigaction(SIGHUP, &fwd, &old_hup);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGHUP, &old_hup, NULL);
        close(ep[0]);
        execvp(cargv[0], cargv);
        int e = errno;
        (void)!write(ep[1], &e, sizeof e);
        _exit(127);
    }
    int rc = 1;
    if (pid < 0) {
        fprintf(stderr, "ccproxy run: cannot fork: %s\n", strerror(errno));
        goto fail;
    }
    child_pid = pid;
    close(ep[1]);
    ep[1] = -1;
    int exec_errno = 0;
    ssize_t got;
    do {
        got = read(ep[0], &exec_errno, sizeof exec_errno);
    } while (got < 0 && errno == EINTR);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    child_pid = 0;
    if (got == (ssize_t)sizeof exec_errno) {
        if (exec_errno == ENOENT) {
            fprintf(stderr, "ccproxy run: %s: command not found\n", cargv[0]);
            rc = 127;
        } else {
            fprintf(stderr, "ccproxy run: cannot run %s: %s\n", cargv[0], strerror(exec_errno));
            rc = 126;
        }
    } else if (WIFEXITED(status)) {
        rc = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        rc = 128 + WTERMSIG(status);
    }
fail:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    close(ep[0]);
    if (ep[1] >= 0) close(ep[1]);
    return rc;
}

/* --- the status line ------------------------------------------------------------------------ */

/* Whether the command is Claude Code: its name, without the directories, is `claude`. */
static bool is_claude(const char *arg0) {
    const char *base = strrchr(arg0, '/');
    return strcmp(base ? base + 1 : arg0, "claude") == 0;
}

/* Whether the user gave Claude Code settings of their own on its command line. */
static bool has_settings_arg(char **args) {
    for (; *args; args++) {
        if (strcmp(*args, "--") == 0) return false;
        if (strcmp(*args, "--settings") == 0 || strncmp(*args, "--settings=", 11) == 0)
            return true;
    }
    return false;
}

/* Whether the JSON file at `path` has a top-level "statusLine". */
static bool file_has_statusline(const char *path) {
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return false;
    cc_buf_t text = CC_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && text.len < (8u << 20))
        cc_buf_append(&text, chunk, n);
    fclose(f);
    cJSON *o = text.data ? cJSON_ParseWithLength(text.data, text.len) : NULL;
    bool has = cJSON_GetObjectItemCaseSensitive(o, "statusLine") != NULL;
    cJSON_Delete(o);
    cc_buf_free(&text);
    return has;
}

/* Whether Claude Code's own settings already have a status line: the user's
 * ($CLAUDE_CONFIG_DIR or ~/.claude, settings.json) and this directory's project settings
 * (.claude/settings.json, .claude/settings.local.json). Those are the user's: kept. */
static bool settings_have_statusline(void) {
    const char *ccd = getenv("CLAUDE_CONFIG_DIR"), *home = getenv("HOME");
    char *user = NULL;
    if (ccd && *ccd) {
        user = cc_path_join(ccd, "settings.json");
    } else if (home && *home) {
        char *dir = cc_path_join(home, ".claude");
        user = dir ? cc_path_join(dir, "settings.json") : NULL;
        free(dir);
    }
    bool has = file_has_statusline(user) || file_has_statusline(".claude/settings.json") ||
               file_has_statusline(".claude/settings.local.json");
    free(user);
    return has;
}

/* CCPROXY_STATUSLINE=0 (or off, false, no) turns the status line off. */
static bool statusline_env_off(void) {
    const char *v = getenv("CCPROXY_STATUSLINE");
    return v && (strcmp(v, "0") == 0 || strcasecmp(v, "off") == 0 ||
                 strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0);
}

/* `s` in single quotes for the shell Claude Code runs the command with. */
static void shell_quote(cc_buf_t *out, const char *s) {
    cc_buf_puts(out, "'");
    for (; *s; s++) {
        if (*s == '\'')
            cc_buf_puts(out, "'\\''");
        else
            cc_buf_append(out, s, 1);
    }
    cc_buf_puts(out, "'");
}

/* Writes the settings file, {"statusLine": {"type": "command", "command": "'<ccproxy>'
 * --config-dir '<dir>' statusline"}}, into $TMPDIR (else /tmp), mode 0600. Returns its
 * malloc'd path, or NULL (with a warning) when it cannot. */
static char *write_statusline_settings(const char *config_dir) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = '\0';
    cc_buf_t command = CC_BUF_INIT;
    shell_quote(&command, exe);
    cc_buf_puts(&command, " --config-dir ");
    shell_quote(&command, config_dir);
    cc_buf_puts(&command, " statusline");
    cJSON *o = cJSON_CreateObject();
    cJSON *sl = cJSON_AddObjectToObject(o, "statusLine");
    cJSON_AddStringToObject(sl, "type", "command");
    cJSON_AddStringToObject(sl, "command", command.data ? command.data : "");
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    cc_buf_free(&command);
    const char *tmp = getenv("TMPDIR");
    char *path = cc_path_join(tmp && *tmp ? tmp : "/tmp", "ccproxy-statusline-XXXXXX.json");
    int fd = path && text ? mkstemps(path, 5) : -1;
    if (fd < 0 || cc__write_all(fd, text, strlen(text)) != 0 || cc__write_all(fd, "\n", 1) != 0) {
        fprintf(stderr, "ccproxy run: cannot write the status line's settings (%s): %s; "
                        "running without it\n",
                path ? path : "out of memory", strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        free(path);
        free(text);
        return NULL;
    }
    close(fd);
    free(text);
    return path;
}

int cc_cmd_run(const char *config_dir, int argc, char **argv) {
    int first = 1;
    bool statusline = true;
    while (first < argc) {
        const char *a = argv[first];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(cmd.usage, stdout);
            return 0;
        }
        if (strcmp(a, "--no-statusline") == 0) {
            statusline = false;
            first++;
            continue;
        }
        if (strcmp(a, "--") == 0)
            first++;
        else if (a[0] == '-' && a[1])
            return cc__cli_usage_error(&cmd,
                                       "unknown option '%s' (put `--` before a command "
                                       "whose name starts with '-')",
                                       a);
        break;
    }
    if (first >= argc) return cc__cli_usage_error(&cmd, "no command given");

    char *host = NULL;
    int port = 0;
    char *url = proxy_url(config_dir, &host, &port);
    if (!url || !host) {
        free(url);
        free(host);
        fprintf(stderr, "ccproxy run: out of memory\n");
        return 1;
    }
    check_proxy(config_dir, host, port, url);
    setenv("ANTHROPIC_BASE_URL", url, 1);
    setenv("OPENAI_BASE_URL", url, 1);
    setenv("OPENAI_API_BASE", url, 1);
    free(url);
    free(host);
    char **cargv = argv + first;
    char *settings = NULL;
    if (statusline && is_claude(cargv[0]) && !statusline_env_off() &&
        !has_settings_arg(cargv + 1) && !settings_have_statusline())
        settings = write_statusline_settings(config_dir);
    char **with = NULL;
    if (settings) {
        /* claude --settings <file> args... */
        int n = argc - first;
        with = calloc((size_t)n + 3, sizeof *with);
        if (with) {
            with[0] = cargv[0];
            with[1] = (char *)"--settings";
            with[2] = settings;
            memcpy(with + 3, cargv + 1, (size_t)(n - 1) * sizeof *with);
            cargv = with;
        }
    }
    int rc = spawn_and_wait(cargv);
    if (settings) unlink(settings);
    free(settings);
    free(with);
    return rc;
}
