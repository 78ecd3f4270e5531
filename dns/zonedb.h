/* zonedb.h — the set of zones served by one snapshot.
 *
 * Lookup picks the zone whose origin is the longest suffix of the query
 * name (a parent zone and its delegated child may both be served).
 */
#ifndef SOV_DNS_ZONEDB_H
#define SOV_DNS_ZONEDB_H

#include <stddef.h>

#include "dns/zone.h"

typedef struct zonedb zonedb_t;

/** Empty database; NULL on allocation failure. */
zonedb_t *zonedb_new(void);
/** Frees the database and every zone in it; NULL allowed. */
void zonedb_free(zonedb_t *db);
/** Takes ownership of z. SOV_EEXIST if a zone with the same origin is present (z not taken). */
int zonedb_add(zonedb_t *db, zone_t *z) __attribute__((warn_unused_result));
/** Makes the index ready for lookups; call once after the last zonedb_add(). */
int zonedb_finish(zonedb_t *db) __attribute__((warn_unused_result));
/** Longest-match zone for a lowercased wire name; NULL if none (→ REFUSED). */
const zone_t *zonedb_find(const zonedb_t *db, const uint8_t *lower_name);
/** Number of zones. */
size_t zonedb_count(const zonedb_t *db);
/** The i-th zone, in the order they were added. */
const zone_t *zonedb_get(const zonedb_t *db, size_t i);
/** Where z was added (the index zonedb_get() takes, which snapshot_build keeps
 * equal to the zone's index in config_t.zones); SIZE_MAX if z is not in db.
 * Linear: for the start of a transfer, not for every query. */
size_t zonedb_index(const zonedb_t *db, const zone_t *z) __attribute__((nonnull, pure));

#endif
