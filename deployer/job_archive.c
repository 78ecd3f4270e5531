/* job_archive.c — what is particular to backup and restore: the archive a
 * backup hook reports and its SHA-256, and the digest a restore checks. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "deployer/digest.h"
#include "deployer/job_int.h"
#include "deployer/progress.h"

/* A backup must name its archive and give (or let us compute) its SHA-256. */
int run_record_backup(struct run *r, json_t *res)
{
	struct job *j = r->j;
	const char *archive = json_string_value(json_object_get(res, "archive"));
	const char *apath = json_string_value(json_object_get(res, "archive_path"));
	const char *hsha = json_string_value(json_object_get(res, "sha256"));
	char sha[DIGEST_HEX_LEN] = "", why[PATH_MAX + 256], full[PATH_MAX];
	if (archive == NULL || !archive[0])
		archive = j->archive;
	if (apath != NULL && apath[0]) {
		if (apath[0] == '/')
			snprintf(full, sizeof(full), "%s", apath);
		else
			snprintf(full, sizeof(full), "%s/%s", r->s->conf->dir, apath);
		if (digest_archive(full, sha, why, sizeof(why)) != SOV_OK) {
			run_set_error(r, "the backup hook named archive_path %s: %s", full, why);
			return CTL_FAILED;
		}
		if (hsha != NULL && strcmp(hsha, sha) != 0) {
			run_set_error(r, "the backup hook reported sha256 %s but %s has %s", hsha,
				      full, sha);
			return CTL_FAILED;
		}
		json_object_set_new(j->result, "archive_path", json_string(full));
	} else if (digest_hex_valid(hsha)) {
		snprintf(sha, sizeof(sha), "%s", hsha);
	} else {
		run_set_error(
		    r, "the backup hook reported no archive: write {\"archive_path\": PATH} to "
		       "$SOVCTL_RESULT (or {\"sha256\": HEX} if the archive is not local), "
		       "or print a line " RESULT_LINE_PREFIX "{...}");
		return CTL_FAILED;
	}
	json_object_set_new(j->result, "archive", json_string(archive));
	json_object_set_new(j->result, "sha256", json_string(sha));
	if (archive != j->archive)
		snprintf(j->archive, sizeof(j->archive), "%s", archive);
	progress_step("archive %s, sha256 %s", archive, sha);
	return CTL_OK;
}

/* The digest recorded when archive was taken (local record, then the instances). */
void job_find_archive_digest(struct sovctl *s, const char *dc, const char *archive, char out[65])
{
	json_t *ops = NULL;
	char why[PATH_MAX + 256], path[512];
	out[0] = '\0';
	if (jobstate_list(s->conf->state_file, &ops, why, sizeof(why)) == SOV_OK) {
		size_t i;
		json_t *e;
		json_array_foreach(ops, i, e)
		{
			json_t *res = json_object_get(e, "result");
			const char *a = json_string_value(json_object_get(res, "archive"));
			const char *sha = json_string_value(json_object_get(res, "sha256"));
			const char *d = json_string_value(json_object_get(e, "datacenter"));
			if (a && d && sha && strcmp(a, archive) == 0 && strcmp(d, dc) == 0 &&
			    digest_hex_valid(sha))
				snprintf(out, 65, "%s", sha);
		}
	}
	json_decref(ops);
	snprintf(path, sizeof(path), "/v1/operations?datacenter=%s&limit=1000", dc);
	for (size_t k = 0; out[0] == '\0' && k < s->n; k++) {
		struct client_reply rep;
		client_call(s->clients[k], "GET", path, NULL, &rep);
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(rep.body, "operations"), i, e)
		{
			json_t *res = json_object_get(e, "result");
			const char *a = json_string_value(json_object_get(res, "archive"));
			const char *sha = json_string_value(json_object_get(res, "sha256"));
			if (out[0] == '\0' && a && sha && strcmp(a, archive) == 0 &&
			    digest_hex_valid(sha))
				snprintf(out, 65, "%s", sha);
		}
		client_reply_clear(&rep);
	}
}
