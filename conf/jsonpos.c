#include "conf/jsonpos.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* A cursor over the text. line/col describe text[i] (1-based). */
struct scan {
	const char *s;
	size_t len;
	size_t i;
	unsigned line;
	unsigned col;
};

/* A decoded key or reference token; longer ones never match anything. */
struct token {
	char buf[JSONPOS_POINTER_MAX];
	size_t len;
	bool overflow;
};

static bool scan_end(const struct scan *sc)
{
	return sc->i >= sc->len;
}

static unsigned char scan_cur(const struct scan *sc)
{
	return (unsigned char)sc->s[sc->i];
}

/* Consumes one byte, keeping line/col in step with jansson: a newline
 * starts a new line, a UTF-8 continuation byte does not move the column. */
static void scan_next(struct scan *sc)
{
	if (scan_end(sc))
		return;
	unsigned char c = scan_cur(sc);
	sc->i++;
	if (c == '\n') {
		sc->line++;
		sc->col = 1;
	} else if (scan_end(sc) || (scan_cur(sc) & 0xC0) != 0x80) {
		/* the next character starts here: the column advances once per
		 * character, after its last byte */
		sc->col++;
	}
}

static void scan_ws(struct scan *sc)
{
	while (!scan_end(sc)) {
		unsigned char c = scan_cur(sc);
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		scan_next(sc);
	}
}

static void token_put(struct token *t, const char *bytes, size_t n)
{
	if (t == NULL)
		return;
	if (t->len + n > sizeof(t->buf)) {
		t->overflow = true;
		return;
	}
	memcpy(t->buf + t->len, bytes, n);
	t->len += n;
}

static void token_put_utf8(struct token *t, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	token_put(t, u, n);
}

/* Reads 4 hex digits; returns -1 if they are not there. */
static int32_t scan_hex4(struct scan *sc)
{
	int32_t v = 0;
	for (int k = 0; k < 4; k++) {
		if (scan_end(sc))
			return -1;
		unsigned char c = scan_cur(sc);
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
		scan_next(sc);
	}
	return v;
}

/* At '"': consumes the string, decoding it into t (may be NULL). */
static bool scan_string(struct scan *sc, struct token *t)
{
	if (scan_end(sc) || scan_cur(sc) != '"')
		return false;
	scan_next(sc);
	while (!scan_end(sc)) {
		char c = (char)scan_cur(sc);
		if (c == '"') {
			scan_next(sc);
			return true;
		}
		if (c != '\\') {
			token_put(t, &c, 1);
			scan_next(sc);
			continue;
		}
		scan_next(sc);
		if (scan_end(sc))
			return false;
		char e = (char)scan_cur(sc);
		scan_next(sc);
		char out;
		switch (e) {
		case 'b':
			out = '\b';
			break;
		case 'f':
			out = '\f';
			break;
		case 'n':
			out = '\n';
			break;
		case 'r':
			out = '\r';
			break;
		case 't':
			out = '\t';
			break;
		case 'u': {
			int32_t cp = scan_hex4(sc);
			if (cp < 0)
				return false;
			/* a UTF-16 surrogate pair spells one code point */
			if (cp >= 0xD800 && cp <= 0xDBFF && sc->i + 1 < sc->len &&
			    sc->s[sc->i] == '\\' && sc->s[sc->i + 1] == 'u') {
				scan_next(sc);
				scan_next(sc);
				int32_t lo = scan_hex4(sc);
				if (lo < 0)
					return false;
				if (lo >= 0xDC00 && lo <= 0xDFFF)
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			token_put_utf8(t, (uint32_t)cp);
			continue;
		}
		default:
			out = e;
			break; /* '"', '\\', '/' and anything invalid */
		}
		token_put(t, &out, 1);
	}
	return false;
}

/* Skips one value of any kind. Containers are skipped with a depth counter,
 * not recursion, so hostile nesting cannot exhaust the stack. */
static void scan_skip_value(struct scan *sc)
{
	scan_ws(sc);
	if (scan_end(sc))
		return;
	unsigned char c = scan_cur(sc);
	if (c == '"') {
		scan_string(sc, NULL);
		return;
	}
	if (c == '{' || c == '[') {
		size_t depth = 0;
		while (!scan_end(sc)) {
			c = scan_cur(sc);
			if (c == '"') {
				if (!scan_string(sc, NULL))
					return;
				continue;
			}
			if (c == '{' || c == '[')
				depth++;
			else if (c == '}' || c == ']')
				depth--;
			scan_next(sc);
			if (depth == 0)
				return;
		}
		return;
	}
	/* number, true, false, null (or garbage): up to the next delimiter */
	while (!scan_end(sc)) {
		c = scan_cur(sc);
		if (c == ',' || c == '}' || c == ']' || c == ':' || c == ' ' || c == '\t' ||
		    c == '\n' || c == '\r' || c == '{' || c == '[' || c == '"')
			return;
		scan_next(sc);
	}
}

/* Decodes the next reference token of pointer at *p (which is at '/').
 * Returns false on a bad "~" escape. */
static bool pointer_next(const char **p, struct token *t)
{
	const char *s = *p + 1;
	t->len = 0;
	t->overflow = false;
	while (*s != '\0' && *s != '/') {
		char c = *s++;
		if (c == '~') {
			if (*s == '0')
				c = '~';
			else if (*s == '1')
				c = '/';
			else
				return false;
			s++;
		}
		token_put(t, &c, 1);
	}
	*p = s;
	return true;
}

static bool token_equal(const struct token *a, const struct token *b)
{
	return !a->overflow && !b->overflow && a->len == b->len &&
	       memcmp(a->buf, b->buf, a->len) == 0;
}

/* Array index token: "0" or digits without a leading zero (RFC 6901 §4). */
static bool token_index(const struct token *t, size_t *out)
{
	if (t->overflow || t->len == 0 || t->len > 18 || (t->len > 1 && t->buf[0] == '0'))
		return false;
	size_t v = 0;
	for (size_t k = 0; k < t->len; k++) {
		if (t->buf[k] < '0' || t->buf[k] > '9')
			return false;
		v = v * 10 + (size_t)(t->buf[k] - '0');
	}
	*out = v;
	return true;
}

/* With sc at '{', finds member tok; on success leaves sc at its value and
 * sets *key to the position of its name. The last duplicate wins. */
static bool find_member(struct scan *sc, const struct token *tok, struct jsonpos *key)
{
	struct scan found = {0};
	bool have = false;
	struct token name;

	scan_next(sc); /* '{' */
	for (;;) {
		scan_ws(sc);
		if (scan_end(sc) || scan_cur(sc) != '"')
			break;
		struct jsonpos kpos = {sc->line, sc->col};
		name.len = 0;
		name.overflow = false;
		if (!scan_string(sc, &name))
			break;
		scan_ws(sc);
		if (scan_end(sc) || scan_cur(sc) != ':')
			break;
		scan_next(sc);
		scan_ws(sc);
		if (token_equal(&name, tok)) {
			found = *sc;
			*key = kpos;
			have = true;
		}
		scan_skip_value(sc);
		scan_ws(sc);
		if (scan_end(sc) || scan_cur(sc) != ',')
			break;
		scan_next(sc);
	}
	if (have)
		*sc = found;
	return have;
}

/* With sc at '[', moves to element idx. */
static bool find_element(struct scan *sc, size_t idx)
{
	scan_next(sc); /* '[' */
	scan_ws(sc);
	if (scan_end(sc) || scan_cur(sc) == ']')
		return false;
	for (size_t k = 0;; k++) {
		scan_ws(sc);
		if (scan_end(sc))
			return false;
		if (k == idx)
			return true;
		scan_skip_value(sc);
		scan_ws(sc);
		if (scan_end(sc) || scan_cur(sc) != ',')
			return false;
		scan_next(sc);
	}
}

int jsonpos_locate(const char *text, size_t len, const char *pointer, enum jsonpos_target target,
		   struct jsonpos *pos)
{
	struct scan sc = {.s = text, .len = text ? len : 0, .i = 0, .line = 1, .col = 1};
	struct token tok;
	struct jsonpos key = {1, 1};
	bool last_was_member = false;
	const char *p = pointer;
	int ret = SOV_ENOENT;

	pos->line = 1;
	pos->col = 1;
	if (*p != '\0' && *p != '/') {
		ret = SOV_EINVAL;
		goto finish;
	}
	scan_ws(&sc);
	if (scan_end(&sc))
		goto finish;

	while (*p == '/') {
		/* the current value exists: it is the best answer so far */
		pos->line = sc.line;
		pos->col = sc.col;
		if (!pointer_next(&p, &tok)) {
			pos->line = pos->col = 1;
			ret = SOV_EINVAL;
			goto finish;
		}
		unsigned char c = scan_cur(&sc);
		if (c == '{') {
			if (!find_member(&sc, &tok, &key))
				goto finish;
			last_was_member = true;
		} else if (c == '[') {
			size_t idx;
			if (!token_index(&tok, &idx) || !find_element(&sc, idx))
				goto finish;
			last_was_member = false;
		} else {
			goto finish; /* a scalar has no children */
		}
		if (scan_end(&sc))
			goto finish;
	}

	if (target == JSONPOS_KEY && last_was_member) {
		*pos = key;
	} else {
		pos->line = sc.line;
		pos->col = sc.col;
	}
	ret = SOV_OK;

finish:
	return ret;
}

int jsonpos_push_key(char *buf, size_t cap, const char *key)
{
	size_t used = strlen(buf);
	size_t need = 1;
	for (const char *k = key; *k; k++)
		need += (*k == '~' || *k == '/') ? 2 : 1;
	if (used + need + 1 > cap)
		return SOV_ESPACE;
	char *w = buf + used;
	*w++ = '/';
	for (const char *k = key; *k; k++) {
		if (*k == '~') {
			*w++ = '~';
			*w++ = '0';
		} else if (*k == '/') {
			*w++ = '~';
			*w++ = '1';
		} else {
			*w++ = *k;
		}
	}
	*w = '\0';
	return SOV_OK;
}

int jsonpos_push_index(char *buf, size_t cap, size_t index)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "/%zu", index);
	size_t used = strlen(buf);
	if (n < 0 || used + (size_t)n + 1 > cap)
		return SOV_ESPACE;
	memcpy(buf + used, num, (size_t)n + 1);
	return SOV_OK;
}

void jsonpos_pop(char *buf)
{
	char *slash = strrchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
}

/* ------------------------------------------------------- the registry */

struct jsonpos_doc {
	const json_t *root;
	const char *text;
	size_t len;
};

#define JSONPOS_DOCS_MAX 8 /* a running config, a reload candidate, --check-config */

static pthread_mutex_t docs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct jsonpos_doc docs[JSONPOS_DOCS_MAX];

void jsonpos_doc_register(const void *root, const char *text, size_t len)
{
	pthread_mutex_lock(&docs_lock);
	for (size_t i = 0; i < JSONPOS_DOCS_MAX; i++) {
		if (docs[i].root == NULL) {
			docs[i] = (struct jsonpos_doc){root, text, len};
			break;
		}
	}
	pthread_mutex_unlock(&docs_lock);
}

void jsonpos_doc_unregister(const void *root)
{
	pthread_mutex_lock(&docs_lock);
	for (size_t i = 0; i < JSONPOS_DOCS_MAX; i++)
		if (docs[i].root == root)
			docs[i] = (struct jsonpos_doc){NULL, NULL, 0};
	pthread_mutex_unlock(&docs_lock);
}

/* Depth-first search for `want` below `node`, extending the JSON Pointer in
 * buf as it descends; true when found (buf then designates it). */
static bool pointer_to(const json_t *node, const json_t *want, char *buf, size_t cap)
{
	if (node == want)
		return true;
	if (json_is_object(node)) {
		const char *key;
		json_t *v;
		json_object_foreach((json_t *)node, key, v)
		{
			if (jsonpos_push_key(buf, cap, key) != SOV_OK)
				continue;
			if (pointer_to(v, want, buf, cap))
				return true;
			jsonpos_pop(buf);
		}
	} else if (json_is_array(node)) {
		size_t i;
		json_t *v;
		json_array_foreach(node, i, v)
		{
			if (jsonpos_push_index(buf, cap, i) != SOV_OK)
				continue;
			if (pointer_to(v, want, buf, cap))
				return true;
			jsonpos_pop(buf);
		}
	}
	return false;
}

bool jsonpos_value_pointer(const void *root, const void *value, char *buf, size_t cap)
{
	buf[0] = 0;
	return pointer_to(root, value, buf, cap);
}

static bool doc_locate(const struct jsonpos_doc *d, const char *ptr, unsigned *line, unsigned *col)
{
	struct jsonpos pos;
	if (jsonpos_locate(d->text, d->len, ptr, JSONPOS_VALUE, &pos) != SOV_OK)
		return false;
	*line = pos.line;
	*col = pos.col;
	return true;
}

bool jsonpos_doc_value(const void *value, unsigned *line, unsigned *col)
{
	bool found = false;
	char ptr[JSONPOS_POINTER_MAX];
	pthread_mutex_lock(&docs_lock);
	for (size_t i = 0; i < JSONPOS_DOCS_MAX && !found; i++)
		if (docs[i].root != NULL &&
		    jsonpos_value_pointer(docs[i].root, value, ptr, sizeof(ptr)))
			found = doc_locate(&docs[i], ptr, line, col);
	pthread_mutex_unlock(&docs_lock);
	return found;
}

bool jsonpos_doc_path(const void *inside, const char *dotted, unsigned *line, unsigned *col)
{
	bool found = false;
	char ptr[JSONPOS_POINTER_MAX], key[256];
	pthread_mutex_lock(&docs_lock);
	for (size_t i = 0; i < JSONPOS_DOCS_MAX && !found; i++) {
		if (docs[i].root == NULL ||
		    !jsonpos_value_pointer(docs[i].root, inside, ptr, sizeof(ptr)))
			continue;
		/* "a.b[2].c" → "/a/b/2/c" */
		ptr[0] = 0;
		const char *p = dotted;
		while (*p) {
			size_t n = strcspn(p, ".[");
			if (n > 0 && n < sizeof(key)) {
				memcpy(key, p, n);
				key[n] = 0;
				(void)jsonpos_push_key(ptr, sizeof(ptr), key);
			}
			p += n;
			if (*p == '.') {
				p++;
			} else if (*p == '[') {
				char *end;
				unsigned long idx = strtoul(p + 1, &end, 10);
				if (*end != ']')
					break;
				(void)jsonpos_push_index(ptr, sizeof(ptr), idx);
				p = end + 1;
				if (*p == '.')
					p++;
			}
		}
		found = doc_locate(&docs[i], ptr, line, col);
	}
	pthread_mutex_unlock(&docs_lock);
	return found;
}
