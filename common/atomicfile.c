#include "common/atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

static int (*fault_hook)(void *ctx, const char *path);
static void *fault_ctx;

void atomicfile_set_fault_hook(int (*hook)(void *ctx, const char *path), void *ctx)
{
	fault_hook = hook;
	fault_ctx = ctx;
}

/* Writes all of data, retrying short writes and EINTR. 0 or -1 with errno. */
static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsyncs the directory holding path so that a rename in it is durable. */
static int sync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (slash == NULL) {
		strcpy(dir, ".");
	} else if (slash == path) {
		strcpy(dir, "/");
	} else {
		size_t n = (size_t)(slash - path);
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/*
 * Makes "<path>.prev" a copy of the current file, atomically: a hard link
 * under a temporary name renamed over the old .prev. If the file does not
 * exist yet there is nothing to keep. Falls back to copying the bytes on
 * file systems without hard links.
 */
static int keep_prev(const char *path)
{
	char prev[PATH_MAX], prevtmp[PATH_MAX];
	int rc = -1;
	if (snprintf(prev, sizeof(prev), "%s%s", path, ATOMICFILE_PREV_SUFFIX) >=
		(int)sizeof(prev) ||
	    snprintf(prevtmp, sizeof(prevtmp), "%s%s.tmp", path, ATOMICFILE_PREV_SUFFIX) >=
		(int)sizeof(prevtmp)) {
		errno = ENAMETOOLONG;
		goto finish;
	}
	if (access(path, F_OK) != 0) {
		rc = errno == ENOENT ? 0 : -1;
		goto finish;
	}
	(void)unlink(prevtmp);
	if (link(path, prevtmp) == 0) {
		if (rename(prevtmp, prev) != 0) {
			int saved = errno;
			(void)unlink(prevtmp);
			errno = saved;
			goto finish;
		}
		rc = 0;
		goto finish;
	}
	if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP && errno != EXDEV)
		goto finish;
	/* no hard links here: copy */
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	if (stat(path, &st) != 0)
		goto finish;
	int r = atomicfile_read(path, (size_t)st.st_size + 1, &buf, &len);
	if (r != SOV_OK) {
		if (r != SOV_EIO)
			errno = EIO;
		goto finish;
	}
	r = atomicfile_write(prev, buf, len, st.st_mode & 07777, 0);
	free(buf);
	rc = r == SOV_OK ? 0 : -1;
finish:
	return rc;
}

int atomicfile_write(const char *path, const void *data, size_t len, mode_t mode, unsigned flags)
{
	int rc = SOV_EIO;
	int fd = -1;
	int saved_errno = 0;
	char tmp[PATH_MAX];
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (*base == '\0') {
		rc = SOV_EINVAL;
		goto finish;
	}
	if (fault_hook != NULL) {
		int e = fault_hook(fault_ctx, path);
		if (e != 0) {
			saved_errno = e;
			goto finish;
		}
	}
	/* "<dir>/.<base>.tmp.XXXXXX": hidden, same directory, unique per writer */
	size_t dirlen = (size_t)(base - path);
	if (snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp.XXXXXX", (int)dirlen, path, base) >=
	    (int)sizeof(tmp)) {
		rc = SOV_EINVAL;
		goto finish;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		saved_errno = errno;
		goto finish;
	}
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		saved_errno = errno;
		goto unlink_tmp;
	}
	int cfd = fd;
	fd = -1;
	if (close(cfd) != 0) {
		saved_errno = errno;
		goto unlink_tmp;
	}
	if ((flags & ATOMICFILE_KEEP_PREV) && keep_prev(path) != 0) {
		saved_errno = errno;
		goto unlink_tmp;
	}
	if (rename(tmp, path) != 0) {
		saved_errno = errno;
		goto unlink_tmp;
	}
	/* The new content is in place; a failed directory sync only means the
	 * rename might not survive a power cut, which the caller must hear. */
	if (sync_dir_of(path) != 0) {
		saved_errno = errno;
		goto finish;
	}
	rc = SOV_OK;
	goto finish;
unlink_tmp:
	if (fd >= 0)
		close(fd);
	fd = -1;
	(void)unlink(tmp);
finish:
	if (rc != SOV_OK && saved_errno != 0)
		errno = saved_errno;
	return rc;
}

int atomicfile_read(const char *path, size_t max_bytes, char **out, size_t *out_len)
{
	int rc = SOV_EIO;
	char *buf = NULL;
	size_t len = 0;
	int saved_errno = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		saved_errno = errno;
		rc = errno == ENOENT ? SOV_ENOENT : SOV_EIO;
		goto finish;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		saved_errno = errno;
		goto finish;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = SOV_EINVAL;
		goto finish;
	}
	if ((size_t)st.st_size > max_bytes) {
		rc = SOV_ESPACE;
		goto finish;
	}
	/* the size may change under us: read until EOF, bounded by max_bytes */
	size_t cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (buf == NULL) {
		rc = SOV_ENOMEM;
		goto finish;
	}
	for (;;) {
		if (len + 1 == cap) {
			/* room for max_bytes + 1 bytes: reading that many means too large */
			if (cap >= max_bytes + 2) {
				rc = SOV_ESPACE;
				goto finish;
			}
			size_t ncap = cap * 2 > max_bytes + 1 ? max_bytes + 2 : cap * 2;
			char *n = realloc(buf, ncap);
			if (n == NULL) {
				rc = SOV_ENOMEM;
				goto finish;
			}
			buf = n;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			saved_errno = errno;
			goto finish;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max_bytes) {
		rc = SOV_ESPACE;
		goto finish;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
	rc = SOV_OK;
finish:
	if (fd >= 0)
		close(fd);
	free(buf);
	if (saved_errno != 0)
		errno = saved_errno;
	return rc;
}
