/* paths.c: locating ccproxy's own files and its runtime files (see paths.h). */
#include "paths.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *cc_path_join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/') la--;
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

int cc_path_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cc_path_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char datadir[PATH_MAX];
static pthread_once_t datadir_once = PTHREAD_ONCE_INIT;

static int has_builtins(const char *dir) {
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/rules", dir);
    if (!cc_path_is_dir(probe)) return 0;
    snprintf(probe, sizeof probe, "%s/lua/ccproxy", dir);
    return cc_path_is_dir(probe);
}

static void find_datadir(void) {
    const char *env = getenv("CCPROXY_DATA_DIR");
    if (env && *env) {
        snprintf(datadir, sizeof datadir, "%s", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char cand[PATH_MAX + 32];
            snprintf(cand, sizeof cand, "%s/../share/ccproxy", exe);
            char real[PATH_MAX];
            if (realpath(cand, real) && has_builtins(real)) {
                snprintf(datadir, sizeof datadir, "%s", real);
                return;
            }
        }
    }
    if (has_builtins(CCPROXY_SOURCE_DIR)) {
        snprintf(datadir, sizeof datadir, "%s", CCPROXY_SOURCE_DIR);
        return;
    }
    snprintf(datadir, sizeof datadir, "%s", CCPROXY_DATADIR);
}

const char *cc_paths_datadir(void) {
    pthread_once(&datadir_once, find_datadir);
    return datadir;
}

char *cc_paths_pidfile(const char *config_dir) {
    return cc_path_join(config_dir, "ccproxy.pid");
}

char *cc_paths_logfile(const char *config_dir) {
    return cc_path_join(config_dir, "ccproxy.log");
}
