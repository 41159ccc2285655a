/* pipeline.h: the Lua side of a worker. One LuaJIT state per event loop holds the runtime
 * (lua/ccproxy/runtime.lua), the rule and hook modules named in ccproxy.yaml, and runs the
 * request stage for every proxied request. */
#ifndef CC_PIPELINE_H
#define CC_PIPELINE_H

#include <stdbool.h>

#include "buf.h"
#include "config/config.h"
#include "preq.h"
#include "usage.h"

typedef struct cc_pipeline_s cc_pipeline_t;

/** The text of the modules one pipeline loaded, by path (owned: strings malloc'd). A
 *  generation keeps it so that every worker loads the same code, read from disk once. */
typedef struct {
    char *path;
    char *text;
    size_t len;
} cc_script_t;

typedef struct {
    cc_script_t *items;
    size_t n;
    bool filled; /* false: the next pipeline reads the files and fills it */
} cc_scripts_t;

void cc_scripts_free(cc_scripts_t *s);

/** Creates the Lua state and loads every rule and hook module, read from their files.
 *  Returns NULL with every problem (file:line and what to do) in `err`. */
cc_pipeline_t *cc_pipeline_new(const cc_config_t *cfg, cc_buf_t *err);
/** The same, for a generation: when `scripts` is filled, the modules are loaded from its
 *  texts (never from disk); otherwise they are read from their files and, once all loaded,
 *  their texts are kept in `scripts`. */
cc_pipeline_t *cc_pipeline_new_scripts(const cc_config_t *cfg, cc_scripts_t *scripts,
                                       cc_buf_t *err);
void cc_pipeline_free(cc_pipeline_t *p);

/** The pipeline's Lua state, with the runtime and every module loaded (for commands that run
 *  the modules outside the server: check, explain). Owned by the pipeline. */
struct lua_State *cc_pipeline_lua(cc_pipeline_t *p);

/** What the request stage decided. */
typedef enum {
    CC_PIPELINE_OK = 0,
    CC_PIPELINE_UNROUTED = -1,    /* the request cannot be routed (or its edited body sent) */
    CC_PIPELINE_HOOK_FAILED = -2, /* a hook configured with on_error: fail raised */
} cc_pipeline_result_t;

/** Runs the hooks on `r` (rule_evaluator labels it, model_router routes it, ...). When no hook
 *  routed the request, it goes where the client's model goes (passthrough). Afterwards
 *  r->headers, the body and the route are final. On failure `err` has a message for the
 *  client (naming the hook when one failed). */
cc_pipeline_result_t cc_pipeline_run(cc_pipeline_t *p, cc_preq_t *r, cc_buf_t *err);

/** Which response stages any loaded hook takes part in. */
typedef struct {
    bool response; /* status and headers */
    bool event;    /* each server-sent event (the body is parsed, and sent re-framed) */
    bool done;     /* after completion */
    bool retry;    /* before another upstream attempt */
} cc_stages_t;

const cc_stages_t *cc_pipeline_stages(const cc_pipeline_t *p);

/** What the retry stage learns about the attempt that failed, and the plan's next one. */
typedef struct {
    const char *model_name, *model; /* the deployment that failed */
    int status;                     /* its answer, 0 when it gave none */
    const char *reason;             /* "unreachable", "timeout", ... when it gave none */
    const char *error_class;        /* LiteLLM's class: "RateLimitError", ... (failure.h) */
    bool context_window;            /* a 400 saying the input is too long for the model */
    const char *next_model_name, *next_model; /* where the plan goes next */
} cc_retry_info_t;

/** The retry stage: 0 keeps the plan; -1 when a hook said no retry; 1 when a hook named the
 *  group the next attempt goes to (in `group`). */
int cc_pipeline_retry(cc_pipeline_t *p, cc_preq_t *r, const cc_retry_info_t *info,
                      cc_buf_t *group);

/** The response stage: hooks may change *status and `headers` (the client's). */
void cc_pipeline_response(cc_pipeline_t *p, cc_preq_t *r, int *status, cc_headers_t *headers);
/** The event stage for one event: appends what the client gets (the event, changed or not,
 *  or nothing when a hook dropped it) to `out`. */
void cc_pipeline_event(cc_pipeline_t *p, cc_preq_t *r, const char *event, const char *data,
                       size_t len, cc_buf_t *out);

/** What the done stage learns about the response. */
typedef struct {
    int status;
    size_t bytes;
    double ttfb_ms;  /* -1 when no response head arrived */
    double total_ms;
    const char *outcome; /* NULL, "client-closed", "upstream-failed", ... */
    const cc_usage_t *usage; /* the tokens the answer reported (seen false: none) */
    bool cost_known;
    double cost_usd;
} cc_done_info_t;

/** The done stage (after the client got everything). */
void cc_pipeline_done(cc_pipeline_t *p, cc_preq_t *r, const cc_done_info_t *info);
/** The request is over: releases what it holds in the Lua state (req.ctx, stage state). */
void cc_pipeline_release(cc_pipeline_t *p, cc_preq_t *r);

#endif
