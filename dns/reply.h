/* reply.h — writing a DNS reply: RRsets from zone memory, names compressed.
 *
 * A struct reply is a cursor over the caller's buffer: records are
 * appended at buf[len], never past `limit` (the caller reserves the OPT
 * record's space below the buffer's real size), and the section counts
 * kept for the header. Domain names are compressed (RFC 1035 §4.1.4)
 * against a small table of offsets of names already written, each with a
 * hash of the name written there (reply_suffix_hashes), so a candidate is
 * compared byte by byte only when its hash matches; a full table only
 * costs compression, never correctness. Every writer either writes
 * the whole item or returns false; put_rrset() also rolls back what it
 * wrote. Nothing here allocates: the buffer is the caller's, the reply
 * lives on its stack. Hot path: the writers are called once per record.
 */
#ifndef SOV_DNS_REPLY_H
#define SOV_DNS_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dns/zone.h"
#include "wire/dname.h"
#include "wire/wire.h"

/* Offsets remembered for name compression. A reply that fits 1232 bytes
 * holds at most ~60 names; 128 label positions cover the large TCP replies
 * well enough, and a full table only costs compression, never correctness. */
#define COMPRESS_MAX 128

/** Section of the reply (index into reply.count). */
enum section { SEC_ANSWER = 0, SEC_AUTHORITY = 1, SEC_ADDITIONAL = 2 };

/** The reply being written; the caller sets buf, limit, len (after the
 * header), zeroes count and calls reply_compression_reset(). */
struct reply {
	uint8_t *buf;	   /* the caller's buffer, wire format */
	size_t limit;	   /* bytes available for header+question+RRs (OPT space reserved) */
	size_t len;	   /* bytes written so far, header included */
	uint16_t count[3]; /* records per enum section */
	uint16_t cmp[COMPRESS_MAX];	 /* offsets (< 0x4000) of labels written, for compression */
	uint32_t cmp_hash[COMPRESS_MAX]; /* reply_suffix_hashes() of the name at cmp[i] */
	unsigned cmp_n;
	uint8_t cmp_slot[256]; /* hash & 255 -> index + 1 into cmp (0: none): direct-mapped,
				  the latest name with those bits wins (a lost entry only
				  costs compression; a stale one fails the hash/name check) */
};

/** Empties the compression table (with cmp_n = 0): before the first name. */
__attribute__((nonnull)) static inline void reply_compression_reset(struct reply *r)
{
	r->cmp_n = 0;
	memset(r->cmp_slot, 0, sizeof(r->cmp_slot));
}

/** Remembers that the name with suffix hash h starts at offset off. */
__attribute__((nonnull)) static inline void reply_compression_add(struct reply *r, size_t off,
								  uint32_t h)
{
	if (r->cmp_n >= COMPRESS_MAX || off >= 0x4000)
		return;
	r->cmp[r->cmp_n] = (uint16_t)off;
	r->cmp_hash[r->cmp_n] = h;
	r->cmp_slot[h & 255] = (uint8_t)(++r->cmp_n);
}

/*
 * For each label of the uncompressed wire name `name` (root excluded), its
 * offset in name (starts[k]) and a case-insensitive hash of the suffix that
 * starts there (hashes[k], FNV-1a over the label, seeded with the next
 * suffix's hash): equal names have equal hashes wherever they are written.
 * Returns the label count (<= 127).
 */
__attribute__((nonnull)) static inline unsigned
reply_suffix_hashes(const uint8_t *name, uint16_t *starts, uint32_t *hashes)
{
	unsigned n = 0;
	for (size_t p = 0; name[p] != 0 && n < 127; p += (size_t)name[p] + 1)
		starts[n++] = (uint16_t)p;
	uint32_t h = 2166136261u;
	for (unsigned k = n; k-- > 0;) {
		const uint8_t *l = name + starts[k];
		h = (h ^ l[0]) * 16777619u;
		for (unsigned i = 1; i <= l[0]; i++) {
			uint8_t c = l[i];
			h = (h ^ (uint8_t)((c >= 'A' && c <= 'Z') ? c + 32 : c)) * 16777619u;
		}
		hashes[k] = h;
	}
	return n;
}

/* A saved write position, to roll back an RRset that does not fit. */
struct mark {
	size_t len;
	uint16_t count[3];
	unsigned cmp_n;
};

__attribute__((nonnull, pure)) static inline struct mark reply_mark(const struct reply *r)
{
	struct mark m = {r->len, {r->count[0], r->count[1], r->count[2]}, r->cmp_n};
	return m;
}

__attribute__((nonnull)) static inline void reply_rollback(struct reply *r, const struct mark *m)
{
	r->len = m->len;
	memcpy(r->count, m->count, sizeof(r->count));
	r->cmp_n = m->cmp_n;
}

/** Writes the wire name `name` (uncompressed) at the end of the reply,
 * compressed against earlier names when `compress` is set. False if it
 * does not fit (then len is unchanged, the table may hold extra offsets
 * past len: roll back to a mark to drop them). */
bool put_name(struct reply *r, const uint8_t *name, bool compress)
    __attribute__((nonnull, warn_unused_result));

/** Writes the owner (as the pointer owner_ptr when non-zero, else `owner`
 * compressed), type, class IN and TTL (seconds) of one record; the RDATA
 * follows. False if it does not fit. */
__attribute__((nonnull(1), warn_unused_result)) static inline bool
put_rr_head(struct reply *r, const uint8_t *owner, uint16_t owner_ptr, uint16_t type,
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

/**
 * Echoes the question: qname (wire, the client's letter case, qname_len
 * bytes), qtype and qclass (host order), and makes each of its labels a
 * compression target. False, writing nothing, if it does not fit.
 */
__attribute__((nonnull, warn_unused_result)) static inline bool
put_question(struct reply *r, const uint8_t *qname, size_t qname_len, uint16_t qtype,
	     uint16_t qclass)
{
	if (r->len + qname_len + 4u > r->limit)
		return false;
	size_t at = r->len;
	memcpy(r->buf + r->len, qname, qname_len);
	r->len += qname_len;
	wire_write_u16(r->buf + r->len, qtype);
	wire_write_u16(r->buf + r->len + 2, qclass);
	r->len += 4;
	/* Every label of the qname is a compression target. */
	uint16_t starts[128];
	uint32_t hashes[128];
	unsigned n = reply_suffix_hashes(qname, starts, hashes);
	for (unsigned k = 0; k < n; k++)
		reply_compression_add(r, at + starts[k], hashes[k]);
	return true;
}

/** Writes the whole RRset rs into `sec` under `owner` (or the pointer
 * owner_ptr when non-zero) with TTL ttl_s (the RRset's own TTL, or the
 * negative-answer TTL for the SOA, RFC 2308 §5). Names in the RDATA of the
 * RFC 1035 types are compressed (RFC 3597 §4: only those). False, leaving
 * the reply unchanged, if it does not fit. */
bool put_rrset(struct reply *r, enum section sec, const uint8_t *owner, uint16_t owner_ptr,
	       const zrrset_t *rs, uint32_t ttl_s)
    __attribute__((nonnull(1, 5), warn_unused_result));

#endif
