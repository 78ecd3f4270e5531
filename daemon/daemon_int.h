/* daemon_int.h — private to the daemon/ files: the running daemon's layout and
 * the helpers its files share.
 *
 *   daemon.c   start-up, reload, stop (the composition root)
 *   backend.c  the API backend callbacks (be_*) and their JSON
 *   metrics.c  the Prometheus text of GET /metrics
 *   privs.c    dropping root after binding
 *   monitor.c  the probes of one configuration and the live health table
 *   secondary.c the secondary engine: SOA checks, transfers in, expiry
 *   notify.c   NOTIFY out of one zone (after a reload or a transfer in)
 *   update.c   RFC 2136 UPDATE: the workers' hook, the store of dynamic data
 *   publish.c  one zone of the current snapshot replaced (transfer in, UPDATE)
 *
 * Locks: reload_lock serializes reloads (SIGHUP on the main thread, POST
 * /v1/reload on an API thread). view_lock is held by every backend
 * callback while it reads the current snapshot (snapshot_current()) and
 * d->mon; a reload swaps both under it and frees the old ones only after
 * releasing it, so a callback never sees a freed snapshot and never waits
 * for an RCU grace period.
 */
#ifndef SOV_DAEMON_DAEMON_INT_H
#define SOV_DAEMON_DAEMON_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "api/api.h"
#include "common/addr.h"
#include "daemon/daemon.h"
#include "daemon/monitor.h"
#include "daemon/secondary.h"
#include "dns/journal.h"
#include "dns/notify_out.h"
#include "dns/server.h"
#include "dns/snapshot.h"

/* What a running server cannot change without a restart, and the log
 * settings in force. */
struct fixed_settings {
	sov_sockaddr_t *listen;
	size_t listen_count;
	unsigned threads;
	int log_level;
	bool log_syslog;
};

struct daemon {
	daemon_config_fn load;
	void *load_arg;
	pthread_mutex_t reload_lock; /* one reload at a time (SIGHUP, API) */
	pthread_mutex_t view_lock;   /* the backend's view of snapshot_current() and mon */
	monitor_t *mon;		     /* the probes the current snapshot's health comes
					from; NULL without datacenters */
	server_t *srv;
	secondary_t *sec;     /* the secondary engine (idle without secondary zones) */
	notifier_t *notifier; /* NOTIFY out (dns/notify_out.h); set before the API
				 starts, freed after it stopped */
	sov_sockaddr_t *own;  /* our addresses, never NOTIFYed: the listen list, a
				 wildcard one expanded to the interfaces' addresses */
	size_t own_count;
	api_t *api;	      /* NULL without "api"/"state_dir"; set before any
				 thread that reads it starts */
	json_t *api_sections; /* "api" and "state_dir" at start (reload warns on change) */
	struct fixed_settings fixed;
	int64_t started_ms;
	/* Drain waits must cover TTLs of answers given before a reload that
	 * lowered them: the previous per-dc maximum (api_dc_count entries),
	 * valid until this time. */
	uint32_t *dc_ttl_prev;
	int64_t dc_ttl_prev_until_ms;
	journal_store_t *journals;	/* each zone's IXFR journal across reloads (journal_hook);
					   touched only under reload_lock or before start */
	struct daemon_updates *updates; /* update.c: dynamic data, rates, replays; touched
					   only under reload_lock or before start */
};

/**
 * Tells the secondaries of zone number zone_idx of s (zonedb index) that
 * it has the version s holds: builds its NOTIFY targets
 * (notify_targets_build: "notify.also", the NS names' addresses, minus our
 * own) and queues them (notifier_zone_changed, which replaces a version of
 * the zone still being notified). For a reload (daemon.c) and for a
 * secondary zone just transferred and respun. s must stay valid during the
 * call (the caller holds reload_lock or the read lock); nothing of it is
 * kept. A zone without data or without targets sends nothing.
 */
void daemon_notify_zone(daemon_t *d, const snapshot_t *s, size_t zone_idx) __attribute__((nonnull));

/**
 * Publishes nz (taken, in every case) as zone number idx of cur, the
 * current snapshot (the caller holds reload_lock): respins the snapshot,
 * records the difference in the zone's IXFR journal, swaps it in under
 * view_lock, NOTIFYs the zone's secondaries and retires cur. For a
 * secondary zone transferred in and for an accepted UPDATE. SOV_OK or
 * SOV_ENOMEM (cur keeps serving).
 */
int daemon_publish_zone(daemon_t *d, const snapshot_t *cur, size_t idx, zone_t *nz)
    __attribute__((nonnull, warn_unused_result));

/**
 * Lays every primary zone's dynamic data (accepted UPDATEs, kept under
 * state_dir) over s, which is about to replace cur (NULL at start), and
 * sets s's update hook (update.c). Under reload_lock or before start.
 * SOV_OK, or an error with the problems in diag (a .dyn file unreadable, or
 * in conflict with the zone file): the start or reload is refused.
 */
int daemon_updates_apply(daemon_t *d, const snapshot_t *cur, snapshot_t *s, diag_t *diag)
    __attribute__((nonnull(1, 3), warn_unused_result));

/** Frees what daemon_updates_apply() set up (after the workers stopped). */
void daemon_updates_free(daemon_t *d) __attribute__((nonnull));

/** The backend callbacks the API is built with (backend.c); ctx = d.
 * All but .reload, which daemon.c fills (it owns reload). */
void daemon_backend_init(daemon_t *d, struct api_backend *be) __attribute__((nonnull));

/** The backend's metrics callback (metrics.c): Prometheus text to out. */
int daemon_metrics(void *ctx, FILE *out);

/**
 * Least privilege after binding: become `user` for good (NULL: stay).
 * SOV_OK, or an error with the reason in diag (privs.c).
 */
int daemon_drop_privileges(const char *user, diag_t *diag) __attribute__((warn_unused_result));

#endif
