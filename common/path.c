/* path.c — see path.h. */
#include "common/path.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"

char *path_dir(const char *file)
{
	const char *slash = strrchr(file, '/');
	if (slash == NULL)
		return strdup("");
	return strndup(file, slash == file ? 1 : (size_t)(slash - file));
}

char *path_beside(const char *file, const char *path)
{
	const char *slash = file != NULL ? strrchr(file, '/') : NULL;
	if (path[0] == '/' || slash == NULL)
		return strdup(path);
	size_t dir_len = (size_t)(slash - file); /* 0 for "/x.json": the root */
	size_t len = dir_len + 1 + strlen(path) + 1;
	char *out = malloc(len);
	if (out != NULL)
		snprintf(out, len, "%.*s/%s", (int)dir_len, file, path);
	return out;
}

int path_make_parents(const char *file, mode_t mode)
{
	char *dir = path_dir(file);
	if (dir == NULL) {
		errno = ENOMEM;
		return SOV_EIO;
	}
	int ret = SOV_OK;
	if (dir[0] == '\0') { /* no directory part: the current one */
		free(dir);
		return SOV_OK;
	}
	/* Each prefix ending before a '/', then the whole directory. */
	for (char *p = dir + 1; ret == SOV_OK; p++) {
		bool end = *p == '\0';
		if (*p != '/' && !end)
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(dir, mode) != 0 && errno != EEXIST)
			ret = SOV_EIO;
		*p = saved;
		if (end)
			break;
	}
	int e = errno;
	free(dir);
	errno = e;
	return ret;
}
