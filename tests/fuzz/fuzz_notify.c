/* fuzz_notify.c — libFuzzer target for NOTIFY replies (dns/notify_out.c).
 *
 * The input is a datagram received on a NOTIFY socket, as the answer to
 * the NOTIFY with ID 0x1234 for example.test that we sent to 192.0.2.9:53.
 * Beyond "does not crash or read outside the input", it checks what the
 * notifier relies on and aborts when one fails:
 *   - a datagram from another address or port, or with another ID, never
 *     matches;
 *   - a match has QR set, opcode NOTIFY and a 4-bit rcode;
 *   - the TSIG check of a match against the signed query never grows the
 *     message, and a reply that passes it is one we could not have been
 *     fooled by: it carries a TSIG record (the unsigned input is refused).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/err.h"
#include "dns/notify_out.h"
#include "dns/tsig.h"
#include "tests/fuzz/fuzz.h"
#include "wire/wire.h"

#define KEY_LINE "hmac-sha256:k:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="
#define NOW_S 1700000000ull

static const uint8_t origin[] = "\x07"
				"example\x04test";
/* SOA RDATA: . . 1 7200 3600 1209600 300 */
static const uint8_t soa[] = {0, 0,    0,    0, 0,    1,    0, 0, 0x1c, 0x20, 0,
			      0, 0x0e, 0x10, 0, 0x12, 0x75, 0, 0, 0,	1,    0x2c};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65535)
		return 0;
	struct tsig_key key;
	char err[160];
	if (tsig_key_parse(KEY_LINE, &key, err, sizeof(err)) != SOV_OK)
		abort();
	sov_sockaddr_t to, other;
	if (addr_parse("192.0.2.9:53", 53, &to) != SOV_OK ||
	    addr_parse("192.0.2.9:54", 53, &other) != SOV_OK)
		abort();
	uint8_t rc = 0xFF;
	CHECK(notify_reply_match(data, size, (const struct sockaddr *)&other.ss, &to, 0x1234,
				 origin, &rc) == NOTIFY_MATCH_NONE);
	if (notify_reply_match(data, size, (const struct sockaddr *)&to.ss, &to, 0x1234, origin,
			       &rc) != NOTIFY_MATCH_REPLY)
		return 0;
	CHECK(size >= DNS_HEADER_LEN && wire_read_u16(data) == 0x1234);
	CHECK((wire_read_u16(data + 2) & DNS_FLAG_QR) &&
	      DNS_OPCODE(wire_read_u16(data + 2)) == DNS_OPCODE_NOTIFY);
	CHECK(rc <= 15);
	CHECK(notify_reply_match(data, size, (const struct sockaddr *)&to.ss, &to, 0x1235, origin,
				 &rc) == NOTIFY_MATCH_NONE);

	/* The signed query this would answer, then the reply's TSIG check. */
	struct notify_zone z = {origin, 1, 300, soa, sizeof(soa)};
	uint8_t q[NOTIFY_MSG_MAX];
	size_t qlen = 0;
	struct tsig_ctx ctx;
	if (notify_query_build(q, sizeof(q), 0x1234, &z, &key, NOW_S, &ctx, &qlen) != SOV_OK)
		abort();
	uint8_t *msg = malloc(size);
	if (msg == NULL)
		abort();
	memcpy(msg, data, size);
	size_t len = size;
	size_t off;
	bool signed_input = tsig_find(data, size, &off) == SOV_OK;
	if (tsig_verify_reply(&ctx, msg, &len, NOW_S, err, sizeof(err)) == SOV_OK)
		CHECK(signed_input && len < size);
	else
		CHECK(len == size);
	free(msg);
	tsig_ctx_clear(&ctx);
	return 0;
}
