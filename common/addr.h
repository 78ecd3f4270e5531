/* addr.h — socket addresses in text and binary form (networks: common/net.h).
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

/**
 * Whether a and b are the same IPv4/IPv6 address, and, when with_port, the
 * same port (other families: never). For ACLs (a NOTIFY's source, whose
 * port is anyone's) and for matching replies.
 */
bool addr_same(const struct sockaddr *a, const sov_sockaddr_t *b, bool with_port)
    __attribute__((nonnull, pure));

/** Formats as "1.2.3.4:53" / "[::1]:53" into buf (ADDR_STR_MAX). Returns buf. */
const char *addr_format(const struct sockaddr *sa, char *buf, size_t cap);

/** Formats only the IP ("1.2.3.4", "::1"). Returns buf. */
const char *addr_format_ip(const struct sockaddr *sa, char *buf, size_t cap);

#endif
