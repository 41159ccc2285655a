/* server.h: running the proxy. cc_server_run owns the process from a loaded configuration to
 * shutdown: it listens on cfg->host:cfg->port, serves until SIGTERM or SIGINT, then stops
 * accepting, lets in-flight requests finish (up to cfg->limits.shutdown_grace_ms) and returns.
 * SIGHUP reloads the configuration and scripts. */
#ifndef CC_SERVER_H
#define CC_SERVER_H

#include "config/config.h"

/** Serves until asked to stop. `cfg` is taken over (freed by the server). If `ready_fd` is
 *  >= 0, one byte is written to it once the listener is bound (or the error text when the
 *  start failed) and it is closed: `start --detach` waits on it.
 *  Returns the process exit code: 0 after a clean stop, 1 when it could not start
 *  (the reason is logged). */
int cc_server_run(cc_config_t *cfg, int ready_fd);

#endif
