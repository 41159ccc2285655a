/* tls.h: TLS client sessions over memory BIOs, so libuv owns the socket and OpenSSL only
 * transforms bytes. The caller feeds ciphertext read from the socket with cc_tls_feed, reads
 * plaintext with cc_tls_read, writes plaintext with cc_tls_write, and after every call sends
 * what cc_tls_take_output hands back.
 *
 * Ownership: a cc_tls_ctx_t (one SSL_CTX: trust store and verification policy) is shared by
 * many sessions and must outlive them. A cc_tls_t is owned by one upstream connection. */
#ifndef CC_TLS_H
#define CC_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

typedef struct cc_tls_ctx_s cc_tls_ctx_t;
typedef struct cc_tls_s cc_tls_t;

#define CC_TLS_WANT_MORE 0 /* handshake not finished: send output, feed more input */
#define CC_TLS_DONE 1      /* handshake finished */
#define CC_TLS_CLOSED 2    /* the peer sent close_notify */

/** A client context. `verify` checks the chain against the system CA store (which honours
 *  SSL_CERT_FILE and SSL_CERT_DIR) or `ca_file` when given, and the peer's name against the
 *  host given to cc_tls_new. Returns NULL with a message in `err` on failure. */
cc_tls_ctx_t *cc_tls_ctx_new(bool verify, const char *ca_file, char *err, size_t errlen);
void cc_tls_ctx_free(cc_tls_ctx_t *ctx);

/** A session to `host` (SNI and hostname verification; an IP literal is verified as an IP
 *  and sent without SNI). Returns NULL on allocation failure. */
cc_tls_t *cc_tls_new(cc_tls_ctx_t *ctx, const char *host);
void cc_tls_free(cc_tls_t *t);

/** Advances the handshake: CC_TLS_DONE, CC_TLS_WANT_MORE, or -1 on failure
 *  (cc_tls_error says why, e.g. "certificate verify failed: self-signed certificate"). */
int cc_tls_handshake(cc_tls_t *t);
bool cc_tls_handshake_done(const cc_tls_t *t);
/** Gives ciphertext received from the network to the session. Returns 0 or -1. */
int cc_tls_feed(cc_tls_t *t, const void *data, size_t len);
/** Appends all plaintext that can be decrypted now to `out`. Returns 0 (possibly nothing
 *  appended), CC_TLS_CLOSED after close_notify, or -1 on a protocol error. */
int cc_tls_read(cc_tls_t *t, cc_buf_t *out);
/** Encrypts plaintext (only after the handshake). Returns 0 or -1. */
int cc_tls_write(cc_tls_t *t, const void *data, size_t len);
/** Moves ciphertext waiting to be sent to `out` (appending). Returns 0 or -1. */
int cc_tls_take_output(cc_tls_t *t, cc_buf_t *out);
/** The last error of this session, never NULL. */
const char *cc_tls_error(const cc_tls_t *t);

#endif
