/* secondary.h — the secondary engine: keeps every "role": "secondary" zone
 * current from its primaries (RFC 1034 §4.3.5, RFC 1996, RFC 1995, RFC
 * 5936). docs/transfers.md, "sovdns as a secondary", is the user's side.
 *
 * SECONDARY_THREADS threads share the secondary zones: each takes the next
 * zone that is due and not being refreshed by another, so a slow primary
 * holds up only one. For each zone, due when its timer runs out or a NOTIFY
 * came from one of its primaries:
 *   1. ask the primaries in order for the SOA serial (dns/xfr_client.h);
 *   2. if theirs is newer (RFC 1982), or we have no data, transfer: IXFR
 *      from our serial when we have a copy, else AXFR; an IXFR that fails
 *      (the primary refuses it, or its differences do not apply) is retried
 *      once as AXFR from the same primary;
 *   3. the received zone is written to a temporary file beside the kept
 *      copy, fsync'd, loaded and checked exactly like an operator's file
 *      (snapshot_load_zone), renamed over the kept copy, the directory
 *      fsync'd, and published: only that zone is replaced (snapshot_respin);
 *      a zone that fails the checks is logged and the old one keeps serving;
 *   4. success (a transfer, or "up to date"): next check after the SOA's
 *      REFRESH, and the kept file's mtime set to now (it records "last
 *      confirmed current", so EXPIRE is measured across restarts); failure
 *      of every primary: next try after RETRY; no success for EXPIRE: the
 *      zone answers SERVFAIL (zone_new_empty), logged at error level and
 *      counted in metrics, until a primary answers again.
 * REFRESH and RETRY are clamped to [2 s, 1 day], as Knot's defaults. A
 * zone without data (never transferred, or expired) has no SOA to follow:
 * it is retried after 2 s, doubling up to 5 minutes. A NOTIFY starts a
 * check at once, but at most one a second per zone (a flood of NOTIFYs
 * costs the primary one SOA query a second). A reload that changes a
 * zone's primaries or keys, or finds it without data, checks it at once. A transfer is cut
 * after transfers.max_time_s, or at XFR_IN_DEFAULT_MAX_RECORDS records.
 *
 * Locks: the engine's own mutex guards the zone list handed over by
 * secondary_sync(), the NOTIFY flags and what secondary_zone_json() reads;
 * it is held for bookkeeping only, never over network work. Publishing
 * takes the daemon's reload_lock (so it never races a reload) and
 * view_lock around the swap only. Order: reload_lock or view_lock before
 * the engine's mutex, never the other way.
 */
#ifndef SOV_DAEMON_SECONDARY_H
#define SOV_DAEMON_SECONDARY_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "dns/snapshot.h"

struct daemon;
typedef struct secondary secondary_t;

/* Threads refreshing zones: a primary that is slow or silent for one zone
 * holds up only its thread; the others go on with the other zones (BIND's
 * transfers-in default is 10; 4 covers a few stuck primaries on a small
 * machine). */
#define SECONDARY_THREADS 4
#define SECONDARY_MIN_INTERVAL_S 2
#define SECONDARY_MAX_INTERVAL_S 86400
#define SECONDARY_BOOTSTRAP_MAX_S 300
/* NOTIFYs of a zone within this much of its last SOA check wait for it to pass. */
#define SECONDARY_NOTIFY_GAP_MS 1000

/** An engine for daemon d, not running yet. NULL: out of memory. */
secondary_t *secondary_new(struct daemon *d) __attribute__((nonnull));

/**
 * Hands the engine the secondary zones of s (about to be or just
 * published; call under the daemon's reload_lock). Zones kept from the
 * previous set keep their timers; new ones are checked at once. Also sets
 * s->notify_in so that NOTIFYs reach the engine. Copies what it needs.
 */
void secondary_sync(secondary_t *e, snapshot_t *s) __attribute__((nonnull));

/** Starts the thread. SOV_OK or SOV_ESYS. */
int secondary_run(secondary_t *e) __attribute__((nonnull, warn_unused_result));

/** Stops the thread (a transfer in progress is cut within 200 ms) and frees e. NULL allowed. */
void secondary_free(secondary_t *e);

/**
 * Checks secondary zone number zone_idx (of the current configuration) at
 * once, as a NOTIFY from its primary would, but without the NOTIFY rate
 * limit (POST /v1/zones/{origin}/refresh). Thread-safe.
 */
void secondary_refresh_now(secondary_t *e, size_t zone_idx) __attribute__((nonnull));

/**
 * What the API shows of secondary zone `origin` (lowercased wire name): a
 * new object (docs/api.md, GET /v1/zones), or NULL when the engine does not
 * hold it (yet). Thread-safe.
 */
json_t *secondary_zone_json(secondary_t *e, const uint8_t *origin) __attribute__((nonnull));

/** Prometheus text of the engine's counters (metrics.c). */
void secondary_metrics(const secondary_t *e, FILE *out) __attribute__((nonnull));

#endif
