/* check.h — private to probe/: one probe instance and the interface of a check kind.
 *
 * The engine (engine.c) owns the schedule: timers, the in-flight cap, the
 * state machine and publishing. Each check kind (check_tcp.c, check_http.c
 * for http and https with tls.c, check_dns.c) only knows how to describe an
 * instance, prepare what it sends, and run one probe to a verdict — the
 * split of gdnsd's plugins/tcp_connect.c and http_status.c.
 *
 * Dependencies point one way: engine.c → check_*.c → tls.c, check.c. A kind
 * never calls the engine: it ends a probe through probe_inst_result() or
 * probe_inst_fail_soon() (check.c), which reach the engine through the
 * instance's done callback.
 */
#ifndef SOV_PROBE_CHECK_H
#define SOV_PROBE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/addr.h"
#include "probe/probe.h"

#define PROBE_DESC_MAX 200
#define PROBE_TEXT_MAX 200

enum probe_phase { PH_IDLE, PH_QUEUED, PH_RUNNING };

/* What a running probe is waiting for, to say so when it times out. */
enum probe_step { STEP_CONNECT, STEP_TLS, STEP_RESPONSE, STEP_DNS };

struct probe_kind;

struct probe_inst {
	probe_engine_t *e; /* the engine's, opaque to the kinds */
	const struct probe_kind *kind;
	const struct probe_check *check;
	size_t target;
	const char *target_name; /* "dc-west", for log lines */
	struct event_base *base; /* the engine thread's */
	uint64_t *rng;		 /* the engine's generator state (probe_rng_next) */
	/* Called by probe_inst_result and by the timer after probe_inst_fail_soon. */
	void (*done)(struct probe_inst *in, bool ok);
	/* check_tcp.c: continues a tcp, http or https probe once connect() succeeded. */
	void (*connected)(struct probe_inst *in, int fd);
	char desc[PROBE_DESC_MAX]; /* "https://www.test/health at 127.0.0.5" */
	struct event *timer;	   /* the instance's one timer */
	enum probe_phase phase;
	enum probe_step step;
	int fd;			 /* socket while connecting (tcp/http/https) or for dns */
	struct event *io;	 /* connect-wait or dns read event on fd */
	struct bufferevent *bev; /* after connect, http and https; owns fd and SSL */
	SSL *ssl;		 /* borrowed view of bev's SSL */
	int64_t started_ms;	 /* clock_mono_ms() when the probe started */
	bool first_done;
	bool pending_fail;	   /* failed synchronously while starting: report on next tick */
	char text[PROBE_TEXT_MAX]; /* the result of the probe being finished */
	int32_t cert_days;	   /* of the last certificate seen; HEALTH_CERT_DAYS_NONE */
	char cert_not_after[16];   /* "2026-11-29", for the expired-certificate message */
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
	TAILQ_ENTRY(probe_inst) qlink;
};

/** One check kind. The engine calls prepare once per instance, start per probe. */
struct probe_kind {
	/* Fills in->desc and what every probe sends (request, query).
	 * SOV_OK or SOV_ENOMEM; what it allocates is freed by the engine. */
	int (*prepare)(struct probe_inst *in);
	/* Starts one probe (in->phase is RUNNING, the timeout armed). It ends
	 * with probe_inst_result from an event callback, or with
	 * probe_inst_fail_soon when it cannot even start. */
	void (*start)(struct probe_inst *in);
};

extern const struct probe_kind probe_kind_tcp;
extern const struct probe_kind probe_kind_http; /* http and https */
extern const struct probe_kind probe_kind_dns;

/* ---- check.c: what every kind and the engine share ---- */

/** xorshift64*: jitter and DNS query IDs need spread, not secrecy. */
uint64_t probe_rng_next(uint64_t *state) __attribute__((nonnull));

/** snprintf for texts where truncation is accepted (long URLs in log lines). */
void probe_text_fmt(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), nonnull(1, 3)));

/** A socket error as a predicate ("refused the connection"), or NULL if not a common one. */
const char *probe_errno_text(int err);

/** Arms the instance's timer ms from now (negative: now). */
void probe_inst_timer_arm(struct probe_inst *in, int64_t ms) __attribute__((nonnull));

/** Closes the socket, event and bufferevent of the probe in progress. */
void probe_inst_close(struct probe_inst *in) __attribute__((nonnull));

/** Milliseconds since the probe started (monotonic). */
uint32_t probe_inst_elapsed_ms(const struct probe_inst *in) __attribute__((nonnull));

/** Sets the result text and finishes the probe (through in->done). */
void probe_inst_result(struct probe_inst *in, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), nonnull(1, 3)));

/** Failure while starting (e.g. socket() failed): reported from the timer on
 * the next loop pass, so that a kind's start never recurses into the engine. */
void probe_inst_fail_soon(struct probe_inst *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), nonnull(1, 2)));

/* ---- check_tcp.c: the connect step of tcp, http and https ---- */

/** Starts a non-blocking connect(); on success calls in->connected(in, fd). */
void probe_connect_start(struct probe_inst *in) __attribute__((nonnull));

/* ---- tls.c: TLS for https ---- */

/** The client context of an https check (CA store, verify mode); NULL after logging why. */
SSL_CTX *probe_tls_ctx_new(const struct probe_check *c) __attribute__((nonnull));

/** A client SSL for the instance: SNI and the name or address to verify. NULL: out of memory. */
SSL *probe_tls_new(struct probe_inst *in) __attribute__((nonnull));

/** After the handshake: records the peer certificate's expiry, warns once when near. */
void probe_tls_handshake_done(struct probe_inst *in) __attribute__((nonnull));

/** Sets in->text for a failed handshake: the verification result, else the TLS or socket error. */
void probe_tls_failure_text(struct probe_inst *in, unsigned long ossl_err, int sock_err)
    __attribute__((nonnull));

#endif
