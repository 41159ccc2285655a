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
static const char *const router_keys[] = {"num_retries",
                                          "retry_after",
                                          "allowed_fails",
                                          "cooldown_time",
                                          "fallbacks",
                                          "default_fallbacks",
                                          "routing_strategy",
                                          "routing_strategy_args",
                                          "default_max_parallel_requests",
                                          "context_window_fallbacks",
                                          "content_policy_fallbacks",
                                          "max_fallbacks",
                                          "retry_policy",
                                          "model_group_retry_policy",
                                          "allowed_fails_policy",
                                          "disable_cooldowns",
                                          "timeout",
                                          "stream_timeout",
                                          NULL};

/* The keys only router_settings holds: where the Redis is (config_redis.c reads them). */
static const char *const redis_keys[] = {"redis_host", "redis_port", "redis_password",
                                         "redis_url", NULL};

/* LiteLLM's other router settings: accepted, with a warning that they do nothing yet. */
static const char *const pending_router_keys[] = {"cache_responses",
                                                  "cache_kwargs",
                                                  "caching_groups",
                                                  "client_ttl",
                                                  "polling_interval",
                                                  "model_group_alias",
                                                  "enable_pre_call_checks",
                                                  "optional_pre_call_checks",
                                                  "default_priority",
                                                  "provider_budget_config",
                                                  "enable_tag_filtering",
                                                  "default_litellm_params",
                                                  NULL};

/* The strategies by name, as LiteLLM spells them (usage-based-routing-v2 is LiteLLM's newer
 * implementation of the same rule: ccproxy has one). */
static const struct {
    const char *name;
    cc_strategy_t strategy;
} strategies[] = {{"simple-shuffle", CC_STRATEGY_SHUFFLE},
                  {"least-busy", CC_STRATEGY_LEAST_BUSY},
                  {"latency-based-routing", CC_STRATEGY_LATENCY},
                  {"usage-based-routing", CC_STRATEGY_USAGE},
                  {"usage-based-routing-v2", CC_STRATEGY_USAGE}};
static const char *const unsupported_strategies[] = {"cost-based-routing", NULL};

/* Whole-number limits of the counts (docs/configuration.md gives them). */
#define CC_MAX_NUM_RETRIES 10
#define CC_MAX_ALLOWED_FAILS 1000000
#define CC_MAX_PARALLEL 1000000
#define CC_ROUTER_FALLBACKS_MAX 7 /* a plan holds a group and up to 7 fallbacks */

void cc__cfg_router_defaults(cc_router_settings_t *r) {
    memset(r, 0, sizeof *r);
    r->num_retries = 0;
    r->retry_after_ms = 0;
    r->allowed_fails = 3;
    r->cooldown_ms = 5000;
    r->strategy = CC_STRATEGY_SHUFFLE;
    r->latency_ttl_ms = 3600000;
    r->latency_buffer = 0;
    r->max_fallbacks = 5;
    for (int i = 0; i < CC_POLICY_CLASSES; i++) {
        r->retry_policy[i] = -1;
        r->allowed_fails_policy[i] = -1;
    }
}

static void free_fallbacks(cc_fallback_t *list, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(list[i].from);
        for (size_t j = 0; j < list[i].n_to; j++)
            free(list[i].to[j]);
        free(list[i].to);
    }
    free(list);
}

void cc__cfg_free_router(cc_router_settings_t *r) {
    free_fallbacks(r->fallbacks, r->n_fallbacks);
    free_fallbacks(r->context_window_fallbacks, r->n_context_window_fallbacks);
    free_fallbacks(r->content_policy_fallbacks, r->n_content_policy_fallbacks);
    for (size_t i = 0; i < r->n_group_retry_policy; i++)
        free(r->group_retry_policy[i].group);
    free(r->group_retry_policy);
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

/* A list of {group: [groups]} maps, read into *list / *n: fallbacks and its two kin. */
typedef struct {
    cc_fallback_t **list;
    size_t *n;
} fallback_list_t;

static void read_fallback_pair(cc__cfgctx_t *x, const cc_yaml_pair_t *p, const char *ipath,
                               bool check, fallback_list_t fl) {
    cc_fallback_t *list = *fl.list;
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
    for (size_t i = 0; i < *fl.n; i++) {
        if (strcmp(list[i].from, from) != 0) continue;
        cc__cfg_warn(x, p->key,
                     "%s gives the fallbacks of group '%s' again (first at line %d); this one "
                     "is not used, merge the two",
                     ipath, from, list[i].pos.line);
        free(from);
        return;
    }
    cc_fallback_t *f = &list[*fl.n];
    if (read_group_list(x, p->value, vpath, check, &f->to, &f->n_to) != 0) {
        free_names(f->to, f->n_to);
        memset(f, 0, sizeof *f);
        free(from);
        return;
    }
    f->from = from;
    f->pos = cc__cfg_pos(x, p->key);
    (*fl.n)++;
}

static void read_fallback_list(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                               const char *key, bool check, fallback_list_t fl) {
    const cc_yaml_node_t *n = cc_yaml_map_get(map, key);
    char d[96], ipath[128];
    if (cc_yaml_is_null(n)) return;
    if (n->kind != CC_YAML_SEQ) {
        cc__cfg_error(x, n,
                      "%s.%s must be a list of {group: [fallback groups]} maps, got %s; "
                      "write e.g. %s: [{claude-opus: [claude-sonnet]}]",
                      section, key, cc_yaml_describe(n, d, sizeof d), key);
        return;
    }
    size_t total = 0;
    for (size_t i = 0; i < n->n_items; i++)
        if (n->items[i]->kind == CC_YAML_MAP) total += n->items[i]->n_pairs;
    *fl.list = calloc(total ? total : 1, sizeof **fl.list);
    if (!*fl.list) {
        cc__cfg_error(x, n, "out of memory");
        return;
    }
    for (size_t i = 0; i < n->n_items; i++) {
        const cc_yaml_node_t *it = n->items[i];
        snprintf(ipath, sizeof ipath, "%s.%s[%zu]", section, key, i);
        if (it->kind != CC_YAML_MAP) {
            cc__cfg_error(x, it,
                          "%s must be a map {group: [fallback groups]}, got %s; write e.g. "
                          "\"- claude-opus: [claude-sonnet]\"",
                          ipath, cc_yaml_describe(it, d, sizeof d));
            continue;
        }
        for (size_t j = 0; j < it->n_pairs; j++)
            read_fallback_pair(x, &it->pairs[j], ipath, check, fl);
    }
}

static void read_fallbacks(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                           bool check) {
    cc_router_settings_t *r = &x->cfg->router;
    read_fallback_list(x, map, section, "fallbacks", check,
                       (fallback_list_t){&r->fallbacks, &r->n_fallbacks});
}

static void read_context_window_fallbacks(cc__cfgctx_t *x, const cc_yaml_node_t *map,
                                          const char *section, bool check) {
    cc_router_settings_t *r = &x->cfg->router;
    read_fallback_list(x, map, section, "context_window_fallbacks", check,
                       (fallback_list_t){&r->context_window_fallbacks,
                                         &r->n_context_window_fallbacks});
}

static void read_content_policy_fallbacks(cc__cfgctx_t *x, const cc_yaml_node_t *map,
                                          const char *section, bool check) {
    cc_router_settings_t *r = &x->cfg->router;
    read_fallback_list(x, map, section, "content_policy_fallbacks", check,
                       (fallback_list_t){&r->content_policy_fallbacks,
                                         &r->n_content_policy_fallbacks});
}

/* ---- per error class -------------------------------------------------------------------- */

/* LiteLLM's class names, in routing/failure.h's order; a policy's keys are these + a suffix. */
static const char *const policy_classes[CC_POLICY_CLASSES] = {
    "BadRequestError",    "AuthenticationError",         "TimeoutError",
    "RateLimitError",     "ContentPolicyViolationError", "InternalServerError"};

/* A retry_policy or allowed_fails_policy map ({RateLimitErrorRetries: 3, ...}) into out[]
 * (-1 for the classes not given). `suffix`: "Retries" or "AllowedFails". */
static void read_policy(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path,
                        const char *suffix, long hi, int *out) {
    char keys[CC_POLICY_CLASSES][48], kpath[320];
    const char *known[CC_POLICY_CLASSES + 1];
    for (int i = 0; i < CC_POLICY_CLASSES; i++) {
        out[i] = -1;
        snprintf(keys[i], sizeof keys[i], "%s%s", policy_classes[i], suffix);
        known[i] = keys[i];
    }
    known[CC_POLICY_CLASSES] = NULL;
    if (cc_yaml_is_null(n) || cc__cfg_want_map(x, n, path) != 0) return;
    cc__cfg_check_keys_ex(x, n, path, known, NULL);
    for (int i = 0; i < CC_POLICY_CLASSES; i++) {
        long v;
        snprintf(kpath, sizeof kpath, "%s.%s", path, keys[i]);
        if (cc__cfg_int(x, cc_yaml_map_get(n, keys[i]), kpath, 0, hi, &v) == 0) out[i] = (int)v;
    }
}

static void read_retry_policy(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                              bool check) {
    char path[96];
    (void)check;
    snprintf(path, sizeof path, "%s.retry_policy", section);
    read_policy(x, cc_yaml_map_get(map, "retry_policy"), path, "Retries", CC_MAX_NUM_RETRIES,
                x->cfg->router.retry_policy);
}

static void read_allowed_fails_policy(cc__cfgctx_t *x, const cc_yaml_node_t *map,
                                      const char *section, bool check) {
    char path[96];
    (void)check;
    snprintf(path, sizeof path, "%s.allowed_fails_policy", section);
    read_policy(x, cc_yaml_map_get(map, "allowed_fails_policy"), path, "AllowedFails",
                CC_MAX_ALLOWED_FAILS, x->cfg->router.allowed_fails_policy);
}

/* model_group_retry_policy: {group: {RateLimitErrorRetries: 3, ...}, ...}. */
static void read_group_retry_policy(cc__cfgctx_t *x, const cc_yaml_node_t *map,
                                    const char *section, bool check) {
    cc_router_settings_t *r = &x->cfg->router;
    const cc_yaml_node_t *n = cc_yaml_map_get(map, "model_group_retry_policy");
    char path[96], gpath[256];
    snprintf(path, sizeof path, "%s.model_group_retry_policy", section);
    if (cc_yaml_is_null(n) || cc__cfg_want_map(x, n, path) != 0) return;
    r->group_retry_policy = calloc(n->n_pairs ? n->n_pairs : 1, sizeof *r->group_retry_policy);
    if (!r->group_retry_policy) {
        cc__cfg_error(x, n, "out of memory");
        return;
    }
    for (size_t i = 0; i < n->n_pairs; i++) {
        char *group = NULL;
        if (read_group_name(x, n->pairs[i].key, path, check, false, &group) != 0) continue;
        cc_group_policy_t *g = &r->group_retry_policy[r->n_group_retry_policy++];
        g->group = group;
        snprintf(gpath, sizeof gpath, "%s.%s", path, group);
        read_policy(x, n->pairs[i].value, gpath, "Retries", CC_MAX_NUM_RETRIES, g->retries);
    }
}

/* ---- the rest ---------------------------------------------------------------------------- */

static void read_max_fallbacks(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                               bool check);
static void read_disable_cooldowns(cc__cfgctx_t *x, const cc_yaml_node_t *map,
                                   const char *section, bool check) {
    char path[96];
    (void)check;
    snprintf(path, sizeof path, "%s.disable_cooldowns", section);
    cc__cfg_bool(x, cc_yaml_map_get(map, "disable_cooldowns"), path,
                 &x->cfg->router.disable_cooldowns);
}

static void read_timeout(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                         bool check) {
    (void)check;
    cc__cfg_seconds(x, map, "timeout", section, false, &x->cfg->router.timeout_ms);
}

static void read_stream_timeout(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                                bool check) {
    (void)check;
    cc__cfg_seconds(x, map, "stream_timeout", section, false, &x->cfg->router.stream_timeout_ms);
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
    cc_buf_t list = CC_BUF_INIT;
    for (size_t i = 0; i < sizeof strategies / sizeof strategies[0]; i++) {
        if (strcmp(s, strategies[i].name) == 0) {
            x->cfg->router.strategy = strategies[i].strategy;
            cc_buf_free(&list);
            free(s);
            return;
        }
        cc_buf_printf(&list, "%s%s", i ? ", " : "", strategies[i].name);
    }
    if (in_list(s, unsupported_strategies))
        cc__cfg_error(x, n,
                      "%s '%s' is not supported: ccproxy does not price requests before it "
                      "sends them; write one of %s",
                      path, s, list.data);
    else
        cc__cfg_error(x, n, "%s '%s' is not a routing strategy; write one of %s", path, s,
                      list.data);
    cc_buf_free(&list);
    free(s);
}

/* routing_strategy_args: {ttl: seconds, lowest_latency_buffer: fraction} for
 * latency-based-routing; LiteLLM's other arguments are accepted with a warning. */
static void read_strategy_args(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                               bool check) {
    static const char *const known[] = {"ttl", "lowest_latency_buffer", NULL};
    static const char *const accepted[] = {"max_latency_list_size", NULL};
    const cc_yaml_node_t *n = cc_yaml_map_get(map, "routing_strategy_args");
    char path[96], kpath[128], d[96];
    (void)check;
    snprintf(path, sizeof path, "%s.routing_strategy_args", section);
    if (cc_yaml_is_null(n) || cc__cfg_want_map(x, n, path) != 0) return;
    cc__cfg_check_keys_ex(x, n, path, known, accepted);
    warn_pending(x, n, path, accepted);
    cc__cfg_seconds(x, n, "ttl", path, false, &x->cfg->router.latency_ttl_ms);
    const cc_yaml_node_t *b = cc_yaml_map_get(n, "lowest_latency_buffer");
    double v;
    snprintf(kpath, sizeof kpath, "%s.lowest_latency_buffer", path);
    if (cc__cfg_number(x, b, kpath, &v) == 0) {
        if (!(v >= 0) || v > 100)
            cc__cfg_error(x, b,
                          "%s must be a number from 0 to 100 (0.5: deployments up to 1.5 x the "
                          "lowest latency are picked among at random), got %s; change it",
                          kpath, cc_yaml_describe(b, d, sizeof d));
        else
            x->cfg->router.latency_buffer = v;
    }
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

static void read_max_fallbacks(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                               bool check) {
    (void)check;
    read_count(x, map, section, "max_fallbacks", CC_ROUTER_FALLBACKS_MAX,
               &x->cfg->router.max_fallbacks);
}

static void read_default_max_parallel(cc__cfgctx_t *x, const cc_yaml_node_t *map,
                                      const char *section, bool check) {
    (void)check;
    read_count(x, map, section, "default_max_parallel_requests", CC_MAX_PARALLEL,
               &x->cfg->router.default_max_parallel);
}

typedef void (*key_reader_t)(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *section,
                             bool check);

/* One reader per entry of router_keys, in the same order. */
static const key_reader_t readers[] = {
    read_num_retries, read_retry_after,       read_allowed_fails,   read_cooldown_time,
    read_fallbacks,   read_default_fallbacks, read_routing_strategy, read_strategy_args,
    read_default_max_parallel, read_context_window_fallbacks, read_content_policy_fallbacks,
    read_max_fallbacks, read_retry_policy, read_group_retry_policy, read_allowed_fails_policy,
    read_disable_cooldowns, read_timeout, read_stream_timeout};

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
