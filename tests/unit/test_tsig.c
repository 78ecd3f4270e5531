/* test_tsig.c — unit tests of dns/tsig.c (RFC 8945) against messages signed
 * by dnspython (tsig/make_vectors.py, run at build time): we must accept
 * what it signs, and sign byte for byte what it signs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the headers above it */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "dns/tsig.h"
#include "tsig_vectors.h"
#include "wire/wire.h"

#define KEYLINE(alg) alg ":transfer.example.:" TSIG_VEC_SECRET

static struct tsig_key key_of(const char *line)
{
	struct tsig_key k;
	char err[200] = "";
	int r = tsig_key_parse(line, &k, err, sizeof(err));
	if (r != SOV_OK)
		fail_msg("tsig_key_parse(%s): %s", line, err);
	return k;
}

static void test_key_parse(void **state)
{
	(void)state;
	struct tsig_key k = key_of("  hmac-sha512:Transfer.Example:" TSIG_VEC_SECRET "\n");
	assert_int_equal(k.alg, TSIG_HMAC_SHA512);
	assert_int_equal(k.secret_len, 32);
	assert_memory_equal(k.name,
			    "\x08transfer\x07"
			    "example\x00",
			    18);
	k = key_of("transfer.example.:" TSIG_VEC_SECRET); /* no algorithm: sha256 */
	assert_int_equal(k.alg, TSIG_HMAC_SHA256);
	k = key_of("HMAC-MD5.SIG-ALG.REG.INT.:k:" TSIG_VEC_SECRET);
	assert_int_equal(k.alg, TSIG_HMAC_MD5);

	static const char *bad[] = {
	    "nothing-here",
	    "hmac-sha999:k:" TSIG_VEC_SECRET,
	    "hmac-sha256::" TSIG_VEC_SECRET,
	    "hmac-sha256:k:not base64!",
	    "hmac-sha256:k:c2VjcmV0", /* fine... */
	    "hmac-sha256:k:c2VjcmV",  /* length not a multiple of 4 */
	    "hmac-sha256:k:c2=jcmV0", /* padding inside */
	    "hmac-sha256:k:",
	    "hmac-sha256:.:" TSIG_VEC_SECRET, /* the root is no key name */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[200] = "";
		int r = tsig_key_parse(bad[i], &k, err, sizeof(err));
		if (i == 4) {
			assert_int_equal(r, SOV_OK);
			continue;
		}
		if (r == SOV_OK)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
		assert_null(strstr(err, "c2VjcmV")); /* never the secret in a message */
	}
}

static const char *alg_lines[TSIG_ALG_COUNT] = {
    KEYLINE("hmac-md5"),    KEYLINE("hmac-sha1"),   KEYLINE("hmac-sha224"),
    KEYLINE("hmac-sha256"), KEYLINE("hmac-sha384"), KEYLINE("hmac-sha512"),
};

static const uint8_t *queries[TSIG_ALG_COUNT] = {
    tsig_vec_query_0, tsig_vec_query_1, tsig_vec_query_2,
    tsig_vec_query_3, tsig_vec_query_4, tsig_vec_query_5,
};
static const size_t query_lens[TSIG_ALG_COUNT] = {
    sizeof(tsig_vec_query_0), sizeof(tsig_vec_query_1), sizeof(tsig_vec_query_2),
    sizeof(tsig_vec_query_3), sizeof(tsig_vec_query_4), sizeof(tsig_vec_query_5),
};

static size_t tsig_offset(const uint8_t *msg, size_t len)
{
	size_t off = 0;
	assert_int_equal(tsig_find(msg, len, &off), SOV_OK);
	return off;
}

/* dnspython's signed queries verify, for every algorithm. */
static void test_verify_dnspython_queries(void **state)
{
	(void)state;
	for (int a = 0; a < TSIG_ALG_COUNT; a++) {
		struct tsig_key k = key_of(alg_lines[a]);
		struct tsig_keyring ring = {&k, 1, true};
		struct tsig_ctx ctx;
		struct tsig_verdict v;
		size_t off = tsig_offset(queries[a], query_lens[a]);
		assert_int_equal(tsig_verify_request(&ring, queries[a], query_lens[a], off,
						     TSIG_VEC_NOW, &ctx, &v),
				 SOV_OK);
		if (v.rcode != 0)
			fail_msg("alg %d: rcode %u error %u", a, v.rcode, v.error);
		assert_int_equal(ctx.mac_len, tsig_alg_mac_len(k.alg));
		tsig_ctx_clear(&ctx);
	}
}

static void verdict_at(const struct tsig_keyring *ring, const uint8_t *msg, size_t len, size_t off,
		       uint64_t now, uint8_t rcode, uint16_t error)
{
	struct tsig_ctx ctx;
	struct tsig_verdict v;
	int r = tsig_verify_request(ring, msg, len, off, now, &ctx, &v);
	assert_true(r == SOV_OK || r == SOV_EMALF);
	if (v.rcode != rcode || v.error != error)
		fail_msg("got rcode %u error %u, want %u %u", v.rcode, v.error, rcode, error);
	if (v.rcode == 0)
		tsig_ctx_clear(&ctx);
}

static void verdict(const struct tsig_keyring *ring, const uint8_t *msg, size_t len, uint64_t now,
		    uint8_t rcode, uint16_t error)
{
	verdict_at(ring, msg, len, tsig_offset(msg, len), now, rcode, error);
}

/* The RFC's errors, in its order (§5.2). */
static void test_request_errors(void **state)
{
	(void)state;
	struct tsig_key k = key_of(KEYLINE("hmac-sha256"));
	struct tsig_keyring ring = {&k, 1, false};
	const uint8_t *q = tsig_vec_query_3;
	size_t len = sizeof(tsig_vec_query_3);
	uint8_t m[512];
	memcpy(m, q, len);

	verdict(&ring, m, len, TSIG_VEC_NOW, 0, 0);
	verdict(&ring, m, len, TSIG_VEC_NOW + 300, 0, 0);		 /* at the fudge */
	verdict(&ring, m, len, TSIG_VEC_NOW + 301, 9, TSIG_ERR_BADTIME); /* past it */
	verdict(&ring, m, len, TSIG_VEC_NOW - 301, 9, TSIG_ERR_BADTIME);

	/* Any byte of the signed part changed: BADSIG. */
	size_t off = tsig_offset(m, len);
	for (size_t i = 0; i < off; i++) {
		if (i == 10 || i == 11)
			continue; /* ARCOUNT: changing it breaks the record walk */
		m[i] ^= 0x01;
		if (i != 0 && i != 1) /* the ID is replaced by the original ID */
			verdict_at(&ring, m, len, off, TSIG_VEC_NOW, 9, TSIG_ERR_BADSIG);
		m[i] ^= 0x01;
	}

	/* Other key, other secret, MD5 not allowed: BADKEY / BADSIG. */
	struct tsig_key other = key_of("hmac-sha256:other.example.:" TSIG_VEC_SECRET);
	struct tsig_keyring ring2 = {&other, 1, false};
	verdict(&ring2, m, len, TSIG_VEC_NOW, 9, TSIG_ERR_BADKEY);
	struct tsig_key wrong = key_of("hmac-sha256:transfer.example.:c2VjcmV0");
	struct tsig_keyring ring3 = {&wrong, 1, false};
	verdict(&ring3, m, len, TSIG_VEC_NOW, 9, TSIG_ERR_BADSIG);
	struct tsig_key md5 = key_of(KEYLINE("hmac-md5"));
	struct tsig_keyring ring4 = {&md5, 1, false};
	verdict(&ring4, tsig_vec_query_0, sizeof(tsig_vec_query_0), TSIG_VEC_NOW, 9,
		TSIG_ERR_BADKEY);
	struct tsig_keyring empty = {NULL, 0, false};
	verdict(&empty, m, len, TSIG_VEC_NOW, 9, TSIG_ERR_BADKEY);
}

/* A MAC cut short: within policy bounds → BADTRUNC, below → FORMERR. */
static void test_truncated_mac(void **state)
{
	(void)state;
	struct tsig_key k = key_of(KEYLINE("hmac-sha256"));
	struct tsig_keyring ring = {&k, 1, false};
	uint8_t m[512];
	size_t len = sizeof(tsig_vec_query_3);
	memcpy(m, tsig_vec_query_3, len);
	size_t off = tsig_offset(m, len);
	struct tsig_rr rr;
	assert_int_equal(tsig_rr_parse(m, len, off, &rr), SOV_OK);
	for (unsigned keep = 0; keep < 32; keep++) {
		uint8_t t[512];
		size_t mac_at = (size_t)(rr.mac - m);
		memcpy(t, m, mac_at);
		size_t tl = mac_at;
		memcpy(t + tl, rr.mac, keep);
		tl += keep;
		memcpy(t + tl, rr.mac + 32, len - mac_at - 32);
		tl += len - mac_at - 32;
		wire_write_u16(t + mac_at - 2, (uint16_t)keep);
		size_t rdlen_at = off + 18 + 10 - 2; /* owner (18 bytes), type, class, ttl */
		wire_write_u16(t + rdlen_at, (uint16_t)(wire_read_u16(m + rdlen_at) - (32 - keep)));
		verdict(&ring, t, tl, TSIG_VEC_NOW, keep >= 16 ? 9 : 1,
			keep >= 16 ? TSIG_ERR_BADTRUNC : 0);
	}
}

static void test_malformed_records(void **state)
{
	(void)state;
	struct tsig_key k = key_of(KEYLINE("hmac-sha256"));
	struct tsig_keyring ring = {&k, 1, false};
	size_t len = sizeof(tsig_vec_query_3);
	size_t off = tsig_offset(tsig_vec_query_3, len);
	struct tsig_rr rr;
	/* Every truncation of the record is malformed, never a crash. */
	for (size_t cut = off; cut < len; cut++) {
		assert_int_not_equal(tsig_rr_parse(tsig_vec_query_3, cut, off, &rr), SOV_OK);
		struct tsig_ctx ctx;
		struct tsig_verdict v;
		assert_int_equal(
		    tsig_verify_request(&ring, tsig_vec_query_3, cut, off, TSIG_VEC_NOW, &ctx, &v),
		    SOV_EMALF);
		assert_int_equal(v.rcode, 1);
	}
	/* Class not ANY, TTL not 0, a byte too many. */
	uint8_t m[512];
	memcpy(m, tsig_vec_query_3, len);
	m[off + 18 + 3] = 1; /* class IN */
	assert_int_equal(tsig_rr_parse(m, len, off, &rr), SOV_EMALF);
	memcpy(m, tsig_vec_query_3, len);
	m[off + 18 + 7] = 1; /* TTL 1 */
	assert_int_equal(tsig_rr_parse(m, len, off, &rr), SOV_EMALF);
	memcpy(m, tsig_vec_query_3, len);
	m[len] = 0;
	assert_int_equal(tsig_rr_parse(m, len + 1, off, &rr), SOV_EMALF);
}

/* Strips a message's TSIG record (what the signer saw). */
static size_t strip(uint8_t *m, size_t len)
{
	size_t off = tsig_offset(m, len);
	wire_write_u16(m + 10, (uint16_t)(wire_read_u16(m + 10) - 1));
	return off;
}

/* Our signature of dnspython's reply, at the same time, is dnspython's
 * byte for byte (the reply chains the request MAC, then the previous MAC
 * with timers only); and our client side verifies dnspython's replies. */
static void test_multi_message_reply(void **state)
{
	(void)state;
	struct tsig_key k = key_of(KEYLINE("hmac-sha256"));
	struct tsig_keyring ring = {&k, 1, false};
	const uint8_t *rep[3] = {tsig_vec_xfr_reply_0, tsig_vec_xfr_reply_1, tsig_vec_xfr_reply_2};
	const size_t rep_len[3] = {sizeof(tsig_vec_xfr_reply_0), sizeof(tsig_vec_xfr_reply_1),
				   sizeof(tsig_vec_xfr_reply_2)};

	struct tsig_ctx srv;
	struct tsig_verdict v;
	size_t qlen = sizeof(tsig_vec_xfr_query);
	assert_int_equal(tsig_verify_request(&ring, tsig_vec_xfr_query, qlen,
					     tsig_offset(tsig_vec_xfr_query, qlen), TSIG_VEC_NOW,
					     &srv, &v),
			 SOV_OK);
	assert_int_equal(v.rcode, 0);
	for (int n = 0; n < 3; n++) {
		uint8_t m[512];
		memcpy(m, rep[n], rep_len[n]);
		size_t len = strip(m, rep_len[n]);
		assert_int_equal(tsig_sign(&srv, m, &len, sizeof(m), TSIG_VEC_NOW, 0), SOV_OK);
		assert_int_equal(len, rep_len[n]);
		assert_memory_equal(m, rep[n], len);
	}
	tsig_ctx_clear(&srv);

	/* Client side: sign the query ourselves (same bytes as dnspython's),
	 * then verify dnspython's three replies. */
	struct tsig_ctx cli;
	tsig_ctx_init(&cli, &k);
	uint8_t q[512];
	memcpy(q, tsig_vec_xfr_query, qlen);
	size_t ql = strip(q, qlen);
	assert_int_equal(tsig_sign(&cli, q, &ql, sizeof(q), TSIG_VEC_NOW, 0), SOV_OK);
	assert_memory_equal(q, tsig_vec_xfr_query, qlen);
	for (int n = 0; n < 3; n++) {
		uint8_t m[512];
		memcpy(m, rep[n], rep_len[n]);
		size_t len = rep_len[n];
		char err[200] = "";
		int r = tsig_verify_reply(&cli, m, &len, TSIG_VEC_NOW + 10, err, sizeof(err));
		if (r != SOV_OK)
			fail_msg("reply %d: %s", n, err);
		assert_true(len < rep_len[n]);
		assert_true(tsig_reply_complete(&cli));
	}
	tsig_ctx_clear(&cli);
}

/* Our server signs, our client verifies: unsigned messages in between are
 * folded in (up to 99), a changed byte or a missing first MAC fails. */
static void test_roundtrip_with_unsigned(void **state)
{
	(void)state;
	struct tsig_key k = key_of(KEYLINE("hmac-sha384"));
	struct tsig_keyring ring = {&k, 1, false};
	struct tsig_ctx cli, srv;
	uint8_t q[512];
	size_t qlen = sizeof(tsig_vec_query_3) - 0;
	/* An unsigned query: the SOA query of the vectors without its TSIG. */
	memcpy(q, tsig_vec_query_3, qlen);
	qlen = strip(q, qlen);
	tsig_ctx_init(&cli, &k);
	assert_int_equal(tsig_sign(&cli, q, &qlen, sizeof(q), 1000, 0), SOV_OK);
	struct tsig_verdict v;
	assert_int_equal(tsig_verify_request(&ring, q, qlen, tsig_offset(q, qlen), 1001, &srv, &v),
			 SOV_OK);
	assert_int_equal(v.rcode, 0);

	/* Every message signed. */
	struct tsig_ctx s0 = srv, c0 = cli;
	for (int n = 0; n < 6; n++) {
		uint8_t m[512];
		memcpy(m, q, 12);
		wire_write_u16(m + 2, 0x8400);
		wire_write_u16(m + 4, 0);
		wire_write_u16(m + 10, 0);
		size_t len = 12;
		assert_int_equal(tsig_sign(&s0, m, &len, sizeof(m), 1002, 0), SOV_OK);
		char err[200] = "";
		int r = tsig_verify_reply(&c0, m, &len, 1003, err, sizeof(err));
		if (r != SOV_OK)
			fail_msg("message %d: %s", n, err);
		assert_int_equal(len, 12);
	}
	assert_true(tsig_reply_complete(&c0));

	/* After one signed message, 99 unsigned in a row are folded in, the
	 * 100th is refused. */
	struct tsig_ctx s2 = srv, c2 = cli;
	int r = SOV_OK;
	for (int n = 0; n < 102 && r == SOV_OK; n++) {
		uint8_t m[512];
		memcpy(m, q, 12);
		wire_write_u16(m + 4, 0);
		wire_write_u16(m + 10, 0);
		size_t len = 12;
		if (n == 0)
			assert_int_equal(tsig_sign(&s2, m, &len, sizeof(m), 1002, 0), SOV_OK);
		r = tsig_verify_reply(&c2, m, &len, 1003, NULL, 0);
		if (n <= 99)
			assert_int_equal(r, SOV_OK);
		assert_false(n > 0 && tsig_reply_complete(&c2));
	}
	assert_int_equal(r, SOV_EINVAL);
	tsig_ctx_clear(&c2);

	/* The first reply message unsigned, or tampered: refused. */
	struct tsig_ctx c = cli;
	c.open = NULL;
	uint8_t m[512];
	memcpy(m, q, 12);
	wire_write_u16(m + 4, 0);
	wire_write_u16(m + 10, 0);
	size_t len = 12;
	assert_int_equal(tsig_verify_reply(&c, m, &len, 1003, NULL, 0), SOV_EINVAL);
	struct tsig_ctx s = srv;
	assert_int_equal(tsig_sign(&s, m, &len, sizeof(m), 1002, 0), SOV_OK);
	m[3] ^= 1;
	assert_int_equal(tsig_verify_reply(&c, m, &len, 1003, NULL, 0), SOV_EINVAL);
	m[3] ^= 1;
	assert_int_equal(tsig_verify_reply(&c, m, &len, 2000, NULL, 0), SOV_EINVAL); /* late */
	tsig_ctx_clear(&c);
	tsig_ctx_clear(&cli);
	tsig_ctx_clear(&srv);
}

/* dnspython's sparse reply (signed, two unsigned, signed) verifies; the
 * same with a byte of an unsigned message changed does not. */
static void test_sparse_reply(void **state)
{
	(void)state;
	struct tsig_key k = key_of(KEYLINE("hmac-sha256"));
	const uint8_t *rep[4] = {tsig_vec_sparse_0, tsig_vec_sparse_1, tsig_vec_sparse_2,
				 tsig_vec_sparse_3};
	const size_t rep_len[4] = {sizeof(tsig_vec_sparse_0), sizeof(tsig_vec_sparse_1),
				   sizeof(tsig_vec_sparse_2), sizeof(tsig_vec_sparse_3)};
	for (int tamper = 0; tamper < 2; tamper++) {
		struct tsig_ctx cli;
		tsig_ctx_init(&cli, &k);
		uint8_t q[512];
		size_t qlen = sizeof(tsig_vec_xfr_query);
		memcpy(q, tsig_vec_xfr_query, qlen);
		size_t ql = strip(q, qlen);
		assert_int_equal(tsig_sign(&cli, q, &ql, sizeof(q), TSIG_VEC_NOW, 0), SOV_OK);
		int r = SOV_OK;
		for (int n = 0; n < 4; n++) {
			uint8_t m[512];
			memcpy(m, rep[n], rep_len[n]);
			if (tamper && n == 2)
				m[rep_len[n] - 1] ^= 1;
			size_t len = rep_len[n];
			char err[200] = "";
			r = tsig_verify_reply(&cli, m, &len, TSIG_VEC_NOW, err, sizeof(err));
			if (!tamper && r != SOV_OK)
				fail_msg("message %d: %s", n, err);
			assert_int_equal(tsig_reply_complete(&cli), n == 0 || n == 3);
		}
		assert_int_equal(r, tamper ? SOV_EINVAL : SOV_OK);
		tsig_ctx_clear(&cli);
	}
}

/* BADKEY/BADSIG replies carry an unsigned TSIG naming the error; a client
 * reports it. */
static void test_unsigned_error_record(void **state)
{
	(void)state;
	struct tsig_key k = key_of(KEYLINE("hmac-sha256"));
	uint8_t q[512];
	size_t qlen = sizeof(tsig_vec_query_3);
	memcpy(q, tsig_vec_query_3, qlen);
	struct tsig_rr rr;
	assert_int_equal(tsig_rr_parse(q, qlen, tsig_offset(q, qlen), &rr), SOV_OK);
	uint8_t m[512];
	memcpy(m, q, 12);
	wire_write_u16(m + 2, 0x8009);
	wire_write_u16(m + 4, 0);
	wire_write_u16(m + 10, 0);
	size_t len = 12;
	assert_int_equal(tsig_append_unsigned(m, &len, sizeof(m), &rr, TSIG_ERR_BADKEY), SOV_OK);
	assert_int_equal(wire_read_u16(m + 10), 1);
	struct tsig_rr back;
	assert_int_equal(tsig_rr_parse(m, len, 12, &back), SOV_OK);
	assert_int_equal(back.error, TSIG_ERR_BADKEY);
	assert_int_equal(back.mac_len, 0);
	assert_int_equal(back.orig_id, 0x1234);
	assert_int_equal(tsig_append_unsigned(m, &len, len + 10, &rr, 0), SOV_ESPACE);

	struct tsig_ctx c;
	tsig_ctx_init(&c, &k);
	memcpy(c.mac, rr.mac, rr.mac_len);
	c.mac_len = rr.mac_len;
	char err[200] = "";
	assert_int_equal(tsig_verify_reply(&c, m, &len, TSIG_VEC_NOW, err, sizeof(err)),
			 SOV_EINVAL);
	assert_non_null(strstr(err, "BADKEY"));
	tsig_ctx_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_parse),
	    cmocka_unit_test(test_verify_dnspython_queries),
	    cmocka_unit_test(test_request_errors),
	    cmocka_unit_test(test_truncated_mac),
	    cmocka_unit_test(test_malformed_records),
	    cmocka_unit_test(test_multi_message_reply),
	    cmocka_unit_test(test_roundtrip_with_unsigned),
	    cmocka_unit_test(test_sparse_reply),
	    cmocka_unit_test(test_unsigned_error_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
