/* Unit tests of probe/: the state machine, target combination, the health
 * table, the HTTP response judge, address parsing and the configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/err.h"
#include "probe/health.h"
#include "probe/http.h"
#include "probe/probe.h"
#include "probe/sm.h"

/* ---- state machine ---- */

static void test_sm_first_result_decides(void **state)
{
	(void)state;
	struct probe_sm a = {0}, b = {0};
	assert_int_equal(a.state, HEALTH_UNKNOWN);
	assert_true(probe_sm_feed(&a, true, 2, 3));
	assert_int_equal(a.state, HEALTH_UP);
	assert_true(probe_sm_feed(&b, false, 2, 3));
	assert_int_equal(b.state, HEALTH_DOWN);
}

static void test_sm_fall(void **state)
{
	(void)state;
	struct probe_sm sm = {0};
	probe_sm_feed(&sm, true, 2, 3);
	assert_false(probe_sm_feed(&sm, false, 2, 3));
	assert_false(probe_sm_feed(&sm, false, 2, 3));
	assert_int_equal(sm.state, HEALTH_UP);
	assert_int_equal(sm.fail_run, 2);
	assert_true(probe_sm_feed(&sm, false, 2, 3));
	assert_int_equal(sm.state, HEALTH_DOWN);
	assert_int_equal(sm.fail_run, 3);
	/* further failures change nothing */
	assert_false(probe_sm_feed(&sm, false, 2, 3));
	assert_int_equal(sm.state, HEALTH_DOWN);
}

static void test_sm_hysteresis_resets_runs(void **state)
{
	(void)state;
	struct probe_sm sm = {0};
	probe_sm_feed(&sm, true, 2, 3);
	/* fail, fail, ok, fail, fail: never 3 in a row → stays up */
	bool seq[] = {false, false, true, false, false};
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		assert_false(probe_sm_feed(&sm, seq[i], 2, 3));
	assert_int_equal(sm.state, HEALTH_UP);
	assert_true(probe_sm_feed(&sm, false, 2, 3));
	assert_int_equal(sm.state, HEALTH_DOWN);
	/* ok, fail, ok: a lucky answer does not bring it back */
	assert_false(probe_sm_feed(&sm, true, 2, 3));
	assert_false(probe_sm_feed(&sm, false, 2, 3));
	assert_false(probe_sm_feed(&sm, true, 2, 3));
	assert_int_equal(sm.state, HEALTH_DOWN);
	assert_true(probe_sm_feed(&sm, true, 2, 3));
	assert_int_equal(sm.state, HEALTH_UP);
	assert_int_equal(sm.ok_run, 2);
	assert_int_equal(sm.fail_run, 0);
}

static void test_sm_rise_fall_one_and_zero(void **state)
{
	(void)state;
	struct probe_sm sm = {0};
	probe_sm_feed(&sm, true, 1, 1);
	assert_true(probe_sm_feed(&sm, false, 1, 1));
	assert_true(probe_sm_feed(&sm, true, 1, 1));
	/* 0 is treated as 1 rather than "never" */
	assert_true(probe_sm_feed(&sm, false, 0, 0));
	assert_true(probe_sm_feed(&sm, true, 0, 0));
}

static void test_combine(void **state)
{
	(void)state;
	enum health_state s[3] = {HEALTH_UNKNOWN, HEALTH_UNKNOWN, HEALTH_UNKNOWN};
	assert_int_equal(probe_combine_states(s, 0, PROBE_COMBINE_ALL), HEALTH_UNKNOWN);
	assert_int_equal(probe_combine_states(s, 0, PROBE_COMBINE_ANY), HEALTH_UNKNOWN);

	s[0] = HEALTH_UP, s[1] = HEALTH_UP, s[2] = HEALTH_UP;
	assert_int_equal(probe_combine_states(s, 3, PROBE_COMBINE_ALL), HEALTH_UP);
	assert_int_equal(probe_combine_states(s, 3, PROBE_COMBINE_ANY), HEALTH_UP);

	s[1] = HEALTH_DOWN;
	assert_int_equal(probe_combine_states(s, 3, PROBE_COMBINE_ALL), HEALTH_DOWN);
	assert_int_equal(probe_combine_states(s, 3, PROBE_COMBINE_ANY), HEALTH_UP);

	s[0] = HEALTH_DOWN, s[2] = HEALTH_DOWN;
	assert_int_equal(probe_combine_states(s, 3, PROBE_COMBINE_ALL), HEALTH_DOWN);
	assert_int_equal(probe_combine_states(s, 3, PROBE_COMBINE_ANY), HEALTH_DOWN);

	/* a probe without a result yet keeps the target undecided */
	s[0] = HEALTH_UP, s[1] = HEALTH_UNKNOWN, s[2] = HEALTH_UP;
	assert_int_equal(probe_combine_states(s, 3, PROBE_COMBINE_ALL), HEALTH_UNKNOWN);
	assert_int_equal(probe_combine_states(s, 3, PROBE_COMBINE_ANY), HEALTH_UP);
	s[0] = HEALTH_DOWN, s[2] = HEALTH_DOWN;
	assert_int_equal(probe_combine_states(s, 3, PROBE_COMBINE_ALL), HEALTH_DOWN);
	assert_int_equal(probe_combine_states(s, 3, PROBE_COMBINE_ANY), HEALTH_UNKNOWN);
}

/* ---- health table ---- */

static void test_health_table(void **state)
{
	(void)state;
	health_table_t *t = health_table_new(3);
	assert_non_null(t);
	assert_int_equal(health_table_count(t), 3);
	const _Atomic uint32_t *w = health_words(t);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(health_words_get(w, i), HEALTH_UNKNOWN);

	health_publish(t, 1, HEALTH_DOWN, "x timed out", 1000);
	health_publish(t, 1, HEALTH_UP, "x answered", 2000);
	assert_int_equal(health_get(t, 1), HEALTH_UP);
	assert_int_equal(health_get(t, 0), HEALTH_UNKNOWN);
	uint32_t word = atomic_load(&w[1]);
	assert_int_equal(word >> HEALTH_WORD_COUNT_SHIFT, 2);

	health_record_result(t, 1, false, "x refused", 3, HEALTH_CERT_DAYS_NONE, 2500);
	health_record_result(t, 1, true, "x answered status 200", 7, 42, 3000);
	struct health_detail d;
	assert_int_equal(health_detail_get(t, 1, &d), SOV_OK);
	assert_int_equal(d.state, HEALTH_UP);
	assert_true(d.last_ok);
	assert_string_equal(d.last_text, "x answered status 200");
	assert_string_equal(d.change_reason, "x answered");
	assert_int_equal(d.last_latency_ms, 7);
	assert_int_equal(d.cert_days_left, 42);
	assert_int_equal(d.last_check_unix_ms, 3000);
	assert_int_equal(d.last_change_unix_ms, 2000);
	assert_int_equal(d.checks_total, 2);
	assert_int_equal(d.failures_total, 1);
	assert_int_equal(d.transitions_total, 2);
	assert_int_equal(health_detail_get(t, 3, &d), SOV_ENOENT);
	assert_string_equal(health_state_name(HEALTH_DOWN), "down");
	health_table_free(t);

	t = health_table_new(0);
	assert_non_null(t);
	health_table_free(t);
	health_table_free(NULL);
}

/* ---- HTTP response judge ---- */

static enum http_check_rc judge(const char *resp, bool eof, const char *needle,
				struct http_check_result *r)
{
	static char scratch[HTTP_BODY_MAX];
	return http_response_check(resp, strlen(resp), eof, needle, scratch, r);
}

static void test_http_status_only(void **state)
{
	(void)state;
	struct http_check_result r;
	assert_int_equal(judge("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", false, NULL, &r),
			 HTTP_CHECK_MORE);
	assert_int_equal(r.status, 0);
	assert_int_equal(judge("HTTP/1.1 503 Busy\r\nContent-Length: 2\r\n\r\n", false, NULL, &r),
			 HTTP_CHECK_DONE);
	assert_int_equal(r.status, 503);
	assert_int_equal(judge("HTTP/1.0 301 Moved\nLocation: /x\n\n", false, NULL, &r),
			 HTTP_CHECK_DONE);
	assert_int_equal(r.status, 301);
	/* interim 1xx responses are skipped */
	assert_int_equal(judge("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No "
			       "Content\r\n\r\n",
			       false, NULL, &r),
			 HTTP_CHECK_DONE);
	assert_int_equal(r.status, 204);
	assert_int_equal(judge("HTTP/1.1 200", false, NULL, &r), HTTP_CHECK_MORE);
}

static void test_http_errors(void **state)
{
	(void)state;
	struct http_check_result r;
	assert_int_equal(judge("", true, NULL, &r), HTTP_CHECK_BAD);
	assert_string_equal(r.error, "closed the connection without a response");
	assert_int_equal(judge("HTTP/1.1 200 OK\r\nX: y", true, NULL, &r), HTTP_CHECK_BAD);
	assert_string_equal(r.error, "closed the connection in the middle of the response headers");
	assert_int_equal(judge("SSH-2.0-OpenSSH_9.2\r\n", false, NULL, &r), HTTP_CHECK_BAD);
	assert_string_equal(r.error, "sent a malformed HTTP status line");
	assert_int_equal(judge("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false, "a", &r),
			 HTTP_CHECK_BAD);
	static char big[HTTP_HEADERS_MAX + 100];
	const char *head = "HTTP/1.1 200 OK\r\nX: ";
	memcpy(big, head, strlen(head));
	memset(big + strlen(head), 'a', HTTP_HEADERS_MAX);
	big[HTTP_HEADERS_MAX + 20] = '\0';
	assert_int_equal(judge(big, false, NULL, &r), HTTP_CHECK_BAD);
	assert_string_equal(r.error, "sent response headers over 16384 bytes");
}

static void test_http_body(void **state)
{
	(void)state;
	struct http_check_result r;
	const char *cl = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nall healthy";
	assert_int_equal(judge(cl, false, "healthy", &r), HTTP_CHECK_DONE);
	assert_true(r.body_found);
	assert_int_equal(judge(cl, false, "sick", &r), HTTP_CHECK_DONE);
	assert_false(r.body_found);
	/* body not complete yet: wait */
	assert_int_equal(
	    judge("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nall", false, "healthy", &r),
	    HTTP_CHECK_MORE);
	assert_int_equal(r.status, 200);
	assert_int_equal(
	    judge("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nall", true, "healthy", &r),
	    HTTP_CHECK_BAD);
	/* no framing: the body ends when the server closes */
	assert_int_equal(judge("HTTP/1.1 200 OK\r\n\r\nstatus: fine", false, "ok", &r),
			 HTTP_CHECK_MORE);
	assert_int_equal(judge("HTTP/1.1 200 OK\r\n\r\nstatus: fine", true, "ok", &r),
			 HTTP_CHECK_DONE);
	assert_false(r.body_found);
	/* chunked, with the needle split across two chunks */
	const char *ch = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
			 "4\r\nheal\r\n3;x=y\r\nthy\r\n0\r\n\r\n";
	assert_int_equal(judge(ch, false, "healthy", &r), HTTP_CHECK_DONE);
	assert_true(r.body_found);
	assert_int_equal(judge(ch, false, "4\r\n", &r), HTTP_CHECK_DONE);
	assert_false(r.body_found);
	assert_int_equal(judge("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhea",
			       false, "healthy", &r),
			 HTTP_CHECK_MORE);
	assert_int_equal(
	    judge("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, "x", &r),
	    HTTP_CHECK_BAD);
	assert_string_equal(r.error, "sent a malformed chunked body");
	/* 204 has no body, so a needle cannot be found, and that is a verdict */
	assert_int_equal(judge("HTTP/1.1 204 No Content\r\n\r\n", false, "x", &r), HTTP_CHECK_DONE);
	assert_false(r.body_found);
}

static void test_http_body_cap(void **state)
{
	(void)state;
	struct http_check_result r;
	static char resp[HTTP_BODY_MAX + 64];
	size_t n = HTTP_BODY_MAX + 10;
	const char *head = "HTTP/1.1 200 OK\r\n\r\n";
	size_t h = strlen(head);
	memcpy(resp, head, h);
	memset(resp + h, 'a', n);
	resp[h + n] = '\0';
	assert_int_equal(judge(resp, false, "needle", &r), HTTP_CHECK_DONE);
	assert_false(r.body_found);
	assert_true(r.body_capped);
}

/* ---- addresses ---- */

static void test_addr_parse(void **state)
{
	(void)state;
	sov_sockaddr_t a;
	char buf[64];
	assert_int_equal(addr_parse("192.0.2.1", 80, &a), SOV_OK);
	assert_string_equal(addr_format((const struct sockaddr *)&a.ss, buf, sizeof(buf)),
			    "192.0.2.1:80");
	assert_int_equal(addr_parse("192.0.2.1:8080", 80, &a), SOV_OK);
	assert_int_equal(addr_port(&a), 8080);
	assert_int_equal(addr_parse("2001:db8::1", 443, &a), SOV_OK);
	assert_string_equal(addr_format((const struct sockaddr *)&a.ss, buf, sizeof(buf)),
			    "[2001:db8::1]:443");
	assert_int_equal(addr_parse("[2001:db8::1]:8443", 443, &a), SOV_OK);
	assert_int_equal(addr_port(&a), 8443);
	assert_string_equal(addr_format_ip((const struct sockaddr *)&a.ss, buf, sizeof(buf)),
			    "2001:db8::1");
	assert_int_equal(addr_parse("[::1]", 53, &a), SOV_OK);
	assert_int_equal(addr_port(&a), 53);
	assert_int_equal(addr_parse("www.example.com", 80, &a), SOV_EINVAL);
	assert_int_equal(addr_parse("192.0.2.1:0", 80, &a), SOV_EINVAL);
	assert_int_equal(addr_parse("192.0.2.1:65536", 80, &a), SOV_EINVAL);
	assert_int_equal(addr_parse("[::1", 80, &a), SOV_EINVAL);
	assert_int_equal(addr_parse("[::1]x", 80, &a), SOV_EINVAL);
}

/* ---- configuration ---- */

struct dcs {
	sov_sockaddr_t addrs[3];
	struct probe_dc dc[2];
};

static void dcs_init(struct dcs *d)
{
	assert_int_equal(addr_parse("192.0.2.1", 0, &d->addrs[0]), SOV_OK);
	assert_int_equal(addr_parse("198.51.100.7", 0, &d->addrs[1]), SOV_OK);
	assert_int_equal(addr_parse("2001:db8::7", 0, &d->addrs[2]), SOV_OK);
	d->dc[0] = (struct probe_dc){.id = "dc-east", .addrs = &d->addrs[0], .addr_count = 1};
	d->dc[1] = (struct probe_dc){.id = "dc-west", .addrs = &d->addrs[1], .addr_count = 2};
}

/* Parses text; returns the config or NULL, with diag holding messages. */
static probe_config_t *parse(const char *text, diag_t *diag, int *rc_out)
{
	static struct dcs d;
	dcs_init(&d);
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	if (j == NULL)
		fail_msg("bad test JSON: %s", jerr.text);
	probe_config_t *cfg = NULL;
	int rc = probe_config_parse(j, d.dc, 2, "/etc/sovdns/sovdns.json", &cfg, diag);
	json_decref(j);
	if (rc_out)
		*rc_out = rc;
	return cfg;
}

static bool diag_has(const diag_t *d, const char *needle)
{
	for (size_t i = 0; i < diag_count(d); i++)
		if (strstr(diag_get(d, i), needle) != NULL)
			return true;
	return false;
}

static void test_conf_none(void **state)
{
	(void)state;
	struct dcs d;
	dcs_init(&d);
	diag_t *diag = diag_new();
	probe_config_t *cfg = NULL;
	assert_int_equal(probe_config_parse(NULL, d.dc, 2, NULL, &cfg, diag), SOV_OK);
	assert_int_equal(cfg->target_count, 2);
	assert_int_equal(cfg->instance_count, 0);
	assert_string_equal(cfg->targets[1].name, "dc-west");
	assert_int_equal(probe_config_target_index(cfg, "dc-west", NULL), 1);
	assert_int_equal(probe_config_target_index(cfg, "dc-west", "pay"), 1);
	assert_int_equal(probe_config_target_index(cfg, "dc-north", NULL), SOV_ENOENT);
	probe_config_free(cfg);
	diag_free(diag);
}

static void test_conf_defaults(void **state)
{
	(void)state;
	diag_t *diag = diag_new();
	int rc;
	probe_config_t *cfg = parse("{\"checks\": [{\"type\": \"https\", \"url\": "
				    "\"https://www.example.com/health\"}]}",
				    diag, &rc);
	diag_print(diag, stderr);
	assert_int_equal(rc, SOV_OK);
	assert_int_equal(cfg->check_count, 1);
	const struct probe_check *c = &cfg->checks[0];
	assert_int_equal(c->type, PROBE_HTTPS);
	assert_int_equal(c->interval_ms, PROBE_DEFAULT_INTERVAL_MS);
	assert_int_equal(c->timeout_ms, PROBE_DEFAULT_TIMEOUT_MS);
	assert_int_equal(c->jitter_ms, PROBE_DEFAULT_INTERVAL_MS / 10);
	assert_int_equal(c->rise, PROBE_DEFAULT_RISE);
	assert_int_equal(c->fall, PROBE_DEFAULT_FALL);
	assert_int_equal(c->port, 443);
	assert_string_equal(c->host, "www.example.com");
	assert_string_equal(c->path, "/health");
	assert_true(c->verify);
	assert_null(c->ca_file);
	assert_int_equal(c->expect_status_count, 0);
	assert_int_equal(cfg->max_in_flight, PROBE_DEFAULT_MAX_IN_FLIGHT);
	/* one instance per address of every datacenter */
	assert_int_equal(cfg->instance_count, 3);
	assert_int_equal(cfg->instances[0].target, 0);
	assert_int_equal(cfg->instances[1].target, 1);
	assert_int_equal(cfg->instances[2].target, 1);
	assert_int_equal(addr_port(&cfg->instances[2].addr), 443);
	assert_int_equal(cfg->instances[2].addr.ss.ss_family, AF_INET6);
	assert_int_equal(cfg->targets[0].combine, PROBE_COMBINE_ALL);
	probe_config_free(cfg);
	diag_free(diag);
}

static void test_conf_overrides(void **state)
{
	(void)state;
	diag_t *diag = diag_new();
	int rc;
	probe_config_t *cfg =
	    parse("{\"defaults\": {\"interval_ms\": 2000, \"rise\": 5},"
		  " \"combine\": \"any\", \"max_in_flight\": 8,"
		  " \"datacenters\": {\"dc-east\": {\"combine\": \"all\"}},"
		  " \"checks\": ["
		  "  {\"name\": \"web\", \"type\": \"http\", \"port\": 8080, \"path\": \"/h\","
		  "   \"host\": \"app.example\", \"expect_status\": [200, 204],"
		  "   \"body_contains\": \"ok\", \"fall\": 4, \"datacenters\": [\"dc-west\"],"
		  "   \"targets\": {\"dc-west\": [\"10.0.0.7\", \"10.0.0.8:81\"]}},"
		  "  {\"type\": \"tcp\", \"port\": 25, \"interval_ms\": 600},"
		  "  {\"type\": \"dns\", \"qname\": \"example.com\", \"qtype\": \"AAAA\","
		  "   \"expect_rcode\": \"nxdomain\", \"expect_address\": \"2001:db8::1\","
		  "   \"datacenters\": [\"dc-east\"]},"
		  "  {\"type\": \"https\", \"url\": \"https://[2001:db8::9]:8443/x\", \"ca_file\": "
		  "   \"/dev/null\", \"verify\": false, \"datacenters\": [\"dc-east\"]}"
		  "]}",
		  diag, &rc);
	diag_print(diag, stderr);
	assert_int_equal(rc, SOV_OK);
	assert_int_equal(cfg->max_in_flight, 8);
	assert_int_equal(cfg->targets[0].combine, PROBE_COMBINE_ALL);
	assert_int_equal(cfg->targets[1].combine, PROBE_COMBINE_ANY);

	const struct probe_check *web = &cfg->checks[0];
	assert_string_equal(web->name, "web");
	assert_int_equal(web->interval_ms, 2000);
	assert_int_equal(web->timeout_ms, 1000); /* half the interval, below the 2 s cap */
	assert_int_equal(web->jitter_ms, 200);
	assert_int_equal(web->rise, 5);
	assert_int_equal(web->fall, 4);
	assert_int_equal(web->expect_status_count, 2);
	assert_int_equal(web->expect_status[1], 204);
	assert_string_equal(web->body_contains, "ok");
	assert_string_equal(web->host, "app.example");

	const struct probe_check *tcp = &cfg->checks[1];
	assert_string_equal(tcp->name, "tcp#1");
	assert_int_equal(tcp->interval_ms, 600);
	assert_int_equal(tcp->timeout_ms, 300);

	const struct probe_check *dns = &cfg->checks[2];
	assert_int_equal(dns->port, 53);
	assert_int_equal(dns->qtype, 28);
	assert_int_equal(dns->expect_rcode, 3);
	assert_true(dns->has_expect_address);
	assert_int_equal(dns->expect_family, AF_INET6);

	const struct probe_check *tls = &cfg->checks[3];
	assert_false(tls->verify);
	assert_null(tls->host);
	assert_int_equal(tls->port, 8443);
	assert_string_equal(tls->ca_file, "/dev/null");

	/* web: 2 explicit targets at dc-west; tcp: 3 (all addresses); dns: 1; https: 1 */
	assert_int_equal(cfg->instance_count, 7);
	char buf[64];
	assert_string_equal(
	    addr_format((const struct sockaddr *)&(&cfg->instances[0].addr)->ss, buf, sizeof(buf)),
	    "10.0.0.7:8080");
	assert_string_equal(
	    addr_format((const struct sockaddr *)&(&cfg->instances[1].addr)->ss, buf, sizeof(buf)),
	    "10.0.0.8:81");
	assert_string_equal(
	    addr_format((const struct sockaddr *)&(&cfg->instances[6].addr)->ss, buf, sizeof(buf)),
	    "[2001:db8::9]:8443");
	assert_int_equal(cfg->instances[6].target, 0);
	probe_config_free(cfg);
	diag_free(diag);
}

static void test_conf_service_targets(void **state)
{
	(void)state;
	diag_t *diag = diag_new();
	int rc;
	probe_config_t *cfg =
	    parse("{\"services\": {\"pay.example.com\": {\"combine\": \"any\"}},"
		  " \"checks\": ["
		  "  {\"type\": \"tcp\", \"port\": 443},"
		  "  {\"type\": \"tcp\", \"port\": 9735, \"service\": \"pay.example.com\","
		  "   \"datacenters\": [\"dc-west\"]},"
		  "  {\"type\": \"http\", \"port\": 8080, \"service\": \"pay.example.com\"}"
		  "]}",
		  diag, &rc);
	diag_print(diag, stderr);
	assert_int_equal(rc, SOV_OK);
	assert_int_equal(cfg->target_count, 4);
	assert_string_equal(cfg->targets[2].name, "pay.example.com@dc-west");
	assert_string_equal(cfg->targets[3].name, "pay.example.com@dc-east");
	assert_int_equal(cfg->targets[2].combine, PROBE_COMBINE_ANY);
	assert_int_equal(probe_config_target_index(cfg, "dc-west", "pay.example.com"), 2);
	assert_int_equal(probe_config_target_index(cfg, "dc-east", "pay.example.com"), 3);
	assert_int_equal(probe_config_target_index(cfg, "dc-east", "blog.example.com"), 0);
	assert_int_equal(probe_config_target_index(cfg, "dc-east", NULL), 0);
	/* dc-west's service target combines 2 tcp (2 addresses) + 2 http instances */
	size_t n = 0;
	for (size_t i = 0; i < cfg->instance_count; i++)
		n += cfg->instances[i].target == 2;
	assert_int_equal(n, 4);
	probe_config_free(cfg);
	diag_free(diag);
}

static void test_conf_errors(void **state)
{
	(void)state;
	diag_t *diag = diag_new();
	int rc;
	probe_config_t *cfg =
	    parse("{\"intervals\": 1, \"defaults\": {\"rise\": 0, \"wobble\": 1},"
		  " \"combine\": \"most\", \"datacenters\": {\"dc-north\": {\"combine\": \"any\"}},"
		  " \"services\": {\"blog\": {\"combine\": \"all\"}},"
		  " \"checks\": ["
		  "  {\"type\": \"http\", \"interval_ms\": 1000, \"timeout_ms\": 1500},"
		  "  {\"type\": \"tcp\", \"path\": \"/x\", \"port\": 22},"
		  "  {\"type\": \"ftp\"},"
		  "  {\"type\": \"dns\"},"
		  "  {\"type\": \"http\", \"url\": \"http://192.0.2.9/h\"},"
		  "  {\"type\": \"http\", \"datacenters\": [\"dc-south\"]},"
		  "  {\"type\": \"http\", \"targets\": {\"dc-west\": \"not-an-ip\"}},"
		  "  {\"type\": \"https\", \"ca_file\": \"/nonexistent/ca.pem\"},"
		  "  {\"type\": \"http\", \"path\": \"/a b\", \"expect_status\": [99]},"
		  "  {\"type\": \"dns\", \"qname\": \"x.\", \"qtype\": \"BOGUS\", "
		  "\"expect_rcode\": \"NOPE\"},"
		  "  {\"type\": \"tcp\", \"port\": 1, \"jitter_ms\": 4000},"
		  "  {\"name\": \"a\", \"type\": \"tcp\", \"port\": 1}, {\"name\": \"a\", "
		  "\"type\": \"tcp\","
		  "   \"port\": 1}"
		  "]}",
		  diag, &rc);
	assert_null(cfg);
	assert_int_equal(rc, SOV_ESEMANTIC);
	const char *want[] = {
	    "sovdns.json:1:1: probes: unknown key \"intervals\" (expected one of: defaults, "
	    "combine, "
	    "max_in_flight, datacenters, services, checks)",
	    "probes.defaults.rise: must be an integer from 1 to 100",
	    "probes.defaults: unknown key \"wobble\" (expected one of: interval_ms, timeout_ms, "
	    "jitter_ms, rise, fall)",
	    "probes.combine: must be \"all\" or \"any\"",
	    "probes.datacenters.dc-north: is not a known datacenter id",
	    "probes.services.blog.combine: no check has \"service\": \"blog\"",
	    "probes.checks[0]: timeout_ms (1500) must not exceed interval_ms (1000)",
	    "probes.checks[1]: \"path\" does not apply to a tcp check",
	    "probes.checks[2]: unknown type \"ftp\"",
	    "probes.checks[3]: a dns check needs a \"qname\"",
	    "probes.checks[4]: url names one address but the check applies to 2 datacenters",
	    "probes.checks[5]: datacenters[0] is not a known datacenter id",
	    "probes.checks[6]: targets.dc-west: expected an IP address",
	    "probes.checks[7]: ca_file /nonexistent/ca.pem cannot be read",
	    "probes.checks[8]: path must start with '/' and contain no spaces",
	    "probes.checks[8]: expect_status: status codes are integers from 100 to 599",
	    "probes.checks[9]: unknown qtype \"BOGUS\"",
	    "probes.checks[9]: unknown expect_rcode \"NOPE\"",
	    "probes.checks[10]: jitter_ms (4000) must be at most half of interval_ms (5000)",
	    "probes.checks[12]: name \"a\" is already used by probes.checks[11]",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (!diag_has(diag, want[i])) {
			diag_print(diag, stderr);
			fail_msg("missing diagnostic: %s", want[i]);
		}
	}
	diag_free(diag);

	/* relative ca_file resolves against the config file's directory */
	diag = diag_new();
	cfg = parse("{\"checks\": [{\"type\": \"https\", \"ca_file\": \"ca.pem\"}]}", diag, &rc);
	assert_true(diag_has(diag, "ca_file /etc/sovdns/ca.pem cannot be read"));
	diag_free(diag);

	/* jitter over half the interval */
	diag = diag_new();
	cfg = parse("{\"checks\": [{\"type\": \"tcp\", \"port\": 1, \"interval_ms\": 1000, "
		    "\"jitter_ms\": 600}]}",
		    diag, &rc);
	assert_null(cfg);
	assert_true(diag_has(diag, "jitter_ms (600) must be at most half of interval_ms (1000)"));
	diag_free(diag);

	/* not an object */
	diag = diag_new();
	cfg = parse("[1]", diag, &rc);
	assert_null(cfg);
	assert_true(diag_has(diag, "probes: must be an object"));
	diag_free(diag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sm_first_result_decides),
	    cmocka_unit_test(test_sm_fall),
	    cmocka_unit_test(test_sm_hysteresis_resets_runs),
	    cmocka_unit_test(test_sm_rise_fall_one_and_zero),
	    cmocka_unit_test(test_combine),
	    cmocka_unit_test(test_health_table),
	    cmocka_unit_test(test_http_status_only),
	    cmocka_unit_test(test_http_errors),
	    cmocka_unit_test(test_http_body),
	    cmocka_unit_test(test_http_body_cap),
	    cmocka_unit_test(test_addr_parse),
	    cmocka_unit_test(test_conf_none),
	    cmocka_unit_test(test_conf_defaults),
	    cmocka_unit_test(test_conf_overrides),
	    cmocka_unit_test(test_conf_service_targets),
	    cmocka_unit_test(test_conf_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
