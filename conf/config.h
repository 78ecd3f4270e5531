/* config.h — the sovdns configuration (JSON, read with jansson).
 *
 * A config is immutable once loaded; a reload builds a new one. Relative
 * file paths inside the config are resolved against the directory of the
 * config file. Unknown keys and wrongly typed values are errors, reported
 * as "file:line:column: message" at the offending key or value.
 * The schema and every default are documented in docs/configuration.md.
 */
#ifndef SOV_CONF_CONFIG_H
#define SOV_CONF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/diag.h"

#define CONFIG_DEFAULT_PORT 53
#define CONFIG_DEFAULT_EDNS_PAYLOAD 1232 /* DNS flag day 2020: avoids IP fragmentation */
#define CONFIG_DEFAULT_TCP_IDLE_MS 10000 /* RFC 7766 §6.2.3 suggests "a few seconds" */
#define CONFIG_DEFAULT_TCP_MAX_CONN 1000
#define CONFIG_DEFAULT_RRL_SLIP 2 /* BIND, Knot, NSD: every other limited reply is TC */
#define CONFIG_DEFAULT_RRL_V4_PREFIX 24
#define CONFIG_DEFAULT_RRL_V6_PREFIX 56
/* "identity": the longest name and version text (one TXT string, RFC 1035 §3.3). */
#define CONFIG_IDENTITY_MAX 255
/* "identity.chaos": which CH TXT names are answered (bits of config.chaos). */
#define CONFIG_CHAOS_ID_SERVER 1u     /* id.server (RFC 4892 §2) */
#define CONFIG_CHAOS_HOSTNAME_BIND 2u /* hostname.bind (BIND's convention) */
#define CONFIG_CHAOS_VERSION_BIND 4u  /* version.bind (BIND's convention) */

/** One zone to serve. */
struct zone_conf {
	char *origin;	/* presentation form as written */
	char *file;	/* path, already resolved against the config's directory; for a
			   secondary, where the received zone is kept (it may not exist
			   yet): "file" or <state_dir>/zones/<origin>.zone */
	bool secondary; /* "role": "secondary": the zone comes by transfer from its
			   primaries (docs/transfers.md), the file is ours to write */
	bool catalog;	/* "role": "catalog": a catalog zone (RFC 9432) sovdns writes to
			   the file at every load, listing every other zone */
};

/** The whole configuration. */
typedef struct config {
	char *path;		/* config file, or NULL when built from the command line */
	sov_sockaddr_t *listen; /* UDP and TCP are both served on each */
	size_t listen_count;
	unsigned threads;	/* DNS workers; 0 = one per online CPU */
	uint16_t edns_payload;	/* bytes: our EDNS UDP payload size and UDP reply cap */
	bool minimal_responses; /* "minimal_responses": no additional-section addresses
				   for NS/MX/SRV answers, only a referral's glue (as
				   BIND's and NSD's minimal-responses); default false */
	uint32_t tcp_idle_timeout_ms;
	uint32_t tcp_max_connections; /* across all workers */
	int log_level;		      /* enum log_level */
	bool log_syslog;
	bool check_only; /* set by --check-config and --explain, never by the file:
			    building the snapshot writes nothing to disk (a
			    catalog zone is rendered to a temporary file) */
	struct zone_conf *zones;
	size_t zone_count;
	char *user;		   /* "user": drop root to this account after binding; NULL: stay */
	bool cookie_secret_set;	   /* "cookies.secret" given (else a random one per process) */
	uint8_t cookie_secret[16]; /* RFC 9018 server secret, shared by a server set */
	uint32_t rrl_rate;	   /* "rrl.responses_per_second" per client network; 0 = off */
	uint32_t rrl_slip;	   /* every Nth limited reply is sent truncated (TC=1); 0 = none */
	uint8_t rrl_ipv4_prefix;   /* client network size for IPv4 (default 24) */
	uint8_t rrl_ipv6_prefix;   /* for IPv6 (default 56) */
	/* "identity" (docs/configuration.md): which server answered. */
	char identity[CONFIG_IDENTITY_MAX + 1]; /* "name": NUL-terminated, 1..255 bytes;
						   default: the host name */
	char version[CONFIG_IDENTITY_MAX + 1];	/* "version": version.bind's text;
						   default "sovdns <version>" */
	bool nsid;				/* "nsid": answer NSID (RFC 5001) with
						   identity; default true */
	uint8_t chaos;				/* "chaos": CONFIG_CHAOS_* bits of the
						   CH TXT names answered; default all */
	void *json; /* the parsed document (json_t *, owned) for sections read by
		       other modules (datacenters, services, ...); NULL from the
		       command line */
	char *text; /* the file's bytes (owned, NUL-terminated), so those modules
		       can report positions with config_locate(); NULL from the
		       command line */
	size_t text_len;
} config_t;

/**
 * Top-level keys that config_load() accepts without interpreting them: their
 * sections belong to other modules, which read them from config->json and
 * validate them themselves (reporting with config_locate()). NULL-terminated.
 */
extern const char *const config_reserved_keys[];

/**
 * Reads and validates the JSON file at path. On success returns SOV_OK and
 * a new config in *out; otherwise adds every problem to diag and returns
 * SOV_EIO, SOV_EPARSE or SOV_ESEMANTIC.
 */
int config_load(const char *path, config_t **out, diag_t *diag) __attribute__((warn_unused_result));

/** An empty config with every default set (for the command-line mode). NULL on ENOMEM. */
config_t *config_new_defaults(void);

/** Adds a zone (origin presentation form, file path as given). SOV_OK or SOV_ENOMEM. */
int config_add_zone(config_t *c, const char *origin, const char *file);

/** Adds a listen address ("ADDR:PORT"). SOV_OK or SOV_EINVAL. */
int config_add_listen(config_t *c, const char *text);

/**
 * Finds where the JSON value `value` (a node of c->json, compared by
 * identity) is in c's file, for modules that validate a section from the
 * parsed tree (geo, probes, api). Sets *line and *col (1-based); both 0 when
 * the value is not in the tree or the config has no file.
 */
void config_locate(const config_t *c, const void *value, unsigned *line, unsigned *col);

/** Frees a config; NULL allowed. */
void config_free(config_t *c);

#endif
