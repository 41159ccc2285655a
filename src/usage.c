/* usage.c: the token usage of an answer, read as it passes (see usage.h).
 *
 * Event streams are framed here rather than by http/sse.c, which keeps every event's data:
 * this framer keeps only the data of a usage event. Lines follow the WHATWG event stream
 * interpretation (CRLF, LF or CR; ':' comments; one space after the colon dropped; a leading
 * byte order mark skipped; data lines joined with "\n"; a blank line dispatches). Whether an
 * event's data is kept is decided at its first data line, from the `event:` name given before
 * it, as Anthropic always sends it: an event whose data comes before its name is skipped, and
 * one whose final name is no longer a usage event is not read. Only message_start and
 * message_delta data is parsed (cJSON), at most one event's at a time; message_stop and error
 * are only noted.
 *
 * Whole answers are scanned incrementally, not buffered: a small pushdown automaton checks
 * that the body is one JSON value (structure, strings and their escapes, numbers, literals;
 * not UTF-8) and copies out the bytes of the top-level object's `usage` member (the last one,
 * its key's letters possibly escaped), which cJSON parses once the body has ended and turned
 * out valid. */
#include "usage.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

/* --- the usage itself ---------------------------------------------------------------------- */

unsigned long long cc_usage_total(const cc_usage_t *u) {
    return u->input + u->cache_creation + u->cache_read + u->output;
}

void cc_usage_log_field(const cc_usage_t *u, cc_buf_t *out) {
    if (!u->seen) return;
    cc_buf_printf(out, " tokens=in:%llu,out:%llu,cache_read:%llu,cache_write:%llu", u->input,
                  u->output, u->cache_read, u->cache_creation);
}

cc_usage_form_t cc_usage_form(const char *ct) {
    if (!ct) return CC_USAGE_NONE;
    while (*ct == ' ' || *ct == '\t') ct++;
    if (strncasecmp(ct, "text/event-stream", 17) == 0) return CC_USAGE_SSE;
    if (strncasecmp(ct, "application/json", 16) == 0) return CC_USAGE_JSON;
    return CC_USAGE_NONE;
}

/* A count: a number >= 0, rounded down, at most 2^53 (so sums cannot overflow). Anything else
 * (null, a string, a negative number) leaves *out as it is. */
static void take_count(const cJSON *o, const char *key, unsigned long long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0) return;
    double d = v->valuedouble > 9007199254740992.0 ? 9007199254740992.0 : v->valuedouble;
    *out = (unsigned long long)d;
}

/* The fields a usage object has replace those of *out. */
static void apply_usage(const cJSON *u, cc_usage_t *out) {
    if (!cJSON_IsObject(u)) return;
    take_count(u, "input_tokens", &out->input);
    take_count(u, "output_tokens", &out->output);
    take_count(u, "cache_creation_input_tokens", &out->cache_creation);
    take_count(u, "cache_read_input_tokens", &out->cache_read);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(u, "server_tool_use");
    if (cJSON_IsObject(st)) {
        take_count(st, "web_search_requests", &out->web_search);
        take_count(st, "web_fetch_requests", &out->web_fetch);
    }
    out->seen = true;
}

/* --- the reader ---------------------------------------------------------------------------- */

enum { LINE_START, LINE_NAME, LINE_SPACE, LINE_VALUE };  /* where in a line */
enum { FIELD_OTHER, FIELD_DATA, FIELD_EVENT };            /* the line's field */
enum { EV_OTHER, EV_START, EV_DELTA, EV_STOP, EV_ERROR }; /* an event name */
enum { TAKE_UNDECIDED, TAKE_YES, TAKE_NO };               /* an event's data is kept */

/* The JSON scanner's states. */
enum {
    J_VALUE,     /* a value must come */
    J_ARR_FIRST, /* after '[': a value or ']' */
    J_OBJ_FIRST, /* after '{': a key or '}' */
    J_KEY,       /* after ',' in an object: a key */
    J_COLON,     /* after a key */
    J_AFTER,     /* after a value inside a container: ',' or its end */
    J_STR,       /* in a string */
    J_ESC,       /* after a backslash in a string */
    J_HEX,       /* in \uXXXX */
    J_NUM,       /* in a number (num gives where) */
    J_LIT,       /* in true, false or null */
    J_END,       /* the value is complete: white space only */
    J_FAIL,      /* not JSON: nothing will be read */
};
/* Where in a number: after '-', a leading 0, integer digits, '.', fraction digits, 'e',
 * the exponent's sign, exponent digits. */
enum { N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };

#define J_MAX_DEPTH 512

struct cc_usage_reader_s {
    cc_usage_form_t form;
    cc_usage_t *out;
    size_t max_event;
    bool finished;
    cc_buf_t buf; /* the kept bytes: a usage event's data, or the usage member */

    /* event stream */
    uint8_t line, field, take;
    uint8_t bom;      /* byte order mark bytes matched at the start */
    bool started;     /* past the byte order mark */
    bool cr;          /* the last byte was '\r' */
    bool has_data;    /* the event has a data line */
    uint8_t name_len; /* field name bytes, 0xFF when longer than any field we read */
    char name[5];
    uint8_t ev_len;   /* event name bytes, 0xFF when longer than any usage event's */
    char ev[13];

    /* whole JSON */
    uint8_t js, num, hex_left;
    unsigned hex; /* the \uXXXX code so far */
    bool str_is_key;
    const char *lit; /* the literal being matched, and the bytes of it seen */
    uint8_t lit_pos;
    unsigned depth;
    uint64_t is_obj[J_MAX_DEPTH / 64]; /* bit d: container d+1 is an object */
    uint8_t key_len;                   /* a depth-1 key's bytes, 0xFF: not "usage" */
    char key[5];
    bool key_is_usage; /* the depth-1 member whose value comes next is "usage" */
    bool capturing;    /* copying that value's bytes into buf */
    bool cap_over;     /* ... which were too many */
    bool have_usage;   /* buf holds a complete usage member */
};

cc_usage_reader_t *cc_usage_reader_new(cc_usage_form_t form, cc_usage_t *out) {
    cc_usage_reader_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->form = form;
    r->out = out;
    r->max_event = CC_USAGE_MAX_EVENT;
    r->js = J_VALUE;
    memset(out, 0, sizeof *out);
    return r;
}

void cc_usage_reader_limit(cc_usage_reader_t *r, size_t max_event_bytes) {
    if (max_event_bytes && max_event_bytes < r->max_event) r->max_event = max_event_bytes;
}

size_t cc_usage_reader_held(const cc_usage_reader_t *r) {
    return r->buf.len;
}

void cc_usage_reader_free(cc_usage_reader_t *r) {
    if (!r) return;
    cc_buf_free(&r->buf);
    free(r);
}

/* --- event streams ------------------------------------------------------------------------- */

static int event_kind(const cc_usage_reader_t *r) {
    if (r->ev_len == 13 && memcmp(r->ev, "message_start", 13) == 0) return EV_START;
    if (r->ev_len == 13 && memcmp(r->ev, "message_delta", 13) == 0) return EV_DELTA;
    if (r->ev_len == 12 && memcmp(r->ev, "message_stop", 12) == 0) return EV_STOP;
    if (r->ev_len == 5 && memcmp(r->ev, "error", 5) == 0) return EV_ERROR;
    return EV_OTHER;
}

/* Drops the kept bytes; a buffer grown by a large event is given back. */
static void drop_kept(cc_usage_reader_t *r) {
    if (r->buf.cap > 64 * 1024)
        cc_buf_free(&r->buf);
    else
        cc_buf_reset(&r->buf);
}

static bool usage_event(int kind) {
    return kind == EV_START || kind == EV_DELTA;
}

static void sse_dispatch(cc_usage_reader_t *r) {
    int kind = event_kind(r);
    /* An event without data is none (WHATWG): only one with data ends the stream. */
    if (r->has_data && kind == EV_STOP) r->out->stream_end = CC_STREAM_END_STOP;
    if (r->has_data && kind == EV_ERROR) r->out->stream_end = CC_STREAM_END_ERROR;
    if (r->has_data && r->take == TAKE_YES && usage_event(kind)) {
        cJSON *root = cJSON_ParseWithLength(r->buf.data ? r->buf.data : "", r->buf.len);
        if (kind == EV_START)
            apply_usage(cJSON_GetObjectItemCaseSensitive(
                            cJSON_GetObjectItemCaseSensitive(root, "message"), "usage"),
                        r->out);
        else
            apply_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), r->out);
        cJSON_Delete(root);
    }
    drop_kept(r);
    r->has_data = false;
    r->take = TAKE_UNDECIDED;
    r->ev_len = 0;
}

static void begin_value(cc_usage_reader_t *r) {
    if (r->name_len == 4 && memcmp(r->name, "data", 4) == 0) {
        r->field = FIELD_DATA;
        if (!r->has_data) {
            r->has_data = true;
            r->take = usage_event(event_kind(r)) ? TAKE_YES : TAKE_NO;
        } else if (r->take == TAKE_YES) {
            if (r->buf.len + 1 > r->max_event || cc_buf_append(&r->buf, "\n", 1) < 0) {
                r->take = TAKE_NO;
                drop_kept(r);
            }
        }
    } else if (r->name_len == 5 && memcmp(r->name, "event", 5) == 0) {
        r->field = FIELD_EVENT;
        r->ev_len = 0;
    } else {
        r->field = FIELD_OTHER;
    }
}

static void value_bytes(cc_usage_reader_t *r, const char *s, size_t n) {
    if (!n) return;
    if (r->field == FIELD_DATA && r->take == TAKE_YES) {
        if (r->buf.len + n > r->max_event || cc_buf_append(&r->buf, s, n) < 0) {
            r->take = TAKE_NO; /* too long: skipped, counted nowhere */
            drop_kept(r);
        }
    } else if (r->field == FIELD_EVENT && r->ev_len != 0xFF) {
        if (r->ev_len + n > sizeof r->ev) {
            r->ev_len = 0xFF;
        } else {
            memcpy(r->ev + r->ev_len, s, n);
            r->ev_len = (uint8_t)(r->ev_len + n);
        }
    }
}

/* The first CR or LF in s[0..n), or n. */
static size_t find_eol(const char *s, size_t n) {
    const char *lf = memchr(s, '\n', n);
    size_t limit = lf ? (size_t)(lf - s) : n;
    const char *cr = memchr(s, '\r', limit);
    return cr ? (size_t)(cr - s) : limit;
}

static void sse_feed(cc_usage_reader_t *r, const char *p, size_t n) {
    static const char bom[3] = {(char)0xEF, (char)0xBB, (char)0xBF};
    size_t i = 0;
    while (i < n) {
        char c = p[i];
        if (r->cr) {
            r->cr = false;
            if (c == '\n') {
                i++;
                continue;
            }
        }
        if (!r->started) {
            if (c == bom[r->bom]) {
                i++;
                if (++r->bom == 3) r->started = true;
                continue;
            }
            r->started = true;
            if (r->bom) { /* part of a mark: the first line's field is none we read */
                r->line = LINE_NAME;
                r->name_len = 0xFF;
            }
        }
        switch (r->line) {
        case LINE_START:
            if (c == '\n' || c == '\r') {
                sse_dispatch(r);
                r->cr = c == '\r';
                i++;
                continue;
            }
            if (c == ':') { /* a comment */
                r->field = FIELD_OTHER;
                r->line = LINE_VALUE;
                i++;
                continue;
            }
            r->name_len = 0;
            r->line = LINE_NAME;
            /* fall through */
        case LINE_NAME:
            while (i < n && p[i] != ':' && p[i] != '\n' && p[i] != '\r') {
                if (r->name_len < sizeof r->name)
                    r->name[r->name_len++] = p[i];
                else
                    r->name_len = 0xFF;
                i++;
            }
            if (i == n) return;
            begin_value(r);
            if (p[i] == ':') {
                r->line = LINE_SPACE;
                i++;
                continue;
            }
            break; /* a field without a value: the line ends here */
        case LINE_SPACE:
            r->line = LINE_VALUE;
            if (c == ' ') {
                i++;
                continue;
            }
            /* fall through */
        case LINE_VALUE: {
            size_t k = find_eol(p + i, n - i);
            value_bytes(r, p + i, k);
            i += k;
            if (i == n) return;
            break;
        }
        }
        /* p[i] ends the line. */
        r->cr = p[i] == '\r';
        r->line = LINE_START;
        i++;
    }
}

static void sse_finish(cc_usage_reader_t *r) {
    if (r->line == LINE_NAME) begin_value(r); /* "data" alone on the last line */
    r->line = LINE_START;
    sse_dispatch(r);
}

/* --- whole JSON answers -------------------------------------------------------------------- */

static bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool in_object(const cc_usage_reader_t *r) {
    unsigned d = r->depth - 1;
    return r->depth && (r->is_obj[d / 64] >> (d % 64) & 1);
}

static void cap_append(cc_usage_reader_t *r, const char *s, size_t n) {
    if (r->cap_over || !n) return;
    if (r->buf.len + n > CC_USAGE_MAX_MEMBER || cc_buf_append(&r->buf, s, n) < 0) {
        r->cap_over = true;
        cc_buf_free(&r->buf);
    }
}

/* A value ended just before p + end (`cap_from` where this piece's captured bytes begin). */
static void value_done(cc_usage_reader_t *r, const char *p, size_t end, size_t *cap_from) {
    if (r->capturing && r->depth == 1) {
        cap_append(r, p + *cap_from, end - *cap_from);
        r->capturing = false;
        r->have_usage = !r->cap_over;
        *cap_from = SIZE_MAX;
    }
    r->js = r->depth ? J_AFTER : J_END;
}

static bool push(cc_usage_reader_t *r, bool obj) {
    if (r->depth >= J_MAX_DEPTH) return false;
    unsigned d = r->depth++;
    uint64_t bit = (uint64_t)1 << (d % 64);
    if (obj)
        r->is_obj[d / 64] |= bit;
    else
        r->is_obj[d / 64] &= ~bit;
    return true;
}

/* Whether a number can end in its current state. */
static bool num_complete(uint8_t s) {
    return s == N_ZERO || s == N_INT || s == N_FRAC || s == N_EXP;
}

/* The next state of a number after `c`, or -1 when `c` is not part of it. */
static int num_step(uint8_t s, char c) {
    bool digit = c >= '0' && c <= '9';
    switch (s) {
    case N_MINUS: return c == '0' ? N_ZERO : digit ? N_INT : -1;
    case N_ZERO: return c == '.' ? N_DOT : (c == 'e' || c == 'E') ? N_E : -1;
    case N_INT: return digit ? N_INT : c == '.' ? N_DOT : (c == 'e' || c == 'E') ? N_E : -1;
    case N_DOT: return digit ? N_FRAC : -1;
    case N_FRAC: return digit ? N_FRAC : (c == 'e' || c == 'E') ? N_E : -1;
    case N_E: return digit ? N_EXP : (c == '+' || c == '-') ? N_ESIGN : -1;
    case N_ESIGN:
    case N_EXP: return digit ? N_EXP : -1;
    }
    return -1;
}

static void json_feed(cc_usage_reader_t *r, const char *p, size_t n) {
    size_t i = 0, cap_from = r->capturing ? 0 : SIZE_MAX;
    while (i < n && r->js != J_FAIL) {
        char c = p[i];
        switch (r->js) {
        case J_STR: {
            size_t j = i;
            while (j < n && p[j] != '"' && p[j] != '\\' && (unsigned char)p[j] >= 0x20) j++;
            if (r->str_is_key && r->depth == 1 && r->key_len != 0xFF) {
                if (r->key_len + (j - i) > sizeof r->key) {
                    r->key_len = 0xFF;
                } else {
                    memcpy(r->key + r->key_len, p + i, j - i);
                    r->key_len = (uint8_t)(r->key_len + (j - i));
                }
            }
            i = j;
            if (i == n) continue; /* the string goes on in the next piece */
            c = p[i++];
            if (c == '\\') {
                r->js = J_ESC;
            } else if (c == '"') {
                if (r->str_is_key) {
                    if (r->depth == 1)
                        r->key_is_usage = r->key_len == 5 && memcmp(r->key, "usage", 5) == 0;
                    r->js = J_COLON;
                } else {
                    value_done(r, p, i, &cap_from);
                }
            } else {
                r->js = J_FAIL; /* a control character */
            }
            continue;
        }
        case J_ESC:
            if (c == 'u') {
                r->js = J_HEX;
                r->hex_left = 4;
                r->hex = 0;
            } else if (c && strchr("\"\\/bfnrt", c)) {
                r->js = J_STR;
                if (r->str_is_key) r->key_len = 0xFF; /* no letter of "usage" */
            } else {
                r->js = J_FAIL;
            }
            i++;
            continue;
        case J_HEX:
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
                r->js = J_FAIL;
                continue;
            }
            r->hex = r->hex << 4 | (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
            if (--r->hex_left == 0) {
                r->js = J_STR;
                /* A key's letters may be escaped too ("\u0075sage"). */
                if (r->str_is_key && r->depth == 1 && r->key_len != 0xFF) {
                    if (r->hex >= 0x80 || r->key_len >= sizeof r->key)
                        r->key_len = 0xFF;
                    else
                        r->key[r->key_len++] = (char)r->hex;
                }
            }
            i++;
            continue;
        case J_NUM: {
            int next = num_step(r->num, c);
            if (next >= 0) {
                r->num = (uint8_t)next;
                i++;
            } else if (num_complete(r->num)) {
                value_done(r, p, i, &cap_from); /* c is looked at again */
            } else {
                r->js = J_FAIL;
            }
            continue;
        }
        case J_LIT:
            if (c != r->lit[r->lit_pos]) {
                r->js = J_FAIL;
                continue;
            }
            i++;
            if (r->lit[++r->lit_pos] == '\0') value_done(r, p, i, &cap_from);
            continue;
        default: break;
        }
        if (is_ws(c)) {
            i++;
            continue;
        }
        switch (r->js) {
        case J_END: r->js = J_FAIL; continue;
        case J_COLON:
            r->js = c == ':' ? J_VALUE : J_FAIL;
            i++;
            continue;
        case J_OBJ_FIRST:
        case J_KEY:
            if (c == '"') {
                r->js = J_STR;
                r->str_is_key = true;
                r->key_len = 0;
                i++;
                continue;
            }
            if (c != '}' || r->js == J_KEY) {
                r->js = J_FAIL;
                continue;
            }
            break; /* '}' closes an empty object */
        case J_AFTER:
            if (c == ',') {
                r->js = in_object(r) ? J_KEY : J_VALUE;
                i++;
                continue;
            }
            if (c != (in_object(r) ? '}' : ']')) {
                r->js = J_FAIL;
                continue;
            }
            break; /* the container's end */
        case J_ARR_FIRST:
            if (c == ']') break;
            r->js = J_VALUE;
            /* fall through */
        case J_VALUE:
            if (r->depth == 1 && r->key_is_usage) { /* the usage member's value begins */
                r->key_is_usage = false;
                r->capturing = true;
                r->cap_over = false;
                r->have_usage = false;
                cc_buf_reset(&r->buf);
                cap_from = i;
            }
            if (c == '{' || c == '[') {
                if (!push(r, c == '{')) {
                    r->js = J_FAIL;
                    continue;
                }
                r->js = c == '{' ? J_OBJ_FIRST : J_ARR_FIRST;
            } else if (c == '"') {
                r->js = J_STR;
                r->str_is_key = false;
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                r->js = J_NUM;
                r->num = c == '-' ? N_MINUS : c == '0' ? N_ZERO : N_INT;
            } else if (c == 't' || c == 'f' || c == 'n') {
                r->js = J_LIT;
                r->lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
                r->lit_pos = 1;
            } else {
                r->js = J_FAIL;
                continue;
            }
            i++;
            continue;
        default: r->js = J_FAIL; continue;
        }
        /* c closes the innermost container. */
        r->depth--;
        i++;
        value_done(r, p, i, &cap_from);
    }
    if (r->js == J_FAIL) {
        r->capturing = false;
        cc_buf_free(&r->buf);
        return;
    }
    if (r->capturing && cap_from != SIZE_MAX) cap_append(r, p + cap_from, n - cap_from);
}

static void json_finish(cc_usage_reader_t *r) {
    if (r->js == J_NUM && r->depth == 0 && num_complete(r->num)) r->js = J_END;
    if (r->js == J_END && r->have_usage) {
        cJSON *u = cJSON_ParseWithLength(r->buf.data ? r->buf.data : "", r->buf.len);
        apply_usage(u, r->out);
        cJSON_Delete(u);
    }
    cc_buf_free(&r->buf);
}

/* --- feeding ------------------------------------------------------------------------------- */

void cc_usage_feed(cc_usage_reader_t *r, const char *data, size_t len) {
    if (r->finished || !len) return;
    if (r->form == CC_USAGE_SSE)
        sse_feed(r, data, len);
    else if (r->form == CC_USAGE_JSON)
        json_feed(r, data, len);
}

void cc_usage_finish(cc_usage_reader_t *r) {
    if (r->finished) return;
    r->finished = true;
    if (r->form == CC_USAGE_SSE)
        sse_finish(r);
    else if (r->form == CC_USAGE_JSON)
        json_finish(r);
}
