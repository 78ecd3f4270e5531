/* Unit tests of api/admin: drain timing, transitions, leases and the word table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/admin.h"
#include "common/err.h"

#define T0 1764487440000LL /* 2025-11-30T07:24:00Z, on a whole second */

static void test_wait_formula(void **state)
{
	(void)state;
	assert_int_equal(admin_drain_wait_s(300, 5), 330); /* 10 % beats 5 s */
	assert_int_equal(admin_drain_wait_s(30, 5), 35);   /* 5 s beats 3 s */
	assert_int_equal(admin_drain_wait_s(1, 0), 2);	   /* ceil(0.1) = 1 */
	assert_int_equal(admin_drain_wait_s(0, 0), 0);
	assert_int_equal(admin_drain_wait_s(86400, 60), 95040);
	assert_int_equal(admin_drain_wait_s(UINT32_MAX, 5), UINT32_MAX); /* saturates */
}

static void test_names(void **state)
{
	(void)state;
	enum admin_state s;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(admin_state_parse(admin_state_name((enum admin_state)i), &s),
				 SOV_OK);
		assert_int_equal(s, i);
	}
	assert_int_equal(admin_state_parse("Active", &s), SOV_EINVAL);
	assert_string_equal(admin_state_name((enum admin_state)7), "invalid");
}

static void test_drain_cycle(void **state)
{
	(void)state;
	struct admin_record r;
	admin_record_init(&r);
	assert_int_equal(admin_record_drain(&r, T0 + 250, 60, 5, 0, "deploy", "ops"),
			 ADMIN_CHANGED);
	assert_int_equal(r.state, ADMIN_DRAINING);
	assert_string_equal(r.reason, "deploy");
	assert_string_equal(r.who, "ops");
	assert_int_equal(r.since_ms, T0 + 250);
	/* 60 + max(5, 6) = 66 s after the drain, rounded up to a whole second */
	assert_int_equal(r.safe_at_ms, T0 + 67000);
	assert_int_equal(r.ttl_s, 60);
	assert_int_equal(r.margin_s, 6); /* the margin applied: 10 % of 60 beats 5 */
	assert_int_equal(r.lease_expires_ms, 0);

	int64_t next = INT64_MAX;
	assert_int_equal(admin_record_tick(&r, T0 + 66999, &next), ADMIN_UNCHANGED);
	assert_int_equal(next, T0 + 67000);
	next = INT64_MAX;
	assert_int_equal(admin_record_tick(&r, T0 + 67000, &next), ADMIN_CHANGED);
	assert_int_equal(r.state, ADMIN_DRAINED);
	assert_string_equal(r.reason, "deploy"); /* still says why */
	assert_int_equal(next, INT64_MAX);
	assert_int_equal(admin_record_tick(&r, T0 + 99999, &next), ADMIN_UNCHANGED);

	assert_int_equal(admin_record_undrain(&r, T0 + 100000, "done", "ops"), ADMIN_CHANGED);
	assert_int_equal(r.state, ADMIN_ACTIVE);
	assert_int_equal(r.safe_at_ms, 0);
	assert_int_equal(admin_record_undrain(&r, T0 + 100001, "again", "ops"), ADMIN_UNCHANGED);
	assert_string_equal(r.reason, "done");
}

static void test_renewal_keeps_safe_at(void **state)
{
	(void)state;
	struct admin_record r;
	admin_record_init(&r);
	admin_record_drain(&r, T0, 10, 5, 30, "a", "ops");
	int64_t safe = r.safe_at_ms;
	assert_int_equal(r.lease_expires_ms, T0 + 30000);
	assert_int_equal(admin_record_drain(&r, T0 + 5000, 300, 5, 60, "b", "deploy"),
			 ADMIN_UNCHANGED);
	assert_int_equal(r.state, ADMIN_DRAINING);
	assert_int_equal(r.safe_at_ms, safe);
	assert_int_equal(r.lease_expires_ms, T0 + 65000);
	assert_string_equal(r.reason, "b");
	assert_string_equal(r.who, "deploy");
	/* no lease_s: the lease goes away */
	admin_record_drain(&r, T0 + 6000, 10, 5, 0, "c", "ops");
	assert_int_equal(r.lease_expires_ms, 0);
}

static void test_lease_expiry(void **state)
{
	(void)state;
	struct admin_record r;
	admin_record_init(&r);
	admin_record_drain(&r, T0, 1, 0, 5, "job", "deploy");
	int64_t next = INT64_MAX;
	assert_int_equal(admin_record_tick(&r, T0 + 2000, &next), ADMIN_CHANGED); /* drained */
	assert_int_equal(next, T0 + 5000);
	next = INT64_MAX;
	assert_int_equal(admin_record_tick(&r, T0 + 4999, &next), ADMIN_UNCHANGED);
	assert_int_equal(admin_record_tick(&r, T0 + 5000, &next), ADMIN_CHANGED);
	assert_int_equal(r.state, ADMIN_ACTIVE);
	assert_string_equal(r.who, "lease");
	assert_int_equal(r.lease_expires_ms, 0);
	/* a lease shorter than the wait ends the drain while still draining */
	admin_record_drain(&r, T0, 100, 0, 2, "short", "deploy");
	next = INT64_MAX;
	assert_int_equal(admin_record_tick(&r, T0 + 2000, &next), ADMIN_CHANGED);
	assert_int_equal(r.state, ADMIN_ACTIVE);
}

static void test_maintenance(void **state)
{
	(void)state;
	struct admin_record r;
	admin_record_init(&r);
	/* active → maintenance → active */
	assert_int_equal(admin_record_maintenance(&r, true, T0, 60, 5, "disk", "ops"),
			 ADMIN_CHANGED);
	assert_int_equal(r.state, ADMIN_MAINTENANCE);
	/* withdrawn like a drain: the same wait, 60 + max(5, 6) s */
	assert_int_equal(r.safe_at_ms, T0 + 66000);
	assert_int_equal(r.ttl_s, 60);
	assert_int_equal(r.margin_s, 6);
	assert_false(r.drain_under);
	assert_int_equal(admin_record_maintenance(&r, false, T0 + 1, 60, 5, "over", "ops"),
			 ADMIN_CHANGED);
	assert_int_equal(r.state, ADMIN_ACTIVE); /* no drain under it: active */
	assert_int_equal(r.safe_at_ms, 0);

	/* A drain under maintenance survives it (ending maintenance never ends
	 * a drain): its safe_at and lease are kept. */
	admin_record_drain(&r, T0, 10, 5, 60, "d", "ops");
	int64_t safe_at = r.safe_at_ms, lease = r.lease_expires_ms;
	assert_true(safe_at > T0 && lease > T0);
	assert_int_equal(admin_record_maintenance(&r, true, T0 + 1, 60, 5, "restore", "ops"),
			 ADMIN_CHANGED);
	assert_int_equal(r.state, ADMIN_MAINTENANCE);
	assert_int_equal(r.safe_at_ms, safe_at);
	assert_int_equal(r.lease_expires_ms, lease);
	assert_int_equal(admin_record_maintenance(&r, true, T0 + 2, 60, 5, "x", "ops"),
			 ADMIN_UNCHANGED);
	assert_int_equal(admin_record_drain(&r, T0 + 3, 10, 5, 0, "d", "ops"), SOV_ESEMANTIC);
	assert_int_equal(admin_record_undrain(&r, T0 + 3, "u", "ops"), SOV_ESEMANTIC);
	int64_t next = INT64_MAX;
	/* neither safe_at nor the lease moves a datacenter out of maintenance */
	assert_int_equal(admin_record_tick(&r, T0 + 30000, &next), ADMIN_UNCHANGED);
	assert_int_equal(r.state, ADMIN_MAINTENANCE);
	/* ended before safe_at: draining again; after it: drained */
	assert_int_equal(admin_record_maintenance(&r, false, T0 + 4, 60, 5, "over", "ops"),
			 ADMIN_CHANGED);
	assert_int_equal(r.state, ADMIN_DRAINING);
	assert_int_equal(r.safe_at_ms, safe_at);
	assert_int_equal(admin_record_maintenance(&r, true, T0 + 5, 60, 5, "again", "ops"),
			 ADMIN_CHANGED);
	assert_int_equal(admin_record_maintenance(&r, false, safe_at + 1, 60, 5, "over", "ops"),
			 ADMIN_CHANGED);
	assert_int_equal(r.state, ADMIN_DRAINED);
	assert_int_equal(r.lease_expires_ms, lease);
	/* ...and only undrain (or the lease) makes it active */
	assert_int_equal(admin_record_maintenance(&r, false, safe_at + 2, 60, 5, "x", "ops"),
			 ADMIN_UNCHANGED);
	assert_int_equal(admin_record_undrain(&r, safe_at + 3, "u", "ops"), ADMIN_CHANGED);
	assert_int_equal(r.state, ADMIN_ACTIVE);
	assert_int_equal(r.safe_at_ms, 0);
}

static void test_text_truncated(void **state)
{
	(void)state;
	char longtext[1000];
	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	struct admin_record r;
	admin_record_init(&r);
	admin_record_drain(&r, T0, 1, 1, 0, longtext, longtext);
	assert_int_equal(strlen(r.reason), ADMIN_REASON_MAX - 1);
	assert_int_equal(strlen(r.who), ADMIN_WHO_MAX - 1);
}

static void test_table_words(void **state)
{
	(void)state;
	admin_table_t *t = admin_table_new(3);
	assert_non_null(t);
	const _Atomic uint32_t *w = admin_words(t);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(admin_words_get(w, i), ADMIN_ACTIVE);
	uint32_t before = atomic_load(&w[1]);
	admin_publish(t, 1, ADMIN_DRAINING);
	uint32_t after = atomic_load(&w[1]);
	assert_int_equal(admin_word_state(after), ADMIN_DRAINING);
	assert_int_equal(after >> ADMIN_WORD_COUNT_SHIFT, (before >> ADMIN_WORD_COUNT_SHIFT) + 1);
	admin_publish(t, 1, ADMIN_DRAINING); /* same state: the word does not move */
	assert_int_equal(atomic_load(&w[1]), after);
	admin_publish(t, 1, ADMIN_MAINTENANCE);
	assert_int_equal(admin_get(t, 1), ADMIN_MAINTENANCE);
	assert_int_equal(admin_get(t, 0), ADMIN_ACTIVE);
	assert_int_equal(admin_get(t, 2), ADMIN_ACTIVE);
	admin_table_free(t);
	t = admin_table_new(0);
	assert_non_null(t);
	admin_table_free(t);
	admin_table_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wait_formula),   cmocka_unit_test(test_names),
	    cmocka_unit_test(test_drain_cycle),	   cmocka_unit_test(test_renewal_keeps_safe_at),
	    cmocka_unit_test(test_lease_expiry),   cmocka_unit_test(test_maintenance),
	    cmocka_unit_test(test_text_truncated), cmocka_unit_test(test_table_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
