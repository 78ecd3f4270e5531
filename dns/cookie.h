/* cookie.h — DNS Cookies (RFC 7873), server cookies as RFC 9018 §4 shapes them.
 *
 * Cookies are offered, never required: a query with a missing, stale or
 * forged server cookie still gets an answer and a fresh cookie. The server
 * cookie is version 1, 3 reserved bytes, a 32-bit timestamp (seconds,
 * network order) and a 64-bit SipHash-2-4 of the client cookie, those 8
 * bytes and the client's IP address, keyed with snapshot_t.cookie_secret.
 */
#ifndef SOV_DNS_COOKIE_H
#define SOV_DNS_COOKIE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/snapshot.h"
#include "wire/wire.h"

/* An 8-byte client cookie and our 16-byte server cookie. */
#define COOKIE_CLIENT_LEN 8
#define COOKIE_SERVER_LEN 16
/* Bytes of the COOKIE option in our OPT record: code, length, both cookies. */
#define COOKIE_OPT_LEN (4 + COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN)

/**
 * Checks the cookie option of q (q->has_cookie set) from `client` (NULL
 * allowed: no address in the hash) and stores in out the server cookie to
 * send: the presented one while valid and younger than 30 minutes, else a
 * fresh one for now. Returns whether the client presented a valid server
 * cookie (RFC 9018 §4.3: at most an hour old, at most 5 minutes ahead).
 */
bool cookie_process(const snapshot_t *snap, const struct dns_query *q,
		    const struct sockaddr *client, uint8_t out[COOKIE_SERVER_LEN])
    __attribute__((nonnull(1, 2, 4)));

#endif
