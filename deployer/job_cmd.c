/* job_cmd.c — backup, deploy, restore and tls-renew of one datacenter, or
 * of every datacenter one at a time (--all, rolling). */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "deployer/job_int.h"
#include "deployer/progress.h"
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static void make_id(char *buf, size_t cap)
{
	char ts[32];
	unsigned char rnd[2] = {0, 0};
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		rnd[0] = (unsigned char)getpid();
		rnd[1] = (unsigned char)(clock_unix_ms() & 0xff);
	}
	time_t t = (time_t)(clock_unix_ms() / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(buf, cap, "sovctl-%s-%02x%02x", ts, rnd[0], rnd[1]);
}

static int one_job(struct sovctl *s, enum dconf_hook_kind kind, const char *dc, json_t **summary)
{
	struct job j;
	struct dc_views v;
	bool use[JOB_INSTANCES_MAX];
	int cidx[JOB_INSTANCES_MAX];
	char other[JOB_ID_MAX], other_state[32], addrs[512];
	*summary = NULL;
	int rc = job_check_hooks(s, kind, dc);
	if (rc != CTL_OK)
		return rc;
	if (job_unfinished_on(s, dc, other, sizeof(other), other_state, sizeof(other_state))) {
		progress_error("operation %s on %s is unfinished (%s): sovctl resume %s, or sovctl "
			       "abort %s, first",
			       other, dc, other_state, other, other);
		return CTL_REFUSED;
	}
	rc = ctl_precheck(s, dc, &v, use);
	job_addresses_of(&v, s->n, addrs, sizeof(addrs));
	dc_views_clear(&v);
	if (rc != CTL_OK)
		return rc;
	if (job_init(&j) != SOV_OK)
		return CTL_FAILED;
	make_id(j.id, sizeof(j.id));
	j.kind = kind;
	snprintf(j.dc, sizeof(j.dc), "%s", dc);
	snprintf(j.reason, sizeof(j.reason), "%s", s->reason ? s->reason : "");
	if (!j.reason[0])
		snprintf(j.reason, sizeof(j.reason), "%s of %s", dconf_hook_name(kind), dc);
	j.force = s->force;
	j.allow_partial = s->allow_partial;
	j.lease_s = s->lease_given ? s->lease_s : s->conf->lease_s;
	j.created_ms = clock_unix_ms();
	if (kind == HOOK_BACKUP || kind == HOOK_DEPLOY) {
		/* the name the backup hook stores the archive under: datacenter and time */
		snprintf(j.archive, sizeof(j.archive), "%s-%.16s", dc, j.id + strlen("sovctl-"));
	} else if (kind == HOOK_RESTORE) {
		snprintf(j.archive, sizeof(j.archive), "%s", s->archive);
		job_find_archive_digest(s, dc, s->archive, j.archive_sha256);
		if (j.archive_sha256[0])
			progress_step("archive %s was recorded with sha256 %s", s->archive,
				      j.archive_sha256);
		else
			progress_warn("no recorded digest for archive %s of %s: the restore hook "
				      "cannot check it",
				      s->archive, dc);
	}
	j.n_inst = s->n;
	for (size_t i = 0; i < s->n; i++) {
		snprintf(j.inst[i].name, sizeof(j.inst[i].name), "%s", client_name(s->clients[i]));
		j.inst[i].skipped = !use[i];
		cidx[i] = (int)i;
	}
	rc = job_run(s, &j, cidx, false, addrs, summary);
	job_clear(&j);
	return rc;
}

int cmd_job(struct sovctl *s, enum dconf_hook_kind kind, const char *dc)
{
	if (kind == HOOK_RESTORE && (s->archive == NULL || !s->archive[0])) {
		progress_error("restore needs --archive NAME (the archive to restore)");
		return CTL_USAGE;
	}
	if (!s->all) {
		json_t *sum = NULL;
		int rc = one_job(s, kind, dc, &sum);
		if (s->json)
			ctl_print_json(sum ? sum : json_pack("{s:i}", "exit", rc));
		else
			json_decref(sum);
		return rc;
	}
	/* rolling: one datacenter at a time, in the configuration's order */
	for (size_t i = 0; i < s->conf->dc_count; i++) {
		int rc = job_check_hooks(s, kind, s->conf->dcs[i].id);
		if (rc != CTL_OK)
			return rc;
	}
	if (s->conf->dc_count == 0) {
		progress_error("no datacenters in %s", s->conf->path);
		return CTL_USAGE;
	}
	json_t *all = json_array();
	int rc = CTL_OK;
	size_t i;
	for (i = 0; i < s->conf->dc_count && rc == CTL_OK; i++) {
		const char *id = s->conf->dcs[i].id;
		progress_step("%s %zu of %zu: %s", dconf_hook_name(kind), i + 1, s->conf->dc_count,
			      id);
		json_t *sum = NULL;
		rc = one_job(s, kind, id, &sum);
		json_array_append_new(
		    all, sum ? sum : json_pack("{s:s, s:i}", "datacenter", id, "exit", rc));
	}
	if (rc != CTL_OK && i < s->conf->dc_count) {
		char rest[512] = "";
		for (size_t k = i; k < s->conf->dc_count; k++) {
			size_t n = strlen(rest);
			snprintf(rest + n, sizeof(rest) - n, "%s%s", n ? ", " : "",
				 s->conf->dcs[k].id);
		}
		progress_error("stopped at the first failure (%s); not touched: %s",
			       s->conf->dcs[i - 1].id, rest);
	}
	if (s->json)
		ctl_print_json(json_pack("{s:o, s:i}", "operations", all, "exit", rc));
	else
		json_decref(all);
	return rc;
}
