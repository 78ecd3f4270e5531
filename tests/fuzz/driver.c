/* driver.c — runs a libFuzzer target over files, for builds without libFuzzer.
 *
 * With gcc (the normal build) each fuzz target links against this main so
 * it keeps compiling, and `meson test --suite fuzz` replays the seed corpus
 * and every past crash through it. Usage: fuzz_X FILE|DIR...
 * Seeds are kept readable: a file ending in ".hex" holds hex digits
 * (whitespace and "#" comments ignored) and is decoded before use.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Decodes hex text in place (comments from '#' to end of line skipped). */
static size_t hex_decode(uint8_t *buf, size_t n)
{
	size_t out = 0;
	int half = -1;
	for (size_t i = 0; i < n; i++) {
		int c = buf[i], v;
		if (c == '#') {
			while (i < n && buf[i] != '\n')
				i++;
			continue;
		}
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			continue;
		if (half < 0) {
			half = v;
		} else {
			buf[out++] = (uint8_t)(half << 4 | v);
			half = -1;
		}
	}
	return out;
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return 1;
	}
	uint8_t *buf = malloc(1 << 20);
	size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
	fclose(f);
	if (buf == NULL)
		return 1;
	size_t plen = strlen(path);
	if (plen > 4 && strcmp(path + plen - 4, ".hex") == 0)
		n = hex_decode(buf, n);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int run_path(const char *path, unsigned *count)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		perror(path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	DIR *d = opendir(path);
	if (d == NULL)
		return 1;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char sub[4096];
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		rc |= run_path(sub, count);
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int rc = 0;
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++)
		rc |= run_path(argv[i], &count);
	printf("%u inputs replayed\n", count);
	return rc;
}
