/* store.c: the request store (see store.h): one SQLite row per request record.
 *
 * Threads. take() runs on the workers: it holds the (shared, packed) record and puts it on a
 * bounded ring under a mutex held for a few instructions; when the ring is full it counts the drop
 * (and logs, at most once a minute) instead of waiting. One writer thread owns the database
 * connection: it waits until the first queued record is CC_STORE_FLUSH_MS old or
 * CC_STORE_BATCH_MAX are queued, takes up to a batch off the ring and inserts it in one
 * transaction (BEGIN IMMEDIATE ... COMMIT), never holding the mutex while it talks to SQLite.
 * An idle store does not wake up, except for the retention (at start, then hourly).
 *
 * Durability. The database is in WAL mode with synchronous=NORMAL: a commit appends to the
 * write-ahead log without an fsync, and the log is synced at each checkpoint. A committed
 * batch therefore survives the process being killed (SIGKILL, a crash: the log is in the
 * kernel's page cache and is replayed at the next open); only a power loss or an operating
 * system crash can lose the batches committed since the last checkpoint, and never corrupts
 * the file. FULL would fsync every 200 ms batch for little gain: the records still on the
 * queue (up to 200 ms of them) are lost in a crash anyway. WAL also lets `ccproxy usage`
 * read while the proxy writes, without either waiting.
 *
 * A database locked by another writer (someone's sqlite3 shell in a transaction) makes a
 * batch wait up to busy_timeout; the batch is then kept and tried again (its records are not
 * lost, but the ring fills meanwhile and take() drops). Any other failure (disk full, a
 * damaged file) loses that batch's rows, counted and logged at most once a minute.
 *
 * Schema version 1 (PRAGMA user_version): the table `requests`, one row per record, with
 * indexes on time_ms and (session_id, time_ms). An older database is migrated forward at
 * open, one version at a time; a newer one (written by a later ccproxy) is refused. */
#include "record/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

#define LOG_EVERY_MS 60000u
#define RETENTION_CHUNK "5000" /* rows one DELETE removes at most */

typedef struct {
    cc_record_sink_t sink; /* first: the sink pointer is the store's */
    char *path;
    cc_store_opts_t opts;

    pthread_mutex_t mu;
    pthread_cond_t cond;    /* the writer waits on it; take() and stop() signal */
    cc_record_t **ring;
    size_t cap, head, count;
    uint64_t first_ms;      /* when the oldest queued record came (monotonic ms) */
    bool stopping;
    cc_store_stats_t st;    /* under mu (st.queued is filled in by cc_store_stats) */
    uint64_t drop_logged_ms; /* last drop message (monotonic ms), 0: none yet */

    /* The writer thread's own. */
    pthread_t thread;
    sqlite3 *db;
    sqlite3_stmt *insert;
    uint64_t next_retention_ms; /* monotonic */
    uint64_t error_logged_ms;
} store_t;

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/* ---- the schema ------------------------------------------------------------------------- */

/* Version 1. Token columns are NULL when the answer reported no usage, cost_usd when the cost
 * is not known, ttfb_ms when no response head came. */
static const char SCHEMA_V1[] =
    "CREATE TABLE IF NOT EXISTS requests ("
    " time_ms INTEGER NOT NULL,"          /* wall clock ms when the request arrived */
    " id TEXT,"                           /* the request id of the log line */
    " session_id TEXT, agent_id TEXT, parent_agent_id TEXT,"
    " endpoint TEXT, label TEXT, rule TEXT,"
    " requested_model TEXT, sent_model TEXT, deployment TEXT, provider TEXT,"
    " status INTEGER NOT NULL, outcome TEXT, stream INTEGER NOT NULL,"
    " input_tokens INTEGER, output_tokens INTEGER,"
    " cache_creation_tokens INTEGER, cache_read_tokens INTEGER,"
    " web_search_requests INTEGER, web_fetch_requests INTEGER,"
    " cost_usd REAL,"
    " ttfb_ms REAL, total_ms REAL NOT NULL,"
    " bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,"
    " client TEXT,"
    " attempts TEXT NOT NULL"             /* JSON: [{deployment, model, status, reason, ms}] */
    ");"
    "CREATE INDEX IF NOT EXISTS requests_time ON requests(time_ms);"
    "CREATE INDEX IF NOT EXISTS requests_session ON requests(session_id, time_ms);";

/* migrations[v] takes a database of version v to v + 1. */
static const char *const migrations[CC_STORE_SCHEMA_VERSION] = {SCHEMA_V1};

static const char INSERT_SQL[] =
    "INSERT INTO requests (time_ms, id, session_id, agent_id, parent_agent_id, endpoint, label,"
    " rule, requested_model, sent_model, deployment, provider, status, outcome, stream,"
    " input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens,"
    " web_search_requests, web_fetch_requests, cost_usd, ttfb_ms, total_ms, bytes_in,"
    " bytes_out, client, attempts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
    " ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)";

/* What to do about an SQLite failure, for the messages. */
static const char *advice(int rc) {
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return "the file is not a usable SQLite database: move it away (the proxy then starts "
               "a new one) or set ccproxy.usage.store to another file";
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
        return "check that the file and its directory exist and that ccproxy's user may write "
               "them, or set ccproxy.usage.store to another file (or false)";
    case SQLITE_FULL:
        return "free some disk space, or lower ccproxy.usage.retention_days";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return "another process holds the database locked; end its transaction";
    default:
        return "check the file, or set ccproxy.usage.store to another file (or false)";
    }
}

/* "<sqlite message> (<errno text>)" of the connection's last failure. */
static void db_error(sqlite3 *db, int rc, char *out, size_t n) {
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int sys = db ? sqlite3_system_errno(db) : 0;
    if (sys)
        snprintf(out, n, "%s (%s)", msg, strerror(sys));
    else
        snprintf(out, n, "%s", msg);
}

static int exec(sqlite3 *db, const char *sql) {
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* The single integer a pragma answers, or -1. */
static long long pragma_int(sqlite3 *db, const char *sql, int *rc_out) {
    sqlite3_stmt *st = NULL;
    long long v = -1;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            v = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    *rc_out = rc;
    return v;
}

/* Creates or migrates the schema to CC_STORE_SCHEMA_VERSION. 0, or -1 with `err` set. */
static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen) {
    char why[512];
    int rc;
    long long v = pragma_int(db, "PRAGMA user_version", &rc);
    if (rc != SQLITE_OK) goto fail;
    if (v > CC_STORE_SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "usage store %s: its schema is version %lld, newer than this ccproxy's (%d); "
                 "run the newer ccproxy, or set ccproxy.usage.store to another file",
                 path, v, CC_STORE_SCHEMA_VERSION);
        return -1;
    }
    for (; v < CC_STORE_SCHEMA_VERSION; v++) {
        char sql[64];
        if ((rc = exec(db, "BEGIN IMMEDIATE")) != SQLITE_OK) goto fail;
        snprintf(sql, sizeof sql, "PRAGMA user_version = %lld", v + 1);
        if ((rc = exec(db, migrations[v])) != SQLITE_OK || (rc = exec(db, sql)) != SQLITE_OK) {
            db_error(db, rc, why, sizeof why); /* before the rollback replaces the message */
            exec(db, "ROLLBACK");
            snprintf(err, errlen, "usage store %s: cannot create its tables: %s; %s", path, why,
                     advice(rc));
            return -1;
        }
        if ((rc = exec(db, "COMMIT")) != SQLITE_OK) goto fail;
    }
    return 0;
fail:
    db_error(db, rc, why, sizeof why);
    snprintf(err, errlen, "usage store %s: %s; %s", path, why, advice(rc));
    return -1;
}

/* Opens the database for writing: created with mode 0600 when missing, WAL, the schema. */
static sqlite3 *open_db(const char *path, unsigned busy_ms, char *err, size_t errlen) {
    char why[512];
    /* SQLite would create the file with the umask's mode; a store holds session ids and who
     * asked, so create it private first (its -wal and -shm files take its mode). */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen,
                 "usage store %s: cannot create or open it: %s; check that its directory "
                 "exists and that ccproxy's user may write there, or set ccproxy.usage.store to "
                 "another file (or false)",
                 path, strerror(errno));
        return NULL;
    }
    close(fd);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) goto fail;
    sqlite3_busy_timeout(db, (int)busy_ms);
    sqlite3_extended_result_codes(db, 1);
    /* journal_mode answers the mode it is in: a file system without shared memory (some
     * network ones) keeps the rollback journal, which works, only without concurrent reads. */
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        if (!mode || strcmp(mode, "wal") != 0)
            cc_warn("usage store %s: the journal is in %s mode, not WAL (the file system may "
                    "not support it): `ccproxy usage` waits while the proxy writes",
                    path, mode ? mode : "an unknown");
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) goto fail;
    if ((rc = exec(db, "PRAGMA synchronous=NORMAL")) != SQLITE_OK) goto fail;
    if (migrate(db, path, err, errlen) != 0) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
fail:
    db_error(db, rc, why, sizeof why);
    snprintf(err, errlen, "usage store %s: %s; %s", path, why, advice(rc));
    sqlite3_close(db);
    return NULL;
}

/* ---- writing rows ------------------------------------------------------------------------ */

static void bind_text(sqlite3_stmt *st, int i, const char *s) {
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void attempts_json(const cc_record_t *r, cc_buf_t *b) {
    cc_buf_puts(b, "[");
    for (size_t i = 0; i < r->n_attempts; i++) {
        const cc_record_attempt_t *a = &r->attempts[i];
        cc_buf_puts(b, i ? ",{\"deployment\":" : "{\"deployment\":");
        cc_buf_json_string(b, a->deployment);
        cc_buf_puts(b, ",\"model\":");
        cc_buf_json_string(b, a->model);
        cc_buf_puts(b, ",\"status\":");
        cc_buf_put_i64(b, a->status);
        cc_buf_puts(b, ",\"reason\":");
        cc_buf_json_string(b, a->reason);
        cc_buf_puts(b, ",\"ms\":");
        cc_buf_put_fixed(b, a->ms, 1);
        cc_buf_puts(b, "}");
    }
    cc_buf_puts(b, "]");
}

/* Binds and runs the insert of one record. */
static int insert_one(store_t *s, const cc_record_t *r) {
    sqlite3_stmt *st = s->insert;
    cc_buf_t att = CC_BUF_INIT;
    attempts_json(r, &att);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->time_ms);
    bind_text(st, 2, r->id);
    bind_text(st, 3, r->session_id);
    bind_text(st, 4, r->agent_id);
    bind_text(st, 5, r->parent_agent_id);
    bind_text(st, 6, r->endpoint);
    bind_text(st, 7, r->label);
    bind_text(st, 8, r->rule);
    bind_text(st, 9, r->requested_model);
    bind_text(st, 10, r->sent_model);
    bind_text(st, 11, r->deployment);
    bind_text(st, 12, r->provider);
    sqlite3_bind_int(st, 13, r->status);
    bind_text(st, 14, r->outcome);
    sqlite3_bind_int(st, 15, r->stream ? 1 : 0);
    const unsigned long long tokens[] = {r->usage.input,      r->usage.output,
                                         r->usage.cache_creation, r->usage.cache_read,
                                         r->usage.web_search, r->usage.web_fetch};
    for (int i = 0; i < 6; i++) {
        if (r->usage.seen)
            sqlite3_bind_int64(st, 16 + i, (sqlite3_int64)tokens[i]);
        else
            sqlite3_bind_null(st, 16 + i);
    }
    if (r->cost_known)
        sqlite3_bind_double(st, 22, r->cost_usd);
    else
        sqlite3_bind_null(st, 22);
    if (r->ttfb_ms >= 0)
        sqlite3_bind_double(st, 23, r->ttfb_ms);
    else
        sqlite3_bind_null(st, 23);
    sqlite3_bind_double(st, 24, r->total_ms);
    sqlite3_bind_int64(st, 25, (sqlite3_int64)r->bytes_in);
    sqlite3_bind_int64(st, 26, (sqlite3_int64)r->bytes_out);
    bind_text(st, 27, r->client);
    if (att.data)
        sqlite3_bind_text(st, 28, att.data, (int)att.len, SQLITE_STATIC);
    else
        sqlite3_bind_text(st, 28, "[]", 2, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st); /* every parameter is bound again for the next row */
    cc_buf_free(&att);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Logs a write failure, at most once a minute. */
static void log_failure(store_t *s, const char *what, int rc) {
    uint64_t now = mono_ms();
    if (s->error_logged_ms && now - s->error_logged_ms < LOG_EVERY_MS) return;
    s->error_logged_ms = now;
    char why[512];
    db_error(s->db, rc, why, sizeof why);
    cc_error("usage store %s: %s: %s; %s", s->path, what, why, advice(rc));
}

/* Inserts `n` records in one transaction. 0: committed; 1: the database is locked by another
 * writer (nothing written, try again); -1: failed (logged, the rows are lost). */
static int write_batch(store_t *s, cc_record_t **recs, size_t n) {
    int rc = exec(s->db, "BEGIN IMMEDIATE");
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) return 1;
    if (rc != SQLITE_OK) {
        log_failure(s, "cannot start a transaction", rc);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = insert_one(s, recs[i])) != SQLITE_OK) {
            log_failure(s, "cannot insert a row", rc);
            exec(s->db, "ROLLBACK");
            return -1;
        }
    }
    rc = exec(s->db, "COMMIT");
    if (rc == SQLITE_OK) return 0;
    bool busy = (rc & 0xff) == SQLITE_BUSY;
    if (!busy) log_failure(s, "cannot commit", rc);
    exec(s->db, "ROLLBACK");
    return busy ? 1 : -1;
}

/* Deletes the rows older than the retention, a chunk per statement so that no transaction
 * holds the lock for long. */
static void apply_retention(store_t *s) {
    if (!s->opts.retention_days) return;
    uint64_t keep_ms = (uint64_t)s->opts.retention_days * 86400000u;
    uint64_t now = wall_ms();
    sqlite3_int64 cutoff = (sqlite3_int64)(now > keep_ms ? now - keep_ms : 0);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "DELETE FROM requests WHERE rowid IN (SELECT rowid FROM "
                                "requests WHERE time_ms < ?1 LIMIT " RETENTION_CHUNK ")",
                                -1, &st, NULL);
    uint64_t deleted = 0;
    while (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, cutoff);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) break;
        int n = sqlite3_changes(s->db);
        deleted += (uint64_t)n;
        rc = n > 0 ? SQLITE_OK : SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) log_failure(s, "cannot delete the rows past the retention", rc);
    if (deleted)
        cc_info("usage store %s: deleted %llu requests older than %u days", s->path,
                (unsigned long long)deleted, s->opts.retention_days);
    pthread_mutex_lock(&s->mu);
    s->st.deleted += deleted;
    pthread_mutex_unlock(&s->mu);
}

/* ---- the writer thread ------------------------------------------------------------------- */

static void wait_until(store_t *s, uint64_t deadline_mono) {
    struct timespec ts = {(time_t)(deadline_mono / 1000u), (long)(deadline_mono % 1000u) * 1000000L};
    pthread_cond_timedwait(&s->cond, &s->mu, &ts);
}

static void *writer_main(void *arg) {
    store_t *s = arg;
    cc_record_t **held = calloc(s->opts.batch_max, sizeof *held);
    size_t n_held = 0;
    bool give_up = false; /* at exit, the database stayed locked: count the rest as failed */
    apply_retention(s);
    s->next_retention_ms = mono_ms() + s->opts.retention_every_ms;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        uint64_t now = mono_ms();
        bool stopping = s->stopping;
        if (now >= s->next_retention_ms && !stopping) {
            pthread_mutex_unlock(&s->mu);
            apply_retention(s);
            s->next_retention_ms = mono_ms() + s->opts.retention_every_ms;
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (n_held == 0 && s->count == 0) {
            if (stopping) break;
            wait_until(s, s->next_retention_ms);
            continue;
        }
        uint64_t due = s->first_ms + s->opts.flush_ms;
        if (!stopping && n_held == 0 && s->count < s->opts.batch_max && now < due) {
            wait_until(s, due < s->next_retention_ms ? due : s->next_retention_ms);
            continue;
        }
        if (!held) { /* out of memory at start: drop what comes rather than keep it */
            while (s->count) {
                cc_record_release(s->ring[s->head]);
                s->head = (s->head + 1) % s->cap;
                s->count--;
                s->st.failed++;
            }
            continue;
        }
        while (n_held < s->opts.batch_max && s->count) {
            held[n_held++] = s->ring[s->head];
            s->head = (s->head + 1) % s->cap;
            s->count--;
        }
        /* What is left (fewer than a batch) waits at most flush_ms from now. */
        s->first_ms = now;
        pthread_mutex_unlock(&s->mu);
        int rc = give_up ? -1 : write_batch(s, held, n_held);
        if (rc == 1) {
            log_failure(s, "the database is locked by another process; the batch is kept and "
                           "tried again", SQLITE_BUSY);
            if (stopping) { /* at exit: neither this batch nor the rest is waited for */
                rc = -1;
                give_up = true;
            }
        }
        pthread_mutex_lock(&s->mu);
        if (rc == 1) wait_until(s, mono_ms() + s->opts.flush_ms); /* not a busy loop */
        if (rc == 0) {
            s->st.written += n_held;
            s->st.batches++;
        } else if (rc < 0) {
            s->st.failed += n_held;
        }
        if (rc != 1) {
            for (size_t i = 0; i < n_held; i++) cc_record_release(held[i]);
            n_held = 0;
        }
    }
    pthread_mutex_unlock(&s->mu);
    free(held);
    return NULL;
}

/* ---- the sink ----------------------------------------------------------------------------- */

static void store_take(cc_record_sink_t *sink, cc_record_t *r) {
    store_t *s = (store_t *)sink;
    uint64_t now = mono_ms();
    bool log_drop = false;
    unsigned long long dropped = 0;
    pthread_mutex_lock(&s->mu);
    if (s->count >= s->cap || s->stopping) {
        s->st.dropped++;
        if (!s->drop_logged_ms || now - s->drop_logged_ms >= LOG_EVERY_MS) {
            s->drop_logged_ms = now;
            log_drop = true;
            dropped = (unsigned long long)s->st.dropped;
        }
    } else {
        s->ring[(s->head + s->count) % s->cap] = cc_record_hold(r);
        if (s->count++ == 0) {
            s->first_ms = now;
            pthread_cond_signal(&s->cond);
        } else if (s->count == s->opts.batch_max) {
            pthread_cond_signal(&s->cond);
        }
        s->st.taken++;
    }
    pthread_mutex_unlock(&s->mu);
    if (log_drop)
        cc_warn("usage store %s: its queue is full (%zu requests wait for a database that is "
                "slow or locked): %llu requests not recorded so far",
                s->path, s->cap, dropped);
}

static void store_free(store_t *s) {
    for (size_t i = 0; i < s->count; i++) cc_record_release(s->ring[(s->head + i) % s->cap]);
    free(s->ring);
    sqlite3_finalize(s->insert);
    if (s->db) sqlite3_close(s->db);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

static void store_stop(cc_record_sink_t *sink) {
    store_t *s = (store_t *)sink;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    if (s->st.dropped || s->st.failed)
        cc_warn("usage store %s: %llu requests recorded, %llu not (%llu dropped from a full "
                "queue, %llu lost to write errors)",
                s->path, (unsigned long long)s->st.written,
                (unsigned long long)(s->st.dropped + s->st.failed),
                (unsigned long long)s->st.dropped, (unsigned long long)s->st.failed);
    sqlite3_finalize(s->insert);
    s->insert = NULL;
    exec(s->db, "PRAGMA optimize");
    store_free(s);
}

cc_record_sink_t *cc_store_open(const cc_store_opts_t *opts, char *err, size_t errlen) {
    if (!opts || !opts->path || !*opts->path) {
        snprintf(err, errlen, "usage store: no database file given");
        return NULL;
    }
    store_t *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    s->opts = *opts;
    if (!s->opts.queue_max) s->opts.queue_max = CC_STORE_QUEUE_MAX;
    if (!s->opts.flush_ms) s->opts.flush_ms = CC_STORE_FLUSH_MS;
    if (!s->opts.batch_max) s->opts.batch_max = CC_STORE_BATCH_MAX;
    if (!s->opts.retention_every_ms) s->opts.retention_every_ms = 3600u * 1000u;
    if (!s->opts.busy_timeout_ms) s->opts.busy_timeout_ms = 5000;
    s->path = strdup(opts->path);
    s->cap = s->opts.queue_max;
    s->ring = calloc(s->cap, sizeof *s->ring);
    if (!s->path || !s->ring) {
        free(s->path);
        free(s->ring);
        free(s);
        goto oom;
    }
    s->opts.path = s->path;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    s->sink.name = "store";
    s->sink.take = store_take;
    s->sink.stop = store_stop;

    s->db = open_db(s->path, s->opts.busy_timeout_ms, err, errlen);
    if (!s->db) {
        store_free(s);
        return NULL;
    }
    int rc = sqlite3_prepare_v3(s->db, INSERT_SQL, -1, SQLITE_PREPARE_PERSISTENT, &s->insert,
                                NULL);
    if (rc != SQLITE_OK) {
        char why[512];
        db_error(s->db, rc, why, sizeof why);
        snprintf(err, errlen, "usage store %s: %s; %s", s->path, why, advice(rc));
        store_free(s);
        return NULL;
    }
    /* The writer takes no signals: they belong to the loop of worker 0. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&s->thread, NULL, writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "usage store %s: cannot start its thread: %s", s->path,
                 strerror(rc));
        store_free(s);
        return NULL;
    }
    return &s->sink;
oom:
    snprintf(err, errlen, "usage store: out of memory");
    return NULL;
}

void cc_store_stats(cc_record_sink_t *sink, cc_store_stats_t *out) {
    store_t *s = (store_t *)sink;
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    out->queued = s->count;
    pthread_mutex_unlock(&s->mu);
}

/* ---- the server's store --------------------------------------------------------------------- */

/* The settings the server's store started with (written once, at start). */
static struct {
    bool started;
    bool on;
    char *path;
    unsigned retention_days;
} active;

int cc_store_start(const cc_config_t *cfg) {
    free(active.path);
    active.started = true;
    active.on = cfg->usage_store;
    active.path = cfg->usage_db ? strdup(cfg->usage_db) : NULL;
    active.retention_days = cfg->usage_retention_days;
    if (!cfg->usage_store || !cfg->usage_db) return 1;
    char err[1024];
    cc_store_opts_t o = {.path = cfg->usage_db, .retention_days = cfg->usage_retention_days};
    cc_record_sink_t *s = cc_store_open(&o, err, sizeof err);
    if (!s) {
        cc_error("%s; ccproxy runs without the store (no request is recorded for `ccproxy "
                 "usage`)",
                 err);
        return -1;
    }
    if (cc_records_add(s) != 0) {
        cc_error("usage store %s: too many record sinks; ccproxy runs without the store",
                 cfg->usage_db);
        s->stop(s);
        return -1;
    }
    if (cfg->usage_retention_days)
        cc_info("usage store %s: recording every request, kept %u days", cfg->usage_db,
                cfg->usage_retention_days);
    else
        cc_info("usage store %s: recording every request, kept forever", cfg->usage_db);
    return 0;
}

void cc_store_restart_needs(const cc_config_t *cfg, cc_buf_t *out) {
    if (!active.started) return;
    bool on = cfg->usage_store;
    const char *path = cfg->usage_db ? cfg->usage_db : "";
    if (on != active.on)
        cc_buf_printf(out, "ccproxy.usage.store %s -> %s; ", active.on ? "on" : "off",
                      on ? "on" : "off");
    else if (on && strcmp(path, active.path ? active.path : "") != 0)
        cc_buf_printf(out, "ccproxy.usage.store %s -> %s; ", active.path ? active.path : "",
                      path);
    if (on && active.on && cfg->usage_retention_days != active.retention_days)
        cc_buf_printf(out, "ccproxy.usage.retention_days %u -> %u; ", active.retention_days,
                      cfg->usage_retention_days);
}
