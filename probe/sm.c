#include "probe/sm.h"

bool probe_sm_feed(struct probe_sm *sm, bool ok, uint32_t rise, uint32_t fall)
{
	enum health_state before = sm->state;
	if (rise == 0)
		rise = 1;
	if (fall == 0)
		fall = 1;

	if (ok) {
		sm->fail_run = 0;
		if (sm->ok_run < UINT32_MAX)
			sm->ok_run++;
	} else {
		sm->ok_run = 0;
		if (sm->fail_run < UINT32_MAX)
			sm->fail_run++;
	}

	switch (sm->state) {
	case HEALTH_UNKNOWN:
		sm->state = ok ? HEALTH_UP : HEALTH_DOWN;
		break;
	case HEALTH_UP:
		if (!ok && sm->fail_run >= fall)
			sm->state = HEALTH_DOWN;
		break;
	case HEALTH_DOWN:
		if (ok && sm->ok_run >= rise)
			sm->state = HEALTH_UP;
		break;
	}
	return sm->state != before;
}

enum health_state probe_combine_states(const enum health_state *states, size_t n,
				       enum probe_combine mode)
{
	size_t up = 0, down = 0;
	for (size_t i = 0; i < n; i++) {
		if (states[i] == HEALTH_UP)
			up++;
		else if (states[i] == HEALTH_DOWN)
			down++;
	}
	if (n == 0)
		return HEALTH_UNKNOWN;
	if (mode == PROBE_COMBINE_ANY) {
		if (up > 0)
			return HEALTH_UP;
		return down == n ? HEALTH_DOWN : HEALTH_UNKNOWN;
	}
	if (down > 0)
		return HEALTH_DOWN;
	return up == n ? HEALTH_UP : HEALTH_UNKNOWN;
}
