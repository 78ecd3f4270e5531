#include "api/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/util.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

struct audit {
	int fd;
	char *path;
	_Atomic uint64_t failures;
};

int audit_open(const char *path, audit_t **out, char *why, size_t cap)
{
	audit_t *a = calloc(1, sizeof(*a));
	if (a == NULL || (a->path = strdup(path)) == NULL) {
		free(a);
		snprintf(why, cap, "out of memory");
		return SOV_ENOMEM;
	}
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (a->fd < 0) {
		snprintf(why, cap, "%s: cannot open the audit log: %s", path, strerror(errno));
		free(a->path);
		free(a);
		return SOV_EIO;
	}
	*out = a;
	return SOV_OK;
}

void audit_close(audit_t *a)
{
	if (a == NULL)
		return;
	close(a->fd);
	free(a->path);
	free(a);
}

int audit_write(audit_t *a, const char *who, const char *from, const char *method, const char *path,
		const json_t *request, int status, const char *error)
{
	int rc = SOV_EIO;
	char t[API_TIME_MAX];
	char *text = NULL;
	json_t *o =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "time", api_time_format(clock_unix_ms(), t),
		      "who", who, "from", from, "method", method, "path", path, "status", status);
	if (o == NULL)
		goto finish;
	if (request != NULL)
		json_object_set_new(o, "request", json_deep_copy(request));
	if (error != NULL)
		json_object_set_new(o, "error", json_string(error));
	/* JSON_PRESERVE_ORDER keeps time first, which is what a reader scans */
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL)
		goto finish;
	size_t len = strlen(text);
	char *line = realloc(text, len + 2);
	if (line == NULL)
		goto finish;
	text = line;
	text[len] = '\n';
	text[len + 1] = '\0';
	/* one write on O_APPEND: lines from concurrent requests never mix */
	ssize_t n = write(a->fd, text, len + 1);
	const char *fail = NULL;
	if (n < 0)
		fail = strerror(errno);
	else if (n != (ssize_t)(len + 1))
		fail = "short write";
	else if (fdatasync(a->fd) != 0)
		fail = strerror(errno);
	if (fail != NULL) {
		LOG_RATELIMITED(1, log_err("api", "audit log %s: write failed: %s", a->path, fail));
		goto finish;
	}
	rc = SOV_OK;
finish:
	if (rc != SOV_OK)
		atomic_fetch_add(&a->failures, 1);
	free(text);
	json_decref(o);
	return rc;
}

uint64_t audit_failures(audit_t *a)
{
	return atomic_load(&a->failures);
}
