/* worker.h: one event loop with everything it owns: its listener socket (SO_REUSEPORT, one per
 * worker), its client connections, its Lua pipeline and its upstream connection pool. Workers
 * share only the read-only configuration and a few atomic counters (cc_server_t). */
#ifndef CC_WORKER_H
#define CC_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"

typedef struct cc_pipeline_s cc_pipeline_t;
typedef struct cc_pool_s cc_pool_t;
typedef struct cc_conn_s cc_conn_t;

/** State shared by all workers of the process. */
typedef struct {
    cc_config_t *cfg;
    uint64_t started_ms;      /* wall clock at start, for uptime */
    atomic_uint_fast64_t next_request_id;
    atomic_uint_fast64_t requests_total;
    atomic_int generation;    /* configuration generation, 1 at start */
} cc_server_t;

struct cc_worker_s {
    uv_loop_t loop;
    int index;
    cc_server_t *server;
    const cc_config_t *cfg;
    uv_tcp_t listener;
    bool listening;
    uv_async_t stop_async;
    uv_timer_t grace_timer;
    bool stopping;
    cc_pipeline_t *pipeline;
    cc_pool_t *pool;
    /* Live client connections, for shutdown. */
    cc_conn_t **conns;
    size_t n_conns;
    size_t cap_conns;
    unsigned active_requests;
};

/** Monotonic milliseconds / nanoseconds. */
uint64_t cc_now_ms(void);
uint64_t cc_now_ns(void);

/** Bookkeeping used by conn.c. */
void cc_worker_track_conn(cc_worker_t *w, cc_conn_t *c);
void cc_worker_untrack_conn(cc_worker_t *w, cc_conn_t *c);

#endif
