/* xfr_out.c — the messages of an outgoing zone transfer (contract in xfr_out.h).
 *
 * AXFR: a cursor walks the zone (xfr_walk.h): the SOA, then node by node
 * and RRset by RRset (the apex SOA skipped), then the SOA again. IXFR from
 * the journal: the SOA, the records of each journal entry from the
 * client's serial on, the SOA again, record by record. An RRset goes whole into a
 * message when it fits; one that does not fit an empty message is split
 * record by record, and a record that does not fit an empty 16 KiB
 * message gets a message of up to 64 KiB of its own.
 */
#include "dns/xfr_out.h"
#include "dns/xfr_history.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "dns/opt.h"
#include "dns/reply.h"
#include "dns/xfr_conf.h"
#include "dns/xfr_walk.h"
#include "wire/wire.h"

enum xo_phase { XO_FIRST_SOA, XO_BODY, XO_LAST_SOA, XO_DONE };

struct xfr_out {
	snapshot_t *snap; /* referenced */
	struct xfr_start st;
	struct dns_query q; /* the request, parsed again */
	const zrrset_t *soa;
	enum xo_phase phase;
	struct xfr_walk walk; /* AXFR cursor: the RRset being sent */
	size_t jentry;	      /* IXFR cursor: the journal entry being sent */
	size_t joff;	      /* byte offset of its next record */
	uint32_t rec;	      /* records of that RRset already sent (split RRset) */
	uint32_t rec_off;     /* byte offset of the next record in its RDATA */
	uint64_t messages, records, bytes;
	int64_t started_ms; /* monotonic; 0 until the first message */
	bool failed;
	const char *why; /* when failed */
	char client[64];
};

struct xfr_out *xfr_out_new(const snapshot_t *snap, const struct xfr_start *st,
			    const struct sockaddr *client, const uint8_t *q, size_t qlen)
{
	struct xfr_out *x = calloc(1, sizeof(*x));
	const zrrset_t *soa = znode_rrset(zone_node(st->zone, 0), DNS_TYPE_SOA);
	if (x == NULL || soa == NULL || dns_query_parse(q, qlen, &x->q) == DNS_PARSE_DROP) {
		free(x);
		if (st->slot != NULL)
			atomic_fetch_sub(st->slot, 1);
		return NULL;
	}
	x->snap = snapshot_ref(snap);
	x->st = *st;
	x->soa = soa;
	x->phase = XO_FIRST_SOA;
	xfr_walk_init(&x->walk, st->zone, snap->geo);
	x->jentry = st->jfirst;
	if (client != NULL)
		addr_format(client, x->client, sizeof(x->client));
	else
		snprintf(x->client, sizeof(x->client), "(unknown)");
	return x;
}

bool xfr_out_over(const struct xfr_out *x)
{
	return x->phase == XO_DONE;
}

bool xfr_out_failed(const struct xfr_out *x)
{
	return x->failed;
}

static void xo_fail(struct xfr_out *x, const char *why)
{
	x->failed = true;
	x->why = why;
	x->phase = XO_DONE;
}

void xfr_out_stop(struct xfr_out *x, const char *why)
{
	xo_fail(x, why);
}

/* One record of rs, the one at byte offset off of its RDATA, as an RRset of one. */
static zrrset_t one_record(const zrrset_t *rs, uint32_t off)
{
	uint32_t rdlen = wire_read_u16(rs->rdata + off);
	zrrset_t one = {rs->type, 1, rs->ttl_s, 2 + rdlen, rs->rdata + off};
	return one;
}

/* Writes what is left of RRset rs (from x->rec) record by record. True when
 * all of it is written; false when the message is full. */
static bool put_split(struct xfr_out *x, struct reply *r, const uint8_t *owner, const zrrset_t *rs)
{
	while (x->rec < rs->count) {
		zrrset_t one = one_record(rs, x->rec_off);
		if (!put_rrset(r, SEC_ANSWER, owner, 0, &one, rs->ttl_s))
			return false;
		x->rec++;
		x->rec_off += one.rdata_len;
		x->records++;
	}
	x->rec = 0;
	x->rec_off = 0;
	return true;
}

/* Writes RRsets at the cursor until the message is full or the zone ends. */
static void put_body(struct xfr_out *x, struct reply *r)
{
	for (;;) {
		const uint8_t *owner;
		zrrset_t rs;
		int got = xfr_walk_peek(&x->walk, &owner, &rs);
		if (got < 0) {
			xo_fail(x, "out of memory");
			return;
		}
		if (got == 0)
			break;
		if (x->rec == 0 && put_rrset(r, SEC_ANSWER, owner, 0, &rs, rs.ttl_s)) {
			x->records += rs.count;
			xfr_walk_advance(&x->walk);
			continue;
		}
		/* Does not fit whole: in a message of its own first, split only
		 * if even that is too small. */
		if (x->rec == 0 && r->count[SEC_ANSWER] > 0)
			return;
		if (!put_split(x, r, owner, &rs))
			return;
		xfr_walk_advance(&x->walk);
	}
	x->phase = XO_LAST_SOA;
}

/* IXFR from the journal (RFC 1995 §4): the records of each entry from
 * x->st.jfirst on, one by one (each entry is SOA(old), deleted, SOA(new),
 * added, already in order), until the message is full. */
static void put_diffs(struct xfr_out *x, struct reply *r)
{
	const journal_t *j = x->st.journal;
	while (x->jentry < journal_count(j)) {
		const struct journal_entry *e = journal_get(j, x->jentry);
		size_t off = x->joff;
		const uint8_t *owner;
		zrrset_t one;
		if (off >= e->len) {
			x->jentry++;
			x->joff = 0;
			continue;
		}
		if (!journal_rr_next(e->wire, e->len, &off, &owner, &one)) {
			xo_fail(x, "a journal entry is malformed");
			return;
		}
		if (!put_rrset(r, SEC_ANSWER, owner, 0, &one, one.ttl_s))
			return;
		x->records++;
		x->joff = off;
	}
	x->phase = XO_LAST_SOA;
}

/* Fills one message's records; false if nothing at all could be written. */
static bool put_records(struct xfr_out *x, struct reply *r)
{
	const uint8_t *apex = zone_node(x->st.zone, 0)->owner;
	if (x->phase == XO_FIRST_SOA) {
		if (!put_rrset(r, SEC_ANSWER, apex, 0, x->soa, x->soa->ttl_s))
			return false;
		x->records++;
		x->phase = XO_BODY;
	}
	if (x->phase == XO_BODY && x->st.journal != NULL)
		put_diffs(x, r);
	else if (x->phase == XO_BODY)
		put_body(x, r);
	if (x->failed)
		return false;
	if (x->phase == XO_LAST_SOA && put_rrset(r, SEC_ANSWER, apex, 0, x->soa, x->soa->ttl_s)) {
		x->records++;
		x->phase = XO_DONE;
	}
	return r->count[SEC_ANSWER] > 0;
}

size_t xfr_out_next(struct xfr_out *x, uint8_t *buf, size_t cap, int64_t now_s, int64_t mono_ms)
{
	if (x->phase == XO_DONE)
		return 0;
	if (x->started_ms == 0) {
		x->started_ms = mono_ms;
	} else if (mono_ms - x->started_ms > (int64_t)x->snap->xfr->max_time_s * 1000) {
		xo_fail(x, "it took longer than transfers.max_time_s");
		return 0;
	}
	size_t reserve = (x->q.has_edns ? opt_size(&x->q) : 0) + (x->st.tsig_on ? TSIG_RR_MAX : 0);
	size_t full = cap < XFR_MSG_MAX ? cap : XFR_MSG_MAX;
	if (full < reserve + DNS_HEADER_LEN + DNAME_MAXLEN + 4) {
		xo_fail(x, "no room for a message");
		return 0;
	}
	struct reply r;
	memset(&r.count, 0, sizeof(r.count));
	r.buf = buf;
	r.limit = (XFR_MSG_TARGET < full ? XFR_MSG_TARGET : full) - reserve;
	r.len = DNS_HEADER_LEN;
	reply_compression_reset(&r);
	uint16_t qdcount = 0;
	if (x->messages == 0 && x->q.has_question &&
	    put_question(&r, x->q.qname, x->q.qname_len, x->q.qtype, x->q.qclass))
		qdcount = 1;
	struct mark empty = reply_mark(&r);
	if (!put_records(x, &r)) {
		if (x->failed)
			return 0;
		/* One record larger than the target: a message as large as TCP allows. */
		reply_rollback(&r, &empty);
		r.limit = full - reserve;
		if (!put_records(x, &r)) {
			xo_fail(x, "a record does not fit in a message");
			return 0;
		}
	}

	size_t len = r.len;
	uint16_t arcount = 0;
	if (x->q.has_edns) {
		len = opt_put(buf, len, x->snap, &x->q, 0, 0, x->st.cookie,
			      zone_expire_remaining(x->st.zone, now_s)); /* RFC 7314 §2 */
		arcount++;
	}
	uint16_t flags = DNS_FLAG_QR | DNS_FLAG_AA | (x->q.flags & (0x7800 | DNS_FLAG_RD));
	wire_write_u16(buf, x->q.id);
	wire_write_u16(buf + 2, flags);
	wire_write_u16(buf + 4, qdcount);
	wire_write_u16(buf + 6, r.count[SEC_ANSWER]);
	wire_write_u16(buf + 8, 0);
	wire_write_u16(buf + 10, arcount);
	if (x->st.tsig_on &&
	    tsig_sign(&x->st.tsig, buf, &len, full, (uint64_t)now_s, 0) != SOV_OK) {
		xo_fail(x, "signing a message failed");
		return 0;
	}
	x->messages++;
	x->bytes += len;
	return len;
}

void xfr_out_free(struct xfr_out *x)
{
	if (x == NULL)
		return;
	const zone_t *z = x->st.zone;
	int64_t ms = x->started_ms ? clock_mono_ms() - x->started_ms : 0;
	const char *kind = x->st.journal ? "IXFR" : x->st.ixfr ? "IXFR (full)" : "AXFR";
	if (x->phase == XO_DONE && !x->failed && x->st.journal != NULL)
		log_info("xfr",
			 "IXFR of %s from serial %u to %u to %s: %llu records in %llu messages "
			 "(%llu bytes), %lld ms",
			 z->origin_str, x->st.client_serial, z->serial, x->client,
			 (unsigned long long)x->records, (unsigned long long)x->messages,
			 (unsigned long long)x->bytes, (long long)ms);
	else if (x->phase == XO_DONE && !x->failed)
		log_info("xfr",
			 "%s of %s serial %u to %s: %llu records in %llu messages (%llu bytes), "
			 "%lld ms",
			 kind, z->origin_str, z->serial, x->client, (unsigned long long)x->records,
			 (unsigned long long)x->messages, (unsigned long long)x->bytes,
			 (long long)ms);
	else
		log_warn("xfr", "%s of %s serial %u to %s stopped after %llu records: %s", kind,
			 z->origin_str, z->serial, x->client, (unsigned long long)x->records,
			 x->why ? x->why : "the client went away");
	xfr_history_add(z->origin, kind, z->serial, x->client, x->records, ms,
			x->phase == XO_DONE && !x->failed);
	if (x->st.slot != NULL)
		atomic_fetch_sub(x->st.slot, 1);
	tsig_ctx_clear(&x->st.tsig);
	snapshot_unref(x->snap);
	xfr_walk_clear(&x->walk);
	free(x);
}
