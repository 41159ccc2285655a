/* lua_req.h: the request view scripts see (`req` in rules and hooks), a userdata over a
 * cc_preq_t. Every field and method is documented in docs/lua-api.md. The view is valid only
 * while its stage runs: afterwards any use raises "request used after its stage ended". */
#ifndef CC_LUA_REQ_H
#define CC_LUA_REQ_H

#include <lua.h>

#include "preq.h"

/** Pushes a new view of `r` and stores a reference to it in r->ref_view. */
void cc_lua_req_push(lua_State *L, cc_preq_t *r);
/** Ends the request stage: detaches the view from `r`, applies body edits made through
 *  req.body (into r->body_out) and releases the view's references (req.ctx is kept for the
 *  response stages). Returns 0, or -1 with a message in `err` when the edited body cannot be
 *  encoded. */
int cc_lua_req_finish(lua_State *L, cc_preq_t *r, cc_buf_t *err);
/** Ends a later stage's view of `r` (no body edits; req.ctx kept). */
void cc_lua_req_end_stage(lua_State *L, cc_preq_t *r);
/** Releases everything `r` holds in `L`, req.ctx included (the request is over). */
void cc_lua_req_release(lua_State *L, cc_preq_t *r);
/** Pushes a headers view (the same case-insensitive object as req.headers) over `list`;
 *  `what` names it in errors. Returns a handle for cc_lua_headers_end, which makes later use
 *  raise (call it when `list` stops being valid). */
void *cc_lua_headers_push(lua_State *L, cc_headers_t *list, int readonly, const char *what);
void cc_lua_headers_end(void *view);
/** Registers the view's metatables and `ccproxy.core.request(...)` (specs build real requests
 *  with it) in the table on top of the stack. */
void cc_lua_req_register(lua_State *L);

#endif
