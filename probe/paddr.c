#include "probe/paddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static int parse_port(const char *s, uint16_t *out)
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

int probe_addr_parse(const char *text, uint16_t default_port, sov_sockaddr_t *out)
{
	int rc = SOV_EINVAL;
	char host[INET6_ADDRSTRLEN + 1];
	uint16_t port = default_port;
	const char *colon = strchr(text, ':');
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL)
			goto finish;
		hlen = (size_t)(close - text - 1);
		if (hlen >= sizeof(host))
			goto finish;
		memcpy(host, text + 1, hlen);
		host[hlen] = '\0';
		if (close[1] == ':') {
			if (parse_port(close + 2, &port) != SOV_OK)
				goto finish;
		} else if (close[1] != '\0') {
			goto finish;
		}
	} else if (colon != NULL && strchr(colon + 1, ':') == NULL) {
		/* exactly one colon: IPv4 with a port */
		hlen = (size_t)(colon - text);
		if (hlen >= sizeof(host))
			goto finish;
		memcpy(host, text, hlen);
		host[hlen] = '\0';
		if (parse_port(colon + 1, &port) != SOV_OK)
			goto finish;
	} else {
		if (strlen(text) >= sizeof(host))
			goto finish;
		strcpy(host, text);
	}

	struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		out->len = sizeof(*v4);
		rc = SOV_OK;
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		out->len = sizeof(*v6);
		rc = SOV_OK;
	}
finish:
	return rc;
}

void probe_addr_set_port(sov_sockaddr_t *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

uint16_t probe_addr_port(const sov_sockaddr_t *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return 0;
}

const char *probe_addr_ip(const sov_sockaddr_t *a, char *buf, size_t cap)
{
	const void *src = a->ss.ss_family == AF_INET6
			      ? (const void *)&((const struct sockaddr_in6 *)&a->ss)->sin6_addr
			      : (const void *)&((const struct sockaddr_in *)&a->ss)->sin_addr;
	if (inet_ntop(a->ss.ss_family, src, buf, (socklen_t)cap) == NULL)
		snprintf(buf, cap, "?");
	return buf;
}

const char *probe_addr_str(const sov_sockaddr_t *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	probe_addr_ip(a, ip, sizeof(ip));
	if (a->ss.ss_family == AF_INET6)
		snprintf(buf, cap, "[%s]:%u", ip, (unsigned)probe_addr_port(a));
	else
		snprintf(buf, cap, "%s:%u", ip, (unsigned)probe_addr_port(a));
	return buf;
}
