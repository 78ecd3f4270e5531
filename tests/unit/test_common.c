/* Unit tests of common/secretfile (the one reader of token and key files) and
 * common/path (relative paths in configuration files). */
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

#include "common/err.h"
#include "common/path.h"
#include "common/secretfile.h"

static char dir[] = "/tmp/sovdns-test-secret-XXXXXX";
static char path[300], why[512], out[65];

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

/* Writes text (len bytes) to dir/name with mode; path names it. */
static void put(const char *name, const char *text, size_t len, mode_t mode)
{
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int rd(void)
{
	return secretfile_read(path, "token", 16, 64, "openssl rand -hex 32", out, sizeof(out), why,
			       sizeof(why));
}

static void test_accepted(void **state)
{
	(void)state;
	put("a", "\t 0123456789abcdef \r\n\n \r\n\t\n", 25, 0600); /* blank lines may follow */
	assert_int_equal(rd(), SOV_OK);
	assert_string_equal(out, "0123456789abcdef");
	put("b", "0123456789abcdef", 16, 0640); /* no line end; group may read */
	assert_int_equal(rd(), SOV_OK);
	assert_string_equal(out, "0123456789abcdef");
	char max[65];
	memset(max, 'x', 64);
	put("c", max, 64, 0400); /* exactly max_len, no line end */
	assert_int_equal(rd(), SOV_OK);
	assert_int_equal(strlen(out), 64);
	/* a symbolic link is followed; the file it names is what is checked */
	char link[sizeof(path)];
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(path, link), 0);
	memcpy(path, link, sizeof(path));
	assert_int_equal(rd(), SOV_OK);
}

static void expect_refused(int want, const char *needle)
{
	assert_int_equal(rd(), want);
	assert_string_equal(out, "");
	if (strstr(why, needle) == NULL)
		fail_msg("\"%s\" not in \"%s\"", needle, why);
	assert_non_null(strstr(why, dir)); /* names the file */
}

static void test_refused(void **state)
{
	(void)state;
	put("world", "0123456789abcdef\n", 17, 0604);
	expect_refused(SOV_EINVAL, "accessible to other users (mode 0604); run chmod o-rwx");
	put("short", "abc\n", 4, 0600);
	expect_refused(SOV_EINVAL, "shorter than 16 bytes (make one with: openssl rand -hex 32)");
	put("empty", "", 0, 0600);
	expect_refused(SOV_EINVAL, "shorter than 16 bytes");
	char big[200];
	memset(big, 'x', sizeof(big));
	put("long", big, 65, 0600);
	expect_refused(SOV_EINVAL, "longer than 64 bytes");
	put("longer", big, sizeof(big), 0600); /* past what is read at all */
	expect_refused(SOV_EINVAL, "longer than 64 bytes");
	/* a wrapped secret (openssl rand -base64 64) is refused, not cut to line 1 */
	put("wrapped", "0123456789abcdef\nghijklmn\n", 26, 0600);
	expect_refused(SOV_EINVAL, "goes on after its first line");
	put("wrapped2", "0123456789abcdef\r\n\n  x", 23, 0600);
	expect_refused(SOV_EINVAL, "goes on after its first line");
	static char huge[5000];
	memset(huge, '\n', sizeof(huge));
	memcpy(huge, "0123456789abcdef", 16); /* then more than is read at all */
	put("huge", huge, sizeof(huge), 0600);
	expect_refused(SOV_EINVAL, "goes on after its first line");
	put("space", "0123456789 abcdef\n", 18, 0600);
	expect_refused(SOV_EINVAL, "spaces or control characters");
	put("nul", "0123456789\0abcdef\n", 18, 0600);
	expect_refused(SOV_EINVAL, "spaces or control characters");
	snprintf(path, sizeof(path), "%s/missing", dir);
	expect_refused(SOV_EIO, "cannot open token file");
	snprintf(path, sizeof(path), "%s", dir);
	expect_refused(SOV_EINVAL, "is not a regular file");
}

static void expect_beside(const char *file, const char *rel, const char *want)
{
	char *got = path_beside(file, rel);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void expect_dir(const char *file, const char *want)
{
	char *got = path_dir(file);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_path(void **state)
{
	(void)state;
	expect_beside("/etc/sovdns/sovdns.json", "tokens/a", "/etc/sovdns/tokens/a");
	expect_beside("/etc/sovdns/sovdns.json", "/abs/a", "/abs/a");
	expect_beside("conf/s.json", "a.zone", "conf/a.zone");
	expect_beside("s.json", "a.zone", "a.zone");	 /* no directory part */
	expect_beside("/s.json", "a.zone", "/a.zone");	 /* the root, not "//a.zone" */
	expect_beside(NULL, "rel/a.zone", "rel/a.zone"); /* command line: as given */
	expect_dir("/etc/sovdns/sovdns.json", "/etc/sovdns");
	expect_dir("/s.json", "/");
	expect_dir("s.json", "");
}

/* path_make_parents: mkdir -p of a file's directory; existing ones are fine. */
static void test_make_parents(void **state)
{
	(void)state;
	char base[] = "/tmp/test_common_mkp.XXXXXX";
	assert_non_null(mkdtemp(base));
	char file[256], d[256];
	snprintf(file, sizeof(file), "%s/state/zones/example.com.zone", base);
	assert_int_equal(path_make_parents(file, 0750), SOV_OK);
	snprintf(d, sizeof(d), "%s/state/zones", base);
	struct stat st;
	assert_int_equal(stat(d, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(path_make_parents(file, 0750), SOV_OK); /* again: all exist */
	assert_int_equal(path_make_parents("no-directory-part.zone", 0750), SOV_OK);
	/* A file where a directory should be: refused. */
	char plain[256];
	snprintf(plain, sizeof(plain), "%s/plain", base);
	FILE *f = fopen(plain, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(file, sizeof(file), "%s/plain/sub/x.zone", base);
	assert_int_equal(path_make_parents(file, 0750), SOV_EIO);
	unlink(plain);
	rmdir(d);
	snprintf(d, sizeof(d), "%s/state", base);
	rmdir(d);
	rmdir(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepted),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_path),
	    cmocka_unit_test(test_make_parents),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
