/* sink_usage.c: reads the answer's token usage as it passes (see sinks.h and usage.h). The
 * bytes go on unchanged and at once; the reader keeps at most one usage event (or a whole
 * answer's usage member). Only a 2xx answer in plain bytes is read: a compressed body, an
 * error or a status that turns into one at the end leaves the usage unseen (a compressed one
 * says so in ans->unread_encoding, for the log line). ccproxy asks upstreams for plain
 * /v1/messages answers (exchange.c), so only an upstream that ignores that compresses. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sinks.h"
#include "usage.h"

typedef struct {
    cc_sink_t base;
    cc_answer_t *ans;
    cc_usage_reader_t *reader; /* NULL: this answer is not read */
} usage_sink_t;

static bool plain(const cc_headers_t *h) {
    const char *ce = cc_headers_get(h, "content-encoding");
    return !ce || !*ce || strcasecmp(ce, "identity") == 0;
}

/* The content-encoding as it may go in a log line: its token characters, cut short. */
static void encoding_name(const char *ce, char *out, size_t n) {
    size_t k = 0;
    for (; ce && *ce && k + 1 < n; ce++)
        if (isalnum((unsigned char)*ce) || *ce == '-' || *ce == ',') out[k++] = *ce;
    out[k] = '\0';
    if (!k) snprintf(out, n, "unknown");
}

static void usage_head(cc_sink_t *s, int status, cc_headers_t *h, long long cl) {
    usage_sink_t *k = (usage_sink_t *)s;
    cc_usage_reader_free(k->reader);
    k->reader = NULL;
    memset(&k->ans->usage, 0, sizeof k->ans->usage);
    k->ans->unread_encoding[0] = '\0';
    k->ans->stream_read = false;
    cc_usage_form_t form = cc_usage_form(cc_headers_get(h, "content-type"));
    bool ok = status >= 200 && status <= 299 && form != CC_USAGE_NONE;
    if (ok && plain(h)) {
        k->reader = cc_usage_reader_new(form, &k->ans->usage); /* NULL: not read, no harm */
        k->ans->stream_read = k->reader && form == CC_USAGE_SSE;
    }
    else if (ok)
        encoding_name(cc_headers_get(h, "content-encoding"), k->ans->unread_encoding,
                      sizeof k->ans->unread_encoding);
    cc_sink_head(s->next, status, h, cl);
}

static void usage_body(cc_sink_t *s, const char *data, size_t len) {
    usage_sink_t *k = (usage_sink_t *)s;
    if (k->reader) cc_usage_feed(k->reader, data, len);
    cc_sink_body(s->next, data, len);
}

static void usage_end(cc_sink_t *s, int status) {
    usage_sink_t *k = (usage_sink_t *)s;
    if (k->reader) {
        cc_usage_finish(k->reader);
        if (status > 0 && (status < 200 || status > 299))
            memset(&k->ans->usage, 0, sizeof k->ans->usage);
    }
    cc_sink_end(s->next, status);
}

static void usage_free(cc_sink_t *s) {
    cc_usage_reader_free(((usage_sink_t *)s)->reader);
    free(s);
}

static const cc_sink_ops_t usage_ops = {usage_head, usage_body, usage_end, usage_free};

cc_sink_t *cc_sink_usage_new(cc_answer_t *ans) {
    usage_sink_t *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->base.ops = &usage_ops;
    k->ans = ans;
    return &k->base;
}
