/* fuzz_config_yaml.c: libFuzzer target for the YAML tree (yaml_tree.c) and the configuration
 * validation (config.c, config_models.c). The input is split at its first NUL byte into a
 * ccproxy.yaml and a config.yaml; without a NUL the same bytes serve as both. Every loaded
 * config must route each of its names to a deployment, never to an alias.
 *
 *   cmake -B build-fuzz -DCCPROXY_FUZZ=ON -DCMAKE_C_COMPILER=clang && cmake --build build-fuzz
 *   build-fuzz/spec/fuzz_config_yaml -max_total_time=60 spec/fuzz/corpus/config_yaml
 * The corpus holds the templates, the seed README's files and the error fixtures, each as
 * ccproxy.yaml, a NUL, then config.yaml. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/yaml_tree.h"

static void check_route(const cc_config_t *cfg, int rc, const cc_route_t *r) {
    if (rc != 0) return;
    if (r->deployment < 0 || (size_t)r->deployment >= cfg->n_models) abort();
    const cc_model_t *m = &cfg->models[r->deployment];
    if (m->alias_of != -1 || !m->provider || !m->api_base || !r->upstream_model || !r->via) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;

    /* The tree alone, and its JSON form. */
    cc_yaml_node_t *root = NULL;
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    if (cc_yaml_parse(text, size, "fuzz.yaml", &root, &err) == 0) {
        cJSON *j = cc_yaml_to_json(root);
        char *s = j ? cJSON_PrintUnformatted(j) : NULL;
        free(s);
        cJSON_Delete(j);
        cc_yaml_free(root);
    } else if (err.len == 0) {
        abort(); /* a failed parse always says why */
    }
    cc_buf_reset(&err);

    /* The whole configuration. */
    const char *nul = memchr(text, '\0', size);
    const char *a = text, *b = text;
    size_t alen = size, blen = size;
    if (nul) {
        alen = (size_t)(nul - text);
        b = nul + 1;
        blen = size - alen - 1;
    }
    cc_config_t *cfg = cc_config_load_mem("/nonexistent-fuzz", a, alen, b, blen, &err, &warn);
    if (!cfg && err.len == 0) abort(); /* a rejected config always says why */
    if (cfg) {
        cc_route_t r;
        for (size_t i = 0; i < cfg->n_models; i++) {
            /* Every entry of a loaded config leads to a deployment. */
            if (cc_config_resolve(cfg, cfg->models[i].model_name, &r) != 0) abort();
            check_route(cfg, 0, &r);
            check_route(cfg, cc_config_route_label(cfg, cfg->models[i].model_name, &r), &r);
            check_route(cfg, cc_config_resolve(cfg, cfg->models[i].model, &r), &r);
        }
        for (size_t i = 0; i < cfg->n_rules; i++)
            check_route(cfg, cc_config_route_label(cfg, cfg->rules[i].name, &r), &r);
        check_route(cfg, cc_config_route_label(cfg, "default", &r), &r);
        cc_config_free(cfg);
    }
    cc_buf_free(&err);
    cc_buf_free(&warn);
    return 0;
}
