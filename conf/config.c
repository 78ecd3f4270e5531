#include "conf/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/atomicfile.h"
#include "common/err.h"
#include "common/log.h"
#include "common/path.h"
#include "conf/json_keys.h"
#include "conf/json_kind.h"
#include "conf/jsonpos.h"

/* A config is a few KiB; a multi-megabyte one is a mistake (a zone file or a
 * log passed by accident), and refusing it early keeps the error readable. */
#define CONFIG_MAX_BYTES (16u * 1024 * 1024)

#define CONFIG_THREADS_MAX 256
#define CONFIG_EDNS_MIN 512  /* RFC 6891 §6.2.5: values below 512 are treated as 512 */
#define CONFIG_EDNS_MAX 4096 /* RFC 6891 §6.2.5 suggests 4096 as the upper starting point */
#define CONFIG_TCP_IDLE_MIN_MS 100
#define CONFIG_TCP_IDLE_MAX_MS 3600000 /* one hour: longer only pins file descriptors */
#define CONFIG_TCP_MAX_CONN_MAX 1000000

const char *const config_reserved_keys[] = {
    "datacenters", "services", "geo", "probes", "api", "state_dir", "tsig", "transfers", NULL,
};

static const char *const top_keys[] = {
    "listen",  "threads", "edns_payload", "minimal_responses", "tcp", "log", "zones",
    "cookies", "rrl",	  "user",	  "identity",	       NULL,
};
static const char *const tcp_keys[] = {"idle_timeout_ms", "max_connections", NULL};
static const char *const log_keys[] = {"level", "syslog", NULL};
static const char *const zone_keys[] = {"origin",    "file",   "role",	 "transfer",
					"primaries", "notify", "update", NULL};

/* One validation error, kept until the end so that all of them can be
 * reported in file order rather than in the order the checks ran. */
struct cfg_err {
	unsigned line, col;
	size_t seq;
	char *msg;
};

/* Validation state: where we are in the document, for error positions. */
struct cfg_ctx {
	const char *file;
	const char *text;
	size_t len;
	diag_t *diag;
	char ptr[JSONPOS_POINTER_MAX]; /* JSON Pointer of the value being checked */
	unsigned errors;
	struct cfg_err *errs;
	size_t nerrs, caperrs;
	const json_t *root; /* the document (for "state_dir" while reading zones) */
};

static void cfg_verror(struct cfg_ctx *cx, const char *pointer, bool at_key, const char *fmt,
		       va_list ap) __attribute__((format(printf, 4, 0)));
static void cfg_verror(struct cfg_ctx *cx, const char *pointer, bool at_key, const char *fmt,
		       va_list ap)
{
	char msg[768];
	struct jsonpos pos = {1, 1};
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (cx->text != NULL)
		(void)jsonpos_locate(cx->text, cx->len, pointer,
				     at_key ? JSONPOS_KEY : JSONPOS_VALUE, &pos);
	cx->errors++;
	if (cx->nerrs == cx->caperrs) {
		size_t ncap = cx->caperrs ? cx->caperrs * 2 : 16;
		struct cfg_err *n = realloc(cx->errs, ncap * sizeof(*n));
		if (n == NULL) {
			diag_add(cx->diag, cx->file, pos.line, pos.col, "%s", msg);
			return;
		}
		cx->errs = n;
		cx->caperrs = ncap;
	}
	char *copy = strdup(msg);
	if (copy == NULL) {
		diag_add(cx->diag, cx->file, pos.line, pos.col, "%s", msg);
		return;
	}
	cx->errs[cx->nerrs] = (struct cfg_err){pos.line, pos.col, cx->nerrs, copy};
	cx->nerrs++;
}

static int cfg_err_cmp(const void *a, const void *b)
{
	const struct cfg_err *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Moves the collected errors to the diag list, sorted by position. */
static void cfg_flush(struct cfg_ctx *cx)
{
	if (cx->nerrs > 1)
		qsort(cx->errs, cx->nerrs, sizeof(*cx->errs), cfg_err_cmp);
	for (size_t i = 0; i < cx->nerrs; i++) {
		diag_add(cx->diag, cx->file, cx->errs[i].line, cx->errs[i].col, "%s",
			 cx->errs[i].msg);
		free(cx->errs[i].msg);
	}
	free(cx->errs);
	cx->errs = NULL;
	cx->nerrs = cx->caperrs = 0;
}

/* Error at the current value (cx->ptr). */
static void cfg_error(struct cfg_ctx *cx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void cfg_error(struct cfg_ctx *cx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfg_verror(cx, cx->ptr, false, fmt, ap);
	va_end(ap);
}

/* Error at the member name of the current value (for unknown keys). */
static void cfg_error_key(struct cfg_ctx *cx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void cfg_error_key(struct cfg_ctx *cx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfg_verror(cx, cx->ptr, true, fmt, ap);
	va_end(ap);
}

/* Line of the value at pointer (for "first at line N" hints). */
static unsigned cfg_line_of(const struct cfg_ctx *cx, const char *pointer)
{
	struct jsonpos pos = {1, 1};
	if (cx->text != NULL)
		(void)jsonpos_locate(cx->text, cx->len, pointer, JSONPOS_VALUE, &pos);
	return pos.line;
}

/* Pointer pushes never overflow in practice (JSONPOS_POINTER_MAX is far
 * deeper than the schema); if one did, errors would point at the parent. */
static void cfg_push_key(struct cfg_ctx *cx, const char *key)
{
	(void)jsonpos_push_key(cx->ptr, sizeof(cx->ptr), key);
}

static void cfg_push_index(struct cfg_ctx *cx, size_t i)
{
	(void)jsonpos_push_index(cx->ptr, sizeof(cx->ptr), i);
}

/* Reports every member of obj whose name is not in known (nor in extra). */
static void cfg_check_keys(struct cfg_ctx *cx, json_t *obj, const char *const *known,
			   const char *const *extra)
{
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val)
	{
		(void)val;
		if (json_key_known(key, known) || json_key_known(key, extra))
			continue;
		char msg[512];
		cfg_push_key(cx, key);
		cfg_error_key(cx, "%s", json_unknown_key(key, known, msg, sizeof(msg)));
		jsonpos_pop(cx->ptr);
	}
}

/* Integer in [min, max]; the caller has pushed the key. */
static bool cfg_int(struct cfg_ctx *cx, const char *name, json_t *v, long long min, long long max,
		    long long *out)
{
	if (!json_is_integer(v)) {
		cfg_error(cx, "\"%s\" must be an integer from %lld to %lld, not %s", name, min, max,
			  json_kind(v));
		return false;
	}
	long long n = json_integer_value(v);
	if (n < min || n > max) {
		cfg_error(cx, "\"%s\" is %lld, out of range: must be from %lld to %lld", name, n,
			  min, max);
		return false;
	}
	*out = n;
	return true;
}

static bool cfg_object(struct cfg_ctx *cx, const char *name, json_t *v)
{
	if (json_is_object(v))
		return true;
	cfg_error(cx, "\"%s\" must be an object, not %s", name, json_kind(v));
	return false;
}

static char *cfg_strdup(struct cfg_ctx *cx, const char *s)
{
	char *d = strdup(s);
	if (d == NULL)
		cfg_error(cx, "out of memory");
	return d;
}

static void cfg_listen(struct cfg_ctx *cx, config_t *c, json_t *v)
{
	if (!json_is_array(v)) {
		cfg_error(cx,
			  "\"listen\" must be an array of addresses such as "
			  "[\"127.0.0.1:53\", \"[::1]:53\"], not %s",
			  json_kind(v));
		return;
	}
	size_t n = json_array_size(v);
	if (n == 0) {
		cfg_error(cx, "\"listen\" is empty: at least one listen address is required");
		return;
	}
	c->listen = calloc(n, sizeof(*c->listen));
	if (c->listen == NULL) {
		cfg_error(cx, "out of memory");
		return;
	}
	size_t i;
	json_t *item;
	json_array_foreach(v, i, item)
	{
		cfg_push_index(cx, i);
		if (!json_is_string(item)) {
			cfg_error(
			    cx,
			    "a listen address must be a string such as \"127.0.0.1:53\", not %s",
			    json_kind(item));
		} else if (addr_parse(json_string_value(item), CONFIG_DEFAULT_PORT,
				      &c->listen[c->listen_count]) != SOV_OK) {
			cfg_error(cx,
				  "invalid listen address \"%s\": expected IPv4:PORT, [IPv6]:PORT, "
				  "or an address alone for port %d",
				  json_string_value(item), CONFIG_DEFAULT_PORT);
		} else {
			sov_sockaddr_t *a = &c->listen[c->listen_count];
			for (size_t k = 0; k < c->listen_count; k++) {
				if (c->listen[k].len == a->len &&
				    memcmp(&c->listen[k].ss, &a->ss, a->len) == 0) {
					char buf[ADDR_STR_MAX];
					char first[JSONPOS_POINTER_MAX] = "";
					(void)jsonpos_push_key(first, sizeof(first), "listen");
					(void)jsonpos_push_index(first, sizeof(first), k);
					cfg_error(
					    cx,
					    "listen address %s is listed twice (first on line %u)",
					    addr_format((struct sockaddr *)&a->ss, buf,
							sizeof(buf)),
					    cfg_line_of(cx, first));
					a = NULL;
					break;
				}
			}
			if (a != NULL)
				c->listen_count++;
		}
		jsonpos_pop(cx->ptr);
	}
}

static void cfg_tcp(struct cfg_ctx *cx, config_t *c, json_t *v)
{
	if (!cfg_object(cx, "tcp", v))
		return;
	cfg_check_keys(cx, v, tcp_keys, NULL);
	json_t *m;
	long long n;
	if ((m = json_object_get(v, "idle_timeout_ms")) != NULL) {
		cfg_push_key(cx, "idle_timeout_ms");
		if (cfg_int(cx, "idle_timeout_ms", m, CONFIG_TCP_IDLE_MIN_MS,
			    CONFIG_TCP_IDLE_MAX_MS, &n))
			c->tcp_idle_timeout_ms = (uint32_t)n;
		jsonpos_pop(cx->ptr);
	}
	if ((m = json_object_get(v, "max_connections")) != NULL) {
		cfg_push_key(cx, "max_connections");
		if (cfg_int(cx, "max_connections", m, 1, CONFIG_TCP_MAX_CONN_MAX, &n))
			c->tcp_max_connections = (uint32_t)n;
		jsonpos_pop(cx->ptr);
	}
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "cookies": {"secret": "<32 hex digits>"} (RFC 7873, RFC 9018). */
static void cfg_cookies(struct cfg_ctx *cx, config_t *c, json_t *v)
{
	static const char *const keys[] = {"secret", NULL};
	if (!cfg_object(cx, "cookies", v))
		return;
	cfg_check_keys(cx, v, keys, NULL);
	json_t *m = json_object_get(v, "secret");
	if (m == NULL)
		return;
	cfg_push_key(cx, "secret");
	const char *t = json_is_string(m) ? json_string_value(m) : NULL;
	bool ok = t != NULL && strlen(t) == 32;
	for (size_t i = 0; ok && i < 16; i++) {
		int hi = hexval(t[2 * i]), lo = hexval(t[2 * i + 1]);
		ok = hi >= 0 && lo >= 0;
		if (ok)
			c->cookie_secret[i] = (uint8_t)(hi << 4 | lo);
	}
	if (ok)
		c->cookie_secret_set = true;
	else
		cfg_error(cx, "\"secret\" must be a string of 32 hexadecimal digits (128 bits), "
			      "the same on every server of the zone");
	jsonpos_pop(cx->ptr);
}

/* One "identity" text: a string of 1..CONFIG_IDENTITY_MAX bytes, copied
 * into out (CONFIG_IDENTITY_MAX + 1 bytes). */
static void cfg_identity_text(struct cfg_ctx *cx, const char *key, json_t *m, char *out)
{
	cfg_push_key(cx, key);
	size_t n = json_is_string(m) ? json_string_length(m) : 0;
	const char *t = json_is_string(m) ? json_string_value(m) : "";
	if (!json_is_string(m))
		cfg_error(cx, "\"%s\" must be a string, not %s", key, json_kind(m));
	else if (n == 0 || n > CONFIG_IDENTITY_MAX || strlen(t) != n)
		cfg_error(cx, "\"%s\" must be 1 to %d bytes long (no NUL), not %zu", key,
			  CONFIG_IDENTITY_MAX, n);
	else
		memcpy(out, t, n + 1);
	jsonpos_pop(cx->ptr);
}

/* "identity": {"name", "version", "nsid", "chaos"}: how a client learns
 * which server answered (RFC 5001 NSID, the CH TXT names). */
static void cfg_identity(struct cfg_ctx *cx, config_t *c, json_t *v)
{
	static const char *const keys[] = {"name", "version", "nsid", "chaos", NULL};
	static const struct {
		const char *name;
		uint8_t bit;
	} names[] = {{"id.server", CONFIG_CHAOS_ID_SERVER},
		     {"hostname.bind", CONFIG_CHAOS_HOSTNAME_BIND},
		     {"version.bind", CONFIG_CHAOS_VERSION_BIND}};
	if (!cfg_object(cx, "identity", v))
		return;
	cfg_check_keys(cx, v, keys, NULL);
	json_t *m;
	if ((m = json_object_get(v, "name")) != NULL)
		cfg_identity_text(cx, "name", m, c->identity);
	if ((m = json_object_get(v, "version")) != NULL)
		cfg_identity_text(cx, "version", m, c->version);
	if ((m = json_object_get(v, "nsid")) != NULL) {
		cfg_push_key(cx, "nsid");
		if (!json_is_boolean(m))
			cfg_error(cx, "\"nsid\" must be true or false, not %s", json_kind(m));
		else
			c->nsid = json_is_true(m);
		jsonpos_pop(cx->ptr);
	}
	if ((m = json_object_get(v, "chaos")) != NULL) {
		cfg_push_key(cx, "chaos");
		if (!json_is_array(m)) {
			cfg_error(cx,
				  "\"chaos\" must be a list of names (\"id.server\", "
				  "\"hostname.bind\", \"version.bind\"), not %s",
				  json_kind(m));
		} else {
			c->chaos = 0;
			for (size_t i = 0; i < json_array_size(m); i++) {
				json_t *e = json_array_get(m, i);
				const char *t = json_is_string(e) ? json_string_value(e) : "";
				size_t k = 0;
				while (k < 3 && strcmp(t, names[k].name) != 0)
					k++;
				cfg_push_index(cx, i);
				if (k == 3)
					cfg_error(cx, "\"chaos\" names are \"id.server\", "
						      "\"hostname.bind\" and \"version.bind\"");
				else
					c->chaos |= names[k].bit;
				jsonpos_pop(cx->ptr);
			}
		}
		jsonpos_pop(cx->ptr);
	}
}

/* "rrl": response rate limiting on UDP (as in BIND, Knot, NSD). */
static void cfg_rrl(struct cfg_ctx *cx, config_t *c, json_t *v)
{
	static const char *const keys[] = {"responses_per_second", "slip", "ipv4_prefix",
					   "ipv6_prefix", NULL};
	static const struct {
		const char *key;
		long long min, max;
	} ints[] = {{"responses_per_second", 0, 1000000},
		    {"slip", 0, 10},
		    {"ipv4_prefix", 8, 32},
		    {"ipv6_prefix", 16, 128}};
	if (!cfg_object(cx, "rrl", v))
		return;
	cfg_check_keys(cx, v, keys, NULL);
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		json_t *m = json_object_get(v, ints[i].key);
		long long n;
		if (m == NULL)
			continue;
		cfg_push_key(cx, ints[i].key);
		if (cfg_int(cx, ints[i].key, m, ints[i].min, ints[i].max, &n)) {
			if (i == 0)
				c->rrl_rate = (uint32_t)n;
			else if (i == 1)
				c->rrl_slip = (uint32_t)n;
			else if (i == 2)
				c->rrl_ipv4_prefix = (uint8_t)n;
			else
				c->rrl_ipv6_prefix = (uint8_t)n;
		}
		jsonpos_pop(cx->ptr);
	}
}

static void cfg_log(struct cfg_ctx *cx, config_t *c, json_t *v)
{
	if (!cfg_object(cx, "log", v))
		return;
	cfg_check_keys(cx, v, log_keys, NULL);
	json_t *m;
	if ((m = json_object_get(v, "level")) != NULL) {
		cfg_push_key(cx, "level");
		int lvl = json_is_string(m) ? log_level_parse(json_string_value(m)) : -1;
		if (!json_is_string(m))
			cfg_error(
			    cx,
			    "\"level\" must be a string (error, warning, info or debug), not %s",
			    json_kind(m));
		else if (lvl < 0)
			cfg_error(
			    cx, "unknown log level \"%s\": expected error, warning, info or debug",
			    json_string_value(m));
		else
			c->log_level = lvl;
		jsonpos_pop(cx->ptr);
	}
	if ((m = json_object_get(v, "syslog")) != NULL) {
		cfg_push_key(cx, "syslog");
		if (!json_is_boolean(m))
			cfg_error(cx, "\"syslog\" must be true or false, not %s", json_kind(m));
		else
			c->log_syslog = json_is_true(m);
		jsonpos_pop(cx->ptr);
	}
}

/*
 * Checks the shape of a zone origin in presentation form (RFC 1035 §5.1):
 * no empty label, labels of at most 63 octets, at most 255 octets in wire
 * form, \X and \DDD escapes counted as one octet. zone_load() parses it for
 * real; checking here lets the error point at the config line.
 * Returns NULL if fine, else a reason.
 */
static const char *origin_problem(const char *s)
{
	size_t wire = 1; /* the root label */
	size_t label = 0;
	if (*s == '\0')
		return "it is empty";
	if (strcmp(s, ".") == 0)
		return NULL;
	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch <= ' ' || ch == 0x7F)
			return "it contains a space or a control character";
		if (ch == '.') {
			if (label == 0)
				return "it has an empty label (\"..\" or a leading dot)";
			wire += label + 1;
			label = 0;
			continue;
		}
		if (ch == '\\') {
			if (p[1] >= '0' && p[1] <= '9') {
				if (!(p[2] >= '0' && p[2] <= '9' && p[3] >= '0' && p[3] <= '9'))
					return "it has a \\DDD escape without three digits";
				p += 3;
			} else if (p[1] != '\0') {
				p += 1;
			} else {
				return "it ends with a lone backslash";
			}
		}
		if (++label > 63)
			return "a label is longer than 63 octets";
	}
	if (label > 0)
		wire += label + 1;
	if (wire > 255)
		return "it is longer than 255 octets";
	return NULL;
}

/* Lowercased, final dot removed: "Example.TEST." and "example.test" are one zone. */
static void origin_key(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	for (; *s && n + 1 < cap; s++)
		out[n++] = (*s >= 'A' && *s <= 'Z') ? (char)(*s - 'A' + 'a') : *s;
	if (n > 1 && out[n - 1] == '.' && (n < 2 || out[n - 2] != '\\'))
		n--;
	out[n] = '\0';
}

/* Where a secondary zone without "file" is kept: <state_dir>/zones/<origin>.zone
 * (origin lowercased, without the final dot). NULL (reported) without a
 * usable "state_dir". */
static char *secondary_default_file(struct cfg_ctx *cx, const json_t *state_dir, const char *origin)
{
	if (!json_is_string(state_dir) || json_string_length(state_dir) == 0) {
		cfg_error(cx, "a secondary or catalog zone needs \"file\" (where to keep it) "
			      "or a top-level \"state_dir\"");
		return NULL;
	}
	char name[1024];
	size_t n = 0;
	for (const char *p = origin; *p != '\0' && n + 1 < sizeof(name); p++)
		name[n++] = (*p == '/') ? '_' : (char)tolower((unsigned char)*p);
	while (n > 0 && name[n - 1] == '.')
		n--;
	name[n] = '\0';
	char rel[1200];
	snprintf(rel, sizeof(rel), "%s/zones/%s.zone", json_string_value(state_dir),
		 n > 0 ? name : "root");
	char *path = path_beside(cx->file, rel);
	if (path == NULL)
		cfg_error(cx, "out of memory");
	return path;
}

static void cfg_zone(struct cfg_ctx *cx, config_t *c, json_t *all, size_t idx)
{
	json_t *z = json_array_get(all, idx);
	if (!json_is_object(z)) {
		cfg_error(cx, "a zone must be an object {\"origin\": ..., \"file\": ...}, not %s",
			  json_kind(z));
		return;
	}
	cfg_check_keys(cx, z, zone_keys, NULL);
	json_t *origin = json_object_get(z, "origin");
	json_t *file = json_object_get(z, "file");
	bool ok = true;

	if (origin == NULL) {
		cfg_error(cx,
			  "zones[%zu] has no \"origin\" (the zone's name, e.g. \"example.com\")",
			  idx);
		ok = false;
	} else {
		cfg_push_key(cx, "origin");
		const char *why;
		if (!json_is_string(origin)) {
			cfg_error(cx, "\"origin\" must be a string such as \"example.com\", not %s",
				  json_kind(origin));
			ok = false;
		} else if ((why = origin_problem(json_string_value(origin))) != NULL) {
			cfg_error(cx, "invalid zone origin \"%s\": %s", json_string_value(origin),
				  why);
			ok = false;
		} else {
			char key[1024], other[1024];
			origin_key(json_string_value(origin), key, sizeof(key));
			for (size_t k = 0; k < idx; k++) {
				json_t *prev = json_object_get(json_array_get(all, k), "origin");
				if (!json_is_string(prev))
					continue;
				origin_key(json_string_value(prev), other, sizeof(other));
				if (strcmp(key, other) == 0) {
					char first[JSONPOS_POINTER_MAX] = "";
					(void)jsonpos_push_key(first, sizeof(first), "zones");
					(void)jsonpos_push_index(first, sizeof(first), k);
					(void)jsonpos_push_key(first, sizeof(first), "origin");
					cfg_error(
					    cx, "zone \"%s\" is listed twice (first on line %u)",
					    json_string_value(origin), cfg_line_of(cx, first));
					ok = false;
					break;
				}
			}
		}
		jsonpos_pop(cx->ptr);
	}

	bool secondary = false, catalog = false;
	json_t *role = json_object_get(z, "role");
	if (role != NULL) {
		cfg_push_key(cx, "role");
		if (json_is_string(role) && strcmp(json_string_value(role), "secondary") == 0)
			secondary = true;
		else if (json_is_string(role) && strcmp(json_string_value(role), "catalog") == 0)
			catalog = true;
		else if (!json_is_string(role) || strcmp(json_string_value(role), "primary") != 0) {
			cfg_error(cx,
				  "\"role\" must be \"primary\" (served from its file, the "
				  "default), \"secondary\" (copied from its primaries) or "
				  "\"catalog\" (written by sovdns: the list of the other zones, "
				  "RFC 9432)");
			ok = false;
		}
		jsonpos_pop(cx->ptr);
	}

	char *resolved = NULL;
	if (file == NULL && (secondary || catalog)) {
		resolved =
		    secondary_default_file(cx, json_object_get(cx->root, "state_dir"),
					   json_is_string(origin) ? json_string_value(origin) : "");
		if (resolved == NULL)
			ok = false;
	} else if (file == NULL) {
		cfg_error(cx, "zones[%zu] (%s) has no \"file\" (the path of its zone file)", idx,
			  json_is_string(origin) ? json_string_value(origin) : "no origin");
		ok = false;
	} else {
		cfg_push_key(cx, "file");
		if (!json_is_string(file)) {
			cfg_error(cx, "\"file\" must be a string (a path), not %s",
				  json_kind(file));
			ok = false;
		} else if (json_string_value(file)[0] == '\0') {
			cfg_error(cx, "\"file\" is empty: expected the path of the zone file");
			ok = false;
		} else if ((resolved = path_beside(cx->file, json_string_value(file))) == NULL) {
			cfg_error(cx, "out of memory");
			ok = false;
		} else if (!secondary && !catalog && access(resolved, R_OK) != 0) {
			cfg_error(cx, "cannot read zone file \"%s\": %s", resolved,
				  strerror(errno));
			ok = false;
		}
		jsonpos_pop(cx->ptr);
	}

	/* Two zones on one file: a secondary or catalog would overwrite the
	 * other zone's file (and a primary's would be served twice). */
	for (size_t k = 0; ok && resolved != NULL && k < c->zone_count; k++) {
		if (strcmp(c->zones[k].file, resolved) != 0)
			continue;
		cfg_push_key(cx, file != NULL ? "file" : "role");
		cfg_error(cx,
			  "\"%s\" is already the file of zone \"%s\": each zone needs a file of "
			  "its own",
			  resolved, c->zones[k].origin);
		jsonpos_pop(cx->ptr);
		ok = false;
	}
	for (size_t k = 0; ok && catalog && k < c->zone_count; k++) {
		if (!c->zones[k].catalog)
			continue;
		cfg_push_key(cx, "role");
		cfg_error(cx,
			  "zone \"%s\" is already the catalog (it lists every other zone): one "
			  "catalog zone is enough",
			  c->zones[k].origin);
		jsonpos_pop(cx->ptr);
		ok = false;
	}

	if (ok) {
		struct zone_conf *zc = &c->zones[c->zone_count];
		zc->origin = cfg_strdup(cx, json_string_value(origin));
		zc->file = resolved;
		zc->secondary = secondary;
		zc->catalog = catalog;
		resolved = NULL;
		if (zc->origin != NULL)
			c->zone_count++;
		else
			free(zc->file);
	}
	free(resolved);
}

static void cfg_zones(struct cfg_ctx *cx, config_t *c, json_t *v)
{
	if (!json_is_array(v)) {
		cfg_error(cx,
			  "\"zones\" must be an array of {\"origin\": ..., \"file\": ...}, not %s",
			  json_kind(v));
		return;
	}
	size_t n = json_array_size(v);
	if (n == 0) {
		cfg_error(cx, "\"zones\" is empty: at least one zone is required");
		return;
	}
	c->zones = calloc(n, sizeof(*c->zones));
	if (c->zones == NULL) {
		cfg_error(cx, "out of memory");
		return;
	}
	size_t i;
	json_t *z;
	json_array_foreach(v, i, z)
	{
		cfg_push_index(cx, i);
		(void)z;
		cfg_zone(cx, c, v, i);
		jsonpos_pop(cx->ptr);
	}
}

static void cfg_root(struct cfg_ctx *cx, config_t *c, json_t *root)
{
	json_t *v;
	long long n;

	cfg_check_keys(cx, root, top_keys, config_reserved_keys);

	if ((v = json_object_get(root, "listen")) != NULL) {
		cfg_push_key(cx, "listen");
		cfg_listen(cx, c, v);
		jsonpos_pop(cx->ptr);
	} else {
		cfg_error(cx, "missing \"listen\": at least one listen address is required, "
			      "e.g. \"listen\": [\"127.0.0.1:53\"]");
	}
	if ((v = json_object_get(root, "threads")) != NULL) {
		cfg_push_key(cx, "threads");
		if (cfg_int(cx, "threads", v, 0, CONFIG_THREADS_MAX, &n))
			c->threads = (unsigned)n;
		jsonpos_pop(cx->ptr);
	}
	if ((v = json_object_get(root, "edns_payload")) != NULL) {
		cfg_push_key(cx, "edns_payload");
		if (cfg_int(cx, "edns_payload", v, CONFIG_EDNS_MIN, CONFIG_EDNS_MAX, &n))
			c->edns_payload = (uint16_t)n;
		jsonpos_pop(cx->ptr);
	}
	if ((v = json_object_get(root, "minimal_responses")) != NULL) {
		cfg_push_key(cx, "minimal_responses");
		if (!json_is_boolean(v))
			cfg_error(cx, "\"minimal_responses\" must be true or false, not %s",
				  json_kind(v));
		else
			c->minimal_responses = json_is_true(v);
		jsonpos_pop(cx->ptr);
	}
	if ((v = json_object_get(root, "tcp")) != NULL) {
		cfg_push_key(cx, "tcp");
		cfg_tcp(cx, c, v);
		jsonpos_pop(cx->ptr);
	}
	if ((v = json_object_get(root, "log")) != NULL) {
		cfg_push_key(cx, "log");
		cfg_log(cx, c, v);
		jsonpos_pop(cx->ptr);
	}
	if ((v = json_object_get(root, "user")) != NULL) {
		cfg_push_key(cx, "user");
		if (!json_is_string(v) || json_string_length(v) == 0)
			cfg_error(cx,
				  "\"user\" must be the name of a system account, e.g. \"sovdns\"");
		else if (getpwnam(json_string_value(v)) == NULL)
			cfg_error(cx, "\"user\": no account named \"%s\" on this system",
				  json_string_value(v));
		else
			c->user = cfg_strdup(cx, json_string_value(v));
		jsonpos_pop(cx->ptr);
	}
	if ((v = json_object_get(root, "cookies")) != NULL) {
		cfg_push_key(cx, "cookies");
		cfg_cookies(cx, c, v);
		jsonpos_pop(cx->ptr);
	}
	if ((v = json_object_get(root, "identity")) != NULL) {
		cfg_push_key(cx, "identity");
		cfg_identity(cx, c, v);
		jsonpos_pop(cx->ptr);
	}
	if ((v = json_object_get(root, "rrl")) != NULL) {
		cfg_push_key(cx, "rrl");
		cfg_rrl(cx, c, v);
		jsonpos_pop(cx->ptr);
	}
	if ((v = json_object_get(root, "zones")) != NULL) {
		cfg_push_key(cx, "zones");
		cfg_zones(cx, c, v);
		jsonpos_pop(cx->ptr);
	} else {
		cfg_error(
		    cx,
		    "missing \"zones\": at least one zone is required, e.g. "
		    "\"zones\": [{\"origin\": \"example.com\", \"file\": \"example.com.zone\"}]");
	}
}

/* Reads the whole file; NUL-terminates it. Problems go to diag. */
static int read_file(const char *path, char **out, size_t *out_len, diag_t *diag)
{
	int ret = atomicfile_read(path, CONFIG_MAX_BYTES, out, out_len);
	switch (ret) {
	case SOV_OK:
		break;
	case SOV_EINVAL:
		diag_add(diag, path, 0, 0, "configuration file is not a regular file");
		ret = SOV_EIO;
		break;
	case SOV_ESPACE:
		diag_add(diag, path, 0, 0, "configuration file is larger than the %u bytes allowed",
			 CONFIG_MAX_BYTES);
		ret = SOV_EIO;
		break;
	case SOV_ENOMEM:
		diag_add(diag, path, 0, 0, "out of memory reading the configuration file");
		break;
	default:
		diag_add(diag, path, 0, 0, "cannot open configuration file: %s", strerror(errno));
		ret = SOV_EIO;
		break;
	}
	return ret;
}

config_t *config_new_defaults(void)
{
	config_t *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->threads = 0;
	c->edns_payload = CONFIG_DEFAULT_EDNS_PAYLOAD;
	c->minimal_responses = false;
	c->rrl_slip = CONFIG_DEFAULT_RRL_SLIP;
	c->rrl_ipv4_prefix = CONFIG_DEFAULT_RRL_V4_PREFIX;
	c->rrl_ipv6_prefix = CONFIG_DEFAULT_RRL_V6_PREFIX;
	c->tcp_idle_timeout_ms = CONFIG_DEFAULT_TCP_IDLE_MS;
	c->tcp_max_connections = CONFIG_DEFAULT_TCP_MAX_CONN;
	c->log_level = LOG_LVL_INFO;
	c->log_syslog = false;
	/* Identity: the host name, as NSD, Knot and BIND default to (an
	 * operator who keeps it private sets "name" or turns the answers off). */
	if (gethostname(c->identity, sizeof(c->identity) - 1) != 0 || c->identity[0] == 0)
		snprintf(c->identity, sizeof(c->identity), "sovdns");
	c->identity[sizeof(c->identity) - 1] = 0;
	snprintf(c->version, sizeof(c->version), "sovdns %s", SOVDNS_VERSION);
	c->nsid = true;
	c->chaos = CONFIG_CHAOS_ID_SERVER | CONFIG_CHAOS_HOSTNAME_BIND | CONFIG_CHAOS_VERSION_BIND;
	return c;
}

int config_load(const char *path, config_t **out, diag_t *diag)
{
	int ret;
	config_t *c = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	struct cfg_ctx cx = {.file = path, .diag = diag};

	*out = NULL;
	c = config_new_defaults();
	if (c == NULL || (c->path = strdup(path)) == NULL) {
		diag_add(diag, path, 0, 0, "out of memory");
		ret = SOV_ENOMEM;
		goto finish;
	}
	ret = read_file(path, &c->text, &c->text_len, diag);
	if (ret != SOV_OK)
		goto finish;
	cx.text = c->text;
	cx.len = c->text_len;

	/* Duplicate keys are rejected: with two "threads" one of them would be
	 * silently ignored, which is never what the operator meant. */
	root = json_loadb(c->text, c->text_len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		diag_add(diag, path, jerr.line > 0 ? (unsigned)jerr.line : 0,
			 jerr.column > 0 ? (unsigned)jerr.column : 0, "invalid JSON: %s",
			 jerr.text);
		ret = SOV_EPARSE;
		goto finish;
	}
	if (!json_is_object(root)) {
		cfg_error(&cx, "the configuration must be a JSON object {...}, not %s",
			  json_kind(root));
		ret = SOV_ESEMANTIC;
		goto finish;
	}

	cx.root = root;
	cfg_root(&cx, c, root);
	if (cx.errors > 0) {
		ret = SOV_ESEMANTIC;
		goto finish;
	}
	c->json = root;
	root = NULL;
	if (c->text != NULL)
		jsonpos_doc_register(c->json, c->text, c->text_len);
	*out = c;
	c = NULL;
	ret = SOV_OK;

finish:
	cfg_flush(&cx);
	json_decref(root);
	config_free(c);
	return ret;
}

int config_add_zone(config_t *c, const char *origin, const char *file)
{
	struct zone_conf *n = realloc(c->zones, (c->zone_count + 1) * sizeof(*n));
	if (n == NULL)
		return SOV_ENOMEM;
	c->zones = n;
	char *o = strdup(origin);
	char *f = strdup(file);
	if (o == NULL || f == NULL) {
		free(o);
		free(f);
		return SOV_ENOMEM;
	}
	/* Every field set: realloc'd memory is not zeroed (a stale "secondary"
	 * flag was read by UBSan). */
	c->zones[c->zone_count] =
	    (struct zone_conf){.origin = o, .file = f, .secondary = false, .catalog = false};
	c->zone_count++;
	return SOV_OK;
}

int config_add_listen(config_t *c, const char *text)
{
	sov_sockaddr_t a;
	int ret = addr_parse(text, CONFIG_DEFAULT_PORT, &a);
	if (ret != SOV_OK)
		return ret;
	sov_sockaddr_t *n = realloc(c->listen, (c->listen_count + 1) * sizeof(*n));
	if (n == NULL)
		return SOV_ENOMEM;
	c->listen = n;
	c->listen[c->listen_count++] = a;
	return SOV_OK;
}

void config_locate(const config_t *c, const void *value, unsigned *line, unsigned *col)
{
	char ptr[JSONPOS_POINTER_MAX] = "";
	struct jsonpos pos = {0, 0};
	*line = 0;
	*col = 0;
	if (c == NULL || c->json == NULL || c->text == NULL || value == NULL)
		return;
	if (!jsonpos_value_pointer(c->json, value, ptr, sizeof(ptr)))
		return;
	if (jsonpos_locate(c->text, c->text_len, ptr, JSONPOS_VALUE, &pos) == SOV_OK) {
		*line = pos.line;
		*col = pos.col;
	}
}

void config_free(config_t *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->zone_count; i++) {
		free(c->zones[i].origin);
		free(c->zones[i].file);
	}
	free(c->zones);
	free(c->listen);
	free(c->user);
	if (c->json != NULL)
		jsonpos_doc_unregister(c->json);
	json_decref((json_t *)c->json);
	free(c->text);
	free(c->path);
	free(c);
}
