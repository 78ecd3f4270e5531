/* tcp.c — DNS over TCP on a worker's event loop (contract in server_int.h).
 *
 * Length-prefixed framing (RFC 1035 §4.2.2), pipelined queries answered in
 * order (RFC 7766 §6.2.1.1), half-close, idle timeout and a connection
 * limit taken from the live snapshot, back-pressure on clients that do not
 * read their replies. A zone transfer (xfr_out.c) runs on a thread of
 * its own at a lower CPU priority (server_int.h, XFR_NICE): once the
 * replies before it have been written, the worker hands the socket over
 * and takes it back when the last message is sent; queries that arrive
 * behind it wait until then (RFC 5936 §4.1 allows serial processing) and
 * are answered on the same connection (RFC 7766 §6.2.1).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "dns/server_int.h"
#include "dns/snapshot.h"
#include "wire/wire.h"

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

/*
 * Closes and frees c. A transfer thread still running is joined first: that
 * happens only at shutdown (tcp_close_all, srv->stopping set), when the
 * thread ends within UDP_STOP_POLL_MS.
 */
static void tcp_close(struct tcp_conn *c)
{
	struct worker *w = c->w;
	if (c->xfr_running) {
		pthread_join(c->xfr_thread, NULL);
		c->xfr_running = false;
	}
	xfr_out_free(c->xfr);
	if (c->xfr_done_ev != NULL)
		event_free(c->xfr_done_ev);
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

/* ------------------------------------------------- transfer threads -- */

static bool tcp_process(struct tcp_conn *c);

/*
 * Sends buf[0..len) on the transfer's socket fd (non-blocking), waiting in
 * poll() for room: at most c->idle_ms without progress (tcp.idle_timeout_ms:
 * a client that stops reading is dropped as an idle one is), in slices of
 * UDP_STOP_POLL_MS so that a shutdown is seen. NULL when all of it is sent,
 * else why not (a static string for the log).
 */
static const char *xfr_send(const struct tcp_conn *c, int fd, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	int64_t waited = 0;
	while (off < len) {
		if (atomic_load_explicit(&c->w->srv->stopping, memory_order_relaxed))
			return "the server is shutting down";
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			waited = 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return "the client went away";
		if (waited >= (int64_t)c->idle_ms)
			return "the client stopped reading for tcp.idle_timeout_ms";
		int64_t left = (int64_t)c->idle_ms - waited;
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int64_t t0 = clock_mono_ms();
		int r = poll(&pfd, 1, (int)(left < UDP_STOP_POLL_MS ? left : UDP_STOP_POLL_MS));
		if (r < 0 && errno != EINTR)
			return "waiting for the client failed";
		waited += clock_mono_ms() - t0;
	}
	return NULL;
}

/*
 * Body of a transfer thread (arg: the connection, whose socket and xfr it
 * owns until it activates c->xfr_done_ev, its last touch of c). Runs at
 * nice XFR_NICE: every UDP and worker thread comes first (docs/transfers.md,
 * "Transfers and queries"). Messages are gathered XFR_SEND_CHUNK bytes at a
 * time into a buffer of its own (allocated here: never on the query path).
 */
static void *xfr_thread_main(void *arg)
{
	struct tcp_conn *c = arg;
	(void)pthread_setname_np(pthread_self(), "sov-xfr");
	/* PRIO_PROCESS with a thread id sets that thread's nice alone (Linux). */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), XFR_NICE) != 0)
		LOG_RATELIMITED(60,
				log_debug("xfr", "cannot lower a transfer thread's priority: %s",
					  strerror(errno)));
	int fd = c->xfr_fd;
	uint8_t *buf = malloc(XFR_SEND_BUF);
	const char *why = buf == NULL ? "out of memory" : NULL;
	while (why == NULL && !xfr_out_over(c->xfr)) {
		int64_t now_s = clock_unix_ms() / 1000, mono = clock_mono_ms();
		size_t len = 0;
		while (len < XFR_SEND_CHUNK) {
			size_t m = xfr_out_next(c->xfr, buf + len + 2, XFR_SEND_BUF - len - 2,
						now_s, mono);
			if (m == 0)
				break;
			buf[len] = (uint8_t)(m >> 8);
			buf[len + 1] = (uint8_t)m;
			len += 2 + m;
		}
		if (len > 0)
			why = xfr_send(c, fd, buf, len);
	}
	if (why != NULL)
		xfr_out_stop(c->xfr, why);
	free(buf);
	event_active(c->xfr_done_ev, EV_READ, 1);
	return NULL;
}

/* On the worker, when c's transfer thread is done: the connection is the
 * worker's again. The transfer's slot is released here (xfr_out_free), so
 * transfers.max_concurrent counts transfers until their last byte is sent. */
static void tcp_xfr_on_done(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_conn *c = arg;
	(void)fd;
	(void)what;
	pthread_join(c->xfr_thread, NULL);
	c->xfr_running = false;
	bool ok = !xfr_out_failed(c->xfr);
	xfr_out_free(c->xfr);
	c->xfr = NULL;
	if (!ok || c->closing || bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0) {
		tcp_close(c);
		return;
	}
	tcp_process(c); /* the queries that waited behind it */
}

/*
 * Hands c's socket to a transfer thread for c->xfr; every earlier reply has
 * been written (the output is empty). False if the thread cannot be
 * started: the caller closes the connection.
 */
static bool tcp_xfr_handover(struct tcp_conn *c)
{
	if (c->xfr_done_ev == NULL)
		c->xfr_done_ev = event_new(c->w->base, -1, 0, tcp_xfr_on_done, c);
	if (c->xfr_done_ev == NULL)
		return false;
	/* Neither reads nor timeouts while the thread owns the socket. */
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	c->xfr_fd = bufferevent_getfd(c->bev);
	int e = pthread_create(&c->xfr_thread, NULL, xfr_thread_main, c);
	if (e != 0) {
		LOG_RATELIMITED(1,
				log_warn("xfr", "cannot start a transfer thread: %s", strerror(e)));
		return false;
	}
	c->xfr_running = true;
	return true;
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
	bool update = false; /* an UPDATE in w->tcp_query waits for its hook */
	size_t ulen = 0;

again:
	snapshot_read_lock();
	const snapshot_t *snap = snapshot_current();
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		if (avail < 2 || c->xfr != NULL)
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
			rlen =
			    query_process(&w->ctx, snap, (const struct sockaddr *)&c->peer, DNS_TCP,
					  w->tcp_query, flen, w->tcp_reply + 2, DNS_REPLY_MAX);
		else
			w->ctx.stats.dropped++;
		if (snap != NULL && w->ctx.last.xfr_pending) {
			c->xfr = xfr_out_new(snap, &w->ctx.last.xfr,
					     (const struct sockaddr *)&c->peer, w->tcp_query, flen);
			/* Nothing more is read until it is over. It starts once
			 * the replies before it are out (tcp_on_write). */
			bufferevent_disable(c->bev, EV_READ);
			if (c->xfr == NULL ||
			    (evbuffer_get_length(outb) == 0 && !tcp_xfr_handover(c))) {
				bad = true;
				break;
			}
			continue;
		}
		if (snap != NULL && w->ctx.last.update_pending) {
			/* Answered below, outside the read lock; then the
			 * frames after it, in order. */
			update = true;
			ulen = flen;
			break;
		}
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

	if (update) {
		update = false;
		size_t rlen = w->ctx.last.update_fn(
		    w->ctx.last.update_arg, (const struct sockaddr *)&c->peer, false, w->tcp_query,
		    ulen, w->tcp_reply + 2, DNS_REPLY_MAX);
		w->tcp_reply[0] = (uint8_t)(rlen >> 8);
		w->tcp_reply[1] = (uint8_t)rlen;
		if (rlen > 0 && evbuffer_add(outb, w->tcp_reply, rlen + 2) != 0)
			bad = true;
		if (!bad)
			goto again;
	}
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
	if (c->xfr != NULL) {
		/* The replies before a transfer are out: it starts. */
		if (!c->xfr_running && !tcp_xfr_handover(c))
			tcp_close(c);
		return;
	}
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
		LOG_RATELIMITED(1, log_warn("tcp",
					    "connection limit (%u) reached: refusing new "
					    "connections",
					    max));
		return;
	}

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->w = w;
	c->idle_ms = idle_ms;
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
	LOG_RATELIMITED(
	    1, log_warn("tcp", "worker %u: cannot set up a connection: out of memory", w->id));
}

void tcp_on_accept_resume(evutil_socket_t fd, short what, void *arg)
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

int tcp_listen(struct worker *w, size_t k, const sov_sockaddr_t *a)
{
	int tfd = sock_open(a, SOCK_STREAM);
	if (tfd < 0)
		return SOV_ESYS;
	/* backlog 0: the socket is already listening */
	w->tcp[k] = evconnlistener_new(w->base, tcp_on_accept, w, LEV_OPT_CLOSE_ON_FREE, 0, tfd);
	if (w->tcp[k] == NULL) {
		close(tfd);
		return SOV_ENOMEM;
	}
	evconnlistener_set_error_cb(w->tcp[k], tcp_on_accept_error);
	return SOV_OK;
}

void tcp_close_all(struct worker *w)
{
	while (w->conns != NULL)
		tcp_close(w->conns);
}
