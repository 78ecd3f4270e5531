/* fuzz_api.c — libFuzzer target for the HTTP API's JSON handlers
 * (api/routes.c), called as the server calls them after parsing a body:
 * the first input byte picks a write route and a datacenter, the rest is
 * the request body. State files go to a tmpfs (/dev/shm) so fsync is cheap.
 * No body may crash a handler, leak, or leave a response without a status. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_impl.h"
#include "common/diag.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static api_t *fz_api;
static const struct auth_token *fz_token;
static const char *const fz_dcs[3] = {"dc-a", "dc-b", "dc-c"};

static int be_dc_view(void *ctx, size_t dc, struct api_dc_view *out)
{
	(void)ctx;
	memset(out, 0, sizeof(*out));
	out->health = dc == 2 ? API_HEALTH_DOWN : API_HEALTH_UP;
	out->in_answers = dc != 2;
	return 0;
}

static uint32_t be_ttl(void *ctx, size_t dc)
{
	(void)ctx;
	(void)dc;
	return 0; /* drained at once: the drained → undrain paths get exercised */
}

static size_t be_count(void *ctx)
{
	(void)ctx;
	return 1;
}

static int be_service(void *ctx, size_t i, struct api_service_view *out)
{
	(void)ctx;
	if (i != 0)
		return -6;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "www.example.test.");
	snprintf(out->policy, sizeof(out->policy), "nearest");
	out->ttl_s = 30;
	out->dc_count = 3;
	for (size_t k = 0; k < 3; k++) {
		out->dcs[k].dc = k;
		out->dcs[k].health_ok = k != 2;
	}
	return 0;
}

static int be_answer(void *ctx, const char *s, const struct sockaddr *c, json_t **out)
{
	(void)ctx;
	(void)s;
	(void)c;
	*out = json_object();
	return 0;
}

static void fz_init(void)
{
	char dir[] = "/dev/shm/fuzz_api.XXXXXX";
	char path[256], secret[] = "0123456789abcdef0123456789abcdef";
	log_init(LOG_LVL_ERR, false);
	if (mkdtemp(dir) == NULL && (strcpy(dir, "/tmp/fuzz_api.XXXXXX"), mkdtemp(dir) == NULL))
		abort();
	snprintf(path, sizeof(path), "%s/token", dir);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		abort();
	fprintf(f, "%s\n", secret);
	fclose(f);
	chmod(path, 0600);
	json_t *root =
	    json_pack("{s:s, s:{s:b, s:[{s:s, s:s, s:s}]}}", "state_dir", dir, "api", "enabled", 0,
		      "tokens", "name", "fuzz", "file", path, "scope", "admin");
	struct api_config ac;
	diag_t *d = diag_new();
	api_config_init(&ac);
	if (api_config_parse(root, NULL, &ac, d) != 0) {
		diag_print(d, stderr);
		abort();
	}
	static const struct api_backend be = {.dc_view = be_dc_view,
					      .dc_max_ttl_s = be_ttl,
					      .service_count = be_count,
					      .service_view = be_service,
					      .answer = be_answer};
	if (api_new(&ac, fz_dcs, 3, &be, &fz_api, d) != 0) {
		diag_print(d, stderr);
		abort();
	}
	fz_token = auth_lookup(fz_api->auth, secret, strlen(secret));
	if (fz_token == NULL)
		abort();
	api_config_clear(&ac);
	json_decref(root);
	diag_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const writes[] = {
	    "/v1/datacenters/{id}/drain",	"/v1/datacenters/{id}/undrain",
	    "/v1/datacenters/{id}/maintenance", "/v1/operations",
	    "/v1/operations/{id}/state",	"/v1/operations/{id}/abort",
	};
	if (fz_api == NULL)
		fz_init();
	if (size < 1)
		return 0;
	const struct http_route *route = NULL;
	const char *want = writes[data[0] % 6];
	for (size_t i = 0; i < api_route_count; i++)
		if (strcmp(api_routes[i].method, "POST") == 0 &&
		    strcmp(api_routes[i].pattern, want) == 0)
			route = &api_routes[i];
	if (route == NULL)
		abort();
	json_error_t err;
	json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &err);
	if (body != NULL && !json_is_object(body)) {
		json_decref(body); /* the server answers 400 before any handler */
		return 0;
	}
	/* Operation ids: the newest one, or a made-up one. */
	char opid[64] = "op-20260101T000000Z-0001";
	struct http_request req;
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.path = want;
	req.params[0] = strstr(want, "operations/") ? opid : fz_dcs[(data[0] / 6) % 3];
	req.param_count = strchr(want, '{') ? 1 : 0;
	req.body = body;
	req.token = fz_token;
	req.who = "fuzz";
	snprintf(req.from, sizeof(req.from), "127.0.0.1");
	struct http_response resp;
	memset(&resp, 0, sizeof(resp));
	route->fn(fz_api, &req, &resp);
	if (resp.status < 200 || resp.status > 599)
		abort();
	json_decref(resp.body);
	free(resp.text);
	json_decref(body);
	return 0;
}
