/* geo_select.c — the per-query choice of datacenters.
 *
 * This is on the answer path: no allocation, no lock, no logging, bounded
 * loops (one trie walk of at most 128 steps, then O(GEO_DC_MAX)). The
 * caller logs and counts fail-open outcomes (rate-limited) from r->outcome.
 */
#include "geo/geo_map.h"

#include <netinet/in.h>
#include <string.h>

#include "common/err.h"

static const struct geo_addrs *dc_addrs(const geo_ctx_t *ctx, uint16_t dc, bool internal)
{
	return internal ? &ctx->dcs[dc].internal : &ctx->dcs[dc].pub;
}

static unsigned addrs_count(const struct geo_addrs *a, int family)
{
	return family == AF_INET ? a->v4_count : a->v6_count;
}

int geo_select(const geo_ctx_t *ctx, size_t service, const struct geo_client *client,
	       uint16_t qtype, const uint8_t *dc_state, struct geo_result *r)
{
	int rc = SOV_OK;
	const struct geo_service *svc;
	const struct geo_decision *d = &ctx->decisions[ctx->default_decision];
	uint16_t cand[GEO_DC_MAX];
	size_t ncand = 0;
	int inside = -1;

	r->count = 0;
	r->ecs_scope = 0;
	r->family = AF_INET;
	r->inside_dc = -1;
	r->internal = false;
	r->outcome = GEO_OUT_OK;
	if (service >= ctx->svc_count || (qtype != GEO_QTYPE_A && qtype != GEO_QTYPE_AAAA)) {
		rc = SOV_EINVAL;
		goto finish;
	}
	svc = &ctx->svcs[service];
	r->family = qtype == GEO_QTYPE_A ? AF_INET : AF_INET6;

	/* Where is the client? Source prefix 0 (RFC 7871 §7.1.2) or no client:
	 * not used at all, default order, scope 0. */
	if (client != NULL && client->prefix > 0) {
		unsigned depth = 0;
		if (svc->location_dependent) {
			d = &ctx->decisions[geo_trie_lookup(&ctx->map, client->family, client->addr,
							    &depth)];
			inside = d->inside_dc;
		} else if (svc->has_internal) {
			/* failover/all (or one dc): only split horizon depends on
			 * the client, so the scope comes from the inside trie. */
			inside = (int)geo_trie_lookup(&ctx->inside, client->family, client->addr,
						      &depth) -
				 1;
		}
		/* The reply may not claim more than the client revealed. */
		r->ecs_scope = (uint8_t)(depth < client->prefix ? depth : client->prefix);
	}
	if (inside >= 0 && !(svc->dc_mask & ((uint64_t)1 << inside)))
		inside = -1; /* inside a dc this service does not use */
	r->inside_dc = (int16_t)inside;

	/* Candidates: the service's datacenters in the client's preference
	 * order, keeping only those with an address of the query's family. */
	const uint8_t *order = NULL;
	size_t norder;
	if (svc->info.policy == GEO_POLICY_NEAREST && d->n > 0) {
		order = d->order;
		norder = d->n;
	} else {
		norder = svc->info.dc_count;
	}
	for (size_t i = 0; i < norder; i++) {
		uint16_t dc = order ? order[i] : svc->dcs[i];
		if (!(svc->dc_mask & ((uint64_t)1 << dc)))
			continue;
		if (addrs_count(dc_addrs(ctx, dc, false), r->family) == 0 &&
		    !(dc == inside && addrs_count(dc_addrs(ctx, dc, true), r->family) > 0))
			continue;
		cand[ncand++] = dc;
	}
	if (ncand == 0) {
		r->outcome = GEO_OUT_NOFAMILY; /* e.g. AAAA and only v4-only dcs: NODATA */
		goto finish;
	}

	size_t limit = svc->info.max_answers;
	for (size_t i = 0; i < ncand && r->count < limit; i++) {
		uint8_t st = dc_state ? dc_state[cand[i]] : GEO_DC_USABLE;
		if ((st & GEO_DC_USABLE) && !(st & GEO_DC_HELD))
			r->dc[r->count++] = cand[i];
	}
	/* "Nothing usable" is a property of the service, not of one address
	 * family: when a usable datacenter has only the other family (dc-c is
	 * up but IPv4-only), this family gets NODATA, so a dual-stack client
	 * connects to dc-c over IPv4 instead of being failed open to a down or
	 * drained site over IPv6. */
	bool any_usable = false, any_free = false;
	for (size_t i = 0; i < svc->info.dc_count; i++) {
		uint8_t st = dc_state ? dc_state[svc->dcs[i]] : GEO_DC_USABLE;
		any_usable |= (st & GEO_DC_USABLE) && !(st & GEO_DC_HELD);
		any_free |= !(st & GEO_DC_HELD);
	}
	if (r->count == 0 && any_usable)
		goto finish; /* GEO_OUT_OK with no datacenter: a transient NODATA */
	if (r->count == 0) {
		switch (svc->info.on_all_down) {
		case GEO_DOWN_ALL:
			/* Fail-open: better a possibly-down site than no answer, but
			 * never one an operator has taken down on purpose (drained,
			 * maintenance)... */
			r->outcome = GEO_OUT_DOWN_ALL;
			for (size_t i = 0; i < ncand; i++)
				if (dc_state == NULL || !(dc_state[cand[i]] & GEO_DC_HELD))
					r->dc[r->count++] = cand[i];
			/* ...unless the operator has taken down every one of the
			 * service's datacenters (whatever their families). */
			if (r->count == 0 && !any_free)
				for (size_t i = 0; i < ncand; i++)
					r->dc[r->count++] = cand[i];
			break;
		case GEO_DOWN_FIRST:
			r->outcome = GEO_OUT_DOWN_FIRST;
			r->dc[r->count++] = cand[0];
			break;
		case GEO_DOWN_EMPTY:
			r->outcome = GEO_OUT_DOWN_EMPTY;
			break;
		}
	}
	if (inside >= 0 && addrs_count(dc_addrs(ctx, (uint16_t)inside, true), r->family) > 0)
		for (size_t i = 0; i < r->count && !r->internal; i++)
			r->internal = r->dc[i] == inside;
finish:
	return rc;
}

const uint8_t *geo_result_addrs(const geo_ctx_t *ctx, const struct geo_result *r, size_t k,
				size_t *count)
{
	uint16_t dc = r->dc[k];
	const struct geo_addrs *a = dc_addrs(ctx, dc, r->internal && dc == r->inside_dc);

	if (r->family == AF_INET) {
		*count = a->v4_count;
		return &a->v4[0][0];
	}
	*count = a->v6_count;
	return &a->v6[0][0];
}
