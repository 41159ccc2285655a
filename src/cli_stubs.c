/* cli_stubs.c: subcommands not written yet; each answers that it is missing. */
#include <stdio.h>

#include "cli.h"

#define CC_STUB(fn, name)                                                                  \
    int fn(const char *config_dir, int argc, char **argv) {                                \
        (void)config_dir; (void)argc; (void)argv;                                          \
        fprintf(stderr, "ccproxy " name ": not available yet\n");                          \
        return 1;                                                                          \
    }
CC_STUB(cc_cmd_install, "install")
CC_STUB(cc_cmd_start, "start")
CC_STUB(cc_cmd_stop, "stop")
CC_STUB(cc_cmd_restart, "restart")
CC_STUB(cc_cmd_status, "status")
CC_STUB(cc_cmd_logs, "logs")
CC_STUB(cc_cmd_run, "run")
