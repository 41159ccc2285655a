/* records.h: where request records go. A record sink takes each finished request's record on
 * the worker thread that finished it and must not block there: it reads the record, holds it
 * (cc_record_hold) if it needs it later, and does its work (disk, network) elsewhere, on a
 * thread or queue of its own. The record is packed once per request and shared by every sink:
 * no sink copies it, none writes it. The sinks are
 * added once at start, before any worker runs, and stopped (flushed, freed) at exit.
 *
 * Ownership: the process owns the list (server.c starts and stops it); each sink owns itself
 * and is freed by its stop(). */
#ifndef CC_RECORDS_H
#define CC_RECORDS_H

#include "record/record.h"

typedef struct cc_record_sink_s cc_record_sink_t;
struct cc_record_sink_s {
    const char *name;
    /** One request's packed record; any worker thread, concurrently: read it (or hold it
     *  and queue it), return. */
    void (*take)(cc_record_sink_t *s, cc_record_t *r);
    /** At exit, after the last take(): write out what is queued, free the sink. */
    void (*stop)(cc_record_sink_t *s);
};

/** Adds a sink (at start, before the workers run). At most CC_RECORD_SINKS. */
#define CC_RECORD_SINKS 8
int cc_records_add(cc_record_sink_t *s);
/** Packs `draft` (its strings are only lent for this call) and hands the packed record to
 *  every sink. */
void cc_records_emit(const cc_record_t *draft);
/** Whether any sink is there (a record is not built for nobody). */
bool cc_records_wanted(void);
/** Stops every sink, last added first. */
void cc_records_stop(void);

#endif
