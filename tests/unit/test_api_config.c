/* Unit tests of api_config_parse: the "api" section and "state_dir". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "common/err.h"

static int parse(const char *text, struct api_config *c, diag_t *d)
{
	json_error_t e;
	json_t *root = json_loads(text, 0, &e);
	assert_non_null(root);
	int rc = api_config_parse(root, "/etc/sovdns/sovdns.json", c, d);
	json_decref(root);
	return rc;
}

/* True if some diagnostic contains text. */
static bool has(const diag_t *d, const char *text)
{
	for (size_t i = 0; i < diag_count(d); i++)
		if (strstr(diag_get(d, i), text))
			return true;
	return false;
}

static void test_defaults(void **state)
{
	(void)state;
	struct api_config c;
	diag_t *d = diag_new();
	assert_int_equal(parse("{\"state_dir\": \"/var/lib/sovdns\"}", &c, d), SOV_OK);
	assert_string_equal(c.state_dir, "/var/lib/sovdns");
	assert_false(c.http_enabled); /* no "api" section */
	const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)&c.listen;
	assert_int_equal(a->sin_family, AF_INET);
	assert_int_equal(ntohs(a->sin_port), API_DEFAULT_PORT);
	assert_int_equal(ntohl(a->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(c.threads, API_DEFAULT_THREADS);
	assert_int_equal(c.drain_margin_s, ADMIN_DEFAULT_MARGIN_S);
	assert_null(c.audit_log);
	assert_null(c.notify_argv);
	api_config_clear(&c);
	diag_free(d);
}

static void test_full(void **state)
{
	(void)state;
	struct api_config c;
	diag_t *d = diag_new();
	const char *text =
	    "{\"state_dir\": \"state\", \"datacenters\": [{\"id\": \"dc-east\"}], \"api\": {"
	    "\"listen\": \"[::1]:9053\", \"tls\": {\"cert\": \"tls/c.pem\", \"key\": \"/k.pem\"},"
	    "\"tokens\": [{\"name\": \"ops\", \"file\": \"tokens/ops\", \"scope\": \"admin\"},"
	    "             {\"name\": \"east\", \"file\": \"/t/e\", \"scope\": \"drain:dc-east\"}],"
	    "\"read_without_token\": true, \"threads\": 4, \"max_connections\": 10,"
	    "\"timeout_s\": 3, \"body_max_bytes\": 2048, \"drain_margin_s\": 0,"
	    "\"header_timeout_s\": 2, \"max_connections_per_client\": 3,"
	    "\"audit_log\": \"/var/log/sovdns-audit.log\", \"events_max\": 10,"
	    "\"operations_keep\": 5, \"notify\": {\"command\": [\"/bin/alert\", \"-x\"], "
	    "\"timeout_ms\": 500}}}";
	assert_int_equal(parse(text, &c, d), SOV_OK);
	diag_print(d, stderr);
	assert_true(c.http_enabled);
	assert_string_equal(c.state_dir, "/etc/sovdns/state"); /* relative to the config file */
	const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)&c.listen;
	assert_int_equal(a->sin6_family, AF_INET6);
	assert_int_equal(ntohs(a->sin6_port), 9053);
	assert_string_equal(c.tls_cert, "/etc/sovdns/tls/c.pem");
	assert_string_equal(c.tls_key, "/k.pem");
	assert_int_equal(c.token_count, 2);
	assert_string_equal(c.tokens[0].file, "/etc/sovdns/tokens/ops");
	assert_string_equal(c.tokens[1].scope, "drain:dc-east");
	assert_true(c.read_without_token);
	assert_int_equal(c.threads, 4);
	assert_int_equal(c.header_timeout_s, 2);
	assert_int_equal(c.max_connections_per_client, 3);
	assert_int_equal(c.body_max_bytes, 2048);
	assert_int_equal(c.drain_margin_s, 0);
	assert_int_equal(c.operations_keep, 5);
	assert_string_equal(c.notify_argv[0], "/bin/alert");
	assert_string_equal(c.notify_argv[1], "-x");
	assert_null(c.notify_argv[2]);
	assert_int_equal(c.notify_timeout_ms, 500);
	api_config_clear(&c);
	diag_free(d);
}

static void test_listen_forms(void **state)
{
	(void)state;
	static const char *const good[] = {"127.0.0.1:1", "0.0.0.0", "::1", "[::]:0",
					   "[2001:db8::1]"};
	static const char *const bad[] = {"localhost:80", "127.0.0.1:70000", "[::1",   "1.2.3.4:",
					  "1.2.3.4:x",	  "[::1]x",	     "::1:53x"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char text[200];
		snprintf(text, sizeof(text),
			 "{\"state_dir\": \"/s\", \"api\": {\"listen\": \"%s\", "
			 "\"read_without_token\": true}}",
			 good[i]);
		struct api_config c;
		diag_t *d = diag_new();
		assert_int_equal(parse(text, &c, d), SOV_OK);
		api_config_clear(&c);
		diag_free(d);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[200];
		snprintf(text, sizeof(text),
			 "{\"state_dir\": \"/s\", \"api\": {\"listen\": \"%s\", "
			 "\"read_without_token\": true}}",
			 bad[i]);
		struct api_config c;
		diag_t *d = diag_new();
		assert_int_equal(parse(text, &c, d), SOV_ESEMANTIC);
		assert_true(has(d, "api.listen"));
		api_config_clear(&c);
		diag_free(d);
	}
}

static void test_errors_are_all_reported(void **state)
{
	(void)state;
	struct api_config c;
	diag_t *d = diag_new();
	const char *text =
	    "{\"api\": {\"listen\": 5, \"threads\": 0, \"timeout_s\": \"3\","
	    "\"colour\": \"blue\", \"tls\": {\"cert\": \"c\"},"
	    "\"tokens\": [{\"name\": \"a\", \"file\": \"f\", \"scope\": \"root\"}, 7,"
	    "            {\"name\": \"a b\", \"file\": \"f\", \"scope\": \"read\"},"
	    "            {\"name\": \"c\"}],"
	    "\"notify\": {\"command\": []}, \"read_without_token\": \"yes\"}}";
	assert_int_equal(parse(text, &c, d), SOV_ESEMANTIC);
	static const char *const expect[] = {
	    "\"state_dir\" is required",
	    "api.listen must be a non-empty string",
	    "api.threads must be an integer from 1",
	    "api.timeout_s must be",
	    "unknown key \"colour\"",
	    "api.tls needs both",
	    "unknown scope \"root\"",
	    "api.tokens[1] must be an object",
	    "api.tokens[2].name",
	    "api.tokens[3] needs",
	    "api.notify.command must be a non-empty array",
	    "api.read_without_token must be true or false",
	};
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		if (!has(d, expect[i])) {
			diag_print(d, stderr);
			fail_msg("missing diagnostic: %s", expect[i]);
		}
	}
	/* file:line:column */
	assert_non_null(strstr(diag_get(d, 0), "/etc/sovdns/sovdns.json:"));
	assert_null(c.state_dir); /* cleared on failure */
	diag_free(d);
}

static void test_scope_names_a_configured_datacenter(void **state)
{
	(void)state;
	struct api_config c;
	diag_t *d = diag_new();
	const char *text = "{\"state_dir\": \"s\",\n"
			   " \"datacenters\": [{\"id\": \"dc-east\"}, {\"id\": \"dc-west\"}],\n"
			   " \"api\": {\"tokens\": [{\"name\": \"d\", \"file\": \"f\",\n"
			   "   \"scope\": \"drain:dc-east,dc-wets\"}]}}";
	assert_int_equal(parse(text, &c, d), SOV_ESEMANTIC);
	diag_print(d, stderr);
	assert_true(has(d, "api.tokens[0].scope: datacenter \"dc-wets\" is not configured "
			   "(datacenters: dc-east, dc-west)"));
	assert_int_equal(diag_count(d), 1); /* dc-east is fine */
	diag_free(d);
}

static void test_nobody_could_use_it(void **state)
{
	(void)state;
	struct api_config c;
	diag_t *d = diag_new();
	assert_int_equal(parse("{\"state_dir\": \"/s\", \"api\": {}}", &c, d), SOV_ESEMANTIC);
	assert_true(has(d, "nobody could use the API"));
	diag_free(d);
	d = diag_new();
	assert_int_equal(parse("{\"state_dir\": \"/s\", \"api\": {\"enabled\": false}}", &c, d),
			 SOV_OK);
	assert_false(c.http_enabled);
	api_config_clear(&c);
	diag_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_listen_forms),
	    cmocka_unit_test(test_errors_are_all_reported),
	    cmocka_unit_test(test_nobody_could_use_it),
	    cmocka_unit_test(test_scope_names_a_configured_datacenter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
