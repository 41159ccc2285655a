/* server.c: placeholder until the listener lands. */
#include "server.h"

#include <unistd.h>

#include "log.h"

int cc_server_run(cc_config_t *cfg, int ready_fd) {
    cc_error("the server is not built yet");
    if (ready_fd >= 0) {
        (void)!write(ready_fd, "server not built", 16);
        close(ready_fd);
    }
    cc_config_free(cfg);
    return 1;
}
