/* snapshot.h — the immutable world the answer path reads, swapped by RCU.
 *
 * A snapshot holds everything derived from the configuration and zone
 * files. It is built off to the side (snapshot_build), validated, then
 * published with snapshot_publish(), which swaps the global pointer and,
 * after an RCU grace period (liburcu, memb flavour), frees the old one.
 * Readers (DNS workers, TCP, API) bracket their use with
 * snapshot_read_lock()/snapshot_read_unlock() and must have called
 * snapshot_thread_register() once per thread.
 */
#ifndef SOV_DNS_SNAPSHOT_H
#define SOV_DNS_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "common/diag.h"
#include "conf/config.h"
#include "dns/zonedb.h"
#include "geo/geo.h"
#include "geo/usable.h"

struct rrl;
struct xfr_conf;
struct journal;

typedef struct snapshot {
	config_t *conf;		/* owned */
	zonedb_t *zones;	/* owned */
	uint16_t edns_payload;	/* bytes, copied from conf */
	bool minimal_responses; /* copied from conf */
	/* Which server answered (conf "identity"; all off in snapshots tests
	 * build by hand): NSID (RFC 5001) and the CH TXT names. The texts
	 * point into conf (owned), identity_len/version_len bytes. */
	const char *identity;
	const char *version;
	uint8_t identity_len, version_len;
	bool nsid;
	uint8_t chaos;		   /* CONFIG_CHAOS_* bits */
	uint8_t cookie_secret[16]; /* RFC 9018 server cookie key: from the config, else
				      one random key for the life of the process */
	uint64_t generation;	   /* 1 for the first load, +1 per successful reload */
	int64_t loaded_at_ms;	   /* clock_unix_ms() when built */
	double load_ms;		   /* time spent loading zones, milliseconds */
	geo_ctx_t *geo;		   /* owned: datacenters, services, client map; NULL when
				      the configuration has neither datacenters nor services */
	/* Borrowed, lock-free state of the datacenters, set before publishing;
	 * whoever owns them frees them only after this snapshot is gone. */
	const struct geo_health *health; /* per (service, dc) health and the first-round
					    flag (geo/usable.h); NULL: all unknown = usable */
	/* Answers naming each datacenter, per service: [svc * dc_count + dc],
	 * relaxed atomic increments (owned; NULL without geo). */
	_Atomic uint64_t *svc_dc_answers;
	struct rrl *rrl;	       /* owned: UDP response rate limiting; NULL when off */
	const _Atomic uint32_t *admin; /* admin words by dc (api/admin.h: low 2 bits
					  0 active, 1 draining, 2 drained, 3 maintenance);
					  NULL: all active */
	struct xfr_conf *xfr;	       /* owned: TSIG keys, who may transfer each zone
					  (dns/xfr_conf.h); set by snapshot_build,
					  NULL (no keys, no transfers) only in
					  snapshots tests build by hand */
	/* Borrowed: called (from a DNS worker, so it must only note and
	 * signal) when a NOTIFY for secondary zone number zone_idx came from
	 * one of its primaries (dns/answer_notify.c); NULL: nobody listens. */
	void (*notify_in)(void *arg, size_t zone_idx);
	void *notify_arg;
	/* Borrowed: answers an UPDATE (RFC 2136) q[0..qlen) from client into
	 * reply[0..cap), returning its length (0: no reply; over UDP it fits the
	 * client's EDNS size, else 512 bytes); the transport calls
	 * it outside the read lock, since it waits for the daemon's reload lock
	 * and the disk (dns/update_respond.h). NULL: UPDATE gets NOTIMP. */
	size_t (*update)(void *arg, const struct sockaddr *client, bool over_udp, const uint8_t *q,
			 size_t qlen, uint8_t *reply, size_t cap);
	void *update_arg;
	struct journal **journals; /* owned references, by zonedb index (zonedb_get):
				      each zone's IXFR journal (dns/journal.h), set
				      by the daemon's journal store before publishing;
				      NULL (the array or an entry): no journal, IXFR
				      from an older serial gets the full zone */
	_Atomic uint32_t refs;	   /* 1 for being published (or built), +1 per
				      transfer that reads it after a reload, +1
				      per snapshot respun from it (owner) */
	struct snapshot *owner;	   /* NULL: this snapshot owns conf, geo, rrl, xfr
				      and svc_dc_answers; else they are borrowed
				      from `owner`, which it holds a reference to
				      (snapshot_respin) */
} snapshot_t;

/**
 * Builds a snapshot from conf (takes ownership of conf, also on failure).
 * Loads every zone; every problem goes to diag. Returns SOV_OK and *out,
 * or an error (nothing published).
 */
int snapshot_build(config_t *conf, snapshot_t **out, diag_t *diag)
    __attribute__((warn_unused_result));

/**
 * A snapshot equal to cur but with zone number zone_idx (zonedb_get's
 * index) replaced by z: for a secondary zone just transferred or expired,
 * without reloading the configuration or any other zone. Takes z (also on
 * failure); shares every other zone (zone_ref) and cur's configuration,
 * geo, keys and RRL (held through cur's owner). The health and admin
 * tables are copied as borrowed pointers: publish it under the same
 * exclusion as a reload. cur must stay valid during the call (read lock or
 * the publisher's lock). Returns SOV_OK and *out, or SOV_ENOMEM.
 */
int snapshot_respin(const snapshot_t *cur, size_t zone_idx, zone_t *z, snapshot_t **out)
    __attribute__((nonnull, warn_unused_result));

/**
 * Loads path as configured zone number zone_idx of s (zonedb and config
 * share the index): zone_load_services() with the service names s's geo
 * configuration puts in that zone, so a received copy is checked by the
 * rules of an operator's file. s must stay valid during the call.
 */
int snapshot_load_zone(const snapshot_t *s, size_t zone_idx, const char *path, zone_t **out,
		       diag_t *diag) __attribute__((nonnull, warn_unused_result));

/**
 * Finishes a builder of records received for configured zone number
 * zone_idx of s (zone_builder_finish() with the service names s's geo
 * configuration puts in that zone): the same rules as snapshot_load_zone().
 * Frees b in every case. s must stay valid during the call.
 */
int snapshot_finish_zone(const snapshot_t *s, size_t zone_idx, zone_builder_t *b, zone_t **out,
			 diag_t *diag) __attribute__((nonnull(1, 3, 4), warn_unused_result));

/**
 * The geo service names inside configured zone zone_idx of s: *names gets
 * a heap array (free() it) of *count lowercased wire names borrowed from s.
 * SOV_OK or SOV_ENOMEM.
 */
int snapshot_zone_service_names(const snapshot_t *s, size_t zone_idx, const uint8_t ***names,
				size_t *count) __attribute__((nonnull, warn_unused_result));

/**
 * Whether a secondary's kept copy z, last confirmed current at file_mtime_s
 * (Unix seconds: the file's modification time, which the secondary sets at
 * every successful refresh), is past its SOA EXPIRE at now_s (RFC 1034
 * §4.3.5). False for a zone without data.
 */
bool snapshot_copy_expired(const zone_t *z, int64_t file_mtime_s, int64_t now_s)
    __attribute__((nonnull));

/** Records in all zones of s. */
size_t snapshot_record_count(const snapshot_t *s) __attribute__((nonnull));

/** Frees a snapshot that was never published, or after its grace period. */
void snapshot_free(snapshot_t *s);

/**
 * Makes s the current snapshot. Waits for a grace period and frees the
 * previous one (so it may block for as long as the slowest reader holds
 * its read lock: one batch of queries). Call from one thread at a time.
 */
void snapshot_publish(snapshot_t *s);

/**
 * snapshot_publish() in two steps, for a writer that must swap under a lock
 * of its own (the daemon's view lock) but not wait while holding it:
 * snapshot_swap() makes s current at once and returns the previous one
 * (NULL if none); snapshot_retire() waits for a grace period and frees it
 * (NULL allowed). Same rules as snapshot_publish().
 */
snapshot_t *snapshot_swap(snapshot_t *s) __attribute__((warn_unused_result));
void snapshot_retire(snapshot_t *old);

/**
 * A reference that keeps s (and its zones, keys, configuration) alive
 * after a reload retires it: for a zone transfer, which outlives one read
 * lock. Take it inside the read lock; drop it with snapshot_unref(). The
 * borrowed health and admin tables are NOT kept: a holder must not read
 * them once it has left the read lock. Returns s.
 */
snapshot_t *snapshot_ref(const snapshot_t *s) __attribute__((nonnull, returns_nonnull));

/** Drops a reference; the last one frees the snapshot. NULL allowed. */
void snapshot_unref(snapshot_t *s);

/**
 * Current snapshot; only valid between read_lock and read_unlock (or while
 * the caller otherwise excludes the publisher, as the daemon does with its
 * locks). NULL before the first publish.
 */
const snapshot_t *snapshot_current(void);

void snapshot_thread_register(void);
void snapshot_thread_unregister(void);
void snapshot_read_lock(void);
void snapshot_read_unlock(void);

#endif
