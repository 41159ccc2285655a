/* sink_client.c: the last sink of every chain: the client's connection (see sinks.h). */
#include <stdlib.h>

#include "sinks.h"

typedef struct {
    cc_sink_t base;
    cc_conn_t *conn;
    cc_answer_t *ans;
} client_sink_t;

static void client_head(cc_sink_t *s, int status, cc_headers_t *h, long long cl) {
    client_sink_t *c = (client_sink_t *)s;
    c->ans->status = status;
    c->ans->head_sent = true;
    cc_conn_write_head(c->conn, status, h, cl);
}

static void client_body(cc_sink_t *s, const char *data, size_t len) {
    cc_conn_write_body(((client_sink_t *)s)->conn, data, len);
}

static void client_end(cc_sink_t *s, int status) {
    (void)status;
    cc_conn_end(((client_sink_t *)s)->conn);
}

static void client_free(cc_sink_t *s) {
    free(s);
}

static const cc_sink_ops_t client_ops = {client_head, client_body, client_end, client_free};

cc_sink_t *cc_sink_client_new(cc_conn_t *conn, cc_answer_t *ans) {
    client_sink_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->base.ops = &client_ops;
    c->conn = conn;
    c->ans = ans;
    return &c->base;
}

void cc_sink_client_break(cc_sink_t *s, bool reset) {
    cc_conn_break(((client_sink_t *)s)->conn, reset);
}
