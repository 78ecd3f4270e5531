#include "api/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static const char *const state_names[] = {"active", "draining", "drained", "maintenance"};

const char *admin_state_name(enum admin_state s)
{
	return (unsigned)s < 4 ? state_names[s] : "invalid";
}

int admin_state_parse(const char *name, enum admin_state *out)
{
	for (unsigned i = 0; i < 4; i++) {
		if (strcmp(name, state_names[i]) == 0) {
			*out = (enum admin_state)i;
			return SOV_OK;
		}
	}
	return SOV_EINVAL;
}

void admin_record_init(struct admin_record *r)
{
	memset(r, 0, sizeof(*r));
	r->state = ADMIN_ACTIVE;
}

uint32_t admin_drain_wait_s(uint32_t ttl_s, uint32_t margin_s)
{
	uint32_t tenth = ttl_s / 10 + (ttl_s % 10 != 0);
	uint64_t wait = (uint64_t)ttl_s + (margin_s > tenth ? margin_s : tenth);
	return wait > UINT32_MAX ? UINT32_MAX : (uint32_t)wait;
}

/* Rounds a deadline up to the next whole second so it is never early. */
static int64_t ceil_second_ms(int64_t ms)
{
	return (ms + 999) / 1000 * 1000;
}

static void enter(struct admin_record *r, enum admin_state s, int64_t now_ms, const char *reason,
		  const char *who)
{
	r->state = s;
	r->since_ms = now_ms;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	snprintf(r->who, sizeof(r->who), "%s", who);
	/* Maintenance keeps the timing of a drain under it (safe_at, lease),
	 * so that ending maintenance returns to that drain (admin.h). */
	if (s == ADMIN_ACTIVE) {
		r->safe_at_ms = 0;
		r->lease_expires_ms = 0;
		r->ttl_s = 0;
		r->margin_s = 0;
		r->drain_under = false;
	}
}

/* The timing of a withdrawal from active (a drain, or maintenance). */
static void set_wait(struct admin_record *r, int64_t now_ms, uint32_t ttl_s, uint32_t margin_s)
{
	r->ttl_s = ttl_s;
	/* the margin applied, which 10 % of the TTL may raise above the
	 * configured one: ttl_s + margin_s is the wait, as shown */
	uint32_t wait_s = admin_drain_wait_s(ttl_s, margin_s);
	r->margin_s = wait_s - (wait_s < ttl_s ? wait_s : ttl_s);
	r->safe_at_ms = ceil_second_ms(now_ms + (int64_t)wait_s * 1000);
}

int admin_record_drain(struct admin_record *r, int64_t now_ms, uint32_t ttl_s, uint32_t margin_s,
		       uint32_t lease_s, const char *reason, const char *who)
{
	int rc;
	switch (r->state) {
	case ADMIN_MAINTENANCE:
		rc = SOV_ESEMANTIC;
		goto finish;
	case ADMIN_ACTIVE:
		enter(r, ADMIN_DRAINING, now_ms, reason, who);
		set_wait(r, now_ms, ttl_s, margin_s);
		rc = ADMIN_CHANGED;
		break;
	default:
		/* A renewal: the datacenter left answers at the first drain, so
		 * safe_at stays; only the lease and the stated reason move. */
		snprintf(r->reason, sizeof(r->reason), "%s", reason);
		snprintf(r->who, sizeof(r->who), "%s", who);
		rc = ADMIN_UNCHANGED;
		break;
	}
	r->lease_expires_ms = lease_s ? ceil_second_ms(now_ms + (int64_t)lease_s * 1000) : 0;
finish:
	return rc;
}

int admin_record_undrain(struct admin_record *r, int64_t now_ms, const char *reason,
			 const char *who)
{
	switch (r->state) {
	case ADMIN_MAINTENANCE:
		return SOV_ESEMANTIC;
	case ADMIN_ACTIVE:
		return ADMIN_UNCHANGED;
	default:
		enter(r, ADMIN_ACTIVE, now_ms, reason, who);
		return ADMIN_CHANGED;
	}
}

int admin_record_maintenance(struct admin_record *r, bool on, int64_t now_ms, uint32_t ttl_s,
			     uint32_t margin_s, const char *reason, const char *who)
{
	if (on) {
		if (r->state == ADMIN_MAINTENANCE)
			return ADMIN_UNCHANGED;
		bool from_active = r->state == ADMIN_ACTIVE;
		enter(r, ADMIN_MAINTENANCE, now_ms, reason, who);
		r->drain_under = !from_active;
		if (from_active)
			set_wait(r, now_ms, ttl_s, margin_s);
		return ADMIN_CHANGED;
	}
	if (r->state != ADMIN_MAINTENANCE)
		return ADMIN_UNCHANGED;
	if (r->drain_under) {
		/* A drain was under the maintenance: ending maintenance never
		 * ends a drain (only undrain or its lease does). */
		enter(r, now_ms >= r->safe_at_ms ? ADMIN_DRAINED : ADMIN_DRAINING, now_ms, reason,
		      who);
		return ADMIN_CHANGED;
	}
	enter(r, ADMIN_ACTIVE, now_ms, reason, who);
	return ADMIN_CHANGED;
}

int admin_record_tick(struct admin_record *r, int64_t now_ms, int64_t *next_ms)
{
	int rc = ADMIN_UNCHANGED;
	if (r->state != ADMIN_DRAINING && r->state != ADMIN_DRAINED)
		return rc;
	if (r->lease_expires_ms != 0 && now_ms >= r->lease_expires_ms) {
		enter(r, ADMIN_ACTIVE, now_ms, "lease expired without renewal", "lease");
		return ADMIN_CHANGED;
	}
	if (r->state == ADMIN_DRAINING && now_ms >= r->safe_at_ms) {
		/* keep reason and who: they explain why it is drained */
		r->state = ADMIN_DRAINED;
		r->since_ms = now_ms;
		rc = ADMIN_CHANGED;
	}
	if (r->state == ADMIN_DRAINING && r->safe_at_ms < *next_ms)
		*next_ms = r->safe_at_ms;
	if (r->lease_expires_ms != 0 && r->lease_expires_ms < *next_ms)
		*next_ms = r->lease_expires_ms;
	return rc;
}

struct admin_table {
	size_t count;
	_Atomic uint32_t words[];
};

admin_table_t *admin_table_new(size_t count)
{
	admin_table_t *t = calloc(1, sizeof(*t) + count * sizeof(t->words[0]));
	if (t == NULL)
		return NULL;
	t->count = count;
	for (size_t i = 0; i < count; i++)
		atomic_init(&t->words[i], ADMIN_ACTIVE);
	return t;
}

void admin_table_free(admin_table_t *t)
{
	free(t);
}

const _Atomic uint32_t *admin_words(const admin_table_t *t)
{
	return t->words;
}

enum admin_state admin_get(const admin_table_t *t, size_t idx)
{
	return admin_words_get(t->words, idx);
}

void admin_publish(admin_table_t *t, size_t idx, enum admin_state state)
{
	/* single writer (the API lock), so a relaxed read of our own last store is enough */
	uint32_t old = atomic_load_explicit(&t->words[idx], memory_order_relaxed);
	if (admin_word_state(old) == state)
		return;
	uint32_t count = (old >> ADMIN_WORD_COUNT_SHIFT) + 1;
	uint32_t word =
	    (count << ADMIN_WORD_COUNT_SHIFT) | ((uint32_t)state & ADMIN_WORD_STATE_MASK);
	atomic_store_explicit(&t->words[idx], word, memory_order_release);
}
