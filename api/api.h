/* api.h — the HTTP API and the admin state it owns, as the daemon sees it.
 *
 * The API is how operators and the deploy/backup/restore tooling take a
 * datacenter out of DNS *before* it goes down (drain, maintenance), record
 * the operations they run, and see what is happening (status, health,
 * events, metrics). Routes and payloads: docs/api.md, docs/openapi.yaml.
 *
 * The seam: the API does not know how answers are made. The daemon gives it
 * a struct api_backend of callbacks (datacenter health, services, "what
 * would you answer", status, reload, metrics); the API gives the daemon the
 * admin table (api_admin_words) that DNS workers read lock-free, and takes
 * health transitions (api_event_health) for its events and notifications.
 *
 * Life cycle, from the daemon's main thread:
 *   api_config_parse()   at config load (also validates; no side effects)
 *   api_new()            loads state_dir (admin states, operations), token
 *                        files and the audit log; a bad state file is a
 *                        start-up error naming the file. Call it even when
 *                        the HTTP server is disabled, so persisted drains
 *                        are still honoured.
 *   api_start()          starts the timer thread (draining → drained, lease
 *                        expiry), the notifier and, if enabled, the server
 *   api_free()           stops everything
 *
 * Signals: the daemon should ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)), as
 * libmicrohttpd recommends; the notifier blocks it in its own thread anyway.
 *
 * Threads: HTTP requests run on libmicrohttpd's own thread pool, never on
 * DNS workers. Backend callbacks are called from those threads and from the
 * timer thread, concurrently, sometimes while the API holds its state lock:
 * they must be thread-safe, must not block for long, and must not call back
 * into the API (except api_admin_words/api_admin_state, which are lock-free).
 */
#ifndef SOV_API_API_H
#define SOV_API_API_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "api/admin.h"
#include "common/diag.h"

/* ---- configuration ---- */

#define API_DEFAULT_PORT 8053
#define API_DEFAULT_THREADS 2 /* requests are short; two keep one slow client from blocking */
/* Operators and tooling, not the public; half of it (128) is what idle or
 * slow clients without a token can ever hold (api/guard.h), so a tool's
 * burst of 50 concurrent calls fits beside an attack. */
#define API_DEFAULT_MAX_CONNECTIONS 256
#define API_DEFAULT_TIMEOUT_S 10 /* idle connection timeout */
/* A request header is a few hundred bytes; a client that has not sent one in
 * 5 s is not an operator's tool on any link worth running a drain over. */
#define API_DEFAULT_HEADER_TIMEOUT_S 5
/* sovctl uses one connection per instance at a time, a scraper one more; a
 * script may make 50 calls at once. 64 fits that without letting one
 * address hold more than a quarter of the slots. */
#define API_DEFAULT_MAX_CONNECTIONS_PER_CLIENT 64
#define API_DEFAULT_BODY_MAX 65536 /* bytes; the largest legit body is an operation result */

/** One configured token (see api/auth.h for scopes). Paths already resolved. */
struct api_token_conf {
	char *name;
	char *file;
	char *scope;
};

/**
 * The "api" section and the top-level "state_dir" (docs/api.md has the
 * schema). Relative paths are resolved against the config file's directory.
 */
struct api_config {
	char *state_dir;		/* required; created (0750) if missing */
	bool http_enabled;		/* false: no server, state still loaded and timed */
	struct sockaddr_storage listen; /* port 0 = any free port (tests) */
	socklen_t listen_len;
	char *tls_cert; /* PEM files; both or neither (HTTPS) */
	char *tls_key;
	struct api_token_conf *tokens;
	size_t token_count;
	bool read_without_token; /* GET routes open to anyone who can connect */
	unsigned threads;
	unsigned max_connections;
	unsigned max_connections_per_client;
	unsigned timeout_s;
	unsigned header_timeout_s; /* a complete request header within this (api/guard.h) */
	size_t body_max_bytes;
	uint32_t drain_margin_s; /* see api/admin.h for the drain wait */
	char *audit_log;	 /* default: <state_dir>/audit.log */
	size_t events_max;
	size_t operations_keep; /* finished operations kept in operations.json */
	char **notify_argv;	/* NULL-terminated, or NULL: no notification command */
	uint32_t notify_timeout_ms;
};

/** Sets every default (no tokens, no state_dir, listen 127.0.0.1:8053). */
void api_config_init(struct api_config *c) __attribute__((nonnull));
/** Frees what c owns and re-initialises it. */
void api_config_clear(struct api_config *c) __attribute__((nonnull));

/**
 * Reads "state_dir" and the optional "api" object from the config root.
 * file is the config file's name (for diagnostics and for resolving
 * relative paths; NULL = current directory). Unknown keys, wrong types and
 * bad values are added to diag as "file:line:column: message". Returns
 * SOV_OK (out filled; clear it with api_config_clear) or SOV_ESEMANTIC.
 * Without an "api" object the server is disabled (http_enabled false).
 */
int api_config_parse(const json_t *root, const char *file, struct api_config *out, diag_t *diag)
    __attribute__((nonnull(3, 4), warn_unused_result));

/**
 * Loads every token of c into auth (a new, empty set), reading each token
 * file as a start does (common/secretfile.h rules). Every problem goes to
 * diag, named after the token file: "API token \"NAME\": why". SOV_OK, or
 * SOV_ESEMANTIC when any token was refused. --check-config and api_new()
 * both use it, so they accept and word the same things.
 */
struct auth;
int api_tokens_load(const struct api_config *c, struct auth *auth, diag_t *diag)
    __attribute__((nonnull, warn_unused_result));

/* ---- the backend: what the daemon provides ---- */

/** Health as the probes see it; same values as probe/health.h's enum health_state. */
enum api_health { API_HEALTH_UNKNOWN = 0, API_HEALTH_UP = 1, API_HEALTH_DOWN = 2 };

/** "unknown", "up", "down". */
const char *api_health_name(enum api_health h);

/** One datacenter, as filled by backend.dc_view. */
struct api_dc_view {
	enum api_health health;
	bool in_answers;	   /* named in answers right now (fail-open included) */
	int64_t health_changed_ms; /* Unix ms of the last health transition; 0 = never */
	json_t *extra;		   /* new reference or NULL: members merged into the datacenter
				      object shown by the API (location, addresses, "probes": [...]
				      with last result/error/latency/certificate expiry) */
};

#define API_NAME_MAX 256 /* service name, presentation form */
#define API_SERVICE_DCS_MAX 64

/** One of a service's datacenters. */
struct api_service_dc {
	size_t dc; /* datacenter index */
	bool
	    health_ok; /* health (of the dc, and of the service there if probed) is up or unknown */
};

/** One service, as filled by backend.service_view. */
struct api_service_view {
	char name[API_NAME_MAX]; /* "www.example.com." */
	char policy[16];	 /* "nearest", "failover", "all" */
	uint32_t ttl_s;
	size_t dc_count;
	struct api_service_dc dcs[API_SERVICE_DCS_MAX];
};

struct api_backend {
	void *ctx; /* passed to every callback */

	/**
	 * Instance status: a new object with at least "version", "uptime_s",
	 * "zones": [{"origin","serial"}], "snapshot_loaded_at" (RFC 3339).
	 * NULL on error. Optional (NULL callback: the API reports only itself).
	 */
	json_t *(*status)(void *ctx);

	/**
	 * The zones served: a new array of objects, each with at least
	 * "origin" (presentation form, final dot), "role", "serial",
	 * "serving" (docs/api.md, GET /v1/zones). NULL on error. Optional.
	 */
	json_t *(*zones)(void *ctx);

	/** Fills *out for datacenter dc (< dc_count). Required. SOV_OK or an error. */
	int (*dc_view)(void *ctx, size_t dc, struct api_dc_view *out);

	/**
	 * The longest TTL, in seconds, of any answer that may have named
	 * datacenter dc (the longest TTL of the services using it; if TTLs were
	 * lowered by a recent reload, the old ones). Required.
	 */
	uint32_t (*dc_max_ttl_s)(void *ctx, size_t dc);

	/** Number of services now, and service i. Required. service_view: SOV_OK or SOV_ENOENT. */
	size_t (*service_count)(void *ctx);
	int (*service_view)(void *ctx, size_t i, struct api_service_view *out);

	/**
	 * What the DNS path would answer for service (a name as returned by
	 * service_view) to a client at address client (port 0): a new object
	 * in *out, e.g. {"datacenters":["dc-east"],"addresses":["192.0.2.1"],
	 * "ttl_s":60,"ecs_scope":24,"fail_open":false}. Returns SOV_OK,
	 * SOV_ENOENT (no such service) or another error. Required.
	 */
	int (*answer)(void *ctx, const char *service, const struct sockaddr *client, json_t **out);

	/**
	 * Reloads configuration and zones. SOV_OK, or an error with the
	 * reasons (one per line) in why (cap bytes); the old ones stay served.
	 * Optional (NULL: POST /v1/reload answers 409 "reload_unavailable").
	 */
	int (*reload)(void *ctx, char *why, size_t cap);

	/**
	 * Asks for an SOA check (and a transfer if the primary is newer) of
	 * secondary zone `origin` now, as a NOTIFY would. SOV_OK, SOV_ENOENT
	 * (no such zone), SOV_EINVAL (not a secondary). Optional.
	 */
	int (*zone_refresh)(void *ctx, const char *origin);

	/** Writes the DNS part's Prometheus text to out. Optional. SOV_OK or an error. */
	int (*metrics)(void *ctx, FILE *out);
};

/* ---- the API object ---- */

typedef struct api api_t;

/**
 * Builds the API for dc_count datacenters named dc_ids (index = admin table
 * index, fixed for the life of the api). conf and backend are copied.
 * Loads state_dir/admin.json and state_dir/operations.json (missing files
 * start fresh; an unreadable or invalid one is an error naming the file and
 * its .prev copy), locks state_dir against a second daemon, reads the token
 * files and opens the audit log. Every problem goes to diag.
 * Returns SOV_OK, SOV_EIO, SOV_EPARSE, SOV_EINVAL or SOV_ENOMEM.
 */
int api_new(const struct api_config *conf, const char *const *dc_ids, size_t dc_count,
	    const struct api_backend *backend, api_t **out, diag_t *diag)
    __attribute__((nonnull(1, 4, 5, 6), warn_unused_result));

/** Starts the timer thread and, if enabled, the HTTP server. SOV_OK or SOV_EIO (diag says why). */
int api_start(api_t *api, diag_t *diag) __attribute__((nonnull, warn_unused_result));

/** Stops the server and threads and frees everything; NULL allowed. */
void api_free(api_t *api);

/** The admin words for DNS workers (see api/admin.h). Valid until api_free(). */
const _Atomic uint32_t *api_admin_words(const api_t *api) __attribute__((nonnull));

/** Lock-free read of datacenter dc's admin state (dc < dc_count). */
enum admin_state api_admin_state(const api_t *api, size_t dc) __attribute__((nonnull));

/** The datacenters the admin table is indexed by, as given to api_new() (owned by api). */
size_t api_dc_count(const api_t *api) __attribute__((nonnull));
const char *api_dc_id(const api_t *api, size_t dc) __attribute__((nonnull));

/** The port the server listens on (after api_start), 0 if not listening. */
uint16_t api_port(const api_t *api) __attribute__((nonnull));

/**
 * The address the HTTP server listens on, with the bound port, as
 * "127.0.0.1:8053" / "[::1]:8053" into buf (ADDR_STR_MAX bytes), for logs.
 * Returns buf.
 */
const char *api_listen_format(const api_t *api, char *buf, size_t cap) __attribute__((nonnull));

/**
 * Tells the API that datacenter dc's health changed (from the probe
 * thread; never blocks on I/O): records an event and queues a notification.
 * reason may be NULL.
 */
void api_event_health(api_t *api, size_t dc, enum api_health from, enum api_health to,
		      const char *reason) __attribute__((nonnull(1)));

/**
 * Records a reload that did not come through POST /v1/reload (SIGHUP) as an
 * event (and a notification): ok, who ("SIGHUP"), and why it failed (NULL
 * when ok). Counted like API reloads.
 */
void api_event_reload(api_t *api, bool ok, const char *by, const char *reason)
    __attribute__((nonnull(1, 3)));

/** Writes the API's own metrics (without the backend's) to out. */
void api_metrics_write(api_t *api, FILE *out) __attribute__((nonnull));

#endif
