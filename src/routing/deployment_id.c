/* deployment_id.c: deployments' shared ids (see deployment_id.h). */
#include "routing/deployment_id.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* model_info.id, when it is one an id can be. */
static const char *given_id(const cc_model_t *m) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m->model_info, "id");
    if (!cJSON_IsString(id)) return NULL;
    size_t n = strlen(id->valuestring);
    if (n == 0 || n > 200) return NULL;
    for (const char *p = id->valuestring; *p; p++)
        if (*p <= ' ' || *p == 0x7f) return NULL;
    return id->valuestring;
}

static void sha256_hex(const void *data, size_t len, char *hex, size_t digits) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (size_t i = 0; i < digits / 2 && i < n; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* What identifies an entry: its names, its base and (hashed) its key. */
static void identity(const cc_model_t *m, cc_buf_t *out) {
    char key[65] = "";
    if (m->api_key) sha256_hex(m->api_key, strlen(m->api_key), key, 64);
    const char *parts[] = {m->model_name, m->model ? m->model : "", m->api_base ? m->api_base : "",
                           key};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        cc_buf_append(out, parts[i], strlen(parts[i]) + 1); /* with its NUL: a separator */
}

static bool same_identity(const cc_model_t *a, const cc_model_t *b) {
    cc_buf_t x = CC_BUF_INIT, y = CC_BUF_INIT;
    identity(a, &x);
    identity(b, &y);
    bool same = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    cc_buf_free(&x);
    cc_buf_free(&y);
    return same;
}

char *cc_deployment_id(const cc_config_t *cfg, size_t i) {
    const cc_model_t *m = &cfg->models[i];
    const char *given = given_id(m);
    if (given) return strdup(given);
    unsigned before = 0;
    for (size_t j = 0; j < i; j++)
        if (!given_id(&cfg->models[j]) && same_identity(&cfg->models[j], m)) before++;
    cc_buf_t b = CC_BUF_INIT;
    identity(m, &b);
    cc_buf_printf(&b, "#%u", before);
    char hex[17] = "";
    sha256_hex(b.data, b.len, hex, 16);
    cc_buf_free(&b);
    return strdup(hex);
}
