/* zonedb.c — the set of zones of one snapshot (contract in zonedb.h).
 *
 * zonedb_find() runs once per query: it tries the query name's suffixes
 * from the longest to the root and looks each up in an open-addressing
 * hash of the origins, so the first hit is the longest match. A bitmap of
 * the label counts that origins actually have skips the suffixes that
 * cannot match: with zones at two or three levels only, a five-label name
 * costs one or two hash computations, no allocation.
 */
#include "dns/zonedb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define ZONEDB_TABLE_MIN 16

struct zonedb {
	zone_t **zones; /* in the order added */
	size_t count, cap;
	uint32_t *table; /* zone index + 1, 0 = empty; load factor <= 0.5 */
	uint32_t mask;
	uint64_t depths[2]; /* bit n set: some origin has n labels (0..127) */
};

zonedb_t *zonedb_new(void)
{
	zonedb_t *db = calloc(1, sizeof(*db));
	if (db == NULL)
		return NULL;
	db->table = calloc(ZONEDB_TABLE_MIN, sizeof(*db->table));
	if (db->table == NULL) {
		free(db);
		return NULL;
	}
	db->mask = ZONEDB_TABLE_MIN - 1;
	return db;
}

void zonedb_free(zonedb_t *db)
{
	if (db == NULL)
		return;
	for (size_t i = 0; i < db->count; i++)
		zone_free(db->zones[i]);
	free(db->zones);
	free(db->table);
	free(db);
}

/** Index+1 of the zone whose origin is exactly `name` (lowercased, length len), or 0. */
static uint32_t table_lookup(const zonedb_t *db, const uint8_t *name, size_t len)
{
	for (uint32_t i = dname_hash(name) & db->mask;; i = (i + 1) & db->mask) {
		uint32_t v = db->table[i];
		if (v == 0)
			return 0;
		const zone_t *z = db->zones[v - 1];
		if (z->origin_len == len && memcmp(z->origin, name, len) == 0)
			return v;
	}
}

static void table_insert(uint32_t *table, uint32_t mask, const zone_t *z, uint32_t v)
{
	uint32_t i = dname_hash(z->origin) & mask;
	while (table[i] != 0)
		i = (i + 1) & mask;
	table[i] = v;
}

int zonedb_add(zonedb_t *db, zone_t *z)
{
	if (table_lookup(db, z->origin, z->origin_len) != 0)
		return SOV_EEXIST;
	if (db->count == db->cap) {
		size_t ncap = db->cap ? db->cap * 2 : 8;
		zone_t **n = realloc(db->zones, ncap * sizeof(*n));
		if (n == NULL)
			return SOV_ENOMEM;
		db->zones = n;
		db->cap = ncap;
	}
	if ((uint64_t)(db->count + 1) * 2 > (uint64_t)db->mask + 1) {
		uint32_t size = (db->mask + 1) * 2;
		uint32_t *t = calloc(size, sizeof(*t));
		if (t == NULL)
			return SOV_ENOMEM;
		for (size_t i = 0; i < db->count; i++)
			table_insert(t, size - 1, db->zones[i], (uint32_t)i + 1);
		free(db->table);
		db->table = t;
		db->mask = size - 1;
	}
	db->zones[db->count] = z;
	table_insert(db->table, db->mask, z, (uint32_t)db->count + 1);
	db->count++;
	unsigned labels = z->origin_labels;
	db->depths[labels / 64] |= 1ull << (labels % 64);
	return SOV_OK;
}

int zonedb_finish(zonedb_t *db)
{
	/* The index is kept current by zonedb_add(); nothing left to build.
	 * Kept in the contract so that a future layout (e.g. a sorted array)
	 * can be built once here. */
	(void)db;
	return SOV_OK;
}

const zone_t *zonedb_find(const zonedb_t *db, const uint8_t *lower_name)
{
	unsigned labels = dname_labels(lower_name);
	const uint8_t *p = lower_name;
	if (db->count == 0)
		return NULL;
	for (;;) {
		if (labels < 128 && (db->depths[labels / 64] >> (labels % 64) & 1)) {
			uint32_t v = table_lookup(db, p, dname_len(p));
			if (v != 0)
				return db->zones[v - 1];
		}
		if (p[0] == 0)
			return NULL;
		p += p[0] + 1;
		labels--;
	}
}

size_t zonedb_count(const zonedb_t *db)
{
	return db->count;
}

const zone_t *zonedb_get(const zonedb_t *db, size_t i)
{
	return i < db->count ? db->zones[i] : NULL;
}

size_t zonedb_index(const zonedb_t *db, const zone_t *z)
{
	for (size_t i = 0; i < db->count; i++)
		if (db->zones[i] == z)
			return i;
	return SIZE_MAX;
}
