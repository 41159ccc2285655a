/* anthropic_stream.c: the Anthropic response builder (see anthropic_stream.h). One state
 * machine serves both outputs: in stream mode each step is written as an SSE event at once;
 * in message mode the same steps fill a content array that cc_astream_finish prints.
 *
 * Tool arguments pass through an incremental JSON scanner: bytes are forwarded as soon as they
 * arrive while they still form the beginning of a JSON object; a byte that would break it is
 * dropped with everything after it, and a block that closes on an unfinished object gets the
 * shortest completion (closing quotes, a null, closing brackets). The client therefore always
 * accumulates a parseable input. The scanner also tells when an object is complete: only one
 * block can be open at a time, so arguments of a parallel call that arrive while another call
 * is still unfinished wait in that call's buffer until it is its turn. */
#include "providers/anthropic_stream.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "providers/anthropic_thinking.h"
#include "http/api_error.h"

/* ---- ids ------------------------------------------------------------------------------------ */

static _Thread_local uint64_t rng_state;

void cc__astream_seed(unsigned long long seed) {
    rng_state = seed ? seed : 0x9E3779B97F4A7C15ull;
}

static uint64_t rng_next(void) {
    if (!rng_state) {
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
            seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&seed;
        cc__astream_seed(seed);
    }
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

void cc__astream_id(char *dst, size_t cap, const char *prefix) {
    static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t n = strlen(prefix);
    if (cap < 25) {
        if (cap) dst[0] = '\0';
        return;
    }
    if (n + 25 > cap) n = 0;
    memcpy(dst, prefix, n);
    dst[n++] = '0';
    dst[n++] = '1';
    uint64_t r = 0;
    for (int i = 0; i < 22; i++) {
        if (i % 10 == 0) r = rng_next();
        dst[n++] = alnum[r % 62];
        r /= 62;
    }
    dst[n] = '\0';
}

/* ---- incremental JSON object scanner -------------------------------------------------------- */

enum {
    J_START,     /* before the top-level object */
    J_OBJ_FIRST, /* after '{': a key or '}' */
    J_OBJ_KEY,   /* after ',' in an object: a key */
    J_KEY,       /* inside a key string */
    J_COLON,     /* after a key */
    J_VALUE,     /* after ':' or ',' in an array: a value */
    J_ARR_FIRST, /* after '[': a value or ']' */
    J_AFTER,     /* after a value: ',' or the closing bracket */
    J_STR,       /* inside a value string */
    J_LIT,       /* inside true/false/null */
    J_NUM,       /* inside a number */
    J_DONE,      /* the object is complete: only white space may follow */
    J_BROKEN,    /* a byte did not fit: nothing more is accepted */
};

/* Number sub-states: what was read last. */
enum { N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };

#define J_MAX_DEPTH 500

typedef struct {
    int state;
    int good;     /* the state before the byte that broke the scanner */
    int esc;      /* 0 none, 1 after '\', 2 reading the hex digits of \u */
    int u_digits; /* hex digits of \u read so far */
    unsigned u_val;
    bool want_low;   /* a high surrogate was read: "\u" and a low one must follow */
    int num;         /* N_* */
    const char *lit; /* the literal being read */
    int lit_pos;
    cc_buf_t stack; /* '{' or '[' per open container */
} jscan_t;

static bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool js_push(jscan_t *j, char c) {
    if (j->stack.len >= J_MAX_DEPTH) return false;
    return cc_buf_append(&j->stack, &c, 1) == 0;
}

/* A value ended: back to the container, or done at the top level. */
static void js_value_done(jscan_t *j) {
    j->state = j->stack.len ? J_AFTER : J_DONE;
}

static bool js_close(jscan_t *j, char c) {
    if (!j->stack.len) return false;
    char open = j->stack.data[j->stack.len - 1];
    if ((open == '{' && c != '}') || (open == '[' && c != ']')) return false;
    j->stack.len--;
    js_value_done(j);
    return true;
}

/* A value's first byte. */
static bool js_value_start(jscan_t *j, char c) {
    switch (c) {
    case '"':
        j->state = J_STR;
        j->esc = 0;
        return true;
    case '{':
        j->state = J_OBJ_FIRST;
        return js_push(j, '{');
    case '[':
        j->state = J_ARR_FIRST;
        return js_push(j, '[');
    case 't':
        j->lit = "true";
        break;
    case 'f':
        j->lit = "false";
        break;
    case 'n':
        j->lit = "null";
        break;
    case '-':
        j->state = J_NUM;
        j->num = N_MINUS;
        return true;
    default:
        if (c >= '0' && c <= '9') {
            j->state = J_NUM;
            j->num = c == '0' ? N_ZERO : N_INT;
            return true;
        }
        return false;
    }
    j->state = J_LIT;
    j->lit_pos = 1;
    return true;
}

/* One hex digit of \u. Surrogates must pair (a high one directly followed by a low one), as
 * strict parsers demand. */
static bool js_hex_digit(jscan_t *j, char c) {
    int v = hex_value(c);
    if (v < 0) return false;
    unsigned val = j->u_val * 16 + (unsigned)v;
    if (j->u_digits == 0 && j->want_low && v != 0xD) return false;
    if (j->u_digits == 1) {
        bool low = val >= 0xDC && val <= 0xDF;
        if (j->want_low ? !low : low) return false;
    }
    j->u_val = val;
    if (++j->u_digits == 4) {
        j->esc = 0;
        if (j->want_low)
            j->want_low = false;
        else if (val >= 0xD800 && val <= 0xDBFF)
            j->want_low = true;
    }
    return true;
}

static bool js_string_byte(jscan_t *j, char c) {
    if (j->esc == 2) return js_hex_digit(j, c);
    if (j->esc == 1) {
        if (c == 'u') {
            j->esc = 2;
            j->u_digits = 0;
            j->u_val = 0;
            return true;
        }
        if (j->want_low || c == '\0' || !strchr("\"\\/bfnrt", c)) return false;
        j->esc = 0;
        return true;
    }
    if (j->want_low && c != '\\') return false;
    if ((unsigned char)c < 0x20) return false;
    if (c == '\\') {
        j->esc = 1;
    } else if (c == '"') {
        if (j->state == J_KEY)
            j->state = J_COLON;
        else
            js_value_done(j);
    }
    return true;
}

static bool num_can_end(int num) {
    return num == N_ZERO || num == N_INT || num == N_FRAC || num == N_EXP;
}

/* Returns 1 when the byte was taken, 0 when it ends the number (reprocess it), -1 invalid. */
static int js_number_byte(jscan_t *j, char c) {
    bool digit = c >= '0' && c <= '9';
    switch (j->num) {
    case N_MINUS:
        if (!digit) return -1;
        j->num = c == '0' ? N_ZERO : N_INT;
        return 1;
    case N_ZERO:
    case N_INT:
        if (digit && j->num == N_INT) return 1;
        if (digit) return -1; /* a leading zero */
        if (c == '.') return (j->num = N_DOT), 1;
        if (c == 'e' || c == 'E') return (j->num = N_E), 1;
        return 0;
    case N_DOT:
        if (!digit) return -1;
        return (j->num = N_FRAC), 1;
    case N_FRAC:
        if (digit) return 1;
        if (c == 'e' || c == 'E') return (j->num = N_E), 1;
        return 0;
    case N_E:
        if (c == '+' || c == '-') return (j->num = N_ESIGN), 1;
        if (!digit) return -1;
        return (j->num = N_EXP), 1;
    case N_ESIGN:
        if (!digit) return -1;
        return (j->num = N_EXP), 1;
    default: /* N_EXP */
        return digit ? 1 : 0;
    }
}

/* One byte; false when it cannot continue a JSON object. */
static bool js_byte(jscan_t *j, char c) {
    switch (j->state) {
    case J_START:
        if (is_ws(c)) return true;
        if (c != '{') return false;
        j->state = J_OBJ_FIRST;
        return js_push(j, '{');
    case J_OBJ_FIRST:
        if (is_ws(c)) return true;
        if (c == '}') return js_close(j, c);
        /* fall through */
    case J_OBJ_KEY:
        if (is_ws(c)) return true;
        if (c != '"') return false;
        j->state = J_KEY;
        j->esc = 0;
        return true;
    case J_KEY:
    case J_STR:
        return js_string_byte(j, c);
    case J_COLON:
        if (is_ws(c)) return true;
        if (c != ':') return false;
        j->state = J_VALUE;
        return true;
    case J_ARR_FIRST:
        if (is_ws(c)) return true;
        if (c == ']') return js_close(j, c);
        return js_value_start(j, c);
    case J_VALUE:
        if (is_ws(c)) return true;
        return js_value_start(j, c);
    case J_AFTER:
        if (is_ws(c)) return true;
        if (c == ',') {
            j->state = j->stack.data[j->stack.len - 1] == '{' ? J_OBJ_KEY : J_VALUE;
            return true;
        }
        return js_close(j, c);
    case J_LIT:
        if (c != j->lit[j->lit_pos]) return false;
        if (!j->lit[++j->lit_pos]) js_value_done(j);
        return true;
    case J_NUM: {
        int r = js_number_byte(j, c);
        if (r < 0) return false;
        if (r > 0) return true;
        js_value_done(j);
        return js_byte(j, c);
    }
    case J_DONE:
        return is_ws(c);
    default:
        return false;
    }
}

/* How many bytes of data[0..len) continue the object; the scanner breaks at the first that
 * does not (and then accepts nothing more). */
static size_t js_feed(jscan_t *j, const char *data, size_t len) {
    size_t i = 0;
    if (j->state == J_BROKEN) return 0;
    for (; i < len; i++) {
        int before = j->state;
        if (!js_byte(j, data[i])) {
            j->good = before;
            j->state = J_BROKEN;
            break;
        }
    }
    return i;
}

/* The shortest text that completes what was accepted into a valid object. */
static void js_completion(const jscan_t *j, cc_buf_t *out) {
    int state = j->state == J_BROKEN ? j->good : j->state;
    switch (state) {
    case J_START:
        cc_buf_puts(out, "{}");
        return;
    case J_KEY:
    case J_STR:
        if (j->esc == 1) {
            cc_buf_puts(out, j->want_low ? "udc00" : "\\");
        } else if (j->esc == 2) {
            bool high = false;
            for (int k = j->u_digits; k < 4; k++)
                cc_buf_append(out, j->want_low ? &"dc00"[k] : "0", 1);
            if (!j->want_low && j->u_digits >= 2) {
                unsigned top = j->u_val >> (4 * (j->u_digits - 2));
                high = top >= 0xD8 && top <= 0xDB;
            }
            if (high) cc_buf_puts(out, "\\udc00");
        } else if (j->want_low) {
            cc_buf_puts(out, "\\udc00");
        }
        cc_buf_puts(out, "\"");
        if (state == J_KEY) cc_buf_puts(out, ":null");
        break;
    case J_COLON:
        cc_buf_puts(out, ":null");
        break;
    case J_VALUE:
        cc_buf_puts(out, "null");
        break;
    case J_OBJ_KEY:
        cc_buf_puts(out, "\"\":null");
        break;
    case J_LIT:
        cc_buf_puts(out, j->lit + j->lit_pos);
        break;
    case J_NUM:
        if (!num_can_end(j->num)) cc_buf_puts(out, "0");
        break;
    default:
        break;
    }
    for (size_t i = j->stack.len; i > 0; i--)
        cc_buf_puts(out, j->stack.data[i - 1] == '{' ? "}" : "]");
}

/* ---- the builder ---------------------------------------------------------------------------- */

enum { B_NONE, B_TEXT, B_THINKING, B_TOOL };
enum { T_PENDING, T_OPEN, T_CLOSED };

typedef struct {
    int key;
    char *id;
    char *name;
    int state;
    int index;        /* block index once opened */
    cc_buf_t pending; /* arguments received while pending */
    jscan_t scan;
    bool sent; /* bytes were forwarded */
} tool_t;

struct cc_astream_s {
    char *model;
    bool stream;
    char msg_id[40];
    bool started, finished, failed;
    int next_index;
    int open; /* B_* */
    int open_index;
    size_t open_tool; /* index into tools when open == B_TOOL */
    bool signed_;     /* the open thinking block has its signature */
    cc_buf_t ws;      /* leading white space of a text block not yet opened */
    tool_t *tools;
    size_t n_tools, cap_tools;
    int next_synth_key;
    int tool_blocks;  /* tool_use blocks emitted */
    cc_buf_t raw_ids; /* ids of tool-like raw blocks, each followed by a NUL */
    int web_searches;
    cc_astream_usage_t start_usage;
    /* message mode */
    cJSON *content;
    cc_buf_t acc, acc_sig;
};

cc_astream_t *cc_astream_new(const char *model, bool stream) {
    cc_astream_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->model = strdup(model ? model : "");
    s->content = stream ? NULL : cJSON_CreateArray();
    if (!s->model || (!stream && !s->content)) {
        cc_astream_free(s);
        return NULL;
    }
    s->stream = stream;
    s->next_synth_key = -1;
    cc_astream_usage_t unknown = CC_ASTREAM_USAGE_UNKNOWN;
    s->start_usage = unknown;
    cc__astream_id(s->msg_id, sizeof s->msg_id, "msg_");
    return s;
}

void cc_astream_free(cc_astream_t *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_tools; i++) {
        free(s->tools[i].id);
        free(s->tools[i].name);
        cc_buf_free(&s->tools[i].pending);
        cc_buf_free(&s->tools[i].scan.stack);
    }
    free(s->tools);
    free(s->model);
    cc_buf_free(&s->ws);
    cc_buf_free(&s->raw_ids);
    cc_buf_free(&s->acc);
    cc_buf_free(&s->acc_sig);
    cJSON_Delete(s->content);
    free(s);
}

bool cc_astream_started(const cc_astream_t *s) {
    return s->started;
}

bool cc_astream_finished(const cc_astream_t *s) {
    return s->finished;
}

static void put_str(cc_buf_t *out, const char *s, size_t len) {
    cc_buf_reserve(out, len + 2);
    cc_buf_append(out, "\"", 1);
    cc_buf_json_escape(out, s, len);
    cc_buf_append(out, "\"", 1);
}

/* A block index (or any int >= 0) in decimal. */
static void put_int(cc_buf_t *out, int v) {
    char tmp[16];
    size_t n = sizeof tmp;
    unsigned u = v < 0 ? 0u : (unsigned)v;
    do {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    cc_buf_append(out, tmp + n, sizeof tmp - n);
}

static void put_usage(cc_buf_t *out, const cc_astream_usage_t *u, int web_searches) {
    cc_buf_printf(out, "{\"input_tokens\":%ld", u->input_tokens > 0 ? u->input_tokens : 0);
    cc_buf_printf(out, ",\"cache_creation_input_tokens\":%ld",
                  u->cache_creation_input_tokens > 0 ? u->cache_creation_input_tokens : 0);
    cc_buf_printf(out, ",\"cache_read_input_tokens\":%ld",
                  u->cache_read_input_tokens > 0 ? u->cache_read_input_tokens : 0);
    cc_buf_printf(out, ",\"output_tokens\":%ld", u->output_tokens > 0 ? u->output_tokens : 0);
    if (web_searches > 0)
        cc_buf_printf(out, ",\"server_tool_use\":{\"web_search_requests\":%d}", web_searches);
    cc_buf_puts(out, "}");
}

void cc_astream_start(cc_astream_t *s, const cc_astream_usage_t *usage, cc_buf_t *out) {
    if (s->started || s->finished) return;
    s->started = true;
    if (usage) s->start_usage = *usage;
    if (!s->stream) return;
    cc_buf_puts(out,
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"");
    cc_buf_puts(out, s->msg_id);
    cc_buf_puts(out, "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    put_str(out, s->model, strlen(s->model));
    cc_buf_puts(out, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":");
    cc_astream_usage_t u = s->start_usage;
    u.output_tokens = u.output_tokens > 0 ? u.output_tokens : 0;
    put_usage(out, &u, 0);
    cc_buf_puts(out, "}}\n\n");
}

/* content_block_start: `block` is the JSON of the block as it starts. */
static void block_start(cc_astream_t *s, int kind, const char *block, cc_buf_t *out) {
    s->open = kind;
    s->open_index = s->next_index++;
    s->signed_ = false;
    cc_buf_reset(&s->acc);
    cc_buf_reset(&s->acc_sig);
    if (!s->stream) return;
    cc_buf_printf(out,
                  "event: content_block_start\ndata: {\"type\":\"content_block_start\","
                  "\"index\":%d,\"content_block\":%s}\n\n",
                  s->open_index, block);
}

static void delta(cc_astream_t *s, const char *type, const char *field, const char *data,
                  size_t len, cc_buf_t *out) {
    if (!s->stream) {
        cc_buf_append(strcmp(type, "signature_delta") == 0 ? &s->acc_sig : &s->acc, data, len);
        return;
    }
    cc_buf_reserve(out, len + 128);
    cc_buf_puts(out,
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":");
    put_int(out, s->open_index);
    cc_buf_puts(out, ",\"delta\":{\"type\":\"");
    cc_buf_puts(out, type);
    cc_buf_puts(out, "\",\"");
    cc_buf_puts(out, field);
    cc_buf_puts(out, "\":");
    put_str(out, data, len);
    cc_buf_puts(out, "}}\n\n");
}

static void add_block(cc_astream_t *s, cJSON *block) {
    if (block) cJSON_AddItemToArray(s->content, block);
}

static void block_stop(cc_astream_t *s, cc_buf_t *out) {
    int kind = s->open;
    s->open = B_NONE;
    if (s->stream) {
        cc_buf_printf(out,
                      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
                      "\"index\":%d}\n\n",
                      s->open_index);
        return;
    }
    cJSON *b = cJSON_CreateObject();
    if (!b) return;
    if (kind == B_TEXT) {
        cJSON_AddStringToObject(b, "type", "text");
        cJSON_AddStringToObject(b, "text", s->acc.data ? s->acc.data : "");
    } else if (kind == B_THINKING) {
        cJSON_AddStringToObject(b, "type", "thinking");
        cJSON_AddStringToObject(b, "thinking", s->acc.data ? s->acc.data : "");
        cJSON_AddStringToObject(b, "signature", s->acc_sig.data ? s->acc_sig.data : "");
    } else if (kind == B_TOOL) {
        tool_t *t = &s->tools[s->open_tool];
        cJSON *input =
            cJSON_ParseWithLength(s->acc.data ? s->acc.data : "{}", s->acc.len ? s->acc.len : 2);
        if (!cJSON_IsObject(input)) {
            cJSON_Delete(input);
            input = cJSON_CreateObject();
        }
        cJSON_AddStringToObject(b, "type", "tool_use");
        cJSON_AddStringToObject(b, "id", t->id);
        cJSON_AddStringToObject(b, "name", t->name);
        cJSON_AddItemToObject(b, "input", input);
    }
    add_block(s, b);
}

/* ---- tools ---------------------------------------------------------------------------------- */

static tool_t *tool_find(cc_astream_t *s, int key) {
    for (size_t i = s->n_tools; i > 0; i--)
        if (s->tools[i - 1].key == key) return &s->tools[i - 1];
    return NULL;
}

static void tool_feed(cc_astream_t *s, tool_t *t, const char *data, size_t len, cc_buf_t *out) {
    size_t ok = js_feed(&t->scan, data, len);
    if (ok == 0) return;
    t->sent = true;
    delta(s, "input_json_delta", "partial_json", data, ok, out);
}

static void tool_close(cc_astream_t *s, tool_t *t, cc_buf_t *out) {
    cc_buf_t fix = CC_BUF_INIT;
    js_completion(&t->scan, &fix);
    if (fix.len) delta(s, "input_json_delta", "partial_json", fix.data, fix.len, out);
    cc_buf_free(&fix);
    t->state = T_CLOSED;
    block_stop(s, out);
}

static void tool_open(cc_astream_t *s, tool_t *t, cc_buf_t *out) {
    cc_buf_t block = CC_BUF_INIT;
    cc_buf_puts(&block, "{\"type\":\"tool_use\",\"id\":");
    put_str(&block, t->id, strlen(t->id));
    cc_buf_puts(&block, ",\"name\":");
    put_str(&block, t->name, strlen(t->name));
    cc_buf_puts(&block, ",\"input\":{}}");
    block_start(s, B_TOOL, block.data, out);
    cc_buf_free(&block);
    s->open_tool = (size_t)(t - s->tools);
    s->tool_blocks++;
    t->state = T_OPEN;
    t->index = s->open_index;
    if (t->pending.len) tool_feed(s, t, t->pending.data, t->pending.len, out);
    cc_buf_free(&t->pending);
}

static bool open_tool_unfinished(cc_astream_t *s) {
    return s->open == B_TOOL && s->tools[s->open_tool].scan.state != J_DONE &&
           s->tools[s->open_tool].scan.state != J_BROKEN;
}

static tool_t *first_pending(cc_astream_t *s) {
    for (size_t i = 0; i < s->n_tools; i++)
        if (s->tools[i].state == T_PENDING) return &s->tools[i];
    return NULL;
}

/* Closes the open block (completing a tool's arguments, dropping held white space). */
static void close_open(cc_astream_t *s, cc_buf_t *out) {
    if (s->open == B_TOOL)
        tool_close(s, &s->tools[s->open_tool], out);
    else if (s->open != B_NONE)
        block_stop(s, out);
    cc_buf_reset(&s->ws);
}

/* Opens waiting tool calls in order while the open block allows it. */
static void advance_pending(cc_astream_t *s, cc_buf_t *out) {
    tool_t *t;
    while (!open_tool_unfinished(s) && (t = first_pending(s)) != NULL) {
        close_open(s, out);
        tool_open(s, t, out);
    }
}

/* Before a block of another kind: every tool call is opened and closed now. */
static void flush_tools(cc_astream_t *s, cc_buf_t *out) {
    tool_t *t;
    close_open(s, out);
    while ((t = first_pending(s)) != NULL) {
        tool_open(s, t, out);
        close_open(s, out);
    }
}

static bool id_taken(const cc_astream_t *s, const char *id) {
    for (size_t i = 0; i < s->n_tools; i++)
        if (strcmp(s->tools[i].id, id) == 0) return true;
    for (size_t off = 0; off < s->raw_ids.len; off += strlen(s->raw_ids.data + off) + 1)
        if (strcmp(s->raw_ids.data + off, id) == 0) return true;
    return false;
}

void cc_astream_tool_start(cc_astream_t *s, int key, const char *id, const char *name,
                           cc_buf_t *out) {
    if (s->finished) return;
    tool_t *t = tool_find(s, key);
    if (t && t->state != T_CLOSED) return;
    cc_astream_start(s, NULL, out);
    if (s->n_tools == s->cap_tools) {
        size_t cap = s->cap_tools ? s->cap_tools * 2 : 8;
        tool_t *p = realloc(s->tools, cap * sizeof *p);
        if (!p) return;
        s->tools = p;
        s->cap_tools = cap;
    }
    t = &s->tools[s->n_tools];
    memset(t, 0, sizeof *t);
    t->key = key;
    t->state = T_PENDING;
    t->index = -1;
    char gen[40];
    /* Ids must be unique within the message; a provider that repeats one gets a new one. */
    if (!id || !*id || id_taken(s, id)) {
        cc__astream_id(gen, sizeof gen, "toolu_");
        id = NULL;
    }
    t->id = strdup(id && *id ? id : gen);
    t->name = strdup(name ? name : "");
    if (!t->id || !t->name) {
        free(t->id);
        free(t->name);
        return;
    }
    s->n_tools++;
    if (s->open != B_TOOL) close_open(s, out);
    advance_pending(s, out);
}

void cc_astream_tool_args(cc_astream_t *s, int key, const char *json, size_t len, cc_buf_t *out) {
    if (s->finished || !len) return;
    tool_t *t = tool_find(s, key);
    if (!t || t->state == T_CLOSED) return;
    if (t->state == T_PENDING) {
        cc_buf_append(&t->pending, json, len);
        return;
    }
    tool_feed(s, t, json, len, out);
    if (!open_tool_unfinished(s) && first_pending(s)) advance_pending(s, out);
}

void cc_astream_tool_call(cc_astream_t *s, const char *id, const char *name, const char *json,
                          size_t len, cc_buf_t *out) {
    if (s->finished) return;
    int key = s->next_synth_key--;
    cc_astream_tool_start(s, key, id, name, out);
    cc_astream_tool_args(s, key, json, len, out);
}

/* ---- text and thinking ---------------------------------------------------------------------- */

static bool all_ws(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!is_ws(s[i])) return false;
    return true;
}

void cc_astream_text(cc_astream_t *s, const char *text, size_t len, cc_buf_t *out) {
    if (s->finished || !len) return;
    cc_astream_start(s, NULL, out);
    if (s->open == B_TEXT) {
        delta(s, "text_delta", "text", text, len, out);
        return;
    }
    /* A text block opens only with visible text: white space alone waits (and is dropped if
     * nothing visible follows), so no block is ever empty or blank. */
    if (all_ws(text, len)) {
        cc_buf_append(&s->ws, text, len);
        return;
    }
    cc_buf_t held = s->ws;
    s->ws = (cc_buf_t)CC_BUF_INIT;
    flush_tools(s, out);
    block_start(s, B_TEXT, "{\"type\":\"text\",\"text\":\"\"}", out);
    if (held.len) {
        cc_buf_append(&held, text, len);
        delta(s, "text_delta", "text", held.data, held.len, out);
    } else {
        delta(s, "text_delta", "text", text, len, out);
    }
    cc_buf_free(&held);
}

void cc_astream_thinking(cc_astream_t *s, const char *text, size_t len, cc_buf_t *out) {
    if (s->finished || !len) return;
    cc_astream_start(s, NULL, out);
    if (s->open != B_THINKING || s->signed_) {
        flush_tools(s, out);
        block_start(s, B_THINKING, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}",
                    out);
    }
    delta(s, "thinking_delta", "thinking", text, len, out);
}

void cc_astream_thinking_signature(cc_astream_t *s, const char *sig, cc_buf_t *out) {
    if (s->finished || !sig) return;
    cc_astream_start(s, NULL, out);
    if (s->open != B_THINKING || s->signed_) {
        flush_tools(s, out);
        block_start(s, B_THINKING, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}",
                    out);
    }
    delta(s, "signature_delta", "signature", sig, strlen(sig), out);
    s->signed_ = true;
}

/* ---- other blocks --------------------------------------------------------------------------- */

void cc_astream_raw_block(cc_astream_t *s, const char *block_json, size_t len, cc_buf_t *out) {
    if (s->finished) return;
    cJSON *b = cJSON_ParseWithLength(block_json, len);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(b, "type");
    if (!cJSON_IsObject(b) || !cJSON_IsString(type)) {
        cJSON_Delete(b);
        return;
    }
    if (strcmp(type->valuestring, "text") == 0) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(b, "text");
        if (cJSON_IsString(text))
            cc_astream_text(s, text->valuestring, strlen(text->valuestring), out);
        cJSON_Delete(b);
        return;
    }
    cc_astream_start(s, NULL, out);
    flush_tools(s, out);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");
    cJSON *input = cJSON_GetObjectItemCaseSensitive(b, "input");
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(b, "id");
    if (cJSON_IsString(rid) && cJSON_IsObject(input)) {
        if (id_taken(s, rid->valuestring)) {
            /* A repeated id would make the client's history invalid: the block is left out. */
            cJSON_Delete(b);
            return;
        }
        cc_buf_append(&s->raw_ids, rid->valuestring, strlen(rid->valuestring) + 1);
    }
    if (strcmp(type->valuestring, "server_tool_use") == 0 && cJSON_IsString(name) &&
        strcmp(name->valuestring, "web_search") == 0)
        s->web_searches++;
    if (!s->stream) {
        s->next_index++;
        add_block(s, b);
        return;
    }
    char *text;
    if (cJSON_IsObject(input)) {
        /* A tool-like block: the input follows as one input_json_delta, as Anthropic sends. */
        cJSON *detached = cJSON_DetachItemViaPointer(b, input);
        cJSON_AddItemToObject(b, "input", cJSON_CreateObject());
        text = cJSON_PrintUnformatted(b);
        block_start(s, B_TOOL, text ? text : "{}", out);
        free(text);
        text = cJSON_PrintUnformatted(detached);
        cJSON_Delete(detached);
        if (text && strcmp(text, "{}") != 0)
            delta(s, "input_json_delta", "partial_json", text, strlen(text), out);
        free(text);
        s->open = B_NONE;
        cc_buf_printf(out,
                      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
                      "\"index\":%d}\n\n",
                      s->open_index);
    } else {
        text = cJSON_PrintUnformatted(b);
        block_start(s, B_NONE, text ? text : "{}", out);
        free(text);
        block_stop(s, out);
    }
    cJSON_Delete(b);
}

void cc_astream_web_search(cc_astream_t *s, const char *query, cJSON *results, cc_buf_t *out) {
    char id[48];
    cc__astream_id(id, sizeof id, CC_FOREIGN_SEARCH_ID_PREFIX);
    cJSON *use = cJSON_CreateObject(), *res = cJSON_CreateObject();
    cJSON_AddStringToObject(use, "type", "server_tool_use");
    cJSON_AddStringToObject(use, "id", id);
    cJSON_AddStringToObject(use, "name", "web_search");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(use, "input"), "query", query ? query : "");
    cJSON_AddStringToObject(res, "type", "web_search_tool_result");
    cJSON_AddStringToObject(res, "tool_use_id", id);
    if (!results) results = cJSON_CreateArray();
    if (!cJSON_AddItemToObject(res, "content", results)) cJSON_Delete(results);
    char *a = cJSON_PrintUnformatted(use), *b = cJSON_PrintUnformatted(res);
    if (a && b) {
        cc_astream_raw_block(s, a, strlen(a), out);
        cc_astream_raw_block(s, b, strlen(b), out);
    }
    free(a);
    free(b);
    cJSON_Delete(use);
    cJSON_Delete(res);
}

/* ---- the end -------------------------------------------------------------------------------- */

void cc_astream_ping(cc_astream_t *s, cc_buf_t *out) {
    if (!s->stream || !s->started || s->finished) return;
    cc_buf_puts(out, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
}

static long pick(long a, long b) {
    return a >= 0 ? a : b;
}

static void finish_message(cc_astream_t *s, const char *stop_reason, const char *stop_sequence,
                           const cc_astream_usage_t *u, cc_buf_t *out) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", s->msg_id);
    cJSON_AddStringToObject(m, "type", "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "model", s->model);
    cJSON_AddItemToObject(m, "content", s->content);
    s->content = NULL;
    cJSON_AddStringToObject(m, "stop_reason", stop_reason);
    if (stop_sequence)
        cJSON_AddStringToObject(m, "stop_sequence", stop_sequence);
    else
        cJSON_AddNullToObject(m, "stop_sequence");
    char *text = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    if (!text) return;
    /* The usage is printed by hand so that it reads exactly as in the stream. */
    size_t n = strlen(text);
    cc_buf_append(out, text, n - 1);
    cc_buf_puts(out, ",\"usage\":");
    put_usage(out, u, s->web_searches);
    cc_buf_puts(out, "}");
    free(text);
}

void cc_astream_finish(cc_astream_t *s, const char *stop_reason, const char *stop_sequence,
                       const cc_astream_usage_t *usage, cc_buf_t *out) {
    if (s->finished) return;
    cc_astream_start(s, NULL, out);
    flush_tools(s, out);
    cc_astream_usage_t u = CC_ASTREAM_USAGE_UNKNOWN;
    if (usage) u = *usage;
    u.input_tokens = pick(u.input_tokens, s->start_usage.input_tokens);
    u.output_tokens = pick(u.output_tokens, s->start_usage.output_tokens);
    u.cache_read_input_tokens =
        pick(u.cache_read_input_tokens, s->start_usage.cache_read_input_tokens);
    u.cache_creation_input_tokens =
        pick(u.cache_creation_input_tokens, s->start_usage.cache_creation_input_tokens);
    /* The stop reason agrees with the blocks: "tool_use" needs a tool call, and a turn that
     * ended normally with tool calls is a tool_use turn (some providers say "stop"). */
    if (!stop_reason || !*stop_reason) stop_reason = "end_turn";
    if (strcmp(stop_reason, "tool_use") == 0 && s->tool_blocks == 0)
        stop_reason = "end_turn";
    else if (strcmp(stop_reason, "end_turn") == 0 && s->tool_blocks > 0)
        stop_reason = "tool_use";
    if (strcmp(stop_reason, "stop_sequence") != 0) stop_sequence = NULL;
    s->finished = true;
    if (!s->stream) {
        finish_message(s, stop_reason, stop_sequence, &u, out);
        return;
    }
    cc_buf_puts(out, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{"
                     "\"stop_reason\":");
    put_str(out, stop_reason, strlen(stop_reason));
    cc_buf_puts(out, ",\"stop_sequence\":");
    if (stop_sequence)
        put_str(out, stop_sequence, strlen(stop_sequence));
    else
        cc_buf_puts(out, "null");
    cc_buf_puts(out, "},\"usage\":");
    put_usage(out, &u, s->web_searches);
    cc_buf_puts(out, "}\n\n");
    cc_buf_puts(out, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

int cc_astream_error(cc_astream_t *s, const char *type, const char *message, cc_buf_t *out) {
    if (s->finished) return 0;
    s->finished = true;
    s->failed = true;
    if (!type) type = "api_error";
    if (s->stream) {
        cc_api_error_sse(out, type, message ? message : "");
        return 0;
    }
    cc_api_error_json(out, type, message ? message : "");
    return cc_api_error_status(type);
}
