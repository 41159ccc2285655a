/* cli_common.h: what the subcommands share: option parsing with uniform usage errors, the pid
 * file (reading, exclusive creation, removal), telling whether a pid is a live ccproxy,
 * loading the config with its messages printed, the URL clients use, and a small blocking
 * HTTP GET for the /health probe.
 *
 * Ownership: functions returning char * hand over malloc'd strings (the caller frees them);
 * cc_buf_t outputs are appended to and stay owned by the caller. */
#ifndef CC_CLI_COMMON_H
#define CC_CLI_COMMON_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "buf.h"
#include "config/config.h"

/** One subcommand's name and usage text (the text starts with "usage: ccproxy ..."). */
typedef struct {
    const char *name;
    const char *usage;
} cc__cli_cmd_t;

/** Parses the options of argv[1..] (argv[0] is the subcommand name) with getopt_long, which
 *  accepts "-n 5", "-n5", "--lines 5" and "--lines=5"; parsing stops at the first argument
 *  that is not an option. Set *optind_out to 0 before the first call. Returns the next
 *  option's value (its argument in `optarg`), -1 at the end (*optind_out then indexes the
 *  first argument left), or -2 after printing
 *  "ccproxy <cmd>: <problem>" and the usage on stderr (the caller exits with 2). --help and -h
 *  are handled here: the usage goes to stdout and -3 is returned (the caller exits with 0). */
int cc__cli_next_opt(const cc__cli_cmd_t *cmd, int argc, char **argv, const char *shortopts,
                     const struct option *longopts, int *optind_out);

/** Prints "ccproxy <cmd>: <message>" and the usage on stderr; returns 2. */
int cc__cli_usage_error(const cc__cli_cmd_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** Rejects arguments left after the options (commands that take none). Returns 0, or 2 after
 *  printing a usage error. */
int cc__cli_no_args(const cc__cli_cmd_t *cmd, int argc, char **argv, int first);

/** What a pid file says. */
typedef enum {
    CC_PID_NONE = 0, /* no pid file */
    CC_PID_RUNNING,  /* names a live ccproxy process */
    CC_PID_STALE,    /* names a process that is gone or is not ccproxy */
    CC_PID_INVALID,  /* unreadable or not a pid */
} cc__pid_state_t;

/** Why a pid from a stale pid file is not a running ccproxy: "is gone" or "belongs to another
 *  program". */
const char *cc__pid_stale_why(pid_t pid);

/** Reads `path` and classifies it; *pid gets the pid written in the file (0 when none). */
cc__pid_state_t cc__pidfile_check(const char *path, pid_t *pid);

/** Creates `path` holding `pid` with O_EXCL (mode 0600). Returns 0, -EEXIST when another
 *  process created it first, or another negative errno. */
int cc__pidfile_create(const char *path, pid_t pid);

/** Removes `path` only when it still holds `pid`. */
void cc__pidfile_remove_if(const char *path, pid_t pid);

/** True when `pid` exists, is not a zombie, and its command line mentions "ccproxy". */
bool cc__pid_is_ccproxy(pid_t pid);

/** Loads the config of `dir`. Warnings and errors are printed to stderr unless `quiet`; the
 *  errors are also appended to `errors` when non-NULL. Returns NULL when it does not load. */
cc_config_t *cc__cli_load_config(const char *dir, bool quiet, cc_buf_t *errors);

/** "http://HOST:PORT" with an IPv6 host in brackets (host exactly as given). */
char *cc__url_for(const char *host, int port);

/** The host a client on this machine connects to: a wildcard bind address ("0.0.0.0", "::",
 *  "" or "*") becomes the matching loopback address. Points into static storage or `host`. */
const char *cc__client_host(const char *host);

/** GET http://host:port<path> over a blocking socket; the whole exchange takes at most
 *  `timeout_ms`. Returns the HTTP status (the body, with chunked encoding undone, appended to
 *  `body` when non-NULL) or a negative errno (-ETIMEDOUT, -ECONNREFUSED, -EPROTO, ...). */
int cc__http_get(const char *host, int port, const char *path, int timeout_ms, cc_buf_t *body);

/** Parses the options of start and restart (`c` names which): 0, 2 after a usage error, or
 *  -3 after --help. */
int cc__cli_start_parse(const cc__cli_cmd_t *c, int argc, char **argv, bool *detach);

/** Starts the proxy of `config_dir` (cli_start.c). Returns the exit code. */
int cc__cli_start(const char *config_dir, bool detach);

/** Stops the proxy of `config_dir` (cli_stop.c). *was_running tells whether there was a live
 *  proxy to stop. Returns the exit code (1 when none was running). */
int cc__cli_stop(const char *config_dir, bool *was_running);

/** Writes the whole buffer to `fd`, retrying on EINTR and short writes. Returns 0 or -errno. */
int cc__write_all(int fd, const void *data, size_t len);

#endif
