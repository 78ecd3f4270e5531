#include "api/api.h"

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

static char *dup_or_null(const char *s, bool *oom)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		*oom = true;
	return d;
}

/* Deep copy of a parsed config. SOV_OK or SOV_ENOMEM. */
static int config_copy(struct api_config *dst, const struct api_config *src)
{
	bool oom = false;
	*dst = *src;
	dst->state_dir = dup_or_null(src->state_dir, &oom);
	dst->tls_cert = dup_or_null(src->tls_cert, &oom);
	dst->tls_key = dup_or_null(src->tls_key, &oom);
	dst->audit_log = dup_or_null(src->audit_log, &oom);
	dst->tokens = NULL;
	dst->token_count = 0;
	dst->notify_argv = NULL;
	if (src->token_count > 0) {
		dst->tokens = calloc(src->token_count, sizeof(*dst->tokens));
		if (dst->tokens == NULL)
			oom = true;
		for (size_t i = 0; dst->tokens && i < src->token_count; i++) {
			dst->tokens[i].name = dup_or_null(src->tokens[i].name, &oom);
			dst->tokens[i].file = dup_or_null(src->tokens[i].file, &oom);
			dst->tokens[i].scope = dup_or_null(src->tokens[i].scope, &oom);
			dst->token_count++;
		}
	}
	if (src->notify_argv != NULL) {
		size_t n = 0;
		while (src->notify_argv[n])
			n++;
		dst->notify_argv = calloc(n + 1, sizeof(char *));
		if (dst->notify_argv == NULL)
			oom = true;
		for (size_t i = 0; dst->notify_argv && i < n; i++)
			dst->notify_argv[i] = dup_or_null(src->notify_argv[i], &oom);
	}
	return oom ? SOV_ENOMEM : SOV_OK;
}

int api_dc_find(const api_t *api, const char *id)
{
	for (size_t i = 0; i < api->dc_count; i++)
		if (strcmp(api->dc_ids[i], id) == 0)
			return (int)i;
	return -1;
}

int api_new(const struct api_config *conf, const char *const *dc_ids, size_t dc_count,
	    const struct api_backend *backend, api_t **out, diag_t *diag)
{
	int rc = SOV_ENOMEM;
	char why[512];
	api_t *api = calloc(1, sizeof(*api));
	if (api == NULL)
		goto oom;
	pthread_mutex_init(&api->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&api->tick_cond, &ca);
	pthread_condattr_destroy(&ca);
	api->started_ms = api_now_ms();
	api->be = *backend;
	if (config_copy(&api->conf, conf) != SOV_OK)
		goto oom;
	if (api->conf.state_dir == NULL) {
		diag_add(diag, NULL, 0, 0, "state_dir is not set");
		rc = SOV_EINVAL;
		goto finish;
	}
	if (backend->dc_view == NULL || backend->dc_max_ttl_s == NULL ||
	    backend->service_count == NULL || backend->service_view == NULL ||
	    backend->answer == NULL) {
		diag_add(diag, NULL, 0, 0, "api: the backend lacks a required callback");
		rc = SOV_EINVAL;
		goto finish;
	}
	api->dc_count = dc_count;
	api->dc_ids = calloc(dc_count + 1, sizeof(char *));
	api->records = calloc(dc_count + 1, sizeof(*api->records));
	api->admin = admin_table_new(dc_count);
	api->ops = op_store_new(api->conf.operations_keep);
	if (api->dc_ids == NULL || api->records == NULL || api->admin == NULL || api->ops == NULL)
		goto oom;
	for (size_t i = 0; i < dc_count; i++) {
		if (!api_id_ok(dc_ids[i])) {
			diag_add(diag, NULL, 0, 0,
				 "api: datacenter id \"%s\" is not 1..63 of [A-Za-z0-9._-]",
				 dc_ids[i]);
			rc = SOV_EINVAL;
			goto finish;
		}
		if ((api->dc_ids[i] = strdup(dc_ids[i])) == NULL)
			goto oom;
	}

	if ((rc = store_open(api->conf.state_dir, &api->store, diag)) != SOV_OK)
		goto finish;
	rc = store_load_admin(api->store, (const char *const *)api->dc_ids, dc_count, api->records,
			      &api->orphans, diag);
	if (rc != SOV_OK)
		goto finish;
	if ((rc = store_load_ops(api->store, api->ops, diag)) != SOV_OK)
		goto finish;
	for (size_t i = 0; i < dc_count; i++) {
		admin_publish(api->admin, i, api->records[i].state);
		if (api->records[i].state != ADMIN_ACTIVE)
			log_info("api", "datacenter %s starts %s (since the state saved in %s)",
				 api->dc_ids[i], admin_state_name(api->records[i].state),
				 store_admin_path(api->store));
	}

	api->auth = auth_new();
	if (api->auth == NULL)
		goto oom;
	for (size_t i = 0; i < api->conf.token_count; i++) {
		const struct api_token_conf *t = &api->conf.tokens[i];
		rc = auth_add_token(api->auth, t->name, t->file, t->scope, why, sizeof(why));
		if (rc != SOV_OK) {
			diag_add(diag, t->file, 0, 0, "token \"%s\": %s", t->name, why);
			goto finish;
		}
	}
	if (api->conf.audit_log == NULL) {
		char path[PATH_MAX];
		if (snprintf(path, sizeof(path), "%s/audit.log", api->conf.state_dir) >=
			(int)sizeof(path) ||
		    (api->conf.audit_log = strdup(path)) == NULL)
			goto oom;
	}
	if ((rc = audit_open(api->conf.audit_log, &api->audit, why, sizeof(why))) != SOV_OK) {
		diag_add(diag, api->conf.audit_log, 0, 0, "%s", why);
		goto finish;
	}
	api->events = events_new(api->conf.events_max, (const char *const *)api->conf.notify_argv,
				 api->conf.notify_timeout_ms);
	if (api->events == NULL)
		goto oom;
	*out = api;
	api = NULL;
	rc = SOV_OK;
	goto finish;
oom:
	rc = SOV_ENOMEM;
	diag_add(diag, NULL, 0, 0, "api: out of memory");
finish:
	api_free(api);
	return rc;
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

/* The timer: draining → drained when safe_at comes, leases expiring. */
static void *ticker_main(void *arg)
{
	api_t *api = arg;
	struct admin_record *cand = calloc(api->dc_count + 1, sizeof(*cand));
	pthread_mutex_lock(&api->lock);
	while (!api->stopping && cand != NULL) {
		int64_t now = api_now_ms();
		int64_t next = INT64_MAX;
		bool changed = false;
		memcpy(cand, api->records, api->dc_count * sizeof(*cand));
		for (size_t i = 0; i < api->dc_count; i++)
			if (admin_record_tick(&cand[i], now, &next) == ADMIN_CHANGED)
				changed = true;
		int64_t wait_ms = 1000; /* at most: wall-clock steps are noticed within a second */
		if (changed) {
			char why[512];
			if (api_commit_admin(api, cand, why, sizeof(why)) == SOV_OK)
				continue; /* recompute the next deadline from the new state */
			wait_ms = API_RETRY_MS;
		} else if (next != INT64_MAX && next - now < wait_ms) {
			wait_ms = next - now < 1 ? 1 : next - now;
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += wait_ms / 1000;
		ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&api->tick_cond, &api->lock, &ts);
	}
	pthread_mutex_unlock(&api->lock);
	free(cand);
	return NULL;
}

int api_start(api_t *api, diag_t *diag)
{
	if (pthread_create(&api->ticker, NULL, ticker_main, api) != 0) {
		diag_add(diag, NULL, 0, 0, "api: cannot start the timer thread");
		return SOV_ESYS;
	}
	api->ticker_started = true;
	if (!api->conf.http_enabled)
		return SOV_OK;
	struct http_config hc = {
	    .listen = (const struct sockaddr *)&api->conf.listen,
	    .listen_len = api->conf.listen_len,
	    .tls_cert = api->conf.tls_cert,
	    .tls_key = api->conf.tls_key,
	    .threads = api->conf.threads,
	    .max_connections = api->conf.max_connections,
	    .timeout_s = api->conf.timeout_s,
	    .body_max_bytes = api->conf.body_max_bytes,
	    .auth = api->auth,
	    .read_without_token = api->conf.read_without_token,
	    .audit = api->audit,
	};
	char why[512];
	int rc = http_start(&hc, api_routes, api_route_count, api, &api->http, why, sizeof(why));
	if (rc != SOV_OK) {
		diag_add(diag, NULL, 0, 0, "api: %s", why);
		return rc;
	}
	log_info("api", "HTTP%s API listening on port %u with %zu token(s)%s",
		 api->conf.tls_cert ? "S" : "", (unsigned)http_port(api->http),
		 auth_count(api->auth), api->conf.read_without_token ? ", read routes open" : "");
	return SOV_OK;
}

void api_free(api_t *api)
{
	if (api == NULL)
		return;
	http_stop(api->http); /* no request runs after this */
	if (api->ticker_started) {
		pthread_mutex_lock(&api->lock);
		api->stopping = true;
		pthread_cond_signal(&api->tick_cond);
		pthread_mutex_unlock(&api->lock);
		pthread_join(api->ticker, NULL);
	}
	events_free(api->events);
	audit_close(api->audit);
	auth_free(api->auth);
	store_close(api->store);
	op_store_free(api->ops);
	admin_table_free(api->admin);
	json_decref(api->orphans);
	for (size_t i = 0; api->dc_ids && i < api->dc_count; i++)
		free(api->dc_ids[i]);
	free(api->dc_ids);
	free(api->records);
	api_config_clear(&api->conf);
	pthread_cond_destroy(&api->tick_cond);
	pthread_mutex_destroy(&api->lock);
	free(api);
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

uint16_t api_port(const api_t *api)
{
	return api->http ? http_port(api->http) : 0;
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
