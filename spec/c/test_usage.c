/* test_usage.c: the usage reader (usage.h). Event streams give the same usage however their
 * bytes are split (whole, byte by byte, random pieces); message_delta's fields replace
 * message_start's; other events are never kept, however large; an oversize usage event is
 * skipped; line endings, data lines and byte order marks as SSE has them; how a stream ended
 * (message_stop, an error event, neither). Whole answers: the
 * top-level usage only, nothing from invalid JSON; the sum and the log line's field. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "usage.h"

/* A realistic Anthropic stream: message_start (with its usage), ping, one text block,
 * message_delta (the final usage) and message_stop. */
static const char STREAM[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\","
    "\"role\":\"assistant\",\"model\":\"claude-sonnet-5-5\",\"content\":[],\"stop_reason\":null,"
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":300,"
    "\"cache_read_input_tokens\":4000,\"output_tokens\":1,\"service_tier\":\"standard\"}}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Hello \\\"usage\\\": {\\\"output_tokens\\\": 99}\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":42}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

/* A whole Messages answer; a "usage" member also inside a tool's input, which is not it. */
static const char WHOLE[] =
    "{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-5-5\","
    "\"content\":[{\"type\":\"text\",\"text\":\"a \\\"usage\\\" \\u00e9\\n\"},"
    "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"T\",\"input\":{\"usage\":"
    "{\"input_tokens\":777,\"output_tokens\":777},\"n\":[1,-2.5e+3,0,true,false,null]}}],"
    "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
    "\"usage\":{\"input_tokens\":7,\"cache_creation_input_tokens\":0,"
    "\"cache_read_input_tokens\":20,\"output_tokens\":33,"
    "\"server_tool_use\":{\"web_search_requests\":2,\"web_fetch_requests\":1}}}\n";

static unsigned long rng_state = 1;
static unsigned long rng(void) {
    rng_state = rng_state * 6364136223846793005ul + 1442695040888963407ul;
    return rng_state >> 33;
}

/* Reads `in` in pieces: chunk 0 whole, 1 byte by byte, otherwise random pieces of 1..chunk
 * bytes. `limit` lowers the event cap (0: the default). */
static cc_usage_t read_as(cc_usage_form_t form, const char *in, size_t n, size_t chunk,
                          size_t limit) {
    cc_usage_t u;
    cc_usage_reader_t *r = cc_usage_reader_new(form, &u);
    CHECK(r != NULL);
    cc_usage_reader_limit(r, limit);
    size_t i = 0;
    while (i < n) {
        size_t k = chunk == 0 ? n - i : chunk == 1 ? 1 : 1 + rng() % chunk;
        if (k > n - i) k = n - i;
        cc_usage_feed(r, in + i, k);
        i += k;
    }
    cc_usage_finish(r);
    cc_usage_finish(r); /* twice is fine */
    cc_usage_feed(r, "x", 1); /* after the end: ignored */
    cc_usage_reader_free(r);
    return u;
}

static bool same(const cc_usage_t *a, const cc_usage_t *b) {
    return a->seen == b->seen && a->input == b->input && a->output == b->output &&
           a->cache_creation == b->cache_creation && a->cache_read == b->cache_read &&
           a->web_search == b->web_search && a->web_fetch == b->web_fetch &&
           a->stream_end == b->stream_end;
}

/* The usage of `in`, checked to be the same for whole, byte-by-byte and random splits. */
static cc_usage_t read_all(cc_usage_form_t form, const char *in, size_t n) {
    cc_usage_t whole = read_as(form, in, n, 0, 0);
    cc_usage_t bytes = read_as(form, in, n, 1, 0);
    CHECK(same(&whole, &bytes));
    int differing = 0;
    for (unsigned seed = 1; seed <= 200; seed++) {
        rng_state = seed;
        cc_usage_t parts = read_as(form, in, n, 2 + seed % 40, 0);
        if (!same(&whole, &parts)) differing++;
    }
    CHECK_EQ_INT(differing, 0);
    return whole;
}

#define READ_SSE(s) read_all(CC_USAGE_SSE, s, strlen(s))
#define READ_JSON(s) read_all(CC_USAGE_JSON, s, strlen(s))

static void test_stream_any_split(void) {
    cc_usage_t u = read_all(CC_USAGE_SSE, STREAM, sizeof STREAM - 1);
    CHECK(u.seen);
    CHECK_EQ_INT(u.input, 12);
    CHECK_EQ_INT(u.output, 42); /* message_delta's total, not 1 and not the text's 99 */
    CHECK_EQ_INT(u.cache_creation, 300);
    CHECK_EQ_INT(u.cache_read, 4000);
    CHECK_EQ_INT(u.web_search, 0);
    CHECK_EQ_INT(cc_usage_total(&u), 12 + 300 + 4000 + 42);
    CHECK_EQ_INT(u.stream_end, CC_STREAM_END_STOP);
}

/* How a stream ended: message_stop, an error event, or neither (cut short, however cleanly). */
static void test_stream_end(void) {
    /* The whole stream without its last event: usage read, no end. */
    const char *stop = strstr(STREAM, "event: message_stop");
    cc_usage_t u = read_all(CC_USAGE_SSE, STREAM, (size_t)(stop - STREAM));
    CHECK(u.seen);
    CHECK_EQ_INT(u.output, 42);
    CHECK_EQ_INT(u.stream_end, CC_STREAM_END_NONE);
    /* Its name alone, or with no data, is no event. */
    CHECK_EQ_INT(READ_SSE("event: message_stop\n\n").stream_end, CC_STREAM_END_NONE);
    CHECK_EQ_INT(READ_SSE("event: message_stop\ndata: {}\n\n").stream_end, CC_STREAM_END_STOP);
    /* The last line without its blank line still counts at the end of the body. */
    CHECK_EQ_INT(READ_SSE("event: message_stop\ndata: {}").stream_end, CC_STREAM_END_STOP);
    CHECK_EQ_INT(READ_SSE("event: message_stopped\ndata: {}\n\n").stream_end, CC_STREAM_END_NONE);
    CHECK_EQ_INT(READ_SSE("event: error\ndata: {\"type\":\"error\"}\n\n").stream_end,
                 CC_STREAM_END_ERROR);
    /* What came last wins: an error after message_stop is the end the client saw last. */
    CHECK_EQ_INT(READ_SSE("event: message_stop\ndata: {}\n\nevent: error\ndata: {}\n\n")
                     .stream_end,
                 CC_STREAM_END_ERROR);
    /* A whole answer has none. */
    CHECK_EQ_INT(READ_JSON(WHOLE).stream_end, CC_STREAM_END_NONE);
}

/* Every field message_delta has replaces the earlier value; the others stay. */
static void test_delta_replaces(void) {
    cc_usage_t u = READ_SSE(
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,"
        "\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"usage\":{\"input_tokens\":11,\"output_tokens\":9,"
        "\"cache_creation_input_tokens\":null,"
        "\"server_tool_use\":{\"web_search_requests\":3}}}\n\n");
    CHECK(u.seen);
    CHECK_EQ_INT(u.input, 11);
    CHECK_EQ_INT(u.output, 9);
    CHECK_EQ_INT(u.cache_read, 5);
    CHECK_EQ_INT(u.cache_creation, 0); /* null replaces nothing */
    CHECK_EQ_INT(u.web_search, 3);
    CHECK_EQ_INT(u.web_fetch, 0);
    /* Negative numbers and strings are not counts either. */
    u = READ_SSE("event: message_delta\ndata: {\"usage\":{\"input_tokens\":-4,"
                 "\"output_tokens\":\"5\",\"cache_read_input_tokens\":2.9}}\n\n");
    CHECK(u.seen);
    CHECK_EQ_INT(u.input, 0);
    CHECK_EQ_INT(u.output, 0);
    CHECK_EQ_INT(u.cache_read, 2);
}

/* A content_block_delta much larger than the cap, even one that is not JSON, is skipped
 * without a byte of it being kept; the usage around it is read. */
static void test_other_events_never_kept(void) {
    size_t big = 3 * CC_USAGE_MAX_EVENT;
    cc_buf_t s = CC_BUF_INIT;
    cc_buf_puts(&s, "event: message_start\ndata: {\"message\":{\"usage\":{\"input_tokens\":3}}}"
                    "\n\nevent: content_block_delta\ndata: {\"delta\":{\"text\":\"");
    for (size_t i = 0; i < big; i++) cc_buf_append(&s, i % 97 ? "x" : "\"", 1);
    cc_buf_puts(&s, "\ndata: more\n\nevent: message_delta\ndata: {\"usage\":"
                    "{\"output_tokens\":5}}\n\n");
    cc_usage_t u;
    cc_usage_reader_t *r = cc_usage_reader_new(CC_USAGE_SSE, &u);
    size_t held_max_inside = 0;
    const char *delta = strstr(s.data, "event: content_block_delta");
    size_t start = (size_t)(delta - s.data), end = start + big;
    for (size_t i = 0; i < s.len; i += 4096) {
        size_t k = s.len - i < 4096 ? s.len - i : 4096;
        cc_usage_feed(r, s.data + i, k);
        if (i >= start && i + k <= end && cc_usage_reader_held(r) > held_max_inside)
            held_max_inside = cc_usage_reader_held(r);
    }
    CHECK_EQ_INT(held_max_inside, 0);
    cc_usage_finish(r);
    cc_usage_reader_free(r);
    CHECK(u.seen);
    CHECK_EQ_INT(u.input, 3);
    CHECK_EQ_INT(u.output, 5);
    /* Split anywhere, it reads the same. */
    cc_usage_t again = read_all(CC_USAGE_SSE, s.data, s.len);
    CHECK(same(&u, &again));
    cc_buf_free(&s);
}

/* A usage event beyond the cap is skipped, counted nowhere; the next one still counts. */
static void test_oversize_usage_event(void) {
    cc_buf_t s = CC_BUF_INIT;
    cc_buf_puts(&s, "event: message_start\ndata: {\"message\":{\"pad\":\"");
    for (size_t i = 0; i < CC_USAGE_MAX_EVENT; i++) cc_buf_append(&s, "p", 1);
    cc_buf_puts(&s, "\",\"usage\":{\"input_tokens\":100,\"output_tokens\":1}}}\n\n");
    cc_usage_t u = read_as(CC_USAGE_SSE, s.data, s.len, 0, 0);
    CHECK(!u.seen);
    CHECK_EQ_INT(u.input, 0);
    rng_state = 7;
    u = read_as(CC_USAGE_SSE, s.data, s.len, 1000, 0);
    CHECK(!u.seen);
    cc_buf_puts(&s, "event: message_delta\ndata: {\"usage\":{\"output_tokens\":8}}\n\n");
    u = read_as(CC_USAGE_SSE, s.data, s.len, 0, 0);
    CHECK(u.seen);
    CHECK_EQ_INT(u.input, 0);
    CHECK_EQ_INT(u.output, 8);
    cc_buf_free(&s);

    /* With a small cap, the cap counts the joined data lines. */
    const char *two = "event: message_delta\ndata: {\"usage\":\ndata: {\"output_tokens\":8}}\n\n";
    size_t data_len = strlen("{\"usage\":\n{\"output_tokens\":8}}");
    u = read_as(CC_USAGE_SSE, two, strlen(two), 0, data_len);
    CHECK(u.seen);
    CHECK_EQ_INT(u.output, 8);
    u = read_as(CC_USAGE_SSE, two, strlen(two), 1, data_len - 1);
    CHECK(!u.seen);
    /* The next event after an oversize one is read (nothing of it stayed behind). */
    const char *after = "event: message_delta\ndata: {\"usage\":{\"output_tokens\":88}}\n\n"
                        "event: message_delta\ndata: {\"usage\":{\"output_tokens\":9}}\n\n";
    u = read_as(CC_USAGE_SSE, after, strlen(after), 1, strlen("{\"usage\":{\"output_tokens\":9}}"));
    CHECK(u.seen);
    CHECK_EQ_INT(u.output, 9);
}

static void test_line_endings_and_fields(void) {
    /* CRLF, CR alone, "data:" without its space, comments, id and retry lines. */
    cc_usage_t u = READ_SSE(
        ": hello\r\n"
        "id: 1\r\n"
        "retry: 10\r\n"
        "event:message_start\r\n"
        "data:{\"message\":{\"usage\":{\"input_tokens\":4,\"output_tokens\":1}}}\r\n"
        "\r\n"
        "event: message_delta\r"
        "data: {\"usage\":{\"output_tokens\":6}}\r"
        "\r");
    CHECK(u.seen);
    CHECK_EQ_INT(u.input, 4);
    CHECK_EQ_INT(u.output, 6);
    /* The JSON over several data lines (joined with "\n", which JSON takes as white space). */
    u = READ_SSE("event: message_delta\n"
                 "data: {\"usage\":\n"
                 "data:  {\"output_tokens\":\n"
                 "data:\n"
                 "data: 12}}\n\n");
    CHECK(u.seen);
    CHECK_EQ_INT(u.output, 12);
    /* A byte order mark at the start is skipped; "  data" is not the data field. */
    u = READ_SSE("\xEF\xBB\xBF" "event: message_delta\n data: {\"usage\":{}}\n"
                 "data: {\"usage\":{\"output_tokens\":2}}\n\n");
    CHECK(u.seen);
    CHECK_EQ_INT(u.output, 2);
    /* Half a mark makes the first line's field unknown. */
    u = READ_SSE("\xEF\xBB" "event: message_delta\ndata: {\"usage\":{}}\n\n");
    CHECK(!u.seen);
    u = READ_SSE("\xEF\xBB" "data: x\n\nevent: message_delta\ndata: {\"usage\":{}}\n\n");
    CHECK(u.seen);
    /* The last event counts without its blank line, even its last line unfinished. */
    u = READ_SSE("event: message_delta\ndata: {\"usage\":{\"output_tokens\":3}}");
    CHECK(u.seen);
    CHECK_EQ_INT(u.output, 3);
    /* An event's name is its own: it does not carry over to the next event. */
    u = READ_SSE("event: message_delta\n\ndata: {\"usage\":{\"output_tokens\":3}}\n\n");
    CHECK(!u.seen);
}

/* Which events are read: the name before the first data line decides, the final name must
 * still be a usage event's. */
static void test_event_names(void) {
    CHECK(!READ_SSE("data: {\"usage\":{\"output_tokens\":3}}\n\n").seen);
    CHECK(!READ_SSE("event: message_stop\ndata: {\"usage\":{\"output_tokens\":3}}\n\n").seen);
    CHECK(!READ_SSE("event: message_delta_x\ndata: {\"usage\":{\"output_tokens\":3}}\n\n").seen);
    CHECK(!READ_SSE("event: message_delt\ndata: {\"usage\":{\"output_tokens\":3}}\n\n").seen);
    CHECK(!READ_SSE("event: Message_delta\ndata: {\"usage\":{\"output_tokens\":3}}\n\n").seen);
    /* Data before the name: skipped (Anthropic names each event first). */
    CHECK(!READ_SSE("data: {\"usage\":{\"output_tokens\":3}}\nevent: message_delta\n\n").seen);
    /* Renamed to another event after its data: not read. */
    CHECK(!READ_SSE("event: message_delta\ndata: {\"usage\":{}}\nevent: ping\n\n").seen);
    /* The last name before the data counts. */
    CHECK(READ_SSE("event: ping\nevent: message_delta\ndata: {\"usage\":{}}\n\n").seen);
    /* message_start's usage is inside its message; message_delta's at its top. */
    CHECK(!READ_SSE("event: message_start\ndata: {\"usage\":{\"input_tokens\":3}}\n\n").seen);
    CHECK(!READ_SSE("event: message_delta\ndata: {\"message\":{\"usage\":{}}}\n\n").seen);
    /* Not JSON, or usage that is not an object: nothing. */
    CHECK(!READ_SSE("event: message_delta\ndata: {\"usage\":{\"output_tokens\":3}\n\n").seen);
    CHECK(!READ_SSE("event: message_delta\ndata: {\"usage\":[1]}\n\n").seen);
    CHECK(!READ_SSE("event: message_delta\ndata\n\n").seen);
    CHECK(!READ_SSE("").seen);
    /* A stream without usage events. */
    CHECK(!READ_SSE("event: ping\ndata: {}\n\nevent: error\ndata: {\"type\":\"error\","
                    "\"error\":{\"type\":\"overloaded_error\",\"message\":\"x\"}}\n\n")
               .seen);
}

static void test_whole_json(void) {
    cc_usage_t u = read_all(CC_USAGE_JSON, WHOLE, sizeof WHOLE - 1);
    CHECK(u.seen);
    CHECK_EQ_INT(u.input, 7);
    CHECK_EQ_INT(u.output, 33);
    CHECK_EQ_INT(u.cache_creation, 0);
    CHECK_EQ_INT(u.cache_read, 20);
    CHECK_EQ_INT(u.web_search, 2);
    CHECK_EQ_INT(u.web_fetch, 1);
    CHECK_EQ_INT(cc_usage_total(&u), 60);
    /* Usage first, white space everywhere, a number at the end of a piece. */
    u = READ_JSON(" \r\n\t{ \"usage\" : { \"output_tokens\" : 5 } , \"n\" : 12 } \n");
    CHECK(u.seen);
    CHECK_EQ_INT(u.output, 5);
    u = READ_JSON("{\"usage\":{\"input_tokens\":1e2}}");
    CHECK(u.seen);
    CHECK_EQ_INT(u.input, 100);
    CHECK(READ_JSON("{\"usage\":{}}").seen);
    /* No usage, or not at the top level, or not an object. */
    CHECK(!READ_JSON("{\"type\":\"message\",\"content\":[]}").seen);
    CHECK(!READ_JSON("{\"a\":{\"usage\":{\"input_tokens\":1}}}").seen);
    CHECK(!READ_JSON("[{\"usage\":{\"input_tokens\":1}}]").seen);
    CHECK(!READ_JSON("{\"usage\":null}").seen);
    CHECK(!READ_JSON("{\"usage\":3}").seen);
    CHECK(!READ_JSON("{\"usagex\":{}}").seen);
    CHECK(READ_JSON("{\"usag\\u0065\":{}}").seen); /* escaped letters are letters */
    CHECK(!READ_JSON("{\"usage\\u0000\":{}}").seen);
    CHECK(!READ_JSON("{\"usage\\n\":{}}").seen);
    CHECK(!READ_JSON("{\"usa\\u00e9\":{}}").seen);
    CHECK(!READ_JSON("{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}")
               .seen);
    /* The last usage member counts. */
    u = READ_JSON("{\"usage\":{\"output_tokens\":1},\"usage\":{\"output_tokens\":2}}");
    CHECK_EQ_INT(u.output, 2);
    /* Deep nesting within the limit is fine. */
    cc_buf_t deep = CC_BUF_INIT;
    cc_buf_puts(&deep, "{\"usage\":{\"output_tokens\":4},\"x\":");
    for (int i = 0; i < 500; i++) cc_buf_puts(&deep, "[");
    for (int i = 0; i < 500; i++) cc_buf_puts(&deep, "]");
    cc_buf_puts(&deep, "}");
    CHECK(read_as(CC_USAGE_JSON, deep.data, deep.len, 1, 0).seen);
    cc_buf_free(&deep);
    /* A usage member over its cap is not read. */
    cc_buf_t big = CC_BUF_INIT;
    cc_buf_puts(&big, "{\"usage\":{\"output_tokens\":4,\"pad\":\"");
    for (size_t i = 0; i < CC_USAGE_MAX_MEMBER; i++) cc_buf_append(&big, "p", 1);
    cc_buf_puts(&big, "\"}}");
    CHECK(!read_as(CC_USAGE_JSON, big.data, big.len, 0, 0).seen);
    CHECK(!read_as(CC_USAGE_JSON, big.data, big.len, 1, 0).seen);
    cc_buf_free(&big);
}

/* Not one JSON value: nothing, even when the usage member itself was complete. */
static void test_invalid_json(void) {
    static const char *const bad[] = {
        "{\"usage\":{\"output_tokens\":5}",          /* cut off */
        "{\"usage\":{\"output_tokens\":5}} x",       /* more after the value */
        "{\"usage\":{\"output_tokens\":5}}{}",       /* two values */
        "{\"usage\":{\"output_tokens\":5},}",        /* trailing comma */
        "{\"usage\":{\"output_tokens\":5} \"a\":1}", /* missing comma */
        "{\"usage\" {\"output_tokens\":5}}",         /* missing colon */
        "{\"usage\":{\"output_tokens\":05}}",        /* leading zero */
        "{\"usage\":{\"output_tokens\":5.}}",
        "{\"usage\":{\"output_tokens\":-}}",
        "{\"usage\":{\"output_tokens\":1e}}",
        "{\"usage\":{\"output_tokens\":5},\"a\":tru}",
        "{\"usage\":{\"output_tokens\":5},\"a\":nul1}",
        "{\"usage\":{\"output_tokens\":5},\"a\":\"\\x\"}", /* bad escape */
        "{\"usage\":{\"output_tokens\":5},\"a\":\"\\u12g4\"}",
        "{\"usage\":{\"output_tokens\":5},\"a\":\"tab\there\"}", /* control character */
        "{\"usage\":{\"output_tokens\":5},\"a\":[1,2}",
        "{\"usage\":{\"output_tokens\":5},\"a\":{]}",
        "{\"usage\":{\"output_tokens\":5},1:2}",
        "{\"usage\":{\"output_tokens\":5},\"a\":[,1]}",
        "\xEF\xBB\xBF{\"usage\":{\"output_tokens\":5}}",
        "",
        "   ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cc_usage_t u = READ_JSON(bad[i]);
        if (u.seen) fprintf(stderr, "  seen in invalid JSON: %s\n", bad[i]);
        CHECK(!u.seen);
    }
    /* Nesting beyond the scanner's limit is given up. */
    cc_buf_t deep = CC_BUF_INIT;
    cc_buf_puts(&deep, "{\"usage\":{\"output_tokens\":4},\"x\":");
    for (int i = 0; i < 600; i++) cc_buf_puts(&deep, "[");
    for (int i = 0; i < 600; i++) cc_buf_puts(&deep, "]");
    cc_buf_puts(&deep, "}");
    CHECK(!read_as(CC_USAGE_JSON, deep.data, deep.len, 0, 0).seen);
    cc_buf_free(&deep);
}

static void test_forms_and_field(void) {
    CHECK_EQ_INT(cc_usage_form("text/event-stream; charset=utf-8"), CC_USAGE_SSE);
    CHECK_EQ_INT(cc_usage_form("Text/Event-Stream"), CC_USAGE_SSE);
    CHECK_EQ_INT(cc_usage_form("application/json"), CC_USAGE_JSON);
    CHECK_EQ_INT(cc_usage_form(" application/json; charset=utf-8"), CC_USAGE_JSON);
    CHECK_EQ_INT(cc_usage_form("text/plain"), CC_USAGE_NONE);
    CHECK_EQ_INT(cc_usage_form(NULL), CC_USAGE_NONE);
    /* Another form reads nothing, whatever comes. */
    CHECK(!READ_SSE(WHOLE).seen);
    CHECK(!read_as(CC_USAGE_JSON, STREAM, sizeof STREAM - 1, 0, 0).seen);
    CHECK(!read_as(CC_USAGE_NONE, WHOLE, sizeof WHOLE - 1, 0, 0).seen);

    cc_usage_t u = {.seen = true, .input = 1, .output = 2, .cache_creation = 3, .cache_read = 4,
                    .web_search = 5, .web_fetch = 6};
    cc_buf_t b = CC_BUF_INIT;
    cc_usage_log_field(&u, &b);
    CHECK_EQ_STR(b.data, " tokens=in:1,out:2,cache_read:4,cache_write:3");
    CHECK_EQ_INT(cc_usage_total(&u), 10);
    cc_buf_reset(&b);
    u.seen = false;
    cc_usage_log_field(&u, &b);
    CHECK_EQ_INT(b.len, 0);
    cc_buf_free(&b);
    /* A reader clears what it writes into; huge counts are capped, so sums cannot wrap. */
    u.seen = true;
    cc_usage_reader_t *r = cc_usage_reader_new(CC_USAGE_JSON, &u);
    CHECK(!u.seen && u.input == 0);
    const char *huge = "{\"usage\":{\"input_tokens\":1e300,\"output_tokens\":1e300,"
                       "\"cache_read_input_tokens\":1e300,\"cache_creation_input_tokens\":1e300}}";
    cc_usage_feed(r, huge, strlen(huge));
    cc_usage_finish(r);
    cc_usage_reader_free(r);
    CHECK(u.seen);
    CHECK_EQ_INT(u.input, 9007199254740992ll);
    CHECK(cc_usage_total(&u) == 4ull * 9007199254740992ull);
    cc_usage_reader_free(NULL);
}

int main(void) {
    CC_RUN(test_stream_any_split);
    CC_RUN(test_stream_end);
    CC_RUN(test_delta_replaces);
    CC_RUN(test_other_events_never_kept);
    CC_RUN(test_oversize_usage_event);
    CC_RUN(test_line_endings_and_fields);
    CC_RUN(test_event_names);
    CC_RUN(test_whole_json);
    CC_RUN(test_invalid_json);
    CC_RUN(test_forms_and_field);
    return CC_DONE();
}
