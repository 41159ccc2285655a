/* exchange.c: one proxied request from end to end (see exchange.h).
 *
 *   PIPELINE   rules and hooks label, edit and route the request (pipeline.c)
 *   UPSTREAM   an attempt carries it to the deployment (attempt.c)
 *   REFRESHING a 401 to a request that used an oat_sources token: the token command runs,
 *              then a second attempt goes with the new token (or the 401 is relayed)
 *              (a 400 from Anthropic rejecting a thinking block's signature goes again
 *              once, at once, without the conversation's thinking blocks)
 *   ANSWERING  the chain of sinks carries the answer to the client as it arrives (sink.h);
 *              the client's write queue over its high mark pauses the attempt, draining
 *              resumes it
 *   FINISHED   finish(outcome): one log line, the done stage once, the Lua state released;
 *              the memory goes once no callback is still to come (a token command)
 *
 * The client leaving, in any state, abandons the attempt and finishes the exchange; the
 * client's side is never touched again. Failures before the client has the head get an
 * Anthropic error; after it, the client's answer breaks as the upstream's did (its
 * connection closes without the rest of the framing), so the client recovers as it would
 * from the upstream itself.
 */
#define _GNU_SOURCE /* memmem */
#include "exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "http/api_error.h"
#include "attempt.h"
#include "http/http_request.h"
#include "credentials.h"
#include "log.h"
#include "oauth.h"
#include "lua/pipeline.h"
#include "preq.h"
#include "providers/anthropic_thinking.h"
#include "record/records.h"
#include "routing/router.h"
#include "sinks.h"
#include "stats.h"
#include "tokens.h"
#include "worker.h"

typedef enum { EX_PIPELINE, EX_UPSTREAM, EX_REFRESHING, EX_ANSWERING, EX_FINISHED } ex_state_t;

typedef struct {
    ex_state_t state;
    cc_conn_t *conn;        /* NULL once the client left or its response ended */
    cc_worker_t *w;
    cc_wgen_t *wg;          /* the generation this request pinned */
    const cc_config_t *cfg; /* wg->gen->cfg */
    char id[24];            /* the request id (the connection's changes with its next request) */
    cc_request_t req;       /* the client's request, taken from the connection (which reads the
                               next one as soon as this one's response ends) */
    cc_preq_t r;
    bool piped;             /* the request stage ran: the done stage runs too */
    cc_attempt_t *attempt;  /* the current attempt */
    int dep;                /* its deployment */
    bool busy;              /* the router counts the attempt as in progress at dep */
    cc_route_plan_t plan;   /* the groups and deployments the attempts may go to (router.h) */
    bool no_retry;          /* the upstream said x-should-retry: false */
    unsigned retry_after_ms; /* what the last failed attempt's upstream asked for */
    uv_timer_t *retry_timer; /* waits before the next attempt; closed (and freed) at finish */
    uint64_t deadline_ns;   /* no attempt waits for a first byte, nor a retry waits, past it */
    uint64_t attempt_ns;    /* when the current attempt started */
    cc_buf_t tried;         /* " name:status:ms" of each failed attempt, for the log line */
    bool refreshed;         /* the token was refreshed once already */
    bool thinking_stripped; /* the request went again without its thinking blocks */
    long input_estimate;    /* its input tokens as ccproxy estimates them (0: not yet) */
    bool token_pending;     /* a token command will call back with this exchange */
    cc_answer_t ans;
    cc_sink_t *chain;       /* the answer's sinks, first to last */
    cc_sink_t *client;      /* ... the last one */
    bool paused;
    size_t bytes;           /* body bytes from the upstream */
    uint64_t start_ns, head_ns;
    uint64_t start_wall_ms; /* start_ns on the wall clock, for the record */
    double cost_usd;        /* what the answer's tokens cost ... */
    bool cost_known;        /* ... when every kind it used has a price */
} exchange_t;

/* --- the end ------------------------------------------------------------------------------ */

static cc_router_t *router(const exchange_t *ex) {
    return ex->wg->gen->router;
}

/* The current attempt is over: the router's count of attempts in progress drops. */
static void attempt_over(exchange_t *ex, unsigned long long tokens) {
    if (!ex->busy) return;
    ex->busy = false;
    cc_router_end(router(ex), ex->dep, tokens);
}


static void maybe_free(exchange_t *ex) {
    if (ex->state != EX_FINISHED || ex->token_pending) return;
    cc_route_plan_free(&ex->plan);
    cc_buf_free(&ex->tried);
    cc_preq_free(&ex->r);
    cc_request_clear(&ex->req);
    cc_wgen_unref(ex->wg);
    free(ex);
}

/* " name=value" for each tag a script added; values with spaces or quotes are quoted. */
static void format_tags(const cc_headers_t *tags, cc_buf_t *out) {
    for (size_t i = 0; i < tags->n; i++) {
        const char *v = tags->items[i].value;
        if (*v && !strpbrk(v, " \t\"=")) {
            cc_buf_printf(out, " %s=%s", tags->items[i].name, v);
        } else {
            cc_buf_printf(out, " %s=\"", tags->items[i].name);
            cc_buf_json_escape(out, v, strlen(v));
            cc_buf_puts(out, "\"");
        }
    }
}

static double ms_since(uint64_t from_ns, uint64_t to_ns) {
    return (double)(to_ns - from_ns) / 1e6;
}

static void log_line(exchange_t *ex, const char *outcome, uint64_t now) {
    const cc_preq_t *r = &ex->r;
    cc_buf_t tags = CC_BUF_INIT;
    cc_usage_log_field(&ex->ans.usage, &tags);
    if (ex->ans.usage.seen && ex->cost_known)
        cc_buf_printf(&tags, " cost=$%.6f", ex->cost_usd);
    else if (ex->ans.usage.seen)
        cc_buf_puts(&tags, " cost=?");
    else if (ex->ans.unread_encoding[0]) /* an upstream that compressed although asked not to */
        cc_buf_printf(&tags, " usage=unread(content-encoding %s)", ex->ans.unread_encoding);
    if (ex->plan.attempts > 1)
        cc_buf_printf(&tags, " attempts=%u failed=%s", ex->plan.attempts,
                      ex->tried.data ? ex->tried.data + 1 : "-");
    format_tags(&r->tags, &tags);
    const char *dep = r->routed ? ex->cfg->models[r->deployment].model_name : "-";
    double ttfb = ex->head_ns ? ms_since(ex->start_ns, ex->head_ns) : -1;
    cc_info("%s %s %s rule=%s label=%s deployment=%s model=%s status=%d bytes=%zu ttfb=%.1fms "
            "total=%.1fms%s%s%s%s%s",
            ex->id, r->client->method, r->client->path, r->rule ? r->rule : "-",
            r->label ? r->label : "default", dep, r->upstream_model ? r->upstream_model : "-",
            ex->ans.status, ex->bytes, ttfb, ms_since(ex->start_ns, now),
            r->session_id ? " session=" : "", r->session_id ? r->session_id : "",
            outcome ? " " : "", outcome ? outcome : "", tags.data ? tags.data : "");
    cc_buf_free(&tags);
}

static void on_timer_closed(uv_handle_t *h) {
    free(h);
}

/* The cost of the answer's tokens, at the answering deployment's prices. */
static void price_answer(exchange_t *ex) {
    if (!ex->ans.usage.seen || !ex->r.routed) return;
    cc_price_t price;
    cc_prices_for(ex->wg->gen->prices, &ex->cfg->models[ex->r.deployment], ex->r.upstream_model,
                  &price);
    ex->cost_known = cc_price_cost(&price, &ex->ans.usage, &ex->cost_usd);
}

/* "claude-cli/2.1.332 sk-ant-oat01-...a1b2": the client's program and its credential, redacted. */
static void describe_client(const cc_request_t *c, char *out, size_t n) {
    const char *ua = cc_headers_get(&c->headers, "user-agent");
    const char *cred = cc_headers_get(&c->headers, "authorization");
    if (!cred) cred = cc_headers_get(&c->headers, "x-api-key");
    char red[96] = "no credential";
    if (cred) cc_record_redact(cred, red, sizeof red);
    size_t ua_len = ua ? strcspn(ua, " ") : 0;
    snprintf(out, n, "%.*s%s%s", (int)(ua_len < 80 ? ua_len : 80), ua ? ua : "", ua_len ? " " : "",
             red);
}

/* The request's record, to every record sink. */
static void emit_record(exchange_t *ex, const char *outcome, uint64_t now) {
    const cc_preq_t *r = &ex->r;
    const cc_request_t *c = &ex->req;
    const cc_model_t *dep = r->routed ? &ex->cfg->models[r->deployment] : NULL;
    char client[200];
    describe_client(c, client, sizeof client);
    /* The draft lends its strings and, mostly, its arrays from the stack: the sinks get one
     * packed copy (cc_records_emit). */
    cc_record_attempt_t att_here[8];
    cc_record_tag_t tags_here[16];
    cc_record_attempt_t *att = r->n_attempts <= 8 ? att_here : calloc(r->n_attempts, sizeof *att);
    size_t n_att = att ? r->n_attempts : 0;
    for (size_t i = 0; i < n_att; i++) {
        const cc_model_t *m = &ex->cfg->models[r->attempts[i].deployment];
        att[i] = (cc_record_attempt_t){m->model_name, m->model, r->attempts[i].status,
                                       (char *)r->attempts[i].reason, r->attempts[i].ms};
    }
    cc_record_tag_t *tags = r->tags.n <= 16 ? tags_here : calloc(r->tags.n, sizeof *tags);
    size_t n_tags = tags ? r->tags.n : 0;
    for (size_t i = 0; i < n_tags; i++)
        tags[i] = (cc_record_tag_t){r->tags.items[i].name, r->tags.items[i].value};
    /* Borrowed strings: the record lives for this call only. */
    cc_record_t rec = {
        .time_ms = ex->start_wall_ms,
        .id = ex->id,
        .session_id = r->session_id,
        .agent_id = (char *)cc_headers_get(&c->headers, "x-claude-code-agent-id"),
        .parent_agent_id = (char *)cc_headers_get(&c->headers, "x-claude-code-parent-agent-id"),
        .endpoint = (char *)r->endpoint,
        .label = r->label ? r->label : "default",
        .rule = r->rule,
        .requested_model = r->model,
        .sent_model = r->upstream_model,
        .deployment = dep ? dep->model_name : NULL,
        .provider = dep ? dep->provider : NULL,
        .attempts = att,
        .n_attempts = n_att,
        .status = ex->ans.status,
        .outcome = (char *)outcome,
        .stream = r->stream,
        .usage = ex->ans.usage,
        .cost_known = ex->cost_known,
        .cost_usd = ex->cost_usd,
        .ttfb_ms = ex->head_ns ? ms_since(ex->start_ns, ex->head_ns) : -1,
        .total_ms = ms_since(ex->start_ns, now),
        .bytes_in = c->body.len,
        .bytes_out = ex->bytes,
        .client = client,
        .tags = tags,
        .n_tags = n_tags,
    };
    cc_records_emit(&rec);
    if (att != att_here) free(att);
    if (tags != tags_here) free(tags);
}

/* Every way out of an exchange ends here, once: the client's side is already answered (or
 * gone). `outcome` is NULL for a complete answer, else what happened ("client-closed",
 * "upstream-failed", ...), as the log line and the done stage report it. */
static void finish(exchange_t *ex, const char *outcome) {
    if (ex->state == EX_FINISHED) return;
    ex->state = EX_FINISHED;
    atomic_fetch_sub(&cc_stats.requests_in_flight, 1);
    if (ex->piped && ex->r.stream) atomic_fetch_sub(&cc_stats.open_streams, 1);
    ex->conn = NULL;
    cc_attempt_abandon(ex->attempt);
    attempt_over(ex, cc_usage_total(&ex->ans.usage)); /* the tokens count toward its tpm */
    if (ex->retry_timer) {
        uv_close((uv_handle_t *)ex->retry_timer, on_timer_closed);
        ex->retry_timer = NULL;
    }
    uint64_t now = cc_now_ns();
    price_answer(ex);
    log_line(ex, outcome, now);
    if (cc_records_wanted()) emit_record(ex, outcome, now);
    cc_pipeline_t *p = ex->wg->pipeline;
    if (ex->piped && cc_pipeline_stages(p)->done) {
        cc_done_info_t info = {
            .status = ex->ans.status,
            .bytes = ex->bytes,
            .ttfb_ms = ex->head_ns ? ms_since(ex->start_ns, ex->head_ns) : -1,
            .total_ms = ms_since(ex->start_ns, now),
            .outcome = outcome,
            .usage = &ex->ans.usage,
            .cost_known = ex->cost_known,
            .cost_usd = ex->cost_usd,
        };
        cc_pipeline_done(p, &ex->r, &info);
    }
    cc_sink_chain_free(ex->chain);
    ex->chain = ex->client = NULL;
    cc_attempt_free(ex->attempt);
    ex->attempt = NULL;
    if (ex->piped) cc_pipeline_release(p, &ex->r);
    maybe_free(ex);
}

/* An answer of ccproxy's own before any head went out: an Anthropic error, and the end. */
static void fail(exchange_t *ex, int status, const char *type, const char *msg,
                 const char *outcome, bool no_retry) {
    ex->ans.status = status;
    if (no_retry) {
        /* Retrying cannot fix it (a certificate problem): tell the client not to. */
        cc_buf_t body = CC_BUF_INIT;
        cc_api_error_json(&body, type, msg);
        cc_headers_t h = CC_HEADERS_INIT;
        cc_headers_set(&h, "x-should-retry", "false");
        cc_conn_respond(ex->conn, status, "application/json", body.data, body.len, &h);
        cc_headers_free(&h);
        cc_buf_free(&body);
    } else {
        cc_conn_respond_error(ex->conn, status, type, msg);
    }
    finish(ex, outcome);
}

/* --- the answer's chain ------------------------------------------------------------------- */

/* How long a translated stream may be silent before a ping (CCPROXY_PING_INTERVAL_MS for
 * specs; read per stream, so no state is shared between the workers' threads). */
static unsigned ping_interval_ms(void) {
    const char *env = getenv("CCPROXY_PING_INTERVAL_MS");
    long v = env ? strtol(env, NULL, 10) : 0;
    return v > 0 && v < 3600000 ? (unsigned)v : 15000;
}

/* Appends `s` to the chain. Returns -1 when it could not be made (out of memory): a chain
 * missing one of its sinks would send the wrong bytes, so the exchange fails instead. */
static int link_sink(exchange_t *ex, cc_sink_t ***tail, cc_sink_t *s) {
    if (!s) return -1;
    **tail = s;
    *tail = &s->next;
    ex->client = s;
    return 0;
}

/* POST /v1/messages: its answers carry token usage. */
static bool messages_request(const exchange_t *ex) {
    return strcmp(ex->req.method, "POST") == 0 && strcmp(ex->req.path, "/v1/messages") == 0;
}

/* Composes the chain for the answer of `a` (NULL: a local answer, already Anthropic's).
 * Returns 0, or -1 when out of memory. */
static int compose_chain(exchange_t *ex, const cc_attempt_t *a) {
    cc_pipeline_t *p = ex->wg->pipeline;
    const cc_provider_t *prov = a ? cc_attempt_provider(a) : NULL;
    cc_sink_t **tail = &ex->chain;
    if (prov && link_sink(ex, &tail, cc_sink_translate_new(prov, cc_attempt_xlate(a),
                                                           &ex->w->loop, ping_interval_ms())) < 0)
        return -1;
    /* The usage of a 2xx answer to /v1/messages (ans.status: the upstream's, set on taking
     * the answer; a held answer is an error), read where it is always Anthropic's form. */
    if (messages_request(ex) && ex->ans.status >= 200 && ex->ans.status <= 299 &&
        link_sink(ex, &tail, cc_sink_usage_new(&ex->ans)) < 0)
        return -1;
    if (link_sink(ex, &tail, cc_sink_response_new(p, &ex->r, &ex->ans)) < 0) return -1;
    if (cc_pipeline_stages(p)->event &&
        link_sink(ex, &tail, cc_sink_events_new(p, &ex->r, &ex->ans)) < 0)
        return -1;
    if (prov && !cc_attempt_xlate(a)->stream && link_sink(ex, &tail, cc_sink_hold_new()) < 0)
        return -1;
    return link_sink(ex, &tail, cc_sink_client_new(ex->conn, &ex->ans));
}

/* The upstream's answer ended: the chain's end ends the client's response. A 2xx event
 * stream that ended without message_stop went to the client exactly so (the client recovers
 * as it would from the upstream itself); the outcome says what happened. */
static void end_answer(exchange_t *ex, const char *outcome) {
    cc_sink_end(ex->chain, 0);
    if (!outcome && ex->ans.stream_read && ex->ans.usage.stream_end != CC_STREAM_END_STOP) {
        outcome = ex->ans.usage.stream_end == CC_STREAM_END_ERROR ? "upstream-error-event"
                                                                   : "upstream-incomplete";
    }
    finish(ex, outcome);
}

/* The answering attempt's deployment and model become the request's (log line, headers). */
static void adopt_attempt(exchange_t *ex, int status) {
    cc_preq_t *r = &ex->r;
    r->deployment = ex->dep;
    const char *m = cc_attempt_upstream_model(ex->attempt);
    if (m && (!r->upstream_model || strcmp(m, r->upstream_model) != 0)) {
        char *copy = strdup(m);
        if (copy) {
            free(r->upstream_model);
            r->upstream_model = copy;
        }
    }
    ex->ans.attempts = ex->plan.attempts;
    cc_attempt_rec_t rec = {ex->dep, status, NULL, ms_since(ex->attempt_ns, cc_now_ns())};
    if (!cc_attempt_local_answer(ex->attempt)) cc_preq_add_attempt(&ex->r, &rec);
}

static void relay_held(exchange_t *ex, const char *outcome) {
    cc_attempt_answer_t held;
    cc_attempt_held(ex->attempt, &held);
    ex->state = EX_ANSWERING;
    ex->head_ns = cc_now_ns();
    adopt_attempt(ex, held.status);
    if (compose_chain(ex, ex->attempt) < 0) {
        fail(ex, 500, "api_error", "out of memory", "rejected", false);
        return;
    }
    cc_headers_t h = CC_HEADERS_INIT;
    cc_headers_copy(&h, held.headers);
    cc_sink_head(ex->chain, held.status, &h, (long long)held.body_len);
    cc_headers_free(&h);
    ex->bytes += held.body_len;
    cc_sink_body(ex->chain, held.body, held.body_len);
    end_answer(ex, outcome);
}

/* --- retries ------------------------------------------------------------------------------ */

static void start_attempt(exchange_t *ex);
static void refresh_token(exchange_t *ex);

/* What the upstream asked to wait: retry-after-ms, else retry-after in seconds (0: nothing). */
static unsigned retry_after_of(const cc_headers_t *h) {
    const char *v = cc_headers_get(h, "retry-after-ms");
    double ms = v ? strtod(v, NULL) : 0;
    if (!v && (v = cc_headers_get(h, "retry-after"))) ms = strtod(v, NULL) * 1000;
    return ms > 0 && ms < 3600000 ? (unsigned)ms : 0;
}

/* Whether failure f of the current attempt leads to another one (the upstream allowed it,
 * there is time left, the plan has an attempt to offer). */
static bool may_retry(const exchange_t *ex, cc_failure_t f) {
    if (ex->no_retry || cc_now_ns() >= ex->deadline_ns) return false;
    return cc_router_would_retry(router(ex), &ex->plan, f);
}

static void on_retry_timer(uv_timer_t *t) {
    start_attempt(t->data);
}

/* The attempt failed before anything reached the client (`status` 0: no answer). Picks the
 * next deployment of the plan and starts it after the wait; returns false when there is none
 * (or no time left for it), and the failure goes to the client. */
static bool retry(exchange_t *ex, int status, const char *reason, cc_failure_t f) {
    uint64_t now = cc_now_ns();
    cc_buf_printf(&ex->tried, ",%s:%s:%.0fms", ex->cfg->models[ex->dep].model_name, reason,
                  ms_since(ex->attempt_ns, now));
    cc_attempt_rec_t rec = {ex->dep, status, status ? NULL : reason,
                            ms_since(ex->attempt_ns, now)};
    cc_preq_add_attempt(&ex->r, &rec);
    cc_router_note(router(ex), &ex->plan, f);
    if (ex->no_retry || now >= ex->deadline_ns || !cc_router_has_more(&ex->plan)) return false;
    const char *why = !ex->plan.diverted  ? ""
                      : f.context_window ? ", the input is too long for it: "
                                           "context_window_fallbacks"
                                         : ", a content-policy refusal: content_policy_fallbacks";
    bool again;
    int d = cc_router_next(router(ex), &ex->plan, now / 1000000, &again);
    if (d < 0) return false;
    /* The retry stage may stop the retries or send them elsewhere. */
    cc_pipeline_t *pl = ex->wg->pipeline;
    if (cc_pipeline_stages(pl)->retry) {
        const cc_model_t *failed = &ex->cfg->models[ex->dep], *next = &ex->cfg->models[d];
        cc_retry_info_t info = {failed->model_name, failed->model,       status,
                                status ? NULL : reason, cc_fail_class_name(f.cls),
                                f.context_window,   next->model_name,    next->model};
        cc_buf_t group = CC_BUF_INIT;
        int verdict = cc_pipeline_retry(pl, &ex->r, &info, &group);
        if (verdict == 1 && cc_router_redirect(router(ex), &ex->plan, group.data) < 0) {
            cc_warn("%s a retry hook named '%s', which config.yaml has no model_name for; "
                    "keeping the plan", ex->id, group.data);
        } else if (verdict == 1) {
            d = cc_router_next(router(ex), &ex->plan, now / 1000000, &again);
        }
        cc_buf_free(&group);
        if (verdict < 0 || d < 0) return false;
    }
    /* retry_after always; the upstream's retry-after only for itself (another deployment
     * need not wait for this one to recover). */
    unsigned wait = ex->cfg->router.retry_after_ms;
    if (again && ex->retry_after_ms > wait) wait = ex->retry_after_ms;
    if (again && !wait) { /* the same deployment again: back off, 250 ms doubling to 8 s */
        int n = ex->plan.tries - 2 < 5 ? ex->plan.tries - 2 : 5;
        wait = 250u << (n > 0 ? n : 0);
    }
    if (wait) wait += (unsigned)(now % (wait / 4 + 1)); /* jitter */
    if (now + (uint64_t)wait * 1000000 >= ex->deadline_ns) return false;
    if (!ex->retry_timer) {
        ex->retry_timer = malloc(sizeof *ex->retry_timer);
        if (!ex->retry_timer) return false;
        uv_timer_init(&ex->w->loop, ex->retry_timer);
        ex->retry_timer->data = ex;
    }
    cc_info("%s the attempt at %s failed (%s%s): attempt %u goes to %s in %u ms", ex->id,
            ex->cfg->models[ex->dep].model_name, reason, why, ex->plan.attempts,
            ex->cfg->models[d].model_name, wait);
    attempt_over(ex, 0);
    cc_attempt_free(ex->attempt); /* the attempt calling back does not touch itself after */
    ex->attempt = NULL;
    ex->dep = d;
    ex->state = EX_UPSTREAM;
    uv_timer_start(ex->retry_timer, on_retry_timer, wait, 0);
    return true;
}

/* --- the attempt's events ----------------------------------------------------------------- */

/* Whether a 400 from this attempt may be Anthropic rejecting a thinking block's signature:
 * an Anthropic deployment, a body with thinking blocks, and no retry without them yet. */
static bool may_strip_thinking(const exchange_t *ex) {
    if (ex->thinking_stripped || cc_attempt_provider(ex->attempt)) return false;
    const cc_buf_t *b = cc_preq_body(&ex->r);
    return b->data && (memmem(b->data, b->len, "\"signature\"", 11) ||
                       memmem(b->data, b->len, "\"redacted_thinking\"", 19));
}

/* A session resumed under another key, or moved from another model, carries thinking blocks
 * whose signatures Anthropic no longer accepts: the request goes once more without them. */
static bool retry_without_thinking(exchange_t *ex) {
    ex->thinking_stripped = true;
    const cc_buf_t *b = cc_preq_body(&ex->r);
    cc_buf_t out = CC_BUF_INIT;
    int n = cc_anthropic_strip_all_thinking(b->data ? b->data : "", b->len, &out);
    if (n <= 0) {
        cc_buf_free(&out);
        return false;
    }
    cc_buf_free(&ex->r.body_out);
    ex->r.body_out = out;
    ex->r.body_changed = true;
    cc_warn("%s upstream %s rejected a thinking block's signature (a resumed or moved session): "
            "retrying once without the conversation's %d thinking block%s",
            ex->id, ex->cfg->models[ex->dep].model_name, n, n == 1 ? "" : "s");
    attempt_over(ex, 0);
    cc_attempt_free(ex->attempt);
    ex->attempt = NULL;
    start_attempt(ex);
    return true;
}

static bool on_attempt_head(void *arg, int status, const cc_headers_t *h, long long cl) {
    exchange_t *ex = arg;
    if (status == 401 && ex->r.oauth_provider && !ex->refreshed) return false; /* held */
    if (status == 400 && may_strip_thinking(ex)) return false; /* held: its text tells */
    cc_failure_t fail_class = cc_failure_of_answer(status, NULL, 0);
    if (fail_class.cls >= 0) {
        const char *sr = cc_headers_get(h, "x-should-retry");
        if (sr && strcasecmp(sr, "false") == 0) ex->no_retry = true;
        ex->retry_after_ms = retry_after_of(h);
    }
    if (fail_class.cls == CC_FAIL_BAD_REQUEST) {
        /* Only its text tells whether another attempt may do better: held when one may. */
        if (!ex->no_retry && cc_router_wants_body(router(ex), &ex->plan, status)) return false;
    } else if (fail_class.cls >= 0) {
        cc_router_failed(router(ex), ex->dep, status, fail_class, ex->retry_after_ms,
                         cc_now_ns() / 1000000);
        if (may_retry(ex, fail_class)) return false; /* held: another may do better */
    }
    ex->state = EX_ANSWERING;
    ex->head_ns = cc_now_ns();
    if (status < 400)
        cc_router_latency(router(ex), ex->dep, ms_since(ex->attempt_ns, ex->head_ns),
                          ex->head_ns / 1000000);
    ex->ans.status = status;
    adopt_attempt(ex, status);
    if (compose_chain(ex, ex->attempt) < 0) {
        cc_attempt_abandon(ex->attempt);
        fail(ex, 500, "api_error", "out of memory", "rejected", false);
        return true;
    }
    cc_headers_t out = CC_HEADERS_INIT;
    for (size_t i = 0; i < h->n; i++) {
        const cc_header_t *f = &h->items[i];
        if (cc_headers_is_hop_by_hop(h, f->name)) continue;
        cc_headers_add(&out, f->name, strlen(f->name), f->value, strlen(f->value));
    }
    cc_sink_head(ex->chain, status, &out, cl);
    cc_headers_free(&out);
    return true;
}

static void on_attempt_body(void *arg, const char *data, size_t len) {
    exchange_t *ex = arg;
    if (ex->state != EX_ANSWERING) return;
    ex->bytes += len;
    cc_sink_body(ex->chain, data, len);
    if (!ex->paused && ex->conn && cc_conn_write_queue(ex->conn) > CC_CONN_HIGH_WATER) {
        ex->paused = true;
        cc_attempt_pause(ex->attempt);
    }
}

static void on_attempt_done(void *arg) {
    exchange_t *ex = arg;
    cc_attempt_answer_t held;
    if (cc_attempt_held(ex->attempt, &held)) {
        if (held.status == 400 && may_strip_thinking(ex) &&
            cc_anthropic_signature_rejected(held.body, held.body_len) && retry_without_thinking(ex))
            return;
        if (held.status == 401 && ex->r.oauth_provider && !ex->refreshed) {
            refresh_token(ex);
            return;
        }
        char reason[16];
        snprintf(reason, sizeof reason, "%d", held.status);
        cc_failure_t f = cc_failure_of_answer(held.status, held.body, held.body_len);
        if (f.cls == CC_FAIL_BAD_REQUEST || f.cls == CC_FAIL_CONTENT_POLICY)
            cc_router_failed(router(ex), ex->dep, held.status, f, 0, cc_now_ns() / 1000000);
        if (retry(ex, held.status, reason, f)) return;
        relay_held(ex, NULL);
        return;
    }
    if (ex->state == EX_ANSWERING) end_answer(ex, NULL);
}

static void on_attempt_fail(void *arg, cc_up_fail_t kind, const char *msg, bool after_head) {
    exchange_t *ex = arg;
    char text[1024];
    snprintf(text, sizeof text, "upstream %s (%s): %s", ex->cfg->models[ex->dep].model_name,
             cc_attempt_host(ex->attempt), msg);
    cc_warn("%s %s", ex->id, text);
    if (after_head && ex->ans.head_sent) {
        /* The client's answer breaks as the upstream's did: no error event is made up. */
        cc_sink_client_break(ex->client, kind == CC_UP_RESET);
        finish(ex, kind == CC_UP_TIMEOUT ? "upstream-stalled" : "upstream-broke");
        return;
    }
    /* Nothing reached the client yet (a held answer is dropped): another attempt may do. */
    static const char *const reasons[] = {"unreachable", "tls", "timeout", "broken", "reset"};
    ex->retry_after_ms = 0;
    uint64_t now = cc_now_ns();
    cc_failure_t f = cc_failure_of_transport(kind == CC_UP_TIMEOUT);
    cc_router_failed(router(ex), ex->dep, 0, f, 0, now / 1000000);
    if (kind == CC_UP_TIMEOUT) /* a deployment that times out is slow: so it counts */
        cc_router_latency(router(ex), ex->dep, ms_since(ex->attempt_ns, now), now / 1000000);
    if (retry(ex, 0, reasons[kind], f)) return;
    if (after_head && (kind == CC_UP_RESET || kind == CC_UP_BROKEN) && ex->ans.status >= 200 &&
        ex->ans.status < 300) {
        /* The body of a good answer broke while ccproxy held it (a whole answer to
         * translate): the client gets its head and a connection broken the same way, as a
         * direct client would have (Claude Code tells a connection lost mid-answer from one
         * that never answered). */
        cc_headers_t h = CC_HEADERS_INIT;
        cc_headers_set(&h, "Content-Type", "application/json");
        cc_sink_head(ex->client, 200, &h, -1);
        cc_headers_free(&h);
        cc_sink_client_break(ex->client, kind == CC_UP_RESET);
        finish(ex, "upstream-broke");
        return;
    }
    switch (kind) {
    case CC_UP_UNREACHABLE: fail(ex, 529, "overloaded_error", text, "upstream-failed", false); break;
    case CC_UP_TIMEOUT: fail(ex, 504, "api_error", text, "upstream-failed", false); break;
    case CC_UP_TLS: fail(ex, 502, "api_error", text, "upstream-failed", true); break;
    default: fail(ex, 502, "api_error", text, "upstream-failed", false); break;
    }
}

/* --- 401 with an oat_sources token: refresh it, try once more ------------------------------ */

static void on_token_refreshed(void *arg, int ok) {
    exchange_t *ex = arg;
    ex->token_pending = false;
    if (ex->state == EX_FINISHED) { /* the client left meanwhile */
        maybe_free(ex);
        return;
    }
    char *token = NULL, *ua = NULL;
    if (!ok || cc_oauth_get(ex->r.oauth_provider, &token, &ua, NULL) < 0 ||
        (ex->r.oauth_token && strcmp(token, ex->r.oauth_token) == 0)) {
        free(token);
        free(ua);
        relay_held(ex, "token-refresh-did-not-help");
        return;
    }
    free(ua);
    /* The new token goes where the hooks put the old one. */
    if (ex->r.oauth_token) cc_credentials_swap_token(&ex->r.headers, ex->r.oauth_token, token);
    free(ex->r.oauth_token);
    ex->r.oauth_token = token;
    cc_info("%s upstream answered 401: refreshed the %s token, retrying once", ex->id,
            ex->r.oauth_provider);
    attempt_over(ex, 0);
    cc_attempt_free(ex->attempt);
    ex->attempt = NULL;
    start_attempt(ex);
}

static void refresh_token(exchange_t *ex) {
    ex->refreshed = true;
    const cc_oat_source_t *src = NULL;
    for (size_t i = 0; i < ex->cfg->n_oat_sources; i++)
        if (strcmp(ex->cfg->oat_sources[i].provider, ex->r.oauth_provider) == 0)
            src = &ex->cfg->oat_sources[i];
    if (!src || !ex->w->oauth) {
        relay_held(ex, "token-refresh-did-not-help");
        return;
    }
    ex->state = EX_REFRESHING;
    ex->token_pending = true;
    cc_oauth_run(ex->w->oauth, src, on_token_refreshed, ex);
}

/* --- the client's events ------------------------------------------------------------------ */

static void on_client_drain(void *arg) {
    exchange_t *ex = arg;
    if (ex->paused) {
        ex->paused = false;
        cc_attempt_resume(ex->attempt);
    }
}

static void on_client_gone(void *arg) {
    exchange_t *ex = arg;
    ex->conn = NULL;
    if (!ex->ans.head_sent) ex->ans.status = 499; /* it got nothing (a held answer too) */
    finish(ex, "client-closed");
}

/* --- the request -------------------------------------------------------------------------- */

/* A request clearly over its deployment's model_info.max_input_tokens (ccproxy's estimate more
 * than 10 % above it) is not sent: it fails as the provider's context-length error would, so
 * context_window_fallbacks take it, else the client gets Anthropic's "prompt is too long: N
 * tokens > M maximum" at once, which Claude Code compacts on. */
static bool over_window(exchange_t *ex) {
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(ex->cfg->models[ex->dep].model_info, "max_input_tokens");
    if (!cJSON_IsNumber(v) || v->valuedouble < 1) return false;
    long max = (long)v->valuedouble;
    if (ex->input_estimate == 0) {
        const cc_buf_t *b = cc_preq_body(&ex->r);
        long est = cc_tokens_estimate(b->data ? b->data : "", b->len);
        ex->input_estimate = est > 0 ? est : -1;
    }
    if (ex->input_estimate <= max + max / 10) return false;
    char msg[128];
    snprintf(msg, sizeof msg, "prompt is too long: %ld tokens > %ld maximum", ex->input_estimate,
             max);
    cc_info("%s not sent to %s: its estimated %ld input tokens are over the deployment's "
            "model_info.max_input_tokens (%ld)", ex->id, ex->cfg->models[ex->dep].model_name,
            ex->input_estimate, max);
    ex->attempt_ns = cc_now_ns();
    if (retry(ex, 400, "context-window", (cc_failure_t){CC_FAIL_BAD_REQUEST, true})) return true;
    fail(ex, 400, "invalid_request_error", msg, "over-context-window", false);
    return true;
}

static void start_attempt(exchange_t *ex) {
    static const cc_attempt_cb_t cb = {on_attempt_head, on_attempt_body, on_attempt_done,
                                       on_attempt_fail};
    ex->state = EX_UPSTREAM;
    int status = 500;
    cc_buf_t err = CC_BUF_INIT;
    /* The upstream is asked for plain bytes (Accept-Encoding: identity) where the answer is
     * read: by event hooks, and for the usage of every /v1/messages answer, which the
     * request's record, tpm limits and usage-based routing need (an encoded answer could not
     * be read as it passes). Other answers (count_tokens, ...) keep the client's encoding. */
    bool messages = !ex->r.endpoint || strcmp(ex->r.endpoint, "messages") == 0;
    if (messages && over_window(ex)) return;
    bool read = cc_pipeline_stages(ex->wg->pipeline)->event ||
                (messages && (cc_records_wanted() || ex->cfg->models[ex->dep].tpm));
    ex->attempt = cc_attempt_new(&ex->r, ex->dep, read,
                                 &status, &err);
    if (!ex->attempt) {
        fail(ex, status, NULL, err.data ? err.data : "cannot build the upstream request",
             "rejected", false);
        cc_buf_free(&err);
        return;
    }
    cc_buf_free(&err);
    const cc_buf_t *local = cc_attempt_local_answer(ex->attempt);
    if (local) {
        ex->state = EX_ANSWERING;
        adopt_attempt(ex, 200);
        if (compose_chain(ex, NULL) < 0) {
            fail(ex, 500, "api_error", "out of memory", "rejected", false);
            return;
        }
        cc_headers_t h = CC_HEADERS_INIT;
        cc_headers_set(&h, "Content-Type", "application/json");
        cc_sink_head(ex->chain, 200, &h, (long long)local->len);
        cc_headers_free(&h);
        cc_sink_body(ex->chain, local->data ? local->data : "", local->len);
        end_answer(ex, "answered-locally");
        return;
    }
    ex->attempt_ns = cc_now_ns();
    cc_router_begin(router(ex), ex->dep);
    ex->busy = true;
    if (ex->deadline_ns > ex->attempt_ns)
        cc_attempt_limit_first_byte(ex->attempt,
                                    (unsigned)((ex->deadline_ns - ex->attempt_ns) / 1000000));
    if (cc_attempt_send(ex->attempt, ex->w->pool, &cb, ex) < 0)
        fail(ex, 500, "api_error", "out of memory", "rejected", false);
}

/* The request's time for all its attempts: the routed deployment's stream_timeout (for a
 * streaming request) or timeout, else router_settings' stream_timeout or timeout, else
 * ccproxy.upstream.first_byte_timeout. */
static unsigned budget_of(const exchange_t *ex) {
    const cc_model_t *d0 = &ex->cfg->models[ex->r.deployment];
    const cc_router_settings_t *s = &ex->cfg->router;
    bool stream = ex->r.stream;
    double t = stream && d0->stream_timeout > 0 ? d0->stream_timeout : d0->timeout;
    if (t > 0) return (unsigned)(t * 1000);
    if (stream && s->stream_timeout_ms) return s->stream_timeout_ms;
    if (s->timeout_ms) return s->timeout_ms;
    return ex->cfg->limits.first_byte_timeout_ms;
}

/* What the request may take of a deployment's tpm: the estimate of its input tokens (the one
 * req:tokens() gives scripts), when a strategy needs it. */
static unsigned long long estimate_tokens(exchange_t *ex) {
    if (ex->cfg->router.strategy != CC_STRATEGY_USAGE) return 0;
    cc_preq_t *r = &ex->r;
    if (r->tokens < 0) {
        const cc_buf_t *b = r->body_changed ? &r->body_out : &r->client->body;
        r->tokens = cc_tokens_estimate(b->data ? b->data : "", b->len);
        if (r->tokens < 0) r->tokens = 0;
    }
    return (unsigned long long)r->tokens;
}

/* Every deployment the request could go to is at its limit (rpm/tpm this minute, or
 * max_parallel_requests): a 429 the client retries after a while, as it would the
 * upstream's own. */
static void at_limit(exchange_t *ex) {
    const char *group = ex->cfg->models[ex->r.deployment].model_name;
    char msg[512], after[16];
    int secs = ex->cfg->router.strategy == CC_STRATEGY_USAGE ? 60 - (int)(time(NULL) % 60) : 1;
    snprintf(msg, sizeof msg,
             "every deployment of '%s' (and of its fallbacks) is at its limit: rpm/tpm this "
             "minute or max_parallel_requests in config.yaml; retry after %d s, or raise the "
             "limits",
             group, secs);
    snprintf(after, sizeof after, "%d", secs);
    cc_buf_t body = CC_BUF_INIT;
    cc_api_error_json(&body, "rate_limit_error", msg);
    cc_headers_t h = CC_HEADERS_INIT;
    cc_headers_set(&h, "retry-after", after);
    ex->ans.status = 429;
    cc_conn_respond(ex->conn, 429, "application/json", body.data, body.len, &h);
    cc_headers_free(&h);
    cc_buf_free(&body);
    cc_warn("%s %s", ex->id, msg);
    finish(ex, "at-limit");
}

void cc_exchange_start(cc_conn_t *c, cc_request_t *req) {
    cc_worker_t *w = cc_conn_worker(c);
    exchange_t *ex = calloc(1, sizeof *ex);
    if (!ex) {
        cc_conn_respond_error(c, 500, "api_error", "out of memory");
        return;
    }
    ex->state = EX_PIPELINE;
    atomic_fetch_add(&cc_stats.requests_in_flight, 1);
    ex->conn = c;
    ex->w = w;
    ex->wg = w->current;
    cc_wgen_ref(ex->wg);
    ex->cfg = ex->wg->gen->cfg;
    ex->start_ns = req->start_ns ? req->start_ns : cc_now_ns();
    ex->start_wall_ms = cc_wall_ms() - (cc_now_ns() - ex->start_ns) / 1000000;
    snprintf(ex->id, sizeof ex->id, "%s", cc_conn_request_id(c));
    cc_request_move(&ex->req, req);
    cc_buf_t err = CC_BUF_INIT;
    if (cc_preq_init(&ex->r, &ex->req, ex->cfg, ex->id, &err) < 0) {
        fail(ex, 400, "invalid_request_error", err.data, "rejected", false);
        cc_buf_free(&err);
        return;
    }
    ex->piped = true;
    if (ex->r.stream) atomic_fetch_add(&cc_stats.open_streams, 1);
    cc_pipeline_result_t prc = cc_pipeline_run(ex->wg->pipeline, &ex->r, &err);
    if (prc != CC_PIPELINE_OK) {
        if (prc == CC_PIPELINE_HOOK_FAILED)
            fail(ex, 500, "api_error", err.data ? err.data : "a hook failed", "rejected", false);
        else
            fail(ex, 404, "not_found_error", err.data ? err.data : "cannot route the request",
                 "rejected", false);
        cc_buf_free(&err);
        return;
    }
    cc_buf_free(&err);
    /* The attempts' plan: the routed group, then its fallbacks; the first pick. */
    bool again;
    if (cc_router_plan(router(ex), ex->r.deployment, ex->r.route_via, &ex->plan) < 0) {
        fail(ex, 500, "api_error", "out of memory", "rejected", false);
        return;
    }
    ex->plan.est_tokens = estimate_tokens(ex);
    ex->dep = cc_router_next(router(ex), &ex->plan, cc_now_ns() / 1000000, &again);
    if (ex->dep < 0 && ex->plan.limited) {
        at_limit(ex);
        return;
    }
    if (ex->dep < 0) { /* everything cools down: the routed deployment all the same */
        ex->dep = ex->r.deployment;
        ex->plan.attempts = 1;
    }
    unsigned budget_ms = budget_of(ex);
    ex->deadline_ns = ex->start_ns + (uint64_t)budget_ms * 1000000;
    cc_conn_observer_t obs = {on_client_drain, on_client_gone, ex};
    cc_conn_set_observer(c, &obs);
    start_attempt(ex);
}
