/* test_sse.c: the SSE parser (line endings, fields, comments, BOM, limits, every split of the
 * input) and the writer (frames that parse back to the same event). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http/sse.h"

/* Events as text, one per line: "<event>|<id>|<data with \n shown as \\n>". */
static int collect(void *arg, const cc_sse_event_t *ev) {
    cc_buf_t *b = arg;
    cc_buf_printf(b, "%s|%s|", ev->event, ev->id);
    for (size_t i = 0; i < ev->data_len; i++) {
        if (ev->data[i] == '\n')
            cc_buf_puts(b, "\\n");
        else
            cc_buf_append(b, ev->data + i, 1);
    }
    cc_buf_puts(b, "\n");
    return 0;
}

/* Parses `in` fed as the pieces [0,k) and [k,n); k == n + 1 means one byte at a time. */
static void parse_split(const char *in, size_t n, size_t k, cc_buf_t *events) {
    cc_sse_parser_t p;
    cc_sse_parser_init(&p, collect, events);
    if (k > n) {
        for (size_t i = 0; i < n; i++)
            CHECK_EQ_INT(cc_sse_feed(&p, in + i, 1), 0);
    } else {
        CHECK_EQ_INT(cc_sse_feed(&p, in, k), 0);
        CHECK_EQ_INT(cc_sse_feed(&p, in + k, n - k), 0);
    }
    CHECK_EQ_INT(cc_sse_finish(&p), 0);
    cc_sse_parser_free(&p);
}

/* The events of `in`, checked to be the same for every split. */
static void expect(const char *in, size_t n, const char *want) {
    cc_buf_t whole = CC_BUF_INIT;
    parse_split(in, n, n, &whole);
    CHECK_EQ_STR(whole.data ? whole.data : "", want);
    int differing = 0;
    for (size_t k = 0; k <= n + 1; k++) {
        cc_buf_t got = CC_BUF_INIT;
        parse_split(in, n, k, &got);
        if (strcmp(got.data ? got.data : "", want) != 0) differing++;
        cc_buf_free(&got);
    }
    CHECK_EQ_INT(differing, 0);
    cc_buf_free(&whole);
}

#define EXPECT(in, want) expect(in, sizeof(in) - 1, want)

static void test_basic_fields(void) {
    EXPECT("data: hello\n\n", "||hello\n");
    EXPECT("event: message_start\ndata: {\"a\":1}\n\n", "message_start||{\"a\":1}\n");
    EXPECT("id: 7\nevent: x\ndata: a\ndata: b\n\n", "x|7|a\\nb\n");
    /* One space after the colon goes, a second stays; no space is fine. */
    EXPECT("data:x\n\ndata:  y\n\n", "||x\n|| y\n");
    /* A field name alone has an empty value; "data" then dispatches empty data. */
    EXPECT("data\n\n", "||\n");
    EXPECT("data:\n\n", "||\n");
    /* Two data lines with empty values join to one newline. */
    EXPECT("data:\ndata:\n\n", "||\\n\n");
}

static void test_line_endings(void) {
    EXPECT("data: a\r\n\r\ndata: b\r\rdata: c\n\n", "||a\n||b\n||c\n");
    /* A CR at the end of one piece and its LF in the next count once. */
    EXPECT("data: a\r\ndata: b\r\n\r\n", "||a\\nb\n");
    /* CR CR is two line ends: a blank line dispatches. */
    EXPECT("data: a\r\r", "||a\n");
}

static void test_comments_and_unknown(void) {
    EXPECT(": keep-alive\n\n: OPENROUTER PROCESSING\ndata: x\n\n", "||x\n");
    EXPECT("retry: 100\nfoo: bar\ndata: y\n\n", "||y\n");
    /* An event with no data is not dispatched, and its name does not leak into the next. */
    EXPECT("event: lonely\n\ndata: z\n\n", "||z\n");
    /* A blank line alone does nothing. */
    EXPECT("\n\n\ndata: w\n\n", "||w\n");
}

static void test_bom(void) {
    EXPECT("\xEF\xBB\xBF"
           "data: a\n\n",
           "||a\n");
    /* Only at the very start: later it is part of a field name (unknown, ignored). */
    EXPECT("data: a\n\n\xEF\xBB\xBF"
           "data: b\n\n",
           "||a\n");
    /* Two bytes of a BOM then a line end: not a BOM, the bytes stay (an unknown field). */
    EXPECT("\xEF\xBB\ndata: c\n\n", "||c\n");
}

static void test_finish_delivers_last_event(void) {
    EXPECT("data: tail", "||tail\n");
    EXPECT("data: a\n\ndata: b\n", "||a\n||b\n");
    EXPECT("event: e\ndata: t\r", "e||t\n");
}

static int stop_at_second(void *arg, const cc_sse_event_t *ev) {
    int *n = arg;
    (void)ev;
    return ++*n == 2 ? 42 : 0;
}

static void test_callback_stops(void) {
    int n = 0;
    cc_sse_parser_t p;
    cc_sse_parser_init(&p, stop_at_second, &n);
    const char in[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    CHECK_EQ_INT(cc_sse_feed(&p, in, sizeof in - 1), 42);
    CHECK_EQ_INT(n, 2);
    cc_sse_parser_free(&p);
}

static void test_limit(void) {
    cc_buf_t events = CC_BUF_INIT;
    cc_sse_parser_t p;
    cc_sse_parser_init(&p, collect, &events);
    p.max_event_bytes = 16;
    CHECK_EQ_INT(cc_sse_feed(&p, "data: 0123456789\n\n", 18), 0);
    /* A line that grows past the limit across pieces, then data lines that add up past it. */
    CHECK_EQ_INT(cc_sse_feed(&p, "data: 0123456789", 16), 0);
    CHECK_EQ_INT(cc_sse_feed(&p, "abcdefgh", 8), -1);
    cc_sse_parser_free(&p);
    cc_sse_parser_init(&p, collect, &events);
    p.max_event_bytes = 16;
    CHECK_EQ_INT(cc_sse_feed(&p, "data: 0123456789\n", 17), 0);
    CHECK_EQ_INT(cc_sse_feed(&p, "data: 0123456789\n", 17), -1);
    cc_sse_parser_free(&p);
    CHECK_EQ_STR(events.data, "||0123456789\n");
    cc_buf_free(&events);
}

static void roundtrip(const char *name, const char *data, size_t len, const char *want) {
    cc_buf_t frame = CC_BUF_INIT, events = CC_BUF_INIT;
    cc_sse_write(&frame, name, data, len);
    parse_split(frame.data, frame.len, frame.len, &events);
    CHECK_EQ_STR(events.data, want);
    cc_buf_free(&frame);
    cc_buf_free(&events);
}

static void test_writer(void) {
    cc_buf_t frame = CC_BUF_INIT;
    cc_sse_write(&frame, "ping", "{\"type\":\"ping\"}", 15);
    CHECK_EQ_STR(frame.data, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
    cc_buf_reset(&frame);
    cc_sse_write(&frame, NULL, "a\nb", 3);
    CHECK_EQ_STR(frame.data, "data: a\ndata: b\n\n");
    cc_buf_free(&frame);
    roundtrip("x", "", 0, "x||\n");
    roundtrip("x", "line1\nline2", 11, "x||line1\\nline2\n");
    roundtrip("x", "end\n", 4, "x||end\\n\n");
    roundtrip("x", "\n\n", 2, "x||\\n\\n\n");
    /* CR and CRLF inside data cannot survive SSE framing: they become LF. */
    roundtrip("x", "a\r\nb\rc", 6, "x||a\\nb\\nc\n");
    roundtrip(NULL, " lead", 5, "|| lead\n");
}

int main(void) {
    CC_RUN(test_basic_fields);
    CC_RUN(test_line_endings);
    CC_RUN(test_comments_and_unknown);
    CC_RUN(test_bom);
    CC_RUN(test_finish_delivers_last_event);
    CC_RUN(test_callback_stops);
    CC_RUN(test_limit);
    CC_RUN(test_writer);
    return CC_DONE();
}
