/* fuzz_url.c: api_base parsing and target building on arbitrary strings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    cc_url_t u;
    char err[256], t[2048];
    if (cc_url_parse(s, &u, err, sizeof err) == 0) {
        if (u.port < 1 || u.port > 65535 || !u.host[0]) abort();
        cc_url_target(&u, "/v1/messages", "beta=true", t, sizeof t);
    }
    free(s);
    return 0;
}
