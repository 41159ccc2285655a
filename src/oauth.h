/* oauth.h: OAuth tokens from ccproxy.oat_sources. Each provider's shell command runs without
 * blocking a loop (uv_spawn of /bin/sh -c, with a timeout); its standard output, trimmed, is
 * the token, kept in a process-wide store that every worker reads. Commands run at start, on
 * reload, and again when an upstream answers 401 to a request that used the token. A failing
 * command is reported with the provider and its stderr; tokens never reach the log.
 * Ownership: the store copies everything it is given; getters return malloc'd copies. */
#ifndef CC_OAUTH_H
#define CC_OAUTH_H

#include <uv.h>

#include "config/config.h"

/** The token and user agent of `provider` (malloc'd; *user_agent may be NULL). Returns 0, or
 *  -1 with *why (malloc'd) saying why there is none (not configured, command failed: ...). */
int cc_oauth_get(const char *provider, char **token, char **user_agent, char **why);
/** Stores a token directly (specs, and the runner). */
void cc_oauth_set(const char *provider, const char *token, const char *user_agent);
/** Records that fetching `provider`'s token failed (keeps an older token, if any). */
void cc_oauth_set_error(const char *provider, const char *why);
/** Forgets every token and error (tests). */
void cc_oauth_clear(void);

typedef struct cc_oauth_runner_s cc_oauth_runner_t;

/** A runner for one loop. Concurrent runs for one provider on a runner are shared. */
cc_oauth_runner_t *cc_oauth_runner_new(uv_loop_t *loop, unsigned timeout_ms);
/** Stops running commands (their processes are killed) and frees the runner once they end. */
void cc_oauth_runner_free(cc_oauth_runner_t *r);
/** Runs `src`'s command; cb(arg, ok) when it ended and the store holds its outcome. */
void cc_oauth_run(cc_oauth_runner_t *r, const cc_oat_source_t *src, void (*cb)(void *arg, int ok),
                  void *arg);
/** Runs every source of `cfg`; cb(arg, ok) once all ended (ok: every one succeeded). */
void cc_oauth_run_all(cc_oauth_runner_t *r, const cc_config_t *cfg, void (*cb)(void *arg, int ok),
                      void *arg);

#endif
