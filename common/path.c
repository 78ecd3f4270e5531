/* path.c — see path.h. */
#include "common/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
