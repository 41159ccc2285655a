/* sink_response.c: the response stage of the chain (see sinks.h): ccproxy's own head fields,
 * then the response hooks, which may change the status and the fields the client gets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sinks.h"

typedef struct {
    cc_sink_t base;
    cc_pipeline_t *pipeline;
    cc_preq_t *r;
    cc_answer_t *ans;
} response_sink_t;

static void response_head(cc_sink_t *s, int status, cc_headers_t *h, long long cl) {
    response_sink_t *k = (response_sink_t *)s;
    const cc_preq_t *r = k->r;
    const char *ct = cc_headers_get(h, "content-type");
    k->ans->sse = ct && strncasecmp(ct, "text/event-stream", 17) == 0;
    if (r->routed) {
        cc_headers_set(h, "x-ccproxy-deployment", r->cfg->models[r->deployment].model_name);
        if (r->upstream_model) cc_headers_set(h, "x-ccproxy-model", r->upstream_model);
    }
    cc_headers_set(h, "x-ccproxy-label", r->label ? r->label : "default");
    if (k->ans->attempts > 1) {
        char n[16];
        snprintf(n, sizeof n, "%u", k->ans->attempts);
        cc_headers_set(h, "x-ccproxy-attempts", n);
    }
    if (cc_pipeline_stages(k->pipeline)->response)
        cc_pipeline_response(k->pipeline, k->r, &status, h);
    k->ans->status = status;
    cc_sink_head(s->next, status, h, cl);
}

static void response_body(cc_sink_t *s, const char *data, size_t len) {
    cc_sink_body(s->next, data, len);
}

static void response_end(cc_sink_t *s, int status) {
    cc_sink_end(s->next, status);
}

static void response_free(cc_sink_t *s) {
    free(s);
}

static const cc_sink_ops_t response_ops = {response_head, response_body, response_end,
                                           response_free};

cc_sink_t *cc_sink_response_new(cc_pipeline_t *p, cc_preq_t *r, cc_answer_t *ans) {
    response_sink_t *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->base.ops = &response_ops;
    k->pipeline = p;
    k->r = r;
    k->ans = ans;
    return &k->base;
}
