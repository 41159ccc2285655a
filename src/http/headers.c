/* headers.c: ordered, case-insensitive header lists (see headers.h). */
#include "http/headers.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cc_headers_add(cc_headers_t *h, const char *name, size_t nlen, const char *value,
                   size_t vlen) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        cc_header_t *p = realloc(h->items, cap * sizeof *p);
        if (!p) return -ENOMEM;
        h->items = p;
        h->cap = cap;
    }
    char *n = strndup(name, nlen);
    char *v = strndup(value, vlen);
    if (!n || !v) {
        free(n);
        free(v);
        return -ENOMEM;
    }
    h->items[h->n].name = n;
    h->items[h->n].value = v;
    h->n++;
    return 0;
}

const char *cc_headers_get(const cc_headers_t *h, const char *name) {
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->items[i].name, name) == 0) return h->items[i].value;
    return NULL;
}

int cc_headers_set(cc_headers_t *h, const char *name, const char *value) {
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->items[i].name, name) != 0) continue;
        char *v = strdup(value);
        if (!v) return -ENOMEM;
        free(h->items[i].value);
        h->items[i].value = v;
        /* Drop later duplicates so the field has exactly one value. */
        size_t w = i + 1;
        for (size_t r = i + 1; r < h->n; r++) {
            if (strcasecmp(h->items[r].name, name) == 0) {
                free(h->items[r].name);
                free(h->items[r].value);
            } else {
                h->items[w++] = h->items[r];
            }
        }
        h->n = w;
        return 0;
    }
    return cc_headers_add(h, name, strlen(name), value, strlen(value));
}

size_t cc_headers_remove(cc_headers_t *h, const char *name) {
    size_t w = 0, removed = 0;
    for (size_t r = 0; r < h->n; r++) {
        if (strcasecmp(h->items[r].name, name) == 0) {
            free(h->items[r].name);
            free(h->items[r].value);
            removed++;
        } else {
            h->items[w++] = h->items[r];
        }
    }
    h->n = w;
    return removed;
}

int cc_headers_copy(cc_headers_t *dst, const cc_headers_t *src) {
    for (size_t i = 0; i < src->n; i++) {
        const cc_header_t *f = &src->items[i];
        int rc = cc_headers_add(dst, f->name, strlen(f->name), f->value, strlen(f->value));
        if (rc < 0) return rc;
    }
    return 0;
}

void cc_headers_free(cc_headers_t *h) {
    for (size_t i = 0; i < h->n; i++) {
        free(h->items[i].name);
        free(h->items[i].value);
    }
    free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}

bool cc_header_has_token(const char *value, const char *token) {
    size_t tl = strlen(token);
    const char *p = value;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *start = p;
        while (*p && *p != ',') p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
        if ((size_t)(end - start) == tl && strncasecmp(start, token, tl) == 0) return true;
    }
    return false;
}

bool cc_headers_is_hop_by_hop(const cc_headers_t *h, const char *name) {
    static const char *const fixed[] = {"connection", "keep-alive", "proxy-connection",
                                        "te", "trailer", "transfer-encoding", "upgrade",
                                        "proxy-authenticate", "proxy-authorization"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcasecmp(name, fixed[i]) == 0) return true;
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->items[i].name, "connection") == 0 &&
            cc_header_has_token(h->items[i].value, name))
            return true;
    return false;
}
