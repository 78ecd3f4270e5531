/* server.c — the DNS workers and their threads (contract in server.h).
 *
 * Starts `threads` workers; each runs its libevent base (TCP, tcp.c) on a
 * thread of its own and owns one UDP socket per listen address, each
 * served by a further thread (udp.c). Stopping: an event breaks each
 * worker's loop, a flag ends the UDP threads within UDP_STOP_POLL_MS.
 */
#include "dns/server.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "common/err.h"
#include "common/log.h"
#include "dns/server_int.h"
#include "dns/snapshot.h"

/* ------------------------------------------------------------ workers -- */

static void worker_on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	event_base_loopbreak(w->base);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];
	snprintf(name, sizeof(name), "sov-tcp%u", w->id % 10000);
	(void)pthread_setname_np(pthread_self(), name); /* for top -H, perf, ps -L */
	snapshot_thread_register();
	log_debug("dns", "worker %u running", w->id);
	if (event_base_dispatch(w->base) < 0)
		log_err("dns", "worker %u: event loop failed", w->id);
	snapshot_thread_unregister();
	return NULL;
}

static void worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	tcp_close_all(w);
	for (size_t k = 0; k < w->nsock; k++) {
		if (w->tcp && w->tcp[k])
			evconnlistener_free(w->tcp[k]); /* closes its socket */
		if (w->udp)
			udp_sock_free(w->udp[k]);
	}
	free(w->tcp);
	free(w->udp);
	if (w->accept_resume_ev)
		event_free(w->accept_resume_ev);
	if (w->stop_ev)
		event_free(w->stop_ev);
	if (w->base)
		event_base_free(w->base);
	free(w);
}

static int worker_new(struct server *srv, unsigned id, const config_t *conf, struct worker **out)
{
	int ret = SOV_ESYS;
	struct worker *w = NULL;
	void *mem = NULL;

	/* Cache-line aligned so that one worker's counters never share a line
	 * with another's. */
	if (posix_memalign(&mem, 64, sizeof(*w)) != 0) {
		log_err("dns", "out of memory for worker %u", id);
		ret = SOV_ENOMEM;
		goto finish;
	}
	w = mem;
	memset(w, 0, sizeof(*w));
	w->srv = srv;
	w->id = id;
	w->ctx.xfr_active = &srv->xfr_active; /* TCP streams transfers; UDP never does */
	w->nsock = conf->listen_count;

	w->udp = calloc(w->nsock, sizeof(*w->udp));
	w->tcp = calloc(w->nsock, sizeof(*w->tcp));
	w->base = event_base_new();
	if (w->udp == NULL || w->tcp == NULL || w->base == NULL) {
		log_err("dns", "worker %u: cannot allocate its event loop", id);
		ret = SOV_ENOMEM;
		goto finish;
	}
	w->stop_ev = event_new(w->base, -1, 0, worker_on_stop, w);
	w->accept_resume_ev = evtimer_new(w->base, tcp_on_accept_resume, w);
	if (w->stop_ev == NULL || w->accept_resume_ev == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}

	for (size_t k = 0; k < w->nsock; k++) {
		const sov_sockaddr_t *a = &conf->listen[k];
		ret = udp_sock_new(srv, id, a, &w->udp[k]);
		if (ret != SOV_OK)
			goto finish;
		ret = tcp_listen(w, k, a);
		if (ret != SOV_OK)
			goto finish;
	}
	*out = w;
	w = NULL;
	ret = SOV_OK;

finish:
	worker_free(w);
	return ret;
}

static void evthread_setup(void)
{
	/* Gives each event base a lock and a wake-up channel, which is what
	 * lets server_stop() activate a worker's stop event from the main
	 * thread. The locks are uncontended: one thread per base. */
	if (evthread_use_pthreads() != 0)
		log_err("dns", "libevent: cannot enable pthreads support");
}

int server_start(const config_t *conf, server_t **out)
{
	static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
	int ret = SOV_ESYS;
	struct server *srv = NULL;
	sigset_t all, old;
	bool masked = false;

	*out = NULL;
	pthread_once(&evthread_once, evthread_setup);

	srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}
	atomic_init(&srv->tcp_conns, 0);
	srv->tcp_max_connections = conf->tcp_max_connections;
	srv->tcp_idle_timeout_ms = conf->tcp_idle_timeout_ms;
	srv->nworkers = conf->threads;
	if (srv->nworkers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		srv->nworkers = n > 0 ? (unsigned)n : 1;
	}
	if (conf->listen_count == 0) {
		log_err("dns", "no listen address configured");
		ret = SOV_EINVAL;
		goto finish;
	}

	for (size_t k = 0; k < conf->listen_count; k++) {
		if (sock_check_free(&conf->listen[k], SOCK_DGRAM) != SOV_OK ||
		    sock_check_free(&conf->listen[k], SOCK_STREAM) != SOV_OK)
			goto finish;
	}

	srv->workers = calloc(srv->nworkers, sizeof(*srv->workers));
	if (srv->workers == NULL) {
		ret = SOV_ENOMEM;
		goto finish;
	}
	for (unsigned i = 0; i < srv->nworkers; i++) {
		ret = worker_new(srv, i, conf, &srv->workers[i]);
		if (ret != SOV_OK)
			goto finish;
	}

	/* Workers never handle signals: the main thread waits for them with
	 * sigwaitinfo(), and a signal delivered to a worker would interrupt
	 * its system calls for nothing. Threads inherit the creator's mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	masked = true;
	for (unsigned i = 0; i < srv->nworkers; i++) {
		struct worker *w = srv->workers[i];
		int e = pthread_create(&w->thread, NULL, worker_main, w);
		if (e != 0) {
			log_err("dns", "cannot start worker %u: %s", i, strerror(e));
			ret = SOV_ESYS;
			goto finish;
		}
		w->started = true;
		for (size_t k = 0; k < w->nsock; k++) {
			struct udp_sock *us = w->udp[k];
			e = pthread_create(&us->thread, NULL, udp_main, us);
			if (e != 0) {
				log_err("dns", "cannot start UDP thread of worker %u: %s", i,
					strerror(e));
				ret = SOV_ESYS;
				goto finish;
			}
			us->started = true;
		}
	}
	*out = srv;
	srv = NULL;
	ret = SOV_OK;

finish:
	if (masked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	server_stop(srv);
	return ret;
}

void server_stop(server_t *srv)
{
	if (srv == NULL)
		return;
	/* A stop event rather than a bare event_base_loopbreak() from here:
	 * loopbreak only sets a flag that event_base_loop() clears when it
	 * starts, so a worker not yet in its loop would miss it and never
	 * exit. An activated event waits until the loop runs it, and its
	 * callback breaks the loop from inside. */
	for (unsigned i = 0; srv->workers && i < srv->nworkers; i++) {
		struct worker *w = srv->workers[i];
		if (w != NULL && w->started)
			event_active(w->stop_ev, EV_READ, 1);
	}
	atomic_store(&srv->stopping, true);
	for (unsigned i = 0; srv->workers && i < srv->nworkers; i++) {
		struct worker *w = srv->workers[i];
		if (w != NULL && w->started)
			pthread_join(w->thread, NULL);
		for (size_t k = 0; w != NULL && w->udp && k < w->nsock; k++)
			if (w->udp[k] && w->udp[k]->started)
				pthread_join(w->udp[k]->thread, NULL);
	}
	for (unsigned i = 0; srv->workers && i < srv->nworkers; i++)
		worker_free(srv->workers[i]);
	free(srv->workers);
	free(srv);
}

static void stats_add(struct query_stats *out, const struct query_stats *s)
{
	for (size_t k = 0; k < sizeof(s->queries) / sizeof(s->queries[0]); k++)
		out->queries[k] += s->queries[k];
	for (size_t k = 0; k < sizeof(s->rcode) / sizeof(s->rcode[0]); k++)
		out->rcode[k] += s->rcode[k];
	out->dropped += s->dropped;
	out->truncated += s->truncated;
	out->referrals += s->referrals;
	out->nodata += s->nodata;
	out->service_answers += s->service_answers;
	out->fail_open += s->fail_open;
	out->rrl_dropped += s->rrl_dropped;
	out->rrl_slipped += s->rrl_slipped;
	out->xfr_refused += s->xfr_refused;
	out->xfr_busy += s->xfr_busy;
}

uint32_t server_xfr_active(const server_t *srv)
{
	return srv != NULL ? atomic_load_explicit(&srv->xfr_active, memory_order_relaxed) : 0;
}

void server_stats(const server_t *srv, struct query_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; srv != NULL && i < srv->nworkers; i++) {
		const struct worker *w = srv->workers[i];
		for (size_t k = 0; k <= w->nsock; k++)
			stats_add(out, k == w->nsock ? &w->ctx.stats : &w->udp[k]->ctx.stats);
	}
}
