/* usage.h: the token usage of an answer, read from its body as the bytes pass, in Anthropic's
 * form (a translated answer is read after its translation), without holding the answer back.
 *
 *   event stream   only `message_start` (its message.usage) and `message_delta` (its usage)
 *                  are parsed; every other event's bytes are skipped, never stored. A usage
 *                  field present in a later event replaces the earlier value (message_delta's
 *                  output_tokens is the total so far). At most one event's data is kept, up
 *                  to 256 KiB; a longer usage event is skipped. The names `message_stop`
 *                  and `error` are noted (stream_end): a stream that ends without
 *                  message_stop is incomplete.
 *   whole JSON     the top-level `usage` object of a valid JSON object, scanned as it passes;
 *                  only that member's bytes are kept (up to 64 KiB).
 *
 * Anything else (an error body, count_tokens, bytes that are not JSON) leaves the usage unseen;
 * reading never fails and never changes the bytes.
 * Ownership: the reader writes into the cc_usage_t its user gives it, which must outlive it. */
#ifndef CC_USAGE_H
#define CC_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/** The tokens an answer reports. Unreported fields are 0. */
typedef struct {
    bool seen; /* the answer carried a usage object */
    unsigned long long input;          /* input_tokens (not counting the cache) */
    unsigned long long output;         /* output_tokens */
    unsigned long long cache_creation; /* cache_creation_input_tokens */
    unsigned long long cache_read;     /* cache_read_input_tokens */
    unsigned long long web_search;     /* server_tool_use.web_search_requests */
    unsigned long long web_fetch;      /* server_tool_use.web_fetch_requests */
    uint8_t stream_end; /* how an event stream ended: CC_STREAM_END_* (a whole answer: 0) */
} cc_usage_t;

/** The last of the events that end an Anthropic stream that the reader saw. */
enum { CC_STREAM_END_NONE, CC_STREAM_END_STOP /* message_stop */, CC_STREAM_END_ERROR /* error */ };

/** input + cache_creation + cache_read + output: the tokens a tpm limit counts. */
unsigned long long cc_usage_total(const cc_usage_t *u);

/** Appends the log line's field, " tokens=in:N,out:N,cache_read:N,cache_write:N", when the
 *  usage was seen; nothing otherwise. */
void cc_usage_log_field(const cc_usage_t *u, cc_buf_t *out);

/** How a body is read. */
typedef enum {
    CC_USAGE_NONE, /* not at all */
    CC_USAGE_SSE,  /* text/event-stream */
    CC_USAGE_JSON, /* application/json */
} cc_usage_form_t;

/** The form for a Content-Type value (NULL: none). */
cc_usage_form_t cc_usage_form(const char *content_type);

/** The most data bytes of one usage event kept (a longer one is skipped). */
#define CC_USAGE_MAX_EVENT (256u * 1024u)
/** The most bytes of a whole answer's usage member kept (a longer one is not read). */
#define CC_USAGE_MAX_MEMBER (64u * 1024u)

typedef struct cc_usage_reader_s cc_usage_reader_t;

/** A reader of a body of form `form`; it clears *out and writes the usage into it: an event
 *  stream's as each usage event completes, a whole answer's at cc_usage_finish. Returns NULL
 *  when out of memory. */
cc_usage_reader_t *cc_usage_reader_new(cc_usage_form_t form, cc_usage_t *out);
/** Lowers CC_USAGE_MAX_EVENT for this reader (tests; 0 keeps it). */
void cc_usage_reader_limit(cc_usage_reader_t *r, size_t max_event_bytes);
/** The body's next bytes, split anywhere. */
void cc_usage_feed(cc_usage_reader_t *r, const char *data, size_t len);
/** The body's end: an event stream's last event without its blank line counts; a whole
 *  answer's usage is written now. Later feeds are ignored. */
void cc_usage_finish(cc_usage_reader_t *r);
/** The data bytes the reader keeps now (tests: a skipped event keeps none). */
size_t cc_usage_reader_held(const cc_usage_reader_t *r);
/** NULL is fine. */
void cc_usage_reader_free(cc_usage_reader_t *r);

#endif
