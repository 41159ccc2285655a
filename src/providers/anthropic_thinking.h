/* anthropic_thinking.h: keeping other providers' reasoning away from Anthropic. Thinking blocks
 * another provider produced carry a signature ccproxy made ("ccproxy:<provider>:..."), so the
 * provider can get its artifact back when Claude Code replays the conversation. Anthropic
 * would reject such a signature, and must never be handed one as if it were its own: before
 * a request goes to an Anthropic deployment those blocks are removed. */
#ifndef CC_ANTHROPIC_THINKING_H
#define CC_ANTHROPIC_THINKING_H

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

#endif
