/* op_state.c — see op_state.h. */
#include "common/op_state.h"

#include <string.h>

#include "common/err.h"

static const char *const state_names[OP_STATE_COUNT] = {
    "pending", "draining", "drained", "running", "verifying", "done", "failed", "aborted"};

const char *op_state_name(enum op_state s)
{
	return (unsigned)s < OP_STATE_COUNT ? state_names[s] : "invalid";
}

int op_state_parse(const char *name, enum op_state *out)
{
	int i = op_state_index(name);
	if (i < 0)
		return SOV_EINVAL;
	*out = (enum op_state)i;
	return SOV_OK;
}

int op_state_index(const char *name)
{
	for (int i = 0; i < OP_STATE_COUNT; i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return -1;
}

bool op_state_final(enum op_state s)
{
	return s == OP_DONE || s == OP_FAILED || s == OP_ABORTED;
}
