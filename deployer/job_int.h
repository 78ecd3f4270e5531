/* job_int.h — private to deployer/job*.c: one running job and the steps it
 * is made of (the workflow is described in job.c).
 *
 * Calls go one way:
 *   job_cmd.c, job_resume.c  (commands: one datacenter, --all rolling, resume, abort)
 *     → job.c                (the workflow and its failure path)
 *     → job_drain.c, job_hook.c, job_verify.c   (the phases)
 *     → job_archive.c        (backup and restore specifics)
 *     → job_common.c         (the run, its record, the operation on each instance)
 *   job_check.c              (safety checks before a job) is called by the commands only.
 */
#ifndef SOV_DEPLOYER_JOB_INT_H
#define SOV_DEPLOYER_JOB_INT_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deployer/client.h"
#include "deployer/ctl.h"
#include "deployer/dconf.h"
#include "deployer/jobstate.h"

/* How often a running job asks the instances whether it was aborted. */
#define ABORT_CHECK_MS 2000
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

/* ---- job_common.c ---- */

/** The client of job instance i. */
client_t *run_cli(const struct run *r, size_t i) __attribute__((nonnull));
/** Instance i takes part (not skipped by --allow-partial). */
bool run_takes_part(const struct run *r, size_t i) __attribute__((nonnull));
/** Sets the job's error text. */
void run_set_error(struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), nonnull(1, 2)));
/** Writes the job to the state file: CTL_OK, or CTL_FAILED with the error set. */
int run_save(struct run *r) __attribute__((nonnull));
/** The job's state becomes st unless it is already further. */
void run_raise_state(struct job *j, enum op_state st) __attribute__((nonnull));
/** Appends a "== time sovctl: ..." line to the operation's log. */
void run_log_note(const struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), nonnull(1, 2)));
/** "<log_dir>/<job id>.<hook>.<what>": a hook's status and result files. */
void run_hook_file(const struct run *r, const char *hook, const char *what, char *buf, size_t cap)
    __attribute__((nonnull));
/** The reason a drain by this job carries. */
void run_drain_reason(const struct run *r, char *buf, size_t cap) __attribute__((nonnull));

enum adv { ADV_OK, ADV_GONE, ADV_FINAL };

/**
 * Moves instance i's operation to target, one allowed step at a time from
 * wherever it is (so a resumed job catches up), merging result (may be
 * NULL) and reason (may be NULL) on the last step. ADV_FINAL: it was
 * already final elsewhere (why says by whom); ADV_GONE: not recorded.
 */
enum adv run_op_advance(struct run *r, size_t i, enum op_state target, json_t *result,
			const char *reason, char *why, size_t cap) __attribute__((nonnull(1, 6)));
/** Advances every taking-part instance; must: a failure is CTL_UNREACHABLE, else a warning. */
int run_advance_all(struct run *r, enum op_state target, json_t *result, bool must)
    __attribute__((nonnull(1)));
/** What every wait does now and then: renew the lease (renew), notice an abort or a signal. */
int run_periodic(struct run *r, bool renew) __attribute__((nonnull));
/** Keeps the site out of DNS after a failure: the same drain without a lease. */
void run_hold_drained(struct run *r) __attribute__((nonnull));
/** This job drained the site somewhere and has not undrained it. */
bool job_site_held(const struct job *j) __attribute__((nonnull));
/** The job as --json prints it. */
json_t *run_summary(const struct run *r, int rc) __attribute__((nonnull));

/* ---- the phases ---- */

/** job_drain.c: record the operation, drain, wait until drained. */
int run_phase_drain(struct run *r) __attribute__((nonnull));
/** job_hook.c: run the job's hook(s); a deploy runs the backup hook first. */
int run_phase_hooks(struct run *r) __attribute__((nonnull));
/** job_verify.c: wait until every instance sees the site up, undrain, done. */
int run_phase_verify(struct run *r) __attribute__((nonnull));

/* ---- job_archive.c ---- */

/** A backup's result must name its archive and give (or let us compute) its SHA-256. */
int run_record_backup(struct run *r, json_t *res) __attribute__((nonnull));
/** The digest recorded when archive was taken (local record, then the instances); "" if none. */
void job_find_archive_digest(struct sovctl *s, const char *dc, const char *archive, char out[65])
    __attribute__((nonnull));

/* ---- job.c ---- */

/** Runs (or resumes) job j on the instances cidx: the whole workflow. Returns the exit status. */
int job_run(struct sovctl *s, struct job *j, const int cidx[], bool resuming, const char *addresses,
	    json_t **summary) __attribute__((nonnull(1, 2, 3)));

/* ---- job_check.c: safety checks before a job ---- */

/** dc has the hooks kind needs (a deploy also a backup hook): CTL_OK or CTL_USAGE, printed. */
int job_check_hooks(struct sovctl *s, enum dconf_hook_kind kind, const char *dc)
    __attribute__((nonnull));
/** An unfinished local operation on dc: its id and state (jobstate_find_unfinished); false if
 *  none, or if the state file cannot be read (a warning is printed). */
bool job_unfinished_on(struct sovctl *s, const char *dc, char *id, size_t cap, char *state,
		       size_t scap) __attribute__((nonnull));
/** The datacenter's addresses as the first answering instance lists them, space-separated. */
void job_addresses_of(const struct dc_views *v, size_t n, char *buf, size_t cap)
    __attribute__((nonnull));
/** Another sovctl, still alive, runs j. */
bool job_owner_alive(const struct job *j) __attribute__((nonnull));
/** Maps a record's instances onto the configured ones (by name): CTL_OK or CTL_USAGE. */
int job_map_instances(struct sovctl *s, const struct job *j, int cidx[]) __attribute__((nonnull));
/** Loads unfinished operation id for verb (resume, abort): CTL_OK, or the exit status, printed. */
int job_load_unfinished(struct sovctl *s, const char *id, struct job *j, const char *verb)
    __attribute__((nonnull));

#endif
