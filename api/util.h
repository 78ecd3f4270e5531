/* util.h — small helpers shared by the api/ modules: wall clock, RFC 3339
 * times, and the checks applied to operator-supplied text.
 */
#ifndef SOV_API_UTIL_H
#define SOV_API_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_TIME_MAX 32 /* "2026-11-30T07:24:00Z" plus room */

/**
 * Formats Unix milliseconds as RFC 3339 UTC with whole seconds
 * ("2026-11-30T07:24:00Z"; milliseconds are truncated, so callers round
 * deadlines up themselves). buf must hold API_TIME_MAX bytes. Returns buf.
 */
const char *api_time_format(int64_t unix_ms, char *buf) __attribute__((nonnull));

/**
 * Parses the RFC 3339 form written by api_time_format (an optional
 * fraction of a second is accepted and kept to the millisecond; only "Z"
 * as the offset). Returns SOV_OK or SOV_EPARSE.
 */
int api_time_parse(const char *text, int64_t *unix_ms) __attribute__((nonnull));

/**
 * True if text is acceptable as an operator's free text (reason): valid
 * UTF-8 is checked by jansson already, so this refuses only control
 * characters (which would garble logs and audit lines) and lengths of cap
 * bytes or more.
 */
bool api_text_ok(const char *text, size_t cap) __attribute__((nonnull));

#endif
