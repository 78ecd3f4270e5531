#include "dns/rrl.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

/* 65,536 buckets (512 KiB): enough that the networks of a flood and of the
 * legitimate clients seldom share one; Knot's default table is of the same
 * order. Allocated only when rate limiting is on. */
#define RRL_BUCKETS 65536u

struct rrl {
	uint32_t rate;
	uint32_t slip;
	uint8_t v4_prefix, v6_prefix;
	_Atomic uint64_t *table; /* key:32 | second:16 | count:16 */
};

rrl_t *rrl_new(uint32_t rate, uint32_t slip, uint8_t v4_prefix, uint8_t v6_prefix)
{
	rrl_t *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->table = calloc(RRL_BUCKETS, sizeof(*r->table));
	if (r->table == NULL) {
		free(r);
		return NULL;
	}
	r->rate = rate ? rate : 1;
	r->slip = slip;
	r->v4_prefix = v4_prefix;
	r->v6_prefix = v6_prefix;
	return r;
}

void rrl_free(rrl_t *r)
{
	if (r == NULL)
		return;
	free(r->table);
	free(r);
}

/* 64-bit FNV-1a over the masked network and the category. */
static uint64_t net_hash(const struct sockaddr *sa, uint8_t v4, uint8_t v6, enum rrl_category cat)
{
	uint8_t key[18] = {0};
	size_t n;
	const uint8_t *a;
	unsigned prefix;
	if (sa->sa_family == AF_INET6) {
		a = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		n = 16;
		prefix = v6;
		key[0] = 6;
	} else {
		a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		n = 4;
		prefix = v4;
		key[0] = 4;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned bits = prefix > i * 8 ? prefix - (unsigned)i * 8 : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		key[1 + i] = a[i] & mask;
	}
	key[1 + n] = (uint8_t)cat;
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n + 2; i++) {
		h ^= key[i];
		h *= 1099511628211ull;
	}
	return h;
}

enum rrl_action rrl_account(rrl_t *r, const struct sockaddr *client, enum rrl_category cat,
			    uint64_t now_s)
{
	if (client == NULL)
		return RRL_PASS;
	uint64_t h = net_hash(client, r->v4_prefix, r->v6_prefix, cat);
	_Atomic uint64_t *b = &r->table[h & (RRL_BUCKETS - 1)];
	uint64_t key = h >> 32;
	uint64_t sec = now_s & 0xffff;
	uint64_t old = atomic_load_explicit(b, memory_order_relaxed);
	uint64_t count, next;
	do {
		if ((old >> 32) == key && ((old >> 16) & 0xffff) == sec)
			count = (old & 0xffff) + ((old & 0xffff) < 0xffff ? 1 : 0);
		else
			count = 1; /* a new second, or another network: start over */
		next = key << 32 | sec << 16 | count;
	} while (!atomic_compare_exchange_weak_explicit(b, &old, next, memory_order_relaxed,
							memory_order_relaxed));
	if (count <= r->rate)
		return RRL_PASS;
	if (r->slip > 0 && (count - r->rate) % r->slip == 0)
		return RRL_SLIP;
	return RRL_DROP;
}

size_t rrl_slip_reply(uint8_t *buf, size_t len, size_t question_end)
{
	if (len < DNS_HEADER_LEN || question_end > len || question_end < DNS_HEADER_LEN)
		return len;
	buf[2] |= DNS_FLAG_TC >> 8;
	/* ANCOUNT, NSCOUNT, ARCOUNT */
	memset(buf + 6, 0, 6);
	return question_end;
}
