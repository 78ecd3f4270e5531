/* auth.h — named bearer tokens with scopes, for the HTTP API.
 *
 * Each token has a name (shown in audit lines and admin records as "who"),
 * a secret read from a file at start-up, and a scope:
 *   "read"                  GET routes only
 *   "drain:dc-a[,dc-b...]"  read, plus drain/undrain/maintenance and the
 *                           operations of the listed datacenters only — so a
 *                           site's deploy job cannot take another site down
 *   "admin"                 everything, including reload
 * Secret files must not be readable or writable by "other" (a world-
 * readable secret is no secret): such a file is a start-up error. The
 * secret is the file's first line without surrounding whitespace and must be
 * at least AUTH_SECRET_MIN bytes.
 *
 * Presented tokens are compared with every configured secret in time that
 * depends only on the configured secrets' lengths, never on how many bytes
 * of the guess were right, and without stopping at the first match.
 *
 * An auth_t is immutable after setup and safe to share between threads.
 */
#ifndef SOV_API_AUTH_H
#define SOV_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_NAME_MAX 64
#define AUTH_SECRET_MIN 16 /* bytes; e.g. `openssl rand -hex 32` gives 64 */
#define AUTH_SECRET_MAX 512

enum auth_level { AUTH_READ = 0, AUTH_DRAIN = 1, AUTH_ADMIN = 2 };

/** One configured token (secret kept private). */
struct auth_token;

typedef struct auth auth_t;

/** An empty token set. NULL on allocation failure. */
auth_t *auth_new(void) __attribute__((warn_unused_result));
/** Frees the set and wipes the secrets; NULL allowed. */
void auth_free(auth_t *a);

/**
 * Parses a scope string (see above). On success stores the level and,
 * for drain, a new NULL-terminated array of datacenter ids in *dcs (free
 * with auth_dcs_free; NULL for read/admin). SOV_OK or SOV_EINVAL with a
 * reason in why.
 */
int auth_scope_parse(const char *scope, enum auth_level *level, char ***dcs, char *why, size_t cap)
    __attribute__((nonnull(1, 2, 3, 4)));
void auth_dcs_free(char **dcs);

/**
 * Adds a token: reads the secret from secret_file, refusing a file that
 * "other" may read or write, a missing/short secret, a duplicate name or
 * a duplicate secret. SOV_OK, SOV_EIO, SOV_EINVAL or SOV_EEXIST, with a
 * message in why (cap bytes) to be reported against secret_file.
 */
int auth_add_token(auth_t *a, const char *name, const char *secret_file, const char *scope,
		   char *why, size_t cap) __attribute__((nonnull(1, 2, 3, 4, 5)));

/** Number of tokens. */
size_t auth_count(const auth_t *a) __attribute__((nonnull));

/**
 * Looks up the token presented as a bearer secret (len bytes, not
 * NUL-terminated). Returns the token or NULL (no match).
 */
const struct auth_token *auth_lookup(const auth_t *a, const char *secret, size_t len)
    __attribute__((nonnull));

/**
 * Parses an Authorization header value ("Bearer <secret>", scheme case-
 * insensitive) and looks the secret up. NULL if malformed or unknown.
 */
const struct auth_token *auth_check_header(const auth_t *a, const char *header)
    __attribute__((nonnull));

/** The token's name. */
const char *auth_token_name(const struct auth_token *t) __attribute__((nonnull));
enum auth_level auth_token_level(const struct auth_token *t) __attribute__((nonnull));
/** True if t may change datacenter dc (admin, or drain scope listing dc). */
bool auth_token_allows_dc(const struct auth_token *t, const char *dc) __attribute__((nonnull));

/** Constant-time equality of a (alen bytes) and b (blen bytes); time depends only on blen. */
bool auth_ct_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
