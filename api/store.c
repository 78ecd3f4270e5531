#include "api/store.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/util.h"
#include "common/atomicfile.h"
#include "common/err.h"
#include "common/log.h"

struct store {
	char *dir;
	char admin_path[PATH_MAX];
	char ops_path[PATH_MAX];
	int lock_fd;
};

/* The file names inside state_dir. SOV_OK or SOV_EINVAL (too long, in diag). */
static int store_paths(store_t *s, const char *state_dir, char *lock_path, size_t lock_cap,
		       diag_t *diag)
{
	if (snprintf(s->admin_path, sizeof(s->admin_path), "%s/%s", state_dir, STORE_ADMIN_FILE) >=
		(int)sizeof(s->admin_path) ||
	    snprintf(s->ops_path, sizeof(s->ops_path), "%s/%s", state_dir, STORE_OPS_FILE) >=
		(int)sizeof(s->ops_path) ||
	    snprintf(lock_path, lock_cap, "%s/%s", state_dir, STORE_LOCK_FILE) >= (int)lock_cap) {
		diag_add(diag, state_dir, 0, 0, "state_dir: path too long");
		return SOV_EINVAL;
	}
	return SOV_OK;
}

/* Anyone could replace admin.json and undrain a site, or drain every one. */
#define WORLD_WRITABLE_MSG                                                                         \
	"state_dir %s may be written by any user (mode %04o): anyone could rewrite the "           \
	"admin state; chmod o-w it"

int store_open(const char *state_dir, store_t **out, diag_t *diag)
{
	int rc = SOV_EIO;
	char lock_path[PATH_MAX];
	store_t *s = calloc(1, sizeof(*s));
	if (s == NULL || (s->dir = strdup(state_dir)) == NULL) {
		rc = SOV_ENOMEM;
		diag_add(diag, state_dir, 0, 0, "out of memory");
		goto finish;
	}
	s->lock_fd = -1;
	if ((rc = store_paths(s, state_dir, lock_path, sizeof(lock_path), diag)) != SOV_OK)
		goto finish;
	rc = SOV_EIO;
	if (mkdir(state_dir, 0750) != 0 && errno != EEXIST) {
		diag_add(diag, state_dir, 0, 0, "cannot create state_dir: %s", strerror(errno));
		goto finish;
	}
	struct stat st;
	if (stat(state_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		diag_add(diag, state_dir, 0, 0, "state_dir is not a directory");
		goto finish;
	}
	if ((st.st_mode & S_IWOTH) != 0) {
		diag_add(diag, state_dir, 0, 0, WORLD_WRITABLE_MSG, state_dir,
			 (unsigned)(st.st_mode & 07777));
		goto finish;
	}
	s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (s->lock_fd < 0) {
		diag_add(diag, lock_path, 0, 0, "cannot open the state lock: %s", strerror(errno));
		goto finish;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? SOV_EEXIST : SOV_EIO;
		if (rc == SOV_EEXIST)
			diag_add(diag, lock_path, 0, 0,
				 "state_dir %s is in use by another sovdns process; two daemons "
				 "must not share their admin state",
				 state_dir);
		else
			diag_add(diag, lock_path, 0, 0, "cannot lock state_dir %s: %s", state_dir,
				 strerror(errno));
		goto finish;
	}
	*out = s;
	s = NULL;
	rc = SOV_OK;
finish:
	store_close(s);
	return rc;
}

void store_close(store_t *s)
{
	if (s == NULL)
		return;
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	free(s->dir);
	free(s);
}

const char *store_admin_path(const store_t *s)
{
	return s->admin_path;
}

static json_t *time_or_null(int64_t ms)
{
	char t[API_TIME_MAX];
	return ms ? json_string(api_time_format(ms, t)) : json_null();
}

json_t *admin_record_to_json(const struct admin_record *r)
{
	bool timed = r->state == ADMIN_DRAINING || r->state == ADMIN_DRAINED ||
		     (r->state == ADMIN_MAINTENANCE && r->safe_at_ms != 0);
	json_t *o = json_pack("{s:s, s:s?, s:s?, s:o, s:o, s:o, s:o, s:o}", "state",
			      admin_state_name(r->state), "reason", r->reason[0] ? r->reason : NULL,
			      "by", r->who[0] ? r->who : NULL, "since", time_or_null(r->since_ms),
			      "safe_at", time_or_null(timed ? r->safe_at_ms : 0),
			      "lease_expires_at", time_or_null(timed ? r->lease_expires_ms : 0),
			      "ttl_s", timed ? json_integer(r->ttl_s) : json_null(), "margin_s",
			      timed ? json_integer(r->margin_s) : json_null());
	/* what ending the maintenance returns to: the drain under it, or active */
	if (o != NULL && r->state == ADMIN_MAINTENANCE &&
	    json_object_set_new(o, "after", json_string(r->drain_under ? "drain" : "active")) !=
		0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* An optional string member ("" when null or absent). */
static int opt_str(const json_t *o, const char *key, char *dst, size_t cap, char *why, size_t wcap)
{
	const json_t *v = json_object_get(o, key);
	dst[0] = '\0';
	if (v == NULL || json_is_null(v))
		return SOV_OK;
	if (!json_is_string(v) || json_string_length(v) >= cap) {
		snprintf(why, wcap, "\"%s\" must be a string shorter than %zu bytes", key, cap);
		return SOV_EPARSE;
	}
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return SOV_OK;
}

static int opt_time(const json_t *o, const char *key, int64_t *ms, char *why, size_t wcap)
{
	const json_t *v = json_object_get(o, key);
	*ms = 0;
	if (v == NULL || json_is_null(v))
		return SOV_OK;
	if (!json_is_string(v) || api_time_parse(json_string_value(v), ms) != SOV_OK) {
		snprintf(why, wcap, "\"%s\" must be an RFC 3339 time like 2026-11-30T07:24:00Z",
			 key);
		return SOV_EPARSE;
	}
	return SOV_OK;
}

static int opt_u32(const json_t *o, const char *key, uint32_t *out, char *why, size_t wcap)
{
	const json_t *v = json_object_get(o, key);
	*out = 0;
	if (v == NULL || json_is_null(v))
		return SOV_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > UINT32_MAX) {
		snprintf(why, wcap, "\"%s\" must be a non-negative integer", key);
		return SOV_EPARSE;
	}
	*out = (uint32_t)json_integer_value(v);
	return SOV_OK;
}

int admin_record_from_json(const json_t *o, struct admin_record *r, char *why, size_t cap)
{
	admin_record_init(r);
	if (!json_is_object(o)) {
		snprintf(why, cap, "must be an object");
		return SOV_EPARSE;
	}
	const json_t *st = json_object_get(o, "state");
	if (!json_is_string(st) || admin_state_parse(json_string_value(st), &r->state) != SOV_OK) {
		snprintf(why, cap,
			 "\"state\" must be one of active, draining, drained, maintenance");
		return SOV_EPARSE;
	}
	if (opt_str(o, "reason", r->reason, sizeof(r->reason), why, cap) ||
	    opt_str(o, "by", r->who, sizeof(r->who), why, cap) ||
	    opt_time(o, "since", &r->since_ms, why, cap) ||
	    opt_time(o, "safe_at", &r->safe_at_ms, why, cap) ||
	    opt_time(o, "lease_expires_at", &r->lease_expires_ms, why, cap) ||
	    opt_u32(o, "ttl_s", &r->ttl_s, why, cap) ||
	    opt_u32(o, "margin_s", &r->margin_s, why, cap))
		return SOV_EPARSE;
	if (r->state == ADMIN_MAINTENANCE) {
		/* files written before "after" existed: a safe_at meant a drain under it */
		const json_t *after = json_object_get(o, "after");
		if (after == NULL) {
			r->drain_under = r->safe_at_ms != 0;
		} else if (json_is_string(after) &&
			   (strcmp(json_string_value(after), "drain") == 0 ||
			    strcmp(json_string_value(after), "active") == 0)) {
			r->drain_under = strcmp(json_string_value(after), "drain") == 0;
		} else {
			snprintf(why, cap, "\"after\" must be \"drain\" or \"active\"");
			return SOV_EPARSE;
		}
		if (r->drain_under && r->safe_at_ms == 0) {
			snprintf(why, cap, "a maintenance over a drain needs \"safe_at\"");
			return SOV_EPARSE;
		}
	}
	if (r->state == ADMIN_DRAINING && r->safe_at_ms == 0) {
		snprintf(why, cap, "a draining datacenter needs \"safe_at\"");
		return SOV_EPARSE;
	}
	return SOV_OK;
}

/*
 * Reads and parses path. *doc is NULL with SOV_OK when the file is absent
 * (a fresh start), unless its .prev exists: then someone removed the file
 * by hand, and guessing would be a silent reset.
 */
/*
 * What to do about a bad state file, for the message: compare it with its
 * .prev copy when there is one. Naming a .prev that does not exist (the
 * file was written only once) would send the operator looking for it.
 */
static const char *prev_advice(const char *path, char *buf, size_t cap)
{
	char prev[PATH_MAX];
	snprintf(prev, sizeof(prev), "%s%s", path, ATOMICFILE_PREV_SUFFIX);
	if (access(prev, F_OK) == 0)
		snprintf(buf, cap,
			 "the previous good copy is %s — inspect both and copy the good one over "
			 "this file",
			 prev);
	else
		snprintf(buf, cap,
			 "there is no previous copy (%s does not exist) — repair this file, or "
			 "remove it to start with every datacenter active and no operations",
			 prev);
	return buf;
}

static int load_doc(const char *path, json_t **doc, diag_t *diag)
{
	int rc;
	char *text = NULL;
	size_t len = 0;
	*doc = NULL;
	rc = atomicfile_read(path, STORE_FILE_MAX, &text, &len);
	if (rc == SOV_ENOENT) {
		char prev[PATH_MAX];
		snprintf(prev, sizeof(prev), "%s%s", path, ATOMICFILE_PREV_SUFFIX);
		if (access(prev, F_OK) == 0) {
			diag_add(
			    diag, path, 0, 0,
			    "state file is missing but its previous copy %s exists; copy it "
			    "back (cp %s %s) or remove it to start with every datacenter active",
			    prev, prev, path);
			rc = SOV_EIO;
			goto finish;
		}
		rc = SOV_OK;
		goto finish;
	}
	if (rc != SOV_OK) {
		diag_add(diag, path, 0, 0, "cannot read state file: %s",
			 rc == SOV_EIO ? strerror(errno) : err_str(rc));
		rc = SOV_EIO;
		goto finish;
	}
	json_error_t jerr;
	*doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*doc == NULL) {
		char advice[2 * PATH_MAX];
		diag_add(diag, path, jerr.line > 0 ? (unsigned)jerr.line : 0,
			 jerr.column > 0 ? (unsigned)jerr.column : 0,
			 "state file is not valid JSON (%s); %s", jerr.text,
			 prev_advice(path, advice, sizeof(advice)));
		rc = SOV_EPARSE;
	}
finish:
	free(text);
	return rc;
}

static void invalid(diag_t *diag, const char *path, const char *what)
{
	char advice[2 * PATH_MAX];
	diag_add(diag, path, 0, 0, "invalid state file: %s; %s", what,
		 prev_advice(path, advice, sizeof(advice)));
}

int store_load_admin(store_t *s, const char *const *ids, size_t count, struct admin_record *records,
		     json_t **orphans, diag_t *diag)
{
	json_t *doc = NULL;
	char why[256], what[512];
	for (size_t i = 0; i < count; i++)
		admin_record_init(&records[i]);
	*orphans = json_object();
	if (*orphans == NULL)
		return SOV_ENOMEM;
	int rc = load_doc(s->admin_path, &doc, diag);
	if (rc != SOV_OK || doc == NULL)
		goto finish;
	rc = SOV_EPARSE;
	const json_t *ver = json_object_get(doc, "version");
	const json_t *dcs = json_object_get(doc, "datacenters");
	if (!json_is_object(doc) || !json_is_integer(ver) || json_integer_value(ver) != 1 ||
	    !json_is_object(dcs)) {
		invalid(diag, s->admin_path, "expected {\"version\": 1, \"datacenters\": {...}}");
		goto finish;
	}
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)dcs, key, v)
	{
		struct admin_record r;
		if (admin_record_from_json(v, &r, why, sizeof(why)) != SOV_OK) {
			snprintf(what, sizeof(what), "datacenters.%s: %s", key, why);
			invalid(diag, s->admin_path, what);
			goto finish;
		}
		size_t i;
		for (i = 0; i < count; i++)
			if (strcmp(ids[i], key) == 0)
				break;
		if (i < count) {
			records[i] = r;
		} else {
			if (r.state != ADMIN_ACTIVE)
				log_warn(
				    "api",
				    "%s: datacenter %s is %s but is not in the configuration; its "
				    "state is kept for when it returns",
				    s->admin_path, key, admin_state_name(r.state));
			json_object_set(*orphans, key, v);
		}
	}
	rc = SOV_OK;
finish:
	json_decref(doc);
	if (rc != SOV_OK) {
		json_decref(*orphans);
		*orphans = NULL;
	}
	return rc;
}

static int save_doc(const char *path, json_t *doc, char *why, size_t cap)
{
	int rc = SOV_ENOMEM;
	char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (text == NULL) {
		snprintf(why, cap, "out of memory while writing %s", path);
		goto finish;
	}
	size_t len = strlen(text);
	text[len] = '\n'; /* json_dumps' NUL becomes the final newline */
	rc = atomicfile_write(path, text, len + 1, STORE_FILE_MODE, ATOMICFILE_KEEP_PREV);
	if (rc != SOV_OK)
		snprintf(why, cap, "cannot write %s: %s", path,
			 rc == SOV_EIO ? strerror(errno) : err_str(rc));
finish:
	free(text);
	return rc;
}

int store_save_admin(store_t *s, const char *const *ids, size_t count,
		     const struct admin_record *records, const json_t *orphans, char *why,
		     size_t cap)
{
	json_t *dcs = json_object();
	json_t *doc = NULL;
	if (dcs == NULL)
		goto finish;
	for (size_t i = 0; i < count; i++)
		if (json_object_set_new(dcs, ids[i], admin_record_to_json(&records[i])) != 0)
			goto finish;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)orphans, key, v)
	{
		if (json_object_get(dcs, key) == NULL)
			json_object_set(dcs, key, v);
	}
	doc = json_pack("{s:i, s:O}", "version", 1, "datacenters", dcs);
finish:
	json_decref(dcs);
	int rc = save_doc(s->admin_path, doc, why, cap);
	json_decref(doc);
	return rc;
}

int store_load_ops(store_t *s, op_store_t *ops, diag_t *diag)
{
	json_t *doc = NULL;
	char why[256];
	int rc = load_doc(s->ops_path, &doc, diag);
	if (rc != SOV_OK || doc == NULL)
		goto finish;
	rc = op_store_from_json(ops, doc, why, sizeof(why));
	if (rc != SOV_OK)
		invalid(diag, s->ops_path, why);
finish:
	json_decref(doc);
	return rc;
}

int store_save_ops(store_t *s, const op_store_t *ops, char *why, size_t cap)
{
	json_t *doc = op_store_to_json(ops);
	int rc = save_doc(s->ops_path, doc, why, cap);
	json_decref(doc);
	return rc;
}

/* May the account (uid and groups) do `want` (2 = write, 1 = search, as in
 * a mode's rwx digit) in a directory with this owner and mode? The classic
 * owner/group/other rule; ACLs are not looked at (docs/api.md). */
static bool account_may(const struct stat *st, uid_t uid, const gid_t *groups, int ngroups,
			unsigned want)
{
	if (uid == 0)
		return true;
	unsigned shift = 0; /* other */
	if (st->st_uid == uid) {
		shift = 6;
	} else {
		for (int i = 0; i < ngroups; i++)
			if (groups[i] == st->st_gid) {
				shift = 3;
				break;
			}
	}
	return ((st->st_mode >> shift) & want) == want;
}

/* The first directory above dir (absolute, resolved) that the account may
 * not search, into out; false when every one may be searched. */
static bool ancestor_closed(const char *dir, uid_t uid, const gid_t *groups, int ngroups, char *out,
			    size_t cap, struct stat *st)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", dir);
	char *slash;
	while ((slash = strrchr(path, '/')) != NULL) {
		if (slash == path)
			slash[1] = '\0'; /* "/" itself */
		else
			*slash = '\0';
		if (stat(path, st) == 0 && !account_may(st, uid, groups, ngroups, 1)) {
			snprintf(out, cap, "%s", path);
			return true;
		}
		if (slash == path)
			break;
	}
	return false;
}

int store_check_dir(const char *state_dir, const char *user, diag_t *diag)
{
	struct stat st;
	if (stat(state_dir, &st) != 0) {
		if (errno != ENOENT) {
			diag_add(diag, state_dir, 0, 0, "state_dir: %s", strerror(errno));
			return SOV_EIO;
		}
		if (user != NULL && geteuid() == 0) {
			diag_add(diag, state_dir, 0, 0,
				 "state_dir %s does not exist: sovdns would create it as root, and "
				 "\"user\" %s could not write it; create it for that account first "
				 "(install -d -o %s -m 0750 %s)",
				 state_dir, user, user, state_dir);
			return SOV_EIO;
		}
		return SOV_OK; /* created at start by this very account */
	}
	if (!S_ISDIR(st.st_mode)) {
		diag_add(diag, state_dir, 0, 0, "state_dir is not a directory");
		return SOV_EIO;
	}
	if ((st.st_mode & S_IWOTH) != 0) {
		diag_add(diag, state_dir, 0, 0, WORLD_WRITABLE_MSG, state_dir,
			 (unsigned)(st.st_mode & 07777));
		return SOV_EIO;
	}
	bool ok;
	char who[64];
	if (user == NULL) {
		ok = access(state_dir, W_OK | X_OK) == 0;
		snprintf(who, sizeof(who), "uid %u", (unsigned)geteuid());
	} else {
		struct passwd *pw = getpwnam(user);
		if (pw == NULL) {
			diag_add(diag, NULL, 0, 0, "\"user\": no such account \"%s\"", user);
			return SOV_EINVAL;
		}
		gid_t groups[256];
		int n = (int)(sizeof(groups) / sizeof(groups[0]));
		if (getgrouplist(user, pw->pw_gid, groups, &n) < 0)
			n = (int)(sizeof(groups) / sizeof(groups[0])); /* the first 256 */
		ok = account_may(&st, pw->pw_uid, groups, n, 3);
		snprintf(who, sizeof(who), "\"user\" %s", user);
		char real[PATH_MAX], closed[PATH_MAX];
		struct stat ast;
		if (ok && realpath(state_dir, real) != NULL &&
		    ancestor_closed(real, pw->pw_uid, groups, n, closed, sizeof(closed), &ast)) {
			diag_add(diag, state_dir, 0, 0,
				 "state_dir %s cannot be reached by %s: %s (owner uid %u, mode "
				 "%04o) may not be searched by it; every drain would fail with "
				 "state_write_failed",
				 state_dir, who, closed, (unsigned)ast.st_uid,
				 (unsigned)(ast.st_mode & 07777));
			return SOV_EIO;
		}
	}
	if (!ok) {
		diag_add(diag, state_dir, 0, 0,
			 "state_dir %s cannot be written by %s (owner uid %u, group gid %u, mode "
			 "%04o): every drain would fail with state_write_failed; chown or chmod "
			 "it",
			 state_dir, who, (unsigned)st.st_uid, (unsigned)st.st_gid,
			 (unsigned)(st.st_mode & 07777));
		return SOV_EIO;
	}
	return SOV_OK;
}

int store_check_files(const char *state_dir, const char *const *ids, size_t count,
		      size_t operations_keep, diag_t *diag)
{
	store_t s = {.lock_fd = -1};
	char lock_path[PATH_MAX];
	int rc = store_paths(&s, state_dir, lock_path, sizeof(lock_path), diag);
	if (rc != SOV_OK)
		return rc;
	struct admin_record *records = calloc(count + 1, sizeof(*records));
	op_store_t *ops = op_store_new(operations_keep);
	json_t *orphans = NULL;
	rc = SOV_ENOMEM;
	if (records == NULL || ops == NULL) {
		diag_add(diag, state_dir, 0, 0, "out of memory");
		goto finish;
	}
	/* both files, so that one run shows every problem */
	rc = store_load_admin(&s, ids, count, records, &orphans, diag);
	int rc2 = store_load_ops(&s, ops, diag);
	if (rc == SOV_OK)
		rc = rc2;
finish:
	json_decref(orphans);
	op_store_free(ops);
	free(records);
	return rc;
}
