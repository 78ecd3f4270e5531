/* xfr_out.h — the messages of one outgoing zone transfer.
 *
 * AXFR (RFC 5936 §2.2): the zone's SOA, every other record of the zone
 * (glue included, in node order), the SOA again; as many messages as it
 * takes, each at most 16 KiB (the reach of a compression pointer, so every
 * name can be compressed) unless one record alone needs more. The first
 * message carries the question, later ones none (§2.2.1 allows both).
 *
 * IXFR (RFC 1995 §4) whose client serial the zone's journal holds
 * (st->journal): our SOA, then for each step from the client's serial on
 * SOA(old), the records deleted, SOA(new), the records added, then our SOA
 * again (the sequential form, not condensed). One that no journal can
 * answer gets the same full zone as AXFR (§4: "the entire zone is
 * returned", SOA first and last).
 *
 * A geo service's node also carries, after its own RRsets, static A and
 * AAAA RRsets: the public addresses of every datacenter of the service, with
 * the service's TTL (docs/transfers.md, "Services in a transfer").
 *
 * When the request was signed, every message is signed (RFC 8945 §5.3.1),
 * the first chaining the request's MAC. When it had EDNS, every message
 * has an OPT record (RFC 5936 §2.2.5 does not forbid it; Knot and BIND do
 * the same).
 *
 * A transfer holds a reference to its snapshot (snapshot_ref), so a
 * reload during it changes nothing it sends: the secondary gets the
 * version whose serial it saw first. It reads only the zone, the keys and
 * the configuration, never the live health or admin tables.
 *
 * Not thread-safe: one transfer is driven by one thread at a time (the
 * transfer thread of its TCP connection, dns/tcp.c; the worker that owns the
 * connection frees it once that thread has ended).
 */
#ifndef SOV_DNS_XFR_OUT_H
#define SOV_DNS_XFR_OUT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/cookie.h"
#include "dns/journal.h"
#include "dns/snapshot.h"
#include "dns/tsig.h"
#include "dns/zone.h"

/* Largest message we aim for: a compression pointer reaches 16 KiB. */
#define XFR_MSG_TARGET 16383
/* Largest message at all (TCP length prefix). */
#define XFR_MSG_MAX 65535

/** What the answer path decided when it accepted a transfer request. */
struct xfr_start {
	const zone_t *zone;
	bool ixfr;		  /* asked for IXFR */
	const journal_t *journal; /* IXFR answered with differences: the zone's journal
				     (borrowed from the snapshot); NULL: the full zone */
	size_t jfirst;		  /* the journal entry that starts at the client's serial */
	uint32_t client_serial;	  /* IXFR: the serial the client has */
	bool tsig_on;		  /* the request was signed and verified: sign every message */
	struct tsig_ctx tsig;	  /* after tsig_verify_request() (key in the snapshot) */
	uint8_t cookie[COOKIE_SERVER_LEN]; /* the server cookie for our OPT */
	_Atomic uint32_t *slot;		   /* the concurrency counter it holds one unit of;
					      released by xfr_out_free() (NULL: none) */
};

struct xfr_out;

/**
 * Starts the transfer `st` of snapshot snap for the query q[0..qlen) from
 * `client`. Call inside the snapshot read lock (it takes a reference).
 * Takes over st->slot. Returns NULL when out of memory (the slot and
 * reference are released).
 */
struct xfr_out *xfr_out_new(const snapshot_t *snap, const struct xfr_start *st,
			    const struct sockaddr *client, const uint8_t *q, size_t qlen)
    __attribute__((nonnull(1, 2, 4), warn_unused_result));

/**
 * Writes the next message into buf[0..cap) (cap >= 65535) and returns its
 * length; 0 when the transfer is over (xfr_out_failed() tells how). now_s
 * is Unix time for TSIG; mono_ms a monotonic clock for max_time_s.
 */
size_t xfr_out_next(struct xfr_out *x, uint8_t *buf, size_t cap, int64_t now_s, int64_t mono_ms)
    __attribute__((nonnull, warn_unused_result));

/** True once every message is written (or the transfer failed). */
bool xfr_out_over(const struct xfr_out *x) __attribute__((nonnull));

/** True once the transfer stopped before its last SOA (time cap, a record that
 * cannot be written, signing failed): the connection should be closed. */
bool xfr_out_failed(const struct xfr_out *x) __attribute__((nonnull));

/** Stops x before its end for a reason of the connection's (why: a static
 * string for the log and xfr_out_failed(), e.g. the client stopped reading). */
void xfr_out_stop(struct xfr_out *x, const char *why) __attribute__((nonnull));

/** Frees x (NULL allowed): releases the slot and the snapshot reference, logs the outcome. */
void xfr_out_free(struct xfr_out *x);

#endif
