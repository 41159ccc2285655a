/* test_credentials.c: the one credentials table (credentials.c): for each provider, what a hook
 * set wins, then the deployment's key, then (to Anthropic only) the client's own. */
#include <string.h>

#include "check.h"
#include "credentials.h"

typedef struct {
    cc_headers_t req, written, adapter, out;
    cc_model_t d;
} fixture_t;

static void setup(fixture_t *f, const char *key) {
    memset(f, 0, sizeof *f);
    f->d.api_key = (char *)key;
    cc_headers_set(&f->req, "authorization", "Bearer client-token");
    cc_headers_set(&f->req, "x-api-key", "sk-client");
    cc_headers_set(&f->req, "anthropic-beta", "b-1");
    cc_headers_set(&f->req, "x-stainless-os", "Linux");
    cc_headers_set(&f->req, "user-agent", "claude-cli");
}

static void build(fixture_t *f, bool adapter) {
    cc_credentials_in_t in = {&f->req, &f->written, &f->d, adapter ? &f->adapter : NULL};
    cc_headers_free(&f->out);
    cc_credentials_headers(&in, &f->out);
}

static void teardown(fixture_t *f) {
    cc_headers_free(&f->req);
    cc_headers_free(&f->written);
    cc_headers_free(&f->adapter);
    cc_headers_free(&f->out);
}

static void test_anthropic(void) {
    fixture_t f;
    setup(&f, NULL);
    build(&f, false); /* no key: the client's own travel */
    CHECK_EQ_STR(cc_headers_get(&f.out, "authorization"), "Bearer client-token");
    CHECK_EQ_STR(cc_headers_get(&f.out, "x-api-key"), "sk-client");
    CHECK_EQ_STR(cc_headers_get(&f.out, "anthropic-beta"), "b-1");
    teardown(&f);

    setup(&f, "sk-deployment");
    build(&f, false); /* the key replaces all of the client's credentials */
    CHECK_EQ_STR(cc_headers_get(&f.out, "x-api-key"), "sk-deployment");
    CHECK(cc_headers_get(&f.out, "authorization") == NULL);
    CHECK_EQ_STR(cc_headers_get(&f.out, "user-agent"), "claude-cli");
    /* a removal alone withholds the client's value: the key still goes */
    cc_headers_set(&f.written, "x-api-key", "removed");
    cc_headers_remove(&f.req, "x-api-key");
    build(&f, false);
    CHECK_EQ_STR(cc_headers_get(&f.out, "x-api-key"), "sk-deployment");
    /* credentials a hook set win over the key, and what it removed stays removed */
    cc_headers_set(&f.written, "authorization", "set");
    build(&f, false);
    CHECK_EQ_STR(cc_headers_get(&f.out, "authorization"), "Bearer client-token");
    CHECK(cc_headers_get(&f.out, "x-api-key") == NULL);
    teardown(&f);
}

static void test_other_provider(void) {
    fixture_t f;
    setup(&f, "sk-openai");
    cc_headers_set(&f.adapter, "Authorization", "Bearer sk-openai");
    cc_headers_set(&f.adapter, "Content-Type", "application/json");
    build(&f, true);
    CHECK_EQ_STR(cc_headers_get(&f.out, "authorization"), "Bearer sk-openai");
    CHECK(cc_headers_get(&f.out, "x-api-key") == NULL);
    CHECK(cc_headers_get(&f.out, "anthropic-beta") == NULL);
    CHECK(cc_headers_get(&f.out, "x-stainless-os") == NULL);
    CHECK_EQ_STR(cc_headers_get(&f.out, "content-type"), "application/json");
    CHECK_EQ_STR(cc_headers_get(&f.out, "user-agent"), "claude-cli");
    /* withholding the client's token (a removal) leaves the key in place */
    cc_headers_set(&f.written, "authorization", "removed");
    cc_headers_remove(&f.req, "authorization");
    build(&f, true);
    CHECK_EQ_STR(cc_headers_get(&f.out, "authorization"), "Bearer sk-openai");
    /* a hook forwarding the client's token (forward_oauth's forward_to) wins over the key */
    cc_headers_set(&f.req, "authorization", "Bearer client-token");
    cc_headers_set(&f.written, "authorization", "set");
    build(&f, true);
    CHECK_EQ_STR(cc_headers_get(&f.out, "authorization"), "Bearer client-token");
    /* ... but Anthropic's own x-api-key never leaves for another provider, and setting it
     * (forward_apikey) does not keep the provider's key out */
    cc_headers_set(&f.written, "x-api-key", "set");
    build(&f, true);
    CHECK(cc_headers_get(&f.out, "x-api-key") == NULL);
    cc_headers_remove(&f.written, "authorization");
    cc_headers_remove(&f.req, "authorization");
    build(&f, true);
    CHECK_EQ_STR(cc_headers_get(&f.out, "authorization"), "Bearer sk-openai");
    teardown(&f);

    setup(&f, NULL); /* no key, no hook: the client's credentials stay home */
    build(&f, true);
    CHECK(cc_headers_get(&f.out, "authorization") == NULL);
    teardown(&f);
}

static void test_swap_token(void) {
    cc_headers_t h = CC_HEADERS_INIT;
    cc_headers_set(&h, "Authorization", "Bearer old-token");
    cc_headers_set(&h, "x-note", "Bearer old-token"); /* not a credential field */
    cc_headers_set(&h, "x-api-key", "old-token-longer");
    CHECK_EQ_INT(cc_credentials_swap_token(&h, "old-token", "new-token"), 1);
    CHECK_EQ_STR(cc_headers_get(&h, "authorization"), "Bearer new-token");
    CHECK_EQ_STR(cc_headers_get(&h, "x-note"), "Bearer old-token");
    CHECK_EQ_STR(cc_headers_get(&h, "x-api-key"), "old-token-longer");
    cc_headers_set(&h, "api-key", "tok");
    CHECK_EQ_INT(cc_credentials_swap_token(&h, "tok", "tok2"), 1);
    CHECK_EQ_STR(cc_headers_get(&h, "api-key"), "tok2");
    cc_headers_free(&h);
}

int main(void) {
    CC_RUN(test_anthropic);
    CC_RUN(test_other_provider);
    CC_RUN(test_swap_token);
    return CC_DONE();
}
