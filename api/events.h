/* events.h — the recent-events ring and the notification command.
 *
 * Every state change the API hears of (health from the probes, admin
 * states, operations) becomes one event: a JSON object with at least
 *   {"seq": 12, "time": "2026-11-30T07:24:00Z", "host": "ns1", "type": "admin", ...}
 * kept in a ring of the last `capacity` events for GET /v1/events, and —
 * when a notify command is configured — handed to that command on its
 * standard input (one JSON document followed by a newline), so operators
 * can send mail or chat alerts with their own tools.
 *
 * Notifications never block the caller: events_add() only queues the text.
 * One notifier thread runs the command for each event in turn (so alerts
 * arrive in order: "down" before "up"), feeds stdin through a pipe, reaps
 * the child and kills it (SIGKILL) if it outlives the timeout. The queue is
 * bounded (EVENTS_NOTIFY_QUEUE_MAX); when it is full the event is dropped
 * from notification (it is still in the ring) and counted.
 *
 * seq increases by one per event and goes on across restarts: a run's
 * first event is start time (unix ms) * EVENTS_SEQ_PER_MS + 1, above every
 * number of the previous run (which would need 1000 events per ms of its
 * life to reach it) unless the clock stepped back across the restart.
 *
 * The command is an argv vector, run without a shell, with the daemon's
 * environment and stdout/stderr. All functions are thread-safe.
 */
#ifndef SOV_API_EVENTS_H
#define SOV_API_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTS_SEQ_PER_MS 1000u /* a run's first seq: start ms * this + 1 (see above) */
#define EVENTS_DEFAULT_CAPACITY 256
#define EVENTS_NOTIFY_QUEUE_MAX 256
#define EVENTS_DEFAULT_NOTIFY_TIMEOUT_MS 10000

typedef struct events events_t;

struct events_stats {
	uint64_t events_total;		/* events added */
	uint64_t notify_runs_total;	/* commands started */
	uint64_t notify_failures_total; /* could not start, exited non-zero or killed */
	uint64_t notify_timeouts_total; /* killed after the timeout */
	uint64_t notify_dropped_total;	/* not notified: queue full */
};

/**
 * A ring of capacity (>= 1) events. notify_argv (NULL-terminated, copied)
 * may be NULL for no command; timeout_ms bounds each run. The notifier
 * thread starts here. NULL on failure (allocation or thread creation).
 */
events_t *events_new(size_t capacity, const char *const *notify_argv, uint32_t timeout_ms)
    __attribute__((warn_unused_result));

/**
 * Stops the notifier: the command already running gets until its timeout,
 * queued events are not notified. Frees everything; NULL allowed.
 */
void events_free(events_t *e);

/**
 * Adds an event. ev must be an object; it is stolen (the caller's
 * reference passes to the ring). seq, time and host are set here.
 * Returns the event's seq (>= 1), or 0 if ev was not an object.
 */
uint64_t events_add(events_t *e, json_t *ev) __attribute__((nonnull(1)));

/**
 * A new array with copies of the events whose seq > since, oldest first,
 * at most limit of them — the newest limit ones when since is 0 — or NULL
 * on ENOMEM. *last_seq is set to the newest seq so far (if none, the number
 * below this run's first event: a ?since= that skips nothing of it).
 */
json_t *events_list(events_t *e, uint64_t since, size_t limit, uint64_t *last_seq)
    __attribute__((nonnull));

void events_stats(events_t *e, struct events_stats *out) __attribute__((nonnull));

/** Blocks until the notify queue is empty and no command runs, or timeout_ms passes (tests). 0 if
 * idle. */
int events_wait_idle(events_t *e, uint32_t timeout_ms) __attribute__((nonnull));

#endif
