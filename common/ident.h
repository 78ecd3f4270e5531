/* ident.h — the one rule for the names users give things: datacenter ids,
 * token names, sovctl instance names. They appear in log lines, metric
 * labels, API paths and file names, so they stay plain.
 */
#ifndef SOV_COMMON_IDENT_H
#define SOV_COMMON_IDENT_H

#include <stdbool.h>
#include <stddef.h>

/* Longest identifier (datacenter ids appear in metric labels and API paths). */
#define IDENT_MAX 63

/** True if s is 1..IDENT_MAX characters, each a letter, digit, '.', '_' or '-'. */
bool ident_valid(const char *s) __attribute__((nonnull, pure));

#endif
