/* main.c — sovctl: take a datacenter out of DNS, run a job there, put it back.
 * Thin: parses the command line and dispatches (docs/sovctl.md). */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "deployer/ctl.h"
#include "deployer/digest.h"
#include "deployer/progress.h"

#define DEFAULT_CONFIG "/etc/sovctl/sovctl.json"

static void usage(FILE *out)
{
	fputs(
	    "usage: sovctl [-c CONFIG] [--json] COMMAND ...\n"
	    "\n"
	    "  status                          every datacenter as every instance sees it\n"
	    "  drain DC [--wait] [--lease S]   take DC out of answers on every instance\n"
	    "  undrain DC                      put DC back (once its health is up)\n"
	    "  maintenance DC on|off           hold DC out whatever the probes say, or end it\n"
	    "  backup DC | backup --all        drain, run the backup hook, record the archive,\n"
	    "                                  verify, undrain (--all: one DC at a time)\n"
	    "  deploy DC | deploy --all        the same with a backup first, then the deploy hook\n"
	    "  restore DC --archive NAME       drain, run the restore hook, verify, undrain\n"
	    "  tls-renew DC | tls-renew --all  drain, run the tls-renew hook, verify, undrain\n"
	    "  operations [ID]                 sovctl's operations, or one with each instance's "
	    "record\n"
	    "  resume ID                       continue an operation a killed sovctl left\n"
	    "  abort ID                        abort an unfinished operation (the site stays "
	    "drained)\n"
	    "  digest PATH                     the SHA-256 sovctl records for an archive\n"
	    "\n"
	    "options:\n"
	    "  -c, --config FILE   configuration (default $SOVCTL_CONFIG, else " DEFAULT_CONFIG
	    ")\n"
	    "  -j, --json          print the result as JSON on stdout (progress stays on stderr)\n"
	    "  -f, --force         drain even if a service is left with no usable datacenter;\n"
	    "                      undrain although an operation on the datacenter is unfinished\n"
	    "  -p, --allow-partial go ahead without the instances that cannot be reached\n"
	    "  -w, --wait          drain: wait until every instance says drained\n"
	    "  -a, --all           backup/deploy/tls-renew: every datacenter, in config order,\n"
	    "                      stopping at the first failure\n"
	    "  -A, --archive NAME  restore: the archive to restore\n"
	    "  -r, --reason TEXT   recorded with the drain and the operation\n"
	    "  -l, --lease SECONDS drain lease (jobs: lease_s of the config; drain: none)\n"
	    "  -V, --version, -h, --help\n"
	    "\n"
	    "exit status: 0 done, 1 failed (site left drained) or instances disagree (status),\n"
	    "2 usage/configuration, 3 an instance unreachable (nothing changed), 4 refused for\n"
	    "safety, 5 aborted, 6 no such operation / nothing to resume. See docs/sovctl.md.\n",
	    out);
}

static void on_signal(int sig)
{
	(void)sig;
	ctl_interrupted = 1;
}

static int need_args(int have, int want, const char *cmd)
{
	if (have != want) {
		fprintf(stderr, "sovctl: %s takes %d argument(s) (see sovctl --help)\n", cmd, want);
		return CTL_USAGE;
	}
	return CTL_OK;
}

static int cmd_digest(const char *path, bool json)
{
	char hex[DIGEST_HEX_LEN], why[PATH_MAX + 256];
	int rc = digest_archive(path, hex, why, sizeof(why));
	if (rc != SOV_OK) {
		fprintf(stderr, "sovctl: %s\n", why);
		return CTL_FAILED;
	}
	if (json)
		ctl_print_json(json_pack("{s:s, s:s}", "path", path, "sha256", hex));
	else
		printf("%s  %s\n", hex, path);
	return CTL_OK;
}

/* What the command line asks for besides the options struct sovctl holds. */
struct cmdline {
	const char *config; /* -c, else $SOVCTL_CONFIG, else NULL (the default) */
	const char *cmd;
	char **args; /* the command's arguments (argv's) */
	int nargs;
	int kind; /* dconf_hook_parse(cmd): a job's hook, or -1 */
};

/* parse_options: go on with the command (every other value is an exit status). */
#define GO_ON (-1)

/* --lease SECONDS into s: CTL_OK or CTL_USAGE, printed. */
static int parse_lease(const char *arg, struct sovctl *s)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || v < 3 || v > 604800) {
		fprintf(stderr, "sovctl: --lease must be 3..604800 seconds\n");
		return CTL_USAGE;
	}
	s->lease_s = (uint32_t)v;
	s->lease_given = true;
	return CTL_OK;
}

/* The options into s and cl->config. Returns GO_ON, or the exit status for
 * --help, --version or a usage error (printed). */
static int parse_options(int argc, char **argv, struct sovctl *s, struct cmdline *cl)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},  {"json", no_argument, NULL, 'j'},
	    {"force", no_argument, NULL, 'f'},	       {"allow-partial", no_argument, NULL, 'p'},
	    {"wait", no_argument, NULL, 'w'},	       {"all", no_argument, NULL, 'a'},
	    {"archive", required_argument, NULL, 'A'}, {"reason", required_argument, NULL, 'r'},
	    {"lease", required_argument, NULL, 'l'},   {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},	       {NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "c:jfpwaA:r:l:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cl->config = optarg;
			break;
		case 'j':
			s->json = true;
			break;
		case 'f':
			s->force = true;
			break;
		case 'p':
			s->allow_partial = true;
			break;
		case 'w':
			s->wait = true;
			break;
		case 'a':
			s->all = true;
			break;
		case 'A':
			s->archive = optarg;
			break;
		case 'r':
			if (strlen(optarg) == 0 || strlen(optarg) > 200) {
				fprintf(stderr, "sovctl: --reason must be 1..200 characters\n");
				return CTL_USAGE;
			}
			s->reason = optarg;
			break;
		case 'l':
			if (parse_lease(optarg, s) != CTL_OK)
				return CTL_USAGE;
			break;
		case 'V':
			printf("sovctl %s\n", SOVDNS_VERSION);
			return CTL_OK;
		case 'h':
			usage(stdout);
			return CTL_OK;
		default:
			usage(stderr);
			return CTL_USAGE;
		}
	}
	return GO_ON;
}

/* The whole command line into s and cl: GO_ON, or the exit status (printed). */
static int parse_command_line(int argc, char **argv, struct sovctl *s, struct cmdline *cl)
{
	memset(cl, 0, sizeof(*cl));
	cl->config = getenv("SOVCTL_CONFIG");
	int rc = parse_options(argc, argv, s, cl);
	if (rc != GO_ON)
		return rc;
	if (optind >= argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	cl->cmd = argv[optind];
	cl->args = argv + optind + 1;
	cl->nargs = argc - optind - 1;
	cl->kind = -1;
	return GO_ON;
}

/* The options that go with one command only: CTL_OK or CTL_USAGE, printed. */
static int check_options(const struct sovctl *s, const struct cmdline *cl)
{
	if (s->wait && strcmp(cl->cmd, "drain") != 0) {
		fprintf(stderr, "sovctl: --wait goes with drain\n");
		return CTL_USAGE;
	}
	if (s->all && cl->kind != HOOK_BACKUP && cl->kind != HOOK_DEPLOY &&
	    cl->kind != HOOK_TLS_RENEW) {
		fprintf(stderr, "sovctl: --all goes with backup, deploy and tls-renew\n");
		return CTL_USAGE;
	}
	if (s->archive != NULL && cl->kind != HOOK_RESTORE) {
		fprintf(stderr, "sovctl: --archive goes with restore\n");
		return CTL_USAGE;
	}
	return CTL_OK;
}

/* The command and its arguments, before anything is contacted: CTL_OK or
 * CTL_USAGE, printed. */
static int check_arguments(const struct sovctl *s, const struct cmdline *cl)
{
	const char *cmd = cl->cmd;
	if (cl->kind >= 0)
		return need_args(cl->nargs, s->all ? 0 : 1, cmd);
	if (strcmp(cmd, "status") == 0)
		return need_args(cl->nargs, 0, cmd);
	if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "undrain") == 0 ||
	    strcmp(cmd, "resume") == 0 || strcmp(cmd, "abort") == 0)
		return need_args(cl->nargs, 1, cmd);
	if (strcmp(cmd, "maintenance") == 0) {
		int rc = need_args(cl->nargs, 2, cmd);
		if (rc == CTL_OK && strcmp(cl->args[1], "on") != 0 &&
		    strcmp(cl->args[1], "off") != 0) {
			fprintf(stderr, "sovctl: maintenance DC on|off\n");
			rc = CTL_USAGE;
		}
		return rc;
	}
	if (strcmp(cmd, "operations") == 0)
		return cl->nargs <= 1 ? CTL_OK : need_args(cl->nargs, 1, cmd);
	fprintf(stderr, "sovctl: unknown command '%s' (see sovctl --help)\n", cmd);
	return CTL_USAGE;
}

/* Loads the configuration into s->conf: CTL_OK, or the exit status (printed,
 * nothing left loaded). */
static int load_config(struct sovctl *s, const char *config)
{
	diag_t *diag = diag_new();
	if (diag == NULL)
		return CTL_FAILED;
	if (config == NULL)
		config = DEFAULT_CONFIG;
	if (dconf_load(config, &s->conf, diag) != SOV_OK) {
		diag_print(diag, stderr);
		diag_free(diag);
		return CTL_USAGE;
	}
	diag_free(diag);
	if (s->conf->instance_count > JOB_INSTANCES_MAX) {
		fprintf(stderr, "sovctl: at most %d instances\n", JOB_INSTANCES_MAX);
		dconf_free(s->conf);
		return CTL_USAGE;
	}
	return CTL_OK;
}

/* A client for each configured instance (s->n counts those made, which the
 * caller frees): CTL_OK or CTL_FAILED, printed. */
static int open_clients(struct sovctl *s)
{
	for (size_t i = 0; i < s->conf->instance_count; i++) {
		s->clients[i] = client_new(&s->conf->instances[i]);
		if (s->clients[i] == NULL) {
			fprintf(stderr, "sovctl: out of memory\n");
			return CTL_FAILED;
		}
		s->n++;
	}
	return CTL_OK;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: a sleep ends at once */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Runs the command (checked by check_arguments): its exit status. */
static int dispatch(struct sovctl *s, const struct cmdline *cl)
{
	const char *cmd = cl->cmd;
	char **args = cl->args;
	if (cl->kind >= 0)
		return cmd_job(s, (enum dconf_hook_kind)cl->kind, s->all ? NULL : args[0]);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(s);
	if (strcmp(cmd, "drain") == 0)
		return cmd_drain(s, args[0]);
	if (strcmp(cmd, "undrain") == 0)
		return cmd_undrain(s, args[0]);
	if (strcmp(cmd, "maintenance") == 0)
		return cmd_maintenance(s, args[0], strcmp(args[1], "on") == 0);
	if (strcmp(cmd, "operations") == 0)
		return cmd_operations(s, cl->nargs ? args[0] : NULL);
	if (strcmp(cmd, "resume") == 0)
		return cmd_resume(s, args[0]);
	if (strcmp(cmd, "abort") == 0)
		return cmd_abort(s, args[0]);
	return CTL_OK;
}

int main(int argc, char **argv)
{
	struct sovctl s;
	struct cmdline cl;
	memset(&s, 0, sizeof(s));
	int rc = parse_command_line(argc, argv, &s, &cl);
	if (rc != GO_ON)
		return rc;
	progress_init(isatty(STDERR_FILENO) == 1);

	if (strcmp(cl.cmd, "digest") == 0) {
		rc = need_args(cl.nargs, 1, cl.cmd);
		return rc == CTL_OK ? cmd_digest(cl.args[0], s.json) : rc;
	}
	cl.kind = dconf_hook_parse(cl.cmd);
	rc = check_options(&s, &cl);
	if (rc == CTL_OK)
		rc = check_arguments(&s, &cl);
	if (rc != CTL_OK)
		return rc;

	rc = load_config(&s, cl.config);
	if (rc != CTL_OK)
		return rc;
	if (client_global_init() != SOV_OK) {
		fprintf(stderr, "sovctl: cannot initialise libcurl\n");
		dconf_free(s.conf);
		return CTL_FAILED;
	}
	rc = open_clients(&s);
	if (rc == CTL_OK) {
		install_signals();
		rc = dispatch(&s, &cl);
	}
	for (size_t i = 0; i < s.n; i++)
		client_free(s.clients[i]);
	client_global_cleanup();
	dconf_free(s.conf);
	return rc;
}
