/* hook.c — the hook supervisor (see hook.h). */
#include "deployer/hook.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/atomicfile.h"
#include "common/clock.h"
#include "common/err.h"

/* The supervisor checks its hook this often: a timeout is enforced within
 * 50 ms, at a cost of 20 wake-ups a second for one process. */
#define SUPERVISE_TICK_MS 50

uint64_t hook_proc_start_ticks(pid_t pid)
{
	char path[64], buf[1024];
	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* the command name (field 2) may hold spaces and ')': skip to the last ')' */
	char *p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return 0;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return 0; /* finished, merely not reaped */
	/* p is at field 3; field 22 is starttime */
	for (int field = 3; field < 22 && p != NULL; field++) {
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	if (p == NULL)
		return 0;
	unsigned long long t = strtoull(p, NULL, 10);
	return t ? (uint64_t)t : 1;
}

static bool same_process(pid_t pid, uint64_t start_ticks)
{
	uint64_t now = hook_proc_start_ticks(pid);
	return now != 0 && (start_ticks == 0 || now == start_ticks);
}

/* ---- the status file ---- */

static void status_write(const char *path, const struct hook_status *st, int logfd)
{
	json_t *o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:i, s:i, s:b, s:b, s:b}", "finished",
			      st->finished, "hook_pid", (json_int_t)st->hook_pid, "hook_start",
			      (json_int_t)st->hook_start, "started_ms", (json_int_t)st->started_ms,
			      "ended_ms", (json_int_t)st->ended_ms, "exit_code", st->exit_code,
			      "signal", st->signal, "timed_out", st->timed_out, "terminated",
			      st->terminated, "exec_failed", st->exec_failed);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (text != NULL && atomicfile_write(path, text, strlen(text), 0640, 0) != SOV_OK) {
		/* nobody to tell but the log: sovctl then sees the hook as lost */
		dprintf(logfd, "== sovctl: cannot write %s: %s\n", path, strerror(errno));
	}
	free(text);
	json_decref(o);
}

int hook_status_read(const char *path, struct hook_status *st)
{
	char *text = NULL;
	size_t len = 0;
	memset(st, 0, sizeof(*st));
	int rc = atomicfile_read(path, 65536, &text, &len);
	if (rc != SOV_OK)
		return rc == SOV_ENOENT ? SOV_ENOENT : SOV_EPARSE;
	json_t *o = json_loadb(text, len, 0, NULL);
	free(text);
	if (!json_is_object(o)) {
		json_decref(o);
		return SOV_EPARSE;
	}
	st->finished = json_is_true(json_object_get(o, "finished"));
	st->hook_pid = (pid_t)json_integer_value(json_object_get(o, "hook_pid"));
	st->hook_start = (uint64_t)json_integer_value(json_object_get(o, "hook_start"));
	st->started_ms = json_integer_value(json_object_get(o, "started_ms"));
	st->ended_ms = json_integer_value(json_object_get(o, "ended_ms"));
	st->exit_code = (int)json_integer_value(json_object_get(o, "exit_code"));
	st->signal = (int)json_integer_value(json_object_get(o, "signal"));
	st->timed_out = json_is_true(json_object_get(o, "timed_out"));
	st->terminated = json_is_true(json_object_get(o, "terminated"));
	st->exec_failed = json_is_true(json_object_get(o, "exec_failed"));
	json_decref(o);
	return SOV_OK;
}

/* ---- the supervisor (a forked copy of sovctl; never returns) ---- */

static volatile sig_atomic_t supervisor_stop;

static void on_term(int sig)
{
	(void)sig;
	supervisor_stop = 1;
}

static void log_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(int fd, const char *fmt, ...)
{
	char line[512];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(line, sizeof(line), "== %Y-%m-%dT%H:%M:%SZ sovctl: ", &tm);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n++] = '\n';
	ssize_t w = write(fd, line, n);
	(void)w;
}

static void run_hook(const struct hook_spec *s, int logfd, int nullfd)
{
	setpgid(0, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		_exit(127);
	if (chdir(s->cwd) != 0) {
		log_line(2, "cannot enter %s: %s", s->cwd, strerror(errno));
		_exit(127);
	}
	execvpe(s->argv[0], s->argv, s->envp);
	log_line(2, "cannot run %s: %s", s->argv[0], strerror(errno));
	_exit(127);
}

__attribute__((noreturn)) static void supervise(const struct hook_spec *s, int logfd)
{
	struct hook_status st = {0};
	int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nullfd < 0)
		nullfd = logfd; /* no /dev/null: the hook reads from the log (EBADF) */
	setsid();
	/* Let go of sovctl's terminal or pipes (a caller waiting for sovctl's
	 * output must not wait for the hook too) and of its other descriptors
	 * (API connections): only the log and /dev/null stay. */
	dup2(nullfd, 0);
	dup2(nullfd, 1);
	dup2(nullfd, 2);
	int lo = logfd < nullfd ? logfd : nullfd, hi = logfd < nullfd ? nullfd : logfd;
	if (lo > 3)
		close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	close_range((unsigned)hi + 1, ~0u, 0);
	/* SIGTERM: stop the hook; nothing else of sovctl's handling applies */
	sigset_t none;
	sigemptyset(&none);
	struct sigaction sa = {0};
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);

	st.started_ms = clock_unix_ms();
	int64_t t0 = clock_mono_ms();
	pid_t pid = fork();
	if (pid < 0) {
		log_line(logfd, "cannot start the hook: %s", strerror(errno));
		st.finished = true;
		st.exit_code = 127;
		st.exec_failed = true;
		st.ended_ms = clock_unix_ms();
		status_write(s->status_path, &st, logfd);
		_exit(0);
	}
	if (pid == 0)
		run_hook(s, logfd, nullfd);
	setpgid(pid, pid); /* also here: whichever of the two runs first */
	st.hook_pid = pid;
	st.hook_start = hook_proc_start_ticks(pid);
	status_write(s->status_path, &st, logfd);

	int64_t deadline = t0 + (int64_t)s->timeout_s * 1000;
	int64_t kill_at = 0; /* when SIGKILL follows the SIGTERM; 0: not stopping */
	int wstatus = 0;
	for (;;) {
		pid_t r = waitpid(pid, &wstatus, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			break;
		int64_t now = clock_mono_ms();
		if (kill_at == 0 && (supervisor_stop || now >= deadline)) {
			if (supervisor_stop) {
				st.terminated = true;
				log_line(logfd,
					 "stopping the hook (process group %d): sovctl asked",
					 (int)pid);
			} else {
				st.timed_out = true;
				log_line(logfd,
					 "stopping the hook (process group %d): timeout of %u s "
					 "reached",
					 (int)pid, s->timeout_s);
			}
			kill(-pid, SIGTERM);
			kill_at = now + (int64_t)s->kill_grace_s * 1000;
		}
		if (kill_at != 0 && now >= kill_at) {
			kill(-pid, SIGKILL);
			kill_at = INT64_MAX;
		}
		clock_sleep_ms(SUPERVISE_TICK_MS);
	}
	/* A stopped hook's group goes whole: what outlived its leader gets the
	 * rest of the grace period, then SIGKILL. */
	if (kill_at != 0) {
		while (kill(-pid, 0) == 0 && clock_mono_ms() < kill_at)
			clock_sleep_ms(SUPERVISE_TICK_MS);
		kill(-pid, SIGKILL);
	}
	st.finished = true;
	st.ended_ms = clock_unix_ms();
	if (WIFEXITED(wstatus)) {
		st.exit_code = WEXITSTATUS(wstatus);
		st.exec_failed = st.exit_code == 127;
	} else if (WIFSIGNALED(wstatus)) {
		st.exit_code = -1;
		st.signal = WTERMSIG(wstatus);
	}
	double secs = (double)(clock_mono_ms() - t0) / 1000.0;
	if (st.signal)
		log_line(logfd, "hook killed by signal %d (%s) after %.1f s%s", st.signal,
			 strsignal(st.signal), secs, st.timed_out ? ", at its timeout" : "");
	else
		log_line(logfd, "hook exited with status %d after %.1f s%s", st.exit_code, secs,
			 st.timed_out ? ", at its timeout" : "");
	status_write(s->status_path, &st, logfd);
	_exit(0);
}

int hook_start(const struct hook_spec *spec, struct hook_proc *out, char *why, size_t why_cap)
{
	memset(out, 0, sizeof(*out));
	if (unlink(spec->status_path) != 0 && errno != ENOENT) {
		snprintf(why, why_cap, "cannot remove the old %s: %s", spec->status_path,
			 strerror(errno));
		return SOV_EIO;
	}
	int logfd = open(spec->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (logfd < 0) {
		snprintf(why, why_cap, "cannot open the log %s: %s", spec->log_path,
			 strerror(errno));
		return SOV_EIO;
	}
	fflush(NULL); /* nothing buffered may be written twice */
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, why_cap, "cannot fork: %s", strerror(errno));
		close(logfd);
		return SOV_ESYS;
	}
	if (pid == 0)
		supervise(spec, logfd);
	close(logfd);
	out->pid = pid;
	out->start_ticks = hook_proc_start_ticks(pid);
	return SOV_OK;
}

enum hook_state hook_poll(const struct hook_proc *p, const char *status_path, bool own_child,
			  struct hook_status *st)
{
	bool alive;
	if (own_child) {
		int ws;
		pid_t r = waitpid(p->pid, &ws, WNOHANG);
		alive = r == 0;
	} else {
		alive = same_process(p->pid, p->start_ticks);
	}
	int rc = hook_status_read(status_path, st);
	if (rc == SOV_OK && st->finished)
		return HOOK_DONE;
	if (alive)
		return HOOK_RUNNING;
	/* gone: one more read, in case it finished between the two checks */
	rc = hook_status_read(status_path, st);
	if (rc == SOV_OK && st->finished)
		return HOOK_DONE;
	return HOOK_LOST;
}

void hook_stop(const struct hook_proc *p)
{
	if (p->pid > 0 && same_process(p->pid, p->start_ticks))
		kill(p->pid, SIGTERM);
}

bool hook_kill_group(pid_t pid, uint64_t start_ticks, uint32_t grace_s)
{
	if (pid <= 0 || !same_process(pid, start_ticks))
		return false;
	kill(-pid, SIGTERM);
	int64_t until = clock_mono_ms() + (int64_t)grace_s * 1000;
	while (kill(-pid, 0) == 0 && clock_mono_ms() < until)
		clock_sleep_ms(SUPERVISE_TICK_MS);
	kill(-pid, SIGKILL);
	return true;
}
