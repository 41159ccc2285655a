/* generation.h: configuration generations, for hot reload. A generation is one loaded
 * configuration and the text of every script it names (shared by all workers, reference-counted
 * atomically); each worker builds its own Lua pipeline for it (cc_wgen_t, counted without
 * atomics since only its worker touches it). The first pipeline built for a generation reads
 * the scripts from disk and keeps their text in it; the others load that text, so every worker
 * runs the code that was validated, even when a file changes meanwhile. A request pins the worker generation it started with, so a stream that lasts minutes
 * finishes on the configuration and scripts it began with; an old generation is freed when
 * its last request ends. */
#ifndef CC_GENERATION_H
#define CC_GENERATION_H

#include <stdatomic.h>

#include "buf.h"
#include "config/config.h"
#include "lua/pipeline.h"
#include "record/prices.h"
#include "routing/router.h"

typedef struct {
    int id;
    cc_config_t *cfg;
    cc_scripts_t scripts; /* written by the first cc_wgen_new (before any other worker sees
                           * the generation), read-only afterwards */
    cc_router_t *router;  /* groups and cooldowns, shared by every worker (router.h) */
    cc_prices_t *prices;  /* what the deployments' tokens cost (record/prices.h) */
    atomic_int refs;
} cc_gen_t;

/** A generation owning `cfg`, with one reference; NULL when out of memory (cfg is then
 *  still the caller's). */
cc_gen_t *cc_gen_new(cc_config_t *cfg, int id);
void cc_gen_ref(cc_gen_t *g);
/** Drops a reference; the last one frees the config. Any thread. */
void cc_gen_unref(cc_gen_t *g);

typedef struct {
    cc_gen_t *gen;
    cc_pipeline_t *pipeline;
    unsigned refs;
} cc_wgen_t;

/** A worker's generation: loads the pipeline for `gen` (taking a reference on it), from the
 *  generation's scripts once the first one filled them. Call it first on one thread, before
 *  `gen` is handed to other workers. Returns NULL with the script errors in `err`. Starts with
 *  one reference (the worker's). */
cc_wgen_t *cc_wgen_new(cc_gen_t *gen, cc_buf_t *err);
void cc_wgen_ref(cc_wgen_t *wg);
/** Drops a reference; the last one frees the pipeline and releases the generation. */
void cc_wgen_unref(cc_wgen_t *wg);

#endif
