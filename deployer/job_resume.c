/* job_resume.c — resuming a job a killed sovctl left, and aborting one. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "deployer/job_int.h"
#include "deployer/progress.h"
#include <unistd.h>

#include "deployer/hook.h"

int cmd_resume(struct sovctl *s, const char *id)
{
	struct job j;
	char addrs[512] = "";
	int cidx[JOB_INSTANCES_MAX];
	bool use[JOB_INSTANCES_MAX];
	json_t *sum = NULL;
	if (job_init(&j) != SOV_OK)
		return CTL_FAILED;
	int rc = job_load_unfinished(s, id, &j, "resume");
	if (rc != CTL_OK)
		goto finish;
	if (job_owner_alive(&j)) {
		progress_error("operation %s is being run by sovctl pid %d", j.id,
			       (int)j.owner_pid);
		rc = CTL_REFUSED;
		goto finish;
	}
	rc = job_check_hooks(s, j.kind, j.dc);
	if (rc == CTL_OK)
		rc = job_map_instances(s, &j, cidx);
	if (rc != CTL_OK)
		goto finish;
	struct dc_views v;
	rc = ctl_precheck(s, j.dc, &v, use);
	job_addresses_of(&v, s->n, addrs, sizeof(addrs));
	dc_views_clear(&v);
	if (rc != CTL_OK)
		goto finish;
	for (size_t i = 0; i < j.n_inst; i++) {
		if (!j.inst[i].skipped && !use[cidx[i]]) {
			progress_warn(
			    "%s is not reached: left out from here on (it keeps the drain "
			    "until its lease ends)",
			    j.inst[i].name);
			j.inst[i].skipped = true;
		}
	}
	j.allow_partial = j.allow_partial || s->allow_partial;
	rc = job_run(s, &j, cidx, true, addrs, &sum);
finish:
	if (s->json)
		ctl_print_json(sum ? sum : json_pack("{s:s, s:i}", "id", id, "exit", rc));
	else
		json_decref(sum);
	job_clear(&j);
	return rc;
}

int cmd_abort(struct sovctl *s, const char *id)
{
	struct job j;
	char why[PATH_MAX + 256], path[256], d[700];
	int cidx[JOB_INSTANCES_MAX];
	json_t *sum = NULL;
	if (job_init(&j) != SOV_OK)
		return CTL_FAILED;
	int rc = job_load_unfinished(s, id, &j, "abort");
	if (rc != CTL_OK)
		goto finish;
	rc = job_map_instances(s, &j, cidx);
	if (rc != CTL_OK)
		goto finish;
	struct run r = {.s = s, .j = &j};
	memcpy(r.cidx, cidx, sizeof(r.cidx));
	snprintf(r.log_path, sizeof(r.log_path), "%s/%s.log", s->conf->log_dir, j.id);
	const char *reason = s->reason ? s->reason : "aborted with sovctl abort";
	for (size_t i = 0; i < j.n_inst; i++) {
		if (j.inst[i].skipped || !j.inst[i].op_id[0])
			continue;
		snprintf(path, sizeof(path), "/v1/operations/%s/abort", j.inst[i].op_id);
		json_t *body = json_pack("{s:s}", "reason", reason);
		struct client_reply rep;
		client_call(run_cli(&r, i), "POST", path, body, &rep);
		json_decref(body);
		if (client_ok(&rep))
			progress_step("aborted on %s (%s)", j.inst[i].name, j.inst[i].op_id);
		else if (rep.status != 409)
			progress_warn("could not abort on %s: %s", j.inst[i].name,
				      client_describe(&rep, d, sizeof(d)));
		client_reply_clear(&rep);
	}
	if (job_owner_alive(&j)) {
		/* the running sovctl notices within ABORT_CHECK_MS, stops its hook
		 * and records the end itself; wait for that, bounded */
		progress_step("sovctl pid %d runs it: it stops the hook and records the abort",
			      (int)j.owner_pid);
		int64_t until = clock_unix_ms() + 30000 + (int64_t)s->conf->kill_grace_s * 1000;
		while (clock_unix_ms() < until && !ctl_interrupted) {
			struct job k;
			if (job_init(&k) != SOV_OK)
				break;
			bool done = jobstate_get(s->conf->state_file, j.id, &k, why, sizeof(why)) ==
					SOV_OK &&
				    op_state_final(k.state);
			job_clear(&k);
			if (done)
				break;
			clock_sleep_ms(200);
		}
		struct job k;
		if (job_init(&k) == SOV_OK &&
		    jobstate_get(s->conf->state_file, j.id, &k, why, sizeof(why)) == SOV_OK) {
			job_clear(&j);
			j = k;
		} else {
			job_clear(&k);
		}
	} else {
		char status_path[PATH_MAX];
		struct hook_status hs;
		memset(&hs, 0, sizeof(hs));
		run_hook_file(&r, j.hook_name, "status.json", status_path, sizeof(status_path));
		if (j.sup.pid > 0 && j.hook_name[0] &&
		    hook_poll(&j.sup, status_path, false, &hs) == HOOK_RUNNING) {
			progress_step("stopping the %s hook left running (supervisor pid %d)",
				      j.hook_name, (int)j.sup.pid);
			hook_stop(&j.sup);
			int64_t until =
			    clock_unix_ms() + (int64_t)s->conf->kill_grace_s * 1000 + 5000;
			while (clock_unix_ms() < until &&
			       hook_poll(&j.sup, status_path, false, &hs) == HOOK_RUNNING)
				clock_sleep_ms(100);
		} else if (j.sup.pid > 0 && hs.hook_pid > 0) {
			hook_kill_group(hs.hook_pid, hs.hook_start, s->conf->kill_grace_s);
		}
		j.sup.pid = 0;
		snprintf(j.error, sizeof(j.error), "%s", reason);
		j.state = OP_ABORTED;
		if (job_site_held(&j))
			run_hold_drained(&r);
		run_save(&r);
		run_log_note(&r, "operation %s aborted: %s", j.id, reason);
	}
	if (job_site_held(&j))
		progress_step("%s stays drained (out of DNS): when the site is fine, run sovctl "
			      "undrain %s",
			      j.dc, j.dc);
	rc = CTL_OK;
	sum = run_summary(&r, rc);
finish:
	if (s->json)
		ctl_print_json(sum ? sum : json_pack("{s:s, s:i}", "id", id, "exit", rc));
	else
		json_decref(sum);
	job_clear(&j);
	return rc;
}
