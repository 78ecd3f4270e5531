/* job_check.c — the safety checks before a job starts or resumes. */

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

int job_check_hooks(struct sovctl *s, enum dconf_hook_kind kind, const char *dc)
{
	const struct dconf_dc *dcc = dconf_dc_find(s->conf, dc);
	if (dcc == NULL || !dcc->hooks[kind].set) {
		progress_error("no %s hook for datacenter %s in %s", dconf_hook_name(kind), dc,
			       s->conf->path);
		return CTL_USAGE;
	}
	if (kind == HOOK_DEPLOY && !dcc->hooks[HOOK_BACKUP].set) {
		progress_error("a deploy takes a backup first, and %s has no backup hook in %s", dc,
			       s->conf->path);
		return CTL_USAGE;
	}
	return CTL_OK;
}

/* An unfinished local operation on dc (none, or an unreadable state file,
 * which is warned about: returns false). */
bool job_unfinished_on(struct sovctl *s, const char *dc, char *id, size_t cap, char *state,
		       size_t scap)
{
	char why[PATH_MAX + 256];
	int rc = jobstate_find_unfinished(s->conf->state_file, dc, id, cap, state, scap, why,
					  sizeof(why));
	if (rc != SOV_OK && rc != SOV_ENOENT)
		progress_warn("%s", why);
	return rc == SOV_OK;
}

void job_addresses_of(const struct dc_views *v, size_t n, char *buf, size_t cap)
{
	buf[0] = '\0';
	for (size_t i = 0; i < n && buf[0] == '\0'; i++) {
		size_t k;
		json_t *a;
		json_array_foreach(json_object_get(v->view[i], "addresses"), k, a)
		{
			size_t len = strlen(buf);
			snprintf(buf + len, cap - len, "%s%s", len ? " " : "",
				 json_string_value(a) ?: "");
		}
	}
}

bool job_owner_alive(const struct job *j)
{
	return j->owner_pid > 0 && j->owner_pid != getpid() &&
	       hook_proc_start_ticks(j->owner_pid) == j->owner_start && j->owner_start != 0;
}

/* Maps a record's instances onto the configured ones (by name). */
int job_map_instances(struct sovctl *s, const struct job *j, int cidx[])
{
	for (size_t i = 0; i < j->n_inst; i++) {
		cidx[i] = -1;
		for (size_t k = 0; k < s->n; k++)
			if (strcmp(client_name(s->clients[k]), j->inst[i].name) == 0)
				cidx[i] = (int)k;
		if (cidx[i] < 0 && !j->inst[i].skipped) {
			progress_error(
			    "operation %s involves instance %s, which is no longer in %s", j->id,
			    j->inst[i].name, s->conf->path);
			return CTL_USAGE;
		}
		if (cidx[i] < 0)
			cidx[i] = 0; /* skipped: never contacted */
	}
	return CTL_OK;
}

/* Loads operation `id` from the state file into j (initialized) for
 * `verb` (resume, abort): CTL_OK, or the exit code with the reason printed
 * (no such operation, unreadable state, or already finished). */
int job_load_unfinished(struct sovctl *s, const char *id, struct job *j, const char *verb)
{
	char why[PATH_MAX + 256];
	int rc = jobstate_get(s->conf->state_file, id, j, why, sizeof(why));
	if (rc != SOV_OK) {
		progress_error("%s", why);
		return rc == SOV_ENOENT ? CTL_NOT_FOUND : CTL_FAILED;
	}
	if (op_state_final(j->state)) {
		progress_error("operation %s is %s%s%s: nothing to %s", j->id,
			       op_state_name(j->state), j->error[0] ? ": " : "", j->error, verb);
		return CTL_NOT_FOUND;
	}
	return CTL_OK;
}
