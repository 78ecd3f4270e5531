#include "daemon/monitor.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "geo/usable.h"
#include "wire/dname.h"

struct monitor {
	/* What the answer path reads (snapshots borrow it): per (service, dc)
	 * health, rewritten on the probe thread after every transition, and
	 * the first-round flag. */
	struct geo_health live;
	probe_config_t *cfg;
	health_table_t *table;
	const _Atomic uint32_t *words;
	probe_engine_t *engine;
	size_t dc_count;
	size_t svc_count;
	/* svc_target[svc * dc_count + dc]: health index of the service's own
	 * probes at that dc, or SIZE_MAX when it has none. */
	size_t *svc_target;
	/* Copies of the sections the monitor was built from (reload reuse). */
	json_t *sections;
	probe_transition_cb listener;
	void *listener_arg;
	/* For the "service has no healthy datacenter" log line. */
	char **svc_names;
	uint16_t **svc_dcs;
	size_t *svc_dc_count;
	bool *svc_all_down;
	/* svc_all_down is judged only once the first round is done (a reload's
	 * new monitor would otherwise log "healthy again" while its targets are
	 * still unknown), by the probe thread and monitor_first_round's caller:
	 * under svc_lock, which monitor_inherit also takes on the old monitor. */
	pthread_mutex_t svc_lock;
	bool svc_judged;
};

static const char *const monitor_keys[] = {"datacenters", "services", "probes"};

static json_t *sections_of(const config_t *conf)
{
	json_t *o = json_object();
	const json_t *root = conf ? (const json_t *)conf->json : NULL;
	for (size_t i = 0; o && i < 3; i++) {
		json_t *v = root ? json_object_get(root, monitor_keys[i]) : NULL;
		json_object_set_new(o, monitor_keys[i], v ? json_deep_copy(v) : json_null());
	}
	return o;
}

/* Logs, once per change, when a service is left with no healthy datacenter
 * (fail-open or on_all_down applies from now on) and when it recovers. */
static void judge_services(monitor_t *m)
{
	pthread_mutex_lock(&m->svc_lock);
	for (size_t s = 0; m->svc_judged && s < m->svc_count; s++) {
		size_t up = 0;
		for (size_t k = 0; k < m->svc_dc_count[s]; k++)
			if (monitor_health(m, s, m->svc_dcs[s][k]) != HEALTH_DOWN)
				up++;
		bool down = up == 0;
		if (down != m->svc_all_down[s]) {
			m->svc_all_down[s] = down;
			if (down)
				log_warn("monitor",
					 "service %s: no datacenter is healthy; answering by its "
					 "on_all_down rule from now on",
					 m->svc_names[s]);
			else
				log_info("monitor", "service %s: a datacenter is healthy again",
					 m->svc_names[s]);
		}
	}
	pthread_mutex_unlock(&m->svc_lock);
}

/* Probe thread: a target changed state. */
static void monitor_on_transition(const struct probe_transition *t, void *arg)
{
	monitor_t *m = arg;
	/* The engine has published the new word: refresh every (service, dc)
	 * cell (at most 64 dcs per service; transitions are rare). */
	for (size_t s = 0; s < m->svc_count; s++)
		for (size_t d = 0; d < m->dc_count; d++)
			atomic_store_explicit(&m->live.svc_dc[s * m->dc_count + d],
					      (uint8_t)monitor_health(m, s, d),
					      memory_order_release);
	if (m->listener != NULL)
		m->listener(t, m->listener_arg);
	judge_services(m);
}

void monitor_inherit(monitor_t *m, monitor_t *prev)
{
	pthread_mutex_lock(&prev->svc_lock);
	for (size_t s = 0; s < m->svc_count; s++)
		for (size_t k = 0; k < prev->svc_count; k++)
			if (strcmp(m->svc_names[s], prev->svc_names[k]) == 0) {
				m->svc_all_down[s] = prev->svc_all_down[k];
				break;
			}
	pthread_mutex_unlock(&prev->svc_lock);
}

int monitor_new(const config_t *conf, const geo_ctx_t *geo, monitor_t **out, diag_t *diag)
{
	int ret = SOV_ENOMEM;
	monitor_t *m = calloc(1, sizeof(*m));
	struct probe_dc *dcs = NULL;
	sov_sockaddr_t *addrs = NULL;
	*out = NULL;
	if (m == NULL)
		goto finish;
	pthread_mutex_init(&m->svc_lock, NULL);
	m->dc_count = geo_dc_count(geo);
	m->svc_count = geo_service_count(geo);
	m->sections = sections_of(conf);
	if (m->sections == NULL)
		goto finish;

	/* The datacenters as the probes see them: the public addresses. */
	size_t total = 0;
	for (size_t d = 0; d < m->dc_count; d++) {
		size_t n4, n6;
		geo_dc_addrs(geo, d, AF_INET, &n4);
		geo_dc_addrs(geo, d, AF_INET6, &n6);
		total += n4 + n6;
	}
	dcs = calloc(m->dc_count ? m->dc_count : 1, sizeof(*dcs));
	addrs = calloc(total ? total : 1, sizeof(*addrs));
	if (dcs == NULL || addrs == NULL)
		goto finish;
	size_t ai = 0;
	for (size_t d = 0; d < m->dc_count; d++) {
		dcs[d].id = geo_dc_id(geo, d);
		dcs[d].addrs = &addrs[ai];
		static const int fams[2] = {AF_INET, AF_INET6};
		for (int f = 0; f < 2; f++) {
			size_t n;
			const uint8_t *a = geo_dc_addrs(geo, d, fams[f], &n);
			for (size_t k = 0; k < n; k++, ai++) {
				if (fams[f] == AF_INET) {
					struct sockaddr_in *sin =
					    (struct sockaddr_in *)&addrs[ai].ss;
					sin->sin_family = AF_INET;
					memcpy(&sin->sin_addr, a + 4 * k, 4);
					addrs[ai].len = sizeof(*sin);
				} else {
					struct sockaddr_in6 *sin6 =
					    (struct sockaddr_in6 *)&addrs[ai].ss;
					sin6->sin6_family = AF_INET6;
					memcpy(&sin6->sin6_addr, a + 16 * k, 16);
					addrs[ai].len = sizeof(*sin6);
				}
				dcs[d].addr_count++;
			}
		}
	}

	const json_t *section = conf && conf->json ? json_object_get(conf->json, "probes") : NULL;
	size_t before = diag_count(diag);
	ret =
	    probe_config_parse(section, dcs, m->dc_count, conf ? conf->path : NULL, &m->cfg, diag);
	if (ret != SOV_OK) {
		if (diag_count(diag) == before)
			diag_add(diag, conf ? conf->path : NULL, 0, 0, "probes: %s", err_str(ret));
		goto finish;
	}
	/* Every probed service must be a configured service. */
	for (size_t c = 0; c < m->cfg->check_count; c++) {
		const char *svc = m->cfg->checks[c].service;
		uint8_t wire[DNAME_MAXLEN];
		if (svc != NULL &&
		    (dname_from_str(svc, wire) < 0 || geo_service_find(geo, wire) < 0)) {
			unsigned line = 0, col = 0;
			config_locate(conf, section, &line, &col);
			diag_add(diag, conf ? conf->path : NULL, line, col,
				 "probes: check \"%s\" names service \"%s\", which is not in "
				 "\"services\"",
				 m->cfg->checks[c].name, svc);
			ret = SOV_ESEMANTIC;
		}
	}
	if (ret != SOV_OK)
		goto finish;

	ret = SOV_ENOMEM;
	m->table = health_table_new(m->cfg->target_count);
	if (m->table == NULL)
		goto finish;
	m->words = health_words(m->table);
	size_t cells = m->svc_count * m->dc_count;
	m->live.dc_count = m->dc_count;
	m->live.svc_count = m->svc_count;
	m->live.svc_dc = calloc(cells ? cells : 1, sizeof(*m->live.svc_dc)); /* 0: unknown */
	m->svc_target = malloc((cells ? cells : 1) * sizeof(size_t));
	m->svc_names = calloc(m->svc_count + 1, sizeof(char *));
	m->svc_dcs = calloc(m->svc_count + 1, sizeof(uint16_t *));
	m->svc_dc_count = calloc(m->svc_count + 1, sizeof(size_t));
	m->svc_all_down = calloc(m->svc_count + 1, sizeof(*m->svc_all_down));
	if (!m->live.svc_dc || !m->svc_target || !m->svc_names || !m->svc_dcs || !m->svc_dc_count ||
	    !m->svc_all_down)
		goto finish;
	for (size_t s = 0; s < m->svc_count; s++) {
		const struct geo_service_info *si = geo_service(geo, s);
		m->svc_names[s] = strdup(si->name);
		m->svc_dcs[s] = malloc(si->dc_count * sizeof(uint16_t));
		if (m->svc_names[s] == NULL || m->svc_dcs[s] == NULL)
			goto finish;
		memcpy(m->svc_dcs[s], si->dcs, si->dc_count * sizeof(uint16_t));
		m->svc_dc_count[s] = si->dc_count;
		for (size_t d = 0; d < m->dc_count; d++) {
			int t = probe_config_target_index(m->cfg, geo_dc_id(geo, d), si->name);
			m->svc_target[s * m->dc_count + d] = t >= 0 ? (size_t)t : SIZE_MAX;
		}
	}
	ret = probe_engine_new(m->cfg, m->table, monitor_on_transition, m, &m->engine);
	if (ret != SOV_OK) {
		diag_add(diag, conf ? conf->path : NULL, 0, 0, "cannot create the probe engine: %s",
			 err_str(ret));
		goto finish;
	}
	*out = m;
	m = NULL;
	ret = SOV_OK;
finish:
	free(dcs);
	free(addrs);
	monitor_free(m);
	return ret;
}

int monitor_start(monitor_t *m)
{
	if (m->cfg->instance_count == 0)
		return SOV_OK; /* nothing to probe: every target stays unknown (usable) */
	return probe_engine_start(m->engine);
}

void monitor_first_round(monitor_t *m)
{
	if (m->cfg->instance_count > 0) {
		size_t pending = 0;
		(void)probe_engine_first_round(m->engine, &pending);
		if (pending > 0)
			log_warn("monitor",
				 "%zu probe(s) had no result within the first round's time bound; "
				 "their targets stay unknown (usable) until they answer",
				 pending);
		else
			log_info("monitor", "first probe round done: %zu probe(s) of %zu target(s)",
				 m->cfg->instance_count, m->cfg->target_count);
	}
	atomic_store_explicit(&m->live.ready, true, memory_order_release);
	pthread_mutex_lock(&m->svc_lock);
	m->svc_judged = true;
	pthread_mutex_unlock(&m->svc_lock);
	judge_services(m);
}

bool monitor_ready(const monitor_t *m)
{
	return geo_health_ready(&m->live);
}

const struct geo_health *monitor_live(const monitor_t *m)
{
	return &m->live;
}

void monitor_set_listener(monitor_t *m, probe_transition_cb cb, void *arg)
{
	m->listener = cb;
	m->listener_arg = arg;
}

bool monitor_same_config(const monitor_t *m, const config_t *conf)
{
	json_t *s = sections_of(conf);
	bool same = s != NULL && json_equal(s, m->sections);
	json_decref(s);
	return same;
}

void monitor_stop(monitor_t *m)
{
	if (m != NULL && m->engine != NULL)
		probe_engine_stop(m->engine);
}

void monitor_free(monitor_t *m)
{
	if (m == NULL)
		return;
	if (m->engine != NULL)
		probe_engine_free(m->engine); /* stops the thread first */
	health_table_free(m->table);
	probe_config_free(m->cfg);
	for (size_t s = 0; m->svc_names && s < m->svc_count; s++)
		free(m->svc_names[s]);
	for (size_t s = 0; m->svc_dcs && s < m->svc_count; s++)
		free(m->svc_dcs[s]);
	free(m->svc_names);
	free(m->svc_dcs);
	free(m->svc_dc_count);
	free(m->svc_all_down);
	pthread_mutex_destroy(&m->svc_lock);
	free(m->svc_target);
	free(m->live.svc_dc);
	json_decref(m->sections);
	free(m);
}

enum health_state monitor_dc_health(const monitor_t *m, size_t dc)
{
	return dc < m->dc_count ? health_words_get(m->words, dc) : HEALTH_UNKNOWN;
}

enum health_state monitor_health(const monitor_t *m, size_t svc, size_t dc)
{
	enum health_state h = monitor_dc_health(m, dc);
	if (h == HEALTH_DOWN || svc >= m->svc_count)
		return h;
	size_t t = m->svc_target[svc * m->dc_count + dc];
	if (t == SIZE_MAX)
		return h;
	enum health_state hs = health_words_get(m->words, t);
	if (hs == HEALTH_DOWN)
		return HEALTH_DOWN;
	return (h == HEALTH_UP && hs == HEALTH_UP) ? HEALTH_UP : HEALTH_UNKNOWN;
}

health_table_t *monitor_table(const monitor_t *m)
{
	return m->table;
}

const probe_config_t *monitor_probes(const monitor_t *m)
{
	return m->cfg;
}
