/* tls.c: TLS client sessions over OpenSSL memory BIOs (see tls.h). This file owns the client
 * SSL_CTX policy (TLS 1.2 minimum, ALPN http/1.1, trust store and verification), SNI and
 * hostname/IP verification per session, and turning OpenSSL's errors into messages kept in the
 * session. The OpenSSL error queue is per thread; it is cleared before every SSL_* call and
 * after an error is read, so one session's errors never show up in another's. */
#include "http/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define CC_TLS_CHUNK 16384 /* plaintext read per SSL_read call */

struct cc_tls_ctx_s {
    SSL_CTX *ssl_ctx;
    bool verify;
    char *ca_file; /* copy of the CA file trusted, for messages; NULL for the default store */
};

struct cc_tls_s {
    SSL *ssl;
    BIO *rbio; /* ciphertext from the network, read by OpenSSL */
    BIO *wbio; /* ciphertext written by OpenSSL, to send */
    cc_tls_ctx_t *ctx;
    bool done;   /* handshake finished */
    bool failed; /* a fatal error happened; every later call fails with the same message */
    bool closed; /* close_notify received */
    char err[320];
    char host[]; /* as given to cc_tls_new */
};

/* "http/1.1" in the ALPN wire format (length-prefixed). */
static const unsigned char alpn_http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

/* Writes the reason of the oldest error in the OpenSSL queue (or `fallback`) and clears it. */
static void ssl_reason(char *dst, size_t len, const char *fallback) {
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    if (reason)
        snprintf(dst, len, "%s", reason);
    else if (e)
        ERR_error_string_n(e, dst, len);
    else
        snprintf(dst, len, "%s", fallback);
    ERR_clear_error();
}

static void __attribute__((format(printf, 3, 4)))
set_ctx_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Checks that `path` can be opened for reading, so the message can say why not. */
static int check_readable(const char *path, char *why, size_t len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, len, "%s", strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

static int load_trust(cc_tls_ctx_t *c, const char *ca_file, char *err, size_t errlen) {
    char why[256];
    if (ca_file && *ca_file) {
        if (check_readable(ca_file, why, sizeof why) < 0) {
            set_ctx_err(err, errlen,
                        "cannot read the CA file %s: %s (fix the path given in ssl_verify)",
                        ca_file, why);
            return -1;
        }
        ERR_clear_error();
        if (SSL_CTX_load_verify_locations(c->ssl_ctx, ca_file, NULL) != 1) {
            ssl_reason(why, sizeof why, "no certificates found");
            set_ctx_err(err, errlen,
                        "cannot load the CA file %s: %s (it must hold PEM certificates)", ca_file,
                        why);
            return -1;
        }
        c->ca_file = strdup(ca_file);
        if (!c->ca_file) {
            set_ctx_err(err, errlen, "out of memory loading the CA file");
            return -1;
        }
        return 0;
    }
    /* OpenSSL ignores an unreadable SSL_CERT_FILE and silently trusts nothing; say so now. */
    const char *env = getenv("SSL_CERT_FILE");
    if (env && *env && check_readable(env, why, sizeof why) < 0) {
        set_ctx_err(err, errlen, "cannot read SSL_CERT_FILE=%s: %s (fix or unset it)", env, why);
        return -1;
    }
    ERR_clear_error();
    if (SSL_CTX_set_default_verify_paths(c->ssl_ctx) != 1) {
        ssl_reason(why, sizeof why, "unknown error");
        set_ctx_err(err, errlen, "cannot load the system CA store: %s", why);
        return -1;
    }
    ERR_clear_error();
    return 0;
}

cc_tls_ctx_t *cc_tls_ctx_new(bool verify, const char *ca_file, char *err, size_t errlen) {
    char why[256];
    cc_tls_ctx_t *c = calloc(1, sizeof *c);
    if (!c) {
        set_ctx_err(err, errlen, "out of memory creating the TLS context");
        return NULL;
    }
    c->verify = verify;
    ERR_clear_error();
    c->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ssl_ctx) goto ssl_fail;
    if (SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION) != 1) goto ssl_fail;
    /* SSL_CTX_set_alpn_protos returns 0 on success. */
    if (SSL_CTX_set_alpn_protos(c->ssl_ctx, alpn_http11, sizeof alpn_http11) != 0) goto ssl_fail;
    /* Memory BIOs never report EOF: the socket's EOF is the connection's business, and HTTP
     * framing decides whether a response was complete. Should OpenSSL ever see an EOF without
     * close_notify, it counts as a close rather than an error, for the same reason. */
    SSL_CTX_set_options(c->ssl_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (verify) {
        if (load_trust(c, ca_file, err, errlen) < 0) goto fail;
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_NONE, NULL);
    }
    ERR_clear_error();
    return c;

ssl_fail:
    ssl_reason(why, sizeof why, "unknown error");
    set_ctx_err(err, errlen, "cannot create the TLS context: %s", why);
fail:
    cc_tls_ctx_free(c);
    return NULL;
}

void cc_tls_ctx_free(cc_tls_ctx_t *c) {
    if (!c) return;
    SSL_CTX_free(c->ssl_ctx);
    free(c->ca_file);
    free(c);
}

/* Copies `host` without IPv6 brackets into `ip` if it is an IP literal; returns whether. */
static bool ip_literal(const char *host, char *ip, size_t iplen) {
    unsigned char addr[sizeof(struct in6_addr)];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n == 0 || n >= iplen) return false;
    memcpy(ip, host, n);
    ip[n] = '\0';
    return inet_pton(AF_INET, ip, addr) == 1 || inet_pton(AF_INET6, ip, addr) == 1;
}

cc_tls_t *cc_tls_new(cc_tls_ctx_t *ctx, const char *host) {
    char ip[INET6_ADDRSTRLEN + 1];
    if (!host) host = "";
    size_t hlen = strlen(host);
    cc_tls_t *t = calloc(1, sizeof *t + hlen + 1);
    if (!t) return NULL;
    memcpy(t->host, host, hlen + 1);
    t->ctx = ctx;
    snprintf(t->err, sizeof t->err, "no error");

    ERR_clear_error();
    t->ssl = SSL_new(ctx->ssl_ctx);
    BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !rbio || !wbio) goto fail;
    SSL_set_bio(t->ssl, rbio, wbio); /* the SSL owns both BIOs from here */
    t->rbio = rbio;
    t->wbio = wbio;
    rbio = wbio = NULL;
    SSL_set_connect_state(t->ssl);

    bool is_ip = ip_literal(host, ip, sizeof ip);
    if (!is_ip && hlen && SSL_set_tlsext_host_name(t->ssl, host) != 1) goto fail;
    if (ctx->verify && hlen == 0) {
        /* OpenSSL would skip the name check for an empty name; refuse instead. */
        snprintf(t->err, sizeof t->err,
                 "TLS session without a host name: the certificate cannot be verified");
        t->failed = true;
    } else if (ctx->verify && is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), ip) != 1) goto fail;
    } else if (ctx->verify) {
        SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set1_host(t->ssl, host) != 1) goto fail;
    }
    ERR_clear_error();
    return t;

fail:
    ERR_clear_error();
    SSL_free(t->ssl);
    BIO_free(rbio);
    BIO_free(wbio);
    free(t);
    return NULL;
}

void cc_tls_free(cc_tls_t *t) {
    if (!t) return;
    SSL_free(t->ssl);
    free(t);
}

/* Records a fatal error of the session; later calls fail with the same message. */
static int __attribute__((format(printf, 2, 3))) fail_with(cc_tls_t *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->err, sizeof t->err, fmt, ap);
    va_end(ap);
    t->failed = true;
    ERR_clear_error();
    return -1;
}

/* Records why a handshake failed: a certificate problem gets its X.509 reason and a hint. */
static int handshake_failed(cc_tls_t *t, int ssl_err) {
    char why[256];
    long vr = SSL_get_verify_result(t->ssl);
    if (t->ctx->verify && vr != X509_V_OK) {
        const char *reason = X509_verify_cert_error_string(vr);
        char hint[192];
        if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
            snprintf(hint, sizeof hint,
                     "the certificate does not list this name: use a name it lists, "
                     "or set ssl_verify: false");
        else if (t->ctx->ca_file)
            snprintf(hint, sizeof hint, "the CA file %.128s in ssl_verify does not trust it",
                     t->ctx->ca_file);
        else
            snprintf(hint, sizeof hint, "set ssl_verify or SSL_CERT_FILE to trust it");
        snprintf(why, sizeof why, "%s (%s)", reason, hint);
        return fail_with(t, "TLS certificate verify failed for host %s: %s", t->host, why);
    }
    if (ssl_err == SSL_ERROR_ZERO_RETURN)
        return fail_with(t, "TLS handshake with %s failed: the server closed the session", t->host);
    ssl_reason(why, sizeof why, "the connection failed");
    return fail_with(t, "TLS handshake with %s failed: %s", t->host, why);
}

int cc_tls_handshake(cc_tls_t *t) {
    if (t->failed) return -1;
    if (t->done) return CC_TLS_DONE;
    ERR_clear_error();
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        t->done = true;
        return CC_TLS_DONE;
    }
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return CC_TLS_WANT_MORE;
    }
    return handshake_failed(t, e);
}

bool cc_tls_handshake_done(const cc_tls_t *t) {
    return t->done;
}

int cc_tls_feed(cc_tls_t *t, const void *data, size_t len) {
    const char *p = data;
    if (t->failed) return -1;
    while (len > 0) {
        int n = len > INT_MAX ? INT_MAX : (int)len;
        ERR_clear_error();
        int w = BIO_write(t->rbio, p, n);
        if (w <= 0)
            return fail_with(t, "TLS session with %s: out of memory buffering input", t->host);
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int cc_tls_read(cc_tls_t *t, cc_buf_t *out) {
    char why[256];
    if (t->failed) return -1;
    if (t->closed) return CC_TLS_CLOSED;
    if (!t->done) {
        int rc = cc_tls_handshake(t);
        if (rc != CC_TLS_DONE) return rc < 0 ? -1 : 0;
    }
    for (;;) {
        if (cc_buf_reserve(out, CC_TLS_CHUNK) < 0)
            return fail_with(t, "TLS session with %s: out of memory reading", t->host);
        size_t got = 0;
        ERR_clear_error();
        int rc = SSL_read_ex(t->ssl, out->data + out->len, CC_TLS_CHUNK, &got);
        if (rc == 1) {
            out->len += got;
            out->data[out->len] = '\0';
            continue;
        }
        int e = SSL_get_error(t->ssl, rc);
        switch (e) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE: /* memory BIOs never block; output waits in take_output */
            ERR_clear_error();
            return 0;
        case SSL_ERROR_ZERO_RETURN: /* close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF) */
            ERR_clear_error();
            t->closed = true;
            snprintf(t->err, sizeof t->err, "TLS session with %s closed by the peer", t->host);
            return CC_TLS_CLOSED;
        default:
            ssl_reason(why, sizeof why, "the connection failed");
            return fail_with(t, "TLS error from %s: %s", t->host, why);
        }
    }
}

int cc_tls_write(cc_tls_t *t, const void *data, size_t len) {
    char why[256];
    const char *p = data;
    if (t->failed) return -1;
    if (!t->done)
        return fail_with(t, "TLS session with %s: write before the handshake finished", t->host);
    while (len > 0) {
        size_t wrote = 0;
        ERR_clear_error();
        if (SSL_write_ex(t->ssl, p, len, &wrote) != 1) {
            ssl_reason(why, sizeof why, "the connection failed");
            return fail_with(t, "TLS error writing to %s: %s", t->host, why);
        }
        p += wrote;
        len -= wrote;
    }
    return 0;
}

int cc_tls_take_output(cc_tls_t *t, cc_buf_t *out) {
    for (;;) {
        size_t pending = BIO_ctrl_pending(t->wbio);
        if (pending == 0) return 0;
        if (pending > INT_MAX) pending = INT_MAX;
        if (cc_buf_reserve(out, pending) < 0)
            return fail_with(t, "TLS session with %s: out of memory writing", t->host);
        ERR_clear_error();
        int n = BIO_read(t->wbio, out->data + out->len, (int)pending);
        if (n <= 0) return fail_with(t, "TLS session with %s: cannot read pending output", t->host);
        out->len += (size_t)n;
        out->data[out->len] = '\0';
    }
}

const char *cc_tls_error(const cc_tls_t *t) {
    return t->err;
}
