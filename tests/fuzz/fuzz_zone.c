/* fuzz_zone.c — libFuzzer target for the zone loader (dns/zone*.c).
 *
 * Each input is written to a temporary file and loaded as the zone
 * "example.test"; on success, the index is checked for self-consistency
 * (every node found by its own name, parents and cuts in range, RDATA
 * lengths adding up), since the answer path trusts all of it.
 * Every input is loaded twice, with the fast parser for plain records
 * (dns/zone_fast.c) and with ldns alone: the two must give the same zone
 * and the same errors, so the fast path can never load different data.
 *
 * Built by meson (tests/fuzz/meson.build): the normal build replays the
 * seed corpus as the `fuzz` test suite; with -Dfuzzers=true and clang,
 * `tests/fuzz/run zone SECONDS` runs libFuzzer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/diag.h"
#include "common/log.h"
#include "dns/zone.h"
#include "dns/zone_fast.h"
#include "tests/common/zone_same.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_path[64];

static void check_zone(const zone_t *z)
{
	for (uint32_t i = 0; i < z->node_count; i++) {
		const znode_t *n = zone_node(z, i);
		if (zone_find(z, n->owner) != n)
			abort();
		if (i == 0 ? n->parent != ZNODE_NONE : n->parent >= z->node_count)
			abort();
		if (n->cut != ZNODE_NONE && n->cut >= z->node_count)
			abort();
		for (uint16_t k = 0; k < n->rrset_count; k++) {
			const zrrset_t *s = &n->rrsets[k];
			if (znode_rrset(n, s->type) != s || s->count == 0)
				abort();
			uint32_t off = 0;
			for (uint16_t r = 0; r < s->count; r++) {
				if (off + 2 > s->rdata_len)
					abort();
				off += 2 + (uint32_t)(s->rdata[off] << 8 | s->rdata[off + 1]);
			}
			if (off != s->rdata_len)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fuzz_path[0] == 0) {
		/* One file per process, rewritten for every input. */
		log_init(LOG_LVL_ERR, false);
		snprintf(fuzz_path, sizeof(fuzz_path), "/tmp/fuzz_zone.XXXXXX");
		int fd = mkstemp(fuzz_path);
		if (fd < 0)
			abort();
		close(fd);
	}
	FILE *f = fopen(fuzz_path, "w");
	if (f == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);

	diag_t *d = diag_new(), *d_ldns = diag_new();
	zone_t *z = NULL, *z_ldns = NULL;
	zone_fast_enabled = true;
	int rc = zone_load("example.test", fuzz_path, &z, d);
	if (rc == 0)
		check_zone(z);
	else if (z != NULL || diag_count(d) == 0)
		abort(); /* failure must leave no zone and say why */
	zone_fast_enabled = false;
	int rc_ldns = zone_load("example.test", fuzz_path, &z_ldns, d_ldns);
	zone_fast_enabled = true;
	char why[512];
	const char *diff =
	    rc != rc_ldns ? "return codes differ" : zone_same(z, z_ldns, why, sizeof(why));
	if (diff == NULL)
		diff = diag_same(d, d_ldns, why, sizeof(why));
	if (diff != NULL) {
		fprintf(stderr, "fast path and ldns disagree: %s\n", diff);
		abort();
	}
	zone_free(z);
	zone_free(z_ldns);
	diag_free(d);
	diag_free(d_ldns);
	return 0;
}
