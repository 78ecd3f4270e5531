/* notify.c — the daemon's side of NOTIFY out: which servers to tell of one
 * zone's new version (dns/notify_out.h builds the list and sends). Called
 * after a reload (daemon.c) and after a secondary zone was transferred
 * (secondary.c), so that a chain of secondaries follows at once. */
#include "common/err.h"
#include "common/log.h"
#include "daemon/daemon_int.h"
#include "dns/notify_out.h"
#include "dns/zonedb.h"
#include "wire/wire.h"

void daemon_notify_zone(daemon_t *d, const snapshot_t *s, size_t zone_idx)
{
	if (d->notifier == NULL || zone_idx >= zonedb_count(s->zones))
		return;
	const zone_t *z = zonedb_get(s->zones, zone_idx);
	const zrrset_t *soa = zone_has_data(z) ? znode_rrset(zone_node(z, 0), DNS_TYPE_SOA) : NULL;
	if (soa == NULL)
		return;
	struct notify_target *t = NULL;
	size_t count = 0;
	int r = notify_targets_build(s, zone_idx, d->own, d->own_count, &t, &count);
	struct notify_zone nz = {.origin = z->origin,
				 .serial = z->serial,
				 .soa_ttl_s = soa->ttl_s,
				 .soa_rdata = soa->rdata + 2,
				 .soa_rdata_len = wire_read_u16(soa->rdata)};
	/* With no targets, this drops an older version still being notified. */
	if (r == SOV_OK)
		r = notifier_zone_changed(d->notifier, &nz, t, count);
	if (r != SOV_OK)
		log_err("notify", "%s: serial %u: cannot queue NOTIFY: %s", z->origin_str,
			z->serial, err_str(r));
	else if (count > 0)
		log_info("notify", "%s: serial %u: NOTIFY to %zu server%s", z->origin_str,
			 z->serial, count, count == 1 ? "" : "s");
	notify_targets_free(t, count);
}
