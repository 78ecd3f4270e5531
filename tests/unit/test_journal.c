/* test_journal.c — the IXFR journal (dns/journal.c): differences between
 * two versions of a zone, chains, bounds, the file form.
 *
 * Zones are written as text to a temporary directory and loaded with
 * zone_load(), so each test reads as the zone files it compares.
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
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "dns/journal.h"
#include "dns/zone.h"
#include "wire/dname.h"
#include "wire/wire.h"

static char tmpdir[64];

#define HEAD                                                                                       \
	"$ORIGIN example.test.\n$TTL 300\n"                                                        \
	"@ SOA ns1 hostmaster %u 3600 600 86400 300\n"                                             \
	"@ NS ns1\n"                                                                               \
	"ns1 A 192.0.2.1\n"

/* Loads HEAD (with `serial`) followed by body as zone example.test. */
static zone_t *zone_of(uint32_t serial, const char *body)
{
	char path[128], head[256];
	snprintf(path, sizeof(path), "%s/z%u.zone", tmpdir, serial);
	snprintf(head, sizeof(head), HEAD, serial);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(head, f);
	fputs(body, f);
	fclose(f);
	diag_t *d = diag_new();
	zone_t *z = NULL;
	int r = zone_load("example.test", path, &z, d);
	if (r != SOV_OK)
		diag_print(d, stderr);
	assert_int_equal(r, SOV_OK);
	diag_free(d);
	return z;
}

/* One record of an entry, in presentation-form owner, type, TTL, RDATA. */
struct rr {
	char owner[DNAME_STR_MAX];
	uint16_t type;
	uint32_t ttl_s;
	uint8_t rdata[64];
	uint16_t rdlen;
};

/* Splits e into its sections: SOA(old) deleted... SOA(new) added... */
static void sections(const struct journal_entry *e, struct rr *del, size_t *ndel, struct rr *add,
		     size_t *nadd)
{
	size_t off = 0, soas = 0;
	const uint8_t *owner;
	zrrset_t one;
	*ndel = *nadd = 0;
	while (journal_rr_next(e->wire, e->len, &off, &owner, &one)) {
		if (one.type == 6) {
			soas++;
			continue;
		}
		assert_true(soas == 1 || soas == 2);
		struct rr *r = soas == 1 ? &del[(*ndel)++] : &add[(*nadd)++];
		assert_true(dname_to_str(owner, r->owner, sizeof(r->owner)) > 0);
		r->type = one.type;
		r->ttl_s = one.ttl_s;
		r->rdlen = wire_read_u16(one.rdata);
		assert_true(r->rdlen <= sizeof(r->rdata));
		memcpy(r->rdata, one.rdata + 2, r->rdlen);
	}
	assert_int_equal(off, e->len);
	assert_int_equal(soas, 2);
	assert_int_equal(*ndel, e->deleted);
	assert_int_equal(*nadd, e->added);
}

static bool has(const struct rr *v, size_t n, const char *owner, uint16_t type, uint32_t ttl_s,
		const uint8_t *rd, uint16_t rdlen)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].owner, owner) == 0 && v[i].type == type && v[i].ttl_s == ttl_s &&
		    v[i].rdlen == rdlen && memcmp(v[i].rdata, rd, rdlen) == 0)
			return true;
	return false;
}

static struct journal_entry *diff(const zone_t *a, const zone_t *b)
{
	struct journal_entry *e = NULL;
	assert_int_equal(journal_diff(a, NULL, b, NULL, &e), SOV_OK);
	assert_non_null(e);
	return e;
}

/* Added, deleted, a changed TTL (deleted and added again), unchanged left out. */
static void test_diff(void **state)
{
	(void)state;
	zone_t *a = zone_of(1, "www A 192.0.2.10\nold A 192.0.2.20\nttl 300 TXT \"x\"\n");
	zone_t *b = zone_of(2, "www A 192.0.2.10\nnew A 192.0.2.30\nttl 600 TXT \"x\"\n");
	struct journal_entry *e = diff(a, b);
	assert_int_equal(e->serial_from, 1);
	assert_int_equal(e->serial_to, 2);
	struct rr del[8], add[8];
	size_t nd, na;
	sections(e, del, &nd, add, &na);
	assert_int_equal(nd, 2);
	assert_int_equal(na, 2);
	const uint8_t a20[] = {192, 0, 2, 20}, a30[] = {192, 0, 2, 30}, txt[] = {1, 'x'};
	assert_true(has(del, nd, "old.example.test.", 1, 300, a20, 4));
	assert_true(has(del, nd, "ttl.example.test.", 16, 300, txt, 2));
	assert_true(has(add, na, "new.example.test.", 1, 300, a30, 4));
	assert_true(has(add, na, "ttl.example.test.", 16, 600, txt, 2));

	/* The first record is the old SOA at the apex, and the zone's own
	 * records (NS, glue) are in neither section. */
	size_t off = 0;
	const uint8_t *owner;
	zrrset_t one;
	assert_true(journal_rr_next(e->wire, e->len, &off, &owner, &one));
	assert_int_equal(one.type, 6);
	assert_true(dname_equal(owner, a->origin));

	/* Same content, serial up: only the two SOAs. */
	zone_t *c = zone_of(3, "www A 192.0.2.10\nnew A 192.0.2.30\nttl 600 TXT \"x\"\n");
	struct journal_entry *e2 = diff(b, c);
	assert_int_equal(e2->deleted, 0);
	assert_int_equal(e2->added, 0);
	journal_entry_unref(e2);
	journal_entry_unref(e);
	zone_free(a);
	zone_free(b);
	zone_free(c);
}

/* Three versions chained: the list answers from each older serial. */
static void test_chain(void **state)
{
	(void)state;
	zone_t *v1 = zone_of(10, "a A 192.0.2.1\n");
	zone_t *v2 = zone_of(11, "a A 192.0.2.2\n");
	zone_t *v3 = zone_of(12, "a A 192.0.2.3\nb A 192.0.2.4\n");
	struct journal_entry *e1 = diff(v1, v2), *e2 = diff(v2, v3);
	journal_t *j1 = journal_append(NULL, e1, 20, 1 << 20);
	journal_t *j2 = journal_append(j1, e2, 20, 1 << 20);
	journal_entry_unref(e1);
	journal_entry_unref(e2);
	assert_int_equal(journal_count(j1), 1);
	assert_int_equal(journal_count(j2), 2);
	assert_int_equal(journal_bytes(j2), e1->len + e2->len);
	assert_int_equal(journal_find(j2, 10, 12), 0);
	assert_int_equal(journal_find(j2, 11, 12), 1);
	assert_int_equal(journal_find(j2, 12, 12), -1); /* up to date: the SOA alone */
	assert_int_equal(journal_find(j2, 9, 12), -1);	/* older than the journal */
	assert_int_equal(journal_find(j2, 10, 13), -1); /* the list is not of that version */
	assert_int_equal(journal_find(NULL, 10, 12), -1);
	/* j1 is unchanged by the append (lists are immutable). */
	assert_int_equal(journal_find(j1, 10, 11), 0);
	journal_unref(j1);
	assert_int_equal(journal_get(j2, 0)->serial_to, 11);
	journal_unref(j2);
	zone_free(v1);
	zone_free(v2);
	zone_free(v3);
}

/* Bounds: the oldest entries go first; an entry over the byte bound alone
 * leaves the list empty. */
static void test_bounds(void **state)
{
	(void)state;
	zone_t *v[5];
	struct journal_entry *e[4];
	for (uint32_t i = 0; i < 5; i++) {
		char body[64];
		snprintf(body, sizeof(body), "a A 192.0.2.%u\n", i + 1);
		v[i] = zone_of(20 + i, body);
	}
	for (int i = 0; i < 4; i++)
		e[i] = diff(v[i], v[i + 1]);
	journal_t *j = NULL;
	for (int i = 0; i < 4; i++) {
		journal_t *n = journal_append(j, e[i], 3, 1 << 20);
		assert_non_null(n);
		journal_unref(j);
		j = n;
	}
	assert_int_equal(journal_count(j), 3);
	assert_int_equal(journal_get(j, 0)->serial_from, 21);
	assert_int_equal(journal_find(j, 20, 24), -1);
	assert_int_equal(journal_find(j, 21, 24), 0);

	/* Room for two entries' bytes only. */
	journal_t *k = NULL;
	for (int i = 0; i < 4; i++) {
		journal_t *n = journal_append(k, e[i], 20, e[2]->len + e[3]->len);
		journal_unref(k);
		k = n;
	}
	assert_int_equal(journal_count(k), 2);
	assert_true(journal_bytes(k) <= e[2]->len + e[3]->len);
	assert_int_equal(journal_find(k, 22, 24), 0);
	journal_unref(k);

	/* Lowered bounds: the newest that fit; within them: the same list. */
	journal_t *same = journal_trim(j, 3, 1 << 20);
	assert_ptr_equal(same, j);
	journal_unref(same);
	journal_t *t = journal_trim(j, 1, 1 << 20);
	assert_int_equal(journal_count(t), 1);
	assert_int_equal(journal_find(t, 23, 24), 0);
	journal_unref(t);
	t = journal_trim(j, 20, e[3]->len - 1);
	assert_int_equal(journal_count(t), 0);
	journal_unref(t);
	assert_null(journal_trim(NULL, 20, 1 << 20));

	journal_t *none = journal_append(j, e[3], 20, e[3]->len - 1);
	assert_non_null(none);
	assert_int_equal(journal_count(none), 0);
	journal_unref(none);
	journal_t *off = journal_append(j, e[3], 0, 1 << 20);
	assert_int_equal(journal_count(off), 0);
	journal_unref(off);

	journal_unref(j);
	for (int i = 0; i < 4; i++)
		journal_entry_unref(e[i]);
	for (int i = 0; i < 5; i++)
		zone_free(v[i]);
}

static journal_t *two_steps(zone_t **keep)
{
	keep[0] = zone_of(30, "a A 192.0.2.1\n");
	keep[1] = zone_of(31, "a A 192.0.2.2\nb TXT \"hello\"\n");
	keep[2] = zone_of(32, "b TXT \"bye\"\n");
	struct journal_entry *e1 = diff(keep[0], keep[1]), *e2 = diff(keep[1], keep[2]);
	journal_t *j1 = journal_append(NULL, e1, 20, 1 << 20);
	journal_t *j = journal_append(j1, e2, 20, 1 << 20);
	journal_unref(j1);
	journal_entry_unref(e1);
	journal_entry_unref(e2);
	return j;
}

/* Encode, write, read back, decode: the same entries, byte for byte. */
static void test_persist(void **state)
{
	(void)state;
	zone_t *z[3];
	journal_t *j = two_steps(z);
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(journal_encode(j, z[0]->origin, &buf, &len), SOV_OK);
	char path[128];
	snprintf(path, sizeof(path), "%s/example.test.jnl", tmpdir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
	free(buf);

	f = fopen(path, "rb");
	assert_non_null(f);
	uint8_t back[65536];
	size_t n = fread(back, 1, sizeof(back), f);
	fclose(f);
	assert_int_equal(n, len);
	journal_t *d = NULL;
	assert_int_equal(journal_decode(back, n, z[0]->origin, &d), SOV_OK);
	assert_int_equal(journal_count(d), 2);
	for (size_t i = 0; i < 2; i++) {
		const struct journal_entry *a = journal_get(j, i), *b = journal_get(d, i);
		assert_int_equal(a->serial_from, b->serial_from);
		assert_int_equal(a->serial_to, b->serial_to);
		assert_int_equal(a->deleted, b->deleted);
		assert_int_equal(a->added, b->added);
		assert_int_equal(a->len, b->len);
		assert_memory_equal(a->wire, b->wire, a->len);
	}
	assert_int_equal(journal_find(d, 30, 32), 0);
	journal_unref(d);

	/* An empty list encodes and decodes to NULL. */
	assert_int_equal(journal_encode(NULL, z[0]->origin, &buf, &len), SOV_OK);
	assert_int_equal(journal_decode(buf, len, z[0]->origin, &d), SOV_OK);
	assert_null(d);
	free(buf);

	char *name = journal_file_name("/var/lib/sovdns/journal", "Example.TEST.");
	assert_string_equal(name, "/var/lib/sovdns/journal/example.test.jnl");
	free(name);
	name = journal_file_name("/d", ".");
	assert_string_equal(name, "/d/root.jnl");
	free(name);

	journal_unref(j);
	for (int i = 0; i < 3; i++)
		zone_free(z[i]);
}

/* Any change to the file is refused: every byte flipped, every
 * truncation, another zone's name. */
static void test_corrupt(void **state)
{
	(void)state;
	zone_t *z[3];
	journal_t *j = two_steps(z);
	uint8_t *buf = NULL;
	size_t len = 0;
	journal_t *d = NULL;
	assert_int_equal(journal_encode(j, z[0]->origin, &buf, &len), SOV_OK);
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x20;
		assert_int_equal(journal_decode(buf, len, z[0]->origin, &d), SOV_EPARSE);
		buf[i] ^= 0x20;
	}
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(journal_decode(buf, cut, z[0]->origin, &d), SOV_EPARSE);
	uint8_t other[DNAME_MAXLEN];
	assert_true(dname_from_str("example.org", other) > 0);
	assert_int_equal(journal_decode(buf, len, other, &d), SOV_EPARSE);
	assert_null(d);
	assert_int_equal(journal_decode(buf, len, z[0]->origin, &d), SOV_OK);
	journal_unref(d);

	/* A well-formed file whose entry claims a serial its SOA does not
	 * carry (checksum made to match): refused too. */
	size_t first = 8 + dname_len(z[0]->origin) + 4; /* magic, origin, count */
	wire_write_u32(buf + first, 29);
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len - 8; i++) {
		h ^= buf[i];
		h *= 0x100000001b3ull;
	}
	wire_write_u32(buf + len - 8, (uint32_t)(h >> 32));
	wire_write_u32(buf + len - 4, (uint32_t)h);
	assert_int_equal(journal_decode(buf, len, z[0]->origin, &d), SOV_EPARSE);
	free(buf);
	journal_unref(j);
	for (int i = 0; i < 3; i++)
		zone_free(z[i]);
}

static int setup(void **state)
{
	(void)state;
	log_init(LOG_LVL_ERR, false);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_journal.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diff),    cmocka_unit_test(test_chain),
	    cmocka_unit_test(test_bounds),  cmocka_unit_test(test_persist),
	    cmocka_unit_test(test_corrupt),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
