/* geo_explain.c — the human-readable account of one selection, for
 * `sovdns --explain NAME TYPE CLIENT-IP[/PREFIX]`. Not on the query path:
 * it allocates, and it repeats the location step the slow way (internal
 * networks, nets, each database with MMDB_lookup_sockaddr) to say which
 * source decided; the answer and scope it prints come from geo_select(), so
 * they are exactly what a query would get.
 */
#include "geo/geo_map.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static const char *state_str(const uint8_t *dc_state, size_t dc)
{
	uint8_t st = dc_state ? dc_state[dc] : GEO_DC_USABLE;

	if (st & GEO_DC_HELD)
		return "held (draining, drained or maintenance)";
	return (st & GEO_DC_USABLE) ? "usable" : "not usable";
}

static void print_record(FILE *f, const struct geo_record_info *rec)
{
	const char *sep = "";

	if (rec->continent[0]) {
		fprintf(f, "%scontinent %s", sep, rec->continent);
		sep = ", ";
	}
	if (rec->country[0]) {
		fprintf(f, "%scountry %s", sep, rec->country);
		sep = ", ";
	}
	if (rec->subdivision[0]) {
		fprintf(f, "%ssubdivision %s", sep, rec->subdivision);
		sep = ", ";
	}
	if (rec->city[0]) {
		fprintf(f, "%scity %s", sep, rec->city);
		sep = ", ";
	}
	if (rec->has_coords)
		fprintf(f, "%slatitude %.4f longitude %.4f", sep, rec->lat_deg, rec->lon_deg);
}

static void print_location(FILE *f, const geo_ctx_t *ctx, const struct geo_locate_info *li)
{
	char net[64];

	fprintf(f, "location:    ");
	switch (li->src) {
	case GEO_SRC_NOPREFIX:
		fprintf(f,
			"not used (no client, or ECS source prefix 0, RFC 7871 §7.1.2) → default");
		break;
	case GEO_SRC_INSIDE:
		fprintf(f,
			"inside datacenter %s: internal network %s (split horizon; wins over "
			"nets and databases)",
			ctx->dcs[li->inside_dc].id, net_format(&li->matched, net, sizeof(net)));
		break;
	case GEO_SRC_NETS:
		fprintf(f, "geo nets entry %s → \"%s\" (wins over the databases)",
			net_format(&li->matched, net, sizeof(net)),
			ctx->nets[li->nets_index].target);
		break;
	case GEO_SRC_DB:
		fprintf(f, "database %s, network %s: ", ctx->dbs[li->db_index].path,
			net_format(&li->matched, net, sizeof(net)));
		print_record(f, &li->rec);
		if (li->rec.by == GEO_BY_REGION)
			fprintf(f,
				"\n             → geo region \"%s\" (explicit regions win over "
				"coordinates)",
				li->rec.by_code);
		else if (li->rec.by == GEO_BY_COORDS)
			fprintf(f,
				"\n             → by great-circle distance from those coordinates");
		else if (li->rec.by == GEO_BY_TAG)
			fprintf(f, "\n             → datacenters tagged with region \"%s\"",
				li->rec.by_code);
		break;
	case GEO_SRC_DEFAULT:
		fprintf(f, "not in internal networks, geo nets or any database → default");
		break;
	}
	if (li->src == GEO_SRC_NOPREFIX || li->src == GEO_SRC_DEFAULT) {
		if (ctx->default_target)
			fprintf(f, " \"%s\"", ctx->default_target);
		else
			fprintf(f, " (none configured: the service's own order)");
	}
	fprintf(f, "\n");
}

static void print_order(FILE *f, const geo_ctx_t *ctx, const struct geo_locate_info *li,
			const struct geo_service *svc, const struct geo_result *r,
			const uint8_t *dc_state)
{
	const struct geo_decision *d = &li->decision;
	uint16_t list[GEO_DC_MAX];
	size_t n = 0;
	double rlat = 0, rlon = 0;
	bool km = false;

	if (svc->info.policy != GEO_POLICY_NEAREST || d->n == 0) {
		fprintf(f, "preference:  the service's order (%s)\n",
			svc->info.policy == GEO_POLICY_NEAREST ? "no location preference"
							       : geo_policy_str(svc->info.policy));
		for (size_t i = 0; i < svc->info.dc_count; i++)
			list[n++] = svc->dcs[i];
	} else {
		if (li->src == GEO_SRC_DB && li->rec.by == GEO_BY_COORDS) {
			rlat = li->rec.lat_deg * M_PI / 180.0;
			rlon = li->rec.lon_deg * M_PI / 180.0;
			fprintf(f, "preference:  nearest first (km from the client)\n");
		} else {
			const struct geo_dc *first = &ctx->dcs[d->order[0]];
			rlat = first->lat_rad;
			rlon = first->lon_rad;
			fprintf(f,
				"preference:  the mapped datacenter(s) first, then the rest by "
				"distance from %s (km from %s)\n",
				first->id, first->id);
		}
		km = true;
		for (size_t i = 0; i < d->n; i++)
			if (svc->dc_mask & ((uint64_t)1 << d->order[i]))
				list[n++] = d->order[i];
	}
	for (size_t i = 0; i < n; i++) {
		const struct geo_dc *dc = &ctx->dcs[list[i]];
		bool inside = list[i] == r->inside_dc;
		const struct geo_addrs *pa = &dc->pub, *ia = &dc->internal;
		unsigned have = r->family == AF_INET ? pa->v4_count : pa->v6_count;
		if (inside)
			have += r->family == AF_INET ? ia->v4_count : ia->v6_count;
		fprintf(f, "             %zu. %s", i + 1, dc->id);
		if (km)
			fprintf(f, "  %.0f km",
				geo_distance_km(rlat, rlon, dc->lat_rad, dc->lon_rad));
		if (have == 0)
			fprintf(f, "  (no %s address: skipped)",
				r->family == AF_INET ? "IPv4" : "IPv6");
		else if (!(dc_state == NULL || ((dc_state[list[i]] & GEO_DC_USABLE) &&
						!(dc_state[list[i]] & GEO_DC_HELD))))
			fprintf(f, "  (not usable)");
		fprintf(f, "\n");
	}
}

static void print_scope(FILE *f, const geo_ctx_t *ctx, const struct geo_service *svc,
			const struct geo_client *c, const struct geo_result *r)
{
	char net[64];
	const struct geo_trie *t = NULL;

	if (c == NULL || c->prefix == 0) {
		fprintf(f, "ECS scope:   /0 (the client's location was not used)\n");
		return;
	}
	if (svc->location_dependent)
		t = &ctx->map;
	else if (svc->has_internal)
		t = &ctx->inside;
	if (t == NULL) {
		fprintf(f,
			"ECS scope:   /0 (a %s service with these datacenters answers the same "
			"everywhere)\n",
			geo_policy_str(svc->info.policy));
		return;
	}
	unsigned depth;
	sov_net_t block = {.family = c->family};
	(void)geo_trie_lookup(t, c->family, c->addr, &depth);
	memcpy(block.addr, c->addr, 16);
	block.prefix = (uint8_t)depth;
	net_mask(block.addr, c->family, depth);
	fprintf(f,
		"decided by:  %s — the widest network around the client in which every "
		"address gets the same %s\n",
		net_format(&block, net, sizeof(net)),
		t == &ctx->map ? "preference order (internal networks, nets and databases, "
				 "neighbours with equal orders merged)"
			       : "split-horizon view (only internal networks matter to a "
				 "failover/all answer)");
	fprintf(f, "ECS scope:   /%u", r->ecs_scope);
	if (depth > c->prefix)
		fprintf(f, " (limited to the source prefix /%u)", c->prefix);
	fprintf(f, "%s\n", c->from_ecs ? "" : " (no ECS in the query: not sent)");
}

static const char *outcome_str(enum geo_outcome o)
{
	switch (o) {
	case GEO_OUT_OK:
		return "chosen among usable datacenters";
	case GEO_OUT_NOFAMILY:
		return "no datacenter of the service has an address of this family: NODATA";
	case GEO_OUT_DOWN_ALL:
		return "NO datacenter usable: on_all_down \"all\" (fail-open)";
	case GEO_OUT_DOWN_FIRST:
		return "NO datacenter usable: on_all_down \"first\"";
	case GEO_OUT_DOWN_EMPTY:
		return "NO datacenter usable: on_all_down \"empty\": NODATA";
	}
	return "?";
}

char *geo_explain(const geo_ctx_t *ctx, size_t service, const struct geo_client *client,
		  uint16_t qtype, const uint8_t *dc_state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = NULL;
	struct geo_result r;
	struct geo_locate_info li;
	char a[INET6_ADDRSTRLEN];

	if (geo_select(ctx, service, client, qtype, dc_state, &r) != SOV_OK)
		goto finish;
	if (geo_locate_slow(ctx, client, &li) != SOV_OK)
		goto finish;
	f = open_memstream(&buf, &len);
	if (f == NULL)
		goto finish;
	const struct geo_service *svc = &ctx->svcs[service];
	const char *tname = qtype == GEO_QTYPE_A ? "A" : "AAAA";

	fprintf(f, "service:     %s %s — policy %s, ttl %u s, max_answers %u, on_all_down %s\n",
		svc->name, tname, geo_policy_str(svc->info.policy), svc->info.ttl_s,
		svc->info.max_answers, geo_on_all_down_str(svc->info.on_all_down));
	if (client == NULL) {
		fprintf(f, "client:      unknown\n");
	} else {
		inet_ntop(client->family, client->addr, a, sizeof(a));
		fprintf(f, "client:      %s/%u (%s)\n", a, client->prefix,
			client->from_ecs ? "EDNS Client Subnet" : "source address");
	}
	print_location(f, ctx, &li);
	print_order(f, ctx, &li, svc, &r, dc_state);
	print_scope(f, ctx, svc, client, &r);
	fprintf(f, "state:      ");
	for (size_t i = 0; i < svc->info.dc_count; i++)
		fprintf(f, " %s %s%s", ctx->dcs[svc->dcs[i]].id, state_str(dc_state, svc->dcs[i]),
			i + 1 < svc->info.dc_count ? "," : "");
	fprintf(f, "\n");
	fprintf(f, "outcome:     %s\n", outcome_str(r.outcome));
	if (r.count == 0)
		fprintf(f, "answer:      no %s records (NODATA)\n", tname);
	for (size_t k = 0; k < r.count; k++) {
		size_t n;
		const uint8_t *addrs = geo_result_addrs(ctx, &r, k, &n);
		bool internal = r.internal && r.dc[k] == r.inside_dc;
		fprintf(f, "%s %s%s:", k == 0 ? "answer:     " : "            ",
			ctx->dcs[r.dc[k]].id, internal ? " (internal addresses)" : "");
		for (size_t i = 0; i < n; i++) {
			const uint8_t *p = addrs + i * (r.family == AF_INET ? 4 : 16);
			inet_ntop(r.family, p, a, sizeof(a));
			fprintf(f, " %s", a);
		}
		fprintf(f, "\n");
	}
	if (fclose(f) != 0) {
		free(buf);
		buf = NULL;
	}
	f = NULL;
finish:
	return buf;
}
