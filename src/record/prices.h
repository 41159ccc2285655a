/* prices.h: what a deployment's tokens cost. A price comes, field by field, from the
 * deployment's model_info (LiteLLM's keys: input_cost_per_token, output_cost_per_token,
 * cache_creation_input_token_cost, cache_read_input_token_cost, max_input_tokens), else from
 * the user's <config dir>/prices.json, else from the table ccproxy ships
 * (<data dir>/config/prices.json, sourced and dated in the file), looked up by the model the
 * deployment sends, with and without its provider prefix and a -YYYYMMDD date suffix. A field
 * found nowhere is unknown, and so is the cost of tokens that need it: never a guess.
 *
 * Ownership: a generation owns its prices (generation.c), read by every worker; they do not
 * change after loading. */
#ifndef CC_PRICES_H
#define CC_PRICES_H

#include <stdbool.h>

#include "buf.h"
#include "config/config.h"
#include "usage.h"

/** Per token in USD (per request for web searches); < 0: unknown. */
typedef struct {
    double input, output, cache_creation, cache_read, web_search;
    long max_input_tokens; /* the model's context window, 0 when unknown */
} cc_price_t;

typedef struct cc_prices_s cc_prices_t;

/** Loads the shipped table `shipped` and the user's `user` (either may be NULL or a file that
 *  does not exist). A file that is there but wrong is reported in `err` (path, what, what to
 *  do) and left out; the result is never NULL unless out of memory. */
cc_prices_t *cc_prices_load(const char *shipped, const char *user, cc_buf_t *err);
/** The prices of a generation's configuration: the shipped table from the data dir and
 *  <config dir>/prices.json. */
cc_prices_t *cc_prices_load_for(const cc_config_t *cfg, cc_buf_t *err);
void cc_prices_free(cc_prices_t *p);

/** The price of deployment `m`'s answers when it sent `sent_model` (NULL: its own model). */
void cc_prices_for(const cc_prices_t *p, const cc_model_t *m, const char *sent_model,
                   cc_price_t *out);
/** The cost of usage `u` at price `p`; false (and *usd the known part) when a token kind it
 *  used has no price. */
bool cc_price_cost(const cc_price_t *p, const cc_usage_t *u, double *usd);

#endif
