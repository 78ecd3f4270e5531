/* opt.h — our OPT record (EDNS(0), RFC 6891 §6.1.2) with ECS, COOKIE, EXPIRE
 * and NSID options.
 *
 * query_process() reserves opt_size() bytes below the reply limit before
 * writing any record, so that opt_put() always fits.
 */
#ifndef SOV_DNS_OPT_H
#define SOV_DNS_OPT_H

#include <stddef.h>
#include <stdint.h>

#include "dns/snapshot.h"
#include "wire/wire.h"

/** Bytes of the OPT record opt_put() writes for query q (q->has_edns set). */
size_t opt_size(const struct dns_query *q) __attribute__((nonnull, pure));

/**
 * Appends the OPT record at buf[len] and returns the new length: UDP
 * payload snap->edns_payload, extended rcode ext_rcode (upper 8 bits of
 * the 12-bit rcode), DO copied; ECS echoed with scope ecs_scope
 * (RFC 7871 §7.2.1) if q had ECS; the client cookie and server_cookie
 * (COOKIE_SERVER_LEN bytes) if q had a cookie (RFC 7873 §5.2); EXPIRE
 * with expire_s seconds when q had EXPIRE and expire_s >= 0 (RFC 7314 §2:
 * only in SOA, AXFR and IXFR answers of a zone we are authoritative for).
 */
size_t opt_put(uint8_t *buf, size_t len, const snapshot_t *snap, const struct dns_query *q,
	       uint8_t ext_rcode, uint8_t ecs_scope, const uint8_t *server_cookie, int64_t expire_s)
    __attribute__((nonnull));

/**
 * Bytes the NSID option (RFC 5001 §2.3) adds to our OPT for query q: 4 +
 * the identity when q asked (an NSID option, its data ignored) and
 * snap->nsid is on; else 0. Kept apart from opt_size() so that transfers
 * (xfr_out.c) do not carry it.
 */
size_t opt_nsid_size(const snapshot_t *snap, const struct dns_query *q)
    __attribute__((nonnull, pure));

/**
 * Appends the NSID option with snap->identity to the OPT record that
 * opt_put() wrote at buf[opt_at] and that ends at buf[len] (the last thing
 * in the message), adding to its RDLENGTH; returns the new length. The
 * caller reserved opt_nsid_size() bytes.
 */
size_t opt_add_nsid(uint8_t *buf, size_t opt_at, size_t len, const snapshot_t *snap)
    __attribute__((nonnull));

#endif
