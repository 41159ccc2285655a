/* fuzz_text.c: the text helpers on arbitrary bytes. UTF-8: every position's sequence length
 * agrees with a decode-and-check reference; cleaning gives UTF-8 that changed exactly the bad
 * bytes; a cut keeps at most the limit and never ends inside a character. JSON escaping: the
 * escaped text inside quotes is a valid JSON string that decodes back to the same bytes (when
 * they were UTF-8). Base64: what is encoded decodes back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/b64.h"
#include "buf.h"
#include "json/json_body.h"
#include "json/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t ref_len(const unsigned char *s, size_t n) {
    static const uint32_t min_of[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
                                 : (s[0] & 0xF8) == 0xF0   ? 4
                                                           : 0;
    if (!len || n < len) return 0;
    uint32_t cp = len == 1 ? s[0] : s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min_of[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    bool valid = true;
    for (size_t i = 0; i < size;) {
        size_t k = cc_utf8_len(s + i, size - i);
        if (k != ref_len(data + i, size - i)) abort();
        if (k && cc_utf8_encode(cc_utf8_decode(s + i, k), (char[4]){0}) != k) abort();
        if (!k) valid = false;
        i += k ? k : 1;
    }

    cc_buf_t clean = CC_BUF_INIT;
    size_t bad = cc_utf8_clean(&clean, s, size);
    if ((bad == 0) != valid) abort();
    if (clean.len != size + 2 * bad) abort(); /* each bad byte became three */
    for (size_t i = 0; i < clean.len;) {
        size_t k = cc_utf8_len(clean.data + i, clean.len - i);
        if (!k) abort();
        i += k;
    }

    size_t max = size ? data[0] % (size + 1) : 0;
    size_t cut = cc_utf8_cut(s, size, max);
    if (cut > max || (size <= max && cut != size)) abort();
    if (cut < size && cut + 3 < max) abort(); /* at most a character's tail is dropped */
    if (cut < size && cut > 0) {
        /* The cut falls where a forward walk has a character boundary. */
        size_t i = 0;
        while (i < cut) {
            size_t k = cc_utf8_len(s + i, size - i);
            i += k ? k : 1;
        }
        if (i != cut) abort();
    }

    cc_buf_t lit = CC_BUF_INIT, back = CC_BUF_INIT;
    cc_buf_puts(&lit, "\"");
    cc_buf_json_escape(&lit, clean.data ? clean.data : "", clean.len);
    cc_buf_puts(&lit, "\"");
    if (cc_json_validate(lit.data, lit.len, NULL) != 0) abort();
    if (cc_json_string_decode(lit.data, lit.len, &back) != 0) abort();
    if (back.len != clean.len || (clean.len && memcmp(back.data, clean.data, clean.len) != 0))
        abort();

    cc_buf_t enc = CC_BUF_INIT, dec = CC_BUF_INIT;
    if (cc_b64_encode(&enc, data, size) != 0) abort();
    if (enc.len != (size + 2) / 3 * 4) abort();
    if (cc_b64_decode(&dec, enc.data, enc.len) != 0 || dec.len != size ||
        (size && memcmp(dec.data, data, size) != 0))
        abort();
    cc_buf_reset(&dec);
    cc_b64_decode(&dec, s, size); /* arbitrary input: no crash, no overrun */

    cc_buf_free(&clean);
    cc_buf_free(&lit);
    cc_buf_free(&back);
    cc_buf_free(&enc);
    cc_buf_free(&dec);
    return 0;
}
