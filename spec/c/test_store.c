/* test_store.c: the request store (record/store.h) against a real SQLite file in a temp dir,
 * read back through the sqlite3 API: every field of a record in its column, NULL for usage
 * and cost that are not known, the attempts as JSON, a private file in WAL mode with the
 * schema version; batches by count and by time, committed while the store runs; the
 * retention at open and on its timer; a queue that is full drops and counts without blocking
 * (the database held locked by another connection), and writes what it kept once the lock
 * goes; files that cannot be opened (no directory, not a database, a newer schema) and the
 * ccproxy.usage settings as ccproxy.yaml gives them. */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "config/config.h"
#include "record/store.h"

static char tmpdir[256];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ccproxy-test-store-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(1);
    }
}

static void remove_tmpdir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* A fresh database path in the temp dir. */
static const char *db_path(const char *name) {
    static char p[400];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static uint64_t now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A record's draft as the exchange makes one (the strings are the test's: give() packs it). */
static cc_record_t sample(uint64_t time_ms, const char *id) {
    cc_record_t r;
    memset(&r, 0, sizeof r);
    r.time_ms = time_ms;
    r.id = (char *)id;
    r.endpoint = (char *)"messages";
    r.label = (char *)"default";
    r.requested_model = (char *)"claude-sonnet-5-5";
    r.sent_model = (char *)"claude-sonnet-5-5";
    r.deployment = (char *)"claude-*";
    r.provider = (char *)"anthropic";
    r.status = 200;
    r.ttfb_ms = 12.5;
    r.total_ms = 40.25;
    r.bytes_in = 300;
    r.bytes_out = 1200;
    return r;
}

/* Hands the draft `d` to the sink as cc_records_emit does: packed, then released. */
static void give(cc_record_sink_t *s, const cc_record_t *d) {
    cc_record_t *r = cc_record_pack(d);
    CHECK(r != NULL);
    if (!r) return;
    s->take(s, r);
    cc_record_release(r);
}

static sqlite3 *open_read(const char *path) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "cannot open %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 2000);
    return db;
}

/* The one integer `sql` answers in the database at `path` (-1 on failure). */
static long long query_int(const char *path, const char *sql) {
    sqlite3 *db = open_read(path);
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (db && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else if (db)
        fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static cc_record_sink_t *open_store(const cc_store_opts_t *o) {
    char err[1024] = "";
    cc_record_sink_t *s = cc_store_open(o, err, sizeof err);
    if (!s) fprintf(stderr, "cc_store_open: %s\n", err);
    return s;
}

/* Waits up to 5 s until the store has written `n` rows. */
static bool wait_written(cc_record_sink_t *s, uint64_t n) {
    cc_store_stats_t st;
    for (int i = 0; i < 500; i++) {
        cc_store_stats(s, &st);
        if (st.written >= n) return true;
        sleep_ms(10);
    }
    return false;
}

static void test_writes_every_field(void) {
    const char *path = db_path("fields.db");
    cc_store_opts_t o = {.path = path, .flush_ms = 20};
    cc_record_sink_t *s = open_store(&o);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_STR(s->name, "store");

    /* A full one: every string, usage, a cost, two attempts. */
    cc_record_t a = sample(1767225600123ull, "r1");
    a.session_id = (char *)"5f0c-session";
    a.agent_id = (char *)"agent-7";
    a.parent_agent_id = (char *)"agent-1";
    a.rule = (char *)"token_count";
    a.label = (char *)"long_context";
    a.sent_model = (char *)"gemini-2.5-pro";
    a.provider = (char *)"gemini";
    a.deployment = (char *)"long_context";
    a.stream = true;
    a.usage = (cc_usage_t){.seen = true, .input = 100, .output = 20, .cache_creation = 3, .cache_read = 4000, .web_search = 2, .web_fetch = 1};
    a.cost_known = true;
    a.cost_usd = 0.0123;
    a.client = (char *)"127.0.0.1 oauth sk-ant-oat01-\xe2\x80\xa6" "a1b2";
    cc_record_attempt_t att[2] = {{(char *)"long_context", (char *)"gemini/gemini-2.5-pro", 529,
                                   (char *)"unreachable", 3.5},
                                  {(char *)"long_context", (char *)"gemini/gemini-2.5-pro", 200,
                                   NULL, 30.0}};
    a.attempts = att;
    a.n_attempts = 2;
    give(s, &a);

    /* A failed one: no usage, no cost, no head, an outcome, no session. */
    cc_record_t b = sample(1767225600999ull, "r2");
    b.status = 529;
    b.outcome = (char *)"upstream-failed";
    b.ttfb_ms = -1;
    b.deployment = NULL;
    b.sent_model = NULL;
    give(s, &b);

    /* Usage seen, cost not known (no price for the model). */
    cc_record_t c = sample(1767225601000ull, "r3");
    c.usage = (cc_usage_t){.seen = true, .input = 5, .output = 6};
    give(s, &c);
    s->stop(s);

    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0600);
    CHECK_EQ_INT(query_int(path, "PRAGMA user_version"), CC_STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM requests"), 3);
    CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND "
                                 "name IN ('requests_time', 'requests_session')"),
                 2);

    sqlite3 *db = open_read(path);
    CHECK(db != NULL);
    if (!db) return;
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_EQ_STR((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);

    CHECK(sqlite3_prepare_v2(db,
                             "SELECT time_ms, id, session_id, agent_id, parent_agent_id, "
                             "endpoint, label, rule, requested_model, sent_model, deployment, "
                             "provider, status, outcome, stream, input_tokens, output_tokens, "
                             "cache_creation_tokens, cache_read_tokens, web_search_requests, "
                             "web_fetch_requests, cost_usd, ttfb_ms, total_ms, bytes_in, "
                             "bytes_out, client, attempts FROM requests ORDER BY rowid",
                             -1, &st, NULL) == SQLITE_OK);
#define TXT(i) ((const char *)sqlite3_column_text(st, (i)))
#define ISNULL(i) (sqlite3_column_type(st, (i)) == SQLITE_NULL)
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int64(st, 0), 1767225600123ll);
    CHECK_EQ_STR(TXT(1), "r1");
    CHECK_EQ_STR(TXT(2), "5f0c-session");
    CHECK_EQ_STR(TXT(3), "agent-7");
    CHECK_EQ_STR(TXT(4), "agent-1");
    CHECK_EQ_STR(TXT(5), "messages");
    CHECK_EQ_STR(TXT(6), "long_context");
    CHECK_EQ_STR(TXT(7), "token_count");
    CHECK_EQ_STR(TXT(8), "claude-sonnet-5-5");
    CHECK_EQ_STR(TXT(9), "gemini-2.5-pro");
    CHECK_EQ_STR(TXT(10), "long_context");
    CHECK_EQ_STR(TXT(11), "gemini");
    CHECK_EQ_INT(sqlite3_column_int(st, 12), 200);
    CHECK(ISNULL(13));
    CHECK_EQ_INT(sqlite3_column_int(st, 14), 1);
    CHECK_EQ_INT(sqlite3_column_int64(st, 15), 100);
    CHECK_EQ_INT(sqlite3_column_int64(st, 16), 20);
    CHECK_EQ_INT(sqlite3_column_int64(st, 17), 3);
    CHECK_EQ_INT(sqlite3_column_int64(st, 18), 4000);
    CHECK_EQ_INT(sqlite3_column_int64(st, 19), 2);
    CHECK_EQ_INT(sqlite3_column_int64(st, 20), 1);
    CHECK(sqlite3_column_double(st, 21) == 0.0123);
    CHECK(sqlite3_column_double(st, 22) == 12.5);
    CHECK(sqlite3_column_double(st, 23) == 40.25);
    CHECK_EQ_INT(sqlite3_column_int64(st, 24), 300);
    CHECK_EQ_INT(sqlite3_column_int64(st, 25), 1200);
    CHECK_EQ_STR(TXT(26), "127.0.0.1 oauth sk-ant-oat01-\xe2\x80\xa6" "a1b2");
    cJSON *j = cJSON_Parse(TXT(27));
    CHECK(cJSON_IsArray(j) && cJSON_GetArraySize(j) == 2);
    cJSON *a0 = cJSON_GetArrayItem(j, 0), *a1 = cJSON_GetArrayItem(j, 1);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a0, "deployment")), "long_context");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a0, "model")), "gemini/gemini-2.5-pro");
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(a0, "status")), 529);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a0, "reason")), "unreachable");
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(a0, "ms")) == 3.5);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(a1, "reason")));
    cJSON_Delete(j);

    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_EQ_STR(TXT(1), "r2");
    CHECK(ISNULL(2) && ISNULL(3) && ISNULL(4) && ISNULL(7) && ISNULL(9) && ISNULL(10));
    CHECK_EQ_INT(sqlite3_column_int(st, 12), 529);
    CHECK_EQ_STR(TXT(13), "upstream-failed");
    CHECK_EQ_INT(sqlite3_column_int(st, 14), 0);
    for (int i = 15; i <= 21; i++) CHECK(ISNULL(i)); /* no usage, no cost */
    CHECK(ISNULL(22));                               /* no head */
    CHECK(ISNULL(26));
    CHECK_EQ_STR(TXT(27), "[]");

    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_EQ_STR(TXT(1), "r3");
    CHECK_EQ_INT(sqlite3_column_int64(st, 15), 5);
    CHECK_EQ_INT(sqlite3_column_int64(st, 18), 0); /* seen: 0, not NULL */
    CHECK(ISNULL(21));                             /* the cost is not known */
    CHECK(sqlite3_step(st) == SQLITE_DONE);
#undef TXT
#undef ISNULL
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* Opened again, the store appends to what is there. */
    s = open_store(&o);
    CHECK(s != NULL);
    if (!s) return;
    cc_record_t d = sample(now_ms(), "r4");
    give(s, &d);
    s->stop(s);
    CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM requests"), 4);
}

static void test_batches(void) {
    const char *path = db_path("batches.db");
    /* By count: 25 records with a batch of 10 and a flush timer far away: two batches are
     * written without waiting for it, and the 5 left wait. */
    cc_store_opts_t o = {.path = path, .batch_max = 10, .flush_ms = 60000};
    cc_record_sink_t *s = open_store(&o);
    CHECK(s != NULL);
    if (!s) return;
    uint64_t t = now_ms();
    char ids[25][8];
    for (int i = 0; i < 25; i++) {
        snprintf(ids[i], sizeof ids[i], "r%d", i);
        cc_record_t r = sample(t + (uint64_t)i, ids[i]);
        give(s, &r);
    }
    CHECK(wait_written(s, 20));
    sleep_ms(100);
    cc_store_stats_t st;
    cc_store_stats(s, &st);
    CHECK_EQ_INT(st.taken, 25);
    CHECK_EQ_INT(st.written, 20);
    CHECK_EQ_INT(st.batches, 2);
    CHECK_EQ_INT(st.queued, 5);
    /* Committed while the store runs: another connection sees them. */
    CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM requests"), 20);
    s->stop(s); /* writes the 5 left */
    CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM requests"), 25);
    CHECK_EQ_INT(query_int(path, "SELECT COUNT(DISTINCT id) FROM requests"), 25);

    /* By time: one record is written once it is flush_ms old, not at the stop. */
    const char *path2 = db_path("timer.db");
    cc_store_opts_t o2 = {.path = path2, .flush_ms = 50};
    s = open_store(&o2);
    CHECK(s != NULL);
    if (!s) return;
    cc_record_t r = sample(now_ms(), "lonely");
    uint64_t t0 = now_ms();
    give(s, &r);
    CHECK(wait_written(s, 1));
    uint64_t took = now_ms() - t0;
    CHECK(took >= 40);
    CHECK_EQ_INT(query_int(path2, "SELECT COUNT(*) FROM requests WHERE id = 'lonely'"), 1);
    cc_store_stats(s, &st);
    CHECK_EQ_INT(st.batches, 1);
    s->stop(s);
}

static void test_retention(void) {
    const char *path = db_path("retention.db");
    uint64_t day = 86400000u, t = now_ms();
    /* Kept forever: rows of 100 days ago, 10 days ago and now are all written. */
    cc_store_opts_t keep = {.path = path, .flush_ms = 10};
    cc_record_sink_t *s = open_store(&keep);
    CHECK(s != NULL);
    if (!s) return;
    cc_record_t old = sample(t - 100 * day, "old"), mid = sample(t - 10 * day, "mid"),
                 now = sample(t, "now");
    give(s, &old);
    give(s, &mid);
    give(s, &now);
    s->stop(s);
    CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM requests"), 3);

    /* 30 days: the row of 100 days ago goes at open; one taken later that is already 40 days
     * old goes at the next deletion (every 50 ms here, hourly by default). */
    cc_store_opts_t o = {.path = path, .retention_days = 30, .flush_ms = 10,
                         .retention_every_ms = 50};
    s = open_store(&o);
    CHECK(s != NULL);
    if (!s) return;
    cc_store_stats_t st;
    for (int i = 0; i < 200; i++) {
        cc_store_stats(s, &st);
        if (st.deleted >= 1) break;
        sleep_ms(10);
    }
    CHECK_EQ_INT(st.deleted, 1);
    CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM requests WHERE id = 'old'"), 0);
    cc_record_t late = sample(t - 40 * day, "late");
    give(s, &late);
    for (int i = 0; i < 300; i++) {
        cc_store_stats(s, &st);
        if (st.deleted >= 2) break;
        sleep_ms(10);
    }
    CHECK_EQ_INT(st.written, 1);
    CHECK_EQ_INT(st.deleted, 2);
    s->stop(s);
    CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM requests"), 2);
    CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM requests WHERE id IN ('mid', 'now')"), 2);
}

static void test_full_queue_drops(void) {
    const char *path = db_path("full.db");
    /* Create it, then hold its write lock from another connection. */
    cc_store_opts_t o = {.path = path, .queue_max = 4, .batch_max = 2, .flush_ms = 10,
                         .busy_timeout_ms = 20000};
    cc_record_sink_t *s = open_store(&o);
    CHECK(s != NULL);
    if (!s) return;
    s->stop(s);
    sqlite3 *blocker = NULL;
    CHECK(sqlite3_open(path, &blocker) == SQLITE_OK);
    CHECK(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);

    s = open_store(&o);
    CHECK(s != NULL);
    if (!s) {
        sqlite3_close(blocker);
        return;
    }
    uint64_t t = now_ms();
    char ids[100][8];
    uint64_t t0 = now_ms();
    for (int i = 0; i < 100; i++) {
        snprintf(ids[i], sizeof ids[i], "q%d", i);
        cc_record_t r = sample(t, ids[i]);
        give(s, &r);
        if (i == 10) sleep_ms(50); /* the writer has taken its batch and waits for the lock */
    }
    uint64_t took = now_ms() - t0 - 50;
    CHECK(took < 1000); /* take() never waits for the database */
    cc_store_stats_t st;
    cc_store_stats(s, &st);
    CHECK_EQ_INT(st.taken + st.dropped, 100);
    CHECK(st.taken <= 6); /* the queue's 4 and the writer's batch of 2 */
    CHECK(st.dropped >= 94);
    CHECK_EQ_INT(st.written, 0);

    /* The lock goes: what was kept is written. */
    CHECK(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(blocker);
    CHECK(wait_written(s, st.taken));
    s->stop(s);
    CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM requests"), (long long)st.taken);
}

static void test_open_errors(void) {
    char err[1024];
    /* No such directory. */
    char path[400];
    snprintf(path, sizeof path, "%s/no/such/dir/usage.db", tmpdir);
    cc_store_opts_t o = {.path = path};
    CHECK(cc_store_open(&o, err, sizeof err) == NULL);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, "No such file or directory") != NULL);
    CHECK(strstr(err, "ccproxy.usage.store") != NULL);

    /* Not a database. */
    const char *junk = db_path("junk.db");
    FILE *f = fopen(junk, "w");
    CHECK(f != NULL);
    if (f) {
        for (int i = 0; i < 200; i++) fputs("this is not an SQLite database\n", f);
        fclose(f);
    }
    o.path = junk;
    CHECK(cc_store_open(&o, err, sizeof err) == NULL);
    CHECK(strstr(err, junk) != NULL);
    CHECK(strstr(err, "not a usable SQLite database") != NULL);
    CHECK(strstr(err, "move it away") != NULL);

    /* A newer schema than this ccproxy's. */
    const char *newer = db_path("newer.db");
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(newer, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE requests(x); PRAGMA user_version = 99", NULL, NULL,
                       NULL) == SQLITE_OK);
    sqlite3_close(db);
    o.path = newer;
    CHECK(cc_store_open(&o, err, sizeof err) == NULL);
    CHECK(strstr(err, "version 99, newer") != NULL);
    CHECK_EQ_INT(query_int(newer, "PRAGMA user_version"), 99); /* left alone */

    /* A directory where the file should be. */
    o.path = tmpdir;
    CHECK(cc_store_open(&o, err, sizeof err) == NULL);
    CHECK(strstr(err, tmpdir) != NULL);
}

/* ---- ccproxy.usage in ccproxy.yaml ------------------------------------------------------- */

static const char CONFIG_YAML[] = "model_list:\n"
                                  "  - model_name: \"claude-*\"\n"
                                  "    litellm_params:\n"
                                  "      model: anthropic/*\n";

static cc_config_t *load(const char *ccproxy_yaml, cc_buf_t *errors, cc_buf_t *warnings) {
    return cc_config_load_mem("/cfg", ccproxy_yaml, ccproxy_yaml ? strlen(ccproxy_yaml) : 0,
                              CONFIG_YAML, strlen(CONFIG_YAML), errors, warnings);
}

static void test_config(void) {
    cc_buf_t e = CC_BUF_INIT, w = CC_BUF_INIT;
    cc_config_t *cfg = load("ccproxy:\n  debug: false\n", &e, &w);
    CHECK(cfg != NULL);
    if (cfg) { /* the defaults */
        CHECK(cfg->usage_store);
        CHECK_EQ_STR(cfg->usage_db, "/cfg/usage.db");
        CHECK_EQ_INT(cfg->usage_retention_days, 90);
        cc_config_free(cfg);
    }
    cfg = load(NULL, NULL, NULL); /* no ccproxy.yaml at all */
    CHECK(cfg && cfg->usage_store && strcmp(cfg->usage_db, "/cfg/usage.db") == 0);
    cc_config_free(cfg);

    cfg = load("ccproxy:\n  usage:\n    store: false\n    retention_days: 0\n", NULL, NULL);
    CHECK(cfg && !cfg->usage_store && cfg->usage_retention_days == 0);
    if (cfg) CHECK_EQ_STR(cfg->usage_db, "/cfg/usage.db");
    cc_config_free(cfg);

    cfg = load("ccproxy:\n  usage: {store: stats/requests.db, retention_days: 7}\n", NULL, NULL);
    CHECK(cfg && cfg->usage_store && cfg->usage_retention_days == 7);
    if (cfg) CHECK_EQ_STR(cfg->usage_db, "/cfg/stats/requests.db");
    cc_config_free(cfg);

    cfg = load("ccproxy:\n  usage: {store: /var/lib/ccproxy/u.db}\n", NULL, NULL);
    if (cfg) CHECK_EQ_STR(cfg->usage_db, "/var/lib/ccproxy/u.db");
    cc_config_free(cfg);

    const char *home = getenv("HOME");
    cfg = load("ccproxy:\n  usage: {store: ~/u.db}\n", NULL, NULL);
    CHECK(cfg != NULL);
    if (cfg && home) {
        char want[512];
        snprintf(want, sizeof want, "%s/u.db", home);
        CHECK_EQ_STR(cfg->usage_db, want);
    }
    cc_config_free(cfg);

    /* A quoted "false" is a file name. */
    cfg = load("ccproxy:\n  usage: {store: \"false\"}\n", NULL, NULL);
    CHECK(cfg && cfg->usage_store);
    if (cfg) CHECK_EQ_STR(cfg->usage_db, "/cfg/false");
    cc_config_free(cfg);

    /* Errors, with file:line:col. */
    cc_buf_reset(&e);
    cfg = load("ccproxy:\n  usage:\n    store: 12\n", &e, NULL);
    CHECK(cfg == NULL);
    CHECK(e.data && strstr(e.data, "/cfg/ccproxy.yaml:3:12: ccproxy.usage.store must be true, "
                                   "false or the database file") != NULL);
    cc_buf_reset(&e);
    cfg = load("ccproxy:\n  usage:\n    store: [a]\n", &e, NULL);
    CHECK(cfg == NULL);
    cc_buf_reset(&e);
    cfg = load("ccproxy:\n  usage:\n    retention_days: -1\n", &e, NULL);
    CHECK(cfg == NULL);
    CHECK(e.data && strstr(e.data, "/cfg/ccproxy.yaml:3:21: ccproxy.usage.retention_days must be "
                                   "a whole number from 0 to") != NULL);
    cc_buf_reset(&e);
    cfg = load("ccproxy:\n  usage:\n    retention_days: 1.5\n", &e, NULL);
    CHECK(cfg == NULL);
    cc_buf_reset(&e);
    cfg = load("ccproxy:\n  usage: true\n", &e, NULL);
    CHECK(cfg == NULL);
    CHECK(e.data && strstr(e.data, "/cfg/ccproxy.yaml:2:10: ccproxy.usage must be a map") != NULL);

    /* Unknown keys are warned about and the rest is used. */
    cc_buf_reset(&w);
    cfg = load("ccproxy:\n  usage:\n    retension_days: 3\n    store: false\n", NULL, &w);
    CHECK(cfg != NULL && !cfg->usage_store && cfg->usage_retention_days == 90);
    CHECK(w.data && strstr(w.data, "/cfg/ccproxy.yaml:3:5: unknown key 'retension_days' in "
                                   "ccproxy.usage (known keys: store, retention_days)") != NULL);
    cc_config_free(cfg);
    cc_buf_free(&e);
    cc_buf_free(&w);
}

int main(void) {
    make_tmpdir();
    CC_RUN(test_writes_every_field);
    CC_RUN(test_batches);
    CC_RUN(test_retention);
    CC_RUN(test_full_queue_drops);
    CC_RUN(test_open_errors);
    CC_RUN(test_config);
    remove_tmpdir();
    return CC_DONE();
}
