/* Unit tests: dns/notify_out (NOTIFY out, RFC 1996): the message (header,
 * question, SOA answer, TSIG when the target has a key), the target list of
 * a zone built from a real configuration and snapshot (notify.also, NS
 * addresses from our own data, each once, minus the SOA MNAME and our own
 * addresses), and reply matching (another ID, source or question ignored;
 * a signed reply verified, a tampered one not). Files are written to a
 * fresh temporary directory, removed at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the headers above it */
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/diag.h"
#include "common/err.h"
#include "conf/config.h"
#include "dns/notify_out.h"
#include "dns/snapshot.h"
#include "dns/tsig.h"
#include "dns/xfr_conf.h"
#include "wire/wire.h"

#define NOW_S 1700000000ull
#define KEY_LINE "hmac-sha256:k:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="

static char tmpdir[256];

/* ------------------------------------------------------------ helpers -- */

static const char *tmp_path(const char *name)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	FILE *f = fopen(tmp_path(name), "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(tmp_path(name), mode), 0);
}

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sovdns-test-notify-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	static const char *const files[] = {"c.json", "k.key", "a.zone", "b.zone", "c.zone"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(tmp_path(files[i]));
	rmdir(tmpdir);
	return 0;
}

static struct tsig_key key_of(const char *line)
{
	struct tsig_key k;
	char err[128];
	assert_int_equal(tsig_key_parse(line, &k, err, sizeof(err)), SOV_OK);
	return k;
}

static sov_sockaddr_t addr_of(const char *text)
{
	sov_sockaddr_t a;
	assert_int_equal(addr_parse(text, 53, &a), SOV_OK);
	return a;
}

/* SOA RDATA: ns1.a.test. h.a.test. 7 7200 3600 1209600 300 */
static const uint8_t soa_rdata[] = {3,	  'n', 's',  '1',  1,	'a', 4,	   't',	 'e', 's', 't',
				    0,	  1,   'h',  1,	   'a', 4,   't',  'e',	 's', 't', 0,
				    0,	  0,   0,    7,	   0,	0,   0x1c, 0x20, 0,   0,   0x0e,
				    0x10, 0,   0x12, 0x75, 0,	0,   0,	   1,	 0x2c};
static const uint8_t origin[] = "\x01"
				"a\x04test";

static struct notify_zone zone_a(void)
{
	struct notify_zone z = {origin, 7, 300, soa_rdata, sizeof(soa_rdata)};
	return z;
}

/* ------------------------------------------------------------ message -- */

static void test_query_unsigned(void **state)
{
	(void)state;
	uint8_t buf[NOTIFY_MSG_MAX];
	size_t len = 0;
	struct tsig_ctx ctx;
	struct notify_zone z = zone_a();
	assert_int_equal(notify_query_build(buf, sizeof(buf), 0x1234, &z, NULL, NOW_S, &ctx, &len),
			 SOV_OK);
	/* header: ID, opcode NOTIFY + AA (not QR, not RD), one question, one answer */
	assert_int_equal(wire_read_u16(buf), 0x1234);
	assert_int_equal(wire_read_u16(buf + 2), (4 << 11) | DNS_FLAG_AA);
	assert_int_equal(wire_read_u16(buf + 4), 1);
	assert_int_equal(wire_read_u16(buf + 6), 1);
	assert_int_equal(wire_read_u16(buf + 8), 0);
	assert_int_equal(wire_read_u16(buf + 10), 0);
	/* the question is the zone's SOA, and a query parser reads it whole */
	struct dns_query q;
	assert_int_equal(dns_query_parse(buf, len, &q), DNS_PARSE_OK);
	assert_int_equal(DNS_OPCODE(q.flags), DNS_OPCODE_NOTIFY);
	assert_true(dname_equal(q.qname, origin));
	assert_int_equal(q.qtype, DNS_TYPE_SOA);
	assert_int_equal(q.qclass, DNS_CLASS_IN);
	assert_false(q.has_tsig);
	/* the answer: owner compressed to the question, SOA IN, TTL, the RDATA */
	const uint8_t *an = buf + q.question_end;
	assert_int_equal(wire_read_u16(an), 0xC00C);
	assert_int_equal(wire_read_u16(an + 2), DNS_TYPE_SOA);
	assert_int_equal(wire_read_u16(an + 4), DNS_CLASS_IN);
	assert_int_equal(wire_read_u32(an + 6), 300);
	assert_int_equal(wire_read_u16(an + 10), sizeof(soa_rdata));
	assert_memory_equal(an + 12, soa_rdata, sizeof(soa_rdata));
	assert_int_equal(len, (size_t)(an + 12 - buf) + sizeof(soa_rdata));
	tsig_ctx_clear(&ctx);

	/* too small a buffer, or RDATA that is not a SOA */
	assert_int_equal(notify_query_build(buf, 20, 1, &z, NULL, NOW_S, &ctx, &len), SOV_ESPACE);
	z.soa_rdata_len = 10;
	assert_int_equal(notify_query_build(buf, sizeof(buf), 1, &z, NULL, NOW_S, &ctx, &len),
			 SOV_EINVAL);
}

static void test_query_signed(void **state)
{
	(void)state;
	struct tsig_key k = key_of(KEY_LINE);
	uint8_t buf[NOTIFY_MSG_MAX];
	size_t len = 0;
	struct tsig_ctx ctx;
	struct notify_zone z = zone_a();
	assert_int_equal(notify_query_build(buf, sizeof(buf), 77, &z, &k, NOW_S, &ctx, &len),
			 SOV_OK);
	struct dns_query q;
	assert_int_equal(dns_query_parse(buf, len, &q), DNS_PARSE_OK);
	assert_true(q.has_tsig);
	assert_int_equal(q.arcount, 1);
	/* the secondary's side: the signature verifies with the shared key */
	struct tsig_keyring ring = {&k, 1, false};
	struct tsig_ctx srv;
	struct tsig_verdict v;
	tsig_ctx_init(&srv, NULL);
	assert_int_equal(tsig_verify_request(&ring, buf, len, q.tsig_offset, NOW_S + 5, &srv, &v),
			 SOV_OK);
	assert_int_equal(v.rcode, 0);
	assert_int_equal(v.error, TSIG_ERR_NONE);

	/* its signed answer verifies against the request MAC we kept... */
	uint8_t rep[NOTIFY_MSG_MAX];
	size_t rlen = q.tsig_offset;
	memcpy(rep, buf, rlen);
	wire_write_u16(rep + 2, DNS_FLAG_QR | (4 << 11) | DNS_FLAG_AA);
	wire_write_u16(rep + 10, 0);
	assert_int_equal(tsig_sign(&srv, rep, &rlen, sizeof(rep), NOW_S + 5, 0), SOV_OK);
	uint8_t copy[NOTIFY_MSG_MAX];
	memcpy(copy, rep, rlen);
	size_t clen = rlen;
	char err[160];
	/* ...a tampered copy does not (and leaves the context usable)... */
	copy[q.question_end + 9] ^= 1; /* the SOA's TTL */
	assert_int_not_equal(tsig_verify_reply(&ctx, copy, &clen, NOW_S + 6, err, sizeof(err)),
			     SOV_OK);
	size_t ok_len = rlen;
	assert_int_equal(tsig_verify_reply(&ctx, rep, &ok_len, NOW_S + 6, err, sizeof(err)),
			 SOV_OK);
	assert_true(tsig_reply_complete(&ctx));
	tsig_ctx_clear(&ctx);
	tsig_ctx_clear(&srv);

	/* ...and an unsigned answer to a signed query is no acknowledgement */
	assert_int_equal(notify_query_build(buf, sizeof(buf), 78, &z, &k, NOW_S, &ctx, &len),
			 SOV_OK);
	rlen = q.tsig_offset;
	memcpy(rep, buf, rlen);
	wire_write_u16(rep + 2, DNS_FLAG_QR | (4 << 11) | DNS_FLAG_AA);
	wire_write_u16(rep + 10, 0);
	assert_int_not_equal(tsig_verify_reply(&ctx, rep, &rlen, NOW_S, err, sizeof(err)), SOV_OK);
	tsig_ctx_clear(&ctx);
}

/* ------------------------------------------------------------ matching -- */

static void test_reply_match(void **state)
{
	(void)state;
	uint8_t buf[NOTIFY_MSG_MAX];
	size_t len = 0;
	struct tsig_ctx ctx;
	struct notify_zone z = zone_a();
	assert_int_equal(notify_query_build(buf, sizeof(buf), 4242, &z, NULL, NOW_S, &ctx, &len),
			 SOV_OK);
	/* the answer: same message with QR set (the question in other case) */
	uint8_t rep[NOTIFY_MSG_MAX];
	memcpy(rep, buf, len);
	wire_write_u16(rep + 2, DNS_FLAG_QR | (4 << 11) | DNS_FLAG_AA);
	rep[DNS_HEADER_LEN + 1] = 'A';
	sov_sockaddr_t to = addr_of("192.0.2.9:5300");
	sov_sockaddr_t same = to, other_port = addr_of("192.0.2.9:53"),
		       other_addr = addr_of("192.0.2.8:5300"), v6 = addr_of("[2001:db8::9]:5300");
	const struct sockaddr *from = (const struct sockaddr *)&same.ss;
	uint8_t rc = 99;
	assert_int_equal(notify_reply_match(rep, len, from, &to, 4242, origin, &rc),
			 NOTIFY_MATCH_REPLY);
	assert_int_equal(rc, DNS_RCODE_NOERROR);
	/* another ID, port, address or family */
	assert_int_equal(notify_reply_match(rep, len, from, &to, 4243, origin, &rc),
			 NOTIFY_MATCH_NONE);
	assert_int_equal(
	    notify_reply_match(rep, len, (struct sockaddr *)&other_port.ss, &to, 4242, origin, &rc),
	    NOTIFY_MATCH_NONE);
	assert_int_equal(
	    notify_reply_match(rep, len, (struct sockaddr *)&other_addr.ss, &to, 4242, origin, &rc),
	    NOTIFY_MATCH_NONE);
	assert_int_equal(
	    notify_reply_match(rep, len, (struct sockaddr *)&v6.ss, &to, 4242, origin, &rc),
	    NOTIFY_MATCH_NONE);
	/* another zone in the question */
	assert_int_equal(notify_reply_match(rep, len, from, &to, 4242,
					    (const uint8_t *)"\x01"
							     "b\x04test",
					    &rc),
			 NOTIFY_MATCH_NONE);
	/* our own query (QR clear), or a reply of another opcode */
	assert_int_equal(notify_reply_match(buf, len, from, &to, 4242, origin, &rc),
			 NOTIFY_MATCH_NONE);
	wire_write_u16(rep + 2, DNS_FLAG_QR | DNS_FLAG_AA);
	assert_int_equal(notify_reply_match(rep, len, from, &to, 4242, origin, &rc),
			 NOTIFY_MATCH_NONE);
	/* NOTIMP, with the question or without it (some servers drop it) */
	wire_write_u16(rep + 2, DNS_FLAG_QR | (4 << 11) | DNS_RCODE_NOTIMP);
	assert_int_equal(notify_reply_match(rep, len, from, &to, 4242, origin, &rc),
			 NOTIFY_MATCH_REPLY);
	assert_int_equal(rc, DNS_RCODE_NOTIMP);
	wire_write_u16(rep + 4, 0);
	wire_write_u16(rep + 6, 0);
	assert_int_equal(notify_reply_match(rep, DNS_HEADER_LEN, from, &to, 4242, origin, &rc),
			 NOTIFY_MATCH_REPLY);
	assert_int_equal(rc, DNS_RCODE_NOTIMP);
	/* but a NOERROR without the question is no answer to ours */
	wire_write_u16(rep + 2, DNS_FLAG_QR | (4 << 11));
	assert_int_equal(notify_reply_match(rep, DNS_HEADER_LEN, from, &to, 4242, origin, &rc),
			 NOTIFY_MATCH_NONE);
	/* short or truncated datagrams */
	assert_int_equal(notify_reply_match(rep, 11, from, &to, 4242, origin, &rc),
			 NOTIFY_MATCH_NONE);
	memcpy(rep, buf, len);
	wire_write_u16(rep + 2, DNS_FLAG_QR | (4 << 11));
	assert_int_equal(notify_reply_match(rep, DNS_HEADER_LEN + 3, from, &to, 4242, origin, &rc),
			 NOTIFY_MATCH_NONE);
	tsig_ctx_clear(&ctx);
}

/* ------------------------------------------------------------- targets -- */

static const char zone_a_text[] = "$ORIGIN a.test.\n"
				  "$TTL 300\n"
				  "@ SOA ns1 h 7 7200 3600 1209600 300\n"
				  "@ NS ns1\n"
				  "@ NS ns2\n"
				  "@ NS ns3.b.test.\n"
				  "@ NS ns4\n"
				  "@ NS ns.elsewhere.example.\n"
				  "@ NS ns5.sub\n"
				  "ns1 A 192.0.2.1\n" /* the MNAME: never notified */
				  "ns2 A 192.0.2.2\n"
				  "ns2 AAAA 2001:db8::2\n"
				  "ns4 A 192.0.2.9\n" /* also in notify.also: once, with its key */
				  "ns4 A 192.0.2.4\n" /* our own address */
				  "ns4 A 192.0.2.1\n" /* the MNAME's address under another name */
				  "sub NS ns5.sub\n"  /* a delegation whose glue we hold */
				  "ns5.sub A 203.0.113.5\n";
static const char zone_b_text[] = "$ORIGIN b.test.\n"
				  "$TTL 300\n"
				  "@ SOA ns3 h 1 7200 3600 1209600 300\n"
				  "@ NS ns3\n"
				  "ns3 A 198.51.100.3\n";

static const char zone_c_text[] = "$ORIGIN c.test.\n"
				  "$TTL 300\n"
				  "@ SOA ns1.b.test. h 1 7200 3600 1209600 300\n"
				  "@ NS ns2.a.test.\n";

static const char conf_text[] =
    "{\"listen\": [\"192.0.2.4:53\"],\n"
    " \"tsig\": {\"keys\": [{\"file\": \"k.key\"}]},\n"
    " \"zones\": [\n"
    "  {\"origin\": \"a.test\", \"file\": \"a.zone\",\n"
    "   \"transfer\": {\"allow\": [{\"from\": \"203.0.113.0/24\"},\n"
    "                            {\"from\": \"198.51.100.0/24\", \"key\": \"k\"}]},\n"
    "   \"notify\": {\"also\": [{\"address\": \"192.0.2.9\", \"key\": \"k\"},\n"
    "                         {\"address\": \"192.0.2.10:5300\"},\n"
    "                         {\"address\": \"192.0.2.4:53\"},\n"
    "                         {\"address\": \"192.0.2.10:5300\"}]}},\n"
    "  {\"origin\": \"b.test\", \"file\": \"b.zone\"},\n"
    "  {\"origin\": \"c.test\", \"file\": \"c.zone\", \"notify\": {\"ns\": false}}]}\n";

static snapshot_t *load_snapshot(const char *conf)
{
	write_file("k.key", KEY_LINE "\n", 0600);
	write_file("a.zone", zone_a_text, 0644);
	write_file("b.zone", zone_b_text, 0644);
	write_file("c.zone", zone_c_text, 0644);
	write_file("c.json", conf, 0644);
	diag_t *d = diag_new();
	config_t *c = NULL;
	snapshot_t *s = NULL;
	int r = config_load(tmp_path("c.json"), &c, d);
	if (r == SOV_OK)
		r = snapshot_build(c, &s, d);
	for (size_t i = 0; i < diag_count(d); i++)
		fprintf(stderr, "%s\n", diag_get(d, i));
	diag_free(d);
	return r == SOV_OK ? s : NULL;
}

static void expect_target(const struct notify_target *t, const char *addr, bool key, bool ns)
{
	char buf[ADDR_STR_MAX];
	addr_format((const struct sockaddr *)&t->addr.ss, buf, sizeof(buf));
	assert_string_equal(buf, addr);
	assert_int_equal(t->has_key, key);
	assert_int_equal(t->from_ns, ns);
	if (key)
		assert_memory_equal(t->key.name, "\x01k", 3);
}

static void test_targets(void **state)
{
	(void)state;
	snapshot_t *s = load_snapshot(conf_text);
	assert_non_null(s);
	sov_sockaddr_t own[2] = {addr_of("192.0.2.4:53"), addr_of("[2001:db8::4]:53")};

	struct notify_target *t = NULL;
	size_t n = 0;
	assert_int_equal(notify_targets_build(s, 0, own, 2, &t, &n), SOV_OK);
	assert_int_equal(n, 6);
	/* notify.also first, each once, ours removed; then the NS addresses in
	 * NS order: ns2 (A, AAAA), ns3 in the other zone (signed with the key
	 * of the transfer rule that holds its address), ns4 (already listed,
	 * ours, the MNAME's), ns5 from the glue; ns1 (MNAME) and the name we
	 * hold no address for are skipped */
	expect_target(&t[0], "192.0.2.9:53", true, false);
	expect_target(&t[1], "192.0.2.10:5300", false, false);
	expect_target(&t[2], "192.0.2.2:53", false, true);
	expect_target(&t[3], "[2001:db8::2]:53", false, true);
	expect_target(&t[4], "198.51.100.3:53", true, true);
	expect_target(&t[5], "203.0.113.5:53", false, true);
	notify_targets_free(t, n);

	/* b.test: its one NS is its MNAME, and it has no notify.also */
	assert_int_equal(notify_targets_build(s, 1, own, 2, &t, &n), SOV_OK);
	assert_int_equal(n, 0);
	assert_null(t);
	/* without our own list, ours stays in */
	assert_int_equal(notify_targets_build(s, 0, NULL, 0, &t, &n), SOV_OK);
	assert_int_equal(n, 7);
	expect_target(&t[2], "192.0.2.4:53", false, false);
	notify_targets_free(t, n);
	/* notify.ns false: not even the NS names of another zone's data */
	assert_int_equal(notify_targets_build(s, 2, own, 2, &t, &n), SOV_OK);
	assert_int_equal(n, 0);
	/* a zone index out of range: nothing */
	assert_int_equal(notify_targets_build(s, 9, own, 2, &t, &n), SOV_OK);
	assert_int_equal(n, 0);
	snapshot_free(s);
}

static void test_targets_ns_off(void **state)
{
	(void)state;
	const char *conf = "{\"listen\": [\"192.0.2.4:53\"],\n"
			   " \"zones\": [{\"origin\": \"a.test\", \"file\": \"a.zone\",\n"
			   "   \"notify\": {\"ns\": false,\n"
			   "              \"also\": [{\"address\": \"[2001:db8::7]:5300\"}]}}]}\n";
	snapshot_t *s = load_snapshot(conf);
	assert_non_null(s);
	struct notify_target *t = NULL;
	size_t n = 0;
	assert_int_equal(notify_targets_build(s, 0, NULL, 0, &t, &n), SOV_OK);
	assert_int_equal(n, 1);
	expect_target(&t[0], "[2001:db8::7]:5300", false, false);
	notify_targets_free(t, n);
	snapshot_free(s);
}

/* "notify" is accepted now (it was refused until NOTIFY out existed); its
 * errors still name the value. */
static void test_notify_config(void **state)
{
	(void)state;
	snapshot_t *s = load_snapshot(conf_text);
	assert_non_null(s);
	assert_int_equal(s->xfr->zones[0].notify_count, 4);
	assert_true(s->xfr->zones[0].notify_ns);
	assert_int_equal(s->xfr->zones[0].notify[0].key, 0);
	assert_int_equal(s->xfr->zones[0].notify[1].key, -1);
	assert_true(s->xfr->zones[1].notify_ns); /* the default */
	assert_false(s->xfr->zones[2].notify_ns);
	snapshot_free(s);
	assert_null(load_snapshot("{\"listen\": [\"192.0.2.4:53\"],\n"
				  " \"zones\": [{\"origin\": \"a.test\", \"file\": \"a.zone\",\n"
				  "   \"notify\": {\"ns\": 1, \"also\": []}}]}\n"));
}

/* ------------------------------------------------------------ notifier -- */

/* The thread starts and stops at once, a queued version is replaced by a
 * newer one, and nothing leaks (the sanitizer run checks). */
static void test_notifier_lifecycle(void **state)
{
	(void)state;
	sov_sockaddr_t src = addr_of("127.0.0.1");
	notifier_t *n = NULL;
	assert_int_equal(notifier_new(&src, 1, &n), SOV_OK);
	struct notify_target t;
	memset(&t, 0, sizeof(t));
	t.addr = addr_of("127.0.0.1:9"); /* discard: nobody answers */
	struct notify_zone z = zone_a();
	assert_int_equal(notifier_zone_changed(n, &z, &t, 1), SOV_OK);
	z.serial = 8;
	assert_int_equal(notifier_zone_changed(n, &z, &t, 1), SOV_OK);
	z.soa_rdata_len = 3;
	assert_int_equal(notifier_zone_changed(n, &z, &t, 1), SOV_EINVAL);
	struct notifier_stats st;
	notifier_stats(n, &st);
	assert_int_equal(st.acked, 0);
	notifier_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_unsigned),
	    cmocka_unit_test(test_query_signed),
	    cmocka_unit_test(test_reply_match),
	    cmocka_unit_test_setup_teardown(test_targets, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_targets_ns_off, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_notify_config, setup_dir, teardown_dir),
	    cmocka_unit_test(test_notifier_lifecycle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
