#include "common/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

/* INET6_ADDRSTRLEN (46) plus room for a scope we refuse anyway. */
#define ADDR_IP_TEXT_MAX 64

/* Parses a decimal port 1..65535 with no sign, no spaces, no leading "0x". */
static int port_parse(const char *s, uint16_t *out)
{
	if (*s == '\0' || strlen(s) > 5)
		return SOV_EINVAL;
	unsigned v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return SOV_EINVAL;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v == 0 || v > 65535)
		return SOV_EINVAL;
	*out = (uint16_t)v;
	return SOV_OK;
}

static int addr_fill(const char *ip, bool v6, uint16_t port, sov_sockaddr_t *out)
{
	memset(out, 0, sizeof(*out));
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
		if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) != 1)
			return SOV_EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		out->len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
		if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1)
			return SOV_EINVAL;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		out->len = sizeof(*sin);
	}
	return SOV_OK;
}

int addr_parse(const char *text, uint16_t default_port, sov_sockaddr_t *out)
{
	char ip[ADDR_IP_TEXT_MAX];
	uint16_t port = default_port;
	int ret = SOV_EINVAL;

	if (text == NULL || out == NULL || *text == '\0')
		goto finish;

	if (text[0] == '[') {
		/* "[v6]" or "[v6]:port" */
		const char *close = strchr(text, ']');
		if (close == NULL || (size_t)(close - text - 1) >= sizeof(ip) || close == text + 1)
			goto finish;
		memcpy(ip, text + 1, (size_t)(close - text - 1));
		ip[close - text - 1] = '\0';
		if (close[1] == ':') {
			if (port_parse(close + 2, &port) != SOV_OK)
				goto finish;
		} else if (close[1] != '\0') {
			goto finish;
		}
		ret = addr_fill(ip, true, port, out);
		goto finish;
	}

	const char *colon = strchr(text, ':');
	if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		/* Two or more colons without brackets: a bare IPv6 address, no port
		 * (":53" after a bare v6 address would be ambiguous, hence brackets). */
		if (strlen(text) >= sizeof(ip))
			goto finish;
		ret = addr_fill(text, true, port, out);
		goto finish;
	}
	if (colon != NULL) {
		if ((size_t)(colon - text) >= sizeof(ip) || colon == text)
			goto finish;
		memcpy(ip, text, (size_t)(colon - text));
		ip[colon - text] = '\0';
		if (port_parse(colon + 1, &port) != SOV_OK)
			goto finish;
		ret = addr_fill(ip, false, port, out);
		goto finish;
	}
	if (strlen(text) >= sizeof(ip))
		goto finish;
	ret = addr_fill(text, false, port, out);

finish:
	return ret;
}

const char *addr_format_ip(const struct sockaddr *sa, char *buf, size_t cap)
{
	if (cap == 0)
		return buf;
	buf[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
		if (inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)cap) == NULL)
			buf[0] = '\0';
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, buf, (socklen_t)cap) == NULL)
			buf[0] = '\0';
	} else {
		snprintf(buf, cap, "<family %d>", (int)sa->sa_family);
	}
	return buf;
}

const char *addr_format(const struct sockaddr *sa, char *buf, size_t cap)
{
	char ip[ADDR_IP_TEXT_MAX];
	addr_format_ip(sa, ip, sizeof(ip));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
		snprintf(buf, cap, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		snprintf(buf, cap, "[%s]:%u", ip, (unsigned)ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, cap, "%s", ip);
	}
	return buf;
}

void addr_set_port(sov_sockaddr_t *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

uint16_t addr_port(const sov_sockaddr_t *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return 0;
}

bool addr_same(const struct sockaddr *a, const sov_sockaddr_t *b, bool with_port)
{
	if (a->sa_family != b->ss.ss_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)(const void *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)(const void *)&b->ss;
		return (!with_port || x->sin_port == y->sin_port) &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)(const void *)&b->ss;
		return (!with_port || x->sin6_port == y->sin6_port) &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}
