#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_threshold = LOG_LVL_INFO;
static bool log_syslog;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_init(enum log_level level, bool use_syslog)
{
	log_threshold = level;
	if (use_syslog && !log_syslog)
		openlog("sovdns", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = use_syslog;
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	if (strcmp(s, "warn") == 0)
		return LOG_LVL_WARN;
	return -1;
}

bool log_enabled(enum log_level level)
{
	return level <= log_threshold;
}

void log_msg(enum log_level level, const char *subsys, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	char body[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char stamp[32];
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);

	char line[2300];
	int n = snprintf(line, sizeof(line), "%s sovdns[%d] %s %s: %s\n", stamp, (int)getpid(),
			 level_names[level], subsys, body);
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nothing useful to do when stderr is gone */
	}
	if (log_syslog) {
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
		syslog(prio[level], "%s: %s", subsys, body);
	}
}

bool log_ratelimit_ok(uint64_t *last_s, uint32_t *count, uint32_t per_s)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	uint64_t now = (uint64_t)ts.tv_sec;
	if (now != *last_s) {
		*last_s = now;
		*count = 0;
	}
	return (*count)++ < per_s;
}
