#include "probe/health.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct health_table {
	size_t count;
	_Atomic uint32_t *words; /* read by DNS workers, written by the probe thread */
	pthread_mutex_t lock;	 /* guards details only */
	struct health_detail *details;
};

const char *health_state_name(enum health_state s)
{
	switch (s) {
	case HEALTH_UP:
		return "up";
	case HEALTH_DOWN:
		return "down";
	case HEALTH_UNKNOWN:
		break;
	}
	return "unknown";
}

health_table_t *health_table_new(size_t count)
{
	health_table_t *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	/* calloc(0) may return NULL; allocate at least one slot so NULL means ENOMEM. */
	size_t slots = count ? count : 1;
	t->words = calloc(slots, sizeof(*t->words));
	t->details = calloc(slots, sizeof(*t->details));
	if (t->words == NULL || t->details == NULL || pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t->words);
		free(t->details);
		free(t);
		return NULL;
	}
	t->count = count;
	for (size_t i = 0; i < count; i++) {
		atomic_init(&t->words[i], HEALTH_UNKNOWN);
		t->details[i].cert_days_left = HEALTH_CERT_DAYS_NONE;
	}
	return t;
}

void health_table_free(health_table_t *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->words);
	free(t->details);
	free(t);
}

size_t health_table_count(const health_table_t *t)
{
	return t->count;
}

const _Atomic uint32_t *health_words(const health_table_t *t)
{
	return t->words;
}

enum health_state health_get(const health_table_t *t, size_t idx)
{
	return health_words_get(t->words, idx);
}

void health_record_result(health_table_t *t, size_t idx, bool ok, const char *text,
			  uint32_t latency_ms, int32_t cert_days, int64_t now_unix_ms)
{
	if (idx >= t->count)
		return;
	pthread_mutex_lock(&t->lock);
	struct health_detail *d = &t->details[idx];
	d->last_ok = ok;
	snprintf(d->last_text, sizeof(d->last_text), "%s", text);
	d->last_latency_ms = latency_ms;
	d->cert_days_left = cert_days;
	d->last_check_unix_ms = now_unix_ms;
	d->checks_total++;
	if (!ok)
		d->failures_total++;
	pthread_mutex_unlock(&t->lock);
}

void health_publish(health_table_t *t, size_t idx, enum health_state state, const char *reason,
		    int64_t now_unix_ms)
{
	if (idx >= t->count)
		return;
	/* Only the probe thread writes, so a relaxed read of our own last store is exact. */
	uint32_t old = atomic_load_explicit(&t->words[idx], memory_order_relaxed);
	uint32_t count = (old >> HEALTH_WORD_COUNT_SHIFT) + 1;
	uint32_t word =
	    (count << HEALTH_WORD_COUNT_SHIFT) | ((uint32_t)state & HEALTH_WORD_STATE_MASK);
	atomic_store_explicit(&t->words[idx], word, memory_order_release);

	pthread_mutex_lock(&t->lock);
	struct health_detail *d = &t->details[idx];
	d->state = state;
	snprintf(d->change_reason, sizeof(d->change_reason), "%s", reason);
	d->last_change_unix_ms = now_unix_ms;
	d->transitions_total++;
	pthread_mutex_unlock(&t->lock);
}

int health_detail_get(health_table_t *t, size_t idx, struct health_detail *out)
{
	if (idx >= t->count)
		return SOV_ENOENT;
	pthread_mutex_lock(&t->lock);
	*out = t->details[idx];
	pthread_mutex_unlock(&t->lock);
	return SOV_OK;
}
