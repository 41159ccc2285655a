/* cli_start.c: `ccproxy start [--detach]`: validates the config, refuses to start a second
 * proxy for the same config dir (pid file), then serves in the foreground, or forks a
 * detached server (own session, output appended to the log file) and waits until it reports
 * that it listens. Also the start half of `restart` (cc__cli_start). */
#define _GNU_SOURCE /* pipe2, close_range */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "paths.h"
#include "server.h"

#define READY_TIMEOUT_MS 15000

static const char usage[] =
    "usage: ccproxy [--config-dir DIR] start [--detach]\n"
    "\n"
    "Starts the proxy with the configuration in the config dir.\n"
    "\n"
    "options:\n"
    "  -d, --detach  run in the background: output goes to <config dir>/ccproxy.log, and the\n"
    "                command returns once the proxy listens\n"
    "  -h, --help    show this help\n";
static const cc__cli_cmd_t cmd = {"start", usage};

int cc__cli_start_parse(const cc__cli_cmd_t *c, int argc, char **argv, bool *detach) {
    static const struct option longopts[] = {{"detach", no_argument, NULL, 'd'}, {0, 0, 0, 0}};
    int oi = 0, o;
    *detach = false;
    while ((o = cc__cli_next_opt(c, argc, argv, "d", longopts, &oi)) != -1) {
        if (o == -3) return -3;
        if (o < 0) return 2;
        if (o == 'd') *detach = true;
    }
    return cc__cli_no_args(c, argc, argv, oi);
}

static int run_foreground(cc_config_t *cfg, const char *pidfile) {
    pid_t me = getpid();
    int e = cc__pidfile_create(pidfile, me);
    if (e < 0) {
        if (e == -EEXIST)
            fprintf(stderr,
                    "ccproxy start: another ccproxy created %s just now; see "
                    "`ccproxy status`\n",
                    pidfile);
        else
            fprintf(stderr, "ccproxy start: cannot write the pid file %s: %s\n", pidfile,
                    strerror(-e));
        cc_config_free(cfg);
        return 1;
    }
    int rc = cc_server_run(cfg, -1);
    cc__pidfile_remove_if(pidfile, me);
    return rc;
}

/* Closes every descriptor above stderr except `keep`. */
static void close_inherited(int keep) {
    if ((keep <= 3 || close_range(3, (unsigned)keep - 1, 0) == 0) &&
        close_range((unsigned)keep + 1, ~0U, 0) == 0)
        return;
    long max = sysconf(_SC_OPEN_MAX); /* a kernel without close_range */
    for (long fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
        if (fd != keep) close((int)fd);
}

/* The detached child: new session, stdin from /dev/null, stdout and stderr to the log. */
static int detached_child(cc_config_t *cfg, const char *pidfile, int logfd, int ready_fd) {
    setsid();
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0 && devnull != 0) {
        dup2(devnull, 0);
        close(devnull);
    }
    dup2(logfd, 1);
    dup2(logfd, 2);
    close(logfd);
    /* Descriptors inherited from whoever ran `ccproxy start` (a pipe a caller waits on to
     * close, say) must not stay open for the life of the server. */
    close_inherited(ready_fd);
    pid_t me = getpid();
    int e = cc__pidfile_create(pidfile, me);
    if (e < 0) {
        char msg[512];
        int n = e == -EEXIST
                    ? snprintf(msg, sizeof msg, "another ccproxy created %s just now", pidfile)
                    : snprintf(msg, sizeof msg, "cannot write the pid file %s: %s", pidfile,
                               strerror(-e));
        fprintf(stderr, "ccproxy start: %s\n", msg);
        cc__write_all(ready_fd, msg, (size_t)n);
        close(ready_fd);
        cc_config_free(cfg);
        return 1;
    }
    int rc = cc_server_run(cfg, ready_fd);
    cc__pidfile_remove_if(pidfile, me);
    return rc;
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the ready pipe until the deadline. Returns 1 for ready, 0 for an error (text in
 * `text`, possibly empty when the child closed the pipe without a word), -1 on timeout. */
static int wait_ready(int fd, cc_buf_t *text) {
    long deadline = now_ms() + READY_TIMEOUT_MS;
    bool first = true;
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0) return text->len ? 0 : -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            cc_buf_printf(text, "waiting for it failed: %s", strerror(errno));
            return 0;
        }
        if (n == 0) continue;
        char buf[1024];
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        /* A write this small is atomic: one byte on its own is the ready signal. */
        if (first && r == 1) return 1;
        first = false;
        cc_buf_append(text, buf, (size_t)r);
        if (text->len > 4096) return 0;
    }
}

/* After a failed start: the child's exit status if it ends within a moment, else -1. */
static int child_status(pid_t pid) {
    for (int i = 0; i < 20; i++) {
        int st = 0;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) return st;
        if (w < 0) return -1;
        struct timespec ts = {0, 25 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static int run_detached(cc_config_t *cfg, const char *config_dir, const char *pidfile,
                        const char *url) {
    int rc = 1, fds[2] = {-1, -1}, logfd = -1;
    cc_buf_t text = CC_BUF_INIT;
    /* With 0, 1 or 2 closed by our caller, the pipe could land there and be lost to dup2. */
    for (int fd = open("/dev/null", O_RDWR); fd >= 0; fd = open("/dev/null", O_RDWR)) {
        if (fd > 2) {
            close(fd);
            break;
        }
    }
    char *logfile = cc_paths_logfile(config_dir);
    if (!logfile) goto fail;
    logfd = open(logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (logfd < 0) {
        fprintf(stderr, "ccproxy start: cannot open the log file %s: %s\n", logfile,
                strerror(errno));
        goto fail;
    }
    if (pipe2(fds, O_CLOEXEC) != 0) {
        fprintf(stderr, "ccproxy start: pipe: %s\n", strerror(errno));
        goto fail;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "ccproxy start: cannot fork: %s\n", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        close(fds[0]);
        cc_config_t *mine = cfg;
        cfg = NULL;
        rc = detached_child(mine, pidfile, logfd, fds[1]);
        logfd = -1;
        fds[0] = fds[1] = -1;
        goto fail;
    }
    close(fds[1]);
    fds[1] = -1;
    cc_config_free(cfg);
    cfg = NULL;
    int ready = wait_ready(fds[0], &text);
    if (ready == 1) {
        printf("ccproxy started (pid %d), listening on %s; log: %s\n", (int)pid, url, logfile);
        rc = 0;
        goto fail;
    }
    if (ready < 0) {
        fprintf(stderr,
                "ccproxy start: the proxy did not start: no answer within %d s (pid %d is "
                "still running; stop it with `ccproxy stop`); see %s\n",
                READY_TIMEOUT_MS / 1000, (int)pid, logfile);
        goto fail;
    }
    while (text.len && (text.data[text.len - 1] == '\n' || text.data[text.len - 1] == '\r'))
        text.data[--text.len] = '\0';
    /* The child said why and is exiting: wait for it (half a second at most), so that its pid
     * file is gone when this command returns; one it left behind goes too. */
    int st = child_status(pid);
    cc__pidfile_remove_if(pidfile, pid);
    if (!text.len) {
        if (st >= 0 && WIFEXITED(st))
            cc_buf_printf(&text, "it exited with code %d before it was ready", WEXITSTATUS(st));
        else if (st >= 0 && WIFSIGNALED(st))
            cc_buf_printf(&text, "it was killed by signal %d before it was ready", WTERMSIG(st));
        else
            cc_buf_puts(&text, "it closed the ready pipe without a word");
    }
    fprintf(stderr, "ccproxy start: the proxy did not start: %s; see %s\n", text.data, logfile);
fail:
    if (cfg) cc_config_free(cfg);
    if (logfd >= 0) close(logfd);
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    cc_buf_free(&text);
    free(logfile);
    return rc;
}

int cc__cli_start(const char *config_dir, bool detach) {
    int rc = 1;
    char *pidfile = NULL, *url = NULL;
    cc_config_t *cfg = cc__cli_load_config(config_dir, false, NULL);
    if (!cfg) {
        fprintf(stderr, "ccproxy start: fix the configuration above (%s)\n", config_dir);
        return 1;
    }
    pidfile = cc_paths_pidfile(config_dir);
    url = cc__url_for(cfg->host, cfg->port);
    if (!pidfile || !url) goto fail;
    pid_t pid = 0;
    switch (cc__pidfile_check(pidfile, &pid)) {
    case CC_PID_RUNNING:
        fprintf(stderr, "ccproxy is already running (pid %d, %s); stop it with `ccproxy stop`\n",
                (int)pid, url);
        goto fail;
    case CC_PID_STALE:
    case CC_PID_INVALID:
        if (unlink(pidfile) != 0 && errno != ENOENT) {
            fprintf(stderr, "ccproxy start: cannot remove the stale pid file %s: %s\n", pidfile,
                    strerror(errno));
            goto fail;
        }
        if (pid)
            fprintf(stderr, "ccproxy start: removed the stale pid file %s (pid %d %s)\n", pidfile,
                    (int)pid, cc__pid_stale_why(pid));
        else
            fprintf(stderr, "ccproxy start: removed the unreadable pid file %s\n", pidfile);
        break;
    case CC_PID_NONE:
        break;
    }
    cc_config_t *c = cfg;
    cfg = NULL; /* both paths below take it over */
    rc = detach ? run_detached(c, config_dir, pidfile, url) : run_foreground(c, pidfile);
fail:
    if (cfg) cc_config_free(cfg);
    free(pidfile);
    free(url);
    return rc;
}

int cc_cmd_start(const char *config_dir, int argc, char **argv) {
    bool detach = false;
    int rc = cc__cli_start_parse(&cmd, argc, argv, &detach);
    if (rc == -3) return 0;
    if (rc) return rc;
    return cc__cli_start(config_dir, detach);
}
