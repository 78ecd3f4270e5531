/* update_store.c — the dynamic data of each primary zone across reloads and
 * restarts (contract in update_store.h; docs/updates.md, "Updates and the
 * zone file").
 *
 * The store lives in the daemon and is touched only under its reload lock
 * (apply) or its update lock (commit); snapshots never point into it.
 *
 * update_store_apply() is all or nothing: every zone's new base, served
 * zone and recomputed dynamic data are worked out first, and only when no
 * zone failed are they installed in the store and in s. A refused reload
 * keeps the old snapshot serving, so the store must keep the old bases
 * too: the next commit diffs against them.
 */
#include "dns/update_store.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/atomicfile.h"
#include "common/err.h"
#include "common/log.h"
#include "common/path.h"
#include "dns/journal.h"
#include "wire/dname.h"
#include "wire/wire.h"

struct uslot {
	uint8_t origin[DNAME_MAXLEN];
	zone_t *base;		   /* referenced: the zone as loaded from its file */
	struct journal_entry *dyn; /* referenced: base -> served; NULL: none */
	uint32_t served_serial;	   /* of the zone served with dyn (valid with dyn) */
	uint64_t served_digest;	   /* content_digest() of that zone (valid with dyn) */
	bool seen;		   /* a primary of the snapshot being applied */
};

struct update_store {
	char *dir; /* <state_dir>/updates; NULL: memory only */
	struct uslot *slots;
	size_t count, cap;
};

/* A .dyn file larger than this is not one we wrote: the dynamic data of a
 * zone is bounded by the update limits (docs/updates.md) far below it, and
 * reading a runaway file whole at start would only exhaust memory. */
#define DYN_FILE_MAX ((size_t)256 * 1024 * 1024)

static const uint8_t DYN_MAGIC[8] = {'S', 'O', 'V', 'D', 'Y', 'N', '1', '\n'};

/* Fixed part of a record after its owner: type, class, TTL, RDLENGTH. */
#define RR_FIXED 10

#define FNV_INIT 0xcbf29ce484222325ull

/* 64-bit FNV-1a over p[0..n), continuing from h (FNV_INIT to start): the
 * checksum journal.c puts at the end of its files, here also per record. */
static uint64_t fnv1a64(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* ------------------------------------------------------------ records */

/* One record, pointing into a zone or an entry's wire. */
struct rec {
	const uint8_t *owner; /* lowercased wire name */
	uint16_t type;
	uint32_t ttl_s;
	const uint8_t *rd; /* [RDLENGTH u16 BE][RDATA] */
};

static uint16_t rec_rdlen(const struct rec *r)
{
	return wire_read_u16(r->rd);
}

/* Owner, type, RDATA, then TTL: equal only for the same record as
 * journal_diff() compares them. */
static int rec_cmp(const void *pa, const void *pb)
{
	const struct rec *a = pa, *b = pb;
	size_t la = dname_len(a->owner), lb = dname_len(b->owner);
	int c = memcmp(a->owner, b->owner, la < lb ? la : lb);
	if (c != 0 || la != lb)
		return c != 0 ? c : (la < lb ? -1 : 1);
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	uint16_t ra = rec_rdlen(a), rb = rec_rdlen(b);
	c = memcmp(a->rd + 2, b->rd + 2, ra < rb ? ra : rb);
	if (c != 0 || ra != rb)
		return c != 0 ? c : (ra < rb ? -1 : 1);
	return a->ttl_s == b->ttl_s ? 0 : (a->ttl_s < b->ttl_s ? -1 : 1);
}

/* True if p[0..len) starts with an uncompressed wire name (its length in
 * *used): dname_len() trusts its input, a file is not trusted. */
static bool name_ok(const uint8_t *p, size_t len, size_t *used)
{
	size_t n = 0;
	while (n < len && n < DNAME_MAXLEN) {
		uint8_t l = p[n];
		if (l == 0) {
			*used = n + 1;
			return true;
		}
		if (l > DNAME_MAXLABEL)
			return false;
		n += 1u + l;
	}
	return false;
}

/* Where the serial sits in SOA RDATA rd[0..rdlen) (after MNAME and RNAME);
 * false when malformed. */
static bool soa_serial_off(const uint8_t *rd, size_t rdlen, size_t *off)
{
	size_t a = 0, b = 0;
	if (!name_ok(rd, rdlen, &a) || !name_ok(rd + a, rdlen - a, &b) || rdlen - a - b != 20)
		return false;
	*off = a + b;
	return true;
}

/* One entry split in its sections (pointers into its wire). */
struct parts {
	struct rec soa_old, soa_new;
	struct rec *del, *add; /* heap arrays */
	size_t ndel, nadd;
	size_t rdata_bytes; /* RDATA of del and add, SOAs excluded */
};

static void parts_clear(struct parts *p)
{
	free(p->del);
	free(p->add);
	memset(p, 0, sizeof(*p));
}

/* Splits wire[0..len) of zone `origin` into SOA(old), deleted, SOA(new),
 * added. SOV_OK, SOV_EPARSE (not such an entry), SOV_ENOMEM. */
static int parts_of(const uint8_t *wire, size_t len, const uint8_t *origin, struct parts *p)
{
	size_t off = 0, n = 0;
	unsigned soas = 0;
	const uint8_t *owner;
	zrrset_t one;
	int ret = SOV_EPARSE;
	memset(p, 0, sizeof(*p));
	/* Every record takes at least 11 bytes: an upper bound for both arrays. */
	size_t most = len / (1 + RR_FIXED) + 1;
	p->del = malloc(most * sizeof(*p->del));
	p->add = malloc(most * sizeof(*p->add));
	if (p->del == NULL || p->add == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}
	while (off < len) {
		if (!journal_rr_next(wire, len, &off, &owner, &one))
			goto finish;
		struct rec r = {owner, one.type, one.ttl_s, one.rdata};
		size_t so = 0;
		if (one.type == DNS_TYPE_SOA) {
			if (soas >= 2 || !dname_equal(owner, origin) ||
			    !soa_serial_off(one.rdata + 2, one.rdata_len - 2u, &so))
				goto finish;
			if (soas++ == 0)
				p->soa_old = r;
			else
				p->soa_new = r;
		} else if (n == 0) {
			goto finish; /* must start with the old SOA */
		} else {
			p->rdata_bytes += one.rdata_len - 2u;
			if (soas == 1)
				p->del[p->ndel++] = r;
			else
				p->add[p->nadd++] = r;
		}
		n++;
	}
	ret = soas == 2 ? SOV_OK : SOV_EPARSE;
finish:
	if (ret != SOV_OK)
		parts_clear(p);
	return ret;
}

/* The serial carried by SOA record r (checked by parts_of). */
static uint32_t rec_soa_serial(const struct rec *r)
{
	size_t so = 0;
	(void)soa_serial_off(r->rd + 2, rec_rdlen(r), &so);
	return wire_read_u32(r->rd + 2 + so);
}

/* Whether two SOA records are the same but perhaps for their serials. */
static bool soa_same_but_serial(const struct rec *a, const struct rec *b)
{
	size_t so = 0;
	uint16_t la = rec_rdlen(a);
	if (a->ttl_s != b->ttl_s || la != rec_rdlen(b) || !soa_serial_off(a->rd + 2, la, &so))
		return false;
	return memcmp(a->rd + 2, b->rd + 2, so) == 0 &&
	       memcmp(a->rd + 2 + so + 4, b->rd + 2 + so + 4, la - so - 4) == 0;
}

/* Whether z holds record r (an exact match, TTL included). */
static bool zone_holds(const zone_t *z, const struct rec *r)
{
	const znode_t *n = zone_find(z, r->owner);
	const zrrset_t *rs = n ? znode_rrset(n, r->type) : NULL;
	if (rs == NULL || rs->ttl_s != r->ttl_s)
		return false;
	uint16_t want = rec_rdlen(r);
	for (uint32_t off = 0; off + 2 <= rs->rdata_len;) {
		uint16_t rdlen = wire_read_u16(rs->rdata + off);
		if (rdlen == want && memcmp(rs->rdata + off + 2, r->rd + 2, rdlen) == 0)
			return true;
		off += 2u + rdlen;
	}
	return false;
}

/* The apex SOA of z as a record; false without one. */
static bool zone_soa(const zone_t *z, struct rec *out)
{
	const zrrset_t *soa = zone_has_data(z) ? znode_rrset(zone_node(z, 0), DNS_TYPE_SOA) : NULL;
	size_t so = 0;
	if (soa == NULL || soa->rdata_len < 2 ||
	    !soa_serial_off(soa->rdata + 2, wire_read_u16(soa->rdata), &so))
		return false;
	*out = (struct rec){z->origin, DNS_TYPE_SOA, soa->ttl_s, soa->rdata};
	return true;
}

/*
 * What a zone serves, apart from its SOA serial: the sum of a 64-bit
 * FNV-1a of every record (owner, type, TTL, RDATA; the apex SOA with its
 * serial zeroed). A sum, so that it does not depend on the order of nodes
 * and RRsets, and a restart can tell whether base + dynamic data is still
 * what was served before with only the .dyn file to go by. 64 bits: a
 * collision only costs a serial left unchanged over a change, at odds of
 * about 2^-64 per reload.
 */
static uint64_t content_digest(const zone_t *z)
{
	uint64_t sum = 0;
	for (uint32_t ni = 0; ni < z->node_count; ni++) {
		const znode_t *n = zone_node(z, ni);
		size_t ol = dname_len(n->owner);
		for (uint16_t k = 0; k < n->rrset_count; k++) {
			const zrrset_t *rs = &n->rrsets[k];
			uint8_t fixed[6];
			wire_write_u16(fixed, rs->type);
			wire_write_u32(fixed + 2, rs->ttl_s);
			for (uint32_t off = 0; off + 2 <= rs->rdata_len;) {
				uint16_t rdlen = wire_read_u16(rs->rdata + off);
				const uint8_t *rd = rs->rdata + off + 2;
				uint64_t h = fnv1a64(FNV_INIT, n->owner, ol);
				h = fnv1a64(h, fixed, sizeof(fixed));
				size_t so = 0;
				if (ni == 0 && rs->type == DNS_TYPE_SOA &&
				    soa_serial_off(rd, rdlen, &so)) {
					static const uint8_t zero[4];
					h = fnv1a64(h, rd, so);
					h = fnv1a64(h, zero, sizeof(zero));
					h = fnv1a64(h, rd + so + 4, rdlen - so - 4);
				} else {
					h = fnv1a64(h, rd, rdlen);
				}
				sum += h;
				off += 2u + rdlen;
			}
		}
	}
	return sum;
}

/* Whether an entry changes nothing: no record deleted or added and the
 * same SOA on both sides (serial included). */
static bool entry_empty(const struct journal_entry *e, const uint8_t *origin)
{
	struct parts p;
	if (e->deleted != 0 || e->added != 0 || parts_of(e->wire, e->len, origin, &p) != SOV_OK)
		return false;
	bool same = soa_same_but_serial(&p.soa_old, &p.soa_new) &&
		    rec_soa_serial(&p.soa_old) == rec_soa_serial(&p.soa_new);
	parts_clear(&p);
	return same;
}

/* ------------------------------------------------------------ files */

/*
 * The .dyn file: DYN_MAGIC, the origin (wire), the served serial (u32),
 * content_digest() of the zone served (u64), the entry's length (u32) and
 * wire (journal.h: SOA(base), deleted..., SOA(served), added...), then a
 * 64-bit FNV-1a of everything before it. All integers big-endian.
 */
static int dyn_encode(const uint8_t *origin, uint32_t serial, uint64_t digest,
		      const struct journal_entry *e, uint8_t **out, size_t *out_len)
{
	size_t ol = dname_len(origin);
	size_t len = sizeof(DYN_MAGIC) + ol + 4 + 8 + 4 + e->len + 8;
	uint8_t *b = malloc(len);
	*out = NULL;
	*out_len = 0;
	if (b == NULL)
		return SOV_ENOMEM;
	uint8_t *p = b;
	memcpy(p, DYN_MAGIC, sizeof(DYN_MAGIC));
	p += sizeof(DYN_MAGIC);
	memcpy(p, origin, ol);
	p += ol;
	wire_write_u32(p, serial);
	wire_write_u32(p + 4, (uint32_t)(digest >> 32));
	wire_write_u32(p + 8, (uint32_t)digest);
	wire_write_u32(p + 12, (uint32_t)e->len);
	p += 16;
	memcpy(p, e->wire, e->len);
	p += e->len;
	uint64_t h = fnv1a64(FNV_INIT, b, (size_t)(p - b));
	wire_write_u32(p, (uint32_t)(h >> 32));
	wire_write_u32(p + 4, (uint32_t)h);
	*out = b;
	*out_len = len;
	return SOV_OK;
}

/* Parses a .dyn file of zone `origin`: SOV_OK with *e (refs 1), *serial and
 * *digest; SOV_EPARSE with what is wrong in why; SOV_ENOMEM. */
static int dyn_decode(const uint8_t *buf, size_t len, const uint8_t *origin,
		      struct journal_entry **e, uint32_t *serial, uint64_t *digest, char *why,
		      size_t cap)
{
	size_t ol = dname_len(origin), nl = 0;
	struct parts p = {0};
	int ret = SOV_EPARSE;
	*e = NULL;
	if (len < sizeof(DYN_MAGIC) + 1 + 16 + 8 ||
	    memcmp(buf, DYN_MAGIC, sizeof(DYN_MAGIC)) != 0) {
		snprintf(why, cap, "not a file of dynamic data (no \"SOVDYN1\" header)");
		goto finish;
	}
	uint64_t h = fnv1a64(FNV_INIT, buf, len - 8);
	if (wire_read_u32(buf + len - 8) != (uint32_t)(h >> 32) ||
	    wire_read_u32(buf + len - 4) != (uint32_t)h) {
		snprintf(why, cap, "checksum mismatch (the file is damaged)");
		goto finish;
	}
	size_t at = sizeof(DYN_MAGIC), end = len - 8;
	if (!name_ok(buf + at, end - at, &nl) || nl != ol || memcmp(buf + at, origin, ol) != 0) {
		snprintf(why, cap, "holds the dynamic data of another zone");
		goto finish;
	}
	at += ol;
	if (end - at < 16) {
		snprintf(why, cap, "truncated header");
		goto finish;
	}
	uint32_t s = wire_read_u32(buf + at);
	uint64_t d = (uint64_t)wire_read_u32(buf + at + 4) << 32 | wire_read_u32(buf + at + 8);
	uint32_t elen = wire_read_u32(buf + at + 12);
	at += 16;
	if (end - at != elen) {
		snprintf(why, cap, "the recorded differences do not fill the file");
		goto finish;
	}
	ret = parts_of(buf + at, elen, origin, &p);
	if (ret == SOV_EPARSE || (ret == SOV_OK && rec_soa_serial(&p.soa_new) != s)) {
		snprintf(why, cap, "malformed differences");
		ret = SOV_EPARSE;
	}
	if (ret != SOV_OK)
		goto finish;
	struct journal_entry *n = calloc(1, sizeof(*n));
	uint8_t *w = malloc(elen);
	if (n == NULL || w == NULL) {
		free(n);
		free(w);
		ret = SOV_ENOMEM;
		goto finish;
	}
	memcpy(w, buf + at, elen);
	n->serial_from = rec_soa_serial(&p.soa_old);
	n->serial_to = s;
	n->deleted = (uint32_t)p.ndel;
	n->added = (uint32_t)p.nadd;
	n->len = elen;
	n->wire = w;
	atomic_init(&n->refs, 1);
	*e = n;
	*serial = s;
	*digest = d;
finish:
	parts_clear(&p);
	return ret;
}

/* "<dir>/<origin>.dyn" (journal_file_name()'s naming with our suffix). */
static char *dyn_path(const char *dir, const char *origin_str)
{
	char *path = journal_file_name(dir, origin_str);
	size_t n = path ? strlen(path) : 0;
	if (n >= 4)
		memcpy(path + n - 4, ".dyn", 4);
	return path;
}

/* The name of the dynamic data of z in messages: its file, or words for a
 * store in memory (a new string or NULL). */
static char *dyn_label(const update_store_t *st, const zone_t *z)
{
	if (st->dir != NULL)
		return dyn_path(st->dir, z->origin_str);
	size_t len = strlen(z->origin_str) + 40;
	char *s = malloc(len);
	if (s != NULL)
		snprintf(s, len, "dynamic data of %s (in memory)", z->origin_str);
	return s;
}

/* Creates <state_dir> and <state_dir>/updates (0700: the dynamic data is
 * the operator's zone content, not for other accounts to read). */
static int dir_make(const char *dir)
{
	int ret = SOV_OK;
	char *parent = strdup(dir);
	char *slash = parent ? strrchr(parent, '/') : NULL;
	if (parent == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}
	if (slash != NULL && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0700) != 0 && errno != EEXIST) {
			ret = SOV_EIO;
			goto finish;
		}
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		ret = SOV_EIO;
finish:
	free(parent);
	return ret;
}

/* Makes the .dyn file of zone z say (serial, digest, e), or removes it
 * when e is NULL. SOV_OK, SOV_EIO (errno says why), SOV_ENOMEM. */
static int dyn_save(const update_store_t *st, const zone_t *z, uint32_t serial, uint64_t digest,
		    const struct journal_entry *e, char *why, size_t cap)
{
	char *path = dyn_path(st->dir, z->origin_str);
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret = path ? SOV_OK : SOV_ENOMEM;
	if (ret != SOV_OK) {
		snprintf(why, cap, "out of memory");
		goto finish;
	}
	if (e == NULL) {
		if (unlink(path) != 0 && errno != ENOENT) {
			snprintf(why, cap, "cannot remove %s: %s", path, strerror(errno));
			ret = SOV_EIO;
		}
		goto finish;
	}
	ret = dir_make(st->dir);
	if (ret != SOV_OK) {
		snprintf(why, cap, "cannot create %s: %s", st->dir,
			 ret == SOV_EIO ? strerror(errno) : err_str(ret));
		goto finish;
	}
	ret = dyn_encode(z->origin, serial, digest, e, &buf, &len);
	if (ret == SOV_OK)
		ret = atomicfile_write(path, buf, len, 0600, 0);
	if (ret != SOV_OK)
		snprintf(why, cap, "cannot write %s: %s", path,
			 ret == SOV_EIO ? strerror(errno) : err_str(ret));
finish:
	free(buf);
	free(path);
	return ret;
}

/* ------------------------------------------------------------ the store */

update_store_t *update_store_new(const config_t *conf)
{
	update_store_t *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	const json_t *sd = conf->json ? json_object_get(conf->json, "state_dir") : NULL;
	if (json_is_string(sd) && json_string_length(sd) > 0) {
		char rel[4096];
		snprintf(rel, sizeof(rel), "%s/updates", json_string_value(sd));
		st->dir = path_beside(conf->path, rel);
		if (st->dir == NULL) {
			free(st);
			return NULL;
		}
	}
	return st;
}

static void slot_clear(struct uslot *sl)
{
	zone_free(sl->base);
	journal_entry_unref(sl->dyn);
	sl->base = NULL;
	sl->dyn = NULL;
}

void update_store_free(update_store_t *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->count; i++)
		slot_clear(&st->slots[i]);
	free(st->slots);
	free(st->dir);
	free(st);
}

bool update_store_durable(const update_store_t *st)
{
	return st->dir != NULL;
}

static struct uslot *slot_find(const update_store_t *st, const uint8_t *origin)
{
	for (size_t i = 0; i < st->count; i++)
		if (dname_equal(st->slots[i].origin, origin))
			return &st->slots[i];
	return NULL;
}

/* Room for one more slot (so that installing cannot fail half-way). */
static int slots_reserve(update_store_t *st, size_t more)
{
	if (st->count + more <= st->cap)
		return SOV_OK;
	size_t cap = st->cap ? st->cap : 8;
	while (cap < st->count + more)
		cap *= 2;
	struct uslot *m = realloc(st->slots, cap * sizeof(*m));
	if (m == NULL)
		return SOV_ENOMEM;
	st->slots = m;
	st->cap = cap;
	return SOV_OK;
}

/* A primary zone of s whose dynamic data the store keeps. */
static bool is_primary(const snapshot_t *s, size_t i, const zone_t *z)
{
	/* A catalog zone is written by sovdns from the configuration at every
	 * load: there is no operator's file to lay updates over. */
	return zone_has_data(z) && s->conf != NULL && i < s->conf->zone_count &&
	       !s->conf->zones[i].secondary && !s->conf->zones[i].catalog;
}

/* The outcome of one zone of an apply, installed only when all succeed. */
struct pending {
	size_t zi;
	size_t sl;		   /* index of its slot in st, or SIZE_MAX: a new one
				      (an index: reserving room may move the slots) */
	zone_t *served;		   /* owned: replaces s's zone zi; NULL: s's zone as it is */
	struct journal_entry *dyn; /* owned: the new dynamic data; NULL: none */
	uint32_t serial;
	uint64_t digest;
	bool save;   /* the .dyn file must be rewritten (or removed without dyn) */
	bool loaded; /* dyn came from the file at this apply */
};

/* Reads the .dyn file of z at first sight: SOV_OK with *e (NULL: no file),
 * SOV_EPARSE (diag says why), SOV_ENOMEM. */
static int dyn_load(const update_store_t *st, const zone_t *z, struct journal_entry **e,
		    uint32_t *serial, uint64_t *digest, diag_t *diag)
{
	*e = NULL;
	if (st->dir == NULL)
		return SOV_OK;
	char *path = dyn_path(st->dir, z->origin_str);
	char *buf = NULL;
	size_t len = 0;
	char why[256] = "";
	int ret = path ? atomicfile_read(path, DYN_FILE_MAX, &buf, &len) : SOV_ENOMEM;
	/* ENOTDIR: a component of the path is a file, so no update was ever
	 * stored there; the first commit reports the unusable directory. */
	if (ret == SOV_ENOENT || (ret == SOV_EIO && errno == ENOTDIR)) {
		ret = SOV_OK;
		goto finish;
	}
	if (ret == SOV_OK)
		ret = dyn_decode((const uint8_t *)buf, len, z->origin, e, serial, digest, why,
				 sizeof(why));
	else if (ret != SOV_ENOMEM)
		snprintf(why, sizeof(why), "cannot be read: %s",
			 ret == SOV_EIO ? strerror(errno) : err_str(ret));
	if (ret != SOV_OK && ret != SOV_ENOMEM) {
		/* Unreadable is as bad as malformed: starting without the
		 * updates would silently undo acknowledged changes. */
		diag_add_where(diag, path,
			       "%s; the dynamic data of zone %s cannot be laid over its file "
			       "(move the file aside to start from the zone file alone)",
			       why, z->origin_str);
		ret = SOV_EPARSE;
	} else if (ret == SOV_ENOMEM) {
		diag_add_where(diag, path ? path : z->origin_str, "out of memory");
	}
finish:
	free(buf);
	free(path);
	return ret;
}

/* Copies the problems of `from` into diag, each as "<label>: the zone file
 * <file> now conflicts with dynamic data: <problem>". `source` is the
 * builder's source name, which starts every message of `from`. */
static void conflicts_report(diag_t *diag, const diag_t *from, const char *source,
			     const char *label, const zone_t *base)
{
	size_t sl = strlen(source);
	for (size_t i = 0; i < diag_count(from); i++) {
		const char *m = diag_get(from, i);
		const char *p = strncmp(m, source, sl) == 0 ? strstr(m + sl, ": ") : NULL;
		diag_add_where(diag, label, "the zone file %s now conflicts with dynamic data: %s",
			       base->path, p ? p + 2 : m);
	}
	if (diag_count(from) == 0)
		diag_add_where(diag, label, "the zone file %s now conflicts with dynamic data",
			       base->path);
}

/*
 * Base + dynamic data (parts p), with serial `serial`, as zone zi of s
 * (its service names and rules). The SOA is the dynamic data's (an update
 * may have changed its timers) unless the file's SOA changed since the
 * dynamic data was recorded: then the operator's edit wins. SOV_OK and
 * *out; SOV_ESEMANTIC (diag says which rule broke), SOV_ENOMEM.
 */
static int served_build(const update_store_t *st, const snapshot_t *s, size_t zi,
			const zone_t *base, const struct parts *p, uint32_t serial, zone_t **out,
			diag_t *diag)
{
	static const char source[] = "dynamic data";
	zone_builder_t *b = NULL;
	diag_t *d = NULL;
	char *label = NULL;
	uint8_t soa_rd[2 * DNAME_MAXLEN + 20]; /* MNAME, RNAME, five u32 (RFC 1035 §3.3.13) */
	struct rec soa;
	size_t so = 0;
	int ret = SOV_ENOMEM;
	*out = NULL;
	if (!zone_soa(base, &soa)) {
		ret = SOV_EINVAL;
		goto finish;
	}
	const struct rec *use = soa_same_but_serial(&soa, &p->soa_old) ? &p->soa_new : &soa;
	uint16_t rdlen = rec_rdlen(use);
	if (rdlen > sizeof(soa_rd)) {
		ret = SOV_EINVAL; /* soa_serial_off() checked both: cannot happen */
		goto finish;
	}
	memcpy(soa_rd, use->rd + 2, rdlen);
	(void)soa_serial_off(soa_rd, rdlen, &so);
	wire_write_u32(soa_rd + so, serial);
	d = diag_new();
	if (d == NULL || zone_builder_new(base->origin_str, base->path, source, &b) != SOV_OK)
		goto finish;
	ret = zone_builder_add(b, base->origin, DNS_CLASS_IN, DNS_TYPE_SOA, use->ttl_s, soa_rd,
			       rdlen);
	for (uint32_t ni = 0; ret != SOV_ENOMEM && ni < base->node_count; ni++) {
		const znode_t *n = zone_node(base, ni);
		for (uint16_t k = 0; ret != SOV_ENOMEM && k < n->rrset_count; k++) {
			const zrrset_t *rs = &n->rrsets[k];
			if (ni == 0 && rs->type == DNS_TYPE_SOA)
				continue;
			for (uint32_t off = 0; ret != SOV_ENOMEM && off + 2 <= rs->rdata_len;) {
				struct rec r = {n->owner, rs->type, rs->ttl_s, rs->rdata + off};
				off += 2u + rec_rdlen(&r);
				if (p->ndel > 0 && bsearch(&r, p->del, p->ndel, sizeof(r), rec_cmp))
					continue; /* deleted by an update */
				ret = zone_builder_add(b, r.owner, DNS_CLASS_IN, r.type, r.ttl_s,
						       r.rd + 2, rec_rdlen(&r));
			}
		}
	}
	for (size_t i = 0; ret != SOV_ENOMEM && i < p->nadd; i++) {
		const struct rec *r = &p->add[i];
		if (zone_holds(base, r))
			continue; /* the file has it now */
		ret = zone_builder_add(b, r->owner, DNS_CLASS_IN, r->type, r->ttl_s, r->rd + 2,
				       rec_rdlen(r));
	}
	if (ret == SOV_ENOMEM)
		goto finish;
	ret = snapshot_finish_zone(s, zi, b, out, d);
	b = NULL;
	if (ret == SOV_ESEMANTIC || ret == SOV_EINVAL) {
		label = dyn_label(st, base);
		conflicts_report(diag, d, source, label ? label : base->origin_str, base);
		ret = SOV_ESEMANTIC;
	}
finish:
	if (ret == SOV_ENOMEM)
		diag_add_where(diag, base->origin_str,
			       "out of memory laying dynamic data over the zone file");
	zone_builder_free(b);
	diag_free(d);
	free(label);
	return ret;
}

static const zone_t *zone_in(const snapshot_t *snap, const uint8_t *origin)
{
	for (size_t k = 0; k < zonedb_count(snap->zones); k++) {
		const zone_t *o = zonedb_get(snap->zones, k);
		if (dname_equal(o->origin, origin))
			return o;
	}
	return NULL;
}

/* Works out zone zi of s (a primary) into *pd without touching st or s. */
static int zone_prepare(const update_store_t *st, const snapshot_t *old, const snapshot_t *s,
			size_t zi, struct pending *pd, diag_t *diag)
{
	const zone_t *base = zonedb_get(s->zones, zi);
	struct journal_entry *cur = NULL; /* the dynamic data until now (owned) */
	uint32_t before_serial = 0;
	uint64_t before_digest = 0;
	struct parts p = {0};
	zone_t *z = NULL;
	int ret = SOV_OK;
	memset(pd, 0, sizeof(*pd));
	const struct uslot *sl = slot_find(st, base->origin);
	pd->zi = zi;
	pd->sl = sl ? (size_t)(sl - st->slots) : SIZE_MAX;
	if (sl != NULL && sl->dyn != NULL) {
		atomic_fetch_add(&sl->dyn->refs, 1);
		cur = sl->dyn;
		before_serial = sl->served_serial;
		before_digest = sl->served_digest;
	} else if (sl == NULL) {
		ret = dyn_load(st, base, &cur, &before_serial, &before_digest, diag);
		pd->loaded = cur != NULL;
	}
	if (ret != SOV_OK || cur == NULL)
		goto finish;
	/* What was served before: old's zone when there is one, else what
	 * the store recorded (at a start: the .dyn file). */
	const zone_t *o = old ? zone_in(old, base->origin) : NULL;
	if (o != NULL && zone_has_data(o)) {
		before_serial = o->serial;
		before_digest = content_digest(o);
	}
	ret = parts_of(cur->wire, cur->len, base->origin, &p);
	if (ret == SOV_EPARSE)
		ret = SOV_EINVAL; /* our own entry: cannot happen */
	if (ret != SOV_OK)
		goto finish;
	qsort(p.del, p.ndel, sizeof(*p.del), rec_cmp); /* served_build() bsearches it */
	uint32_t serial = before_serial;
	bool file_ahead = dns_serial_lt(before_serial, base->serial);
	if (file_ahead)
		serial = base->serial;
	ret = served_build(st, s, zi, base, &p, serial, &z, diag);
	if (ret == SOV_OK && !file_ahead && content_digest(z) != before_digest) {
		/* The file changed without a higher serial: one more, so that
		 * secondaries see the change (RFC 1982 wraps). */
		zone_free(z);
		z = NULL;
		serial = before_serial + 1;
		ret = served_build(st, s, zi, base, &p, serial, &z, diag);
	}
	if (ret != SOV_OK)
		goto finish;
	ret = journal_diff(base, NULL, z, NULL, &pd->dyn);
	if (ret != SOV_OK)
		goto finish;
	pd->serial = z->serial;
	pd->digest = content_digest(z);
	if (entry_empty(pd->dyn, base->origin)) {
		/* The file now says everything the updates did, serial
		 * included: serve it as it is. */
		journal_entry_unref(pd->dyn);
		pd->dyn = NULL;
		pd->save = true;
		goto finish;
	}
	pd->save = pd->loaded || cur->len != pd->dyn->len ||
		   memcmp(cur->wire, pd->dyn->wire, cur->len) != 0 || before_serial != pd->serial ||
		   before_digest != pd->digest;
	pd->served = z;
	z = NULL;
finish:
	if (ret == SOV_EINVAL || ret == SOV_ENOMEM)
		diag_add_where(diag, base->origin_str,
			       "cannot lay the dynamic data over the zone file: %s", err_str(ret));
	parts_clear(&p);
	zone_free(z);
	journal_entry_unref(cur);
	return ret;
}

/* A zonedb like s's with the served zones of pd in place of the files'. */
static int zones_replace(const snapshot_t *s, const struct pending *pd, size_t npd, zonedb_t **out)
{
	*out = NULL;
	zonedb_t *db = zonedb_new();
	int ret = db ? SOV_OK : SOV_ENOMEM;
	for (size_t i = 0; ret == SOV_OK && i < zonedb_count(s->zones); i++) {
		const zone_t *z = zonedb_get(s->zones, i);
		for (size_t k = 0; k < npd; k++)
			if (pd[k].zi == i && pd[k].served != NULL)
				z = pd[k].served;
		zone_t *r = zone_ref(z);
		ret = zonedb_add(db, r);
		if (ret != SOV_OK)
			zone_free(r);
	}
	if (ret == SOV_OK)
		ret = zonedb_finish(db);
	if (ret == SOV_OK)
		*out = db;
	else
		zonedb_free(db);
	return ret;
}

/* Puts pd into the store (its slot reserved) and writes its file. */
static void pending_install(update_store_t *st, const zone_t *base, struct pending *pd)
{
	struct uslot *sl = pd->sl != SIZE_MAX ? &st->slots[pd->sl] : NULL;
	if (sl == NULL) {
		sl = &st->slots[st->count++];
		memset(sl, 0, sizeof(*sl));
		memcpy(sl->origin, base->origin, base->origin_len);
	}
	sl->seen = true;
	zone_free(sl->base);
	sl->base = zone_ref(base);
	journal_entry_unref(sl->dyn);
	sl->dyn = pd->dyn;
	pd->dyn = NULL;
	sl->served_serial = pd->serial;
	sl->served_digest = pd->digest;
	if (sl->dyn != NULL)
		log_info("update",
			 "%s: serving serial %u, the zone file (serial %u) with %u "
			 "records deleted and %u added by updates",
			 base->origin_str, sl->served_serial, base->serial, sl->dyn->deleted,
			 sl->dyn->added);
	else if (pd->save)
		log_info("update",
			 "%s: the zone file (serial %u) now holds every change updates made; "
			 "no dynamic data left",
			 base->origin_str, base->serial);
	if (pd->save && st->dir != NULL) {
		char why[512];
		if (dyn_save(st, base, sl->served_serial, sl->served_digest, sl->dyn, why,
			     sizeof(why)) != SOV_OK)
			/* The old file still lays over the zone file to the same
			 * records; only the serial after a restart may differ. */
			log_warn("update", "%s: %s; the previous dynamic data file stays",
				 base->origin_str, why);
	}
}

int update_store_apply(update_store_t *st, const snapshot_t *old, snapshot_t *s, diag_t *diag)
{
	size_t n = zonedb_count(s->zones), npd = 0, fresh = 0;
	struct pending *pd = calloc(n + 1, sizeof(*pd));
	zonedb_t *db = NULL;
	bool replace = false;
	int ret = pd ? SOV_OK : SOV_ENOMEM;
	if (ret != SOV_OK) {
		diag_add_where(diag, "updates", "out of memory applying dynamic data");
		goto finish;
	}
	/* Every zone even after a failure, so that one reload reports every
	 * conflict; the first error is returned. */
	for (size_t i = 0; i < n; i++) {
		if (!is_primary(s, i, zonedb_get(s->zones, i)))
			continue;
		int r = zone_prepare(st, old, s, i, &pd[npd], diag);
		if (r == SOV_OK) {
			fresh += pd[npd].sl == SIZE_MAX;
			replace = replace || pd[npd].served != NULL;
			npd++;
		} else if (ret == SOV_OK) {
			ret = r;
		}
	}
	if (ret == SOV_OK)
		ret = slots_reserve(st, fresh);
	if (ret == SOV_OK && replace)
		ret = zones_replace(s, pd, npd, &db);
	if (ret == SOV_ENOMEM)
		diag_add_where(diag, "updates", "out of memory applying dynamic data");
	if (ret != SOV_OK)
		goto finish;

	for (size_t i = 0; i < st->count; i++)
		st->slots[i].seen = false;
	for (size_t k = 0; k < npd; k++)
		pending_install(st, zonedb_get(s->zones, pd[k].zi), &pd[k]);
	if (db != NULL) {
		zonedb_free(s->zones); /* the files' zones live on as bases */
		s->zones = db;
		db = NULL;
	}
	/* Zones no longer primaries here: forgotten, their files left for a
	 * configuration that serves them again (read and checked then). */
	size_t w = 0;
	for (size_t i = 0; i < st->count; i++) {
		struct uslot *sl = &st->slots[i];
		if (sl->seen) {
			st->slots[w++] = *sl;
			continue;
		}
		if (sl->dyn != NULL) {
			char name[DNAME_STR_MAX];
			if (dname_to_str(sl->origin, name, sizeof(name)) < 0)
				snprintf(name, sizeof(name), "?");
			log_warn("update",
				 "%s: no longer a primary zone here: its dynamic data (%u records "
				 "deleted, %u added) is no longer served%s",
				 name, sl->dyn->deleted, sl->dyn->added,
				 st->dir ? " (its file stays, and is laid over the zone file again "
					   "if the zone becomes a primary again)"
					 : " and is lost (no \"state_dir\")");
		}
		slot_clear(sl);
	}
	st->count = w;
finish:
	for (size_t k = 0; k < npd; k++) {
		zone_free(pd[k].served);
		journal_entry_unref(pd[k].dyn);
	}
	free(pd);
	zonedb_free(db);
	return ret;
}

int update_store_commit(update_store_t *st, const snapshot_t *s, size_t zone_idx, const zone_t *nz,
			char *why, size_t cap)
{
	const zone_t *z = zone_idx < zonedb_count(s->zones) ? zonedb_get(s->zones, zone_idx) : NULL;
	struct uslot *sl = z ? slot_find(st, z->origin) : NULL;
	struct journal_entry *e = NULL;
	int ret = SOV_ENOENT;
	if (sl == NULL || sl->base == NULL || !dname_equal(nz->origin, sl->origin)) {
		snprintf(why, cap, "not a primary zone of this server");
		goto finish;
	}
	ret = journal_diff(sl->base, NULL, nz, NULL, &e);
	if (ret != SOV_OK) {
		snprintf(why, cap, "cannot compute the differences from the zone file: %s",
			 err_str(ret));
		goto finish;
	}
	if (entry_empty(e, sl->origin)) {
		journal_entry_unref(e);
		e = NULL;
	}
	uint64_t digest = content_digest(nz);
	if (st->dir != NULL) {
		ret = dyn_save(st, sl->base, nz->serial, digest, e, why, cap);
		if (ret != SOV_OK)
			goto finish;
	}
	journal_entry_unref(sl->dyn);
	sl->dyn = e;
	e = NULL;
	sl->served_serial = nz->serial;
	sl->served_digest = digest;
	ret = SOV_OK;
finish:
	journal_entry_unref(e);
	return ret;
}

void update_store_size(const update_store_t *st, const uint8_t *origin, size_t *records,
		       size_t *bytes)
{
	const struct uslot *sl = slot_find(st, origin);
	struct parts p;
	*records = 0;
	*bytes = 0;
	if (sl != NULL && sl->dyn != NULL &&
	    parts_of(sl->dyn->wire, sl->dyn->len, origin, &p) == SOV_OK) {
		*records = p.ndel + p.nadd;
		*bytes = p.rdata_bytes;
		parts_clear(&p);
	}
}
