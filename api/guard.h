/* guard.h — keeps idle and slow clients from locking the HTTP API out.
 *
 * The API's connection slots are taken at accept, before a request header
 * says who is calling. Without a guard, max_connections sockets that send
 * nothing (or one byte now and then) block every drain until they time out.
 * The guard tracks every connection from accept to close and:
 *   - gives a connection header_timeout_ms to deliver a complete request
 *     header, from its accept or from the end of its previous request (an
 *     idle keep-alive connection is treated like a new one); a request
 *     without a valid token must also be over within that time. A late
 *     connection is shut down (shutdown(2); libmicrohttpd then closes it).
 *   - counts connections that have not shown a valid token ("pending") and
 *     keeps them at pending_max: one more evicts the oldest pending
 *     connection of the client address holding the most. A client with few
 *     connections (an operator, sovctl) is evicted last, so capacity above
 *     pending_max stays free for requests with a valid token.
 * A connection that has sent a complete header with a valid token is
 * "trusted" until its request ends, and never shut down by the guard.
 *
 * Thread safety: every function takes the guard's mutex; libmicrohttpd's
 * threads and the guard's own reaper thread call in concurrently. The file
 * descriptor of a connection is shut down only while its record exists
 * (guard_close is called before libmicrohttpd closes the descriptor), so a
 * reused descriptor number is never touched.
 */
#ifndef SOV_API_GUARD_H
#define SOV_API_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct guard guard_t;
struct guard_conn;

/** Why the guard shut a connection down (index of the counters). */
enum guard_reason {
	GUARD_HEADER_TIMEOUT, /* no complete header (or untrusted request) within the time */
	GUARD_EVICTED,	      /* pending_max reached; this was the oldest of the busiest client */
	GUARD_REASONS,
};

/**
 * Called (with the guard's mutex held) to shut connection fd down. Tests
 * record instead; the server passes NULL for shutdown(fd, SHUT_RDWR).
 */
typedef void (*guard_shut_fn)(void *ctx, int fd, enum guard_reason why);

/**
 * A guard for at most pending_max (>= 1) pending connections, each with
 * header_timeout_ms (> 0) for its header. shut may be NULL (shutdown(2)).
 * NULL on ENOMEM. No thread is started (guard_start_reaper).
 */
guard_t *guard_new(unsigned pending_max, int64_t header_timeout_ms, guard_shut_fn shut, void *ctx)
    __attribute__((warn_unused_result));

/** Starts the thread that shuts late connections down (every 100 ms). false if it cannot. */
bool guard_start_reaper(guard_t *g) __attribute__((nonnull, warn_unused_result));

/** Stops the reaper, frees the guard and any records left; NULL allowed. */
void guard_free(guard_t *g);

/**
 * A connection was accepted from sa (AF_INET/AF_INET6; others count as one
 * client) on descriptor fd at now_ms (monotonic). It is pending. Returns its
 * record (owned by the guard until guard_close), or NULL on ENOMEM (the
 * connection is then not guarded). May evict a pending connection, this one
 * included.
 */
struct guard_conn *guard_open(guard_t *g, const struct sockaddr *sa, int fd, int64_t now_ms)
    __attribute__((nonnull(1)));

/** The connection sent a complete header with a valid token: no deadline until guard_rearm. */
void guard_trust(guard_t *g, struct guard_conn *c) __attribute__((nonnull(1)));

/** A request on the connection ended at now_ms: pending again, deadline now + timeout. */
void guard_rearm(guard_t *g, struct guard_conn *c, int64_t now_ms) __attribute__((nonnull(1)));

/** The connection is being closed: forgets and frees c (NULL allowed). */
void guard_close(guard_t *g, struct guard_conn *c) __attribute__((nonnull(1)));

/** Shuts down every pending connection whose deadline is <= now_ms. Returns how many. */
unsigned guard_expire(guard_t *g, int64_t now_ms) __attribute__((nonnull));

/** Connections shut down for why since guard_new. */
uint64_t guard_dropped(guard_t *g, enum guard_reason why) __attribute__((nonnull));

/** Pending connections now. */
unsigned guard_pending(guard_t *g) __attribute__((nonnull));

#endif
