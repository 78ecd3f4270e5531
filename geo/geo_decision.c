/* geo_decision.c — preference orders ("decisions"): by great-circle
 * distance, from a list, from a `nets`/`default` target, from a database
 * record; and their interning (one copy per distinct content, so trie
 * leaves that hold equal decisions merge). */
#include "geo/geo_decision.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

int geo_dc_find(const geo_ctx_t *ctx, const char *id)
{
	for (size_t i = 0; i < ctx->dc_count; i++)
		if (strcmp(ctx->dcs[i].id, id) == 0)
			return (int)i;
	return SOV_ENOENT;
}

/* IUGG mean Earth radius. The ellipsoid would change distances by < 0.5%,
 * which never matters for choosing between sites hundreds of km apart. */
#define EARTH_RADIUS_KM 6371.0088

double geo_distance_km(double lat1, double lon1, double lat2, double lon2)
{
	double s1 = sin((lat2 - lat1) / 2), s2 = sin((lon2 - lon1) / 2);
	double a = s1 * s1 + cos(lat1) * cos(lat2) * s2 * s2;

	if (a > 1.0)
		a = 1.0; /* rounding near antipodes */
	return 2.0 * EARTH_RADIUS_KM * asin(sqrt(a));
}

/* Sorts idx[0..n) by dist[idx] ascending, ties by index: deterministic, and
 * config order breaks ties. Insertion sort: n <= 64 and it is stable. */
static void sort_by_distance(uint8_t *idx, size_t n, const double *dist)
{
	for (size_t i = 1; i < n; i++) {
		uint8_t v = idx[i];
		size_t j = i;
		while (j > 0 && (dist[idx[j - 1]] > dist[v] ||
				 (dist[idx[j - 1]] == dist[v] && idx[j - 1] > v))) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = v;
	}
}

void geo_decision_from_coords(const geo_ctx_t *ctx, double lat_deg, double lon_deg,
			      struct geo_decision *d)
{
	double dist[GEO_DC_MAX];
	double lat = lat_deg * M_PI / 180.0, lon = lon_deg * M_PI / 180.0;

	memset(d, 0, sizeof(*d));
	d->inside_dc = -1;
	d->n = (uint8_t)ctx->dc_count;
	for (size_t i = 0; i < ctx->dc_count; i++) {
		dist[i] = geo_distance_km(lat, lon, ctx->dcs[i].lat_rad, ctx->dcs[i].lon_rad);
		d->order[i] = (uint8_t)i;
	}
	sort_by_distance(d->order, d->n, dist);
}

void geo_decision_from_list(const geo_ctx_t *ctx, const uint16_t *list, size_t n,
			    struct geo_decision *d)
{
	double dist[GEO_DC_MAX];
	uint64_t used = 0;
	size_t k = 0;

	memset(d, 0, sizeof(*d));
	d->inside_dc = -1;
	for (size_t i = 0; i < n; i++) {
		d->order[k++] = (uint8_t)list[i];
		used |= (uint64_t)1 << list[i];
	}
	/* The rest, nearest to the list's first datacenter first: a client
	 * mapped to a site is presumably near it, so when the listed sites are
	 * all unusable the next best guess is what is near them. */
	const struct geo_dc *ref = &ctx->dcs[list[0]];
	size_t start = k;
	for (size_t i = 0; i < ctx->dc_count; i++) {
		if (used & ((uint64_t)1 << i))
			continue;
		dist[i] = geo_distance_km(ref->lat_rad, ref->lon_rad, ctx->dcs[i].lat_rad,
					  ctx->dcs[i].lon_rad);
		d->order[k++] = (uint8_t)i;
	}
	sort_by_distance(d->order + start, k - start, dist);
	d->n = (uint8_t)k;
}

/* Explicit geo.regions entry named code (case-insensitive). */
static bool region_explicit(const geo_ctx_t *ctx, const char *code, struct geo_decision *d)
{
	for (size_t i = 0; i < ctx->region_count; i++)
		if (strcasecmp(ctx->regions[i].name, code) == 0) {
			geo_decision_from_list(ctx, ctx->regions[i].dcs, ctx->regions[i].count, d);
			return true;
		}
	return false;
}

/* Datacenters whose `regions` list code (case-insensitive), config order. */
static bool region_tagged(const geo_ctx_t *ctx, const char *code, struct geo_decision *d)
{
	uint16_t list[GEO_DC_MAX];
	size_t n = 0;

	for (size_t i = 0; i < ctx->dc_count; i++)
		for (size_t t = 0; t < ctx->dcs[i].tag_count; t++)
			if (strcasecmp(ctx->dcs[i].tags[t], code) == 0) {
				list[n++] = (uint16_t)i;
				break;
			}
	if (n == 0)
		return false;
	geo_decision_from_list(ctx, list, n, d);
	return true;
}

int geo_decision_from_target(const geo_ctx_t *ctx, const char *target, struct geo_decision *d)
{
	int dc = geo_dc_find(ctx, target);

	if (dc >= 0) {
		uint16_t one = (uint16_t)dc;
		geo_decision_from_list(ctx, &one, 1, d);
		return SOV_OK;
	}
	if (region_explicit(ctx, target, d) || region_tagged(ctx, target, d))
		return SOV_OK;
	return SOV_ENOENT;
}

/* A string at path into buf; false (buf "") when absent, not a string or too long. */
static bool rec_str(MMDB_entry_s *e, const char *const *path, char *buf, size_t cap)
{
	MMDB_entry_data_s ed;

	buf[0] = '\0';
	if (MMDB_aget_value(e, &ed, path) != MMDB_SUCCESS || !ed.has_data ||
	    ed.type != MMDB_DATA_TYPE_UTF8_STRING || ed.data_size == 0 || ed.data_size >= cap)
		return false;
	memcpy(buf, ed.utf8_string, ed.data_size);
	buf[ed.data_size] = '\0';
	return true;
}

static bool rec_double(MMDB_entry_s *e, const char *const *path, double *out)
{
	MMDB_entry_data_s ed;

	if (MMDB_aget_value(e, &ed, path) != MMDB_SUCCESS || !ed.has_data)
		return false;
	if (ed.type == MMDB_DATA_TYPE_DOUBLE)
		*out = ed.double_value;
	else if (ed.type == MMDB_DATA_TYPE_FLOAT)
		*out = ed.float_value;
	else
		return false;
	return isfinite(*out);
}

bool geo_decision_from_record(const geo_ctx_t *ctx, MMDB_entry_s *entry,
			      struct geo_record_info *info, struct geo_decision *d)
{
	static const char *const p_cont[] = {"continent", "code", NULL};
	static const char *const p_country[] = {"country", "iso_code", NULL};
	static const char *const p_regc[] = {"registered_country", "iso_code", NULL};
	static const char *const p_sub[] = {"subdivisions", "0", "iso_code", NULL};
	static const char *const p_city[] = {"city", "names", "en", NULL};
	static const char *const p_lat[] = {"location", "latitude", NULL};
	static const char *const p_lon[] = {"location", "longitude", NULL};
	char sub[8];
	const char *codes[3];
	size_t ncodes = 0;

	memset(info, 0, sizeof(*info));
	rec_str(entry, p_cont, info->continent, sizeof(info->continent));
	if (!rec_str(entry, p_country, info->country, sizeof(info->country)))
		rec_str(entry, p_regc, info->country, sizeof(info->country));
	/* GeoIP2 stores the subdivision without its country ("CA"); match it
	 * as ISO 3166-2 "US-CA" so it cannot collide with a country code. */
	if (info->country[0] && rec_str(entry, p_sub, sub, sizeof(sub)))
		snprintf(info->subdivision, sizeof(info->subdivision), "%s-%s", info->country, sub);
	rec_str(entry, p_city, info->city, sizeof(info->city));
	info->has_coords = rec_double(entry, p_lat, &info->lat_deg) &&
			   rec_double(entry, p_lon, &info->lon_deg) && info->lat_deg >= -90.0 &&
			   info->lat_deg <= 90.0 && info->lon_deg >= -180.0 &&
			   info->lon_deg <= 180.0;

	/* Most specific code first. */
	if (info->subdivision[0])
		codes[ncodes++] = info->subdivision;
	if (info->country[0])
		codes[ncodes++] = info->country;
	if (info->continent[0])
		codes[ncodes++] = info->continent;

	/* 1. An explicit geo.regions entry is the operator's word (e.g. keep a
	 *    country on a site for jurisdiction), so it beats coordinates. */
	for (size_t i = 0; i < ncodes; i++)
		if (region_explicit(ctx, codes[i], d)) {
			info->by = GEO_BY_REGION;
			snprintf(info->by_code, sizeof(info->by_code), "%s", codes[i]);
			return true;
		}
	/* 2. Coordinates (City databases): great-circle distance. */
	if (info->has_coords) {
		geo_decision_from_coords(ctx, info->lat_deg, info->lon_deg, d);
		info->by = GEO_BY_COORDS;
		return true;
	}
	/* 3. Country/continent databases: datacenters tagged with the code. */
	for (size_t i = 0; i < ncodes; i++)
		if (region_tagged(ctx, codes[i], d)) {
			info->by = GEO_BY_TAG;
			snprintf(info->by_code, sizeof(info->by_code), "%s", codes[i]);
			return true;
		}
	info->by = GEO_BY_NONE;
	return false;
}

/* --- decision interning ------------------------------------------------ */

static uint32_t decision_hash(const struct geo_decision *d)
{
	uint32_t h = 2166136261u;
	uint8_t head[3] = {(uint8_t)d->inside_dc, (uint8_t)(d->inside_dc >> 8), d->n};

	for (size_t i = 0; i < sizeof(head); i++)
		h = (h ^ head[i]) * 16777619u;
	for (size_t i = 0; i < d->n; i++)
		h = (h ^ d->order[i]) * 16777619u;
	return h;
}

static bool decision_eq(const struct geo_decision *a, const struct geo_decision *b)
{
	return a->inside_dc == b->inside_dc && a->n == b->n &&
	       memcmp(a->order, b->order, a->n) == 0;
}

static int decision_rehash(geo_ctx_t *ctx, uint32_t cap)
{
	uint32_t *h = calloc(cap, sizeof(*h));

	if (h == NULL)
		return SOV_ENOMEM;
	for (uint32_t i = 0; i < ctx->decision_count; i++) {
		uint32_t slot = decision_hash(&ctx->decisions[i]) & (cap - 1);
		while (h[slot] != 0)
			slot = (slot + 1) & (cap - 1);
		h[slot] = i + 1;
	}
	free(ctx->decision_hash);
	ctx->decision_hash = h;
	ctx->decision_hash_cap = cap;
	return SOV_OK;
}

int geo_decision_intern(geo_ctx_t *ctx, const struct geo_decision *d, uint32_t *index)
{
	int rc = SOV_OK;

	/* Keep the table at most half full. */
	if ((ctx->decision_count + 1) * 2 > ctx->decision_hash_cap) {
		rc = decision_rehash(ctx, ctx->decision_hash_cap ? ctx->decision_hash_cap * 2 : 64);
		if (rc != SOV_OK)
			goto finish;
	}
	uint32_t mask = ctx->decision_hash_cap - 1;
	uint32_t slot = decision_hash(d) & mask;
	while (ctx->decision_hash[slot] != 0) {
		uint32_t i = ctx->decision_hash[slot] - 1;
		if (decision_eq(&ctx->decisions[i], d)) {
			*index = i;
			goto finish;
		}
		slot = (slot + 1) & mask;
	}
	if (ctx->decision_count >= GEO_VAL_MAX) {
		rc = SOV_ENOMEM;
		goto finish;
	}
	if (ctx->decision_count == ctx->decision_cap) {
		uint32_t ncap = ctx->decision_cap ? ctx->decision_cap * 2 : 16;
		struct geo_decision *n = realloc(ctx->decisions, ncap * sizeof(*n));
		if (n == NULL) {
			rc = SOV_ENOMEM;
			goto finish;
		}
		ctx->decisions = n;
		ctx->decision_cap = ncap;
	}
	ctx->decisions[ctx->decision_count] = *d;
	ctx->decision_hash[slot] = ctx->decision_count + 1;
	*index = ctx->decision_count++;
finish:
	return rc;
}
