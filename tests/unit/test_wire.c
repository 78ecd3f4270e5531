/* test_wire.c — unit tests of the query parser (wire/wire.c).
 *
 * Every packet is copied into a heap buffer of exactly its length before it
 * is parsed, so that under ASan (meson setup -Db_sanitize=address) a read one
 * byte past the end is reported, not silently served from a larger array.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the headers above it */
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "common/err.h"
#include "wire/dname.h"
#include "wire/wire.h"

/* ---- packet builder ---------------------------------------------------- */

struct pkt {
	uint8_t b[2048];
	size_t len;
};

/* A well-formed TSIG RDATA (RFC 8945 §4.2): algorithm "hmac-sha256.", time
 * signed, fudge 300, a 4-byte MAC, original ID 7, no error, no other data. */
static const uint8_t tsig_rdata[] = "\x0bhmac-sha256\x00"
				    "\x00\x00\x65\x70\x00\x00"
				    "\x01\x2c"
				    "\x00\x04"
				    "MAC!"
				    "\x00\x07"
				    "\x00\x00"
				    "\x00\x00";
#define TSIG_RDLEN (sizeof(tsig_rdata) - 1)

static void put_u8(struct pkt *p, uint8_t v)
{
	assert_true(p->len < sizeof(p->b));
	p->b[p->len++] = v;
}

static void put_u16(struct pkt *p, uint16_t v)
{
	put_u8(p, (uint8_t)(v >> 8));
	put_u8(p, (uint8_t)v);
}

static void put_u32(struct pkt *p, uint32_t v)
{
	put_u16(p, (uint16_t)(v >> 16));
	put_u16(p, (uint16_t)v);
}

static void put_bytes(struct pkt *p, const void *d, size_t n)
{
	assert_true(p->len + n <= sizeof(p->b));
	if (n > 0)
		memcpy(p->b + p->len, d, n);
	p->len += n;
}

/* Dotted name without escapes ("www.example.test", "." or "" for the root). */
static void put_name(struct pkt *p, const char *s)
{
	while (*s != 0 && !(s[0] == '.' && s[1] == 0)) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		put_u8(p, (uint8_t)n);
		put_bytes(p, s, n);
		s += n;
		if (*s == '.')
			s++;
	}
	put_u8(p, 0);
}

static void put_header(struct pkt *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
		       uint16_t ns, uint16_t ar)
{
	p->len = 0;
	put_u16(p, id);
	put_u16(p, flags);
	put_u16(p, qd);
	put_u16(p, an);
	put_u16(p, ns);
	put_u16(p, ar);
}

static void set_u16(struct pkt *p, size_t off, uint16_t v)
{
	wire_write_u16(p->b + off, v);
}

#define OFF_QD 4
#define OFF_AN 6
#define OFF_NS 8
#define OFF_AR 10

/* Header + "www.example.test. A IN", arcount as given. */
static void put_query(struct pkt *p, uint16_t arcount)
{
	put_header(p, 0x1234, DNS_FLAG_RD, 1, 0, 0, arcount);
	put_name(p, "www.example.test");
	put_u16(p, DNS_TYPE_A);
	put_u16(p, DNS_CLASS_IN);
}

/* OPT record header; returns the offset of RDLENGTH for opt_end(). */
static size_t opt_begin(struct pkt *p, uint16_t udp, uint8_t ext_rcode, uint8_t version,
			uint16_t flags)
{
	put_u8(p, 0);
	put_u16(p, DNS_TYPE_OPT);
	put_u16(p, udp);
	put_u8(p, ext_rcode);
	put_u8(p, version);
	put_u16(p, flags);
	size_t at = p->len;
	put_u16(p, 0);
	return at;
}

static void opt_end(struct pkt *p, size_t rdlen_at)
{
	set_u16(p, rdlen_at, (uint16_t)(p->len - rdlen_at - 2));
}

static void put_option(struct pkt *p, uint16_t code, const void *d, size_t n)
{
	put_u16(p, code);
	put_u16(p, (uint16_t)n);
	put_bytes(p, d, n);
}

static void put_ecs(struct pkt *p, uint16_t family, uint8_t source, uint8_t scope,
		    const uint8_t *addr, size_t alen)
{
	put_u16(p, EDNS_OPT_ECS);
	put_u16(p, (uint16_t)(4 + alen));
	put_u16(p, family);
	put_u8(p, source);
	put_u8(p, scope);
	put_bytes(p, addr, alen);
}

/* A query whose OPT carries exactly one ECS option. */
static void put_query_ecs(struct pkt *p, uint16_t family, uint8_t source, uint8_t scope,
			  const uint8_t *addr, size_t alen)
{
	put_query(p, 1);
	size_t at = opt_begin(p, 1232, 0, 0, 0);
	put_ecs(p, family, source, scope, addr, alen);
	opt_end(p, at);
}

/* A plain (non-OPT) record with an uncompressed owner. */
static void put_rr(struct pkt *p, const char *owner, uint16_t type, const void *rd, size_t rdlen)
{
	put_name(p, owner);
	put_u16(p, type);
	put_u16(p, DNS_CLASS_IN);
	put_u32(p, 3600);
	put_u16(p, (uint16_t)rdlen);
	put_bytes(p, rd, rdlen);
}

/* ---- parsing with invariant checks ------------------------------------- */

static bool name_is_lower_of(const uint8_t *lower, const uint8_t *orig, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = orig[i];
		uint8_t want = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
		if (lower[i] != want)
			return false;
	}
	return true;
}

/* Properties that must hold whatever the input. */
static void check_invariants(const uint8_t *buf, size_t len, enum dns_parse_result res,
			     const struct dns_query *q)
{
	assert_true(res == DNS_PARSE_OK || res == DNS_PARSE_DROP || res == DNS_PARSE_FORMERR ||
		    res == DNS_PARSE_BADVERS);
	if (len < DNS_HEADER_LEN) {
		assert_int_equal(res, DNS_PARSE_DROP);
		assert_false(q->has_question);
		assert_false(q->has_edns);
		return;
	}
	assert_int_equal(q->id, wire_read_u16(buf));
	assert_int_equal(q->flags, wire_read_u16(buf + 2));
	assert_int_equal(q->qdcount, wire_read_u16(buf + 4));
	assert_int_equal(q->ancount, wire_read_u16(buf + 6));
	assert_int_equal(q->nscount, wire_read_u16(buf + 8));
	assert_int_equal(q->arcount, wire_read_u16(buf + 10));
	assert_int_equal(res == DNS_PARSE_DROP, (q->flags & DNS_FLAG_QR) != 0);
	if (res == DNS_PARSE_OK || res == DNS_PARSE_BADVERS)
		assert_true(q->has_question);
	if (q->qdcount != 1)
		assert_false(q->has_question);
	if (q->has_question) {
		assert_true(q->qname_len >= 1 && q->qname_len <= DNAME_MAXLEN);
		assert_int_equal(dname_len(q->qname), q->qname_len);
		assert_true(name_is_lower_of(q->qname_lower, q->qname, q->qname_len));
		/* Every label is 1..63 octets. */
		size_t off = 0;
		unsigned guard = 0;
		while (q->qname[off] != 0) {
			assert_true(q->qname[off] <= DNAME_MAXLABEL);
			off += (size_t)q->qname[off] + 1;
			assert_true(++guard <= DNAME_MAXLABELS);
		}
		assert_int_equal(off + 1, q->qname_len);
		assert_true(q->question_end >= DNS_HEADER_LEN + 1 + 4);
		assert_true(q->question_end <= len);
		assert_int_equal(q->qtype, wire_read_u16(buf + q->question_end - 4));
		assert_int_equal(q->qclass, wire_read_u16(buf + q->question_end - 2));
	} else {
		assert_int_equal(q->qname_len, 0);
		assert_int_equal(q->qname[0], 0);
		assert_int_equal(q->question_end, 0);
	}
	if (res == DNS_PARSE_BADVERS) {
		assert_true(q->has_edns);
		assert_true(q->edns_version > 0);
		assert_false(q->has_ecs || q->has_cookie || q->has_expire);
	}
	if (res == DNS_PARSE_OK && q->has_edns)
		assert_int_equal(q->edns_version, 0);
	if (!q->has_edns) {
		assert_false(q->has_ecs);
		assert_false(q->has_cookie);
	}
	if (q->has_ecs) {
		assert_true(q->ecs.family == 1 || q->ecs.family == 2);
		assert_true(q->ecs.source_prefix <= (q->ecs.family == 1 ? 32 : 128));
		assert_int_equal(q->ecs.scope_prefix, 0);
		/* Zero beyond the source prefix. */
		for (unsigned bit = q->ecs.source_prefix; bit < 128; bit++)
			assert_int_equal(q->ecs.addr[bit / 8] & (0x80 >> (bit % 8)), 0);
	}
	if (q->has_cookie)
		assert_true(q->cookie_len == 8 || (q->cookie_len >= 16 && q->cookie_len <= 40));
	else
		assert_int_equal(q->cookie_len, 0);
}

/* Parses data[0..len) from an exact-size heap copy, poisoning *q first. */
static enum dns_parse_result parse_bytes(const uint8_t *data, size_t len, struct dns_query *q)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, data, len);
	memset(q, 0xA5, sizeof(*q));
	enum dns_parse_result res = dns_query_parse(len > 0 ? copy : copy + 1, len, q);
	check_invariants(copy, len, res, q);
	free(copy);
	return res;
}

static enum dns_parse_result parse(const struct pkt *p, struct dns_query *q)
{
	return parse_bytes(p->b, p->len, q);
}

static void assert_name(const uint8_t *name, const char *want)
{
	char buf[DNAME_STR_MAX];
	assert_true(dname_to_str(name, buf, sizeof(buf)) >= 0);
	assert_string_equal(buf, want);
}

/* ---- valid queries ------------------------------------------------------ */

static void test_plain_query(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	put_query(&p, 0);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.flags, DNS_FLAG_RD);
	assert_int_equal(q.qdcount, 1);
	assert_int_equal(q.ancount + q.nscount + q.arcount, 0);
	assert_true(q.has_question);
	assert_int_equal(q.qname_len, 18);
	assert_memory_equal(q.qname, "\3www\7example\4test", 18);
	assert_memory_equal(q.qname_lower, "\3www\7example\4test", 18);
	assert_int_equal(q.qtype, DNS_TYPE_A);
	assert_int_equal(q.qclass, DNS_CLASS_IN);
	assert_int_equal(q.question_end, p.len);
	assert_false(q.has_edns);
	assert_false(q.has_ecs);
	assert_false(q.has_cookie);
	assert_int_equal(q.edns_udp_size, 0);
}

static void test_root_query(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	put_header(&p, 7, 0, 1, 0, 0, 0);
	put_u8(&p, 0);
	put_u16(&p, DNS_TYPE_NS);
	put_u16(&p, DNS_CLASS_IN);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_int_equal(q.qname_len, 1);
	assert_int_equal(q.qname[0], 0);
	assert_int_equal(q.qtype, DNS_TYPE_NS);
	assert_int_equal(q.question_end, 17);
}

static void test_edns_query(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	put_query(&p, 1);
	size_t at = opt_begin(&p, 4096, 0, 0, EDNS_DO_BIT);
	opt_end(&p, at);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_true(q.has_edns);
	assert_int_equal(q.edns_udp_size, 4096);
	assert_int_equal(q.edns_version, 0);
	assert_true(q.edns_do);
	assert_false(q.has_ecs);
	assert_false(q.has_cookie);
	assert_int_equal(q.question_end, 12 + 18 + 4);

	/* DO clear, small and odd sizes are reported as sent, Z bits and an
	 * extended rcode in a query are ignored. */
	put_query(&p, 1);
	at = opt_begin(&p, 100, 0x7F, 0, 0x7FFF);
	opt_end(&p, at);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_true(q.has_edns);
	assert_int_equal(q.edns_udp_size, 100);
	assert_false(q.edns_do);

	put_query(&p, 1);
	at = opt_begin(&p, 0, 0, 0, 0);
	opt_end(&p, at);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_int_equal(q.edns_udp_size, 0);
}

static void test_mixed_case(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	put_header(&p, 1, 0, 1, 0, 0, 0);
	/* Boundaries of A-Z: '@' (0x40), '[' (0x5B), '`' (0x60), '{' (0x7B),
	 * and bytes >= 0x80 that must not be "lowercased" (RFC 4343 §3). */
	static const uint8_t name[] = {3,   'W', 'w', 'W', 7,	'E', 'x',  'A',	 'm', 'P', 'l',
				       'E', 6,	 '@', '[', '`', '{', 0xC1, 0xDA, 1,   'Z', 0};
	static const uint8_t low[] = {3,   'w', 'w', 'w', 7,   'e', 'x',  'a',	'm', 'p', 'l',
				      'e', 6,	'@', '[', '`', '{', 0xC1, 0xDA, 1,   'z', 0};
	put_bytes(&p, name, sizeof(name));
	put_u16(&p, DNS_TYPE_AAAA);
	put_u16(&p, DNS_CLASS_IN);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_int_equal(q.qname_len, sizeof(name));
	assert_memory_equal(q.qname, name, sizeof(name));
	assert_memory_equal(q.qname_lower, low, sizeof(low));

	/* Every byte value as a one-octet label. (The slow, compressed path
	 * is covered by test_qname_pointer_into_header.) */
	for (int c = 0; c < 256; c++) {
		put_header(&p, 1, 0, 1, 0, 0, 0);
		put_u8(&p, 1);
		put_u8(&p, (uint8_t)c);
		put_u8(&p, 0);
		put_u16(&p, 1);
		put_u16(&p, 1);
		assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
		assert_int_equal(q.qname[1], c);
		assert_int_equal(q.qname_lower[1], (c >= 'A' && c <= 'Z') ? c + 32 : c);
	}
}

/* A qname that is a pointer into the header is allowed by the contract
 * (strictly backwards); it exercises the slow path and its lowercasing. */
static void test_qname_pointer_into_header(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	/* id = 0x01 'A', flags = 0x00 0x00: "\1A\0" is the name "A." at 0. */
	put_header(&p, 0x0141, 0, 1, 0, 0, 0);
	put_u8(&p, 0xC0);
	put_u8(&p, 0x00);
	put_u16(&p, DNS_TYPE_A);
	put_u16(&p, DNS_CLASS_IN);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_int_equal(q.qname_len, 3);
	assert_memory_equal(q.qname, "\1A", 3);
	assert_memory_equal(q.qname_lower, "\1a", 3);
	assert_int_equal(q.question_end, 12 + 2 + 4);

	/* A label run followed by a pointer: "\1X" + ptr to 0. */
	put_header(&p, 0x0141, 0, 1, 0, 0, 0);
	put_u8(&p, 1);
	put_u8(&p, 'X');
	put_u8(&p, 0xC0);
	put_u8(&p, 0x00);
	put_u16(&p, DNS_TYPE_A);
	put_u16(&p, DNS_CLASS_IN);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_int_equal(q.qname_len, 5);
	assert_memory_equal(q.qname, "\1X\1A", 5);
	assert_memory_equal(q.qname_lower, "\1x\1a", 5);
	assert_int_equal(q.question_end, 12 + 4 + 4);
}

static void test_max_label_and_name(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	char label[64];
	memset(label, 'a', 63);
	label[63] = 0;

	/* 63-octet label: fine. */
	put_header(&p, 1, 0, 1, 0, 0, 0);
	put_name(&p, label);
	put_u16(&p, 1);
	put_u16(&p, 1);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_int_equal(q.qname_len, 65);

	/* 64 is 0x40, an extended label type: refused. */
	put_header(&p, 1, 0, 1, 0, 0, 0);
	put_u8(&p, 64);
	for (int i = 0; i < 64; i++)
		put_u8(&p, 'a');
	put_u8(&p, 0);
	put_u16(&p, 1);
	put_u16(&p, 1);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_false(q.has_question);

	/* Exactly 255 octets: 3 x 63-octet labels + a 61-octet label + root. */
	put_header(&p, 1, 0, 1, 0, 0, 0);
	for (int l = 0; l < 3; l++) {
		put_u8(&p, 63);
		for (int i = 0; i < 63; i++)
			put_u8(&p, 'a');
	}
	put_u8(&p, 61);
	for (int i = 0; i < 61; i++)
		put_u8(&p, 'B');
	put_u8(&p, 0);
	put_u16(&p, 1);
	put_u16(&p, 1);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_int_equal(q.qname_len, 255);
	assert_int_equal(q.qname_lower[254], 0);
	assert_int_equal(q.qname_lower[253], 'b');
	assert_int_equal(q.question_end, 12 + 255 + 4);

	/* 256 octets: last label 62. */
	put_header(&p, 1, 0, 1, 0, 0, 0);
	for (int l = 0; l < 3; l++) {
		put_u8(&p, 63);
		for (int i = 0; i < 63; i++)
			put_u8(&p, 'a');
	}
	put_u8(&p, 62);
	for (int i = 0; i < 62; i++)
		put_u8(&p, 'b');
	put_u8(&p, 0);
	put_u16(&p, 1);
	put_u16(&p, 1);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_false(q.has_question);

	/* 127 one-octet labels = 255 octets: fine; 128 = 257: refused. */
	put_header(&p, 1, 0, 1, 0, 0, 0);
	for (int l = 0; l < 127; l++) {
		put_u8(&p, 1);
		put_u8(&p, 'x');
	}
	put_u8(&p, 0);
	put_u16(&p, 1);
	put_u16(&p, 1);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_int_equal(q.qname_len, 255);
	assert_int_equal(dname_labels(q.qname), 127);
	put_header(&p, 1, 0, 1, 0, 0, 0);
	for (int l = 0; l < 128; l++) {
		put_u8(&p, 1);
		put_u8(&p, 'x');
	}
	put_u8(&p, 0);
	put_u16(&p, 1);
	put_u16(&p, 1);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);

	/* A long run of labels with no terminator before the packet ends. */
	put_header(&p, 1, 0, 1, 0, 0, 0);
	for (int l = 0; l < 600; l++)
		put_u8(&p, 1);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
}

/* A name longer than 255 octets only once decompressed. */
static void test_name_too_long_via_pointer(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	uint8_t out[DNAME_MAXLEN];

	/* Buffer: [0..130) = 65 one-octet labels, then a root... build it as
	 * a raw region and read names with dns_name_read. */
	p.len = 0;
	for (int i = 0; i < 100; i++) { /* 200 bytes of labels, then root */
		put_u8(&p, 1);
		put_u8(&p, 'a');
	}
	put_u8(&p, 0);		       /* offset 200: name of 201 octets at 0 */
	size_t second = p.len;	       /* 201 */
	for (int i = 0; i < 27; i++) { /* +54 octets → 255 */
		put_u8(&p, 1);
		put_u8(&p, 'b');
	}
	put_u8(&p, 0xC0);
	put_u8(&p, 0x00);
	size_t third = p.len;
	for (int i = 0; i < 28; i++) { /* +56 octets → 257 */
		put_u8(&p, 1);
		put_u8(&p, 'c');
	}
	put_u8(&p, 0xC0);
	put_u8(&p, 0x00);

	size_t off = second;
	assert_int_equal(dns_name_read(p.b, p.len, &off, out), 255);
	assert_int_equal(off, second + 54 + 2);
	off = third;
	assert_int_equal(dns_name_read(p.b, p.len, &off, out), SOV_EMALF);
	assert_int_equal(off, third); /* untouched on error */

	/* Exactly 256 once decompressed: 26 x "\1b" + "\2bb" + ptr to the
	 * 201-octet name. The last label would fill octet 255 with no room
	 * left for the root label. */
	size_t fourth = p.len;
	for (int i = 0; i < 26; i++) {
		put_u8(&p, 1);
		put_u8(&p, 'b');
	}
	put_u8(&p, 2);
	put_u8(&p, 'b');
	put_u8(&p, 'b');
	put_u8(&p, 0xC0);
	put_u8(&p, 0x00);
	off = fourth;
	assert_int_equal(dns_name_read(p.b, p.len, &off, out), SOV_EMALF);
	/* Uncompressed: 127 one-octet labels are 255 octets, 128 are 257. */
	size_t fifth = p.len;
	for (int i = 0; i < 128; i++) {
		put_u8(&p, 1);
		put_u8(&p, 'e');
	}
	put_u8(&p, 0);
	off = fifth;
	assert_int_equal(dns_name_read(p.b, p.len, &off, out), SOV_EMALF);
	off = fifth + 2;
	assert_int_equal(dns_name_read(p.b, p.len, &off, out), 255);
	assert_int_equal(out[254], 0);

	/* Record owners (general path), labels + a pointer to the 18-octet
	 * qname: 117 x "\1a" + "\2aa" = 237 → 255 accepted;
	 * 119 x "\1a" = 238 → 256 refused. */
	for (int extra = 0; extra < 2; extra++) {
		put_query(&p, 1);
		for (int i = 0; i < 117; i++) {
			put_u8(&p, 1);
			put_u8(&p, 'a');
		}
		if (extra == 0) {
			put_u8(&p, 2);
			put_u8(&p, 'a');
			put_u8(&p, 'a');
		} else {
			put_u8(&p, 1);
			put_u8(&p, 'a');
			put_u8(&p, 1);
			put_u8(&p, 'a');
		}
		put_u8(&p, 0xC0);
		put_u8(&p, 12);
		put_u16(&p, DNS_TYPE_TXT);
		put_u16(&p, DNS_CLASS_IN);
		put_u32(&p, 0);
		put_u16(&p, 0);
		assert_int_equal(parse(&p, &q), extra == 0 ? DNS_PARSE_OK : DNS_PARSE_FORMERR);
	}

	/* Well over: 258 octets. */
	put_query(&p, 1);
	for (int i = 0; i < 120; i++) {
		put_u8(&p, 1);
		put_u8(&p, 'a');
	}
	/* owner: 120 labels (240 octets) then pointer to the qname (18): 258. */
	put_u8(&p, 0xC0);
	put_u8(&p, 12);
	put_u16(&p, DNS_TYPE_TXT);
	put_u16(&p, DNS_CLASS_IN);
	put_u32(&p, 0);
	put_u16(&p, 0);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_true(q.has_question);
}

/* ---- header-level outcomes ---------------------------------------------- */

static void test_short_header_dropped(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	put_query(&p, 0);
	for (size_t n = 0; n < DNS_HEADER_LEN; n++) {
		assert_int_equal(parse_bytes(p.b, n, &q), DNS_PARSE_DROP);
		assert_int_equal(q.id, 0);
		assert_int_equal(q.flags, 0);
		assert_false(q.has_question);
		assert_false(q.has_edns);
		assert_int_equal(q.qname_len, 0);
	}
	assert_int_equal(dns_query_parse(NULL, 0, &q), DNS_PARSE_DROP);
}

static void test_response_dropped(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	put_query(&p, 0);
	set_u16(&p, 2, DNS_FLAG_QR | DNS_FLAG_AA);
	assert_int_equal(parse(&p, &q), DNS_PARSE_DROP);
	assert_int_equal(q.id, 0x1234);
	assert_false(q.has_question);
	/* Even a bare header with QR set, and one with qdcount 0. */
	assert_int_equal(parse_bytes(p.b, DNS_HEADER_LEN, &q), DNS_PARSE_DROP);
	set_u16(&p, OFF_QD, 0);
	assert_int_equal(parse(&p, &q), DNS_PARSE_DROP);
}

static void test_opcode_not_checked(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	put_query(&p, 0);
	set_u16(&p, 2, (uint16_t)(DNS_OPCODE_NOTIFY << 11) | DNS_FLAG_AA);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_int_equal(DNS_OPCODE(q.flags), DNS_OPCODE_NOTIFY);
	set_u16(&p, 2, (uint16_t)(15 << 11) | 0x7F);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_int_equal(q.flags, (15 << 11) | 0x7F);
}

static void test_qdcount(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	/* qdcount 0: a bare header too. */
	put_header(&p, 9, 0, 0, 0, 0, 0);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_false(q.has_question);
	assert_int_equal(q.id, 9);
	uint16_t counts[] = {0, 2, 3, 0xFFFF};
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		put_query(&p, 0);
		set_u16(&p, OFF_QD, counts[i]);
		assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
		assert_false(q.has_question);
		assert_int_equal(q.qdcount, counts[i]);
		assert_int_equal(q.qname_len, 0);
	}
	/* Two real questions. */
	put_header(&p, 9, 0, 2, 0, 0, 0);
	put_name(&p, "a.test");
	put_u16(&p, 1);
	put_u16(&p, 1);
	put_name(&p, "b.test");
	put_u16(&p, 1);
	put_u16(&p, 1);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_false(q.has_question);
}

/* ---- question-level malformations -------------------------------------- */

static void test_truncated_name_each_byte(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	put_query(&p, 0);
	size_t name_end = 12 + 18;
	for (size_t n = DNS_HEADER_LEN; n < name_end; n++) {
		assert_int_equal(parse_bytes(p.b, n, &q), DNS_PARSE_FORMERR);
		assert_false(q.has_question);
		assert_int_equal(q.qdcount, 1);
	}
	/* Name complete but QTYPE/QCLASS missing 4..1 bytes. */
	for (size_t n = name_end; n < name_end + 4; n++) {
		assert_int_equal(parse_bytes(p.b, n, &q), DNS_PARSE_FORMERR);
		assert_false(q.has_question);
	}
	assert_int_equal(parse_bytes(p.b, name_end + 4, &q), DNS_PARSE_OK);
}

static void test_reserved_label_types(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	/* Every length octet 0x40..0xBF, as first label and after a label,
	 * with plenty of bytes after it so only the type is at fault. */
	for (int c = 0x40; c < 0xC0; c++) {
		for (int after = 0; after < 2; after++) {
			put_header(&p, 1, 0, 1, 0, 0, 0);
			if (after)
				put_name(&p, "ok"), p.len--; /* drop its root */
			put_u8(&p, (uint8_t)c);
			for (int i = 0; i < 200; i++)
				put_u8(&p, 'a');
			put_u8(&p, 0);
			put_u16(&p, 1);
			put_u16(&p, 1);
			assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
			assert_false(q.has_question);
		}
	}
}

static void test_bad_pointers_in_qname(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;

	/* Pointer to itself. */
	put_header(&p, 1, 0, 1, 0, 0, 0);
	put_u8(&p, 0xC0);
	put_u8(&p, 12);
	put_u16(&p, 1);
	put_u16(&p, 1);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_false(q.has_question);

	/* Forward pointer, to a valid name later in the packet. */
	put_header(&p, 1, 0, 1, 0, 0, 0);
	put_u8(&p, 0xC0);
	put_u8(&p, 18);
	put_u16(&p, 1);
	put_u16(&p, 1);
	put_name(&p, "a.test"); /* at 18 */
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);

	/* Pointer far out of bounds (0x3FFF). */
	put_header(&p, 1, 0, 1, 0, 0, 0);
	put_u8(&p, 0xFF);
	put_u8(&p, 0xFF);
	put_u16(&p, 1);
	put_u16(&p, 1);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);

	/* Pointer to the start of its own label sequence after one label
	 * (would loop) and into the middle of its own first label. */
	for (uint8_t target = 12; target <= 13; target++) {
		put_header(&p, 1, 0, 1, 0, 0, 0);
		put_u8(&p, 1);
		put_u8(&p, 'a');
		put_u8(&p, 0xC0);
		put_u8(&p, target);
		put_u16(&p, 1);
		put_u16(&p, 1);
		assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	}

	/* Truncated pointer: the packet ends after 0xC0. */
	put_header(&p, 1, 0, 1, 0, 0, 0);
	put_u8(&p, 0xC0);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);

	/* Pointer into the header whose bytes are not a name: id 0x4141
	 * ('A' as a length is 0x41, a reserved type). */
	put_header(&p, 0x4141, 0, 1, 0, 0, 0);
	put_u8(&p, 0xC0);
	put_u8(&p, 0);
	put_u16(&p, 1);
	put_u16(&p, 1);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);

	/* Pointer into the header to a "name" that runs into the pointer
	 * itself: id 0x0B00 → label of 11 octets covering 1..11, then byte 12
	 * is the pointer's first octet 0xC0 → pointer 0xC000 → target 0 which
	 * is not before the current sequence start (0): refused. */
	put_header(&p, 0x0B00, 0, 1, 0, 0, 0);
	put_u8(&p, 0xC0);
	put_u8(&p, 0);
	put_u16(&p, 1);
	put_u16(&p, 1);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
}

/* ---- dns_name_read directly -------------------------------------------- */

static void test_name_read(void **state)
{
	(void)state;
	uint8_t out[DNAME_MAXLEN];
	/* 0: "\3foo\4test\0" (10 bytes); 10: "\3bar" + ptr 4 ("test");
	 * 16: "\1x" + ptr 10 (bar.test via a chain); 20: ptr 16. */
	static const uint8_t buf[] = {3,   'f', 'o', 'o',  4, 't', 'e', 's',  't', 0,	 3,
				      'b', 'a', 'r', 0xC0, 4, 1,   'x', 0xC0, 10,  0xC0, 16};
	size_t off = 0;
	assert_int_equal(dns_name_read(buf, sizeof(buf), &off, out), 10);
	assert_int_equal(off, 10);
	assert_memory_equal(out, buf, 10);

	off = 10;
	assert_int_equal(dns_name_read(buf, sizeof(buf), &off, out), 10);
	assert_int_equal(off, 16);
	assert_name(out, "bar.test.");

	off = 16;
	assert_int_equal(dns_name_read(buf, sizeof(buf), &off, out), 12);
	assert_int_equal(off, 20);
	assert_name(out, "x.bar.test.");

	off = 20;
	assert_int_equal(dns_name_read(buf, sizeof(buf), &off, out), 12);
	assert_int_equal(off, 22);
	assert_name(out, "x.bar.test.");

	/* A pointer straight to a root label. */
	off = 9;
	assert_int_equal(dns_name_read(buf, sizeof(buf), &off, out), 1);
	assert_int_equal(off, 10);

	/* Offset at or past the end. */
	off = sizeof(buf);
	assert_int_equal(dns_name_read(buf, sizeof(buf), &off, out), SOV_EMALF);
	assert_int_equal(off, sizeof(buf));
	off = sizeof(buf) + 5;
	assert_int_equal(dns_name_read(buf, sizeof(buf), &off, out), SOV_EMALF);

	/* Every truncation of each name fails and leaves off alone. */
	for (size_t start = 0; start < sizeof(buf); start++) {
		size_t full = start;
		int r = dns_name_read(buf, sizeof(buf), &full, out);
		if (r < 0)
			continue; /* starts inside a label: may be garbage */
		for (size_t n = start; n < full; n++) {
			off = start;
			assert_int_equal(dns_name_read(buf, n, &off, out), SOV_EMALF);
			assert_int_equal(off, start);
		}
	}
}

static void test_name_read_pointer_rules(void **state)
{
	(void)state;
	uint8_t out[DNAME_MAXLEN];
	size_t off;

	/* Two pointers pointing at each other: the second is forward from the
	 * first's target's point of view. */
	static const uint8_t loop2[] = {0xC0, 2, 0xC0, 0};
	off = 2;
	assert_int_equal(dns_name_read(loop2, sizeof(loop2), &off, out), SOV_EMALF);
	off = 0;
	assert_int_equal(dns_name_read(loop2, sizeof(loop2), &off, out), SOV_EMALF);

	/* Self pointer at offset 0 and at offset 4. */
	static const uint8_t self0[] = {0xC0, 0};
	off = 0;
	assert_int_equal(dns_name_read(self0, sizeof(self0), &off, out), SOV_EMALF);
	static const uint8_t self4[] = {1, 'a', 0, 0, 0xC0, 4};
	off = 4;
	assert_int_equal(dns_name_read(self4, sizeof(self4), &off, out), SOV_EMALF);

	/* Back pointer to a name that itself points back into the label run
	 * that was just jumped from: 0: "\1a" ptr→6 ... refused as forward. */
	static const uint8_t cross[] = {1, 'a', 0xC0, 6, 0, 0, 1, 'b', 0xC0, 0};
	off = 6;
	assert_int_equal(dns_name_read(cross, sizeof(cross), &off, out), SOV_EMALF);

	/* A pointer to inside the previous name's label (valid bytes there). */
	static const uint8_t mid[] = {3, 1, 'q', 0, 0xC0, 1};
	off = 4;
	assert_int_equal(dns_name_read(mid, sizeof(mid), &off, out), 3);
	assert_name(out, "q.");
	assert_int_equal(off, 6);

	/* Long backwards chain: 100 pointers each to the previous one, ending
	 * at a root. Bounded and accepted. */
	uint8_t chain[1 + 200];
	chain[0] = 0;
	for (int i = 0; i < 100; i++) {
		chain[1 + 2 * i] = 0xC0;
		chain[2 + 2 * i] = (uint8_t)(i == 0 ? 0 : 1 + 2 * (i - 1));
	}
	off = 199;
	assert_int_equal(dns_name_read(chain, sizeof(chain), &off, out), 1);
	assert_int_equal(off, 201);

	/* Reserved types after a jump. */
	static const uint8_t rsv[] = {0x41, 'a', 0, 0xC0, 0};
	off = 3;
	assert_int_equal(dns_name_read(rsv, sizeof(rsv), &off, out), SOV_EMALF);
	static const uint8_t rsv8[] = {0x80, 0, 0xC0, 0};
	off = 2;
	assert_int_equal(dns_name_read(rsv8, sizeof(rsv8), &off, out), SOV_EMALF);
}

/* ---- records: answer / authority / additional ---------------------------- */

static void test_records_skipped(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	static const uint8_t soa_rd[22] = {0};

	/* NOTIFY-like: SOA in the answer section, compressed owner. */
	put_header(&p, 5, (uint16_t)(DNS_OPCODE_NOTIFY << 11) | DNS_FLAG_AA, 1, 1, 0, 0);
	put_name(&p, "example.test");
	put_u16(&p, DNS_TYPE_SOA);
	put_u16(&p, DNS_CLASS_IN);
	put_u8(&p, 0xC0);
	put_u8(&p, 12);
	put_u16(&p, DNS_TYPE_SOA);
	put_u16(&p, DNS_CLASS_IN);
	put_u32(&p, 3600);
	put_u16(&p, sizeof(soa_rd));
	put_bytes(&p, soa_rd, sizeof(soa_rd));
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_int_equal(q.question_end, 12 + 14 + 4);
	assert_false(q.has_edns);

	/* One record in each section, an OPT, and a TSIG last. */
	put_header(&p, 5, 0, 1, 1, 1, 2);
	put_name(&p, "example.test");
	put_u16(&p, DNS_TYPE_A);
	put_u16(&p, DNS_CLASS_IN);
	put_rr(&p, "a.example.test", DNS_TYPE_A, "\1\2\3\4", 4);
	put_rr(&p, "example.test", DNS_TYPE_NS, "\2ns\0", 4);
	size_t at = opt_begin(&p, 1400, 0, 0, EDNS_DO_BIT);
	opt_end(&p, at);
	size_t tsig_at = p.len;
	put_name(&p, "key.example.test");
	put_u16(&p, DNS_TYPE_TSIG);
	put_u16(&p, DNS_CLASS_ANY);
	put_u32(&p, 0);
	/* RFC 8945 §4.2: algorithm, time (48 bits), fudge, MAC size, MAC,
	 * original ID, error, other len. */
	put_u16(&p, 13 + 6 + 2 + 2 + 4 + 2 + 2 + 2);
	put_name(&p, "hmac-sha256");
	for (int i = 0; i < 6; i++)
		put_u8(&p, (uint8_t)i);
	put_u16(&p, 300);
	put_u16(&p, 4);
	put_u32(&p, 0xdeadbeef);
	put_u16(&p, 5);
	put_u16(&p, 0);
	put_u16(&p, 0);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_true(q.has_edns);
	assert_int_equal(q.edns_udp_size, 1400);
	assert_true(q.edns_do);
	assert_true(q.has_tsig);
	assert_int_equal(q.tsig_offset, tsig_at);
	/* A MAC size that runs past RDLENGTH: FORMERR (RFC 8945 §5.1). */
	p.b[p.len - 12] = 0xff; /* MAC size, high byte */
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);

	/* Every truncation of that packet after the question is FORMERR but
	 * still has the question. */
	for (size_t n = q.question_end; n < p.len; n++) {
		assert_int_equal(parse_bytes(p.b, n, &q), DNS_PARSE_FORMERR);
		assert_true(q.has_question);
		assert_int_equal(q.qtype, DNS_TYPE_A);
	}

	/* Empty-rdata record in the additional section. */
	put_query(&p, 1);
	put_rr(&p, "x", DNS_TYPE_TXT, NULL, 0);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
}

static void test_record_counts_exceed_data(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	static const uint16_t offs[] = {OFF_AN, OFF_NS, OFF_AR};
	for (size_t i = 0; i < 3; i++) {
		put_query(&p, 0);
		set_u16(&p, offs[i], 0xFFFF);
		assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
		assert_true(q.has_question);
		/* One real record but a count of 2. */
		put_query(&p, 0);
		set_u16(&p, offs[i], 2);
		put_rr(&p, "a", DNS_TYPE_A, "\1\2\3\4", 4);
		assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
		/* Exactly one: OK. */
		set_u16(&p, offs[i], 1);
		assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	}
	/* All three maxed with a large packet of root-owned empty records:
	 * bounded, FORMERR. */
	put_header(&p, 1, 0, 1, 0xFFFF, 0xFFFF, 0xFFFF);
	put_u8(&p, 0);
	put_u16(&p, 1);
	put_u16(&p, 1);
	while (p.len + 11 <= sizeof(p.b)) {
		put_u8(&p, 0);
		put_u16(&p, DNS_TYPE_TXT);
		put_u16(&p, 1);
		put_u32(&p, 0);
		put_u16(&p, 0);
	}
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_true(q.has_question);
}

static void test_record_rdlength_overrun(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	put_query(&p, 1);
	put_rr(&p, "a", DNS_TYPE_A, "\1\2\3\4", 4);
	size_t rd_at = p.len - 4 - 2;
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	set_u16(&p, rd_at, 5);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	set_u16(&p, rd_at, 0xFFFF);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	set_u16(&p, rd_at, 3); /* one trailing byte */
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_true(q.has_question);
}

static void test_record_bad_owner(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	/* Forward pointer, self pointer, reserved type as owner. */
	static const uint8_t owners[][2] = {{0xC0, 0xFF}, {0xC0, 34}, {0x40, 0}, {0x80, 0}};
	for (size_t i = 0; i < sizeof(owners) / sizeof(owners[0]); i++) {
		put_query(&p, 1);
		assert_int_equal(p.len, 34);
		put_bytes(&p, owners[i], 2);
		put_u16(&p, DNS_TYPE_TXT);
		put_u16(&p, DNS_CLASS_IN);
		put_u32(&p, 0);
		put_u16(&p, 0);
		assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
		assert_true(q.has_question);
	}
	/* Backward pointer to the qname: fine. */
	put_query(&p, 1);
	put_u8(&p, 0xC0);
	put_u8(&p, 12);
	put_u16(&p, DNS_TYPE_TXT);
	put_u16(&p, DNS_CLASS_IN);
	put_u32(&p, 0);
	put_u16(&p, 0);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
}

static void test_trailing_bytes(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	put_query(&p, 0);
	put_u8(&p, 0);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_true(q.has_question);
	assert_int_equal(q.qtype, DNS_TYPE_A);

	put_query(&p, 1);
	size_t at = opt_begin(&p, 1232, 0, 0, 0);
	opt_end(&p, at);
	put_bytes(&p, "junk", 4);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_true(q.has_question);
	assert_true(q.has_edns); /* found before the error */

	/* BADVERS loses to trailing bytes. */
	put_query(&p, 1);
	at = opt_begin(&p, 1232, 0, 1, 0);
	opt_end(&p, at);
	put_u8(&p, 0);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
}

/* ---- OPT placement ------------------------------------------------------- */

static void test_opt_placement(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	size_t at;

	/* OPT in the answer section. */
	put_query(&p, 0);
	set_u16(&p, OFF_AN, 1);
	at = opt_begin(&p, 1232, 0, 0, 0);
	opt_end(&p, at);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_true(q.has_question);
	assert_false(q.has_edns);

	/* In the authority section. */
	set_u16(&p, OFF_AN, 0);
	set_u16(&p, OFF_NS, 1);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_false(q.has_edns);

	/* In additional: fine. */
	set_u16(&p, OFF_NS, 0);
	set_u16(&p, OFF_AR, 1);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_true(q.has_edns);

	/* Two OPTs, identical. */
	put_query(&p, 2);
	at = opt_begin(&p, 1232, 0, 0, 0);
	opt_end(&p, at);
	at = opt_begin(&p, 1232, 0, 0, 0);
	opt_end(&p, at);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_true(q.has_question);
	assert_false(q.has_edns);
	assert_int_equal(q.edns_udp_size, 0);

	/* Two OPTs with another record between them, the first with ECS. */
	put_query(&p, 3);
	at = opt_begin(&p, 1232, 0, 0, 0);
	put_ecs(&p, 1, 24, 0, (const uint8_t *)"\xC0\x00\x02", 3);
	opt_end(&p, at);
	put_rr(&p, "k", DNS_TYPE_A, "\1\2\3\4", 4);
	at = opt_begin(&p, 512, 0, 0, 0);
	opt_end(&p, at);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_false(q.has_edns);
	assert_false(q.has_ecs);

	/* Non-root owner. */
	put_query(&p, 1);
	put_name(&p, "a");
	put_u16(&p, DNS_TYPE_OPT);
	put_u16(&p, 1232);
	put_u32(&p, 0);
	put_u16(&p, 0);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_false(q.has_edns);

	/* Owner compressed to the qname (non-root). */
	put_query(&p, 1);
	put_u8(&p, 0xC0);
	put_u8(&p, 12);
	put_u16(&p, DNS_TYPE_OPT);
	put_u16(&p, 1232);
	put_u32(&p, 0);
	put_u16(&p, 0);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_false(q.has_edns);

	/* Owner compressed to a root label (the qname's last byte): the name
	 * is the root, so it is accepted. */
	put_query(&p, 1);
	put_u8(&p, 0xC0);
	put_u8(&p, 12 + 17);
	put_u16(&p, DNS_TYPE_OPT);
	put_u16(&p, 1232);
	put_u32(&p, 0);
	put_u16(&p, 0);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_true(q.has_edns);

	/* OPT truncated at each byte of its fixed part and rdata. */
	put_query(&p, 1);
	at = opt_begin(&p, 1232, 0, 0, EDNS_DO_BIT);
	put_option(&p, 65001, "abc", 3);
	opt_end(&p, at);
	for (size_t n = 34; n < p.len; n++) {
		assert_int_equal(parse_bytes(p.b, n, &q), DNS_PARSE_FORMERR);
		assert_true(q.has_question);
		assert_false(q.has_edns);
	}
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
}

/* ---- EDNS options -------------------------------------------------------- */

static void test_options_walk(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	size_t at;

	/* Unknown, empty and padding options are ignored. */
	put_query(&p, 1);
	at = opt_begin(&p, 1232, 0, 0, 0);
	put_option(&p, 3, NULL, 0);	   /* NSID request */
	put_option(&p, 12, "\0\0\0\0", 4); /* padding */
	put_option(&p, 0xFFFF, "z", 1);
	put_option(&p, 0, NULL, 0);
	opt_end(&p, at);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_true(q.has_edns);
	assert_false(q.has_ecs);
	assert_false(q.has_cookie);

	/* Option length running past RDLENGTH by one (but within the
	 * packet, because a TSIG-ish record follows). */
	put_query(&p, 2);
	at = opt_begin(&p, 1232, 0, 0, 0);
	put_option(&p, 65001, "abcd", 4);
	opt_end(&p, at);
	set_u16(&p, p.len - 6, 5);
	put_rr(&p, "k", DNS_TYPE_TSIG, (const char *)tsig_rdata, TSIG_RDLEN);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_true(q.has_question);
	assert_true(q.has_edns); /* the OPT itself was fine: reply carries one */

	/* Option header cut: RDLENGTH 1, 2 and 3. */
	for (uint16_t rdlen = 1; rdlen < 4; rdlen++) {
		put_query(&p, 1);
		at = opt_begin(&p, 1232, 0, 0, 0);
		for (uint16_t i = 0; i < rdlen; i++)
			put_u8(&p, 0);
		opt_end(&p, at);
		assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
		assert_true(q.has_edns);
	}

	/* OPTION-LENGTH 0xFFFF. */
	put_query(&p, 1);
	at = opt_begin(&p, 1232, 0, 0, 0);
	put_u16(&p, 65001);
	put_u16(&p, 0xFFFF);
	opt_end(&p, at);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
}

static void test_ecs_valid(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	static const struct {
		uint16_t family;
		uint8_t source;
		uint8_t alen;
		uint8_t addr[16];
	} ok[] = {
	    {1, 24, 3, {192, 0, 2}},
	    {1, 32, 4, {192, 0, 2, 77}},
	    {1, 0, 0, {0}},
	    {1, 20, 3, {10, 1, 0x10}}, /* 0x10: bits 20..23 zero */
	    {1, 1, 1, {0x80}},
	    {1, 25, 4, {198, 51, 100, 0x80}},
	    {2, 56, 7, {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56}},
	    {2, 128, 16, {0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
	    {2, 0, 0, {0}},
	    {2, 127, 16, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFE}},
	    {2, 48, 6, {0x20, 0x01, 0x0d, 0xb8, 0, 0}}, /* zero octets are fine */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		put_query_ecs(&p, ok[i].family, ok[i].source, 0, ok[i].addr, ok[i].alen);
		assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
		assert_true(q.has_edns);
		assert_true(q.has_ecs);
		assert_int_equal(q.ecs.family, ok[i].family);
		assert_int_equal(q.ecs.source_prefix, ok[i].source);
		assert_int_equal(q.ecs.scope_prefix, 0);
		assert_memory_equal(q.ecs.addr, ok[i].addr, 16);
	}

	/* ECS among other options, and together with a cookie. */
	put_query(&p, 1);
	size_t at = opt_begin(&p, 1232, 0, 0, EDNS_DO_BIT);
	put_option(&p, 12, "\0\0", 2);
	put_ecs(&p, 1, 24, 0, (const uint8_t *)"\xCB\x00\x71", 3);
	put_option(&p, EDNS_OPT_COOKIE, "12345678", 8);
	opt_end(&p, at);
	assert_int_equal(parse(&p, &q), DNS_PARSE_OK);
	assert_true(q.has_ecs);
	assert_true(q.has_cookie);
	assert_memory_equal(q.ecs.addr, "\xCB\x00\x71\0", 4);
	assert_int_equal(q.cookie_len, 8);
	assert_memory_equal(q.cookie, "12345678", 8);
}

static void test_ecs_invalid(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	static const uint8_t a[16] = {10, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	static const uint8_t z[32] = {0};
	static const uint8_t v6last[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
					   0,	 0,    0,    0,	   0, 0, 0, 0x01};
	static const struct {
		uint16_t family;
		uint8_t source, scope;
		const uint8_t *addr;
		uint8_t alen;
		const char *why;
	} bad[] = {
	    {0, 0, 0, z, 0, "family 0"},
	    {3, 0, 0, z, 0, "family 3"},
	    {0xFFFF, 8, 0, a, 1, "family 65535"},
	    {1, 33, 0, z, 5, "v4 source 33"},
	    {1, 255, 0, z, 32, "v4 source 255"},
	    {2, 129, 0, z, 17, "v6 source 129"},
	    {1, 24, 0, a, 4, "v4 /24 with 4 octets"},
	    {1, 24, 0, a, 2, "v4 /24 with 2 octets"},
	    {1, 0, 0, z, 1, "v4 /0 with 1 octet"},
	    {2, 0, 0, z, 16, "v6 /0 with 16 octets"},
	    {2, 56, 0, a, 8, "v6 /56 with 8 octets"},
	    {2, 128, 0, a, 15, "v6 /128 with 15 octets"},
	    {1, 32, 0, a, 3, "v4 /32 with 3 octets"},
	    {1, 20, 0, (const uint8_t *)"\x0a\x01\x18", 3, "v4 /20 bit 20 set"},
	    {1, 20, 0, (const uint8_t *)"\x0a\x01\x01", 3, "v4 /20 bit 23 set"},
	    {1, 1, 0, (const uint8_t *)"\x40", 1, "v4 /1 bit 1 set"},
	    {1, 31, 0, (const uint8_t *)"\x0a\x00\x00\x01", 4, "v4 /31 last bit"},
	    {2, 127, 0, v6last, 16, "v6 /127 last bit set"},
	    {1, 24, 24, a, 3, "scope 24"},
	    {1, 24, 1, a, 3, "scope 1"},
	    {1, 0, 1, z, 0, "scope 1 at /0"},
	    {2, 48, 64, z, 6, "v6 scope 64"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_query_ecs(&p, bad[i].family, bad[i].source, bad[i].scope, bad[i].addr,
			      bad[i].alen);
		print_message("ECS case: %s\n", bad[i].why);
		assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
		assert_true(q.has_question);
		assert_true(q.has_edns);
		assert_false(q.has_ecs);
	}

	/* Option data shorter than the fixed part: 0..3 bytes. */
	for (size_t n = 0; n < 4; n++) {
		put_query(&p, 1);
		size_t at = opt_begin(&p, 1232, 0, 0, 0);
		put_option(&p, EDNS_OPT_ECS, "\0\1\0\0", n);
		opt_end(&p, at);
		assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
		assert_false(q.has_ecs);
	}

	/* Two valid ECS options. */
	put_query(&p, 1);
	size_t at = opt_begin(&p, 1232, 0, 0, 0);
	put_ecs(&p, 1, 24, 0, a, 3);
	put_ecs(&p, 1, 24, 0, a, 3);
	opt_end(&p, at);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_false(q.has_ecs);

	/* A valid ECS followed by a broken option: ECS not reported. */
	put_query(&p, 1);
	at = opt_begin(&p, 1232, 0, 0, 0);
	put_ecs(&p, 1, 24, 0, a, 3);
	put_u16(&p, 65001);
	put_u16(&p, 10);
	opt_end(&p, at);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_true(q.has_edns);
	assert_false(q.has_ecs);
	assert_false(q.has_cookie);
}

/* Every (family, source, octet count) combination against the rule. */
static void test_ecs_exhaustive_lengths(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	static const uint8_t zero[20] = {0};
	for (uint16_t family = 0; family <= 3; family++) {
		for (unsigned source = 0; source <= 130; source++) {
			for (size_t alen = 0; alen <= 17; alen++) {
				put_query_ecs(&p, family, (uint8_t)source, 0, zero, alen);
				unsigned max = family == 1 ? 32 : 128;
				bool valid = (family == 1 || family == 2) && source <= max &&
					     alen == (source + 7) / 8;
				assert_int_equal(parse(&p, &q),
						 valid ? DNS_PARSE_OK : DNS_PARSE_FORMERR);
				assert_int_equal(q.has_ecs, valid);
			}
		}
	}
	/* Every last-octet value for every v4 source prefix. */
	for (unsigned source = 1; source <= 32; source++) {
		size_t alen = (source + 7) / 8;
		for (unsigned v = 0; v < 256; v++) {
			uint8_t addr[4] = {0};
			addr[alen - 1] = (uint8_t)v;
			put_query_ecs(&p, 1, (uint8_t)source, 0, addr, alen);
			unsigned keep = source % 8 == 0 ? 8 : source % 8;
			bool valid = (v & (0xFFu >> keep)) == 0;
			assert_int_equal(parse(&p, &q), valid ? DNS_PARSE_OK : DNS_PARSE_FORMERR);
		}
	}
}

static void test_cookie(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	uint8_t data[48];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0xA0 + i);
	for (size_t n = 0; n <= sizeof(data); n++) {
		put_query(&p, 1);
		size_t at = opt_begin(&p, 1232, 0, 0, 0);
		put_option(&p, EDNS_OPT_COOKIE, data, n);
		opt_end(&p, at);
		bool valid = n == 8 || (n >= 16 && n <= 40);
		assert_int_equal(parse(&p, &q), valid ? DNS_PARSE_OK : DNS_PARSE_FORMERR);
		assert_true(q.has_edns);
		assert_int_equal(q.has_cookie, valid);
		if (valid) {
			assert_int_equal(q.cookie_len, n);
			assert_memory_equal(q.cookie, data, n);
		}
	}
	/* Two cookies. */
	put_query(&p, 1);
	size_t at = opt_begin(&p, 1232, 0, 0, 0);
	put_option(&p, EDNS_OPT_COOKIE, data, 8);
	put_option(&p, EDNS_OPT_COOKIE, data, 16);
	opt_end(&p, at);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
	assert_false(q.has_cookie);
}

static void test_badvers(void **state)
{
	(void)state;
	struct pkt p;
	struct dns_query q;
	for (unsigned v = 1; v < 256; v += 127) {
		put_query(&p, 1);
		size_t at = opt_begin(&p, 4000, 0, (uint8_t)v, EDNS_DO_BIT);
		put_ecs(&p, 1, 8, 0, (const uint8_t *)"\x0a", 1);
		put_option(&p, EDNS_OPT_COOKIE, "abcdefgh", 8);
		opt_end(&p, at);
		assert_int_equal(parse(&p, &q), DNS_PARSE_BADVERS);
		assert_true(q.has_question);
		assert_true(q.has_edns);
		assert_int_equal(q.edns_version, v);
		assert_int_equal(q.edns_udp_size, 4000);
		assert_true(q.edns_do);
		/* RFC 6891 §6.1.3: the options of a version we do not
		 * implement are not read, so none is echoed. */
		assert_false(q.has_ecs);
		assert_false(q.has_cookie);
	}
	/* ...not even checked: a malformed ECS under version 1 is BADVERS. */
	put_query(&p, 1);
	size_t at = opt_begin(&p, 4000, 0, 1, 0);
	put_ecs(&p, 5, 8, 0, (const uint8_t *)"\x0a", 1);
	opt_end(&p, at);
	assert_int_equal(parse(&p, &q), DNS_PARSE_BADVERS);
	assert_true(q.has_edns);
	assert_false(q.has_ecs);
	assert_int_equal(q.edns_version, 1);

	/* BADVERS with a TSIG after the OPT. */
	put_query(&p, 2);
	at = opt_begin(&p, 4000, 0, 1, 0);
	opt_end(&p, at);
	put_rr(&p, "k", DNS_TYPE_TSIG, (const char *)tsig_rdata, TSIG_RDLEN);
	assert_int_equal(parse(&p, &q), DNS_PARSE_BADVERS);

	/* Version 1 in an OPT that is in the wrong section: FORMERR. */
	put_query(&p, 0);
	set_u16(&p, OFF_AN, 1);
	at = opt_begin(&p, 4000, 0, 1, 0);
	opt_end(&p, at);
	assert_int_equal(parse(&p, &q), DNS_PARSE_FORMERR);
}

/* Queries built by ldns, an independent encoder. */
static void test_ldns_built(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		ldns_rr_type type;
		bool edns;
		uint16_t udp;
		bool dnssec;
	} cases[] = {
	    {"www.Example.TEST.", LDNS_RR_TYPE_A, false, 0, false},
	    {"example.test.", LDNS_RR_TYPE_AAAA, true, 1232, true},
	    {".", LDNS_RR_TYPE_NS, true, 4096, false},
	    {"_sip._tcp.example.test.", LDNS_RR_TYPE_SRV, true, 512, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ldns_pkt *pkt = NULL;
		assert_int_equal(ldns_pkt_query_new_frm_str(&pkt, cases[i].name, cases[i].type,
							    LDNS_RR_CLASS_IN, LDNS_RD),
				 LDNS_STATUS_OK);
		ldns_pkt_set_id(pkt, (uint16_t)(0xBEEF + i));
		if (cases[i].edns) {
			ldns_pkt_set_edns_udp_size(pkt, cases[i].udp);
			ldns_pkt_set_edns_do(pkt, cases[i].dnssec);
		}
		uint8_t *wire = NULL;
		size_t wlen = 0;
		assert_int_equal(ldns_pkt2wire(&wire, pkt, &wlen), LDNS_STATUS_OK);
		struct dns_query q;
		assert_int_equal(parse_bytes(wire, wlen, &q), DNS_PARSE_OK);
		assert_int_equal(q.id, 0xBEEF + i);
		assert_true(q.flags & DNS_FLAG_RD);
		assert_int_equal(q.qtype, cases[i].type);
		assert_int_equal(q.qclass, LDNS_RR_CLASS_IN);
		assert_int_equal(q.has_edns, cases[i].edns);
		if (cases[i].edns) {
			assert_int_equal(q.edns_udp_size, cases[i].udp);
			assert_int_equal(q.edns_do, cases[i].dnssec);
		}
		ldns_rdf *qn = ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(pkt), 0));
		assert_int_equal(q.qname_len, ldns_rdf_size(qn));
		assert_memory_equal(q.qname, ldns_rdf_data(qn), q.qname_len);
		uint8_t low[DNAME_MAXLEN];
		dname_lower(low, ldns_rdf_data(qn));
		assert_memory_equal(q.qname_lower, low, q.qname_len);
		free(wire);
		ldns_pkt_free(pkt);
	}
}

/* ---- robustness sweeps --------------------------------------------------- */

/* A handful of packets covering each code path. */
static size_t sample_packets(struct pkt *out, size_t cap)
{
	size_t n = 0;
	size_t at;
	assert_true(cap >= 6);

	put_query(&out[n++], 0);

	put_query(&out[n], 1);
	at = opt_begin(&out[n], 1232, 0, 0, EDNS_DO_BIT);
	put_ecs(&out[n], 1, 24, 0, (const uint8_t *)"\xC0\x00\x02", 3);
	put_option(&out[n], EDNS_OPT_COOKIE, "0123456789abcdef", 16);
	opt_end(&out[n], at);
	n++;

	put_query(&out[n], 1);
	at = opt_begin(&out[n], 4096, 0, 0, 0);
	put_ecs(&out[n], 2, 56, 0, (const uint8_t *)"\x20\x01\x0d\xb8\x00\x01\x02", 7);
	opt_end(&out[n], at);
	n++;

	/* Compressed qname into the header, one record per section with
	 * compressed owners, OPT, TSIG. */
	put_header(&out[n], 0x0141, 0, 1, 1, 1, 2);
	put_u8(&out[n], 1);
	put_u8(&out[n], 'W');
	put_u8(&out[n], 0xC0);
	put_u8(&out[n], 0);
	put_u16(&out[n], DNS_TYPE_A);
	put_u16(&out[n], DNS_CLASS_IN);
	put_u8(&out[n], 0xC0);
	put_u8(&out[n], 12);
	put_u16(&out[n], DNS_TYPE_A);
	put_u16(&out[n], DNS_CLASS_IN);
	put_u32(&out[n], 60);
	put_u16(&out[n], 4);
	put_bytes(&out[n], "\x7f\0\0\1", 4);
	put_u8(&out[n], 1);
	put_u8(&out[n], 'n');
	put_u8(&out[n], 0xC0);
	put_u8(&out[n], 14);
	put_u16(&out[n], DNS_TYPE_NS);
	put_u16(&out[n], DNS_CLASS_IN);
	put_u32(&out[n], 60);
	put_u16(&out[n], 2);
	put_bytes(&out[n], "\xC0\x0C", 2);
	at = opt_begin(&out[n], 1400, 0, 0, 0);
	put_option(&out[n], EDNS_OPT_COOKIE, "abcdefgh", 8);
	opt_end(&out[n], at);
	put_u8(&out[n], 0xC0);
	put_u8(&out[n], 12);
	put_u16(&out[n], DNS_TYPE_TSIG);
	put_u16(&out[n], DNS_CLASS_ANY);
	put_u32(&out[n], 0);
	put_u16(&out[n], (uint16_t)TSIG_RDLEN);
	put_bytes(&out[n], (const char *)tsig_rdata, TSIG_RDLEN);
	n++;

	put_query(&out[n], 1);
	at = opt_begin(&out[n], 1232, 0, 1, 0);
	put_ecs(&out[n], 1, 0, 0, NULL, 0);
	opt_end(&out[n], at);
	n++;

	put_header(&out[n], 1, 0, 1, 0, 0, 0);
	put_u8(&out[n], 0);
	put_u16(&out[n], DNS_TYPE_SOA);
	put_u16(&out[n], DNS_CLASS_IN);
	n++;
	return n;
}

static void test_every_truncation(void **state)
{
	(void)state;
	struct pkt pk[8];
	struct dns_query q;
	size_t n = sample_packets(pk, 8);
	for (size_t i = 0; i < n; i++) {
		enum dns_parse_result full = parse(&pk[i], &q);
		assert_true(full == DNS_PARSE_OK || full == DNS_PARSE_BADVERS);
		for (size_t len = 0; len < pk[i].len; len++) {
			enum dns_parse_result r = parse_bytes(pk[i].b, len, &q);
			/* Each sample's counts promise more than a prefix has. */
			assert_int_equal(r,
					 len < DNS_HEADER_LEN ? DNS_PARSE_DROP : DNS_PARSE_FORMERR);
		}
	}
}

static void test_every_byte_mutation(void **state)
{
	(void)state;
	struct pkt pk[8];
	struct dns_query q;
	size_t n = sample_packets(pk, 8);
	unsigned long runs = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t pos = 0; pos < pk[i].len; pos++) {
			uint8_t orig = pk[i].b[pos];
			for (unsigned v = 0; v < 256; v++) {
				pk[i].b[pos] = (uint8_t)v;
				(void)parse(&pk[i], &q); /* invariants checked inside */
				runs++;
			}
			pk[i].b[pos] = orig;
		}
		/* Also every mutation of a truncated copy, and with a byte
		 * appended. */
		size_t half = pk[i].len / 2;
		for (size_t pos = 0; pos < half; pos++) {
			uint8_t orig = pk[i].b[pos];
			for (unsigned v = 0; v < 256; v += 3) {
				pk[i].b[pos] = (uint8_t)v;
				(void)parse_bytes(pk[i].b, half, &q);
				runs++;
			}
			pk[i].b[pos] = orig;
		}
	}
	assert_true(runs > 10000);
}

/* Deterministic pseudo-random packets: bounded count, reproducible. */
static void test_random_packets(void **state)
{
	(void)state;
	uint32_t x = 2463534242u; /* xorshift32 seed */
	struct pkt pk[8];
	struct dns_query q;
	size_t n = sample_packets(pk, 8);
	uint8_t buf[600];
	for (unsigned iter = 0; iter < 40000; iter++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		const struct pkt *base = &pk[x % n];
		size_t len = base->len;
		memcpy(buf, base->b, len);
		/* Flip 1..4 random bytes, sometimes to tag-like values. */
		unsigned flips = 1 + (x >> 8) % 4;
		for (unsigned f = 0; f < flips; f++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			static const uint8_t special[] = {0, 0xC0, 0x3F, 0x40, 0xFF, 41, 8, 10};
			uint8_t v = (x & 1) ? special[(x >> 1) % 8] : (uint8_t)(x >> 9);
			buf[(x >> 16) % len] = v;
		}
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		if (x % 4 == 0)
			len = x % (len + 1);
		(void)parse_bytes(buf, len, &q);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_query),
	    cmocka_unit_test(test_root_query),
	    cmocka_unit_test(test_edns_query),
	    cmocka_unit_test(test_mixed_case),
	    cmocka_unit_test(test_qname_pointer_into_header),
	    cmocka_unit_test(test_max_label_and_name),
	    cmocka_unit_test(test_name_too_long_via_pointer),
	    cmocka_unit_test(test_short_header_dropped),
	    cmocka_unit_test(test_response_dropped),
	    cmocka_unit_test(test_opcode_not_checked),
	    cmocka_unit_test(test_qdcount),
	    cmocka_unit_test(test_truncated_name_each_byte),
	    cmocka_unit_test(test_reserved_label_types),
	    cmocka_unit_test(test_bad_pointers_in_qname),
	    cmocka_unit_test(test_name_read),
	    cmocka_unit_test(test_name_read_pointer_rules),
	    cmocka_unit_test(test_records_skipped),
	    cmocka_unit_test(test_record_counts_exceed_data),
	    cmocka_unit_test(test_record_rdlength_overrun),
	    cmocka_unit_test(test_record_bad_owner),
	    cmocka_unit_test(test_trailing_bytes),
	    cmocka_unit_test(test_opt_placement),
	    cmocka_unit_test(test_options_walk),
	    cmocka_unit_test(test_ecs_valid),
	    cmocka_unit_test(test_ecs_invalid),
	    cmocka_unit_test(test_ecs_exhaustive_lengths),
	    cmocka_unit_test(test_cookie),
	    cmocka_unit_test(test_badvers),
	    cmocka_unit_test(test_ldns_built),
	    cmocka_unit_test(test_every_truncation),
	    cmocka_unit_test(test_every_byte_mutation),
	    cmocka_unit_test(test_random_packets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
