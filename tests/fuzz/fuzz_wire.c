/* fuzz_wire.c — libFuzzer target for the query parser (wire/wire.c).
 *
 * Built by meson (tests/fuzz/meson.build): the normal build replays the
 * seed corpus as the `fuzz` test suite; with -Dfuzzers=true and clang,
 * `tests/fuzz/run wire SECONDS` runs libFuzzer (its dictionary,
 * tests/fuzz/fuzz_wire.dict, is passed by hand: -dict=...).
 *
 * Beyond "does not crash", it checks the properties callers rely on and
 * aborts when one fails, so the fuzzer hunts logic errors too. libFuzzer
 * hands us a heap copy of exactly `size` bytes: ASan flags any overread.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz.h"
#include "wire/dname.h"
#include "wire/wire.h"

static void check_query(const uint8_t *data, size_t size, enum dns_parse_result res,
			const struct dns_query *q)
{
	if (size < DNS_HEADER_LEN) {
		CHECK(res == DNS_PARSE_DROP && !q->has_question && !q->has_edns);
		return;
	}
	CHECK(q->id == wire_read_u16(data));
	CHECK((res == DNS_PARSE_DROP) == ((q->flags & DNS_FLAG_QR) != 0));
	if (res == DNS_PARSE_OK || res == DNS_PARSE_BADVERS)
		CHECK(q->has_question);
	if (q->has_question) {
		CHECK(q->qdcount == 1);
		CHECK(q->qname_len >= 1 && q->qname_len <= DNAME_MAXLEN);
		CHECK(dname_len(q->qname) == q->qname_len);
		for (size_t i = 0; i < q->qname_len; i++) {
			uint8_t c = q->qname[i];
			uint8_t l = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
			CHECK(q->qname_lower[i] == l);
		}
		CHECK(q->question_end <= size);
		CHECK(q->qtype == wire_read_u16(data + q->question_end - 4));
		/* The in-place name re-read must agree with what was stored. */
		uint8_t again[DNAME_MAXLEN];
		size_t off = DNS_HEADER_LEN;
		CHECK(dns_name_read(data, size, &off, again) == q->qname_len);
		CHECK(off + 4 == q->question_end);
		CHECK(dname_equal(again, q->qname_lower));
		/* Round trip through presentation form (exercises dname.c). */
		char str[DNAME_STR_MAX];
		uint8_t back[DNAME_MAXLEN];
		int slen = dname_to_str(q->qname, str, sizeof(str));
		CHECK(slen > 0);
		CHECK(dname_from_str(str, back) == q->qname_len);
		CHECK(dname_equal(back, q->qname));
	} else {
		CHECK(q->qname_len == 0 && q->question_end == 0);
	}
	if (res == DNS_PARSE_BADVERS)
		CHECK(q->has_edns && q->edns_version > 0 && !q->has_ecs && !q->has_cookie &&
		      !q->has_expire);
	if (res == DNS_PARSE_OK && q->has_edns)
		CHECK(q->edns_version == 0);
	if (q->has_ecs) {
		CHECK(q->has_edns);
		CHECK(q->ecs.family == 1 || q->ecs.family == 2);
		CHECK(q->ecs.source_prefix <= (q->ecs.family == 1 ? 32 : 128));
		CHECK(q->ecs.scope_prefix == 0);
		for (unsigned bit = q->ecs.source_prefix; bit < 128; bit++)
			CHECK((q->ecs.addr[bit / 8] & (0x80u >> (bit % 8))) == 0);
	}
	if (q->has_cookie) {
		CHECK(q->has_edns);
		CHECK(q->cookie_len == 8 || (q->cookie_len >= 16 && q->cookie_len <= 40));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_query q;
	enum dns_parse_result res = dns_query_parse(data, size, &q);
	check_query(data, size, res, &q);

	/* dns_name_read at every offset of short inputs: whatever it returns
	 * must be a well-formed name and a sane end offset. */
	if (size <= 64) {
		for (size_t start = 0; start < size; start++) {
			uint8_t out[DNAME_MAXLEN];
			size_t off = start;
			int n = dns_name_read(data, size, &off, out);
			if (n < 0) {
				CHECK(off == start);
				continue;
			}
			CHECK(n >= 1 && n <= DNAME_MAXLEN);
			CHECK(dname_len(out) == (size_t)n);
			CHECK(off > start && off <= size);
		}
	}
	return 0;
}
