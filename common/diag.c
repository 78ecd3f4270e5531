#include "common/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct diag {
	char **msgs;
	size_t count;
	size_t cap;
};

diag_t *diag_new(void)
{
	return calloc(1, sizeof(diag_t));
}

void diag_free(diag_t *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->count; i++)
		free(d->msgs[i]);
	free(d->msgs);
	free(d);
}

static void diag_push(diag_t *d, char *msg)
{
	if (d->count == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 8;
		char **n = realloc(d->msgs, ncap * sizeof(*n));
		if (n == NULL) {
			free(msg);
			return;
		}
		d->msgs = n;
		d->cap = ncap;
	}
	d->msgs[d->count++] = msg;
}

void diag_add(diag_t *d, const char *file, unsigned line, unsigned col, const char *fmt, ...)
{
	if (d == NULL)
		return;
	char body[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	size_t len = strlen(body) + (file ? strlen(file) : 8) + 48;
	char *msg = malloc(len);
	if (msg == NULL)
		return;
	snprintf(msg, len, "%s:%u:%u: %s", file ? file : "<config>", line ? line : 1,
		 col ? col : 1, body);
	diag_push(d, msg);
}

size_t diag_count(const diag_t *d)
{
	return d ? d->count : 0;
}

const char *diag_get(const diag_t *d, size_t i)
{
	return (d && i < d->count) ? d->msgs[i] : NULL;
}

void diag_print(const diag_t *d, FILE *out)
{
	for (size_t i = 0; d && i < d->count; i++)
		fprintf(out, "%s\n", d->msgs[i]);
}

void diag_merge(diag_t *dst, diag_t *src)
{
	if (dst == NULL || src == NULL)
		return;
	for (size_t i = 0; i < src->count; i++)
		diag_push(dst, src->msgs[i]);
	src->count = 0;
}

void diag_join(const diag_t *d, char *buf, size_t cap)
{
	size_t used = 0;
	if (cap == 0)
		return;
	buf[0] = 0;
	for (size_t i = 0; d && i < d->count && used + 1 < cap; i++) {
		int n = snprintf(buf + used, cap - used, "%s%s", i ? "\n" : "", d->msgs[i]);
		if (n < 0)
			break;
		used += (size_t)n < cap - used ? (size_t)n : cap - used - 1;
	}
}
