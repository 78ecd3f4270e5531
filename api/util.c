#include "api/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"

const char *api_time_format(int64_t unix_ms, char *buf)
{
	time_t s = (time_t)(unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000);
	struct tm tm;
	if (gmtime_r(&s, &tm) == NULL ||
	    strftime(buf, API_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, API_TIME_MAX, "1970-01-01T00:00:00Z");
	return buf;
}

static bool digits(const char *p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

int api_time_parse(const char *text, int64_t *unix_ms)
{
	int y, mo, d, h, mi, s;
	const char *p = text;
	if (strlen(p) < 20 || !digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) ||
	    p[7] != '-' || !digits(p + 8, 2, &d) || (p[10] != 'T' && p[10] != 't') ||
	    !digits(p + 11, 2, &h) || p[13] != ':' || !digits(p + 14, 2, &mi) || p[16] != ':' ||
	    !digits(p + 17, 2, &s))
		return SOV_EPARSE;
	p += 19;
	int ms = 0;
	if (*p == '.') {
		p++;
		int n = 0;
		while (*p >= '0' && *p <= '9') {
			if (n < 3)
				ms = ms * 10 + (*p - '0');
			n++;
			p++;
		}
		if (n == 0)
			return SOV_EPARSE;
		for (; n < 3; n++)
			ms *= 10;
	}
	if ((*p != 'Z' && *p != 'z') || p[1] != '\0')
		return SOV_EPARSE;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return SOV_EPARSE;
	struct tm tm = {.tm_year = y - 1900,
			.tm_mon = mo - 1,
			.tm_mday = d,
			.tm_hour = h,
			.tm_min = mi,
			.tm_sec = s};
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return SOV_EPARSE;
	*unix_ms = (int64_t)t * 1000 + ms;
	return SOV_OK;
}

bool api_text_ok(const char *text, size_t cap)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++, n++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
	}
	return n < cap;
}
