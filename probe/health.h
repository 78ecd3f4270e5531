/* health.h — the health table: one small state word per monitored target.
 *
 * A *target* is what the answer path asks about: a datacenter, or a service
 * at a datacenter when that service has probes of its own. Its index is fixed
 * when the probe configuration is built (probe_config_t.targets) and never
 * changes while that configuration is in use.
 *
 * Two layers, for two kinds of readers (docs/architecture.md, "Health and admin state"):
 *
 * - The *word* (uint32_t per target) is what DNS workers read on the query
 *   path: one atomic load with memory_order_acquire, no lock, no call into
 *   the probe engine. Only the probe engine thread writes it (release store).
 *   Layout, so that a reader can also notice "something changed" cheaply:
 *       bits 0..1   enum health_state
 *       bits 2..31  number of transitions since the table was created
 *                   (wraps; compare for equality only)
 *
 * - The *detail* record (last result, its text, latency, certificate expiry,
 *   timestamps and counters) is for the API and metrics. It is copied out
 *   under a mutex; never read it on the query path.
 *
 * The admin state (drain, maintenance) is a separate layer kept elsewhere;
 * this table holds only what the probes see, so the real state is still
 * shown while an operator overrides it.
 */
#ifndef SOV_PROBE_HEALTH_H
#define SOV_PROBE_HEALTH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** What the probes say about one target. unknown = not probed yet (usable). */
enum health_state {
	HEALTH_UNKNOWN = 0,
	HEALTH_UP = 1,
	HEALTH_DOWN = 2,
};

#define HEALTH_WORD_STATE_MASK 0x3u
#define HEALTH_WORD_COUNT_SHIFT 2

/** Sentinel for health_detail.cert_days_left when no certificate was seen. */
#define HEALTH_CERT_DAYS_NONE INT32_MIN

#define HEALTH_TEXT_MAX 512

/** A copy of one target's detail record (see health_detail_get). */
struct health_detail {
	enum health_state state;
	/* The most recent probe of this target: its result and, in words,
	 * "https://... timed out after 2000 ms waiting for the response". */
	bool last_ok;
	char last_text[HEALTH_TEXT_MAX];
	/* Why the state last changed ("" if it never did). */
	char change_reason[HEALTH_TEXT_MAX];
	uint32_t last_latency_ms; /* duration of the most recent probe */
	/* Smallest days to expiry among this target's https probes, negative
	 * once expired; HEALTH_CERT_DAYS_NONE if no certificate was seen. */
	int32_t cert_days_left;
	int64_t last_check_unix_ms;  /* wall clock of the most recent result; 0 = never */
	int64_t last_change_unix_ms; /* wall clock of the most recent transition; 0 = never */
	uint64_t checks_total;	     /* probe results recorded */
	uint64_t failures_total;     /* of which failed */
	uint64_t transitions_total;  /* state changes, including the first unknown → up/down */
};

typedef struct health_table health_table_t;

/** Names the state: "unknown", "up", "down". Never NULL. */
const char *health_state_name(enum health_state s);

/**
 * Allocates a table of count targets, all unknown with zeroed detail.
 * count may be 0. Returns NULL on allocation failure.
 */
health_table_t *health_table_new(size_t count) __attribute__((warn_unused_result));

/** Frees the table; NULL allowed. No reader may still hold health_words(). */
void health_table_free(health_table_t *t);

/** Number of targets. */
size_t health_table_count(const health_table_t *t) __attribute__((nonnull));

/**
 * The array of count state words, for readers that cache the pointer (a
 * snapshot built against this table). Valid until health_table_free().
 */
const _Atomic uint32_t *health_words(const health_table_t *t) __attribute__((nonnull));

/** Extracts the state from a word. */
static inline enum health_state health_word_state(uint32_t word)
{
	return (enum health_state)(word & HEALTH_WORD_STATE_MASK);
}

/** Query-path read: acquire-load of word idx. idx must be < count. */
static inline enum health_state health_words_get(const _Atomic uint32_t *words, size_t idx)
{
	return health_word_state(atomic_load_explicit(&words[idx], memory_order_acquire));
}

/** Convenience read through the table (lock-free). idx must be < count. */
enum health_state health_get(const health_table_t *t, size_t idx) __attribute__((nonnull));

/* ---- writer side: the probe engine thread only ---- */

/**
 * Records one probe result for target idx in its detail record (under the
 * mutex). text is copied (truncated to HEALTH_TEXT_MAX - 1 bytes).
 * cert_days is HEALTH_CERT_DAYS_NONE when the probe saw no certificate.
 */
void health_record_result(health_table_t *t, size_t idx, bool ok, const char *text,
			  uint32_t latency_ms, int32_t cert_days, int64_t now_unix_ms)
    __attribute__((nonnull(1, 4)));

/**
 * Publishes a new state for target idx: release-stores the word (state plus
 * incremented transition count) and updates the detail's state, reason and
 * change timestamp. Callers publish only real changes.
 */
void health_publish(health_table_t *t, size_t idx, enum health_state state, const char *reason,
		    int64_t now_unix_ms) __attribute__((nonnull(1, 4)));

/** Copies target idx's detail into *out under the mutex. SOV_OK or SOV_ENOENT. */
int health_detail_get(health_table_t *t, size_t idx, struct health_detail *out)
    __attribute__((nonnull));

#endif
