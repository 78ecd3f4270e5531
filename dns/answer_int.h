/* answer_int.h — private to the answer path (dns/answer*.c, dns/lookup.c).
 *
 * Layers, each using only the ones below it:
 *   answer.c          query_process(): the envelope (limits, rcodes, OPT, TSIG, header)
 *   lookup.c          RFC 1034 §4.3.2 in one zone, additional section
 *   answer_service.c  geo services: health/admin state, geo_select(), the A/AAAA records
 *   answer_xfr.c      AXFR/IXFR requests: rcodes, the ACL, the go-ahead for xfr_out.c
 *   answer_notify.c   NOTIFY received for a secondary zone
 *   answer_update.c   UPDATE: the cheap rcodes, the go-ahead for the update hook
 *   reply.c, opt.c, cookie.c, tsig_err.c   writers with no knowledge of struct answer
 */
#ifndef SOV_DNS_ANSWER_INT_H
#define SOV_DNS_ANSWER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/answer.h"
#include "dns/cookie.h"
#include "dns/reply.h"
#include "dns/tsig.h"
#include "dns/zone.h"
#include "geo/geo.h"
#include "wire/wire.h"

/* Names whose A/AAAA we add to the additional section, at most. */
#define ADDITIONAL_MAX 32

/* The state of one answer being built. */
struct answer {
	struct reply r;
	const snapshot_t *snap;
	const struct sockaddr *client;
	struct query_stats *stats;
	const zone_t *zone;
	const struct dns_query *q;
	const uint8_t *pkt; /* the query as received, pkt_len bytes */
	size_t pkt_len;
	const struct tsig_key *tsig_key; /* the request was signed with it and verified */
	const struct tsig_ctx *tsig_ctx; /* then: the state to sign replies with */
	uint8_t tsig_rcode;		 /* NOTAUTH or FORMERR when TSIG failed, else 0 */
	uint8_t ecs_scope;		 /* SCOPE PREFIX-LENGTH for the reply's ECS option */
	bool cookie_valid; /* the query presented a server cookie we issued, still fresh */
	enum geo_outcome svc_outcome;	   /* of the latest service selection */
	uint8_t cookie[COOKIE_SERVER_LEN]; /* server cookie for the reply */
	enum dns_transport transport;
	uint8_t rcode;
	bool aa;
	bool tc;			      /* a required section did not fit */
	const znode_t *extra[ADDITIONAL_MAX]; /* nodes whose addresses go to additional */
	unsigned extra_n;
	bool extra_required[ADDITIONAL_MAX]; /* referral glue (RFC 9471) */
	/* SVCB or HTTPS: the node is the target of an AliasMode record of that
	 * type, whose RRset there goes to additional too (RFC 9460 §4.1); 0: none */
	uint16_t extra_follow[ADDITIONAL_MAX];
	const znode_t *svcb_node; /* the node whose SVCB/HTTPS is the answer: an
				     AliasMode loop back to it adds nothing */
};

/**
 * Builds the answer for the zone a->zone (set, a->q a parsed query in it),
 * RFC 1034 §4.3.2 steps 3-6: answer and authority sections, rcode, AA, TC;
 * queues the names whose addresses go to the additional section.
 */
void answer_zone(struct answer *a, uint16_t qtype) __attribute__((nonnull));

/** Writes the additional section queued by answer_zone() (RFC 1034
 * §4.3.2 step 6; TC only for missing referral glue, RFC 9471). */
void answer_additionals(struct answer *a) __attribute__((nonnull));

/**
 * Writes the A or AAAA (qtype) records of geo service svc under owner (or
 * the pointer ptr when non-zero) to the answer section: the datacenters
 * geo_select() chooses for the client (ECS, else the source address).
 * Returns the number of records written (0: NODATA, or TC set).
 */
unsigned answer_service(struct answer *a, uint32_t svc, const uint8_t *owner, uint16_t ptr,
			uint16_t qtype) __attribute__((nonnull(1, 3), warn_unused_result));

/**
 * Answers an AXFR or IXFR request a->q (answer_xfr.c has the table of
 * outcomes): an rcode, our SOA alone, or ctx->last.xfr_pending with
 * ctx->last.xfr filled for the transport to stream.
 */
void answer_transfer(struct answer *a, struct query_ctx *ctx) __attribute__((nonnull));

/** A NOTIFY (RFC 1996) for a secondary zone: rcode and AA (answer_notify.c). */
void answer_notify(struct answer *a) __attribute__((nonnull));

/**
 * An UPDATE (RFC 2136) that parsed and whose TSIG, if any, verified: the
 * rcodes decided without the zone's data (answer_update.c), or
 * ctx->last.update_pending for the transport to call snap->update.
 */
void answer_update(struct answer *a, struct query_ctx *ctx) __attribute__((nonnull));

#endif
