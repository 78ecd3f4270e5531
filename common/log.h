/* log.h — leveled logging to stderr and, optionally, syslog.
 *
 * Thread-safe (one write(2) per line). Each line reads
 * "2026-11-30T07:30:00Z sovdns[pid] LEVEL subsystem: message".
 * Use the macros: log_err("dns", "...") etc. LOG_RATELIMITED wraps a
 * call so that a flood of identical network errors prints at most
 * `per_s` lines per second per call site.
 */
#ifndef SOV_COMMON_LOG_H
#define SOV_COMMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/** Sets the threshold and whether to also send lines to syslog (LOG_DAEMON). */
void log_init(enum log_level level, bool use_syslog);
/** Parses "error"|"warning"|"info"|"debug"; returns -1 if unknown. */
int log_level_parse(const char *s);
/** True if a message at `level` would be printed. */
bool log_enabled(enum log_level level);
/** Prints one line; prefer the macros below. */
void log_msg(enum log_level level, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_err(sub, ...) log_msg(LOG_LVL_ERR, sub, __VA_ARGS__)
#define log_warn(sub, ...) log_msg(LOG_LVL_WARN, sub, __VA_ARGS__)
#define log_info(sub, ...) log_msg(LOG_LVL_INFO, sub, __VA_ARGS__)
#define log_debug(sub, ...)                                                                        \
	do {                                                                                       \
		if (log_enabled(LOG_LVL_DEBUG))                                                    \
			log_msg(LOG_LVL_DEBUG, sub, __VA_ARGS__);                                  \
	} while (0)

/** Returns true if the call site may log now (token bucket, per_s lines/s). */
bool log_ratelimit_ok(uint64_t *last_s, uint32_t *count, uint32_t per_s);

#define LOG_RATELIMITED(per_s, call)                                                               \
	do {                                                                                       \
		static _Thread_local uint64_t rl_last_;                                            \
		static _Thread_local uint32_t rl_count_;                                           \
		if (log_ratelimit_ok(&rl_last_, &rl_count_, (per_s)))                              \
			call;                                                                      \
	} while (0)

#endif
