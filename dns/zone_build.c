/* zone_build.c — parsed records → the final zone (contract in zone_int.h).
 *
 * Empty non-terminals are added to the name table, records are
 * counting-sorted by name id (stable, O(n)), each name's few records are
 * sorted by type, duplicates dropped, and everything is copied into two
 * final blocks (nodes + RRsets, and RDATA); then the tree is linked
 * (parent, cut, flags) and zone_check() runs.
 */
#include <assert.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "dns/zone_int.h"

/* Differing-TTL warnings per load: past this, only a count is logged. */
#define ZONE_TTL_WARN_MAX 10

static inline uint16_t rd_len(const loader_t *L, const zrec_t *r)
{
	const uint8_t *p = L->rdata + r->rdata;
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int rec_cmp_dedup(const void *a, const void *b)
{
	const zrec_t *x = a, *y = b;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static int rec_cmp_final(const void *a, const void *b)
{
	const zrec_t *x = a, *y = b;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/** Same record? The hash covers names case-insensitively; confirm with the bytes. */
static bool rec_same(const loader_t *L, const zrec_t *x, const zrec_t *y)
{
	if (x->type != y->type || x->hash != y->hash)
		return false;
	uint16_t len = rd_len(L, x);
	if (len != rd_len(L, y))
		return false;
	const uint8_t *p = L->rdata + x->rdata + 2, *q = L->rdata + y->rdata + 2;
	for (uint16_t i = 0; i < len; i++) {
		uint8_t c = p[i], d = q[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		if (d >= 'A' && d <= 'Z')
			d = (uint8_t)(d + 32);
		if (c != d)
			return false;
	}
	return true;
}

static uint32_t rd_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/** Sizes of the deduplicated records, for the final layout. */
struct build_sizes {
	size_t kept;	    /* records kept */
	size_t rrsets;	    /* RRsets they form */
	size_t rdata_bytes; /* their [RDLENGTH][RDATA] bytes */
};

/**
 * Sorts L->recs by owner into *recs_out (L->recs is freed), drops
 * duplicates and orders each owner's records by type then file position:
 * owner id's records are recs[start[id]..start[id + 1]). SOV_OK or SOV_ENOMEM
 * (then *recs_out and *start_out are still the caller's to free).
 */
static int build_sort(loader_t *L, zrec_t **recs_out, uint32_t **start_out, struct build_sizes *sz)
{
	names_t *nm = &L->names;
	uint32_t N = nm->count;

	/* Counting sort by owner id: O(n), stable (file order kept per owner). */
	uint32_t *start = *start_out = calloc((size_t)N + 1, sizeof(*start));
	zrec_t *recs = *recs_out = malloc((L->nrecs ? L->nrecs : 1) * sizeof(*recs));
	if (start == NULL || recs == NULL)
		return SOV_ENOMEM;
	for (uint32_t id = 0; id < N; id++)
		start[id + 1] = start[id] + nm->nrec[id];
	for (size_t i = 0; i < L->nrecs; i++)
		recs[start[L->recs[i].name]++] = L->recs[i];
	free(L->recs);
	L->recs = NULL;
	/* start[id] now holds the end of id's group; shift back to starts. */
	memmove(start + 1, start, (size_t)N * sizeof(*start));
	start[0] = 0;

	/* Per owner: drop duplicates (RFC 2181 §5), order RRsets by type and
	 * records by file position, compact into recs[0..kept). */
	size_t kept = 0, rrsets = 0, rdata_bytes = 0;
	for (uint32_t id = 0; id < N; id++) {
		zrec_t *g = recs + start[id];
		size_t gn = start[id + 1] - start[id], w = 0;
		if (gn > 1)
			qsort(g, gn, sizeof(*g), rec_cmp_dedup);
		for (size_t i = 0; i < gn; i++)
			if (w == 0 || !rec_same(L, &g[w - 1], &g[i]))
				g[w++] = g[i];
		if (w > 1)
			qsort(g, w, sizeof(*g), rec_cmp_final);
		memmove(recs + kept, g, w * sizeof(*g));
		g = recs + kept;
		start[id] = (uint32_t)kept;
		for (size_t i = 0; i < w; i++) {
			if (i == 0 || g[i].type != g[i - 1].type)
				rrsets++;
			rdata_bytes += 2 + (size_t)rd_len(L, &g[i]);
		}
		kept += w;
	}
	start[N] = (uint32_t)kept;
	*sz = (struct build_sizes){.kept = kept, .rrsets = rrsets, .rdata_bytes = rdata_bytes};
	return SOV_OK;
}

/**
 * Copies the sorted records into the zone's final blocks (allocated by the
 * caller: nodes then RRsets in mem->block, RDATA in mem->rdata) and fills
 * src[] with where each RRset came from. Differing TTLs in an RRset are
 * logged, more than 65535 records in one are an error.
 */
static void build_layout(loader_t *L, const zrec_t *recs, const uint32_t *start, rrset_src_t *src)
{
	zone_t *z = L->z;
	names_t *nm = &L->names;
	zone_mem_t *mem = z->mem;
	uint32_t N = nm->count;
	size_t nodes_sz = (size_t)N * sizeof(znode_t);
	z->nodes = mem->block;
	z->node_count = N;
	zrrset_t *rs = (zrrset_t *)(void *)((uint8_t *)mem->block + nodes_sz);
	uint8_t *rd = mem->rdata;
	size_t ri = 0;
	char name[DNAME_STR_MAX], tbuf[16];
	for (uint32_t id = 0; id < N; id++) {
		znode_t *n = &z->nodes[id];
		*n = (znode_t){.owner = nm->buf + nm->off[id],
			       .parent = ZNODE_NONE,
			       .cut = ZNODE_NONE,
			       .service = ZNODE_NONE,
			       .rrsets = rs + ri};
		for (uint32_t i = start[id]; i < start[id + 1];) {
			uint32_t j = i;
			zrrset_t *set = &rs[ri];
			*set =
			    (zrrset_t){.type = recs[i].type, .ttl_s = recs[i].ttl_s, .rdata = rd};
			src[ri] = (rrset_src_t){.first = i, .second = UINT32_MAX};
			bool warned = false;
			for (; j < start[id + 1] && recs[j].type == recs[i].type; j++) {
				const zrec_t *r = &recs[j];
				size_t len = 2 + (size_t)rd_len(L, r);
				memcpy(rd, L->rdata + r->rdata, len);
				rd += len;
				set->rdata_len += (uint32_t)len;
				if (j == i + 1)
					src[ri].second = j;
				/* RFC 2181 §5.2: one TTL per RRset. RRSIGs inherit the
				 * TTL of the RRset they cover, so theirs legitimately differ. */
				if (r->ttl_s != set->ttl_s && set->type != LDNS_RR_TYPE_RRSIG &&
				    !warned) {
					warned = true;
					if (L->ttl_warnings++ < ZONE_TTL_WARN_MAX) {
						zone_name_str(n->owner, name, sizeof(name));
						log_warn(
						    "zone",
						    "%s:%u: TTL %u of %s at %s differs from the "
						    "RRset's first TTL %u; using %u (RFC 2181 "
						    "§5.2)",
						    L->files[r->file], r->line, r->ttl_s,
						    zone_type_str(set->type, tbuf, sizeof(tbuf)),
						    name, set->ttl_s, set->ttl_s);
					}
				}
			}
			if (j - i > UINT16_MAX) {
				zone_name_str(n->owner, name, sizeof(name));
				zerr_rec(L, &recs[i], "%s at %s has %u records; at most 65535 fit",
					 zone_type_str(set->type, tbuf, sizeof(tbuf)), name, j - i);
			}
			set->count = (uint16_t)(j - i);
			n->rrset_count++;
			ri++;
			i = j;
		}
	}
	if (L->ttl_warnings > ZONE_TTL_WARN_MAX)
		log_warn("zone", "%s: %u more RRsets with differing TTLs not listed", z->path,
			 L->ttl_warnings - ZONE_TTL_WARN_MAX);
}

/** Tree links (parent, cut) and flags of every node. SOV_OK or SOV_ENOMEM. */
static int build_tree(zone_t *z)
{
	uint32_t N = z->node_count;
	/* Parents first: order nodes by depth (counting sort). */
	uint32_t depth_count[DNAME_MAXLABELS + 2] = {0};
	uint32_t *order = malloc(((size_t)N + 1) * sizeof(*order));
	if (order == NULL)
		return SOV_ENOMEM;
	for (uint32_t id = 0; id < N; id++)
		depth_count[dname_labels(z->nodes[id].owner) - z->origin_labels + 1]++;
	for (unsigned d = 1; d < DNAME_MAXLABELS + 2; d++)
		depth_count[d] += depth_count[d - 1];
	for (uint32_t id = 0; id < N; id++)
		order[depth_count[dname_labels(z->nodes[id].owner) - z->origin_labels]++] = id;
	z->nodes[0].flags |= ZNODE_APEX;
	for (uint32_t k = 0; k < N; k++) {
		uint32_t id = order[k];
		znode_t *n = &z->nodes[id];
		if (id == 0)
			continue;
		/* Present: names_add_empty_nonterminals() filled every gap up to the apex. */
		const znode_t *pn = zone_find(z, dname_parent(n->owner));
		assert(pn != NULL);
		uint32_t parent = (uint32_t)(pn - z->nodes);
		n->parent = parent;
		if (dname_is_wildcard(n->owner))
			z->nodes[parent].flags |= ZNODE_WILDCARD;
		bool has_ns = znode_rrset_pos(n, LDNS_RR_TYPE_NS, NULL) != NULL;
		if (has_ns)
			n->flags |= ZNODE_DELEG;
		if (z->nodes[parent].cut != ZNODE_NONE) {
			n->cut = z->nodes[parent].cut;
			n->flags |= ZNODE_GLUE;
		} else if (has_ns) {
			n->cut = id;
		}
	}
	free(order);
	return SOV_OK;
}

/**
 * Builds the final zone from the parsed records: sorts, deduplicates,
 * lays out nodes/RRsets/RDATA, links the tree, validates.
 */
int zone_build(loader_t *L)
{
	zone_t *z = L->z;
	names_t *nm = &L->names;
	zone_mem_t *mem = z->mem;
	zrec_t *recs = NULL;
	uint32_t *start = NULL;
	rrset_src_t *src = NULL;
	struct build_sizes sz;
	int ret = SOV_ENOMEM;

	if (names_add_empty_nonterminals(L) != SOV_OK)
		goto finish;
	if (build_sort(L, &recs, &start, &sz) != SOV_OK)
		goto finish;

	size_t nodes_sz = (size_t)nm->count * sizeof(znode_t);
	mem->block = malloc(nodes_sz + sz.rrsets * sizeof(zrrset_t) + 1);
	mem->rdata = malloc(sz.rdata_bytes + 1);
	src = malloc((sz.rrsets + 1) * sizeof(*src));
	if (mem->block == NULL || mem->rdata == NULL || src == NULL)
		goto finish;
	build_layout(L, recs, start, src);
	z->record_count = sz.kept;

	/* The zone index is the load-time name table: same ids, load <= 0.5. */
	z->index = nm->table;
	z->index_mask = nm->mask;
	mem->names = nm->buf;
	nm->table = NULL;
	nm->buf = NULL;

	if (build_tree(z) != SOV_OK)
		goto finish;
	for (size_t i = 0; L->svcs != NULL && i < L->svcs->count; i++)
		z->nodes[L->svc_node[i]].service = L->svcs->ids[i];
	zone_check(L, recs, src);

	const zrrset_t *soa = znode_rrset_pos(&z->nodes[0], LDNS_RR_TYPE_SOA, NULL);
	if (soa != NULL) {
		/* SOA RDATA (validated): MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM. */
		const uint8_t *p = soa->rdata + 2;
		p += dname_len(p);
		p += dname_len(p);
		z->serial = rd_u32(p);
		uint32_t minimum = rd_u32(p + 16);
		z->neg_ttl_s = soa->ttl_s < minimum ? soa->ttl_s : minimum;
	}
	ret = SOV_OK;
finish:
	free(start);
	free(recs);
	free(src);
	return ret;
}
