/* answer.c — the answer path's envelope (see answer.h for the contract).
 *
 * Shape: parse the query (wire.c), pick the zone (zonedb.c), then (lookup.c)
 * walk the zone index as RFC 1034 §4.3.2 describes: exact match, zone cut
 * (referral), CNAME (restart at the target, same zone), wildcard
 * (RFC 4592 closest encloser), or name error. Records are written straight
 * from the zone's pre-rendered RDATA into the reply buffer; domain names of
 * RFC 1035 types are compressed against a small per-reply table of the
 * offsets of names already written (reply.c). Here: the UDP size limit,
 * the rcodes decided before any lookup, cookies (cookie.c), the OPT record
 * (opt.c), the BADKEY TSIG (tsig_err.c) and the header. Nothing here
 * allocates or locks.
 */
#include "dns/answer.h"

#include <string.h>
#include <time.h>

#include "common/addr.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "conf/config.h"
#include "dns/answer_int.h"
#include "dns/cookie.h"
#include "dns/opt.h"
#include "dns/reply.h"
#include "dns/rrl.h"
#include "dns/tsig.h"
#include "dns/xfr_conf.h"
#include "dns/zonedb.h"
#include "wire/wire.h"

/* How much we may send: RFC 6891 §6.2.5 (UDP: the smaller of the client's
 * and our payload size, never below 512); TCP: 64 KiB (the buffer). */
static size_t reply_limit(const snapshot_t *snap, const struct dns_query *pq,
			  enum dns_transport transport, size_t cap)
{
	size_t limit = cap;
	if (transport == DNS_UDP) {
		size_t udp = DNS_MAX_UDP_PLAIN;
		if (pq->has_edns) {
			udp = pq->edns_udp_size;
			if (udp > snap->edns_payload)
				udp = snap->edns_payload;
			if (udp < DNS_MAX_UDP_PLAIN)
				udp = DNS_MAX_UDP_PLAIN;
		}
		if (udp < limit)
			limit = udp;
	}
	return limit;
}

/* The CH TXT names that say which server answered: id.server (RFC 4892
 * §2) and hostname.bind give the identity, version.bind the version; each
 * on unless the configuration leaves it out ("identity.chaos"). Returns
 * false for any other CH query (REFUSED, as before), else answers it: the
 * TXT record (TTL 0: it is about this server, not cacheable data) for TXT
 * or ANY, an empty NOERROR for other types; AA set. No allocation. */
static bool answer_chaos(struct answer *a)
{
	static const struct {
		uint8_t name[16];
		uint8_t bit;
	} names[] = {{"\2id\6server", CONFIG_CHAOS_ID_SERVER},
		     {"\10hostname\4bind", CONFIG_CHAOS_HOSTNAME_BIND},
		     {"\7version\4bind", CONFIG_CHAOS_VERSION_BIND}};
	const snapshot_t *s = a->snap;
	const struct dns_query *pq = a->q;
	size_t k = 0;
	while (k < 3 && !dname_equal(names[k].name, pq->qname_lower))
		k++;
	if (k == 3 || !(s->chaos & names[k].bit))
		return false;
	const char *text = names[k].bit == CONFIG_CHAOS_VERSION_BIND ? s->version : s->identity;
	uint8_t tlen = names[k].bit == CONFIG_CHAOS_VERSION_BIND ? s->version_len : s->identity_len;
	a->aa = true;
	if (pq->qtype != DNS_TYPE_TXT && pq->qtype != DNS_TYPE_ANY)
		return true;
	struct reply *r = &a->r;
	if (!put_rr_head(r, pq->qname, DNS_HEADER_LEN, DNS_TYPE_TXT, 0) ||
	    r->len + 3 + tlen > r->limit) {
		a->tc = true;
		return true;
	}
	wire_write_u16(r->buf + r->len - 6, DNS_CLASS_CH); /* put_rr_head wrote IN */
	wire_write_u16(r->buf + r->len, (uint16_t)(1 + tlen));
	r->buf[r->len + 2] = tlen;
	memcpy(r->buf + r->len + 3, text, tlen);
	r->len += 3 + (size_t)tlen;
	r->count[SEC_ANSWER]++;
	return true;
}

/* Decides the rcode of a query that parsed as `pr` (sets *ext_rcode for
 * BADVERS) and, for a query we answer, picks the zone and builds the
 * answer (lookup.c). The opcode is decided before the question: what a
 * message of an opcode we do not implement should hold is unknown to us,
 * so its question (or the lack of one, QDCOUNT 0) cannot make it a
 * FORMERR — NOTIMP, as NSD, Knot and BIND answer (RFC 8906's
 * unknown-opcode test). Only the message-level verdicts come before it:
 * TSIG (reached only for queries that parsed) and the EDNS version
 * (BADVERS, which BIND also decides before the opcode). */
static void answer_query(struct answer *a, struct query_ctx *ctx, enum dns_parse_result pr,
			 uint8_t *ext_rcode)
{
	const snapshot_t *snap = a->snap;
	const struct dns_query *pq = a->q;
	unsigned opcode = DNS_OPCODE(pq->flags);
	if (a->tsig_rcode != 0) {
		a->rcode = a->tsig_rcode; /* RFC 8945 §5.2: BADKEY, BADSIG, BADTIME, BADTRUNC */
	} else if (pr == DNS_PARSE_BADVERS) {
		a->rcode = 0;
		*ext_rcode = DNS_RCODE_BADVERS >> 4;
	} else if (opcode != DNS_OPCODE_QUERY && opcode != DNS_OPCODE_NOTIFY &&
		   (opcode != DNS_OPCODE_UPDATE || snap->update == NULL)) {
		a->rcode = DNS_RCODE_NOTIMP;
	} else if (pr == DNS_PARSE_FORMERR) {
		a->rcode = DNS_RCODE_FORMERR;
	} else if (opcode == DNS_OPCODE_UPDATE) {
		answer_update(a, ctx);
	} else if (opcode == DNS_OPCODE_NOTIFY) {
		if (pq->qclass != DNS_CLASS_IN)
			a->rcode = DNS_RCODE_REFUSED;
		else
			answer_notify(a);
	} else if (pq->qtype == DNS_TYPE_OPT || pq->qtype == DNS_TYPE_TSIG ||
		   pq->qtype == DNS_TYPE_TKEY) {
		/* Meta-types that only live in the additional section (RFC 6895 §3.1). */
		a->rcode = DNS_RCODE_FORMERR;
	} else if (pq->qtype == DNS_TYPE_MAILA || pq->qtype == DNS_TYPE_MAILB) {
		a->rcode = DNS_RCODE_NOTIMP;
	} else if (pq->qclass == DNS_CLASS_CH && answer_chaos(a)) {
		/* id.server, hostname.bind, version.bind: answered */
	} else if (pq->qclass != DNS_CLASS_IN) {
		a->rcode = DNS_RCODE_REFUSED; /* only class IN is served */
	} else if (pq->qtype == DNS_TYPE_AXFR || pq->qtype == DNS_TYPE_IXFR) {
		answer_transfer(a, ctx);
	} else {
		const uint8_t *lname = pq->qname_lower;
		a->zone = zonedb_find(snap->zones, lname);
		/* DS lives on the parent side of a cut (RFC 4035 §3.1.4.1): when
		 * we serve both parent and child, a DS query for the child's apex
		 * is answered from the parent. */
		if (a->zone != NULL && pq->qtype == DNS_TYPE_DS && lname[0] != 0 &&
		    dname_equal(a->zone->origin, lname)) {
			const zone_t *parent = zonedb_find(snap->zones, dname_parent(lname));
			if (parent != NULL && zone_has_data(parent))
				a->zone = parent;
		}
		if (a->zone == NULL) {
			a->rcode = DNS_RCODE_REFUSED;
		} else if (__builtin_expect(!zone_has_data(a->zone), 0)) {
			/* A secondary zone not transferred yet, or expired (RFC 1034
			 * §4.3.5): we are not authoritative for its data now. */
			a->rcode = DNS_RCODE_SERVFAIL;
			a->zone = NULL;
		} else {
			answer_zone(a, pq->qtype);
			if (!a->tc)
				answer_additionals(a);
			if (a->rcode == DNS_RCODE_NOERROR && a->r.count[SEC_ANSWER] == 0) {
				if (a->r.count[SEC_AUTHORITY] > 0 && !a->aa)
					a->stats->referrals++;
				else
					a->stats->nodata++;
			}
		}
	}
}

/* Bytes of a TSIG record for key name `key` and algorithm `alg` (wire names)
 * with a MAC of mac_len bytes and 6 bytes of Other Data (BADTIME). */
static size_t tsig_rr_len(const uint8_t *key, const uint8_t *alg, size_t mac_len)
{
	return dname_len(key) + 10 + dname_len(alg) + 10 + mac_len + 6;
}

/* A request whose TSIG failed: logged (at most once a second), since it is
 * what a secondary with a wrong or missing key sees as its transfers
 * failing. */
static void tsig_refused(const struct sockaddr *client, const struct dns_query *pq,
			 const struct tsig_verdict *v)
{
	char who[ADDR_STR_MAX] = "(unknown)", name[DNAME_STR_MAX], key[DNAME_STR_MAX];
	if (client != NULL)
		addr_format(client, who, sizeof(who));
	dname_to_str(pq->qname_lower, name, sizeof(name));
	dname_to_str(v->rr.key_name, key, sizeof(key));
	const char *what = v->error == TSIG_ERR_BADKEY	 ? "BADKEY (a key we do not know)"
			   : v->error == TSIG_ERR_BADSIG ? "BADSIG (wrong secret or algorithm)"
			   : v->error == TSIG_ERR_BADTIME
			       ? "BADTIME (clocks more than the fudge apart)"
			       : "BADTRUNC";
	LOG_RATELIMITED(1, log_info("tsig", "query for %s type %u from %s signed with key %s: %s",
				    name, pq->qtype, who, key, what));
}

/* Verifies the request's TSIG (RFC 8945 §5.2) against the snapshot's keys.
 * Sets a->tsig_key/tsig_ctx when authentic, a->tsig_rcode when not.
 * Returns the room the reply's TSIG record needs (0: none is sent). */
static size_t tsig_check(const snapshot_t *snap, const uint8_t *q, size_t qlen,
			 const struct dns_query *pq, uint64_t now_s, struct tsig_ctx *tsig,
			 struct tsig_verdict *v, struct answer *a, const struct sockaddr *client)
{
	static const struct tsig_keyring no_keys = {NULL, 0, false};
	tsig_ctx_init(tsig, NULL);
	int rc = tsig_verify_request(snap->xfr ? &snap->xfr->ring : &no_keys, q, qlen,
				     pq->tsig_offset, now_s, tsig, v);
	if (rc == SOV_EMALF) {
		a->tsig_rcode = DNS_RCODE_FORMERR; /* §5.2: unreadable record */
		return 0;
	}
	if (rc != SOV_OK) {
		a->tsig_rcode = DNS_RCODE_SERVFAIL;
		return 0;
	}
	if (v->rcode == DNS_RCODE_FORMERR) {
		a->tsig_rcode = DNS_RCODE_FORMERR; /* §5.2.2.1: MAC size out of bounds */
		return 0;
	}
	if (v->rcode != 0) {
		a->tsig_rcode = v->rcode;
		tsig_refused(client, pq, v);
		/* BADTIME and BADTRUNC replies are signed (tsig ready), BADKEY and
		 * BADSIG ones carry an empty MAC. */
		bool signs = v->error == TSIG_ERR_BADTIME || v->error == TSIG_ERR_BADTRUNC;
		return tsig_rr_len(v->rr.key_name, v->rr.alg_name,
				   signs ? tsig_alg_mac_len(tsig->key->alg) : 0);
	}
	a->tsig_key = tsig->key;
	a->tsig_ctx = tsig;
	return tsig_rr_len(v->rr.key_name, v->rr.alg_name, tsig_alg_mac_len(tsig->key->alg));
}

/* Appends the reply's TSIG record (the header is written): signed when the
 * request was authentic or failed only on time or truncation, else the
 * unsigned error record. Returns the new length. */
static size_t tsig_finish(uint8_t *reply, size_t len, size_t cap, struct tsig_ctx *tsig,
			  const struct tsig_verdict *v, bool authentic, uint64_t now_s)
{
	size_t n = len;
	if (authentic || v->error == TSIG_ERR_BADTIME || v->error == TSIG_ERR_BADTRUNC) {
		if (tsig_sign(tsig, reply, &n, cap, now_s, authentic ? 0 : v->error) != SOV_OK)
			n = len;
	} else if (tsig_append_unsigned(reply, &n, cap, &v->rr, v->error) != SOV_OK) {
		n = len;
	}
	tsig_ctx_clear(tsig);
	return n;
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

	size_t limit = reply_limit(snap, &pq, transport, cap);
	size_t nsid_len = pq.has_edns ? opt_nsid_size(snap, &pq) : 0;
	size_t opt_len = pq.has_edns ? opt_size(&pq) + nsid_len : 0;

	ctx->last.xfr_pending = false;
	ctx->last.update_pending = false;
	a.tsig_key = NULL;
	a.tsig_rcode = 0;
	struct tsig_ctx tsig;
	struct tsig_verdict verdict;
	uint64_t now_s = 0;
	size_t tsig_len = 0; /* room kept for our TSIG record */
	if (pq.has_tsig && pr == DNS_PARSE_OK) {
		now_s = (uint64_t)(clock_unix_ms() / 1000);
		tsig_len = tsig_check(snap, q, qlen, &pq, now_s, &tsig, &verdict, &a, client);
	}

	memset(&a.r.count, 0, sizeof(a.r.count));
	a.r.buf = reply;
	a.r.limit = limit - opt_len > tsig_len + DNS_HEADER_LEN ? limit - opt_len - tsig_len
								: DNS_HEADER_LEN;
	a.r.len = DNS_HEADER_LEN;
	reply_compression_reset(&a.r);
	a.q = &pq;
	a.pkt = q;
	a.pkt_len = qlen;
	a.snap = snap;
	a.client = client;
	a.stats = &ctx->stats;
	a.ecs_scope = 0;
	a.cookie_valid = false;
	if (pq.has_cookie)
		a.cookie_valid = cookie_process(snap, &pq, client, a.cookie);
	a.zone = NULL;
	a.transport = transport;
	a.rcode = DNS_RCODE_NOERROR;
	a.aa = false;
	a.tc = false;
	a.extra_n = 0;
	a.svcb_node = NULL;

	/* The question, echoed with the client's letter case. */
	uint16_t qdcount = 0;
	if (pq.has_question && put_question(&a.r, pq.qname, pq.qname_len, pq.qtype, pq.qclass))
		qdcount = 1;
	size_t question_end = a.r.len;
	uint8_t ext_rcode = 0;

	answer_query(&a, ctx, pr, &ext_rcode);

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
		/* RFC 7314 §2: EXPIRE in a zone's SOA (and single-SOA IXFR)
		 * answer, when asked. */
		int64_t expire = -1;
		if (__builtin_expect(pq.has_expire, 0) && a.zone != NULL && a.aa &&
		    a.rcode == DNS_RCODE_NOERROR &&
		    (pq.qtype == DNS_TYPE_SOA || pq.qtype == DNS_TYPE_IXFR) &&
		    dname_equal(a.zone->origin, pq.qname_lower))
			expire = zone_expire_remaining(a.zone, time(NULL));
		size_t opt_at = len;
		len = opt_put(reply, len, snap, &pq, ext_rcode, a.ecs_scope, a.cookie, expire);
		if (nsid_len > 0)
			len = opt_add_nsid(reply, opt_at, len, snap);
		arcount++;
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
	if (tsig_len > 0)
		len = tsig_finish(reply, len, limit, &tsig, &verdict, a.tsig_key != NULL, now_s);
	if (ctx->last.xfr_pending || ctx->last.update_pending)
		len = 0; /* the transport streams the transfer (ctx->last.xfr) or
			    calls the update hook */

	ctx->stats.rcode[ext_rcode ? 16 : (a.rcode & 0xF)]++;
	ctx->last.question_end = (uint16_t)question_end;
	ctx->last.cookie_valid = a.cookie_valid;
	ctx->last.rrl_category = a.rcode == DNS_RCODE_NXDOMAIN		       ? RRL_NXDOMAIN
				 : (a.rcode != DNS_RCODE_NOERROR || ext_rcode) ? RRL_ERROR
									       : RRL_POSITIVE;
	return len;
}
