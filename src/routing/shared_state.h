/* shared_state.h: routing state shared between ccproxy instances through Redis: the cooldowns
 * every instance set, the requests and tokens every instance counted this minute, and the
 * attempts in progress on every instance, per deployment. One thread of its own (its own libuv
 * loop and one hiredis connection) talks to Redis: every 100 ms it sends what this instance
 * changed and reads back what all of them did, in one pipelined round trip. The workers never
 * wait for it: what they call takes a mutex for a few instructions and returns.
 *
 * When Redis cannot be reached, cc_shared_view says so (false) and the caller routes on its
 * own state; the thread keeps reconnecting (250 ms doubling to 2 s) and logs the outage and the
 * recovery once each. The Redis schema is described at the top of shared_state.c and in
 * docs/routing.md.
 *
 * Ownership: cc_shared_start copies everything it is given; cc_shared_stop ends the thread and
 * frees everything. Every other function may be called from any thread between the two.
 * Times given to and returned by these functions are wall-clock milliseconds (CLOCK_REALTIME,
 * cc_shared_wall_ms), since instances on several machines share them. */
#ifndef CC_SHARED_STATE_H
#define CC_SHARED_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h" /* cc_redis_settings_t */

typedef struct cc_shared_s cc_shared_t;

/** Starts sharing the state of n deployments whose stable ids are ids[0..n) (the same
 *  configuration on every instance gives the same ids; an id is 1 to 200 printable characters
 *  without spaces, and ids are distinct). Never blocks on Redis: connecting happens on the
 *  thread, which resolves the host name there (hiredis 0.14 resolves synchronously).
 *  Returns NULL with `err` filled only when it cannot start at all (no host, bad ids, out of
 *  threads or memory); a Redis that is down is not an error: the thread keeps trying. */
cc_shared_t *cc_shared_start(const cc_redis_settings_t *rs, size_t n, const char *const *ids,
                             char *err, size_t errlen);

/** Stops the thread and frees everything. A connected instance first removes its attempts in
 *  progress from Redis and flushes its counts, waiting at most CC_SHARED_FAREWELL_MS for the
 *  answer; so this blocks for up to that long plus the join: call it where a short wait is
 *  fine, not on a worker's loop in the middle of requests. NULL is ignored. */
void cc_shared_stop(cc_shared_t *s);

#define CC_SHARED_FAREWELL_MS 250

/** cc_shared_stop on a thread of its own, so the caller (a worker's loop, freeing a generation
 *  after a reload) does not wait for it; inline when no thread can be made. */
void cc_shared_stop_later(cc_shared_t *s);
/** Waits, up to timeout_ms, for the stops cc_shared_stop_later began (at process exit). */
void cc_shared_drain(unsigned timeout_ms);

/** This instance set a cooldown on deployment `dep` until `until_ms` because of `status` (an
 *  HTTP status, 0 for no answer). Only a cooldown longer than the one Redis holds replaces it. */
void cc_shared_cooldown(cc_shared_t *s, size_t dep, uint64_t until_ms, int status);
/** Adds `requests` and `tokens` to what deployment `dep` got this calendar minute. */
void cc_shared_count(cc_shared_t *s, size_t dep, unsigned requests, unsigned tokens);
/** An attempt at deployment `dep` starts (+1) or ends (-1). */
void cc_shared_busy(cc_shared_t *s, size_t dep, int delta);

typedef struct {
    uint64_t cooling_until_ms; /* the longest cooldown any instance set (0: none now) */
    int cooling_status;        /* what caused it */
    unsigned rpm, tpm;         /* requests and tokens counted this calendar minute by every
                                  instance, this one included (also what it has not sent yet) */
    int busy;                  /* attempts in progress on every instance (this one's live count
                                  included) */
} cc_shared_view_t;

/** The shared state of deployment `dep` at `now_ms`. Returns false when Redis is not reachable
 *  now (or has not answered since the connection was made): then *out holds only this
 *  instance's own numbers and the caller routes on its own state. */
bool cc_shared_view(cc_shared_t *s, size_t dep, uint64_t now_ms, cc_shared_view_t *out);

typedef struct {
    const char *state;  /* "connecting" (before the first answer), "connected", "unreachable" */
    char address[300];  /* host:port ([v6]:port); never a user name or a password */
    uint64_t since_ms;  /* wall clock when it entered this state */
    char error[256];    /* why it is unreachable ("" when connected) */
} cc_shared_status_t;

void cc_shared_status(cc_shared_t *s, cc_shared_status_t *out);

/** This instance's id in Redis: 16 hex digits, random per cc_shared_start. */
const char *cc_shared_instance_id(const cc_shared_t *s);

/** The wall clock in milliseconds (CLOCK_REALTIME), the time base of everything above. */
uint64_t cc_shared_wall_ms(void);

/* ---- for tests ------------------------------------------------------------------------------ */

/** The timings, in milliseconds; 0 leaves the default (in brackets). */
typedef struct {
    unsigned tick_ms;            /* one round trip to Redis every (100) */
    unsigned busy_refresh_ms;    /* an unchanged busy count is written again every (2000) */
    unsigned busy_ttl_ms;        /* a busy count not refreshed for this long is dropped (6000) */
    unsigned connect_timeout_ms; /* connect, AUTH, SELECT and PING must be done within (2000) */
    unsigned reply_timeout_ms;   /* a tick's answer must come within (2000) */
} cc_shared_timing_t;

cc_shared_t *cc__shared_start_timed(const cc_redis_settings_t *rs, size_t n,
                                    const char *const *ids, const cc_shared_timing_t *timing,
                                    char *err, size_t errlen);

#endif
