/* net.h — IP networks (an address and a prefix length), used by geo/
 * (`nets`, internal networks, database networks) and anything else that
 * matches client addresses. Addresses are network byte order; IPv4 uses the
 * first 4 of the 16 bytes.
 */
#ifndef SOV_COMMON_NET_H
#define SOV_COMMON_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A network: family AF_INET/AF_INET6, address bytes (network order), prefix length. */
typedef struct sov_net {
	int family;
	uint8_t prefix;
	uint8_t addr[16];
} sov_net_t;

/**
 * Parses "192.0.2.0/24", "2001:db8::/32" or a bare address (full-length
 * prefix). The prefix is decimal digits only; host bits beyond it must be
 * zero ("192.0.2.1/24" is almost always a typo for the host or the
 * network, and guessing would hide it). SOV_OK, or SOV_EINVAL (out zeroed).
 */
int net_parse(const char *text, sov_net_t *out) __attribute__((nonnull, warn_unused_result));

/** True if addr (of `family`, network order) falls inside net. */
bool net_contains(const sov_net_t *net, int family, const uint8_t *addr) __attribute__((nonnull));

/** Formats "ADDR/PREFIX" into buf (64 bytes are enough). Returns buf. */
const char *net_format(const sov_net_t *n, char *buf, size_t cap) __attribute__((nonnull));

/** Clears the bits of addr (4 or 16 bytes by family) beyond prefix. */
void net_mask(uint8_t *addr, int family, unsigned prefix) __attribute__((nonnull));

#endif
