/* attempt.c: one try at the upstream (see attempt.h).
 *
 *   new:  deployment -> adapter request (or a local answer) -> target, fields (credentials.c),
 *         body (other providers' thinking removed before Anthropic)
 *   send: upstream exchange (upstream.c) -> head: taken (body streams to the user) or held
 *         (collected) -> done | fail
 *   abandon / free: the upstream exchange is cancelled wherever it is; no callback after
 */
#include "attempt.h"

#include <stdlib.h>
#include <string.h>

#include "providers/anthropic_thinking.h"
#include "credentials.h"
#include "json/json_body.h"
#include "http/url.h"

#define HELD_BODY_MAX 65536

struct cc_attempt_s {
    const cc_preq_t *r;
    const cc_model_t *d;
    const cc_provider_t *prov;
    cc_xlate_ctx_t xctx;
    cc_xlate_request_t xreq;
    char *upstream_model;    /* the model this deployment gets */
    cc_buf_t model_body;     /* the body with that model, when it differs from the request's */
    cc_buf_t anthropic_body; /* the body without other providers' thinking blocks */
    char *target;
    char host[256];
    cc_headers_t headers;
    cc_upstream_req_t ur;
    cc_upstream_t *up;       /* while the upstream exchange runs */
    cc_attempt_cb_t cb;
    void *arg;
    bool holding;            /* the user held the answer */
    int held_status;
    cc_headers_t held_headers;
    cc_buf_t held_body;
};

/* The adapter's request. Returns 0, or -1 with *status and `err` set. */
static int translate(cc_attempt_t *a, int *status, cc_buf_t *err) {
    const cc_preq_t *r = a->r;
    const cc_buf_t *body = cc_preq_body(r);
    a->xctx = (cc_xlate_ctx_t){
        .deployment = a->d,
        .upstream_model = a->upstream_model,
        .client_model = r->model ? r->model : r->upstream_model,
        .endpoint = r->endpoint,
        .stream = r->stream,
    };
    if (a->prov->request(&a->xctx, body->data ? body->data : "", body->len, &a->xreq, err) < 0) {
        if (!err->len) cc_buf_puts(err, "the request cannot be translated");
        *status = 400;
        return -1;
    }
    /* response_new may read the client body (a Perplexity answer names the search query). */
    a->xctx.body = body->data;
    a->xctx.body_len = body->len;
    return 0;
}

cc_attempt_t *cc_attempt_new(const cc_preq_t *r, int deployment, bool read_answer, int *status,
                             cc_buf_t *err) {
    cc_attempt_t *a = calloc(1, sizeof *a);
    if (!a) {
        *status = 500;
        cc_buf_puts(err, "out of memory");
        return NULL;
    }
    a->r = r;
    a->d = &r->cfg->models[deployment];
    a->prov = cc_provider_for(a->d->provider);
    /* Another member of the routed group serves its own model (a wildcard one the request's). */
    const char *model = r->upstream_model ? r->upstream_model : "";
    if (deployment != r->deployment && a->d->upstream_model && strcmp(a->d->upstream_model, "*"))
        model = a->d->upstream_model;
    a->upstream_model = strdup(model);
    if (!a->upstream_model) {
        *status = 500;
        cc_buf_puts(err, "out of memory");
        goto fail;
    }
    if (a->prov && translate(a, status, err) < 0) goto fail;
    if (a->xreq.local_answer) return a;
    cc_url_t url;
    char uerr[300];
    if (!a->d->api_base || cc_url_parse(a->d->api_base, &url, uerr, sizeof uerr) < 0) {
        cc_buf_puts(err, a->d->api_base ? uerr : "the deployment has no api_base");
        *status = 500;
        goto fail;
    }
    snprintf(a->host, sizeof a->host, "%s", url.host);
    const cc_buf_t *body = cc_preq_body(r);
    cc_buf_t target = CC_BUF_INIT;
    if (a->prov) {
        cc_buf_printf(&target, "%s%s", url.path, a->xreq.target.data ? a->xreq.target.data : "");
        body = &a->xreq.body;
    } else {
        const char *path = r->client->path, *query = r->client->query;
        size_t room = strlen(url.path) + strlen(path) + (query ? strlen(query) + 1 : 0) + 1;
        char *t = malloc(room);
        if (t) {
            cc_url_target(&url, path, query, t, room);
            cc_buf_puts(&target, t);
            free(t);
        }
        const char *cur = cc_preq_model(r);
        if (!cur || strcmp(cur, a->upstream_model) != 0) {
            cc_buf_t v = CC_BUF_INIT;
            cc_buf_puts(&v, "\"");
            cc_buf_json_escape(&v, a->upstream_model, strlen(a->upstream_model));
            cc_buf_puts(&v, "\"");
            cc_json_edit_t ed = {"model", v.data, v.len};
            if (cc_json_apply_edits(body->data ? body->data : "", body->len, &ed, 1,
                                    &a->model_body) == 0)
                body = &a->model_body;
            cc_buf_free(&v);
        }
        /* Reasoning another provider produced never reaches Anthropic with a made-up
         * signature. */
        if (cc_anthropic_strip_foreign_thinking(body->data ? body->data : "", body->len,
                                                &a->anthropic_body) == 1)
            body = &a->anthropic_body;
    }
    a->target = cc_buf_steal(&target, NULL);
    if (!a->target) {
        cc_buf_puts(err, "out of memory");
        *status = 500;
        goto fail;
    }
    cc_credentials_in_t cin = {
        .request = &r->headers,
        .written = &r->written,
        .deployment = a->d,
        .adapter = a->prov ? &a->xreq.headers : NULL,
    };
    cc_credentials_headers(&cin, &a->headers);
    if (a->prov || read_answer) cc_headers_set(&a->headers, "Accept-Encoding", "identity");
    const cc_limits_t *lim = &r->cfg->limits;
    a->ur = (cc_upstream_req_t){
        .origin = {.tls = url.tls, .host = a->host, .port = url.port, .verify = a->d->ssl_verify,
                   .ca_file = a->d->ca_file},
        .method = r->client->method,
        .target = a->target,
        .headers = &a->headers,
        .body = body->data ? body->data : "",
        .body_len = body->len,
        .first_byte_timeout_ms = a->d->timeout > 0 ? (unsigned)(a->d->timeout * 1000)
                                                   : lim->first_byte_timeout_ms,
        .idle_timeout_ms = lim->upstream_idle_timeout_ms,
    };
    return a;
fail:
    cc_attempt_free(a);
    return NULL;
}

const cc_buf_t *cc_attempt_local_answer(const cc_attempt_t *a) {
    return a->xreq.local_answer ? &a->xreq.body : NULL;
}

/* --- the upstream's answer ------------------------------------------------------------- */

static void on_head(void *arg, int status, const cc_headers_t *h, long long content_length) {
    cc_attempt_t *a = arg;
    if (a->cb.head(a->arg, status, h, content_length)) return;
    a->holding = true;
    a->held_status = status;
    cc_headers_copy(&a->held_headers, h);
}

static void on_body(void *arg, const char *data, size_t len) {
    cc_attempt_t *a = arg;
    if (!a->holding) {
        a->cb.body(a->arg, data, len);
        return;
    }
    if (a->held_body.len + len <= HELD_BODY_MAX) cc_buf_append(&a->held_body, data, len);
}

static void on_done(void *arg) {
    cc_attempt_t *a = arg;
    a->up = NULL;
    a->cb.done(a->arg);
}

static void on_fail(void *arg, cc_up_fail_t kind, const char *msg, bool after_head) {
    cc_attempt_t *a = arg;
    a->up = NULL;
    a->cb.fail(a->arg, kind, msg, after_head && !a->holding);
}

int cc_attempt_send(cc_attempt_t *a, cc_pool_t *pool, const cc_attempt_cb_t *cb, void *arg) {
    static const cc_upstream_cb_t up_cb = {on_head, on_body, on_done, on_fail};
    a->cb = *cb;
    a->arg = arg;
    a->up = cc_upstream_start(pool, &a->ur, &up_cb, a);
    return a->up ? 0 : -1;
}

void cc_attempt_pause(cc_attempt_t *a) {
    if (a && a->up) cc_upstream_pause(a->up);
}

void cc_attempt_resume(cc_attempt_t *a) {
    if (a && a->up) cc_upstream_resume(a->up);
}

void cc_attempt_abandon(cc_attempt_t *a) {
    if (!a || !a->up) return;
    cc_upstream_cancel(a->up);
    a->up = NULL;
}

void cc_attempt_free(cc_attempt_t *a) {
    if (!a) return;
    cc_attempt_abandon(a);
    cc_xlate_request_free(&a->xreq);
    free(a->upstream_model);
    cc_buf_free(&a->model_body);
    cc_buf_free(&a->anthropic_body);
    free(a->target);
    cc_headers_free(&a->headers);
    cc_headers_free(&a->held_headers);
    cc_buf_free(&a->held_body);
    free(a);
}

bool cc_attempt_held(const cc_attempt_t *a, cc_attempt_answer_t *out) {
    if (!a->holding) return false;
    *out = (cc_attempt_answer_t){a->held_status, &a->held_headers,
                                 a->held_body.data ? a->held_body.data : "", a->held_body.len};
    return true;
}

const cc_provider_t *cc_attempt_provider(const cc_attempt_t *a) {
    return a->prov;
}

const cc_xlate_ctx_t *cc_attempt_xlate(const cc_attempt_t *a) {
    return &a->xctx;
}

int cc_attempt_deployment(const cc_attempt_t *a) {
    return (int)(a->d - a->r->cfg->models);
}

const char *cc_attempt_upstream_model(const cc_attempt_t *a) {
    return a->upstream_model;
}

void cc_attempt_limit_first_byte(cc_attempt_t *a, unsigned ms) {
    if (ms && (!a->ur.first_byte_timeout_ms || ms < a->ur.first_byte_timeout_ms))
        a->ur.first_byte_timeout_ms = ms;
}

const char *cc_attempt_host(const cc_attempt_t *a) {
    return a->host;
}

cc_headers_t *cc_attempt_headers(cc_attempt_t *a) {
    return &a->headers;
}

void cc_attempt_wire(const cc_attempt_t *a, cc_attempt_wire_t *out) {
    *out = (cc_attempt_wire_t){a->ur.method, a->ur.origin.tls, a->host, a->ur.origin.port,
                               a->target, a->ur.body, a->ur.body_len};
}
