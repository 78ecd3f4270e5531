/* http.h — the response side of the probes' small HTTP/1.1 client.
 *
 * The probe sends "GET path HTTP/1.1" with "Connection: close" and judges
 * the reply from the bytes received so far. Kept pure (bytes in, verdict
 * out) so that the parser is unit tested without sockets.
 *
 * What is understood (RFC 9112): the status line, interim 1xx responses
 * (skipped), Content-Length, Transfer-Encoding: chunked, and a body that
 * ends when the server closes. Redirects are *not* followed: a 301 is just
 * a status, and whether it counts as healthy is the probe's expect_status.
 */
#ifndef SOV_PROBE_HTTP_H
#define SOV_PROBE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/** Largest response header block accepted (status line and headers). */
#define HTTP_HEADERS_MAX 16384
/**
 * Largest body examined for body_contains. A health endpoint answers in a
 * few hundred bytes; 64 KiB bounds memory and CPU per probe while leaving
 * room for a status page.
 */
#define HTTP_BODY_MAX 65536

enum http_check_rc {
	HTTP_CHECK_BAD = -1, /* the response is malformed or cut short; see error */
	HTTP_CHECK_MORE = 0, /* need more bytes */
	HTTP_CHECK_DONE = 1, /* verdict available: status (and body_found if a needle) */
};

struct http_check_result {
	int status;	  /* final status code once the headers are complete, else 0 */
	bool body_found;  /* needle seen in the body (only meaningful with a needle) */
	bool body_capped; /* gave up looking after HTTP_BODY_MAX body bytes */
	char error[128];  /* for HTTP_CHECK_BAD: what is wrong, as a predicate
			     ("closed the connection without a response") */
};

/**
 * Examines the response received so far.
 * buf, len: every byte received; eof: the server has closed the connection.
 * needle: a substring the body must contain, or NULL: then the verdict is
 * ready as soon as the headers are complete.
 * scratch: at least HTTP_BODY_MAX bytes, used to de-chunk the body; may be
 * NULL when needle is NULL.
 * out->status is set as soon as the headers are complete, even when the
 * return is HTTP_CHECK_MORE, so a caller can fail early on a bad status.
 */
enum http_check_rc http_response_check(const char *buf, size_t len, bool eof, const char *needle,
				       char *scratch, struct http_check_result *out)
    __attribute__((nonnull(6))); /* not scratch: NULL is allowed without a needle */

#endif
