/* context_limit.h: a provider's "the prompt is over the model's context window" error, in
 * Anthropic's words. Claude Code reads "prompt is too long: N tokens > M maximum" to compact the
 * conversation by the gap; any other wording reaches it as a plain API error. The translators
 * of every provider map their context-length errors here, and the exchange uses the same words
 * when a request is clearly over a deployment's model_info.max_input_tokens before sending. */
#ifndef CC_CONTEXT_LIMIT_H
#define CC_CONTEXT_LIMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "providers/translate.h"

/** Whether text[0..len) is a context-length complaint (OpenAI and compatibles, vLLM,
 *  DeepSeek, OpenRouter, Mistral, llama.cpp, Gemini, Bedrock, Anthropic). The numbers it
 *  gives go to *tokens (what the request needs, prompt and completion as the provider counts
 *  them) and *maximum (the window); 0 when it does not say. */
bool cc_context_limit_read(const char *text, size_t len, long *tokens, long *maximum);

/** Appends Anthropic's message: "prompt is too long: N tokens > M maximum" when both numbers
 *  are known (tokens > maximum), else "prompt is too long" and, in parentheses, `said` (the
 *  provider's own words, may be NULL). */
void cc_context_limit_message(cc_buf_t *out, long tokens, long maximum, const char *said);

/** What the request that failed needed and what its deployment allows, read while the request
 *  is at hand (response_new): ccproxy's estimate of the body's input tokens, and
 *  model_info.max_input_tokens (0 when not configured). */
void cc_context_limit_note(const cc_xlate_ctx_t *ctx, long *estimate, long *max_input);

/** When the provider's error body raw[0..len) is a context-length complaint, replaces `msg`
 *  (the provider's words, as the translator phrased them) with Anthropic's message: the
 *  provider's numbers, else `estimate` and `max_input`. Returns whether it did. */
bool cc_context_limit_rewrite(const char *raw, size_t len, long estimate, long max_input,
                              cc_buf_t *msg);

#endif
