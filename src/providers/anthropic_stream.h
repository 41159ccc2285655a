/* anthropic_stream.h: building an Anthropic Messages response from the pieces another
 * provider sends, as a stream of SSE events or as one JSON message, through the same calls.
 * A per-block state machine enforces Anthropic's event order: message_start; for each content
 * block content_block_start, its deltas, content_block_stop; message_delta (stop_reason,
 * usage); message_stop. It never emits an empty text block, closes an open block before
 * another starts, keeps parallel tool calls apart by the provider's index, and passes tool
 * arguments through as input_json_delta however the provider splits them.
 * Ownership: the builder owns its state; every call appends client bytes to `out` (stream
 * mode) or collects them (message mode, produced by cc_astream_finish). */
#ifndef CC_ANTHROPIC_STREAM_H
#define CC_ANTHROPIC_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct cJSON; /* cjson/cJSON.h */

typedef struct {
    long input_tokens;                /* -1 = unknown */
    long output_tokens;               /* -1 = unknown */
    long cache_read_input_tokens;     /* -1 = unknown */
    long cache_creation_input_tokens; /* -1 = unknown */
} cc_astream_usage_t;

#define CC_ASTREAM_USAGE_UNKNOWN {-1, -1, -1, -1}

typedef struct cc_astream_s cc_astream_t;

/** A builder. `model` is what message_start reports (the model the client asked for);
 *  `stream` chooses SSE events (true) or one JSON message at cc_astream_finish (false). */
cc_astream_t *cc_astream_new(const char *model, bool stream);
void cc_astream_free(cc_astream_t *s);

/** message_start (sent at the first content or explicitly, e.g. as soon as the upstream
 *  answered, with the input usage when known). Idempotent. */
void cc_astream_start(cc_astream_t *s, const cc_astream_usage_t *usage, cc_buf_t *out);
/** Text; opens a text block when none is open (closing any other). Empty text does nothing;
 *  white space alone does not open a block (it is held and sent with the first visible text,
 *  or dropped), so no text block is ever empty or blank. */
void cc_astream_text(cc_astream_t *s, const char *text, size_t len, cc_buf_t *out);
/** Thinking text; opens a thinking block when none is open. */
void cc_astream_thinking(cc_astream_t *s, const char *text, size_t len, cc_buf_t *out);
/** The signature of the open thinking block (send it before anything else starts); opens an
 *  empty thinking block if none is open (a provider artifact carried without text). */
void cc_astream_thinking_signature(cc_astream_t *s, const char *sig, cc_buf_t *out);
/** A tool call starts. `key` tells parallel calls apart (the provider's index, >= 0; negative
 *  keys are reserved for cc_astream_tool_call); `id` may be NULL (an id is made up: "toolu_" +
 *  random). A call that starts while another one's arguments are unfinished waits (its
 *  arguments are buffered) until that one's object is complete or the message ends. */
void cc_astream_tool_start(cc_astream_t *s, int key, const char *id, const char *name,
                           cc_buf_t *out);
/** A piece of a tool call's arguments (JSON text, split anywhere). Bytes are forwarded while
 *  they continue a JSON object; from a byte that cannot, the rest is dropped, and a call that
 *  ends unfinished is completed, so the client always gets a parseable object ("{}" when no
 *  arguments came). */
void cc_astream_tool_args(cc_astream_t *s, int key, const char *json, size_t len, cc_buf_t *out);
/** A complete tool call in one piece (providers that do not stream arguments). */
void cc_astream_tool_call(cc_astream_t *s, const char *id, const char *name, const char *json,
                          size_t len, cc_buf_t *out);
/** Any other complete block, as its JSON (e.g. server_tool_use, web_search_tool_result). */
void cc_astream_raw_block(cc_astream_t *s, const char *block_json, size_t len, cc_buf_t *out);
/** A web search another provider ran, as the two blocks Anthropic's own search produces so
 *  the client shows it: a server_tool_use (name web_search, input {query}, an id starting
 *  CC_FOREIGN_SEARCH_ID_PREFIX) and its web_search_tool_result, whose content is `results`: a
 *  cJSON array of web_search_result objects, which the builder takes over (NULL for none). */
void cc_astream_web_search(cc_astream_t *s, const char *query, struct cJSON *results,
                           cc_buf_t *out);
/** A ping event (stream mode only), for silences. */
void cc_astream_ping(cc_astream_t *s, cc_buf_t *out);
/** Ends the message: closes the open block, message_delta with `stop_reason` ("end_turn",
 *  "max_tokens", "tool_use", "stop_sequence", ...; NULL = "end_turn") and usage, then
 *  message_stop; in message mode appends the whole JSON message instead. Idempotent.
 *  The reason is made to agree with the blocks: "tool_use" without a tool call becomes
 *  "end_turn", "end_turn" with tool calls becomes "tool_use"; stop_sequence is kept only with
 *  "stop_sequence". Usage fields left unknown (-1) take their message_start values; web_search
 *  server_tool_use blocks are counted into usage.server_tool_use.web_search_requests. */
void cc_astream_finish(cc_astream_t *s, const char *stop_reason, const char *stop_sequence,
                       const cc_astream_usage_t *usage, cc_buf_t *out);
/** A failure after the answer began: an `event: error` in stream mode; in message mode the
 *  error body instead of the message, and the return value is the status the client gets
 *  with it (cc_api_error_status). Returns 0 in stream mode, or when the message had already
 *  finished (nothing is appended then). */
int cc_astream_error(cc_astream_t *s, const char *type, const char *message, cc_buf_t *out);
bool cc_astream_started(const cc_astream_t *s);
bool cc_astream_finished(const cc_astream_t *s);

/* For tests: makes the ids this thread generates from now on (msg_, toolu_, srvtoolu_)
 * repeat for the same seed. */
void cc__astream_seed(unsigned long long seed);
/* An id in Anthropic's shape: `prefix` ("msg_", "toolu_", "srvtoolu_"), "01" and 22 base62
 * characters; `cap` must leave room for them (40 bytes suit every prefix above). */
void cc__astream_id(char *dst, size_t cap, const char *prefix);

#endif
