/* worker.h: one event loop with everything it owns: its listener socket (SO_REUSEPORT, one per
 * worker), its client connections, its Lua pipeline and its upstream connection pool. Workers
 * share only the read-only configuration and a few atomic counters (cc_server_t). */
#ifndef CC_WORKER_H
#define CC_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "http/conn.h"
#include "generation.h"

typedef struct cc_pipeline_s cc_pipeline_t;
typedef struct cc_worker_s cc_worker_t;
typedef struct cc_pool_s cc_pool_t;

/** What the last reload did, for /health and `ccproxy status`. */
typedef struct {
    char at[32];           /* ISO time, "" before the first reload */
    unsigned count;        /* reloads attempted so far */
    unsigned failed;       /* of them, those that failed */
    bool ok;
    char *error;           /* every problem, one per line (NULL when ok) */
    char *restart_needed;  /* settings that changed but apply only after a restart, or NULL */
} cc_reload_status_t;

/** State shared by all workers of the process. */
typedef struct {
    char *config_dir;
    uint64_t started_ms;      /* wall clock at start, for uptime */
    atomic_uint_fast64_t next_request_id;
    atomic_uint_fast64_t requests_total;
    atomic_int generation;    /* id of the current configuration generation, 1 at start */
    int listen_port;          /* what the listeners were opened with */
    char *listen_host;
    int n_workers;
    bool metrics;             /* GET /metrics is served (ccproxy.metrics_enabled at start) */
    pthread_mutex_t lock;     /* guards reload */
    cc_reload_status_t reload;
} cc_server_t;

struct cc_worker_s {
    uv_loop_t loop;
    int index;
    cc_server_t *server;
    cc_wgen_t *current;       /* the generation new requests use */
    const cc_config_t *cfg;   /* current->gen->cfg */
    cc_gen_t *pending;        /* a new generation to load (set under server->lock) */
    uv_async_t reload_async;
    uv_tcp_t listener;
    bool listening;
    uv_async_t stop_async;
    uv_timer_t grace_timer;
    cc_pool_t *pool;
    struct cc_oauth_runner_s *oauth; /* runs oat_sources commands (401 refresh, reload) */
    cc_conn_host_t clients;   /* the client connections: their limits, handler, list;
                                 clients.stopping once the worker stops */
};

/** Monotonic nanoseconds. */
uint64_t cc_now_ns(void);
/** The wall clock in milliseconds since the epoch (records, shared state). */
uint64_t cc_wall_ms(void);

/** Sets up worker `index` on its own loop: its pipeline for `gen`, its pool, its listener on
 *  the configured address. Returns 0, or -1 with the reason in `err`. */
int cc_worker_init(cc_worker_t *w, cc_server_t *srv, cc_gen_t *gen, int index, char *err,
                   size_t errlen);
/** The thread body of workers 1..n-1: runs the worker's loop until it ends. */
void *cc_worker_thread(void *arg);
/** Stops the worker, on its own loop: no more connections are accepted, idle ones close,
 *  busy ones end after their response or when the shutdown grace runs out. */
void cc_worker_stop(cc_worker_t *w);
/** Frees what the worker owns once its loop has ended. */
void cc_worker_destroy(cc_worker_t *w);

/** Makes `wg` the worker's current generation (taking over the reference) and releases the
 *  previous one; requests in flight keep theirs. */
void cc_worker_use(cc_worker_t *w, cc_wgen_t *wg);

/** The worker a client connection belongs to. */
static inline cc_worker_t *cc_conn_worker(cc_conn_t *c) {
    return (cc_worker_t *)cc_conn_owner(c);
}

#endif
