/* slow_resolver.c: a test-only getaddrinfo, preloaded into the proxy by specs that need a name
 * that takes a while to resolve (LD_PRELOAD). A name ending in ".slow-dns.test" resolves to
 * 127.0.0.1 after CCPROXY_TEST_DNS_DELAY_MS milliseconds (default 1000); every other name goes
 * to the C library's getaddrinfo unchanged. Nothing leaves the machine: the slow names never
 * reach a resolver. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *,
                              struct addrinfo **);

static int is_slow(const char *node) {
    static const char suffix[] = ".slow-dns.test";
    size_t n = node ? strlen(node) : 0, s = sizeof suffix - 1;
    return n > s && strcmp(node + n - s, suffix) == 0;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
    getaddrinfo_fn real = (getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    if (!real) return EAI_FAIL;
    if (is_slow(node)) {
        const char *env = getenv("CCPROXY_TEST_DNS_DELAY_MS");
        long ms = env ? strtol(env, NULL, 10) : 1000;
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        node = "127.0.0.1";
    }
    return real(node, service, hints, res);
}
