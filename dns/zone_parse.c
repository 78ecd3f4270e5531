/* zone_parse.c — reading master files (contract in zone_int.h).
 *
 * The file is read into memory; plain one-line records are converted by
 * zone_fast_parse() (dns/zone_fast.c), every other one by ldns
 * (ldns_rr_new_frm_fp_l on a memory stream); we intercept the lines ldns
 * cannot report precisely (blank and comment lines, so that every record
 * gets its exact first line number, and the $ directives, so that a
 * relative $ORIGIN and $INCLUDE work).
 */
#include <errno.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "dns/zone_int.h"

/* $INCLUDE nesting limit: deep enough for any sane layout, and it stops a
 * file that includes itself after 8 opens instead of exhausting fds. */
#define ZONE_INCLUDE_DEPTH_MAX 8
/* Longest $ directive line; longer ones are an error. */
#define DIRECTIVE_LINE_MAX 4096
/* Characters of the offending line quoted in a syntax error. */
#define SYNTAX_EXCERPT_MAX 80

/**
 * A name argument of a directive: absolute, "@", or relative to `origin`
 * (RFC 1035 §5.1). NULL if it does not parse (reason in *why).
 */
static ldns_rdf *directive_name(const char *arg, const ldns_rdf *origin, const char **why)
{
	if (strcmp(arg, "@") == 0)
		return ldns_rdf_clone(origin);
	ldns_rdf *r = ldns_dname_new_frm_str(arg);
	if (r == NULL) {
		*why = "not a valid domain name";
		return NULL;
	}
	if (!ldns_dname_str_absolute(arg) && ldns_dname_cat(r, origin) != LDNS_STATUS_OK) {
		ldns_rdf_deep_free(r);
		*why = "longer than 255 octets once the origin is appended";
		return NULL;
	}
	return r;
}

/** Splits a directive line into at most `max` tokens ("quoted" allowed); returns the count. */
static size_t directive_split(char *s, char **tok, size_t max)
{
	size_t n = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (*s == 0 || *s == ';')
			return n;
		if (n == max)
			return max + 1; /* too many */
		if (*s == '"') {
			tok[n++] = ++s;
			while (*s && *s != '"')
				s++;
		} else {
			tok[n++] = s;
			while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != ';')
				s++;
		}
		if (*s == 0)
			return n;
		if (*s == ';') {
			*s = 0;
			return n;
		}
		*s++ = 0;
	}
}

/**
 * Handles one "$..." line: text[*pos] is just after the '$'; *pos ends
 * after the line's '\n'. Returns false if the
 * line itself is wrong (errors inside an included file are that file's).
 */
static bool directive(loader_t *L, const char *text, size_t len, size_t *pos, uint16_t file,
		      int *line, ldns_rdf **origin, uint32_t depth)
{
	char buf[DIRECTIVE_LINE_MAX];
	size_t n = 0;
	bool too_long = false;
	uint32_t seq = (uint32_t)L->nrecs;
	while (*pos < len && text[*pos] != '\n') {
		if (n + 1 < sizeof(buf))
			buf[n++] = text[*pos];
		else
			too_long = true;
		(*pos)++;
	}
	if (*pos < len)
		(*pos)++; /* the '\n' */
	buf[n] = 0;
	(*line)++;
	uint32_t at = (uint32_t)*line;
	if (too_long) {
		zerr_add(L, seq, file, at, "directive line longer than %d characters",
			 DIRECTIVE_LINE_MAX);
		return false;
	}
	char *tok[4];
	size_t nt = directive_split(buf, tok, 3);
	const char *why = NULL;
	if (nt == 0) {
		zerr_add(L, seq, file, at, "'$' without a directive name");
		return false;
	}
	if (strcasecmp(tok[0], "ORIGIN") == 0) {
		if (nt != 2) {
			zerr_add(L, seq, file, at, "$ORIGIN takes exactly one domain name");
			return false;
		}
		ldns_rdf *o = directive_name(tok[1], *origin, &why);
		if (o == NULL) {
			zerr_add(L, seq, file, at, "$ORIGIN %s: %s", tok[1], why);
			return false;
		}
		ldns_rdf_deep_free(*origin);
		*origin = o;
	} else if (strcasecmp(tok[0], "TTL") == 0) {
		if (nt != 2) {
			zerr_add(L, seq, file, at, "$TTL takes exactly one value");
			return false;
		}
		uint64_t v = 0;
		/* Even a bad $TTL was meant as one: no "no $TTL" warning on top
		 * of its error (the zone is refused anyway). */
		L->ttl_seen = true;
		if (!ttl_token_value(tok[1], &v) || v > INT32_MAX) {
			/* RFC 2181 §8: a TTL is 0 to 2^31 - 1 seconds. */
			zerr_add(L, seq, file, at,
				 "$TTL %s is not a TTL (seconds, or units like 1h30m; at most "
				 "2147483647)",
				 tok[1]);
			return false;
		}
		L->default_ttl_s = (uint32_t)v;
		L->ttl_seen = true;
	} else if (strcasecmp(tok[0], "INCLUDE") == 0) {
		if (nt != 2 && nt != 3) {
			zerr_add(L, seq, file, at,
				 "$INCLUDE takes a file name and an optional origin");
			return false;
		}
		if (depth + 1 >= ZONE_INCLUDE_DEPTH_MAX) {
			zerr_add(L, seq, file, at,
				 "$INCLUDE %s: nested more than %d files deep (does a file include "
				 "itself?)",
				 tok[1], ZONE_INCLUDE_DEPTH_MAX);
			return false;
		}
		ldns_rdf *inc_origin =
		    nt == 3 ? directive_name(tok[2], *origin, &why) : ldns_rdf_clone(*origin);
		if (inc_origin == NULL) {
			zerr_add(L, seq, file, at, "$INCLUDE origin %s: %s", tok[2],
				 why ? why : "out of memory");
			return false;
		}
		/* A relative name is relative to the directory of the including
		 * file, not to the server's working directory. */
		char *inc_path = NULL;
		const char *cur = L->files[file];
		const char *slash = strrchr(cur, '/');
		int r = 0;
		if (tok[1][0] == '/' || slash == NULL)
			inc_path = strdup(tok[1]);
		else
			r = asprintf(&inc_path, "%.*s/%s", (int)(slash - cur), cur, tok[1]);
		if (r < 0 || inc_path == NULL) {
			L->oom = true; /* reported as such, not as a bad line */
			ldns_rdf_deep_free(inc_origin);
			return true;
		}
		zone_parse_file(L, inc_path, file, at, depth + 1, inc_origin);
		free(inc_path);
		ldns_rdf_deep_free(inc_origin);
	} else {
		zerr_add(L, seq, file, at,
			 "unknown directive $%s (supported: $ORIGIN, $TTL, $INCLUDE)", tok[0]);
		return false;
	}
	return true;
}

/**
 * For a line starting at text[pos] with a blank: true if the whole line is
 * blank or a comment (*next is then the start of the following line),
 * false if a record with a blank owner ("same owner as before") follows.
 */
static bool line_is_blank(const char *text, size_t len, size_t pos, size_t *next)
{
	while (pos < len && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r'))
		pos++;
	if (pos < len && text[pos] == ';')
		while (pos < len && text[pos] != '\n')
			pos++;
	if (pos < len && text[pos] != '\n')
		return false;
	*next = pos < len ? pos + 1 : len;
	return true;
}

/**
 * Copies the first line of the record that starts at text[start] into
 * `text_out` (blanks squeezed, cut at cap): ldns only says what kind of
 * error it met, the operator needs to see where.
 */
static void excerpt(const char *text, size_t len, size_t start, char *out, size_t cap)
{
	size_t n = 0, max = cap - 4; /* room for "..." and the NUL */
	bool blank = false, cut = false;
	for (size_t i = start; i < len && text[i] != '\n' && text[i] != ';'; i++) {
		char c = text[i];
		if (c == ' ' || c == '\t' || c == '\r') {
			blank = n > 0;
			continue;
		}
		if (n + (blank ? 2 : 1) > max) {
			cut = true;
			break;
		}
		if (blank)
			out[n++] = ' ';
		blank = false;
		out[n++] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	if (cut) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = 0;
}

/*
 * RFC 1035 §5.1 allows "[<class>] [<TTL>] <type>" as well as the other
 * order; ldns reads only TTL before class. When the record starting at
 * text[pos] spells the class first ("www IN 300 A ..."), swaps the two
 * fields in place — same bytes, same length, so every later offset and
 * column stays right — for whichever parser reads it next. Returns
 * whether it swapped.
 */
static bool class_ttl_swap(char *text, size_t len, size_t pos)
{
	size_t i = pos;
	if (text[i] != ' ' && text[i] != '\t') /* skip the owner */
		while (i < len && text[i] != ' ' && text[i] != '\t' && text[i] != '\n')
			i++;
	size_t at[2], n[2];
	for (int k = 0; k < 2; k++) {
		while (i < len && (text[i] == ' ' || text[i] == '\t'))
			i++;
		at[k] = i;
		while (i < len && text[i] != ' ' && text[i] != '\t' && text[i] != '\n' &&
		       text[i] != ';' && text[i] != '(' && text[i] != ')' && text[i] != '"' &&
		       i - at[k] <= 32)
			i++;
		n[k] = i - at[k];
		if (n[k] == 0 || n[k] > 32)
			return false;
		/* Cheap exit for most records: the first field after the owner is
		 * a TTL or a type, not a class. */
		if (k == 0 && !class_token_n(text + at[0], n[0]))
			return false;
	}
	char t1[33], t2[33];
	memcpy(t1, text + at[0], n[0]);
	t1[n[0]] = 0;
	memcpy(t2, text + at[1], n[1]);
	t2[n[1]] = 0;
	if (!class_token(t1) || t2[0] < '0' || t2[0] > '9')
		return false;
	/* [t1][blanks][t2] becomes [t2][blanks][t1] */
	size_t gap = at[1] - (at[0] + n[0]);
	char blanks[64];
	if (gap > sizeof(blanks))
		return false;
	memcpy(blanks, text + at[0] + n[0], gap);
	memcpy(text + at[0], t2, n[1]);
	memcpy(text + at[0] + n[1], blanks, gap);
	memcpy(text + at[0] + n[1] + gap, t1, n[0]);
	return true;
}

/**
 * Reads the whole file at path into a new NUL-terminated buffer (*text,
 * *len bytes without the NUL; the caller frees it). Returns 0, or -1 with
 * errno set (EINVAL: not a regular file).
 */
static int file_read(const char *path, char **text_out, size_t *len_out)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	/* Only regular files: a FIFO or /dev/zero would make the load (and
	 * with it the reload of every zone) never finish. */
	if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
		errno = EINVAL;
	}
	/* The file is parsed from memory: the fast path reads it directly,
	 * ldns through a memory stream (no system call per ftell/fseek). */
	if (fd >= 0) {
		len = (size_t)st.st_size;
		text = malloc(len + 1);
		size_t got = 0;
		while (text != NULL && got < len) {
			ssize_t r = read(fd, text + got, len - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		int saved = text == NULL ? ENOMEM : errno;
		close(fd);
		if (text == NULL || got < len) {
			free(text);
			text = NULL;
			fd = -1;
			errno = got < len && saved == 0 ? EIO : saved;
		} else {
			text[len] = 0;
		}
	}
	*text_out = text;
	*len_out = len;
	return fd < 0 ? -1 : 0;
}

/**
 * What happened to the record ldns just read (status s; rr when s is OK,
 * freed here) from text[record_start..pos): lint and add it, or report the
 * syntax error with an excerpt of its first line.
 */
static void ldns_record_done(loader_t *L, ldns_status s, ldns_rr *rr, const char *text, size_t len,
			     size_t record_start, size_t pos, uint16_t file, uint32_t first_line)
{
	if (s == LDNS_STATUS_OK) {
		size_t errs = L->nerrs;
		/* Without a TTL of its own a record takes $TTL, also "$TTL 0"
		 * (which ldns replaces with 3600). */
		if (!record_lint(L, rr, text + record_start, pos - record_start, file, first_line))
			ldns_rr_set_ttl(rr, L->default_ttl_s);
		if (L->nerrs == errs && ldns_rr_ttl(rr) > 2147483647u)
			zerr_add(L, (uint32_t)L->nrecs, file, first_line,
				 "TTL %u is above 2147483647, the largest RFC 2181 §8 allows",
				 ldns_rr_ttl(rr));
		if (L->nerrs == errs)
			record_add(L, rr, file, first_line);
		else
			L->syntax_error = true;
		ldns_rr_free(rr);
	} else if (s == LDNS_STATUS_MEM_ERR) {
		L->oom = true;
	} else if (s != LDNS_STATUS_SYNTAX_EMPTY) {
		char excerpt_text[SYNTAX_EXCERPT_MAX];
		excerpt(text, len, record_start, excerpt_text, sizeof(excerpt_text));
		zerr_add(L, (uint32_t)L->nrecs, file, first_line, "syntax error: %s in \"%s\"",
			 ldns_get_errorstr_by_id(s), excerpt_text);
		L->syntax_error = true;
	}
}

/**
 * True if ldns ran a directive itself (status s): one that followed a line
 * it took for blank (control characters before a comment) and so was not
 * at a line start for us. It may have freed our origin or left it NULL;
 * this undoes it all (directives are handled by directive()): *origin
 * becomes a copy of origin_set, $TTL goes back to ttl_set.
 */
static bool ldns_directive_undo(loader_t *L, ldns_status s, ldns_rr *rr, ldns_rdf **origin,
				const ldns_rdf *origin_set, uint32_t ttl_set, uint16_t file,
				int line)
{
	if (!(*origin == NULL || s == LDNS_STATUS_SYNTAX_ORIGIN || s == LDNS_STATUS_SYNTAX_TTL ||
	      s == LDNS_STATUS_SYNTAX_INCLUDE))
		return false;
	ldns_rdf_deep_free(*origin);
	*origin = ldns_rdf_clone(origin_set);
	L->default_ttl_s = ttl_set;
	if (*origin == NULL)
		L->oom = true;
	if (s == LDNS_STATUS_OK)
		ldns_rr_free(rr);
	zerr_add(L, (uint32_t)L->nrecs, file, (uint32_t)line,
		 "a $ directive must start its line (after junk on a previous line?)");
	L->syntax_error = true;
	return true;
}

/**
 * Reads one master file, records into L. `from_file`/`from_line` locate
 * the $INCLUDE that named it (for "cannot open"). The origin and the
 * previous owner are restored after an $INCLUDE (RFC 1035 §5.1), $TTL is
 * not (as in BIND).
 */
void zone_parse_file(loader_t *L, const char *path, uint16_t from_file, uint32_t from_line,
		     uint32_t depth, const ldns_rdf *origin_in)
{
	/* origin is what ldns reads (and may free, see below); origin_set is
	 * our copy of the last value we gave it. */
	ldns_rdf *origin = NULL, *origin_set = NULL, *prev = NULL;
	/* The previous owner (RFC 1035 §5.1: a blank owner repeats it) as the
	 * fast path last stated it; prev_newer: ldns's `prev` lags behind it. */
	uint8_t prev_wire[DNAME_MAXLEN];
	bool prev_known = false, prev_newer = false;
	uint16_t file = 0;
	int line = 0;
	FILE *fp = NULL;
	char *text = NULL; /* the whole file */
	size_t len = 0;
	int fd = file_read(path, &text, &len);
	if (fd < 0) {
		const char *why = errno == EINVAL ? "not a regular file" : strerror(errno);
		if (depth == 0)
			zerr_add(L, 0, from_file, 0, "cannot open zone file: %s", why);
		else
			zerr_add(L, (uint32_t)L->nrecs, from_file, from_line,
				 "$INCLUDE: cannot open %s: %s", path, why);
		L->io_error = true;
		return;
	}
	if (depth == 0)
		file = 0; /* registered by zone_load */
	else if (zone_file_add(L, path, &file) != SOV_OK) {
		L->oom = true;
		goto finish;
	}
	/* fmemopen of 0 bytes fails; an empty file needs no stream anyway. */
	if (len > 0 && (fp = fmemopen(text, len, "r")) == NULL) {
		L->oom = true;
		goto finish;
	}
	if (fp != NULL)
		__fsetlocking(fp, FSETLOCKING_BYCALLER); /* ldns reads it by getc() */
	origin = ldns_rdf_clone(origin_in);
	origin_set = ldns_rdf_clone(origin_in);
	if (origin == NULL || origin_set == NULL) {
		L->oom = true;
		goto finish;
	}
	size_t pos = 0;
	/* A UTF-8 byte order mark (editors on some systems write one) is not
	 * part of the first line. */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	while (!L->oom && pos < len) {
		char c = text[pos];
		if (c == '\n') {
			line++;
			pos++;
			continue;
		}
		if (c == ';') {
			const char *nl = memchr(text + pos, '\n', len - pos);
			pos = nl ? (size_t)(nl - text) + 1 : len;
			line++;
			continue;
		}
		if (c == '$') {
			pos++;
			if (!directive(L, text, len, &pos, file, &line, &origin, depth))
				L->syntax_error = true;
			ldns_rdf_deep_free(origin_set);
			origin_set = ldns_rdf_clone(origin);
			if (origin_set == NULL)
				L->oom = true;
			continue;
		}
		if ((c == ' ' || c == '\t' || c == '\r') && line_is_blank(text, len, pos, &pos)) {
			line++;
			continue;
		}
		uint32_t first_line = (uint32_t)line + 1;
		size_t record_start = pos;
		bool swapped = class_ttl_swap(text, len, pos);

		zfast_t fr;
		size_t used = zone_fast_parse(text + pos, len - pos, ldns_rdf_data(origin),
					      ldns_rdf_size(origin), &fr);
		/* A blank owner before any stated one is ldns's case (it uses the origin). */
		if (used > 0 && (fr.owner_given || prev_known)) {
			if (fr.owner_given) {
				memcpy(prev_wire, fr.owner, dname_len(fr.owner));
				prev_known = prev_newer = true;
			}
			record_add_fast(L, &fr, prev_wire,
					fr.ttl_given ? fr.ttl_s : L->default_ttl_s, file,
					first_line);
			pos += used;
			line++;
			/* After a record ldns skips any run of "\f\n\r\v" (counting
			 * lines): do the same, so that where the next record starts
			 * does not depend on which parser read this one. */
			while (pos < len && (text[pos] == '\n' || text[pos] == '\f' ||
					     text[pos] == '\r' || text[pos] == '\v'))
				line += text[pos++] == '\n';
			continue;
		}

		if (prev_newer) {
			ldns_rdf_deep_free(prev);
			prev = ldns_dname_new_frm_data((uint16_t)dname_len(prev_wire), prev_wire);
			prev_newer = false;
			if (prev == NULL) {
				L->oom = true;
				break;
			}
		}
		/* fseek also drops bytes the stream buffered before
		 * class_ttl_swap() changed them. */
		if ((swapped || ftell(fp) != (long)pos) && fseek(fp, (long)pos, SEEK_SET) != 0) {
			L->io_error = true;
			break;
		}
		uint32_t ttl_set = L->default_ttl_s;
		ldns_rr *rr = NULL;
		ldns_status s =
		    ldns_rr_new_frm_fp_l(&rr, fp, &L->default_ttl_s, &origin, &prev, &line);
		long end = ftell(fp);
		pos = end < (long)pos ? len : (size_t)end;
		/* ldns may remember an owner it then rejected (longer than 255
		 * octets): the fast path must not fall back on an older one. */
		size_t prev_used = 0;
		prev_known =
		    prev != NULL && ldns_rdf_size(prev) <= DNAME_MAXLEN &&
		    zone_wire_name_ok(ldns_rdf_data(prev), ldns_rdf_size(prev), &prev_used);
		if (prev_known)
			memcpy(prev_wire, ldns_rdf_data(prev), ldns_rdf_size(prev));
		if (ldns_directive_undo(L, s, rr, &origin, origin_set, ttl_set, file, line))
			continue;
		ldns_record_done(L, s, rr, text, len, record_start, pos, file, first_line);
	}
finish:
	if (fp != NULL)
		fclose(fp);
	free(text);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(origin_set);
	ldns_rdf_deep_free(prev);
}
