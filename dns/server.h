/* server.h — network I/O: UDP and TCP listeners and the DNS worker threads.
 *
 * One worker thread per configured thread count, each with its own
 * SO_REUSEPORT UDP and TCP socket per listen address and its own libevent
 * base. UDP is drained in batches with recvmmsg()/sendmmsg(); TCP uses
 * length-prefixed framing (RFC 1035 §4.2.2) with pipelining and an idle
 * timeout (RFC 7766). Workers read the current snapshot under RCU.
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

#endif
