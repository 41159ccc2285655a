/* sink.h: the answer's way to the client, as a chain of sinks (in the manner of output
 * filters). Each sink takes the head, the body pieces and the end from the one before it and
 * gives its next one what that should see. An exchange composes its chain when the upstream's
 * head arrives, from what the answer needs:
 *
 *   translate (another provider's answer -> Anthropic's)      sink_translate.c
 *   -> usage (reads the token usage, passes every byte on)     sink_usage.c
 *      (a 2xx answer to POST /v1/messages: always Anthropic's form here)
 *   -> response (ccproxy's own fields, the response hooks)     sink_response.c
 *   -> events (the event hooks, on an event stream)            sink_events.c
 *   -> hold (a whole translated answer: the head waits)        sink_hold.c
 *   -> client (the connection's writes and its end)            sink_client.c
 *
 * Ownership: the exchange owns every sink of its chain and frees them all with
 * cc_sink_chain_free; a sink never frees another. Sinks share one cc_answer_t, the
 * exchange's record of what the client gets. */
#ifndef CC_SINK_H
#define CC_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/headers.h"
#include "usage.h"

/** What the client gets, written by the sinks as the answer passes. */
typedef struct {
    int status;     /* the client's status (after translation and response hooks) */
    bool sse;       /* the answer is an event stream */
    bool head_sent; /* the client has the head: a failure now breaks the answer */
    unsigned attempts; /* upstream attempts it took (x-ccproxy-attempts when more than 1) */
    cc_usage_t usage;  /* the tokens the answer reports (sink_usage.c; seen false: unknown) */
    bool stream_read;  /* a 2xx event stream whose events were read: usage.stream_end tells
                          whether it ended with message_stop (sink_usage.c) */
    char unread_encoding[24]; /* a 2xx answer whose usage was not read because the upstream
                                 encoded it: its content-encoding ("gzip"), else "" */
} cc_answer_t;

typedef struct cc_sink_s cc_sink_t;

typedef struct {
    /** The head; a sink may edit `h` before passing it on. `content_length` -1: unknown. */
    void (*head)(cc_sink_t *s, int status, cc_headers_t *h, long long content_length);
    void (*body)(cc_sink_t *s, const char *data, size_t len);
    /** The end. `status` > 0 is a final status that replaces the head's while the head is
     *  still held (a whole answer that turned out to be an error only at its end). */
    void (*end)(cc_sink_t *s, int status);
    void (*free)(cc_sink_t *s);
} cc_sink_ops_t;

struct cc_sink_s {
    const cc_sink_ops_t *ops;
    cc_sink_t *next;
};

static inline void cc_sink_head(cc_sink_t *s, int status, cc_headers_t *h, long long cl) {
    s->ops->head(s, status, h, cl);
}
static inline void cc_sink_body(cc_sink_t *s, const char *data, size_t len) {
    if (len) s->ops->body(s, data, len);
}
static inline void cc_sink_end(cc_sink_t *s, int status) {
    s->ops->end(s, status);
}

/** Frees `first` and every sink after it. */
void cc_sink_chain_free(cc_sink_t *first);

#endif
