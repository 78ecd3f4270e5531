/* sock.c — opening and checking the server's sockets (contract in server_int.h). */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "dns/server_int.h"

/* A reply socket buffer of 1 MiB absorbs bursts of ~10k small queries
 * while a worker is busy; the kernel caps it at net.core.rmem_max anyway. */
#define UDP_RCVBUF_BYTES (1 << 20)

#define TCP_BACKLOG 1024

bool addr_is_wildcard(const sov_sockaddr_t *a)
{
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
	return IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
}

static const char *proto_name(int type)
{
	return type == SOCK_DGRAM ? "udp" : "tcp";
}

/*
 * Checks that nobody else serves the address: every worker's socket uses
 * SO_REUSEPORT, which would also let us join the group of another process
 * of the same user (a second sovdns left running) and silently split the
 * traffic with it. A plain bind fails if anyone holds the port.
 */
int sock_check_free(const sov_sockaddr_t *a, int type)
{
	char buf[ADDR_STR_MAX];
	int ret = SOV_ESYS;
	int fd = socket(a->ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("net", "cannot create a %s socket for %s: %s", proto_name(type),
			addr_format((const struct sockaddr *)&a->ss, buf, sizeof(buf)),
			strerror(errno));
		goto finish;
	}
	int one = 1;
	if (a->ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (type == SOCK_STREAM) /* ignore TIME_WAIT leftovers of a previous run */
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0) {
		int e = errno;
		log_err("net", "cannot bind %s (%s): %s%s",
			addr_format((const struct sockaddr *)&a->ss, buf, sizeof(buf)),
			proto_name(type), strerror(e),
			e == EADDRINUSE ? " (another process serves it)" : "");
		goto finish;
	}
	ret = SOV_OK;
finish:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* One worker's socket for address a: UDP (bound) or TCP (listening). */
int sock_open(const sov_sockaddr_t *a, int type)
{
	char buf[ADDR_STR_MAX];
	int one = 1;
	const char *step = "socket";
	int fd = socket(a->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	step = "SO_REUSEPORT";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		goto fail;
	if (a->ss.ss_family == AF_INET6) {
		/* v4 and v6 are configured separately; a v6 wildcard must not
		 * swallow v4 traffic as mapped addresses */
		step = "IPV6_V6ONLY";
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
			goto fail;
	}
	if (type == SOCK_STREAM) {
		step = "SO_REUSEADDR";
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
			goto fail;
	} else {
		int rcvbuf = UDP_RCVBUF_BYTES;
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		/* Do not set DF nor trust ICMP "fragmentation needed": a forged
		 * ICMP could otherwise shrink our path MTU (as Knot and NSD do).
		 * With the default 1232-byte payload nothing fragments anyway. */
		if (a->ss.ss_family == AF_INET) {
#ifdef IP_PMTUDISC_OMIT
			int pmtu = IP_PMTUDISC_OMIT;
#else
			int pmtu = IP_PMTUDISC_DONT;
#endif
			(void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
		} else {
#ifdef IPV6_PMTUDISC_OMIT
			int pmtu = IPV6_PMTUDISC_OMIT;
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof(pmtu));
#endif
		}
		if (addr_is_wildcard(a)) {
			step = "PKTINFO";
			int r =
			    a->ss.ss_family == AF_INET
				? setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))
				: setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
			if (r != 0)
				goto fail;
		}
	}
	step = "bind";
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0)
		goto fail;
	if (type == SOCK_STREAM) {
		step = "listen";
		if (listen(fd, TCP_BACKLOG) != 0)
			goto fail;
	}
	return fd;

fail : {
	int e = errno;
	log_err("net", "cannot %s %s (%s): %s", step,
		addr_format((const struct sockaddr *)&a->ss, buf, sizeof(buf)), proto_name(type),
		strerror(e));
	if (fd >= 0)
		close(fd);
	return -1;
}
}
