/* xfr_client.h — a secondary's side of the wire: SOA checks and transfers
 * from one primary, blocking, with timeouts (RFC 1034 §4.3.5, RFC 5936
 * §4.1, RFC 1995).
 *
 * Every query has a random ID (libsodium's randombytes) and, when the
 * primary has a key, is signed (RFC 8945); then every reply must verify:
 * an unsigned or wrongly signed reply is a failure, never data. Calls block
 * the calling thread (the secondary engine's own thread, never a DNS
 * worker) for at most their timeouts.
 */
#ifndef SOV_DNS_XFR_CLIENT_H
#define SOV_DNS_XFR_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "dns/tsig.h"
#include "dns/xfr_in.h"

/* Per message: how long we wait for the next bytes from a primary (Knot's
 * and BIND's idle timeouts are 10 s to 60 s; a working primary sends a
 * message in milliseconds). */
#define XFR_CLIENT_IO_TIMEOUT_MS 10000

struct xfr_peer {
	sov_sockaddr_t addr;	      /* the primary (port included) */
	const struct tsig_key *key;   /* sign with it and require it; NULL: unsigned */
	int timeout_ms;		      /* per exchange or per message; 0: XFR_CLIENT_IO_TIMEOUT_MS */
	const sov_sockaddr_t *source; /* bind to this address (port 0: any) before
					 connecting, so the primary's ACL sees the
					 address we serve on; NULL: the kernel's choice */
};

/**
 * Asks p for the SOA serial of `origin` (lowercased wire name): UDP, once
 * more over TCP when the reply is truncated. The query carries an empty
 * EDNS EXPIRE option; *expire gets the value the reply's EXPIRE option
 * carries (RFC 7314 §4: a primary that is itself a secondary says how long
 * its copy stays valid), or -1. The reply must be NOERROR with AA and the
 * zone's SOA in its answer section. SOV_OK and *serial, or
 * SOV_EIO (no answer in time, network error) / SOV_EINVAL (a wrong or
 * unverifiable reply) with a reason in err.
 */
int xfr_client_soa(const struct xfr_peer *p, const uint8_t *origin, uint32_t *serial,
		   int64_t *expire, char *err, size_t errcap)
    __attribute__((nonnull, warn_unused_result));

/**
 * Runs one transfer over TCP: ip->qtype AXFR, or IXFR from ip->have_serial;
 * ip->id is set here. Every message goes through TSIG verification (when
 * p->key) and xfr_in_feed(); the whole transfer may take max_ms at most.
 * SOV_OK (then *x is DONE: see xfr_in_kind) or an error with a reason in
 * err; *rcode is the primary's error rcode, if it sent one (else 0).
 * *records counts what came.
 */
int xfr_client_transfer(const struct xfr_peer *p, struct xfr_in_params *ip, int64_t max_ms,
			enum xfr_in_kind *kind, uint32_t *serial, uint64_t *records,
			unsigned *rcode, char *err, size_t errcap)
    __attribute__((nonnull, warn_unused_result));

/**
 * Makes every wait of every call above, running or to come, give up at
 * once (within 200 ms) with SOV_EIO: for shutting down during a long
 * transfer. Irreversible; any thread.
 */
void xfr_client_stop(void);

/**
 * Builds a query for origin/qtype with ID id into buf[0..cap); for IXFR an
 * authority SOA carrying `serial` (RFC 1995 §3); for SOA an OPT record with
 * an empty EXPIRE option (RFC 7314). Returns its length, or 0
 * when cap is too small.
 */
size_t xfr_client_query(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *origin,
			uint16_t qtype, uint32_t serial) __attribute__((nonnull));

#endif
