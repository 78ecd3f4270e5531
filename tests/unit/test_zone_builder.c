/* test_zone_builder.c — zones built from wire records (zone_builder_*, dns/zone.c)
 * are the zones the file loader makes of the same records, and are refused
 * for what a file is refused for.
 *
 * Each fixture is read record by record with ldns (as a transfer would
 * carry it: owner, class, type, TTL, RDATA in wire form, in file order) and
 * fed to a builder; the result is compared node by node, RRset by RRset,
 * byte by byte with zone_load()'s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the headers above it */
#include <cmocka.h>

#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "dns/zone.h"

#define ZONES SRCDIR "/tests/unit/zones/"
#define SOURCE "AXFR of example.test. from 192.0.2.1"

/* Reads `path` with ldns and feeds every record to a new builder. */
static int build_file(const char *origin, const char *path, const struct zone_services *svcs,
		      zone_t **out, diag_t *d)
{
	zone_builder_t *b = NULL;
	assert_int_equal(zone_builder_new(origin, path, SOURCE, &b), SOV_OK);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	uint32_t ttl = 3600;
	ldns_rdf *orig = ldns_dname_new_frm_str(origin), *prev = NULL;
	int line = 0;
	while (!feof(f)) {
		ldns_rr *rr = NULL;
		ldns_status s = ldns_rr_new_frm_fp_l(&rr, f, &ttl, &orig, &prev, &line);
		if (s != LDNS_STATUS_OK) {
			if (s != LDNS_STATUS_SYNTAX_EMPTY && s != LDNS_STATUS_SYNTAX_TTL &&
			    s != LDNS_STATUS_SYNTAX_ORIGIN)
				fprintf(stderr, "%s:%d: %s\n", path, line,
					ldns_get_errorstr_by_id(s));
			assert_true(s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL ||
				    s == LDNS_STATUS_SYNTAX_ORIGIN);
			continue;
		}
		uint8_t rd[65536];
		size_t len = 0;
		for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
			const ldns_rdf *x = ldns_rr_rdf(rr, i);
			if (x == NULL || ldns_rdf_size(x) == 0)
				continue;
			memcpy(rd + len, ldns_rdf_data(x), ldns_rdf_size(x));
			len += ldns_rdf_size(x);
		}
		int r = zone_builder_add(b, ldns_rdf_data(ldns_rr_owner(rr)),
					 (uint16_t)ldns_rr_get_class(rr),
					 (uint16_t)ldns_rr_get_type(rr), ldns_rr_ttl(rr), rd, len);
		assert_true(r == SOV_OK || r == SOV_ESEMANTIC);
		ldns_rr_free(rr);
	}
	ldns_rdf_deep_free(orig);
	ldns_rdf_deep_free(prev);
	fclose(f);
	return zone_builder_finish(b, svcs, out, d);
}

static void assert_same_zone(const zone_t *a, const zone_t *b)
{
	assert_memory_equal(a->origin, b->origin, a->origin_len);
	assert_string_equal(a->origin_str, b->origin_str);
	assert_string_equal(a->path, b->path);
	assert_int_equal(a->serial, b->serial);
	assert_int_equal(a->neg_ttl_s, b->neg_ttl_s);
	assert_int_equal(a->record_count, b->record_count);
	assert_int_equal(a->node_count, b->node_count);
	for (uint32_t i = 0; i < a->node_count; i++) {
		const znode_t *n = &a->nodes[i];
		const znode_t *m = zone_find(b, n->owner);
		assert_non_null(m);
		assert_int_equal(n->flags, m->flags);
		assert_int_equal(n->service, m->service);
		assert_int_equal(n->rrset_count, m->rrset_count);
		if (n->parent == ZNODE_NONE)
			assert_int_equal(m->parent, ZNODE_NONE);
		else
			assert_true(
			    dname_equal(a->nodes[n->parent].owner, b->nodes[m->parent].owner));
		if (n->cut == ZNODE_NONE)
			assert_int_equal(m->cut, ZNODE_NONE);
		else
			assert_true(dname_equal(a->nodes[n->cut].owner, b->nodes[m->cut].owner));
		for (uint16_t k = 0; k < n->rrset_count; k++) {
			const zrrset_t *x = &n->rrsets[k], *y = &m->rrsets[k];
			assert_int_equal(x->type, y->type);
			assert_int_equal(x->count, y->count);
			assert_int_equal(x->ttl_s, y->ttl_s);
			assert_int_equal(x->rdata_len, y->rdata_len);
			assert_memory_equal(x->rdata, y->rdata, x->rdata_len);
		}
	}
}

static void same_as_file(const char *origin, const char *file, const struct zone_services *svcs)
{
	char path[512];
	snprintf(path, sizeof(path), ZONES "%s", file);
	diag_t *d = diag_new();
	zone_t *a = NULL, *b = NULL;
	assert_int_equal(zone_load_services(origin, path, svcs, &a, d), SOV_OK);
	int r = build_file(origin, path, svcs, &b, d);
	if (r != SOV_OK)
		diag_print(d, stderr);
	assert_int_equal(r, SOV_OK);
	assert_int_equal(diag_count(d), 0);
	assert_same_zone(a, b);
	zone_free(a);
	zone_free(b);
	diag_free(d);
}

static void test_same_as_file(void **state)
{
	(void)state;
	same_as_file("example.test", "builder-mix.zone", NULL);
	same_as_file("example.test", "long-records.zone", NULL);
	same_as_file("example.test", "nottl.zone", NULL);
	same_as_file("sub.example.test", "sub.example.test.zone", NULL);
	/* Duplicates that differ only in the case of names in RDATA are one
	 * record (RFC 4343); TXT strings that differ in case are two. */
	zone_t *z = NULL;
	assert_int_equal(build_file("example.test", ZONES "builder-mix.zone", NULL, &z, NULL),
			 SOV_OK);
	uint8_t apex[DNAME_MAXLEN];
	assert_true(dname_from_str("example.test", apex) > 0);
	const znode_t *n = zone_find(z, apex);
	assert_int_equal(znode_rrset(n, 2 /* NS */)->count, 2);
	assert_int_equal(znode_rrset(n, 15 /* MX */)->count, 1);
	assert_int_equal(znode_rrset(n, 16 /* TXT */)->count, 2);
	zone_free(z);
}

static void test_services_same_as_file(void **state)
{
	(void)state;
	uint8_t svc[DNAME_MAXLEN];
	assert_true(dname_from_str("geo.example.test", svc) > 0);
	const uint8_t *names[] = {svc};
	const uint32_t ids[] = {7};
	struct zone_services s = {names, ids, 1, false};
	same_as_file("example.test", "builder-mix.zone", &s);
}

/* The file is refused and so are its records, with the same message. */
static void refused_as_file(const char *file, const struct zone_services *svcs, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), ZONES "%s", file);
	diag_t *d = diag_new(), *e = diag_new();
	zone_t *z = NULL;
	assert_int_not_equal(zone_load_services("example.test", path, svcs, &z, d), SOV_OK);
	assert_null(z);
	int r = build_file("example.test", path, svcs, &z, e);
	assert_int_equal(r, SOV_ESEMANTIC);
	assert_null(z);
	bool in_file = false, in_records = false;
	for (size_t i = 0; i < diag_count(d); i++)
		in_file |= strstr(diag_get(d, i), text) != NULL;
	for (size_t i = 0; i < diag_count(e); i++)
		in_records |= strstr(diag_get(e, i), text) != NULL &&
			      strncmp(diag_get(e, i), SOURCE, strlen(SOURCE)) == 0;
	if (!in_file || !in_records) {
		fprintf(stderr, "wanted \"%s\" in both:\n", text);
		diag_print(d, stderr);
		diag_print(e, stderr);
	}
	assert_true(in_file && in_records);
	diag_free(d);
	diag_free(e);
}

static void test_refused_as_file(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
	    {"bad-nosoa.zone", "no SOA record at the zone apex example.test."},
	    {"bad-twosoa.zone", "more than one SOA record"},
	    {"bad-soa-below.zone", "SOA at www.example.test. is not at the zone apex"},
	    {"bad-outside.zone", "www.example.org. is outside the zone example.test."},
	    {"bad-class.zone", "class CH"},
	    {"bad-nons.zone", "no NS records at the zone apex"},
	    {"bad-dname.zone",
	     "A at x.old.example.test. is occluded by the DNAME at old.example.test."},
	    {"bad-dname.zone", "two DNAME records at two.example.test."},
	    {"bad-dname.zone",
	     "CNAME at both.example.test. cannot coexist with other data (DNAME)"},
	    {"bad-cname-other.zone",
	     "CNAME at www.example.test. cannot coexist with other data (A)"},
	    {"bad-cname-two.zone", "two CNAME records at www.example.test."},
	    {"bad-occluded.zone", "A at sub.example.test. is occluded by the delegation"},
	    {"bad-notglue.zone",
	     "A at www.sub.example.test. is below the zone cut at sub.example.test."},
	    {"bad-notglue.zone", "TXT at ns1.sub.example.test. is below the zone cut"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused_as_file(cases[i][0], NULL, cases[i][1]);

	/* Service rules: a static address at a service name, a service below a cut. */
	uint8_t svc[DNAME_MAXLEN];
	const uint8_t *names[] = {svc};
	const uint32_t ids[] = {0};
	struct zone_services s = {names, ids, 1, false};
	assert_true(dname_from_str("web.example.test", svc) > 0);
	refused_as_file("builder-mix.zone", &s,
			"web.example.test. is a service in the configuration");
	assert_true(dname_from_str("x.sub.example.test", svc) > 0);
	refused_as_file(
	    "builder-mix.zone", &s,
	    "service x.sub.example.test. is at or below the zone cut at sub.example.test.");
}

/* A secondary's zone (keep_occluded): data occluded by a cut is kept and
 * flagged, glue stays glue; below a DNAME stays refused (RFC 5936 §3.5). */
static void test_occluded_kept_for_secondaries(void **state)
{
	(void)state;
	struct zone_services keep = {NULL, NULL, 0, true};
	static const char *const files[] = {"bad-occluded.zone", "bad-notglue.zone"};
	for (size_t i = 0; i < 2; i++) {
		char path[512];
		snprintf(path, sizeof(path), ZONES "%s", files[i]);
		diag_t *d = diag_new(), *e = diag_new();
		zone_t *z = NULL, *w = NULL;
		assert_int_equal(zone_load_services("example.test", path, &keep, &z, d), SOV_OK);
		assert_int_equal(build_file("example.test", path, &keep, &w, e), SOV_OK);
		assert_int_equal(z->record_count, w->record_count);
		uint8_t name[DNAME_MAXLEN];
		const char *occ = i == 0 ? "sub.example.test" : "www.sub.example.test";
		assert_true(dname_from_str(occ, name) > 0);
		const znode_t *n = zone_find(z, name);
		assert_non_null(n);
		assert_true(n->flags & ZNODE_OCCLUDED);
		zone_free(z);
		zone_free(w);
		diag_free(d);
		diag_free(e);
	}
	char path[512];
	snprintf(path, sizeof(path), ZONES "bad-dname.zone");
	diag_t *d = diag_new();
	zone_t *z = NULL;
	assert_int_not_equal(zone_load_services("example.test", path, &keep, &z, d), SOV_OK);
	assert_null(z);
	diag_free(d);
}

/* What a file cannot say and wire data can: refused all the same. */
static void test_refused_wire_only(void **state)
{
	(void)state;
	uint8_t apex[DNAME_MAXLEN], www[DNAME_MAXLEN];
	assert_true(dname_from_str("example.test", apex) > 0);
	assert_true(dname_from_str("www.example.test", www) > 0);
	zone_builder_t *b = NULL;
	assert_int_equal(zone_builder_new("example.test", "/k/example.test.zone", SOURCE, &b),
			 SOV_OK);
	const uint8_t addr[4] = {192, 0, 2, 1};
	const uint8_t bad_ns[3] = {5, 'a', 'b'}; /* a label running past the end */
	const uint8_t ptr_ns[2] = {0xc0, 0x0c};	 /* a compression pointer */
	const uint8_t bad_owner[2] = {0xc0, 0x0c};
	assert_int_equal(zone_builder_add(b, www, 1, 1, 0x80000000u, addr, 4), SOV_ESEMANTIC);
	assert_int_equal(zone_builder_add(b, www, 1, 1, 60, addr, 3), SOV_ESEMANTIC);
	assert_int_equal(zone_builder_add(b, apex, 1, 2, 60, bad_ns, 3), SOV_ESEMANTIC);
	assert_int_equal(zone_builder_add(b, apex, 1, 2, 60, ptr_ns, 2), SOV_ESEMANTIC);
	assert_int_equal(zone_builder_add(b, bad_owner, 1, 1, 60, addr, 4), SOV_ESEMANTIC);
	assert_int_equal(zone_builder_add(b, www, 1, 252 /* AXFR */, 60, NULL, 0), SOV_ESEMANTIC);
	assert_int_equal(zone_builder_add(b, www, 1, 1, 60, addr, 4), SOV_OK);
	assert_int_equal(zone_builder_errors(b), 6);
	diag_t *d = diag_new();
	zone_t *z = NULL;
	assert_int_equal(zone_builder_finish(b, NULL, &z, d), SOV_ESEMANTIC);
	assert_null(z);
	assert_string_equal(diag_get(d, 0),
			    SOURCE ", record 1: TTL 2147483648 of A at www.example.test. is above "
				   "2147483647, the largest RFC 2181 §8 allows");
	assert_string_equal(diag_get(d, 1),
			    SOURCE ", record 2: A at www.example.test.: malformed RDATA");
	assert_non_null(strstr(diag_get(d, 2), "record 3: NS at example.test.: malformed RDATA"));
	assert_non_null(strstr(diag_get(d, 3), "record 4: NS at example.test.: malformed RDATA"));
	assert_non_null(strstr(diag_get(d, 4), "record 5: malformed owner name"));
	assert_non_null(
	    strstr(diag_get(d, 5), "record 6: type TYPE252 at www.example.test. is a query"));
	/* Zone-wide rules name the source alone. */
	bool nosoa = false;
	for (size_t i = 0; i < diag_count(d); i++)
		nosoa |= strcmp(diag_get(d, i),
				SOURCE ": no SOA record at the zone apex example.test.") == 0;
	assert_true(nosoa);
	diag_free(d);

	/* Every type ldns knows is checked field by field, not only the ones
	 * the answer path reads: a CAA whose tag runs past the end, a TXT with
	 * no string or a string past the end, an MX, SRV or DS cut short. A
	 * type ldns does not know stays opaque (RFC 3597), even empty. */
	assert_int_equal(zone_builder_new("example.test", "/k", SOURCE, &b), SOV_OK);
	const uint8_t caa_bad[4] = {0, 0xed, 2, 1}, caa_ok[7] = {0, 5, 'i', 's', 's', 'u', 'e'};
	const uint8_t txt_bad[3] = {5, 'a', 'b'}, txt_ok[6] = {2, 'a', 'b', 2, 'c', 'd'};
	const uint8_t srv_short[5] = {0, 1, 0, 1, 0}, ds_short[3] = {1, 2, 13};
	const uint8_t opaque[3] = {1, 2, 3};
	assert_int_equal(zone_builder_add(b, www, 1, 257, 60, caa_bad, 4), SOV_ESEMANTIC);
	assert_int_equal(zone_builder_add(b, www, 1, 257, 60, caa_ok, 7), SOV_OK);
	assert_int_equal(zone_builder_add(b, www, 1, 16, 60, txt_bad, 3), SOV_ESEMANTIC);
	assert_int_equal(zone_builder_add(b, www, 1, 16, 60, NULL, 0), SOV_ESEMANTIC);
	assert_int_equal(zone_builder_add(b, www, 1, 16, 60, txt_ok, 6), SOV_OK);
	assert_int_equal(zone_builder_add(b, www, 1, 33, 60, srv_short, 5), SOV_ESEMANTIC);
	assert_int_equal(zone_builder_add(b, www, 1, 43, 60, ds_short, 3), SOV_ESEMANTIC);
	assert_int_equal(zone_builder_add(b, www, 1, 65280, 60, opaque, 3), SOV_OK);
	assert_int_equal(zone_builder_add(b, www, 1, 65281, 60, NULL, 0), SOV_OK);
	assert_int_equal(zone_builder_errors(b), 5);
	zone_builder_free(b);

	/* A builder given up on is freed without a result; a bad origin is refused. */
	assert_int_equal(zone_builder_new("example.test", "/k", SOURCE, &b), SOV_OK);
	assert_int_equal(zone_builder_add(b, www, 1, 1, 60, addr, 4), SOV_OK);
	zone_builder_free(b);
	assert_int_equal(zone_builder_new("bad..origin", "/k", SOURCE, &b), SOV_EINVAL);
	assert_null(b);
}

/* zone_print() writes what loads back into the same zone. */
static void test_print_round_trip(void **state)
{
	(void)state;
	const char *files[] = {"builder-mix.zone", "long-records.zone", "nottl.zone"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[512], tmp[] = "/tmp/test_zone_print.XXXXXX";
		snprintf(path, sizeof(path), ZONES "%s", files[i]);
		diag_t *d = diag_new();
		zone_t *a = NULL, *b = NULL;
		assert_int_equal(zone_load("example.test", path, &a, d), SOV_OK);
		int fd = mkstemp(tmp);
		assert_true(fd >= 0);
		FILE *f = fdopen(fd, "w");
		assert_non_null(f);
		uint64_t n = 0;
		assert_int_equal(zone_print(a, f, &n), SOV_OK);
		assert_int_equal(n, a->record_count);
		assert_int_equal(fclose(f), 0);
		int r = zone_load("example.test", tmp, &b, d);
		if (r != SOV_OK)
			diag_print(d, stderr);
		assert_int_equal(r, SOV_OK);
		free(b->path);
		b->path = strdup(a->path); /* the one field that differs */
		assert_same_zone(a, b);
		unlink(tmp);
		zone_free(a);
		zone_free(b);
		diag_free(d);
	}
	zone_t *e = zone_new_empty("example.test", "/k");
	uint64_t n = 1;
	assert_int_equal(zone_print(e, stdout, &n), SOV_EINVAL);
	assert_int_equal(n, 0);
	zone_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_as_file),
	    cmocka_unit_test(test_services_same_as_file),
	    cmocka_unit_test(test_refused_as_file),
	    cmocka_unit_test(test_occluded_kept_for_secondaries),
	    cmocka_unit_test(test_refused_wire_only),
	    cmocka_unit_test(test_print_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
