/* geo.c — geo context lifecycle, accessors, client helpers. */
#include "geo/geo_conf.h"
#include "geo/geo_map.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/net.h"
#include "wire/dname.h"

int geo_ctx_load(const json_t *root, const char *file, const geo_jsonpos_t *pos, diag_t *diag,
		 geo_ctx_t **out)
{
	int rc = SOV_OK;
	geo_ctx_t *ctx = calloc(1, sizeof(*ctx));

	*out = NULL;
	if (ctx == NULL) {
		rc = SOV_ENOMEM;
		goto finish;
	}
	rc = geo_conf_parse(ctx, root, file, pos, diag);
	if (rc != SOV_OK)
		goto finish;
	rc = geo_map_build(ctx, file, diag);
	if (rc != SOV_OK)
		goto finish;
	*out = ctx;
	ctx = NULL;
finish:
	geo_ctx_free(ctx);
	return rc;
}

void geo_ctx_free(geo_ctx_t *ctx)
{
	if (ctx == NULL)
		return;
	for (size_t i = 0; i < ctx->dc_count; i++) {
		struct geo_dc *dc = &ctx->dcs[i];
		free(dc->id);
		for (size_t t = 0; t < dc->tag_count; t++)
			free(dc->tags[t]);
		free(dc->tags);
		free(dc->inets);
	}
	free(ctx->dcs);
	for (size_t i = 0; i < ctx->svc_count; i++) {
		free(ctx->svcs[i].name);
		free(ctx->svcs[i].dcs);
	}
	free(ctx->svcs);
	for (size_t i = 0; i < ctx->region_count; i++) {
		free(ctx->regions[i].name);
		free(ctx->regions[i].dcs);
	}
	free(ctx->regions);
	for (size_t i = 0; i < ctx->net_count; i++)
		free(ctx->nets[i].target);
	free(ctx->nets);
	for (size_t i = 0; i < ctx->db_count; i++) {
		if (ctx->dbs[i].open)
			MMDB_close(&ctx->dbs[i].mmdb);
		free(ctx->dbs[i].path);
	}
	free(ctx->dbs);
	free(ctx->default_target);
	free(ctx->decisions);
	free(ctx->decision_hash);
	geo_trie_free(&ctx->map);
	geo_trie_free(&ctx->inside);
	free(ctx);
}

size_t geo_dc_count(const geo_ctx_t *ctx)
{
	return ctx->dc_count;
}

const char *geo_dc_id(const geo_ctx_t *ctx, size_t i)
{
	return i < ctx->dc_count ? ctx->dcs[i].id : NULL;
}

const uint8_t *geo_dc_addrs(const geo_ctx_t *ctx, size_t i, int family, size_t *count)
{
	*count = 0;
	if (i >= ctx->dc_count)
		return NULL;
	const struct geo_addrs *a = &ctx->dcs[i].pub;
	if (family == AF_INET) {
		*count = a->v4_count;
		return &a->v4[0][0];
	}
	*count = a->v6_count;
	return &a->v6[0][0];
}

size_t geo_service_count(const geo_ctx_t *ctx)
{
	return ctx->svc_count;
}

const struct geo_service_info *geo_service(const geo_ctx_t *ctx, size_t i)
{
	return i < ctx->svc_count ? &ctx->svcs[i].info : NULL;
}

uint32_t geo_dc_max_ttl(const geo_ctx_t *ctx, size_t dc)
{
	uint32_t ttl = 0;
	for (size_t k = 0; k < ctx->svc_count; k++) {
		const struct geo_service_info *si = &ctx->svcs[k].info;
		for (size_t i = 0; i < si->dc_count; i++)
			if (si->dcs[i] == dc && si->ttl_s > ttl)
				ttl = si->ttl_s;
	}
	return ttl;
}

int geo_service_find(const geo_ctx_t *ctx, const uint8_t *name_wire)
{
	for (size_t i = 0; i < ctx->svc_count; i++)
		if (dname_equal(ctx->svcs[i].name_wire, name_wire))
			return (int)i;
	return SOV_ENOENT;
}

const char *geo_policy_str(enum geo_policy p)
{
	switch (p) {
	case GEO_POLICY_NEAREST:
		return "nearest";
	case GEO_POLICY_FAILOVER:
		return "failover";
	case GEO_POLICY_ALL:
		return "all";
	}
	return "?";
}

const char *geo_on_all_down_str(enum geo_on_all_down d)
{
	switch (d) {
	case GEO_DOWN_ALL:
		return "all";
	case GEO_DOWN_FIRST:
		return "first";
	case GEO_DOWN_EMPTY:
		return "empty";
	}
	return "?";
}

int geo_client_from_ecs(uint16_t family, uint8_t source_prefix, const uint8_t addr[16],
			struct geo_client *out)
{
	int rc = SOV_EINVAL;

	memset(out, 0, sizeof(*out));
	if (family == 1 && source_prefix <= 32)
		out->family = AF_INET;
	else if (family == 2 && source_prefix <= 128)
		out->family = AF_INET6;
	else
		goto finish;
	out->prefix = source_prefix;
	out->from_ecs = true;
	memcpy(out->addr, addr, out->family == AF_INET ? 4 : 16);
	net_mask(out->addr, out->family, out->prefix);
	rc = SOV_OK;
finish:
	return rc;
}

int geo_client_from_sockaddr(const struct sockaddr *sa, struct geo_client *out)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
	int rc = SOV_OK;

	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
		out->family = AF_INET;
		out->prefix = 32;
		memcpy(out->addr, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *a = sin6->sin6_addr.s6_addr;
		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
			out->family = AF_INET;
			out->prefix = 32;
			memcpy(out->addr, a + 12, 4);
		} else {
			out->family = AF_INET6;
			out->prefix = 128;
			memcpy(out->addr, a, 16);
		}
	} else {
		rc = SOV_EINVAL;
	}
	return rc;
}

int geo_client_parse(const char *text, struct geo_client *out)
{
	int rc = SOV_EINVAL;
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(text, '/');
	sov_net_t net;

	memset(out, 0, sizeof(*out));
	if (strlen(text) >= sizeof(buf))
		goto finish;
	/* Parse the bare address first, then apply the prefix with the host
	 * bits cleared: "198.51.100.7/24" means "that client, known to /24". */
	memcpy(buf, text, slash ? (size_t)(slash - text) : strlen(text));
	buf[slash ? (size_t)(slash - text) : strlen(text)] = '\0';
	if (net_parse(buf, &net) != SOV_OK)
		goto finish;
	out->family = net.family;
	out->prefix = net.prefix;
	memcpy(out->addr, net.addr, sizeof(out->addr));
	if (slash != NULL) {
		const char *p = slash + 1;
		unsigned prefix = 0;
		if (*p == '\0' || strlen(p) > 3)
			goto finish;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				goto finish;
			prefix = prefix * 10 + (unsigned)(*p - '0');
		}
		if (prefix > net.prefix)
			goto finish;
		out->prefix = (uint8_t)prefix;
		out->from_ecs = true;
		net_mask(out->addr, out->family, out->prefix);
	}
	rc = SOV_OK;
finish:
	return rc;
}
