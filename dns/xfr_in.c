/* xfr_in.c — the checks and states of one incoming transfer (xfr_in.h).
 *
 * Messages are decoded with ldns (ldns_wire2pkt: names, compression and
 * every RR type's RDATA); records are written with ldns_rr_print, the
 * form our zone parser reads back. For an incremental reply our copy is
 * held in an ldns red-black tree keyed by the record without its TTL
 * (canonical form, RFC 4034 §6.2), so a deletion matches whatever TTL it
 * carries (RFC 1995 §4 compares records, not TTLs).
 */
#include "dns/xfr_in.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "dns/zone.h"
#include "wire/dname.h"
#include "wire/wire.h"

enum state {
	ST_START,     /* nothing yet: the first record must be our SOA */
	ST_FIRST_SOA, /* SOA(S) seen: up to date, a full zone or differences */
	ST_FULL,      /* inside a full zone */
	ST_DEL,	      /* inside a difference's deletions */
	ST_ADD,	      /* inside a difference's additions */
	ST_END,	      /* the last SOA was seen */
	ST_FAILED,
};

struct xfr_in {
	struct xfr_in_params p;
	ldns_rdf *origin;
	enum state st;
	enum xfr_in_kind kind;
	uint32_t serial;	/* S: the primary's version */
	uint32_t version;	/* incremental: the version the additions make */
	ldns_rr *soa;		/* the first SOA (S) */
	ldns_rr *cur_soa;	/* incremental: the SOA of the current version */
	ldns_rbtree_t *have;	/* incremental: our copy, key -> full line */
	ldns_rbtree_t *diff;	/* incremental into build: key -> struct diff_rec */
	ldns_rbtree_t *touched; /* incremental into build: owners (lowercased text) */
	uint64_t records;
	unsigned messages;
	unsigned rcode;
	char err[256];
};

static enum xfr_in_status fail(struct xfr_in *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static enum xfr_in_status fail(struct xfr_in *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->err, sizeof(x->err), fmt, ap);
	va_end(ap);
	x->st = ST_FAILED;
	return XFR_IN_FAILED;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void node_free(ldns_rbnode_t *n, void *arg)
{
	(void)arg;
	free((void *)n->key);
	free((void *)n->data);
	free(n);
}

struct xfr_in *xfr_in_new(const struct xfr_in_params *p)
{
	struct xfr_in *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->p = *p;
	if (x->p.max_records == 0)
		x->p.max_records = XFR_IN_DEFAULT_MAX_RECORDS;
	x->origin = ldns_dname_new_frm_data((uint16_t)dname_len(p->origin), p->origin);
	if (x->origin == NULL) {
		free(x);
		return NULL;
	}
	return x;
}

/* What the differences did to one record (by its key), incremental into build. */
struct diff_rec {
	bool present; /* after the differences so far */
	ldns_rr *rr;  /* when present: the record as added (with its TTL) */
};

static void diff_node_free(ldns_rbnode_t *n, void *arg)
{
	(void)arg;
	struct diff_rec *d = (struct diff_rec *)n->data;
	if (d != NULL)
		ldns_rr_free(d->rr);
	free(d);
	free((void *)n->key);
	free(n);
}

static void tree_free(ldns_rbtree_t *t, void (*f)(ldns_rbnode_t *, void *))
{
	if (t == NULL)
		return;
	ldns_traverse_postorder(t, f, NULL);
	ldns_rbtree_free(t);
}

void xfr_in_free(struct xfr_in *x)
{
	if (x == NULL)
		return;
	tree_free(x->diff, diff_node_free);
	tree_free(x->touched, diff_node_free);
	if (x->have != NULL) {
		ldns_traverse_postorder(x->have, node_free, NULL);
		ldns_rbtree_free(x->have);
	}
	ldns_rr_free(x->soa);
	ldns_rr_free(x->cur_soa);
	ldns_rdf_deep_free(x->origin);
	free(x);
}

const char *xfr_in_error(const struct xfr_in *x)
{
	return x->err;
}

unsigned xfr_in_rcode(const struct xfr_in *x)
{
	return x->rcode;
}

enum xfr_in_kind xfr_in_kind(const struct xfr_in *x)
{
	return x->kind;
}

uint32_t xfr_in_serial(const struct xfr_in *x)
{
	return x->serial;
}

uint64_t xfr_in_records(const struct xfr_in *x)
{
	return x->records;
}

unsigned xfr_in_messages(const struct xfr_in *x)
{
	return x->messages;
}

static bool is_soa_of_zone(const struct xfr_in *x, const ldns_rr *rr)
{
	return ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) == 7 &&
	       ldns_dname_compare(ldns_rr_owner(rr), x->origin) == 0;
}

static uint32_t soa_serial(const ldns_rr *rr)
{
	return ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
}

/* A/AAAA at one of the zone's service names: answered from our own geo
 * configuration, not from the primary's static sets. */
static bool skipped(const struct xfr_in *x, const ldns_rr *rr)
{
	ldns_rr_type t = ldns_rr_get_type(rr);
	if (x->p.skip_count == 0 || (t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA))
		return false;
	const ldns_rdf *o = ldns_rr_owner(rr);
	size_t n = ldns_rdf_size(o);
	if (n == 0 || n > DNAME_MAXLEN)
		return false;
	const uint8_t *raw = ldns_rdf_data(o);
	if (raw[n - 1] != 0)
		return false;
	for (size_t i = 0; i < x->p.skip_count; i++) /* dname_equal ignores case */
		if (dname_equal(raw, x->p.skip_names[i]))
			return true;
	return false;
}

/* A record any transfer may carry: class IN, inside the zone, not a meta
 * or query type (RFC 6895 §3.1). NULL when fine, else why not. */
static const char *record_problem(const struct xfr_in *x, const ldns_rr *rr)
{
	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
		return "a record of a class other than IN";
	ldns_rr_type t = ldns_rr_get_type(rr);
	if (t == LDNS_RR_TYPE_OPT || t == LDNS_RR_TYPE_TSIG || t == LDNS_RR_TYPE_TKEY ||
	    (t >= LDNS_RR_TYPE_IXFR && t <= LDNS_RR_TYPE_ANY))
		return "a meta or query type in the answer section";
	const ldns_rdf *o = ldns_rr_owner(rr);
	if (ldns_dname_compare(o, x->origin) != 0 && !ldns_dname_is_subdomain(o, x->origin))
		return "a record outside the zone";
	return NULL;
}

/* The key of a record in our copy: canonical presentation form without
 * TTL. *line gets the record as it is (with TTL), to write back. */
static char *record_key(const ldns_rr *rr, char **line)
{
	*line = NULL;
	ldns_rr *c = ldns_rr_clone(rr);
	if (c == NULL)
		return NULL;
	ldns_rr2canonical(c);
	ldns_rr_set_ttl(c, 0);
	char *k = ldns_rr2str(c);
	ldns_rr_free(c);
	if (k != NULL && (*line = ldns_rr2str(rr)) == NULL) {
		free(k);
		k = NULL;
	}
	return k;
}

/* Adds rr to our copy. SOV-style: 0, or -1 with x failed. */
static int have_add(struct xfr_in *x, const ldns_rr *rr, const char *what)
{
	char *line = NULL;
	char *k = record_key(rr, &line);
	ldns_rbnode_t *n = k ? malloc(sizeof(*n)) : NULL;
	if (n == NULL) {
		free(k);
		free(line);
		fail(x, "out of memory applying the differences");
		return -1;
	}
	n->key = k;
	n->data = line;
	if (ldns_rbtree_insert(x->have, n) == NULL) {
		char shown[160];
		snprintf(shown, sizeof(shown), "%s", line);
		shown[strcspn(shown, "\n")] = 0;
		node_free(n, NULL);
		fail(x, "%s adds a record we already have: %s", what, shown);
		return -1;
	}
	return 0;
}

static int have_del(struct xfr_in *x, const ldns_rr *rr)
{
	char *line = NULL;
	char *k = record_key(rr, &line);
	if (k == NULL) {
		fail(x, "out of memory applying the differences");
		return -1;
	}
	ldns_rbnode_t *n = ldns_rbtree_delete(x->have, k);
	if (n == NULL) {
		line[strcspn(line, "\n")] = 0;
		fail(x, "the difference to serial %u deletes a record we do not have: %.120s",
		     x->version, line);
		free(k);
		free(line);
		return -1;
	}
	node_free(n, NULL);
	free(k);
	free(line);
	return 0;
}

/* Reads our copy (the file we wrote at the last transfer) into x->have. */
static int have_load(struct xfr_in *x)
{
	if (x->p.have_path == NULL) {
		fail(x, "an incremental reply, but we have no copy to apply it to");
		return -1;
	}
	FILE *f = fopen(x->p.have_path, "r");
	if (f == NULL) {
		fail(x, "cannot read our copy %s to apply the differences", x->p.have_path);
		return -1;
	}
	x->have = ldns_rbtree_create(key_cmp);
	uint32_t ttl = 3600;
	ldns_rdf *origin = ldns_rdf_clone(x->origin), *prev = NULL;
	int line = 0, ret = 0;
	bool have_soa = false;
	while (ret == 0 && x->have != NULL && !feof(f)) {
		ldns_rr *rr = NULL;
		ldns_status s = ldns_rr_new_frm_fp_l(&rr, f, &ttl, &origin, &prev, &line);
		if (s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL ||
		    s == LDNS_STATUS_SYNTAX_ORIGIN)
			continue;
		if (s != LDNS_STATUS_OK) {
			fail(x, "%s:%d: our copy does not read back (%s)", x->p.have_path, line,
			     ldns_get_errorstr_by_id(s));
			ret = -1;
		} else if (is_soa_of_zone(x, rr) && !have_soa) {
			have_soa = true;
			if (soa_serial(rr) != x->p.have_serial) {
				fail(x, "our copy %s has serial %u, not %u", x->p.have_path,
				     soa_serial(rr), x->p.have_serial);
				ret = -1;
			}
		} else if (!skipped(x, rr)) {
			ret = have_add(x, rr, "our copy");
		}
		ldns_rr_free(rr);
	}
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	fclose(f);
	if (ret == 0 && x->have == NULL) {
		fail(x, "out of memory reading our copy");
		ret = -1;
	}
	if (ret == 0 && !have_soa) {
		fail(x, "our copy %s has no SOA", x->p.have_path);
		ret = -1;
	}
	return ret;
}

/* Every record has its TTL; $TTL only keeps the loader from warning. */
static void write_header(struct xfr_in *x)
{
	fputs("; received by zone transfer (sovdns); rewritten at every transfer\n$TTL 3600\n",
	      x->p.out);
}

/* One record of a full zone into the builder. 0, or -1 with x failed. */
static int build_add(struct xfr_in *x, const uint8_t *owner, uint16_t cls, uint16_t type,
		     uint32_t ttl, const uint8_t *rdata, size_t rdlen)
{
	/* A record the file rules refuse is noted by the builder and reported
	 * when it is finished; only running out of memory stops here. */
	if (zone_builder_add(x->p.build, owner, cls, type, ttl, rdata, rdlen) == SOV_ENOMEM) {
		fail(x, "out of memory building the received zone");
		return -1;
	}
	return 0;
}

/* build_add() for a record decoded by ldns: its rdfs back to back are the
 * RDATA uncompressed (what ldns_rr_rdata2buffer_wire writes). */
static int build_rr(struct xfr_in *x, const ldns_rr *rr)
{
	uint8_t rd[65536];
	size_t len = 0;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		if (f == NULL || ldns_rdf_size(f) == 0)
			continue;
		if (len + ldns_rdf_size(f) > sizeof(rd)) {
			fail(x, "a record with more than 65535 bytes of RDATA");
			return -1;
		}
		memcpy(rd + len, ldns_rdf_data(f), ldns_rdf_size(f));
		len += ldns_rdf_size(f);
	}
	const ldns_rdf *o = ldns_rr_owner(rr);
	if (o == NULL || ldns_rdf_size(o) == 0 || ldns_rdf_size(o) > DNAME_MAXLEN) {
		fail(x, "a record with a malformed owner name");
		return -1;
	}
	return build_add(x, ldns_rdf_data(o), (uint16_t)ldns_rr_get_class(rr),
			 (uint16_t)ldns_rr_get_type(rr), ldns_rr_ttl(rr), rd, len);
}

static int write_rr(struct xfr_in *x, const ldns_rr *rr)
{
	bool to_builder = x->p.build != NULL && x->kind != XFR_IN_INCREMENTAL;
	if (x->records == 0 && x->kind != XFR_IN_INCREMENTAL && !to_builder)
		write_header(x);
	if (++x->records > x->p.max_records) {
		fail(x, "more than %llu records: refused (a primary that never ends?)",
		     (unsigned long long)x->p.max_records);
		return -1;
	}
	if (to_builder)
		return build_rr(x, rr);
	ldns_rr_print(x->p.out, rr);
	if (ferror(x->p.out)) {
		fail(x, "cannot write the received zone");
		return -1;
	}
	return 0;
}

/* The end of an incremental reply: our copy becomes the file. */
static int write_have(struct xfr_in *x)
{
	if (x->p.out == NULL) {
		fail(x, "an incremental reply, but no file to write the result to");
		return -1;
	}
	write_header(x);
	ldns_rr_print(x->p.out, x->cur_soa);
	x->records = 1;
	for (ldns_rbnode_t *n = ldns_rbtree_first(x->have); n != LDNS_RBTREE_NULL;
	     n = ldns_rbtree_next(n)) {
		fputs(n->data, x->p.out);
		x->records++;
	}
	if (ferror(x->p.out)) {
		fail(x, "cannot write the received zone");
		return -1;
	}
	return 0;
}

/* ---- incremental into the builder: only the differences are held ---- */

/* Keys of x->touched: [length][lowercased wire name], compared as bytes. */
static int owner_cmp(const void *a, const void *b)
{
	const uint8_t *p = a, *q = b;
	if (p[0] != q[0])
		return p[0] < q[0] ? -1 : 1;
	return memcmp(p + 1, q + 1, p[0]);
}

static uint8_t *owner_key(const uint8_t *name, uint8_t buf[DNAME_MAXLEN + 1])
{
	size_t n = dname_len(name);
	buf[0] = (uint8_t)n;
	dname_lower(buf + 1, name);
	return buf;
}

/* Whether the zone we serve has rr (compared as the file way does: the
 * canonical form without TTL, key k). -1: out of memory. */
static int base_has(const struct xfr_in *x, const ldns_rr *rr, const char *k)
{
	const ldns_rdf *o = ldns_rr_owner(rr);
	uint8_t lname[DNAME_MAXLEN];
	if (ldns_rdf_size(o) == 0 || ldns_rdf_size(o) > DNAME_MAXLEN)
		return 0;
	dname_lower(lname, ldns_rdf_data(o));
	const znode_t *n = zone_find(x->p.have_zone, lname);
	const zrrset_t *rs = n ? znode_rrset(n, (uint16_t)ldns_rr_get_type(rr)) : NULL;
	const uint8_t *rd = rs ? rs->rdata : NULL;
	for (uint16_t i = 0; rs != NULL && i < rs->count; i++) {
		ldns_rr *c = zone_rr_ldns(n->owner, rs->type, rs->ttl_s, rd);
		char *line = NULL, *ck = c ? record_key(c, &line) : NULL;
		ldns_rr_free(c);
		free(line);
		if (ck == NULL)
			return -1;
		bool same = strcmp(ck, k) == 0;
		free(ck);
		if (same)
			return 1;
		rd += 2 + (size_t)(rd[0] << 8 | rd[1]);
	}
	return 0;
}

/* One deletion (add false) or addition of a difference. 0, or -1 with x failed. */
static int diff_apply(struct xfr_in *x, const ldns_rr *rr, bool add)
{
	char *line = NULL;
	char *k = record_key(rr, &line);
	int ret = -1;
	if (k == NULL) {
		fail(x, "out of memory applying the differences");
		goto finish;
	}
	ldns_rbnode_t *n = ldns_rbtree_search(x->diff, k);
	int present = n ? ((struct diff_rec *)n->data)->present : base_has(x, rr, k);
	if (present < 0) {
		fail(x, "out of memory applying the differences");
		goto finish;
	}
	if (add && present) {
		line[strcspn(line, "\n")] = 0;
		fail(x, "a difference adds a record we already have: %.150s", line);
		goto finish;
	}
	if (!add && !present) {
		line[strcspn(line, "\n")] = 0;
		fail(x, "the difference to serial %u deletes a record we do not have: %.120s",
		     x->version, line);
		goto finish;
	}
	if (n == NULL) {
		n = calloc(1, sizeof(*n));
		struct diff_rec *d = calloc(1, sizeof(*d));
		if (n == NULL || d == NULL) {
			free(n);
			free(d);
			fail(x, "out of memory applying the differences");
			goto finish;
		}
		n->key = k;
		n->data = d;
		k = NULL;
		(void)ldns_rbtree_insert(x->diff, n);
		uint8_t buf[DNAME_MAXLEN + 1];
		owner_key(ldns_rdf_data(ldns_rr_owner(rr)), buf);
		if (ldns_rbtree_search(x->touched, buf) == NULL) {
			ldns_rbnode_t *t = calloc(1, sizeof(*t));
			uint8_t *tk = malloc((size_t)buf[0] + 1);
			if (t == NULL || tk == NULL) {
				free(t);
				free(tk);
				fail(x, "out of memory applying the differences");
				goto finish;
			}
			memcpy(tk, buf, (size_t)buf[0] + 1);
			t->key = tk;
			(void)ldns_rbtree_insert(x->touched, t);
		}
	}
	struct diff_rec *d = (struct diff_rec *)n->data;
	ldns_rr_free(d->rr);
	d->rr = add ? ldns_rr_clone(rr) : NULL;
	d->present = add;
	if (add && d->rr == NULL) {
		d->present = false;
		fail(x, "out of memory applying the differences");
		goto finish;
	}
	ret = 0;
finish:
	free(k);
	free(line);
	return ret;
}

/* The end of an incremental reply into the builder: the new SOA, every
 * record of the zone we serve that no difference touched, then what the
 * differences left present. */
static int build_have(struct xfr_in *x)
{
	const zone_t *z = x->p.have_zone;
	x->records = 0;
	if (build_rr(x, x->cur_soa) < 0)
		return -1;
	x->records++;
	for (uint32_t i = 0; i < z->node_count; i++) {
		const znode_t *n = &z->nodes[i];
		uint8_t buf[DNAME_MAXLEN + 1];
		bool touched = n->rrset_count > 0 &&
			       ldns_rbtree_search(x->touched, owner_key(n->owner, buf)) != NULL;
		for (uint16_t k = 0; k < n->rrset_count; k++) {
			const zrrset_t *rs = &n->rrsets[k];
			if (i == 0 && rs->type == LDNS_RR_TYPE_SOA)
				continue;
			const uint8_t *rd = rs->rdata;
			for (uint16_t j = 0; j < rs->count; j++) {
				size_t len = (size_t)(rd[0] << 8 | rd[1]);
				bool keep = true;
				if (touched) {
					ldns_rr *c =
					    zone_rr_ldns(n->owner, rs->type, rs->ttl_s, rd);
					char *line = NULL, *ck = c ? record_key(c, &line) : NULL;
					ldns_rr_free(c);
					free(line);
					if (ck == NULL) {
						fail(x, "out of memory applying the differences");
						return -1;
					}
					keep = ldns_rbtree_search(x->diff, ck) == NULL;
					free(ck);
				}
				if (keep) {
					if (build_add(x, n->owner, LDNS_RR_CLASS_IN, rs->type,
						      rs->ttl_s, rd + 2, len) < 0)
						return -1;
					x->records++;
				}
				rd += 2 + len;
			}
		}
	}
	for (ldns_rbnode_t *n = ldns_rbtree_first(x->diff); n != LDNS_RBTREE_NULL;
	     n = ldns_rbtree_next(n)) {
		const struct diff_rec *d = (const struct diff_rec *)n->data;
		if (!d->present)
			continue;
		if (build_rr(x, d->rr) < 0)
			return -1;
		x->records++;
	}
	return 0;
}

/* Starts applying differences: into the builder from the zone we serve,
 * or (the file way) to our copy read into x->have. */
static int diff_start(struct xfr_in *x)
{
	if (x->p.build == NULL || x->p.have_zone == NULL)
		return have_load(x);
	if (!zone_has_data(x->p.have_zone) || x->p.have_zone->serial != x->p.have_serial) {
		fail(x, "the zone we serve is not at serial %u", x->p.have_serial);
		return -1;
	}
	x->diff = ldns_rbtree_create(key_cmp);
	x->touched = ldns_rbtree_create(owner_cmp);
	if (x->diff == NULL || x->touched == NULL) {
		fail(x, "out of memory applying the differences");
		return -1;
	}
	return 0;
}

/* One answer record, through the states of xfr_in.h. */
static int step(struct xfr_in *x, const ldns_rr *rr)
{
	bool soa = is_soa_of_zone(x, rr);
	const char *why = record_problem(x, rr);
	if (why != NULL) {
		char *text = ldns_rr2str(rr);
		if (text != NULL)
			text[strcspn(text, "\n")] = 0;
		fail(x, "%s: %.150s", why, text ? text : "");
		free(text);
		return -1;
	}
	switch (x->st) {
	case ST_START:
		if (!soa) {
			fail(x, "the first record is not the zone's SOA (RFC 5936 §2.2)");
			return -1;
		}
		x->soa = ldns_rr_clone(rr);
		x->serial = soa_serial(rr);
		if (x->soa == NULL) {
			fail(x, "out of memory");
			return -1;
		}
		if (x->p.qtype == DNS_TYPE_AXFR) {
			x->st = ST_FULL;
			return write_rr(x, rr);
		}
		x->st = ST_FIRST_SOA;
		return 0;
	case ST_FIRST_SOA:
		if (soa && soa_serial(rr) == x->p.have_serial) {
			x->kind = XFR_IN_INCREMENTAL;
			x->version = x->p.have_serial;
			x->st = ST_DEL;
			return diff_start(x);
		}
		x->st = ST_FULL;
		if (write_rr(x, x->soa) < 0)
			return -1;
		/* rr is the full zone's second record */
		__attribute__((fallthrough));
	case ST_FULL:
		if (soa) {
			if (soa_serial(rr) != x->serial) {
				fail(x,
				     "the last SOA has serial %u, the first %u: the zone "
				     "changed during the transfer",
				     soa_serial(rr), x->serial);
				return -1;
			}
			x->kind = XFR_IN_FULL;
			x->st = ST_END;
			return 0;
		}
		return skipped(x, rr) ? 0 : write_rr(x, rr);
	case ST_DEL:
		if (soa) {
			uint32_t v = soa_serial(rr);
			if (!dns_serial_lt(x->version, v)) {
				fail(x, "a difference goes from serial %u to %u, not forwards",
				     x->version, v);
				return -1;
			}
			x->version = v;
			ldns_rr_free(x->cur_soa);
			x->cur_soa = ldns_rr_clone(rr);
			x->st = ST_ADD;
			return x->cur_soa ? 0 : (fail(x, "out of memory"), -1);
		}
		if (++x->records > x->p.max_records) {
			fail(x, "more than %llu records: refused",
			     (unsigned long long)x->p.max_records);
			return -1;
		}
		if (skipped(x, rr))
			return 0;
		return x->diff ? diff_apply(x, rr, false) : have_del(x, rr);
	case ST_ADD:
		if (soa) {
			uint32_t v = soa_serial(rr);
			if (v == x->serial && x->version == x->serial) {
				x->st = ST_END;
				return 0;
			}
			if (v != x->version) {
				fail(x, "a difference starts from serial %u, but we are at %u", v,
				     x->version);
				return -1;
			}
			x->st = ST_DEL;
			return 0;
		}
		if (++x->records > x->p.max_records) {
			fail(x, "more than %llu records: refused",
			     (unsigned long long)x->p.max_records);
			return -1;
		}
		if (skipped(x, rr))
			return 0;
		return x->diff ? diff_apply(x, rr, true) : have_add(x, rr, "a difference");
	case ST_END:
		fail(x, "records after the last SOA");
		return -1;
	case ST_FAILED:
		return -1;
	}
	return -1;
}

/* The header and question of msg[0..len); *off gets where the answer
 * section starts. XFR_IN_MORE when they are those of our query's reply. */
static enum xfr_in_status check_header(struct xfr_in *x, const uint8_t *msg, size_t len,
				       size_t *off)
{
	if (len < DNS_HEADER_LEN)
		return fail(x, "message %u of the transfer does not parse", x->messages);
	uint16_t id = wire_read_u16(msg);
	if (id != x->p.id)
		return fail(x, "a reply with ID %u to our query %u", id, x->p.id);
	if (!(msg[2] & 0x80) || ((msg[2] >> 3) & 0xF) != DNS_OPCODE_QUERY)
		return fail(x, "not a reply to a QUERY");
	if (msg[2] & 0x02)
		return fail(x, "a truncated reply (TC) in a transfer");
	unsigned rcode = msg[3] & 0xF;
	if (rcode != 0) {
		x->rcode = rcode;
		const ldns_lookup_table *t = ldns_lookup_by_id(ldns_rcodes, (int)rcode);
		return fail(x, "the primary answered %s", t ? t->name : "an error rcode");
	}
	unsigned qn = wire_read_u16(msg + 4);
	if (qn > 1)
		return fail(x, "a reply with %u questions", qn);
	*off = DNS_HEADER_LEN;
	if (qn == 1) {
		uint8_t name[DNAME_MAXLEN];
		if (dns_name_read(msg, len, off, name) < 0 || len - *off < 4)
			return fail(x, "message %u of the transfer does not parse", x->messages);
		if (!dname_equal(name, x->p.origin) || wire_read_u16(msg + *off) != x->p.qtype ||
		    wire_read_u16(msg + *off + 2) != DNS_CLASS_IN)
			return fail(x, "the reply's question is not the one we asked");
		*off += 4;
	}
	return XFR_IN_MORE; /* no question: RFC 5936 §2.2.1 allows it after the first */
}

/*
 * The RDATA of a record of a full zone for the builder, at msg[p..p+rdlen),
 * without ldns: NS, CNAME, PTR and MX have their name decompressed into rd
 * (the RFC 1035 types a primary may compress, RFC 3597 §4); a type without
 * names (per ldns's descriptor: A, AAAA, TXT, CAA, DS...) is taken as it
 * is. *rdata and *rd_len get the result. False: not for this path (SOA,
 * meta types, names ldns must find, RDATA that does not decode as expected:
 * ldns's path decodes or refuses it).
 */
static bool build_rdata(const uint8_t *msg, size_t len, size_t p, uint16_t type, uint16_t rdlen,
			uint8_t rd[2 + DNAME_MAXLEN], const uint8_t **rdata, size_t *rd_len)
{
	size_t pre = 0;
	*rdata = msg + p;
	*rd_len = rdlen;
	switch (type) {
	case DNS_TYPE_SOA:
		return false; /* the SOA states go through step() */
	case LDNS_RR_TYPE_MX:
		pre = 2;
		__attribute__((fallthrough));
	case LDNS_RR_TYPE_NS:
	case LDNS_RR_TYPE_CNAME:
	case LDNS_RR_TYPE_PTR: {
		if (rdlen < pre + 1)
			return false;
		memcpy(rd, msg + p, pre);
		size_t q = p + pre;
		int n = dns_name_read(msg, len, &q, rd + pre);
		if (n < 0 || q != p + rdlen)
			return false;
		*rdata = rd;
		*rd_len = pre + (size_t)n;
		return true;
	}
	default:
		break;
	}
	if (rdlen == 0 || type == LDNS_RR_TYPE_OPT || type == LDNS_RR_TYPE_TSIG ||
	    type == LDNS_RR_TYPE_TKEY || (type >= LDNS_RR_TYPE_IXFR && type <= LDNS_RR_TYPE_ANY))
		return false; /* record_problem() refuses the meta types */
	const ldns_rr_descriptor *d = ldns_rr_descript(type);
	return d == NULL || (d->_dname_count == 0 && d->_variable != LDNS_RDF_TYPE_DNAME);
}

/*
 * The fast path of a full zone: an A or AAAA record in the zone written
 * straight from the wire (most records of a big zone), without an ldns
 * object. 1 (written, or left out as a service's), 0 (not for this path:
 * the caller decodes it with ldns; *off unchanged), -1 (x failed).
 */
static int fast_record(struct xfr_in *x, const uint8_t *msg, size_t len, size_t *off)
{
	size_t p = *off;
	uint8_t owner[DNAME_MAXLEN];
	if (dns_name_read(msg, len, &p, owner) < 0 || len - p < 10)
		return 0;
	uint16_t type = wire_read_u16(msg + p), cls = wire_read_u16(msg + p + 2);
	uint32_t ttl = wire_read_u32(msg + p + 4);
	uint16_t rdlen = wire_read_u16(msg + p + 8);
	p += 10;
	bool a = type == DNS_TYPE_A && rdlen == 4, aaaa = type == DNS_TYPE_AAAA && rdlen == 16;
	if (cls != DNS_CLASS_IN || rdlen > len - p)
		return 0;
	if (!a && !aaaa && x->p.build == NULL)
		return 0;
	if (!dname_is_subdomain(owner, x->p.origin)) /* both ignore case */
		return 0;			     /* ldns's path reports it */
	uint8_t rd[2 + DNAME_MAXLEN];
	const uint8_t *rdata = msg + p;
	size_t rd_len = rdlen;
	if (!a && !aaaa && !build_rdata(msg, len, p, type, rdlen, rd, &rdata, &rd_len))
		return 0;
	*off = p + rdlen;
	for (size_t i = 0; (a || aaaa) && i < x->p.skip_count; i++)
		if (dname_equal(owner, x->p.skip_names[i]))
			return 1;
	if (++x->records > x->p.max_records) {
		fail(x, "more than %llu records: refused (a primary that never ends?)",
		     (unsigned long long)x->p.max_records);
		return -1;
	}
	if (x->p.build != NULL)
		return build_add(x, owner, cls, type, ttl, rdata, rd_len) < 0 ? -1 : 1;
	char name[DNAME_STR_MAX], addr[INET6_ADDRSTRLEN];
	if (dname_to_str(owner, name, sizeof(name)) < 0 ||
	    inet_ntop(a ? AF_INET : AF_INET6, msg + p, addr, sizeof(addr)) == NULL) {
		fail(x, "cannot write the received zone");
		return -1;
	}
	fprintf(x->p.out, "%s\t%u\tIN\t%s\t%s\n", name, ttl, a ? "A" : "AAAA", addr);
	return 1;
}

enum xfr_in_status xfr_in_feed(struct xfr_in *x, const uint8_t *msg, size_t len)
{
	if (x->st == ST_FAILED)
		return XFR_IN_FAILED;
	if (x->st == ST_END)
		return XFR_IN_DONE;
	x->messages++;
	size_t off = 0;
	enum xfr_in_status r = check_header(x, msg, len, &off);
	size_t ancount = len >= DNS_HEADER_LEN ? wire_read_u16(msg + 6) : 0;
	for (size_t i = 0; r == XFR_IN_MORE && i < ancount; i++) {
		if (x->st == ST_END) {
			r = fail(x, "records after the last SOA");
			break;
		}
		int f = x->st == ST_FULL ? fast_record(x, msg, len, &off) : 0;
		if (f < 0) {
			r = XFR_IN_FAILED;
			break;
		}
		if (f > 0)
			continue;
		ldns_rr *rr = NULL;
		if (ldns_wire2rr(&rr, msg, len, &off, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK) {
			r = fail(x, "message %u of the transfer does not parse", x->messages);
			break;
		}
		if (step(x, rr) < 0)
			r = XFR_IN_FAILED;
		ldns_rr_free(rr);
	}
	if (r == XFR_IN_MORE && x->p.out != NULL && ferror(x->p.out))
		r = fail(x, "cannot write the received zone");
	if (r != XFR_IN_MORE)
		return r;
	/* One SOA alone, not newer than ours: up to date (RFC 1995 §4). */
	if (x->st == ST_FIRST_SOA && x->messages == 1 && ancount == 1 &&
	    !dns_serial_lt(x->p.have_serial, x->serial)) {
		x->kind = XFR_IN_UPTODATE;
		x->st = ST_END;
		return XFR_IN_DONE;
	}
	if (x->st != ST_END)
		return XFR_IN_MORE;
	if (x->kind == XFR_IN_INCREMENTAL && (x->diff ? build_have(x) : write_have(x)) < 0)
		return XFR_IN_FAILED;
	if (x->p.out != NULL && fflush(x->p.out) != 0)
		return fail(x, "cannot write the received zone");
	return XFR_IN_DONE;
}
