/* fuzz_sse.c: the SSE parser on arbitrary bytes. The first byte chooses where the input is
 * split (and a small event size limit); the rest is the stream. Checks that the events do not
 * depend on the split, that every event is NUL-terminated where it says, and that writing an
 * event with cc_sse_write and parsing it again gives the same event. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    cc_buf_t log; /* every event: name, NUL, data, NUL */
    int n;
} seen_t;

static int collect(void *arg, const cc_sse_event_t *ev) {
    seen_t *s = arg;
    if (ev->data[ev->data_len] != '\0' || !ev->event || !ev->id) abort();
    cc_buf_append(&s->log, ev->event, strlen(ev->event) + 1);
    cc_buf_append(&s->log, ev->data, ev->data_len);
    cc_buf_append(&s->log, "", 1);
    s->n++;
    return 0;
}

static int parse(const char *in, size_t n, size_t split, size_t limit, seen_t *s) {
    cc_sse_parser_t p;
    cc_sse_parser_init(&p, collect, s);
    p.max_event_bytes = limit;
    int rc = cc_sse_feed(&p, in, split);
    if (rc == 0) rc = cc_sse_feed(&p, in + split, n - split);
    if (rc == 0) rc = cc_sse_finish(&p);
    cc_sse_parser_free(&p);
    return rc;
}

/* An event written by cc_sse_write parses back to itself. */
static int roundtrip(void *arg, const cc_sse_event_t *ev) {
    (void)arg;
    if (strchr(ev->event, '\r') || strchr(ev->event, '\n')) abort(); /* cannot hold a line end */
    cc_buf_t frame = CC_BUF_INIT;
    seen_t again = {CC_BUF_INIT, 0};
    cc_sse_write(&frame, *ev->event ? ev->event : NULL, ev->data, ev->data_len);
    if (parse(frame.data, frame.len, frame.len / 2, 0, &again) != 0 || again.n != 1) abort();
    size_t name_len = strlen(ev->event);
    if (memcmp(again.log.data, ev->event, name_len + 1) != 0) abort();
    if (again.log.len != name_len + 1 + ev->data_len + 1 ||
        memcmp(again.log.data + name_len + 1, ev->data, ev->data_len) != 0)
        abort();
    cc_buf_free(&frame);
    cc_buf_free(&again.log);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    size_t split = n ? data[0] % (n + 1) : 0;
    size_t limit = data[0] & 0x80 ? 0 : 64;
    seen_t whole = {CC_BUF_INIT, 0}, parts = {CC_BUF_INIT, 0};
    int rc1 = parse(in, n, n, limit, &whole);
    int rc2 = parse(in, n, split, limit, &parts);
    if (rc1 != rc2) abort();
    if (rc1 == 0 && (whole.n != parts.n || whole.log.len != parts.log.len ||
                     (whole.log.len && memcmp(whole.log.data, parts.log.data, whole.log.len) != 0)))
        abort();
    if (rc1 == 0) {
        cc_sse_parser_t p;
        cc_sse_parser_init(&p, roundtrip, NULL);
        cc_sse_feed(&p, in, n);
        cc_sse_finish(&p);
        cc_sse_parser_free(&p);
    }
    cc_buf_free(&whole.log);
    cc_buf_free(&parts.log);
    return 0;
}
