/* fuzz_update.c — libFuzzer target for RFC 2136 processing (dns/update.c).
 *
 * The input is an UPDATE message, processed against the suite's
 * example.test zone as update_respond() does: parse, §3.4.1 prescan, §3.2
 * prerequisites, §3.4.2 apply (finished by the plain zone builder). Beyond
 * "does not crash or read outside the input", it aborts when:
 *   - a step returns an rcode RFC 2136 does not give it;
 *   - an applied update that changed the zone keeps the old serial, or
 *     yields a zone without its apex SOA and NS (§3.4.2.3, §3.4.2.4);
 *   - the zone it started from changed (it is shared with the snapshot).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/diag.h"
#include "common/err.h"
#include "dns/update.h"
#include "dns/update_respond.h"
#include "dns/zone.h"
#include "tests/fuzz/fuzz.h"
#include "wire/wire.h"

static zone_t *base;

static int finish(void *arg, zone_builder_t *b, zone_t **out, diag_t *diag)
{
	(void)arg;
	return zone_builder_finish(b, NULL, out, diag);
}

static bool rcode_ok(int rc, bool prereq)
{
	switch (rc) {
	case DNS_RCODE_NOERROR:
	case DNS_RCODE_FORMERR:
	case DNS_RCODE_NOTZONE:
		return true;
	case DNS_RCODE_NXDOMAIN:
	case DNS_RCODE_YXDOMAIN:
	case DNS_RCODE_NXRRSET:
	case DNS_RCODE_YXRRSET:
		return prereq;
	default:
		return false;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65535)
		return 0;
	if (base == NULL) {
		diag_t *d = diag_new();
		if (d == NULL ||
		    zone_load("example.test", SRCDIR "/tests/integration/zones/example.test.zone",
			      &base, d) != SOV_OK)
			abort();
		diag_free(d);
	}
	uint32_t serial = base->serial;
	size_t records = base->record_count;
	update_msg_t *m = NULL;
	char why[256];
	if (update_parse(data, size, &m, why, sizeof(why)) != SOV_OK)
		return 0;
	CHECK(update_prereq_count(m) + update_rr_count(m) <= size / 11);
	int rc = update_prescan(m, base, why, sizeof(why));
	CHECK(rcode_ok(rc, false));
	if (rc == DNS_RCODE_NOERROR) {
		rc = update_prereqs(m, base, why, sizeof(why));
		CHECK(rcode_ok(rc, true));
	}
	if (rc == DNS_RCODE_NOERROR) {
		struct update_apply_opts opts = {update_next_serial(serial), finish, NULL};
		zone_t *nz = NULL;
		diag_t *d = diag_new();
		int r = d ? update_apply(m, base, &opts, &nz, d) : SOV_ENOMEM;
		diag_free(d);
		CHECK(r == SOV_OK || r == SOV_ESEMANTIC || r == SOV_ENOMEM);
		if (r == SOV_OK && nz != NULL) {
			CHECK(nz->serial != serial);
			const znode_t *apex = zone_find(nz, nz->origin);
			CHECK(apex != NULL && znode_rrset(apex, DNS_TYPE_SOA) != NULL &&
			      znode_rrset(apex, DNS_TYPE_NS) != NULL);
			zone_free(nz);
		}
	}
	CHECK(base->serial == serial && base->record_count == records);
	update_free(m);
	return 0;
}
