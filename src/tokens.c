/* tokens.c: input-token estimates for Anthropic Messages request bodies (see tokens.h).
 *
 * This is an ESTIMATE, not a count. Claude's tokenizer is not public, so no local count can be
 * exact; the aim is a number close enough for routing rules ("is this request over 60k
 * tokens?"), computed in one walk over the raw body without decoding it into a tree.
 *
 * What counts. The body is walked once, tracking where the scanner is:
 * - `system` as a string, or as an array of blocks;
 * - `messages[i].content` as a string, or as an array of blocks;
 * - in a block: `text`, `thinking`, `name`, `title` and `context` strings, the JSON text of a
 *   tool_use `input`, and `content` (a tool_result's or search_result's string or nested
 *   blocks, recursively); a search_result's `source` string;
 * - `tools[k]`: `name`, `description` and the JSON text of `input_schema`;
 * - a small overhead per message, per block and per tool (role markers, block framing);
 * - an image block counts CC_TOKENS_IMAGE and a document block CC_TOKENS_DOCUMENT, each at
 *   most the byte size of the block's `source` object. Inline (base64) data of any image
 *   above about 1.2 KB counts the full amount, whatever its size; a short URL or file source
 *   counts little. The cap is what lets cc_tokens_upper_bound be the body length (below).
 * Not counted: base64 `source.data`, thinking `signature`, redacted_thinking `data`,
 * `cache_control`, ids, `metadata` and every other top-level member (model, max_tokens,
 * thinking config, ...).
 *
 * How a string is counted. Like the pre-tokenization step of a BPE tokenizer, the text (JSON
 * escapes decoded on the fly: "\n" is a newline, "\u00e9" is e-acute) is split into runs:
 * - letters (ASCII, and two-byte UTF-8 letters such as Latin accents, Greek or Cyrillic with
 *   weight 2): ceil(weight / 6), so "the" and "tokens" are 1, "information" is 2;
 * - digits: ceil(length / 3);
 * - a single space is free (BPE joins it to the next word); a longer run of n spaces and
 *   tabs costs ceil((n - 1) / 8);
 * - newlines: ceil(length / 2), since "\n\n" is one token;
 * - punctuation: 1 per character, but a run of one repeated character ("----", "====")
 *   costs ceil(length / 4);
 * - CJK ideographs, kana and Hangul: 1 per character; other three- and four-byte characters
 *   (symbols, emoji): 2; U+0080-U+00BF: 1; general punctuation (U+2000-U+206F, dashes and
 *   curly quotes) joins the punctuation runs.
 * JSON text (tool input, input schemas) goes through the same rules byte for byte, quotes and
 * braces included. Calibration: English prose should land near 1 token per 4 characters and
 * JSON or code near 1 per 3, the usual ratios for Claude's tokenizer. On the Claude Code
 * fixtures the system prompt and tool descriptions come out at about 3.7 characters per
 * token and the tool input schemas at about 2.9; dividing words by 4 instead of 6 would put
 * prose near 3.2, too dense. spec/c/test_tokens.c prints and checks these ratios.
 *
 * The bound. Every rule above costs at most one token per byte of the text it covers, the
 * per-message, per-block and per-tool overheads (3) are at most the bytes of their object's
 * braces plus the comma or bracket after it, and an image or document costs at most the bytes
 * of its source, which nothing else counts. The covered byte ranges are disjoint, so the
 * estimate never exceeds the body length, which is therefore an O(1) upper bound. */
#include "tokens.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "json/json_body.h"
#include "json/utf8.h"

#define CC_TOKENS_MESSAGE 3
#define CC_TOKENS_BLOCK 3
#define CC_TOKENS_TOOL 3
#define CC_TOKENS_IMAGE 1600
#define CC_TOKENS_DOCUMENT 3000
#define CC_TOKENS_MAX_DEPTH 512

typedef const unsigned char *uptr;

/* The per-string counter. Every character has a key, and characters with equal keys in a row
 * form a run: letters share one key, as do digits, spaces and tabs, and newlines; each
 * punctuation character is its own key, so only repeats of one character form a run. A run
 * charges a token at the positions its class marks: 0, 6, 12, ... for letters (ceil(n / 6)),
 * every third digit, spaces at 1, 9, 17, ... (a single space is free), every second newline,
 * every fourth repeat of a punctuation character. The marks repeat every 24 characters: a
 * 64-bit mask per class holds positions 0-63, a position past 47 folds back by multiples of
 * 24, and counting needs no unpredictable branch per byte. */
enum { C_WORD, C_DIGIT, C_SPACE, C_NL, C_PUNCT, C_SLOW };
static const uint64_t run_marks[] = {
    [C_WORD] = 0x1041041041041041, [C_DIGIT] = 0x9249249249249249, [C_SPACE] = 0x0202020202020202,
    [C_NL] = 0x5555555555555555,   [C_PUNCT] = 0x1111111111111111,
};
#define KEY_NONE 0x1000u    /* no run in progress */
#define KEY_CLASS 0x100u    /* + class: the key of letters, digits, spaces and newlines */
#define KEY_UNIPUNCT 0x200u /* + offset: U+2000-U+206F, general punctuation */

/* Classes of bytes inside a string literal: the closing quote, escapes, control characters
 * (invalid there) and bytes of multibyte characters take the slow path. */
/* clang-format off */
static const unsigned char str_class[256] = {
    [0 ... 31] = C_SLOW,      [' '] = C_SPACE,          ['!'] = C_PUNCT,
    ['"'] = C_SLOW,           ['#' ... '/'] = C_PUNCT,  ['0' ... '9'] = C_DIGIT,
    [':' ... '@'] = C_PUNCT,  ['A' ... 'Z'] = C_WORD,   ['['] = C_PUNCT,
    ['\\'] = C_SLOW,          [']' ... '`'] = C_PUNCT,  ['a' ... 'z'] = C_WORD,
    ['{' ... 127] = C_PUNCT,  [128 ... 255] = C_SLOW,
};
/* clang-format on */

/* Classes of bytes of raw JSON text (already validated) and of decoded characters below
 * U+0080; control characters count like punctuation. */
/* clang-format off */
static const unsigned char raw_class[256] = {
    [0 ... 8] = C_PUNCT,      ['\t'] = C_SPACE,         ['\n'] = C_NL,
    [11 ... 12] = C_PUNCT,    ['\r'] = C_NL,            [14 ... 31] = C_PUNCT,
    [' '] = C_SPACE,          ['!' ... '/'] = C_PUNCT,  ['0' ... '9'] = C_DIGIT,
    [':' ... '@'] = C_PUNCT,  ['A' ... 'Z'] = C_WORD,   ['[' ... '`'] = C_PUNCT,
    ['a' ... 'z'] = C_WORD,   ['{' ... 127] = C_PUNCT,  [128 ... 255] = C_SLOW,
};
/* clang-format on */

static bool is_cjk(uint32_t cp) {
    return (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFF00 && cp <= 0xFFEF);
}

/* The multibyte character at p: its code point in *cp and the byte after it, or NULL when it
 * is not well-formed. Out of line, so the counting loop (mostly ASCII) stays small. */
static __attribute__((noinline)) uptr next_char(uptr p, uptr e, uint32_t *cp) {
    size_t n = cc_utf8_len((const char *)p, (size_t)(e - p));
    if (!n) return NULL;
    *cp = cc_utf8_decode((const char *)p, n);
    return p + n;
}

/* The escape at p (a backslash): its code point in *cp and the byte after it, or NULL. */
static uptr decode_escape(uptr p, uptr e, uint32_t *cp) {
    return (uptr)cc__json_unescape((const char *)p, (const char *)e, cp);
}

/* One character of a run: a new key starts a run at position i; a token is charged when the
 * position within the run is marked. Branch-free: text makes these choices unpredictable. */
#define STEP(key_, cls_)                                                                           \
    do {                                                                                           \
        unsigned k_ = (key_);                                                                      \
        size_t new_ = 0 - (size_t)(k_ != prev), d_;                                                \
        start = (start & ~new_) | (i & new_);                                                      \
        d_ = i - start;                                                                            \
        if (__builtin_expect(d_ >= 48, 0)) d_ = 24 + d_ % 24;                                      \
        tokens += (run_marks[cls_] >> d_) & 1;                                                     \
        prev = k_;                                                                                 \
        i++;                                                                                       \
    } while (0)

/* Counts text from p: in a string literal (`literal`: p is just past the opening quote,
 * escapes are decoded and the literal is checked as the scanner checks it), or raw JSON text
 * up to e (already validated). Returns the byte after the closing quote (or e), or NULL when
 * the literal is invalid. Inlined twice, so each mode gets its own loop. */
static inline __attribute__((always_inline)) uptr count_text(uptr p, uptr e, bool literal,
                                                             long *out) {
    const unsigned char *cls_of = literal ? str_class : raw_class;
    long tokens = 0;
    unsigned prev = KEY_NONE;
    size_t i = 0, start = 0; /* position in the text, and where the current run began */
    for (;;) {
        unsigned ch, cls;
        uint32_t cp;
        if (p >= e) {
            if (literal) return NULL; /* no closing quote */
            break;
        }
        ch = *p;
        cls = cls_of[ch];
        if (cls != C_SLOW) {
            STEP(cls == C_PUNCT ? ch : KEY_CLASS + cls, cls);
            p++;
            continue;
        }
        if (ch == '"') { /* only slow inside a literal */
            p++;
            break;
        }
        if (ch == '\\') { /* likewise */
            p = decode_escape(p, e, &cp);
            if (!p) return NULL;
        } else if (ch < 0x80) {
            return NULL; /* a raw control character */
        } else {
            p = next_char(p, e, &cp);
            if (!p) return NULL;
        }
        if (cp < 0x80) {
            cls = raw_class[cp];
            STEP(cls == C_PUNCT ? cp : KEY_CLASS + cls, cls);
        } else if (cp < 0xC0) {
            tokens += 1; /* Latin-1 symbols and no-break space */
            prev = KEY_NONE;
        } else if (cp < 0x800) {
            STEP(KEY_CLASS + C_WORD, C_WORD); /* two-byte letters weigh 2 */
            STEP(KEY_CLASS + C_WORD, C_WORD);
        } else if (cp >= 0x2000 && cp <= 0x206F) {
            STEP(KEY_UNIPUNCT + (cp - 0x2000), C_PUNCT);
        } else {
            tokens += is_cjk(cp) ? 1 : 2;
            prev = KEY_NONE;
        }
    }
    *out += tokens;
    return p;
}

static uptr count_literal(uptr p, uptr e, long *out) {
    return count_text(p, e, true, out);
}

static void count_raw(uptr p, uptr e, long *out) {
    count_text(p, e, false, out);
}

/* The walk over the body: a cursor, the counter, and a flag set on invalid JSON. */
typedef struct {
    const char *p, *end;
    long tokens;
    bool bad;
} walk_t;

typedef struct {
    const char *lit;
    size_t len;
    bool escaped;
} member_key_t;

static char peek(walk_t *w) {
    w->p = cc__json_skip_ws(w->p, w->end);
    return w->p < w->end ? *w->p : 0;
}

/* Skips the value at the cursor, which sits inside `depth` containers. */
static void skip(walk_t *w, int depth) {
    const char *q;
    if (w->bad) return;
    q = cc__json_skip_value(w->p, w->end, depth);
    if (q)
        w->p = q;
    else
        w->bad = true;
}

/* Enters the object or array at the cursor (the caller saw its opening character). */
static bool enter(walk_t *w, int depth) {
    if (w->bad || depth >= CC_TOKENS_MAX_DEPTH) {
        w->bad = true;
        return false;
    }
    w->p++;
    return true;
}

static bool key_is(const member_key_t *k, const char *name, size_t len) {
    return cc__json_key_equals(k->lit, k->len, k->escaped, name, len);
}
#define KEY_IS(k, name) key_is(k, name, sizeof(name) - 1)

/* Moves to the next member of the entered object: true with its key and the cursor at its
 * value, false after the closing brace or on invalid JSON. */
static bool next_member(walk_t *w, bool *first, member_key_t *k) {
    const char *q;
    char ch;
    if (w->bad) return false;
    ch = peek(w);
    if (ch == '}') {
        w->p++;
        return false;
    }
    if (!*first) {
        if (ch != ',') goto bad;
        w->p++;
        ch = peek(w);
    }
    *first = false;
    if (ch != '"') goto bad;
    q = cc__json_skip_string(w->p, w->end, &k->escaped);
    if (!q) goto bad;
    k->lit = w->p;
    k->len = (size_t)(q - w->p);
    w->p = q;
    if (peek(w) != ':') goto bad;
    w->p++;
    peek(w);
    return true;
bad:
    w->bad = true;
    return false;
}

/* Moves to the next element of the entered array: true with the cursor at it. */
static bool next_item(walk_t *w, bool *first) {
    char ch;
    if (w->bad) return false;
    ch = peek(w);
    if (ch == ']') {
        w->p++;
        return false;
    }
    if (!*first) {
        if (ch != ',') {
            w->bad = true;
            return false;
        }
        w->p++;
        peek(w);
    }
    *first = false;
    return true;
}

/* Counts the string at the cursor; anything else is skipped. */
static void walk_string(walk_t *w, int depth) {
    uptr q;
    if (peek(w) != '"') {
        skip(w, depth);
        return;
    }
    q = count_literal((uptr)w->p + 1, (uptr)w->end, &w->tokens);
    if (q)
        w->p = (const char *)q;
    else
        w->bad = true;
}

/* Counts the JSON text of the value at the cursor. */
static void walk_raw(walk_t *w, int depth) {
    const char *s;
    peek(w);
    s = w->p;
    skip(w, depth);
    if (!w->bad) count_raw((uptr)s, (uptr)w->p, &w->tokens);
}

static void walk_block(walk_t *w, int depth);

/* A content value: a string, or an array of blocks. */
static void walk_content(walk_t *w, int depth) {
    bool first = true;
    char ch = peek(w);
    if (ch == '"') {
        walk_string(w, depth);
        return;
    }
    if (ch != '[') {
        skip(w, depth);
        return;
    }
    if (!enter(w, depth)) return;
    while (next_item(w, &first)) {
        if (peek(w) == '{')
            walk_block(w, depth + 1);
        else
            skip(w, depth + 1);
    }
}

/* A content block (the cursor is at its '{'). Keys decide what counts, whatever the type;
 * the type only picks the fixed cost of images and documents. */
static void walk_block(walk_t *w, int depth) {
    enum { PLAIN, IMAGE, DOCUMENT } kind = PLAIN;
    size_t source_len = 0;
    long fixed = 0;
    member_key_t k;
    bool first = true;

    if (!enter(w, depth)) return;
    w->tokens += CC_TOKENS_BLOCK;
    while (next_member(w, &first, &k)) {
        if (KEY_IS(&k, "type")) {
            const char *q;
            bool escaped;
            if (peek(w) != '"') {
                skip(w, depth + 1);
                continue;
            }
            q = cc__json_skip_string(w->p, w->end, &escaped);
            if (!q) {
                w->bad = true;
                break;
            }
            member_key_t v = {w->p, (size_t)(q - w->p), escaped};
            kind = KEY_IS(&v, "image") ? IMAGE : KEY_IS(&v, "document") ? DOCUMENT : PLAIN;
            w->p = q;
        } else if (KEY_IS(&k, "text") || KEY_IS(&k, "thinking") || KEY_IS(&k, "name") ||
                   KEY_IS(&k, "title") || KEY_IS(&k, "context")) {
            walk_string(w, depth + 1);
        } else if (KEY_IS(&k, "input")) {
            walk_raw(w, depth + 1);
        } else if (KEY_IS(&k, "content")) {
            walk_content(w, depth + 1);
        } else if (KEY_IS(&k, "source")) {
            if (peek(w) == '{') {
                const char *s = w->p;
                skip(w, depth + 1);
                source_len = (size_t)(w->p - s);
            } else {
                walk_string(w, depth + 1);
            }
        } else {
            skip(w, depth + 1);
        }
    }
    if (kind == IMAGE) fixed = CC_TOKENS_IMAGE;
    if (kind == DOCUMENT) fixed = CC_TOKENS_DOCUMENT;
    w->tokens += (size_t)fixed < source_len ? fixed : (long)source_len;
}

static void walk_message(walk_t *w, int depth) {
    member_key_t k;
    bool first = true;
    if (peek(w) != '{') {
        skip(w, depth);
        return;
    }
    if (!enter(w, depth)) return;
    w->tokens += CC_TOKENS_MESSAGE;
    while (next_member(w, &first, &k)) {
        if (KEY_IS(&k, "content"))
            walk_content(w, depth + 1);
        else
            skip(w, depth + 1);
    }
}

static void walk_tool(walk_t *w, int depth) {
    member_key_t k;
    bool first = true;
    if (peek(w) != '{') {
        skip(w, depth);
        return;
    }
    if (!enter(w, depth)) return;
    w->tokens += CC_TOKENS_TOOL;
    while (next_member(w, &first, &k)) {
        if (KEY_IS(&k, "name") || KEY_IS(&k, "description"))
            walk_string(w, depth + 1);
        else if (KEY_IS(&k, "input_schema"))
            walk_raw(w, depth + 1);
        else
            skip(w, depth + 1);
    }
}

/* Walks an array calling `each` on every element, or skips a value that is not an array. */
static void walk_array(walk_t *w, int depth, void (*each)(walk_t *, int)) {
    bool first = true;
    if (peek(w) != '[') {
        skip(w, depth);
        return;
    }
    if (!enter(w, depth)) return;
    while (next_item(w, &first))
        each(w, depth + 1);
}

static void walk_system_item(walk_t *w, int depth) {
    if (peek(w) == '{')
        walk_block(w, depth);
    else
        skip(w, depth);
}

long cc_tokens_estimate(const char *body, size_t len) {
    walk_t w = {body, body ? body + len : body, 0, false};
    member_key_t k;
    bool first = true;

    if (!body || peek(&w) != '{') return -1;
    enter(&w, 0);
    while (next_member(&w, &first, &k)) {
        if (KEY_IS(&k, "system")) {
            if (peek(&w) == '"')
                walk_string(&w, 1);
            else
                walk_array(&w, 1, walk_system_item);
        } else if (KEY_IS(&k, "messages")) {
            walk_array(&w, 1, walk_message);
        } else if (KEY_IS(&k, "tools")) {
            walk_array(&w, 1, walk_tool);
        } else {
            skip(&w, 1);
        }
    }
    if (w.bad || cc__json_skip_ws(w.p, w.end) != w.end) return -1;
    return w.tokens;
}

long cc_tokens_upper_bound(const char *body, size_t len) {
    (void)body;
    return len > (size_t)LONG_MAX ? LONG_MAX : (long)len;
}
