/* test_config_otel.c: where request traces go (config_otel.c): ccproxy.otel in ccproxy.yaml
 * (endpoint as a base, traces_endpoint as it is, headers with os.environ/VAR, service_name,
 * timeout), the OTEL_* environment over it key by key, the switches that turn traces off,
 * the batching variables, and every error at its file:line:col (or "environment:") without
 * ever showing a header's value. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"
#include "config/config.h"

static const char *const otel_vars[] = {
    "OTEL_EXPORTER_OTLP_ENDPOINT",       "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_SERVICE_NAME",                 "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",              "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",           "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_EXPORTER_OTLP_PROTOCOL",       "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "CC_TEST_OTLP_AUTH",                 NULL};

static void clear_env(void) {
    for (size_t i = 0; otel_vars[i]; i++) unsetenv(otel_vars[i]);
}

static const char models[] = "model_list:\n"
                             "  - model_name: default\n"
                             "    litellm_params:\n"
                             "      model: anthropic/claude-sonnet-5-5\n";

/* ccproxy.yaml `yaml` with a minimal config.yaml. */
static cc_config_t *load(const char *yaml, cc_buf_t *err, cc_buf_t *warn) {
    cc_buf_reset(err);
    cc_buf_reset(warn);
    return cc_config_load_mem("/cfgtest", yaml, strlen(yaml), models, strlen(models), err, warn);
}

static const char *header(const cc_otel_settings_t *o, const char *name) {
    for (size_t i = 0; i < o->n_headers; i++)
        if (strcasecmp(o->headers[i].name, name) == 0) return o->headers[i].value;
    return NULL;
}

static bool has(const cc_buf_t *b, const char *needle) {
    bool ok = b->data && strstr(b->data, needle);
    if (!ok) fprintf(stderr, "  missing: %s\n  in:\n%s", needle, b->data ? b->data : "(empty)\n");
    return ok;
}

static void test_off_by_default(void) {
    clear_env();
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = load("", &err, &warn);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK(cfg->otel.traces_url == NULL);
        CHECK_EQ_STR(cfg->otel.service_name, "ccproxy");
        CHECK_EQ_INT(cfg->otel.timeout_ms, 5000);
        CHECK_EQ_INT(cfg->otel.schedule_ms, 1000);
        CHECK_EQ_INT(cfg->otel.max_queue, 2048);
        CHECK_EQ_INT(cfg->otel.max_batch, 512);
        CHECK_EQ_INT(cfg->otel.n_headers, 0);
    }
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

/* The traces URL that `yaml` gives (NULL: none), loading cleanly. */
static void check_url(const char *yaml, const char *want) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = load(yaml, &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    if (err.len) fprintf(stderr, "  for:\n%s  got:\n%s", yaml, err.data);
    if (cfg && want) CHECK_EQ_STR(cfg->otel.traces_url, want);
    if (cfg && !want) CHECK(cfg->otel.traces_url == NULL);
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_yaml_endpoints(void) {
    clear_env();
    check_url("ccproxy:\n  otel:\n    endpoint: http://127.0.0.1:4318\n",
              "http://127.0.0.1:4318/v1/traces");
    check_url("ccproxy:\n  otel:\n    endpoint: http://127.0.0.1:4318/\n",
              "http://127.0.0.1:4318/v1/traces");
    check_url("ccproxy:\n  otel:\n    endpoint: https://cloud.langfuse.com/api/public/otel\n",
              "https://cloud.langfuse.com/api/public/otel/v1/traces");
    check_url("ccproxy:\n  otel:\n    endpoint: http://collector:4318/v1/traces\n",
              "http://collector:4318/v1/traces");
    check_url("ccproxy:\n  otel:\n    traces_endpoint: http://[::1]:4318/custom?x=1\n",
              "http://[::1]:4318/custom?x=1");
    check_url("ccproxy:\n  otel:\n    endpoint: http://a:1\n    traces_endpoint: http://b:2/t\n",
              "http://b:2/t");
    check_url("ccproxy:\n  otel:\n", NULL);
    check_url("ccproxy:\n  otel:\n    service_name: x\n", NULL);
}

static void test_env_wins(void) {
    clear_env();
    const char *yaml = "ccproxy:\n"
                       "  otel:\n"
                       "    endpoint: http://yaml:4318\n"
                       "    service_name: from-yaml\n"
                       "    timeout: 2.5\n"
                       "    headers:\n"
                       "      Authorization: Basic yaml\n"
                       "      x-team: core\n";
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = load(yaml, &err, &warn);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK_EQ_STR(cfg->otel.traces_url, "http://yaml:4318/v1/traces");
        CHECK_EQ_STR(cfg->otel.service_name, "from-yaml");
        CHECK_EQ_INT(cfg->otel.timeout_ms, 2500);
        CHECK_EQ_STR(header(&cfg->otel, "authorization"), "Basic yaml");
        CHECK_EQ_STR(header(&cfg->otel, "X-Team"), "core");
    }
    cc_config_free(cfg);

    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318/base/", 1);
    setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Basic%20ZW52OmtleQ==, x-extra = a%2Cb ", 1);
    setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "X-Extra=traces", 1);
    setenv("OTEL_SERVICE_NAME", "from-env", 1);
    setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "700", 1);
    setenv("OTEL_BSP_SCHEDULE_DELAY", "250", 1);
    setenv("OTEL_BSP_MAX_QUEUE_SIZE", "100", 1);
    setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500", 1);
    cfg = load(yaml, &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(warn.len, 0);
    if (cfg) {
        CHECK_EQ_STR(cfg->otel.traces_url, "http://env:4318/base/v1/traces");
        CHECK_EQ_STR(cfg->otel.service_name, "from-env");
        CHECK_EQ_INT(cfg->otel.timeout_ms, 700);
        CHECK_EQ_INT(cfg->otel.schedule_ms, 250);
        CHECK_EQ_INT(cfg->otel.max_queue, 100);
        CHECK_EQ_INT(cfg->otel.max_batch, 100); /* never more than the queue */
        CHECK_EQ_INT(cfg->otel.n_headers, 3);
        CHECK_EQ_STR(header(&cfg->otel, "Authorization"), "Basic ZW52OmtleQ==");
        CHECK_EQ_STR(header(&cfg->otel, "x-team"), "core");
        CHECK_EQ_STR(header(&cfg->otel, "x-extra"), "traces");
    }
    cc_config_free(cfg);

    setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://env-traces:4318/exact", 1);
    setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "900", 1);
    cfg = load(yaml, &err, &warn);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK_EQ_STR(cfg->otel.traces_url, "https://env-traces:4318/exact");
        CHECK_EQ_INT(cfg->otel.timeout_ms, 900);
    }
    cc_config_free(cfg);

    /* The environment alone is enough. */
    cfg = load("", &err, &warn);
    CHECK(cfg != NULL);
    if (cfg) CHECK_EQ_STR(cfg->otel.traces_url, "https://env-traces:4318/exact");
    cc_config_free(cfg);
    clear_env();
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_switched_off(void) {
    clear_env();
    const char *yaml = "ccproxy:\n  otel:\n    endpoint: http://127.0.0.1:4318\n";
    setenv("OTEL_SDK_DISABLED", "TRUE", 1);
    check_url(yaml, NULL);
    setenv("OTEL_SDK_DISABLED", "false", 1);
    check_url(yaml, "http://127.0.0.1:4318/v1/traces");
    unsetenv("OTEL_SDK_DISABLED");
    setenv("OTEL_TRACES_EXPORTER", "none", 1);
    check_url(yaml, NULL);
    setenv("OTEL_TRACES_EXPORTER", "otlp", 1);
    check_url(yaml, "http://127.0.0.1:4318/v1/traces");
    clear_env();
}

static void test_yaml_headers_from_environ(void) {
    clear_env();
    setenv("CC_TEST_OTLP_AUTH", "Basic cGs6c2s=", 1);
    const char *yaml = "ccproxy:\n"
                       "  otel:\n"
                       "    endpoint: http://127.0.0.1:4318\n"
                       "    headers:\n"
                       "      Authorization: os.environ/CC_TEST_OTLP_AUTH\n";
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = load(yaml, &err, &warn);
    CHECK(cfg != NULL);
    if (cfg) CHECK_EQ_STR(header(&cfg->otel, "Authorization"), "Basic cGs6c2s=");
    cc_config_free(cfg);
    unsetenv("CC_TEST_OTLP_AUTH");
    cfg = load(yaml, &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has(&err, "/cfgtest/ccproxy.yaml:5:22: ccproxy.otel.headers.Authorization names "
                    "os.environ/CC_TEST_OTLP_AUTH, which is not set"));
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

/* `yaml` (with the environment as it is) fails with an error containing `want`, and no
 * message shows "s3cret". */
static void check_error(const char *yaml, const char *want) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = load(yaml, &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has(&err, want));
    CHECK(!err.data || !strstr(err.data, "s3cret"));
    CHECK(!warn.data || !strstr(warn.data, "s3cret"));
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_errors(void) {
    clear_env();
    check_error("ccproxy:\n  otel:\n    endpoint: ftp://127.0.0.1:4318\n",
                "/cfgtest/ccproxy.yaml:3:15: ccproxy.otel.endpoint is not an http:// or "
                "https:// URL with a host; write e.g. http://127.0.0.1:4318");
    check_error("ccproxy:\n  otel:\n    endpoint: http://127.0.0.1:4318?x=1\n",
                "/cfgtest/ccproxy.yaml:3:15: ccproxy.otel.endpoint is a base URL");
    check_error("ccproxy:\n  otel:\n    traces_endpoint: \"http://h/a b\"\n",
                "/cfgtest/ccproxy.yaml:3:22: ccproxy.otel.traces_endpoint contains a space");
    check_error("ccproxy:\n  otel: [1]\n", "/cfgtest/ccproxy.yaml:2:9: ccproxy.otel must be a map");
    check_error("ccproxy:\n  otel:\n    endpoint: http://h:1\n    headers: [a]\n",
                "/cfgtest/ccproxy.yaml:4:14: ccproxy.otel.headers must be a map");
    check_error("ccproxy:\n  otel:\n    endpoint: http://h:1\n    headers:\n"
                "      \"bad name\": s3cret\n",
                "/cfgtest/ccproxy.yaml:5:7: ccproxy.otel.headers.bad name: 'bad name' is not a "
                "header name");
    check_error("ccproxy:\n  otel:\n    endpoint: http://h:1\n    headers:\n"
                "      x-key: \"s3cret\\r\\nInjected: 1\"\n",
                "/cfgtest/ccproxy.yaml:5:14: ccproxy.otel.headers.x-key has a control character");
    check_error("ccproxy:\n  otel:\n    endpoint: http://h:1\n    timeout: 0\n",
                "/cfgtest/ccproxy.yaml:4:14: ccproxy.otel.timeout must be a number of seconds");
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318", 1);
    check_error("", "environment: OTEL_EXPORTER_OTLP_ENDPOINT=\"localhost:4318\" is not an "
                    "http:// or https:// URL with a host; set it to e.g. http://127.0.0.1:4318 "
                    "or unset it");
    clear_env();
    setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "grpc://x:4317", 1);
    check_error("", "environment: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=\"grpc://x:4317\"");
    clear_env();
    setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem", 1);
    check_error("ccproxy:\n  otel:\n    endpoint: http://h:1\n",
                "environment: OTEL_EXPORTER_OTLP_CERTIFICATE=\"/nonexistent/ca.pem\" is not a "
                "file ccproxy can read");
    clear_env();
}

static void test_env_warnings(void) {
    clear_env();
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318", 1);
    setenv("OTEL_EXPORTER_OTLP_HEADERS", "good=1,s3cret-without-equals,=s3cret,x=s3cret\r\n,,", 1);
    setenv("OTEL_BSP_SCHEDULE_DELAY", "soon", 1);
    setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "-5", 1);
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", 1);
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = load("", &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    if (cfg) {
        CHECK_EQ_INT(cfg->otel.n_headers, 1);
        CHECK_EQ_STR(header(&cfg->otel, "good"), "1");
        CHECK_EQ_INT(cfg->otel.schedule_ms, 1000);
        CHECK_EQ_INT(cfg->otel.timeout_ms, 5000);
    }
    CHECK(has(&warn, "environment: OTEL_EXPORTER_OTLP_HEADERS: entry 2 is not name=value"));
    CHECK(has(&warn, "environment: OTEL_EXPORTER_OTLP_HEADERS: entry 3 is not name=value"));
    CHECK(has(&warn, "environment: OTEL_EXPORTER_OTLP_HEADERS: entry 4 is not name=value"));
    CHECK(!strstr(warn.data ? warn.data : "", "entry 5"));
    CHECK(has(&warn, "environment: OTEL_BSP_SCHEDULE_DELAY=\"soon\" is not a whole number"));
    CHECK(has(&warn, "environment: OTEL_EXPORTER_OTLP_TIMEOUT=\"-5\" is not a whole number"));
    CHECK(has(&warn, "environment: OTEL_EXPORTER_OTLP_PROTOCOL=\"grpc\": ccproxy sends OTLP as "
                     "http/json only"));
    CHECK(!warn.data || !strstr(warn.data, "s3cret"));
    cc_config_free(cfg);
    clear_env();
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

int main(void) {
    CC_RUN(test_off_by_default);
    CC_RUN(test_yaml_endpoints);
    CC_RUN(test_env_wins);
    CC_RUN(test_switched_off);
    CC_RUN(test_yaml_headers_from_environ);
    CC_RUN(test_errors);
    CC_RUN(test_env_warnings);
    fprintf(stderr, "%d checks, %d failed\n", cc_check_count, cc_check_failures);
    return cc_check_failures ? 1 : 0;
}
