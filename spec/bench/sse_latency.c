/* sse_latency.c: how long one server-sent event takes from the upstream to the client, sent
 * directly and through the proxy, in the same run. One single-threaded program plays both the
 * upstream and the client, so the moment an event is written upstream and the moment the client
 * has it are read from the same clock:
 *
 *   sse_latency UPSTREAM_PORT PROXY_PORT BODY_FILE [EVENTS] [ROUNDS] [GAP_US]
 *
 * It listens on 127.0.0.1:UPSTREAM_PORT (the proxy's config routes there). Each round makes
 * two exchanges, one straight to UPSTREAM_PORT and one through 127.0.0.1:PROXY_PORT: the client
 * POSTs BODY_FILE to /v1/messages, the upstream accepts and reads the whole request, answers
 * with an SSE head and message_start, then sends EVENTS content_block_delta events GAP_US apart.
 * Each event's latency is the time from its write() upstream to the moment the client has read
 * all of it. Prints one line per mode and the difference of the medians:
 *   SSE direct events=N p50_us=A p90_us=B p99_us=C
 *   SSE proxied events=N p50_us=A p90_us=B p99_us=C
 *   SSE added_p50_us=D
 * Exits non-zero with a message when an exchange fails or stalls (5 s without progress). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STALL_MS 5000

typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

typedef struct {
    double *us;
    size_t n, cap;
} samples_t;

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("sse_latency: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void buf_append(buf_t *b, const char *p, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) die("out of memory");
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void samples_add(samples_t *s, double us) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->us = realloc(s->us, s->cap * sizeof *s->us);
        if (!s->us) die("out of memory");
    }
    s->us[s->n++] = us;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(samples_t *s, double pct) {
    qsort(s->us, s->n, sizeof *s->us, cmp_double);
    size_t i = (size_t)(pct / 100.0 * (double)(s->n - 1) + 0.5);
    return s->us[i];
}

static void set_socket_options(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) die("socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("cannot listen on 127.0.0.1:%d: %s (is the port taken?)", port, strerror(errno));
    if (listen(fd, 16) < 0) die("listen: %s", strerror(errno));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) die("socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("cannot connect to 127.0.0.1:%d: %s", port, strerror(errno));
    set_socket_options(fd);
    return fd;
}

/* Reads what is there into b. Returns bytes read, 0 at EOF, -1 when nothing is ready. */
static ssize_t read_some(int fd, buf_t *b) {
    char tmp[65536];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n > 0) buf_append(b, tmp, (size_t)n);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) die("read: %s", strerror(errno));
    return n;
}

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            if (poll(&pf, 1, STALL_MS) <= 0) die("write stalled for %d ms", STALL_MS);
            continue;
        }
        if (w < 0) die("write: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

/* Whether the request in b (head and body) is complete: Content-Length or chunked. */
static int request_complete(const buf_t *b) {
    const char *end = b->data ? strstr(b->data, "\r\n\r\n") : NULL;
    if (!end) return 0;
    size_t head = (size_t)(end - b->data) + 4;
    for (const char *line = b->data; line < end; line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "content-length:", 15) == 0)
            return b->len >= head + strtoul(line + 15, NULL, 10);
        if (strncasecmp(line, "transfer-encoding:", 18) == 0)
            return b->len >= head + 5 && memcmp(b->data + b->len - 5, "0\r\n\r\n", 5) == 0;
    }
    return 1;
}

/* Waits until `marker` is in what the client has read. Returns 0, or -1 at EOF. */
static int wait_for(int fd, buf_t *b, const char *marker) {
    for (;;) {
        if (b->data && strstr(b->data, marker)) return 0;
        ssize_t n = read_some(fd, b);
        if (n == 0) return -1;
        if (n < 0) {
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            if (poll(&pf, 1, STALL_MS) <= 0)
                die("no data for %d ms while waiting for '%s'", STALL_MS, marker);
        }
    }
}

/* Sends the request on `client` and accepts it on `lfd` until the upstream side has all of it.
 * Returns the upstream side's socket. */
static int deliver_request(int lfd, int client, const buf_t *req) {
    buf_t got = {0};
    size_t sent = 0;
    int up = -1;
    for (;;) {
        struct pollfd pf[3] = {{.fd = client, .events = sent < req->len ? POLLOUT : 0},
                               {.fd = up < 0 ? lfd : -1, .events = POLLIN},
                               {.fd = up, .events = POLLIN}};
        if (poll(pf, 3, STALL_MS) <= 0)
            die("the request made no progress for %d ms (sent %zu of %zu bytes, upstream %s)",
                STALL_MS, sent, req->len, up < 0 ? "not connected" : "connected");
        if (pf[0].revents & POLLOUT) {
            ssize_t w = write(client, req->data + sent, req->len - sent);
            if (w < 0 && errno != EAGAIN) die("client write: %s", strerror(errno));
            if (w > 0) sent += (size_t)w;
        }
        if (pf[0].revents & (POLLHUP | POLLERR)) die("the client connection was closed");
        if (pf[1].revents & POLLIN) {
            up = accept(lfd, NULL, NULL);
            if (up < 0 && errno != EAGAIN) die("accept: %s", strerror(errno));
            if (up >= 0) set_socket_options(up);
        }
        if (up >= 0 && (pf[2].revents & (POLLIN | POLLHUP))) {
            if (read_some(up, &got) == 0) die("the proxy closed the upstream connection early");
            if (request_complete(&got)) break;
        }
    }
    free(got.data);
    return up;
}

static const char *const RESPONSE_HEAD =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    "Cache-Control: no-cache\r\n"
    "request-id: req_011CbenchLatency\r\n"
    "Connection: close\r\n\r\n"
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XbenchLatency\",\"type\":"
    "\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-5-5\",\"content\":[],"
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12290,"
    "\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n";

static const char *const RESPONSE_TAIL =
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":200}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

/* One exchange: the client connects to `port` (the upstream itself, or the proxy). */
static void exchange(int lfd, int port, const char *body, size_t body_len, int events, int gap_us,
                     samples_t *out) {
    buf_t req = {0}, got = {0};
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "POST /v1/messages?beta=true HTTP/1.1\r\n"
                     "Host: 127.0.0.1:%d\r\n"
                     "Accept: application/json\r\n"
                     "Content-Type: application/json\r\n"
                     "User-Agent: claude-cli/2.1.332 (external, sdk-cli)\r\n"
                     "X-Claude-Code-Session-Id: e8788ba3-0afb-42db-a340-75985313d704\r\n"
                     "anthropic-version: 2023-06-01\r\n"
                     "x-api-key: sk-ant-dummy\r\n"
                     "x-app: cli\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     port, body_len);
    buf_append(&req, head, (size_t)n);
    buf_append(&req, body, body_len);

    int client = connect_to(port);
    int up = deliver_request(lfd, client, &req);
    write_all(up, RESPONSE_HEAD, strlen(RESPONSE_HEAD));
    if (wait_for(client, &got, "content_block_start") < 0)
        die("the client connection ended before the response head (port %d)", port);
    for (int i = 0; i < events; i++) {
        char ev[512], marker[32];
        snprintf(marker, sizeof marker, "tok%06d|", i);
        int len = snprintf(ev, sizeof ev,
                           "event: content_block_delta\n"
                           "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                           "{\"type\":\"text_delta\",\"text\":\" %s a few more words of the "
                           "answer\"}}\n\n",
                           marker);
        got.len = 0;
        if (got.data) got.data[0] = '\0';
        if (gap_us > 0) usleep((useconds_t)gap_us);
        double t0 = now_us();
        write_all(up, ev, (size_t)len);
        if (wait_for(client, &got, marker) < 0) die("the client connection ended mid-stream");
        samples_add(out, now_us() - t0);
    }
    write_all(up, RESPONSE_TAIL, strlen(RESPONSE_TAIL));
    shutdown(up, SHUT_WR);
    if (wait_for(client, &got, "message_stop") < 0) die("the stream ended without message_stop");
    close(up);
    close(client);
    free(req.data);
    free(got.data);
}

static void report(const char *mode, samples_t *s) {
    printf("SSE %s events=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f\n", mode, s->n, percentile(s, 50),
           percentile(s, 90), percentile(s, 99));
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: sse_latency UPSTREAM_PORT PROXY_PORT BODY_FILE [EVENTS] [ROUNDS] "
                        "[GAP_US]\n");
        return 2;
    }
    int up_port = atoi(argv[1]), proxy_port = atoi(argv[2]);
    int events = argc > 4 ? atoi(argv[4]) : 200;
    int rounds = argc > 5 ? atoi(argv[5]) : 5;
    int gap_us = argc > 6 ? atoi(argv[6]) : 1000;
    if (up_port <= 0 || proxy_port <= 0 || events <= 0 || rounds <= 0 || gap_us < 0) {
        fprintf(stderr, "sse_latency: ports, EVENTS and ROUNDS must be positive numbers\n");
        return 2;
    }
    FILE *f = fopen(argv[3], "rb");
    if (!f) die("cannot read %s: %s", argv[3], strerror(errno));
    buf_t body = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_append(&body, tmp, n);
    fclose(f);

    int lfd = listen_on(up_port);
    samples_t direct = {0}, proxied = {0};
    for (int r = 0; r < rounds; r++) {
        exchange(lfd, up_port, body.data, body.len, events, gap_us, &direct);
        exchange(lfd, proxy_port, body.data, body.len, events, gap_us, &proxied);
    }
    report("direct", &direct);
    report("proxied", &proxied);
    printf("SSE added_p50_us=%.1f\n", percentile(&proxied, 50) - percentile(&direct, 50));
    close(lfd);
    free(body.data);
    free(direct.us);
    free(proxied.us);
    return 0;
}
