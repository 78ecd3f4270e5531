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
#define CONFIG_DEFAULT_EDNS_PAYLOAD 1232   /* DNS flag day 2020: avoids IP fragmentation */
#define CONFIG_DEFAULT_TCP_IDLE_MS 10000   /* RFC 7766 §6.2.3 suggests "a few seconds" */
#define CONFIG_DEFAULT_TCP_MAX_CONN 1000

/** One zone to serve. */
struct zone_conf {
	char *origin; /* presentation form as written */
	char *file;   /* path, already resolved against the config's directory */
};

/** The whole configuration. */
typedef struct config {
	char *path;                 /* config file, or NULL when built from the command line */
	sov_sockaddr_t *listen;     /* UDP and TCP are both served on each */
	size_t listen_count;
	unsigned threads;           /* DNS workers; 0 = one per online CPU */
	uint16_t edns_payload;      /* bytes: our EDNS UDP payload size and UDP reply cap */
	uint32_t tcp_idle_timeout_ms;
	uint32_t tcp_max_connections; /* across all workers */
	int log_level;              /* enum log_level */
	bool log_syslog;
	struct zone_conf *zones;
	size_t zone_count;
	void *json;                 /* private: the parsed document (json_t *), for later sections */
} config_t;

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

/** Frees a config; NULL allowed. */
void config_free(config_t *c);

#endif
