/* sm.h — the probe state machine and how a target combines its probes.
 *
 * Pure functions, no I/O and no clock, so that every rule below is unit
 * tested (tests/unit/test_probe.c) and the engine only feeds results in.
 *
 * One probe (one check against one address) moves like this:
 *
 *     unknown --first success--> up
 *     unknown --first failure--> down
 *     up   --`fall` consecutive failures--> down
 *     down --`rise` consecutive successes--> up
 *
 * The first result decides at once because start-up runs one full round
 * before answering for services: waiting `rise` rounds there would keep a
 * healthy site out of answers for rise × interval after every restart.
 * After that, hysteresis: one lost packet does not withdraw a site (fall),
 * and one lucky answer does not bring a flapping one back (rise).
 */
#ifndef SOV_PROBE_SM_H
#define SOV_PROBE_SM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/health.h"

/** How a target's health follows from the states of its probes. */
enum probe_combine {
	PROBE_COMBINE_ALL = 0, /* up only if every probe is up; down if any is down */
	PROBE_COMBINE_ANY = 1, /* up if any probe is up; down only if every probe is down */
};

/** One probe's state: zero-initialise for "unknown, no results yet". */
struct probe_sm {
	enum health_state state;
	uint32_t ok_run;   /* consecutive successes (0 after a failure) */
	uint32_t fail_run; /* consecutive failures (0 after a success) */
};

/**
 * Feeds one result. rise and fall are >= 1 (0 is treated as 1).
 * Returns true if sm->state changed.
 */
bool probe_sm_feed(struct probe_sm *sm, bool ok, uint32_t rise, uint32_t fall)
    __attribute__((nonnull));

/**
 * Combines probe states into a target state.
 * all: down if any is down; else up if all are up; else unknown.
 * any: up if any is up; else down if all are down; else unknown.
 * n == 0 gives unknown (a target without probes stays usable).
 */
enum health_state probe_combine_states(const enum health_state *states, size_t n,
				       enum probe_combine mode);

#endif
