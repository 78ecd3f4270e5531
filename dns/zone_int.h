/* zone_int.h — private to the zone loader (dns/zone*.c); not part of the API.
 *
 * The loader is split by job, each file using only ones listed below it
 * (no file calls back into a higher one):
 *
 *   zone.c        zone_load(), zone_load_services(), zone_builder_*(): the
 *                 orchestrator (top): records from a file or given as wire data
 *   zone_build.c  sort, deduplicate, lay out nodes/RRsets/RDATA, link the tree
 *   zone_check.c  semantic rules on the built tree (SOA, NS, CNAME, cuts, services)
 *   zone_parse.c  reading files: $ directives, blank lines, fast path or ldns
 *   zone_lint.c   textual checks ldns does not make, reported at line:column
 *   zone_record.c per-record checks, the RDATA arena, the dedup hash
 *   zone_names.c  the name table (ids, hash table that becomes the index), ENTs
 *   zone_err.c    diagnostics collected in loader_t and flushed in file order
 *   zone_index.c  zone_find(), znode_rrset(), zone_free() (also used by the above)
 *
 * Beside the loader, zone_print.c writes a loaded zone back as master file
 * text (zone_print(), for a secondary's kept copy); it uses zone_index.c only.
 *
 * Everything here runs at load time on one thread; nothing is shared with
 * the query path except the zone_t the orchestrator hands out.
 */
#ifndef SOV_DNS_ZONE_INT_H
#define SOV_DNS_ZONE_INT_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "dns/zone.h"
#include "dns/zone_fast.h"

/* TTL for records without one when the file has no $TTL (RFC 2308 §4 wants
 * $TTL; BIND and ldns fall back to one hour). */
#define ZONE_DEFAULT_TTL_S 3600

/** One record while loading. 32 bytes: a 1,000,000-record zone costs 32 MB here. */
typedef struct zrec {
	uint64_t hash;	/* hash of the RDATA with domain names lowercased (dedup key) */
	uint32_t name;	/* owner's name id (= final node index) */
	uint32_t rdata; /* offset in the RDATA arena of [RDLENGTH u16 BE][RDATA] */
	uint32_t ttl_s;
	uint32_t line; /* first line of the record in its file */
	uint32_t seq;  /* file order (index at parse time) */
	uint16_t type;
	uint16_t file; /* index in loader_t.files */
} zrec_t;

/** One diagnostic, kept until the end so that all come out in file order. */
typedef struct zerr {
	uint32_t seq; /* record order it belongs to (UINT32_MAX: whole zone) */
	uint32_t ins; /* insertion order: tie-breaker, keeps the sort stable */
	uint32_t line;
	uint16_t file;
	uint16_t col; /* 1-based; 1 when only the record is known */
	char *msg;
} zerr_t;

/** Distinct lowercased names with an id each; its hash table becomes the zone index. */
typedef struct names {
	uint8_t *buf; /* wire names back to back */
	size_t len, cap;
	uint32_t *off;	/* [id] offset in buf */
	uint32_t *hash; /* [id] dname_hash */
	uint32_t *nrec; /* [id] records with this owner */
	uint32_t count, cap_ids;
	uint64_t *table; /* open addressing: slot_make(hash, id), 0 = empty; load <= 0.5 */
	uint32_t mask;
} names_t;

/** What zone->mem points to: every block the zone owns. */
typedef struct zone_mem {
	void *block;	/* nodes[] then rrsets[] */
	uint8_t *rdata; /* all RRsets' RDATA */
	uint8_t *names; /* owner names */
} zone_mem_t;

typedef struct loader {
	zone_t *z;
	names_t names;
	zrec_t *recs;
	size_t nrecs, cap_recs;
	uint8_t *rdata;
	size_t rdata_len, rdata_cap;
	char **files;
	size_t nfiles, cap_files;
	zerr_t *errs;
	size_t nerrs, cap_errs, errs_dropped;
	uint32_t ins;
	uint32_t default_ttl_s;
	unsigned ttl_warnings;
	bool ttl_seen, ttl_missing_warned;
	bool oom, io_error, syntax_error;
	bool wire; /* records given by zone_builder_add(): files[0] names their source
		      and zrec_t.line is the record's number (1-based) in it */
	const struct zone_services *svcs;
	uint32_t *svc_node; /* node id of svcs->names[i] */
	uint32_t occluded;  /* records kept though occluded (svcs->keep_occluded) */
} loader_t;

/** Where diagnostics about an RRset point: its first record in file order. */
typedef struct rrset_src {
	uint32_t first;	 /* index in the sorted record array */
	uint32_t second; /* second record (for "more than one"), or UINT32_MAX */
} rrset_src_t;

/* ---------------------------------------------------- zone_err.c: diagnostics
 * Errors are kept in L (at most 1000, then only counted) and come out in
 * file order. Running out of memory sets L->oom instead of failing. */

/** Adds an error for record number `seq` (UINT32_MAX: the whole zone) at file:line. */
void zerr_add(loader_t *L, uint32_t seq, uint16_t file, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6), nonnull(1, 5)));
/** zerr_add() at the position of a parsed record. */
void zerr_rec(loader_t *L, const zrec_t *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), nonnull(1, 2, 3)));
/** Sets the line and 1-based column of the error just added (if L->nerrs > before). */
void zerr_set_pos(loader_t *L, size_t before, uint32_t line, size_t col) __attribute__((nonnull));
/** Moves the collected errors to diag as "file:line:column: message", in file order. */
void zerr_flush(loader_t *L, diag_t *diag) __attribute__((nonnull(1))); /* diag may be NULL */
/** Presentation form of a wire name into buf[0..cap) (a placeholder if too long). */
void zone_name_str(const uint8_t *name, char *buf, size_t cap) __attribute__((nonnull));

/* --------------------------------------------------- zone_names.c: name table */

/** Creates (empty names_t) or doubles the hash table. SOV_OK or SOV_ENOMEM. */
int names_grow_table(names_t *n) __attribute__((nonnull, warn_unused_result));
/** Id of a lowercased wire name of `len` bytes and dname_hash `h`, or UINT32_MAX. */
uint32_t names_lookup(const names_t *n, const uint8_t *lname, size_t len, uint32_t h)
    __attribute__((nonnull));
/** Finds or adds a lowercased wire name; *id_out gets its id. SOV_OK or SOV_ENOMEM. */
int names_intern(names_t *n, const uint8_t *lname, uint32_t *id_out)
    __attribute__((nonnull, warn_unused_result));
/** Frees the table's memory (blocks moved into a zone are NULL by then). */
void names_free(names_t *n) __attribute__((nonnull));
/** Adds every missing ancestor between an owner and the apex (empty
 * non-terminals, RFC 4592 §2.2.2). SOV_OK or SOV_ENOMEM. */
int names_add_empty_nonterminals(loader_t *L) __attribute__((nonnull, warn_unused_result));

/* ------------------------------------------------- zone_record.c: one record */

/** True if p[0..len) starts with one uncompressed, well-formed wire name
 * (length in *used). */
bool zone_wire_name_ok(const uint8_t *p, size_t len, size_t *used) __attribute__((nonnull));
/** Registers a file name for diagnostics; *id gets its index. SOV_OK or SOV_ENOMEM. */
int zone_file_add(loader_t *L, const char *path, uint16_t *id)
    __attribute__((nonnull, warn_unused_result));
/** Checks a record parsed by ldns and appends it to L, or reports why not
 * (errors and L->oom in L). `line` is its first line in file `file`. */
void record_add(loader_t *L, const ldns_rr *rr, uint16_t file, uint32_t line)
    __attribute__((nonnull));
/** Same for a record parsed by zone_fast_parse(), with its absolute owner
 * (any case) and TTL in seconds. */
void record_add_fast(loader_t *L, const zfast_t *r, const uint8_t *owner, uint32_t ttl_s,
		     uint16_t file, uint32_t line) __attribute__((nonnull));

/** Same for a record given in wire form (zone_builder_add()): `owner` any
 * case, rdata[0..rdlen) uncompressed. The dedup hash lowercases the domain
 * names the type's RDATA holds (the fields ldns parses as names, as for a
 * file); RDATA whose names cannot be located is "malformed RDATA". */
void record_add_rdata(loader_t *L, const uint8_t *owner, uint16_t rclass, uint16_t type,
		      uint32_t ttl_s, const uint8_t *rdata, size_t rdlen, uint32_t line)
    __attribute__((nonnull(1, 2)));

/* ----------------------------------------------------- zone_lint.c: the text */

/** A TTL as BIND and NSD accept it (3600, 1h30m, 2w): value in *v, saturated. */
bool ttl_token_value(const char *t, uint64_t *v) __attribute__((nonnull));
/** True if t (NUL-terminated) is a class mnemonic (IN, CH, HS, CS, CLASSn). */
bool class_token(const char *t) __attribute__((nonnull));
/** class_token() on t[0..n) (not NUL-terminated). */
bool class_token_n(const char *t, size_t n) __attribute__((nonnull));
/** Checks what ldns lets through in the text rec[0..rec_len) of a record it
 * parsed as `rr`; errors go to L at line:column. Returns whether the record
 * spells out its TTL. */
bool record_lint(loader_t *L, const ldns_rr *rr, const char *rec, size_t rec_len, uint16_t file,
		 uint32_t line) __attribute__((nonnull));

/* ----------------------------------------------------- zone_parse.c: the files */

/** Reads one master file (and its $INCLUDEs, up to 8 deep) into L. depth 0 is
 * the zone file itself (registered as file 0 by the caller); from_file and
 * from_line locate the $INCLUDE that named it. origin_in stays the caller's. */
void zone_parse_file(loader_t *L, const char *path, uint16_t from_file, uint32_t from_line,
		     uint32_t depth, const ldns_rdf *origin_in) __attribute__((nonnull));

/* ------------------------------------------------- zone_check.c: the rules */

/** Checks the built zone against the rules of zone.h. recs: the records in
 * node/RRset order, src[i]: where RRset i (in z->nodes order) came from. */
void zone_check(loader_t *L, const zrec_t *recs, const rrset_src_t *src) __attribute__((nonnull));

/* --------------------------------------------------------- zone_build.c */

/** Builds L->z from the parsed records (sort, dedup, layout, tree, checks,
 * SOA serial). SOV_OK, or SOV_ENOMEM; rule violations are errors in L. */
int zone_build(loader_t *L) __attribute__((nonnull, warn_unused_result));

/* ---------------------------------------------------------- zone_index.c */

/** Bisects the node's type-sorted RRsets; *pos (may be NULL) gets the index. */
const zrrset_t *znode_rrset_pos(const znode_t *n, uint16_t type, uint32_t *pos)
    __attribute__((nonnull(1)));

#endif
