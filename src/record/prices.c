/* prices.c: price tables and costs (see prices.h). A table is a cJSON object of models kept as
 * loaded; lookups walk it (a few dozen entries), once per request. */
#include "record/prices.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paths.h"

struct cc_prices_s {
    cJSON *shipped; /* {model: {field: number}} or NULL */
    cJSON *user;
};

static cJSON *read_table(const char *path, cc_buf_t *err) {
    if (!path) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL; /* no such file: no table, not an error */
    cc_buf_t text = CC_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) cc_buf_append(&text, chunk, n);
    fclose(f);
    cJSON *doc = text.data ? cJSON_ParseWithLength(text.data, text.len) : NULL;
    cc_buf_free(&text);
    cJSON *models = doc ? cJSON_DetachItemFromObjectCaseSensitive(doc, "models") : NULL;
    cJSON_Delete(doc);
    if (!cJSON_IsObject(models)) {
        if (err)
            cc_buf_printf(err,
                          "%s: not a price table (a JSON object with \"models\": {model: "
                          "{input_cost_per_token: ..., ...}}); its prices are not used, fix "
                          "or remove the file\n",
                          path);
        cJSON_Delete(models);
        return NULL;
    }
    return models;
}

cc_prices_t *cc_prices_load(const char *shipped, const char *user, cc_buf_t *err) {
    cc_prices_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->shipped = read_table(shipped, err);
    p->user = read_table(user, err);
    return p;
}

cc_prices_t *cc_prices_load_for(const cc_config_t *cfg, cc_buf_t *err) {
    char *cfgdir = cc_path_join(cc_paths_datadir(), "config");
    char *shipped = cfgdir ? cc_path_join(cfgdir, "prices.json") : NULL;
    char *user = cfg->dir ? cc_path_join(cfg->dir, "prices.json") : NULL;
    cc_prices_t *p = cc_prices_load(shipped, user, err);
    free(cfgdir);
    free(shipped);
    free(user);
    return p;
}

void cc_prices_free(cc_prices_t *p) {
    if (!p) return;
    cJSON_Delete(p->shipped);
    cJSON_Delete(p->user);
    free(p);
}

/* The entry of `model` in `table`: as written, without a provider prefix ("openai/gpt-5"),
 * without a date suffix ("claude-sonnet-4-5-20250929"), or both. */
static const cJSON *entry(const cJSON *table, const char *model) {
    if (!table || !model) return NULL;
    char name[256];
    snprintf(name, sizeof name, "%s", model);
    for (int pass = 0; pass < 2; pass++) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(table, name);
        if (cJSON_IsObject(e)) return e;
        size_t n = strlen(name);
        if (n > 9 && name[n - 9] == '-') { /* -YYYYMMDD */
            bool date = true;
            for (size_t i = n - 8; i < n; i++) date = date && isdigit((unsigned char)name[i]);
            if (date) {
                name[n - 9] = 0;
                e = cJSON_GetObjectItemCaseSensitive(table, name);
                if (cJSON_IsObject(e)) return e;
            }
        }
        const char *slash = strrchr(model, '/');
        if (!slash) break;
        snprintf(name, sizeof name, "%s", slash + 1);
    }
    return NULL;
}

/* `key` of the first of `maps` that has it as a number >= 0, else `unknown`. */
static double field(const cJSON *const *maps, size_t n, const char *key, double unknown) {
    for (size_t i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(maps[i], key);
        if (cJSON_IsNumber(v) && v->valuedouble >= 0) return v->valuedouble;
    }
    return unknown;
}

void cc_prices_for(const cc_prices_t *p, const cc_model_t *m, const char *sent_model,
                   cc_price_t *out) {
    const char *model = sent_model ? sent_model : m->upstream_model;
    const cJSON *maps[3] = {m->model_info, p ? entry(p->user, model) : NULL,
                            p ? entry(p->shipped, model) : NULL};
    if (p && !maps[1]) maps[1] = entry(p->user, m->model);
    if (p && !maps[2]) maps[2] = entry(p->shipped, m->model);
    out->input = field(maps, 3, "input_cost_per_token", -1);
    out->output = field(maps, 3, "output_cost_per_token", -1);
    out->cache_creation = field(maps, 3, "cache_creation_input_token_cost", -1);
    out->cache_read = field(maps, 3, "cache_read_input_token_cost", -1);
    out->web_search = field(maps, 3, "web_search_cost_per_request", -1);
    out->max_input_tokens = (long)field(maps, 3, "max_input_tokens", 0);
}

bool cc_price_cost(const cc_price_t *p, const cc_usage_t *u, double *usd) {
    const struct {
        unsigned long long n;
        double price;
    } parts[] = {{u->input, p->input},
                 {u->output, p->output},
                 {u->cache_creation, p->cache_creation},
                 {u->cache_read, p->cache_read},
                 {u->web_search, p->web_search}};
    bool known = u->seen;
    double sum = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (!parts[i].n) continue;
        if (parts[i].price < 0)
            known = false;
        else
            sum += (double)parts[i].n * parts[i].price;
    }
    *usd = sum;
    return known;
}
