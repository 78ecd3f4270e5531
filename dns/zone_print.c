/* zone_print.c — a loaded zone back to an RFC 1035 master file (zone.h).
 *
 * A secondary serves the zone it built from a transfer and keeps it as a
 * master file for restarts and for applying the next IXFR. One line per
 * record: "owner TTL IN TYPE RDATA", owners absolute. A and AAAA (most of a
 * large zone) are formatted here; every other type by ldns (ldns_wire2rdf
 * on the stored [RDLENGTH][RDATA], then ldns_rr_print), the form the zone
 * parser reads back.
 */
#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <stdio.h>

#include "common/err.h"
#include "dns/zone.h"

/* One record of type `type` at the node's owner (presentation `name`).
 * rd points at [RDLENGTH][RDATA]. 0, or -1 when ldns cannot print it. */
static int print_rr(FILE *out, const uint8_t *owner, const char *name, uint16_t type,
		    uint32_t ttl_s, const uint8_t *rd)
{
	uint16_t len = (uint16_t)(rd[0] << 8 | rd[1]);
	char addr[INET6_ADDRSTRLEN];
	if ((type == LDNS_RR_TYPE_A && len == 4) || (type == LDNS_RR_TYPE_AAAA && len == 16)) {
		if (inet_ntop(len == 4 ? AF_INET : AF_INET6, rd + 2, addr, sizeof(addr)) == NULL)
			return -1;
		fprintf(out, "%s\t%u\tIN\t%s\t%s\n", name, ttl_s, len == 4 ? "A" : "AAAA", addr);
		return 0;
	}
	ldns_rr *rr = zone_rr_ldns(owner, type, ttl_s, rd);
	if (rr == NULL)
		return -1;
	ldns_rr_print(out, rr);
	ldns_rr_free(rr);
	return 0;
}

ldns_rr *zone_rr_ldns(const uint8_t *owner, uint16_t type, uint32_t ttl_s, const uint8_t *rd)
{
	uint16_t len = (uint16_t)(rd[0] << 8 | rd[1]);
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *o = ldns_dname_new_frm_data((uint16_t)dname_len(owner), owner);
	size_t pos = 0;
	if (rr == NULL || o == NULL)
		goto fail;
	ldns_rr_set_owner(rr, o);
	o = NULL;
	ldns_rr_set_type(rr, (ldns_rr_type)type);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, ttl_s);
	if (ldns_wire2rdf(rr, rd, (size_t)len + 2, &pos) != LDNS_STATUS_OK)
		goto fail;
	return rr;
fail:
	ldns_rdf_deep_free(o);
	ldns_rr_free(rr);
	return NULL;
}

/* Every record of RRset rs at node n. */
static int print_rrset(FILE *out, const znode_t *n, const char *name, const zrrset_t *rs)
{
	const uint8_t *rd = rs->rdata;
	for (uint16_t i = 0; i < rs->count; i++) {
		if (print_rr(out, n->owner, name, rs->type, rs->ttl_s, rd) < 0)
			return -1;
		rd += 2 + (size_t)(rd[0] << 8 | rd[1]);
	}
	return 0;
}

int zone_print(const zone_t *z, FILE *out, uint64_t *records)
{
	char name[DNAME_STR_MAX];
	uint64_t count = 0;
	*records = 0;
	if (!zone_has_data(z))
		return SOV_EINVAL;
	/* The SOA first (RFC 1035 §5.2: a zone file starts with it), then
	 * every node's RRsets in the index's order. */
	const znode_t *apex = &z->nodes[0];
	const zrrset_t *soa = znode_rrset(apex, LDNS_RR_TYPE_SOA);
	if (soa == NULL || dname_to_str(apex->owner, name, sizeof(name)) < 0)
		return SOV_EINVAL;
	if (print_rrset(out, apex, name, soa) < 0)
		return SOV_EINVAL;
	count += soa->count;
	for (uint32_t i = 0; i < z->node_count; i++) {
		const znode_t *n = &z->nodes[i];
		if (n->rrset_count == 0)
			continue;
		if (dname_to_str(n->owner, name, sizeof(name)) < 0)
			return SOV_EINVAL;
		for (uint16_t k = 0; k < n->rrset_count; k++) {
			if (&n->rrsets[k] == soa)
				continue;
			if (print_rrset(out, n, name, &n->rrsets[k]) < 0)
				return SOV_EINVAL;
			count += n->rrsets[k].count;
		}
	}
	*records = count;
	return ferror(out) ? SOV_EIO : SOV_OK;
}
