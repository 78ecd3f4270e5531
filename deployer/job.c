/* job.c — deploy, backup, restore and tls-renew of one datacenter.
 *
 * The workflow (docs/sovctl.md, DESIGN.md "deployer/"):
 *   1. record an operation on every instance (pending);
 *   2. drain the datacenter on every instance, with a lease (draining);
 *   3. wait until every instance reports it drained (drained);
 *   4. run the hook(s) under a supervisor, with the operation's context in
 *      their environment and their output in the operation's log (running);
 *   5. record the result (a backup's archive name and SHA-256), wait until
 *      every instance sees the site's health up again (verifying);
 *   6. undrain, mark the operation done.
 * Each step is written to the state file before the next begins, so a
 * killed sovctl can be resumed; a failure marks the operation failed on
 * every instance and leaves the site drained — with its lease removed, so it
 * stays out of DNS until an operator undrains it. The lease only matters
 * when sovctl itself dies: then the site returns by itself after lease_s
 * (once its probes say up).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/atomicfile.h"
#include "common/err.h"
#include "deployer/ctl.h"
#include "deployer/digest.h"
#include "deployer/progress.h"

extern char **environ;

/* The running hook is checked this often (progress line, supervisor). */
#define HOOK_POLL_MS 200
/* How often a running job asks the instances whether it was aborted. */
#define ABORT_CHECK_MS 2000
/* The largest result a hook may hand back (file or sovctl-result lines). */
#define RESULT_MAX (1u << 20)
#define RESULT_LINE_PREFIX "sovctl-result: "

struct run {
	struct sovctl *s;
	struct job *j;
	const struct dconf_dc *dcc;
	int cidx[JOB_INSTANCES_MAX]; /* job instance -> client index */
	bool resuming;
	char log_path[PATH_MAX];
	char addresses[512];
	int64_t last_renew_ms;
	int64_t last_abort_check_ms;
	bool unverified_warned[JOB_INSTANCES_MAX];
};

static client_t *cli(const struct run *r, size_t i)
{
	return r->s->clients[r->cidx[i]];
}

static bool takes_part(const struct run *r, size_t i)
{
	return !r->j->inst[i].skipped;
}

__attribute__((format(printf, 2, 3))) static void set_error(struct run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->j->error, sizeof(r->j->error), fmt, ap);
	va_end(ap);
}

static int save(struct run *r)
{
	char why[PATH_MAX + 256];
	r->j->updated_ms = ctl_now_ms();
	if (jobstate_put(r->s->conf->state_file, r->j, why, sizeof(why)) != SOV_OK) {
		progress_error("%s", why);
		set_error(r, "cannot record progress: %s", why);
		return CTL_FAILED;
	}
	return CTL_OK;
}

static void raise_state(struct job *j, enum op_state st)
{
	if (j->state < st)
		j->state = st;
}

static const char *hook_label(enum dconf_hook_kind h)
{
	return dconf_hook_name(h);
}

/* ---- operations on the instances ---- */

enum adv { ADV_OK, ADV_GONE, ADV_FINAL };

/* "operation op-... is aborted on ns1 (by ops: wrong day)" from an operation's JSON. */
static void describe_final(const struct run *r, size_t i, const json_t *op, char *why, size_t cap)
{
	json_t *h = json_object_get(op, "history");
	json_t *last = json_array_get(h, json_array_size(h) - 1);
	const char *by = json_string_value(json_object_get(last, "by"));
	const char *rs = json_string_value(json_object_get(last, "reason"));
	const char *st = json_string_value(json_object_get(op, "state"));
	snprintf(why, cap, "operation %s is %s on %s (by %s%s%s)", r->j->inst[i].op_id,
		 st ? st : "?", client_name(cli(r, i)), by ? by : "?", rs ? ": " : "",
		 rs ? rs : "");
}

/*
 * Moves instance i's operation to target, one allowed step at a time from
 * wherever it is (so a resumed job catches up), merging result on the last
 * step. A state already beyond target (not final) is fine.
 */
static enum adv op_advance(struct run *r, size_t i, enum op_state target, json_t *result,
			   const char *reason, char *why, size_t cap)
{
	char path[256], d[700];
	struct client_reply rep;
	enum adv ret = ADV_GONE;
	const char *op = r->j->inst[i].op_id;
	snprintf(path, sizeof(path), "/v1/operations/%s", op);
	client_call(cli(r, i), "GET", path, NULL, &rep);
	if (rep.status != 200) {
		snprintf(why, cap, "%s: %s", client_name(cli(r, i)),
			 client_describe(&rep, d, sizeof(d)));
		goto finish;
	}
	const char *cs = json_string_value(json_object_get(rep.body, "state"));
	int cur = cs ? op_state_parse(cs) : -1;
	if (cur < 0) {
		snprintf(why, cap, "%s: operation %s has no valid state", client_name(cli(r, i)),
			 op);
		goto finish;
	}
	if (op_state_final((enum op_state)cur) && cur != (int)target) {
		describe_final(r, i, rep.body, why, cap);
		ret = ADV_FINAL;
		goto finish;
	}
	if (cur == (int)target && result == NULL) {
		ret = ADV_OK;
		goto finish;
	}
	if (!op_state_final(target) && cur > (int)target) {
		ret = ADV_OK;
		goto finish;
	}
	int from = op_state_final(target) || cur == (int)target ? (int)target : cur + 1;
	snprintf(path, sizeof(path), "/v1/operations/%s/state", op);
	for (int st = from; st <= (int)target; st++) {
		json_t *body = json_pack("{s:s}", "state", op_state_name((enum op_state)st));
		if (body != NULL && st == (int)target && result != NULL)
			json_object_set(body, "result", result);
		if (body != NULL && st == (int)target && reason != NULL && reason[0])
			json_object_set_new(body, "reason",
					    json_stringn(reason, strnlen(reason, 255)));
		client_reply_clear(&rep);
		client_call(cli(r, i), "POST", path, body, &rep);
		json_decref(body);
		if (rep.status == 409 && strcmp(rep.code, "invalid_transition") == 0) {
			/* someone else moved it (abort): say who */
			client_reply_clear(&rep);
			return op_advance(r, i, target, NULL, NULL, why, cap);
		}
		if (!client_ok(&rep)) {
			snprintf(why, cap, "%s: %s", client_name(cli(r, i)),
				 client_describe(&rep, d, sizeof(d)));
			goto finish;
		}
	}
	ret = ADV_OK;
finish:
	client_reply_clear(&rep);
	return ret;
}

/*
 * Advances every taking-part instance. must: a failure to record is fatal
 * (CTL_UNREACHABLE) rather than a warning. ADV_FINAL anywhere is an abort.
 */
static int advance_all(struct run *r, enum op_state target, json_t *result, bool must)
{
	char why[800];
	int ret = CTL_OK;
	for (size_t i = 0; i < r->j->n_inst; i++) {
		if (!takes_part(r, i) || !r->j->inst[i].op_id[0])
			continue;
		enum adv a = op_advance(r, i, target, result, NULL, why, sizeof(why));
		if (a == ADV_FINAL) {
			set_error(r, "%s", why);
			return CTL_ABORTED;
		}
		if (a == ADV_GONE && must) {
			set_error(r, "could not record the operation: %s", why);
			ret = CTL_UNREACHABLE;
		} else if (a == ADV_GONE) {
			progress_warn(
			    "could not record the operation's progress (%s) on %s: %s; its "
			    "record there lags (sovctl operations %s shows it)",
			    op_state_name(target), client_name(cli(r, i)), why, r->j->id);
		}
	}
	return ret;
}

/* POST /v1/operations on every instance that has none yet. */
static int create_ops(struct run *r)
{
	struct job *j = r->j;
	char d[700];
	for (size_t i = 0; i < j->n_inst; i++) {
		if (!takes_part(r, i) || j->inst[i].op_id[0])
			continue;
		char reason[256];
		snprintf(reason, sizeof(reason), "%.180s (sovctl %s)", j->reason, j->id);
		json_t *body = json_pack("{s:s, s:s, s:s}", "kind", dconf_hook_name(j->kind),
					 "datacenter", j->dc, "reason", reason);
		struct client_reply rep;
		client_call(cli(r, i), "POST", "/v1/operations", body, &rep);
		json_decref(body);
		const char *id = json_string_value(json_object_get(rep.body, "id"));
		if (rep.status == 201 && id != NULL) {
			snprintf(j->inst[i].op_id, sizeof(j->inst[i].op_id), "%s", id);
		} else if (r->s->allow_partial && !r->resuming && rep.status == 0) {
			progress_warn("--allow-partial: going on without %s (%s)",
				      client_name(cli(r, i)), client_describe(&rep, d, sizeof(d)));
			j->inst[i].skipped = true;
		} else {
			set_error(r, "could not record the operation on %s: %s",
				  client_name(cli(r, i)), client_describe(&rep, d, sizeof(d)));
			client_reply_clear(&rep);
			return rep.status == 0 || rep.status == 401 || rep.status == 403
				   ? CTL_UNREACHABLE
				   : CTL_FAILED;
		}
		client_reply_clear(&rep);
		int rc = save(r);
		if (rc != CTL_OK)
			return rc;
	}
	return CTL_OK;
}

/* ---- drain, lease, abort ---- */

static void drain_reason(const struct run *r, char *buf, size_t cap)
{
	snprintf(buf, cap, "sovctl %s %s: %.180s", dconf_hook_name(r->j->kind), r->j->id,
		 r->j->reason);
}

/* Renews the drain's lease while the job needs the site out of DNS. */
static void renew_lease(struct run *r)
{
	struct job *j = r->j;
	char reason[256], path[256], d[700];
	drain_reason(r, reason, sizeof(reason));
	snprintf(path, sizeof(path), "/v1/datacenters/%s/drain", j->dc);
	for (size_t i = 0; i < j->n_inst; i++) {
		if (!takes_part(r, i) || j->inst[i].maintenance)
			continue;
		json_t *body =
		    json_pack("{s:s, s:i}", "reason", reason, "lease_s", (int)j->lease_s);
		struct client_reply rep;
		client_call(cli(r, i), "POST", path, body, &rep);
		json_decref(body);
		if (!client_ok(&rep))
			progress_warn(
			    "could not renew the drain's lease on %s: %s (it ends by itself "
			    "within %u s unless renewed)",
			    client_name(cli(r, i)), client_describe(&rep, d, sizeof(d)),
			    j->lease_s);
		else if (json_is_true(json_object_get(rep.body, "changed"))) {
			progress_warn("%s had put %s back (lease expired?): drained it again",
				      client_name(cli(r, i)), j->dc);
			j->inst[i].drained_by_us = true;
		}
		client_reply_clear(&rep);
	}
}

/*
 * What every wait does now and then: renew the lease (while the site must
 * stay out), and notice an abort (sovctl abort from elsewhere) or a signal.
 */
static int periodic(struct run *r, bool renew)
{
	int64_t now = ctl_now_ms();
	if (ctl_interrupted) {
		set_error(r, "interrupted by a signal");
		return CTL_ABORTED;
	}
	if (renew && now - r->last_renew_ms >= (int64_t)r->j->lease_s * 1000 / 3) {
		r->last_renew_ms = now;
		renew_lease(r);
	}
	if (now - r->last_abort_check_ms >= ABORT_CHECK_MS) {
		r->last_abort_check_ms = now;
		char why[800], path[256];
		for (size_t i = 0; i < r->j->n_inst; i++) {
			if (!takes_part(r, i) || !r->j->inst[i].op_id[0])
				continue;
			snprintf(path, sizeof(path), "/v1/operations/%s", r->j->inst[i].op_id);
			struct client_reply rep;
			client_call(cli(r, i), "GET", path, NULL, &rep);
			const char *st = json_string_value(json_object_get(rep.body, "state"));
			bool final = rep.status == 200 && st != NULL && op_state_parse(st) >= 0 &&
				     op_state_final((enum op_state)op_state_parse(st));
			if (final)
				describe_final(r, i, rep.body, why, sizeof(why));
			client_reply_clear(&rep);
			if (final) {
				set_error(r, "%s", why);
				return CTL_ABORTED;
			}
		}
	}
	return CTL_OK;
}

static int wait_drained(struct run *r)
{
	struct job *j = r->j;
	int64_t first_ms = ctl_now_ms();
	for (;;) {
		int rc = periodic(r, true);
		if (rc != CTL_OK)
			return rc;
		struct dc_views v;
		ctl_fetch_dc(r->s, j->dc, &v);
		int64_t safe_at = 0, now = ctl_now_ms();
		size_t waiting = 0;
		char list[512] = "";
		bool active = false;
		for (size_t i = 0; i < j->n_inst; i++) {
			if (!takes_part(r, i))
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
				set_error(r,
					  "%s is active again on %s (undrained by %s) while sovctl "
					  "waited for the drain",
					  j->dc, client_name(cli(r, i)),
					  json_string_value(json_object_get(admin, "by")) ?: "?");
			}
			if (!ok) {
				waiting++;
				size_t n = strlen(list);
				snprintf(list + n, sizeof(list) - n, "%s%s %s", n ? ", " : "",
					 client_name(cli(r, i)), st ? st : "unreachable");
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
			set_error(r, "%s was not drained on every instance in time (%s)", j->dc,
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
		ctl_sleep_ms((int)r->s->conf->poll_ms);
	}
}

static int phase_drain(struct run *r)
{
	struct job *j = r->j;
	bool use[JOB_INSTANCES_MAX] = {false}, changed[JOB_INSTANCES_MAX], maint[JOB_INSTANCES_MAX];
	char why[800], reason[256], list[512] = "";
	int rc = create_ops(r);
	if (rc != CTL_OK)
		return rc;
	for (size_t i = 0; i < j->n_inst; i++) {
		if (!takes_part(r, i))
			continue;
		size_t n = strlen(list);
		snprintf(list + n, sizeof(list) - n, "%s%s (%s)", n ? ", " : "",
			 client_name(cli(r, i)), j->inst[i].op_id);
	}
	progress_step("operation recorded on %s", list);
	json_t *res = json_pack("{s:s, s:s}", "sovctl_operation", j->id, "log", r->log_path);
	rc = advance_all(r, OP_DRAINING, res, true);
	json_decref(res);
	if (rc != CTL_OK)
		return rc;

	/* the drain itself, all or nothing on a first run */
	for (size_t i = 0; i < j->n_inst; i++)
		use[r->cidx[i]] = takes_part(r, i);
	drain_reason(r, reason, sizeof(reason));
	int64_t safe_at = 0;
	rc = ctl_change_all(r->s, j->dc, ACT_DRAIN, reason, j->lease_s, use, changed, maint,
			    &safe_at, why, sizeof(why));
	if (rc != CTL_OK) {
		if (r->resuming)
			set_error(r, "could not drain %s again: %s", j->dc, why);
		else
			set_error(r, "drain refused, nothing taken out of DNS: %s", why);
		return rc;
	}
	r->last_renew_ms = ctl_now_ms();
	for (size_t i = 0; i < j->n_inst; i++) {
		int c = r->cidx[i];
		if (takes_part(r, i) && !use[c]) {
			j->inst[i].skipped = true; /* --allow-partial dropped it */
			continue;
		}
		j->inst[i].drained_by_us |= changed[c];
		j->inst[i].maintenance = maint[c];
	}
	raise_state(j, OP_DRAINING);
	rc = save(r);
	if (rc != CTL_OK)
		return rc;
	if (safe_at > 0) {
		char ts[32];
		ctl_format_time(safe_at, ts, sizeof(ts));
		long left = (long)(safe_at - ctl_now_ms() / 1000);
		progress_step(
		    "drained out of answers on every instance; resolvers may hold it until "
		    "%s (%ld s)",
		    ts, left > 0 ? left : 0);
	}
	rc = wait_drained(r);
	progress_clear();
	if (rc != CTL_OK)
		return rc;
	rc = advance_all(r, OP_DRAINED, NULL, false);
	if (rc != CTL_OK)
		return rc;
	raise_state(j, OP_DRAINED);
	progress_step("%s is drained on every instance: safe to take it down", j->dc);
	return save(r);
}

/* ---- hooks ---- */

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

static void hook_file(const struct run *r, const char *hook, const char *what, char *buf,
		      size_t cap)
{
	snprintf(buf, cap, "%s/%s.%s.%s", r->s->conf->log_dir, r->j->id, hook, what);
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
	env_putf(e, "SOVCTL_HOOK=%s", hook_label(h));
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
		if (!takes_part(r, i))
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

__attribute__((format(printf, 2, 3))) static void log_note(const struct run *r, const char *fmt,
							   ...)
{
	FILE *f = fopen(r->log_path, "ae");
	if (f == NULL)
		return;
	char ts[32];
	ctl_format_time(ctl_now_ms() / 1000, ts, sizeof(ts));
	fprintf(f, "== %s sovctl: ", ts);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
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
			set_error(r, "%s: not a JSON object (%s)", result_path,
				  o ? "wrong type" : jerr.text);
			json_decref(o);
			json_decref(res);
			return CTL_FAILED;
		}
		json_object_update(res, o);
		json_decref(o);
	} else if (rc != SOV_ENOENT) {
		set_error(r, "cannot read %s: %s", result_path, err_str(rc));
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

static bool is_hex64(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A backup must name its archive and give (or let us compute) its SHA-256. */
static int record_backup(struct run *r, json_t *res)
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
			set_error(r, "the backup hook named archive_path %s: %s", full, why);
			return CTL_FAILED;
		}
		if (hsha != NULL && strcmp(hsha, sha) != 0) {
			set_error(r, "the backup hook reported sha256 %s but %s has %s", hsha, full,
				  sha);
			return CTL_FAILED;
		}
		json_object_set_new(j->result, "archive_path", json_string(full));
	} else if (is_hex64(hsha)) {
		snprintf(sha, sizeof(sha), "%s", hsha);
	} else {
		set_error(r,
			  "the backup hook reported no archive: write {\"archive_path\": PATH} to "
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

/* Runs hook h (or waits for the one a killed sovctl left running). */
static int run_hook(struct run *r, enum dconf_hook_kind h)
{
	struct job *j = r->j;
	const struct dconf_hook *hk = &r->dcc->hooks[h];
	const char *name = hook_label(h);
	char status_path[PATH_MAX], result_path[PATH_MAX], why[PATH_MAX + 256];
	struct hook_status hs;
	bool own = false, stopping = false;
	int ret = CTL_OK;
	hook_file(r, name, "status.json", status_path, sizeof(status_path));
	hook_file(r, name, "result.json", result_path, sizeof(result_path));

	enum hook_state state = HOOK_LOST;
	if (j->sup.pid > 0 && strcmp(j->hook_name, name) == 0) {
		state = hook_poll(&j->sup, status_path, false, &hs);
		if (state == HOOK_RUNNING)
			progress_step("the %s hook started by the sovctl that was killed is still "
				      "running: waiting for it (timeout %u s from its start)",
				      name, hk->timeout_s);
		else if (state == HOOK_DONE)
			progress_step("the %s hook started by the sovctl that was killed has "
				      "finished meanwhile",
				      name);
		else {
			if (hs.hook_pid > 0 &&
			    hook_kill_group(hs.hook_pid, hs.hook_start, r->s->conf->kill_grace_s))
				progress_warn(
				    "stopped what was left of the earlier %s hook (process "
				    "group %d)",
				    name, (int)hs.hook_pid);
			progress_step("the earlier run of the %s hook was interrupted: running it "
				      "again",
				      name);
		}
	}
	if (state == HOOK_LOST) {
		struct envbuf env = {0};
		struct stat st;
		j->attempt++;
		unlink(result_path);
		j->hook_log_offset = stat(r->log_path, &st) == 0 ? (int64_t)st.st_size : 0;
		log_note(r, "%s hook of %s, operation %s, attempt %d, timeout %u s", name, j->dc,
			 j->id, j->attempt, hk->timeout_s);
		if (build_env(r, h, result_path, &env) != SOV_OK) {
			env_free(&env);
			set_error(r, "out of memory");
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
			set_error(r, "cannot start the %s hook: %s", name, why);
			return CTL_FAILED;
		}
		own = true;
		snprintf(j->hook_name, sizeof(j->hook_name), "%s", name);
		j->hook_started_ms = ctl_now_ms();
		j->hook_ended_ms = 0;
		rc = save(r);
		if (rc != CTL_OK) {
			hook_stop(&j->sup);
			stopping = true;
			ret = rc;
		}
		progress_step("running the %s hook (timeout %u s, output in %s)", name,
			      hk->timeout_s, r->log_path);
	}
	while (state != HOOK_DONE) {
		state = hook_poll(&j->sup, status_path, own, &hs);
		if (state == HOOK_DONE)
			break;
		if (state == HOOK_LOST) {
			progress_clear();
			set_error(r, "the %s hook's supervisor (pid %d) ended without a result",
				  name, (int)j->sup.pid);
			if (hs.hook_pid > 0)
				hook_kill_group(hs.hook_pid, hs.hook_start,
						r->s->conf->kill_grace_s);
			j->sup.pid = 0;
			return CTL_FAILED;
		}
		if (!stopping) {
			int rc = periodic(r, true);
			if (rc != CTL_OK) {
				progress_clear();
				progress_warn("%s: stopping the %s hook", j->error, name);
				hook_stop(&j->sup);
				stopping = true;
				ret = rc;
			}
		}
		long secs = (long)((ctl_now_ms() - j->hook_started_ms) / 1000);
		progress_status("%s hook running: %ld s (timeout %u s)%s", name, secs,
				hk->timeout_s, stopping ? ", stopping it" : "");
		ctl_sleep_ms(HOOK_POLL_MS);
	}
	progress_clear();
	j->sup.pid = 0;
	j->sup.start_ticks = 0;
	j->hook_ended_ms = hs.ended_ms ? hs.ended_ms : ctl_now_ms();
	double secs = (double)(hs.ended_ms - hs.started_ms) / 1000.0;
	json_t *hooks = json_object_get(j->result, "hooks");
	if (!json_is_object(hooks)) {
		hooks = json_object();
		json_object_set_new(j->result, "hooks", hooks);
	}
	json_t *hr = json_pack("{s:i, s:i, s:f, s:b}", "exit_code", hs.exit_code, "attempt",
			       j->attempt, "seconds", secs, "timed_out", hs.timed_out);
	if (hs.signal && hr)
		json_object_set_new(hr, "signal", json_integer(hs.signal));
	json_object_set_new(hooks, name, hr);
	if (ret != CTL_OK) {
		save(r);
		return ret;
	}
	char last[600];
	last_output_line(r, last, sizeof(last));
	if (hs.timed_out) {
		set_error(r, "the %s hook was killed at its timeout of %u s (log: %s)", name,
			  hk->timeout_s, r->log_path);
		ret = CTL_FAILED;
	} else if (hs.terminated) {
		set_error(r, "the %s hook was stopped", name);
		ret = CTL_ABORTED;
	} else if (hs.signal) {
		set_error(r, "the %s hook was killed by signal %d (%s); log: %s", name, hs.signal,
			  strsignal(hs.signal), r->log_path);
		ret = CTL_FAILED;
	} else if (hs.exit_code != 0) {
		set_error(r, "the %s hook %s status %d%s%s%s (log: %s)", name,
			  hs.exec_failed ? "could not be started:" : "exited with", hs.exit_code,
			  last[0] ? ": \"" : "", last, last[0] ? "\"" : "", r->log_path);
		ret = CTL_FAILED;
	} else {
		progress_step("the %s hook succeeded in %.1f s", name, secs);
		json_t *res = NULL;
		ret = collect_result(r, result_path, &res);
		if (ret == CTL_OK && hr != NULL)
			json_object_set(hr, "result", res);
		if (ret == CTL_OK && h == HOOK_BACKUP)
			ret = record_backup(r, res);
		json_decref(res);
		if (ret == CTL_OK)
			j->hooks_done++;
		if (ret == CTL_OK)
			j->attempt = 0;
	}
	int rc = save(r);
	return ret != CTL_OK ? ret : rc;
}

static int phase_hooks(struct run *r)
{
	struct job *j = r->j;
	enum dconf_hook_kind seq[2] = {j->kind, j->kind};
	int n = 1;
	if (j->kind == HOOK_DEPLOY) {
		seq[0] = HOOK_BACKUP; /* every deploy leaves a fresh archive first */
		n = 2;
	}
	for (int k = j->hooks_done; k < n; k++) {
		int rc = advance_all(r, OP_RUNNING, NULL, false);
		if (rc != CTL_OK)
			return rc;
		raise_state(j, OP_RUNNING);
		rc = run_hook(r, seq[k]);
		if (rc != CTL_OK)
			return rc;
	}
	return CTL_OK;
}

/* ---- verify, undrain, done ---- */

static int wait_health(struct run *r)
{
	struct job *j = r->j;
	int64_t deadline = ctl_now_ms() + (int64_t)r->s->conf->verify_timeout_s * 1000;
	/* a probe that ran while the hook still had the site down proves nothing:
	 * only checks from the second after the hook ended count */
	int64_t min_check_s = (j->hook_ended_ms + 999) / 1000;
	progress_step("verifying: waiting until every instance sees %s up", j->dc);
	for (;;) {
		int rc = periodic(r, false);
		if (rc != CTL_OK)
			return rc;
		struct dc_views v;
		ctl_fetch_dc(r->s, j->dc, &v);
		size_t waiting = 0;
		char list[800] = "";
		for (size_t i = 0; i < j->n_inst; i++) {
			if (!takes_part(r, i))
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
						      client_name(cli(r, i)), j->dc);
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
					    n ? "; " : "", client_name(cli(r, i)));
				else
					snprintf(list + n, sizeof(list) - n, "%s%s: %s%s%.120s",
						 n ? "; " : "", client_name(cli(r, i)),
						 health ? health : "unreachable", lr ? ", " : "",
						 lr ? lr : "");
			}
		}
		dc_views_clear(&v);
		if (waiting == 0)
			return CTL_OK;
		int64_t now = ctl_now_ms();
		if (now > deadline) {
			set_error(r, "%s did not come back up within %u s (%s)", j->dc,
				  r->s->conf->verify_timeout_s, list);
			return CTL_FAILED;
		}
		progress_status("waiting for %s to be up: %ld s left (%s)", j->dc,
				(long)((deadline - now) / 1000), list);
		ctl_sleep_ms((int)r->s->conf->poll_ms);
	}
}

static int phase_verify(struct run *r)
{
	struct job *j = r->j;
	bool use[JOB_INSTANCES_MAX] = {false}, changed[JOB_INSTANCES_MAX];
	char why[800], reason[256];
	int rc = advance_all(r, OP_VERIFYING, j->result, false);
	if (rc != CTL_OK)
		return rc;
	raise_state(j, OP_VERIFYING);
	rc = save(r);
	if (rc != CTL_OK)
		return rc;
	rc = wait_health(r);
	progress_clear();
	if (rc != CTL_OK)
		return rc;
	size_t kept = 0;
	for (size_t i = 0; i < j->n_inst; i++) {
		bool ours = takes_part(r, i) && j->inst[i].drained_by_us && !j->inst[i].maintenance;
		use[r->cidx[i]] = ours;
		kept += takes_part(r, i) && !ours;
	}
	snprintf(reason, sizeof(reason), "sovctl %s %s done", dconf_hook_name(j->kind), j->id);
	bool any = false;
	for (size_t i = 0; i < r->s->n; i++)
		any |= use[i];
	if (any) {
		rc = ctl_change_all(r->s, j->dc, ACT_UNDRAIN, reason, 0, use, changed, NULL, NULL,
				    why, sizeof(why));
		if (rc != CTL_OK) {
			set_error(r, "could not undrain %s: %s", j->dc, why);
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
	rc = advance_all(r, OP_DONE, j->result, false);
	if (rc != CTL_OK)
		return rc;
	j->state = OP_DONE;
	j->error[0] = '\0';
	return save(r);
}

/* ---- failure, and the whole job ---- */

/* Keeps the site out of DNS after a failure: the same drain without a lease. */
static void hold_drained(struct run *r)
{
	struct job *j = r->j;
	char reason[256], path[256], d[700];
	snprintf(reason, sizeof(reason), "sovctl %s %s %s: %.150s", dconf_hook_name(j->kind), j->id,
		 op_state_name(j->state), j->error);
	snprintf(path, sizeof(path), "/v1/datacenters/%s/drain", j->dc);
	for (size_t i = 0; i < j->n_inst; i++) {
		if (!takes_part(r, i) || !j->inst[i].drained_by_us || j->inst[i].maintenance)
			continue;
		json_t *body = json_pack("{s:s}", "reason", reason);
		struct client_reply rep;
		client_call(cli(r, i), "POST", path, body, &rep);
		json_decref(body);
		if (!client_ok(&rep))
			progress_warn(
			    "could not remove the drain's lease on %s (%s): %s returns to "
			    "its answers when the lease ends",
			    client_name(cli(r, i)), client_describe(&rep, d, sizeof(d)), j->dc);
		client_reply_clear(&rep);
	}
}

static bool site_held(const struct job *j)
{
	for (size_t i = 0; i < j->n_inst; i++)
		if (!j->inst[i].skipped && j->inst[i].drained_by_us)
			return true;
	return false;
}

static void finish_bad(struct run *r, int rc)
{
	struct job *j = r->j;
	char why[800];
	enum op_state target = rc == CTL_ABORTED ? OP_ABORTED : OP_FAILED;
	if (j->error[0] == '\0')
		set_error(r, "failed");
	for (size_t i = 0; i < j->n_inst; i++) {
		if (takes_part(r, i) && j->inst[i].op_id[0] &&
		    op_advance(r, i, target, NULL, j->error, why, sizeof(why)) == ADV_GONE)
			progress_warn("could not mark the operation %s on %s: %s",
				      op_state_name(target), client_name(cli(r, i)), why);
	}
	j->state = target;
	if (site_held(j))
		hold_drained(r);
	save(r);
	progress_error("%s", j->error);
	if (site_held(j))
		progress_error("%s is left drained (out of DNS): when the site is fine, run sovctl "
			       "undrain %s",
			       j->dc, j->dc);
}

static json_t *job_summary(const struct run *r, int rc)
{
	const struct job *j = r->j;
	json_t *insts = json_array();
	for (size_t i = 0; i < j->n_inst; i++)
		json_array_append_new(insts, json_pack("{s:s, s:s, s:b}", "name", j->inst[i].name,
						       "operation", j->inst[i].op_id, "skipped",
						       j->inst[i].skipped));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:o, s:i}", "id", j->id, "kind",
			 dconf_hook_name(j->kind), "datacenter", j->dc, "state",
			 op_state_name(j->state), "error", j->error, "result", j->result, "log",
			 r->log_path, "instances", insts, "exit", rc);
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

static int job_run(struct sovctl *s, struct job *j, const int cidx[], bool resuming,
		   const char *addresses, json_t **summary)
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
	int rc = save(&r);
	if (rc != CTL_OK)
		goto finish;
	progress_step("%s operation %s (log %s)", resuming ? "resuming" : "starting", j->id,
		      r.log_path);
	log_note(&r, "%s %s of %s by pid %d", resuming ? "resuming" : "starting",
		 dconf_hook_name(j->kind), j->dc, (int)getpid());
	int hooks_needed = j->kind == HOOK_DEPLOY ? 2 : 1;
	if (j->state < OP_VERIFYING && j->hooks_done < hooks_needed)
		rc = phase_drain(&r);
	if (rc == CTL_OK && j->state < OP_VERIFYING)
		rc = phase_hooks(&r);
	if (rc == CTL_OK)
		rc = phase_verify(&r);
	if (rc != CTL_OK)
		finish_bad(&r, rc);
	else
		progress_step("%sdone%s%s%s", progress_color("green"),
			      json_object_get(j->result, "archive") ? ": archive " : "",
			      json_string_value(json_object_get(j->result, "archive")) ?: "",
			      progress_reset());
	log_note(&r, "operation %s: %s%s%s", j->id, op_state_name(j->state),
		 j->error[0] ? ": " : "", j->error);
finish:
	j->owner_pid = 0;
	j->owner_start = 0;
	save(&r);
	if (summary != NULL)
		*summary = job_summary(&r, rc);
	progress_prefix("");
	return rc;
}

/* ---- commands ---- */

static void make_id(char *buf, size_t cap)
{
	char ts[32];
	unsigned char rnd[2] = {0, 0};
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		rnd[0] = (unsigned char)getpid();
		rnd[1] = (unsigned char)(ctl_now_ms() & 0xff);
	}
	time_t t = (time_t)(ctl_now_ms() / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(buf, cap, "sovctl-%s-%02x%02x", ts, rnd[0], rnd[1]);
}

/* An unfinished local operation on dc (none: returns false). */
static bool unfinished_on(struct sovctl *s, const char *dc, char *id, size_t cap, char *state,
			  size_t scap)
{
	json_t *ops = NULL;
	char why[PATH_MAX + 256];
	bool found = false;
	if (jobstate_list(s->conf->state_file, &ops, why, sizeof(why)) != SOV_OK) {
		progress_warn("%s", why);
		return false;
	}
	size_t i;
	json_t *e;
	json_array_foreach(ops, i, e)
	{
		const char *d = json_string_value(json_object_get(e, "datacenter"));
		const char *st = json_string_value(json_object_get(e, "state"));
		int sv = st ? op_state_parse(st) : -1;
		if (d && strcmp(d, dc) == 0 && sv >= 0 && !op_state_final((enum op_state)sv)) {
			snprintf(id, cap, "%s", json_string_value(json_object_get(e, "id")) ?: "?");
			snprintf(state, scap, "%s", st);
			found = true;
		}
	}
	json_decref(ops);
	return found;
}

/* The digest recorded when archive was taken (local record, then the instances). */
static void find_archive_digest(struct sovctl *s, const char *dc, const char *archive, char out[65])
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
			    is_hex64(sha))
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
			if (out[0] == '\0' && a && sha && strcmp(a, archive) == 0 && is_hex64(sha))
				snprintf(out, 65, "%s", sha);
		}
		client_reply_clear(&rep);
	}
}

static void addresses_of(const struct dc_views *v, size_t n, char *buf, size_t cap)
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

static int check_hooks(struct sovctl *s, enum dconf_hook_kind kind, const char *dc)
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

static int one_job(struct sovctl *s, enum dconf_hook_kind kind, const char *dc, json_t **summary)
{
	struct job j;
	struct dc_views v;
	bool use[JOB_INSTANCES_MAX];
	int cidx[JOB_INSTANCES_MAX];
	char other[JOB_ID_MAX], other_state[32], addrs[512];
	*summary = NULL;
	int rc = check_hooks(s, kind, dc);
	if (rc != CTL_OK)
		return rc;
	if (unfinished_on(s, dc, other, sizeof(other), other_state, sizeof(other_state))) {
		progress_error("operation %s on %s is unfinished (%s): sovctl resume %s, or sovctl "
			       "abort %s, first",
			       other, dc, other_state, other, other);
		return CTL_REFUSED;
	}
	rc = ctl_precheck(s, dc, &v, use);
	addresses_of(&v, s->n, addrs, sizeof(addrs));
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
	j.created_ms = ctl_now_ms();
	if (kind == HOOK_BACKUP || kind == HOOK_DEPLOY) {
		/* the name the backup hook stores the archive under: datacenter and time */
		snprintf(j.archive, sizeof(j.archive), "%s-%.16s", dc, j.id + strlen("sovctl-"));
	} else if (kind == HOOK_RESTORE) {
		snprintf(j.archive, sizeof(j.archive), "%s", s->archive);
		find_archive_digest(s, dc, s->archive, j.archive_sha256);
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
		int rc = check_hooks(s, kind, s->conf->dcs[i].id);
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

/* Maps a record's instances onto the configured ones (by name). */
static int map_instances(struct sovctl *s, const struct job *j, int cidx[])
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

static bool owner_alive(const struct job *j)
{
	return j->owner_pid > 0 && j->owner_pid != getpid() &&
	       hook_proc_start_ticks(j->owner_pid) == j->owner_start && j->owner_start != 0;
}

/* Loads operation `id` from the state file into j (initialized) for
 * `verb` (resume, abort): CTL_OK, or the exit code with the reason printed
 * (no such operation, unreadable state, or already finished). */
static int job_load_unfinished(struct sovctl *s, const char *id, struct job *j, const char *verb)
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
	if (owner_alive(&j)) {
		progress_error("operation %s is being run by sovctl pid %d", j.id,
			       (int)j.owner_pid);
		rc = CTL_REFUSED;
		goto finish;
	}
	rc = check_hooks(s, j.kind, j.dc);
	if (rc == CTL_OK)
		rc = map_instances(s, &j, cidx);
	if (rc != CTL_OK)
		goto finish;
	struct dc_views v;
	rc = ctl_precheck(s, j.dc, &v, use);
	addresses_of(&v, s->n, addrs, sizeof(addrs));
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
	rc = map_instances(s, &j, cidx);
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
		client_call(cli(&r, i), "POST", path, body, &rep);
		json_decref(body);
		if (client_ok(&rep))
			progress_step("aborted on %s (%s)", j.inst[i].name, j.inst[i].op_id);
		else if (rep.status != 409)
			progress_warn("could not abort on %s: %s", j.inst[i].name,
				      client_describe(&rep, d, sizeof(d)));
		client_reply_clear(&rep);
	}
	if (owner_alive(&j)) {
		/* the running sovctl notices within ABORT_CHECK_MS, stops its hook
		 * and records the end itself; wait for that, bounded */
		progress_step("sovctl pid %d runs it: it stops the hook and records the abort",
			      (int)j.owner_pid);
		int64_t until = ctl_now_ms() + 30000 + (int64_t)s->conf->kill_grace_s * 1000;
		while (ctl_now_ms() < until && !ctl_interrupted) {
			struct job k;
			if (job_init(&k) != SOV_OK)
				break;
			bool done = jobstate_get(s->conf->state_file, j.id, &k, why, sizeof(why)) ==
					SOV_OK &&
				    op_state_final(k.state);
			job_clear(&k);
			if (done)
				break;
			ctl_sleep_ms(200);
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
		hook_file(&r, j.hook_name, "status.json", status_path, sizeof(status_path));
		if (j.sup.pid > 0 && j.hook_name[0] &&
		    hook_poll(&j.sup, status_path, false, &hs) == HOOK_RUNNING) {
			progress_step("stopping the %s hook left running (supervisor pid %d)",
				      j.hook_name, (int)j.sup.pid);
			hook_stop(&j.sup);
			int64_t until = ctl_now_ms() + (int64_t)s->conf->kill_grace_s * 1000 + 5000;
			while (ctl_now_ms() < until &&
			       hook_poll(&j.sup, status_path, false, &hs) == HOOK_RUNNING)
				ctl_sleep_ms(100);
		} else if (j.sup.pid > 0 && hs.hook_pid > 0) {
			hook_kill_group(hs.hook_pid, hs.hook_start, s->conf->kill_grace_s);
		}
		j.sup.pid = 0;
		snprintf(j.error, sizeof(j.error), "%s", reason);
		j.state = OP_ABORTED;
		if (site_held(&j))
			hold_drained(&r);
		save(&r);
		log_note(&r, "operation %s aborted: %s", j.id, reason);
	}
	if (site_held(&j))
		progress_step("%s stays drained (out of DNS): when the site is fine, run sovctl "
			      "undrain %s",
			      j.dc, j.dc);
	rc = CTL_OK;
	sum = job_summary(&r, rc);
finish:
	if (s->json)
		ctl_print_json(sum ? sum : json_pack("{s:s, s:i}", "id", id, "exit", rc));
	else
		json_decref(sum);
	job_clear(&j);
	return rc;
}
