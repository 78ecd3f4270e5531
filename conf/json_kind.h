/* json_kind.h — how configuration errors name the kind of a JSON value.
 *
 * Every section parser (conf/config.c, geo/geo_conf.c, ...) says what it
 * found with the same words: "\"tcp\" must be an object, not an integer".
 */
#ifndef SOV_CONF_JSON_KIND_H
#define SOV_CONF_JSON_KIND_H

#include <jansson.h>

/**
 * "an object", "an array", "a string", "an integer", "a fractional number",
 * "a boolean" or "null": the kind of v with its article, for messages.
 * A static string, never NULL; v must not be NULL.
 */
const char *json_kind(const json_t *v) __attribute__((nonnull, returns_nonnull));

#endif
