/* daemon.c — start-up, reload and stop: the composition root. It builds
 * the snapshot (dns/), the API (api/) and the probes (daemon/monitor.c),
 * starts them in an order that needs no racy read, and swaps a reload in.
 * The backend callbacks are in backend.c, the metrics text in metrics.c. */
#include "daemon/daemon.h"

#include <ifaddrs.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/admin.h"
#include "api/api.h"
#include "api/store.h"
#include "common/addr.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "daemon/daemon_int.h"
#include "dns/answer.h"
#include "dns/notify_out.h"
#include "dns/server.h"
#include "dns/snapshot.h"
#include "geo/usable.h"
#include "probe/health.h"
#include "wire/wire.h"

/* The same numbers under the names of three layers that may not include one
 * another (probe, api, geo); this file converts between them by casts. */
_Static_assert(HEALTH_UNKNOWN == (int)API_HEALTH_UNKNOWN && HEALTH_UP == (int)API_HEALTH_UP &&
		   HEALTH_DOWN == (int)API_HEALTH_DOWN,
	       "probe/health.h and api/api.h number health alike");
_Static_assert(HEALTH_UNKNOWN == (int)USABLE_HEALTH_UNKNOWN && HEALTH_UP == (int)USABLE_HEALTH_UP &&
		   HEALTH_DOWN == (int)USABLE_HEALTH_DOWN,
	       "probe/health.h and geo/usable.h number health alike");
_Static_assert(ADMIN_ACTIVE == (int)USABLE_ADMIN_ACTIVE &&
		   ADMIN_DRAINING == (int)USABLE_ADMIN_DRAINING &&
		   ADMIN_DRAINED == (int)USABLE_ADMIN_DRAINED &&
		   ADMIN_MAINTENANCE == (int)USABLE_ADMIN_MAINTENANCE &&
		   ADMIN_WORD_STATE_MASK == USABLE_ADMIN_WORD_STATE_MASK &&
		   HEALTH_WORD_STATE_MASK == 0x3u,
	       "api/admin.h and geo/usable.h number admin states alike");

/* ------------------------------------------------------------- monitor */

/* Probe thread: d->api was set before the first probe thread started
 * (daemon_start creates the API first), and is cleared only after every
 * probe thread stopped (daemon_stop), so this read needs no lock. */
static void on_transition(const struct probe_transition *t, void *arg)
{
	daemon_t *d = arg;
	/* Datacenter targets come first in the health table (probe.h). */
	if (d->api != NULL && t->service == NULL && t->target < api_dc_count(d->api))
		api_event_health(d->api, t->target, (enum api_health)t->from,
				 (enum api_health)t->to, t->reason);
}

/*
 * Gives snapshot s the monitor it needs and returns it in *next: the
 * running one (cur) when the datacenters/services/probes did not change,
 * else a new one, started and, when `wait`, through its first probe round;
 * NULL without datacenters. s borrows the monitor's live health table.
 */
static int monitor_attach(daemon_t *d, snapshot_t *s, monitor_t *cur, monitor_t **next, bool wait,
			  diag_t *diag)
{
	*next = NULL;
	if (s->geo == NULL)
		return SOV_OK; /* no datacenters: nothing to probe */
	if (cur != NULL && monitor_same_config(cur, s->conf)) {
		s->health = monitor_live(cur);
		*next = cur;
		return SOV_OK;
	}
	monitor_t *m = NULL;
	int r = monitor_new(s->conf, s->geo, &m, diag);
	if (r != SOV_OK)
		return r;
	monitor_set_listener(m, on_transition, d);
	if (cur != NULL)
		monitor_inherit(m, cur);
	r = monitor_start(m);
	if (r != SOV_OK) {
		diag_add(diag, s->conf->path, 0, 0, "cannot start the probe thread: %s",
			 err_str(r));
		monitor_free(m);
		return r;
	}
	if (wait)
		monitor_first_round(m);
	s->health = monitor_live(m);
	*next = m;
	return SOV_OK;
}

/* ----------------------------------------------------------------- API */

static json_t *api_sections_of(const config_t *c)
{
	json_t *o = json_object();
	const json_t *root = c->json;
	static const char *const keys[2] = {"api", "state_dir"};
	for (int i = 0; o && i < 2; i++) {
		json_t *v = root ? json_object_get(root, keys[i]) : NULL;
		json_object_set_new(o, keys[i], v ? json_deep_copy(v) : json_null());
	}
	return o;
}

bool daemon_conf_wants_api(const config_t *c)
{
	return c->json != NULL && (json_object_get(c->json, "api") != NULL ||
				   json_object_get(c->json, "state_dir") != NULL);
}

/* True if s has the datacenters the API's admin table is indexed by. */
static bool same_dcs(const api_t *api, const snapshot_t *s)
{
	size_t n = s->geo ? geo_dc_count(s->geo) : 0;
	if (n != api_dc_count(api))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(geo_dc_id(s->geo, i), api_dc_id(api, i)) != 0)
			return false;
	return true;
}

/* The API's reload (POST /v1/reload): daemon_reload() with the reasons
 * joined into why. */
static int reload_from_api(void *ctx, char *why, size_t cap)
{
	daemon_t *d = ctx;
	diag_t *diag = diag_new();
	if (diag == NULL)
		return SOV_ENOMEM;
	int r = daemon_reload(d, diag);
	diag_join(r == SOV_OK ? NULL : diag, why, cap);
	diag_free(diag);
	return r;
}

/* Creates the API (not started) for snapshot s, which then reads its admin
 * table; nothing without "api"/"state_dir". The API copies the parsed
 * configuration and the datacenter ids. */
static int api_setup(daemon_t *d, snapshot_t *s, diag_t *diag)
{
	struct api_config acfg;
	const char **ids = NULL;
	api_config_init(&acfg);
	if (!daemon_conf_wants_api(s->conf))
		return SOV_OK;
	int r = api_config_parse(s->conf->json, s->conf->path, &acfg, diag);
	if (r != SOV_OK)
		goto finish;
	r = SOV_ENOMEM;
	size_t n = s->geo ? geo_dc_count(s->geo) : 0;
	d->api_sections = api_sections_of(s->conf);
	ids = calloc(n + 1, sizeof(*ids));
	if (ids == NULL || d->api_sections == NULL)
		goto finish;
	for (size_t i = 0; i < n; i++)
		ids[i] = geo_dc_id(s->geo, i);
	struct api_backend be;
	daemon_backend_init(d, &be);
	be.reload = reload_from_api;
	r = api_new(&acfg, ids, n, &be, &d->api, diag);
	if (r != SOV_OK)
		goto finish;
	/* the directory exists now (api_new creates it); the daemon writes it
	 * as "user" after dropping root, so a drain's first write must not be
	 * where a wrong owner shows */
	r = store_check_dir(acfg.state_dir, s->conf->user, diag);
	if (r != SOV_OK)
		goto finish;
	s->admin = api_admin_words(d->api);
finish:
	free(ids);
	api_config_clear(&acfg);
	return r;
}

/* -------------------------------------------------------------- NOTIFY */

static bool is_wildcard(const sov_sockaddr_t *a)
{
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)&a->ss)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return a->ss.ss_family == AF_INET6 &&
	       IN6_IS_ADDR_UNSPECIFIED(
		   &((const struct sockaddr_in6 *)(const void *)&a->ss)->sin6_addr);
}

/* d->own: the listen addresses, and for a wildcard one (0.0.0.0:53, [::]:53)
 * every address of the interfaces of its family with its port: NOTIFYing
 * ourselves would only earn an error answer and a warning. */
static int own_addresses(daemon_t *d)
{
	struct ifaddrs *ifs = NULL;
	size_t n = d->fixed.listen_count, cap = n + 1;
	for (size_t i = 0; i < d->fixed.listen_count; i++)
		if (is_wildcard(&d->fixed.listen[i]) && ifs == NULL && getifaddrs(&ifs) != 0)
			ifs = NULL; /* without the interface list, the listen list alone */
	for (struct ifaddrs *f = ifs; f != NULL; f = f->ifa_next)
		cap += d->fixed.listen_count;
	d->own = calloc(cap, sizeof(*d->own));
	if (d->own == NULL) {
		freeifaddrs(ifs);
		return SOV_ENOMEM;
	}
	memcpy(d->own, d->fixed.listen, n * sizeof(*d->own));
	for (size_t i = 0; i < d->fixed.listen_count; i++) {
		const sov_sockaddr_t *l = &d->fixed.listen[i];
		if (!is_wildcard(l))
			continue;
		for (struct ifaddrs *f = ifs; f != NULL; f = f->ifa_next) {
			if (f->ifa_addr == NULL || f->ifa_addr->sa_family != l->ss.ss_family)
				continue;
			sov_sockaddr_t a = {.len = l->len};
			memcpy(&a.ss, f->ifa_addr, l->len);
			addr_set_port(&a, addr_port(l));
			d->own[n++] = a;
		}
	}
	d->own_count = n;
	freeifaddrs(ifs);
	return SOV_OK;
}

/* After the swap from old (NULL at start-up: every zone is new) to s:
 * NOTIFY each zone that is new or whose serial changed. */
static void daemon_notify_changed(daemon_t *d, const snapshot_t *old, const snapshot_t *s)
{
	for (size_t i = 0; i < zonedb_count(s->zones); i++) {
		const zone_t *z = zonedb_get(s->zones, i);
		const zone_t *o = NULL;
		for (size_t k = 0; old != NULL && o == NULL && k < zonedb_count(old->zones); k++)
			if (dname_equal(zonedb_get(old->zones, k)->origin, z->origin))
				o = zonedb_get(old->zones, k);
		if (o == NULL || o->serial != z->serial || zone_has_data(o) != zone_has_data(z))
			daemon_notify_zone(d, s, i);
	}
}

/* ------------------------------------------------------------ lifecycle */

static bool listen_equal(const struct fixed_settings *f, const config_t *c)
{
	if (f->listen_count != c->listen_count)
		return false;
	for (size_t i = 0; i < c->listen_count; i++)
		if (f->listen[i].len != c->listen[i].len ||
		    memcmp(&f->listen[i].ss, &c->listen[i].ss, c->listen[i].len) != 0)
			return false;
	return true;
}

/*
 * The IXFR journal (dns/journal.h): before s replaces cur (NULL at start),
 * the store adds each zone's differences from cur and gives s read-only
 * references. Never fails a start or a reload: a journal problem is logged
 * and that zone's IXFR sends the full zone. Under reload_lock (or before
 * any thread reads d->journals), outside view_lock: a diff of a large zone
 * takes a while and the API need not wait for it.
 */
static void journal_hook(daemon_t *d, const snapshot_t *cur, snapshot_t *s)
{
	if (d->journals == NULL)
		d->journals = journal_store_new(s->conf);
	if (d->journals != NULL)
		journal_store_apply(d->journals, cur, s);
}

int daemon_start(daemon_config_fn load, void *arg, daemon_t **out, diag_t *diag)
{
	int ret = SOV_ENOMEM;
	config_t *c = NULL;
	snapshot_t *s = NULL;
	daemon_t *d = calloc(1, sizeof(*d));
	*out = NULL;
	if (d == NULL)
		return SOV_ENOMEM;
	d->load = load;
	d->load_arg = arg;
	d->started_ms = clock_unix_ms();
	pthread_mutex_init(&d->reload_lock, NULL);
	pthread_mutex_init(&d->view_lock, NULL);

	ret = load(arg, &c, diag);
	if (ret != SOV_OK)
		goto fail;
	log_init((enum log_level)c->log_level, c->log_syslog);
	d->fixed.listen_count = c->listen_count;
	d->fixed.threads = c->threads;
	d->fixed.log_level = c->log_level;
	d->fixed.log_syslog = c->log_syslog;
	d->fixed.listen = calloc(c->listen_count ? c->listen_count : 1, sizeof(*d->fixed.listen));
	if (d->fixed.listen == NULL) {
		config_free(c);
		ret = SOV_ENOMEM;
		goto fail;
	}
	memcpy(d->fixed.listen, c->listen, c->listen_count * sizeof(*d->fixed.listen));

	ret = snapshot_build(c, &s, diag); /* takes c */
	if (ret != SOV_OK)
		goto fail;
	/* The API first: the probe thread the monitor starts reports health
	 * transitions to it (on_transition), so d->api must be set before that
	 * thread exists; thread creation orders the write before its reads. */
	ret = api_setup(d, s, diag);
	if (ret != SOV_OK)
		goto fail;
	ret = monitor_attach(d, s, NULL, &d->mon, false, diag);
	if (ret != SOV_OK)
		goto fail;

	d->sec = secondary_new(d);
	if (d->sec == NULL) {
		ret = SOV_ENOMEM;
		goto fail;
	}
	secondary_sync(d->sec, s); /* before publishing: it sets the NOTIFY hook */
	ret = daemon_updates_apply(d, NULL, s, diag);
	if (ret != SOV_OK)
		goto fail;
	journal_hook(d, NULL, s);
	const config_t *conf = s->conf; /* lives as long as the published snapshot */
	snapshot_publish(s);
	s = NULL;
	ret = server_start(conf, &d->srv);
	if (ret != SOV_OK) {
		diag_add(diag, NULL, 0, 0, "cannot start serving (see the log above)");
		ret = SOV_ESYS;
		goto fail;
	}
	/* NOTIFY every zone once at start-up, as BIND does: a change made while
	 * we were down reaches the secondaries now, not at their refresh. */
	ret = own_addresses(d);
	if (ret == SOV_OK)
		ret = notifier_new(d->fixed.listen, d->fixed.listen_count, &d->notifier);
	if (ret != SOV_OK) {
		diag_add(diag, NULL, 0, 0, "cannot start the NOTIFY thread: %s", err_str(ret));
		goto fail;
	}
	pthread_mutex_lock(&d->reload_lock);
	daemon_notify_changed(d, NULL, snapshot_current());
	pthread_mutex_unlock(&d->reload_lock);
	if (d->api != NULL) {
		ret = api_start(d->api, diag);
		if (ret != SOV_OK) {
			ret = SOV_ESYS;
			goto fail;
		}
	}
	ret = daemon_drop_privileges(conf->user, diag);
	if (ret != SOV_OK)
		goto fail;
	/* After dropping root: the zone files it writes belong to the user. */
	ret = secondary_run(d->sec);
	if (ret != SOV_OK) {
		diag_add(diag, NULL, 0, 0, "cannot start the secondary engine's thread");
		goto fail;
	}
	*out = d;
	return SOV_OK;
fail:
	snapshot_free(s);
	daemon_stop(d);
	return ret;
}

void daemon_ready(daemon_t *d)
{
	char addrs[1024] = "";
	size_t used = 0;
	for (size_t i = 0; i < d->fixed.listen_count; i++) {
		char a[ADDR_STR_MAX];
		int n =
		    snprintf(addrs + used, sizeof(addrs) - used, "%s%s (udp+tcp)", i ? ", " : "",
			     addr_format((struct sockaddr *)&d->fixed.listen[i].ss, a, sizeof(a)));
		if (n < 0 || (size_t)n >= sizeof(addrs) - used)
			break;
		used += (size_t)n;
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned workers = d->fixed.threads ? d->fixed.threads : (ncpu > 0 ? (unsigned)ncpu : 1);
	char api[80] = "", where[ADDR_STR_MAX];
	if (d->api != NULL && api_port(d->api) != 0)
		snprintf(api, sizeof(api), ", HTTP API on %s",
			 api_listen_format(d->api, where, sizeof(where)));
	pthread_mutex_lock(&d->reload_lock); /* the snapshot and monitor stay put */
	const snapshot_t *s = snapshot_current();
	log_info("main",
		 "ready: serving %zu zones on %s, %u workers, generation %llu, %zu records "
		 "loaded in %.1f ms%s",
		 zonedb_count(s->zones), addrs, workers, (unsigned long long)s->generation,
		 snapshot_record_count(s), s->load_ms, api);
	monitor_t *mon = d->mon;
	pthread_mutex_unlock(&d->reload_lock);
	if (mon != NULL)
		monitor_first_round(mon); /* services answer SERVFAIL until it is done */
}

/*
 * A reload that lowers a zone's SOA serial (RFC 1982 arithmetic) leaves
 * secondaries behind: they only transfer a zone whose serial increased.
 * Served anyway (the file is what the operator wrote), with a warning.
 */
static void warn_serials(const snapshot_t *old, const snapshot_t *s)
{
	for (size_t i = 0; i < zonedb_count(s->zones); i++) {
		const zone_t *z = zonedb_get(s->zones, i);
		for (size_t k = 0; k < zonedb_count(old->zones); k++) {
			const zone_t *o = zonedb_get(old->zones, k);
			if (!dname_equal(o->origin, z->origin))
				continue;
			if (dns_serial_lt(z->serial, o->serial))
				log_warn("zone",
					 "%s: SOA serial went down from %u to %u; secondaries will "
					 "not transfer it (raise the serial above %u)",
					 z->origin_str, o->serial, z->serial, o->serial);
		}
	}
}

/* Checks the parts of a new snapshot s that the running API pins: the
 * datacenters its admin table is indexed by (refused if changed), and the
 * "api"/"state_dir" sections (warned: applied at the next restart). */
static int reload_check_api(daemon_t *d, snapshot_t *s, diag_t *diag)
{
	if (!same_dcs(d->api, s)) {
		diag_add(diag, s->conf->path, 0, 0,
			 "the list of datacenters changed; the API keeps admin state per "
			 "datacenter, so this needs a restart (still serving the old "
			 "configuration)");
		return SOV_ESEMANTIC;
	}
	json_t *a = api_sections_of(s->conf);
	if (a != NULL && !json_equal(a, d->api_sections))
		log_warn("main", "reload: \"api\"/\"state_dir\" changed; restart needed "
				 "to apply them");
	json_decref(a);
	s->admin = api_admin_words(d->api);
	return SOV_OK;
}

/* Loads the configuration and builds the snapshot a reload would publish,
 * with its API admin table and monitor (*next). */
static int reload_build(daemon_t *d, snapshot_t **out, monitor_t **next, diag_t *diag)
{
	config_t *c = NULL;
	snapshot_t *s = NULL;
	*out = NULL;
	*next = NULL;
	int r = d->load(d->load_arg, &c, diag);
	if (r == SOV_OK) {
		if (!listen_equal(&d->fixed, c))
			log_warn("main",
				 "reload: the listen addresses changed; restart needed to apply "
				 "them (still serving on the old ones)");
		if (c->threads != d->fixed.threads)
			log_warn("main",
				 "reload: \"threads\" changed (%u -> %u); restart needed to "
				 "apply it",
				 d->fixed.threads, c->threads);
		r = snapshot_build(c, &s, diag); /* takes c */
	}
	if (r == SOV_OK && d->api != NULL)
		r = reload_check_api(d, s, diag);
	/* A changed probe setup runs its first round now, while the old
	 * snapshot keeps answering. */
	if (r == SOV_OK)
		r = monitor_attach(d, s, d->mon, next, true, diag);
	/* Last: it takes s's zones as the bases of the dynamic data. */
	if (r == SOV_OK) {
		r = daemon_updates_apply(d, snapshot_current(), s, diag);
		if (r != SOV_OK && *next != d->mon)
			monitor_free(*next);
		if (r != SOV_OK)
			*next = NULL;
	}
	if (r != SOV_OK) {
		snapshot_free(s);
		return r;
	}
	*out = s;
	return SOV_OK;
}

/* Under view_lock, before the swap: the longest TTL each datacenter's
 * answers may still carry, kept for drain waits until it has passed. */
static void remember_ttls(daemon_t *d, const snapshot_t *old)
{
	size_t n = d->api ? api_dc_count(d->api) : 0;
	if (n == 0)
		return;
	int64_t now = clock_unix_ms();
	uint32_t *prev = calloc(n, sizeof(uint32_t));
	uint32_t longest = 0;
	for (size_t i = 0; prev && i < n; i++) {
		prev[i] = old->geo ? geo_dc_max_ttl(old->geo, i) : 0;
		if (d->dc_ttl_prev && now < d->dc_ttl_prev_until_ms && d->dc_ttl_prev[i] > prev[i])
			prev[i] = d->dc_ttl_prev[i];
		if (prev[i] > longest)
			longest = prev[i];
	}
	if (prev != NULL) {
		free(d->dc_ttl_prev);
		d->dc_ttl_prev = prev;
		d->dc_ttl_prev_until_ms = now + (int64_t)longest * 1000;
	}
}

int daemon_reload(daemon_t *d, diag_t *diag)
{
	snapshot_t *s = NULL;
	monitor_t *next = NULL;

	pthread_mutex_lock(&d->reload_lock);
	/* Stable while reload_lock is held: only a reload swaps it. */
	const snapshot_t *cur = snapshot_current();
	int r = reload_build(d, &s, &next, diag);
	if (r != SOV_OK) {
		for (size_t i = 0; i < diag_count(diag); i++)
			log_err("main", "%s", diag_get(diag, i));
		if (diag_count(diag) == 0)
			log_err("main", "reload failed: %s", err_str(r));
		log_err("main", "reload refused, still serving generation %llu",
			(unsigned long long)cur->generation);
		goto finish;
	}
	/* log_init() writes globals the workers read without a lock: only
	 * touch them when the operator actually changed the log settings. */
	if (s->conf->log_level != d->fixed.log_level ||
	    s->conf->log_syslog != d->fixed.log_syslog) {
		log_init((enum log_level)s->conf->log_level, s->conf->log_syslog);
		d->fixed.log_level = s->conf->log_level;
		d->fixed.log_syslog = s->conf->log_syslog;
	}

	secondary_sync(d->sec, s); /* sets the NOTIFY hook; the engine takes the new zones */
	journal_hook(d, cur, s);
	/* Swap what the DNS workers and the API see, together. */
	pthread_mutex_lock(&d->view_lock);
	remember_ttls(d, cur);
	warn_serials(cur, s);
	monitor_t *old_mon = d->mon;
	d->mon = next;
	snapshot_t *old = snapshot_swap(s);
	pthread_mutex_unlock(&d->view_lock);
	daemon_notify_changed(d, old, s); /* both stay put: reload_lock, old not retired */

	size_t nzones = zonedb_count(s->zones);
	size_t nrecords = snapshot_record_count(s);
	double ms = s->load_ms;
	uint64_t generation = s->generation;
	snapshot_retire(old); /* waits for the DNS readers of the old one, then frees it */
	if (old_mon != next) {
		/* The grace period is over: no snapshot borrows the old monitor. */
		monitor_free(old_mon);
	}
	log_info("main", "reload: generation %llu, %zu zones, %zu records in %.1f ms",
		 (unsigned long long)generation, nzones, nrecords, ms);
finish:
	pthread_mutex_unlock(&d->reload_lock);
	return r;
}

int daemon_reload_signal(daemon_t *d)
{
	diag_t *diag = diag_new();
	int r = daemon_reload(d, diag);
	if (d->api != NULL) {
		char why[2048];
		diag_join(diag, why, sizeof(why));
		api_event_reload(d->api, r == SOV_OK, "SIGHUP", r == SOV_OK ? NULL : why);
	}
	diag_free(diag);
	return r;
}

void daemon_stop(daemon_t *d)
{
	if (d == NULL)
		return;
	/* Order: no more probe callbacks into the API, then no more API
	 * callbacks reading the snapshot, then no more DNS readers; only then
	 * free what they all borrowed. */
	monitor_stop(d->mon);
	secondary_free(d->sec); /* no more transfers, no more respins */
	d->sec = NULL;
	api_free(d->api);
	d->api = NULL;
	notifier_free(d->notifier);
	d->notifier = NULL;
	if (d->srv != NULL) {
		struct query_stats st;
		server_stats(d->srv, &st);
		server_stop(d->srv);
		log_info("main", "stopped: answered %llu UDP and %llu TCP queries, dropped %llu",
			 (unsigned long long)st.queries[DNS_UDP],
			 (unsigned long long)st.queries[DNS_TCP], (unsigned long long)st.dropped);
	}
	if (snapshot_current() != NULL)
		snapshot_publish(NULL); /* frees the last snapshot */
	monitor_free(d->mon);
	journal_store_free(d->journals);
	daemon_updates_free(d);
	json_decref(d->api_sections);
	free(d->dc_ttl_prev);
	free(d->own);
	free(d->fixed.listen);
	pthread_mutex_destroy(&d->reload_lock);
	pthread_mutex_destroy(&d->view_lock);
	free(d);
}
