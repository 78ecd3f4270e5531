/* test_zone.c — zone loading (dns/zone.c) and zone lookup (dns/zonedb.c).
 *
 * Fixtures live in tests/unit/zones/; each bad-*.zone breaks exactly one
 * rule and says on its first line where.
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
#include "dns/zone.h"
#include "dns/zonedb.h"

#define ZONES SRCDIR "/tests/unit/zones/"

enum {
	T_A = 1,
	T_NS = 2,
	T_CNAME = 5,
	T_SOA = 6,
	T_MX = 15,
	T_TXT = 16,
	T_AAAA = 28,
	T_SRV = 33,
	T_DS = 43,
	T_CAA = 257,
	T_PRIVATE = 65280
};

static zone_t *load_ok(const char *origin, const char *file)
{
	diag_t *d = diag_new();
	zone_t *z = NULL;
	int r = zone_load(origin, file, &z, d);
	if (r != SOV_OK)
		diag_print(d, stderr);
	assert_int_equal(r, SOV_OK);
	assert_int_equal(diag_count(d), 0);
	assert_non_null(z);
	diag_free(d);
	return z;
}

static const znode_t *find(const zone_t *z, const char *name)
{
	uint8_t wire[DNAME_MAXLEN];
	assert_true(dname_from_str(name, wire) > 0);
	return zone_find(z, wire);
}

static uint32_t idx(const zone_t *z, const char *name)
{
	const znode_t *n = find(z, name);
	assert_non_null(n);
	return (uint32_t)(n - z->nodes);
}

/** The rrset of `type` at `name`, which must exist with `count` records and `ttl_s`. */
static const zrrset_t *rrset(const zone_t *z, const char *name, uint16_t type, uint16_t count,
			     uint32_t ttl_s)
{
	const znode_t *n = find(z, name);
	assert_non_null(n);
	const zrrset_t *s = znode_rrset(n, type);
	assert_non_null(s);
	assert_int_equal(s->type, type);
	assert_int_equal(s->count, count);
	assert_int_equal(s->ttl_s, ttl_s);
	return s;
}

static void assert_rdata(const zrrset_t *s, const uint8_t *want, size_t len)
{
	assert_int_equal(s->rdata_len, len);
	assert_memory_equal(s->rdata, want, len);
}

static zone_t *example(void)
{
	return load_ok("example.test", ZONES "example.test.zone");
}

static void test_good_summary(void **state)
{
	(void)state;
	zone_t *z = example();
	uint8_t origin[] = "\x07"
			   "example"
			   "\x04"
			   "test";
	assert_memory_equal(z->origin, origin, sizeof(origin));
	assert_int_equal(z->origin_len, sizeof(origin));
	assert_int_equal(z->origin_labels, 2);
	assert_string_equal(z->origin_str, "example.test.");
	assert_string_equal(z->path, ZONES "example.test.zone");
	assert_int_equal(z->serial, 2024010101u);
	assert_int_equal(z->neg_ttl_s, 300); /* min(SOA TTL 3600, MINIMUM 300) */
	/* 31 records in the three files; two duplicates: www A 192.0.2.1, and
	 * NS ns1 spelled in another case (RFC 4343). */
	assert_int_equal(z->record_count, 29);
	/* 16 owners + 5 empty non-terminals (wild, _tcp, ent, a.ent, lab). */
	assert_int_equal(z->node_count, 21);
	assert_true(z->index_mask + 1 >= 2 * z->node_count);
	assert_int_equal((z->index_mask + 1) & z->index_mask, 0);
	zone_free(z);
}

static void test_good_apex(void **state)
{
	(void)state;
	zone_t *z = example();
	const znode_t *apex = zone_node(z, 0);
	assert_ptr_equal(find(z, "example.test."), apex);
	assert_ptr_equal(find(z, "EXAMPLE.test"), apex); /* lookups are on lowercased names */
	assert_int_equal(apex->flags, ZNODE_APEX);
	assert_int_equal(apex->parent, ZNODE_NONE);
	assert_int_equal(apex->cut, ZNODE_NONE);
	assert_int_equal(apex->service, ZNODE_NONE);
	/* RRsets sorted by type. */
	assert_int_equal(apex->rrset_count, 5);
	for (uint16_t i = 1; i < apex->rrset_count; i++)
		assert_true(apex->rrsets[i - 1].type < apex->rrsets[i].type);

	rrset(z, "example.test", T_SOA, 1, 3600);
	const zrrset_t *ns = rrset(z, "example.test", T_NS, 2, 3600);
	const uint8_t ns_want[] = {0,	18,  3,	  'n', 's', '1', 7,   'e', 'x', 'a', 'm', 'p', 'l',
				   'e', 4,   't', 'e', 's', 't', 0,   0,   17,	3,   'n', 's', '2',
				   7,	'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,	'n', 'e', 't', 0};
	assert_rdata(ns, ns_want, sizeof(ns_want));

	/* Names inside RDATA keep the zone file's letter case. */
	const zrrset_t *mx = rrset(z, "example.test", T_MX, 1, 3600);
	const uint8_t mx_want[] = {0,	21,  0,	  10,  4,   'M', 'a', 'i', 'l', 7,   'E', 'x',
				   'a', 'm', 'p', 'l', 'e', 4,	 'T', 'e', 's', 't', 0};
	assert_rdata(mx, mx_want, sizeof(mx_want));

	const zrrset_t *txt = rrset(z, "example.test", T_TXT, 1, 3600);
	const char *spf = "v=spf1 mx -all";
	assert_int_equal(txt->rdata_len, 2 + 1 + strlen(spf));
	assert_int_equal(txt->rdata[2], strlen(spf));
	assert_memory_equal(txt->rdata + 3, spf, strlen(spf));

	const zrrset_t *caa = rrset(z, "example.test", T_CAA, 2, 3600);
	const uint8_t caa_want[] = {0,	 22,  0,   5,	'i', 's', 's', 'u', 'e', 'l', 'e', 't', 's',
				    'e', 'n', 'c', 'r', 'y', 'p', 't', '.', 'o', 'r', 'g', 0,	11,
				    0,	 9,   'i', 's', 's', 'u', 'e', 'w', 'i', 'l', 'd'};
	assert_rdata(caa, caa_want, sizeof(caa_want));
	zone_free(z);
}

static void test_good_soa_rdata(void **state)
{
	(void)state;
	zone_t *z = example();
	const zrrset_t *soa = rrset(z, "example.test", T_SOA, 1, 3600);
	const uint8_t mname[] = "\x03ns1\x07"
				"example"
				"\x04"
				"test";
	const uint8_t rname[] = "\x0ahostmaster\x07"
				"example"
				"\x04"
				"test";
	const uint8_t nums[] = {0x78, 0xa3, 0xf1, 0x75, 0,    0, 0x1c, 0x20, 0, 0,
				0x0e, 0x10, 0,	  0x12, 0x75, 0, 0,    0,    1, 0x2c};
	size_t len = sizeof(mname) + sizeof(rname) + sizeof(nums);
	assert_int_equal(soa->rdata_len, 2 + len);
	assert_int_equal(soa->rdata[0] << 8 | soa->rdata[1], len);
	assert_memory_equal(soa->rdata + 2, mname, sizeof(mname));
	assert_memory_equal(soa->rdata + 2 + sizeof(mname), rname, sizeof(rname));
	assert_memory_equal(soa->rdata + 2 + sizeof(mname) + sizeof(rname), nums, sizeof(nums));
	zone_free(z);
}

static void test_good_hosts(void **state)
{
	(void)state;
	zone_t *z = example();
	/* www: A from lines 17 and 20 (WWW), the duplicate on line 19 dropped,
	 * records in file order. */
	const zrrset_t *a = rrset(z, "www.example.test", T_A, 2, 300);
	const uint8_t a_want[] = {0, 4, 192, 0, 2, 1, 0, 4, 192, 0, 2, 2};
	assert_rdata(a, a_want, sizeof(a_want));
	/* Blank owner on line 18 = www; its TTL is the $TTL. */
	const zrrset_t *aaaa = rrset(z, "www.example.test", T_AAAA, 1, 3600);
	const uint8_t aaaa_want[] = {0, 16, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0,
				     0, 0,  0,	  0,	0,    0,    0, 0, 1};
	assert_rdata(aaaa, aaaa_want, sizeof(aaaa_want));
	assert_null(znode_rrset(find(z, "www.example.test"), T_MX));

	/* Relative CNAME target completed with the origin. */
	const zrrset_t *cname = rrset(z, "ftp.example.test", T_CNAME, 1, 3600);
	const uint8_t cname_want[] = {0,   18,	3,   'w', 'w', 'w', 7,	 'e', 'x', 'a',
				      'm', 'p', 'l', 'e', 4,   't', 'e', 's', 't', 0};
	assert_rdata(cname, cname_want, sizeof(cname_want));
	/* NSEC may sit beside a CNAME (RFC 4035 §2.5). */
	rrset(z, "ftp.example.test", 47, 1, 3600);
	assert_int_equal(find(z, "ftp.example.test")->rrset_count, 2);

	const zrrset_t *srv = rrset(z, "_sip._tcp.example.test", T_SRV, 1, 3600);
	const uint8_t srv_want[] = {0,	 24,  0,   10,	0,   60,  0x13, 0xc4, 3,
				    's', 'i', 'p', 7,	'e', 'x', 'a',	'm',  'p',
				    'l', 'e', 4,   't', 'e', 's', 't',	0};
	assert_rdata(srv, srv_want, sizeof(srv_want));

	/* RFC 3597 unknown type. */
	const zrrset_t *priv = rrset(z, "unknown.example.test", T_PRIVATE, 1, 3600);
	const uint8_t priv_want[] = {0, 3, 1, 2, 3};
	assert_rdata(priv, priv_want, sizeof(priv_want));

	/* Differing TTLs in one RRset: the first one (line 33) wins. */
	rrset(z, "ttl.example.test", T_A, 2, 3600);
	zone_free(z);
}

static void test_good_include_and_origin(void **state)
{
	(void)state;
	zone_t *z = example();
	/* $INCLUDE with the parent's origin. */
	rrset(z, "mail.example.test", T_A, 1, 3600);
	/* $INCLUDE with an origin argument, relative to the current origin. */
	rrset(z, "host.other.example.test", T_A, 1, 3600);
	rrset(z, "other.example.test", T_TXT, 1, 3600);
	assert_null(find(z, "host.example.test"));
	/* Origin restored after the $INCLUDE. */
	rrset(z, "back.example.test", T_A, 1, 3600);
	/* Relative $ORIGIN. */
	rrset(z, "srv1.lab.example.test", T_A, 1, 3600);
	assert_int_equal(find(z, "lab.example.test")->rrset_count, 0);
	zone_free(z);
}

static void test_good_tree(void **state)
{
	(void)state;
	zone_t *z = example();
	uint32_t apex = 0, sub = idx(z, "sub.example.test"), glue = idx(z, "ns1.sub.example.test");

	/* Delegation: DELEG, its own cut, NS and DS at the cut. */
	const znode_t *n = zone_node(z, sub);
	assert_int_equal(n->flags, ZNODE_DELEG);
	assert_int_equal(n->cut, sub);
	assert_int_equal(n->parent, apex);
	rrset(z, "sub.example.test", T_NS, 2, 3600);
	const zrrset_t *ds = rrset(z, "sub.example.test", T_DS, 1, 3600);
	assert_int_equal(ds->rdata_len, 2 + 4 + 32);
	assert_int_equal(ds->rdata[2 + 4], 0x2b);

	/* Glue: strictly below the cut. */
	n = zone_node(z, glue);
	assert_int_equal(n->flags, ZNODE_GLUE);
	assert_int_equal(n->cut, sub);
	assert_int_equal(n->parent, sub);
	rrset(z, "ns1.sub.example.test", T_A, 1, 3600);
	rrset(z, "ns1.sub.example.test", T_AAAA, 1, 3600);

	/* Authoritative data is under no cut. */
	assert_int_equal(find(z, "www.example.test")->cut, ZNODE_NONE);
	assert_int_equal(find(z, "www.example.test")->flags, 0);

	/* Empty non-terminals: host.a.ent → a.ent → ent → apex. */
	uint32_t ent = idx(z, "ent.example.test"), aent = idx(z, "a.ent.example.test");
	assert_int_equal(zone_node(z, ent)->rrset_count, 0);
	assert_int_equal(zone_node(z, aent)->rrset_count, 0);
	assert_int_equal(find(z, "host.a.ent.example.test")->parent, aent);
	assert_int_equal(zone_node(z, aent)->parent, ent);
	assert_int_equal(zone_node(z, ent)->parent, apex);
	assert_int_equal(find(z, "_sip._tcp.example.test")->parent, idx(z, "_tcp.example.test"));

	/* Wildcard: the parent of "*" is flagged, and is itself an ENT. */
	uint32_t wild = idx(z, "wild.example.test");
	assert_int_equal(zone_node(z, wild)->flags, ZNODE_WILDCARD);
	assert_int_equal(zone_node(z, wild)->rrset_count, 0);
	assert_int_equal(find(z, "*.wild.example.test")->parent, wild);
	rrset(z, "*.wild.example.test", T_A, 1, 3600);

	/* Every node's parent is its name minus one label. */
	for (uint32_t i = 1; i < z->node_count; i++) {
		const znode_t *c = zone_node(z, i);
		assert_ptr_equal(zone_find(z, dname_parent(c->owner)), zone_node(z, c->parent));
	}
	/* Names not in the zone. */
	assert_null(find(z, "nope.example.test"));
	assert_null(find(z, "test"));
	assert_null(find(z, "www.sub2.example.test"));
	zone_free(z);
}

static void test_origin_forms(void **state)
{
	(void)state;
	zone_t *a = load_ok("example.test.", ZONES "example.test.zone");
	zone_t *b = load_ok("Example.Test", ZONES "example.test.zone");
	assert_int_equal(a->node_count, b->node_count);
	assert_memory_equal(a->origin, b->origin, a->origin_len);
	assert_string_equal(b->origin_str, "example.test.");
	zone_free(a);
	zone_free(b);
}

static void test_no_ttl_default(void **state)
{
	(void)state;
	zone_t *z = load_ok("example.test", ZONES "nottl.zone");
	rrset(z, "example.test", T_SOA, 1, 3600);
	rrset(z, "ns1.example.test", T_A, 1, 3600);
	rrset(z, "ns2.example.test", T_A, 1, 60);
	zone_free(z);
}

static void test_ttl_zero_default(void **state)
{
	(void)state;
	zone_t *z = load_ok("example.test", ZONES "ttl0.zone");
	rrset(z, "multi.example.test", T_A, 1, 0); /* parentheses: read by ldns */
	rrset(z, "plain.example.test", T_A, 1, 0); /* plain line: the fast path */
	rrset(z, "own.example.test", T_A, 1, 60);
	zone_free(z);
}

static void test_class_before_ttl(void **state)
{
	(void)state;
	zone_t *z = load_ok("example.test", ZONES "class-first.zone");
	rrset(z, "plain.example.test", T_A, 1, 120);	/* plain line: the fast path */
	rrset(z, "paren.example.test", T_TXT, 1, 3600); /* units, parentheses: ldns */
	rrset(z, "paren.example.test", T_AAAA, 1, 60);	/* blank owner */
	zone_free(z);
}

static void test_long_records_and_bom(void **state)
{
	(void)state;
	/* A record over 4 KiB is checked whole (no false "never closed"). */
	zone_t *z = load_ok("example.test", ZONES "long-records.zone");
	const zrrset_t *txt = rrset(z, "long.example.test", T_TXT, 1, 3600);
	assert_int_equal(txt->rdata_len, 2 + 20 * 251);
	const zrrset_t *unk = rrset(z, "unk.example.test", T_PRIVATE, 1, 3600);
	assert_int_equal(unk->rdata_len, 2 + 2100);
	zone_free(z);
	/* A UTF-8 byte order mark is not part of the first line. */
	z = load_ok("example.test", ZONES "bom.zone");
	rrset(z, "ns1.example.test", T_A, 1, 3600);
	zone_free(z);
}

/* ------------------------------------------------------------ bad zones */

/**
 * Loads a bad fixture and checks the result code and that one diagnostic
 * starts with "<path>:<line>:" and contains `text`.
 */
static void expect_bad_at(const char *file, int code, unsigned line, unsigned col,
			  const char *text);

static void expect_bad(const char *file, int code, unsigned line, const char *text)
{
	expect_bad_at(file, code, line, 1, text);
}

/** expect_bad() at a given column. */
static void expect_bad_at(const char *file, int code, unsigned line, unsigned col, const char *text)
{
	char path[512], where[600];
	diag_t *d = diag_new();
	zone_t *z = NULL;
	snprintf(path, sizeof(path), ZONES "%s", file);
	int r = zone_load("example.test", path, &z, d);
	assert_null(z);
	if (r != code)
		diag_print(d, stderr);
	assert_int_equal(r, code);
	snprintf(where, sizeof(where), "%s:%u:%u: ", path, line, col);
	bool found = false;
	for (size_t i = 0; i < diag_count(d); i++)
		if (strncmp(diag_get(d, i), where, strlen(where)) == 0 &&
		    strstr(diag_get(d, i), text) != NULL)
			found = true;
	if (!found) {
		fprintf(stderr, "wanted \"%s...%s\" in:\n", where, text);
		diag_print(d, stderr);
	}
	assert_true(found);
	diag_free(d);
}

/** Loads a bad fixture and checks that no diagnostic is about line `line`. */
static void expect_no_error_at(const char *file, unsigned line)
{
	char path[512], where[600];
	diag_t *d = diag_new();
	zone_t *z = NULL;
	snprintf(path, sizeof(path), ZONES "%s", file);
	assert_int_not_equal(zone_load("example.test", path, &z, d), SOV_OK);
	snprintf(where, sizeof(where), "%s:%u:", path, line);
	for (size_t i = 0; i < diag_count(d); i++) {
		if (strncmp(diag_get(d, i), where, strlen(where)) == 0)
			fail_msg("unexpected: %s", diag_get(d, i));
	}
	diag_free(d);
}

static void test_bad_syntax(void **state)
{
	(void)state;
	expect_bad("bad-syntax.zone", SOV_EPARSE, 6, "syntax error");
	expect_bad("bad-syntax.zone", SOV_EPARSE, 6, "\"www IN A 192.0.2.300\"");
	/* Parsing goes on: the second error is reported too. */
	expect_bad("bad-syntax.zone", SOV_EPARSE, 8, "\"mx IN MX ten mail\"");
}

static void test_bad_many(void **state)
{
	(void)state;
	diag_t *d = diag_new();
	zone_t *z = NULL;
	assert_int_equal(zone_load("example.test", ZONES "bad-many.zone", &z, d), SOV_EPARSE);
	/* All three problems, in file order. */
	assert_int_equal(diag_count(d), 3);
	assert_non_null(strstr(diag_get(d, 0), "bad-many.zone:6:1: syntax error"));
	assert_non_null(strstr(diag_get(d, 1), "bad-many.zone:7:1: www.example.org. is outside"));
	assert_non_null(strstr(diag_get(d, 2), "bad-many.zone:9:1: CNAME at ftp.example.test."));
	diag_free(d);
}

static void test_bad_soa(void **state)
{
	(void)state;
	expect_bad("bad-nosoa.zone", SOV_ESEMANTIC, 1,
		   "no SOA record at the zone apex example.test.");
	expect_bad("bad-twosoa.zone", SOV_ESEMANTIC, 6, "more than one SOA record");
	expect_bad("bad-soa-below.zone", SOV_ESEMANTIC, 6,
		   "SOA at www.example.test. is not at the zone apex");
}

static void test_bad_names_and_class(void **state)
{
	(void)state;
	expect_bad("bad-outside.zone", SOV_ESEMANTIC, 6,
		   "www.example.org. is outside the zone example.test.");
	expect_bad("bad-class.zone", SOV_ESEMANTIC, 6, "class CH is not supported");
	expect_bad("bad-nons.zone", SOV_ESEMANTIC, 1, "no NS records at the zone apex");
	/* DNAME is served (RFC 6672); its rules are checked. */
	expect_bad("bad-dname.zone", SOV_ESEMANTIC, 7,
		   "A at x.old.example.test. is occluded by the DNAME at old.example.test.");
	expect_bad("bad-dname.zone", SOV_ESEMANTIC, 9,
		   "two DNAME records at two.example.test.: a name has at most one");
	expect_bad("bad-dname.zone", SOV_ESEMANTIC, 11,
		   "CNAME at both.example.test. cannot coexist with other data (DNAME)");
}

static void test_bad_cname(void **state)
{
	(void)state;
	expect_bad("bad-cname-other.zone", SOV_ESEMANTIC, 7,
		   "CNAME at www.example.test. cannot coexist with other data (A) "
		   "(RFC 2181 §10.1)");
	expect_bad("bad-cname-two.zone", SOV_ESEMANTIC, 7,
		   "two CNAME records at www.example.test.");
	/* Conflict across files; an $INCLUDE does not make it a syntax error. */
	expect_bad("bad-after-include.zone", SOV_ESEMANTIC, 7,
		   "CNAME at mail.example.test. cannot coexist with other data (A)");
}

static void test_bad_cut(void **state)
{
	(void)state;
	expect_bad("bad-occluded.zone", SOV_ESEMANTIC, 7,
		   "A at sub.example.test. is occluded by the delegation");
	/* NS naming the cut itself: its A/AAAA are glue (RFC 9471 §2.1), only
	 * the TXT is refused. */
	expect_bad("bad-occluded-self.zone", SOV_ESEMANTIC, 9,
		   "TXT at sub.example.test. is occluded by the delegation");
	expect_no_error_at("bad-occluded-self.zone", 8);
	expect_no_error_at("bad-occluded-self.zone", 10);
	expect_bad("bad-notglue.zone", SOV_ESEMANTIC, 8,
		   "A at www.sub.example.test. is below the zone cut at sub.example.test. and "
		   "is not glue for it");
	expect_bad("bad-notglue.zone", SOV_ESEMANTIC, 9,
		   "TXT at ns1.sub.example.test. is below the zone cut at sub.example.test.");
}

static void test_bad_directives(void **state)
{
	(void)state;
	expect_bad("bad-include-missing.zone", SOV_EIO, 6, "$INCLUDE: cannot open");
	expect_bad("bad-include-missing.zone", SOV_EIO, 6, "does-not-exist.zone");
	/* The error is located in the included file, not in the includer. */
	diag_t *d = diag_new();
	zone_t *z = NULL;
	assert_int_equal(zone_load("example.test", ZONES "bad-in-include.zone", &z, d), SOV_EPARSE);
	assert_int_equal(diag_count(d), 1);
	assert_string_equal(diag_get(d, 0),
			    ZONES "bad-in-include.inc:3:1: syntax error: Syntax error, could not "
				  "parse the RR's rdata in \"broken IN AAAA not-an-address\"");
	diag_free(d);
	expect_bad("bad-include-loop.zone", SOV_EPARSE, 6, "nested more than 8 files deep");
	expect_bad("bad-include-special.zone", SOV_EIO, 6,
		   "$INCLUDE: cannot open /dev/null: not a regular file");
	expect_bad("bad-directive.zone", SOV_EPARSE, 6, "unknown directive $GENERATE");
	expect_bad("bad-ttl.zone", SOV_EPARSE, 6, "$TTL forever is not a TTL");
	expect_bad_at("bad-serial-wraps.zone", SOV_EPARSE, 3, 25, "\"4294967296\" is not a number");
	expect_bad_at("bad-soa-timer-wraps.zone", SOV_EPARSE, 3, 37,
		      "\"7102w\" is more than 4294967295 seconds");
}

/* Found by fuzz_zone: NUL bytes before a comment make ldns read on into the
 * next line and run an $ORIGIN itself; a bad name there left the origin
 * NULL and crashed the next record. Written at run time: fixtures are text. */
static void test_bad_nul_then_directive(void **state)
{
	(void)state;
	static const char text[] = "$TTL 3600\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
				   "@ IN NS ns1\nns1 IN A 192.0.2.53\n"
				   "\0\0; NUL bytes, then a comment\n$ORIGIN bad..name\n"
				   "www IN A 192.0.2.1\n";
	char path[] = "/tmp/test_zone.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), sizeof(text) - 1);
	close(fd);
	diag_t *d = diag_new();
	zone_t *z = NULL;
	assert_int_equal(zone_load("example.test", path, &z, d), SOV_EPARSE);
	assert_null(z);
	assert_true(diag_count(d) >= 1);
	assert_non_null(strstr(diag_get(d, 0), "a $ directive must start its line"));
	diag_free(d);
	unlink(path);
}

static void test_bad_args(void **state)
{
	(void)state;
	diag_t *d = diag_new();
	zone_t *z = NULL;
	assert_int_equal(zone_load("example.test", ZONES "no-such-file.zone", &z, d), SOV_EIO);
	assert_null(z);
	assert_int_equal(diag_count(d), 1);
	assert_non_null(strstr(diag_get(d, 0), "no-such-file.zone:1:1: cannot open zone file"));
	assert_int_equal(zone_load("bad..origin", ZONES "example.test.zone", &z, d), SOV_EINVAL);
	assert_null(z);
	diag_free(d);
	zone_free(NULL);
}

/* --------------------------------------------------------------- zonedb */

static const zone_t *db_find(const zonedb_t *db, const char *name)
{
	uint8_t wire[DNAME_MAXLEN];
	assert_true(dname_from_str(name, wire) > 0);
	return zonedb_find(db, wire);
}

static void test_zonedb_longest_match(void **state)
{
	(void)state;
	zonedb_t *db = zonedb_new();
	assert_non_null(db);
	zone_t *parent = load_ok("example.test", ZONES "example.test.zone");
	zone_t *child = load_ok("sub.example.test", ZONES "sub.example.test.zone");
	assert_int_equal(zonedb_add(db, parent), SOV_OK);
	assert_int_equal(zonedb_add(db, child), SOV_OK);
	assert_int_equal(zonedb_finish(db), SOV_OK);
	assert_int_equal(zonedb_count(db), 2);
	assert_ptr_equal(zonedb_get(db, 0), parent);
	assert_ptr_equal(zonedb_get(db, 1), child);
	assert_null(zonedb_get(db, 2));

	assert_ptr_equal(db_find(db, "example.test"), parent);
	assert_ptr_equal(db_find(db, "www.example.test"), parent);
	assert_ptr_equal(db_find(db, "a.b.c.example.test"), parent);
	assert_ptr_equal(db_find(db, "sub.example.test"), child);
	assert_ptr_equal(db_find(db, "www.sub.example.test"), child);
	assert_ptr_equal(db_find(db, "x.y.www.sub.example.test"), child);
	assert_ptr_equal(db_find(db, "xsub.example.test"), parent);

	assert_null(db_find(db, "test"));
	assert_null(db_find(db, "."));
	assert_null(db_find(db, "example.org"));
	assert_null(db_find(db, "example.test.org"));
	assert_null(db_find(db, "xexample.test"));

	/* Same origin again: refused, and the caller keeps the zone. */
	zone_t *dup = load_ok("example.test.", ZONES "example.test.zone");
	assert_int_equal(zonedb_add(db, dup), SOV_EEXIST);
	zone_free(dup);
	zonedb_free(db);
}

static void test_zonedb_many(void **state)
{
	(void)state;
	/* Enough zones to grow the table several times. sub.example.test.zone
	 * uses only relative names, so it loads under any origin. */
	zonedb_t *db = zonedb_new();
	char origin[64];
	for (int i = 0; i < 40; i++) {
		snprintf(origin, sizeof(origin), "z%d.test", i);
		zone_t *z = load_ok(origin, ZONES "sub.example.test.zone");
		assert_int_equal(zonedb_add(db, z), SOV_OK);
	}
	assert_int_equal(zonedb_finish(db), SOV_OK);
	assert_int_equal(zonedb_count(db), 40);
	for (int i = 0; i < 40; i++) {
		snprintf(origin, sizeof(origin), "www.z%d.test", i);
		const zone_t *z = db_find(db, origin);
		assert_non_null(z);
		assert_ptr_equal(z, zonedb_get(db, (size_t)i));
	}
	assert_null(db_find(db, "z40.test"));
	zonedb_free(db);

	db = zonedb_new();
	assert_null(db_find(db, "www.example.test"));
	assert_int_equal(zonedb_count(db), 0);
	zonedb_free(db);
	zonedb_free(NULL);
}

int main(void)
{
	/* Loading warns (missing $TTL, differing TTLs) by design; keep the
	 * test output to failures. */
	log_init(LOG_LVL_ERR, false);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_summary),
	    cmocka_unit_test(test_good_apex),
	    cmocka_unit_test(test_good_soa_rdata),
	    cmocka_unit_test(test_good_hosts),
	    cmocka_unit_test(test_good_include_and_origin),
	    cmocka_unit_test(test_good_tree),
	    cmocka_unit_test(test_origin_forms),
	    cmocka_unit_test(test_no_ttl_default),
	    cmocka_unit_test(test_ttl_zero_default),
	    cmocka_unit_test(test_long_records_and_bom),
	    cmocka_unit_test(test_class_before_ttl),
	    cmocka_unit_test(test_bad_syntax),
	    cmocka_unit_test(test_bad_many),
	    cmocka_unit_test(test_bad_soa),
	    cmocka_unit_test(test_bad_names_and_class),
	    cmocka_unit_test(test_bad_cname),
	    cmocka_unit_test(test_bad_cut),
	    cmocka_unit_test(test_bad_directives),
	    cmocka_unit_test(test_bad_nul_then_directive),
	    cmocka_unit_test(test_bad_args),
	    cmocka_unit_test(test_zonedb_longest_match),
	    cmocka_unit_test(test_zonedb_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
