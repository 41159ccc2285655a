/* lua_req.h: the request view scripts see (`req` in rules and hooks), a userdata over a
 * cc_preq_t. Every field and method is documented in docs/lua-api.md. The view is valid only
 * while its stage runs: afterwards any use raises "request used after its stage ended". */
#ifndef CC_LUA_REQ_H
#define CC_LUA_REQ_H

#include <lua.h>

#include "preq.h"

/** Pushes a new view of `r` and stores a reference to it in r->ref_view. */
void cc_lua_req_push(lua_State *L, cc_preq_t *r);
/** Ends the view: detaches it from `r`, applies body edits made through req.body (into
 *  r->body_out) and releases the Lua references. Returns 0, or -1 with a message in `err` when
 *  the edited body cannot be encoded. */
int cc_lua_req_finish(lua_State *L, cc_preq_t *r, cc_buf_t *err);
/** Registers the view's metatables and `ccproxy.core.request(...)` (specs build real requests
 *  with it) in the table on top of the stack. */
void cc_lua_req_register(lua_State *L);

#endif
