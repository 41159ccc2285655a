/* log.h: the process log. One line per event on stderr (which `start --detach` points at the
 * log file): "2026-11-26T02:37:27.123Z LEVEL message". Safe to call from any thread. */
#ifndef CC_LOG_H
#define CC_LOG_H

typedef enum { CC_LOG_DEBUG = 0, CC_LOG_INFO, CC_LOG_WARN, CC_LOG_ERROR } cc_log_level_t;

/** Sets the lowest level written (default INFO). */
void cc_log_set_level(cc_log_level_t level);
void cc_log(cc_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define cc_debug(...) cc_log(CC_LOG_DEBUG, __VA_ARGS__)
#define cc_info(...) cc_log(CC_LOG_INFO, __VA_ARGS__)
#define cc_warn(...) cc_log(CC_LOG_WARN, __VA_ARGS__)
#define cc_error(...) cc_log(CC_LOG_ERROR, __VA_ARGS__)

#endif
