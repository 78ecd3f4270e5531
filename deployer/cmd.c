/* cmd.c — status, drain, undrain, maintenance and operations (see ctl.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "deployer/ctl.h"
#include "deployer/progress.h"

/* ---- status ---- */

struct cell {
	const char *health;
	const char *admin;
	bool in_answers;
	int64_t safe_at;
	bool present;
};

static struct cell cell_of(json_t *dc)
{
	struct cell c = {0};
	json_t *admin = json_object_get(dc, "admin");
	c.health = json_string_value(json_object_get(dc, "health"));
	c.admin = json_string_value(json_object_get(admin, "state"));
	c.in_answers = json_is_true(json_object_get(dc, "in_answers"));
	const char *sa = json_string_value(json_object_get(admin, "safe_at"));
	if (sa == NULL || !ctl_parse_time(sa, &c.safe_at))
		c.safe_at = 0;
	c.present = dc != NULL && c.health != NULL && c.admin != NULL;
	return c;
}

static bool str_same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* What the instances said, gathered by status. */
struct status_seen {
	json_t *lists[JOB_INSTANCES_MAX];  /* each one's datacenters (owned); NULL: unreachable */
	char errs[JOB_INSTANCES_MAX][600]; /* why an instance is unreachable */
	size_t unreachable;
	const char *ids[256]; /* every datacenter id (borrowed from lists and conf) */
	size_t nids;
};

/* Which fields of one datacenter the instances disagree on. */
struct status_diff {
	bool health, admin, in_answers;
	bool missing; /* an instance that answered does not know the datacenter */
};

/* GET /v1/datacenters and /v1/status from instance i into seen; appends its
 * entry to insts. */
static void status_fetch_instance(struct sovctl *s, size_t i, struct status_seen *seen,
				  json_t *insts)
{
	struct client_reply r;
	client_call(s->clients[i], "GET", "/v1/datacenters", NULL, &r);
	seen->errs[i][0] = '\0';
	if (r.status == 200 && json_is_array(json_object_get(r.body, "datacenters")))
		seen->lists[i] = json_incref(json_object_get(r.body, "datacenters"));
	else {
		client_describe(&r, seen->errs[i], sizeof(seen->errs[i]));
		seen->unreachable++;
	}
	client_reply_clear(&r);
	json_t *st = NULL;
	if (seen->lists[i] != NULL) {
		client_call(s->clients[i], "GET", "/v1/status", NULL, &r);
		if (r.status == 200)
			st = json_incref(r.body);
		client_reply_clear(&r);
	}
	json_t *o = json_pack("{s:s, s:s, s:b}", "name", client_name(s->clients[i]), "api",
			      s->conf->instances[i].api, "reachable", seen->lists[i] != NULL);
	if (seen->lists[i] == NULL)
		json_object_set_new(o, "error", json_string(seen->errs[i]));
	if (st != NULL) {
		json_object_set(o, "version", json_object_get(st, "version"));
		json_object_set(o, "uptime_s", json_object_get(st, "uptime_s"));
	}
	json_decref(st);
	json_array_append_new(insts, o);
}

/* Adds id to seen->ids unless it is there already (or the list is full). */
static void status_add_id(struct status_seen *seen, const char *id)
{
	bool dup = false;
	for (size_t m = 0; m < seen->nids && !dup; m++)
		dup = strcmp(seen->ids[m], id) == 0;
	if (!dup && seen->nids < 256)
		seen->ids[seen->nids++] = id;
}

/* datacenters: the union, in the order the first instances list them, then
 * the configured ones no instance listed */
static void status_collect_ids(struct sovctl *s, struct status_seen *seen)
{
	for (size_t i = 0; i < s->n; i++) {
		size_t k;
		json_t *d;
		json_array_foreach(seen->lists[i], k, d)
		{
			const char *id = json_string_value(json_object_get(d, "id"));
			if (id != NULL)
				status_add_id(seen, id);
		}
	}
	for (size_t i = 0; i < s->conf->dc_count; i++)
		status_add_id(seen, s->conf->dcs[i].id);
}

/* One line per instance, then the table's heading. */
static void status_print_instances(struct sovctl *s, const struct status_seen *seen, json_t *insts)
{
	for (size_t i = 0; i < s->n; i++) {
		json_t *o = json_array_get(insts, i);
		if (seen->lists[i] != NULL)
			printf("%-10s %s  sovdns %s, up %lld s\n", client_name(s->clients[i]),
			       s->conf->instances[i].api,
			       json_string_value(json_object_get(o, "version")) ?: "?",
			       (long long)json_integer_value(json_object_get(o, "uptime_s")));
		else
			printf("%-10s %s  %sUNREACHABLE%s: %s\n", client_name(s->clients[i]),
			       s->conf->instances[i].api, progress_color("red"), progress_reset(),
			       seen->errs[i]);
	}
	printf("\n%-12s", "DATACENTER");
	for (size_t i = 0; i < s->n; i++)
		printf(" %-30s", client_name(s->clients[i]));
	printf("\n");
}

/* Datacenter id as each instance sees it, into c[]; returns the "views"
 * object (new reference) of the instances that know it. */
static json_t *status_cells(struct sovctl *s, const struct status_seen *seen, const char *id,
			    struct cell c[])
{
	json_t *views = json_object();
	for (size_t i = 0; i < s->n; i++) {
		json_t *found = NULL;
		size_t k;
		json_t *d;
		json_array_foreach(seen->lists[i], k, d)
		{
			if (str_same(json_string_value(json_object_get(d, "id")), id))
				found = d;
		}
		c[i] = cell_of(found);
		if (c[i].present) {
			json_object_set_new(
			    views, client_name(s->clients[i]),
			    json_pack("{s:s, s:s, s:b, s:O}", "health", c[i].health, "admin",
				      c[i].admin, "in_answers", c[i].in_answers, "safe_at",
				      json_object_get(json_object_get(found, "admin"), "safe_at")));
		}
	}
	return views;
}

/* a field differs when two instances that answered say different things */
static struct status_diff status_compare(size_t n, const struct status_seen *seen,
					 const struct cell c[])
{
	struct status_diff df = {0};
	const struct cell *ref = NULL;
	for (size_t i = 0; i < n; i++) {
		if (seen->lists[i] != NULL && !c[i].present)
			df.missing = true;
		if (!c[i].present)
			continue;
		if (ref == NULL) {
			ref = &c[i];
			continue;
		}
		df.health |= !str_same(ref->health, c[i].health);
		df.admin |= !str_same(ref->admin, c[i].admin);
		df.in_answers |= ref->in_answers != c[i].in_answers;
	}
	return df;
}

static bool status_disagree(const struct status_diff *df)
{
	return df->health || df->admin || df->in_answers || df->missing;
}

/* The "disagree" array (new reference). */
static json_t *status_diff_json(const struct status_diff *df)
{
	json_t *diff = json_array();
	if (df->health)
		json_array_append_new(diff, json_string("health"));
	if (df->admin)
		json_array_append_new(diff, json_string("admin"));
	if (df->in_answers)
		json_array_append_new(diff, json_string("in_answers"));
	if (df->missing)
		json_array_append_new(diff, json_string("unknown_to_some"));
	return diff;
}

/* One instance's cell of the table (reachable: it answered). */
static void status_print_cell(const struct cell *c, bool reachable, const struct status_diff *df,
			      int64_t now_s)
{
	char admin[40];
	if (!reachable) {
		printf(" %-30s", "-");
		return;
	}
	if (!c->present) {
		printf(" %s%-30s%s", progress_color("red"), "(not configured)", progress_reset());
		return;
	}
	if (strcmp(c->admin, "draining") == 0 && c->safe_at > now_s)
		snprintf(admin, sizeof(admin), "draining %llds", (long long)(c->safe_at - now_s));
	else
		snprintf(admin, sizeof(admin), "%s", c->admin);
	const char *hc = df->health ? "red" : strcmp(c->health, "up") ? "yellow" : "";
	const char *ac = df->admin ? "red" : strcmp(c->admin, "active") ? "yellow" : "";
	const char *ic = df->in_answers ? "red" : "";
	/* each field padded inside its colour: escapes take no width */
	printf(" %s%-7s%s %s%-14s%s %s%-7s%s", progress_color(hc), c->health, progress_reset(),
	       progress_color(ac), admin, progress_reset(), progress_color(ic),
	       c->in_answers ? "in" : "out", progress_reset());
}

/* The table's row of datacenter id. */
static void status_print_row(struct sovctl *s, const struct status_seen *seen, const char *id,
			     const struct cell c[], const struct status_diff *df, int64_t now_s)
{
	printf("%-12s", id);
	for (size_t i = 0; i < s->n; i++)
		status_print_cell(&c[i], seen->lists[i] != NULL, df, now_s);
	if (status_disagree(df)) {
		printf("  %s! instances disagree:%s%s%s%s%s", progress_color("red"),
		       df->health ? " health" : "", df->admin ? " admin" : "",
		       df->in_answers ? " answers" : "", df->missing ? " (unknown to some)" : "",
		       progress_reset());
	}
	printf("\n");
}

/* Datacenter id: appended to dcs, and its row printed unless --json.
 * Returns whether the instances disagree on it. */
static bool status_datacenter(struct sovctl *s, const struct status_seen *seen, const char *id,
			      int64_t now_s, json_t *dcs)
{
	struct cell c[JOB_INSTANCES_MAX];
	json_t *views = status_cells(s, seen, id, c);
	struct status_diff df = status_compare(s->n, seen, c);
	json_array_append_new(dcs, json_pack("{s:s, s:o, s:o}", "id", id, "views", views,
					     "disagree", status_diff_json(&df)));
	if (!s->json)
		status_print_row(s, seen, id, c, &df, now_s);
	return status_disagree(&df);
}

static void status_print_summary(size_t disagreements, size_t unreachable)
{
	if (disagreements)
		printf("\n%zu datacenter(s) seen differently by the instances (marked !): "
		       "a probe path that fails from one place only, or an instance that "
		       "missed a drain/undrain (repeat it with sovctl)\n",
		       disagreements);
	if (unreachable)
		printf("\n%zu instance(s) unreachable\n", unreachable);
}

int cmd_status(struct sovctl *s)
{
	struct status_seen seen = {0};
	json_t *out_insts = json_array(), *out_dcs = json_array();
	size_t disagreements = 0;
	int64_t now_s = clock_unix_ms() / 1000;

	for (size_t i = 0; i < s->n; i++)
		status_fetch_instance(s, i, &seen, out_insts);
	status_collect_ids(s, &seen);
	if (!s->json)
		status_print_instances(s, &seen, out_insts);
	for (size_t m = 0; m < seen.nids; m++)
		disagreements += status_datacenter(s, &seen, seen.ids[m], now_s, out_dcs);
	if (!s->json)
		status_print_summary(disagreements, seen.unreachable);
	int rc = seen.unreachable ? CTL_UNREACHABLE : disagreements ? CTL_FAILED : CTL_OK;
	if (s->json)
		ctl_print_json(json_pack("{s:o, s:o, s:i}", "instances", out_insts, "datacenters",
					 out_dcs, "exit", rc));
	else {
		json_decref(out_insts);
		json_decref(out_dcs);
	}
	for (size_t i = 0; i < s->n; i++)
		json_decref(seen.lists[i]);
	return rc;
}

/* ---- drain, undrain, maintenance ---- */

/* drain --wait: until every instance used says drained (or maintenance). */
static int wait_drained_plain(struct sovctl *s, const char *dc, const bool use[])
{
	int64_t start = clock_unix_ms();
	for (;;) {
		if (ctl_interrupted)
			return CTL_ABORTED;
		struct dc_views v;
		ctl_fetch_dc(s, dc, &v);
		int64_t safe_at = 0, now = clock_unix_ms();
		size_t waiting = 0;
		char list[512] = "";
		for (size_t i = 0; i < s->n; i++) {
			if (!use[i])
				continue;
			json_t *admin = json_object_get(v.view[i], "admin");
			const char *st = json_string_value(json_object_get(admin, "state"));
			const char *sa = json_string_value(json_object_get(admin, "safe_at"));
			int64_t t;
			if (sa && ctl_parse_time(sa, &t) && t > safe_at)
				safe_at = t;
			if (!(str_same(st, "drained") || str_same(st, "maintenance"))) {
				waiting++;
				size_t n = strlen(list);
				snprintf(list + n, sizeof(list) - n, "%s%s %s", n ? ", " : "",
					 client_name(s->clients[i]), st ? st : "unreachable");
			}
			if (str_same(st, "active")) {
				dc_views_clear(&v);
				progress_clear();
				progress_error("%s is active again on %s", dc,
					       client_name(s->clients[i]));
				return CTL_FAILED;
			}
		}
		dc_views_clear(&v);
		if (waiting == 0) {
			progress_clear();
			progress_step("%s is drained on every instance: safe to take it down", dc);
			return CTL_OK;
		}
		if (now >
		    (safe_at ? safe_at * 1000 : start) + (int64_t)s->conf->drain_slack_s * 1000) {
			progress_clear();
			progress_error("%s was not drained everywhere in time (%s)", dc, list);
			return CTL_FAILED;
		}
		long left = safe_at ? (long)((safe_at * 1000 - now + 999) / 1000) : 0;
		progress_status("waiting until %s is drained: %ld s left (%s)", dc,
				left > 0 ? left : 0, list);
		clock_sleep_ms((int)s->conf->poll_ms);
	}
}

static json_t *admin_summary(struct sovctl *s, const char *dc, const bool use[])
{
	struct dc_views v;
	json_t *o = json_object();
	ctl_fetch_dc(s, dc, &v);
	for (size_t i = 0; i < s->n; i++) {
		if (v.view[i] != NULL)
			json_object_set(o, client_name(s->clients[i]),
					json_object_get(v.view[i], "admin"));
		else if (use[i])
			json_object_set_new(o, client_name(s->clients[i]),
					    json_pack("{s:s}", "error", v.error[i]));
	}
	dc_views_clear(&v);
	return o;
}

static int admin_command(struct sovctl *s, const char *dc, enum ctl_action act)
{
	bool use[JOB_INSTANCES_MAX], changed[JOB_INSTANCES_MAX], maint[JOB_INSTANCES_MAX];
	char why[800], other[JOB_ID_MAX], reason[256];
	struct dc_views v;
	const char *verb = act == ACT_DRAIN	 ? "drain"
			   : act == ACT_UNDRAIN	 ? "undrain"
			   : act == ACT_MAINT_ON ? "maintenance on"
						 : "maintenance off";
	/* an unreadable state file does not hold the site back: no warning */
	if ((act == ACT_UNDRAIN || act == ACT_MAINT_OFF) && !s->force &&
	    jobstate_find_unfinished(s->conf->state_file, dc, other, sizeof(other), NULL, 0, why,
				     sizeof(why)) == SOV_OK) {
		progress_error("operation %s on %s is unfinished: putting the site back now could "
			       "send clients to it mid-job; sovctl abort %s first, or --force",
			       other, dc, other);
		return CTL_REFUSED;
	}
	int rc = ctl_precheck(s, dc, &v, use);
	dc_views_clear(&v);
	if (rc != CTL_OK)
		return rc;
	snprintf(reason, sizeof(reason), "%s", s->reason ? s->reason : "");
	if (!reason[0])
		snprintf(reason, sizeof(reason), "%s with sovctl", verb);
	int64_t safe_at = 0;
	rc = ctl_change_all(s, dc, act, reason, s->lease_given ? s->lease_s : 0, use, changed,
			    maint, &safe_at, why, sizeof(why));
	if (rc != CTL_OK) {
		progress_error("%s%s", why,
			       rc == CTL_REFUSED ? " (nothing was changed; --force overrides)"
						 : "");
		if (s->json)
			ctl_print_json(json_pack("{s:s, s:s, s:i}", "datacenter", dc, "error", why,
						 "exit", rc));
		return rc;
	}
	/* what "nothing to do" means on an instance, in words: "(unchanged)"
	 * did not say whether the action was refused or already done */
	static const char *const already[] = {
	    [ACT_DRAIN] = " (already drained or draining: reason and lease renewed)",
	    [ACT_UNDRAIN] = " (already active)",
	    [ACT_MAINT_ON] = " (already in maintenance)",
	    [ACT_MAINT_OFF] = " (was not in maintenance)",
	};
	char list[1024] = "";
	for (size_t i = 0; i < s->n; i++) {
		if (!use[i])
			continue;
		size_t n = strlen(list);
		snprintf(list + n, sizeof(list) - n, "%s%s%s", n ? ", " : "",
			 client_name(s->clients[i]), changed[i] ? "" : already[act]);
	}
	switch (act) {
	case ACT_DRAIN:
		if (safe_at > 0) {
			char ts[32];
			ctl_format_time(safe_at, ts, sizeof(ts));
			progress_step(
			    "%s drained on %s: out of answers now, safe to take down at %s "
			    "(in %lld s)%s",
			    dc, list, ts, (long long)(safe_at - clock_unix_ms() / 1000),
			    s->lease_given ? "" : "; no lease: it stays out until undrained");
		} else {
			progress_step("%s drained on %s", dc, list);
		}
		if (s->wait)
			rc = wait_drained_plain(s, dc, use);
		break;
	case ACT_UNDRAIN:
		progress_step("%s undrained on %s: back in answers once its health is up", dc,
			      list);
		break;
	case ACT_MAINT_ON:
		progress_step("%s in maintenance on %s: out of answers whatever the probes say", dc,
			      list);
		break;
	case ACT_MAINT_OFF:
		progress_step("%s out of maintenance on %s", dc, list);
		break;
	}
	if (s->json)
		ctl_print_json(json_pack("{s:s, s:o, s:i}", "datacenter", dc, "admin",
					 admin_summary(s, dc, use), "exit", rc));
	return rc;
}

int cmd_drain(struct sovctl *s, const char *dc)
{
	return admin_command(s, dc, ACT_DRAIN);
}

int cmd_undrain(struct sovctl *s, const char *dc)
{
	return admin_command(s, dc, ACT_UNDRAIN);
}

int cmd_maintenance(struct sovctl *s, const char *dc, bool on)
{
	return admin_command(s, dc, on ? ACT_MAINT_ON : ACT_MAINT_OFF);
}

/* ---- operations ---- */

static const char *owner_note(const json_t *rec, char *buf, size_t cap)
{
	pid_t pid = (pid_t)json_integer_value(json_object_get(rec, "owner_pid"));
	uint64_t start = (uint64_t)json_integer_value(json_object_get(rec, "owner_start"));
	const char *st = json_string_value(json_object_get(rec, "state"));
	int sv = st ? op_state_index(st) : -1;
	buf[0] = '\0';
	if (sv < 0 || op_state_final((enum op_state)sv))
		return buf;
	if (pid > 0 && start != 0 && hook_proc_start_ticks(pid) == start)
		snprintf(buf, cap, "running (sovctl pid %d)", (int)pid);
	else
		snprintf(buf, cap, "interrupted: sovctl resume or abort");
	return buf;
}

static void fmt_ms(int64_t ms, char *buf, size_t cap)
{
	if (ms <= 0)
		snprintf(buf, cap, "-");
	else
		ctl_format_time(ms / 1000, buf, cap);
}

static int list_operations(struct sovctl *s)
{
	json_t *ops = NULL;
	char why[PATH_MAX + 256];
	if (jobstate_list(s->conf->state_file, &ops, why, sizeof(why)) != SOV_OK) {
		progress_error("%s", why);
		return CTL_FAILED;
	}
	if (s->json) {
		json_t *rev = json_array();
		for (size_t i = json_array_size(ops); i-- > 0;)
			json_array_append(rev, json_array_get(ops, i));
		ctl_print_json(json_pack("{s:o}", "operations", rev));
		json_decref(ops);
		return CTL_OK;
	}
	if (json_array_size(ops) == 0)
		printf("no operations recorded in %s\n", s->conf->state_file);
	else
		printf("%-32s %-9s %-12s %-9s %-20s %s\n", "ID", "KIND", "DATACENTER", "STATE",
		       "UPDATED", "NOTE");
	for (size_t i = json_array_size(ops); i-- > 0;) {
		json_t *e = json_array_get(ops, i);
		char when[32], note[128];
		fmt_ms(json_integer_value(json_object_get(e, "updated_ms")), when, sizeof(when));
		owner_note(e, note, sizeof(note));
		const char *err = json_string_value(json_object_get(e, "error"));
		const char *st = json_string_value(json_object_get(e, "state")) ?: "?";
		const char *color = str_same(st, "done")				? "green"
				    : str_same(st, "failed") || str_same(st, "aborted") ? "red"
											: "yellow";
		printf("%-32s %-9s %-12s %s%-9s%s %-20s %s%s%.100s\n",
		       json_string_value(json_object_get(e, "id")) ?: "?",
		       json_string_value(json_object_get(e, "kind")) ?: "?",
		       json_string_value(json_object_get(e, "datacenter")) ?: "?",
		       progress_color(color), st, progress_reset(), when, note,
		       note[0] && err && err[0] ? "; " : "", err ? err : "");
	}
	json_decref(ops);
	return CTL_OK;
}

int cmd_operations(struct sovctl *s, const char *id)
{
	if (id == NULL)
		return list_operations(s);
	struct job j;
	char why[PATH_MAX + 256], note[128];
	if (job_init(&j) != SOV_OK)
		return CTL_FAILED;
	int rc = jobstate_get(s->conf->state_file, id, &j, why, sizeof(why));
	if (rc != SOV_OK) {
		progress_error("%s", why);
		job_clear(&j);
		return rc == SOV_ENOENT ? CTL_NOT_FOUND : CTL_FAILED;
	}
	json_t *rec = job_to_json(&j);
	json_t *remote = json_object();
	owner_note(rec, note, sizeof(note));
	if (!s->json) {
		char c[32], u[32];
		fmt_ms(j.created_ms, c, sizeof(c));
		fmt_ms(j.updated_ms, u, sizeof(u));
		printf("operation  %s\nkind       %s\ndatacenter %s\nreason     %s\nstate      "
		       "%s%s%s\ncreated    %s\nupdated    %s\n",
		       j.id, dconf_hook_name(j.kind), j.dc, j.reason, op_state_name(j.state),
		       note[0] ? " — " : "", note, c, u);
		if (j.error[0])
			printf("error      %s\n", j.error);
		if (j.archive[0])
			printf("archive    %s\n", j.archive);
		const char *sha = json_string_value(json_object_get(j.result, "sha256"));
		if (sha)
			printf("sha256     %s\n", sha);
		printf("log        %s/%s.log\n", s->conf->log_dir, j.id);
	}
	for (size_t i = 0; i < j.n_inst; i++) {
		const struct dconf_instance *in = dconf_instance_find(s->conf, j.inst[i].name);
		client_t *c = NULL;
		for (size_t k = 0; in && k < s->n; k++)
			if (&s->conf->instances[k] == in)
				c = s->clients[k];
		json_t *entry = NULL;
		char desc[700] = "";
		if (j.inst[i].skipped || !j.inst[i].op_id[0]) {
			snprintf(desc, sizeof(desc), "%s",
				 j.inst[i].skipped ? "left out (unreachable)"
						   : "no operation recorded");
		} else if (c == NULL) {
			snprintf(desc, sizeof(desc), "instance no longer configured");
		} else {
			char path[256];
			struct client_reply r;
			snprintf(path, sizeof(path), "/v1/operations/%s", j.inst[i].op_id);
			client_call(c, "GET", path, NULL, &r);
			if (r.status == 200)
				entry = json_incref(r.body);
			else
				client_describe(&r, desc, sizeof(desc));
			client_reply_clear(&r);
		}
		json_object_set_new(remote, j.inst[i].name,
				    entry ? entry : json_pack("{s:s}", "error", desc));
		if (s->json)
			continue;
		const char *st = json_string_value(json_object_get(entry, "state"));
		bool differs = st && strcmp(st, op_state_name(j.state)) != 0;
		printf("%-10s %-28s %s%s%s%s\n", j.inst[i].name,
		       j.inst[i].op_id[0] ? j.inst[i].op_id : "-",
		       differs ? progress_color("red") : "", st ? st : desc,
		       differs ? " (differs from sovctl's record)" : "", progress_reset());
		size_t k;
		json_t *h;
		json_array_foreach(json_object_get(entry, "history"), k, h)
		{
			const char *rs = json_string_value(json_object_get(h, "reason"));
			printf("             %s %-10s by %s%s%s\n",
			       json_string_value(json_object_get(h, "at")) ?: "?",
			       json_string_value(json_object_get(h, "state")) ?: "?",
			       json_string_value(json_object_get(h, "by")) ?: "?", rs ? ": " : "",
			       rs ? rs : "");
		}
	}
	if (s->json)
		ctl_print_json(json_pack("{s:o, s:o}", "operation", rec, "instances", remote));
	else {
		json_decref(rec);
		json_decref(remote);
	}
	job_clear(&j);
	return CTL_OK;
}
