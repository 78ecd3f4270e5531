/* update_store.h — the dynamic data of each primary zone (RFC 2136 updates
 * accepted by this server), kept apart from the operator's zone file and
 * laid over it at every start and reload (docs/updates.md, "Updates and
 * the zone file").
 *
 * For each zone the store keeps its *base* (the zone as loaded from its
 * file) and its *dynamic data*: the records updates added that the file
 * does not hold, and the file's records updates deleted — the difference
 * from the base to the zone served, in the wire form of one IXFR step
 * (dns/journal.h: journal_diff(base, NULL, served, NULL), SOAs excluded
 * from the data, the served serial kept). It lives in
 * <state_dir>/updates/<origin>.dyn (journal_file_name() naming), written
 * with common/atomicfile.h (temp file, fsync, rename, fsync of the
 * directory) before an update is answered NOERROR, so an acknowledged
 * update survives kill -9.
 *
 * Serial policy (docs/updates.md, "Serials"): an update that changes the
 * zone raises the served serial by one (RFC 1982 arithmetic). At a start
 * or reload with dynamic data, the zone served is base + dynamic data with
 * the serial: the file's, when it is greater (RFC 1982) than the one
 * served before (at a start: the one recorded in the .dyn file); else the
 * one served before when the content served is unchanged; else that plus
 * one. So the served serial never goes back and secondaries always see a
 * change.
 */
#ifndef SOV_DNS_UPDATE_STORE_H
#define SOV_DNS_UPDATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "conf/config.h"
#include "dns/snapshot.h"
#include "dns/zone.h"

typedef struct update_store update_store_t;

/**
 * A store keeping files in <state_dir>/updates/ (state_dir as written in
 * conf, resolved against its directory; created 0700 on first write).
 * Without "state_dir" the store keeps dynamic data in memory only and
 * update_store_durable() is false (the daemon then refuses updates).
 * NULL when out of memory.
 */
update_store_t *update_store_new(const config_t *conf) __attribute__((nonnull));

/** Frees the store (NULL allowed). */
void update_store_free(update_store_t *st);

/** Whether commits reach the disk (the store has a state_dir). */
bool update_store_durable(const update_store_t *st) __attribute__((nonnull));

/**
 * A new snapshot s, every zone as loaded from its file and not yet
 * published, is about to replace old (NULL at start). For every primary
 * zone of s with data: s's zone becomes the zone's base; when the zone has
 * dynamic data (kept in memory, or the first time read from its .dyn file),
 * s's zone is replaced by base + dynamic data with the serial of the policy
 * above (old's zone of the same origin is "the one served before"). A
 * deleted record the file no longer has, or an added one it now has, is
 * simply already applied. Zones no longer configured, or now secondaries,
 * are forgotten (their .dyn file is left on disk, warned once). Returns
 * SOV_OK, or SOV_ESEMANTIC / SOV_EPARSE with every problem in diag ("<path
 * of the .dyn file>: the zone file example.test.zone now conflicts with
 * dynamic data: ...", or an unreadable .dyn file): the caller rejects the
 * start or reload, keeping the old data serving. SOV_ENOMEM. Under the
 * daemon's reload lock.
 */
int update_store_apply(update_store_t *st, const snapshot_t *old, snapshot_t *s, diag_t *diag)
    __attribute__((nonnull(1, 3), warn_unused_result));

/**
 * Records nz, the result of an accepted update of zone number zone_idx of
 * the current snapshot s, as that zone's dynamic data (the difference from
 * its base), durably when the store is durable, before the caller
 * publishes nz and answers. SOV_OK; SOV_EIO (nothing changed, `why` says
 * what failed: the caller answers SERVFAIL and does not publish);
 * SOV_ENOMEM; SOV_ENOENT (no base for that zone: not a primary zone).
 */
int update_store_commit(update_store_t *st, const snapshot_t *s, size_t zone_idx, const zone_t *nz,
			char *why, size_t cap)
    __attribute__((nonnull(1, 2, 4), warn_unused_result));

/** Records and RDATA bytes of zone `origin`'s dynamic data (lowercased wire
 * name; 0 when none), for limits and the API. */
void update_store_size(const update_store_t *st, const uint8_t *origin, size_t *records,
		       size_t *bytes) __attribute__((nonnull));

#endif
