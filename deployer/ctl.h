/* ctl.h — sovctl's commands and what they share.
 *
 * One struct sovctl per invocation: the configuration, an API client per
 * sovdns instance, and the command-line flags. Commands return the process
 * exit status (enum ctl_exit, documented in docs/sovctl.md).
 */
#ifndef SOV_DEPLOYER_CTL_H
#define SOV_DEPLOYER_CTL_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "deployer/client.h"
#include "deployer/dconf.h"
#include "deployer/jobstate.h"

/** Exit statuses (docs/sovctl.md, "Exit status"). */
enum ctl_exit {
	CTL_OK = 0,	     /* done */
	CTL_FAILED = 1,	     /* the job failed (hook, timeout, site not back): site left drained;
				status: instances disagree */
	CTL_USAGE = 2,	     /* bad command line or configuration, unknown datacenter */
	CTL_UNREACHABLE = 3, /* an instance could not be reached or refused us; nothing changed
				(unless --allow-partial) */
	CTL_REFUSED = 4,     /* refused for safety: a service would be left with no usable
				datacenter (--force), or another operation on the datacenter is
				unfinished */
	CTL_ABORTED = 5,     /* aborted (sovctl abort, or SIGINT/SIGTERM): site left drained */
	CTL_NOT_FOUND = 6,   /* no such operation, or nothing left to resume */
};

struct sovctl {
	dconf_t *conf;
	client_t *clients[JOB_INSTANCES_MAX]; /* conf->instances order */
	size_t n;
	bool json;	    /* --json: one JSON document on stdout */
	bool force;	    /* --force */
	bool allow_partial; /* --allow-partial */
	bool wait;	    /* drain --wait */
	bool all;	    /* --all */
	bool lease_given;   /* --lease */
	uint32_t lease_s;
	const char *reason;  /* --reason, or NULL */
	const char *archive; /* restore --archive */
};

/** Set by SIGINT/SIGTERM/SIGHUP; long waits check it. */
extern volatile sig_atomic_t ctl_interrupted;

/** Parses "2026-11-30T07:24:00Z" into seconds since the epoch; false if not that form. */
bool ctl_parse_time(const char *s, int64_t *out);
/** Formats seconds since the epoch as "2026-11-30T07:24:00Z". */
void ctl_format_time(int64_t unix_s, char *buf, size_t cap);

/** What each instance said about one datacenter (GET /v1/datacenters/{id}). */
struct dc_views {
	json_t *view[JOB_INSTANCES_MAX]; /* owned; NULL when not reached */
	char error[JOB_INSTANCES_MAX][600];
	long status[JOB_INSTANCES_MAX]; /* HTTP status; 0 unreachable */
};

/**
 * Asks every instance for datacenter dc. Returns how many answered 200.
 * Call dc_views_clear() after.
 */
size_t ctl_fetch_dc(struct sovctl *s, const char *dc, struct dc_views *v) __attribute__((nonnull));
void dc_views_clear(struct dc_views *v) __attribute__((nonnull));

/**
 * The reachability check before a change: every instance must answer for
 * dc; an unknown datacenter is a usage error; an unreachable instance (or
 * one that refuses our token) is reported by name and refuses the command
 * unless --allow-partial, in which case use[i] is false for it. Returns
 * CTL_OK or the exit status. v is filled (cleared by the caller).
 */
int ctl_precheck(struct sovctl *s, const char *dc, struct dc_views *v, bool use[])
    __attribute__((nonnull));

enum ctl_action { ACT_DRAIN, ACT_UNDRAIN, ACT_MAINT_ON, ACT_MAINT_OFF };

/**
 * Applies action to dc on every instance with use[i]. A drain or
 * maintenance refused by one instance (409 last_usable_datacenter, or an
 * unreachable instance without --allow-partial) is rolled back on the
 * instances this call changed, so nothing is left half done. changed[i]
 * says where the state moved; safe_at_s (drain) is the latest safe_at
 * reported (0 if none); maint[i] is set where a drain met maintenance
 * (the datacenter is out of answers already; not an error). Returns CTL_OK
 * or the exit status, with why filled.
 */
int ctl_change_all(struct sovctl *s, const char *dc, enum ctl_action act, const char *reason,
		   uint32_t lease_s, bool use[], bool changed[], bool maint[], int64_t *safe_at_s,
		   char *why, size_t why_cap) __attribute__((nonnull(1, 2, 4, 6, 7, 10)));

/** Commands (main.c dispatches). Each returns an exit status. */
int cmd_status(struct sovctl *s) __attribute__((nonnull));
int cmd_drain(struct sovctl *s, const char *dc) __attribute__((nonnull));
int cmd_undrain(struct sovctl *s, const char *dc) __attribute__((nonnull));
int cmd_maintenance(struct sovctl *s, const char *dc, bool on) __attribute__((nonnull));
int cmd_operations(struct sovctl *s, const char *id) __attribute__((nonnull(1)));
/** backup/deploy/restore/tls-renew of dc, or of every datacenter with --all (dc NULL). */
int cmd_job(struct sovctl *s, enum dconf_hook_kind kind, const char *dc)
    __attribute__((nonnull(1)));
int cmd_resume(struct sovctl *s, const char *id) __attribute__((nonnull));
int cmd_abort(struct sovctl *s, const char *id) __attribute__((nonnull));

/** Prints a JSON document on stdout (for --json). Steals the reference. */
void ctl_print_json(json_t *doc);

#endif
