/* jobstate.c — the state file of sovctl's operations (see jobstate.h). */
#include "deployer/jobstate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/atomicfile.h"
#include "common/err.h"

/* Two hundred records of a few KiB each; 16 MiB means something is wrong. */
#define JOBSTATE_FILE_MAX (16u << 20)

int job_init(struct job *j)
{
	memset(j, 0, sizeof(*j));
	j->result = json_object();
	return j->result ? SOV_OK : SOV_ENOMEM;
}

void job_clear(struct job *j)
{
	json_decref(j->result);
	j->result = NULL;
}

json_t *job_to_json(const struct job *j)
{
	json_t *insts = json_array();
	for (size_t i = 0; insts && i < j->n_inst; i++) {
		const struct job_instance *in = &j->inst[i];
		json_array_append_new(
		    insts, json_pack("{s:s, s:s, s:b, s:b, s:b}", "name", in->name, "operation",
				     in->op_id, "skipped", in->skipped, "drained_by_us",
				     in->drained_by_us, "maintenance", in->maintenance));
	}
	json_t *o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:s, s:i, s:i, s:I, s:I, s:s, s:I, "
	    "s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:O, s:o}",
	    "id", j->id, "kind", dconf_hook_name(j->kind), "datacenter", j->dc, "reason", j->reason,
	    "archive", j->archive, "archive_sha256", j->archive_sha256, "force", j->force,
	    "allow_partial", j->allow_partial, "lease_s", (json_int_t)j->lease_s, "state",
	    op_state_name(j->state), "hooks_done", j->hooks_done, "attempt", j->attempt,
	    "supervisor_pid", (json_int_t)j->sup.pid, "supervisor_start",
	    (json_int_t)j->sup.start_ticks, "hook", j->hook_name, "hook_started_ms",
	    (json_int_t)j->hook_started_ms, "hook_ended_ms", (json_int_t)j->hook_ended_ms,
	    "hook_log_offset", (json_int_t)j->hook_log_offset, "created_ms",
	    (json_int_t)j->created_ms, "updated_ms", (json_int_t)j->updated_ms, "owner_pid",
	    (json_int_t)j->owner_pid, "owner_start", (json_int_t)j->owner_start, "error", j->error,
	    "result", j->result, "instances", insts);
	return o;
}

static void copy_str(char *dst, size_t cap, const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	snprintf(dst, cap, "%s", s ? s : "");
}

static int64_t get_int(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

int job_from_json(const json_t *o, struct job *j)
{
	if (!json_is_object(o))
		return SOV_EPARSE;
	copy_str(j->id, sizeof(j->id), o, "id");
	const char *kind = json_string_value(json_object_get(o, "kind"));
	const char *state = json_string_value(json_object_get(o, "state"));
	int k = kind ? dconf_hook_parse(kind) : -1;
	int s = state ? op_state_index(state) : -1;
	if (j->id[0] == '\0' || k < 0 || s < 0)
		return SOV_EPARSE;
	j->kind = (enum dconf_hook_kind)k;
	j->state = (enum op_state)s;
	copy_str(j->dc, sizeof(j->dc), o, "datacenter");
	copy_str(j->reason, sizeof(j->reason), o, "reason");
	copy_str(j->archive, sizeof(j->archive), o, "archive");
	copy_str(j->archive_sha256, sizeof(j->archive_sha256), o, "archive_sha256");
	j->force = json_is_true(json_object_get(o, "force"));
	j->allow_partial = json_is_true(json_object_get(o, "allow_partial"));
	j->lease_s = (uint32_t)get_int(o, "lease_s");
	j->hooks_done = (int)get_int(o, "hooks_done");
	j->attempt = (int)get_int(o, "attempt");
	j->sup.pid = (pid_t)get_int(o, "supervisor_pid");
	j->sup.start_ticks = (uint64_t)get_int(o, "supervisor_start");
	copy_str(j->hook_name, sizeof(j->hook_name), o, "hook");
	j->hook_started_ms = get_int(o, "hook_started_ms");
	j->hook_ended_ms = get_int(o, "hook_ended_ms");
	j->hook_log_offset = get_int(o, "hook_log_offset");
	j->created_ms = get_int(o, "created_ms");
	j->updated_ms = get_int(o, "updated_ms");
	j->owner_pid = (pid_t)get_int(o, "owner_pid");
	j->owner_start = (uint64_t)get_int(o, "owner_start");
	copy_str(j->error, sizeof(j->error), o, "error");
	json_t *r = json_object_get(o, "result");
	if (json_is_object(r)) {
		json_decref(j->result);
		j->result = json_deep_copy(r);
		if (j->result == NULL)
			return SOV_ENOMEM;
	}
	json_t *insts = json_object_get(o, "instances");
	j->n_inst = 0;
	for (size_t i = 0; i < json_array_size(insts) && i < JOB_INSTANCES_MAX; i++) {
		json_t *e = json_array_get(insts, i);
		struct job_instance *in = &j->inst[j->n_inst++];
		memset(in, 0, sizeof(*in));
		copy_str(in->name, sizeof(in->name), e, "name");
		copy_str(in->op_id, sizeof(in->op_id), e, "operation");
		in->skipped = json_is_true(json_object_get(e, "skipped"));
		in->drained_by_us = json_is_true(json_object_get(e, "drained_by_us"));
		in->maintenance = json_is_true(json_object_get(e, "maintenance"));
	}
	return SOV_OK;
}

/* ---- the file ---- */

/* Takes the lock beside the state file (creating its directory's file). */
static int lock_take(const char *path, int *fd, char *why, size_t why_cap)
{
	char lp[PATH_MAX];
	if (snprintf(lp, sizeof(lp), "%s.lock", path) >= (int)sizeof(lp)) {
		snprintf(why, why_cap, "state file path too long");
		return SOV_EINVAL;
	}
	*fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (*fd < 0) {
		snprintf(why, why_cap, "cannot open %s: %s", lp, strerror(errno));
		return SOV_EIO;
	}
	/* Held for one read-modify-write only (milliseconds): blocking is fine. */
	while (flock(*fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			snprintf(why, why_cap, "cannot lock %s: %s", lp, strerror(errno));
			close(*fd);
			*fd = -1;
			return SOV_EIO;
		}
	}
	return SOV_OK;
}

static void lock_release(int fd)
{
	if (fd >= 0)
		close(fd); /* closing drops the flock */
}

/* Loads the operations array (new reference); a missing file is []. */
static int load_ops(const char *path, json_t **ops, char *why, size_t why_cap)
{
	char *text = NULL;
	size_t len = 0;
	*ops = NULL;
	int rc = atomicfile_read(path, JOBSTATE_FILE_MAX, &text, &len);
	if (rc == SOV_ENOENT) {
		*ops = json_array();
		return *ops ? SOV_OK : SOV_ENOMEM;
	}
	if (rc != SOV_OK) {
		snprintf(why, why_cap, "cannot read the state file %s: %s", path,
			 rc == SOV_EIO ? strerror(errno) : err_str(rc));
		return rc;
	}
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, 0, &jerr);
	free(text);
	json_t *arr = json_object_get(doc, "operations");
	if (doc == NULL || !json_is_array(arr)) {
		snprintf(why, why_cap,
			 "%s:%d:%d: the state file is not valid (%s); the previous good copy is "
			 "%s" ATOMICFILE_PREV_SUFFIX,
			 path, jerr.line, jerr.column, doc ? "no \"operations\" array" : jerr.text,
			 path);
		json_decref(doc);
		return SOV_EPARSE;
	}
	*ops = json_incref(arr);
	json_decref(doc);
	return SOV_OK;
}

static int save_ops(const char *path, json_t *ops, char *why, size_t why_cap)
{
	json_t *doc = json_pack("{s:i, s:O}", "version", 1, "operations", ops);
	char *text = doc ? json_dumps(doc, JSON_INDENT(1)) : NULL;
	json_decref(doc);
	if (text == NULL) {
		snprintf(why, why_cap, "out of memory");
		return SOV_ENOMEM;
	}
	size_t len = strlen(text);
	char *t2 = realloc(text, len + 2);
	if (t2 != NULL) {
		text = t2;
		text[len++] = '\n';
		text[len] = '\0';
	}
	int rc = atomicfile_write(path, text, len, 0640, ATOMICFILE_KEEP_PREV);
	if (rc != SOV_OK)
		snprintf(why, why_cap, "cannot write the state file %s: %s", path, strerror(errno));
	free(text);
	return rc;
}

static bool str_eq(const json_t *v, const char *s)
{
	const char *t = json_string_value(v);
	return t != NULL && strcmp(t, s) == 0;
}

static bool record_is_final(const json_t *rec)
{
	const char *s = json_string_value(json_object_get(rec, "state"));
	int st = s ? op_state_index(s) : -1;
	return st >= 0 && op_state_final((enum op_state)st);
}

int jobstate_put(const char *path, const struct job *j, char *why, size_t why_cap)
{
	int fd = -1;
	json_t *ops = NULL;
	json_t *rec = job_to_json(j);
	int rc = rec ? lock_take(path, &fd, why, why_cap) : SOV_ENOMEM;
	if (rc != SOV_OK)
		goto finish;
	rc = load_ops(path, &ops, why, why_cap);
	if (rc != SOV_OK)
		goto finish;
	size_t i, found = (size_t)-1;
	json_t *e;
	json_array_foreach(ops, i, e)
	{
		if (str_eq(json_object_get(e, "id"), j->id))
			found = i;
	}
	if (found != (size_t)-1)
		json_array_set(ops, found, rec);
	else
		json_array_append(ops, rec);
	/* drop the oldest finished records beyond the limit */
	size_t finished = 0;
	json_array_foreach(ops, i, e) finished += record_is_final(e);
	for (i = 0; finished > JOBSTATE_KEEP_FINISHED && i < json_array_size(ops);) {
		if (record_is_final(json_array_get(ops, i))) {
			json_array_remove(ops, i);
			finished--;
		} else {
			i++;
		}
	}
	rc = save_ops(path, ops, why, why_cap);
finish:
	if (rc == SOV_ENOMEM)
		snprintf(why, why_cap, "out of memory");
	lock_release(fd);
	json_decref(ops);
	json_decref(rec);
	return rc;
}

int jobstate_list(const char *path, json_t **out, char *why, size_t why_cap)
{
	int fd = -1;
	int rc = lock_take(path, &fd, why, why_cap);
	*out = NULL;
	if (rc == SOV_OK)
		rc = load_ops(path, out, why, why_cap);
	lock_release(fd);
	return rc;
}

int jobstate_get(const char *path, const char *id, struct job *j, char *why, size_t why_cap)
{
	json_t *ops = NULL;
	int rc = jobstate_list(path, &ops, why, why_cap);
	if (rc != SOV_OK)
		return rc;
	/* sovctl's own id first; then an instance's operation id (op-...), which
	 * is unique on its instance but may repeat on another */
	const json_t *hit = NULL;
	size_t i, k;
	json_t *e, *in;
	json_array_foreach(ops, i, e)
	{
		if (hit == NULL && str_eq(json_object_get(e, "id"), id))
			hit = e;
	}
	json_array_foreach(ops, i, e)
	{
		json_array_foreach(json_object_get(e, "instances"), k, in)
		{
			if (hit == NULL && str_eq(json_object_get(in, "operation"), id))
				hit = e;
		}
	}
	rc = SOV_ENOENT;
	if (hit != NULL) {
		rc = job_from_json(hit, j);
		if (rc != SOV_OK)
			snprintf(why, why_cap, "the record of %s in %s is not valid", id, path);
	}
	if (rc == SOV_ENOENT)
		snprintf(why, why_cap, "no operation %s in %s", id, path);
	json_decref(ops);
	return rc;
}

int jobstate_find_unfinished(const char *path, const char *dc, char *id, size_t id_cap, char *state,
			     size_t state_cap, char *why, size_t why_cap)
{
	json_t *ops = NULL;
	int rc = jobstate_list(path, &ops, why, why_cap);
	if (rc != SOV_OK)
		return rc;
	rc = SOV_ENOENT;
	size_t i;
	json_t *e;
	json_array_foreach(ops, i, e)
	{
		const char *d = json_string_value(json_object_get(e, "datacenter"));
		const char *st = json_string_value(json_object_get(e, "state"));
		int sv = st ? op_state_index(st) : -1;
		if (d && strcmp(d, dc) == 0 && sv >= 0 && !op_state_final((enum op_state)sv)) {
			snprintf(id, id_cap, "%s",
				 json_string_value(json_object_get(e, "id")) ?: "?");
			if (state != NULL)
				snprintf(state, state_cap, "%s", st);
			rc = SOV_OK;
		}
	}
	json_decref(ops);
	return rc;
}
