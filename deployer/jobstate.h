/* jobstate.h — sovctl's record of each operation it runs, and the state file.
 *
 * A job (deploy, backup, restore, tls-renew of one datacenter) is recorded
 * as an operation on every sovdns instance (each instance gives it its own
 * id, op-...). sovctl has its own id for the whole job, recorded with each
 * instance's operation id, the step reached, the hook's supervisor and the
 * result, in a local state file. The file is rewritten whole after every
 * step, atomically (common/atomicfile.h: temp file, fsync, rename, fsync of
 * the directory), under an flock of "<state_file>.lock" so that two sovctl
 * processes (a job and an `abort` from another terminal) do not lose each
 * other's writes. A sovctl killed at any point leaves a record from which
 * `sovctl resume ID` continues.
 *
 * File format (JSON): {"version": 1, "operations": [JOB, ...]}, oldest
 * first. Finished operations beyond JOBSTATE_KEEP_FINISHED are dropped,
 * oldest first; unfinished ones are always kept.
 */
#ifndef SOV_DEPLOYER_JOBSTATE_H
#define SOV_DEPLOYER_JOBSTATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/op_state.h"
#include "deployer/dconf.h"
#include "deployer/hook.h"

/* More instances than this is not "a handful of datacenters". */
#define JOB_INSTANCES_MAX 32
#define JOB_ID_MAX 64
#define JOBSTATE_KEEP_FINISHED 200

struct job_instance {
	char name[DCONF_NAME_MAX];
	char op_id[JOB_ID_MAX]; /* the instance's operation id; "" until created */
	bool skipped;		/* unreachable with --allow-partial: never told about the job */
	bool drained_by_us;	/* our drain took it out of answers (changed: true) */
	bool maintenance;	/* the datacenter is in maintenance there: held out already */
};

struct job {
	char id[JOB_ID_MAX]; /* sovctl-YYYYMMDDTHHMMSSZ-XXXX */
	enum dconf_hook_kind kind;
	char dc[DCONF_NAME_MAX];
	char reason[256];
	char archive[256];	 /* backup/deploy: the name given to the backup hook;
				    restore: the one asked for */
	char archive_sha256[65]; /* restore: the digest recorded when it was taken, if known */
	bool force;
	bool allow_partial;
	uint32_t lease_s;
	enum op_state state;  /* how far the job got (what every instance was told) */
	int hooks_done;	      /* hooks that succeeded (deploy: backup, then deploy) */
	int attempt;	      /* runs of the current hook (a resume may start it again) */
	struct hook_proc sup; /* supervisor of the current hook; pid 0 when none */
	char hook_name[16];   /* the hook it runs */
	int64_t hook_started_ms;
	int64_t hook_ended_ms;
	int64_t hook_log_offset; /* where the current hook's output starts in the log */
	int64_t created_ms;
	int64_t updated_ms;
	pid_t owner_pid; /* the sovctl running the job (0: none) */
	uint64_t owner_start;
	char error[1024]; /* why it failed or was aborted */
	json_t *result;	  /* owned: archive, sha256, log, hook results... */
	size_t n_inst;
	struct job_instance inst[JOB_INSTANCES_MAX];
};

/** Zeroes j and gives it an empty result object. Returns SOV_OK or SOV_ENOMEM. */
int job_init(struct job *j) __attribute__((nonnull, warn_unused_result));
/** Releases what j holds (the result). */
void job_clear(struct job *j) __attribute__((nonnull));

/** The record as JSON (new reference), NULL on ENOMEM. */
json_t *job_to_json(const struct job *j) __attribute__((nonnull));
/** Reads a record (j must be job_init'ed). SOV_OK or SOV_EPARSE. */
int job_from_json(const json_t *o, struct job *j) __attribute__((nonnull(2)));

/**
 * Writes j into the state file at path (replacing the record with the same
 * id), under the lock. Returns SOV_OK, or SOV_EIO etc. with why filled.
 */
int jobstate_put(const char *path, const struct job *j, char *why, size_t why_cap)
    __attribute__((nonnull, warn_unused_result));

/**
 * Reads the record with this id (also found by one of its instances'
 * operation ids) into j (job_init'ed). SOV_OK, SOV_ENOENT, or an error with why.
 */
int jobstate_get(const char *path, const char *id, struct job *j, char *why, size_t why_cap)
    __attribute__((nonnull, warn_unused_result));

/**
 * Every record, oldest first, as a JSON array (new reference in *out).
 * A missing file is an empty list. SOV_OK or an error with why.
 */
int jobstate_list(const char *path, json_t **out, char *why, size_t why_cap)
    __attribute__((nonnull, warn_unused_result));

/**
 * The unfinished operation (not done, failed or aborted) on datacenter dc in
 * the state file at path; the newest when there are several. Returns SOV_OK
 * with its id copied into id (id_cap bytes, "?" if the record has none) and,
 * when state is not NULL, its state word into state (state_cap bytes);
 * SOV_ENOENT when there is none (id and state untouched); or the error of
 * jobstate_list with why filled. Nothing is printed and nothing is left
 * to free.
 */
int jobstate_find_unfinished(const char *path, const char *dc, char *id, size_t id_cap, char *state,
			     size_t state_cap, char *why, size_t why_cap)
    __attribute__((nonnull(1, 2, 3, 7), warn_unused_result));

#endif
