/* zone_fast.h — a fast path for the plainest master-file records.
 *
 * Most lines of a large zone are one-line records of a handful of types
 * ("www 300 IN A 192.0.2.1"). ldns turns each into a heap of small objects
 * (a line buffer, token buffers, one rdf per field): about 1 µs per record,
 * three quarters of the load time of a 1,000,000-record zone. This parser
 * recognizes exactly such lines and converts them straight to wire form;
 * anything it is not certain about — parentheses, escapes, quotes outside
 * TXT, TTL units, a class other than IN, any other type, an over-long name —
 * it declines, and the loader hands the line to ldns as before. ldns stays
 * the reference: a fuzz target and a unit test load every input both ways
 * and require identical zones and identical errors.
 */
#ifndef SOV_DNS_ZONE_FAST_H
#define SOV_DNS_ZONE_FAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/dname.h"

/* Longest RDATA the fast path builds (a TXT of a few strings); longer
 * records go to ldns. */
#define ZFAST_RDATA_MAX 2048
/* Longest line the fast path reads: ldns silently truncates very long
 * fields (over ~64 KiB of RDATA text), and the two must agree. */
#define ZFAST_LINE_MAX 4000

/** One record recognized by zone_fast_parse(). */
typedef struct zfast {
	uint8_t owner[DNAME_MAXLEN];	/* absolute wire name, the file's letter case;
					   set only when owner_given */
	bool owner_given;		/* false: the line starts with a blank (previous owner) */
	bool ttl_given;			/* false: the record takes the default TTL */
	uint32_t ttl_s;			/* seconds, <= 2^31 - 1 (RFC 2181 §8); when ttl_given */
	uint16_t type;			/* A, AAAA, NS, CNAME, PTR, MX, TXT or SRV (host order) */
	uint16_t rdlen;			/* bytes in rdata */
	uint16_t name_at;		/* offset in rdata of the domain name that ends it
					   (NS, CNAME, PTR: 0; MX: 2; SRV: 6); rdlen if none */
	uint8_t rdata[ZFAST_RDATA_MAX]; /* RDATA in wire form, names uncompressed */
} zfast_t;

/**
 * Parses the record that starts at text[0] (a line start) if it is one
 * line of the plain form
 *     [owner] [TTL] [IN] TYPE RDATA [; comment]
 * with owner and names made of letters, digits, '-', '_', '*' and dots (or
 * "@"), a TTL of plain digits, and TYPE one of A, AAAA, NS, CNAME, PTR, MX,
 * TXT (quoted strings without escapes) or SRV. Relative names are
 * completed with `origin` (wire form, any case; RFC 1035 §5.1).
 * Returns the number of bytes the record used, including its '\n' (the
 * caller's line count goes up by one), with the record in *out; or 0 when
 * the line is not of that form and must be parsed by ldns (nothing in *out
 * is meaningful then). Never reads past text[len - 1].
 */
size_t zone_fast_parse(const char *text, size_t len, const uint8_t *origin, size_t origin_len,
		       zfast_t *out);

/** On by default; tests switch it off to load the same input through ldns
 * alone and compare. Not a user setting. */
extern bool zone_fast_enabled;

#endif
