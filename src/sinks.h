/* sinks.h: the sinks an exchange composes its answer's chain from (see sink.h for the chain and
 * its order). Each constructor returns a sink with no next (the exchange links them), or NULL
 * when out of memory. */
#ifndef CC_SINKS_H
#define CC_SINKS_H

#include <uv.h>

#include "http/conn.h"
#include "lua/pipeline.h"
#include "preq.h"
#include "sink.h"
#include "providers/translate.h"

/** The client's connection: writes the head and the body, and ends the response. */
cc_sink_t *cc_sink_client_new(cc_conn_t *c, cc_answer_t *ans);
/** The upstream's answer broke after the client got its head: the client's answer breaks the
 *  same way (cc_conn_break: what it has so far, then the connection closes without the rest
 *  of the framing, reset when the upstream's was `reset`). No `event: error` is made up: a
 *  client that sees a broken stream recovers as it would from the upstream itself. */
void cc_sink_client_break(cc_sink_t *client, bool reset);

/** Another provider's answer, translated to Anthropic's by `prov` (streamed or whole). While
 *  a translated stream is silent for `ping_ms`, a ping event keeps the client waiting.
 *  `ctx` must outlive the sink. */
cc_sink_t *cc_sink_translate_new(const cc_provider_t *prov, const cc_xlate_ctx_t *ctx,
                                 uv_loop_t *loop, unsigned ping_ms);

/** Reads the token usage of the answer (Anthropic's form) into ans->usage as it passes,
 *  changing nothing: only a 2xx event stream or JSON body that is not content-encoded. */
cc_sink_t *cc_sink_usage_new(cc_answer_t *ans);

/** ccproxy's own head fields (x-ccproxy-deployment, -model, -label) and the response hooks,
 *  which may change the status and the fields. Tells the answer whether it is a stream. */
cc_sink_t *cc_sink_response_new(cc_pipeline_t *p, cc_preq_t *r, cc_answer_t *ans);

/** The event hooks: an event stream is parsed, each event goes through the hooks and what
 *  they leave is sent re-framed. Any other body passes untouched. */
cc_sink_t *cc_sink_events_new(cc_pipeline_t *p, cc_preq_t *r, cc_answer_t *ans);

/** Holds a whole answer's head and body until its end, when its status is final. */
cc_sink_t *cc_sink_hold_new(void);

#endif
