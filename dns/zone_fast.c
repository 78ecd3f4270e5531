/* zone_fast.c — the plain one-line record parser (contract in zone_fast.h).
 *
 * Everything here declines rather than guesses: a return of 0 costs one
 * ldns parse, a wrong acceptance would load different data than ldns does.
 */
#include "dns/zone_fast.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

bool zone_fast_enabled = true;

/* RR type codes (RFC 1035 §3.2.2, RFC 3596, RFC 2782) */
enum { T_A = 1, T_NS = 2, T_CNAME = 5, T_PTR = 12, T_MX = 15, T_TXT = 16, T_AAAA = 28, T_SRV = 33 };

/** A run of non-blank characters within one line. */
typedef struct tok {
	const char *p;
	size_t n;
} tok_t;

typedef struct cur {
	const char *p, *end; /* the rest of the line, without its '\n' */
} cur_t;

/* Next blank-separated token; false at the end of the line or at a comment. */
static bool next_tok(cur_t *c, tok_t *t)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
	if (c->p == c->end || *c->p == ';')
		return false;
	t->p = c->p;
	while (c->p < c->end && *c->p != ' ' && *c->p != '\t' && *c->p != ';')
		c->p++;
	t->n = (size_t)(c->p - t->p);
	return true;
}

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_' || ch == '*';
}

/* A name token to wire form into dst (cap DNAME_MAXLEN); "@" is the origin,
 * relative names get the origin appended. Returns the wire length, 0 to decline. */
static size_t name_parse(tok_t t, const uint8_t *origin, size_t origin_len, uint8_t *dst)
{
	if (t.n == 1 && t.p[0] == '@') {
		memcpy(dst, origin, origin_len);
		return origin_len;
	}
	size_t o = 0, i = 0;
	bool absolute = false;
	while (i < t.n) {
		size_t start = i;
		while (i < t.n && t.p[i] != '.') {
			if (!name_char(t.p[i]))
				return 0;
			i++;
		}
		size_t ll = i - start;
		if (ll == 0 || ll > DNAME_MAXLABEL || o + 1 + ll + 1 > DNAME_MAXLEN)
			return 0; /* empty label (".", "a..b", ".a"), too long: ldns says why */
		dst[o++] = (uint8_t)ll;
		memcpy(dst + o, t.p + start, ll);
		o += ll;
		if (i < t.n) { /* at a dot */
			i++;
			if (i == t.n)
				absolute = true;
		}
	}
	if (absolute) {
		dst[o++] = 0;
		return o;
	}
	if (o + origin_len > DNAME_MAXLEN)
		return 0;
	memcpy(dst + o, origin, origin_len);
	return o + origin_len;
}

/* Plain decimal digits, at most max_value; false to decline. */
static bool uint_parse(tok_t t, uint32_t max_value, uint32_t *v)
{
	uint64_t x = 0;
	if (t.n == 0 || t.n > 10)
		return false;
	for (size_t i = 0; i < t.n; i++) {
		if (t.p[i] < '0' || t.p[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(t.p[i] - '0');
	}
	if (x > max_value)
		return false;
	*v = (uint32_t)x;
	return true;
}

static bool tok_is(tok_t t, const char *s)
{
	size_t n = strlen(s);
	return t.n == n && strncasecmp(t.p, s, n) == 0;
}

static uint16_t type_parse(tok_t t)
{
	static const struct {
		const char *name;
		uint16_t type;
	} known[] = {{"A", T_A},     {"AAAA", T_AAAA}, {"NS", T_NS},   {"CNAME", T_CNAME},
		     {"PTR", T_PTR}, {"MX", T_MX},     {"TXT", T_TXT}, {"SRV", T_SRV}};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (tok_is(t, known[i].name))
			return known[i].type;
	return 0;
}

/* An address token through inet_pton, as ldns converts A and AAAA. */
static bool addr_parse(tok_t t, int af, uint8_t *dst)
{
	char buf[INET6_ADDRSTRLEN + 1];
	if (t.n >= sizeof(buf))
		return false;
	memcpy(buf, t.p, t.n);
	buf[t.n] = 0;
	return inet_pton(af, buf, dst) == 1;
}

/* TXT RDATA: one or more "quoted strings" without escapes, blank-separated. */
static size_t txt_parse(cur_t *c, uint8_t *dst)
{
	size_t o = 0;
	for (;;) {
		while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
			c->p++;
		if (c->p == c->end || *c->p == ';')
			return o;
		if (*c->p != '"')
			return 0; /* unquoted text: ldns */
		const char *s = ++c->p;
		while (c->p < c->end && *c->p != '"') {
			char ch = *c->p;
			if (ch == '\\' || ch == ';' || (unsigned char)ch >= 0x7f)
				return 0;
			c->p++;
		}
		if (c->p == c->end)
			return 0; /* never closed */
		size_t n = (size_t)(c->p - s);
		c->p++; /* the closing quote */
		if (c->p < c->end && *c->p != ' ' && *c->p != '\t')
			return 0; /* "a""b", "a"b: ldns decides */
		if (n > 255 || o + 1 + n > ZFAST_RDATA_MAX)
			return 0;
		dst[o++] = (uint8_t)n;
		memcpy(dst + o, s, n);
		o += n;
	}
}

size_t zone_fast_parse(const char *text, size_t len, const uint8_t *origin, size_t origin_len,
		       zfast_t *out)
{
	if (!zone_fast_enabled || len == 0 || origin_len == 0 || origin_len > DNAME_MAXLEN)
		return 0;
	const char *eol = memchr(text, '\n', len);
	size_t line_len = eol ? (size_t)(eol - text) : len;
	/* ldns cuts long fields short in its fixed buffers; leave such lines
	 * to it (a plain record is far shorter). */
	if (line_len > ZFAST_LINE_MAX)
		return 0;
	size_t used = eol ? line_len + 1 : len;
	/* Control characters (CR included), DEL, escapes and parentheses
	 * anywhere on the line — even in a comment — go to ldns. */
	for (size_t i = 0; i < line_len; i++) {
		unsigned char ch = (unsigned char)text[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f || ch == '\\' || ch == '(' || ch == ')')
			return 0;
	}
	cur_t c = {text, text + line_len};
	tok_t t;

	out->owner_given = text[0] != ' ' && text[0] != '\t';
	if (out->owner_given) {
		if (!next_tok(&c, &t) || name_parse(t, origin, origin_len, out->owner) == 0)
			return 0;
	}
	if (!next_tok(&c, &t))
		return 0;
	out->ttl_given = t.p[0] >= '0' && t.p[0] <= '9';
	if (out->ttl_given) {
		if (!uint_parse(t, 2147483647u, &out->ttl_s) || !next_tok(&c, &t))
			return 0;
	}
	if (tok_is(t, "IN") && !next_tok(&c, &t))
		return 0;
	out->type = type_parse(t);
	if (out->type == 0)
		return 0;

	uint8_t *d = out->rdata;
	size_t n = 0;
	uint32_t v;
	out->name_at = 0;
	switch (out->type) {
	case T_A:
	case T_AAAA:
		if (!next_tok(&c, &t) || !addr_parse(t, out->type == T_A ? AF_INET : AF_INET6, d))
			return 0;
		n = out->type == T_A ? 4 : 16;
		break;
	case T_MX:
	case T_SRV: {
		size_t nums = out->type == T_MX ? 1 : 3;
		for (size_t i = 0; i < nums; i++) {
			if (!next_tok(&c, &t) || !uint_parse(t, 65535, &v))
				return 0;
			d[n++] = (uint8_t)(v >> 8);
			d[n++] = (uint8_t)v;
		}
		__attribute__((fallthrough)); /* to the target name */
	}
	case T_NS:
	case T_CNAME:
	case T_PTR: {
		size_t nl;
		out->name_at = (uint16_t)n;
		if (!next_tok(&c, &t) || (nl = name_parse(t, origin, origin_len, d + n)) == 0)
			return 0;
		n += nl;
		break;
	}
	case T_TXT:
		n = txt_parse(&c, d);
		if (n == 0)
			return 0;
		break;
	default:
		return 0;
	}
	if (out->type == T_A || out->type == T_AAAA || out->type == T_TXT)
		out->name_at = (uint16_t)n;
	if (next_tok(&c, &t))
		return 0; /* more fields than the type has: ldns reports it */
	out->rdlen = (uint16_t)n;
	return used;
}
