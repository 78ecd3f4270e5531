/* diag.h — collected diagnostics for files read at load time (zones, config).
 *
 * A diag_t gathers every error found while validating one load, each as
 * "file:line:column: message", so --check-config / --check-zone and a
 * refused reload can report all problems at once instead of the first.
 * line and column are 1-based; 0 means "unknown" and is printed as 1
 * (so editors still jump to the file).
 */
#ifndef SOV_COMMON_DIAG_H
#define SOV_COMMON_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

typedef struct diag diag_t;

/** Allocates an empty list. Returns NULL on allocation failure. */
diag_t *diag_new(void);
/** Frees the list and its messages; NULL is allowed. */
void diag_free(diag_t *d);

/** Appends "file:line:col: message". file may be NULL ("<config>"). */
void diag_add(diag_t *d, const char *file, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/**
 * Appends "where: message", for problems in data that has no file and line
 * (a zone received by transfer: where = "AXFR of example.test. from
 * 192.0.2.1, record 12"). Kept in the order added, before nothing and after
 * nothing in particular: diag_print() puts such messages in insertion order.
 */
void diag_add_where(diag_t *d, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), nonnull(2, 3)));

/** diag_add() with the arguments as a va_list, for parsers' own error helpers. */
void diag_addv(diag_t *d, const char *file, unsigned line, unsigned col, const char *fmt,
	       va_list ap) __attribute__((format(printf, 5, 0)));

/** Number of errors collected. */
size_t diag_count(const diag_t *d);
/** The i-th message (0-based, order of adding), fully formatted, owned by d. */
const char *diag_get(const diag_t *d, size_t i);
/** Writes every message, one per line, to out, in reading order: files in
 * the order they were first mentioned, then by line and column (messages
 * at one position keep the order they were added in). */
void diag_print(const diag_t *d, FILE *out);
/** Joins every message into buf (cap bytes, NUL-terminated), one per line,
 * in the same order as diag_print(); "" if none. */
void diag_join(const diag_t *d, char *buf, size_t cap);

#endif
