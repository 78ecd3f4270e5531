/* journal.h — the differences between successive versions of a zone, for
 * IXFR out (RFC 1995) when sovdns is a zone's primary (docs/transfers.md,
 * "Journal").
 *
 * An entry is one step from a version of a zone to the next: in wire form
 * (each record uncompressed: owner, type, class, TTL, RDLENGTH, RDATA;
 * owners lowercased), the old SOA, the records deleted, the new SOA, the
 * records added: exactly what RFC 1995 §4 puts on the wire for one
 * difference sequence. The records compared are those a transfer sends
 * (dns/xfr_walk.h, so geo services' static A/AAAA are in); a record whose
 * TTL changed is deleted and added again.
 *
 * A journal_t is an immutable list of entries of one zone, oldest first,
 * each ending at the serial the next starts from, shared by reference
 * counts: a snapshot holds one per zone (snapshot_t.journals), so the
 * answer path reads it without locks or allocations and a transfer keeps
 * it alive through its snapshot reference. A new version makes a new list
 * (journal_append) that shares the old entries.
 *
 * The journal store (journal_store_*) is owned by the daemon: it keeps the
 * current list of each zone across reloads, computes the new entry when a
 * reload raises a zone's serial (RFC 1982), keeps it within the bounds
 * "transfers.journal_max_entries" and "journal_max_bytes" (oldest evicted
 * first), and persists each zone's list to <state_dir>/journal/<origin>.jnl
 * (common/atomicfile.h) so IXFR still works after a restart. A journal that
 * cannot be computed or written is a warning, never a failed reload.
 */
#ifndef SOV_DNS_JOURNAL_H
#define SOV_DNS_JOURNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/snapshot.h"
#include "dns/zone.h"
#include "geo/geo.h"

/** One step between two versions (immutable once made). */
struct journal_entry {
	uint32_t serial_from; /* the old SOA's serial */
	uint32_t serial_to;   /* the new SOA's serial */
	uint32_t deleted;     /* records deleted (the SOAs not counted) */
	uint32_t added;	      /* records added (the SOAs not counted) */
	size_t len;	      /* bytes of wire */
	uint8_t *wire;	      /* owned: SOA(old), deleted..., SOA(new), added... */
	_Atomic uint32_t refs;
};

typedef struct journal journal_t;

/* ------------------------------------------------------------ entries */

/**
 * The entry from zone version `old` (with the services of geo og, NULL
 * allowed) to `nz` (services of ng): SOV_OK and *out (refs 1), SOV_ENOMEM,
 * or SOV_EINVAL when a zone has no SOA. Works for any two versions; the
 * caller checks that the serial went up.
 */
int journal_diff(const zone_t *old, const geo_ctx_t *og, const zone_t *nz, const geo_ctx_t *ng,
		 struct journal_entry **out) __attribute__((nonnull(1, 3, 5), warn_unused_result));

/** Drops a reference to an entry; the last frees it. NULL allowed. */
void journal_entry_unref(struct journal_entry *e);

/**
 * Reads the record at *off of wire[0..len): true with *owner, *one (an
 * RRset of one record, its rdata pointing at [RDLENGTH][RDATA] in wire, so
 * it can be given to put_rrset()) and *off moved past it; false at the end
 * or on malformed data. No allocation: the transfer path calls it.
 */
bool journal_rr_next(const uint8_t *wire, size_t len, size_t *off, const uint8_t **owner,
		     zrrset_t *one) __attribute__((nonnull, warn_unused_result));

/* ------------------------------------------------------------ lists */

/** Another reference to j (NULL allowed); returns j. */
journal_t *journal_ref(const journal_t *j);

/** Drops a reference; the last one frees the list (and its share of the entries). */
void journal_unref(journal_t *j);

/** Entries in j (0 for NULL). */
size_t journal_count(const journal_t *j);

/** Entry i, oldest first (i < journal_count). */
const struct journal_entry *journal_get(const journal_t *j, size_t i) __attribute__((nonnull));

/** Bytes of wire of all entries (0 for NULL). */
size_t journal_bytes(const journal_t *j);

/**
 * The index of the entry that starts at serial `from` when the list leads
 * up to serial `to` (its last entry ends there); -1 otherwise (NULL
 * allowed). Lock- and allocation-free: the answer path's question "can
 * this IXFR be answered with differences?".
 */
long journal_find(const journal_t *j, uint32_t from, uint32_t to);

/**
 * A new list: j's entries (NULL: none) followed by e (taking a reference to
 * e), the oldest evicted while there are more than max_entries or more than
 * max_bytes of wire; an entry larger than max_bytes alone leaves the list
 * empty. j must end at e->serial_from (the caller starts over with NULL
 * otherwise). NULL when out of memory (j unchanged).
 */
journal_t *journal_append(const journal_t *j, struct journal_entry *e, size_t max_entries,
			  size_t max_bytes) __attribute__((warn_unused_result));

/**
 * j within new bounds: another reference to j when it is within them, else
 * a new list of its newest entries that fit (possibly none). NULL for a
 * NULL j or when out of memory.
 */
journal_t *journal_trim(const journal_t *j, size_t max_entries, size_t max_bytes)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------ files */

/**
 * The file form of j for zone `origin` (lowercased wire name): a magic
 * "SOVJNL1\n", the origin, the entries, a 64-bit FNV-1a checksum. *out is
 * a new buffer (free()). SOV_OK or SOV_ENOMEM.
 */
int journal_encode(const journal_t *j, const uint8_t *origin, uint8_t **out, size_t *out_len)
    __attribute__((nonnull(2, 3, 4), warn_unused_result));

/**
 * Parses a file made by journal_encode() for zone `origin`: SOV_OK and *out
 * (NULL when it holds no entry), SOV_EPARSE when it is not one (bad magic,
 * another zone, a checksum mismatch, a malformed record, an entry whose
 * SOAs do not carry its serials, a chain with a gap), SOV_ENOMEM.
 */
int journal_decode(const uint8_t *buf, size_t len, const uint8_t *origin, journal_t **out)
    __attribute__((nonnull, warn_unused_result));

/* ------------------------------------------------------------ the store */

typedef struct journal_store journal_store_t;

/**
 * A store that keeps files in <state_dir>/journal/ (state_dir as written in
 * the configuration, resolved against its directory). Without "state_dir"
 * in conf the journal is kept in memory only (lost at a restart). NULL when
 * out of memory.
 */
journal_store_t *journal_store_new(const config_t *conf) __attribute__((nonnull));

/** Frees the store (NULL allowed); snapshots keep their own references. */
void journal_store_free(journal_store_t *st);

/**
 * A new snapshot s is about to replace old (NULL at start): for each zone of
 * s with data, loads its file the first time (a chain not ending at the
 * zone's serial is discarded with a warning), adds the entry from old's
 * zone of the same origin when the serial went up, drops the list when the
 * serial went down, writes the file, and gives s->journals a reference to
 * each zone's list. Bounds from s->xfr (defaults without). Never fails:
 * problems are logged and leave a zone without journal (full transfers).
 * Call from one thread at a time (the daemon's reload lock).
 */
void journal_store_apply(journal_store_t *st, const snapshot_t *old, snapshot_t *s)
    __attribute__((nonnull(1, 3)));

/** The file a zone's journal is kept in under dir: "<dir>/<origin>.jnl" (lowercased,
 * without the final dot, '/' as '_', "root" for the root). A new string or NULL. */
char *journal_file_name(const char *dir, const char *origin_str) __attribute__((nonnull));

#endif
