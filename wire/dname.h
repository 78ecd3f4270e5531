/* dname.h — domain names in uncompressed wire format (RFC 1035 §3.1).
 *
 * A name is a sequence of length-prefixed labels ending with the root
 * label (a zero byte); at most DNAME_MAXLEN (255) octets and labels of at
 * most 63 octets. Functions here take names that are already known to be
 * well formed (validated by the wire parser or the zone loader); they do
 * not follow compression pointers. "lower" means ASCII-lowercased, the form
 * used as keys in every index (RFC 4343: comparisons are case-insensitive).
 */
#ifndef SOV_DNS_DNAME_H
#define SOV_DNS_DNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNAME_MAXLEN 255
#define DNAME_MAXLABELS 127
#define DNAME_MAXLABEL 63
#define DNAME_STR_MAX 1024 /* presentation form, every byte escaped as \DDD */

/** Wire length of a well-formed name, root label included (root → 1). */
size_t dname_len(const uint8_t *name) __attribute__((nonnull, pure));
/** Number of labels, root excluded (root → 0). */
unsigned dname_labels(const uint8_t *name) __attribute__((nonnull, pure));
/** Copies src to dst (DNAME_MAXLEN bytes available) lowercasing ASCII A-Z. Returns length. */
size_t dname_lower(uint8_t *dst, const uint8_t *src) __attribute__((nonnull));
/** Case-insensitive equality of two names. */
bool dname_equal(const uint8_t *a, const uint8_t *b) __attribute__((nonnull, pure));
/** True if name equals parent or lies below it (case-insensitive). */
bool dname_is_subdomain(const uint8_t *name, const uint8_t *parent) __attribute__((nonnull, pure));
/** The name with its first label removed; NULL for the root. Points into name. */
const uint8_t *dname_parent(const uint8_t *name) __attribute__((nonnull, pure));
/** Skips `n` leading labels (n <= dname_labels(name)). Points into name. */
const uint8_t *dname_skip(const uint8_t *name, unsigned n) __attribute__((nonnull, pure));
/** True if the first label is exactly "*" (RFC 4592 wildcard). */
bool dname_is_wildcard(const uint8_t *name) __attribute__((nonnull, pure));
/** FNV-1a style hash of a name as given (callers hash lowercased names). */
uint32_t dname_hash(const uint8_t *name) __attribute__((nonnull, pure));
/** dname_hash() of `name` with its wire length (what dname_len() returns)
 * in *len, in one pass. */
uint32_t dname_hash_len(const uint8_t *name, size_t *len) __attribute__((nonnull));
/**
 * Writes the presentation form ("www.example.test.", root → ".") with
 * RFC 1035 §5.1 escapes for '.', '\\', and non-printable bytes.
 * Returns the string length, or -1 if cap is too small.
 */
int dname_to_str(const uint8_t *name, char *buf, size_t cap) __attribute__((nonnull));
/**
 * Parses a presentation-form name ("example.test" or "example.test.";
 * relative names are treated as absolute) into dst (DNAME_MAXLEN bytes),
 * lowercased. Returns the wire length, or SOV_EPARSE.
 */
int dname_from_str(const char *str, uint8_t *dst) __attribute__((nonnull, warn_unused_result));

#endif
