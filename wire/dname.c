#include "wire/dname.h"

#include <string.h>

#include "common/err.h"

static inline uint8_t lower_byte(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

size_t dname_len(const uint8_t *name)
{
	size_t off = 0;
	/* Bound first, then read: never look past the 255-octet maximum. */
	while (off < DNAME_MAXLEN && name[off] != 0)
		off += (size_t)name[off] + 1;
	return off + 1;
}

unsigned dname_labels(const uint8_t *name)
{
	unsigned n = 0;
	size_t off = 0;
	while (off < DNAME_MAXLEN && name[off] != 0) {
		off += (size_t)name[off] + 1;
		n++;
	}
	return n;
}

size_t dname_lower(uint8_t *dst, const uint8_t *src)
{
	size_t len = dname_len(src);
	size_t off = 0;
	while (off < len) {
		uint8_t l = src[off];
		dst[off] = l;
		for (size_t i = 1; i <= l; i++)
			dst[off + i] = lower_byte(src[off + i]);
		off += (size_t)l + 1;
		if (l == 0)
			break;
	}
	return len;
}

bool dname_equal(const uint8_t *a, const uint8_t *b)
{
	size_t off = 0;
	for (;;) {
		uint8_t la = a[off], lb = b[off];
		if (la != lb)
			return false;
		if (la == 0)
			return true;
		for (size_t i = 1; i <= la; i++)
			if (lower_byte(a[off + i]) != lower_byte(b[off + i]))
				return false;
		off += (size_t)la + 1;
		if (off >= DNAME_MAXLEN)
			return false;
	}
}

bool dname_is_subdomain(const uint8_t *name, const uint8_t *parent)
{
	unsigned ln = dname_labels(name), lp = dname_labels(parent);
	if (ln < lp)
		return false;
	return dname_equal(dname_skip(name, ln - lp), parent);
}

const uint8_t *dname_parent(const uint8_t *name)
{
	if (name[0] == 0)
		return NULL;
	return name + name[0] + 1;
}

const uint8_t *dname_skip(const uint8_t *name, unsigned n)
{
	while (n-- > 0 && name[0] != 0)
		name += name[0] + 1;
	return name;
}

bool dname_is_wildcard(const uint8_t *name)
{
	return name[0] == 1 && name[1] == '*';
}

uint32_t dname_hash_len(const uint8_t *name, size_t *len)
{
	/* FNV-1a over the wire bytes; names are short (median ~20 bytes).
	 * One pass finds the length too (the same bound as dname_len). */
	uint32_t h = 2166136261u;
	size_t off = 0;
	while (off < DNAME_MAXLEN && name[off] != 0) {
		size_t end = off + (size_t)name[off] + 1;
		for (; off < end; off++) {
			h ^= name[off];
			h *= 16777619u;
		}
	}
	h *= 16777619u; /* the root label's 0 byte: h ^= 0 */
	h ^= h >> 16;
	*len = off + 1;
	return h;
}

uint32_t dname_hash(const uint8_t *name)
{
	size_t len;
	return dname_hash_len(name, &len);
}

/* True for octets written as "\c" in presentation form: the RFC 1035 §5.1
 * specials plus '@' and '$', which zone files give meaning to. */
static inline bool needs_escape(uint8_t c)
{
	return c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' || c == '@' ||
	       c == '$';
}

int dname_to_str(const uint8_t *name, char *buf, size_t cap)
{
	size_t o = 0;
	size_t off = 0;
	int ret = -1;

	/* Any name needs at least 2 bytes ("." and the NUL); past this check
	 * cap - 2 cannot wrap. */
	if (cap < 2)
		goto finish;
	if (name[0] == 0)
		buf[o++] = '.';
	while (off < DNAME_MAXLEN && name[off] != 0) {
		uint8_t l = name[off];
		for (size_t i = 1; i <= l; i++) {
			uint8_t c = name[off + i];
			size_t need = needs_escape(c) ? 2 : (c <= 0x20 || c >= 0x7f) ? 4 : 1;
			/* Room for this octet, the label's closing dot and the NUL:
			 * a buffer of exactly strlen + 1 must be enough. */
			if (o + need > cap - 2)
				goto finish;
			if (need == 2) {
				buf[o++] = '\\';
				buf[o++] = (char)c;
			} else if (need == 4) {
				buf[o++] = '\\';
				buf[o++] = (char)('0' + c / 100);
				buf[o++] = (char)('0' + (c / 10) % 10);
				buf[o++] = (char)('0' + c % 10);
			} else {
				buf[o++] = (char)c;
			}
		}
		if (o > cap - 2)
			goto finish;
		buf[o++] = '.';
		off += (size_t)l + 1;
	}
	buf[o] = 0;
	ret = (int)o;
finish:
	return ret;
}

int dname_from_str(const char *str, uint8_t *dst)
{
	size_t o = 0; /* write position of the current label's length byte */
	size_t llen = 0;
	const char *p = str;
	if (strcmp(str, ".") == 0 || str[0] == 0) {
		dst[0] = 0;
		return 1;
	}
	for (;;) {
		if (*p == 0 || *p == '.') {
			if (llen == 0) {
				if (*p == 0 && o > 0)
					break;	   /* trailing dot already closed the label */
				return SOV_EPARSE; /* empty label */
			}
			dst[o] = (uint8_t)llen;
			o += llen + 1;
			llen = 0;
			if (*p == 0)
				break;
			p++;
			if (*p == 0)
				break;
			continue;
		}
		int c = (unsigned char)*p++;
		if (c == '\\') {
			if (p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' &&
			    p[2] >= '0' && p[2] <= '9') {
				c = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
				if (c > 255)
					return SOV_EPARSE;
				p += 3;
			} else if (*p) {
				c = (unsigned char)*p++;
			} else {
				return SOV_EPARSE;
			}
		}
		if (llen >= DNAME_MAXLABEL || o + llen + 2 >= DNAME_MAXLEN)
			return SOV_EPARSE;
		dst[o + 1 + llen] = lower_byte((uint8_t)c);
		llen++;
	}
	if (o + 1 > DNAME_MAXLEN)
		return SOV_EPARSE;
	dst[o] = 0;
	return (int)(o + 1);
}
