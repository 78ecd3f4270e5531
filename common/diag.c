#include "common/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Where a message points, kept beside its text for diag_order(). */
struct diag_pos {
	size_t file_len; /* the file name is msgs[i][0 .. file_len) */
	unsigned line, col;
};

struct diag {
	char **msgs;
	struct diag_pos *pos;
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
	free(d->pos);
	free(d);
}

static void diag_push(diag_t *d, char *msg, struct diag_pos pos)
{
	if (d->count == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 8;
		char **n = realloc(d->msgs, ncap * sizeof(*n));
		if (n != NULL)
			d->msgs = n;
		struct diag_pos *p = realloc(d->pos, ncap * sizeof(*p));
		if (p != NULL)
			d->pos = p;
		if (n == NULL || p == NULL) {
			free(msg);
			return;
		}
		d->cap = ncap;
	}
	d->pos[d->count] = pos;
	d->msgs[d->count++] = msg;
}

void diag_add(diag_t *d, const char *file, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_addv(d, file, line, col, fmt, ap);
	va_end(ap);
}

void diag_addv(diag_t *d, const char *file, unsigned line, unsigned col, const char *fmt,
	       va_list ap)
{
	if (d == NULL)
		return;
	char body[1024];
	vsnprintf(body, sizeof(body), fmt, ap);
	size_t len = strlen(body) + (file ? strlen(file) : 8) + 48;
	char *msg = malloc(len);
	if (msg == NULL)
		return;
	const char *f = file ? file : "<config>";
	snprintf(msg, len, "%s:%u:%u: %s", f, line ? line : 1, col ? col : 1, body);
	diag_push(d, msg, (struct diag_pos){strlen(f), line ? line : 1, col ? col : 1});
}

void diag_add_where(diag_t *d, const char *where, const char *fmt, ...)
{
	if (d == NULL)
		return;
	char body[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	size_t len = strlen(where) + strlen(body) + 3;
	char *msg = malloc(len);
	if (msg == NULL)
		return;
	snprintf(msg, len, "%s: %s", where, body);
	/* No file: every such message ranks with the others, in insertion order. */
	diag_push(d, msg, (struct diag_pos){0, 0, 0});
}

size_t diag_count(const diag_t *d)
{
	return d ? d->count : 0;
}

const char *diag_get(const diag_t *d, size_t i)
{
	return (d && i < d->count) ? d->msgs[i] : NULL;
}

/* Sort key of message i: its file's rank (order of first mention), line, column, i. */
struct diag_key {
	size_t file_rank, i;
	unsigned line, col;
};

static int key_cmp(const void *a, const void *b)
{
	const struct diag_key *x = a, *y = b;
	if (x->file_rank != y->file_rank)
		return x->file_rank < y->file_rank ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Message indexes in reading order (NULL when out of memory: insertion
 * order then). Validators run section by section, so insertion order is
 * not the order of the file; an operator fixes a file top to bottom. */
static size_t *diag_order(const diag_t *d)
{
	struct diag_key *k = d->count ? malloc(d->count * sizeof(*k)) : NULL;
	size_t *order = d->count ? malloc(d->count * sizeof(*order)) : NULL;
	if (k == NULL || order == NULL) {
		free(k);
		free(order);
		return NULL;
	}
	for (size_t i = 0; i < d->count; i++) {
		size_t rank = i; /* the first message that names the same file */
		for (size_t j = 0; j < i; j++) {
			if (d->pos[j].file_len == d->pos[i].file_len &&
			    memcmp(d->msgs[j], d->msgs[i], d->pos[i].file_len) == 0) {
				rank = j;
				break;
			}
		}
		k[i] = (struct diag_key){rank, i, d->pos[i].line, d->pos[i].col};
	}
	qsort(k, d->count, sizeof(*k), key_cmp);
	for (size_t i = 0; i < d->count; i++)
		order[i] = k[i].i;
	free(k);
	return order;
}

void diag_print(const diag_t *d, FILE *out)
{
	if (d == NULL)
		return;
	size_t *order = diag_order(d);
	for (size_t i = 0; i < d->count; i++)
		fprintf(out, "%s\n", d->msgs[order ? order[i] : i]);
	free(order);
}

void diag_join(const diag_t *d, char *buf, size_t cap)
{
	size_t used = 0;
	if (cap == 0)
		return;
	buf[0] = 0;
	if (d == NULL)
		return;
	size_t *order = diag_order(d);
	for (size_t i = 0; i < d->count && used + 1 < cap; i++) {
		int n = snprintf(buf + used, cap - used, "%s%s", i ? "\n" : "",
				 d->msgs[order ? order[i] : i]);
		if (n < 0)
			break;
		used += (size_t)n < cap - used ? (size_t)n : cap - used - 1;
	}
	free(order);
}
