/* addr.h — socket addresses and networks in text and binary form.
 *
 * Addresses are held in struct sockaddr_storage (port in network order
 * inside, as the kernel wants it); ports passed as numbers are host order.
 */
#ifndef SOV_COMMON_ADDR_H
#define SOV_COMMON_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_STR_MAX 64 /* "[ffff:...:ffff]:65535" fits */

/** An address to listen on or connect to. */
typedef struct sov_sockaddr {
	struct sockaddr_storage ss;
	socklen_t len;
} sov_sockaddr_t;

/**
 * Parses "1.2.3.4:53", "[::1]:53", "::1" (no port) or "1.2.3.4" (no port).
 * A missing port becomes default_port (host order; 0 leaves the port to be
 * set later with addr_set_port). Returns SOV_OK or SOV_EINVAL (the text is
 * not an address, or a written port is not 1..65535).
 */
int addr_parse(const char *text, uint16_t default_port, sov_sockaddr_t *out);

/** Sets the port (host order) of an AF_INET/AF_INET6 address. */
void addr_set_port(sov_sockaddr_t *a, uint16_t port);

/** The port (host order), 0 for another family. */
uint16_t addr_port(const sov_sockaddr_t *a);

/** Formats as "1.2.3.4:53" / "[::1]:53" into buf (ADDR_STR_MAX). Returns buf. */
const char *addr_format(const struct sockaddr *sa, char *buf, size_t cap);

/** Formats only the IP ("1.2.3.4", "::1"). Returns buf. */
const char *addr_format_ip(const struct sockaddr *sa, char *buf, size_t cap);

/** A network: family AF_INET/AF_INET6, address bytes (network order), prefix length. */
typedef struct sov_net {
	int family;
	uint8_t addr[16];
	uint8_t prefix;
} sov_net_t;

/**
 * Parses "192.0.2.0/24", "2001:db8::/32" or a bare address (full-length
 * prefix). Host bits beyond the prefix must be zero. Returns SOV_OK or SOV_EINVAL.
 */
int net_parse(const char *text, sov_net_t *out);

/** True if the address bytes (of the net's family) fall inside net. */
bool net_contains(const sov_net_t *net, const uint8_t *addr);

#endif
