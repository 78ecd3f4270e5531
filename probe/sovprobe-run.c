/* sovprobe-run — runs the probe engine alone, for tests and for trying a
 * probes section before the daemon uses it.
 *
 *   sovprobe-run [--check] [--log-level LEVEL] FILE.json
 *
 * FILE.json: {"datacenters": [{"id": "dc-west", "addresses": ["192.0.2.1"]}],
 *             "probes": { ...as in the daemon's configuration... }}
 *
 * Prints one JSON object per line on stdout, flushed at once:
 *   {"event":"ready","pending":0,"targets":2,"probes":3}  after the first round
 *   {"event":"transition","target":"dc-west","dc":"dc-west","service":null,
 *    "from":"up","to":"down","reason":"...","at_ms":1764487800000}
 *   {"event":"detail", ...}   one per target on SIGUSR1 (health_detail fields)
 *   {"event":"stopped"}      on SIGTERM/SIGINT, then exit 0
 * Logs go to stderr. Exit status 1 on a configuration error (printed as
 * file:line:col: message), 2 on a usage or start-up error.
 */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/log.h"
#include "probe/probe.h"

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void emit(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL)
		return;
	pthread_mutex_lock(&out_lock);
	fputs(s, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
	free(s);
}

static void on_transition(const struct probe_transition *t, void *arg)
{
	(void)arg;
	emit(json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:I}", "event", "transition", "target",
		       t->target_name, "dc", t->dc_id, "service",
		       t->service ? json_string(t->service) : json_null(), "from",
		       health_state_name(t->from), "to", health_state_name(t->to), "reason",
		       t->reason, "at_ms", (json_int_t)t->at_unix_ms));
}

static void print_details(const probe_config_t *cfg, health_table_t *table)
{
	for (size_t i = 0; i < cfg->target_count; i++) {
		struct health_detail d;
		if (health_detail_get(table, i, &d) != SOV_OK)
			continue;
		json_t *o = json_pack(
		    "{s:s, s:s, s:s, s:b, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "event",
		    "detail", "target", cfg->targets[i].name, "state", health_state_name(d.state),
		    "last_ok", d.last_ok, "last_text", d.last_text, "change_reason",
		    d.change_reason, "last_latency_ms", (json_int_t)d.last_latency_ms,
		    "last_check_ms", (json_int_t)d.last_check_unix_ms, "last_change_ms",
		    (json_int_t)d.last_change_unix_ms, "checks", (json_int_t)d.checks_total,
		    "failures", (json_int_t)d.failures_total, "transitions",
		    (json_int_t)d.transitions_total);
		if (o == NULL)
			continue;
		json_object_set_new(o, "cert_days_left",
				    d.cert_days_left == HEALTH_CERT_DAYS_NONE
					? json_null()
					: json_integer(d.cert_days_left));
		emit(o);
	}
}

/* Reads "datacenters" into probe_dc records; addresses are stored in *addrs. */
static int load_dcs(const json_t *root, struct probe_dc **dcs_out, size_t *count,
		    sov_sockaddr_t **addrs_out, const char *file, diag_t *diag)
{
	int rc = SOV_OK;
	const json_t *list = json_object_get(root, "datacenters");
	size_t n = json_is_array(list) ? json_array_size(list) : 0;
	size_t total = 0;
	*dcs_out = NULL;
	*addrs_out = NULL;
	*count = 0;
	if (!json_is_array(list)) {
		diag_add(diag, file, 0, 0, "datacenters: must be a list");
		return SOV_ESEMANTIC;
	}
	for (size_t i = 0; i < n; i++)
		total += json_array_size(json_object_get(json_array_get(list, i), "addresses"));
	struct probe_dc *dcs = calloc(n ? n : 1, sizeof(*dcs));
	sov_sockaddr_t *addrs = calloc(total ? total : 1, sizeof(*addrs));
	if (dcs == NULL || addrs == NULL) {
		free(dcs);
		free(addrs);
		return SOV_ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *dc = json_array_get(list, i);
		const json_t *id = json_object_get(dc, "id");
		const json_t *al = json_object_get(dc, "addresses");
		if (!json_is_string(id)) {
			diag_add(diag, file, 0, 0, "datacenters[%zu].id: must be a string", i);
			rc = SOV_ESEMANTIC;
			continue;
		}
		dcs[i].id = json_string_value(id);
		dcs[i].addrs = &addrs[k];
		for (size_t j = 0; j < json_array_size(al); j++) {
			const json_t *a = json_array_get(al, j);
			if (!json_is_string(a) ||
			    addr_parse(json_string_value(a), 0, &addrs[k]) != SOV_OK) {
				diag_add(diag, file, 0, 0,
					 "datacenters[%zu].addresses[%zu]: not an IP address", i,
					 j);
				rc = SOV_ESEMANTIC;
				continue;
			}
			k++;
			dcs[i].addr_count++;
		}
	}
	*dcs_out = dcs;
	*addrs_out = addrs;
	*count = n;
	return rc;
}

int main(int argc, char **argv)
{
	int status = 2;
	const char *file = NULL;
	bool check_only = false;
	json_t *root = NULL;
	struct probe_dc *dcs = NULL;
	sov_sockaddr_t *addrs = NULL;
	size_t dc_count = 0;
	probe_config_t *cfg = NULL;
	health_table_t *table = NULL;
	probe_engine_t *engine = NULL;
	diag_t *diag = diag_new();
	enum log_level level = LOG_LVL_INFO;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check") == 0) {
			check_only = true;
		} else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
			int l = log_level_parse(argv[++i]);
			if (l < 0) {
				fprintf(stderr, "sovprobe-run: unknown log level %s\n", argv[i]);
				goto finish;
			}
			level = (enum log_level)l;
		} else if (argv[i][0] != '-' && file == NULL) {
			file = argv[i];
		} else {
			file = NULL;
			break;
		}
	}
	if (file == NULL || diag == NULL) {
		fprintf(stderr, "usage: sovprobe-run [--check] [--log-level LEVEL] FILE.json\n");
		goto finish;
	}
	log_init(level, false);

	json_error_t jerr;
	root = json_load_file(file, 0, &jerr);
	if (root == NULL) {
		fprintf(stderr, "%s:%d:%d: %s\n", file, jerr.line, jerr.column, jerr.text);
		status = 1;
		goto finish;
	}
	int rc = load_dcs(root, &dcs, &dc_count, &addrs, file, diag);
	if (rc == SOV_OK)
		rc = probe_config_parse(json_object_get(root, "probes"), dcs, dc_count, file, &cfg,
					diag);
	if (rc != SOV_OK) {
		diag_print(diag, stderr);
		if (diag_count(diag) == 0)
			fprintf(stderr, "%s: %s\n", file, err_str(rc));
		status = 1;
		goto finish;
	}
	if (check_only) {
		printf("%s: %zu targets, %zu probes\n", file, cfg->target_count,
		       cfg->instance_count);
		status = 0;
		goto finish;
	}

	/* Block the signals in every thread; this one takes them with sigwait. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	table = health_table_new(cfg->target_count);
	if (table == NULL)
		goto finish;
	rc = probe_engine_new(cfg, table, on_transition, NULL, &engine);
	if (rc == SOV_OK)
		rc = probe_engine_start(engine);
	if (rc != SOV_OK) {
		fprintf(stderr, "sovprobe-run: cannot start the probes: %s\n", err_str(rc));
		goto finish;
	}
	size_t pending = 0;
	(void)probe_engine_first_round(engine, &pending);
	emit(json_pack("{s:s, s:I, s:I, s:I}", "event", "ready", "pending", (json_int_t)pending,
		       "targets", (json_int_t)cfg->target_count, "probes",
		       (json_int_t)cfg->instance_count));

	for (;;) {
		int sig = 0;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			print_details(cfg, table);
			continue;
		}
		break;
	}
	probe_engine_stop(engine);
	emit(json_pack("{s:s}", "event", "stopped"));
	status = 0;
finish:
	probe_engine_free(engine);
	health_table_free(table);
	probe_config_free(cfg);
	free(dcs);
	free(addrs);
	json_decref(root);
	diag_free(diag);
	return status;
}
