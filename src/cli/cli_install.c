/* cli_install.c: `ccproxy install [--force]`: copies the config templates (<datadir>/config/
 * ccproxy.yaml and config.yaml) into the config dir. Refuses to overwrite an existing file
 * unless --force; writes each file through a temporary file so a reader never sees half. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "paths.h"

static const char usage[] = "usage: ccproxy [--config-dir DIR] install [--force]\n"
                            "\n"
                            "Writes ccproxy.yaml and config.yaml into the config dir.\n"
                            "\n"
                            "options:\n"
                            "  --force     overwrite files that already exist\n"
                            "  -h, --help  show this help\n";
static const cc__cli_cmd_t cmd = {"install", usage};

static const char *const templates[] = {"ccproxy.yaml", "config.yaml"};
#define N_TEMPLATES (sizeof templates / sizeof templates[0])

/* mkdir -p: missing parents get the usual mode, the last directory 0700. */
static int make_dirs(const char *dir, bool *created) {
    *created = false;
    if (cc_path_is_dir(dir)) return 0;
    char *copy = strdup(dir);
    if (!copy) return -ENOMEM;
    int rc = 0;
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/' || p[1] == '\0') continue;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) rc = -errno;
        *p = '/';
        if (rc < 0) break;
    }
    if (rc == 0) {
        if (mkdir(dir, 0700) == 0)
            *created = true;
        else if (errno != EEXIST)
            rc = -errno;
        else if (!cc_path_is_dir(dir))
            rc = -ENOTDIR;
    }
    free(copy);
    return rc;
}

/* Copies src to dst (mode 0600) via a temporary file in dst's directory. Without `force` the
 * final step is link(), which fails if dst appeared meanwhile. Returns 0 or -errno. */
static int copy_file(const char *src, const char *dst, bool force) {
    int in = -1, out = -1, rc = 0;
    size_t tl = strlen(dst) + 16;
    char *tmp = malloc(tl);
    if (!tmp) return -ENOMEM;
    snprintf(tmp, tl, "%s.tmp%d", dst, (int)getpid());
    if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = -errno;
        goto fail;
    }
    unlink(tmp);
    if ((out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        rc = -errno;
        goto fail;
    }
    char buf[16384];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = -errno;
            goto fail;
        }
        if (n == 0) break;
        if ((rc = cc__write_all(out, buf, (size_t)n)) < 0) goto fail;
    }
    if (fchmod(out, 0600) != 0 || fsync(out) != 0) {
        rc = -errno;
        goto fail;
    }
    if (close(out) != 0) {
        out = -1;
        rc = -errno;
        goto fail;
    }
    out = -1;
    if (force) {
        if (rename(tmp, dst) != 0) rc = -errno;
    } else {
        if (link(tmp, dst) != 0) rc = -errno;
    }
fail:
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    unlink(tmp);
    free(tmp);
    return rc;
}

int cc_cmd_install(const char *config_dir, int argc, char **argv) {
    static const struct option longopts[] = {{"force", no_argument, NULL, 'F'}, {0, 0, 0, 0}};
    bool force = false;
    int oi = 0, c;
    while ((c = cc__cli_next_opt(&cmd, argc, argv, "", longopts, &oi)) != -1) {
        if (c == -3) return 0;
        if (c < 0) return 2;
        if (c == 'F') force = true;
    }
    if (cc__cli_no_args(&cmd, argc, argv, oi)) return 2;

    int rc = 1;
    char *src[N_TEMPLATES] = {0}, *dst[N_TEMPLATES] = {0};
    char *tdir = cc_path_join(cc_paths_datadir(), "config");
    if (!tdir) goto fail;
    for (size_t i = 0; i < N_TEMPLATES; i++) {
        src[i] = cc_path_join(tdir, templates[i]);
        dst[i] = cc_path_join(config_dir, templates[i]);
        if (!src[i] || !dst[i]) goto fail;
        if (!cc_path_is_file(src[i])) {
            fprintf(stderr,
                    "ccproxy install: the template %s is missing; set CCPROXY_DATA_DIR to the "
                    "directory that holds config/%s, or reinstall ccproxy\n",
                    src[i], templates[i]);
            goto fail;
        }
    }
    /* Check every target before writing anything. */
    bool blocked = false;
    for (size_t i = 0; i < N_TEMPLATES && !force; i++) {
        struct stat st;
        if (lstat(dst[i], &st) == 0) {
            fprintf(stderr, "ccproxy install: %s already exists; use --force to overwrite it\n",
                    dst[i]);
            blocked = true;
        }
    }
    if (blocked) goto fail;

    bool created = false;
    int e = make_dirs(config_dir, &created);
    if (e < 0) {
        fprintf(stderr, "ccproxy install: cannot create the config dir %s: %s\n", config_dir,
                strerror(-e));
        goto fail;
    }
    if (created) printf("Created %s (mode 0700)\n", config_dir);
    for (size_t i = 0; i < N_TEMPLATES; i++) {
        e = copy_file(src[i], dst[i], force);
        if (e == -EEXIST) {
            fprintf(stderr, "ccproxy install: %s already exists; use --force to overwrite it\n",
                    dst[i]);
            goto fail;
        }
        if (e < 0) {
            fprintf(stderr, "ccproxy install: cannot write %s: %s\n", dst[i], strerror(-e));
            goto fail;
        }
        printf("Wrote %s\n", dst[i]);
    }

    /* Name the config dir in the next steps unless it is the one found by default. */
    char *dflt = cc_config_dir_resolve(NULL);
    const char *opt_prefix = "";
    char *with_dir = NULL;
    if (!dflt || strcmp(dflt, config_dir) != 0) {
        size_t n = strlen(config_dir) + 32;
        with_dir = malloc(n);
        if (with_dir) {
            snprintf(with_dir, n, "--config-dir %s ", config_dir);
            opt_prefix = with_dir;
        }
    }
    printf("\nNext steps:\n"
           "  1. Edit %s: the models (model_list) and where they are served\n"
           "     (and %s for rules, hooks, host and port).\n"
           "  2. ccproxy %sstart --detach\n"
           "  3. ccproxy %srun claude\n",
           dst[1], dst[0], opt_prefix, opt_prefix);
    free(with_dir);
    free(dflt);
    rc = 0;
fail:
    for (size_t i = 0; i < N_TEMPLATES; i++) {
        free(src[i]);
        free(dst[i]);
    }
    free(tdir);
    return rc;
}
