/* Unit tests: common/addr (addresses, networks), conf/jsonpos (positions in
 * JSON text) and conf/config (loading and validating the configuration).
 * Every file is written to a fresh temporary directory, removed at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the headers above it */
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/addr.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/log.h"
#include "common/net.h"
#include "conf/config.h"
#include "conf/jsonpos.h"

static char tmpdir[256];

/* ------------------------------------------------------------ helpers -- */

static const char *tmp_path(const char *name)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(tmp_path(name), "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char zone_text[] = "$ORIGIN example.test.\n"
				"@ 300 IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
				"@ 300 IN NS ns1\n"
				"ns1 300 IN A 192.0.2.1\n";

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sovdns-test-config-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	if (mkdir(tmp_path("zones"), 0700) != 0)
		return -1;
	write_file("zones/a.zone", zone_text);
	write_file("zones/b.zone", zone_text);
	return 0;
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char p[768];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR)
			rm_dir(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static int teardown_dir(void **state)
{
	(void)state;
	rm_dir(tmpdir);
	return 0;
}

/* Loads text as c.json; returns the result code, the config (or NULL) and the diag. */
static int load_text(const char *text, config_t **c, diag_t **d)
{
	write_file("c.json", text);
	*d = diag_new();
	assert_non_null(*d);
	return config_load(tmp_path("c.json"), c, *d);
}

/* line:col (1-based, ASCII text) of the nth (0-based) occurrence of needle:
 * expected positions are found in the text itself, not counted by hand. */
static void pos_of(const char *text, const char *needle, int nth, unsigned *line, unsigned *col)
{
	const char *at = strstr(text, needle);
	for (int k = 0; k < nth && at != NULL; k++)
		at = strstr(at + 1, needle);
	assert_non_null(at);
	*line = 1;
	*col = 1;
	for (const char *p = text; p < at; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* Expects loading text to fail with, among the errors,
 * "<path>:<line>:<col>: <msg>" where line:col is that of the nth needle. */
static void expect_error(const char *text, const char *needle, int nth, const char *msg)
{
	config_t *c = NULL;
	diag_t *d = NULL;
	unsigned line, col;
	pos_of(text, needle, nth, &line, &col);
	int r = load_text(text, &c, &d);
	char want[1024];
	snprintf(want, sizeof(want), "%s:%u:%u: %s", tmp_path("c.json"), line, col, msg);
	bool found = false;
	for (size_t i = 0; i < diag_count(d); i++)
		if (strcmp(diag_get(d, i), want) == 0)
			found = true;
	if (!found) {
		fprintf(stderr, "wanted: %s\ngot %zu errors:\n", want, diag_count(d));
		diag_print(d, stderr);
	}
	assert_true(r != SOV_OK);
	assert_null(c);
	assert_true(found);
	diag_free(d);
}

#define GOOD_ZONES "\"zones\": [{\"origin\": \"example.test\", \"file\": \"zones/a.zone\"}]"
#define GOOD_LISTEN "\"listen\": [\"127.0.0.1:5353\"]"

/* --------------------------------------------------------------- addr -- */

static void test_addr_parse_v4(void **state)
{
	(void)state;
	sov_sockaddr_t a;
	char buf[ADDR_STR_MAX];
	assert_int_equal(addr_parse("127.0.0.1:5353", 53, &a), SOV_OK);
	assert_int_equal(a.ss.ss_family, AF_INET);
	assert_int_equal(a.len, sizeof(struct sockaddr_in));
	assert_string_equal(addr_format((struct sockaddr *)&a.ss, buf, sizeof(buf)),
			    "127.0.0.1:5353");
	assert_int_equal(ntohs(((struct sockaddr_in *)&a.ss)->sin_port), 5353);

	assert_int_equal(addr_parse("192.0.2.7", 53, &a), SOV_OK);
	assert_string_equal(addr_format((struct sockaddr *)&a.ss, buf, sizeof(buf)),
			    "192.0.2.7:53");
	assert_string_equal(addr_format_ip((struct sockaddr *)&a.ss, buf, sizeof(buf)),
			    "192.0.2.7");

	assert_int_equal(addr_parse("0.0.0.0:65535", 53, &a), SOV_OK);
	assert_string_equal(addr_format((struct sockaddr *)&a.ss, buf, sizeof(buf)),
			    "0.0.0.0:65535");
}

static void test_addr_parse_v6(void **state)
{
	(void)state;
	sov_sockaddr_t a;
	char buf[ADDR_STR_MAX];
	assert_int_equal(addr_parse("[::1]:5353", 53, &a), SOV_OK);
	assert_int_equal(a.ss.ss_family, AF_INET6);
	assert_int_equal(a.len, sizeof(struct sockaddr_in6));
	assert_string_equal(addr_format((struct sockaddr *)&a.ss, buf, sizeof(buf)), "[::1]:5353");

	assert_int_equal(addr_parse("[2001:db8::53]", 53, &a), SOV_OK);
	assert_string_equal(addr_format((struct sockaddr *)&a.ss, buf, sizeof(buf)),
			    "[2001:db8::53]:53");

	/* bare IPv6: every colon belongs to the address */
	assert_int_equal(addr_parse("2001:db8::1", 5300, &a), SOV_OK);
	assert_string_equal(addr_format((struct sockaddr *)&a.ss, buf, sizeof(buf)),
			    "[2001:db8::1]:5300");
	assert_string_equal(addr_format_ip((struct sockaddr *)&a.ss, buf, sizeof(buf)),
			    "2001:db8::1");

	assert_int_equal(addr_parse("::", 53, &a), SOV_OK);
	assert_string_equal(addr_format((struct sockaddr *)&a.ss, buf, sizeof(buf)), "[::]:53");

	/* the longest v6 form fits ADDR_STR_MAX */
	assert_int_equal(
	    addr_parse("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535", 53, &a), SOV_OK);
	assert_string_equal(addr_format((struct sockaddr *)&a.ss, buf, sizeof(buf)),
			    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

static void test_addr_parse_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "1.2.3.4:",
	    ":53",
	    "1.2.3.4:0",
	    "1.2.3.4:65536",
	    "1.2.3.4:53x",
	    "1.2.3.4:+53",
	    "1.2.3.4: 53",
	    " 1.2.3.4",
	    "1.2.3",
	    "256.1.1.1",
	    "host.example:53",
	    "[::1",
	    "[::1]x",
	    "[::1]:",
	    "[]:53",
	    "[1.2.3.4]:53",
	    "::1::2",
	    "[::1]:99999",
	    "localhost",
	    "1.2.3.4:123456",
	};
	sov_sockaddr_t a;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (addr_parse(bad[i], 53, &a) != SOV_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	/* no port and default 0: the port is left for the caller to set */
	assert_int_equal(addr_parse("1.2.3.4", 0, &a), SOV_OK);
	assert_int_equal(addr_port(&a), 0);
	addr_set_port(&a, 8080);
	assert_int_equal(addr_port(&a), 8080);
	assert_int_equal(addr_parse(NULL, 53, &a), SOV_EINVAL);
}

static void test_net_parse(void **state)
{
	(void)state;
	sov_net_t n;
	assert_int_equal(net_parse("192.0.2.0/24", &n), SOV_OK);
	assert_int_equal(n.family, AF_INET);
	assert_int_equal(n.prefix, 24);
	assert_int_equal(n.addr[0], 192);
	assert_int_equal(n.addr[2], 2);

	assert_int_equal(net_parse("2001:db8::/32", &n), SOV_OK);
	assert_int_equal(n.family, AF_INET6);
	assert_int_equal(n.prefix, 32);

	assert_int_equal(net_parse("198.51.100.7", &n), SOV_OK);
	assert_int_equal(n.prefix, 32);
	assert_int_equal(net_parse("2001:db8::7", &n), SOV_OK);
	assert_int_equal(n.prefix, 128);
	assert_int_equal(net_parse("0.0.0.0/0", &n), SOV_OK);
	assert_int_equal(n.prefix, 0);
	assert_int_equal(net_parse("::/0", &n), SOV_OK);
	assert_int_equal(net_parse("10.0.0.0/8", &n), SOV_OK);
	assert_int_equal(net_parse("10.0.0.0/7", &n), SOV_OK);
	assert_int_equal(net_parse("11.0.0.0/7", &n), SOV_EINVAL); /* host bit 7 set */

	static const char *const bad[] = {
	    "192.0.2.1/24",
	    "192.0.2.0/33",
	    "2001:db8::/129",
	    "10.0.0.0/",
	    "10.0.0.0/x",
	    "10.0.0.0/-1",
	    "/24",
	    "",
	    "example/24",
	    "10.0.0.0/0024",
	    "2001:db8::1/64",
	    "10.0.0.0/24/1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (net_parse(bad[i], &n) != SOV_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

static void test_net_contains(void **state)
{
	(void)state;
	sov_net_t n;
	uint8_t a4[4], a6[16];

	assert_int_equal(net_parse("192.0.2.0/23", &n), SOV_OK);
	inet_pton(AF_INET, "192.0.3.255", a4);
	assert_true(net_contains(&n, n.family, a4));
	inet_pton(AF_INET, "192.0.2.0", a4);
	assert_true(net_contains(&n, n.family, a4));
	inet_pton(AF_INET, "192.0.4.0", a4);
	assert_false(net_contains(&n, n.family, a4));
	inet_pton(AF_INET, "192.0.1.255", a4);
	assert_false(net_contains(&n, n.family, a4));

	assert_int_equal(net_parse("0.0.0.0/0", &n), SOV_OK);
	inet_pton(AF_INET, "203.0.113.9", a4);
	assert_true(net_contains(&n, n.family, a4));

	assert_int_equal(net_parse("203.0.113.9", &n), SOV_OK);
	assert_true(net_contains(&n, n.family, a4));
	inet_pton(AF_INET, "203.0.113.8", a4);
	assert_false(net_contains(&n, n.family, a4));

	assert_int_equal(net_parse("2001:db8:8000::/33", &n), SOV_OK);
	inet_pton(AF_INET6, "2001:db8:ffff::1", a6);
	assert_true(net_contains(&n, n.family, a6));
	inet_pton(AF_INET6, "2001:db8:7fff::1", a6);
	assert_false(net_contains(&n, n.family, a6));
}

/* ------------------------------------------------------------ jsonpos -- */

static void assert_pos(const char *text, const char *ptr, enum jsonpos_target t, int want_ret,
		       unsigned line, unsigned col)
{
	struct jsonpos p = {0, 0};
	int r = jsonpos_locate(text, strlen(text), ptr, t, &p);
	if (r != want_ret || p.line != line || p.col != col)
		fail_msg("pointer \"%s\": got %d at %u:%u, wanted %d at %u:%u", ptr, r, p.line,
			 p.col, want_ret, line, col);
}

static void test_jsonpos_locate(void **state)
{
	(void)state;
	const char *text = "{\n"
			   "  \"listen\": [\"a\", \"b\"],\n"
			   "  \"zones\": [\n"
			   "    {\"origin\": \"x\", \"file\": \"f\"},\n"
			   "    {\"origin\": \"y\",\n"
			   "     \"file\": 42}\n"
			   "  ],\n"
			   "  \"n\": {\"deep\": [[1, [2, {\"k\": null}]]]}\n"
			   "}\n";
	assert_pos(text, "", JSONPOS_VALUE, SOV_OK, 1, 1);
	assert_pos(text, "/listen", JSONPOS_VALUE, SOV_OK, 2, 13);
	assert_pos(text, "/listen", JSONPOS_KEY, SOV_OK, 2, 3);
	assert_pos(text, "/listen/1", JSONPOS_VALUE, SOV_OK, 2, 19);
	assert_pos(text, "/listen/1", JSONPOS_KEY, SOV_OK, 2, 19); /* elements have no key */
	assert_pos(text, "/zones/0/file", JSONPOS_VALUE, SOV_OK, 4, 29);
	assert_pos(text, "/zones/1", JSONPOS_VALUE, SOV_OK, 5, 5);
	assert_pos(text, "/zones/1/file", JSONPOS_VALUE, SOV_OK, 6, 14);
	assert_pos(text, "/zones/1/file", JSONPOS_KEY, SOV_OK, 6, 6);
	assert_pos(text, "/n/deep/0/1/1/k", JSONPOS_VALUE, SOV_OK, 8, 32);

	/* missing steps: the deepest existing ancestor */
	assert_pos(text, "/zones/2", JSONPOS_VALUE, SOV_ENOENT, 3, 12);
	assert_pos(text, "/zones/1/nope", JSONPOS_VALUE, SOV_ENOENT, 5, 5);
	assert_pos(text, "/nope/x", JSONPOS_VALUE, SOV_ENOENT, 1, 1);
	assert_pos(text, "/zones/1/file/x", JSONPOS_VALUE, SOV_ENOENT, 6, 14); /* scalar */
	assert_pos(text, "/zones/01", JSONPOS_VALUE, SOV_ENOENT, 3, 12);       /* leading zero */
	assert_pos(text, "/zones/x", JSONPOS_VALUE, SOV_ENOENT, 3, 12);

	/* invalid pointers */
	assert_pos(text, "zones", JSONPOS_VALUE, SOV_EINVAL, 1, 1);
	assert_pos(text, "/a~2b", JSONPOS_VALUE, SOV_EINVAL, 1, 1);

	/* empty and whitespace-only documents */
	assert_pos("", "", JSONPOS_VALUE, SOV_ENOENT, 1, 1);
	assert_pos("  \n ", "/a", JSONPOS_VALUE, SOV_ENOENT, 1, 1);
	assert_pos("\n\n  [1]", "", JSONPOS_VALUE, SOV_OK, 3, 3);
}

static void test_jsonpos_escapes_and_utf8(void **state)
{
	(void)state;
	/* keys written with escapes match their decoded form; RFC 6901 ~0 ~1 */
	const char *text = "{\"a\\/b\": 1, \"t~x\": 2, \"\\u00e9t\\u00E9\": 3, \"q\\\"\": 4,"
			   " \"\\ud83d\\ude00\": 5}";
	assert_pos(text, "/a~1b", JSONPOS_VALUE, SOV_OK, 1, 10);
	assert_pos(text, "/t~0x", JSONPOS_VALUE, SOV_OK, 1, 20);
	assert_pos(text, "/\xc3\xa9t\xc3\xa9", JSONPOS_KEY, SOV_OK, 1, 23);
	assert_pos(text, "/q\"", JSONPOS_VALUE, SOV_OK, 1, 50);
	assert_pos(text, "/\xf0\x9f\x98\x80", JSONPOS_VALUE, SOV_OK, 1, 69);

	/* columns count characters, like jansson: "é" is one column */
	const char *u = "{\"\xc3\xa9\xc3\xa9\": \"\xe2\x82\xac\", \"k\": true}";
	assert_pos(u, "/k", JSONPOS_KEY, SOV_OK, 1, 13);
	assert_pos(u, "/k", JSONPOS_VALUE, SOV_OK, 1, 18);

	/* strings containing brackets and quotes do not confuse the skipper */
	const char *s = "{\"a\": \"}]{[\\\"\", \"b\": [\"]\", {\"c\": \"{\"}], \"d\": 0}";
	assert_pos(s, "/d", JSONPOS_VALUE, SOV_OK, 1, 46);
	assert_pos(s, "/b/1/c", JSONPOS_VALUE, SOV_OK, 1, 34);

	/* the last of duplicate keys wins, as in jansson */
	assert_pos("{\"a\": 1, \"a\": 2}", "/a", JSONPOS_VALUE, SOV_OK, 1, 15);
}

static void test_jsonpos_truncated(void **state)
{
	(void)state;
	/* invalid or cut-off text: no crash, and a best-effort position */
	static const char *const texts[] = {
	    "{",	"{\"a\"",    "{\"a\":", "{\"a\": [1, 2", "{\"a\": \"unterminated",
	    "[[[[[[[[", "{\"a\\u12", "]]]]",	"{\"a\": 1,,,}", "\"\\",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct jsonpos p;
		int r = jsonpos_locate(texts[i], strlen(texts[i]), "/a/3/b", JSONPOS_VALUE, &p);
		assert_true(r == SOV_ENOENT);
		assert_true(p.line >= 1 && p.col >= 1);
	}
	/* not NUL-terminated: the length is the limit */
	const char buf[] = {'{', '"', 'a', '"', ':', '1', '2', '3'};
	struct jsonpos p;
	assert_int_equal(jsonpos_locate(buf, 6, "/a", JSONPOS_VALUE, &p), SOV_OK);
	assert_int_equal(p.col, 6);
	assert_int_equal(jsonpos_locate(NULL, 0, "", JSONPOS_VALUE, &p), SOV_ENOENT);
}

static void test_jsonpos_pointer_build(void **state)
{
	(void)state;
	char ptr[16] = "";
	assert_int_equal(jsonpos_push_key(ptr, sizeof(ptr), "zones"), SOV_OK);
	assert_int_equal(jsonpos_push_index(ptr, sizeof(ptr), 12), SOV_OK);
	assert_string_equal(ptr, "/zones/12");
	assert_int_equal(jsonpos_push_key(ptr, sizeof(ptr), "a/~"), SOV_OK);
	assert_string_equal(ptr, "/zones/12/a~1~0");
	assert_int_equal(jsonpos_push_key(ptr, sizeof(ptr), "x"), SOV_ESPACE);
	assert_int_equal(jsonpos_push_index(ptr, sizeof(ptr), 1), SOV_ESPACE);
	assert_string_equal(ptr, "/zones/12/a~1~0");
	jsonpos_pop(ptr);
	assert_string_equal(ptr, "/zones/12");
	jsonpos_pop(ptr);
	jsonpos_pop(ptr);
	assert_string_equal(ptr, "");
	jsonpos_pop(ptr);
	assert_string_equal(ptr, "");
}

/* ------------------------------------------------------------- config -- */

static void test_config_full(void **state)
{
	(void)state;
	config_t *c = NULL;
	diag_t *d = NULL;
	int r = load_text(
	    "{\"listen\": [\"127.0.0.1:5353\", \"[::1]:5353\", \"192.0.2.1\"],\n"
	    " \"threads\": 3, \"edns_payload\": 1400,\n"
	    " \"tcp\": {\"idle_timeout_ms\": 2500, \"max_connections\": 77},\n"
	    " \"log\": {\"level\": \"debug\", \"syslog\": true},\n"
	    " \"zones\": [{\"origin\": \"example.test\", \"file\": \"zones/a.zone\"},\n"
	    "           {\"origin\": \"other.test.\", \"file\": \"/dev/null\"}],\n"
	    " \"datacenters\": [{\"id\": \"dc-east\"}], \"services\": {}, \"geo\": 1,\n"
	    " \"probes\": [], \"api\": {\"listen\": \"x\"}, \"state_dir\": \"/var/lib\"}\n",
	    &c, &d);
	diag_print(d, stderr);
	assert_int_equal(r, SOV_OK);
	assert_int_equal(diag_count(d), 0);
	assert_non_null(c);
	assert_string_equal(c->path, tmp_path("c.json"));
	assert_int_equal(c->listen_count, 3);
	char buf[ADDR_STR_MAX];
	assert_string_equal(addr_format((struct sockaddr *)&c->listen[1].ss, buf, sizeof(buf)),
			    "[::1]:5353");
	assert_string_equal(addr_format((struct sockaddr *)&c->listen[2].ss, buf, sizeof(buf)),
			    "192.0.2.1:53");
	assert_int_equal(c->threads, 3);
	assert_int_equal(c->edns_payload, 1400);
	assert_int_equal(c->tcp_idle_timeout_ms, 2500);
	assert_int_equal(c->tcp_max_connections, 77);
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	assert_true(c->log_syslog);
	assert_int_equal(c->zone_count, 2);
	assert_string_equal(c->zones[0].origin, "example.test");
	/* relative to the config file's directory, not the working directory */
	char want[600];
	snprintf(want, sizeof(want), "%s/zones/a.zone", tmpdir);
	assert_string_equal(c->zones[0].file, want);
	assert_string_equal(c->zones[1].origin, "other.test.");
	assert_string_equal(c->zones[1].file, "/dev/null");

	/* later sections are kept for their modules */
	json_t *root = c->json;
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(root, "datacenters"), 0), "id")),
			    "dc-east");
	assert_non_null(c->text);
	assert_int_equal(c->text_len, strlen(c->text));

	/* ... and can find where a value of them is, with config_locate() */
	unsigned line, col, want_line, want_col;
	const json_t *id =
	    json_object_get(json_array_get(json_object_get(root, "datacenters"), 0), "id");
	config_locate(c, id, &line, &col);
	pos_of(c->text, "\"dc-east\"", 0, &want_line, &want_col);
	assert_int_equal(line, want_line);
	assert_int_equal(col, want_col);
	const json_t *services = json_object_get(root, "services");
	config_locate(c, services, &line, &col);
	pos_of(c->text, "{}", 0, &want_line, &want_col);
	assert_int_equal(line, want_line);
	assert_int_equal(col, want_col);
	json_t *stranger = json_string("not in the document");
	config_locate(c, stranger, &line, &col); /* not a node of c->json: no position */
	assert_int_equal(line, 0);
	assert_int_equal(col, 0);
	json_decref(stranger);

	config_free(c);
	diag_free(d);
}

static void test_config_defaults(void **state)
{
	(void)state;
	config_t *c = NULL;
	diag_t *d = NULL;
	assert_int_equal(load_text("{" GOOD_LISTEN ", " GOOD_ZONES "}", &c, &d), SOV_OK);
	assert_int_equal(c->threads, 0);
	assert_int_equal(c->edns_payload, CONFIG_DEFAULT_EDNS_PAYLOAD);
	assert_int_equal(c->tcp_idle_timeout_ms, CONFIG_DEFAULT_TCP_IDLE_MS);
	assert_int_equal(c->tcp_max_connections, CONFIG_DEFAULT_TCP_MAX_CONN);
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_false(c->log_syslog);
	/* identity: the host name, NSID and every CH TXT name on */
	char host[256] = "";
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	assert_string_equal(c->identity, host[0] ? host : "sovdns");
	assert_string_equal(c->version, "sovdns " SOVDNS_VERSION);
	assert_true(c->nsid);
	assert_int_equal(c->chaos, CONFIG_CHAOS_ID_SERVER | CONFIG_CHAOS_HOSTNAME_BIND |
				       CONFIG_CHAOS_VERSION_BIND);
	config_free(c);
	diag_free(d);

	/* identity set, NSID off, only id.server */
	assert_int_equal(load_text("{" GOOD_LISTEN ", " GOOD_ZONES
				   ", \"identity\": {\"name\": \"ns1.fra\", \"version\": \"x\","
				   " \"nsid\": false, \"chaos\": [\"id.server\"]}}",
				   &c, &d),
			 SOV_OK);
	assert_string_equal(c->identity, "ns1.fra");
	assert_string_equal(c->version, "x");
	assert_false(c->nsid);
	assert_int_equal(c->chaos, CONFIG_CHAOS_ID_SERVER);
	config_free(c);
	diag_free(d);
	assert_int_equal(
	    load_text("{" GOOD_LISTEN ", " GOOD_ZONES ", \"identity\": {\"chaos\": []}}", &c, &d),
	    SOV_OK);
	assert_int_equal(c->chaos, 0);
	assert_true(c->nsid);
	config_free(c);
	diag_free(d);
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"identity\": {\"name\": \"\"}}", "\"\"", 0,
		     "\"name\" must be 1 to 255 bytes long (no NUL), not 0");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"identity\": {\"nsid\": 1}}", "1}}", 0,
		     "\"nsid\" must be true or false, not an integer");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES
		     ", \"identity\": {\"chaos\": [\"authors.bind\"]}}",
		     "\"authors.bind\"", 0,
		     "\"chaos\" names are \"id.server\", \"hostname.bind\" and \"version.bind\"");

	/* empty sections are fine */
	assert_int_equal(
	    load_text("{" GOOD_LISTEN ", \"tcp\": {}, \"log\": {}, " GOOD_ZONES "}", &c, &d),
	    SOV_OK);
	config_free(c);
	diag_free(d);

	c = config_new_defaults();
	assert_non_null(c);
	assert_null(c->path);
	assert_null(c->json);
	assert_int_equal(c->edns_payload, CONFIG_DEFAULT_EDNS_PAYLOAD);
	assert_int_equal(c->zone_count, 0);
	assert_int_equal(config_add_listen(c, "[::1]:5353"), SOV_OK);
	assert_int_equal(config_add_listen(c, "127.0.0.1"), SOV_OK);
	assert_int_equal(config_add_listen(c, "nope:53"), SOV_EINVAL);
	assert_int_equal(c->listen_count, 2);
	assert_int_equal(ntohs(((struct sockaddr_in *)&c->listen[1].ss)->sin_port), 53);
	assert_int_equal(config_add_zone(c, "example.test", "rel/a.zone"), SOV_OK);
	assert_int_equal(c->zone_count, 1);
	assert_string_equal(c->zones[0].file, "rel/a.zone"); /* as given */
	assert_false(c->zones[0].secondary);		     /* a command-line zone is a primary */
	unsigned line = 9, col = 9;
	config_locate(c, c, &line, &col); /* no file: no position */
	assert_int_equal(line, 0);
	assert_int_equal(col, 0);
	config_free(c);
	config_free(NULL);
}

static void test_config_relative_dir(void **state)
{
	(void)state;
	/* a config in a subdirectory resolves paths from there */
	write_file("zones/sub.json",
		   "{\"listen\": [\"127.0.0.1:53\"],"
		   " \"zones\": [{\"origin\": \"a.test\", \"file\": \"b.zone\"}]}");
	config_t *c = NULL;
	diag_t *d = diag_new();
	char cfg[600];
	snprintf(cfg, sizeof(cfg), "%s/zones/sub.json", tmpdir);
	assert_int_equal(config_load(cfg, &c, d), SOV_OK);
	char want[600];
	snprintf(want, sizeof(want), "%s/zones/b.zone", tmpdir);
	assert_string_equal(c->zones[0].file, want);
	config_free(c);
	diag_free(d);
}

static void test_config_unknown_keys(void **state)
{
	(void)state;
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ",\n  \"colour\": 1}", "\"colour\"", 0,
		     "unknown key \"colour\" (expected one of: listen, threads, edns_payload, "
		     "minimal_responses, tcp, "
		     "log, zones, cookies, rrl, user, identity)");
	expect_error("{\"lisen\": [], " GOOD_ZONES "}", "\"lisen\"", 0,
		     "unknown key \"lisen\" (did you mean \"listen\"?)");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"tcp\": {\"idle_ms\": 5}}", "\"idle_ms\"",
		     0,
		     "unknown key \"idle_ms\" (expected one of: idle_timeout_ms, max_connections)");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"log\": {\"levle\": \"info\"}}",
		     "\"levle\"", 0, "unknown key \"levle\" (did you mean \"level\"?)");
	expect_error("{" GOOD_LISTEN
		     ", \"zones\": [{\"origin\": \"a.test\", \"file\": \"zones/a.zone\","
		     " \"ttl\": 5}]}",
		     "\"ttl\"", 0,
		     "unknown key \"ttl\" (expected one of: origin, file, role, transfer, "
		     "primaries, notify, update)");
	/* reserved names are only reserved at the top level */
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"tcp\": {\"api\": 1}}", "\"api\"", 0,
		     "unknown key \"api\" (expected one of: idle_timeout_ms, max_connections)");
	/* a key with a '/' in it is still located (RFC 6901 escaping) */
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"a/b~c\": 1}", "\"a/b~c\"", 0,
		     "unknown key \"a/b~c\" (expected one of: listen, threads, edns_payload, "
		     "minimal_responses, tcp, "
		     "log, zones, cookies, rrl, user, identity)");
}

static void test_config_types(void **state)
{
	(void)state;
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"threads\": \"4\"}", "\"4\"", 0,
		     "\"threads\" must be an integer from 0 to 256, not a string");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"threads\": 2.0}", "2.0", 0,
		     "\"threads\" must be an integer from 0 to 256, not a fractional number");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"edns_payload\": true}", "true", 0,
		     "\"edns_payload\" must be an integer from 512 to 4096, not a boolean");
	expect_error("{\"listen\": \"127.0.0.1:53\", " GOOD_ZONES "}", "\"127", 0,
		     "\"listen\" must be an array of addresses such as [\"127.0.0.1:53\", "
		     "\"[::1]:53\"], not a string");
	expect_error("{\"listen\": [53], " GOOD_ZONES "}", "53", 0,
		     "a listen address must be a string such as \"127.0.0.1:53\", not an integer");
	expect_error(
	    "{" GOOD_LISTEN ", \"zones\": {}}", "{}", 0,
	    "\"zones\" must be an array of {\"origin\": ..., \"file\": ...}, not an object");
	expect_error("{" GOOD_LISTEN ", \"zones\": [null]}", "null", 0,
		     "a zone must be an object {\"origin\": ..., \"file\": ...}, not null");
	expect_error("{" GOOD_LISTEN ", \"zones\": [{\"origin\": 1, \"file\": \"zones/a.zone\"}]}",
		     "1,", 0,
		     "\"origin\" must be a string such as \"example.com\", not an integer");
	expect_error("{" GOOD_LISTEN ", \"zones\": [{\"origin\": \"a.test\", \"file\": []}]}", "[]",
		     0, "\"file\" must be a string (a path), not an array");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"tcp\": 5}", "5}", 0,
		     "\"tcp\" must be an object, not an integer");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"log\": {\"syslog\": \"yes\"}}", "\"yes\"",
		     0, "\"syslog\" must be true or false, not a string");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"log\": {\"level\": 3}}", "3}", 0,
		     "\"level\" must be a string (error, warning, info or debug), not an integer");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"log\": {\"level\": \"loud\"}}",
		     "\"loud\"", 0,
		     "unknown log level \"loud\": expected error, warning, info or debug");
	expect_error("[1, 2]", "[", 0,
		     "the configuration must be a JSON object {...}, not an array");
}

static void test_config_ranges(void **state)
{
	(void)state;
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"edns_payload\": 511}", "511", 0,
		     "\"edns_payload\" is 511, out of range: must be from 512 to 4096");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"edns_payload\": 4097}", "4097", 0,
		     "\"edns_payload\" is 4097, out of range: must be from 512 to 4096");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"threads\": 257}", "257", 0,
		     "\"threads\" is 257, out of range: must be from 0 to 256");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"threads\": -1}", "-1", 0,
		     "\"threads\" is -1, out of range: must be from 0 to 256");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"tcp\": {\"max_connections\": 0}}", "0}",
		     0, "\"max_connections\" is 0, out of range: must be from 1 to 1000000");
	expect_error("{" GOOD_LISTEN ", " GOOD_ZONES ", \"tcp\": {\"idle_timeout_ms\": 99}}", "99",
		     0, "\"idle_timeout_ms\" is 99, out of range: must be from 100 to 3600000");

	/* the bounds themselves are fine */
	config_t *c = NULL;
	diag_t *d = NULL;
	assert_int_equal(load_text("{" GOOD_LISTEN ", " GOOD_ZONES
				   ", \"edns_payload\": 4096, \"threads\": 256}",
				   &c, &d),
			 SOV_OK);
	assert_int_equal(c->edns_payload, 4096);
	assert_int_equal(c->threads, 256);
	config_free(c);
	diag_free(d);
	assert_int_equal(
	    load_text("{" GOOD_LISTEN ", " GOOD_ZONES ", \"edns_payload\": 512}", &c, &d), SOV_OK);
	config_free(c);
	diag_free(d);
}

static void test_config_required(void **state)
{
	(void)state;
	/* a missing member is reported at the object that lacks it */
	expect_error("{" GOOD_ZONES "}", "{", 0,
		     "missing \"listen\": at least one listen address is required, e.g. "
		     "\"listen\": [\"127.0.0.1:53\"]");
	expect_error("\n {" GOOD_LISTEN "}", "{", 0,
		     "missing \"zones\": at least one zone is required, e.g. \"zones\": "
		     "[{\"origin\": \"example.com\", \"file\": \"example.com.zone\"}]");
	expect_error("{\"listen\": [], " GOOD_ZONES "}", "[]", 0,
		     "\"listen\" is empty: at least one listen address is required");
	expect_error("{" GOOD_LISTEN ", \"zones\": []}", "[]", 0,
		     "\"zones\" is empty: at least one zone is required");
	expect_error("{" GOOD_LISTEN ", \"zones\": [{\"file\": \"zones/a.zone\"}]}", "{\"file", 0,
		     "zones[0] has no \"origin\" (the zone's name, e.g. \"example.com\")");
	expect_error("{" GOOD_LISTEN ", \"zones\": ["
		     "{\"origin\": \"a.test\", \"file\": \"zones/a.zone\"}, "
		     "{\"origin\": \"b.test\"}]}",
		     "{\"origin\": \"b", 0,
		     "zones[1] (b.test) has no \"file\" (the path of its zone file)");
	expect_error("{" GOOD_LISTEN ", \"zones\": [{\"origin\": \"a.test\", \"file\": \"\"}]}",
		     "\"\"", 0, "\"file\" is empty: expected the path of the zone file");
}

static void test_config_values(void **state)
{
	(void)state;
	expect_error("{\"listen\": [\"127.0.0.1:99999\"], " GOOD_ZONES "}", "\"127", 0,
		     "invalid listen address \"127.0.0.1:99999\": expected IPv4:PORT, "
		     "[IPv6]:PORT, or an address alone for port 53");
	expect_error(
	    "{\"listen\": [\"127.0.0.1:53\",\n \"[::1]:53\",\n \"127.0.0.1:53\"], " GOOD_ZONES "}",
	    "\"127", 1, "listen address 127.0.0.1:53 is listed twice (first on line 1)");
	/* "127.0.0.1" and "127.0.0.1:53" are the same address */
	expect_error("{\"listen\": [\"127.0.0.1\", \"127.0.0.1:53\"], " GOOD_ZONES "}", "\"127", 1,
		     "listen address 127.0.0.1:53 is listed twice (first on line 1)");
	expect_error("{" GOOD_LISTEN ", \"zones\": [\n"
		     " {\"origin\": \"example.test\", \"file\": \"zones/a.zone\"},\n"
		     " {\"origin\": \"EXAMPLE.test.\", \"file\": \"zones/b.zone\"}]}",
		     "\"EXAMPLE", 0, "zone \"EXAMPLE.test.\" is listed twice (first on line 2)");
	expect_error(
	    "{" GOOD_LISTEN ", \"zones\": [{\"origin\": \"a..test\", \"file\": \"zones/a.zone\"}]}",
	    "\"a..", 0,
	    "invalid zone origin \"a..test\": it has an empty label (\"..\" or a leading dot)");
	expect_error(
	    "{" GOOD_LISTEN ", \"zones\": [{\"origin\": \".a.test\", \"file\": \"zones/a.zone\"}]}",
	    "\".a", 0,
	    "invalid zone origin \".a.test\": it has an empty label (\"..\" or a leading dot)");
	expect_error("{" GOOD_LISTEN
		     ", \"zones\": [{\"origin\": \"\", \"file\": \"zones/a.zone\"}]}",
		     "\"\"", 0, "invalid zone origin \"\": it is empty");
	expect_error(
	    "{" GOOD_LISTEN ", \"zones\": [{\"origin\": \"a b\", \"file\": \"zones/a.zone\"}]}",
	    "\"a b", 0, "invalid zone origin \"a b\": it contains a space or a control character");
	expect_error("{" GOOD_LISTEN ", \"zones\": [{\"origin\": "
		     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test\", "
		     "\"file\": \"zones/a.zone\"}]}",
		     "\"aaaa", 0,
		     "invalid zone origin "
		     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test\": "
		     "a label is longer than 63 octets");

	/* escapes count as one octet; the root zone is a valid origin */
	config_t *c = NULL;
	diag_t *d = NULL;
	assert_int_equal(
	    load_text("{" GOOD_LISTEN ", \"zones\": [{\"origin\": \".\", \"file\": "
		      "\"zones/a.zone\"}, {\"origin\": \"a\\\\.b\\\\065.test\", \"file\": "
		      "\"zones/b.zone\"}]}",
		      &c, &d),
	    SOV_OK);
	assert_string_equal(c->zones[1].origin, "a\\.b\\065.test");
	config_free(c);
	diag_free(d);
}

/* The "cannot read zone file" message holds the temp path. */
static void test_config_missing_zone_file(void **state)
{
	(void)state;
	config_t *c = NULL;
	diag_t *d = NULL;
	const char *text = "{" GOOD_LISTEN ", \"zones\": [{\"origin\": \"a.test\", \"file\": "
			   "\"zones/nope.zone\"}]}";
	unsigned line, col;
	pos_of(text, "\"zones/nope", 0, &line, &col);
	int r = load_text(text, &c, &d);
	assert_int_equal(r, SOV_ESEMANTIC);
	assert_int_equal(diag_count(d), 1);
	char want[1200];
	snprintf(
	    want, sizeof(want),
	    "%s:%u:%u: cannot read zone file \"%s/zones/nope.zone\": No such file or directory",
	    tmp_path("c.json"), line, col, tmpdir);
	assert_string_equal(diag_get(d, 0), want);
	config_free(c);
	diag_free(d);
}

static void test_config_syntax(void **state)
{
	(void)state;
	/* syntax errors carry jansson's own position (the token it stopped at) */
	expect_error("{\"listen\": [\"a\",\n  ]}", "]", 0,
		     "invalid JSON: unexpected token near ']'");
	expect_error("{\"listen\": [], \"listen\": []}", "\": []}", 0,
		     "invalid JSON: duplicate object key near '\"listen\"'");
	expect_error("{\"a\": 1} x", "x", 0, "invalid JSON: end of file expected near 'x'");
	expect_error("{\"a\": 1,\n \"b\": tru}", "u}", 0, "invalid JSON: invalid token near 'tru'");
	/* jansson says column 0 at the end of an empty file; we print 1 */
	expect_error("", "", 0, "invalid JSON: '[' or '{' expected near end of file");

	config_t *c = NULL;
	diag_t *d = diag_new();
	char path[600];
	snprintf(path, sizeof(path), "%s/does-not-exist.json", tmpdir);
	assert_int_equal(config_load(path, &c, d), SOV_EIO);
	assert_null(c);
	char want[700];
	snprintf(want, sizeof(want),
		 "%s:1:1: cannot open configuration file: No such file or directory", path);
	assert_string_equal(diag_get(d, 0), want);
	diag_free(d);

	d = diag_new();
	assert_int_equal(config_load(tmpdir, &c, d), SOV_EIO); /* a directory */
	assert_int_equal(diag_count(d), 1);
	assert_non_null(strstr(diag_get(d, 0), ":1:1: configuration file is not a regular file"));
	diag_free(d);
}

static void test_config_all_errors_in_order(void **state)
{
	(void)state;
	config_t *c = NULL;
	diag_t *d = NULL;
	const char *text = "{\"zones\": [{\"origin\": \"a.test\", \"file\": 5}],\n"
			   " \"bogus\": 1,\n"
			   " \"threads\": 1000,\n"
			   " \"listen\": [\"x\"]}";
	int r = load_text(text, &c, &d);
	assert_int_equal(r, SOV_ESEMANTIC);
	assert_null(c);
	assert_int_equal(diag_count(d), 4);
	/* sorted by position, whatever order the checks ran in */
	static const struct {
		const char *needle;
		const char *msg;
	} want[] = {
	    {"5}", "\"file\" must be a string (a path), not an integer"},
	    {"\"bogus\"", "unknown key \"bogus\" (expected one of: listen, threads, edns_payload, "
			  "minimal_responses, "
			  "tcp, log, zones, cookies, rrl, user, identity)"},
	    {"1000", "\"threads\" is 1000, out of range: must be from 0 to 256"},
	    {"\"x\"", "invalid listen address \"x\": expected IPv4:PORT, [IPv6]:PORT, or an "
		      "address alone for port 53"},
	};
	for (size_t i = 0; i < 4; i++) {
		unsigned line, col;
		char exp[1024];
		pos_of(text, want[i].needle, 0, &line, &col);
		snprintf(exp, sizeof(exp), "%s:%u:%u: %s", tmp_path("c.json"), line, col,
			 want[i].msg);
		assert_string_equal(diag_get(d, i), exp);
	}
	diag_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_parse_v4),
	    cmocka_unit_test(test_addr_parse_v6),
	    cmocka_unit_test(test_addr_parse_invalid),
	    cmocka_unit_test(test_net_parse),
	    cmocka_unit_test(test_net_contains),
	    cmocka_unit_test(test_jsonpos_locate),
	    cmocka_unit_test(test_jsonpos_escapes_and_utf8),
	    cmocka_unit_test(test_jsonpos_truncated),
	    cmocka_unit_test(test_jsonpos_pointer_build),
	    cmocka_unit_test(test_config_full),
	    cmocka_unit_test(test_config_defaults),
	    cmocka_unit_test(test_config_relative_dir),
	    cmocka_unit_test(test_config_unknown_keys),
	    cmocka_unit_test(test_config_types),
	    cmocka_unit_test(test_config_ranges),
	    cmocka_unit_test(test_config_required),
	    cmocka_unit_test(test_config_values),
	    cmocka_unit_test(test_config_missing_zone_file),
	    cmocka_unit_test(test_config_syntax),
	    cmocka_unit_test(test_config_all_errors_in_order),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
