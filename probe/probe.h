/* probe.h — health probes of datacenters and of services at datacenters.
 *
 * Two halves:
 *
 * 1. Configuration. probe_config_parse() reads the "probes" section of the
 *    configuration (JSON, schema in docs/probes.md) against the list of
 *    datacenters and builds an immutable probe_config_t: the checks as
 *    written, the *targets* (one per datacenter, then one per service that
 *    has probes of its own at a datacenter; each target is one slot of the
 *    health table, see health.h) and the *instances* (one check against one
 *    address of one target — the unit that is actually probed).
 *
 * 2. The engine. One thread with its own libevent base runs every instance
 *    asynchronously: one timer per instance (it is the interval timer while
 *    idle and the timeout timer while a probe runs), non-blocking sockets,
 *    a cap on probes in flight. Results go through the state machine of
 *    sm.h; target changes are published to the health table with atomics
 *    (the DNS workers never wait for, or lock against, this thread), logged
 *    once in plain words, and passed to a transition callback.
 *
 * Probe types (IPv4 and IPv6 alike):
 *   tcp    connect() to address:port succeeds.
 *   http   GET path with a Host header, HTTP/1.1, Connection: close; the
 *          status is one of expect_status and, optionally, the body
 *          contains body_contains. Redirects are not followed.
 *   https  the same over TLS (OpenSSL): SNI, chain verified against the
 *          system store or ca_file, host name verified (RFC 6125 via
 *          X509_VERIFY_PARAM_set1_host, or the IP address when host is an
 *          IP literal); the leaf certificate's days to expiry are recorded.
 *   dns    one UDP query (RFC 1035 §4.1) to address:53; the reply's rcode is
 *          expect_rcode and, optionally, the answer section holds
 *          expect_address.
 */
#ifndef SOV_PROBE_PROBE_H
#define SOV_PROBE_PROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/diag.h"
#include "probe/health.h"
#include "probe/sm.h"

/* Defaults (reasons in docs/probes.md, "Defaults"). */
#define PROBE_DEFAULT_INTERVAL_MS 5000	/* between HAProxy's 2 s and gdnsd's 10 s */
#define PROBE_DEFAULT_TIMEOUT_MS 2000	/* a healthy site answers in well under 1 s */
#define PROBE_DEFAULT_RISE 2		/* HAProxy */
#define PROBE_DEFAULT_FALL 3		/* HAProxy, Route 53 failure threshold */
#define PROBE_DEFAULT_JITTER_DIVISOR 10 /* jitter_ms defaults to interval_ms / 10 */
#define PROBE_DEFAULT_MAX_IN_FLIGHT 256 /* one socket each; far below a 1024 fd limit */
#define PROBE_DEFAULT_CERT_WARN_DAYS 14 /* two renewal attempts of a 30-day ACME cycle */

/* Bounds accepted by the parser. */
#define PROBE_MIN_INTERVAL_MS 100
#define PROBE_MAX_INTERVAL_MS 3600000
#define PROBE_MIN_TIMEOUT_MS 50
#define PROBE_MAX_THRESHOLD 100
#define PROBE_MAX_EXPECT_STATUS 16

enum probe_type {
	PROBE_TCP = 0,
	PROBE_HTTP,
	PROBE_HTTPS,
	PROBE_DNS,
};

/** A datacenter as the probe configuration needs it (input, borrowed). */
struct probe_dc {
	const char *id;		     /* "dc-west" */
	const sov_sockaddr_t *addrs; /* public addresses clients get; ports ignored */
	size_t addr_count;
};

/** One check as configured (applies to one or more datacenters). */
struct probe_check {
	char *name; /* "web" or, if not given, "<type>#<position>" */
	enum probe_type type;
	char *service;	      /* NULL: decides the datacenters; else only this service's use */
	uint32_t interval_ms; /* start to start of consecutive probes, upper bound */
	uint32_t timeout_ms;  /* <= interval_ms */
	uint32_t jitter_ms;   /* each interval is shortened by a random 0..jitter_ms */
	uint32_t rise;	      /* consecutive successes to go down → up */
	uint32_t fall;	      /* consecutive failures to go up → down */
	uint16_t port;	      /* host order; type default filled in (80, 443, 53) */
	/* http, https */
	char *host; /* Host header, SNI and name verified; NULL: the address */
	char *path; /* request target, starts with '/' */
	uint16_t expect_status[PROBE_MAX_EXPECT_STATUS];
	size_t expect_status_count; /* 0: any status 200..399 */
	char *body_contains;	    /* NULL: body not examined */
	/* https */
	char *ca_file;		 /* NULL: system store; else resolved path */
	bool verify;		 /* false: chain and name not checked (expiry still recorded) */
	uint32_t cert_warn_days; /* log a warning when the certificate expires sooner */
	/* dns */
	char *qname;	      /* presentation form */
	uint16_t qtype;	      /* RR type number */
	uint8_t expect_rcode; /* RFC 1035 §4.1.1 RCODE */
	bool has_expect_address;
	int expect_family;	    /* AF_INET / AF_INET6 */
	uint8_t expect_address[16]; /* network order */
};

/** One slot of the health table. */
struct probe_target {
	char *name;	 /* "dc-west", or "pay.example.com@dc-west" for a service target */
	size_t dc_index; /* into the dcs given to probe_config_parse */
	char *service;	 /* NULL for a datacenter target */
	enum probe_combine combine;
};

/** One check probing one address on behalf of one target. */
struct probe_instance {
	size_t check;	     /* index into checks */
	size_t target;	     /* index into targets (= health table index) */
	sov_sockaddr_t addr; /* with the port to connect to (network order inside) */
};

typedef struct probe_config {
	struct probe_check *checks;
	size_t check_count;
	struct probe_target *targets; /* targets[i] for i < dc_count is datacenter i */
	size_t target_count;
	size_t dc_count;
	struct probe_instance *instances;
	size_t instance_count;
	uint32_t max_in_flight; /* probes running at once; more wait their turn */
} probe_config_t;

/**
 * Builds the probe configuration.
 * probes_section: the "probes" object, or NULL for none (every datacenter
 * then stays unknown, i.e. usable). dcs: the datacenters, in the order that
 * fixes target indices 0..dc_count-1; ids must be unique. file: the config
 * file, for diagnostics and to resolve a relative ca_file (NULL allowed).
 * On success returns SOV_OK and *out (free with probe_config_free);
 * otherwise adds every problem to diag and returns SOV_ESEMANTIC, or
 * SOV_ENOMEM. Positions in diagnostics are 0 (jansson keeps none for values);
 * each message names the key path instead ("probes.checks[2].timeout_ms").
 */
int probe_config_parse(const json_t *probes_section, const struct probe_dc *dcs, size_t dc_count,
		       const char *file, probe_config_t **out, diag_t *diag)
    __attribute__((warn_unused_result, nonnull(5)));

/** Frees a configuration; NULL allowed. */
void probe_config_free(probe_config_t *cfg);

/**
 * The health table index that decides whether service may use dc: the
 * service's own target at that dc if it has probes there, else the dc's.
 * service NULL gives the dc's target. Returns the index (>= 0) or SOV_ENOENT
 * if dc_id is not a datacenter.
 */
int probe_config_target_index(const probe_config_t *cfg, const char *dc_id, const char *service)
    __attribute__((nonnull(1, 2)));

/** "tcp", "http", "https", "dns". */
const char *probe_type_name(enum probe_type t);

/* ------------------------------------------------------------------------ */

typedef struct probe_engine probe_engine_t;

/** A change of a target's health, as given to the transition callback. */
struct probe_transition {
	size_t target;		 /* health table index */
	const char *target_name; /* "dc-west" or "pay.example.com@dc-west" */
	const char *dc_id;
	const char *service; /* NULL for a datacenter target */
	enum health_state from;
	enum health_state to;
	const char
	    *reason; /* "https://198.51.100.7/health timed out after 2000 ms, 3 of 3 failed" */
	int64_t at_unix_ms;
};

/**
 * Called on the engine thread after the health table has been updated. The
 * pointers are valid only during the call. Must not block for long: every
 * probe waits while it runs.
 */
typedef void (*probe_transition_cb)(const struct probe_transition *t, void *arg);

/**
 * Creates an engine (not yet running). cfg and table are borrowed and must
 * outlive the engine; the table must have cfg->target_count slots and is
 * written only by the engine thread. cb may be NULL. Returns SOV_OK and
 * *out, SOV_EINVAL (table size mismatch, unreadable ca_file: logged), or
 * SOV_ENOMEM.
 */
int probe_engine_new(const probe_config_t *cfg, health_table_t *table, probe_transition_cb cb,
		     void *cb_arg, probe_engine_t **out)
    __attribute__((warn_unused_result, nonnull(1, 2, 5)));

/**
 * Starts the engine thread. The first round of probes starts at once
 * (spread over at most PROBE_STARTUP_SPREAD_MS). The thread blocks every
 * signal, so signals go to the caller's threads and a peer that closes
 * mid-write gives EPIPE rather than SIGPIPE. Call at most once (a stopped
 * engine is not restarted: build a new one). SOV_OK, SOV_EINVAL or SOV_ESYS.
 */
int probe_engine_start(probe_engine_t *e) __attribute__((warn_unused_result, nonnull));

/** How far the first probes are spread after start, so hundreds do not connect at once. */
#define PROBE_STARTUP_SPREAD_MS 200

/**
 * Waits for the first round: returns when every instance has its first
 * result, or when the bound passes — PROBE_STARTUP_SPREAD_MS plus the
 * largest timeout_ms plus a 100 ms margin after probe_engine_start, so
 * start-up is never stuck on a silent site. Instances still without a
 * result then (only possible when max_in_flight queues them) leave their
 * target unknown, i.e. usable. *pending (may be NULL) receives how many.
 * Returns SOV_OK, or SOV_EINVAL if the engine is not running.
 */
int probe_engine_first_round(probe_engine_t *e, size_t *pending) __attribute__((nonnull(1)));

/** Stops the thread and closes every probe in flight; idempotent. */
void probe_engine_stop(probe_engine_t *e) __attribute__((nonnull));

/** Stops if needed and frees the engine; NULL allowed. */
void probe_engine_free(probe_engine_t *e);

#endif
