/* Unit tests of api/auth: scopes, token files, constant-time lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/auth.h"
#include "common/err.h"

static char dir[] = "/tmp/sovdns-test-auth-XXXXXX";

static const char *token_file(const char *name, const char *content, mode_t mode)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_scope_parse(void **state)
{
	(void)state;
	enum auth_level lvl;
	char **dcs;
	char why[256];
	assert_int_equal(auth_scope_parse("read", &lvl, &dcs, why, sizeof(why)), SOV_OK);
	assert_int_equal(lvl, AUTH_READ);
	assert_null(dcs);
	assert_int_equal(auth_scope_parse("admin", &lvl, &dcs, why, sizeof(why)), SOV_OK);
	assert_int_equal(lvl, AUTH_ADMIN);
	assert_int_equal(auth_scope_parse("drain:dc-a,dc-b", &lvl, &dcs, why, sizeof(why)), SOV_OK);
	assert_int_equal(lvl, AUTH_DRAIN);
	assert_string_equal(dcs[0], "dc-a");
	assert_string_equal(dcs[1], "dc-b");
	assert_null(dcs[2]);
	auth_dcs_free(dcs);
	static const char *const bad[] = {"root",      "drain:",   "drain:a,,b",
					  "drain:a b", "drain:a,", "Read"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(auth_scope_parse(bad[i], &lvl, &dcs, why, sizeof(why)),
				 SOV_EINVAL);
		assert_true(why[0] != '\0');
	}
}

static void test_ct_equal(void **state)
{
	(void)state;
	assert_true(auth_ct_equal("abcdef", 6, "abcdef", 6));
	assert_false(auth_ct_equal("abcdeg", 6, "abcdef", 6));
	assert_false(auth_ct_equal("abcde", 5, "abcdef", 6));
	assert_false(auth_ct_equal("abcdefg", 7, "abcdef", 6));
	assert_false(auth_ct_equal("", 0, "abcdef", 6));
	/* a guess repeating the secret's prefix must not match */
	assert_false(auth_ct_equal("abc", 3, "abcabc", 6));
}

static void test_tokens(void **state)
{
	(void)state;
	auth_t *a = auth_new();
	char why[256];
	const char *p = token_file("ops", "  0123456789abcdef-ops \n second line\n", 0600);
	assert_int_not_equal(auth_add_token(a, "ops", p, "admin", why, sizeof(why)), SOV_OK);
	assert_non_null(strstr(why, "goes on after its first line")); /* not cut silently */
	p = token_file("ops", "  0123456789abcdef-ops \n\n", 0600);
	assert_int_equal(auth_add_token(a, "ops", p, "admin", why, sizeof(why)), SOV_OK);
	p = token_file("east", "0123456789abcdef-east", 0640);
	assert_int_equal(auth_add_token(a, "deploy-east", p, "drain:dc-east", why, sizeof(why)),
			 SOV_OK);
	assert_int_equal(auth_count(a), 2);

	const struct auth_token *t = auth_check_header(a, "Bearer 0123456789abcdef-ops");
	assert_non_null(t);
	assert_string_equal(auth_token_name(t), "ops");
	assert_int_equal(auth_token_level(t), AUTH_ADMIN);
	assert_true(auth_token_allows_dc(t, "anything"));
	t = auth_check_header(a, "bearer   0123456789abcdef-east  ");
	assert_non_null(t);
	assert_true(auth_token_allows_dc(t, "dc-east"));
	assert_false(auth_token_allows_dc(t, "dc-west"));
	assert_null(auth_check_header(a, "Bearer 0123456789abcdef-eas"));
	assert_null(auth_check_header(a, "Bearer 0123456789abcdef-easts"));
	assert_null(auth_check_header(a, "Basic 0123456789abcdef-east"));
	assert_null(auth_check_header(a, "Bearer"));
	assert_null(auth_check_header(a, "Bearer0123456789abcdef-east"));
	assert_null(auth_check_header(a, ""));

	/* refusals, each with a reason */
	p = token_file("world", "0123456789abcdef-world", 0644);
	assert_int_equal(auth_add_token(a, "w", p, "read", why, sizeof(why)), SOV_EINVAL);
	assert_non_null(strstr(why, "other users"));
	p = token_file("worldw", "0123456789abcdef-worldw", 0602);
	assert_int_equal(auth_add_token(a, "w", p, "read", why, sizeof(why)), SOV_EINVAL);
	p = token_file("short", "short\n", 0600);
	assert_int_equal(auth_add_token(a, "s", p, "read", why, sizeof(why)), SOV_EINVAL);
	assert_non_null(strstr(why, "shorter"));
	p = token_file("space", "0123456789 abcdef\n", 0600);
	assert_int_equal(auth_add_token(a, "s", p, "read", why, sizeof(why)), SOV_EINVAL);
	p = token_file("dup", "0123456789abcdef-ops\n", 0600);
	assert_int_equal(auth_add_token(a, "dup", p, "read", why, sizeof(why)), SOV_EEXIST);
	p = token_file("fine", "0123456789abcdef-fine\n", 0600);
	assert_int_equal(auth_add_token(a, "ops", p, "read", why, sizeof(why)), SOV_EEXIST);
	assert_int_equal(auth_add_token(a, "bad name", p, "read", why, sizeof(why)), SOV_EINVAL);
	assert_int_equal(auth_add_token(a, "x", "/nonexistent/token", "read", why, sizeof(why)),
			 SOV_EIO);
	assert_int_equal(auth_add_token(a, "x", dir, "read", why, sizeof(why)), SOV_EINVAL);
	assert_int_equal(auth_count(a), 2);
	auth_free(a);
	auth_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scope_parse),
	    cmocka_unit_test(test_ct_equal),
	    cmocka_unit_test(test_tokens),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
