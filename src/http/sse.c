/* sse.c: the server-sent events parser and writer (see sse.h). The parser follows the
 * WHATWG "event stream interpretation": lines end in CRLF, LF or CR; a blank line dispatches
 * the event; lines starting with ':' are comments; "field: value" loses one space after the
 * colon; a leading UTF-8 byte order mark is skipped. Bytes may be split anywhere. */
#include "http/sse.h"

#include <string.h>

#define SSE_DEFAULT_MAX (16u * 1024u * 1024u)

void cc_sse_parser_init(cc_sse_parser_t *p, cc_sse_event_fn fn, void *arg) {
    memset(p, 0, sizeof *p);
    p->fn = fn;
    p->arg = arg;
}

void cc_sse_parser_free(cc_sse_parser_t *p) {
    cc_buf_free(&p->line);
    cc_buf_free(&p->event);
    cc_buf_free(&p->data);
    cc_buf_free(&p->id);
    p->has_data = false;
}

static size_t max_bytes(const cc_sse_parser_t *p) {
    return p->max_event_bytes ? p->max_event_bytes : SSE_DEFAULT_MAX;
}

static const char *str_or_empty(const cc_buf_t *b) {
    return b->data ? b->data : "";
}

static int dispatch(cc_sse_parser_t *p) {
    int rc = 0;
    if (p->has_data) {
        cc_sse_event_t ev = {str_or_empty(&p->event), str_or_empty(&p->data), p->data.len,
                             str_or_empty(&p->id)};
        rc = p->fn ? p->fn(p->arg, &ev) : 0;
    }
    cc_buf_reset(&p->event);
    cc_buf_reset(&p->data);
    cc_buf_reset(&p->id);
    p->has_data = false;
    return rc;
}

static bool field_is(const char *name, size_t n, const char *want) {
    return strlen(want) == n && memcmp(name, want, n) == 0;
}

/* One complete line (without its terminator). */
static int process_line(cc_sse_parser_t *p, const char *s, size_t n) {
    if (n == 0) return dispatch(p);
    if (s[0] == ':') return 0;
    const char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *value = colon ? colon + 1 : s + n;
    size_t vlen = (size_t)(s + n - value);
    if (vlen && value[0] == ' ') {
        value++;
        vlen--;
    }
    if (field_is(s, name_len, "data")) {
        if (p->data.len + vlen + 1 > max_bytes(p)) return -1;
        if (p->has_data && cc_buf_append(&p->data, "\n", 1) < 0) return -1;
        if (cc_buf_append(&p->data, value, vlen) < 0) return -1;
        p->has_data = true;
    } else if (field_is(s, name_len, "event")) {
        if (vlen > max_bytes(p)) return -1;
        cc_buf_reset(&p->event);
        if (cc_buf_append(&p->event, value, vlen) < 0) return -1;
    } else if (field_is(s, name_len, "id")) {
        if (!memchr(value, '\0', vlen)) {
            if (vlen > max_bytes(p)) return -1;
            cc_buf_reset(&p->id);
            if (cc_buf_append(&p->id, value, vlen) < 0) return -1;
        }
    }
    /* "retry" and unknown fields are ignored. */
    return 0;
}

/* Strips a byte order mark at the very start; needs up to three bytes, which may arrive in
 * separate pieces, so they wait in `line` until they decide. Returns true once decided. */
static bool check_bom(cc_sse_parser_t *p, bool at_end) {
    static const char bom[3] = {(char)0xEF, (char)0xBB, (char)0xBF};
    size_t n = p->line.len < 3 ? p->line.len : 3;
    if (n == 0) return at_end ? (p->bom_checked = true) : false;
    if (memcmp(p->line.data, bom, n) != 0) return (p->bom_checked = true);
    if (n < 3 && !at_end) return false;
    if (n == 3) cc_buf_consume(&p->line, 3);
    return (p->bom_checked = true);
}

/* The first CR or LF in s[0..n), or n. */
static size_t find_eol(const char *s, size_t n) {
    const char *lf = memchr(s, '\n', n);
    size_t limit = lf ? (size_t)(lf - s) : n;
    const char *cr = memchr(s, '\r', limit);
    return cr ? (size_t)(cr - s) : limit;
}

int cc_sse_feed(cc_sse_parser_t *p, const char *data, size_t len) {
    size_t i = 0;
    while (i < len) {
        if (p->cr) {
            p->cr = false;
            if (data[i] == '\n') {
                i++;
                continue;
            }
        }
        if (!p->bom_checked) {
            /* Collect byte by byte until the mark is decided (at most three bytes). */
            if (data[i] != '\n' && data[i] != '\r') {
                if (cc_buf_append(&p->line, data + i, 1) < 0) return -1;
                i++;
                check_bom(p, false);
                continue;
            }
            check_bom(p, true);
        }
        size_t k = find_eol(data + i, len - i);
        /* A line longer than the limit fails however the bytes were split. */
        if (p->line.len + k > max_bytes(p)) return -1;
        if (i + k == len) {
            /* No terminator yet: keep the partial line. */
            if (cc_buf_append(&p->line, data + i, k) < 0) return -1;
            return 0;
        }
        int rc;
        if (p->line.len) {
            if (cc_buf_append(&p->line, data + i, k) < 0) return -1;
            rc = process_line(p, p->line.data, p->line.len);
            cc_buf_reset(&p->line);
        } else {
            /* The whole line is in this piece: no copy. */
            rc = process_line(p, data + i, k);
        }
        if (data[i + k] == '\r') p->cr = true;
        i += k + 1;
        if (rc) return rc;
    }
    return 0;
}

int cc_sse_finish(cc_sse_parser_t *p) {
    int rc = 0;
    if (!p->bom_checked && p->line.len) check_bom(p, true);
    if (p->line.len) {
        rc = process_line(p, p->line.data, p->line.len);
        cc_buf_reset(&p->line);
        if (rc) return rc;
    }
    p->cr = false;
    return dispatch(p);
}

void cc_sse_write(cc_buf_t *out, const char *name, const char *data, size_t len) {
    if (name) {
        cc_buf_puts(out, "event: ");
        cc_buf_puts(out, name);
        cc_buf_puts(out, "\n");
    }
    size_t i = 0;
    for (;;) {
        size_t k = find_eol(data + i, len - i);
        cc_buf_puts(out, "data: ");
        cc_buf_append(out, data + i, k);
        cc_buf_puts(out, "\n");
        i += k;
        if (i >= len) break;
        /* A CR or LF in the data starts a new data line (CRLF counts once). */
        if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') i++;
        i++;
        if (i == len) {
            cc_buf_puts(out, "data: \n");
            break;
        }
    }
    cc_buf_puts(out, "\n");
}
