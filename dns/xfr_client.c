/* xfr_client.c — SOA checks and transfers from a primary (xfr_client.h).
 *
 * Plain blocking sockets with poll() for every wait, so that a primary that
 * stops sending costs at most the timeout, and a primary that never stops
 * is cut by max_ms and the record cap (xfr_in.h).
 */
#include "dns/xfr_client.h"

#include <errno.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "wire/dname.h"
#include "wire/wire.h"

#define MSG_MAX 65535

size_t xfr_client_query(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *origin,
			uint16_t qtype, uint32_t serial)
{
	size_t nl = dname_len(origin);
	bool soa = qtype == DNS_TYPE_SOA;
	size_t need = 12 + nl + 4 + (qtype == DNS_TYPE_IXFR ? 2 + 10 + 22 : 0) + (soa ? 15 : 0);
	if (cap < need)
		return 0;
	memset(buf, 0, 12);
	wire_write_u16(buf, id);
	wire_write_u16(buf + 4, 1); /* QDCOUNT */
	memcpy(buf + 12, origin, nl);
	size_t p = 12 + nl;
	wire_write_u16(buf + p, qtype);
	wire_write_u16(buf + p + 2, DNS_CLASS_IN);
	p += 4;
	if (qtype == DNS_TYPE_IXFR) {
		/* Authority: our SOA; only its serial counts (RFC 1995 §3). */
		wire_write_u16(buf + 8, 1); /* NSCOUNT */
		wire_write_u16(buf + p, 0xC00C);
		wire_write_u16(buf + p + 2, DNS_TYPE_SOA);
		wire_write_u16(buf + p + 4, DNS_CLASS_IN);
		wire_write_u32(buf + p + 6, 0);
		wire_write_u16(buf + p + 10, 22);
		p += 12;
		buf[p++] = 0; /* MNAME . */
		buf[p++] = 0; /* RNAME . */
		wire_write_u32(buf + p, serial);
		memset(buf + p + 4, 0, 16);
		p += 20;
	}
	if (soa) {
		/* OPT with an empty EXPIRE option (RFC 7314 §2): a secondary
		 * primary tells us how long its own copy is still good. */
		wire_write_u16(buf + 10, 1); /* ARCOUNT */
		buf[p] = 0;
		wire_write_u16(buf + p + 1, DNS_TYPE_OPT);
		wire_write_u16(buf + p + 3, 1232);
		wire_write_u32(buf + p + 5, 0);
		wire_write_u16(buf + p + 9, 4);
		wire_write_u16(buf + p + 11, EDNS_OPT_EXPIRE);
		wire_write_u16(buf + p + 13, 0);
		p += 15;
	}
	return p;
}

static int set_err(char *err, size_t cap, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int set_err(char *err, size_t cap, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return r;
}

static int timeout_of(const struct xfr_peer *p)
{
	return p->timeout_ms > 0 ? p->timeout_ms : XFR_CLIENT_IO_TIMEOUT_MS;
}

/* Set by xfr_client_stop(): every wait gives up (shutdown). */
static _Atomic bool stopping;

void xfr_client_stop(void)
{
	atomic_store(&stopping, true);
}

/* Waits until fd is ready for `events` or deadline (monotonic ms), in
 * slices of at most 200 ms so that xfr_client_stop() is seen quickly. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - clock_mono_ms();
		if (left <= 0 || atomic_load(&stopping))
			return SOV_EIO;
		struct pollfd pfd = {fd, events, 0};
		int n = poll(&pfd, 1, left > 200 ? 200 : (int)left);
		if (n > 0)
			return SOV_OK;
		if (n < 0 && errno != EINTR)
			return SOV_ESYS;
	}
}

/* Binds fd to p->source (any port), when it has one of fd's family. */
static int bind_source(const struct xfr_peer *p, int fd, char *err, size_t cap)
{
	if (p->source == NULL || p->source->ss.ss_family != p->addr.ss.ss_family)
		return SOV_OK;
	sov_sockaddr_t s = *p->source;
	addr_set_port(&s, 0);
	if (bind(fd, (const struct sockaddr *)&s.ss, s.len) == 0)
		return SOV_OK;
	char a[ADDR_STR_MAX];
	int e = errno;
	addr_format((const struct sockaddr *)&s.ss, a, sizeof(a));
	return set_err(err, cap, SOV_ESYS, "cannot send from %s: %s", a, strerror(e));
}

static int tcp_connect(const struct xfr_peer *p, int64_t deadline, char *err, size_t cap)
{
	char a[ADDR_STR_MAX];
	addr_format((const struct sockaddr *)&p->addr.ss, a, sizeof(a));
	int fd = socket(p->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return set_err(err, cap, SOV_ESYS, "socket: %s", strerror(errno));
	int br = bind_source(p, fd, err, cap);
	if (br != SOV_OK) {
		close(fd);
		return br;
	}
	if (connect(fd, (const struct sockaddr *)&p->addr.ss, p->addr.len) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return set_err(err, cap, SOV_EIO, "connect to %s: %s", a, strerror(e));
	}
	int so = 0;
	socklen_t sl = sizeof(so);
	if (wait_fd(fd, POLLOUT, deadline) != SOV_OK ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) < 0 || so != 0) {
		close(fd);
		return set_err(err, cap, SOV_EIO, "connect to %s: %s", a,
			       so ? strerror(so) : "timed out");
	}
	return fd;
}

/* Reads exactly n bytes (0 on a clean EOF before the first byte). */
static int read_full(int fd, uint8_t *buf, size_t n, int64_t idle_ms, int64_t end, bool *eof)
{
	size_t got = 0;
	*eof = false;
	while (got < n) {
		int64_t deadline = clock_mono_ms() + idle_ms;
		if (deadline > end)
			deadline = end;
		if (wait_fd(fd, POLLIN, deadline) != SOV_OK)
			return SOV_EIO;
		ssize_t k = read(fd, buf + got, n - got);
		if (k == 0) {
			*eof = got == 0;
			return SOV_EIO;
		}
		if (k < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return SOV_EIO;
		}
		got += (size_t)k;
	}
	return SOV_OK;
}

static int write_full(int fd, const uint8_t *buf, size_t n, int64_t deadline)
{
	size_t put = 0;
	while (put < n) {
		if (wait_fd(fd, POLLOUT, deadline) != SOV_OK)
			return SOV_EIO;
		ssize_t k = write(fd, buf + put, n - put);
		if (k < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return SOV_EIO;
		}
		put += (size_t)k;
	}
	return SOV_OK;
}

/* Builds and signs a query; *tsig is ready to verify the reply. */
static int make_query(const struct xfr_peer *p, struct tsig_ctx *tsig, uint8_t *buf, size_t cap,
		      size_t *len, uint16_t id, const uint8_t *origin, uint16_t qtype,
		      uint32_t serial, char *err, size_t errcap)
{
	*len = xfr_client_query(buf, cap, id, origin, qtype, serial);
	if (*len == 0)
		return set_err(err, errcap, SOV_ESPACE, "query does not fit");
	if (p->key != NULL &&
	    tsig_sign(tsig, buf, len, cap, (uint64_t)(clock_unix_ms() / 1000), 0) != SOV_OK)
		return set_err(err, errcap, SOV_ESYS, "cannot sign the query");
	return SOV_OK;
}

/* Verifies the TSIG of a reply (when we signed) and strips it. */
static int verify(const struct xfr_peer *p, struct tsig_ctx *tsig, uint8_t *msg, size_t *len,
		  char *err, size_t errcap)
{
	if (p->key == NULL)
		return SOV_OK;
	char why[160] = "";
	int r =
	    tsig_verify_reply(tsig, msg, len, (uint64_t)(clock_unix_ms() / 1000), why, sizeof(why));
	if (r != SOV_OK)
		return set_err(err, errcap, SOV_EINVAL, "TSIG: %s", why[0] ? why : err_str(r));
	return SOV_OK;
}

/* The EXPIRE option (RFC 7314) of the reply's OPT, or -1: the records after
 * the answer section start at off. */
static int64_t reply_expire(const uint8_t *msg, size_t len, size_t off)
{
	unsigned ns = wire_read_u16(msg + 8), ar = wire_read_u16(msg + 10);
	uint8_t name[DNAME_MAXLEN];
	for (unsigned i = 0; i < ns + ar; i++) {
		if (dns_name_read(msg, len, &off, name) < 0 || len - off < 10)
			return -1;
		uint16_t type = wire_read_u16(msg + off);
		size_t rdlen = wire_read_u16(msg + off + 8);
		off += 10;
		if (rdlen > len - off)
			return -1;
		if (i >= ns && type == DNS_TYPE_OPT) {
			for (size_t p = off; p + 4 <= off + rdlen;) {
				uint16_t code = wire_read_u16(msg + p),
					 ol = wire_read_u16(msg + p + 2);
				p += 4;
				if (ol > off + rdlen - p)
					return -1;
				if (code == EDNS_OPT_EXPIRE && ol == 4)
					return wire_read_u32(msg + p);
				p += ol;
			}
		}
		off += rdlen;
	}
	return -1;
}

/* The serial of the zone's SOA in the answer of a reply msg[0..len), and
 * the EXPIRE option's value (-1: none). */
static int soa_reply_serial(const uint8_t *msg, size_t len, uint16_t id, const uint8_t *origin,
			    uint32_t *serial, int64_t *expire, char *err, size_t errcap)
{
	*expire = -1;
	if (len < 12 || wire_read_u16(msg) != id || !(msg[2] & 0x80))
		return set_err(err, errcap, SOV_EINVAL, "not a reply to our SOA query");
	unsigned rcode = msg[3] & 0xF;
	if (rcode != 0) {
		const ldns_lookup_table *t = ldns_lookup_by_id(ldns_rcodes, (int)rcode);
		return set_err(err, errcap, SOV_EINVAL, "the primary answered %s to SOA%s",
			       t ? t->name : "an error rcode",
			       rcode == 2   ? " (it has no usable copy either?)"
			       : rcode == 5 ? " (does its ACL allow our address, and our key?)"
					    : "");
	}
	if (!(msg[2] & 0x04))
		return set_err(err, errcap, SOV_EINVAL,
			       "the primary is not authoritative for the zone (no AA)");
	unsigned qd = wire_read_u16(msg + 4), an = wire_read_u16(msg + 6);
	size_t off = 12;
	uint8_t name[DNAME_MAXLEN];
	for (unsigned i = 0; i < qd; i++) {
		if (dns_name_read(msg, len, &off, name) < 0 || len - off < 4)
			return set_err(err, errcap, SOV_EINVAL, "SOA reply does not parse");
		off += 4;
	}
	bool found = false;
	for (unsigned i = 0; i < an; i++) {
		if (dns_name_read(msg, len, &off, name) < 0 || len - off < 10)
			return set_err(err, errcap, SOV_EINVAL, "SOA reply does not parse");
		uint16_t type = wire_read_u16(msg + off);
		uint16_t rdlen = wire_read_u16(msg + off + 8);
		off += 10;
		if (rdlen > len - off)
			return set_err(err, errcap, SOV_EINVAL, "SOA reply does not parse");
		size_t end = off + rdlen, r = off;
		off = end;
		if (found || type != DNS_TYPE_SOA || !dname_equal(name, origin))
			continue;
		uint8_t tmp[DNAME_MAXLEN];
		if (dns_name_read(msg, end, &r, tmp) < 0 || dns_name_read(msg, end, &r, tmp) < 0 ||
		    end - r < 20)
			return set_err(err, errcap, SOV_EINVAL, "SOA record does not parse");
		*serial = wire_read_u32(msg + r);
		found = true;
	}
	if (!found)
		return set_err(err, errcap, SOV_EINVAL, "the reply has no SOA for the zone");
	*expire = reply_expire(msg, len, off);
	return SOV_OK;
}

static int soa_tcp(const struct xfr_peer *p, const uint8_t *origin, uint32_t *serial,
		   int64_t *expire, char *err, size_t errcap)
{
	int64_t end = clock_mono_ms() + timeout_of(p);
	int fd = tcp_connect(p, end, err, errcap);
	if (fd < 0)
		return fd;
	struct tsig_ctx tsig;
	tsig_ctx_init(&tsig, p->key);
	uint16_t id;
	randombytes_buf(&id, sizeof(id));
	uint8_t *buf = malloc(2 + MSG_MAX);
	size_t len = 0;
	int r = buf ? make_query(p, &tsig, buf + 2, MSG_MAX, &len, id, origin, DNS_TYPE_SOA, 0, err,
				 errcap)
		    : SOV_ENOMEM;
	bool eof;
	if (r == SOV_OK) {
		wire_write_u16(buf, (uint16_t)len);
		r = write_full(fd, buf, len + 2, end);
		if (r == SOV_OK)
			r = read_full(fd, buf, 2, timeout_of(p), end, &eof);
		if (r == SOV_OK) {
			len = wire_read_u16(buf);
			r = read_full(fd, buf, len, timeout_of(p), end, &eof);
		}
		if (r != SOV_OK)
			set_err(err, errcap, r, "no SOA reply over TCP in %d ms", timeout_of(p));
	}
	if (r == SOV_OK)
		r = verify(p, &tsig, buf, &len, err, errcap);
	if (r == SOV_OK)
		r = soa_reply_serial(buf, len, id, origin, serial, expire, err, errcap);
	tsig_ctx_clear(&tsig);
	free(buf);
	close(fd);
	return r;
}

int xfr_client_soa(const struct xfr_peer *p, const uint8_t *origin, uint32_t *serial,
		   int64_t *expire, char *err, size_t errcap)
{
	*expire = -1;
	err[0] = 0;
	int fd = socket(p->addr.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return set_err(err, errcap, SOV_ESYS, "socket: %s", strerror(errno));
	int br = bind_source(p, fd, err, errcap);
	if (br != SOV_OK) {
		close(fd);
		return br;
	}
	if (connect(fd, (const struct sockaddr *)&p->addr.ss, p->addr.len) < 0) {
		int e = errno;
		close(fd);
		return set_err(err, errcap, SOV_EIO, "connect: %s", strerror(e));
	}
	struct tsig_ctx tsig;
	tsig_ctx_init(&tsig, p->key);
	uint16_t id;
	randombytes_buf(&id, sizeof(id));
	uint8_t q[600], reply[MSG_MAX];
	size_t qlen = 0;
	int r = make_query(p, &tsig, q, sizeof(q), &qlen, id, origin, DNS_TYPE_SOA, 0, err, errcap);
	int64_t end = clock_mono_ms() + timeout_of(p);
	bool truncated = false;
	if (r == SOV_OK && send(fd, q, qlen, 0) < 0)
		r = set_err(err, errcap, SOV_EIO, "send: %s", strerror(errno));
	while (r == SOV_OK) {
		if (wait_fd(fd, POLLIN, end) != SOV_OK) {
			r = set_err(err, errcap, SOV_EIO, "no SOA reply in %d ms", timeout_of(p));
			break;
		}
		ssize_t n = recv(fd, reply, sizeof(reply), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ICMP port unreachable shows here as ECONNREFUSED. */
			r = set_err(err, errcap, SOV_EIO, "recv: %s", strerror(errno));
			break;
		}
		if (n < 12 || wire_read_u16(reply) != id || !(reply[2] & 0x80))
			continue; /* not ours: keep waiting (RFC 5452 §9.1) */
		if (reply[2] & 0x02) {
			truncated = true;
			break;
		}
		size_t len = (size_t)n;
		r = verify(p, &tsig, reply, &len, err, errcap);
		if (r == SOV_OK)
			r = soa_reply_serial(reply, len, id, origin, serial, expire, err, errcap);
		break;
	}
	tsig_ctx_clear(&tsig);
	close(fd);
	if (truncated)
		return soa_tcp(p, origin, serial, expire, err, errcap);
	return r;
}

int xfr_client_transfer(const struct xfr_peer *p, struct xfr_in_params *ip, int64_t max_ms,
			enum xfr_in_kind *kind, uint32_t *serial, uint64_t *records,
			unsigned *rcode, char *err, size_t errcap)
{
	err[0] = 0;
	*kind = XFR_IN_NONE;
	*serial = 0;
	*records = 0;
	*rcode = 0;
	int64_t end = clock_mono_ms() + max_ms;
	int fd = tcp_connect(p, end, err, errcap);
	if (fd < 0)
		return fd;
	struct tsig_ctx tsig;
	tsig_ctx_init(&tsig, p->key);
	randombytes_buf(&ip->id, sizeof(ip->id));
	uint8_t *buf = malloc(2 + MSG_MAX);
	struct xfr_in *x = buf ? xfr_in_new(ip) : NULL;
	size_t len = 0;
	int r = x ? make_query(p, &tsig, buf + 2, MSG_MAX, &len, ip->id, ip->origin, ip->qtype,
			       ip->have_serial, err, errcap)
		  : set_err(err, errcap, SOV_ENOMEM, "out of memory");
	if (r == SOV_OK) {
		wire_write_u16(buf, (uint16_t)len);
		if (write_full(fd, buf, len + 2, end) != SOV_OK)
			r = set_err(err, errcap, SOV_EIO, "cannot send the query");
	}
	enum xfr_in_status st = XFR_IN_MORE;
	while (r == SOV_OK && st == XFR_IN_MORE) {
		bool eof = false;
		if (read_full(fd, buf, 2, timeout_of(p), end, &eof) != SOV_OK) {
			r = set_err(err, errcap, SOV_EIO, "%s after %u messages",
				    eof			     ? "the primary closed the connection"
				    : clock_mono_ms() >= end ? "the transfer took too long"
							     : "the primary stopped sending",
				    xfr_in_messages(x));
			break;
		}
		len = wire_read_u16(buf);
		if (len < 12 || read_full(fd, buf, len, timeout_of(p), end, &eof) != SOV_OK) {
			r = set_err(err, errcap, SOV_EIO, "a message cut short after %u messages",
				    xfr_in_messages(x));
			break;
		}
		/* An error reply may come unsigned (RFC 8945 §5.3: BADKEY...):
		 * report the rcode rather than the missing signature. */
		if ((buf[3] & 0xF) != 0 && xfr_in_messages(x) == 0 &&
		    wire_read_u16(buf) == ip->id) {
			st = xfr_in_feed(x, buf, len);
			break;
		}
		r = verify(p, &tsig, buf, &len, err, errcap);
		if (r == SOV_OK)
			st = xfr_in_feed(x, buf, len);
	}
	if (r == SOV_OK && st == XFR_IN_FAILED)
		r = set_err(err, errcap, SOV_EINVAL, "%s", xfr_in_error(x));
	if (r == SOV_OK && p->key != NULL && !tsig_reply_complete(&tsig))
		r = set_err(err, errcap, SOV_EINVAL, "TSIG: the last message was not signed");
	if (x != NULL) {
		*kind = xfr_in_kind(x);
		*serial = xfr_in_serial(x);
		*records = xfr_in_records(x);
		*rcode = xfr_in_rcode(x);
	}
	xfr_in_free(x);
	tsig_ctx_clear(&tsig);
	free(buf);
	close(fd);
	return r;
}
