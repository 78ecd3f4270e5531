/* store.h — the API's state files in state_dir.
 *
 *   admin.json        admin state of every datacenter (drains, maintenance)
 *   operations.json   the operations log
 *   *.prev            the previous good copy of each (common/atomicfile.h)
 *   lock              flock(2)ed while a daemon uses the directory
 *
 * Each file is rewritten whole, atomically and durably, on every change;
 * callers apply a change in memory only after the write succeeded, so the
 * daemon's state is always what is on disk. At start-up a missing file
 * means a fresh start, but a missing file whose .prev exists, an
 * unreadable file, or an invalid one stops start-up with a message naming
 * the file and the way to recover: never a silent reset, which would
 * undrain a site that an operator took out of DNS.
 *
 * admin.json:
 *   {"version": 1, "datacenters": {"dc-east": {"state": "drained",
 *     "reason": "...", "by": "deploy-east", "since": "2026-11-30T07:24:00Z",
 *     "safe_at": "...", "lease_expires_at": null, "ttl_s": 300, "margin_s": 30}}}
 * Datacenters in the file but not in the configuration are kept as they
 * are (a temporary config change must not forget a drain) and reported.
 */
#ifndef SOV_API_STORE_H
#define SOV_API_STORE_H

#include <jansson.h>
#include <stddef.h>

#include "api/admin.h"
#include "api/ops.h"
#include "common/diag.h"

#define STORE_ADMIN_FILE "admin.json"
#define STORE_OPS_FILE "operations.json"
#define STORE_LOCK_FILE "lock"
#define STORE_FILE_MAX (64u << 20) /* bytes; far above any real state, guards memory */
#define STORE_FILE_MODE 0640

typedef struct store store_t;

/**
 * Opens state_dir (creating it with mode 0750 if missing) and takes its
 * lock. SOV_OK, or SOV_EIO / SOV_EEXIST (locked by another process) with
 * a message in diag.
 */
int store_open(const char *state_dir, store_t **out, diag_t *diag)
    __attribute__((nonnull, warn_unused_result));
/**
 * Checks state_dir as a start will use it, without creating or locking
 * anything: a directory not writable by others, that `user` (an account
 * name; NULL = this process) may write and enter. A missing directory is
 * fine unless `user` is set and this process is root (the start would
 * create it owned by root). SOV_OK, or SOV_EIO / SOV_EINVAL with the
 * problem and its fix in diag. Called by a start after store_open (the
 * directory then exists) and by --check-config.
 */
int store_check_dir(const char *state_dir, const char *user, diag_t *diag)
    __attribute__((nonnull(1, 3), warn_unused_result));

/**
 * Reads admin.json and operations.json of state_dir exactly as a start does
 * (store_load_admin, store_load_ops), without the lock: --check-config
 * passes only when the start would accept them. Missing directory or files:
 * SOV_OK (a fresh start). Otherwise as store_load_admin; both files are
 * read, so every problem is in diag.
 */
int store_check_files(const char *state_dir, const char *const *ids, size_t count,
		      size_t operations_keep, diag_t *diag)
    __attribute__((nonnull(1, 5), warn_unused_result));

/** Releases the lock; NULL allowed. */
void store_close(store_t *s);

const char *store_admin_path(const store_t *s) __attribute__((nonnull));

/** An admin record as JSON (the object shown above, without the id). NULL on ENOMEM. */
json_t *admin_record_to_json(const struct admin_record *r) __attribute__((nonnull));
/** Parses one record. SOV_OK or SOV_EPARSE with why. */
int admin_record_from_json(const json_t *o, struct admin_record *r, char *why, size_t cap)
    __attribute__((nonnull(2, 3)));

/**
 * Loads admin.json into records[0..count) (ids[i] names records[i]);
 * datacenters not in ids go to *orphans (a new object, possibly empty).
 * Missing file: every record active. SOV_OK, or SOV_EIO / SOV_EPARSE with
 * the problem in diag.
 */
int store_load_admin(store_t *s, const char *const *ids, size_t count, struct admin_record *records,
		     json_t **orphans, diag_t *diag)
    __attribute__((nonnull(1, 4, 5, 6), warn_unused_result));

/** Writes admin.json. SOV_OK, or an error with a message in why (file and errno text). */
int store_save_admin(store_t *s, const char *const *ids, size_t count,
		     const struct admin_record *records, const json_t *orphans, char *why,
		     size_t cap) __attribute__((nonnull(1, 4, 5, 6), warn_unused_result));

/** Loads operations.json into ops (missing file: empty). As store_load_admin. */
int store_load_ops(store_t *s, op_store_t *ops, diag_t *diag)
    __attribute__((nonnull, warn_unused_result));

/** Writes operations.json (see op_store_to_json). As store_save_admin. */
int store_save_ops(store_t *s, const op_store_t *ops, char *why, size_t cap)
    __attribute__((nonnull, warn_unused_result));

#endif
