/* api.c — the API's life cycle (contract in api.h): api_new() builds it from
 * its configuration and the saved state, api_start() starts the HTTP server
 * (routes.c) and the ticker (draining → drained, leases), api_free(). The
 * shared state the routes use is state.c's. */
#include "api/api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_impl.h"
#include "api/util.h"
#include "common/addr.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/ident.h"
#include "common/log.h"

static char *dup_or_null(const char *s, bool *oom)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		*oom = true;
	return d;
}

/* Deep copy of a parsed config. SOV_OK or SOV_ENOMEM. */
static int config_copy(struct api_config *dst, const struct api_config *src)
{
	bool oom = false;
	*dst = *src;
	dst->state_dir = dup_or_null(src->state_dir, &oom);
	dst->tls_cert = dup_or_null(src->tls_cert, &oom);
	dst->tls_key = dup_or_null(src->tls_key, &oom);
	dst->audit_log = dup_or_null(src->audit_log, &oom);
	dst->tokens = NULL;
	dst->token_count = 0;
	dst->notify_argv = NULL;
	if (src->token_count > 0) {
		dst->tokens = calloc(src->token_count, sizeof(*dst->tokens));
		if (dst->tokens == NULL)
			oom = true;
		for (size_t i = 0; dst->tokens && i < src->token_count; i++) {
			dst->tokens[i].name = dup_or_null(src->tokens[i].name, &oom);
			dst->tokens[i].file = dup_or_null(src->tokens[i].file, &oom);
			dst->tokens[i].scope = dup_or_null(src->tokens[i].scope, &oom);
			dst->token_count++;
		}
	}
	if (src->notify_argv != NULL) {
		size_t n = 0;
		while (src->notify_argv[n])
			n++;
		dst->notify_argv = calloc(n + 1, sizeof(char *));
		if (dst->notify_argv == NULL)
			oom = true;
		for (size_t i = 0; dst->notify_argv && i < n; i++)
			dst->notify_argv[i] = dup_or_null(src->notify_argv[i], &oom);
	}
	return oom ? SOV_ENOMEM : SOV_OK;
}

int api_tokens_load(const struct api_config *c, struct auth *auth, diag_t *diag)
{
	int ret = SOV_OK;
	for (size_t i = 0; i < c->token_count; i++) {
		const struct api_token_conf *t = &c->tokens[i];
		char why[512] = "";
		if (auth_add_token(auth, t->name, t->file, t->scope, why, sizeof(why)) != SOV_OK) {
			diag_add(diag, t->file, 0, 0, "API token \"%s\": %s", t->name, why);
			ret = SOV_ESEMANTIC;
		}
	}
	return ret;
}

int api_new(const struct api_config *conf, const char *const *dc_ids, size_t dc_count,
	    const struct api_backend *backend, api_t **out, diag_t *diag)
{
	int rc = SOV_ENOMEM;
	char why[512];
	api_t *api = calloc(1, sizeof(*api));
	if (api == NULL)
		goto oom;
	pthread_mutex_init(&api->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&api->tick_cond, &ca);
	pthread_condattr_destroy(&ca);
	api->started_ms = clock_unix_ms();
	api->be = *backend;
	if (config_copy(&api->conf, conf) != SOV_OK)
		goto oom;
	if (api->conf.state_dir == NULL) {
		diag_add(diag, NULL, 0, 0, "state_dir is not set");
		rc = SOV_EINVAL;
		goto finish;
	}
	if (backend->dc_view == NULL || backend->dc_max_ttl_s == NULL ||
	    backend->service_count == NULL || backend->service_view == NULL ||
	    backend->answer == NULL) {
		diag_add(diag, NULL, 0, 0, "api: the backend lacks a required callback");
		rc = SOV_EINVAL;
		goto finish;
	}
	api->dc_count = dc_count;
	api->dc_ids = calloc(dc_count + 1, sizeof(char *));
	api->records = calloc(dc_count + 1, sizeof(*api->records));
	api->admin = admin_table_new(dc_count);
	api->ops = op_store_new(api->conf.operations_keep);
	if (api->dc_ids == NULL || api->records == NULL || api->admin == NULL || api->ops == NULL)
		goto oom;
	for (size_t i = 0; i < dc_count; i++) {
		if (!ident_valid(dc_ids[i])) {
			diag_add(diag, NULL, 0, 0,
				 "api: datacenter id \"%s\" is not 1..63 of [A-Za-z0-9._-]",
				 dc_ids[i]);
			rc = SOV_EINVAL;
			goto finish;
		}
		if ((api->dc_ids[i] = strdup(dc_ids[i])) == NULL)
			goto oom;
	}

	if ((rc = store_open(api->conf.state_dir, &api->store, diag)) != SOV_OK)
		goto finish;
	rc = store_load_admin(api->store, (const char *const *)api->dc_ids, dc_count, api->records,
			      &api->orphans, diag);
	if (rc != SOV_OK)
		goto finish;
	if ((rc = store_load_ops(api->store, api->ops, diag)) != SOV_OK)
		goto finish;
	for (size_t i = 0; i < dc_count; i++) {
		admin_publish(api->admin, i, api->records[i].state);
		if (api->records[i].state != ADMIN_ACTIVE)
			log_info("api", "datacenter %s starts %s (since the state saved in %s)",
				 api->dc_ids[i], admin_state_name(api->records[i].state),
				 store_admin_path(api->store));
	}

	api->auth = auth_new();
	if (api->auth == NULL)
		goto oom;
	if ((rc = api_tokens_load(&api->conf, api->auth, diag)) != SOV_OK)
		goto finish;
	if (api->conf.audit_log == NULL) {
		char path[PATH_MAX];
		if (snprintf(path, sizeof(path), "%s/audit.log", api->conf.state_dir) >=
			(int)sizeof(path) ||
		    (api->conf.audit_log = strdup(path)) == NULL)
			goto oom;
	}
	if ((rc = audit_open(api->conf.audit_log, &api->audit, why, sizeof(why))) != SOV_OK) {
		diag_add(diag, api->conf.audit_log, 0, 0, "%s", why);
		goto finish;
	}
	api->events = events_new(api->conf.events_max, (const char *const *)api->conf.notify_argv,
				 api->conf.notify_timeout_ms);
	if (api->events == NULL)
		goto oom;
	*out = api;
	api = NULL;
	rc = SOV_OK;
	goto finish;
oom:
	rc = SOV_ENOMEM;
	diag_add(diag, NULL, 0, 0, "api: out of memory");
finish:
	api_free(api);
	return rc;
}

/* The timer: draining → drained when safe_at comes, leases expiring. */
static void *ticker_main(void *arg)
{
	api_t *api = arg;
	struct admin_record *cand = calloc(api->dc_count + 1, sizeof(*cand));
	pthread_mutex_lock(&api->lock);
	while (!api->stopping && cand != NULL) {
		int64_t now = clock_unix_ms();
		int64_t next = INT64_MAX;
		bool changed = false;
		memcpy(cand, api->records, api->dc_count * sizeof(*cand));
		for (size_t i = 0; i < api->dc_count; i++)
			if (admin_record_tick(&cand[i], now, &next) == ADMIN_CHANGED)
				changed = true;
		int64_t wait_ms = 1000; /* at most: wall-clock steps are noticed within a second */
		if (changed) {
			char why[512];
			if (api_commit_admin(api, cand, why, sizeof(why)) == SOV_OK)
				continue; /* recompute the next deadline from the new state */
			wait_ms = API_RETRY_MS;
		} else if (next != INT64_MAX && next - now < wait_ms) {
			wait_ms = next - now < 1 ? 1 : next - now;
		}
		struct timespec ts;
		clock_deadline_ms(CLOCK_MONOTONIC, wait_ms, &ts); /* tick_cond's clock */
		pthread_cond_timedwait(&api->tick_cond, &api->lock, &ts);
	}
	pthread_mutex_unlock(&api->lock);
	free(cand);
	return NULL;
}

int api_start(api_t *api, diag_t *diag)
{
	if (pthread_create(&api->ticker, NULL, ticker_main, api) != 0) {
		diag_add(diag, NULL, 0, 0, "api: cannot start the timer thread");
		return SOV_ESYS;
	}
	api->ticker_started = true;
	if (!api->conf.http_enabled)
		return SOV_OK;
	struct http_config hc = {
	    .listen = (const struct sockaddr *)&api->conf.listen,
	    .listen_len = api->conf.listen_len,
	    .tls_cert = api->conf.tls_cert,
	    .tls_key = api->conf.tls_key,
	    .threads = api->conf.threads,
	    .max_connections = api->conf.max_connections,
	    .max_connections_per_client = api->conf.max_connections_per_client,
	    .timeout_s = api->conf.timeout_s,
	    .header_timeout_s = api->conf.header_timeout_s,
	    .body_max_bytes = api->conf.body_max_bytes,
	    .auth = api->auth,
	    .read_without_token = api->conf.read_without_token,
	    .audit = api->audit,
	};
	char why[512];
	int rc = http_start(&hc, api_routes, api_route_count, api, &api->http, why, sizeof(why));
	if (rc != SOV_OK) {
		diag_add(diag, NULL, 0, 0, "api: %s", why);
		return rc;
	}
	char where[ADDR_STR_MAX];
	log_info("api", "HTTP%s API listening on %s with %zu token(s)%s",
		 api->conf.tls_cert ? "S" : "", api_listen_format(api, where, sizeof(where)),
		 auth_count(api->auth), api->conf.read_without_token ? ", read routes open" : "");
	return SOV_OK;
}

void api_free(api_t *api)
{
	if (api == NULL)
		return;
	http_stop(api->http); /* no request runs after this */
	if (api->ticker_started) {
		pthread_mutex_lock(&api->lock);
		api->stopping = true;
		pthread_cond_signal(&api->tick_cond);
		pthread_mutex_unlock(&api->lock);
		pthread_join(api->ticker, NULL);
	}
	events_free(api->events);
	audit_close(api->audit);
	auth_free(api->auth);
	store_close(api->store);
	op_store_free(api->ops);
	admin_table_free(api->admin);
	json_decref(api->orphans);
	for (size_t i = 0; api->dc_ids && i < api->dc_count; i++)
		free(api->dc_ids[i]);
	free(api->dc_ids);
	free(api->records);
	api_config_clear(&api->conf);
	pthread_cond_destroy(&api->tick_cond);
	pthread_mutex_destroy(&api->lock);
	free(api);
}

uint16_t api_port(const api_t *api)
{
	return api->http ? http_port(api->http) : 0;
}

const char *api_listen_format(const api_t *api, char *buf, size_t cap)
{
	struct sockaddr_storage ss = api->conf.listen;
	uint16_t port = htons(api_port(api));
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)(void *)&ss)->sin_port = port;
	else if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)&ss)->sin6_port = port;
	return addr_format((const struct sockaddr *)&ss, buf, cap);
}
