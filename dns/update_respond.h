/* update_respond.h — answering an RFC 2136 UPDATE end to end: the TSIG
 * check, the zone section, prerequisites, the permission check of the
 * zone's policy (dns/update_conf.h), the update itself, the limits, the
 * durable commit, and the signed reply (docs/updates.md).
 *
 * The answer path (answer_update.c) only decides that an UPDATE is worth
 * processing and hands it to the transport, which calls the snapshot's
 * update hook outside the read lock; the daemon's hook takes its reload
 * lock and calls update_respond() with what only it can do (commit,
 * admission) in struct update_env.
 *
 * rcodes (RFC 2136 §3, RFC 8945 §5.2):
 *   FORMERR   unreadable message, ZOCOUNT != 1, ZTYPE not SOA, a bad record
 *   NOTAUTH   not a zone of ours; a TSIG that fails (with its TSIG error)
 *   REFUSED   unsigned, a key or a record the policy does not grant, a
 *             secondary zone, a geo service name, a limit, a replay, the
 *             rate, a result that breaks the zone's rules (CNAME and other
 *             data, data below a cut)
 *   NOTZONE   a prerequisite or update record outside the zone (§3.4.1.3)
 *   NXDOMAIN, YXDOMAIN, NXRRSET, YXRRSET   a prerequisite failed (§3.2)
 *   SERVFAIL  the update could not be written (nothing changed)
 *   NOERROR   applied and on disk (or nothing to change, §3.4.2.7)
 */
#ifndef SOV_DNS_UPDATE_RESPOND_H
#define SOV_DNS_UPDATE_RESPOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/answer.h"
#include "dns/snapshot.h"
#include "dns/tsig.h"
#include "dns/zone.h"

struct update_env {
	/* Records nz (taken, in every case), the zone number zone_idx of s after
	 * an accepted update, durably, and publishes it; SOV_OK, else an error
	 * with `why` (the reply is SERVFAIL and nothing changed). */
	int (*commit)(void *arg, const snapshot_t *s, size_t zone_idx, zone_t *nz, char *why,
		      size_t cap);
	/* After the TSIG check: whether this update may go on (the zone's rate,
	 * a replayed request): 0, or REFUSED with `why`. NULL: always. */
	int (*admit)(void *arg, const snapshot_t *s, size_t zone_idx, const struct tsig_rr *rr,
		     uint64_t now_s, char *why, size_t cap);
	/* Bytes of RDATA the zone's dynamic data holds now (for
	 * max_dynamic_bytes); NULL: 0. */
	size_t (*dynamic_bytes)(void *arg, const uint8_t *origin);
	void *arg;
};

/**
 * Answers the UPDATE q[0..qlen) from `client` (NULL allowed in tests)
 * against snapshot s, which must stay current during the call (the caller
 * holds the lock every publisher takes). Writes the reply to
 * reply[0..cap) (cap >= 512; over_udp: at most the client's EDNS payload
 * size, 512 without EDNS) and returns its length; 0 for a message
 * that gets no reply (a response, a runt). Logs every outcome but the
 * FORMERR of garbage (rate-limited).
 */
size_t update_respond(const snapshot_t *s, const struct update_env *env,
		      const struct sockaddr *client, bool over_udp, const uint8_t *q, size_t qlen,
		      uint8_t *reply, size_t cap)
    __attribute__((nonnull(1, 2, 5, 7), warn_unused_result));

/**
 * The serial an update gives zone serial `serial` (docs/updates.md,
 * "Serials"): serial + 1 in RFC 1982 arithmetic, skipping 0 (which some
 * tools take for "unset"). */
uint32_t update_next_serial(uint32_t serial) __attribute__((const));

#endif
