/* journal.c — journal entries, lists and their file form (contract in
 * journal.h; the store that keeps them is journal_store.c).
 *
 * A difference is computed by listing every record a transfer of each
 * version sends (xfr_walk), in wire form, sorting both lists and merging
 * them: O(n log n) time and one copy of both zones' records in memory,
 * once per reload that raised a serial. Simpler than walking two zone
 * trees in step, and the only way to include the geo services' records,
 * which are not in the zone's RRsets.
 */
#include "dns/journal.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "dns/xfr_walk.h"
#include "wire/dname.h"
#include "wire/wire.h"

struct journal {
	_Atomic uint32_t refs;
	size_t count;
	size_t bytes;
	struct journal_entry *e[]; /* referenced, oldest first */
};

/* ------------------------------------------------------------ records */

/* Fixed part of a record after its owner: type, class, TTL, RDLENGTH. */
#define RR_FIXED 10

/* True if p[0..len) starts with an uncompressed wire name of at most 255
 * bytes (its length in *used). */
static bool name_ok(const uint8_t *p, size_t len, size_t *used)
{
	size_t n = 0;
	while (n < len && n < DNAME_MAXLEN) {
		uint8_t l = p[n];
		if (l == 0) {
			*used = n + 1;
			return true;
		}
		if (l > DNAME_MAXLABEL)
			return false;
		n += 1u + l;
	}
	return false;
}

bool journal_rr_next(const uint8_t *wire, size_t len, size_t *off, const uint8_t **owner,
		     zrrset_t *one)
{
	size_t p = *off;
	size_t nl = 0;
	if (p >= len || !name_ok(wire + p, len - p, &nl) || len - p - nl < RR_FIXED)
		return false;
	const uint8_t *f = wire + p + nl;
	uint16_t rdlen = wire_read_u16(f + 8);
	if (len - p - nl - RR_FIXED < rdlen)
		return false;
	*owner = wire + p;
	one->type = wire_read_u16(f);
	one->count = 1;
	one->ttl_s = wire_read_u32(f + 4);
	one->rdata_len = 2u + rdlen;
	one->rdata = f + 8;
	*off = p + nl + RR_FIXED + rdlen;
	return true;
}

/* A growing buffer of records in wire form. */
struct rrbuf {
	uint8_t *b;
	size_t len, cap;
	size_t n; /* records */
	bool oom;
};

static void rrbuf_put(struct rrbuf *r, const uint8_t *owner, uint16_t type, uint32_t ttl_s,
		      const uint8_t *rd, uint16_t rdlen)
{
	size_t nl = dname_len(owner);
	size_t need = nl + RR_FIXED + rdlen;
	if (r->oom)
		return;
	if (r->len + need > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap < r->len + need)
			cap *= 2;
		uint8_t *m = realloc(r->b, cap);
		if (m == NULL) {
			r->oom = true;
			return;
		}
		r->b = m;
		r->cap = cap;
	}
	uint8_t *p = r->b + r->len;
	memcpy(p, owner, nl);
	p += nl;
	wire_write_u16(p, type);
	wire_write_u16(p + 2, DNS_CLASS_IN);
	wire_write_u32(p + 4, ttl_s);
	wire_write_u16(p + 8, rdlen);
	if (rdlen > 0)
		memcpy(p + RR_FIXED, rd, rdlen);
	r->len += need;
	r->n++;
}

/* Every record of z as a transfer sends it (the apex SOA left out). */
static int collect(const zone_t *z, const geo_ctx_t *g, struct rrbuf *out)
{
	struct xfr_walk w = {0};
	xfr_walk_init(&w, z, g);
	int ret = SOV_OK;
	for (;;) {
		const uint8_t *owner;
		zrrset_t rs;
		int got = xfr_walk_peek(&w, &owner, &rs);
		if (got <= 0) {
			ret = got;
			break;
		}
		uint32_t off = 0;
		for (uint16_t i = 0; i < rs.count && off + 2 <= rs.rdata_len; i++) {
			uint16_t rdlen = wire_read_u16(rs.rdata + off);
			rrbuf_put(out, owner, rs.type, rs.ttl_s, rs.rdata + off + 2, rdlen);
			off += 2u + rdlen;
		}
		xfr_walk_advance(&w);
	}
	xfr_walk_clear(&w);
	return out->oom ? SOV_ENOMEM : ret;
}

/* Orders records by owner, type, RDATA, then TTL: equal only when a
 * transfer would send the same record. Any total order does for a merge. */
static int rr_cmp(const void *pa, const void *pb)
{
	const uint8_t *a = *(const uint8_t *const *)pa, *b = *(const uint8_t *const *)pb;
	size_t la = dname_len(a), lb = dname_len(b);
	int c = memcmp(a, b, la < lb ? la : lb);
	if (c != 0 || la != lb)
		return c != 0 ? c : (la < lb ? -1 : 1);
	const uint8_t *fa = a + la, *fb = b + lb;
	uint16_t ta = wire_read_u16(fa), tb = wire_read_u16(fb);
	if (ta != tb)
		return ta < tb ? -1 : 1;
	uint16_t ra = wire_read_u16(fa + 8), rb = wire_read_u16(fb + 8);
	c = memcmp(fa + RR_FIXED, fb + RR_FIXED, ra < rb ? ra : rb);
	if (c != 0 || ra != rb)
		return c != 0 ? c : (ra < rb ? -1 : 1);
	uint32_t xa = wire_read_u32(fa + 4), xb = wire_read_u32(fb + 4);
	return xa == xb ? 0 : (xa < xb ? -1 : 1);
}

/* Pointers to the records of r, sorted by rr_cmp. NULL on ENOMEM. */
static const uint8_t **sorted(const struct rrbuf *r)
{
	const uint8_t **v = malloc((r->n + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	size_t off = 0;
	for (size_t i = 0; i < r->n; i++) {
		v[i] = r->b + off;
		size_t nl = dname_len(r->b + off);
		off += nl + RR_FIXED + wire_read_u16(r->b + off + nl + 8);
	}
	qsort(v, r->n, sizeof(*v), rr_cmp);
	return v;
}

static void rrbuf_copy(struct rrbuf *out, const uint8_t *rr)
{
	size_t nl = dname_len(rr);
	const uint8_t *f = rr + nl;
	rrbuf_put(out, rr, wire_read_u16(f), wire_read_u32(f + 4), f + RR_FIXED,
		  wire_read_u16(f + 8));
}

/* The apex SOA of z as a record. */
static bool put_soa(struct rrbuf *out, const zone_t *z)
{
	if (!zone_has_data(z))
		return false;
	const zrrset_t *soa = znode_rrset(zone_node(z, 0), DNS_TYPE_SOA);
	if (soa == NULL || soa->rdata_len < 2)
		return false;
	rrbuf_put(out, z->origin, DNS_TYPE_SOA, soa->ttl_s, soa->rdata + 2,
		  wire_read_u16(soa->rdata));
	return true;
}

/* The serial inside SOA RDATA rd[0..rdlen), or false when malformed. */
static bool soa_serial(const uint8_t *rd, size_t rdlen, uint32_t *serial)
{
	size_t a = 0, b = 0;
	if (!name_ok(rd, rdlen, &a) || !name_ok(rd + a, rdlen - a, &b) || rdlen - a - b != 20)
		return false;
	*serial = wire_read_u32(rd + a + b);
	return true;
}

int journal_diff(const zone_t *old, const geo_ctx_t *og, const zone_t *nz, const geo_ctx_t *ng,
		 struct journal_entry **out)
{
	struct rrbuf ro = {0}, rn = {0}, w = {0};
	const uint8_t **vo = NULL, **vn = NULL;
	struct journal_entry *e = NULL;
	uint32_t deleted = 0, added = 0;
	*out = NULL;
	int ret = SOV_EINVAL;
	if (!zone_has_data(old) || !zone_has_data(nz) ||
	    znode_rrset(zone_node(old, 0), DNS_TYPE_SOA) == NULL ||
	    znode_rrset(zone_node(nz, 0), DNS_TYPE_SOA) == NULL)
		goto finish;
	ret = collect(old, og, &ro);
	if (ret == SOV_OK)
		ret = collect(nz, ng, &rn);
	if (ret != SOV_OK)
		goto finish;
	ret = SOV_ENOMEM;
	vo = sorted(&ro);
	vn = sorted(&rn);
	if (vo == NULL || vn == NULL)
		goto finish;
	/* Deleted: in the old version only; added: in the new one only. */
	put_soa(&w, old);
	size_t i = 0, j = 0;
	while (i < ro.n || j < rn.n) {
		int c = i == ro.n ? 1 : j == rn.n ? -1 : rr_cmp(&vo[i], &vn[j]);
		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			rrbuf_copy(&w, vo[i++]);
			deleted++;
		} else {
			j++;
		}
	}
	put_soa(&w, nz);
	for (i = 0, j = 0; i < ro.n || j < rn.n;) {
		int c = i == ro.n ? 1 : j == rn.n ? -1 : rr_cmp(&vo[i], &vn[j]);
		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			i++;
		} else {
			rrbuf_copy(&w, vn[j++]);
			added++;
		}
	}
	if (w.oom || (e = calloc(1, sizeof(*e))) == NULL)
		goto finish;
	e->serial_from = old->serial;
	e->serial_to = nz->serial;
	e->deleted = deleted;
	e->added = added;
	e->len = w.len;
	e->wire = w.b;
	w.b = NULL;
	atomic_init(&e->refs, 1);
	*out = e;
	ret = SOV_OK;
finish:
	free(vo);
	free(vn);
	free(ro.b);
	free(rn.b);
	free(w.b);
	return ret;
}

void journal_entry_unref(struct journal_entry *e)
{
	if (e == NULL || atomic_fetch_sub(&e->refs, 1) != 1)
		return;
	free(e->wire);
	free(e);
}

/* ------------------------------------------------------------ lists */

journal_t *journal_ref(const journal_t *j)
{
	journal_t *m = (journal_t *)j;
	if (m != NULL)
		atomic_fetch_add(&m->refs, 1);
	return m;
}

void journal_unref(journal_t *j)
{
	if (j == NULL || atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	for (size_t i = 0; i < j->count; i++)
		journal_entry_unref(j->e[i]);
	free(j);
}

size_t journal_count(const journal_t *j)
{
	return j ? j->count : 0;
}

const struct journal_entry *journal_get(const journal_t *j, size_t i)
{
	return j->e[i];
}

size_t journal_bytes(const journal_t *j)
{
	return j ? j->bytes : 0;
}

long journal_find(const journal_t *j, uint32_t from, uint32_t to)
{
	if (j == NULL || j->count == 0 || j->e[j->count - 1]->serial_to != to)
		return -1;
	for (size_t i = j->count; i-- > 0;)
		if (j->e[i]->serial_from == from)
			return (long)i;
	return -1;
}

/* A new list of the newest of v[0..n) that fit both bounds (references
 * taken); NULL on ENOMEM. */
static journal_t *keep_newest(struct journal_entry *const *v, size_t n, size_t max_entries,
			      size_t max_bytes)
{
	size_t keep = 0, bytes = 0;
	while (keep < n && keep < max_entries && bytes + v[n - 1 - keep]->len <= max_bytes) {
		bytes += v[n - 1 - keep]->len;
		keep++;
	}
	journal_t *nj = malloc(sizeof(*nj) + (keep + 1) * sizeof(nj->e[0]));
	if (nj == NULL)
		return NULL;
	atomic_init(&nj->refs, 1);
	nj->count = 0;
	nj->bytes = bytes;
	for (size_t i = n - keep; i < n; i++) {
		atomic_fetch_add(&v[i]->refs, 1);
		nj->e[nj->count++] = v[i];
	}
	return nj;
}

journal_t *journal_append(const journal_t *j, struct journal_entry *e, size_t max_entries,
			  size_t max_bytes)
{
	size_t n = journal_count(j);
	struct journal_entry **v = malloc((n + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	if (n > 0)
		memcpy(v, j->e, n * sizeof(*v));
	v[n] = e;
	/* An entry over the byte bound alone leaves nothing: never keep older
	 * steps that do not lead to the current version. */
	journal_t *nj = keep_newest(v, e->len <= max_bytes ? n + 1 : 0, max_entries, max_bytes);
	free(v);
	return nj;
}

journal_t *journal_trim(const journal_t *j, size_t max_entries, size_t max_bytes)
{
	if (j == NULL)
		return NULL;
	if (j->count <= max_entries && j->bytes <= max_bytes)
		return journal_ref(j);
	return keep_newest(j->e, j->count, max_entries, max_bytes);
}

/* ------------------------------------------------------------ files */

static const uint8_t JNL_MAGIC[8] = {'S', 'O', 'V', 'J', 'N', 'L', '1', '\n'};

/* Before each entry's records: serial_from, serial_to, deleted, len (u32 each). */
#define JNL_ENTRY_HDR 16

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

int journal_encode(const journal_t *j, const uint8_t *origin, uint8_t **out, size_t *out_len)
{
	size_t ol = dname_len(origin);
	size_t n = journal_count(j);
	size_t len = sizeof(JNL_MAGIC) + ol + 4 + n * JNL_ENTRY_HDR + journal_bytes(j) + 8;
	uint8_t *b = malloc(len);
	*out = NULL;
	*out_len = 0;
	if (b == NULL)
		return SOV_ENOMEM;
	uint8_t *p = b;
	memcpy(p, JNL_MAGIC, sizeof(JNL_MAGIC));
	p += sizeof(JNL_MAGIC);
	memcpy(p, origin, ol);
	p += ol;
	wire_write_u32(p, (uint32_t)n);
	p += 4;
	for (size_t i = 0; i < n; i++) {
		const struct journal_entry *e = j->e[i];
		wire_write_u32(p, e->serial_from);
		wire_write_u32(p + 4, e->serial_to);
		wire_write_u32(p + 8, e->deleted);
		wire_write_u32(p + 12, (uint32_t)e->len);
		memcpy(p + JNL_ENTRY_HDR, e->wire, e->len);
		p += JNL_ENTRY_HDR + e->len;
	}
	uint64_t h = fnv1a64(b, (size_t)(p - b));
	wire_write_u32(p, (uint32_t)(h >> 32));
	wire_write_u32(p + 4, (uint32_t)h);
	*out = b;
	*out_len = len;
	return SOV_OK;
}

/* Checks one entry's records: SOA(from) at the origin first, then
 * `deleted` records, SOA(to) at the origin, the rest added. Counts the
 * added ones into *added. */
static bool entry_ok(const uint8_t *w, size_t len, const uint8_t *origin, uint32_t from,
		     uint32_t to, uint32_t deleted, uint32_t *added)
{
	size_t off = 0;
	uint32_t soas = 0, n = 0, after = 0;
	const uint8_t *owner;
	zrrset_t one;
	while (off < len) {
		if (!journal_rr_next(w, len, &off, &owner, &one))
			return false;
		if (one.type == DNS_TYPE_SOA) {
			uint32_t serial;
			if (!dname_equal(owner, origin) ||
			    !soa_serial(one.rdata + 2, one.rdata_len - 2u, &serial) ||
			    serial != (soas == 0 ? from : to) || soas >= 2 ||
			    (soas == 1 && n != deleted + 1))
				return false;
			soas++;
		} else if (n == 0) {
			return false; /* must start with the old SOA */
		} else if (soas == 2) {
			after++;
		}
		n++;
	}
	*added = after;
	return soas == 2;
}

int journal_decode(const uint8_t *buf, size_t len, const uint8_t *origin, journal_t **out)
{
	*out = NULL;
	size_t ol = dname_len(origin);
	if (len < sizeof(JNL_MAGIC) + ol + 4 + 8 || memcmp(buf, JNL_MAGIC, sizeof(JNL_MAGIC)) != 0)
		return SOV_EPARSE;
	uint64_t h = fnv1a64(buf, len - 8);
	if (wire_read_u32(buf + len - 8) != (uint32_t)(h >> 32) ||
	    wire_read_u32(buf + len - 4) != (uint32_t)h)
		return SOV_EPARSE;
	size_t p = sizeof(JNL_MAGIC), end = len - 8, nl = 0;
	if (!name_ok(buf + p, end - p, &nl) || nl != ol || memcmp(buf + p, origin, ol) != 0)
		return SOV_EPARSE;
	p += ol;
	uint32_t n = wire_read_u32(buf + p);
	p += 4;
	if (n > (end - p) / JNL_ENTRY_HDR)
		return SOV_EPARSE;
	journal_t *j = malloc(sizeof(*j) + (n + 1) * sizeof(j->e[0]));
	if (j == NULL)
		return SOV_ENOMEM;
	atomic_init(&j->refs, 1);
	j->count = 0;
	j->bytes = 0;
	int ret = SOV_EPARSE;
	for (uint32_t i = 0; i < n; i++) {
		if (end - p < JNL_ENTRY_HDR)
			goto fail;
		uint32_t from = wire_read_u32(buf + p), to = wire_read_u32(buf + p + 4);
		uint32_t deleted = wire_read_u32(buf + p + 8), elen = wire_read_u32(buf + p + 12);
		uint32_t added = 0;
		p += JNL_ENTRY_HDR;
		if (end - p < elen || !entry_ok(buf + p, elen, origin, from, to, deleted, &added) ||
		    (i > 0 && j->e[i - 1]->serial_to != from))
			goto fail;
		struct journal_entry *e = calloc(1, sizeof(*e));
		uint8_t *w = malloc(elen ? elen : 1);
		if (e == NULL || w == NULL) {
			free(e);
			free(w);
			ret = SOV_ENOMEM;
			goto fail;
		}
		memcpy(w, buf + p, elen);
		e->serial_from = from;
		e->serial_to = to;
		e->deleted = deleted;
		e->added = added;
		e->len = elen;
		e->wire = w;
		atomic_init(&e->refs, 1);
		j->e[j->count++] = e;
		j->bytes += elen;
		p += elen;
	}
	if (p != end)
		goto fail;
	if (j->count == 0) {
		journal_unref(j);
		return SOV_OK;
	}
	*out = j;
	return SOV_OK;
fail:
	journal_unref(j);
	return ret;
}
