/* job_drain.c — steps 1-3 of a job: record the operation on every
 * instance, drain the datacenter with a lease, wait until every instance
 * reports it drained. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "deployer/job_int.h"
#include "deployer/progress.h"

/* POST /v1/operations on every instance that has none yet. */
static int create_ops(struct run *r)
{
	struct job *j = r->j;
	char d[700];
	for (size_t i = 0; i < j->n_inst; i++) {
		if (!run_takes_part(r, i) || j->inst[i].op_id[0])
			continue;
		char reason[256];
		snprintf(reason, sizeof(reason), "%.180s (sovctl %s)", j->reason, j->id);
		json_t *body = json_pack("{s:s, s:s, s:s}", "kind", dconf_hook_name(j->kind),
					 "datacenter", j->dc, "reason", reason);
		struct client_reply rep;
		client_call(run_cli(r, i), "POST", "/v1/operations", body, &rep);
		json_decref(body);
		const char *id = json_string_value(json_object_get(rep.body, "id"));
		if (rep.status == 201 && id != NULL) {
			snprintf(j->inst[i].op_id, sizeof(j->inst[i].op_id), "%s", id);
		} else if (r->s->allow_partial && !r->resuming && rep.status == 0) {
			progress_warn("--allow-partial: going on without %s (%s)",
				      client_name(run_cli(r, i)),
				      client_describe(&rep, d, sizeof(d)));
			j->inst[i].skipped = true;
		} else {
			run_set_error(r, "could not record the operation on %s: %s",
				      client_name(run_cli(r, i)),
				      client_describe(&rep, d, sizeof(d)));
			client_reply_clear(&rep);
			return rep.status == 0 || rep.status == 401 || rep.status == 403
				   ? CTL_UNREACHABLE
				   : CTL_FAILED;
		}
		client_reply_clear(&rep);
		int rc = run_save(r);
		if (rc != CTL_OK)
			return rc;
	}
	return CTL_OK;
}

static int wait_drained(struct run *r)
{
	struct job *j = r->j;
	int64_t first_ms = clock_unix_ms();
	for (;;) {
		int rc = run_periodic(r, true);
		if (rc != CTL_OK)
			return rc;
		struct dc_views v;
		ctl_fetch_dc(r->s, j->dc, &v);
		int64_t safe_at = 0, now = clock_unix_ms();
		size_t waiting = 0;
		char list[512] = "";
		bool active = false;
		for (size_t i = 0; i < j->n_inst; i++) {
			if (!run_takes_part(r, i))
				continue;
			json_t *admin = json_object_get(v.view[r->cidx[i]], "admin");
			const char *st = json_string_value(json_object_get(admin, "state"));
			const char *sa = json_string_value(json_object_get(admin, "safe_at"));
			int64_t t;
			if (sa && ctl_parse_time(sa, &t) && t > safe_at)
				safe_at = t;
			bool ok =
			    st && (strcmp(st, "drained") == 0 || strcmp(st, "maintenance") == 0);
			if (st && strcmp(st, "active") == 0) {
				active = true;
				run_set_error(
				    r,
				    "%s is active again on %s (undrained by %s) while sovctl "
				    "waited for the drain",
				    j->dc, client_name(run_cli(r, i)),
				    json_string_value(json_object_get(admin, "by")) ?: "?");
			}
			if (!ok) {
				waiting++;
				size_t n = strlen(list);
				snprintf(list + n, sizeof(list) - n, "%s%s %s", n ? ", " : "",
					 client_name(run_cli(r, i)), st ? st : "unreachable");
			}
		}
		dc_views_clear(&v);
		if (active)
			return CTL_FAILED;
		if (waiting == 0)
			return CTL_OK;
		int64_t deadline = (safe_at ? safe_at * 1000 : first_ms) +
				   (int64_t)r->s->conf->drain_slack_s * 1000;
		if (now > deadline) {
			run_set_error(r, "%s was not drained on every instance in time (%s)", j->dc,
				      list);
			return CTL_FAILED;
		}
		long left = safe_at ? (long)((safe_at * 1000 - now + 999) / 1000) : -1;
		if (left > 0)
			progress_status("waiting until %s is drained: %ld s left (%s)", j->dc, left,
					list);
		else
			progress_status("waiting until %s is drained: any moment now (%s)", j->dc,
					list);
		clock_sleep_ms((int)r->s->conf->poll_ms);
	}
}

int run_phase_drain(struct run *r)
{
	struct job *j = r->j;
	bool use[JOB_INSTANCES_MAX] = {false}, changed[JOB_INSTANCES_MAX], maint[JOB_INSTANCES_MAX];
	char why[800], reason[256], list[512] = "";
	int rc = create_ops(r);
	if (rc != CTL_OK)
		return rc;
	for (size_t i = 0; i < j->n_inst; i++) {
		if (!run_takes_part(r, i))
			continue;
		size_t n = strlen(list);
		snprintf(list + n, sizeof(list) - n, "%s%s (%s)", n ? ", " : "",
			 client_name(run_cli(r, i)), j->inst[i].op_id);
	}
	progress_step("operation recorded on %s", list);
	json_t *res = json_pack("{s:s, s:s}", "sovctl_operation", j->id, "log", r->log_path);
	rc = run_advance_all(r, OP_DRAINING, res, true);
	json_decref(res);
	if (rc != CTL_OK)
		return rc;

	/* the drain itself, all or nothing on a first run */
	for (size_t i = 0; i < j->n_inst; i++)
		use[r->cidx[i]] = run_takes_part(r, i);
	run_drain_reason(r, reason, sizeof(reason));
	int64_t safe_at = 0;
	rc = ctl_change_all(r->s, j->dc, ACT_DRAIN, reason, j->lease_s, use, changed, maint,
			    &safe_at, why, sizeof(why));
	if (rc != CTL_OK) {
		if (r->resuming)
			run_set_error(r, "could not drain %s again: %s", j->dc, why);
		else
			run_set_error(r, "drain refused, nothing taken out of DNS: %s", why);
		return rc;
	}
	r->last_renew_ms = clock_unix_ms();
	for (size_t i = 0; i < j->n_inst; i++) {
		int c = r->cidx[i];
		if (run_takes_part(r, i) && !use[c]) {
			j->inst[i].skipped = true; /* --allow-partial dropped it */
			continue;
		}
		j->inst[i].drained_by_us |= changed[c];
		j->inst[i].maintenance = maint[c];
	}
	run_raise_state(j, OP_DRAINING);
	rc = run_save(r);
	if (rc != CTL_OK)
		return rc;
	if (safe_at > 0) {
		char ts[32];
		ctl_format_time(safe_at, ts, sizeof(ts));
		long left = (long)(safe_at - clock_unix_ms() / 1000);
		progress_step(
		    "drained out of answers on every instance; resolvers may hold it until "
		    "%s (%ld s)",
		    ts, left > 0 ? left : 0);
	}
	rc = wait_drained(r);
	progress_clear();
	if (rc != CTL_OK)
		return rc;
	rc = run_advance_all(r, OP_DRAINED, NULL, false);
	if (rc != CTL_OK)
		return rc;
	run_raise_state(j, OP_DRAINED);
	progress_step("%s is drained on every instance: safe to take it down", j->dc);
	return run_save(r);
}
