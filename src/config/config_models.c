/* config_models.c: config.yaml's model_list. Reads the entries, tells aliases from deployments,
 * works out each deployment's provider, upstream model, api_base, key and headers (reading
 * os.environ/VAR at load), rejects alias cycles and over-long chains, and answers lookups:
 * cc_config_find_model, cc_config_resolve, cc_config_route_label, and the providers' default
 * api_base (cc_provider_default_api_base). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "paths.h"
#include "config/yaml_tree.h"

/* Longest alias chain followed from a name to its deployment. */
#define CC_MAX_ALIAS_HOPS 8

/* Largest litellm_params.weight and order (docs/configuration.md gives them). */
#define CC_MAX_WEIGHT 1e6
#define CC_MAX_ORDER 1000000
#define CC_MAX_RATE 1000000000 /* rpm, tpm, max_parallel_requests */

/* ---- providers ------------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    const char *api_base; /* NULL: api_base must be configured */
} provider_t;

static const provider_t providers[] = {
    {"anthropic", "https://api.anthropic.com"},
    {"openai", "https://api.openai.com/v1"},
    {"text-completion-openai", "https://api.openai.com/v1"},
    {"gemini", "https://generativelanguage.googleapis.com"},
    {"openrouter", "https://openrouter.ai/api/v1"},
    {"deepseek", "https://api.deepseek.com"},
    {"groq", "https://api.groq.com/openai/v1"},
    {"mistral", "https://api.mistral.ai/v1"},
    {"xai", "https://api.x.ai/v1"},
    {"together_ai", "https://api.together.xyz/v1"},
    {"perplexity", "https://api.perplexity.ai"},
    {"fireworks_ai", "https://api.fireworks.ai/inference/v1"},
    {"cerebras", "https://api.cerebras.ai/v1"},
    {"deepinfra", "https://api.deepinfra.com/v1/openai"},
    {"ollama", "http://localhost:11434"},
    {"ollama_chat", "http://localhost:11434"},
    {"lm_studio", "http://localhost:1234/v1"},
    {"hosted_vllm", NULL},
    {"azure", NULL},
    {"azure_ai", NULL},
    {"vertex_ai", NULL},
    {"bedrock", NULL},
    {"custom_openai", NULL},
    {"litellm_proxy", NULL},
};

#define N_PROVIDERS (sizeof providers / sizeof providers[0])

static const provider_t *find_provider(const char *name, size_t len) {
    for (size_t i = 0; i < N_PROVIDERS; i++)
        if (strlen(providers[i].name) == len && memcmp(providers[i].name, name, len) == 0)
            return &providers[i];
    return NULL;
}

const char *cc_provider_default_api_base(const char *provider) {
    const provider_t *p = provider ? find_provider(provider, strlen(provider)) : NULL;
    return p ? p->api_base : NULL;
}

static bool starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The provider a bare model name implies, as LiteLLM's model lists do for the common ones. */
static const char *infer_provider(const char *model) {
    if (starts_with(model, "claude-")) return "anthropic";
    if (starts_with(model, "gpt-") || starts_with(model, "chatgpt-") || starts_with(model, "o1") ||
        starts_with(model, "o3") || starts_with(model, "o4"))
        return "openai";
    if (starts_with(model, "gemini-")) return "gemini";
    return NULL;
}

static void provider_list(cc_buf_t *b) {
    for (size_t i = 0; i < N_PROVIDERS; i++)
        cc_buf_printf(b, "%s%s", i ? ", " : "", providers[i].name);
}

/* ---- lookups -------------------------------------------------------------------------------- */

static bool is_glob(const char *s) {
    return strchr(s, '*') != NULL;
}

/* '*' matches any run of characters (including '/'); everything else matches itself. */
static bool glob_match(const char *pat, const char *s) {
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == *s) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

/* Exact model_name first, then the first glob; entry `skip` is never returned. */
static int find_entry(const cc_config_t *cfg, const char *name, int skip) {
    for (size_t i = 0; i < cfg->n_models; i++)
        if ((int)i != skip && strcmp(cfg->models[i].model_name, name) == 0) return (int)i;
    for (size_t i = 0; i < cfg->n_models; i++)
        if ((int)i != skip && is_glob(cfg->models[i].model_name) &&
            glob_match(cfg->models[i].model_name, name))
            return (int)i;
    return -1;
}

int cc_config_find_model(const cc_config_t *cfg, const char *name) {
    if (!cfg || !name) return -1;
    return find_entry(cfg, name, -1);
}

int cc_config_resolve(const cc_config_t *cfg, const char *name, cc_route_t *out) {
    int idx = cc_config_find_model(cfg, name);
    if (idx < 0 || !out) return -1;
    const char *via = cfg->models[idx].model_name, *last = name;
    for (int hops = 0; cfg->models[idx].alias_of >= 0; hops++) {
        if (hops >= CC_MAX_ALIAS_HOPS) return -1;
        last = cfg->models[idx].model;
        idx = cfg->models[idx].alias_of;
    }
    const cc_model_t *m = &cfg->models[idx];
    if (!m->upstream_model) return -1;
    out->deployment = idx;
    out->upstream_model = strcmp(m->upstream_model, "*") == 0 ? last : m->upstream_model;
    out->via = via;
    return 0;
}

int cc_config_route_label(const cc_config_t *cfg, const char *label, cc_route_t *out) {
    if (label && cc_config_find_model(cfg, label) >= 0) return cc_config_resolve(cfg, label, out);
    return cc_config_resolve(cfg, "default", out);
}

/* ---- reading entries ------------------------------------------------------------------------ */

/* Where an entry came from, kept while loading. */
typedef struct {
    size_t index;                /* its place in model_list (for messages) */
    const cc_yaml_node_t *node;  /* the entry */
    const cc_yaml_node_t *lp;    /* its litellm_params */
    const cc_yaml_node_t *model; /* litellm_params.model */
} entry_src_t;

typedef struct {
    cc__cfgctx_t *x;
    size_t index;
    const char *name; /* model_name */
    char desc[200];   /* "model_list[3] (my-gpt)" for messages */
    char path[64];    /* "model_list[3].litellm_params" */
} entry_ctx_t;

static char *dup_or_oom(cc__cfgctx_t *x, const char *s) {
    char *d = strdup(s);
    if (!d) cc__cfg_error(x, NULL, "out of memory");
    return d;
}

/* Reads a value that may be written os.environ/VAR (read now). Returns 0 when set (*val, and
 * *env when `env` is given, malloc'd), 1 when absent or empty, -1 after an error. */
static int read_secret(entry_ctx_t *e, const cc_yaml_node_t *n, const char *key, char **val,
                       char **env) {
    char path[128], *s = NULL;
    snprintf(path, sizeof path, "%s.%s", e->path, key);
    int rc = cc__cfg_string(e->x, n, path, &s);
    if (rc != 0) return rc;
    if (!*s) {
        free(s);
        return 1;
    }
    if (!starts_with(s, "os.environ/")) {
        *val = s;
        return 0;
    }
    const char *var = s + strlen("os.environ/");
    const char *v = *var ? cc__cfg_getenv(e->x, var) : NULL;
    if (!*var)
        cc__cfg_error(e->x, n,
                      "%s %s is \"os.environ/\" without a variable name; write "
                      "os.environ/VARIABLE",
                      e->desc, key);
    else if (!v)
        cc__cfg_error(e->x, n,
                      "%s %s names os.environ/%s, which is not set; export it or "
                      "remove %s",
                      e->desc, key, var, key);
    if (!v) {
        free(s);
        return -1;
    }
    *val = dup_or_oom(e->x, v);
    if (env) *env = dup_or_oom(e->x, var);
    free(s);
    return *val ? 0 : -1;
}

static bool header_name_ok(const char *s) {
    if (!*s) return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("!#$%&'*+-.^_`|~", ch)))
            return false;
    }
    return true;
}

static void read_headers(entry_ctx_t *e, cc_model_t *m, const cc_yaml_node_t *lp, const char *key) {
    char path[128], d[96];
    const cc_yaml_node_t *n = cc_yaml_map_get(lp, key);
    snprintf(path, sizeof path, "%s.%s", e->path, key);
    if (cc__cfg_want_map(e->x, n, path) != 0 || !n || n->kind != CC_YAML_MAP) return;
    for (size_t i = 0; i < n->n_pairs; i++) {
        const cc_yaml_node_t *k = n->pairs[i].key, *v = n->pairs[i].value;
        if (k->kind != CC_YAML_SCALAR || !header_name_ok(k->text) || strlen(k->text) != k->len) {
            cc__cfg_error(e->x, k,
                          "%s has %s as a header name; use letters, digits and "
                          "-_.!#$%%&'*+^`|~ only",
                          path, cc_yaml_describe(k, d, sizeof d));
            continue;
        }
        char label[200], *value = NULL;
        snprintf(label, sizeof label, "%s.%s", key, k->text);
        if (v && v->kind == CC_YAML_SCALAR && cc_yaml_scalar_type(v) == CC_YAML_BOOL) {
            value = dup_or_oom(e->x, v->text); /* "true" is a fine header value */
            if (!value) continue;
        } else if (read_secret(e, v, label, &value, NULL) != 0) {
            if (!value && cc_yaml_is_null(v))
                cc__cfg_error(e->x, v ? v : k, "%s %s has no value; give it one or remove it",
                              e->desc, label);
            continue;
        }
        if (strcspn(value, "\r\n") != strlen(value) || (v && strlen(v->text) != v->len)) {
            cc__cfg_error(e->x, v,
                          "%s %s contains a line break or NUL; header values must be "
                          "one line",
                          e->desc, label);
            free(value);
            continue;
        }
        size_t j;
        for (j = 0; j < m->n_headers; j++)
            if (strcasecmp(m->headers[j].name, k->text) == 0) break;
        if (j < m->n_headers) { /* extra_headers (read last) win over headers */
            free(m->headers[j].value);
            m->headers[j].value = value;
            continue;
        }
        cc_header_kv_t *h = realloc(m->headers, (m->n_headers + 1) * sizeof *h);
        char *name = strdup(k->text);
        if (!h || !name) {
            if (h) m->headers = h;
            free(name);
            free(value);
            cc__cfg_error(e->x, k, "out of memory");
            return;
        }
        m->headers = h;
        h[m->n_headers].name = name;
        h[m->n_headers].value = value;
        m->n_headers++;
    }
}

static void read_ssl_verify(entry_ctx_t *e, cc_model_t *m, const cc_yaml_node_t *lp) {
    char d[96];
    const cc_yaml_node_t *n = cc_yaml_map_get(lp, "ssl_verify");
    m->ssl_verify = true;
    if (cc_yaml_is_null(n)) return;
    if (cc_yaml_get_bool(n, &m->ssl_verify) == 0) return;
    if (n->kind != CC_YAML_SCALAR || cc_yaml_scalar_type(n) != CC_YAML_STR) {
        cc__cfg_error(e->x, n,
                      "%s ssl_verify must be true, false or the path of a CA bundle, "
                      "got %s; fix it",
                      e->desc, cc_yaml_describe(n, d, sizeof d));
        return;
    }
    char *path = n->text[0] == '/' ? strdup(n->text) : cc_path_join(e->x->cfg->dir, n->text);
    if (!path) {
        cc__cfg_error(e->x, n, "out of memory");
        return;
    }
    if (!cc_path_is_file(path)) {
        cc__cfg_error(e->x, n,
                      "%s ssl_verify names the CA bundle %s, which is not a file; give "
                      "the path of a PEM file, or true/false",
                      e->desc, path);
        free(path);
        return;
    }
    m->ca_file = path;
}

/* litellm_params.weight (the deployment's share of its group's picks) and order (its
 * priority in the group, lower first). */
static void read_weight_order(entry_ctx_t *e, cc_model_t *m, const cc_yaml_node_t *lp) {
    char path[128], d[96];
    double w;
    long o;
    m->weight = 1;
    snprintf(path, sizeof path, "%s.weight", e->path);
    const cc_yaml_node_t *wn = cc_yaml_map_get(lp, "weight");
    if (cc__cfg_number(e->x, wn, path, &w) == 0) {
        if (!(w > 0) || w > CC_MAX_WEIGHT)
            cc__cfg_error(e->x, wn,
                          "%s must be a number above 0 and at most 1000000 (the deployment's "
                          "share of its group's picks; default 1), got %s; change it",
                          path, cc_yaml_describe(wn, d, sizeof d));
        else
            m->weight = w;
    }
    snprintf(path, sizeof path, "%s.order", e->path);
    if (cc__cfg_int(e->x, cc_yaml_map_get(lp, "order"), path, 1, CC_MAX_ORDER, &o) == 0)
        m->order = (int)o;
}

/* litellm_params.rpm / tpm (the deployment's limits a minute) and max_parallel_requests. */
static void read_limits(entry_ctx_t *e, cc_model_t *m, const cc_yaml_node_t *lp) {
    char path[128];
    long v;
    snprintf(path, sizeof path, "%s.rpm", e->path);
    if (cc__cfg_int(e->x, cc_yaml_map_get(lp, "rpm"), path, 1, CC_MAX_RATE, &v) == 0)
        m->rpm = (unsigned)v;
    snprintf(path, sizeof path, "%s.tpm", e->path);
    if (cc__cfg_int(e->x, cc_yaml_map_get(lp, "tpm"), path, 1, CC_MAX_RATE, &v) == 0)
        m->tpm = (unsigned)v;
    snprintf(path, sizeof path, "%s.max_parallel_requests", e->path);
    if (cc__cfg_int(e->x, cc_yaml_map_get(lp, "max_parallel_requests"), path, 1, CC_MAX_RATE,
                    &v) == 0)
        m->max_parallel = (int)v;
}

/* litellm_params.timeout or stream_timeout, in seconds, into *out. */
static void read_timeout_seconds(entry_ctx_t *e, const cc_yaml_node_t *lp, const char *key,
                                 double *out) {
    char path[128];
    double t;
    snprintf(path, sizeof path, "%s.%s", e->path, key);
    const cc_yaml_node_t *tn = cc_yaml_map_get(lp, key);
    if (cc__cfg_number(e->x, tn, path, &t) != 0) return;
    if (t < 0 || t > 1e6)
        cc__cfg_error(e->x, tn,
                      "%s must be a number of seconds from 0 to 1000000 (0 = the "
                      "global default); change it",
                      path);
    else
        *out = t;
}

/* The fields of a deployment. `custom` is litellm_params.custom_llm_provider (taken over). */
static void read_deployment(entry_ctx_t *e, cc_model_t *m, const entry_src_t *src, char *custom,
                            const provider_t *prefix) {
    cc__cfgctx_t *x = e->x;
    const cc_yaml_node_t *lp = src->lp;
    const provider_t *prov = NULL;
    const char *slash = strchr(m->model, '/');
    char path[128];

    if (custom) {
        prov = find_provider(custom, strlen(custom));
        if (!prov) {
            cc_buf_t list = CC_BUF_INIT;
            provider_list(&list);
            cc__cfg_error(x, cc_yaml_map_get(lp, "custom_llm_provider"),
                          "%s custom_llm_provider '%s' is not a provider ccproxy knows; use one "
                          "of: %s",
                          e->desc, custom, list.data);
            cc_buf_free(&list);
        }
    } else if (prefix) {
        prov = prefix;
    } else {
        const char *inferred = infer_provider(m->model);
        prov = inferred ? find_provider(inferred, strlen(inferred)) : NULL;
        if (!prov && slash)
            cc__cfg_error(x, src->model,
                          "%s model '%s': '%.*s' is not a provider ccproxy knows "
                          "and no entry has model_name '%s'; write it as provider/model, e.g. "
                          "anthropic/claude-sonnet-4-5",
                          e->desc, m->model, (int)(slash - m->model), m->model, m->model);
        else if (!prov)
            cc__cfg_error(x, src->model,
                          "%s model '%s' names no other model_name and its "
                          "provider cannot be told; write it as provider/model, e.g. "
                          "anthropic/claude-sonnet-4-5",
                          e->desc, m->model);
    }
    free(custom);
    if (!prov) return;

    const char *upstream = m->model;
    if (slash && (size_t)(slash - m->model) == strlen(prov->name) &&
        memcmp(m->model, prov->name, strlen(prov->name)) == 0)
        upstream = slash + 1;
    if (!*upstream) {
        cc__cfg_error(x, src->model,
                      "%s model '%s' has nothing after the provider; write e.g. "
                      "%sclaude-sonnet-4-5",
                      e->desc, m->model, m->model);
        return;
    }
    if (strchr(upstream, '*') && strcmp(upstream, "*") != 0) {
        cc__cfg_error(x, src->model,
                      "%s model '%s': a wildcard must be the whole model after "
                      "the provider; write %s/* to pass the requested name through",
                      e->desc, m->model, prov->name);
        return;
    }
    m->provider = dup_or_oom(x, prov->name);
    m->upstream_model = dup_or_oom(x, upstream);

    /* api_base: as configured (os.environ/ allowed), else the provider's default. */
    char *base = NULL;
    const cc_yaml_node_t *bn = cc_yaml_map_get(lp, "api_base");
    int rc = read_secret(e, bn, "api_base", &base, NULL);
    if (rc == 0) {
        if (!starts_with(base, "http://") && !starts_with(base, "https://")) {
            cc__cfg_error(x, bn,
                          "%s api_base '%s' is not an http:// or https:// URL; write e.g. "
                          "https://api.anthropic.com",
                          e->desc, base);
            free(base);
            base = NULL;
        } else {
            size_t n = strlen(base);
            while (n > 0 && base[n - 1] == '/')
                base[--n] = '\0';
            m->api_base = base;
        }
    } else if (rc == 1) {
        if (prov->api_base)
            m->api_base = dup_or_oom(x, prov->api_base);
        else
            cc__cfg_error(x, src->model,
                          "%s provider '%s' has no default api_base; set "
                          "litellm_params.api_base to the server's URL",
                          e->desc, prov->name);
    }

    read_secret(e, cc_yaml_map_get(lp, "api_key"), "api_key", &m->api_key, &m->api_key_env);
    read_headers(e, m, lp, "headers");
    read_headers(e, m, lp, "extra_headers");
    read_ssl_verify(e, m, lp);

    read_timeout_seconds(e, lp, "timeout", &m->timeout);
    read_timeout_seconds(e, lp, "stream_timeout", &m->stream_timeout);
    read_weight_order(e, m, lp);
    read_limits(e, m, lp);
    snprintf(path, sizeof path, "%s.max_tokens", e->path);
    const cc_yaml_node_t *mt = cc_yaml_map_get(lp, "max_tokens");
    double v;
    if (cc__cfg_number(x, mt, path, &v) == 0 && (v < 1 || v > 1e9 || v != (double)(long)v))
        cc__cfg_error(x, mt, "%s must be a whole number of tokens above 0; change it", path);
}

/* An alias only names another entry: settings that only a deployment uses are ignored. */
static void warn_alias_settings(entry_ctx_t *e, const cc_model_t *m, const entry_src_t *srcs,
                                const entry_src_t *src) {
    static const char *const deployment_keys[] = {"api_base", "api_key",    "extra_headers",
                                                  "headers",  "ssl_verify", "timeout", "stream_timeout",
                                                  "weight",   "order",      "rpm",
                                                  "tpm", "max_parallel_requests", NULL};
    const cc_model_t *target = &e->x->cfg->models[m->alias_of];
    for (const char *const *k = deployment_keys; *k; k++) {
        const cc_yaml_node_t *n = cc_yaml_map_get(src->lp, *k);
        if (!n) continue;
        cc__cfg_warn(e->x, n,
                     "%s is an alias of '%s' (model_list[%zu]), so its %s is not "
                     "used; remove it, or write model as provider/model to make this entry a "
                     "deployment",
                     e->desc, target->model_name, srcs[m->alias_of].index, *k);
    }
}

static void classify(cc__cfgctx_t *x, size_t i, const entry_src_t *srcs) {
    cc_config_t *cfg = x->cfg;
    cc_model_t *m = &cfg->models[i];
    const entry_src_t *src = &srcs[i];
    entry_ctx_t e = {.x = x, .index = src->index, .name = m->model_name};
    snprintf(e.desc, sizeof e.desc, "model_list[%zu] (%.150s)", src->index, m->model_name);
    snprintf(e.path, sizeof e.path, "model_list[%zu].litellm_params", src->index);

    char *custom = NULL, path[128];
    snprintf(path, sizeof path, "%s.custom_llm_provider", e.path);
    if (cc__cfg_string(x, cc_yaml_map_get(src->lp, "custom_llm_provider"), path, &custom) < 0)
        return;
    if (custom && !*custom) {
        free(custom);
        custom = NULL;
    }
    const char *slash = strchr(m->model, '/');
    const provider_t *prefix = slash ? find_provider(m->model, (size_t)(slash - m->model)) : NULL;
    /* A model written without a provider that names another entry makes this an alias. */
    if (!custom && !prefix) {
        int target = find_entry(cfg, m->model, (int)i);
        if (target >= 0) {
            m->alias_of = target;
            warn_alias_settings(&e, m, srcs, src);
            return;
        }
    }
    read_deployment(&e, m, src, custom, prefix);
}

/* Reads one model_list item into cfg->models[cfg->n_models] (when it has the basics). */
static void read_entry(cc__cfgctx_t *x, const cc_yaml_node_t *it, size_t i, entry_src_t *src) {
    static const char *const entry_keys[] = {"model_name", "litellm_params", "model_info", NULL};
    cc_config_t *cfg = x->cfg;
    char path[64], kpath[96], d[96];
    snprintf(path, sizeof path, "model_list[%zu]", i);
    if (it->kind != CC_YAML_MAP) {
        cc__cfg_error(x, it,
                      "%s must be a map with model_name and litellm_params, got %s; fix "
                      "the entry",
                      path, cc_yaml_describe(it, d, sizeof d));
        return;
    }
    cc__cfg_check_keys(x, it, path, entry_keys);
    char *name = NULL, *model = NULL;
    cJSON *lpj = NULL, *info = NULL;
    const cc_yaml_node_t *nn = cc_yaml_map_get(it, "model_name");
    const cc_yaml_node_t *lp = cc_yaml_map_get(it, "litellm_params");
    const cc_yaml_node_t *mi = cc_yaml_map_get(it, "model_info");
    const cc_yaml_node_t *mn = cc_yaml_map_get(lp, "model");

    snprintf(kpath, sizeof kpath, "%s.model_name", path);
    int rc = cc__cfg_string(x, nn, kpath, &name);
    if (rc == 1 || (rc == 0 && !*name)) {
        cc__cfg_error(x, nn ? nn : it,
                      "%s has no model_name; give it the name that clients, "
                      "rules or aliases ask for",
                      path);
        goto fail;
    }
    if (rc < 0) goto fail;
    snprintf(kpath, sizeof kpath, "%s.litellm_params", path);
    if (cc__cfg_want_map(x, lp, kpath) != 0) goto fail;
    snprintf(kpath, sizeof kpath, "%s.litellm_params.model", path);
    rc = lp ? cc__cfg_string(x, mn, kpath, &model) : 1;
    if (rc == 1 || (rc == 0 && !*model)) {
        cc__cfg_error(x,
                      mn   ? mn
                      : lp ? lp
                           : it,
                      "%s (%s) has no litellm_params.model; write "
                      "\"litellm_params: {model: provider/model}\" or name another entry's "
                      "model_name",
                      path, name);
        goto fail;
    }
    if (rc < 0) goto fail;
    snprintf(kpath, sizeof kpath, "%s.model_info", path);
    if (cc__cfg_want_map(x, mi, kpath) != 0) goto fail;
    lpj = cc_yaml_to_json(lp);
    info = mi && !cc_yaml_is_null(mi) ? cc_yaml_to_json(mi) : NULL;
    if (!lpj || (mi && !cc_yaml_is_null(mi) && !info)) {
        cc__cfg_error(x, it, "out of memory");
        goto fail;
    }
    cc_model_t *m = &cfg->models[cfg->n_models++];
    m->model_name = name;
    m->model = model;
    m->alias_of = -1;
    m->ssl_verify = true;
    m->litellm_params = lpj;
    m->model_info = info;
    m->pos = cc__cfg_pos(x, it);
    src->index = i;
    src->node = it;
    src->lp = lp;
    src->model = mn;
    return;
fail:
    free(name);
    free(model);
    cJSON_Delete(lpj);
    cJSON_Delete(info);
}

/* Entries that share a model_name form a group, which is fine for deployments. An alias in a
 * group makes the name ambiguous: a lookup takes the first entry of the name. */
static void warn_alias_in_group(cc__cfgctx_t *x, const entry_src_t *srcs) {
    cc_config_t *cfg = x->cfg;
    for (size_t i = 0; i < cfg->n_models; i++) {
        const cc_model_t *m = &cfg->models[i];
        if (m->alias_of < 0) continue;
        size_t first = i, other = i;
        for (size_t j = 0; j < cfg->n_models; j++) {
            if (j == i || strcmp(cfg->models[j].model_name, m->model_name) != 0) continue;
            if (other == i) other = j;
            if (j < first) first = j;
        }
        if (other == i) continue;
        cc__cfg_warn(x, srcs[i].node,
                     "model_list[%zu] (%s) is an alias, and model_list[%zu] (line %d) has the "
                     "same model_name; entries sharing a model_name form a group of deployments, "
                     "so '%s' is ambiguous and requests for it use model_list[%zu] only; give "
                     "the alias another model_name, or make it a deployment (provider/model)",
                     srcs[i].index, m->model_name, srcs[other].index, cfg->models[other].pos.line,
                     m->model_name, srcs[first].index);
    }
}

/* Rejects alias cycles and chains longer than CC_MAX_ALIAS_HOPS. */
static void check_chains(cc__cfgctx_t *x, const entry_src_t *srcs) {
    cc_config_t *cfg = x->cfg;
    size_t n = cfg->n_models;
    size_t *stamp = calloc(n, sizeof *stamp);
    bool *reported = calloc(n, sizeof *reported), *targeted = calloc(n, sizeof *targeted);
    if (!stamp || !reported || !targeted) {
        cc__cfg_error(x, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (cfg->models[i].alias_of >= 0) targeted[cfg->models[i].alias_of] = true;
    for (size_t i = 0; i < n; i++) {
        if (cfg->models[i].alias_of < 0) continue;
        size_t cur = i, len = 0;
        bool cycle = false;
        while (cfg->models[cur].alias_of >= 0) {
            if (stamp[cur] == i + 1) {
                cycle = true;
                break;
            }
            stamp[cur] = i + 1;
            len++;
            cur = (size_t)cfg->models[cur].alias_of;
        }
        if (cycle && reported[cur]) continue;
        cc_buf_t chain = CC_BUF_INIT;
        if (cycle) {
            size_t k = cur;
            do {
                reported[k] = true;
                cc_buf_printf(&chain, "%s -> ", cfg->models[k].model_name);
                k = (size_t)cfg->models[k].alias_of;
            } while (k != cur);
            cc_buf_puts(&chain, cfg->models[cur].model_name);
            cc__cfg_error(x, srcs[cur].node,
                          "model_list[%zu] (%s) is in an alias cycle: %s; "
                          "point one of them at a deployment (provider/model)",
                          srcs[cur].index, cfg->models[cur].model_name, chain.data);
        } else if (len > CC_MAX_ALIAS_HOPS && !targeted[i]) {
            size_t k = i;
            for (; cfg->models[k].alias_of >= 0; k = (size_t)cfg->models[k].alias_of)
                cc_buf_printf(&chain, "%s -> ", cfg->models[k].model_name);
            cc_buf_puts(&chain, cfg->models[k].model_name);
            cc__cfg_error(x, srcs[i].node,
                          "model_list[%zu] (%s) reaches its deployment through "
                          "%zu aliases (%s), more than the %d followed; point it nearer the "
                          "deployment",
                          srcs[i].index, cfg->models[i].model_name, len, chain.data,
                          CC_MAX_ALIAS_HOPS);
        }
        cc_buf_free(&chain);
    }
done:
    free(stamp);
    free(reported);
    free(targeted);
}

void cc__cfg_load_models(cc__cfgctx_t *x, const cc_yaml_node_t *root) {
    static const char *const top_keys[] = {
        "model_list",      "litellm_settings",      "general_settings",
        "router_settings", "environment_variables", NULL};
    cc_config_t *cfg = x->cfg;
    char d[96];
    if (!root || cc_yaml_is_null(root)) {
        cc__cfg_error(x, NULL,
                      "the file is empty; it needs a model_list of deployments (run "
                      "`ccproxy install` for a working one)");
        return;
    }
    if (root->kind != CC_YAML_MAP) {
        cc__cfg_error(x, root,
                      "the top level must be a map with a model_list: section, got %s; "
                      "see the file `ccproxy install` writes",
                      cc_yaml_describe(root, d, sizeof d));
        return;
    }
    cc__cfg_check_keys(x, root, "config.yaml", top_keys);
    const cc_yaml_node_t *env = cc_yaml_map_get(root, "environment_variables");
    if (cc__cfg_want_map(x, env, "environment_variables") == 0) x->env_vars = env;

    const cc_yaml_node_t *ml = cc_yaml_map_get(root, "model_list");
    if (cc_yaml_is_null(ml) || (ml->kind == CC_YAML_SEQ && ml->n_items == 0)) {
        cc__cfg_error(x, ml ? ml : root,
                      "model_list is %s; add at least one deployment, e.g. "
                      "\"- model_name: default\" with \"litellm_params: {model: "
                      "anthropic/claude-sonnet-4-5}\"",
                      ml ? "empty" : "missing");
        return;
    }
    if (ml->kind != CC_YAML_SEQ) {
        cc__cfg_error(x, ml,
                      "model_list must be a list, got %s; write one \"- model_name: ...\" "
                      "entry per model",
                      cc_yaml_describe(ml, d, sizeof d));
        return;
    }
    cfg->models = calloc(ml->n_items, sizeof *cfg->models);
    entry_src_t *srcs = calloc(ml->n_items, sizeof *srcs);
    if (!cfg->models || !srcs) {
        cc__cfg_error(x, ml, "out of memory");
        free(srcs);
        return;
    }
    for (size_t i = 0; i < ml->n_items; i++)
        read_entry(x, ml->items[i], i, &srcs[cfg->n_models]);
    for (size_t i = 0; i < cfg->n_models; i++)
        classify(x, i, srcs);
    warn_alias_in_group(x, srcs);
    check_chains(x, srcs);
    free(srcs);
}

void cc__cfg_free_model(cc_model_t *m) {
    free(m->model_name);
    free(m->model);
    free(m->provider);
    free(m->upstream_model);
    free(m->api_base);
    free(m->api_key);
    free(m->api_key_env);
    for (size_t i = 0; i < m->n_headers; i++) {
        free(m->headers[i].name);
        free(m->headers[i].value);
    }
    free(m->headers);
    free(m->ca_file);
    cJSON_Delete(m->litellm_params);
    cJSON_Delete(m->model_info);
    memset(m, 0, sizeof *m);
}
