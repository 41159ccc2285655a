/* shared_state.c: routing state shared between ccproxy instances through Redis (see
 * shared_state.h). It owns one thread with its own libuv loop and one hiredis async connection
 * on it, and, per deployment, what this instance has to tell Redis and what Redis last told it;
 * both sides meet under one mutex.
 *
 * The Redis schema. <id> is a deployment's stable id, <inst> an instance's random 16-hex id,
 * <minute> the epoch minute (unix ms / 60000). Every key has a TTL, so an instance that crashes
 * leaves nothing that lasts; nothing uses KEYS or SCAN.
 *
 *   ccproxy:<id>:cooldown      string "<status>" with PX = what is left of the longest cooldown
 *                              any instance set. Written by a script that SETs it only when the
 *                              new cooldown outlasts the key's PTTL; read back with PTTL + GET.
 *   ccproxy:<id>:rpm:<minute>  integer: requests counted in that minute by every instance
 *   ccproxy:<id>:tpm:<minute>  integer: tokens. INCRBY (its reply is the fresh total) and
 *                              EXPIRE 120 when this instance counted something, else MGET.
 *   ccproxy:<id>:busy          hash <inst> -> "<n>:<expires-ms>": the attempts in progress on
 *                              that instance, valid until expires-ms (wall clock). An instance
 *                              writes its field when its count changes and every 2 s (expiring
 *                              6 s later), HDELs it when the count falls to 0 and when it stops,
 *                              and PEXPIREs the hash 6 s on every write. Readers sum the other
 *                              instances' unexpired fields and HDEL the expired ones.
 *
 * A tick (every 100 ms, while connected, once the previous one answered) is one MULTI ... EXEC
 * pipelined in one round trip: for each deployment, [the cooldown script] [INCRBY x2 + EXPIRE x2
 * | MGET] [HSET + PEXPIRE | HDEL of its own field] [HDEL of expired fields] PTTL GET HGETALL.
 *
 * Redis going away: a failed connect, a closed connection, an error answer or no answer within
 * 2 s drop the connection; everything learnt from Redis is dropped with it (cc_shared_view
 * says false), the outage is logged once (and again only if its kind changes, say from a
 * refused connection to a refused password), and a new connection is tried after 250 ms,
 * doubling to 2 s. A new connection sends AUTH (with the user when there is one), SELECT and PING before
 * it counts as up; then this instance's cooldowns still running and busy counts are written
 * again, and its counts of the current minute (only those) are sent. */
#include "routing/shared_state.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "log.h"

#define CC_SHARED_TICK_MS 100
#define CC_SHARED_BUSY_REFRESH_MS 2000
#define CC_SHARED_BUSY_TTL_MS 6000
#define CC_SHARED_CONNECT_TIMEOUT_MS 2000
#define CC_SHARED_REPLY_TIMEOUT_MS 2000
#define CC_SHARED_BACKOFF_MIN_MS 250
#define CC_SHARED_BACKOFF_MAX_MS 2000
#define CC_SHARED_COUNT_TTL_S "120"
#define CC_SHARED_MAX_ID 200
#define CC_SHARED_MAX_EXPIRED 64 /* expired busy fields HDEL'd per deployment and tick */

/* Sets the cooldown only when it outlasts the one Redis holds (PTTL is -2 when there is none,
 * -1 for a key without a TTL, which this replaces with one). */
static const char cooldown_script[] =
    "local left = redis.call('PTTL', KEYS[1]) "
    "if left < tonumber(ARGV[2]) then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end "
    "return 1";

typedef struct {
    char *id;
    char *k_cooldown; /* ccproxy:<id>:cooldown */
    char *k_busy;     /* ccproxy:<id>:busy */

    /* Guarded by the mutex. What this instance did: */
    uint64_t cd_until; /* the longest cooldown it set */
    int cd_status;
    uint64_t cd_sent;  /* the cooldown end sent to Redis (0: none, or send again) */
    uint64_t cnt_minute; /* counted, not sent yet */
    unsigned cnt_req, cnt_tok;
    uint64_t fly_minute; /* sent, not answered yet */
    unsigned fly_req, fly_tok;
    int busy;           /* attempts in progress here */
    int busy_sent;      /* the count Redis holds for this instance (-1: not known) */
    uint64_t busy_sent_ms;

    /* What Redis said (meaningful while have_view): */
    uint64_t r_cd_until;
    int r_cd_status;
    uint64_t r_minute;
    uint64_t r_req, r_tok; /* every instance's, as of the last answer */
    int r_busy;            /* the other instances' */

    /* The Redis thread's own: other instances' expired busy fields, HDEL'd at the next tick. */
    char **expired;
    size_t n_expired;
} dep_t;

/* What a tick sends for one deployment, taken under the mutex. */
typedef struct {
    bool cd;
    uint64_t cd_ms;
    int cd_status;
    bool incr;
    unsigned req, tok;
    int busy; /* -1: nothing to write; 0: HDEL; > 0: HSET */
} snap_t;

enum {
    OP_MULTI_PART, /* answered inside EXEC's array: nothing to read */
    OP_INCR_REQ,
    OP_INCR_TOK,
    OP_MGET,
    OP_PTTL,
    OP_CD_GET,
    OP_BUSY_GET
};

typedef struct {
    unsigned char kind;
    unsigned dep;
} op_t;

typedef struct cc_shared_s cc_shared_t;

typedef struct {
    cc_shared_t *s;
    bool farewell;
    uint64_t minute; /* of the counts it sent */
    op_t *ops;
    size_t n_ops;
} batch_t;

enum { CONN_DOWN, CONN_HANDSHAKE, CONN_UP };
enum { CLS_NET, CLS_AUTH, CLS_REFUSED };

struct cc_shared_s {
    char *host;
    int port;
    char *username, *password;
    int db;
    char address[300];
    char instance[17];
    cc_shared_timing_t t;
    size_t n;
    dep_t *deps;

    pthread_mutex_t mu;
    /* Guarded by mu: */
    bool have_view;    /* connected, and a tick has answered since */
    const char *state; /* "connecting", "connected", "unreachable" */
    uint64_t since_ms;
    char error[256];
    bool stop_requested;

    /* The Redis thread's own: */
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick, retry, farewell;
    redisAsyncContext *ac; /* the current connection, or NULL */
    int conn;
    uint64_t conn_started; /* uv_now when the connect began */
    batch_t *inflight;     /* the tick waiting for its answer */
    uint64_t inflight_at;
    unsigned backoff_ms;
    bool ever_up, down_logged, stopping, finishing;
    int down_class;
    snap_t *snaps;
};

uint64_t cc_shared_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned add_sat(unsigned a, unsigned b) {
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/* Replaces the password by *** in text that came from Redis or hiredis, should it ever be
 * there (text is a buffer of `size` bytes). */
static void scrub(const cc_shared_t *s, char *text, size_t size) {
    if (!s->password || !*s->password || !strstr(text, s->password)) return;
    size_t pl = strlen(s->password), o = 0;
    char out[256];
    for (const char *p = text; *p && o + 1 < sizeof out;) {
        if (strncmp(p, s->password, pl) == 0) {
            for (int k = 0; k < 3 && o + 1 < sizeof out; k++)
                out[o++] = '*';
            p += pl;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    snprintf(text, size, "%s", out);
}

/* ---- hiredis on libuv ----------------------------------------------------------------------- */

/* hiredis 0.14's libuv adapter ignores a poll error: libuv reports POLLERR (a refused connect, a
 * reset connection) as a negative status and stops the handle, the adapter returns, and hiredis
 * never hears of it, so a refused connect would hang. Its add/del hooks are replaced by these,
 * whose callback hands an error to hiredis as the event that makes it look: a write while
 * connecting (it reads SO_ERROR), a read once connected (read() fails). */
static void ev_poll(uv_poll_t *h, int status, int events) {
    redisLibuvEvents *p = h->data;
    if (!p->context) return;
    if (status < 0) {
        if (p->context->c.flags & REDIS_CONNECTED)
            redisAsyncHandleRead(p->context);
        else
            redisAsyncHandleWrite(p->context);
        return;
    }
    if (events & UV_READABLE) redisAsyncHandleRead(p->context);
    if (p->context && (events & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

static void ev_update(redisLibuvEvents *p) {
    if (p->events)
        uv_poll_start(&p->handle, p->events, ev_poll);
    else
        uv_poll_stop(&p->handle);
}

static void ev_add_read(void *d) {
    redisLibuvEvents *p = d;
    p->events |= UV_READABLE;
    ev_update(p);
}

static void ev_del_read(void *d) {
    redisLibuvEvents *p = d;
    p->events &= ~UV_READABLE;
    ev_update(p);
}

static void ev_add_write(void *d) {
    redisLibuvEvents *p = d;
    p->events |= UV_WRITABLE;
    ev_update(p);
}

static void ev_del_write(void *d) {
    redisLibuvEvents *p = d;
    p->events &= ~UV_WRITABLE;
    ev_update(p);
}

/* ---- the connection's state ------------------------------------------------------------------ */

static void set_state(cc_shared_t *s, const char *state, const char *error) {
    /* under s->mu */
    if (s->state != state) s->since_ms = cc_shared_wall_ms();
    s->state = state;
    snprintf(s->error, sizeof s->error, "%s", error);
}

/* Forgets everything learnt from Redis and what this connection was sent. Under s->mu. */
static void forget_remote(cc_shared_t *s) {
    s->have_view = false;
    for (size_t i = 0; i < s->n; i++) {
        dep_t *d = &s->deps[i];
        d->cd_sent = 0;
        d->fly_req = d->fly_tok = 0;
        d->busy_sent = -1;
        d->r_cd_until = 0;
        d->r_cd_status = 0;
        d->r_minute = 0;
        d->r_req = d->r_tok = 0;
        d->r_busy = 0;
    }
}

static void on_retry(uv_timer_t *t);

/* The connection is gone or no good: drop it (free it, unless hiredis is doing so and s->ac
 * was cleared), forget what it told, say so once, and try again after the backoff. Inside one
 * of the connection's reply callbacks, hiredis defers the free until the callback returns. */
static void conn_lost(cc_shared_t *s, int cls, const char *why) {
    if (s->ac) {
        redisAsyncContext *ac = s->ac;
        s->ac = NULL; /* its callbacks, run from here on, see it is not the current one */
        redisAsyncFree(ac);
    }
    s->conn = CONN_DOWN;
    s->inflight = NULL;
    char text[256];
    snprintf(text, sizeof text, "%s", why);
    scrub(s, text, sizeof text);
    pthread_mutex_lock(&s->mu);
    forget_remote(s);
    set_state(s, "unreachable", text);
    pthread_mutex_unlock(&s->mu);

    if (!s->down_logged || s->down_class != cls) {
        if (cls == CLS_AUTH)
            cc_warn("redis at %s refused the login (%s): check router_settings.redis_password "
                    "(or the user and password of redis_url); routing on this instance's own "
                    "state until it is fixed; retrying",
                    s->address, text);
        else if (cls == CLS_REFUSED)
            cc_warn("redis at %s answered with an error (%s): routing on this instance's own "
                    "state until it is back; retrying",
                    s->address, text);
        else
            cc_warn("redis at %s is unreachable (%s): routing on this instance's own state "
                    "until it is back; retrying",
                    s->address, text);
        s->down_logged = true;
        s->down_class = cls;
    }
    if (s->stopping) return;
    unsigned wait = s->backoff_ms;
    uv_timer_start(&s->retry, on_retry, wait, 0);
    s->backoff_ms = wait >= CC_SHARED_BACKOFF_MAX_MS / 2 ? CC_SHARED_BACKOFF_MAX_MS : wait * 2;
}

static void send_tick(cc_shared_t *s, bool farewell);

static void conn_up(cc_shared_t *s) {
    s->conn = CONN_UP;
    s->backoff_ms = CC_SHARED_BACKOFF_MIN_MS;
    pthread_mutex_lock(&s->mu);
    forget_remote(s); /* write this instance's cooldowns and busy counts again */
    set_state(s, "connected", "");
    pthread_mutex_unlock(&s->mu);
    if (s->down_logged)
        cc_info("redis at %s is reachable again: routing state is shared", s->address);
    else if (!s->ever_up)
        cc_info("redis at %s: connected; routing state is shared with the other instances",
                s->address);
    s->down_logged = false;
    s->ever_up = true;
    send_tick(s, false);
}

/* ---- connecting --------------------------------------------------------------------------- */

static bool current(const cc_shared_t *s, const redisAsyncContext *ac) {
    return ac && ac == s->ac;
}

static void on_connect(const redisAsyncContext *ac, int status) {
    cc_shared_t *s = ac->data;
    if (status == REDIS_OK || !current(s, ac)) return;
    s->ac = NULL; /* hiredis frees it after this */
    conn_lost(s, CLS_NET, ac->c.errstr[0] ? ac->c.errstr : "connect failed");
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    cc_shared_t *s = ac->data;
    (void)status;
    if (!current(s, ac)) return;
    s->ac = NULL; /* hiredis frees it after this */
    conn_lost(s, CLS_NET, ac->c.errstr[0] ? ac->c.errstr : "the connection was closed");
}

static void on_auth(redisAsyncContext *ac, void *r, void *priv) {
    cc_shared_t *s = ac->data;
    redisReply *reply = r;
    char why[256];
    (void)priv;
    if (!reply || !current(s, ac) || reply->type != REDIS_REPLY_ERROR) return;
    snprintf(why, sizeof why, "authentication failed: %s", reply->str);
    conn_lost(s, CLS_AUTH, why);
}

static void on_select(redisAsyncContext *ac, void *r, void *priv) {
    cc_shared_t *s = ac->data;
    redisReply *reply = r;
    char why[256];
    (void)priv;
    if (!reply || !current(s, ac) || reply->type != REDIS_REPLY_ERROR) return;
    if (strncmp(reply->str, "NOAUTH", 6) == 0) return; /* PING's answer says it */
    snprintf(why, sizeof why, "SELECT %d failed: %s; check the /db of router_settings.redis_url",
             s->db, reply->str);
    conn_lost(s, CLS_REFUSED, why);
}

static void on_ping(redisAsyncContext *ac, void *r, void *priv) {
    cc_shared_t *s = ac->data;
    redisReply *reply = r;
    char why[256];
    (void)priv;
    if (!reply || !current(s, ac)) return;
    if (reply->type == REDIS_REPLY_ERROR) {
        bool auth = strncmp(reply->str, "NOAUTH", 6) == 0;
        snprintf(why, sizeof why, "%s%s", auth ? "authentication required: " : "", reply->str);
        conn_lost(s, auth ? CLS_AUTH : CLS_REFUSED, why);
        return;
    }
    conn_up(s);
}

static void try_connect(cc_shared_t *s) {
    char why[256];
    /* hiredis 0.14 resolves the host name in here, synchronously: this is the Redis thread, so
     * no worker waits for it. */
    redisAsyncContext *ac = redisAsyncConnect(s->host, s->port);
    if (!ac) {
        conn_lost(s, CLS_NET, "out of memory");
        return;
    }
    if (ac->err) {
        snprintf(why, sizeof why, "%s", ac->c.errstr[0] ? ac->c.errstr : "connect failed");
        redisAsyncFree(ac);
        conn_lost(s, CLS_NET, why);
        return;
    }
    ac->data = s;
    if (redisLibuvAttach(ac, &s->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        conn_lost(s, CLS_NET, "could not watch the socket");
        return;
    }
    /* before the connect callback is set: setting it asks for the first write event */
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    s->ac = ac;
    s->conn = CONN_HANDSHAKE;
    s->conn_started = uv_now(&s->loop);
    if (s->password) {
        const char *argv[3] = {"AUTH", s->username ? s->username : s->password, s->password};
        redisAsyncCommandArgv(ac, on_auth, NULL, s->username ? 3 : 2, argv, NULL);
    }
    if (s->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", s->db);
        const char *argv[2] = {"SELECT", db};
        redisAsyncCommandArgv(ac, on_select, NULL, 2, argv, NULL);
    }
    redisAsyncCommand(ac, on_ping, NULL, "PING");
}

static void on_retry(uv_timer_t *t) {
    cc_shared_t *s = t->data;
    if (!s->stopping && s->conn == CONN_DOWN) try_connect(s);
}

/* ---- a tick ------------------------------------------------------------------------------- */

static void free_batch(batch_t *b) {
    if (!b) return;
    free(b->ops);
    free(b);
}

static void put(batch_t *b, unsigned char kind, size_t dep, int argc, const char **argv) {
    if (redisAsyncCommandArgv(b->s->ac, NULL, NULL, argc, argv, NULL) != REDIS_OK) return;
    b->ops[b->n_ops].kind = kind;
    b->ops[b->n_ops].dep = (unsigned)dep;
    b->n_ops++;
}

static uint64_t reply_u64(const redisReply *r) {
    if (!r) return 0;
    if (r->type == REDIS_REPLY_INTEGER) return r->integer > 0 ? (uint64_t)r->integer : 0;
    if (r->type == REDIS_REPLY_STRING) return strtoull(r->str, NULL, 10);
    return 0;
}

/* The other instances' busy counts in an HGETALL answer; expired fields go to d->expired. */
static int sum_busy(cc_shared_t *s, dep_t *d, const redisReply *r, uint64_t now) {
    long long sum = 0;
    for (size_t i = 0; i < d->n_expired; i++)
        free(d->expired[i]);
    d->n_expired = 0;
    if (r->type != REDIS_REPLY_ARRAY) return 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (strcmp(f->str, s->instance) == 0) continue; /* this one's count is the live one */
        char *end;
        unsigned long long n = strtoull(v->str, &end, 10);
        if (*end != ':') continue; /* not ours to judge: the hash's TTL takes it */
        unsigned long long exp = strtoull(end + 1, NULL, 10);
        if (exp > now) {
            sum += n > 1000000 ? 1000000 : (long long)n;
        } else if (d->n_expired < CC_SHARED_MAX_EXPIRED) {
            char *copy = strdup(f->str);
            if (copy) d->expired[d->n_expired++] = copy;
        }
    }
    return sum > INT32_MAX ? INT32_MAX : (int)sum;
}

static void finish_stop(cc_shared_t *s);

static void on_exec(redisAsyncContext *ac, void *r, void *priv) {
    batch_t *b = priv;
    cc_shared_t *s = b->s;
    redisReply *reply = r;
    bool mine = current(s, ac) && (b->farewell || s->inflight == b);
    if (s->inflight == b) s->inflight = NULL;
    if (!mine || !reply) { /* dropped with its connection */
        bool farewell = b->farewell;
        free_batch(b);
        if (farewell) finish_stop(s);
        return;
    }
    const char *err = NULL;
    if (reply->type == REDIS_REPLY_ERROR)
        err = reply->str;
    else if (reply->type != REDIS_REPLY_ARRAY || reply->elements != b->n_ops)
        err = "the answer to EXEC is not one per command";
    else
        for (size_t i = 0; i < reply->elements && !err; i++)
            if (reply->element[i]->type == REDIS_REPLY_ERROR) err = reply->element[i]->str;
    if (err) {
        char why[256];
        snprintf(why, sizeof why, "%s", err);
        bool farewell = b->farewell;
        free_batch(b);
        conn_lost(s, strncmp(why, "NOAUTH", 6) == 0 ? CLS_AUTH : CLS_REFUSED, why);
        if (farewell) finish_stop(s);
        return;
    }

    uint64_t now = cc_shared_wall_ms();
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < b->n_ops; i++) {
        dep_t *d = &s->deps[b->ops[i].dep];
        const redisReply *e = reply->element[i];
        switch (b->ops[i].kind) {
        case OP_INCR_REQ:
            d->r_minute = b->minute;
            d->r_req = reply_u64(e);
            break;
        case OP_INCR_TOK:
            d->r_tok = reply_u64(e);
            break;
        case OP_MGET:
            d->r_minute = b->minute;
            d->r_req = e->type == REDIS_REPLY_ARRAY && e->elements == 2 ? reply_u64(e->element[0])
                                                                        : 0;
            d->r_tok = e->type == REDIS_REPLY_ARRAY && e->elements == 2 ? reply_u64(e->element[1])
                                                                        : 0;
            break;
        case OP_PTTL:
            if (e->type == REDIS_REPLY_INTEGER && e->integer > 0) {
                d->r_cd_until = now + (uint64_t)e->integer;
            } else {
                d->r_cd_until = 0;
                d->r_cd_status = 0;
            }
            break;
        case OP_CD_GET:
            if (e->type == REDIS_REPLY_STRING && d->r_cd_until)
                d->r_cd_status = (int)strtol(e->str, NULL, 10);
            break;
        case OP_BUSY_GET:
            d->r_busy = sum_busy(s, d, e, now);
            break;
        default:
            break;
        }
    }
    for (size_t i = 0; i < s->n; i++) /* their counts are in the totals now */
        s->deps[i].fly_req = s->deps[i].fly_tok = 0;
    if (!b->farewell) s->have_view = true;
    pthread_mutex_unlock(&s->mu);
    bool farewell = b->farewell;
    free_batch(b);
    if (farewell) finish_stop(s);
}

/* Takes what each deployment has to send (under the mutex), then pipelines the tick. A farewell
 * tick removes this instance's busy counts and sends its last counts, and reads nothing. */
static void send_tick(cc_shared_t *s, bool farewell) {
    uint64_t now = cc_shared_wall_ms(), minute = now / 60000;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++) {
        dep_t *d = &s->deps[i];
        snap_t *p = &s->snaps[i];
        memset(p, 0, sizeof *p);
        p->busy = -1;
        if (d->cd_until > now && d->cd_until > d->cd_sent) {
            p->cd = true;
            p->cd_ms = d->cd_until - now;
            p->cd_status = d->cd_status;
            d->cd_sent = d->cd_until;
        }
        if (d->cnt_minute == minute && (d->cnt_req || d->cnt_tok)) {
            p->incr = true;
            p->req = d->cnt_req;
            p->tok = d->cnt_tok;
            d->fly_minute = minute;
            d->fly_req = d->cnt_req;
            d->fly_tok = d->cnt_tok;
        }
        d->cnt_req = d->cnt_tok = 0; /* sent, or of a minute that is over */
        d->cnt_minute = minute;
        int busy = farewell ? 0 : d->busy;
        if (busy != d->busy_sent ||
            (busy > 0 && now - d->busy_sent_ms >= s->t.busy_refresh_ms)) {
            p->busy = busy;
            d->busy_sent = busy;
            d->busy_sent_ms = now;
        }
    }
    pthread_mutex_unlock(&s->mu);

    batch_t *b = calloc(1, sizeof *b);
    if (b) b->ops = calloc(s->n * 12 + 1, sizeof *b->ops);
    if (!b || !b->ops) {
        free_batch(b);
        conn_lost(s, CLS_NET, "out of memory");
        return;
    }
    b->s = s;
    b->farewell = farewell;
    b->minute = minute;
    redisAsyncCommand(s->ac, NULL, NULL, "MULTI");
    char k_rpm[CC_SHARED_MAX_ID + 48], k_tpm[CC_SHARED_MAX_ID + 48], v1[32], v2[48];
    for (size_t i = 0; i < s->n; i++) {
        dep_t *d = &s->deps[i];
        snap_t *p = &s->snaps[i];
        snprintf(k_rpm, sizeof k_rpm, "ccproxy:%s:rpm:%" PRIu64, d->id, minute);
        snprintf(k_tpm, sizeof k_tpm, "ccproxy:%s:tpm:%" PRIu64, d->id, minute);
        if (p->cd) {
            snprintf(v1, sizeof v1, "%d", p->cd_status);
            snprintf(v2, sizeof v2, "%" PRIu64, p->cd_ms);
            const char *argv[] = {"EVAL", cooldown_script, "1", d->k_cooldown, v1, v2};
            put(b, OP_MULTI_PART, i, 6, argv);
        }
        if (p->incr) {
            snprintf(v1, sizeof v1, "%u", p->req);
            snprintf(v2, sizeof v2, "%u", p->tok);
            const char *a1[] = {"INCRBY", k_rpm, v1}, *a2[] = {"INCRBY", k_tpm, v2};
            const char *a3[] = {"EXPIRE", k_rpm, CC_SHARED_COUNT_TTL_S};
            const char *a4[] = {"EXPIRE", k_tpm, CC_SHARED_COUNT_TTL_S};
            put(b, OP_INCR_REQ, i, 3, a1);
            put(b, OP_INCR_TOK, i, 3, a2);
            put(b, OP_MULTI_PART, i, 3, a3);
            put(b, OP_MULTI_PART, i, 3, a4);
        } else if (!farewell) {
            const char *argv[] = {"MGET", k_rpm, k_tpm};
            put(b, OP_MGET, i, 3, argv);
        }
        if (p->busy > 0) {
            snprintf(v1, sizeof v1, "%u", s->t.busy_ttl_ms);
            snprintf(v2, sizeof v2, "%d:%" PRIu64, p->busy, now + s->t.busy_ttl_ms);
            const char *a1[] = {"HSET", d->k_busy, s->instance, v2};
            const char *a2[] = {"PEXPIRE", d->k_busy, v1};
            put(b, OP_MULTI_PART, i, 4, a1);
            put(b, OP_MULTI_PART, i, 3, a2);
        } else if (p->busy == 0) {
            const char *argv[] = {"HDEL", d->k_busy, s->instance};
            put(b, OP_MULTI_PART, i, 3, argv);
        }
        if (d->n_expired) {
            const char *argv[2 + CC_SHARED_MAX_EXPIRED];
            argv[0] = "HDEL";
            argv[1] = d->k_busy;
            for (size_t j = 0; j < d->n_expired; j++)
                argv[2 + j] = d->expired[j];
            put(b, OP_MULTI_PART, i, (int)(2 + d->n_expired), argv);
            for (size_t j = 0; j < d->n_expired; j++)
                free(d->expired[j]);
            d->n_expired = 0;
        }
        if (!farewell) {
            const char *a1[] = {"PTTL", d->k_cooldown}, *a2[] = {"GET", d->k_cooldown};
            const char *a3[] = {"HGETALL", d->k_busy};
            put(b, OP_PTTL, i, 2, a1);
            put(b, OP_CD_GET, i, 2, a2);
            put(b, OP_BUSY_GET, i, 2, a3);
        }
    }
    if (redisAsyncCommand(s->ac, on_exec, b, "EXEC") != REDIS_OK) {
        free_batch(b);
        conn_lost(s, CLS_NET, "could not send to redis");
        return;
    }
    if (!farewell) {
        s->inflight = b;
        s->inflight_at = uv_now(&s->loop);
    }
}

static void on_tick(uv_timer_t *t) {
    cc_shared_t *s = t->data;
    uint64_t now = uv_now(&s->loop);
    char why[128];
    if (s->stopping) return;
    if (s->conn == CONN_HANDSHAKE && now - s->conn_started >= s->t.connect_timeout_ms) {
        snprintf(why, sizeof why, "no answer within %u ms of connecting", s->t.connect_timeout_ms);
        conn_lost(s, CLS_NET, why);
        return;
    }
    if (s->conn != CONN_UP) return;
    if (s->inflight) {
        if (now - s->inflight_at >= s->t.reply_timeout_ms) {
            snprintf(why, sizeof why, "no answer within %u ms", s->t.reply_timeout_ms);
            conn_lost(s, CLS_NET, why);
        }
        return;
    }
    send_tick(s, false);
}

/* ---- the thread --------------------------------------------------------------------------- */

static void finish_stop(cc_shared_t *s) {
    if (s->finishing) return;
    s->finishing = true;
    s->stopping = true;
    if (s->ac) {
        redisAsyncContext *ac = s->ac;
        s->ac = NULL;
        redisAsyncFree(ac); /* its pending callbacks run with no answer */
    }
    s->conn = CONN_DOWN;
    uv_close((uv_handle_t *)&s->tick, NULL);
    uv_close((uv_handle_t *)&s->retry, NULL);
    uv_close((uv_handle_t *)&s->farewell, NULL);
    uv_close((uv_handle_t *)&s->wake, NULL);
}

static void on_farewell_timeout(uv_timer_t *t) {
    finish_stop(t->data);
}

static void on_wake(uv_async_t *a) {
    cc_shared_t *s = a->data;
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop_requested;
    pthread_mutex_unlock(&s->mu);
    if (!stop || s->stopping) return;
    s->stopping = true;
    uv_timer_stop(&s->retry);
    if (s->conn != CONN_UP) {
        finish_stop(s);
        return;
    }
    uv_timer_start(&s->farewell, on_farewell_timeout, CC_SHARED_FAREWELL_MS, 0);
    send_tick(s, true);
}

static void *thread_main(void *arg) {
    cc_shared_t *s = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the workers' business */
    uv_timer_init(&s->loop, &s->tick);
    uv_timer_init(&s->loop, &s->retry);
    uv_timer_init(&s->loop, &s->farewell);
    s->tick.data = s->retry.data = s->farewell.data = s;
    uv_timer_start(&s->tick, on_tick, s->t.tick_ms, s->t.tick_ms);
    on_wake(&s->wake); /* a stop asked for before the loop ran */
    if (!s->stopping) try_connect(s);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- the interface ------------------------------------------------------------------------ */

static void free_shared(cc_shared_t *s) {
    if (!s) return;
    for (size_t i = 0; s->deps && i < s->n; i++) {
        dep_t *d = &s->deps[i];
        free(d->id);
        free(d->k_cooldown);
        free(d->k_busy);
        for (size_t j = 0; j < d->n_expired; j++)
            free(d->expired[j]);
        free(d->expired);
    }
    free(s->deps);
    free(s->snaps);
    free(s->host);
    free(s->username);
    if (s->password) {
        memset(s->password, 0, strlen(s->password));
        free(s->password);
    }
    free(s);
}

static char *key_of(const char *id, const char *what) {
    size_t n = strlen("ccproxy:") + strlen(id) + 1 + strlen(what) + 1;
    char *k = malloc(n);
    if (k) snprintf(k, n, "ccproxy:%s:%s", id, what);
    return k;
}

static bool id_ok(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > CC_SHARED_MAX_ID) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] <= ' ' || (unsigned char)id[i] >= 0x7f) return false;
    return true;
}

cc_shared_t *cc__shared_start_timed(const cc_redis_settings_t *rs, size_t n,
                                    const char *const *ids, const cc_shared_timing_t *timing,
                                    char *err, size_t errlen) {
    if (!rs || !rs->host || !*rs->host) {
        snprintf(err, errlen, "no redis host");
        return NULL;
    }
    if (rs->port < 1 || rs->port > 65535) {
        snprintf(err, errlen, "redis port %d is not from 1 to 65535", rs->port);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!id_ok(ids[i])) {
            snprintf(err, errlen,
                     "deployment %zu has no usable id for redis (1 to %d printable characters "
                     "without spaces)",
                     i, CC_SHARED_MAX_ID);
            return NULL;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(ids[i], ids[j]) == 0) {
                snprintf(err, errlen, "deployments %zu and %zu have the same id for redis (%s)",
                         j, i, ids[i]);
                return NULL;
            }
    }
    cc_shared_t *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    s->n = n;
    s->port = rs->port;
    s->db = rs->db;
    s->host = strdup(rs->host);
    s->username = rs->username ? strdup(rs->username) : NULL;
    s->password = rs->password && *rs->password ? strdup(rs->password) : NULL;
    s->deps = calloc(n ? n : 1, sizeof *s->deps);
    s->snaps = calloc(n ? n : 1, sizeof *s->snaps);
    if (!s->host || (rs->username && !s->username) || (rs->password && *rs->password &&
                                                        !s->password) ||
        !s->deps || !s->snaps)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        dep_t *d = &s->deps[i];
        d->id = strdup(ids[i]);
        d->k_cooldown = key_of(ids[i], "cooldown");
        d->k_busy = key_of(ids[i], "busy");
        d->expired = calloc(CC_SHARED_MAX_EXPIRED, sizeof *d->expired);
        d->busy_sent = -1;
        if (!d->id || !d->k_cooldown || !d->k_busy || !d->expired) goto oom;
    }
    snprintf(s->address, sizeof s->address, strchr(s->host, ':') ? "[%s]:%d" : "%s:%d", s->host,
             s->port);
    unsigned char rnd[8];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        snprintf(err, errlen, "no random bytes for the instance id");
        free_shared(s);
        return NULL;
    }
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(s->instance + 2 * i, 3, "%02x", rnd[i]);

    cc_shared_timing_t t = timing ? *timing : (cc_shared_timing_t){0};
    s->t.tick_ms = t.tick_ms ? t.tick_ms : CC_SHARED_TICK_MS;
    s->t.busy_refresh_ms = t.busy_refresh_ms ? t.busy_refresh_ms : CC_SHARED_BUSY_REFRESH_MS;
    s->t.busy_ttl_ms = t.busy_ttl_ms ? t.busy_ttl_ms : CC_SHARED_BUSY_TTL_MS;
    s->t.connect_timeout_ms =
        t.connect_timeout_ms ? t.connect_timeout_ms : CC_SHARED_CONNECT_TIMEOUT_MS;
    s->t.reply_timeout_ms = t.reply_timeout_ms ? t.reply_timeout_ms : CC_SHARED_REPLY_TIMEOUT_MS;
    s->backoff_ms = CC_SHARED_BACKOFF_MIN_MS;
    s->state = "connecting";
    s->since_ms = cc_shared_wall_ms();

    pthread_mutex_init(&s->mu, NULL);
    int rc = uv_loop_init(&s->loop);
    if (rc != 0) {
        snprintf(err, errlen, "no event loop for redis: %s", uv_strerror(rc));
        pthread_mutex_destroy(&s->mu);
        free_shared(s);
        return NULL;
    }
    uv_async_init(&s->loop, &s->wake, on_wake);
    s->wake.data = s;
    rc = pthread_create(&s->thread, NULL, thread_main, s);
    if (rc != 0) {
        snprintf(err, errlen, "no thread for redis: %s", strerror(rc));
        uv_close((uv_handle_t *)&s->wake, NULL);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        pthread_mutex_destroy(&s->mu);
        free_shared(s);
        return NULL;
    }
    return s;
oom:
    snprintf(err, errlen, "out of memory");
    free_shared(s);
    return NULL;
}

cc_shared_t *cc_shared_start(const cc_redis_settings_t *rs, size_t n, const char *const *ids,
                             char *err, size_t errlen) {
    return cc__shared_start_timed(rs, n, ids, NULL, err, errlen);
}

void cc_shared_stop(cc_shared_t *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stop_requested = true;
    pthread_mutex_unlock(&s->mu);
    uv_async_send(&s->wake);
    pthread_join(s->thread, NULL);
    uv_loop_close(&s->loop);
    pthread_mutex_destroy(&s->mu);
    free_shared(s);
}

/* The stops under way on threads of their own. */
static pthread_mutex_t later_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t later_cv = PTHREAD_COND_INITIALIZER;
static int later_running;

static void *stop_thread(void *arg) {
    cc_shared_stop(arg);
    pthread_mutex_lock(&later_mu);
    later_running--;
    pthread_cond_broadcast(&later_cv);
    pthread_mutex_unlock(&later_mu);
    return NULL;
}

void cc_shared_stop_later(cc_shared_t *s) {
    if (!s) return;
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&later_mu);
    later_running++;
    pthread_mutex_unlock(&later_mu);
    if (pthread_create(&t, &attr, stop_thread, s) != 0) stop_thread(s);
    pthread_attr_destroy(&attr);
}

void cc_shared_drain(unsigned timeout_ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&later_mu);
    while (later_running > 0)
        if (pthread_cond_timedwait(&later_cv, &later_mu, &until) != 0) break;
    pthread_mutex_unlock(&later_mu);
}

void cc_shared_cooldown(cc_shared_t *s, size_t dep, uint64_t until_ms, int status) {
    if (!s || dep >= s->n) return;
    pthread_mutex_lock(&s->mu);
    dep_t *d = &s->deps[dep];
    if (until_ms > d->cd_until) {
        d->cd_until = until_ms;
        d->cd_status = status;
    }
    pthread_mutex_unlock(&s->mu);
}

void cc_shared_count(cc_shared_t *s, size_t dep, unsigned requests, unsigned tokens) {
    if (!s || dep >= s->n) return;
    uint64_t minute = cc_shared_wall_ms() / 60000;
    pthread_mutex_lock(&s->mu);
    dep_t *d = &s->deps[dep];
    if (d->cnt_minute != minute) { /* a minute that is over counts for nothing */
        d->cnt_minute = minute;
        d->cnt_req = d->cnt_tok = 0;
    }
    d->cnt_req = add_sat(d->cnt_req, requests);
    d->cnt_tok = add_sat(d->cnt_tok, tokens);
    pthread_mutex_unlock(&s->mu);
}

void cc_shared_busy(cc_shared_t *s, size_t dep, int delta) {
    if (!s || dep >= s->n) return;
    pthread_mutex_lock(&s->mu);
    dep_t *d = &s->deps[dep];
    long long b = (long long)d->busy + delta;
    d->busy = b < 0 ? 0 : b > 1000000 ? 1000000 : (int)b;
    pthread_mutex_unlock(&s->mu);
}

static unsigned clamp_u(uint64_t v) {
    return v > UINT32_MAX ? UINT32_MAX : (unsigned)v;
}

bool cc_shared_view(cc_shared_t *s, size_t dep, uint64_t now_ms, cc_shared_view_t *out) {
    memset(out, 0, sizeof *out);
    if (!s || dep >= s->n) return false;
    uint64_t minute = now_ms / 60000;
    pthread_mutex_lock(&s->mu);
    const dep_t *d = &s->deps[dep];
    bool shared = s->have_view;
    uint64_t until = d->cd_until, req = 0, tok = 0;
    int status = d->cd_status;
    if (shared && d->r_cd_until > until) {
        until = d->r_cd_until;
        status = d->r_cd_status;
    }
    if (until > now_ms) {
        out->cooling_until_ms = until;
        out->cooling_status = status;
    }
    if (shared && d->r_minute == minute) {
        req += d->r_req;
        tok += d->r_tok;
    }
    if (d->fly_minute == minute) {
        req += d->fly_req;
        tok += d->fly_tok;
    }
    if (d->cnt_minute == minute) {
        req += d->cnt_req;
        tok += d->cnt_tok;
    }
    out->rpm = clamp_u(req);
    out->tpm = clamp_u(tok);
    long long busy = (long long)d->busy + (shared ? d->r_busy : 0);
    out->busy = busy > INT32_MAX ? INT32_MAX : (int)busy;
    pthread_mutex_unlock(&s->mu);
    return shared;
}

void cc_shared_status(cc_shared_t *s, cc_shared_status_t *out) {
    memset(out, 0, sizeof *out);
    if (!s) {
        out->state = "unreachable";
        return;
    }
    snprintf(out->address, sizeof out->address, "%s", s->address);
    pthread_mutex_lock(&s->mu);
    out->state = s->state;
    out->since_ms = s->since_ms;
    snprintf(out->error, sizeof out->error, "%s", s->error);
    pthread_mutex_unlock(&s->mu);
}

const char *cc_shared_instance_id(const cc_shared_t *s) {
    return s ? s->instance : "";
}
