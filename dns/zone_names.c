/* zone_names.c — the loader's name table (contract in zone_int.h).
 *
 * Every owner name gets an id in first-seen order (the apex is 0); the ids
 * become node indexes and the table's hash slots become the zone index
 * that zone_find() probes, so it is built once and handed over.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "dns/zone_int.h"
#include "wire/dname.h"

#define NAMES_TABLE_MIN 1024

/* A table slot holds the name's hash beside its id, so that a probe
 * compares hashes without a second memory access (the query path's
 * zone_find was bound by those cache misses). Never 0: id + 1 >= 1. */
static inline uint64_t slot_make(uint32_t h, uint32_t id)
{
	return (uint64_t)h << 32 | (uint64_t)(id + 1);
}

int names_grow_table(names_t *n)
{
	uint32_t size = n->table ? (n->mask + 1) * 2 : NAMES_TABLE_MIN;
	uint64_t *t = calloc(size, sizeof(*t));
	if (t == NULL)
		return SOV_ENOMEM;
	for (uint32_t id = 0; id < n->count; id++) {
		uint32_t i = n->hash[id] & (size - 1);
		while (t[i] != 0)
			i = (i + 1) & (size - 1);
		t[i] = slot_make(n->hash[id], id);
	}
	free(n->table);
	n->table = t;
	n->mask = size - 1;
	return SOV_OK;
}

/** Id of a lowercased name, or UINT32_MAX. */
uint32_t names_lookup(const names_t *n, const uint8_t *lname, size_t len, uint32_t h)
{
	for (uint32_t i = h & n->mask;; i = (i + 1) & n->mask) {
		uint64_t v = n->table[i];
		if (v == 0)
			return UINT32_MAX;
		uint32_t id = (uint32_t)v - 1;
		if ((uint32_t)(v >> 32) == h && dname_len(n->buf + n->off[id]) == len &&
		    memcmp(n->buf + n->off[id], lname, len) == 0)
			return id;
	}
}

/** Finds or adds a lowercased name; *id_out gets its id. */
int names_intern(names_t *n, const uint8_t *lname, uint32_t *id_out)
{
	size_t len;
	uint32_t h = dname_hash_len(lname, &len);
	uint32_t id = names_lookup(n, lname, len, h);
	if (id != UINT32_MAX) {
		*id_out = id;
		return SOV_OK;
	}
	if (n->count == n->cap_ids) {
		uint32_t ncap = n->cap_ids ? n->cap_ids * 2 : 256;
		uint32_t *o = realloc(n->off, ncap * sizeof(*o));
		if (o == NULL)
			return SOV_ENOMEM;
		n->off = o;
		uint32_t *hs = realloc(n->hash, ncap * sizeof(*hs));
		if (hs == NULL)
			return SOV_ENOMEM;
		n->hash = hs;
		uint32_t *r = realloc(n->nrec, ncap * sizeof(*r));
		if (r == NULL)
			return SOV_ENOMEM;
		n->nrec = r;
		n->cap_ids = ncap;
	}
	if (n->len + len > n->cap) {
		size_t ncap = n->cap ? n->cap * 2 : 16384;
		while (ncap < n->len + len)
			ncap *= 2;
		if (ncap > UINT32_MAX)
			return SOV_ENOMEM;
		uint8_t *b = realloc(n->buf, ncap);
		if (b == NULL)
			return SOV_ENOMEM;
		n->buf = b;
		n->cap = ncap;
	}
	id = n->count;
	memcpy(n->buf + n->len, lname, len);
	n->off[id] = (uint32_t)n->len;
	n->hash[id] = h;
	n->nrec[id] = 0;
	n->len += len;
	n->count++;
	if ((uint64_t)n->count * 2 > (uint64_t)n->mask + 1) {
		if (names_grow_table(n) != SOV_OK)
			return SOV_ENOMEM;
	} else {
		uint32_t i = h & n->mask;
		while (n->table[i] != 0)
			i = (i + 1) & n->mask;
		n->table[i] = slot_make(h, id);
	}
	*id_out = id;
	return SOV_OK;
}

void names_free(names_t *n)
{
	free(n->buf);
	free(n->off);
	free(n->hash);
	free(n->nrec);
	free(n->table);
	memset(n, 0, sizeof(*n));
}

/** Adds every missing ancestor between an owner and the apex (empty non-terminals). */
int names_add_empty_nonterminals(loader_t *L)
{
	names_t *n = &L->names;
	uint32_t owners = n->count;
	uint8_t name[DNAME_MAXLEN];
	for (uint32_t id = 0; id < owners; id++) {
		memcpy(name, n->buf + n->off[id], dname_len(n->buf + n->off[id]));
		const uint8_t *p = name;
		while (dname_len(p) > L->z->origin_len) {
			p = dname_parent(p);
			size_t len;
			uint32_t h = dname_hash_len(p, &len);
			if (names_lookup(n, p, len, h) != UINT32_MAX)
				break; /* it and its ancestors are already there */
			uint32_t nid;
			if (names_intern(n, p, &nid) != SOV_OK)
				return SOV_ENOMEM;
		}
	}
	return SOV_OK;
}
