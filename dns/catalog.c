/* catalog.c — a catalog zone's file from the configuration (contract in catalog.h). */
#include "dns/catalog.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/atomicfile.h"
#include "common/err.h"
#include "common/log.h"
#include "common/path.h"
#include "wire/wire.h"

#define CATALOG_MAX_BYTES (64u << 20)

/* "Example.COM" -> "example.com." (heap). */
static char *member_name(const char *origin)
{
	size_t n = strlen(origin);
	char *s = malloc(n + 2);
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		s[i] = (char)tolower((unsigned char)origin[i]);
	if (n == 0 || s[n - 1] != '.')
		s[n++] = '.';
	s[n] = 0;
	return s;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sha256_hex(const void *data, size_t len, char *out, size_t hex_digits)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		mdlen = 0;
	size_t i = 0;
	for (; i < hex_digits / 2 && i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[2 * i] = 0;
}

/* The digest and serial an earlier file recorded (false: none usable). */
static bool previous(const char *path, char *digest, size_t cap, uint32_t *serial)
{
	char *text = NULL;
	size_t len = 0;
	if (atomicfile_read(path, CATALOG_MAX_BYTES, &text, &len) != SOV_OK)
		return false;
	bool ok = false;
	const char *d = strstr(text, "\n; members-sha256: ");
	const char *soa = strstr(text, " IN SOA invalid. invalid. ");
	unsigned long v = 0;
	if (d != NULL && soa != NULL && sscanf(soa, " IN SOA invalid. invalid. %lu", &v) == 1) {
		d += strlen("\n; members-sha256: ");
		size_t n = strcspn(d, "\n");
		if (n + 1 <= cap) {
			memcpy(digest, d, n);
			digest[n] = 0;
			*serial = (uint32_t)v;
			ok = true;
		}
	}
	free(text);
	return ok;
}

/* Writes text to a new file under $TMPDIR (or /tmp); its path in *path_out (heap). */
static int write_temp(const char *text, size_t len, char **path_out)
{
	const char *dir = getenv("TMPDIR");
	char *path = NULL;
	if (dir == NULL || *dir == 0)
		dir = "/tmp";
	if (asprintf(&path, "%s/sovdns-catalog.XXXXXX", dir) < 0)
		return SOV_ENOMEM;
	int fd = mkstemp(path);
	if (fd < 0) {
		free(path);
		return SOV_EIO;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (close(fd) != 0 || off != len) {
		unlink(path);
		free(path);
		return SOV_EIO;
	}
	*path_out = path;
	return SOV_OK;
}

int catalog_write(const config_t *conf, size_t idx, bool dry_run, char **load_path, diag_t *diag)
{
	const struct zone_conf *cz = &conf->zones[idx];
	*load_path = NULL;
	char **members = calloc(conf->zone_count + 1, sizeof(*members));
	size_t n = 0, all = 0;
	int r = members ? SOV_OK : SOV_ENOMEM;
	for (size_t i = 0; r == SOV_OK && i < conf->zone_count; i++) {
		if (conf->zones[i].catalog)
			continue;
		if ((members[n] = member_name(conf->zones[i].origin)) == NULL)
			r = SOV_ENOMEM;
		else
			all += strlen(members[n++]) + 1;
	}
	char *list = r == SOV_OK ? malloc(all + 1) : NULL;
	if (r == SOV_OK && list == NULL)
		r = SOV_ENOMEM;
	char *origin = r == SOV_OK ? member_name(cz->origin) : NULL;
	char *text = NULL;
	size_t tlen = 0;
	FILE *f = NULL;
	if (r == SOV_OK && origin == NULL)
		r = SOV_ENOMEM;
	if (r == SOV_OK) {
		qsort(members, n, sizeof(*members), cmp_str);
		size_t off = 0;
		for (size_t i = 0; i < n; i++)
			off += (size_t)sprintf(list + off, "%s\n", members[i]);
		list[off] = 0;
		char digest[65], old_digest[65];
		sha256_hex(list, off, digest, 64);
		uint32_t old_serial = 0;
		bool had = previous(cz->file, old_digest, sizeof(old_digest), &old_serial);
		if (had && strcmp(digest, old_digest) == 0)
			goto finish; /* unchanged: same file, same serial */
		uint32_t serial = (uint32_t)time(NULL);
		if (had && !dns_serial_lt(old_serial, serial))
			serial = old_serial + 1;
		f = open_memstream(&text, &tlen);
		if (f == NULL) {
			r = SOV_ENOMEM;
			goto finish;
		}
		fprintf(
		    f,
		    "; the catalog zone (RFC 9432) of this server's zones, written by sovdns at "
		    "every load: do not edit\n"
		    "; members-sha256: %s\n"
		    "$TTL 0\n"
		    "%s 0 IN SOA invalid. invalid. %u 3600 600 2147483646 0\n"
		    "%s 0 IN NS invalid.\n"
		    "version.%s 0 IN TXT \"2\"\n",
		    digest, origin, serial, origin, origin);
		for (size_t i = 0; i < n; i++) {
			char id[17];
			sha256_hex(members[i], strlen(members[i]), id, 16);
			fprintf(f, "%s.zones.%s 0 IN PTR %s\n", id, origin, members[i]);
		}
		if (fclose(f) != 0) {
			f = NULL;
			r = SOV_ENOMEM;
			goto finish;
		}
		f = NULL;
		if (dry_run) {
			r = write_temp(text, tlen, load_path);
			if (r != SOV_OK)
				diag_add(diag, cz->file, 0, 0,
					 "cannot write the catalog zone %s to a temporary file: %s",
					 origin, err_str(r));
			goto finish;
		}
		(void)path_make_parents(cz->file, 0750); /* state_dir/zones/ */
		r = atomicfile_write(cz->file, text, tlen, 0640, 0);
		if (r != SOV_OK)
			diag_add(diag, cz->file, 0, 0, "cannot write the catalog zone %s: %s",
				 origin, err_str(r));
		else
			log_info("zone", "%s: catalog of %zu zones, serial %u, written to %s",
				 origin, n, serial, cz->file);
	}
finish:
	for (size_t i = 0; members && i < n; i++)
		free(members[i]);
	free(members);
	free(list);
	free(origin);
	free(text);
	if (r == SOV_ENOMEM)
		diag_add(diag, cz->file, 0, 0, "out of memory writing the catalog zone");
	if (r == SOV_OK && *load_path == NULL && (*load_path = strdup(cz->file)) == NULL)
		r = SOV_ENOMEM;
	return r;
}
