/* paddr.h — address text helpers used inside probe/ (not a public contract).
 *
 * The same grammar as addr_parse() in common/addr.h; probe/ keeps its own
 * small copy so that it builds and is tested on its own. Once common/addr.c
 * is implemented these become thin wrappers.
 */
#ifndef SOV_PROBE_PADDR_H
#define SOV_PROBE_PADDR_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

/**
 * Parses "1.2.3.4", "1.2.3.4:80", "::1", "[::1]" or "[::1]:80" (numeric
 * only, never a name lookup). A missing port becomes default_port (host
 * order; 0 allowed here, meaning "decided later"). SOV_OK or SOV_EINVAL.
 */
int probe_addr_parse(const char *text, uint16_t default_port, sov_sockaddr_t *out)
    __attribute__((nonnull));

/** Sets the port (host order) of an AF_INET/AF_INET6 address. */
void probe_addr_set_port(sov_sockaddr_t *a, uint16_t port) __attribute__((nonnull));

/** The port (host order). */
uint16_t probe_addr_port(const sov_sockaddr_t *a) __attribute__((nonnull));

/** "1.2.3.4" / "::1" into buf; returns buf. */
const char *probe_addr_ip(const sov_sockaddr_t *a, char *buf, size_t cap) __attribute__((nonnull));

/** "1.2.3.4:80" / "[::1]:80" into buf; returns buf. */
const char *probe_addr_str(const sov_sockaddr_t *a, char *buf, size_t cap) __attribute__((nonnull));

#endif
