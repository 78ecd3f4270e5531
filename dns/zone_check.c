/* zone_check.c — semantic rules on the built zone (contract in zone_int.h).
 *
 * Runs once the tree is linked (parent, cut): one SOA and NS at the apex,
 * CNAME alone at its name (RFC 2181 §10.1), nothing but NS/DS at a zone cut
 * (and its own glue when its NS names it, RFC 9471 §2.1) and nothing but
 * glue below it (RFC 1034 §4.2.1), service names free of
 * static addresses and above any cut.
 */
#include <ldns/ldns.h>
#include <stdio.h>

#include "dns/zone_int.h"

/** True if `lname` is the target of one of the NS records of `cut`. */
static bool is_ns_target(const znode_t *cut, const uint8_t *lname)
{
	const zrrset_t *ns = znode_rrset_pos(cut, LDNS_RR_TYPE_NS, NULL);
	if (ns == NULL)
		return false;
	const uint8_t *p = ns->rdata;
	for (uint16_t i = 0; i < ns->count; i++) {
		uint16_t len = (uint16_t)(p[0] << 8 | p[1]);
		if (dname_equal(p + 2, lname))
			return true;
		p += 2 + len;
	}
	return false;
}

/** Checks one node against the rules of zone.h; problems go to L's errors. */
static void validate_node(loader_t *L, const zone_t *z, uint32_t idx, const zrec_t *recs,
			  const rrset_src_t *src, uint32_t rrset_base)
{
	const znode_t *n = &z->nodes[idx];
	char name[DNAME_STR_MAX], cutname[DNAME_STR_MAX], tbuf[16];
	if (n->rrset_count == 0)
		return;
	zone_name_str(n->owner, name, sizeof(name));
	const rrset_src_t *s = &src[rrset_base];

	if (idx == 0) {
		uint32_t pos;
		const zrrset_t *soa = znode_rrset_pos(n, LDNS_RR_TYPE_SOA, &pos);
		if (soa != NULL && soa->count > 1)
			zerr_rec(L, &recs[s[pos].second],
				 "more than one SOA record at the zone apex %s", name);
	}

	uint32_t cpos;
	const zrrset_t *cname = znode_rrset_pos(n, LDNS_RR_TYPE_CNAME, &cpos);
	if (cname != NULL) {
		if (cname->count > 1)
			zerr_rec(L, &recs[s[cpos].second],
				 "two CNAME records at %s: a name has at most one (RFC 2181 §10.1)",
				 name);
		char others[256] = "";
		size_t olen = 0;
		uint32_t other = UINT32_MAX; /* earliest record of other data */
		for (uint16_t i = 0; i < n->rrset_count; i++) {
			uint16_t t = n->rrsets[i].type;
			/* RFC 4035 §2.5: DNSSEC records live beside a CNAME. */
			if (t == LDNS_RR_TYPE_CNAME || t == LDNS_RR_TYPE_RRSIG ||
			    t == LDNS_RR_TYPE_NSEC)
				continue;
			int w = snprintf(others + olen, sizeof(others) - olen, "%s%s",
					 olen ? ", " : "", zone_type_str(t, tbuf, sizeof(tbuf)));
			if (w > 0 && (size_t)w < sizeof(others) - olen)
				olen += (size_t)w;
			if (other == UINT32_MAX || recs[s[i].first].seq < recs[other].seq)
				other = s[i].first;
		}
		/* Point at the record that created the conflict: the later of the
		 * CNAME and the first other record, as an incremental reader would. */
		uint32_t at = s[cpos].first;
		if (other != UINT32_MAX && recs[other].seq > recs[at].seq)
			at = other;
		if (other != UINT32_MAX)
			zerr_rec(L, &recs[at],
				 "CNAME at %s cannot coexist with other data (%s) (RFC 2181 §10.1)",
				 name, others);
	}

	uint32_t dpos;
	const zrrset_t *dname = znode_rrset_pos(n, LDNS_RR_TYPE_DNAME, &dpos);
	if (dname != NULL) {
		/* RFC 6672 §2.4: one DNAME per name (beside a CNAME: the CNAME
		 * rule above). */
		if (dname->count > 1)
			zerr_rec(L, &recs[s[dpos].second],
				 "two DNAME records at %s: a name has at most one (RFC 6672 §2.4)",
				 name);
	}

	if (n->cut == idx) {
		/* RFC 9471 §2.1: a cut whose NS names the cut itself ("sub NS
		 * sub.example.test.") needs that name's addresses as glue; they
		 * are the one data beside NS/DS at a cut (NSD, Knot, BIND). */
		bool self_glue = is_ns_target(n, n->owner);
		for (uint16_t i = 0; i < n->rrset_count; i++) {
			uint16_t t = n->rrsets[i].type;
			if (t == LDNS_RR_TYPE_NS || t == LDNS_RR_TYPE_DS ||
			    t == LDNS_RR_TYPE_NSEC || t == LDNS_RR_TYPE_RRSIG)
				continue;
			if ((t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA) && self_glue)
				continue;
			zerr_rec(L, &recs[s[i].first],
				 "%s at %s is occluded by the delegation (zone cut) at %s: only "
				 "NS and DS records belong there (and A/AAAA when an NS "
				 "record names the cut itself)",
				 zone_type_str(t, tbuf, sizeof(tbuf)), name, name);
		}
	} else if (n->cut != ZNODE_NONE) {
		const znode_t *cut = &z->nodes[n->cut];
		zone_name_str(cut->owner, cutname, sizeof(cutname));
		bool target = is_ns_target(cut, n->owner);
		for (uint16_t i = 0; i < n->rrset_count; i++) {
			uint16_t t = n->rrsets[i].type;
			if ((t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA) && target)
				continue;
			zerr_rec(L, &recs[s[i].first],
				 "%s at %s is below the zone cut at %s and is not glue for it",
				 zone_type_str(t, tbuf, sizeof(tbuf)), name, cutname);
		}
	}
}

/* RFC 6672 §2.3: the names below a DNAME are never looked up (the DNAME
 * redirects them): data there is occluded, refused as below a cut. Only
 * zones with a DNAME pay for the walk up from each node. */
static void check_below_dname(loader_t *L, const zone_t *z, const zrec_t *recs,
			      const rrset_src_t *src)
{
	char name[DNAME_STR_MAX], dname[DNAME_STR_MAX], tbuf[16];
	bool any = false;
	for (uint32_t id = 0; id < z->node_count && !any; id++)
		any = znode_rrset_pos(&z->nodes[id], LDNS_RR_TYPE_DNAME, NULL) != NULL;
	if (!any)
		return;
	const zrrset_t *first = z->nodes[0].rrsets;
	for (uint32_t id = 1; id < z->node_count; id++) {
		const znode_t *n = &z->nodes[id];
		if (n->rrset_count == 0)
			continue;
		const znode_t *up = NULL;
		for (uint32_t p = n->parent; p != ZNODE_NONE && up == NULL; p = z->nodes[p].parent)
			if (znode_rrset_pos(&z->nodes[p], LDNS_RR_TYPE_DNAME, NULL) != NULL)
				up = &z->nodes[p];
		if (up == NULL)
			continue;
		zone_name_str(n->owner, name, sizeof(name));
		zone_name_str(up->owner, dname, sizeof(dname));
		size_t base = (size_t)(n->rrsets - first);
		for (uint16_t k = 0; k < n->rrset_count; k++)
			zerr_rec(L, &recs[src[base + k].first],
				 "%s at %s is occluded by the DNAME at %s: names below a DNAME "
				 "are redirected, never looked up (RFC 6672 §2.3)",
				 zone_type_str(n->rrsets[k].type, tbuf, sizeof(tbuf)), name, dname);
	}
}

void zone_check(loader_t *L, const zrec_t *recs, const rrset_src_t *src)
{
	const zone_t *z = L->z;
	char name[DNAME_STR_MAX], tbuf[16];
	/* Zone-wide rules, then per node. */
	const znode_t *apex = &z->nodes[0];
	const zrrset_t *rs = apex->rrsets; /* the first of all RRsets */
	const zrrset_t *soa = znode_rrset_pos(apex, LDNS_RR_TYPE_SOA, NULL);
	/* After a syntax error the SOA may be the record that failed: saying
	 * "no SOA" too would only mislead. */
	if (soa == NULL && !L->syntax_error)
		zerr_add(L, UINT32_MAX, 0, 0, "no SOA record at the zone apex %s", z->origin_str);
	if (znode_rrset_pos(apex, LDNS_RR_TYPE_NS, NULL) == NULL)
		zerr_add(L, UINT32_MAX, 0, 0, "no NS records at the zone apex %s (RFC 1034 §4.2.1)",
			 z->origin_str);
	size_t base = 0;
	for (uint32_t id = 0; id < z->node_count; id++) {
		validate_node(L, z, id, recs, src, (uint32_t)base);
		base += z->nodes[id].rrset_count;
	}
	check_below_dname(L, z, recs, src);
	for (size_t i = 0; L->svcs != NULL && i < L->svcs->count; i++) {
		const znode_t *n = &z->nodes[L->svc_node[i]];
		zone_name_str(n->owner, name, sizeof(name));
		if (n->cut != ZNODE_NONE) {
			char cut[DNAME_STR_MAX];
			zone_name_str(z->nodes[n->cut].owner, cut, sizeof(cut));
			zerr_add(L, UINT32_MAX, 0, 0,
				 "service %s is at or below the zone cut at %s: the child zone "
				 "answers for it",
				 name, cut);
			continue;
		}
		size_t first = (size_t)(n->rrsets - rs);
		for (uint16_t k = 0; k < n->rrset_count; k++) {
			uint16_t t = n->rrsets[k].type;
			if (t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA ||
			    t == LDNS_RR_TYPE_CNAME)
				zerr_rec(
				    L, &recs[src[first + k].first],
				    "%s is a service in the configuration (its A/AAAA answers "
				    "are chosen per query): a static %s record cannot stand there",
				    name, zone_type_str(t, tbuf, sizeof(tbuf)));
		}
	}
}
