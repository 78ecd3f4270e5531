/* fuzz_tsig.c — libFuzzer target for TSIG (dns/tsig.c, RFC 8945).
 *
 * The input is a DNS message. Beyond "does not crash or read outside the
 * input", it checks what callers rely on and aborts when one fails:
 *   - a record tsig_find() finds is one tsig_rr_parse() can read or
 *     rejects, and it lies inside the message;
 *   - a request tsig_verify_request() accepts can be answered: a reply
 *     signed with the context verifies on the client side;
 *   - the client side never grows a message, and strips exactly one record
 *     from one it accepts;
 *   - a key line that parses has a name and a secret.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "dns/tsig.h"
#include "tests/fuzz/fuzz.h"
#include "wire/wire.h"

/* The key of the seeds (tests/unit/tsig/make_vectors.py). */
#define SEED_KEY "hmac-sha256:transfer.example.:c292ZG5zIHRlc3Qga2V5IGZvciB1bml0IHRlc3RzISE="

static void fuzz_request(const struct tsig_key *key, const uint8_t *data, size_t size)
{
	size_t off = 0;
	if (tsig_find(data, size, &off) != SOV_OK)
		return;
	CHECK(off >= DNS_HEADER_LEN && off < size);
	struct tsig_rr rr;
	if (tsig_rr_parse(data, size, off, &rr) != SOV_OK)
		return;
	CHECK(rr.mac >= data && rr.mac + rr.mac_len <= data + size);
	CHECK(rr.other >= data && rr.other + rr.other_len <= data + size);

	struct tsig_keyring ring = {key, 1, false};
	struct tsig_ctx srv;
	struct tsig_verdict v;
	/* At the record's own time, so that only the MAC decides. */
	int r = tsig_verify_request(&ring, data, size, off, rr.time_signed, &srv, &v);
	CHECK(r == SOV_OK || r == SOV_EMALF);
	if (r != SOV_OK || v.rcode != 0)
		return;
	/* Accepted: answer it, and the answer must verify for the client. */
	uint8_t reply[DNS_HEADER_LEN + TSIG_RR_MAX];
	memcpy(reply, data, DNS_HEADER_LEN);
	wire_write_u16(reply + 4, 0);
	wire_write_u16(reply + 6, 0);
	wire_write_u16(reply + 8, 0);
	wire_write_u16(reply + 10, 0);
	size_t len = DNS_HEADER_LEN;
	CHECK(tsig_sign(&srv, reply, &len, sizeof(reply), rr.time_signed, 0) == SOV_OK);
	struct tsig_ctx cli;
	tsig_ctx_init(&cli, key);
	memcpy(cli.mac, rr.mac, rr.mac_len);
	cli.mac_len = rr.mac_len;
	CHECK(tsig_verify_reply(&cli, reply, &len, rr.time_signed, NULL, 0) == SOV_OK);
	CHECK(len == DNS_HEADER_LEN && wire_read_u16(reply + 10) == 0);
	tsig_ctx_clear(&cli);
	tsig_ctx_clear(&srv);
}

static void fuzz_reply(const struct tsig_key *key, const uint8_t *data, size_t size)
{
	if (size > 65535)
		return;
	static uint8_t msg[65535];
	memcpy(msg, data, size);
	struct tsig_ctx cli;
	tsig_ctx_init(&cli, key);
	memset(cli.mac, 0xAB, 32);
	cli.mac_len = 32;
	cli.in_reply = size > 0 && (data[0] & 1); /* first message, or a later one */
	size_t len = size;
	uint16_t arcount = size >= DNS_HEADER_LEN ? wire_read_u16(msg + 10) : 0;
	char err[128];
	int r = tsig_verify_reply(&cli, msg, &len, 0, err, sizeof(err));
	CHECK(len <= size);
	if (r == SOV_OK && len < size)
		CHECK(wire_read_u16(msg + 10) == (uint16_t)(arcount - 1));
	tsig_ctx_clear(&cli);
}

static void fuzz_key_line(const uint8_t *data, size_t size)
{
	char line[2048];
	if (size >= sizeof(line))
		return;
	memcpy(line, data, size);
	line[size] = '\0';
	struct tsig_key k;
	char err[200];
	if (tsig_key_parse(line, &k, err, sizeof(err)) == SOV_OK) {
		CHECK(k.name_len > 1 && k.secret_len > 0 && k.secret_len <= TSIG_SECRET_MAX);
		CHECK(k.alg < TSIG_ALG_COUNT);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tsig_key key;
	static int ready;
	if (!ready) {
		char err[100];
		CHECK(tsig_key_parse(SEED_KEY, &key, err, sizeof(err)) == SOV_OK);
		ready = 1;
	}
	fuzz_request(&key, data, size);
	fuzz_reply(&key, data, size);
	fuzz_key_line(data, size);
	return 0;
}
