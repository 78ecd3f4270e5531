/* geo_decision.h — the decision layer of geo/: a client's datacenter
 * preference order from coordinates, a list, a `nets`/`default` target or a
 * database record, and the interning that lets equal decisions share one
 * trie leaf. Reads the context's tables only; calls no other geo layer. */
#ifndef SOV_GEO_GEO_DECISION_H
#define SOV_GEO_GEO_DECISION_H

#include "geo/geo_ctx.h"

/** Great-circle distance in km between two points given in radians (haversine). */
double geo_distance_km(double lat1, double lon1, double lat2, double lon2);
/** Decision for a client at (lat, lon) degrees: every dc by distance, ties by config order. */
void geo_decision_from_coords(const geo_ctx_t *ctx, double lat_deg, double lon_deg,
			      struct geo_decision *d);
/** Decision for a list of dcs (most preferred first), then the rest by distance from list[0]. */
void geo_decision_from_list(const geo_ctx_t *ctx, const uint16_t *list, size_t n,
			    struct geo_decision *d);
/** Resolves a `nets`/`default` target: dc id, geo.regions name or a dc tag. SOV_ENOENT if none. */
int geo_decision_from_target(const geo_ctx_t *ctx, const char *target, struct geo_decision *d);

/** What a database record said, for the decision and for --explain. */
struct geo_record_info {
	char continent[8], country[8], subdivision[16]; /* "" when absent */
	char city[64];
	bool has_coords;
	double lat_deg, lon_deg;
	/* How the decision was made: */
	enum { GEO_BY_NONE = 0, GEO_BY_REGION, GEO_BY_COORDS, GEO_BY_TAG } by;
	char by_code[16]; /* the region/tag code used */
};
/** Decision for a database record; false if the record gives nothing usable. */
bool geo_decision_from_record(const geo_ctx_t *ctx, MMDB_entry_s *entry,
			      struct geo_record_info *info, struct geo_decision *d);

/** Interns d; *index receives its position in ctx->decisions. */
int geo_decision_intern(geo_ctx_t *ctx, const struct geo_decision *d, uint32_t *index);

#endif
