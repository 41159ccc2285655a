/* anthropic_thinking.h: keeping other providers' reasoning away from Anthropic. Thinking blocks
 * another provider produced carry a signature ccproxy made ("ccproxy:<provider>:..."), so the
 * provider can get its artifact back when Claude Code replays the conversation. Anthropic
 * would reject such a signature, and must never be handed one as if it were its own: before
 * a request goes to an Anthropic deployment those blocks are removed. And when Anthropic
 * rejects a signature of its own (a session resumed under another key or moved between
 * models), the request is retried once without any thinking block. */
#ifndef CC_ANTHROPIC_THINKING_H
#define CC_ANTHROPIC_THINKING_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define CC_FOREIGN_SIGNATURE_PREFIX "ccproxy:"
/** The id prefix of server_tool_use blocks another provider's web search produced; their
 *  web_search_tool_result blocks (tool_use_id with the same prefix) carry no Anthropic
 *  encrypted_content, so both are removed before a request goes to Anthropic. */
#define CC_FOREIGN_SEARCH_ID_PREFIX "srvtoolu_ccp"

/** Writes `body` without the thinking blocks whose signature starts with "ccproxy:", and
 *  without other providers' web search blocks (CC_FOREIGN_SEARCH_ID_PREFIX), to `out`.
 *  Returns 1 when blocks were removed (out holds the new body: only `messages` changed),
 *  0 when there were none (out untouched; a quick scan decides most requests), -1 when the
 *  body cannot be read. */
int cc_anthropic_strip_foreign_thinking(const char *body, size_t len, cc_buf_t *out);

/** Writes `body` without any thinking or redacted_thinking block, for the one retry after
 *  Anthropic rejected a thinking block's signature (a resumed or moved session). When the
 *  request is inside a tool loop (the last message holds tool_result blocks) and the last
 *  assistant turn lost its thinking, Anthropic would insist on it: `thinking` and the
 *  clear_thinking edits of `context_management` are removed too, for this request. Returns how
 *  many blocks were removed (out holds the new body), 0 when none (out untouched), -1 when the
 *  body cannot be read. */
int cc_anthropic_strip_all_thinking(const char *body, size_t len, cc_buf_t *out);

/** Whether an error body is Anthropic rejecting a thinking block's signature. */
bool cc_anthropic_signature_rejected(const char *body, size_t len);

#endif
