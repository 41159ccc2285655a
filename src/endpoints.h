/* endpoints.h: what each path of the API does (endpoints.c): the handler a worker gives its
 * client connections. */
#ifndef CC_ENDPOINTS_H
#define CC_ENDPOINTS_H

#include <cjson/cJSON.h>

#include "http/conn.h"
#include "worker.h"

/** Handles one complete request: POST /v1/messages and /v1/messages/count_tokens through an
 *  exchange; GET /v1/models, GET /health, GET /metrics, GET /ccproxy/sessions/<id> and
 *  the 404/405 answers here. */
void cc_endpoints_dispatch(cc_conn_t *c, cc_request_t *req);

/** /health's "cooldowns" list (the deployments out of every pick now) and its "last_reload"
 *  member (null before the first reload), added to `o`; the dashboard's summary shares them. */
void cc_endpoints_add_cooldowns(cJSON *o, cc_worker_t *w);
void cc_endpoints_add_last_reload(cJSON *o, cc_server_t *srv);

#endif
