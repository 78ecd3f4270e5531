/* fuzz_query.c — libFuzzer target: one packet in, reply out, over the whole
 * answer path (wire parser, zone lookup, rendering). Every reply must parse
 * with ldns and echo the query ID; a reply longer than the cap is a bug. */
#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/diag.h"
#include "common/log.h"
#include "common/net.h"
#include "dns/answer.h"
#include "dns/xfr_conf.h"
#include "dns/xfr_out.h"

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
	log_init(LOG_LVL_ERR, false); /* no line per fuzzed transfer */
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
	/* One key ("key.example.", the hostile tests' name) and a rule letting
	 * anyone with it transfer either zone, so that signed requests reach
	 * the MAC check and transfers reach xfr_out. */
	struct xfr_conf *x = calloc(1, sizeof(*x));
	struct tsig_key *k = calloc(1, sizeof(*k));
	char err[128];
	if (x == NULL || k == NULL ||
	    tsig_key_parse("hmac-sha256:key.example:c2VjcmV0LXNlY3JldC1zZWNyZXQ=", k, err,
			   sizeof(err)) != 0)
		abort();
	x->keys = k;
	x->key_count = 1;
	x->ring.keys = k;
	x->ring.count = 1;
	x->max_concurrent = 1000;
	x->max_time_s = 3600;
	x->zone_count = 2;
	x->zones = calloc(2, sizeof(*x->zones));
	for (size_t i = 0; i < 2; i++) {
		struct xfr_rule *r = calloc(1, sizeof(*r));
		r->from = calloc(1, sizeof(*r->from));
		if (net_parse("0.0.0.0/0", r->from) != 0)
			abort();
		r->from_count = 1;
		r->key = -1;
		x->zones[i].allow = r;
		x->zones[i].allow_count = 1;
	}
	s->xfr = x;
	atomic_init(&s->refs, 1);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t reply[DNS_REPLY_MAX];
	static _Atomic uint32_t active;
	struct query_ctx ctx;
	struct sockaddr_in client = {.sin_family = AF_INET, .sin_port = htons(5300)};
	client.sin_addr.s_addr = htonl(0x7f000001);
	if (fuzz_snap == NULL)
		fuzz_snap = fuzz_snapshot();
	memset(&ctx, 0, sizeof(ctx));
	ctx.xfr_active = &active;
	for (int t = 0; t < 2; t++) {
		size_t cap = t == 0 ? 1232 : sizeof(reply);
		size_t n = query_process(&ctx, fuzz_snap, (const struct sockaddr *)&client,
					 t == 0 ? DNS_UDP : DNS_TCP, data, size, reply, cap);
		if (ctx.last.xfr_pending) {
			/* The whole transfer, every message checked like a reply. */
			struct xfr_out *x = xfr_out_new(
			    fuzz_snap, &ctx.last.xfr, (const struct sockaddr *)&client, data, size);
			if (x == NULL)
				abort();
			size_t m;
			while ((m = xfr_out_next(x, reply, sizeof(reply), 1700000000, 1)) > 0) {
				ldns_pkt *p = NULL;
				if (m < 12 || ldns_wire2pkt(&p, reply, m) != LDNS_STATUS_OK)
					abort();
				ldns_pkt_free(p);
			}
			xfr_out_free(x);
			if (atomic_load(&active) != 0)
				abort();
			continue;
		}
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
