/* udp.c — UDP: one thread per socket, batches of datagrams (contract in server_int.h).
 *
 * Each UDP socket (one per worker and listen address, SO_REUSEPORT) has
 * its own thread blocked in recvmmsg(): no event loop between the kernel
 * and query_process(). Replies leave in one sendmmsg() per batch, from the
 * query's destination address on a wildcard socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "dns/rrl.h"
#include "dns/server_int.h"
#include "dns/snapshot.h"

/* For a wildcard socket, makes the reply leave from the address the query
 * was sent to: otherwise, on a multi-homed host the kernel picks a source
 * by route and the client discards a reply from an address it did not ask. */
static void udp_reply_source(const struct msghdr *in, struct msghdr *out, union cmsg_buf *ctl)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c != NULL;
	     c = CMSG_NXTHDR((struct msghdr *)in, c)) {
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
			LOG_RATELIMITED(
			    1, log_warn("udp", "worker %u: send buffer full, dropped %u replies",
					us->id, count - sent));
			return;
		}
		/* This one message failed (e.g. EPERM from a firewall rule,
		 * ENETUNREACH): skip it and send the rest. */
		int e = errno;
		char buf[ADDR_STR_MAX];
		LOG_RATELIMITED(
		    1, log_warn("udp", "worker %u: reply to %s not sent: %s", us->id,
				addr_format(us->tx_msgs[sent].msg_hdr.msg_name, buf, sizeof(buf)),
				strerror(e)));
		us->ctx.stats.dropped++;
		sent++;
	}
}

/* Queues reply tx_buf[i] (len bytes) to the sender of datagram i as
 * message number out of the batch. */
static void udp_queue(struct udp_sock *us, unsigned i, unsigned out, size_t len)
{
	struct msghdr *h = &us->rx_msgs[i].msg_hdr;
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
}

/* Answers the n datagrams of one batch and sends the replies. */
static void udp_batch(struct udp_sock *us, unsigned n)
{
	unsigned out = 0;
	/* UPDATEs of the batch: answered after the read lock is left (their
	 * hook waits for the daemon's reload lock and the disk). */
	unsigned pending[UDP_BATCH], npending = 0;
	size_t (*update_fn)(void *, const struct sockaddr *, bool, const uint8_t *, size_t,
			    uint8_t *, size_t) = NULL;
	void *update_arg = NULL;
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
					   DNS_UDP, us->rx_buf[i], us->rx_msgs[i].msg_len,
					   us->tx_buf[i], UDP_REPLY_MAX);
		if (len == 0) {
			if (us->ctx.last.update_pending) {
				pending[npending++] = i;
				update_fn = us->ctx.last.update_fn;
				update_arg = us->ctx.last.update_arg;
			}
			continue;
		}
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
		udp_queue(us, i, out++, len);
	}
	snapshot_read_unlock();
	for (unsigned k = 0; k < npending; k++) {
		unsigned i = pending[k];
		size_t len =
		    update_fn(update_arg, (const struct sockaddr *)&us->rx_addr[i], true,
			      us->rx_buf[i], us->rx_msgs[i].msg_len, us->tx_buf[i], UDP_REPLY_MAX);
		if (len > 0)
			udp_queue(us, i, out++, len);
	}
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

void *udp_main(void *arg)
{
	struct udp_sock *us = arg;
	unsigned used = UDP_BATCH;
	char name[16];
	snprintf(name, sizeof(name), "sov-udp%u", us->id % 10000);
	(void)pthread_setname_np(pthread_self(), name); /* for top -H, perf, ps -L */
	snapshot_thread_register();
	while (!atomic_load_explicit(&us->srv->stopping, memory_order_relaxed)) {
		udp_rx_reset(us, used);
		int n = recvmmsg(us->fd, us->rx_msgs, UDP_BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0) {
			used = 0;
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				int e = errno;
				LOG_RATELIMITED(1, log_warn("udp", "worker %u: receive failed: %s",
							    us->id, strerror(e)));
			}
			continue; /* timeout: look at the stop flag */
		}
		used = (unsigned)n;
		udp_batch(us, (unsigned)n);
	}
	snapshot_thread_unregister();
	return NULL;
}

int udp_sock_new(struct server *srv, unsigned id, const sov_sockaddr_t *a, struct udp_sock **out)
{
	void *mem = NULL;
	*out = NULL;
	/* Cache-line aligned: its counters never share a line with
	 * another thread's. */
	if (posix_memalign(&mem, 64, sizeof(struct udp_sock)) != 0)
		return SOV_ENOMEM;
	struct udp_sock *us = mem;
	memset(us, 0, sizeof(*us));
	*out = us;
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
		return SOV_ESYS;
	/* Blocking, with a receive timeout: see UDP_STOP_POLL_MS. */
	struct timeval tv = {0, UDP_STOP_POLL_MS * 1000};
	int fl = fcntl(us->fd, F_GETFL);
	if (fl < 0 || fcntl(us->fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ||
	    setsockopt(us->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
		log_err("dns", "worker %u: cannot set up its UDP socket: %s", id, strerror(errno));
		return SOV_ESYS;
	}
	return SOV_OK;
}

void udp_sock_free(struct udp_sock *us)
{
	if (us == NULL)
		return;
	if (us->fd >= 0)
		close(us->fd);
	free(us);
}
