/* zone_record.c — one record into the loader (contract in zone_int.h).
 *
 * Checks each parsed record (class, owner inside the zone, supported type,
 * RDATA layout the answer path relies on), copies its RDATA into the
 * loader's arena as [RDLENGTH][RDATA], interns its owner and computes the
 * hash that finds duplicates (names in RDATA compared case-insensitively).
 */
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "dns/zone_int.h"

/**
 * Checks that p[0..len) starts with one uncompressed, well-formed wire
 * name; stores its length in *used. RDATA given in RFC 3597 form (\#) has
 * not been through ldns's name parser, and the answer path trusts names.
 */
bool zone_wire_name_ok(const uint8_t *p, size_t len, size_t *used)
{
	size_t o = 0;
	for (;;) {
		if (o >= len || o >= DNAME_MAXLEN)
			return false;
		uint8_t l = p[o];
		if (l == 0)
			break;
		if (l > DNAME_MAXLABEL)
			return false; /* also rejects compression pointers */
		o += (size_t)l + 1;
	}
	*used = o + 1;
	return *used <= DNAME_MAXLEN;
}

/** Bytes of an RDATA field of fixed size, 0 for any other field type. */
static size_t field_fixed_size(ldns_rdf_type t)
{
	switch (t) {
	case LDNS_RDF_TYPE_INT8:
	case LDNS_RDF_TYPE_ALG:
	case LDNS_RDF_TYPE_CERT_ALG:
		return 1;
	case LDNS_RDF_TYPE_INT16:
	case LDNS_RDF_TYPE_TYPE:
	case LDNS_RDF_TYPE_CLASS:
		return 2;
	case LDNS_RDF_TYPE_INT32:
	case LDNS_RDF_TYPE_A:
	case LDNS_RDF_TYPE_TIME:
	case LDNS_RDF_TYPE_PERIOD:
		return 4;
	case LDNS_RDF_TYPE_AAAA:
		return 16;
	default:
		return 0;
	}
}

/*
 * RDATA of a type ldns knows, checked field by field against its
 * descriptor for the usual field kinds (fixed size, names, <character-
 * string>s): 1 well formed (every field whole, at least the minimum count,
 * nothing left over), 0 malformed, -1 a field kind this walk does not know
 * (the caller asks ldns).
 */
static int rdata_walk(const ldns_rr_descriptor *d, const uint8_t *p, size_t len)
{
	size_t o = 0, i = 0, used = 0;
	size_t max = ldns_rr_descriptor_maximum(d);
	for (; o < len && i < max; i++) {
		ldns_rdf_type t = ldns_rr_descriptor_field_type(d, i);
		size_t fs = field_fixed_size(t);
		if (t == LDNS_RDF_TYPE_DNAME) {
			if (!zone_wire_name_ok(p + o, len - o, &used))
				return 0;
			o += used;
		} else if (t == LDNS_RDF_TYPE_STR) {
			if ((size_t)p[o] + 1 > len - o)
				return 0;
			o += (size_t)p[o] + 1;
		} else if (fs > 0) {
			if (fs > len - o)
				return 0;
			o += fs;
		} else {
			return -1;
		}
	}
	return o == len && i >= ldns_rr_descriptor_minimum(d);
}

/* The same question put to ldns's RDATA parser: does it read all of it? */
static bool rdata_ldns_ok(uint16_t type, const uint8_t *p, size_t len)
{
	uint8_t small[1024];
	uint8_t *buf = len + 2 <= sizeof(small) ? small : malloc(len + 2);
	ldns_rr *rr = ldns_rr_new();
	bool ok = false;
	if (buf != NULL && rr != NULL) {
		buf[0] = (uint8_t)(len >> 8);
		buf[1] = (uint8_t)len;
		memcpy(buf + 2, p, len);
		ldns_rr_set_type(rr, (ldns_rr_type)type);
		size_t pos = 0;
		ok = ldns_wire2rdf(rr, buf, len + 2, &pos) == LDNS_STATUS_OK && pos == len + 2;
	}
	ldns_rr_free(rr);
	if (buf != small)
		free(buf);
	return ok;
}

/*
 * True if the RDATA is well formed for its type: exactly for the types
 * whose layout the answer path relies on; for every other type ldns knows,
 * its fields decode whole (what zone_print() and a secondary's copy need;
 * a transfer or an RFC 3597 "\#" is not trusted to be right); a type ldns
 * does not know is opaque (RFC 3597).
 */
static bool rdata_ok(uint16_t type, const uint8_t *p, size_t len)
{
	size_t used = 0, used2 = 0;
	switch (type) {
	case LDNS_RR_TYPE_A:
		return len == 4;
	case LDNS_RR_TYPE_AAAA:
		return len == 16;
	case LDNS_RR_TYPE_NS:
	case LDNS_RR_TYPE_CNAME:
	case LDNS_RR_TYPE_PTR:
		return zone_wire_name_ok(p, len, &used) && used == len;
	case LDNS_RR_TYPE_MX:
		return len > 2 && zone_wire_name_ok(p + 2, len - 2, &used) && used == len - 2;
	case LDNS_RR_TYPE_SOA:
		return zone_wire_name_ok(p, len, &used) &&
		       zone_wire_name_ok(p + used, len - used, &used2) && len - used - used2 == 20;
	default:
		break;
	}
	const ldns_rr_descriptor *d = ldns_rr_descript(type);
	if (d == NULL || (uint16_t)d->_type != type || ldns_rr_descriptor_maximum(d) == 0)
		return true; /* ldns's stand-in descriptor of a type it does not know */
	int w = rdata_walk(d, p, len);
	return w < 0 ? rdata_ldns_ok(type, p, len) : w == 1;
}

int zone_file_add(loader_t *L, const char *path, uint16_t *id)
{
	if (L->nfiles >= UINT16_MAX)
		return SOV_ENOMEM;
	if (L->nfiles == L->cap_files) {
		size_t ncap = L->cap_files ? L->cap_files * 2 : 4;
		char **f = realloc(L->files, ncap * sizeof(*f));
		if (f == NULL)
			return SOV_ENOMEM;
		L->files = f;
		L->cap_files = ncap;
	}
	char *s = strdup(path);
	if (s == NULL)
		return SOV_ENOMEM;
	*id = (uint16_t)L->nfiles;
	L->files[L->nfiles++] = s;
	return SOV_OK;
}

/** 64-bit FNV-1a, continued from h. */
static uint64_t hash64(uint64_t h, const uint8_t *p, size_t len, bool lower)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];
		if (lower && c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		h ^= c;
		h *= 1099511628211ull;
	}
	return h;
}

/** Types that never belong in a zone file (RFC 6895 §3.1: meta and query types). */
static bool type_is_meta(uint16_t type)
{
	return type == 0 || type == LDNS_RR_TYPE_OPT || (type >= 128 && type <= 255);
}

/**
 * Checks one record and appends it to L (or reports why not). `owner` is
 * its absolute wire name (any case), `rdata`/`rdlen` its RDATA in wire
 * form, `rdhash` the dedup hash of [RDLENGTH][RDATA] with the domain names
 * in it lowercased. `line` is the record's first line in file `file`.
 */
static void record_add_wire(loader_t *L, const uint8_t *owner, uint16_t rclass, uint16_t type,
			    uint32_t ttl_s, const uint8_t *rdata, size_t rdlen, uint64_t rdhash,
			    uint16_t file, uint32_t line)
{
	const zone_t *z = L->z;
	uint32_t seq = (uint32_t)L->nrecs;
	uint8_t lname[DNAME_MAXLEN];
	char name[DNAME_STR_MAX], tbuf[16];

	dname_lower(lname, owner);
	if (rclass != LDNS_RR_CLASS_IN) {
		char *cls = ldns_rr_class2str((ldns_rr_class)rclass);
		zone_name_str(lname, name, sizeof(name));
		zerr_add(L, seq, file, line,
			 "class %s is not supported (%s %s): zones are class IN only",
			 cls ? cls : "?", name, zone_type_str(type, tbuf, sizeof(tbuf)));
		free(cls);
		return;
	}
	if (!dname_is_subdomain(lname, z->origin)) {
		zone_name_str(lname, name, sizeof(name));
		zerr_add(L, seq, file, line, "%s is outside the zone %s", name, z->origin_str);
		return;
	}
	if (type_is_meta(type)) {
		zone_name_str(lname, name, sizeof(name));
		zerr_add(L, seq, file, line, "type %s at %s is a query or meta type, not data",
			 zone_type_str(type, tbuf, sizeof(tbuf)), name);
		return;
	}
	if (type == LDNS_RR_TYPE_SOA && dname_len(lname) != z->origin_len) {
		zone_name_str(lname, name, sizeof(name));
		zerr_add(L, seq, file, line, "SOA at %s is not at the zone apex %s", name,
			 z->origin_str);
		return;
	}
	if (rdlen > UINT16_MAX) {
		zone_name_str(lname, name, sizeof(name));
		zerr_add(L, seq, file, line, "%s at %s: RDATA of %zu bytes exceeds 65535",
			 zone_type_str(type, tbuf, sizeof(tbuf)), name, rdlen);
		return;
	}
	if (!rdata_ok(type, rdata, rdlen)) {
		zone_name_str(lname, name, sizeof(name));
		zerr_add(L, seq, file, line, "%s at %s: malformed RDATA",
			 zone_type_str(type, tbuf, sizeof(tbuf)), name);
		return;
	}
	if (L->rdata_len + 2 + rdlen > L->rdata_cap) {
		size_t ncap = L->rdata_cap ? L->rdata_cap * 2 : 65536;
		while (ncap < L->rdata_len + 2 + rdlen)
			ncap *= 2;
		if (ncap > (size_t)UINT32_MAX + 1) {
			zerr_add(L, seq, file, line, "zone too large: more than 4 GiB of RDATA");
			L->oom = true;
			return;
		}
		uint8_t *n = realloc(L->rdata, ncap);
		if (n == NULL) {
			L->oom = true;
			return;
		}
		L->rdata = n;
		L->rdata_cap = ncap;
	}

	if (!L->ttl_seen && !L->ttl_missing_warned) {
		log_warn("zone",
			 "%s:%u: no $TTL before the first record (RFC 2308 §4); records "
			 "without a TTL get %u s",
			 L->files[file], line, ZONE_DEFAULT_TTL_S);
		L->ttl_missing_warned = true;
	}

	uint32_t id;
	if (names_intern(&L->names, lname, &id) != SOV_OK) {
		L->oom = true;
		return;
	}
	if (L->nrecs == L->cap_recs) {
		size_t ncap = L->cap_recs ? L->cap_recs * 2 : 1024;
		zrec_t *n = ncap <= UINT32_MAX ? realloc(L->recs, ncap * sizeof(*n)) : NULL;
		if (n == NULL) {
			L->oom = true;
			return;
		}
		L->recs = n;
		L->cap_recs = ncap;
	}
	uint8_t *dst = L->rdata + L->rdata_len;
	dst[0] = (uint8_t)(rdlen >> 8);
	dst[1] = (uint8_t)rdlen;
	if (rdlen > 0)
		memcpy(dst + 2, rdata, rdlen);
	L->names.nrec[id]++;
	L->recs[L->nrecs++] = (zrec_t){.hash = rdhash,
				       .name = id,
				       .rdata = (uint32_t)L->rdata_len,
				       .ttl_s = ttl_s,
				       .line = line,
				       .seq = seq,
				       .type = type,
				       .file = file};
	L->rdata_len += 2 + rdlen;
}

/* Dedup hash seed: FNV-1a over RDLENGTH (RFC 4343: names in RDATA are then
 * hashed lowercased, so "NS A.example." and "NS a.example." are one record). */
static uint64_t rdhash_start(size_t rdlen)
{
	uint8_t len2[2] = {(uint8_t)(rdlen >> 8), (uint8_t)rdlen};
	return hash64(14695981039346656037ull, len2, 2, false);
}

/**
 * The dedup hash of an ldns record's RDATA (rdlen bytes in all): its rdfs
 * back to back, the names among them lowercased. Copies them to `copy`
 * (rdlen bytes; NULL: no copy); *total gets the bytes the rdfs hold.
 */
static uint64_t rdfs_hash(const ldns_rr *rr, size_t rdlen, uint8_t *copy, size_t *total)
{
	uint64_t h = rdhash_start(rdlen);
	size_t o = 0;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		/* An empty field (CAA value "") has no data pointer at all. */
		if (f == NULL || ldns_rdf_size(f) == 0)
			continue;
		if (copy != NULL && o + ldns_rdf_size(f) <= rdlen)
			memcpy(copy + o, ldns_rdf_data(f), ldns_rdf_size(f));
		h = hash64(h, ldns_rdf_data(f), ldns_rdf_size(f),
			   ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME);
		o += ldns_rdf_size(f);
	}
	*total = o;
	return h;
}

/** record_add_wire() for a record parsed by ldns. */
void record_add(loader_t *L, const ldns_rr *rr, uint16_t file, uint32_t line)
{
	const ldns_rdf *owner = ldns_rr_owner(rr);
	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	size_t used = 0;

	if (owner == NULL ||
	    !zone_wire_name_ok(ldns_rdf_data(owner), ldns_rdf_size(owner), &used)) {
		zerr_add(L, (uint32_t)L->nrecs, file, line, "malformed owner name");
		return;
	}
	/* RDATA = the rdfs' wire forms back to back (what ldns_rr_rdata2buffer_wire
	 * writes), names uncompressed and in the file's letter case. */
	size_t rdlen = 0;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
		if (ldns_rr_rdf(rr, i) != NULL)
			rdlen += ldns_rdf_size(ldns_rr_rdf(rr, i));
	uint8_t small[1024];
	uint8_t *buf = rdlen <= sizeof(small) ? small : malloc(rdlen);
	if (buf == NULL) {
		L->oom = true;
		return;
	}
	size_t total;
	uint64_t h = rdfs_hash(rr, rdlen, buf, &total);
	record_add_wire(L, ldns_rdf_data(owner), (uint16_t)ldns_rr_get_class(rr), type,
			ldns_rr_ttl(rr), buf, rdlen, h, file, line);
	if (buf != small)
		free(buf);
}

/** record_add_wire() for a record parsed by zone_fast_parse(). */
void record_add_fast(loader_t *L, const zfast_t *r, const uint8_t *owner, uint32_t ttl_s,
		     uint16_t file, uint32_t line)
{
	uint64_t h = rdhash_start(r->rdlen);
	h = hash64(h, r->rdata, r->name_at, false);
	h = hash64(h, r->rdata + r->name_at, (size_t)r->rdlen - r->name_at, true);
	record_add_wire(L, owner, LDNS_RR_CLASS_IN, r->type, ttl_s, r->rdata, r->rdlen, h, file,
			line);
}

/*
 * The dedup hash of wire RDATA, names lowercased where ldns would parse a
 * name (the fields of type DNAME in its descriptor), i.e. the hash
 * record_add() computes for the same record read from a file. Walks the
 * fields while they have a fixed size or are names, up to the last name;
 * what follows has no name. False when that walk cannot locate the names
 * (a variable-size field before a name): the caller asks ldns.
 */
static bool rdhash_walk(uint16_t type, const uint8_t *rd, size_t len, uint64_t *out)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(type);
	uint64_t h = rdhash_start(len);
	size_t o = 0, names = 0, used = 0;
	size_t want = d != NULL ? d->_dname_count : 0;
	if (d != NULL && d->_variable == LDNS_RDF_TYPE_DNAME)
		return false;
	for (size_t i = 0; names < want; i++) {
		ldns_rdf_type t = ldns_rr_descriptor_field_type(d, i);
		size_t fs = field_fixed_size(t);
		if (t == LDNS_RDF_TYPE_DNAME) {
			if (!zone_wire_name_ok(rd + o, len - o, &used))
				return false;
			h = hash64(h, rd + o, used, true);
			o += used;
			names++;
		} else if (fs > 0 && len - o >= fs) {
			h = hash64(h, rd + o, fs, false);
			o += fs;
		} else {
			return false;
		}
	}
	*out = hash64(h, rd + o, len - o, false);
	return true;
}

/* The same hash through ldns's RDATA parser (rare types: a name after a
 * variable-size field). False when ldns cannot read the RDATA. */
static bool rdhash_ldns(uint16_t type, const uint8_t *rd, size_t len, uint64_t *out)
{
	uint8_t small[1024];
	uint8_t *buf = len + 2 <= sizeof(small) ? small : malloc(len + 2);
	ldns_rr *rr = ldns_rr_new();
	bool ok = false;
	if (buf == NULL || rr == NULL)
		goto finish;
	buf[0] = (uint8_t)(len >> 8);
	buf[1] = (uint8_t)len;
	memcpy(buf + 2, rd, len);
	ldns_rr_set_type(rr, (ldns_rr_type)type);
	size_t pos = 0;
	if (ldns_wire2rdf(rr, buf, len + 2, &pos) != LDNS_STATUS_OK || pos != len + 2)
		goto finish;
	size_t total;
	*out = rdfs_hash(rr, len, NULL, &total);
	ok = total == len;
finish:
	ldns_rr_free(rr);
	if (buf != small)
		free(buf);
	return ok;
}

void record_add_rdata(loader_t *L, const uint8_t *owner, uint16_t rclass, uint16_t type,
		      uint32_t ttl_s, const uint8_t *rdata, size_t rdlen, uint32_t line)
{
	size_t used = 0;
	char name[DNAME_STR_MAX], tbuf[16];
	uint64_t h = 0;
	uint32_t seq = (uint32_t)L->nrecs;
	static const uint8_t empty[1] = {0};
	if (rdata == NULL)
		rdata = empty;
	if (!zone_wire_name_ok(owner, DNAME_MAXLEN, &used)) {
		zerr_add(L, seq, 0, line, "malformed owner name");
		return;
	}
	/* A file refuses what it cannot spell (zone_lint.c); the same bound here. */
	if (ttl_s > INT32_MAX) {
		zone_name_str(owner, name, sizeof(name));
		zerr_add(L, seq, 0, line,
			 "TTL %u of %s at %s is above 2147483647, the largest RFC 2181 §8 allows",
			 ttl_s, zone_type_str(type, tbuf, sizeof(tbuf)), name);
		return;
	}
	if (rdlen <= UINT16_MAX && !rdhash_walk(type, rdata, rdlen, &h) &&
	    !rdhash_ldns(type, rdata, rdlen, &h)) {
		zone_name_str(owner, name, sizeof(name));
		zerr_add(L, seq, 0, line, "%s at %s: malformed RDATA",
			 zone_type_str(type, tbuf, sizeof(tbuf)), name);
		return;
	}
	record_add_wire(L, owner, rclass, type, ttl_s, rdata, rdlen, h, 0, line);
}
