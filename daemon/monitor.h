/* monitor.h — the health probes of one configuration, tied to its
 * datacenters and services.
 *
 * A monitor owns the probe configuration, the health table (probe/health.h),
 * the probe engine thread and the live (service, datacenter) health table
 * the answer path reads lock-free (monitor_live(), geo/usable.h), which it
 * rewrites on the probe thread after each transition. A reload keeps the running monitor when the
 * `datacenters`, `services` and `probes` sections are unchanged (so rise/fall
 * history survives), and otherwise starts a new one before the new snapshot
 * is published; the old one is freed only after the snapshots that borrow it
 * are gone (daemon_reload() frees it once snapshot_retire() has waited out
 * the old snapshot's grace period).
 *
 * Health of a service at a datacenter = the datacenter's own health AND, if
 * the service has probes of its own there, their health (docs/probes.md).
 * A target with no probe at all stays `unknown`, which counts as usable.
 */
#ifndef SOV_DAEMON_MONITOR_H
#define SOV_DAEMON_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "conf/config.h"
#include "geo/geo.h"
#include "geo/usable.h"
#include "probe/probe.h"

typedef struct monitor monitor_t;

/**
 * Parses the `probes` section of conf (may be absent: no probes) against the
 * datacenters and services of geo, and creates the health table and the
 * engine (not started). Errors go to diag. Returns SOV_OK and *out, or an
 * error code. conf and geo are only read during the call.
 */
int monitor_new(const config_t *conf, const geo_ctx_t *geo, monitor_t **out, diag_t *diag)
    __attribute__((warn_unused_result));

/**
 * Before monitor_start of m, the monitor replacing prev on a reload: m takes
 * prev's "no datacenter is healthy" state of every service of the same
 * name, so that its first probe round logs "a datacenter is healthy again"
 * for a service the reload brought back (an alert keyed on the pair then
 * clears). prev may still be running.
 */
void monitor_inherit(monitor_t *m, monitor_t *prev) __attribute__((nonnull));

/** Starts the probe thread (does not wait). Returns SOV_OK or SOV_ESYS. */
int monitor_start(monitor_t *m) __attribute__((warn_unused_result));

/**
 * Waits for one full round of probe results (bounded by the largest probe
 * timeout plus the start-up spread), then marks the monitor ready. Until
 * then the answer path answers SERVFAIL for services, so that a restart
 * never sends clients to a site that is down; static data is served
 * normally meanwhile.
 */
void monitor_first_round(monitor_t *m);

/** True once the first round is done (lock-free). */
bool monitor_ready(const monitor_t *m);

/**
 * The live table snapshots borrow for the answer path (owned by m, valid
 * until monitor_free): per (service, dc) health and the first-round flag.
 */
const struct geo_health *monitor_live(const monitor_t *m) __attribute__((nonnull));

/**
 * Also calls cb(transition, arg) on the probe thread after each health
 * change (for the API's events and notifications). Set before
 * monitor_start(); cb must not block.
 */
void monitor_set_listener(monitor_t *m, probe_transition_cb cb, void *arg);

/** True if conf's datacenters/services/probes sections equal those m was built from. */
bool monitor_same_config(const monitor_t *m, const config_t *conf);

/** Stops the probe thread (no more transitions or callbacks); idempotent; NULL allowed. */
void monitor_stop(monitor_t *m);

/** Stops the engine and frees everything; NULL allowed. */
void monitor_free(monitor_t *m);

/** Health of service `svc` at datacenter `dc` (indices of the geo context): lock-free. */
enum health_state monitor_health(const monitor_t *m, size_t svc, size_t dc);

/** Health of datacenter `dc` itself: lock-free. */
enum health_state monitor_dc_health(const monitor_t *m, size_t dc);

/** The health table (details for the API) and the probe configuration; owned by m. */
health_table_t *monitor_table(const monitor_t *m);
const probe_config_t *monitor_probes(const monitor_t *m);

#endif
