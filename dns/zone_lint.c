/* zone_lint.c — textual checks of a record's text (contract in zone_int.h).
 *
 * ldns accepts some text it then misreads (a TTL wrapped at 2^32, MX 65536
 * read as 0, a '(' never closed swallowing the rest of the file); these
 * checks catch that and report the exact line and column.
 */
#include <ldns/ldns.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/zone_int.h"

/* A TTL as BIND and NSD accept it: digits, optionally in groups with a
 * unit (1h30m, 2w, 3600); ldns is more lenient ("1h30x" passes) and wraps
 * values at 2^32 ("4294967296" is 0). Stores the value in *v (saturated at
 * UINT64_MAX / 2) and returns true if the syntax is right. */
bool ttl_token_value(const char *t, uint64_t *v)
{
	const uint64_t cap = UINT64_MAX / 2;
	uint64_t total = 0, group = 0;
	bool digits = false;
	if (*t == 0)
		return false;
	for (; *t; t++) {
		if (*t >= '0' && *t <= '9') {
			digits = true;
			group = group > cap / 10 ? cap : group * 10 + (uint64_t)(*t - '0');
		} else if (strchr("smhdwSMHDW", *t) != NULL && digits) {
			static const char units[] = "smhdw";
			static const uint64_t secs[] = {1, 60, 3600, 86400, 604800};
			char u = (char)(*t | 0x20);
			uint64_t mul = secs[strchr(units, u) - units];
			group = group > cap / mul ? cap : group * mul;
			total = total > cap - group ? cap : total + group;
			group = 0;
			digits = false;
			if (t[1] != 0 && !(t[1] >= '0' && t[1] <= '9'))
				return false;
		} else {
			return false;
		}
	}
	total = total > cap - group ? cap : total + group;
	*v = total;
	return true;
}

/* class_token() on t[0..n) (not NUL-terminated). */
bool class_token_n(const char *t, size_t n)
{
	return (n == 2 && (strncasecmp(t, "IN", 2) == 0 || strncasecmp(t, "CH", 2) == 0 ||
			   strncasecmp(t, "HS", 2) == 0 || strncasecmp(t, "CS", 2) == 0)) ||
	       (n > 5 && strncasecmp(t, "CLASS", 5) == 0);
}

bool class_token(const char *t)
{
	return strcasecmp(t, "IN") == 0 || strcasecmp(t, "CH") == 0 || strcasecmp(t, "HS") == 0 ||
	       strcasecmp(t, "CS") == 0 || strncasecmp(t, "CLASS", 5) == 0;
}

/* Fields of one record for record_lint(): at most this many are looked at. */
#define LINT_TOKENS_MAX 16

/* Adds an error at byte `at` of the record text (first line `line`). */
static void lint_error_at(loader_t *L, uint16_t file, uint32_t line, const char *text, size_t at,
			  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void lint_error_at(loader_t *L, uint16_t file, uint32_t line, const char *text, size_t at,
			  const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	uint32_t l = line;
	size_t bol = 0;
	for (size_t i = 0; i < at; i++)
		if (text[i] == '\n') {
			l++;
			bol = i + 1;
		}
	size_t before = L->nerrs;
	zerr_add(L, (uint32_t)L->nrecs, file, line, "%s", msg);
	zerr_set_pos(L, before, l, at - bol + 1);
	L->syntax_error = true;
}

/*
 * Checks what ldns lets through in the text of one record (rec_len bytes
 * at rec) that it parsed as `rr`: a quoted string or a '(' never closed
 * (ldns then reads to the end of the file), a NUL byte (ldns drops it), a
 * TTL that is not a number with units or is above 2^31 - 1 (ldns wraps it
 * at 2^32), "@x" names ('@' is the origin only on its own, RFC 1035 §5.1),
 * and numeric fields out of range or not decimal (ldns wraps MX 65536 to
 * 0 and reads "-1" as 65535). Returns whether the record spells out its
 * TTL, so that the caller can apply a default of 0 that ldns replaces.
 */
static bool record_lint_text(loader_t *L, const ldns_rr *rr, char *text, size_t n, uint16_t file,
			     uint32_t line);

bool record_lint(loader_t *L, const ldns_rr *rr, const char *rec, size_t rec_len, uint16_t file,
		 uint32_t line)
{
	char small[4096];
	/* A record may be long (RDATA up to 65535 octets in hex): check all of it. */
	char *text = rec_len < sizeof(small) ? small : malloc(rec_len + 1);
	if (text == NULL) {
		L->oom = true;
		return true;
	}
	memcpy(text, rec, rec_len);
	text[rec_len] = 0;
	bool ttl_given = record_lint_text(L, rr, text, rec_len, file, line);
	if (text != small)
		free(text);
	return ttl_given;
}

/* '@' stands for the origin on its own only; elsewhere in a name (unescaped)
 * it is almost always a mistake ("hostmaster@example.com." as an SOA RNAME). */
static bool name_has_stray_at(const char *t)
{
	if (strcmp(t, "@") == 0)
		return false;
	for (; *t; t++) {
		if (*t == '\\' && t[1] != 0)
			t++;
		else if (*t == '@')
			return true;
	}
	return false;
}

/* One field of a record's text: text[at..at + len). */
struct lint_tok {
	size_t at, len;
};

/* Splits the record text into at most LINT_TOKENS_MAX fields (tok, count in
 * *ntok_out). False, with the error added, if a NUL byte, an open quote or
 * an unclosed '(' makes the record unreadable. */
static bool lint_tokens(loader_t *L, const char *text, size_t n, uint16_t file, uint32_t line,
			struct lint_tok *tok, size_t *ntok_out)
{
	/* Split into fields: blanks and parentheses separate, comments end a
	 * line, a quoted string is one field. */
	size_t ntok = 0;
	int depth = 0;
	bool quoted = false;
	size_t open_at = 0, quote_at = 0; /* innermost unclosed '(', last opening quote */
	for (size_t i = 0; i < n;) {
		char c = text[i];
		if (c == 0) {
			lint_error_at(L, file, line, text, i,
				      "NUL byte in a record (a zone file is text)");
			return false;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
			i++;
		} else if (c == ';') {
			while (i < n && text[i] != '\n')
				i++;
		} else if (c == '(') {
			if (depth++ == 0)
				open_at = i;
			i++;
		} else if (c == ')') {
			depth--;
			i++;
		} else {
			size_t at = i;
			if (c == '"') {
				quoted = true;
				quote_at = i++;
				while (i < n && text[i] != '"') {
					if (text[i] == 0)
						break;
					i += text[i] == '\\' && i + 1 < n ? 2 : 1;
				}
				if (i < n && text[i] == '"') {
					quoted = false;
					i++;
				}
			} else {
				while (i < n && text[i] != 0 &&
				       !strchr(" \t\r\n\f\v;()\"", text[i]))
					i += text[i] == '\\' && i + 1 < n ? 2 : 1;
			}
			if (ntok < LINT_TOKENS_MAX) {
				tok[ntok].at = at;
				tok[ntok].len = i - at;
				ntok++;
			}
		}
	}
	if (quoted) {
		lint_error_at(L, file, line, text, quote_at,
			      "a quoted string is never closed (missing '\"')");
		return false;
	}
	if (depth > 0) {
		lint_error_at(L, file, line, text, open_at,
			      "'(' is never closed: the record runs to the end of the file");
		return false;
	}
	*ntok_out = ntok;
	return true;
}

/* record_lint() on a writable NUL-terminated copy of the record (n bytes). */
static bool record_lint_text(loader_t *L, const ldns_rr *rr, char *text, size_t n, uint16_t file,
			     uint32_t line)
{
	struct lint_tok tok[LINT_TOKENS_MAX];
	size_t ntok = 0;
	if (!lint_tokens(L, text, n, file, line, tok, &ntok))
		return true;

	/* [owner] then [TTL] [class] in either order, then the type. */
	char field[256];
#define FIELD(k) (snprintf(field, sizeof(field), "%.*s", (int)tok[k].len, text + tok[k].at), field)
	size_t k = 0;
	bool ttl_given = false;
	if (text[0] != ' ' && text[0] != '\t' && ntok > 0) {
		if (name_has_stray_at(FIELD(0))) {
			lint_error_at(L, file, line, text, tok[0].at,
				      "\"%s\": '@' stands for the origin only on its own", field);
			return false;
		}
		k = 1;
	}
	for (int j = 0; j < 2 && k < ntok; j++, k++) {
		const char *t = FIELD(k);
		if (class_token(t))
			continue;
		if (t[0] < '0' || t[0] > '9' || ldns_get_rr_type_by_name(t) != 0)
			break; /* the type */
		uint64_t v = 0;
		if (!ttl_token_value(t, &v)) {
			lint_error_at(L, file, line, text, tok[k].at,
				      "\"%s\" is not a valid TTL (seconds, or units like 1h30m)",
				      t);
			return true;
		}
		if (v > INT32_MAX) {
			lint_error_at(L, file, line, text, tok[k].at,
				      "TTL %s is above 2147483647, the largest RFC 2181 §8 allows",
				      t);
			return true;
		}
		ttl_given = true;
	}
	/* k is at the type; the RDATA fields follow. Single-token fields only:
	 * stop at the first field that may hold blanks or at an RFC 3597 "\#". */
	const ldns_rr_descriptor *d = ldns_rr_descript((uint16_t)ldns_rr_get_type(rr));
	size_t first = k + 1;
	if (first + 1 < ntok && strcmp(FIELD(first), "\\#") == 0 && d != NULL) {
		/* RFC 3597 §5 form for a type ldns knows: it re-reads the octets
		 * as that type and silently drops what does not fit. */
		size_t rdlen = 0;
		for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
			if (ldns_rr_rdf(rr, i) != NULL)
				rdlen += ldns_rdf_size(ldns_rr_rdf(rr, i));
		const char *t = FIELD(first + 1);
		char *end = NULL;
		unsigned long declared = strtoul(t, &end, 10);
		if (end != t && *end == 0 && declared != rdlen) {
			char tbuf[16];
			lint_error_at(
			    L, file, line, text, tok[first].at,
			    "\\# %lu octets are not a valid %s record (%zu used)", declared,
			    zone_type_str((uint16_t)ldns_rr_get_type(rr), tbuf, sizeof(tbuf)),
			    rdlen);
		}
		return ttl_given;
	}
	for (size_t f = 0; d != NULL && f < ldns_rr_descriptor_maximum(d) && first + f < ntok;
	     f++) {
		const char *t = FIELD(first + f);
		ldns_rdf_type ft = ldns_rr_descriptor_field_type(d, f);
		uint64_t max = ft == LDNS_RDF_TYPE_INT8	   ? 255
			       : ft == LDNS_RDF_TYPE_INT16 ? 65535
			       : ft == LDNS_RDF_TYPE_INT32 ? UINT32_MAX
							   : 0;
		if (ft == LDNS_RDF_TYPE_PERIOD) { /* SOA timers: seconds or units, 32 bits */
			uint64_t v = 0;
			if (ttl_token_value(t, &v) && v > UINT32_MAX) {
				lint_error_at(L, file, line, text, tok[first + f].at,
					      "\"%s\" is more than 4294967295 seconds", t);
				return ttl_given;
			}
		} else if (max != 0) {
			uint64_t v = 0;
			bool ok = t[0] != 0;
			for (const char *p = t; *p && ok; p++) {
				ok = *p >= '0' && *p <= '9';
				v = v > max ? v : v * 10 + (uint64_t)(*p - '0');
			}
			if (!ok || v > max) {
				lint_error_at(L, file, line, text, tok[first + f].at,
					      "\"%s\" is not a number from 0 to %llu", t,
					      (unsigned long long)max);
				return ttl_given;
			}
		} else if (ft == LDNS_RDF_TYPE_DNAME) {
			if (name_has_stray_at(t)) {
				lint_error_at(L, file, line, text, tok[first + f].at,
					      "\"%s\": '@' stands for the origin only on its own",
					      t);
				return ttl_given;
			}
		} else if (ft != LDNS_RDF_TYPE_A && ft != LDNS_RDF_TYPE_AAAA) {
			break;
		}
	}
#undef FIELD
	return ttl_given;
}
