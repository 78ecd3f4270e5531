/* geo_conf.h — the configuration layer of geo/: validates the
 * `datacenters`, `services` and `geo` sections into a context. Calls the
 * decision layer (geo_decision.h) for `nets`/`default` targets. */
#ifndef SOV_GEO_GEO_CONF_H
#define SOV_GEO_GEO_CONF_H

#include "geo/geo_ctx.h"

/** Fills ctx's tables from root; every problem to diag. SOV_OK or an error. */
int geo_conf_parse(geo_ctx_t *ctx, const json_t *root, const char *file, const geo_jsonpos_t *pos,
		   diag_t *diag);

#endif
