/* net.c — IP networks: parse, contain, format, mask. */
#include "common/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

void net_mask(uint8_t *addr, int family, unsigned prefix)
{
	unsigned bytes = family == AF_INET ? 4 : 16;

	for (unsigned i = 0; i < bytes; i++) {
		if (prefix >= 8 * (i + 1))
			continue;
		if (prefix <= 8 * i)
			addr[i] = 0;
		else
			addr[i] &= (uint8_t)(0xFF << (8 - (prefix - 8 * i)));
	}
}

bool net_contains(const sov_net_t *net, int family, const uint8_t *addr)
{
	if (net->family != family)
		return false;
	unsigned full = net->prefix / 8, rest = net->prefix % 8;
	if (memcmp(net->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xFF << (8 - rest));
	return (addr[full] & mask) == net->addr[full];
}

int net_parse(const char *text, sov_net_t *out)
{
	int rc = SOV_EINVAL;
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	unsigned long prefix = 0;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(buf))
		goto finish;
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = AF_INET6;
	else
		goto finish;
	unsigned maxbits = out->family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		prefix = maxbits;
	} else {
		const char *p = slash + 1;
		/* Digits only: strtoul would accept " 24", "+24" and "0x18". */
		if (*p == '\0' || strlen(p) > 3)
			goto finish;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				goto finish;
			prefix = prefix * 10 + (unsigned long)(*p - '0');
		}
		if (prefix > maxbits)
			goto finish;
	}
	out->prefix = (uint8_t)prefix;
	uint8_t masked[16];
	memcpy(masked, out->addr, sizeof(masked));
	net_mask(masked, out->family, out->prefix);
	if (memcmp(masked, out->addr, sizeof(masked)) != 0)
		goto finish; /* host bits set: "192.0.2.1/24" is a typo, not a network */
	rc = SOV_OK;
finish:
	if (rc != SOV_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

const char *net_format(const sov_net_t *n, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(n->family, n->addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(buf, cap, "%s/%u", a, n->prefix);
	return buf;
}
