/* exchange.h: one proxied request from end to end. The Lua pipeline labels, edits and routes
 * it; attempts (attempt.h) carry it upstream; a chain of sinks (sink.h) carries the answer to
 * the client as it arrives; finish() ends it, whichever way it ends. */
#ifndef CC_EXCHANGE_H
#define CC_EXCHANGE_H

#include "http/conn.h"

/** Handles POST /v1/messages and /v1/messages/count_tokens. */
void cc_exchange_start(cc_conn_t *c, cc_request_t *req);

#endif
