/* update_respond.c — one RFC 2136 UPDATE, from the received bytes to the
 * signed reply (the order of RFC 2136 §3: zone section, prerequisites,
 * permission, update; the rcodes are in update_respond.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/clock.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/log.h"
#include "dns/update.h"
#include "dns/update_conf.h"
#include "dns/update_respond.h"
#include "dns/xfr_conf.h"
#include "dns/zonedb.h"
#include "wire/dname.h"
#include "wire/wire.h"

/* The EDNS OPT record of a reply: root owner, type, payload size, TTL 0,
 * no options (RFC 6891 §6.1.2). */
#define OPT_RR_LEN 11

/* What one UPDATE has become so far. */
struct upd {
	const snapshot_t *s;
	const struct update_env *env;
	const struct sockaddr *client;
	struct dns_query pq;
	bool signed_ok;	     /* TSIG verified: the reply is signed */
	bool tsig_error;     /* TSIG failed: the reply carries its error */
	struct tsig_ctx ctx; /* after tsig_verify_request */
	struct tsig_verdict v;
	int key; /* index in s->xfr->keys, -1 */
	const zone_t *z;
	size_t zone_idx;
	const struct update_policy *policy;
	uint8_t rcode;
	char zone_str[DNAME_STR_MAX];
	char why[512];
};

uint32_t update_next_serial(uint32_t serial)
{
	uint32_t next = serial + 1;
	return next == 0 ? 1 : next;
}

static void outcome(struct upd *u, uint8_t rcode, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void outcome(struct upd *u, uint8_t rcode, const char *fmt, ...)
{
	u->rcode = rcode;
	if (fmt != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(u->why, sizeof(u->why), fmt, ap);
		va_end(ap);
	}
}

static const char *rcode_name(uint8_t rcode)
{
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					    "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
					    "NXRRSET", "NOTAUTH", "NOTZONE"};
	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] : "?";
}

/* RFC 8945 §5.2: the request's TSIG (present). False with the rcode set
 * when it fails. */
static bool check_tsig(struct upd *u, const uint8_t *q, size_t qlen, uint64_t now_s)
{
	static const struct tsig_keyring no_keys = {NULL, 0, false};
	const snapshot_t *s = u->s;
	tsig_ctx_init(&u->ctx, NULL);
	int rc = tsig_verify_request(s->xfr ? &s->xfr->ring : &no_keys, q, qlen, u->pq.tsig_offset,
				     now_s, &u->ctx, &u->v);
	if (rc == SOV_EMALF || (rc == SOV_OK && u->v.rcode == DNS_RCODE_FORMERR)) {
		outcome(u, DNS_RCODE_FORMERR, "unreadable TSIG record");
		return false;
	}
	if (rc != SOV_OK) {
		outcome(u, DNS_RCODE_SERVFAIL, "TSIG check failed: %s", err_str(rc));
		return false;
	}
	char key[DNAME_STR_MAX];
	dname_to_str(u->v.rr.key_name, key, sizeof(key));
	if (u->v.rcode != 0) {
		u->tsig_error = true;
		outcome(u, DNS_RCODE_NOTAUTH, "key %s: %s", key,
			u->v.error == TSIG_ERR_BADKEY	? "BADKEY (a key we do not know)"
			: u->v.error == TSIG_ERR_BADSIG ? "BADSIG (wrong secret or algorithm)"
			: u->v.error == TSIG_ERR_BADTIME
			    ? "BADTIME (clocks more than the fudge apart)"
			    : "BADTRUNC");
		return false;
	}
	u->signed_ok = true;
	u->key = (int)(u->ctx.key - s->xfr->keys);
	return true;
}

/* RFC 2136 §3.1: the zone section names one zone of ours we are primary of. */
static bool check_zone(struct upd *u)
{
	const struct dns_query *pq = &u->pq;
	dname_to_str(pq->qname_lower, u->zone_str, sizeof(u->zone_str));
	if (pq->qtype != DNS_TYPE_SOA) {
		outcome(u, DNS_RCODE_FORMERR, "ZTYPE is %u, not SOA (RFC 2136 §3.1.1)", pq->qtype);
		return false;
	}
	const zone_t *z =
	    pq->qclass == DNS_CLASS_IN ? zonedb_find(u->s->zones, pq->qname_lower) : NULL;
	if (z == NULL || !dname_equal(z->origin, pq->qname_lower)) {
		outcome(u, DNS_RCODE_NOTAUTH, "not a zone of this server (RFC 2136 §3.1.2)");
		return false;
	}
	u->z = z;
	u->zone_idx = zonedb_index(u->s->zones, z);
	const struct xfr_zone *xz = u->s->xfr != NULL && u->zone_idx < u->s->xfr->zone_count
					? &u->s->xfr->zones[u->zone_idx]
					: NULL;
	if (xz != NULL && xz->primary_count > 0) {
		/* §3.1.2 would forward; we do not (docs/updates.md). */
		outcome(u, DNS_RCODE_REFUSED,
			"we are a secondary of the zone: send updates to its primary");
		return false;
	}
	if (!zone_has_data(z)) {
		outcome(u, DNS_RCODE_SERVFAIL, "the zone has no data");
		return false;
	}
	u->policy = xz != NULL ? xz->update : NULL;
	if (u->policy == NULL) {
		outcome(u, DNS_RCODE_REFUSED,
			"the zone accepts no updates (no \"update\" section)");
		return false;
	}
	return true;
}

/* RFC 2136 §3.3: every record of the update section must be granted. */
static bool check_policy(struct upd *u, const update_msg_t *m)
{
	const zone_t *z = u->z;
	for (size_t i = 0; i < update_rr_count(m); i++) {
		const struct update_rr *rr = update_rr_get(m, i);
		char owner[DNAME_STR_MAX];
		dname_to_str(rr->owner_lower, owner, sizeof(owner));
		const znode_t *n = zone_find(z, rr->owner_lower);
		if (n != NULL && n->service != ZNODE_NONE) {
			outcome(u, DNS_RCODE_REFUSED,
				"%s is a geo service name: its answers come from health, "
				"not from records",
				owner);
			return false;
		}
		if (rr->op != UPDATE_DELETE_NAME) {
			if (!update_policy_allows(u->policy, u->key, z->origin, rr->owner_lower,
						  rr->type)) {
				char type[16];
				outcome(u, DNS_RCODE_REFUSED,
					"the key may not change %s records at %s",
					zone_type_str(rr->type, type, sizeof(type)), owner);
				return false;
			}
			continue;
		}
		/* Delete name: every type the name holds (the apex's SOA and NS
		 * are spared by update_apply, so they need no grant). */
		for (uint16_t k = 0; n != NULL && k < n->rrset_count; k++) {
			uint16_t t = n->rrsets[k].type;
			if (n == &z->nodes[0] && (t == DNS_TYPE_SOA || t == DNS_TYPE_NS))
				continue;
			if (!update_policy_allows(u->policy, u->key, z->origin, rr->owner_lower,
						  t)) {
				char type[16];
				outcome(u, DNS_RCODE_REFUSED,
					"the key may not delete %s (it holds %s records)", owner,
					zone_type_str(t, type, sizeof(type)));
				return false;
			}
		}
	}
	return true;
}

/* Records at nz's owners the update added to, against the zone's limit. */
static bool check_record_limit(struct upd *u, const update_msg_t *m, const zone_t *nz)
{
	uint32_t max = u->policy->max_records_per_name;
	for (size_t i = 0; i < update_rr_count(m); i++) {
		const struct update_rr *rr = update_rr_get(m, i);
		if (rr->op != UPDATE_ADD)
			continue;
		const znode_t *n = zone_find(nz, rr->owner_lower);
		size_t count = 0;
		for (uint16_t k = 0; n != NULL && k < n->rrset_count; k++)
			count += n->rrsets[k].count;
		const znode_t *before = zone_find(u->z, rr->owner_lower);
		size_t had = 0;
		for (uint16_t k = 0; before != NULL && k < before->rrset_count; k++)
			had += before->rrsets[k].count;
		if (count > max && count > had) {
			char owner[DNAME_STR_MAX];
			dname_to_str(rr->owner_lower, owner, sizeof(owner));
			outcome(u, DNS_RCODE_REFUSED,
				"%s would hold %zu records, over max_records_per_name (%u)", owner,
				count, max);
			return false;
		}
	}
	return true;
}

struct finish_arg {
	const snapshot_t *s;
	size_t zone_idx;
};

static int finish_zone(void *arg, zone_builder_t *b, zone_t **out, diag_t *diag)
{
	const struct finish_arg *f = arg;
	return snapshot_finish_zone(f->s, f->zone_idx, b, out, diag);
}

/* The update proper, once signed and in a zone of ours: §3.2 to §3.4 and
 * the commit. Sets u->rcode (and u->why unless NOERROR). */
static void process(struct upd *u, const uint8_t *q, size_t qlen, uint64_t now_s)
{
	const struct update_env *env = u->env;
	if (env->admit != NULL) {
		int r = env->admit(env->arg, u->s, u->zone_idx, &u->v.rr, now_s, u->why,
				   sizeof(u->why));
		if (r != 0) {
			u->rcode = (uint8_t)r;
			return;
		}
	}
	if (!update_policy_knows_key(u->policy, u->key)) {
		char key[DNAME_STR_MAX];
		dname_to_str(u->v.rr.key_name, key, sizeof(key));
		outcome(u, DNS_RCODE_REFUSED, "key %s may not update this zone", key);
		return;
	}
	update_msg_t *m = NULL;
	int r = update_parse(q, qlen, &m, u->why, sizeof(u->why));
	if (r != SOV_OK) {
		outcome(u, r == SOV_ENOMEM ? DNS_RCODE_SERVFAIL : DNS_RCODE_FORMERR,
			r == SOV_ENOMEM ? "out of memory" : NULL);
		return;
	}
	zone_t *nz = NULL;
	diag_t *diag = NULL;
	int rc = update_prescan(m, u->z, u->why, sizeof(u->why));
	if (rc == DNS_RCODE_NOERROR)
		rc = update_prereqs(m, u->z, u->why, sizeof(u->why));
	if (rc != DNS_RCODE_NOERROR) {
		u->rcode = (uint8_t)rc;
		goto done;
	}
	if (!check_policy(u, m))
		goto done;
	size_t have = env->dynamic_bytes != NULL ? env->dynamic_bytes(env->arg, u->z->origin) : 0;
	size_t adds = update_rdata_bytes(m);
	if (have + adds > u->policy->max_dynamic_bytes) {
		outcome(u, DNS_RCODE_REFUSED,
			"the zone's dynamic data would reach %zu bytes, over max_dynamic_bytes "
			"(%u)",
			have + adds, u->policy->max_dynamic_bytes);
		goto done;
	}
	diag = diag_new();
	struct finish_arg fa = {u->s, u->zone_idx};
	struct update_apply_opts opts = {update_next_serial(u->z->serial), finish_zone, &fa};
	r = diag ? update_apply(m, u->z, &opts, &nz, diag) : SOV_ENOMEM;
	if (r == SOV_ESEMANTIC) {
		char msg[400];
		diag_join(diag, msg, sizeof(msg));
		outcome(u, DNS_RCODE_REFUSED, "the result would break the zone's rules: %s", msg);
		goto done;
	}
	if (r != SOV_OK) {
		outcome(u, DNS_RCODE_SERVFAIL, "cannot apply: %s", err_str(r));
		goto done;
	}
	if (nz == NULL) {
		outcome(u, DNS_RCODE_NOERROR, "nothing to change (RFC 2136 §3.4.2.7)");
		goto done;
	}
	if (!check_record_limit(u, m, nz))
		goto done;
	uint32_t serial = nz->serial;
	r = env->commit(env->arg, u->s, u->zone_idx, nz, u->why, sizeof(u->why));
	nz = NULL; /* taken */
	if (r != SOV_OK) {
		u->rcode = DNS_RCODE_SERVFAIL;
		goto done;
	}
	outcome(u, DNS_RCODE_NOERROR, "applied, serial %u, %zu record(s) in the update section",
		serial, update_rr_count(m));
done:
	zone_free(nz);
	diag_free(diag);
	update_free(m);
}

/* The reply: header, the zone section echoed, OPT when the request had
 * one, the TSIG record (RFC 2136 §3.8, RFC 8945 §5.3). */
static size_t reply_write(struct upd *u, uint8_t *reply, size_t cap, uint64_t now_s)
{
	const struct dns_query *pq = &u->pq;
	size_t len = DNS_HEADER_LEN;
	uint16_t qdcount = 0;
	if (pq->has_question && len + pq->qname_len + 4 <= cap) {
		memcpy(reply + len, pq->qname, pq->qname_len);
		len += pq->qname_len;
		wire_write_u16(reply + len, pq->qtype);
		wire_write_u16(reply + len + 2, pq->qclass);
		len += 4;
		qdcount = 1;
	}
	uint16_t arcount = 0;
	if (pq->has_edns && len + OPT_RR_LEN <= cap) {
		reply[len] = 0;
		wire_write_u16(reply + len + 1, DNS_TYPE_OPT);
		wire_write_u16(reply + len + 3, u->s->edns_payload);
		memset(reply + len + 5, 0, 6); /* extended rcode, version 0, flags, RDLENGTH */
		len += OPT_RR_LEN;
		arcount = 1;
	}
	wire_write_u16(reply, pq->id);
	wire_write_u16(reply + 2, (uint16_t)(DNS_FLAG_QR | (DNS_OPCODE_UPDATE << 11) | u->rcode));
	wire_write_u16(reply + 4, qdcount);
	wire_write_u16(reply + 6, 0);
	wire_write_u16(reply + 8, 0);
	wire_write_u16(reply + 10, arcount);
	size_t n = len;
	if (u->signed_ok || (u->tsig_error &&
			     (u->v.error == TSIG_ERR_BADTIME || u->v.error == TSIG_ERR_BADTRUNC))) {
		if (tsig_sign(&u->ctx, reply, &n, cap, now_s, u->signed_ok ? 0 : u->v.error) !=
		    SOV_OK)
			n = len;
	} else if (u->tsig_error &&
		   tsig_append_unsigned(reply, &n, cap, &u->v.rr, u->v.error) != SOV_OK) {
		n = len;
	}
	return n;
}

static void log_outcome(const struct upd *u)
{
	char client[ADDR_STR_MAX] = "(unknown)", key[DNAME_STR_MAX] = "(none)";
	if (u->client != NULL)
		addr_format(u->client, client, sizeof(client));
	if (u->signed_ok || u->tsig_error)
		dname_to_str(u->v.rr.key_name, key, sizeof(key));
	const char *zone = u->zone_str[0] ? u->zone_str : "(none)";
	if (u->rcode == DNS_RCODE_NOERROR)
		log_info("update", "zone %s: update from %s, key %s: %s", zone, client, key,
			 u->why);
	else
		LOG_RATELIMITED(5, log_info("update", "zone %s: update from %s, key %s: %s: %s",
					    zone, client, key, rcode_name(u->rcode), u->why));
}

size_t update_respond(const snapshot_t *s, const struct update_env *env,
		      const struct sockaddr *client, bool over_udp, const uint8_t *q, size_t qlen,
		      uint8_t *reply, size_t cap)
{
	struct upd *u = calloc(1, sizeof(*u));
	if (u == NULL)
		return 0;
	u->s = s;
	u->env = env;
	u->client = client;
	u->key = -1;
	size_t len = 0;
	enum dns_parse_result pr = dns_query_parse(q, qlen, &u->pq);
	if (pr == DNS_PARSE_DROP || DNS_OPCODE(u->pq.flags) != DNS_OPCODE_UPDATE ||
	    cap < DNS_MAX_UDP_PLAIN)
		goto out;
	if (over_udp) {
		size_t room = DNS_MAX_UDP_PLAIN;
		if (u->pq.has_edns && u->pq.edns_udp_size > room)
			room = u->pq.edns_udp_size < s->edns_payload ? u->pq.edns_udp_size
								     : s->edns_payload;
		if (room > DNS_MAX_UDP_PLAIN && room < cap)
			cap = room;
		else if (room <= DNS_MAX_UDP_PLAIN)
			cap = DNS_MAX_UDP_PLAIN;
	}
	uint64_t now_s = (uint64_t)(clock_unix_ms() / 1000);
	/* RFC 8945 §5.2: a TSIG is checked before anything else in the message. */
	bool go = !u->pq.has_tsig || check_tsig(u, q, qlen, now_s);
	if (pr != DNS_PARSE_OK) {
		if (go)
			outcome(u, DNS_RCODE_FORMERR, "unreadable message");
	} else if (go && check_zone(u)) {
		if (!u->signed_ok)
			outcome(u, DNS_RCODE_REFUSED, "not signed (updates need a TSIG key)");
		else
			process(u, q, qlen, now_s);
	}
	if (u->zone_str[0] == 0 && u->pq.has_question)
		dname_to_str(u->pq.qname_lower, u->zone_str, sizeof(u->zone_str));
	len = reply_write(u, reply, cap, now_s);
	log_outcome(u);
out:
	tsig_ctx_clear(&u->ctx);
	free(u);
	return len;
}
