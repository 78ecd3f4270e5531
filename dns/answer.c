/* answer.c — the answer path (see answer.h for the contract).
 *
 * Shape: parse the query (wire.c), pick the zone (zonedb.c), then walk the
 * zone index as RFC 1034 §4.3.2 describes: exact match, zone cut
 * (referral), CNAME (restart at the target, same zone), wildcard
 * (RFC 4592 closest encloser), or name error. Records are written straight
 * from the zone's pre-rendered RDATA into the reply buffer; domain names of
 * RFC 1035 types are compressed against a small per-reply table of the
 * offsets of names already written. Nothing here allocates or locks.
 */
#include "dns/answer.h"

#include <netinet/in.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "geo/geo.h"
#include "geo/usable.h"
#include "dns/rrl.h"
#include "dns/wire.h"
#include "dns/zonedb.h"

/* A CNAME chain longer than this is cut short: the reply holds the chain so
 * far and the resolver continues from its last target. 16 is far above any
 * sane chain (BIND and Unbound stop resolving at 9-12 hops). */
#define CNAME_CHAIN_MAX 16

/* Offsets remembered for name compression. A reply that fits 1232 bytes
 * holds at most ~60 names; 128 label positions cover the large TCP replies
 * well enough, and a full table only costs compression, never correctness. */
#define COMPRESS_MAX 128

/* Names whose A/AAAA we add to the additional section, at most. */
#define ADDITIONAL_MAX 32

/* Bytes of an OPT record with no options: root owner, type, class, TTL, RDLENGTH. */
#define OPT_FIXED_LEN 11

/* DNS Cookies (RFC 7873, server cookie format of RFC 9018 §4): an 8-byte
 * client cookie and our 16-byte server cookie (version 1, 3 reserved bytes,
 * a 32-bit timestamp, a 64-bit SipHash-2-4). */
#define COOKIE_CLIENT_LEN 8
#define COOKIE_SERVER_LEN 16
#define COOKIE_OPT_LEN (4 + COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN)
/* RFC 9018 §4.3: accept a cookie up to an hour old and up to 5 minutes
 * ahead (clock skew within a server set); renew one older than 30 minutes. */
#define COOKIE_MAX_AGE_S 3600
#define COOKIE_MAX_AHEAD_S 300
#define COOKIE_RENEW_S 1800

enum section { SEC_ANSWER = 0, SEC_AUTHORITY = 1, SEC_ADDITIONAL = 2 };

struct reply {
	uint8_t *buf;
	size_t limit;  /* bytes available for header+question+RRs (OPT space reserved) */
	size_t len;
	uint16_t count[3];
	uint16_t cmp[COMPRESS_MAX];
	unsigned cmp_n;
};

/* A saved write position, to roll back an RRset that does not fit. */
struct mark {
	size_t len;
	uint16_t count[3];
	unsigned cmp_n;
};

static inline struct mark reply_mark(const struct reply *r)
{
	struct mark m = {r->len, {r->count[0], r->count[1], r->count[2]}, r->cmp_n};
	return m;
}

static inline void reply_rollback(struct reply *r, const struct mark *m)
{
	r->len = m->len;
	memcpy(r->count, m->count, sizeof(r->count));
	r->cmp_n = m->cmp_n;
}

static inline uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Compares the (possibly compressed) name at buf[off] with the uncompressed
 * name `name`, case-insensitively. Only names we wrote ourselves are in buf,
 * so pointers are well formed; the hop counter is a belt-and-braces bound. */
static bool pkt_name_equal(const uint8_t *buf, size_t len, size_t off, const uint8_t *name)
{
	size_t n = 0;
	for (unsigned hops = 0; hops < 128 && off < len; hops++) {
		uint8_t l = buf[off];
		if ((l & 0xC0) == 0xC0) {
			if (off + 1 >= len)
				return false;
			off = ((size_t)(l & 0x3F) << 8) | buf[off + 1];
			continue;
		}
		if (l != name[n])
			return false;
		if (l == 0)
			return true;
		if (off + 1 + l > len)
			return false;
		for (size_t i = 1; i <= l; i++)
			if (lower(buf[off + i]) != lower(name[n + i]))
				return false;
		off += (size_t)l + 1;
		n += (size_t)l + 1;
	}
	return false;
}

/* Writes `name` at the end of the reply, compressed against earlier names
 * when `compress` is set. Returns false if it does not fit. */
static bool put_name(struct reply *r, const uint8_t *name, bool compress)
{
	size_t nlen = dname_len(name);
	size_t pos = 0; /* offset inside name of the suffix being tried */
	int ptr = -1;

	if (compress) {
		while (name[pos] != 0) {
			for (unsigned i = 0; i < r->cmp_n; i++) {
				if (pkt_name_equal(r->buf, r->len, r->cmp[i], name + pos)) {
					ptr = r->cmp[i];
					break;
				}
			}
			if (ptr >= 0)
				break;
			pos += (size_t)name[pos] + 1;
		}
	}
	size_t need = (ptr >= 0) ? pos + 2 : nlen;
	if (r->len + need > r->limit)
		return false;

	/* Remember where each written label starts, for later names. */
	size_t p = 0;
	while (p < (ptr >= 0 ? pos : nlen - 1)) {
		if (r->cmp_n < COMPRESS_MAX && r->len + p < 0x4000)
			r->cmp[r->cmp_n++] = (uint16_t)(r->len + p);
		p += (size_t)name[p] + 1;
	}
	if (ptr >= 0) {
		memcpy(r->buf + r->len, name, pos);
		r->len += pos;
		r->buf[r->len++] = (uint8_t)(0xC0 | (ptr >> 8));
		r->buf[r->len++] = (uint8_t)ptr;
	} else {
		memcpy(r->buf + r->len, name, nlen);
		r->len += nlen;
	}
	return true;
}

static inline bool put_bytes(struct reply *r, const void *src, size_t n)
{
	if (r->len + n > r->limit)
		return false;
	memcpy(r->buf + r->len, src, n);
	r->len += n;
	return true;
}

/* Writes one record's RDATA, compressing the names of the RFC 1035 types
 * (RFC 3597 §4: only those may be compressed). rd is `rdlen` bytes with
 * uncompressed names, as the zone stores them. */
static bool put_rdata(struct reply *r, uint16_t type, const uint8_t *rd, uint16_t rdlen)
{
	size_t start = r->len;
	if (r->len + 2 > r->limit)
		return false;
	r->len += 2;
	switch (type) {
	case DNS_TYPE_NS:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_PTR:
		if (!put_name(r, rd, true))
			return false;
		break;
	case DNS_TYPE_MX:
		if (!put_bytes(r, rd, 2) || !put_name(r, rd + 2, true))
			return false;
		break;
	case DNS_TYPE_SOA: {
		size_t l1 = dname_len(rd);
		size_t l2 = dname_len(rd + l1);
		if (!put_name(r, rd, true) || !put_name(r, rd + l1, true) ||
		    !put_bytes(r, rd + l1 + l2, 20))
			return false;
		break;
	}
	default:
		if (!put_bytes(r, rd, rdlen))
			return false;
		break;
	}
	wire_write_u16(r->buf + start, (uint16_t)(r->len - start - 2));
	return true;
}

/* Writes the owner (pointer when owner_ptr != 0), type, class IN and TTL of
 * one record; the RDATA follows. */
static bool put_rr_head(struct reply *r, const uint8_t *owner, uint16_t owner_ptr, uint16_t type,
			uint32_t ttl_s)
{
	if (owner_ptr) {
		if (r->len + 2 > r->limit)
			return false;
		r->buf[r->len++] = (uint8_t)(0xC0 | (owner_ptr >> 8));
		r->buf[r->len++] = (uint8_t)owner_ptr;
	} else if (!put_name(r, owner, true)) {
		return false;
	}
	if (r->len + 8 > r->limit)
		return false;
	wire_write_u16(r->buf + r->len, type);
	wire_write_u16(r->buf + r->len + 2, DNS_CLASS_IN);
	wire_write_u32(r->buf + r->len + 4, ttl_s);
	r->len += 8;
	return true;
}

/* Writes a whole RRset into `sec` with owner `owner` (uncompressed name; when
 * owner_ptr is non-zero the owner is written as that pointer instead) and
 * TTL ttl_s (the caller passes the RRset's own TTL, or the negative-answer
 * TTL for the SOA). Returns false, leaving the reply unchanged, if it does
 * not fit. */
static bool put_rrset(struct reply *r, enum section sec, const uint8_t *owner, uint16_t owner_ptr,
		      const zrrset_t *rs, uint32_t ttl_s)
{
	struct mark m = reply_mark(r);
	const uint8_t *rd = rs->rdata;
	for (uint16_t i = 0; i < rs->count; i++) {
		uint16_t rdlen = wire_read_u16(rd);
		if (!put_rr_head(r, owner, owner_ptr, rs->type, ttl_s) ||
		    !put_rdata(r, rs->type, rd + 2, rdlen))
			goto fail;
		rd += 2 + rdlen;
		r->count[sec]++;
	}
	return true;
fail:
	reply_rollback(r, &m);
	return false;
}

/* The state of one answer being built. */
struct answer {
	struct reply r;
	const snapshot_t *snap;
	const struct sockaddr *client;
	struct query_stats *stats;
	const zone_t *zone;
	const struct dns_query *q;
	uint8_t ecs_scope; /* SCOPE PREFIX-LENGTH for the reply's ECS option */
	bool cookie_valid; /* the query presented a server cookie we issued, still fresh */
	enum geo_outcome svc_outcome; /* of the latest service selection */
	uint8_t cookie[COOKIE_SERVER_LEN]; /* server cookie for the reply */
	enum dns_transport transport;
	uint8_t rcode;
	bool aa;
	bool tc;      /* a required section did not fit */
	const znode_t *extra[ADDITIONAL_MAX]; /* nodes whose addresses go to additional */
	unsigned extra_n;
	bool extra_required[ADDITIONAL_MAX];  /* referral glue (RFC 9471) */
};

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
 * section if it is a name in this zone. */
static void queue_additional(struct answer *a, const uint8_t *target, bool required, bool glue)
{
	/* minimal_responses: only what the resolver cannot do without (the
	 * glue of a delegation, also one reached through a CNAME); the
	 * addresses of MX/SRV/NS targets it can ask for. */
	if (a->extra_n >= ADDITIONAL_MAX || target[0] == 0 ||
	    (!glue && a->snap->minimal_responses))
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
			return;
		}
	}
	a->extra_required[a->extra_n] = required;
	a->extra[a->extra_n++] = n;
}

/* Queues additional-section processing for an RRset with target names
 * (RFC 1034 §4.3.2 step 6; NS, MX, SRV as Knot and NSD do). `required`:
 * a missing address sets TC; `glue`: the NS set of a delegation. */
static void queue_targets(struct answer *a, const zrrset_t *rs, bool required, bool glue)
{
	size_t skip;
	switch (rs->type) {
	case DNS_TYPE_NS: skip = 0; break;
	case DNS_TYPE_MX: skip = 2; break;
	case DNS_TYPE_SRV: skip = 6; break;
	default: return;
	}
	const uint8_t *rd = rs->rdata;
	for (uint16_t i = 0; i < rs->count; i++) {
		uint16_t rdlen = wire_read_u16(rd);
		if (rdlen > skip)
			queue_additional(a, rd + 2 + skip, required, glue);
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
enum lookup_kind { LK_FOUND, LK_WILDCARD, LK_REFERRAL, LK_NXDOMAIN };

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

/* The per-datacenter state bytes geo_select() wants for service svc:
 * health from the live table (probes), admin state from the API's table,
 * combined by the usable rule (geo/usable.h). */
static void service_dc_state(const snapshot_t *s, size_t svc, uint8_t *state, bool *degraded)
{
	const struct geo_service_info *si = geo_service(s->geo, svc);
	memset(state, 0, geo_dc_count(s->geo));
	*degraded = false;
	for (size_t k = 0; k < si->dc_count; k++) {
		uint16_t d = si->dcs[k];
		unsigned h = geo_health_get(s->health, svc, d);
		uint32_t admin = s->admin ? (atomic_load_explicit(&s->admin[d], memory_order_acquire) & 3u)
					  : 0;
		state[d] = geo_dc_state(h, admin);
		if (!(state[d] & GEO_DC_USABLE))
			*degraded = true;
	}
}

int answer_service_dc_state(const snapshot_t *snap, size_t svc, uint8_t *state)
{
	bool degraded;
	if (snap->geo == NULL || svc >= geo_service_count(snap->geo))
		return SOV_EINVAL;
	service_dc_state(snap, svc, state, &degraded);
	return SOV_OK;
}

int answer_service_select(const snapshot_t *snap, size_t svc, const struct geo_client *client,
			  uint16_t qtype, struct geo_result *res, uint32_t *ttl_s)
{
	uint8_t state[GEO_DC_MAX];
	bool degraded;
	if (snap->geo == NULL || svc >= geo_service_count(snap->geo))
		return SOV_EINVAL;
	service_dc_state(snap, svc, state, &degraded);
	int r = geo_select(snap->geo, svc, client, qtype, state, res);
	if (r != SOV_OK)
		return r;
	const struct geo_service_info *si = geo_service(snap->geo, svc);
	*ttl_s = degraded ? si->ttl_down_s : si->ttl_s;
	return SOV_OK;
}

/* A/AAAA of a geo service: the datacenters geo_select() chooses for this
 * client (ECS, else the source address). Returns the number of records
 * written (0: NODATA). */
static unsigned answer_service(struct answer *a, uint32_t svc, const uint8_t *owner, uint16_t ptr,
			       uint16_t qtype)
{
	const snapshot_t *s = a->snap;
	struct geo_client gc;
	const struct geo_client *client = NULL;
	struct geo_result res;
	uint32_t ttl;

	if (a->q->has_ecs) {
		if (geo_client_from_ecs(a->q->ecs.family, a->q->ecs.source_prefix, a->q->ecs.addr,
					&gc) == SOV_OK)
			client = &gc;
	} else if (a->client != NULL && geo_client_from_sockaddr(a->client, &gc) == SOV_OK) {
		client = &gc;
	}
	if (answer_service_select(s, svc, client, qtype, &res, &ttl) != SOV_OK)
		return 0;
	a->stats->service_answers++;
	a->svc_outcome = res.outcome;
	if (res.outcome >= GEO_OUT_DOWN_ALL)
		a->stats->fail_open++;
	a->ecs_scope = res.ecs_scope;
	if (s->svc_dc_answers != NULL) {
		size_t ndc = geo_dc_count(s->geo);
		for (size_t k = 0; k < res.count; k++)
			atomic_fetch_add_explicit(&s->svc_dc_answers[svc * ndc + res.dc[k]], 1,
						  memory_order_relaxed);
	}

	size_t alen = qtype == DNS_TYPE_A ? 4 : 16;
	struct mark m = reply_mark(&a->r);
	unsigned written = 0;
	for (size_t k = 0; k < res.count; k++) {
		size_t n;
		const uint8_t *addrs = geo_result_addrs(s->geo, &res, k, &n);
		for (size_t i = 0; i < n; i++) {
			if (!put_rr_head(&a->r, owner, ptr, qtype, ttl) ||
			    a->r.len + 2 + alen > a->r.limit) {
				reply_rollback(&a->r, &m);
				a->tc = true;
				return 0;
			}
			wire_write_u16(a->r.buf + a->r.len, (uint16_t)alen);
			memcpy(a->r.buf + a->r.len + 2, addrs + i * alen, alen);
			a->r.len += 2 + alen;
			a->r.count[SEC_ANSWER]++;
			written++;
		}
	}
	return written;
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
static void answer_zone(struct answer *a, uint16_t qtype)
{
	const zone_t *z = a->zone;
	/* Lowercased owner names of the chain so far, for the loop guard. */
	uint8_t chain_names[CNAME_CHAIN_MAX + 1][DNAME_MAXLEN];
	const uint8_t *lname = a->q->qname_lower;
	const uint8_t *owner = a->q->qname; /* the name the records are written under */
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
						   : geo_service(a->snap->geo, n->service)->ttl_down_s);
				return;
			}
			if (qtype == DNS_TYPE_ANY) {
				/* RFC 8482: over UDP the service's A records are
				 * enough; over TCP both families and the rest. */
				unsigned w = answer_service(a, n->service, owner, owner_ptr,
							    DNS_TYPE_A);
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
			queue_targets(a, rs, false, false);
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
		const uint8_t *target = cname->rdata + 2;
		if (chain >= CNAME_CHAIN_MAX || !dname_is_subdomain(target, z->origin))
			return;
		if (chain == 0)
			memcpy(chain_names[0], lname, dname_len(lname));
		uint8_t *next = chain_names[++chain];
		dname_lower(next, target);
		for (unsigned i = 0; i < chain; i++)
			if (dname_equal(chain_names[i], next))
				return; /* loop: the chain so far is the answer */
		owner = target; /* zone memory: stable for the whole query */
		owner_ptr = 0;
		lname = next;
	}
}

/* Writes the additional section: addresses of queued targets. Optional
 * data that does not fit is left out without TC (RFC 2181 §9); referral
 * glue is required and sets TC (RFC 9471). */
static void add_additionals(struct answer *a)
{
	for (unsigned i = 0; i < a->extra_n && !a->tc; i++) {
		const znode_t *n = a->extra[i];
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

/* Size of the OPT record we will add. */
static size_t opt_size(const struct dns_query *q)
{
	size_t s = OPT_FIXED_LEN;
	if (q->has_ecs)
		s += 4 + 4 + (size_t)((q->ecs.source_prefix + 7) / 8);
	if (q->has_cookie)
		s += COOKIE_OPT_LEN;
	return s;
}

/* The server cookie for client cookie cc, time ts and the client's address
 * (RFC 9018 §4.2-4.3): hash over client cookie | version | reserved |
 * timestamp | client IP, keyed with the snapshot's secret. */
static void cookie_make(const snapshot_t *snap, const uint8_t *cc, uint32_t ts,
			const struct sockaddr *client, uint8_t out[COOKIE_SERVER_LEN])
{
	uint8_t in[COOKIE_CLIENT_LEN + 8 + 16];
	size_t n = COOKIE_CLIENT_LEN;
	memcpy(in, cc, COOKIE_CLIENT_LEN);
	out[0] = 1; /* version */
	out[1] = out[2] = out[3] = 0;
	wire_write_u32(out + 4, ts);
	memcpy(in + n, out, 8);
	n += 8;
	if (client != NULL && client->sa_family == AF_INET) {
		memcpy(in + n, &((const struct sockaddr_in *)(const void *)client)->sin_addr, 4);
		n += 4;
	} else if (client != NULL && client->sa_family == AF_INET6) {
		memcpy(in + n, &((const struct sockaddr_in6 *)(const void *)client)->sin6_addr, 16);
		n += 16;
	}
	crypto_shorthash_siphash24(out + 8, in, n, snap->cookie_secret);
}

/* Checks the client's cookie option and picks the server cookie to send:
 * the presented one while valid and young, else a fresh one. Cookies are
 * offered, never required: an invalid one only earns a new one. */
static void cookie_process(struct answer *a, const struct sockaddr *client)
{
	const struct dns_query *q = a->q;
	uint32_t now = (uint32_t)time(NULL);
	if (q->cookie_len == COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN && q->cookie[8] == 1) {
		uint32_t ts = wire_read_u32(q->cookie + 12);
		int32_t age = (int32_t)(now - ts); /* serial arithmetic: wraps in 2106 */
		if (age <= COOKIE_MAX_AGE_S && age >= -COOKIE_MAX_AHEAD_S) {
			uint8_t want[COOKIE_SERVER_LEN];
			cookie_make(a->snap, q->cookie, ts, client, want);
			if (sodium_memcmp(want + 8, q->cookie + 16, 8) == 0) {
				a->cookie_valid = true;
				if (age < COOKIE_RENEW_S) {
					memcpy(a->cookie, q->cookie + 8, COOKIE_SERVER_LEN);
					return;
				}
			}
		}
	}
	cookie_make(a->snap, q->cookie, now, client, a->cookie);
}

/* The unsigned TSIG record of a BADKEY error (RFC 8945 §5.2.2): sovdns has
 * no TSIG keys, so every signed query names a key it does not know. Built
 * from the query's TSIG at q[off]: same key name, algorithm, time signed and
 * fudge; empty MAC; original ID; error 17 (BADKEY). Returns its length in
 * out[0..cap), or 0 if it does not fit (or the query's TSIG cannot be read,
 * which the parser already excluded). */
static size_t tsig_badkey(const uint8_t *q, size_t qlen, size_t off, uint16_t id, uint8_t *out,
			  size_t cap)
{
	uint8_t key[DNAME_MAXLEN], alg[DNAME_MAXLEN];
	size_t p = off;
	int klen = dns_name_read(q, qlen, &p, key);
	if (klen < 0 || qlen - p < 10)
		return 0;
	p += 10; /* type, class, TTL, RDLENGTH */
	int alen = dns_name_read(q, qlen, &p, alg);
	if (alen < 0 || qlen - p < 8)
		return 0;
	size_t need = (size_t)klen + 10 + (size_t)alen + 6 + 2 + 2 + 2 + 2 + 2;
	if (need > cap)
		return 0;
	uint8_t *o = out;
	memcpy(o, key, (size_t)klen);
	o += klen;
	wire_write_u16(o, DNS_TYPE_TSIG);
	wire_write_u16(o + 2, DNS_CLASS_ANY);
	wire_write_u32(o + 4, 0);
	wire_write_u16(o + 8, (uint16_t)(alen + 16));
	o += 10;
	memcpy(o, alg, (size_t)alen);
	o += alen;
	memcpy(o, q + p, 8); /* time signed (48 bits) and fudge */
	o += 8;
	wire_write_u16(o, 0);      /* MAC size */
	wire_write_u16(o + 2, id); /* original ID */
	wire_write_u16(o + 4, 17); /* error: BADKEY */
	wire_write_u16(o + 6, 0);  /* other len */
	return need;
}

/* Appends our OPT record (RFC 6891 §6.1.2); space was reserved. */
static size_t put_opt(uint8_t *buf, size_t len, const snapshot_t *snap, const struct dns_query *q,
		      uint8_t ext_rcode, uint8_t ecs_scope, const uint8_t *server_cookie)
{
	uint8_t *p = buf + len;
	p[0] = 0; /* root owner */
	wire_write_u16(p + 1, DNS_TYPE_OPT);
	wire_write_u16(p + 3, snap->edns_payload);
	p[5] = ext_rcode;
	p[6] = 0; /* version 0 */
	wire_write_u16(p + 7, q->edns_do ? EDNS_DO_BIT : 0);
	size_t rdlen = 0;
	if (q->has_ecs) {
		/* RFC 7871 §7.2.1: echo family, source prefix and address; the
		 * scope says how widely the answer may be cached: 0 unless a
		 * service chose it from the client's location. */
		size_t alen = (size_t)((q->ecs.source_prefix + 7) / 8);
		uint8_t *o = p + OPT_FIXED_LEN;
		wire_write_u16(o, EDNS_OPT_ECS);
		wire_write_u16(o + 2, (uint16_t)(4 + alen));
		wire_write_u16(o + 4, q->ecs.family);
		o[6] = q->ecs.source_prefix;
		o[7] = ecs_scope;
		memcpy(o + 8, q->ecs.addr, alen);
		rdlen += 8 + alen;
	}
	if (q->has_cookie) {
		uint8_t *o = p + OPT_FIXED_LEN + rdlen;
		wire_write_u16(o, EDNS_OPT_COOKIE);
		wire_write_u16(o + 2, COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN);
		memcpy(o + 4, q->cookie, COOKIE_CLIENT_LEN);
		memcpy(o + 4 + COOKIE_CLIENT_LEN, server_cookie, COOKIE_SERVER_LEN);
		rdlen += COOKIE_OPT_LEN;
	}
	wire_write_u16(p + 9, (uint16_t)rdlen);
	return len + OPT_FIXED_LEN + rdlen;
}

size_t query_process(struct query_ctx *ctx, const snapshot_t *snap, const struct sockaddr *client,
		     enum dns_transport transport, const uint8_t *q, size_t qlen, uint8_t *reply,
		     size_t cap)
{
	struct dns_query pq;
	struct answer a;
	enum dns_parse_result pr = dns_query_parse(q, qlen, &pq);

	ctx->stats.queries[transport]++;
	if (pr == DNS_PARSE_DROP || cap < DNS_MAX_UDP_PLAIN) {
		ctx->stats.dropped++;
		return 0;
	}

	/* How much we may send: RFC 6891 §6.2.5 (UDP: the smaller of the
	 * client's and our payload size, never below 512); TCP: 64 KiB. */
	size_t limit = cap;
	if (transport == DNS_UDP) {
		size_t udp = DNS_MAX_UDP_PLAIN;
		if (pq.has_edns) {
			udp = pq.edns_udp_size;
			if (udp > snap->edns_payload)
				udp = snap->edns_payload;
			if (udp < DNS_MAX_UDP_PLAIN)
				udp = DNS_MAX_UDP_PLAIN;
		}
		if (udp < limit)
			limit = udp;
	}
	size_t opt_len = pq.has_edns ? opt_size(&pq) : 0;

	memset(&a.r.count, 0, sizeof(a.r.count));
	a.r.buf = reply;
	a.r.limit = limit - opt_len;
	a.r.len = DNS_HEADER_LEN;
	a.r.cmp_n = 0;
	a.q = &pq;
	a.snap = snap;
	a.client = client;
	a.stats = &ctx->stats;
	a.ecs_scope = 0;
	a.cookie_valid = false;
	if (pq.has_cookie)
		cookie_process(&a, client);
	a.zone = NULL;
	a.transport = transport;
	a.rcode = DNS_RCODE_NOERROR;
	a.aa = false;
	a.tc = false;
	a.extra_n = 0;

	/* The question, echoed with the client's letter case. */
	uint16_t qdcount = 0;
	if (pq.has_question && DNS_HEADER_LEN + pq.qname_len + 4u <= a.r.limit) {
		memcpy(reply + a.r.len, pq.qname, pq.qname_len);
		a.r.len += pq.qname_len;
		wire_write_u16(reply + a.r.len, pq.qtype);
		wire_write_u16(reply + a.r.len + 2, pq.qclass);
		a.r.len += 4;
		qdcount = 1;
		if (a.r.cmp_n < COMPRESS_MAX)
			a.r.cmp[a.r.cmp_n++] = DNS_HEADER_LEN;
		/* Every later label of the qname is a compression target too.
		 * Only qname[0..qname_len) is defined (the root is 1 byte). */
		size_t p = 0;
		while (p < pq.qname_len && pq.qname[p] != 0) {
			p += pq.qname[p] + 1u;
			if (p < pq.qname_len && pq.qname[p] != 0 && a.r.cmp_n < COMPRESS_MAX)
				a.r.cmp[a.r.cmp_n++] = (uint16_t)(DNS_HEADER_LEN + p);
		}
	}
	size_t question_end = a.r.len;
	uint8_t ext_rcode = 0;

	if (pr == DNS_PARSE_FORMERR) {
		a.rcode = DNS_RCODE_FORMERR;
	} else if (pr == DNS_PARSE_BADVERS) {
		a.rcode = 0;
		ext_rcode = DNS_RCODE_BADVERS >> 4;
	} else if (pq.has_tsig) {
		/* RFC 8945 §5.2.2: no key is configured, so the key is unknown. */
		a.rcode = DNS_RCODE_NOTAUTH;
	} else if (DNS_OPCODE(pq.flags) != DNS_OPCODE_QUERY) {
		a.rcode = DNS_RCODE_NOTIMP;
	} else if (pq.qtype == DNS_TYPE_OPT || pq.qtype == DNS_TYPE_TSIG ||
		   pq.qtype == DNS_TYPE_TKEY) {
		/* Meta-types that only live in the additional section (RFC 6895 §3.1). */
		a.rcode = DNS_RCODE_FORMERR;
	} else if (pq.qtype == DNS_TYPE_MAILA || pq.qtype == DNS_TYPE_MAILB) {
		a.rcode = DNS_RCODE_NOTIMP;
	} else if (pq.qclass != DNS_CLASS_IN || pq.qtype == DNS_TYPE_AXFR ||
		   pq.qtype == DNS_TYPE_IXFR) {
		/* Only class IN is served; zone transfers are not offered. */
		a.rcode = DNS_RCODE_REFUSED;
	} else {
		const uint8_t *lname = pq.qname_lower;
		a.zone = zonedb_find(snap->zones, lname);
		/* DS lives on the parent side of a cut (RFC 4035 §3.1.4.1): when
		 * we serve both parent and child, a DS query for the child's apex
		 * is answered from the parent. */
		if (a.zone != NULL && pq.qtype == DNS_TYPE_DS && lname[0] != 0 &&
		    dname_equal(a.zone->origin, lname)) {
			const zone_t *parent = zonedb_find(snap->zones, dname_parent(lname));
			if (parent != NULL)
				a.zone = parent;
		}
		if (a.zone == NULL) {
			a.rcode = DNS_RCODE_REFUSED;
		} else {
			answer_zone(&a, pq.qtype);
			if (!a.tc)
				add_additionals(&a);
			if (a.rcode == DNS_RCODE_NOERROR && a.r.count[SEC_ANSWER] == 0) {
				if (a.r.count[SEC_AUTHORITY] > 0 && !a.aa)
					ctx->stats.referrals++;
				else
					ctx->stats.nodata++;
			}
		}
	}

	if (a.tc) {
		/* RFC 2181 §9: a required RRset did not fit; send the question
		 * alone with TC so the client retries over TCP. */
		a.r.len = question_end;
		memset(a.r.count, 0, sizeof(a.r.count));
		ctx->stats.truncated++;
	}

	size_t len = a.r.len;
	uint16_t arcount = a.r.count[SEC_ADDITIONAL];
	if (pq.has_edns) {
		len = put_opt(reply, len, snap, &pq, ext_rcode, a.ecs_scope, a.cookie);
		arcount++;
	}
	if (a.rcode == DNS_RCODE_NOTAUTH && pq.has_tsig) {
		/* The TSIG record goes last (RFC 8945 §5.1). */
		size_t n = tsig_badkey(q, qlen, pq.tsig_offset, pq.id, reply + len, limit - len);
		len += n;
		arcount += n > 0;
	}

	/* Header: QR, opcode, RD and CD copied (RFC 1035 §4.1.1, RFC 4035
	 * §3.1.6); RA never set: we are not a resolver. */
	uint16_t flags = DNS_FLAG_QR | (pq.flags & (0x7800 | DNS_FLAG_RD | DNS_FLAG_CD));
	if (a.aa)
		flags |= DNS_FLAG_AA;
	if (a.tc)
		flags |= DNS_FLAG_TC;
	flags |= a.rcode & 0xF;
	wire_write_u16(reply, pq.id);
	wire_write_u16(reply + 2, flags);
	wire_write_u16(reply + 4, qdcount);
	wire_write_u16(reply + 6, a.r.count[SEC_ANSWER]);
	wire_write_u16(reply + 8, a.r.count[SEC_AUTHORITY]);
	wire_write_u16(reply + 10, arcount);

	ctx->stats.rcode[ext_rcode ? 16 : (a.rcode & 0xF)]++;
	ctx->last.question_end = (uint16_t)question_end;
	ctx->last.cookie_valid = a.cookie_valid;
	ctx->last.rrl_category = a.rcode == DNS_RCODE_NXDOMAIN ? RRL_NXDOMAIN
				 : (a.rcode != DNS_RCODE_NOERROR || ext_rcode) ? RRL_ERROR
									   : RRL_POSITIVE;
	return len;
}
