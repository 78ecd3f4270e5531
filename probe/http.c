#include "probe/http.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Framing of the body, from the headers. */
struct http_head {
	int status;
	size_t head_len; /* bytes up to and including the empty line */
	bool chunked;
	bool has_length;
	uint64_t content_length;
};

/* Finds the end of the line starting at p: returns the length without the
 * line ending in *line_len and the offset just past '\n', or 0 if no '\n'. */
static size_t line_end(const char *p, size_t avail, size_t *line_len)
{
	const char *nl = memchr(p, '\n', avail);
	if (nl == NULL)
		return 0;
	size_t l = (size_t)(nl - p);
	if (l > 0 && p[l - 1] == '\r')
		l--;
	*line_len = l;
	return (size_t)(nl - p) + 1;
}

static bool header_is(const char *line, size_t len, const char *name, const char **value,
		      size_t *value_len)
{
	size_t nlen = strlen(name);
	if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
		return false;
	const char *v = line + nlen + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*value = v;
	*value_len = (size_t)(end - v);
	return true;
}

/* Parses one header block at buf[off..]. Returns 1 when complete, 0 if more
 * bytes are needed, -1 if malformed (error filled). */
static int parse_head(const char *buf, size_t len, size_t off, struct http_head *h,
		      struct http_check_result *out)
{
	memset(h, 0, sizeof(*h));
	size_t pos = off;
	size_t ll;
	size_t adv = line_end(buf + pos, len - pos, &ll);
	if (adv == 0)
		return 0;
	/* "HTTP/1.1 200 OK": version, one space, three digits. */
	const char *l = buf + pos;
	if (ll < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[8] != ' ' ||
	    !isdigit((unsigned char)l[9]) || !isdigit((unsigned char)l[10]) ||
	    !isdigit((unsigned char)l[11]) || (ll > 12 && l[12] != ' ')) {
		snprintf(out->error, sizeof(out->error), "sent a malformed HTTP status line");
		return -1;
	}
	h->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	pos += adv;
	for (;;) {
		adv = line_end(buf + pos, len - pos, &ll);
		if (adv == 0)
			return 0;
		const char *hl = buf + pos;
		pos += adv;
		if (ll == 0)
			break;
		const char *v;
		size_t vl;
		if (header_is(hl, ll, "Transfer-Encoding", &v, &vl)) {
			/* chunked must be the last coding (RFC 9112 §6.1); anything else
			 * we cannot decode, and a health endpoint has no reason to use. */
			if (vl >= 7 && strncasecmp(v + vl - 7, "chunked", 7) == 0)
				h->chunked = true;
		} else if (header_is(hl, ll, "Content-Length", &v, &vl)) {
			uint64_t n = 0;
			if (vl == 0 || vl > 18) {
				snprintf(out->error, sizeof(out->error),
					 "sent an invalid Content-Length");
				return -1;
			}
			for (size_t i = 0; i < vl; i++) {
				if (!isdigit((unsigned char)v[i])) {
					snprintf(out->error, sizeof(out->error),
						 "sent an invalid Content-Length");
					return -1;
				}
				n = n * 10 + (uint64_t)(v[i] - '0');
			}
			h->has_length = true;
			h->content_length = n;
		}
	}
	h->head_len = pos - off;
	return 1;
}

/* De-chunks what is available of body into scratch (up to HTTP_BODY_MAX).
 * Returns 1 when the last chunk was seen, 0 if more is needed, -1 if malformed. */
static int dechunk(const char *body, size_t len, char *scratch, size_t *out_len,
		   struct http_check_result *out)
{
	size_t pos = 0, n = 0;
	for (;;) {
		size_t ll;
		size_t adv = line_end(body + pos, len - pos, &ll);
		if (adv == 0)
			break;
		uint64_t size = 0;
		size_t i = 0;
		for (; i < ll && isxdigit((unsigned char)body[pos + i]); i++) {
			if (i >= 15)
				goto bad;
			int c = tolower((unsigned char)body[pos + i]);
			size = size * 16 + (uint64_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
		}
		if (i == 0 || (i < ll && body[pos + i] != ';' && body[pos + i] != ' '))
			goto bad;
		if (size == 0) {
			*out_len = n;
			return 1; /* trailers are of no interest */
		}
		size_t data = pos + adv;
		size_t have = len > data ? len - data : 0;
		size_t take = have < size ? have : (size_t)size;
		size_t room = HTTP_BODY_MAX - n;
		memcpy(scratch + n, body + data, take < room ? take : room);
		n += take < room ? take : room;
		if (n >= HTTP_BODY_MAX || have < size + 2)
			break;
		if (body[data + size] != '\r' || body[data + size + 1] != '\n')
			goto bad;
		pos = data + (size_t)size + 2;
	}
	*out_len = n;
	return 0;
bad:
	snprintf(out->error, sizeof(out->error), "sent a malformed chunked body");
	return -1;
}

enum http_check_rc http_response_check(const char *buf, size_t len, bool eof, const char *needle,
				       char *scratch, struct http_check_result *out)
{
	enum http_check_rc rc = HTTP_CHECK_MORE;
	struct http_head h;
	size_t off = 0;
	out->status = 0;
	out->body_found = false;
	out->body_capped = false;
	out->error[0] = '\0';

	for (;;) {
		int r = parse_head(buf, len, off, &h, out);
		if (r < 0) {
			rc = HTTP_CHECK_BAD;
			goto finish;
		}
		if (r == 0) {
			if (len - off > HTTP_HEADERS_MAX) {
				snprintf(out->error, sizeof(out->error),
					 "sent response headers over %d bytes", HTTP_HEADERS_MAX);
				rc = HTTP_CHECK_BAD;
			} else if (eof) {
				snprintf(out->error, sizeof(out->error), "%s",
					 len == 0 ? "closed the connection without a response"
						  : "closed the connection in the middle of the "
						    "response headers");
				rc = HTTP_CHECK_BAD;
			}
			goto finish;
		}
		/* 1xx (other than 101, which we never ask for) precede the real answer. */
		if (h.status >= 100 && h.status < 200 && h.status != 101) {
			off += h.head_len;
			continue;
		}
		break;
	}
	out->status = h.status;
	if (needle == NULL) {
		rc = HTTP_CHECK_DONE;
		goto finish;
	}

	const char *body = buf + off + h.head_len;
	size_t avail = len - off - h.head_len;
	size_t nlen = strlen(needle);
	bool complete;
	const char *hay;
	size_t hay_len;
	if (h.status == 204 || h.status == 304) {
		hay = body;
		hay_len = 0;
		complete = true;
	} else if (h.chunked) {
		int r = dechunk(body, avail, scratch, &hay_len, out);
		if (r < 0) {
			rc = HTTP_CHECK_BAD;
			goto finish;
		}
		hay = scratch;
		complete = r == 1;
	} else if (h.has_length) {
		hay = body;
		hay_len = avail < h.content_length ? avail : (size_t)h.content_length;
		complete = avail >= h.content_length;
	} else {
		hay = body;
		hay_len = avail;
		complete = eof;
	}
	if (hay_len > HTTP_BODY_MAX)
		hay_len = HTTP_BODY_MAX;
	if (nlen == 0 || (hay_len >= nlen && memmem(hay, hay_len, needle, nlen) != NULL)) {
		out->body_found = true;
		rc = HTTP_CHECK_DONE;
	} else if (hay_len >= HTTP_BODY_MAX) {
		out->body_capped = true;
		rc = HTTP_CHECK_DONE;
	} else if (complete) {
		rc = HTTP_CHECK_DONE;
	} else if (eof) {
		snprintf(out->error, sizeof(out->error),
			 "closed the connection in the middle of the body");
		rc = HTTP_CHECK_BAD;
	}
finish:
	return rc;
}
