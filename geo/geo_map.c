/* geo_map.c — where a client is: the database walk and the precomputed trie
 * that maps every network to a preference order (the orders themselves:
 * geo_decision.c).
 *
 * Design (gdnsd's libgdmaps does the same in spirit): at context build time
 * we walk each MaxMind DB's search tree once, turn every data record into a
 * "decision" (the full datacenter preference order for a client there), and
 * build one binary trie per family whose leaves are interned decisions.
 * Sibling leaves with the same decision are merged on the way up, so the
 * depth of the leaf a client lands in is the widest network around it that
 * gets the same order: that is the ECS scope, as wide as it can correctly be,
 * for every service at once (equal full orders give equal answers for any
 * subset of datacenters and any health state). Then the `nets` map and the
 * datacenters' internal networks are written over it (copying the path, so
 * shared subtrees are never modified), and merged the same way.
 *
 * Precedence, most important first:
 *   1. a datacenter's internal networks (longest match): that dc first;
 *   2. geo.nets (longest match): its dc or region;
 *   3. the databases in configured order, the first whose record for the
 *      client gives something usable (see geo_decision_from_record);
 *   4. geo.default, or else each service's own order.
 *
 * Memory: one 8-byte node per trie node that survives merging; a few
 * datacenters over a full City database leave far fewer nodes than the
 * database has, because most neighbouring networks share an order.
 */
#include "geo/geo_map.h"

#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

/* --- trie --------------------------------------------------------------- */

void geo_trie_free(struct geo_trie *t)
{
	free(t->nodes);
	free(t->snodes);
	memset(t, 0, sizeof(*t));
}

/* A node with children (l, r); two equal leaves merge into that leaf. */
static int trie_node(struct geo_trie *t, uint32_t l, uint32_t r, uint32_t *out)
{
	if (l == r && GEO_IS_LEAF(l)) {
		*out = l;
		return SOV_OK;
	}
	if (t->count == t->cap) {
		uint32_t ncap = t->cap ? t->cap * 2 : 1024;
		if (ncap >= GEO_LEAF)
			return SOV_ENOMEM;
		struct geo_trie_node *n = realloc(t->nodes, (size_t)ncap * sizeof(*n));
		if (n == NULL)
			return SOV_ENOMEM;
		t->nodes = n;
		t->cap = ncap;
	}
	t->nodes[t->count].child[0] = l;
	t->nodes[t->count].child[1] = r;
	*out = t->count++;
	return SOV_OK;
}

static unsigned addr_bit(const uint8_t *addr, unsigned i)
{
	return (addr[i >> 3] >> (7 - (i & 7))) & 1u;
}

/* Returns in *out a copy of the trie at ref in which the network
 * (addr, prefix) is entirely `leaf`; depth is ref's depth. */
static int trie_set(struct geo_trie *t, uint32_t ref, const uint8_t *addr, unsigned prefix,
		    unsigned depth, uint32_t leaf, uint32_t *out)
{
	int rc;
	uint32_t c[2];

	if (depth == prefix) {
		*out = leaf;
		return SOV_OK;
	}
	if (GEO_IS_LEAF(ref)) {
		c[0] = c[1] = ref;
	} else {
		c[0] = t->nodes[ref].child[0];
		c[1] = t->nodes[ref].child[1];
	}
	unsigned bit = addr_bit(addr, depth);
	rc = trie_set(t, c[bit], addr, prefix, depth + 1, leaf, &c[bit]);
	if (rc != SOV_OK)
		return rc;
	return trie_node(t, c[0], c[1], out);
}

/* Nibble of addr at bit offset d (a multiple of 4). */
static unsigned addr_nibble(const uint8_t *addr, unsigned d)
{
	return (addr[d >> 3] >> (4 - (d & 4))) & 0xFu;
}

uint32_t geo_trie_lookup(const struct geo_trie *t, int family, const uint8_t *addr, unsigned *depth)
{
	uint32_t e = t->sroot[family == AF_INET ? 0 : 1];
	unsigned d = 0, maxbits = family == AF_INET ? 32 : 128;

	while (!GEO_IS_LEAF(e) && d < maxbits) {
		uint32_t next = t->snodes[e].e[addr_nibble(addr, d)];
		if (GEO_IS_LEAF(next)) {
			*depth = d + GEO_CLEAF_REL(next);
			return GEO_CLEAF_VAL(next);
		}
		e = next;
		d += GEO_STRIDE;
	}
	*depth = GEO_IS_LEAF(e) ? GEO_CLEAF_REL(e) : d;
	/* Built tries end in leaves by maxbits; value 0 is the safe default
	 * (the default decision / "not inside") should that ever not hold. */
	return GEO_IS_LEAF(e) ? GEO_CLEAF_VAL(e) : 0;
}

static int stride_alloc(struct geo_trie *t, uint32_t *out)
{
	if (t->scount == t->scap) {
		uint32_t ncap = t->scap ? t->scap * 2 : 256;
		void *n = NULL;
		if (ncap >= GEO_LEAF ||
		    posix_memalign(&n, sizeof(struct geo_stride_node),
				   (size_t)ncap * sizeof(struct geo_stride_node)) != 0)
			return SOV_ENOMEM;
		if (t->scount > 0)
			memcpy(n, t->snodes, (size_t)t->scount * sizeof(struct geo_stride_node));
		free(t->snodes);
		t->snodes = n;
		t->scap = ncap;
	}
	*out = t->scount++;
	return SOV_OK;
}

/* Compiles the binary node bnode into a stride node; memo[bnode] = index + 1
 * once done, so shared subtrees stay shared. */
static int compile_node(struct geo_trie *t, uint32_t *memo, uint32_t bnode, uint32_t *out)
{
	int rc = SOV_OK;
	uint32_t s;

	if (memo[bnode] != 0) {
		*out = memo[bnode] - 1;
		goto finish;
	}
	rc = stride_alloc(t, &s);
	if (rc != SOV_OK)
		goto finish;
	for (unsigned pat = 0; pat < (1u << GEO_STRIDE); pat++) {
		uint32_t r = bnode, e;
		unsigned rel = 0;
		while (rel < GEO_STRIDE && !GEO_IS_LEAF(r)) {
			r = t->nodes[r].child[(pat >> (GEO_STRIDE - 1 - rel)) & 1u];
			rel++;
		}
		if (GEO_IS_LEAF(r)) {
			e = GEO_CLEAF(rel, GEO_LEAF_VAL(r));
		} else {
			rc = compile_node(t, memo, r, &e);
			if (rc != SOV_OK)
				goto finish;
		}
		t->snodes[s].e[pat] = e; /* by index: snodes may have moved */
	}
	memo[bnode] = s + 1;
	*out = s;
finish:
	return rc;
}

/* Compiles both roots and frees the binary nodes. */
static int geo_trie_compile(struct geo_trie *t)
{
	int rc = SOV_OK;
	uint32_t *memo = calloc(t->count ? t->count : 1, sizeof(*memo));

	if (memo == NULL) {
		rc = SOV_ENOMEM;
		goto finish;
	}
	for (int f = 0; f < 2; f++) {
		if (GEO_IS_LEAF(t->root[f]))
			t->sroot[f] = GEO_CLEAF(0, GEO_LEAF_VAL(t->root[f]));
		else if ((rc = compile_node(t, memo, t->root[f], &t->sroot[f])) != SOV_OK)
			goto finish;
	}
	free(t->nodes);
	t->nodes = NULL;
	t->count = t->cap = 0;
finish:
	free(memo);
	return rc;
}

/* --- database walk ------------------------------------------------------ */

struct walk {
	geo_ctx_t *ctx;
	struct geo_trie *t;
	MMDB_s *mmdb;
	uint64_t visits, max_visits;
	/* MaxMind IPv6 databases alias ::ffff:0:0/96 and 2002::/16 to the IPv4
	 * subtree at ::/96; remembering its result avoids walking it 3 times. */
	bool memo_valid;
	uint32_t memo_node, memo_fallback, memo_result;
	/* data offset + 1 → decision index + 1 (0: record gives nothing). */
	uint64_t *off_keys;
	uint32_t *off_vals;
	size_t off_count, off_cap;
	const char *why; /* set on a malformed tree */
};

static int off_cache_grow(struct walk *w)
{
	size_t ncap = w->off_cap ? w->off_cap * 2 : 4096;
	uint64_t *k = calloc(ncap, sizeof(*k));
	uint32_t *v = calloc(ncap, sizeof(*v));

	if (k == NULL || v == NULL) {
		free(k);
		free(v);
		return SOV_ENOMEM;
	}
	for (size_t i = 0; i < w->off_cap; i++) {
		if (w->off_keys[i] == 0)
			continue;
		size_t s = (size_t)(w->off_keys[i] * 0x9E3779B97F4A7C15ull) & (ncap - 1);
		while (k[s] != 0)
			s = (s + 1) & (ncap - 1);
		k[s] = w->off_keys[i];
		v[s] = w->off_vals[i];
	}
	free(w->off_keys);
	free(w->off_vals);
	w->off_keys = k;
	w->off_vals = v;
	w->off_cap = ncap;
	return SOV_OK;
}

/* Leaf for a data record: its decision, or fallback when it gives nothing. */
static int walk_data(struct walk *w, MMDB_entry_s *entry, uint32_t fallback, uint32_t *out)
{
	int rc = SOV_OK;
	uint64_t key = (uint64_t)entry->offset + 1;

	if ((w->off_count + 1) * 2 > w->off_cap) {
		rc = off_cache_grow(w);
		if (rc != SOV_OK)
			goto finish;
	}
	size_t mask = w->off_cap - 1;
	size_t s = (size_t)(key * 0x9E3779B97F4A7C15ull) & mask;
	while (w->off_keys[s] != 0 && w->off_keys[s] != key)
		s = (s + 1) & mask;
	if (w->off_keys[s] == 0) {
		struct geo_decision d;
		struct geo_record_info info;
		uint32_t val = 0, idx;
		if (geo_decision_from_record(w->ctx, entry, &info, &d)) {
			rc = geo_decision_intern(w->ctx, &d, &idx);
			if (rc != SOV_OK)
				goto finish;
			val = idx + 1;
		}
		w->off_keys[s] = key;
		w->off_vals[s] = val;
		w->off_count++;
	}
	*out = w->off_vals[s] ? (GEO_LEAF | (w->off_vals[s] - 1)) : fallback;
finish:
	return rc;
}

static int walk_node(struct walk *w, uint32_t node, unsigned depth, unsigned maxdepth,
		     uint32_t fallback, uint32_t *out);

static int walk_record(struct walk *w, uint64_t record, uint8_t type, MMDB_entry_s *entry,
		       unsigned depth, unsigned maxdepth, uint32_t fallback, uint32_t *out)
{
	switch (type) {
	case MMDB_RECORD_TYPE_EMPTY:
		*out = fallback;
		return SOV_OK;
	case MMDB_RECORD_TYPE_DATA:
		return walk_data(w, entry, fallback, out);
	case MMDB_RECORD_TYPE_SEARCH_NODE:
		return walk_node(w, (uint32_t)record, depth, maxdepth, fallback, out);
	default:
		w->why = "invalid record in the search tree";
		return SOV_EPARSE;
	}
}

static int walk_node(struct walk *w, uint32_t node, unsigned depth, unsigned maxdepth,
		     uint32_t fallback, uint32_t *out)
{
	MMDB_search_node_s sn;
	uint32_t f[2], l, r;
	int rc;

	if (depth >= maxdepth) {
		w->why = "search tree deeper than the address length";
		return SOV_EPARSE;
	}
	/* A well-formed tree is visited about once per node (plus the alias
	 * misses); a crafted DAG could make the walk exponential. */
	if (++w->visits > w->max_visits) {
		w->why = "search tree has far more paths than nodes (not a tree)";
		return SOV_EPARSE;
	}
	if (w->memo_valid && node == w->memo_node && fallback == w->memo_fallback) {
		*out = w->memo_result;
		return SOV_OK;
	}
	if (MMDB_read_node(w->mmdb, node, &sn) != MMDB_SUCCESS) {
		w->why = "cannot read a search tree node";
		return SOV_EPARSE;
	}
	/* The fallback trie (later databases, default) is walked in lockstep. */
	if (GEO_IS_LEAF(fallback)) {
		f[0] = f[1] = fallback;
	} else {
		f[0] = w->t->nodes[fallback].child[0];
		f[1] = w->t->nodes[fallback].child[1];
	}
	rc = walk_record(w, sn.left_record, sn.left_record_type, &sn.left_record_entry, depth + 1,
			 maxdepth, f[0], &l);
	if (rc != SOV_OK)
		return rc;
	rc = walk_record(w, sn.right_record, sn.right_record_type, &sn.right_record_entry,
			 depth + 1, maxdepth, f[1], &r);
	if (rc != SOV_OK)
		return rc;
	return trie_node(w->t, l, r, out);
}

/* Replaces (*fb4, *fb6) by the tries of db over them. On SOV_EPARSE, *why
 * says what is wrong with the file. */
static int walk_db(geo_ctx_t *ctx, struct geo_db *db, uint32_t *fb4, uint32_t *fb6,
		   const char **why)
{
	struct walk w = {.ctx = ctx, .t = &ctx->map, .mmdb = &db->mmdb};
	uint32_t r4 = *fb4, r6 = *fb6;
	int rc = SOV_OK;

	w.max_visits = (uint64_t)db->mmdb.metadata.node_count * 4 + 1024;
	if (db->mmdb.metadata.ip_version == 4) {
		rc = walk_node(&w, 0, 0, 32, *fb4, &r4);
		goto finish;
	}
	/* IPv4 lives at ::/96 of an IPv6 database: follow 96 zero bits. */
	uint64_t rec = 0;
	uint8_t type = MMDB_RECORD_TYPE_SEARCH_NODE;
	MMDB_entry_s entry = {.mmdb = &db->mmdb};
	for (unsigned i = 0; i < 96 && type == MMDB_RECORD_TYPE_SEARCH_NODE; i++) {
		MMDB_search_node_s sn;
		if (MMDB_read_node(&db->mmdb, (uint32_t)rec, &sn) != MMDB_SUCCESS) {
			w.why = "cannot read a search tree node";
			rc = SOV_EPARSE;
			goto finish;
		}
		rec = sn.left_record;
		type = sn.left_record_type;
		entry = sn.left_record_entry;
	}
	rc = walk_record(&w, rec, type, &entry, 0, 32, *fb4, &r4);
	if (rc != SOV_OK)
		goto finish;
	if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
		w.memo_valid = true;
		w.memo_node = (uint32_t)rec;
		w.memo_fallback = *fb4;
		w.memo_result = r4;
	}
	rc = walk_node(&w, 0, 0, 128, *fb6, &r6);
finish:
	if (rc == SOV_OK) {
		*fb4 = r4;
		*fb6 = r6;
	}
	free(w.off_keys);
	free(w.off_vals);
	*why = w.why;
	return rc;
}

struct inet_ref {
	const sov_net_t *net;
	uint16_t dc;
};

static int cmp_inet_prefix(const void *a, const void *b)
{
	const struct inet_ref *x = a, *y = b;
	return (int)x->net->prefix - (int)y->net->prefix;
}

int geo_map_build(geo_ctx_t *ctx, const char *file, diag_t *diag)
{
	int rc = SOV_OK;
	struct geo_decision d;
	uint32_t idx;
	struct inet_ref *inets = NULL;
	size_t ninets = 0;

	/* Decision 0 is the default: geo_trie_lookup's safe value. */
	memset(&d, 0, sizeof(d));
	d.inside_dc = -1;
	if (ctx->default_target != NULL &&
	    geo_decision_from_target(ctx, ctx->default_target, &d) != SOV_OK) {
		rc = SOV_ESEMANTIC; /* validated by geo_conf.c; cannot happen */
		goto finish;
	}
	rc = geo_decision_intern(ctx, &d, &idx);
	if (rc != SOV_OK)
		goto finish;
	ctx->default_decision = idx;

	uint32_t r4 = GEO_LEAF | idx, r6 = GEO_LEAF | idx;
	/* Last database first, so each walk can fall back to the later ones. */
	for (size_t k = ctx->db_count; k-- > 0;) {
		struct geo_db *db = &ctx->dbs[k];
		const char *why = NULL;
		rc = walk_db(ctx, db, &r4, &r6, &why);
		if (rc == SOV_EPARSE) {
			diag_add(diag, file, 0, 0, "geo database \"%s\": %s", db->path,
				 why ? why : "malformed search tree");
			rc = SOV_EIO;
		}
		if (rc != SOV_OK)
			goto finish;
	}

	/* geo.nets over the databases, shorter prefixes first (sorted by
	 * geo_conf.c) so the longest match wins. */
	for (size_t i = 0; i < ctx->net_count; i++) {
		const struct geo_netmap *m = &ctx->nets[i];
		uint32_t *root = m->net.family == AF_INET ? &r4 : &r6;
		rc = geo_decision_intern(ctx, &m->decision, &idx);
		if (rc == SOV_OK)
			rc = trie_set(&ctx->map, *root, m->net.addr, m->net.prefix, 0,
				      GEO_LEAF | idx, root);
		if (rc != SOV_OK)
			goto finish;
	}

	/* Internal networks over everything, again shortest first. */
	for (size_t i = 0; i < ctx->dc_count; i++)
		ninets += ctx->dcs[i].inet_count;
	inets = calloc(ninets ? ninets : 1, sizeof(*inets));
	if (inets == NULL) {
		rc = SOV_ENOMEM;
		goto finish;
	}
	ninets = 0;
	for (size_t i = 0; i < ctx->dc_count; i++)
		for (size_t n = 0; n < ctx->dcs[i].inet_count; n++)
			inets[ninets++] = (struct inet_ref){&ctx->dcs[i].inets[n], (uint16_t)i};
	qsort(inets, ninets, sizeof(*inets), cmp_inet_prefix);

	uint32_t i4 = GEO_LEAF, i6 = GEO_LEAF; /* inside trie: 0 = not inside */
	for (size_t i = 0; i < ninets; i++) {
		const sov_net_t *net = inets[i].net;
		uint16_t dc = inets[i].dc;
		geo_decision_from_list(ctx, &dc, 1, &d);
		d.inside_dc = (int16_t)dc;
		rc = geo_decision_intern(ctx, &d, &idx);
		if (rc != SOV_OK)
			goto finish;
		uint32_t *root = net->family == AF_INET ? &r4 : &r6;
		rc = trie_set(&ctx->map, *root, net->addr, net->prefix, 0, GEO_LEAF | idx, root);
		if (rc != SOV_OK)
			goto finish;
		root = net->family == AF_INET ? &i4 : &i6;
		rc = trie_set(&ctx->inside, *root, net->addr, net->prefix, 0,
			      GEO_LEAF | (uint32_t)(dc + 1), root);
		if (rc != SOV_OK)
			goto finish;
	}
	ctx->map.root[0] = r4;
	ctx->map.root[1] = r6;
	ctx->inside.root[0] = i4;
	ctx->inside.root[1] = i6;
	rc = geo_trie_compile(&ctx->map);
	if (rc == SOV_OK)
		rc = geo_trie_compile(&ctx->inside);
finish:
	free(inets);
	if (rc == SOV_ENOMEM)
		diag_add(diag, file, 0, 0, "geo: out of memory while building the network map");
	return rc;
}

/* --- slow path, for --explain and tests ---------------------------------- */

int geo_locate_slow(const geo_ctx_t *ctx, const struct geo_client *c, struct geo_locate_info *info)
{
	int rc = SOV_OK;
	int best = -1;

	memset(info, 0, sizeof(*info));
	info->inside_dc = -1;
	info->decision = ctx->decisions[ctx->default_decision];
	if (c == NULL || c->prefix == 0) {
		info->src = GEO_SRC_NOPREFIX;
		goto finish;
	}
	/* 1. internal networks: longest match over every datacenter. */
	for (size_t i = 0; i < ctx->dc_count; i++)
		for (size_t n = 0; n < ctx->dcs[i].inet_count; n++) {
			const sov_net_t *net = &ctx->dcs[i].inets[n];
			if (net_contains(net, c->family, c->addr) &&
			    (best < 0 || net->prefix > info->matched.prefix)) {
				best = (int)i;
				info->matched = *net;
			}
		}
	if (best >= 0) {
		uint16_t dc = (uint16_t)best;
		info->src = GEO_SRC_INSIDE;
		info->inside_dc = best;
		geo_decision_from_list(ctx, &dc, 1, &info->decision);
		info->decision.inside_dc = (int16_t)best;
		goto finish;
	}
	/* 2. geo.nets: longest match. */
	for (size_t i = 0; i < ctx->net_count; i++) {
		const sov_net_t *net = &ctx->nets[i].net;
		if (net_contains(net, c->family, c->addr) &&
		    (best < 0 || net->prefix > info->matched.prefix)) {
			best = (int)i;
			info->matched = *net;
		}
	}
	if (best >= 0) {
		info->src = GEO_SRC_NETS;
		info->nets_index = (size_t)best;
		info->decision = ctx->nets[best].decision;
		goto finish;
	}
	/* 3. databases in order. */
	for (size_t k = 0; k < ctx->db_count; k++) {
		const struct geo_db *db = &ctx->dbs[k];
		struct sockaddr_storage ss;
		int merr = 0;

		if (c->family == AF_INET6 && db->mmdb.metadata.ip_version == 4)
			continue;
		memset(&ss, 0, sizeof(ss));
		if (c->family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, c->addr, 4);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, c->addr, 16);
		}
		MMDB_lookup_result_s res =
		    MMDB_lookup_sockaddr(&db->mmdb, (const struct sockaddr *)&ss, &merr);
		if (merr != MMDB_SUCCESS || !res.found_entry)
			continue;
		struct geo_decision d;
		if (!geo_decision_from_record(ctx, &res.entry, &info->rec, &d))
			continue;
		unsigned mask = res.netmask;
		/* An IPv4 lookup in an IPv6 database reports the IPv6 netmask. */
		if (c->family == AF_INET && db->mmdb.metadata.ip_version == 6)
			mask = mask >= 96 ? mask - 96 : 0;
		info->src = GEO_SRC_DB;
		info->db_index = k;
		info->matched.family = c->family;
		info->matched.prefix = (uint8_t)mask;
		memcpy(info->matched.addr, c->addr, 16);
		net_mask(info->matched.addr, c->family, mask);
		info->decision = d;
		goto finish;
	}
	info->src = GEO_SRC_DEFAULT;
finish:
	return rc;
}
