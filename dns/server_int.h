/* server_int.h — private to the network I/O (dns/server.c, udp.c, tcp.c, sock.c).
 *
 * Layers, each using only the ones below it:
 *   server.c  server_start/stop/stats: workers, their threads, shutdown
 *   udp.c     one thread per UDP socket, blocked in recvmmsg()
 *   tcp.c     TCP connections on the worker's libevent base
 *   sock.c    opening and checking the sockets
 * The structures are shared; each is written only by the thread that owns
 * it (a UDP thread its udp_sock, a worker thread its TCP state), except the
 * atomics of struct server.
 */
#ifndef SOV_DNS_SERVER_INT_H
#define SOV_DNS_SERVER_INT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "common/addr.h"
#include "dns/answer.h"
#include "dns/server.h"
#include "dns/xfr_out.h"

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

/*
 * A zone transfer out runs on a thread of its own (tcp.c, "transfer
 * threads"), at a lower CPU priority than the UDP and worker threads
 * (XFR_NICE): queries come before transfers. The worker hands the
 * connection's socket over once every earlier reply has been written and
 * takes it back when the thread is done; while the thread runs, the
 * worker does not touch the connection (its bufferevent is disabled).
 * The thread writes the messages itself with blocking-with-timeout send(),
 * so no output buffer grows. At most transfers.max_concurrent run at once
 * (the slot each holds), all workers together.
 */
#define XFR_NICE 19

/* The transfer thread's send buffer: messages are gathered into it and
 * sent XFR_SEND_CHUNK bytes or more at a time (fewer system calls than
 * one per message); it holds a chunk plus one largest message. */
#define XFR_SEND_CHUNK (128 * 1024)
#define XFR_SEND_BUF (XFR_SEND_CHUNK + 2 + 65535)

struct tcp_conn {
	struct tcp_conn *prev, *next; /* the worker's list of open connections */
	struct worker *w;
	struct bufferevent *bev;
	struct sockaddr_storage peer;
	uint32_t idle_ms;    /* the idle timeout it was accepted with */
	bool closing;	     /* the client has shut down its side: flush, then close */
	bool paused;	     /* reading stopped until the output drains */
	struct xfr_out *xfr; /* a zone transfer being sent: later queries wait */
	/* The transfer thread, while xfr_running: it owns the socket and xfr. */
	bool xfr_running;
	pthread_t xfr_thread;
	int xfr_fd; /* the socket, for the thread (the bufferevent is the worker's) */
	struct event *xfr_done_ev; /* activated by the thread when it is done */
};

struct worker {
	struct server *srv;
	unsigned id;
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct event *stop_ev;
	struct event *accept_resume_ev;
	struct udp_sock **udp;	     /* one per listen address, each its own thread */
	struct evconnlistener **tcp; /* one per listen address */
	size_t nsock;
	struct tcp_conn *conns;
	struct query_ctx ctx; /* TCP queries */

	/* TCP scratch: one frame in, one length-prefixed reply out. */
	uint8_t tcp_query[DNS_REPLY_MAX];
	uint8_t tcp_reply[2 + DNS_REPLY_MAX];
};

struct server {
	atomic_bool stopping; /* UDP threads exit when they see it */
	struct worker **workers;
	unsigned nworkers;
	atomic_uint tcp_conns;	      /* open TCP connections, all workers */
	_Atomic uint32_t xfr_active;  /* transfers out running, all workers */
	uint32_t tcp_max_connections; /* fallbacks when no snapshot is published */
	uint32_t tcp_idle_timeout_ms;
};

/* ------------------------------------------------------------ sock.c */

/** True for 0.0.0.0 and ::. */
bool addr_is_wildcard(const sov_sockaddr_t *a) __attribute__((nonnull));

/** Fails (SOV_ESYS, logged) if another process holds address a for `type`
 * (SOCK_DGRAM or SOCK_STREAM); see sock.c for why SO_REUSEPORT needs it. */
int sock_check_free(const sov_sockaddr_t *a, int type) __attribute__((nonnull, warn_unused_result));

/** One worker's non-blocking SO_REUSEPORT socket for a: UDP (bound) or TCP
 * (listening). The descriptor, or -1 (logged). */
int sock_open(const sov_sockaddr_t *a, int type) __attribute__((nonnull, warn_unused_result));

/* ------------------------------------------------------------- udp.c */

/** Allocates worker id's UDP socket for a into *out (set as soon as it is
 * allocated: the caller frees it with udp_sock_free() also on failure) and
 * opens it, blocking with a receive timeout. SOV_OK, SOV_ENOMEM or SOV_ESYS. */
int udp_sock_new(struct server *srv, unsigned id, const sov_sockaddr_t *a, struct udp_sock **out)
    __attribute__((nonnull, warn_unused_result));

/** Closes and frees a UDP socket (its thread has ended); NULL allowed. */
void udp_sock_free(struct udp_sock *us);

/** Thread body for one struct udp_sock: serves it until srv->stopping. */
void *udp_main(void *arg) __attribute__((nonnull));

/* ------------------------------------------------------------- tcp.c */

/** Opens w's TCP listener k for a on w->base (w->tcp[k]). SOV_OK,
 * SOV_ENOMEM or SOV_ESYS. */
int tcp_listen(struct worker *w, size_t k, const sov_sockaddr_t *a)
    __attribute__((nonnull, warn_unused_result));

/** Timer callback (arg: the worker): accepting resumes after a pause. */
void tcp_on_accept_resume(evutil_socket_t fd, short what, void *arg);

/** Closes every open connection of w (its thread has ended). */
void tcp_close_all(struct worker *w) __attribute__((nonnull));

#endif
