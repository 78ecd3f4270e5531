/* zone.c — RFC 1035 master file → immutable zone index (contract in zone.h).
 *
 * Three phases, each a linear pass:
 *   1. parse: the file is read into memory; plain one-line records are
 *      converted by zone_fast_parse() (dns/zone_fast.c), every other one by
 *      ldns (ldns_rr_new_frm_fp_l on a memory stream); we intercept the
 *      lines ldns cannot report precisely (blank and comment lines, so
 *      that every record gets its exact first line number, and the $
 *      directives, so that a relative $ORIGIN and $INCLUDE work).
 *      Each accepted record becomes a 32-byte zrec_t; its RDATA goes into
 *      one growing arena, its owner into a name table that gives it an id.
 *   2. build: empty non-terminals are added to the name table, records are
 *      counting-sorted by name id (stable, O(n)), each name's few records
 *      are sorted by type, duplicates dropped, and everything is copied into
 *      two final blocks (nodes + RRsets, and RDATA).
 *   3. validate: per node, with the zone tree in place (parent, cut).
 * Errors are collected, sorted back into file order and reported together.
 *
 * Memory for a zone of n records and m names is about 2 × 32n bytes while
 * loading (the record array and its sorted copy; ldns's per-record objects
 * are freed at once), and once loaded sizeof(znode_t)·m + sizeof(zrrset_t)
 * per RRset + RDATA + names + 8 bytes per index slot (hash and node id),
 * in five big blocks whatever the zone size. Measured: 1,000,000 records
 * (340,000 names) load in 0.4 s on one core (1.9 s through ldns alone)
 * with a 125 MB peak RSS.
 */
#include "dns/zone.h"

#include <assert.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <stdio_ext.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "dns/zone_fast.h"

/* $INCLUDE nesting limit: deep enough for any sane layout, and it stops a
 * file that includes itself after 8 opens instead of exhausting fds. */
#define ZONE_INCLUDE_DEPTH_MAX 8
/* TTL for records without one when the file has no $TTL (RFC 2308 §4 wants
 * $TTL; BIND and ldns fall back to one hour). */
#define ZONE_DEFAULT_TTL_S 3600
/* A binary file fed as a zone yields one error per line; listing the first
 * thousand is as useful as listing a million and bounds memory. */
#define ZONE_DIAG_MAX 1000
/* Differing-TTL warnings per load: past this, only a count is logged. */
#define ZONE_TTL_WARN_MAX 10
/* Longest $ directive line; longer ones are an error. */
#define DIRECTIVE_LINE_MAX 4096
/* Characters of the offending line quoted in a syntax error. */
#define SYNTAX_EXCERPT_MAX 80
#define NAMES_TABLE_MIN 1024

/** One record while loading. 32 bytes: a 1,000,000-record zone costs 32 MB here. */
typedef struct zrec {
	uint64_t hash;  /* hash of the RDATA with domain names lowercased (dedup key) */
	uint32_t name;  /* owner's name id (= final node index) */
	uint32_t rdata; /* offset in the RDATA arena of [RDLENGTH u16 BE][RDATA] */
	uint32_t ttl_s;
	uint32_t line;  /* first line of the record in its file */
	uint32_t seq;   /* file order (index at parse time) */
	uint16_t type;
	uint16_t file;  /* index in loader_t.files */
} zrec_t;

/** One diagnostic, kept until the end so that all come out in file order. */
typedef struct zerr {
	uint32_t seq;  /* record order it belongs to (UINT32_MAX: whole zone) */
	uint32_t ins;  /* insertion order: tie-breaker, keeps the sort stable */
	uint32_t line;
	uint16_t file;
	uint16_t col; /* 1-based; 1 when only the record is known */
	char *msg;
} zerr_t;

/** Distinct lowercased names with an id each; its hash table becomes the zone index. */
typedef struct names {
	uint8_t *buf; /* wire names back to back */
	size_t len, cap;
	uint32_t *off;   /* [id] offset in buf */
	uint32_t *hash;  /* [id] dname_hash */
	uint32_t *nrec;  /* [id] records with this owner */
	uint32_t count, cap_ids;
	uint64_t *table; /* open addressing: slot_make(hash, id), 0 = empty; load <= 0.5 */
	uint32_t mask;
} names_t;

/** What zone->mem points to: every block the zone owns. */
typedef struct zone_mem {
	void *block;     /* nodes[] then rrsets[] */
	uint8_t *rdata;  /* all RRsets' RDATA */
	uint8_t *names;  /* owner names */
} zone_mem_t;

typedef struct loader {
	zone_t *z;
	names_t names;
	zrec_t *recs;
	size_t nrecs, cap_recs;
	uint8_t *rdata;
	size_t rdata_len, rdata_cap;
	char **files;
	size_t nfiles, cap_files;
	zerr_t *errs;
	size_t nerrs, cap_errs, errs_dropped;
	uint32_t ins;
	uint32_t default_ttl_s;
	unsigned ttl_warnings;
	bool ttl_seen, ttl_missing_warned;
	bool oom, io_error, syntax_error;
	const struct zone_services *svcs;
	uint32_t *svc_node; /* node id of svcs->names[i] */
} loader_t;

/* ---------------------------------------------------------------- errors */

static void zerr_add(loader_t *L, uint32_t seq, uint16_t file, uint32_t line, const char *fmt,
		     ...) __attribute__((format(printf, 5, 6)));

static void zerr_add(loader_t *L, uint32_t seq, uint16_t file, uint32_t line, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	if (L->nerrs >= ZONE_DIAG_MAX) {
		L->errs_dropped++;
		return;
	}
	if (L->nerrs == L->cap_errs) {
		size_t ncap = L->cap_errs ? L->cap_errs * 2 : 16;
		zerr_t *n = realloc(L->errs, ncap * sizeof(*n));
		if (n == NULL) {
			L->oom = true;
			return;
		}
		L->errs = n;
		L->cap_errs = ncap;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char *msg = strdup(buf);
	if (msg == NULL) {
		L->oom = true;
		return;
	}
	L->errs[L->nerrs++] = (zerr_t){ .seq = seq, .ins = L->ins++, .line = line, .file = file,
					.msg = msg };
}

static int zerr_cmp(const void *a, const void *b)
{
	const zerr_t *x = a, *y = b;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->ins < y->ins ? -1 : (x->ins > y->ins);
}

/** Moves the collected errors to diag, in file order. */
static void zerr_flush(loader_t *L, diag_t *diag)
{
	if (L->nerrs > 1)
		qsort(L->errs, L->nerrs, sizeof(*L->errs), zerr_cmp);
	for (size_t i = 0; i < L->nerrs; i++) {
		const zerr_t *e = &L->errs[i];
		diag_add(diag, e->file < L->nfiles ? L->files[e->file] : L->z->path, e->line,
			 e->col ? e->col : 1, "%s", e->msg);
	}
	if (L->errs_dropped > 0)
		diag_add(diag, L->z->path, 0, 1, "%zu more errors not listed", L->errs_dropped);
}

/* ----------------------------------------------------------------- names */

static void name_str(const uint8_t *name, char *buf, size_t cap)
{
	if (dname_to_str(name, buf, cap) < 0)
		snprintf(buf, cap, "(name too long to print)");
}

/** RR type mnemonic ("A", "TYPE65280"); points to buf or a static string. */
static const char *type_str(uint16_t type, char *buf, size_t cap)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(type);
	if (d != NULL && d->_name != NULL && d->_type == type)
		return d->_name;
	snprintf(buf, cap, "TYPE%u", (unsigned)type);
	return buf;
}

/**
 * Checks that p[0..len) starts with one uncompressed, well-formed wire
 * name; stores its length in *used. RDATA given in RFC 3597 form (\#) has
 * not been through ldns's name parser, and the answer path trusts names.
 */
static bool wire_name_ok(const uint8_t *p, size_t len, size_t *used)
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

/** True if the RDATA of a type whose layout the server relies on is well formed. */
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
		return wire_name_ok(p, len, &used) && used == len;
	case LDNS_RR_TYPE_MX:
		return len > 2 && wire_name_ok(p + 2, len - 2, &used) && used == len - 2;
	case LDNS_RR_TYPE_SOA:
		return wire_name_ok(p, len, &used) && wire_name_ok(p + used, len - used, &used2) &&
		       len - used - used2 == 20;
	default:
		return true;
	}
}

/* A table slot holds the name's hash beside its id, so that a probe
 * compares hashes without a second memory access (the query path's
 * zone_find was bound by those cache misses). Never 0: id + 1 >= 1. */
static inline uint64_t slot_make(uint32_t h, uint32_t id)
{
	return (uint64_t)h << 32 | (uint64_t)(id + 1);
}

static int names_grow_table(names_t *n)
{
	uint32_t size = n->table ? (n->mask + 1) * 2 : NAMES_TABLE_MIN;
	uint64_t *t = calloc(size, sizeof(*t));
	if (t == NULL)
		return SOV_ENOMEM;
	for (uint32_t id = 0; id < n->count; id++) {
		uint32_t i = n->hash[id] & (size - 1);
		while (t[i] != 0)
			i = (i + 1) & (size - 1);
		t[i] = slot_make(n->hash[id], id);
	}
	free(n->table);
	n->table = t;
	n->mask = size - 1;
	return SOV_OK;
}

/** Id of a lowercased name, or UINT32_MAX. */
static uint32_t names_lookup(const names_t *n, const uint8_t *lname, size_t len, uint32_t h)
{
	for (uint32_t i = h & n->mask;; i = (i + 1) & n->mask) {
		uint64_t v = n->table[i];
		if (v == 0)
			return UINT32_MAX;
		uint32_t id = (uint32_t)v - 1;
		if ((uint32_t)(v >> 32) == h && dname_len(n->buf + n->off[id]) == len &&
		    memcmp(n->buf + n->off[id], lname, len) == 0)
			return id;
	}
}

/** Finds or adds a lowercased name; *id_out gets its id. */
static int names_intern(names_t *n, const uint8_t *lname, uint32_t *id_out)
{
	size_t len;
	uint32_t h = dname_hash_len(lname, &len);
	uint32_t id = names_lookup(n, lname, len, h);
	if (id != UINT32_MAX) {
		*id_out = id;
		return SOV_OK;
	}
	if (n->count == n->cap_ids) {
		uint32_t ncap = n->cap_ids ? n->cap_ids * 2 : 256;
		uint32_t *o = realloc(n->off, ncap * sizeof(*o));
		if (o == NULL)
			return SOV_ENOMEM;
		n->off = o;
		uint32_t *hs = realloc(n->hash, ncap * sizeof(*hs));
		if (hs == NULL)
			return SOV_ENOMEM;
		n->hash = hs;
		uint32_t *r = realloc(n->nrec, ncap * sizeof(*r));
		if (r == NULL)
			return SOV_ENOMEM;
		n->nrec = r;
		n->cap_ids = ncap;
	}
	if (n->len + len > n->cap) {
		size_t ncap = n->cap ? n->cap * 2 : 16384;
		while (ncap < n->len + len)
			ncap *= 2;
		if (ncap > UINT32_MAX)
			return SOV_ENOMEM;
		uint8_t *b = realloc(n->buf, ncap);
		if (b == NULL)
			return SOV_ENOMEM;
		n->buf = b;
		n->cap = ncap;
	}
	id = n->count;
	memcpy(n->buf + n->len, lname, len);
	n->off[id] = (uint32_t)n->len;
	n->hash[id] = h;
	n->nrec[id] = 0;
	n->len += len;
	n->count++;
	if ((uint64_t)n->count * 2 > (uint64_t)n->mask + 1) {
		if (names_grow_table(n) != SOV_OK)
			return SOV_ENOMEM;
	} else {
		uint32_t i = h & n->mask;
		while (n->table[i] != 0)
			i = (i + 1) & n->mask;
		n->table[i] = slot_make(h, id);
	}
	*id_out = id;
	return SOV_OK;
}

static void names_free(names_t *n)
{
	free(n->buf);
	free(n->off);
	free(n->hash);
	free(n->nrec);
	free(n->table);
	memset(n, 0, sizeof(*n));
}

/* ----------------------------------------------------------------- parse */

static int files_add(loader_t *L, const char *path, uint16_t *id)
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
		zerr_add(L, seq, file, line, "class %s is not supported: zones are class IN only",
			 cls ? cls : "?");
		free(cls);
		return;
	}
	if (!dname_is_subdomain(lname, z->origin)) {
		name_str(lname, name, sizeof(name));
		zerr_add(L, seq, file, line, "%s is outside the zone %s", name, z->origin_str);
		return;
	}
	if (type == LDNS_RR_TYPE_DNAME) {
		name_str(lname, name, sizeof(name));
		zerr_add(L, seq, file, line,
			 "DNAME at %s: DNAME records are not supported by sovdns (use CNAME records)",
			 name);
		return;
	}
	if (type_is_meta(type)) {
		name_str(lname, name, sizeof(name));
		zerr_add(L, seq, file, line, "type %s at %s is a query or meta type, not data",
			 type_str(type, tbuf, sizeof(tbuf)), name);
		return;
	}
	if (type == LDNS_RR_TYPE_SOA && dname_len(lname) != z->origin_len) {
		name_str(lname, name, sizeof(name));
		zerr_add(L, seq, file, line, "SOA at %s is not at the zone apex %s", name,
			 z->origin_str);
		return;
	}
	if (rdlen > UINT16_MAX) {
		name_str(lname, name, sizeof(name));
		zerr_add(L, seq, file, line, "%s at %s: RDATA of %zu bytes exceeds 65535",
			 type_str(type, tbuf, sizeof(tbuf)), name, rdlen);
		return;
	}
	if (!rdata_ok(type, rdata, rdlen)) {
		name_str(lname, name, sizeof(name));
		zerr_add(L, seq, file, line, "%s at %s: malformed RDATA",
			 type_str(type, tbuf, sizeof(tbuf)), name);
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
		log_warn("zone", "%s:%u: no $TTL before the first record (RFC 2308 §4); records "
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
	L->recs[L->nrecs++] = (zrec_t){ .hash = rdhash,
					.name = id,
					.rdata = (uint32_t)L->rdata_len,
					.ttl_s = ttl_s,
					.line = line,
					.seq = seq,
					.type = type,
					.file = file };
	L->rdata_len += 2 + rdlen;
}

/* Dedup hash seed: FNV-1a over RDLENGTH (RFC 4343: names in RDATA are then
 * hashed lowercased, so "NS A.example." and "NS a.example." are one record). */
static uint64_t rdhash_start(size_t rdlen)
{
	uint8_t len2[2] = { (uint8_t)(rdlen >> 8), (uint8_t)rdlen };
	return hash64(14695981039346656037ull, len2, 2, false);
}

/** record_add_wire() for a record parsed by ldns. */
static void record_add(loader_t *L, const ldns_rr *rr, uint16_t file, uint32_t line)
{
	const ldns_rdf *owner = ldns_rr_owner(rr);
	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	size_t used = 0;

	if (owner == NULL || !wire_name_ok(ldns_rdf_data(owner), ldns_rdf_size(owner), &used)) {
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
	uint64_t h = rdhash_start(rdlen);
	size_t o = 0;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		/* An empty field (CAA value "") has no data pointer at all. */
		if (f == NULL || ldns_rdf_size(f) == 0)
			continue;
		memcpy(buf + o, ldns_rdf_data(f), ldns_rdf_size(f));
		h = hash64(h, buf + o, ldns_rdf_size(f), ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME);
		o += ldns_rdf_size(f);
	}
	record_add_wire(L, ldns_rdf_data(owner), (uint16_t)ldns_rr_get_class(rr), type,
			ldns_rr_ttl(rr), buf, rdlen, h, file, line);
	if (buf != small)
		free(buf);
}

/** record_add_wire() for a record parsed by zone_fast_parse(). */
static void record_add_fast(loader_t *L, const zfast_t *r, const uint8_t *owner, uint32_t ttl_s,
			    uint16_t file, uint32_t line)
{
	uint64_t h = rdhash_start(r->rdlen);
	h = hash64(h, r->rdata, r->name_at, false);
	h = hash64(h, r->rdata + r->name_at, (size_t)r->rdlen - r->name_at, true);
	record_add_wire(L, owner, LDNS_RR_CLASS_IN, r->type, ttl_s, r->rdata, r->rdlen, h, file,
			line);
}

/**
 * A name argument of a directive: absolute, "@", or relative to `origin`
 * (RFC 1035 §5.1). NULL if it does not parse (reason in *why).
 */
static ldns_rdf *directive_name(const char *arg, const ldns_rdf *origin, const char **why)
{
	if (strcmp(arg, "@") == 0)
		return ldns_rdf_clone(origin);
	ldns_rdf *r = ldns_dname_new_frm_str(arg);
	if (r == NULL) {
		*why = "not a valid domain name";
		return NULL;
	}
	if (!ldns_dname_str_absolute(arg) && ldns_dname_cat(r, origin) != LDNS_STATUS_OK) {
		ldns_rdf_deep_free(r);
		*why = "longer than 255 octets once the origin is appended";
		return NULL;
	}
	return r;
}

/** Splits a directive line into at most `max` tokens ("quoted" allowed); returns the count. */
static size_t directive_split(char *s, char **tok, size_t max)
{
	size_t n = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (*s == 0 || *s == ';')
			return n;
		if (n == max)
			return max + 1; /* too many */
		if (*s == '"') {
			tok[n++] = ++s;
			while (*s && *s != '"')
				s++;
		} else {
			tok[n++] = s;
			while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != ';')
				s++;
		}
		if (*s == 0)
			return n;
		if (*s == ';') {
			*s = 0;
			return n;
		}
		*s++ = 0;
	}
}

static void parse_file(loader_t *L, const char *path, uint16_t from_file, uint32_t from_line,
		       uint32_t depth, const ldns_rdf *origin_in);
static bool ttl_token_value(const char *t, uint64_t *v);

/**
 * Handles one "$..." line: text[*pos] is just after the '$'; *pos ends
 * after the line's '\n'. Returns false if the
 * line itself is wrong (errors inside an included file are that file's).
 */
static bool directive(loader_t *L, const char *text, size_t len, size_t *pos, uint16_t file,
		      int *line, ldns_rdf **origin, uint32_t depth)
{
	char buf[DIRECTIVE_LINE_MAX];
	size_t n = 0;
	bool too_long = false;
	uint32_t seq = (uint32_t)L->nrecs;
	while (*pos < len && text[*pos] != '\n') {
		if (n + 1 < sizeof(buf))
			buf[n++] = text[*pos];
		else
			too_long = true;
		(*pos)++;
	}
	if (*pos < len)
		(*pos)++; /* the '\n' */
	buf[n] = 0;
	(*line)++;
	uint32_t at = (uint32_t)*line;
	if (too_long) {
		zerr_add(L, seq, file, at, "directive line longer than %d characters",
			 DIRECTIVE_LINE_MAX);
		return false;
	}
	char *tok[4];
	size_t nt = directive_split(buf, tok, 3);
	const char *why = NULL;
	if (nt == 0) {
		zerr_add(L, seq, file, at, "'$' without a directive name");
		return false;
	}
	if (strcasecmp(tok[0], "ORIGIN") == 0) {
		if (nt != 2) {
			zerr_add(L, seq, file, at, "$ORIGIN takes exactly one domain name");
			return false;
		}
		ldns_rdf *o = directive_name(tok[1], *origin, &why);
		if (o == NULL) {
			zerr_add(L, seq, file, at, "$ORIGIN %s: %s", tok[1], why);
			return false;
		}
		ldns_rdf_deep_free(*origin);
		*origin = o;
	} else if (strcasecmp(tok[0], "TTL") == 0) {
		if (nt != 2) {
			zerr_add(L, seq, file, at, "$TTL takes exactly one value");
			return false;
		}
		uint64_t v = 0;
		/* Even a bad $TTL was meant as one: no "no $TTL" warning on top
		 * of its error (the zone is refused anyway). */
		L->ttl_seen = true;
		if (!ttl_token_value(tok[1], &v) || v > INT32_MAX) {
			/* RFC 2181 §8: a TTL is 0 to 2^31 - 1 seconds. */
			zerr_add(L, seq, file, at,
				 "$TTL %s is not a TTL (seconds, or units like 1h30m; at most "
				 "2147483647)",
				 tok[1]);
			return false;
		}
		L->default_ttl_s = (uint32_t)v;
		L->ttl_seen = true;
	} else if (strcasecmp(tok[0], "INCLUDE") == 0) {
		if (nt != 2 && nt != 3) {
			zerr_add(L, seq, file, at, "$INCLUDE takes a file name and an optional origin");
			return false;
		}
		if (depth + 1 >= ZONE_INCLUDE_DEPTH_MAX) {
			zerr_add(L, seq, file, at,
				 "$INCLUDE %s: nested more than %d files deep (does a file include "
				 "itself?)",
				 tok[1], ZONE_INCLUDE_DEPTH_MAX);
			return false;
		}
		ldns_rdf *inc_origin = nt == 3 ? directive_name(tok[2], *origin, &why)
					       : ldns_rdf_clone(*origin);
		if (inc_origin == NULL) {
			zerr_add(L, seq, file, at, "$INCLUDE origin %s: %s", tok[2],
				 why ? why : "out of memory");
			return false;
		}
		/* A relative name is relative to the directory of the including
		 * file, not to the server's working directory. */
		char *inc_path = NULL;
		const char *cur = L->files[file];
		const char *slash = strrchr(cur, '/');
		int r = 0;
		if (tok[1][0] == '/' || slash == NULL)
			inc_path = strdup(tok[1]);
		else
			r = asprintf(&inc_path, "%.*s/%s", (int)(slash - cur), cur, tok[1]);
		if (r < 0 || inc_path == NULL) {
			L->oom = true; /* reported as such, not as a bad line */
			ldns_rdf_deep_free(inc_origin);
			return true;
		}
		parse_file(L, inc_path, file, at, depth + 1, inc_origin);
		free(inc_path);
		ldns_rdf_deep_free(inc_origin);
	} else {
		zerr_add(L, seq, file, at,
			 "unknown directive $%s (supported: $ORIGIN, $TTL, $INCLUDE)", tok[0]);
		return false;
	}
	return true;
}

/**
 * For a line starting at text[pos] with a blank: true if the whole line is
 * blank or a comment (*next is then the start of the following line),
 * false if a record with a blank owner ("same owner as before") follows.
 */
static bool line_is_blank(const char *text, size_t len, size_t pos, size_t *next)
{
	while (pos < len && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r'))
		pos++;
	if (pos < len && text[pos] == ';')
		while (pos < len && text[pos] != '\n')
			pos++;
	if (pos < len && text[pos] != '\n')
		return false;
	*next = pos < len ? pos + 1 : len;
	return true;
}

/**
 * Copies the first line of the record that starts at text[start] into
 * `text_out` (blanks squeezed, cut at cap): ldns only says what kind of
 * error it met, the operator needs to see where.
 */
static void excerpt(const char *text, size_t len, size_t start, char *out, size_t cap)
{
	size_t n = 0, max = cap - 4; /* room for "..." and the NUL */
	bool blank = false, cut = false;
	for (size_t i = start; i < len && text[i] != '\n' && text[i] != ';'; i++) {
		char c = text[i];
		if (c == ' ' || c == '\t' || c == '\r') {
			blank = n > 0;
			continue;
		}
		if (n + (blank ? 2 : 1) > max) {
			cut = true;
			break;
		}
		if (blank)
			out[n++] = ' ';
		blank = false;
		out[n++] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	if (cut) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = 0;
}

/**
 * Reads one master file, records into L. `from_file`/`from_line` locate
 * the $INCLUDE that named it (for "cannot open"). The origin and the
 * previous owner are restored after an $INCLUDE (RFC 1035 §5.1), $TTL is
 * not (as in BIND).
 */
/* Sets the line and column of the error just added (when it was added). */
static void zerr_set_pos(loader_t *L, size_t before, uint32_t line, size_t col)
{
	if (L->nerrs > before) {
		L->errs[L->nerrs - 1].line = line;
		L->errs[L->nerrs - 1].col = (uint16_t)(col > UINT16_MAX ? UINT16_MAX : col);
	}
}

/* A TTL as BIND and NSD accept it: digits, optionally in groups with a
 * unit (1h30m, 2w, 3600); ldns is more lenient ("1h30x" passes) and wraps
 * values at 2^32 ("4294967296" is 0). Stores the value in *v (saturated at
 * UINT64_MAX / 2) and returns true if the syntax is right. */
static bool ttl_token_value(const char *t, uint64_t *v)
{
	const uint64_t cap = UINT64_MAX / 2;
	uint64_t total = 0, group = 0;
	bool digits = false;
	if (*t == 0)
		return false;
	for (; *t; t++) {
		if (*t >= '0' && *t <= '9') {
			digits = true;
			group = group > cap / 10 ? cap : group * 10 + (uint64_t)(*t - '0');
		} else if (strchr("smhdwSMHDW", *t) != NULL && digits) {
			static const char units[] = "smhdw";
			static const uint64_t secs[] = { 1, 60, 3600, 86400, 604800 };
			char u = (char)(*t | 0x20);
			uint64_t mul = secs[strchr(units, u) - units];
			group = group > cap / mul ? cap : group * mul;
			total = total > cap - group ? cap : total + group;
			group = 0;
			digits = false;
			if (t[1] != 0 && !(t[1] >= '0' && t[1] <= '9'))
				return false;
		} else {
			return false;
		}
	}
	total = total > cap - group ? cap : total + group;
	*v = total;
	return true;
}

/* class_token() on t[0..n) (not NUL-terminated). */
static bool class_token_n(const char *t, size_t n)
{
	return (n == 2 && (strncasecmp(t, "IN", 2) == 0 || strncasecmp(t, "CH", 2) == 0 ||
			   strncasecmp(t, "HS", 2) == 0 || strncasecmp(t, "CS", 2) == 0)) ||
	       (n > 5 && strncasecmp(t, "CLASS", 5) == 0);
}

static bool class_token(const char *t)
{
	return strcasecmp(t, "IN") == 0 || strcasecmp(t, "CH") == 0 || strcasecmp(t, "HS") == 0 ||
	       strcasecmp(t, "CS") == 0 || strncasecmp(t, "CLASS", 5) == 0;
}

/* Fields of one record for record_lint(): at most this many are looked at. */
#define LINT_TOKENS_MAX 16

/* Adds an error at byte `at` of the record text (first line `line`). */
static void lint_error_at(loader_t *L, uint16_t file, uint32_t line, const char *text, size_t at,
			  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void lint_error_at(loader_t *L, uint16_t file, uint32_t line, const char *text, size_t at,
			  const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	uint32_t l = line;
	size_t bol = 0;
	for (size_t i = 0; i < at; i++)
		if (text[i] == '\n') {
			l++;
			bol = i + 1;
		}
	size_t before = L->nerrs;
	zerr_add(L, (uint32_t)L->nrecs, file, line, "%s", msg);
	zerr_set_pos(L, before, l, at - bol + 1);
	L->syntax_error = true;
}

/*
 * Checks what ldns lets through in the text of one record (rec_len bytes
 * at rec) that it parsed as `rr`: a quoted string or a '(' never closed
 * (ldns then reads to the end of the file), a NUL byte (ldns drops it), a
 * TTL that is not a number with units or is above 2^31 - 1 (ldns wraps it
 * at 2^32), "@x" names ('@' is the origin only on its own, RFC 1035 §5.1),
 * and numeric fields out of range or not decimal (ldns wraps MX 65536 to
 * 0 and reads "-1" as 65535). Returns whether the record spells out its
 * TTL, so that the caller can apply a default of 0 that ldns replaces.
 */
static bool record_lint_text(loader_t *L, const ldns_rr *rr, char *text, size_t n,
			     uint16_t file, uint32_t line);

static bool record_lint(loader_t *L, const ldns_rr *rr, const char *rec, size_t rec_len,
			uint16_t file, uint32_t line)
{
	char small[4096];
	/* A record may be long (RDATA up to 65535 octets in hex): check all of it. */
	char *text = rec_len < sizeof(small) ? small : malloc(rec_len + 1);
	if (text == NULL) {
		L->oom = true;
		return true;
	}
	memcpy(text, rec, rec_len);
	text[rec_len] = 0;
	bool ttl_given = record_lint_text(L, rr, text, rec_len, file, line);
	if (text != small)
		free(text);
	return ttl_given;
}

/* '@' stands for the origin on its own only; elsewhere in a name (unescaped)
 * it is almost always a mistake ("hostmaster@example.com." as an SOA RNAME). */
static bool name_has_stray_at(const char *t)
{
	if (strcmp(t, "@") == 0)
		return false;
	for (; *t; t++) {
		if (*t == '\\' && t[1] != 0)
			t++;
		else if (*t == '@')
			return true;
	}
	return false;
}

/* record_lint() on a writable NUL-terminated copy of the record (n bytes). */
static bool record_lint_text(loader_t *L, const ldns_rr *rr, char *text, size_t n,
			     uint16_t file, uint32_t line)
{

	/* Split into fields: blanks and parentheses separate, comments end a
	 * line, a quoted string is one field. */
	struct {
		size_t at, len;
	} tok[LINT_TOKENS_MAX];
	size_t ntok = 0;
	int depth = 0;
	bool quoted = false;
	size_t open_at = 0, quote_at = 0; /* innermost unclosed '(', last opening quote */
	for (size_t i = 0; i < n;) {
		char c = text[i];
		if (c == 0) {
			lint_error_at(L, file, line, text, i,
				      "NUL byte in a record (a zone file is text)");
			return true;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
			i++;
		} else if (c == ';') {
			while (i < n && text[i] != '\n')
				i++;
		} else if (c == '(') {
			if (depth++ == 0)
				open_at = i;
			i++;
		} else if (c == ')') {
			depth--;
			i++;
		} else {
			size_t at = i;
			if (c == '"') {
				quoted = true;
				quote_at = i++;
				while (i < n && text[i] != '"') {
					if (text[i] == 0)
						break;
					i += text[i] == '\\' && i + 1 < n ? 2 : 1;
				}
				if (i < n && text[i] == '"') {
					quoted = false;
					i++;
				}
			} else {
				while (i < n && text[i] != 0 && !strchr(" \t\r\n\f\v;()\"", text[i]))
					i += text[i] == '\\' && i + 1 < n ? 2 : 1;
			}
			if (ntok < LINT_TOKENS_MAX) {
				tok[ntok].at = at;
				tok[ntok].len = i - at;
				ntok++;
			}
		}
	}
	if (quoted) {
		lint_error_at(L, file, line, text, quote_at,
			      "a quoted string is never closed (missing '\"')");
		return true;
	}
	if (depth > 0) {
		lint_error_at(L, file, line, text, open_at,
			      "'(' is never closed: the record runs to the end of the file");
		return true;
	}

	/* [owner] then [TTL] [class] in either order, then the type. */
	char field[256];
#define FIELD(k)                                                                               \
	(snprintf(field, sizeof(field), "%.*s", (int)tok[k].len, text + tok[k].at), field)
	size_t k = 0;
	bool ttl_given = false;
	if (text[0] != ' ' && text[0] != '\t' && ntok > 0) {
		if (name_has_stray_at(FIELD(0))) {
			lint_error_at(L, file, line, text, tok[0].at,
				      "\"%s\": '@' stands for the origin only on its own", field);
			return false;
		}
		k = 1;
	}
	for (int j = 0; j < 2 && k < ntok; j++, k++) {
		const char *t = FIELD(k);
		if (class_token(t))
			continue;
		if (t[0] < '0' || t[0] > '9' || ldns_get_rr_type_by_name(t) != 0)
			break; /* the type */
		uint64_t v = 0;
		if (!ttl_token_value(t, &v)) {
			lint_error_at(L, file, line, text, tok[k].at,
				      "\"%s\" is not a valid TTL (seconds, or units like 1h30m)", t);
			return true;
		}
		if (v > INT32_MAX) {
			lint_error_at(L, file, line, text, tok[k].at,
				      "TTL %s is above 2147483647, the largest RFC 2181 §8 allows", t);
			return true;
		}
		ttl_given = true;
	}
	/* k is at the type; the RDATA fields follow. Single-token fields only:
	 * stop at the first field that may hold blanks or at an RFC 3597 "\#". */
	const ldns_rr_descriptor *d = ldns_rr_descript((uint16_t)ldns_rr_get_type(rr));
	size_t first = k + 1;
	if (first + 1 < ntok && strcmp(FIELD(first), "\\#") == 0 && d != NULL) {
		/* RFC 3597 §5 form for a type ldns knows: it re-reads the octets
		 * as that type and silently drops what does not fit. */
		size_t rdlen = 0;
		for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
			if (ldns_rr_rdf(rr, i) != NULL)
				rdlen += ldns_rdf_size(ldns_rr_rdf(rr, i));
		const char *t = FIELD(first + 1);
		char *end = NULL;
		unsigned long declared = strtoul(t, &end, 10);
		if (end != t && *end == 0 && declared != rdlen) {
			char tbuf[16];
			lint_error_at(L, file, line, text, tok[first].at,
				      "\\# %lu octets are not a valid %s record (%zu used)", declared,
				      type_str((uint16_t)ldns_rr_get_type(rr), tbuf, sizeof(tbuf)),
				      rdlen);
		}
		return ttl_given;
	}
	for (size_t f = 0; d != NULL && f < ldns_rr_descriptor_maximum(d) && first + f < ntok; f++) {
		const char *t = FIELD(first + f);
		ldns_rdf_type ft = ldns_rr_descriptor_field_type(d, f);
		uint64_t max = ft == LDNS_RDF_TYPE_INT8 ? 255 : ft == LDNS_RDF_TYPE_INT16 ? 65535
			       : ft == LDNS_RDF_TYPE_INT32 ? UINT32_MAX : 0;
		if (ft == LDNS_RDF_TYPE_PERIOD) { /* SOA timers: seconds or units, 32 bits */
			uint64_t v = 0;
			if (ttl_token_value(t, &v) && v > UINT32_MAX) {
				lint_error_at(L, file, line, text, tok[first + f].at,
					      "\"%s\" is more than 4294967295 seconds", t);
				return ttl_given;
			}
		} else if (max != 0) {
			uint64_t v = 0;
			bool ok = t[0] != 0;
			for (const char *p = t; *p && ok; p++) {
				ok = *p >= '0' && *p <= '9';
				v = v > max ? v : v * 10 + (uint64_t)(*p - '0');
			}
			if (!ok || v > max) {
				lint_error_at(L, file, line, text, tok[first + f].at,
					      "\"%s\" is not a number from 0 to %llu", t,
					      (unsigned long long)max);
				return ttl_given;
			}
		} else if (ft == LDNS_RDF_TYPE_DNAME) {
			if (name_has_stray_at(t)) {
				lint_error_at(L, file, line, text, tok[first + f].at,
					      "\"%s\": '@' stands for the origin only on its own", t);
				return ttl_given;
			}
		} else if (ft != LDNS_RDF_TYPE_A && ft != LDNS_RDF_TYPE_AAAA) {
			break;
		}
	}
#undef FIELD
	return ttl_given;
}

/*
 * RFC 1035 §5.1 allows "[<class>] [<TTL>] <type>" as well as the other
 * order; ldns reads only TTL before class. When the record starting at
 * text[pos] spells the class first ("www IN 300 A ..."), swaps the two
 * fields in place — same bytes, same length, so every later offset and
 * column stays right — for whichever parser reads it next. Returns
 * whether it swapped.
 */
static bool class_ttl_swap(char *text, size_t len, size_t pos)
{
	size_t i = pos;
	if (text[i] != ' ' && text[i] != '\t') /* skip the owner */
		while (i < len && text[i] != ' ' && text[i] != '\t' && text[i] != '\n')
			i++;
	size_t at[2], n[2];
	for (int k = 0; k < 2; k++) {
		while (i < len && (text[i] == ' ' || text[i] == '\t'))
			i++;
		at[k] = i;
		while (i < len && text[i] != ' ' && text[i] != '\t' && text[i] != '\n' &&
		       text[i] != ';' && text[i] != '(' && text[i] != ')' && text[i] != '"' &&
		       i - at[k] <= 32)
			i++;
		n[k] = i - at[k];
		if (n[k] == 0 || n[k] > 32)
			return false;
		/* Cheap exit for most records: the first field after the owner is
		 * a TTL or a type, not a class. */
		if (k == 0 && !class_token_n(text + at[0], n[0]))
			return false;
	}
	char t1[33], t2[33];
	memcpy(t1, text + at[0], n[0]);
	t1[n[0]] = 0;
	memcpy(t2, text + at[1], n[1]);
	t2[n[1]] = 0;
	if (!class_token(t1) || t2[0] < '0' || t2[0] > '9')
		return false;
	/* [t1][blanks][t2] becomes [t2][blanks][t1] */
	size_t gap = at[1] - (at[0] + n[0]);
	char blanks[64];
	if (gap > sizeof(blanks))
		return false;
	memcpy(blanks, text + at[0] + n[0], gap);
	memcpy(text + at[0], t2, n[1]);
	memcpy(text + at[0] + n[1], blanks, gap);
	memcpy(text + at[0] + n[1] + gap, t1, n[0]);
	return true;
}

static void parse_file(loader_t *L, const char *path, uint16_t from_file, uint32_t from_line,
		       uint32_t depth, const ldns_rdf *origin_in)
{
	/* origin is what ldns reads (and may free, see below); origin_set is
	 * our copy of the last value we gave it. */
	ldns_rdf *origin = NULL, *origin_set = NULL, *prev = NULL;
	/* The previous owner (RFC 1035 §5.1: a blank owner repeats it) as the
	 * fast path last stated it; prev_newer: ldns's `prev` lags behind it. */
	uint8_t prev_wire[DNAME_MAXLEN];
	bool prev_known = false, prev_newer = false;
	uint16_t file = 0;
	int line = 0;
	struct stat st;
	FILE *fp = NULL;
	char *text = NULL; /* the whole file */
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	/* Only regular files: a FIFO or /dev/zero would make the load (and
	 * with it the reload of every zone) never finish. */
	if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
		errno = EINVAL;
	}
	/* The file is parsed from memory: the fast path reads it directly,
	 * ldns through a memory stream (no system call per ftell/fseek). */
	if (fd >= 0) {
		len = (size_t)st.st_size;
		text = malloc(len + 1);
		size_t got = 0;
		while (text != NULL && got < len) {
			ssize_t r = read(fd, text + got, len - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		int saved = text == NULL ? ENOMEM : errno;
		close(fd);
		if (text == NULL || got < len) {
			free(text);
			text = NULL;
			fd = -1;
			errno = got < len && saved == 0 ? EIO : saved;
		} else {
			text[len] = 0;
		}
	}
	if (fd < 0) {
		const char *why = errno == EINVAL ? "not a regular file" : strerror(errno);
		if (depth == 0)
			zerr_add(L, 0, from_file, 0, "cannot open zone file: %s", why);
		else
			zerr_add(L, (uint32_t)L->nrecs, from_file, from_line,
				 "$INCLUDE: cannot open %s: %s", path, why);
		L->io_error = true;
		return;
	}
	if (depth == 0)
		file = 0; /* registered by zone_load */
	else if (files_add(L, path, &file) != SOV_OK) {
		L->oom = true;
		goto finish;
	}
	/* fmemopen of 0 bytes fails; an empty file needs no stream anyway. */
	if (len > 0 && (fp = fmemopen(text, len, "r")) == NULL) {
		L->oom = true;
		goto finish;
	}
	if (fp != NULL)
		__fsetlocking(fp, FSETLOCKING_BYCALLER); /* ldns reads it by getc() */
	origin = ldns_rdf_clone(origin_in);
	origin_set = ldns_rdf_clone(origin_in);
	if (origin == NULL || origin_set == NULL) {
		L->oom = true;
		goto finish;
	}
	size_t pos = 0;
	/* A UTF-8 byte order mark (editors on some systems write one) is not
	 * part of the first line. */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	while (!L->oom && pos < len) {
		char c = text[pos];
		if (c == '\n') {
			line++;
			pos++;
			continue;
		}
		if (c == ';') {
			const char *nl = memchr(text + pos, '\n', len - pos);
			pos = nl ? (size_t)(nl - text) + 1 : len;
			line++;
			continue;
		}
		if (c == '$') {
			pos++;
			if (!directive(L, text, len, &pos, file, &line, &origin, depth))
				L->syntax_error = true;
			ldns_rdf_deep_free(origin_set);
			origin_set = ldns_rdf_clone(origin);
			if (origin_set == NULL)
				L->oom = true;
			continue;
		}
		if ((c == ' ' || c == '\t' || c == '\r') && line_is_blank(text, len, pos, &pos)) {
			line++;
			continue;
		}
		uint32_t first_line = (uint32_t)line + 1;
		size_t record_start = pos;
		bool swapped = class_ttl_swap(text, len, pos);

		zfast_t fr;
		size_t used = zone_fast_parse(text + pos, len - pos, ldns_rdf_data(origin),
					      ldns_rdf_size(origin), &fr);
		/* A blank owner before any stated one is ldns's case (it uses the origin). */
		if (used > 0 && (fr.owner_given || prev_known)) {
			if (fr.owner_given) {
				memcpy(prev_wire, fr.owner, dname_len(fr.owner));
				prev_known = prev_newer = true;
			}
			record_add_fast(L, &fr, prev_wire, fr.ttl_given ? fr.ttl_s : L->default_ttl_s,
					file, first_line);
			pos += used;
			line++;
			/* After a record ldns skips any run of "\f\n\r\v" (counting
			 * lines): do the same, so that where the next record starts
			 * does not depend on which parser read this one. */
			while (pos < len && (text[pos] == '\n' || text[pos] == '\f' ||
					     text[pos] == '\r' || text[pos] == '\v'))
				line += text[pos++] == '\n';
			continue;
		}

		if (prev_newer) {
			ldns_rdf_deep_free(prev);
			prev = ldns_dname_new_frm_data((uint16_t)dname_len(prev_wire), prev_wire);
			prev_newer = false;
			if (prev == NULL) {
				L->oom = true;
				break;
			}
		}
		/* fseek also drops bytes the stream buffered before
		 * class_ttl_swap() changed them. */
		if ((swapped || ftell(fp) != (long)pos) && fseek(fp, (long)pos, SEEK_SET) != 0) {
			L->io_error = true;
			break;
		}
		uint32_t ttl_set = L->default_ttl_s;
		ldns_rr *rr = NULL;
		ldns_status s =
			ldns_rr_new_frm_fp_l(&rr, fp, &L->default_ttl_s, &origin, &prev, &line);
		long end = ftell(fp);
		pos = end < (long)pos ? len : (size_t)end;
		/* ldns may remember an owner it then rejected (longer than 255
		 * octets): the fast path must not fall back on an older one. */
		size_t prev_used = 0;
		prev_known = prev != NULL && ldns_rdf_size(prev) <= DNAME_MAXLEN &&
			     wire_name_ok(ldns_rdf_data(prev), ldns_rdf_size(prev), &prev_used);
		if (prev_known)
			memcpy(prev_wire, ldns_rdf_data(prev), ldns_rdf_size(prev));
		if (origin == NULL || s == LDNS_STATUS_SYNTAX_ORIGIN ||
		    s == LDNS_STATUS_SYNTAX_TTL || s == LDNS_STATUS_SYNTAX_INCLUDE) {
			/* ldns ran a directive itself: one that followed a line it took
			 * for blank (control characters before a comment) and so was
			 * not at a line start for us. It may have freed our origin or
			 * left it NULL; undo it all, directives are handled above. */
			ldns_rdf_deep_free(origin);
			origin = ldns_rdf_clone(origin_set);
			L->default_ttl_s = ttl_set;
			if (origin == NULL)
				L->oom = true;
			if (s == LDNS_STATUS_OK)
				ldns_rr_free(rr);
			zerr_add(L, (uint32_t)L->nrecs, file, (uint32_t)line,
				 "a $ directive must start its line (after junk on a previous line?)");
			L->syntax_error = true;
			continue;
		}
		if (s == LDNS_STATUS_OK) {
			size_t errs = L->nerrs;
			/* Without a TTL of its own a record takes $TTL, also "$TTL 0"
			 * (which ldns replaces with 3600). */
			if (!record_lint(L, rr, text + record_start, pos - record_start, file,
					 first_line))
				ldns_rr_set_ttl(rr, L->default_ttl_s);
			if (L->nerrs == errs && ldns_rr_ttl(rr) > 2147483647u)
				zerr_add(L, (uint32_t)L->nrecs, file, first_line,
					 "TTL %u is above 2147483647, the largest RFC 2181 §8 allows",
					 ldns_rr_ttl(rr));
			if (L->nerrs == errs)
				record_add(L, rr, file, first_line);
			else
				L->syntax_error = true;
			ldns_rr_free(rr);
		} else if (s == LDNS_STATUS_MEM_ERR) {
			L->oom = true;
		} else if (s != LDNS_STATUS_SYNTAX_EMPTY) {
			char excerpt_text[SYNTAX_EXCERPT_MAX];
			excerpt(text, len, record_start, excerpt_text, sizeof(excerpt_text));
			zerr_add(L, (uint32_t)L->nrecs, file, first_line, "syntax error: %s in \"%s\"",
				 ldns_get_errorstr_by_id(s), excerpt_text);
			L->syntax_error = true;
		}
	}
finish:
	if (fp != NULL)
		fclose(fp);
	free(text);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(origin_set);
	ldns_rdf_deep_free(prev);
}

/* ----------------------------------------------------------------- build */

static inline uint16_t rd_len(const loader_t *L, const zrec_t *r)
{
	const uint8_t *p = L->rdata + r->rdata;
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int rec_cmp_dedup(const void *a, const void *b)
{
	const zrec_t *x = a, *y = b;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static int rec_cmp_final(const void *a, const void *b)
{
	const zrec_t *x = a, *y = b;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/** Same record? The hash covers names case-insensitively; confirm with the bytes. */
static bool rec_same(const loader_t *L, const zrec_t *x, const zrec_t *y)
{
	if (x->type != y->type || x->hash != y->hash)
		return false;
	uint16_t len = rd_len(L, x);
	if (len != rd_len(L, y))
		return false;
	const uint8_t *p = L->rdata + x->rdata + 2, *q = L->rdata + y->rdata + 2;
	for (uint16_t i = 0; i < len; i++) {
		uint8_t c = p[i], d = q[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		if (d >= 'A' && d <= 'Z')
			d = (uint8_t)(d + 32);
		if (c != d)
			return false;
	}
	return true;
}

/** Adds every missing ancestor between an owner and the apex (empty non-terminals). */
static int add_empty_nonterminals(loader_t *L)
{
	names_t *n = &L->names;
	uint32_t owners = n->count;
	uint8_t name[DNAME_MAXLEN];
	for (uint32_t id = 0; id < owners; id++) {
		memcpy(name, n->buf + n->off[id], dname_len(n->buf + n->off[id]));
		const uint8_t *p = name;
		while (dname_len(p) > L->z->origin_len) {
			p = dname_parent(p);
			size_t len;
			uint32_t h = dname_hash_len(p, &len);
			if (names_lookup(n, p, len, h) != UINT32_MAX)
				break; /* it and its ancestors are already there */
			uint32_t nid;
			if (names_intern(n, p, &nid) != SOV_OK)
				return SOV_ENOMEM;
		}
	}
	return SOV_OK;
}

static const zrrset_t *node_rrset(const znode_t *n, uint16_t type, uint32_t *pos)
{
	uint32_t lo = 0, hi = n->rrset_count;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (n->rrsets[mid].type < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n->rrset_count && n->rrsets[lo].type == type) {
		if (pos)
			*pos = lo;
		return &n->rrsets[lo];
	}
	return NULL;
}

/** True if `lname` is the target of one of the NS records of `cut`. */
static bool is_ns_target(const znode_t *cut, const uint8_t *lname)
{
	const zrrset_t *ns = node_rrset(cut, LDNS_RR_TYPE_NS, NULL);
	if (ns == NULL)
		return false;
	const uint8_t *p = ns->rdata;
	for (uint16_t i = 0; i < ns->count; i++) {
		uint16_t len = (uint16_t)(p[0] << 8 | p[1]);
		if (dname_equal(p + 2, lname))
			return true;
		p += 2 + len;
	}
	return false;
}

static uint32_t rd_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/** Where diagnostics about an RRset point: its first record in file order. */
typedef struct rrset_src {
	uint32_t first; /* index in the sorted record array */
	uint32_t second; /* second record (for "more than one"), or UINT32_MAX */
} rrset_src_t;

static void zerr_rec(loader_t *L, const zrec_t *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void zerr_rec(loader_t *L, const zrec_t *r, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	zerr_add(L, r->seq, r->file, r->line, "%s", buf);
}

/** Checks one node against the rules of zone.h; problems go to L's errors. */
static void validate_node(loader_t *L, const zone_t *z, uint32_t idx, const zrec_t *recs,
			  const rrset_src_t *src, uint32_t rrset_base)
{
	const znode_t *n = &z->nodes[idx];
	char name[DNAME_STR_MAX], cutname[DNAME_STR_MAX], tbuf[16];
	if (n->rrset_count == 0)
		return;
	name_str(n->owner, name, sizeof(name));
	const rrset_src_t *s = &src[rrset_base];

	if (idx == 0) {
		uint32_t pos;
		const zrrset_t *soa = node_rrset(n, LDNS_RR_TYPE_SOA, &pos);
		if (soa != NULL && soa->count > 1)
			zerr_rec(L, &recs[s[pos].second],
				 "more than one SOA record at the zone apex %s", name);
	}

	uint32_t cpos;
	const zrrset_t *cname = node_rrset(n, LDNS_RR_TYPE_CNAME, &cpos);
	if (cname != NULL) {
		if (cname->count > 1)
			zerr_rec(L, &recs[s[cpos].second],
				 "two CNAME records at %s: a name has at most one (RFC 2181 §10.1)",
				 name);
		char others[256] = "";
		size_t olen = 0;
		uint32_t other = UINT32_MAX; /* earliest record of other data */
		for (uint16_t i = 0; i < n->rrset_count; i++) {
			uint16_t t = n->rrsets[i].type;
			/* RFC 4035 §2.5: DNSSEC records live beside a CNAME. */
			if (t == LDNS_RR_TYPE_CNAME || t == LDNS_RR_TYPE_RRSIG ||
			    t == LDNS_RR_TYPE_NSEC)
				continue;
			int w = snprintf(others + olen, sizeof(others) - olen, "%s%s",
					 olen ? ", " : "", type_str(t, tbuf, sizeof(tbuf)));
			if (w > 0 && (size_t)w < sizeof(others) - olen)
				olen += (size_t)w;
			if (other == UINT32_MAX || recs[s[i].first].seq < recs[other].seq)
				other = s[i].first;
		}
		/* Point at the record that created the conflict: the later of the
		 * CNAME and the first other record, as an incremental reader would. */
		uint32_t at = s[cpos].first;
		if (other != UINT32_MAX && recs[other].seq > recs[at].seq)
			at = other;
		if (other != UINT32_MAX)
			zerr_rec(L, &recs[at],
				 "CNAME at %s cannot coexist with other data (%s) (RFC 2181 §10.1)",
				 name, others);
	}

	if (n->cut == idx) {
		for (uint16_t i = 0; i < n->rrset_count; i++) {
			uint16_t t = n->rrsets[i].type;
			if (t == LDNS_RR_TYPE_NS || t == LDNS_RR_TYPE_DS ||
			    t == LDNS_RR_TYPE_NSEC || t == LDNS_RR_TYPE_RRSIG)
				continue;
			zerr_rec(L, &recs[s[i].first],
				 "%s at %s is occluded by the delegation (zone cut) at %s: only "
				 "NS and DS records belong there",
				 type_str(t, tbuf, sizeof(tbuf)), name, name);
		}
	} else if (n->cut != ZNODE_NONE) {
		const znode_t *cut = &z->nodes[n->cut];
		name_str(cut->owner, cutname, sizeof(cutname));
		bool target = is_ns_target(cut, n->owner);
		for (uint16_t i = 0; i < n->rrset_count; i++) {
			uint16_t t = n->rrsets[i].type;
			if ((t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA) && target)
				continue;
			zerr_rec(L, &recs[s[i].first],
				 "%s at %s is below the zone cut at %s and is not glue for it",
				 type_str(t, tbuf, sizeof(tbuf)), name, cutname);
		}
	}
}

/**
 * Builds the final zone from the parsed records: sorts, deduplicates,
 * lays out nodes/RRsets/RDATA, links the tree, validates.
 */
static int zone_build(loader_t *L)
{
	zone_t *z = L->z;
	names_t *nm = &L->names;
	zone_mem_t *mem = z->mem;
	zrec_t *recs = NULL;
	uint32_t *start = NULL, *order = NULL;
	rrset_src_t *src = NULL;
	int ret = SOV_ENOMEM;

	if (add_empty_nonterminals(L) != SOV_OK)
		goto finish;
	uint32_t N = nm->count;

	/* Counting sort by owner id: O(n), stable (file order kept per owner). */
	start = calloc((size_t)N + 1, sizeof(*start));
	recs = malloc((L->nrecs ? L->nrecs : 1) * sizeof(*recs));
	if (start == NULL || recs == NULL)
		goto finish;
	for (uint32_t id = 0; id < N; id++)
		start[id + 1] = start[id] + nm->nrec[id];
	for (size_t i = 0; i < L->nrecs; i++)
		recs[start[L->recs[i].name]++] = L->recs[i];
	free(L->recs);
	L->recs = NULL;
	/* start[id] now holds the end of id's group; shift back to starts. */
	memmove(start + 1, start, (size_t)N * sizeof(*start));
	start[0] = 0;

	/* Per owner: drop duplicates (RFC 2181 §5), order RRsets by type and
	 * records by file position, compact into recs[0..kept). */
	size_t kept = 0, rrsets = 0, rdata_bytes = 0;
	for (uint32_t id = 0; id < N; id++) {
		zrec_t *g = recs + start[id];
		size_t gn = start[id + 1] - start[id], w = 0;
		if (gn > 1)
			qsort(g, gn, sizeof(*g), rec_cmp_dedup);
		for (size_t i = 0; i < gn; i++)
			if (w == 0 || !rec_same(L, &g[w - 1], &g[i]))
				g[w++] = g[i];
		if (w > 1)
			qsort(g, w, sizeof(*g), rec_cmp_final);
		memmove(recs + kept, g, w * sizeof(*g));
		g = recs + kept;
		start[id] = (uint32_t)kept;
		for (size_t i = 0; i < w; i++) {
			if (i == 0 || g[i].type != g[i - 1].type)
				rrsets++;
			rdata_bytes += 2 + (size_t)rd_len(L, &g[i]);
		}
		kept += w;
	}
	start[N] = (uint32_t)kept;

	size_t nodes_sz = (size_t)N * sizeof(znode_t);
	mem->block = malloc(nodes_sz + rrsets * sizeof(zrrset_t) + 1);
	mem->rdata = malloc(rdata_bytes + 1);
	src = malloc((rrsets + 1) * sizeof(*src));
	if (mem->block == NULL || mem->rdata == NULL || src == NULL)
		goto finish;
	z->nodes = mem->block;
	z->node_count = N;
	zrrset_t *rs = (zrrset_t *)(void *)((uint8_t *)mem->block + nodes_sz);
	uint8_t *rd = mem->rdata;
	size_t ri = 0;
	char name[DNAME_STR_MAX], tbuf[16];
	for (uint32_t id = 0; id < N; id++) {
		znode_t *n = &z->nodes[id];
		*n = (znode_t){ .owner = nm->buf + nm->off[id],
				.parent = ZNODE_NONE,
				.cut = ZNODE_NONE,
				.service = ZNODE_NONE,
				.rrsets = rs + ri };
		for (uint32_t i = start[id]; i < start[id + 1];) {
			uint32_t j = i;
			zrrset_t *set = &rs[ri];
			*set = (zrrset_t){ .type = recs[i].type, .ttl_s = recs[i].ttl_s, .rdata = rd };
			src[ri] = (rrset_src_t){ .first = i, .second = UINT32_MAX };
			bool warned = false;
			for (; j < start[id + 1] && recs[j].type == recs[i].type; j++) {
				const zrec_t *r = &recs[j];
				size_t len = 2 + (size_t)rd_len(L, r);
				memcpy(rd, L->rdata + r->rdata, len);
				rd += len;
				set->rdata_len += (uint32_t)len;
				if (j == i + 1)
					src[ri].second = j;
				/* RFC 2181 §5.2: one TTL per RRset. RRSIGs inherit the
				 * TTL of the RRset they cover, so theirs legitimately differ. */
				if (r->ttl_s != set->ttl_s && set->type != LDNS_RR_TYPE_RRSIG &&
				    !warned) {
					warned = true;
					if (L->ttl_warnings++ < ZONE_TTL_WARN_MAX) {
						name_str(n->owner, name, sizeof(name));
						log_warn("zone",
							 "%s:%u: TTL %u of %s at %s differs from the "
							 "RRset's first TTL %u; using %u (RFC 2181 "
							 "§5.2)",
							 L->files[r->file], r->line, r->ttl_s,
							 type_str(set->type, tbuf, sizeof(tbuf)),
							 name, set->ttl_s, set->ttl_s);
					}
				}
			}
			if (j - i > UINT16_MAX) {
				name_str(n->owner, name, sizeof(name));
				zerr_rec(L, &recs[i], "%s at %s has %u records; at most 65535 fit",
					 type_str(set->type, tbuf, sizeof(tbuf)), name, j - i);
			}
			set->count = (uint16_t)(j - i);
			n->rrset_count++;
			ri++;
			i = j;
		}
	}
	if (L->ttl_warnings > ZONE_TTL_WARN_MAX)
		log_warn("zone", "%s: %u more RRsets with differing TTLs not listed", z->path,
			 L->ttl_warnings - ZONE_TTL_WARN_MAX);
	z->record_count = kept;

	/* The zone index is the load-time name table: same ids, load <= 0.5. */
	z->index = nm->table;
	z->index_mask = nm->mask;
	mem->names = nm->buf;
	nm->table = NULL;
	nm->buf = NULL;

	/* Tree links. Parents first: order nodes by depth (counting sort). */
	uint32_t depth_count[DNAME_MAXLABELS + 2] = { 0 };
	order = malloc(((size_t)N + 1) * sizeof(*order));
	if (order == NULL)
		goto finish;
	for (uint32_t id = 0; id < N; id++)
		depth_count[dname_labels(z->nodes[id].owner) - z->origin_labels + 1]++;
	for (unsigned d = 1; d < DNAME_MAXLABELS + 2; d++)
		depth_count[d] += depth_count[d - 1];
	for (uint32_t id = 0; id < N; id++)
		order[depth_count[dname_labels(z->nodes[id].owner) - z->origin_labels]++] = id;
	z->nodes[0].flags |= ZNODE_APEX;
	for (uint32_t k = 0; k < N; k++) {
		uint32_t id = order[k];
		znode_t *n = &z->nodes[id];
		if (id == 0)
			continue;
		/* Present: add_empty_nonterminals() filled every gap up to the apex. */
		const znode_t *pn = zone_find(z, dname_parent(n->owner));
		assert(pn != NULL);
		uint32_t parent = (uint32_t)(pn - z->nodes);
		n->parent = parent;
		if (dname_is_wildcard(n->owner))
			z->nodes[parent].flags |= ZNODE_WILDCARD;
		bool has_ns = node_rrset(n, LDNS_RR_TYPE_NS, NULL) != NULL;
		if (has_ns)
			n->flags |= ZNODE_DELEG;
		if (z->nodes[parent].cut != ZNODE_NONE) {
			n->cut = z->nodes[parent].cut;
			n->flags |= ZNODE_GLUE;
		} else if (has_ns) {
			n->cut = id;
		}
	}

	/* Zone-wide rules, then per node. */
	const znode_t *apex = &z->nodes[0];
	const zrrset_t *soa = node_rrset(apex, LDNS_RR_TYPE_SOA, NULL);
	/* After a syntax error the SOA may be the record that failed: saying
	 * "no SOA" too would only mislead. */
	if (soa == NULL && !L->syntax_error)
		zerr_add(L, UINT32_MAX, 0, 0, "no SOA record at the zone apex %s", z->origin_str);
	if (node_rrset(apex, LDNS_RR_TYPE_NS, NULL) == NULL)
		zerr_add(L, UINT32_MAX, 0, 0,
			 "no NS records at the zone apex %s (RFC 1034 §4.2.1)", z->origin_str);
	size_t base = 0;
	for (uint32_t id = 0; id < N; id++) {
		validate_node(L, z, id, recs, src, (uint32_t)base);
		base += z->nodes[id].rrset_count;
	}
	for (size_t i = 0; L->svcs != NULL && i < L->svcs->count; i++) {
		znode_t *n = &z->nodes[L->svc_node[i]];
		n->service = L->svcs->ids[i];
		name_str(n->owner, name, sizeof(name));
		if (n->cut != ZNODE_NONE) {
			char cut[DNAME_STR_MAX];
			name_str(z->nodes[n->cut].owner, cut, sizeof(cut));
			zerr_add(L, UINT32_MAX, 0, 0,
				 "service %s is at or below the zone cut at %s: the child zone "
				 "answers for it",
				 name, cut);
			continue;
		}
		size_t first = (size_t)(n->rrsets - rs);
		for (uint16_t k = 0; k < n->rrset_count; k++) {
			uint16_t t = n->rrsets[k].type;
			if (t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA || t == LDNS_RR_TYPE_CNAME)
				zerr_rec(L, &recs[src[first + k].first],
					 "%s is a service in the configuration (its A/AAAA answers "
					 "are chosen per query): a static %s record cannot stand there",
					 name, type_str(t, tbuf, sizeof(tbuf)));
		}
	}
	if (soa != NULL) {
		/* SOA RDATA (validated): MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM. */
		const uint8_t *p = soa->rdata + 2;
		p += dname_len(p);
		p += dname_len(p);
		z->serial = rd_u32(p);
		uint32_t minimum = rd_u32(p + 16);
		z->neg_ttl_s = soa->ttl_s < minimum ? soa->ttl_s : minimum;
	}
	ret = SOV_OK;
finish:
	free(start);
	free(recs);
	free(order);
	free(src);
	return ret;
}

/* ------------------------------------------------------------- interface */

int zone_load(const char *origin, const char *path, zone_t **out, diag_t *diag)
{
	return zone_load_services(origin, path, NULL, out, diag);
}

int zone_load_services(const char *origin, const char *path, const struct zone_services *svcs,
		       zone_t **out, diag_t *diag)
{
	loader_t L = { .default_ttl_s = ZONE_DEFAULT_TTL_S, .svcs = svcs };
	ldns_rdf *origin_rdf = NULL;
	zone_t *z = NULL;
	char buf[DNAME_STR_MAX];
	uint16_t file0;
	int ret = SOV_ENOMEM;

	*out = NULL;
	z = calloc(1, sizeof(*z));
	if (z == NULL)
		goto finish;
	L.z = z;
	z->mem = calloc(1, sizeof(zone_mem_t));
	z->path = strdup(path);
	if (z->mem == NULL || z->path == NULL)
		goto finish;
	int len = dname_from_str(origin, z->origin);
	if (len < 0 || dname_to_str(z->origin, buf, sizeof(buf)) < 0) {
		diag_add(diag, path, 0, 1, "zone origin \"%s\" is not a valid domain name", origin);
		ret = SOV_EINVAL;
		goto finish;
	}
	z->origin_len = (uint16_t)len;
	z->origin_labels = (uint16_t)dname_labels(z->origin);
	z->origin_str = strdup(buf);
	/* ldns appends this origin to relative names: the operator's spelling,
	 * so that relative names in RDATA keep the case they were given in. */
	origin_rdf = ldns_dname_new_frm_str(origin);
	if (z->origin_str == NULL || origin_rdf == NULL)
		goto finish;
	if (files_add(&L, path, &file0) != SOV_OK || names_grow_table(&L.names) != SOV_OK)
		goto finish;
	uint32_t apex_id;
	if (names_intern(&L.names, z->origin, &apex_id) != SOV_OK)
		goto finish;
	assert(apex_id == 0); /* nodes[0] is the apex */
	if (svcs != NULL && svcs->count > 0) {
		L.svc_node = calloc(svcs->count, sizeof(uint32_t));
		if (L.svc_node == NULL)
			goto finish;
		for (size_t i = 0; i < svcs->count; i++) {
			if (!dname_is_subdomain(svcs->names[i], z->origin)) {
				ret = SOV_EINVAL;
				goto finish;
			}
			if (names_intern(&L.names, svcs->names[i], &L.svc_node[i]) != SOV_OK)
				goto finish;
		}
	}

	parse_file(&L, path, 0, 0, 0, origin_rdf);
	if (L.oom)
		goto finish;
	if (!L.io_error && zone_build(&L) != SOV_OK)
		goto finish;
	if (L.oom)
		goto finish;
	if (L.nerrs > 0 || L.io_error) {
		ret = L.io_error ? SOV_EIO : L.syntax_error ? SOV_EPARSE : SOV_ESEMANTIC;
		goto finish;
	}
	*out = z;
	z = NULL;
	ret = SOV_OK;
finish:
	if (ret == SOV_ENOMEM)
		diag_add(diag, path, 0, 1, "out of memory while loading zone %s", origin);
	zerr_flush(&L, diag);
	for (size_t i = 0; i < L.nerrs; i++)
		free(L.errs[i].msg);
	free(L.errs);
	for (size_t i = 0; i < L.nfiles; i++)
		free(L.files[i]);
	free(L.files);
	free(L.recs);
	free(L.rdata);
	names_free(&L.names);
	free(L.svc_node);
	ldns_rdf_deep_free(origin_rdf);
	zone_free(z);
	return ret;
}

void zone_free(zone_t *z)
{
	if (z == NULL)
		return;
	zone_mem_t *mem = z->mem;
	if (mem != NULL) {
		free(mem->block);
		free(mem->rdata);
		free(mem->names);
		free(mem);
	}
	free(z->index);
	free(z->origin_str);
	free(z->path);
	free(z);
}

const znode_t *zone_find(const zone_t *z, const uint8_t *lower_name)
{
	size_t len;
	uint32_t h = dname_hash_len(lower_name, &len);
	for (uint32_t i = h & z->index_mask;; i = (i + 1) & z->index_mask) {
		uint64_t v = z->index[i];
		if (v == 0)
			return NULL;
		if ((uint32_t)(v >> 32) != h)
			continue;
		const znode_t *n = &z->nodes[(uint32_t)v - 1];
		if (dname_len(n->owner) == len &&
		    memcmp(n->owner, lower_name, len) == 0)
			return n;
	}
}

const zrrset_t *znode_rrset(const znode_t *n, uint16_t type)
{
	/* Most nodes hold one to three RRsets: a linear scan beats bisection there. */
	if (n->rrset_count <= 8) {
		for (uint16_t i = 0; i < n->rrset_count; i++) {
			if (n->rrsets[i].type == type)
				return &n->rrsets[i];
			if (n->rrsets[i].type > type)
				return NULL;
		}
		return NULL;
	}
	return node_rrset(n, type, NULL);
}
