/* admin.h — the operators' layer on top of health: drain and maintenance.
 *
 * Each datacenter has an *admin state* (docs/api.md, "Admin states and drains"): active, draining,
 * drained or maintenance. Like the health table (probe/health.h) it lives
 * in two layers, for two kinds of readers:
 *
 * - The *word* (uint32_t per datacenter, index fixed at config time) is what
 *   DNS workers read on the query path: one acquire load, no lock, no call
 *   into the API. Only the API writes it (release store), after the change
 *   is durable on disk. Layout, mirroring the health word:
 *       bits 0..1   enum admin_state
 *       bits 2..31  number of changes since the table was created
 *                   (wraps; compare for equality only)
 *   A datacenter is named in answers only while its word says active
 *   (fail-open aside: geo/usable.h).
 *
 * - The *record* (struct admin_record: reason, who, since, safe_at, lease)
 *   is for the API, persistence and metrics. Records are plain values: the
 *   transition functions below are pure (time is an argument), so the API
 *   can compute a change on a copy, write it to disk, and only then publish
 *   it, and unit tests can drive them without a clock.
 *
 * Drain timing: a drained datacenter must not be named by any answer a
 * resolver may still hold. The last such answer left us just before the
 * drain; it may be cached for at most the longest TTL of any record naming
 * the datacenter (ttl_s, from the backend). To that we add a margin for
 * answers in flight and clocks that round up:
 *     wait = ttl_s + max(margin_s, ceil(ttl_s / 10))
 * i.e. at least margin_s (configured, default 5 s) and at least 10 % of
 * the TTL. safe_at = drain time + wait, rounded up to a whole second so a
 * published safe_at is never early.
 */
#ifndef SOV_API_ADMIN_H
#define SOV_API_ADMIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum admin_state {
	ADMIN_ACTIVE = 0,      /* in answers when health allows */
	ADMIN_DRAINING = 1,    /* out of answers; cached answers may still name it */
	ADMIN_DRAINED = 2,     /* out of answers long enough: safe to stop its services */
	ADMIN_MAINTENANCE = 3, /* held out of answers regardless of probes until ended */
};

#define ADMIN_WORD_STATE_MASK 0x3u
#define ADMIN_WORD_COUNT_SHIFT 2

#define ADMIN_REASON_MAX 256 /* bytes with the NUL; longer reasons are refused by the API */
#define ADMIN_WHO_MAX 64     /* token name */
#define ADMIN_DEFAULT_MARGIN_S 5

/** Names the state: "active", "draining", "drained", "maintenance". Never NULL. */
const char *admin_state_name(enum admin_state s);
/** Parses a state name. SOV_OK or SOV_EINVAL. */
int admin_state_parse(const char *name, enum admin_state *out) __attribute__((nonnull));

/** One datacenter's admin record. All times are Unix milliseconds, 0 = none. */
struct admin_record {
	enum admin_state state;
	char reason[ADMIN_REASON_MAX]; /* why the current state was entered; "" if never changed */
	char who[ADMIN_WHO_MAX];       /* token name that made the change, or "lease", "timer" */
	int64_t since_ms;	       /* when the current state was entered */
	int64_t safe_at_ms;	       /* draining/drained: when it is (was) safe to stop */
	int64_t lease_expires_ms;      /* draining/drained: automatic undrain time; 0 = no lease */
	uint32_t ttl_s;		       /* draining/drained: the TTL the wait was computed from */
	uint32_t
	    margin_s; /* draining/drained: the margin applied, max(configured, ceil(ttl_s / 10)) */
	/* maintenance: a drain is under it (ending maintenance returns to
	 * draining/drained); false: it was entered from active, safe_at is its
	 * own wait and ending it returns to active */
	bool drain_under;
};

/** An active record with no history. */
void admin_record_init(struct admin_record *r) __attribute__((nonnull));

/** The wait between drain and drained for ttl_s and margin_s (see above), in seconds. */
uint32_t admin_drain_wait_s(uint32_t ttl_s, uint32_t margin_s);

/** Outcome of a transition function. */
enum admin_change {
	ADMIN_CHANGED = 0,   /* *r was modified */
	ADMIN_UNCHANGED = 1, /* already in the requested state; *r untouched (or lease renewed) */
};

/**
 * Drain: active → draining (safe_at = now + wait); draining/drained stay as
 * they are, but the lease is renewed (lease_s from now; 0 removes it) and the
 * reason/who updated. lease_s is seconds (0 = no lease).
 * Returns ADMIN_CHANGED, ADMIN_UNCHANGED (a renewal — *r still updated), or
 * SOV_ESEMANTIC when the datacenter is in maintenance (end it first).
 */
int admin_record_drain(struct admin_record *r, int64_t now_ms, uint32_t ttl_s, uint32_t margin_s,
		       uint32_t lease_s, const char *reason, const char *who)
    __attribute__((nonnull));

/**
 * Undrain: draining/drained → active. Active stays active (ADMIN_UNCHANGED).
 * SOV_ESEMANTIC when in maintenance (end maintenance instead).
 */
int admin_record_undrain(struct admin_record *r, int64_t now_ms, const char *reason,
			 const char *who) __attribute__((nonnull));

/**
 * Maintenance on: any state → maintenance (ADMIN_UNCHANGED if already).
 * From active it withdraws the datacenter like a drain, so it gets the same
 * safe_at (now + the wait for ttl_s and margin_s, above); from a drain it
 * keeps the drain's timing. Maintenance off: back to the drain under it
 * (draining or drained by its safe_at), else active; other states are left
 * alone (ADMIN_UNCHANGED) so ending maintenance never ends a drain.
 * ttl_s and margin_s are only used when entering from active.
 */
int admin_record_maintenance(struct admin_record *r, bool on, int64_t now_ms, uint32_t ttl_s,
			     uint32_t margin_s, const char *reason, const char *who)
    __attribute__((nonnull));

/**
 * Time passes: draining whose safe_at has come → drained; draining/drained
 * whose lease has expired → active (who = "lease"). Returns ADMIN_CHANGED
 * or ADMIN_UNCHANGED. *next_ms is lowered to the next deadline of this
 * record, if any (leave it at INT64_MAX to start).
 */
int admin_record_tick(struct admin_record *r, int64_t now_ms, int64_t *next_ms)
    __attribute__((nonnull));

/* ---- the lock-free table ---- */

typedef struct admin_table admin_table_t;

/** count datacenters, all active. count may be 0. NULL on allocation failure. */
admin_table_t *admin_table_new(size_t count) __attribute__((warn_unused_result));
/** Frees the table; NULL allowed. No reader may still hold admin_words(). */
void admin_table_free(admin_table_t *t);
/** The array of count words for query-path readers. Valid until admin_table_free(). */
const _Atomic uint32_t *admin_words(const admin_table_t *t) __attribute__((nonnull));

/** Extracts the state from a word. */
static inline enum admin_state admin_word_state(uint32_t word)
{
	return (enum admin_state)(word & ADMIN_WORD_STATE_MASK);
}

/** Query-path read: acquire-load of word idx. idx must be < count. */
static inline enum admin_state admin_words_get(const _Atomic uint32_t *words, size_t idx)
{
	return admin_word_state(atomic_load_explicit(&words[idx], memory_order_acquire));
}

/** Convenience read through the table (lock-free). idx must be < count. */
enum admin_state admin_get(const admin_table_t *t, size_t idx) __attribute__((nonnull));

/**
 * Writer side (the API, under its own lock): release-stores state into word
 * idx if it differs, incrementing the change count. idx must be < count.
 */
void admin_publish(admin_table_t *t, size_t idx, enum admin_state state) __attribute__((nonnull));

#endif
