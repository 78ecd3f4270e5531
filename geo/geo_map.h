/* geo_map.h — the map layer of geo/: the MaxMind DB walk and the merged,
 * compiled trie from client networks to decisions (geo_decision.h). */
#ifndef SOV_GEO_GEO_MAP_H
#define SOV_GEO_GEO_MAP_H

#include "geo/geo_ctx.h"
#include "geo/geo_decision.h"

/** Builds ctx->map and ctx->inside from nets, internal networks and databases. */
int geo_map_build(geo_ctx_t *ctx, const char *file, diag_t *diag);

/** Walks the compiled trie for (family, addr); returns the leaf value, *depth the leaf's depth. */
uint32_t geo_trie_lookup(const struct geo_trie *t, int family, const uint8_t *addr,
			 unsigned *depth);
void geo_trie_free(struct geo_trie *t);

/** Slow, uncached location of a client, for --explain and tests: mirrors the trie. */
struct geo_locate_info {
	enum { GEO_SRC_NOPREFIX, GEO_SRC_INSIDE, GEO_SRC_NETS, GEO_SRC_DB, GEO_SRC_DEFAULT } src;
	int inside_dc;		    /* GEO_SRC_INSIDE */
	sov_net_t matched;	    /* the internal/nets/database network that matched */
	size_t nets_index;	    /* GEO_SRC_NETS */
	size_t db_index;	    /* GEO_SRC_DB */
	struct geo_record_info rec; /* GEO_SRC_DB */
	struct geo_decision decision;
};
int geo_locate_slow(const geo_ctx_t *ctx, const struct geo_client *c, struct geo_locate_info *info);

#endif
