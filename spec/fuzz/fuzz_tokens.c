/* fuzz_tokens.c: the token estimate on arbitrary bytes. The estimate never exceeds the O(1)
 * upper bound, and it is -1 exactly when the bytes are not a valid JSON object (the same
 * judgement as cc_json_validate). */
#include <stdint.h>
#include <stdlib.h>

#include "json/json_body.h"
#include "tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body = (const char *)data;
    long n = cc_tokens_estimate(body, size);
    long bound = cc_tokens_upper_bound(body, size);
    size_t i = 0;
    bool object;

    if (n > bound) abort();
    while (i < size && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r'))
        i++;
    object = i < size && body[i] == '{' && cc_json_validate(body, size, NULL) == 0;
    if (object != (n >= 0)) abort();
    if (n < -1) abort();
    return 0;
}
