/* zone_err.c — the zone loader's diagnostics (contract in zone_int.h).
 *
 * Errors are collected while parsing, building and checking, then sorted
 * back into file order (by record sequence, then insertion) and reported
 * together as "file:line:column: message".
 */
#include <ldns/ldns.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/zone_int.h"

/* A binary file fed as a zone yields one error per line; listing the first
 * thousand is as useful as listing a million and bounds memory. */
#define ZONE_DIAG_MAX 1000

void zerr_add(loader_t *L, uint32_t seq, uint16_t file, uint32_t line, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	if (L->nerrs >= ZONE_DIAG_MAX) {
		L->errs_dropped++;
		return;
	}
	if (L->nerrs == L->cap_errs) {
		size_t ncap = L->cap_errs ? L->cap_errs * 2 : 16;
		zerr_t *n = realloc(L->errs, ncap * sizeof(*n));
		if (n == NULL) {
			L->oom = true;
			return;
		}
		L->errs = n;
		L->cap_errs = ncap;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char *msg = strdup(buf);
	if (msg == NULL) {
		L->oom = true;
		return;
	}
	L->errs[L->nerrs++] =
	    (zerr_t){.seq = seq, .ins = L->ins++, .line = line, .file = file, .msg = msg};
}

static int zerr_cmp(const void *a, const void *b)
{
	const zerr_t *x = a, *y = b;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->ins < y->ins ? -1 : (x->ins > y->ins);
}

/** Moves the collected errors to diag, in file order. */
void zerr_flush(loader_t *L, diag_t *diag)
{
	if (L->nerrs > 1)
		qsort(L->errs, L->nerrs, sizeof(*L->errs), zerr_cmp);
	for (size_t i = 0; i < L->nerrs; i++) {
		const zerr_t *e = &L->errs[i];
		if (L->wire) {
			/* No file to point at: the source and the record's number. */
			char where[1200];
			if (e->seq != UINT32_MAX && e->line > 0)
				snprintf(where, sizeof(where), "%s, record %u", L->files[0],
					 e->line);
			else
				snprintf(where, sizeof(where), "%s", L->files[0]);
			diag_add_where(diag, where, "%s", e->msg);
			continue;
		}
		diag_add(diag, e->file < L->nfiles ? L->files[e->file] : L->z->path, e->line,
			 e->col ? e->col : 1, "%s", e->msg);
	}
	if (L->errs_dropped > 0) {
		if (L->wire)
			diag_add_where(diag, L->files[0], "%zu more errors not listed",
				       L->errs_dropped);
		else
			diag_add(diag, L->z->path, 0, 1, "%zu more errors not listed",
				 L->errs_dropped);
	}
}

/* Sets the line and column of the error just added (when it was added). */
void zerr_set_pos(loader_t *L, size_t before, uint32_t line, size_t col)
{
	if (L->nerrs > before) {
		L->errs[L->nerrs - 1].line = line;
		L->errs[L->nerrs - 1].col = (uint16_t)(col > UINT16_MAX ? UINT16_MAX : col);
	}
}

void zerr_rec(loader_t *L, const zrec_t *r, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	zerr_add(L, r->seq, r->file, r->line, "%s", buf);
}

void zone_name_str(const uint8_t *name, char *buf, size_t cap)
{
	if (dname_to_str(name, buf, cap) < 0)
		snprintf(buf, cap, "(name too long to print)");
}

/** RR type mnemonic ("A", "TYPE65280"); points to buf or a static string. */
const char *zone_type_str(uint16_t type, char *buf, size_t cap)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(type);
	if (d != NULL && d->_name != NULL && d->_type == type)
		return d->_name;
	snprintf(buf, cap, "TYPE%u", (unsigned)type);
	return buf;
}
