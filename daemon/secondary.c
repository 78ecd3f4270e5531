/* secondary.c — the secondary engine (contract and timers in secondary.h). */
#include "daemon/secondary.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/path.h"
#include "daemon/daemon_int.h"
#include "dns/xfr_client.h"
#include "dns/xfr_conf.h"
#include "dns/zonedb.h"
#include "wire/dname.h"
#include "wire/wire.h"

struct sec_primary {
	sov_sockaddr_t addr;
	bool has_key;
	struct tsig_key key; /* a copy: the engine outlives the snapshot it came from */
};

/* What the API shows of a zone; written by the thread under mu, read under mu. */
struct sec_status {
	int64_t checked_unix_ms;   /* last SOA check (any outcome) */
	int64_t next_check_unix_s; /* when the next one is due */
	int64_t transfer_unix_ms;  /* last transfer taken in */
	char transfer_kind[8];	   /* "AXFR", "IXFR" */
	char transfer_from[ADDR_STR_MAX];
	uint32_t transfer_serial;
	uint64_t transfer_records;
	int64_t transfer_ms;
	int64_t error_unix_ms; /* last failure */
	char error[300];
	uint64_t transfers, failures;
};

struct sec_zone {
	size_t conf_idx; /* in the configuration it came from */
	uint8_t origin[DNAME_MAXLEN];
	char origin_str[DNAME_STR_MAX];
	char *file;
	struct sec_primary *prim;
	size_t nprim;
	uint8_t (*skip)[DNAME_MAXLEN]; /* service names: A/AAAA left out */
	const uint8_t **skip_ptrs;
	size_t nskip;
	/* state */
	bool has_data;
	uint32_t serial;
	uint32_t refresh_s, retry_s, expire_s;
	int64_t option_left_s;	  /* >= 0: the last confirmation's EDNS EXPIRE (RFC 7314)
				     shortened our expire to this many seconds */
	uint32_t max_time_s;	  /* transfers.max_time_s: the longest transfer */
	unsigned bootstrap_fails; /* failures in a row without data (back-off) */
	int64_t next_ms;	  /* monotonic: next SOA check */
	int64_t last_check_ms;	  /* monotonic: the last SOA check began (NOTIFY rate) */
	int64_t confirmed_unix_s; /* last success (the file's mtime) */
	bool notified;
	bool copy_stale;      /* the kept copy is older than the zone served (a failed write) */
	bool busy;	      /* a thread is refreshing it (guarded by secondary.mu) */
	struct sec_status st; /* guarded by secondary.mu */
};

struct zone_set {
	struct sec_zone *z;
	size_t n;
};

struct secondary {
	struct daemon *d;
	pthread_t threads[SECONDARY_THREADS];
	size_t nthreads; /* running */
	bool running;
	unsigned busy; /* zones of cur being refreshed (guarded by mu) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct zone_set cur;	 /* the thread's own (and, before it runs, sync's) */
	struct zone_set pending; /* from secondary_sync, taken by the thread */
	bool has_pending;
	uint8_t *notify_flag; /* by config index (of the newest set), guarded by mu:
				 1 a NOTIFY, 2 a refresh asked through the API */
	size_t notify_n;
	_Atomic uint64_t soa_checks, soa_failures, transfers, ixfr, transfer_failures, rejected,
	    notifies, expired;
};

static uint32_t clamp_s(uint32_t v)
{
	if (v < SECONDARY_MIN_INTERVAL_S)
		return SECONDARY_MIN_INTERVAL_S;
	if (v > SECONDARY_MAX_INTERVAL_S)
		return SECONDARY_MAX_INTERVAL_S;
	return v;
}

static void set_free(struct zone_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct sec_zone *z = &s->z[i];
		free(z->file);
		if (z->prim != NULL)
			for (size_t k = 0; k < z->nprim; k++)
				sodium_memzero(&z->prim[k].key, sizeof(z->prim[k].key));
		free(z->prim);
		free(z->skip);
		free(z->skip_ptrs);
	}
	free(s->z);
	s->z = NULL;
	s->n = 0;
}

/* Timers and data state from the zone s serves now. */
static void take_zone_state(struct sec_zone *z, const zone_t *zz)
{
	struct zone_soa_timers t = {3600, 600, 604800, 0};
	z->has_data = zone_soa_timers(zz, &t);
	z->serial = z->has_data ? zz->serial : 0;
	z->refresh_s = clamp_s(t.refresh);
	z->retry_s = clamp_s(t.retry);
	z->expire_s = t.expire;
	z->option_left_s = -1; /* until a primary confirms */
}

static int zone_from(struct sec_zone *z, const snapshot_t *s, size_t i)
{
	const zone_t *zz = zonedb_get(s->zones, i);
	const struct zone_conf *zc = &s->conf->zones[i];
	const struct xfr_zone *xz = &s->xfr->zones[i];
	z->conf_idx = i;
	z->max_time_s = s->xfr->max_time_s;
	memcpy(z->origin, zz->origin, zz->origin_len);
	snprintf(z->origin_str, sizeof(z->origin_str), "%s", zz->origin_str);
	z->file = strdup(zc->file);
	z->prim = calloc(xz->primary_count + 1, sizeof(*z->prim));
	if (z->file == NULL || z->prim == NULL)
		return SOV_ENOMEM;
	z->nprim = xz->primary_count;
	for (size_t k = 0; k < xz->primary_count; k++) {
		z->prim[k].addr = xz->primaries[k].addr;
		z->prim[k].has_key = xz->primaries[k].key >= 0;
		if (z->prim[k].has_key)
			z->prim[k].key = s->xfr->keys[xz->primaries[k].key];
	}
	const uint8_t **names = NULL;
	size_t count = 0;
	if (snapshot_zone_service_names(s, i, &names, &count) != SOV_OK)
		return SOV_ENOMEM;
	z->skip = calloc(count + 1, sizeof(*z->skip));
	z->skip_ptrs = calloc(count + 1, sizeof(*z->skip_ptrs));
	if (z->skip == NULL || z->skip_ptrs == NULL) {
		free(names);
		return SOV_ENOMEM;
	}
	for (size_t k = 0; k < count; k++) {
		memcpy(z->skip[k], names[k], dname_len(names[k]));
		z->skip_ptrs[k] = z->skip[k];
	}
	z->nskip = count;
	free(names);
	take_zone_state(z, zz);
	struct stat st;
	z->confirmed_unix_s = stat(z->file, &st) == 0 ? st.st_mtime : 0;
	z->next_ms = clock_mono_ms(); /* check at once */
	return SOV_OK;
}

secondary_t *secondary_new(struct daemon *d)
{
	secondary_t *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->d = d;
	pthread_mutex_init(&e->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cv, &ca);
	pthread_condattr_destroy(&ca);
	return e;
}

static void notified(void *arg, size_t zone_idx)
{
	secondary_t *e = arg;
	pthread_mutex_lock(&e->mu);
	if (zone_idx < e->notify_n) {
		if (e->notify_flag[zone_idx] == 0)
			e->notify_flag[zone_idx] = 1;
		pthread_cond_broadcast(&e->cv);
	}
	pthread_mutex_unlock(&e->mu);
	atomic_fetch_add_explicit(&e->notifies, 1, memory_order_relaxed);
}

/* Temporary files of transfers cut by a crash (kill -9 mid-transfer):
 * <file>.xfr.XXXXXX beside the kept copy. Only before the thread runs, so
 * none of them can be a transfer in progress. */
static void remove_stale_temps(const char *file)
{
	char *dcopy = strdup(file), *bcopy = strdup(file);
	DIR *dir = dcopy && bcopy ? opendir(dirname(dcopy)) : NULL;
	if (dir != NULL) {
		char prefix[1024];
		snprintf(prefix, sizeof(prefix), "%s.xfr.", basename(bcopy));
		size_t pl = strlen(prefix);
		for (struct dirent *de; (de = readdir(dir)) != NULL;) {
			if (strncmp(de->d_name, prefix, pl) != 0 || strlen(de->d_name) != pl + 6)
				continue;
			if (unlinkat(dirfd(dir), de->d_name, 0) == 0)
				log_info("xfr", "removed %s, left by a transfer that was cut short",
					 de->d_name);
		}
		closedir(dir);
	}
	free(dcopy);
	free(bcopy);
}

void secondary_sync(secondary_t *e, snapshot_t *s)
{
	s->notify_in = notified;
	s->notify_arg = e;
	struct zone_set next = {NULL, 0};
	size_t n = s->conf->zone_count;
	next.z = calloc(n + 1, sizeof(*next.z));
	uint8_t *flags = calloc(n + 1, sizeof(*flags));
	int r = next.z && flags && s->xfr ? SOV_OK : SOV_ENOMEM;
	for (size_t i = 0; r == SOV_OK && i < n; i++) {
		if (!s->conf->zones[i].secondary)
			continue;
		r = zone_from(&next.z[next.n++], s, i);
		if (r == SOV_OK && !e->running)
			remove_stale_temps(next.z[next.n - 1].file);
	}
	if (r != SOV_OK) {
		log_err("xfr", "secondary zones: out of memory taking the new configuration; "
			       "keeping the previous one");
		set_free(&next);
		free(flags);
		return;
	}
	pthread_mutex_lock(&e->mu);
	if (e->has_pending)
		set_free(&e->pending);
	e->pending = next;
	e->has_pending = true;
	free(e->notify_flag);
	e->notify_flag = flags;
	e->notify_n = n;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

static bool same_primaries(const struct sec_zone *a, const struct sec_zone *b)
{
	if (a->nprim != b->nprim)
		return false;
	for (size_t i = 0; i < a->nprim; i++)
		if (a->prim[i].addr.len != b->prim[i].addr.len ||
		    memcmp(&a->prim[i].addr.ss, &b->prim[i].addr.ss, a->prim[i].addr.len) != 0 ||
		    a->prim[i].has_key != b->prim[i].has_key ||
		    (a->prim[i].has_key &&
		     (a->prim[i].key.secret_len != b->prim[i].key.secret_len ||
		      memcmp(a->prim[i].key.secret, b->prim[i].key.secret,
			     a->prim[i].key.secret_len) != 0 ||
		      !dname_equal(a->prim[i].key.name, b->prim[i].key.name) ||
		      a->prim[i].key.alg != b->prim[i].key.alg)))
			return false;
	return true;
}

/* The thread takes a handed-over set: zones it already had keep their
 * timers (and NOTIFY state); their data state comes from the new snapshot. */
static void take_pending(secondary_t *e)
{
	struct zone_set next = e->pending;
	e->has_pending = false;
	e->pending = (struct zone_set){NULL, 0};
	for (size_t i = 0; i < next.n; i++)
		for (size_t k = 0; k < e->cur.n; k++)
			if (dname_equal(next.z[i].origin, e->cur.z[k].origin) &&
			    strcmp(next.z[i].file, e->cur.z[k].file) == 0) {
				/* Same primaries and data: keep the timer. Else (a fixed
				 * address or key, say) check at once. */
				if (next.z[i].has_data && same_primaries(&next.z[i], &e->cur.z[k]))
					next.z[i].next_ms = e->cur.z[k].next_ms;
				next.z[i].last_check_ms = e->cur.z[k].last_check_ms;
				next.z[i].st = e->cur.z[k].st;
				next.z[i].notified = e->cur.z[k].notified;
				if (next.z[i].confirmed_unix_s < e->cur.z[k].confirmed_unix_s)
					next.z[i].confirmed_unix_s = e->cur.z[k].confirmed_unix_s;
			}
	set_free(&e->cur);
	e->cur = next;
	if (e->cur.n > 0)
		log_info("xfr", "secondary zones: %zu", e->cur.n);
}

/* The index of the secondary zone `origin` kept in `file` in the current
 * snapshot, or -1 (a reload removed it or changed its file). */
static int current_index(const snapshot_t *cur, const struct sec_zone *z)
{
	for (size_t i = 0; i < zonedb_count(cur->zones) && i < cur->conf->zone_count; i++)
		if (cur->conf->zones[i].secondary &&
		    dname_equal(zonedb_get(cur->zones, i)->origin, z->origin) &&
		    strcmp(cur->conf->zones[i].file, z->file) == 0)
			return (int)i;
	return -1;
}

static void fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	if (copy == NULL)
		return;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Takes the daemon's reload lock; the current snapshot in *cur and z's index
 * in it, or -1 with why set (a reload removed the zone). */
static int lock_current(struct daemon *d, const struct sec_zone *z, const snapshot_t **cur,
			char *why, size_t cap)
{
	pthread_mutex_lock(&d->reload_lock);
	*cur = snapshot_current();
	int idx = current_index(*cur, z);
	if (idx < 0)
		snprintf(why, cap, "the zone is no longer a secondary of this configuration");
	return idx;
}

/* Validates the received file tmp, renames it over z->file and publishes it. */
static int install(secondary_t *e, struct sec_zone *z, const char *tmp, char *why, size_t cap)
{
	struct daemon *d = e->d;
	const snapshot_t *cur = NULL;
	int idx = lock_current(d, z, &cur, why, cap);
	zone_t *nz = NULL;
	int r = idx < 0 ? SOV_ENOENT : SOV_OK;
	diag_t *diag = r == SOV_OK ? diag_new() : NULL;
	if (r == SOV_OK) {
		r = diag ? snapshot_load_zone(cur, (size_t)idx, tmp, &nz, diag) : SOV_ENOMEM;
		if (r != SOV_OK) {
			/* Name the line, not the temporary file (deleted below). */
			const char *m = diag && diag_count(diag) > 0 ? diag_get(diag, 0) : NULL;
			unsigned line = 0, col = 0;
			int used = 0;
			if (m != NULL && strncmp(m, tmp, strlen(tmp)) == 0 &&
			    sscanf(m + strlen(tmp), ":%u:%u: %n", &line, &col, &used) == 2 &&
			    used > 0)
				snprintf(why, cap,
					 "the received zone fails the checks of a zone file "
					 "(line %u as written): %s",
					 line, m + strlen(tmp) + used);
			else if (m != NULL)
				snprintf(why, cap,
					 "the received zone fails the checks of a zone file: %s",
					 m);
			else
				snprintf(why, cap, "the received zone does not load: %s",
					 err_str(r));
			atomic_fetch_add_explicit(&e->rejected, 1, memory_order_relaxed);
		}
	}
	diag_free(diag);
	if (r == SOV_OK && rename(tmp, z->file) != 0) {
		snprintf(why, cap, "cannot rename %s to %s: %s", tmp, z->file, strerror(errno));
		r = SOV_EIO;
	}
	if (r == SOV_OK) {
		fsync_dir_of(z->file);
		pthread_mutex_lock(&e->mu); /* secondary_zone_json reads it */
		take_zone_state(z, nz);
		pthread_mutex_unlock(&e->mu);
		r = daemon_publish_zone(d, cur, (size_t)idx, nz);
		nz = NULL;
		if (r != SOV_OK)
			snprintf(why, cap, "out of memory publishing the zone");
	}
	zone_free(nz);
	pthread_mutex_unlock(&d->reload_lock);
	return r;
}

/*
 * A new temporary file beside z's kept copy (<file>.xfr.XXXXXX, mode 0640,
 * what remove_stale_temps() cleans up after a crash): SOV_OK with *tmp (a
 * new string) and *out open for writing; else why is set and nothing is
 * left behind.
 */
static int open_temp(const struct sec_zone *z, char **tmp, FILE **out, char *why, size_t cap)
{
	*out = NULL;
	(void)path_make_parents(z->file, 0750); /* state_dir/zones/: mkstemp says if not */
	size_t tl = strlen(z->file) + 16;
	*tmp = malloc(tl);
	if (*tmp == NULL) {
		snprintf(why, cap, "out of memory");
		return SOV_ENOMEM;
	}
	snprintf(*tmp, tl, "%s.xfr.XXXXXX", z->file);
	int fd = mkstemp(*tmp);
	if (fd < 0) {
		snprintf(why, cap, "cannot create a file beside %s: %s", z->file, strerror(errno));
		free(*tmp);
		*tmp = NULL;
		return SOV_EIO;
	}
	(void)fchmod(fd, 0640);
	*out = fdopen(fd, "w");
	if (*out == NULL) {
		snprintf(why, cap, "cannot write %s: %s", *tmp, strerror(errno));
		close(fd);
		unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
		return SOV_ENOMEM;
	}
	return SOV_OK;
}

/*
 * Writes nz as z's kept copy: a temporary file beside it, fsync, rename
 * over it, fsync of the directory. SOV_OK, or SOV_EIO with why set (the
 * temporary file removed; the old copy stays).
 */
static int keep_copy(const struct sec_zone *z, const zone_t *nz, char *why, size_t cap)
{
	char *tmp = NULL;
	FILE *out = NULL;
	uint64_t n = 0;
	int r = open_temp(z, &tmp, &out, why, cap);
	if (r != SOV_OK)
		return r;
	int fd = fileno(out);
	/* Every record has its TTL; $TTL only keeps the loader from warning. */
	fputs("; received by zone transfer (sovdns); rewritten at every transfer\n$TTL 3600\n",
	      out);
	r = zone_print(nz, out, &n);
	if (r == SOV_OK && (fflush(out) != 0 || fsync(fd) != 0))
		r = SOV_EIO;
	if (fclose(out) != 0 && r == SOV_OK)
		r = SOV_EIO;
	if (r != SOV_OK) {
		snprintf(why, cap, "cannot write %s: %s", tmp,
			 r == SOV_EIO ? strerror(errno) : err_str(r));
		goto finish;
	}
	if (rename(tmp, z->file) != 0) {
		snprintf(why, cap, "cannot rename %s to %s: %s", tmp, z->file, strerror(errno));
		r = SOV_EIO;
		goto finish;
	}
	fsync_dir_of(z->file);
finish:
	if (r != SOV_OK)
		unlink(tmp);
	free(tmp);
	return r;
}

/* What the log line of a transfer says. */
struct received {
	const char *kind, *from;
	uint32_t serial;
	uint64_t records;
	int64_t t0_ms; /* monotonic: when the transfer began */
};

static void log_received(const struct sec_zone *z, const struct received *rx)
{
	log_info("xfr", "%s: %s from %s: serial %u, %llu records in %lld ms", z->origin_str,
		 rx->kind, rx->from, rx->serial, (unsigned long long)rx->records,
		 (long long)(clock_mono_ms() - rx->t0_ms));
}

/*
 * Finishes the builder b of a full transfer (the checks of a zone file),
 * publishes the zone, then writes the kept copy (docs/transfers.md, "The
 * kept copy": serving does not wait for the file). All under reload_lock,
 * so a reload never reads an older copy than what is served. SOV_OK (with
 * *copy_ok telling whether the copy was written), or the zone is refused
 * and the old data keeps serving.
 */
static int install_built(secondary_t *e, struct sec_zone *z, zone_builder_t *b,
			 const struct received *rx, bool *copy_ok, char *why, size_t cap)
{
	struct daemon *d = e->d;
	*copy_ok = false;
	const snapshot_t *cur = NULL;
	int idx = lock_current(d, z, &cur, why, cap);
	zone_t *nz = NULL;
	int r = SOV_OK;
	diag_t *diag = NULL;
	if (idx < 0) {
		zone_builder_free(b);
		r = SOV_ENOENT;
		goto finish;
	}
	diag = diag_new();
	r = diag ? snapshot_finish_zone(cur, (size_t)idx, b, &nz, diag)
		 : (zone_builder_free(b), SOV_ENOMEM);
	if (r != SOV_OK) {
		const char *m = diag && diag_count(diag) > 0 ? diag_get(diag, 0) : NULL;
		if (m != NULL)
			snprintf(why, cap, "the received zone fails the checks of a zone file: %s",
				 m);
		else
			snprintf(why, cap, "the received zone does not load: %s", err_str(r));
		atomic_fetch_add_explicit(&e->rejected, 1, memory_order_relaxed);
		goto finish;
	}
	pthread_mutex_lock(&e->mu); /* secondary_zone_json reads it */
	take_zone_state(z, nz);
	pthread_mutex_unlock(&e->mu);
	/* nz stays valid: the published snapshot holds it until the next respin,
	 * which only this thread (holding reload_lock) or a reload can make. */
	const zone_t *served = nz;
	r = daemon_publish_zone(d, cur, (size_t)idx, nz);
	nz = NULL;
	if (r != SOV_OK) {
		snprintf(why, cap, "out of memory publishing the zone");
		goto finish;
	}
	log_received(z, rx); /* served from now on; the copy follows */
	char cwhy[400] = "";
	*copy_ok = keep_copy(z, served, cwhy, sizeof(cwhy)) == SOV_OK;
	if (!*copy_ok) {
		log_err("xfr",
			"%s: serving serial %u, but its kept copy could not be written (%s): a "
			"restart serves the older copy until the next transfer",
			z->origin_str, z->serial, cwhy);
		pthread_mutex_lock(&e->mu);
		z->st.error_unix_ms = clock_unix_ms();
		snprintf(z->st.error, sizeof(z->st.error), "kept copy: %s", cwhy);
		pthread_mutex_unlock(&e->mu);
	}
finish:
	diag_free(diag);
	zone_free(nz);
	pthread_mutex_unlock(&d->reload_lock);
	return r;
}

static void expire_zone(secondary_t *e, struct sec_zone *z)
{
	struct daemon *d = e->d;
	pthread_mutex_lock(&d->reload_lock);
	const snapshot_t *cur = snapshot_current();
	int idx = current_index(cur, z);
	if (idx >= 0 && zone_has_data(zonedb_get(cur->zones, (size_t)idx))) {
		zone_t *nz = zone_new_empty(z->origin_str, z->file);
		if (nz != NULL && daemon_publish_zone(d, cur, (size_t)idx, nz) == SOV_OK) {
			if (z->option_left_s >= 0)
				log_err(
				    "xfr",
				    "%s: expired: when a primary last confirmed serial %u, its own "
				    "copy was good for %lld s more (its EDNS EXPIRE, RFC 7314), "
				    "and "
				    "none has confirmed it since; answering SERVFAIL until one "
				    "does",
				    z->origin_str, z->serial, (long long)z->option_left_s);
			else
				log_err(
				    "xfr",
				    "%s: expired: no primary has confirmed serial %u for %u s (SOA "
				    "expire); answering SERVFAIL until one does",
				    z->origin_str, z->serial, z->expire_s);
			atomic_fetch_add_explicit(&e->expired, 1, memory_order_relaxed);
			pthread_mutex_lock(&e->mu);
			z->has_data = false;
			pthread_mutex_unlock(&e->mu);
		}
	}
	pthread_mutex_unlock(&d->reload_lock);
}

/*
 * One transfer from primary p, then install. A full zone goes into a zone
 * builder as it arrives (no text in between) and is served before its
 * kept copy is written; an incremental one (IXFR) is applied to the kept
 * copy into a temporary file, which is then checked and renamed over it.
 */
/* A failed transfer: said in the log, in the API's last_error and the
 * failure counters, whatever step failed (a temporary file that cannot be
 * made, the transfer, the checks). */
static void transfer_failed(secondary_t *e, struct sec_zone *z, bool ixfr, const char *a,
			    const char *why)
{
	pthread_mutex_lock(&e->mu);
	z->st.error_unix_ms = clock_unix_ms();
	snprintf(z->st.error, sizeof(z->st.error), "%s from %s: %s", ixfr ? "IXFR" : "AXFR", a,
		 why);
	z->st.failures++;
	pthread_mutex_unlock(&e->mu);
	atomic_fetch_add_explicit(&e->transfer_failures, 1, memory_order_relaxed);
	log_warn("xfr", "%s: %s from %s failed: %s", z->origin_str, ixfr ? "IXFR" : "AXFR", a, why);
}

static int transfer(secondary_t *e, struct sec_zone *z, const struct xfr_peer *peer, bool ixfr,
		    char *why, size_t cap, bool *ixfr_refused)
{
	*ixfr_refused = false;
	char a[ADDR_STR_MAX];
	addr_format((const struct sockaddr *)&peer->addr.ss, a, sizeof(a));
	char source[DNAME_STR_MAX + ADDR_STR_MAX + 32];
	snprintf(source, sizeof(source), "%s of %s from %s", ixfr ? "IXFR" : "AXFR", z->origin_str,
		 a);
	zone_builder_t *b = NULL;
	int br = zone_builder_new(z->origin_str, z->file, source, &b);
	if (br != SOV_OK) {
		snprintf(why, cap, "cannot start building the zone: %s", err_str(br));
		transfer_failed(e, z, ixfr, a, why);
		return br;
	}
	/* IXFR: the differences apply to the zone we serve (a reference, so a
	 * reload cannot free it meanwhile), else to the kept copy's text. */
	zone_t *have = NULL;
	if (ixfr) {
		const snapshot_t *cur = NULL;
		char w[128];
		int idx = lock_current(e->d, z, &cur, w, sizeof(w));
		const zone_t *zz = idx >= 0 ? zonedb_get(cur->zones, (size_t)idx) : NULL;
		if (zz != NULL && zone_has_data(zz) && zz->serial == z->serial)
			have = zone_ref(zz);
		pthread_mutex_unlock(&e->d->reload_lock);
	}
	char *tmp = NULL;
	FILE *out = NULL;
	int fd = -1;
	if (ixfr && have == NULL) {
		int r = open_temp(z, &tmp, &out, why, cap);
		if (r != SOV_OK) {
			/* AXFR needs no temporary file before serving: try it */
			zone_builder_free(b);
			transfer_failed(e, z, ixfr, a, why);
			*ixfr_refused = true;
			return r;
		}
		fd = fileno(out);
	}
	struct xfr_in_params ip = {
	    .origin = z->origin,
	    .qtype = ixfr ? DNS_TYPE_IXFR : DNS_TYPE_AXFR,
	    .have_serial = z->serial,
	    .have_path = ixfr && have == NULL ? z->file : NULL,
	    .skip_names = z->skip_ptrs,
	    .skip_count = z->nskip,
	    .out = out,
	    .build = b,
	    .have_zone = have,
	};
	uint32_t max_s = z->max_time_s ? z->max_time_s : XFR_DEFAULT_MAX_TIME_S;
	enum xfr_in_kind kind;
	uint32_t serial;
	uint64_t records;
	unsigned rcode;
	int64_t t0 = clock_mono_ms();
	int r = xfr_client_transfer(peer, &ip, (int64_t)max_s * 1000, &kind, &serial, &records,
				    &rcode, why, cap);
	bool incremental = r == SOV_OK && kind == XFR_IN_INCREMENTAL && have == NULL;
	if (incremental && (fflush(out) != 0 || fsync(fd) != 0)) {
		snprintf(why, cap, "cannot write %s: %s", tmp, strerror(errno));
		r = SOV_EIO;
	}
	if (out != NULL)
		fclose(out);
	bool copy_ok = true;
	if (r == SOV_OK && kind == XFR_IN_UPTODATE) {
		zone_builder_free(b);
	} else if (incremental) {
		zone_builder_free(b);
		r = install(e, z, tmp, why, cap);
	} else if (r == SOV_OK) {
		struct received rx = {kind == XFR_IN_INCREMENTAL ? "IXFR" : "AXFR", a, serial,
				      records, t0};
		r = install_built(e, z, b, &rx, &copy_ok, why, cap);
	} else {
		zone_builder_free(b);
	}
	if (tmp != NULL && !(incremental && r == SOV_OK))
		unlink(tmp);
	free(tmp);
	zone_free(have);
	if (r == SOV_OK && kind == XFR_IN_UPTODATE)
		return SOV_OK;
	if (r == SOV_OK)
		z->copy_stale = !copy_ok;
	if (r != SOV_OK) {
		transfer_failed(e, z, ixfr, a, why);
		/* An IXFR the primary refused (FORMERR, NOTIMP...), whose
		 * differences do not apply or do not check, or cut short: the
		 * caller tries AXFR. Not after the time cap: AXFR would fare no
		 * better. */
		*ixfr_refused = ixfr && clock_mono_ms() - t0 < (int64_t)max_s * 1000;
		return r;
	}
	pthread_mutex_lock(&e->mu);
	z->st.transfer_unix_ms = clock_unix_ms();
	snprintf(z->st.transfer_kind, sizeof(z->st.transfer_kind), "%s",
		 kind == XFR_IN_INCREMENTAL ? "IXFR" : "AXFR");
	snprintf(z->st.transfer_from, sizeof(z->st.transfer_from), "%s", a);
	z->st.transfer_serial = serial;
	z->st.transfer_records = records;
	z->st.transfer_ms = clock_mono_ms() - t0;
	z->st.transfers++;
	pthread_mutex_unlock(&e->mu);
	atomic_fetch_add_explicit(&e->transfers, 1, memory_order_relaxed);
	if (kind == XFR_IN_INCREMENTAL)
		atomic_fetch_add_explicit(&e->ixfr, 1, memory_order_relaxed);
	if (kind == XFR_IN_INCREMENTAL && have == NULL)
		log_received(z, &(struct received){"IXFR", a, serial, records, t0});
	return r;
}

/* Tells the zone we serve when it expires (its EDNS EXPIRE, RFC 7314). */
static void publish_expiry(secondary_t *e, const struct sec_zone *z, int64_t at_s)
{
	pthread_mutex_lock(&e->d->reload_lock);
	const snapshot_t *cur = snapshot_current();
	int idx = current_index(cur, z);
	if (idx >= 0) {
		/* The one mutable field of a published zone: an atomic. */
		zone_t *zz = (zone_t *)zonedb_get(cur->zones, (size_t)idx);
		atomic_store_explicit(&zz->expire_at_s, at_s, memory_order_relaxed);
	}
	pthread_mutex_unlock(&e->d->reload_lock);
}

/*
 * Marks success: the next check after REFRESH; the copy is good for the
 * SOA expire, or for what the primary's EXPIRE option said when that is
 * less (RFC 7314 §4: a primary that is itself a secondary). The file's
 * mtime is set so that mtime + SOA expire is that moment: a restart then
 * measures expiry from it.
 */
static void confirmed(secondary_t *e, struct sec_zone *z, int64_t their_expire)
{
	z->bootstrap_fails = 0;
	int64_t now = time(NULL);
	int64_t left = z->expire_s;
	z->option_left_s = -1;
	if (their_expire >= 0 && their_expire < left) {
		left = their_expire;
		z->option_left_s = their_expire;
	}
	pthread_mutex_lock(&e->mu); /* secondary_zone_json reads these */
	z->confirmed_unix_s = now - ((int64_t)z->expire_s - left);
	z->next_ms = clock_mono_ms() + (int64_t)z->refresh_s * 1000;
	pthread_mutex_unlock(&e->mu);
	if (!z->has_data)
		return;
	/* A copy older than what we serve (it could not be written) keeps its
	 * own time: a restart then expires it by when it was confirmed. */
	struct timespec ts[2] = {{z->confirmed_unix_s, 0}, {z->confirmed_unix_s, 0}};
	if (!z->copy_stale)
		(void)utimensat(AT_FDCWD, z->file, ts, 0);
	publish_expiry(e, z, now + left);
}

static void refresh_once(secondary_t *e, struct sec_zone *z);

/* A refresh, then what the API shows of it. */
static void refresh(secondary_t *e, struct sec_zone *z)
{
	refresh_once(e, z);
	pthread_mutex_lock(&e->mu);
	z->st.checked_unix_ms = clock_unix_ms();
	z->st.next_check_unix_s = time(NULL) + (z->next_ms - clock_mono_ms() + 999) / 1000;
	pthread_mutex_unlock(&e->mu);
}

/* The address we send from to a primary of `family`: our first listen
 * address of that family that is not a wildcard (a primary's ACL names the
 * address it knows us by), as NOTIFY out does; NULL: the kernel's choice. */
static const sov_sockaddr_t *source_for(const struct daemon *d, int family)
{
	for (size_t i = 0; i < d->fixed.listen_count; i++) {
		const sov_sockaddr_t *l = &d->fixed.listen[i];
		if (l->ss.ss_family != family)
			continue;
		if (family == AF_INET &&
		    ((const struct sockaddr_in *)&l->ss)->sin_addr.s_addr != htonl(INADDR_ANY))
			return l;
		if (family == AF_INET6 &&
		    !IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&l->ss)->sin6_addr))
			return l;
	}
	return NULL;
}

static void refresh_once(secondary_t *e, struct sec_zone *z)
{
	z->last_check_ms = clock_mono_ms();
	char why[512] = "";
	for (size_t k = 0; k < z->nprim; k++) {
		struct xfr_peer peer = {z->prim[k].addr,
					z->prim[k].has_key ? &z->prim[k].key : NULL, 0,
					source_for(e->d, z->prim[k].addr.ss.ss_family)};
		char a[ADDR_STR_MAX];
		addr_format((const struct sockaddr *)&peer.addr.ss, a, sizeof(a));
		uint32_t theirs = 0;
		int64_t their_expire = -1;
		atomic_fetch_add_explicit(&e->soa_checks, 1, memory_order_relaxed);
		if (xfr_client_soa(&peer, z->origin, &theirs, &their_expire, why, sizeof(why)) !=
		    SOV_OK) {
			atomic_fetch_add_explicit(&e->soa_failures, 1, memory_order_relaxed);
			log_warn("xfr", "%s: SOA check with %s failed: %s", z->origin_str, a, why);
			pthread_mutex_lock(&e->mu);
			z->st.error_unix_ms = clock_unix_ms();
			snprintf(z->st.error, sizeof(z->st.error), "SOA check with %s: %s", a, why);
			z->st.failures++;
			pthread_mutex_unlock(&e->mu);
			continue;
		}
		if (z->has_data && z->serial != theirs && !dns_serial_lt(z->serial, theirs)) {
			/* An older serial (RFC 1982) confirms nothing: our copy is
			 * kept and served, but not refreshed by it, so it expires
			 * unless a primary has our version or a newer one (as Knot
			 * and BIND do). */
			snprintf(
			    why, sizeof(why),
			    "%s has serial %u, older than ours (%u): not a confirmation of our "
			    "copy",
			    a, theirs, z->serial);
			log_warn("xfr", "%s: %s", z->origin_str, why);
			pthread_mutex_lock(&e->mu);
			z->st.error_unix_ms = clock_unix_ms();
			snprintf(z->st.error, sizeof(z->st.error), "SOA check: %s", why);
			z->st.failures++;
			pthread_mutex_unlock(&e->mu);
			continue;
		}
		if (z->has_data && z->serial == theirs) {
			log_debug("xfr", "%s: up to date with %s (serial %u)", z->origin_str, a,
				  theirs);
			confirmed(e, z, their_expire);
			return;
		}
		bool ixfr_failed = false;
		int r = transfer(e, z, &peer, z->has_data, why, sizeof(why), &ixfr_failed);
		if (r != SOV_OK && ixfr_failed)
			r = transfer(e, z, &peer, false, why, sizeof(why), &ixfr_failed);
		if (r == SOV_OK) {
			confirmed(e, z, their_expire);
			return;
		}
	}
	/* Without data there is no SOA RETRY to follow: back off from 2 s to
	 * 5 minutes, so a new or expired zone comes back soon after its
	 * primary does. */
	uint32_t wait_s = z->retry_s;
	if (!z->has_data) {
		unsigned f = z->bootstrap_fails < 8 ? z->bootstrap_fails : 8;
		wait_s = SECONDARY_MIN_INTERVAL_S << f;
		if (wait_s > SECONDARY_BOOTSTRAP_MAX_S)
			wait_s = SECONDARY_BOOTSTRAP_MAX_S;
		z->bootstrap_fails++;
	}
	z->next_ms = clock_mono_ms() + (int64_t)wait_s * 1000;
	log_warn("xfr", "%s: no primary confirmed or updated our copy (last: %s); next try in %u s",
		 z->origin_str, why[0] ? why : "no primary", wait_s);
}

static void *engine_main(void *arg)
{
	secondary_t *e = arg;
	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		/* A new zone set replaces cur only when no thread works on a zone
		 * of it; meanwhile no new work starts. */
		if (e->has_pending && e->busy == 0)
			take_pending(e);
		if (e->has_pending) {
			pthread_cond_wait(&e->cv, &e->mu);
			continue;
		}
		for (size_t k = 0; k < e->cur.n; k++) {
			size_t ci = e->cur.z[k].conf_idx;
			if (ci < e->notify_n && e->notify_flag[ci]) {
				if (e->notify_flag[ci] == 2)
					e->cur.z[k].last_check_ms = 0; /* asked for: at once */
				e->notify_flag[ci] = 0;
				e->cur.z[k].notified = true;
			}
		}
		int64_t now = clock_mono_ms();
		int64_t now_unix = time(NULL);
		struct sec_zone *due = NULL;
		int64_t wake = now + 60000;
		for (size_t k = 0; k < e->cur.n; k++) {
			struct sec_zone *z = &e->cur.z[k];
			if (z->busy)
				continue;
			if (z->has_data && z->confirmed_unix_s > 0 &&
			    now_unix - z->confirmed_unix_s >= (int64_t)z->expire_s) {
				due = z;
				break;
			}
			/* A NOTIFY makes the zone due, but not sooner than
			 * SECONDARY_NOTIFY_GAP_MS after its last check: a flood of
			 * NOTIFYs (or forged ones) costs the primary one query a
			 * second. */
			int64_t notify_at = z->last_check_ms + SECONDARY_NOTIFY_GAP_MS;
			if ((z->notified && notify_at <= now) || z->next_ms <= now) {
				due = z;
				break;
			}
			if (z->notified && notify_at < wake)
				wake = notify_at;
			if (z->next_ms < wake)
				wake = z->next_ms;
			if (z->has_data && z->confirmed_unix_s > 0) {
				int64_t exp_ms =
				    now +
				    (z->confirmed_unix_s + (int64_t)z->expire_s - now_unix) * 1000;
				if (exp_ms < wake)
					wake = exp_ms;
			}
		}
		if (due == NULL) {
			struct timespec ts = {(time_t)(wake / 1000),
					      (long)(wake % 1000) * 1000000L};
			pthread_cond_timedwait(&e->cv, &e->mu, &ts);
			continue;
		}
		bool expired = due->has_data && due->confirmed_unix_s > 0 &&
			       now_unix - due->confirmed_unix_s >= (int64_t)due->expire_s;
		due->notified = false;
		due->busy = true;
		e->busy++;
		pthread_mutex_unlock(&e->mu);
		if (expired)
			expire_zone(e, due);
		refresh(e, due);
		pthread_mutex_lock(&e->mu);
		due->busy = false;
		e->busy--;
		pthread_cond_broadcast(&e->cv); /* a pending set, or a zone now free */
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

int secondary_run(secondary_t *e)
{
	for (size_t i = 0; i < SECONDARY_THREADS; i++) {
		if (pthread_create(&e->threads[i], NULL, engine_main, e) != 0)
			break;
		e->nthreads++;
	}
	e->running = e->nthreads > 0;
	return e->running ? SOV_OK : SOV_ESYS;
}

void secondary_free(secondary_t *e)
{
	if (e == NULL)
		return;
	pthread_mutex_lock(&e->mu);
	e->stop = true;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	if (e->running)
		xfr_client_stop(); /* a transfer in progress ends now, not at its time cap */
	for (size_t i = 0; i < e->nthreads; i++)
		pthread_join(e->threads[i], NULL);
	set_free(&e->cur);
	if (e->has_pending)
		set_free(&e->pending);
	free(e->notify_flag);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	free(e);
}

static json_t *time_or_null(int64_t unix_ms)
{
	if (unix_ms <= 0)
		return json_null();
	char buf[40];
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

void secondary_refresh_now(secondary_t *e, size_t zone_idx)
{
	pthread_mutex_lock(&e->mu);
	if (zone_idx < e->notify_n) {
		e->notify_flag[zone_idx] = 2;
		pthread_cond_broadcast(&e->cv);
	}
	pthread_mutex_unlock(&e->mu);
}

json_t *secondary_zone_json(secondary_t *e, const uint8_t *origin)
{
	json_t *o = NULL;
	pthread_mutex_lock(&e->mu);
	for (size_t k = 0; k < e->cur.n && o == NULL; k++) {
		const struct sec_zone *z = &e->cur.z[k];
		if (!dname_equal(z->origin, origin))
			continue;
		int64_t now = time(NULL);
		json_t *prim = json_array();
		for (size_t i = 0; i < z->nprim; i++) {
			char a[ADDR_STR_MAX], kn[DNAME_STR_MAX] = "";
			addr_format((const struct sockaddr *)&z->prim[i].addr.ss, a, sizeof(a));
			if (z->prim[i].has_key) {
				dname_to_str(z->prim[i].key.name, kn, sizeof(kn));
				size_t l = strlen(kn);
				if (l > 1 && kn[l - 1] == '.')
					kn[l - 1] = 0; /* as configured: "transfer" */
			}
			json_array_append_new(
			    prim, json_pack("{s:s, s:o}", "address", a, "key",
					    z->prim[i].has_key ? json_string(kn) : json_null()));
		}
		json_t *last = json_null();
		if (z->st.transfer_unix_ms > 0)
			last = json_pack("{s:o, s:s, s:s, s:I, s:I, s:I}", "at",
					 time_or_null(z->st.transfer_unix_ms), "kind",
					 z->st.transfer_kind, "from", z->st.transfer_from, "serial",
					 (json_int_t)z->st.transfer_serial, "records",
					 (json_int_t)z->st.transfer_records, "ms",
					 (json_int_t)z->st.transfer_ms);
		json_t *err = json_null();
		if (z->st.error_unix_ms > 0)
			err = json_pack("{s:o, s:s}", "at", time_or_null(z->st.error_unix_ms),
					"message", z->st.error);
		int64_t expires = z->has_data && z->confirmed_unix_s > 0
				      ? z->confirmed_unix_s + (int64_t)z->expire_s - now
				      : -1;
		o = json_pack(
		    "{s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I}", "primaries", prim,
		    "last_check", time_or_null(z->st.checked_unix_ms), "last_confirmed",
		    time_or_null(z->confirmed_unix_s * 1000), "next_check_in_s",
		    z->st.next_check_unix_s > 0
			? json_integer(z->st.next_check_unix_s > now ? z->st.next_check_unix_s - now
								     : 0)
			: json_null(),
		    "last_transfer", last, "last_error", err, "expires_in_s",
		    (json_int_t)(expires < 0 ? 0 : expires), "refresh_s", (json_int_t)z->refresh_s,
		    "transfers", (json_int_t)z->st.transfers, "failures",
		    (json_int_t)z->st.failures);
		if (o != NULL && !z->has_data)
			json_object_set_new(o, "expires_in_s", json_null());
	}
	pthread_mutex_unlock(&e->mu);
	return o;
}

void secondary_metrics(const secondary_t *e, FILE *out)
{
	struct {
		const char *name, *help;
		const _Atomic uint64_t *v;
	} c[] = {
	    {"sovdns_secondary_soa_checks_total", "SOA queries sent to primaries", &e->soa_checks},
	    {"sovdns_secondary_soa_failures_total", "SOA queries that got no usable answer",
	     &e->soa_failures},
	    {"sovdns_secondary_transfers_total", "zone transfers received and served",
	     &e->transfers},
	    {"sovdns_secondary_ixfr_total", "of those, incremental (IXFR)", &e->ixfr},
	    {"sovdns_secondary_transfer_failures_total",
	     "transfers that failed (network, TSIG, protocol, checks)", &e->transfer_failures},
	    {"sovdns_secondary_rejected_total",
	     "received zones refused by the zone file checks (the old data kept serving)",
	     &e->rejected},
	    {"sovdns_secondary_notify_received_total", "NOTIFYs accepted from primaries",
	     &e->notifies},
	    {"sovdns_secondary_expired_total", "times a zone expired (then answered SERVFAIL)",
	     &e->expired},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		fprintf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", c[i].name, c[i].help,
			c[i].name, c[i].name,
			(unsigned long long)atomic_load_explicit(c[i].v, memory_order_relaxed));
}
