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

/** Monotonic clock in microseconds, for timing work (a zone load) finer than 1 ms. */
int64_t clock_mono_us(void);

/**
 * *out = clock clk now plus ms: an absolute deadline for
 * pthread_cond_timedwait (whose condition variable must use the same clock,
 * CLOCK_REALTIME unless set with pthread_condattr_setclock).
 */
void clock_deadline_ms(clockid_t clk, int64_t ms, struct timespec *out) __attribute__((nonnull));

/**
 * Sleeps ms milliseconds (ms <= 0: returns at once). Returns early when a
 * signal is delivered (EINTR): callers that poll a flag set by a signal
 * handler look at it sooner; callers that poll a condition just poll again.
 */
void clock_sleep_ms(int64_t ms);

#endif
