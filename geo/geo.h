/* geo.h — geo-aware services: datacenters, services, client location and
 * the choice of datacenters for one A/AAAA answer.
 *
 * A geo context (geo_ctx_t) is built once per snapshot from the `datacenters`,
 * `services` and `geo` sections of the configuration (schema and defaults:
 * docs/geo.md). Building it validates the sections, opens every configured
 * MaxMind DB (.mmdb) once, and precomputes one binary trie per address family
 * that maps every client network to a datacenter preference order. The trie
 * already contains the `nets` map, the datacenters' internal networks and the
 * databases, with adjacent networks that lead to the same order merged (as
 * gdnsd does), so a query needs one trie walk (at most 32 / 128 steps), no
 * database lookup, no allocation and no lock. A replaced .mmdb is picked up
 * by building a new context on reload.
 *
 * The context is immutable after geo_ctx_load() and may be read by any number
 * of threads at once.
 *
 * Datacenter and service indices are positions in the configuration arrays
 * (0-based, config order) and stay fixed for the life of a context; the
 * health/admin tables another part fills are indexed the same way.
 *
 * Implements the client-location side of RFC 7871 (EDNS Client Subnet): §7.2.1
 * (SCOPE PREFIX-LENGTH in replies, never longer than SOURCE PREFIX-LENGTH
 * here) and §7.1.2 (source prefix 0: do not use the client's location).
 */
#ifndef SOV_GEO_GEO_H
#define SOV_GEO_GEO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/diag.h"
#include "geo/usable.h"

/* At most 64 datacenters: the audience runs "two to a handful", and 64 lets
 * a service's membership be one uint64_t mask and a selection result live on
 * the stack (128 bytes) with no allocation. */
#define GEO_DC_MAX 64
/* At most 16 addresses per family per datacenter (public, and again
 * internal): 16 A records are 256 bytes of answer, well inside 1232. */
#define GEO_DC_ADDR_MAX 16

/* Defaults (documented in docs/geo.md). */
#define GEO_DEFAULT_TTL_S 30 /* short enough that a withdrawal takes effect quickly */
#define GEO_DEFAULT_TTL_DOWN_S                                                                     \
	10 /* ttl_when_down: TTL while some dc of the service is not usable */
#define GEO_DEFAULT_MAX_ANSWERS 1 /* for nearest/failover; `all` defaults to every usable dc */

/* The query types geo_select() answers (RFC 1035 §3.2.2, RFC 3596 §2.1);
 * the same numbers as wire/wire.h's DNS_TYPE_A/AAAA, which geo does not
 * include: it sits below dns/. */
#define GEO_QTYPE_A 1
#define GEO_QTYPE_AAAA 28

typedef struct geo_ctx geo_ctx_t;

enum geo_policy {
	GEO_POLICY_NEAREST = 0, /* great-circle distance / region order from the client */
	GEO_POLICY_FAILOVER,	/* first usable in the service's order */
	GEO_POLICY_ALL,		/* every usable one */
};

/** What to answer when no datacenter of a service is usable. */
enum geo_on_all_down {
	GEO_DOWN_ALL = 0, /* fail-open: every dc not held by an admin (if none, all of them) */
	GEO_DOWN_FIRST,	  /* the first in the client's preference order */
	GEO_DOWN_EMPTY,	  /* no address: NODATA, so maintenance is never bypassed */
};

/* The per-datacenter state bytes geo_select() reads (GEO_DC_USABLE,
 * GEO_DC_HELD) and the rule that sets them: geo/usable.h. */

/**
 * Source positions for diagnostics. The configuration loader owns the JSON
 * text and knows where each value came from; it passes locate() so geo
 * errors read "file:line:col: ...". With pos == NULL (or locate == NULL)
 * errors are reported at line 0, column 0 (printed as 1:1 by diag).
 */
typedef struct geo_jsonpos {
	void (*locate)(void *arg, const json_t *value, unsigned *line, unsigned *col);
	void *arg;
} geo_jsonpos_t;

/**
 * Validates the `datacenters`, `services` and `geo` members of the config
 * root object (other members are ignored; all three are optional) and builds
 * a context. `file` is the config file name used in messages and as the base
 * for relative database paths (NULL: "<config>", paths relative to the
 * current directory). Every problem found is added to diag (all of them, not
 * only the first). Returns SOV_OK and *out, or SOV_ESEMANTIC (invalid
 * configuration), SOV_EIO (a database could not be opened or read) or
 * SOV_ENOMEM; *out is NULL on failure.
 */
int geo_ctx_load(const json_t *root, const char *file, const geo_jsonpos_t *pos, diag_t *diag,
		 geo_ctx_t **out) __attribute__((warn_unused_result, nonnull(1, 5)));

/** Frees a context and closes its databases; NULL allowed. */
void geo_ctx_free(geo_ctx_t *ctx);

/** Number of datacenters (0 when the configuration has none). */
size_t geo_dc_count(const geo_ctx_t *ctx) __attribute__((nonnull, pure));
/** Id of datacenter i (i < geo_dc_count), owned by ctx. */
const char *geo_dc_id(const geo_ctx_t *ctx, size_t i) __attribute__((nonnull, pure));
/**
 * Public addresses of datacenter i of `family` (AF_INET: 4 bytes each,
 * AF_INET6: 16 bytes each, network order); *count receives how many.
 * Owned by ctx. For probes, which target the addresses clients get.
 */
const uint8_t *geo_dc_addrs(const geo_ctx_t *ctx, size_t i, int family, size_t *count)
    __attribute__((nonnull));
/** Index of the datacenter with this id (case-sensitive), or SOV_ENOENT. */
int geo_dc_find(const geo_ctx_t *ctx, const char *id) __attribute__((nonnull, pure));

/** A service as configured, with its defaults applied. Owned by the context. */
struct geo_service_info {
	const char *name;	  /* as written in the configuration */
	const uint8_t *name_wire; /* uncompressed wire form, lowercased (dname.h) */
	enum geo_policy policy;
	enum geo_on_all_down on_all_down;
	uint32_t ttl_s;		/* TTL of the A/AAAA records */
	uint32_t ttl_down_s;	/* TTL instead while any of its dcs is not usable (<= ttl_s) */
	unsigned max_answers;	/* datacenters per answer: 1..GEO_DC_MAX */
	const uint16_t *dcs;	/* datacenter indices, config order (failover order) */
	size_t dc_count;	/* >= 1 */
	uint64_t transfer_mask; /* "transfer": the datacenters (bit = index) whose public
				   addresses a zone transfer carries as the name's static
				   A/AAAA (docs/transfers.md); default all of dcs */
};

/** Number of services. */
size_t geo_service_count(const geo_ctx_t *ctx) __attribute__((nonnull, pure));
/** Service i (i < geo_service_count). */
const struct geo_service_info *geo_service(const geo_ctx_t *ctx, size_t i)
    __attribute__((nonnull, pure));
/**
 * The longest TTL (ttl_s) of the services that use datacenter dc, seconds;
 * 0 when none does. How long a resolver may still hold an answer naming dc
 * (the drain's wait).
 */
uint32_t geo_dc_max_ttl(const geo_ctx_t *ctx, size_t dc) __attribute__((nonnull, pure));
/**
 * Index of the service whose name equals name_wire (wire form, any letter
 * case), or SOV_ENOENT. Linear scan: meant for load time (the zone index
 * should store the index), not per query.
 */
int geo_service_find(const geo_ctx_t *ctx, const uint8_t *name_wire) __attribute__((nonnull, pure));

/**
 * Where a client is, as far as the answer may depend on it: an address and
 * how many leading bits of it are known. Bits beyond `prefix` are zero.
 */
struct geo_client {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t prefix;	  /* known bits: ECS SOURCE PREFIX-LENGTH, or 32/128 */
	bool from_ecs;	  /* the location came from an ECS option (else: source address) */
	uint8_t addr[16]; /* network byte order; IPv4 in the first 4 bytes */
};

/**
 * From the fields of a parsed ECS option (RFC 7871 §6): FAMILY (1 = IPv4,
 * 2 = IPv6), SOURCE PREFIX-LENGTH and the address bytes (16, zero-padded;
 * network order). The wire parser has validated them; this still refuses
 * (SOV_EINVAL) a family other than 1/2 or a source prefix longer than the
 * address, and clears bits beyond the prefix.
 */
int geo_client_from_ecs(uint16_t family, uint8_t source_prefix, const uint8_t addr[16],
			struct geo_client *out) __attribute__((nonnull, warn_unused_result));

/**
 * From the packet's source address (full-length prefix). An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d, a dual-stack socket) becomes the IPv4 address.
 * SOV_EINVAL for another address family.
 */
int geo_client_from_sockaddr(const struct sockaddr *sa, struct geo_client *out)
    __attribute__((nonnull, warn_unused_result));

/**
 * Parses "ADDRESS" or "ADDRESS/PREFIX" (as a resolver would send it in ECS,
 * bits beyond the prefix are cleared) for --explain. from_ecs is true when a
 * prefix was given. SOV_EINVAL on bad text.
 */
int geo_client_parse(const char *text, struct geo_client *out)
    __attribute__((nonnull, warn_unused_result));

/** Why the chosen datacenters were chosen. */
enum geo_outcome {
	GEO_OUT_OK = 0,	    /* chosen among usable datacenters */
	GEO_OUT_NOFAMILY,   /* no datacenter of the service has an address of
			       the query's family: empty (NODATA), not an outage */
	GEO_OUT_DOWN_ALL,   /* nothing usable; on_all_down "all" applied (fail-open) */
	GEO_OUT_DOWN_FIRST, /* nothing usable; on_all_down "first" applied */
	GEO_OUT_DOWN_EMPTY, /* nothing usable; on_all_down "empty": NODATA */
};

/** The outcome of one selection; lives on the caller's stack. */
struct geo_result {
	uint16_t dc[GEO_DC_MAX]; /* chosen datacenters, in answer order */
	uint8_t count;		 /* entries used in dc[]; 0 → NODATA */
	uint8_t ecs_scope;	 /* SCOPE PREFIX-LENGTH for the reply (<= client prefix) */
	int family;		 /* AF_INET (A) or AF_INET6 (AAAA) */
	int16_t inside_dc;	 /* the service's dc whose internal networks hold the
				    client, or -1 */
	bool internal;		 /* inside_dc is among dc[] and answers with its
				    internal addresses (split horizon) */
	enum geo_outcome outcome;
};

/**
 * Chooses the datacenters for one A or AAAA answer of service `service`.
 * client may be NULL (location unknown: the default applies). dc_state is
 * NULL or one GEO_DC_* byte per datacenter (see above). Never allocates,
 * never locks, never logs; O(datacenters + address bits).
 *
 * Rules (docs/geo.md has the full text): the client's preference order comes
 * from the precomputed trie (internal networks, then `nets`, then the
 * databases, then `default`); `nearest` answers the first max_answers usable
 * datacenters of the service in that order, `failover` in the service's
 * order, `all` every usable one (up to max_answers when set). Only
 * datacenters with an address of the query's family count. If none is usable
 * the service's on_all_down applies (outcome says which).
 *
 * Returns SOV_OK, or SOV_EINVAL (bad service index, qtype not A/AAAA).
 */
int geo_select(const geo_ctx_t *ctx, size_t service, const struct geo_client *client,
	       uint16_t qtype, const uint8_t *dc_state, struct geo_result *out)
    __attribute__((nonnull(1, 6), warn_unused_result));

/**
 * The addresses to answer for the k-th chosen datacenter of r (k < r->count):
 * its internal addresses when r->internal and it is r->inside_dc, else its
 * public ones, of r->family. Returns a pointer owned by ctx to *count
 * addresses of 4 (AF_INET) or 16 (AF_INET6) bytes each, network order.
 */
const uint8_t *geo_result_addrs(const geo_ctx_t *ctx, const struct geo_result *r, size_t k,
				size_t *count) __attribute__((nonnull));

/**
 * A human-readable, multi-line explanation of what geo_select() answers for
 * this service, client and qtype, and why: where the client was located
 * (internal network, `nets` entry, database network and its fields, or the
 * default), the preference order with distances in km, the merged network
 * that decided it and the ECS scope, each datacenter's state and the answer.
 * For `sovdns --explain`. Allocates: returns a string the caller frees, or
 * NULL on ENOMEM or a bad service index / qtype.
 */
char *geo_explain(const geo_ctx_t *ctx, size_t service, const struct geo_client *client,
		  uint16_t qtype, const uint8_t *dc_state) __attribute__((nonnull(1)));

/** "nearest" / "failover" / "all". */
const char *geo_policy_str(enum geo_policy p) __attribute__((const, returns_nonnull));
/** "all" / "first" / "empty". */
const char *geo_on_all_down_str(enum geo_on_all_down d) __attribute__((const, returns_nonnull));

#endif
