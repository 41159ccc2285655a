/* test_upstream_pool.c: connecting to upstreams (upstream_pool.c) over loopback. The racing of
 * addresses (RFC 8305) is driven through cc__pool_connect_addrs with address lists the test
 * chooses, so nothing depends on what /etc/hosts says: a port bound without listen() refuses
 * connections, and a listener whose accept queue is full (listen(fd, 0) and one connection
 * never accepted) drops SYNs, so an attempt to it stays unanswered. Every test ends by
 * freeing the pool and checking that the loop has no handle left. */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "http/upstream_pool.h"

/* ---- the loop and the pool ---- */

static uv_loop_t loop;
static cc_pool_limits_t limits;
static cc_pool_t *pool;

static void setup(unsigned connect_timeout_ms) {
    uv_loop_init(&loop);
    memset(&limits, 0, sizeof limits);
    limits.connect_timeout_ms = connect_timeout_ms;
    limits.pool_max_idle = 4;
    limits.pool_idle_ttl_ms = 60000;
    pool = cc_pool_new(&loop, &limits);
}

static void teardown(void) {
    cc_pool_free(pool);
    pool = NULL;
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0); /* every handle closed */
}

/* What a connection's user heard. */
typedef struct {
    int ready_calls;
    int status;
    char err[1024];
    bool reused;
    cc_upconn_t *u;
    int closed_calls;
    uint64_t ready_ns;   /* uv_hrtime() at ready */
    bool close_in_ready; /* the user closes the connection from its ready callback */
} outcome_t;

static void on_ready(cc_upconn_t *u, int status, const char *err, bool reused, void *arg) {
    outcome_t *o = arg;
    o->ready_calls++;
    o->status = status;
    snprintf(o->err, sizeof o->err, "%s", err ? err : "");
    o->reused = reused;
    o->u = status == 0 ? u : NULL;
    o->ready_ns = uv_hrtime();
    if (status == 0 && o->close_in_ready) {
        cc_upconn_close(u);
        o->u = NULL;
    }
}

static void on_closed(cc_upconn_t *u, int status, const char *err, void *arg) {
    outcome_t *o = arg;
    o->closed_calls++;
}

static const cc_upconn_handler_t handler = {on_ready, NULL, on_closed};

static void on_guard(uv_timer_t *t) {
    *(bool *)t->data = true;
}

/* Runs the loop until `*done` or `ms` have passed. */
static void run_until(const int *done, unsigned ms) {
    bool expired = false;
    uv_timer_t guard;
    uv_timer_init(&loop, &guard);
    guard.data = &expired;
    uv_timer_start(&guard, on_guard, ms, 0);
    while (!*done && !expired) uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* Runs the loop for `ms`. */
static void run_for(unsigned ms) {
    int never = 0;
    run_until(&never, ms);
}

static double ms_since(uint64_t start_ns, uint64_t end_ns) {
    return (double)(end_ns - start_ns) / 1e6;
}

/* ---- loopback sockets ---- */

static void make_addr(const char *ip, int port, struct sockaddr_storage *out) {
    memset(out, 0, sizeof *out);
    if (strchr(ip, ':'))
        uv_ip6_addr(ip, port, (struct sockaddr_in6 *)out);
    else
        uv_ip4_addr(ip, port, (struct sockaddr_in *)out);
}

/* A TCP socket bound to ip:*port (0: any port, written back), or -1. */
static int bound_socket(const char *ip, int *port) {
    struct sockaddr_storage a;
    make_addr(ip, *port, &a);
    int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (a.ss_family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    socklen_t len = a.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                            : sizeof(struct sockaddr_in);
    if (bind(fd, (struct sockaddr *)&a, len) != 0) {
        close(fd);
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
                                          : ((struct sockaddr_in *)&a)->sin_port);
    return fd;
}

/* A listener on ip:*port, or -1. */
static int listener(const char *ip, int *port, int backlog) {
    int fd = bound_socket(ip, port);
    if (fd >= 0 && listen(fd, backlog) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Starts a non-blocking connect to ip:port; true when it connected within `ms`. */
static bool connects_within(const char *ip, int port, unsigned ms, int *fd_out) {
    struct sockaddr_storage a;
    make_addr(ip, port, &a);
    int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    socklen_t len = a.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                            : sizeof(struct sockaddr_in);
    bool ok = false;
    if (connect(fd, (struct sockaddr *)&a, len) == 0) {
        ok = true;
    } else if (errno == EINPROGRESS) {
        struct pollfd p = {fd, POLLOUT, 0};
        int err = 0;
        socklen_t elen = sizeof err;
        ok = poll(&p, 1, (int)ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 &&
             err == 0;
    }
    if (ok && fd_out)
        *fd_out = fd;
    else
        close(fd);
    return ok;
}

/* A listener on ip that never answers a new connection: its accept queue (listen(fd, 0))
 * holds one connection that is never accepted, so the kernel drops further SYNs. The check
 * that a probe really stalls makes the tests that rely on it fail loudly, not flakily. */
typedef struct {
    int fd, filler;
    int port;
} stalled_t;

static bool stalled_listener(const char *ip, stalled_t *s) {
    s->port = 0;
    s->filler = -1;
    s->fd = listener(ip, &s->port, 0);
    if (s->fd < 0) return false;
    if (!connects_within(ip, s->port, 1000, &s->filler)) return false;
    if (connects_within(ip, s->port, 300, NULL)) {
        fprintf(stderr, "a listener with a full accept queue still answers on this kernel\n");
        return false;
    }
    return true;
}

static void stalled_close(stalled_t *s) {
    if (s->filler >= 0) close(s->filler);
    if (s->fd >= 0) close(s->fd);
}

/* Takes one pending connection from a listener (waiting up to 100 ms): its fd, or -1. */
static int accept_fd(int fd) {
    for (int i = 0; i < 50; i++) {
        int c = accept(fd, NULL, NULL);
        if (c >= 0) return c;
        usleep(2000);
    }
    return -1;
}

/* Whether a connection was waiting on the listener (it is taken and closed). */
static bool accept_one(int fd) {
    int c = accept_fd(fd);
    if (c >= 0) close(c);
    return c >= 0;
}

/* Whether ::1 can be used (some containers have no IPv6 loopback). */
static bool have_ipv6_loopback(void) {
    int port = 0;
    int fd = bound_socket("::1", &port);
    if (fd < 0) return false;
    close(fd);
    return true;
}

/* Whether 127.0.0.2 can be used (all of 127/8 is loopback on Linux). */
static bool have_127_0_0_2(void) {
    int port = 0;
    int fd = listener("127.0.0.2", &port, 1);
    if (fd < 0) return false;
    bool ok = connects_within("127.0.0.2", port, 1000, NULL);
    close(fd);
    return ok;
}

static cc_origin_t origin_named(const char *host, int port) {
    cc_origin_t o = {false, host, port, false, NULL};
    return o;
}

static uint64_t started_ns; /* when connect_list last started a connection */

/* Connects to the given "ip" strings, all on `port` unless ports[i] is given. */
static cc_upconn_t *connect_list(const char *host, int port, const char *const *ips,
                                 const int *ports, size_t n, outcome_t *out) {
    struct sockaddr_storage addrs[8];
    const struct sockaddr *ptrs[8];
    for (size_t i = 0; i < n; i++) {
        make_addr(ips[i], ports ? ports[i] : port, &addrs[i]);
        ptrs[i] = (const struct sockaddr *)&addrs[i];
    }
    cc_origin_t o = origin_named(host, port);
    uv_update_time(&loop); /* the timers count from now, not from the last loop turn */
    started_ns = uv_hrtime();
    return cc__pool_connect_addrs(pool, &o, ptrs, n, &handler, out);
}

/* ---- ordering ---- */

/* "ip port" of an address, for comparisons. */
static const char *addr_text(const struct sockaddr_storage *a) {
    static char out[8][80];
    static int next;
    char *buf = out[next++ % 8];
    char ip[64] = "?";
    int port = 0;
    if (a->ss_family == AF_INET6) {
        uv_ip6_name((const struct sockaddr_in6 *)a, ip, sizeof ip);
        port = ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
    } else if (a->ss_family == AF_INET) {
        uv_ip4_name((const struct sockaddr_in *)a, ip, sizeof ip);
        port = ntohs(((const struct sockaddr_in *)a)->sin_port);
    }
    snprintf(buf, 80, "%s %d", ip, port);
    return buf;
}

/* Orders `in` and compares the result with `want` ("ip port" each). */
static void check_order(const char *const *in, size_t n, const char *const *want, size_t n_want) {
    struct sockaddr_storage a[8];
    for (size_t i = 0; i < n; i++) {
        char ip[64];
        int port;
        if (sscanf(in[i], "%63s %d", ip, &port) == 2)
            make_addr(ip, port, &a[i]);
        else
            memset(&a[i], 0, sizeof a[i]); /* AF_UNSPEC: dropped */
    }
    size_t got = cc__order_addrs(a, n);
    CHECK_EQ_INT(got, n_want);
    for (size_t i = 0; i < got && i < n_want; i++) CHECK_EQ_STR(addr_text(&a[i]), want[i]);
}

static void test_order_interleaves_families(void) {
    /* IPv6 first when the resolver put it first. */
    const char *a[] = {"::1 80", "::2 80", "127.0.0.1 80", "127.0.0.2 80"};
    const char *a_want[] = {"::1 80", "127.0.0.1 80", "::2 80", "127.0.0.2 80"};
    check_order(a, 4, a_want, 4);
    /* IPv4 first when it came first; the longer family's rest keeps its order at the end. */
    const char *b[] = {"127.0.0.1 80", "127.0.0.2 80", "127.0.0.3 80", "::1 80"};
    const char *b_want[] = {"127.0.0.1 80", "::1 80", "127.0.0.2 80", "127.0.0.3 80"};
    check_order(b, 4, b_want, 4);
    const char *c[] = {"127.0.0.1 80", "::1 80", "::2 80", "127.0.0.2 80"};
    const char *c_want[] = {"127.0.0.1 80", "::1 80", "127.0.0.2 80", "::2 80"};
    check_order(c, 4, c_want, 4);
    /* One family only: unchanged. */
    const char *d[] = {"127.0.0.3 80", "127.0.0.1 80", "127.0.0.2 80"};
    check_order(d, 3, d, 3);
}

static void test_order_drops_duplicates_and_other_families(void) {
    /* The hosts file and DNS may both give an address; glibc may repeat one. */
    const char *a[] = {"127.0.0.1 80", "127.0.0.1 80", "::1 80", "none", "::1 80"};
    const char *a_want[] = {"127.0.0.1 80", "::1 80"};
    check_order(a, 5, a_want, 2);
    const char *b[] = {"127.0.0.1 80", "127.0.0.1 81"}; /* another port is another address */
    check_order(b, 2, b, 2);
    CHECK_EQ_INT(cc__order_addrs(NULL, 0), 0);
}

/* ---- connecting ---- */

/* [`refusing`, `listening`] on one port, the first bound but not listening: the second is
 * tried as soon as the first refuses (not after the attempt delay) and connects. */
static void check_refused_then_listening(const char *refusing, const char *listening) {
    setup(5000);
    int port = 0;
    int lfd = listener(listening, &port, 16);
    int closed = bound_socket(refusing, &port);
    CHECK(lfd >= 0 && closed >= 0);
    outcome_t o = {0};
    const char *ips[] = {refusing, listening};
    cc_upconn_t *u = connect_list("localhost", port, ips, NULL, 2, &o);
    CHECK(u != NULL);
    run_until(&o.ready_calls, 3000);
    CHECK_EQ_INT(o.ready_calls, 1);
    CHECK_EQ_INT(o.status, 0);
    CHECK_EQ_STR(o.err, "");
    CHECK(!o.reused);
    CHECK(o.u == u);
    CHECK(ms_since(started_ns, o.ready_ns) < CC_POOL_ATTEMPT_DELAY_MS);
    /* The connection is the listener's: a byte written arrives there. */
    int sfd = accept_fd(lfd);
    CHECK(sfd >= 0);
    CHECK_EQ_INT(cc_upconn_write(u, "x", 1), 0);
    char byte = 0;
    struct pollfd pf = {sfd, POLLIN, 0};
    CHECK(poll(&pf, 1, 1000) == 1 && read(sfd, &byte, 1) == 1 && byte == 'x');
    cc_upconn_close(u);
    teardown();
    CHECK_EQ_INT(o.ready_calls, 1);
    CHECK_EQ_INT(o.closed_calls, 0);
    if (sfd >= 0) close(sfd);
    if (lfd >= 0) close(lfd);
    if (closed >= 0) close(closed);
}

/* [::1 where nothing listens, 127.0.0.1 listening]: localhost on Debian 12 with a server
 * listening on 127.0.0.1 only (Ollama's default). */
static void test_refused_v6_then_v4(void) {
    if (!have_ipv6_loopback()) {
        fprintf(stderr, "skipped test_refused_v6_then_v4: no IPv6 loopback (::1) here\n");
        return;
    }
    check_refused_then_listening("::1", "127.0.0.1");
}

/* [127.0.0.1:closed, 127.0.0.2:listening]. */
static void test_closed_then_listening(void) {
    if (!have_127_0_0_2()) {
        fprintf(stderr, "skipped test_closed_then_listening: 127.0.0.2 is not loopback here\n");
        return;
    }
    check_refused_then_listening("127.0.0.1", "127.0.0.2");
}

/* Every address refuses: one failure that names the host and what each address said. */
static void test_all_refused(void) {
    setup(5000);
    bool v6 = have_ipv6_loopback();
    bool two = have_127_0_0_2();
    int port = 0;
    int fd1 = bound_socket("127.0.0.1", &port);
    int fd2 = v6 ? bound_socket("::1", &port) : two ? bound_socket("127.0.0.2", &port) : -1;
    CHECK(fd1 >= 0);
    outcome_t o = {0};
    const char *ips[] = {v6 ? "::1" : two ? "127.0.0.2" : "127.0.0.1", "127.0.0.1"};
    cc_upconn_t *u = connect_list("localhost", port, ips, NULL, 2, &o);
    CHECK(u != NULL);
    run_until(&o.ready_calls, 3000);
    CHECK_EQ_INT(o.ready_calls, 1);
    CHECK(o.status < 0);
    CHECK(o.u == NULL);
    char want[256];
    if (v6 || two)
        snprintf(want, sizeof want,
                 "cannot connect to localhost:%d: %s connection refused; "
                 "127.0.0.1 connection refused",
                 port, ips[0]);
    else
        snprintf(want, sizeof want,
                 "cannot connect to localhost:%d: 127.0.0.1 connection refused", port);
    CHECK_EQ_STR(o.err, want);
    cc_upconn_close(NULL); /* harmless */
    teardown();
    CHECK_EQ_INT(o.ready_calls, 1); /* exactly once */
    close(fd1);
    if (fd2 >= 0) close(fd2);
}

/* No address at all: a failure, reported before the call returns. */
static void test_no_address(void) {
    setup(5000);
    outcome_t o = {0};
    cc_upconn_t *u = connect_list("nowhere.test", 9, NULL, NULL, 0, &o);
    CHECK(u == NULL);
    CHECK_EQ_INT(o.ready_calls, 1);
    CHECK(o.status < 0);
    CHECK(strstr(o.err, "cannot connect to nowhere.test:9") != NULL);
    teardown();
    CHECK_EQ_INT(o.ready_calls, 1);
}

/* [unanswered, listening]: the second address is tried after the attempt delay while the
 * first keeps trying, and wins. */
static void test_unanswered_then_listening(void) {
    setup(5000);
    stalled_t s;
    bool ok = stalled_listener("127.0.0.1", &s);
    CHECK(ok);
    int port = 0;
    int lfd = listener("127.0.0.1", &port, 16);
    CHECK(lfd >= 0);
    if (ok && lfd >= 0) {
        outcome_t o = {0};
        const char *ips[] = {"127.0.0.1", "127.0.0.1"};
        int ports[] = {s.port, port};
        cc_upconn_t *u = connect_list("upstream.test", s.port, ips, ports, 2, &o);
        CHECK(u != NULL);
        run_until(&o.ready_calls, 4000);
        CHECK_EQ_INT(o.ready_calls, 1);
        CHECK_EQ_INT(o.status, 0);
        double ms = ms_since(started_ns, o.ready_ns);
        CHECK(ms >= CC_POOL_ATTEMPT_DELAY_MS - 10);
        CHECK(ms < 2000);
        CHECK(accept_one(lfd));
        cc_upconn_close(u);
    }
    teardown();
    stalled_close(&s);
    if (lfd >= 0) close(lfd);
}

/* Three listeners that never answer (all on 127.0.0.1) and a connection started to them, in
 * that order; NULL when the listeners could not be made. */
static cc_upconn_t *connect_unanswered(stalled_t s[3], outcome_t *o) {
    bool ok = true;
    for (int i = 0; i < 3; i++) ok = stalled_listener("127.0.0.1", &s[i]) && ok;
    CHECK(ok);
    if (!ok) return NULL;
    const char *ips[] = {"127.0.0.1", "127.0.0.1", "127.0.0.1"};
    int ports[] = {s[0].port, s[1].port, s[2].port};
    cc_upconn_t *u = connect_list("upstream.test", s[0].port, ips, ports, 3, o);
    CHECK(u != NULL);
    return u;
}

/* Nothing answers: connect_timeout_ms bounds every attempt together, and the message says
 * what each address did (two started at 0 and 250 ms; the third would start at 500). */
static void test_timeout_covers_all_attempts(void) {
    setup(400);
    stalled_t s[3];
    outcome_t o = {0};
    if (connect_unanswered(s, &o)) {
        run_until(&o.ready_calls, 4000);
        CHECK_EQ_INT(o.ready_calls, 1);
        CHECK_EQ_INT(o.status, UV_ETIMEDOUT);
        double ms = ms_since(started_ns, o.ready_ns);
        CHECK(ms >= 390 && ms < 2000);
        char want[256];
        snprintf(want, sizeof want,
                 "connecting to upstream.test:%d timed out after 400 ms (127.0.0.1 no answer; "
                 "127.0.0.1 no answer; 1 more address not tried)",
                 s[0].port);
        CHECK_EQ_STR(o.err, want);
    }
    teardown();
    for (int i = 0; i < 3; i++) stalled_close(&s[i]);
}

typedef struct {
    cc_upconn_t *u;
    int fired;
} closer_t;

static void on_close_timer(uv_timer_t *t) {
    closer_t *c = t->data;
    c->fired++;
    cc_upconn_close(c->u);
    uv_close((uv_handle_t *)t, NULL);
}

/* Closing while two attempts race (and a third waits): no callback, nothing left open. */
static void test_close_while_racing(void) {
    setup(5000);
    stalled_t s[3];
    outcome_t o = {0};
    closer_t c = {connect_unanswered(s, &o), 0};
    if (c.u) {
        uv_timer_t t;
        uv_timer_init(&loop, &t);
        t.data = &c;
        uv_timer_start(&t, on_close_timer, CC_POOL_ATTEMPT_DELAY_MS + 100, 0);
        run_until(&c.fired, 3000);
        CHECK_EQ_INT(c.fired, 1);
        run_for(100);
        CHECK_EQ_INT(o.ready_calls, 0);
        teardown();
        CHECK_EQ_INT(o.ready_calls, 0);
        CHECK_EQ_INT(o.closed_calls, 0);
    } else {
        teardown();
    }
    for (int i = 0; i < 3; i++) stalled_close(&s[i]);
}

/* Closing at once (attempts started, none answered yet), and closing from the ready
 * callback of the winner. */
static void test_close_at_once_and_in_ready(void) {
    setup(5000);
    int port = 0;
    int lfd = listener("127.0.0.1", &port, 16);
    CHECK(lfd >= 0);
    outcome_t o = {0};
    const char *ips[] = {"127.0.0.1"};
    cc_upconn_t *u = connect_list("upstream.test", port, ips, NULL, 1, &o);
    CHECK(u != NULL);
    cc_upconn_close(u);
    run_for(50);
    CHECK_EQ_INT(o.ready_calls, 0);

    outcome_t o2 = {0};
    o2.close_in_ready = true;
    u = connect_list("upstream.test", port, ips, NULL, 1, &o2);
    CHECK(u != NULL);
    run_until(&o2.ready_calls, 3000);
    run_for(20);
    CHECK_EQ_INT(o2.ready_calls, 1);
    CHECK_EQ_INT(o2.status, 0);
    teardown();
    CHECK_EQ_INT(o.ready_calls, 0);
    CHECK_EQ_INT(o2.ready_calls, 1);
    CHECK_EQ_INT(o2.closed_calls, 0);
    close(lfd);
}

/* Through the resolver: "localhost" reaches a server on 127.0.0.1 whatever the hosts file
 * lists first (on Debian 12, ::1 - here kept refusing by a socket bound to the same port). */
static void test_acquire_localhost(void) {
    setup(5000);
    int port = 0;
    int lfd = listener("127.0.0.1", &port, 16);
    int v6 = have_ipv6_loopback() ? bound_socket("::1", &port) : -1;
    CHECK(lfd >= 0);
    outcome_t o = {0};
    cc_origin_t origin = origin_named("localhost", port);
    cc_upconn_t *u = cc_pool_acquire(pool, &origin, &handler, &o);
    CHECK(u != NULL);
    run_until(&o.ready_calls, 5000);
    CHECK_EQ_INT(o.ready_calls, 1);
    CHECK_EQ_INT(o.status, 0);
    CHECK_EQ_STR(o.err, "");
    int sfd = accept_fd(lfd);
    CHECK(sfd >= 0);
    /* Given back and taken again: the pooled connection, no new connect. */
    if (o.u) cc_upconn_release(o.u, true);
    outcome_t again = {0};
    cc_upconn_t *u2 = cc_pool_acquire(pool, &origin, &handler, &again);
    CHECK(u2 == u);
    CHECK_EQ_INT(again.ready_calls, 1);
    CHECK(again.reused);
    cc_upconn_close(u2);
    teardown();
    CHECK(!accept_one(lfd)); /* one connection in all */
    if (sfd >= 0) close(sfd);
    close(lfd);
    if (v6 >= 0) close(v6);
}

/* Closing while the name is being resolved: no callback, the resolver request is waited for. */
static void test_close_while_resolving(void) {
    setup(5000);
    outcome_t o = {0};
    cc_origin_t origin = origin_named("localhost", 9);
    cc_upconn_t *u = cc_pool_acquire(pool, &origin, &handler, &o);
    CHECK(u != NULL);
    cc_upconn_close(u);
    teardown();
    CHECK_EQ_INT(o.ready_calls, 0);
}

/* TLS: the handshake starts on the winner only; closing during it calls nothing back, and a
 * handshake that never finishes is bounded by the connect timeout. */
static void test_tls_handshake_close_and_timeout(void) {
    setup(5000);
    int port = 0;
    int lfd = listener("127.0.0.1", &port, 16);
    CHECK(lfd >= 0);
    cc_origin_t origin = {true, "127.0.0.1", port, false, NULL};
    outcome_t o = {0};
    cc_upconn_t *u = cc_pool_acquire(pool, &origin, &handler, &o);
    CHECK(u != NULL);
    run_for(150); /* connected; the server never answers the ClientHello */
    int sfd = accept_fd(lfd);
    CHECK(sfd >= 0);
    char hello[16];
    CHECK(read(sfd, hello, sizeof hello) > 0); /* the handshake started */
    CHECK_EQ_INT(o.ready_calls, 0);
    cc_upconn_close(u);
    run_for(20);
    CHECK_EQ_INT(o.ready_calls, 0);
    teardown();
    if (sfd >= 0) close(sfd);

    setup(300);
    outcome_t o2 = {0};
    u = cc_pool_acquire(pool, &origin, &handler, &o2);
    CHECK(u != NULL);
    run_until(&o2.ready_calls, 3000);
    CHECK_EQ_INT(o2.ready_calls, 1);
    CHECK_EQ_INT(o2.status, UV_ETIMEDOUT);
    char want[128];
    snprintf(want, sizeof want, "connecting to 127.0.0.1:%d timed out after 300 ms", port);
    CHECK_EQ_STR(o2.err, want);
    teardown();
    CHECK_EQ_INT(o2.ready_calls, 1);
    close(lfd);
}

int main(void) {
    CC_RUN(test_order_interleaves_families);
    CC_RUN(test_order_drops_duplicates_and_other_families);
    CC_RUN(test_refused_v6_then_v4);
    CC_RUN(test_closed_then_listening);
    CC_RUN(test_all_refused);
    CC_RUN(test_no_address);
    CC_RUN(test_unanswered_then_listening);
    CC_RUN(test_timeout_covers_all_attempts);
    CC_RUN(test_close_while_racing);
    CC_RUN(test_close_at_once_and_in_ready);
    CC_RUN(test_acquire_localhost);
    CC_RUN(test_close_while_resolving);
    CC_RUN(test_tls_handshake_close_and_timeout);
    return CC_DONE();
}
