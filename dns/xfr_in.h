/* xfr_in.h — reading one incoming zone transfer, message by message.
 *
 * A secondary asks its primary for AXFR (RFC 5936) or IXFR (RFC 1995) and
 * feeds every message of the reply here, in order, after TSIG verification
 * (dns/xfr_client.c does the sockets and TSIG). Each message is checked:
 * QR set, the query's ID, opcode QUERY, TC clear, rcode NOERROR, at most one
 * question and then the zone's, every answer record of class IN, owned at or
 * below the zone's origin, not a meta type; nothing after the last SOA.
 *
 * The reply forms recognised (RFC 1995 §4, RFC 5936 §2.2):
 *   SOA(S) alone, S not newer than ours      up to date: nothing written
 *   SOA(S) records... SOA(S)                 the whole zone (AXFR, or an
 *                                            IXFR answered AXFR-style)
 *   SOA(S) SOA(ours) dels SOA(v1) adds       differences, applied to our
 *        [SOA(v1) dels SOA(v2) adds]... SOA(S)   copy (have_path)
 * A difference that deletes a record we do not have, or adds one we have,
 * fails the transfer (the caller retries with AXFR, as BIND does).
 *
 * The result of a full zone (AXFR, or IXFR answered AXFR-style) goes, as
 * each record is received, into the zone builder `build` when one is given
 * (dns/zone.h: the file's rules, no text in between; `out` is not written
 * then), else to the master file `out`. The result of an incremental reply
 * is the master file `out`, or, with `build` and `have_zone`, the records of
 * have_zone minus the deletions plus the additions, into `build` (only the
 * differences are held in memory). The file has one record per line in
 * ldns presentation form, SOA first, ready for zone_load(): the caller
 * validates it (or finishes the builder) by the same rules as an
 * operator's file before serving it. A full transfer into `out` is
 * streamed (memory does not grow with the zone); an incremental one holds
 * our copy in memory while applying.
 *
 * Records of type A and AAAA whose owner is one of skip_names (the geo
 * service names of this zone: a sovdns primary sends them as static sets,
 * we answer them from our own geo configuration) are left out.
 *
 * Not thread-safe; one object per transfer.
 */
#ifndef SOV_DNS_XFR_IN_H
#define SOV_DNS_XFR_IN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A zone larger than this is refused (a primary that never ends): ten
 * times the largest zone we benchmark. */
#define XFR_IN_DEFAULT_MAX_RECORDS 10000000u

struct zone_builder;

struct xfr_in_params {
	const uint8_t *origin;		  /* lowercased wire name of the zone */
	uint16_t qtype;			  /* DNS_TYPE_AXFR or DNS_TYPE_IXFR */
	uint16_t id;			  /* the query's message ID */
	uint32_t have_serial;		  /* IXFR: the serial we hold */
	const char *have_path;		  /* IXFR: the master file of that version */
	const uint8_t *const *skip_names; /* lowercased wire names (may be NULL) */
	size_t skip_count;
	uint64_t max_records;	      /* 0: XFR_IN_DEFAULT_MAX_RECORDS */
	FILE *out;		      /* where the zone is written; not closed. NULL allowed
					 with `build` and no have_path (AXFR) */
	struct zone_builder *build;   /* full zones go here (NULL: to out); the
					 caller finishes or frees it */
	const struct zone *have_zone; /* IXFR with build: the zone we serve at
					 have_serial (must outlive x); the
					 differences are applied to its records
					 into build instead of to have_path into
					 out (NULL: the file way) */
};

enum xfr_in_status {
	XFR_IN_MORE = 0, /* feed the next message */
	XFR_IN_DONE,	 /* complete: see xfr_in_kind() */
	XFR_IN_FAILED,	 /* see xfr_in_error(), xfr_in_rcode() */
};

enum xfr_in_kind {
	XFR_IN_NONE = 0,
	XFR_IN_UPTODATE,    /* the primary's serial is not newer than ours */
	XFR_IN_FULL,	    /* the whole zone came */
	XFR_IN_INCREMENTAL, /* differences came and were applied */
};

struct xfr_in;

/** A reader for one transfer; p is copied (its pointers must outlive x). NULL: no memory. */
struct xfr_in *xfr_in_new(const struct xfr_in_params *p)
    __attribute__((nonnull, warn_unused_result));

/**
 * Feeds the next message msg[0..len) (its TSIG record already verified and
 * removed, or none). XFR_IN_MORE, XFR_IN_DONE (the file is complete and
 * flushed), or XFR_IN_FAILED (the file is partial: discard it). After DONE
 * or FAILED every further call returns the same.
 */
enum xfr_in_status xfr_in_feed(struct xfr_in *x, const uint8_t *msg, size_t len)
    __attribute__((nonnull));

/** Why the transfer failed (a sentence, no final period), or "" . */
const char *xfr_in_error(const struct xfr_in *x) __attribute__((nonnull));

/** The rcode of a reply that carried an error rcode (then FAILED), else 0. */
unsigned xfr_in_rcode(const struct xfr_in *x) __attribute__((nonnull));

/** What the reply was, once DONE. */
enum xfr_in_kind xfr_in_kind(const struct xfr_in *x) __attribute__((nonnull));

/** The primary's serial (the first SOA), once seen. */
uint32_t xfr_in_serial(const struct xfr_in *x) __attribute__((nonnull));

/** Records written (DONE) or received so far. */
uint64_t xfr_in_records(const struct xfr_in *x) __attribute__((nonnull));

/** Messages fed so far. */
unsigned xfr_in_messages(const struct xfr_in *x) __attribute__((nonnull));

/** Frees x (NULL allowed). */
void xfr_in_free(struct xfr_in *x);

#endif
