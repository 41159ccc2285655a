/* paths.h: where ccproxy finds its own files (built-in rules/, hooks/, lua/, config/) and the
 * files it keeps in the config dir (pid file, log file). */
#ifndef CC_PATHS_H
#define CC_PATHS_H

/** The directory holding rules/, hooks/, lua/ and config/: $CCPROXY_DATA_DIR when set;
 *  else <exe dir>/../share/ccproxy when it exists (an installed or relocated binary); else
 *  the source tree the binary was built from (running from a build directory); else the
 *  configured install path. Never NULL; computed once. */
const char *cc_paths_datadir(void);

/** <config dir>/ccproxy.pid and <config dir>/ccproxy.log (malloc'd). */
char *cc_paths_pidfile(const char *config_dir);
char *cc_paths_logfile(const char *config_dir);

/** Joins two path parts with one '/' (malloc'd). */
char *cc_path_join(const char *a, const char *b);

/** Non-zero when `path` exists and is a directory / a regular file. */
int cc_path_is_dir(const char *path);
int cc_path_is_file(const char *path);

#endif
