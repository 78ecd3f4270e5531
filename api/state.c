/* state.c — the API's shared state, for the routes and the ticker (contract
 * in api.h and api_impl.h): datacenter lookups and views, committing the
 * admin table (persisted first), saving operations, events, metrics text. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_impl.h"
#include "api/util.h"
#include "common/err.h"
#include "common/log.h"
#include "geo/usable.h"

const char *api_health_name(enum api_health h)
{
	switch (h) {
	case API_HEALTH_UNKNOWN:
		return "unknown";
	case API_HEALTH_UP:
		return "up";
	case API_HEALTH_DOWN:
		return "down";
	}
	return "unknown";
}

int api_dc_find(const api_t *api, const char *id)
{
	for (size_t i = 0; i < api->dc_count; i++)
		if (strcmp(api->dc_ids[i], id) == 0)
			return (int)i;
	return -1;
}

int api_commit_admin(api_t *api, const struct admin_record *cand, char *why, size_t cap)
{
	int rc = store_save_admin(api->store, (const char *const *)api->dc_ids, api->dc_count, cand,
				  api->orphans, why, cap);
	if (rc != SOV_OK) {
		atomic_fetch_add(&api->state_write_failures, 1);
		log_err("api", "%s; the admin state change is not applied", why);
		return rc;
	}
	for (size_t i = 0; i < api->dc_count; i++) {
		const struct admin_record *o = &api->records[i], *n = &cand[i];
		if (o->state == n->state)
			continue;
		char t[API_TIME_MAX];
		log_info("api", "datacenter %s: %s -> %s by %s (%s)", api->dc_ids[i],
			 admin_state_name(o->state), admin_state_name(n->state), n->who,
			 n->reason[0] ? n->reason : "no reason given");
		json_t *ev =
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "admin", "datacenter",
			      api->dc_ids[i], "from", admin_state_name(o->state), "to",
			      admin_state_name(n->state), "reason", n->reason, "by", n->who);
		if (ev != NULL) {
			if (n->state == ADMIN_DRAINING)
				json_object_set_new(ev, "safe_at",
						    json_string(api_time_format(n->safe_at_ms, t)));
			events_add(api->events, ev);
		}
	}
	memcpy(api->records, cand, api->dc_count * sizeof(*cand));
	for (size_t i = 0; i < api->dc_count; i++)
		admin_publish(api->admin, i, cand[i].state);
	pthread_cond_signal(&api->tick_cond);
	return SOV_OK;
}

int api_save_ops(api_t *api, char *why, size_t cap)
{
	int rc = store_save_ops(api->store, api->ops, why, cap);
	if (rc != SOV_OK) {
		atomic_fetch_add(&api->state_write_failures, 1);
		log_err("api", "%s; the operation change is not applied", why);
	} else {
		op_store_prune(api->ops);
	}
	return rc;
}

json_t *api_op_event_new(const op_t *op, enum op_state from, const char *who)
{
	json_t *ev =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "operation", "operation",
		      op->id, "kind", op_kind_name(op->kind), "datacenter", op->datacenter, "from",
		      op_state_name(from), "to", op_state_name(op->state), "by", who);
	if (ev == NULL)
		return NULL;
	if (op->step_count > 0 && op->steps[op->step_count - 1].reason[0] != '\0')
		json_object_set_new(ev, "reason",
				    json_string(op->steps[op->step_count - 1].reason));
	else if (op->state == OP_PENDING)
		json_object_set_new(ev, "reason", json_string(op->reason));
	return ev;
}

void api_op_event_add(api_t *api, json_t *ev)
{
	if (ev == NULL)
		return;
	log_info("api", "operation %s (%s of %s): %s -> %s by %s",
		 json_string_value(json_object_get(ev, "operation")),
		 json_string_value(json_object_get(ev, "kind")),
		 json_string_value(json_object_get(ev, "datacenter")),
		 json_string_value(json_object_get(ev, "from")),
		 json_string_value(json_object_get(ev, "to")),
		 json_string_value(json_object_get(ev, "by")));
	events_add(api->events, ev);
}

json_t *api_dc_json(api_t *api, size_t dc)
{
	struct api_dc_view v;
	memset(&v, 0, sizeof(v));
	int brc = api->be.dc_view(api->be.ctx, dc, &v);
	if (brc != SOV_OK) {
		memset(&v, 0, sizeof(v));
		v.health = API_HEALTH_UNKNOWN;
	}
	struct admin_record rec;
	pthread_mutex_lock(&api->lock);
	rec = api->records[dc];
	pthread_mutex_unlock(&api->lock);
	char t[API_TIME_MAX];
	json_t *admin = admin_record_to_json(&rec);
	json_t *o =
	    json_pack("{s:s, s:s, s:o, s:b, s:b, s:o}", "id", api->dc_ids[dc], "health",
		      api_health_name(v.health), "health_changed_at",
		      v.health_changed_ms ? json_string(api_time_format(v.health_changed_ms, t))
					  : json_null(),
		      "usable", geo_dc_usable(v.health, rec.state), "in_answers", v.in_answers,
		      "admin", admin);
	if (o != NULL && brc != SOV_OK)
		json_object_set_new(o, "backend_error", json_string(err_str(brc)));
	if (o != NULL && json_is_object(v.extra))
		json_object_update_missing(o, v.extra); /* our members win over the backend's */
	json_decref(v.extra);
	return o;
}

const _Atomic uint32_t *api_admin_words(const api_t *api)
{
	return admin_words(api->admin);
}

enum admin_state api_admin_state(const api_t *api, size_t dc)
{
	return admin_get(api->admin, dc);
}

size_t api_dc_count(const api_t *api)
{
	return api->dc_count;
}

const char *api_dc_id(const api_t *api, size_t dc)
{
	return dc < api->dc_count ? api->dc_ids[dc] : NULL;
}

void api_event_health(api_t *api, size_t dc, enum api_health from, enum api_health to,
		      const char *reason)
{
	if (dc >= api->dc_count)
		return;
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "health", "datacenter",
			       api->dc_ids[dc], "from", api_health_name(from), "to",
			       api_health_name(to), "reason", reason ? reason : "");
	if (ev != NULL)
		events_add(api->events, ev);
}

void api_metrics_write(api_t *api, FILE *out)
{
	size_t op_counts[OP_STATE_COUNT] = {0};
	pthread_mutex_lock(&api->lock);
	for (size_t i = 0; i < op_store_count(api->ops); i++)
		op_counts[op_store_at(api->ops, i)->state]++;
	pthread_mutex_unlock(&api->lock);

	fprintf(out, "# HELP sovdns_datacenter_admin_state Admin state of each datacenter (1 for "
		     "the current state, 0 for the others).\n"
		     "# TYPE sovdns_datacenter_admin_state gauge\n");
	for (size_t i = 0; i < api->dc_count; i++) {
		enum admin_state s = admin_get(api->admin, i);
		for (unsigned k = 0; k < 4; k++)
			fprintf(
			    out,
			    "sovdns_datacenter_admin_state{datacenter=\"%s\",state=\"%s\"} %d\n",
			    api->dc_ids[i], admin_state_name((enum admin_state)k), s == k);
	}
	fprintf(out, "# HELP sovdns_operations Operations kept in the log, by state.\n"
		     "# TYPE sovdns_operations gauge\n");
	for (unsigned k = 0; k < OP_STATE_COUNT; k++)
		fprintf(out, "sovdns_operations{state=\"%s\"} %zu\n",
			op_state_name((enum op_state)k), op_counts[k]);
	struct events_stats es;
	events_stats(api->events, &es);
	fprintf(
	    out,
	    "# HELP sovdns_api_state_write_failures_total Changes refused because the state file "
	    "could not be written.\n"
	    "# TYPE sovdns_api_state_write_failures_total counter\n"
	    "sovdns_api_state_write_failures_total %llu\n"
	    "# HELP sovdns_api_audit_write_failures_total Audit lines that could not be written.\n"
	    "# TYPE sovdns_api_audit_write_failures_total counter\n"
	    "sovdns_api_audit_write_failures_total %llu\n"
	    "# HELP sovdns_api_drains_refused_total Drains and maintenance refused because a "
	    "service would have no usable datacenter left.\n"
	    "# TYPE sovdns_api_drains_refused_total counter\n"
	    "sovdns_api_drains_refused_total %llu\n"
	    "# HELP sovdns_api_reloads_total Reloads requested through the API.\n"
	    "# TYPE sovdns_api_reloads_total counter\n"
	    "sovdns_api_reloads_total %llu\n"
	    "# HELP sovdns_api_reload_failures_total Reloads through the API that failed.\n"
	    "# TYPE sovdns_api_reload_failures_total counter\n"
	    "sovdns_api_reload_failures_total %llu\n"
	    "# HELP sovdns_events_total State-change events recorded.\n"
	    "# TYPE sovdns_events_total counter\n"
	    "sovdns_events_total %llu\n"
	    "# HELP sovdns_notify_runs_total Notification commands run.\n"
	    "# TYPE sovdns_notify_runs_total counter\n"
	    "sovdns_notify_runs_total %llu\n"
	    "# HELP sovdns_notify_failures_total Notification commands that failed or were "
	    "killed.\n"
	    "# TYPE sovdns_notify_failures_total counter\n"
	    "sovdns_notify_failures_total %llu\n"
	    "# HELP sovdns_notify_timeouts_total Notification commands killed after the timeout.\n"
	    "# TYPE sovdns_notify_timeouts_total counter\n"
	    "sovdns_notify_timeouts_total %llu\n"
	    "# HELP sovdns_notify_dropped_total Events not notified because the queue was full.\n"
	    "# TYPE sovdns_notify_dropped_total counter\n"
	    "sovdns_notify_dropped_total %llu\n"
	    "# HELP sovdns_api_start_time_seconds When the API started (Unix time).\n"
	    "# TYPE sovdns_api_start_time_seconds gauge\n"
	    "sovdns_api_start_time_seconds %lld\n",
	    (unsigned long long)atomic_load(&api->state_write_failures),
	    (unsigned long long)audit_failures(api->audit),
	    (unsigned long long)atomic_load(&api->drains_refused_total),
	    (unsigned long long)atomic_load(&api->reloads_total),
	    (unsigned long long)atomic_load(&api->reload_failures_total),
	    (unsigned long long)es.events_total, (unsigned long long)es.notify_runs_total,
	    (unsigned long long)es.notify_failures_total,
	    (unsigned long long)es.notify_timeouts_total,
	    (unsigned long long)es.notify_dropped_total, (long long)(api->started_ms / 1000));
	if (api->http != NULL)
		http_metrics_write(api->http, out);
}

void api_event_reload(api_t *api, bool ok, const char *by, const char *reason)
{
	atomic_fetch_add(&api->reloads_total, 1);
	if (!ok)
		atomic_fetch_add(&api->reload_failures_total, 1);
	json_t *ev = json_pack("{s:s, s:b, s:s}", "type", "reload", "ok", ok, "by", by);
	if (ev != NULL) {
		if (!ok && reason != NULL)
			json_object_set_new(ev, "reason", json_string(reason));
		events_add(api->events, ev);
	}
}
