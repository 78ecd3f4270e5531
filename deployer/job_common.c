/* job_common.c — a running job: its record in the state file, the operation
 * on each instance, the drain's lease, noticing an abort. See job_int.h. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "deployer/job_int.h"
#include "deployer/progress.h"

client_t *run_cli(const struct run *r, size_t i)
{
	return r->s->clients[r->cidx[i]];
}

bool run_takes_part(const struct run *r, size_t i)
{
	return !r->j->inst[i].skipped;
}

void run_set_error(struct run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->j->error, sizeof(r->j->error), fmt, ap);
	va_end(ap);
}

int run_save(struct run *r)
{
	char why[PATH_MAX + 256];
	r->j->updated_ms = clock_unix_ms();
	if (jobstate_put(r->s->conf->state_file, r->j, why, sizeof(why)) != SOV_OK) {
		progress_error("%s", why);
		run_set_error(r, "cannot record progress: %s", why);
		return CTL_FAILED;
	}
	return CTL_OK;
}

void run_raise_state(struct job *j, enum op_state st)
{
	if (j->state < st)
		j->state = st;
}

void run_log_note(const struct run *r, const char *fmt, ...)
{
	FILE *f = fopen(r->log_path, "ae");
	if (f == NULL)
		return;
	char ts[32];
	ctl_format_time(clock_unix_ms() / 1000, ts, sizeof(ts));
	fprintf(f, "== %s sovctl: ", ts);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

void run_hook_file(const struct run *r, const char *hook, const char *what, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s.%s.%s", r->s->conf->log_dir, r->j->id, hook, what);
}

void run_drain_reason(const struct run *r, char *buf, size_t cap)
{
	snprintf(buf, cap, "sovctl %s %s: %.180s", dconf_hook_name(r->j->kind), r->j->id,
		 r->j->reason);
}

/* "operation op-... is aborted on ns1 (by ops: wrong day)" from an operation's JSON. */
static void describe_final(const struct run *r, size_t i, const json_t *op, char *why, size_t cap)
{
	json_t *h = json_object_get(op, "history");
	json_t *last = json_array_get(h, json_array_size(h) - 1);
	const char *by = json_string_value(json_object_get(last, "by"));
	const char *rs = json_string_value(json_object_get(last, "reason"));
	const char *st = json_string_value(json_object_get(op, "state"));
	snprintf(why, cap, "operation %s is %s on %s (by %s%s%s)", r->j->inst[i].op_id,
		 st ? st : "?", client_name(run_cli(r, i)), by ? by : "?", rs ? ": " : "",
		 rs ? rs : "");
}

/*
 * Moves instance i's operation to target, one allowed step at a time from
 * wherever it is (so a resumed job catches up), merging result on the last
 * step. A state already beyond target (not final) is fine.
 */
enum adv run_op_advance(struct run *r, size_t i, enum op_state target, json_t *result,
			const char *reason, char *why, size_t cap)
{
	char path[256], d[700];
	struct client_reply rep;
	enum adv ret = ADV_GONE;
	const char *op = r->j->inst[i].op_id;
	snprintf(path, sizeof(path), "/v1/operations/%s", op);
	client_call(run_cli(r, i), "GET", path, NULL, &rep);
	if (rep.status != 200) {
		snprintf(why, cap, "%s: %s", client_name(run_cli(r, i)),
			 client_describe(&rep, d, sizeof(d)));
		goto finish;
	}
	const char *cs = json_string_value(json_object_get(rep.body, "state"));
	int cur = cs ? op_state_index(cs) : -1;
	if (cur < 0) {
		snprintf(why, cap, "%s: operation %s has no valid state",
			 client_name(run_cli(r, i)), op);
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
		client_call(run_cli(r, i), "POST", path, body, &rep);
		json_decref(body);
		if (rep.status == 409 && strcmp(rep.code, "invalid_transition") == 0) {
			/* someone else moved it (abort): say who */
			client_reply_clear(&rep);
			return run_op_advance(r, i, target, NULL, NULL, why, cap);
		}
		if (!client_ok(&rep)) {
			snprintf(why, cap, "%s: %s", client_name(run_cli(r, i)),
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
int run_advance_all(struct run *r, enum op_state target, json_t *result, bool must)
{
	char why[800];
	int ret = CTL_OK;
	for (size_t i = 0; i < r->j->n_inst; i++) {
		if (!run_takes_part(r, i) || !r->j->inst[i].op_id[0])
			continue;
		enum adv a = run_op_advance(r, i, target, result, NULL, why, sizeof(why));
		if (a == ADV_FINAL) {
			run_set_error(r, "%s", why);
			return CTL_ABORTED;
		}
		if (a == ADV_GONE && must) {
			run_set_error(r, "could not record the operation: %s", why);
			ret = CTL_UNREACHABLE;
		} else if (a == ADV_GONE) {
			progress_warn(
			    "could not record the operation's progress (%s) on %s: %s; its "
			    "record there lags (sovctl operations %s shows it)",
			    op_state_name(target), client_name(run_cli(r, i)), why, r->j->id);
		}
	}
	return ret;
}

/* Renews the drain's lease while the job needs the site out of DNS. */
static void renew_lease(struct run *r)
{
	struct job *j = r->j;
	char reason[256], path[256], d[700];
	run_drain_reason(r, reason, sizeof(reason));
	snprintf(path, sizeof(path), "/v1/datacenters/%s/drain", j->dc);
	for (size_t i = 0; i < j->n_inst; i++) {
		if (!run_takes_part(r, i) || j->inst[i].maintenance)
			continue;
		json_t *body =
		    json_pack("{s:s, s:i}", "reason", reason, "lease_s", (int)j->lease_s);
		struct client_reply rep;
		client_call(run_cli(r, i), "POST", path, body, &rep);
		json_decref(body);
		if (!client_ok(&rep))
			progress_warn(
			    "could not renew the drain's lease on %s: %s (it ends by itself "
			    "within %u s unless renewed)",
			    client_name(run_cli(r, i)), client_describe(&rep, d, sizeof(d)),
			    j->lease_s);
		else if (json_is_true(json_object_get(rep.body, "changed"))) {
			progress_warn("%s had put %s back (lease expired?): drained it again",
				      client_name(run_cli(r, i)), j->dc);
			j->inst[i].drained_by_us = true;
		}
		client_reply_clear(&rep);
	}
}

/*
 * What every wait does now and then: renew the lease (while the site must
 * stay out), and notice an abort (sovctl abort from elsewhere) or a signal.
 */
int run_periodic(struct run *r, bool renew)
{
	int64_t now = clock_unix_ms();
	if (ctl_interrupted) {
		run_set_error(r, "interrupted by a signal");
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
			if (!run_takes_part(r, i) || !r->j->inst[i].op_id[0])
				continue;
			snprintf(path, sizeof(path), "/v1/operations/%s", r->j->inst[i].op_id);
			struct client_reply rep;
			client_call(run_cli(r, i), "GET", path, NULL, &rep);
			const char *st = json_string_value(json_object_get(rep.body, "state"));
			bool final = rep.status == 200 && st != NULL && op_state_index(st) >= 0 &&
				     op_state_final((enum op_state)op_state_index(st));
			if (final)
				describe_final(r, i, rep.body, why, sizeof(why));
			client_reply_clear(&rep);
			if (final) {
				run_set_error(r, "%s", why);
				return CTL_ABORTED;
			}
		}
	}
	return CTL_OK;
}

/* Keeps the site out of DNS after a failure: the same drain without a lease. */
void run_hold_drained(struct run *r)
{
	struct job *j = r->j;
	char reason[256], path[256], d[700];
	snprintf(reason, sizeof(reason), "sovctl %s %s %s: %.150s", dconf_hook_name(j->kind), j->id,
		 op_state_name(j->state), j->error);
	snprintf(path, sizeof(path), "/v1/datacenters/%s/drain", j->dc);
	for (size_t i = 0; i < j->n_inst; i++) {
		if (!run_takes_part(r, i) || !j->inst[i].drained_by_us || j->inst[i].maintenance)
			continue;
		json_t *body = json_pack("{s:s}", "reason", reason);
		struct client_reply rep;
		client_call(run_cli(r, i), "POST", path, body, &rep);
		json_decref(body);
		if (!client_ok(&rep))
			progress_warn(
			    "could not remove the drain's lease on %s (%s): %s returns to "
			    "its answers when the lease ends",
			    client_name(run_cli(r, i)), client_describe(&rep, d, sizeof(d)), j->dc);
		client_reply_clear(&rep);
	}
}

bool job_site_held(const struct job *j)
{
	for (size_t i = 0; i < j->n_inst; i++)
		if (!j->inst[i].skipped && j->inst[i].drained_by_us)
			return true;
	return false;
}

json_t *run_summary(const struct run *r, int rc)
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
