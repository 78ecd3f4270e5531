/* main.c — the sovdns daemon: options, start-up, signals, reload.
 *
 * Thin on purpose: configuration, snapshots and the network live in their
 * libraries. Exit codes: 0 ok, 1 invalid configuration or zone, 2 usage
 * error, 3 runtime error (e.g. a listen address cannot be bound).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/auth.h"
#include "api/store.h"
#include "common/addr.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/log.h"
#include "conf/config.h"
#include "daemon/daemon.h"
#include "daemon/monitor.h"
#include "dns/server.h"
#include "dns/snapshot.h"
#include "dns/xfr_conf.h"
#include "dns/zone.h"
#include "dns/zonedb.h"
#include "geo/geo.h"
#include "wire/dname.h"
#include "wire/wire.h"

enum exit_code { EXIT_OK = 0, EXIT_INVALID = 1, EXIT_USAGE = 2, EXIT_RUNTIME = 3 };

#define THREADS_MAX 256
#define EDNS_MIN 512
#define EDNS_MAX 4096

/* An ORIGIN=PATH pair from --zone or --check-zone. */
struct zone_arg {
	const char *origin;
	const char *path;
};

struct opts {
	const char *config_path;  /* --config */
	const char *check_config; /* --check-config */
	const char **listen;	  /* --listen, repeatable */
	size_t listen_count;
	struct zone_arg *zones; /* --zone, repeatable */
	size_t zone_count;
	struct zone_arg *checks; /* --check-zone, repeatable */
	size_t check_count;
	long threads;		/* -1: not given */
	long edns_payload;	/* -1: not given */
	int log_level;		/* -1: not given */
	bool syslog;		/* --syslog given */
	const char *explain[3]; /* --explain NAME TYPE CLIENT */
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage:\n"
	    "  sovdns --config FILE [--threads N] [--edns-payload N] [--log-level LEVEL] "
	    "[--syslog]\n"
	    "  sovdns --listen ADDR[:PORT] [--listen ...] --zone ORIGIN=PATH [--zone ...]\n"
	    "         [--threads N] [--edns-payload N] [--log-level LEVEL] [--syslog]\n"
	    "  sovdns --check-config FILE\n"
	    "  sovdns --check-zone ORIGIN=PATH [--check-zone ...]\n"
	    "  sovdns --config FILE --explain NAME A|AAAA CLIENT-IP[/PREFIX]\n"
	    "  sovdns --version | --help\n"
	    "\n"
	    "sovdns is an authoritative DNS server. It answers over UDP and TCP on every\n"
	    "listen address, with one worker thread per CPU by default.\n"
	    "\n"
	    "Options:\n"
	    "  -c, --config FILE        Read the JSON configuration FILE (see "
	    "docs/configuration.md).\n"
	    "                           SIGHUP re-reads it and reloads every zone.\n"
	    "  -l, --listen ADDR[:PORT] Serve on ADDR (\"127.0.0.1:5353\", \"[::1]:5353\"; port "
	    "53\n"
	    "                           if omitted). Repeatable. Required with --zone; not\n"
	    "                           allowed with --config (use \"listen\" in the file).\n"
	    "  -z, --zone ORIGIN=PATH   Serve the zone ORIGIN from the master file PATH.\n"
	    "                           Repeatable. SIGHUP re-reads the zone files.\n"
	    "  -t, --threads N          DNS worker threads, 0..%d; 0 = one per online CPU.\n"
	    "                           Overrides \"threads\" in the configuration file.\n"
	    "  -e, --edns-payload N     EDNS UDP payload size in bytes, %d..%d (default %d).\n"
	    "                           Overrides \"edns_payload\" in the configuration file.\n"
	    "  -C, --check-config FILE  Validate FILE and every zone it names, print each\n"
	    "                           problem as file:line:column: message and exit 1,\n"
	    "                           or print a summary and exit 0. Serves nothing.\n"
	    "  -Z, --check-zone ORIGIN=PATH\n"
	    "                           Validate one zone file the same way and print\n"
	    "                           \"ORIGIN.: N records, serial S\". Repeatable.\n"
	    "  -x, --explain NAME TYPE CLIENT\n"
	    "                           With --config: print which datacenters the service\n"
	    "                           NAME would answer TYPE (A or AAAA) with for CLIENT\n"
	    "                           (an address, or ADDRESS/PREFIX as a resolver sends it\n"
	    "                           in EDNS Client Subnet), and why: location, distances,\n"
	    "                           the network that decided, the ECS scope. Assumes every\n"
	    "                           datacenter usable (live state: the HTTP API).\n"
	    "  -L, --log-level LEVEL    error, warning, info (default) or debug. Overrides\n"
	    "                           \"log.level\" in the configuration file.\n"
	    "  -s, --syslog             Also log to syslog (facility daemon).\n"
	    "  -V, --version            Print the version and exit.\n"
	    "  -h, --help               Print this help and exit.\n"
	    "\n"
	    "Signals: SIGHUP reloads (a failed reload keeps serving the previous data);\n"
	    "SIGTERM and SIGINT stop the server.\n"
	    "\n"
	    "Exit status: 0 success, 1 invalid configuration or zone, 2 usage error,\n"
	    "3 runtime error (e.g. an address cannot be bound).\n",
	    THREADS_MAX, EDNS_MIN, EDNS_MAX, CONFIG_DEFAULT_EDNS_PAYLOAD);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sovdns: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'sovdns --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

/* Strict decimal in [min, max]; false on anything else. */
static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	if (*s == '\0' || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_zone_arg(char *arg, struct zone_arg *out)
{
	char *eq = strchr(arg, '=');
	if (eq == NULL || eq == arg || eq[1] == '\0')
		return false;
	*eq = '\0';
	out->origin = arg;
	out->path = eq + 1;
	return true;
}

static bool push_zone(struct zone_arg **list, size_t *count, char *arg)
{
	struct zone_arg za;
	if (!parse_zone_arg(arg, &za))
		return false;
	struct zone_arg *n = realloc(*list, (*count + 1) * sizeof(*n));
	if (n == NULL) {
		fprintf(stderr, "sovdns: out of memory\n");
		exit(EXIT_RUNTIME);
	}
	n[(*count)++] = za;
	*list = n;
	return true;
}

/* Returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"listen", required_argument, NULL, 'l'},
	    {"zone", required_argument, NULL, 'z'},
	    {"threads", required_argument, NULL, 't'},
	    {"edns-payload", required_argument, NULL, 'e'},
	    {"check-config", required_argument, NULL, 'C'},
	    {"check-zone", required_argument, NULL, 'Z'},
	    {"log-level", required_argument, NULL, 'L'},
	    {"syslog", no_argument, NULL, 's'},
	    {"explain", required_argument, NULL, 'x'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	memset(o, 0, sizeof(*o));
	o->threads = -1;
	o->edns_payload = -1;
	o->log_level = -1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:l:z:t:e:C:Z:L:x:sVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (o->config_path != NULL)
				return usage_error("--config given twice");
			o->config_path = optarg;
			break;
		case 'l': {
			sov_sockaddr_t a;
			if (addr_parse(optarg, CONFIG_DEFAULT_PORT, &a) != SOV_OK)
				return usage_error(
				    "invalid --listen address '%s': expected IPv4:PORT, "
				    "[IPv6]:PORT or an address alone (port 53)",
				    optarg);
			const char **n = realloc(o->listen, (o->listen_count + 1) * sizeof(*n));
			if (n == NULL)
				return EXIT_RUNTIME;
			n[o->listen_count++] = optarg;
			o->listen = n;
			break;
		}
		case 'z':
			if (!push_zone(&o->zones, &o->zone_count, optarg))
				return usage_error("invalid --zone '%s': expected ORIGIN=PATH",
						   optarg);
			break;
		case 'Z':
			if (!push_zone(&o->checks, &o->check_count, optarg))
				return usage_error(
				    "invalid --check-zone '%s': expected ORIGIN=PATH", optarg);
			break;
		case 't':
			if (!parse_long(optarg, 0, THREADS_MAX, &o->threads))
				return usage_error("invalid --threads '%s': expected 0..%d", optarg,
						   THREADS_MAX);
			break;
		case 'e':
			if (!parse_long(optarg, EDNS_MIN, EDNS_MAX, &o->edns_payload))
				return usage_error("invalid --edns-payload '%s': expected %d..%d",
						   optarg, EDNS_MIN, EDNS_MAX);
			break;
		case 'C':
			if (o->check_config != NULL)
				return usage_error("--check-config given twice");
			o->check_config = optarg;
			break;
		case 'L':
			o->log_level = log_level_parse(optarg);
			if (o->log_level < 0)
				return usage_error(
				    "invalid --log-level '%s': expected error, warning, "
				    "info or debug",
				    optarg);
			break;
		case 's':
			o->syslog = true;
			break;
		case 'x':
			o->explain[0] = optarg;
			break;
		case 'V':
			printf("sovdns %s\n", SOVDNS_VERSION);
			return EXIT_OK;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (o->explain[0] != NULL) {
		if (argc - optind != 2)
			return usage_error("--explain takes NAME TYPE CLIENT (e.g. --explain "
					   "www.example.test A 198.51.100.7/24)");
		o->explain[1] = argv[optind];
		o->explain[2] = argv[optind + 1];
		if (o->config_path == NULL)
			return usage_error("--explain needs --config FILE");
		return -1;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);

	int modes = (o->check_config != NULL) + (o->check_count > 0) +
		    (o->config_path != NULL || o->zone_count > 0 || o->listen_count > 0);
	if (modes == 0)
		return usage_error("nothing to do: give --config FILE, or --listen and --zone");
	if (modes > 1)
		return usage_error("--check-config, --check-zone and serving (--config, --listen, "
				   "--zone) are separate modes; use one");
	if (o->config_path != NULL && (o->listen_count > 0 || o->zone_count > 0))
		return usage_error("--listen and --zone cannot be combined with --config "
				   "(put them in the configuration file)");
	if (o->config_path == NULL && o->check_config == NULL && o->check_count == 0) {
		if (o->listen_count == 0)
			return usage_error("--listen ADDR:PORT is required with --zone");
		if (o->zone_count == 0)
			return usage_error("at least one --zone ORIGIN=PATH is required");
	}
	return -1;
}

/* Applies command-line overrides on top of a configuration. */
static void apply_overrides(const struct opts *o, config_t *c)
{
	if (o->threads >= 0)
		c->threads = (unsigned)o->threads;
	if (o->edns_payload >= 0)
		c->edns_payload = (uint16_t)o->edns_payload;
	if (o->log_level >= 0)
		c->log_level = o->log_level;
	if (o->syslog)
		c->log_syslog = true;
}

/* The configuration for this run: from the file, or from the command line. */
static int conf_build(const struct opts *o, const char *file, config_t **out, diag_t *diag)
{
	int ret;
	config_t *c = NULL;

	*out = NULL;
	if (file != NULL) {
		ret = config_load(file, &c, diag);
		if (ret != SOV_OK)
			goto finish;
	} else {
		c = config_new_defaults();
		if (c == NULL) {
			ret = SOV_ENOMEM;
			goto finish;
		}
		for (size_t i = 0; i < o->listen_count; i++) {
			ret = config_add_listen(c, o->listen[i]);
			if (ret != SOV_OK) {
				diag_add(diag, "--listen", 0, 0, "%s: %s", o->listen[i],
					 err_str(ret));
				goto finish;
			}
		}
		for (size_t i = 0; i < o->zone_count; i++) {
			ret = config_add_zone(c, o->zones[i].origin, o->zones[i].path);
			if (ret != SOV_OK)
				goto finish;
		}
	}
	apply_overrides(o, c);
	*out = c;
	c = NULL;
	ret = SOV_OK;
finish:
	config_free(c);
	return ret;
}

static int run_check_zones(const struct opts *o)
{
	int code = EXIT_OK;
	diag_t *diag = diag_new();
	if (diag == NULL)
		return EXIT_RUNTIME;
	for (size_t i = 0; i < o->check_count; i++) {
		zone_t *z = NULL;
		size_t before = diag_count(diag);
		int r = zone_load(o->checks[i].origin, o->checks[i].path, &z, diag);
		if (r != SOV_OK) {
			if (diag_count(diag) == before)
				diag_add(diag, o->checks[i].path, 0, 0, "zone %s: %s",
					 o->checks[i].origin, err_str(r));
			code = EXIT_INVALID;
			continue;
		}
		printf("%s: %zu records, serial %u\n", z->origin_str, z->record_count, z->serial);
		zone_free(z);
	}
	diag_print(diag, stderr);
	diag_free(diag);
	return code;
}

/* The "api" and "state_dir" sections as a start would check them: the
 * values, every token file (present, long enough, not readable by others),
 * the state directory (not writable by others, writable by "user") and the
 * state files in it, read by the same code as a start. Nothing is created
 * or locked. Every part runs, so one run shows every problem. */
static int check_api(const snapshot_t *s, diag_t *diag, char *summary, size_t cap)
{
	int ret = SOV_OK;
	const config_t *c = s->conf;
	snprintf(summary, cap, "no HTTP API");
	if (!daemon_conf_wants_api(c))
		return SOV_OK;
	struct api_config ac;
	api_config_init(&ac);
	ret = api_config_parse(c->json, c->path, &ac, diag);
	if (ret != SOV_OK)
		goto finish;
	auth_t *auth = auth_new();
	if (auth == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}
	ret = api_tokens_load(&ac, auth, diag);
	auth_free(auth);
	char where[ADDR_STR_MAX];
	if (ac.http_enabled)
		snprintf(summary, cap, "HTTP%s API on %s with %zu token(s)%s, state in %s",
			 ac.tls_cert ? "S" : "",
			 addr_format((const struct sockaddr *)&ac.listen, where, sizeof(where)),
			 ac.token_count, ac.read_without_token ? ", read routes open" : "",
			 ac.state_dir);
	else
		snprintf(summary, cap, "HTTP API disabled, state in %s", ac.state_dir);
	int r = store_check_dir(ac.state_dir, c->user, diag);
	if (ret == SOV_OK)
		ret = r;
	size_t n = s->geo ? geo_dc_count(s->geo) : 0;
	const char **ids = calloc(n + 1, sizeof(*ids));
	if (ids == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = geo_dc_id(s->geo, i);
	r = store_check_files(ac.state_dir, ids, n, ac.operations_keep, diag);
	free(ids);
	if (ret == SOV_OK)
		ret = r;
finish:
	api_config_clear(&ac);
	return ret;
}

/* One zone of --check-config: its data, and for transfers who may take it
 * and whom it comes from. */
static void print_zone_check(const snapshot_t *s, size_t i)
{
	const zone_t *z = zonedb_get(s->zones, i);
	const struct xfr_zone *xz = s->xfr && i < s->xfr->zone_count ? &s->xfr->zones[i] : NULL;
	bool secondary = i < s->conf->zone_count && s->conf->zones[i].secondary;
	if (secondary && !zone_has_data(z))
		printf("%s: secondary, no usable copy in %s yet (SERVFAIL until the first "
		       "transfer)",
		       z->origin_str, s->conf->zones[i].file);
	else
		printf("%s: %s%zu records, serial %u", z->origin_str,
		       secondary ? "secondary, kept copy: " : "", z->record_count, z->serial);
	for (size_t k = 0; xz && secondary && k < xz->primary_count; k++) {
		char a[ADDR_STR_MAX];
		addr_format((const struct sockaddr *)&xz->primaries[k].addr.ss, a, sizeof(a));
		int key = xz->primaries[k].key;
		char kn[DNAME_STR_MAX] = "unsigned";
		if (key >= 0) {
			dname_to_str(s->xfr->keys[key].name, kn, sizeof(kn));
			size_t l = strlen(kn);
			if (l > 1 && kn[l - 1] == '.')
				kn[l - 1] = 0;
		}
		printf("%s %s (%s%s)", k == 0 ? "; primaries:" : ",", a, key >= 0 ? "key " : "",
		       kn);
	}
	if (xz && xz->allow_count > 0)
		printf("; transfer allowed by %zu rule%s", xz->allow_count,
		       xz->allow_count == 1 ? "" : "s");
	if (xz && xz->notify_ns)
		printf("; NOTIFY: the NS addresses (but ours)");
	for (size_t k = 0; xz && k < xz->notify_count; k++) {
		char a[ADDR_STR_MAX];
		addr_format((const struct sockaddr *)&xz->notify[k].addr.ss, a, sizeof(a));
		printf("%s%s", k > 0 ? ", " : xz->notify_ns ? " and " : "; NOTIFY: ", a);
	}
	printf("\n");
}

static int run_check_config(const struct opts *o)
{
	int code = EXIT_INVALID;
	config_t *c = NULL;
	snapshot_t *s = NULL;
	diag_t *diag = diag_new();
	if (diag == NULL)
		return EXIT_RUNTIME;
	if (conf_build(o, o->check_config, &c, diag) != SOV_OK)
		goto finish;
	size_t nlisten = c->listen_count;
	c->check_only = true;
	if (snapshot_build(c, &s, diag) != SOV_OK) /* takes c */
		goto finish;
	size_t nchecks = 0, nprobes = 0;
	if (s->geo != NULL) {
		monitor_t *m = NULL;
		if (monitor_new(s->conf, s->geo, &m, diag) != SOV_OK)
			goto finish;
		const probe_config_t *pc = monitor_probes(m);
		if (pc != NULL) {
			nchecks = pc->check_count;
			nprobes = pc->instance_count;
		}
		monitor_free(m);
	}
	char api[160];
	if (check_api(s, diag, api, sizeof(api)) != SOV_OK)
		goto finish;
	for (size_t i = 0; i < zonedb_count(s->zones); i++)
		print_zone_check(s, i);
	printf("%s: configuration ok: %zu zones, %zu records, %zu listen addresses, %zu TSIG "
	       "keys, %zu datacenters, %zu services, %zu checks (%zu probes), %s\n",
	       o->check_config, zonedb_count(s->zones), snapshot_record_count(s), nlisten,
	       s->xfr ? s->xfr->key_count : 0, s->geo ? geo_dc_count(s->geo) : 0,
	       s->geo ? geo_service_count(s->geo) : 0, nchecks, nprobes, api);
	code = EXIT_OK;
finish:
	if (diag_count(diag) == 0 && code != EXIT_OK)
		fprintf(stderr, "%s: invalid configuration\n", o->check_config);
	diag_print(diag, stderr);
	diag_free(diag);
	snapshot_free(s);
	return code;
}

static int load_conf(void *arg, config_t **out, diag_t *diag)
{
	const struct opts *o = arg;
	return conf_build(o, o->config_path, out, diag);
}

static int run_server(const struct opts *o)
{
	daemon_t *d = NULL;
	sigset_t sigs;
	diag_t *diag = diag_new();

	if (diag == NULL)
		return EXIT_RUNTIME;

	/* Blocked before any thread exists, so every thread inherits the mask
	 * and only sigwaitinfo() below ever receives these signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	/* A client closing its TCP connection while we write must not kill us. */
	signal(SIGPIPE, SIG_IGN);

	int r = daemon_start(load_conf, (void *)o, &d, diag);
	diag_print(diag, stderr);
	diag_free(diag);
	if (r != SOV_OK) {
		log_err("main", "cannot start; exiting");
		return r == SOV_ESYS ? EXIT_RUNTIME : EXIT_INVALID;
	}
	daemon_ready(d);

	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&sigs, &info);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			log_err("main", "sigwaitinfo failed: %s; stopping", strerror(errno));
			break;
		}
		if (sig == SIGHUP) {
			log_info("main", "SIGHUP: reloading %s",
				 o->config_path ? o->config_path : "zone files");
			(void)daemon_reload_signal(d); /* logs and records the outcome */
			continue;
		}
		log_info("main", "%s received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
	daemon_stop(d);
	return EXIT_OK;
}

/* --explain: what a service answers a client, and why (offline). */
static int run_explain(const struct opts *o)
{
	int code = EXIT_INVALID;
	config_t *c = NULL;
	snapshot_t *s = NULL;
	char *text = NULL;
	diag_t *diag = diag_new();
	uint8_t name[DNAME_MAXLEN];
	struct geo_client client;
	uint16_t qtype;

	if (diag == NULL)
		return EXIT_RUNTIME;
	if (strcasecmp(o->explain[1], "A") == 0)
		qtype = DNS_TYPE_A;
	else if (strcasecmp(o->explain[1], "AAAA") == 0)
		qtype = DNS_TYPE_AAAA;
	else {
		code = usage_error("--explain: TYPE must be A or AAAA, not '%s'", o->explain[1]);
		goto finish;
	}
	if (geo_client_parse(o->explain[2], &client) != SOV_OK) {
		code = usage_error("--explain: '%s' is not an address or ADDRESS/PREFIX",
				   o->explain[2]);
		goto finish;
	}
	if (dname_from_str(o->explain[0], name) < 0) {
		code = usage_error("--explain: '%s' is not a domain name", o->explain[0]);
		goto finish;
	}
	if (conf_build(o, o->config_path, &c, diag) == SOV_OK)
		c->check_only = true; /* --explain reads, writes nothing */
	if (c == NULL || snapshot_build(c, &s, diag) != SOV_OK) { /* takes c */
		diag_print(diag, stderr);
		goto finish;
	}
	int svc = s->geo ? geo_service_find(s->geo, name) : SOV_ENOENT;
	if (svc < 0) {
		fprintf(stderr,
			"%s is not a service in %s: its answers come from the zone data, "
			"the same for every client\n",
			o->explain[0], o->config_path);
		goto finish;
	}
	text = geo_explain(s->geo, (size_t)svc, &client, qtype, NULL);
	if (text == NULL) {
		code = EXIT_RUNTIME;
		goto finish;
	}
	fputs(text, stdout);
	code = EXIT_OK;
finish:
	free(text);
	snapshot_free(s);
	diag_free(diag);
	return code;
}

int main(int argc, char **argv)
{
	struct opts o;
	int code = parse_args(argc, argv, &o);
	if (code >= 0)
		goto finish;

	log_init(o.log_level >= 0 ? (enum log_level)o.log_level : LOG_LVL_INFO, o.syslog);
	if (o.explain[0] != NULL)
		code = run_explain(&o);
	else if (o.check_count > 0)
		code = run_check_zones(&o);
	else if (o.check_config != NULL)
		code = run_check_config(&o);
	else
		code = run_server(&o);

finish:
	free(o.listen);
	free(o.zones);
	free(o.checks);
	return code;
}
