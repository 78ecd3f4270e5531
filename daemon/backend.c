/* backend.c — what the HTTP API asks the daemon (api/api.h struct
 * api_backend): datacenter and service views, "what would you answer",
 * status, as JSON (reload is daemon.c's). Called on API threads, each under view_lock
 * while it reads the current snapshot and the monitor. */
#include <arpa/inet.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"
#include "daemon/daemon_int.h"
#include "dns/answer.h"
#include "dns/notify_out.h"
#include "dns/xfr_history.h"
#include "geo/usable.h"
#include "probe/health.h"
#include "wire/wire.h"

static json_t *addr_list(const geo_ctx_t *geo, size_t dc)
{
	json_t *a = json_array();
	static const int fams[2] = {AF_INET, AF_INET6};
	for (int f = 0; a && f < 2; f++) {
		size_t n;
		const uint8_t *p = geo_dc_addrs(geo, dc, fams[f], &n);
		for (size_t i = 0; i < n; i++) {
			char buf[INET6_ADDRSTRLEN];
			if (inet_ntop(fams[f], p + i * (fams[f] == AF_INET ? 4 : 16), buf,
				      sizeof(buf)))
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
	const snapshot_t *s = snapshot_current();
	if (s == NULL || s->geo == NULL || dc >= geo_dc_count(s->geo)) {
		ret = SOV_ENOENT;
		goto finish;
	}
	out->health = d->mon ? (enum api_health)monitor_dc_health(d->mon, dc) : API_HEALTH_UNKNOWN;
	out->in_answers = answer_dc_in_answers(s, dc);
	out->extra = json_object();
	json_object_set_new(out->extra, "addresses", addr_list(s->geo, dc));
	if (d->mon != NULL) {
		struct health_detail hd;
		if (health_detail_get(monitor_table(d->mon), dc, &hd) == SOV_OK) {
			out->health_changed_ms = hd.last_change_unix_ms;
			json_t *p = json_pack("{s:s, s:b, s:s, s:s, s:I, s:o, s:I, s:I}", "state",
					      health_state_name(hd.state), "last_ok", hd.last_ok,
					      "last_result", hd.last_text, "change_reason",
					      hd.change_reason, "latency_ms",
					      (json_int_t)hd.last_latency_ms, "last_check",
					      rfc3339_ms(hd.last_check_unix_ms), "checks_total",
					      (json_int_t)hd.checks_total, "failures_total",
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

static uint32_t be_dc_max_ttl_s(void *ctx, size_t dc)
{
	daemon_t *d = ctx;
	pthread_mutex_lock(&d->view_lock);
	const snapshot_t *s = snapshot_current();
	uint32_t ttl = s && s->geo ? geo_dc_max_ttl(s->geo, dc) : 0;
	if (d->dc_ttl_prev != NULL && dc < api_dc_count(d->api) &&
	    clock_unix_ms() < d->dc_ttl_prev_until_ms && d->dc_ttl_prev[dc] > ttl)
		ttl = d->dc_ttl_prev[dc];
	pthread_mutex_unlock(&d->view_lock);
	return ttl;
}

static size_t be_service_count(void *ctx)
{
	daemon_t *d = ctx;
	pthread_mutex_lock(&d->view_lock);
	const snapshot_t *s = snapshot_current();
	size_t n = s && s->geo ? geo_service_count(s->geo) : 0;
	pthread_mutex_unlock(&d->view_lock);
	return n;
}

static int be_service_view(void *ctx, size_t i, struct api_service_view *out)
{
	daemon_t *d = ctx;
	int ret = SOV_ENOENT;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&d->view_lock);
	const snapshot_t *s = snapshot_current();
	if (s != NULL && s->geo != NULL && i < geo_service_count(s->geo)) {
		const struct geo_service_info *si = geo_service(s->geo, i);
		dname_to_str(si->name_wire, out->name, sizeof(out->name));
		snprintf(out->policy, sizeof(out->policy), "%s", geo_policy_str(si->policy));
		out->ttl_s = si->ttl_s;
		out->dc_count =
		    si->dc_count < API_SERVICE_DCS_MAX ? si->dc_count : API_SERVICE_DCS_MAX;
		for (size_t k = 0; k < out->dc_count; k++) {
			out->dcs[k].dc = si->dcs[k];
			out->dcs[k].health_ok =
			    geo_health_get(s->health, i, si->dcs[k]) != USABLE_HEALTH_DOWN;
		}
		ret = SOV_OK;
	}
	pthread_mutex_unlock(&d->view_lock);
	return ret;
}

static const char *outcome_str(enum geo_outcome o)
{
	switch (o) {
	case GEO_OUT_OK:
		return "ok";
	case GEO_OUT_NOFAMILY:
		return "no_address_of_family";
	case GEO_OUT_DOWN_ALL:
		return "fail_open";
	case GEO_OUT_DOWN_FIRST:
		return "all_down_first";
	case GEO_OUT_DOWN_EMPTY:
		return "all_down_empty";
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
	const snapshot_t *s = snapshot_current();
	int svc = s && s->geo ? geo_service_find(s->geo, name) : SOV_ENOENT;
	if (svc < 0)
		goto finish;
	const struct geo_client *pc = geo_client_from_sockaddr(client, &gc) == SOV_OK ? &gc : NULL;
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
				if (inet_ntop(fam, a + i * (fam == AF_INET ? 4 : 16), buf,
					      sizeof(buf)))
					json_array_append_new(addrs, json_string(buf));
			}
		}
		if (t == 0) {
			json_object_set_new(o, "ttl_s", json_integer(ttl));
			json_object_set_new(o, "ecs_scope", json_integer(r.ecs_scope));
			json_object_set_new(o, "fail_open",
					    json_boolean(r.outcome >= GEO_OUT_DOWN_ALL));
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

/* POST /v1/zones/{origin}/refresh: the secondary engine checks it now. */
static int be_zone_refresh(void *ctx, const char *origin)
{
	daemon_t *d = ctx;
	uint8_t want[DNAME_MAXLEN], low[DNAME_MAXLEN];
	if (dname_from_str(origin, want) < 0)
		return SOV_ENOENT;
	dname_lower(low, want);
	int rc = SOV_ENOENT;
	pthread_mutex_lock(&d->view_lock);
	const snapshot_t *s = snapshot_current();
	for (size_t i = 0; s != NULL && i < zonedb_count(s->zones); i++) {
		if (!dname_equal(zonedb_get(s->zones, i)->origin, low))
			continue;
		rc = i < s->conf->zone_count && s->conf->zones[i].secondary ? SOV_OK : SOV_EINVAL;
		if (rc == SOV_OK && d->sec != NULL)
			secondary_refresh_now(d->sec, i);
	}
	pthread_mutex_unlock(&d->view_lock);
	return rc;
}

/* GET /v1/zones: every zone, and a secondary's refresh state. */
static json_t *be_zones(void *ctx)
{
	daemon_t *d = ctx;
	json_t *arr = json_array();
	pthread_mutex_lock(&d->view_lock);
	const snapshot_t *s = snapshot_current();
	for (size_t i = 0; arr != NULL && s != NULL && i < zonedb_count(s->zones); i++) {
		const zone_t *z = zonedb_get(s->zones, i);
		bool secondary = i < s->conf->zone_count && s->conf->zones[i].secondary;
		const char *file = i < s->conf->zone_count ? s->conf->zones[i].file : z->path;
		/* absolute, as a secondary's default (state_dir) path is: a
		 * relative one is relative to where sovdns was started */
		char abs[PATH_MAX];
		if (file[0] != '/' && realpath(file, abs) != NULL)
			file = abs;
		json_t *o = json_pack(
		    "{s:s, s:s, s:o, s:b, s:I, s:s}", "origin", z->origin_str, "role",
		    secondary						   ? "secondary"
		    : i < s->conf->zone_count && s->conf->zones[i].catalog ? "catalog"
									   : "primary",
		    "serial", zone_has_data(z) ? json_integer((json_int_t)z->serial) : json_null(),
		    "serving", zone_has_data(z), "records", (json_int_t)z->record_count, "file",
		    file);
		struct notifier_zone_state ns;
		if (o != NULL && d->notifier != NULL) {
			notifier_zone_state(d->notifier, z->origin, &ns);
			if (ns.known)
				json_object_set_new(
				    o, "notify",
				    json_pack("{s:I, s:b, s:I, s:I, s:I, s:o}", "serial",
					      (json_int_t)ns.serial, "pending", ns.pending,
					      "targets", (json_int_t)ns.targets, "acked",
					      (json_int_t)ns.acked, "failed", (json_int_t)ns.failed,
					      "finished_at",
					      ns.pending ? json_null()
							 : rfc3339_ms(ns.finished_unix_ms)));
		}
		struct xfr_history xh;
		xfr_history_get(z->origin, &xh);
		if (o != NULL && xh.known)
			json_object_set_new(
			    o, "last_transfer_out",
			    json_pack("{s:o, s:s, s:I, s:s, s:I, s:I, s:b, s:I, s:I}", "at",
				      rfc3339_ms(xh.at_unix_ms), "kind", xh.kind, "serial",
				      (json_int_t)xh.serial, "to", xh.client, "records",
				      (json_int_t)xh.records, "ms", (json_int_t)xh.ms, "complete",
				      xh.ok, "transfers", (json_int_t)xh.count, "failures",
				      (json_int_t)xh.failures));
		if (o != NULL && secondary && d->sec != NULL) {
			json_t *st = secondary_zone_json(d->sec, z->origin);
			if (st != NULL)
				json_object_set_new(o, "secondary", st);
		}
		if (o != NULL)
			json_array_append_new(arr, o);
	}
	pthread_mutex_unlock(&d->view_lock);
	return arr;
}

static json_t *be_status(void *ctx)
{
	daemon_t *d = ctx;
	json_t *o = json_object();
	json_t *zones = json_array();
	pthread_mutex_lock(&d->view_lock);
	const snapshot_t *s = snapshot_current();
	json_object_set_new(o, "version", json_string(SOVDNS_VERSION));
	json_object_set_new(o, "uptime_s", json_integer((clock_unix_ms() - d->started_ms) / 1000));
	json_object_set_new(o, "started_at", rfc3339_ms(d->started_ms));
	if (s != NULL) {
		json_object_set_new(o, "snapshot_loaded_at", rfc3339_ms(s->loaded_at_ms));
		json_object_set_new(o, "snapshot_generation",
				    json_integer((json_int_t)s->generation));
		json_object_set_new(o, "snapshot_load_us",
				    json_integer((json_int_t)(s->load_ms * 1000)));
		for (size_t i = 0; i < zonedb_count(s->zones); i++) {
			const zone_t *z = zonedb_get(s->zones, i);
			json_array_append_new(zones,
					      json_pack("{s:s, s:I, s:I}", "origin", z->origin_str,
							"serial", (json_int_t)z->serial, "records",
							(json_int_t)z->record_count));
		}
		json_object_set_new(
		    o, "services",
		    json_integer(s->geo ? (json_int_t)geo_service_count(s->geo) : 0));
		json_object_set_new(o, "probes_ready", json_boolean(geo_health_ready(s->health)));
	}
	pthread_mutex_unlock(&d->view_lock);
	json_object_set_new(o, "zones", zones);
	return o;
}

void daemon_backend_init(daemon_t *d, struct api_backend *be)
{
	static const struct api_backend be_template = {
	    .status = be_status,
	    .zones = be_zones,
	    .zone_refresh = be_zone_refresh,
	    .dc_view = be_dc_view,
	    .dc_max_ttl_s = be_dc_max_ttl_s,
	    .service_count = be_service_count,
	    .service_view = be_service_view,
	    .answer = be_answer,
	    .metrics = daemon_metrics,
	};
	*be = be_template;
	be->ctx = d;
}
