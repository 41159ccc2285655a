/* store.h: the request store, a record sink (records.h) that keeps one row per finished
 * request in an SQLite database (<config dir>/usage.db by default), which `ccproxy usage`
 * reads. take() only holds the record on a bounded queue (a full queue drops and counts,
 * it never waits); a writer thread of the store's own inserts the queued rows in batches, one
 * transaction per batch, and deletes the rows older than the retention.
 *
 * Ownership: cc_store_open returns a sink that owns its database connection, its thread and
 * its references to the records on its queue; its stop() (cc_records_stop, or the caller's own call) writes out
 * what is queued, closes the database and frees it. */
#ifndef CC_STORE_H
#define CC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "record/records.h"

/** The schema's version (PRAGMA user_version of the database). */
#define CC_STORE_SCHEMA_VERSION 1
/** The default bound of the queue, in records. */
#define CC_STORE_QUEUE_MAX 10000
/** The default time between two writes of what is queued, and the records that start one
 *  sooner. */
#define CC_STORE_FLUSH_MS 200
#define CC_STORE_BATCH_MAX 500

typedef struct {
    const char *path;          /* the database file (created, mode 0600, when missing) */
    unsigned retention_days;   /* rows older than this are deleted; 0 keeps them all */
    size_t queue_max;          /* 0: CC_STORE_QUEUE_MAX */
    unsigned flush_ms;         /* 0: CC_STORE_FLUSH_MS */
    size_t batch_max;          /* 0: CC_STORE_BATCH_MAX */
    unsigned retention_every_ms; /* time between two deletions of old rows; 0: an hour */
    unsigned busy_timeout_ms;  /* how long a write waits for another writer's lock; 0: 5 s */
} cc_store_opts_t;

/** Opens (creating or migrating) the database and starts the writer thread. Returns the sink,
 *  or NULL with what went wrong and what to do in `err` (the database cannot be created or
 *  opened, is not an SQLite database, is damaged, or has a newer schema). */
cc_record_sink_t *cc_store_open(const cc_store_opts_t *opts, char *err, size_t errlen);

/** What a store has done so far. */
typedef struct {
    uint64_t taken;   /* records take() queued */
    uint64_t dropped; /* records take() dropped because the queue was full */
    uint64_t written; /* rows committed */
    uint64_t failed;  /* rows lost to a write that failed (logged) */
    uint64_t batches; /* transactions committed */
    uint64_t deleted; /* rows the retention deleted */
    size_t queued;    /* records on the queue now */
} cc_store_stats_t;

/** A sink from cc_store_open (and not yet stopped). */
void cc_store_stats(cc_record_sink_t *s, cc_store_stats_t *out);

/** The server's store: opens cfg->usage_db when cfg->usage_store is on and adds it to the
 *  record sinks. A store that cannot be opened is logged (the path, why, what to do) and the
 *  proxy runs without it. Returns 0 when the store runs, 1 when it is off, -1 when it failed.
 *  Remembers the settings it started with, for cc_store_restart_needs. */
int cc_store_start(const cc_config_t *cfg);

/** Appends "ccproxy.usage ...; " to `out` when the settings of `cfg` differ from those the
 *  running store started with (a reload does not reopen the store). */
void cc_store_restart_needs(const cc_config_t *cfg, cc_buf_t *out);

#endif
