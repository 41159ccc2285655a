/* strategy.h: how an attempt picks one deployment among its candidates, the members of a
 * group's lowest order that may take it now (router.c decides which those are). The picks are
 * pure functions of the candidates' numbers and one random draw, so they need no lock of
 * their own and are tested alone (spec/c/test_strategy.c). */
#ifndef CC_STRATEGY_H
#define CC_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef struct {
    int dep;                 /* the deployment (an index of cfg->models) */
    double weight;           /* simple-shuffle: its share of the picks (> 0) */
    int busy;                /* least-busy: attempts in progress at it */
    double latency_ms;       /* latency-based-routing: recent time to first byte, < 0 unknown */
    unsigned long long tpm;  /* usage-based-routing: tokens it took this minute */
} cc_candidate_t;

/** The index in c[0..n) (n > 0) that strategy `s` picks; `buffer` is
 *  routing_strategy_args.lowest_latency_buffer; `rnd` a uniformly random 64-bit number.
 *  Ties, and latency-based-routing's buffer, are broken at random; a deployment whose latency
 *  is unknown is picked before any measured one, so each gets measured. */
size_t cc_strategy_pick(cc_strategy_t s, const cc_candidate_t *c, size_t n, double buffer,
                        uint64_t rnd);

/** The strategy's name as router_settings.routing_strategy spells it. */
const char *cc_strategy_name(cc_strategy_t s);

#endif
