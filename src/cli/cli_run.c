/* cli_run.c: `ccproxy run <command> [args...]`: runs a command (no shell) with
 * ANTHROPIC_BASE_URL, OPENAI_BASE_URL and OPENAI_API_BASE pointing at the proxy, warns when the
 * proxy does not answer, and exits with the command's code (128+N when a signal ended it). */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "paths.h"

#define HEALTH_TIMEOUT_MS 1000
#define FALLBACK_HOST "127.0.0.1"
#define FALLBACK_PORT 4000

static const char usage[] =
    "usage: ccproxy [--config-dir DIR] run [--] <command> [args...]\n"
    "\n"
    "Runs a command with ANTHROPIC_BASE_URL, OPENAI_BASE_URL and OPENAI_API_BASE set to the\n"
    "proxy's URL, e.g. `ccproxy run claude`. Everything after `run` belongs to the command.\n"
    "Exits with the command's exit code (128+N when signal N ended it, 127 when it is not\n"
    "found).\n"
    "\n"
    "options:\n"
    "  -h, --help  show this help (only directly after `run`)\n";
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

int cc_cmd_run(const char *config_dir, int argc, char **argv) {
    int first = 1;
    if (first < argc) {
        const char *a = argv[first];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(cmd.usage, stdout);
            return 0;
        }
        if (strcmp(a, "--") == 0)
            first++;
        else if (a[0] == '-' && a[1])
            return cc__cli_usage_error(&cmd,
                                       "unknown option '%s' (put `--` before a command "
                                       "whose name starts with '-')",
                                       a);
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
    return spawn_and_wait(argv + first);
}
