/* update.c — the daemon's side of RFC 2136 UPDATE: the hook the DNS
 * workers call (dns/update_respond.h) with what only the daemon can do:
 * its reload lock, the durable store of dynamic data (dns/update_store.h),
 * publishing the new zone, the per-zone rate and the replay check.
 *
 * Locks: the hook runs on a DNS worker outside the RCU read lock and takes
 * reload_lock (so an update never races a reload or a transfer in); the
 * rate buckets and the replay cache are touched only under it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "daemon/daemon_int.h"
#include "dns/update_conf.h"
#include "dns/update_respond.h"
#include "dns/update_store.h"
#include "dns/xfr_conf.h"
#include "dns/zonedb.h"
#include "wire/dname.h"

/* How long a worker waits for the reload lock before dropping the update
 * (the client retries): a reload of a large configuration can hold it for
 * seconds, and a worker blocked longer stops answering queries. */
#define UPDATE_LOCK_WAIT_MS 2500

/* Signed requests remembered against replay: a captured update re-sent
 * within the TSIG fudge (RFC 8945 §5.2.3, 300 s by default) verifies
 * again; at the zones' maximum rate of updates this covers the window. */
#define REPLAY_SLOTS 4096

struct update_rate {
	uint8_t origin[DNAME_MAXLEN];
	double tokens;
	int64_t last_ms;
};

struct daemon_updates {
	update_store_t *store;
	struct update_rate *rates; /* by zone, found by origin */
	size_t rate_count;
	struct {
		uint64_t mac_hash;
		uint64_t until_s; /* time signed + fudge */
	} replay[REPLAY_SLOTS];
	size_t replay_next;
};

static uint64_t fnv1a(const uint8_t *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* A request whose MAC was seen before, within its fudge: REFUSED. Else it
 * is remembered. */
static bool replayed(struct daemon_updates *u, const struct tsig_rr *rr, uint64_t now_s)
{
	uint64_t h = fnv1a(rr->mac, rr->mac_len, 0xcbf29ce484222325ULL);
	h = fnv1a(rr->key_name, dname_len(rr->key_name), h);
	for (size_t i = 0; i < REPLAY_SLOTS; i++)
		if (u->replay[i].mac_hash == h && u->replay[i].until_s >= now_s)
			return true;
	u->replay[u->replay_next].mac_hash = h;
	u->replay[u->replay_next].until_s = rr->time_signed + rr->fudge;
	u->replay_next = (u->replay_next + 1) % REPLAY_SLOTS;
	return false;
}

/* The zone's token bucket: max_per_s a second, holding two seconds' worth. */
static bool rate_ok(struct daemon_updates *u, const uint8_t *origin, uint32_t max_per_s)
{
	int64_t now = clock_mono_ms();
	struct update_rate *r = NULL;
	for (size_t i = 0; i < u->rate_count && r == NULL; i++)
		if (dname_equal(u->rates[i].origin, origin))
			r = &u->rates[i];
	if (r == NULL) {
		struct update_rate *n = realloc(u->rates, (u->rate_count + 1) * sizeof(*n));
		if (n == NULL)
			return false;
		u->rates = n;
		r = &n[u->rate_count++];
		memcpy(r->origin, origin, dname_len(origin));
		r->tokens = 2.0 * max_per_s;
		r->last_ms = now;
	}
	r->tokens += (double)(now - r->last_ms) * max_per_s / 1000.0;
	if (r->tokens > 2.0 * max_per_s)
		r->tokens = 2.0 * max_per_s;
	r->last_ms = now;
	if (r->tokens < 1.0)
		return false;
	r->tokens -= 1.0;
	return true;
}

static int env_admit(void *arg, const snapshot_t *s, size_t zone_idx, const struct tsig_rr *rr,
		     uint64_t now_s, char *why, size_t cap)
{
	daemon_t *d = arg;
	const struct update_policy *p = s->xfr->zones[zone_idx].update;
	if (replayed(d->updates, rr, now_s)) {
		snprintf(why, cap, "a replay of a request already received (same TSIG MAC)");
		return DNS_RCODE_REFUSED;
	}
	if (!rate_ok(d->updates, zonedb_get(s->zones, zone_idx)->origin, p->max_per_s)) {
		snprintf(why, cap, "over max_updates_per_s (%u)", p->max_per_s);
		return DNS_RCODE_REFUSED;
	}
	return 0;
}

static size_t env_dynamic_bytes(void *arg, const uint8_t *origin)
{
	daemon_t *d = arg;
	size_t records = 0, bytes = 0;
	update_store_size(d->updates->store, origin, &records, &bytes);
	return bytes;
}

static int env_commit(void *arg, const snapshot_t *s, size_t zone_idx, zone_t *nz, char *why,
		      size_t cap)
{
	daemon_t *d = arg;
	int r = update_store_commit(d->updates->store, s, zone_idx, nz, why, cap);
	if (r != SOV_OK) {
		if (r == SOV_ENOMEM || why[0] == 0)
			snprintf(why, cap, "cannot record the update: %s", err_str(r));
		zone_free(nz);
		return r;
	}
	r = daemon_publish_zone(d, s, zone_idx, nz);
	if (r != SOV_OK)
		snprintf(why, cap,
			 "recorded, but out of memory publishing it (served after the "
			 "next reload)");
	return r;
}

static size_t update_hook(void *arg, const struct sockaddr *client, bool over_udp, const uint8_t *q,
			  size_t qlen, uint8_t *reply, size_t cap)
{
	daemon_t *d = arg;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += UPDATE_LOCK_WAIT_MS / 1000;
	until.tv_nsec += (long)(UPDATE_LOCK_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	int e = pthread_mutex_timedlock(&d->reload_lock, &until);
	if (e != 0) {
		LOG_RATELIMITED(1, log_warn("update",
					    "update dropped: the server is busy reloading (%s); "
					    "the client will retry",
					    strerror(e)));
		return 0;
	}
	const struct update_env env = {env_commit, env_admit, env_dynamic_bytes, d};
	size_t len =
	    update_respond(snapshot_current(), &env, client, over_udp, q, qlen, reply, cap);
	pthread_mutex_unlock(&d->reload_lock);
	return len;
}

int daemon_updates_apply(daemon_t *d, const snapshot_t *cur, snapshot_t *s, diag_t *diag)
{
	if (d->updates == NULL) {
		d->updates = calloc(1, sizeof(*d->updates));
		if (d->updates == NULL)
			return SOV_ENOMEM;
	}
	if (d->updates->store == NULL) {
		d->updates->store = update_store_new(s->conf);
		if (d->updates->store == NULL)
			return SOV_ENOMEM;
	}
	int r = update_store_apply(d->updates->store, cur, s, diag);
	if (r != SOV_OK)
		return r;
	s->update = update_hook;
	s->update_arg = d;
	return SOV_OK;
}

void daemon_updates_free(daemon_t *d)
{
	if (d->updates == NULL)
		return;
	update_store_free(d->updates->store);
	free(d->updates->rates);
	free(d->updates);
	d->updates = NULL;
}
