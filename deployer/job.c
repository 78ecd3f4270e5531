/* job.c — deploy, backup, restore and tls-renew of one datacenter: the workflow.
 *
 * The workflow (docs/sovctl.md, docs/architecture.md "deployer/"):
 *   1. record an operation on every instance (pending);          job_drain.c
 *   2. drain the datacenter on every instance, with a lease (draining);
 *   3. wait until every instance reports it drained (drained);
 *   4. run the hook(s) under a supervisor, with the operation's context in
 *      their environment and their output in the operation's log (running);
 *                                                                job_hook.c
 *   5. record the result (a backup's archive name and SHA-256), wait until
 *      every instance sees the site's health up again (verifying); job_verify.c
 *   6. undrain, mark the operation done.
 * Each step is written to the state file before the next begins, so a
 * killed sovctl can be resumed; a failure marks the operation failed on
 * every instance and leaves the site drained — with its lease removed, so it
 * stays out of DNS until an operator undrains it. The lease only matters
 * when sovctl itself dies: then the site returns by itself after lease_s
 * (once its probes say up).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "deployer/hook.h"
#include "deployer/job_int.h"
#include "deployer/progress.h"

static void finish_bad(struct run *r, int rc)
{
	struct job *j = r->j;
	char why[800];
	enum op_state target = rc == CTL_ABORTED ? OP_ABORTED : OP_FAILED;
	if (j->error[0] == '\0')
		run_set_error(r, "failed");
	for (size_t i = 0; i < j->n_inst; i++) {
		if (run_takes_part(r, i) && j->inst[i].op_id[0] &&
		    run_op_advance(r, i, target, NULL, j->error, why, sizeof(why)) == ADV_GONE)
			progress_warn("could not mark the operation %s on %s: %s",
				      op_state_name(target), client_name(run_cli(r, i)), why);
	}
	j->state = target;
	if (job_site_held(j))
		run_hold_drained(r);
	run_save(r);
	progress_error("%s", j->error);
	if (job_site_held(j))
		progress_error("%s is left drained (out of DNS): when the site is fine, run sovctl "
			       "undrain %s",
			       j->dc, j->dc);
}

static void mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0750);
			*p = '/';
		}
	}
	mkdir(buf, 0750);
}

int job_run(struct sovctl *s, struct job *j, const int cidx[], bool resuming, const char *addresses,
	    json_t **summary)
{
	struct run r = {.s = s, .j = j, .resuming = resuming};
	char prefix[128];
	memcpy(r.cidx, cidx, sizeof(r.cidx));
	r.dcc = dconf_dc_find(s->conf, j->dc);
	snprintf(r.addresses, sizeof(r.addresses), "%s", addresses ? addresses : "");
	mkdir_p(s->conf->log_dir);
	snprintf(r.log_path, sizeof(r.log_path), "%s/%s.log", s->conf->log_dir, j->id);
	snprintf(prefix, sizeof(prefix), "%s %s", dconf_hook_name(j->kind), j->dc);
	progress_prefix(prefix);
	j->owner_pid = getpid();
	j->owner_start = hook_proc_start_ticks(j->owner_pid);
	int rc = run_save(&r);
	if (rc != CTL_OK)
		goto finish;
	progress_step("%s operation %s (log %s)", resuming ? "resuming" : "starting", j->id,
		      r.log_path);
	run_log_note(&r, "%s %s of %s by pid %d", resuming ? "resuming" : "starting",
		     dconf_hook_name(j->kind), j->dc, (int)getpid());
	int hooks_needed = j->kind == HOOK_DEPLOY ? 2 : 1;
	if (j->state < OP_VERIFYING && j->hooks_done < hooks_needed)
		rc = run_phase_drain(&r);
	if (rc == CTL_OK && j->state < OP_VERIFYING)
		rc = run_phase_hooks(&r);
	if (rc == CTL_OK)
		rc = run_phase_verify(&r);
	if (rc != CTL_OK)
		finish_bad(&r, rc);
	else
		progress_step("%sdone%s%s%s", progress_color("green"),
			      json_object_get(j->result, "archive") ? ": archive " : "",
			      json_string_value(json_object_get(j->result, "archive")) ?: "",
			      progress_reset());
	run_log_note(&r, "operation %s: %s%s%s", j->id, op_state_name(j->state),
		     j->error[0] ? ": " : "", j->error);
finish:
	j->owner_pid = 0;
	j->owner_start = 0;
	run_save(&r);
	if (summary != NULL)
		*summary = run_summary(&r, rc);
	progress_prefix("");
	return rc;
}
