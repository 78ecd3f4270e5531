/* fuzz_xfr_in.c — libFuzzer target for a received zone transfer (dns/xfr_in.c).
 *
 * The input is what a primary sends over TCP: messages, each after its
 * 2-byte length. Byte 0 chooses the query (bit 0: IXFR from serial 1 of a
 * small copy, else AXFR; bit 1: patch every message's ID to ours, so the
 * fuzzer gets past the ID check; bit 2: full zones go into a zone builder,
 * as the secondary does, which is finished and, when it gives a zone,
 * printed back with zone_print()). Beyond "does not crash, leak or read
 * outside the input", it aborts when:
 *   - a finished full transfer wrote no record, or an up-to-date reply
 *     has a serial newer than ours;
 *   - a transfer that failed has no reason;
 *   - feeding after DONE or FAILED changes the outcome.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "dns/xfr_in.h"
#include "dns/zone.h"
#include "tests/fuzz/fuzz.h"
#include "wire/wire.h"

static const uint8_t origin[] = "\x07"
				"example\x04test";

static char path[64];

static void remove_copy(void)
{
	unlink(path);
}

static const char *copy_path(void)
{
	if (path[0] != 0)
		return path;
	atexit(remove_copy);
	snprintf(path, sizeof(path), "/tmp/fuzz_xfr_in.%d.zone", (int)getpid());
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("example.test. 300 IN SOA ns.example.test. h.example.test. 1 3600 600 86400 300\n"
	      "example.test. 300 IN NS ns.example.test.\n"
	      "ns.example.test. 300 IN A 192.0.2.1\n"
	      "www.example.test. 300 IN A 192.0.2.2\n",
	      f);
	fclose(f);
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 20)
		return 0;
	FILE *out = fopen("/dev/null", "w");
	CHECK(out != NULL);
	bool ixfr = data[0] & 1, patch = data[0] & 2, build = data[0] & 4;
	zone_builder_t *b = NULL;
	if (build)
		CHECK(zone_builder_new("example.test", "/nonexistent/kept.zone", "fuzz", &b) ==
		      SOV_OK);
	static const uint8_t svc[] = "\x03"
				     "geo\x07"
				     "example\x04test";
	const uint8_t *skip[] = {svc};
	struct xfr_in_params p = {
	    .origin = origin,
	    .qtype = ixfr ? DNS_TYPE_IXFR : DNS_TYPE_AXFR,
	    .id = 0x1234,
	    .have_serial = 1,
	    .have_path = copy_path(),
	    .skip_names = skip,
	    .skip_count = 1,
	    .max_records = 100000,
	    .out = out,
	    .build = b,
	};
	struct xfr_in *x = xfr_in_new(&p);
	CHECK(x != NULL);
	enum xfr_in_status st = XFR_IN_MORE;
	size_t off = 1;
	uint8_t *msg = malloc(65536);
	CHECK(msg != NULL);
	while (st == XFR_IN_MORE && size - off >= 2) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (n > size - off)
			n = size - off;
		memcpy(msg, data + off, n);
		off += n;
		if (patch && n >= 2)
			wire_write_u16(msg, 0x1234);
		st = xfr_in_feed(x, msg, n);
	}
	if (st == XFR_IN_DONE) {
		if (xfr_in_kind(x) == XFR_IN_FULL)
			CHECK(xfr_in_records(x) >= 1);
		if (xfr_in_kind(x) == XFR_IN_UPTODATE)
			CHECK((uint32_t)(xfr_in_serial(x) - 1) == 0 ||
			      (uint32_t)(xfr_in_serial(x) - 1) >= 0x80000000u);
	}
	if (st == XFR_IN_FAILED)
		CHECK(xfr_in_error(x)[0] != 0);
	if (st != XFR_IN_MORE)
		CHECK(xfr_in_feed(x, msg, 0) == st);
	if (b != NULL && st == XFR_IN_DONE && xfr_in_kind(x) == XFR_IN_FULL) {
		zone_t *z = NULL;
		int r = zone_builder_finish(b, NULL, &z, NULL);
		CHECK((r == SOV_OK) == (z != NULL));
		uint64_t n = 0;
		if (z != NULL)
			CHECK(zone_print(z, out, &n) == SOV_OK && n == z->record_count);
		zone_free(z);
	} else {
		zone_builder_free(b);
	}
	free(msg);
	xfr_in_free(x);
	fclose(out);
	return 0;
}
