/* strategy.c: the routing strategies' picks (see strategy.h). */
#include "routing/strategy.h"

/* A number in [0, 1) from the top 53 bits of `rnd`. */
static double unit(uint64_t rnd) {
    return (double)(rnd >> 11) / (double)(1ull << 53);
}

/* simple-shuffle: at random, in proportion to weight. */
static size_t by_weight(const cc_candidate_t *c, size_t n, uint64_t rnd) {
    double total = 0;
    for (size_t i = 0; i < n; i++) total += c[i].weight;
    double at = unit(rnd) * total;
    for (size_t i = 0; i < n; i++) {
        at -= c[i].weight;
        if (at < 0) return i;
    }
    return n - 1;
}

/* Which candidates a pick chooses among: key(c) <= limit. */
typedef double (*key_fn)(const cc_candidate_t *c);

/* One of the candidates whose key is at most `limit`, at random (there is at least one). */
static size_t any_within(const cc_candidate_t *c, size_t n, key_fn key, double limit,
                         uint64_t rnd) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++) count += key(&c[i]) <= limit;
    size_t k = (size_t)(unit(rnd) * (double)count);
    for (size_t i = 0; i < n; i++)
        if (key(&c[i]) <= limit && k-- == 0) return i;
    return 0;
}

/* One of the candidates whose key is the lowest, or within `slack` x the lowest. */
static size_t lowest(const cc_candidate_t *c, size_t n, key_fn key, double slack, uint64_t rnd) {
    double low = key(&c[0]);
    for (size_t i = 1; i < n; i++)
        if (key(&c[i]) < low) low = key(&c[i]);
    return any_within(c, n, key, low + (low > 0 ? low * slack : 0), rnd);
}

static double busy_key(const cc_candidate_t *c) {
    return c->busy;
}
static double tpm_key(const cc_candidate_t *c) {
    return (double)c->tpm;
}
static double latency_key(const cc_candidate_t *c) {
    return c->latency_ms;
}

/* The unmeasured first (their key, -1, is below every measured one), then the lowest. */
static size_t by_latency(const cc_candidate_t *c, size_t n, double buffer, uint64_t rnd) {
    for (size_t i = 0; i < n; i++)
        if (c[i].latency_ms < 0) return any_within(c, n, latency_key, -0.5, rnd);
    return lowest(c, n, latency_key, buffer, rnd);
}

size_t cc_strategy_pick(cc_strategy_t s, const cc_candidate_t *c, size_t n, double buffer,
                        uint64_t rnd) {
    if (n <= 1) return 0;
    switch (s) {
    case CC_STRATEGY_LEAST_BUSY: return lowest(c, n, busy_key, 0, rnd);
    case CC_STRATEGY_LATENCY: return by_latency(c, n, buffer, rnd);
    case CC_STRATEGY_USAGE: return lowest(c, n, tpm_key, 0, rnd);
    case CC_STRATEGY_SHUFFLE: break;
    }
    return by_weight(c, n, rnd);
}

const char *cc_strategy_name(cc_strategy_t s) {
    switch (s) {
    case CC_STRATEGY_LEAST_BUSY: return "least-busy";
    case CC_STRATEGY_LATENCY: return "latency-based-routing";
    case CC_STRATEGY_USAGE: return "usage-based-routing";
    case CC_STRATEGY_SHUFFLE: break;
    }
    return "simple-shuffle";
}
