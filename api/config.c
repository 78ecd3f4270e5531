/* config.c — the "api" section and "state_dir" of the sovdns configuration. */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/auth.h"
#include "api/events.h"
#include "api/ops.h"
#include "api/util.h"
#include "common/addr.h"
#include "common/err.h"
#include "common/ident.h"
#include "common/path.h"
#include "conf/json_keys.h"
#include "conf/jsonpos.h"

void api_config_init(struct api_config *c)
{
	memset(c, 0, sizeof(*c));
	struct sockaddr_in *a = (struct sockaddr_in *)(void *)&c->listen;
	a->sin_family = AF_INET;
	a->sin_port = htons(API_DEFAULT_PORT);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->listen_len = sizeof(*a);
	c->threads = API_DEFAULT_THREADS;
	c->max_connections = API_DEFAULT_MAX_CONNECTIONS;
	c->timeout_s = API_DEFAULT_TIMEOUT_S;
	c->header_timeout_s = API_DEFAULT_HEADER_TIMEOUT_S;
	c->max_connections_per_client = API_DEFAULT_MAX_CONNECTIONS_PER_CLIENT;
	c->body_max_bytes = API_DEFAULT_BODY_MAX;
	c->drain_margin_s = ADMIN_DEFAULT_MARGIN_S;
	c->events_max = EVENTS_DEFAULT_CAPACITY;
	c->operations_keep = OP_DEFAULT_KEEP;
	c->notify_timeout_ms = EVENTS_DEFAULT_NOTIFY_TIMEOUT_MS;
}

void api_config_clear(struct api_config *c)
{
	free(c->state_dir);
	free(c->tls_cert);
	free(c->tls_key);
	for (size_t i = 0; i < c->token_count; i++) {
		free(c->tokens[i].name);
		free(c->tokens[i].file);
		free(c->tokens[i].scope);
	}
	free(c->tokens);
	free(c->audit_log);
	for (size_t i = 0; c->notify_argv && c->notify_argv[i]; i++)
		free(c->notify_argv[i]);
	free(c->notify_argv);
	api_config_init(c);
}

/* Parsing context: file name, directory for relative paths, diagnostics. */
struct pctx {
	const char *file;
	diag_t *diag;
	int errors;
};

/*
 * Position of a value in the file. jansson does not keep positions for
 * values; conf/jsonpos.h maps a value of a configuration config_load()
 * registered (jsonpos_doc_value) back to line:column in its text. A value
 * from no registered document (built in memory, e.g. by a test) is at 0:0
 * ("unknown", printed as 1:1).
 */
static void value_pos(const json_t *v, unsigned *line, unsigned *col)
{
	if (v == NULL || !jsonpos_doc_value(v, line, col)) {
		*line = 0;
		*col = 0;
	}
}

__attribute__((format(printf, 3, 4))) static void perr(struct pctx *p, const json_t *at,
						       const char *fmt, ...)
{
	unsigned line, col;
	value_pos(at, &line, &col);
	va_list ap;
	va_start(ap, fmt);
	diag_addv(p->diag, p->file, line, col, fmt, ap);
	va_end(ap);
	p->errors++;
}

/* path next to the configuration file (common/path.h); NULL on ENOMEM. */
static char *resolve(struct pctx *p, const char *path)
{
	return path_beside(p->file, path);
}

static bool get_uint(struct pctx *p, const json_t *obj, const char *key, const char *where,
		     unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return false;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (unsigned long long)json_integer_value(v) < lo ||
	    (unsigned long long)json_integer_value(v) > hi) {
		perr(p, v, "%s.%s must be an integer from %llu to %llu", where, key, lo, hi);
		return false;
	}
	*out = (unsigned long long)json_integer_value(v);
	return true;
}

static bool get_bool(struct pctx *p, const json_t *obj, const char *key, const char *where,
		     bool *out)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return false;
	if (!json_is_boolean(v)) {
		perr(p, v, "%s.%s must be true or false", where, key);
		return false;
	}
	*out = json_is_true(v);
	return true;
}

static const char *get_str(struct pctx *p, const json_t *obj, const char *key, const char *where)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return NULL;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		perr(p, v, "%s.%s must be a non-empty string", where, key);
		return NULL;
	}
	return json_string_value(v);
}

/* Refuses members not in keys (NULL-terminated). */
static void check_keys(struct pctx *p, const json_t *obj, const char *where,
		       const char *const *keys)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)obj, key, v)
	{
		char msg[512];
		if (!json_key_known(key, keys))
			perr(p, v, "%s: %s", where, json_unknown_key(key, keys, msg, sizeof(msg)));
	}
}

/* "127.0.0.1:8053", "[::1]:8053", "127.0.0.1", "::1" (common/addr.h), and
 * also port 0 = any free port (tests), which addr_parse() refuses for a
 * server that must be reachable at a known port. */
static int parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	sov_sockaddr_t a;
	int rc = addr_parse(text, API_DEFAULT_PORT, &a);
	size_t n = strlen(text);
	if (rc != SOV_OK && n > 2 && strcmp(text + n - 2, ":0") == 0 && n - 2 < ADDR_STR_MAX) {
		char host[ADDR_STR_MAX];
		memcpy(host, text, n - 2);
		host[n - 2] = '\0';
		/* "[::1]:0" → "[::1]"; "127.0.0.1:0" → "127.0.0.1" (a bare "::1:0"
		 * is an IPv6 address, not a port) */
		if (host[0] == '[' || strchr(host, ':') == NULL)
			rc = addr_parse(host, 0, &a);
	}
	if (rc != SOV_OK)
		return rc;
	*ss = a.ss;
	*len = a.len;
	return SOV_OK;
}

/* Is id one of the configured datacenters (root's "datacenters"[].id)? */
static bool dc_configured(const json_t *root, const char *id)
{
	size_t i;
	const json_t *d;
	json_array_foreach(json_object_get(root, "datacenters"), i, d)
	{
		const json_t *v = json_object_get(d, "id");
		if (json_is_string(v) && strcmp(json_string_value(v), id) == 0)
			return true;
	}
	return false;
}

/* The configured datacenter ids, "a, b" (for a message). */
static void dc_list(const json_t *root, char *buf, size_t cap)
{
	size_t i, used = 0;
	const json_t *d;
	buf[0] = '\0';
	json_array_foreach(json_object_get(root, "datacenters"), i, d)
	{
		const json_t *v = json_object_get(d, "id");
		if (json_is_string(v) && used < cap)
			used += (size_t)snprintf(buf + used, cap - used, "%s%s", used ? ", " : "",
						 json_string_value(v));
	}
	if (buf[0] == '\0')
		snprintf(buf, cap, "none");
}

static void parse_tokens(struct pctx *p, const json_t *root, const json_t *arr,
			 struct api_config *out)
{
	static const char *const keys[] = {"name", "file", "scope", NULL};
	if (!json_is_array(arr)) {
		perr(p, arr, "api.tokens must be an array of {\"name\", \"file\", \"scope\"}");
		return;
	}
	out->tokens = calloc(json_array_size(arr) + 1, sizeof(*out->tokens));
	if (out->tokens == NULL) {
		perr(p, arr, "out of memory");
		return;
	}
	size_t i;
	const json_t *t;
	json_array_foreach(arr, i, t)
	{
		char where[48];
		snprintf(where, sizeof(where), "api.tokens[%zu]", i);
		if (!json_is_object(t)) {
			perr(p, t, "%s must be an object", where);
			continue;
		}
		check_keys(p, t, where, keys);
		const char *name = get_str(p, t, "name", where);
		const char *file = get_str(p, t, "file", where);
		const char *scope = get_str(p, t, "scope", where);
		if (name == NULL || file == NULL || scope == NULL) {
			if (!json_object_get(t, "name") || !json_object_get(t, "file") ||
			    !json_object_get(t, "scope"))
				perr(p, t, "%s needs \"name\", \"file\" and \"scope\"", where);
			continue;
		}
		if (!ident_valid(name)) {
			perr(p, json_object_get(t, "name"),
			     "%s.name \"%s\" must be 1..63 of [A-Za-z0-9._-]", where, name);
			continue;
		}
		for (size_t k = 0; k < out->token_count; k++)
			if (strcmp(out->tokens[k].name, name) == 0)
				perr(p, t, "%s: token name \"%s\" is used twice", where, name);
		enum auth_level lvl;
		char **dcs = NULL;
		char why[256];
		if (auth_scope_parse(scope, &lvl, &dcs, why, sizeof(why)) != SOV_OK) {
			perr(p, json_object_get(t, "scope"), "%s.scope: %s", where, why);
			continue;
		}
		/* a scope for a datacenter that does not exist grants nothing: a
		 * typo here would surface only when a deploy's drain gets 404 */
		for (size_t k = 0; dcs != NULL && dcs[k] != NULL; k++) {
			if (dc_configured(root, dcs[k]))
				continue;
			char known[256];
			dc_list(root, known, sizeof(known));
			perr(p, json_object_get(t, "scope"),
			     "%s.scope: datacenter \"%s\" is not configured (datacenters: %s)",
			     where, dcs[k], known);
		}
		auth_dcs_free(dcs);
		struct api_token_conf *tc = &out->tokens[out->token_count];
		tc->name = strdup(name);
		tc->file = resolve(p, file);
		tc->scope = strdup(scope);
		out->token_count++;
		if (!tc->name || !tc->file || !tc->scope)
			perr(p, t, "%s: out of memory", where);
	}
}

static void parse_notify(struct pctx *p, const json_t *n, struct api_config *out)
{
	static const char *const keys[] = {"command", "timeout_ms", NULL};
	if (!json_is_object(n)) {
		perr(p, n, "api.notify must be an object");
		return;
	}
	check_keys(p, n, "api.notify", keys);
	const json_t *cmd = json_object_get(n, "command");
	if (!json_is_array(cmd) || json_array_size(cmd) == 0) {
		perr(p, cmd ? cmd : n,
		     "api.notify.command must be a non-empty array: the program and its arguments "
		     "(no shell), e.g. [\"/usr/local/bin/alert\", \"--chat\"]");
		return;
	}
	out->notify_argv = calloc(json_array_size(cmd) + 1, sizeof(char *));
	if (out->notify_argv == NULL) {
		perr(p, cmd, "out of memory");
		return;
	}
	size_t i;
	const json_t *a;
	json_array_foreach(cmd, i, a)
	{
		if (!json_is_string(a) || json_string_length(a) == 0 ||
		    strlen(json_string_value(a)) != json_string_length(a)) {
			perr(p, a, "api.notify.command[%zu] must be a non-empty string", i);
			continue;
		}
		out->notify_argv[i] = strdup(json_string_value(a));
		if (out->notify_argv[i] == NULL) {
			perr(p, a, "out of memory");
			return;
		}
	}
	unsigned long long v;
	if (get_uint(p, n, "timeout_ms", "api.notify", 1, 600000, &v))
		out->notify_timeout_ms = (uint32_t)v;
}

int api_config_parse(const json_t *root, const char *file, struct api_config *out, diag_t *diag)
{
	static const char *const keys[] = {"enabled",
					   "listen",
					   "tls",
					   "tokens",
					   "read_without_token",
					   "threads",
					   "max_connections",
					   "max_connections_per_client",
					   "timeout_s",
					   "header_timeout_s",
					   "body_max_bytes",
					   "drain_margin_s",
					   "audit_log",
					   "events_max",
					   "operations_keep",
					   "notify",
					   NULL};
	struct pctx p = {.file = file, .diag = diag};
	api_config_init(out);
	if (!json_is_object(root)) {
		perr(&p, root, "the configuration must be a JSON object");
		goto finish;
	}
	const char *sd = get_str(&p, root, "state_dir", "config");
	if (sd != NULL) {
		out->state_dir = resolve(&p, sd);
		if (out->state_dir == NULL)
			perr(&p, json_object_get(root, "state_dir"), "state_dir: out of memory");
	} else if (json_object_get(root, "state_dir") == NULL) {
		perr(&p, root,
		     "\"state_dir\" is required: the directory where drains, maintenance and "
		     "operations are kept across restarts (e.g. \"/var/lib/sovdns\")");
	}
	const json_t *api = json_object_get(root, "api");
	if (api == NULL)
		goto finish;
	if (!json_is_object(api)) {
		perr(&p, api, "\"api\" must be an object");
		goto finish;
	}
	check_keys(&p, api, "api", keys);
	out->http_enabled = true;
	(void)get_bool(&p, api, "enabled", "api", &out->http_enabled);
	const char *listen = get_str(&p, api, "listen", "api");
	if (listen != NULL && parse_listen(listen, &out->listen, &out->listen_len) != SOV_OK)
		perr(&p, json_object_get(api, "listen"),
		     "api.listen \"%s\" is not an address (expected e.g. \"127.0.0.1:8053\" or "
		     "\"[::1]:8053\")",
		     listen);
	const json_t *tls = json_object_get(api, "tls");
	if (tls != NULL) {
		static const char *const tkeys[] = {"cert", "key", NULL};
		if (!json_is_object(tls)) {
			perr(&p, tls, "api.tls must be an object {\"cert\": FILE, \"key\": FILE}");
		} else {
			check_keys(&p, tls, "api.tls", tkeys);
			const char *cert = get_str(&p, tls, "cert", "api.tls");
			const char *key = get_str(&p, tls, "key", "api.tls");
			if (cert == NULL || key == NULL) {
				perr(&p, tls,
				     "api.tls needs both \"cert\" and \"key\" (PEM files)");
			} else {
				out->tls_cert = resolve(&p, cert);
				out->tls_key = resolve(&p, key);
			}
		}
	}
	const json_t *tokens = json_object_get(api, "tokens");
	if (tokens != NULL)
		parse_tokens(&p, root, tokens, out);
	(void)get_bool(&p, api, "read_without_token", "api", &out->read_without_token);
	unsigned long long v;
	if (get_uint(&p, api, "threads", "api", 1, 64, &v))
		out->threads = (unsigned)v;
	if (get_uint(&p, api, "max_connections", "api", 1, 10000, &v))
		out->max_connections = (unsigned)v;
	if (get_uint(&p, api, "max_connections_per_client", "api", 1, 10000, &v))
		out->max_connections_per_client = (unsigned)v;
	if (get_uint(&p, api, "timeout_s", "api", 1, 3600, &v))
		out->timeout_s = (unsigned)v;
	if (get_uint(&p, api, "header_timeout_s", "api", 1, 300, &v))
		out->header_timeout_s = (unsigned)v;
	if (get_uint(&p, api, "body_max_bytes", "api", 1024, 16u << 20, &v))
		out->body_max_bytes = (size_t)v;
	if (get_uint(&p, api, "drain_margin_s", "api", 0, 3600, &v))
		out->drain_margin_s = (uint32_t)v;
	if (get_uint(&p, api, "events_max", "api", 1, 100000, &v))
		out->events_max = (size_t)v;
	if (get_uint(&p, api, "operations_keep", "api", 1, 100000, &v))
		out->operations_keep = (size_t)v;
	const char *audit = get_str(&p, api, "audit_log", "api");
	if (audit != NULL)
		out->audit_log = resolve(&p, audit);
	const json_t *notify = json_object_get(api, "notify");
	if (notify != NULL)
		parse_notify(&p, notify, out);
	if (out->http_enabled && out->token_count == 0 && !out->read_without_token)
		perr(&p, api,
		     "api: no tokens are configured and read routes are not open, so nobody could "
		     "use the API; add \"tokens\" or set \"enabled\": false");
finish:
	if (p.errors > 0) {
		api_config_clear(out);
		return SOV_ESEMANTIC;
	}
	return SOV_OK;
}
