/* secretfile.c — see secretfile.h. */
#include "common/secretfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

/* The longest secret any caller accepts, plus its line end and a byte to
 * tell "longer" from "exactly max_len". */
#define SECRETFILE_READ_MAX 4096

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int secretfile_read(const char *path, const char *what, size_t min_len, size_t max_len,
		    const char *hint, char *out, size_t cap, char *why, size_t why_cap)
{
	int rc = SOV_EIO;
	char buf[SECRETFILE_READ_MAX + 2];
	ssize_t n = 0;
	out[0] = '\0';
	if (cap <= max_len || max_len > SECRETFILE_READ_MAX) {
		snprintf(why, why_cap, "%s: internal error: no room for a %zu-byte %s", path,
			 max_len, what);
		return SOV_EINVAL;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_cap, "cannot open %s file %s: %s", what, path, strerror(errno));
		goto finish;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(why, why_cap, "cannot read %s file %s: %s", what, path, strerror(errno));
		goto finish;
	}
	rc = SOV_EINVAL;
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, why_cap, "%s file %s is not a regular file", what, path);
		goto finish;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		snprintf(why, why_cap,
			 "%s file %s is accessible to other users (mode %04o); run chmod o-rwx on "
			 "it",
			 what, path, (unsigned)(st.st_mode & 07777));
		goto finish;
	}
	/* the whole file: the secret's line and what follows it (only blank
	 * lines may; a wrapped base64 secret would otherwise be cut silently) */
	size_t want = SECRETFILE_READ_MAX + 1;
	size_t got = 0;
	bool eof = false;
	while (got < want) {
		n = read(fd, buf + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, why_cap, "cannot read %s file %s: %s", what, path,
				 strerror(errno));
			rc = SOV_EIO;
			goto finish;
		}
		if (n == 0) {
			eof = true;
			break;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	char *nl = memchr(buf, '\n', got);
	size_t line = nl != NULL ? (size_t)(nl - buf) : got;
	size_t start = 0;
	while (start < line && blank(buf[start]))
		start++;
	size_t end = line;
	while (end > start && blank(buf[end - 1]))
		end--;
	size_t len = end - start;
	bool more = nl != NULL && !eof; /* a rest too long to look at */
	for (size_t i = nl != NULL ? line + 1 : got; i < got && !more; i++)
		more = !blank(buf[i]) && buf[i] != '\n';
	if (more && len <= max_len) {
		snprintf(why, why_cap,
			 "the %s in %s goes on after its first line; a secret is one line (a "
			 "wrapped base64 secret: join its lines, e.g. with tr -d '\\n')",
			 what, path);
		goto finish;
	}
	if (nl == NULL && !eof) {
		len = max_len + 1; /* the line goes on: too long, whatever its end */
	} else {
		for (size_t i = start; i < end; i++) {
			unsigned char c = (unsigned char)buf[i];
			if (c <= 0x20 || c == 0x7f) {
				snprintf(why, why_cap,
					 "the %s in %s contains spaces or control characters", what,
					 path);
				goto finish;
			}
		}
	}
	if (len > max_len) {
		snprintf(why, why_cap, "the %s in %s is longer than %zu bytes", what, path,
			 max_len);
		goto finish;
	}
	if (len < min_len) {
		snprintf(why, why_cap, "the %s in %s is shorter than %zu bytes%s%s%s", what, path,
			 min_len, hint ? " (make one with: " : "", hint ? hint : "",
			 hint ? ")" : "");
		goto finish;
	}
	memcpy(out, buf + start, len);
	out[len] = '\0';
	rc = SOV_OK;
finish:
	explicit_bzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return rc;
}
