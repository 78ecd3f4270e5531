/* update_conf.c — the zones[].update section (contract in update_conf.h,
 * user documentation in docs/updates.md). Every problem is reported, each
 * at the value it is about. */
#include "dns/update_conf.h"

#include <jansson.h>
#include <ldns/ldns.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "conf/json_keys.h"
#include "conf/json_kind.h"
#include "dns/xfr_conf.h"
#include "wire/wire.h"

struct uc {
	const config_t *conf;
	diag_t *diag;
	int errors;
	bool nomem;
};

static void uc_err(struct uc *c, const json_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void uc_err(struct uc *c, const json_t *at, const char *fmt, ...)
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

static void uc_keys(struct uc *c, const json_t *obj, const char *where, const char *const *known)
{
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val)
	{
		char msg[512];
		if (!json_key_known(key, known))
			uc_err(c, val, "%s: %s", where,
			       json_unknown_key(key, known, msg, sizeof(msg)));
	}
}

static void uc_uint(struct uc *c, const json_t *obj, const char *where, const char *key,
		    long long min, long long max, uint32_t *out)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		uc_err(c, v, "%s.%s must be an integer from %lld to %lld", where, key, min, max);
		return;
	}
	*out = (uint32_t)json_integer_value(v);
}

/* The zone's origin as a lowercased wire name. */
static bool origin_of(const config_t *conf, size_t zi, uint8_t *origin)
{
	if (dname_from_str(conf->zones[zi].origin, origin) < 1)
		return false;
	dname_lower(origin, origin);
	return true;
}

/* Appends the relative presentation name rel to origin: *out lowercased. */
static bool name_in_zone(const char *rel, const uint8_t *origin, uint8_t *out)
{
	size_t n = strlen(rel);
	if (n > 0 && rel[n - 1] == '.' && (n < 2 || rel[n - 2] != '\\'))
		return dname_from_str(rel, out) > 0 && dname_is_subdomain(out, origin);
	if (strcmp(rel, "@") == 0) {
		memcpy(out, origin, dname_len(origin));
		return true;
	}
	char full[DNAME_STR_MAX * 2];
	char ostr[DNAME_STR_MAX];
	if (dname_to_str(origin, ostr, sizeof(ostr)) < 0)
		return false;
	snprintf(full, sizeof(full), "%s.%s", rel, ostr);
	return dname_from_str(full, out) > 0;
}

static void parse_name(struct uc *c, const json_t *e, const char *where, const uint8_t *origin,
		       struct update_name *n)
{
	if (!json_is_string(e) || json_string_length(e) == 0) {
		uc_err(c, e,
		       "%s must be a name relative to the zone (\"@\", \"www\", \"*\", "
		       "\"*.lab\", \"_acme-challenge.*\"), not %s",
		       where, json_is_string(e) ? "an empty string" : json_kind(e));
		return;
	}
	const char *s = json_string_value(e);
	size_t len = strlen(s);
	const char *star = strchr(s, '*');
	bool ok = true;
	if (strcmp(s, "*") == 0) {
		n->kind = UPDATE_NAME_ANY;
		memcpy(n->name, origin, dname_len(origin));
	} else if (strncmp(s, "*.", 2) == 0 && strchr(s + 2, '*') == NULL) {
		n->kind = UPDATE_NAME_BELOW;
		ok = name_in_zone(s + 2, origin, n->name);
	} else if (len > 2 && strcmp(s + len - 2, ".*") == 0 && star == s + len - 1 &&
		   memchr(s, '.', len - 2) == NULL) {
		char label[80];
		n->kind = UPDATE_NAME_FIRST_LABEL;
		ok = len - 2 < 64 &&
		     snprintf(label, sizeof(label), "%.*s.", (int)(len - 2), s) > 0 &&
		     dname_from_str(label, n->name) == (int)(len - 2) + 2;
	} else if (star == NULL) {
		n->kind = UPDATE_NAME_EXACT;
		ok = name_in_zone(s, origin, n->name);
	} else {
		uc_err(c, e,
		       "%s: \"%s\": a \"*\" may only stand alone (\"*\"), begin the name "
		       "(\"*.lab\": every name below lab) or end a one-label name "
		       "(\"_acme-challenge.*\")",
		       where, s);
		return;
	}
	if (!ok)
		uc_err(c, e, "%s: \"%s\" is not a name inside the zone", where, s);
}

static void parse_types(struct uc *c, const json_t *v, const char *where, struct update_rule *r)
{
	if (!json_is_array(v) || json_array_size(v) == 0) {
		uc_err(c, v,
		       "%s must be a non-empty array of record types (\"TXT\", \"A\"), not %s",
		       where, json_is_array(v) ? "an empty one" : json_kind(v));
		return;
	}
	r->types = calloc(json_array_size(v), sizeof(*r->types));
	if (r->types == NULL) {
		c->nomem = true;
		return;
	}
	size_t i;
	const json_t *e;
	json_array_foreach(v, i, e)
	{
		const char *s = json_is_string(e) ? json_string_value(e) : NULL;
		uint16_t t = s != NULL ? (uint16_t)ldns_get_rr_type_by_name(s) : 0;
		if (t == 0) {
			uc_err(c, e, "%s[%zu]: %s%s%s is not a record type", where, i,
			       s ? "\"" : "", s ? s : json_kind(e), s ? "\"" : "");
			continue;
		}
		if (t == DNS_TYPE_SOA) {
			uc_err(c, e,
			       "%s[%zu]: SOA cannot be granted: the server keeps the zone's SOA "
			       "and raises its serial itself (docs/updates.md, \"Serials\")",
			       where, i);
			continue;
		}
		if (t == DNS_TYPE_ANY || t == DNS_TYPE_AXFR || t == DNS_TYPE_IXFR ||
		    t == DNS_TYPE_MAILA || t == DNS_TYPE_MAILB || t == DNS_TYPE_OPT ||
		    t == DNS_TYPE_TSIG || t == DNS_TYPE_TKEY) {
			uc_err(c, e,
			       "%s[%zu]: \"%s\" is a query or meta type, not a type of records "
			       "(leave \"types\" out for any type)",
			       where, i, s);
			continue;
		}
		r->types[r->type_count++] = t;
	}
}

static void parse_rule(struct uc *c, const json_t *e, const char *where, const uint8_t *origin,
		       const struct xfr_conf *x, struct update_rule *r)
{
	static const char *const rule_keys[] = {"key", "names", "types", NULL};
	r->key = -1;
	if (!json_is_object(e)) {
		uc_err(c, e,
		       "%s must be an object {\"key\": ..., \"names\": [...], \"types\": [...]}, "
		       "not %s",
		       where, json_kind(e));
		return;
	}
	uc_keys(c, e, where, rule_keys);
	const json_t *k = json_object_get(e, "key");
	if (!json_is_string(k)) {
		uc_err(c, k ? k : e,
		       "%s needs \"key\": the TSIG key (in tsig.keys) updates must be signed "
		       "with",
		       where);
	} else if ((r->key = tsig_keyring_index(
			&(const struct tsig_keyring){x->keys, x->key_count, true},
			json_string_value(k))) < 0) {
		uc_err(c, k, "%s.key: no key \"%s\" in tsig.keys", where, json_string_value(k));
	}
	const json_t *names = json_object_get(e, "names");
	char w[128];
	if (!json_is_array(names) || json_array_size(names) == 0) {
		uc_err(c, names ? names : e,
		       "%s needs \"names\": a non-empty array of names relative to the zone "
		       "(e.g. [\"_acme-challenge.*\"])",
		       where);
	} else {
		r->names = calloc(json_array_size(names), sizeof(*r->names));
		if (r->names == NULL) {
			c->nomem = true;
			return;
		}
		size_t i;
		const json_t *ne;
		json_array_foreach(names, i, ne)
		{
			snprintf(w, sizeof(w), "%s.names[%zu]", where, i);
			parse_name(c, ne, w, origin, &r->names[r->name_count++]);
		}
	}
	const json_t *types = json_object_get(e, "types");
	if (types != NULL) {
		snprintf(w, sizeof(w), "%s.types", where);
		parse_types(c, types, w, r);
	}
}

int update_policy_load(const config_t *conf, const void *v, size_t zone_idx,
		       const struct xfr_conf *x, struct update_policy **out, diag_t *diag)
{
	static const char *const update_keys[] = {"allow", "max_records_per_name",
						  "max_dynamic_bytes", "max_updates_per_s", NULL};
	struct uc c = {.conf = conf, .diag = diag};
	const json_t *u = v;
	char where[64];
	uint8_t origin[DNAME_MAXLEN];
	*out = NULL;
	snprintf(where, sizeof(where), "zones[%zu].update", zone_idx);
	if (!json_is_object(u)) {
		uc_err(&c, u, "\"%s\" must be an object, not %s", where, json_kind(u));
		return c.errors;
	}
	if (!origin_of(conf, zone_idx, origin))
		return 0; /* the zone's own check reports its origin */
	struct update_policy *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -1;
	p->max_records_per_name = UPDATE_DEFAULT_MAX_RECORDS_PER_NAME;
	p->max_dynamic_bytes = UPDATE_DEFAULT_MAX_DYNAMIC_BYTES;
	p->max_per_s = UPDATE_DEFAULT_MAX_PER_S;
	uc_keys(&c, u, where, update_keys);
	uc_uint(&c, u, where, "max_records_per_name", 1, 65535, &p->max_records_per_name);
	uc_uint(&c, u, where, "max_dynamic_bytes", 1024, 1024LL * 1024 * 1024,
		&p->max_dynamic_bytes);
	uc_uint(&c, u, where, "max_updates_per_s", 1, 10000, &p->max_per_s);
	if (conf->zones[zone_idx].secondary)
		uc_err(&c, u,
		       "%s: a secondary zone takes no updates (its primary does; sovdns does "
		       "not forward them, RFC 2136 §6)",
		       where);
	const json_t *sd = conf->json ? json_object_get(conf->json, "state_dir") : NULL;
	if (!json_is_string(sd) || json_string_length(sd) == 0)
		uc_err(&c, u,
		       "%s needs a \"state_dir\" in the configuration: an update is written "
		       "there before it is acknowledged",
		       where);
	const json_t *allow = json_object_get(u, "allow");
	if (!json_is_array(allow) || json_array_size(allow) == 0) {
		uc_err(&c, allow ? allow : u,
		       "%s needs \"allow\": a non-empty array of {\"key\": ..., \"names\": [...], "
		       "\"types\": [...]}",
		       where);
	} else {
		p->rules = calloc(json_array_size(allow), sizeof(*p->rules));
		if (p->rules == NULL) {
			c.nomem = true;
		} else {
			size_t i;
			const json_t *e;
			json_array_foreach(allow, i, e)
			{
				char rw[96];
				snprintf(rw, sizeof(rw), "%s.allow[%zu]", where, i);
				parse_rule(&c, e, rw, origin, x, &p->rules[p->rule_count++]);
			}
		}
	}
	if (c.nomem || c.errors > 0) {
		update_policy_free(p);
		return c.nomem ? -1 : c.errors;
	}
	*out = p;
	return 0;
}

void update_policy_free(struct update_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->rule_count; i++) {
		free(p->rules[i].names);
		free(p->rules[i].types);
	}
	free(p->rules);
	free(p);
}

static bool name_matches(const struct update_name *n, const uint8_t *origin, const uint8_t *lower)
{
	switch (n->kind) {
	case UPDATE_NAME_EXACT:
		return dname_equal(lower, n->name);
	case UPDATE_NAME_ANY:
		return dname_is_subdomain(lower, origin);
	case UPDATE_NAME_BELOW:
		return !dname_equal(lower, n->name) && dname_is_subdomain(lower, n->name);
	case UPDATE_NAME_FIRST_LABEL: {
		const uint8_t *rest = dname_parent(lower);
		return rest != NULL && lower[0] == n->name[0] &&
		       memcmp(lower + 1, n->name + 1, lower[0]) == 0 &&
		       dname_is_subdomain(rest, origin);
	}
	}
	return false;
}

static bool type_matches(const struct update_rule *r, uint16_t type)
{
	if (type == DNS_TYPE_SOA)
		return false;
	if (r->type_count == 0)
		return type != DNS_TYPE_NS;
	for (size_t i = 0; i < r->type_count; i++)
		if (r->types[i] == type)
			return true;
	return false;
}

bool update_policy_allows(const struct update_policy *p, int key, const uint8_t *origin,
			  const uint8_t *lower, uint16_t type)
{
	for (size_t i = 0; i < p->rule_count; i++) {
		const struct update_rule *r = &p->rules[i];
		if (r->key != key || !type_matches(r, type))
			continue;
		for (size_t k = 0; k < r->name_count; k++)
			if (name_matches(&r->names[k], origin, lower))
				return true;
	}
	return false;
}

bool update_policy_knows_key(const struct update_policy *p, int key)
{
	for (size_t i = 0; i < p->rule_count; i++)
		if (p->rules[i].key == key)
			return true;
	return false;
}
