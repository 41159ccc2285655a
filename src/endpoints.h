/* endpoints.h: what each path of the API does (endpoints.c): the handler a worker gives its
 * client connections. */
#ifndef CC_ENDPOINTS_H
#define CC_ENDPOINTS_H

#include "http/conn.h"

/** Handles one complete request: POST /v1/messages and /v1/messages/count_tokens through an
 *  exchange; GET /v1/models, GET /health, GET /metrics, GET /ccproxy/sessions/<id> and
 *  the 404/405 answers here. */
void cc_endpoints_dispatch(cc_conn_t *c, cc_request_t *req);

#endif
