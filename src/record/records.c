/* records.c: the list of record sinks (see records.h). It is written only at start and at
 * exit, when no worker runs, so reading it needs no lock. */
#include "record/records.h"

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

void cc_records_emit(const cc_record_t *r) {
    for (int i = 0; i < n_sinks; i++) sinks[i]->take(sinks[i], r);
}

void cc_records_stop(void) {
    while (n_sinks > 0) {
        cc_record_sink_t *s = sinks[--n_sinks];
        sinks[n_sinks] = NULL;
        s->stop(s);
    }
}
