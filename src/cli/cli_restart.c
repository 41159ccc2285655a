/* cli_restart.c: `ccproxy restart [--detach]`: stops the running proxy (if any) and starts it
 * again with the same options as `start`. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "paths.h"

static const char usage[] =
    "usage: ccproxy [--config-dir DIR] restart [--detach]\n"
    "\n"
    "Stops the proxy if it runs, then starts it (see `ccproxy start --help`).\n"
    "\n"
    "options:\n"
    "  -d, --detach  start in the background (output to <config dir>/ccproxy.log)\n"
    "  -h, --help    show this help\n";
static const cc__cli_cmd_t cmd = {"restart", usage};

int cc_cmd_restart(const char *config_dir, int argc, char **argv) {
    bool detach = false;
    int rc = cc__cli_start_parse(&cmd, argc, argv, &detach);
    if (rc == -3) return 0;
    if (rc) return rc;
    bool was_running = false;
    rc = cc__cli_stop(config_dir, &was_running);
    if (rc != 0 && was_running) {
        fprintf(stderr, "ccproxy restart: the running proxy did not stop; not starting another\n");
        return rc;
    }
    fflush(stdout);
    return cc__cli_start(config_dir, detach);
}
