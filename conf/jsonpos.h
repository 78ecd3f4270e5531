/* jsonpos.h — where is this JSON value in the file? (line:column for diagnostics)
 *
 * jansson reports positions only for syntax errors; once a document has
 * parsed, its values carry no position. Every configuration error must
 * nevertheless read "file:line:column: message" at the offending key or
 * value, so this module re-scans the original text and finds the place a
 * JSON Pointer (RFC 6901, e.g. "/zones/1/file") designates.
 *
 * Positions are 1-based. Columns count characters as jansson does (a
 * UTF-8 multi-byte sequence is one column; a tab is one column), so a
 * position we compute and one jansson reports for a syntax error agree.
 *
 * The scanner is a small, bounded, non-recursive walk over the text: it
 * never reads outside [text, text+len) and tolerates invalid JSON (it
 * then simply finds less). When an object holds the same key twice it
 * picks the last one, as jansson keeps the last value (the config loader
 * rejects duplicate keys anyway). Cost is linear in the text size per
 * lookup, which is fine for error reporting and nothing else: do not call
 * it on a hot path.
 *
 * Typical use (see conf/config.c, and config_locate() in conf/config.h for
 * the one-call form other config sections should use):
 *
 *     char ptr[JSONPOS_POINTER_MAX] = "";
 *     jsonpos_push_key(ptr, sizeof(ptr), "zones");
 *     jsonpos_push_index(ptr, sizeof(ptr), 1);
 *     jsonpos_push_key(ptr, sizeof(ptr), "file");
 *     struct jsonpos pos;
 *     jsonpos_locate(text, len, ptr, JSONPOS_VALUE, &pos);
 *     diag_add(d, path, pos.line, pos.col, "zone file not found");
 */
#ifndef SOV_CONF_JSONPOS_H
#define SOV_CONF_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>

/** Room for a pointer to anything a sane config nests (8 levels of 60-char keys). */
#define JSONPOS_POINTER_MAX 512

/** A place in a text file; line and col are 1-based. */
struct jsonpos {
	unsigned line;
	unsigned col;
};

enum jsonpos_target {
	JSONPOS_VALUE, /* the first character of the value ('{', '[', '"', digit, t/f/n) */
	JSONPOS_KEY,   /* the opening quote of the member name; for an array element or
			  the root, same as JSONPOS_VALUE */
};

/**
 * Finds the key or value designated by `pointer` (RFC 6901: "" is the
 * whole document, "/a/0/b" is member "b" of element 0 of member "a"; "~1"
 * stands for '/' and "~0" for '~' in a reference token) in text[0..len),
 * which need not be NUL-terminated.
 *
 * Returns SOV_OK with *pos set, or SOV_ENOENT if some step does not exist,
 * with *pos set to the deepest ancestor that does (1:1 when even the root is
 * missing, e.g. an empty file) — so the caller can always report a place.
 * SOV_EINVAL if pointer is not a valid JSON Pointer (*pos = 1:1).
 */
int jsonpos_locate(const char *text, size_t len, const char *pointer, enum jsonpos_target target,
		   struct jsonpos *pos) __attribute__((nonnull(3, 5)));

/**
 * Appends "/" + key (with '~' and '/' escaped per RFC 6901) to the
 * NUL-terminated pointer in buf[0..cap). Returns SOV_OK, or SOV_ESPACE with
 * buf unchanged.
 */
int jsonpos_push_key(char *buf, size_t cap, const char *key) __attribute__((nonnull));

/** Appends "/" + decimal index. Returns SOV_OK, or SOV_ESPACE with buf unchanged. */
int jsonpos_push_index(char *buf, size_t cap, size_t index) __attribute__((nonnull));

/** Removes the last reference token (no-op on ""). */
void jsonpos_pop(char *buf) __attribute__((nonnull));

/*
 * The texts of the configurations loaded now (config_load registers each,
 * config_free removes it), so that the validators of other sections (probes,
 * api), which see only parsed JSON values, can still report line:column.
 * Thread-safe; not for the query path.
 */
void jsonpos_doc_register(const void *root, const char *text, size_t len);
void jsonpos_doc_unregister(const void *root);

/** The JSON Pointer of `value` below `root` (json_t *) into buf; false if not there. */
bool jsonpos_value_pointer(const void *root, const void *value, char *buf, size_t cap);

/** Position of `value` (a json_t * inside a registered document); false if unknown. */
bool jsonpos_doc_value(const void *value, unsigned *line, unsigned *col);

/**
 * Position of the member at `dotted` ("probes.checks[2].timeout_ms", from
 * the document's root) in the registered document that contains `inside`
 * (any json_t * of it). The deepest existing ancestor if the path does not
 * resolve fully. False if no registered document contains `inside`.
 */
bool jsonpos_doc_path(const void *inside, const char *dotted, unsigned *line, unsigned *col);

#endif
