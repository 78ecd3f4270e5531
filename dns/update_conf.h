/* update_conf.h — who may change what in a zone by RFC 2136 UPDATE: the
 * zones[].update section (docs/updates.md).
 *
 *   "zones": [{"origin": "example.test", "file": "example.test.zone",
 *              "update": {"allow": [{"key": "acme", "names": ["_acme-challenge.*"],
 *                                    "types": ["TXT"]},
 *                                   {"key": "ops", "names": ["*.lab", "www"]}],
 *                         "max_records_per_name": 32,
 *                         "max_dynamic_bytes": 1048576,
 *                         "max_updates_per_s": 10}}]
 *
 * RFC 2136 §3.3 leaves the permission check to the server. Ours: every
 * update must be signed (TSIG, RFC 8945) with a key named by a rule, and
 * every record of its update section must match one rule of that key:
 * its owner one of the rule's "names", its type one of its "types".
 * Names are relative to the zone's origin (an absolute name with the final
 * dot is taken as written and must lie in the zone):
 *
 *   "@"                 the apex only
 *   "www"               exactly www.<origin>
 *   "*"                 every name of the zone, the apex included
 *   "*.lab"             every name strictly below lab.<origin>
 *   "_acme-challenge.*" every name whose first label is _acme-challenge
 *                       (the apex's and every subdomain's DNS-01 name)
 *
 * "types" are type mnemonics ("TXT", "A", "TYPE65534"); without "types"
 * any type but NS. SOA is never granted: the server keeps the serial
 * (docs/updates.md, "Serials"); NS only when a rule lists it. A "delete
 * name" (class ANY, type ANY) needs every type the name holds. Names of
 * geo services are never updatable (their answers come from health and
 * geo, not from records). Updates are allowed only in primary zones of a
 * configuration with "state_dir" (they are written there before NOERROR).
 */
#ifndef SOV_DNS_UPDATE_CONF_H
#define SOV_DNS_UPDATE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "conf/config.h"
#include "wire/dname.h"

/* A name with more records than this after an update is refused: a
 * DNS-01 name holds one TXT per certificate being validated (a handful);
 * 32 leaves room for wildcard + SAN certificates renewed together while a
 * runaway client that never deletes stops long before replies grow past
 * what UDP carries. */
#define UPDATE_DEFAULT_MAX_RECORDS_PER_NAME 32
/* Bytes of RDATA all accepted updates of a zone may add over its file:
 * 1 MiB is ten thousand ACME tokens, far beyond any renewal, and bounds
 * what a leaked key can make us store, journal and transfer. */
#define UPDATE_DEFAULT_MAX_DYNAMIC_BYTES (1024u * 1024)
/* Updates accepted per second per zone (a token bucket holding two
 * seconds' worth): certbot sends one per name; each update costs an fsync
 * and a NOTIFY round to every secondary. */
#define UPDATE_DEFAULT_MAX_PER_S 10

enum update_name_kind {
	UPDATE_NAME_EXACT = 0,	 /* the name itself */
	UPDATE_NAME_ANY,	 /* "*": the whole zone */
	UPDATE_NAME_BELOW,	 /* "*.x": strictly below name */
	UPDATE_NAME_FIRST_LABEL, /* "label.*": first label `label`, the rest in the zone */
};

struct update_name {
	enum update_name_kind kind;
	uint8_t name[DNAME_MAXLEN]; /* lowercased wire: EXACT and BELOW the absolute
				       name; FIRST_LABEL the one-label name "label." */
};

/** One rule of "allow". */
struct update_rule {
	int key;		   /* index in xfr_conf.keys */
	struct update_name *names; /* owned, name_count >= 1 */
	size_t name_count;
	uint16_t *types; /* owned; NULL (type_count 0): any type but SOA and NS */
	size_t type_count;
};

/** A zone's "update" section. Immutable once built. */
struct update_policy {
	struct update_rule *rules; /* owned, >= 1 */
	size_t rule_count;
	uint32_t max_records_per_name;
	uint32_t max_dynamic_bytes;
	uint32_t max_per_s;
};

struct xfr_conf;

/**
 * Reads zones[zone_idx].update (the JSON value `v`, not NULL) of conf into
 * *out, keys looked up in x (already loaded). Every problem goes to diag
 * at the value it is about ("file:line:column: zones[0].update.allow[1]
 * .names[0]: ..."). Returns the number of problems (0: *out set; then
 * update_policy_free() it), or -1 when out of memory.
 */
int update_policy_load(const config_t *conf, const void *v, size_t zone_idx,
		       const struct xfr_conf *x, struct update_policy **out, diag_t *diag)
    __attribute__((nonnull(1, 2, 4, 5), warn_unused_result));

void update_policy_free(struct update_policy *p);

/**
 * Whether key `key` (index in xfr_conf.keys) may change records of `type`
 * at owner `lower` (lowercased wire name inside the zone `origin`). Pure.
 */
bool update_policy_allows(const struct update_policy *p, int key, const uint8_t *origin,
			  const uint8_t *lower, uint16_t type) __attribute__((nonnull));

/** Whether key `key` appears in some rule of p. */
bool update_policy_knows_key(const struct update_policy *p, int key) __attribute__((nonnull));

#endif
