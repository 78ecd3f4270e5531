/* job_hook.c — step 4 of a job: run the hook(s) under a supervisor
 * (hook.c), with the operation's context in their environment and their
 * output in the operation's log; collect what they hand back. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/atomicfile.h"
#include "common/clock.h"
#include "common/err.h"
#include "deployer/hook.h"
#include "deployer/job_int.h"
#include "deployer/progress.h"

extern char **environ;

/* The running hook is checked this often (progress line, supervisor). */
#define HOOK_POLL_MS 200
/* The largest result a hook may hand back (file or sovctl-result lines). */
#define RESULT_MAX (1u << 20)

struct envbuf {
	char **v;
	size_t n, cap;
};

static int env_put(struct envbuf *e, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
	char *copy = strdup(kv);
	if (copy == NULL)
		return SOV_ENOMEM;
	for (size_t i = 0; i < e->n; i++) {
		if (strncmp(e->v[i], kv, klen) == 0 && e->v[i][klen] == '=') {
			free(e->v[i]);
			e->v[i] = copy;
			return SOV_OK;
		}
	}
	if (e->n + 2 > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		char **v = realloc(e->v, cap * sizeof(*v));
		if (v == NULL) {
			free(copy);
			return SOV_ENOMEM;
		}
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n++] = copy;
	e->v[e->n] = NULL;
	return SOV_OK;
}

__attribute__((format(printf, 2, 3))) static void env_putf(struct envbuf *e, const char *fmt, ...)
{
	char *kv = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&kv, fmt, ap);
	va_end(ap);
	if (n >= 0) {
		env_put(e, kv);
		free(kv);
	}
}

static void env_free(struct envbuf *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
}

/* The hook's environment: sovctl's own, the configured env, then the context. */
static int build_env(struct run *r, enum dconf_hook_kind h, const char *result_path,
		     struct envbuf *e)
{
	struct job *j = r->j;
	const struct dconf_hook *hk = &r->dcc->hooks[h];
	for (char **p = environ; p && *p; p++)
		if (strncmp(*p, "SOVCTL_", 7) != 0)
			env_put(e, *p);
	for (size_t i = 0; i < r->dcc->env.count; i++)
		env_put(e, r->dcc->env.vars[i]);
	env_putf(e, "SOVCTL_OPERATION=%s", j->id);
	env_putf(e, "SOVCTL_KIND=%s", dconf_hook_name(j->kind));
	env_putf(e, "SOVCTL_HOOK=%s", dconf_hook_name(h));
	env_putf(e, "SOVCTL_DC=%s", j->dc);
	env_putf(e, "SOVCTL_REASON=%s", j->reason);
	env_putf(e, "SOVCTL_LOG=%s", r->log_path);
	env_putf(e, "SOVCTL_RESULT=%s", result_path);
	env_putf(e, "SOVCTL_ATTEMPT=%d", j->attempt);
	env_putf(e, "SOVCTL_TIMEOUT_S=%u", hk->timeout_s);
	env_putf(e, "SOVCTL_CONFIG=%s", r->s->conf->path);
	env_putf(e, "SOVCTL_ADDRESSES=%s", r->addresses);
	if (j->archive[0])
		env_putf(e, "SOVCTL_ARCHIVE=%s", j->archive);
	const char *sha = j->kind == HOOK_RESTORE
			      ? j->archive_sha256
			      : json_string_value(json_object_get(j->result, "sha256"));
	if (sha != NULL && sha[0])
		env_putf(e, "SOVCTL_ARCHIVE_SHA256=%s", sha);
	char ops[1024] = "", insts[512] = "";
	for (size_t i = 0; i < j->n_inst; i++) {
		if (!run_takes_part(r, i))
			continue;
		size_t n = strlen(ops), m = strlen(insts);
		snprintf(ops + n, sizeof(ops) - n, "%s%s=%s", n ? " " : "", j->inst[i].name,
			 j->inst[i].op_id);
		snprintf(insts + m, sizeof(insts) - m, "%s%s", m ? " " : "", j->inst[i].name);
	}
	env_putf(e, "SOVCTL_INSTANCES=%s", insts);
	env_putf(e, "SOVCTL_INSTANCE_OPERATIONS=%s", ops);
	return e->v != NULL ? SOV_OK : SOV_ENOMEM;
}

/* The last line the hook printed (for the error message), from offset on. */
static void last_output_line(const struct run *r, char *buf, size_t cap)
{
	buf[0] = '\0';
	FILE *f = fopen(r->log_path, "re");
	if (f == NULL)
		return;
	char line[1024];
	if (fseek(f, (long)r->j->hook_log_offset, SEEK_SET) == 0) {
		while (fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] && strncmp(line, "== ", 3) != 0) {
				size_t n = strnlen(line, cap - 1);
				memcpy(buf, line, n);
				buf[n] = '\0';
			}
		}
	}
	fclose(f);
}

/* What the hook handed back: $SOVCTL_RESULT, then "sovctl-result: {...}" lines. */
static int collect_result(struct run *r, const char *result_path, json_t **out)
{
	json_t *res = json_object();
	char *text = NULL;
	size_t len = 0;
	*out = NULL;
	if (res == NULL)
		return CTL_FAILED;
	int rc = atomicfile_read(result_path, RESULT_MAX, &text, &len);
	if (rc == SOV_OK) {
		json_error_t jerr;
		json_t *o = json_loadb(text, len, 0, &jerr);
		free(text);
		if (!json_is_object(o)) {
			run_set_error(r, "%s: not a JSON object (%s)", result_path,
				      o ? "wrong type" : jerr.text);
			json_decref(o);
			json_decref(res);
			return CTL_FAILED;
		}
		json_object_update(res, o);
		json_decref(o);
	} else if (rc != SOV_ENOENT) {
		run_set_error(r, "cannot read %s: %s", result_path, err_str(rc));
		json_decref(res);
		return CTL_FAILED;
	}
	FILE *f = fopen(r->log_path, "re");
	if (f != NULL && fseek(f, (long)r->j->hook_log_offset, SEEK_SET) == 0) {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, f)) > 0) {
			if (strncmp(line, RESULT_LINE_PREFIX, strlen(RESULT_LINE_PREFIX)) != 0)
				continue;
			json_t *o = json_loads(line + strlen(RESULT_LINE_PREFIX), 0, NULL);
			if (json_is_object(o))
				json_object_update(res, o);
			else
				progress_warn("ignored a %sline that is not a JSON object",
					      RESULT_LINE_PREFIX);
			json_decref(o);
		}
		free(line);
	}
	if (f != NULL)
		fclose(f);
	*out = res;
	return CTL_OK;
}

/* A hook that a killed sovctl left: wait for it if it still runs, else
 * clean up after it. HOOK_LOST: it has to run (again). */
static enum hook_state hook_reattach(struct run *r, enum dconf_hook_kind h, const char *status_path,
				     struct hook_status *hs)
{
	struct job *j = r->j;
	const struct dconf_hook *hk = &r->dcc->hooks[h];
	const char *name = dconf_hook_name(h);
	enum hook_state state = HOOK_LOST;
	if (j->sup.pid <= 0 || strcmp(j->hook_name, name) != 0)
		return state;
	state = hook_poll(&j->sup, status_path, false, hs);
	if (state == HOOK_RUNNING)
		progress_step("the %s hook started by the sovctl that was killed is still "
			      "running: waiting for it (timeout %u s from its start)",
			      name, hk->timeout_s);
	else if (state == HOOK_DONE)
		progress_step("the %s hook started by the sovctl that was killed has "
			      "finished meanwhile",
			      name);
	else {
		if (hs->hook_pid > 0 &&
		    hook_kill_group(hs->hook_pid, hs->hook_start, r->s->conf->kill_grace_s))
			progress_warn("stopped what was left of the earlier %s hook (process "
				      "group %d)",
				      name, (int)hs->hook_pid);
		progress_step("the earlier run of the %s hook was interrupted: running it "
			      "again",
			      name);
	}
	return state;
}

/* Starts hook h under its supervisor. CTL_FAILED: it could not start. A
 * failure to record that it started stops it again (*stopping, *ret). */
static int hook_launch(struct run *r, enum dconf_hook_kind h, const char *status_path,
		       const char *result_path, bool *stopping, int *ret)
{
	struct job *j = r->j;
	const struct dconf_hook *hk = &r->dcc->hooks[h];
	const char *name = dconf_hook_name(h);
	char why[PATH_MAX + 256];
	struct envbuf env = {0};
	struct stat st;
	j->attempt++;
	unlink(result_path);
	j->hook_log_offset = stat(r->log_path, &st) == 0 ? (int64_t)st.st_size : 0;
	run_log_note(r, "%s hook of %s, operation %s, attempt %d, timeout %u s", name, j->dc, j->id,
		     j->attempt, hk->timeout_s);
	if (build_env(r, h, result_path, &env) != SOV_OK) {
		env_free(&env);
		run_set_error(r, "out of memory");
		return CTL_FAILED;
	}
	struct hook_spec spec = {.argv = hk->argv,
				 .envp = env.v,
				 .cwd = r->s->conf->dir,
				 .log_path = r->log_path,
				 .status_path = status_path,
				 .timeout_s = hk->timeout_s,
				 .kill_grace_s = r->s->conf->kill_grace_s};
	int rc = hook_start(&spec, &j->sup, why, sizeof(why));
	env_free(&env);
	if (rc != SOV_OK) {
		run_set_error(r, "cannot start the %s hook: %s", name, why);
		return CTL_FAILED;
	}
	snprintf(j->hook_name, sizeof(j->hook_name), "%s", name);
	j->hook_started_ms = clock_unix_ms();
	j->hook_ended_ms = 0;
	rc = run_save(r);
	if (rc != CTL_OK) {
		hook_stop(&j->sup);
		*stopping = true;
		*ret = rc;
	}
	progress_step("running the %s hook (timeout %u s, output in %s)", name, hk->timeout_s,
		      r->log_path);
	return CTL_OK;
}

/* Polls the hook until it is done, renewing the lease and stopping it on an
 * abort (*ret says why). false: its supervisor vanished (error set). */
static bool hook_wait(struct run *r, enum dconf_hook_kind h, const char *status_path, bool own,
		      bool stopping, int *ret, struct hook_status *hs)
{
	struct job *j = r->j;
	const struct dconf_hook *hk = &r->dcc->hooks[h];
	const char *name = dconf_hook_name(h);
	for (;;) {
		enum hook_state state = hook_poll(&j->sup, status_path, own, hs);
		if (state == HOOK_DONE)
			return true;
		if (state == HOOK_LOST) {
			progress_clear();
			run_set_error(r, "the %s hook's supervisor (pid %d) ended without a result",
				      name, (int)j->sup.pid);
			if (hs->hook_pid > 0)
				hook_kill_group(hs->hook_pid, hs->hook_start,
						r->s->conf->kill_grace_s);
			j->sup.pid = 0;
			return false;
		}
		if (!stopping) {
			int rc = run_periodic(r, true);
			if (rc != CTL_OK) {
				progress_clear();
				progress_warn("%s: stopping the %s hook", j->error, name);
				hook_stop(&j->sup);
				stopping = true;
				*ret = rc;
			}
		}
		long secs = (long)((clock_unix_ms() - j->hook_started_ms) / 1000);
		progress_status("%s hook running: %ld s (timeout %u s)%s", name, secs,
				hk->timeout_s, stopping ? ", stopping it" : "");
		clock_sleep_ms(HOOK_POLL_MS);
	}
}

/* The hook has ended: record how, judge it, collect its result. */
static int hook_record(struct run *r, enum dconf_hook_kind h, const struct hook_status *hs,
		       const char *result_path, int ret)
{
	struct job *j = r->j;
	const struct dconf_hook *hk = &r->dcc->hooks[h];
	const char *name = dconf_hook_name(h);
	progress_clear();
	j->sup.pid = 0;
	j->sup.start_ticks = 0;
	j->hook_ended_ms = hs->ended_ms ? hs->ended_ms : clock_unix_ms();
	double secs = (double)(hs->ended_ms - hs->started_ms) / 1000.0;
	json_t *hooks = json_object_get(j->result, "hooks");
	if (!json_is_object(hooks)) {
		hooks = json_object();
		json_object_set_new(j->result, "hooks", hooks);
	}
	json_t *hr = json_pack("{s:i, s:i, s:f, s:b}", "exit_code", hs->exit_code, "attempt",
			       j->attempt, "seconds", secs, "timed_out", hs->timed_out);
	if (hs->signal && hr)
		json_object_set_new(hr, "signal", json_integer(hs->signal));
	json_object_set_new(hooks, name, hr);
	if (ret != CTL_OK) {
		run_save(r);
		return ret;
	}
	char last[600];
	last_output_line(r, last, sizeof(last));
	if (hs->timed_out) {
		run_set_error(r, "the %s hook was killed at its timeout of %u s (log: %s)", name,
			      hk->timeout_s, r->log_path);
		ret = CTL_FAILED;
	} else if (hs->terminated) {
		run_set_error(r, "the %s hook was stopped", name);
		ret = CTL_ABORTED;
	} else if (hs->signal) {
		run_set_error(r, "the %s hook was killed by signal %d (%s); log: %s", name,
			      hs->signal, strsignal(hs->signal), r->log_path);
		ret = CTL_FAILED;
	} else if (hs->exit_code != 0) {
		run_set_error(r, "the %s hook %s status %d%s%s%s (log: %s)", name,
			      hs->exec_failed ? "could not be started:" : "exited with",
			      hs->exit_code, last[0] ? ": \"" : "", last, last[0] ? "\"" : "",
			      r->log_path);
		ret = CTL_FAILED;
	} else {
		progress_step("the %s hook succeeded in %.1f s", name, secs);
		json_t *res = NULL;
		ret = collect_result(r, result_path, &res);
		if (ret == CTL_OK && hr != NULL)
			json_object_set(hr, "result", res);
		if (ret == CTL_OK && h == HOOK_BACKUP)
			ret = run_record_backup(r, res);
		json_decref(res);
		if (ret == CTL_OK)
			j->hooks_done++;
		if (ret == CTL_OK)
			j->attempt = 0;
	}
	int rc = run_save(r);
	return ret != CTL_OK ? ret : rc;
}

/* Runs hook h (or waits for the one a killed sovctl left running). */
static int run_hook(struct run *r, enum dconf_hook_kind h)
{
	const char *name = dconf_hook_name(h);
	char status_path[PATH_MAX], result_path[PATH_MAX];
	struct hook_status hs;
	bool own = false, stopping = false;
	int ret = CTL_OK;
	run_hook_file(r, name, "status.json", status_path, sizeof(status_path));
	run_hook_file(r, name, "result.json", result_path, sizeof(result_path));

	enum hook_state state = hook_reattach(r, h, status_path, &hs);
	if (state == HOOK_LOST) {
		if (hook_launch(r, h, status_path, result_path, &stopping, &ret) != CTL_OK)
			return CTL_FAILED;
		own = true;
	}
	if (state != HOOK_DONE && !hook_wait(r, h, status_path, own, stopping, &ret, &hs))
		return CTL_FAILED;
	return hook_record(r, h, &hs, result_path, ret);
}

int run_phase_hooks(struct run *r)
{
	struct job *j = r->j;
	enum dconf_hook_kind seq[2] = {j->kind, j->kind};
	int n = 1;
	if (j->kind == HOOK_DEPLOY) {
		seq[0] = HOOK_BACKUP; /* every deploy leaves a fresh archive first */
		n = 2;
	}
	for (int k = j->hooks_done; k < n; k++) {
		int rc = run_advance_all(r, OP_RUNNING, NULL, false);
		if (rc != CTL_OK)
			return rc;
		run_raise_state(j, OP_RUNNING);
		rc = run_hook(r, seq[k]);
		if (rc != CTL_OK)
			return rc;
	}
	return CTL_OK;
}
