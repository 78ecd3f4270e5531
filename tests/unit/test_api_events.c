/* Unit tests of api/events: the ring and the notification command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/events.h"
#include "common/atomicfile.h"
#include "common/err.h"

static char dir[] = "/tmp/sovdns-test-events-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static json_t *ev(int i)
{
	return json_pack("{s:s, s:i}", "type", "test", "i", i);
}

static uint64_t seq_at(const json_t *arr, size_t i)
{
	return (uint64_t)json_integer_value(json_object_get(json_array_get(arr, i), "seq"));
}

static void test_ring(void **state)
{
	(void)state;
	events_t *e = events_new(4, NULL, 0);
	assert_non_null(e);
	uint64_t last;
	json_t *arr = events_list(e, 0, 10, &last);
	assert_int_equal(json_array_size(arr), 0);
	/* numbers go on across restarts: this run starts at its start time */
	const uint64_t b = last;
	assert_int_equal(b % EVENTS_SEQ_PER_MS, 0);
	assert_true(b / EVENTS_SEQ_PER_MS >= (uint64_t)1764487440000); /* after 2025-11-30 */
	json_decref(arr);
	for (int i = 1; i <= 6; i++)
		assert_int_equal(events_add(e, ev(i)), b + (uint64_t)i);
	assert_int_equal(events_add(e, json_array()), 0); /* not an object: refused, freed */
	arr = events_list(e, 0, 10, &last);
	assert_int_equal(last, b + 6);
	assert_int_equal(json_array_size(arr), 4); /* capacity */
	assert_int_equal(seq_at(arr, 0), b + 3);
	assert_int_equal(seq_at(arr, 3), b + 6);
	const json_t *first = json_array_get(arr, 0);
	assert_non_null(json_object_get(first, "time"));
	assert_non_null(json_object_get(first, "host"));
	assert_int_equal(json_integer_value(json_object_get(first, "i")), 3);
	json_decref(arr);
	arr = events_list(e, 0, 2, &last); /* newest two */
	assert_int_equal(seq_at(arr, 0), b + 5);
	json_decref(arr);
	arr = events_list(e, b + 4, 1, &last); /* the one after 4 */
	assert_int_equal(json_array_size(arr), 1);
	assert_int_equal(seq_at(arr, 0), b + 5);
	json_decref(arr);
	arr = events_list(e, b + 1, 10, &last); /* 2 fell out of the ring: from the oldest kept */
	assert_int_equal(seq_at(arr, 0), b + 3);
	json_decref(arr);
	arr = events_list(e, b + 6, 10, &last);
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);
	struct events_stats st;
	events_stats(e, &st);
	assert_int_equal(st.events_total, 6);
	assert_int_equal(st.notify_runs_total, 0);
	events_free(e);
}

static void test_notify_in_order(void **state)
{
	(void)state;
	char out[256], cmd[400];
	snprintf(out, sizeof(out), "%s/notified", dir);
	snprintf(cmd, sizeof(cmd), "cat >> %s", out);
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	events_t *e = events_new(16, argv, 5000);
	assert_non_null(e);
	uint64_t b;
	json_decref(events_list(e, 0, 1, &b));
	for (int i = 1; i <= 5; i++)
		events_add(e, ev(i));
	assert_int_equal(events_wait_idle(e, 10000), 0);
	char *text;
	size_t len;
	assert_int_equal(atomicfile_read(out, 1 << 20, &text, &len), SOV_OK);
	/* five lines of JSON, in order */
	int n = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		json_t *o = json_loads(line, 0, NULL);
		assert_non_null(o);
		assert_int_equal(json_integer_value(json_object_get(o, "seq")), b + (uint64_t)++n);
		json_decref(o);
	}
	assert_int_equal(n, 5);
	free(text);
	struct events_stats st;
	events_stats(e, &st);
	assert_int_equal(st.notify_runs_total, 5);
	assert_int_equal(st.notify_failures_total, 0);
	events_free(e);
}

static void test_notify_timeout_and_failures(void **state)
{
	(void)state;
	const char *slow[] = {"/bin/sleep", "30", NULL};
	events_t *e = events_new(16, slow, 100);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	events_add(e, ev(1));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 1); /* adding never waits for the command */
	assert_int_equal(events_wait_idle(e, 5000), 0);
	struct events_stats st;
	events_stats(e, &st);
	assert_int_equal(st.notify_timeouts_total, 1);
	assert_int_equal(st.notify_failures_total, 1);
	events_free(e);

	const char *missing[] = {"/nonexistent/notify", NULL};
	e = events_new(16, missing, 1000);
	events_add(e, ev(1));
	assert_int_equal(events_wait_idle(e, 5000), 0);
	events_stats(e, &st);
	assert_int_equal(st.notify_failures_total, 1);
	events_free(e);

	/* a command that exits at once without reading: no SIGPIPE death */
	const char *deaf[] = {"/bin/true", NULL};
	e = events_new(16, deaf, 1000);
	for (int i = 0; i < 3; i++)
		events_add(e, ev(i));
	assert_int_equal(events_wait_idle(e, 5000), 0);
	events_stats(e, &st);
	assert_int_equal(st.notify_runs_total, 3);
	assert_int_equal(st.notify_failures_total, 0);
	events_free(e);

	const char *bad_exit[] = {"/bin/false", NULL};
	e = events_new(16, bad_exit, 1000);
	events_add(e, ev(1));
	assert_int_equal(events_wait_idle(e, 5000), 0);
	events_stats(e, &st);
	assert_int_equal(st.notify_failures_total, 1);
	events_free(e);
}

static void test_queue_overflow_drops(void **state)
{
	(void)state;
	const char *slow[] = {"/bin/sleep", "30", NULL};
	events_t *e = events_new(4, slow, 200);
	for (int i = 0; i < EVENTS_NOTIFY_QUEUE_MAX + 10; i++)
		events_add(e, ev(i));
	struct events_stats st;
	events_stats(e, &st);
	/* one is running, the queue holds the rest up to its bound */
	assert_true(st.notify_dropped_total >= 9);
	events_free(e); /* does not wait for the queue: only the running command */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ring),
	    cmocka_unit_test(test_notify_in_order),
	    cmocka_unit_test(test_notify_timeout_and_failures),
	    cmocka_unit_test(test_queue_overflow_drops),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
