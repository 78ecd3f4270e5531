/* json_keys.c — "unknown key" messages (contract in json_keys.h). */
#include "conf/json_keys.h"

#include <stdio.h>
#include <string.h>

bool json_key_known(const char *key, const char *const *list)
{
	for (size_t i = 0; list && list[i]; i++)
		if (strcmp(key, list[i]) == 0)
			return true;
	return false;
}

/* Levenshtein distance, capped: enough to suggest "listen" for "lisen". */
static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[64];
	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *json_closest(const char *word, const char *const *list, size_t n)
{
	const char *best = NULL;
	unsigned best_d = 3;
	for (size_t i = 0; i < n; i++) {
		unsigned d = edit_distance(word, list[i]);
		if (d < best_d) {
			best_d = d;
			best = list[i];
		}
	}
	return best;
}

const char *json_unknown_key(const char *key, const char *const *known, char *buf, size_t cap)
{
	char expected[256] = "";
	const char *suggest = NULL;
	size_t used = 0;
	for (size_t i = 0; known[i]; i++) {
		int n = snprintf(expected + used, sizeof(expected) - used, "%s%s", i ? ", " : "",
				 known[i]);
		if (n > 0 && (size_t)n < sizeof(expected) - used)
			used += (size_t)n;
		if (suggest == NULL && edit_distance(key, known[i]) <= 2)
			suggest = known[i];
	}
	if (suggest != NULL)
		snprintf(buf, cap, "unknown key \"%s\" (did you mean \"%s\"?)", key, suggest);
	else
		snprintf(buf, cap, "unknown key \"%s\" (expected one of: %s)", key, expected);
	return buf;
}
