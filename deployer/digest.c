/* digest.c — SHA-256 of an archive file or directory (see digest.h). */
#include "deployer/digest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

/* Directory walks stop here: a backup set deeper than this is a loop or a
 * mistake, not an archive. */
#define DIGEST_DEPTH_MAX 32

static void to_hex(const unsigned char *md, unsigned len, char hex[DIGEST_HEX_LEN])
{
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < len && i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

bool digest_hex_valid(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static int digest_file(const char *path, char hex[DIGEST_HEX_LEN], char *why, size_t why_cap)
{
	int ret = SOV_EIO;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ctx == NULL) {
		snprintf(why, why_cap, "out of memory");
		ret = SOV_ENOMEM;
		goto finish;
	}
	if (fd < 0) {
		snprintf(why, why_cap, "cannot open %s: %s", path, strerror(errno));
		ret = errno == ENOENT ? SOV_ENOENT : SOV_EIO;
		goto finish;
	}
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		snprintf(why, why_cap, "OpenSSL has no SHA-256");
		goto finish;
	}
	static unsigned char buf[1 << 16];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, why_cap, "cannot read %s: %s", path, strerror(errno));
			goto finish;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	to_hex(md, mdlen, hex);
	ret = SOV_OK;
finish:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return ret;
}

/* The relative paths of every regular file under root/rel, appended to *list. */
struct pathlist {
	char **v;
	size_t n, cap;
};

static int list_files(const char *root, const char *rel, int depth, struct pathlist *pl, char *why,
		      size_t why_cap)
{
	int ret = SOV_OK;
	char dirpath[PATH_MAX];
	if (snprintf(dirpath, sizeof(dirpath), "%s%s%s", root, rel[0] ? "/" : "", rel) >=
	    (int)sizeof(dirpath)) {
		snprintf(why, why_cap, "path too long: %s/%s", root, rel);
		return SOV_EINVAL;
	}
	if (depth > DIGEST_DEPTH_MAX) {
		snprintf(why, why_cap, "%s: more than %d levels of directories", dirpath,
			 DIGEST_DEPTH_MAX);
		return SOV_EINVAL;
	}
	DIR *d = opendir(dirpath);
	if (d == NULL) {
		snprintf(why, why_cap, "cannot open directory %s: %s", dirpath, strerror(errno));
		return SOV_EIO;
	}
	struct dirent *e;
	while (ret == SOV_OK && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char sub[PATH_MAX], full[PATH_MAX];
		if (snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >=
		    (int)sizeof(sub)) {
			snprintf(why, why_cap, "path too long under %s", dirpath);
			ret = SOV_EINVAL;
			break;
		}
		if (snprintf(full, sizeof(full), "%s/%s", root, sub) >= (int)sizeof(full)) {
			snprintf(why, why_cap, "path too long under %s", dirpath);
			ret = SOV_EINVAL;
			break;
		}
		struct stat st;
		if (lstat(full, &st) != 0) {
			snprintf(why, why_cap, "cannot stat %s: %s", full, strerror(errno));
			ret = SOV_EIO;
		} else if (S_ISDIR(st.st_mode)) {
			ret = list_files(root, sub, depth + 1, pl, why, why_cap);
		} else if (S_ISREG(st.st_mode)) {
			if (strpbrk(sub, "\n\\") != NULL) {
				snprintf(why, why_cap,
					 "%s: a file name with a newline or backslash cannot be "
					 "digested reproducibly",
					 full);
				ret = SOV_EINVAL;
			} else if (pl->n == pl->cap) {
				size_t cap = pl->cap ? pl->cap * 2 : 64;
				char **v = realloc(pl->v, cap * sizeof(*v));
				if (v == NULL) {
					ret = SOV_ENOMEM;
				} else {
					pl->v = v;
					pl->cap = cap;
				}
			}
			if (ret == SOV_OK && (pl->v[pl->n] = strdup(sub)) != NULL)
				pl->n++;
			else if (ret == SOV_OK)
				ret = SOV_ENOMEM;
		}
	}
	closedir(d);
	return ret;
}

static int cmp_bytes(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b); /* strcmp: unsigned bytes (C locale) */
}

static int digest_dir(const char *path, char hex[DIGEST_HEX_LEN], char *why, size_t why_cap)
{
	struct pathlist pl = {0};
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ret = ctx ? list_files(path, "", 0, &pl, why, why_cap) : SOV_ENOMEM;
	if (ret != SOV_OK)
		goto finish;
	qsort(pl.v, pl.n, sizeof(*pl.v), cmp_bytes);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (size_t i = 0; i < pl.n && ret == SOV_OK; i++) {
		char full[PATH_MAX], fhex[DIGEST_HEX_LEN];
		snprintf(full, sizeof(full), "%s/%s", path, pl.v[i]);
		ret = digest_file(full, fhex, why, why_cap);
		if (ret == SOV_OK) {
			/* exactly one line of sha256sum's output */
			EVP_DigestUpdate(ctx, fhex, 64);
			EVP_DigestUpdate(ctx, "  ", 2);
			EVP_DigestUpdate(ctx, pl.v[i], strlen(pl.v[i]));
			EVP_DigestUpdate(ctx, "\n", 1);
		}
	}
	if (ret == SOV_OK) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		EVP_DigestFinal_ex(ctx, md, &mdlen);
		to_hex(md, mdlen, hex);
	}
finish:
	for (size_t i = 0; i < pl.n; i++)
		free(pl.v[i]);
	free(pl.v);
	EVP_MD_CTX_free(ctx);
	return ret;
}

int digest_archive(const char *path, char hex[DIGEST_HEX_LEN], char *why, size_t why_cap)
{
	struct stat st;
	hex[0] = '\0';
	if (stat(path, &st) != 0) {
		snprintf(why, why_cap, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? SOV_ENOENT : SOV_EIO;
	}
	if (S_ISREG(st.st_mode))
		return digest_file(path, hex, why, why_cap);
	if (S_ISDIR(st.st_mode))
		return digest_dir(path, hex, why, why_cap);
	snprintf(why, why_cap, "%s is neither a file nor a directory", path);
	return SOV_EINVAL;
}
