/* record.c: copying, freeing and printing request records (see record.h). */
#include "record/record.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

/* Copies every string field of `from` into `to` (whose other fields are set); false when out
 * of memory (what was copied is freed by the caller's cc_record_clear). */
static bool copy_strings(cc_record_t *to, const cc_record_t *from) {
    char **dst[] = {&to->id,         &to->session_id,      &to->agent_id, &to->parent_agent_id,
                    &to->endpoint,   &to->label,           &to->rule,     &to->requested_model,
                    &to->sent_model, &to->deployment,      &to->provider, &to->outcome,
                    &to->client};
    const char *src[] = {from->id,         from->session_id,      from->agent_id,
                         from->parent_agent_id, from->endpoint,   from->label,
                         from->rule,       from->requested_model, from->sent_model,
                         from->deployment, from->provider,        from->outcome,
                         from->client};
    bool ok = true;
    for (size_t i = 0; i < sizeof dst / sizeof dst[0]; i++) {
        *dst[i] = dup_or_null(src[i]);
        if (src[i] && !*dst[i]) ok = false;
    }
    return ok;
}

cc_record_t *cc_record_copy(const cc_record_t *r) {
    cc_record_t *c = malloc(sizeof *c);
    if (!c) return NULL;
    *c = *r;
    c->attempts = NULL;
    c->n_attempts = 0;
    c->tags = NULL;
    c->n_tags = 0;
    bool ok = copy_strings(c, r);
    if (ok && r->n_attempts) {
        c->attempts = calloc(r->n_attempts, sizeof *c->attempts);
        ok = c->attempts != NULL;
        for (size_t i = 0; ok && i < r->n_attempts; i++) {
            const cc_record_attempt_t *a = &r->attempts[i];
            c->attempts[i] = (cc_record_attempt_t){dup_or_null(a->deployment),
                                                   dup_or_null(a->model), a->status,
                                                   dup_or_null(a->reason), a->ms};
            c->n_attempts = i + 1;
        }
    }
    if (ok && r->n_tags) {
        c->tags = calloc(r->n_tags, sizeof *c->tags);
        ok = c->tags != NULL;
        for (size_t i = 0; ok && i < r->n_tags; i++) {
            c->tags[i] = (cc_record_tag_t){dup_or_null(r->tags[i].name),
                                           dup_or_null(r->tags[i].value)};
            c->n_tags = i + 1;
            ok = (!r->tags[i].name || c->tags[i].name) && (!r->tags[i].value || c->tags[i].value);
        }
    }
    if (!ok) {
        cc_record_delete(c);
        return NULL;
    }
    return c;
}

void cc_record_clear(cc_record_t *r) {
    char *fields[] = {r->id,         r->session_id, r->agent_id, r->parent_agent_id, r->endpoint,
                      r->label,      r->rule,       r->requested_model, r->sent_model,
                      r->deployment, r->provider,   r->outcome,  r->client};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) free(fields[i]);
    for (size_t i = 0; i < r->n_attempts; i++) {
        free(r->attempts[i].deployment);
        free(r->attempts[i].model);
        free(r->attempts[i].reason);
    }
    free(r->attempts);
    for (size_t i = 0; i < r->n_tags; i++) {
        free(r->tags[i].name);
        free(r->tags[i].value);
    }
    free(r->tags);
    memset(r, 0, sizeof *r);
}

void cc_record_delete(cc_record_t *r) {
    if (!r) return;
    cc_record_clear(r);
    free(r);
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

/* A JSON string (or null). */
static void json_value(cc_buf_t *out, const char *v) {
    if (!v) {
        cc_buf_puts(out, "null");
        return;
    }
    cc_buf_puts(out, "\"");
    cc_buf_json_escape(out, v, strlen(v));
    cc_buf_puts(out, "\"");
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
