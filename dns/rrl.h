/* rrl.h — response rate limiting on UDP (the technique of BIND, Knot and
 * NSD), so that sovdns is a poor amplifier for spoofed-source floods.
 *
 * Replies are counted per (client network, response category) per second:
 * the network is the client's address cut to a prefix (/24 IPv4, /56 IPv6
 * by default), the category separates positive answers, NXDOMAIN and
 * errors, so a flood of one kind does not starve the others. Past `rate`
 * replies in one second, replies are dropped, except every `slip`-th, which
 * is sent as an empty truncated reply (TC=1) so that a real client behind
 * the spoofed address can still get its answer over TCP. TCP and queries
 * with a valid DNS Cookie (RFC 7873) are never limited.
 *
 * The table is one array of 64-bit words updated with compare-and-swap by
 * every worker: no lock, no allocation per query. A collision between two
 * networks in one bucket resets the count (lossy in the client's favour).
 */
#ifndef SOV_DNS_RRL_H
#define SOV_DNS_RRL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct rrl rrl_t;

enum rrl_category { RRL_POSITIVE = 0, RRL_NXDOMAIN = 1, RRL_ERROR = 2 };
enum rrl_action { RRL_PASS = 0, RRL_DROP, RRL_SLIP };

/**
 * A table for `rate` replies per second per network and category (rate >= 1),
 * slip (0 = never send a truncated reply instead), the IPv4 and IPv6 prefix
 * lengths that define a network. NULL on allocation failure.
 */
rrl_t *rrl_new(uint32_t rate, uint32_t slip, uint8_t v4_prefix, uint8_t v6_prefix);

/** Frees the table; NULL allowed. */
void rrl_free(rrl_t *r);

/** Counts one reply to `client` of `cat` at second now_s and says what to do with it. */
enum rrl_action rrl_account(rrl_t *r, const struct sockaddr *client, enum rrl_category cat,
			    uint64_t now_s);

/**
 * Turns the reply in buf[0..len) into the slip reply: header with TC set,
 * the question only (question_end bytes). Returns the new length.
 */
size_t rrl_slip_reply(uint8_t *buf, size_t len, size_t question_end);

#endif
