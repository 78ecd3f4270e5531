/* zone_same.h — compare two loaded zones and their diagnostics (tests only).
 *
 * Used to check that the fast record parser (dns/zone_fast.c) and ldns load
 * the same input to the same zone: same nodes (owners, flags, tree links),
 * same RRsets (type, TTL, every RDATA byte) and the same error messages.
 */
#ifndef SOV_TESTS_ZONE_SAME_H
#define SOV_TESTS_ZONE_SAME_H

#include <stdio.h>
#include <string.h>

#include "common/diag.h"
#include "dns/zone.h"

/**
 * NULL when a and b hold the same data (both NULL counts as the same),
 * else a short description of the first difference, in `why` (cap bytes).
 */
static inline const char *zone_same(const zone_t *a, const zone_t *b, char *why, size_t cap)
{
	if (a == NULL || b == NULL) {
		if (a == b)
			return NULL;
		snprintf(why, cap, "one load failed, the other did not");
		return why;
	}
	if (a->node_count != b->node_count || a->record_count != b->record_count ||
	    a->serial != b->serial || a->neg_ttl_s != b->neg_ttl_s) {
		snprintf(why, cap, "nodes %u/%u, records %zu/%zu, serial %u/%u", a->node_count,
			 b->node_count, a->record_count, b->record_count, a->serial, b->serial);
		return why;
	}
	for (uint32_t i = 0; i < a->node_count; i++) {
		const znode_t *x = zone_node(a, i), *y = zone_node(b, i);
		char name[DNAME_STR_MAX];
		dname_to_str(x->owner, name, sizeof(name));
		if (!dname_equal(x->owner, y->owner) || x->flags != y->flags ||
		    x->parent != y->parent || x->cut != y->cut ||
		    x->rrset_count != y->rrset_count) {
			snprintf(why, cap, "node %u (%.200s) differs", i, name);
			return why;
		}
		for (uint16_t k = 0; k < x->rrset_count; k++) {
			const zrrset_t *r = &x->rrsets[k], *s = &y->rrsets[k];
			if (r->type != s->type || r->count != s->count || r->ttl_s != s->ttl_s ||
			    r->rdata_len != s->rdata_len ||
			    memcmp(r->rdata, s->rdata, r->rdata_len) != 0) {
				snprintf(why, cap,
					 "%.200s type %u: count %u/%u ttl %u/%u rdata %u/%u bytes",
					 name, r->type, r->count, s->count, r->ttl_s, s->ttl_s,
					 r->rdata_len, s->rdata_len);
				return why;
			}
		}
	}
	return NULL;
}

/** NULL when a and b list the same messages in the same order, else the first difference. */
static inline const char *diag_same(const diag_t *a, const diag_t *b, char *why, size_t cap)
{
	size_t n = diag_count(a);
	for (size_t i = 0; i < n || i < diag_count(b); i++) {
		const char *x = i < n ? diag_get(a, i) : "(none)";
		const char *y = i < diag_count(b) ? diag_get(b, i) : "(none)";
		if (strcmp(x, y) != 0) {
			snprintf(why, cap, "message %zu: \"%.200s\" vs \"%.200s\"", i + 1, x, y);
			return why;
		}
	}
	return NULL;
}

#endif
