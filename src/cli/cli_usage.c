/* cli_usage.c: `ccproxy usage [--since DATE|DURATION] [--by KEY] [--session ID] [--json]`:
 * what the proxy's requests used and cost, read from the request store (record/store.c,
 * <config dir>/usage.db unless ccproxy.usage.store names another file). The database is
 * opened read-only, so this works while the proxy writes (WAL) and when it does not run.
 * One row per group (a day, a model, ...) with the requests, the errors, the tokens and the
 * cost, and a total; costs some requests lack are flagged, never guessed. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "paths.h"
#include "record/store.h"

static const char usage[] =
    "usage: ccproxy [--config-dir DIR] usage [--since DATE|DURATION] [--by KEY] [--session ID]\n"
    "                                        [--json]\n"
    "\n"
    "What the proxy's requests used and cost, from the request store (<config dir>/usage.db\n"
    "unless ccproxy.usage.store names another file).\n"
    "\n"
    "options:\n"
    "  --since WHEN  from a day (YYYY-MM-DD, from local midnight), a duration back from now\n"
    "                (30m, 12h, 7d) or all; default: today\n"
    "  --by KEY      one row per day (the default), model, deployment, label, session or agent\n"
    "  --session ID  only the requests of one Claude Code session\n"
    "  --json        print a JSON array of the rows instead of the table\n"
    "  -h, --help    show this help\n";
static const cc__cli_cmd_t cmd = {"usage", usage};

/* The groupings: the option's word, the SQL expression, the column's title, and what a
 * NULL group is called in the table. */
typedef struct {
    const char *name;
    const char *expr;
    const char *title;
    const char *none;
    bool by_time; /* rows in time order, else busiest first */
} grouping_t;

static const grouping_t groupings[] = {
    {"day", "date(time_ms / 1000, 'unixepoch', 'localtime')", "day", "(none)", true},
    {"model", "COALESCE(sent_model, requested_model)", "model", "(no model)", false},
    {"deployment", "deployment", "deployment", "(not routed)", false},
    {"label", "label", "label", "(none)", false},
    {"session", "session_id", "session", "(no session)", false},
    {"agent", "agent_id", "agent", "(no agent id)", false},
};

/* A request whose cost is not known: its answer reported tokens of a kind that has no price,
 * or it answered /v1/messages with a 2xx (possibly cut short) whose usage was not read
 * (compressed, say). A request without usage otherwise (an error answer, count_tokens) cost
 * nothing. */
#define COST_UNKNOWN                                                                           \
    "cost_usd IS NULL AND (input_tokens IS NOT NULL OR (endpoint = 'messages' AND status < 400))"

/* One row of the report. */
typedef struct {
    char *group; /* NULL: the group of requests without the key */
    long long requests, errors;
    long long in, out, cache_write, cache_read;
    double cost;              /* the sum of the known costs */
    long long cost_unknown;   /* requests whose cost is not known */
} row_t;

/* ---- arguments ---------------------------------------------------------------------------- */

static time_t local_midnight(time_t t) {
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

/* --since: YYYY-MM-DD (local midnight), N followed by m, h or d (back from now), or "all".
 * 0 with *since_ms set, or -1. */
static int parse_since(const char *s, time_t now, long long *since_ms) {
    if (strcmp(s, "all") == 0) {
        *since_ms = 0;
        return 0;
    }
    int y, m, d, used = 0;
    if (strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &used) == 3 && used == 10 &&
        s[4] == '-' && s[7] == '-') {
        struct tm tm = {0};
        tm.tm_year = y - 1900;
        tm.tm_mon = m - 1;
        tm.tm_mday = d;
        tm.tm_isdst = -1;
        time_t t = mktime(&tm);
        /* mktime takes 2026-02-30 for March 2: refuse days that do not exist */
        if (t == (time_t)-1 || tm.tm_year != y - 1900 || tm.tm_mon != m - 1 || tm.tm_mday != d)
            return -1;
        *since_ms = (long long)t * 1000;
        return 0;
    }
    size_t n = strlen(s);
    if (n < 2 || !isdigit((unsigned char)s[0])) return -1;
    char unit = s[n - 1];
    long long mult = unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
    if (!mult) return -1;
    long long v = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
        if (v > 1000000000LL) return -1;
    }
    long long back = v * mult;
    *since_ms = ((long long)now - back) * 1000;
    if (*since_ms < 0) *since_ms = 0;
    return 0;
}

/* ---- reading --------------------------------------------------------------------------------- */

static void rows_free(row_t *rows, size_t n) {
    for (size_t i = 0; i < n; i++) free(rows[i].group);
    free(rows);
}

/* Whether the database has the requests table yet (a store just created may not). */
static int has_table(sqlite3 *db, bool *yes) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'requests'", -1, &st,
        NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        *yes = rc == SQLITE_ROW;
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    return rc;
}

static int schema_version(sqlite3 *db, long long *v) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *v = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The report's rows. SQLITE_OK with *rows_out (malloc'd) and *n_out, or an SQLite code. */
static int query(sqlite3 *db, const grouping_t *g, long long since_ms, const char *session,
                 row_t **rows_out, size_t *n_out) {
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT %s AS g, COUNT(*), SUM(status >= 400 OR outcome IS NOT NULL),"
             " TOTAL(input_tokens), TOTAL(output_tokens), TOTAL(cache_creation_tokens),"
             " TOTAL(cache_read_tokens), TOTAL(cost_usd), SUM(" COST_UNKNOWN ")"
             " FROM requests WHERE time_ms >= ?1%s GROUP BY g ORDER BY %s",
             g->expr, session ? " AND session_id = ?2" : "",
             g->by_time ? "MIN(time_ms)" : "COUNT(*) DESC, g");
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    row_t *rows = NULL;
    size_t n = 0, cap = 0;
    if (rc != SQLITE_OK) goto done;
    sqlite3_bind_int64(st, 1, since_ms);
    if (session) sqlite3_bind_text(st, 2, session, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            row_t *nr = realloc(rows, ncap * sizeof *nr);
            if (!nr) {
                rc = SQLITE_NOMEM;
                goto done;
            }
            rows = nr;
            cap = ncap;
        }
        row_t *r = &rows[n++];
        memset(r, 0, sizeof *r);
        const char *gv = (const char *)sqlite3_column_text(st, 0);
        r->group = gv ? strdup(gv) : NULL;
        r->requests = sqlite3_column_int64(st, 1);
        r->errors = sqlite3_column_int64(st, 2);
        r->in = (long long)sqlite3_column_double(st, 3);
        r->out = (long long)sqlite3_column_double(st, 4);
        r->cache_write = (long long)sqlite3_column_double(st, 5);
        r->cache_read = (long long)sqlite3_column_double(st, 6);
        r->cost = sqlite3_column_double(st, 7);
        r->cost_unknown = sqlite3_column_int64(st, 8);
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
done:
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        rows_free(rows, n);
        return rc;
    }
    *rows_out = rows;
    *n_out = n;
    return SQLITE_OK;
}

/* How many rows the store holds in all and since when (for the "nothing since" note). */
static long long count_all(sqlite3 *db, long long *first_ms) {
    sqlite3_stmt *st = NULL;
    long long n = 0;
    *first_ms = 0;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*), MIN(time_ms) FROM requests", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
        *first_ms = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return n;
}

/* ---- printing ------------------------------------------------------------------------------ */

/* 1234567 as "1,234,567". */
static void fmt_int(long long v, char *out, size_t n) {
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v);
    size_t len = strlen(digits), o = 0;
    if (v < 0 && o + 1 < n) out[o++] = '-';
    for (size_t i = 0; i < len && o + 1 < n; i++) {
        if (i && (len - i) % 3 == 0 && o + 1 < n) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

/* The cost cell: "0.1234" when every cost is known, "0.1234?" when some are not (the sum of
 * the known ones), "?" when none is. */
static void fmt_cost(const row_t *r, bool mark_col, char *out, size_t n) {
    if (r->cost_unknown >= r->requests && r->requests > 0) {
        snprintf(out, n, "?");
        return;
    }
    if (r->cost > 0 && r->cost < 0.00005)
        snprintf(out, n, "<0.0001");
    else
        snprintf(out, n, "%.4f", r->cost);
    if (mark_col) strncat(out, r->cost_unknown ? "?" : " ", n - strlen(out) - 1);
}

static void local_time(long long ms, char *out, size_t n) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M", &tm);
}

#define NCOLS 8

static void print_table(const grouping_t *g, const row_t *rows, size_t n, const row_t *total) {
    static const char *const titles[NCOLS] = {NULL,          "requests",    "errors",
                                             "tokens in",   "tokens out",  "cache write",
                                             "cache read",  "cost (USD)"};
    bool mark = total->cost_unknown > 0;
    size_t w[NCOLS];
    w[0] = strlen(g->title) > strlen("total") ? strlen(g->title) : strlen("total");
    for (int c = 1; c < NCOLS; c++) w[c] = strlen(titles[c]);
    char cell[NCOLS][64];
    /* Two passes over the rows and the total: the widths, then the lines. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            printf("%-*s", (int)w[0], g->title);
            for (int c = 1; c < NCOLS; c++) printf("  %*s", (int)w[c], titles[c]);
            putchar('\n');
        }
        for (size_t i = 0; i <= n; i++) {
            const row_t *r = i < n ? &rows[i] : total;
            const char *name = i < n ? (r->group ? r->group : g->none) : "total";
            fmt_int(r->requests, cell[1], sizeof cell[1]);
            fmt_int(r->errors, cell[2], sizeof cell[2]);
            fmt_int(r->in, cell[3], sizeof cell[3]);
            fmt_int(r->out, cell[4], sizeof cell[4]);
            fmt_int(r->cache_write, cell[5], sizeof cell[5]);
            fmt_int(r->cache_read, cell[6], sizeof cell[6]);
            fmt_cost(r, mark, cell[7], sizeof cell[7]);
            if (pass == 0) {
                if (strlen(name) > w[0]) w[0] = strlen(name);
                for (int c = 1; c < NCOLS; c++)
                    if (strlen(cell[c]) > w[c]) w[c] = strlen(cell[c]);
                continue;
            }
            if (i == n) { /* the rule above the total */
                for (int c = 0; c < NCOLS; c++) {
                    printf("%s", c ? "  " : "");
                    for (size_t k = 0; k < w[c]; k++) putchar('-');
                }
                putchar('\n');
            }
            printf("%-*s", (int)w[0], name);
            for (int c = 1; c < NCOLS; c++) printf("  %*s", (int)w[c], cell[c]);
            putchar('\n');
        }
    }
    if (mark)
        printf("\n?  cost partly unknown: %lld of %lld requests have no known cost (no price for "
               "their model, or their answer's usage was not read); the figure shown is the sum "
               "of the others\n",
               total->cost_unknown, total->requests);
}

static cJSON *rows_json(const grouping_t *g, const row_t *rows, size_t n) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        const row_t *r = &rows[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        if (r->group)
            cJSON_AddStringToObject(o, g->name, r->group);
        else
            cJSON_AddNullToObject(o, g->name);
        cJSON_AddNumberToObject(o, "requests", (double)r->requests);
        cJSON_AddNumberToObject(o, "errors", (double)r->errors);
        cJSON_AddNumberToObject(o, "input_tokens", (double)r->in);
        cJSON_AddNumberToObject(o, "output_tokens", (double)r->out);
        cJSON_AddNumberToObject(o, "cache_creation_tokens", (double)r->cache_write);
        cJSON_AddNumberToObject(o, "cache_read_tokens", (double)r->cache_read);
        if (r->cost_unknown >= r->requests)
            cJSON_AddNullToObject(o, "cost_usd");
        else
            cJSON_AddNumberToObject(o, "cost_usd", r->cost);
        cJSON_AddNumberToObject(o, "cost_unknown", (double)r->cost_unknown);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* ---- the command ---------------------------------------------------------------------------- */

static void no_database(const char *path, bool store_on, bool json) {
    FILE *out = json ? stderr : stdout;
    fprintf(out, "no requests recorded yet: there is no database at %s\n", path);
    if (store_on)
        fprintf(out, "(the proxy creates it when it starts with ccproxy.usage.store on, the "
                     "default, and records every request there)\n");
    else
        fprintf(out, "(ccproxy.usage.store is false in ccproxy.yaml: set it to true and restart "
                     "the proxy to record requests)\n");
    if (json) printf("[]\n");
}

int cc_cmd_usage(const char *config_dir, int argc, char **argv) {
    static const struct option longopts[] = {{"since", required_argument, NULL, 's'},
                                             {"by", required_argument, NULL, 'b'},
                                             {"session", required_argument, NULL, 'S'},
                                             {"json", no_argument, NULL, 'j'},
                                             {0, 0, 0, 0}};
    bool json = false;
    const grouping_t *g = &groupings[0];
    const char *session = NULL, *since_arg = NULL;
    time_t now = time(NULL);
    long long since_ms = (long long)local_midnight(now) * 1000;
    int oi = 0, c;
    while ((c = cc__cli_next_opt(&cmd, argc, argv, "", longopts, &oi)) != -1) {
        if (c == -3) return 0;
        if (c < 0) return 2;
        if (c == 'j') json = true;
        if (c == 's') {
            since_arg = optarg;
            if (parse_since(optarg, now, &since_ms) != 0)
                return cc__cli_usage_error(
                    &cmd,
                    "--since needs a day as YYYY-MM-DD (from local midnight), a duration such "
                    "as 30m, 12h or 7d (back from now), or all; got '%s'",
                    optarg);
        }
        if (c == 'b') {
            g = NULL;
            for (size_t i = 0; i < sizeof groupings / sizeof groupings[0]; i++)
                if (strcmp(optarg, groupings[i].name) == 0) g = &groupings[i];
            if (!g)
                return cc__cli_usage_error(&cmd,
                                           "--by takes day, model, deployment, label, session or "
                                           "agent; got '%s'",
                                           optarg);
        }
        if (c == 'S') {
            if (!*optarg)
                return cc__cli_usage_error(&cmd, "--session needs a session id, got ''");
            session = optarg;
        }
    }
    if (cc__cli_no_args(&cmd, argc, argv, oi)) return 2;

    int rc = 1;
    cc_buf_t errors = CC_BUF_INIT;
    cc_config_t *cfg = cc__cli_load_config(config_dir, true, &errors);
    char *path = NULL;
    bool store_on = true;
    sqlite3 *db = NULL;
    row_t *rows = NULL;
    size_t n = 0;
    if (cfg) {
        path = strdup(cfg->usage_db);
        store_on = cfg->usage_store;
    } else {
        path = cc_path_join(config_dir, "usage.db");
        fprintf(stderr,
                "ccproxy usage: the configuration does not load (`ccproxy check` shows why); "
                "reading the default store %s\n",
                path ? path : "");
    }
    if (!path) goto done;

    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) {
        no_database(path, store_on, json);
        rc = 0;
        goto done;
    }
    int src = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (src == SQLITE_OK) sqlite3_busy_timeout(db, 5000);
    long long version = 0;
    bool table = false;
    if (src == SQLITE_OK) src = schema_version(db, &version);
    if (src == SQLITE_OK && version > CC_STORE_SCHEMA_VERSION) {
        fprintf(stderr,
                "ccproxy usage: %s was written by a newer ccproxy (schema version %lld, this "
                "one reads up to %d); use the newer ccproxy\n",
                path, version, CC_STORE_SCHEMA_VERSION);
        goto done;
    }
    if (src == SQLITE_OK) src = has_table(db, &table);
    if (src == SQLITE_OK && table) src = query(db, g, since_ms, session, &rows, &n);
    if (src != SQLITE_OK) {
        fprintf(stderr,
                "ccproxy usage: cannot read %s: %s; check that it is the proxy's usage store "
                "and that you may read it\n",
                path, db ? sqlite3_errmsg(db) : sqlite3_errstr(src));
        goto done;
    }

    row_t total = {0};
    for (size_t i = 0; i < n; i++) {
        total.requests += rows[i].requests;
        total.errors += rows[i].errors;
        total.in += rows[i].in;
        total.out += rows[i].out;
        total.cache_write += rows[i].cache_write;
        total.cache_read += rows[i].cache_read;
        total.cost += rows[i].cost;
        total.cost_unknown += rows[i].cost_unknown;
    }
    if (json) {
        cJSON *arr = rows_json(g, rows, n);
        char *text = arr ? cJSON_Print(arr) : NULL;
        cJSON_Delete(arr);
        if (!text) goto done;
        printf("%s\n", text);
        free(text);
        rc = 0;
        goto done;
    }
    char when[32];
    local_time(since_ms, when, sizeof when);
    if (since_ms == 0)
        printf("every request recorded");
    else
        printf("requests since %s%s", when, since_arg ? "" : " (today)");
    if (session) printf(", session %s", session);
    printf(", by %s (%s)\n\n", g->name, path);
    if (n == 0) {
        long long first_ms = 0;
        long long all = table ? count_all(db, &first_ms) : 0;
        if (all == 0) {
            printf("no requests recorded yet\n");
        } else {
            char first[32];
            local_time(first_ms, first, sizeof first);
            printf("no requests%s in this time; the store holds %lld since %s (try --since "
                   "all)\n",
                   session ? " of this session" : "", all, first);
        }
        rc = 0;
        goto done;
    }
    print_table(g, rows, n, &total);
    rc = 0;
done:
    rows_free(rows, n);
    if (db) sqlite3_close(db);
    free(path);
    if (cfg) cc_config_free(cfg);
    cc_buf_free(&errors);
    return rc;
}
