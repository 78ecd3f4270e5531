/* client.h — sovctl's HTTP client for the sovdns API (libcurl + jansson).
 *
 * One client_t per sovdns instance; it keeps its connection open between
 * requests. Requests are synchronous and bounded by the instance's
 * timeout_s (connect included). Bodies are JSON both ways (docs/api.md);
 * errors from the API arrive as {"error": {"code", "message"}} and are
 * unpacked into the reply.
 *
 * Not thread-safe: sovctl is single-threaded. Call client_global_init()
 * once before the first client_new().
 */
#ifndef SOV_DEPLOYER_CLIENT_H
#define SOV_DEPLOYER_CLIENT_H

#include <jansson.h>
#include <stdbool.h>

#include "deployer/dconf.h"

typedef struct client client_t;

/** What came back from one request. */
struct client_reply {
	long status;	   /* HTTP status; 0 when the exchange failed (see message) */
	json_t *body;	   /* the parsed JSON body (owned; NULL if none or not JSON) */
	char code[64];	   /* the API's error code ("last_usable_datacenter"), or "" */
	char message[512]; /* the API's error message, or why the exchange failed */
};

/** Initialises libcurl (once per process). Returns SOV_OK or SOV_ESYS. */
int client_global_init(void) __attribute__((warn_unused_result));
/** Releases libcurl's global state. */
void client_global_cleanup(void);

/** A client for one instance (in must outlive it). NULL on allocation failure. */
client_t *client_new(const struct dconf_instance *in) __attribute__((nonnull));
/** Frees a client; NULL allowed. */
void client_free(client_t *c);
/** The instance's name (for messages). */
const char *client_name(const client_t *c) __attribute__((nonnull));

/**
 * Sends method ("GET" or "POST") to path (e.g. "/v1/datacenters/dc-eu"),
 * with body as JSON for a POST (borrowed; NULL sends "{}").
 *
 * Returns SOV_OK when an HTTP reply arrived, whatever its status (check
 * out->status), or SOV_EIO when the instance could not be reached or the
 * reply was unreadable (out->status 0, out->message says why). out must be
 * released with client_reply_clear() in both cases.
 */
int client_call(client_t *c, const char *method, const char *path, json_t *body,
		struct client_reply *out) __attribute__((nonnull(1, 2, 3, 5)));

/** Releases what a reply holds and zeroes it. */
void client_reply_clear(struct client_reply *r) __attribute__((nonnull));

/** True for a 2xx status. */
static inline bool client_ok(const struct client_reply *r)
{
	return r->status >= 200 && r->status < 300;
}

/**
 * Writes a one-line description of a failed reply into buf: "unreachable:
 * <why>" or "HTTP 409 last_usable_datacenter: <message>". Returns buf.
 */
const char *client_describe(const struct client_reply *r, char *buf, size_t cap)
    __attribute__((nonnull));

#endif
