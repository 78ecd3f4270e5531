/* opt.c — writing the OPT record (contract in opt.h). */
#include "dns/opt.h"

#include <string.h>

#include "dns/cookie.h"

/* Bytes of an OPT record with no options: root owner, type, class, TTL, RDLENGTH. */
#define OPT_FIXED_LEN 11

/* Size of the OPT record we will add. */
size_t opt_size(const struct dns_query *q)
{
	size_t s = OPT_FIXED_LEN;
	if (q->has_ecs)
		s += 4 + 4 + (size_t)((q->ecs.source_prefix + 7) / 8);
	if (q->has_cookie)
		s += COOKIE_OPT_LEN;
	if (q->has_expire)
		s += 8;
	return s;
}

/* Appends our OPT record (RFC 6891 §6.1.2); space was reserved. */
size_t opt_put(uint8_t *buf, size_t len, const snapshot_t *snap, const struct dns_query *q,
	       uint8_t ext_rcode, uint8_t ecs_scope, const uint8_t *server_cookie, int64_t expire_s)
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
	if (q->has_expire && expire_s >= 0) {
		uint8_t *o = p + OPT_FIXED_LEN + rdlen;
		wire_write_u16(o, EDNS_OPT_EXPIRE);
		wire_write_u16(o + 2, 4);
		wire_write_u32(o + 4, expire_s > UINT32_MAX ? UINT32_MAX : (uint32_t)expire_s);
		rdlen += 8;
	}
	wire_write_u16(p + 9, (uint16_t)rdlen);
	return len + OPT_FIXED_LEN + rdlen;
}

size_t opt_nsid_size(const snapshot_t *snap, const struct dns_query *q)
{
	return q->has_nsid && snap->nsid ? 4 + (size_t)snap->identity_len : 0;
}

size_t opt_add_nsid(uint8_t *buf, size_t opt_at, size_t len, const snapshot_t *snap)
{
	uint8_t *o = buf + len;
	wire_write_u16(o, EDNS_OPT_NSID);
	wire_write_u16(o + 2, snap->identity_len);
	memcpy(o + 4, snap->identity, snap->identity_len);
	uint16_t rdlen = wire_read_u16(buf + opt_at + 9);
	wire_write_u16(buf + opt_at + 9, (uint16_t)(rdlen + 4 + snap->identity_len));
	return len + 4 + snap->identity_len;
}
