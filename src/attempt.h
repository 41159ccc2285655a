/* attempt.h: one try at the upstream on behalf of an exchange. An attempt builds the request
 * as it goes on the wire for one deployment (the provider's translation, the target, the
 * fields and credentials, the body), sends it through the worker's pool and reports the
 * answer as it arrives. Its user may hold an answer instead of taking it (a 401 that a token
 * refresh may fix): the attempt then collects it so it can still be relayed.
 *
 * An attempt is created, sent, abandoned or completed without touching the client's side, so
 * an exchange can make several in a row.
 * Ownership: the exchange owns its attempts (cc_attempt_free). An attempt borrows the
 * request (cc_preq_t) it was built from, which must outlive it; it owns everything else. */
#ifndef CC_ATTEMPT_H
#define CC_ATTEMPT_H

#include <stdbool.h>

#include "buf.h"
#include "preq.h"
#include "providers/translate.h"
#include "http/upstream.h"

typedef struct cc_attempt_s cc_attempt_t;

typedef struct {
    /** The upstream's head. Return true to take the answer (body pieces follow as they
     *  arrive), false to hold it: the attempt collects it (up to 64 KiB of body) and calls
     *  done at its end, when cc_attempt_held gives it. */
    bool (*head)(void *arg, int status, const cc_headers_t *h, long long content_length);
    void (*body)(void *arg, const char *data, size_t len);
    void (*done)(void *arg);
    /** The exchange failed; `after_head` tells whether head was already called. */
    void (*fail)(void *arg, cc_up_fail_t kind, const char *msg, bool after_head);
} cc_attempt_cb_t;

/** Builds an attempt at deployment `deployment` (an index into r->cfg->models) for `r` as
 *  the hooks left it; another deployment than the routed one (a member of its group, a
 *  fallback) gets its own model in the body. `read_answer`: ccproxy will parse the answer (event hooks), so it asks
 *  for no content encoding. Returns NULL with a message for the client in `err` and the
 *  client's status in *status: 400 when the request cannot be translated, 500 when the
 *  deployment cannot be reached as configured or memory ran out. */
cc_attempt_t *cc_attempt_new(const cc_preq_t *r, int deployment, bool read_answer, int *status,
                             cc_buf_t *err);
/** The Anthropic answer when the adapter answers without calling the upstream
 *  (count_tokens for another provider), else NULL. */
const cc_buf_t *cc_attempt_local_answer(const cc_attempt_t *a);
/** Sends the request; callbacks start on a later loop turn. Returns 0, or -1 when out of
 *  memory. */
int cc_attempt_send(cc_attempt_t *a, cc_pool_t *pool, const cc_attempt_cb_t *cb, void *arg);
void cc_attempt_pause(cc_attempt_t *a);
void cc_attempt_resume(cc_attempt_t *a);
/** Gives the attempt up wherever it is (resolving, connecting, in TLS, writing, waiting,
 *  streaming): the upstream exchange is cancelled and no callback runs after this. */
void cc_attempt_abandon(cc_attempt_t *a);
/** Frees the attempt (abandoning it first if it still runs). NULL is fine. */
void cc_attempt_free(cc_attempt_t *a);

/** A held answer. */
typedef struct {
    int status;
    const cc_headers_t *headers;
    const char *body;
    size_t body_len;
} cc_attempt_answer_t;

/** The answer the user held, once done was called. Returns false when none was held. */
bool cc_attempt_held(const cc_attempt_t *a, cc_attempt_answer_t *out);

/** The adapter translating this attempt's answer (NULL for Anthropic) and its context. */
const cc_provider_t *cc_attempt_provider(const cc_attempt_t *a);
const cc_xlate_ctx_t *cc_attempt_xlate(const cc_attempt_t *a);
/** The deployment (an index into cfg->models) and the model it is asked for. */
int cc_attempt_deployment(const cc_attempt_t *a);
const char *cc_attempt_upstream_model(const cc_attempt_t *a);
/** Lowers the first-byte timeout to `ms` when that is shorter (the request's deadline).
 *  Before cc_attempt_send. */
void cc_attempt_limit_first_byte(cc_attempt_t *a, unsigned ms);
/** The upstream's host name, for messages. */
const char *cc_attempt_host(const cc_attempt_t *a);
/** The request's upstream fields (without Host, Content-Length and Connection, which the
 *  upstream exchange adds). */
cc_headers_t *cc_attempt_headers(cc_attempt_t *a);

/** The request as it goes on the wire, for `ccproxy explain` and specs. Borrowed from `a`. */
typedef struct {
    const char *method;
    bool tls;
    const char *host; /* without brackets for IPv6 */
    int port;
    const char *target; /* path and query */
    const char *body;
    size_t body_len;
} cc_attempt_wire_t;

void cc_attempt_wire(const cc_attempt_t *a, cc_attempt_wire_t *out);

#endif
