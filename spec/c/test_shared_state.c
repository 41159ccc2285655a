/* test_shared_state.c: routing state shared through a real redis-server (shared_state.c). The
 * test starts redis-server itself on a free loopback port and stops it by its pid; two
 * cc_shared_t in this process play two instances. Cooldowns, counts and busy counts are seen
 * across them; a crashed instance's busy count expires; Redis killed, frozen and restarted;
 * passwords, users and databases. Skipped (77) when redis-server is not installed. Every wait
 * polls against a deadline of a few seconds. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "routing/shared_state.h"

/* ---- time ---------------------------------------------------------------------------------- */

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Polls `cond` every 10 ms until it holds or `ms` have passed; its value at the end. */
#define POLL(cond, ms)                                                                     \
    ({                                                                                     \
        uint64_t end_ = mono_ms() + (ms);                                                  \
        bool ok_;                                                                          \
        while (!(ok_ = (cond)) && mono_ms() < end_)                                        \
            sleep_ms(10);                                                                  \
        ok_;                                                                               \
    })

/* Counts are per calendar minute: a check that starts in the last seconds of one waits for
 * the next (at most 5 s). */
static void avoid_minute_end(void) {
    uint64_t in = cc_shared_wall_ms() % 60000;
    if (in > 55000) sleep_ms((unsigned)(60000 - in + 50));
}

/* ---- redis-server -------------------------------------------------------------------------- */

static char redis_bin[4096];
static char redis_dir[] = "/tmp/cc-shared-redis-XXXXXX";
static pid_t redis_pid;
static int redis_port;

static bool find_redis_server(void) {
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s:/usr/bin:/usr/sbin:/usr/local/bin", path ? path : "");
    for (char *save = NULL, *dir = strtok_r(buf, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        snprintf(redis_bin, sizeof redis_bin, "%s/redis-server", dir);
        if (access(redis_bin, X_OK) == 0) return true;
    }
    return false;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* A synchronous client for the checks: runs one command (after AUTH and SELECT) and returns the
 * reply (freeReplyObject it), or NULL when Redis did not answer. */
static redisReply *raw_v(const char *password, int db, const char *fmt, va_list ap) {
    struct timeval tv = {0, 300000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
    redisReply *r = NULL;
    if (!c || c->err) goto done;
    redisSetTimeout(c, tv);
    if (password) {
        r = redisCommand(c, "AUTH %s", password);
        if (!r) goto done;
        freeReplyObject(r);
        r = NULL;
    }
    if (db) {
        r = redisCommand(c, "SELECT %d", db);
        if (!r) goto done;
        freeReplyObject(r);
        r = NULL;
    }
    r = redisvCommand(c, fmt, ap);
done:
    if (c) redisFree(c);
    return r;
}

static redisReply *raw(const char *password, int db, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = raw_v(password, db, fmt, ap);
    va_end(ap);
    return r;
}

/* An integer or numeric string answer; -1000 when there is no such answer. */
static long long raw_int(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = raw_v(NULL, 0, fmt, ap);
    va_end(ap);
    long long v = -1000;
    if (r && r->type == REDIS_REPLY_INTEGER) v = r->integer;
    if (r && r->type == REDIS_REPLY_STRING) v = strtoll(r->str, NULL, 10);
    if (r && r->type == REDIS_REPLY_ERROR) fprintf(stderr, "  redis: %s\n", r->str);
    if (r) freeReplyObject(r);
    return v;
}

static bool redis_answers(const char *password) {
    redisReply *r = raw(password, 0, "PING");
    bool ok = r != NULL;
    if (r) freeReplyObject(r);
    return ok;
}

/* Starts redis-server on redis_port (requiring `password` when given); waits until it answers. */
static bool redis_start(const char *password) {
    char port[16];
    snprintf(port, sizeof port, "%d", redis_port);
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives the test, even when it crashes */
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        if (password)
            execl(redis_bin, "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--daemonize", "no", "--dir", redis_dir, "--requirepass",
                  password, (char *)NULL);
        else
            execl(redis_bin, "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--daemonize", "no", "--dir", redis_dir, (char *)NULL);
        _exit(127);
    }
    redis_pid = pid;
    if (POLL(redis_answers(password), 5000)) return true;
    fprintf(stderr, "redis-server on port %d did not answer\n", redis_port);
    return false;
}

static void redis_stop(void) {
    if (redis_pid <= 0) return;
    kill(redis_pid, SIGCONT);
    kill(redis_pid, SIGKILL);
    waitpid(redis_pid, NULL, 0);
    redis_pid = 0;
}

static void cleanup(void) {
    redis_stop();
    rmdir(redis_dir);
}

/* ---- the process log ---------------------------------------------------------------------- */

static int saved_stderr = -1;
static char log_path[256];

static void log_capture(void) {
    snprintf(log_path, sizeof log_path, "%s/log", redis_dir);
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(log_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    dup2(fd, 2);
    close(fd);
}

/* Ends the capture, echoes what was logged and returns it (malloc'd). */
static char *log_release(void) {
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    char *text = read_file(log_path, NULL);
    unlink(log_path);
    fprintf(stderr, "  -- logged:\n%s  --\n", text ? text : "");
    return text ? text : strdup("");
}

static int count_text(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* ---- instances ----------------------------------------------------------------------------- */

static cc_redis_settings_t settings(const char *user, const char *password, int db) {
    static char host[] = "127.0.0.1";
    cc_redis_settings_t rs = {host, redis_port, (char *)user, (char *)password, db};
    return rs;
}

static cc_shared_t *start(size_t n, const char *const *ids, const cc_shared_timing_t *t) {
    cc_redis_settings_t rs = settings(NULL, NULL, 0);
    char err[256] = "";
    cc_shared_t *s = cc__shared_start_timed(&rs, n, ids, t, err, sizeof err);
    if (!s) fprintf(stderr, "cc_shared_start: %s\n", err);
    return s;
}

static bool shared(cc_shared_t *s) {
    cc_shared_view_t v;
    return cc_shared_view(s, 0, cc_shared_wall_ms(), &v);
}

static cc_shared_view_t view(cc_shared_t *s, size_t dep) {
    cc_shared_view_t v;
    cc_shared_view(s, dep, cc_shared_wall_ms(), &v);
    return v;
}

static bool state_is(cc_shared_t *s, const char *state) {
    cc_shared_status_t st;
    cc_shared_status(s, &st);
    return strcmp(st.state, state) == 0;
}

/* ---- without Redis ------------------------------------------------------------------------ */

static void test_start_errors(void) {
    char err[256];
    const char *ids[] = {"a", "b", "a"};
    cc_redis_settings_t none = {0};
    CHECK(cc_shared_start(&none, 1, ids, err, sizeof err) == NULL);
    CHECK_EQ_STR(err, "no redis host");
    char host[] = "127.0.0.1";
    cc_redis_settings_t rs = {host, 1, NULL, NULL, 0};
    CHECK(cc_shared_start(&rs, 3, ids, err, sizeof err) == NULL);
    CHECK_EQ_STR(err, "deployments 0 and 2 have the same id for redis (a)");
    const char *bad[] = {"ok", "has space"};
    CHECK(cc_shared_start(&rs, 2, bad, err, sizeof err) == NULL);
    CHECK(strstr(err, "deployment 1 has no usable id") != NULL);
    const char *empty[] = {""};
    CHECK(cc_shared_start(&rs, 1, empty, err, sizeof err) == NULL);
    rs.port = 0;
    CHECK(cc_shared_start(&rs, 1, ids, err, sizeof err) == NULL);
    CHECK_EQ_STR(err, "redis port 0 is not from 1 to 65535");

    /* Redis down is not an error: it starts at once, says so, and stops at once. */
    int closed = free_port();
    rs.port = closed;
    uint64_t t0 = mono_ms();
    cc_shared_t *s = cc_shared_start(&rs, 2, ids, err, sizeof err);
    CHECK(s != NULL);
    CHECK(mono_ms() - t0 < 100);
    if (s) {
        CHECK(POLL(state_is(s, "unreachable"), 2000));
        cc_shared_status_t st;
        cc_shared_status(s, &st);
        char want[64];
        snprintf(want, sizeof want, "127.0.0.1:%d", closed);
        CHECK_EQ_STR(st.address, want);
        CHECK(strstr(st.error, "refused") != NULL);
        CHECK(st.since_ms > 0);
        CHECK_EQ_INT(strlen(cc_shared_instance_id(s)), 16);
        /* its own numbers only, and false */
        cc_shared_count(s, 1, 2, 30);
        cc_shared_busy(s, 1, 1);
        cc_shared_view_t v;
        CHECK(!cc_shared_view(s, 1, cc_shared_wall_ms(), &v));
        CHECK_EQ_INT(v.busy, 1);
        CHECK(v.rpm == 2 || cc_shared_wall_ms() % 60000 < 100);
        CHECK(!cc_shared_view(s, 7, cc_shared_wall_ms(), &v)); /* no such deployment */
        t0 = mono_ms();
        cc_shared_stop(s);
        CHECK(mono_ms() - t0 < 500);
    }
    char v6[] = "::1";
    cc_redis_settings_t rs6 = {v6, closed, NULL, NULL, 0};
    s = cc_shared_start(&rs6, 0, NULL, err, sizeof err);
    CHECK(s != NULL);
    if (s) {
        cc_shared_status_t st;
        cc_shared_status(s, &st);
        char want[64];
        snprintf(want, sizeof want, "[::1]:%d", closed);
        CHECK_EQ_STR(st.address, want);
        cc_shared_stop(s);
    }
}

/* ---- two instances ----------------------------------------------------------------------- */

static void test_cooldown_shared(void) {
    const char *ids[] = {"cd-0", "cd-1"};
    cc_shared_t *a = start(2, ids, NULL), *b = start(2, ids, NULL);
    CHECK(a && b);
    if (!a || !b) goto out;
    CHECK(POLL(shared(a) && shared(b), 3000));
    CHECK(strcmp(cc_shared_instance_id(a), cc_shared_instance_id(b)) != 0);

    uint64_t now = cc_shared_wall_ms();
    cc_shared_cooldown(a, 1, now + 5000, 429);
    CHECK(POLL(view(b, 1).cooling_status == 429, 2000));
    cc_shared_view_t v = view(b, 1);
    CHECK(v.cooling_until_ms + 300 >= now + 5000 && v.cooling_until_ms <= now + 5300);
    CHECK_EQ_INT(view(b, 0).cooling_until_ms, 0);
    long long pttl = raw_int("PTTL ccproxy:cd-1:cooldown");
    CHECK(pttl > 3000 && pttl <= 5000);
    CHECK_EQ_INT(raw_int("GET ccproxy:cd-1:cooldown"), 429);

    /* a shorter one does not replace it; a longer one does */
    cc_shared_cooldown(b, 1, now + 2000, 503);
    sleep_ms(400);
    v = view(a, 1);
    CHECK_EQ_INT(v.cooling_status, 429);
    CHECK(v.cooling_until_ms + 300 >= now + 5000);
    CHECK_EQ_INT(raw_int("GET ccproxy:cd-1:cooldown"), 429);
    cc_shared_cooldown(b, 1, now + 8000, 503);
    CHECK(POLL(view(a, 1).cooling_status == 503, 2000));
    v = view(a, 1);
    CHECK(v.cooling_until_ms + 300 >= now + 8000 && v.cooling_until_ms <= now + 8300);
    /* a cooldown that is over is not one */
    cc_shared_view_t later;
    CHECK(cc_shared_view(a, 1, now + 9000, &later));
    CHECK_EQ_INT(later.cooling_until_ms, 0);
out:
    cc_shared_stop(a);
    cc_shared_stop(b);
}

static void test_counts_shared(void) {
    const char *ids[] = {"cnt-0", "cnt-1"};
    cc_shared_t *a = start(2, ids, NULL), *b = start(2, ids, NULL);
    CHECK(a && b);
    if (!a || !b) goto out;
    CHECK(POLL(shared(a) && shared(b), 3000));
    avoid_minute_end();
    uint64_t minute = cc_shared_wall_ms() / 60000;
    for (int i = 0; i < 3; i++)
        cc_shared_count(a, 0, 1, 100);
    cc_shared_view_t v = view(a, 0); /* what it has not sent yet counts at once */
    CHECK_EQ_INT(v.rpm, 3);
    CHECK_EQ_INT(v.tpm, 300);
    cc_shared_count(b, 0, 2, 50);
    CHECK(POLL(view(a, 0).rpm == 5 && view(a, 0).tpm == 350 && view(b, 0).rpm == 5 &&
                   view(b, 0).tpm == 350,
               2000));
    CHECK_EQ_INT(view(a, 1).rpm, 0);
    CHECK_EQ_INT(raw_int("GET ccproxy:cnt-0:rpm:%" PRIu64, minute), 5);
    CHECK_EQ_INT(raw_int("GET ccproxy:cnt-0:tpm:%" PRIu64, minute), 350);
    long long ttl = raw_int("TTL ccproxy:cnt-0:rpm:%" PRIu64, minute);
    CHECK(ttl > 100 && ttl <= 120);
    /* the next minute starts from nothing */
    cc_shared_view_t next;
    CHECK(cc_shared_view(a, 0, (minute + 1) * 60000 + 1, &next));
    CHECK_EQ_INT(next.rpm, 0);
    CHECK_EQ_INT(next.tpm, 0);
out:
    cc_shared_stop(a);
    cc_shared_stop(b);
}

static void test_busy_shared(void) {
    const char *ids[] = {"busy-0"};
    cc_shared_t *a = start(1, ids, NULL), *b = start(1, ids, NULL);
    CHECK(a && b);
    if (!a || !b) goto out;
    CHECK(POLL(shared(a) && shared(b), 3000));
    cc_shared_busy(a, 0, 1);
    cc_shared_busy(a, 0, 1);
    cc_shared_busy(b, 0, 1);
    CHECK_EQ_INT(view(a, 0).busy >= 2, 1); /* its own count is live */
    CHECK(POLL(view(a, 0).busy == 3 && view(b, 0).busy == 3, 2000));
    cc_shared_busy(a, 0, -1);
    CHECK(POLL(view(a, 0).busy == 2 && view(b, 0).busy == 2, 2000));
    cc_shared_busy(b, 0, -1);
    CHECK(POLL(view(a, 0).busy == 1 && view(b, 0).busy == 1, 2000));
    CHECK_EQ_INT(raw_int("HEXISTS ccproxy:busy-0:busy %s", cc_shared_instance_id(b)), 0);
    redisReply *r = raw(NULL, 0, "HGET ccproxy:busy-0:busy %s", cc_shared_instance_id(a));
    CHECK(r && r->type == REDIS_REPLY_STRING && strncmp(r->str, "1:", 2) == 0);
    if (r) freeReplyObject(r);
    long long pttl = raw_int("PTTL ccproxy:busy-0:busy");
    CHECK(pttl > 0 && pttl <= 6000);

    /* a clean stop takes its count away at once (not when it would expire, 6 s later) */
    char a_id[17];
    snprintf(a_id, sizeof a_id, "%s", cc_shared_instance_id(a));
    cc_shared_stop(a);
    a = NULL;
    CHECK(POLL(view(b, 0).busy == 0, 1000));
    CHECK_EQ_INT(raw_int("HEXISTS ccproxy:busy-0:busy %s", a_id), 0);
out:
    cc_shared_stop(a);
    cc_shared_stop(b);
}

static void test_busy_refresh_and_crashed_instance(void) {
    const char *ids[] = {"crash-0"};
    cc_shared_timing_t t = {.busy_refresh_ms = 150, .busy_ttl_ms = 600};
    cc_shared_t *a = start(1, ids, &t), *b = start(1, ids, &t);
    CHECK(a && b);
    if (!a || !b) goto out;
    CHECK(POLL(shared(a) && shared(b), 3000));
    cc_shared_busy(a, 0, 1);
    CHECK(POLL(view(b, 0).busy == 1, 2000));
    /* a live instance refreshes its count: seen for longer than it would live otherwise */
    bool steady = true;
    for (uint64_t end = mono_ms() + 1500; mono_ms() < end; sleep_ms(50))
        if (view(b, 0).busy != 1) steady = false;
    CHECK(steady);

    /* an instance that crashed with 4 attempts in progress: its field expires and is removed */
    uint64_t now = cc_shared_wall_ms();
    redisReply *r = raw(NULL, 0, "HSET ccproxy:crash-0:busy 00000000deadbeef 4:%" PRIu64,
                        now + 700);
    CHECK(r && r->type == REDIS_REPLY_INTEGER);
    if (r) freeReplyObject(r);
    CHECK(POLL(view(b, 0).busy == 5, 1000));
    CHECK(POLL(view(b, 0).busy == 1 && view(a, 0).busy == 1, 3000));
    CHECK(POLL(raw_int("HEXISTS ccproxy:crash-0:busy 00000000deadbeef") == 0, 1000));
out:
    cc_shared_stop(a);
    cc_shared_stop(b);
}

/* Every key ccproxy wrote has a TTL (the test may use KEYS; ccproxy never does). */
static void test_every_key_expires(void) {
    const char *ids[] = {"ttl-0"};
    cc_shared_t *a = start(1, ids, NULL);
    CHECK(a && POLL(shared(a), 3000));
    cc_shared_cooldown(a, 0, cc_shared_wall_ms() + 3000, 500);
    cc_shared_count(a, 0, 1, 10);
    cc_shared_busy(a, 0, 1);
    CHECK(POLL(raw_int("EXISTS ccproxy:ttl-0:busy") == 1 &&
                   raw_int("EXISTS ccproxy:ttl-0:cooldown") == 1,
               2000));
    redisReply *keys = raw(NULL, 0, "KEYS ccproxy:*");
    CHECK(keys && keys->type == REDIS_REPLY_ARRAY && keys->elements >= 4);
    for (size_t i = 0; keys && i < keys->elements; i++) {
        long long pttl = raw_int("PTTL %s", keys->element[i]->str);
        if (pttl <= 0) fprintf(stderr, "  %s has no TTL (%lld)\n", keys->element[i]->str, pttl);
        CHECK(pttl > 0);
    }
    if (keys) freeReplyObject(keys);
    cc_shared_stop(a);
}

static void test_database(void) {
    const char *ids[] = {"db-0"};
    cc_redis_settings_t rs = settings(NULL, NULL, 3);
    char err[256];
    cc_shared_t *a = cc_shared_start(&rs, 1, ids, err, sizeof err);
    CHECK(a && POLL(shared(a), 3000));
    cc_shared_cooldown(a, 0, cc_shared_wall_ms() + 3000, 429);
    bool in3 = POLL(({
                        redisReply *r = raw(NULL, 3, "EXISTS ccproxy:db-0:cooldown");
                        bool y = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
                        if (r) freeReplyObject(r);
                        y;
                    }),
                    2000);
    CHECK(in3);
    CHECK_EQ_INT(raw_int("EXISTS ccproxy:db-0:cooldown"), 0);
    cc_shared_stop(a);

    /* a database the server does not have: unreachable, and says why */
    rs.db = 99;
    a = cc_shared_start(&rs, 1, ids, err, sizeof err);
    CHECK(a && POLL(state_is(a, "unreachable"), 2000));
    cc_shared_status_t st;
    cc_shared_status(a, &st);
    CHECK(strstr(st.error, "SELECT 99 failed") != NULL);
    CHECK(!shared(a));
    cc_shared_stop(a);
}

/* ---- Redis going away --------------------------------------------------------------------- */

static void test_redis_goes_away(void) {
    const char *ids[] = {"out-0"};
    char want[128];
    cc_shared_t *a = start(1, ids, NULL), *b = start(1, ids, NULL);
    CHECK(a && b);
    if (!a || !b) goto out;
    CHECK(POLL(shared(a) && shared(b), 3000));
    cc_shared_busy(a, 0, 1);
    CHECK(POLL(view(b, 0).busy == 1, 2000));

    log_capture();
    redis_stop(); /* killed: no goodbye */
    CHECK(POLL(!shared(a) && !shared(b) && state_is(a, "unreachable") &&
                   state_is(b, "unreachable"),
               3000));
    cc_shared_status_t st;
    cc_shared_status(a, &st);
    CHECK(st.error[0] != '\0');
    /* nothing learnt from Redis lingers: b sees only its own (nothing) */
    cc_shared_view_t v;
    CHECK(!cc_shared_view(b, 0, cc_shared_wall_ms(), &v));
    CHECK_EQ_INT(v.busy, 0);
    /* what a does while Redis is away, within this minute, is told when it is back */
    avoid_minute_end();
    uint64_t now = cc_shared_wall_ms();
    cc_shared_count(a, 0, 7, 70);
    cc_shared_cooldown(a, 0, now + 10000, 529);
    sleep_ms(1200); /* a few retries (250, 500 ms ...), each one failing */

    CHECK(redis_start(NULL)); /* same port, empty */
    CHECK(POLL(shared(a) && shared(b) && state_is(a, "connected"), 5000));
    CHECK(POLL(view(b, 0).rpm == 7 && view(b, 0).tpm == 70, 2000));
    CHECK(POLL(view(b, 0).cooling_status == 529, 2000));
    CHECK(view(b, 0).cooling_until_ms + 300 >= now + 10000);
    CHECK(POLL(view(b, 0).busy == 1, 2000));
    cc_shared_status(a, &st);
    CHECK_EQ_STR(st.error, "");
    char *log = log_release();
    snprintf(want, sizeof want, "redis at 127.0.0.1:%d is unreachable (", redis_port);
    CHECK_EQ_INT(count_text(log, want), 2); /* once per instance */
    snprintf(want, sizeof want, "redis at 127.0.0.1:%d is reachable again: routing state is shared",
             redis_port);
    CHECK_EQ_INT(count_text(log, want), 2);
    CHECK(strstr(log, "routing on this instance's own state until it is back; retrying") != NULL);
    free(log);

    /* a Redis that stops answering (frozen) is dropped after the reply timeout, then found */
    cc_shared_stop(b);
    b = NULL;
    cc_shared_stop(a);
    cc_shared_timing_t t = {.reply_timeout_ms = 400, .connect_timeout_ms = 400};
    a = start(1, ids, &t);
    CHECK(a && POLL(shared(a), 3000));
    log_capture();
    kill(redis_pid, SIGSTOP);
    CHECK(POLL(state_is(a, "unreachable"), 2000));
    cc_shared_status(a, &st);
    CHECK(strstr(st.error, "no answer within") != NULL);
    CHECK(!shared(a));
    kill(redis_pid, SIGCONT);
    CHECK(POLL(shared(a), 5000));
    free(log_release());
out:
    cc_shared_stop(a);
    cc_shared_stop(b);
}

/* A server that accepts connections and never answers: the connect times out. */
static void test_no_answer(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 8) == 0 &&
          getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    char host[] = "127.0.0.1", err[256];
    cc_redis_settings_t rs = {host, ntohs(sa.sin_port), NULL, NULL, 0};
    cc_shared_timing_t t = {.connect_timeout_ms = 300};
    const char *ids[] = {"mute-0"};
    log_capture();
    cc_shared_t *s = cc__shared_start_timed(&rs, 1, ids, &t, err, sizeof err);
    CHECK(s && POLL(state_is(s, "unreachable"), 2000));
    cc_shared_status_t st;
    cc_shared_status(s, &st);
    CHECK_EQ_STR(st.error, "no answer within 300 ms of connecting");
    cc_shared_stop(s);
    free(log_release());
    close(fd);
}

/* ---- passwords ----------------------------------------------------------------------------- */

static void test_password(void) {
    static const char good[] = "s3cret-pw-4242", wrong[] = "wrong-pw-1717";
    redis_stop();
    redis_port = free_port();
    CHECK(redis_start(good));
    const char *ids[] = {"auth-0"};
    char err[256], want[160];

    log_capture();
    cc_redis_settings_t rs = settings(NULL, wrong, 0);
    cc_shared_t *bad = cc_shared_start(&rs, 1, ids, err, sizeof err);
    rs = settings(NULL, NULL, 0);
    cc_shared_t *none = cc_shared_start(&rs, 1, ids, err, sizeof err);
    rs = settings(NULL, good, 0);
    cc_shared_t *ok = cc_shared_start(&rs, 1, ids, err, sizeof err);
    rs = settings("default", good, 0);
    cc_shared_t *user = cc_shared_start(&rs, 1, ids, err, sizeof err);
    CHECK(bad && none && ok && user);
    if (!bad || !none || !ok || !user) goto out;
    CHECK(POLL(state_is(bad, "unreachable") && state_is(none, "unreachable"), 3000));
    CHECK(POLL(shared(ok) && shared(user), 3000));
    CHECK(!shared(bad) && !shared(none));
    sleep_ms(700); /* retries, each refused again */

    cc_shared_status_t st;
    cc_shared_status(bad, &st);
    CHECK(strncmp(st.error, "authentication failed: ", 23) == 0);
    CHECK(!strstr(st.error, wrong) && !strstr(st.address, wrong) && !strstr(st.error, good));
    cc_shared_status(none, &st);
    CHECK(strncmp(st.error, "authentication required: NOAUTH", 31) == 0);
    cc_shared_status(ok, &st);
    CHECK_EQ_STR(st.state, "connected");
    CHECK(!strstr(st.address, good));

    /* a cooldown goes through the ones that logged in */
    cc_shared_cooldown(ok, 0, cc_shared_wall_ms() + 3000, 401);
    CHECK(POLL(view(user, 0).cooling_status == 401, 2000));
out:
    cc_shared_stop(bad);
    cc_shared_stop(none);
    cc_shared_stop(ok);
    cc_shared_stop(user);
    char *log = log_release();
    snprintf(want, sizeof want, "redis at 127.0.0.1:%d refused the login (", redis_port);
    CHECK_EQ_INT(count_text(log, want), 2); /* once each for bad and none */
    CHECK(strstr(log, "check router_settings.redis_password") != NULL);
    CHECK(!strstr(log, wrong) && !strstr(log, good));
    free(log);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    int before = cc_check_failures;
    CC_RUN(test_start_errors);
    if (!find_redis_server()) {
        fprintf(stderr, "redis-server is not installed (apt-get install redis-server): skipping "
                        "the tests against a real Redis\n");
        return cc_check_failures != before ? 1 : 77;
    }
    if (!mkdtemp(redis_dir)) {
        perror("mkdtemp");
        return 1;
    }
    atexit(cleanup);
    redis_port = free_port();
    if (!redis_start(NULL)) return 1;
    CC_RUN(test_cooldown_shared);
    CC_RUN(test_counts_shared);
    CC_RUN(test_busy_shared);
    CC_RUN(test_busy_refresh_and_crashed_instance);
    CC_RUN(test_every_key_expires);
    CC_RUN(test_database);
    CC_RUN(test_no_answer);
    CC_RUN(test_redis_goes_away);
    CC_RUN(test_password);
    return CC_DONE();
}
