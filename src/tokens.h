/* tokens.h: input-token estimates for Anthropic Messages request bodies, computed in C so
 * rules never need to decode the body. The estimate counts what the model reads: text of
 * `system`, every message's content blocks (text, tool_use input, tool_result content,
 * thinking text), and tool definitions (name, description, input_schema); images and
 * documents count a fixed amount instead of their base64 bytes; signatures count nothing. */
#ifndef CC_TOKENS_H
#define CC_TOKENS_H

#include <stddef.h>

/** The estimated input tokens of the body, or -1 when it is not a valid JSON object. An
 *  estimate: Claude's tokenizer is not public; tokens.c documents the method. */
long cc_tokens_estimate(const char *body, size_t len);

/** A cheap bound no smaller than cc_tokens_estimate (O(1)), so a rule can decide
 *  "not over the threshold" without counting. It is the body length in bytes. */
long cc_tokens_upper_bound(const char *body, size_t len);

#endif
