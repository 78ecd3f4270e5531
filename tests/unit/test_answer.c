/* Unit tests of the answer path: query_process() against zones loaded from
 * tests/unit/answer/, queries built and replies parsed with ldns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "common/diag.h"
#include "dns/answer.h"
#include "wire/wire.h"

static snapshot_t *snap_parent; /* example.test only */
static snapshot_t *snap_both;	/* example.test + lab.example.test */

static snapshot_t *make_snapshot(int with_child)
{
	snapshot_t *s = calloc(1, sizeof(*s));
	diag_t *d = diag_new();
	zone_t *z = NULL;
	s->zones = zonedb_new();
	s->edns_payload = 1232;
	atomic_init(&s->refs, 1);
	assert_int_equal(
	    zone_load("example.test", SRCDIR "/tests/unit/answer/example.test.zone", &z, d), 0);
	assert_int_equal(zonedb_add(s->zones, z), 0);
	if (with_child) {
		assert_int_equal(zone_load("lab.example.test.",
					   SRCDIR "/tests/unit/answer/lab.example.test.zone", &z,
					   d),
				 0);
		assert_int_equal(zonedb_add(s->zones, z), 0);
	}
	assert_int_equal(zonedb_finish(s->zones), 0);
	diag_print(d, stderr);
	diag_free(d);
	return s;
}

static int setup(void **state)
{
	(void)state;
	snap_parent = make_snapshot(0);
	snap_both = make_snapshot(1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	zonedb_free(snap_parent->zones);
	zonedb_free(snap_both->zones);
	free(snap_parent);
	free(snap_both);
	return 0;
}

struct q_opts {
	int edns; /* 0 = no OPT */
	uint16_t udp_size;
	int do_bit;
	int version;
	int rd;
	enum dns_transport tr;
	int opcode;
	const char *edns_hex; /* the OPT's options, hex (NULL: none) */
};

static size_t build_query(const char *name, ldns_rr_type type, const struct q_opts *o, uint8_t *out)
{
	ldns_rdf *qn = NULL;
	assert_int_equal(ldns_str2rdf_dname(&qn, name), LDNS_STATUS_OK);
	ldns_pkt *p = ldns_pkt_query_new(qn, type, LDNS_RR_CLASS_IN, o && o->rd ? LDNS_RD : 0);
	ldns_pkt_set_id(p, 0x1234);
	if (o && o->opcode)
		ldns_pkt_set_opcode(p, (ldns_pkt_opcode)o->opcode);
	if (o && o->edns) {
		ldns_pkt_set_edns_udp_size(p, o->udp_size);
		ldns_pkt_set_edns_do(p, o->do_bit);
		ldns_pkt_set_edns_version(p, (uint8_t)o->version);
		ldns_pkt_set_edns_data(
		    p, ldns_rdf_new_frm_str(LDNS_RDF_TYPE_HEX, o->edns_hex ? o->edns_hex : ""));
	}
	uint8_t *wire = NULL;
	size_t len = 0;
	assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	memcpy(out, wire, len);
	free(wire);
	ldns_pkt_free(p);
	return len;
}

/* Sends `name type` to the snapshot and returns the parsed reply (caller frees). */
static ldns_pkt *ask(snapshot_t *s, const char *name, ldns_rr_type type, const struct q_opts *o,
		     uint8_t *raw, size_t *rawlen)
{
	static uint8_t q[512];
	static uint8_t rbuf[DNS_REPLY_MAX];
	struct query_ctx ctx;
	memset(&ctx, 0, sizeof(ctx));
	size_t qlen = build_query(name, type, o, q);
	size_t n = query_process(&ctx, s, NULL, o ? o->tr : DNS_UDP, q, qlen, rbuf, sizeof(rbuf));
	assert_true(n >= 12);
	if (raw) {
		memcpy(raw, rbuf, n);
		*rawlen = n;
	}
	ldns_pkt *r = NULL;
	assert_int_equal(ldns_wire2pkt(&r, rbuf, n), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(r), 0x1234);
	assert_true(ldns_pkt_qr(r));
	assert_false(ldns_pkt_ra(r));
	return r;
}

static ldns_rr *rr_at(ldns_rr_list *l, size_t i)
{
	assert_true(i < ldns_rr_list_rr_count(l));
	return ldns_rr_list_rr(l, i);
}

static void assert_owner(ldns_rr *rr, const char *name)
{
	ldns_rdf *want = ldns_dname_new_frm_str(name);
	assert_int_equal(ldns_dname_compare(ldns_rr_owner(rr), want), 0);
	ldns_rdf_deep_free(want);
}

static void test_exact_a(void **state)
{
	(void)state;
	ldns_pkt *r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 1);
	ldns_rr *rr = rr_at(ldns_pkt_answer(r), 0);
	assert_int_equal(ldns_rr_get_type(rr), LDNS_RR_TYPE_A);
	assert_int_equal(ldns_rr_ttl(rr), 300);
	assert_owner(rr, "www.example.test.");
	assert_int_equal(ldns_pkt_nscount(r), 0);
	ldns_pkt_free(r);
}

static void test_case_echo_and_rd(void **state)
{
	(void)state;
	uint8_t raw[DNS_REPLY_MAX];
	size_t len = 0;
	struct q_opts o = {.rd = 1};
	ldns_pkt *r = ask(snap_parent, "WwW.ExAmPlE.tEsT.", LDNS_RR_TYPE_A, &o, raw, &len);
	assert_true(ldns_pkt_rd(r));
	assert_memory_equal(raw + 12, "\3WwW\7ExAmPlE\4tEsT", 18);
	assert_int_equal(ldns_pkt_ancount(r), 1);
	ldns_pkt_free(r);
}

static void test_nxdomain_soa_ttl(void **state)
{
	(void)state;
	ldns_pkt *r = ask(snap_parent, "nope.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_int_equal(ldns_pkt_nscount(r), 1);
	ldns_rr *soa = rr_at(ldns_pkt_authority(r), 0);
	assert_int_equal(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
	assert_int_equal(ldns_rr_ttl(soa), 300); /* min(3600, minimum 300) */
	assert_owner(soa, "example.test.");
	ldns_pkt_free(r);
}

static void test_nodata(void **state)
{
	(void)state;
	ldns_pkt *r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_TXT, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_int_equal(ldns_pkt_nscount(r), 1);
	ldns_pkt_free(r);
}

static void test_empty_non_terminal(void **state)
{
	(void)state;
	ldns_pkt *r = ask(snap_parent, "ent.sub.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 0);
	ldns_pkt_free(r);
	r = ask(snap_parent, "x.ent.sub.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(r);
	/* "apps" exists only as the parent of the wildcard: NODATA. */
	r = ask(snap_parent, "apps.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 0);
	ldns_pkt_free(r);
}

static void test_cname_chain(void **state)
{
	(void)state;
	ldns_pkt *r = ask(snap_parent, "alias2.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 3);
	assert_owner(rr_at(ldns_pkt_answer(r), 0), "alias2.example.test.");
	assert_owner(rr_at(ldns_pkt_answer(r), 1), "blog.example.test.");
	assert_owner(rr_at(ldns_pkt_answer(r), 2), "www.example.test.");
	assert_int_equal(ldns_rr_get_type(rr_at(ldns_pkt_answer(r), 2)), LDNS_RR_TYPE_A);
	ldns_pkt_free(r);
	/* qtype CNAME: no chase */
	r = ask(snap_parent, "alias2.example.test.", LDNS_RR_TYPE_CNAME, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_ancount(r), 1);
	ldns_pkt_free(r);
}

static void test_cname_loops(void **state)
{
	(void)state;
	ldns_pkt *r = ask(snap_parent, "loop1.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 2);
	ldns_pkt_free(r);
	r = ask(snap_parent, "self.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_ancount(r), 1);
	ldns_pkt_free(r);
}

static void test_cname_out_of_zone_and_dangling(void **state)
{
	(void)state;
	ldns_pkt *r = ask(snap_parent, "ext.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 1);
	assert_int_equal(ldns_pkt_nscount(r), 0);
	ldns_pkt_free(r);
	r = ask(snap_parent, "dangling.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_ancount(r), 1);
	assert_int_equal(ldns_pkt_nscount(r), 1);
	ldns_pkt_free(r);
}

static void test_wildcard(void **state)
{
	(void)state;
	ldns_pkt *r = ask(snap_parent, "Foo.apps.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 1);
	assert_owner(rr_at(ldns_pkt_answer(r), 0), "foo.apps.example.test.");
	ldns_pkt_free(r);
	r = ask(snap_parent, "a.b.apps.example.test.", LDNS_RR_TYPE_TXT, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_ancount(r), 1);
	ldns_pkt_free(r);
	r = ask(snap_parent, "x.apps.example.test.", LDNS_RR_TYPE_MX, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_int_equal(ldns_pkt_nscount(r), 1);
	ldns_pkt_free(r);
	/* wildcard CNAME is chased */
	r = ask(snap_parent, "q.w2.example.test.", LDNS_RR_TYPE_AAAA, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_ancount(r), 2);
	assert_owner(rr_at(ldns_pkt_answer(r), 0), "q.w2.example.test.");
	ldns_pkt_free(r);
}

static void test_referral(void **state)
{
	(void)state;
	ldns_pkt *r = ask(snap_parent, "host.lab.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_false(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_int_equal(ldns_pkt_nscount(r), 1);
	assert_int_equal(ldns_rr_get_type(rr_at(ldns_pkt_authority(r), 0)), LDNS_RR_TYPE_NS);
	assert_owner(rr_at(ldns_pkt_authority(r), 0), "lab.example.test.");
	assert_int_equal(ldns_pkt_arcount(r), 1);
	assert_owner(rr_at(ldns_pkt_additional(r), 0), "ns1.lab.example.test.");
	ldns_pkt_free(r);
	/* NS at the cut and glue itself are referrals too */
	r = ask(snap_parent, "lab.example.test.", LDNS_RR_TYPE_NS, NULL, NULL, NULL);
	assert_false(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 0);
	ldns_pkt_free(r);
	r = ask(snap_parent, "ns1.lab.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_false(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 0);
	ldns_pkt_free(r);
	/* out-of-bailiwick NS: no glue */
	r = ask(snap_parent, "x.other.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_nscount(r), 1);
	assert_int_equal(ldns_pkt_arcount(r), 0);
	ldns_pkt_free(r);
	/* A cut whose NS is the cut itself: its A and AAAA are the glue
	 * (RFC 9471 §2.1), below it and at it (the A query is a referral too). */
	static const char *const below_and_at[] = {"www.selfns.example.test.",
						   "selfns.example.test."};
	for (size_t i = 0; i < 2; i++) {
		r = ask(snap_parent, below_and_at[i], LDNS_RR_TYPE_A, NULL, NULL, NULL);
		assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
		assert_false(ldns_pkt_aa(r));
		assert_int_equal(ldns_pkt_ancount(r), 0);
		assert_int_equal(ldns_pkt_nscount(r), 2);
		assert_owner(rr_at(ldns_pkt_authority(r), 0), "selfns.example.test.");
		assert_int_equal(ldns_pkt_arcount(r), 2);
		assert_owner(rr_at(ldns_pkt_additional(r), 0), "selfns.example.test.");
		assert_int_equal(ldns_rr_get_type(rr_at(ldns_pkt_additional(r), 0)),
				 LDNS_RR_TYPE_A);
		assert_int_equal(ldns_rr_get_type(rr_at(ldns_pkt_additional(r), 1)),
				 LDNS_RR_TYPE_AAAA);
		ldns_pkt_free(r);
	}
}

static void test_ds_parent_side(void **state)
{
	(void)state;
	snapshot_t *snaps[2] = {snap_parent, snap_both};
	for (int i = 0; i < 2; i++) {
		ldns_pkt *r = ask(snaps[i], "lab.example.test.", LDNS_RR_TYPE_DS, NULL, NULL, NULL);
		assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
		assert_true(ldns_pkt_aa(r));
		assert_int_equal(ldns_pkt_ancount(r), 1);
		assert_int_equal(ldns_rr_get_type(rr_at(ldns_pkt_answer(r), 0)), LDNS_RR_TYPE_DS);
		ldns_pkt_free(r);
	}
	/* child zone served: its data is authoritative */
	ldns_pkt *r = ask(snap_both, "box.lab.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 1);
	ldns_pkt_free(r);
	r = ask(snap_both, "lab.example.test.", LDNS_RR_TYPE_NS, NULL, NULL, NULL);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 1);
	ldns_pkt_free(r);
}

static void test_refused_outside(void **state)
{
	(void)state;
	ldns_pkt *r = ask(snap_parent, "www.elsewhere.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	assert_false(ldns_pkt_aa(r));
	ldns_pkt_free(r);
	r = ask(snap_parent, "test.", LDNS_RR_TYPE_SOA, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	ldns_pkt_free(r);
	/* The root: a one-byte qname (found by fuzz_query: the compression
	 * table setup read past it). */
	r = ask(snap_parent, ".", LDNS_RR_TYPE_NS, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	ldns_pkt_free(r);
}

/* A secondary zone without data (not transferred yet, or expired) answers
 * SERVFAIL; a snapshot respun with it shares the other zones, which go on
 * answering; respinning the data back restores the answers. */
static void test_zone_without_data_servfail(void **state)
{
	(void)state;
	snapshot_t *s = NULL;
	zone_t *empty = zone_new_empty("lab.example.test.", "/nonexistent/lab.zone");
	assert_non_null(empty);
	assert_false(zone_has_data(empty));
	assert_int_equal(snapshot_respin(snap_both, 1, empty, &s), 0);
	assert_ptr_equal(s->owner, snap_both);
	assert_ptr_equal(zonedb_get(s->zones, 0), zonedb_get(snap_both->zones, 0));
	ldns_pkt *r = ask(s, "box.lab.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_SERVFAIL);
	assert_false(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 0);
	ldns_pkt_free(r);
	r = ask(s, "lab.example.test.", LDNS_RR_TYPE_SOA, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(r);
	r = ask(s, "www.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 1);
	ldns_pkt_free(r);

	snapshot_t *back = NULL;
	assert_int_equal(snapshot_respin(s, 1, zone_ref(zonedb_get(snap_both->zones, 1)), &back),
			 0);
	assert_ptr_equal(back->owner, snap_both); /* the owner, not the respun one */
	r = ask(back, "box.lab.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	ldns_pkt_free(r);
	assert_int_equal(atomic_load(&snap_both->refs), 3);
	snapshot_unref(back);
	snapshot_unref(s);
	assert_int_equal(atomic_load(&snap_both->refs), 1);
}

static void test_additional(void **state)
{
	(void)state;
	ldns_pkt *r = ask(snap_parent, "example.test.", LDNS_RR_TYPE_MX, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_ancount(r), 1);
	assert_int_equal(ldns_pkt_arcount(r), 1);
	assert_owner(rr_at(ldns_pkt_additional(r), 0), "mail.example.test.");
	ldns_pkt_free(r);
	r = ask(snap_parent, "_sip._tcp.example.test.", LDNS_RR_TYPE_SRV, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_arcount(r), 2); /* www A + AAAA */
	ldns_pkt_free(r);
	r = ask(snap_parent, "example.test.", LDNS_RR_TYPE_NS, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_ancount(r), 2);
	assert_int_equal(ldns_pkt_arcount(r), 3); /* ns1 A, ns2 A + AAAA */
	ldns_pkt_free(r);
}

static void test_any_minimal(void **state)
{
	(void)state;
	ldns_pkt *r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_ANY, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_ancount(r), 1);
	ldns_pkt_free(r);
	struct q_opts o = {.tr = DNS_TCP};
	r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_ANY, &o, NULL, NULL);
	assert_int_equal(ldns_pkt_ancount(r), 2);
	ldns_pkt_free(r);
}

static void test_truncation(void **state)
{
	(void)state;
	ldns_pkt *r = ask(snap_parent, "big.example.test.", LDNS_RR_TYPE_TXT, NULL, NULL, NULL);
	assert_true(ldns_pkt_tc(r));
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_int_equal(ldns_pkt_qdcount(r), 1);
	ldns_pkt_free(r);
	struct q_opts o = {.edns = 1, .udp_size = 4096};
	r = ask(snap_parent, "big.example.test.", LDNS_RR_TYPE_TXT, &o, NULL, NULL);
	assert_false(ldns_pkt_tc(r));
	assert_int_equal(ldns_pkt_ancount(r), 6);
	ldns_pkt_free(r);
	struct q_opts t = {.tr = DNS_TCP};
	r = ask(snap_parent, "big.example.test.", LDNS_RR_TYPE_TXT, &t, NULL, NULL);
	assert_false(ldns_pkt_tc(r));
	assert_int_equal(ldns_pkt_ancount(r), 6);
	ldns_pkt_free(r);
}

static void test_edns(void **state)
{
	(void)state;
	struct q_opts o = {.edns = 1, .udp_size = 4096, .do_bit = 1};
	ldns_pkt *r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_A, &o, NULL, NULL);
	assert_true(ldns_pkt_edns(r));
	assert_int_equal(ldns_pkt_edns_udp_size(r), 1232);
	assert_true(ldns_pkt_edns_do(r));
	assert_int_equal(ldns_pkt_edns_version(r), 0);
	ldns_pkt_free(r);
	struct q_opts v1 = {.edns = 1, .udp_size = 1232, .version = 1};
	r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_A, &v1, NULL, NULL);
	assert_true(ldns_pkt_edns(r));
	assert_int_equal(ldns_pkt_edns_extended_rcode(r), 1); /* BADVERS = 16 */
	assert_int_equal(ldns_pkt_ancount(r), 0);
	ldns_pkt_free(r);
	/* RFC 6891 §6.1.3: the options of a version we do not implement (here
	 * ECS 192.0.2.0/24 and a client cookie) are not processed: the BADVERS
	 * reply carries only our OPT, with no option. Version 0: both echoed. */
	static const char ecs_cookie[] = "0008000700011800c00002"
					 "000a00080102030405060708";
	v1.edns_hex = ecs_cookie;
	r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_A, &v1, NULL, NULL);
	assert_int_equal(ldns_pkt_edns_extended_rcode(r), 1);
	assert_true(ldns_pkt_edns_data(r) == NULL || ldns_rdf_size(ldns_pkt_edns_data(r)) == 0);
	ldns_pkt_free(r);
	struct q_opts v0 = {.edns = 1, .udp_size = 1232, .edns_hex = ecs_cookie};
	r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_A, &v0, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_rdf_size(ldns_pkt_edns_data(r)), 11 + 4 + 8 + 16);
	ldns_pkt_free(r);
	r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_false(ldns_pkt_edns(r));
	ldns_pkt_free(r);
}

static void test_opcodes_and_meta(void **state)
{
	(void)state;
	/* NOTIFY of a zone we are primary of: REFUSED; of a name that is not
	 * a zone's apex: NOTAUTH (RFC 1996; dns/answer_notify.c). UPDATE:
	 * NOTIMP. */
	struct q_opts o = {.opcode = LDNS_PACKET_NOTIFY};
	ldns_pkt *r = ask(snap_parent, "example.test.", LDNS_RR_TYPE_SOA, &o, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	ldns_pkt_free(r);
	r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_SOA, &o, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOTAUTH);
	ldns_pkt_free(r);
	o.opcode = LDNS_PACKET_UPDATE;
	r = ask(snap_parent, "example.test.", LDNS_RR_TYPE_SOA, &o, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOTIMPL);
	ldns_pkt_free(r);
	/* AXFR over UDP: NOTIMP (RFC 5936 §4.2 leaves it undefined; Knot, NSD). */
	r = ask(snap_parent, "example.test.", LDNS_RR_TYPE_AXFR, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOTIMPL);
	ldns_pkt_free(r);
	/* Over TCP: a zone with no "transfer" allows nobody (REFUSED); a name
	 * that is not an apex is no zone we are authoritative for (NOTAUTH). */
	struct q_opts tcp = {.tr = DNS_TCP};
	r = ask(snap_parent, "example.test.", LDNS_RR_TYPE_AXFR, &tcp, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	ldns_pkt_free(r);
	r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_AXFR, &tcp, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOTAUTH);
	ldns_pkt_free(r);
}

/* The opcode is decided before the question (RFC 8906's unknown-opcode
 * test, `dig +noedns +norec +header-only +opcode=15`): a header-only query
 * of an opcode we do not implement is NOTIMP, not FORMERR; one of QUERY or
 * NOTIFY without a question stays FORMERR. Opcode and ID are copied. */
static void test_header_only_opcodes(void **state)
{
	(void)state;
	struct query_ctx ctx;
	memset(&ctx, 0, sizeof(ctx));
	uint8_t rbuf[DNS_REPLY_MAX];
	for (unsigned op = 0; op < 16; op++) {
		uint8_t q[DNS_HEADER_LEN] = {0x12, 0x34, (uint8_t)(op << 3), 0};
		size_t n = query_process(&ctx, snap_parent, NULL, DNS_UDP, q, sizeof(q), rbuf,
					 sizeof(rbuf));
		assert_int_equal(n, DNS_HEADER_LEN);
		unsigned want = (op == 0 || op == 4) ? DNS_RCODE_FORMERR : DNS_RCODE_NOTIMP;
		assert_int_equal(rbuf[3] & 0xF, want);
		assert_int_equal((rbuf[2] >> 3) & 0xF, op);
		assert_true(rbuf[2] & 0x80); /* QR */
		assert_int_equal(wire_read_u16(rbuf), 0x1234);
		assert_int_equal(wire_read_u16(rbuf + 4), 0); /* QDCOUNT */
	}
	/* An unknown opcode with bytes after its question: still NOTIMP. */
	uint8_t q[512];
	size_t qlen = build_query("www.example.test.", LDNS_RR_TYPE_A, NULL, q);
	q[2] = (uint8_t)(15 << 3);
	q[qlen++] = 0;
	size_t n = query_process(&ctx, snap_parent, NULL, DNS_UDP, q, qlen, rbuf, sizeof(rbuf));
	assert_true(n >= DNS_HEADER_LEN);
	assert_int_equal(rbuf[3] & 0xF, DNS_RCODE_NOTIMP);
}

/* "owner TYPE, owner TYPE" of a reply section (lowercase owners), for
 * comparing whole sections. */
static const char *section_str(ldns_rr_list *l)
{
	static char buf[2048];
	size_t n = 0;
	buf[0] = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);
		char *o = ldns_rdf2str(ldns_rr_owner(rr));
		char *t = ldns_rr_type2str(ldns_rr_get_type(rr));
		for (char *c = o; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s %s", i ? ", " : "", o, t);
		free(o);
		free(t);
	}
	return buf;
}

/* RFC 9460 §4.1: the addresses of an SVCB/HTTPS answer's in-zone targets
 * (the owner's for ServiceMode "."), and an AliasMode chain (the target's
 * RRset, then its targets) in additional; nothing with minimal_responses. */
static void test_svcb_additional(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		ldns_rr_type type;
		const char *additional;
	} cases[] = {
	    {"svc.example.test.", LDNS_RR_TYPE_HTTPS,
	     "svc.example.test. A, svc.example.test. AAAA"},
	    {"_dns.example.test.", LDNS_RR_TYPE_SVCB,
	     "ns2.example.test. A, ns2.example.test. AAAA"},
	    {"alias.example.test.", LDNS_RR_TYPE_HTTPS,
	     "pool.example.test. HTTPS, pool.example.test. HTTPS, www.example.test. A, "
	     "www.example.test. AAAA, mail.example.test. A"},
	    /* a loop ends: aloop2's RRset once, aloop's (the answer) not again */
	    {"ALOOP.example.test.", LDNS_RR_TYPE_HTTPS, "aloop2.example.test. HTTPS"},
	    /* AliasMode to ".": no service, nothing to add */
	    {"nosvc.example.test.", LDNS_RR_TYPE_HTTPS, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ldns_pkt *r = ask(snap_parent, cases[i].name, cases[i].type, NULL, NULL, NULL);
		assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
		assert_true(ldns_pkt_ancount(r) >= 1);
		assert_string_equal(section_str(ldns_pkt_additional(r)), cases[i].additional);
		ldns_pkt_free(r);
		snap_parent->minimal_responses = true;
		r = ask(snap_parent, cases[i].name, cases[i].type, NULL, NULL, NULL);
		assert_int_equal(ldns_pkt_arcount(r), 0);
		ldns_pkt_free(r);
		snap_parent->minimal_responses = false;
	}
}

/* The presentation form of record i of section l's first RDATA field. */
static char *rdf0(ldns_rr_list *l, size_t i)
{
	return ldns_rdf2str(ldns_rr_rdf(rr_at(l, i), 0));
}

/* DNAME (RFC 6672): below its owner, the DNAME and a synthesised CNAME
 * (the DNAME's TTL) then the data at the new name in the zone; the owner
 * itself is not redirected; a target outside the zone ends the answer; a
 * substitution over 255 bytes is YXDOMAIN with the DNAME. */
static void test_dname(void **state)
{
	(void)state;
	ldns_pkt *r = ask(snap_parent, "X.Old.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(r));
	assert_string_equal(section_str(ldns_pkt_answer(r)),
			    "old.example.test. DNAME, x.old.example.test. CNAME, "
			    "x.new.example.test. A");
	char *t = rdf0(ldns_pkt_answer(r), 1);
	assert_string_equal(t, "X.new.example.test."); /* the client's case kept */
	free(t);
	assert_int_equal(ldns_rr_ttl(rr_at(ldns_pkt_answer(r), 1)), 600);
	ldns_pkt_free(r);
	/* The substituted name does not exist: NXDOMAIN after the CNAME (RFC
	 * 6604 §2.1), and NODATA for a type it lacks. */
	r = ask(snap_parent, "y.old.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_ancount(r), 2);
	ldns_pkt_free(r);
	r = ask(snap_parent, "x.old.example.test.", LDNS_RR_TYPE_MX, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 2);
	assert_int_equal(ldns_pkt_nscount(r), 1);
	ldns_pkt_free(r);
	/* A CNAME query: the synthesised CNAME is the answer. */
	r = ask(snap_parent, "x.old.example.test.", LDNS_RR_TYPE_CNAME, NULL, NULL, NULL);
	assert_string_equal(section_str(ldns_pkt_answer(r)),
			    "old.example.test. DNAME, x.old.example.test. CNAME");
	ldns_pkt_free(r);
	/* The owner: its own data, and the DNAME for a DNAME query. */
	r = ask(snap_parent, "old.example.test.", LDNS_RR_TYPE_TXT, NULL, NULL, NULL);
	assert_string_equal(section_str(ldns_pkt_answer(r)), "old.example.test. TXT");
	ldns_pkt_free(r);
	r = ask(snap_parent, "old.example.test.", LDNS_RR_TYPE_DNAME, NULL, NULL, NULL);
	assert_string_equal(section_str(ldns_pkt_answer(r)), "old.example.test. DNAME");
	ldns_pkt_free(r);
	/* Out of the zone: DNAME and CNAME, the resolver goes on. */
	r = ask(snap_parent, "a.b.ext2.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_string_equal(section_str(ldns_pkt_answer(r)),
			    "ext2.example.test. DNAME, a.b.ext2.example.test. CNAME");
	t = rdf0(ldns_pkt_answer(r), 1);
	assert_string_equal(t, "a.b.elsewhere.test.");
	free(t);
	ldns_pkt_free(r);
	/* Too long: YXDOMAIN, the DNAME alone (RFC 6672 §2.2); a short prefix
	 * fits. */
	char q[300];
	snprintf(q, sizeof(q), "%.60s.long.example.test.",
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	r = ask(snap_parent, q, LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_YXDOMAIN);
	assert_true(ldns_pkt_aa(r));
	assert_string_equal(section_str(ldns_pkt_answer(r)), "long.example.test. DNAME");
	ldns_pkt_free(r);
	r = ask(snap_parent, "b.long.example.test.", LDNS_RR_TYPE_A, NULL, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 2);
	ldns_pkt_free(r);
}

/* Sets the identity of snapshot s (NULL name: all off, as make_snapshot). */
static void set_identity(snapshot_t *s, const char *name, bool nsid, uint8_t chaos)
{
	s->identity = name;
	s->identity_len = name ? (uint8_t)strlen(name) : 0;
	s->version = name ? "sovdns 9.9-test" : NULL;
	s->version_len = name ? (uint8_t)strlen(s->version) : 0;
	s->nsid = nsid;
	s->chaos = chaos;
}

/* The NSID option of reply r (its data into out, length returned), or -1. */
static int reply_nsid(ldns_pkt *r, char *out, size_t cap)
{
	ldns_rdf *d = ldns_pkt_edns_data(r);
	if (d == NULL)
		return -1;
	const uint8_t *p = ldns_rdf_data(d);
	size_t n = ldns_rdf_size(d);
	for (size_t i = 0; i + 4 <= n;) {
		uint16_t code = (uint16_t)(p[i] << 8 | p[i + 1]);
		size_t len = (size_t)(p[i + 2] << 8 | p[i + 3]);
		if (code == 3) {
			assert_true(len < cap);
			memcpy(out, p + i + 4, len);
			out[len] = 0;
			return (int)len;
		}
		i += 4 + len;
	}
	return -1;
}

/* RFC 5001: an NSID request gets our identity when nsid is on, nothing when
 * it is off or not asked; never in a BADVERS reply. */
static void test_nsid(void **state)
{
	(void)state;
	char got[256];
	set_identity(snap_parent, "ns1.unit.example", true, 0);
	struct q_opts o = {.edns = 1, .udp_size = 1232, .edns_hex = "00030000"};
	ldns_pkt *r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_A, &o, NULL, NULL);
	assert_int_equal(ldns_pkt_ancount(r), 1);
	assert_int_equal(reply_nsid(r, got, sizeof(got)), 16);
	assert_string_equal(got, "ns1.unit.example");
	ldns_pkt_free(r);
	/* Also on negative answers, REFUSED, and beside ECS and a cookie. */
	o.edns_hex = "0008000700011800c00002"
		     "000a00080102030405060708"
		     "00030000";
	r = ask(snap_parent, "www.example.org.", LDNS_RR_TYPE_A, &o, NULL, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	assert_int_equal(reply_nsid(r, got, sizeof(got)), 16);
	assert_int_equal(ldns_rdf_size(ldns_pkt_edns_data(r)), 11 + 4 + 8 + 16 + 4 + 16);
	ldns_pkt_free(r);
	/* Not asked: not sent. */
	o.edns_hex = NULL;
	r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_A, &o, NULL, NULL);
	assert_int_equal(reply_nsid(r, got, sizeof(got)), -1);
	ldns_pkt_free(r);
	/* BADVERS: the options of version 1 are not read. */
	o.edns_hex = "00030000";
	o.version = 1;
	r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_A, &o, NULL, NULL);
	assert_int_equal(reply_nsid(r, got, sizeof(got)), -1);
	ldns_pkt_free(r);
	/* Turned off. */
	o.version = 0;
	set_identity(snap_parent, "ns1.unit.example", false, 0);
	r = ask(snap_parent, "www.example.test.", LDNS_RR_TYPE_A, &o, NULL, NULL);
	assert_int_equal(reply_nsid(r, got, sizeof(got)), -1);
	ldns_pkt_free(r);
	set_identity(snap_parent, NULL, false, 0);
}

/* Asks `name` class CH type `type` of snap_parent. */
static ldns_pkt *ask_chaos(const char *name, ldns_rr_type type)
{
	static uint8_t q[512], rbuf[4096];
	struct query_ctx ctx;
	memset(&ctx, 0, sizeof(ctx));
	size_t qlen = build_query(name, type, NULL, q);
	q[qlen - 1] = LDNS_RR_CLASS_CH; /* QCLASS, the last two bytes */
	size_t n = query_process(&ctx, snap_parent, NULL, DNS_UDP, q, qlen, rbuf, sizeof(rbuf));
	ldns_pkt *r = NULL;
	assert_int_equal(ldns_wire2pkt(&r, rbuf, n), LDNS_STATUS_OK);
	return r;
}

/* The CH TXT names: id.server and hostname.bind give the identity,
 * version.bind the version, each only when on; other CH names REFUSED. */
static void test_chaos_txt(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		uint8_t bit;
		const char *want;
	} cases[] = {{"id.server.", 1, "\"ns1.unit.example\""},
		     {"HOSTNAME.bind.", 2, "\"ns1.unit.example\""},
		     {"version.BIND.", 4, "\"sovdns 9.9-test\""}};
	for (size_t i = 0; i < 3; i++) {
		set_identity(snap_parent, "ns1.unit.example", false, 7);
		ldns_pkt *r = ask_chaos(cases[i].name, LDNS_RR_TYPE_TXT);
		assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
		assert_true(ldns_pkt_aa(r));
		assert_int_equal(ldns_pkt_ancount(r), 1);
		ldns_rr *rr = rr_at(ldns_pkt_answer(r), 0);
		assert_int_equal(ldns_rr_get_class(rr), LDNS_RR_CLASS_CH);
		assert_int_equal(ldns_rr_get_type(rr), LDNS_RR_TYPE_TXT);
		assert_int_equal(ldns_rr_ttl(rr), 0);
		char *t = ldns_rdf2str(ldns_rr_rdf(rr, 0));
		assert_string_equal(t, cases[i].want);
		free(t);
		ldns_pkt_free(r);
		/* Another type at the name: NOERROR, empty. */
		r = ask_chaos(cases[i].name, LDNS_RR_TYPE_A);
		assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
		assert_int_equal(ldns_pkt_ancount(r), 0);
		ldns_pkt_free(r);
		/* Each turned off alone: REFUSED for it, the others still answer. */
		set_identity(snap_parent, "ns1.unit.example", false, (uint8_t)(7 & ~cases[i].bit));
		r = ask_chaos(cases[i].name, LDNS_RR_TYPE_TXT);
		assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
		ldns_pkt_free(r);
		r = ask_chaos(cases[(i + 1) % 3].name, LDNS_RR_TYPE_TXT);
		assert_int_equal(ldns_pkt_ancount(r), 1);
		ldns_pkt_free(r);
	}
	set_identity(snap_parent, "ns1.unit.example", false, 7);
	ldns_pkt *r = ask_chaos("authors.bind.", LDNS_RR_TYPE_TXT);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	ldns_pkt_free(r);
	set_identity(snap_parent, NULL, false, 0);
}

static void test_runt_and_response_dropped(void **state)
{
	(void)state;
	struct query_ctx ctx;
	memset(&ctx, 0, sizeof(ctx));
	uint8_t rbuf[DNS_REPLY_MAX];
	uint8_t q[512] = {0};
	assert_int_equal(query_process(&ctx, snap_parent, NULL, DNS_UDP, q, 11, rbuf, sizeof(rbuf)),
			 0);
	size_t qlen = build_query("www.example.test.", LDNS_RR_TYPE_A, NULL, q);
	q[2] |= 0x80; /* QR */
	assert_int_equal(
	    query_process(&ctx, snap_parent, NULL, DNS_UDP, q, qlen, rbuf, sizeof(rbuf)), 0);
}

/* Sends www.example.test A with a COOKIE option of `clen` bytes; returns
 * the server cookie of the reply (16 bytes into out) and whether one came. */
static bool cookie_roundtrip(const uint8_t *cookie, size_t clen, uint8_t *out)
{
	uint8_t q[512], rbuf[2048];
	struct query_ctx ctx;
	memset(&ctx, 0, sizeof(ctx));
	struct q_opts o = {.edns = 1, .udp_size = 1232};
	size_t qlen = build_query("www.example.test.", LDNS_RR_TYPE_A, &o, q);
	/* The OPT is last with RDLENGTH 0: append the option. */
	q[qlen - 2] = 0;
	q[qlen - 1] = (uint8_t)(4 + clen);
	q[qlen] = 0;
	q[qlen + 1] = 10;
	q[qlen + 2] = 0;
	q[qlen + 3] = (uint8_t)clen;
	memcpy(q + qlen + 4, cookie, clen);
	qlen += 4 + clen;
	size_t n = query_process(&ctx, snap_parent, NULL, DNS_UDP, q, qlen, rbuf, sizeof(rbuf));
	assert_true(n > 12);
	assert_int_equal(rbuf[3] & 0xF, 0); /* NOERROR */
	/* The COOKIE option is the last 28 bytes of the reply. */
	if (n < 28 || rbuf[n - 28] != 0 || rbuf[n - 27] != 10 || rbuf[n - 25] != 24)
		return false;
	assert_memory_equal(rbuf + n - 24, cookie, 8);
	memcpy(out, rbuf + n - 16, 16);
	return true;
}

static void test_cookies(void **state)
{
	(void)state;
	uint8_t client[8] = {1, 2, 3, 4, 5, 6, 7, 8}, sc[16], sc2[16], full[24];
	assert_true(cookie_roundtrip(client, 8, sc));
	assert_int_equal(sc[0], 1); /* RFC 9018 version */
	/* Presenting it back: the same server cookie is echoed (still young). */
	memcpy(full, client, 8);
	memcpy(full + 8, sc, 16);
	assert_true(cookie_roundtrip(full, 24, sc2));
	assert_memory_equal(sc, sc2, 16);
	/* A forged one is replaced by a valid one for this client, which is
	 * then echoed as it is. */
	full[23] ^= 0xff;
	assert_true(cookie_roundtrip(full, 24, sc2));
	assert_memory_not_equal(sc2, full + 8, 16);
	memcpy(full + 8, sc2, 16);
	uint8_t sc3[16];
	assert_true(cookie_roundtrip(full, 24, sc3));
	assert_memory_equal(sc3, sc2, 16);
	/* Another client cookie gets another hash. */
	client[0] ^= 0xff;
	assert_true(cookie_roundtrip(client, 8, sc2));
	assert_memory_not_equal(sc2 + 8, sc + 8, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact_a),
	    cmocka_unit_test(test_zone_without_data_servfail),
	    cmocka_unit_test(test_case_echo_and_rd),
	    cmocka_unit_test(test_nxdomain_soa_ttl),
	    cmocka_unit_test(test_nodata),
	    cmocka_unit_test(test_empty_non_terminal),
	    cmocka_unit_test(test_cname_chain),
	    cmocka_unit_test(test_cname_loops),
	    cmocka_unit_test(test_cname_out_of_zone_and_dangling),
	    cmocka_unit_test(test_wildcard),
	    cmocka_unit_test(test_referral),
	    cmocka_unit_test(test_ds_parent_side),
	    cmocka_unit_test(test_refused_outside),
	    cmocka_unit_test(test_additional),
	    cmocka_unit_test(test_any_minimal),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_edns),
	    cmocka_unit_test(test_opcodes_and_meta),
	    cmocka_unit_test(test_svcb_additional),
	    cmocka_unit_test(test_dname),
	    cmocka_unit_test(test_nsid),
	    cmocka_unit_test(test_chaos_txt),
	    cmocka_unit_test(test_header_only_opcodes),
	    cmocka_unit_test(test_runt_and_response_dropped),
	    cmocka_unit_test(test_cookies),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
