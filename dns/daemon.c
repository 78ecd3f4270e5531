#include "dns/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "common/addr.h"
#include "common/err.h"
#include "common/log.h"
#include "dns/answer.h"
#include "dns/monitor.h"
#include "dns/server.h"
#include "dns/snapshot.h"

/* What a running server cannot change without a restart, and the log
 * settings in force. */
struct fixed_settings {
	sov_sockaddr_t *listen;
	size_t listen_count;
	unsigned threads;
	int log_level;
	bool log_syslog;
};

struct daemon {
	daemon_config_fn load;
	void *load_arg;
	pthread_mutex_t reload_lock; /* one reload at a time (SIGHUP, API) */
	pthread_mutex_t view_lock;   /* guards `snap` for the API's callbacks */
	snapshot_t *snap;            /* the published snapshot */
	monitor_t *mon;              /* borrowed by snap; NULL without datacenters */
	server_t *srv;
	api_t *api;                  /* NULL without "api"/"state_dir" */
	struct api_config acfg;
	json_t *api_sections;        /* "api" and "state_dir" at start (reload warns on change) */
	char **dc_ids;               /* the datacenters the admin table is indexed by */
	size_t dc_count;
	struct fixed_settings fixed;
	int64_t started_ms;
	/* Drain waits must cover TTLs of answers given before a reload that
	 * lowered them: the previous per-dc maximum, valid until this time. */
	uint32_t *dc_ttl_prev;
	int64_t dc_ttl_prev_until_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t snapshot_records(const snapshot_t *s)
{
	size_t n = 0;
	for (size_t i = 0; i < zonedb_count(s->zones); i++)
		n += zonedb_get(s->zones, i)->record_count;
	return n;
}

/* ------------------------------------------------------------- monitor */

static void on_transition(const struct probe_transition *t, void *arg)
{
	daemon_t *d = arg;
	/* Datacenter targets come first in the health table (probe.h). */
	if (d->api != NULL && t->service == NULL && t->target < d->dc_count)
		api_event_health(d->api, t->target, (enum api_health)t->from,
				 (enum api_health)t->to, t->reason);
}

/*
 * Gives snapshot s the monitor it needs: the running one (cur) when the
 * datacenters/services/probes did not change, else a new one, started and,
 * when `wait`, through its first probe round; stored in *fresh.
 */
static int monitor_attach(daemon_t *d, snapshot_t *s, monitor_t *cur, monitor_t **fresh, bool wait,
			  diag_t *diag)
{
	*fresh = NULL;
	if (s->geo == NULL)
		return SOV_OK; /* no datacenters: nothing to probe */
	if (cur != NULL && monitor_same_config(cur, s->conf)) {
		s->mon = cur;
		return SOV_OK;
	}
	monitor_t *m = NULL;
	int r = monitor_new(s->conf, s->geo, &m, diag);
	if (r != SOV_OK)
		return r;
	monitor_set_listener(m, on_transition, d);
	r = monitor_start(m);
	if (r != SOV_OK) {
		diag_add(diag, s->conf->path, 0, 0, "cannot start the probe thread: %s", err_str(r));
		monitor_free(m);
		return r;
	}
	if (wait)
		monitor_first_round(m);
	s->mon = m;
	*fresh = m;
	return SOV_OK;
}

/* ------------------------------------------------------- backend (API) */

/* Whether datacenter dc is named by some answer now: usable and chosen by
 * the policy (failover names only the first usable ones), or named by the
 * service's on_all_down rule when none is usable. */
static bool dc_in_answers(const snapshot_t *s, size_t dc)
{
	if (s->geo == NULL)
		return false;
	for (size_t k = 0; k < geo_service_count(s->geo); k++) {
		const struct geo_service_info *si = geo_service(s->geo, k);
		size_t usable = 0, rank = SIZE_MAX;
		bool member = false;
		for (size_t i = 0; i < si->dc_count; i++) {
			if (si->dcs[i] == dc) {
				member = true;
				if (answer_dc_usable(s, k, dc))
					rank = usable;
			}
			if (answer_dc_usable(s, k, si->dcs[i]))
				usable++;
		}
		if (!member)
			continue;
		if (rank != SIZE_MAX &&
		    (si->policy != GEO_POLICY_FAILOVER || rank < si->max_answers))
			return true;
		if (usable == 0) {
			uint32_t admin = s->admin ? (atomic_load(&s->admin[dc]) & 3u) : 0;
			if (si->on_all_down == GEO_DOWN_ALL && admin == 0)
				return true;
			if (si->on_all_down == GEO_DOWN_FIRST && si->dcs[0] == dc)
				return true;
		}
	}
	return false;
}

static json_t *addr_list(const geo_ctx_t *geo, size_t dc)
{
	json_t *a = json_array();
	static const int fams[2] = {AF_INET, AF_INET6};
	for (int f = 0; a && f < 2; f++) {
		size_t n;
		const uint8_t *p = geo_dc_addrs(geo, dc, fams[f], &n);
		for (size_t i = 0; i < n; i++) {
			char buf[INET6_ADDRSTRLEN];
			if (inet_ntop(fams[f], p + i * (fams[f] == AF_INET ? 4 : 16), buf, sizeof(buf)))
				json_array_append_new(a, json_string(buf));
		}
	}
	return a;
}

static json_t *rfc3339_ms(int64_t ms)
{
	if (ms <= 0)
		return json_null();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[40];
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static int be_dc_view(void *ctx, size_t dc, struct api_dc_view *out)
{
	daemon_t *d = ctx;
	int ret = SOV_OK;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&d->view_lock);
	const snapshot_t *s = d->snap;
	if (s == NULL || s->geo == NULL || dc >= geo_dc_count(s->geo)) {
		ret = SOV_ENOENT;
		goto finish;
	}
	out->health = s->mon ? (enum api_health)monitor_dc_health(s->mon, dc) : API_HEALTH_UNKNOWN;
	out->in_answers = dc_in_answers(s, dc);
	out->extra = json_object();
	json_object_set_new(out->extra, "addresses", addr_list(s->geo, dc));
	if (s->mon != NULL) {
		struct health_detail hd;
		if (health_detail_get(monitor_table(s->mon), dc, &hd) == SOV_OK) {
			out->health_changed_ms = hd.last_change_unix_ms;
			json_t *p = json_pack(
			    "{s:s, s:b, s:s, s:s, s:I, s:o, s:I, s:I}", "state",
			    health_state_name(hd.state), "last_ok", hd.last_ok, "last_result",
			    hd.last_text, "change_reason", hd.change_reason, "latency_ms",
			    (json_int_t)hd.last_latency_ms, "last_check", rfc3339_ms(hd.last_check_unix_ms),
			    "checks_total", (json_int_t)hd.checks_total, "failures_total",
			    (json_int_t)hd.failures_total);
			if (p != NULL && hd.cert_days_left != HEALTH_CERT_DAYS_NONE)
				json_object_set_new(p, "certificate_days_left",
						    json_integer(hd.cert_days_left));
			if (p != NULL)
				json_object_set_new(out->extra, "probes", p);
		}
	}
finish:
	pthread_mutex_unlock(&d->view_lock);
	return ret;
}

static uint32_t dc_max_ttl(const snapshot_t *s, size_t dc)
{
	uint32_t ttl = 0;
	for (size_t k = 0; s->geo && k < geo_service_count(s->geo); k++) {
		const struct geo_service_info *si = geo_service(s->geo, k);
		for (size_t i = 0; i < si->dc_count; i++)
			if (si->dcs[i] == dc && si->ttl_s > ttl)
				ttl = si->ttl_s;
	}
	return ttl;
}

static uint32_t be_dc_max_ttl_s(void *ctx, size_t dc)
{
	daemon_t *d = ctx;
	pthread_mutex_lock(&d->view_lock);
	uint32_t ttl = d->snap ? dc_max_ttl(d->snap, dc) : 0;
	if (d->dc_ttl_prev != NULL && dc < d->dc_count && now_ms() < d->dc_ttl_prev_until_ms &&
	    d->dc_ttl_prev[dc] > ttl)
		ttl = d->dc_ttl_prev[dc];
	pthread_mutex_unlock(&d->view_lock);
	return ttl;
}

static size_t be_service_count(void *ctx)
{
	daemon_t *d = ctx;
	pthread_mutex_lock(&d->view_lock);
	size_t n = d->snap && d->snap->geo ? geo_service_count(d->snap->geo) : 0;
	pthread_mutex_unlock(&d->view_lock);
	return n;
}

static int be_service_view(void *ctx, size_t i, struct api_service_view *out)
{
	daemon_t *d = ctx;
	int ret = SOV_ENOENT;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&d->view_lock);
	const snapshot_t *s = d->snap;
	if (s != NULL && s->geo != NULL && i < geo_service_count(s->geo)) {
		const struct geo_service_info *si = geo_service(s->geo, i);
		dname_to_str(si->name_wire, out->name, sizeof(out->name));
		snprintf(out->policy, sizeof(out->policy), "%s", geo_policy_str(si->policy));
		out->ttl_s = si->ttl_s;
		out->dc_count = si->dc_count < API_SERVICE_DCS_MAX ? si->dc_count : API_SERVICE_DCS_MAX;
		for (size_t k = 0; k < out->dc_count; k++) {
			out->dcs[k].dc = si->dcs[k];
			out->dcs[k].health_ok =
			    s->mon == NULL || monitor_health(s->mon, i, si->dcs[k]) != HEALTH_DOWN;
		}
		ret = SOV_OK;
	}
	pthread_mutex_unlock(&d->view_lock);
	return ret;
}

static const char *outcome_str(enum geo_outcome o)
{
	switch (o) {
	case GEO_OUT_OK: return "ok";
	case GEO_OUT_NOFAMILY: return "no_address_of_family";
	case GEO_OUT_DOWN_ALL: return "fail_open";
	case GEO_OUT_DOWN_FIRST: return "all_down_first";
	case GEO_OUT_DOWN_EMPTY: return "all_down_empty";
	}
	return "unknown";
}

static int be_answer(void *ctx, const char *service, const struct sockaddr *client, json_t **out)
{
	daemon_t *d = ctx;
	uint8_t name[DNAME_MAXLEN];
	struct geo_client gc;
	int ret = SOV_ENOENT;
	*out = NULL;
	if (dname_from_str(service, name) < 0)
		return SOV_ENOENT;
	pthread_mutex_lock(&d->view_lock);
	const snapshot_t *s = d->snap;
	int svc = s && s->geo ? geo_service_find(s->geo, name) : SOV_ENOENT;
	if (svc < 0)
		goto finish;
	const struct geo_client *pc =
	    geo_client_from_sockaddr(client, &gc) == SOV_OK ? &gc : NULL;
	json_t *o = json_object();
	json_t *dcs = json_array(), *addrs = json_array();
	static const uint16_t types[2] = {DNS_TYPE_A, DNS_TYPE_AAAA};
	for (int t = 0; t < 2; t++) {
		struct geo_result r;
		uint32_t ttl;
		if (answer_service_select(s, (size_t)svc, pc, types[t], &r, &ttl) != SOV_OK)
			continue;
		for (size_t k = 0; k < r.count; k++) {
			json_t *id = json_string(geo_dc_id(s->geo, r.dc[k]));
			size_t idx;
			json_t *v;
			bool seen = false;
			json_array_foreach(dcs, idx, v) seen |= json_equal(v, id);
			if (!seen)
				json_array_append(dcs, id);
			json_decref(id);
			size_t n;
			const uint8_t *a = geo_result_addrs(s->geo, &r, k, &n);
			for (size_t i = 0; i < n; i++) {
				char buf[INET6_ADDRSTRLEN];
				int fam = types[t] == DNS_TYPE_A ? AF_INET : AF_INET6;
				if (inet_ntop(fam, a + i * (fam == AF_INET ? 4 : 16), buf, sizeof(buf)))
					json_array_append_new(addrs, json_string(buf));
			}
		}
		if (t == 0) {
			json_object_set_new(o, "ttl_s", json_integer(ttl));
			json_object_set_new(o, "ecs_scope", json_integer(r.ecs_scope));
			json_object_set_new(o, "fail_open", json_boolean(r.outcome >= GEO_OUT_DOWN_ALL));
			json_object_set_new(o, "outcome", json_string(outcome_str(r.outcome)));
			json_object_set_new(o, "internal", json_boolean(r.internal));
		}
	}
	json_object_set_new(o, "datacenters", dcs);
	json_object_set_new(o, "addresses", addrs);
	*out = o;
	ret = SOV_OK;
finish:
	pthread_mutex_unlock(&d->view_lock);
	return ret;
}

static json_t *be_status(void *ctx)
{
	daemon_t *d = ctx;
	json_t *o = json_object();
	json_t *zones = json_array();
	pthread_mutex_lock(&d->view_lock);
	const snapshot_t *s = d->snap;
	json_object_set_new(o, "version", json_string(SOVDNS_VERSION));
	json_object_set_new(o, "uptime_s", json_integer((now_ms() - d->started_ms) / 1000));
	json_object_set_new(o, "started_at", rfc3339_ms(d->started_ms));
	if (s != NULL) {
		int64_t loaded = (int64_t)s->loaded_at.tv_sec * 1000 + s->loaded_at.tv_nsec / 1000000;
		json_object_set_new(o, "snapshot_loaded_at", rfc3339_ms(loaded));
		json_object_set_new(o, "snapshot_generation", json_integer((json_int_t)s->generation));
		json_object_set_new(o, "snapshot_load_us", json_integer((json_int_t)(s->load_ms * 1000)));
		for (size_t i = 0; i < zonedb_count(s->zones); i++) {
			const zone_t *z = zonedb_get(s->zones, i);
			json_array_append_new(zones,
					      json_pack("{s:s, s:I, s:I}", "origin", z->origin_str,
							"serial", (json_int_t)z->serial, "records",
							(json_int_t)z->record_count));
		}
		json_object_set_new(o, "services",
				    json_integer(s->geo ? (json_int_t)geo_service_count(s->geo) : 0));
		json_object_set_new(o, "probes_ready", json_boolean(s->mon == NULL || monitor_ready(s->mon)));
	}
	pthread_mutex_unlock(&d->view_lock);
	json_object_set_new(o, "zones", zones);
	return o;
}

static int be_reload(void *ctx, char *why, size_t cap)
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

static void metric_line(FILE *out, const char *name, const char *help, const char *type)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int be_metrics(void *ctx, FILE *out)
{
	daemon_t *d = ctx;
	static const char *const rcodes[17] = {
	    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
	    "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14", "RCODE15",
	    "BADVERS"};
	struct query_stats st;
	memset(&st, 0, sizeof(st));
	if (d->srv != NULL)
		server_stats(d->srv, &st);

	metric_line(out, "sovdns_queries_total", "DNS queries received, by transport.", "counter");
	fprintf(out, "sovdns_queries_total{transport=\"udp\"} %llu\n",
		(unsigned long long)st.queries[DNS_UDP]);
	fprintf(out, "sovdns_queries_total{transport=\"tcp\"} %llu\n",
		(unsigned long long)st.queries[DNS_TCP]);
	metric_line(out, "sovdns_responses_total", "DNS replies sent, by rcode.", "counter");
	for (int i = 0; i < 17; i++)
		if (st.rcode[i] > 0 || i == 0 || i == 3 || i == 5)
			fprintf(out, "sovdns_responses_total{rcode=\"%s\"} %llu\n", rcodes[i],
				(unsigned long long)st.rcode[i]);
	metric_line(out, "sovdns_dropped_total", "Packets not answered (runts, QR set).", "counter");
	fprintf(out, "sovdns_dropped_total %llu\n", (unsigned long long)st.dropped);
	metric_line(out, "sovdns_truncated_total", "UDP replies sent with TC set.", "counter");
	fprintf(out, "sovdns_truncated_total %llu\n", (unsigned long long)st.truncated);
	metric_line(out, "sovdns_referrals_total", "Referrals to child zones.", "counter");
	fprintf(out, "sovdns_referrals_total %llu\n", (unsigned long long)st.referrals);
	metric_line(out, "sovdns_nodata_total", "NOERROR replies without an answer (NODATA).",
		    "counter");
	fprintf(out, "sovdns_nodata_total %llu\n", (unsigned long long)st.nodata);
	metric_line(out, "sovdns_service_answers_total",
		    "A/AAAA answers chosen from datacenters.", "counter");
	fprintf(out, "sovdns_service_answers_total %llu\n", (unsigned long long)st.service_answers);
	metric_line(out, "sovdns_fail_open_total",
		    "Service answers given while no datacenter was usable (on_all_down applied).",
		    "counter");
	fprintf(out, "sovdns_fail_open_total %llu\n", (unsigned long long)st.fail_open);
	metric_line(out, "sovdns_rrl_dropped_total",
		    "UDP replies withheld by response rate limiting.", "counter");
	fprintf(out, "sovdns_rrl_dropped_total %llu\n", (unsigned long long)st.rrl_dropped);
	metric_line(out, "sovdns_rrl_slipped_total",
		    "UDP replies sent truncated (TC=1) by response rate limiting.", "counter");
	fprintf(out, "sovdns_rrl_slipped_total %llu\n", (unsigned long long)st.rrl_slipped);

	pthread_mutex_lock(&d->view_lock);
	const snapshot_t *s = d->snap;
	if (s != NULL) {
		metric_line(out, "sovdns_snapshot_generation", "Configuration generation in service.",
			    "gauge");
		fprintf(out, "sovdns_snapshot_generation %llu\n", (unsigned long long)s->generation);
		metric_line(out, "sovdns_zone_serial", "SOA serial of each zone served.", "gauge");
		for (size_t i = 0; i < zonedb_count(s->zones); i++) {
			const zone_t *z = zonedb_get(s->zones, i);
			fprintf(out, "sovdns_zone_serial{zone=\"%s\"} %u\n", z->origin_str, z->serial);
		}
	}
	if (s != NULL && s->geo != NULL) {
		size_t ndc = geo_dc_count(s->geo);
		metric_line(out, "sovdns_service_datacenter_answers_total",
			    "Answers naming a datacenter, by service (since the last reload).",
			    "counter");
		for (size_t k = 0; k < geo_service_count(s->geo); k++) {
			const struct geo_service_info *si = geo_service(s->geo, k);
			for (size_t i = 0; i < si->dc_count; i++)
				fprintf(out,
					"sovdns_service_datacenter_answers_total{service=\"%s\","
					"datacenter=\"%s\"} %llu\n",
					si->name, geo_dc_id(s->geo, si->dcs[i]),
					(unsigned long long)atomic_load_explicit(
					    &s->svc_dc_answers[k * ndc + si->dcs[i]],
					    memory_order_relaxed));
		}
		metric_line(out, "sovdns_datacenter_health",
			    "Health of each datacenter from the probes: 1 for its current state.",
			    "gauge");
		for (size_t i = 0; i < ndc; i++) {
			enum health_state h = s->mon ? monitor_dc_health(s->mon, i) : HEALTH_UNKNOWN;
			static const char *const names[3] = {"unknown", "up", "down"};
			for (int k = 0; k < 3; k++)
				fprintf(out, "sovdns_datacenter_health{datacenter=\"%s\",state=\"%s\"} %d\n",
					geo_dc_id(s->geo, i), names[k], (int)h == k);
		}
		metric_line(out, "sovdns_datacenter_in_answers",
			    "1 if some answer names the datacenter now.", "gauge");
		for (size_t i = 0; i < ndc; i++)
			fprintf(out, "sovdns_datacenter_in_answers{datacenter=\"%s\"} %d\n",
				geo_dc_id(s->geo, i), dc_in_answers(s, i));
	}
	if (s != NULL && s->mon != NULL) {
		const probe_config_t *pc = monitor_probes(s->mon);
		health_table_t *t = monitor_table(s->mon);
		/* Prometheus text: each metric's samples form one group. */
		static const struct {
			const char *name, *help, *type;
		} pm[4] = {
		    {"sovdns_probe_checks_total", "Probe results recorded, by target.", "counter"},
		    {"sovdns_probe_failures_total", "Failed probe results, by target.", "counter"},
		    {"sovdns_probe_latency_ms", "Duration of the latest probe, by target.", "gauge"},
		    {"sovdns_certificate_expiry_days",
		     "Days until the probed certificate expires (negative: expired).", "gauge"},
		};
		for (int m = 0; m < 4; m++) {
			metric_line(out, pm[m].name, pm[m].help, pm[m].type);
			for (size_t i = 0; i < pc->target_count; i++) {
				struct health_detail hd;
				if (health_detail_get(t, i, &hd) != SOV_OK)
					continue;
				const char *tn = pc->targets[i].name;
				long long v = m == 0   ? (long long)hd.checks_total
					      : m == 1 ? (long long)hd.failures_total
					      : m == 2 ? (long long)hd.last_latency_ms
						       : (long long)hd.cert_days_left;
				if (m == 3 && hd.cert_days_left == HEALTH_CERT_DAYS_NONE)
					continue;
				fprintf(out, "%s{target=\"%s\"} %lld\n", pm[m].name, tn, v);
			}
		}
	}
	pthread_mutex_unlock(&d->view_lock);
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

static bool wants_api(const config_t *c)
{
	return c->json != NULL && (json_object_get(c->json, "api") != NULL ||
				   json_object_get(c->json, "state_dir") != NULL);
}

/* The datacenter ids of s, in index order (heap, NULL-terminated). */
static char **dc_ids_of(const snapshot_t *s, size_t *count)
{
	size_t n = s->geo ? geo_dc_count(s->geo) : 0;
	char **ids = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; ids && i < n; i++) {
		ids[i] = strdup(geo_dc_id(s->geo, i));
		if (ids[i] == NULL) {
			for (size_t k = 0; k < i; k++)
				free(ids[k]);
			free(ids);
			return NULL;
		}
	}
	*count = n;
	return ids;
}

static void dc_ids_free(char **ids)
{
	for (size_t i = 0; ids && ids[i]; i++)
		free(ids[i]);
	free(ids);
}

static int api_setup(daemon_t *d, snapshot_t *s, diag_t *diag)
{
	api_config_init(&d->acfg);
	if (!wants_api(s->conf))
		return SOV_OK;
	int r = api_config_parse(s->conf->json, s->conf->path, &d->acfg, diag);
	if (r != SOV_OK)
		return r;
	d->api_sections = api_sections_of(s->conf);
	d->dc_ids = dc_ids_of(s, &d->dc_count);
	if (d->dc_ids == NULL || d->api_sections == NULL)
		return SOV_ENOMEM;
	static const struct api_backend be_template = {
	    .status = be_status,
	    .dc_view = be_dc_view,
	    .dc_max_ttl_s = be_dc_max_ttl_s,
	    .service_count = be_service_count,
	    .service_view = be_service_view,
	    .answer = be_answer,
	    .reload = be_reload,
	    .metrics = be_metrics,
	};
	struct api_backend be = be_template;
	be.ctx = d;
	r = api_new(&d->acfg, (const char *const *)d->dc_ids, d->dc_count, &be, &d->api, diag);
	if (r != SOV_OK)
		return r;
	s->admin = api_admin_words(d->api);
	return SOV_OK;
}

/* ------------------------------------------------------------ lifecycle */

/*
 * Least privilege: once every socket is bound (port 53 needs root) and the
 * state directory is open, become `user` for good — its groups, then its
 * gid, then its uid, and check that root cannot be regained. glibc applies
 * setuid/setgid to every thread of the process.
 */
static int drop_privileges(const char *user, diag_t *diag)
{
	if (user == NULL)
		return SOV_OK;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		diag_add(diag, NULL, 0, 0, "\"user\": no such account \"%s\"", user);
		return SOV_EINVAL;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return SOV_OK;
		diag_add(diag, NULL, 0, 0,
			 "\"user\": cannot become %s: not started as root (running as uid %u)", user,
			 (unsigned)geteuid());
		return SOV_ESYS;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		diag_add(diag, NULL, 0, 0, "\"user\": cannot become %s: %s", user, strerror(errno));
		return SOV_ESYS;
	}
	if (setuid(0) == 0) {
		diag_add(diag, NULL, 0, 0, "\"user\": root could be regained after becoming %s", user);
		return SOV_ESYS;
	}
	log_info("main", "running as %s (uid %u, gid %u)", user, (unsigned)pw->pw_uid,
		 (unsigned)pw->pw_gid);
	return SOV_OK;
}

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
	d->started_ms = now_ms();
	pthread_mutex_init(&d->reload_lock, NULL);
	pthread_mutex_init(&d->view_lock, NULL);
	api_config_init(&d->acfg);

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
	ret = monitor_attach(d, s, NULL, &d->mon, false, diag);
	if (ret != SOV_OK)
		goto fail;
	ret = api_setup(d, s, diag);
	if (ret != SOV_OK)
		goto fail;

	d->snap = s;
	snapshot_publish(s);
	s = NULL;
	ret = server_start(d->snap->conf, &d->srv);
	if (ret != SOV_OK) {
		diag_add(diag, NULL, 0, 0, "cannot start serving (see the log above)");
		ret = SOV_ESYS;
		goto fail;
	}
	if (d->api != NULL) {
		ret = api_start(d->api, diag);
		if (ret != SOV_OK) {
			ret = SOV_ESYS;
			goto fail;
		}
	}
	ret = drop_privileges(d->snap->conf->user, diag);
	if (ret != SOV_OK)
		goto fail;
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
		int n = snprintf(addrs + used, sizeof(addrs) - used, "%s%s (udp+tcp)", i ? ", " : "",
				 addr_format((struct sockaddr *)&d->fixed.listen[i].ss, a, sizeof(a)));
		if (n < 0 || (size_t)n >= sizeof(addrs) - used)
			break;
		used += (size_t)n;
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned workers = d->fixed.threads ? d->fixed.threads : (ncpu > 0 ? (unsigned)ncpu : 1);
	const snapshot_t *s = d->snap;
	char api[80] = "";
	if (d->api != NULL && api_port(d->api) != 0)
		snprintf(api, sizeof(api), ", HTTP API on port %u", api_port(d->api));
	log_info("main",
		 "ready: serving %zu zones on %s, %u workers, generation %llu, %zu records "
		 "loaded in %.1f ms%s",
		 zonedb_count(s->zones), addrs, workers, (unsigned long long)s->generation,
		 snapshot_records(s), s->load_ms, api);
	if (d->mon != NULL)
		monitor_first_round(d->mon); /* services answer SERVFAIL until it is done */
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
			int32_t diff = (int32_t)(z->serial - o->serial);
			if (diff < 0)
				log_warn("zone",
					 "%s: SOA serial went down from %u to %u; secondaries will "
					 "not transfer it (raise the serial above %u)",
					 z->origin_str, o->serial, z->serial, o->serial);
		}
	}
}

int daemon_reload(daemon_t *d, diag_t *diag)
{
	config_t *c = NULL;
	snapshot_t *s = NULL;
	monitor_t *fresh = NULL;
	int r;

	pthread_mutex_lock(&d->reload_lock);
	r = d->load(d->load_arg, &c, diag);
	if (r == SOV_OK) {
		if (!listen_equal(&d->fixed, c))
			log_warn("main", "reload: the listen addresses changed; restart needed to apply "
					 "them (still serving on the old ones)");
		if (c->threads != d->fixed.threads)
			log_warn("main", "reload: \"threads\" changed (%u -> %u); restart needed to "
					 "apply it",
				 d->fixed.threads, c->threads);
		r = snapshot_build(c, &s, diag); /* takes c */
	}
	if (r == SOV_OK && d->api != NULL) {
		size_t n = 0;
		char **ids = dc_ids_of(s, &n);
		bool same = ids != NULL && n == d->dc_count;
		for (size_t i = 0; same && i < n; i++)
			same = strcmp(ids[i], d->dc_ids[i]) == 0;
		dc_ids_free(ids);
		if (!same) {
			diag_add(diag, s->conf->path, 0, 0,
				 "the list of datacenters changed; the API keeps admin state per "
				 "datacenter, so this needs a restart (still serving the old "
				 "configuration)");
			r = SOV_ESEMANTIC;
		} else {
			json_t *a = api_sections_of(s->conf);
			if (a != NULL && !json_equal(a, d->api_sections))
				log_warn("main", "reload: \"api\"/\"state_dir\" changed; restart needed "
						 "to apply them");
			json_decref(a);
			s->admin = api_admin_words(d->api);
		}
	}
	if (r == SOV_OK) {
		/* A changed probe setup runs its first round now, while the old
		 * snapshot keeps answering. */
		r = monitor_attach(d, s, d->mon, &fresh, true, diag);
	}
	if (r != SOV_OK) {
		snapshot_free(s);
		for (size_t i = 0; i < diag_count(diag); i++)
			log_err("main", "%s", diag_get(diag, i));
		if (diag_count(diag) == 0)
			log_err("main", "reload failed: %s", err_str(r));
		log_err("main", "reload refused, still serving generation %llu",
			(unsigned long long)d->snap->generation);
		goto finish;
	}
	/* log_init() writes globals the workers read without a lock: only
	 * touch them when the operator actually changed the log settings. */
	if (s->conf->log_level != d->fixed.log_level || s->conf->log_syslog != d->fixed.log_syslog) {
		log_init((enum log_level)s->conf->log_level, s->conf->log_syslog);
		d->fixed.log_level = s->conf->log_level;
		d->fixed.log_syslog = s->conf->log_syslog;
	}

	/* Swap what the API sees; remember the old TTLs for drain waits. */
	pthread_mutex_lock(&d->view_lock);
	if (d->dc_count > 0) {
		uint32_t *prev = calloc(d->dc_count, sizeof(uint32_t));
		uint32_t longest = 0;
		for (size_t i = 0; prev && i < d->dc_count; i++) {
			prev[i] = dc_max_ttl(d->snap, i);
			if (d->dc_ttl_prev && now_ms() < d->dc_ttl_prev_until_ms &&
			    d->dc_ttl_prev[i] > prev[i])
				prev[i] = d->dc_ttl_prev[i];
			if (prev[i] > longest)
				longest = prev[i];
		}
		if (prev != NULL) {
			free(d->dc_ttl_prev);
			d->dc_ttl_prev = prev;
			d->dc_ttl_prev_until_ms = now_ms() + (int64_t)longest * 1000;
		}
	}
	warn_serials(d->snap, s);
	monitor_t *old_mon = d->mon;
	d->snap = s;
	pthread_mutex_unlock(&d->view_lock);

	size_t nzones = zonedb_count(s->zones);
	size_t nrecords = snapshot_records(s);
	double ms = s->load_ms;
	snapshot_publish(s); /* waits for the readers of the old one, then frees it */
	if (s->mon != old_mon) {
		/* The grace period is over: no snapshot borrows the old monitor. */
		monitor_free(old_mon);
		d->mon = fresh;
	}
	log_info("main", "reload: generation %llu, %zu zones, %zu records in %.1f ms",
		 (unsigned long long)s->generation, nzones, nrecords, ms);
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
	api_free(d->api);
	d->api = NULL;
	if (d->srv != NULL) {
		struct query_stats st;
		server_stats(d->srv, &st);
		server_stop(d->srv);
		log_info("main", "stopped: answered %llu UDP and %llu TCP queries, dropped %llu",
			 (unsigned long long)st.queries[DNS_UDP],
			 (unsigned long long)st.queries[DNS_TCP], (unsigned long long)st.dropped);
	}
	if (d->snap != NULL)
		snapshot_publish(NULL); /* frees the last snapshot */
	monitor_free(d->mon);
	api_config_clear(&d->acfg);
	json_decref(d->api_sections);
	dc_ids_free(d->dc_ids);
	free(d->dc_ttl_prev);
	free(d->fixed.listen);
	pthread_mutex_destroy(&d->reload_lock);
	pthread_mutex_destroy(&d->view_lock);
	free(d);
}
