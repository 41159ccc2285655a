/* cli_reload.c: `ccproxy reload`: asks the running proxy to re-read ccproxy.yaml, config.yaml
 * and every script (SIGHUP), waits for the outcome on /health and reports it: the new
 * generation, or every error (the previous generation keeps serving). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "paths.h"

#define WAIT_MS 10000
#define POLL_MS 50

static const char usage[] =
    "usage: ccproxy [--config-dir DIR] reload\n"
    "\n"
    "Re-reads ccproxy.yaml, config.yaml and every rule and hook script of the running proxy\n"
    "without stopping it (the same as sending it SIGHUP). Requests in flight finish on the\n"
    "configuration they started with. If the new configuration has an error, the proxy keeps\n"
    "serving the previous one and this command prints the error and exits 1.\n"
    "\n"
    "options:\n"
    "  -h, --help  show this help\n";
static const cc__cli_cmd_t cmd = {"reload", usage};

/* The /health object, or NULL. */
static cJSON *health(const char *host, int port) {
    cc_buf_t body = CC_BUF_INIT;
    cJSON *j = NULL;
    if (cc__http_get(host, port, "/health", 1000, &body) == 200 && body.data)
        j = cJSON_Parse(body.data);
    cc_buf_free(&body);
    return j;
}

static double reload_count(const cJSON *h) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(h, "last_reload");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(r, "count");
    return cJSON_IsNumber(c) ? c->valuedouble : 0;
}

int cc_cmd_reload(const char *config_dir, int argc, char **argv) {
    static const struct option longopts[] = {{0, 0, 0, 0}};
    int oi = 0, c;
    while ((c = cc__cli_next_opt(&cmd, argc, argv, "", longopts, &oi)) != -1) {
        if (c == -3) return 0;
        return 2;
    }
    if (cc__cli_no_args(&cmd, argc, argv, oi)) return 2;

    int rc = 1;
    pid_t pid = 0;
    cJSON *before = NULL, *after = NULL;
    char *pidfile = cc_paths_pidfile(config_dir);
    cc_config_t *cfg = NULL;
    if (!pidfile) goto done;
    if (cc__pidfile_check(pidfile, &pid) != CC_PID_RUNNING) {
        fprintf(stderr, "ccproxy reload: ccproxy is not running for %s; start it with `ccproxy "
                        "start --detach`\n", config_dir);
        goto done;
    }
    /* Where to ask: the address the proxy listens on now (the files may already say another). */
    cc_buf_t errors = CC_BUF_INIT;
    cfg = cc__cli_load_config(config_dir, true, &errors);
    if (!cfg) {
        /* The proxy would refuse it too; say why without waiting for it. */
        kill(pid, SIGHUP);
        fprintf(stderr, "%s\nccproxy reload: the configuration above has errors; the running "
                        "proxy keeps serving its current one\n",
                errors.data ? errors.data : "");
        cc_buf_free(&errors);
        goto done;
    }
    cc_buf_free(&errors);
    const char *host = cc__client_host(cfg->host);
    int port = cfg->port;
    before = health(host, port);
    if (kill(pid, SIGHUP) != 0) {
        fprintf(stderr, "ccproxy reload: cannot signal pid %d: %s\n", (int)pid, strerror(errno));
        goto done;
    }
    if (!before) {
        printf("sent SIGHUP to ccproxy (pid %d); it did not answer on %s:%d, so see `ccproxy "
               "logs` for the outcome\n", (int)pid, host, port);
        rc = 0;
        goto done;
    }
    double count = reload_count(before);
    for (int waited = 0; waited < WAIT_MS; waited += POLL_MS) {
        struct timespec ts = {0, POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
        cJSON_Delete(after);
        after = health(host, port);
        if (after && reload_count(after) > count) break;
    }
    if (!after || reload_count(after) <= count) {
        fprintf(stderr, "ccproxy reload: no answer from the proxy within %d s; see `ccproxy "
                        "logs`\n", WAIT_MS / 1000);
        goto done;
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(after, "last_reload");
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(after, "generation");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"))) {
        printf("reloaded: generation %d\n", cJSON_IsNumber(gen) ? gen->valueint : 0);
        const cJSON *restart = cJSON_GetObjectItemCaseSensitive(r, "restart_needed");
        if (cJSON_IsString(restart))
            printf("not applied until `ccproxy restart`: %s\n", restart->valuestring);
        rc = 0;
    } else {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
        fprintf(stderr, "%s\nccproxy reload: the configuration above has errors; generation %d "
                        "keeps serving\n",
                cJSON_IsString(e) ? e->valuestring : "(no details)",
                cJSON_IsNumber(gen) ? gen->valueint : 0);
    }
done:
    cJSON_Delete(before);
    cJSON_Delete(after);
    cc_config_free(cfg);
    free(pidfile);
    return rc;
}
