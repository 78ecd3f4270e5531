/* update.h — RFC 2136 dynamic update of one zone, as pure functions: no I/O,
 * no locks, no policy (who may change what is the caller's, docs/updates.md).
 *
 *   update_parse → update_prescan (§3.4.1) → update_prereqs (§3.2)
 *                → update_apply (§3.4.2) → a new zone_t (or "nothing changed")
 *
 * The order is the RFC's (§3.1 zone section, §3.2 prerequisites, §3.3
 * permission, §3.4 update): the caller checks its policy (§3.3) between
 * update_prereqs() and update_apply(), walking the update section with
 * update_rr_count()/update_rr_get().
 *
 * Sections of an UPDATE message (RFC 2136 §2): ZOCOUNT (the question
 * count) must be 1, ZTYPE SOA; PRCOUNT is the answer count, UPCOUNT the
 * authority count, ADCOUNT the additional count (records there are
 * ignored, as §3.8 allows, except the OPT and TSIG the caller handles).
 * Names in the message may be compressed, also inside the RDATA of the
 * RFC 1035 types (NS, CNAME, SOA, PTR, MX, ...), as ldns reads them; every
 * record is kept uncompressed.
 */
#ifndef SOV_DNS_UPDATE_H
#define SOV_DNS_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "dns/zone.h"

/* An update section record's meaning (RFC 2136 §2.5). */
enum update_op {
	UPDATE_ADD = 0,	     /* §2.5.1 class IN: add to an RRset */
	UPDATE_DELETE_RRSET, /* §2.5.2 class ANY, type T, TTL 0, no RDATA */
	UPDATE_DELETE_NAME,  /* §2.5.3 class ANY, type ANY, TTL 0, no RDATA */
	UPDATE_DELETE_RR,    /* §2.5.4 class NONE, TTL 0: delete one RR */
};

/** One record of the prerequisite or update section, uncompressed. */
struct update_rr {
	const uint8_t *owner;	    /* wire name as sent (letter case kept) */
	const uint8_t *owner_lower; /* the same, lowercased */
	uint16_t type, rclass;	    /* host order, as sent */
	uint32_t ttl_s;
	const uint8_t *rdata; /* uncompressed RDATA (names in the sender's case) */
	uint16_t rdlen;
	enum update_op op; /* update section only (set by update_prescan) */
};

typedef struct update_msg update_msg_t;

/**
 * Parses the UPDATE message pkt[0..len) (header included, opcode 5; a
 * trailing TSIG is allowed and skipped). SOV_OK and *out (update_free() it);
 * SOV_EMALF when it is not a readable UPDATE (ZOCOUNT != 1, a record
 * running past the end, a bad name, RDATA ldns cannot read): answer
 * FORMERR. SOV_ENOMEM. `why` (may be NULL) gets a one-line reason.
 */
int update_parse(const uint8_t *pkt, size_t len, update_msg_t **out, char *why, size_t cap)
    __attribute__((nonnull(1, 3), warn_unused_result));

void update_free(update_msg_t *u);

/** The zone section: ZNAME lowercased (wire), ZTYPE and ZCLASS in host order. */
const uint8_t *update_zname(const update_msg_t *u) __attribute__((nonnull));
uint16_t update_ztype(const update_msg_t *u) __attribute__((nonnull));
uint16_t update_zclass(const update_msg_t *u) __attribute__((nonnull));

/** Records of the prerequisite (PRCOUNT) and update (UPCOUNT) sections. */
size_t update_prereq_count(const update_msg_t *u) __attribute__((nonnull));
size_t update_rr_count(const update_msg_t *u) __attribute__((nonnull));
/** Record i of the update section (i < update_rr_count); valid until update_free(). */
const struct update_rr *update_rr_get(const update_msg_t *u, size_t i) __attribute__((nonnull));
/** Record i of the prerequisite section. */
const struct update_rr *update_prereq_get(const update_msg_t *u, size_t i) __attribute__((nonnull));
/** Bytes of RDATA in the update section (for the caller's size limits). */
size_t update_rdata_bytes(const update_msg_t *u) __attribute__((nonnull));

/**
 * §3.4.1 prescan of the update section against zone z (whose origin is
 * ZNAME): returns the rcode: NOERROR; NOTZONE (§3.4.1.3: an owner outside
 * z); FORMERR (class neither ZCLASS, ANY nor NONE; class ANY/NONE with TTL
 * != 0 or, for ANY, RDATA; a meta type (ANY only with class ANY), AXFR,
 * IXFR, MAILA, MAILB, OPT, TSIG, TKEY). Sets every record's op. `why`
 * (may be NULL) names the record at fault.
 */
int update_prescan(update_msg_t *u, const zone_t *z, char *why, size_t cap)
    __attribute__((nonnull(1, 2)));

/**
 * §3.2 prerequisites against zone z: NOERROR; FORMERR (§3.2.4: bad class,
 * TTL != 0, RDATA where none belongs); NOTZONE (§3.2: a name outside z);
 * NXDOMAIN (§3.2.1 "name is in use" failed); YXDOMAIN ("name is not in
 * use" failed); NXRRSET ("RRset exists", value independent or dependent,
 * failed: §3.2.3 compares whole RRsets, names in RDATA case-insensitively,
 * TTLs not compared); YXRRSET ("RRset does not exist" failed). A name
 * exists when it owns records (an empty non-terminal or a geo service
 * name without records does not, RFC 2136 §2.4.4 "at least one RR").
 * `why` (may be NULL) names the prerequisite that failed.
 */
int update_prereqs(const update_msg_t *u, const zone_t *z, char *why, size_t cap)
    __attribute__((nonnull(1, 2)));

/** How update_apply() treats the zone's SOA serial. */
struct update_apply_opts {
	/* When the update changed the zone and did not itself raise the SOA
	 * serial: the new serial (RFC 1982 greater than z's; the caller's serial
	 * policy, docs/updates.md). */
	uint32_t next_serial;
	/* The zone's rules and service names: the builder finisher the caller
	 * uses for a file (snapshot_finish_zone); frees b in every case;
	 * SOV_OK and *out, else an error with the problems in diag. */
	int (*finish)(void *arg, zone_builder_t *b, zone_t **out, diag_t *diag);
	void *finish_arg;
};

/**
 * §3.4.2: the update section applied, in order, to z: adds (duplicates
 * ignored, §3.4.2.2; the RRset takes the TTL of the last record added, RFC
 * 2181 §5.2), deletions of RRsets, names and single records, with the
 * special cases of §3.4.2.2-4: a CNAME added where other data exists (or
 * other data where a CNAME is) is ignored; an SOA is replaced only by one
 * of greater serial, never deleted; the apex's NS RRset never becomes
 * empty; at the apex "delete name" and "delete RRset" spare the SOA and NS.
 * When nothing changed, *out is NULL and SOV_OK is returned (§3.4.2.7:
 * still NOERROR). Else *out is the new zone (refs 1) with the SOA serial
 * raised to opts->next_serial unless the update raised it itself; the
 * zone's rules (cuts, glue, CNAME, service names) are checked by
 * opts->finish: SOV_ESEMANTIC with the problems in diag when the result
 * breaks one (the caller answers REFUSED; z is untouched). SOV_ENOMEM.
 */
int update_apply(const update_msg_t *u, const zone_t *z, const struct update_apply_opts *opts,
		 zone_t **out, diag_t *diag)
    __attribute__((nonnull(1, 2, 3, 4), warn_unused_result));

#endif
