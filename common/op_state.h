/* op_state.h — the states of an operation (deploy, backup, restore,
 * tls-renew), shared by the daemon's API (api/ops.h, which owns operations
 * and their transitions) and sovctl (deployer/, which drives them). The
 * words are part of the HTTP API (docs/api.md, "Operations"); the order is
 * the main path pending .. done, then the two other ends.
 */
#ifndef SOV_COMMON_OP_STATE_H
#define SOV_COMMON_OP_STATE_H

#include <stdbool.h>

enum op_state {
	OP_PENDING = 0,
	OP_DRAINING,
	OP_DRAINED,
	OP_RUNNING,
	OP_VERIFYING,
	OP_DONE,
	OP_FAILED,
	OP_ABORTED,
	OP_STATE_COUNT
};

/** "pending" … "aborted"; "invalid" for a value out of range. Never NULL. */
const char *op_state_name(enum op_state s) __attribute__((returns_nonnull));
/** The state named name: SOV_OK and *out, or SOV_EINVAL (no such state; *out unchanged). */
int op_state_parse(const char *name, enum op_state *out) __attribute__((nonnull));
/** The state named name as an int, -1 when no state has that name. */
int op_state_index(const char *name) __attribute__((nonnull));
/** True for done, failed and aborted: nothing moves an operation on from there. */
bool op_state_final(enum op_state s) __attribute__((const));

#endif
