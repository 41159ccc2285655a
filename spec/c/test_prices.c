/* test_prices.c: prices and costs (record/prices.h): the shipped table by the model sent, with
 * and without its provider prefix and date suffix; model_info's keys win field by field; the
 * user's table over the shipped one; unknown stays unknown; a broken file is reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "record/prices.h"

#define SHIPPED CC_SPEC_DIR "/../config/prices.json"

static cc_model_t model_of(const char *model, const char *upstream, const char *info) {
    cc_model_t m;
    memset(&m, 0, sizeof m);
    m.model_name = "x";
    m.model = (char *)model;
    m.upstream_model = (char *)upstream;
    m.alias_of = -1;
    m.model_info = info ? cJSON_Parse(info) : NULL;
    return m;
}

static void test_shipped(void) {
    cc_buf_t err = CC_BUF_INIT;
    cc_prices_t *p = cc_prices_load(SHIPPED, NULL, &err);
    CHECK(p != NULL);
    CHECK_EQ_INT(err.len, 0);
    cc_model_t m = model_of("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5-20250929", NULL);
    cc_price_t pr;
    cc_prices_for(p, &m, NULL, &pr);
    CHECK(pr.input == 3e-06 && pr.output == 1.5e-05 && pr.cache_read == 3e-07);
    CHECK(pr.cache_creation == 3.75e-06);
    CHECK_EQ_INT(pr.max_input_tokens, 200000);
    cc_usage_t u = {.seen = true, .input = 1000, .output = 500, .cache_creation = 2000,
                    .cache_read = 10000};
    double usd;
    CHECK(cc_price_cost(&pr, &u, &usd));
    /* 1000*3e-6 + 500*1.5e-5 + 2000*3.75e-6 + 10000*3e-7 = 0.003+0.0075+0.0075+0.003 */
    CHECK(usd > 0.020999 && usd < 0.021001);
    /* by the sent model with a provider prefix */
    cc_model_t o = model_of("openrouter/openai/gpt-5", "openai/gpt-5", NULL);
    cc_prices_for(p, &o, NULL, &pr);
    CHECK(pr.input == 1.25e-06);
    CHECK(pr.cache_creation < 0); /* OpenAI has no cache-write price */
    cc_prices_free(p);
    cc_buf_free(&err);
}

static void test_unknown_and_model_info(void) {
    cc_prices_t *p = cc_prices_load(SHIPPED, NULL, NULL);
    cc_model_t m = model_of("anthropic/claude-opus-5-5", "claude-opus-5-5", NULL);
    cc_price_t pr;
    cc_prices_for(p, &m, NULL, &pr);
    CHECK(pr.input < 0 && pr.output < 0);
    cc_usage_t u = {.seen = true, .input = 10, .output = 5};
    double usd = -1;
    CHECK(!cc_price_cost(&pr, &u, &usd));
    CHECK(usd == 0);
    /* model_info gives a price: it is used, field by field */
    cc_model_t k = model_of("anthropic/claude-opus-5-5", "claude-opus-5-5",
                            "{\"input_cost_per_token\": 0.00001, \"output_cost_per_token\": "
                            "0.00005, \"max_input_tokens\": 500000}");
    cc_prices_for(p, &k, NULL, &pr);
    CHECK(cc_price_cost(&pr, &u, &usd));
    CHECK(usd > 0.000349 && usd < 0.000351);
    CHECK_EQ_INT(pr.max_input_tokens, 500000);
    /* a kind of token with no price makes the whole cost unknown, the known part kept */
    cc_usage_t cached = {.seen = true, .input = 10, .output = 5, .cache_read = 100};
    CHECK(!cc_price_cost(&pr, &cached, &usd));
    CHECK(usd > 0.000349 && usd < 0.000351);
    /* model_info's field wins over the table's */
    cc_model_t s = model_of("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5",
                            "{\"input_cost_per_token\": 0.5}");
    cc_prices_for(p, &s, NULL, &pr);
    CHECK(pr.input == 0.5 && pr.output == 1.5e-05);
    /* usage not seen: cost unknown */
    cc_usage_t none = {0};
    CHECK(!cc_price_cost(&pr, &none, &usd));
    cJSON_Delete(k.model_info);
    cJSON_Delete(s.model_info);
    cc_prices_free(p);
}

static void test_user_table(void) {
    char dir[] = "/tmp/cc-prices-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char user[256], bad[256];
    snprintf(user, sizeof user, "%s/prices.json", dir);
    snprintf(bad, sizeof bad, "%s/bad.json", dir);
    FILE *f = fopen(user, "w");
    fputs("{\"models\": {\"claude-sonnet-4-5\": {\"input_cost_per_token\": 0.000002}, "
          "\"my-local-model\": {\"input_cost_per_token\": 0, \"output_cost_per_token\": 0}}}",
          f);
    fclose(f);
    f = fopen(bad, "w");
    fputs("{\"models\": [", f);
    fclose(f);
    cc_buf_t err = CC_BUF_INIT;
    cc_prices_t *p = cc_prices_load(SHIPPED, user, &err);
    CHECK_EQ_INT(err.len, 0);
    cc_model_t m = model_of("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5", NULL);
    cc_price_t pr;
    cc_prices_for(p, &m, NULL, &pr);
    CHECK(pr.input == 2e-06 && pr.output == 1.5e-05); /* the user's input, the shipped rest */
    cc_model_t local = model_of("openai/my-local-model", "my-local-model", NULL);
    cc_prices_for(p, &local, NULL, &pr);
    cc_usage_t u = {.seen = true, .input = 100, .output = 100};
    double usd;
    CHECK(cc_price_cost(&pr, &u, &usd)); /* free is a known price */
    CHECK(usd == 0);
    cc_prices_free(p);
    p = cc_prices_load(SHIPPED, bad, &err);
    CHECK(strstr(err.data ? err.data : "", "bad.json: not a price table") != NULL);
    cc_prices_free(p);
    cc_buf_free(&err);
    unlink(user);
    unlink(bad);
    rmdir(dir);
}

int main(void) {
    CC_RUN(test_shipped);
    CC_RUN(test_unknown_and_model_info);
    CC_RUN(test_user_table);
    return CC_DONE();
}
