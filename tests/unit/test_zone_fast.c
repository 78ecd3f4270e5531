/* test_zone_fast.c — the plain-record fast path (dns/zone_fast.c).
 *
 * Two kinds of checks: exact wire output for lines the fast path takes and
 * a list of lines it must leave to ldns; then every zone file in the tree
 * (unit fixtures, integration zones, fuzz seeds) loaded with and without
 * the fast path must give the same zone and the same errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the headers above it */
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "dns/zone.h"
#include "dns/zone_fast.h"
#include "tests/common/zone_same.h"

/* example.test. in wire form, letter case as in a zone file */
static const uint8_t ORIGIN[] = "\7example\4test";
#define ORIGIN_LEN 14

static size_t parse(const char *line, zfast_t *r)
{
	return zone_fast_parse(line, strlen(line), ORIGIN, ORIGIN_LEN, r);
}

static void test_accepts_a_with_everything(void **state)
{
	(void)state;
	zfast_t r;
	const char *l = "www 300 IN A 192.0.2.1 ; web\nnext A 1.2.3.4\n";
	assert_int_equal(parse(l, &r), strlen("www 300 IN A 192.0.2.1 ; web\n"));
	assert_true(r.owner_given);
	assert_memory_equal(r.owner, "\3www\7example\4test", 18);
	assert_true(r.ttl_given);
	assert_int_equal(r.ttl_s, 300);
	assert_int_equal(r.type, 1);
	assert_int_equal(r.rdlen, 4);
	assert_memory_equal(r.rdata, "\xc0\x00\x02\x01", 4);
	assert_int_equal(r.name_at, 4);
}

static void test_accepts_blank_owner_no_ttl_last_line(void **state)
{
	(void)state;
	zfast_t r;
	assert_int_equal(parse("\tAAAA 2001:db8::1", &r), strlen("\tAAAA 2001:db8::1"));
	assert_false(r.owner_given);
	assert_false(r.ttl_given);
	assert_int_equal(r.type, 28);
	assert_memory_equal(r.rdata, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\1", 16);
}

static void test_names_relative_absolute_at(void **state)
{
	(void)state;
	zfast_t r;
	assert_true(parse("@ MX 10 Mail\n", &r) > 0);
	assert_memory_equal(r.owner, ORIGIN, ORIGIN_LEN);
	assert_int_equal(r.rdlen, 2 + 5 + ORIGIN_LEN);
	assert_memory_equal(r.rdata, "\0\12\4Mail\7example\4test", r.rdlen); /* case kept */
	assert_int_equal(r.name_at, 2);

	assert_true(parse("x CNAME other.test.\n", &r) > 0);
	assert_memory_equal(r.rdata, "\5other\4test", 12);
	assert_int_equal(r.rdlen, 12);
	assert_int_equal(r.name_at, 0);

	assert_true(parse("_sip._tcp SRV 0 5 5060 sip\n", &r) > 0);
	assert_memory_equal(r.owner, "\4_sip\4_tcp\7example\4test", 24);
	assert_memory_equal(r.rdata, "\0\0\0\5\x13\xc4\3sip", 10);
	assert_int_equal(r.name_at, 6);

	assert_true(parse("*.w NS @\n", &r) > 0);
	assert_memory_equal(r.owner, "\1*\1w\7example\4test", 18);
	assert_memory_equal(r.rdata, ORIGIN, ORIGIN_LEN);
}

static void test_txt(void **state)
{
	(void)state;
	zfast_t r;
	assert_true(parse("t TXT \"v=spf1 -all\" \"\"\n", &r) > 0);
	assert_int_equal(r.rdlen, 1 + 11 + 1);
	assert_memory_equal(r.rdata, "\13v=spf1 -all\0", 13);
	assert_int_equal(r.name_at, r.rdlen);
}

/* Everything here must go to ldns (return 0): each is either something
 * ldns reads differently from the plain form or an error ldns reports. */
static void test_declines(void **state)
{
	(void)state;
	static const char *lines[] = {
	    "www A 192.0.2.1 192.0.2.2\n",  /* extra field */
	    "www 1h A 192.0.2.1\n",	    /* TTL units */
	    "www 2147483648 A 192.0.2.1\n", /* TTL above 2^31-1 */
	    "www IN 300 A 192.0.2.1\n",	    /* class before TTL */
	    "www CH A 192.0.2.1\n",	    /* class other than IN */
	    "www A 192.0.2\n",		    /* bad address */
	    "www A ( 192.0.2.1 )\n",	    /* parentheses */
	    "w\\.x A 192.0.2.1\n",	    /* escape */
	    "www.. A 192.0.2.1\n",	    /* empty label */
	    ". A 192.0.2.1\n",		    /* root */
	    "www TXT unquoted\n",	    /* unquoted TXT */
	    "www TXT \"a\\\"b\"\n",	    /* escape in TXT */
	    "www TXT \"a;b\"\n",	    /* ';' inside quotes */
	    "www TXT \"a\"\"b\"\n",	    /* strings not separated */
	    "www TXT \"open\n",		    /* unclosed */
	    "www MX 65536 mail\n",	    /* above 16 bits */
	    "www MX mail\n",		    /* missing preference */
	    "www CAA 0 issue \"ca\"\n",	    /* type not in the fast set */
	    "www A 192.0.2.1\r\n",	    /* CR */
	    "www\n",			    /* no type */
	    "www 300\n",		    /* no type */
	    "",				    /* nothing */
	    "www.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa A "
	    "192.0.2.1\n",
	};
	zfast_t r;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (parse(lines[i], &r) != 0)
			fail_msg("fast path accepted: %s", lines[i]);
	}
	zone_fast_enabled = false;
	assert_int_equal(parse("www A 192.0.2.1\n", &r), 0);
	zone_fast_enabled = true;
}

/* Origin for a fixture: "<name>.zone" whose name ends in ".test" is that
 * zone; every other fixture is for example.test. */
static void origin_of(const char *file, char *out, size_t cap)
{
	size_t n = strlen(file);
	if (n > 10 && strcmp(file + n - 10, ".test.zone") == 0 && n - 5 < cap) {
		memcpy(out, file, n - 5);
		out[n - 5] = 0;
	} else {
		snprintf(out, cap, "example.test");
	}
}

static void load_both_ways(const char *dir, const char *file, size_t *loaded)
{
	char path[1024], origin[256], why[512];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	origin_of(file, origin, sizeof(origin));
	diag_t *d1 = diag_new(), *d2 = diag_new();
	zone_t *z1 = NULL, *z2 = NULL;
	zone_fast_enabled = true;
	int r1 = zone_load(origin, path, &z1, d1);
	zone_fast_enabled = false;
	int r2 = zone_load(origin, path, &z2, d2);
	zone_fast_enabled = true;
	const char *diff = r1 != r2 ? "return codes differ" : zone_same(z1, z2, why, sizeof(why));
	if (diff == NULL)
		diff = diag_same(d1, d2, why, sizeof(why));
	if (diff != NULL)
		fail_msg("%s: fast path and ldns disagree: %s", path, diff);
	*loaded += z1 != NULL;
	zone_free(z1);
	zone_free(z2);
	diag_free(d1);
	diag_free(d2);
}

static void test_every_fixture_same_both_ways(void **state)
{
	(void)state;
	static const char *dirs[] = {SRCDIR "/tests/unit/zones", SRCDIR "/tests/integration/zones",
				     SRCDIR "/tests/fuzz/corpus/zone", SRCDIR "/conf/demo"};
	size_t files = 0, loaded = 0;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		DIR *d = opendir(dirs[i]);
		assert_non_null(d);
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			size_t n = strlen(e->d_name);
			if (n < 6 || strcmp(e->d_name + n - 5, ".zone") != 0)
				continue;
			load_both_ways(dirs[i], e->d_name, &loaded);
			files++;
		}
		closedir(d);
	}
	/* the tree has ~30 zone files, most of which load */
	assert_true(files >= 25);
	assert_true(loaded >= 8);
}

int main(void)
{
	log_init(LOG_LVL_ERR, false);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepts_a_with_everything),
	    cmocka_unit_test(test_accepts_blank_owner_no_ttl_last_line),
	    cmocka_unit_test(test_names_relative_absolute_at),
	    cmocka_unit_test(test_txt),
	    cmocka_unit_test(test_declines),
	    cmocka_unit_test(test_every_fixture_same_both_ways),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
