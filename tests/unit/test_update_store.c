/* test_update_store.c — the dynamic data of primary zones
 * (dns/update_store.c): a commit survives a restart through its .dyn file,
 * the serial policy at reloads (file ahead, unchanged, edited without a
 * higher serial), a file that now holds what updates did, a file that
 * conflicts with them, a damaged .dyn file, a store without "state_dir",
 * a directory that cannot be written.
 *
 * Each test writes a configuration and zone files to its own temporary
 * directory and builds snapshots with config_load() + snapshot_build(),
 * as the daemon does; the updated zone ("nz") is a second zone file
 * loaded with zone_load().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the headers above it */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/diag.h"
#include "common/err.h"
#include "common/log.h"
#include "conf/config.h"
#include "dns/snapshot.h"
#include "dns/update_store.h"
#include "dns/zone.h"
#include "wire/dname.h"
#include "wire/wire.h"

static char topdir[64];
static char dir[128]; /* this test's directory */
static unsigned test_no;

#define HEAD                                                                                       \
	"$ORIGIN example.test.\n$TTL 300\n"                                                        \
	"@ SOA ns1 hostmaster %u 3600 600 86400 300\n"                                             \
	"@ NS ns1\n"                                                                               \
	"ns1 A 192.0.2.1\n"                                                                        \
	"a A 192.0.2.10\n"

#define CONF_STATE                                                                                 \
	"{\"listen\": [\"127.0.0.1:5300\"], \"state_dir\": \"%s\",\n"                              \
	" \"zones\": [{\"origin\": \"example.test\", \"file\": \"e.zone\"}]}\n"

#define CONF_MEMORY                                                                                \
	"{\"listen\": [\"127.0.0.1:5300\"],\n"                                                     \
	" \"zones\": [{\"origin\": \"example.test\", \"file\": \"e.zone\"}]}\n"

static const char *path_of(const char *name)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void write_text(const char *name, const char *text)
{
	FILE *f = fopen(path_of(name), "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Writes e.zone: HEAD with `serial`, then body. */
static void write_zone(const char *name, uint32_t serial, const char *body)
{
	char text[2048];
	snprintf(text, sizeof(text), HEAD "%s", serial, body);
	write_text(name, text);
}

/* A fresh directory for one test, with its configuration (state_dir
 * "state" unless memory_only). */
static void begin(bool memory_only)
{
	char conf[512];
	snprintf(dir, sizeof(dir), "%s/t%u", topdir, ++test_no);
	assert_int_equal(mkdir(dir, 0700), 0);
	if (memory_only)
		snprintf(conf, sizeof(conf), CONF_MEMORY);
	else
		snprintf(conf, sizeof(conf), CONF_STATE, "state");
	write_text("c.json", conf);
}

static snapshot_t *load(void)
{
	diag_t *d = diag_new();
	config_t *c = NULL;
	snapshot_t *s = NULL;
	int r = config_load(path_of("c.json"), &c, d);
	if (r == SOV_OK)
		r = snapshot_build(c, &s, d);
	for (size_t i = 0; i < diag_count(d); i++)
		fprintf(stderr, "%s\n", diag_get(d, i));
	diag_free(d);
	assert_int_equal(r, SOV_OK);
	return s;
}

/* The updated zone: HEAD with serial, then body, loaded from its own file. */
static zone_t *zone_text(uint32_t serial, const char *body)
{
	write_zone("nz.zone", serial, body);
	diag_t *d = diag_new();
	zone_t *z = NULL;
	int r = zone_load("example.test", path_of("nz.zone"), &z, d);
	if (r != SOV_OK)
		diag_print(d, stderr);
	diag_free(d);
	assert_int_equal(r, SOV_OK);
	return z;
}

static const zone_t *zone0(const snapshot_t *s)
{
	return zonedb_get(s->zones, 0);
}

/* Whether z has an RRset of `type` at `name` (presentation form). */
static bool has(const zone_t *z, const char *name, uint16_t type)
{
	uint8_t wire[DNAME_MAXLEN];
	assert_true(dname_from_str(name, wire) > 0);
	const znode_t *n = zone_find(z, wire);
	return n != NULL && znode_rrset(n, type) != NULL;
}

static int apply(update_store_t *st, const snapshot_t *old, snapshot_t *s, diag_t *d)
{
	return update_store_apply(st, old, s, d);
}

static void apply_ok(update_store_t *st, const snapshot_t *old, snapshot_t *s)
{
	diag_t *d = diag_new();
	int r = apply(st, old, s, d);
	for (size_t i = 0; i < diag_count(d); i++)
		fprintf(stderr, "%s\n", diag_get(d, i));
	diag_free(d);
	assert_int_equal(r, SOV_OK);
}

static void commit_ok(update_store_t *st, const snapshot_t *s, const zone_t *nz)
{
	char why[512] = "";
	int r = update_store_commit(st, s, 0, nz, why, sizeof(why));
	if (r != SOV_OK)
		fprintf(stderr, "commit: %s\n", why);
	assert_int_equal(r, SOV_OK);
}

static void size_is(const update_store_t *st, size_t records, size_t bytes)
{
	uint8_t origin[DNAME_MAXLEN];
	size_t n = 99, b = 99;
	assert_true(dname_from_str("example.test", origin) > 0);
	update_store_size(st, origin, &n, &b);
	assert_int_equal(n, records);
	assert_int_equal(b, bytes);
}

static bool dyn_exists(void)
{
	struct stat sb;
	return stat(path_of("state/updates/example.test.dyn"), &sb) == 0;
}

/* The update of every test: "a" deleted, TXT records at t and u added. */
#define NZ_BODY "t TXT \"hi\"\nu TXT \"there\"\n"
#define NZ_BYTES (4 + 3 + 6) /* the A's RDATA, then each TXT's */

/* Commits the update to the zone of a store that just applied s (serial
 * 10), then reopens the store as a restart would. */
static update_store_t *committed_then_restarted(snapshot_t **sp)
{
	write_zone("e.zone", 10, "");
	snapshot_t *s = load();
	update_store_t *st = update_store_new(s->conf);
	assert_non_null(st);
	assert_true(update_store_durable(st));
	const zone_t *before = zone0(s);
	apply_ok(st, NULL, s);
	assert_ptr_equal(zone0(s), before); /* no dynamic data: the file as it is */
	assert_false(dyn_exists());
	size_is(st, 0, 0);

	/* Not zone_text(): HEAD holds "a", which this update deletes. */
	zone_t *nz = NULL;
	write_text("nz.zone", "$ORIGIN example.test.\n$TTL 300\n"
			      "@ SOA ns1 hostmaster 11 3600 600 86400 300\n"
			      "@ NS ns1\nns1 A 192.0.2.1\n" NZ_BODY);
	diag_t *d = diag_new();
	assert_int_equal(zone_load("example.test", path_of("nz.zone"), &nz, d), SOV_OK);
	diag_free(d);
	commit_ok(st, s, nz);
	assert_true(dyn_exists());
	size_is(st, 3, NZ_BYTES);
	struct stat sb;
	assert_int_equal(stat(path_of("state/updates"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	zone_free(nz);
	update_store_free(st);
	snapshot_free(s);

	s = load();
	st = update_store_new(s->conf);
	assert_non_null(st);
	apply_ok(st, NULL, s);
	*sp = s;
	return st;
}

/* A restart lays the .dyn file over the unchanged zone file: the updated
 * zone, at the serial recorded. */
static void test_restart(void **state)
{
	(void)state;
	begin(false);
	snapshot_t *s = NULL;
	update_store_t *st = committed_then_restarted(&s);
	const zone_t *z = zone0(s);
	assert_int_equal(z->serial, 11);
	assert_true(has(z, "t.example.test", DNS_TYPE_TXT));
	assert_true(has(z, "u.example.test", DNS_TYPE_TXT));
	assert_false(has(z, "a.example.test", DNS_TYPE_A));
	assert_true(has(z, "ns1.example.test", DNS_TYPE_A));
	assert_string_equal(z->path, path_of("e.zone"));
	size_is(st, 3, NZ_BYTES);
	update_store_free(st);
	snapshot_free(s);
}

/* Reloads: unchanged file → same serial; edited without a higher serial →
 * one more; a higher serial → the file's; a file holding one added record
 * → less dynamic data; holding everything → none left, file removed. */
static void test_reload_serials(void **state)
{
	(void)state;
	begin(false);
	snapshot_t *s = NULL;
	update_store_t *st = committed_then_restarted(&s);

	snapshot_t *s2 = load();
	apply_ok(st, s, s2);
	assert_int_equal(zone0(s2)->serial, 11);
	size_is(st, 3, NZ_BYTES);
	snapshot_free(s);

	write_zone("e.zone", 10, "c A 192.0.2.3\n");
	snapshot_t *s3 = load();
	apply_ok(st, s2, s3);
	assert_int_equal(zone0(s3)->serial, 12);
	assert_true(has(zone0(s3), "c.example.test", DNS_TYPE_A));
	assert_true(has(zone0(s3), "t.example.test", DNS_TYPE_TXT));
	snapshot_free(s2);

	/* The same again: content unchanged, serial kept (also after a
	 * restart, from the .dyn file alone). */
	snapshot_t *s4 = load();
	apply_ok(st, s3, s4);
	assert_int_equal(zone0(s4)->serial, 12);
	snapshot_free(s3);
	update_store_free(st);
	snapshot_t *s5 = load();
	st = update_store_new(s5->conf);
	apply_ok(st, NULL, s5);
	assert_int_equal(zone0(s5)->serial, 12);
	snapshot_free(s4);

	write_zone("e.zone", 20, "c A 192.0.2.3\n");
	snapshot_t *s6 = load();
	apply_ok(st, s5, s6);
	assert_int_equal(zone0(s6)->serial, 20);
	assert_false(has(zone0(s6), "a.example.test", DNS_TYPE_A));
	size_is(st, 3, NZ_BYTES);
	snapshot_free(s5);

	/* The operator copies one added record into the file. */
	write_zone("e.zone", 20, "c A 192.0.2.3\nt TXT \"hi\"\n");
	snapshot_t *s7 = load();
	apply_ok(st, s6, s7);
	assert_int_equal(zone0(s7)->serial, 20); /* the same records served */
	assert_true(has(zone0(s7), "t.example.test", DNS_TYPE_TXT));
	size_is(st, 2, 4 + 6);
	snapshot_free(s6);

	/* Then all of it, with a higher serial: no dynamic data left. */
	write_text("e.zone", "$ORIGIN example.test.\n$TTL 300\n"
			     "@ SOA ns1 hostmaster 21 3600 600 86400 300\n"
			     "@ NS ns1\nns1 A 192.0.2.1\nc A 192.0.2.3\n" NZ_BODY);
	snapshot_t *s8 = load();
	const zone_t *file = zone0(s8);
	apply_ok(st, s7, s8);
	assert_ptr_equal(zone0(s8), file);
	assert_int_equal(zone0(s8)->serial, 21);
	size_is(st, 0, 0);
	assert_false(dyn_exists());
	snapshot_free(s7);
	update_store_free(st);
	snapshot_free(s8);
}

/* A file that now breaks a zone rule with the dynamic data: refused,
 * naming the .dyn file, s and the store left as they were. */
static void test_conflict(void **state)
{
	(void)state;
	begin(false);
	snapshot_t *s = NULL;
	update_store_t *st = committed_then_restarted(&s);

	write_zone("e.zone", 10, "t CNAME ns1\n");
	snapshot_t *s2 = load();
	const zone_t *file = zone0(s2);
	diag_t *d = diag_new();
	assert_int_equal(apply(st, s, s2, d), SOV_ESEMANTIC);
	assert_true(diag_count(d) >= 1);
	const char *m = diag_get(d, 0);
	assert_non_null(strstr(m, path_of("state/updates/example.test.dyn")));
	assert_non_null(strstr(m, "now conflicts with dynamic data"));
	assert_non_null(strstr(m, "e.zone"));
	assert_non_null(strstr(m, "CNAME"));
	diag_free(d);
	assert_ptr_equal(zone0(s2), file);
	snapshot_free(s2);

	/* The old base is kept: the next reload of the good file serves as
	 * before, and a commit still diffs against that base. */
	write_zone("e.zone", 10, "");
	snapshot_t *s3 = load();
	apply_ok(st, s, s3);
	assert_int_equal(zone0(s3)->serial, 11);
	size_is(st, 3, NZ_BYTES);
	update_store_free(st);
	snapshot_free(s);
	snapshot_free(s3);
}

/* A damaged .dyn file (one byte flipped anywhere) is refused at start. */
static void test_corrupt(void **state)
{
	(void)state;
	begin(false);
	snapshot_t *s = NULL;
	update_store_t *st = committed_then_restarted(&s);
	update_store_free(st);
	snapshot_free(s);

	const char *dyn = path_of("state/updates/example.test.dyn");
	char keep[256];
	snprintf(keep, sizeof(keep), "%s", dyn);
	FILE *f = fopen(keep, "rb");
	assert_non_null(f);
	uint8_t buf[4096];
	size_t len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(len > 30);
	for (size_t i = 0; i < len; i += 7) {
		buf[i] ^= 0x40;
		f = fopen(keep, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(buf, 1, len, f), len);
		fclose(f);
		buf[i] ^= 0x40;
		s = load();
		st = update_store_new(s->conf);
		diag_t *d = diag_new();
		assert_int_equal(apply(st, NULL, s, d), SOV_EPARSE);
		assert_int_equal(diag_count(d), 1);
		assert_non_null(strstr(diag_get(d, 0), keep));
		diag_free(d);
		update_store_free(st);
		snapshot_free(s);
	}
	/* Truncated: refused too. */
	f = fopen(keep, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len - 1, f), len - 1);
	fclose(f);
	s = load();
	st = update_store_new(s->conf);
	diag_t *d = diag_new();
	assert_int_equal(apply(st, NULL, s, d), SOV_EPARSE);
	diag_free(d);
	update_store_free(st);
	snapshot_free(s);
}

/* Without "state_dir": not durable, commits kept in memory across reloads. */
static void test_memory(void **state)
{
	(void)state;
	begin(true);
	write_zone("e.zone", 10, "");
	snapshot_t *s = load();
	update_store_t *st = update_store_new(s->conf);
	assert_non_null(st);
	assert_false(update_store_durable(st));
	apply_ok(st, NULL, s);
	zone_t *nz = zone_text(11, NZ_BODY);
	commit_ok(st, s, nz);
	size_is(st, 2, 3 + 6);
	zone_free(nz);
	struct stat sb;
	assert_int_not_equal(stat(path_of("state"), &sb), 0);

	snapshot_t *s2 = load();
	apply_ok(st, s, s2);
	assert_int_equal(zone0(s2)->serial, 11);
	assert_true(has(zone0(s2), "u.example.test", DNS_TYPE_TXT));
	update_store_free(st);
	snapshot_free(s);
	snapshot_free(s2);
}

/* A state_dir that cannot hold the updates directory (a regular file):
 * SOV_EIO naming what failed, the previous dynamic data kept. */
static void test_unwritable(void **state)
{
	(void)state;
	begin(false);
	char conf[512];
	snprintf(conf, sizeof(conf), CONF_STATE, "notadir");
	write_text("c.json", conf);
	write_text("notadir", "a file\n");
	write_zone("e.zone", 10, "");
	snapshot_t *s = load();
	update_store_t *st = update_store_new(s->conf);
	assert_true(update_store_durable(st));
	apply_ok(st, NULL, s);
	zone_t *nz = zone_text(11, NZ_BODY);
	char why[512] = "";
	assert_int_equal(update_store_commit(st, s, 0, nz, why, sizeof(why)), SOV_EIO);
	assert_non_null(strstr(why, "notadir"));
	size_is(st, 0, 0);
	/* Not a primary zone index: SOV_ENOENT. */
	assert_int_equal(update_store_commit(st, s, 5, nz, why, sizeof(why)), SOV_ENOENT);
	zone_free(nz);
	update_store_free(st);
	snapshot_free(s);
}

static int setup(void **state)
{
	(void)state;
	log_init(LOG_LVL_ERR, false);
	snprintf(topdir, sizeof(topdir), "/tmp/test_update_store.XXXXXX");
	return mkdtemp(topdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", topdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_restart),  cmocka_unit_test(test_reload_serials),
	    cmocka_unit_test(test_conflict), cmocka_unit_test(test_corrupt),
	    cmocka_unit_test(test_memory),   cmocka_unit_test(test_unwritable),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
