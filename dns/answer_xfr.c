/* answer_xfr.c — the answer path's side of a zone transfer request: which
 * rcode, or the single SOA of an up-to-date IXFR, or the go-ahead that the
 * TCP transport turns into a stream of messages (dns/xfr_out.c).
 *
 *   AXFR over UDP                        NOTIMP (RFC 5936 §4.2 leaves it
 *                                        undefined; Knot and NSD answer so)
 *   a name that is not a zone's apex     NOTAUTH (RFC 5936 §2.2.1)
 *   not allowed by the zone's "transfer" REFUSED (RFC 5936 §2.2.1, §6)
 *   IXFR without the client's SOA        FORMERR (RFC 1995 §3)
 *   IXFR over UDP from a serial the journal holds, when all the
 *                                        differences fit one message: them
 *                                        (RFC 1995 §2)
 *   IXFR over UDP otherwise, or the client's serial is ours or newer
 *   (RFC 1982)                           our SOA alone (RFC 1995 §2, §4)
 *   transfers.max_concurrent reached     SERVFAIL (try again later)
 *   else                                 the transfer starts: for an IXFR
 *                                        whose serial the zone's journal
 *                                        holds, the differences (RFC 1995
 *                                        §4); else the full zone
 */
#include <stdatomic.h>
#include <string.h>

#include "common/log.h"
#include "dns/answer_int.h"
#include "dns/journal.h"
#include "dns/xfr_conf.h"
#include "dns/xfr_out.h"
#include "dns/zonedb.h"
#include "wire/dname.h"
#include "wire/wire.h"

/* The serial of the SOA an IXFR request carries in its authority section
 * (RFC 1995 §3). False when there is none or it cannot be read. */
static bool ixfr_client_serial(const uint8_t *pkt, size_t len, const struct dns_query *q,
			       uint32_t *serial)
{
	size_t p = q->question_end;
	uint8_t name[DNAME_MAXLEN];
	if (q->ancount != 0 || q->nscount < 1)
		return false;
	if (dns_name_read(pkt, len, &p, name) < 0 || len - p < 10)
		return false;
	uint16_t type = wire_read_u16(pkt + p);
	uint16_t rdlen = wire_read_u16(pkt + p + 8);
	p += 10;
	size_t end = p + rdlen;
	if (type != DNS_TYPE_SOA || end > len || !dname_equal(name, q->qname_lower))
		return false;
	if (dns_name_read(pkt, end, &p, name) < 0 || dns_name_read(pkt, end, &p, name) < 0 ||
	    end - p < 20)
		return false;
	*serial = (uint32_t)wire_read_u16(pkt + p) << 16 | wire_read_u16(pkt + p + 2);
	return true;
}

/* IXFR over UDP (RFC 1995 §2): the differences from client_serial when the
 * zone's journal holds them and they all fit in this one message (our SOA,
 * each step, our SOA); false otherwise, with nothing written (the caller
 * then sends our SOA alone and the client asks again over TCP). */
static bool put_ixfr_udp(struct answer *a, const zone_t *z, const zrrset_t *soa,
			 uint32_t client_serial)
{
	const snapshot_t *snap = a->snap;
	const journal_t *j = snap->journals ? snap->journals[zonedb_index(snap->zones, z)] : NULL;
	long first = journal_find(j, client_serial, z->serial);
	if (first < 0)
		return false;
	struct mark m = reply_mark(&a->r);
	if (!put_rrset(&a->r, SEC_ANSWER, z->origin, 0, soa, soa->ttl_s))
		goto undo;
	for (size_t i = (size_t)first; i < journal_count(j); i++) {
		const struct journal_entry *e = journal_get(j, i);
		size_t off = 0;
		const uint8_t *owner;
		zrrset_t one;
		while (off < e->len)
			if (!journal_rr_next(e->wire, e->len, &off, &owner, &one) ||
			    !put_rrset(&a->r, SEC_ANSWER, owner, 0, &one, one.ttl_s))
				goto undo;
	}
	if (!put_rrset(&a->r, SEC_ANSWER, z->origin, 0, soa, soa->ttl_s))
		goto undo;
	return true;
undo:
	reply_rollback(&a->r, &m);
	return false;
}

static void refused(struct answer *a, const char *why)
{
	char client[64] = "(unknown)", zone[DNAME_STR_MAX];
	if (a->client != NULL)
		addr_format(a->client, client, sizeof(client));
	dname_to_str(a->q->qname_lower, zone, sizeof(zone));
	LOG_RATELIMITED(1, log_info("xfr", "%s of %s from %s refused: %s",
				    a->q->qtype == DNS_TYPE_AXFR ? "AXFR" : "IXFR", zone, client,
				    why));
}

void answer_transfer(struct answer *a, struct query_ctx *ctx)
{
	const snapshot_t *snap = a->snap;
	const struct dns_query *q = a->q;
	bool ixfr = q->qtype == DNS_TYPE_IXFR;
	if (!ixfr && a->transport == DNS_UDP) {
		a->rcode = DNS_RCODE_NOTIMP;
		return;
	}
	const zone_t *z = zonedb_find(snap->zones, q->qname_lower);
	if (z == NULL || !dname_equal(z->origin, q->qname_lower)) {
		a->rcode = DNS_RCODE_NOTAUTH;
		return;
	}
	if (!zone_has_data(z)) {
		a->rcode = DNS_RCODE_SERVFAIL; /* a secondary not yet transferred, or expired */
		return;
	}
	if (snap->xfr == NULL ||
	    !xfr_allowed(snap->xfr, zonedb_index(snap->zones, z), a->client, a->tsig_key)) {
		refused(a, a->tsig_key ? "the key and address match no rule of its transfer.allow"
				       : "unsigned, or the address matches no rule of its "
					 "transfer.allow");
		a->rcode = DNS_RCODE_REFUSED;
		ctx->stats.xfr_refused++;
		return;
	}
	uint32_t client_serial = 0;
	if (ixfr && !ixfr_client_serial(a->pkt, a->pkt_len, q, &client_serial)) {
		a->rcode = DNS_RCODE_FORMERR;
		return;
	}
	a->zone = z;
	a->aa = true;
	if (ixfr && (a->transport == DNS_UDP || !dns_serial_lt(client_serial, z->serial))) {
		const zrrset_t *soa = znode_rrset(zone_node(z, 0), DNS_TYPE_SOA);
		if (soa != NULL && a->transport == DNS_UDP &&
		    dns_serial_lt(client_serial, z->serial) &&
		    put_ixfr_udp(a, z, soa, client_serial))
			return;
		if (soa == NULL || !put_rrset(&a->r, SEC_ANSWER, z->origin, 0, soa, soa->ttl_s))
			a->tc = true;
		return;
	}
	if (ctx->xfr_active == NULL ||
	    atomic_fetch_add(ctx->xfr_active, 1) >= snap->xfr->max_concurrent) {
		if (ctx->xfr_active != NULL)
			atomic_fetch_sub(ctx->xfr_active, 1);
		refused(a,
			"transfers.max_concurrent transfers are running (SERVFAIL: retry later)");
		a->rcode = DNS_RCODE_SERVFAIL;
		ctx->stats.xfr_busy++;
		return;
	}
	struct xfr_start *st = &ctx->last.xfr;
	st->zone = z;
	st->ixfr = ixfr;
	st->client_serial = client_serial;
	st->journal = NULL;
	st->jfirst = 0;
	if (ixfr && snap->journals != NULL) {
		const journal_t *j = snap->journals[zonedb_index(snap->zones, z)];
		long first = journal_find(j, client_serial, z->serial);
		if (first >= 0) {
			st->journal = j;
			st->jfirst = (size_t)first;
		}
	}
	st->tsig_on = a->tsig_key != NULL;
	if (st->tsig_on)
		st->tsig = *a->tsig_ctx;
	memcpy(st->cookie, a->cookie, sizeof(st->cookie));
	st->slot = ctx->xfr_active;
	ctx->last.xfr_pending = true;
}
