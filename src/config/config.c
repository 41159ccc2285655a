/* config.c: loading the config dir. Reads and validates ccproxy.yaml (ccproxy: settings, hooks,
 * rules, oat_sources, limits; litellm: listener), hands config.yaml to config_models.c
 * (model_list) and config_router.c (router_settings), checks what spans both files (rules that
 * route nowhere, model_router without a default), and owns cc_config_free and
 * cc_config_dir_resolve. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "paths.h"
#include "config/yaml_tree.h"

#define CC_CONFIG_MAX_FILE (16u << 20)

/* ---- messages ------------------------------------------------------------------------------ */

static void vreport(cc__cfgctx_t *x, cc_buf_t *b, const char *file, int line, int col,
                    const char *fmt, va_list ap) {
    if (!b) return;
    if (line > 0)
        cc_buf_printf(b, "%s:%d:%d: ", file, line, col);
    else
        cc_buf_printf(b, "%s: ", file);
    cc_buf_vprintf(b, fmt, ap);
    cc_buf_puts(b, "\n");
    (void)x;
}

void cc__cfg_error(cc__cfgctx_t *x, const cc_yaml_node_t *at, const char *fmt, ...) {
    va_list ap;
    x->n_errors++;
    va_start(ap, fmt);
    vreport(x, x->errors, x->file, at ? at->line : 0, at ? at->col : 0, fmt, ap);
    va_end(ap);
}

void cc__cfg_warn(cc__cfgctx_t *x, const cc_yaml_node_t *at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(x, x->warnings, x->file, at ? at->line : 0, at ? at->col : 0, fmt, ap);
    va_end(ap);
}

/* An error at a position remembered earlier (checks that run after both files are read). */
static void error_pos(cc__cfgctx_t *x, cc_srcpos_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void error_pos(cc__cfgctx_t *x, cc_srcpos_t pos, const char *fmt, ...) {
    va_list ap;
    x->n_errors++;
    va_start(ap, fmt);
    vreport(x, x->errors, pos.file, pos.line, pos.col, fmt, ap);
    va_end(ap);
}

static void error_plain(cc__cfgctx_t *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void error_plain(cc__cfgctx_t *x, const char *fmt, ...) {
    va_list ap;
    x->n_errors++;
    if (!x->errors) return;
    va_start(ap, fmt);
    cc_buf_vprintf(x->errors, fmt, ap);
    va_end(ap);
    cc_buf_puts(x->errors, "\n");
}

cc_srcpos_t cc__cfg_pos(const cc__cfgctx_t *x, const cc_yaml_node_t *n) {
    cc_srcpos_t p = {x->file, n ? n->line : 0, n ? n->col : 0};
    return p;
}

/* ---- typed readers ------------------------------------------------------------------------- */

static bool in_list(const char *s, const char *const *list) {
    for (; *list; list++)
        if (strcmp(s, *list) == 0) return true;
    return false;
}

void cc__cfg_check_keys(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *path,
                        const char *const *known) {
    cc__cfg_check_keys_ex(x, map, path, known, NULL);
}

void cc__cfg_check_keys_ex(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *path,
                           const char *const *known, const char *const *accepted) {
    if (!map || map->kind != CC_YAML_MAP) return;
    for (size_t i = 0; i < map->n_pairs; i++) {
        const cc_yaml_node_t *k = map->pairs[i].key;
        char d[96];
        if (k->kind != CC_YAML_SCALAR) {
            cc__cfg_error(x, k, "%s has %s as a key; keys must be plain names", path,
                          cc_yaml_describe(k, d, sizeof d));
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            const cc_yaml_node_t *o = map->pairs[j].key;
            if (o->kind == CC_YAML_SCALAR && o->len == k->len &&
                memcmp(o->text, k->text, k->len) == 0) {
                cc__cfg_warn(x, k,
                             "key '%s' of %s is given twice (first at line %d); the later one "
                             "is used, remove one of them",
                             k->text, path, o->line);
                break;
            }
        }
        if (!known || in_list(k->text, known) || (accepted && in_list(k->text, accepted))) continue;
        cc_buf_t list = CC_BUF_INIT;
        for (const char *const *kn = known; *kn; kn++)
            cc_buf_printf(&list, "%s%s", kn == known ? "" : ", ", *kn);
        cc__cfg_warn(x, k,
                     "unknown key '%s' in %s (known keys: %s); check the spelling or remove it",
                     k->text, path, list.data ? list.data : "none");
        cc_buf_free(&list);
    }
}

int cc__cfg_want_map(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path) {
    char d[96];
    if (!n || n->kind == CC_YAML_MAP || cc_yaml_is_null(n)) return 0;
    cc__cfg_error(x, n, "%s must be a map (key: value lines), got %s; indent its keys under it",
                  path, cc_yaml_describe(n, d, sizeof d));
    return -1;
}

int cc__cfg_string(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path, char **out) {
    char d[96];
    if (cc_yaml_is_null(n)) return 1;
    if (n->kind != CC_YAML_SCALAR) {
        cc__cfg_error(x, n, "%s must be a string, got %s; write a single value", path,
                      cc_yaml_describe(n, d, sizeof d));
        return -1;
    }
    if (cc_yaml_scalar_type(n) == CC_YAML_BOOL) {
        cc__cfg_error(x, n,
                      "%s must be a string, got %s (a YAML bool); quote it if you mean the "
                      "text: \"%s\"",
                      path, cc_yaml_describe(n, d, sizeof d), n->text);
        return -1;
    }
    char *s = strdup(n->text);
    if (!s) {
        cc__cfg_error(x, n, "out of memory");
        return -1;
    }
    free(*out);
    *out = s;
    return 0;
}

int cc__cfg_bool(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path, bool *out) {
    char d[96];
    if (cc_yaml_is_null(n)) return 1;
    if (cc_yaml_get_bool(n, out) == 0) return 0;
    cc__cfg_error(x, n, "%s must be true or false, got %s; write true or false", path,
                  cc_yaml_describe(n, d, sizeof d));
    return -1;
}

int cc__cfg_number(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path, double *out) {
    char d[96];
    if (cc_yaml_is_null(n)) return 1;
    if (cc_yaml_get_number(n, out) == 0 && !isnan(*out)) return 0;
    if (n->kind == CC_YAML_SCALAR && n->quoted) { /* "4000": take the number inside */
        cc_yaml_node_t plain = *n;
        plain.quoted = false;
        if (cc_yaml_get_number(&plain, out) == 0 && !isnan(*out)) return 0;
    }
    cc__cfg_error(x, n, "%s must be a number, got %s; write a number", path,
                  cc_yaml_describe(n, d, sizeof d));
    return -1;
}

const char *cc__cfg_getenv(const cc__cfgctx_t *x, const char *var) {
    const cc_yaml_node_t *v = cc_yaml_map_get(x->env_vars, var);
    if (v && v->kind == CC_YAML_SCALAR && !cc_yaml_is_null(v) && v->len > 0) return v->text;
    const char *e = getenv(var);
    return e && *e ? e : NULL;
}

int cc__cfg_int(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path, long lo, long hi,
                long *out) {
    double d;
    int rc = cc__cfg_number(x, n, path, &d);
    if (rc != 0) return rc;
    if (d != floor(d) || d < (double)lo || d > (double)hi) {
        char buf[96];
        cc__cfg_error(x, n, "%s must be a whole number from %ld to %ld, got %s; change it", path,
                      lo, hi, cc_yaml_describe(n, buf, sizeof buf));
        return -1;
    }
    *out = (long)d;
    return 0;
}

int cc__cfg_seconds(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *key,
                    const char *section, bool allow_zero, unsigned *ms) {
    char path[96];
    snprintf(path, sizeof path, "%s.%s", section, key);
    const cc_yaml_node_t *n = cc_yaml_map_get(map, key);
    double s;
    int rc = cc__cfg_number(x, n, path, &s);
    if (rc != 0) return rc;
    if (s < 0 || (s == 0 && !allow_zero) || s > 1e6) {
        char d[96];
        cc__cfg_error(x, n, "%s must be a number of seconds %s 1000000, got %s; change it", path,
                      allow_zero ? "from 0 to" : "above 0 and at most",
                      cc_yaml_describe(n, d, sizeof d));
        return -1;
    }
    double v = s * 1000.0;
    *ms = v > 0 && v < 1 ? 1u : (unsigned)llround(v);
    return 0;
}

/* A size in bytes: a number, or text such as "32MiB", "64 KiB", "1MB", "512k". */
static int parse_size(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0)) return -1;
    while (*end == ' ')
        end++;
    static const struct {
        const char *unit;
        double mult;
    } units[] = {
        {"", 1},        {"b", 1},         {"k", 1024}, {"kib", 1024},       {"kb", 1000},
        {"m", 1048576}, {"mib", 1048576}, {"mb", 1e6}, {"g", 1073741824.0}, {"gib", 1073741824.0},
        {"gb", 1e9}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].unit) == 0) {
            *out = v * units[i].mult;
            return 0;
        }
    }
    return -1;
}

static void read_size(cc__cfgctx_t *x, const cc_yaml_node_t *map, const char *key,
                      const char *section, size_t *out) {
    char path[96], d[96];
    snprintf(path, sizeof path, "%s.%s", section, key);
    const cc_yaml_node_t *n = cc_yaml_map_get(map, key);
    double v;
    if (cc_yaml_is_null(n)) return;
    bool ok = n->kind == CC_YAML_SCALAR &&
              (cc_yaml_get_number(n, &v) == 0 || parse_size(n->text, &v) == 0);
    if (!ok || !(v >= 1) || v > 1099511627776.0 || v != floor(v)) {
        cc__cfg_error(x, n,
                      "%s must be a size in bytes (a whole number, or like \"32MiB\" or "
                      "\"64KiB\") from 1 byte to 1 TiB, got %s; change it",
                      path, cc_yaml_describe(n, d, sizeof d));
        return;
    }
    *out = (size_t)v;
}

/* A module name as rules and hooks name them: dotted identifiers ("token_count",
 * "ccproxy.rules.TokenCountRule", "mine.big"). */
static bool module_name_ok(const char *s) {
    bool start = true;
    if (!*s) return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '.') {
            if (start) return false;
            start = true;
        } else if (isalpha(ch) || ch == '_' || (!start && isdigit(ch))) {
            start = false;
        } else {
            return false;
        }
    }
    return !start;
}

/* ---- params --------------------------------------------------------------------------------- */

typedef struct {
    cJSON *obj;
    cc_param_pos_t *pos;
    size_t n_pos;
} params_t;

static int params_put(cc__cfgctx_t *x, params_t *p, const cc_yaml_node_t *k,
                      const cc_yaml_node_t *v, const char *path) {
    char d[96];
    if (k->kind != CC_YAML_SCALAR || cc_yaml_is_null(k)) {
        cc__cfg_error(x, k, "%s has %s as a parameter name; use a plain name", path,
                      cc_yaml_describe(k, d, sizeof d));
        return -1;
    }
    cJSON *val = cc_yaml_to_json(v);
    if (!val) goto oom;
    size_t i;
    for (i = 0; i < p->n_pos; i++)
        if (strcmp(p->pos[i].key, k->text) == 0) break;
    if (i < p->n_pos) {
        cc__cfg_warn(x, k,
                     "parameter '%s' of %s is given twice; the later value is used, remove one",
                     k->text, path);
        if (!cJSON_ReplaceItemInObjectCaseSensitive(p->obj, k->text, val)) goto oom;
        p->pos[i].pos = cc__cfg_pos(x, v ? v : k);
        return 0;
    }
    cc_param_pos_t *np = realloc(p->pos, (p->n_pos + 1) * sizeof *np);
    if (!np) goto oom;
    p->pos = np;
    np[p->n_pos].key = strdup(k->text);
    if (!np[p->n_pos].key) goto oom;
    np[p->n_pos].pos = cc__cfg_pos(x, v ? v : k);
    p->n_pos++;
    if (!cJSON_AddItemToObject(p->obj, k->text, val)) {
        val = NULL;
        goto oom;
    }
    return 0;
oom:
    cJSON_Delete(val);
    cc__cfg_error(x, k, "out of memory");
    return -1;
}

/* Reads `params`: a map, or the Python tool's list of maps (merged into one object). */
static int read_params(cc__cfgctx_t *x, const cc_yaml_node_t *n, const char *path, params_t *p) {
    char d[96];
    p->obj = cJSON_CreateObject();
    if (!p->obj) {
        cc__cfg_error(x, n, "out of memory");
        return -1;
    }
    if (cc_yaml_is_null(n)) return 0;
    int rc = 0;
    if (n->kind == CC_YAML_MAP) {
        for (size_t i = 0; i < n->n_pairs; i++)
            if (params_put(x, p, n->pairs[i].key, n->pairs[i].value, path) != 0) rc = -1;
        return rc;
    }
    if (n->kind == CC_YAML_SEQ) {
        for (size_t i = 0; i < n->n_items; i++) {
            const cc_yaml_node_t *it = n->items[i];
            if (it->kind != CC_YAML_MAP) {
                cc__cfg_error(x, it,
                              "%s[%zu] is %s, not a name: value pair; write params as a map, "
                              "e.g. \"params: {threshold: 60000}\" (or as the list \"- threshold: "
                              "60000\")",
                              path, i, cc_yaml_describe(it, d, sizeof d));
                rc = -1;
                continue;
            }
            for (size_t j = 0; j < it->n_pairs; j++)
                if (params_put(x, p, it->pairs[j].key, it->pairs[j].value, path) != 0) rc = -1;
        }
        return rc;
    }
    cc__cfg_error(x, n,
                  "%s must be a map of parameter names to values, got %s; write it as a map, "
                  "e.g. \"params: {threshold: 60000}\"",
                  path, cc_yaml_describe(n, d, sizeof d));
    return -1;
}

static void params_free(params_t *p) {
    cJSON_Delete(p->obj);
    for (size_t i = 0; i < p->n_pos; i++)
        free(p->pos[i].key);
    free(p->pos);
    memset(p, 0, sizeof *p);
}

/* ---- ccproxy.hooks / ccproxy.rules / ccproxy.oat_sources ----------------------------------- */

static void read_hooks(cc__cfgctx_t *x, const cc_yaml_node_t *n) {
    static const char *const hook_keys[] = {"hook", "params", "on_error", NULL};
    char d[96], path[64];
    cc_config_t *cfg = x->cfg;
    if (cc_yaml_is_null(n)) return;
    if (n->kind != CC_YAML_SEQ) {
        cc__cfg_error(x, n,
                      "ccproxy.hooks must be a list, got %s; write one \"- module\" line "
                      "per hook",
                      cc_yaml_describe(n, d, sizeof d));
        return;
    }
    cfg->hooks = calloc(n->n_items ? n->n_items : 1, sizeof *cfg->hooks);
    if (!cfg->hooks) {
        cc__cfg_error(x, n, "out of memory");
        return;
    }
    for (size_t i = 0; i < n->n_items; i++) {
        const cc_yaml_node_t *it = n->items[i], *mod = it, *pn = NULL;
        snprintf(path, sizeof path, "ccproxy.hooks[%zu]", i);
        if (it->kind == CC_YAML_MAP) {
            cc__cfg_check_keys(x, it, path, hook_keys);
            mod = cc_yaml_map_get(it, "hook");
            pn = cc_yaml_map_get(it, "params");
            if (!mod) {
                cc__cfg_error(x, it,
                              "%s has no 'hook' key; write \"- hook: module_name\" with "
                              "params under it",
                              path);
                continue;
            }
        } else if (it->kind != CC_YAML_SCALAR) {
            cc__cfg_error(x, it,
                          "%s must be a module name or {hook: name, params: {...}}, got "
                          "%s; fix the entry",
                          path, cc_yaml_describe(it, d, sizeof d));
            continue;
        }
        char *module = NULL;
        char mpath[80];
        snprintf(mpath, sizeof mpath, "%s%s", path, it->kind == CC_YAML_MAP ? ".hook" : "");
        if (cc__cfg_string(x, mod, mpath, &module) != 0) {
            if (!module && cc_yaml_is_null(mod))
                cc__cfg_error(x, mod,
                              "%s is empty; name a hook module, e.g. "
                              "ccproxy.hooks.model_router",
                              mpath);
            continue;
        }
        if (!module_name_ok(module)) {
            cc__cfg_error(x, mod,
                          "%s '%s' is not a module name; write dotted names of letters, "
                          "digits and '_', e.g. ccproxy.hooks.model_router",
                          mpath, module);
            free(module);
            continue;
        }
        char ppath[80];
        snprintf(ppath, sizeof ppath, "%s.params", path);
        params_t p = {0};
        if (read_params(x, pn, ppath, &p) != 0) {
            free(module);
            params_free(&p);
            continue;
        }
        bool fail_on_error = false;
        const cc_yaml_node_t *oe = it->kind == CC_YAML_MAP ? cc_yaml_map_get(it, "on_error") : NULL;
        if (oe && !cc_yaml_is_null(oe)) {
            char opath[80];
            snprintf(opath, sizeof opath, "%s.on_error", path);
            char *v = NULL;
            if (cc__cfg_string(x, oe, opath, &v) == 0) {
                if (strcmp(v, "fail") == 0)
                    fail_on_error = true;
                else if (strcmp(v, "skip") != 0)
                    cc__cfg_error(x, oe,
                                  "%s must be \"skip\" (log the error and go on, the default) "
                                  "or \"fail\" (answer the request with an error), got \"%s\"",
                                  opath, v);
            }
            free(v);
        }
        cc_hook_cfg_t *h = &cfg->hooks[cfg->n_hooks++];
        h->module = module;
        h->fail_on_error = fail_on_error;
        h->params = p.obj;
        h->param_pos = p.pos;
        h->n_param_pos = p.n_pos;
        h->pos = cc__cfg_pos(x, it);
        h->module_pos = cc__cfg_pos(x, mod);
    }
}

static void read_rules(cc__cfgctx_t *x, const cc_yaml_node_t *n) {
    static const char *const rule_keys[] = {"name", "rule", "params", NULL};
    char d[96], path[64], kpath[80];
    cc_config_t *cfg = x->cfg;
    if (cc_yaml_is_null(n)) return;
    if (n->kind != CC_YAML_SEQ) {
        cc__cfg_error(x, n,
                      "ccproxy.rules must be a list, got %s; write one \"- name: ...\" "
                      "entry per rule",
                      cc_yaml_describe(n, d, sizeof d));
        return;
    }
    cfg->rules = calloc(n->n_items ? n->n_items : 1, sizeof *cfg->rules);
    if (!cfg->rules) {
        cc__cfg_error(x, n, "out of memory");
        return;
    }
    for (size_t i = 0; i < n->n_items; i++) {
        const cc_yaml_node_t *it = n->items[i];
        snprintf(path, sizeof path, "ccproxy.rules[%zu]", i);
        if (it->kind != CC_YAML_MAP) {
            cc__cfg_error(x, it,
                          "%s must be a map {name, rule, params}, got %s; write "
                          "\"- name: label\" and \"rule: module\" lines",
                          path, cc_yaml_describe(it, d, sizeof d));
            continue;
        }
        cc__cfg_check_keys(x, it, path, rule_keys);
        const cc_yaml_node_t *nn = cc_yaml_map_get(it, "name");
        const cc_yaml_node_t *rn = cc_yaml_map_get(it, "rule");
        char *name = NULL, *module = NULL;
        params_t p = {0};
        bool ok = true;
        snprintf(kpath, sizeof kpath, "%s.name", path);
        int rc = cc__cfg_string(x, nn, kpath, &name);
        if (rc == 1 || (rc == 0 && !*name)) {
            cc__cfg_error(x, nn ? nn : it,
                          "%s has no name; give it the label it sets, e.g. "
                          "\"name: think\" (a model_name in config.yaml)",
                          path);
            ok = false;
        } else if (rc < 0) {
            ok = false;
        }
        snprintf(kpath, sizeof kpath, "%s.rule", path);
        rc = cc__cfg_string(x, rn, kpath, &module);
        if (rc == 1 || (rc == 0 && !*module)) {
            cc__cfg_error(x, rn ? rn : it,
                          "%s has no rule; name the rule module, e.g. "
                          "\"rule: ccproxy.rules.ThinkingRule\"",
                          path);
            ok = false;
        } else if (rc < 0) {
            ok = false;
        } else if (!module_name_ok(module)) {
            cc__cfg_error(x, rn,
                          "%s '%s' is not a module name; write dotted names of letters, "
                          "digits and '_', e.g. ccproxy.rules.TokenCountRule",
                          kpath, module);
            ok = false;
        }
        snprintf(kpath, sizeof kpath, "%s.params", path);
        if (read_params(x, cc_yaml_map_get(it, "params"), kpath, &p) != 0) ok = false;
        if (!ok) {
            free(name);
            free(module);
            params_free(&p);
            continue;
        }
        cc_rule_cfg_t *r = &cfg->rules[cfg->n_rules++];
        r->name = name;
        r->module = module;
        r->params = p.obj;
        r->param_pos = p.pos;
        r->n_param_pos = p.n_pos;
        r->pos = cc__cfg_pos(x, it);
        r->module_pos = cc__cfg_pos(x, rn);
    }
}

static int add_oat(cc__cfgctx_t *x, const char *provider, char *command, char *ua,
                   const cc_yaml_node_t *at) {
    cc_config_t *cfg = x->cfg;
    cc_oat_source_t *o = realloc(cfg->oat_sources, (cfg->n_oat_sources + 1) * sizeof *o);
    char *p = strdup(provider);
    if (!o || !p) {
        if (o) cfg->oat_sources = o;
        free(p);
        free(command);
        free(ua);
        cc__cfg_error(x, at, "out of memory");
        return -1;
    }
    cfg->oat_sources = o;
    o += cfg->n_oat_sources++;
    o->provider = p;
    o->command = command;
    o->user_agent = ua;
    o->pos = cc__cfg_pos(x, at);
    return 0;
}

static void read_oat_sources(cc__cfgctx_t *x, const cc_yaml_node_t *n) {
    static const char *const oat_keys[] = {"command", "user_agent", NULL};
    char d[96], path[160];
    if (cc__cfg_want_map(x, n, "ccproxy.oat_sources") != 0 || !n || n->kind != CC_YAML_MAP) return;
    cc__cfg_check_keys(x, n, "ccproxy.oat_sources", NULL); /* repeated providers */
    for (size_t i = 0; i < n->n_pairs; i++) {
        const cc_yaml_node_t *k = n->pairs[i].key, *v = n->pairs[i].value;
        if (k->kind != CC_YAML_SCALAR) continue; /* reported by check_keys */
        if (!k->len) {
            cc__cfg_error(x, k,
                          "ccproxy.oat_sources has %s as a provider; use a provider name "
                          "such as anthropic",
                          cc_yaml_describe(k, d, sizeof d));
            continue;
        }
        snprintf(path, sizeof path, "ccproxy.oat_sources.%.100s", k->text);
        char *command = NULL, *ua = NULL;
        const cc_yaml_node_t *cn = v;
        if (v && v->kind == CC_YAML_MAP) {
            cc__cfg_check_keys(x, v, path, oat_keys);
            cn = cc_yaml_map_get(v, "command");
            char upath[180];
            snprintf(upath, sizeof upath, "%s.user_agent", path);
            if (cc__cfg_string(x, cc_yaml_map_get(v, "user_agent"), upath, &ua) < 0) continue;
            snprintf(path + strlen(path), sizeof path - strlen(path), ".command");
        }
        int rc = cc__cfg_string(x, cn, path, &command);
        if (rc == 1 || (rc == 0 && !*command)) {
            cc__cfg_error(x,
                          cn  ? cn
                          : v ? v
                              : k,
                          "%s is empty; give the shell command that "
                          "prints the token, e.g. \"jq -r '.claudeAiOauth.accessToken' "
                          "~/.claude/.credentials.json\"",
                          path);
            rc = -1;
        }
        if (rc != 0) {
            free(command);
            free(ua);
            continue;
        }
        for (size_t j = 0; j < x->cfg->n_oat_sources; j++)
            if (strcmp(x->cfg->oat_sources[j].provider, k->text) == 0) {
                /* A repeated key: the later one wins, as in check_keys' warning. */
                x->cfg->n_oat_sources--;
                cc_oat_source_t *o = &x->cfg->oat_sources[j];
                free(o->provider);
                free(o->command);
                free(o->user_agent);
                memmove(o, o + 1, (x->cfg->n_oat_sources - j) * sizeof *o);
                break;
            }
        add_oat(x, k->text, command, ua, k);
    }
}

static void read_credentials(cc__cfgctx_t *x, const cc_yaml_node_t *n) {
    char *cmd = NULL;
    int rc = cc__cfg_string(x, n, "ccproxy.credentials", &cmd);
    if (rc != 0 || !*cmd) {
        free(cmd);
        return;
    }
    for (size_t i = 0; i < x->cfg->n_oat_sources; i++)
        if (strcmp(x->cfg->oat_sources[i].provider, "anthropic") == 0) {
            cc__cfg_warn(x, n,
                         "ccproxy.credentials is deprecated and ignored because "
                         "oat_sources.anthropic is set; remove credentials");
            free(cmd);
            return;
        }
    cc__cfg_warn(x, n,
                 "ccproxy.credentials is deprecated; it is used as oat_sources.anthropic, "
                 "move the command there (oat_sources: {anthropic: \"...\"})");
    add_oat(x, "anthropic", cmd, NULL, n);
}

/* ---- sections ------------------------------------------------------------------------------ */

static void read_server(cc__cfgctx_t *x, const cc_yaml_node_t *n) {
    static const char *const keys[] = {"max_body_bytes", "max_header_bytes", "header_timeout",
                                       "idle_timeout",   "shutdown_grace",   NULL};
    const char *s = "ccproxy.server";
    cc_limits_t *l = &x->cfg->limits;
    if (cc__cfg_want_map(x, n, s) != 0) return;
    cc__cfg_check_keys(x, n, s, keys);
    read_size(x, n, "max_body_bytes", s, &l->max_body_bytes);
    read_size(x, n, "max_header_bytes", s, &l->max_header_bytes);
    cc__cfg_seconds(x, n, "header_timeout", s, false, &l->header_timeout_ms);
    cc__cfg_seconds(x, n, "idle_timeout", s, false, &l->idle_timeout_ms);
    cc__cfg_seconds(x, n, "shutdown_grace", s, true, &l->shutdown_grace_ms);
}

static void read_upstream(cc__cfgctx_t *x, const cc_yaml_node_t *n) {
    static const char *const keys[] = {"connect_timeout", "first_byte_timeout", "idle_timeout",
                                       "pool_max_idle",   "pool_idle_ttl",      NULL};
    const char *s = "ccproxy.upstream";
    cc_limits_t *l = &x->cfg->limits;
    long v;
    if (cc__cfg_want_map(x, n, s) != 0) return;
    cc__cfg_check_keys(x, n, s, keys);
    cc__cfg_seconds(x, n, "connect_timeout", s, false, &l->connect_timeout_ms);
    cc__cfg_seconds(x, n, "first_byte_timeout", s, false, &l->first_byte_timeout_ms);
    cc__cfg_seconds(x, n, "idle_timeout", s, false, &l->upstream_idle_timeout_ms);
    cc__cfg_seconds(x, n, "pool_idle_ttl", s, false, &l->pool_idle_ttl_ms);
    if (cc__cfg_int(x, cc_yaml_map_get(n, "pool_max_idle"), "ccproxy.upstream.pool_max_idle", 0,
                    100000, &v) == 0)
        l->pool_max_idle = (unsigned)v;
}

static void read_scripts(cc__cfgctx_t *x, const cc_yaml_node_t *n) {
    static const char *const keys[] = {"budget", "memory", "trusted", NULL};
    const char *s = "ccproxy.scripts";
    cc_limits_t *l = &x->cfg->limits;
    if (cc__cfg_want_map(x, n, s) != 0) return;
    cc__cfg_check_keys(x, n, s, keys);
    cc__cfg_seconds(x, n, "budget", s, false, &l->script_budget_ms);
    cc__cfg_bool(x, cc_yaml_map_get(n, "trusted"), "ccproxy.scripts.trusted", &l->script_trusted);
    read_size(x, n, "memory", s, &l->script_memory_bytes);
    if (l->script_memory_bytes < (4u << 20)) {
        cc__cfg_error(x, cc_yaml_map_get(n, "memory"),
                      "ccproxy.scripts.memory must be at least 4MiB (the Lua runtime needs it)");
        l->script_memory_bytes = 4u << 20;
    }
}

static const char *home_dir(void);

/* ccproxy.usage: {store: true | false | <path>, retention_days: N}. */
static void read_usage(cc__cfgctx_t *x, const cc_yaml_node_t *n) {
    static const char *const keys[] = {"store", "retention_days", NULL};
    const char *s = "ccproxy.usage";
    cc_config_t *cfg = x->cfg;
    char d[96];
    long v;
    if (cc__cfg_want_map(x, n, s) != 0) return;
    cc__cfg_check_keys(x, n, s, keys);
    const cc_yaml_node_t *st = cc_yaml_map_get(n, "store");
    if (st && !cc_yaml_is_null(st)) {
        bool on;
        if (cc_yaml_get_bool(st, &on) == 0) {
            cfg->usage_store = on;
        } else if (st->kind != CC_YAML_SCALAR || !st->len ||
                   cc_yaml_scalar_type(st) != CC_YAML_STR) {
            cc__cfg_error(x, st,
                          "ccproxy.usage.store must be true, false or the database file, got "
                          "%s; write e.g. \"store: true\" or \"store: ~/ccproxy-usage.db\"",
                          cc_yaml_describe(st, d, sizeof d));
        } else {
            const char *home = home_dir();
            char *path;
            if (st->text[0] == '~' && st->text[1] == '/' && home)
                path = cc_path_join(home, st->text + 2);
            else if (st->text[0] == '/')
                path = strdup(st->text);
            else
                path = cc_path_join(cfg->dir, st->text);
            if (!path) {
                cc__cfg_error(x, st, "out of memory");
                return;
            }
            free(cfg->usage_db);
            cfg->usage_db = path;
            cfg->usage_store = true;
        }
    }
    if (cc__cfg_int(x, cc_yaml_map_get(n, "retention_days"), "ccproxy.usage.retention_days", 0,
                    1000000, &v) == 0)
        cfg->usage_retention_days = (unsigned)v;
}

static void read_ccproxy(cc__cfgctx_t *x, const cc_yaml_node_t *n) {
    static const char *const keys[] = {
        "debug",       "hooks",   "rules",           "oat_sources", "default_model_passthrough",
        "credentials", "handler", "metrics_enabled", "server",      "upstream",
        "scripts",     "oat_timeout", "otel",     "usage",    NULL};
    cc_config_t *cfg = x->cfg;
    if (cc__cfg_want_map(x, n, "ccproxy") != 0) return;
    cc__cfg_check_keys(x, n, "ccproxy", keys);
    cc__cfg_bool(x, cc_yaml_map_get(n, "debug"), "ccproxy.debug", &cfg->debug);
    cc__cfg_bool(x, cc_yaml_map_get(n, "default_model_passthrough"),
                 "ccproxy.default_model_passthrough", &cfg->default_model_passthrough);
    cc__cfg_bool(x, cc_yaml_map_get(n, "metrics_enabled"), "ccproxy.metrics_enabled",
                 &cfg->metrics_enabled);
    read_oat_sources(x, cc_yaml_map_get(n, "oat_sources"));
    const cc_yaml_node_t *cred = cc_yaml_map_get(n, "credentials");
    if (cred) read_credentials(x, cred);
    const cc_yaml_node_t *handler = cc_yaml_map_get(n, "handler");
    if (handler)
        cc__cfg_warn(x, handler,
                     "ccproxy.handler is ignored: ccproxy has no handler file (hooks "
                     "and rules are loaded directly); remove it");
    read_hooks(x, cc_yaml_map_get(n, "hooks"));
    read_rules(x, cc_yaml_map_get(n, "rules"));
    read_server(x, cc_yaml_map_get(n, "server"));
    read_upstream(x, cc_yaml_map_get(n, "upstream"));
    read_scripts(x, cc_yaml_map_get(n, "scripts"));
    read_usage(x, cc_yaml_map_get(n, "usage"));
    cc__cfg_seconds(x, n, "oat_timeout", "ccproxy", false, &cfg->limits.oat_timeout_ms);
    cc__cfg_load_otel(x, cc_yaml_map_get(n, "otel"));
}

static void read_litellm(cc__cfgctx_t *x, const cc_yaml_node_t *n) {
    static const char *const keys[] = {"host",  "port",           "num_workers",
                                       "debug", "detailed_debug", NULL};
    cc_config_t *cfg = x->cfg;
    long v;
    bool detailed = false;
    if (cc__cfg_want_map(x, n, "litellm") != 0) return;
    cc__cfg_check_keys(x, n, "litellm", keys);
    const cc_yaml_node_t *h = cc_yaml_map_get(n, "host");
    char *host = NULL;
    if (cc__cfg_string(x, h, "litellm.host", &host) == 0) {
        if (!*host) {
            cc__cfg_error(x, h, "litellm.host is empty; write an address such as 127.0.0.1");
            free(host);
        } else {
            free(cfg->host);
            cfg->host = host;
        }
    }
    if (cc__cfg_int(x, cc_yaml_map_get(n, "port"), "litellm.port", 1, 65535, &v) == 0)
        cfg->port = (int)v;
    if (cc__cfg_int(x, cc_yaml_map_get(n, "num_workers"), "litellm.num_workers", 1, 1024, &v) == 0)
        cfg->num_workers = (int)v;
    cc__cfg_bool(x, cc_yaml_map_get(n, "debug"), "litellm.debug", &cfg->litellm_debug);
    if (cc__cfg_bool(x, cc_yaml_map_get(n, "detailed_debug"), "litellm.detailed_debug",
                     &detailed) == 0 &&
        detailed)
        cfg->litellm_debug = true;
}

static void read_ccproxy_yaml(cc__cfgctx_t *x, const cc_yaml_node_t *root) {
    static const char *const keys[] = {"ccproxy", "litellm", NULL};
    char d[96];
    if (!root || cc_yaml_is_null(root)) return;
    if (root->kind != CC_YAML_MAP) {
        cc__cfg_error(x, root,
                      "the top level must be a map with 'ccproxy:' and 'litellm:' "
                      "sections, got %s; see the file `ccproxy install` writes",
                      cc_yaml_describe(root, d, sizeof d));
        return;
    }
    cc__cfg_check_keys(x, root, "ccproxy.yaml", keys);
    read_ccproxy(x, cc_yaml_map_get(root, "ccproxy"));
    read_litellm(x, cc_yaml_map_get(root, "litellm"));
}

/* HOST and PORT from the environment override litellm.host and litellm.port. */
static void read_env_overrides(cc__cfgctx_t *x) {
    const char *host = getenv("HOST"), *port = getenv("PORT");
    if (host && *host) {
        char *h = strdup(host);
        if (h) {
            free(x->cfg->host);
            x->cfg->host = h;
        }
    }
    if (port && *port) {
        char *end;
        errno = 0;
        long v = strtol(port, &end, 10);
        if (errno || *end || !isdigit((unsigned char)port[0]) || v < 1 || v > 65535)
            error_plain(x,
                        "environment: PORT=\"%.40s\" is not a port number; set PORT to a "
                        "number from 1 to 65535 or unset it",
                        port);
        else
            x->cfg->port = (int)v;
    }
}

/* ---- checks across both files --------------------------------------------------------------- */

static bool is_model_router(const char *m) {
    return strcmp(m, "model_router") == 0 || strcmp(m, "ccproxy.hooks.model_router") == 0;
}

static void check_routes(cc__cfgctx_t *x) {
    cc_config_t *cfg = x->cfg;
    bool have_default = cc_config_find_model(cfg, "default") >= 0;
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const cc_rule_cfg_t *r = &cfg->rules[i];
        if (strcmp(r->name, "default") == 0) {
            if (!have_default && !cfg->default_model_passthrough)
                error_pos(x, r->pos,
                          "rule 'default' routes nowhere: config.yaml has no model_name 'default' "
                          "and default_model_passthrough is false; add a 'default' entry or set "
                          "default_model_passthrough: true");
            continue;
        }
        if (!have_default && cc_config_find_model(cfg, r->name) < 0)
            error_pos(x, r->pos,
                      "rule '%s' routes nowhere: config.yaml has no model_name '%s' and no "
                      "'default'; add one of them",
                      r->name, r->name);
    }
    if (have_default || cfg->default_model_passthrough) return;
    for (size_t i = 0; i < cfg->n_hooks; i++) {
        if (!is_model_router(cfg->hooks[i].module)) continue;
        error_pos(x, cfg->hooks[i].pos,
                  "hook %s needs a 'default' entry in config.yaml when "
                  "default_model_passthrough is false; add a model_name 'default' or set "
                  "default_model_passthrough: true",
                  cfg->hooks[i].module);
        break;
    }
}

/* ---- loading -------------------------------------------------------------------------------- */

/* The one place the defaults of the limits are written (docs/configuration.md lists them). */
void cc_config_default_limits(cc_limits_t *l) {
    memset(l, 0, sizeof *l);
    l->max_body_bytes = 32u << 20;
    l->max_header_bytes = 64u << 10;
    l->header_timeout_ms = 30000;
    l->idle_timeout_ms = 120000;
    l->connect_timeout_ms = 10000;
    l->first_byte_timeout_ms = 600000;
    l->upstream_idle_timeout_ms = 300000;
    l->pool_max_idle = 16;
    l->pool_idle_ttl_ms = 60000;
    l->shutdown_grace_ms = 30000;
    l->script_budget_ms = 200;
    l->oat_timeout_ms = 5000;
    l->script_memory_bytes = 256u << 20;
    l->script_trusted = false;
}

static void set_defaults(cc_config_t *cfg) {
    cfg->default_model_passthrough = true;
    cfg->metrics_enabled = true;
    cfg->port = 4000;
    cfg->num_workers = 1;
    cc_config_default_limits(&cfg->limits);
    cc__cfg_router_defaults(&cfg->router);
    cfg->usage_store = true;
    cfg->usage_retention_days = 90;
}

static char *absolute(const char *dir) {
    if (dir[0] == '/') return strdup(dir);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    if (strcmp(dir, ".") == 0) return strdup(cwd);
    return cc_path_join(cwd, dir[0] == '.' && dir[1] == '/' ? dir + 2 : dir);
}

static cc_config_t *config_new(const char *dir) {
    cc_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return NULL;
    set_defaults(cfg);
    cfg->host = strdup("127.0.0.1");
    cfg->dir = absolute(dir);
    cfg->ccproxy_yaml_path = cc_path_join(dir, "ccproxy.yaml");
    cfg->config_yaml_path = cc_path_join(dir, "config.yaml");
    cfg->files = calloc(2, sizeof *cfg->files);
    cfg->usage_db = cfg->dir ? cc_path_join(cfg->dir, "usage.db") : NULL;
    if (!cfg->host || !cfg->dir || !cfg->ccproxy_yaml_path || !cfg->config_yaml_path ||
        !cfg->files || !cfg->usage_db)
        goto fail;
    cfg->files[0] = strdup(cfg->ccproxy_yaml_path);
    cfg->files[1] = strdup(cfg->config_yaml_path);
    cfg->n_files = 2;
    if (!cfg->files[0] || !cfg->files[1]) goto fail;
    return cfg;
fail:
    cc_config_free(cfg);
    return NULL;
}

/* Parses and validates both texts (NULL = missing file). Consumes `cfg`: returns it, or frees
 * it and returns NULL when anything was wrong. */
static cc_config_t *load_texts(cc__cfgctx_t *x, const char *t1, size_t l1, const char *t2,
                               size_t l2) {
    cc_config_t *cfg = x->cfg;
    cc_yaml_node_t *r1 = NULL, *r2 = NULL;
    bool models_ok = false;

    x->file = cfg->files[0];
    if (!t1) {
        cc__cfg_warn(x, NULL,
                     "not found; using the defaults (run `ccproxy install` to create "
                     "it)");
    } else if (cc_yaml_parse(t1, l1, x->file, &r1, x->errors) != 0) {
        x->n_errors++;
    } else {
        read_ccproxy_yaml(x, r1);
    }

    x->file = cfg->files[1];
    if (!t2) {
        cc__cfg_error(x, NULL,
                      "not found; run `ccproxy install` to create it (or point "
                      "--config-dir / CCPROXY_CONFIG_DIR at the directory that has it)");
    } else if (cc_yaml_parse(t2, l2, x->file, &r2, x->errors) != 0) {
        x->n_errors++;
    } else {
        int before = x->n_errors;
        cc__cfg_load_models(x, r2);
        models_ok = x->n_errors == before;
        cc__cfg_load_router(x, r2, models_ok);
    }
    read_env_overrides(x);
    cc__cfg_otel_env(x);
    if (models_ok) check_routes(x);

    cc_yaml_free(r1);
    cc_yaml_free(r2);
    if (x->n_errors == 0) return cfg;
    cc_config_free(cfg);
    return NULL;
}

cc_config_t *cc_config_load_mem(const char *dir, const char *ccproxy_yaml, size_t ccproxy_len,
                                const char *config_yaml, size_t config_len, cc_buf_t *errors,
                                cc_buf_t *warnings) {
    cc_config_t *cfg = config_new(dir);
    if (!cfg) {
        if (errors) cc_buf_puts(errors, "out of memory loading the configuration\n");
        return NULL;
    }
    cc__cfgctx_t x = {.cfg = cfg, .errors = errors, .warnings = warnings};
    return load_texts(&x, ccproxy_yaml, ccproxy_len, config_yaml, config_len);
}

/* Reads a whole file. Returns 0 with *out set (malloc'd), 1 when it does not exist, or -1
 * after an error message. */
static int read_file(cc__cfgctx_t *x, const char *path, char **out, size_t *len) {
    struct stat st;
    *out = NULL;
    *len = 0;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return 1;
        error_plain(x, "%s: cannot read it: %s; check its permissions", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        error_plain(x, "%s: not a regular file; replace it with the YAML file", path);
        return -1;
    }
    if (st.st_size > (off_t)CC_CONFIG_MAX_FILE) {
        error_plain(x, "%s: larger than %u MiB, which no config file needs; check the file", path,
                    CC_CONFIG_MAX_FILE >> 20);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        error_plain(x, "%s: cannot read it: %s; check its permissions", path, strerror(errno));
        return -1;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        error_plain(x, "%s: cannot read it; check the file and free memory", path);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

cc_config_t *cc_config_load(const char *dir, cc_buf_t *errors, cc_buf_t *warnings) {
    cc_config_t *cfg = config_new(dir ? dir : ".");
    if (!cfg) {
        if (errors) cc_buf_puts(errors, "out of memory loading the configuration\n");
        return NULL;
    }
    cc__cfgctx_t x = {.cfg = cfg, .errors = errors, .warnings = warnings};
    char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;
    int r1 = read_file(&x, cfg->ccproxy_yaml_path, &t1, &l1);
    int r2 = read_file(&x, cfg->config_yaml_path, &t2, &l2);
    if (r1 < 0 || r2 < 0) {
        free(t1);
        free(t2);
        cc_config_free(cfg);
        return NULL;
    }
    cfg = load_texts(&x, t1, l1, t2, l2);
    free(t1);
    free(t2);
    return cfg;
}

cc_srcpos_t cc_config_param_pos(const cc_param_pos_t *pos, size_t n, const char *key,
                                cc_srcpos_t fallback) {
    for (size_t i = 0; key && i < n; i++)
        if (strcmp(pos[i].key, key) == 0) return pos[i].pos;
    return fallback;
}

static void free_params_pos(cc_param_pos_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(p[i].key);
    free(p);
}

void cc_config_free(cc_config_t *cfg) {
    if (!cfg) return;
    free(cfg->dir);
    free(cfg->ccproxy_yaml_path);
    free(cfg->config_yaml_path);
    for (size_t i = 0; i < cfg->n_files; i++)
        free(cfg->files[i]);
    free(cfg->files);
    for (size_t i = 0; i < cfg->n_hooks; i++) {
        free(cfg->hooks[i].module);
        cJSON_Delete(cfg->hooks[i].params);
        free_params_pos(cfg->hooks[i].param_pos, cfg->hooks[i].n_param_pos);
    }
    free(cfg->hooks);
    for (size_t i = 0; i < cfg->n_rules; i++) {
        free(cfg->rules[i].name);
        free(cfg->rules[i].module);
        cJSON_Delete(cfg->rules[i].params);
        free_params_pos(cfg->rules[i].param_pos, cfg->rules[i].n_param_pos);
    }
    free(cfg->rules);
    for (size_t i = 0; i < cfg->n_oat_sources; i++) {
        free(cfg->oat_sources[i].provider);
        free(cfg->oat_sources[i].command);
        free(cfg->oat_sources[i].user_agent);
    }
    free(cfg->oat_sources);
    free(cfg->host);
    free(cfg->usage_db);
    for (size_t i = 0; i < cfg->n_models; i++)
        cc__cfg_free_model(&cfg->models[i]);
    free(cfg->models);
    cc__cfg_free_router(&cfg->router);
    cc__cfg_free_otel(&cfg->otel);
    free(cfg);
}

/* ---- the config dir -------------------------------------------------------------------------- */

static const char *home_dir(void) {
    const char *h = getenv("HOME");
    if (h && *h) return h;
    struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
}

char *cc_config_dir_resolve(const char *cli_dir) {
    const char *env = getenv("CCPROXY_CONFIG_DIR");
    char *dir = NULL;
    const char *home;
    if (cli_dir && *cli_dir) {
        if ((cli_dir[0] == '~' && (cli_dir[1] == '/' || !cli_dir[1])) && (home = home_dir()))
            dir = cc_path_join(home, cli_dir[1] ? cli_dir + 2 : "");
        else
            dir = absolute(cli_dir);
    } else if (env && *env) {
        dir = absolute(env);
    } else if ((home = home_dir())) {
        char *h = absolute(home);
        dir = h ? cc_path_join(h, ".ccproxy") : NULL;
        free(h);
    }
    if (!dir) return NULL;
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        dir[--n] = '\0';
    return dir;
}
