/* config_internal.h: what config.c (ccproxy.yaml, loading, freeing), config_models.c
 * (config.yaml model_list), config_router.c (router_settings) and config_redis.c (its Redis
 * keys) share: the load context, the message helpers that write "<file>:<line>:<col>: <what>;
 * <what to do>" lines, and typed readers of YAML nodes. */
#ifndef CC_CONFIG_INTERNAL_H
#define CC_CONFIG_INTERNAL_H

#include <stdbool.h>

#include "config/config.h"
#include "config/yaml_tree.h"

typedef struct {
    cc_config_t *cfg;
    cc_buf_t *errors;   /* may be NULL */
    cc_buf_t *warnings; /* may be NULL */
    int n_errors;
    const char *file;               /* the file being read; points into cfg->files */
    const cc_yaml_node_t *env_vars; /* config.yaml environment_variables, or NULL */
} cc__cfgctx_t;

/** Appends an error / a warning at `at` (NULL: the file itself, without line and column). */
void cc__cfg_error(cc__cfgctx_t *x, const cc_yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cc__cfg_warn(cc__cfgctx_t *x, const cc_yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** The position of `n` in the current file ({file, 0, 0} for NULL). */
cc_srcpos_t cc__cfg_pos(const cc__cfgctx_t *x, const cc_yaml_node_t *n);

/** Warns about keys of `map` not in `known` (NULL-terminated) and about repeated keys.
 *  `path` names the map in messages ("ccproxy", "model_list[2].litellm_params"). */
void cc__cfg_check_keys(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *path,
                        const char *const *known);

/** cc__cfg_check_keys that also lets the keys of `accepted` (NULL-terminated, or NULL) pass
 *  without a warning and without naming them among the known keys. */
void cc__cfg_check_keys_ex(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *path,
                           const char *const *known, const char *const *accepted);

/** Requires `n` to be a map (a null value counts as an empty one). Returns 0, or -1 after an
 *  error naming `path`. */
int cc__cfg_want_map(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path);

/** Reads a string value. A null or absent value leaves *out untouched and returns 1; a
 *  number is taken as written; a bool, map or list is an error (-1). Returns 0 when set
 *  (*out is malloc'd; the old value is freed). */
int cc__cfg_string(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path, char **out);

/** Reads a bool (true/false/yes/no/on/off). Null or absent: 1, untouched. Wrong type: -1. */
int cc__cfg_bool(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path, bool *out);

/** Reads a number (a quoted number is accepted too). Null or absent: 1. Wrong type: -1. */
int cc__cfg_number(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path, double *out);

/** The value of environment variable `var` as ccproxy sees it: config.yaml's
 *  environment_variables first (as LiteLLM sets them), then the process environment.
 *  NULL when unset or empty. Points into the tree or the environment. */
/** Reads a whole number within [lo, hi]. Null or absent: 1, untouched. Wrong type or out of
 *  range: -1 after an error naming `path` and the range. */
int cc__cfg_int(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path, long lo, long hi,
                long *out);

/** Reads `map`'s `key` as seconds (fractions allowed, at most 1000000; 0 only with
 *  `allow_zero`) into *ms. Null or absent: 1, untouched. Wrong: -1 after an error naming
 *  "<section>.<key>". */
int cc__cfg_seconds(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *key,
                    const char *section, bool allow_zero, unsigned *ms);

const char *cc__cfg_getenv(const cc__cfgctx_t *x, const char *var);

/** Reads config.yaml's model_list into x->cfg->models and validates it (providers, aliases,
 *  cycles, os.environ references). `root` is the whole config.yaml document. */
void cc__cfg_load_models(cc__cfgctx_t *x, const cc_yaml_node_t *root);

/** Frees what one model entry owns (not the entry itself). */
void cc__cfg_free_model(cc_model_t *m);

/** Fills `r` with the router defaults (config_router.c holds the only copy of them). */
void cc__cfg_router_defaults(cc_router_settings_t *r);

/** Reads config.yaml's router_settings, and the same keys under litellm_settings, into
 *  x->cfg->router. `check_groups`: the model_list loaded cleanly, so every group a fallback
 *  names can be checked against it. */
void cc__cfg_load_router(cc__cfgctx_t *x, const cc_yaml_node_t *root, bool check_groups);

/** Frees what the router settings own and resets them to zero. */
void cc__cfg_free_router(cc_router_settings_t *r);

/** Reads router_settings' redis_host, redis_port, redis_password and redis_url (`rs`, the
 *  router_settings map, or NULL) into x->cfg->router.redis. */
void cc__cfg_load_redis(cc__cfgctx_t *x, const cc_yaml_node_t *rs);

/** Frees what the Redis settings own (wiping the password) and resets them to zero. */
void cc__cfg_free_redis(cc_redis_settings_t *r);

/** Reads ccproxy.yaml's ccproxy.otel map (`n`, NULL when absent) into x->cfg->otel. */
void cc__cfg_load_otel(cc__cfgctx_t *x, const cc_yaml_node_t *n);

/** Then the OTEL_* environment over it, and the defaults (config_otel.c says which wins). */
void cc__cfg_otel_env(cc__cfgctx_t *x);

/** Frees what the trace settings own (wiping the headers' values) and resets them to zero. */
void cc__cfg_free_otel(cc_otel_settings_t *o);

#endif
