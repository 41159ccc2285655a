/* anthropic_check.h: an invariant checker for what Claude Code receives from the Messages API,
 * as an SSE stream or as one JSON message. It reports the first violation of the rules the
 * client relies on: every event named and of a known type, its data a JSON object whose type
 * is the event's name; message_start first and once; content blocks started in index order
 * (0, 1, 2, ...), one open at a time, deltas and the stop on the open block; delta types that
 * match the block (text_delta in text, thinking_delta and signature_delta in thinking, with the
 * signature last, input_json_delta in tool blocks); no empty text block; tool input that
 * parses as a JSON object when its block stops; unique tool ids; one message_delta with a
 * known stop_reason and usage.output_tokens; message_stop last; or an `event: error` that
 * ends the stream. Used by every test that reads a stream.
 * Ownership: a checker owns its state; messages are copied into it. */
#ifndef CC_ANTHROPIC_CHECK_H
#define CC_ANTHROPIC_CHECK_H

#include <stddef.h>

#include "buf.h"

typedef struct cc_acheck_s cc_acheck_t;

cc_acheck_t *cc_acheck_new(void);
void cc_acheck_free(cc_acheck_t *c);

/** Feeds stream bytes, split anywhere. Returns 0, or -1 from the first violation on (every
 *  later call returns -1 too). */
int cc_acheck_feed(cc_acheck_t *c, const char *data, size_t len);
/** The stream ended. Returns 0 when it was complete (message_stop, or an error event), else
 *  -1 (for example "the stream ended without message_stop"). */
int cc_acheck_end(cc_acheck_t *c);
/** The first violation, as "event <n> (<name>): <what is wrong>", or NULL. */
const char *cc_acheck_error(const cc_acheck_t *c);
/** Counts of what a valid stream carried so far: content blocks, and tool_use blocks. */
int cc_acheck_blocks(const cc_acheck_t *c);
int cc_acheck_tool_uses(const cc_acheck_t *c);

/** A whole stream at once (feed + end). Returns 0, or -1 with the violation appended to `err`
 *  (may be NULL). */
int cc_acheck_stream(const char *data, size_t len, cc_buf_t *err);
/** The start of a stream that was cut short cleanly: every event so far valid and whole (no
 *  partial event), and no end (message_stop or an error event) yet. Returns 0, or -1 with
 *  the violation appended to `err` (may be NULL). */
int cc_acheck_stream_prefix(const char *data, size_t len, cc_buf_t *err);
/** One non-streamed message (a response body): the same rules for its blocks, stop_reason
 *  and usage. Returns 0, or -1 with the violation appended to `err` (may be NULL). */
int cc_acheck_message(const char *json, size_t len, cc_buf_t *err);
/** An error body: {"type":"error","error":{"type":<known type>,"message":<string>}}.
 *  Returns 0, or -1 with the violation appended to `err` (may be NULL). */
int cc_acheck_error_body(const char *json, size_t len, cc_buf_t *err);

#endif
