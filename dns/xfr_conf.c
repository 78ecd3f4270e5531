/* xfr_conf.c — the "tsig", "transfers" and zones[].transfer sections
 * (contract in xfr_conf.h, schema in docs/transfers.md).
 *
 * Every problem is reported, each at the value it is about; a key file's
 * content never appears in a message.
 */
#include "dns/xfr_conf.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/path.h"
#include "common/secretfile.h"
#include "conf/json_keys.h"
#include "conf/json_kind.h"
#include "dns/update_conf.h"
#include "wire/dname.h"

/* A key file's line: ALGORITHM (24) ':' NAME (presentation, escaped) ':'
 * base64 of TSIG_SECRET_MAX bytes. */
#define KEY_LINE_MAX (32 + DNAME_STR_MAX + (TSIG_SECRET_MAX + 2) / 3 * 4)
/* The shortest line worth reading: a 16-byte secret is 24 base64 characters. */
#define KEY_LINE_MIN 16

/* State of one load. */
struct xc {
	const config_t *conf;
	diag_t *diag;
	struct xfr_conf *x;
	unsigned errors;
	bool nomem;
	bool key_failed; /* a key could not be loaded: rules naming it say nothing more */
};

static void xc_err(struct xc *c, const json_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void xc_err(struct xc *c, const json_t *at, const char *fmt, ...)
{
	char msg[768];
	unsigned line = 0, col = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at != NULL)
		config_locate(c->conf, at, &line, &col);
	diag_add(c->diag, c->conf->path ? c->conf->path : "(command line)", line, col, "%s", msg);
	c->errors++;
}

/* Reports every member of obj that is not in known; where names the object. */
static void xc_keys(struct xc *c, const json_t *obj, const char *where, const char *const *known)
{
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val)
	{
		char msg[512];
		if (!json_key_known(key, known))
			xc_err(c, val, "%s: %s", where,
			       json_unknown_key(key, known, msg, sizeof(msg)));
	}
}

static bool xc_object(struct xc *c, const json_t *v, const char *where)
{
	if (json_is_object(v))
		return true;
	xc_err(c, v, "\"%s\" must be an object, not %s", where, json_kind(v));
	return false;
}

/* An optional integer member of obj in [min, max] into *out. */
static void xc_uint(struct xc *c, const json_t *obj, const char *where, const char *key,
		    long long min, long long max, uint32_t *out)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return;
	if (!json_is_integer(v)) {
		xc_err(c, v, "%s.%s must be an integer from %lld to %lld, not %s", where, key, min,
		       max, json_kind(v));
		return;
	}
	if (json_integer_value(v) < min || json_integer_value(v) > max) {
		xc_err(c, v, "%s.%s is %lld, out of range: must be from %lld to %lld", where, key,
		       (long long)json_integer_value(v), min, max);
		return;
	}
	*out = (uint32_t)json_integer_value(v);
}

/* An optional string member; NULL when absent, an error when not a string. */
static const char *xc_string(struct xc *c, const json_t *obj, const char *where, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return NULL;
	if (!json_is_string(v) || json_string_length(v) == 0) {
		xc_err(c, v, "%s.%s must be a non-empty string, not %s", where, key,
		       json_is_string(v) ? "an empty one" : json_kind(v));
		return NULL;
	}
	return json_string_value(v);
}

/* Reads the key file of keys[i] into *k; `name` and `alg` are what the
 * configuration says (NULL: not said). */
static bool key_from_file(struct xc *c, const json_t *entry, const char *where, const char *name,
			  const char *alg, struct tsig_key *k)
{
	const json_t *fv = json_object_get(entry, "file");
	const char *file = xc_string(c, entry, where, "file");
	if (file == NULL) {
		if (fv == NULL)
			xc_err(c, entry, "%s needs \"file\": the file that holds the secret",
			       where);
		return false;
	}
	char *path = path_beside(c->conf->path, file);
	if (path == NULL) {
		c->nomem = true;
		return false;
	}
	char line[KEY_LINE_MAX + 1], why[PATH_MAX + 256], perr[256] = "";
	bool ok = false;
	int rc =
	    secretfile_read(path, "TSIG key", KEY_LINE_MIN, KEY_LINE_MAX,
			    "make one with: tsig-keygen, keymgr -t, or openssl rand -base64 32",
			    line, sizeof(line), why, sizeof(why));
	if (rc != SOV_OK) {
		xc_err(c, fv, "%s: %s", where, why);
		goto finish;
	}
	if (strchr(line, ':') != NULL) {
		rc = tsig_key_parse(line, k, perr, sizeof(perr));
	} else if (name == NULL) {
		xc_err(c, entry,
		       "%s: %s holds a bare secret, so the key needs \"name\" (or write the file "
		       "as ALGORITHM:NAME:SECRET)",
		       where, path);
		goto finish;
	} else {
		char full[sizeof(line) + DNAME_STR_MAX + 40];
		snprintf(full, sizeof(full), "%s:%s:%s", alg ? alg : "hmac-sha256", name, line);
		rc = tsig_key_parse(full, k, perr, sizeof(perr));
		OPENSSL_cleanse(full, sizeof(full));
	}
	if (rc != SOV_OK) {
		xc_err(c, fv, "%s: %s: %s", where, path, perr);
		goto finish;
	}
	ok = true;
finish:
	OPENSSL_cleanse(line, sizeof(line));
	free(path);
	return ok;
}

/* The key that the configuration names agrees with the one in its file. */
static bool key_agrees(struct xc *c, const json_t *entry, const char *where, const char *name,
		       const char *alg, const struct tsig_key *k)
{
	bool ok = true;
	if (name != NULL) {
		uint8_t w[DNAME_MAXLEN];
		if (dname_from_str(name, w) < 1 || w[0] == 0) {
			xc_err(c, json_object_get(entry, "name"),
			       "%s.name: \"%s\" is not a domain name", where, name);
			return false;
		}
		dname_lower(w, w);
		if (!dname_equal(w, k->name)) {
			xc_err(c, json_object_get(entry, "name"),
			       "%s.name \"%s\" differs from the name in the key file", where, name);
			ok = false;
		}
	}
	enum tsig_alg a;
	if (alg != NULL && tsig_alg_parse(alg, &a) != SOV_OK) {
		xc_err(c, json_object_get(entry, "algorithm"),
		       "%s.algorithm: unknown algorithm \"%s\" (hmac-sha256, hmac-sha384, "
		       "hmac-sha512, hmac-sha224, hmac-sha1, hmac-md5)",
		       where, alg);
		ok = false;
	} else if (alg != NULL && a != k->alg) {
		xc_err(c, json_object_get(entry, "algorithm"),
		       "%s.algorithm \"%s\" differs from the algorithm in the key file (%s)", where,
		       alg, tsig_alg_name(k->alg));
		ok = false;
	}
	return ok;
}

static void parse_key(struct xc *c, const json_t *entry, size_t i, bool allow_md5)
{
	static const char *const key_keys[] = {"name", "algorithm", "file", NULL};
	char where[48];
	snprintf(where, sizeof(where), "tsig.keys[%zu]", i);
	if (!xc_object(c, entry, where)) {
		c->key_failed = true;
		return;
	}
	xc_keys(c, entry, where, key_keys);
	const char *name = xc_string(c, entry, where, "name");
	const char *alg = xc_string(c, entry, where, "algorithm");
	struct tsig_key *k = &c->x->keys[c->x->key_count];
	if (!key_from_file(c, entry, where, name, alg, k) ||
	    !key_agrees(c, entry, where, name, alg, k)) {
		OPENSSL_cleanse(k, sizeof(*k));
		c->key_failed = true;
		return;
	}
	if (k->alg == TSIG_HMAC_MD5 && !allow_md5) {
		xc_err(c, entry,
		       "%s: hmac-md5 is weak (RFC 8945 §6); use hmac-sha256, or set "
		       "\"tsig\": {\"allow_hmac_md5\": true} for a peer that knows nothing else",
		       where);
		OPENSSL_cleanse(k, sizeof(*k));
		return;
	}
	for (size_t j = 0; j < c->x->key_count; j++) {
		if (dname_equal(c->x->keys[j].name, k->name)) {
			char n[DNAME_STR_MAX];
			dname_to_str(k->name, n, sizeof(n));
			xc_err(c, entry, "%s: key %s is defined twice (first as tsig.keys[%zu])",
			       where, n, j);
			OPENSSL_cleanse(k, sizeof(*k));
			return;
		}
	}
	c->x->key_count++;
}

static void parse_tsig(struct xc *c, const json_t *root)
{
	static const char *const tsig_keys[] = {"keys", "allow_hmac_md5", NULL};
	const json_t *t = json_object_get(root, "tsig");
	if (t == NULL || !xc_object(c, t, "tsig"))
		return;
	xc_keys(c, t, "tsig", tsig_keys);
	const json_t *md5 = json_object_get(t, "allow_hmac_md5");
	if (md5 != NULL && !json_is_boolean(md5))
		xc_err(c, md5, "tsig.allow_hmac_md5 must be true or false, not %s", json_kind(md5));
	c->x->ring.allow_md5 = json_is_true(md5);
	const json_t *keys = json_object_get(t, "keys");
	if (keys == NULL)
		return;
	if (!json_is_array(keys)) {
		xc_err(c, keys, "tsig.keys must be an array of {\"file\": ...}, not %s",
		       json_kind(keys));
		return;
	}
	c->x->keys = calloc(json_array_size(keys) + 1, sizeof(*c->x->keys));
	if (c->x->keys == NULL) {
		c->nomem = true;
		return;
	}
	size_t i;
	const json_t *e;
	json_array_foreach(keys, i, e) parse_key(c, e, i, c->x->ring.allow_md5);
}

int xfr_key_index(const struct xfr_conf *x, const char *name)
{
	const struct tsig_keyring ring = {x->keys, x->key_count, true};
	return tsig_keyring_index(&ring, name);
}

/* "no key X in tsig.keys", with the defined name X is a likely typo of. */
static void no_such_key(struct xc *c, const json_t *at, const char *where, const char *key)
{
	size_t n = c->x->key_count;
	char(*names)[DNAME_STR_MAX] = calloc(n ? n : 1, sizeof(*names));
	const char **list = calloc(n ? n : 1, sizeof(*list));
	const char *close = NULL;
	if (names != NULL && list != NULL) {
		for (size_t i = 0; i < n; i++) {
			dname_to_str(c->x->keys[i].name, names[i], sizeof(names[i]));
			size_t l = strlen(names[i]);
			if (l > 1 && names[i][l - 1] == '.')
				names[i][l - 1] = 0;
			list[i] = names[i];
		}
		char want[DNAME_STR_MAX];
		snprintf(want, sizeof(want), "%s", key);
		size_t wl = strlen(want);
		if (wl > 1 && want[wl - 1] == '.')
			want[wl - 1] = 0;
		close = json_closest(want, list, n);
	}
	if (close != NULL)
		xc_err(c, at, "%s.key: no key \"%s\" in tsig.keys (did you mean \"%s\"?)", where,
		       key, close);
	else
		xc_err(c, at, "%s.key: no key \"%s\" in tsig.keys", where, key);
	free(names);
	free(list);
}

/* "from": one network or a list of them. */
static void parse_from(struct xc *c, const json_t *v, const char *where, struct xfr_rule *r)
{
	size_t n = json_is_array(v) ? json_array_size(v) : 1;
	if (!json_is_array(v) && !json_is_string(v)) {
		xc_err(c, v, "%s.from must be a network or a list of networks, not %s", where,
		       json_kind(v));
		return;
	}
	if (n == 0) {
		xc_err(c, v, "%s.from is empty: the rule would allow nobody", where);
		return;
	}
	r->from = calloc(n, sizeof(*r->from));
	if (r->from == NULL) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
		if (!json_is_string(e) ||
		    net_parse(json_string_value(e), &r->from[r->from_count]) != SOV_OK) {
			xc_err(c, e,
			       "%s.from: %s%s%s is not an IP network (e.g. \"192.0.2.0/24\", "
			       "\"2001:db8::1\")",
			       where, json_is_string(e) ? "\"" : "",
			       json_is_string(e) ? json_string_value(e) : json_kind(e),
			       json_is_string(e) ? "\"" : "");
			continue;
		}
		r->from_count++;
	}
}

static void parse_rule(struct xc *c, const json_t *e, const char *where, struct xfr_rule *r)
{
	static const char *const rule_keys[] = {"from", "key", NULL};
	r->key = -1;
	if (!xc_object(c, e, where))
		return;
	xc_keys(c, e, where, rule_keys);
	const json_t *from = json_object_get(e, "from");
	if (from == NULL)
		xc_err(c, e, "%s needs \"from\": the networks the secondaries transfer from",
		       where);
	else
		parse_from(c, from, where, r);
	const char *key = xc_string(c, e, where, "key");
	if (key != NULL && (r->key = xfr_key_index(c->x, key)) < 0 && !c->key_failed)
		no_such_key(c, json_object_get(e, "key"), where, key);
}

/* One {"address": ..., "key": ...} of a list; where names it. */
static void parse_remote(struct xc *c, const json_t *e, const char *where, struct xfr_remote *r)
{
	static const char *const remote_keys[] = {"address", "key", NULL};
	r->key = -1;
	if (!xc_object(c, e, where))
		return;
	xc_keys(c, e, where, remote_keys);
	const json_t *a = json_object_get(e, "address");
	if (a == NULL)
		xc_err(c, e, "%s needs \"address\" (e.g. \"192.0.2.1\" or \"[2001:db8::1]:5300\")",
		       where);
	else if (!json_is_string(a) || addr_parse(json_string_value(a), 53, &r->addr) != SOV_OK)
		xc_err(c, a,
		       "%s.address: %s%s%s is not an IP address with an optional port "
		       "(e.g. \"192.0.2.1\", \"192.0.2.1:5300\", \"[2001:db8::1]:53\")",
		       where, json_is_string(a) ? "\"" : "",
		       json_is_string(a) ? json_string_value(a) : json_kind(a),
		       json_is_string(a) ? "\"" : "");
	const char *key = xc_string(c, e, where, "key");
	if (key != NULL && (r->key = xfr_key_index(c->x, key)) < 0 && !c->key_failed)
		no_such_key(c, json_object_get(e, "key"), where, key);
}

/* A non-empty array of remotes into *out, its length in *count. */
/* A list of remotes. For primaries (strict), one listed twice or our own
 * listen address is an error; NOTIFY targets are filtered instead
 * (notify_targets_build). */
static void parse_remotes(struct xc *c, const json_t *v, const char *where, struct xfr_remote **out,
			  size_t *count, bool strict)
{
	if (!json_is_array(v) || json_array_size(v) == 0) {
		xc_err(c, v,
		       "%s must be a non-empty array of {\"address\": ..., \"key\": ...}, not %s",
		       where, json_is_array(v) ? "an empty one" : json_kind(v));
		return;
	}
	*out = calloc(json_array_size(v), sizeof(**out));
	if (*out == NULL) {
		c->nomem = true;
		return;
	}
	size_t i;
	const json_t *e;
	json_array_foreach(v, i, e)
	{
		char rw[96];
		snprintf(rw, sizeof(rw), "%s[%zu]", where, i);
		struct xfr_remote *r = &(*out)[(*count)++];
		parse_remote(c, e, rw, r);
		if (!strict || r->addr.len == 0)
			continue;
		char a[ADDR_STR_MAX];
		addr_format((const struct sockaddr *)&r->addr.ss, a, sizeof(a));
		for (size_t k = 0; k + 1 < *count; k++)
			if ((*out)[k].addr.len == r->addr.len &&
			    memcmp(&(*out)[k].addr.ss, &r->addr.ss, r->addr.len) == 0)
				xc_err(c, e, "%s: %s is listed twice (also %s[%zu])", rw, a, where,
				       k);
		for (size_t k = 0; k < c->conf->listen_count; k++)
			if (c->conf->listen[k].len == r->addr.len &&
			    memcmp(&c->conf->listen[k].ss, &r->addr.ss, r->addr.len) == 0)
				xc_err(c, e, "%s: %s is our own listen address", rw, a);
	}
}

/* zones[zi].role's "primaries" and zones[zi].notify. */
static void parse_peers(struct xc *c, const json_t *zone, size_t zi)
{
	static const char *const notify_keys[] = {"ns", "also", NULL};
	struct xfr_zone *z = &c->x->zones[zi];
	bool secondary = c->conf->zones[zi].secondary;
	char where[64];
	const json_t *p = json_object_get(zone, "primaries");
	snprintf(where, sizeof(where), "zones[%zu].primaries", zi);
	if (p != NULL && !secondary)
		xc_err(c, p, "%s: only a zone with \"role\": \"secondary\" has primaries", where);
	else if (p != NULL)
		parse_remotes(c, p, where, &z->primaries, &z->primary_count, true);
	else if (secondary)
		xc_err(c, zone,
		       "zones[%zu] is a secondary without \"primaries\" (the servers it copies "
		       "the zone from: [{\"address\": \"192.0.2.1\", \"key\": \"transfer\"}])",
		       zi);
	/* A secondary's name servers are mostly its primary's other secondaries,
	 * which take NOTIFY only from the primary: NOTIFY them only when asked. */
	z->notify_ns = !secondary;
	const json_t *n = json_object_get(zone, "notify");
	snprintf(where, sizeof(where), "zones[%zu].notify", zi);
	if (n == NULL || !xc_object(c, n, where))
		return;
	xc_keys(c, n, where, notify_keys);
	const json_t *ns = json_object_get(n, "ns");
	if (ns != NULL && !json_is_boolean(ns))
		xc_err(c, ns, "%s.ns must be true or false, not %s", where, json_kind(ns));
	else if (ns != NULL)
		z->notify_ns = json_is_true(ns);
	const json_t *also = json_object_get(n, "also");
	if (also != NULL) {
		char aw[80];
		snprintf(aw, sizeof(aw), "%s.also", where);
		parse_remotes(c, also, aw, &z->notify, &z->notify_count, false);
	}
}

static void parse_zone(struct xc *c, const json_t *zone, size_t zi)
{
	static const char *const transfer_keys[] = {"allow", "journal_max_entries",
						    "journal_max_bytes", NULL};
	parse_peers(c, zone, zi);
	const json_t *u = json_object_get(zone, "update");
	if (u != NULL) {
		int n = update_policy_load(c->conf, u, zi, c->x, &c->x->zones[zi].update, c->diag);
		if (n < 0)
			c->nomem = true;
		else
			c->errors += (unsigned)n;
	}
	const json_t *t = json_object_get(zone, "transfer");
	char where[64];
	snprintf(where, sizeof(where), "zones[%zu].transfer", zi);
	if (t == NULL || !xc_object(c, t, where))
		return;
	xc_keys(c, t, where, transfer_keys);
	xc_uint(c, t, where, "journal_max_entries", 0, XFR_JOURNAL_MAX_ENTRIES_LIMIT,
		&c->x->zones[zi].journal_max_entries);
	xc_uint(c, t, where, "journal_max_bytes", 4096, XFR_JOURNAL_MAX_BYTES_LIMIT,
		&c->x->zones[zi].journal_max_bytes);
	const json_t *allow = json_object_get(t, "allow");
	if (allow == NULL)
		return;
	if (!json_is_array(allow)) {
		xc_err(c, allow,
		       "%s.allow must be an array of {\"from\": ..., \"key\": ...}, not %s", where,
		       json_kind(allow));
		return;
	}
	struct xfr_zone *z = &c->x->zones[zi];
	z->allow = calloc(json_array_size(allow) + 1, sizeof(*z->allow));
	if (z->allow == NULL) {
		c->nomem = true;
		return;
	}
	size_t i;
	const json_t *e;
	json_array_foreach(allow, i, e)
	{
		char rw[96];
		snprintf(rw, sizeof(rw), "%s.allow[%zu]", where, i);
		parse_rule(c, e, rw, &z->allow[z->allow_count++]);
	}
}

int xfr_conf_load(const config_t *conf, struct xfr_conf **out, diag_t *diag)
{
	struct xc c = {.conf = conf, .diag = diag};
	*out = NULL;
	c.x = calloc(1, sizeof(*c.x));
	if (c.x == NULL)
		return SOV_ENOMEM;
	c.x->max_concurrent = XFR_DEFAULT_MAX_CONCURRENT;
	c.x->max_time_s = XFR_DEFAULT_MAX_TIME_S;
	c.x->journal_max_entries = XFR_DEFAULT_JOURNAL_MAX_ENTRIES;
	c.x->journal_max_bytes = XFR_DEFAULT_JOURNAL_MAX_BYTES;
	c.x->zone_count = conf->zone_count;
	c.x->zones = calloc(conf->zone_count + 1, sizeof(*c.x->zones));
	if (c.x->zones == NULL) {
		free(c.x);
		return SOV_ENOMEM;
	}
	for (size_t i = 0; i < conf->zone_count; i++) {
		c.x->zones[i].journal_max_entries = XFR_DEFAULT_JOURNAL_MAX_ENTRIES;
		c.x->zones[i].journal_max_bytes = XFR_DEFAULT_JOURNAL_MAX_BYTES;
	}
	const json_t *root = conf->json;
	if (root != NULL) {
		parse_tsig(&c, root);
		const json_t *tr = json_object_get(root, "transfers");
		static const char *const transfers_keys[] = {"max_concurrent", "max_time_s",
							     "journal_max_entries",
							     "journal_max_bytes", NULL};
		if (tr != NULL && xc_object(&c, tr, "transfers")) {
			xc_keys(&c, tr, "transfers", transfers_keys);
			xc_uint(&c, tr, "transfers", "max_concurrent", 1, 1000,
				&c.x->max_concurrent);
			xc_uint(&c, tr, "transfers", "max_time_s", 10, 7 * 86400, &c.x->max_time_s);
			xc_uint(&c, tr, "transfers", "journal_max_entries", 0,
				XFR_JOURNAL_MAX_ENTRIES_LIMIT, &c.x->journal_max_entries);
			xc_uint(&c, tr, "transfers", "journal_max_bytes", 4096,
				XFR_JOURNAL_MAX_BYTES_LIMIT, &c.x->journal_max_bytes);
		}
		/* Every zone starts with the server-wide bounds; its own
		 * "transfer" may override them (parse_zone). */
		for (size_t i = 0; i < conf->zone_count; i++) {
			c.x->zones[i].journal_max_entries = c.x->journal_max_entries;
			c.x->zones[i].journal_max_bytes = c.x->journal_max_bytes;
		}
		const json_t *zones = json_object_get(root, "zones");
		for (size_t i = 0; i < conf->zone_count && i < json_array_size(zones); i++)
			parse_zone(&c, json_array_get(zones, i), i);
	}
	c.x->ring.keys = c.x->keys;
	c.x->ring.count = c.x->key_count;
	if (c.nomem || c.errors > 0) {
		xfr_conf_free(c.x);
		return c.nomem ? SOV_ENOMEM : SOV_ESEMANTIC;
	}
	*out = c.x;
	return SOV_OK;
}

void xfr_conf_free(struct xfr_conf *x)
{
	if (x == NULL)
		return;
	if (x->keys != NULL) {
		OPENSSL_cleanse(x->keys, x->key_count * sizeof(*x->keys));
		free(x->keys);
	}
	for (size_t i = 0; i < x->zone_count; i++) {
		for (size_t j = 0; j < x->zones[i].allow_count; j++)
			free(x->zones[i].allow[j].from);
		free(x->zones[i].allow);
		free(x->zones[i].primaries);
		free(x->zones[i].notify);
		update_policy_free(x->zones[i].update);
	}
	free(x->zones);
	free(x);
}

/* The client's address as (family, 16 bytes); a v4-mapped IPv6 address
 * counts as the IPv4 address it carries. */
static bool client_addr(const struct sockaddr *sa, int *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			*family = AF_INET;
			memcpy(addr, a->s6_addr + 12, 4);
		} else {
			*family = AF_INET6;
			memcpy(addr, a->s6_addr, 16);
		}
		return true;
	}
	return false;
}

bool xfr_allowed(const struct xfr_conf *x, size_t zone_idx, const struct sockaddr *client,
		 const struct tsig_key *key)
{
	int family;
	uint8_t addr[16];
	if (zone_idx >= x->zone_count || client == NULL || !client_addr(client, &family, addr))
		return false;
	const struct xfr_zone *z = &x->zones[zone_idx];
	for (size_t i = 0; i < z->allow_count; i++) {
		const struct xfr_rule *r = &z->allow[i];
		if (r->key >= 0 && key != &x->keys[r->key])
			continue;
		for (size_t j = 0; j < r->from_count; j++)
			if (net_contains(&r->from[j], family, addr))
				return true;
	}
	return false;
}
