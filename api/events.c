#include "api/events.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/util.h"
#include "common/clock.h"
#include "common/log.h"

extern char **environ;

/* How often the notifier looks at a running command: short enough that a
 * quick command (a mail queue insert, a curl to a chat hook) is reaped
 * within tens of milliseconds, long enough to cost nothing while idle. */
#define REAP_POLL_MS 20

struct events {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* notifier: queue not empty or stop */
	pthread_cond_t idle; /* waiters of events_wait_idle */
	json_t **ring;
	size_t cap;
	size_t head; /* next slot to write */
	size_t count;
	uint64_t seq;
	char host[256];
	char **argv;
	uint32_t timeout_ms;
	char *queue[EVENTS_NOTIFY_QUEUE_MAX];
	size_t qhead;
	size_t qcount;
	bool stop;
	bool running;
	bool thread_started;
	pthread_t thread;
	struct events_stats stats;
};

/* Writes text to the child's stdin without blocking past deadline. */
static void feed_stdin(int fd, const char *text, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t n = write(fd, text, len);
		if (n > 0) {
			text += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			int64_t left = deadline - clock_mono_ms();
			if (left <= 0)
				return;
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			(void)poll(&p, 1, left > 1000 ? 1000 : (int)left);
			continue;
		}
		/* EPIPE: the command does not read its input; that is its right.
		 * SIGPIPE is blocked in this thread: consume the pending one. */
		if (n < 0 && errno == EPIPE) {
			sigset_t set;
			sigemptyset(&set);
			sigaddset(&set, SIGPIPE);
			struct timespec zero = {0, 0};
			(void)sigtimedwait(&set, NULL, &zero);
		}
		return;
	}
}

/* Runs the command once with text on stdin; returns 0 on exit status 0. */
static int run_one(events_t *e, const char *text, bool *timed_out)
{
	int rc = -1;
	int fds[2] = {-1, -1};
	pid_t pid = -1;
	bool fa_init = false, attr_init = false;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	*timed_out = false;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		log_err("api", "notify: cannot create a pipe: %s", strerror(errno));
		goto finish;
	}
	if (posix_spawn_file_actions_init(&fa) != 0)
		goto finish;
	fa_init = true;
	if (posix_spawnattr_init(&attr) != 0)
		goto finish;
	attr_init = true;
	sigset_t none, pipe_only;
	sigemptyset(&none);
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	/* the child must not inherit this thread's blocked SIGPIPE */
	if (posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO) != 0 ||
	    posix_spawnattr_setsigmask(&attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(&attr, &pipe_only) != 0 ||
	    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0)
		goto finish;
	int err = posix_spawnp(&pid, e->argv[0], &fa, &attr, e->argv, environ);
	if (err != 0) {
		pid = -1;
		LOG_RATELIMITED(
		    1, log_err("api", "notify: cannot run %s: %s", e->argv[0], strerror(err)));
		goto finish;
	}
	close(fds[0]);
	fds[0] = -1;
	int64_t deadline = clock_mono_ms() + e->timeout_ms;
	if (fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0)
		feed_stdin(fds[1], text, strlen(text), deadline);
	close(fds[1]);
	fds[1] = -1;
	int status = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			log_err("api", "notify: waitpid(%d): %s", (int)pid, strerror(errno));
			pid = -1;
			goto finish;
		}
		if (clock_mono_ms() >= deadline) {
			*timed_out = true;
			log_warn("api", "notify: %s still running after %u ms; killing it",
				 e->argv[0], e->timeout_ms);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
			}
			break;
		}
		clock_sleep_ms(REAP_POLL_MS);
	}
	pid = -1;
	if (!*timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		rc = 0;
	} else if (!*timed_out) {
		LOG_RATELIMITED(
		    1, log_warn("api", "notify: %s exited with %s %d", e->argv[0],
				WIFEXITED(status) ? "status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status)));
	}
finish:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_init)
		posix_spawnattr_destroy(&attr);
	return rc;
}

static void *notifier_main(void *arg)
{
	events_t *e = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_mutex_lock(&e->lock);
	for (;;) {
		while (e->qcount == 0 && !e->stop)
			pthread_cond_wait(&e->wake, &e->lock);
		if (e->stop)
			break;
		char *text = e->queue[e->qhead];
		e->qhead = (e->qhead + 1) % EVENTS_NOTIFY_QUEUE_MAX;
		e->qcount--;
		e->running = true;
		pthread_mutex_unlock(&e->lock);
		bool timed_out;
		int r = run_one(e, text, &timed_out);
		free(text);
		pthread_mutex_lock(&e->lock);
		e->stats.notify_runs_total++;
		if (r != 0)
			e->stats.notify_failures_total++;
		if (timed_out)
			e->stats.notify_timeouts_total++;
		e->running = false;
		pthread_cond_broadcast(&e->idle);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

events_t *events_new(size_t capacity, const char *const *notify_argv, uint32_t timeout_ms)
{
	events_t *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->wake, NULL);
	pthread_cond_init(&e->idle, NULL);
	e->cap = capacity ? capacity : 1;
	/* Sequence numbers go on across restarts, so that a poller's
	 * ?since=N never skips the events of a new run: a run starts after its
	 * start time in ms times 1000. The previous run's numbers stay below as
	 * long as it had fewer than 1000 events per millisecond of its life
	 * (events are state changes: a handful a minute), and the clock did
	 * not step back across the restart. 1.7e15 in 2026: within 2^53, so
	 * exact in JavaScript clients too. */
	e->seq = (uint64_t)clock_unix_ms() * EVENTS_SEQ_PER_MS;
	e->timeout_ms = timeout_ms ? timeout_ms : EVENTS_DEFAULT_NOTIFY_TIMEOUT_MS;
	e->ring = calloc(e->cap, sizeof(*e->ring));
	if (e->ring == NULL)
		goto fail;
	if (gethostname(e->host, sizeof(e->host) - 1) != 0)
		strcpy(e->host, "localhost");
	if (notify_argv != NULL && notify_argv[0] != NULL) {
		size_t n = 0;
		while (notify_argv[n])
			n++;
		e->argv = calloc(n + 1, sizeof(char *));
		if (e->argv == NULL)
			goto fail;
		for (size_t i = 0; i < n; i++)
			if ((e->argv[i] = strdup(notify_argv[i])) == NULL)
				goto fail;
		if (pthread_create(&e->thread, NULL, notifier_main, e) != 0)
			goto fail;
		e->thread_started = true;
	}
	return e;
fail:
	events_free(e);
	return NULL;
}

void events_free(events_t *e)
{
	if (e == NULL)
		return;
	if (e->thread_started) {
		pthread_mutex_lock(&e->lock);
		e->stop = true;
		pthread_cond_broadcast(&e->wake);
		pthread_mutex_unlock(&e->lock);
		pthread_join(e->thread, NULL);
	}
	for (size_t i = 0; i < e->qcount; i++)
		free(e->queue[(e->qhead + i) % EVENTS_NOTIFY_QUEUE_MAX]);
	for (size_t i = 0; e->ring && i < e->cap; i++)
		json_decref(e->ring[i]);
	free(e->ring);
	for (size_t i = 0; e->argv && e->argv[i]; i++)
		free(e->argv[i]);
	free(e->argv);
	pthread_cond_destroy(&e->wake);
	pthread_cond_destroy(&e->idle);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

uint64_t events_add(events_t *e, json_t *ev)
{
	if (!json_is_object(ev)) {
		json_decref(ev);
		return 0;
	}
	char t[API_TIME_MAX];
	api_time_format(clock_unix_ms(), t);
	pthread_mutex_lock(&e->lock);
	uint64_t seq = ++e->seq;
	/* seq, time and host first: what a reader of the ring or an alert looks at first */
	json_t *full =
	    json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)seq, "time", t, "host", e->host);
	if (full != NULL && json_object_update(full, ev) == 0) {
		json_decref(ev);
		ev = full;
	} else {
		json_decref(full);
		json_object_set_new(ev, "seq", json_integer((json_int_t)seq));
		json_object_set_new(ev, "time", json_string(t));
		json_object_set_new(ev, "host", json_string(e->host));
	}
	e->stats.events_total++;
	json_decref(e->ring[e->head]);
	e->ring[e->head] = ev;
	e->head = (e->head + 1) % e->cap;
	if (e->count < e->cap)
		e->count++;
	if (e->argv != NULL) {
		if (e->qcount == EVENTS_NOTIFY_QUEUE_MAX) {
			e->stats.notify_dropped_total++;
		} else {
			/* one line of compact JSON, in the order of the ring (seq, time, host
			 * first) */
			char *text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
			size_t len = text ? strlen(text) : 0;
			char *line = text ? realloc(text, len + 2) : NULL;
			if (line == NULL) {
				free(text);
				e->stats.notify_dropped_total++;
			} else {
				line[len] = '\n';
				line[len + 1] = '\0';
				e->queue[(e->qhead + e->qcount) % EVENTS_NOTIFY_QUEUE_MAX] = line;
				e->qcount++;
				pthread_cond_signal(&e->wake);
			}
		}
	}
	pthread_mutex_unlock(&e->lock);
	return seq;
}

json_t *events_list(events_t *e, uint64_t since, size_t limit, uint64_t *last_seq)
{
	json_t *arr = json_array();
	if (arr == NULL)
		return NULL;
	pthread_mutex_lock(&e->lock);
	*last_seq = e->seq;
	size_t oldest = (e->head + e->cap - e->count) % e->cap;
	size_t start = 0; /* offset from oldest */
	if (since == 0) {
		start = e->count > limit ? e->count - limit : 0;
	} else {
		while (start < e->count) {
			json_t *ev = e->ring[(oldest + start) % e->cap];
			if ((uint64_t)json_integer_value(json_object_get(ev, "seq")) > since)
				break;
			start++;
		}
	}
	for (size_t i = start; i < e->count && json_array_size(arr) < limit; i++) {
		json_t *c = json_deep_copy(e->ring[(oldest + i) % e->cap]);
		if (c == NULL || json_array_append_new(arr, c) != 0) {
			json_decref(arr);
			arr = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&e->lock);
	return arr;
}

void events_stats(events_t *e, struct events_stats *out)
{
	pthread_mutex_lock(&e->lock);
	*out = e->stats;
	pthread_mutex_unlock(&e->lock);
}

int events_wait_idle(events_t *e, uint32_t timeout_ms)
{
	struct timespec ts;
	clock_deadline_ms(CLOCK_REALTIME, timeout_ms, &ts); /* e->idle's clock */
	int rc = 0;
	pthread_mutex_lock(&e->lock);
	while ((e->qcount > 0 || e->running) && e->thread_started && !e->stop) {
		if (pthread_cond_timedwait(&e->idle, &e->lock, &ts) == ETIMEDOUT) {
			rc = -1;
			break;
		}
	}
	pthread_mutex_unlock(&e->lock);
	return rc;
}
