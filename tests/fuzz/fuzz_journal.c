/* fuzz_journal.c — libFuzzer target for the IXFR journal's file form
 * (journal_decode, dns/journal.c), which sovdns reads back from
 * <state_dir>/journal/ at start and must survive whatever is there.
 *
 * The input is a journal file of zone example.test. Its last 8 bytes are
 * replaced by the right checksum first, so the fuzzer reaches the parser
 * behind it instead of stopping at the checksum. Beyond "does not crash or
 * read outside the input", it checks what the transfer path relies on and
 * aborts when one fails:
 *   - a file that decodes encodes back to the same bytes;
 *   - every entry's records read with journal_rr_next() to its exact end,
 *     the first and the (deleted + 2)th being SOAs;
 *   - the entries chain, and journal_find() finds each one's start.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "dns/journal.h"
#include "tests/fuzz/fuzz.h"
#include "wire/dname.h"
#include "wire/wire.h"

static const uint8_t ORIGIN[] = "\007example\004test";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8 || size > 1 << 20)
		return 0;
	uint8_t *buf = malloc(size);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < size - 8; i++) {
		h ^= buf[i];
		h *= 0x100000001b3ull;
	}
	wire_write_u32(buf + size - 8, (uint32_t)(h >> 32));
	wire_write_u32(buf + size - 4, (uint32_t)h);

	journal_t *j = NULL;
	int r = journal_decode(buf, size, ORIGIN, &j);
	CHECK(r == SOV_OK || r == SOV_EPARSE || r == SOV_ENOMEM);
	if (r == SOV_OK) {
		uint8_t *out = NULL;
		size_t len = 0;
		CHECK(journal_encode(j, ORIGIN, &out, &len) == SOV_OK);
		CHECK(len == size && memcmp(out, buf, size) == 0);
		free(out);
		for (size_t i = 0; i < journal_count(j); i++) {
			const struct journal_entry *e = journal_get(j, i);
			size_t off = 0, n = 0;
			const uint8_t *owner;
			zrrset_t one;
			while (off < e->len) {
				CHECK(journal_rr_next(e->wire, e->len, &off, &owner, &one));
				CHECK(one.rdata >= e->wire &&
				      one.rdata + one.rdata_len <= e->wire + e->len);
				if (n == 0 || n == e->deleted + 1)
					CHECK(one.type == DNS_TYPE_SOA &&
					      dname_equal(owner, ORIGIN));
				n++;
			}
			CHECK(off == e->len && n == e->deleted + e->added + 2);
			if (i > 0)
				CHECK(journal_get(j, i - 1)->serial_to == e->serial_from);
			long at = journal_find(j, e->serial_from,
					       journal_get(j, journal_count(j) - 1)->serial_to);
			CHECK(at >= 0);
		}
		journal_unref(j);
	}
	free(buf);
	return 0;
}
