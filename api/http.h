/* http.h — the HTTP/JSON server under the API, on libmicrohttpd.
 *
 * Generic plumbing, no sovdns semantics: a route table ("/v1/x/{id}"
 * patterns), bearer-token access levels, JSON bodies with a size limit,
 * uniform JSON errors, audit lines for every authenticated POST, and
 * request counters. The handlers (api/routes.c) see a parsed request and
 * fill a response.
 *
 * Threads: libmicrohttpd's internal thread pool (threads workers, each with
 * its own epoll/poll loop); handlers run there, concurrently. Limits: at
 * most max_connections at once and max_connections_per_client from one
 * address (further ones are closed at accept), idle connections closed
 * after timeout_s, a connection without a complete request header after
 * header_timeout_s, at most half the slots for connections that have not
 * shown a valid token (api/guard.h), request bodies above body_max_bytes
 * answered 413 (bodies up to HTTP_DISCARD_FACTOR times the limit are read
 * and discarded first so the client sees the 413 instead of a reset;
 * larger ones get the 413 at once and the connection is closed).
 *
 * Checks, in the order a client meets them:
 *   404 no route for the path; 405 path known, method not (with Allow)
 *   401 no/unknown token (open read routes aside; WWW-Authenticate: Bearer)
 *   403 token's level too low for the route
 *   415 POST body that is not application/json
 *   413 body too large
 *   400 body not a JSON object, duplicate keys, or unknown query parameter
 * then the handler (which may add 400/403/404/409/500).
 * Every error body is {"error": {"code": "...", "message": "..."}}.
 */
#ifndef SOV_API_HTTP_H
#define SOV_API_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "api/audit.h"
#include "api/auth.h"

#define HTTP_PARAMS_MAX 4
#define HTTP_DISCARD_FACTOR 16
#define HTTP_FROM_MAX 64

/** Who may call a route. */
enum http_access {
	HTTP_READ,  /* any token (or none, when read routes are open) */
	HTTP_WRITE, /* drain or admin token; the handler checks the datacenter */
	HTTP_ADMIN, /* admin token */
};

/** A request as a handler sees it. Everything is owned by the server. */
struct http_request {
	const char *method;		     /* "GET", "HEAD", "POST" */
	const char *path;		     /* decoded path, no query */
	const char *params[HTTP_PARAMS_MAX]; /* the {...} segments of the pattern, in order */
	size_t param_count;
	const json_t *body;		/* POST: the JSON object; NULL when the body was empty */
	const struct auth_token *token; /* NULL = anonymous (open read route) */
	const char *who;		/* token name, or "anonymous" */
	char from[HTTP_FROM_MAX];	/* client IP address */
	void *conn;			/* private (struct MHD_Connection *) */
};

/** What a handler returns. Use the helpers below. */
struct http_response {
	unsigned status;
	json_t *body;		/* owned; sent as application/json */
	char *text;		/* owned; sent as text_type instead of body when set */
	const char *text_type;	/* static string */
	char location[160];	/* Location header when non-empty (201) */
	const char *error_code; /* static string, for the audit line; NULL on success */
};

typedef void (*http_handler_fn)(void *ctx, const struct http_request *req,
				struct http_response *resp);

struct http_route {
	const char *method;  /* "GET" (HEAD is served too) or "POST" */
	const char *pattern; /* "/v1/datacenters/{id}/drain" */
	enum http_access access;
	http_handler_fn fn;
	const char *const *query; /* accepted query parameter names, NULL-terminated; NULL = none */
};

struct http_config {
	const struct sockaddr *listen;
	socklen_t listen_len;
	const char *tls_cert; /* PEM file paths, or NULL for plain HTTP */
	const char *tls_key;
	unsigned threads;
	unsigned max_connections;
	unsigned max_connections_per_client; /* per client address (libmicrohttpd's limit) */
	unsigned timeout_s;		     /* idle connection */
	unsigned header_timeout_s;	     /* complete header (api/guard.h) */
	size_t body_max_bytes;
	const auth_t *auth;
	bool read_without_token;
	audit_t *audit; /* may be NULL */
};

typedef struct http_server http_server_t;

/**
 * Starts listening. routes (n entries) must outlive the server; ctx is
 * passed to every handler. SOV_OK, or SOV_EIO with a message in why.
 */
int http_start(const struct http_config *conf, const struct http_route *routes, size_t n, void *ctx,
	       http_server_t **out, char *why, size_t cap)
    __attribute__((nonnull(1, 2, 5, 6), warn_unused_result));

/** Stops accepting, finishes nothing further, frees; NULL allowed. */
void http_stop(http_server_t *s);

/** The bound port (useful with port 0). */
uint16_t http_port(const http_server_t *s) __attribute__((nonnull));

/** Value of query parameter name, or NULL. */
const char *http_query(const struct http_request *req, const char *name) __attribute__((nonnull));

/** Sets a JSON response; body is stolen (NULL means allocation failed: 500). */
void http_reply(struct http_response *resp, unsigned status, json_t *body)
    __attribute__((nonnull(1)));

/** Sets an error response {"error":{"code","message"}}. code is a static string. */
void http_error(struct http_response *resp, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((nonnull(1, 3, 4), format(printf, 4, 5)));

/** Types for http_body_check. */
enum http_type { HTTP_T_STRING, HTTP_T_BOOL, HTTP_T_UINT, HTTP_T_OBJECT };

struct http_field {
	const char *name;
	enum http_type type;
	bool required;
};

/**
 * Checks req->body against fields (n entries): every member known, of its
 * type, required ones present. On failure fills a 400 (unknown_field,
 * wrong_type, missing_field) and returns false. A missing body counts as {}.
 */
bool http_body_check(const struct http_request *req, const struct http_field *fields, size_t n,
		     struct http_response *resp) __attribute__((nonnull));

/** Writes request counters by route and status (Prometheus text). */
void http_metrics_write(http_server_t *s, FILE *out) __attribute__((nonnull));

#endif
