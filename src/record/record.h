/* record.h: what one request was, cost and did: one record per request, made by the exchange's
 * finish() (exchange.c) and handed to every record sink (records.h): the store, `ccproxy
 * usage`, the statusline's session totals, /metrics, traces.
 *
 * Ownership: the exchange fills a draft whose strings it only lends, and packs it
 * (cc_record_pack): one allocation holding the record and everything it points at, with a
 * reference count. Every sink reads that one packed record; a sink that keeps it past its
 * take() call holds it (cc_record_hold) and releases it when done (cc_record_release), on any
 * thread. The last release frees it. Nothing writes a packed record once it is shared. */
#ifndef CC_RECORD_H
#define CC_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "usage.h"

/** One upstream attempt of the request. */
typedef struct {
    char *deployment; /* its model_name */
    char *model;      /* its litellm_params.model */
    int status;       /* its answer's status, 0 when it gave none */
    char *reason;     /* NULL when it answered, else "unreachable", "timeout", "tls", "broken" */
    double ms;
} cc_record_attempt_t;

/** A name=value pair a script added to the request (req:tag; capture_headers' h.<name>). */
typedef struct {
    char *name;
    char *value;
} cc_record_tag_t;

typedef struct {
    uint64_t time_ms;         /* wall clock when the request arrived */
    char *id;                 /* the request id (the log line's) */
    char *session_id;         /* Claude Code's session (extract_session_id), NULL if none */
    char *agent_id;           /* x-claude-code-agent-id, NULL if none */
    char *parent_agent_id;    /* x-claude-code-parent-agent-id, NULL if none */
    char *endpoint;           /* "messages", "count_tokens" */
    char *label, *rule;       /* the rules' verdict (label "default" when none matched) */
    char *requested_model;    /* the body's model as the client sent it */
    char *sent_model;         /* the model the answering upstream got */
    char *deployment;         /* the answering deployment's model_name, NULL if not routed */
    char *provider;           /* its provider */
    cc_record_attempt_t *attempts;
    size_t n_attempts;
    int status;               /* what the client got (499: it left first) */
    char *outcome;            /* NULL for a complete answer, else "client-closed", ... */
    bool stream;
    cc_usage_t usage;         /* the tokens the answer reported */
    bool cost_known;          /* every token the answer used has a price */
    double cost_usd;          /* their cost, when known */
    double ttfb_ms;           /* time to the response head, < 0 when none came */
    double total_ms;
    size_t bytes_in, bytes_out; /* the client's request body, the answer's body */
    char *client;             /* who asked: the peer address and the kind of credential,
                                 redacted ("127.0.0.1 oauth sk-ant-oat01-…a1b2") */
    cc_record_tag_t *tags;    /* the request's tags (the log line's), in the order added */
    size_t n_tags;
} cc_record_t;

/** A credential as it may be shown (the rule of lua/ccproxy/redact.lua): its scheme, a key
 *  prefix of up to three short lower-case words ("sk-ant-oat01-"), "...", and the last 4
 *  characters when more than 8 are left to hide; "Basic ..." for Basic credentials. */
void cc_record_redact(const char *value, char *out, size_t outlen);

/** A packed copy of `draft` (which only needs to live for this call), holding one reference;
 *  NULL when out of memory. */
cc_record_t *cc_record_pack(const cc_record_t *draft);
/** One more reference to the packed record `r` (NULL is fine); returns `r`. */
cc_record_t *cc_record_hold(cc_record_t *r);
/** Drops one reference to the packed record `r`; the last frees it. NULL is fine. */
void cc_record_release(cc_record_t *r);

/** The record as one JSON object (the store's and the endpoints' shape), appended to `out`:
 *  the fields above by their names, usage as {input, output, cache_creation, cache_read,
 *  web_search, web_fetch} (null when not seen), cost_usd null when not known, tags as
 *  {name: value} (a repeated name: the last value). */
void cc_record_json(const cc_record_t *r, cc_buf_t *out);

#endif
