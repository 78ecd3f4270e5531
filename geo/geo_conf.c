/* geo_conf.c — validation of the `datacenters`, `services` and `geo`
 * configuration sections into a geo context (schema: docs/geo.md).
 *
 * Every problem is reported (not only the first), at the offending value
 * when the caller supplies positions. Parsing order: datacenters, then
 * geo.regions (needs dc ids), then geo.nets and geo.default (need dcs,
 * regions and tags), then services, then geo.databases.
 */
#include "geo/geo_conf.h"
#include "geo/geo_decision.h"

#include <arpa/inet.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/ident.h"
#include "conf/json_keys.h"
#include "conf/json_kind.h"
#include "wire/dname.h"

#define TTL_MAX 2147483647LL /* RFC 2181 §8 */

/* State of one parse. */
struct cp {
	geo_ctx_t *ctx;
	const char *file;
	const geo_jsonpos_t *pos;
	diag_t *diag;
	unsigned errors;
	bool nomem;
	bool io; /* a database could not be opened */
};

static void cp_err(struct cp *p, const json_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cp_err(struct cp *p, const json_t *at, const char *fmt, ...)
{
	char msg[512];
	unsigned line = 0, col = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->pos != NULL && p->pos->locate != NULL && at != NULL)
		p->pos->locate(p->pos->arg, at, &line, &col);
	diag_add(p->diag, p->file, line, col, "%s", msg);
	p->errors++;
}

static char *cp_strdup(struct cp *p, const char *s)
{
	char *d = strdup(s);
	if (d == NULL)
		p->nomem = true;
	return d;
}

static void *cp_calloc(struct cp *p, size_t n, size_t size)
{
	void *m = calloc(n ? n : 1, size);
	if (m == NULL)
		p->nomem = true;
	return m;
}

/* Reports every key of obj not in allowed (NULL-terminated). */
static void check_keys(struct cp *p, const json_t *obj, const char *where,
		       const char *const *allowed)
{
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)obj, key, val)
	{
		char msg[512];
		if (!json_key_known(key, allowed))
			cp_err(p, val, "%s: %s", where,
			       json_unknown_key(key, allowed, msg, sizeof(msg)));
	}
}

/* Address list for one family into a geo_addrs. */
static void parse_addrs(struct cp *p, const json_t *arr, const char *where, const char *key,
			int family, struct geo_addrs *a)
{
	size_t i;
	json_t *v;

	if (arr == NULL)
		return;
	if (!json_is_array(arr)) {
		cp_err(p, arr, "%s: \"%s\" must be an array of %s addresses, not %s", where, key,
		       family == AF_INET ? "IPv4" : "IPv6", json_kind(arr));
		return;
	}
	json_array_foreach(arr, i, v)
	{
		uint8_t bytes[16] = {0}, other[16];
		static const uint8_t zero[16] = {0};
		size_t len = family == AF_INET ? 4 : 16;
		uint8_t *count = family == AF_INET ? &a->v4_count : &a->v6_count;

		if (!json_is_string(v)) {
			cp_err(p, v, "%s: %s[%zu] must be a string, not %s", where, key, i,
			       json_kind(v));
			continue;
		}
		const char *s = json_string_value(v);
		if (inet_pton(family, s, bytes) != 1) {
			int fam2 = family == AF_INET ? AF_INET6 : AF_INET;
			if (inet_pton(fam2, s, other) == 1)
				cp_err(p, v, "%s: \"%s\" is an %s address; list it under \"%s\"",
				       where, s, fam2 == AF_INET ? "IPv4" : "IPv6",
				       fam2 == AF_INET ? "ipv4" : "ipv6");
			else
				cp_err(p, v, "%s: \"%s\" is not an %s address", where, s,
				       family == AF_INET ? "IPv4" : "IPv6");
			continue;
		}
		if (memcmp(bytes, zero, len) == 0) {
			cp_err(p, v, "%s: \"%s\" is the unspecified address", where, s);
			continue;
		}
		bool dup = false;
		for (unsigned k = 0; k < *count && !dup; k++)
			dup = memcmp(family == AF_INET ? a->v4[k] : a->v6[k], bytes, len) == 0;
		if (dup) {
			cp_err(p, v, "%s: address %s is listed twice", where, s);
			continue;
		}
		if (*count >= GEO_DC_ADDR_MAX) {
			cp_err(p, v, "%s: more than %d %s addresses", where, GEO_DC_ADDR_MAX,
			       family == AF_INET ? "IPv4" : "IPv6");
			break;
		}
		memcpy(family == AF_INET ? a->v4[*count] : a->v6[*count], bytes, len);
		(*count)++;
	}
}

static void parse_location(struct cp *p, const json_t *loc, const json_t *dcobj, const char *where,
			   struct geo_dc *dc)
{
	static const char *const keys[] = {"lat", "lon", NULL};

	if (loc == NULL) {
		cp_err(p, dcobj,
		       "%s: \"location\" is required ({\"lat\": degrees, \"lon\": degrees})",
		       where);
		return;
	}
	if (!json_is_object(loc)) {
		cp_err(p, loc, "%s: \"location\" must be an object {\"lat\": ..., \"lon\": ...}",
		       where);
		return;
	}
	check_keys(p, loc, where, keys);
	const json_t *lat = json_object_get(loc, "lat");
	const json_t *lon = json_object_get(loc, "lon");
	if (lat == NULL || !json_is_number(lat))
		cp_err(p, lat ? lat : loc, "%s: location \"lat\" must be a number of degrees",
		       where);
	else if (!(json_number_value(lat) >= -90.0 && json_number_value(lat) <= 90.0))
		cp_err(p, lat, "%s: latitude %g is outside -90..90 degrees", where,
		       json_number_value(lat));
	else
		dc->lat_deg = json_number_value(lat);
	if (lon == NULL || !json_is_number(lon))
		cp_err(p, lon ? lon : loc, "%s: location \"lon\" must be a number of degrees",
		       where);
	else if (!(json_number_value(lon) >= -180.0 && json_number_value(lon) <= 180.0))
		cp_err(p, lon, "%s: longitude %g is outside -180..180 degrees", where,
		       json_number_value(lon));
	else
		dc->lon_deg = json_number_value(lon);
	dc->lat_rad = dc->lat_deg * M_PI / 180.0;
	dc->lon_rad = dc->lon_deg * M_PI / 180.0;
}

static void parse_tags(struct cp *p, const json_t *arr, const char *where, struct geo_dc *dc)
{
	size_t i;
	json_t *v;

	if (arr == NULL)
		return;
	if (!json_is_array(arr)) {
		cp_err(p, arr, "%s: \"regions\" must be an array of region codes, not %s", where,
		       json_kind(arr));
		return;
	}
	dc->tags = cp_calloc(p, json_array_size(arr), sizeof(char *));
	if (dc->tags == NULL)
		return;
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v) || json_string_length(v) == 0) {
			cp_err(p, v, "%s: regions[%zu] must be a non-empty string", where, i);
			continue;
		}
		bool dup = false;
		for (size_t k = 0; k < dc->tag_count && !dup; k++)
			dup = strcasecmp(dc->tags[k], json_string_value(v)) == 0;
		if (dup) {
			cp_err(p, v, "%s: region \"%s\" is listed twice", where,
			       json_string_value(v));
			continue;
		}
		char *t = cp_strdup(p, json_string_value(v));
		if (t != NULL)
			dc->tags[dc->tag_count++] = t;
	}
}

static void parse_internal(struct cp *p, const json_t *in, const char *where, struct geo_dc *dc)
{
	static const char *const keys[] = {"nets", "ipv4", "ipv6", NULL};
	size_t i;
	json_t *v;

	if (in == NULL)
		return;
	if (!json_is_object(in)) {
		cp_err(p, in, "%s: \"internal\" must be an object {\"nets\", \"ipv4\", \"ipv6\"}",
		       where);
		return;
	}
	check_keys(p, in, where, keys);
	const json_t *nets = json_object_get(in, "nets");
	if (nets == NULL || !json_is_array(nets) || json_array_size(nets) == 0) {
		cp_err(p, nets ? nets : in,
		       "%s: internal \"nets\" must be a non-empty array of networks (CIDR)", where);
	} else {
		dc->inets = cp_calloc(p, json_array_size(nets), sizeof(sov_net_t));
		json_array_foreach(nets, i, v)
		{
			sov_net_t n;
			if (dc->inets == NULL)
				break;
			if (!json_is_string(v) || net_parse(json_string_value(v), &n) != SOV_OK) {
				cp_err(p, v,
				       "%s: internal nets[%zu] is not a network such as "
				       "\"10.1.0.0/16\" (host bits must be zero)",
				       where, i);
				continue;
			}
			dc->inets[dc->inet_count++] = n;
		}
	}
	char sub[256];
	snprintf(sub, sizeof(sub), "%s (internal)", where);
	parse_addrs(p, json_object_get(in, "ipv4"), sub, "ipv4", AF_INET, &dc->internal);
	parse_addrs(p, json_object_get(in, "ipv6"), sub, "ipv6", AF_INET6, &dc->internal);
	if (dc->internal.v4_count + dc->internal.v6_count == 0)
		cp_err(p, in, "%s: \"internal\" needs at least one address in \"ipv4\" or \"ipv6\"",
		       where);
}

static void parse_datacenters(struct cp *p, const json_t *arr)
{
	static const char *const keys[] = {"id",      "location", "ipv4", "ipv6",
					   "regions", "internal", NULL};
	geo_ctx_t *ctx = p->ctx;
	size_t i;
	json_t *obj;

	if (arr == NULL)
		return;
	if (!json_is_array(arr)) {
		cp_err(p, arr, "\"datacenters\" must be an array, not %s", json_kind(arr));
		return;
	}
	if (json_array_size(arr) == 0) {
		cp_err(p, arr, "\"datacenters\" is empty; list at least one or leave it out");
		return;
	}
	if (json_array_size(arr) > GEO_DC_MAX) {
		cp_err(p, arr, "\"datacenters\" lists %zu datacenters; at most %d are supported",
		       json_array_size(arr), GEO_DC_MAX);
		return;
	}
	ctx->dcs = cp_calloc(p, json_array_size(arr), sizeof(struct geo_dc));
	if (ctx->dcs == NULL)
		return;
	json_array_foreach(arr, i, obj)
	{
		char where[128];
		struct geo_dc *dc = &ctx->dcs[ctx->dc_count];

		if (!json_is_object(obj)) {
			cp_err(p, obj, "datacenters[%zu] must be an object, not %s", i,
			       json_kind(obj));
			continue;
		}
		const json_t *id = json_object_get(obj, "id");
		if (id == NULL || !json_is_string(id)) {
			cp_err(p, id ? id : obj, "datacenters[%zu]: \"id\" (a string) is required",
			       i);
			continue;
		}
		const char *ids = json_string_value(id);
		if (ids == NULL || !ident_valid(ids)) {
			cp_err(p, id,
			       "datacenters[%zu]: id \"%s\" must be 1..%d characters of "
			       "A-Z a-z 0-9 . _ -",
			       i, ids ? ids : "", IDENT_MAX);
			continue;
		}
		if (geo_dc_find(ctx, ids) >= 0) {
			cp_err(p, id, "datacenters[%zu]: duplicate datacenter id \"%s\"", i, ids);
			continue;
		}
		snprintf(where, sizeof(where), "datacenter \"%s\"", ids);
		check_keys(p, obj, where, keys);
		dc->id = cp_strdup(p, ids);
		if (dc->id == NULL)
			return;
		ctx->dc_count++;
		parse_location(p, json_object_get(obj, "location"), obj, where, dc);
		parse_addrs(p, json_object_get(obj, "ipv4"), where, "ipv4", AF_INET, &dc->pub);
		parse_addrs(p, json_object_get(obj, "ipv6"), where, "ipv6", AF_INET6, &dc->pub);
		if (dc->pub.v4_count + dc->pub.v6_count == 0)
			cp_err(p, obj,
			       "%s: needs at least one public address in \"ipv4\" or \"ipv6\"",
			       where);
		parse_tags(p, json_object_get(obj, "regions"), where, dc);
		parse_internal(p, json_object_get(obj, "internal"), where, dc);
	}
	/* The same internal network in two datacenters cannot say where a
	 * client is; nested networks are fine (the longest match wins). */
	for (size_t a = 0; a < ctx->dc_count; a++)
		for (size_t an = 0; an < ctx->dcs[a].inet_count; an++)
			for (size_t b = a; b < ctx->dc_count; b++)
				for (size_t bn = (b == a ? an + 1 : 0); bn < ctx->dcs[b].inet_count;
				     bn++) {
					const sov_net_t *x = &ctx->dcs[a].inets[an];
					const sov_net_t *y = &ctx->dcs[b].inets[bn];
					char buf[64];
					if (x->family == y->family && x->prefix == y->prefix &&
					    memcmp(x->addr, y->addr, 16) == 0)
						cp_err(p, arr,
						       "internal network %s is listed by both "
						       "\"%s\" and \"%s\"",
						       net_format(x, buf, sizeof(buf)),
						       ctx->dcs[a].id, ctx->dcs[b].id);
				}
}

/* A list of known, distinct dc ids into a freshly allocated index array. */
static uint16_t *parse_dc_list(struct cp *p, const json_t *arr, const char *where, size_t *count)
{
	uint16_t *out = NULL;
	size_t i;
	json_t *v;

	*count = 0;
	if (arr == NULL || !json_is_array(arr) || json_array_size(arr) == 0) {
		cp_err(p, arr, "%s: must be a non-empty array of datacenter ids", where);
		goto finish;
	}
	out = cp_calloc(p, json_array_size(arr), sizeof(uint16_t));
	if (out == NULL)
		goto finish;
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v)) {
			cp_err(p, v, "%s: entry %zu must be a datacenter id string, not %s", where,
			       i, json_kind(v));
			continue;
		}
		int dc = geo_dc_find(p->ctx, json_string_value(v));
		if (dc < 0) {
			cp_err(p, v, "%s: unknown datacenter \"%s\"", where, json_string_value(v));
			continue;
		}
		bool dup = false;
		for (size_t k = 0; k < *count && !dup; k++)
			dup = out[k] == dc;
		if (dup) {
			cp_err(p, v, "%s: datacenter \"%s\" is listed twice", where,
			       json_string_value(v));
			continue;
		}
		out[(*count)++] = (uint16_t)dc;
	}
finish:
	return out;
}

static void parse_regions(struct cp *p, const json_t *obj)
{
	geo_ctx_t *ctx = p->ctx;
	const char *key;
	json_t *val;

	if (obj == NULL)
		return;
	if (!json_is_object(obj)) {
		cp_err(p, obj, "geo \"regions\" must be an object {\"REGION\": [dc ids...]}");
		return;
	}
	ctx->regions = cp_calloc(p, json_object_size(obj), sizeof(struct geo_region));
	if (ctx->regions == NULL)
		return;
	json_object_foreach((json_t *)obj, key, val)
	{
		char where[128];
		snprintf(where, sizeof(where), "geo region \"%.64s\"", key);
		if (key[0] == '\0') {
			cp_err(p, val, "geo regions: a region name must not be empty");
			continue;
		}
		if (geo_dc_find(ctx, key) >= 0) {
			cp_err(p, val, "%s: the name is also a datacenter id; pick another", where);
			continue;
		}
		bool dup = false;
		for (size_t k = 0; k < ctx->region_count && !dup; k++)
			dup = strcasecmp(ctx->regions[k].name, key) == 0;
		if (dup) {
			cp_err(p, val, "%s: defined twice (names are case-insensitive)", where);
			continue;
		}
		struct geo_region *r = &ctx->regions[ctx->region_count];
		r->dcs = parse_dc_list(p, val, where, &r->count);
		if (r->count == 0) {
			free(r->dcs);
			r->dcs = NULL;
			continue;
		}
		r->name = cp_strdup(p, key);
		if (r->name == NULL) {
			free(r->dcs);
			r->dcs = NULL;
			return;
		}
		ctx->region_count++;
	}
}

static int cmp_netmap_prefix(const void *a, const void *b)
{
	const struct geo_netmap *x = a, *y = b;
	return (int)x->net.prefix - (int)y->net.prefix;
}

static void parse_nets(struct cp *p, const json_t *obj)
{
	geo_ctx_t *ctx = p->ctx;
	const char *key;
	json_t *val;

	if (obj == NULL)
		return;
	if (!json_is_object(obj)) {
		cp_err(p, obj, "geo \"nets\" must be an object {\"CIDR\": \"dc id or region\"}");
		return;
	}
	ctx->nets = cp_calloc(p, json_object_size(obj), sizeof(struct geo_netmap));
	if (ctx->nets == NULL)
		return;
	json_object_foreach((json_t *)obj, key, val)
	{
		struct geo_netmap *m = &ctx->nets[ctx->net_count];
		char buf[64];

		if (net_parse(key, &m->net) != SOV_OK) {
			cp_err(p, val,
			       "geo nets: \"%.64s\" is not a network such as \"192.0.2.0/24\" "
			       "(host bits must be zero)",
			       key);
			continue;
		}
		bool dup = false;
		for (size_t k = 0; k < ctx->net_count && !dup; k++)
			dup = ctx->nets[k].net.family == m->net.family &&
			      ctx->nets[k].net.prefix == m->net.prefix &&
			      memcmp(ctx->nets[k].net.addr, m->net.addr, 16) == 0;
		if (dup) {
			cp_err(p, val, "geo nets: network %s is listed twice",
			       net_format(&m->net, buf, sizeof(buf)));
			continue;
		}
		if (!json_is_string(val)) {
			cp_err(p, val, "geo nets: \"%.64s\" must map to a datacenter id or region",
			       key);
			continue;
		}
		if (geo_decision_from_target(ctx, json_string_value(val), &m->decision) != SOV_OK) {
			cp_err(p, val,
			       "geo nets: \"%.64s\" maps to \"%.64s\", which is neither a "
			       "datacenter, a geo region nor a datacenter's region code",
			       key, json_string_value(val));
			continue;
		}
		m->target = cp_strdup(p, json_string_value(val));
		if (m->target == NULL)
			return;
		ctx->net_count++;
	}
	/* Shorter prefixes first: the trie build inserts in this order so a
	 * more specific entry overrides the one containing it. */
	if (ctx->net_count > 1)
		qsort(ctx->nets, ctx->net_count, sizeof(*ctx->nets), cmp_netmap_prefix);
}

static void parse_default(struct cp *p, const json_t *def)
{
	struct geo_decision d;

	if (def == NULL)
		return;
	if (!json_is_string(def)) {
		cp_err(p, def, "geo \"default\" must be a datacenter id or region, not %s",
		       json_kind(def));
		return;
	}
	if (geo_decision_from_target(p->ctx, json_string_value(def), &d) != SOV_OK) {
		cp_err(p, def,
		       "geo default: \"%.64s\" is neither a datacenter, a geo region nor a "
		       "datacenter's region code",
		       json_string_value(def));
		return;
	}
	p->ctx->default_target = cp_strdup(p, json_string_value(def));
}

/* Resolves path against the directory of the config file. */
static char *resolve_path(struct cp *p, const char *path)
{
	char *out = NULL;
	const char *slash = p->file ? strrchr(p->file, '/') : NULL;

	if (path[0] == '/' || slash == NULL)
		return cp_strdup(p, path);
	size_t dlen = (size_t)(slash - p->file) + 1;
	out = malloc(dlen + strlen(path) + 1);
	if (out == NULL) {
		p->nomem = true;
		return NULL;
	}
	memcpy(out, p->file, dlen);
	strcpy(out + dlen, path);
	return out;
}

static void parse_databases(struct cp *p, const json_t *arr)
{
	geo_ctx_t *ctx = p->ctx;
	size_t i;
	json_t *v;

	if (arr == NULL)
		return;
	if (!json_is_array(arr)) {
		cp_err(p, arr, "geo \"databases\" must be an array of .mmdb file paths");
		return;
	}
	ctx->dbs = cp_calloc(p, json_array_size(arr), sizeof(struct geo_db));
	if (ctx->dbs == NULL)
		return;
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v) || json_string_length(v) == 0) {
			cp_err(p, v, "geo databases[%zu] must be a non-empty file path", i);
			continue;
		}
		char *path = resolve_path(p, json_string_value(v));
		if (path == NULL)
			return;
		struct geo_db *db = &ctx->dbs[ctx->db_count++];
		db->path = path;
		/* Opened here, once per context: MMDB_MODE_MMAP maps the file, so
		 * a replaced file is only seen by the next context (reload). */
		int mrc = MMDB_open(path, MMDB_MODE_MMAP, &db->mmdb);
		if (mrc != MMDB_SUCCESS) {
			cp_err(p, v, "geo database \"%s\": cannot open: %s", path,
			       MMDB_strerror(mrc));
			p->io = true;
			continue;
		}
		db->open = true;
		if (db->mmdb.metadata.ip_version != 4 && db->mmdb.metadata.ip_version != 6)
			cp_err(p, v, "geo database \"%s\": unsupported ip_version %u", path,
			       (unsigned)db->mmdb.metadata.ip_version);
	}
}

static void parse_geo(struct cp *p, const json_t *geo)
{
	static const char *const keys[] = {"databases", "nets", "regions", "default", NULL};

	if (geo == NULL)
		return;
	if (!json_is_object(geo)) {
		cp_err(p, geo, "\"geo\" must be an object, not %s", json_kind(geo));
		return;
	}
	check_keys(p, geo, "geo", keys);
	if (p->ctx->dc_count == 0) {
		cp_err(p, geo, "\"geo\" is configured but there are no \"datacenters\"");
		return;
	}
	parse_regions(p, json_object_get(geo, "regions"));
	parse_nets(p, json_object_get(geo, "nets"));
	parse_default(p, json_object_get(geo, "default"));
	parse_databases(p, json_object_get(geo, "databases"));
}

/* One of names (NULL-terminated) into *out; reports anything else. */
static bool parse_enum(struct cp *p, const json_t *v, const char *where, const char *key,
		       const char *const *names, const char *expected, int *out)
{
	if (json_is_string(v))
		for (int i = 0; names[i]; i++)
			if (strcmp(names[i], json_string_value(v)) == 0) {
				*out = i;
				return true;
			}
	cp_err(p, v, "%s: \"%s\" must be %s", where, key, expected);
	return false;
}

/*
 * A service's "transfer": which datacenters' public addresses a zone
 * transfer carries for its name. "all" (the default: a secondary answers
 * with every site, as round-robin DNS), "first" (the first of its
 * datacenters: for failover, the primary site), or a list of datacenter
 * ids among the service's own.
 */
static void parse_transfer(struct cp *p, const json_t *v, const char *where, struct geo_service *s)
{
	if (v == NULL)
		return;
	if (json_is_string(v) && strcmp(json_string_value(v), "all") == 0)
		return;
	if (json_is_string(v) && strcmp(json_string_value(v), "first") == 0) {
		if (s->info.dc_count > 0)
			s->info.transfer_mask = (uint64_t)1 << s->dcs[0];
		return;
	}
	if (!json_is_array(v)) {
		cp_err(p, v,
		       "%s: \"transfer\" must be \"all\", \"first\" or a list of the service's "
		       "datacenter ids",
		       where);
		return;
	}
	char lwhere[320];
	snprintf(lwhere, sizeof(lwhere), "%s: \"transfer\"", where);
	size_t n = 0;
	uint16_t *dcs = parse_dc_list(p, v, lwhere, &n);
	uint64_t mask = 0;
	for (size_t k = 0; k < n; k++) {
		uint64_t bit = (uint64_t)1 << dcs[k];
		if (!(s->dc_mask & bit))
			cp_err(p, json_array_get(v, k),
			       "%s: datacenter \"%s\" is not one of the service's", lwhere,
			       json_string_value(json_array_get(v, k)));
		mask |= bit;
	}
	free(dcs);
	if (n > 0)
		s->info.transfer_mask = mask;
}

static void parse_services(struct cp *p, const json_t *arr)
{
	static const char *const keys[] = {"name",	    "policy",	   "datacenters",
					   "ttl",	    "max_answers", "on_all_down",
					   "ttl_when_down", "transfer",	   NULL};
	/* Same order as enum geo_policy / enum geo_on_all_down. */
	static const char *const policies[] = {"nearest", "failover", "all", NULL};
	static const char *const downs[] = {"all", "first", "empty", NULL};
	geo_ctx_t *ctx = p->ctx;
	size_t i;
	json_t *obj;

	if (arr == NULL)
		return;
	if (!json_is_array(arr)) {
		cp_err(p, arr, "\"services\" must be an array, not %s", json_kind(arr));
		return;
	}
	if (json_array_size(arr) == 0) {
		cp_err(p, arr, "\"services\" is empty; list at least one or leave it out");
		return;
	}
	ctx->svcs = cp_calloc(p, json_array_size(arr), sizeof(struct geo_service));
	if (ctx->svcs == NULL)
		return;
	json_array_foreach(arr, i, obj)
	{
		struct geo_service *s = &ctx->svcs[ctx->svc_count];
		char where[300];
		int v;

		if (!json_is_object(obj)) {
			cp_err(p, obj, "services[%zu] must be an object, not %s", i,
			       json_kind(obj));
			continue;
		}
		const json_t *name = json_object_get(obj, "name");
		if (name == NULL || !json_is_string(name)) {
			cp_err(p, name ? name : obj,
			       "services[%zu]: \"name\" (a string) is required", i);
			continue;
		}
		snprintf(where, sizeof(where), "service \"%.255s\"", json_string_value(name));
		if (dname_from_str(json_string_value(name), s->name_wire) < 0 ||
		    s->name_wire[0] == 0) {
			cp_err(p, name, "%s: not a valid domain name", where);
			continue;
		}
		bool dup = false;
		for (size_t k = 0; k < ctx->svc_count && !dup; k++)
			dup = dname_equal(ctx->svcs[k].name_wire, s->name_wire);
		if (dup) {
			cp_err(p, name, "%s: defined twice", where);
			continue;
		}
		check_keys(p, obj, where, keys);

		s->info.policy = GEO_POLICY_NEAREST;
		const json_t *pol = json_object_get(obj, "policy");
		if (pol != NULL) {
			if (parse_enum(p, pol, where, "policy", policies,
				       "\"nearest\", \"failover\" or \"all\"", &v))
				s->info.policy = (enum geo_policy)v;
		}
		s->info.on_all_down = GEO_DOWN_ALL;
		const json_t *down = json_object_get(obj, "on_all_down");
		if (down != NULL) {
			if (parse_enum(p, down, where, "on_all_down", downs,
				       "\"all\", \"first\" or \"empty\"", &v))
				s->info.on_all_down = (enum geo_on_all_down)v;
		}
		char lwhere[320];
		snprintf(lwhere, sizeof(lwhere), "%s: \"datacenters\"", where);
		const json_t *dcs = json_object_get(obj, "datacenters");
		s->dcs = parse_dc_list(p, dcs ? dcs : obj, lwhere, &s->info.dc_count);

		s->info.ttl_s = GEO_DEFAULT_TTL_S;
		const json_t *ttl = json_object_get(obj, "ttl");
		if (ttl != NULL) {
			if (!json_is_integer(ttl) || json_integer_value(ttl) < 0 ||
			    json_integer_value(ttl) > TTL_MAX)
				cp_err(p, ttl,
				       "%s: \"ttl\" must be an integer number of seconds "
				       "0..2147483647 (RFC 2181 §8)",
				       where);
			else
				s->info.ttl_s = (uint32_t)json_integer_value(ttl);
		}
		/* While a datacenter of the service is not usable, answers carry
		 * a shorter TTL so clients come back (or move on) sooner. */
		s->info.ttl_down_s =
		    s->info.ttl_s < GEO_DEFAULT_TTL_DOWN_S ? s->info.ttl_s : GEO_DEFAULT_TTL_DOWN_S;
		const json_t *ttld = json_object_get(obj, "ttl_when_down");
		if (ttld != NULL) {
			if (!json_is_integer(ttld) || json_integer_value(ttld) < 0 ||
			    json_integer_value(ttld) > TTL_MAX)
				cp_err(p, ttld,
				       "%s: \"ttl_when_down\" must be an integer number of seconds "
				       "0..2147483647 (RFC 2181 §8)",
				       where);
			else
				s->info.ttl_down_s = (uint32_t)json_integer_value(ttld);
		}
		if (ttld == NULL && s->info.ttl_down_s > s->info.ttl_s)
			s->info.ttl_down_s = s->info.ttl_s;
		else if (ttld != NULL && s->info.ttl_down_s > s->info.ttl_s)
			cp_err(p, ttld,
			       "%s: \"ttl_when_down\" (%u) is above \"ttl\" (%u): it is the "
			       "shorter TTL used while a datacenter is not usable",
			       where, s->info.ttl_down_s, s->info.ttl_s);
		s->info.max_answers =
		    s->info.policy == GEO_POLICY_ALL ? GEO_DC_MAX : GEO_DEFAULT_MAX_ANSWERS;
		const json_t *maxa = json_object_get(obj, "max_answers");
		if (maxa != NULL) {
			if (!json_is_integer(maxa) || json_integer_value(maxa) < 1 ||
			    json_integer_value(maxa) > GEO_DC_MAX)
				cp_err(p, maxa, "%s: \"max_answers\" must be an integer 1..%d",
				       where, GEO_DC_MAX);
			else
				s->info.max_answers = (unsigned)json_integer_value(maxa);
		}
		s->name = cp_strdup(p, json_string_value(name));
		if (s->name == NULL) {
			free(s->dcs);
			s->dcs = NULL;
			return;
		}
		for (size_t k = 0; k < s->info.dc_count; k++) {
			s->dc_mask |= (uint64_t)1 << s->dcs[k];
			if (ctx->dcs[s->dcs[k]].inet_count > 0)
				s->has_internal = true;
		}
		s->location_dependent =
		    s->info.policy == GEO_POLICY_NEAREST && s->info.dc_count > 1;
		s->info.transfer_mask = s->dc_mask;
		parse_transfer(p, json_object_get(obj, "transfer"), where, s);
		ctx->svc_count++;
	}
	/* Pointers into svcs are taken once the array is complete. */
	for (size_t k = 0; k < ctx->svc_count; k++) {
		ctx->svcs[k].info.name = ctx->svcs[k].name;
		ctx->svcs[k].info.name_wire = ctx->svcs[k].name_wire;
		ctx->svcs[k].info.dcs = ctx->svcs[k].dcs;
	}
}

int geo_conf_parse(geo_ctx_t *ctx, const json_t *root, const char *file, const geo_jsonpos_t *pos,
		   diag_t *diag)
{
	struct cp p = {.ctx = ctx, .file = file, .pos = pos, .diag = diag};
	int rc = SOV_OK;

	if (!json_is_object(root)) {
		cp_err(&p, root, "the configuration must be a JSON object");
		goto finish;
	}
	parse_datacenters(&p, json_object_get(root, "datacenters"));
	if (p.nomem)
		goto finish;
	parse_geo(&p, json_object_get(root, "geo"));
	if (p.nomem)
		goto finish;
	parse_services(&p, json_object_get(root, "services"));
finish:
	if (p.nomem)
		rc = SOV_ENOMEM;
	else if (p.io)
		rc = SOV_EIO;
	else if (p.errors > 0)
		rc = SOV_ESEMANTIC;
	return rc;
}
