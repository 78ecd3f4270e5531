/* tsig_err.c — the BADKEY TSIG record (contract in tsig_err.h). */
#include "dns/tsig_err.h"

#include <string.h>

#include "wire/dname.h"
#include "wire/wire.h"

/* The unsigned TSIG record of a BADKEY error (RFC 8945 §5.2.2): sovdns has
 * no TSIG keys, so every signed query names a key it does not know. Built
 * from the query's TSIG at q[off]: same key name, algorithm, time signed and
 * fudge; empty MAC; original ID; error 17 (BADKEY). Returns its length in
 * out[0..cap), or 0 if it does not fit (or the query's TSIG cannot be read,
 * which the parser already excluded). */
size_t tsig_badkey(const uint8_t *q, size_t qlen, size_t off, uint16_t id, uint8_t *out, size_t cap)
{
	uint8_t key[DNAME_MAXLEN], alg[DNAME_MAXLEN];
	size_t p = off;
	int klen = dns_name_read(q, qlen, &p, key);
	if (klen < 0 || qlen - p < 10)
		return 0;
	p += 10; /* type, class, TTL, RDLENGTH */
	int alen = dns_name_read(q, qlen, &p, alg);
	if (alen < 0 || qlen - p < 8)
		return 0;
	size_t need = (size_t)klen + 10 + (size_t)alen + 6 + 2 + 2 + 2 + 2 + 2;
	if (need > cap)
		return 0;
	uint8_t *o = out;
	memcpy(o, key, (size_t)klen);
	o += klen;
	wire_write_u16(o, DNS_TYPE_TSIG);
	wire_write_u16(o + 2, DNS_CLASS_ANY);
	wire_write_u32(o + 4, 0);
	wire_write_u16(o + 8, (uint16_t)(alen + 16));
	o += 10;
	memcpy(o, alg, (size_t)alen);
	o += alen;
	memcpy(o, q + p, 8); /* time signed (48 bits) and fudge */
	o += 8;
	wire_write_u16(o, 0);	   /* MAC size */
	wire_write_u16(o + 2, id); /* original ID */
	wire_write_u16(o + 4, 17); /* error: BADKEY */
	wire_write_u16(o + 6, 0);  /* other len */
	return need;
}
