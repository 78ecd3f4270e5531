/* usable.c — the part of the usable rule that needs the service table. */
#include "geo/usable.h"

#include "geo/geo.h"

bool geo_service_names_dc(const struct geo_ctx *ctx, size_t svc, const uint8_t *state, size_t dc)
{
	const struct geo_service_info *si = geo_service(ctx, svc);
	size_t usable = 0, rank = SIZE_MAX;
	bool member = false;
	for (size_t i = 0; i < si->dc_count; i++) {
		bool ok = (state[si->dcs[i]] & GEO_DC_USABLE) != 0;
		if (si->dcs[i] == dc) {
			member = true;
			if (ok)
				rank = usable;
		}
		if (ok)
			usable++;
	}
	if (!member)
		return false;
	if (rank != SIZE_MAX && (si->policy != GEO_POLICY_FAILOVER || rank < si->max_answers))
		return true;
	if (usable == 0) {
		if (si->on_all_down == GEO_DOWN_ALL && !(state[dc] & GEO_DC_HELD))
			return true;
		if (si->on_all_down == GEO_DOWN_FIRST && si->dcs[0] == dc)
			return true;
	}
	return false;
}
