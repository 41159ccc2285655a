/* sse.h: server-sent events, both ways. The parser takes bytes split anywhere (a chunk may end
 * inside a field name, a line, or between "\r" and "\n") and hands out whole events; the writer
 * frames one event. Used for every stream ccproxy reads or writes.
 * Ownership: the parser owns its buffers; an event passed to the callback is valid only during
 * the call. */
#ifndef CC_SSE_H
#define CC_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

typedef struct {
    const char *event; /* the "event:" field, "" when absent (then "message" by the spec) */
    const char *data;  /* the "data:" lines joined with "\n" */
    size_t data_len;
    const char *id;    /* "" when absent */
} cc_sse_event_t;

/** Called for each complete event. Return non-zero to stop parsing (cc_sse_feed returns it). */
typedef int (*cc_sse_event_fn)(void *arg, const cc_sse_event_t *ev);

typedef struct {
    cc_buf_t line;  /* the line being collected */
    cc_buf_t event, data, id;
    bool has_data;
    bool cr;        /* the last byte was '\r' (a following '\n' belongs to it) */
    bool bom_checked;
    size_t max_event_bytes; /* 0 = 16 MiB */
    cc_sse_event_fn fn;
    void *arg;
} cc_sse_parser_t;

void cc_sse_parser_init(cc_sse_parser_t *p, cc_sse_event_fn fn, void *arg);
/** Feeds bytes; events are delivered as they complete. Returns 0, what a callback returned,
 *  or -1 when an event grows beyond max_event_bytes. */
int cc_sse_feed(cc_sse_parser_t *p, const char *data, size_t len);
/** At the end of the stream: delivers a last event not followed by a blank line. */
int cc_sse_finish(cc_sse_parser_t *p);
void cc_sse_parser_free(cc_sse_parser_t *p);

/** Appends "event: <name>\ndata: <data>\n\n" (data lines split on '\n'; name may be NULL). */
void cc_sse_write(cc_buf_t *out, const char *name, const char *data, size_t len);

#endif
