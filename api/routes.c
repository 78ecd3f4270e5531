/* routes.c — the /v1 routes: what each request means for the API's state.
 *
 * Every handler validates completely before it changes anything, computes
 * a change on a copy under api->lock, writes it to disk, and only then
 * makes it the current state: a request either applies whole or not at all.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_impl.h"
#include "api/util.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/ident.h"
#include "common/log.h"
#include "geo/usable.h"

#define LEASE_MAX_S (7 * 86400) /* a week: longer is "until undrained", so say no lease */
#define LIST_LIMIT_DEFAULT 100
#define LIST_LIMIT_MAX 1000

/* ---- small helpers ---- */

/* The datacenter named by the first path parameter; 404 if unknown. */
static int path_dc(api_t *api, const struct http_request *req, struct http_response *resp)
{
	const char *id = req->params[0];
	int dc = ident_valid(id) ? api_dc_find(api, id) : -1;
	if (dc < 0)
		http_error(resp, 404, "not_found", "no datacenter \"%s\"", id);
	return dc;
}

static bool may_change_dc(const struct http_request *req, const char *dc,
			  struct http_response *resp)
{
	if (req->token != NULL && auth_token_allows_dc(req->token, dc))
		return true;
	http_error(resp, 403, "forbidden", "token \"%s\" may not change datacenter %s", req->who,
		   dc);
	return false;
}

/* An optional string field of the body; def when absent. */
static const char *body_str(const struct http_request *req, const char *key, const char *def)
{
	const json_t *v = req->body ? json_object_get(req->body, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : def;
}

static bool body_bool(const struct http_request *req, const char *key)
{
	const json_t *v = req->body ? json_object_get(req->body, key) : NULL;
	return json_is_true(v);
}

static bool check_text(const char *field, const char *text, size_t cap, bool required,
		       struct http_response *resp)
{
	if (required && text[0] == '\0') {
		http_error(resp, 400, "invalid_value", "\"%s\" must not be empty", field);
		return false;
	}
	if (!api_text_ok(text, cap)) {
		http_error(resp, 400, "invalid_value",
			   "\"%s\" must be shorter than %zu bytes and free of control characters",
			   field, cap);
		return false;
	}
	return true;
}

/* A numeric query parameter in [lo, hi], or def when absent. */
static bool query_uint(const struct http_request *req, const char *name, unsigned long long lo,
		       unsigned long long hi, unsigned long long def, unsigned long long *out,
		       struct http_response *resp)
{
	const char *v = http_query(req, name);
	*out = def;
	if (v == NULL)
		return true;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n < lo || n > hi) {
		http_error(resp, 400, "invalid_parameter",
			   "query parameter \"%s\" must be an integer from %llu to %llu", name, lo,
			   hi);
		return false;
	}
	*out = n;
	return true;
}

/* The reply to drain/undrain/maintenance: the record plus the id. */
static json_t *admin_reply(api_t *api, size_t dc, const struct admin_record *r, bool changed)
{
	json_t *rec = admin_record_to_json(r);
	json_t *o = json_pack("{s:s, s:b}", "datacenter", api->dc_ids[dc], "changed", changed);
	if (rec == NULL || o == NULL) {
		json_decref(rec);
		json_decref(o);
		return NULL;
	}
	json_object_update(o, rec);
	json_decref(rec);
	return o;
}

/*
 * Under api->lock: the services that would have no usable datacenter if
 * the admin states were cand. Usable by the one rule (geo/usable.h): the
 * service's health there is ok and the datacenter is active. Only services
 * using dc count.
 * Writes their names, comma-separated, into list; returns how many.
 */
static size_t services_left_without(api_t *api, const struct admin_record *cand, size_t dc,
				    char *list, size_t cap)
{
	size_t bad = 0;
	list[0] = '\0';
	size_t n = api->be.service_count(api->be.ctx);
	for (size_t i = 0; i < n; i++) {
		struct api_service_view v;
		memset(&v, 0, sizeof(v));
		if (api->be.service_view(api->be.ctx, i, &v) != SOV_OK)
			continue;
		bool uses = false;
		size_t usable = 0;
		for (size_t j = 0; j < v.dc_count && j < API_SERVICE_DCS_MAX; j++) {
			size_t d = v.dcs[j].dc;
			if (d >= api->dc_count)
				continue;
			uses |= d == dc;
			usable += geo_dc_usable(v.dcs[j].health_ok ? USABLE_HEALTH_UP
								   : USABLE_HEALTH_DOWN,
						cand[d].state);
		}
		if (uses && usable == 0) {
			size_t used = strlen(list);
			v.name[sizeof(v.name) - 1] = '\0';
			if (used < cap)
				snprintf(list + used, cap - used, "%s%s", bad ? ", " : "", v.name);
			bad++;
		}
	}
	return bad;
}

/* ---- datacenters ---- */

static void h_datacenters(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)req;
	api_t *api = ctx;
	json_t *arr = json_array();
	for (size_t i = 0; arr != NULL && i < api->dc_count; i++) {
		if (json_array_append_new(arr, api_dc_json(api, i)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	http_reply(resp, 200, arr ? json_pack("{s:o}", "datacenters", arr) : NULL);
}

static void h_datacenter(void *ctx, const struct http_request *req, struct http_response *resp)
{
	api_t *api = ctx;
	int dc = path_dc(api, req, resp);
	if (dc >= 0)
		http_reply(resp, 200, api_dc_json(api, (size_t)dc));
}

enum admin_action { ACT_DRAIN, ACT_UNDRAIN, ACT_MAINT_ON, ACT_MAINT_OFF };

/* The common part of drain, undrain and maintenance, once the input is valid. */
static void admin_change(api_t *api, const struct http_request *req, struct http_response *resp,
			 size_t dc, enum admin_action act, const char *reason, bool force,
			 uint32_t lease_s)
{
	/* outside the lock: the backend may take its own locks to answer */
	uint32_t ttl_s =
	    act == ACT_DRAIN || act == ACT_MAINT_ON ? api->be.dc_max_ttl_s(api->be.ctx, dc) : 0;
	struct admin_record *cand = calloc(api->dc_count, sizeof(*cand));
	if (cand == NULL) {
		http_error(resp, 500, "internal", "out of memory");
		return;
	}
	pthread_mutex_lock(&api->lock);
	memcpy(cand, api->records, api->dc_count * sizeof(*cand));
	int64_t now = clock_unix_ms();
	int rc = SOV_EINVAL;
	switch (act) {
	case ACT_DRAIN:
		rc = admin_record_drain(&cand[dc], now, ttl_s, api->conf.drain_margin_s, lease_s,
					reason, req->who);
		break;
	case ACT_UNDRAIN:
		rc = admin_record_undrain(&cand[dc], now, reason, req->who);
		break;
	case ACT_MAINT_ON:
	case ACT_MAINT_OFF:
		rc = admin_record_maintenance(&cand[dc], act == ACT_MAINT_ON, now, ttl_s,
					      api->conf.drain_margin_s, reason, req->who);
		break;
	}
	if (rc == SOV_ESEMANTIC) {
		http_error(resp, 409, "in_maintenance",
			   "datacenter %s is in maintenance; end it first with POST "
			   "/v1/datacenters/%s/maintenance {\"on\": false}",
			   api->dc_ids[dc], api->dc_ids[dc]);
		goto finish;
	}
	/* Taking an active datacenter out of answers must not leave a service with none. */
	if (api->records[dc].state == ADMIN_ACTIVE && cand[dc].state != ADMIN_ACTIVE) {
		char list[1024];
		size_t bad = services_left_without(api, cand, dc, list, sizeof(list));
		if (bad > 0 && !force) {
			atomic_fetch_add(&api->drains_refused_total, 1);
			http_error(resp, 409, "last_usable_datacenter",
				   "taking %s out of answers would leave %s with no usable "
				   "datacenter: %s; send \"force\": true to do it anyway",
				   api->dc_ids[dc], bad == 1 ? "a service" : "services", list);
			goto finish;
		}
		if (bad > 0)
			log_warn("api",
				 "datacenter %s: forced by %s although it leaves %s with no usable "
				 "datacenter",
				 api->dc_ids[dc], req->who, list);
	}
	if (memcmp(&cand[dc], &api->records[dc], sizeof(cand[dc])) != 0) {
		char why[512];
		if (api_commit_admin(api, cand, why, sizeof(why)) != SOV_OK) {
			http_error(resp, 500, "state_write_failed", "%s; nothing was changed", why);
			goto finish;
		}
	}
	http_reply(resp, 200, admin_reply(api, dc, &api->records[dc], rc == ADMIN_CHANGED));
finish:
	pthread_mutex_unlock(&api->lock);
	free(cand);
}

static void h_drain(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const struct http_field fields[] = {
	    {"reason", HTTP_T_STRING, true},
	    {"force", HTTP_T_BOOL, false},
	    {"lease_s", HTTP_T_UINT, false},
	};
	api_t *api = ctx;
	int dc = path_dc(api, req, resp);
	if (dc < 0 || !may_change_dc(req, api->dc_ids[dc], resp) ||
	    !http_body_check(req, fields, 3, resp))
		return;
	const char *reason = body_str(req, "reason", "");
	if (!check_text("reason", reason, ADMIN_REASON_MAX, true, resp))
		return;
	const json_t *lease = json_object_get(req->body, "lease_s");
	json_int_t lease_s = lease ? json_integer_value(lease) : 0;
	if (lease != NULL && lease_s == 0) {
		/* 0 reads as "expires at once" as much as "no lease": say which */
		http_error(resp, 400, "invalid_value",
			   "\"lease_s\": 0 is not a lease; omit \"lease_s\" for a drain that lasts "
			   "until undrained, or give 1..%d seconds",
			   LEASE_MAX_S);
		return;
	}
	if (lease_s > LEASE_MAX_S) {
		http_error(
		    resp, 400, "invalid_value",
		    "\"lease_s\" must be at most %d (a week); omit it for a drain that lasts "
		    "until undrained",
		    LEASE_MAX_S);
		return;
	}
	admin_change(api, req, resp, (size_t)dc, ACT_DRAIN, reason, body_bool(req, "force"),
		     (uint32_t)lease_s);
}

static void h_undrain(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const struct http_field fields[] = {{"reason", HTTP_T_STRING, false}};
	api_t *api = ctx;
	int dc = path_dc(api, req, resp);
	if (dc < 0 || !may_change_dc(req, api->dc_ids[dc], resp) ||
	    !http_body_check(req, fields, 1, resp))
		return;
	const char *reason = body_str(req, "reason", "undrained");
	if (!check_text("reason", reason, ADMIN_REASON_MAX, false, resp))
		return;
	admin_change(api, req, resp, (size_t)dc, ACT_UNDRAIN, reason, false, 0);
}

static void h_maintenance(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const struct http_field fields[] = {
	    {"on", HTTP_T_BOOL, true},
	    {"reason", HTTP_T_STRING, false},
	    {"force", HTTP_T_BOOL, false},
	};
	api_t *api = ctx;
	int dc = path_dc(api, req, resp);
	if (dc < 0 || !may_change_dc(req, api->dc_ids[dc], resp) ||
	    !http_body_check(req, fields, 3, resp))
		return;
	bool on = body_bool(req, "on");
	const char *reason = body_str(req, "reason", on ? "" : "maintenance ended");
	if (!check_text("reason", reason, ADMIN_REASON_MAX, on, resp))
		return;
	admin_change(api, req, resp, (size_t)dc, on ? ACT_MAINT_ON : ACT_MAINT_OFF, reason,
		     body_bool(req, "force"), 0);
}

/* ---- services ---- */

/* Compares service names ignoring case and one trailing dot on either. */
static bool name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static json_t *service_json(api_t *api, const struct api_service_view *v)
{
	json_t *dcs = json_array();
	size_t usable = 0;
	for (size_t j = 0; dcs != NULL && j < v->dc_count && j < API_SERVICE_DCS_MAX; j++) {
		size_t d = v->dcs[j].dc;
		if (d >= api->dc_count)
			continue;
		enum admin_state st = api_admin_state(api, d);
		bool ok =
		    geo_dc_usable(v->dcs[j].health_ok ? USABLE_HEALTH_UP : USABLE_HEALTH_DOWN, st);
		usable += ok;
		json_array_append_new(dcs, json_pack("{s:s, s:b, s:s, s:b}", "id", api->dc_ids[d],
						     "health_ok", v->dcs[j].health_ok, "admin",
						     admin_state_name(st), "usable", ok));
	}
	if (dcs == NULL)
		return NULL;
	return json_pack("{s:s, s:s, s:I, s:I, s:o}", "name", v->name, "policy", v->policy, "ttl_s",
			 (json_int_t)v->ttl_s, "usable_datacenters", (json_int_t)usable,
			 "datacenters", dcs);
}

/* Finds a service by name into *v. */
static bool find_service(api_t *api, const char *name, struct api_service_view *v)
{
	size_t n = api->be.service_count(api->be.ctx);
	for (size_t i = 0; i < n; i++) {
		memset(v, 0, sizeof(*v));
		if (api->be.service_view(api->be.ctx, i, v) != SOV_OK)
			continue;
		v->name[sizeof(v->name) - 1] = '\0';
		if (name_eq(v->name, name))
			return true;
	}
	return false;
}

static void h_services(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)req;
	api_t *api = ctx;
	json_t *arr = json_array();
	size_t n = api->be.service_count(api->be.ctx);
	for (size_t i = 0; arr != NULL && i < n; i++) {
		struct api_service_view v;
		memset(&v, 0, sizeof(v));
		if (api->be.service_view(api->be.ctx, i, &v) != SOV_OK)
			continue;
		v.name[sizeof(v.name) - 1] = '\0';
		json_array_append_new(arr, service_json(api, &v));
	}
	http_reply(resp, 200, arr ? json_pack("{s:o}", "services", arr) : NULL);
}

static void h_service(void *ctx, const struct http_request *req, struct http_response *resp)
{
	api_t *api = ctx;
	struct api_service_view v;
	if (!find_service(api, req->params[0], &v)) {
		http_error(resp, 404, "not_found", "no service \"%s\"", req->params[0]);
		return;
	}
	http_reply(resp, 200, service_json(api, &v));
}

static void h_answer(void *ctx, const struct http_request *req, struct http_response *resp)
{
	api_t *api = ctx;
	const char *client = http_query(req, "client");
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)(void *)&ss;
	if (client == NULL) {
		http_error(resp, 400, "missing_parameter",
			   "query parameter \"client\" (an IPv4 or IPv6 address) is required");
		return;
	}
	if (inet_pton(AF_INET, client, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, client, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
	} else {
		http_error(resp, 400, "invalid_parameter", "\"%s\" is not an IPv4 or IPv6 address",
			   client);
		return;
	}
	struct api_service_view v;
	if (!find_service(api, req->params[0], &v)) {
		http_error(resp, 404, "not_found", "no service \"%s\"", req->params[0]);
		return;
	}
	json_t *ans = NULL;
	int rc = api->be.answer(api->be.ctx, v.name, (const struct sockaddr *)&ss, &ans);
	if (rc == SOV_ENOENT) {
		http_error(resp, 404, "not_found", "no service \"%s\"", req->params[0]);
		return;
	}
	if (rc != SOV_OK || !json_is_object(ans)) {
		json_decref(ans);
		http_error(resp, 500, "internal", "the answer could not be computed: %s",
			   err_str(rc));
		return;
	}
	json_t *o = json_pack("{s:s, s:s}", "service", v.name, "client", client);
	if (o != NULL)
		json_object_update_missing(o, ans);
	json_decref(ans);
	http_reply(resp, 200, o);
}

/* ---- operations ---- */

static json_t *op_reply(const op_t *op, bool changed)
{
	json_t *o = op_to_json(op);
	if (o != NULL)
		json_object_set_new(o, "changed", json_boolean(changed));
	return o;
}

static void h_operations(void *ctx, const struct http_request *req, struct http_response *resp)
{
	api_t *api = ctx;
	const char *dc = http_query(req, "datacenter");
	const char *state = http_query(req, "state");
	enum op_state want = OP_PENDING;
	unsigned long long limit;
	if (state != NULL && op_state_parse(state, &want) != SOV_OK) {
		http_error(resp, 400, "invalid_parameter", "unknown operation state \"%s\"", state);
		return;
	}
	if (!query_uint(req, "limit", 1, LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT, &limit, resp))
		return;
	json_t *arr = json_array();
	pthread_mutex_lock(&api->lock);
	/* newest first: what an operator looks for */
	for (size_t i = op_store_count(api->ops);
	     arr != NULL && i-- > 0 && json_array_size(arr) < limit;) {
		const op_t *op = op_store_at(api->ops, i);
		if ((dc != NULL && strcmp(dc, op->datacenter) != 0) ||
		    (state != NULL && op->state != want))
			continue;
		if (json_array_append_new(arr, op_to_json(op)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	pthread_mutex_unlock(&api->lock);
	http_reply(resp, 200, arr ? json_pack("{s:o}", "operations", arr) : NULL);
}

static void h_operation_create(void *ctx, const struct http_request *req,
			       struct http_response *resp)
{
	static const struct http_field fields[] = {
	    {"kind", HTTP_T_STRING, true},
	    {"datacenter", HTTP_T_STRING, true},
	    {"reason", HTTP_T_STRING, true},
	};
	api_t *api = ctx;
	if (!http_body_check(req, fields, 3, resp))
		return;
	enum op_kind kind;
	const char *kname = body_str(req, "kind", "");
	const char *dcname = body_str(req, "datacenter", "");
	const char *reason = body_str(req, "reason", "");
	if (op_kind_parse(kname, &kind) != SOV_OK) {
		http_error(resp, 400, "invalid_value",
			   "\"kind\" must be deploy, backup, restore or tls-renew, not \"%s\"",
			   kname);
		return;
	}
	if (!ident_valid(dcname) || api_dc_find(api, dcname) < 0) {
		http_error(resp, 400, "unknown_datacenter", "no datacenter \"%s\"", dcname);
		return;
	}
	if (!check_text("reason", reason, OP_REASON_MAX, true, resp) ||
	    !may_change_dc(req, dcname, resp))
		return;
	pthread_mutex_lock(&api->lock);
	op_t *op;
	char why[512];
	if (op_store_create(api->ops, kind, dcname, reason, req->who, clock_unix_ms(), &op) !=
	    SOV_OK) {
		http_error(resp, 500, "internal", "out of memory");
	} else if (api_save_ops(api, why, sizeof(why)) != SOV_OK) {
		op_store_drop_last(api->ops);
		http_error(resp, 500, "state_write_failed", "%s; nothing was changed", why);
	} else {
		api_op_event_add(api, api_op_event_new(op, OP_PENDING, req->who));
		snprintf(resp->location, sizeof(resp->location), "/v1/operations/%s", op->id);
		http_reply(resp, 201, op_reply(op, true));
	}
	pthread_mutex_unlock(&api->lock);
}

static void h_operation(void *ctx, const struct http_request *req, struct http_response *resp)
{
	api_t *api = ctx;
	pthread_mutex_lock(&api->lock);
	const op_t *op = op_store_find(api->ops, req->params[0]);
	if (op == NULL)
		http_error(resp, 404, "not_found", "no operation \"%s\"", req->params[0]);
	else
		http_reply(resp, 200, op_to_json(op));
	pthread_mutex_unlock(&api->lock);
}

/* Moves an operation (the path's id) to state to; the common part of state and abort. */
static void op_move(api_t *api, const struct http_request *req, struct http_response *resp,
		    enum op_state to, const json_t *result, const char *reason)
{
	pthread_mutex_lock(&api->lock);
	op_t *op = op_store_find(api->ops, req->params[0]);
	op_t saved;
	bool have_saved = false;
	if (op == NULL) {
		http_error(resp, 404, "not_found", "no operation \"%s\"", req->params[0]);
		goto finish;
	}
	if (!may_change_dc(req, op->datacenter, resp))
		goto finish;
	enum op_state from = op->state;
	if (op_transition_check(from, to) != SOV_OK) {
		if (op_state_final(from))
			http_error(resp, 409, "invalid_transition",
				   "operation %s is already %s; it cannot become %s", op->id,
				   op_state_name(from), op_state_name(to));
		else
			http_error(
			    resp, 409, "invalid_transition",
			    "operation %s is %s; it can become %s, failed or aborted, not %s",
			    op->id, op_state_name(from), op_state_name((enum op_state)(from + 1)),
			    op_state_name(to));
		goto finish;
	}
	if (op_copy(&saved, op) != SOV_OK) {
		http_error(resp, 500, "internal", "out of memory");
		goto finish;
	}
	have_saved = true;
	if (op_advance(op, to, result, req->who, reason, clock_unix_ms()) != SOV_OK) {
		http_error(resp, 500, "internal", "out of memory");
		goto finish;
	}
	/* The reply and event are made now: once saved, the operation may be
	 * pruned from memory if it is finished and beyond the keep limit. */
	bool changed = from != to;
	json_t *reply = op_reply(op, changed);
	json_t *ev = changed ? api_op_event_new(op, from, req->who) : NULL;
	char why[512];
	if (api_save_ops(api, why, sizeof(why)) != SOV_OK) {
		/* put the operation back exactly as it was */
		op_clear(op);
		*op = saved;
		have_saved = false;
		json_decref(reply);
		json_decref(ev);
		http_error(resp, 500, "state_write_failed", "%s; nothing was changed", why);
		goto finish;
	}
	api_op_event_add(api, ev);
	http_reply(resp, 200, reply);
finish:
	if (have_saved)
		op_clear(&saved);
	pthread_mutex_unlock(&api->lock);
}

static void h_operation_state(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const struct http_field fields[] = {
	    {"state", HTTP_T_STRING, true},
	    {"result", HTTP_T_OBJECT, false},
	    {"reason", HTTP_T_STRING, false},
	};
	api_t *api = ctx;
	if (!http_body_check(req, fields, 3, resp))
		return;
	enum op_state to;
	const char *sname = body_str(req, "state", "");
	if (op_state_parse(sname, &to) != SOV_OK) {
		http_error(
		    resp, 400, "invalid_value",
		    "\"state\" must be one of pending, draining, drained, running, verifying, "
		    "done, failed, aborted; not \"%s\"",
		    sname);
		return;
	}
	const char *reason = body_str(req, "reason", "");
	if (!check_text("reason", reason, OP_REASON_MAX, false, resp))
		return;
	op_move(api, req, resp, to, json_object_get(req->body, "result"), reason);
}

static void h_operation_abort(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const struct http_field fields[] = {{"reason", HTTP_T_STRING, false}};
	api_t *api = ctx;
	if (!http_body_check(req, fields, 1, resp))
		return;
	const char *reason = body_str(req, "reason", "");
	if (!check_text("reason", reason, OP_REASON_MAX, false, resp))
		return;
	op_move(api, req, resp, OP_ABORTED, NULL, reason);
}

/* ---- instance ---- */

static json_t *zones_of(api_t *api)
{
	json_t *arr = api->be.zones ? api->be.zones(api->be.ctx) : NULL;
	if (!json_is_array(arr)) {
		json_decref(arr);
		arr = json_array();
	}
	return arr;
}

static void h_zones(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)req;
	json_t *arr = zones_of(ctx);
	http_reply(resp, 200, arr ? json_pack("{s:o}", "zones", arr) : NULL);
}

/* One zone by origin: case and the final dot do not matter. */
static void h_zone(void *ctx, const struct http_request *req, struct http_response *resp)
{
	const char *want = req->params[0];
	size_t wl = strlen(want);
	if (wl > 0 && want[wl - 1] == '.')
		wl--;
	json_t *arr = zones_of(ctx);
	json_t *found = NULL;
	for (size_t i = 0; arr != NULL && i < json_array_size(arr) && found == NULL; i++) {
		json_t *z = json_array_get(arr, i);
		const char *o = json_string_value(json_object_get(z, "origin"));
		size_t ol = o ? strlen(o) : 0;
		if (ol > 0 && o[ol - 1] == '.')
			ol--;
		if (o != NULL && ol == wl && strncasecmp(o, want, wl) == 0)
			found = json_incref(z);
	}
	json_decref(arr);
	if (found == NULL) {
		http_error(resp, 404, "not_found", "no zone \"%s\"", want);
		return;
	}
	http_reply(resp, 200, found);
}

static void h_zone_refresh(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const struct http_field none[1] = {{"", HTTP_T_STRING, false}};
	api_t *api = ctx;
	if (!http_body_check(req, none, 0, resp))
		return;
	int rc =
	    api->be.zone_refresh ? api->be.zone_refresh(api->be.ctx, req->params[0]) : SOV_ENOENT;
	if (rc == SOV_ENOENT) {
		http_error(resp, 404, "not_found", "no zone \"%s\"", req->params[0]);
		return;
	}
	if (rc == SOV_EINVAL) {
		http_error(resp, 409, "not_secondary",
			   "zone \"%s\" is not a secondary: it has no primary to refresh from",
			   req->params[0]);
		return;
	}
	/* the origin as GET /v1/zones spells it: lowercase, with the final dot */
	char origin[256]; /* a name in text is at most 254 bytes */
	size_t n = 0;
	for (const char *c = req->params[0]; *c != 0 && n < sizeof(origin) - 2; c++)
		origin[n++] = (char)tolower((unsigned char)*c);
	if (n == 0 || origin[n - 1] != '.')
		origin[n++] = '.';
	origin[n] = 0;
	log_info("api", "refresh of %s asked by %s", origin, req->who);
	http_reply(resp, 200, json_pack("{s:s, s:b}", "origin", origin, "queued", 1));
}

static void h_status(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)req;
	api_t *api = ctx;
	json_t *o = api->be.status ? api->be.status(api->be.ctx) : NULL;
	if (!json_is_object(o)) {
		json_decref(o);
		o = json_object();
	}
	size_t counts[4] = {0};
	for (size_t i = 0; i < api->dc_count; i++)
		counts[api_admin_state(api, i) & 3]++;
	size_t open_ops = 0;
	pthread_mutex_lock(&api->lock);
	for (size_t i = 0; i < op_store_count(api->ops); i++)
		open_ops += !op_state_final(op_store_at(api->ops, i)->state);
	pthread_mutex_unlock(&api->lock);
	char t[API_TIME_MAX];
	json_t *a = json_pack("{s:s, s:I, s:s, s:{s:I, s:I, s:I, s:I}, s:I}", "started_at",
			      api_time_format(api->started_ms, t), "uptime_s",
			      (json_int_t)((clock_unix_ms() - api->started_ms) / 1000), "state_dir",
			      api->conf.state_dir, "datacenters", "active", (json_int_t)counts[0],
			      "draining", (json_int_t)counts[1], "drained", (json_int_t)counts[2],
			      "maintenance", (json_int_t)counts[3], "operations_open",
			      (json_int_t)open_ops);
	if (o != NULL && a != NULL)
		json_object_set_new(o, "api", a);
	else
		json_decref(a);
	http_reply(resp, 200, o);
}

static void h_reload(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const struct http_field none[1] = {{"", HTTP_T_STRING, false}};
	api_t *api = ctx;
	if (!http_body_check(req, none, 0, resp))
		return;
	if (api->be.reload == NULL) {
		http_error(resp, 409, "reload_unavailable",
			   "this instance cannot reload through the API");
		return;
	}
	char why[2048] = "";
	int rc = api->be.reload(api->be.ctx, why, sizeof(why));
	api_event_reload(api, rc == SOV_OK, req->who, rc == SOV_OK ? NULL : why);
	if (rc != SOV_OK) {
		http_error(resp, 500, "reload_failed",
			   "reload failed; the previous configuration is still served: %s",
			   why[0] ? why : err_str(rc));
		return;
	}
	log_info("api", "reloaded by %s", req->who);
	http_reply(resp, 200, json_pack("{s:b}", "reloaded", 1));
}

static void h_events(void *ctx, const struct http_request *req, struct http_response *resp)
{
	api_t *api = ctx;
	unsigned long long since, limit;
	if (!query_uint(req, "since", 0, UINT64_MAX, 0, &since, resp) ||
	    !query_uint(req, "limit", 1, LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT, &limit, resp))
		return;
	uint64_t last = 0;
	json_t *arr = events_list(api->events, since, limit, &last);
	http_reply(resp, 200,
		   arr ? json_pack("{s:o, s:I}", "events", arr, "last_seq", (json_int_t)last)
		       : NULL);
}

static void h_metrics(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)req;
	api_t *api = ctx;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f == NULL) {
		http_error(resp, 500, "internal", "out of memory");
		return;
	}
	api_metrics_write(api, f);
	if (api->be.metrics != NULL && api->be.metrics(api->be.ctx, f) != SOV_OK)
		fprintf(f, "# the DNS part's metrics could not be produced\n");
	if (fclose(f) != 0 || text == NULL) {
		free(text);
		http_error(resp, 500, "internal", "out of memory");
		return;
	}
	resp->status = 200;
	resp->text = text;
	resp->text_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- the table ---- */

static const char *const q_answer[] = {"client", NULL};
static const char *const q_ops[] = {"datacenter", "state", "limit", NULL};
static const char *const q_events[] = {"since", "limit", NULL};

const struct http_route api_routes[] = {
    {"GET", "/v1/status", HTTP_READ, h_status, NULL},
    {"GET", "/v1/datacenters", HTTP_READ, h_datacenters, NULL},
    {"GET", "/v1/datacenters/{id}", HTTP_READ, h_datacenter, NULL},
    {"POST", "/v1/datacenters/{id}/drain", HTTP_WRITE, h_drain, NULL},
    {"POST", "/v1/datacenters/{id}/undrain", HTTP_WRITE, h_undrain, NULL},
    {"POST", "/v1/datacenters/{id}/maintenance", HTTP_WRITE, h_maintenance, NULL},
    {"GET", "/v1/zones", HTTP_READ, h_zones, NULL},
    {"GET", "/v1/zones/{origin}", HTTP_READ, h_zone, NULL},
    {"POST", "/v1/zones/{origin}/refresh", HTTP_WRITE, h_zone_refresh, NULL},
    {"GET", "/v1/services", HTTP_READ, h_services, NULL},
    {"GET", "/v1/services/{name}", HTTP_READ, h_service, NULL},
    {"GET", "/v1/services/{name}/answer", HTTP_READ, h_answer, q_answer},
    {"GET", "/v1/operations", HTTP_READ, h_operations, q_ops},
    {"POST", "/v1/operations", HTTP_WRITE, h_operation_create, NULL},
    {"GET", "/v1/operations/{id}", HTTP_READ, h_operation, NULL},
    {"POST", "/v1/operations/{id}/state", HTTP_WRITE, h_operation_state, NULL},
    {"POST", "/v1/operations/{id}/abort", HTTP_WRITE, h_operation_abort, NULL},
    {"POST", "/v1/reload", HTTP_ADMIN, h_reload, NULL},
    {"GET", "/v1/events", HTTP_READ, h_events, q_events},
    {"GET", "/metrics", HTTP_READ, h_metrics, NULL},
};
const size_t api_route_count = sizeof(api_routes) / sizeof(api_routes[0]);
