/* spec/bench/records_bench.c: the CPU cost of the request record and its sinks in isolation,
 * with no sockets on the request side. run.sh's section 6 runs it next to the relay:
 *   bench_records off|on|metrics|store|otel DIR N OTLP_URL
 * It starts the record sinks as the server does (off: the session and dashboard totals,
 * which are always on; on: also /metrics, the SQLite store in DIR/usage.db and OTLP traces to
 * OTLP_URL; metrics, store, otel: the totals and that one sink), then hands N records like the exchange's to cc_records_emit from this one thread,
 * in bursts of 100 every 10 ms (10,000 a second, about twice what one worker relays), waits
 * until the store has committed every row and the exporter has sent every span, and prints
 *   BENCH mode=on records=N cpu_us=X dropped=D written=W spans=S
 * where X is the process's CPU time (every thread: this one's take()s, the store's writer,
 * the exporter) per record, from the first record to the last row and span. Sleeping costs no
 * CPU, so the pacing changes nothing but the queues' depth; dropped counts what a full queue
 * refused (it should be 0, or the figure is too low). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "record/metrics.h"
#include "record/otel.h"
#include "record/recent.h"
#include "record/records.h"
#include "record/sessions.h"
#include "record/store.h"

static double cpu_us(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    const char *mode = argc == 5 ? argv[1] : "";
    bool on = strcmp(mode, "on") == 0, metrics = on || strcmp(mode, "metrics") == 0,
         with_store = on || strcmp(mode, "store") == 0, with_otel = on || strcmp(mode, "otel") == 0;
    if (!metrics && !with_store && !with_otel && strcmp(mode, "off") != 0) {
        fprintf(stderr, "usage: bench_records off|on|metrics|store|otel DIR N OTLP_URL\n");
        return 2;
    }
    long n = atol(argv[3]);
    if (n <= 0) {
        fprintf(stderr, "bench_records: N must be a positive number of records\n");
        return 2;
    }
    char err[1024] = "", db[4096];
    cc_record_sink_t *store = NULL, *otel = NULL;
    if (cc_recent_start() != 0 || cc_sessions_start(CC_SESSIONS_MAX) != 0 ||
        (metrics && cc_metrics_start() != 0)) {
        fprintf(stderr, "bench_records: cannot start the totals and /metrics\n");
        return 1;
    }
    snprintf(db, sizeof db, "%s/usage.db", argv[2]);
    cc_store_opts_t so = {.path = db};
    if (with_store && (!(store = cc_store_open(&so, err, sizeof err)) || cc_records_add(store))) {
        fprintf(stderr, "bench_records: cannot open the store: %s\n", err);
        return 1;
    }
    cc_otel_settings_t os = {.traces_url = argv[4], .service_name = (char *)"bench",
                             .max_queue = 2048, .max_batch = 512}; /* the defaults */
    if (with_otel && (!(otel = cc_otel_sink_new(&os, err, sizeof err)) || cc_records_add(otel))) {
        fprintf(stderr, "bench_records: cannot start the exporter: %s\n", err);
        return 1;
    }

    /* The relay benchmark's request: Claude Code's first of a session, answered at once. */
    cc_record_attempt_t att = {(char *)"claude-*", (char *)"anthropic/*", 200, NULL, 2.5};
    char id[32];
    cc_record_t d = {
        .id = id,
        .session_id = (char *)"0f9e6c1a-3b7d-4e2f-9a51-7c2d8e4b6a10",
        .endpoint = (char *)"messages",
        .label = (char *)"default",
        .requested_model = (char *)"claude-sonnet-5-5",
        .sent_model = (char *)"claude-sonnet-5-5",
        .deployment = (char *)"claude-*",
        .provider = (char *)"anthropic",
        .attempts = &att,
        .n_attempts = 1,
        .status = 200,
        .stream = true,
        .usage = {.seen = true, .input = 3, .output = 12, .cache_creation = 11800,
                  .cache_read = 0},
        .cost_known = true,
        .cost_usd = 0.04443,
        .ttfb_ms = 2.1,
        .total_ms = 2.9,
        .bytes_in = 48213,
        .bytes_out = 1534,
        .client = (char *)"claude-cli/2.1.332 sk-ant-oat01-...a1b2",
    };

    double t0 = cpu_us();
    for (long i = 0; i < n; i++) {
        snprintf(id, sizeof id, "req-%08lx", (unsigned long)i);
        d.time_ms = (uint64_t)wall_ms();
        cc_records_emit(&d);
        if (i % 100 == 99) sleep_ms(10);
    }
    /* Until the store has committed every row and the exporter sent every span (30 s at most). */
    cc_store_stats_t ss = {0};
    cc_otel_stats_t ot = {0};
    for (int waited = 0; (store || otel) && waited < 3000; waited++) {
        if (store) cc_store_stats(store, &ss);
        if (otel) cc_otel_sink_stats(otel, &ot);
        if ((!store || ss.written + ss.failed + ss.dropped >= (uint64_t)n) &&
            (!otel || (ot.spans_queued == 0 &&
                       ot.spans_exported + ot.spans_dropped >= 2 * (unsigned long long)n)))
            break;
        sleep_ms(10);
    }
    double t1 = cpu_us();
    printf("BENCH mode=%s records=%ld cpu_us=%.2f dropped=%llu written=%llu spans=%llu "
           "failed_spans=%llu\n",
           mode, n, (t1 - t0) / (double)n,
           (unsigned long long)(ss.dropped + ot.spans_dropped_full),
           (unsigned long long)ss.written, ot.spans_exported, ot.spans_dropped);
    cc_records_stop();
    return 0;
}
