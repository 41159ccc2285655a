/* proxy.h: a proxied request from end to end: the Lua pipeline labels and routes it, the
 * upstream exchange carries it, the answer streams back to the client as it arrives, and one
 * log line records it. */
#ifndef CC_PROXY_H
#define CC_PROXY_H

#include "conn.h"

/** Handles POST /v1/messages and /v1/messages/count_tokens. */
void cc_proxy_handle(cc_conn_t *c, cc_request_t *req);

#endif
