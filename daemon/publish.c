/* publish.c — one zone of the current snapshot replaced: by a transfer in
 * (secondary.c) or an accepted UPDATE (update.c). */
#include "common/err.h"
#include "daemon/daemon_int.h"
#include "dns/journal.h"
#include "dns/zonedb.h"

int daemon_publish_zone(daemon_t *d, const snapshot_t *cur, size_t idx, zone_t *nz)
{
	snapshot_t *s = NULL;
	int r = snapshot_respin(cur, idx, nz, &s);
	if (r != SOV_OK)
		return r;
	/* The difference goes into the zone's IXFR journal, so our own
	 * secondaries get IXFR from us too (dns/journal.h). */
	if (d->journals == NULL)
		d->journals = journal_store_new(s->conf);
	if (d->journals != NULL)
		journal_store_apply(d->journals, cur, s);
	pthread_mutex_lock(&d->view_lock);
	snapshot_t *old = snapshot_swap(s);
	pthread_mutex_unlock(&d->view_lock);
	/* Our own secondaries (a chain, or notify.also) hear of it at once. */
	if (zone_has_data(zonedb_get(s->zones, idx)))
		daemon_notify_zone(d, s, idx);
	snapshot_retire(old);
	return SOV_OK;
}
