#include "dns/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "common/err.h"
#include "common/log.h"
#include "dns/rrl.h"
#include "dns/snapshot.h"
#include "dns/wire.h"

/*
 * UDP receive batch: how many datagrams one recvmmsg() (and one sendmmsg())
 * moves. A syscall costs about as much as answering a simple query from
 * memory, so batching is where UDP throughput comes from; but the gain
 * flattens fast: at 32 the per-packet syscall share is ~3%, and going to
 * 64 or 128 buys little while it doubles the buffers each thread touches
 * per wake-up (32 x (4 KiB in + 4 KiB out) = 256 KiB, about one L2 cache)
 * and makes the first datagram of a batch wait for the last one's answer
 * before any reply leaves. recvmmsg() returns as soon as one datagram is
 * there (MSG_WAITFORONE) with whatever else is queued, so under light load
 * a batch holds one or two datagrams and costs nothing in latency.
 */
#define UDP_BATCH 32

/*
 * Each UDP socket has its own thread blocked in recvmmsg(), as in gdnsd:
 * no event loop between the kernel and the answer path (an epoll round
 * trip per wake-up costs as much as answering a query). The receive
 * timeout only bounds how long server_stop() waits for the thread to see
 * the stop flag.
 */
#define UDP_STOP_POLL_MS 200

/* Largest UDP query we accept: real queries are under 512 bytes, with EDNS
 * options (cookies, ECS, padding) well under 1 KiB; a 4 KiB buffer leaves
 * room for TSIG and future options. Larger datagrams arrive truncated
 * (MSG_TRUNC) and are dropped. */
#define UDP_QUERY_MAX 4096

/* Largest UDP reply: the configured edns_payload is capped at 4096. */
#define UDP_REPLY_MAX 4096

/* A reply socket buffer of 1 MiB absorbs bursts of ~10k small queries
 * while a worker is busy; the kernel caps it at net.core.rmem_max anyway. */
#define UDP_RCVBUF_BYTES (1 << 20)

#define TCP_BACKLOG 1024

/* Stop reading a TCP connection while this much output waits (a client that
 * pipelines but does not read must not make us buffer without bound);
 * reading resumes when the output has drained. */
#define TCP_OUTBUF_MAX (256 * 1024)

/* Input high-water mark: more than one whole frame (2 + 65535 bytes), so a
 * maximal query always fits, but bounded. */
#define TCP_INBUF_MAX (128 * 1024)

/* After accept() fails for lack of descriptors (EMFILE), pause accepting
 * for this long instead of spinning on a listener that stays readable. */
#define TCP_ACCEPT_PAUSE_MS 100

/* Control-message room for one IPv4 or IPv6 packet-info record. */
#define PKTINFO_CMSG_SPACE CMSG_SPACE(sizeof(struct in6_pktinfo))

struct worker;

union cmsg_buf {
	char buf[PKTINFO_CMSG_SPACE];
	struct cmsghdr align;
};

/* One UDP socket and the thread that serves it, with its own buffers and
 * counters (allocated once: the query path never allocates). */
struct udp_sock {
	int fd;
	bool pktinfo; /* bound to a wildcard address: reply from the query's destination */
	bool started;
	pthread_t thread;
	struct server *srv;
	unsigned id; /* worker index, for log lines */
	struct query_ctx ctx;
	struct mmsghdr rx_msgs[UDP_BATCH];
	struct iovec rx_iov[UDP_BATCH];
	struct sockaddr_storage rx_addr[UDP_BATCH];
	union cmsg_buf rx_ctl[UDP_BATCH];
	struct mmsghdr tx_msgs[UDP_BATCH];
	struct iovec tx_iov[UDP_BATCH];
	union cmsg_buf tx_ctl[UDP_BATCH];
	uint8_t rx_buf[UDP_BATCH][UDP_QUERY_MAX];
	uint8_t tx_buf[UDP_BATCH][UDP_REPLY_MAX];
};

struct tcp_conn {
	struct tcp_conn *prev, *next; /* the worker's list of open connections */
	struct worker *w;
	struct bufferevent *bev;
	struct sockaddr_storage peer;
	bool closing; /* the client has shut down its side: flush, then close */
	bool paused;  /* reading stopped until the output drains */
};

struct worker {
	struct server *srv;
	unsigned id;
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct event *stop_ev;
	struct event *accept_resume_ev;
	struct udp_sock **udp;          /* one per listen address, each its own thread */
	struct evconnlistener **tcp;    /* one per listen address */
	size_t nsock;
	struct tcp_conn *conns;
	struct query_ctx ctx;           /* TCP queries */

	/* TCP scratch: one frame in, one length-prefixed reply out. */
	uint8_t tcp_query[DNS_REPLY_MAX];
	uint8_t tcp_reply[2 + DNS_REPLY_MAX];
};

struct server {
	atomic_bool stopping; /* UDP threads exit when they see it */
	struct worker **workers;
	unsigned nworkers;
	atomic_uint tcp_conns; /* open TCP connections, all workers */
	uint32_t tcp_max_connections;   /* fallbacks when no snapshot is published */
	uint32_t tcp_idle_timeout_ms;
};

/* ---------------------------------------------------------------- UDP -- */

/* For a wildcard socket, makes the reply leave from the address the query
 * was sent to: otherwise, on a multi-homed host the kernel picks a source
 * by route and the client discards a reply from an address it did not ask. */
static void udp_reply_source(const struct msghdr *in, struct msghdr *out, union cmsg_buf *ctl)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c != NULL; c = CMSG_NXTHDR((struct msghdr *)in, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi, o;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(&o, 0, sizeof(o));
			o.ipi_spec_dst = pi.ipi_addr; /* ifindex 0: let routing pick the way out */
			memset(ctl, 0, sizeof(*ctl));
			out->msg_control = ctl->buf;
			out->msg_controllen = CMSG_SPACE(sizeof(o));
			struct cmsghdr *oc = CMSG_FIRSTHDR(out);
			oc->cmsg_level = IPPROTO_IP;
			oc->cmsg_type = IP_PKTINFO;
			oc->cmsg_len = CMSG_LEN(sizeof(o));
			memcpy(CMSG_DATA(oc), &o, sizeof(o));
			return;
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi, o;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(&o, 0, sizeof(o));
			o.ipi6_addr = pi.ipi6_addr;
			/* a link-local source is only meaningful with its interface */
			if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
				o.ipi6_ifindex = pi.ipi6_ifindex;
			memset(ctl, 0, sizeof(*ctl));
			out->msg_control = ctl->buf;
			out->msg_controllen = CMSG_SPACE(sizeof(o));
			struct cmsghdr *oc = CMSG_FIRSTHDR(out);
			oc->cmsg_level = IPPROTO_IPV6;
			oc->cmsg_type = IPV6_PKTINFO;
			oc->cmsg_len = CMSG_LEN(sizeof(o));
			memcpy(CMSG_DATA(oc), &o, sizeof(o));
			return;
		}
	}
}

/* Sends tx_msgs[0..count); a reply that cannot be sent is dropped (the
 * client retries), never retried here: a full socket buffer means we are
 * already behind. */
static void udp_send(struct udp_sock *us, unsigned count)
{
	unsigned sent = 0;
	while (sent < count) {
		int r = sendmmsg(us->fd, &us->tx_msgs[sent], count - sent, MSG_DONTWAIT);
		if (r > 0) {
			sent += (unsigned)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			us->ctx.stats.dropped += count - sent;
			LOG_RATELIMITED(1, log_warn("udp", "worker %u: send buffer full, dropped %u replies",
						    us->id, count - sent));
			return;
		}
		/* This one message failed (e.g. EPERM from a firewall rule,
		 * ENETUNREACH): skip it and send the rest. */
		int e = errno;
		char buf[ADDR_STR_MAX];
		LOG_RATELIMITED(1, log_warn("udp", "worker %u: reply to %s not sent: %s", us->id,
					    addr_format(us->tx_msgs[sent].msg_hdr.msg_name, buf, sizeof(buf)),
					    strerror(e)));
		us->ctx.stats.dropped++;
		sent++;
	}
}

/* Answers the n datagrams of one batch and sends the replies. */
static void udp_batch(struct udp_sock *us, unsigned n)
{
	unsigned out = 0;
	/* One read-side critical section per batch: the snapshot cannot be
	 * freed under us, and the cost (two counter updates) is paid once per
	 * up to 32 queries. A reload waits at most one batch. */
	snapshot_read_lock();
	const snapshot_t *snap = snapshot_current();
	uint64_t now_s = 0;
	if (snap != NULL && snap->rrl != NULL) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* once per batch */
		now_s = (uint64_t)ts.tv_sec;
	}
	for (unsigned i = 0; i < n; i++) {
		struct msghdr *h = &us->rx_msgs[i].msg_hdr;
		if (snap == NULL || (h->msg_flags & MSG_TRUNC)) {
			us->ctx.stats.dropped++;
			continue;
		}
		size_t len = query_process(&us->ctx, snap, (const struct sockaddr *)&us->rx_addr[i],
					   DNS_UDP, us->rx_buf[i], us->rx_msgs[i].msg_len, us->tx_buf[i],
					   UDP_REPLY_MAX);
		if (len == 0)
			continue;
		if (snap->rrl != NULL && !us->ctx.last.cookie_valid) {
			enum rrl_action act =
			    rrl_account(snap->rrl, (const struct sockaddr *)&us->rx_addr[i],
					(enum rrl_category)us->ctx.last.rrl_category, now_s);
			if (act == RRL_DROP) {
				us->ctx.stats.rrl_dropped++;
				continue;
			}
			if (act == RRL_SLIP) {
				us->ctx.stats.rrl_slipped++;
				len = rrl_slip_reply(us->tx_buf[i], len, us->ctx.last.question_end);
			}
		}
		struct msghdr *o = &us->tx_msgs[out].msg_hdr;
		us->tx_iov[out].iov_base = us->tx_buf[i];
		us->tx_iov[out].iov_len = len;
		o->msg_name = &us->rx_addr[i];
		o->msg_namelen = h->msg_namelen;
		o->msg_iov = &us->tx_iov[out];
		o->msg_iovlen = 1;
		o->msg_control = NULL;
		o->msg_controllen = 0;
		o->msg_flags = 0;
		if (us->pktinfo)
			udp_reply_source(h, o, &us->tx_ctl[out]);
		out++;
	}
	snapshot_read_unlock();
	if (out > 0)
		udp_send(us, out);
}

/* Resets the receive headers the kernel changed (only the first `used`). */
static void udp_rx_reset(struct udp_sock *us, unsigned used)
{
	for (unsigned i = 0; i < used; i++) {
		struct msghdr *h = &us->rx_msgs[i].msg_hdr;
		h->msg_namelen = sizeof(us->rx_addr[i]);
		h->msg_control = us->pktinfo ? us->rx_ctl[i].buf : NULL;
		h->msg_controllen = us->pktinfo ? sizeof(us->rx_ctl[i].buf) : 0;
		h->msg_flags = 0;
	}
}

static void *udp_main(void *arg)
{
	struct udp_sock *us = arg;
	unsigned used = UDP_BATCH;
	snapshot_thread_register();
	while (!atomic_load_explicit(&us->srv->stopping, memory_order_relaxed)) {
		udp_rx_reset(us, used);
		int n = recvmmsg(us->fd, us->rx_msgs, UDP_BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0) {
			used = 0;
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				int e = errno;
				LOG_RATELIMITED(1, log_warn("udp", "worker %u: receive failed: %s", us->id,
							    strerror(e)));
			}
			continue; /* timeout: look at the stop flag */
		}
		used = (unsigned)n;
		udp_batch(us, (unsigned)n);
	}
	snapshot_thread_unregister();
	return NULL;
}

/* ---------------------------------------------------------------- TCP -- */

static void tcp_close(struct tcp_conn *c)
{
	struct worker *w = c->w;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev); /* closes the socket */
	atomic_fetch_sub(&w->srv->tcp_conns, 1);
	free(c);
}

/*
 * Answers every complete frame in the input buffer (RFC 7766 §6.2.1.1:
 * pipelined queries are processed as they arrive; replies go out in
 * order since we answer synchronously). Returns false if the connection
 * was closed.
 */
static bool tcp_process(struct tcp_conn *c)
{
	struct worker *w = c->w;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *outb = bufferevent_get_output(c->bev);
	bool bad = false;

	snapshot_read_lock();
	const snapshot_t *snap = snapshot_current();
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		if (avail < 2)
			break;
		if (evbuffer_get_length(outb) >= TCP_OUTBUF_MAX) {
			bufferevent_disable(c->bev, EV_READ);
			c->paused = true;
			break;
		}
		uint8_t hdr[2];
		evbuffer_copyout(in, hdr, 2);
		size_t flen = ((size_t)hdr[0] << 8) | hdr[1];
		if (flen < DNS_HEADER_LEN) {
			/* A frame that cannot hold a DNS header: the stream is not
			 * DNS (or is out of sync), so nothing after it can be
			 * trusted either. Replies to the frames before it still
			 * go out; then the connection closes. */
			w->ctx.stats.dropped++;
			evbuffer_drain(in, avail);
			if (evbuffer_get_length(outb) == 0) {
				bad = true;
			} else {
				c->closing = true;
				bufferevent_disable(c->bev, EV_READ);
			}
			break;
		}
		if (avail < 2 + flen)
			break;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, w->tcp_query, flen);
		size_t rlen = 0;
		if (snap != NULL)
			rlen = query_process(&w->ctx, snap, (const struct sockaddr *)&c->peer, DNS_TCP,
					     w->tcp_query, flen, w->tcp_reply + 2, DNS_REPLY_MAX);
		else
			w->ctx.stats.dropped++;
		if (rlen == 0)
			continue;
		w->tcp_reply[0] = (uint8_t)(rlen >> 8);
		w->tcp_reply[1] = (uint8_t)rlen;
		if (evbuffer_add(outb, w->tcp_reply, rlen + 2) != 0) {
			bad = true; /* out of memory: drop this client, not the server */
			break;
		}
	}
	snapshot_read_unlock();

	if (bad) {
		tcp_close(c);
		return false;
	}
	return true;
}

static void tcp_on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	tcp_process(arg);
}

/* Called when the output has drained completely (low-water mark 0). */
static void tcp_on_write(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;
	(void)bev;
	if (c->closing) {
		tcp_close(c);
		return;
	}
	if (c->paused) {
		c->paused = false;
		bufferevent_enable(c->bev, EV_READ);
		tcp_process(c); /* frames that arrived while we were not reading */
	}
}

static void tcp_on_event(struct bufferevent *bev, short events, void *arg)
{
	struct tcp_conn *c = arg;
	if ((events & BEV_EVENT_EOF) && !(events & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		/* Half-close after the last query (RFC 7766 §6.2.4 allows it):
		 * deliver the pending replies before closing. */
		c->closing = true;
		bufferevent_disable(bev, EV_READ);
		return;
	}
	/* EOF with nothing pending, an error, or the idle timeout (RFC 7766
	 * §6.2.3: the server closes idle connections). */
	tcp_close(c);
}

static struct timeval ms_to_tv(uint32_t ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	return tv;
}

static void tcp_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *peer,
			  int peerlen, void *arg)
{
	struct worker *w = arg;
	struct server *srv = w->srv;
	struct tcp_conn *c = NULL;
	uint32_t max = srv->tcp_max_connections;
	uint32_t idle_ms = srv->tcp_idle_timeout_ms;
	(void)l;

	/* The limits come from the live snapshot, so a reload applies them to
	 * new connections without a restart. */
	snapshot_read_lock();
	const snapshot_t *snap = snapshot_current();
	if (snap != NULL && snap->conf != NULL) {
		max = snap->conf->tcp_max_connections;
		idle_ms = snap->conf->tcp_idle_timeout_ms;
	}
	snapshot_read_unlock();

	if (atomic_fetch_add(&srv->tcp_conns, 1) >= max) {
		/* Full: close at once. A client that cannot connect retries or
		 * falls back to another server; queuing it would only hold a
		 * descriptor and delay that decision. */
		atomic_fetch_sub(&srv->tcp_conns, 1);
		close(fd);
		LOG_RATELIMITED(1, log_warn("tcp", "connection limit (%u) reached: refusing new "
						   "connections", max));
		return;
	}

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->w = w;
	if (peerlen > 0 && (size_t)peerlen <= sizeof(c->peer))
		memcpy(&c->peer, peer, (size_t)peerlen);
	c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		goto fail;

	/* Replies are written whole; Nagle would only hold back the second of
	 * two pipelined replies waiting for an ACK. */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	struct timeval tv = ms_to_tv(idle_ms);
	bufferevent_setcb(c->bev, tcp_on_read, tcp_on_write, tcp_on_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_setwatermark(c->bev, EV_READ, 0, TCP_INBUF_MAX);
	if (bufferevent_enable(c->bev, EV_READ) != 0) {
		bufferevent_free(c->bev); /* closes fd */
		fd = -1;
		goto fail;
	}
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	return;

fail:
	if (c == NULL || c->bev == NULL) {
		if (fd >= 0)
			close(fd);
	}
	free(c);
	atomic_fetch_sub(&srv->tcp_conns, 1);
	LOG_RATELIMITED(1, log_warn("tcp", "worker %u: cannot set up a connection: out of memory",
				    w->id));
}

static void tcp_on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	for (size_t k = 0; k < w->nsock; k++)
		evconnlistener_enable(w->tcp[k]);
}

static void tcp_on_accept_error(struct evconnlistener *l, void *arg)
{
	struct worker *w = arg;
	int e = EVUTIL_SOCKET_ERROR();
	(void)l;
	LOG_RATELIMITED(1, log_warn("tcp", "worker %u: accept failed: %s", w->id, strerror(e)));
	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		/* The pending connection stays in the queue and the listener
		 * stays readable: without a pause this would spin. */
		for (size_t k = 0; k < w->nsock; k++)
			evconnlistener_disable(w->tcp[k]);
		struct timeval tv = ms_to_tv(TCP_ACCEPT_PAUSE_MS);
		event_add(w->accept_resume_ev, &tv);
	}
}

/* ------------------------------------------------------------ sockets -- */

static bool addr_is_wildcard(const sov_sockaddr_t *a)
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
static int sock_check_free(const sov_sockaddr_t *a, int type)
{
	char buf[ADDR_STR_MAX];
	int ret = SOV_ESYS;
	int fd = socket(a->ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("net", "cannot create a %s socket for %s: %s", proto_name(type),
			addr_format((const struct sockaddr *)&a->ss, buf, sizeof(buf)), strerror(errno));
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
			addr_format((const struct sockaddr *)&a->ss, buf, sizeof(buf)), proto_name(type),
			strerror(e), e == EADDRINUSE ? " (another process serves it)" : "");
		goto finish;
	}
	ret = SOV_OK;
finish:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* One worker's socket for address a: UDP (bound) or TCP (listening). */
static int sock_open(const sov_sockaddr_t *a, int type)
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
			int r = a->ss.ss_family == AF_INET
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

fail: {
	int e = errno;
	log_err("net", "cannot %s %s (%s): %s", step,
		addr_format((const struct sockaddr *)&a->ss, buf, sizeof(buf)), proto_name(type),
		strerror(e));
	if (fd >= 0)
		close(fd);
	return -1;
}
}

/* ------------------------------------------------------------ workers -- */

static void worker_on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	event_base_loopbreak(w->base);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	snapshot_thread_register();
	log_debug("dns", "worker %u running", w->id);
	if (event_base_dispatch(w->base) < 0)
		log_err("dns", "worker %u: event loop failed", w->id);
	snapshot_thread_unregister();
	return NULL;
}

static void worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	while (w->conns != NULL)
		tcp_close(w->conns);
	for (size_t k = 0; k < w->nsock; k++) {
		if (w->tcp && w->tcp[k])
			evconnlistener_free(w->tcp[k]); /* closes its socket */
		if (w->udp && w->udp[k]) {
			if (w->udp[k]->fd >= 0)
				close(w->udp[k]->fd);
			free(w->udp[k]);
		}
	}
	free(w->tcp);
	free(w->udp);
	if (w->accept_resume_ev)
		event_free(w->accept_resume_ev);
	if (w->stop_ev)
		event_free(w->stop_ev);
	if (w->base)
		event_base_free(w->base);
	free(w);
}

static int worker_new(struct server *srv, unsigned id, const config_t *conf, struct worker **out)
{
	int ret = SOV_ESYS;
	struct worker *w = NULL;
	void *mem = NULL;

	/* Cache-line aligned so that one worker's counters never share a line
	 * with another's. */
	if (posix_memalign(&mem, 64, sizeof(*w)) != 0) {
		log_err("dns", "out of memory for worker %u", id);
		ret = SOV_ENOMEM;
		goto finish;
	}
	w = mem;
	memset(w, 0, sizeof(*w));
	w->srv = srv;
	w->id = id;
	w->nsock = conf->listen_count;

	w->udp = calloc(w->nsock, sizeof(*w->udp));
	w->tcp = calloc(w->nsock, sizeof(*w->tcp));
	w->base = event_base_new();
	if (w->udp == NULL || w->tcp == NULL || w->base == NULL) {
		log_err("dns", "worker %u: cannot allocate its event loop", id);
		ret = SOV_ENOMEM;
		goto finish;
	}
	w->stop_ev = event_new(w->base, -1, 0, worker_on_stop, w);
	w->accept_resume_ev = evtimer_new(w->base, tcp_on_accept_resume, w);
	if (w->stop_ev == NULL || w->accept_resume_ev == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}

	for (size_t k = 0; k < w->nsock; k++) {
		const sov_sockaddr_t *a = &conf->listen[k];
		/* Cache-line aligned: its counters never share a line with
		 * another thread's. */
		if (posix_memalign(&mem, 64, sizeof(struct udp_sock)) != 0) {
			ret = SOV_ENOMEM;
			goto finish;
		}
		struct udp_sock *us = mem;
		memset(us, 0, sizeof(*us));
		w->udp[k] = us;
		us->srv = srv;
		us->id = id;
		us->pktinfo = addr_is_wildcard(a);
		for (unsigned i = 0; i < UDP_BATCH; i++) {
			us->rx_iov[i].iov_base = us->rx_buf[i];
			us->rx_iov[i].iov_len = UDP_QUERY_MAX;
			us->rx_msgs[i].msg_hdr.msg_name = &us->rx_addr[i];
			us->rx_msgs[i].msg_hdr.msg_iov = &us->rx_iov[i];
			us->rx_msgs[i].msg_hdr.msg_iovlen = 1;
		}
		us->fd = sock_open(a, SOCK_DGRAM);
		if (us->fd < 0)
			goto finish;
		/* Blocking, with a receive timeout: see UDP_STOP_POLL_MS. */
		struct timeval tv = {0, UDP_STOP_POLL_MS * 1000};
		int fl = fcntl(us->fd, F_GETFL);
		if (fl < 0 || fcntl(us->fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ||
		    setsockopt(us->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
			log_err("dns", "worker %u: cannot set up its UDP socket: %s", id,
				strerror(errno));
			goto finish;
		}
		int tfd = sock_open(a, SOCK_STREAM);
		if (tfd < 0)
			goto finish;
		/* backlog 0: the socket is already listening */
		w->tcp[k] = evconnlistener_new(w->base, tcp_on_accept, w, LEV_OPT_CLOSE_ON_FREE, 0, tfd);
		if (w->tcp[k] == NULL) {
			close(tfd);
			ret = SOV_ENOMEM;
			goto finish;
		}
		evconnlistener_set_error_cb(w->tcp[k], tcp_on_accept_error);
	}
	*out = w;
	w = NULL;
	ret = SOV_OK;

finish:
	worker_free(w);
	return ret;
}

static void evthread_setup(void)
{
	/* Gives each event base a lock and a wake-up channel, which is what
	 * lets server_stop() activate a worker's stop event from the main
	 * thread. The locks are uncontended: one thread per base. */
	if (evthread_use_pthreads() != 0)
		log_err("dns", "libevent: cannot enable pthreads support");
}

int server_start(const config_t *conf, server_t **out)
{
	static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
	int ret = SOV_ESYS;
	struct server *srv = NULL;
	sigset_t all, old;
	bool masked = false;

	*out = NULL;
	pthread_once(&evthread_once, evthread_setup);

	srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}
	atomic_init(&srv->tcp_conns, 0);
	srv->tcp_max_connections = conf->tcp_max_connections;
	srv->tcp_idle_timeout_ms = conf->tcp_idle_timeout_ms;
	srv->nworkers = conf->threads;
	if (srv->nworkers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		srv->nworkers = n > 0 ? (unsigned)n : 1;
	}
	if (conf->listen_count == 0) {
		log_err("dns", "no listen address configured");
		ret = SOV_EINVAL;
		goto finish;
	}

	for (size_t k = 0; k < conf->listen_count; k++) {
		if (sock_check_free(&conf->listen[k], SOCK_DGRAM) != SOV_OK ||
		    sock_check_free(&conf->listen[k], SOCK_STREAM) != SOV_OK)
			goto finish;
	}

	srv->workers = calloc(srv->nworkers, sizeof(*srv->workers));
	if (srv->workers == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}
	for (unsigned i = 0; i < srv->nworkers; i++) {
		ret = worker_new(srv, i, conf, &srv->workers[i]);
		if (ret != SOV_OK)
			goto finish;
	}

	/* Workers never handle signals: the main thread waits for them with
	 * sigwaitinfo(), and a signal delivered to a worker would interrupt
	 * its system calls for nothing. Threads inherit the creator's mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	masked = true;
	for (unsigned i = 0; i < srv->nworkers; i++) {
		struct worker *w = srv->workers[i];
		int e = pthread_create(&w->thread, NULL, worker_main, w);
		if (e != 0) {
			log_err("dns", "cannot start worker %u: %s", i, strerror(e));
			ret = SOV_ESYS;
			goto finish;
		}
		w->started = true;
		for (size_t k = 0; k < w->nsock; k++) {
			struct udp_sock *us = w->udp[k];
			e = pthread_create(&us->thread, NULL, udp_main, us);
			if (e != 0) {
				log_err("dns", "cannot start UDP thread of worker %u: %s", i,
					strerror(e));
				ret = SOV_ESYS;
				goto finish;
			}
			us->started = true;
		}
	}
	*out = srv;
	srv = NULL;
	ret = SOV_OK;

finish:
	if (masked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	server_stop(srv);
	return ret;
}

void server_stop(server_t *srv)
{
	if (srv == NULL)
		return;
	/* A stop event rather than a bare event_base_loopbreak() from here:
	 * loopbreak only sets a flag that event_base_loop() clears when it
	 * starts, so a worker not yet in its loop would miss it and never
	 * exit. An activated event waits until the loop runs it, and its
	 * callback breaks the loop from inside. */
	for (unsigned i = 0; srv->workers && i < srv->nworkers; i++) {
		struct worker *w = srv->workers[i];
		if (w != NULL && w->started)
			event_active(w->stop_ev, EV_READ, 1);
	}
	atomic_store(&srv->stopping, true);
	for (unsigned i = 0; srv->workers && i < srv->nworkers; i++) {
		struct worker *w = srv->workers[i];
		if (w != NULL && w->started)
			pthread_join(w->thread, NULL);
		for (size_t k = 0; w != NULL && w->udp && k < w->nsock; k++)
			if (w->udp[k] && w->udp[k]->started)
				pthread_join(w->udp[k]->thread, NULL);
	}
	for (unsigned i = 0; srv->workers && i < srv->nworkers; i++)
		worker_free(srv->workers[i]);
	free(srv->workers);
	free(srv);
}

static void stats_add(struct query_stats *out, const struct query_stats *s)
{
	for (size_t k = 0; k < sizeof(s->queries) / sizeof(s->queries[0]); k++)
		out->queries[k] += s->queries[k];
	for (size_t k = 0; k < sizeof(s->rcode) / sizeof(s->rcode[0]); k++)
		out->rcode[k] += s->rcode[k];
	out->dropped += s->dropped;
	out->truncated += s->truncated;
	out->referrals += s->referrals;
	out->nodata += s->nodata;
	out->service_answers += s->service_answers;
	out->fail_open += s->fail_open;
	out->rrl_dropped += s->rrl_dropped;
	out->rrl_slipped += s->rrl_slipped;
}

void server_stats(const server_t *srv, struct query_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; srv != NULL && i < srv->nworkers; i++) {
		const struct worker *w = srv->workers[i];
		for (size_t k = 0; k <= w->nsock; k++)
			stats_add(out, k == w->nsock ? &w->ctx.stats : &w->udp[k]->ctx.stats);
	}
}

