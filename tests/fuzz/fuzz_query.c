/* fuzz_query.c — libFuzzer target: one packet in, reply out, over the whole
 * answer path (wire parser, zone lookup, rendering). Every reply must parse
 * with ldns and echo the query ID; a reply longer than the cap is a bug. */
#include <ldns/ldns.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/diag.h"
#include "dns/answer.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static snapshot_t *fuzz_snap;

static snapshot_t *fuzz_snapshot(void)
{
	static const char *const zones[][2] = {
	    {"example.test", SRCDIR "/tests/unit/answer/example.test.zone"},
	    {"lab.example.test", SRCDIR "/tests/unit/answer/lab.example.test.zone"},
	};
	snapshot_t *s = calloc(1, sizeof(*s));
	diag_t *d = diag_new();
	s->zones = zonedb_new();
	s->edns_payload = 1232;
	for (size_t i = 0; i < 2; i++) {
		zone_t *z = NULL;
		if (zone_load(zones[i][0], zones[i][1], &z, d) != 0 ||
		    zonedb_add(s->zones, z) != 0) {
			diag_print(d, stderr);
			abort();
		}
	}
	if (zonedb_finish(s->zones) != 0)
		abort();
	diag_free(d);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t reply[DNS_REPLY_MAX];
	struct query_ctx ctx;
	if (fuzz_snap == NULL)
		fuzz_snap = fuzz_snapshot();
	memset(&ctx, 0, sizeof(ctx));
	for (int t = 0; t < 2; t++) {
		size_t cap = t == 0 ? 1232 : sizeof(reply);
		size_t n = query_process(&ctx, fuzz_snap, NULL, t == 0 ? DNS_UDP : DNS_TCP, data,
					 size, reply, cap);
		if (n == 0)
			continue;
		if (n > cap || n < 12 || size < 2 || memcmp(reply, data, 2) != 0)
			abort();
		ldns_pkt *p = NULL;
		if (ldns_wire2pkt(&p, reply, n) != LDNS_STATUS_OK)
			abort();
		ldns_pkt_free(p);
	}
	return 0;
}
