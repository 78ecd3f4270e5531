/* clock.h — the project's clock helpers, in milliseconds.
 *
 * Two clocks, never mixed in one computation:
 *   wall (CLOCK_REALTIME): timestamps people and files see — audit lines,
 *     expiry times of drains and leases, "last checked at". Jumps when the
 *     system time is set.
 *   monotonic (CLOCK_MONOTONIC): durations, timeouts and deadlines inside
 *     the process. Never jumps; meaningless across processes or reboots.
 * Milliseconds, int64_t: ±292 million years, so no overflow question.
 */
#ifndef SOV_COMMON_CLOCK_H
#define SOV_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/** Wall clock: milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_unix_ms(void);

/** Monotonic clock: milliseconds since an arbitrary start (CLOCK_MONOTONIC). */
int64_t clock_mono_ms(void);

/** b - a in milliseconds, truncated toward zero; both of the same clock. */
int64_t clock_ms_between(const struct timespec *a, const struct timespec *b)
    __attribute__((nonnull, pure));

/**
 * *out = clock clk now plus ms: an absolute deadline for
 * pthread_cond_timedwait (whose condition variable must use the same clock,
 * CLOCK_REALTIME unless set with pthread_condattr_setclock).
 */
void clock_deadline_ms(clockid_t clk, int64_t ms, struct timespec *out) __attribute__((nonnull));

/** *t plus ms, normalised (tv_nsec < 1e9). ms >= 0. */
void clock_add_ms(struct timespec *t, int64_t ms) __attribute__((nonnull));

#endif
