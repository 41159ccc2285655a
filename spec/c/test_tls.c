/* test_tls.c: the TLS client sessions (tls.c) against an in-memory OpenSSL server. The test
 * makes its own CA and server certificate (localhost, 127.0.0.1, ::1) in memory, and bytes
 * travel between the client session and the server SSL through buffers, cut in random pieces
 * so records arrive split at every possible place. */
#include "check.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "http/tls.h"

#define MIB (1024 * 1024)

/* The certificates shared by the tests. */
static EVP_PKEY *ca_key, *srv_key;
static X509 *ca_cert, *srv_cert;
static char ca_path[256]; /* the CA certificate as a PEM file */
static long next_serial = 1;

/* A deterministic generator, so a failure can be reproduced. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static size_t piece(void) {
    return 1 + (size_t)(rng() % 4000);
}
static void fill_random(char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(rng() >> 24);
}

/* ---- certificates ---- */

static int add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value) {
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
    if (!ext) return -1;
    int rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
    X509_EXTENSION_free(ext);
    return rc;
}

/* A certificate for `key` named `cn`, signed by `issuer` (or self-signed when NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       const char *san) {
    X509 *x = X509_new();
    if (!x) return NULL;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), next_serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 2 * 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    int rc = add_ext(x, &v3, NID_subject_key_identifier, "hash");
    if (!issuer) {
        rc |= add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE");
        rc |= add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        rc |= add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
        rc |= add_ext(x, &v3, NID_basic_constraints, "CA:FALSE");
        rc |= add_ext(x, &v3, NID_key_usage, "critical,digitalSignature");
        rc |= add_ext(x, &v3, NID_ext_key_usage, "serverAuth");
        if (san) rc |= add_ext(x, &v3, NID_subject_alt_name, san);
    }
    if (rc || !X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256())) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int write_temp(char *path, size_t len, const char *content) {
    const char *dir = getenv("TMPDIR");
    snprintf(path, len, "%s/ccproxy-test-tls-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    size_t n = strlen(content);
    int rc = write(fd, content, n) == (ssize_t)n ? 0 : -1;
    close(fd);
    return rc;
}

static int setup(void) {
    ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    srv_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!ca_key || !srv_key) return -1;
    ca_cert = make_cert(ca_key, "ccproxy test CA", NULL, NULL, NULL);
    if (!ca_cert) return -1;
    srv_cert =
        make_cert(srv_key, "localhost", ca_cert, ca_key, "DNS:localhost,IP:127.0.0.1,IP:::1");
    if (!srv_cert) return -1;
    BIO *mem = BIO_new(BIO_s_mem());
    if (!mem || PEM_write_bio_X509(mem, ca_cert) != 1) return -1;
    char *pem = NULL;
    long n = BIO_get_mem_data(mem, &pem);
    char *text = strndup(pem, (size_t)n);
    BIO_free(mem);
    int rc = text ? write_temp(ca_path, sizeof ca_path, text) : -1;
    free(text);
    return rc;
}

static void teardown(void) {
    unlink(ca_path);
    X509_free(ca_cert);
    X509_free(srv_cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
}

/* ---- the in-memory server ---- */

typedef struct {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio, *wbio;
    bool failed;
} server_t;

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
    static const unsigned char mine[] = "\x08http/1.1";
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, mine, sizeof mine - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int server_open(server_t *s) {
    memset(s, 0, sizeof *s);
    s->ctx = SSL_CTX_new(TLS_server_method());
    if (!s->ctx) return -1;
    if (SSL_CTX_use_certificate(s->ctx, srv_cert) != 1 ||
        SSL_CTX_use_PrivateKey(s->ctx, srv_key) != 1 ||
        SSL_CTX_add1_chain_cert(s->ctx, ca_cert) != 1)
        return -1;
    SSL_CTX_set_alpn_select_cb(s->ctx, alpn_select, NULL);
    s->ssl = SSL_new(s->ctx);
    s->rbio = BIO_new(BIO_s_mem());
    s->wbio = BIO_new(BIO_s_mem());
    if (!s->ssl || !s->rbio || !s->wbio) return -1;
    SSL_set_bio(s->ssl, s->rbio, s->wbio);
    SSL_set_accept_state(s->ssl);
    return 0;
}

static void server_close(server_t *s) {
    SSL_free(s->ssl);
    SSL_CTX_free(s->ctx);
    ERR_clear_error();
}

/* Runs the server on what it has received: the handshake, then reading into `plain`. */
static void server_step(server_t *s, cc_buf_t *plain) {
    char chunk[8192];
    if (s->failed) return;
    if (!SSL_is_init_finished(s->ssl)) {
        int rc = SSL_do_handshake(s->ssl);
        if (rc != 1) {
            int e = SSL_get_error(s->ssl, rc);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) s->failed = true;
            ERR_clear_error(); /* the server's errors are not the client's */
            return;
        }
    }
    for (;;) {
        int n = SSL_read(s->ssl, chunk, sizeof chunk);
        if (n <= 0) {
            int e = SSL_get_error(s->ssl, n);
            if (e != SSL_ERROR_WANT_READ) s->failed = true;
            ERR_clear_error();
            return;
        }
        if (plain) cc_buf_append(plain, chunk, (size_t)n);
    }
}

/* Sends the client's pending output to the server in random pieces. */
static void client_to_server(cc_tls_t *c, server_t *s, cc_buf_t *plain) {
    cc_buf_t out = CC_BUF_INIT;
    CHECK_EQ_INT(cc_tls_take_output(c, &out), 0);
    for (size_t off = 0; off < out.len;) {
        size_t n = piece();
        if (n > out.len - off) n = out.len - off;
        BIO_write(s->rbio, out.data + off, (int)n);
        server_step(s, plain);
        off += n;
    }
    cc_buf_free(&out);
}

/* Feeds the server's pending output to the client in random pieces, advancing the handshake or
 * reading into `plain` after each. Returns the last result (-1 on the first failure). */
static int server_to_client(server_t *s, cc_tls_t *c, cc_buf_t *plain) {
    char chunk[4000];
    int rc = 0;
    while (BIO_ctrl_pending(s->wbio) > 0) {
        int n = BIO_read(s->wbio, chunk, (int)piece());
        if (n <= 0) break;
        if (cc_tls_feed(c, chunk, (size_t)n) < 0) return -1;
        rc = cc_tls_handshake_done(c) ? cc_tls_read(c, plain) : cc_tls_handshake(c);
        if (rc < 0) return -1;
    }
    return rc;
}

/* Runs the handshake to its end. Returns 0, or -1 if the client failed. */
static int pump_handshake(cc_tls_t *c, server_t *s) {
    cc_buf_t scratch = CC_BUF_INIT;
    int rc = -1;
    for (int i = 0; i < 50; i++) {
        if (cc_tls_handshake(c) < 0) {
            client_to_server(c, s, NULL); /* the alert */
            goto out;
        }
        client_to_server(c, s, NULL);
        if (server_to_client(s, c, &scratch) < 0) {
            client_to_server(c, s, NULL);
            goto out;
        }
        if (cc_tls_handshake_done(c) && SSL_is_init_finished(s->ssl) &&
            BIO_ctrl_pending(s->wbio) == 0) {
            rc = 0;
            goto out;
        }
    }
    fprintf(stderr, "handshake did not finish\n");
out:
    CHECK_EQ_INT(scratch.len, 0); /* no plaintext arrives during a handshake */
    cc_buf_free(&scratch);
    return rc;
}

/* A context, a session to `host` and a server; returns the handshake result. */
typedef struct {
    cc_tls_ctx_t *ctx;
    cc_tls_t *tls;
    server_t srv;
    char err[256];
} pair_t;

static int pair_open(pair_t *p, bool verify, const char *ca_file, const char *host) {
    memset(p, 0, sizeof *p);
    p->ctx = cc_tls_ctx_new(verify, ca_file, p->err, sizeof p->err);
    CHECK(p->ctx != NULL);
    if (!p->ctx) {
        fprintf(stderr, "cc_tls_ctx_new: %s\n", p->err);
        return -2;
    }
    p->tls = cc_tls_new(p->ctx, host);
    CHECK(p->tls != NULL);
    CHECK_EQ_INT(server_open(&p->srv), 0);
    if (!p->tls) return -2;
    int rc = pump_handshake(p->tls, &p->srv);
    CHECK_EQ_INT(ERR_peek_error(), 0); /* the session left nothing in the error queue */
    return rc;
}

static void pair_close(pair_t *p) {
    cc_tls_free(p->tls);
    cc_tls_ctx_free(p->ctx);
    server_close(&p->srv);
}

static bool contains(const char *hay, const char *needle) {
    return hay && strstr(hay, needle) != NULL;
}

/* ---- tests ---- */

static void test_ca_file_trusts_the_server(void) {
    pair_t p;
    CHECK_EQ_INT(pair_open(&p, true, ca_path, "localhost"), 0);
    CHECK(cc_tls_handshake_done(p.tls));
    CHECK_EQ_INT(cc_tls_handshake(p.tls), CC_TLS_DONE);
    CHECK_EQ_STR(SSL_get_servername(p.srv.ssl, TLSEXT_NAMETYPE_host_name), "localhost");
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(p.srv.ssl, &alpn, &alpn_len);
    CHECK(alpn_len == 8 && memcmp(alpn, "http/1.1", 8) == 0);
    CHECK(SSL_version(p.srv.ssl) >= TLS1_2_VERSION);
    CHECK_EQ_STR(cc_tls_error(p.tls), "no error");
    pair_close(&p);
}

static void test_ssl_cert_file_trusts_the_server(void) {
    unsetenv("SSL_CERT_DIR");
    setenv("SSL_CERT_FILE", ca_path, 1);
    pair_t p;
    CHECK_EQ_INT(pair_open(&p, true, NULL, "localhost"), 0);
    pair_close(&p);
    unsetenv("SSL_CERT_FILE");
}

static void test_default_store_rejects_unknown_ca(void) {
    unsetenv("SSL_CERT_FILE");
    unsetenv("SSL_CERT_DIR");
    pair_t p;
    CHECK_EQ_INT(pair_open(&p, true, NULL, "localhost"), -1);
    const char *e = cc_tls_error(p.tls);
    CHECK(contains(e, "TLS certificate verify failed for host localhost: "));
    CHECK(contains(e, "self-signed certificate in certificate chain"));
    CHECK(contains(e, "SSL_CERT_FILE"));
    CHECK(!cc_tls_handshake_done(p.tls));
    CHECK_EQ_INT(cc_tls_handshake(p.tls), -1); /* stays failed */
    CHECK(p.srv.failed);                       /* the server got the alert */
    pair_close(&p);
}

static void test_hostname_mismatch_fails(void) {
    pair_t p;
    CHECK_EQ_INT(pair_open(&p, true, ca_path, "example.test"), -1);
    const char *e = cc_tls_error(p.tls);
    CHECK(contains(e, "verify failed for host example.test"));
    CHECK(contains(e, "hostname mismatch"));
    CHECK_EQ_STR(SSL_get_servername(p.srv.ssl, TLSEXT_NAMETYPE_host_name), "example.test");
    pair_close(&p);
}

static void test_ip_literals_verify_against_ip_sans(void) {
    static const char *const good[] = {"127.0.0.1", "::1", "[::1]"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        pair_t p;
        CHECK_EQ_INT(pair_open(&p, true, ca_path, good[i]), 0);
        CHECK(SSL_get_servername(p.srv.ssl, TLSEXT_NAMETYPE_host_name) == NULL); /* no SNI */
        pair_close(&p);
    }
    pair_t p;
    CHECK_EQ_INT(pair_open(&p, true, ca_path, "127.0.0.2"), -1);
    CHECK(contains(cc_tls_error(p.tls), "IP address mismatch"));
    CHECK(SSL_get_servername(p.srv.ssl, TLSEXT_NAMETYPE_host_name) == NULL);
    pair_close(&p);
}

static void test_verify_false_accepts_anything(void) {
    unsetenv("SSL_CERT_FILE");
    pair_t p;
    CHECK_EQ_INT(pair_open(&p, false, NULL, "example.test"), 0);
    CHECK_EQ_STR(SSL_get_servername(p.srv.ssl, TLSEXT_NAMETYPE_host_name), "example.test");
    pair_close(&p);
    /* A missing CA file does not matter when nothing is verified. */
    char err[256] = "";
    cc_tls_ctx_t *c = cc_tls_ctx_new(false, "/nonexistent/ca.pem", err, sizeof err);
    CHECK(c != NULL);
    cc_tls_ctx_free(c);
}

static void test_ctx_errors_name_the_file(void) {
    char err[256] = "";
    CHECK(cc_tls_ctx_new(true, "/nonexistent/ca.pem", err, sizeof err) == NULL);
    CHECK(contains(err, "/nonexistent/ca.pem"));
    CHECK(contains(err, "No such file or directory"));

    char bad[256];
    CHECK_EQ_INT(write_temp(bad, sizeof bad, "this is not a certificate\n"), 0);
    err[0] = '\0';
    CHECK(cc_tls_ctx_new(true, bad, err, sizeof err) == NULL);
    CHECK(contains(err, "cannot load the CA file"));
    CHECK(contains(err, bad));
    unlink(bad);

    setenv("SSL_CERT_FILE", "/nonexistent/bundle.pem", 1);
    err[0] = '\0';
    CHECK(cc_tls_ctx_new(true, NULL, err, sizeof err) == NULL);
    CHECK(contains(err, "SSL_CERT_FILE=/nonexistent/bundle.pem"));
    unsetenv("SSL_CERT_FILE");
    CHECK_EQ_INT(ERR_peek_error(), 0);
}

static void test_megabyte_both_ways(void) {
    pair_t p;
    CHECK_EQ_INT(pair_open(&p, true, ca_path, "localhost"), 0);
    char *up = malloc(MIB), *down = malloc(MIB);
    fill_random(up, MIB);
    fill_random(down, MIB);
    cc_buf_t got_up = CC_BUF_INIT, got_down = CC_BUF_INIT;

    /* Client to server: one call for the whole megabyte, a second for nothing. */
    CHECK_EQ_INT(cc_tls_write(p.tls, up, MIB), 0);
    CHECK_EQ_INT(cc_tls_write(p.tls, up, 0), 0);
    client_to_server(p.tls, &p.srv, &got_up);
    CHECK(!p.srv.failed);
    CHECK_EQ_INT(got_up.len, MIB);
    CHECK(got_up.len == MIB && memcmp(got_up.data, up, MIB) == 0);

    /* Server to client, written in random amounts and read after every random piece. */
    for (size_t off = 0; off < MIB;) {
        size_t n = piece() * 8;
        if (n > MIB - off) n = MIB - off;
        CHECK_EQ_INT(SSL_write(p.srv.ssl, down + off, (int)n), (int)n);
        off += n;
        CHECK_EQ_INT(server_to_client(&p.srv, p.tls, &got_down), 0);
    }
    CHECK_EQ_INT(got_down.len, MIB);
    CHECK(got_down.len == MIB && memcmp(got_down.data, down, MIB) == 0);

    /* Many records in one feed: one read drains them all. */
    CHECK_EQ_INT(SSL_write(p.srv.ssl, down, 200000), 200000);
    cc_buf_t wire = CC_BUF_INIT;
    char chunk[16384];
    int n;
    while ((n = BIO_read(p.srv.wbio, chunk, sizeof chunk)) > 0)
        cc_buf_append(&wire, chunk, (size_t)n);
    CHECK_EQ_INT(cc_tls_feed(p.tls, wire.data, wire.len), 0);
    cc_buf_reset(&got_down);
    CHECK_EQ_INT(cc_tls_read(p.tls, &got_down), 0);
    CHECK(got_down.len == 200000 && memcmp(got_down.data, down, 200000) == 0);
    cc_buf_free(&wire);

    /* Nothing pending: take_output appends nothing, read appends nothing. */
    cc_buf_t none = CC_BUF_INIT;
    CHECK_EQ_INT(cc_tls_take_output(p.tls, &none), 0);
    CHECK_EQ_INT(none.len, 0);
    CHECK_EQ_INT(cc_tls_read(p.tls, &none), 0);
    CHECK_EQ_INT(none.len, 0);
    cc_buf_free(&none);

    cc_buf_free(&got_up);
    cc_buf_free(&got_down);
    free(up);
    free(down);
    pair_close(&p);
}

static void test_close_notify_closes(void) {
    pair_t p;
    CHECK_EQ_INT(pair_open(&p, true, ca_path, "localhost"), 0);
    CHECK_EQ_INT(SSL_write(p.srv.ssl, "bye", 3), 3);
    CHECK(SSL_shutdown(p.srv.ssl) >= 0);
    /* The data and the close_notify arrive in one feed: the data is kept, then CLOSED. */
    cc_buf_t wire = CC_BUF_INIT, plain = CC_BUF_INIT;
    char chunk[4096];
    int n;
    while ((n = BIO_read(p.srv.wbio, chunk, sizeof chunk)) > 0)
        cc_buf_append(&wire, chunk, (size_t)n);
    CHECK_EQ_INT(cc_tls_feed(p.tls, wire.data, wire.len), 0);
    CHECK_EQ_INT(cc_tls_read(p.tls, &plain), CC_TLS_CLOSED);
    CHECK_EQ_STR(plain.data, "bye");
    CHECK_EQ_INT(cc_tls_read(p.tls, &plain), CC_TLS_CLOSED);
    CHECK_EQ_INT(plain.len, 3);
    cc_buf_free(&wire);
    cc_buf_free(&plain);
    pair_close(&p);
}

static void test_garbage_fails_cleanly(void) {
    char junk[3000];
    cc_buf_t out = CC_BUF_INIT;

    /* During the handshake, after the ClientHello. */
    char err[256];
    cc_tls_ctx_t *ctx = cc_tls_ctx_new(true, ca_path, err, sizeof err);
    CHECK(ctx != NULL);
    cc_tls_t *t = cc_tls_new(ctx, "localhost");
    CHECK(t != NULL);
    CHECK_EQ_INT(cc_tls_handshake(t), CC_TLS_WANT_MORE);
    CHECK_EQ_INT(cc_tls_take_output(t, &out), 0);
    CHECK(out.len > 0 && (unsigned char)out.data[0] == 0x16); /* a handshake record */
    fill_random(junk, sizeof junk);
    junk[0] = 0x42; /* not a TLS content type */
    CHECK_EQ_INT(cc_tls_feed(t, junk, sizeof junk), 0);
    CHECK_EQ_INT(cc_tls_handshake(t), -1);
    CHECK(contains(cc_tls_error(t), "TLS handshake with localhost failed: "));
    CHECK_EQ_INT(ERR_peek_error(), 0);
    CHECK_EQ_INT(cc_tls_read(t, &out), -1);
    CHECK_EQ_INT(cc_tls_write(t, "x", 1), -1);
    CHECK_EQ_INT(cc_tls_feed(t, junk, 10), -1);
    cc_tls_free(t);

    /* Writing before the handshake is an error, not a silent buffer. */
    t = cc_tls_new(ctx, "localhost");
    CHECK_EQ_INT(cc_tls_write(t, "x", 1), -1);
    CHECK(contains(cc_tls_error(t), "before the handshake"));
    cc_tls_free(t);

    /* No host name: refused rather than left unchecked. */
    t = cc_tls_new(ctx, "");
    CHECK(t != NULL);
    CHECK_EQ_INT(cc_tls_handshake(t), -1);
    CHECK(contains(cc_tls_error(t), "without a host name"));
    cc_tls_free(t);
    cc_tls_ctx_free(ctx);

    /* After the handshake: a forged application-data record, then pure noise. */
    for (int round = 0; round < 2; round++) {
        pair_t p;
        CHECK_EQ_INT(pair_open(&p, true, ca_path, "localhost"), 0);
        fill_random(junk, sizeof junk);
        if (round == 0) {
            junk[0] = 0x17, junk[1] = 0x03, junk[2] = 0x03;
            junk[3] = (char)((sizeof junk - 5) >> 8), junk[4] = (char)((sizeof junk - 5) & 0xff);
        }
        cc_buf_reset(&out);
        CHECK_EQ_INT(cc_tls_feed(p.tls, junk, sizeof junk), 0);
        CHECK_EQ_INT(cc_tls_read(p.tls, &out), -1);
        CHECK_EQ_INT(out.len, 0);
        CHECK(contains(cc_tls_error(p.tls), "TLS error from localhost: "));
        CHECK_EQ_INT(ERR_peek_error(), 0);
        CHECK_EQ_INT(cc_tls_read(p.tls, &out), -1); /* stays failed */
        cc_buf_reset(&out);
        CHECK_EQ_INT(cc_tls_take_output(p.tls, &out), 0); /* the alert can still be sent */
        pair_close(&p);
    }
    cc_buf_free(&out);
}

static void test_errors_stay_in_their_session(void) {
    char err[256];
    cc_tls_ctx_t *ctx = cc_tls_ctx_new(true, ca_path, err, sizeof err);
    CHECK(ctx != NULL);
    /* Session a fails; session b on the same context then works and reports no error. */
    cc_tls_t *a = cc_tls_new(ctx, "localhost");
    cc_tls_t *b = cc_tls_new(ctx, "localhost");
    server_t sb;
    CHECK_EQ_INT(server_open(&sb), 0);
    CHECK_EQ_INT(cc_tls_handshake(a), CC_TLS_WANT_MORE);
    char junk[64];
    memset(junk, 0x99, sizeof junk);
    CHECK_EQ_INT(cc_tls_feed(a, junk, sizeof junk), 0);
    CHECK_EQ_INT(cc_tls_handshake(a), -1);
    CHECK_EQ_INT(pump_handshake(b, &sb), 0);
    CHECK_EQ_STR(cc_tls_error(b), "no error");
    CHECK(contains(cc_tls_error(a), "failed"));
    CHECK_EQ_INT(cc_tls_write(b, "ping", 4), 0);
    cc_buf_t got = CC_BUF_INIT;
    client_to_server(b, &sb, &got);
    CHECK_EQ_STR(got.data, "ping");
    cc_buf_free(&got);
    cc_tls_free(a);
    cc_tls_free(b);
    server_close(&sb);
    cc_tls_ctx_free(ctx);
}

int main(void) {
    if (setup() < 0) {
        fprintf(stderr, "cannot make the test certificates\n");
        ERR_print_errors_fp(stderr);
        return 1;
    }
    CC_RUN(test_ca_file_trusts_the_server);
    CC_RUN(test_ssl_cert_file_trusts_the_server);
    CC_RUN(test_default_store_rejects_unknown_ca);
    CC_RUN(test_hostname_mismatch_fails);
    CC_RUN(test_ip_literals_verify_against_ip_sans);
    CC_RUN(test_verify_false_accepts_anything);
    CC_RUN(test_ctx_errors_name_the_file);
    CC_RUN(test_megabyte_both_ways);
    CC_RUN(test_close_notify_closes);
    CC_RUN(test_garbage_fails_cleanly);
    CC_RUN(test_errors_stay_in_their_session);
    teardown();
    return CC_DONE();
}
