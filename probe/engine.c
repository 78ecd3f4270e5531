/* engine.c — runs every probe instance on one libevent thread.
 *
 * Each instance is a small state machine (gdnsd's http_status.c is the
 * model) with exactly one timer, reused for two jobs:
 *
 *   IDLE    timer = time of the next probe
 *   QUEUED  no timer; waiting for a free slot (max_in_flight)
 *   RUNNING timer = timeout of the probe in progress
 *
 * This file is the schedule and the state machine; how one probe runs is
 * its check kind's business (check.h: check_tcp.c, check_http.c with
 * tls.c, check_dns.c). A probe in progress is a non-blocking socket, so
 * nothing blocks: a silent site costs one idle socket until its timeout and
 * never delays another probe.
 *
 * Scheduling: the next probe starts interval_ms minus a random 0..jitter_ms
 * after the previous one *started*. Jitter only shortens, so detection stays
 * within fall × interval_ms + timeout_ms of a failure (docs/probes.md), and
 * the random walk keeps hundreds of probes from firing in lockstep.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "probe/check.h"
#include "probe/probe.h"

#define SUBSYS "probe"
/* Margin added to the first-round bound for scheduling and thread wake-up. */
#define FIRST_ROUND_MARGIN_MS 100

static const struct probe_kind *const kinds[] = {
    [PROBE_TCP] = &probe_kind_tcp,
    [PROBE_HTTP] = &probe_kind_http,
    [PROBE_HTTPS] = &probe_kind_http,
    [PROBE_DNS] = &probe_kind_dns,
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
	struct probe_inst *insts;
	size_t n;
	struct target_rt *targets;
	enum health_state *states_scratch; /* for probe_combine_states, sized max target n */
	SSL_CTX **ssl_ctx;		   /* per check; NULL unless https */
	TAILQ_HEAD(, probe_inst) queue;
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
	int64_t start_mono_ms; /* clock_mono_ms() at probe_engine_start */
};

static uint32_t rng_below(probe_engine_t *e, uint32_t n)
{
	return n ? (uint32_t)(probe_rng_next(&e->rng) % n) : 0;
}

/* ---- finishing a probe ---- */

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
static void inst_state_changed(struct probe_inst *in, enum health_state before)
{
	probe_engine_t *e = in->e;
	const struct probe_check *c = in->check;
	struct target_rt *t = &e->targets[in->target];
	const struct probe_target *tc = &e->cfg->targets[in->target];
	char reason[HEALTH_TEXT_MAX];

	if (before == HEALTH_UNKNOWN)
		probe_text_fmt(reason, sizeof(reason), "%s %s, first check", in->desc, in->text);
	else if (in->sm.state == HEALTH_DOWN)
		probe_text_fmt(reason, sizeof(reason), "%s %s, %u of %u failed", in->desc, in->text,
			       in->sm.fail_run, c->fall);
	else
		probe_text_fmt(reason, sizeof(reason), "%s %s, %u of %u succeeded", in->desc,
			       in->text, in->sm.ok_run, c->rise);

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
	int64_t at = clock_unix_ms();
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

static void inst_begin(struct probe_inst *in);

static void inst_finish(struct probe_inst *in, bool ok)
{
	probe_engine_t *e = in->e;
	const struct probe_check *c = in->check;

	probe_inst_close(in);
	evtimer_del(in->timer);
	int64_t took = clock_mono_ms() - in->started_ms;
	in->phase = PH_IDLE;
	e->in_flight--;

	char line[HEALTH_TEXT_MAX];
	probe_text_fmt(line, sizeof(line), "%s %s", in->desc, in->text);
	if (!ok)
		log_debug(SUBSYS, "%s: %s (%u in a row)", e->cfg->targets[in->target].name, line,
			  in->sm.fail_run + 1);
	enum health_state before = in->sm.state;
	bool changed = probe_sm_feed(&in->sm, ok, c->rise, c->fall);
	health_record_result(e->table, in->target, ok, line, (uint32_t)(took < 0 ? 0 : took),
			     target_cert_days(e, in->target), clock_unix_ms());
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
	probe_inst_timer_arm(in, next);

	/* A slot is free: start the longest-waiting queued probe. */
	while (e->in_flight < e->cfg->max_in_flight && !TAILQ_EMPTY(&e->queue)) {
		struct probe_inst *q = TAILQ_FIRST(&e->queue);
		TAILQ_REMOVE(&e->queue, q, qlink);
		inst_begin(q);
	}
}

/* ---- starting a probe ---- */

static void inst_begin(struct probe_inst *in)
{
	in->phase = PH_RUNNING;
	in->pending_fail = false;
	in->e->in_flight++;
	in->started_ms = clock_mono_ms();
	probe_inst_timer_arm(in, in->check->timeout_ms);
	in->kind->start(in);
}

static void timeout_text(struct probe_inst *in)
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
	struct probe_inst *in = arg;
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
		e->ssl_ctx[i] = probe_tls_ctx_new(c);
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
		struct probe_inst *in = &e->insts[i];
		const struct probe_instance *pi = &cfg->instances[i];
		in->e = e;
		in->check = &cfg->checks[pi->check];
		in->kind = kinds[in->check->type];
		in->target_name = cfg->targets[pi->target].name;
		in->base = e->base;
		in->rng = &e->rng;
		in->done = inst_finish;
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
		rc = in->kind->prepare(in);
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
	e->start_mono_ms = clock_mono_ms();
	/* Spread the first round a little so hundreds of probes do not connect
	 * in the same millisecond, but keep it short: start-up waits for it. */
	for (size_t i = 0; i < e->n; i++) {
		uint32_t spread = e->insts[i].check->jitter_ms;
		if (spread > PROBE_STARTUP_SPREAD_MS)
			spread = PROBE_STARTUP_SPREAD_MS;
		probe_inst_timer_arm(&e->insts[i], rng_below(e, spread + 1));
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
	int64_t add_ms =
	    PROBE_STARTUP_SPREAD_MS + (int64_t)e->max_timeout_ms + FIRST_ROUND_MARGIN_MS;
	struct timespec deadline; /* on e->cv's clock, CLOCK_MONOTONIC */
	clock_deadline_ms(CLOCK_MONOTONIC, e->start_mono_ms + add_ms - clock_mono_ms(), &deadline);
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
		probe_inst_close(&e->insts[i]);
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
		struct probe_inst *in = &e->insts[i];
		probe_inst_close(in);
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
