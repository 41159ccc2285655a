/* sink_events.c: the event hooks in the chain (see sinks.h). An event stream is parsed; every
 * event goes through the hooks and what they leave of it is sent re-framed (so the length is
 * no longer known). Other answers pass untouched. Only this sink makes ccproxy parse a
 * pass-through stream. */
#include <stdlib.h>

#include "buf.h"
#include "sinks.h"
#include "http/sse.h"

typedef struct {
    cc_sink_t base;
    cc_pipeline_t *pipeline;
    cc_preq_t *r;
    cc_answer_t *ans;
    bool active; /* the answer is an event stream */
    cc_sse_parser_t in;
    cc_buf_t out;
} events_sink_t;

static int on_event(void *arg, const cc_sse_event_t *ev) {
    events_sink_t *k = arg;
    cc_pipeline_event(k->pipeline, k->r, ev->event, ev->data, ev->data_len, &k->out);
    return 0;
}

static void events_head(cc_sink_t *s, int status, cc_headers_t *h, long long cl) {
    events_sink_t *k = (events_sink_t *)s;
    if (k->ans->sse && !k->active) {
        k->active = true;
        cc_sse_parser_init(&k->in, on_event, k);
        cl = -1;
    }
    cc_sink_head(s->next, status, h, cl);
}

static void flush(events_sink_t *k) {
    if (k->out.len) cc_sink_body(k->base.next, k->out.data, k->out.len);
    cc_buf_reset(&k->out);
}

static void events_body(cc_sink_t *s, const char *data, size_t len) {
    events_sink_t *k = (events_sink_t *)s;
    if (!k->active) {
        cc_sink_body(s->next, data, len);
        return;
    }
    cc_sse_feed(&k->in, data, len);
    flush(k);
}

static void events_end(cc_sink_t *s, int status) {
    events_sink_t *k = (events_sink_t *)s;
    if (k->active) {
        cc_sse_finish(&k->in);
        flush(k);
    }
    cc_sink_end(s->next, status);
}

static void events_free(cc_sink_t *s) {
    events_sink_t *k = (events_sink_t *)s;
    if (k->active) cc_sse_parser_free(&k->in);
    cc_buf_free(&k->out);
    free(k);
}

static const cc_sink_ops_t events_ops = {events_head, events_body, events_end, events_free};

cc_sink_t *cc_sink_events_new(cc_pipeline_t *p, cc_preq_t *r, cc_answer_t *ans) {
    events_sink_t *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->base.ops = &events_ops;
    k->pipeline = p;
    k->r = r;
    k->ans = ans;
    return &k->base;
}
