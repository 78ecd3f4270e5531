#include "dns/snapshot.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "dns/catalog.h"
#include "dns/journal.h"
#include "dns/rrl.h"
#include "dns/xfr_conf.h"
#include "wire/wire.h"

/* geo/ names the query types it answers without including dns/. */
_Static_assert(GEO_QTYPE_A == DNS_TYPE_A && GEO_QTYPE_AAAA == DNS_TYPE_AAAA,
	       "geo query types match the wire");

/*
 * The published snapshot. Readers load it with rcu_dereference() inside a
 * read-side critical section; the single writer swaps it with
 * rcu_xchg_pointer() and frees the old one after synchronize_rcu().
 *
 * Why the memb flavour: its read lock is a per-thread counter update with
 * no memory barrier (the writer forces ordering with the membarrier(2)
 * system call during the grace period), so the DNS workers pay almost
 * nothing per batch, and, unlike the qsbr flavour, idle readers do not
 * have to announce quiescent states. The writer side is slow (a membarrier
 * and a wait), which suits a reload every few minutes at most.
 */
static snapshot_t *snapshot_live;

/* Generations of published snapshots; only the publisher touches it. */
static uint64_t snapshot_generation_last;

/* One random cookie key per process, so that reloads keep cookies valid
 * (RFC 9018 §4.4: a restart may change it, clients then get a new one). */
static uint8_t process_secret[16];
static pthread_once_t process_secret_once = PTHREAD_ONCE_INIT;

static void process_secret_init(void)
{
	if (sodium_init() < 0)
		abort(); /* no usable randomness: nothing sensible to do */
	randombytes_buf(process_secret, sizeof(process_secret));
}

static void process_cookie_secret(uint8_t out[16])
{
	pthread_once(&process_secret_once, process_secret_init);
	memcpy(out, process_secret, sizeof(process_secret));
}

static void snapshot_locate(void *arg, const json_t *value, unsigned *line, unsigned *col)
{
	config_locate(arg, value, line, col);
}

/* The configured zone that holds `name`: the one with the longest origin
 * that is a suffix of it; -1 if none. */
static int zone_conf_for(const config_t *conf, const uint8_t *name)
{
	int best = -1;
	unsigned best_labels = 0;
	for (size_t i = 0; i < conf->zone_count; i++) {
		uint8_t origin[DNAME_MAXLEN];
		if (dname_from_str(conf->zones[i].origin, origin) < 0)
			continue;
		unsigned labels = dname_labels(origin);
		if (dname_is_subdomain(name, origin) && (best < 0 || labels > best_labels)) {
			best = (int)i;
			best_labels = labels;
		}
	}
	return best;
}

/* The services whose names fall in configured zone `zi` (heap arrays). */
static int zone_services_of(const snapshot_t *s, const config_t *conf, size_t zi,
			    struct zone_services *zs)
{
	size_t n = s->geo ? geo_service_count(s->geo) : 0;
	const uint8_t **names = calloc(n + 1, sizeof(*names));
	uint32_t *ids = calloc(n + 1, sizeof(*ids));
	if (names == NULL || ids == NULL) {
		free(names);
		free(ids);
		return SOV_ENOMEM;
	}
	for (size_t k = 0; k < n; k++) {
		const struct geo_service_info *si = geo_service(s->geo, k);
		if (zone_conf_for(conf, si->name_wire) == (int)zi) {
			names[zs->count] = si->name_wire;
			ids[zs->count++] = (uint32_t)k;
		}
	}
	zs->names = names;
	zs->ids = ids;
	return SOV_OK;
}

/* Every service must be inside a served zone. */
static int services_check_zones(const snapshot_t *s, const config_t *conf, diag_t *diag)
{
	int ret = SOV_OK;
	for (size_t k = 0; k < geo_service_count(s->geo); k++) {
		const struct geo_service_info *si = geo_service(s->geo, k);
		if (zone_conf_for(conf, si->name_wire) < 0) {
			const json_t *svcs = json_object_get(conf->json, "services");
			unsigned line = 0, col = 0;
			config_locate(conf, json_array_get(svcs, k), &line, &col);
			diag_add(diag, conf->path, line, col,
				 "service %s is not inside any zone this server serves", si->name);
			ret = SOV_ESEMANTIC;
		}
	}
	return ret;
}

/*
 * A secondary zone starts from the copy it kept (served at once after a
 * restart, before the first refresh); without one, or with one that no
 * longer loads (logged: the next transfer replaces it), it starts without
 * data, answering SERVFAIL until the first transfer. Never fails the
 * configuration: the file is ours, not the operator's.
 */
bool snapshot_copy_expired(const zone_t *z, int64_t file_mtime_s, int64_t now_s)
{
	struct zone_soa_timers t;
	if (!zone_soa_timers(z, &t))
		return false;
	return now_s - file_mtime_s >= (int64_t)t.expire;
}

static int secondary_load(const struct zone_conf *zc, const struct zone_services *zs, zone_t **out)
{
	*out = NULL;
	struct stat st;
	if (stat(zc->file, &st) == 0) {
		diag_t *d = diag_new();
		int r = d ? zone_load_services(zc->origin, zc->file, zs, out, d) : SOV_ENOMEM;
		if (r != SOV_OK) {
			for (size_t i = 0; d && i < diag_count(d) && i < 5; i++)
				log_warn("zone", "%s", diag_get(d, i));
			log_warn("zone",
				 "%s: the kept copy %s does not load (%s); serving nothing until "
				 "the next transfer",
				 zc->origin, zc->file, err_str(r));
		}
		diag_free(d);
		if (r == SOV_OK && snapshot_copy_expired(*out, st.st_mtime, time(NULL))) {
			log_err("zone",
				"%s: the kept copy %s (serial %u) was last confirmed current %lld "
				"s ago, "
				"past its SOA expire: serving nothing (SERVFAIL) until a primary "
				"answers",
				zc->origin, zc->file, (*out)->serial,
				(long long)(time(NULL) - st.st_mtime));
			zone_free(*out);
			*out = NULL;
		} else if (r == SOV_OK) {
			struct zone_soa_timers t;
			if (zone_soa_timers(*out, &t))
				atomic_store(&(*out)->expire_at_s, (int64_t)st.st_mtime + t.expire);
			return SOV_OK;
		}
	}
	*out = zone_new_empty(zc->origin, zc->file);
	return *out ? SOV_OK : SOV_ENOMEM;
}

int snapshot_build(config_t *conf, snapshot_t **out, diag_t *diag)
{
	int ret = SOV_OK;
	snapshot_t *s = NULL;
	int64_t t0 = clock_mono_us();

	*out = NULL;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		diag_add(diag, conf ? conf->path : NULL, 0, 0,
			 "out of memory building the snapshot");
		config_free(conf);
		ret = SOV_ENOMEM;
		goto finish;
	}
	s->conf = conf;
	s->edns_payload = conf->edns_payload;
	s->minimal_responses = conf->minimal_responses;
	s->identity = conf->identity;
	s->identity_len = (uint8_t)strlen(conf->identity);
	s->version = conf->version;
	s->version_len = (uint8_t)strlen(conf->version);
	s->nsid = conf->nsid && s->identity_len > 0;
	s->chaos = conf->chaos;
	if (conf->rrl_rate > 0) {
		s->rrl = rrl_new(conf->rrl_rate, conf->rrl_slip, conf->rrl_ipv4_prefix,
				 conf->rrl_ipv6_prefix);
		if (s->rrl == NULL) {
			ret = SOV_ENOMEM;
			goto finish;
		}
	}
	if (conf->cookie_secret_set)
		memcpy(s->cookie_secret, conf->cookie_secret, sizeof(s->cookie_secret));
	else
		process_cookie_secret(s->cookie_secret);
	s->loaded_at_ms = clock_unix_ms();
	atomic_init(&s->refs, 1);
	{
		int r = xfr_conf_load(conf, &s->xfr, diag);
		if (r != SOV_OK)
			ret = r;
	}
	s->zones = zonedb_new();
	if (s->zones == NULL) {
		diag_add(diag, conf->path, 0, 0, "out of memory building the zone database");
		ret = SOV_ENOMEM;
		goto finish;
	}

	/* Datacenters, services and the client map come first: zone loading
	 * needs the service names (each becomes a node of its zone). */
	if (conf->json != NULL) {
		geo_jsonpos_t pos = {snapshot_locate, conf};
		int r = geo_ctx_load(conf->json, conf->path, &pos, diag, &s->geo);
		if (r != SOV_OK)
			ret = r;
		else if (geo_dc_count(s->geo) == 0 && geo_service_count(s->geo) == 0) {
			geo_ctx_free(s->geo);
			s->geo = NULL;
		} else {
			size_t cells = geo_dc_count(s->geo) * geo_service_count(s->geo);
			s->svc_dc_answers = calloc(cells ? cells : 1, sizeof(*s->svc_dc_answers));
			if (s->svc_dc_answers == NULL)
				ret = SOV_ENOMEM;
		}
	}

	/* Load every zone even after a failure, so that one check reports the
	 * problems of all of them; the first error code is returned. */
	for (size_t i = 0; i < conf->zone_count; i++) {
		const struct zone_conf *zc = &conf->zones[i];
		zone_t *z = NULL;
		size_t diag_before = diag_count(diag);
		int64_t z0 = clock_mono_us();
		struct zone_services zs = {NULL, NULL, 0};
		int r = zone_services_of(s, conf, i, &zs);
		char *catalog_path = NULL; /* the file a catalog zone is loaded from */
		if (r == SOV_OK && zc->catalog)
			r = catalog_write(conf, i, conf->check_only, &catalog_path, diag);
		if (r == SOV_OK && zc->secondary)
			r = secondary_load(zc, &zs, &z);
		else if (r == SOV_OK)
			r = zone_load_services(zc->origin, catalog_path ? catalog_path : zc->file,
					       &zs, &z, diag);
		if (catalog_path != NULL && strcmp(catalog_path, zc->file) != 0)
			unlink(catalog_path); /* a check's rendering */
		free(catalog_path);
		free((void *)zs.names);
		free((void *)zs.ids);
		double zone_ms = (double)(clock_mono_us() - z0) / 1000.0;
		if (r != SOV_OK) {
			if (diag_count(diag) ==
			    diag_before) /* the loader said nothing: say something */
				diag_add(diag, zc->file, 0, 0, "zone %s failed to load: %s",
					 zc->origin, err_str(r));
			if (ret == SOV_OK)
				ret = r;
			continue;
		}
		log_debug("zone", "%s: %zu records, serial %u, loaded from %s in %.1f ms",
			  z->origin_str, z->record_count, z->serial, zc->file, zone_ms);
		r = zonedb_add(s->zones, z);
		if (r != SOV_OK) {
			diag_add(diag, zc->file, 0, 0, "zone %s: %s", z->origin_str,
				 r == SOV_EEXIST ? "served twice (same origin as an earlier zone)"
						 : err_str(r));
			zone_free(z);
			if (ret == SOV_OK)
				ret = r == SOV_EEXIST ? SOV_ESEMANTIC : r;
		}
	}
	if (ret == SOV_OK && s->geo != NULL)
		ret = services_check_zones(s, conf, diag);
	if (ret != SOV_OK)
		goto finish;

	ret = zonedb_finish(s->zones);
	if (ret != SOV_OK) {
		diag_add(diag, conf->path, 0, 0, "cannot index the zones: %s", err_str(ret));
		goto finish;
	}

	s->load_ms = (double)(clock_mono_us() - t0) / 1000.0;
	*out = s;
	s = NULL;

finish:
	snapshot_free(s);
	return ret;
}

size_t snapshot_record_count(const snapshot_t *s)
{
	size_t n = 0;
	for (size_t i = 0; i < zonedb_count(s->zones); i++)
		n += zonedb_get(s->zones, i)->record_count;
	return n;
}

int snapshot_load_zone(const snapshot_t *s, size_t zone_idx, const char *path, zone_t **out,
		       diag_t *diag)
{
	*out = NULL;
	if (zone_idx >= s->conf->zone_count)
		return SOV_EINVAL;
	struct zone_services zs = {NULL, NULL, 0};
	int r = zone_services_of(s, s->conf, zone_idx, &zs);
	if (r == SOV_OK)
		r = zone_load_services(s->conf->zones[zone_idx].origin, path, &zs, out, diag);
	free((void *)zs.names);
	free((void *)zs.ids);
	return r;
}

int snapshot_finish_zone(const snapshot_t *s, size_t zone_idx, zone_builder_t *b, zone_t **out,
			 diag_t *diag)
{
	*out = NULL;
	if (zone_idx >= s->conf->zone_count) {
		zone_builder_free(b);
		return SOV_EINVAL;
	}
	struct zone_services zs = {NULL, NULL, 0};
	int r = zone_services_of(s, s->conf, zone_idx, &zs);
	if (r == SOV_OK)
		r = zone_builder_finish(b, &zs, out, diag);
	else
		zone_builder_free(b);
	free((void *)zs.names);
	free((void *)zs.ids);
	return r;
}

int snapshot_zone_service_names(const snapshot_t *s, size_t zone_idx, const uint8_t ***names,
				size_t *count)
{
	*names = NULL;
	*count = 0;
	if (zone_idx >= s->conf->zone_count)
		return SOV_EINVAL;
	struct zone_services zs = {NULL, NULL, 0};
	int r = zone_services_of(s, s->conf, zone_idx, &zs);
	free((void *)zs.ids);
	if (r != SOV_OK)
		return r;
	*names = (const uint8_t **)zs.names;
	*count = zs.count;
	return SOV_OK;
}

int snapshot_respin(const snapshot_t *cur, size_t zone_idx, zone_t *z, snapshot_t **out)
{
	*out = NULL;
	snapshot_t *s = malloc(sizeof(*s));
	if (s == NULL) {
		zone_free(z);
		return SOV_ENOMEM;
	}
	memcpy(s, cur, sizeof(*s));
	s->journals = NULL; /* cur's references; ours are taken below */
	atomic_init(&s->refs, 1);
	s->loaded_at_ms = clock_unix_ms();
	s->generation = 0;
	s->owner = snapshot_ref(cur->owner ? cur->owner : cur);
	s->zones = zonedb_new();
	int ret = s->zones ? SOV_OK : SOV_ENOMEM;
	for (size_t i = 0; ret == SOV_OK && i < zonedb_count(cur->zones); i++) {
		zone_t *zi = i == zone_idx ? z : zone_ref(zonedb_get(cur->zones, i));
		if (i == zone_idx)
			z = NULL;
		ret = zonedb_add(s->zones, zi);
		if (ret != SOV_OK)
			zone_free(zi);
	}
	if (ret == SOV_OK)
		ret = zonedb_finish(s->zones);
	/* Every other zone keeps its journal; the replaced one has none (a
	 * secondary's differences are not ours to serve yet). */
	if (ret == SOV_OK && cur->journals != NULL) {
		s->journals = calloc(zonedb_count(s->zones) + 1, sizeof(*s->journals));
		for (size_t i = 0; s->journals != NULL && i < zonedb_count(s->zones); i++)
			s->journals[i] = i == zone_idx ? NULL : journal_ref(cur->journals[i]);
	}
	zone_free(z); /* not taken: zone_idx out of range, or an earlier failure */
	if (ret != SOV_OK) {
		snapshot_free(s);
		return ret;
	}
	*out = s;
	return SOV_OK;
}

void snapshot_free(snapshot_t *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; s->journals != NULL && i < zonedb_count(s->zones); i++)
		journal_unref(s->journals[i]);
	free(s->journals);
	zonedb_free(s->zones);
	if (s->owner != NULL) {
		snapshot_unref(s->owner); /* it owns the configuration, geo, keys, RRL */
		free(s);
		return;
	}
	xfr_conf_free(s->xfr);
	geo_ctx_free(s->geo);
	free(s->svc_dc_answers);
	rrl_free(s->rrl);
	config_free(s->conf);
	free(s);
}

snapshot_t *snapshot_swap(snapshot_t *s)
{
	if (s != NULL)
		s->generation = ++snapshot_generation_last;
	return rcu_xchg_pointer(&snapshot_live, s);
}

void snapshot_retire(snapshot_t *old)
{
	if (old != NULL) {
		/* Every reader that could still see `old` entered its critical
		 * section before the exchange; once they have all left, nobody can
		 * take a new reference. Transfers that hold one free it last. */
		urcu_memb_synchronize_rcu();
		snapshot_unref(old);
	}
}

snapshot_t *snapshot_ref(const snapshot_t *s)
{
	snapshot_t *m = (snapshot_t *)s;
	atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	return m;
}

void snapshot_unref(snapshot_t *s)
{
	if (s != NULL && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		snapshot_free(s);
}

void snapshot_publish(snapshot_t *s)
{
	snapshot_retire(snapshot_swap(s));
}

const snapshot_t *snapshot_current(void)
{
	return rcu_dereference(snapshot_live);
}

void snapshot_thread_register(void)
{
	urcu_memb_register_thread();
}

void snapshot_thread_unregister(void)
{
	urcu_memb_unregister_thread();
}

void snapshot_read_lock(void)
{
	urcu_memb_read_lock();
}

void snapshot_read_unlock(void)
{
	urcu_memb_read_unlock();
}
