/* server.h — network I/O: UDP and TCP listeners and the DNS worker threads.
 *
 * `threads` workers (0: one per online CPU). Each worker owns, per listen
 * address, one SO_REUSEPORT UDP socket and one SO_REUSEPORT TCP listener:
 *   - every UDP socket has a thread of its own, blocked in recvmmsg()
 *     (batches of up to 32 datagrams, replies by sendmmsg(); dns/udp.c):
 *     no event loop between the kernel and the answer path;
 *   - TCP runs on the worker's own libevent base and thread (dns/tcp.c):
 *     length-prefixed framing (RFC 1035 §4.2.2), pipelining, an idle
 *     timeout and a connection limit (RFC 7766);
 *   - a zone transfer out runs on a thread of its own at nice 19, the
 *     connection handed over by its worker and back (dns/tcp.c).
 * So a server runs threads × (1 + listen addresses) threads, plus one per
 * transfer out (at most transfers.max_concurrent), all with signals
 * blocked and named (sov-tcpN, sov-udpN, sov-xfr). Each reads the current snapshot under RCU, one
 * read-side section per UDP batch or TCP read.
 */
#ifndef SOV_DNS_SERVER_H
#define SOV_DNS_SERVER_H

#include "conf/config.h"
#include "dns/answer.h"

typedef struct server server_t;

/**
 * Binds every listen address of conf (UDP + TCP, one socket each per worker)
 * and starts the workers. Fails (returning SOV_ESYS, with a log line naming
 * the address and the reason) if any bind fails. conf is only read during
 * the call.
 */
int server_start(const config_t *conf, server_t **out) __attribute__((warn_unused_result));

/** Stops the workers, closes the sockets, frees the server. NULL allowed. */
void server_stop(server_t *srv);

/** Sums every worker's counters into *out (approximate while running). */
void server_stats(const server_t *srv, struct query_stats *out);

/** Zone transfers out running now, across all workers (0 for NULL). */
uint32_t server_xfr_active(const server_t *srv);

#endif
