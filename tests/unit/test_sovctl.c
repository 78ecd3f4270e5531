/* Unit tests of sovctl's library (deployer/): configuration, archive digests,
 * the state file, and the hook supervisor. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "deployer/dconf.h"
#include "deployer/digest.h"
#include "deployer/hook.h"
#include "deployer/jobstate.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_sovctl.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void path_of(const char *name, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s", tmpdir, name);
}

/* ---- configuration ---- */

static const char *const GOOD_CONF =
    "{\n"
    "  \"instances\": [\n"
    "    {\"name\": \"ns1\", \"api\": \"http://127.0.0.1:8053/\", \"token_file\": \"ns1.token\"}\n"
    "  ],\n"
    "  \"env\": {\"BACKUP_TARGET\": \"file:///b\", \"X\": \"global\"},\n"
    "  \"datacenters\": [\n"
    "    {\"id\": \"dc-eu\", \"env\": {\"X\": \"eu\"},\n"
    "     \"hooks\": {\"backup\": {\"command\": [\"hooks/b\", \"--x\"], \"timeout_s\": 60},\n"
    "                 \"deploy\": {\"command\": \"make deploy\"}}},\n"
    "    {\"id\": \"dc-us\"}\n"
    "  ],\n"
    "  \"log_dir\": \"log\", \"state_file\": \"/var/lib/sovctl/state.json\", \"lease_s\": 600\n"
    "}\n";

static void test_dconf_good(void **state)
{
	(void)state;
	char path[512], hooks[512];
	write_file("ns1.token", "0123456789abcdef0123456789abcdef\n", 0600);
	snprintf(hooks, sizeof(hooks), "%s/hooks", tmpdir);
	mkdir(hooks, 0755);
	write_file("hooks/b", "#!/bin/sh\n", 0755);
	write_file("sovctl.json", GOOD_CONF, 0644);
	path_of("sovctl.json", path, sizeof(path));
	diag_t *d = diag_new();
	dconf_t *c = NULL;
	int rc = dconf_load(path, &c, d);
	if (rc != SOV_OK)
		diag_print(d, stderr);
	assert_int_equal(rc, SOV_OK);
	assert_int_equal(c->instance_count, 1);
	assert_string_equal(c->instances[0].api, "http://127.0.0.1:8053");
	assert_string_equal(c->instances[0].token, "0123456789abcdef0123456789abcdef");
	assert_int_equal(c->dc_count, 2);
	assert_string_equal(c->dcs[0].id, "dc-eu");
	const struct dconf_hook *b = &c->dcs[0].hooks[HOOK_BACKUP];
	assert_true(b->set);
	assert_int_equal(b->timeout_s, 60);
	char want[512];
	snprintf(want, sizeof(want), "%s/hooks/b", c->dir);
	assert_string_equal(b->argv[0], want);
	assert_string_equal(b->argv[1], "--x");
	assert_null(b->argv[2]);
	const struct dconf_hook *dep = &c->dcs[0].hooks[HOOK_DEPLOY];
	assert_string_equal(dep->argv[0], "/bin/sh");
	assert_string_equal(dep->argv[2], "make deploy");
	assert_int_equal(dep->timeout_s, DCONF_DEFAULT_HOOK_TIMEOUT_S);
	assert_false(c->dcs[0].hooks[HOOK_RESTORE].set);
	/* the datacenter's env wins over the global one */
	bool saw_x = false, saw_target = false;
	for (size_t i = 0; i < c->dcs[0].env.count; i++) {
		saw_x |= strcmp(c->dcs[0].env.vars[i], "X=eu") == 0;
		saw_target |= strcmp(c->dcs[0].env.vars[i], "BACKUP_TARGET=file:///b") == 0;
	}
	assert_true(saw_x && saw_target);
	assert_int_equal(c->lease_s, 600);
	assert_int_equal(c->verify_timeout_s, DCONF_DEFAULT_VERIFY_TIMEOUT_S);
	snprintf(want, sizeof(want), "%s/log", c->dir);
	assert_string_equal(c->log_dir, want);
	assert_non_null(dconf_dc_find(c, "dc-us"));
	assert_null(dconf_dc_find(c, "dc-xx"));
	dconf_free(c);
	diag_free(d);
}

static void test_dconf_errors_with_positions(void **state)
{
	(void)state;
	char path[512];
	write_file("ns1.token", "0123456789abcdef0123456789abcdef\n", 0604);
	write_file("bad.json",
		   "{\n"
		   "  \"instances\": [{\"name\": \"ns1\", \"api\": \"ftp://x\", \"token_file\": "
		   "\"ns1.token\"}],\n"
		   "  \"datacenters\": [{\"id\": \"dc-eu\", \"hooks\": {\"bakup\": {}}}],\n"
		   "  \"log_dir\": \"log\", \"state_file\": \"s.json\", \"lease_s\": 1,\n"
		   "  \"colour\": true\n"
		   "}\n",
		   0644);
	path_of("bad.json", path, sizeof(path));
	diag_t *d = diag_new();
	dconf_t *c = NULL;
	assert_int_equal(dconf_load(path, &c, d), SOV_ESEMANTIC);
	assert_null(c);
	bool api = false, token = false, hook = false, lease = false, unknown = false;
	for (size_t i = 0; i < diag_count(d); i++) {
		const char *m = diag_get(d, i);
		api |= strstr(m, ":2:") && strstr(m, "http:// or https://");
		token |= strstr(m, "accessible to other users") != NULL;
		hook |= strstr(m, ":3:") && strstr(m, "unknown hook \"bakup\"");
		lease |= strstr(m, ":4:") && strstr(m, "\"lease_s\" must be within");
		unknown |= strstr(m, ":5:3:") && strstr(m, "unknown key \"colour\"");
	}
	if (!(api && token && hook && lease && unknown))
		diag_print(d, stderr);
	assert_true(api && token && hook && lease && unknown);
	diag_free(d);

	/* a syntax error says where */
	write_file("syntax.json", "{\n  \"instances\": [\n}\n", 0644);
	path_of("syntax.json", path, sizeof(path));
	d = diag_new();
	assert_int_equal(dconf_load(path, &c, d), SOV_EPARSE);
	assert_non_null(strstr(diag_get(d, 0), "syntax.json:3:"));
	diag_free(d);
}

static void test_dconf_token_rules(void **state)
{
	(void)state;
	char path[512], out[DCONF_TOKEN_MAX], why[512];
	write_file("short", "abc\n", 0600);
	path_of("short", path, sizeof(path));
	assert_int_not_equal(dconf_read_token(path, out, sizeof(out), why, sizeof(why)), SOV_OK);
	assert_non_null(strstr(why, "shorter than 16 bytes"));
	write_file("wrapped", "0123456789abcdef0123\nsecond line\n", 0600);
	path_of("wrapped", path, sizeof(path));
	assert_int_not_equal(dconf_read_token(path, out, sizeof(out), why, sizeof(why)), SOV_OK);
	assert_non_null(strstr(why, "goes on after its first line"));
	write_file("spaced", "  0123456789abcdef0123  \n\n", 0640);
	path_of("spaced", path, sizeof(path));
	assert_int_equal(dconf_read_token(path, out, sizeof(out), why, sizeof(why)), SOV_OK);
	assert_string_equal(out, "0123456789abcdef0123");
	write_file("world", "0123456789abcdef0123\n", 0644);
	path_of("world", path, sizeof(path));
	assert_int_not_equal(dconf_read_token(path, out, sizeof(out), why, sizeof(why)), SOV_OK);
	assert_non_null(strstr(why, "chmod o-rwx"));
}

/* ---- digests ---- */

static void test_digest_file_and_dir(void **state)
{
	(void)state;
	char path[512], hex[DIGEST_HEX_LEN], why[512];
	/* sha256("abc"), FIPS 180-2 appendix B.1 */
	write_file("abc", "abc", 0644);
	path_of("abc", path, sizeof(path));
	assert_int_equal(digest_archive(path, hex, why, sizeof(why)), SOV_OK);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	/* a directory: sha256 of sha256sum's lines, sorted by path */
	char d[512];
	snprintf(d, sizeof(d), "%s/arch", tmpdir);
	mkdir(d, 0755);
	snprintf(d, sizeof(d), "%s/arch/sub", tmpdir);
	mkdir(d, 0755);
	write_file("arch/b", "abc", 0644);
	write_file("arch/sub/a", "", 0644);
	/* sha256sum of "b" (abc) and "sub/a" (empty), piped into sha256sum */
	const char *want = "721533a004a6d7ecee0fdf4e2c315407a97b5cdc906c56f7362187aee96ae544";
	path_of("arch", path, sizeof(path));
	assert_int_equal(digest_archive(path, hex, why, sizeof(why)), SOV_OK);
	assert_string_equal(hex, want);

	path_of("missing", path, sizeof(path));
	assert_int_equal(digest_archive(path, hex, why, sizeof(why)), SOV_ENOENT);
}

/* ---- the state file ---- */

static void fill_job(struct job *j, const char *id, const char *dc, enum op_state st)
{
	assert_int_equal(job_init(j), SOV_OK);
	snprintf(j->id, sizeof(j->id), "%s", id);
	snprintf(j->dc, sizeof(j->dc), "%s", dc);
	snprintf(j->reason, sizeof(j->reason), "nightly");
	j->kind = HOOK_BACKUP;
	j->state = st;
	j->lease_s = 900;
	j->n_inst = 2;
	snprintf(j->inst[0].name, sizeof(j->inst[0].name), "ns1");
	snprintf(j->inst[0].op_id, sizeof(j->inst[0].op_id), "op-20261130T072400Z-0001");
	snprintf(j->inst[1].name, sizeof(j->inst[1].name), "ns2");
	j->inst[1].skipped = true;
	j->inst[0].drained_by_us = true;
	j->sup.pid = 1234;
	j->sup.start_ticks = 99;
	json_object_set_new(j->result, "archive", json_string("dc-eu-x"));
}

static void test_jobstate_round_trip(void **state)
{
	(void)state;
	char path[512], why[512];
	path_of("state.json", path, sizeof(path));
	struct job j, k;
	fill_job(&j, "sovctl-1", "dc-eu", OP_RUNNING);
	assert_int_equal(jobstate_put(path, &j, why, sizeof(why)), SOV_OK);
	j.state = OP_VERIFYING; /* replaces, not appends */
	assert_int_equal(jobstate_put(path, &j, why, sizeof(why)), SOV_OK);
	assert_int_equal(job_init(&k), SOV_OK);
	assert_int_equal(jobstate_get(path, "sovctl-1", &k, why, sizeof(why)), SOV_OK);
	assert_int_equal(k.state, OP_VERIFYING);
	assert_string_equal(k.dc, "dc-eu");
	assert_int_equal(k.kind, HOOK_BACKUP);
	assert_int_equal(k.n_inst, 2);
	assert_true(k.inst[1].skipped);
	assert_true(k.inst[0].drained_by_us);
	assert_int_equal(k.sup.pid, 1234);
	assert_int_equal(k.sup.start_ticks, 99);
	assert_string_equal(json_string_value(json_object_get(k.result, "archive")), "dc-eu-x");
	job_clear(&k);
	/* found by an instance's operation id too */
	assert_int_equal(job_init(&k), SOV_OK);
	assert_int_equal(jobstate_get(path, "op-20261130T072400Z-0001", &k, why, sizeof(why)),
			 SOV_OK);
	assert_string_equal(k.id, "sovctl-1");
	job_clear(&k);
	assert_int_equal(job_init(&k), SOV_OK);
	assert_int_equal(jobstate_get(path, "nope", &k, why, sizeof(why)), SOV_ENOENT);
	job_clear(&k);
	job_clear(&j);

	/* finished records beyond the limit go, unfinished ones stay */
	for (int i = 0; i < JOBSTATE_KEEP_FINISHED + 5; i++) {
		char id[32];
		snprintf(id, sizeof(id), "done-%03d", i);
		fill_job(&j, id, "dc-us", OP_DONE);
		assert_int_equal(jobstate_put(path, &j, why, sizeof(why)), SOV_OK);
		job_clear(&j);
	}
	json_t *ops = NULL;
	assert_int_equal(jobstate_list(path, &ops, why, sizeof(why)), SOV_OK);
	assert_int_equal(json_array_size(ops), JOBSTATE_KEEP_FINISHED + 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "id")),
			    "sovctl-1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 1), "id")),
			    "done-005");
	json_decref(ops);

	/* a damaged file is reported, never silently replaced */
	write_file("state.json", "{\"operations\": [", 0640);
	fill_job(&j, "x", "dc-eu", OP_PENDING);
	assert_int_equal(jobstate_put(path, &j, why, sizeof(why)), SOV_EPARSE);
	assert_non_null(strstr(why, ".prev"));
	job_clear(&j);
}

/* ---- the hook supervisor ---- */

static enum hook_state wait_hook(const struct hook_proc *p, const char *status,
				 struct hook_status *st, int max_ms)
{
	enum hook_state s = HOOK_RUNNING;
	for (int waited = 0; waited < max_ms; waited += 20) {
		s = hook_poll(p, status, true, st);
		if (s != HOOK_RUNNING)
			break;
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return s;
}

static void test_hook_exit_status_env_and_log(void **state)
{
	(void)state;
	char log[512], status[512], why[512];
	path_of("hook.log", log, sizeof(log));
	path_of("hook.status", status, sizeof(status));
	char *argv[] = {"/bin/sh", "-c", "echo \"dc=$SOVCTL_DC\"; pwd; exit 3", NULL};
	char *envp[] = {"SOVCTL_DC=dc-eu", "PATH=/usr/bin:/bin", NULL};
	struct hook_spec spec = {.argv = argv,
				 .envp = envp,
				 .cwd = "/",
				 .log_path = log,
				 .status_path = status,
				 .timeout_s = 10,
				 .kill_grace_s = 1};
	struct hook_proc p;
	struct hook_status st;
	assert_int_equal(hook_start(&spec, &p, why, sizeof(why)), SOV_OK);
	assert_int_equal(wait_hook(&p, status, &st, 5000), HOOK_DONE);
	assert_true(st.finished);
	assert_int_equal(st.exit_code, 3);
	assert_false(st.timed_out);
	char *text = NULL;
	FILE *f = fopen(log, "r");
	assert_non_null(f);
	size_t cap = 0;
	ssize_t n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	assert_true(n > 0);
	assert_non_null(strstr(text, "dc=dc-eu\n/\n"));
	assert_non_null(strstr(text, "hook exited with status 3"));
	free(text);
}

static void test_hook_timeout_kills_the_group(void **state)
{
	(void)state;
	char log[512], status[512], why[512], pidfile[512], script[1024];
	path_of("t.log", log, sizeof(log));
	path_of("t.status", status, sizeof(status));
	path_of("t.pid", pidfile, sizeof(pidfile));
	/* a child that ignores SIGTERM: the supervisor must SIGKILL the group */
	snprintf(script, sizeof(script),
		 "sh -c 'trap \"\" TERM; echo $$ > %s; while :; do sleep 1; done' & wait", pidfile);
	char *argv[] = {"/bin/sh", "-c", script, NULL};
	char *envp[] = {"PATH=/usr/bin:/bin", NULL};
	struct hook_spec spec = {.argv = argv,
				 .envp = envp,
				 .cwd = "/",
				 .log_path = log,
				 .status_path = status,
				 .timeout_s = 1,
				 .kill_grace_s = 1};
	struct hook_proc p;
	struct hook_status st;
	assert_int_equal(hook_start(&spec, &p, why, sizeof(why)), SOV_OK);
	assert_int_equal(wait_hook(&p, status, &st, 8000), HOOK_DONE);
	assert_true(st.timed_out);
	FILE *f = fopen(pidfile, "r");
	assert_non_null(f);
	int child = 0;
	assert_int_equal(fscanf(f, "%d", &child), 1);
	fclose(f);
	assert_int_equal(hook_proc_start_ticks(child), 0); /* gone (or a zombie) */
}

static void test_hook_missing_program(void **state)
{
	(void)state;
	char log[512], status[512], why[512];
	path_of("m.log", log, sizeof(log));
	path_of("m.status", status, sizeof(status));
	char *argv[] = {"/nonexistent/hook", NULL};
	char *envp[] = {NULL};
	struct hook_spec spec = {.argv = argv,
				 .envp = envp,
				 .cwd = "/",
				 .log_path = log,
				 .status_path = status,
				 .timeout_s = 5,
				 .kill_grace_s = 1};
	struct hook_proc p;
	struct hook_status st;
	assert_int_equal(hook_start(&spec, &p, why, sizeof(why)), SOV_OK);
	assert_int_equal(wait_hook(&p, status, &st, 5000), HOOK_DONE);
	assert_int_equal(st.exit_code, 127);
	assert_true(st.exec_failed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_dconf_good, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dconf_errors_with_positions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dconf_token_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_digest_file_and_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_jobstate_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hook_exit_status_env_and_log, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hook_timeout_kills_the_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hook_missing_program, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
