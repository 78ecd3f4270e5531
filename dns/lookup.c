/* lookup.c — RFC 1034 §4.3.2 inside one zone (contract in answer_int.h).
 *
 * Walks the zone index: exact match, zone cut (referral), CNAME (restart
 * at the target, same zone), DNAME (RFC 6672: a synthesised CNAME, then as
 * for a CNAME), wildcard (RFC 4592 closest encloser), or name error; then
 * the additional section (RFC 9460 §4.1 for SVCB/HTTPS). Geo service names
 * hand over to answer_service(). Nothing here allocates or locks.
 */
#include <string.h>

#include "dns/answer_int.h"
#include "geo/geo.h"
#include "geo/usable.h"
#include "wire/wire.h"

/* A CNAME chain longer than this is cut short: the reply holds the chain so
 * far and the resolver continues from its last target. 16 is far above any
 * sane chain (BIND and Unbound stop resolving at 9-12 hops). */
#define CNAME_CHAIN_MAX 16

/* Adds a required section RRset; on overflow marks the reply truncated. */
static void add_rrset(struct answer *a, enum section sec, const uint8_t *owner, uint16_t owner_ptr,
		      const zrrset_t *rs, uint32_t ttl_s)
{
	if (a->tc)
		return;
	if (!put_rrset(&a->r, sec, owner, owner_ptr, rs, ttl_s))
		a->tc = true;
}

/* Queues the A/AAAA of `target` (uncompressed, any case) for the additional
 * section if it is a name in this zone; `follow` (SVCB or HTTPS, else 0):
 * its RRset of that type goes there too (an AliasMode chain). */
static void queue_additional(struct answer *a, const uint8_t *target, bool required, bool glue,
			     uint16_t follow)
{
	/* minimal_responses: only what the resolver cannot do without (the
	 * glue of a delegation, also one reached through a CNAME); the
	 * addresses of MX/SRV/NS targets it can ask for. */
	if (a->extra_n >= ADDITIONAL_MAX || target[0] == 0 || (!glue && a->snap->minimal_responses))
		return;
	if (!dname_is_subdomain(target, a->zone->origin))
		return;
	uint8_t lname[DNAME_MAXLEN];
	dname_lower(lname, target);
	const znode_t *n = zone_find(a->zone, lname);
	if (n == NULL)
		return;
	for (unsigned i = 0; i < a->extra_n; i++) {
		if (a->extra[i] == n) {
			a->extra_required[i] |= required;
			if (a->extra_follow[i] == 0)
				a->extra_follow[i] = follow;
			return;
		}
	}
	a->extra_required[a->extra_n] = required;
	a->extra_follow[a->extra_n] = follow;
	a->extra[a->extra_n++] = n;
}

/* SVCB and HTTPS (RFC 9460 §4.1, as Knot does): the addresses of each
 * record's TargetName in the zone — of the owner itself for a ServiceMode
 * record whose target is "." — and, for an AliasMode record (priority 0),
 * the target's own RRset of the type, whose targets are then queued in
 * turn (answer_additionals). AliasMode to "." means "no service": nothing.
 * Names are queued once, so a chain that loops ends. */
static void queue_svcb_targets(struct answer *a, const zrrset_t *rs, const uint8_t *owner)
{
	const uint8_t *rd = rs->rdata;
	for (uint16_t i = 0; i < rs->count; i++) {
		uint16_t rdlen = wire_read_u16(rd);
		if (rdlen > 2) {
			bool alias = wire_read_u16(rd + 2) == 0;
			const uint8_t *target = rd + 4;
			if (target[0] != 0)
				queue_additional(a, target, false, false, alias ? rs->type : 0);
			else if (!alias && owner != NULL)
				queue_additional(a, owner, false, false, 0);
		}
		rd += 2 + rdlen;
	}
}

/* Queues additional-section processing for an RRset with target names
 * (RFC 1034 §4.3.2 step 6; NS, MX, SRV as Knot and NSD do). `required`:
 * a missing address sets TC; `glue`: the NS set of a delegation. */
static void queue_targets(struct answer *a, const zrrset_t *rs, bool required, bool glue)
{
	size_t skip;
	switch (rs->type) {
	case DNS_TYPE_NS:
		skip = 0;
		break;
	case DNS_TYPE_MX:
		skip = 2;
		break;
	case DNS_TYPE_SRV:
		skip = 6;
		break;
	default:
		return;
	}
	const uint8_t *rd = rs->rdata;
	for (uint16_t i = 0; i < rs->count; i++) {
		uint16_t rdlen = wire_read_u16(rd);
		if (rdlen > skip)
			queue_additional(a, rd + 2 + skip, required, glue, 0);
		rd += 2 + rdlen;
	}
}

/* The SOA of a negative answer; its TTL says how long resolvers cache the
 * negative answer (RFC 2308 §5): min(SOA TTL, MINIMUM), or less (max_ttl_s)
 * for a service, whose "no address" must not outlive its own TTL. */
static void add_negative_soa_ttl(struct answer *a, uint32_t max_ttl_s)
{
	const znode_t *apex = zone_node(a->zone, 0);
	const zrrset_t *soa = znode_rrset(apex, DNS_TYPE_SOA);
	uint32_t ttl = a->zone->neg_ttl_s < max_ttl_s ? a->zone->neg_ttl_s : max_ttl_s;
	if (soa != NULL)
		add_rrset(a, SEC_AUTHORITY, a->zone->origin, 0, soa, ttl);
}

static void add_negative_soa(struct answer *a)
{
	add_negative_soa_ttl(a, UINT32_MAX);
}

/* Referral (RFC 1034 §4.3.2 step 3b): NS of the cut in authority, glue in
 * additional, AA cleared. */
static void add_referral(struct answer *a, const znode_t *cut)
{
	const zrrset_t *ns = znode_rrset(cut, DNS_TYPE_NS);
	a->aa = false;
	if (ns == NULL)
		return;
	add_rrset(a, SEC_AUTHORITY, cut->owner, 0, ns, ns->ttl_s);
	queue_targets(a, ns, true, true);
}

/* Result of looking up one name inside the zone. */
enum lookup_kind { LK_FOUND, LK_WILDCARD, LK_REFERRAL, LK_DNAME, LK_NXDOMAIN };

struct lookup {
	enum lookup_kind kind;
	const znode_t *node; /* exact node, wildcard node, or cut */
};

/* Finds lname (lowercased, inside the zone) in the zone: exact match, zone
 * cut above it, wildcard at its closest encloser (RFC 4592 §3.3.1), or
 * name error. */
static struct lookup zone_lookup(const zone_t *z, const uint8_t *lname)
{
	struct lookup lk = {LK_NXDOMAIN, NULL};
	const znode_t *n = zone_find(z, lname);
	if (n != NULL) {
		if (n->cut != ZNODE_NONE) {
			lk.kind = LK_REFERRAL;
			lk.node = zone_node(z, n->cut);
			/* The cut itself answers as the exact node: the caller
			 * decides DS (parent side) vs referral. */
			if (lk.node == n) {
				lk.kind = LK_FOUND;
				lk.node = n;
			}
			return lk;
		}
		lk.kind = LK_FOUND;
		lk.node = n;
		return lk;
	}
	/* Closest encloser: the longest existing ancestor (ENTs are nodes). */
	unsigned extra = dname_labels(lname) - z->origin_labels;
	const uint8_t *name = lname;
	const znode_t *enc = NULL;
	for (unsigned i = 0; i < extra && enc == NULL; i++) {
		name = dname_parent(name);
		enc = zone_find(z, name);
	}
	if (enc == NULL)
		enc = zone_node(z, 0);
	if (enc->cut != ZNODE_NONE) {
		lk.kind = LK_REFERRAL;
		lk.node = zone_node(z, enc->cut);
		return lk;
	}
	/* RFC 6672 §3.2: a DNAME at the closest encloser redirects every name
	 * below it (none exists there: the loader refuses data below a DNAME,
	 * so the closest encloser is the DNAME's owner). Only on this miss path:
	 * exact hits pay nothing. */
	if (znode_rrset(enc, DNS_TYPE_DNAME) != NULL) {
		lk.kind = LK_DNAME;
		lk.node = enc;
		return lk;
	}
	if (enc->flags & ZNODE_WILDCARD) {
		uint8_t wname[DNAME_MAXLEN];
		size_t elen = dname_len(enc->owner);
		if (elen + 2 <= DNAME_MAXLEN) {
			wname[0] = 1;
			wname[1] = '*';
			memcpy(wname + 2, enc->owner, elen);
			const znode_t *w = zone_find(z, wname);
			if (w != NULL) {
				lk.kind = LK_WILDCARD;
				lk.node = w;
				return lk;
			}
		}
	}
	return lk;
}

/* The first RRset of a node for a UDP ANY query (RFC 8482 §4.1: one RRset
 * is enough; the resolver can ask over TCP for everything). */
static void answer_any(struct answer *a, const znode_t *n, const uint8_t *owner, uint16_t ptr)
{
	if (n->rrset_count == 0) {
		add_negative_soa(a);
		return;
	}
	uint16_t count = (a->transport == DNS_UDP) ? 1 : n->rrset_count;
	for (uint16_t i = 0; i < count; i++)
		add_rrset(a, SEC_ANSWER, owner, ptr, &n->rrsets[i], n->rrsets[i].ttl_s);
}

/* Builds the answer for the zone a->zone, RFC 1034 §4.3.2 steps 3-6. */
void answer_zone(struct answer *a, uint16_t qtype)
{
	const zone_t *z = a->zone;
	/* Lowercased owner names of the chain so far, for the loop guard. */
	uint8_t chain_names[CNAME_CHAIN_MAX + 1][DNAME_MAXLEN];
	/* Names made by DNAME substitution, in the client's case: the owners of
	 * the next steps (the records written under them live until the end). */
	uint8_t synth[CNAME_CHAIN_MAX + 1][DNAME_MAXLEN];
	const uint8_t *lname = a->q->qname_lower;
	const uint8_t *owner = a->q->qname;  /* the name the records are written under */
	uint16_t owner_ptr = DNS_HEADER_LEN; /* first owner is the question's name */
	unsigned chain = 0;

	a->aa = true;
	for (;;) {
		struct lookup lk = zone_lookup(z, lname);
		const znode_t *n = lk.node;

		if (lk.kind == LK_NXDOMAIN) {
			a->rcode = DNS_RCODE_NXDOMAIN;
			add_negative_soa(a);
			return;
		}
		if (lk.kind == LK_REFERRAL ||
		    (lk.kind == LK_FOUND && (n->flags & ZNODE_DELEG) && qtype != DNS_TYPE_DS)) {
			if (chain == 0) {
				add_referral(a, n);
			} else {
				/* A CNAME led below a cut: the chain so far is
				 * authoritative; point the resolver at the child. */
				const zrrset_t *ns = znode_rrset(n, DNS_TYPE_NS);
				if (ns != NULL) {
					add_rrset(a, SEC_AUTHORITY, n->owner, 0, ns, ns->ttl_s);
					queue_targets(a, ns, false, true);
				}
			}
			return;
		}

		const uint8_t *target;
		if (lk.kind == LK_DNAME) {
			/* RFC 6672 §3.1: the DNAME, then a CNAME from `owner` to
			 * the substituted name (TTL of the DNAME; never signed,
			 * §5.3.1), then on at that name as for a CNAME. */
			const zrrset_t *dn = znode_rrset(n, DNS_TYPE_DNAME);
			add_rrset(a, SEC_ANSWER, n->owner, 0, dn, dn->ttl_s);
			if (a->tc)
				return;
			size_t olen = dname_len(owner), dlen = dname_len(n->owner);
			const uint8_t *dtarget = dn->rdata + 2;
			size_t tlen = dname_len(dtarget);
			if (olen - dlen + tlen > DNAME_MAXLEN) {
				a->rcode = DNS_RCODE_YXDOMAIN; /* §2.2 */
				return;
			}
			uint8_t *next_owner = synth[chain];
			memcpy(next_owner, owner, olen - dlen);
			memcpy(next_owner + olen - dlen, dtarget, tlen);
			uint8_t rd[2 + DNAME_MAXLEN];
			wire_write_u16(rd, (uint16_t)(olen - dlen + tlen));
			memcpy(rd + 2, next_owner, olen - dlen + tlen);
			zrrset_t cname = {DNS_TYPE_CNAME, 1, dn->ttl_s,
					  (uint32_t)(2 + olen - dlen + tlen), rd};
			add_rrset(a, SEC_ANSWER, owner, owner_ptr, &cname, dn->ttl_s);
			if (a->tc || qtype == DNS_TYPE_CNAME)
				return; /* a CNAME query: the synthesised CNAME is the answer */
			target = next_owner;
			goto follow;
		}

		/* LK_FOUND or LK_WILDCARD: n holds the data for `owner`. */
		if (n->service != ZNODE_NONE && a->snap->geo != NULL) {
			if (!geo_health_ready(a->snap->health) &&
			    (qtype == DNS_TYPE_A || qtype == DNS_TYPE_AAAA ||
			     qtype == DNS_TYPE_ANY)) {
				/* Start-up: the first probe round is not done; a
				 * resolver will ask another server or retry. */
				a->rcode = DNS_RCODE_SERVFAIL;
				a->aa = false;
				return;
			}
			if (qtype == DNS_TYPE_A || qtype == DNS_TYPE_AAAA) {
				/* NODATA: "no datacenter has this family" is as lasting
				 * as the zone; "none is usable" must not be cached
				 * longer than the service's own short TTL. */
				a->svc_outcome = GEO_OUT_OK;
				if (answer_service(a, n->service, owner, owner_ptr, qtype) == 0 &&
				    !a->tc)
					add_negative_soa_ttl(
					    a, a->svc_outcome == GEO_OUT_NOFAMILY
						   ? UINT32_MAX
						   : geo_service(a->snap->geo, n->service)
							 ->ttl_down_s);
				return;
			}
			if (qtype == DNS_TYPE_ANY) {
				/* RFC 8482: over UDP the service's A records are
				 * enough; over TCP both families and the rest. */
				unsigned w =
				    answer_service(a, n->service, owner, owner_ptr, DNS_TYPE_A);
				if (a->transport == DNS_TCP)
					w += answer_service(a, n->service, owner, owner_ptr,
							    DNS_TYPE_AAAA);
				if (a->transport == DNS_TCP || w == 0) {
					if (n->rrset_count > 0)
						answer_any(a, n, owner, owner_ptr);
					else if (w == 0)
						add_negative_soa(a);
				}
				return;
			}
		}
		if (qtype == DNS_TYPE_ANY) {
			answer_any(a, n, owner, owner_ptr);
			return;
		}
		const zrrset_t *rs = znode_rrset(n, qtype);
		if (rs != NULL) {
			add_rrset(a, SEC_ANSWER, owner, owner_ptr, rs, rs->ttl_s);
			if (qtype == DNS_TYPE_SVCB || qtype == DNS_TYPE_HTTPS) {
				a->svcb_node = n;
				queue_svcb_targets(a, rs, owner);
			} else {
				queue_targets(a, rs, false, false);
			}
			return;
		}
		const zrrset_t *cname = znode_rrset(n, DNS_TYPE_CNAME);
		if (cname == NULL || qtype == DNS_TYPE_CNAME) {
			add_negative_soa(a); /* NODATA (RFC 2308 §2.2) */
			return;
		}

		/* CNAME: answer it, then restart at its target (same zone only,
		 * as Knot DNS and NSD do: a resolver follows the rest). */
		add_rrset(a, SEC_ANSWER, owner, owner_ptr, cname, cname->ttl_s);
		if (a->tc)
			return;
		target = cname->rdata + 2;
	follow:
		if (chain >= CNAME_CHAIN_MAX || !dname_is_subdomain(target, z->origin))
			return;
		if (chain == 0)
			memcpy(chain_names[0], lname, dname_len(lname));
		uint8_t *next = chain_names[++chain];
		dname_lower(next, target);
		for (unsigned i = 0; i < chain; i++)
			if (dname_equal(chain_names[i], next))
				return; /* loop: the chain so far is the answer */
		owner = target;		/* zone memory: stable for the whole query */
		owner_ptr = 0;
		lname = next;
	}
}

/* Writes the additional section: addresses of queued targets. Optional
 * data that does not fit is left out without TC (RFC 2181 §9); referral
 * glue is required and sets TC (RFC 9471). */
void answer_additionals(struct answer *a)
{
	/* extra_n may grow in the loop: an AliasMode chain queues its next
	 * targets (bounded by ADDITIONAL_MAX, each name once). */
	for (unsigned i = 0; i < a->extra_n && !a->tc; i++) {
		const znode_t *n = a->extra[i];
		if (a->extra_follow[i] != 0 && n != a->svcb_node) {
			const zrrset_t *rs = znode_rrset(n, a->extra_follow[i]);
			if (rs != NULL) {
				if (!put_rrset(&a->r, SEC_ADDITIONAL, n->owner, 0, rs, rs->ttl_s))
					return;
				queue_svcb_targets(a, rs, n->owner);
			}
		}
		static const uint16_t types[2] = {DNS_TYPE_A, DNS_TYPE_AAAA};
		for (int t = 0; t < 2; t++) {
			const zrrset_t *rs = znode_rrset(n, types[t]);
			if (rs == NULL)
				continue;
			if (!put_rrset(&a->r, SEC_ADDITIONAL, n->owner, 0, rs, rs->ttl_s)) {
				if (a->extra_required[i])
					a->tc = true;
				return;
			}
		}
	}
}
