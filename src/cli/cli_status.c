/* cli_status.c: `ccproxy status [--json]`: whether the proxy of the config dir runs (pid file
 * and /health), and what its configuration holds (files, hooks, rules, models, log). Reads
 * only; a stale pid file is reported, not removed. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "paths.h"

#define HEALTH_TIMEOUT_MS 1000

static const char usage[] = "usage: ccproxy [--config-dir DIR] status [--json]\n"
                            "\n"
                            "Shows whether the proxy runs and what its configuration holds.\n"
                            "\n"
                            "options:\n"
                            "  --json      print a JSON object instead of the text report\n"
                            "  -h, --help  show this help\n";
static const cc__cli_cmd_t cmd = {"status", usage};

/* The shared-state line: "shared    redis 127.0.0.1:6379: connected" (nothing without Redis). */
static void print_shared_state(const cJSON *st) {
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(st, "state");
    const cJSON *addr = cJSON_GetObjectItemCaseSensitive(st, "address");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(st, "error");
    if (!cJSON_IsString(state) || !cJSON_IsString(addr)) return;
    printf("shared    redis %s: %s", addr->valuestring, state->valuestring);
    if (cJSON_IsString(error) && *error->valuestring) printf(" (%s)", error->valuestring);
    if (strcmp(state->valuestring, "connected") != 0)
        printf("; routing on this instance's own state");
    putchar('\n');
}

static const char *const config_files[] = {"ccproxy.yaml", "config.yaml"};

/* Adds `s` as a string, or null when s is NULL. */
static void add_str_or_null(cJSON *obj, const char *key, const char *s) {
    if (s)
        cJSON_AddStringToObject(obj, key, s);
    else
        cJSON_AddNullToObject(obj, key);
}

/* Builds the status object (key order as documented). */
static cJSON *gather(const char *config_dir, const cc_config_t *cfg, bool running, pid_t pid,
                     cJSON *health) {
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        cJSON_Delete(health);
        return NULL;
    }
    cJSON_AddBoolToObject(o, "proxy", running);
    cJSON_AddBoolToObject(o, "running", running);
    if (running)
        cJSON_AddNumberToObject(o, "pid", (double)pid);
    else
        cJSON_AddNullToObject(o, "pid");
    char *url = cfg ? cc__url_for(cfg->host, cfg->port) : NULL;
    add_str_or_null(o, "url", url);
    free(url);

    cJSON *files = cJSON_AddObjectToObject(o, "config");
    for (size_t i = 0; i < sizeof config_files / sizeof config_files[0]; i++) {
        char *p = cc_path_join(config_dir, config_files[i]);
        if (p && cc_path_is_file(p)) cJSON_AddStringToObject(files, config_files[i], p);
        free(p);
    }
    cJSON_AddArrayToObject(o, "callbacks");

    cJSON *hooks = cJSON_AddArrayToObject(o, "hooks");
    cJSON *rules = cJSON_AddArrayToObject(o, "rules");
    cJSON *models = cJSON_AddArrayToObject(o, "models");
    cJSON *list = cJSON_AddArrayToObject(o, "model_list");
    for (size_t i = 0; cfg && i < cfg->n_hooks; i++)
        cJSON_AddItemToArray(hooks, cJSON_CreateString(cfg->hooks[i].module));
    for (size_t i = 0; cfg && i < cfg->n_rules; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "name", cfg->rules[i].name);
        cJSON_AddStringToObject(r, "rule", cfg->rules[i].module);
        cJSON_AddItemToArray(rules, r);
    }
    for (size_t i = 0; cfg && i < cfg->n_models; i++) {
        const cc_model_t *m = &cfg->models[i];
        cJSON_AddItemToArray(models, cJSON_CreateString(m->model_name));
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "model_name", m->model_name);
        cJSON *lp = cJSON_AddObjectToObject(e, "litellm_params");
        add_str_or_null(lp, "model", m->model);
        add_str_or_null(lp, "api_base", m->alias_of < 0 ? m->api_base : NULL);
        cJSON_AddItemToArray(list, e);
    }

    char *log = cc_paths_logfile(config_dir);
    add_str_or_null(o, "log", log && cc_path_is_file(log) ? log : NULL);
    free(log);
    if (health)
        cJSON_AddItemToObject(o, "health", health);
    else
        cJSON_AddNullToObject(o, "health");
    return o;
}

/* "https://api.anthropic.com/v1" -> "api.anthropic.com" (the authority part). */
static void print_host_of(const char *url) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    printf("%.*s", (int)n, p);
}

static void print_report(const char *config_dir, const cc_config_t *cfg, const char *errors,
                         const char *stale_pidfile, const cJSON *o) {
    const cJSON *health = cJSON_GetObjectItemCaseSensitive(o, "health");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(o, "url");
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(o, "pid");
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(o, "log");
    bool running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "running"));

    if (running)
        printf("running   yes (pid %d)\n", (int)pid->valuedouble);
    else if (stale_pidfile)
        printf("running   no (stale pid file %s)\n", stale_pidfile);
    else
        printf("running   no\n");
    if (running) {
        const cJSON *st =
            cJSON_IsObject(health) ? cJSON_GetObjectItemCaseSensitive(health, "status") : NULL;
        if (cJSON_IsString(st))
            printf("health    %s\n", st->valuestring);
        else if (cJSON_IsObject(health))
            printf("health    answered\n");
        else
            printf("health    no answer from /health\n");
        const cJSON *gen = cJSON_GetObjectItemCaseSensitive(health, "generation");
        const cJSON *rl = cJSON_GetObjectItemCaseSensitive(health, "last_reload");
        if (cJSON_IsNumber(gen)) printf("config    generation %d\n", gen->valueint);
        if (cJSON_IsObject(rl)) {
            const cJSON *at = cJSON_GetObjectItemCaseSensitive(rl, "at");
            const cJSON *err = cJSON_GetObjectItemCaseSensitive(rl, "error");
            const cJSON *restart = cJSON_GetObjectItemCaseSensitive(rl, "restart_needed");
            bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rl, "ok"));
            printf("reload    %s at %s\n", ok ? "succeeded" : "FAILED",
                   cJSON_IsString(at) ? at->valuestring : "?");
            if (cJSON_IsString(err)) printf("%s\n", err->valuestring);
            if (cJSON_IsString(restart))
                printf("          restart to apply: %s\n", restart->valuestring);
        }
        const cJSON *cd, *cds = cJSON_GetObjectItemCaseSensitive(health, "cooldowns");
        cJSON_ArrayForEach(cd, cds) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(cd, "model_name");
            const cJSON *model = cJSON_GetObjectItemCaseSensitive(cd, "model");
            const cJSON *left = cJSON_GetObjectItemCaseSensitive(cd, "seconds_left");
            const cJSON *why = cJSON_GetObjectItemCaseSensitive(cd, "status");
            char reason[32];
            if (cJSON_IsNumber(why))
                snprintf(reason, sizeof reason, "answered %d", why->valueint);
            else
                snprintf(reason, sizeof reason, "did not answer");
            printf("cooldown  %s (%s): %s, %.1f s left\n",
                   cJSON_IsString(name) ? name->valuestring : "?",
                   cJSON_IsString(model) ? model->valuestring : "?", reason,
                   cJSON_IsNumber(left) ? left->valuedouble : 0);
        }
        print_shared_state(cJSON_GetObjectItemCaseSensitive(health, "shared_state"));
    }
    printf("url       %s\n", cJSON_IsString(url) ? url->valuestring : "(config does not load)");
    printf("config    %s\n", config_dir);
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(o, "config");
    const cJSON *f;
    int nf = 0;
    cJSON_ArrayForEach(f, files) {
        printf("          %s\n", f->valuestring);
        nf++;
    }
    if (!nf) printf("          (no config files; run `ccproxy install`)\n");
    printf("log       %s\n", cJSON_IsString(log) ? log->valuestring : "(none)");

    if (!cfg) {
        printf("\nThe configuration does not load:\n%s", errors ? errors : "");
        if (errors && *errors && errors[strlen(errors) - 1] != '\n') putchar('\n');
        return;
    }
    printf("\nhooks\n");
    if (!cfg->n_hooks) printf("  (none)\n");
    for (size_t i = 0; i < cfg->n_hooks; i++)
        printf("  %zu. %s\n", i + 1, cfg->hooks[i].module);

    printf("\nrules (first match names the label)\n");
    if (!cfg->n_rules) printf("  (none: every request is labelled default)\n");
    int w = 4;
    for (size_t i = 0; i < cfg->n_rules; i++)
        if ((int)strlen(cfg->rules[i].name) > w) w = (int)strlen(cfg->rules[i].name);
    for (size_t i = 0; i < cfg->n_rules; i++)
        printf("  %-*s  %s\n", w, cfg->rules[i].name, cfg->rules[i].module);

    printf("\nmodels\n");
    if (!cfg->n_models) printf("  (none)\n");
    int wn = 4, wm = 4;
    for (size_t i = 0; i < cfg->n_models; i++) {
        const cc_model_t *m = &cfg->models[i];
        if ((int)strlen(m->model_name) > wn) wn = (int)strlen(m->model_name);
        if (m->model && (int)strlen(m->model) > wm) wm = (int)strlen(m->model);
    }
    for (size_t i = 0; i < cfg->n_models; i++) {
        const cc_model_t *m = &cfg->models[i];
        printf("  %-*s  %-*s  ", wn, m->model_name, wm, m->model ? m->model : "");
        if (m->alias_of >= 0 && (size_t)m->alias_of < cfg->n_models) {
            /* An alias: show where it ends up. */
            cc_route_t r;
            if (cc_config_resolve(cfg, m->model_name, &r) == 0 && r.deployment >= 0) {
                const cc_model_t *d = &cfg->models[r.deployment];
                printf("-> %s", d->model_name);
                if (d->api_base) {
                    printf(" (");
                    print_host_of(d->api_base);
                    printf(")");
                }
            } else {
                printf("-> %s", cfg->models[m->alias_of].model_name);
            }
        } else if (m->api_base) {
            print_host_of(m->api_base);
        } else {
            printf("(provider default)");
        }
        putchar('\n');
    }
}

int cc_cmd_status(const char *config_dir, int argc, char **argv) {
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'}, {0, 0, 0, 0}};
    bool json = false;
    int oi = 0, c;
    while ((c = cc__cli_next_opt(&cmd, argc, argv, "", longopts, &oi)) != -1) {
        if (c == -3) return 0;
        if (c < 0) return 2;
        if (c == 'j') json = true;
    }
    if (cc__cli_no_args(&cmd, argc, argv, oi)) return 2;

    int rc = 1;
    cc_buf_t errors = CC_BUF_INIT, body = CC_BUF_INIT;
    cJSON *o = NULL, *health = NULL;
    cc_config_t *cfg = NULL;
    char *out = NULL;
    pid_t pid = 0;
    char *pidfile = cc_paths_pidfile(config_dir);
    if (!pidfile) goto fail;
    cc__pid_state_t st = cc__pidfile_check(pidfile, &pid);
    bool running = st == CC_PID_RUNNING;
    cfg = cc__cli_load_config(config_dir, true, &errors);
    if (running && cfg) {
        int code = cc__http_get(cc__client_host(cfg->host), cfg->port, "/health", HEALTH_TIMEOUT_MS,
                                &body);
        if (code >= 200 && code < 300) {
            health = cJSON_ParseWithLength(body.data, body.len);
            if (health && !cJSON_IsObject(health)) {
                cJSON_Delete(health);
                health = NULL;
            }
        }
    }
    o = gather(config_dir, cfg, running, pid, health);
    health = NULL; /* now owned by o */
    if (!o) goto fail;
    if (json) {
        out = cJSON_Print(o);
        if (!out) goto fail;
        printf("%s\n", out);
    } else {
        print_report(config_dir, cfg, errors.data,
                     st == CC_PID_STALE || st == CC_PID_INVALID ? pidfile : NULL, o);
    }
    rc = 0;
fail:
    if (cfg) cc_config_free(cfg);
    free(out);
    cJSON_Delete(o);
    cc_buf_free(&errors);
    cc_buf_free(&body);
    free(pidfile);
    return rc;
}
