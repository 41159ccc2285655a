/* cli_stop.c: `ccproxy stop`: sends SIGTERM to the proxy named by the pid file, waits while it
 * finishes in-flight requests (the configured shutdown grace plus 5 s), then SIGKILLs it if it
 * is still there. Also the stop half of `restart` (cc__cli_stop). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "paths.h"

#define POLL_MS 50
#define EXTRA_WAIT_MS 5000
#define DEFAULT_WAIT_MS 35000 /* when the config does not load: default grace + 5 s */
#define KILL_WAIT_MS 2000

static const char usage[] =
    "usage: ccproxy [--config-dir DIR] stop\n"
    "\n"
    "Stops the proxy started for the config dir: SIGTERM, a wait while in-flight requests\n"
    "finish (the configured shutdown grace + 5 s), then SIGKILL.\n"
    "\n"
    "options:\n"
    "  -h, --help  show this help\n";
static const cc__cli_cmd_t cmd = {"stop", usage};

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Polls until pid is no longer a live ccproxy or wait_ms passed. True when it is gone. */
static bool wait_gone(pid_t pid, long wait_ms) {
    for (long waited = 0;; waited += POLL_MS) {
        if (!cc__pid_is_ccproxy(pid)) return true;
        if (waited >= wait_ms) return false;
        sleep_ms(POLL_MS);
    }
}

int cc__cli_stop(const char *config_dir, bool *was_running) {
    int rc = 1;
    pid_t pid = 0;
    *was_running = false;
    char *pidfile = cc_paths_pidfile(config_dir);
    if (!pidfile) return 1;
    switch (cc__pidfile_check(pidfile, &pid)) {
    case CC_PID_NONE:
        fprintf(stderr, "ccproxy is not running (no pid file at %s)\n", pidfile);
        goto fail;
    case CC_PID_STALE:
    case CC_PID_INVALID:
        if (unlink(pidfile) != 0 && errno != ENOENT)
            fprintf(stderr, "ccproxy stop: cannot remove the stale pid file %s: %s\n", pidfile,
                    strerror(errno));
        else if (pid)
            fprintf(stderr,
                    "ccproxy is not running (pid %d %s); removed the stale pid file "
                    "%s\n",
                    (int)pid, cc__pid_stale_why(pid), pidfile);
        else
            fprintf(stderr, "ccproxy is not running; removed the unreadable pid file %s\n",
                    pidfile);
        goto fail;
    case CC_PID_RUNNING:
        break;
    }
    *was_running = true;

    long wait_ms = DEFAULT_WAIT_MS;
    cc_config_t *cfg = cc__cli_load_config(config_dir, true, NULL);
    if (cfg) {
        wait_ms = (long)cfg->limits.shutdown_grace_ms + EXTRA_WAIT_MS;
        cc_config_free(cfg);
    }
    if (kill(pid, SIGTERM) != 0 && errno != ESRCH) {
        fprintf(stderr, "ccproxy stop: cannot signal pid %d: %s\n", (int)pid, strerror(errno));
        goto fail;
    }
    /* Quick exits stay quiet; say why we wait when it takes longer. */
    if (!wait_gone(pid, 1000)) {
        fprintf(stderr, "ccproxy stop: waiting for pid %d to finish its requests (up to %ld s)\n",
                (int)pid, (wait_ms + 999) / 1000);
        if (!wait_gone(pid, wait_ms - 1000)) {
            fprintf(stderr, "ccproxy stop: pid %d did not exit within %ld s; killing it\n",
                    (int)pid, (wait_ms + 999) / 1000);
            kill(pid, SIGKILL);
            if (!wait_gone(pid, KILL_WAIT_MS)) {
                fprintf(stderr, "ccproxy stop: pid %d survived SIGKILL\n", (int)pid);
                goto fail;
            }
        }
    }
    cc__pidfile_remove_if(pidfile, pid);
    printf("ccproxy stopped (pid %d)\n", (int)pid);
    rc = 0;
fail:
    free(pidfile);
    return rc;
}

int cc_cmd_stop(const char *config_dir, int argc, char **argv) {
    int oi = 0, c;
    while ((c = cc__cli_next_opt(&cmd, argc, argv, "", NULL, &oi)) != -1) {
        if (c == -3) return 0;
        return 2;
    }
    if (cc__cli_no_args(&cmd, argc, argv, oi)) return 2;
    bool was_running = false;
    return cc__cli_stop(config_dir, &was_running);
}
