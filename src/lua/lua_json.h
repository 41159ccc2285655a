/* lua_json.h: JSON <-> Lua values. Objects become tables with the metatable json.object,
 * arrays tables with json.array, null the sentinel json.null, so null, [] and {} survive a
 * round trip. Encoding a table without a marker: an array when its keys are exactly 1..n
 * (n >= 1), else an object (keys sorted, for stable output). */
#ifndef CC_LUA_JSON_H
#define CC_LUA_JSON_H

#include <cjson/cJSON.h>
#include <lua.h>
#include <stdbool.h>

#include "buf.h"

/** Pushes the Lua value of `item`. */
void cc_lua_push_json(lua_State *L, const cJSON *item);
/** Parses text and pushes its value; on bad JSON pushes nil and returns -1. */
int cc_lua_push_json_text(lua_State *L, const char *text, size_t len);
/** Appends the JSON text of the value at `idx`. Objects are written in `order`'s key order
 *  for keys it has (then the rest, sorted), so an edited member keeps its neighbours' order.
 *  Returns 0, or -1 with a message in `err` (a function, cycle, NaN, non-string key...). */
int cc_lua_to_json(lua_State *L, int idx, const cJSON *order, cc_buf_t *out, cc_buf_t *err);
/** True when the Lua value at `idx` equals `item` as JSON. */
bool cc_lua_json_equal(lua_State *L, int idx, const cJSON *item);
/** Registers json.null, json.array, json.object in the table on top of the stack, and the
 *  functions encode(value) and decode(text). */
void cc_lua_json_register(lua_State *L);

#endif
