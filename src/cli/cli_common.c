/* cli_common.c: helpers shared by the subcommands (see cli_common.h): option parsing, the pid
 * file, the ccproxy process check, config loading with messages, URLs and the /health GET. */
#include "cli/cli_common.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- options ---------------------------------------------------------------------------- */

int cc__cli_usage_error(const cc__cli_cmd_t *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ccproxy %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fputs(cmd->usage, stderr);
    return 2;
}

int cc__cli_next_opt(const cc__cli_cmd_t *cmd, int argc, char **argv, const char *shortopts,
                     const struct option *longopts, int *optind_out) {
    /* '+': stop at the first non-option; ':': report a missing value as ':' */
    char spec[64];
    snprintf(spec, sizeof spec, "+:h%s", shortopts);
    struct option all[16];
    size_t n = 0;
    for (; longopts && longopts[n].name && n < 14; n++)
        all[n] = longopts[n];
    all[n++] = (struct option){"help", no_argument, NULL, 'h'};
    all[n] = (struct option){NULL, 0, NULL, 0};

    if (*optind_out == 0) optind = 0; /* glibc: start over with a new argv */
    opterr = 0;
    int at = optind ? optind : 1; /* the argument getopt looks at ('+': no reordering) */
    int li = -1;
    int c = getopt_long(argc, argv, spec, all, &li);
    *optind_out = optind;
    /* getopt_long takes "--forc" for "--force"; only whole names are accepted here. */
    if (c >= 0 && li >= 0 && at < argc && strncmp(argv[at], "--", 2) == 0) {
        const char *given = argv[at] + 2;
        size_t len = strlen(all[li].name);
        if (strncmp(given, all[li].name, len) != 0 || (given[len] && given[len] != '=')) {
            cc__cli_usage_error(cmd, "unknown option '%.*s'", (int)strcspn(argv[at], "="),
                                argv[at]);
            return -2;
        }
    }
    if (c == 'h') {
        fputs(cmd->usage, stdout);
        return -3;
    }
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    if (c == '?') {
        bool is_long = strncmp(arg, "--", 2) == 0;
        if (is_long && optopt && strchr(arg, '='))
            cc__cli_usage_error(cmd, "option '%.*s' takes no value", (int)strcspn(arg, "="), arg);
        else if (is_long)
            cc__cli_usage_error(cmd, "unknown option '%s'", arg);
        else
            cc__cli_usage_error(cmd, "unknown option '-%c'", optopt);
        return -2;
    }
    if (c == ':') {
        cc__cli_usage_error(cmd, "option '%s' needs a value", arg);
        return -2;
    }
    return c;
}

int cc__cli_no_args(const cc__cli_cmd_t *cmd, int argc, char **argv, int first) {
    if (first < argc) return cc__cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
    return 0;
}

/* ---- pid file and process check --------------------------------------------------------- */

/* Reads a small file into buf (NUL-terminated). Returns bytes read or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

bool cc__pid_is_ccproxy(pid_t pid) {
    if (pid <= 0) return false;
    if (kill(pid, 0) != 0 && errno != EPERM) return false;
    char path[64], buf[4096];
    /* A zombie (exited, not reaped yet) has an empty command line, but check its state too. */
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    ssize_t n = read_small(path, buf, sizeof buf);
    if (n <= 0) return false;
    const char *paren = strrchr(buf, ')');
    if (paren && (paren[1] == ' ') && (paren[2] == 'Z' || paren[2] == 'X')) return false;
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    n = read_small(path, buf, sizeof buf);
    if (n <= 0) return false;
    for (ssize_t i = 0; i < n; i++) /* arguments are NUL-separated: search them as one text */
        if (buf[i] == '\0') buf[i] = ' ';
    return strstr(buf, "ccproxy") != NULL;
}

const char *cc__pid_stale_why(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    char buf[8];
    /* a zombie has an empty command line: it is gone too */
    if (pid > 0 && read_small(path, buf, sizeof buf) > 0) return "belongs to another program";
    return "is gone";
}

cc__pid_state_t cc__pidfile_check(const char *path, pid_t *pid) {
    char buf[64];
    *pid = 0;
    ssize_t n = read_small(path, buf, sizeof buf);
    if (n == -ENOENT) return CC_PID_NONE;
    if (n < 0) return CC_PID_INVALID;
    char *end = NULL;
    errno = 0;
    long v = strtol(buf, &end, 10);
    while (end && isspace((unsigned char)*end))
        end++;
    if (errno || end == buf || !end || *end || v <= 0 || v > 0x7fffffffL) return CC_PID_INVALID;
    *pid = (pid_t)v;
    return cc__pid_is_ccproxy(*pid) ? CC_PID_RUNNING : CC_PID_STALE;
}

int cc__pidfile_create(const char *path, pid_t pid) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%d\n", (int)pid);
    int rc = cc__write_all(fd, buf, (size_t)len);
    if (close(fd) != 0 && rc == 0) rc = -errno;
    if (rc < 0) unlink(path);
    return rc;
}

void cc__pidfile_remove_if(const char *path, pid_t pid) {
    pid_t held = 0;
    char buf[64];
    if (read_small(path, buf, sizeof buf) <= 0) return;
    held = (pid_t)strtol(buf, NULL, 10);
    if (held == pid) unlink(path);
}

/* ---- config ----------------------------------------------------------------------------- */

cc_config_t *cc__cli_load_config(const char *dir, bool quiet, cc_buf_t *errors) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = cc_config_load(dir, &err, &warn);
    if (warn.len && !quiet) {
        fputs(warn.data, stderr);
        if (warn.data[warn.len - 1] != '\n') fputc('\n', stderr);
    }
    if (!cfg && err.len) {
        if (!quiet) {
            fputs(err.data, stderr);
            if (err.data[err.len - 1] != '\n') fputc('\n', stderr);
        }
        if (errors) cc_buf_append(errors, err.data, err.len);
    }
    cc_buf_free(&err);
    cc_buf_free(&warn);
    return cfg;
}

/* ---- URLs ------------------------------------------------------------------------------- */

char *cc__url_for(const char *host, int port) {
    cc_buf_t b = CC_BUF_INIT;
    bool v6 = strchr(host, ':') != NULL && host[0] != '[';
    if (cc_buf_printf(&b, v6 ? "http://[%s]:%d" : "http://%s:%d", host, port) < 0) {
        cc_buf_free(&b);
        return NULL;
    }
    return cc_buf_steal(&b, NULL);
}

const char *cc__client_host(const char *host) {
    if (!host || !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
        return "127.0.0.1";
    if (strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0) return "::1";
    return host;
}

/* ---- HTTP GET --------------------------------------------------------------------------- */

int cc__write_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` on fd until the deadline. Returns 0, or -ETIMEDOUT / -errno. */
static int wait_fd(int fd, short events, long deadline) {
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0) return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (n > 0) return 0;
    }
}

static int connect_deadline(const char *host, int port, long deadline) {
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    char bare[256];
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && hl < sizeof bare && host[hl - 1] == ']') {
        memcpy(bare, host + 1, hl - 2);
        bare[hl - 2] = '\0';
        host = bare;
    }
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, service, &hints, &res) != 0) return -EHOSTUNREACH;
    int rc = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                rc = -errno;
                close(fd);
                continue;
            }
            int w = wait_fd(fd, POLLOUT, deadline);
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (w == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
                w = -soerr;
            if (w < 0) {
                rc = w;
                close(fd);
                continue;
            }
        }
        freeaddrinfo(res);
        return fd;
    }
    freeaddrinfo(res);
    return rc;
}

/* Finds header `name` in the header block [p, end); returns its value start or NULL. */
static const char *find_header(const char *p, const char *end, const char *name, size_t *vlen) {
    size_t nl = strlen(name);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

/* Undoes chunked encoding of [p, end) into out. Returns 1 when complete, 0 when more input is
 * needed, -1 when malformed. */
static int dechunk(const char *p, const char *end, cc_buf_t *out) {
    for (;;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) return 0;
        char *num_end = NULL;
        unsigned long size = strtoul(p, &num_end, 16);
        if (num_end == p) return -1;
        p = eol + 1;
        if (size == 0) return 1; /* trailers are not needed */
        if ((size_t)(end - p) < size + 2) return 0;
        if (out) cc_buf_append(out, p, size);
        p += size;
        if (*p == '\r') p++;
        if (*p != '\n') return -1;
        p++;
    }
}

/* Looks at what was received so far. Returns the status when the response is complete (body
 * copied to `body`), 0 when more is needed, -EPROTO when malformed. At EOF (`eof`), a body
 * without a length ends there. */
static int parse_response(const cc_buf_t *in, bool eof, cc_buf_t *body) {
    if (in->len < 12) return eof ? -EPROTO : 0;
    if (strncmp(in->data, "HTTP/1.", 7) != 0) return -EPROTO;
    int status = atoi(in->data + 9);
    if (status < 100 || status > 999) return -EPROTO;
    const char *hend = strstr(in->data, "\r\n\r\n");
    if (!hend) return eof ? -EPROTO : 0;
    const char *b = hend + 4, *end = in->data + in->len;
    size_t vl = 0;
    const char *te = find_header(in->data, hend + 2, "Transfer-Encoding", &vl);
    if (te && vl >= 7 && strncasecmp(te + vl - 7, "chunked", 7) == 0) {
        int d = dechunk(b, end, NULL);
        if (d < 0 || (d == 0 && eof)) return -EPROTO;
        if (d == 0) return 0;
        if (body) dechunk(b, end, body);
        return status;
    }
    const char *cl = find_header(in->data, hend + 2, "Content-Length", &vl);
    if (cl) {
        size_t want = (size_t)strtoul(cl, NULL, 10);
        if ((size_t)(end - b) < want) return eof ? -EPROTO : 0;
        if (body) cc_buf_append(body, b, want);
        return status;
    }
    if (!eof) return 0;
    if (body) cc_buf_append(body, b, (size_t)(end - b));
    return status;
}

int cc__http_get(const char *host, int port, const char *path, int timeout_ms, cc_buf_t *body) {
    long deadline = now_ms() + timeout_ms;
    cc_buf_t req = CC_BUF_INIT, in = CC_BUF_INIT;
    int rc;
    int fd = connect_deadline(host, port, deadline);
    if (fd < 0) return fd;
    bool v6 = strchr(host, ':') && host[0] != '[';
    rc = cc_buf_printf(&req,
                       v6 ? "GET %s HTTP/1.1\r\nHost: [%s]:%d\r\nUser-Agent: ccproxy-cli\r\n"
                            "Accept: application/json\r\nConnection: close\r\n\r\n"
                          : "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: ccproxy-cli\r\n"
                            "Accept: application/json\r\nConnection: close\r\n\r\n",
                       path, host, port);
    if (rc < 0) goto fail;
    size_t off = 0;
    while (off < req.len) {
        if ((rc = wait_fd(fd, POLLOUT, deadline)) < 0) goto fail;
        ssize_t n = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) {
            rc = -errno;
            goto fail;
        }
        off += (size_t)n;
    }
    for (;;) {
        if ((rc = wait_fd(fd, POLLIN, deadline)) < 0) goto fail;
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) {
            rc = -errno;
            goto fail;
        }
        if (n > 0 && (rc = cc_buf_append(&in, chunk, (size_t)n)) < 0) goto fail;
        if (in.len > (1u << 20)) {
            rc = -EMSGSIZE;
            goto fail;
        }
        rc = parse_response(&in, n == 0, body);
        if (rc != 0) break;
    }
fail:
    close(fd);
    cc_buf_free(&req);
    cc_buf_free(&in);
    return rc;
}
