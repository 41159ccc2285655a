/* config.h: the validated configuration, read from the config dir's ccproxy.yaml (settings,
 * rules, hooks) and config.yaml (LiteLLM-style model_list).
 *
 * Ownership: cc_config_load returns a cc_config_t that owns every string, cJSON tree and array
 * inside it; cc_config_free releases all of it. A loaded config is never modified, so any
 * number of threads may read it. Every element remembers where it was written (cc_srcpos_t)
 * so that errors found later (a Lua module that fails to load, a label that routes nowhere)
 * can name file:line:column. */
#ifndef CC_CONFIG_H
#define CC_CONFIG_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/** A place in a config file. `file` points into cc_config_t.files and lives as long. */
typedef struct {
    const char *file;
    int line; /* 1-based; 0 when unknown */
    int col;  /* 1-based */
} cc_srcpos_t;

/** Where one key of a rule's or hook's params was written (for messages about a value). */
typedef struct {
    char *key;
    cc_srcpos_t pos; /* the value's position */
} cc_param_pos_t;

/** One rule of ccproxy.rules: the label `name` is given to requests `module` matches. */
typedef struct {
    char *name;
    char *module;  /* as written: "token_count", "ccproxy.rules.TokenCountRule", "mine.big" */
    cJSON *params; /* always an object; the seed's list of one-key maps is merged into one */
    cc_srcpos_t pos;        /* the rule's entry */
    cc_srcpos_t module_pos; /* the `rule:` value */
    cc_param_pos_t *param_pos; /* one per key of params (see cc_config_param_pos) */
    size_t n_param_pos;
} cc_rule_cfg_t;

/** One entry of ccproxy.hooks: a module name, or {hook, params, on_error}. */
typedef struct {
    char *module;
    bool fail_on_error; /* on_error: fail -> a hook that raises fails the request (500) */
    cJSON *params; /* always an object (empty when none) */
    cc_srcpos_t pos;        /* the hook's entry */
    cc_srcpos_t module_pos; /* the module name (the string item, or the `hook:` value) */
    cc_param_pos_t *param_pos;
    size_t n_param_pos;
} cc_hook_cfg_t;

/** One entry of ccproxy.oat_sources: "provider: command" or {command, user_agent}. */
typedef struct {
    char *provider;
    char *command;
    char *user_agent; /* NULL when not set */
    cc_srcpos_t pos;
} cc_oat_source_t;

/** A header a deployment adds upstream (litellm_params.extra_headers / headers). */
typedef struct {
    char *name;
    char *value;
} cc_header_kv_t;

/** One entry of config.yaml model_list.
 *  A *deployment* says where requests go (provider, api_base, upstream model).
 *  An *alias* is an entry whose litellm_params.model names another entry's model_name; it
 *  routes to that entry (label -> alias -> deployment). */
typedef struct {
    char *model_name;
    char *model;          /* litellm_params.model as written */
    int alias_of;         /* index of the entry this alias names, or -1 for a deployment */
    /* The fields below are set for deployments only (NULL/0 for aliases). */
    char *provider;       /* "anthropic", "openai", "gemini", ...: prefix of `model`, or
                             litellm_params.custom_llm_provider, or inferred from the name */
    char *upstream_model; /* `model` without the provider prefix: what goes in the body */
    char *api_base;       /* as configured, or the provider's default; no trailing '/' */
    char *api_key;        /* resolved value (os.environ/VAR read at load), NULL when none */
    char *api_key_env;    /* VAR of os.environ/VAR, for messages; NULL otherwise */
    cc_header_kv_t *headers; /* extra headers sent upstream */
    size_t n_headers;
    bool ssl_verify;      /* litellm_params.ssl_verify (default true) */
    char *ca_file;        /* ssl_verify given as a path: the CA bundle to trust */
    double timeout;       /* litellm_params.timeout seconds (0 = the global default) */
    double weight;        /* litellm_params.weight: share of picks in its group (default 1) */
    int order;            /* litellm_params.order: priority in its group, lower first
                             (0 = not given: after every ordered member) */
    unsigned rpm, tpm;    /* litellm_params.rpm / tpm: requests and tokens a minute it takes
                             (0 = no limit); usage-based-routing keeps under them */
    double stream_timeout; /* litellm_params.stream_timeout seconds, for streaming requests
                              (0 = timeout) */
    int max_parallel;     /* litellm_params.max_parallel_requests (0 = the router's
                             default_max_parallel_requests, which 0 leaves unlimited) */
    cJSON *litellm_params; /* the whole map as written (os.environ/ not resolved), for scripts */
    cJSON *model_info;     /* model_info map or NULL; kept for later use */
    cc_srcpos_t pos;
} cc_model_t;

/** One `fallbacks` entry: when every try at group `from` failed, try these groups in turn. */
typedef struct {
    char *from;
    char **to;
    size_t n_to;
    cc_srcpos_t pos;
} cc_fallback_t;

/** Where the Redis is that shares routing state between ccproxy instances: router_settings
 *  redis_host, redis_port and redis_password, or all of it in redis_url. */
typedef struct {
    char *host;     /* NULL: no Redis (nothing is shared) */
    int port;       /* default 6379 (0 when host is NULL) */
    char *username; /* redis_url's user (LiteLLM has no redis_username key); NULL: none */
    char *password; /* resolved (os.environ/VAR read at load); NULL: none */
    int db;         /* redis_url's /N (default 0) */
} cc_redis_settings_t;

/** config.yaml router_settings (also read from litellm_settings, as LiteLLM does; a key in
 *  both is an error). Several model_list deployments with the same model_name form a group;
 *  a request routed to a group picks one member per attempt. */
/** The error classes of retry_policy and allowed_fails_policy, in routing/failure.h's order. */
#define CC_POLICY_CLASSES 6

/** One model_group_retry_policy entry: the retries per error class of group `group`. */
typedef struct {
    char *group;
    int retries[CC_POLICY_CLASSES]; /* -1: the router-wide retry_policy, else num_retries */
} cc_group_policy_t;

/** router_settings.routing_strategy: how an attempt picks among a group's members of the
 *  lowest order that may take it. */
typedef enum {
    CC_STRATEGY_SHUFFLE,  /* simple-shuffle: at random, in proportion to weight (or rpm/tpm) */
    CC_STRATEGY_LEAST_BUSY, /* least-busy: the fewest attempts in progress */
    CC_STRATEGY_LATENCY,  /* latency-based-routing: the lowest recent time to first byte */
    CC_STRATEGY_USAGE,    /* usage-based-routing: the fewest tokens this minute, under rpm/tpm */
} cc_strategy_t;

typedef struct {
    cc_strategy_t strategy;   /* routing_strategy (default simple-shuffle) */
    unsigned latency_ttl_ms;  /* routing_strategy_args.ttl: how long a latency sample counts
                                 (default 1 h) */
    double latency_buffer;    /* routing_strategy_args.lowest_latency_buffer: deployments within
                                 (1 + this) x the lowest latency are picked among at random
                                 (default 0) */
    int default_max_parallel; /* default_max_parallel_requests (0: unlimited) */
    int num_retries;          /* more tries in a group after its first (default 0) */
    unsigned retry_after_ms;  /* retry_after: the least wait before a retry (default 0) */
    int allowed_fails;        /* failures in a minute before a deployment cools down
                                 (default 3) */
    unsigned cooldown_ms;     /* cooldown_time (default 5 s) */
    cc_fallback_t *fallbacks; /* fallbacks: [{group: [group, ...]}, ...] */
    size_t n_fallbacks;
    cc_fallback_t *context_window_fallbacks; /* where a too-long request goes instead */
    size_t n_context_window_fallbacks;
    cc_fallback_t *content_policy_fallbacks; /* where a content-policy refusal goes instead */
    size_t n_content_policy_fallbacks;
    int max_fallbacks;        /* fallback groups a request may try (default 5) */
    int retry_policy[CC_POLICY_CLASSES]; /* retries per error class (-1: num_retries) */
    cc_group_policy_t *group_retry_policy; /* model_group_retry_policy */
    size_t n_group_retry_policy;
    int allowed_fails_policy[CC_POLICY_CLASSES]; /* per error class (-1: not set) */
    bool disable_cooldowns;   /* no deployment ever cools down */
    unsigned timeout_ms;      /* timeout: each deployment's default budget (0: not set) */
    unsigned stream_timeout_ms; /* stream_timeout: the same for streaming requests */
    char **default_fallbacks; /* default_fallbacks: groups tried when a group has none */
    size_t n_default_fallbacks;
    cc_redis_settings_t redis; /* router_settings only (LiteLLM's Router takes these keys) */
} cc_router_settings_t;

/** Limits and timeouts of the listener and upstream side (ccproxy.server / ccproxy.upstream).
 *  Timeouts are in milliseconds. */
typedef struct {
    size_t max_body_bytes;      /* default 32 MiB */
    size_t max_header_bytes;    /* default 64 KiB */
    unsigned header_timeout_ms; /* time to receive a request's headers (default 30 s) */
    unsigned idle_timeout_ms;   /* idle keep-alive client connection (default 120 s) */
    unsigned connect_timeout_ms;    /* upstream TCP+TLS connect (default 10 s) */
    unsigned first_byte_timeout_ms; /* upstream response headers (default 600 s) */
    unsigned upstream_idle_timeout_ms; /* silence inside an upstream response (default 300 s) */
    unsigned pool_max_idle;     /* idle upstream connections kept per origin (default 16) */
    unsigned pool_idle_ttl_ms;  /* an idle upstream connection is closed after (default 60 s) */
    unsigned shutdown_grace_ms; /* in-flight requests get this long on SIGTERM (default 30 s) */
    unsigned script_budget_ms;  /* one rule or hook call may run this long (default 200 ms) */
    unsigned oat_timeout_ms;    /* one oat_sources command may run this long (default 5 s) */
    size_t script_memory_bytes; /* memory one worker's Lua state may hold (default 256 MiB) */
    bool script_trusted;        /* modules get the full LuaJIT globals (default false) */
} cc_limits_t;

/** Where request traces go (record/otel.c): ccproxy.otel in ccproxy.yaml and the OpenTelemetry
 *  SDK's environment variables (OTEL_EXPORTER_OTLP_*, OTEL_SERVICE_NAME, OTEL_SDK_DISABLED,
 *  OTEL_BSP_*), the environment winning key by key (config_otel.c). */
typedef struct {
    char *traces_url;        /* the URL spans are POSTed to (.../v1/traces); NULL: no traces */
    cc_header_kv_t *headers; /* sent with every export; the values are secrets (never logged) */
    size_t n_headers;
    char *service_name;      /* the resource's service.name (default "ccproxy") */
    char *ca_file;           /* OTEL_EXPORTER_OTLP_CERTIFICATE: the CA to trust, NULL: system */
    unsigned timeout_ms;     /* one export's limit, connecting included (default 5 s) */
    unsigned schedule_ms;    /* OTEL_BSP_SCHEDULE_DELAY: how often a batch goes (default 1 s) */
    unsigned max_queue;      /* OTEL_BSP_MAX_QUEUE_SIZE: spans waiting at most (default 2048) */
    unsigned max_batch;      /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE: spans per export (default 512) */
} cc_otel_settings_t;

/** Fills `l` with the default limits (config.c holds the only copy of them). */
void cc_config_default_limits(cc_limits_t *l);

typedef struct {
    char *dir;                /* the config dir, absolute */
    char *ccproxy_yaml_path;  /* <dir>/ccproxy.yaml */
    char *config_yaml_path;   /* <dir>/config.yaml */
    char **files;             /* file names that cc_srcpos_t.file points at */
    size_t n_files;

    /* ccproxy: */
    bool debug;
    bool default_model_passthrough; /* default true */
    bool metrics_enabled;           /* GET /metrics (metrics_enabled), default true */
    cc_hook_cfg_t *hooks;
    size_t n_hooks;
    cc_rule_cfg_t *rules;
    size_t n_rules;
    cc_oat_source_t *oat_sources;
    size_t n_oat_sources;
    cc_limits_t limits;
    cc_otel_settings_t otel; /* ccproxy.otel and the OTEL_* environment */
    /* ccproxy.usage: the request store (record/store.c), which `ccproxy usage` reads */
    bool usage_store;              /* store: true (the default) or a path; false: off */
    char *usage_db;                /* the database file, absolute (set also when off):
                                      <dir>/usage.db, or store's path (relative to <dir>) */
    unsigned usage_retention_days; /* retention_days (default 90); 0 keeps every row */

    /* litellm: (HOST and PORT from the environment override host and port) */
    char *host;      /* default "127.0.0.1" */
    int port;        /* default 4000 */
    int num_workers; /* default 1 */
    bool litellm_debug;

    /* config.yaml */
    cc_model_t *models;
    size_t n_models;
    cc_router_settings_t router;
} cc_config_t;

/** Loads and validates <dir>/ccproxy.yaml and <dir>/config.yaml.
 *  Returns NULL on error, with every problem appended to `errors`, one per line, each as
 *  "<file>:<line>:<col>: <what is wrong>; <what would be right>". Problems that do not stop
 *  the config from working (unknown keys, deprecated forms) go to `warnings` in the same
 *  form (either may be NULL). A missing ccproxy.yaml means defaults; a missing config.yaml is
 *  an error that says to run `ccproxy install`. */
cc_config_t *cc_config_load(const char *dir, cc_buf_t *errors, cc_buf_t *warnings);
void cc_config_free(cc_config_t *cfg);

/** cc_config_load with the two files' text given in memory (NULL text = that file is missing).
 *  `dir` names the files in messages and anchors relative paths (ssl_verify CA bundles); the
 *  files in it are not read. For tests and the fuzzer. */
cc_config_t *cc_config_load_mem(const char *dir, const char *ccproxy_yaml, size_t ccproxy_len,
                                const char *config_yaml, size_t config_len, cc_buf_t *errors,
                                cc_buf_t *warnings);

/** Where key `key` of a rule's or hook's params was written (rule->param_pos,
 *  rule->n_param_pos), or `fallback` (say rule->pos) when it was not written in the file. */
cc_srcpos_t cc_config_param_pos(const cc_param_pos_t *pos, size_t n, const char *key,
                                cc_srcpos_t fallback);

/** Index of the entry whose model_name is `name` exactly, else of the first entry whose
 *  model_name is a glob ("claude-*", "*") matching it; -1 when none. */
int cc_config_find_model(const cc_config_t *cfg, const char *name);

/** Where a request goes: the deployment entry and the model value for the upstream body. */
typedef struct {
    int deployment;             /* index into cfg->models of a deployment (never an alias) */
    const char *upstream_model; /* points into cfg, or at the `name` passed in when the
                                   deployment's model is a wildcard (provider/star) */
    const char *via;            /* model_name of the first entry used (the alias or label) */
} cc_route_t;

/** Follows `name` through aliases to a deployment (exact names before globs, at most 8 hops;
 *  cc_config_load rejects cycles and dangling names). When the deployment's model is a
 *  wildcard, the upstream model is the last name in the chain. Returns 0 or -1. */
int cc_config_resolve(const cc_config_t *cfg, const char *name, cc_route_t *out);

/** Routes a label as model_router does: the label's entry, else the "default" entry.
 *  Returns 0, or -1 when neither exists. */
int cc_config_route_label(const cc_config_t *cfg, const char *label, cc_route_t *out);

/** The default api_base of a provider ("https://api.anthropic.com", ...), or NULL. */
const char *cc_provider_default_api_base(const char *provider);

/** The config dir: `cli_dir` if given, else $CCPROXY_CONFIG_DIR, else ~/.ccproxy.
 *  Returns a malloc'd absolute path. */
char *cc_config_dir_resolve(const char *cli_dir);

#endif
