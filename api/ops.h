/* ops.h — the operations log: deploy / backup / restore / tls-renew runs.
 *
 * An operation records one planned job against one datacenter so that
 * every sovdns instance and every operator sees what is happening and how
 * it ended (docs/api.md, "Operations"). Its state moves along one path:
 *
 *     pending → draining → drained → running → verifying → done
 *
 * and from any state before done it may end as failed (the job says so)
 * or aborted (an operator stops it). done, failed and aborted are final.
 * Skipping a step is refused: a tool that skips "drained" has not waited
 * for caches to empty, which is the whole point of recording it. Asking
 * for the state the operation is already in is accepted and changes
 * nothing but the result payload (so a retried request is harmless).
 *
 * Ids are "op-YYYYMMDDTHHMMSSZ-NNNN": creation time (UTC) and a sequence
 * within that second, so they sort by creation time as plain strings and
 * never repeat, even if the clock steps back (the time part never goes
 * below the previous id's).
 *
 * The store is not thread-safe; the API serialises access with its lock.
 * Results are jansson objects owned by their operation.
 */
#ifndef SOV_API_OPS_H
#define SOV_API_OPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/op_state.h"

enum op_kind {
	OP_KIND_DEPLOY = 0,
	OP_KIND_BACKUP,
	OP_KIND_RESTORE,
	OP_KIND_TLS_RENEW,
	OP_KIND_COUNT
};

#define OP_ID_MAX 32 /* "op-20261130T072400Z-0001" is 24 bytes */
#define OP_DC_MAX 64
#define OP_REASON_MAX 256
#define OP_WHO_MAX 64
#define OP_DEFAULT_KEEP 500 /* finished operations kept (older ones are dropped) */

/** "deploy", "backup", "restore", "tls-renew". Never NULL. */
const char *op_kind_name(enum op_kind k);
int op_kind_parse(const char *name, enum op_kind *out) __attribute__((nonnull));
/**
 * SOV_OK if an operation in state from may move to state to (see above;
 * from == to is allowed unless final), else SOV_ESEMANTIC.
 */
int op_transition_check(enum op_state from, enum op_state to);

/** One step of an operation's history. */
struct op_step {
	enum op_state state;
	int64_t at_ms;		    /* Unix milliseconds */
	char who[OP_WHO_MAX];	    /* token name */
	char reason[OP_REASON_MAX]; /* optional note ("" if none), e.g. why it was aborted */
};

typedef struct op {
	char id[OP_ID_MAX];
	enum op_kind kind;
	char datacenter[OP_DC_MAX];
	char reason[OP_REASON_MAX];
	char who[OP_WHO_MAX]; /* who created it */
	enum op_state state;
	int64_t created_ms;
	int64_t updated_ms;
	struct op_step *steps; /* steps[0] is pending at creation; owned */
	size_t step_count;
	json_t *result; /* JSON object, never NULL; owned (one reference) */
} op_t;

typedef struct op_store op_store_t;

/** An empty store keeping at most keep finished operations (>= 1). NULL on ENOMEM. */
op_store_t *op_store_new(size_t keep) __attribute__((warn_unused_result));
void op_store_free(op_store_t *s);

/** Number of operations, and the i-th, oldest first (ids ascending). */
size_t op_store_count(const op_store_t *s) __attribute__((nonnull));
op_t *op_store_at(const op_store_t *s, size_t i) __attribute__((nonnull));
/** The operation with this id, or NULL. */
op_t *op_store_find(const op_store_t *s, const char *id) __attribute__((nonnull));

/**
 * Creates a pending operation with a fresh id and appends it. Returns
 * SOV_OK (*out points into the store) or SOV_ENOMEM.
 * op_store_drop_last() undoes it (used when the write to disk fails).
 */
int op_store_create(op_store_t *s, enum op_kind kind, const char *dc, const char *reason,
		    const char *who, int64_t now_ms, op_t **out) __attribute__((nonnull));
/** Removes the newest operation and restores the id sequence before it. */
void op_store_drop_last(op_store_t *s) __attribute__((nonnull));

/**
 * Moves op to state to, appending a step, and merges the keys of result
 * (an object, or NULL) into op->result. reason may be "" (no note).
 * Returns SOV_OK, SOV_ESEMANTIC (transition refused; op untouched) or
 * SOV_ENOMEM. With from == to nothing is appended, only result merged.
 */
int op_advance(op_t *op, enum op_state to, const json_t *result, const char *who,
	       const char *reason, int64_t now_ms) __attribute__((nonnull(1, 4, 5)));

/** Deep copy of src into *dst (for undo). SOV_OK or SOV_ENOMEM. */
int op_copy(op_t *dst, const op_t *src) __attribute__((nonnull));
/** Frees what op owns (not op itself). */
void op_clear(op_t *op);

/** The operation as the API shows it (a new object), or NULL on ENOMEM. */
json_t *op_to_json(const op_t *op) __attribute__((nonnull));

/**
 * The whole store as written to operations.json:
 *   {"version": 1, "last_id": "...", "operations": [ op_to_json()... ]}
 * leaving out the finished operations beyond the keep limit (oldest
 * first); op_store_prune() then drops the same ones from memory.
 */
json_t *op_store_to_json(const op_store_t *s) __attribute__((nonnull));
void op_store_prune(op_store_t *s) __attribute__((nonnull));

/**
 * Replaces the content of s by the document doc (as written by
 * op_store_to_json). On a malformed document returns SOV_EPARSE with a
 * description in why (cap bytes) and leaves s unchanged.
 */
int op_store_from_json(op_store_t *s, const json_t *doc, char *why, size_t cap)
    __attribute__((nonnull(1, 3)));

#endif
