/* records.c: the list of record sinks (see records.h). It is written only at start and at
 * exit, when no worker runs, so reading it needs no lock. */
#include "record/records.h"

#include <stdatomic.h>
#include <stdint.h>

#include <uv.h>

#include "log.h"

static cc_record_sink_t *sinks[CC_RECORD_SINKS];
static int n_sinks;

int cc_records_add(cc_record_sink_t *s) {
    if (!s || n_sinks >= CC_RECORD_SINKS) return -1;
    sinks[n_sinks++] = s;
    return 0;
}

bool cc_records_wanted(void) {
    return n_sinks > 0;
}

void cc_records_emit(const cc_record_t *draft) {
    if (n_sinks == 0) return;
    cc_record_t *r = cc_record_pack(draft);
    if (!r) {
        /* Out of memory: every sink misses this one; say so, at most once a minute. */
        static _Atomic uint64_t last_ms;
        uint64_t now = uv_hrtime() / 1000000u, then = atomic_load(&last_ms);
        if ((then == 0 || now - then >= 60000) && atomic_compare_exchange_strong(&last_ms, &then, now))
            cc_error("request %s: out of memory: its record reaches no record sink (the store, "
                     "/metrics, traces, the statusline and the dashboard miss it)",
                     draft->id ? draft->id : "?");
        return;
    }
    for (int i = 0; i < n_sinks; i++) sinks[i]->take(sinks[i], r);
    cc_record_release(r);
}

void cc_records_stop(void) {
    while (n_sinks > 0) {
        cc_record_sink_t *s = sinks[--n_sinks];
        sinks[n_sinks] = NULL;
        s->stop(s);
    }
}
