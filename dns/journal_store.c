/* journal_store.c — each zone's journal across reloads and restarts
 * (contract in journal.h, "the store"; docs/transfers.md, "Journal").
 *
 * The store lives in the daemon and is touched only by the thread that
 * reloads (under its reload lock); snapshots get references to the
 * immutable lists, so the answer path never sees the store itself.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/atomicfile.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/path.h"
#include "dns/journal.h"
#include "dns/xfr_conf.h"
#include "wire/dname.h"
#include "wire/wire.h"

struct jslot {
	uint8_t origin[DNAME_MAXLEN];
	journal_t *j; /* referenced; NULL: no entries */
	bool loaded;  /* the file was read (or there is none) */
	bool seen;    /* in the snapshot being applied */
};

struct journal_store {
	char *dir; /* <state_dir>/journal; NULL: memory only */
	struct jslot *slots;
	size_t count, cap;
};

/* A file larger than this is not a journal we wrote: journal_max_bytes is
 * at most 1 GiB (xfr_conf.c), plus the framing of at most 10000 entries. */
#define JNL_FILE_MAX ((size_t)1024 * 1024 * 1024 + 1024 * 1024)

journal_store_t *journal_store_new(const config_t *conf)
{
	journal_store_t *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	const json_t *sd = conf->json ? json_object_get(conf->json, "state_dir") : NULL;
	if (json_is_string(sd) && json_string_length(sd) > 0) {
		char rel[4096];
		snprintf(rel, sizeof(rel), "%s/journal", json_string_value(sd));
		st->dir = path_beside(conf->path, rel);
		if (st->dir == NULL) {
			free(st);
			return NULL;
		}
	} else {
		log_info("journal", "no \"state_dir\": the IXFR journal is kept in memory only "
				    "(a restart forgets it; IXFR from older serials then gets the "
				    "full zone)");
	}
	return st;
}

void journal_store_free(journal_store_t *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->count; i++)
		journal_unref(st->slots[i].j);
	free(st->slots);
	free(st->dir);
	free(st);
}

char *journal_file_name(const char *dir, const char *origin_str)
{
	char name[DNAME_STR_MAX];
	size_t n = 0;
	for (const char *p = origin_str; *p != '\0' && n + 1 < sizeof(name); p++)
		name[n++] = (*p == '/') ? '_' : (char)tolower((unsigned char)*p);
	while (n > 0 && name[n - 1] == '.')
		n--;
	name[n] = '\0';
	size_t len = strlen(dir) + 1 + (n > 0 ? n : 4) + sizeof(".jnl");
	char *path = malloc(len);
	if (path != NULL)
		snprintf(path, len, "%s/%s.jnl", dir, n > 0 ? name : "root");
	return path;
}

static struct jslot *slot_of(journal_store_t *st, const uint8_t *origin)
{
	for (size_t i = 0; i < st->count; i++)
		if (dname_equal(st->slots[i].origin, origin))
			return &st->slots[i];
	if (st->count == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 8;
		struct jslot *m = realloc(st->slots, cap * sizeof(*m));
		if (m == NULL)
			return NULL;
		st->slots = m;
		st->cap = cap;
	}
	struct jslot *s = &st->slots[st->count++];
	memset(s, 0, sizeof(*s));
	memcpy(s->origin, origin, dname_len(origin));
	return s;
}

static uint32_t last_serial(const journal_t *j)
{
	return journal_get(j, journal_count(j) - 1)->serial_to;
}

static void slot_drop(struct jslot *s)
{
	journal_unref(s->j);
	s->j = NULL;
}

/* Writes the slot's list to its file (removes the file when empty). A
 * failure is a warning: IXFR keeps working until the next restart. */
static void slot_save(journal_store_t *st, const struct jslot *s, const zone_t *z)
{
	if (st->dir == NULL)
		return;
	char *path = journal_file_name(st->dir, z->origin_str);
	uint8_t *buf = NULL;
	size_t len = 0;
	if (path == NULL) {
		log_warn("journal", "%s: cannot write the journal: out of memory", z->origin_str);
		return;
	}
	if (s->j == NULL) {
		if (unlink(path) != 0 && errno != ENOENT)
			log_warn("journal", "%s: cannot remove %s: %s", z->origin_str, path,
				 strerror(errno));
		goto finish;
	}
	if (mkdir(st->dir, 0750) != 0 && errno != EEXIST) {
		log_warn("journal",
			 "%s: cannot create %s: %s; the journal is kept in memory only (IXFR "
			 "after a restart will send the full zone)",
			 z->origin_str, st->dir, strerror(errno));
		goto finish;
	}
	int r = journal_encode(s->j, s->origin, &buf, &len);
	if (r == SOV_OK)
		r = atomicfile_write(path, buf, len, 0640, 0);
	if (r != SOV_OK)
		log_warn("journal",
			 "%s: cannot write %s: %s; the journal is kept in memory only (IXFR "
			 "after a restart will send the full zone)",
			 z->origin_str, path, r == SOV_EIO ? strerror(errno) : err_str(r));
finish:
	free(buf);
	free(path);
}

/* Reads the slot's file at start; a list not leading to z's serial is
 * discarded (the zone file was changed while we were down). */
static void slot_load(journal_store_t *st, struct jslot *s, const zone_t *z)
{
	s->loaded = true;
	if (st->dir == NULL)
		return;
	char *path = journal_file_name(st->dir, z->origin_str);
	char *buf = NULL;
	size_t len = 0;
	if (path == NULL)
		return;
	int r = atomicfile_read(path, JNL_FILE_MAX, &buf, &len);
	if (r == SOV_ENOENT)
		goto finish;
	if (r == SOV_OK)
		r = journal_decode((const uint8_t *)buf, len, z->origin, &s->j);
	if (r != SOV_OK) {
		log_warn("journal",
			 "%s: %s is not a journal we can read (%s); discarded, IXFR "
			 "from older serials gets the full zone",
			 z->origin_str, path, r == SOV_EIO ? strerror(errno) : err_str(r));
		slot_save(st, s, z);
		goto finish;
	}
	if (s->j != NULL && last_serial(s->j) != z->serial) {
		log_warn("journal",
			 "%s: %s ends at serial %u but the zone is at serial %u (the zone "
			 "file changed while sovdns was down); journal discarded, IXFR from "
			 "older serials gets the full zone",
			 z->origin_str, path, last_serial(s->j), z->serial);
		slot_drop(s);
		slot_save(st, s, z);
		goto finish;
	}
	if (s->j != NULL)
		log_info("journal", "%s: %zu journal entries loaded from %s (serials %u to %u)",
			 z->origin_str, journal_count(s->j), path,
			 journal_get(s->j, 0)->serial_from, z->serial);
finish:
	free(buf);
	free(path);
}

static const zone_t *zone_of(const snapshot_t *snap, const uint8_t *origin)
{
	for (size_t k = 0; k < zonedb_count(snap->zones); k++) {
		const zone_t *o = zonedb_get(snap->zones, k);
		if (dname_equal(o->origin, origin))
			return o;
	}
	return NULL;
}

/* The bounds of zone number zi in snap's configuration (its own, else the
 * server-wide ones; defaults in a snapshot built by hand). */
static void bounds(const snapshot_t *snap, size_t zi, size_t *max_entries, size_t *max_bytes)
{
	*max_entries = XFR_DEFAULT_JOURNAL_MAX_ENTRIES;
	*max_bytes = XFR_DEFAULT_JOURNAL_MAX_BYTES;
	if (snap->xfr != NULL && zi < snap->xfr->zone_count) {
		*max_entries = snap->xfr->zones[zi].journal_max_entries;
		*max_bytes = snap->xfr->zones[zi].journal_max_bytes;
	}
}

/* Keeps the slot's list within snap's bounds (they may have been lowered,
 * or the file was written under larger ones). True if it changed. */
static bool slot_trim(struct jslot *s, const snapshot_t *snap, size_t zi)
{
	size_t max_entries, max_bytes;
	bounds(snap, zi, &max_entries, &max_bytes);
	if (s->j == NULL)
		return false;
	journal_t *t = journal_trim(s->j, max_entries, max_bytes);
	if (t == s->j) {
		journal_unref(t);
		return false;
	}
	slot_drop(s);
	if (journal_count(t) > 0)
		s->j = t;
	else
		journal_unref(t); /* NULL (out of memory) allowed */
	return true;
}

/* The step from o (in old) to z (in s), appended to the slot's list. */
static void slot_step(struct jslot *s, const snapshot_t *old, const zone_t *o,
		      const snapshot_t *snap, size_t zi)
{
	const zone_t *z = zonedb_get(snap->zones, zi);
	size_t max_entries, max_bytes;
	bounds(snap, zi, &max_entries, &max_bytes);
	struct journal_entry *e = NULL;
	if (max_entries == 0) {
		slot_drop(s);
		return;
	}
	int64_t t0 = clock_mono_ms();
	int r = journal_diff(o, old->geo, z, snap->geo, &e);
	int64_t ms = clock_mono_ms() - t0;
	if (r != SOV_OK) {
		log_warn("journal",
			 "%s: cannot compute the differences from serial %u to %u: %s; IXFR "
			 "from older serials gets the full zone",
			 z->origin_str, o->serial, z->serial, err_str(r));
		slot_drop(s);
		return;
	}
	const journal_t *base = s->j && last_serial(s->j) == o->serial ? s->j : NULL;
	journal_t *nj = journal_append(base, e, max_entries, max_bytes);
	if (nj == NULL) {
		log_warn("journal",
			 "%s: out of memory for the journal; IXFR from older serials "
			 "gets the full zone",
			 z->origin_str);
		slot_drop(s);
	} else if (journal_count(nj) == 0) {
		log_warn("journal",
			 "%s: the differences from serial %u to %u (%zu bytes) exceed "
			 "transfers.journal_max_bytes (%zu); IXFR from older serials gets the "
			 "full zone",
			 z->origin_str, o->serial, z->serial, e->len, max_bytes);
		journal_unref(nj);
		slot_drop(s);
	} else {
		slot_drop(s);
		s->j = nj;
		log_info("journal",
			 "%s: serial %u -> %u: %u records deleted, %u added (compared in %lld "
			 "ms); the journal holds %zu steps (%zu bytes) from serial %u",
			 z->origin_str, o->serial, z->serial, e->deleted, e->added, (long long)ms,
			 journal_count(nj), journal_bytes(nj), journal_get(nj, 0)->serial_from);
	}
	journal_entry_unref(e);
}

void journal_store_apply(journal_store_t *st, const snapshot_t *old, snapshot_t *s)
{
	size_t n = zonedb_count(s->zones);
	journal_t **js = calloc(n + 1, sizeof(*js));
	if (js == NULL) {
		log_warn("journal", "out of memory: this reload's zones have no journal (IXFR "
				    "sends the full zone)");
		return;
	}
	for (size_t i = 0; i < st->count; i++)
		st->slots[i].seen = false;
	for (size_t i = 0; i < n; i++) {
		const zone_t *z = zonedb_get(s->zones, i);
		struct jslot *sl = slot_of(st, z->origin);
		if (sl == NULL)
			continue;
		sl->seen = true;
		if (!zone_has_data(z))
			continue; /* a secondary without data: nothing to diff against */
		if (!sl->loaded)
			slot_load(st, sl, z);
		const zone_t *o = old ? zone_of(old, z->origin) : NULL;
		bool changed = false;
		if (o != NULL && o != z && zone_has_data(o) && o->serial != z->serial) {
			if (dns_serial_lt(o->serial, z->serial))
				slot_step(sl, old, o, s, i);
			else
				slot_drop(sl); /* the serial went down: warned by the daemon */
			changed = true;
		}
		if (slot_trim(sl, s, i))
			changed = true;
		if (sl->j != NULL && last_serial(sl->j) != z->serial) {
			slot_drop(sl);
			changed = true;
		}
		if (changed)
			slot_save(st, sl, z);
		js[i] = journal_ref(sl->j);
	}
	/* Zones no longer served: forget them (their files stay; a later
	 * configuration that serves them again reads and checks them). */
	size_t w = 0;
	for (size_t i = 0; i < st->count; i++) {
		if (st->slots[i].seen)
			st->slots[w++] = st->slots[i];
		else
			journal_unref(st->slots[i].j);
	}
	st->count = w;
	journal_t **prev = s->journals;
	s->journals = js;
	for (size_t i = 0; prev != NULL && i < n; i++)
		journal_unref(prev[i]);
	free(prev);
}
