/* daemon.h — one running sovdns: the snapshot, the probes (monitor), the
 * HTTP API and the DNS workers, and how a reload replaces the first two.
 *
 * The main thread owns the daemon; reloads come from SIGHUP (main thread)
 * or POST /v1/reload (an API thread) and are serialized by a mutex. The
 * API's read callbacks see the current snapshot under a second mutex that
 * a reload takes only to swap the pointer, so they never race a free.
 */
#ifndef SOV_DAEMON_DAEMON_H
#define SOV_DAEMON_DAEMON_H

#include <stdbool.h>

#include "common/diag.h"
#include "conf/config.h"

typedef struct daemon daemon_t;

/** Builds the configuration for a (re)load: from the file, or the command line. */
typedef int (*daemon_config_fn)(void *arg, config_t **out, diag_t *diag);

/**
 * Loads the configuration (load(arg)), zones, datacenters and probes, the
 * API state (state_dir), binds every socket and starts the workers, the
 * probe thread and the API. Problems go to diag. Returns SOV_OK, SOV_ESYS
 * (a bind failed: runtime error) or another code (invalid configuration).
 */
int daemon_start(daemon_config_fn load, void *arg, daemon_t **out, diag_t *diag)
    __attribute__((warn_unused_result));

/**
 * Logs "ready", then waits for the first probe round (bounded; services
 * answer SERVFAIL until it is done). Call once after daemon_start().
 */
void daemon_ready(daemon_t *d);

/**
 * Re-reads everything and swaps it in, or keeps the old data and puts the
 * reasons in diag. Changes of listen/threads need a restart (warned);
 * changing the list of datacenters while the API keeps admin state for
 * them is refused (restart). Thread-safe. SOV_OK or an error.
 */
int daemon_reload(daemon_t *d, diag_t *diag);

/** daemon_reload() for SIGHUP: also recorded as an API event (by "SIGHUP"). */
int daemon_reload_signal(daemon_t *d);

/** True if conf asks for the API (an "api" section or a "state_dir"). */
bool daemon_conf_wants_api(const config_t *conf) __attribute__((nonnull));

/** Stops everything (API, probes, workers) and frees it; NULL allowed. */
void daemon_stop(daemon_t *d);

#endif
