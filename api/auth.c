#include "api/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/util.h"
#include "common/err.h"
#include "common/ident.h"
#include "common/secretfile.h"

struct auth_token {
	char name[AUTH_NAME_MAX];
	char *secret;
	size_t secret_len;
	enum auth_level level;
	char **dcs; /* drain scope; NULL-terminated */
};

struct auth {
	struct auth_token *tokens;
	size_t count;
};

auth_t *auth_new(void)
{
	return calloc(1, sizeof(auth_t));
}

void auth_dcs_free(char **dcs)
{
	for (size_t i = 0; dcs && dcs[i]; i++)
		free(dcs[i]);
	free(dcs);
}

void auth_free(auth_t *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->count; i++) {
		/* explicit_bzero: the compiler may not drop it as a dead store */
		explicit_bzero(a->tokens[i].secret, a->tokens[i].secret_len);
		free(a->tokens[i].secret);
		auth_dcs_free(a->tokens[i].dcs);
	}
	free(a->tokens);
	free(a);
}

size_t auth_count(const auth_t *a)
{
	return a->count;
}

int auth_scope_parse(const char *scope, enum auth_level *level, char ***dcs, char *why, size_t cap)
{
	*dcs = NULL;
	if (strcmp(scope, "read") == 0) {
		*level = AUTH_READ;
		return SOV_OK;
	}
	if (strcmp(scope, "admin") == 0) {
		*level = AUTH_ADMIN;
		return SOV_OK;
	}
	if (strncmp(scope, "drain:", 6) != 0) {
		snprintf(
		    why, cap,
		    "unknown scope \"%s\" (expected \"read\", \"admin\" or \"drain:DC[,DC...]\")",
		    scope);
		return SOV_EINVAL;
	}
	const char *list = scope + 6;
	size_t n = 1;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	char **out = calloc(n + 1, sizeof(*out));
	if (out == NULL) {
		snprintf(why, cap, "out of memory");
		return SOV_ENOMEM;
	}
	size_t k = 0;
	const char *p = list;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char id[64];
		if (len == 0 || len >= sizeof(id)) {
			snprintf(why, cap, "scope \"%s\": empty or too long datacenter id", scope);
			goto fail;
		}
		memcpy(id, p, len);
		id[len] = '\0';
		if (!ident_valid(id)) {
			snprintf(why, cap, "scope \"%s\": \"%s\" is not a datacenter id", scope,
				 id);
			goto fail;
		}
		out[k] = strdup(id);
		if (out[k++] == NULL) {
			snprintf(why, cap, "out of memory");
			goto fail;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	*level = AUTH_DRAIN;
	*dcs = out;
	return SOV_OK;
fail:
	auth_dcs_free(out);
	return SOV_EINVAL;
}

/* Reads the secret (common/secretfile.h's rules) into a new string. */
static int read_secret(const char *file, char **out, size_t *out_len, char *why, size_t cap)
{
	char buf[AUTH_SECRET_MAX + 1];
	int rc = secretfile_read(file, "token", AUTH_SECRET_MIN, AUTH_SECRET_MAX,
				 "openssl rand -hex 32", buf, sizeof(buf), why, cap);
	if (rc == SOV_OK) {
		*out_len = strlen(buf);
		*out = strdup(buf);
		if (*out == NULL) {
			snprintf(why, cap, "out of memory");
			rc = SOV_ENOMEM;
		}
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

int auth_add_token(auth_t *a, const char *name, const char *secret_file, const char *scope,
		   char *why, size_t cap)
{
	int rc;
	char *secret = NULL;
	size_t len = 0;
	char **dcs = NULL;
	enum auth_level level;
	if (!ident_valid(name) || strlen(name) >= AUTH_NAME_MAX) {
		snprintf(why, cap, "token name \"%s\" must be 1..63 of [A-Za-z0-9._-]", name);
		rc = SOV_EINVAL;
		goto finish;
	}
	for (size_t i = 0; i < a->count; i++) {
		if (strcmp(a->tokens[i].name, name) == 0) {
			snprintf(why, cap, "token name \"%s\" is used twice", name);
			rc = SOV_EEXIST;
			goto finish;
		}
	}
	if ((rc = auth_scope_parse(scope, &level, &dcs, why, cap)) != SOV_OK)
		goto finish;
	if ((rc = read_secret(secret_file, &secret, &len, why, cap)) != SOV_OK)
		goto finish;
	if (auth_lookup(a, secret, len) != NULL) {
		snprintf(why, cap, "same secret as another token; give each token its own");
		rc = SOV_EEXIST;
		goto finish;
	}
	struct auth_token *n = realloc(a->tokens, (a->count + 1) * sizeof(*n));
	if (n == NULL) {
		snprintf(why, cap, "out of memory");
		rc = SOV_ENOMEM;
		goto finish;
	}
	a->tokens = n;
	struct auth_token *t = &n[a->count++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->secret = secret;
	t->secret_len = len;
	t->level = level;
	t->dcs = dcs;
	secret = NULL;
	dcs = NULL;
	rc = SOV_OK;
finish:
	if (secret != NULL) {
		explicit_bzero(secret, len);
		free(secret);
	}
	auth_dcs_free(dcs);
	return rc;
}

bool auth_ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	/* Walk all of b whatever a holds; reading a[i % alen] keeps the access
	 * pattern independent of where the first difference is. */
	volatile unsigned char diff = (unsigned char)((alen ^ blen) != 0);
	for (size_t i = 0; i < blen; i++) {
		unsigned char x = alen ? (unsigned char)a[i % alen] : 0;
		diff |= x ^ (unsigned char)b[i];
	}
	return diff == 0;
}

const struct auth_token *auth_lookup(const auth_t *a, const char *secret, size_t len)
{
	const struct auth_token *found = NULL;
	for (size_t i = 0; i < a->count; i++) {
		bool eq = auth_ct_equal(secret, len, a->tokens[i].secret, a->tokens[i].secret_len);
		/* no early exit: every token is compared on every request */
		if (eq && found == NULL)
			found = &a->tokens[i];
	}
	return found;
}

const struct auth_token *auth_check_header(const auth_t *a, const char *header)
{
	while (*header == ' ')
		header++;
	if (strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t'))
		return NULL;
	const char *s = header + 7;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || len > AUTH_SECRET_MAX)
		return NULL;
	return auth_lookup(a, s, len);
}

const char *auth_token_name(const struct auth_token *t)
{
	return t->name;
}

enum auth_level auth_token_level(const struct auth_token *t)
{
	return t->level;
}

bool auth_token_allows_dc(const struct auth_token *t, const char *dc)
{
	if (t->level == AUTH_ADMIN)
		return true;
	if (t->level != AUTH_DRAIN)
		return false;
	for (size_t i = 0; t->dcs[i]; i++)
		if (strcmp(t->dcs[i], dc) == 0)
			return true;
	return false;
}
