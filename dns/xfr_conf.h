/* xfr_conf.h — TSIG keys and who may transfer each zone (docs/transfers.md).
 *
 * Reads, from the configuration's document (config_t.json):
 *
 *   "tsig": {"keys": [{"file": "keys/transfer.key"},
 *                     {"name": "k2", "algorithm": "hmac-sha512", "file": "k2.secret"}],
 *            "allow_hmac_md5": false}
 *   "transfers": {"max_concurrent": 10, "max_time_s": 3600,
 *                 "journal_max_entries": 20, "journal_max_bytes": 20971520}
 *   "zones": [{..., "transfer": {"allow": [{"from": ["127.0.0.0/8", "::1"],
 *                                           "key": "transfer"}],
 *                                "journal_max_entries": 20, "journal_max_bytes": 20971520},
 *              "notify": {"ns": true, "also": [{"address": "192.0.2.9", "key": "k"}]}},
 *             {..., "role": "secondary",
 *              "primaries": [{"address": "192.0.2.1:53", "key": "transfer"}]}]
 *
 * A key file holds one line: either `ALGORITHM:NAME:SECRET` (the form
 * `kdig -y` and `knsupdate -y` take; "name" and "algorithm", when also
 * given, must agree with it) or the base64 SECRET alone (then "name" is
 * required and "algorithm" defaults to hmac-sha256). It is read with
 * secretfile_read(): a regular file others may not read or write.
 *
 * A transfer (AXFR, IXFR) of a zone is allowed when one rule of its
 * "allow" list matches: the client's source address (never an ECS
 * address) is inside one of "from", and, when the rule names a key, the
 * request was signed with that key and verified. No "transfer" (or an
 * empty "allow"): nobody may transfer the zone.
 */
#ifndef SOV_DNS_XFR_CONF_H
#define SOV_DNS_XFR_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/addr.h"
#include "common/diag.h"
#include "common/net.h"
#include "conf/config.h"
#include "dns/tsig.h"

/* BIND's transfers-out default: enough for a few secondaries at once,
 * small enough that a burst of transfers cannot starve TCP answering. */
#define XFR_DEFAULT_MAX_CONCURRENT 10
/* A transfer that takes longer than this is cut (BIND's max-transfer-time-out
 * is 120 min; an hour covers a million records to a slow link). */
#define XFR_DEFAULT_MAX_TIME_S 3600

/* The IXFR journal of each zone (dns/journal.h) keeps at most this many
 * steps between versions, and at most this many bytes of them; the oldest
 * go first. Knot's journal-max-depth and journal-max-usage defaults (20
 * changes, 20 MiB). A secondary more than 20 reloads behind gets the full
 * zone, which it would need about as long to apply as the differences. */
#define XFR_DEFAULT_JOURNAL_MAX_ENTRIES 20
#define XFR_DEFAULT_JOURNAL_MAX_BYTES (20u * 1024 * 1024)
/* The largest values accepted: a journal lives in memory, and beyond a
 * gigabyte or ten thousand steps of one zone a full transfer is cheaper
 * to keep around than the differences. */
#define XFR_JOURNAL_MAX_ENTRIES_LIMIT 10000
#define XFR_JOURNAL_MAX_BYTES_LIMIT (1024LL * 1024 * 1024)

/** One rule of a zone's "allow" list. */
struct update_policy;

struct xfr_rule {
	sov_net_t *from; /* owned */
	size_t from_count;
	int key; /* index in xfr_conf.keys, or -1: any client in `from`, signed or not */
};

/** Another server of a zone: a primary we copy it from, or one we NOTIFY. */
struct xfr_remote {
	sov_sockaddr_t addr; /* "address": "192.0.2.1", "192.0.2.1:5300", "[2001:db8::1]:53" */
	int key;	     /* index in xfr_conf.keys, or -1: unsigned */
};

/** What one zone allows, and whom it talks to (index = the zone's index in
 * config_t.zones). */
struct xfr_zone {
	struct xfr_rule *allow; /* owned */
	size_t allow_count;
	struct xfr_remote *primaries; /* owned; role "secondary" only (then >= 1): tried
					 in order for SOA checks and transfers; a
					 NOTIFY is accepted only from their addresses */
	size_t primary_count;
	struct xfr_remote *notify; /* owned: "notify.also", servers NOTIFYed beside the
				      zone's name servers (RFC 1996 §3.6) */
	size_t notify_count;
	bool notify_ns;		      /* "notify.ns" (default true): NOTIFY the addresses of the
					 zone's NS names, except our own */
	uint32_t journal_max_entries; /* "transfer.journal_max_entries", else the
					 server-wide "transfers" value */
	uint32_t journal_max_bytes;   /* "transfer.journal_max_bytes", else likewise */
	struct update_policy *update; /* owned: "update" (dns/update_conf.h); NULL: every
					 UPDATE of the zone is REFUSED */
};

/** The transfer settings of one configuration. Immutable once built. */
struct xfr_conf {
	struct tsig_key *keys; /* owned; secrets wiped by xfr_conf_free() */
	size_t key_count;
	struct tsig_keyring ring; /* borrows keys */
	struct xfr_zone *zones;	  /* owned, config_t.zone_count entries */
	size_t zone_count;
	uint32_t max_concurrent;      /* transfers out at once, across all workers */
	uint32_t max_time_s;	      /* longest transfer out */
	uint32_t journal_max_entries; /* per zone; 0: no journal (IXFR gets the full zone);
					 the default of each xfr_zone's own */
	uint32_t journal_max_bytes;   /* per zone, bytes of differences in wire form; likewise */
};

/**
 * Builds the transfer settings of conf. Key files are resolved against the
 * configuration file's directory. Every problem is added to diag at the
 * offending key or value ("file:line:column: message"; a key file's own
 * problem names the file and never shows the secret). Returns SOV_OK and
 * *out (also for a configuration without any of these sections: no keys,
 * nothing allowed), SOV_ESEMANTIC, or SOV_ENOMEM.
 */
int xfr_conf_load(const config_t *conf, struct xfr_conf **out, diag_t *diag)
    __attribute__((nonnull, warn_unused_result));

/** Frees x (NULL allowed), wiping the secrets. */
void xfr_conf_free(struct xfr_conf *x);

/**
 * Whether `client` (its source address; NULL: refused) may transfer zone
 * number zone_idx, having signed with `key` (NULL: unsigned or not
 * verified). Pure; used at the start of a transfer only.
 */
bool xfr_allowed(const struct xfr_conf *x, size_t zone_idx, const struct sockaddr *client,
		 const struct tsig_key *key) __attribute__((nonnull(1)));

/** The key called `name` (presentation form, any case, final dot optional), or -1. */
int xfr_key_index(const struct xfr_conf *x, const char *name) __attribute__((nonnull));

#endif
