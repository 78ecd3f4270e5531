/* answer_update.c — an UPDATE (RFC 2136) on the answer path: only what can
 * be decided from the snapshot without touching the zone's data, so that
 * garbage and strangers never reach the daemon's lock or the disk.
 *
 *   ZTYPE not SOA                            FORMERR (§3.1.1)
 *   zone section not the apex of a zone of
 *   ours, or a class other than IN           NOTAUTH (§3.1.2)
 *   a secondary zone of ours                 REFUSED (we do not forward)
 *   a zone without an "update" section       REFUSED
 *   unsigned, or signed with a key no rule
 *   of the zone names                        REFUSED (§3.3)
 *   else                                     update_pending: the transport
 *                                            calls snap->update
 *
 * A TSIG that failed never gets here: query_process answers NOTAUTH with
 * the TSIG error first (RFC 8945 §5.2). update_respond() checks all of
 * this again under the daemon's lock, against the snapshot current then.
 */
#include "common/addr.h"
#include "common/log.h"
#include "dns/answer_int.h"
#include "dns/update_conf.h"
#include "dns/xfr_conf.h"
#include "dns/zonedb.h"
#include "wire/dname.h"
#include "wire/wire.h"

static void refused(struct answer *a, const zone_t *z, const char *why)
{
	char client[ADDR_STR_MAX] = "(unknown)";
	if (a->client != NULL)
		addr_format(a->client, client, sizeof(client));
	LOG_RATELIMITED(1, log_info("update", "zone %s: update from %s: REFUSED: %s", z->origin_str,
				    client, why));
	a->rcode = DNS_RCODE_REFUSED;
}

void answer_update(struct answer *a, struct query_ctx *ctx)
{
	const snapshot_t *snap = a->snap;
	const struct dns_query *q = a->q;
	if (q->qtype != DNS_TYPE_SOA) {
		a->rcode = DNS_RCODE_FORMERR;
		return;
	}
	const zone_t *z =
	    q->qclass == DNS_CLASS_IN ? zonedb_find(snap->zones, q->qname_lower) : NULL;
	if (z == NULL || !dname_equal(z->origin, q->qname_lower)) {
		a->rcode = DNS_RCODE_NOTAUTH;
		return;
	}
	size_t idx = zonedb_index(snap->zones, z);
	const struct xfr_zone *xz =
	    snap->xfr != NULL && idx < snap->xfr->zone_count ? &snap->xfr->zones[idx] : NULL;
	if (xz != NULL && xz->primary_count > 0) {
		refused(a, z, "we are a secondary of the zone: send updates to its primary");
		return;
	}
	if (xz == NULL || xz->update == NULL) {
		refused(a, z, "the zone accepts no updates (no \"update\" section)");
		return;
	}
	if (a->tsig_key == NULL) {
		refused(a, z, "not signed (updates need a TSIG key)");
		return;
	}
	if (!update_policy_knows_key(xz->update, (int)(a->tsig_key - snap->xfr->keys))) {
		refused(a, z, "signed with a key no rule of the zone's \"update\" names");
		return;
	}
	ctx->last.update_pending = true;
	ctx->last.update_fn = snap->update;
	ctx->last.update_arg = snap->update_arg;
}
