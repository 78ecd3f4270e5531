/* zone_index.c — lookups in a loaded zone, and freeing it (contract in zone.h).
 *
 * The query path's part of the zone: zone_find() probes the open-addressing
 * index (hash beside node id, so a probe costs one cache line), and
 * znode_rrset() finds an RRset among a node's few, sorted by type.
 */
#include <stdlib.h>
#include <string.h>

#include "dns/zone_int.h"
#include "wire/wire.h"

const zrrset_t *znode_rrset_pos(const znode_t *n, uint16_t type, uint32_t *pos)
{
	uint32_t lo = 0, hi = n->rrset_count;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (n->rrsets[mid].type < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n->rrset_count && n->rrsets[lo].type == type) {
		if (pos)
			*pos = lo;
		return &n->rrsets[lo];
	}
	return NULL;
}

zone_t *zone_new_empty(const char *origin, const char *path)
{
	char buf[DNAME_STR_MAX];
	zone_t *z = calloc(1, sizeof(*z));
	if (z == NULL)
		return NULL;
	atomic_init(&z->refs, 1);
	int len = dname_from_str(origin, z->origin);
	if (len < 0 || dname_to_str(z->origin, buf, sizeof(buf)) < 0) {
		free(z);
		return NULL;
	}
	z->origin_len = (uint16_t)len;
	z->origin_labels = (uint16_t)dname_labels(z->origin);
	z->origin_str = strdup(buf);
	z->path = strdup(path);
	if (z->origin_str == NULL || z->path == NULL) {
		zone_free(z);
		return NULL;
	}
	return z;
}

bool zone_soa_timers(const zone_t *z, struct zone_soa_timers *t)
{
	if (!zone_has_data(z))
		return false;
	const zrrset_t *soa = znode_rrset(zone_node(z, 0), DNS_TYPE_SOA);
	if (soa == NULL || soa->rdata_len < 2)
		return false;
	/* One record: [RDLENGTH][MNAME][RNAME][SERIAL REFRESH RETRY EXPIRE MINIMUM]. */
	uint16_t rdlen = wire_read_u16(soa->rdata);
	if (rdlen < 22 || (uint32_t)rdlen + 2 > soa->rdata_len)
		return false;
	const uint8_t *end = soa->rdata + 2 + rdlen;
	t->refresh = wire_read_u32(end - 16);
	t->retry = wire_read_u32(end - 12);
	t->expire = wire_read_u32(end - 8);
	t->minimum = wire_read_u32(end - 4);
	return true;
}

int64_t zone_expire_remaining(const zone_t *z, int64_t now_s)
{
	struct zone_soa_timers t;
	if (!zone_soa_timers(z, &t))
		return -1;
	int64_t at = atomic_load_explicit(&z->expire_at_s, memory_order_relaxed);
	if (at == 0)
		return t.expire;
	return at > now_s ? at - now_s : 0;
}

zone_t *zone_ref(const zone_t *z)
{
	zone_t *m = (zone_t *)z;
	atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	return m;
}

void zone_free(zone_t *z)
{
	if (z == NULL)
		return;
	if (atomic_fetch_sub_explicit(&z->refs, 1, memory_order_acq_rel) != 1)
		return;
	zone_mem_t *mem = z->mem;
	if (mem != NULL) {
		free(mem->block);
		free(mem->rdata);
		free(mem->names);
		free(mem);
	}
	free(z->index);
	free(z->origin_str);
	free(z->path);
	free(z);
}

const znode_t *zone_find(const zone_t *z, const uint8_t *lower_name)
{
	size_t len;
	uint32_t h = dname_hash_len(lower_name, &len);
	for (uint32_t i = h & z->index_mask;; i = (i + 1) & z->index_mask) {
		uint64_t v = z->index[i];
		if (v == 0)
			return NULL;
		if ((uint32_t)(v >> 32) != h)
			continue;
		const znode_t *n = &z->nodes[(uint32_t)v - 1];
		if (dname_len(n->owner) == len && memcmp(n->owner, lower_name, len) == 0)
			return n;
	}
}

const zrrset_t *znode_rrset(const znode_t *n, uint16_t type)
{
	/* Most nodes hold one to three RRsets: a linear scan beats bisection there. */
	if (n->rrset_count <= 8) {
		for (uint16_t i = 0; i < n->rrset_count; i++) {
			if (n->rrsets[i].type == type)
				return &n->rrsets[i];
			if (n->rrsets[i].type > type)
				return NULL;
		}
		return NULL;
	}
	return znode_rrset_pos(n, type, NULL);
}
