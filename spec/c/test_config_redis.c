/* test_config_redis.c: router_settings' Redis keys (config_redis.c): redis_host, redis_port,
 * redis_password and redis_url, each as text and as os.environ/VAR; the URL's forms (user,
 * password, escapes, IPv6, database); every error at its file:line:col, and that no message
 * ever shows a password. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config/config.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static int count_lines(const cc_buf_t *b) {
    int n = 0;
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i] == '\n') n++;
    return n;
}

static int has_line(const cc_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int has_line(const cc_buf_t *b, const char *fmt, ...) {
    char want[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    size_t n = strlen(want);
    for (const char *p = b->data; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == n && memcmp(p, want, n) == 0) return 1;
        p = nl ? nl + 1 : p + len;
    }
    fprintf(stderr, "  missing line: %s\n  in:\n%s", want, b->data ? b->data : "(empty)\n");
    return 0;
}

static int has_text(const cc_buf_t *b, const char *needle) {
    return b->data && strstr(b->data, needle) != NULL;
}

/* config.yaml: one deployment (lines 1-4), then `tail` from line 5. */
static cc_config_t *load(const char *tail, cc_buf_t *err, cc_buf_t *warn) {
    cc_buf_t text = CC_BUF_INIT;
    cc_buf_puts(&text, "model_list:\n"
                       "  - model_name: default\n"
                       "    litellm_params:\n"
                       "      model: anthropic/claude-sonnet-5-5\n");
    cc_buf_puts(&text, tail);
    cc_buf_reset(err);
    cc_buf_reset(warn);
    cc_config_t *cfg = cc_config_load_mem("/cfgtest", "", 0, text.data, text.len, err, warn);
    cc_buf_free(&text);
    return cfg;
}

/* Loads `tail`, which must load cleanly, and checks the Redis settings it gives. */
static void check_redis(const char *tail, const char *host, int port, const char *user,
                        const char *password, int db) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = load(tail, &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    CHECK_EQ_INT(warn.len, 0);
    if (err.len || warn.len)
        fprintf(stderr, "  for:\n%s  got:\n%s%s", tail, err.data ? err.data : "",
                warn.data ? warn.data : "");
    if (cfg) {
        const cc_redis_settings_t *r = &cfg->router.redis;
        if (host)
            CHECK_EQ_STR(r->host, host);
        else
            CHECK(r->host == NULL);
        CHECK_EQ_INT(r->port, port);
        if (user)
            CHECK_EQ_STR(r->username, user);
        else
            CHECK(r->username == NULL);
        if (password)
            CHECK_EQ_STR(r->password, password);
        else
            CHECK(r->password == NULL);
        CHECK_EQ_INT(r->db, db);
    }
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

/* Loads `tail`, which must fail with exactly the error line `want` (and nothing else). */
static void check_error(const char *tail, const char *want) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = load(tail, &err, &warn);
    CHECK(cfg == NULL);
    CHECK(has_line(&err, "%s", want));
    CHECK_EQ_INT(count_lines(&err), 1);
    CHECK(!has_text(&err, "s3cret"));
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

/* ---- the keys ----------------------------------------------------------------------------- */

static void test_no_redis(void) {
    check_redis("", NULL, 0, NULL, NULL, 0);
    check_redis("router_settings:\n  num_retries: 1\n", NULL, 0, NULL, NULL, 0);
    check_redis("router_settings:\n  redis_host:\n  redis_url: \"\"\n", NULL, 0, NULL, NULL, 0);
    /* LiteLLM's Router reads them from router_settings only; litellm_settings keeps its own. */
    check_redis("litellm_settings:\n  redis_host: localhost\n", NULL, 0, NULL, NULL, 0);
}

static void test_host_port_password(void) {
    check_redis("router_settings:\n  redis_host: localhost\n", "localhost", 6379, NULL, NULL, 0);
    check_redis("router_settings:\n"
                "  redis_host: 10.0.0.7\n"
                "  redis_port: 6380\n"
                "  redis_password: s3cret\n",
                "10.0.0.7", 6380, NULL, "s3cret", 0);
    check_redis("router_settings:\n  redis_host: \"::1\"\n  redis_port: \"7000\"\n", "::1", 7000,
                NULL, NULL, 0);
    check_redis("router_settings:\n  redis_host: \"[::1]\"\n", "::1", 6379, NULL, NULL, 0);
    check_redis("router_settings:\n  redis_host: localhost\n  redis_password: \"\"\n",
                "localhost", 6379, NULL, NULL, 0);
}

static void test_os_environ(void) {
    setenv("CC_TEST_REDIS_HOST", "redis.internal", 1);
    setenv("CC_TEST_REDIS_PORT", "6390", 1);
    setenv("CC_TEST_REDIS_PW", "s3cret from env", 1);
    setenv("CC_TEST_REDIS_URL", "redis://:s3cret%21@127.0.0.1:6391/4", 1);
    check_redis("router_settings:\n"
                "  redis_host: os.environ/CC_TEST_REDIS_HOST\n"
                "  redis_port: os.environ/CC_TEST_REDIS_PORT\n"
                "  redis_password: os.environ/CC_TEST_REDIS_PW\n",
                "redis.internal", 6390, NULL, "s3cret from env", 0);
    check_redis("router_settings:\n  redis_url: os.environ/CC_TEST_REDIS_URL\n", "127.0.0.1",
                6391, NULL, "s3cret!", 4);
    /* config.yaml's environment_variables come first, as LiteLLM sets them */
    check_redis("environment_variables:\n"
                "  CC_TEST_REDIS_HOST: from-settings\n"
                "router_settings:\n"
                "  redis_host: os.environ/CC_TEST_REDIS_HOST\n",
                "from-settings", 6379, NULL, NULL, 0);

    unsetenv("CC_TEST_REDIS_UNSET");
    check_error("router_settings:\n  redis_password: os.environ/CC_TEST_REDIS_UNSET\n"
                "  redis_host: localhost\n",
                "/cfgtest/config.yaml:6:19: router_settings.redis_password names "
                "os.environ/CC_TEST_REDIS_UNSET, which is not set; export it or remove "
                "redis_password");
    check_error("router_settings:\n  redis_host: os.environ/\n",
                "/cfgtest/config.yaml:6:15: router_settings.redis_host is \"os.environ/\" "
                "without a variable name; write os.environ/VARIABLE");
    setenv("CC_TEST_REDIS_PORT", "sixty", 1);
    check_error("router_settings:\n  redis_host: localhost\n"
                "  redis_port: os.environ/CC_TEST_REDIS_PORT\n",
                "/cfgtest/config.yaml:7:15: router_settings.redis_port reads "
                "os.environ/CC_TEST_REDIS_PORT, which is 'sixty', not a port number from 1 to "
                "65535; correct the variable");
    unsetenv("CC_TEST_REDIS_HOST");
    unsetenv("CC_TEST_REDIS_PORT");
    unsetenv("CC_TEST_REDIS_PW");
    unsetenv("CC_TEST_REDIS_URL");
}

static void test_url_forms(void) {
    check_redis("router_settings:\n  redis_url: redis://localhost\n", "localhost", 6379, NULL,
                NULL, 0);
    check_redis("router_settings:\n  redis_url: redis://localhost:6380/\n", "localhost", 6380,
                NULL, NULL, 0);
    check_redis("router_settings:\n  redis_url: \"redis://:s3cret@127.0.0.1:6381/2\"\n",
                "127.0.0.1", 6381, NULL, "s3cret", 2);
    check_redis("router_settings:\n  redis_url: \"REDIS://ccproxy:s3cret%40x%3a@redis:1/15\"\n",
                "redis", 1, "ccproxy", "s3cret@x:", 15);
    /* an unescaped '@' in the password: the last one ends the user information */
    check_redis("router_settings:\n  redis_url: \"redis://u:s3c@ret@h\"\n", "h", 6379, "u",
                "s3c@ret", 0);
    check_redis("router_settings:\n  redis_url: \"redis://[::1]:6390/3\"\n", "::1", 6390, NULL,
                NULL, 3);
    check_redis("router_settings:\n  redis_url: \"redis://[fe80::1]\"\n", "fe80::1", 6379, NULL,
                NULL, 0);
}

/* The password may be given apart from the URL; a user in the URL goes with it. */
static void test_url_with_redis_password(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = load("router_settings:\n"
                            "  redis_url: redis://ccproxy:@localhost:6379/1\n"
                            "  redis_password: s3cret\n",
                            &err, &warn);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK_EQ_STR(cfg->router.redis.host, "localhost");
        CHECK_EQ_STR(cfg->router.redis.username, "ccproxy");
        CHECK_EQ_STR(cfg->router.redis.password, "s3cret");
        CHECK_EQ_INT(cfg->router.redis.db, 1);
    }
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

static void test_url_errors(void) {
    check_error("router_settings:\n  redis_url: \"rediss://:s3cret@cache.example:6380\"\n",
                "/cfgtest/config.yaml:6:14: router_settings.redis_url is a rediss:// (TLS) URL, "
                "and ccproxy does not support TLS to Redis; use plain redis:// to a Redis on "
                "loopback, or to a local stunnel that carries it to the remote one over TLS");
    check_error("router_settings:\n  redis_url: \"unix:///run/redis.sock\"\n",
                "/cfgtest/config.yaml:6:14: router_settings.redis_url must start with redis:// "
                "(unix sockets and other schemes are not supported); write "
                "redis://[user:password@]host[:port][/db]");
    check_error("router_settings:\n  redis_url: \"redis://s3cret@localhost\"\n",
                "/cfgtest/config.yaml:6:14: router_settings.redis_url has user information "
                "without a ':'; write user:password@ or :password@ before the host; write "
                "redis://[user:password@]host[:port][/db]");
    check_error("router_settings:\n  redis_url: \"redis://:s3cret@\"\n",
                "/cfgtest/config.yaml:6:14: router_settings.redis_url has no host; write "
                "redis://[user:password@]host[:port][/db]");
    check_error("router_settings:\n  redis_url: \"redis://:s3cret@localhost:99999\"\n",
                "/cfgtest/config.yaml:6:14: router_settings.redis_url has a port that is not a "
                "number from 1 to 65535; write redis://[user:password@]host[:port][/db]");
    check_error("router_settings:\n  redis_url: \"redis://localhost:\"\n",
                "/cfgtest/config.yaml:6:14: router_settings.redis_url has a port that is not a "
                "number from 1 to 65535; write redis://[user:password@]host[:port][/db]");
    check_error("router_settings:\n  redis_url: \"redis://localhost/db1\"\n",
                "/cfgtest/config.yaml:6:14: router_settings.redis_url has a database (after the "
                "host's '/') that is not a whole number from 0 to 1000000; write "
                "redis://[user:password@]host[:port][/db]");
    check_error("router_settings:\n  redis_url: \"redis://localhost?db=1\"\n",
                "/cfgtest/config.yaml:6:14: router_settings.redis_url has a query or fragment "
                "(?... or #...), which ccproxy does not read; give the database as /N; write "
                "redis://[user:password@]host[:port][/db]");
    check_error("router_settings:\n  redis_url: \"redis://:s3cret%4@localhost\"\n",
                "/cfgtest/config.yaml:6:14: router_settings.redis_url has a % in its password "
                "that is not followed by two hex digits; write % as %25; write "
                "redis://[user:password@]host[:port][/db]");
    check_error("router_settings:\n  redis_url: \"redis://[::1/0\"\n",
                "/cfgtest/config.yaml:6:14: router_settings.redis_url has a '[' without an IPv6 "
                "address and ']' after it; write redis://[user:password@]host[:port][/db]");
    check_error("router_settings:\n  redis_url: \"redis://user:@localhost\"\n",
                "/cfgtest/config.yaml:6:14: router_settings.redis_url names a user but no "
                "password; write redis://user:password@host, or give redis_password");
}

static void test_conflicts(void) {
    check_error("router_settings:\n"
                "  redis_host: localhost\n"
                "  redis_url: \"redis://:s3cret@localhost\"\n",
                "/cfgtest/config.yaml:7:14: router_settings.redis_url and redis_host (line 6) "
                "are both set; the URL names the host: keep one of them");
    check_error("router_settings:\n"
                "  redis_url: \"redis://:s3cret@localhost\"\n"
                "  redis_port: 6380\n",
                "/cfgtest/config.yaml:6:14: router_settings.redis_url and redis_port (line 7) "
                "are both set; the URL holds the port (6379 when it has none): keep one of them");
    check_error("router_settings:\n"
                "  redis_url: \"redis://:s3cret@localhost\"\n"
                "  redis_password: s3cret2\n",
                "/cfgtest/config.yaml:6:14: router_settings.redis_url holds a password and "
                "redis_password (line 7) gives one too; keep one of them");
}

static void test_host_and_port_errors(void) {
    check_error("router_settings:\n  redis_host: localhost:6380\n",
                "/cfgtest/config.yaml:6:15: router_settings.redis_host has a ':port'; give the "
                "host name alone and the port as redis_port");
    check_error("router_settings:\n  redis_host: \"redis://:s3cret@localhost\"\n",
                "/cfgtest/config.yaml:6:15: router_settings.redis_host is a URL; write it as "
                "redis_url (redis://[user:password@]host[:port][/db]), or give only the host "
                "name here");
    check_error("router_settings:\n  redis_host: \"my host\"\n",
                "/cfgtest/config.yaml:6:15: router_settings.redis_host has a host with a space, "
                "a control character or one of /@?#[]\\\"' in it; give a host name or an IP "
                "address");
    check_error("router_settings:\n  redis_host: localhost\n  redis_port: 0\n",
                "/cfgtest/config.yaml:7:15: router_settings.redis_port must be a whole number "
                "from 1 to 65535, got \"0\"; change it");
    check_error("router_settings:\n  redis_host: localhost\n  redis_port: 70000\n",
                "/cfgtest/config.yaml:7:15: router_settings.redis_port must be a whole number "
                "from 1 to 65535, got \"70000\"; change it");
    check_error("router_settings:\n  redis_host: [a, b]\n",
                "/cfgtest/config.yaml:6:15: router_settings.redis_host must be a string, got a "
                "list; write a single value");
    check_error("router_settings:\n  redis_host: localhost\n  redis_password: true\n",
                "/cfgtest/config.yaml:7:19: router_settings.redis_password must be a string, got "
                "\"true\" (a YAML bool); quote it if you mean the text: \"true\"");
}

static void test_warnings(void) {
    cc_buf_t err = CC_BUF_INIT, warn = CC_BUF_INIT;
    cc_config_t *cfg = load("router_settings:\n"
                            "  redis_password: s3cret\n"
                            "  redis_port: 6380\n"
                            "  redis_username: ccproxy\n",
                            &err, &warn);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(err.len, 0);
    CHECK(has_line(&warn, "/cfgtest/config.yaml:6:19: router_settings.redis_password is set but "
                          "neither redis_host nor redis_url is, so no Redis is used; add "
                          "redis_host (or redis_url), or remove redis_password"));
    CHECK(has_line(&warn, "/cfgtest/config.yaml:7:15: router_settings.redis_port is set but "
                          "neither redis_host nor redis_url is, so no Redis is used; add "
                          "redis_host (or redis_url), or remove redis_port"));
    /* LiteLLM has no redis_username: a user goes in redis_url */
    CHECK(has_text(&warn, "/cfgtest/config.yaml:8:3: unknown key 'redis_username' in "
                          "router_settings (known keys: num_retries, "));
    CHECK(has_text(&warn, "redis_host, redis_port, redis_password, redis_url); check the "
                          "spelling or remove it"));
    CHECK_EQ_INT(count_lines(&warn), 3);
    CHECK(!has_text(&warn, "s3cret"));
    if (cfg) CHECK(cfg->router.redis.host == NULL);
    cc_config_free(cfg);
    cc_buf_free(&err);
    cc_buf_free(&warn);
}

int main(void) {
    CC_RUN(test_no_redis);
    CC_RUN(test_host_port_password);
    CC_RUN(test_os_environ);
    CC_RUN(test_url_forms);
    CC_RUN(test_url_with_redis_password);
    CC_RUN(test_url_errors);
    CC_RUN(test_conflicts);
    CC_RUN(test_host_and_port_errors);
    CC_RUN(test_warnings);
    return CC_DONE();
}
