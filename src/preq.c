/* preq.c: building the upstream request from the client's (see preq.h): which client header
 * fields travel, and routing to a deployment (whose credentials and extra headers are applied
 * when the request leaves: credentials.c). */
#include "preq.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json/json_body.h"

/* Client fields that never go upstream: hop-by-hop ones, and those ccproxy sets itself. */
static bool stays_here(const cc_headers_t *h, const char *name) {
    static const char *const own[] = {"host", "content-length", "expect"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strcasecmp(name, own[i]) == 0) return true;
    return cc_headers_is_hop_by_hop(h, name);
}

/* One pass over the top-level members indexes them all. */
static int index_member(const char *body, const cc_json_member_t *m, void *arg) {
    (void)body;
    cc_preq_t *r = arg;
    if ((r->n_members & (r->n_members - 1)) == 0) { /* grow at powers of two */
        size_t cap = r->n_members ? r->n_members * 2 : 16;
        cc_json_member_t *p = realloc(r->members, cap * sizeof *p);
        if (!p) return -1;
        r->members = p;
    }
    r->members[r->n_members++] = *m;
    return 0;
}

static bool key_is(const char *body, const cc_json_member_t *m, const char *key, size_t klen) {
    const char *k = body + m->key.start;
    if (!memchr(k, '\\', m->key.len))
        return m->key.len == klen + 2 && memcmp(k + 1, key, klen) == 0;
    cc_buf_t dec = CC_BUF_INIT;
    bool eq = cc_json_string_decode(k, m->key.len, &dec) == 0 && dec.len == klen &&
              memcmp(dec.data, key, klen) == 0;
    cc_buf_free(&dec);
    return eq;
}

int cc_preq_member(const cc_preq_t *r, const char *key, cc_json_member_t *out) {
    const char *body = r->client->body.data ? r->client->body.data : "";
    size_t klen = strlen(key);
    for (size_t i = r->n_members; i > 0; i--) { /* the last of repeated keys wins */
        if (key_is(body, &r->members[i - 1], key, klen)) {
            *out = r->members[i - 1];
            return 0;
        }
    }
    return -1;
}

int cc_preq_init(cc_preq_t *r, const cc_request_t *client, const cc_config_t *cfg,
                 const char *id, cc_buf_t *err) {
    memset(r, 0, sizeof *r);
    r->client = client;
    r->cfg = cfg;
    r->id = id;
    r->endpoint = strstr(client->path, "count_tokens") ? "count_tokens" : "messages";
    r->tokens = -1;
    r->deployment = -1;
    r->ref_view = r->ref_body = r->ref_ctx = r->ref_headers = r->ref_client_headers =
        r->ref_fields = -2; /* LUA_NOREF */
    for (size_t i = 0; i < client->headers.n; i++) {
        const cc_header_t *f = &client->headers.items[i];
        if (stays_here(&client->headers, f->name)) continue;
        cc_headers_add(&r->headers, f->name, strlen(f->name), f->value, strlen(f->value));
    }
    const char *body = client->body.data ? client->body.data : "";
    size_t len = client->body.len;
    if (cc_json_each_member(body, len, index_member, r) != 0) {
        cc_buf_puts(err, "the request body is not a JSON object");
        return -1;
    }
    cc_json_member_t m;
    if (cc_preq_member(r, "model", &m) == 0 && body[m.value.start] == '"') {
        cc_buf_t v = CC_BUF_INIT;
        if (cc_json_string_decode(body + m.value.start, m.value.len, &v) == 0)
            r->model = cc_buf_steal(&v, NULL);
        cc_buf_free(&v);
    }
    r->stream = cc_preq_member(r, "stream", &m) == 0 && m.value.len == 4 &&
                memcmp(body + m.value.start, "true", 4) == 0;
    return 0;
}

void cc_preq_free(cc_preq_t *r) {
    free(r->members);
    cc_headers_free(&r->headers);
    cc_headers_free(&r->tags);
    cc_headers_free(&r->written);
    free(r->oauth_provider);
    free(r->oauth_token);
    free(r->model);
    free(r->model_set);
    free(r->label);
    free(r->rule);
    free(r->session_id);
    free(r->upstream_model);
    free(r->route_via);
    cc_buf_free(&r->body_out);
    free(r->attempts);
    memset(r, 0, sizeof *r);
}

int cc_preq_set_model(cc_preq_t *r, const char *model) {
    char *m = strdup(model);
    if (!m) return -1;
    free(r->model_set);
    r->model_set = m;
    return 0;
}

const char *cc_preq_model(const cc_preq_t *r) {
    return r->model_set ? r->model_set : r->model;
}

int cc_preq_add_attempt(cc_preq_t *r, const cc_attempt_rec_t *a) {
    cc_attempt_rec_t *p = realloc(r->attempts, (r->n_attempts + 1) * sizeof *p);
    if (!p) return -1;
    r->attempts = p;
    r->attempts[r->n_attempts++] = *a;
    return 0;
}

const cc_buf_t *cc_preq_body(const cc_preq_t *r) {
    return r->body_changed ? &r->body_out : &r->client->body;
}

static int take_route(cc_preq_t *r, const cc_route_t *rt, const char *model, bool passthrough) {
    const cc_model_t *d = &r->cfg->models[rt->deployment];
    free(r->upstream_model);
    free(r->route_via);
    r->upstream_model = strdup(model);
    r->route_via = strdup(rt->via ? rt->via : d->model_name);
    r->deployment = rt->deployment;
    r->routed = true;
    r->passthrough = passthrough;
    const char *cur = cc_preq_model(r);
    if (r->upstream_model && (!cur || strcmp(cur, r->upstream_model) != 0))
        cc_preq_set_model(r, r->upstream_model);
    return r->upstream_model && r->route_via ? 0 : -1;
}

/* "provider/model": a deployment of that provider serving exactly that model, else one of its
 * wildcard deployments ("provider/star"), with the model as given. */
static int route_provider_model(cc_preq_t *r, const char *name) {
    const char *slash = strchr(name, '/');
    if (!slash || slash == name || !slash[1]) return -1;
    size_t plen = (size_t)(slash - name);
    const char *model = slash + 1;
    int wildcard = -1;
    for (size_t i = 0; i < r->cfg->n_models; i++) {
        const cc_model_t *m = &r->cfg->models[i];
        if (m->alias_of >= 0 || !m->provider) continue;
        if (strlen(m->provider) != plen || strncmp(m->provider, name, plen) != 0) continue;
        cc_route_t rt = {(int)i, m->upstream_model, m->model_name};
        if (m->upstream_model && strcmp(m->upstream_model, model) == 0)
            return take_route(r, &rt, model, false);
        if (wildcard < 0 && m->upstream_model && strcmp(m->upstream_model, "*") == 0)
            wildcard = (int)i;
    }
    if (wildcard < 0) return -1;
    cc_route_t rt = {wildcard, model, r->cfg->models[wildcard].model_name};
    return take_route(r, &rt, model, false);
}

int cc_preq_route(cc_preq_t *r, const char *name, cc_buf_t *err) {
    cc_route_t rt;
    /* A model_name written out wins; "provider/model" comes before globs and "default". */
    bool exact = false;
    for (size_t i = 0; i < r->cfg->n_models && !exact; i++)
        exact = strcmp(r->cfg->models[i].model_name, name) == 0;
    if (!exact && route_provider_model(r, name) == 0) return 0;
    if (cc_config_route_label(r->cfg, name, &rt) < 0) {
        cc_buf_printf(err,
                      "label '%s' routes nowhere: config.yaml has no model_name '%s' and no "
                      "'default'",
                      name, name);
        return -1;
    }
    return take_route(r, &rt, rt.upstream_model, false);
}

int cc_preq_route_passthrough(cc_preq_t *r, cc_buf_t *err) {
    return cc_preq_route_model(r, r->model, err);
}

int cc_preq_route_model(cc_preq_t *r, const char *model, cc_buf_t *err) {
    cc_route_t rt;
    if (model && cc_config_resolve(r->cfg, model, &rt) == 0)
        return take_route(r, &rt, rt.upstream_model, true);
    /* The client's model is not configured: send it, unchanged, where "default" goes. */
    if (cc_config_route_label(r->cfg, "default", &rt) == 0 && model)
        return take_route(r, &rt, model, true);
    cc_buf_printf(err,
                  "model '%s' is not configured: add a model_list entry for it (or a 'default' "
                  "or a glob like 'claude-*') to config.yaml",
                  model ? model : "(none)");
    return -1;
}

int cc_preq_route_unrouted(cc_preq_t *r, cc_buf_t *err) {
    if (r->routed) return 0;
    char *model = r->model_set ? strdup(r->model_set) : NULL;
    int rc = model ? cc_preq_route_model(r, model, err) : cc_preq_route_passthrough(r, err);
    free(model);
    return rc;
}
