/* wire.h — bounds-checked parsing of DNS queries (RFC 1035 §4.1, RFC 6891, RFC 7871).
 *
 * This is the hot path's parser: it never allocates, never reads outside
 * [pkt, pkt+len), and bounds every loop. It parses the header, the single
 * question (with compression pointers allowed, strictly backwards), skips
 * any answer/authority records, and finds at most one OPT record in the
 * additional section, with its EDNS Client Subnet option if present.
 *
 * All multi-byte integers in struct dns_query are in HOST byte order.
 */
#ifndef SOV_DNS_WIRE_H
#define SOV_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/dname.h"

#define DNS_HEADER_LEN 12
#define DNS_MAX_UDP_PLAIN 512 /* RFC 1035 §2.3.4, without EDNS */

/* Header flag bits in the 16-bit flags word (host order). */
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100
#define DNS_FLAG_RA 0x0080
#define DNS_FLAG_AD 0x0020
#define DNS_FLAG_CD 0x0010
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xF)

enum dns_opcode { DNS_OPCODE_QUERY = 0, DNS_OPCODE_NOTIFY = 4, DNS_OPCODE_UPDATE = 5 };

enum dns_rcode {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
	DNS_RCODE_YXDOMAIN = 6, /* RFC 6672 §2.2: the DNAME substitution is too long;
				   RFC 2136 §2.2: a name that should not exist does */
	DNS_RCODE_YXRRSET = 7,	/* RFC 2136 §2.2: an RRset that should not exist does */
	DNS_RCODE_NXRRSET = 8,	/* RFC 2136 §2.2: an RRset that should exist does not */
	DNS_RCODE_NOTAUTH = 9,
	DNS_RCODE_NOTZONE = 10, /* RFC 2136 §2.2: a name outside the zone section's zone */
	DNS_RCODE_BADVERS = 16, /* extended: upper 8 bits go in the OPT TTL */
};

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_NS = 2,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_SOA = 6,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_HINFO = 13,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33,
	DNS_TYPE_DNAME = 39,
	DNS_TYPE_OPT = 41,
	DNS_TYPE_DS = 43,
	DNS_TYPE_RRSIG = 46,
	DNS_TYPE_NSEC = 47,
	DNS_TYPE_DNSKEY = 48,
	DNS_TYPE_NSEC3 = 50,
	DNS_TYPE_SVCB = 64,
	DNS_TYPE_HTTPS = 65,
	DNS_TYPE_TKEY = 249,
	DNS_TYPE_TSIG = 250,
	DNS_TYPE_IXFR = 251,
	DNS_TYPE_AXFR = 252,
	DNS_TYPE_MAILB = 253,
	DNS_TYPE_MAILA = 254,
	DNS_TYPE_ANY = 255,
	DNS_TYPE_CAA = 257,
};

enum dns_class { DNS_CLASS_IN = 1, DNS_CLASS_CH = 3, DNS_CLASS_NONE = 254, DNS_CLASS_ANY = 255 };

#define EDNS_OPT_NSID 3	   /* RFC 5001 */
#define EDNS_OPT_ECS 8	   /* RFC 7871 */
#define EDNS_OPT_EXPIRE 9  /* RFC 7314 */
#define EDNS_OPT_COOKIE 10 /* RFC 7873 */
#define EDNS_DO_BIT 0x8000 /* in the OPT TTL's low 16 bits */

/** EDNS Client Subnet as sent by the client (RFC 7871 §6). */
struct dns_ecs {
	uint16_t family; /* 1 = IPv4, 2 = IPv6 */
	uint8_t source_prefix;
	uint8_t scope_prefix; /* must be 0 in queries */
	uint8_t addr[16];     /* address bytes, zero-padded beyond the sent octets */
};

/** Outcome of parsing one query. */
enum dns_parse_result {
	DNS_PARSE_OK = 0,  /* question (and OPT, if any) parsed */
	DNS_PARSE_DROP,	   /* too short for a header, or QR=1: send nothing */
	DNS_PARSE_FORMERR, /* answerable with FORMERR; see has_question */
	DNS_PARSE_BADVERS, /* EDNS version > 0 (RFC 6891 §6.1.3): reply BADVERS */
};

/** A parsed query. Filled by dns_query_parse(); it keeps no pointer into pkt (names are copied). */
struct dns_query {
	uint16_t id;
	uint16_t flags; /* header flags word as received */
	uint16_t qdcount, ancount, nscount, arcount;
	bool has_question;	     /* true when qname/qtype/qclass are valid (even on FORMERR) */
	uint8_t qname[DNAME_MAXLEN]; /* decompressed, client's letter case */
	uint8_t qname_lower[DNAME_MAXLEN]; /* decompressed, lowercased: lookup key */
	uint16_t qname_len;		   /* wire length of qname, root label included */
	uint16_t qtype, qclass;
	uint16_t question_end; /* offset just past the question in pkt */

	/* has_edns: exactly one OPT record, in the additional section, owned by
	 * the root, RDATA in bounds. It stays true on a FORMERR caused by its
	 * option list (RFC 6891 §7: that FORMERR reply MUST carry an OPT) and on
	 * BADVERS; it is false when the OPT itself breaks §6.1.1 (two OPTs, OPT
	 * outside additional, owner not root). On other FORMERRs it says what was
	 * found before the error. edns_* are valid when has_edns is. */
	bool has_edns;
	uint8_t edns_version;
	uint16_t edns_udp_size; /* client's advertised payload size, as sent */
	bool edns_do;		/* DNSSEC OK bit */
	bool has_ecs; /* a valid ECS option was present (false if the option list is bad) */
	struct dns_ecs ecs;
	bool has_tsig;	      /* a TSIG record, last in the additional section (RFC 8945 §5.1) */
	uint16_t tsig_offset; /* offset in the packet of that record's owner name */
	bool has_expire;      /* an EXPIRE option was present (RFC 7314 §2; its data ignored) */
	bool has_nsid;	      /* an NSID option was present (RFC 5001 §2.3; its data ignored) */
	bool has_cookie;      /* a valid COOKIE option was present (RFC 7873) */
	uint8_t cookie_len;   /* 8 (client only) or 16..40 (client + server) */
	uint8_t cookie[40];
};

/**
 * Parses the query in pkt[0..len). Fills *q: every field is set on every
 * outcome, except that qname/qname_lower are defined only for their first
 * qname_len bytes (and hold the root, qname[0] == 0, without a question) —
 * not zeroing 510 bytes per query halves the cost of the common case.
 * Rules (each returns FORMERR unless stated): len < 12 → DROP; QR set → DROP;
 * QDCOUNT != 1 → FORMERR (has_question false); bad name (label > 63,
 * name > 255, reserved label type 0x40/0x80, pointer not strictly backwards,
 * truncated) → FORMERR; a record in answer/authority/additional that runs
 * past the end → FORMERR; OPT outside the additional section, two OPTs, OPT
 * owner not root → FORMERR; bytes left after the last record → FORMERR;
 * malformed EDNS option list (an option running past RDLENGTH) → FORMERR;
 * invalid ECS (RFC 7871 §6, §7.2.1: family not 1/2, source prefix longer than
 * the family's address, ADDRESS octets != ceil(source/8), bits set beyond the
 * source prefix, scope prefix != 0, a second ECS option) → FORMERR; COOKIE
 * length not 8 or 16..40, or a second COOKIE (RFC 7873 §5.2.2) → FORMERR;
 * other options are ignored; EDNS version > 0 → BADVERS (only if nothing
 * else is FORMERR); its option list is then not read at all (RFC 6891
 * §6.1.3: options belong to the version; has_ecs, has_cookie,
 * has_expire and has_nsid stay false, so the BADVERS reply carries only our OPT). Records
 * other than OPT (e.g. TSIG) are bounds-checked and skipped; their owner
 * names are fully validated. Opcode is NOT checked here.
 * On DROP/FORMERR without a question, qname_len is 0 and qname is the root.
 */
enum dns_parse_result dns_query_parse(const uint8_t *pkt, size_t len, struct dns_query *q)
    __attribute__((nonnull(3), warn_unused_result)); /* pkt may be NULL when len is 0 */

/**
 * Reads a possibly compressed name at pkt[*off], bounded by len.
 * Writes the decompressed name (original case) to out (DNAME_MAXLEN bytes)
 * and advances *off past the name as it appears in place (a pointer counts
 * 2 bytes). Pointers must point strictly before the start of the label
 * sequence that contains them (so no loops are possible).
 * Returns the name's wire length (>= 1), or SOV_EMALF.
 */
int dns_name_read(const uint8_t *pkt, size_t len, size_t *off, uint8_t *out)
    __attribute__((nonnull, warn_unused_result));

/** Reads a 16-bit network-order integer (no bounds check). */
/**
 * RFC 1982 serial number arithmetic (SOA serials): true when a is before b.
 * Two serials 2^31 apart are neither (RFC 1982 §3.2 leaves them undefined);
 * equal ones are not before each other.
 */
__attribute__((const)) static inline bool dns_serial_lt(uint32_t a, uint32_t b)
{
	return a != b && (uint32_t)(b - a) < 0x80000000u;
}

__attribute__((nonnull, pure)) static inline uint16_t wire_read_u16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
/** Reads a 32-bit network-order integer (no bounds check). */
__attribute__((nonnull, pure)) static inline uint32_t wire_read_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
/** Writes a 16-bit value in network order (no bounds check). */
__attribute__((nonnull)) static inline void wire_write_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
/** Writes a 32-bit value in network order (no bounds check). */
__attribute__((nonnull)) static inline void wire_write_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif
