/* geo_ctx.h — private to the geo/ files (and the unit tests): the layout of
 * the context every layer reads. Layers, each with its own header, calling
 * only downwards (geo.c is the one orchestrator):
 *
 *   geo.c          context lifecycle (load = conf, then map), accessors,
 *                  client helpers
 *   geo_conf.c     `datacenters` / `services` / `geo` validation (geo_conf.h)
 *   geo_decision.c preference orders ("decisions") and their interning
 *                  (geo_decision.h)
 *   geo_map.c      the database walk, the merged trie (geo_map.h)
 *   geo_select.c   the per-query selection (geo.h), geo_explain.c the
 *                  --explain text, usable.c the usable rule (usable.h)
 */
#ifndef SOV_GEO_GEO_CTX_H
#define SOV_GEO_GEO_CTX_H

#include <maxminddb.h>

#include "common/net.h"
#include "geo/geo.h"

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
	sov_net_t *inets; /* internal.nets */
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
	sov_net_t net;
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

#endif
