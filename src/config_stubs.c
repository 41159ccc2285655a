/* config_stubs.c: configuration functions not written yet. */
#include <stdlib.h>
#include <string.h>

#include "config.h"

char *cc_config_dir_resolve(const char *cli_dir) {
    const char *env = getenv("CCPROXY_CONFIG_DIR");
    if (cli_dir) return strdup(cli_dir);
    if (env) return strdup(env);
    return strdup("/root/.ccproxy");
}

void cc_config_free(cc_config_t *cfg) {
    (void)cfg;
}
