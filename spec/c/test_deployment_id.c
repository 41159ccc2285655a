/* test_deployment_id.c: the ids deployments have in the shared state (routing/deployment_id.h):
 * the same for the same entry, different when the model, base or key differs, distinct for
 * identical entries, model_info.id when given, and nothing of the key in them. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "routing/deployment_id.h"

static cc_model_t model(const char *name, const char *m, const char *base, const char *key) {
    cc_model_t x;
    memset(&x, 0, sizeof x);
    x.model_name = (char *)name;
    x.model = (char *)m;
    x.api_base = (char *)base;
    x.api_key = (char *)key;
    x.alias_of = -1;
    return x;
}

static char *id_of(cc_model_t *models, size_t n, size_t i) {
    cc_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.models = models;
    cfg.n_models = n;
    return cc_deployment_id(&cfg, i);
}

static void test_ids(void) {
    cc_model_t m[5] = {
        model("pool", "anthropic/claude-sonnet-5-5", "https://api.anthropic.com", "sk-ant-key-1"),
        model("pool", "anthropic/claude-sonnet-5-5", "https://api.anthropic.com", "sk-ant-key-2"),
        model("pool", "anthropic/claude-sonnet-5-5", "https://api.anthropic.com", "sk-ant-key-1"),
        model("pool", "anthropic/claude-sonnet-5-5", "http://127.0.0.1:9", "sk-ant-key-1"),
        model("other", "anthropic/claude-sonnet-5-5", "https://api.anthropic.com", NULL),
    };
    char *ids[5];
    for (size_t i = 0; i < 5; i++) {
        ids[i] = id_of(m, 5, i);
        CHECK(ids[i] != NULL);
        if (!ids[i]) return;
        CHECK_EQ_INT(strlen(ids[i]), 16);
        CHECK(strstr(ids[i], "sk-ant") == NULL);
    }
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < i; j++) CHECK(strcmp(ids[i], ids[j]) != 0);
    /* The same configuration elsewhere gives the same ids. */
    for (size_t i = 0; i < 5; i++) {
        char *again = id_of(m, 5, i);
        CHECK_EQ_STR(again, ids[i]);
        free(again);
    }
    /* An entry's id does not depend on the entries after it. */
    char *first = id_of(m, 1, 0);
    CHECK_EQ_STR(first, ids[0]);
    free(first);
    for (size_t i = 0; i < 5; i++) free(ids[i]);
}

static void test_model_info_id(void) {
    cc_model_t m[2] = {
        model("pool", "anthropic/claude-sonnet-5-5", "https://api.anthropic.com", "k1"),
        model("pool", "anthropic/claude-sonnet-5-5", "https://api.anthropic.com", "k2"),
    };
    m[0].model_info = cJSON_Parse("{\"id\": \"primary-key\"}");
    m[1].model_info = cJSON_Parse("{\"id\": \"has a space\"}");
    char *a = id_of(m, 2, 0), *b = id_of(m, 2, 1);
    CHECK_EQ_STR(a, "primary-key");
    CHECK_EQ_INT(strlen(b), 16); /* not usable as an id: the hash */
    free(a);
    free(b);
    cJSON_Delete(m[0].model_info);
    cJSON_Delete(m[1].model_info);
}

int main(void) {
    CC_RUN(test_ids);
    CC_RUN(test_model_info_id);
    return CC_DONE();
}
