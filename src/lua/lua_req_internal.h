/* lua_req_internal.h: what the files of the request view share: lua_req.c (the view),
 * lua_req_body.c (body edits diffed into the bytes that go upstream) and lua_req_spec.c (the
 * constructor specs use). Not for other files. */
#ifndef CC_LUA_REQ_INTERNAL_H
#define CC_LUA_REQ_INTERNAL_H

#include <lua.h>

#include "buf.h"
#include "preq.h"

#define CC__REQ_MT "ccproxy.request"

/** The cc_preq_t behind the view at `idx`, NULL once its stage ended (raises when `idx` is
 *  not a request view). */
cc_preq_t *cc__lua_req_of(lua_State *L, int idx);
/** Pushes `list` as {{name, value}, ...} in its order. */
void cc__lua_push_pairs(lua_State *L, const cc_headers_t *list);
/** Pushes req.deployment (a table, or nil before routing). */
void cc__lua_push_deployment(lua_State *L, const cc_preq_t *r);
/** Applies the edits of a decoded req.body (or the model set through req.model) to the
 *  bytes that go upstream (r->body_out). Returns 0 or -1 with a message in `err`. */
int cc__lua_req_apply_body(lua_State *L, cc_preq_t *r, cc_buf_t *err);
/** Registers core.request, core.finish and core.oauth_calls in the table on top of the
 *  stack. */
void cc__lua_req_spec_register(lua_State *L);
/** req:oauth_token for a view core.request built with `oauth_tokens` (explain's stand-ins):
 *  0 with *token (and *ua, or NULL) malloc'd, -1 with *why when it has none for `provider`;
 *  -2 for any other request (the token store answers). */
int cc__lua_req_spec_token(lua_State *L, int idx, const char *provider, char **token, char **ua,
                           char **why);

#endif
