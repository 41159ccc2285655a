/* sink_hold.c: holds a whole answer until its end (see sinks.h). A translated whole answer may
 * turn out to be an error only at its end; holding its head lets the client get the right
 * status and a Content-Length. */
#include <stdlib.h>

#include "buf.h"
#include "sinks.h"

typedef struct {
    cc_sink_t base;
    int status;
    cc_headers_t headers;
    cc_buf_t body;
} hold_sink_t;

static void hold_head(cc_sink_t *s, int status, cc_headers_t *h, long long cl) {
    (void)cl;
    hold_sink_t *k = (hold_sink_t *)s;
    k->status = status;
    cc_headers_free(&k->headers);
    cc_headers_copy(&k->headers, h);
}

static void hold_body(cc_sink_t *s, const char *data, size_t len) {
    cc_buf_append(&((hold_sink_t *)s)->body, data, len);
}

static void hold_end(cc_sink_t *s, int status) {
    hold_sink_t *k = (hold_sink_t *)s;
    if (status > 0) k->status = status;
    cc_sink_head(s->next, k->status, &k->headers, (long long)k->body.len);
    cc_sink_body(s->next, k->body.data, k->body.len);
    cc_sink_end(s->next, 0);
}

static void hold_free(cc_sink_t *s) {
    hold_sink_t *k = (hold_sink_t *)s;
    cc_headers_free(&k->headers);
    cc_buf_free(&k->body);
    free(k);
}

static const cc_sink_ops_t hold_ops = {hold_head, hold_body, hold_end, hold_free};

cc_sink_t *cc_sink_hold_new(void) {
    hold_sink_t *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->base.ops = &hold_ops;
    return &k->base;
}
