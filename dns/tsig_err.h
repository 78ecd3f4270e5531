/* tsig_err.h — the TSIG record of a BADKEY error (RFC 8945 §5.2.2).
 *
 * sovdns has no TSIG keys, so every signed query names a key it does not
 * know and is answered NOTAUTH with an unsigned TSIG record carrying
 * error 17 (BADKEY).
 */
#ifndef SOV_DNS_TSIG_ERR_H
#define SOV_DNS_TSIG_ERR_H

#include <stddef.h>
#include <stdint.h>

/**
 * Writes that TSIG record, built from the query's TSIG record at q[off]
 * (q is the query, qlen bytes): same key name, algorithm, time signed and
 * fudge; empty MAC; original ID `id` (host order); error BADKEY. Returns
 * its length in out[0..cap), or 0 if it does not fit or the query's TSIG
 * cannot be read (dns_query_parse() already excluded that).
 */
size_t tsig_badkey(const uint8_t *q, size_t qlen, size_t off, uint16_t id, uint8_t *out, size_t cap)
    __attribute__((nonnull(1, 5)));

#endif
