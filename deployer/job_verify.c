/* job_verify.c — steps 5-6 of a job: wait until every instance sees the
 * site up from a probe made after the hook, undrain, mark the operation done. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "deployer/job_int.h"
#include "deployer/progress.h"

static int wait_health(struct run *r)
{
	struct job *j = r->j;
	int64_t deadline = clock_unix_ms() + (int64_t)r->s->conf->verify_timeout_s * 1000;
	/* a probe that ran while the hook still had the site down proves nothing:
	 * only checks from the second after the hook ended count */
	int64_t min_check_s = (j->hook_ended_ms + 999) / 1000;
	progress_step("verifying: waiting until every instance sees %s up", j->dc);
	for (;;) {
		int rc = run_periodic(r, false);
		if (rc != CTL_OK)
			return rc;
		struct dc_views v;
		ctl_fetch_dc(r->s, j->dc, &v);
		size_t waiting = 0;
		char list[800] = "";
		for (size_t i = 0; i < j->n_inst; i++) {
			if (!run_takes_part(r, i))
				continue;
			json_t *dv = v.view[r->cidx[i]];
			const char *health = json_string_value(json_object_get(dv, "health"));
			json_t *probes = json_object_get(dv, "probes");
			const char *lc = json_string_value(json_object_get(probes, "last_check"));
			const char *lr = json_string_value(json_object_get(probes, "last_result"));
			int64_t t = 0;
			bool ok = false;
			if (health != NULL && probes == NULL) {
				ok = true; /* nothing probes it: nothing to wait for */
				if (!r->unverified_warned[i])
					progress_warn("%s does not probe %s: its health cannot be "
						      "verified there",
						      client_name(run_cli(r, i)), j->dc);
				r->unverified_warned[i] = true;
			} else if (health != NULL && strcmp(health, "up") == 0 && lc &&
				   ctl_parse_time(lc, &t) && t >= min_check_s &&
				   json_is_true(json_object_get(probes, "last_ok"))) {
				ok = true;
			}
			if (!ok) {
				waiting++;
				size_t n = strlen(list);
				if (health != NULL && strcmp(health, "up") == 0)
					snprintf(
					    list + n, sizeof(list) - n,
					    "%s%s: up, waiting for a probe made after the hook",
					    n ? "; " : "", client_name(run_cli(r, i)));
				else
					snprintf(list + n, sizeof(list) - n, "%s%s: %s%s%.120s",
						 n ? "; " : "", client_name(run_cli(r, i)),
						 health ? health : "unreachable", lr ? ", " : "",
						 lr ? lr : "");
			}
		}
		dc_views_clear(&v);
		if (waiting == 0)
			return CTL_OK;
		int64_t now = clock_unix_ms();
		if (now > deadline) {
			run_set_error(r, "%s did not come back up within %u s (%s)", j->dc,
				      r->s->conf->verify_timeout_s, list);
			return CTL_FAILED;
		}
		progress_status("waiting for %s to be up: %ld s left (%s)", j->dc,
				(long)((deadline - now) / 1000), list);
		clock_sleep_ms((int)r->s->conf->poll_ms);
	}
}

int run_phase_verify(struct run *r)
{
	struct job *j = r->j;
	bool use[JOB_INSTANCES_MAX] = {false}, changed[JOB_INSTANCES_MAX];
	char why[800], reason[256];
	int rc = run_advance_all(r, OP_VERIFYING, j->result, false);
	if (rc != CTL_OK)
		return rc;
	run_raise_state(j, OP_VERIFYING);
	rc = run_save(r);
	if (rc != CTL_OK)
		return rc;
	rc = wait_health(r);
	progress_clear();
	if (rc != CTL_OK)
		return rc;
	size_t kept = 0;
	for (size_t i = 0; i < j->n_inst; i++) {
		bool ours =
		    run_takes_part(r, i) && j->inst[i].drained_by_us && !j->inst[i].maintenance;
		use[r->cidx[i]] = ours;
		kept += run_takes_part(r, i) && !ours;
	}
	snprintf(reason, sizeof(reason), "sovctl %s %s done", dconf_hook_name(j->kind), j->id);
	bool any = false;
	for (size_t i = 0; i < r->s->n; i++)
		any |= use[i];
	if (any) {
		rc = ctl_change_all(r->s, j->dc, ACT_UNDRAIN, reason, 0, use, changed, NULL, NULL,
				    why, sizeof(why));
		if (rc != CTL_OK) {
			run_set_error(r, "could not undrain %s: %s", j->dc, why);
			return CTL_FAILED;
		}
		for (size_t i = 0; i < j->n_inst; i++)
			if (use[r->cidx[i]])
				j->inst[i].drained_by_us = false;
		progress_step("%s undrained: back in answers", j->dc);
	}
	if (kept > 0)
		progress_warn("%s was out of answers before this job on %zu instance(s) (drained "
			      "or in maintenance): left so; sovctl undrain %s / maintenance %s off "
			      "puts it back",
			      j->dc, kept, j->dc, j->dc);
	rc = run_advance_all(r, OP_DONE, j->result, false);
	if (rc != CTL_OK)
		return rc;
	j->state = OP_DONE;
	j->error[0] = '\0';
	return run_save(r);
}
