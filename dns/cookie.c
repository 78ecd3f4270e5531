/* cookie.c — DNS Cookies, RFC 7873 and RFC 9018 (contract in cookie.h). */
#include "dns/cookie.h"

#include <netinet/in.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

/* RFC 9018 §4.3: accept a cookie up to an hour old and up to 5 minutes
 * ahead (clock skew within a server set); renew one older than 30 minutes. */
#define COOKIE_MAX_AGE_S 3600
#define COOKIE_MAX_AHEAD_S 300
#define COOKIE_RENEW_S 1800

/* The server cookie for client cookie cc, time ts and the client's address
 * (RFC 9018 §4.2-4.3): hash over client cookie | version | reserved |
 * timestamp | client IP, keyed with the snapshot's secret. */
static void cookie_make(const snapshot_t *snap, const uint8_t *cc, uint32_t ts,
			const struct sockaddr *client, uint8_t out[COOKIE_SERVER_LEN])
{
	uint8_t in[COOKIE_CLIENT_LEN + 8 + 16];
	size_t n = COOKIE_CLIENT_LEN;
	memcpy(in, cc, COOKIE_CLIENT_LEN);
	out[0] = 1; /* version */
	out[1] = out[2] = out[3] = 0;
	wire_write_u32(out + 4, ts);
	memcpy(in + n, out, 8);
	n += 8;
	if (client != NULL && client->sa_family == AF_INET) {
		memcpy(in + n, &((const struct sockaddr_in *)(const void *)client)->sin_addr, 4);
		n += 4;
	} else if (client != NULL && client->sa_family == AF_INET6) {
		memcpy(in + n, &((const struct sockaddr_in6 *)(const void *)client)->sin6_addr, 16);
		n += 16;
	}
	crypto_shorthash_siphash24(out + 8, in, n, snap->cookie_secret);
}

/* Checks the client's cookie option and picks the server cookie to send:
 * the presented one while valid and young, else a fresh one. Cookies are
 * offered, never required: an invalid one only earns a new one. */
bool cookie_process(const snapshot_t *snap, const struct dns_query *q,
		    const struct sockaddr *client, uint8_t out[COOKIE_SERVER_LEN])
{
	bool valid = false;
	uint32_t now = (uint32_t)time(NULL);
	if (q->cookie_len == COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN && q->cookie[8] == 1) {
		uint32_t ts = wire_read_u32(q->cookie + 12);
		int32_t age = (int32_t)(now - ts); /* serial arithmetic: wraps in 2106 */
		if (age <= COOKIE_MAX_AGE_S && age >= -COOKIE_MAX_AHEAD_S) {
			uint8_t want[COOKIE_SERVER_LEN];
			cookie_make(snap, q->cookie, ts, client, want);
			if (sodium_memcmp(want + 8, q->cookie + 16, 8) == 0) {
				valid = true;
				if (age < COOKIE_RENEW_S) {
					memcpy(out, q->cookie + 8, COOKIE_SERVER_LEN);
					return valid;
				}
			}
		}
	}
	cookie_make(snap, q->cookie, now, client, out);
	return valid;
}
