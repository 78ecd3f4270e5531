/* xfr_walk.h — the records of a zone as a transfer sends them.
 *
 * One walk, used by AXFR (xfr_out.c) and by the journal's differences
 * (journal.c), so that an IXFR moves a secondary to exactly what an AXFR of
 * the new version would have given it: node by node (nodes[] order),
 * RRset by RRset (type order), the apex SOA left out (a transfer sends it
 * first and last itself); a geo service's node carries, after its own
 * RRsets, static A and AAAA RRsets: the public addresses of every
 * datacenter of the service, once each, in the service's order, with the
 * service's TTL (docs/transfers.md, "Services in a transfer").
 *
 * The cursor is a plain struct the caller owns; it allocates only the
 * buffer a service RRset is rendered into (grown, kept until
 * xfr_walk_clear()). Not thread-safe; reads only the zone and the geo
 * context, never the live health or admin tables.
 */
#ifndef SOV_DNS_XFR_WALK_H
#define SOV_DNS_XFR_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/zone.h"
#include "geo/geo.h"

struct xfr_walk {
	const zone_t *zone;   /* borrowed */
	const geo_ctx_t *geo; /* borrowed; NULL: no services */
	uint32_t node;	      /* node index of the current RRset */
	uint32_t rrset;	      /* RRset index in the node (rrset_count: A, +1: AAAA) */
	uint8_t *svc_rdata;   /* owned: the service RRset last rendered */
	size_t svc_cap;
};

/** Starts a walk over zone z with the services of geo g (NULL allowed). */
void xfr_walk_init(struct xfr_walk *w, const zone_t *z, const geo_ctx_t *g)
    __attribute__((nonnull(1, 2)));

/**
 * The RRset at the cursor, without moving it: 1 with *owner (lowercased
 * wire name, the zone's memory) and *rs (a service RRset's RDATA lives in
 * the walk's buffer until the next call); 0 at the end of the zone;
 * SOV_ENOMEM when a service RRset could not be rendered. Calling it again
 * without xfr_walk_advance() gives the same RRset.
 */
int xfr_walk_peek(struct xfr_walk *w, const uint8_t **owner, zrrset_t *rs)
    __attribute__((nonnull, warn_unused_result));

/** Moves the cursor past the RRset xfr_walk_peek() gave. */
void xfr_walk_advance(struct xfr_walk *w) __attribute__((nonnull));

/** Frees the walk's buffer (the walk may be started again). */
void xfr_walk_clear(struct xfr_walk *w) __attribute__((nonnull));

#endif
