/* dconf.c — sovctl's configuration file (see dconf.h, docs/sovctl.md). */
#include "deployer/dconf.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/atomicfile.h"
#include "common/err.h"
#include "common/ident.h"
#include "common/path.h"
#include "common/secretfile.h"
#include "conf/json_keys.h"
#include "conf/jsonpos.h"

/* A configuration file is a few kilobytes; a megabyte is a mistake. */
#define DCONF_FILE_MAX (1u << 20)
#define TOKEN_MIN_BYTES 16

static const char *const hook_names[HOOK_KIND_COUNT] = {"deploy", "backup", "restore", "tls-renew"};

const char *dconf_hook_name(enum dconf_hook_kind k)
{
	return (unsigned)k < HOOK_KIND_COUNT ? hook_names[k] : "?";
}

int dconf_hook_parse(const char *s)
{
	for (int i = 0; i < HOOK_KIND_COUNT; i++)
		if (strcmp(s, hook_names[i]) == 0)
			return i;
	return -1;
}

/* Parsing context: the text (for positions), the file, diagnostics. */
struct pctx {
	const char *file;
	const char *text;
	size_t len;
	const char *abs; /* the configuration file, absolute (realpath) */
	diag_t *diag;
	int errors;
	char ptr[JSONPOS_POINTER_MAX]; /* JSON Pointer of the value being read */
};

__attribute__((format(printf, 3, 4))) static void perr(struct pctx *p, bool at_key, const char *fmt,
						       ...)
{
	struct jsonpos pos = {1, 1};
	jsonpos_locate(p->text, p->len, p->ptr, at_key ? JSONPOS_KEY : JSONPOS_VALUE, &pos);
	va_list ap;
	va_start(ap, fmt);
	diag_addv(p->diag, p->file, pos.line, pos.col, fmt, ap);
	va_end(ap);
	p->errors++;
}

static void push_key(struct pctx *p, const char *key)
{
	/* a pointer too deep for the buffer only loses precision in messages */
	(void)jsonpos_push_key(p->ptr, sizeof(p->ptr), key);
}

static void push_index(struct pctx *p, size_t i)
{
	(void)jsonpos_push_index(p->ptr, sizeof(p->ptr), i);
}

/* Reports every member of obj not in allowed (NULL-terminated). */
static void check_keys(struct pctx *p, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		if (!json_key_known(key, allowed)) {
			char msg[512];
			push_key(p, key);
			perr(p, true, "%s", json_unknown_key(key, allowed, msg, sizeof(msg)));
			jsonpos_pop(p->ptr);
		}
	}
}

/* path next to the configuration file, made absolute (common/path.h). NULL on ENOMEM. */
static char *resolve(const struct pctx *p, const char *path)
{
	return path_beside(p->abs, path);
}

/* Reads member key of obj as a string (required or not). NULL if absent or wrong. */
static const char *get_str(struct pctx *p, json_t *obj, const char *key, bool required)
{
	json_t *v = json_object_get(obj, key);
	const char *s = NULL;
	if (v == NULL) {
		if (required)
			perr(p, false, "missing key \"%s\"", key);
		return NULL;
	}
	push_key(p, key);
	if (!json_is_string(v))
		perr(p, false, "\"%s\" must be a string", key);
	else if (json_string_length(v) == 0 ||
		 strlen(json_string_value(v)) != json_string_length(v))
		perr(p, false, "\"%s\" must be a non-empty string without NUL bytes", key);
	else
		s = json_string_value(v);
	jsonpos_pop(p->ptr);
	return s;
}

/* Reads an optional integer member into *out within [min, max]. */
static void get_u32(struct pctx *p, json_t *obj, const char *key, uint32_t min, uint32_t max,
		    uint32_t *out)
{
	json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return;
	push_key(p, key);
	if (!json_is_integer(v))
		perr(p, false, "\"%s\" must be an integer", key);
	else if (json_integer_value(v) < (json_int_t)min || json_integer_value(v) > (json_int_t)max)
		perr(p, false, "\"%s\" must be within %u..%u", key, min, max);
	else
		*out = (uint32_t)json_integer_value(v);
	jsonpos_pop(p->ptr);
}

int dconf_read_token(const char *path, char *out, size_t cap, char *why, size_t why_cap)
{
	size_t max = cap - 1 < DCONF_TOKEN_MAX ? cap - 1 : DCONF_TOKEN_MAX;
	return secretfile_read(path, "token", TOKEN_MIN_BYTES, max, "openssl rand -hex 32", out,
			       cap, why, why_cap);
}

static void parse_instance(struct pctx *p, json_t *o, struct dconf_instance *in)
{
	static const char *const keys[] = {"name",    "api",	   "token_file",
					   "ca_file", "timeout_s", NULL};
	if (!json_is_object(o)) {
		perr(p, false, "an instance must be an object");
		return;
	}
	check_keys(p, o, keys);
	in->timeout_s = DCONF_DEFAULT_HTTP_TIMEOUT_S;
	const char *name = get_str(p, o, "name", true);
	if (name != NULL) {
		if (!ident_valid(name)) {
			push_key(p, "name");
			perr(p, false, "instance name \"%s\" must be 1..63 of [A-Za-z0-9._-]",
			     name);
			jsonpos_pop(p->ptr);
		} else {
			snprintf(in->name, sizeof(in->name), "%s", name);
		}
	}
	const char *api = get_str(p, o, "api", true);
	if (api != NULL) {
		if (strncmp(api, "http://", 7) != 0 && strncmp(api, "https://", 8) != 0) {
			push_key(p, "api");
			perr(p, false,
			     "\"api\" must be an http:// or https:// URL, e.g. "
			     "\"http://192.0.2.1:8053\"");
			jsonpos_pop(p->ptr);
		} else {
			in->api = strdup(api);
			size_t n = in->api ? strlen(in->api) : 0;
			while (n > 0 && in->api[n - 1] == '/')
				in->api[--n] = '\0';
		}
	}
	const char *tf = get_str(p, o, "token_file", true);
	if (tf != NULL) {
		in->token_file = resolve(p, tf);
		char why[PATH_MAX + 200];
		if (in->token_file != NULL &&
		    dconf_read_token(in->token_file, in->token, sizeof(in->token), why,
				     sizeof(why)) != SOV_OK) {
			push_key(p, "token_file");
			perr(p, false, "%s", why);
			jsonpos_pop(p->ptr);
		}
	}
	const char *ca = get_str(p, o, "ca_file", false);
	if (ca != NULL)
		in->ca_file = resolve(p, ca);
	get_u32(p, o, "timeout_s", 1, 300, &in->timeout_s);
}

static void env_free(struct dconf_env *e)
{
	for (size_t i = 0; i < e->count; i++)
		free(e->vars[i]);
	free(e->vars);
	e->vars = NULL;
	e->count = 0;
}

/* Sets NAME=VALUE in e, replacing an earlier NAME. */
static int env_set(struct dconf_env *e, const char *name, const char *value)
{
	char *kv = NULL;
	if (asprintf(&kv, "%s=%s", name, value) < 0)
		return SOV_ENOMEM;
	size_t nlen = strlen(name);
	for (size_t i = 0; i < e->count; i++) {
		if (strncmp(e->vars[i], name, nlen) == 0 && e->vars[i][nlen] == '=') {
			free(e->vars[i]);
			e->vars[i] = kv;
			return SOV_OK;
		}
	}
	char **n = realloc(e->vars, (e->count + 1) * sizeof(*n));
	if (n == NULL) {
		free(kv);
		return SOV_ENOMEM;
	}
	e->vars = n;
	e->vars[e->count++] = kv;
	return SOV_OK;
}

static bool valid_env_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

static void parse_env(struct pctx *p, json_t *obj, struct dconf_env *e)
{
	json_t *env = json_object_get(obj, "env");
	if (env == NULL)
		return;
	push_key(p, "env");
	if (!json_is_object(env)) {
		perr(p, false, "\"env\" must be an object of strings");
		goto finish;
	}
	const char *k;
	json_t *v;
	json_object_foreach(env, k, v)
	{
		push_key(p, k);
		if (!valid_env_name(k) || strncmp(k, "SOVCTL_", 7) == 0)
			perr(p, true,
			     "environment name \"%s\" must be [A-Za-z_][A-Za-z0-9_]* and must not "
			     "start with SOVCTL_ (those are set by sovctl)",
			     k);
		else if (!json_is_string(v) ||
			 strlen(json_string_value(v)) != json_string_length(v))
			perr(p, false, "the value of \"%s\" must be a string without NUL bytes", k);
		else if (env_set(e, k, json_string_value(v)) != SOV_OK)
			perr(p, false, "out of memory");
		jsonpos_pop(p->ptr);
	}
finish:
	jsonpos_pop(p->ptr);
}

static void parse_hook(struct pctx *p, json_t *o, struct dconf_hook *h)
{
	static const char *const keys[] = {"command", "timeout_s", NULL};
	if (!json_is_object(o)) {
		perr(p, false, "a hook must be an object: {\"command\": [...], \"timeout_s\": N}");
		return;
	}
	check_keys(p, o, keys);
	h->timeout_s = DCONF_DEFAULT_HOOK_TIMEOUT_S;
	get_u32(p, o, "timeout_s", 1, 7 * 86400, &h->timeout_s);
	json_t *cmd = json_object_get(o, "command");
	if (cmd == NULL) {
		perr(p, false, "missing key \"command\"");
		return;
	}
	push_key(p, "command");
	if (json_is_string(cmd) && json_string_length(cmd) > 0 &&
	    strlen(json_string_value(cmd)) == json_string_length(cmd)) {
		h->argv = calloc(4, sizeof(char *));
		if (h->argv != NULL) {
			h->argv[0] = strdup("/bin/sh");
			h->argv[1] = strdup("-c");
			h->argv[2] = strdup(json_string_value(cmd));
		}
		h->set = true;
	} else if (json_is_array(cmd) && json_array_size(cmd) > 0) {
		size_t n = json_array_size(cmd);
		h->argv = calloc(n + 1, sizeof(char *));
		for (size_t i = 0; h->argv != NULL && i < n; i++) {
			json_t *a = json_array_get(cmd, i);
			push_index(p, i);
			if (!json_is_string(a) || json_string_length(a) == 0 ||
			    strlen(json_string_value(a)) != json_string_length(a)) {
				perr(p, false, "command arguments must be non-empty strings");
			} else if (i == 0 && strchr(json_string_value(a), '/') != NULL) {
				h->argv[0] = resolve(p, json_string_value(a));
				if (h->argv[0] != NULL && access(h->argv[0], X_OK) != 0)
					perr(p, false, "hook program %s is not executable: %s",
					     h->argv[0], strerror(errno));
			} else {
				h->argv[i] = strdup(json_string_value(a));
			}
			jsonpos_pop(p->ptr);
		}
		h->set = true;
	} else {
		perr(p, false,
		     "\"command\" must be a non-empty array (program and arguments, no shell) or a "
		     "string (run by /bin/sh -c)");
	}
	jsonpos_pop(p->ptr);
}

static void hook_clear(struct dconf_hook *h)
{
	for (size_t i = 0; h->argv && h->argv[i]; i++)
		free(h->argv[i]);
	free(h->argv);
	memset(h, 0, sizeof(*h));
}

static void parse_dc(struct pctx *p, json_t *o, struct dconf_dc *dc, const struct dconf_env *global)
{
	static const char *const keys[] = {"id", "env", "hooks", NULL};
	if (!json_is_object(o)) {
		perr(p, false, "a datacenter must be an object");
		return;
	}
	check_keys(p, o, keys);
	const char *id = get_str(p, o, "id", true);
	if (id != NULL) {
		if (!ident_valid(id)) {
			push_key(p, "id");
			perr(p, false, "datacenter id \"%s\" must be 1..63 of [A-Za-z0-9._-]", id);
			jsonpos_pop(p->ptr);
		} else {
			snprintf(dc->id, sizeof(dc->id), "%s", id);
		}
	}
	for (size_t i = 0; i < global->count; i++) {
		char *eq = strchr(global->vars[i], '=');
		*eq = '\0';
		int rc = env_set(&dc->env, global->vars[i], eq + 1);
		*eq = '=';
		if (rc != SOV_OK)
			perr(p, false, "out of memory");
	}
	parse_env(p, o, &dc->env);
	json_t *hooks = json_object_get(o, "hooks");
	if (hooks == NULL)
		return;
	push_key(p, "hooks");
	if (!json_is_object(hooks)) {
		perr(p, false, "\"hooks\" must be an object: {\"backup\": {...}, ...}");
	} else {
		const char *k;
		json_t *v;
		json_object_foreach(hooks, k, v)
		{
			int kind = dconf_hook_parse(k);
			push_key(p, k);
			if (kind < 0)
				perr(p, true,
				     "unknown hook \"%s\" (one of deploy, backup, restore, "
				     "tls-renew)",
				     k);
			else
				parse_hook(p, v, &dc->hooks[kind]);
			jsonpos_pop(p->ptr);
		}
	}
	jsonpos_pop(p->ptr);
}

static int read_file(const char *path, char **out, size_t *len, diag_t *diag)
{
	*out = NULL;
	int ret = atomicfile_read(path, DCONF_FILE_MAX, out, len);
	switch (ret) {
	case SOV_OK:
		break;
	case SOV_EINVAL:
		diag_add(diag, path, 0, 0, "not a regular file");
		ret = SOV_EIO;
		break;
	case SOV_ESPACE:
		diag_add(diag, path, 0, 0, "larger than %u bytes", DCONF_FILE_MAX);
		ret = SOV_EIO;
		break;
	case SOV_ENOMEM:
		diag_add(diag, path, 0, 0, "out of memory");
		break;
	default:
		diag_add(diag, path, 0, 0, "cannot open: %s", strerror(errno));
		ret = SOV_EIO;
		break;
	}
	return ret;
}

int dconf_load(const char *path, dconf_t **out, diag_t *diag)
{
	int ret = SOV_ESEMANTIC;
	char *text = NULL;
	size_t len = 0;
	json_t *root = NULL;
	struct dconf_env global = {0};
	dconf_t *c = calloc(1, sizeof(*c));
	*out = NULL;
	if (c == NULL)
		return SOV_ENOMEM;
	c->lease_s = DCONF_DEFAULT_LEASE_S;
	c->verify_timeout_s = DCONF_DEFAULT_VERIFY_TIMEOUT_S;
	c->drain_slack_s = DCONF_DEFAULT_DRAIN_SLACK_S;
	c->poll_ms = DCONF_DEFAULT_POLL_MS;
	c->kill_grace_s = DCONF_DEFAULT_KILL_GRACE_S;

	ret = read_file(path, &text, &len, diag);
	if (ret != SOV_OK)
		goto finish;
	struct pctx p = {.file = path, .text = text, .len = len, .diag = diag};
	char *abs = realpath(path, NULL);
	if (abs == NULL) {
		diag_add(diag, path, 0, 0, "cannot resolve the path: %s", strerror(errno));
		ret = SOV_EIO;
		goto finish;
	}
	c->path = abs;
	p.abs = abs;
	c->dir = path_dir(abs);

	json_error_t jerr;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		diag_add(diag, path, (unsigned)(jerr.line > 0 ? jerr.line : 1),
			 (unsigned)(jerr.column > 0 ? jerr.column : 1), "%s", jerr.text);
		ret = SOV_EPARSE;
		goto finish;
	}
	if (!json_is_object(root)) {
		perr(&p, false, "the configuration must be a JSON object");
		goto check;
	}
	static const char *const keys[] = {
	    "instances",	"datacenters",	    "log_dir", "state_file",
	    "lease_s",		"verify_timeout_s", "env",     "drain_slack_s",
	    "poll_interval_ms", "kill_grace_s",	    NULL};
	check_keys(&p, root, keys);

	json_t *insts = json_object_get(root, "instances");
	push_key(&p, "instances");
	if (!json_is_array(insts) || json_array_size(insts) == 0) {
		perr(&p, false,
		     "\"instances\" must be a non-empty array: every sovdns instance, "
		     "{\"name\", \"api\", \"token_file\"}");
	} else {
		c->instance_count = json_array_size(insts);
		c->instances = calloc(c->instance_count, sizeof(*c->instances));
		for (size_t i = 0; c->instances && i < c->instance_count; i++) {
			push_index(&p, i);
			parse_instance(&p, json_array_get(insts, i), &c->instances[i]);
			for (size_t j = 0; j < i && c->instances[i].name[0]; j++)
				if (strcmp(c->instances[i].name, c->instances[j].name) == 0)
					perr(&p, false, "instance \"%s\" is listed twice",
					     c->instances[i].name);
			jsonpos_pop(p.ptr);
		}
	}
	jsonpos_pop(p.ptr);

	parse_env(&p, root, &global);

	json_t *dcs = json_object_get(root, "datacenters");
	push_key(&p, "datacenters");
	if (dcs != NULL && !json_is_array(dcs)) {
		perr(&p, false, "\"datacenters\" must be an array of {\"id\", \"env\", \"hooks\"}");
	} else if (dcs != NULL) {
		c->dc_count = json_array_size(dcs);
		c->dcs = calloc(c->dc_count ? c->dc_count : 1, sizeof(*c->dcs));
		for (size_t i = 0; c->dcs && i < c->dc_count; i++) {
			push_index(&p, i);
			parse_dc(&p, json_array_get(dcs, i), &c->dcs[i], &global);
			for (size_t j = 0; j < i && c->dcs[i].id[0]; j++)
				if (strcmp(c->dcs[i].id, c->dcs[j].id) == 0)
					perr(&p, false, "datacenter \"%s\" is listed twice",
					     c->dcs[i].id);
			jsonpos_pop(p.ptr);
		}
	}
	jsonpos_pop(p.ptr);

	const char *ld = get_str(&p, root, "log_dir", true);
	if (ld != NULL)
		c->log_dir = resolve(&p, ld);
	const char *sf = get_str(&p, root, "state_file", true);
	if (sf != NULL)
		c->state_file = resolve(&p, sf);
	get_u32(&p, root, "lease_s", 3, 604800, &c->lease_s);
	get_u32(&p, root, "verify_timeout_s", 1, 86400, &c->verify_timeout_s);
	get_u32(&p, root, "drain_slack_s", 1, 3600, &c->drain_slack_s);
	get_u32(&p, root, "poll_interval_ms", 50, 60000, &c->poll_ms);
	get_u32(&p, root, "kill_grace_s", 0, 600, &c->kill_grace_s);
check:
	if (p.errors == 0 && (c->instances == NULL || c->dir == NULL))
		perr(&p, false, "out of memory");
	ret = p.errors ? SOV_ESEMANTIC : SOV_OK;
finish:
	env_free(&global);
	json_decref(root);
	free(text);
	if (ret == SOV_OK)
		*out = c;
	else
		dconf_free(c);
	return ret;
}

void dconf_free(dconf_t *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->instance_count; i++) {
		struct dconf_instance *in = &c->instances[i];
		explicit_bzero(in->token, sizeof(in->token));
		free(in->api);
		free(in->token_file);
		free(in->ca_file);
	}
	free(c->instances);
	for (size_t i = 0; i < c->dc_count && c->dcs; i++) {
		env_free(&c->dcs[i].env);
		for (int k = 0; k < HOOK_KIND_COUNT; k++)
			hook_clear(&c->dcs[i].hooks[k]);
	}
	free(c->dcs);
	free(c->log_dir);
	free(c->state_file);
	free(c->path);
	free(c->dir);
	free(c);
}

const struct dconf_dc *dconf_dc_find(const dconf_t *c, const char *id)
{
	for (size_t i = 0; i < c->dc_count; i++)
		if (strcmp(c->dcs[i].id, id) == 0)
			return &c->dcs[i];
	return NULL;
}

const struct dconf_instance *dconf_instance_find(const dconf_t *c, const char *name)
{
	for (size_t i = 0; i < c->instance_count; i++)
		if (strcmp(c->instances[i].name, name) == 0)
			return &c->instances[i];
	return NULL;
}
