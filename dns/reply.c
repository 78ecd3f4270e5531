/* reply.c — the reply writer and name compression (contract in reply.h).
 *
 * Records are written straight from the zone's pre-rendered RDATA into the
 * reply buffer; domain names of RFC 1035 types are compressed against a
 * small per-reply table of the offsets of names already written.
 */
#include "dns/reply.h"

#include "wire/dname.h"
#include "wire/wire.h"

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
bool put_name(struct reply *r, const uint8_t *name, bool compress)
{
	size_t nlen = dname_len(name);
	size_t pos = nlen - 1; /* offset inside name of the suffix replaced by ptr */
	int ptr = -1;
	uint16_t starts[128];
	uint32_t hashes[128];
	unsigned labels = reply_suffix_hashes(name, starts, hashes);
	unsigned k = labels; /* labels written before the pointer (all without one) */

	/* The longest suffix already written wins: try from the whole name. */
	for (unsigned j = 0; compress && j < labels; j++) {
		unsigned i = r->cmp_slot[hashes[j] & 255];
		if (i == 0 || i > r->cmp_n || r->cmp_hash[i - 1] != hashes[j] ||
		    !pkt_name_equal(r->buf, r->len, r->cmp[i - 1], name + starts[j]))
			continue;
		ptr = r->cmp[i - 1];
		pos = starts[j];
		k = j;
		break;
	}
	size_t need = (ptr >= 0) ? pos + 2 : nlen;
	if (r->len + need > r->limit)
		return false;

	/* Remember where each written label starts, for later names. */
	for (unsigned j = 0; j < k; j++)
		reply_compression_add(r, r->len + starts[j], hashes[j]);
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

/* Writes a whole RRset into `sec` with owner `owner` (uncompressed name; when
 * owner_ptr is non-zero the owner is written as that pointer instead) and
 * TTL ttl_s (the caller passes the RRset's own TTL, or the negative-answer
 * TTL for the SOA). Returns false, leaving the reply unchanged, if it does
 * not fit. */
bool put_rrset(struct reply *r, enum section sec, const uint8_t *owner, uint16_t owner_ptr,
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
