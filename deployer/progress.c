/* progress.c — operator-facing output on stderr (see progress.h). */
#include "deployer/progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static bool is_tty;
static bool line_open; /* a live status line is on screen */
static time_t last_plain;
static char prefix[128];

void progress_init(bool tty)
{
	is_tty = tty;
	line_open = false;
	last_plain = 0;
}

void progress_prefix(const char *p)
{
	snprintf(prefix, sizeof(prefix), "%s", p);
}

const char *progress_color(const char *name)
{
	if (!is_tty)
		return "";
	if (strcmp(name, "red") == 0)
		return "\033[1;31m";
	if (strcmp(name, "yellow") == 0)
		return "\033[1;33m";
	if (strcmp(name, "green") == 0)
		return "\033[32m";
	if (strcmp(name, "bold") == 0)
		return "\033[1m";
	return "";
}

const char *progress_reset(void)
{
	return is_tty ? "\033[0m" : "";
}

void progress_clear(void)
{
	if (line_open) {
		fputs("\r\033[K", stderr);
		line_open = false;
	}
}

__attribute__((format(printf, 3, 0))) static void vline(const char *color, const char *label,
							const char *fmt, va_list ap)
{
	progress_clear();
	time_t t = time(NULL);
	struct tm tm;
	char ts[16];
	localtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	fprintf(stderr, "%s %s%s%s", ts, prefix[0] ? "[" : "", prefix, prefix[0] ? "] " : "");
	if (label != NULL)
		fprintf(stderr, "%s%s%s", progress_color(color), label, progress_reset());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
}

void progress_step(const char *fmt, ...)
{
	va_list ap;
	last_plain = 0; /* the next wait shows its status at once */
	va_start(ap, fmt);
	vline(NULL, NULL, fmt, ap);
	va_end(ap);
}

void progress_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline("yellow", "warning: ", fmt, ap);
	va_end(ap);
}

void progress_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline("red", "error: ", fmt, ap);
	va_end(ap);
}

void progress_status(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (is_tty) {
		char buf[512];
		vsnprintf(buf, sizeof(buf), fmt, ap);
		/* one screen line, or \r cannot take it back: cut to the width */
		struct winsize ws;
		size_t width =
		    ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 ? ws.ws_col : 80;
		if (strlen(buf) + 3 > width)
			buf[width - 3] = '\0';
		fprintf(stderr, "\r\033[K  %s", buf);
		fflush(stderr);
		line_open = true;
	} else {
		time_t now = time(NULL);
		if (now - last_plain >= PROGRESS_PLAIN_EVERY_S) {
			last_plain = now;
			vline(NULL, "  ", fmt, ap);
		}
	}
	va_end(ap);
}
