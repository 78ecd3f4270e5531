/* geo_int.h — private to the geo/ files (and the unit tests): the context's
 * layout and the functions the geo files share.
 *
 *   geo.c         context lifecycle, accessors, client helpers
 *   geo_conf.c    `datacenters` / `services` / `geo` validation
 *   geo_map.c     preference orders, the database walk and the merged trie
 *   geo_select.c  the per-query selection
 *   geo_explain.c the --explain text
 */
#ifndef SOV_DNS_GEO_INT_H
#define SOV_DNS_GEO_INT_H

#include <maxminddb.h>

#include "geo/geo.h"

/** A network: family AF_INET/AF_INET6, address bytes (network order), prefix. */
struct geo_net {
	int family;
	uint8_t prefix;
	uint8_t addr[16];
};

struct geo_addrs {
	uint8_t v4[GEO_DC_ADDR_MAX][4];
	uint8_t v4_count;
	uint8_t v6[GEO_DC_ADDR_MAX][16];
	uint8_t v6_count;
};

struct geo_dc {
	char *id;
	double lat_deg, lon_deg;
	double lat_rad, lon_rad; /* precomputed for haversine */
	struct geo_addrs pub;
	struct geo_addrs internal;
	char **tags; /* `regions` codes this dc belongs to */
	size_t tag_count;
	struct geo_net *inets; /* internal.nets */
	size_t inet_count;
};

struct geo_service {
	struct geo_service_info info; /* public view; pointers into the fields below */
	char *name;
	uint8_t name_wire[255];
	uint16_t *dcs;
	uint64_t dc_mask;	 /* bit i set: dc i belongs to the service */
	bool location_dependent; /* nearest with more than one dc */
	bool has_internal;	 /* some dc of the service has internal networks */
};

/** An explicit `geo.regions` entry. */
struct geo_region {
	char *name;
	uint16_t *dcs;
	size_t count;
};

/**
 * A client's preference order: the outcome of locating it. `order` lists
 * every datacenter (n == dc count), most preferred first; n == 0 means "no
 * preference: use each service's own order" (unknown client, no default).
 * inside_dc >= 0 when the client is in that dc's internal networks.
 * Decisions are interned (one copy per distinct content); trie leaves hold
 * their index, so two networks merge exactly when their decisions are equal.
 */
struct geo_decision {
	int16_t inside_dc;
	uint8_t n;
	uint8_t order[GEO_DC_MAX];
};

/** A `geo.nets` entry, resolved. */
struct geo_netmap {
	struct geo_net net;
	char *target; /* dc id or region, as written */
	struct geo_decision decision;
};

struct geo_db {
	char *path; /* resolved */
	MMDB_s mmdb;
	bool open;
};

/* Build-time trie references: bit 31 set = leaf (low bits: a value), else
 * the index of a binary node. */
#define GEO_LEAF 0x80000000u
#define GEO_IS_LEAF(ref) (((ref)&GEO_LEAF) != 0)
#define GEO_LEAF_VAL(ref) ((ref) & ~GEO_LEAF)

struct geo_trie_node {
	uint32_t child[2];
};

/* Query-time (compiled) entries: a leaf is bit 31 | depth below its stride
 * node (0..4, bits 28..30) | value (bits 0..27); otherwise a stride node
 * index. Relative depths keep a compiled subtree valid wherever it is
 * shared (MaxMind's IPv4 aliases sit at ::/96, ::ffff:0:0/96, 2002::/16). */
#define GEO_STRIDE 4
#define GEO_VAL_MAX 0x0FFFFFFFu
#define GEO_CLEAF(rel, val) (GEO_LEAF | ((uint32_t)(rel) << 28) | (uint32_t)(val))
#define GEO_CLEAF_REL(e) (((e) >> 28) & 0x7u)
#define GEO_CLEAF_VAL(e) ((e)&GEO_VAL_MAX)

/* 16 entries of 4 bytes: exactly one 64-byte cache line per step. */
struct geo_stride_node {
	uint32_t e[1u << GEO_STRIDE];
};

/**
 * A trie over address bits, one root per family (0: IPv4, 1: IPv6).
 *
 * Built as a binary trie: nodes may be shared (a DAG: MaxMind's IPv6→IPv4
 * aliases, later databases reused as fallbacks), are never modified after
 * creation (inserts copy the path), and never have two equal leaf children
 * (they merge into one leaf), so the depth of the leaf an address reaches is
 * the length of the widest network around it with the same value.
 *
 * Then compiled (geo_trie_compile) into 4-bit strides for the query path:
 * at most 8 (IPv4) / 32 (IPv6) dependent loads of one cache line each,
 * instead of up to 32 / 128, with the exact leaf depth preserved. The binary
 * nodes are freed after compilation.
 */
struct geo_trie {
	struct geo_trie_node *nodes; /* build time */
	uint32_t count, cap;
	uint32_t root[2];
	struct geo_stride_node *snodes; /* query time, 64-byte aligned */
	uint32_t scount, scap;
	uint32_t sroot[2];
};

struct geo_ctx {
	struct geo_dc *dcs;
	size_t dc_count;
	struct geo_service *svcs;
	size_t svc_count;
	struct geo_region *regions;
	size_t region_count;
	struct geo_netmap *nets;
	size_t net_count;
	struct geo_db *dbs;
	size_t db_count;
	char *default_target;	   /* NULL: each service's own order */
	uint32_t default_decision; /* index into decisions */

	struct geo_decision *decisions;
	uint32_t decision_count, decision_cap;
	uint32_t *decision_hash; /* open addressing: index+1, 0 = empty */
	uint32_t decision_hash_cap;

	struct geo_trie map;	/* leaves: decision index */
	struct geo_trie inside; /* leaves: inside dc + 1, 0 = none */
};

/* geo_conf.c */
int geo_conf_parse(geo_ctx_t *ctx, const json_t *root, const char *file, const geo_jsonpos_t *pos,
		   diag_t *diag);

/* geo_map.c */
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

/** Builds ctx->map and ctx->inside from nets, internal networks and databases. */
int geo_map_build(geo_ctx_t *ctx, const char *file, diag_t *diag);

/** Walks the compiled trie for (family, addr); returns the leaf value, *depth the leaf's depth. */
uint32_t geo_trie_lookup(const struct geo_trie *t, int family, const uint8_t *addr,
			 unsigned *depth);
void geo_trie_free(struct geo_trie *t);

/** Slow, uncached location of a client, for --explain and tests: mirrors the trie. */
struct geo_locate_info {
	enum { GEO_SRC_NOPREFIX, GEO_SRC_INSIDE, GEO_SRC_NETS, GEO_SRC_DB, GEO_SRC_DEFAULT } src;
	int inside_dc;		    /* GEO_SRC_INSIDE */
	struct geo_net matched;	    /* the internal/nets/database network that matched */
	size_t nets_index;	    /* GEO_SRC_NETS */
	size_t db_index;	    /* GEO_SRC_DB */
	struct geo_record_info rec; /* GEO_SRC_DB */
	struct geo_decision decision;
};
int geo_locate_slow(const geo_ctx_t *ctx, const struct geo_client *c, struct geo_locate_info *info);

/* geo.c */
bool geo_net_contains(const struct geo_net *net, int family, const uint8_t *addr);
/** Parses "ADDR/PREFIX" (host bits must be zero) or a bare address. */
int geo_net_parse(const char *text, struct geo_net *out);
/** Formats "ADDR/PREFIX" into buf (at least 64 bytes). */
const char *geo_net_format(const struct geo_net *n, char *buf, size_t cap);
/** Clears the bits of addr beyond prefix. */
void geo_addr_mask(uint8_t *addr, int family, unsigned prefix);

#endif
