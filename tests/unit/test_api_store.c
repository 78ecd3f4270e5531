/* Unit tests of api/store: state files, refusal of bad ones, the lock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/store.h"
#include "common/atomicfile.h"
#include "common/err.h"

static char base[] = "/tmp/sovdns-test-store-XXXXXX";
static int counter;

static int setup(void **state)
{
	(void)state;
	return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	return system(cmd);
}

/* A fresh state_dir path (not created: store_open creates it). */
static const char *fresh_dir(void)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/state%d", base, ++counter);
	return path;
}

static bool diag_has(const diag_t *d, const char *text)
{
	for (size_t i = 0; i < diag_count(d); i++)
		if (strstr(diag_get(d, i), text))
			return true;
	return false;
}

static const char *const ids[] = {"dc-a", "dc-b"};

static void test_round_trip(void **state)
{
	(void)state;
	diag_t *d = diag_new();
	store_t *s;
	const char *dir = fresh_dir();
	assert_int_equal(store_open(dir, &s, d), SOV_OK);
	struct admin_record r[2];
	json_t *orphans;
	assert_int_equal(store_load_admin(s, ids, 2, r, &orphans, d), SOV_OK);
	assert_int_equal(r[0].state, ADMIN_ACTIVE);
	assert_int_equal(json_object_size(orphans), 0);
	admin_record_drain(&r[1], 1764487440000LL, 30, 5, 600, "deploy", "ops");
	char why[256];
	assert_int_equal(store_save_admin(s, ids, 2, r, orphans, why, sizeof(why)), SOV_OK);
	json_decref(orphans);

	/* load with a different configuration: dc-b gone, dc-c new */
	static const char *const ids2[] = {"dc-c", "dc-a"};
	struct admin_record r2[2];
	assert_int_equal(store_load_admin(s, ids2, 2, r2, &orphans, d), SOV_OK);
	assert_int_equal(r2[0].state, ADMIN_ACTIVE);
	assert_int_equal(r2[1].state, ADMIN_ACTIVE);
	assert_non_null(json_object_get(orphans, "dc-b")); /* kept for when it returns */
	assert_int_equal(store_save_admin(s, ids2, 2, r2, orphans, why, sizeof(why)), SOV_OK);
	json_decref(orphans);
	assert_int_equal(store_load_admin(s, ids, 2, r, &orphans, d), SOV_OK);
	assert_int_equal(r[1].state, ADMIN_DRAINING);
	assert_string_equal(r[1].reason, "deploy");
	assert_int_equal(r[1].safe_at_ms, 1764487440000LL + 35000);
	assert_int_equal(r[1].lease_expires_ms, 1764487440000LL + 600000);
	assert_int_equal(r[1].ttl_s, 30);
	json_decref(orphans);

	op_store_t *ops = op_store_new(10), *ops2 = op_store_new(10);
	op_t *op;
	op_store_create(ops, OP_KIND_BACKUP, "dc-a", "r", "ops", 1764487440000LL, &op);
	assert_int_equal(store_save_ops(s, ops, why, sizeof(why)), SOV_OK);
	assert_int_equal(store_load_ops(s, ops2, d), SOV_OK);
	assert_int_equal(op_store_count(ops2), 1);
	op_store_free(ops);
	op_store_free(ops2);
	assert_int_equal(diag_count(d), 0);
	store_close(s);
	diag_free(d);
}

static void test_lock(void **state)
{
	(void)state;
	diag_t *d = diag_new();
	store_t *s, *s2;
	const char *dir = fresh_dir();
	assert_int_equal(store_open(dir, &s, d), SOV_OK);
	assert_int_equal(store_open(dir, &s2, d), SOV_EEXIST);
	assert_true(diag_has(d, "in use by another"));
	store_close(s);
	assert_int_equal(store_open(dir, &s2, d), SOV_OK); /* released */
	store_close(s2);
	diag_free(d);
}

/* Writes content as the admin file of a new state_dir and loads it. */
static int load_bad(const char *file, const char *content, diag_t *d)
{
	store_t *s;
	const char *dir = fresh_dir();
	assert_int_equal(store_open(dir, &s, d), SOV_OK);
	char path[300];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	assert_int_equal(atomicfile_write(path, content, strlen(content), 0600, 0), SOV_OK);
	struct admin_record r[2];
	json_t *orphans = NULL;
	op_store_t *ops = op_store_new(10);
	int rc = strcmp(file, STORE_ADMIN_FILE) == 0 ? store_load_admin(s, ids, 2, r, &orphans, d)
						     : store_load_ops(s, ops, d);
	assert_null(orphans);
	op_store_free(ops);
	store_close(s);
	return rc;
}

static void test_bad_files(void **state)
{
	(void)state;
	diag_t *d = diag_new();
	assert_int_equal(load_bad(STORE_ADMIN_FILE, "{\n  \"version\": 1,\n  oops", d), SOV_EPARSE);
	/* jansson's position: line 3 */
	assert_true(diag_has(d, "admin.json:3:"));
	assert_true(diag_has(d, "admin.json.prev"));
	diag_free(d);

	static const char *const bad[] = {
	    "[]",
	    "{\"version\": 1}",
	    "{\"version\": 1, \"datacenters\": {\"dc-a\": {\"state\": \"up\"}}}",
	    "{\"version\": 1, \"datacenters\": {\"dc-a\": {\"state\": \"draining\"}}}",
	    "{\"version\": 1, \"datacenters\": {\"dc-a\": {\"state\": \"drained\", \"since\": "
	    "\"yesterday\"}}}",
	    "{\"version\": 1, \"datacenters\": {\"dc-a\": {\"state\": \"drained\", \"ttl_s\": "
	    "-1}}}",
	    "{\"version\": 1, \"datacenters\": {\"dc-a\": {\"state\": \"drained\"}, \"dc-a\": {}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d = diag_new();
		assert_int_not_equal(load_bad(STORE_ADMIN_FILE, bad[i], d), SOV_OK);
		assert_true(diag_has(d, "admin.json"));
		diag_free(d);
	}
	d = diag_new();
	assert_int_equal(load_bad(STORE_OPS_FILE, "{\"version\": 1}", d), SOV_EPARSE);
	assert_true(diag_has(d, "operations.json"));
	diag_free(d);
}

static void test_missing_with_prev(void **state)
{
	(void)state;
	diag_t *d = diag_new();
	store_t *s;
	const char *dir = fresh_dir();
	assert_int_equal(store_open(dir, &s, d), SOV_OK);
	char prev[300];
	snprintf(prev, sizeof(prev), "%s/admin.json.prev", dir);
	assert_int_equal(atomicfile_write(prev, "{}", 2, 0600, 0), SOV_OK);
	struct admin_record r[2];
	json_t *orphans = NULL;
	assert_int_equal(store_load_admin(s, ids, 2, r, &orphans, d), SOV_EIO);
	assert_true(diag_has(d, "missing"));
	store_close(s);
	diag_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_lock),
	    cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_missing_with_prev),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
