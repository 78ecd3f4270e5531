/* check_http.c — the http and https checks.
 *
 * After check_tcp.c's connect, the probe continues on a bufferevent
 * (bufferevent_openssl for https, set up by tls.c), sends one prepared
 * "GET path HTTP/1.1" with "Connection: close", and judges the bytes
 * received so far with http_response_check() (http.c) until a verdict is
 * possible.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "common/err.h"
#include "probe/check.h"
#include "probe/http.h"

static bool status_expected(const struct probe_check *c, int status)
{
	if (c->expect_status_count == 0)
		return status >= 200 && status <= 399;
	for (size_t i = 0; i < c->expect_status_count; i++)
		if (c->expect_status[i] == status)
			return true;
	return false;
}

static void expected_text(const struct probe_check *c, char *buf, size_t cap)
{
	if (c->expect_status_count == 0) {
		snprintf(buf, cap, "200-399");
		return;
	}
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < c->expect_status_count && off < cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%s%u", i ? ", " : "",
					(unsigned)c->expect_status[i]);
}

/* Judges what has arrived; finishes the probe when a verdict is possible. */
static void http_judge(struct probe_inst *in, bool eof)
{
	const struct probe_check *c = in->check;
	struct evbuffer *inbuf = bufferevent_get_input(in->bev);
	size_t len = evbuffer_get_length(inbuf);
	const char *data = len ? (const char *)evbuffer_pullup(inbuf, -1) : "";
	struct http_check_result r;
	enum http_check_rc rc =
	    http_response_check(data, len, eof, c->body_contains, in->scratch, &r);
	uint32_t ms = probe_inst_elapsed_ms(in);
	char exp[96];

	if (r.status != 0 && !status_expected(c, r.status)) {
		expected_text(c, exp, sizeof(exp));
		probe_inst_result(in, false, "answered status %d, expected %s", r.status, exp);
		return;
	}
	if (rc == HTTP_CHECK_BAD) {
		probe_inst_result(in, false, "%s", r.error);
		return;
	}
	if (rc == HTTP_CHECK_MORE)
		return;
	if (c->body_contains != NULL && !r.body_found) {
		probe_inst_result(
		    in, false, "answered status %d but the body%s does not contain \"%s\"",
		    r.status, r.body_capped ? " (first 64 KiB)" : "", c->body_contains);
		return;
	}
	probe_inst_result(in, true, "answered status %d in %u ms", r.status, ms);
}

static void bev_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	http_judge(arg, false);
}

static void bev_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct probe_inst *in = arg;
	if (what & BEV_EVENT_CONNECTED) {
		/* Only https gets here: the TLS handshake is complete. */
		probe_tls_handshake_done(in);
		in->step = STEP_RESPONSE;
		bufferevent_write(bev, in->request, in->request_len);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		int sock_err = EVUTIL_SOCKET_ERROR();
		if (in->step == STEP_TLS) {
			probe_tls_failure_text(in, bufferevent_get_openssl_error(bev), sock_err);
			in->done(in, false);
			return;
		}
		unsigned long oe = in->ssl ? bufferevent_get_openssl_error(bev) : 0;
		if (oe != 0) {
			const char *reason = ERR_reason_error_string(oe);
			probe_inst_result(in, false, "broke the TLS session (%s)",
					  reason ? reason : "?");
		} else if (probe_errno_text(sock_err) != NULL) {
			probe_inst_result(in, false, "%s while answering",
					  probe_errno_text(sock_err));
		} else {
			probe_inst_result(in, false, "failed while answering (%s)",
					  strerror(sock_err));
		}
		return;
	}
	if (what & BEV_EVENT_EOF) {
		if (in->step == STEP_TLS) {
			probe_tls_failure_text(in, 0, 0);
			in->done(in, false);
			return;
		}
		http_judge(in, true);
	}
}

/* connect() succeeded: continue on a bufferevent, with TLS for https. */
static void http_connected(struct probe_inst *in, int fd)
{
	const struct probe_check *c = in->check;
	const int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
	if (c->type == PROBE_HTTPS) {
		SSL *ssl = probe_tls_new(in);
		if (ssl == NULL) {
			probe_inst_result(in, false, "could not be probed (TLS set-up failed)");
			return;
		}
		in->bev = bufferevent_openssl_socket_new(in->base, fd, ssl,
							 BUFFEREVENT_SSL_CONNECTING, opts);
		if (in->bev == NULL) {
			SSL_free(ssl);
			probe_inst_result(in, false, "could not be probed (out of memory)");
			return;
		}
		in->ssl = ssl;
		in->step = STEP_TLS;
		/* Many servers close without close_notify; that is the end of the
		 * response, not an error. */
		bufferevent_openssl_set_allow_dirty_shutdown(in->bev, 1);
	} else {
		in->bev = bufferevent_socket_new(in->base, fd, opts);
		if (in->bev == NULL) {
			probe_inst_result(in, false, "could not be probed (out of memory)");
			return;
		}
		in->step = STEP_RESPONSE;
	}
	in->fd = -1; /* owned by the bufferevent now */
	bufferevent_setcb(in->bev, bev_read_cb, NULL, bev_event_cb, in);
	bufferevent_enable(in->bev, EV_READ | EV_WRITE);
	if (c->type == PROBE_HTTP)
		bufferevent_write(in->bev, in->request, in->request_len);
}

/* The authority as a URL and the Host header write it (RFC 9110 §7.2): the
 * host (or the address), bracketed if IPv6, with the port unless the default. */
static void http_authority(const struct probe_inst *in, char *buf, size_t cap)
{
	const struct probe_check *c = in->check;
	char ip[64];
	uint16_t port = addr_port(&in->addr);
	bool default_port = port == (c->type == PROBE_HTTPS ? 443 : 80);
	const char *h = c->host
			    ? c->host
			    : addr_format_ip((const struct sockaddr *)&in->addr.ss, ip, sizeof(ip));
	bool bracket = strchr(h, ':') != NULL;
	if (default_port)
		snprintf(buf, cap, "%s%s%s", bracket ? "[" : "", h, bracket ? "]" : "");
	else
		snprintf(buf, cap, "%s%s%s:%u", bracket ? "[" : "", h, bracket ? "]" : "",
			 (unsigned)port);
}

static int http_prepare(struct probe_inst *in)
{
	const struct probe_check *c = in->check;
	const char *scheme = c->type == PROBE_HTTPS ? "https" : "http";
	char ip[64], host[300];
	addr_format_ip((const struct sockaddr *)&in->addr.ss, ip, sizeof(ip));
	http_authority(in, host, sizeof(host));
	if (c->host != NULL && strcmp(c->host, ip) != 0)
		probe_text_fmt(in->desc, sizeof(in->desc), "%s://%s%s at %s", scheme, host, c->path,
			       ip);
	else
		probe_text_fmt(in->desc, sizeof(in->desc), "%s://%s%s", scheme, host, c->path);
	in->connected = http_connected;

	int n = asprintf(&in->request,
			 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sovdns-probe/%s\r\n"
			 "Accept: */*\r\nConnection: close\r\n\r\n",
			 c->path, host, SOVDNS_VERSION);
	if (n < 0) {
		in->request = NULL;
		return SOV_ENOMEM;
	}
	in->request_len = (size_t)n;
	if (c->body_contains != NULL) {
		in->scratch = malloc(HTTP_BODY_MAX);
		if (in->scratch == NULL)
			return SOV_ENOMEM;
	}
	return SOV_OK;
}

const struct probe_kind probe_kind_http = {
    .prepare = http_prepare,
    .start = probe_connect_start,
};
