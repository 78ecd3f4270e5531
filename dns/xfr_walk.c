/* xfr_walk.c — the records of a zone as a transfer sends them (contract in
 * xfr_walk.h). */
#include "dns/xfr_walk.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "wire/wire.h"

void xfr_walk_init(struct xfr_walk *w, const zone_t *z, const geo_ctx_t *g)
{
	uint8_t *keep = w->svc_rdata;
	size_t cap = w->svc_cap;
	memset(w, 0, sizeof(*w));
	w->zone = z;
	w->geo = g;
	w->svc_rdata = keep;
	w->svc_cap = cap;
}

void xfr_walk_clear(struct xfr_walk *w)
{
	free(w->svc_rdata);
	w->svc_rdata = NULL;
	w->svc_cap = 0;
}

/* The static RRset of `type` (A or AAAA) for geo service svc: the public
 * addresses of the datacenters its "transfer" names (default: all of the
 * service's; docs/transfers.md). 1 and *out, 0 when there is none,
 * SOV_ENOMEM. */
static int service_rrset(struct xfr_walk *w, uint32_t svc, uint16_t type, zrrset_t *out)
{
	const geo_ctx_t *g = w->geo;
	if (g == NULL || svc >= geo_service_count(g))
		return 0;
	const struct geo_service_info *si = geo_service(g, svc);
	int family = type == DNS_TYPE_A ? AF_INET : AF_INET6;
	size_t alen = family == AF_INET ? 4 : 16, len = 0;
	uint16_t count = 0;
	for (size_t d = 0; d < si->dc_count; d++) {
		size_t n = 0;
		if (!(si->transfer_mask >> si->dcs[d] & 1))
			continue; /* the service's "transfer" leaves it out */
		const uint8_t *addrs = geo_dc_addrs(g, si->dcs[d], family, &n);
		for (size_t k = 0; k < n; k++) {
			const uint8_t *a = addrs + k * alen;
			bool dup = false;
			for (size_t off = 0; off < len && !dup; off += 2 + alen)
				dup = memcmp(w->svc_rdata + off + 2, a, alen) == 0;
			if (dup)
				continue;
			if (len + 2 + alen > w->svc_cap) {
				size_t cap = w->svc_cap ? w->svc_cap * 2 : 64 * (2 + 16);
				uint8_t *m = realloc(w->svc_rdata, cap);
				if (m == NULL)
					return SOV_ENOMEM;
				w->svc_rdata = m;
				w->svc_cap = cap;
			}
			wire_write_u16(w->svc_rdata + len, (uint16_t)alen);
			memcpy(w->svc_rdata + len + 2, a, alen);
			len += 2 + alen;
			count++;
		}
	}
	if (count == 0)
		return 0;
	zrrset_t rs = {type, count, si->ttl_s, (uint32_t)len, w->svc_rdata};
	*out = rs;
	return 1;
}

int xfr_walk_peek(struct xfr_walk *w, const uint8_t **owner, zrrset_t *rs)
{
	const zone_t *z = w->zone;
	while (w->node < z->node_count) {
		const znode_t *n = zone_node(z, w->node);
		uint32_t extra = n->service != ZNODE_NONE ? 2 : 0;
		if (w->rrset >= n->rrset_count + extra) {
			w->node++;
			w->rrset = 0;
			continue;
		}
		if (w->rrset < n->rrset_count) {
			const zrrset_t *r = &n->rrsets[w->rrset];
			if (w->node == 0 && r->type == DNS_TYPE_SOA) {
				w->rrset++;
				continue;
			}
			*rs = *r;
		} else {
			uint16_t type = w->rrset == n->rrset_count ? DNS_TYPE_A : DNS_TYPE_AAAA;
			int got = service_rrset(w, n->service, type, rs);
			if (got < 0)
				return got;
			if (got == 0) {
				w->rrset++;
				continue;
			}
		}
		*owner = n->owner;
		return 1;
	}
	return 0;
}

void xfr_walk_advance(struct xfr_walk *w)
{
	w->rrset++;
}
