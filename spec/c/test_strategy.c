/* test_strategy.c: the routing strategies' picks (routing/strategy.h) over fixed candidates:
 * shares by weight, the least busy, the lowest latency with its buffer and the unmeasured
 * first, the fewest tokens; ties spread at random. */
#include <string.h>

#include "check.h"
#include "routing/strategy.h"

/* A xorshift sequence, so runs are the same every time. */
static uint64_t rnd_state = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void) {
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

/* How often each candidate is picked in `runs` picks. */
static void tally(cc_strategy_t s, const cc_candidate_t *c, size_t n, double buffer, int runs,
                  int *counts) {
    memset(counts, 0, n * sizeof *counts);
    for (int i = 0; i < runs; i++) {
        size_t k = cc_strategy_pick(s, c, n, buffer, rnd());
        CHECK(k < n);
        if (k < n) counts[k]++;
    }
}

static void test_shuffle_by_weight(void) {
    cc_candidate_t c[3] = {{.dep = 0, .weight = 1}, {.dep = 1, .weight = 3}, {.dep = 2, .weight = 6}};
    int counts[3];
    tally(CC_STRATEGY_SHUFFLE, c, 3, 0, 10000, counts);
    /* 10 %, 30 %, 60 % within a few points */
    CHECK(counts[0] > 800 && counts[0] < 1200);
    CHECK(counts[1] > 2700 && counts[1] < 3300);
    CHECK(counts[2] > 5600 && counts[2] < 6400);
    /* The other numbers do not matter to it. */
    c[2].busy = 100;
    c[2].latency_ms = 9999;
    tally(CC_STRATEGY_SHUFFLE, c, 3, 0, 10000, counts);
    CHECK(counts[2] > 5600);
    /* One candidate: it. */
    CHECK_EQ_INT(cc_strategy_pick(CC_STRATEGY_SHUFFLE, c, 1, 0, rnd()), 0);
}

static void test_least_busy(void) {
    cc_candidate_t c[4] = {{.dep = 0, .weight = 9, .busy = 3},
                           {.dep = 1, .weight = 1, .busy = 1},
                           {.dep = 2, .weight = 1, .busy = 2},
                           {.dep = 3, .weight = 1, .busy = 1}};
    int counts[4];
    tally(CC_STRATEGY_LEAST_BUSY, c, 4, 0, 2000, counts);
    CHECK_EQ_INT(counts[0], 0);
    CHECK_EQ_INT(counts[2], 0);
    /* 1 and 3 tie: both get picked, about evenly */
    CHECK(counts[1] > 800 && counts[3] > 800);
}

static void test_latency(void) {
    cc_candidate_t c[3] = {{.dep = 0, .weight = 1, .latency_ms = 100},
                           {.dep = 1, .weight = 1, .latency_ms = 140},
                           {.dep = 2, .weight = 1, .latency_ms = 400}};
    int counts[3];
    tally(CC_STRATEGY_LATENCY, c, 3, 0, 1000, counts);
    CHECK_EQ_INT(counts[0], 1000);
    /* A buffer of 0.5: up to 150 ms counts as lowest too. */
    tally(CC_STRATEGY_LATENCY, c, 3, 0.5, 2000, counts);
    CHECK(counts[0] > 800 && counts[1] > 800);
    CHECK_EQ_INT(counts[2], 0);
    /* Unmeasured ones go first, so they get measured. */
    c[2].latency_ms = -1;
    tally(CC_STRATEGY_LATENCY, c, 3, 0.5, 500, counts);
    CHECK_EQ_INT(counts[2], 500);
    c[0].latency_ms = -1;
    tally(CC_STRATEGY_LATENCY, c, 3, 0, 2000, counts);
    CHECK_EQ_INT(counts[1], 0);
    CHECK(counts[0] > 800 && counts[2] > 800);
}

static void test_usage(void) {
    cc_candidate_t c[3] = {{.dep = 0, .weight = 1, .tpm = 5000},
                           {.dep = 1, .weight = 1, .tpm = 1200},
                           {.dep = 2, .weight = 1, .tpm = 80000}};
    int counts[3];
    tally(CC_STRATEGY_USAGE, c, 3, 0, 500, counts);
    CHECK_EQ_INT(counts[1], 500);
    c[0].tpm = 1200;
    tally(CC_STRATEGY_USAGE, c, 3, 0, 2000, counts);
    CHECK(counts[0] > 800 && counts[1] > 800);
    CHECK_EQ_INT(counts[2], 0);
}

static void test_names(void) {
    CHECK_EQ_STR(cc_strategy_name(CC_STRATEGY_SHUFFLE), "simple-shuffle");
    CHECK_EQ_STR(cc_strategy_name(CC_STRATEGY_LEAST_BUSY), "least-busy");
    CHECK_EQ_STR(cc_strategy_name(CC_STRATEGY_LATENCY), "latency-based-routing");
    CHECK_EQ_STR(cc_strategy_name(CC_STRATEGY_USAGE), "usage-based-routing");
}

int main(void) {
    CC_RUN(test_shuffle_by_weight);
    CC_RUN(test_least_busy);
    CC_RUN(test_latency);
    CC_RUN(test_usage);
    CC_RUN(test_names);
    return CC_DONE();
}
