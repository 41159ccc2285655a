/* reload.h: loading a new generation of the configuration and scripts while serving (SIGHUP,
 * `ccproxy reload`), on worker 0's loop. */
#ifndef CC_RELOAD_H
#define CC_RELOAD_H

#include "worker.h"

/** Loads and validates a whole new generation from the server's config dir; on success makes
 *  it current on workers[0] and hands it to workers[1..n-1]. Records the outcome in
 *  server->reload either way. */
void cc_reload(cc_worker_t *workers, int n);

#endif
