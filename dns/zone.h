/* zone.h — one authoritative zone, loaded from an RFC 1035 master file.
 *
 * Loading (zone.c and the zone_*.c files it drives, map in zone_int.h)
 * parses the file with ldns ($ORIGIN, $TTL, $INCLUDE,
 * relative names, RFC 3597 unknown types), validates it, and builds an
 * immutable in-memory index that the answer path reads without locks:
 *
 *   - nodes[]: one per owner name, plus one per empty non-terminal (a name
 *     with no records but with descendants, RFC 4592 §2.2.2), so that
 *     "name exists" is one hash lookup. nodes[0] is the apex.
 *   - each node's RRsets are sorted by type; each RRset keeps its records
 *     pre-rendered to wire format: `count` × [RDLENGTH u16, network order]
 *     [RDATA], with every domain name inside RDATA uncompressed and in the
 *     letter case of the zone file. The answer path compresses the names of
 *     RFC 1035 types (NS, CNAME, SOA, PTR, MX) as it writes them.
 *   - owner names are stored lowercased (index keys).
 *
 * Everything is allocated once at load time and freed by zone_free().
 */
#ifndef SOV_DNS_ZONE_H
#define SOV_DNS_ZONE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/diag.h"
#include "wire/dname.h"

#define ZNODE_NONE UINT32_MAX

/* znode_t.flags */
#define ZNODE_APEX 0x01	    /* the zone apex (nodes[0]) */
#define ZNODE_DELEG 0x02    /* has NS and is not the apex: a zone cut (RFC 1034 §4.2.1) */
#define ZNODE_WILDCARD 0x04 /* a child "*.<this name>" exists (RFC 4592) */
#define ZNODE_GLUE                                                                                 \
	0x08 /* strictly below a zone cut (cut != ZNODE_NONE and cut is                            \
		 not this node): not authoritative; the only data allowed                          \
		 here is A/AAAA glue named by an NS target of the cut.                             \
		 The cut node itself has ZNODE_DELEG, not ZNODE_GLUE. */
#define ZNODE_OCCLUDED                                                                             \
	0x10 /* at or below a zone cut, with data that is not the cut's                            \
		 glue (only in zone_services.keep_occluded zones): sent in                         \
		 transfers, never in an answer or additional section */

/** One RRset: all records of one type at one owner. */
typedef struct zrrset {
	uint16_t type;	      /* RR type, host order */
	uint16_t count;	      /* number of records, >= 1 */
	uint32_t ttl_s;	      /* TTL in seconds (RFC 2181 §5.2: one TTL per RRset) */
	uint32_t rdata_len;   /* bytes in rdata */
	const uint8_t *rdata; /* count × [RDLENGTH u16 BE][RDATA]; owned by the zone */
} zrrset_t;

/** One name in the zone (real owner or empty non-terminal). */
typedef struct znode {
	const uint8_t *owner;	/* lowercased wire name, owned by the zone */
	uint32_t parent;	/* index of the parent node; ZNODE_NONE for the apex */
	uint32_t cut;		/* index of the topmost zone cut at or above this node
				   (apex excluded); ZNODE_NONE when not under a cut */
	uint32_t service;	/* reserved for geo services: service id or ZNODE_NONE */
	uint16_t flags;		/* ZNODE_* bits */
	uint16_t rrset_count;	/* 0 for an empty non-terminal */
	const zrrset_t *rrsets; /* sorted by type ascending; owned by the zone */
} znode_t;

/** A loaded zone. All fields are read-only after zone_load(). */
typedef struct zone {
	uint8_t origin[DNAME_MAXLEN]; /* lowercased wire name of the apex */
	uint16_t origin_len;	      /* wire length of origin */
	uint16_t origin_labels;	      /* label count of origin */
	char *origin_str;	      /* presentation form, with the final dot */
	char *path;		      /* the master file it was read from */
	uint32_t serial;	      /* SOA serial */
	uint32_t neg_ttl_s;	      /* min(SOA TTL, SOA MINIMUM): TTL of the SOA in
					 NXDOMAIN/NODATA replies (RFC 2308 §3, §5) */
	size_t record_count;	      /* records loaded (after removing duplicates) */
	znode_t *nodes;		      /* nodes[0] is the apex */
	uint32_t node_count;
	uint64_t *index;	     /* open addressing: (owner hash << 32) | (node index + 1),
					0 = empty slot; private to zone_find() */
	uint32_t index_mask;	     /* table size - 1 (power of two) */
	void *mem;		     /* private: allocation bookkeeping */
	_Atomic int64_t expire_at_s; /* a secondary's copy: Unix time it expires (set by
					the secondary engine at every refresh); 0 for a
					primary's zone (EXPIRE = the SOA's) */
	_Atomic uint32_t refs;	     /* 1 from zone_load(); +1 per zone_ref() (a snapshot that
					shares the zone with the one it was respun from) */
} zone_t;

/**
 * True when z holds data: false only for the stand-in of a secondary zone
 * that has not been transferred yet or has expired (zone_new_empty), whose
 * every query is answered SERVFAIL (RFC 1034 §4.3.5: an expired zone is not
 * authoritative any more).
 */
static inline bool zone_has_data(const zone_t *z)
{
	return z->node_count > 0;
}

/**
 * A zone without data for `origin` (presentation form): see zone_has_data().
 * `path` is remembered as the file the zone will be kept in. NULL on
 * allocation failure or an invalid origin.
 */
zone_t *zone_new_empty(const char *origin, const char *path) __attribute__((nonnull));

/** The timers of a zone's SOA (RFC 1035 §3.3.13), seconds. */
struct zone_soa_timers {
	uint32_t refresh, retry, expire, minimum;
};

/** Reads the apex SOA's timers of z into *t. False for a zone without data. */
bool zone_soa_timers(const zone_t *z, struct zone_soa_timers *t) __attribute__((nonnull));

/**
 * The EDNS EXPIRE value of z at now_s (RFC 7314 §3): the SOA expire for a
 * primary's zone, the seconds left before a secondary's copy expires (0
 * when past), -1 for a zone without data.
 */
int64_t zone_expire_remaining(const zone_t *z, int64_t now_s) __attribute__((nonnull));

/** Another reference to z (shared between snapshots); returns z. */
zone_t *zone_ref(const zone_t *z) __attribute__((nonnull, returns_nonnull));

/**
 * Loads and validates the master file at `path` for the zone `origin`
 * (presentation form, "example.test" or "example.test.").
 * On success stores a new zone in *out and returns SOV_OK. On failure
 * returns SOV_EIO/SOV_EPARSE/SOV_ESEMANTIC and adds every problem found to
 * `diag` as "file:line:column: message" (file is the file that holds the
 * record, also inside $INCLUDE). Rejected: syntax errors; no SOA at the
 * apex; more than one SOA; SOA below the apex; a name outside the origin;
 * CNAME beside other data or two CNAMEs at a name (RFC 2181 §10.1);
 * records below a zone cut other than glue addresses (A/AAAA) named by an
 * NS target of that cut, and any data at a cut but NS/DS ("occluded data";
 * A/AAAA at the cut are glue when one of its NS records names the cut
 * itself, RFC 9471 §2.1);
 * no NS at the apex; class other than IN; two DNAMEs at a name, or data
 * below a DNAME (occluded, RFC 6672 §2.3-2.4); query or
 * meta types (ANY, OPT, ...); an $INCLUDE that cannot be opened or is not
 * a regular file, or nests deeper than 8 files. Differing TTLs within an
 * RRset are warned about (logged) and the first one kept; duplicate
 * records (names in RDATA compared case-insensitively) are dropped
 * (RFC 2181 §5). Without $TTL, records without a TTL get 3600 s (warned).
 * $INCLUDE names a file relative to the including file's directory; the
 * origin and the current owner are restored after it, $TTL is not.
 * Diagnostics come out in file order; after 1000, only a count.
 */
int zone_load(const char *origin, const char *path, zone_t **out, diag_t *diag)
    __attribute__((warn_unused_result));

/**
 * Names of geo services inside one zone: each becomes a node (with
 * node->service = ids[i]) even though the zone file has no records there,
 * so that ENT, wildcard and NXDOMAIN logic treat it as an existing name.
 */
struct zone_services {
	const uint8_t *const *names; /* lowercased wire names at or below the origin */
	const uint32_t *ids;	     /* service index to store in the node */
	size_t count;
	bool keep_occluded; /* a secondary's zone (received, or its kept copy):
			       data at or below a zone cut other than NS, DS and
			       glue is kept, not refused, since RFC 5936 §3.5 has
			       a transfer carry occluded names; it goes out in
			       our transfers and is never answered from (nodes get
			       ZNODE_OCCLUDED). Data below a DNAME stays refused. */
};

/**
 * zone_load() plus service names (svcs may be NULL). Also rejected, at the
 * offending record: static A, AAAA or CNAME records at a service name (the
 * service's answers would hide them); a service name at or below a zone cut
 * (the child zone answers for it); reported at line 1 of the zone file.
 */
int zone_load_services(const char *origin, const char *path, const struct zone_services *svcs,
		       zone_t **out, diag_t *diag) __attribute__((warn_unused_result));

/*
 * Building a zone from records given as wire data (a zone transfer, RFC
 * 5936), by exactly the rules zone_load_services() applies to a file: the
 * per-record checks (class IN, owner at or below the origin, no meta or
 * query type, SOA only at the apex, RDATA of at most 65535 bytes
 * and well formed for A, AAAA, NS, CNAME, PTR, MX, SOA), TTLs of at most
 * 2147483647 s (what a file can say, RFC 2181 §8), duplicates dropped
 * (names in RDATA compared case-insensitively, RFC 2181 §5, RFC 4343),
 * differing TTLs in an RRset warned about and the first kept, and the
 * zone's rules (SOA and NS at the apex, CNAME alone, cuts and glue,
 * DNAME, service names: those of zone_load_services() above). The result is the same zone_t as
 * loading a file holding the same records in the same order.
 *
 *   zone_builder_new → zone_builder_add × n → zone_builder_finish
 *
 * Diagnostics name the source and the record's number in the order given
 * (1-based), then the problem (which names the owner and type): "AXFR of
 * example.test. from 192.0.2.1, record 7: CNAME at www.example.test.
 * cannot coexist with other data (A) (RFC 2181 §10.1)"; zone-wide ones
 * the source alone. Memory while building: about 2 × 32 bytes per record
 * plus the RDATA, as for a file. One thread at a time per builder.
 */
typedef struct zone_builder zone_builder_t;

/**
 * A builder for zone `origin` (presentation form). `path` becomes the
 * zone's path (the file the zone is kept in, zone_t.path); `source` names
 * where the records come from in diagnostics. SOV_OK and *out, SOV_EINVAL
 * (origin not a domain name), SOV_ENOMEM.
 */
int zone_builder_new(const char *origin, const char *path, const char *source, zone_builder_t **out)
    __attribute__((nonnull, warn_unused_result));

/**
 * Adds one record: owner a wire name (uncompressed, any case, at most 255
 * bytes), class and type in host order, TTL in seconds, rdata[0..rdlen)
 * its RDATA uncompressed (the names in it in the case to serve; rdata may
 * be NULL when rdlen is 0). Copies everything. SOV_OK; SOV_ESEMANTIC when
 * this record breaks a per-record rule (noted; zone_builder_finish()
 * reports it and fails); SOV_ENOMEM (the builder is then only good for
 * zone_builder_free()). Rules that involve several records are checked
 * at the end.
 */
int zone_builder_add(zone_builder_t *b, const uint8_t *owner, uint16_t rclass, uint16_t type,
		     uint32_t ttl_s, const uint8_t *rdata, size_t rdlen)
    __attribute__((nonnull(1, 2), warn_unused_result));

/** Problems noted so far (per-record rules; at least 1 after SOV_ESEMANTIC). */
size_t zone_builder_errors(const zone_builder_t *b) __attribute__((nonnull));

/**
 * Builds and checks the zone with the service names svcs (NULL allowed; as
 * for zone_load_services(), read during the call only: given at the end so
 * that they are the configuration's when the zone is published, not when
 * the transfer began); frees b in every case. SOV_OK and *out (refs 1,
 * zone_free() it), else NULL in *out and SOV_ESEMANTIC (every problem in
 * diag, which may be NULL), SOV_EINVAL (a service name outside the zone),
 * SOV_ENOMEM.
 */
int zone_builder_finish(zone_builder_t *b, const struct zone_services *svcs, zone_t **out,
			diag_t *diag) __attribute__((nonnull(1, 3), warn_unused_result));

/** Frees a builder that will not be finished (NULL allowed). */
void zone_builder_free(zone_builder_t *b);

/**
 * Writes z as master file records to out (not flushed, not closed): the
 * apex SOA first, then every RRset, one record per line, owner absolute,
 * each with its RRset's TTL; what zone_load_services() reads back into the
 * same zone (with the same service names). *records gets the records
 * written. SOV_OK, SOV_EIO (a write failed: ferror(out)), SOV_EINVAL (z
 * has no data, or a record ldns cannot print).
 */
int zone_print(const zone_t *z, FILE *out, uint64_t *records)
    __attribute__((nonnull, warn_unused_result));

struct ldns_struct_rr;

/**
 * One record of a zone as a new ldns record (ldns_rr_free() it): owner a
 * wire name, type, TTL in seconds, rd the record's [RDLENGTH][RDATA] as
 * stored in a zrrset_t. NULL when out of memory or ldns cannot read it.
 */
struct ldns_struct_rr *zone_rr_ldns(const uint8_t *owner, uint16_t type, uint32_t ttl_s,
				    const uint8_t *rd) __attribute__((nonnull));

/** Drops a reference; the last one frees the zone. NULL is allowed. */
void zone_free(zone_t *z);

/** RR type mnemonic for messages ("A", "TYPE65280"): points to buf[0..cap)
 * (cap >= 16) or to a static string. */
const char *zone_type_str(uint16_t type, char *buf, size_t cap) __attribute__((nonnull));

/** Exact-match lookup of a lowercased wire name; NULL if the name is not in the zone. */
const znode_t *zone_find(const zone_t *z, const uint8_t *lower_name);

/** The node's RRset of `type`, or NULL. */
const zrrset_t *znode_rrset(const znode_t *n, uint16_t type);

/** Node by index (no bounds check beyond an assert). */
static inline const znode_t *zone_node(const zone_t *z, uint32_t idx)
{
	return &z->nodes[idx];
}

#endif
