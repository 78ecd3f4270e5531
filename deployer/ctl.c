/* ctl.c — what sovctl's commands share (see ctl.h). */
#include "deployer/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "deployer/progress.h"

volatile sig_atomic_t ctl_interrupted;

bool ctl_parse_time(const char *s, int64_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return false;
	*out = (int64_t)timegm(&tm);
	return true;
}

void ctl_format_time(int64_t unix_s, char *buf, size_t cap)
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void ctl_print_json(json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	if (text != NULL) {
		fputs(text, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	free(text);
	json_decref(doc);
}

size_t ctl_fetch_dc(struct sovctl *s, const char *dc, struct dc_views *v)
{
	char path[256];
	size_t ok = 0;
	memset(v, 0, sizeof(*v));
	snprintf(path, sizeof(path), "/v1/datacenters/%s", dc);
	for (size_t i = 0; i < s->n; i++) {
		struct client_reply r;
		client_call(s->clients[i], "GET", path, NULL, &r);
		v->status[i] = r.status;
		if (r.status == 200 && json_is_object(r.body)) {
			v->view[i] = json_incref(r.body);
			ok++;
		} else {
			client_describe(&r, v->error[i], sizeof(v->error[i]));
		}
		client_reply_clear(&r);
	}
	return ok;
}

void dc_views_clear(struct dc_views *v)
{
	for (size_t i = 0; i < JOB_INSTANCES_MAX; i++) {
		json_decref(v->view[i]);
		v->view[i] = NULL;
	}
}

int ctl_precheck(struct sovctl *s, const char *dc, struct dc_views *v, bool use[])
{
	size_t ok = ctl_fetch_dc(s, dc, v);
	size_t bad = 0, refused = 0;
	for (size_t i = 0; i < s->n; i++) {
		use[i] = v->view[i] != NULL;
		if (v->status[i] == 404) {
			progress_error("%s does not know datacenter %s (%s)",
				       client_name(s->clients[i]), dc, v->error[i]);
			return CTL_USAGE;
		}
		if (!use[i]) {
			progress_error("instance %s: %s", client_name(s->clients[i]), v->error[i]);
			bad++;
			/* it answered, and said no: a token problem, not the network */
			if (v->status[i] == 401 || v->status[i] == 403)
				refused++;
		}
	}
	if (bad == 0)
		return CTL_OK;
	if (!s->allow_partial || ok == 0) {
		char what[256];
		if (refused == bad)
			snprintf(what, sizeof(what),
				 "refused sovctl's token (HTTP 401/403: check its token_file "
				 "and scope)");
		else if (refused > 0)
			snprintf(what, sizeof(what),
				 "could not be used (%zu refused sovctl's token, HTTP 401/403; "
				 "%zu did not answer)",
				 refused, bad - refused);
		else
			snprintf(what, sizeof(what), "did not answer");
		progress_error("nothing was changed: %zu of %zu instance(s) %s%s", bad, s->n, what,
			       ok ? "; with --allow-partial the others go ahead (the ones not "
				    "reached keep answering with the datacenter)"
				  : "");
		return CTL_UNREACHABLE;
	}
	progress_warn("--allow-partial: going ahead without %zu instance(s); they are not told and "
		      "keep naming %s in their answers",
		      bad, dc);
	return CTL_OK;
}

static const char *action_path(enum ctl_action a)
{
	switch (a) {
	case ACT_DRAIN:
		return "drain";
	case ACT_UNDRAIN:
		return "undrain";
	default:
		return "maintenance";
	}
}

static json_t *action_body(const struct sovctl *s, enum ctl_action a, const char *reason,
			   uint32_t lease_s)
{
	switch (a) {
	case ACT_DRAIN: {
		json_t *b = json_pack("{s:s, s:b}", "reason", reason, "force", s->force);
		if (b != NULL && lease_s > 0)
			json_object_set_new(b, "lease_s", json_integer(lease_s));
		return b;
	}
	case ACT_UNDRAIN:
		return json_pack("{s:s}", "reason", reason);
	case ACT_MAINT_ON:
		return json_pack("{s:b, s:s, s:b}", "on", 1, "reason", reason, "force", s->force);
	case ACT_MAINT_OFF:
		return json_pack("{s:b}", "on", 0);
	}
	return NULL;
}

/* Undoes what a refused drain/maintenance already changed on instances [0, upto). */
static void roll_back(struct sovctl *s, const char *dc, enum ctl_action act, size_t upto,
		      const bool use[], bool changed[], const char *why)
{
	char path[256], reason[256];
	snprintf(reason, sizeof(reason), "rolled back: %.200s", why);
	enum ctl_action undo = act == ACT_DRAIN ? ACT_UNDRAIN : ACT_MAINT_OFF;
	snprintf(path, sizeof(path), "/v1/datacenters/%s/%s", dc, action_path(undo));
	for (size_t i = 0; i < upto; i++) {
		if (!use[i] || !changed[i])
			continue;
		json_t *body = action_body(s, undo, reason, 0);
		struct client_reply r;
		client_call(s->clients[i], "POST", path, body, &r);
		json_decref(body);
		if (client_ok(&r)) {
			changed[i] = false;
			progress_step("rolled back on %s: %s is active again there",
				      client_name(s->clients[i]), dc);
		} else {
			char d[700];
			progress_error(
			    "could not roll back on %s (%s): %s stays out of its answers; "
			    "run sovctl undrain %s",
			    client_name(s->clients[i]), client_describe(&r, d, sizeof(d)), dc, dc);
		}
		client_reply_clear(&r);
	}
}

int ctl_change_all(struct sovctl *s, const char *dc, enum ctl_action act, const char *reason,
		   uint32_t lease_s, bool use[], bool changed[], bool maint[], int64_t *safe_at_s,
		   char *why, size_t why_cap)
{
	char path[256];
	int ret = CTL_OK;
	bool takes_out = act == ACT_DRAIN || act == ACT_MAINT_ON;
	snprintf(path, sizeof(path), "/v1/datacenters/%s/%s", dc, action_path(act));
	if (safe_at_s != NULL)
		*safe_at_s = 0;
	why[0] = '\0';
	for (size_t i = 0; i < s->n; i++) {
		changed[i] = false;
		if (maint != NULL)
			maint[i] = false;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (!use[i])
			continue;
		const char *name = client_name(s->clients[i]);
		json_t *body = action_body(s, act, reason, lease_s);
		struct client_reply r;
		char d[700];
		client_call(s->clients[i], "POST", path, body, &r);
		json_decref(body);
		if (client_ok(&r)) {
			changed[i] = json_is_true(json_object_get(r.body, "changed"));
			const char *sa = json_string_value(json_object_get(r.body, "safe_at"));
			int64_t t;
			if (safe_at_s != NULL && sa != NULL && ctl_parse_time(sa, &t) &&
			    t > *safe_at_s)
				*safe_at_s = t;
		} else if (r.status == 409 && strcmp(r.code, "in_maintenance") == 0 &&
			   (act == ACT_DRAIN || act == ACT_UNDRAIN)) {
			if (maint != NULL)
				maint[i] = true;
			progress_warn("%s: %s is in maintenance there (held out of answers; end it "
				      "with sovctl maintenance %s off)",
				      name, dc, dc);
		} else if (r.status == 409 && strcmp(r.code, "last_usable_datacenter") == 0) {
			snprintf(why, why_cap, "refused by %s: %s", name, r.message);
			ret = CTL_REFUSED;
		} else if (r.status == 404) {
			snprintf(why, why_cap, "%s: %s", name, client_describe(&r, d, sizeof(d)));
			ret = CTL_USAGE;
		} else if (s->allow_partial && (r.status == 0 || r.status >= 500)) {
			progress_warn("--allow-partial: going on without %s (%s)", name,
				      client_describe(&r, d, sizeof(d)));
			use[i] = false;
		} else {
			snprintf(why, why_cap, "%s: %s", name, client_describe(&r, d, sizeof(d)));
			ret = r.status == 0 || r.status == 401 || r.status == 403 ? CTL_UNREACHABLE
										  : CTL_FAILED;
		}
		client_reply_clear(&r);
		if (ret != CTL_OK && takes_out) {
			/* all or nothing: put back what this call took out */
			roll_back(s, dc, act, i, use, changed, why);
			break;
		}
	}
	bool any = false;
	for (size_t i = 0; i < s->n; i++)
		any |= use[i];
	if (ret == CTL_OK && !any) {
		snprintf(why, why_cap, "no instance could be reached");
		ret = CTL_UNREACHABLE;
	}
	return ret;
}
