/* pipeline.h: the Lua side of a worker. One LuaJIT state per event loop holds the runtime
 * (lua/ccproxy/runtime.lua), the rule and hook modules named in ccproxy.yaml, and runs the
 * request stage for every proxied request. */
#ifndef CC_PIPELINE_H
#define CC_PIPELINE_H

#include "buf.h"
#include "config.h"
#include "preq.h"

typedef struct cc_pipeline_s cc_pipeline_t;

/** Creates the Lua state and loads every rule and hook module. Returns NULL with every
 *  problem (file:line and what to do) in `err`. */
cc_pipeline_t *cc_pipeline_new(const cc_config_t *cfg, cc_buf_t *err);
void cc_pipeline_free(cc_pipeline_t *p);

/** Runs the hooks on `r` (rule_evaluator labels it, model_router routes it, ...). When no hook
 *  routed the request, it goes where the client's model goes (passthrough). Afterwards
 *  r->headers, the body and the route are final. Returns 0; -1 with a message for the client
 *  in `err` when the request cannot be routed; -2 when a hook configured with
 *  on_error: fail raised (the message names the hook). */
int cc_pipeline_run(cc_pipeline_t *p, cc_preq_t *r, cc_buf_t *err);

#endif
