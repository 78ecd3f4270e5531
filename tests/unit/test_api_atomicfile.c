/* Unit tests of common/atomicfile (the API's state files rely on it). */
#include <dirent.h>
#include <errno.h>
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

#include "common/atomicfile.h"
#include "common/err.h"

static char dir[] = "/tmp/sovdns-test-atomic-XXXXXX";

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

static size_t count_entries(void)
{
	size_t n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	closedir(d);
	return n;
}

static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	if (atomicfile_read(path, 1 << 20, &buf, &len) != SOV_OK)
		return NULL;
	return buf;
}

static void test_write_read_prev(void **state)
{
	(void)state;
	char path[256], prev[300];
	snprintf(path, sizeof(path), "%s/state.json", dir);
	snprintf(prev, sizeof(prev), "%s.prev", path);
	char *buf;
	size_t len;
	assert_int_equal(atomicfile_read(path, 100, &buf, &len), SOV_ENOENT);
	assert_int_equal(atomicfile_write(path, "one", 3, 0640, ATOMICFILE_KEEP_PREV), SOV_OK);
	assert_int_equal(access(prev, F_OK), -1); /* nothing to keep yet */
	assert_int_equal(atomicfile_write(path, "two", 3, 0640, ATOMICFILE_KEEP_PREV), SOV_OK);
	assert_int_equal(atomicfile_write(path, "three", 5, 0640, ATOMICFILE_KEEP_PREV), SOV_OK);
	char *s = slurp(path);
	assert_string_equal(s, "three");
	free(s);
	s = slurp(prev);
	assert_string_equal(s, "two");
	free(s);
	struct stat st;
	stat(path, &st);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(count_entries(), 2); /* no temporary files left */
	/* without KEEP_PREV the .prev stays as it was */
	assert_int_equal(atomicfile_write(path, "four", 4, 0600, 0), SOV_OK);
	s = slurp(prev);
	assert_string_equal(s, "two");
	free(s);
	/* empty content */
	assert_int_equal(atomicfile_write(path, "", 0, 0600, 0), SOV_OK);
	assert_int_equal(atomicfile_read(path, 10, &buf, &len), SOV_OK);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);
}

static void test_read_limit(void **state)
{
	(void)state;
	char path[256];
	snprintf(path, sizeof(path), "%s/big", dir);
	assert_int_equal(atomicfile_write(path, "0123456789", 10, 0600, 0), SOV_OK);
	char *buf = NULL;
	size_t len;
	assert_int_equal(atomicfile_read(path, 9, &buf, &len), SOV_ESPACE);
	assert_null(buf);
	assert_int_equal(atomicfile_read(path, 10, &buf, &len), SOV_OK);
	assert_int_equal(len, 10);
	free(buf);
}

static void test_failures(void **state)
{
	(void)state;
	char path[256];
	snprintf(path, sizeof(path), "%s/missing-dir/x", dir);
	size_t before = count_entries();
	assert_int_equal(atomicfile_write(path, "x", 1, 0600, 0), SOV_EIO);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(atomicfile_write("", "x", 1, 0600, 0), SOV_EINVAL);
	snprintf(path, sizeof(path), "%s/", dir);
	assert_int_equal(atomicfile_write(path, "x", 1, 0600, 0), SOV_EINVAL);
	assert_int_equal(count_entries(), before);
}

static int fail_with(void *ctx, const char *path)
{
	(void)path;
	return *(int *)ctx;
}

static void test_fault_hook(void **state)
{
	(void)state;
	char path[256];
	snprintf(path, sizeof(path), "%s/hooked", dir);
	assert_int_equal(atomicfile_write(path, "ok", 2, 0600, 0), SOV_OK);
	int e = ENOSPC;
	atomicfile_set_fault_hook(fail_with, &e);
	assert_int_equal(atomicfile_write(path, "no", 2, 0600, ATOMICFILE_KEEP_PREV), SOV_EIO);
	assert_int_equal(errno, ENOSPC);
	e = 0;
	assert_int_equal(atomicfile_write(path, "yes", 3, 0600, 0), SOV_OK);
	atomicfile_set_fault_hook(NULL, NULL);
	char *s = slurp(path);
	assert_string_equal(s, "yes");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_read_prev),
	    cmocka_unit_test(test_read_limit),
	    cmocka_unit_test(test_failures),
	    cmocka_unit_test(test_fault_hook),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
