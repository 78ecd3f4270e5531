/* conf.c — the "probes" section of the configuration → probe_config_t.
 *
 * Every problem is reported (not only the first) so that --check-config
 * shows them all; each message names the key path because jansson keeps no
 * positions for values.
 */
#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/err.h"
#include "common/path.h"
#include "conf/json_keys.h"
#include "conf/jsonpos.h"
#include "probe/probe.h"

/* Which probe types a check key applies to. */
#define T_TCP (1u << PROBE_TCP)
#define T_HTTP (1u << PROBE_HTTP)
#define T_HTTPS (1u << PROBE_HTTPS)
#define T_DNS (1u << PROBE_DNS)
#define T_ALL (T_TCP | T_HTTP | T_HTTPS | T_DNS)
#define T_WEB (T_HTTP | T_HTTPS)

struct key_rule {
	const char *key;
	unsigned types;
};

static const struct key_rule check_keys[] = {
    {"name", T_ALL},
    {"type", T_ALL},
    {"datacenters", T_ALL},
    {"service", T_ALL},
    {"targets", T_ALL},
    {"port", T_ALL},
    {"interval_ms", T_ALL},
    {"timeout_ms", T_ALL},
    {"jitter_ms", T_ALL},
    {"rise", T_ALL},
    {"fall", T_ALL},
    {"url", T_WEB},
    {"host", T_WEB},
    {"path", T_WEB},
    {"expect_status", T_WEB},
    {"body_contains", T_WEB},
    {"ca_file", T_HTTPS},
    {"verify", T_HTTPS},
    {"cert_warn_days", T_HTTPS},
    {"qname", T_DNS},
    {"qtype", T_DNS},
    {"expect_rcode", T_DNS},
    {"expect_address", T_DNS},
};

static const char *const timing_keys[] = {"interval_ms", "timeout_ms", "jitter_ms",
					  "rise",	 "fall",       NULL};

static const struct {
	const char *name;
	uint8_t code;
} rcodes[] = {
    /* RFC 1035 §4.1.1 and RFC 2136 §2.2 */
    {"NOERROR", 0}, {"FORMERR", 1}, {"SERVFAIL", 2}, {"NXDOMAIN", 3},
    {"NOTIMP", 4},  {"REFUSED", 5}, {"YXDOMAIN", 6}, {"YXRRSET", 7},
    {"NXRRSET", 8}, {"NOTAUTH", 9}, {"NOTZONE", 10},
};

/* Parsing context: where we are, for messages. */
struct pctx {
	const char *file;
	const json_t *section; /* the probes section, to find positions by path */
	diag_t *diag;
	int errors;
	const struct probe_dc *dcs;
	size_t dc_count;
};

__attribute__((format(printf, 3, 4))) static void perr(struct pctx *p, const char *path,
						       const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	unsigned line = 0, col = 0;
	if (p->section != NULL)
		(void)jsonpos_doc_path(p->section, path, &line, &col);
	diag_add(p->diag, p->file, line, col, "%s: %s", path, msg);
	p->errors++;
}

/* An unknown or misplaced key: labelled with the object (path), placed at
 * the key's member in the file, not at the object's opening brace. */
__attribute__((format(printf, 4, 5))) static void perr_key(struct pctx *p, const char *path,
							   const char *key, const char *fmt, ...)
{
	char msg[768], at[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	unsigned line = 0, col = 0;
	snprintf(at, sizeof(at), "%s.%s", path, key);
	if (p->section != NULL && !jsonpos_doc_path(p->section, at, &line, &col))
		(void)jsonpos_doc_path(p->section, path, &line, &col);
	diag_add(p->diag, p->file, line, col, "%s: %s", path, msg);
	p->errors++;
}

static const char *probe_type_names[] = {"tcp", "http", "https", "dns"};

const char *probe_type_name(enum probe_type t)
{
	return (unsigned)t < 4 ? probe_type_names[t] : "?";
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static bool text_is_clean(const char *s)
{
	/* No spaces or control characters: these values go into a request line
	 * or a header, where CR/LF would let a config inject headers. */
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int find_dc(const struct pctx *p, const char *id)
{
	for (size_t i = 0; i < p->dc_count; i++)
		if (strcmp(p->dcs[i].id, id) == 0)
			return (int)i;
	return -1;
}

/* An unsigned integer key in [lo, hi]; leaves *out alone if absent. */
static void get_uint(struct pctx *p, const json_t *obj, const char *key, const char *path,
		     uint32_t lo, uint32_t hi, uint32_t *out, bool *present)
{
	const json_t *v = json_object_get(obj, key);
	if (present)
		*present = false;
	if (v == NULL)
		return;
	char kp[160];
	snprintf(kp, sizeof(kp), "%s.%s", path, key);
	if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo ||
	    json_integer_value(v) > (json_int_t)hi) {
		perr(p, kp, "must be an integer from %u to %u", lo, hi);
		return;
	}
	*out = (uint32_t)json_integer_value(v);
	if (present)
		*present = true;
}

static const char *get_string(struct pctx *p, const json_t *obj, const char *key, const char *path)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return NULL;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		char kp[160];
		snprintf(kp, sizeof(kp), "%s.%s", path, key);
		perr(p, kp, "must be a non-empty string");
		return NULL;
	}
	return json_string_value(v);
}

static bool parse_combine(struct pctx *p, const json_t *v, const char *path,
			  enum probe_combine *out)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	if (s && strcmp(s, "all") == 0) {
		*out = PROBE_COMBINE_ALL;
		return true;
	}
	if (s && strcmp(s, "any") == 0) {
		*out = PROBE_COMBINE_ANY;
		return true;
	}
	perr(p, path, "must be \"all\" or \"any\"");
	return false;
}

/* Timing values shared by "defaults" and each check. */
struct timing {
	uint32_t interval_ms, timeout_ms, jitter_ms, rise, fall;
	bool has_interval, has_timeout, has_jitter, has_rise, has_fall;
};

static void parse_timing(struct pctx *p, const json_t *obj, const char *path, struct timing *t)
{
	bool pr;
	get_uint(p, obj, "interval_ms", path, PROBE_MIN_INTERVAL_MS, PROBE_MAX_INTERVAL_MS,
		 &t->interval_ms, &pr);
	t->has_interval |= pr;
	get_uint(p, obj, "timeout_ms", path, PROBE_MIN_TIMEOUT_MS, PROBE_MAX_INTERVAL_MS,
		 &t->timeout_ms, &pr);
	t->has_timeout |= pr;
	get_uint(p, obj, "jitter_ms", path, 0, PROBE_MAX_INTERVAL_MS / 2, &t->jitter_ms, &pr);
	t->has_jitter |= pr;
	get_uint(p, obj, "rise", path, 1, PROBE_MAX_THRESHOLD, &t->rise, &pr);
	t->has_rise |= pr;
	get_uint(p, obj, "fall", path, 1, PROBE_MAX_THRESHOLD, &t->fall, &pr);
	t->has_fall |= pr;
}

/* "http://host[:port][/path]" → host (NULL if an IP literal: then *ip_target
 * is set), port, path. Returns false (with a message) if malformed. */
static bool parse_url(struct pctx *p, const char *url, const char *path, enum probe_type type,
		      struct probe_check *c, sov_sockaddr_t *ip_target, bool *has_ip_target)
{
	const char *scheme = type == PROBE_HTTPS ? "https://" : "http://";
	size_t sl = strlen(scheme);
	char kp[160];
	snprintf(kp, sizeof(kp), "%s.url", path);
	if (strncmp(url, scheme, sl) != 0) {
		perr(p, kp, "must start with %s for a %s check", scheme, probe_type_name(type));
		return false;
	}
	if (!text_is_clean(url)) {
		perr(p, kp, "must not contain spaces or control characters");
		return false;
	}
	const char *auth = url + sl;
	const char *slash = strchr(auth, '/');
	size_t alen = slash ? (size_t)(slash - auth) : strlen(auth);
	char authority[300];
	if (alen == 0 || alen >= sizeof(authority) || memchr(auth, '@', alen) != NULL ||
	    memchr(auth, '?', alen) != NULL || memchr(auth, '#', alen) != NULL) {
		perr(p, kp, "has no valid host (expected %shost[:port]/path)", scheme);
		return false;
	}
	memcpy(authority, auth, alen);
	authority[alen] = '\0';

	/* Split host and port, minding "[v6]:port". */
	char *host = authority;
	char *port = NULL;
	if (host[0] == '[') {
		char *close = strchr(host, ']');
		if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
			perr(p, kp, "has a malformed IPv6 address");
			return false;
		}
		if (close[1] == ':')
			port = close + 2;
		*close = '\0';
		host++;
	} else {
		port = strchr(host, ':');
		if (port)
			*port++ = '\0';
	}
	if (port) {
		char *end;
		unsigned long v = strtoul(port, &end, 10);
		if (*port == '\0' || *end != '\0' || v == 0 || v > 65535) {
			perr(p, kp, "has an invalid port");
			return false;
		}
		c->port = (uint16_t)v;
	}
	sov_sockaddr_t a;
	if (addr_parse(host, 0, &a) == SOV_OK) {
		*ip_target = a;
		*has_ip_target = true;
	} else {
		free(c->host);
		c->host = strdup(host);
	}
	free(c->path);
	c->path = strdup(slash ? slash : "/");
	return true;
}

/* Appends a target for (service, dc) unless it exists; returns its index or -1. */
static long target_for(probe_config_t *cfg, const char *service, size_t dc_index,
		       const struct probe_dc *dcs, size_t *cap)
{
	if (service == NULL)
		return (long)dc_index;
	for (size_t i = cfg->dc_count; i < cfg->target_count; i++)
		if (cfg->targets[i].dc_index == dc_index &&
		    strcmp(cfg->targets[i].service, service) == 0)
			return (long)i;
	if (cfg->target_count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct probe_target *n = realloc(cfg->targets, ncap * sizeof(*n));
		if (n == NULL)
			return -1;
		cfg->targets = n;
		*cap = ncap;
	}
	struct probe_target *t = &cfg->targets[cfg->target_count];
	memset(t, 0, sizeof(*t));
	size_t len = strlen(service) + strlen(dcs[dc_index].id) + 2;
	t->name = malloc(len);
	t->service = strdup(service);
	if (t->name == NULL || t->service == NULL) {
		free(t->name);
		free(t->service);
		return -1;
	}
	snprintf(t->name, len, "%s@%s", service, dcs[dc_index].id);
	t->dc_index = dc_index;
	t->combine = PROBE_COMBINE_ALL;
	return (long)cfg->target_count++;
}

static int add_instance(probe_config_t *cfg, size_t *cap, size_t check, size_t target,
			const sov_sockaddr_t *addr)
{
	if (cfg->instance_count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct probe_instance *n = realloc(cfg->instances, ncap * sizeof(*n));
		if (n == NULL)
			return SOV_ENOMEM;
		cfg->instances = n;
		*cap = ncap;
	}
	struct probe_instance *in = &cfg->instances[cfg->instance_count++];
	in->check = check;
	in->target = target;
	in->addr = *addr;
	return SOV_OK;
}

static void check_free_fields(struct probe_check *c)
{
	free(c->name);
	free(c->service);
	free(c->host);
	free(c->path);
	free(c->body_contains);
	free(c->ca_file);
	free(c->qname);
}

void probe_config_free(probe_config_t *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->check_count; i++)
		check_free_fields(&cfg->checks[i]);
	free(cfg->checks);
	for (size_t i = 0; i < cfg->target_count; i++) {
		free(cfg->targets[i].name);
		free(cfg->targets[i].service);
	}
	free(cfg->targets);
	free(cfg->instances);
	free(cfg);
}

/* The addresses a check probes at one datacenter, from "targets" or the dc. */
static int expand_dc(struct pctx *p, probe_config_t *cfg, size_t *inst_cap, size_t ci,
		     const json_t *targets, size_t dci, long ti, const char *path,
		     const sov_sockaddr_t *ip_target, bool has_ip_target)
{
	const struct probe_check *c = &cfg->checks[ci];
	const json_t *tv = targets ? json_object_get(targets, p->dcs[dci].id) : NULL;
	int rc = SOV_OK;
	if (has_ip_target) {
		sov_sockaddr_t a = *ip_target;
		addr_set_port(&a, c->port);
		return add_instance(cfg, inst_cap, ci, (size_t)ti, &a);
	}
	if (tv != NULL) {
		size_t n = json_is_array(tv) ? json_array_size(tv) : 1;
		if (n == 0) {
			perr(p, path, "targets.%s is an empty list", p->dcs[dci].id);
			return SOV_OK;
		}
		for (size_t k = 0; k < n; k++) {
			const json_t *e = json_is_array(tv) ? json_array_get(tv, k) : tv;
			sov_sockaddr_t a;
			if (!json_is_string(e) ||
			    addr_parse(json_string_value(e), c->port, &a) != SOV_OK) {
				perr(p, path,
				     "targets.%s: expected an IP address, optionally with a port "
				     "(\"192.0.2.1\", \"192.0.2.1:8080\", \"[2001:db8::1]:443\")",
				     p->dcs[dci].id);
				continue;
			}
			if (addr_port(&a) == 0) {
				perr(p, path, "targets.%s: a tcp check needs a port",
				     p->dcs[dci].id);
				continue;
			}
			rc = add_instance(cfg, inst_cap, ci, (size_t)ti, &a);
			if (rc != SOV_OK)
				return rc;
		}
		return SOV_OK;
	}
	if (c->port == 0) {
		perr(p, path, "a tcp check needs a \"port\" for datacenter %s", p->dcs[dci].id);
		return SOV_OK;
	}
	if (p->dcs[dci].addr_count == 0) {
		perr(p, path, "datacenter %s has no addresses; give \"targets\" for it",
		     p->dcs[dci].id);
		return SOV_OK;
	}
	for (size_t k = 0; k < p->dcs[dci].addr_count; k++) {
		sov_sockaddr_t a = p->dcs[dci].addrs[k];
		addr_set_port(&a, c->port);
		rc = add_instance(cfg, inst_cap, ci, (size_t)ti, &a);
		if (rc != SOV_OK)
			return rc;
	}
	return SOV_OK;
}

/* Where a check probes, gathered while parsing it and used to expand it. */
struct check_scope {
	sov_sockaddr_t ip_target; /* set when the url names an IP address */
	bool has_ip_target;
	const json_t *dcs_json; /* "datacenters", or NULL for every datacenter */
	const json_t *targets;	/* "targets", or NULL */
	size_t ndc;		/* how many datacenters the check applies to */
};

/* "type" is tcp, http, https or dns: sets c->type; returns the text, or NULL after any message. */
static const char *check_type(struct pctx *p, const json_t *obj, const char *path,
			      struct probe_check *c)
{
	const char *type = get_string(p, obj, "type", path);
	if (type == NULL) {
		if (json_object_get(obj, "type") == NULL)
			perr(p, path, "needs a \"type\": tcp, http, https or dns");
		return NULL;
	}
	bool known = false;
	for (int t = 0; t < 4; t++) {
		if (strcmp(type, probe_type_names[t]) == 0) {
			c->type = (enum probe_type)t;
			known = true;
		}
	}
	if (!known) {
		perr(p, path, "unknown type \"%s\" (expected tcp, http, https or dns)", type);
		return NULL;
	}
	return type;
}

/* Every key of the check is known and applies to its type. */
static void check_known_keys(struct pctx *p, const json_t *obj, const char *path, const char *type,
			     enum probe_type t)
{
	const char *key;
	const json_t *val;
	json_object_foreach((json_t *)obj, key, val)
	{
		const struct key_rule *rule = NULL;
		const char *names[sizeof(check_keys) / sizeof(check_keys[0]) + 1];
		for (size_t k = 0; k < sizeof(check_keys) / sizeof(check_keys[0]); k++) {
			names[k] = check_keys[k].key;
			if (strcmp(check_keys[k].key, key) == 0)
				rule = &check_keys[k];
		}
		names[sizeof(check_keys) / sizeof(check_keys[0])] = NULL;
		char msg[512];
		if (rule == NULL)
			perr_key(p, path, key, "%s",
				 json_unknown_key(key, names, msg, sizeof(msg)));
		else if (!(rule->types & (1u << t)))
			perr_key(p, path, key, "\"%s\" does not apply to a %s check", key, type);
	}
}

/* "name" (default "<type>#<index>") is not used by an earlier check. */
static void check_name(struct pctx *p, probe_config_t *cfg, size_t ci, const json_t *obj,
		       const char *path, const char *type)
{
	struct probe_check *c = &cfg->checks[ci];
	const char *name = get_string(p, obj, "name", path);
	if (name != NULL) {
		c->name = strdup(name);
	} else {
		char def[32];
		snprintf(def, sizeof(def), "%s#%zu", type, ci);
		c->name = strdup(def);
	}
	for (size_t k = 0; name != NULL && k < ci; k++)
		if (cfg->checks[k].name && strcmp(cfg->checks[k].name, name) == 0)
			perr(p, path, "name \"%s\" is already used by probes.checks[%zu]", name, k);
}

/* The values of t (or the built-ins) into c; when report, says if timeout
 * and jitter do not fit the interval, against path. */
static void timing_apply(struct pctx *p, const char *path, const struct timing *t,
			 struct probe_check *c, bool report)
{
	c->interval_ms = t->has_interval ? t->interval_ms : PROBE_DEFAULT_INTERVAL_MS;
	if (t->has_timeout) {
		c->timeout_ms = t->timeout_ms;
	} else {
		/* gdnsd's rule of thumb, capped: half the interval, at most 2 s. */
		c->timeout_ms = c->interval_ms / 2;
		if (c->timeout_ms > PROBE_DEFAULT_TIMEOUT_MS)
			c->timeout_ms = PROBE_DEFAULT_TIMEOUT_MS;
		if (c->timeout_ms < PROBE_MIN_TIMEOUT_MS)
			c->timeout_ms = PROBE_MIN_TIMEOUT_MS;
	}
	c->jitter_ms = t->has_jitter ? t->jitter_ms : c->interval_ms / PROBE_DEFAULT_JITTER_DIVISOR;
	c->rise = t->has_rise ? t->rise : PROBE_DEFAULT_RISE;
	c->fall = t->has_fall ? t->fall : PROBE_DEFAULT_FALL;
	if (report && c->timeout_ms > c->interval_ms)
		perr(p, path,
		     "timeout_ms (%u) must not exceed interval_ms (%u): a probe must end before "
		     "the next one starts",
		     c->timeout_ms, c->interval_ms);
	if (report && c->jitter_ms > c->interval_ms / 2)
		perr(p, path, "jitter_ms (%u) must be at most half of interval_ms (%u)",
		     c->jitter_ms, c->interval_ms);
}

/* Timing: the check's own values over "defaults" over built-ins; timeout and
 * jitter fit. A misfit is the check's when one of its own keys takes part;
 * one of the defaults alone was reported against "defaults" (parse_defaults). */
static void check_timing(struct pctx *p, const json_t *obj, const char *path,
			 const struct timing *defaults, struct probe_check *c)
{
	struct timing own;
	memset(&own, 0, sizeof(own));
	parse_timing(p, obj, path, &own);
	struct timing t = *defaults;
#define TAKE_OWN(v, has)                                                                           \
	do {                                                                                       \
		if (own.has) {                                                                     \
			t.v = own.v;                                                               \
			t.has = true;                                                              \
		}                                                                                  \
	} while (0)
	TAKE_OWN(interval_ms, has_interval);
	TAKE_OWN(timeout_ms, has_timeout);
	TAKE_OWN(jitter_ms, has_jitter);
	TAKE_OWN(rise, has_rise);
	TAKE_OWN(fall, has_fall);
#undef TAKE_OWN
	timing_apply(p, path, &t, c, own.has_interval || own.has_timeout || own.has_jitter);
}

/* "expect_status" is one status code, or a list of 1 to PROBE_MAX_EXPECT_STATUS. */
static void check_expect_status(struct pctx *p, const json_t *obj, const char *path,
				struct probe_check *c)
{
	const json_t *st = json_object_get(obj, "expect_status");
	if (st == NULL)
		return;
	const json_t *one = st;
	size_t n = json_is_array(st) ? json_array_size(st) : 1;
	if ((json_is_array(st) && n == 0) || n > PROBE_MAX_EXPECT_STATUS) {
		perr(p, path, "expect_status must list 1 to %d status codes",
		     PROBE_MAX_EXPECT_STATUS);
		n = 0;
	}
	for (size_t k = 0; k < n; k++) {
		one = json_is_array(st) ? json_array_get(st, k) : st;
		if (!json_is_integer(one) || json_integer_value(one) < 100 ||
		    json_integer_value(one) > 599) {
			perr(p, path, "expect_status: %s",
			     "status codes are integers from 100 to 599");
			break;
		}
		c->expect_status[c->expect_status_count++] = (uint16_t)json_integer_value(one);
	}
}

/* An http(s) check's url, host, path, expect_status, body_contains; false if url is malformed. */
static bool check_web(struct pctx *p, const json_t *obj, const char *path, struct probe_check *c,
		      struct check_scope *s)
{
	c->path = strdup("/");
	const char *url = get_string(p, obj, "url", path);
	if (url != NULL && !parse_url(p, url, path, c->type, c, &s->ip_target, &s->has_ip_target))
		return false;
	const char *host = get_string(p, obj, "host", path);
	if (host != NULL) {
		if (!text_is_clean(host) || strchr(host, '/') != NULL)
			perr(p, path, "host \"%s\" is not a valid host name", host);
		free(c->host);
		c->host = strdup(host);
	}
	const char *rpath = get_string(p, obj, "path", path);
	if (rpath != NULL) {
		if (rpath[0] != '/' || !text_is_clean(rpath))
			perr(p, path, "path must start with '/' and contain no spaces");
		free(c->path);
		c->path = strdup(rpath);
	}
	check_expect_status(p, obj, path, c);
	c->body_contains = xstrdup(get_string(p, obj, "body_contains", path));
	return true;
}

/* An https check's ca_file (readable), verify (a boolean) and cert_warn_days. */
static void check_https(struct pctx *p, const json_t *obj, const char *path, struct probe_check *c)
{
	const char *ca = get_string(p, obj, "ca_file", path);
	if (ca != NULL) {
		c->ca_file = path_beside(p->file, ca);
		if (c->ca_file && access(c->ca_file, R_OK) != 0)
			perr(p, path, "ca_file %s cannot be read", c->ca_file);
	}
	const json_t *v = json_object_get(obj, "verify");
	if (v != NULL) {
		if (!json_is_boolean(v))
			perr(p, path, "verify must be true or false");
		else
			c->verify = json_is_true(v);
	}
	get_uint(p, obj, "cert_warn_days", path, 0, 3650, &c->cert_warn_days, NULL);
}

/* A dns check's qname (required, a domain name) and qtype (a known type, default A). */
static void check_dns_query(struct pctx *p, const json_t *obj, const char *path,
			    struct probe_check *c)
{
	const char *qname = get_string(p, obj, "qname", path);
	if (qname == NULL) {
		if (json_object_get(obj, "qname") == NULL)
			perr(p, path, "a dns check needs a \"qname\"");
	} else {
		ldns_rdf *d = ldns_dname_new_frm_str(qname);
		if (d == NULL)
			perr(p, path, "qname \"%s\" is not a valid domain name", qname);
		ldns_rdf_deep_free(d);
		c->qname = strdup(qname);
	}
	c->qtype = LDNS_RR_TYPE_A;
	const char *qtype = get_string(p, obj, "qtype", path);
	if (qtype != NULL) {
		c->qtype = (uint16_t)ldns_get_rr_type_by_name(qtype);
		if (c->qtype == 0)
			perr(p, path, "unknown qtype \"%s\"", qtype);
	}
}

/* A dns check's expect_rcode (an rcode name) and expect_address (an IP address). */
static void check_dns_expect(struct pctx *p, const json_t *obj, const char *path,
			     struct probe_check *c)
{
	c->expect_rcode = 0;
	const char *rcode = get_string(p, obj, "expect_rcode", path);
	if (rcode != NULL) {
		bool found = false;
		for (size_t k = 0; k < sizeof(rcodes) / sizeof(rcodes[0]); k++) {
			if (strcasecmp(rcodes[k].name, rcode) == 0) {
				c->expect_rcode = rcodes[k].code;
				found = true;
			}
		}
		if (!found)
			perr(p, path, "unknown expect_rcode \"%s\" (NOERROR, NXDOMAIN, ...)",
			     rcode);
	}
	const char *ea = get_string(p, obj, "expect_address", path);
	if (ea != NULL) {
		if (inet_pton(AF_INET, ea, c->expect_address) == 1) {
			c->expect_family = AF_INET;
			c->has_expect_address = true;
		} else if (inet_pton(AF_INET6, ea, c->expect_address) == 1) {
			c->expect_family = AF_INET6;
			c->has_expect_address = true;
		} else {
			perr(p, path, "expect_address \"%s\" is not an IP address", ea);
		}
	}
}

/* "port" is 1 to 65535; a tcp check has one here or with its "targets". */
static void check_port(struct pctx *p, const json_t *obj, const char *path, struct probe_check *c,
		       struct check_scope *s)
{
	uint32_t port = c->port;
	bool has_port = false;
	get_uint(p, obj, "port", path, 1, 65535, &port, &has_port);
	if (has_port)
		c->port = (uint16_t)port;
	/* A tcp check's port may also come with each address in "targets". */
	s->targets = json_object_get(obj, "targets");
	if (c->type == PROBE_TCP && c->port == 0 && s->targets == NULL)
		perr(p, path, "a tcp check needs a \"port\"");
}

/* "datacenters" and "targets" have the right shape; false if the check cannot go further. */
static bool check_datacenters(struct pctx *p, const json_t *obj, const char *path,
			      struct check_scope *s)
{
	s->dcs_json = json_object_get(obj, "datacenters");
	if (s->dcs_json != NULL &&
	    (!json_is_array(s->dcs_json) || json_array_size(s->dcs_json) == 0)) {
		perr(p, path, "datacenters must be a non-empty list of datacenter ids");
		return false;
	}
	if (s->targets != NULL && !json_is_object(s->targets)) {
		perr(p, path, "targets must be an object: datacenter id → address or list");
		return false;
	}
	s->ndc = s->dcs_json ? json_array_size(s->dcs_json) : p->dc_count;
	if (s->has_ip_target && s->ndc != 1) {
		perr(p, path,
		     "url names one address but the check applies to %zu datacenters; name one "
		     "datacenter, or use a host name in url and \"targets\" per datacenter",
		     s->ndc);
		return false;
	}
	return true;
}

/* Every datacenter named in "targets" is one of the check's datacenters. */
static void check_targets_listed(struct pctx *p, const char *path, const struct check_scope *s)
{
	if (s->targets == NULL)
		return;
	const char *key;
	const json_t *val;
	json_object_foreach((json_t *)s->targets, key, val)
	{
		/* Without "datacenters" the check covers every datacenter. */
		bool listed = s->dcs_json == NULL && find_dc(p, key) >= 0;
		for (size_t k = 0; s->dcs_json && k < s->ndc; k++) {
			const json_t *d = json_array_get(s->dcs_json, k);
			if (json_is_string(d) && strcmp(json_string_value(d), key) == 0)
				listed = true;
		}
		if (!listed)
			perr(p, path,
			     "targets names \"%s\", which is not a datacenter of this check", key);
	}
}

/* Each name in "datacenters" is known; adds the check's instances at every datacenter. */
static int expand_check(struct pctx *p, probe_config_t *cfg, size_t ci, const char *path,
			const struct check_scope *s, size_t *target_cap, size_t *inst_cap)
{
	const struct probe_check *c = &cfg->checks[ci];
	for (size_t k = 0; k < s->ndc; k++) {
		int dci = (int)k;
		if (s->dcs_json != NULL) {
			const json_t *d = json_array_get(s->dcs_json, k);
			dci = json_is_string(d) ? find_dc(p, json_string_value(d)) : -1;
			if (dci < 0) {
				perr(p, path, "datacenters[%zu] is not a known datacenter id", k);
				continue;
			}
		}
		long ti = target_for(cfg, c->service, (size_t)dci, p->dcs, target_cap);
		if (ti < 0)
			return SOV_ENOMEM;
		int rc = expand_dc(p, cfg, inst_cap, ci, s->targets, (size_t)dci, ti, path,
				   &s->ip_target, s->has_ip_target);
		if (rc != SOV_OK)
			return rc;
	}
	return SOV_OK;
}

/* One entry of "checks": reports its problems; adds its targets and instances if it has none. */
static int parse_check(struct pctx *p, probe_config_t *cfg, size_t ci, const json_t *obj,
		       const struct timing *defaults, size_t *target_cap, size_t *inst_cap)
{
	char path[96];
	struct probe_check *c = &cfg->checks[ci];
	struct check_scope s = {.has_ip_target = false};
	int errors_before = p->errors;

	snprintf(path, sizeof(path), "probes.checks[%zu]", ci);
	if (!json_is_object(obj)) {
		perr(p, path, "must be an object");
		return SOV_OK;
	}
	const char *type = check_type(p, obj, path, c);
	if (type == NULL)
		return SOV_OK;
	check_known_keys(p, obj, path, type, c->type);
	check_name(p, cfg, ci, obj, path, type);
	c->service = xstrdup(get_string(p, obj, "service", path));
	check_timing(p, obj, path, defaults, c);

	/* Type-specific settings and their defaults. */
	c->verify = true;
	c->cert_warn_days = PROBE_DEFAULT_CERT_WARN_DAYS;
	c->port = c->type == PROBE_HTTP	   ? 80
		  : c->type == PROBE_HTTPS ? 443
		  : c->type == PROBE_DNS   ? 53
					   : 0;
	if ((c->type == PROBE_HTTP || c->type == PROBE_HTTPS) && !check_web(p, obj, path, c, &s))
		return SOV_OK;
	if (c->type == PROBE_HTTPS)
		check_https(p, obj, path, c);
	if (c->type == PROBE_DNS) {
		check_dns_query(p, obj, path, c);
		check_dns_expect(p, obj, path, c);
	}
	check_port(p, obj, path, c, &s);

	/* Which datacenters. */
	if (!check_datacenters(p, obj, path, &s))
		return SOV_OK;
	check_targets_listed(p, path, &s);
	if (c->name == NULL ||
	    ((c->type == PROBE_HTTP || c->type == PROBE_HTTPS) && c->path == NULL))
		return SOV_ENOMEM;
	if (p->errors != errors_before)
		return SOV_OK;
	return expand_check(p, cfg, ci, path, &s, target_cap, inst_cap);
}

/* One target per datacenter, named by its id; no id appears twice. */
static int config_dc_targets(struct pctx *p, probe_config_t *cfg)
{
	const struct probe_dc *dcs = p->dcs;
	cfg->targets = calloc(p->dc_count ? p->dc_count : 1, sizeof(*cfg->targets));
	if (cfg->targets == NULL)
		return SOV_ENOMEM;
	for (size_t i = 0; i < p->dc_count; i++) {
		for (size_t j = 0; j < i; j++)
			if (strcmp(dcs[i].id, dcs[j].id) == 0)
				perr(p, "datacenters", "id \"%s\" appears twice", dcs[i].id);
		cfg->targets[i].name = strdup(dcs[i].id);
		cfg->targets[i].dc_index = i;
		cfg->target_count++;
		if (cfg->targets[i].name == NULL)
			return SOV_ENOMEM;
	}
	return SOV_OK;
}

/* Every key of the probes section is known. */
static void check_section_keys(struct pctx *p, const json_t *sec)
{
	const char *key;
	const json_t *val;
	static const char *const section_keys[] = {
	    "defaults", "combine", "max_in_flight", "datacenters", "services", "checks", NULL};
	json_object_foreach((json_t *)sec, key, val)
	{
		char msg[512];
		if (!json_key_known(key, section_keys))
			perr_key(p, "probes", key, "%s",
				 json_unknown_key(key, section_keys, msg, sizeof(msg)));
	}
}

/* "defaults" is an object of timing keys only. */
static void parse_defaults(struct pctx *p, const json_t *sec, struct timing *defaults)
{
	const json_t *def = json_object_get(sec, "defaults");
	if (def == NULL)
		return;
	if (!json_is_object(def)) {
		perr(p, "probes.defaults", "must be an object");
		return;
	}
	const char *key;
	const json_t *val;
	json_object_foreach((json_t *)def, key, val)
	{
		char msg[512];
		if (!json_key_known(key, timing_keys))
			perr_key(p, "probes.defaults", key, "%s",
				 json_unknown_key(key, timing_keys, msg, sizeof(msg)));
	}
	parse_timing(p, def, "probes.defaults", defaults);
	/* a conflict of the defaults themselves is theirs, reported once here
	 * (check_timing reports only what a check's own keys bring in) */
	struct probe_check c;
	memset(&c, 0, sizeof(c));
	timing_apply(p, "probes.defaults", defaults, &c, true);
}

/* "checks" is a list; parses each check in turn. */
static int parse_checks(struct pctx *p, probe_config_t *cfg, const json_t *sec,
			const struct timing *defaults, size_t *target_cap, size_t *inst_cap)
{
	const json_t *checks = json_object_get(sec, "checks");
	if (checks != NULL && !json_is_array(checks)) {
		perr(p, "probes.checks", "must be a list of checks");
		checks = NULL;
	}
	size_t n = checks ? json_array_size(checks) : 0;
	cfg->checks = calloc(n ? n : 1, sizeof(*cfg->checks));
	if (cfg->checks == NULL)
		return SOV_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		cfg->check_count = i + 1;
		int rc = parse_check(p, cfg, i, json_array_get(checks, i), defaults, target_cap,
				     inst_cap);
		if (rc != SOV_OK)
			return rc;
	}
	return SOV_OK;
}

/* "datacenters": known datacenter ids, each an object with only "combine". */
static void parse_dc_overrides(struct pctx *p, probe_config_t *cfg, const json_t *sec)
{
	const json_t *dco = json_object_get(sec, "datacenters");
	if (dco != NULL && !json_is_object(dco))
		perr(p, "probes.datacenters", "must be an object: datacenter id → settings");
	if (!json_is_object(dco))
		return;
	const char *key;
	const json_t *val;
	json_object_foreach((json_t *)dco, key, val)
	{
		char kp[160];
		snprintf(kp, sizeof(kp), "probes.datacenters.%s", key);
		int dci = find_dc(p, key);
		if (dci < 0) {
			perr(p, kp, "is not a known datacenter id");
			continue;
		}
		const json_t *cv = json_is_object(val) ? json_object_get(val, "combine") : NULL;
		if (cv == NULL || json_object_size(val) != 1) {
			perr(p, kp, "must be an object with only \"combine\"");
			continue;
		}
		snprintf(kp, sizeof(kp), "probes.datacenters.%s.combine", key);
		parse_combine(p, cv, kp, &cfg->targets[dci].combine);
	}
}

/* "services": services some check names, each an object with only "combine". */
static void parse_service_overrides(struct pctx *p, probe_config_t *cfg, const json_t *sec)
{
	const json_t *svo = json_object_get(sec, "services");
	if (svo != NULL && !json_is_object(svo))
		perr(p, "probes.services", "must be an object: service name → settings");
	if (!json_is_object(svo))
		return;
	const char *key;
	const json_t *val;
	json_object_foreach((json_t *)svo, key, val)
	{
		char kp[160];
		snprintf(kp, sizeof(kp), "probes.services.%s", key);
		const json_t *cv = json_is_object(val) ? json_object_get(val, "combine") : NULL;
		if (cv == NULL || json_object_size(val) != 1) {
			perr(p, kp, "must be an object with only \"combine\"");
			continue;
		}
		enum probe_combine m = PROBE_COMBINE_ALL;
		snprintf(kp, sizeof(kp), "probes.services.%s.combine", key);
		if (!parse_combine(p, cv, kp, &m))
			continue;
		bool used = false;
		for (size_t i = p->dc_count; i < cfg->target_count; i++) {
			if (strcmp(cfg->targets[i].service, key) == 0) {
				cfg->targets[i].combine = m;
				used = true;
			}
		}
		if (!used)
			perr(p, kp, "no check has \"service\": \"%s\"", key);
	}
}

int probe_config_parse(const json_t *probes_section, const struct probe_dc *dcs, size_t dc_count,
		       const char *file, probe_config_t **out, diag_t *diag)
{
	int rc = SOV_OK;
	struct pctx p = {.file = file,
			 .section = probes_section,
			 .diag = diag,
			 .dcs = dcs,
			 .dc_count = dc_count};
	struct timing defaults = {0};
	size_t target_cap = dc_count, inst_cap = 0;
	enum probe_combine combine_all = PROBE_COMBINE_ALL;
	const json_t *sec = probes_section;

	*out = NULL;
	probe_config_t *cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		rc = SOV_ENOMEM;
		goto finish;
	}
	cfg->max_in_flight = PROBE_DEFAULT_MAX_IN_FLIGHT;
	cfg->dc_count = dc_count;
	rc = config_dc_targets(&p, cfg);
	if (rc != SOV_OK)
		goto finish;
	if (sec == NULL)
		goto finish;
	if (!json_is_object(sec)) {
		perr(&p, "probes", "must be an object");
		goto finish;
	}

	check_section_keys(&p, sec);
	parse_defaults(&p, sec, &defaults);
	get_uint(&p, sec, "max_in_flight", "probes", 1, 65536, &cfg->max_in_flight, NULL);
	if (json_object_get(sec, "combine") != NULL)
		parse_combine(&p, json_object_get(sec, "combine"), "probes.combine", &combine_all);
	for (size_t i = 0; i < dc_count; i++)
		cfg->targets[i].combine = combine_all;

	rc = parse_checks(&p, cfg, sec, &defaults, &target_cap, &inst_cap);
	if (rc != SOV_OK)
		goto finish;

	/* Per-datacenter and per-service overrides of "combine". */
	parse_dc_overrides(&p, cfg, sec);
	parse_service_overrides(&p, cfg, sec);

finish:
	if (rc == SOV_OK && p.errors > 0)
		rc = SOV_ESEMANTIC;
	if (rc != SOV_OK)
		probe_config_free(cfg);
	else
		*out = cfg;
	return rc;
}

int probe_config_target_index(const probe_config_t *cfg, const char *dc_id, const char *service)
{
	for (size_t i = 0; i < cfg->dc_count; i++) {
		if (strcmp(cfg->targets[i].name, dc_id) != 0)
			continue;
		for (size_t j = cfg->dc_count; service != NULL && j < cfg->target_count; j++)
			if (cfg->targets[j].dc_index == i &&
			    strcmp(cfg->targets[j].service, service) == 0)
				return (int)j;
		return (int)i;
	}
	return SOV_ENOENT;
}
