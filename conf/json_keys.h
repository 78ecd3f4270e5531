/* json_keys.h — the one wording of "unknown key" in configuration errors.
 *
 * Every section parser (conf/config.c, dns/xfr_conf.c, ...) rejects a member
 * it does not know the same way: with the closest known key when one is a
 * likely typo ("did you mean"), else the list of keys the object takes.
 */
#ifndef SOV_CONF_JSON_KEYS_H
#define SOV_CONF_JSON_KEYS_H

#include <stdbool.h>
#include <stddef.h>

/** True if key is one of list[] (NULL-terminated; list may be NULL). */
bool json_key_known(const char *key, const char *const *list) __attribute__((nonnull(1)));

/**
 * Writes the message for an unknown member `key` of an object whose known
 * members are known[] (NULL-terminated) into buf[0..cap):
 * "unknown key \"lisen\" (did you mean \"listen\"?)" when a known key is at
 * most 2 edits away, else "unknown key \"x\" (expected one of: a, b, c)".
 * Returns buf (always NUL-terminated; cut short if cap is small).
 */
const char *json_unknown_key(const char *key, const char *const *known, char *buf, size_t cap)
    __attribute__((nonnull, returns_nonnull));

/**
 * The word of list[0..n) closest to `word` when it is at most 2 edits away
 * (a likely typo of it), else NULL: for "did you mean" about values, e.g.
 * a TSIG key name that no key has. Borrowed from list.
 */
const char *json_closest(const char *word, const char *const *list, size_t n)
    __attribute__((nonnull(1)));

#endif
