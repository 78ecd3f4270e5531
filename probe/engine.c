/* engine.c — runs every probe instance on one libevent thread.
 *
 * Each instance is a small state machine (gdnsd's http_status.c is the
 * model) with exactly one timer, reused for two jobs:
 *
 *   IDLE    timer = time of the next probe
 *   QUEUED  no timer; waiting for a free slot (max_in_flight)
 *   RUNNING timer = timeout of the probe in progress
 *
 * A probe in progress is a non-blocking socket: for tcp/http/https an event
 * waits for connect() to finish (so the error is the kernel's own, e.g.
 * "connection refused"), then http and https continue on a bufferevent
 * (bufferevent_openssl for https). dns is one connected UDP socket. Nothing
 * blocks, so a silent site costs one idle socket until its timeout and never
 * delays another probe.
 *
 * Scheduling: the next probe starts interval_ms minus a random 0..jitter_ms
 * after the previous one *started*. Jitter only shortens, so detection stays
 * within fall × interval_ms + timeout_ms of a failure (docs/probes.md), and
 * the random walk keeps hundreds of probes from firing in lockstep.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <ldns/ldns.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/err.h"
#include "common/log.h"
#include "probe/http.h"
#include "common/addr.h"
#include "probe/probe.h"

#define SUBSYS "probe"
#define DESC_MAX 200
#define TEXT_MAX 200
/* Margin added to the first-round bound for scheduling and thread wake-up. */
#define FIRST_ROUND_MARGIN_MS 100

enum inst_phase { PH_IDLE, PH_QUEUED, PH_RUNNING };

/* What a running probe is waiting for, to say so when it times out. */
enum inst_step { STEP_CONNECT, STEP_TLS, STEP_RESPONSE, STEP_DNS };

struct inst {
	probe_engine_t *e;
	const struct probe_check *check;
	size_t target;
	char desc[DESC_MAX]; /* "https://www.test/health at 127.0.0.5" */
	struct event *timer; /* the instance's one timer */
	enum inst_phase phase;
	enum inst_step step;
	int fd;			 /* socket while connecting (tcp/http/https) or for dns */
	struct event *io;	 /* connect-wait or dns read event on fd */
	struct bufferevent *bev; /* after connect, http and https; owns fd and SSL */
	SSL *ssl;		 /* borrowed view of bev's SSL */
	struct timespec started;
	bool first_done;
	bool pending_fail;	 /* failed synchronously while starting: report on next tick */
	char text[TEXT_MAX];	 /* the result of the probe being finished */
	int32_t cert_days;	 /* of the last certificate seen; HEALTH_CERT_DAYS_NONE */
	char cert_not_after[16]; /* "2026-11-29", for the expired-certificate message */
	bool cert_warned;
	struct probe_sm sm;
	/* prepared once */
	char *request; /* http(s) request bytes */
	size_t request_len;
	uint8_t *query; /* dns query wire bytes; the ID is rewritten per probe */
	size_t query_len;
	uint16_t query_id;
	char *scratch;	     /* HTTP_BODY_MAX, for body_contains */
	SSL_CTX *ssl_ctx;    /* https: the check's context (owned by the engine) */
	sov_sockaddr_t addr; /* where to connect */
	TAILQ_ENTRY(inst) qlink;
};

struct target_rt {
	enum health_state state;
	size_t *insts;
	size_t n;
};

struct probe_engine {
	const probe_config_t *cfg;
	health_table_t *table;
	probe_transition_cb cb;
	void *cb_arg;
	struct event_base *base;
	struct inst *insts;
	size_t n;
	struct target_rt *targets;
	enum health_state *states_scratch; /* for probe_combine_states, sized max target n */
	SSL_CTX **ssl_ctx;		   /* per check; NULL unless https */
	TAILQ_HEAD(, inst) queue;
	uint32_t in_flight;
	uint64_t rng;
	uint32_t max_timeout_ms;
	/* stop: a pipe, so no global libevent threading is needed */
	int stop_pipe[2];
	struct event *stop_ev;
	pthread_t thread;
	bool started, stopped;
	/* first round */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t first_pending;
	struct timespec start_mono;
};

static int ssl_inst_idx = -1;
static pthread_once_t ssl_once = PTHREAD_ONCE_INIT;

static void ssl_once_init(void)
{
	ssl_inst_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* ---- small helpers ---- */

/* snprintf for texts where truncation is accepted (long URLs in log lines). */
__attribute__((format(printf, 3, 4))) static void text_fmt(char *buf, size_t cap, const char *fmt,
							   ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

static uint64_t rng_next(probe_engine_t *e)
{
	/* xorshift64*: jitter needs spread, not secrecy. */
	uint64_t x = e->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	e->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static uint32_t rng_below(probe_engine_t *e, uint32_t n)
{
	return n ? (uint32_t)(rng_next(e) % n) : 0;
}

static int64_t ms_between(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

static int64_t now_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void timer_arm(struct inst *in, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
			     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(in->timer, &tv);
}

static const char *errno_text(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return "refused the connection";
	case ECONNRESET:
		return "reset the connection";
	case ETIMEDOUT:
		return "did not answer the connection (timed out in the kernel)";
	case EHOSTUNREACH:
		return "is unreachable (no route to host)";
	case ENETUNREACH:
		return "is unreachable (network unreachable)";
	case EPIPE:
		return "closed the connection";
	default:
		return NULL;
	}
}

/* ---- finishing a probe ---- */

static void inst_close(struct inst *in)
{
	if (in->bev != NULL) {
		bufferevent_free(in->bev); /* closes fd, frees SSL (BEV_OPT_CLOSE_ON_FREE) */
		in->bev = NULL;
		in->ssl = NULL;
		in->fd = -1;
	}
	if (in->io != NULL) {
		event_free(in->io);
		in->io = NULL;
	}
	if (in->fd >= 0) {
		close(in->fd);
		in->fd = -1;
	}
}

static int32_t target_cert_days(probe_engine_t *e, size_t target)
{
	int32_t best = HEALTH_CERT_DAYS_NONE;
	const struct target_rt *t = &e->targets[target];
	for (size_t i = 0; i < t->n; i++) {
		int32_t d = e->insts[t->insts[i]].cert_days;
		if (d != HEALTH_CERT_DAYS_NONE && (best == HEALTH_CERT_DAYS_NONE || d < best))
			best = d;
	}
	return best;
}

/* An instance changed state: recombine its target, publish, log, notify. */
static void inst_state_changed(struct inst *in, enum health_state before)
{
	probe_engine_t *e = in->e;
	const struct probe_check *c = in->check;
	struct target_rt *t = &e->targets[in->target];
	const struct probe_target *tc = &e->cfg->targets[in->target];
	char reason[HEALTH_TEXT_MAX];

	if (before == HEALTH_UNKNOWN)
		text_fmt(reason, sizeof(reason), "%s %s, first check", in->desc, in->text);
	else if (in->sm.state == HEALTH_DOWN)
		text_fmt(reason, sizeof(reason), "%s %s, %u of %u failed", in->desc, in->text,
			 in->sm.fail_run, c->fall);
	else
		text_fmt(reason, sizeof(reason), "%s %s, %u of %u succeeded", in->desc, in->text,
			 in->sm.ok_run, c->rise);

	for (size_t i = 0; i < t->n; i++)
		e->states_scratch[i] = e->insts[t->insts[i]].sm.state;
	enum health_state now = probe_combine_states(e->states_scratch, t->n, tc->combine);
	if (now == t->state) {
		/* A probe's first result that decides nothing is start-up noise. */
		if (before == HEALTH_UNKNOWN && !log_enabled(LOG_LVL_DEBUG))
			return;
		log_info(SUBSYS, "%s: probe %s: %s; %s stays %s (combine %s)", tc->name,
			 health_state_name(in->sm.state), reason, tc->name, health_state_name(now),
			 tc->combine == PROBE_COMBINE_ANY ? "any" : "all");
		return;
	}
	enum health_state from = t->state;
	t->state = now;
	int64_t at = now_unix_ms();
	health_publish(e->table, in->target, now, reason, at);
	if (now == HEALTH_DOWN)
		log_warn(SUBSYS, "%s down: %s", tc->name, reason);
	else
		log_info(SUBSYS, "%s %s: %s", tc->name, health_state_name(now), reason);
	if (e->cb != NULL) {
		struct probe_transition tr = {
		    .target = in->target,
		    .target_name = tc->name,
		    .dc_id = e->cfg->targets[tc->dc_index].name,
		    .service = tc->service,
		    .from = from,
		    .to = now,
		    .reason = reason,
		    .at_unix_ms = at,
		};
		e->cb(&tr, e->cb_arg);
	}
}

static void inst_begin(struct inst *in);

static void inst_finish(struct inst *in, bool ok)
{
	probe_engine_t *e = in->e;
	const struct probe_check *c = in->check;
	struct timespec now;

	inst_close(in);
	evtimer_del(in->timer);
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t took = ms_between(&in->started, &now);
	in->phase = PH_IDLE;
	e->in_flight--;

	char line[HEALTH_TEXT_MAX];
	text_fmt(line, sizeof(line), "%s %s", in->desc, in->text);
	if (!ok)
		log_debug(SUBSYS, "%s: %s (%u in a row)", e->cfg->targets[in->target].name, line,
			  in->sm.fail_run + 1);
	enum health_state before = in->sm.state;
	bool changed = probe_sm_feed(&in->sm, ok, c->rise, c->fall);
	health_record_result(e->table, in->target, ok, line, (uint32_t)(took < 0 ? 0 : took),
			     target_cert_days(e, in->target), now_unix_ms());
	if (changed)
		inst_state_changed(in, before);

	if (!in->first_done) {
		in->first_done = true;
		pthread_mutex_lock(&e->mu);
		if (e->first_pending > 0 && --e->first_pending == 0)
			pthread_cond_broadcast(&e->cv);
		pthread_mutex_unlock(&e->mu);
	}

	/* Next start: interval after this one started, shortened by jitter. */
	int64_t next = (int64_t)c->interval_ms - rng_below(e, c->jitter_ms + 1) - took;
	timer_arm(in, next);

	/* A slot is free: start the longest-waiting queued probe. */
	while (e->in_flight < e->cfg->max_in_flight && !TAILQ_EMPTY(&e->queue)) {
		struct inst *q = TAILQ_FIRST(&e->queue);
		TAILQ_REMOVE(&e->queue, q, qlink);
		inst_begin(q);
	}
}

__attribute__((format(printf, 3, 4))) static void inst_result(struct inst *in, bool ok,
							      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(in->text, sizeof(in->text), fmt, ap);
	va_end(ap);
	inst_finish(in, ok);
}

/* Failure while starting (e.g. socket() failed): reported from the timer on
 * the next loop pass, so that inst_begin never recurses into inst_finish. */
__attribute__((format(printf, 2, 3))) static void inst_fail_soon(struct inst *in, const char *fmt,
								 ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(in->text, sizeof(in->text), fmt, ap);
	va_end(ap);
	in->pending_fail = true;
	timer_arm(in, 0);
}

static uint32_t elapsed_ms(const struct inst *in)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t ms = ms_between(&in->started, &now);
	return ms < 0 ? 0 : (uint32_t)ms;
}

/* ---- TLS ---- */

static int32_t cert_days_left(const X509 *cert, char *date, size_t cap)
{
	int pday = 0, psec = 0;
	const ASN1_TIME *na = X509_get0_notAfter(cert);
	struct tm tm;
	if (date != NULL && cap > 0) {
		date[0] = '\0';
		if (ASN1_TIME_to_tm(na, &tm) == 1)
			strftime(date, cap, "%Y-%m-%d", &tm);
	}
	if (ASN1_TIME_diff(&pday, &psec, NULL, na) != 1)
		return HEALTH_CERT_DAYS_NONE;
	int64_t secs = (int64_t)pday * 86400 + psec;
	/* floor: expired since one second counts as day -1 */
	return (int32_t)(secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400));
}

static int verify_cb(int preverify_ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct inst *in = ssl ? SSL_get_ex_data(ssl, ssl_inst_idx) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(x);
	/* Record the leaf's expiry even when verification fails, so an operator
	 * sees "expired 3 days ago" rather than only "handshake failed". */
	if (in != NULL && leaf != NULL)
		in->cert_days =
		    cert_days_left(leaf, in->cert_not_after, sizeof(in->cert_not_after));
	return preverify_ok;
}

static void tls_failure_text(struct inst *in, unsigned long ossl_err, int sock_err)
{
	long vr = in->ssl ? SSL_get_verify_result(in->ssl) : X509_V_OK;
	switch (vr) {
	case X509_V_OK:
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED: {
		int ago = in->cert_days == HEALTH_CERT_DAYS_NONE ? 0 : -in->cert_days;
		snprintf(in->text, sizeof(in->text),
			 "presented an expired certificate (expired on %s, %d day%s ago)",
			 in->cert_not_after, ago, ago == 1 ? "" : "s");
		return;
	}
	case X509_V_ERR_CERT_NOT_YET_VALID:
		snprintf(in->text, sizeof(in->text),
			 "presented a certificate that is not valid yet");
		return;
	case X509_V_ERR_HOSTNAME_MISMATCH:
		snprintf(in->text, sizeof(in->text),
			 "presented a certificate not valid for the name %s", in->check->host);
		return;
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		snprintf(in->text, sizeof(in->text),
			 "presented a certificate not valid for its address");
		return;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		snprintf(in->text, sizeof(in->text),
			 "presented a certificate from an untrusted CA (%s)",
			 X509_verify_cert_error_string(vr));
		return;
	default:
		snprintf(in->text, sizeof(in->text),
			 "presented a certificate that failed verification (%s)",
			 X509_verify_cert_error_string(vr));
		return;
	}
	if (ossl_err != 0) {
		char buf[160];
		ERR_error_string_n(ossl_err, buf, sizeof(buf));
		const char *reason = ERR_reason_error_string(ossl_err);
		snprintf(in->text, sizeof(in->text), "failed the TLS handshake (%s)",
			 reason ? reason : buf);
	} else if (sock_err != 0 && errno_text(sock_err) != NULL) {
		snprintf(in->text, sizeof(in->text), "%s during the TLS handshake",
			 errno_text(sock_err));
	} else if (sock_err != 0) {
		snprintf(in->text, sizeof(in->text), "failed during the TLS handshake (%s)",
			 strerror(sock_err));
	} else {
		snprintf(in->text, sizeof(in->text),
			 "closed the connection during the TLS handshake");
	}
}

/* ---- http / https ---- */

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
static void http_judge(struct inst *in, bool eof)
{
	const struct probe_check *c = in->check;
	struct evbuffer *inbuf = bufferevent_get_input(in->bev);
	size_t len = evbuffer_get_length(inbuf);
	const char *data = len ? (const char *)evbuffer_pullup(inbuf, -1) : "";
	struct http_check_result r;
	enum http_check_rc rc =
	    http_response_check(data, len, eof, c->body_contains, in->scratch, &r);
	uint32_t ms = elapsed_ms(in);
	char exp[96];

	if (r.status != 0 && !status_expected(c, r.status)) {
		expected_text(c, exp, sizeof(exp));
		inst_result(in, false, "answered status %d, expected %s", r.status, exp);
		return;
	}
	if (rc == HTTP_CHECK_BAD) {
		inst_result(in, false, "%s", r.error);
		return;
	}
	if (rc == HTTP_CHECK_MORE)
		return;
	if (c->body_contains != NULL && !r.body_found) {
		inst_result(in, false, "answered status %d but the body%s does not contain \"%s\"",
			    r.status, r.body_capped ? " (first 64 KiB)" : "", c->body_contains);
		return;
	}
	inst_result(in, true, "answered status %d in %u ms", r.status, ms);
}

static void bev_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	http_judge(arg, false);
}

static void bev_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct inst *in = arg;
	if (what & BEV_EVENT_CONNECTED) {
		/* Only https gets here: the TLS handshake is complete. */
		X509 *peer = SSL_get1_peer_certificate(in->ssl);
		if (peer != NULL) {
			in->cert_days =
			    cert_days_left(peer, in->cert_not_after, sizeof(in->cert_not_after));
			X509_free(peer);
		}
		const struct probe_check *c = in->check;
		if (in->cert_days != HEALTH_CERT_DAYS_NONE &&
		    in->cert_days < (int32_t)c->cert_warn_days) {
			if (!in->cert_warned)
				log_warn(SUBSYS,
					 "%s: %s: certificate expires in %d days (not after %s)",
					 in->e->cfg->targets[in->target].name, in->desc,
					 in->cert_days, in->cert_not_after);
			in->cert_warned = true;
		} else {
			in->cert_warned = false;
		}
		in->step = STEP_RESPONSE;
		bufferevent_write(bev, in->request, in->request_len);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		int sock_err = EVUTIL_SOCKET_ERROR();
		if (in->step == STEP_TLS) {
			tls_failure_text(in, bufferevent_get_openssl_error(bev), sock_err);
			inst_finish(in, false);
			return;
		}
		unsigned long oe = in->ssl ? bufferevent_get_openssl_error(bev) : 0;
		if (oe != 0) {
			const char *reason = ERR_reason_error_string(oe);
			inst_result(in, false, "broke the TLS session (%s)", reason ? reason : "?");
		} else if (errno_text(sock_err) != NULL) {
			inst_result(in, false, "%s while answering", errno_text(sock_err));
		} else {
			inst_result(in, false, "failed while answering (%s)", strerror(sock_err));
		}
		return;
	}
	if (what & BEV_EVENT_EOF) {
		if (in->step == STEP_TLS) {
			tls_failure_text(in, 0, 0);
			inst_finish(in, false);
			return;
		}
		http_judge(in, true);
	}
}

/* connect() finished (or failed): continue by type. */
static void connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct inst *in = arg;
	probe_engine_t *e = in->e;
	const struct probe_check *c = in->check;
	int err = 0;
	socklen_t elen = sizeof(err);
	(void)what;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
		err = errno;
	if (err != 0) {
		if (errno_text(err) != NULL)
			inst_result(in, false, "%s", errno_text(err));
		else
			inst_result(in, false, "could not be connected to (%s)", strerror(err));
		return;
	}
	event_free(in->io);
	in->io = NULL;
	if (c->type == PROBE_TCP) {
		inst_result(in, true, "accepted the connection in %u ms", elapsed_ms(in));
		return;
	}

	const int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
	if (c->type == PROBE_HTTPS) {
		SSL *ssl = SSL_new(in->ssl_ctx);
		if (ssl == NULL) {
			inst_result(in, false, "could not be probed (TLS set-up failed)");
			return;
		}
		SSL_set_ex_data(ssl, ssl_inst_idx, in);
		X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
		X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		char ip[64];
		sov_sockaddr_t lit;
		if (c->host != NULL && addr_parse(c->host, 0, &lit) != SOV_OK) {
			/* SNI carries names only, never IP literals (RFC 6066 §3). */
			SSL_set_tlsext_host_name(ssl, c->host);
			X509_VERIFY_PARAM_set1_host(param, c->host, 0);
		} else {
			X509_VERIFY_PARAM_set1_ip_asc(
			    param, c->host ? c->host : addr_format_ip((const struct sockaddr *)&in->addr.ss, ip, sizeof(ip)));
		}
		in->bev = bufferevent_openssl_socket_new(e->base, fd, ssl,
							 BUFFEREVENT_SSL_CONNECTING, opts);
		if (in->bev == NULL) {
			SSL_free(ssl);
			inst_result(in, false, "could not be probed (out of memory)");
			return;
		}
		in->ssl = ssl;
		in->step = STEP_TLS;
		/* Many servers close without close_notify; that is the end of the
		 * response, not an error. */
		bufferevent_openssl_set_allow_dirty_shutdown(in->bev, 1);
	} else {
		in->bev = bufferevent_socket_new(e->base, fd, opts);
		if (in->bev == NULL) {
			inst_result(in, false, "could not be probed (out of memory)");
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

/* ---- dns ---- */

static void dns_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct inst *in = arg;
	const struct probe_check *c = in->check;
	uint8_t buf[4096];
	(void)what;

	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (errno == ECONNREFUSED)
			inst_result(in, false,
				    "refused the query (nothing listens on the DNS port)");
		else
			inst_result(in, false, "could not be queried (%s)", strerror(errno));
		return;
	}
	/* A reply to an older query, or a stray datagram: keep waiting. */
	if (n < 12 || buf[0] != (uint8_t)(in->query_id >> 8) || buf[1] != (uint8_t)in->query_id ||
	    !(buf[2] & 0x80))
		return;
	ldns_pkt *pkt = NULL;
	if (ldns_wire2pkt(&pkt, buf, (size_t)n) != LDNS_STATUS_OK) {
		inst_result(in, false, "sent a malformed DNS reply");
		return;
	}
	uint8_t rcode = (uint8_t)ldns_pkt_get_rcode(pkt);
	bool found = !c->has_expect_address;
	const ldns_rr_list *ans = ldns_pkt_answer(pkt);
	for (size_t i = 0; !found && i < ldns_rr_list_rr_count(ans); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ans, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		size_t alen = c->expect_family == AF_INET ? 4 : 16;
		if ((t == LDNS_RR_TYPE_A && c->expect_family == AF_INET) ||
		    (t == LDNS_RR_TYPE_AAAA && c->expect_family == AF_INET6)) {
			const ldns_rdf *rd = ldns_rr_rdf(rr, 0);
			if (rd && ldns_rdf_size(rd) == alen &&
			    memcmp(ldns_rdf_data(rd), c->expect_address, alen) == 0)
				found = true;
		}
	}
	ldns_pkt_free(pkt);
	const ldns_lookup_table *got = ldns_lookup_by_id(ldns_rcodes, rcode);
	const ldns_lookup_table *want = ldns_lookup_by_id(ldns_rcodes, c->expect_rcode);
	if (rcode != c->expect_rcode) {
		inst_result(in, false, "answered %s, expected %s", got ? got->name : "?",
			    want ? want->name : "?");
	} else if (!found) {
		char ip[64];
		inet_ntop(c->expect_family, c->expect_address, ip, sizeof(ip));
		inst_result(in, false, "answered %s without %s in the answer",
			    got ? got->name : "?", ip);
	} else {
		inst_result(in, true, "answered %s in %u ms", got ? got->name : "?",
			    elapsed_ms(in));
	}
}

/* ---- starting a probe ---- */

static void inst_begin(struct inst *in)
{
	probe_engine_t *e = in->e;
	const struct probe_check *c = in->check;
	const struct sockaddr *sa = (const struct sockaddr *)&in->addr.ss;

	in->phase = PH_RUNNING;
	in->pending_fail = false;
	e->in_flight++;
	clock_gettime(CLOCK_MONOTONIC, &in->started);
	timer_arm(in, c->timeout_ms);

	if (c->type == PROBE_DNS) {
		in->step = STEP_DNS;
		in->fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (in->fd < 0) {
			inst_fail_soon(in, "could not be queried (socket: %s)", strerror(errno));
			return;
		}
		/* connect() so that the kernel drops datagrams from other sources and
		 * reports ICMP port unreachable as ECONNREFUSED. */
		if (connect(in->fd, sa, in->addr.len) != 0) {
			inst_fail_soon(in, "could not be queried (%s)", strerror(errno));
			return;
		}
		in->query_id = (uint16_t)rng_next(e);
		in->query[0] = (uint8_t)(in->query_id >> 8);
		in->query[1] = (uint8_t)in->query_id;
		if (send(in->fd, in->query, in->query_len, 0) < 0) {
			if (errno == ECONNREFUSED)
				inst_fail_soon(
				    in, "refused the query (nothing listens on the DNS port)");
			else
				inst_fail_soon(in, "could not be queried (%s)", strerror(errno));
			return;
		}
		in->io = event_new(e->base, in->fd, EV_READ | EV_PERSIST, dns_read_cb, in);
		if (in->io == NULL || event_add(in->io, NULL) != 0)
			inst_fail_soon(in, "could not be queried (out of memory)");
		return;
	}

	in->step = STEP_CONNECT;
	in->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (in->fd < 0) {
		inst_fail_soon(in, "could not be probed (socket: %s)", strerror(errno));
		return;
	}
	if (connect(in->fd, sa, in->addr.len) != 0 && errno != EINPROGRESS) {
		int err = errno;
		if (errno_text(err) != NULL)
			inst_fail_soon(in, "%s", errno_text(err));
		else
			inst_fail_soon(in, "could not be connected to (%s)", strerror(err));
		return;
	}
	/* Writable means connect() finished, successfully or not (connect(2)). */
	in->io = event_new(e->base, in->fd, EV_WRITE, connect_cb, in);
	if (in->io == NULL || event_add(in->io, NULL) != 0)
		inst_fail_soon(in, "could not be probed (out of memory)");
}

static void timeout_text(struct inst *in)
{
	const char *what = "";
	switch (in->step) {
	case STEP_CONNECT:
		what = "while connecting";
		break;
	case STEP_TLS:
		what = "during the TLS handshake";
		break;
	case STEP_RESPONSE:
		what = "waiting for the response";
		break;
	case STEP_DNS:
		what = "waiting for the DNS reply";
		break;
	}
	snprintf(in->text, sizeof(in->text), "timed out after %u ms %s", in->check->timeout_ms,
		 what);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct inst *in = arg;
	probe_engine_t *e = in->e;
	(void)fd;
	(void)what;

	if (in->phase == PH_RUNNING) {
		if (!in->pending_fail)
			timeout_text(in);
		inst_finish(in, false);
		return;
	}
	if (in->phase == PH_IDLE) {
		if (e->in_flight >= e->cfg->max_in_flight) {
			in->phase = PH_QUEUED;
			TAILQ_INSERT_TAIL(&e->queue, in, qlink);
			return;
		}
		inst_begin(in);
	}
}

/* ---- preparing instances ---- */

static void inst_describe(struct inst *in)
{
	const struct probe_check *c = in->check;
	char ip[64], hp[300];
	addr_format_ip((const struct sockaddr *)&in->addr.ss, ip, sizeof(ip));
	bool v6 = in->addr.ss.ss_family == AF_INET6;
	uint16_t port = addr_port(&in->addr);
	switch (c->type) {
	case PROBE_TCP:
		text_fmt(in->desc, sizeof(in->desc), "tcp %s%s%s:%u", v6 ? "[" : "", ip,
			 v6 ? "]" : "", (unsigned)port);
		break;
	case PROBE_DNS: {
		char *type = ldns_rr_type2str((ldns_rr_type)c->qtype);
		text_fmt(in->desc, sizeof(in->desc), "dns %s%s%s:%u %s %s", v6 ? "[" : "", ip,
			 v6 ? "]" : "", (unsigned)port, c->qname, type ? type : "?");
		free(type);
		break;
	}
	case PROBE_HTTP:
	case PROBE_HTTPS: {
		bool https = c->type == PROBE_HTTPS;
		bool default_port = port == (https ? 443 : 80);
		const char *host = c->host ? c->host : ip;
		bool bracket = strchr(host, ':') != NULL;
		if (default_port)
			snprintf(hp, sizeof(hp), "%s%s%s", bracket ? "[" : "", host,
				 bracket ? "]" : "");
		else
			snprintf(hp, sizeof(hp), "%s%s%s:%u", bracket ? "[" : "", host,
				 bracket ? "]" : "", (unsigned)port);
		if (c->host != NULL && strcmp(c->host, ip) != 0)
			text_fmt(in->desc, sizeof(in->desc), "%s://%s%s at %s",
				 https ? "https" : "http", hp, c->path, ip);
		else
			text_fmt(in->desc, sizeof(in->desc), "%s://%s%s", https ? "https" : "http",
				 hp, c->path);
		break;
	}
	}
}

static int inst_prepare(struct inst *in)
{
	const struct probe_check *c = in->check;
	int rc = SOV_OK;
	inst_describe(in);
	if (c->type == PROBE_HTTP || c->type == PROBE_HTTPS) {
		char ip[64], host[300];
		uint16_t port = addr_port(&in->addr);
		bool default_port = port == (c->type == PROBE_HTTPS ? 443 : 80);
		const char *h = c->host ? c->host : addr_format_ip((const struct sockaddr *)&in->addr.ss, ip, sizeof(ip));
		bool bracket = strchr(h, ':') != NULL;
		/* RFC 9110 §7.2: Host is the authority, with the port if not the default. */
		if (default_port)
			snprintf(host, sizeof(host), "%s%s%s", bracket ? "[" : "", h,
				 bracket ? "]" : "");
		else
			snprintf(host, sizeof(host), "%s%s%s:%u", bracket ? "[" : "", h,
				 bracket ? "]" : "", (unsigned)port);
		int n = asprintf(&in->request,
				 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sovdns-probe/%s\r\n"
				 "Accept: */*\r\nConnection: close\r\n\r\n",
				 c->path, host, SOVDNS_VERSION);
		if (n < 0) {
			in->request = NULL;
			rc = SOV_ENOMEM;
			goto finish;
		}
		in->request_len = (size_t)n;
		if (c->body_contains != NULL) {
			in->scratch = malloc(HTTP_BODY_MAX);
			if (in->scratch == NULL) {
				rc = SOV_ENOMEM;
				goto finish;
			}
		}
	} else if (c->type == PROBE_DNS) {
		ldns_rdf *qname = ldns_dname_new_frm_str(c->qname);
		ldns_pkt *q =
		    qname ? ldns_pkt_query_new(qname, (ldns_rr_type)c->qtype, LDNS_RR_CLASS_IN, 0)
			  : NULL;
		if (q == NULL) {
			ldns_rdf_deep_free(qname);
			rc = SOV_ENOMEM;
			goto finish;
		}
		/* No RD: we ask the datacenter's authoritative server about its own data. */
		if (ldns_pkt2wire(&in->query, q, &in->query_len) != LDNS_STATUS_OK)
			rc = SOV_ENOMEM;
		ldns_pkt_free(q);
	}
finish:
	return rc;
}

/* ---- the engine ---- */

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	probe_engine_t *e = arg;
	(void)fd;
	(void)what;
	event_base_loopbreak(e->base);
}

static void *engine_thread(void *arg)
{
	probe_engine_t *e = arg;
	event_base_loop(e->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static SSL_CTX *ssl_ctx_for(const struct probe_check *c)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	int ok = c->ca_file ? SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL)
			    : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		unsigned long err = ERR_get_error();
		log_err(SUBSYS, "check %s: cannot load CA certificates from %s: %s", c->name,
			c->ca_file ? c->ca_file : "the system store",
			err ? ERR_reason_error_string(err) : "unknown error");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Verify always runs (the callback records expiry); with verify=false a
	 * failed verification does not fail the handshake. */
	SSL_CTX_set_verify(ctx, c->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, verify_cb);
	return ctx;
}

int probe_engine_new(const probe_config_t *cfg, health_table_t *table, probe_transition_cb cb,
		     void *cb_arg, probe_engine_t **out)
{
	int rc = SOV_OK;
	size_t max_n = 1;
	probe_engine_t *e = NULL;

	*out = NULL;
	if (health_table_count(table) != cfg->target_count) {
		log_err(SUBSYS, "health table has %zu slots, configuration has %zu targets",
			health_table_count(table), cfg->target_count);
		rc = SOV_EINVAL;
		goto finish;
	}
	pthread_once(&ssl_once, ssl_once_init);
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		rc = SOV_ENOMEM;
		goto finish;
	}
	e->cfg = cfg;
	e->table = table;
	e->cb = cb;
	e->cb_arg = cb_arg;
	e->n = cfg->instance_count;
	e->stop_pipe[0] = e->stop_pipe[1] = -1;
	TAILQ_INIT(&e->queue);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	e->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
		 (uint64_t)(uintptr_t)e;
	if (e->rng == 0)
		e->rng = 0x9E3779B97F4A7C15ULL;

	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, &ca);
	pthread_condattr_destroy(&ca);

	e->base = event_base_new();
	e->insts = calloc(e->n ? e->n : 1, sizeof(*e->insts));
	e->targets = calloc(cfg->target_count ? cfg->target_count : 1, sizeof(*e->targets));
	e->ssl_ctx = calloc(cfg->check_count ? cfg->check_count : 1, sizeof(*e->ssl_ctx));
	if (e->base == NULL || e->insts == NULL || e->targets == NULL || e->ssl_ctx == NULL) {
		rc = SOV_ENOMEM;
		goto finish;
	}
	if (pipe2(e->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		rc = SOV_ESYS;
		goto finish;
	}
	e->stop_ev = event_new(e->base, e->stop_pipe[0], EV_READ, stop_cb, e);
	if (e->stop_ev == NULL || event_add(e->stop_ev, NULL) != 0) {
		rc = SOV_ENOMEM;
		goto finish;
	}

	for (size_t i = 0; i < cfg->check_count; i++) {
		const struct probe_check *c = &cfg->checks[i];
		if (c->type != PROBE_HTTPS)
			continue;
		e->ssl_ctx[i] = ssl_ctx_for(c);
		if (e->ssl_ctx[i] == NULL) {
			rc = SOV_EINVAL;
			goto finish;
		}
	}

	/* Targets: which instances each combines. */
	for (size_t i = 0; i < e->n; i++)
		e->targets[cfg->instances[i].target].n++;
	for (size_t t = 0; t < cfg->target_count; t++) {
		if (e->targets[t].n > max_n)
			max_n = e->targets[t].n;
		e->targets[t].insts = calloc(e->targets[t].n ? e->targets[t].n : 1, sizeof(size_t));
		if (e->targets[t].insts == NULL) {
			rc = SOV_ENOMEM;
			goto finish;
		}
		e->targets[t].n = 0;
		e->targets[t].state = health_get(table, t);
	}
	e->states_scratch = calloc(max_n, sizeof(*e->states_scratch));
	if (e->states_scratch == NULL) {
		rc = SOV_ENOMEM;
		goto finish;
	}

	for (size_t i = 0; i < e->n; i++) {
		struct inst *in = &e->insts[i];
		const struct probe_instance *pi = &cfg->instances[i];
		in->e = e;
		in->check = &cfg->checks[pi->check];
		in->target = pi->target;
		in->addr = pi->addr;
		in->fd = -1;
		in->cert_days = HEALTH_CERT_DAYS_NONE;
		in->ssl_ctx = e->ssl_ctx[pi->check];
		in->timer = evtimer_new(e->base, timer_cb, in);
		if (in->timer == NULL) {
			rc = SOV_ENOMEM;
			goto finish;
		}
		rc = inst_prepare(in);
		if (rc != SOV_OK)
			goto finish;
		struct target_rt *t = &e->targets[pi->target];
		t->insts[t->n++] = i;
		if (in->check->timeout_ms > e->max_timeout_ms)
			e->max_timeout_ms = in->check->timeout_ms;
	}
	e->first_pending = e->n;
finish:
	if (rc != SOV_OK)
		probe_engine_free(e);
	else
		*out = e;
	return rc;
}

int probe_engine_start(probe_engine_t *e)
{
	if (e->started)
		return SOV_EINVAL;
	clock_gettime(CLOCK_MONOTONIC, &e->start_mono);
	/* Spread the first round a little so hundreds of probes do not connect
	 * in the same millisecond, but keep it short: start-up waits for it. */
	for (size_t i = 0; i < e->n; i++) {
		uint32_t spread = e->insts[i].check->jitter_ms;
		if (spread > PROBE_STARTUP_SPREAD_MS)
			spread = PROBE_STARTUP_SPREAD_MS;
		timer_arm(&e->insts[i], rng_below(e, spread + 1));
	}
	/* The thread starts with every signal blocked (it inherits our mask):
	 * signals are the main thread's business, and a write to a site that
	 * closed the connection must give EPIPE, not kill the daemon with SIGPIPE
	 * (bufferevents write without MSG_NOSIGNAL). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int prc = pthread_create(&e->thread, NULL, engine_thread, e);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (prc != 0) {
		log_err(SUBSYS, "cannot start the probe thread: %s", strerror(prc));
		return SOV_ESYS;
	}
	e->started = true;
	log_info(SUBSYS, "probing %zu targets with %zu probes (at most %u at once)",
		 e->cfg->target_count, e->n, e->cfg->max_in_flight);
	return SOV_OK;
}

int probe_engine_first_round(probe_engine_t *e, size_t *pending)
{
	if (!e->started || e->stopped) {
		if (pending)
			*pending = e->first_pending;
		return SOV_EINVAL;
	}
	struct timespec deadline = e->start_mono;
	int64_t add_ms =
	    PROBE_STARTUP_SPREAD_MS + (int64_t)e->max_timeout_ms + FIRST_ROUND_MARGIN_MS;
	deadline.tv_sec += (time_t)(add_ms / 1000);
	deadline.tv_nsec += (long)(add_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&e->mu);
	while (e->first_pending > 0) {
		if (pthread_cond_timedwait(&e->cv, &e->mu, &deadline) == ETIMEDOUT)
			break;
	}
	size_t left = e->first_pending;
	pthread_mutex_unlock(&e->mu);
	if (left > 0)
		log_warn(SUBSYS,
			 "first round of probes: %zu of %zu without a result after %lld ms; "
			 "their targets stay unknown (usable) until they answer",
			 left, e->n, (long long)add_ms);
	if (pending)
		*pending = left;
	return SOV_OK;
}

void probe_engine_stop(probe_engine_t *e)
{
	if (!e->started || e->stopped)
		return;
	e->stopped = true;
	char b = 1;
	if (write(e->stop_pipe[1], &b, 1) != 1)
		log_err(SUBSYS, "cannot signal the probe thread to stop: %s", strerror(errno));
	pthread_join(e->thread, NULL);
	/* The loop has exited: nothing else touches the instances now. */
	for (size_t i = 0; i < e->n; i++) {
		inst_close(&e->insts[i]);
		evtimer_del(e->insts[i].timer);
	}
	/* A bufferevent with a deferred callback still queued (a read that
	 * arrived just before the stop) is only released when that callback
	 * runs; event_base_free() would drop it unrun and leak the buffer.
	 * Let the base run what is queued (our callbacks are detached by
	 * bufferevent_free, so nothing of ours runs). */
	for (int i = 0; i < 3; i++)
		event_base_loop(e->base, EVLOOP_NONBLOCK);
	pthread_mutex_lock(&e->mu);
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

void probe_engine_free(probe_engine_t *e)
{
	if (e == NULL)
		return;
	probe_engine_stop(e);
	for (size_t i = 0; e->insts && i < e->n; i++) {
		struct inst *in = &e->insts[i];
		inst_close(in);
		if (in->timer)
			event_free(in->timer);
		free(in->request);
		free(in->scratch);
		free(in->query);
	}
	free(e->insts);
	for (size_t t = 0; e->targets && t < e->cfg->target_count; t++)
		free(e->targets[t].insts);
	free(e->targets);
	free(e->states_scratch);
	for (size_t i = 0; e->ssl_ctx && i < e->cfg->check_count; i++)
		SSL_CTX_free(e->ssl_ctx[i]);
	free(e->ssl_ctx);
	if (e->stop_ev)
		event_free(e->stop_ev);
	if (e->stop_pipe[0] >= 0)
		close(e->stop_pipe[0]);
	if (e->stop_pipe[1] >= 0)
		close(e->stop_pipe[1]);
	if (e->base)
		event_base_free(e->base);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	free(e);
}
