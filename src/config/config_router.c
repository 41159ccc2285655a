/* config_router.c: config.yaml's router_settings: retries within a group, when a deployment
 * cools down, fallbacks from one group to others, and the routing strategy. LiteLLM reads most
 * of these keys from litellm_settings as well, so ccproxy does too; a key written in both
 * places is an error. The LiteLLM router settings ccproxy does not implement yet are accepted
 * with a warning that says so. Every group a fallback names must be a model_list model_name.
 * Where the Redis is (router_settings only, as LiteLLM has it) is read by config_redis.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "config/yaml_tree.h"

/* The keys ccproxy reads, under router_settings or litellm_settings. */
static const char *const router_keys[] = {"num_retries",      "retry_after", "allowed_fails",
                                          "cooldown_time",    "fallbacks",   "default_fallbacks",
                                          "routing_strategy", NULL};

/* The keys only router_settings holds: where the Redis is (config_redis.c reads them). */
static const char *const redis_keys[] = {"redis_host", "redis_port", "redis_password",
                                         "redis_url", NULL};

/* LiteLLM's other router settings: accepted, with a warning that they do nothing yet. */
static const char *const pending_router_keys[] = {"timeout",
                                                  "stream_timeout",
                                                  "max_fallbacks",
                                                  "retry_policy",
                                                  "model_group_retry_policy",
                                                  "allowed_fails_policy",
                                                  "context_window_fallbacks",
                                                  "content_policy_fallbacks",
                                                  "disable_cooldowns",
                                                  "cache_responses",
                                                  "cache_kwargs",
                                                  "caching_groups",
                                                  "client_ttl",
                                                  "polling_interval",
                                                  "model_group_alias",
                                                  "enable_pre_call_checks",
                                                  "optional_pre_call_checks",
                                                  "routing_strategy_args",
                                                  "default_max_parallel_requests",
                                                  "default_priority",
                                                  "provider_budget_config",
                                                  "enable_tag_filtering",
                                                  "default_litellm_params",
                                                  NULL};

/* What LiteLLM reads from litellm_settings for its router that ccproxy does not use yet. The
 * section holds many other LiteLLM settings (callbacks, drop_params, ...): those stay silent. */
static const char *const pending_litellm_keys[] = {"context_window_fallbacks",
                                                   "content_policy_fallbacks", NULL};

static const char *const supported_strategies[] = {"simple-shuffle", NULL};
static const char *const unsupported_strategies[] = {
    "least-busy",          "latency-based-routing",
    "usage-based-routing", "usage-based-routing-v2",
    "cost-based-routing",  NULL};

/* Whole-number limits of the counts (docs/configuration.md gives them). */
#define CC_MAX_NUM_RETRIES 10
#define CC_MAX_ALLOWED_FAILS 1000000

void cc__cfg_router_defaults(cc_router_settings_t *r) {
    memset(r, 0, sizeof *r);
    r->num_retries = 0;
    r->retry_after_ms = 0;
    r->allowed_fails = 3;
    r->cooldown_ms = 5000;
}

void cc__cfg_free_router(cc_router_settings_t *r) {
    for (size_t i = 0; i < r->n_fallbacks; i++) {
        free(r->fallbacks[i].from);
        for (size_t j = 0; j < r->fallbacks[i].n_to; j++)
            free(r->fallbacks[i].to[j]);
        free(r->fallbacks[i].to);
    }
    free(r->fallbacks);
    for (size_t i = 0; i < r->n_default_fallbacks; i++)
        free(r->default_fallbacks[i]);
    free(r->default_fallbacks);
    cc__cfg_free_redis(&r->redis);
    memset(r, 0, sizeof *r);
}

static bool in_list(const char *s, const char *const *list) {
    for (; *list; list++)
        if (strcmp(s, *list) == 0) return true;
    return false;
}

static void join(cc_buf_t *b, const char *const *list) {
    for (const char *const *p = list; *p; p++)
        cc_buf_printf(b, "%s%s", p == list ? "" : ", ", *p);
}

/* The key node of the last pair of `map` named `key` (the pair cc_yaml_map_get reads). */
static const cc_yaml_node_t *key_node(const cc_yaml_node_t *map, const char *key) {
    if (!map || map->kind != CC_YAML_MAP) return NULL;
    for (size_t i = map->n_pairs; i-- > 0;) {
        const cc_yaml_node_t *k = map->pairs[i].key;
        if (k->kind == CC_YAML_SCALAR && strlen(k->text) == k->len && strcmp(k->text, key) == 0)
            return k;
    }
    return NULL;
}

/* ---- keys not used yet ---------------------------------------------------------------------- */

/* What to use instead, for the keys whose job ccproxy does another way. */
static const char *pending_hint(const char *key) {
    if (strcmp(key, "timeout") == 0 || strcmp(key, "stream_timeout") == 0)
        return "; ccproxy's timeouts are litellm_params.timeout per deployment and "
               "ccproxy.upstream in ccproxy.yaml";
    if (strcmp(key, "model_group_alias") == 0)
        return "; an alias is a model_list entry whose model names another model_name";
    return "";
}

static void warn_pending(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                         const char *const *pending) {
    if (!map || map->kind != CC_YAML_MAP) return;
    for (size_t i = 0; i < map->n_pairs; i++) {
        const cc_yaml_node_t *k = map->pairs[i].key;
        if (k->kind != CC_YAML_SCALAR || !in_list(k->text, pending)) continue;
        cc__cfg_warn(x, k,
                     "%s.%s is accepted but not used yet: ccproxy does not implement it, so it "
                     "has no effect%s; remove it, or keep it for when ccproxy does",
                     section, k->text, pending_hint(k->text));
    }
}

/* ---- group names ---------------------------------------------------------------------------- */

static bool group_exists(const cc_config_t *cfg, const char *name) {
    for (size_t i = 0; i < cfg->n_models; i++)
        if (strcmp(cfg->models[i].model_name, name) == 0) return true;
    return false;
}

/* Reads one group name into *out (malloc'd). With `check`, the name must be a model_list
 * model_name. `from`: the name is a fallbacks key (for the hint about LiteLLM's "*"). */
static int read_group_name(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path, bool check,
                           bool from, char **out) {
    if (cc_yaml_is_null(n) || (n->kind == CC_YAML_SCALAR && n->len == 0)) {
        cc__cfg_error(x, n, "%s has an empty group name; write a model_list model_name", path);
        return -1;
    }
    if (cc__cfg_string(x, n, path, out) != 0) return -1;
    if (strlen(*out) != n->len) {
        cc__cfg_error(x, n, "%s contains a NUL byte; write a model_list model_name", path);
        goto fail;
    }
    if (!check || group_exists(x->cfg, *out)) return 0;
    if (from && strcmp(*out, "*") == 0)
        cc__cfg_error(x, n,
                      "%s names the group '*', but no model_list entry has model_name '*'; "
                      "ccproxy has no catch-all fallbacks key: list the groups to try after any "
                      "group under default_fallbacks",
                      path);
    else
        cc__cfg_error(x, n,
                      "%s names the group '%s', but no model_list entry has model_name '%s'; "
                      "add a model_list entry with that model_name or correct the name",
                      path, *out, *out);
fail:
    free(*out);
    *out = NULL;
    return -1;
}

/* Reads a list of group names (or one name written alone) into *names / *n. A null value
 * leaves them empty. Returns 0, or -1 after an error. */
static int read_group_list(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path, bool check,
                           char ***names, size_t *count) {
    char d[96], ipath[160];
    *names = NULL;
    *count = 0;
    if (cc_yaml_is_null(n)) return 0;
    if (n->kind == CC_YAML_MAP) {
        cc__cfg_error(x, n,
                      "%s must be a list of model_list model_names, got %s; write e.g. "
                      "[claude-sonnet, gpt-5]",
                      path, cc_yaml_describe(n, d, sizeof d));
        return -1;
    }
    size_t cap = n->kind == CC_YAML_SEQ ? n->n_items : 1;
    *names = calloc(cap ? cap : 1, sizeof **names);
    if (!*names) {
        cc__cfg_error(x, n, "out of memory");
        return -1;
    }
    if (n->kind == CC_YAML_SCALAR)
        return read_group_name(x, n, path, check, false, &(*names)[(*count)++]) == 0 ? 0 : -1;
    int rc = 0;
    for (size_t i = 0; i < n->n_items; i++) {
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        char *name = NULL;
        if (read_group_name(x, n->items[i], ipath, check, false, &name) != 0)
            rc = -1;
        else
            (*names)[(*count)++] = name;
    }
    return rc;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- the settings --------------------------------------------------------------------------- */

static void read_fallback_pair(cc__cfgctx_t *x, const cc_yaml_pair_t *p, const char *ipath,
                               bool check) {
    cc_router_settings_t *r = &x->cfg->router;
    char *from = NULL, vpath[256];
    if (read_group_name(x, p->key, ipath, check, true, &from) != 0) return;
    snprintf(vpath, sizeof vpath, "%s.%s", ipath, from);
    if (cc_yaml_is_null(p->value)) {
        cc__cfg_error(x, p->key,
                      "%s has no fallback groups; list them, e.g. {%s: [another-group]}, or "
                      "remove the entry",
                      vpath, from);
        free(from);
        return;
    }
    for (size_t i = 0; i < r->n_fallbacks; i++) {
        if (strcmp(r->fallbacks[i].from, from) != 0) continue;
        cc__cfg_warn(x, p->key,
                     "%s gives the fallbacks of group '%s' again (first at line %d); this one "
                     "is not used, merge the two",
                     ipath, from, r->fallbacks[i].pos.line);
        free(from);
        return;
    }
    cc_fallback_t *f = &r->fallbacks[r->n_fallbacks];
    if (read_group_list(x, p->value, vpath, check, &f->to, &f->n_to) != 0) {
        free_names(f->to, f->n_to);
        memset(f, 0, sizeof *f);
        free(from);
        return;
    }
    f->from = from;
    f->pos = cc__cfg_pos(x, p->key);
    r->n_fallbacks++;
}

static void read_fallbacks(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                           bool check) {
    cc_router_settings_t *r = &x->cfg->router;
    const cc_yaml_node_t *n = cc_yaml_map_get(map, "fallbacks");
    char d[96], ipath[96];
    if (cc_yaml_is_null(n)) return;
    if (n->kind != CC_YAML_SEQ) {
        cc__cfg_error(x, n,
                      "%s.fallbacks must be a list of {group: [fallback groups]} maps, got %s; "
                      "write e.g. fallbacks: [{claude-opus: [claude-sonnet]}]",
                      section, cc_yaml_describe(n, d, sizeof d));
        return;
    }
    size_t total = 0;
    for (size_t i = 0; i < n->n_items; i++)
        if (n->items[i]->kind == CC_YAML_MAP) total += n->items[i]->n_pairs;
    r->fallbacks = calloc(total ? total : 1, sizeof *r->fallbacks);
    if (!r->fallbacks) {
        cc__cfg_error(x, n, "out of memory");
        return;
    }
    for (size_t i = 0; i < n->n_items; i++) {
        const cc_yaml_node_t *it = n->items[i];
        snprintf(ipath, sizeof ipath, "%s.fallbacks[%zu]", section, i);
        if (it->kind != CC_YAML_MAP) {
            cc__cfg_error(x, it,
                          "%s must be a map {group: [fallback groups]}, got %s; write e.g. "
                          "\"- claude-opus: [claude-sonnet]\"",
                          ipath, cc_yaml_describe(it, d, sizeof d));
            continue;
        }
        for (size_t j = 0; j < it->n_pairs; j++)
            read_fallback_pair(x, &it->pairs[j], ipath, check);
    }
}

static void read_default_fallbacks(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                                   bool check) {
    cc_router_settings_t *r = &x->cfg->router;
    char path[96];
    snprintf(path, sizeof path, "%s.default_fallbacks", section);
    if (read_group_list(x, cc_yaml_map_get(map, "default_fallbacks"), path, check,
                        &r->default_fallbacks, &r->n_default_fallbacks) != 0) {
        free_names(r->default_fallbacks, r->n_default_fallbacks);
        r->default_fallbacks = NULL;
        r->n_default_fallbacks = 0;
    }
}

static void read_routing_strategy(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                                  bool check) {
    const cc_yaml_node_t *n = cc_yaml_map_get(map, "routing_strategy");
    char path[96], *s = NULL;
    (void)check;
    snprintf(path, sizeof path, "%s.routing_strategy", section);
    if (cc__cfg_string(x, n, path, &s) != 0) return;
    if (in_list(s, supported_strategies)) {
        free(s);
        return;
    }
    if (in_list(s, unsupported_strategies)) {
        cc__cfg_error(x, n,
                      "%s '%s' is not supported yet: ccproxy picks a group's deployments by "
                      "weight and order only; write routing_strategy: simple-shuffle or remove it",
                      path, s);
    } else {
        cc_buf_t list = CC_BUF_INIT;
        join(&list, supported_strategies);
        cc_buf_puts(&list, ", ");
        join(&list, unsupported_strategies);
        cc__cfg_error(x, n,
                      "%s '%s' is not a routing strategy (known: %s); write simple-shuffle, the "
                      "one ccproxy supports",
                      path, s, list.data);
        cc_buf_free(&list);
    }
    free(s);
}

/* A whole number from 0 to `hi` into *out. */
static void read_count(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                       const char *key, long hi, int *out) {
    char path[96];
    long v;
    snprintf(path, sizeof path, "%s.%s", section, key);
    if (cc__cfg_int(x, cc_yaml_map_get(map, key), path, 0, hi, &v) == 0) *out = (int)v;
}

static void read_num_retries(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                             bool check) {
    (void)check;
    read_count(x, map, section, "num_retries", CC_MAX_NUM_RETRIES, &x->cfg->router.num_retries);
}

static void read_allowed_fails(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                               bool check) {
    (void)check;
    read_count(x, map, section, "allowed_fails", CC_MAX_ALLOWED_FAILS,
               &x->cfg->router.allowed_fails);
}

static void read_retry_after(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                             bool check) {
    (void)check;
    cc__cfg_seconds(x, map, "retry_after", section, true, &x->cfg->router.retry_after_ms);
}

static void read_cooldown_time(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                               bool check) {
    (void)check;
    cc__cfg_seconds(x, map, "cooldown_time", section, false, &x->cfg->router.cooldown_ms);
}

typedef void (*key_reader_t)(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                             bool check);

/* One reader per entry of router_keys, in the same order. */
static const key_reader_t readers[] = {
    read_num_retries, read_retry_after,       read_allowed_fails,   read_cooldown_time,
    read_fallbacks,   read_default_fallbacks, read_routing_strategy};

void cc__cfg_load_router(cc__cfgctx_t *x, const cc_yaml_node_t *root, bool check_groups) {
    _Static_assert(sizeof readers / sizeof readers[0] ==
                       sizeof router_keys / sizeof router_keys[0] - 1,
                   "one reader per router key");
    if (!root || root->kind != CC_YAML_MAP) return;
    const cc_yaml_node_t *rs = cc_yaml_map_get(root, "router_settings");
    const cc_yaml_node_t *ls = cc_yaml_map_get(root, "litellm_settings");
    if (cc__cfg_want_map(x, rs, "router_settings") != 0) rs = NULL;
    if (cc__cfg_want_map(x, ls, "litellm_settings") != 0) ls = NULL;
    const char *known[sizeof router_keys / sizeof router_keys[0] + sizeof redis_keys /
                      sizeof redis_keys[0] - 1];
    size_t n_known = 0;
    for (size_t i = 0; router_keys[i]; i++)
        known[n_known++] = router_keys[i];
    for (size_t i = 0; redis_keys[i]; i++)
        known[n_known++] = redis_keys[i];
    known[n_known] = NULL;
    cc__cfg_check_keys_ex(x, rs, "router_settings", known, pending_router_keys);
    warn_pending(x, rs, "router_settings", pending_router_keys);
    warn_pending(x, ls, "litellm_settings", pending_litellm_keys);

    for (size_t i = 0; router_keys[i]; i++) {
        const char *key = router_keys[i];
        const cc_yaml_node_t *in_rs = key_node(rs, key), *in_ls = key_node(ls, key);
        if (in_rs && in_ls) {
            bool rs_later = in_rs->line > in_ls->line ||
                            (in_rs->line == in_ls->line && in_rs->col > in_ls->col);
            cc__cfg_error(x, rs_later ? in_rs : in_ls,
                          "%s is set both in router_settings (line %d) and in litellm_settings "
                          "(line %d); keep one of them",
                          key, in_rs->line, in_ls->line);
            continue;
        }
        if (in_rs)
            readers[i](x, rs, "router_settings", check_groups);
        else if (in_ls)
            readers[i](x, ls, "litellm_settings", check_groups);
    }
    cc__cfg_load_redis(x, rs);
}
