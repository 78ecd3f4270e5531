/* update.c — RFC 2136 dynamic update as pure functions (contract in update.h).
 *
 * Parsing keeps every record of the prerequisite and update sections
 * uncompressed in a small arena owned by the message: owners through
 * dns_name_read() (our strict pointer rules), RDATA through ldns's
 * per-type reader, which follows compression pointers inside the names of
 * any type it knows (RFC 3597 §4 lets a receiver decompress the RFC 1035
 * types and a few more; a sender compressing others is read the same way).
 *
 * Applying never touches the zone: its records are laid out in a working
 * array (node by node, as the zone holds them), the update section marks
 * some of them gone and appends others, and the survivors are fed to a
 * zone builder whose finisher checks the zone's rules, exactly as a
 * reloaded file would be. Work is O(records of z + update RRs × records
 * at their owner).
 */
#include "dns/update.h"

#include <ldns/ldns.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "wire/dname.h"
#include "wire/wire.h"

/* The smallest record: a root owner (1 byte), type, class, TTL, RDLENGTH. */
#define RR_MIN_LEN 11
/* Arena blocks: one covers a typical update (a few records); a bigger
 * record gets a block of its own size. */
#define ARENA_BLOCK 16384

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	uint8_t data[];
};

struct update_msg {
	uint8_t zname[DNAME_MAXLEN]; /* lowercased */
	uint16_t ztype, zclass;
	struct update_rr *pre, *upd;
	size_t npre, nupd;
	size_t rdata_bytes; /* update section only */
	struct arena_block *arena;
};

static const uint8_t no_rdata[1] = {0};

static void say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t cap, const char *fmt, ...)
{
	if (why == NULL || cap == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

static void *arena_alloc(update_msg_t *u, size_t n)
{
	struct arena_block *b = u->arena;
	if (b == NULL || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		b = malloc(sizeof(*b) + cap);
		if (b == NULL)
			return NULL;
		b->next = u->arena;
		b->used = 0;
		b->cap = cap;
		u->arena = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

static void name_str(const uint8_t *name, char *buf, size_t cap)
{
	if (dname_to_str(name, buf, cap) < 0)
		snprintf(buf, cap, "(a long name)");
}

/* "record 2 of the update section (www.example.test. A)" into buf. */
static void rr_str(const struct update_rr *rr, size_t i, const char *section, char *buf, size_t cap)
{
	char name[DNAME_STR_MAX], tbuf[16];
	name_str(rr->owner, name, sizeof(name));
	snprintf(buf, cap, "record %zu of the %s section (%s %s)", i + 1, section, name,
		 zone_type_str(rr->type, tbuf, sizeof(tbuf)));
}

/* True when ldns has a descriptor of its own for type (not its stand-in
 * for types it does not know, whose RDATA is opaque, RFC 3597). */
static bool type_known(uint16_t type)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(type);
	return d != NULL && (uint16_t)d->_type == type && ldns_rr_descriptor_maximum(d) > 0;
}

/*
 * The RDATA at pkt[off..off+rdlen) (RDLENGTH at off-2) uncompressed into the
 * arena: *rd, *rd_len. SOV_OK, SOV_EMALF (ldns does not read exactly that
 * RDATA, or it grows past 65535 bytes), SOV_ENOMEM.
 */
static int rdata_read(update_msg_t *u, uint16_t type, const uint8_t *pkt, size_t len, size_t off,
		      uint16_t rdlen, const uint8_t **rd, uint16_t *rd_len)
{
	int ret = SOV_OK;
	ldns_rr *rr = NULL;
	*rd = no_rdata;
	*rd_len = 0;
	if (rdlen == 0)
		goto finish;
	if (!type_known(type)) {
		uint8_t *p = arena_alloc(u, rdlen);
		if (p == NULL) {
			ret = SOV_ENOMEM;
			goto finish;
		}
		memcpy(p, pkt + off, rdlen);
		*rd = p;
		*rd_len = rdlen;
		goto finish;
	}
	rr = ldns_rr_new();
	if (rr == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}
	ldns_rr_set_type(rr, (ldns_rr_type)type);
	size_t pos = off - 2;
	if (ldns_wire2rdf(rr, pkt, len, &pos) != LDNS_STATUS_OK || pos != off + rdlen) {
		ret = SOV_EMALF;
		goto finish;
	}
	size_t total = 0;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
		total += ldns_rdf_size(ldns_rr_rdf(rr, i));
	if (total > UINT16_MAX) {
		ret = SOV_EMALF;
		goto finish;
	}
	uint8_t *p = arena_alloc(u, total ? total : 1);
	if (p == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}
	size_t o = 0;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		memcpy(p + o, ldns_rdf_data(f), ldns_rdf_size(f));
		o += ldns_rdf_size(f);
	}
	*rd = p;
	*rd_len = (uint16_t)total;
finish:
	ldns_rr_free(rr);
	return ret;
}

/* One record at pkt[*off] into *rr (rr may be NULL: checked and skipped,
 * for the additional section). */
static int rr_read(update_msg_t *u, const uint8_t *pkt, size_t len, size_t *off,
		   struct update_rr *rr, size_t i, const char *section, char *why, size_t cap)
{
	int ret = SOV_OK;
	uint8_t name[DNAME_MAXLEN];
	int n = dns_name_read(pkt, len, off, name);
	if (n < 0) {
		say(why, cap, "record %zu of the %s section: a malformed owner name", i + 1,
		    section);
		ret = SOV_EMALF;
		goto finish;
	}
	if (len - *off < 10 || wire_read_u16(pkt + *off + 8) > len - *off - 10) {
		say(why, cap, "record %zu of the %s section runs past the end of the message",
		    i + 1, section);
		ret = SOV_EMALF;
		goto finish;
	}
	const uint8_t *p = pkt + *off;
	uint16_t rdlen = wire_read_u16(p + 8);
	*off += 10;
	size_t rd_off = *off;
	*off += rdlen;
	if (rr == NULL)
		goto finish;
	uint8_t *owner = arena_alloc(u, 2 * (size_t)n);
	if (owner == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}
	memcpy(owner, name, (size_t)n);
	dname_lower(owner + n, name);
	*rr = (struct update_rr){
	    .owner = owner,
	    .owner_lower = owner + n,
	    .type = wire_read_u16(p),
	    .rclass = wire_read_u16(p + 2),
	    .ttl_s = wire_read_u32(p + 4),
	    .op = UPDATE_ADD,
	};
	ret = rdata_read(u, rr->type, pkt, len, rd_off, rdlen, &rr->rdata, &rr->rdlen);
	if (ret == SOV_EMALF) {
		char what[DNAME_STR_MAX + 64];
		rr_str(rr, i, section, what, sizeof(what));
		say(why, cap, "%s: malformed RDATA", what);
	}
finish:
	return ret;
}

int update_parse(const uint8_t *pkt, size_t len, update_msg_t **out, char *why, size_t cap)
{
	int ret = SOV_OK;
	update_msg_t *u = NULL;
	*out = NULL;
	say(why, cap, "%s", "");
	if (len < DNS_HEADER_LEN) {
		say(why, cap, "%zu bytes: shorter than a DNS header", len);
		ret = SOV_EMALF;
		goto finish;
	}
	uint16_t flags = wire_read_u16(pkt + 2);
	uint16_t zo = wire_read_u16(pkt + 4), pr = wire_read_u16(pkt + 6);
	uint16_t up = wire_read_u16(pkt + 8), ad = wire_read_u16(pkt + 10);
	if (DNS_OPCODE(flags) != DNS_OPCODE_UPDATE) {
		say(why, cap, "opcode %u, not UPDATE (5)", DNS_OPCODE(flags));
		ret = SOV_EMALF;
		goto finish;
	}
	/* RFC 2136 §3.1.1: one zone, named by the one zone section record. */
	if (zo != 1) {
		say(why, cap, "ZOCOUNT %u: an UPDATE names exactly one zone (RFC 2136 §2.3)", zo);
		ret = SOV_EMALF;
		goto finish;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}
	size_t off = DNS_HEADER_LEN;
	uint8_t zname[DNAME_MAXLEN];
	if (dns_name_read(pkt, len, &off, zname) < 0) {
		say(why, cap, "the zone section's ZNAME is not a well-formed name");
		ret = SOV_EMALF;
		goto finish;
	}
	if (len - off < 4) {
		say(why, cap, "the zone section runs past the end of the message");
		ret = SOV_EMALF;
		goto finish;
	}
	dname_lower(u->zname, zname);
	u->ztype = wire_read_u16(pkt + off);
	u->zclass = wire_read_u16(pkt + off + 2);
	off += 4;
	/* Bounds the arrays by what the message can hold, not by its counts. */
	if (((size_t)pr + up + ad) * RR_MIN_LEN > len - off) {
		say(why, cap,
		    "PRCOUNT %u, UPCOUNT %u and ADCOUNT %u: more records than the "
		    "message holds",
		    pr, up, ad);
		ret = SOV_EMALF;
		goto finish;
	}
	u->pre = calloc(pr ? pr : 1, sizeof(*u->pre));
	u->upd = calloc(up ? up : 1, sizeof(*u->upd));
	if (u->pre == NULL || u->upd == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}
	for (size_t i = 0; i < pr && ret == SOV_OK; i++) {
		ret = rr_read(u, pkt, len, &off, &u->pre[i], i, "prerequisite", why, cap);
		u->npre += ret == SOV_OK;
	}
	for (size_t i = 0; i < up && ret == SOV_OK; i++) {
		ret = rr_read(u, pkt, len, &off, &u->upd[i], i, "update", why, cap);
		u->nupd += ret == SOV_OK;
		if (ret == SOV_OK)
			u->rdata_bytes += u->upd[i].rdlen;
	}
	/* §3.8: additional data is ignored (the caller reads OPT and TSIG); it
	 * must still be records. */
	for (size_t i = 0; i < ad && ret == SOV_OK; i++)
		ret = rr_read(u, pkt, len, &off, NULL, i, "additional", why, cap);
	if (ret == SOV_OK && off != len) {
		say(why, cap, "%zu bytes after the last record", len - off);
		ret = SOV_EMALF;
	}
finish:
	if (ret == SOV_ENOMEM)
		say(why, cap, "out of memory reading the UPDATE");
	if (ret == SOV_OK)
		*out = u;
	else
		update_free(u);
	return ret;
}

void update_free(update_msg_t *u)
{
	if (u == NULL)
		return;
	while (u->arena != NULL) {
		struct arena_block *next = u->arena->next;
		free(u->arena);
		u->arena = next;
	}
	free(u->pre);
	free(u->upd);
	free(u);
}

const uint8_t *update_zname(const update_msg_t *u)
{
	return u->zname;
}

uint16_t update_ztype(const update_msg_t *u)
{
	return u->ztype;
}

uint16_t update_zclass(const update_msg_t *u)
{
	return u->zclass;
}

size_t update_prereq_count(const update_msg_t *u)
{
	return u->npre;
}

size_t update_rr_count(const update_msg_t *u)
{
	return u->nupd;
}

const struct update_rr *update_rr_get(const update_msg_t *u, size_t i)
{
	return i < u->nupd ? &u->upd[i] : NULL;
}

const struct update_rr *update_prereq_get(const update_msg_t *u, size_t i)
{
	return i < u->npre ? &u->pre[i] : NULL;
}

size_t update_rdata_bytes(const update_msg_t *u)
{
	return u->rdata_bytes;
}

/* ------------------------------------------------------------------ §3.4.1 */

/* Query and meta types (RFC 6895 §3.1: 128-255, and OPT): never data.
 * AXFR, IXFR, MAILA, MAILB, TSIG, TKEY and ANY are among them. */
static bool type_is_meta(uint16_t type)
{
	return type == 0 || type == DNS_TYPE_OPT || (type >= 128 && type <= 255);
}

int update_prescan(update_msg_t *u, const zone_t *z, char *why, size_t cap)
{
	int rcode = DNS_RCODE_NOERROR;
	char what[DNAME_STR_MAX + 64];
	say(why, cap, "%s", "");
	for (size_t i = 0; i < u->nupd && rcode == DNS_RCODE_NOERROR; i++) {
		struct update_rr *rr = &u->upd[i];
		rr_str(rr, i, "update", what, sizeof(what));
		if (!dname_is_subdomain(rr->owner_lower, z->origin)) {
			say(why, cap, "%s: outside the zone %s (RFC 2136 §3.4.1.3)", what,
			    z->origin_str);
			rcode = DNS_RCODE_NOTZONE;
		} else if (rr->rclass == u->zclass) {
			/* §3.4.1.2: an addition carries data, never a query type. */
			if (type_is_meta(rr->type)) {
				say(why, cap, "%s: a meta or query type cannot be added", what);
				rcode = DNS_RCODE_FORMERR;
			}
			rr->op = UPDATE_ADD;
		} else if (rr->rclass == DNS_CLASS_ANY) {
			/* §2.5.2-3: TTL 0, no RDATA; type ANY deletes the name. */
			if (rr->ttl_s != 0 || rr->rdlen != 0) {
				say(why, cap, "%s: class ANY needs TTL 0 and no RDATA", what);
				rcode = DNS_RCODE_FORMERR;
			} else if (rr->type != DNS_TYPE_ANY && type_is_meta(rr->type)) {
				say(why, cap, "%s: a meta or query type cannot be deleted", what);
				rcode = DNS_RCODE_FORMERR;
			}
			rr->op =
			    rr->type == DNS_TYPE_ANY ? UPDATE_DELETE_NAME : UPDATE_DELETE_RRSET;
		} else if (rr->rclass == DNS_CLASS_NONE) {
			/* §2.5.4: one record, TTL 0. */
			if (rr->ttl_s != 0) {
				say(why, cap, "%s: class NONE needs TTL 0", what);
				rcode = DNS_RCODE_FORMERR;
			} else if (type_is_meta(rr->type)) {
				say(why, cap, "%s: a meta or query type cannot be deleted", what);
				rcode = DNS_RCODE_FORMERR;
			}
			rr->op = UPDATE_DELETE_RR;
		} else {
			say(why, cap, "%s: class %u is neither the zone's, ANY nor NONE", what,
			    rr->rclass);
			rcode = DNS_RCODE_FORMERR;
		}
	}
	return rcode;
}

/* ------------------------------------------------- comparing records' RDATA */

static bool bytes_same_nocase(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = a[i], d = b[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		if (d >= 'A' && d <= 'Z')
			d = (uint8_t)(d + 32);
		if (c != d)
			return false;
	}
	return true;
}

/* Size of a fixed-size RDATA field kind, 0 for any other. */
static size_t field_size(ldns_rdf_type t)
{
	switch (t) {
	case LDNS_RDF_TYPE_INT8:
	case LDNS_RDF_TYPE_ALG:
	case LDNS_RDF_TYPE_CERT_ALG:
		return 1;
	case LDNS_RDF_TYPE_INT16:
	case LDNS_RDF_TYPE_TYPE:
	case LDNS_RDF_TYPE_CLASS:
		return 2;
	case LDNS_RDF_TYPE_INT32:
	case LDNS_RDF_TYPE_A:
	case LDNS_RDF_TYPE_TIME:
	case LDNS_RDF_TYPE_PERIOD:
		return 4;
	case LDNS_RDF_TYPE_AAAA:
		return 16;
	default:
		return 0;
	}
}

/* True when p[0..len) starts with an uncompressed name; *used its length. */
static bool name_at(const uint8_t *p, size_t len, size_t *used)
{
	size_t o = 0;
	while (o < len && o < DNAME_MAXLEN && p[o] != 0) {
		if (p[o] > DNAME_MAXLABEL)
			return false;
		o += (size_t)p[o] + 1;
	}
	if (o >= len || o >= DNAME_MAXLEN)
		return false;
	*used = o + 1;
	return true;
}

/*
 * Same RDATA of one type? Names inside it compare case-insensitively (RFC
 * 4343; RFC 2136 §3.2.3 and §3.4.2.4 compare records as the zone's
 * duplicate check does), every other byte exactly. The names are found by
 * walking the type's fixed-size fields up to its last name; when a
 * variable-size field comes first, the whole RDATA is compared without
 * case, as the zone builder confirms its duplicates.
 */
static bool rdata_same(uint16_t type, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return false;
	const ldns_rr_descriptor *d = ldns_rr_descript(type);
	if (d == NULL || (uint16_t)d->_type != type || d->_dname_count == 0)
		return memcmp(a, b, alen) == 0;
	if (d->_variable == LDNS_RDF_TYPE_DNAME)
		return bytes_same_nocase(a, b, alen);
	size_t o = 0, names = 0;
	for (size_t i = 0; names < d->_dname_count; i++) {
		ldns_rdf_type t = ldns_rr_descriptor_field_type(d, i);
		size_t fs = field_size(t), ua = 0, ub = 0;
		if (t == LDNS_RDF_TYPE_DNAME) {
			if (!name_at(a + o, alen - o, &ua) || !name_at(b + o, blen - o, &ub))
				return bytes_same_nocase(a, b, alen);
			if (ua != ub || !bytes_same_nocase(a + o, b + o, ua))
				return false;
			o += ua;
			names++;
		} else if (fs > 0 && alen - o >= fs) {
			if (memcmp(a + o, b + o, fs) != 0)
				return false;
			o += fs;
		} else {
			return bytes_same_nocase(a, b, alen);
		}
	}
	return memcmp(a + o, b + o, alen - o) == 0;
}

/* The serial of SOA RDATA rd[0..len) (after MNAME and RNAME, RFC 1035
 * §3.3.13). False when the RDATA is not an SOA's. */
static bool soa_serial(const uint8_t *rd, size_t len, uint32_t *serial, size_t *at)
{
	size_t m = 0, r = 0;
	if (!name_at(rd, len, &m) || !name_at(rd + m, len - m, &r) || len - m - r != 20)
		return false;
	*at = m + r;
	*serial = wire_read_u32(rd + m + r);
	return true;
}

/* -------------------------------------------------------------------- §3.2 */

static bool name_in_use(const zone_t *z, const uint8_t *lower)
{
	/* §2.4.4: "at least one RR": an empty non-terminal or a geo service
	 * name (nodes without records) is not in use. */
	const znode_t *n = zone_find(z, lower);
	return n != NULL && n->rrset_count > 0;
}

static const zrrset_t *zone_rrset_at(const zone_t *z, const uint8_t *lower, uint16_t type)
{
	const znode_t *n = zone_find(z, lower);
	return n != NULL ? znode_rrset(n, type) : NULL;
}

/* Does prerequisite record pr match one record of the zone's RRset rs? */
static bool rrset_has(const zrrset_t *rs, uint16_t type, const uint8_t *rd, size_t rdlen)
{
	const uint8_t *p = rs->rdata;
	for (uint16_t i = 0; i < rs->count; i++) {
		size_t l = wire_read_u16(p);
		if (rdata_same(type, p + 2, l, rd, rdlen))
			return true;
		p += 2 + l;
	}
	return false;
}

/*
 * §3.2.3: the value-dependent prerequisites of (owner, type) starting at
 * u->pre[first], taken together as one RRset, equal the zone's (TTLs not
 * compared): every prerequisite record is in the zone's RRset and every
 * zone record is among the prerequisites.
 */
static bool rrset_equal(const update_msg_t *u, size_t first, const zone_t *z)
{
	const struct update_rr *f = &u->pre[first];
	const zrrset_t *rs = zone_rrset_at(z, f->owner_lower, f->type);
	if (rs == NULL)
		return false;
	for (size_t j = first; j < u->npre; j++) {
		const struct update_rr *rr = &u->pre[j];
		if (rr->rclass == u->zclass && rr->type == f->type &&
		    dname_equal(rr->owner_lower, f->owner_lower) &&
		    !rrset_has(rs, rr->type, rr->rdata, rr->rdlen))
			return false;
	}
	const uint8_t *p = rs->rdata;
	for (uint16_t i = 0; i < rs->count; i++) {
		size_t l = wire_read_u16(p);
		bool found = false;
		for (size_t j = first; j < u->npre && !found; j++) {
			const struct update_rr *rr = &u->pre[j];
			found = rr->rclass == u->zclass && rr->type == f->type &&
				dname_equal(rr->owner_lower, f->owner_lower) &&
				rdata_same(rr->type, rr->rdata, rr->rdlen, p + 2, l);
		}
		if (!found)
			return false;
		p += 2 + l;
	}
	return true;
}

int update_prereqs(const update_msg_t *u, const zone_t *z, char *why, size_t cap)
{
	int rcode = DNS_RCODE_NOERROR;
	char what[DNAME_STR_MAX + 64];
	say(why, cap, "%s", "");
	/* The order of §3.2.5's pseudocode: every record's own checks, then
	 * the value-dependent RRsets compared whole. */
	for (size_t i = 0; i < u->npre && rcode == DNS_RCODE_NOERROR; i++) {
		const struct update_rr *rr = &u->pre[i];
		rr_str(rr, i, "prerequisite", what, sizeof(what));
		if (rr->ttl_s != 0) {
			say(why, cap, "%s: a prerequisite has TTL 0 (RFC 2136 §3.2.4)", what);
			rcode = DNS_RCODE_FORMERR;
		} else if (!dname_is_subdomain(rr->owner_lower, z->origin)) {
			say(why, cap, "%s: outside the zone %s (RFC 2136 §3.2)", what,
			    z->origin_str);
			rcode = DNS_RCODE_NOTZONE;
		} else if (rr->rclass == DNS_CLASS_ANY || rr->rclass == DNS_CLASS_NONE) {
			bool any = rr->rclass == DNS_CLASS_ANY;
			bool exists = rr->type == DNS_TYPE_ANY
					  ? name_in_use(z, rr->owner_lower)
					  : zone_rrset_at(z, rr->owner_lower, rr->type) != NULL;
			if (rr->rdlen != 0) {
				say(why, cap, "%s: class %s carries no RDATA (RFC 2136 §3.2.4)",
				    what, any ? "ANY" : "NONE");
				rcode = DNS_RCODE_FORMERR;
			} else if (any && !exists) {
				/* §3.2.1 name is in use / §3.2.2 RRset exists */
				say(why, cap, "%s: %s", what,
				    rr->type == DNS_TYPE_ANY ? "the name is not in use"
							     : "the RRset does not exist");
				rcode = rr->type == DNS_TYPE_ANY ? DNS_RCODE_NXDOMAIN
								 : DNS_RCODE_NXRRSET;
			} else if (!any && exists) {
				/* §3.2.4 name is not in use / §3.2.3 RRset does not exist */
				say(why, cap, "%s: %s", what,
				    rr->type == DNS_TYPE_ANY ? "the name is in use"
							     : "the RRset exists");
				rcode = rr->type == DNS_TYPE_ANY ? DNS_RCODE_YXDOMAIN
								 : DNS_RCODE_YXRRSET;
			}
		} else if (rr->rclass != u->zclass) {
			say(why, cap, "%s: class %u is neither the zone's, ANY nor NONE", what,
			    rr->rclass);
			rcode = DNS_RCODE_FORMERR;
		}
	}
	for (size_t i = 0; i < u->npre && rcode == DNS_RCODE_NOERROR; i++) {
		const struct update_rr *rr = &u->pre[i];
		if (rr->rclass != u->zclass)
			continue;
		bool seen = false; /* this RRset was compared at an earlier record */
		for (size_t j = 0; j < i && !seen; j++)
			seen = u->pre[j].rclass == u->zclass && u->pre[j].type == rr->type &&
			       dname_equal(u->pre[j].owner_lower, rr->owner_lower);
		if (!seen && !rrset_equal(u, i, z)) {
			rr_str(rr, i, "prerequisite", what, sizeof(what));
			say(why, cap,
			    "%s: the RRset is not the one the prerequisites give "
			    "(RFC 2136 §3.2.3)",
			    what);
			rcode = DNS_RCODE_NXRRSET;
		}
	}
	return rcode;
}

/* ------------------------------------------------------------------ §3.4.2 */

/* One record of the zone being built. */
struct wrec {
	const uint8_t *owner; /* as it will be served (z's owners are lowercased) */
	const uint8_t *lower;
	const uint8_t *rd; /* RDATA, no RDLENGTH */
	uint32_t ttl_s;
	uint16_t type, rdlen;
	bool gone;
};

struct work {
	const zone_t *z;
	struct wrec *base; /* z's records, node by node */
	uint32_t *start;   /* node i's records: base[start[i]..start[i + 1]) */
	size_t nbase;
	struct wrec *add; /* records the update adds, in order */
	size_t nadd, cap_add;
	bool changed;	 /* some operation was not a no-op */
	bool soa_raised; /* an added SOA replaced the zone's (greater serial) */
};

/* The live records at one name: z's then the added ones. */
struct cursor {
	struct wrec *cur, *end;
	size_t add_i;
	const uint8_t *lower;
};

static void cursor_init(const struct work *w, const uint8_t *lower, struct cursor *c)
{
	const znode_t *n = zone_find(w->z, lower);
	*c = (struct cursor){.lower = lower};
	if (n != NULL) {
		size_t idx = (size_t)(n - w->z->nodes);
		c->cur = w->base + w->start[idx];
		c->end = w->base + w->start[idx + 1];
	}
}

static struct wrec *cursor_next(struct work *w, struct cursor *c)
{
	while (c->cur < c->end) {
		struct wrec *r = c->cur++;
		if (!r->gone)
			return r;
	}
	while (c->add_i < w->nadd) {
		struct wrec *r = &w->add[c->add_i++];
		if (!r->gone && dname_equal(r->lower, c->lower))
			return r;
	}
	return NULL;
}

static int work_init(struct work *w, const zone_t *z)
{
	int ret = SOV_OK;
	*w = (struct work){.z = z};
	size_t n = 0;
	for (uint32_t i = 0; i < z->node_count; i++)
		for (uint16_t j = 0; j < z->nodes[i].rrset_count; j++)
			n += z->nodes[i].rrsets[j].count;
	w->base = malloc((n ? n : 1) * sizeof(*w->base));
	w->start = malloc(((size_t)z->node_count + 1) * sizeof(*w->start));
	if (w->base == NULL || w->start == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}
	for (uint32_t i = 0; i < z->node_count; i++) {
		const znode_t *nd = &z->nodes[i];
		w->start[i] = (uint32_t)w->nbase;
		for (uint16_t j = 0; j < nd->rrset_count; j++) {
			const zrrset_t *rs = &nd->rrsets[j];
			const uint8_t *p = rs->rdata;
			for (uint16_t k = 0; k < rs->count; k++) {
				uint16_t l = wire_read_u16(p);
				w->base[w->nbase++] = (struct wrec){
				    .owner = nd->owner,
				    .lower = nd->owner,
				    .rd = p + 2,
				    .ttl_s = rs->ttl_s,
				    .type = rs->type,
				    .rdlen = l,
				};
				p += 2 + l;
			}
		}
	}
	w->start[z->node_count] = (uint32_t)w->nbase;
finish:
	return ret;
}

static void work_free(struct work *w)
{
	free(w->base);
	free(w->start);
	free(w->add);
}

static int work_append(struct work *w, const struct update_rr *rr)
{
	if (w->nadd == w->cap_add) {
		size_t cap = w->cap_add ? 2 * w->cap_add : 16;
		struct wrec *p = realloc(w->add, cap * sizeof(*p));
		if (p == NULL)
			return SOV_ENOMEM;
		w->add = p;
		w->cap_add = cap;
	}
	w->add[w->nadd++] = (struct wrec){
	    .owner = rr->owner,
	    .lower = rr->owner_lower,
	    .rd = rr->rdata,
	    .ttl_s = rr->ttl_s,
	    .type = rr->type,
	    .rdlen = rr->rdlen,
	};
	w->changed = true;
	return SOV_OK;
}

/* RFC 4035 §2.5: RRSIG and NSEC live beside a CNAME (zone_check.c agrees). */
static bool cname_compatible(uint16_t type)
{
	return type == DNS_TYPE_CNAME || type == DNS_TYPE_RRSIG || type == DNS_TYPE_NSEC;
}

/* §3.4.2.2: one addition. */
static int apply_add(struct work *w, const struct update_rr *rr)
{
	int ret = SOV_OK;
	struct cursor c;
	struct wrec *r, *same = NULL, *single = NULL;
	bool cname = false, other = false;
	cursor_init(w, rr->owner_lower, &c);
	while ((r = cursor_next(w, &c)) != NULL) {
		cname |= r->type == DNS_TYPE_CNAME;
		other |= !cname_compatible(r->type);
		if (r->type != rr->type)
			continue;
		if (single == NULL)
			single = r;
		if (same == NULL && rdata_same(r->type, r->rd, r->rdlen, rr->rdata, rr->rdlen))
			same = r;
	}
	/* A CNAME where other data is, or other data where a CNAME is: ignored
	 * (RFC 2181 §10.1). */
	if ((rr->type == DNS_TYPE_CNAME && other) || (cname && !cname_compatible(rr->type)))
		goto finish;
	if (rr->type == DNS_TYPE_SOA) {
		/* Only the apex has an SOA; it is replaced by one of greater serial
		 * (RFC 1982), else the addition is ignored. */
		uint32_t have = 0, want = 0;
		size_t at;
		if (single == NULL || !soa_serial(single->rd, single->rdlen, &have, &at) ||
		    !soa_serial(rr->rdata, rr->rdlen, &want, &at) || !dns_serial_lt(have, want))
			goto finish;
		single->gone = true;
		w->soa_raised = true;
		ret = work_append(w, rr);
		goto finish;
	}
	if (rr->type == DNS_TYPE_CNAME && single != NULL) {
		/* A name has one CNAME: the new one replaces it. */
		if (same != NULL && same->ttl_s == rr->ttl_s)
			goto finish;
		single->gone = true;
		ret = work_append(w, rr);
		goto finish;
	}
	if (same == NULL) {
		ret = work_append(w, rr);
		if (ret != SOV_OK)
			goto finish;
	}
	/* RFC 2181 §5.2: one TTL per RRset, the last record's. */
	cursor_init(w, rr->owner_lower, &c);
	while ((r = cursor_next(w, &c)) != NULL)
		if (r->type == rr->type && r->ttl_s != rr->ttl_s) {
			r->ttl_s = rr->ttl_s;
			w->changed = true;
		}
finish:
	return ret;
}

/* §3.4.2.3: deletion of an RRset (type T) or of every RRset at a name. */
static void apply_delete(struct work *w, const struct update_rr *rr, bool apex)
{
	struct cursor c;
	struct wrec *r;
	cursor_init(w, rr->owner_lower, &c);
	while ((r = cursor_next(w, &c)) != NULL) {
		if (rr->op == UPDATE_DELETE_RRSET && r->type != rr->type)
			continue;
		/* The apex keeps its SOA and NS RRsets. */
		if (apex && (r->type == DNS_TYPE_SOA || r->type == DNS_TYPE_NS))
			continue;
		r->gone = true;
		w->changed = true;
	}
}

/* §3.4.2.4: deletion of one record. */
static void apply_delete_rr(struct work *w, const struct update_rr *rr, bool apex)
{
	struct cursor c;
	struct wrec *r, *same = NULL;
	size_t count = 0;
	/* An SOA is never deleted (the zone would have none). */
	if (rr->type == DNS_TYPE_SOA)
		return;
	cursor_init(w, rr->owner_lower, &c);
	while ((r = cursor_next(w, &c)) != NULL) {
		if (r->type != rr->type)
			continue;
		count++;
		if (same == NULL && rdata_same(r->type, r->rd, r->rdlen, rr->rdata, rr->rdlen))
			same = r;
	}
	/* The apex's last NS stays: a zone without NS is not served. */
	if (same == NULL || (apex && rr->type == DNS_TYPE_NS && count == 1))
		return;
	same->gone = true;
	w->changed = true;
}

/* The live SOA at the apex (there is always one: never deleted). */
static struct wrec *work_soa(struct work *w)
{
	struct cursor c;
	struct wrec *r;
	cursor_init(w, w->z->origin, &c);
	while ((r = cursor_next(w, &c)) != NULL)
		if (r->type == DNS_TYPE_SOA)
			return r;
	return NULL;
}

static int emit(zone_builder_t *b, const struct wrec *r)
{
	int rc = zone_builder_add(b, r->owner, DNS_CLASS_IN, r->type, r->ttl_s, r->rd, r->rdlen);
	/* A per-record rule broken is noted by the builder and reported by
	 * the finisher; only running out of memory stops here. */
	return rc == SOV_ENOMEM ? SOV_ENOMEM : SOV_OK;
}

/* The working records into a new zone, SOA first with its serial set. */
static int work_build(struct work *w, const struct update_apply_opts *opts, zone_t **out,
		      diag_t *diag)
{
	int ret = SOV_OK;
	zone_builder_t *b = NULL;
	const zone_t *z = w->z;
	char source[DNAME_STR_MAX + 16];
	uint8_t soa_rd[2 * DNAME_MAXLEN + 20]; /* two names and five 32-bit fields */
	struct wrec *soa = work_soa(w);
	uint32_t serial = 0;
	size_t at = 0;
	if (soa == NULL || !soa_serial(soa->rd, soa->rdlen, &serial, &at)) {
		if (diag != NULL)
			diag_add_where(diag, z->origin_str, "the zone has no readable SOA");
		ret = SOV_ESEMANTIC;
		goto finish;
	}
	snprintf(source, sizeof(source), "UPDATE of %s", z->origin_str);
	ret = zone_builder_new(z->origin_str, z->path != NULL ? z->path : "", source, &b);
	if (ret != SOV_OK)
		goto finish;
	/* §3.4.2.7: a change raises the serial, unless the update did. */
	struct wrec s = *soa;
	memcpy(soa_rd, soa->rd, soa->rdlen);
	if (!w->soa_raised)
		wire_write_u32(soa_rd + at, opts->next_serial);
	s.rd = soa_rd;
	ret = emit(b, &s);
	for (size_t i = 0; i < w->nbase && ret == SOV_OK; i++)
		if (!w->base[i].gone && &w->base[i] != soa)
			ret = emit(b, &w->base[i]);
	for (size_t i = 0; i < w->nadd && ret == SOV_OK; i++)
		if (!w->add[i].gone && &w->add[i] != soa)
			ret = emit(b, &w->add[i]);
	if (ret != SOV_OK)
		goto finish;
	ret = opts->finish(opts->finish_arg, b, out, diag);
	b = NULL; /* the finisher frees it in every case */
finish:
	zone_builder_free(b);
	return ret;
}

int update_apply(const update_msg_t *u, const zone_t *z, const struct update_apply_opts *opts,
		 zone_t **out, diag_t *diag)
{
	int ret = SOV_OK;
	struct work w;
	*out = NULL;
	ret = work_init(&w, z);
	if (ret != SOV_OK)
		goto finish;
	if (!zone_has_data(z)) {
		ret = SOV_EINVAL;
		goto finish;
	}
	for (size_t i = 0; i < u->nupd && ret == SOV_OK; i++) {
		const struct update_rr *rr = &u->upd[i];
		/* update_prescan() refused these; a caller that skipped it gets
		 * nothing outside the zone either. */
		if (!dname_is_subdomain(rr->owner_lower, z->origin))
			continue;
		bool apex = dname_equal(rr->owner_lower, z->origin);
		switch (rr->op) {
		case UPDATE_ADD:
			ret = apply_add(&w, rr);
			break;
		case UPDATE_DELETE_RRSET:
		case UPDATE_DELETE_NAME:
			apply_delete(&w, rr, apex);
			break;
		case UPDATE_DELETE_RR:
			apply_delete_rr(&w, rr, apex);
			break;
		}
	}
	/* §3.4.2.7: nothing changed is still success, and no new version. */
	if (ret == SOV_OK && w.changed)
		ret = work_build(&w, opts, out, diag);
finish:
	work_free(&w);
	return ret;
}
