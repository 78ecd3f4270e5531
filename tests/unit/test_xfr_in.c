/* test_xfr_in.c — the reply forms and checks of an incoming transfer (dns/xfr_in.c):
 * messages built with ldns, the written file read back with zone_load(). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "common/diag.h"
#include "common/err.h"
#include "dns/xfr_in.h"
#include "dns/zone.h"
#include "wire/wire.h"

static const uint8_t origin[] = "\x07"
				"example\x04test";
static const uint8_t geo[] = "\x03"
			     "geo\x07"
			     "example\x04test";
static char dir[] = "/tmp/test_xfr_in.XXXXXX";
static char have_path[128], out_path[128];

#define SOA(s) "example.test. 300 IN SOA ns.example.test. h.example.test. " #s " 3600 600 86400 300"
#define NS "example.test. 300 IN NS ns.example.test."
#define NSA "ns.example.test. 300 IN A 192.0.2.1"
#define WWW2 "www.example.test. 300 IN A 192.0.2.2"
#define WWW3 "www.example.test. 600 IN A 192.0.2.3"

/* A reply with ID id and the given answer records (NULL-terminated). */
static uint8_t *reply(uint16_t id, ldns_rr_type qtype, uint8_t rcode, size_t *len, ...)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_pkt_set_id(p, id);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_aa(p, true);
	ldns_pkt_set_rcode(p, rcode);
	ldns_rr *q = ldns_rr_new();
	ldns_rr_set_owner(q, ldns_dname_new_frm_str("example.test."));
	ldns_rr_set_type(q, qtype);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_rr_set_question(q, true);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	va_list ap;
	va_start(ap, len);
	for (const char *t; (t = va_arg(ap, const char *)) != NULL;) {
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&rr, t, 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	va_end(ap);
	uint8_t *wire = NULL;
	assert_int_equal(ldns_pkt2wire(&wire, p, len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	return wire;
}

struct run {
	struct xfr_in *x;
	FILE *out;
};

static struct run start(uint16_t qtype, uint64_t max_records)
{
	struct run r;
	r.out = fopen(out_path, "w");
	assert_non_null(r.out);
	static const uint8_t *skip[] = {geo};
	struct xfr_in_params p = {.origin = origin,
				  .qtype = qtype,
				  .id = 0x1234,
				  .have_serial = 1,
				  .have_path = have_path,
				  .skip_names = skip,
				  .skip_count = 1,
				  .max_records = max_records,
				  .out = r.out};
	r.x = xfr_in_new(&p);
	assert_non_null(r.x);
	return r;
}

static enum xfr_in_status feed(struct run *r, uint8_t *wire, size_t len)
{
	enum xfr_in_status st = xfr_in_feed(r->x, wire, len);
	free(wire);
	return st;
}

static void finish(struct run *r)
{
	xfr_in_free(r->x);
	fclose(r->out);
}

/* The written file loads as a zone; returns it. */
static zone_t *load_out(void)
{
	zone_t *z = NULL;
	diag_t *d = diag_new();
	int rc = zone_load("example.test", out_path, &z, d);
	for (size_t i = 0; i < diag_count(d); i++)
		print_error("%s\n", diag_get(d, i));
	diag_free(d);
	assert_int_equal(rc, SOV_OK);
	return z;
}

static bool has_a(const zone_t *z, const char *name, const char *addr)
{
	uint8_t w[256];
	ldns_rdf *n = ldns_dname_new_frm_str(name);
	memcpy(w, ldns_rdf_data(n), ldns_rdf_size(n));
	ldns_rdf_deep_free(n);
	const znode_t *node = zone_find(z, w);
	const zrrset_t *rs = node ? znode_rrset(node, DNS_TYPE_A) : NULL;
	uint8_t want[4];
	inet_pton(AF_INET, addr, want);
	for (uint32_t i = 0, off = 0; rs && i < rs->count; i++) {
		uint16_t l = wire_read_u16(rs->rdata + off);
		if (l == 4 && memcmp(rs->rdata + off + 2, want, 4) == 0)
			return true;
		off += 2 + l;
	}
	return false;
}

static void test_axfr_two_messages(void **state)
{
	(void)state;
	struct run r = start(DNS_TYPE_AXFR, 0);
	size_t n;
	uint8_t *m = reply(0x1234, LDNS_RR_TYPE_AXFR, 0, &n, SOA(2), NS, NSA,
			   "geo.example.test. 60 IN A 192.0.2.9", NULL);
	assert_int_equal(feed(&r, m, n), XFR_IN_MORE);
	m = reply(0x1234, LDNS_RR_TYPE_AXFR, 0, &n, WWW2, SOA(2), NULL);
	assert_int_equal(feed(&r, m, n), XFR_IN_DONE);
	assert_int_equal(xfr_in_kind(r.x), XFR_IN_FULL);
	assert_int_equal(xfr_in_serial(r.x), 2);
	assert_int_equal(xfr_in_records(r.x), 4); /* SOA NS A A; the service's A left out */
	finish(&r);
	zone_t *z = load_out();
	assert_int_equal(z->serial, 2);
	assert_int_equal(z->record_count, 4);
	assert_true(has_a(z, "www.example.test.", "192.0.2.2"));
	assert_false(has_a(z, "geo.example.test.", "192.0.2.9"));
	zone_free(z);
}

/* Differences from serial 1 to 3 in two messages: 1 -> 2: www .2 deleted
 * (with another TTL than ours: records match without TTL), .3 added;
 * 2 -> 3: ns A re-added with a new TTL (delete + add). */
static void feed_1_to_3(struct run *r)
{
	size_t n;
	uint8_t *m = reply(0x1234, LDNS_RR_TYPE_IXFR, 0, &n, SOA(3), SOA(1),
			   "www.example.test. 999 IN A 192.0.2.2", SOA(2), WWW3, NULL);
	assert_int_equal(feed(r, m, n), XFR_IN_MORE);
	m = reply(0x1234, LDNS_RR_TYPE_IXFR, 0, &n, SOA(2), NSA, SOA(3),
		  "ns.example.test. 60 IN A 192.0.2.1", SOA(3), NULL);
	assert_int_equal(feed(r, m, n), XFR_IN_DONE);
	assert_int_equal(xfr_in_kind(r->x), XFR_IN_INCREMENTAL);
}

static void test_ixfr_incremental(void **state)
{
	(void)state;
	struct run r = start(DNS_TYPE_IXFR, 0);
	feed_1_to_3(&r);
	finish(&r);
	zone_t *z = load_out();
	assert_int_equal(z->serial, 3);
	assert_true(has_a(z, "www.example.test.", "192.0.2.3"));
	assert_false(has_a(z, "www.example.test.", "192.0.2.2"));
	assert_true(has_a(z, "ns.example.test.", "192.0.2.1"));
	assert_int_equal(z->record_count, 4);
	zone_free(z);
}

/* The same differences applied to the zone we serve, into a builder
 * (params.have_zone + build): the same zone as through the file. */
static void test_ixfr_incremental_into_builder(void **state)
{
	(void)state;
	zone_t *base = NULL;
	diag_t *d = diag_new();
	assert_int_equal(zone_load("example.test", have_path, &base, d), SOV_OK);
	zone_builder_t *b = NULL;
	assert_int_equal(zone_builder_new("example.test", out_path, "IXFR", &b), SOV_OK);
	static const uint8_t *skip[] = {geo};
	struct xfr_in_params p = {.origin = origin,
				  .qtype = DNS_TYPE_IXFR,
				  .id = 0x1234,
				  .have_serial = 1,
				  .skip_names = skip,
				  .skip_count = 1,
				  .build = b,
				  .have_zone = base};
	struct run r = {xfr_in_new(&p), NULL};
	size_t n;
	uint8_t *m;
	feed_1_to_3(&r);
	assert_int_equal(xfr_in_records(r.x), 4);
	xfr_in_free(r.x);
	zone_t *z = NULL;
	assert_int_equal(zone_builder_finish(b, NULL, &z, d), SOV_OK);
	assert_int_equal(z->serial, 3);
	assert_true(has_a(z, "www.example.test.", "192.0.2.3"));
	assert_false(has_a(z, "www.example.test.", "192.0.2.2"));
	assert_true(has_a(z, "ns.example.test.", "192.0.2.1"));
	assert_int_equal(z->record_count, 4);
	uint8_t ns[DNAME_MAXLEN];
	assert_true(dname_from_str("ns.example.test", ns) > 0);
	assert_int_equal(znode_rrset(zone_find(z, ns), DNS_TYPE_A)->ttl_s, 60);
	zone_free(z);

	/* A deletion of what we do not have, an addition of what we have: refused. */
	for (int k = 0; k < 2; k++) {
		assert_int_equal(zone_builder_new("example.test", out_path, "IXFR", &b), SOV_OK);
		p.build = b;
		r.x = xfr_in_new(&p);
		m = k == 0 ? reply(0x1234, LDNS_RR_TYPE_IXFR, 0, &n, SOA(2), SOA(1),
				   "nope.example.test. 300 IN A 192.0.2.7", SOA(2), SOA(2), NULL)
			   : reply(0x1234, LDNS_RR_TYPE_IXFR, 0, &n, SOA(2), SOA(1), SOA(2), NSA,
				   SOA(2), NULL);
		assert_int_equal(feed(&r, m, n), XFR_IN_FAILED);
		assert_non_null(strstr(xfr_in_error(r.x), k == 0
							      ? "deletes a record we do not have"
							      : "adds a record we already have"));
		xfr_in_free(r.x);
		zone_builder_free(b);
	}
	zone_free(base);
	diag_free(d);
}

static void test_ixfr_up_to_date_and_axfr_style(void **state)
{
	(void)state;
	struct run r = start(DNS_TYPE_IXFR, 0);
	size_t n;
	uint8_t *m = reply(0x1234, LDNS_RR_TYPE_IXFR, 0, &n, SOA(1), NULL);
	assert_int_equal(feed(&r, m, n), XFR_IN_DONE);
	assert_int_equal(xfr_in_kind(r.x), XFR_IN_UPTODATE);
	finish(&r);
	r = start(DNS_TYPE_IXFR, 0);
	m = reply(0x1234, LDNS_RR_TYPE_IXFR, 0, &n, SOA(5), NS, NSA, SOA(5), NULL);
	assert_int_equal(feed(&r, m, n), XFR_IN_DONE);
	assert_int_equal(xfr_in_kind(r.x), XFR_IN_FULL);
	finish(&r);
	zone_t *z = load_out();
	assert_int_equal(z->serial, 5);
	assert_int_equal(z->record_count, 3);
	zone_free(z);
}

/* Each reply fails, with a reason naming what was wrong. */
/* The same AXFR into a zone builder (params.build) and into a file read back
 * with zone_load(): the same zone. Names in RDATA arrive compressed. */
static void test_axfr_into_builder(void **state)
{
	(void)state;
	const char *recs[] = {
	    SOA(2),
	    NS,
	    NSA,
	    "example.test. 300 IN MX 10 Mail.example.test.",
	    "www.example.test. 300 IN CNAME ns.example.test.",
	    "t.example.test. 300 IN TXT \"a b\" \"c\"",
	    "_s._tcp.example.test. 300 IN SRV 0 1 80 ns.example.test.",
	    "sig.example.test. 300 IN NAPTR 1 1 \"S\" \"x\" \"\" ns.example.test.",
	    "p.example.test. 300 IN PTR ns.Example.test.",
	    "geo.example.test. 60 IN A 192.0.2.9",
	    "geo.example.test. 60 IN TXT \"kept\"",
	    SOA(2)};
	size_t n;
	zone_t *zf = NULL, *zb = NULL;
	for (int mode = 0; mode < 2; mode++) {
		struct run r = start(DNS_TYPE_AXFR, 0);
		zone_builder_t *b = NULL;
		if (mode == 1) {
			assert_int_equal(zone_builder_new("example.test", out_path, "AXFR", &b),
					 SOV_OK);
			struct xfr_in *x = r.x;
			xfr_in_free(x);
			static const uint8_t *skip[] = {geo};
			struct xfr_in_params p = {.origin = origin,
						  .qtype = DNS_TYPE_AXFR,
						  .id = 0x1234,
						  .skip_names = skip,
						  .skip_count = 1,
						  .build = b};
			r.x = xfr_in_new(&p);
		}
		uint8_t *m = reply(0x1234, LDNS_RR_TYPE_AXFR, 0, &n, recs[0], recs[1], recs[2],
				   recs[3], recs[4], recs[5], recs[6], recs[7], recs[8], recs[9],
				   recs[10], recs[11], NULL);
		assert_int_equal(feed(&r, m, n), XFR_IN_DONE);
		assert_int_equal(xfr_in_kind(r.x), XFR_IN_FULL);
		assert_int_equal(xfr_in_records(r.x), 10);
		finish(&r);
		if (mode == 0) {
			zf = load_out();
		} else {
			diag_t *d = diag_new();
			int rc = zone_builder_finish(b, NULL, &zb, d);
			for (size_t i = 0; i < diag_count(d); i++)
				print_error("%s\n", diag_get(d, i));
			diag_free(d);
			assert_int_equal(rc, SOV_OK);
		}
	}
	assert_int_equal(zf->record_count, zb->record_count);
	assert_int_equal(zf->node_count, zb->node_count);
	assert_int_equal(zf->serial, zb->serial);
	for (uint32_t i = 0; i < zf->node_count; i++) {
		const znode_t *a = &zf->nodes[i], *c = zone_find(zb, a->owner);
		assert_non_null(c);
		assert_int_equal(a->rrset_count, c->rrset_count);
		for (uint16_t k = 0; k < a->rrset_count; k++) {
			assert_int_equal(a->rrsets[k].type, c->rrsets[k].type);
			assert_int_equal(a->rrsets[k].ttl_s, c->rrsets[k].ttl_s);
			assert_int_equal(a->rrsets[k].rdata_len, c->rrsets[k].rdata_len);
			assert_memory_equal(a->rrsets[k].rdata, c->rrsets[k].rdata,
					    a->rrsets[k].rdata_len);
		}
	}
	assert_false(has_a(zb, "geo.example.test.", "192.0.2.9"));
	zone_free(zf);
	zone_free(zb);
}

static void test_bad_replies(void **state)
{
	(void)state;
	struct {
		uint16_t qtype, id;
		uint8_t rcode;
		const char *rr[6];
		const char *why;
	} cases[] = {
	    {DNS_TYPE_AXFR, 0x4321, 0, {SOA(2), NS, SOA(2)}, "ID"},
	    {DNS_TYPE_AXFR, 0x1234, 9, {NULL}, "NOTAUTH"},
	    {DNS_TYPE_AXFR, 0x1234, 0, {NS, SOA(2)}, "first record"},
	    {DNS_TYPE_AXFR,
	     0x1234,
	     0,
	     {SOA(2), "evil.other.test. 1 IN A 192.0.2.66", SOA(2)},
	     "outside the zone"},
	    {DNS_TYPE_AXFR, 0x1234, 0, {SOA(2), NS, SOA(3)}, "changed during"},
	    {DNS_TYPE_AXFR, 0x1234, 0, {SOA(2), NS, SOA(2), NSA}, "after the last SOA"},
	    {DNS_TYPE_AXFR, 0x1234, 0, {SOA(2), NS, NSA, WWW2, SOA(2)}, "more than 3 records"},
	    {DNS_TYPE_IXFR, 0x1234, 0, {SOA(2), SOA(1), WWW3, SOA(2), SOA(2)}, "do not have"},
	    {DNS_TYPE_IXFR, 0x1234, 0, {SOA(2), SOA(1), SOA(2), NSA, SOA(2)}, "already have"},
	    {DNS_TYPE_IXFR, 0x1234, 0, {SOA(2), SOA(1), SOA(1), SOA(2)}, "not forwards"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r = start(cases[i].qtype, 3);
		size_t n;
		const char *const *rr = cases[i].rr;
		uint8_t *m = reply(cases[i].id, (ldns_rr_type)cases[i].qtype, cases[i].rcode, &n,
				   rr[0], rr[1], rr[2], rr[3], rr[4], rr[5]);
		assert_int_equal(feed(&r, m, n), XFR_IN_FAILED);
		if (strstr(xfr_in_error(r.x), cases[i].why) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, xfr_in_error(r.x),
				 cases[i].why);
		if (cases[i].rcode)
			assert_int_equal(xfr_in_rcode(r.x), cases[i].rcode);
		/* Failed stays failed. */
		uint8_t junk[12] = {0};
		assert_int_equal(xfr_in_feed(r.x, junk, sizeof(junk)), XFR_IN_FAILED);
		finish(&r);
	}
	/* Not a DNS message at all. */
	struct run r = start(DNS_TYPE_AXFR, 0);
	uint8_t junk[5] = {0x12, 0x34, 0xff, 0xff, 0xff};
	assert_int_equal(xfr_in_feed(r.x, junk, sizeof(junk)), XFR_IN_FAILED);
	assert_non_null(strstr(xfr_in_error(r.x), "does not parse"));
	finish(&r);
}

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(have_path, sizeof(have_path), "%s/have.zone", dir);
	snprintf(out_path, sizeof(out_path), "%s/out.zone", dir);
	FILE *f = fopen(have_path, "w");
	if (f == NULL)
		return -1;
	fputs(SOA(1) "\n" NS "\n" NSA "\n" WWW2 "\n", f);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(have_path);
	unlink(out_path);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_axfr_two_messages),
	    cmocka_unit_test(test_ixfr_incremental),
	    cmocka_unit_test(test_ixfr_up_to_date_and_axfr_style),
	    cmocka_unit_test(test_axfr_into_builder),
	    cmocka_unit_test(test_ixfr_incremental_into_builder),
	    cmocka_unit_test(test_bad_replies),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
