/* credentials.c: the upstream fields and credentials of a routed request (see credentials.h). */
#include "credentials.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

bool cc_credentials_field(const char *name) {
    return strcasecmp(name, "authorization") == 0 || strcasecmp(name, "x-api-key") == 0 ||
           strcasecmp(name, "api-key") == 0 || strcasecmp(name, "x-goog-api-key") == 0;
}

/* Fields that mean something only to Anthropic's API, or are its SDK's telemetry. */
static bool anthropic_only(const char *name) {
    return strncasecmp(name, "anthropic-", 10) == 0 || strncasecmp(name, "x-stainless-", 12) == 0 ||
           strcasecmp(name, "x-api-key") == 0;
}

/* A credential field a hook set (not one it removed). */
static bool hook_set(const cc_credentials_in_t *in, const char *name) {
    const char *how = in->written ? cc_headers_get(in->written, name) : NULL;
    return how && strcmp(how, "set") == 0;
}

/* A hook set a credential that goes to this provider (x-api-key never goes to another). */
static bool hook_set_any(const cc_credentials_in_t *in) {
    for (size_t i = 0; in->written && i < in->written->n; i++) {
        const cc_header_t *f = &in->written->items[i];
        if (cc_credentials_field(f->name) && strcmp(f->value, "set") == 0 &&
            !(in->adapter && anthropic_only(f->name)))
            return true;
    }
    return false;
}

void cc_credentials_headers(const cc_credentials_in_t *in, cc_headers_t *out) {
    const cc_model_t *d = in->deployment;
    bool key = d && d->api_key && *d->api_key;
    bool hooks_chose = hook_set_any(in);
    for (size_t i = 0; i < in->request->n; i++) {
        const cc_header_t *f = &in->request->items[i];
        if (in->adapter && anthropic_only(f->name)) continue;
        /* A credential no hook set is the client's: replaced by the deployment's key, and
         * never sent to another provider. */
        if (cc_credentials_field(f->name) && !hook_set(in, f->name) && (key || in->adapter))
            continue;
        cc_headers_add(out, f->name, strlen(f->name), f->value, strlen(f->value));
    }
    /* The deployment's extra headers, over the client's values but not over a hook's. */
    for (size_t i = 0; d && i < d->n_headers; i++)
        if (!hook_set(in, d->headers[i].name))
            cc_headers_set(out, d->headers[i].name, d->headers[i].value);
    if (!in->adapter) {
        if (key && !hooks_chose) cc_headers_set(out, "x-api-key", d->api_key);
        return;
    }
    for (size_t i = 0; i < in->adapter->n; i++) {
        const cc_header_t *f = &in->adapter->items[i];
        if (hooks_chose && cc_credentials_field(f->name)) continue;
        cc_headers_set(out, f->name, f->value);
    }
}

/* How `value` carries `token`: 1 bare, 2 as "Bearer <token>" (any case), 0 not. */
static int carries(const char *value, const char *token) {
    if (strcmp(value, token) == 0) return 1;
    if (strncasecmp(value, "bearer ", 7) == 0 && strcmp(value + 7, token) == 0) return 2;
    return 0;
}

int cc_credentials_swap_token(cc_headers_t *h, const char *old_token, const char *new_token) {
    int n = 0;
    for (size_t i = 0; i < h->n; i++) {
        cc_header_t *f = &h->items[i];
        int how = cc_credentials_field(f->name) ? carries(f->value, old_token) : 0;
        if (!how) continue;
        cc_buf_t v = CC_BUF_INIT;
        if (how == 2) cc_buf_append(&v, f->value, 7);
        cc_buf_puts(&v, new_token);
        char *nv = cc_buf_steal(&v, NULL);
        if (!nv) continue;
        free(f->value);
        f->value = nv;
        n++;
    }
    return n;
}
