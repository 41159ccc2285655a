/* cli_logs.c: `ccproxy logs [-f] [-n N]`: prints the last N lines of <config dir>/ccproxy.log
 * (read backwards from the end, so a large log costs no more than the lines shown), and with
 * --follow keeps printing what is appended (polling; survives truncation and rotation) until
 * SIGINT or SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "paths.h"

#define DEFAULT_LINES 100
#define FOLLOW_POLL_MS 200

static const char usage[] =
    "usage: ccproxy [--config-dir DIR] logs [--follow] [--lines N]\n"
    "\n"
    "Prints the end of the log written by `ccproxy start --detach` (<config dir>/ccproxy.log).\n"
    "\n"
    "options:\n"
    "  -n, --lines N  how many lines from the end (default 100)\n"
    "  -f, --follow   keep printing lines as they are appended (Ctrl-C to stop)\n"
    "  -h, --help     show this help\n";
static const cc__cli_cmd_t cmd = {"logs", usage};

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

/* The offset where the last `n` lines of the file start. A final newline ends the last line
 * rather than starting an empty one. */
static off_t tail_offset(int fd, off_t size, long n) {
    if (n <= 0 || size == 0) return size;
    char buf[65536];
    off_t end = size;
    long seen = 0;
    while (end > 0) {
        off_t start = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
        ssize_t got = pread(fd, buf, (size_t)(end - start), start);
        if (got <= 0) return 0;
        for (ssize_t i = got - 1; i >= 0; i--) {
            if (start + i == size - 1) continue; /* the last line's own newline */
            if (buf[i] == '\n' && ++seen == n) return start + i + 1;
        }
        end = start;
    }
    return 0;
}

/* Copies fd from its current position to stdout until EOF. Returns 0 or -errno. */
static int copy_to_stdout(int fd) {
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            if (stop_requested) return 0;
            continue;
        }
        if (n < 0) return -errno;
        if (n == 0) return 0;
        int rc = cc__write_all(1, buf, (size_t)n);
        if (rc < 0) return rc;
    }
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* a signal ends the nap early, which is what we want */
}

/* Follows `path` (already open as *fd, positioned at its end). Returns the exit code. */
static int follow(const char *path, int *fd) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: a signal interrupts the read or sleep */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!stop_requested) {
        int rc = copy_to_stdout(*fd);
        if (rc < 0) {
            fprintf(stderr, "ccproxy logs: reading %s: %s\n", path, strerror(-rc));
            return 1;
        }
        struct stat cur, named;
        if (fstat(*fd, &cur) == 0 && lseek(*fd, 0, SEEK_CUR) > cur.st_size) {
            fprintf(stderr, "ccproxy logs: %s was truncated; following from its start\n", path);
            lseek(*fd, 0, SEEK_SET);
            continue;
        }
        if (stat(path, &named) == 0 && (named.st_ino != cur.st_ino || named.st_dev != cur.st_dev)) {
            /* Rotated: finish the old file, then continue with the new one from its start. */
            int nfd = open(path, O_RDONLY | O_CLOEXEC);
            if (nfd >= 0) {
                copy_to_stdout(*fd);
                close(*fd);
                *fd = nfd;
                continue;
            }
        }
        sleep_ms(FOLLOW_POLL_MS);
    }
    return 0;
}

int cc_cmd_logs(const char *config_dir, int argc, char **argv) {
    static const struct option longopts[] = {
        {"follow", no_argument, NULL, 'f'}, {"lines", required_argument, NULL, 'n'}, {0, 0, 0, 0}};
    bool follow_mode = false;
    long lines = DEFAULT_LINES;
    int oi = 0, c;
    while ((c = cc__cli_next_opt(&cmd, argc, argv, "fn:", longopts, &oi)) != -1) {
        if (c == -3) return 0;
        if (c < 0) return 2;
        if (c == 'f') follow_mode = true;
        if (c == 'n') {
            char *end = NULL;
            errno = 0;
            lines = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || lines < 0)
                return cc__cli_usage_error(&cmd, "--lines needs a whole number >= 0, got '%s'",
                                           optarg);
        }
    }
    if (cc__cli_no_args(&cmd, argc, argv, oi)) return 2;

    int rc = 1, fd = -1;
    char *path = cc_paths_logfile(config_dir);
    if (!path) goto fail;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            fprintf(stderr,
                    "ccproxy logs: no log file at %s (the log is written by "
                    "`ccproxy start --detach`)\n",
                    path);
        else
            fprintf(stderr, "ccproxy logs: cannot open %s: %s\n", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fprintf(stderr, "ccproxy logs: cannot read %s: %s\n", path, strerror(errno));
        goto fail;
    }
    if (lseek(fd, tail_offset(fd, st.st_size, lines), SEEK_SET) < 0) goto fail;
    int e = copy_to_stdout(fd);
    if (e < 0) {
        fprintf(stderr, "ccproxy logs: reading %s: %s\n", path, strerror(-e));
        goto fail;
    }
    rc = follow_mode ? follow(path, &fd) : 0;
fail:
    if (fd >= 0) close(fd);
    free(path);
    return rc;
}
