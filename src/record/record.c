/* record.c: packing, sharing and printing request records (see record.h). */
#include "record/record.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A packed record: its reference count, the record, then (in the same allocation) its
 * attempts, its tags and every string they point at. */
typedef struct {
    atomic_uint refs;
    cc_record_t rec;
} packed_t;

#define ALIGN8(n) (((n) + 7u) & ~(size_t)7u)

static size_t str_size(const char *s) {
    return s ? strlen(s) + 1 : 0;
}

/* Copies `s` to *at and moves *at past it; NULL stays NULL. */
static char *put_str(char **at, const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = memcpy(*at, s, n);
    *at += n;
    return d;
}

#define RECORD_STRINGS(r)                                                                       \
    &(r)->id, &(r)->session_id, &(r)->agent_id, &(r)->parent_agent_id, &(r)->endpoint,         \
        &(r)->label, &(r)->rule, &(r)->requested_model, &(r)->sent_model, &(r)->deployment,   \
        &(r)->provider, &(r)->outcome, &(r)->client

cc_record_t *cc_record_pack(const cc_record_t *draft) {
    cc_record_t *from = (cc_record_t *)draft; /* read only: the macro wants lvalues */
    char **src[] = {RECORD_STRINGS(from)};
    size_t n_src = sizeof src / sizeof src[0];
    size_t bytes = 0;
    for (size_t i = 0; i < n_src; i++) bytes += str_size(*src[i]);
    for (size_t i = 0; i < draft->n_attempts; i++) {
        const cc_record_attempt_t *a = &draft->attempts[i];
        bytes += str_size(a->deployment) + str_size(a->model) + str_size(a->reason);
    }
    for (size_t i = 0; i < draft->n_tags; i++)
        bytes += str_size(draft->tags[i].name) + str_size(draft->tags[i].value);
    size_t att_at = ALIGN8(sizeof(packed_t));
    size_t tags_at = ALIGN8(att_at + draft->n_attempts * sizeof(cc_record_attempt_t));
    size_t strs_at = tags_at + draft->n_tags * sizeof(cc_record_tag_t);
    packed_t *p = malloc(strs_at + bytes);
    if (!p) return NULL;
    atomic_init(&p->refs, 1);
    cc_record_t *r = &p->rec;
    *r = *draft;
    char *at = (char *)p + strs_at;
    char **dst[] = {RECORD_STRINGS(r)};
    for (size_t i = 0; i < n_src; i++) *dst[i] = put_str(&at, *src[i]);
    r->attempts = draft->n_attempts ? (cc_record_attempt_t *)((char *)p + att_at) : NULL;
    for (size_t i = 0; i < draft->n_attempts; i++) {
        const cc_record_attempt_t *a = &draft->attempts[i];
        r->attempts[i] = (cc_record_attempt_t){put_str(&at, a->deployment),
                                               put_str(&at, a->model), a->status,
                                               put_str(&at, a->reason), a->ms};
    }
    r->tags = draft->n_tags ? (cc_record_tag_t *)((char *)p + tags_at) : NULL;
    for (size_t i = 0; i < draft->n_tags; i++)
        r->tags[i] = (cc_record_tag_t){put_str(&at, draft->tags[i].name),
                                       put_str(&at, draft->tags[i].value)};
    return r;
}

static packed_t *packed_of(const cc_record_t *r) {
    return (packed_t *)((char *)r - offsetof(packed_t, rec));
}

cc_record_t *cc_record_hold(cc_record_t *r) {
    if (r) atomic_fetch_add_explicit(&packed_of(r)->refs, 1, memory_order_relaxed);
    return r;
}

void cc_record_release(cc_record_t *r) {
    if (!r) return;
    packed_t *p = packed_of(r);
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) free(p);
}

void cc_record_redact(const char *value, char *out, size_t outlen) {
    const char *token = value, *sp = strchr(value, ' ');
    size_t scheme = 0;
    if (sp && sp > value && sp[1]) { /* "Bearer sk-..." */
        scheme = (size_t)(sp - value) + 1;
        token = sp + 1;
        while (*token == ' ') token++;
    }
    if (scheme && strncasecmp(value, "basic ", 6) == 0) {
        snprintf(out, outlen, "%.*s...", (int)scheme, value);
        return;
    }
    size_t prefix = 0;
    for (int w = 0; w < 3; w++) { /* a word: lower-case letters and digits, then '-' */
        size_t k = prefix;
        while (token[k] && (islower((unsigned char)token[k]) || isdigit((unsigned char)token[k])))
            k++;
        if (k == prefix || token[k] != '-' || k + 1 - prefix > 7) break;
        prefix = k + 1;
    }
    size_t rest = strlen(token + prefix);
    const char *tail = rest > 8 ? token + prefix + rest - 4 : "";
    snprintf(out, outlen, "%.*s%.*s...%s", (int)scheme, value, (int)prefix, token, tail);
}

static void json_value(cc_buf_t *out, const char *v) {
    cc_buf_json_string(out, v);
}

/* "name":"value" (or null), with a comma before it unless it is the first. */
static void json_str(cc_buf_t *out, const char *name, const char *v) {
    cc_buf_printf(out, ",\"%s\":", name);
    json_value(out, v);
}

void cc_record_json(const cc_record_t *r, cc_buf_t *out) {
    cc_buf_printf(out, "{\"time_ms\":%llu", (unsigned long long)r->time_ms);
    json_str(out, "id", r->id);
    json_str(out, "session_id", r->session_id);
    json_str(out, "agent_id", r->agent_id);
    json_str(out, "parent_agent_id", r->parent_agent_id);
    json_str(out, "endpoint", r->endpoint);
    json_str(out, "label", r->label);
    json_str(out, "rule", r->rule);
    json_str(out, "requested_model", r->requested_model);
    json_str(out, "sent_model", r->sent_model);
    json_str(out, "deployment", r->deployment);
    json_str(out, "provider", r->provider);
    cc_buf_puts(out, ",\"attempts\":[");
    for (size_t i = 0; i < r->n_attempts; i++) {
        const cc_record_attempt_t *a = &r->attempts[i];
        cc_buf_puts(out, i ? ",{\"status\":" : "{\"status\":");
        cc_buf_printf(out, "%d", a->status);
        json_str(out, "deployment", a->deployment);
        json_str(out, "model", a->model);
        json_str(out, "reason", a->reason);
        cc_buf_printf(out, ",\"ms\":%.1f}", a->ms);
    }
    cc_buf_printf(out, "],\"status\":%d", r->status);
    json_str(out, "outcome", r->outcome);
    cc_buf_printf(out, ",\"stream\":%s,\"usage\":", r->stream ? "true" : "false");
    const cc_usage_t *u = &r->usage;
    if (u->seen)
        cc_buf_printf(out,
                      "{\"input\":%llu,\"output\":%llu,\"cache_creation\":%llu,"
                      "\"cache_read\":%llu,\"web_search\":%llu,\"web_fetch\":%llu}",
                      u->input, u->output, u->cache_creation, u->cache_read, u->web_search,
                      u->web_fetch);
    else
        cc_buf_puts(out, "null");
    if (r->cost_known)
        cc_buf_printf(out, ",\"cost_usd\":%.8f", r->cost_usd);
    else
        cc_buf_puts(out, ",\"cost_usd\":null");
    if (r->ttfb_ms >= 0)
        cc_buf_printf(out, ",\"ttfb_ms\":%.1f", r->ttfb_ms);
    else
        cc_buf_puts(out, ",\"ttfb_ms\":null");
    cc_buf_printf(out, ",\"total_ms\":%.1f,\"bytes_in\":%zu,\"bytes_out\":%zu", r->total_ms,
                  r->bytes_in, r->bytes_out);
    json_str(out, "client", r->client);
    cc_buf_puts(out, ",\"tags\":{");
    for (size_t i = 0; i < r->n_tags; i++) {
        if (i) cc_buf_puts(out, ",");
        json_value(out, r->tags[i].name ? r->tags[i].name : "");
        cc_buf_puts(out, ":");
        json_value(out, r->tags[i].value);
    }
    cc_buf_puts(out, "}}");
}
