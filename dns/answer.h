/* answer.h — the answer path: one query in, one reply out.
 *
 * query_process() is a pure function of the snapshot, the client address
 * and the query bytes: no socket, no lock, no allocation. UDP, TCP, the
 * unit tests and the fuzzers all drive it.
 *
 * Implements RFC 1034 §4.3.2 (lookup, CNAME, referral), RFC 2181 (§5.2
 * RRset TTLs, §9 TC), RFC 2308 (negative answers), RFC 4592 (wildcards),
 * RFC 6891 (EDNS0), RFC 8482 (minimal ANY), RFC 1035 §4.1.4 (compression),
 * RFC 6672 (DNAME), RFC 9460 §4.1 (SVCB/HTTPS additional data), RFC 5001
 * (NSID).
 */
#ifndef SOV_DNS_ANSWER_H
#define SOV_DNS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/snapshot.h"
#include "dns/xfr_out.h"
#include "geo/geo.h"

enum dns_transport { DNS_UDP = 0, DNS_TCP = 1 };

/** Per-worker counters (no atomics: each worker owns its own; readers tolerate tearing). */
struct query_stats {
	uint64_t queries[2]; /* by transport */
	uint64_t rcode[17];  /* replies by rcode (index 16 = BADVERS) */
	uint64_t dropped;    /* no reply sent (QR set, runt) */
	uint64_t truncated;  /* UDP replies with TC set */
	uint64_t referrals;
	uint64_t nodata;
	uint64_t service_answers; /* A/AAAA answers chosen from datacenters */
	uint64_t fail_open;	  /* of which: no usable datacenter, on_all_down applied */
	uint64_t rrl_dropped;	  /* UDP replies withheld by rate limiting */
	uint64_t rrl_slipped;	  /* UDP replies sent truncated by rate limiting */
	uint64_t xfr_refused;	  /* AXFR/IXFR refused by transfer.allow (REFUSED) */
	uint64_t xfr_busy;	  /* AXFR/IXFR turned away at transfers.max_concurrent */
};

/** What the transport needs to know about the reply just built. */
struct query_last {
	uint16_t question_end; /* bytes of header + question in the reply */
	uint8_t rrl_category;  /* enum rrl_category */
	bool cookie_valid;     /* the client presented a valid server cookie */
	bool xfr_pending;      /* a zone transfer was accepted: the reply is empty
				  (returned length 0) and `xfr` says what to send;
				  the transport owns xfr.slot from now on */
	struct xfr_start xfr;
	bool update_pending; /* an UPDATE worth processing: the reply is empty
				(returned length 0); the transport, after leaving
				the read lock, calls update_fn(update_arg, ...)
				with the same query for the reply */
	size_t (*update_fn)(void *arg, const struct sockaddr *client, bool over_udp,
			    const uint8_t *q, size_t qlen, uint8_t *reply, size_t cap);
	void *update_arg;
};

/** Per-worker context: scratch and counters; zero-initialise before first use. */
struct query_ctx {
	struct query_stats stats;
	struct query_last last; /* about the latest query_process() call */
	/* Transfers out running now, shared by every worker (the server's
	 * counter); NULL: this transport cannot stream, transfers get SERVFAIL. */
	_Atomic uint32_t *xfr_active;
};

/** Largest reply we ever build (TCP). */
#define DNS_REPLY_MAX 65535

/**
 * Answers the query in q[0..qlen) from snapshot snap for client `client`
 * (may be NULL in tests) over `transport`, writing the reply to reply[0..cap).
 * cap must be >= 512 (UDP) and should be DNS_REPLY_MAX for TCP; the UDP
 * size limit applied is min(client's EDNS size (512 without EDNS, at least
 * 512), snap->edns_payload). Returns the reply length, or 0 to send nothing.
 */
size_t query_process(struct query_ctx *ctx, const snapshot_t *snap, const struct sockaddr *client,
		     enum dns_transport transport, const uint8_t *q, size_t qlen, uint8_t *reply,
		     size_t cap) __attribute__((nonnull(1, 2, 7), warn_unused_result));

/**
 * The datacenter choice for service `svc` of snap and `client` (NULL:
 * location unknown), exactly as the DNS path makes it: live health and
 * admin state, geo_select(), on_all_down. Fills *res and the TTL the
 * answer carries (*ttl_s: ttl, or ttl_when_down while degraded).
 * For the API's "what would you answer". SOV_OK or SOV_EINVAL.
 */
int answer_service_select(const snapshot_t *snap, size_t svc, const struct geo_client *client,
			  uint16_t qtype, struct geo_result *res, uint32_t *ttl_s)
    __attribute__((nonnull(1, 5, 6), warn_unused_result));

/**
 * The state bytes the answer path gives geo_select() for service svc of
 * snap right now (live health and admin state by the rule of geo/usable.h):
 * state[dc] for each of the service's datacenters, 0 for the others; state
 * has room for geo_dc_count() bytes (GEO_DC_MAX is enough). For the API's
 * "in_answers" (geo_service_names_dc). SOV_OK or SOV_EINVAL.
 */
int answer_service_dc_state(const snapshot_t *snap, size_t svc, uint8_t *state)
    __attribute__((nonnull, warn_unused_result));

/**
 * Whether some answer of snap may name datacenter dc right now: for one of
 * its services, geo_service_names_dc() over answer_service_dc_state().
 * The API's "in_answers" and the sovdns_dc_in_answers metric.
 */
bool answer_dc_in_answers(const snapshot_t *snap, size_t dc) __attribute__((nonnull));

#endif
