/* Unit tests of api/guard: header deadlines and fair eviction of pending connections. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "api/guard.h"

#define SHUT_MAX 64

/* What the guard shut down, in order. */
struct shut_log {
	int fd[SHUT_MAX];
	enum guard_reason why[SHUT_MAX];
	unsigned n;
};

static void record(void *ctx, int fd, enum guard_reason why)
{
	struct shut_log *l = ctx;
	if (l->n < SHUT_MAX) {
		l->fd[l->n] = fd;
		l->why[l->n] = why;
		l->n++;
	}
}

static struct sockaddr_in v4(const char *a)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	assert_int_equal(inet_pton(AF_INET, a, &sa.sin_addr), 1);
	return sa;
}

#define OPEN(g, addr, fd, now)                                                                     \
	guard_open((g), (const struct sockaddr *)(const void *)&(addr), (fd), (now))

static void test_header_deadline(void **state)
{
	(void)state;
	struct shut_log log = {0};
	guard_t *g = guard_new(10, 5000, record, &log);
	assert_non_null(g);
	struct sockaddr_in a = v4("192.0.2.1");
	struct guard_conn *idle = OPEN(g, a, 3, 1000);
	struct guard_conn *op = OPEN(g, a, 4, 2000);
	assert_non_null(idle);
	guard_trust(g, op); /* a valid token: no deadline */
	assert_int_equal(guard_expire(g, 5999), 0);
	assert_int_equal(guard_expire(g, 6000), 1); /* 1000 + 5000 */
	assert_int_equal(log.n, 1);
	assert_int_equal(log.fd[0], 3);
	assert_int_equal(log.why[0], GUARD_HEADER_TIMEOUT);
	assert_int_equal(guard_expire(g, 100000), 0); /* the trusted one stays */
	/* its request ended: the next header is due 5 s later */
	guard_rearm(g, op, 100000);
	assert_int_equal(guard_expire(g, 104999), 0);
	assert_int_equal(guard_expire(g, 105000), 1);
	assert_int_equal(log.fd[1], 4);
	/* a connection already shut down is not re-armed */
	guard_rearm(g, idle, 200000);
	assert_int_equal(guard_expire(g, 300000), 0);
	assert_int_equal(guard_dropped(g, GUARD_HEADER_TIMEOUT), 2);
	guard_close(g, idle);
	guard_close(g, op);
	assert_int_equal(guard_pending(g), 0);
	guard_free(g);
}

static void test_eviction_spares_the_quiet_client(void **state)
{
	(void)state;
	struct shut_log log = {0};
	guard_t *g = guard_new(4, 5000, record, &log);
	struct sockaddr_in flood = v4("198.51.100.7"), other = v4("198.51.100.8");
	struct sockaddr_in op = v4("203.0.113.1");
	struct guard_conn *c[8];
	c[0] = OPEN(g, op, 10, 0); /* the operator's connection, the oldest: spared while alone */
	c[1] = OPEN(g, flood, 11, 1);
	c[2] = OPEN(g, flood, 12, 2);
	c[3] = OPEN(g, other, 13, 3);
	assert_int_equal(log.n, 0);
	c[4] = OPEN(g, flood, 14, 4); /* 5 > 4: flood holds the most, its oldest goes */
	assert_int_equal(log.n, 1);
	assert_int_equal(log.fd[0], 11);
	assert_int_equal(log.why[0], GUARD_EVICTED);
	c[5] = OPEN(g, other, 15, 5); /* flood 2, other 2: the older connection of the two */
	assert_int_equal(log.n, 2);
	assert_int_equal(log.fd[1], 12);
	c[6] = OPEN(g, op, 16, 6); /* op 2, flood 1, other 2: op's older one (10) before 13 */
	assert_int_equal(log.n, 3);
	assert_int_equal(log.fd[2], 10);
	assert_int_equal(guard_pending(g), 4);
	for (unsigned i = 0; i < log.n; i++)
		assert_int_not_equal(log.fd[i], 16); /* the newest of equals stays */
	assert_int_equal(guard_dropped(g, GUARD_EVICTED), 3);
	for (int i = 0; i < 7; i++)
		guard_close(g, c[i]);
	assert_int_equal(guard_pending(g), 0);
	guard_free(g);
}

static void test_new_connection_of_the_busiest_client_may_go(void **state)
{
	(void)state;
	struct shut_log log = {0};
	guard_t *g = guard_new(1, 5000, record, &log);
	struct sockaddr_in a = v4("192.0.2.9");
	struct guard_conn *x = OPEN(g, a, 20, 0);
	struct guard_conn *y = OPEN(g, a, 21, 1);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.fd[0], 20); /* oldest first */
	guard_close(g, x);
	guard_close(g, y);
	guard_free(g);
}

static void test_reaper_thread(void **state)
{
	(void)state;
	/* the real thread with the real shutdown(2) on a descriptor that is not
	 * a socket: the guard counts it, the call fails harmlessly */
	guard_t *g = guard_new(4, 1, NULL, NULL);
	assert_true(guard_start_reaper(g));
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
	struct guard_conn *c = guard_open(g, (const struct sockaddr *)&sa, -1, 0);
	assert_non_null(c);
	/* the deadline (1 ms after 0) is long past on the monotonic clock */
	for (int i = 0; i < 1000 && guard_dropped(g, GUARD_HEADER_TIMEOUT) == 0; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(guard_dropped(g, GUARD_HEADER_TIMEOUT), 1);
	guard_close(g, c);
	guard_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_deadline),
	    cmocka_unit_test(test_eviction_spares_the_quiet_client),
	    cmocka_unit_test(test_new_connection_of_the_busiest_client_may_go),
	    cmocka_unit_test(test_reaper_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
