/* utf8.c: the parts of utf8.h that are not inline: cleaning and cutting text. */
#include "json/utf8.h"

#include <string.h>

bool cc_utf8_valid(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint64_t x;
        while (n - i >= 8 && (memcpy(&x, s + i, 8), (x & 0x8080808080808080ull) == 0)) i += 8;
        if (i >= n) break;
        size_t k = cc_utf8_len(s + i, n - i);
        if (!k) return false;
        i += k;
    }
    return true;
}

size_t cc_utf8_clean(cc_buf_t *out, const char *s, size_t n) {
    size_t bad = 0, run = 0, i = 0;
    while (i < n) {
        size_t k = cc_utf8_len(s + i, n - i);
        if (k) {
            i += k;
            continue;
        }
        cc_buf_append(out, s + run, i - run);
        cc_buf_puts(out, "\xEF\xBF\xBD");
        bad++;
        run = ++i;
    }
    cc_buf_append(out, s + run, n - run);
    return bad;
}

size_t cc_utf8_cut(const char *s, size_t n, size_t max) {
    if (n <= max) return n;
    /* The byte at max begins the rest, unless it continues a sequence that began at most three
     * bytes earlier and runs past max. */
    size_t lead = max;
    while (lead > 0 && max - lead < 3 && ((unsigned char)s[lead] & 0xC0) == 0x80)
        lead--;
    if (lead < max && cc_utf8_len(s + lead, n - lead) > max - lead) return lead;
    return max;
}
