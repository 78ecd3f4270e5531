/* test_geo.c — unit tests of geo/: configuration, location, the merged
 * trie and ECS scopes, selection policies, split horizon, explain.
 *
 * The databases are built at test time from the sources in tests/unit/geo/ by
 * tests/unit/geo/mkmmdb.pl (meson custom_target); GEO_MMDB_DIR is where they
 * are. Geography of the fixtures (see geo/city.txt): NY and SF in
 * 192.0.2.0/24, Frankfurt and Paris in 198.51.100.0/24, Tokyo and two
 * country-only networks in 203.0.113.0/24, Paris / Singapore / New York in
 * 2001:db8:1..3::/48; 192.0.2.192/26, 203.0.113.224/27, 2001:db8::/48 and
 * 2001:db8:4::/46 are absent.
 */
/* cmocka.h needs these first, in this order. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

/* cmocka.h needs the headers above it */
#include <cmocka.h>
// clang-format on

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/diag.h"
#include "common/err.h"
#include "geo/geo.h"
#include "geo/geo_conf.h"
#include "geo/geo_map.h"
#include "wire/dname.h"
#include "wire/wire.h"

#ifdef GEO_MMDB_DIR
#define MMDB_DIR GEO_MMDB_DIR
#define REQUIRE_MMDB() ((void)0)
#else
#define MMDB_DIR "/nonexistent"
#define REQUIRE_MMDB()                                                                             \
	do {                                                                                       \
		print_message("SKIPPED: the test .mmdb could not be built: install the Perl "      \
			      "module MaxMind::DB::Writer::Tree (Debian: "                         \
			      "libmaxmind-db-writer-perl)\n");                                     \
		skip();                                                                            \
	} while (0)
#endif

/* ---- helpers ------------------------------------------------------------ */

/* The configs below are written with ' for " (readable in C); @MMDB@ is the
 * fixture directory. Returns a static buffer. */
static const char *jsonify(const char *tmpl)
{
	static char buf[16384];
	size_t o = 0;

	for (const char *p = tmpl; *p && o + 256 < sizeof(buf); p++) {
		if (strncmp(p, "@MMDB@", 6) == 0) {
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", MMDB_DIR);
			p += 5;
		} else {
			buf[o++] = *p == '\'' ? '"' : *p;
		}
	}
	buf[o] = '\0';
	return buf;
}

static int load_cfg(const char *tmpl, const char *file, const geo_jsonpos_t *pos, diag_t *diag,
		    geo_ctx_t **out)
{
	json_error_t jerr;
	json_t *root = json_loads(jsonify(tmpl), 0, &jerr);

	if (root == NULL)
		fail_msg("test config does not parse: %s (line %d)", jerr.text, jerr.line);
	int rc = geo_ctx_load(root, file, pos, diag, out);
	json_decref(root);
	return rc;
}

static geo_ctx_t *load_ok(const char *tmpl)
{
	diag_t *diag = diag_new();
	geo_ctx_t *ctx = NULL;
	int rc = load_cfg(tmpl, "test.json", NULL, diag, &ctx);

	if (rc != SOV_OK) {
		diag_print(diag, stderr);
		fail_msg("geo_ctx_load: %s", err_str(rc));
	}
	assert_int_equal(diag_count(diag), 0);
	diag_free(diag);
	return ctx;
}

static struct geo_client client(const char *text)
{
	struct geo_client c;
	if (geo_client_parse(text, &c) != SOV_OK)
		fail_msg("bad client text %s", text);
	return c;
}

static size_t svc(const geo_ctx_t *ctx, const char *name)
{
	uint8_t wire[DNAME_MAXLEN];
	assert_true(dname_from_str(name, wire) > 0);
	int i = geo_service_find(ctx, wire);
	if (i < 0)
		fail_msg("no service %s", name);
	return (size_t)i;
}

/* "dc-a dc-b" for the chosen datacenters. */
static const char *ids(const geo_ctx_t *ctx, const struct geo_result *r)
{
	static char buf[512];
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->count; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? " " : "",
				      geo_dc_id(ctx, r->dc[i]));
	return buf;
}

struct expect {
	const char *client; /* NULL: no client */
	uint16_t qtype;
	const char *dcs; /* expected chosen ids, "" for none */
	int scope;
};

static void check_sel(const geo_ctx_t *ctx, const char *service, const struct expect *e,
		      const uint8_t *state)
{
	struct geo_client c;
	struct geo_result r;

	if (e->client)
		c = client(e->client);
	assert_int_equal(
	    geo_select(ctx, svc(ctx, service), e->client ? &c : NULL, e->qtype, state, &r), SOV_OK);
	if (strcmp(ids(ctx, &r), e->dcs) != 0 || r.ecs_scope != e->scope)
		fail_msg("%s %s %s: got [%s] scope %u, expected [%s] scope %d", service,
			 e->client ? e->client : "(none)", e->qtype == DNS_TYPE_A ? "A" : "AAAA",
			 ids(ctx, &r), r.ecs_scope, e->dcs, e->scope);
}

#define A DNS_TYPE_A
#define AAAA DNS_TYPE_AAAA

/* The main test configuration: four datacenters on four continents. */
static const char *base_cfg =
    "{'datacenters': ["
    " {'id': 'dc-east', 'location': {'lat': 40.7, 'lon': -74.0},"
    "  'ipv4': ['192.0.2.10'], 'ipv6': ['2001:db8:e::10'], 'regions': ['NA', 'US'],"
    "  'internal': {'nets': ['10.1.0.0/16', 'fd00:e::/48'], 'ipv4': ['10.1.0.10'],"
    "               'ipv6': []}},"
    " {'id': 'dc-west', 'location': {'lat': 50.1, 'lon': 8.7},"
    "  'ipv4': ['198.51.100.10', '198.51.100.11'], 'ipv6': ['2001:db8:a::10'],"
    "  'regions': ['EU'],"
    "  'internal': {'nets': ['10.2.0.0/16'], 'ipv4': ['10.2.0.10'], 'ipv6': ['fd00:a::10']}},"
    " {'id': 'dc-asia', 'location': {'lat': 1.35, 'lon': 103.8},"
    "  'ipv4': ['203.0.113.10'], 'regions': ['AS']},"
    " {'id': 'dc-south', 'location': {'lat': -23.5, 'lon': -46.6},"
    "  'ipv4': ['203.0.113.50'], 'ipv6': ['2001:db8:5a::10'], 'regions': ['SA']}"
    "],"
    "'services': ["
    " {'name': 'www.example.test', 'datacenters': ['dc-east', 'dc-west', 'dc-asia']},"
    " {'name': 'db.example.test', 'policy': 'failover', 'datacenters': ['dc-west', 'dc-east']},"
    " {'name': 'all.example.test', 'policy': 'all',"
    "  'datacenters': ['dc-east', 'dc-west', 'dc-asia']},"
    " {'name': 'first.example.test', 'datacenters': ['dc-east', 'dc-west', 'dc-asia'],"
    "  'on_all_down': 'first'},"
    " {'name': 'empty.example.test', 'datacenters': ['dc-east', 'dc-west'],"
    "  'on_all_down': 'empty'},"
    " {'name': 'two.example.test', 'datacenters': ['dc-east', 'dc-west', 'dc-asia'],"
    "  'max_answers': 2},"
    " {'name': 'v4.example.test', 'datacenters': ['dc-asia']},"
    " {'name': 'fo.example.test', 'policy': 'failover', 'datacenters': ['dc-south', 'dc-asia'],"
    "  'ttl': 60}"
    "],"
    "'geo': {"
    " 'databases': ['@MMDB@/geo-city.mmdb'],"
    " 'nets': {'192.0.2.64/26': 'dc-west', '2001:db8:3:1::/64': 'EU', '100.64.0.0/10': 'OC'},"
    " 'regions': {'OC': ['dc-asia', 'dc-east']},"
    " 'default': 'dc-east'"
    "}}";

/* ---- helpers: clients and networks -------------------------------------- */

static void test_client_helpers(void **state)
{
	(void)state;
	struct geo_client c;
	struct dns_ecs ecs = {.family = 1, .source_prefix = 24, .addr = {198, 51, 100, 77}};

	assert_int_equal(geo_client_from_ecs(ecs.family, ecs.source_prefix, ecs.addr, &c), SOV_OK);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 24);
	assert_true(c.from_ecs);
	assert_memory_equal(c.addr, ((uint8_t[]){198, 51, 100, 0}), 4);
	ecs.family = 3;
	assert_int_equal(geo_client_from_ecs(ecs.family, ecs.source_prefix, ecs.addr, &c),
			 SOV_EINVAL);
	ecs.family = 1;
	ecs.source_prefix = 33;
	assert_int_equal(geo_client_from_ecs(ecs.family, ecs.source_prefix, ecs.addr, &c),
			 SOV_EINVAL);
	ecs.family = 2;
	ecs.source_prefix = 129;
	assert_int_equal(geo_client_from_ecs(ecs.family, ecs.source_prefix, ecs.addr, &c),
			 SOV_EINVAL);
	ecs.source_prefix = 0;
	assert_int_equal(geo_client_from_ecs(ecs.family, ecs.source_prefix, ecs.addr, &c), SOV_OK);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix, 0);
	assert_memory_equal(c.addr, ((uint8_t[16]){0}), 16);

	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6.sin6_addr);
	assert_int_equal(geo_client_from_sockaddr((struct sockaddr *)&sin6, &c), SOV_OK);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 32);
	assert_false(c.from_ecs);
	assert_memory_equal(c.addr, ((uint8_t[]){192, 0, 2, 7}), 4);
	inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr);
	assert_int_equal(geo_client_from_sockaddr((struct sockaddr *)&sin6, &c), SOV_OK);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix, 128);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	inet_pton(AF_INET, "203.0.113.9", &sin.sin_addr);
	assert_int_equal(geo_client_from_sockaddr((struct sockaddr *)&sin, &c), SOV_OK);
	assert_int_equal(c.prefix, 32);
	struct sockaddr unix_sa = {.sa_family = AF_UNIX};
	assert_int_equal(geo_client_from_sockaddr(&unix_sa, &c), SOV_EINVAL);

	assert_int_equal(geo_client_parse("198.51.100.7/24", &c), SOV_OK);
	assert_int_equal(c.prefix, 24);
	assert_true(c.from_ecs);
	assert_memory_equal(c.addr, ((uint8_t[]){198, 51, 100, 0}), 4);
	assert_int_equal(geo_client_parse("2001:db8::1", &c), SOV_OK);
	assert_int_equal(c.prefix, 128);
	assert_false(c.from_ecs);
	assert_int_equal(geo_client_parse("1.2.3.4/33", &c), SOV_EINVAL);
	assert_int_equal(geo_client_parse("1.2.3.4/", &c), SOV_EINVAL);
	assert_int_equal(geo_client_parse("1.2.3.4/+8", &c), SOV_EINVAL);
	assert_int_equal(geo_client_parse("example", &c), SOV_EINVAL);

	sov_net_t n;
	assert_int_equal(net_parse("192.0.2.0/24", &n), SOV_OK);
	assert_int_equal(n.prefix, 24);
	assert_int_equal(net_parse("192.0.2.1/24", &n), SOV_EINVAL); /* host bits */
	assert_int_equal(net_parse("2001:db8::/32", &n), SOV_OK);
	assert_int_equal(net_parse("2001:db8::/129", &n), SOV_EINVAL);
	assert_int_equal(net_parse("300.0.0.0/8", &n), SOV_EINVAL);
	assert_int_equal(net_parse("0.0.0.0/0", &n), SOV_OK);
	uint8_t a4[4] = {192, 0, 2, 200};
	assert_int_equal(net_parse("192.0.2.192/26", &n), SOV_OK);
	assert_true(net_contains(&n, AF_INET, a4));
	a4[3] = 191;
	assert_false(net_contains(&n, AF_INET, a4));
}

static void test_distance(void **state)
{
	(void)state;
	double d2r = M_PI / 180.0;
	/* New York – London is about 5570 km; Frankfurt to itself 0. */
	double d = geo_distance_km(40.7128 * d2r, -74.006 * d2r, 51.5074 * d2r, -0.1278 * d2r);
	assert_true(d > 5550 && d < 5590);
	assert_true(geo_distance_km(0.5, 0.5, 0.5, 0.5) == 0.0);
	/* Antipodes: half the circumference, no NaN. */
	d = geo_distance_km(0, 0, 0, M_PI);
	assert_true(d > 20015 && d < 20016);
}

/* ---- configuration ------------------------------------------------------ */

static void test_config_defaults(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	geo_ctx_t *ctx = load_ok(base_cfg);

	assert_int_equal(geo_dc_count(ctx), 4);
	assert_string_equal(geo_dc_id(ctx, 2), "dc-asia");
	assert_int_equal(geo_dc_find(ctx, "dc-south"), 3);
	assert_int_equal(geo_dc_find(ctx, "dc-nowhere"), SOV_ENOENT);
	assert_int_equal(geo_service_count(ctx), 8);

	/* Lookup is case-insensitive, on the wire form. */
	static const uint8_t upper[] = "\3WWW\7EXAMPLE\4TEST";
	assert_int_equal(geo_service_find(ctx, upper), 0);
	const struct geo_service_info *www = geo_service(ctx, 0);
	assert_string_equal(www->name, "www.example.test");
	assert_int_equal(www->policy, GEO_POLICY_NEAREST);
	assert_int_equal(www->ttl_s, GEO_DEFAULT_TTL_S);
	assert_int_equal(www->max_answers, 1);
	assert_int_equal(www->on_all_down, GEO_DOWN_ALL);
	assert_int_equal(www->dc_count, 3);
	assert_int_equal(www->dcs[2], 2);
	const struct geo_service_info *all = geo_service(ctx, svc(ctx, "all.example.test"));
	assert_int_equal(all->policy, GEO_POLICY_ALL);
	assert_int_equal(all->max_answers, GEO_DC_MAX); /* all: every usable one */
	const struct geo_service_info *fo = geo_service(ctx, svc(ctx, "fo.example.test"));
	assert_int_equal(fo->ttl_s, 60);
	assert_int_equal(fo->policy, GEO_POLICY_FAILOVER);
	assert_int_equal(geo_service(ctx, svc(ctx, "empty.example.test"))->on_all_down,
			 GEO_DOWN_EMPTY);
	geo_ctx_free(ctx);
}

static void test_config_empty(void **state)
{
	(void)state;
	geo_ctx_t *ctx = load_ok("{'zones': []}");
	assert_int_equal(geo_dc_count(ctx), 0);
	assert_int_equal(geo_service_count(ctx), 0);
	geo_ctx_free(ctx);
}

struct cfg_error {
	const char *json;
	const char *message; /* substring of one diagnostic */
};

#define DC_A "{'id': 'dc-a', 'location': {'lat': 10, 'lon': 10}, 'ipv4': ['192.0.2.1']}"
#define DC_B "{'id': 'dc-b', 'location': {'lat': 20, 'lon': 20}, 'ipv6': ['2001:db8::2']}"
#define SVC_AB "{'name': 's.test', 'datacenters': ['dc-a', 'dc-b']}"

static const struct cfg_error cfg_errors[] = {
    {"[]", "must be a JSON object"},
    {"{'datacenters': [" DC_A "], 'services': [{'name': 's.test', 'datacenters': ['dc-a'],"
     " 'ttl': 30, 'ttl_when_down': 100}]}",
     "\"ttl_when_down\" (100) is above \"ttl\" (30)"},
    {"{'datacenters': {}}", "\"datacenters\" must be an array"},
    {"{'datacenters': []}", "\"datacenters\" is empty"},
    {"{'datacenters': [" DC_A ", " DC_A "]}", "duplicate datacenter id \"dc-a\""},
    {"{'datacenters': [{'location': {'lat': 1, 'lon': 1}, 'ipv4': ['192.0.2.1']}]}",
     "\"id\" (a string) is required"},
    {"{'datacenters': [{'id': 'dc a', 'location': {'lat': 1, 'lon': 1}, 'ipv4': ['192.0.2.1']}]}",
     "must be 1..63 characters"},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 95, 'lon': 1}, 'ipv4': ['192.0.2.1']}]}",
     "latitude 95 is outside -90..90"},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 5, 'lon': -181}, 'ipv4': ['192.0.2.1']}]}",
     "longitude -181 is outside -180..180"},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 'n', 'lon': 1}, 'ipv4': ['192.0.2.1']}]}",
     "\"lat\" must be a number"},
    {"{'datacenters': [{'id': 'x', 'ipv4': ['192.0.2.1']}]}", "\"location\" is required"},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 1, 'lon': 1}}]}",
     "needs at least one public address"},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 1, 'lon': 1}, 'ipv4': ['2001:db8::1']}]}",
     "is an IPv6 address; list it under \"ipv6\""},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 1, 'lon': 1}, 'ipv4': ['192.0.2.300']}]}",
     "\"192.0.2.300\" is not an IPv4 address"},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 1, 'lon': 1},"
     " 'ipv4': ['192.0.2.1', '192.0.2.1']}]}",
     "address 192.0.2.1 is listed twice"},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 1, 'lon': 1}, 'ipv4': ['0.0.0.0']}]}",
     "unspecified address"},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 1, 'lon': 1}, 'ipv4': ['192.0.2.1'],"
     " 'color': 'red'}]}",
     "unknown key \"color\" (expected one of: id, location, ipv4, ipv6, regions, internal)"},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 1, 'lon': 1}, 'ipv4': ['192.0.2.1'],"
     " 'regoins': []}]}",
     "unknown key \"regoins\" (did you mean \"regions\"?)"},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 1, 'lon': 1}, 'ipv4': ['192.0.2.1'],"
     " 'internal': {'ipv4': ['10.0.0.1']}}]}",
     "internal \"nets\" must be a non-empty array"},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 1, 'lon': 1}, 'ipv4': ['192.0.2.1'],"
     " 'internal': {'nets': ['10.0.0.1/8'], 'ipv4': ['10.0.0.1']}}]}",
     "internal nets[0] is not a network"},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 1, 'lon': 1}, 'ipv4': ['192.0.2.1'],"
     " 'internal': {'nets': ['10.0.0.0/8']}}]}",
     "\"internal\" needs at least one address"},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 1, 'lon': 1}, 'ipv4': ['192.0.2.1'],"
     " 'internal': {'nets': ['10.0.0.0/8'], 'ipv4': ['10.0.0.1']}},"
     " {'id': 'y', 'location': {'lat': 1, 'lon': 1}, 'ipv4': ['192.0.2.2'],"
     " 'internal': {'nets': ['10.0.0.0/8'], 'ipv4': ['10.0.0.2']}}]}",
     "internal network 10.0.0.0/8 is listed by both \"x\" and \"y\""},
    {"{'datacenters': [{'id': 'x', 'location': {'lat': 1, 'lon': 1}, 'ipv4': ['192.0.2.1'],"
     " 'regions': ['EU', 'eu']}]}",
     "region \"eu\" is listed twice"},
    {"{'datacenters': [" DC_A "], 'services': [{'name': 's.test', 'datacenters': ['dc-z']}]}",
     "unknown datacenter \"dc-z\""},
    {"{'datacenters': [" DC_A "], 'services': [{'name': 's.test', 'datacenters': []}]}",
     "\"datacenters\": must be a non-empty array"},
    {"{'datacenters': [" DC_A "], 'services': [{'name': 's.test'}]}",
     "\"datacenters\": must be a non-empty array"},
    {"{'datacenters': [" DC_A "], 'services': [{'name': 's.test',"
     " 'datacenters': ['dc-a', 'dc-a']}]}",
     "datacenter \"dc-a\" is listed twice"},
    {"{'datacenters': [" DC_A "], 'services': []}", "\"services\" is empty"},
    {"{'datacenters': [" DC_A ", " DC_B "], 'services': [" SVC_AB ", "
     "{'name': 'S.TEST.', 'datacenters': ['dc-a']}]}",
     "service \"S.TEST.\": defined twice"},
    {"{'datacenters': [" DC_A "], 'services': [{'name': 'a..b', 'datacenters': ['dc-a']}]}",
     "not a valid domain name"},
    {"{'datacenters': [" DC_A "], 'services': [{'name': 's.test', 'datacenters': ['dc-a'],"
     " 'policy': 'closest'}]}",
     "\"policy\" must be \"nearest\", \"failover\" or \"all\""},
    {"{'datacenters': [" DC_A "], 'services': [{'name': 's.test', 'datacenters': ['dc-a'],"
     " 'on_all_down': 'none'}]}",
     "\"on_all_down\" must be \"all\", \"first\" or \"empty\""},
    {"{'datacenters': [" DC_A "], 'services': [{'name': 's.test', 'datacenters': ['dc-a'],"
     " 'ttl': -1}]}",
     "\"ttl\" must be an integer"},
    {"{'datacenters': [" DC_A "], 'services': [{'name': 's.test', 'datacenters': ['dc-a'],"
     " 'ttl': 1.5}]}",
     "\"ttl\" must be an integer"},
    {"{'datacenters': [" DC_A "], 'services': [{'name': 's.test', 'datacenters': ['dc-a'],"
     " 'max_answers': 0}]}",
     "\"max_answers\" must be an integer 1..64"},
    {"{'datacenters': [" DC_A "], 'services': [{'name': 's.test', 'datacenters': ['dc-a'],"
     " 'weight': 3}]}",
     "unknown key \"weight\""},
    {"{'geo': {}}", "there are no \"datacenters\""},
    {"{'datacenters': [" DC_A "], 'geo': {'map': {}}}", "geo: unknown key \"map\""},
    {"{'datacenters': [" DC_A "], 'geo': {'nets': {'192.0.2.1/24': 'dc-a'}}}",
     "\"192.0.2.1/24\" is not a network"},
    {"{'datacenters': [" DC_A "], 'geo': {'nets': {'300.0.0.0/8': 'dc-a'}}}",
     "\"300.0.0.0/8\" is not a network"},
    {"{'datacenters': [" DC_A "], 'geo': {'nets': {'2001:db8::/32': 'dc-a',"
     " '2001:0db8::/32': 'dc-a'}}}",
     "network 2001:db8::/32 is listed twice"},
    {"{'datacenters': [" DC_A "], 'geo': {'nets': {'192.0.2.0/24': 'mars'}}}",
     "maps to \"mars\", which is neither"},
    {"{'datacenters': [" DC_A "], 'geo': {'nets': {'192.0.2.0/24': 7}}}",
     "must map to a datacenter id or region"},
    {"{'datacenters': [" DC_A "], 'geo': {'default': 'mars'}}", "geo default: \"mars\" is neither"},
    {"{'datacenters': [" DC_A "], 'geo': {'regions': {'EU': []}}}",
     "geo region \"EU\": must be a non-empty array"},
    {"{'datacenters': [" DC_A "], 'geo': {'regions': {'EU': ['dc-q']}}}",
     "geo region \"EU\": unknown datacenter \"dc-q\""},
    {"{'datacenters': [" DC_A "], 'geo': {'regions': {'dc-a': ['dc-a']}}}",
     "the name is also a datacenter id"},
    {"{'datacenters': [" DC_A "], 'geo': {'regions': {'EU': ['dc-a'], 'eu': ['dc-a']}}}",
     "defined twice (names are case-insensitive)"},
    {"{'datacenters': [" DC_A "], 'geo': {'databases': 'x.mmdb'}}",
     "\"databases\" must be an array"},
    {"{'datacenters': [" DC_A "], 'geo': {'databases': ['']}}",
     "databases[0] must be a non-empty file path"},
};

static void test_config_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cfg_errors) / sizeof(cfg_errors[0]); i++) {
		diag_t *diag = diag_new();
		geo_ctx_t *ctx = (geo_ctx_t *)1;
		int rc = load_cfg(cfg_errors[i].json, "bad.json", NULL, diag, &ctx);
		bool found = false;
		for (size_t k = 0; k < diag_count(diag) && !found; k++)
			found = strstr(diag_get(diag, k), cfg_errors[i].message) != NULL &&
				strncmp(diag_get(diag, k), "bad.json:1:1: ", 14) == 0;
		if (rc != SOV_ESEMANTIC || !found || ctx != NULL) {
			diag_print(diag, stderr);
			fail_msg("config error case %zu (%s): rc %s, expected message \"%s\"", i,
				 cfg_errors[i].json, err_str(rc), cfg_errors[i].message);
		}
		diag_free(diag);
	}
}

/* Every problem is reported, not only the first. */
static void test_config_all_errors(void **state)
{
	(void)state;
	diag_t *diag = diag_new();
	geo_ctx_t *ctx = NULL;
	int rc = load_cfg("{'datacenters': [{'id': 'x', 'location': {'lat': 91, 'lon': 181}}],"
			  " 'services': [{'name': 's.test', 'datacenters': ['y'], 'ttl': 'long'}],"
			  " 'geo': {'nets': {'10.0.0.1/8': 'x'}, 'default': 'z'}}",
			  NULL, NULL, diag, &ctx);
	assert_int_equal(rc, SOV_ESEMANTIC);
	assert_null(ctx);
	/* lat, lon, no address, bad net, default, unknown dc, ttl */
	assert_int_equal(diag_count(diag), 7);
	assert_non_null(strstr(diag_get(diag, 0), "<config>:1:1: "));
	diag_free(diag);
}

/* Records what it was asked about (the JSON is freed before we look). */
static void locate_stub(void *arg, const json_t *value, unsigned *line, unsigned *col)
{
	char *seen = arg;
	snprintf(seen, 64, "%s",
		 json_is_string(value) ? json_string_value(value) : "(not a string)");
	*line = 7;
	*col = 3;
}

/* The position seam: errors are placed where the caller says the value is. */
static void test_config_positions(void **state)
{
	(void)state;
	char seen[64] = "";
	geo_jsonpos_t pos = {.locate = locate_stub, .arg = seen};
	diag_t *diag = diag_new();
	geo_ctx_t *ctx = NULL;
	int rc = load_cfg("{'datacenters': [" DC_A "],"
			  " 'services': [{'name': 's.test', 'datacenters': ['dc-nowhere']}]}",
			  "conf.json", &pos, diag, &ctx);
	assert_int_equal(rc, SOV_ESEMANTIC);
	assert_int_equal(diag_count(diag), 1);
	assert_string_equal(diag_get(diag, 0),
			    "conf.json:7:3: service \"s.test\": \"datacenters\": unknown "
			    "datacenter \"dc-nowhere\"");
	assert_string_equal(seen, "dc-nowhere");
	diag_free(diag);
}

static void test_database_errors(void **state)
{
	(void)state;
	diag_t *diag = diag_new();
	geo_ctx_t *ctx = NULL;
	int rc =
	    load_cfg("{'datacenters': [" DC_A "], 'geo': {'databases': ['/nonexistent/x.mmdb']}}",
		     "c.json", NULL, diag, &ctx);
	assert_int_equal(rc, SOV_EIO);
	assert_null(ctx);
	assert_non_null(strstr(diag_get(diag, 0), "\"/nonexistent/x.mmdb\": cannot open"));
	diag_free(diag);

	/* Not a MaxMind DB at all. */
	char path[] = "/tmp/sovdns-geo-garbage-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a database\n", 15), 15);
	close(fd);
	char cfg[512];
	snprintf(cfg, sizeof(cfg), "{'datacenters': [" DC_A "], 'geo': {'databases': ['%s']}}",
		 path);
	diag = diag_new();
	rc = load_cfg(cfg, "c.json", NULL, diag, &ctx);
	assert_int_equal(rc, SOV_EIO);
	assert_non_null(strstr(diag_get(diag, 0), "cannot open"));
	diag_free(diag);
	unlink(path);
}

/* Relative database paths are relative to the config file's directory. */
static void test_database_relative_path(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	diag_t *diag = diag_new();
	geo_ctx_t *ctx = NULL;
	int rc = load_cfg("{'datacenters': [" DC_A "], 'geo': {'databases': ['geo-city.mmdb']}}",
			  MMDB_DIR "/sovdns.json", NULL, diag, &ctx);
	diag_print(diag, stderr);
	assert_int_equal(rc, SOV_OK);
	geo_ctx_free(ctx);
	diag_free(diag);
}

/* ---- selection: nearest ------------------------------------------------- */

static void test_nearest_v4(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	geo_ctx_t *ctx = load_ok(base_cfg);
	static const struct expect cases[] = {
	    /* New York /25 around the nets /26: the /26 next to it decides. */
	    {"192.0.2.1", A, "dc-east", 26},
	    {"192.0.2.0/24", A, "dc-east", 24}, /* never longer than the source prefix */
	    {"192.0.2.0/26", A, "dc-east", 26},
	    /* SF (by coordinates) and the absent /26 next to it (default
	     * dc-east) give the same order: merged to one /25. */
	    {"192.0.2.130", A, "dc-east", 25},
	    {"192.0.2.200", A, "dc-east", 25},
	    {"192.0.2.128/25", A, "dc-east", 25},
	    /* Frankfurt /25 + Paris /25 → one /24 (same order). */
	    {"198.51.100.1", A, "dc-west", 24},
	    {"198.51.100.128/25", A, "dc-west", 24},
	    {"198.51.100.0/22", A, "dc-west", 22},
	    /* Tokyo by coordinates. */
	    {"203.0.113.1", A, "dc-asia", 25},
	    /* AU: no coordinates; continent OC is an explicit region. */
	    {"203.0.113.130", A, "dc-asia", 26},
	    /* GB: no coordinates, no region; continent EU tags dc-west. */
	    {"203.0.113.200", A, "dc-west", 27},
	    /* Absent → default dc-east. */
	    {"203.0.113.230", A, "dc-east", 27},
	    /* Far from every entry: the widest block without one, 8.0.0.0/7. */
	    {"8.8.8.8", A, "dc-east", 7},
	    {"8.8.8.0/24", A, "dc-east", 7},
	    /* nets → region OC. */
	    {"100.64.1.1", A, "dc-asia", 10},
	    {"100.64.0.0/8", A, "dc-east", 8}, /* 100.0.0.0: outside the /10 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_sel(ctx, "www.example.test", &cases[i], NULL);
	geo_ctx_free(ctx);
}

static void test_nearest_v6(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	geo_ctx_t *ctx = load_ok(base_cfg);
	static const struct expect cases[] = {
	    {"2001:db8:1::1", A, "dc-west", 48},
	    {"2001:db8:1::1", AAAA, "dc-west", 48},
	    {"2001:db8:1::/56", AAAA, "dc-west", 48},
	    /* Singapore: dc-asia for A; it has no IPv6, so AAAA → next. */
	    {"2001:db8:2::1", A, "dc-asia", 48},
	    {"2001:db8:2::1", AAAA, "dc-west", 48},
	    /* New York /48 with a nets /64 (region EU) inside it. */
	    {"2001:db8:3::1", AAAA, "dc-east", 64},
	    {"2001:db8:3:1::1", AAAA, "dc-west", 64},
	    {"2001:db8:3::/48", AAAA, "dc-east", 48},
	    /* A record with nothing usable behaves as absent and merges with
	     * the absent networks around it into 2001:db8:4::/46. */
	    {"2001:db8:5::1", AAAA, "dc-east", 46},
	    {"2001:db8::1", AAAA, "dc-east", 48},
	    {"2001:db8::/32", AAAA, "dc-east", 32},
	    {"2001:db9::1", AAAA, "dc-east", 32},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_sel(ctx, "www.example.test", &cases[i], NULL);
	geo_ctx_free(ctx);
}

/* Tokyo's nearest is dc-asia, which has no IPv6; a v4-only service answers
 * AAAA with nothing (NODATA), whatever the health. */
static void test_aaaa_v4only(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	geo_ctx_t *ctx = load_ok(base_cfg);
	struct geo_client c = client("203.0.113.1");
	struct geo_result r;
	uint8_t down[4] = {0, 0, 0, 0};

	check_sel(ctx, "www.example.test", &(struct expect){"203.0.113.1", A, "dc-asia", 25}, NULL);
	check_sel(ctx, "www.example.test", &(struct expect){"203.0.113.1", AAAA, "dc-west", 25},
		  NULL);
	assert_int_equal(geo_select(ctx, svc(ctx, "v4.example.test"), &c, AAAA, NULL, &r), SOV_OK);
	assert_int_equal(r.count, 0);
	assert_int_equal(r.outcome, GEO_OUT_NOFAMILY);
	assert_int_equal(geo_select(ctx, svc(ctx, "v4.example.test"), &c, AAAA, down, &r), SOV_OK);
	assert_int_equal(r.outcome, GEO_OUT_NOFAMILY);
	assert_int_equal(geo_select(ctx, svc(ctx, "v4.example.test"), &c, A, NULL, &r), SOV_OK);
	assert_int_equal(r.count, 1);
	/* One dc: the answer does not depend on the location. */
	assert_int_equal(r.ecs_scope, 0);
	/* Bad arguments. */
	assert_int_equal(geo_select(ctx, 99, &c, A, NULL, &r), SOV_EINVAL);
	assert_int_equal(geo_select(ctx, 0, &c, DNS_TYPE_TXT, NULL, &r), SOV_EINVAL);
	geo_ctx_free(ctx);
}

/* The addresses returned: all of the dc's, of the query's family. */
static void test_result_addrs(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	geo_ctx_t *ctx = load_ok(base_cfg);
	struct geo_client c = client("198.51.100.9");
	struct geo_result r;
	size_t n;
	char buf[INET6_ADDRSTRLEN];

	assert_int_equal(geo_select(ctx, 0, &c, A, NULL, &r), SOV_OK);
	const uint8_t *a = geo_result_addrs(ctx, &r, 0, &n);
	assert_int_equal(n, 2);
	assert_string_equal(inet_ntop(AF_INET, a, buf, sizeof(buf)), "198.51.100.10");
	assert_string_equal(inet_ntop(AF_INET, a + 4, buf, sizeof(buf)), "198.51.100.11");
	assert_int_equal(geo_select(ctx, 0, &c, AAAA, NULL, &r), SOV_OK);
	a = geo_result_addrs(ctx, &r, 0, &n);
	assert_int_equal(n, 1);
	assert_string_equal(inet_ntop(AF_INET6, a, buf, sizeof(buf)), "2001:db8:a::10");
	geo_ctx_free(ctx);
}

/* geo.nets wins over the database where both match. */
static void test_nets_over_db(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	geo_ctx_t *ctx = load_ok(base_cfg);
	struct geo_locate_info li;
	struct geo_client c = client("192.0.2.70");

	/* 192.0.2.70 is New York in the database, dc-west by nets. */
	check_sel(ctx, "www.example.test", &(struct expect){"192.0.2.70", A, "dc-west", 26}, NULL);
	check_sel(ctx, "www.example.test", &(struct expect){"192.0.2.64/26", A, "dc-west", 26},
		  NULL);
	assert_int_equal(geo_locate_slow(ctx, &c, &li), SOV_OK);
	assert_int_equal(li.src, GEO_SRC_NETS);
	c = client("192.0.2.63");
	assert_int_equal(geo_locate_slow(ctx, &c, &li), SOV_OK);
	assert_int_equal(li.src, GEO_SRC_DB);
	assert_int_equal(li.matched.prefix, 25);
	assert_string_equal(li.rec.city, "New York");
	assert_string_equal(li.rec.subdivision, "US-NY");
	geo_ctx_free(ctx);
}

/* Split horizon: a client in a dc's internal networks gets that dc's
 * internal addresses (or its public ones for a family it has no internal
 * address of). */
static void test_internal(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	geo_ctx_t *ctx = load_ok(base_cfg);
	struct geo_client c = client("10.1.2.3");
	struct geo_result r;
	size_t n;
	char buf[INET6_ADDRSTRLEN];
	uint8_t east_down[4] = {0, GEO_DC_USABLE, GEO_DC_USABLE, GEO_DC_USABLE};

	assert_int_equal(geo_select(ctx, 0, &c, A, NULL, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-east");
	assert_true(r.internal);
	assert_int_equal(r.inside_dc, 0);
	assert_int_equal(r.ecs_scope, 16);
	const uint8_t *a = geo_result_addrs(ctx, &r, 0, &n);
	assert_int_equal(n, 1);
	assert_string_equal(inet_ntop(AF_INET, a, buf, sizeof(buf)), "10.1.0.10");

	/* dc-east has no internal IPv6: its public IPv6 (no NAT to hairpin). */
	assert_int_equal(geo_select(ctx, 0, &c, AAAA, NULL, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-east");
	assert_false(r.internal);
	assert_int_equal(r.inside_dc, 0);
	a = geo_result_addrs(ctx, &r, 0, &n);
	assert_string_equal(inet_ntop(AF_INET6, a, buf, sizeof(buf)), "2001:db8:e::10");

	/* Inside dc-east but dc-east is down: the public answer of the next one. */
	assert_int_equal(geo_select(ctx, 0, &c, A, east_down, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-west");
	assert_false(r.internal);
	a = geo_result_addrs(ctx, &r, 0, &n);
	assert_string_equal(inet_ntop(AF_INET, a, buf, sizeof(buf)), "198.51.100.10");

	/* dc-west's inside, both families internal. */
	c = client("10.2.200.1");
	assert_int_equal(geo_select(ctx, 0, &c, AAAA, NULL, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-west");
	assert_true(r.internal);
	a = geo_result_addrs(ctx, &r, 0, &n);
	assert_string_equal(inet_ntop(AF_INET6, a, buf, sizeof(buf)), "fd00:a::10");

	/* IPv6 internal network of dc-east. */
	c = client("fd00:e::1");
	assert_int_equal(geo_select(ctx, 0, &c, A, NULL, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-east");
	assert_true(r.internal);
	assert_int_equal(r.ecs_scope, 48);

	/* A service without dc-east: inside it, but nothing internal to give. */
	c = client("10.1.2.3");
	assert_int_equal(geo_select(ctx, svc(ctx, "v4.example.test"), &c, A, NULL, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-asia");
	assert_false(r.internal);
	assert_int_equal(r.inside_dc, -1);

	/* failover: the first usable dc is dc-west; the client inside dc-east
	 * gets dc-west's public address, and dc-east's internal one once
	 * dc-east is the first usable. */
	size_t db = svc(ctx, "db.example.test");
	uint8_t west_down[4] = {GEO_DC_USABLE, 0, GEO_DC_USABLE, GEO_DC_USABLE};
	assert_int_equal(geo_select(ctx, db, &c, A, NULL, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-west");
	assert_false(r.internal);
	assert_int_equal(r.ecs_scope, 16);
	assert_int_equal(geo_select(ctx, db, &c, A, west_down, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-east");
	assert_true(r.internal);
	a = geo_result_addrs(ctx, &r, 0, &n);
	assert_string_equal(inet_ntop(AF_INET, a, buf, sizeof(buf)), "10.1.0.10");
	geo_ctx_free(ctx);
}

/* ---- selection: failover, all, health, on_all_down ---------------------- */

static void test_failover(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	geo_ctx_t *ctx = load_ok(base_cfg);
	uint8_t st[4] = {GEO_DC_USABLE, GEO_DC_USABLE, GEO_DC_USABLE, GEO_DC_USABLE};

	/* Same answer everywhere; fo's dcs have no internal nets → scope 0. */
	check_sel(ctx, "fo.example.test", &(struct expect){"198.51.100.0/24", A, "dc-south", 0},
		  st);
	check_sel(ctx, "fo.example.test", &(struct expect){"203.0.113.0/24", A, "dc-south", 0}, st);
	check_sel(ctx, "fo.example.test", &(struct expect){"2001:db8:2::/48", AAAA, "dc-south", 0},
		  st);
	st[3] = 0; /* dc-south down */
	check_sel(ctx, "fo.example.test", &(struct expect){"198.51.100.0/24", A, "dc-asia", 0}, st);
	/* AAAA: dc-asia has no IPv6 and the only IPv6 dc is down. dc-asia is
	 * usable, so the service is not down: no fail-open to dc-south, but a
	 * NODATA, and dual-stack clients use dc-asia over IPv4. */
	struct geo_client c = client("198.51.100.0/24");
	struct geo_result r;
	assert_int_equal(geo_select(ctx, svc(ctx, "fo.example.test"), &c, AAAA, st, &r), SOV_OK);
	assert_int_equal(r.count, 0);
	assert_int_equal(r.outcome, GEO_OUT_OK);
	/* All down: now fail-open names dc-south for AAAA. */
	uint8_t down[4] = {0, 0, 0, 0};
	assert_int_equal(geo_select(ctx, svc(ctx, "fo.example.test"), &c, AAAA, down, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-south");
	assert_int_equal(r.outcome, GEO_OUT_DOWN_ALL);
	/* Every dc but one held, the free one down and IPv4-only: AAAA names
	 * no held dc (NODATA), A fails open to the free one. */
	uint8_t held[4] = {GEO_DC_HELD, GEO_DC_HELD, 0, GEO_DC_HELD};
	assert_int_equal(geo_select(ctx, svc(ctx, "fo.example.test"), &c, AAAA, held, &r), SOV_OK);
	assert_int_equal(r.count, 0);
	assert_int_equal(r.outcome, GEO_OUT_DOWN_ALL);

	/* db's dcs have internal networks, so its scope is that of the
	 * split-horizon map: 198.51.100.0/24 is in 128.0.0.0/1, which holds no
	 * internal network. */
	check_sel(ctx, "db.example.test", &(struct expect){"198.51.100.0/24", A, "dc-west", 1},
		  NULL);
	check_sel(ctx, "db.example.test", &(struct expect){"203.0.113.1", A, "dc-west", 1}, NULL);
	check_sel(ctx, "db.example.test", &(struct expect){"2001:db8:2::/48", AAAA, "dc-west", 1},
		  NULL);
	geo_ctx_free(ctx);
}

static void test_all(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	geo_ctx_t *ctx = load_ok(base_cfg);
	uint8_t st[4] = {GEO_DC_USABLE, GEO_DC_USABLE, 0, GEO_DC_USABLE};
	struct geo_client c = client("203.0.113.0/24");
	struct geo_result r;

	check_sel(ctx, "all.example.test",
		  &(struct expect){"203.0.113.1", A, "dc-east dc-west dc-asia", 1}, NULL);
	check_sel(ctx, "all.example.test",
		  &(struct expect){"198.51.100.0/24", A, "dc-east dc-west dc-asia", 1}, NULL);
	check_sel(ctx, "all.example.test",
		  &(struct expect){"198.51.100.0/24", AAAA, "dc-east dc-west", 1}, NULL);
	check_sel(ctx, "all.example.test",
		  &(struct expect){"198.51.100.0/24", A, "dc-east dc-west", 1}, st);
	memset(st, 0, sizeof(st));
	assert_int_equal(geo_select(ctx, svc(ctx, "all.example.test"), &c, A, st, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-east dc-west dc-asia");
	assert_int_equal(r.outcome, GEO_OUT_DOWN_ALL);
	geo_ctx_free(ctx);
}

static void test_usable_masks(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	geo_ctx_t *ctx = load_ok(base_cfg);
	const uint8_t U = GEO_DC_USABLE;
	struct expect fra = {"198.51.100.1", A, "dc-west", 24};

	check_sel(ctx, "www.example.test", &fra, (uint8_t[]){U, U, U, U});
	fra.dcs = "dc-east"; /* dc-west down: next nearest */
	check_sel(ctx, "www.example.test", &fra, (uint8_t[]){U, 0, U, U});
	/* Held by an admin: not usable even if healthy. */
	check_sel(ctx, "www.example.test", &fra, (uint8_t[]){U, U | GEO_DC_HELD, U, U});
	fra.dcs = "dc-asia";
	check_sel(ctx, "www.example.test", &fra, (uint8_t[]){0, 0, U, U});
	/* A down dc outside the service changes nothing. */
	fra.dcs = "dc-west";
	check_sel(ctx, "www.example.test", &fra, (uint8_t[]){U, U, U, 0});

	/* max_answers 2: the two nearest usable. */
	check_sel(ctx, "two.example.test",
		  &(struct expect){"198.51.100.1", A, "dc-west dc-east", 24}, NULL);
	check_sel(ctx, "two.example.test",
		  &(struct expect){"203.0.113.1", A, "dc-asia dc-west", 25}, NULL);
	check_sel(ctx, "two.example.test",
		  &(struct expect){"203.0.113.1", AAAA, "dc-west dc-east", 25}, NULL);
	check_sel(ctx, "two.example.test",
		  &(struct expect){"198.51.100.1", A, "dc-east dc-asia", 24},
		  (uint8_t[]){U, 0, U, U});
	geo_ctx_free(ctx);
}

static void test_on_all_down(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	geo_ctx_t *ctx = load_ok(base_cfg);
	const uint8_t H = GEO_DC_HELD;
	uint8_t down[4] = {0, 0, 0, 0};
	struct geo_client c = client("198.51.100.1");
	struct geo_result r;

	/* "all" (default): fail-open to every dc, in the client's order. */
	assert_int_equal(geo_select(ctx, 0, &c, A, down, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-west dc-east dc-asia");
	assert_int_equal(r.outcome, GEO_OUT_DOWN_ALL);
	assert_int_equal(r.ecs_scope, 24);
	/* ...except those an admin holds (draining, drained, maintenance)... */
	assert_int_equal(geo_select(ctx, 0, &c, A, (uint8_t[]){0, H, 0, 0}, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-east dc-asia");
	assert_int_equal(r.outcome, GEO_OUT_DOWN_ALL);
	/* ...unless all are held: then all. */
	assert_int_equal(geo_select(ctx, 0, &c, A, (uint8_t[]){H, H, H, H}, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-west dc-east dc-asia");
	/* AAAA: only the dcs with IPv6 are named. */
	assert_int_equal(geo_select(ctx, 0, &c, AAAA, down, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-west dc-east");

	/* "first": the first in the client's order. */
	assert_int_equal(geo_select(ctx, svc(ctx, "first.example.test"), &c, A, down, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-west");
	assert_int_equal(r.outcome, GEO_OUT_DOWN_FIRST);
	c = client("203.0.113.1");
	assert_int_equal(geo_select(ctx, svc(ctx, "first.example.test"), &c, A, down, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-asia");

	/* "empty": NODATA. */
	assert_int_equal(geo_select(ctx, svc(ctx, "empty.example.test"), &c, A, down, &r), SOV_OK);
	assert_int_equal(r.count, 0);
	assert_int_equal(r.outcome, GEO_OUT_DOWN_EMPTY);
	/* One usable → normal answer. */
	assert_int_equal(geo_select(ctx, svc(ctx, "empty.example.test"), &c, A,
				    (uint8_t[]){GEO_DC_USABLE, 0, 0, 0}, &r),
			 SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-east");
	assert_int_equal(r.outcome, GEO_OUT_OK);
	geo_ctx_free(ctx);
}

/* ECS source prefix 0 or no client: location unused → default, scope 0. */
static void test_unknown_location(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	geo_ctx_t *ctx = load_ok(base_cfg);
	struct dns_ecs ecs = {.family = 1, .source_prefix = 0};
	struct geo_client c;
	struct geo_result r;

	assert_int_equal(geo_client_from_ecs(ecs.family, ecs.source_prefix, ecs.addr, &c), SOV_OK);
	assert_int_equal(geo_select(ctx, 0, &c, A, NULL, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-east");
	assert_int_equal(r.ecs_scope, 0);
	assert_int_equal(geo_select(ctx, 0, NULL, A, NULL, &r), SOV_OK);
	assert_string_equal(ids(ctx, &r), "dc-east");
	assert_int_equal(r.ecs_scope, 0);
	/* Even inside an internal network: unknown is unknown. */
	c = client("10.1.0.0/0");
	assert_int_equal(geo_select(ctx, 0, &c, A, NULL, &r), SOV_OK);
	assert_false(r.internal);
	/* ECS 0.0.0.0/0 in the IPv6 family likewise. */
	check_sel(ctx, "www.example.test", &(struct expect){"::/0", AAAA, "dc-east", 0}, NULL);
	geo_ctx_free(ctx);
}

/* Ties are broken by datacenter config order, not service order. */
static void test_ties(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	static const char *tie_ab =
	    "{'datacenters': ["
	    " {'id': 'dc-a', 'location': {'lat': 10, 'lon': 10}, 'ipv4': ['192.0.2.1']},"
	    " {'id': 'dc-b', 'location': {'lat': 10, 'lon': 10}, 'ipv4': ['192.0.2.2']},"
	    " {'id': 'dc-c', 'location': {'lat': -10, 'lon': -10}, 'ipv4': ['192.0.2.3']}],"
	    "'services': [{'name': 's.test', 'datacenters': ['dc-c', 'dc-b', 'dc-a'],"
	    " 'max_answers': 3}],"
	    "'geo': {'databases': ['@MMDB@/geo-city.mmdb'], 'default': 'dc-c'}}";
	static const char *tie_ba =
	    "{'datacenters': ["
	    " {'id': 'dc-b', 'location': {'lat': 10, 'lon': 10}, 'ipv4': ['192.0.2.2']},"
	    " {'id': 'dc-a', 'location': {'lat': 10, 'lon': 10}, 'ipv4': ['192.0.2.1']},"
	    " {'id': 'dc-c', 'location': {'lat': -10, 'lon': -10}, 'ipv4': ['192.0.2.3']}],"
	    "'services': [{'name': 's.test', 'datacenters': ['dc-c', 'dc-b', 'dc-a'],"
	    " 'max_answers': 3}],"
	    "'geo': {'databases': ['@MMDB@/geo-city.mmdb']}}";
	geo_ctx_t *ctx = load_ok(tie_ab);
	check_sel(ctx, "s.test", &(struct expect){"198.51.100.1", A, "dc-a dc-b dc-c", 24}, NULL);
	/* Default dc-c, then the others by distance from it: a tie again. */
	check_sel(ctx, "s.test", &(struct expect){"8.8.8.8", A, "dc-c dc-a dc-b", 1}, NULL);
	geo_ctx_free(ctx);
	ctx = load_ok(tie_ba);
	check_sel(ctx, "s.test", &(struct expect){"198.51.100.1", A, "dc-b dc-a dc-c", 24}, NULL);
	/* No default: an unknown client gets the service's order. */
	check_sel(ctx, "s.test", &(struct expect){"8.8.8.8", A, "dc-c dc-b dc-a", 1}, NULL);
	geo_ctx_free(ctx);
}

/* Explicit geo.regions entries (subdivision, country, continent) beat
 * coordinates; names match case-insensitively. */
static void test_region_precedence(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	static const char *cfg =
	    "{'datacenters': ["
	    " {'id': 'dc-east', 'location': {'lat': 40.7, 'lon': -74.0}, 'ipv4': ['192.0.2.10']},"
	    " {'id': 'dc-west', 'location': {'lat': 50.1, 'lon': 8.7}, 'ipv4': ['198.51.100.10']}],"
	    "'services': [{'name': 'www.example.test', 'datacenters': ['dc-east', 'dc-west']}],"
	    "'geo': {'databases': ['@MMDB@/geo-city.mmdb'],"
	    " 'regions': {'US-CA': ['dc-west'], 'jp': ['dc-east'], 'EU': ['dc-east']}}}";
	geo_ctx_t *ctx = load_ok(cfg);
	check_sel(ctx, "www.example.test", &(struct expect){"192.0.2.130", A, "dc-west", 26}, NULL);
	check_sel(ctx, "www.example.test", &(struct expect){"192.0.2.1", A, "dc-east", 25}, NULL);
	check_sel(ctx, "www.example.test", &(struct expect){"203.0.113.1", A, "dc-east", 25}, NULL);
	check_sel(ctx, "www.example.test", &(struct expect){"198.51.100.1", A, "dc-east", 24},
		  NULL);
	geo_ctx_free(ctx);
}

/* Several databases: the first that knows something about the client wins;
 * an IPv4-only database is skipped for IPv6 clients. */
static void test_two_databases(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	char cfg[16384];
	const char *dbs = strstr(base_cfg, "'databases'");
	size_t head = (size_t)(dbs - base_cfg);

	/* city, then country4. */
	snprintf(cfg, sizeof(cfg),
		 "%.*s'databases': ['@MMDB@/geo-city.mmdb', "
		 "'@MMDB@/geo-country4.mmdb'],%s",
		 (int)head, base_cfg, strchr(dbs, ']') + 2);
	geo_ctx_t *ctx = load_ok(cfg);
	static const struct expect cases[] = {
	    /* Absent from city; DE in country4 → EU tag → dc-west. */
	    {"192.0.2.200", A, "dc-west", 26},
	    {"192.0.2.130", A, "dc-east", 26},
	    /* Absent from city; JP in country4 → AS tag → dc-asia. */
	    {"203.0.113.230", A, "dc-asia", 27},
	    /* City knows it: GB → dc-west. */
	    {"203.0.113.200", A, "dc-west", 27},
	    {"2001:db8::1", AAAA, "dc-east", 48},
	    {"8.8.8.8", A, "dc-east", 7},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_sel(ctx, "www.example.test", &cases[i], NULL);
	geo_ctx_free(ctx);

	/* country4 first: it now decides 203.0.113.200 too. */
	snprintf(cfg, sizeof(cfg),
		 "%.*s'databases': ['@MMDB@/geo-country4.mmdb', "
		 "'@MMDB@/geo-city.mmdb'],%s",
		 (int)head, base_cfg, strchr(dbs, ']') + 2);
	ctx = load_ok(cfg);
	check_sel(ctx, "www.example.test", &(struct expect){"203.0.113.200", A, "dc-asia", 24},
		  NULL);
	check_sel(ctx, "www.example.test", &(struct expect){"198.51.100.1", A, "dc-west", 24},
		  NULL);
	check_sel(ctx, "www.example.test", &(struct expect){"2001:db8:1::1", AAAA, "dc-west", 48},
		  NULL);
	geo_ctx_free(ctx);

	/* Only the IPv4 database: IPv6 clients fall to the default. */
	snprintf(cfg, sizeof(cfg), "%.*s'databases': ['@MMDB@/geo-country4.mmdb'],%s", (int)head,
		 base_cfg, strchr(dbs, ']') + 2);
	ctx = load_ok(cfg);
	check_sel(ctx, "www.example.test", &(struct expect){"192.0.2.200", A, "dc-west", 26}, NULL);
	/* Nothing but the nets /64 in 2001:db8:2::/47's neighbour 2001:db8:3::. */
	check_sel(ctx, "www.example.test", &(struct expect){"2001:db8:1::1", AAAA, "dc-east", 47},
		  NULL);
	geo_ctx_free(ctx);
}

/* No geo section: every client gets the service's order, scope 0. */
static void test_no_geo(void **state)
{
	(void)state;
	geo_ctx_t *ctx =
	    load_ok("{'datacenters': [" DC_A ", " DC_B "],"
		    " 'services': [{'name': 's.test', 'datacenters': ['dc-b', 'dc-a']}]}");
	check_sel(ctx, "s.test", &(struct expect){"198.51.100.0/24", A, "dc-a", 0}, NULL);
	check_sel(ctx, "s.test", &(struct expect){"198.51.100.0/24", AAAA, "dc-b", 0}, NULL);
	check_sel(ctx, "s.test", &(struct expect){"2001:db8::/32", AAAA, "dc-b", 0}, NULL);
	geo_ctx_free(ctx);
}

/* A context keeps the database it opened; a new context (reload) sees the
 * replaced file. */
static void test_reload_replaced_file(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	char dir[] = "/tmp/sovdns-geo-reload-XXXXXX";
	char cmd[1024], cfg[16384];
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "cp '%s/geo-city.mmdb' '%s/geo.mmdb'", MMDB_DIR, dir);
	assert_int_equal(system(cmd), 0);

	const char *dbs = strstr(base_cfg, "'databases'");
	snprintf(cfg, sizeof(cfg), "%.*s'databases': ['%s/geo.mmdb'],%s", (int)(dbs - base_cfg),
		 base_cfg, dir, strchr(dbs, ']') + 2);
	geo_ctx_t *old = load_ok(cfg);
	check_sel(old, "www.example.test", &(struct expect){"203.0.113.200", A, "dc-west", 27},
		  NULL);

	/* Replace the file the way an updater does: write aside, rename. */
	snprintf(
	    cmd, sizeof(cmd),
	    "cp '%s/geo-country4.mmdb' '%s/geo.mmdb.new' && mv '%s/geo.mmdb.new' '%s/geo.mmdb'",
	    MMDB_DIR, dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	geo_ctx_t *new = load_ok(cfg);
	check_sel(new, "www.example.test", &(struct expect){"203.0.113.200", A, "dc-asia", 24},
		  NULL);
	/* The old context still answers from the old file. */
	check_sel(old, "www.example.test", &(struct expect){"203.0.113.200", A, "dc-west", 27},
		  NULL);
	geo_ctx_free(old);
	geo_ctx_free(new);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- the trie agrees with the slow path, and its blocks are uniform ------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static bool decision_equal(const struct geo_decision *a, const struct geo_decision *b)
{
	return a->inside_dc == b->inside_dc && a->n == b->n &&
	       memcmp(a->order, b->order, a->n) == 0;
}

static void check_addr(const geo_ctx_t *ctx, int family, const uint8_t *addr)
{
	struct geo_client c = {.family = family, .prefix = family == AF_INET ? 32 : 128};
	struct geo_locate_info li;
	unsigned depth;
	char buf[INET6_ADDRSTRLEN];

	memcpy(c.addr, addr, family == AF_INET ? 4 : 16);
	const struct geo_decision *d =
	    &ctx->decisions[geo_trie_lookup(&ctx->map, family, c.addr, &depth)];
	assert_int_equal(geo_locate_slow(ctx, &c, &li), SOV_OK);
	if (!decision_equal(d, &li.decision))
		fail_msg("trie and slow path disagree at %s",
			 inet_ntop(family, c.addr, buf, sizeof(buf)));
	/* Every address of the leaf's block must get the same decision: check
	 * its first and last address. */
	struct geo_client first = c, last;
	unsigned bits = family == AF_INET ? 32 : 128;
	net_mask(first.addr, family, depth);
	last = first;
	for (unsigned i = depth; i < bits; i++)
		last.addr[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	assert_int_equal(geo_locate_slow(ctx, &first, &li), SOV_OK);
	if (!decision_equal(d, &li.decision))
		fail_msg("block /%u at %s not uniform (first)", depth,
			 inet_ntop(family, first.addr, buf, sizeof(buf)));
	assert_int_equal(geo_locate_slow(ctx, &last, &li), SOV_OK);
	if (!decision_equal(d, &li.decision))
		fail_msg("block /%u at %s not uniform (last)", depth,
			 inet_ntop(family, last.addr, buf, sizeof(buf)));
}

static void test_trie_matches_slow_path(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	char cfg[16384];
	const char *dbs = strstr(base_cfg, "'databases'");
	snprintf(cfg, sizeof(cfg),
		 "%.*s'databases': ['@MMDB@/geo-city.mmdb', "
		 "'@MMDB@/geo-country4.mmdb'],%s",
		 (int)(dbs - base_cfg), base_cfg, strchr(dbs, ']') + 2);
	const char *cfgs[] = {base_cfg, cfg};

	for (size_t k = 0; k < 2; k++) {
		geo_ctx_t *ctx = load_ok(cfgs[k]);
		static const uint8_t nets4[][3] = {{192, 0, 2}, {198, 51, 100}, {203, 0, 113}};
		for (size_t n = 0; n < 3; n++)
			for (unsigned i = 0; i < 256; i++) {
				uint8_t a[4] = {nets4[n][0], nets4[n][1], nets4[n][2], (uint8_t)i};
				check_addr(ctx, AF_INET, a);
			}
		for (unsigned i = 0; i < 3000; i++) {
			uint32_t v = (uint32_t)rng();
			uint8_t a[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
					(uint8_t)v};
			if (i % 3 == 0)
				a[0] = 10; /* near the internal networks */
			check_addr(ctx, AF_INET, a);
		}
		for (unsigned i = 0; i < 3000; i++) {
			uint8_t a[16];
			uint64_t hi = rng(), lo = rng();
			for (int b = 0; b < 8; b++) {
				a[b] = (uint8_t)(hi >> (56 - 8 * b));
				a[8 + b] = (uint8_t)(lo >> (56 - 8 * b));
			}
			if (i % 2 == 0) { /* inside 2001:db8::/45 */
				a[0] = 0x20;
				a[1] = 0x01;
				a[2] = 0x0d;
				a[3] = 0xb8;
				a[4] = 0;
				a[5] &= 0x07;
				if (i % 8 == 0)
					a[6] = 0, a[7] &= 1; /* 2001:db8:X:0..1:: */
			} else if (i % 5 == 0) {	     /* near fd00:e::/48 */
				a[0] = 0xfd;
				a[1] = 0;
				a[2] = 0;
				a[3] = (uint8_t)(0x0e ^ (i & 1));
			} else if (i % 7 == 0) { /* the IPv4 aliases */
				memset(a, 0, 10);
				a[10] = a[11] = 0xff;
			}
			check_addr(ctx, AF_INET6, a);
		}
		geo_ctx_free(ctx);
	}
}

/* ---- explain ------------------------------------------------------------ */

static void assert_contains(const char *text, const char *needle)
{
	if (text == NULL)
		fail_msg("geo_explain returned NULL (looking for \"%s\")", needle);
	else if (strstr(text, needle) == NULL)
		fail_msg("explain text lacks \"%s\":\n%s", needle, text);
}

static void test_explain(void **state)
{
	(void)state;
	REQUIRE_MMDB();
	geo_ctx_t *ctx = load_ok(base_cfg);
	struct geo_client c = client("198.51.100.7/24");
	char *text = geo_explain(ctx, 0, &c, A, NULL);

	assert_non_null(text);
	assert_contains(text, "service:     www.example.test A — policy nearest");
	assert_contains(text, "client:      198.51.100.0/24 (EDNS Client Subnet)");
	assert_contains(text, "network 198.51.100.0/25: continent EU, country DE, city Frankfurt");
	assert_contains(text, "by great-circle distance");
	assert_contains(text, "1. dc-west  2 km");
	assert_contains(text, "2. dc-east  6");
	assert_contains(text, "decided by:  198.51.100.0/24");
	assert_contains(text, "ECS scope:   /24");
	assert_contains(text, "answer:      dc-west: 198.51.100.10 198.51.100.11");
	free(text);

	c = client("192.0.2.70");
	text = geo_explain(ctx, 0, &c, AAAA, (uint8_t[]){0, 0, 0, 0});
	assert_non_null(text);
	assert_contains(text, "geo nets entry 192.0.2.64/26 → \"dc-west\"");
	assert_contains(text, "(source address)");
	assert_contains(text, "ECS scope:   /26 (no ECS in the query: not sent)");
	assert_contains(text, "on_all_down \"all\" (fail-open)");
	assert_contains(text, "dc-west not usable");
	free(text);

	c = client("10.1.9.9/24");
	text = geo_explain(ctx, svc(ctx, "db.example.test"), &c, A, NULL);
	assert_non_null(text);
	assert_contains(text, "inside datacenter dc-east: internal network 10.1.0.0/16");
	assert_contains(text, "the service's order (failover)");
	assert_contains(text, "ECS scope:   /16");
	free(text);

	c = client("203.0.113.230/32");
	text = geo_explain(ctx, 0, &c, A, NULL);
	assert_contains(text, "any database → default \"dc-east\"");
	free(text);

	c = client("203.0.113.130/32");
	text = geo_explain(ctx, 0, &c, A, NULL);
	assert_contains(text, "→ geo region \"OC\"");
	free(text);

	c = client("2001:db8:2::/48");
	text = geo_explain(ctx, svc(ctx, "v4.example.test"), &c, AAAA, NULL);
	assert_contains(text, "no datacenter of the service has an address of this family");
	assert_contains(text, "answer:      no AAAA records (NODATA)");
	assert_contains(text, "ECS scope:   /0");
	free(text);

	assert_null(geo_explain(ctx, 99, &c, A, NULL));
	geo_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_client_helpers),
	    cmocka_unit_test(test_distance),
	    cmocka_unit_test(test_config_defaults),
	    cmocka_unit_test(test_config_empty),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_config_all_errors),
	    cmocka_unit_test(test_config_positions),
	    cmocka_unit_test(test_database_errors),
	    cmocka_unit_test(test_database_relative_path),
	    cmocka_unit_test(test_nearest_v4),
	    cmocka_unit_test(test_nearest_v6),
	    cmocka_unit_test(test_aaaa_v4only),
	    cmocka_unit_test(test_result_addrs),
	    cmocka_unit_test(test_nets_over_db),
	    cmocka_unit_test(test_internal),
	    cmocka_unit_test(test_failover),
	    cmocka_unit_test(test_all),
	    cmocka_unit_test(test_usable_masks),
	    cmocka_unit_test(test_on_all_down),
	    cmocka_unit_test(test_unknown_location),
	    cmocka_unit_test(test_ties),
	    cmocka_unit_test(test_region_precedence),
	    cmocka_unit_test(test_two_databases),
	    cmocka_unit_test(test_no_geo),
	    cmocka_unit_test(test_reload_replaced_file),
	    cmocka_unit_test(test_trie_matches_slow_path),
	    cmocka_unit_test(test_explain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
