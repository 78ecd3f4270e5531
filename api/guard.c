/* guard.c — header deadlines and fair eviction of pending API connections (guard.h). */
#include "api/guard.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/clock.h"

/* The reaper wakes this often: a late connection lives at most this much
 * past its deadline. 100 ms is nothing next to a deadline of seconds and
 * costs one list-head look per wake-up. */
#define REAPER_TICK_MS 100

struct guard_client {
	struct guard_client *next;
	int family;
	unsigned char addr[16];
	unsigned conns;	  /* records of this address */
	unsigned pending; /* of which pending */
};

struct guard_conn {
	struct guard_conn *prev, *next; /* pending list, oldest deadline first */
	struct guard_client *client;
	int fd;
	int64_t deadline_ms;
	bool pending;
	bool shut; /* shut down by the guard: stays out of the list until closed */
};

struct guard {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	pthread_t reaper;
	bool reaper_started;
	bool stop;
	unsigned pending_max;
	int64_t header_timeout_ms;
	guard_shut_fn shut;
	void *shut_ctx;
	/* Every deadline is "now + header_timeout_ms", so appending keeps the
	 * list sorted: expiry looks at the head only. */
	struct guard_conn *head, *tail;
	unsigned pending;
	/* Clients are at most the connections held (libmicrohttpd's limit, a
	 * few thousand): a list scan per accept costs microseconds. */
	struct guard_client *clients;
	uint64_t dropped[GUARD_REASONS];
};

guard_t *guard_new(unsigned pending_max, int64_t header_timeout_ms, guard_shut_fn shut, void *ctx)
{
	struct guard *g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&g->mu, NULL);
	g->pending_max = pending_max ? pending_max : 1;
	g->header_timeout_ms = header_timeout_ms > 0 ? header_timeout_ms : 1;
	g->shut = shut;
	g->shut_ctx = ctx;
	return g;
}

static void list_remove(struct guard *g, struct guard_conn *c)
{
	if (!c->pending)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		g->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		g->tail = c->prev;
	c->prev = c->next = NULL;
	c->pending = false;
	g->pending--;
	c->client->pending--;
}

static void list_append(struct guard *g, struct guard_conn *c, int64_t now_ms)
{
	c->deadline_ms = now_ms + g->header_timeout_ms;
	c->prev = g->tail;
	c->next = NULL;
	if (g->tail)
		g->tail->next = c;
	else
		g->head = c;
	g->tail = c;
	c->pending = true;
	g->pending++;
	c->client->pending++;
}

static void shut_down(struct guard *g, struct guard_conn *c, enum guard_reason why)
{
	list_remove(g, c);
	c->shut = true;
	g->dropped[why]++;
	if (g->shut)
		g->shut(g->shut_ctx, c->fd, why);
	else if (c->fd >= 0)
		(void)shutdown(c->fd, SHUT_RDWR);
}

/* Over pending_max: a pending connection of the client holding the most
 * pending ones goes, the oldest of them first (so among equals, the client
 * that came last keeps its connection). A client with one connection is
 * evicted only when no client holds more. */
static void evict_if_full(struct guard *g)
{
	while (g->pending > g->pending_max) {
		unsigned most = 0;
		for (struct guard_client *k = g->clients; k; k = k->next)
			if (k->pending > most)
				most = k->pending;
		struct guard_conn *c = g->head;
		while (c && c->client->pending != most)
			c = c->next;
		if (c == NULL)
			return; /* cannot happen: some client holds `most` */
		shut_down(g, c, GUARD_EVICTED);
	}
}

static struct guard_client *client_get(struct guard *g, const struct sockaddr *sa)
{
	int family = sa ? sa->sa_family : AF_UNSPEC;
	unsigned char addr[16] = {0};
	if (family == AF_INET)
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	else if (family == AF_INET6)
		memcpy(addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	else
		family = AF_UNSPEC;
	for (struct guard_client *k = g->clients; k; k = k->next)
		if (k->family == family && memcmp(k->addr, addr, sizeof(addr)) == 0)
			return k;
	struct guard_client *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	k->family = family;
	memcpy(k->addr, addr, sizeof(addr));
	k->next = g->clients;
	g->clients = k;
	return k;
}

struct guard_conn *guard_open(guard_t *g, const struct sockaddr *sa, int fd, int64_t now_ms)
{
	struct guard_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	pthread_mutex_lock(&g->mu);
	c->client = client_get(g, sa);
	if (c->client == NULL) {
		pthread_mutex_unlock(&g->mu);
		free(c);
		return NULL;
	}
	c->client->conns++;
	c->fd = fd;
	list_append(g, c, now_ms);
	evict_if_full(g);
	pthread_mutex_unlock(&g->mu);
	return c;
}

void guard_trust(guard_t *g, struct guard_conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	list_remove(g, c);
	pthread_mutex_unlock(&g->mu);
}

void guard_rearm(guard_t *g, struct guard_conn *c, int64_t now_ms)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	if (!c->shut) {
		list_remove(g, c);
		list_append(g, c, now_ms);
		evict_if_full(g);
	}
	pthread_mutex_unlock(&g->mu);
}

void guard_close(guard_t *g, struct guard_conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	list_remove(g, c);
	struct guard_client *k = c->client;
	if (--k->conns == 0) {
		struct guard_client **pp = &g->clients;
		while (*pp != k)
			pp = &(*pp)->next;
		*pp = k->next;
		free(k);
	}
	pthread_mutex_unlock(&g->mu);
	free(c);
}

static unsigned expire_locked(struct guard *g, int64_t now_ms)
{
	unsigned n = 0;
	while (g->head != NULL && g->head->deadline_ms <= now_ms) {
		shut_down(g, g->head, GUARD_HEADER_TIMEOUT);
		n++;
	}
	return n;
}

unsigned guard_expire(guard_t *g, int64_t now_ms)
{
	pthread_mutex_lock(&g->mu);
	unsigned n = expire_locked(g, now_ms);
	pthread_mutex_unlock(&g->mu);
	return n;
}

uint64_t guard_dropped(guard_t *g, enum guard_reason why)
{
	pthread_mutex_lock(&g->mu);
	uint64_t v = why < GUARD_REASONS ? g->dropped[why] : 0;
	pthread_mutex_unlock(&g->mu);
	return v;
}

unsigned guard_pending(guard_t *g)
{
	pthread_mutex_lock(&g->mu);
	unsigned v = g->pending;
	pthread_mutex_unlock(&g->mu);
	return v;
}

static void *reaper_main(void *arg)
{
	struct guard *g = arg;
	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		struct timespec ts;
		clock_deadline_ms(CLOCK_MONOTONIC, REAPER_TICK_MS, &ts);
		(void)pthread_cond_timedwait(&g->cv, &g->mu, &ts);
		if (g->stop)
			break;
		(void)expire_locked(g, clock_mono_ms());
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

bool guard_start_reaper(guard_t *g)
{
	if (pthread_create(&g->reaper, NULL, reaper_main, g) != 0)
		return false;
	g->reaper_started = true;
	return true;
}

void guard_free(guard_t *g)
{
	if (g == NULL)
		return;
	if (g->reaper_started) {
		pthread_mutex_lock(&g->mu);
		g->stop = true;
		pthread_cond_signal(&g->cv);
		pthread_mutex_unlock(&g->mu);
		pthread_join(g->reaper, NULL);
	}
	/* MHD_stop_daemon closes every connection (guard_close) before this;
	 * free whatever a caller left */
	while (g->head) {
		struct guard_conn *c = g->head;
		g->head = c->next;
		free(c);
	}
	while (g->clients) {
		struct guard_client *k = g->clients;
		g->clients = k->next;
		free(k);
	}
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	free(g);
}
