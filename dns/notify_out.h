/* notify_out.h — NOTIFY out (RFC 1996): telling secondaries a zone changed.
 *
 * Three parts, the first two pure (bytes and snapshots in, values out) so
 * the unit tests drive them without sockets:
 *
 *   notify_targets_build  whom to NOTIFY for one zone of a snapshot: the
 *                         zone's "notify.also" list and, with "notify.ns",
 *                         the addresses of its NS names found in the data
 *                         we serve (§3.6), minus the SOA MNAME's addresses
 *                         and our own listen addresses, each once;
 *   notify_query_build,   one NOTIFY message (§3.7: opcode 4, AA, the
 *   notify_reply_match    zone's SOA question and the SOA in the answer
 *                         section, as BIND sends it), TSIG-signed when the
 *                         target has a key; and whether a received datagram
 *                         answers it (source address and port, ID, question);
 *   notifier_*            a thread of its own that sends, retries with
 *                         back-off until each target acknowledges, and
 *                         rate-limits the sends. It never reads a snapshot:
 *                         notifier_zone_changed() copies what it needs.
 *
 * Addresses are sov_sockaddr_t (port in network order inside). Times: the
 * TSIG time is Unix seconds; every delay is monotonic milliseconds.
 */
#ifndef SOV_DNS_NOTIFY_OUT_H
#define SOV_DNS_NOTIFY_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/addr.h"
#include "dns/snapshot.h"
#include "dns/tsig.h"
#include "wire/dname.h"

/* Retries. RFC 1996 §3.6 makes the interval and the number of
 * retransmissions operational parameters, with 60 s and 5 as reasonable
 * defaults; we keep the 5 tries but start at 1 s and double each wait up to
 * 16 s: sends at 0, 1, 3, 7 and 15 s, and the target is given up 31 s after
 * the first send. A lost datagram (the usual reason for no answer) costs a
 * second, not a minute; a secondary that is restarting is reached within
 * seconds; one that is down costs five small datagrams and one warning,
 * and its SOA refresh timer still catches up. */
#define NOTIFY_FIRST_RETRY_MS 1000
#define NOTIFY_MAX_RETRY_MS 16000
#define NOTIFY_MAX_TRIES 5

/* At most 20 NOTIFY sends per second across all zones and targets: BIND's
 * default notify-rate, so a reload of many zones does not burst
 * hundreds of datagrams at secondaries (which would each answer with a SOA
 * query and a transfer). Spaced evenly: one send every 50 ms at most. */
#define NOTIFY_SENDS_PER_S 20

/* Largest NOTIFY message: header, question (origin, 4), the SOA RR (origin
 * compressed to 2, 10 bytes of fields, 2 names and 20 bytes of RDATA) and
 * a TSIG record. */
#define NOTIFY_MSG_MAX (12 + DNAME_MAXLEN + 4 + 12 + 2 * DNAME_MAXLEN + 20 + TSIG_RR_MAX)

/** One server to NOTIFY. */
struct notify_target {
	sov_sockaddr_t addr; /* port included (53 for an NS address) */
	bool has_key;	     /* sign with key (else unsigned) */
	struct tsig_key key; /* a copy: the secret is wiped by whoever frees it */
	bool from_ns;	     /* found from the zone's NS names (else "notify.also") */
};

/**
 * The targets of zone number zone_idx of s (zonedb index = config index):
 *   1. each "notify.also" entry, with its key;
 *   2. when "notify.ns" is true, the A and AAAA addresses (port 53) of
 *      each NS name of the zone's apex, looked up in every zone of s
 *      (glue included), except the addresses of the SOA MNAME (the primary
 *      master, RFC 1996 §3.6). Such a target is signed with the key of the
 *      first "transfer.allow" rule of the zone that names a key and whose
 *      networks contain the address (the key the secondary transfers
 *      with), else unsigned. A name we hold no address for is skipped with
 *      a debug log: we never resolve names recursively.
 * Then every address equal (address and port) to one of own[0..own_count)
 * (our listen addresses) is removed, and each address is kept once (the
 * first: "also" entries win). *out is allocated (free() it after wiping
 * the keys with notify_targets_free); *count may be 0 (then *out is NULL).
 * s needs s->xfr (snapshot_build sets it); a zone without data has no
 * targets. Returns SOV_OK or SOV_ENOMEM.
 */
int notify_targets_build(const snapshot_t *s, size_t zone_idx, const sov_sockaddr_t *own,
			 size_t own_count, struct notify_target **out, size_t *count)
    __attribute__((nonnull(1, 5, 6), warn_unused_result));

/** Wipes the keys of targets[0..count) and frees the array (NULL allowed). */
void notify_targets_free(struct notify_target *targets, size_t count);

/** What a NOTIFY says about one zone version: copied by notifier_zone_changed(). */
struct notify_zone {
	const uint8_t *origin;	  /* wire name of the apex */
	uint32_t serial;	  /* the new serial (also in soa_rdata) */
	uint32_t soa_ttl_s;	  /* TTL of the SOA RR sent in the answer section */
	const uint8_t *soa_rdata; /* the SOA RDATA (no RDLENGTH), names uncompressed */
	uint16_t soa_rdata_len;
};

/**
 * Writes into buf[0..cap) the NOTIFY query for z with message ID id
 * (host order): opcode NOTIFY, AA, QUESTION z->origin SOA IN, ANSWER the
 * SOA RR (owner compressed to the question). With key non-NULL the message
 * is signed with it (tsig_sign at time now_s on *ctx, which this
 * initialises and which then holds the request MAC to verify the reply
 * with: release it with tsig_ctx_clear); with key NULL, *ctx is
 * initialised without a key. *len gets the length. SOV_OK, SOV_ESPACE,
 * SOV_EINVAL (RDATA too short for a SOA) or SOV_ESYS (OpenSSL).
 */
int notify_query_build(uint8_t *buf, size_t cap, uint16_t id, const struct notify_zone *z,
		       const struct tsig_key *key, uint64_t now_s, struct tsig_ctx *ctx,
		       size_t *len) __attribute__((nonnull(1, 4, 7, 8), warn_unused_result));

/** How a received datagram relates to a NOTIFY we sent. */
enum notify_match {
	NOTIFY_MATCH_NONE = 0, /* not its answer: another source, port, ID or question,
				  not a reply, not opcode NOTIFY, unreadable */
	NOTIFY_MATCH_REPLY,    /* its answer; *rcode says what it says */
};

/**
 * Whether msg[0..len), received from `from`, answers the NOTIFY with ID id
 * (host order) for origin that was sent to `to`: same address and port, QR
 * set, opcode NOTIFY, same ID, and one question origin/SOA/IN (letter case
 * ignored). An error reply without a question (QDCOUNT 0, some servers
 * answer NOTIMP or FORMERR so) also matches. *rcode gets the rcode (4 bits)
 * of a match. TSIG is not looked at: the caller verifies it next.
 */
enum notify_match notify_reply_match(const uint8_t *msg, size_t len, const struct sockaddr *from,
				     const sov_sockaddr_t *to, uint16_t id, const uint8_t *origin,
				     uint8_t *rcode) __attribute__((nonnull, warn_unused_result));

typedef struct notifier notifier_t;

/** Counters since notifier_new(), read with relaxed atomics. */
struct notifier_stats {
	uint64_t sent;	 /* NOTIFY messages sent, retries included */
	uint64_t acked;	 /* (zone version, target) pairs acknowledged (NOERROR, verified) */
	uint64_t failed; /* pairs given up: no answer after NOTIFY_MAX_TRIES sends, an
			    error rcode (NOTIMP, REFUSED, NOTAUTH, ...), or no socket for
			    the target's address family */
};

/**
 * Creates the notifier and starts its thread. sources[0..source_count)
 * (our listen addresses) choose the source address of each family: the
 * first one of the family that is not a wildcard, with port 0 (any), so
 * secondaries that accept NOTIFY only from their primary's address see
 * the address they transfer from; without one, the kernel chooses. A
 * family whose socket cannot be opened (no IPv6) is logged at debug; its
 * targets then fail. Returns SOV_OK and *out, SOV_ENOMEM or SOV_ESYS.
 */
int notifier_new(const sov_sockaddr_t *sources, size_t source_count, notifier_t **out)
    __attribute__((nonnull(3), warn_unused_result));

/**
 * Queues a NOTIFY of version z of a zone to targets[0..count): copies z
 * (origin, SOA) and the targets with their keys; the caller keeps its own.
 * A version of the same zone (same origin) still being notified is
 * replaced, with its retries: secondaries only care about the newest
 * serial. count 0 only drops such a pending version. Any thread; never
 * blocks for long (one mutex). SOV_OK, SOV_EINVAL (RDATA too short) or
 * SOV_ENOMEM (nothing queued, logged by the caller).
 */
int notifier_zone_changed(notifier_t *n, const struct notify_zone *z,
			  const struct notify_target *targets, size_t count)
    __attribute__((nonnull(1, 2), warn_unused_result));

/** Fills *st. */
void notifier_stats(const notifier_t *n, struct notifier_stats *st) __attribute__((nonnull));

/** What the notifier knows of one zone (GET /v1/zones). */
struct notifier_zone_state {
	bool known;		  /* a version was queued since start (with targets) */
	bool pending;		  /* a version is being notified now */
	uint32_t serial;	  /* that version, or the last one notified to the end */
	size_t targets;		  /* its targets */
	size_t acked, failed;	  /* of those: acknowledged, given up (the rest: trying) */
	int64_t finished_unix_ms; /* when the last one ended; 0 while pending */
};

/** The state of zone `origin` (lowercased wire name) into *out. Any thread. */
void notifier_zone_state(notifier_t *n, const uint8_t *origin, struct notifier_zone_state *out)
    __attribute__((nonnull));

/**
 * Stops the thread (it wakes at once: a pipe, not a timer) and frees
 * everything, wiping the copied keys. Pending NOTIFYs are dropped with an
 * info line saying how many. NULL allowed.
 */
void notifier_free(notifier_t *n);

#endif
