/* preq.h: a request as the Lua pipeline sees and edits it (the C side of the request view in
 * lua_req.c). It starts from the client's request and ends holding what goes upstream: the
 * headers, the body edits, the label and the chosen deployment.
 * Ownership: a cc_preq_t borrows the client request and the config; it owns its header
 * list, strings and output body. cc_preq_free releases them (Lua references are released by
 * the pipeline). */
#ifndef CC_PREQ_H
#define CC_PREQ_H

#include <stdbool.h>

#include "buf.h"
#include "config/config.h"
#include "http/conn.h"
#include "http/headers.h"
#include "json/json_body.h"

/** One upstream attempt, as req.attempts shows it. */
typedef struct {
    int deployment;     /* index into cfg->models */
    int status;         /* the upstream's status, 0 when it gave none */
    const char *reason; /* NULL when it answered, else "unreachable", "timeout", "tls", "broken" */
    double ms;          /* how long it took */
} cc_attempt_rec_t;

typedef struct {
    const cc_request_t *client;
    const cc_config_t *cfg;
    const char *id;       /* request id, for logs */
    const char *endpoint; /* "messages" or "count_tokens" */

    cc_headers_t headers; /* upstream headers: the client's end-to-end fields, then edits */
    cc_json_member_t *members; /* the body's top-level members, found once at init */
    size_t n_members;
    char *model;          /* the model the client asked for (NULL when absent) */
    char *model_set;      /* a model set by a hook or the router; NULL = unchanged */
    bool stream;          /* the body's "stream" is true */
    long tokens;          /* estimate, -1 until computed */

    char *label;      /* set by rule_evaluator (or any hook) */
    char *rule;       /* name of the rule that matched, NULL when none */
    char *session_id; /* set by extract_session_id */

    bool routed;
    int deployment;       /* index into cfg->models */
    char *upstream_model; /* the model value the upstream gets */
    char *route_via;      /* the label/alias entry used */
    bool passthrough;     /* the client's model was kept */

    cc_headers_t tags;    /* name=value pairs scripts add to the request's log line */
    cc_headers_t written; /* the req.headers fields scripts wrote: "set" or "removed" */
    char *oauth_provider; /* a hook sent this provider's oat_sources token (401 -> refresh) */
    char *oauth_token;    /* ... this token */

    cc_attempt_rec_t *attempts; /* the upstream attempts made so far, oldest first */
    size_t n_attempts;

    bool body_changed;    /* body_out holds the body to send */
    cc_buf_t body_out;

    /* Lua registry references held while the request is in the pipeline (LUA_NOREF = none). */
    int ref_view, ref_body, ref_ctx, ref_headers, ref_client_headers, ref_fields;
} cc_preq_t;

/** Fills `r` from the client request: upstream headers, model, stream. Returns 0, or -1 when
 *  the body is not a JSON object (message in `err`). */
int cc_preq_init(cc_preq_t *r, const cc_request_t *client, const cc_config_t *cfg,
                 const char *id, cc_buf_t *err);
void cc_preq_free(cc_preq_t *r);

/** Routes to `name` (a label or model_name; falls back to "default") and applies the
 *  deployment (its credentials and extra headers are applied when the request leaves:
 *  credentials.h). Returns 0 or -1 with a message in `err`. */
int cc_preq_route(cc_preq_t *r, const char *name, cc_buf_t *err);
/** Routes `model` as given: its exact or glob entry, else where "default" goes with the
 *  model unchanged. Returns 0 or -1. */
int cc_preq_route_model(cc_preq_t *r, const char *model, cc_buf_t *err);
/** Routes the client's own model (passthrough). Returns 0 or -1. */
int cc_preq_route_passthrough(cc_preq_t *r, cc_buf_t *err);

/** After the hooks: a request no hook routed goes where its model's name says (the client's
 *  model, or one a hook set). Returns 0 (also when already routed) or -1. */
int cc_preq_route_unrouted(cc_preq_t *r, cc_buf_t *err);

/** The client body's top-level member `key` (the last one when repeated), from the index
 *  built at init: no new scan of the body. Returns 0 or -1 when absent. */
int cc_preq_member(const cc_preq_t *r, const char *key, cc_json_member_t *out);

/** Sets the model to send upstream. */
int cc_preq_set_model(cc_preq_t *r, const char *model);
/** The model currently destined upstream. */
const char *cc_preq_model(const cc_preq_t *r);
/** Records an attempt (req.attempts). Returns 0 or -1 when out of memory. */
int cc_preq_add_attempt(cc_preq_t *r, const cc_attempt_rec_t *a);

/** The body to send: body_out when edited, else the client's bytes. */
const cc_buf_t *cc_preq_body(const cc_preq_t *r);

#endif
