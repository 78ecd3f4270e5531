/* answer_notify.c — a NOTIFY received (RFC 1996 §3), as a secondary.
 *
 *   QTYPE not SOA                                 FORMERR (§3.7: only SOA is defined)
 *   a name that is not a zone's apex              NOTAUTH (we are not a server of it)
 *   a zone we are primary of                      REFUSED (nobody NOTIFYs a primary)
 *   the source address is none of the zone's
 *   primaries, or unsigned / signed with another
 *   key where the primary has one                 REFUSED (RFC 1996 §4.7 "ignore";
 *                                                 an answer tells a misconfigured peer)
 *   else                                          NOERROR, AA, the question echoed
 *                                                 (§3.7, §4.7), and the secondary
 *                                                 engine is told to check the SOA now
 * The source port is not compared: a NOTIFY comes from any port (§3.1).
 * Over UDP and TCP alike; signed replies when the NOTIFY was signed.
 */
#include <string.h>

#include "common/addr.h"
#include "common/log.h"
#include "dns/answer_int.h"
#include "dns/xfr_conf.h"
#include "dns/zonedb.h"
#include "wire/dname.h"
#include "wire/wire.h"

static void refused(struct answer *a, const char *zone, const char *why)
{
	char client[ADDR_STR_MAX] = "(unknown)";
	if (a->client != NULL)
		addr_format(a->client, client, sizeof(client));
	LOG_RATELIMITED(1, log_info("xfr", "NOTIFY of %s from %s refused: %s", zone, client, why));
	a->rcode = DNS_RCODE_REFUSED;
}

void answer_notify(struct answer *a)
{
	const snapshot_t *snap = a->snap;
	const struct dns_query *q = a->q;
	if (q->qtype != DNS_TYPE_SOA) {
		a->rcode = DNS_RCODE_FORMERR;
		return;
	}
	const zone_t *z = zonedb_find(snap->zones, q->qname_lower);
	if (z == NULL || !dname_equal(z->origin, q->qname_lower)) {
		a->rcode = DNS_RCODE_NOTAUTH;
		return;
	}
	size_t idx = zonedb_index(snap->zones, z);
	const struct xfr_zone *xz =
	    snap->xfr != NULL && idx < snap->xfr->zone_count ? &snap->xfr->zones[idx] : NULL;
	if (xz == NULL || xz->primary_count == 0) {
		refused(a, z->origin_str, "we are the zone's primary");
		return;
	}
	bool from_primary = false;
	for (size_t i = 0; a->client != NULL && i < xz->primary_count; i++) {
		const struct xfr_remote *r = &xz->primaries[i];
		if (!addr_same(a->client, &r->addr, false)) /* any source port (RFC 1996 §3.1) */
			continue;
		from_primary = true;
		if (r->key < 0 || a->tsig_key == &snap->xfr->keys[r->key]) {
			a->aa = true;
			if (snap->notify_in != NULL)
				snap->notify_in(snap->notify_arg, idx);
			return;
		}
	}
	refused(a, z->origin_str,
		from_primary ? "not signed with the primary's key"
			     : "the address is none of the zone's primaries");
}
