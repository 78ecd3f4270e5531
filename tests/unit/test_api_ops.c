/* Unit tests of api/ops: transitions, ids, results, (de)serialisation, pruning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/ops.h"
#include "common/err.h"

#define T0 1764487440000LL /* 2025-11-30T07:24:00Z */

static void test_transition_table(void **state)
{
	(void)state;
	/* expected[from][to]: 1 allowed */
	static const int expected[OP_STATE_COUNT][OP_STATE_COUNT] = {
	    /*            pen dra drd run ver don fai abo */
	    /* pending */ {1, 1, 0, 0, 0, 0, 1, 1},
	    /* draining */ {0, 1, 1, 0, 0, 0, 1, 1},
	    /* drained */ {0, 0, 1, 1, 0, 0, 1, 1},
	    /* running */ {0, 0, 0, 1, 1, 0, 1, 1},
	    /* verifying */ {0, 0, 0, 0, 1, 1, 1, 1},
	    /* done */ {0, 0, 0, 0, 0, 0, 0, 0},
	    /* failed */ {0, 0, 0, 0, 0, 0, 0, 0},
	    /* aborted */ {0, 0, 0, 0, 0, 0, 0, 0},
	};
	for (int f = 0; f < OP_STATE_COUNT; f++)
		for (int t = 0; t < OP_STATE_COUNT; t++)
			assert_int_equal(op_transition_check((enum op_state)f, (enum op_state)t),
					 expected[f][t] ? SOV_OK : SOV_ESEMANTIC);
	assert_int_equal(op_transition_check((enum op_state)99, OP_DONE), SOV_ESEMANTIC);
}

static void test_names(void **state)
{
	(void)state;
	enum op_kind k;
	enum op_state s;
	assert_int_equal(op_kind_parse("tls-renew", &k), SOV_OK);
	assert_int_equal(k, OP_KIND_TLS_RENEW);
	assert_int_equal(op_kind_parse("upgrade", &k), SOV_EINVAL);
	for (int i = 0; i < OP_STATE_COUNT; i++) {
		assert_int_equal(op_state_parse(op_state_name((enum op_state)i), &s), SOV_OK);
		assert_int_equal(s, i);
	}
	assert_true(op_state_final(OP_ABORTED));
	assert_false(op_state_final(OP_VERIFYING));
}

static void test_ids(void **state)
{
	(void)state;
	op_store_t *st = op_store_new(10);
	op_t *a, *b, *c, *d;
	assert_int_equal(op_store_create(st, OP_KIND_BACKUP, "dc-a", "r", "ops", T0 + 10, &a),
			 SOV_OK);
	assert_string_equal(a->id, "op-20251130T072400Z-0001");
	assert_int_equal(op_store_create(st, OP_KIND_BACKUP, "dc-a", "r", "ops", T0 + 900, &b),
			 SOV_OK);
	assert_string_equal(b->id, "op-20251130T072400Z-0002");
	/* the clock steps back: ids still grow */
	assert_int_equal(op_store_create(st, OP_KIND_BACKUP, "dc-a", "r", "ops", T0 - 60000, &c),
			 SOV_OK);
	assert_string_equal(c->id, "op-20251130T072400Z-0003");
	assert_int_equal(op_store_create(st, OP_KIND_BACKUP, "dc-a", "r", "ops", T0 + 61000, &d),
			 SOV_OK);
	assert_string_equal(d->id, "op-20251130T072501Z-0001");
	/* undo restores the sequence */
	op_store_drop_last(st);
	assert_int_equal(op_store_count(st), 3);
	assert_int_equal(op_store_create(st, OP_KIND_BACKUP, "dc-a", "r", "ops", T0 + 1000, &d),
			 SOV_OK);
	assert_string_equal(d->id, "op-20251130T072401Z-0001");
	assert_ptr_equal(op_store_find(st, "op-20251130T072400Z-0002"), b);
	assert_null(op_store_find(st, "op-x"));
	op_store_free(st);
}

static void test_many_in_one_second(void **state)
{
	(void)state;
	op_store_t *st = op_store_new(100000);
	op_t *op = NULL;
	char prev[OP_ID_MAX] = "";
	for (int i = 0; i < 10001; i++) {
		assert_int_equal(op_store_create(st, OP_KIND_DEPLOY, "dc", "r", "w", T0, &op),
				 SOV_OK);
		assert_true(strcmp(op->id, prev) > 0);
		strcpy(prev, op->id);
	}
	assert_string_equal(op->id, "op-20251130T072401Z-0002"); /* 9999 in :00, then borrowed */
	op_store_free(st);
}

static void test_advance_and_results(void **state)
{
	(void)state;
	op_store_t *st = op_store_new(10);
	op_t *op;
	op_store_create(st, OP_KIND_BACKUP, "dc-a", "nightly", "ops", T0, &op);
	json_t *r1 = json_pack("{s:s}", "archive", "a.tar");
	assert_int_equal(op_advance(op, OP_RUNNING, NULL, "ops", "", T0 + 1), SOV_ESEMANTIC);
	assert_int_equal(op->step_count, 1);
	assert_int_equal(op_advance(op, OP_DRAINING, r1, "ops", "", T0 + 1000), SOV_OK);
	json_t *r2 = json_pack("{s:s, s:i}", "archive", "b.tar", "bytes", 5);
	assert_int_equal(op_advance(op, OP_DRAINING, r2, "ops", "", T0 + 2000), SOV_OK); /* retry */
	assert_int_equal(op->step_count, 2);
	assert_string_equal(json_string_value(json_object_get(op->result, "archive")), "b.tar");
	assert_int_equal(json_integer_value(json_object_get(op->result, "bytes")), 5);
	/* the caller's objects are not taken */
	assert_int_equal(r1->refcount, 1);
	json_decref(r1);
	json_decref(r2);

	op_t saved;
	assert_int_equal(op_copy(&saved, op), SOV_OK);
	assert_int_equal(op_advance(op, OP_FAILED, NULL, "deploy", "disk full", T0 + 3000), SOV_OK);
	assert_string_equal(op->steps[2].reason, "disk full");
	assert_int_equal(op->steps[2].at_ms, T0 + 3000);
	assert_int_equal(op_advance(op, OP_ABORTED, NULL, "ops", "", T0 + 4000), SOV_ESEMANTIC);
	/* undo from the copy */
	op_clear(op);
	*op = saved;
	assert_int_equal(op->state, OP_DRAINING);
	assert_int_equal(op->step_count, 2);
	op_store_free(st);
}

static void test_json_round_trip(void **state)
{
	(void)state;
	op_store_t *st = op_store_new(10);
	op_t *op;
	op_store_create(st, OP_KIND_RESTORE, "dc-a", "after fire", "ops", T0, &op);
	json_t *res = json_pack("{s:s, s:{s:b}}", "sha256", "ab", "nested", "x", 1);
	op_advance(op, OP_DRAINING, res, "ops", "", T0 + 5000);
	json_decref(res);
	op_advance(op, OP_ABORTED, NULL, "ops", "changed plans", T0 + 6000);
	op_store_create(st, OP_KIND_DEPLOY, "dc-b", "v2", "deploy", T0 + 7000, &op);

	json_t *doc = op_store_to_json(st);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "last_id")),
			    "op-20251130T072407Z-0001");
	op_store_t *st2 = op_store_new(10);
	char why[256] = "";
	assert_int_equal(op_store_from_json(st2, doc, why, sizeof(why)), SOV_OK);
	assert_int_equal(op_store_count(st2), 2);
	json_t *doc2 = op_store_to_json(st2);
	assert_true(json_equal(doc, doc2));
	const op_t *a = op_store_at(st2, 0);
	assert_int_equal(a->state, OP_ABORTED);
	assert_int_equal(a->step_count, 3);
	assert_string_equal(a->steps[2].reason, "changed plans");
	/* a new id continues after the loaded ones */
	op_t *n;
	op_store_create(st2, OP_KIND_BACKUP, "dc-a", "r", "ops", T0, &n);
	assert_string_equal(n->id, "op-20251130T072407Z-0002");
	json_decref(doc);
	json_decref(doc2);
	op_store_free(st);
	op_store_free(st2);
}

static void test_from_json_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "[]",
	    "{\"version\": 2, \"last_id\": \"\", \"operations\": []}",
	    "{\"version\": 1, \"operations\": []}",
	    "{\"version\": 1, \"last_id\": \"op-bad\", \"operations\": []}",
	    "{\"version\": 1, \"last_id\": \"\", \"operations\": [1]}",
	    /* an operation with nothing but an id */
	    ("{\"version\": 1, \"last_id\": \"\", \"operations\": "
	     "[{\"id\": \"op-20251130T072400Z-0001\"}]}"),
	};
	op_store_t *st = op_store_new(10);
	op_t *keep;
	op_store_create(st, OP_KIND_BACKUP, "dc-a", "r", "ops", T0, &keep);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *doc = json_loads(bad[i], 0, NULL);
		assert_non_null(doc);
		char why[256] = "";
		assert_int_equal(op_store_from_json(st, doc, why, sizeof(why)), SOV_EPARSE);
		assert_true(why[0] != '\0');
		assert_int_equal(op_store_count(st), 1); /* untouched */
		json_decref(doc);
	}
	/* ids out of order */
	json_t *one = op_to_json(keep);
	json_t *doc =
	    json_pack("{s:i, s:s, s:[O, O]}", "version", 1, "last_id", "", "operations", one, one);
	char why[256];
	assert_int_equal(op_store_from_json(st, doc, why, sizeof(why)), SOV_EPARSE);
	assert_non_null(strstr(why, "not after"));
	json_decref(doc);
	json_decref(one);
	op_store_free(st);
}

static void test_prune_keeps_unfinished(void **state)
{
	(void)state;
	op_store_t *st = op_store_new(2);
	op_t *op;
	for (int i = 0; i < 5; i++) {
		op_store_create(st, OP_KIND_BACKUP, "dc", "r", "w", T0 + i * 1000, &op);
		if (i != 1)
			op_advance(op, OP_ABORTED, NULL, "w", "", T0 + i * 1000);
	}
	/* finished: 0, 2, 3, 4 → keep 3 and 4; 1 is pending: kept */
	json_t *doc = op_store_to_json(st);
	assert_int_equal(json_array_size(json_object_get(doc, "operations")), 3);
	json_decref(doc);
	op_store_prune(st);
	assert_int_equal(op_store_count(st), 3);
	assert_string_equal(op_store_at(st, 0)->id, "op-20251130T072401Z-0001");
	assert_string_equal(op_store_at(st, 1)->id, "op-20251130T072403Z-0001");
	op_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_transition_table),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_many_in_one_second),
	    cmocka_unit_test(test_advance_and_results),
	    cmocka_unit_test(test_json_round_trip),
	    cmocka_unit_test(test_from_json_rejects),
	    cmocka_unit_test(test_prune_keeps_unfinished),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
