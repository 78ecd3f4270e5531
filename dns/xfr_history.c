/* xfr_history.c — the last transfer out of each zone (contract in xfr_history.h). */
#include "dns/xfr_history.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

struct entry {
	uint8_t origin[DNAME_MAXLEN];
	struct xfr_history h;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table;
static size_t count, cap;

static void free_table(void)
{
	free(table);
	table = NULL;
	count = cap = 0;
}

void xfr_history_add(const uint8_t *origin, const char *kind, uint32_t serial, const char *client,
		     uint64_t records, int64_t ms, bool ok)
{
	pthread_mutex_lock(&lock);
	struct entry *e = NULL;
	for (size_t i = 0; i < count && e == NULL; i++)
		if (dname_equal(table[i].origin, origin))
			e = &table[i];
	if (e == NULL && count == cap) {
		size_t n = cap ? 2 * cap : 8;
		struct entry *m = realloc(table, n * sizeof(*m));
		if (m != NULL) {
			if (table == NULL)
				atexit(free_table);
			table = m;
			cap = n;
		}
	}
	if (e == NULL && count < cap) {
		e = &table[count++];
		memset(e, 0, sizeof(*e));
		memcpy(e->origin, origin, dname_len(origin));
	}
	if (e != NULL) {
		struct xfr_history *h = &e->h;
		h->known = true;
		h->at_unix_ms = clock_unix_ms();
		snprintf(h->kind, sizeof(h->kind), "%s", kind);
		h->serial = serial;
		snprintf(h->client, sizeof(h->client), "%s", client);
		h->records = records;
		h->ms = ms;
		h->ok = ok;
		h->count++;
		h->failures += !ok;
	}
	pthread_mutex_unlock(&lock);
}

void xfr_history_totals(uint64_t *ended, uint64_t *failed)
{
	*ended = *failed = 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < count; i++) {
		*ended += table[i].h.count;
		*failed += table[i].h.failures;
	}
	pthread_mutex_unlock(&lock);
}

void xfr_history_get(const uint8_t *origin, struct xfr_history *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < count; i++)
		if (dname_equal(table[i].origin, origin))
			*out = table[i].h;
	pthread_mutex_unlock(&lock);
}
