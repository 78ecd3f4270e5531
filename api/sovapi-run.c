/* sovapi-run — the HTTP API with a fake DNS backend, for tests and demos.
 *
 *   sovapi-run --config CONFIG.json --backend BACKEND.json [--port-file FILE]
 *
 * CONFIG is a sovdns configuration; only "state_dir" and "api" are read.
 * BACKEND describes what the DNS part would know:
 *   {"version": "x", "zones": [{"origin": "example.com.", "serial": 1}],
 *    "datacenters": [{"id": "dc-a", "health": "up", ...any other members
 *                     are shown by GET /v1/datacenters...}],
 *    "services": [{"name": "www.example.com.", "policy": "failover",
 *                  "ttl_s": 30, "datacenters": ["dc-a", "dc-b"]}],
 *    "networks": {"198.51.100.0/24": "dc-b"}}
 * and is read again on SIGHUP or POST /v1/reload (the datacenter list must
 * stay the same; health changes become health events). Answers follow
 * DESIGN.md: usable = health up/unknown and admin active; failover takes
 * the first usable, all takes every usable one, nearest takes the
 * datacenter of the client's network if usable, else the first usable;
 * with none usable, fail-open names every datacenter not drained or in
 * maintenance (and if none, all of them).
 *
 * Test seam: if the environment variable SOVAPI_FAIL_WRITES names a file,
 * state writes fail with ENOSPC while that file exists.
 * With --port-file the bound port is written there once the server listens.
 * SIGTERM/SIGINT stop it cleanly.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "common/atomicfile.h"
#include "common/err.h"
#include "common/log.h"

#define MAX_DCS 32
#define MAX_SERVICES 64
#define MAX_NETS 64

struct fake_service {
	struct api_service_view v;
	size_t order[API_SERVICE_DCS_MAX];
};

struct fake_net {
	int family;
	uint8_t addr[16];
	unsigned prefix;
	size_t dc;
};

/* One loaded backend description; replaced whole on reload. */
struct fake_state {
	json_t *doc;
	enum api_health health[MAX_DCS];
	int64_t health_changed_ms[MAX_DCS];
	struct fake_service services[MAX_SERVICES];
	size_t service_count;
	struct fake_net nets[MAX_NETS];
	size_t net_count;
	int64_t loaded_ms;
};

struct fake {
	const char *path;
	pthread_rwlock_t lock;
	struct fake_state *st;
	size_t dc_count;
	char *dc_ids[MAX_DCS];
	uint32_t max_ttl_seen[MAX_DCS]; /* never lowered: answers given before a reload count */
	api_t *api;			/* set once the API exists */
	int64_t started_ms;
	uint64_t reloads;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dc_index(const struct fake *f, const char *id)
{
	for (size_t i = 0; i < f->dc_count; i++)
		if (strcmp(f->dc_ids[i], id) == 0)
			return (int)i;
	return -1;
}

static int parse_health(const char *s, enum api_health *out)
{
	if (strcmp(s, "up") == 0)
		*out = API_HEALTH_UP;
	else if (strcmp(s, "down") == 0)
		*out = API_HEALTH_DOWN;
	else if (strcmp(s, "unknown") == 0)
		*out = API_HEALTH_UNKNOWN;
	else
		return SOV_EINVAL;
	return SOV_OK;
}

static int parse_net(const char *text, struct fake_net *n)
{
	char buf[64];
	const char *slash = strchr(text, '/');
	if (slash == NULL || (size_t)(slash - text) >= sizeof(buf))
		return SOV_EINVAL;
	memcpy(buf, text, (size_t)(slash - text));
	buf[slash - text] = '\0';
	n->prefix = (unsigned)atoi(slash + 1);
	if (inet_pton(AF_INET, buf, n->addr) == 1 && n->prefix <= 32)
		n->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, n->addr) == 1 && n->prefix <= 128)
		n->family = AF_INET6;
	else
		return SOV_EINVAL;
	return SOV_OK;
}

static bool net_has(const struct fake_net *n, int family, const uint8_t *a)
{
	if (n->family != family)
		return false;
	unsigned full = n->prefix / 8, rest = n->prefix % 8;
	if (memcmp(n->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (n->addr[full] & mask) == (a[full] & mask);
}

static void state_free(struct fake_state *s)
{
	if (s == NULL)
		return;
	json_decref(s->doc);
	free(s);
}

/*
 * Loads the backend file. At start (f->dc_count == 0) it fixes the
 * datacenter list; later it must match. SOV_OK or an error in why.
 */
static int fake_load(struct fake *f, struct fake_state **out, char *why, size_t cap)
{
	int rc = SOV_EPARSE;
	json_error_t jerr;
	struct fake_state *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(why, cap, "out of memory");
		return SOV_ENOMEM;
	}
	s->loaded_ms = now_ms();
	s->doc = json_load_file(f->path, JSON_REJECT_DUPLICATES, &jerr);
	if (s->doc == NULL) {
		snprintf(why, cap, "%s:%d:%d: %s", f->path, jerr.line, jerr.column, jerr.text);
		goto finish;
	}
	const json_t *dcs = json_object_get(s->doc, "datacenters");
	if (!json_is_array(dcs) || json_array_size(dcs) == 0 || json_array_size(dcs) > MAX_DCS) {
		snprintf(why, cap, "%s: \"datacenters\" must be an array of 1..%d objects", f->path,
			 MAX_DCS);
		goto finish;
	}
	bool first = f->dc_count == 0;
	if (!first && json_array_size(dcs) != f->dc_count) {
		snprintf(why, cap, "%s: the datacenter list changed; restart to change it",
			 f->path);
		goto finish;
	}
	size_t i;
	const json_t *d;
	json_array_foreach(dcs, i, d)
	{
		const char *id = json_string_value(json_object_get(d, "id"));
		const char *h = json_string_value(json_object_get(d, "health"));
		if (id == NULL || h == NULL || parse_health(h, &s->health[i]) != SOV_OK) {
			snprintf(
			    why, cap,
			    "%s: datacenters[%zu] needs \"id\" and \"health\" (up, down, unknown)",
			    f->path, i);
			goto finish;
		}
		if (first) {
			f->dc_ids[i] = strdup(id);
			f->dc_count = i + 1;
		} else if (strcmp(f->dc_ids[i], id) != 0) {
			snprintf(why, cap, "%s: the datacenter list changed; restart to change it",
				 f->path);
			goto finish;
		}
		s->health_changed_ms[i] = f->st && f->st->health[i] == s->health[i]
					      ? f->st->health_changed_ms[i]
					      : (f->st ? s->loaded_ms : 0);
	}
	const json_t *svcs = json_object_get(s->doc, "services");
	if (!json_is_array(svcs) || json_array_size(svcs) > MAX_SERVICES) {
		snprintf(why, cap, "%s: \"services\" must be an array", f->path);
		goto finish;
	}
	json_array_foreach(svcs, i, d)
	{
		struct api_service_view *v = &s->services[i].v;
		const char *name = json_string_value(json_object_get(d, "name"));
		const char *policy = json_string_value(json_object_get(d, "policy"));
		const json_t *ttl = json_object_get(d, "ttl_s");
		const json_t *list = json_object_get(d, "datacenters");
		if (name == NULL || policy == NULL || !json_is_integer(ttl) ||
		    !json_is_array(list) || json_array_size(list) > API_SERVICE_DCS_MAX) {
			snprintf(why, cap,
				 "%s: services[%zu] needs \"name\", \"policy\", \"ttl_s\", "
				 "\"datacenters\"",
				 f->path, i);
			goto finish;
		}
		snprintf(v->name, sizeof(v->name), "%s", name);
		snprintf(v->policy, sizeof(v->policy), "%s", policy);
		v->ttl_s = (uint32_t)json_integer_value(ttl);
		size_t j;
		const json_t *e;
		json_array_foreach(list, j, e)
		{
			int k = json_is_string(e) ? dc_index(f, json_string_value(e)) : -1;
			if (k < 0) {
				snprintf(why, cap, "%s: services[%zu]: unknown datacenter", f->path,
					 i);
				goto finish;
			}
			v->dcs[j].dc = (size_t)k;
			v->dcs[j].health_ok = s->health[k] != API_HEALTH_DOWN;
			v->dc_count = j + 1;
		}
		s->service_count = i + 1;
	}
	const json_t *nets = json_object_get(s->doc, "networks");
	const char *key;
	const json_t *val;
	json_object_foreach((json_t *)nets, key, val)
	{
		if (s->net_count == MAX_NETS)
			break;
		struct fake_net *n = &s->nets[s->net_count];
		int k = json_is_string(val) ? dc_index(f, json_string_value(val)) : -1;
		if (parse_net(key, n) != SOV_OK || k < 0) {
			snprintf(why, cap, "%s: networks: bad entry \"%s\"", f->path, key);
			goto finish;
		}
		n->dc = (size_t)k;
		s->net_count++;
	}
	for (size_t k = 0; k < s->service_count; k++)
		for (size_t j = 0; j < s->services[k].v.dc_count; j++) {
			size_t dc = s->services[k].v.dcs[j].dc;
			if (s->services[k].v.ttl_s > f->max_ttl_seen[dc])
				f->max_ttl_seen[dc] = s->services[k].v.ttl_s;
		}
	*out = s;
	s = NULL;
	rc = SOV_OK;
finish:
	state_free(s);
	return rc;
}

/* ---- answers (DESIGN.md) ---- */

static bool usable(const struct fake *f, const struct fake_state *s,
		   const struct api_service_view *v, size_t j)
{
	size_t dc = v->dcs[j].dc;
	return v->dcs[j].health_ok &&
	       (f->api == NULL || api_admin_state(f->api, dc) == ADMIN_ACTIVE) &&
	       s->health[dc] != API_HEALTH_DOWN;
}

/* Fills chosen[] with the datacenters named for a client (NULL: any). */
static size_t choose(const struct fake *f, const struct fake_state *s,
		     const struct api_service_view *v, int family, const uint8_t *addr,
		     size_t *chosen, bool *fail_open)
{
	size_t n = 0;
	*fail_open = false;
	if (strcmp(v->policy, "nearest") == 0 && addr != NULL) {
		for (size_t k = 0; k < s->net_count; k++) {
			if (!net_has(&s->nets[k], family, addr))
				continue;
			for (size_t j = 0; j < v->dc_count; j++)
				if (v->dcs[j].dc == s->nets[k].dc && usable(f, s, v, j)) {
					chosen[0] = v->dcs[j].dc;
					return 1;
				}
		}
	}
	for (size_t j = 0; j < v->dc_count; j++) {
		if (!usable(f, s, v, j))
			continue;
		chosen[n++] = v->dcs[j].dc;
		if (strcmp(v->policy, "all") != 0)
			return n;
	}
	if (n > 0)
		return n;
	*fail_open = true;
	for (size_t j = 0; j < v->dc_count; j++) {
		enum admin_state a = f->api ? api_admin_state(f->api, v->dcs[j].dc) : ADMIN_ACTIVE;
		if (a != ADMIN_DRAINED && a != ADMIN_MAINTENANCE)
			chosen[n++] = v->dcs[j].dc;
	}
	if (n == 0)
		for (size_t j = 0; j < v->dc_count; j++)
			chosen[n++] = v->dcs[j].dc;
	return n;
}

/* ---- the backend callbacks ---- */

static json_t *cb_status(void *ctx)
{
	struct fake *f = ctx;
	char t[40];
	pthread_rwlock_rdlock(&f->lock);
	time_t sec = (time_t)(f->st->loaded_ms / 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
	const json_t *zones = json_object_get(f->st->doc, "zones");
	const char *ver = json_string_value(json_object_get(f->st->doc, "version"));
	json_t *o = json_pack("{s:s, s:I, s:O, s:s}", "version", ver ? ver : SOVDNS_VERSION,
			      "uptime_s", (json_int_t)((now_ms() - f->started_ms) / 1000), "zones",
			      zones ? zones : json_array(), "snapshot_loaded_at", t);
	pthread_rwlock_unlock(&f->lock);
	return o;
}

static int cb_dc_view(void *ctx, size_t dc, struct api_dc_view *out)
{
	struct fake *f = ctx;
	if (dc >= f->dc_count)
		return SOV_ENOENT;
	pthread_rwlock_rdlock(&f->lock);
	const struct fake_state *s = f->st;
	out->health = s->health[dc];
	out->health_changed_ms = s->health_changed_ms[dc];
	out->in_answers = false;
	for (size_t i = 0; i < s->service_count && !out->in_answers; i++) {
		const struct api_service_view *v = &s->services[i].v;
		size_t chosen[API_SERVICE_DCS_MAX];
		bool fo;
		/* "all" policy shows every usable datacenter, which is what any policy may name */
		struct api_service_view all = *v;
		snprintf(all.policy, sizeof(all.policy), "all");
		size_t n = choose(f, s, &all, 0, NULL, chosen, &fo);
		for (size_t k = 0; k < n; k++)
			out->in_answers |= chosen[k] == dc;
	}
	json_t *extra = json_deep_copy(json_array_get(json_object_get(s->doc, "datacenters"), dc));
	if (extra != NULL) {
		json_object_del(extra, "id");
		json_object_del(extra, "health");
	}
	out->extra = extra;
	pthread_rwlock_unlock(&f->lock);
	return SOV_OK;
}

static uint32_t cb_dc_max_ttl_s(void *ctx, size_t dc)
{
	struct fake *f = ctx;
	pthread_rwlock_rdlock(&f->lock);
	uint32_t t = dc < f->dc_count ? f->max_ttl_seen[dc] : 0;
	pthread_rwlock_unlock(&f->lock);
	return t;
}

static size_t cb_service_count(void *ctx)
{
	struct fake *f = ctx;
	pthread_rwlock_rdlock(&f->lock);
	size_t n = f->st->service_count;
	pthread_rwlock_unlock(&f->lock);
	return n;
}

static int cb_service_view(void *ctx, size_t i, struct api_service_view *out)
{
	struct fake *f = ctx;
	int rc = SOV_ENOENT;
	pthread_rwlock_rdlock(&f->lock);
	if (i < f->st->service_count) {
		*out = f->st->services[i].v;
		rc = SOV_OK;
	}
	pthread_rwlock_unlock(&f->lock);
	return rc;
}

static int cb_answer(void *ctx, const char *service, const struct sockaddr *client, json_t **out)
{
	struct fake *f = ctx;
	int rc = SOV_ENOENT;
	const uint8_t *addr = NULL;
	if (client->sa_family == AF_INET)
		addr =
		    (const uint8_t *)&((const struct sockaddr_in *)(const void *)client)->sin_addr;
	else if (client->sa_family == AF_INET6)
		addr = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)client)
			   ->sin6_addr;
	pthread_rwlock_rdlock(&f->lock);
	const struct fake_state *s = f->st;
	for (size_t i = 0; i < s->service_count; i++) {
		const struct api_service_view *v = &s->services[i].v;
		if (strcmp(v->name, service) != 0)
			continue;
		size_t chosen[API_SERVICE_DCS_MAX];
		bool fo;
		size_t n = choose(f, s, v, client->sa_family, addr, chosen, &fo);
		json_t *dcs = json_array(), *addrs = json_array();
		for (size_t k = 0; k < n; k++) {
			json_array_append_new(dcs, json_string(f->dc_ids[chosen[k]]));
			const json_t *a = json_object_get(
			    json_array_get(json_object_get(s->doc, "datacenters"), chosen[k]),
			    "addresses");
			if (json_is_array(a))
				json_array_extend(addrs, (json_t *)a);
		}
		*out =
		    json_pack("{s:s, s:o, s:o, s:I, s:b}", "policy", v->policy, "datacenters", dcs,
			      "addresses", addrs, "ttl_s", (json_int_t)v->ttl_s, "fail_open", fo);
		rc = *out ? SOV_OK : SOV_ENOMEM;
		break;
	}
	pthread_rwlock_unlock(&f->lock);
	return rc;
}

static int cb_reload(void *ctx, char *why, size_t cap)
{
	struct fake *f = ctx;
	struct fake_state *n = NULL;
	pthread_rwlock_wrlock(&f->lock);
	int rc = fake_load(f, &n, why, cap);
	struct fake_state *old = f->st;
	enum api_health changed_from[MAX_DCS];
	bool changed[MAX_DCS] = {false};
	if (rc == SOV_OK) {
		for (size_t i = 0; i < f->dc_count; i++) {
			changed[i] = old->health[i] != n->health[i];
			changed_from[i] = old->health[i];
		}
		f->st = n;
		f->reloads++;
	}
	pthread_rwlock_unlock(&f->lock);
	if (rc != SOV_OK)
		return rc;
	for (size_t i = 0; i < f->dc_count; i++)
		if (changed[i] && f->api != NULL)
			api_event_health(f->api, i, changed_from[i], n->health[i],
					 "backend file reloaded");
	state_free(old);
	return SOV_OK;
}

static int cb_metrics(void *ctx, FILE *out)
{
	struct fake *f = ctx;
	pthread_rwlock_rdlock(&f->lock);
	fprintf(out,
		"# HELP sovdns_datacenter_health Health of each datacenter as the probes see it.\n"
		"# TYPE sovdns_datacenter_health gauge\n");
	static const char *const names[] = {"unknown", "up", "down"};
	for (size_t i = 0; i < f->dc_count; i++)
		for (int k = 0; k < 3; k++)
			fprintf(out,
				"sovdns_datacenter_health{datacenter=\"%s\",state=\"%s\"} %d\n",
				f->dc_ids[i], names[k], (int)f->st->health[i] == k);
	fprintf(out,
		"# HELP sovdns_fake_backend_reloads_total Backend file reloads (sovapi-run).\n"
		"# TYPE sovdns_fake_backend_reloads_total counter\n"
		"sovdns_fake_backend_reloads_total %llu\n",
		(unsigned long long)f->reloads);
	pthread_rwlock_unlock(&f->lock);
	return SOV_OK;
}

/* ---- main ---- */

/* SOVAPI_FAIL_WRITES: fail writes in state_dir while the flag file exists. */
struct fault {
	const char *flag;
	const char *state_dir;
};

static int fault_hook(void *ctx, const char *path)
{
	const struct fault *ft = ctx;
	size_t n = strlen(ft->state_dir);
	if (strncmp(path, ft->state_dir, n) != 0 || path[n] != '/')
		return 0;
	return access(ft->flag, F_OK) == 0 ? ENOSPC : 0;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: sovapi-run --config CONFIG.json --backend BACKEND.json [--port-file FILE]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"backend", required_argument, NULL, 'b'},
	    {"port-file", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *port_file = NULL;
	struct fake f = {0};
	int c, status = 1;
	while ((c = getopt_long(argc, argv, "c:b:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'b':
			f.path = optarg;
			break;
		case 'p':
			port_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (config_path == NULL || f.path == NULL) {
		usage(stderr);
		return 2;
	}
	log_init(LOG_LVL_INFO, false);

	/* signals are taken by sigwait in this thread; every thread inherits the mask */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	diag_t *diag = diag_new();
	json_t *root = NULL;
	api_t *api = NULL;
	struct api_config conf;
	api_config_init(&conf);
	char why[1024];
	pthread_rwlock_init(&f.lock, NULL);
	f.started_ms = now_ms();
	if (fake_load(&f, &f.st, why, sizeof(why)) != SOV_OK) {
		fprintf(stderr, "sovapi-run: %s\n", why);
		goto finish;
	}
	json_error_t jerr;
	root = json_load_file(config_path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		fprintf(stderr, "%s:%d:%d: %s\n", config_path, jerr.line, jerr.column, jerr.text);
		goto finish;
	}
	if (api_config_parse(root, config_path, &conf, diag) != SOV_OK)
		goto finish;
	struct fault ft = {getenv("SOVAPI_FAIL_WRITES"), conf.state_dir};
	if (ft.flag != NULL && ft.flag[0] != '\0')
		atomicfile_set_fault_hook(fault_hook, &ft);
	struct api_backend be = {
	    .ctx = &f,
	    .status = cb_status,
	    .dc_view = cb_dc_view,
	    .dc_max_ttl_s = cb_dc_max_ttl_s,
	    .service_count = cb_service_count,
	    .service_view = cb_service_view,
	    .answer = cb_answer,
	    .reload = cb_reload,
	    .metrics = cb_metrics,
	};
	if (api_new(&conf, (const char *const *)f.dc_ids, f.dc_count, &be, &api, diag) != SOV_OK)
		goto finish;
	f.api = api;
	if (api_start(api, diag) != SOV_OK)
		goto finish;
	if (port_file != NULL) {
		char text[16];
		int n = snprintf(text, sizeof(text), "%u\n", (unsigned)api_port(api));
		if (atomicfile_write(port_file, text, (size_t)n, 0644, 0) != SOV_OK) {
			fprintf(stderr, "sovapi-run: cannot write %s: %s\n", port_file,
				strerror(errno));
			goto finish;
		}
	}
	for (;;) {
		int sig;
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (cb_reload(&f, why, sizeof(why)) != SOV_OK)
				log_err("api", "reload failed: %s", why);
			else
				log_info("api", "backend reloaded");
			continue;
		}
		log_info("api", "stopping on signal %d", sig);
		break;
	}
	status = 0;
finish:
	if (diag_count(diag) > 0) {
		diag_print(diag, stderr);
		fprintf(stderr, "sovapi-run: start-up failed\n");
	}
	f.api = NULL;
	api_free(api);
	api_config_clear(&conf);
	json_decref(root);
	diag_free(diag);
	state_free(f.st);
	for (size_t i = 0; i < f.dc_count; i++)
		free(f.dc_ids[i]);
	pthread_rwlock_destroy(&f.lock);
	return status;
}
