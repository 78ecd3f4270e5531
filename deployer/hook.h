/* hook.h — running an operator's hook command under a supervisor.
 *
 * A hook (a deploy, a duplicity backup...) may run for an hour; sovctl may
 * be killed meanwhile (a closed ssh session, the OOM killer, a reboot of
 * nothing but the terminal). So the hook is not sovctl's direct child: sovctl
 * forks a small **supervisor** in a session of its own, which forks the hook
 * in a process group of its own and
 *   - enforces the timeout: SIGTERM to the hook's whole process group, then
 *     SIGKILL after kill_grace_s (a hook that spawned children is stopped
 *     whole, not just its shell);
 *   - records the outcome in a status file (written atomically: first
 *     "running" with the hook's pid, then the exit status, signal, and
 *     whether it timed out or was terminated), and a closing line in the
 *     hook's log;
 *   - stops the hook the same way when it receives SIGTERM itself (sovctl
 *     interrupted, or the operation aborted).
 * The supervisor outlives a killed sovctl, so the timeout still holds and
 * `sovctl resume` learns how the hook ended from the status file instead of
 * running it twice.
 *
 * The hook's stdin is /dev/null; stdout and stderr are appended to the log
 * file; it runs in cwd with exactly the environment given.
 */
#ifndef SOV_DEPLOYER_HOOK_H
#define SOV_DEPLOYER_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hook_spec {
	char *const *argv;	 /* NULL-terminated; argv[0] searched in PATH if it has no '/' */
	char *const *envp;	 /* NULL-terminated, the hook's whole environment */
	const char *cwd;	 /* working directory of the hook */
	const char *log_path;	 /* output appended here (created 0640) */
	const char *status_path; /* written by the supervisor (see above) */
	uint32_t timeout_s;
	uint32_t kill_grace_s;
};

/** A running supervisor: its pid and start time (so a reused pid is not mistaken for it). */
struct hook_proc {
	pid_t pid;
	uint64_t start_ticks; /* /proc/<pid>/stat field 22; 0 if unknown */
};

/** How a hook ended (or, with finished false, that it is running). */
struct hook_status {
	bool finished;
	pid_t hook_pid;	     /* leader of the hook's process group */
	uint64_t hook_start; /* its start time in clock ticks since boot */
	int64_t started_ms;  /* wall clock, ms since the epoch */
	int64_t ended_ms;
	int exit_code;	  /* -1 if killed by a signal */
	int signal;	  /* the signal that ended it, else 0 */
	bool timed_out;	  /* stopped at its timeout */
	bool terminated;  /* stopped because the supervisor was asked to */
	bool exec_failed; /* the program could not be started (exit 127, see the log) */
};

/**
 * Starts the supervisor (and through it the hook). Returns SOV_OK with
 * *out set, or SOV_ESYS / SOV_EIO with why filled (nothing is left running).
 * The caller reaps the supervisor (it is its child) with hook_poll().
 */
int hook_start(const struct hook_spec *spec, struct hook_proc *out, char *why, size_t why_cap)
    __attribute__((nonnull, warn_unused_result));

enum hook_state {
	HOOK_RUNNING, /* still running */
	HOOK_DONE,    /* finished; *st has the outcome */
	HOOK_LOST,    /* the supervisor is gone without recording an outcome (killed); *st
			 has what it recorded before (hook_pid), if anything */
};

/**
 * Checks on a supervisor without blocking. own_child: it is our child
 * (reaped here with waitpid); otherwise (started by a sovctl that died) its
 * liveness is checked through /proc.
 */
enum hook_state hook_poll(const struct hook_proc *p, const char *status_path, bool own_child,
			  struct hook_status *st) __attribute__((nonnull));

/** Asks a supervisor to stop its hook (SIGTERM; it records "terminated"). */
void hook_stop(const struct hook_proc *p) __attribute__((nonnull));

/**
 * Reads a status file. Returns SOV_OK, SOV_ENOENT (none yet) or SOV_EPARSE.
 */
int hook_status_read(const char *path, struct hook_status *st) __attribute__((nonnull));

/**
 * Stops the process group led by pid if that process is still the one that
 * started at start_ticks: SIGTERM, up to grace_s seconds, then SIGKILL.
 * Used for a hook left behind by a supervisor that was killed. Returns true
 * if something was signalled.
 */
bool hook_kill_group(pid_t pid, uint64_t start_ticks, uint32_t grace_s);

/** Start time of a live (not zombie) process in clock ticks since boot; 0 if gone. */
uint64_t hook_proc_start_ticks(pid_t pid);

#endif
