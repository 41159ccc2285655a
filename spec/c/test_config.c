/* test_config.c: the configuration loader (config.c, config_models.c) and the YAML tree under it
 * (yaml_tree.c): templates and the seed README's files load and route, every error class is
 * reported at its file:line:col, os.environ, globs, wildcards, aliases, limits and overrides. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "routing/failure.h"
#include "config/config.h"
#include "config/yaml_tree.h"

#define FIX CC_FIXTURES_DIR "/config/"

/* ---- helpers ------------------------------------------------------------------------------ */

static int count_lines(const cc_buf_t *b) {
    int n = 0;
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i] == '\n') n++;
    return n;
}

/* True when `b` has a line exactly equal to the formatted text. */
static int has_line(const cc_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int has_line(const cc_buf_t *b, const char *fmt, ...) {
    char want[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    size_t n = strlen(want);
    for (const char *p = b->data; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == n && memcmp(p, want, n) == 0) return 1;
        p = nl ? nl + 1 : p + len;
    }
    fprintf(stderr, "  missing line: %s\n  in:\n%s", want, b->data ? b->data : "(empty)\n");
    return 0;
}

static int has_text(const cc_buf_t *b, const char *needle) {
    return b->data && strstr(b->data, needle) != NULL;
}

static void clear_env(void) {
    unsetenv("HOST");
    unsetenv("PORT");
    unsetenv("CC_TEST_OPENAI_KEY");
    unsetenv("CC_TEST_OPENAI_BASE");
    unsetenv("CC_TEST_TEAM");
    unsetenv("CC_TEST_UNSET_KEY");
    unsetenv("CC_TEST_UNSET_BASE");
    unsetenv("CC_TEST_FROM_SETTINGS");
}

static cc_config_t *load_mem(const char *ccproxy_yaml, const char *config_yaml, cc_buf_t *err,
                             cc_buf_t *warn) {
    return cc_config_load_mem("/cfgtest", ccproxy_yaml, ccproxy_yaml ? strlen(ccproxy_yaml) : 0,
                              config_yaml, config_yaml ? strlen(config_yaml) : 0, err, warn);
}

static const char one_model[] = "model_list:\n"
                                "  - model_name: default\n"
                                "    litellm_params:\n"
                                "      model: anthropic/claude-sonnet-5-5\n";

static const cc_rule_cfg_t *rule_named(const cc_config_t *cfg, const char *name) {
    for (size_t i = 0; i < cfg->n_rules; i++)
        if (strcmp(cfg->rules[i].name, name) == 0) return &cfg->rules[i];
    return NULL;
}

static double num_param(const cJSON *params, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const char *str_param(const cJSON *params, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- templates and the seed README --------------------------------------------------------- */

static void test_templates_load_clean(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = cc_config_load(CC_SPEC_DIR "/../config", &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    CHECK_EQ_INT(warn.len, 0);
    if (err.len || warn.len)
        fprintf(stderr, "%s%s", err.data ? err.data : "", warn.data ? warn.data : "");
    if (cfg) {
        CHECK(!cfg->debug);
        CHECK(cfg->default_model_passthrough);
        CHECK_EQ_STR(cfg->host, "127.0.0.1");
        CHECK_EQ_INT(cfg->port, 4000);
        CHECK_EQ_INT(cfg->num_workers, 1);
        CHECK_EQ_INT(cfg->n_hooks, 3);
        CHECK_EQ_STR(cfg->hooks[0].module, "ccproxy.hooks.rule_evaluator");
        CHECK_EQ_STR(cfg->hooks[1].module, "ccproxy.hooks.model_router");
        CHECK_EQ_STR(cfg->hooks[2].module, "ccproxy.hooks.extract_session_id");
        CHECK_EQ_INT(cfg->n_oat_sources, 0);
        CHECK_EQ_INT(cfg->n_rules, 1);
        CHECK_EQ_STR(cfg->rules[0].name, "background");
        CHECK_EQ_STR(cfg->rules[0].module, "ccproxy.rules.MatchModelRule");
        CHECK_EQ_STR(str_param(cfg->rules[0].params, "model_name"), "haiku");

        cc_route_t r;
        for (int i = 0; i < 3; i++) {
            const char *label = (const char *[]){"think", "background", "default"}[i];
            const char *want =
                (const char *[]){"claude-opus-5-5", "claude-haiku-5-5", "claude-sonnet-5-5"}[i];
            CHECK_EQ_INT(cc_config_route_label(cfg, label, &r), 0);
            CHECK_EQ_STR(r.upstream_model, want);
            CHECK_EQ_STR(r.via, label);
            CHECK_EQ_STR(cfg->models[r.deployment].provider, "anthropic");
            CHECK_EQ_STR(cfg->models[r.deployment].api_base, "https://api.anthropic.com");
            CHECK(cfg->models[r.deployment].api_key == NULL);
            CHECK_EQ_INT(cfg->models[r.deployment].alias_of, -1);
        }
        /* Any Claude model the client names passes through the wildcard deployment. */
        CHECK_EQ_INT(cc_config_resolve(cfg, "claude-opus-4-1-20250805", &r), 0);
        CHECK_EQ_STR(r.upstream_model, "claude-opus-4-1-20250805");
        CHECK_EQ_STR(r.via, "claude-*");
        CHECK_EQ_STR(cfg->models[r.deployment].model, "anthropic/*");
        /* The model Claude Code sends by name is its own deployment. */
        CHECK_EQ_INT(cc_config_resolve(cfg, "claude-sonnet-5-5", &r), 0);
        CHECK_EQ_STR(r.via, "claude-sonnet-5-5");
        CHECK_EQ_STR(cfg->models[r.deployment].model, "anthropic/claude-sonnet-5-5");
        CHECK_EQ_INT(cc_config_resolve(cfg, "gpt-5", &r), -1);
    }
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_seed_readme_routes(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = cc_config_load(FIX "seed", &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    CHECK_EQ_INT(warn.len, 0);
    if (!cfg) goto done;
    CHECK(cfg->debug);
    CHECK_EQ_INT(cfg->n_oat_sources, 1);
    CHECK_EQ_STR(cfg->oat_sources[0].provider, "anthropic");
    CHECK_EQ_STR(cfg->oat_sources[0].command,
                 "jq -r '.claudeAiOauth.accessToken' ~/.claude/.credentials.json");
    CHECK(cfg->oat_sources[0].user_agent == NULL);
    CHECK_EQ_INT(cfg->n_hooks, 4);
    CHECK_EQ_STR(cfg->hooks[2].module, "ccproxy.hooks.forward_oauth");
    CHECK_EQ_INT(cfg->n_rules, 4);
    CHECK_EQ_INT(cfg->num_workers, 4);
    CHECK(cfg->litellm_debug);
    CHECK_EQ_INT(cfg->n_models, 6);

    cc_route_t r;
    CHECK_EQ_INT(cc_config_route_label(cfg, "think", &r), 0);
    CHECK_EQ_STR(cfg->models[r.deployment].model_name, "claude-opus-4-5-20251101");
    CHECK_EQ_STR(r.upstream_model, "claude-opus-4-5-20251101");
    CHECK_EQ_STR(r.via, "think");
    CHECK_EQ_STR(cfg->models[r.deployment].provider, "anthropic");
    CHECK_EQ_STR(cfg->models[r.deployment].api_base, "https://api.anthropic.com");
    CHECK_EQ_INT(cfg->models[1].alias_of, r.deployment);
    /* Labels without an entry of their own go to "default". */
    CHECK_EQ_INT(cc_config_route_label(cfg, "token_count", &r), 0);
    CHECK_EQ_STR(r.via, "default");
    CHECK_EQ_STR(r.upstream_model, "claude-sonnet-4-5-20250929");
    CHECK_EQ_INT(cc_config_route_label(cfg, "background", &r), 0);
    CHECK_EQ_STR(r.upstream_model, "claude-3-5-haiku-20241022");
    CHECK_EQ_INT(cc_config_find_model(cfg, "claude-3-5-haiku-20241022"), 5);
    CHECK_EQ_INT(cc_config_find_model(cfg, "claude-unknown"), -1);
done:
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_params_list_of_maps_merge(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = cc_config_load(FIX "seed", &err, &warn);
    CHECK(cfg != NULL);
    if (cfg) {
        const cc_rule_cfg_t *r = rule_named(cfg, "token_count");
        CHECK(r && cJSON_IsObject(r->params));
        CHECK(r && num_param(r->params, "threshold") == 60000);
        CHECK(r && cJSON_GetArraySize(r->params) == 1);
        /* Where the value was written: "        - threshold: 60000" at line 25. */
        cc_srcpos_t p = cc_config_param_pos(r->param_pos, r->n_param_pos, "threshold", r->pos);
        CHECK_EQ_INT(p.line, 25);
        CHECK_EQ_INT(p.col, 22);
        CHECK_EQ_STR(p.file, FIX "seed/ccproxy.yaml");
        CHECK_EQ_INT(r->pos.line, 22);
        CHECK_EQ_INT(r->pos.col, 7);
        CHECK_EQ_INT(r->module_pos.line, 23);
        CHECK_EQ_INT(r->module_pos.col, 13);
        p = cc_config_param_pos(r->param_pos, r->n_param_pos, "absent", r->pos);
        CHECK_EQ_INT(p.line, 22);
        r = rule_named(cfg, "think");
        CHECK(r && cJSON_IsObject(r->params) && cJSON_GetArraySize(r->params) == 0);
    }
    cc_config_free(cfg);
    cc_buf_reset(&err);
    cc_buf_reset(&warn);

    const char *yaml = "ccproxy:\n"
                       "  hooks:\n"
                       "    - hook: ccproxy.hooks.capture_headers\n"
                       "      params:\n"
                       "        - headers: [user-agent, x-request-id]\n"
                       "        - limit: 200\n"
                       "  rules:\n"
                       "    - name: default\n"
                       "      rule: mine.rules.big\n"
                       "      params:\n"
                       "        - {a: 1, b: two}\n"
                       "        - c: null\n"
                       "          a: 3\n";
    cfg = load_mem(yaml, one_model, &err, &warn);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK_EQ_INT(cfg->n_hooks, 1);
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(cfg->hooks[0].params, "headers");
        CHECK(cJSON_IsArray(h) && cJSON_GetArraySize(h) == 2);
        CHECK(num_param(cfg->hooks[0].params, "limit") == 200);
        CHECK_EQ_INT(cfg->hooks[0].module_pos.line, 3);
        CHECK_EQ_INT(cfg->hooks[0].module_pos.col, 13);
        const cc_rule_cfg_t *r = &cfg->rules[0];
        CHECK(num_param(r->params, "a") == 3); /* later items win, as dict.update does */
        CHECK_EQ_STR(str_param(r->params, "b"), "two");
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r->params, "c")));
        CHECK_EQ_INT(r->n_param_pos, 3);
        cc_srcpos_t p = cc_config_param_pos(r->param_pos, r->n_param_pos, "a", r->pos);
        CHECK_EQ_INT(p.line, 13);
        CHECK_EQ_INT(p.col, 14);
    }
    CHECK(has_line(&warn, "/cfgtest/ccproxy.yaml:13:11: parameter 'a' of ccproxy.rules[0].params "
                          "is given twice; the later value is used, remove one"));
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

/* ---- errors -----------------------------------------------------------------------------------
 */

static void test_ccproxy_yaml_errors(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = cc_config_load(FIX "errors_ccproxy", &err, &warn);
    const char *f = FIX "errors_ccproxy/ccproxy.yaml";
    CHECK(cfg == NULL);
    CHECK(has_line(&err,
                   "%s:2:10: ccproxy.debug must be true or false, got \"maybe\"; write "
                   "true or false",
                   f));
    CHECK(has_line(&err,
                   "%s:5:7: ccproxy.hooks[1] 'bad module!' is not a module name; write "
                   "dotted names of letters, digits and '_', e.g. "
                   "ccproxy.hooks.model_router",
                   f));
    CHECK(has_line(&err,
                   "%s:12:15: ccproxy.rules[0].params must be a map of parameter names to "
                   "values, got \"60000\"; write it as a map, e.g. \"params: {threshold: "
                   "60000}\"",
                   f));
    CHECK(has_line(&err,
                   "%s:16:11: ccproxy.rules[1].params[0] is \"WebSearch\", not a name: "
                   "value pair; write params as a map, e.g. \"params: {threshold: 60000}\" "
                   "(or as the list \"- threshold: 60000\")",
                   f));
    CHECK(has_line(&err,
                   "%s:18:7: ccproxy.rules[2] has no name; give it the label it sets, "
                   "e.g. \"name: think\" (a model_name in config.yaml)",
                   f));
    CHECK(has_line(&err,
                   "%s:19:7: ccproxy.rules[3] has no rule; name the rule module, e.g. "
                   "\"rule: ccproxy.rules.ThinkingRule\"",
                   f));
    CHECK(has_line(&err,
                   "%s:20:13: ccproxy.rules[4] has no name; give it the label it sets, "
                   "e.g. \"name: think\" (a model_name in config.yaml)",
                   f));
    CHECK(has_line(&err,
                   "%s:23:9: litellm.port must be a whole number from 1 to 65535, got "
                   "\"99999\"; change it",
                   f));
    CHECK(has_line(&err,
                   "%s:24:16: litellm.num_workers must be a number, got \"two\"; write a "
                   "number",
                   f));
    CHECK_EQ_INT(count_lines(&err), 9); /* all of them, not just the first */
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_rules_route_nowhere(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = cc_config_load(FIX "routes", &err, &warn);
    const char *f = FIX "routes/ccproxy.yaml";
    CHECK(cfg == NULL);
    CHECK(has_line(&err,
                   "%s:14:7: rule 'think' routes nowhere: config.yaml has no model_name "
                   "'think' and no 'default'; add one of them",
                   f));
    CHECK(has_line(&err,
                   "%s:11:7: rule 'default' routes nowhere: config.yaml has no model_name "
                   "'default' and default_model_passthrough is false; add a 'default' "
                   "entry or set default_model_passthrough: true",
                   f));
    CHECK(has_line(&err,
                   "%s:4:7: hook ccproxy.hooks.model_router needs a 'default' entry in "
                   "config.yaml when default_model_passthrough is false; add a model_name "
                   "'default' or set default_model_passthrough: true",
                   f));
    CHECK_EQ_INT(count_lines(&err), 3);
    cc_buf_reset(&err);

    /* With passthrough on, a rule named default and model_router need no default entry; a
     * label that has its own entry routes there. */
    const char *yaml = "ccproxy:\n"
                       "  hooks: [model_router]\n"
                       "  rules:\n"
                       "    - {name: default, rule: ccproxy.rules.MatchModelRule}\n"
                       "    - {name: background, rule: ccproxy.rules.MatchModelRule}\n";
    const char *models = "model_list:\n"
                         "  - model_name: background\n"
                         "    litellm_params: {model: anthropic/claude-haiku-5-5}\n";
    cfg = load_mem(yaml, models, &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    cc_route_t r;
    CHECK(cfg && cc_config_route_label(cfg, "background", &r) == 0);
    CHECK(cfg && cc_config_route_label(cfg, "think", &r) == -1);
    cc_config_free(cfg);
    cc_buf_reset(&err);

    /* The same with passthrough off and the bare module name: the hook needs "default". */
    const char *yaml_off = "ccproxy:\n"
                           "  default_model_passthrough: false\n"
                           "  hooks: [model_router]\n";
    cfg = load_mem(yaml_off, models, &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "/cfgtest/ccproxy.yaml:3:11: hook model_router needs a 'default' entry "
                         "in config.yaml when default_model_passthrough is false; add a "
                         "model_name 'default' or set default_model_passthrough: true"));
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_model_list_errors(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    clear_env();
    cc_config_t *cfg = cc_config_load(FIX "models_errors", &err, &warn);
    const char *f = FIX "models_errors/config.yaml";
    CHECK(cfg == NULL);
    CHECK(has_line(&err,
                   "%s:5:16: model_list[0] (my-gpt) api_key names "
                   "os.environ/CC_TEST_UNSET_KEY, which is not set; export it or remove "
                   "api_key",
                   f));
    CHECK(has_line(&err,
                   "%s:8:14: model_list[1] (nowhere) model 'mystery-model' names no other "
                   "model_name and its provider cannot be told; write it as provider/model, "
                   "e.g. anthropic/claude-sonnet-4-5",
                   f));
    CHECK(has_line(&err,
                   "%s:11:14: model_list[2] (vllm) provider 'hosted_vllm' has no default "
                   "api_base; set litellm_params.api_base to the server's URL",
                   f));
    CHECK(has_line(&err,
                   "%s:14:14: model_list[3] (odd) model 'foo/bar': 'foo' is not a provider "
                   "ccproxy knows and no entry has model_name 'foo/bar'; write it as "
                   "provider/model, e.g. anthropic/claude-sonnet-4-5",
                   f));
    CHECK(has_line(&err,
                   "%s:18:17: model_list[4] (bad-base) api_base 'ftp://example' is not an "
                   "http:// or https:// URL; write e.g. https://api.anthropic.com",
                   f));
    CHECK(has_line(&err,
                   "%s:19:5: model_list[5] has no model_name; give it the name that "
                   "clients, rules or aliases ask for",
                   f));
    CHECK(has_line(&err,
                   "%s:23:14: model_list[6] (partial) model 'openrouter/anthropic/*': a "
                   "wildcard must be the whole model after the provider; write openrouter/* "
                   "to pass the requested name through",
                   f));
    CHECK(has_text(&err, "models_errors/config.yaml:27:28: model_list[7] (custom) "
                         "custom_llm_provider 'nosuch' is not a provider ccproxy knows; use one "
                         "of: anthropic, openai, "));
    CHECK(has_line(&err,
                   "%s:31:19: model_list[8] (certs) ssl_verify names the CA bundle "
                   "%smodels_errors/no-such-bundle.pem, which is not a file; give the path "
                   "of a PEM file, or true/false",
                   f, FIX));
    CHECK(has_line(&err,
                   "%s:35:17: model_list[9] (base-env) api_base names "
                   "os.environ/CC_TEST_UNSET_BASE, which is not set; export it or remove "
                   "api_base",
                   f));
    CHECK(has_line(&err,
                   "%s:36:5: model_list[10] (empty-params) has no litellm_params.model; "
                   "write \"litellm_params: {model: provider/model}\" or name another "
                   "entry's model_name",
                   f));
    CHECK_EQ_INT(count_lines(&err), 11);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_alias_cycle_and_long_chain(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = cc_config_load(FIX "cycle", &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err,
                   "%scycle/config.yaml:5:5: model_list[1] (loop-a) is in an alias cycle: "
                   "loop-a -> loop-b -> loop-a; point one of them at a deployment "
                   "(provider/model)",
                   FIX));
    CHECK_EQ_INT(count_lines(&err), 1);
    cc_buf_reset(&err);

    cfg = cc_config_load(FIX "long_chain", &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err,
                   "%slong_chain/config.yaml:2:5: model_list[0] (hop0) reaches its "
                   "deployment through 9 aliases (hop0 -> hop1 -> hop2 -> hop3 -> hop4 -> "
                   "hop5 -> hop6 -> hop7 -> hop8 -> hop9), more than the 8 followed; point "
                   "it nearer the deployment",
                   FIX));
    CHECK_EQ_INT(count_lines(&err), 1);
    cc_buf_reset(&err);

    /* Eight hops are fine: hop1 -> ... -> hop9. */
    const char *chain = "model_list:\n"
                        "  - {model_name: a1, litellm_params: {model: a2}}\n"
                        "  - {model_name: a2, litellm_params: {model: a3}}\n"
                        "  - {model_name: a3, litellm_params: {model: a4}}\n"
                        "  - {model_name: a4, litellm_params: {model: a5}}\n"
                        "  - {model_name: a5, litellm_params: {model: a6}}\n"
                        "  - {model_name: a6, litellm_params: {model: a7}}\n"
                        "  - {model_name: a7, litellm_params: {model: a8}}\n"
                        "  - {model_name: a8, litellm_params: {model: d}}\n"
                        "  - {model_name: d, litellm_params: {model: 'anthropic/*'}}\n";
    cfg = load_mem("", chain, &err, &warn);
    CHECK(cfg != NULL);
    cc_route_t r;
    CHECK(cfg && cc_config_resolve(cfg, "a1", &r) == 0);
    if (cfg) {
        CHECK_EQ_INT(r.deployment, 8);
        CHECK_EQ_STR(r.via, "a1");
        CHECK_EQ_STR(r.upstream_model, "d"); /* the last name in the chain */
    }
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_os_environ(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    const char *f = FIX "env/config.yaml";
    clear_env();
    cc_config_t *cfg = cc_config_load(FIX "env", &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err,
                   "%s:5:16: model_list[0] (default) api_key names "
                   "os.environ/CC_TEST_OPENAI_KEY, which is not set; export it or remove "
                   "api_key",
                   f));
    CHECK(has_line(&err,
                   "%s:6:17: model_list[0] (default) api_base names "
                   "os.environ/CC_TEST_OPENAI_BASE, which is not set; export it or remove "
                   "api_base",
                   f));
    CHECK(has_line(&err,
                   "%s:8:17: model_list[0] (default) extra_headers.X-Team names "
                   "os.environ/CC_TEST_TEAM, which is not set; export it or remove "
                   "extra_headers.X-Team",
                   f));
    CHECK_EQ_INT(count_lines(&err), 3);
    cc_buf_reset(&err);

    /* An empty variable is as good as unset. */
    setenv("CC_TEST_OPENAI_KEY", "", 1);
    setenv("CC_TEST_OPENAI_BASE", "https://llm.example.test/v1/", 1);
    setenv("CC_TEST_TEAM", "core", 1);
    cfg = cc_config_load(FIX "env", &err, &warn);
    CHECK(cfg == NULL);
    CHECK_EQ_INT(count_lines(&err), 1);
    CHECK(has_text(&err, "api_key names os.environ/CC_TEST_OPENAI_KEY, which is not set"));
    cc_buf_reset(&err);

    setenv("CC_TEST_OPENAI_KEY", "sk-test-123", 1);
    cfg = cc_config_load(FIX "env", &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    if (cfg) {
        const cc_model_t *m = &cfg->models[0];
        CHECK_EQ_STR(m->api_key, "sk-test-123");
        CHECK_EQ_STR(m->api_key_env, "CC_TEST_OPENAI_KEY");
        CHECK_EQ_STR(m->api_base, "https://llm.example.test/v1");
        CHECK_EQ_INT(m->n_headers, 1);
        CHECK(m->n_headers == 1 && strcmp(m->headers[0].name, "X-Team") == 0 &&
              strcmp(m->headers[0].value, "core") == 0);
        /* The raw litellm_params keep the reference, not the secret. */
        CHECK_EQ_STR(str_param(m->litellm_params, "api_key"), "os.environ/CC_TEST_OPENAI_KEY");
        /* environment_variables in config.yaml count as set, as in LiteLLM. */
        CHECK_EQ_STR(cfg->models[1].api_key, "key-from-config");
        CHECK_EQ_STR(cfg->models[1].provider, "gemini");
        CHECK_EQ_STR(cfg->models[1].api_base, "https://generativelanguage.googleapis.com");
        CHECK(cfg->models[1].api_key_env &&
              strcmp(cfg->models[1].api_key_env, "CC_TEST_FROM_SETTINGS") == 0);
    }
    cc_config_free(cfg);
    clear_env();
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

/* ---- routing ----------------------------------------------------------------------------------
 */

static void test_wildcard_and_glob_aliases(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = cc_config_load(FIX "wildcard", &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    if (!cfg) goto done;
    cc_route_t r;
    /* "think" names claude-opus-4-1, which no entry has: the "claude-*" glob takes it, and its
     * wildcard deployment sends the alias's model upstream. */
    CHECK_EQ_INT(cfg->models[1].alias_of, 5);
    CHECK_EQ_INT(cc_config_route_label(cfg, "think", &r), 0);
    CHECK_EQ_INT(r.deployment, 5);
    CHECK_EQ_STR(r.upstream_model, "claude-opus-4-1");
    CHECK_EQ_STR(r.via, "think");
    /* A client's model straight into the wildcard. */
    CHECK_EQ_INT(cc_config_resolve(cfg, "claude-haiku-9", &r), 0);
    CHECK_EQ_INT(r.deployment, 5);
    CHECK_EQ_STR(r.upstream_model, "claude-haiku-9");
    CHECK_EQ_STR(r.via, "claude-*");
    /* Exact names win over globs. */
    CHECK_EQ_INT(cc_config_find_model(cfg, "claude-sonnet-5-5"), 3);
    CHECK_EQ_INT(cc_config_find_model(cfg, "claude-*"), 5);
    /* An alias to a glob deployment whose model is fixed. */
    CHECK_EQ_INT(cc_config_resolve(cfg, "fast", &r), 0);
    CHECK_EQ_INT(r.deployment, 4);
    CHECK_EQ_STR(r.upstream_model, "openai/gpt-5");
    CHECK_EQ_STR(cfg->models[4].provider, "openrouter");
    CHECK_EQ_STR(cfg->models[4].api_base, "https://openrouter.ai/api/v1");
    /* "*" catches everything else; custom_llm_provider names the provider. */
    CHECK_EQ_INT(cc_config_resolve(cfg, "something-else", &r), 0);
    CHECK_EQ_INT(r.deployment, 6);
    CHECK_EQ_STR(r.upstream_model, "custom-name");
    CHECK_EQ_STR(cfg->models[6].provider, "deepseek");
    CHECK_EQ_STR(cfg->models[6].api_base, "https://api.deepseek.com");
    /* A label without an entry of its own is taken by the "*" glob before "default" is
     * tried: the lookup is exact-or-glob, like any other name. */
    CHECK_EQ_INT(cc_config_route_label(cfg, "web_search", &r), 0);
    CHECK_EQ_INT(r.deployment, 6);

    /* The deployment's own fields. */
    const cc_model_t *m = &cfg->models[3];
    CHECK_EQ_STR(m->api_base, "https://api.anthropic.com"); /* trailing '/' dropped */
    CHECK_EQ_INT(m->n_headers, 2);
    CHECK(m->n_headers == 2 && strcmp(m->headers[0].name, "X-Trace") == 0 &&
          strcmp(m->headers[0].value, "yes") == 0);
    CHECK(m->n_headers == 2 && strcmp(m->headers[1].name, "anthropic-beta") == 0 &&
          strcmp(m->headers[1].value, "context-1m") == 0);
    CHECK(!m->ssl_verify);
    CHECK(m->ca_file == NULL);
    CHECK(m->timeout == 90);
    CHECK(num_param(m->litellm_params, "temperature") == 0.5);
    CHECK(num_param(m->litellm_params, "max_tokens") == 64000);
    CHECK_EQ_STR(str_param(m->model_info, "note"), "main");
    CHECK(cfg->models[0].model_info == NULL);
    CHECK(cfg->models[0].provider == NULL && cfg->models[0].upstream_model == NULL);
    CHECK(cfg->models[5].ssl_verify);
done:
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_alias_rules(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    /* An entry never aliases itself: claude-x -> claude-x is a deployment by name. A provider
     * prefix always makes a deployment, even when the rest names an entry. */
    const char *models = "model_list:\n"
                         "  - model_name: claude-x\n"
                         "    litellm_params: {model: claude-x}\n"
                         "  - model_name: gpt-4o\n"
                         "    litellm_params: {model: openai/claude-x}\n"
                         "  - model_name: o3-mini\n"
                         "    litellm_params: {model: o3-mini}\n"
                         "  - model_name: gem\n"
                         "    litellm_params: {model: gemini-2.5-flash}\n"
                         "  - model_name: default\n"
                         "    litellm_params: {model: gpt-4o, api_key: sk-ignored}\n";
    cc_config_t *cfg = load_mem("", models, &err, &warn);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK_EQ_INT(cfg->models[0].alias_of, -1);
        CHECK_EQ_STR(cfg->models[0].provider, "anthropic");
        CHECK_EQ_STR(cfg->models[0].upstream_model, "claude-x");
        CHECK_EQ_INT(cfg->models[1].alias_of, -1);
        CHECK_EQ_STR(cfg->models[1].provider, "openai");
        CHECK_EQ_STR(cfg->models[1].api_base, "https://api.openai.com/v1");
        CHECK_EQ_STR(cfg->models[2].provider, "openai");
        CHECK_EQ_STR(cfg->models[3].provider, "gemini");
        CHECK_EQ_INT(cfg->models[4].alias_of, 1);
        cc_route_t r;
        CHECK_EQ_INT(cc_config_route_label(cfg, "default", &r), 0);
        CHECK_EQ_INT(r.deployment, 1);
        CHECK_EQ_STR(r.upstream_model, "claude-x");
    }
    CHECK(has_line(&warn, "/cfgtest/config.yaml:11:46: model_list[4] (default) is an alias of "
                          "'gpt-4o' (model_list[1]), so its api_key is not used; remove it, or "
                          "write model as provider/model to make this entry a deployment"));
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_provider_default_api_base(void) {
    CHECK_EQ_STR(cc_provider_default_api_base("anthropic"), "https://api.anthropic.com");
    CHECK_EQ_STR(cc_provider_default_api_base("openai"), "https://api.openai.com/v1");
    CHECK_EQ_STR(cc_provider_default_api_base("gemini"),
                 "https://generativelanguage.googleapis.com");
    CHECK_EQ_STR(cc_provider_default_api_base("groq"), "https://api.groq.com/openai/v1");
    CHECK_EQ_STR(cc_provider_default_api_base("ollama_chat"), "http://localhost:11434");
    CHECK_EQ_STR(cc_provider_default_api_base("lm_studio"), "http://localhost:1234/v1");
    CHECK(cc_provider_default_api_base("hosted_vllm") == NULL);
    CHECK(cc_provider_default_api_base("nosuch") == NULL);
    CHECK(cc_provider_default_api_base(NULL) == NULL);
}

/* ---- settings ---------------------------------------------------------------------------------
 */

static void test_defaults(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    clear_env();
    cc_config_t *cfg = cc_config_load(FIX "defaults", &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    CHECK(has_line(&warn,
                   "%sdefaults/ccproxy.yaml: not found; using the defaults (run `ccproxy "
                   "install` to create it)",
                   FIX));
    if (cfg) {
        CHECK(!cfg->debug);
        CHECK(cfg->default_model_passthrough);
        CHECK(cfg->metrics_enabled);
        CHECK_EQ_INT(cfg->n_hooks + cfg->n_rules + cfg->n_oat_sources, 0);
        CHECK_EQ_STR(cfg->host, "127.0.0.1");
        CHECK_EQ_INT(cfg->port, 4000);
        CHECK_EQ_INT(cfg->num_workers, 1);
        CHECK(!cfg->litellm_debug);
        CHECK_EQ_INT(cfg->limits.max_body_bytes, 32 * 1024 * 1024);
        CHECK_EQ_INT(cfg->limits.max_header_bytes, 64 * 1024);
        CHECK_EQ_INT(cfg->limits.header_timeout_ms, 30000);
        CHECK_EQ_INT(cfg->limits.idle_timeout_ms, 120000);
        CHECK_EQ_INT(cfg->limits.shutdown_grace_ms, 30000);
        CHECK_EQ_INT(cfg->limits.connect_timeout_ms, 10000);
        CHECK_EQ_INT(cfg->limits.first_byte_timeout_ms, 600000);
        CHECK_EQ_INT(cfg->limits.upstream_idle_timeout_ms, 300000);
        CHECK_EQ_INT(cfg->limits.pool_max_idle, 16);
        CHECK_EQ_INT(cfg->limits.pool_idle_ttl_ms, 60000);
        CHECK_EQ_STR(cfg->dir, FIX "defaults");
        CHECK_EQ_STR(cfg->ccproxy_yaml_path, FIX "defaults/ccproxy.yaml");
        CHECK_EQ_STR(cfg->config_yaml_path, FIX "defaults/config.yaml");
        CHECK_EQ_STR(cfg->models[0].pos.file, FIX "defaults/config.yaml");
        CHECK_EQ_INT(cfg->models[0].pos.line, 2);
        CHECK_EQ_INT(cfg->models[0].pos.col, 5);
    }
    cc_config_free(cfg);
    cc_buf_reset(&warn);

    /* An empty ccproxy.yaml, or empty sections, are defaults too. */
    cfg = load_mem("# nothing yet\n", one_model, &err, &warn);
    CHECK(cfg != NULL && cfg->port == 4000 && warn.len == 0);
    cc_config_free(cfg);
    cfg = load_mem("ccproxy:\nlitellm:\n", one_model, &err, &warn);
    CHECK(cfg != NULL && cfg->port == 4000 && cfg->default_model_passthrough);
    cc_config_free(cfg);
    CHECK_EQ_INT(err.len, 0);

    /* metrics_enabled (the Python tool's key) turns GET /metrics off; it is a bool. */
    cfg = load_mem("ccproxy:\n  metrics_enabled: false\n", one_model, &err, &warn);
    CHECK(cfg != NULL && !cfg->metrics_enabled && warn.len == 0);
    cc_config_free(cfg);
    cfg = load_mem("ccproxy:\n  metrics_enabled: sometimes\n", one_model, &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "/cfgtest/ccproxy.yaml:2:20: ccproxy.metrics_enabled must be true or "
                         "false, got \"sometimes\"; write true or false"));
    cc_buf_reset(&err);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_limits(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = cc_config_load(FIX "limits", &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    CHECK_EQ_INT(warn.len, 0);
    if (cfg) {
        CHECK_EQ_INT(cfg->limits.max_body_bytes, 8 * 1024 * 1024);
        CHECK_EQ_INT(cfg->limits.max_header_bytes, 16384);
        CHECK_EQ_INT(cfg->limits.header_timeout_ms, 2500);
        CHECK_EQ_INT(cfg->limits.idle_timeout_ms, 60000);
        CHECK_EQ_INT(cfg->limits.shutdown_grace_ms, 0);
        CHECK_EQ_INT(cfg->limits.connect_timeout_ms, 3000);
        CHECK_EQ_INT(cfg->limits.first_byte_timeout_ms, 120000);
        CHECK_EQ_INT(cfg->limits.upstream_idle_timeout_ms, 45000);
        CHECK_EQ_INT(cfg->limits.pool_max_idle, 0);
        CHECK_EQ_INT(cfg->limits.pool_idle_ttl_ms, 15000);
    }
    cc_config_free(cfg);

    const char *bad = "ccproxy:\n"
                      "  server:\n"
                      "    max_body_bytes: lots\n"
                      "    header_timeout: 0\n"
                      "    idle_tmeout: 5\n"
                      "  upstream:\n"
                      "    pool_max_idle: 1.5\n";
    cfg = load_mem(bad, one_model, &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "/cfgtest/ccproxy.yaml:3:21: ccproxy.server.max_body_bytes must be a "
                         "size in bytes (a whole number, or like \"32MiB\" or \"64KiB\") from 1 "
                         "byte to 1 TiB, got \"lots\"; change it"));
    CHECK(has_line(&err, "/cfgtest/ccproxy.yaml:4:21: ccproxy.server.header_timeout must be a "
                         "number of seconds above 0 and at most 1000000, got \"0\"; change it"));
    CHECK(has_line(&err, "/cfgtest/ccproxy.yaml:7:20: ccproxy.upstream.pool_max_idle must be a "
                         "whole number from 0 to 100000, got \"1.5\"; change it"));
    CHECK_EQ_INT(count_lines(&err), 3);
    CHECK(has_text(&warn, "/cfgtest/ccproxy.yaml:5:5: unknown key 'idle_tmeout' in "
                          "ccproxy.server (known keys: max_body_bytes, max_header_bytes, "
                          "header_timeout, idle_timeout, shutdown_grace)"));
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_host_port_env(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    const char *yaml = "litellm:\n  host: 127.0.0.2\n  port: 4100\n";
    clear_env();
    cc_config_t *cfg = load_mem(yaml, one_model, &err, &warn);
    CHECK(cfg && cfg->port == 4100 && strcmp(cfg->host, "127.0.0.2") == 0);
    cc_config_free(cfg);

    setenv("HOST", "0.0.0.0", 1);
    setenv("PORT", "4555", 1);
    cfg = load_mem(yaml, one_model, &err, &warn);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK_EQ_STR(cfg->host, "0.0.0.0");
        CHECK_EQ_INT(cfg->port, 4555);
    }
    cc_config_free(cfg);
    CHECK_EQ_INT(err.len, 0);

    setenv("PORT", "abc", 1);
    cfg = load_mem(yaml, one_model, &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "environment: PORT=\"abc\" is not a port number; set PORT to a number "
                         "from 1 to 65535 or unset it"));
    cc_buf_reset(&err);
    setenv("PORT", "70000", 1);
    cfg = load_mem(yaml, one_model, &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_text(&err, "PORT=\"70000\" is not a port number"));
    cc_buf_reset(&err);
    setenv("PORT", "", 1); /* empty: ignored */
    cfg = load_mem(yaml, one_model, &err, &warn);
    CHECK(cfg && cfg->port == 4100);
    cc_config_free(cfg);
    clear_env();
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_warnings_and_deprecations(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = cc_config_load(FIX "warnings", &err, &warn);
    const char *c = FIX "warnings/ccproxy.yaml", *m = FIX "warnings/config.yaml";
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    CHECK(has_line(&warn,
                   "%s:2:3: unknown key 'debgu' in ccproxy (known keys: debug, hooks, "
                   "rules, oat_sources, default_model_passthrough, credentials, handler, "
                   "metrics_enabled, server, upstream, scripts, oat_timeout, otel, usage); check the spelling or remove it",
                   c));
    CHECK(has_line(&warn,
                   "%s:3:12: ccproxy.handler is ignored: ccproxy has no handler file "
                   "(hooks and rules are loaded directly); remove it",
                   c));
    CHECK(has_line(&warn,
                   "%s:4:16: ccproxy.credentials is deprecated; it is used as "
                   "oat_sources.anthropic, move the command there (oat_sources: "
                   "{anthropic: \"...\"})",
                   c));
    CHECK(has_line(&warn,
                   "%s:12:3: unknown key 'telemetry' in litellm (known keys: host, port, "
                   "num_workers, debug, detailed_debug); check the spelling or remove it",
                   c));
    CHECK(has_line(&warn,
                   "%s:13:1: unknown key 'extra_section' in config.yaml (known keys: "
                   "model_list, litellm_settings, general_settings, router_settings, "
                   "environment_variables); check the spelling or remove it",
                   m));
    /* The two 'default' deployments are a group: no warning. */
    CHECK_EQ_INT(count_lines(&warn), 5);
    if (cfg) {
        CHECK_EQ_STR(cfg->host, "0.0.0.0");
        CHECK_EQ_INT(cfg->n_oat_sources, 2);
        CHECK_EQ_STR(cfg->oat_sources[0].provider, "gemini");
        CHECK_EQ_STR(cfg->oat_sources[0].user_agent, "MyApp/1.0");
        CHECK_EQ_STR(cfg->oat_sources[1].provider, "anthropic");
        CHECK_EQ_STR(cfg->oat_sources[1].command, "cat ~/token");
        cc_route_t r;
        CHECK(cc_config_route_label(cfg, "default", &r) == 0 && r.deployment == 0);
    }
    cc_config_free(cfg);
    cc_buf_reset(&warn);

    /* credentials loses to an explicit oat_sources.anthropic. */
    const char *yaml = "ccproxy:\n"
                       "  oat_sources: {anthropic: \"cat a\"}\n"
                       "  credentials: \"cat b\"\n";
    cfg = load_mem(yaml, one_model, &err, &warn);
    CHECK(cfg && cfg->n_oat_sources == 1 && strcmp(cfg->oat_sources[0].command, "cat a") == 0);
    CHECK(has_line(&warn, "/cfgtest/ccproxy.yaml:3:16: ccproxy.credentials is deprecated and "
                          "ignored because oat_sources.anthropic is set; remove credentials"));
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

/* ---- groups, retries and fallbacks ----------------------------------------------------------- */

/* Two 'big' deployments (a group), a 'small' and the 'default' one. */
static const char group_models[] = "model_list:\n"
                                   "  - model_name: default\n"
                                   "    litellm_params:\n"
                                   "      model: anthropic/claude-sonnet-5-5\n"
                                   "  - model_name: big\n"
                                   "    litellm_params:\n"
                                   "      model: anthropic/claude-opus-5-5\n"
                                   "      weight: 2.5\n"
                                   "      order: 1\n"
                                   "  - model_name: big\n"
                                   "    litellm_params:\n"
                                   "      model: openrouter/anthropic/claude-opus-5-5\n"
                                   "      order: 2\n"
                                   "  - model_name: small\n"
                                   "    litellm_params:\n"
                                   "      model: anthropic/claude-haiku-5-5\n";

/* group_models followed by `tail` (lines counted from 17). */
static cc_config_t *load_groups(const char *tail, cc_buf_t *err, cc_buf_t *warn) {
    cc_buf_t text = CC_BUF_INIT;
    cc_buf_puts(&text, group_models);
    cc_buf_puts(&text, tail);
    cc_config_t *cfg = load_mem("", text.data, err, warn);
    cc_buf_free(&text);
    return cfg;
}

static void test_router_defaults(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = load_mem("", one_model, &err, &warn);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK_EQ_INT(cfg->router.num_retries, 0);
        CHECK_EQ_INT(cfg->router.retry_after_ms, 0);
        CHECK_EQ_INT(cfg->router.allowed_fails, 3);
        CHECK_EQ_INT(cfg->router.cooldown_ms, 5000);
        CHECK_EQ_INT(cfg->router.n_fallbacks, 0);
        CHECK(cfg->router.fallbacks == NULL);
        CHECK_EQ_INT(cfg->router.n_default_fallbacks, 0);
        CHECK(cfg->router.default_fallbacks == NULL);
        CHECK(cfg->models[0].weight == 1.0);
        CHECK_EQ_INT(cfg->models[0].order, 0);
    }
    cc_config_free(cfg);
    /* Empty sections are the defaults too. */
    cfg = load_groups("router_settings:\nlitellm_settings:\n", &err, &warn);
    CHECK(cfg && cfg->router.allowed_fails == 3 && cfg->router.cooldown_ms == 5000);
    cc_config_free(cfg);
    CHECK_EQ_INT(err.len, 0);
    CHECK_EQ_INT(warn.len, 0);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

/* Every key, as router_settings and as litellm_settings has it. */
static void test_router_settings_read(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    for (int i = 0; i < 2; i++) {
        const char *section = i ? "litellm_settings" : "router_settings";
        char tail[1024];
        snprintf(tail, sizeof tail,
                 "%s:\n"
                 "  num_retries: 2\n"
                 "  retry_after: 0.25\n"
                 "  allowed_fails: 0\n"
                 "  cooldown_time: 30\n"
                 "  routing_strategy: simple-shuffle\n"
                 "  fallbacks:\n"
                 "    - big: [default, small]\n"
                 "    - small: default\n"
                 "    - {default: [big], \"*\": []}\n"
                 "  default_fallbacks: [small, default]\n",
                 section);
        /* A catch-all entry makes "*" a group that fallbacks may name. */
        char models[2048];
        snprintf(models, sizeof models,
                 "%s"
                 "  - model_name: \"*\"\n"
                 "    litellm_params:\n"
                 "      model: anthropic/*\n"
                 "%s",
                 group_models, tail);
        cc_config_t *cfg = load_mem("", models, &err, &warn);
        CHECK(cfg != NULL);
        CHECK_EQ_INT(err.len, 0);
        CHECK_EQ_INT(warn.len, 0); /* the group 'big' of two entries is fine */
        if (err.len || warn.len) fprintf(stderr, "%s: %s%s\n", section, err.data, warn.data);
        if (!cfg) continue;
        const cc_router_settings_t *r = &cfg->router;
        CHECK_EQ_INT(r->num_retries, 2);
        CHECK_EQ_INT(r->retry_after_ms, 250);
        CHECK_EQ_INT(r->allowed_fails, 0);
        CHECK_EQ_INT(r->cooldown_ms, 30000);
        CHECK_EQ_INT(r->n_fallbacks, 4);
        if (r->n_fallbacks == 4) {
            CHECK_EQ_STR(r->fallbacks[0].from, "big");
            CHECK_EQ_INT(r->fallbacks[0].n_to, 2);
            CHECK_EQ_STR(r->fallbacks[0].to[0], "default");
            CHECK_EQ_STR(r->fallbacks[0].to[1], "small");
            CHECK_EQ_STR(r->fallbacks[0].pos.file, "/cfgtest/config.yaml");
            CHECK_EQ_INT(r->fallbacks[0].pos.line, 27);
            CHECK_EQ_INT(r->fallbacks[0].pos.col, 7);
            CHECK_EQ_STR(r->fallbacks[1].from, "small");
            CHECK_EQ_INT(r->fallbacks[1].n_to, 1);
            CHECK_EQ_STR(r->fallbacks[1].to[0], "default");
            CHECK_EQ_STR(r->fallbacks[2].from, "default");
            CHECK_EQ_INT(r->fallbacks[2].n_to, 1);
            CHECK_EQ_STR(r->fallbacks[2].to[0], "big");
            CHECK_EQ_STR(r->fallbacks[3].from, "*");
            CHECK_EQ_INT(r->fallbacks[3].n_to, 0);
            CHECK_EQ_INT(r->fallbacks[3].pos.line, 29);
        }
        CHECK_EQ_INT(r->n_default_fallbacks, 2);
        if (r->n_default_fallbacks == 2) {
            CHECK_EQ_STR(r->default_fallbacks[0], "small");
            CHECK_EQ_STR(r->default_fallbacks[1], "default");
        }
        /* A group: both 'big' entries are kept; a lookup gives the first. */
        CHECK_EQ_INT(cc_config_find_model(cfg, "big"), 1);
        cc_route_t rt;
        CHECK(cc_config_resolve(cfg, "big", &rt) == 0 && rt.deployment == 1);
        CHECK(cfg->models[1].weight == 2.5);
        CHECK_EQ_INT(cfg->models[1].order, 1);
        CHECK(cfg->models[2].weight == 1.0);
        CHECK_EQ_INT(cfg->models[2].order, 2);
        CHECK_EQ_INT(cfg->models[3].order, 0);
        cc_config_free(cfg);
    }

    /* Split between the two sections; litellm_settings keeps its other LiteLLM keys silent. */
    cc_config_t *cfg = load_groups("router_settings:\n"
                                   "  num_retries: 1\n"
                                   "litellm_settings:\n"
                                   "  drop_params: true\n"
                                   "  callbacks: [ccproxy.handler]\n"
                                   "  cooldown_time: 0.5\n"
                                   "  default_fallbacks: big\n",
                                   &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    CHECK_EQ_INT(warn.len, 0);
    if (cfg) {
        CHECK_EQ_INT(cfg->router.num_retries, 1);
        CHECK_EQ_INT(cfg->router.cooldown_ms, 500);
        CHECK_EQ_INT(cfg->router.allowed_fails, 3);
        CHECK(cfg->router.n_default_fallbacks == 1 &&
              strcmp(cfg->router.default_fallbacks[0], "big") == 0);
    }
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_router_settings_errors(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;

    /* A key in both sections names both lines. */
    cc_config_t *cfg = load_groups("router_settings:\n"
                                   "  num_retries: 1\n"
                                   "  fallbacks: [{big: [small]}]\n"
                                   "litellm_settings:\n"
                                   "  fallbacks: [{small: [big]}]\n"
                                   "  num_retries: 2\n",
                                   &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "/cfgtest/config.yaml:22:3: num_retries is set both in router_settings "
                         "(line 18) and in litellm_settings (line 22); keep one of them"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:21:3: fallbacks is set both in router_settings "
                         "(line 19) and in litellm_settings (line 21); keep one of them"));
    CHECK_EQ_INT(count_lines(&err), 2);
    cc_buf_reset(&err);

    /* A bad value for each key, at its line and column. */
    cfg = load_groups("router_settings:\n"
                      "  num_retries: 11\n"
                      "  retry_after: -1\n"
                      "  allowed_fails: 1.5\n"
                      "  cooldown_time: 0\n"
                      "  fallbacks: {big: [small]}\n"
                      "  default_fallbacks: {big: small}\n"
                      "  routing_strategy: [simple-shuffle]\n",
                      &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "/cfgtest/config.yaml:18:16: router_settings.num_retries must be a "
                         "whole number from 0 to 10, got \"11\"; change it"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:19:16: router_settings.retry_after must be a "
                         "number of seconds from 0 to 1000000, got \"-1\"; change it"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:20:18: router_settings.allowed_fails must be a "
                         "whole number from 0 to 1000000, got \"1.5\"; change it"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:21:18: router_settings.cooldown_time must be a "
                         "number of seconds above 0 and at most 1000000, got \"0\"; change it"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:22:14: router_settings.fallbacks must be a list "
                         "of {group: [fallback groups]} maps, got a map; write e.g. fallbacks: "
                         "[{claude-opus: [claude-sonnet]}]"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:23:22: router_settings.default_fallbacks must be "
                         "a list of model_list model_names, got a map; write e.g. "
                         "[claude-sonnet, gpt-5]"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:24:21: router_settings.routing_strategy must be "
                         "a string, got a list; write a single value"));
    CHECK_EQ_INT(count_lines(&err), 7);
    cc_buf_reset(&err);

    /* The same from litellm_settings, and the shapes inside fallbacks. */
    cfg = load_groups("litellm_settings:\n"
                      "  num_retries: lots\n"
                      "  retry_after: [1]\n"
                      "  allowed_fails: -1\n"
                      "  cooldown_time: soon\n"
                      "  fallbacks:\n"
                      "    - big\n"
                      "    - small: [yes]\n"
                      "    - default:\n"
                      "    - big: {small: 1}\n"
                      "  default_fallbacks: [\"\"]\n",
                      &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "/cfgtest/config.yaml:18:16: litellm_settings.num_retries must be a "
                         "number, got \"lots\"; write a number"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:19:16: litellm_settings.retry_after must be a "
                         "number, got a list; write a number"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:20:18: litellm_settings.allowed_fails must be a "
                         "whole number from 0 to 1000000, got \"-1\"; change it"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:21:18: litellm_settings.cooldown_time must be a "
                         "number, got \"soon\"; write a number"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:23:7: litellm_settings.fallbacks[0] must be a map "
                         "{group: [fallback groups]}, got \"big\"; write e.g. \"- claude-opus: "
                         "[claude-sonnet]\""));
    CHECK(has_line(&err, "/cfgtest/config.yaml:24:15: litellm_settings.fallbacks[1].small[0] "
                         "must be a string, got \"yes\" (a YAML bool); quote it if you mean the "
                         "text: \"yes\""));
    CHECK(has_line(&err, "/cfgtest/config.yaml:25:7: litellm_settings.fallbacks[2].default has "
                         "no fallback groups; list them, e.g. {default: [another-group]}, or "
                         "remove the entry"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:26:12: litellm_settings.fallbacks[3].big must be "
                         "a list of model_list model_names, got a map; write e.g. "
                         "[claude-sonnet, gpt-5]"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:27:23: litellm_settings.default_fallbacks[0] has "
                         "an empty group name; write a model_list model_name"));
    CHECK_EQ_INT(count_lines(&err), 9);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_fallback_groups_must_exist(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = load_groups("router_settings:\n"
                                   "  fallbacks:\n"
                                   "    - big: [small, nope]\n"
                                   "    - ghost: [big]\n"
                                   "    - \"*\": [small]\n"
                                   "    - small: [big]\n"
                                   "    - small: [default]\n"
                                   "  default_fallbacks: [claude-opus-5-5]\n",
                                   &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "/cfgtest/config.yaml:19:20: router_settings.fallbacks[0].big[1] names "
                         "the group 'nope', but no model_list entry has model_name 'nope'; add a "
                         "model_list entry with that model_name or correct the name"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:20:7: router_settings.fallbacks[1] names the "
                         "group 'ghost', but no model_list entry has model_name 'ghost'; add a "
                         "model_list entry with that model_name or correct the name"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:21:7: router_settings.fallbacks[2] names the "
                         "group '*', but no model_list entry has model_name '*'; ccproxy has no "
                         "catch-all fallbacks key: list the groups to try after any group under "
                         "default_fallbacks"));
    /* A group is a model_name: the upstream model of a deployment is not one. */
    CHECK(has_line(&err, "/cfgtest/config.yaml:24:23: router_settings.default_fallbacks[0] names "
                         "the group 'claude-opus-5-5', but no model_list entry has model_name "
                         "'claude-opus-5-5'; add a model_list entry with that model_name or "
                         "correct the name"));
    CHECK_EQ_INT(count_lines(&err), 4);
    CHECK(has_line(&warn, "/cfgtest/config.yaml:23:7: router_settings.fallbacks[4] gives the "
                          "fallbacks of group 'small' again (first at line 22); this one is not "
                          "used, merge the two"));
    CHECK_EQ_INT(count_lines(&warn), 1);
    cc_buf_reset(&err);
    cc_buf_reset(&warn);

    /* A model_list that did not load is not checked against (its own errors come first). */
    cfg = load_mem("", "model_list: []\nrouter_settings:\n  default_fallbacks: [x]\n", &err, &warn);
    CHECK(cfg == NULL);
    CHECK_EQ_INT(count_lines(&err), 1);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_routing_strategy(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    static const struct {
        const char *name;
        cc_strategy_t strategy;
    } known[] = {{"simple-shuffle", CC_STRATEGY_SHUFFLE},
                 {"least-busy", CC_STRATEGY_LEAST_BUSY},
                 {"latency-based-routing", CC_STRATEGY_LATENCY},
                 {"usage-based-routing", CC_STRATEGY_USAGE},
                 {"usage-based-routing-v2", CC_STRATEGY_USAGE}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        char tail[128];
        snprintf(tail, sizeof tail, "%s:\n  routing_strategy: %s\n",
                 i % 2 ? "litellm_settings" : "router_settings", known[i].name);
        cc_config_t *cfg = load_groups(tail, &err, &warn);
        CHECK(cfg != NULL);
        if (cfg) CHECK_EQ_INT(cfg->router.strategy, known[i].strategy);
        cc_config_free(cfg);
        CHECK_EQ_INT(err.len, 0);
    }
    cc_config_t *cfg =
        load_groups("router_settings:\n  routing_strategy: cost-based-routing\n", &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "/cfgtest/config.yaml:18:21: router_settings.routing_strategy "
                         "'cost-based-routing' is not supported: ccproxy does not price requests "
                         "before it sends them; write one of simple-shuffle, least-busy, "
                         "latency-based-routing, usage-based-routing, usage-based-routing-v2"));
    cc_buf_reset(&err);
    cfg = load_groups("router_settings:\n  routing_strategy: round-robin\n", &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "/cfgtest/config.yaml:18:21: router_settings.routing_strategy "
                         "'round-robin' is not a routing strategy; write one of simple-shuffle, "
                         "least-busy, latency-based-routing, usage-based-routing, "
                         "usage-based-routing-v2"));
    cc_buf_reset(&err);

    /* Its arguments, and the limits the strategies keep to. */
    cfg = load_groups("router_settings:\n"
                      "  routing_strategy: latency-based-routing\n"
                      "  routing_strategy_args: {ttl: 30, lowest_latency_buffer: 0.5, "
                      "max_latency_list_size: 4}\n"
                      "  default_max_parallel_requests: 7\n",
                      &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    if (cfg) {
        CHECK_EQ_INT(cfg->router.latency_ttl_ms, 30000);
        CHECK(cfg->router.latency_buffer == 0.5);
        CHECK_EQ_INT(cfg->router.default_max_parallel, 7);
    }
    CHECK(has_text(&warn, "router_settings.routing_strategy_args.max_latency_list_size is "
                          "accepted but not used yet"));
    cc_config_free(cfg);
    cc_buf_reset(&warn);
    cfg = load_groups("router_settings:\n"
                      "  routing_strategy_args: {lowest_latency_buffer: -1, tll: 3}\n",
                      &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "/cfgtest/config.yaml:18:50: router_settings.routing_strategy_args."
                         "lowest_latency_buffer must be a number from 0 to 100 (0.5: deployments "
                         "up to 1.5 x the lowest latency are picked among at random), got \"-1\"; "
                         "change it"));
    CHECK(has_text(&warn, "unknown key 'tll' in router_settings.routing_strategy_args"));
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_router_policies(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = load_groups("router_settings:\n"
                                   "  retry_policy: {RateLimitErrorRetries: 3, "
                                   "BadRequestErrorRetries: 1}\n"
                                   "  model_group_retry_policy:\n"
                                   "    big: {InternalServerErrorRetries: 2}\n"
                                   "  allowed_fails_policy: {RateLimitErrorAllowedFails: 10, "
                                   "TimeoutErrorAllowedFails: 0}\n"
                                   "  content_policy_fallbacks: [{big: [small]}]\n"
                                   "  max_fallbacks: 2\n"
                                   "  disable_cooldowns: true\n"
                                   "  stream_timeout: 45\n",
                                   &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    CHECK_EQ_INT(warn.len, 0);
    if (cfg) {
        const cc_router_settings_t *r = &cfg->router;
        CHECK_EQ_INT(r->retry_policy[CC_FAIL_RATE_LIMIT], 3);
        CHECK_EQ_INT(r->retry_policy[CC_FAIL_BAD_REQUEST], 1);
        CHECK_EQ_INT(r->retry_policy[CC_FAIL_SERVER], -1);
        CHECK_EQ_INT(r->n_group_retry_policy, 1);
        if (r->n_group_retry_policy == 1) {
            CHECK_EQ_STR(r->group_retry_policy[0].group, "big");
            CHECK_EQ_INT(r->group_retry_policy[0].retries[CC_FAIL_SERVER], 2);
            CHECK_EQ_INT(r->group_retry_policy[0].retries[CC_FAIL_RATE_LIMIT], -1);
        }
        CHECK_EQ_INT(r->allowed_fails_policy[CC_FAIL_RATE_LIMIT], 10);
        CHECK_EQ_INT(r->allowed_fails_policy[CC_FAIL_TIMEOUT], 0);
        CHECK_EQ_INT(r->allowed_fails_policy[CC_FAIL_AUTH], -1);
        CHECK_EQ_INT(r->n_content_policy_fallbacks, 1);
        CHECK_EQ_INT(r->max_fallbacks, 2);
        CHECK(r->disable_cooldowns);
        CHECK_EQ_INT(r->stream_timeout_ms, 45000);
        CHECK_EQ_INT(r->timeout_ms, 0);
    }
    cc_config_free(cfg);

    cfg = load_groups("router_settings:\n"
                      "  retry_policy: {RateLimitErrorRetrys: 3, TimeoutErrorRetries: 11}\n"
                      "  model_group_retry_policy: {nosuch: {TimeoutErrorRetries: 1}}\n"
                      "  context_window_fallbacks: [{big: [huge]}]\n",
                      &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_text(&warn, "/cfgtest/config.yaml:18:18: unknown key 'RateLimitErrorRetrys' in "
                          "router_settings.retry_policy (known keys: BadRequestErrorRetries, "));
    CHECK(has_line(&err, "/cfgtest/config.yaml:18:64: router_settings.retry_policy."
                         "TimeoutErrorRetries must be a whole number from 0 to 10, got \"11\"; "
                         "change it"));
    CHECK(has_text(&err, "router_settings.model_group_retry_policy names the group 'nosuch', "
                         "but no model_list entry has model_name 'nosuch'"));
    CHECK(has_text(&err, "router_settings.context_window_fallbacks[0].big[0] names the group "
                         "'huge', but no model_list entry has model_name 'huge'"));
    CHECK_EQ_INT(count_lines(&err), 3);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_router_settings_warnings(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = load_groups("router_settings:\n"
                                   "  timeout: 30\n"
                                   "  cache_responses: true\n"
                                   "  num_retires: 2\n"
                                   "  enable_pre_call_checks: true\n"
                                   "litellm_settings:\n"
                                   "  context_window_fallbacks: [{big: [small]}]\n"
                                   "  set_verbose: true\n",
                                   &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    CHECK(has_line(&warn, "/cfgtest/config.yaml:19:3: router_settings.cache_responses is "
                          "accepted but not used yet: ccproxy does not implement it, so it has "
                          "no effect; remove it, or keep it for when ccproxy does"));
    CHECK(has_text(&warn, "/cfgtest/config.yaml:20:3: unknown key 'num_retires' in "
                          "router_settings (known keys: num_retries, retry_after, allowed_fails, "
                          "cooldown_time, fallbacks, default_fallbacks, routing_strategy, "));
    CHECK(has_line(&warn, "/cfgtest/config.yaml:21:3: router_settings.enable_pre_call_checks is "
                          "accepted but not used yet: ccproxy does not implement it, so it has no "
                          "effect; remove it, or keep it for when ccproxy does"));
    CHECK_EQ_INT(count_lines(&warn), 3);
    if (cfg) {
        CHECK_EQ_INT(cfg->router.num_retries, 0);
        CHECK_EQ_INT(cfg->router.timeout_ms, 30000);
        /* litellm_settings' context_window_fallbacks, as LiteLLM reads them */
        CHECK_EQ_INT(cfg->router.n_context_window_fallbacks, 1);
        if (cfg->router.n_context_window_fallbacks == 1) {
            CHECK_EQ_STR(cfg->router.context_window_fallbacks[0].from, "big");
            CHECK_EQ_STR(cfg->router.context_window_fallbacks[0].to[0], "small");
        }
    }
    cc_config_free(cfg);
    cc_buf_reset(&warn);

    cfg = load_groups("router_settings: [num_retries]\nlitellm_settings: 1\n", &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "/cfgtest/config.yaml:17:18: router_settings must be a map (key: value "
                         "lines), got a list; indent its keys under it"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:18:19: litellm_settings must be a map (key: value "
                         "lines), got \"1\"; indent its keys under it"));
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_deployment_limits(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    const char *text = "model_list:\n"
                       "  - model_name: default\n"
                       "    litellm_params:\n"
                       "      model: anthropic/claude-sonnet-5-5\n"
                       "      rpm: 60\n"
                       "      tpm: 100000\n"
                       "      max_parallel_requests: 4\n"
                       "  - model_name: default\n"
                       "    litellm_params:\n"
                       "      model: anthropic/claude-opus-5-5\n";
    cc_config_t *cfg = load_mem("", text, &err, &warn);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK_EQ_INT(cfg->models[0].rpm, 60);
        CHECK_EQ_INT(cfg->models[0].tpm, 100000);
        CHECK_EQ_INT(cfg->models[0].max_parallel, 4);
        CHECK_EQ_INT(cfg->models[1].rpm, 0);
        CHECK_EQ_INT(cfg->models[1].max_parallel, 0);
    }
    cc_config_free(cfg);
    const char *bad = "model_list:\n"
                      "  - model_name: default\n"
                      "    litellm_params:\n"
                      "      model: anthropic/claude-sonnet-5-5\n"
                      "      rpm: 0\n"
                      "      tpm: lots\n"
                      "      max_parallel_requests: 1.5\n";
    cfg = load_mem("", bad, &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "/cfgtest/config.yaml:5:12: model_list[0].litellm_params.rpm must be "
                         "a whole number from 1 to 1000000000, got \"0\"; change it"));
    CHECK(has_text(&err, "/cfgtest/config.yaml:6:12: model_list[0].litellm_params.tpm must be "));
    CHECK(has_line(&err, "/cfgtest/config.yaml:7:30: model_list[0].litellm_params."
                         "max_parallel_requests must be a whole number from 1 to 1000000000, "
                         "got \"1.5\"; change it"));
    CHECK_EQ_INT(count_lines(&err), 3);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_weight_and_order(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    const char *bad = "model_list:\n"
                      "  - model_name: default\n"
                      "    litellm_params:\n"
                      "      model: anthropic/claude-sonnet-5-5\n"
                      "      weight: 0\n"
                      "      order: 0\n"
                      "  - model_name: default\n"
                      "    litellm_params:\n"
                      "      model: anthropic/claude-opus-5-5\n"
                      "      weight: heavy\n"
                      "      order: 1.5\n"
                      "  - model_name: default\n"
                      "    litellm_params:\n"
                      "      model: anthropic/claude-haiku-5-5\n"
                      "      weight: -2\n"
                      "      order: \"3\"\n";
    cc_config_t *cfg = load_mem("", bad, &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "/cfgtest/config.yaml:5:15: model_list[0].litellm_params.weight must be "
                         "a number above 0 and at most 1000000 (the deployment's share of its "
                         "group's picks; default 1), got \"0\"; change it"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:6:14: model_list[0].litellm_params.order must be "
                         "a whole number from 1 to 1000000, got \"0\"; change it"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:10:15: model_list[1].litellm_params.weight must "
                         "be a number, got \"heavy\"; write a number"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:11:14: model_list[1].litellm_params.order must "
                         "be a whole number from 1 to 1000000, got \"1.5\"; change it"));
    CHECK(has_line(&err, "/cfgtest/config.yaml:15:15: model_list[2].litellm_params.weight must "
                         "be a number above 0 and at most 1000000 (the deployment's share of its "
                         "group's picks; default 1), got \"-2\"; change it"));
    CHECK_EQ_INT(count_lines(&err), 5);
    CHECK_EQ_INT(warn.len, 0);
    cc_buf_reset(&err);

    /* On an alias they are ignored, with the warning other deployment keys get; an alias that
     * shares its model_name with a deployment makes the name ambiguous. */
    const char *alias = "model_list:\n"
                        "  - model_name: default\n"
                        "    litellm_params:\n"
                        "      model: big\n"
                        "      weight: 3\n"
                        "      order: 1\n"
                        "  - model_name: big\n"
                        "    litellm_params:\n"
                        "      model: anthropic/claude-opus-5-5\n"
                        "  - model_name: big\n"
                        "    litellm_params:\n"
                        "      model: anthropic/claude-opus-4-1\n"
                        "      weight: 1e-3\n"
                        "  - model_name: big\n"
                        "    litellm_params:\n"
                        "      model: default\n";
    cfg = load_mem("", alias, &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    CHECK(has_line(&warn, "/cfgtest/config.yaml:5:15: model_list[0] (default) is an alias of "
                          "'big' (model_list[1]), so its weight is not used; remove it, or write "
                          "model as provider/model to make this entry a deployment"));
    CHECK(has_line(&warn, "/cfgtest/config.yaml:6:14: model_list[0] (default) is an alias of "
                          "'big' (model_list[1]), so its order is not used; remove it, or write "
                          "model as provider/model to make this entry a deployment"));
    CHECK(has_line(&warn, "/cfgtest/config.yaml:14:5: model_list[3] (big) is an alias, and "
                          "model_list[1] (line 7) has the same model_name; entries sharing a "
                          "model_name form a group of deployments, so 'big' is ambiguous and "
                          "requests for it use model_list[1] only; give the alias another "
                          "model_name, or make it a deployment (provider/model)"));
    CHECK_EQ_INT(count_lines(&warn), 3);
    if (cfg) {
        CHECK(cfg->models[0].weight == 0.0); /* an alias has none */
        CHECK_EQ_INT(cfg->models[0].order, 0);
        CHECK(cfg->models[2].weight == 1e-3);
        cc_route_t r;
        CHECK(cc_config_resolve(cfg, "default", &r) == 0 && r.deployment == 1);
    }
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_missing_files_and_syntax(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = cc_config_load(FIX "no-such-dir", &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err,
                   "%sno-such-dir/config.yaml: not found; run `ccproxy install` to create "
                   "it (or point --config-dir / CCPROXY_CONFIG_DIR at the directory that "
                   "has it)",
                   FIX));
    CHECK_EQ_INT(count_lines(&err), 1);
    cc_buf_reset(&err);

    cfg = cc_config_load(FIX "yaml_syntax", &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err,
                   "%syaml_syntax/ccproxy.yaml:5:6: YAML syntax error: did not find "
                   "expected '-' indicator (while parsing a block collection at line 4 "
                   "column 5); fix the YAML here (indentation, a missing ':', a tab, or an "
                   "unclosed quote or bracket)",
                   FIX));
    CHECK(has_line(&err,
                   "%syaml_syntax/config.yaml:4:1: YAML syntax error: did not find "
                   "expected ',' or '}' (while parsing a flow mapping at line 3 column 21); "
                   "fix the YAML here (indentation, a missing ':', a tab, or an unclosed "
                   "quote or bracket)",
                   FIX));
    CHECK_EQ_INT(count_lines(&err), 2);
    cc_buf_reset(&err);

    cfg = load_mem("ccproxy: {}\n", "model_list: []\n", &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_text(&err, "/cfgtest/config.yaml:1:13: model_list is empty; add at least one "
                         "deployment"));
    cc_buf_reset(&err);
    cfg = load_mem("- a\n- b\n", "", &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_text(&err, "/cfgtest/ccproxy.yaml:1:1: the top level must be a map with "
                         "'ccproxy:' and 'litellm:' sections, got a list"));
    CHECK(has_text(&err, "/cfgtest/config.yaml: the file is empty; it needs a model_list"));
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_type_errors(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    const char *yaml = "ccproxy:\n"
                       "  hooks: ccproxy.hooks.model_router\n"
                       "  rules:\n"
                       "    - name: yes\n"
                       "      rule: ccproxy.rules.ThinkingRule\n"
                       "    - just-a-string\n"
                       "  oat_sources:\n"
                       "    anthropic: {user_agent: x}\n"
                       "  default_model_passthrough: 1\n";
    cc_config_t *cfg = load_mem(yaml, one_model, &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "/cfgtest/ccproxy.yaml:2:10: ccproxy.hooks must be a list, got "
                         "\"ccproxy.hooks.model_router\"; write one \"- module\" line per hook"));
    CHECK(has_line(&err, "/cfgtest/ccproxy.yaml:4:13: ccproxy.rules[0].name must be a string, "
                         "got \"yes\" (a YAML bool); quote it if you mean the text: \"yes\""));
    CHECK(has_line(&err, "/cfgtest/ccproxy.yaml:6:7: ccproxy.rules[1] must be a map {name, "
                         "rule, params}, got \"just-a-string\"; write \"- name: label\" and "
                         "\"rule: module\" lines"));
    CHECK(has_text(&err, "/cfgtest/ccproxy.yaml:8:16: ccproxy.oat_sources.anthropic.command is "
                         "empty; give the shell command that prints the token"));
    CHECK(has_line(&err, "/cfgtest/ccproxy.yaml:9:30: ccproxy.default_model_passthrough must be "
                         "true or false, got \"1\"; write true or false"));
    CHECK_EQ_INT(count_lines(&err), 5);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

/* ---- the YAML tree ----------------------------------------------------------------------------
 */

static void test_yaml_scalar_typing(void) {
    const char *doc = "n1: ~\n"
                      "n2:\n"
                      "n3: null\n"
                      "b1: yes\n"
                      "b2: Off\n"
                      "b3: TRUE\n"
                      "i1: 60000\n"
                      "i2: -1_000\n"
                      "i3: 0x1F\n"
                      "f1: 2.5\n"
                      "f2: 6e4\n"
                      "f3: .inf\n"
                      "s1: \"yes\"\n"
                      "s2: '42'\n"
                      "s3: 1.2.3\n"
                      "s4: |\n"
                      "  true\n"
                      "s5: y\n"
                      "s6: 12abc\n";
    cc_yaml_node_t *root = NULL;
    CHECK_EQ_INT(cc_yaml_parse(doc, strlen(doc), "t.yaml", &root, NULL), 0);
    cJSON *j = cc_yaml_to_json(root);
    CHECK(j != NULL);
    if (j) {
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "n1")));
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "n2")));
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "n3")));
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "b1")));
        CHECK(cJSON_IsFalse(cJSON_GetObjectItem(j, "b2")));
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "b3")));
        CHECK(num_param(j, "i1") == 60000);
        CHECK(cJSON_GetObjectItem(j, "i2")->valuedouble == -1000);
        CHECK(num_param(j, "i3") == 31);
        CHECK(num_param(j, "f1") == 2.5);
        CHECK(num_param(j, "f2") == 60000);
        CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "f3")));
        CHECK_EQ_STR(str_param(j, "s1"), "yes");
        CHECK_EQ_STR(str_param(j, "s2"), "42");
        CHECK_EQ_STR(str_param(j, "s3"), "1.2.3");
        CHECK_EQ_STR(str_param(j, "s4"), "true\n");
        CHECK_EQ_STR(str_param(j, "s5"), "y");
        CHECK_EQ_STR(str_param(j, "s6"), "12abc");
    }
    const cc_yaml_node_t *i1 = cc_yaml_map_get(root, "i1");
    CHECK(i1 && i1->line == 7 && i1->col == 5);
    CHECK_EQ_INT(cc_yaml_scalar_type(cc_yaml_map_get(root, "s1")), CC_YAML_STR);
    CHECK_EQ_INT(cc_yaml_scalar_type(cc_yaml_map_get(root, "i3")), CC_YAML_INT);
    CHECK_EQ_INT(cc_yaml_scalar_type(cc_yaml_map_get(root, "f1")), CC_YAML_FLOAT);
    cJSON_Delete(j);
    cc_yaml_free(root);
}

static void test_yaml_anchors_merge_and_limits(void) {
    const char *doc = "base: &b {api_base: 'https://x', timeout: 5}\n"
                      "entry:\n"
                      "  <<: *b\n"
                      "  timeout: 9\n"
                      "dup: 1\n"
                      "dup: 2\n";
    cc_yaml_node_t *root = NULL;
    CHECK_EQ_INT(cc_yaml_parse(doc, strlen(doc), "t.yaml", &root, NULL), 0);
    const cc_yaml_node_t *e = cc_yaml_map_get(root, "entry");
    CHECK(e && e->n_pairs == 2);
    double t = 0;
    CHECK(cc_yaml_get_number(cc_yaml_map_get(e, "timeout"), &t) == 0 && t == 9);
    const cc_yaml_node_t *ab = cc_yaml_map_get(e, "api_base");
    CHECK(ab && strcmp(ab->text, "https://x") == 0 && ab->line == 1);
    CHECK(cc_yaml_get_number(cc_yaml_map_get(root, "dup"), &t) == 0 && t == 2);
    cc_yaml_free(root);

    /* Empty text and comments only: no document. */
    CHECK_EQ_INT(cc_yaml_parse("# x\n", 4, "t.yaml", &root, NULL), 0);
    CHECK(root == NULL);

    cc_buf_t err = CC_BUF_INIT;
    const char *two = "a: 1\n---\nb: 2\n";
    CHECK_EQ_INT(cc_yaml_parse(two, strlen(two), "t.yaml", &root, &err), -1);
    CHECK(has_text(&err, "t.yaml:2:1: a second YAML document starts here"));
    cc_buf_reset(&err);

    /* Aliases that expand past the node budget are refused, not expanded. */
    cc_buf_t bomb = CC_BUF_INIT;
    cc_buf_puts(&bomb, "a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (char c = 'b'; c <= 'h'; c++)
        cc_buf_printf(&bomb, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", c, c,
                      c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
    CHECK_EQ_INT(cc_yaml_parse(bomb.data, bomb.len, "bomb.yaml", &root, &err), -1);
    CHECK(has_text(&err, "expands to more than 100000 nodes"));
    cc_buf_free(&bomb);
    cc_buf_reset(&err);

    cc_buf_t deep = CC_BUF_INIT;
    for (int i = 0; i < 100; i++)
        cc_buf_puts(&deep, "[");
    for (int i = 0; i < 100; i++)
        cc_buf_puts(&deep, "]");
    CHECK_EQ_INT(cc_yaml_parse(deep.data, deep.len, "deep.yaml", &root, &err), -1);
    CHECK(has_text(&err, "nesting deeper than 64 levels"));
    cc_buf_free(&deep);
    cc_buf_reset(&err);

    const char *bad_merge = "x:\n  <<: 3\n";
    CHECK_EQ_INT(cc_yaml_parse(bad_merge, strlen(bad_merge), "m.yaml", &root, &err), -1);
    CHECK(has_text(&err, "m.yaml:2:7: a '<<' merge key needs a map or a list of maps"));
    cc_buf_free(&err);
}

static void test_dir_resolve(void) {
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    char *old_env = getenv("CCPROXY_CONFIG_DIR") ? strdup(getenv("CCPROXY_CONFIG_DIR")) : NULL;
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    char want[4200];

    setenv("HOME", "/home/tester", 1);
    unsetenv("CCPROXY_CONFIG_DIR");
    char *d = cc_config_dir_resolve(NULL);
    CHECK_EQ_STR(d, "/home/tester/.ccproxy");
    free(d);
    setenv("CCPROXY_CONFIG_DIR", "/etc/ccproxy/", 1);
    d = cc_config_dir_resolve(NULL);
    CHECK_EQ_STR(d, "/etc/ccproxy");
    free(d);
    d = cc_config_dir_resolve("/srv/cc");
    CHECK_EQ_STR(d, "/srv/cc");
    free(d);
    d = cc_config_dir_resolve("rel/dir");
    snprintf(want, sizeof want, "%s/rel/dir", cwd);
    CHECK_EQ_STR(d, want);
    free(d);
    d = cc_config_dir_resolve("~/cfg");
    CHECK_EQ_STR(d, "/home/tester/cfg");
    free(d);

    if (old_home)
        setenv("HOME", old_home, 1);
    else
        unsetenv("HOME");
    if (old_env)
        setenv("CCPROXY_CONFIG_DIR", old_env, 1);
    else
        unsetenv("CCPROXY_CONFIG_DIR");
    free(old_home);
    free(old_env);
}

int main(void) {
    clear_env();
    CC_RUN(test_templates_load_clean);
    CC_RUN(test_seed_readme_routes);
    CC_RUN(test_params_list_of_maps_merge);
    CC_RUN(test_ccproxy_yaml_errors);
    CC_RUN(test_rules_route_nowhere);
    CC_RUN(test_model_list_errors);
    CC_RUN(test_alias_cycle_and_long_chain);
    CC_RUN(test_os_environ);
    CC_RUN(test_wildcard_and_glob_aliases);
    CC_RUN(test_alias_rules);
    CC_RUN(test_provider_default_api_base);
    CC_RUN(test_defaults);
    CC_RUN(test_limits);
    CC_RUN(test_host_port_env);
    CC_RUN(test_warnings_and_deprecations);
    CC_RUN(test_router_defaults);
    CC_RUN(test_router_settings_read);
    CC_RUN(test_router_settings_errors);
    CC_RUN(test_fallback_groups_must_exist);
    CC_RUN(test_routing_strategy);
    CC_RUN(test_router_settings_warnings);
    CC_RUN(test_weight_and_order);
    CC_RUN(test_deployment_limits);
    CC_RUN(test_router_policies);
    CC_RUN(test_missing_files_and_syntax);
    CC_RUN(test_type_errors);
    CC_RUN(test_yaml_scalar_typing);
    CC_RUN(test_yaml_anchors_merge_and_limits);
    CC_RUN(test_dir_resolve);
    return CC_DONE();
}
