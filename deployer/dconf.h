/* dconf.h — the configuration of sovctl (the deployer on the management machine).
 *
 * One JSON file (docs/sovctl.md) lists every sovdns instance sovctl talks to
 * (name, API URL, bearer token file) and, per datacenter, the hook commands
 * for the jobs sovctl runs there (deploy, backup, restore, tls-renew) with
 * their timeouts, plus where hook output and the resumable state go.
 *
 * Validation is as strict as the daemon's: unknown keys, wrong types,
 * duplicate keys and out-of-range numbers are errors reported as
 * "file:line:column: message", all at once. Relative paths are resolved
 * against the directory of the configuration file. Token files are read at
 * load time and refused if other users may read or write them.
 */
#ifndef SOV_DEPLOYER_DCONF_H
#define SOV_DEPLOYER_DCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"

/** The jobs sovctl runs; each has a hook per datacenter. */
enum dconf_hook_kind {
	HOOK_DEPLOY = 0,
	HOOK_BACKUP,
	HOOK_RESTORE,
	HOOK_TLS_RENEW,
	HOOK_KIND_COUNT
};

/** Longest instance name / datacenter id (the API allows 63 characters). */
#define DCONF_NAME_MAX 64
/** Longest secret in a token file (the API's limit is 256 bytes). */
#define DCONF_TOKEN_MAX 512

/* Defaults; each is documented in docs/sovctl.md. */
#define DCONF_DEFAULT_HOOK_TIMEOUT_S 3600
/* 15 minutes: a sovctl that dies mid-job leaves the site out of DNS at most
 * this long after its last renewal (it renews every lease_s / 3). Long
 * enough to ride out a network blip between sovctl and an instance, short
 * enough that a forgotten site comes back (once its probes say up). */
#define DCONF_DEFAULT_LEASE_S 900
#define DCONF_DEFAULT_VERIFY_TIMEOUT_S 300
/* Slack after the latest safe_at before a drain that has not become
 * "drained" everywhere is declared failed (a timer on an instance retries a
 * failed state write every second, so a few seconds late is normal). */
#define DCONF_DEFAULT_DRAIN_SLACK_S 60
#define DCONF_DEFAULT_POLL_MS 1000
#define DCONF_DEFAULT_KILL_GRACE_S 10
#define DCONF_DEFAULT_HTTP_TIMEOUT_S 10

/** "NAME=VALUE" strings for a hook's environment. */
struct dconf_env {
	char **vars;
	size_t count;
};

struct dconf_hook {
	bool set;	    /* configured for this datacenter */
	char **argv;	    /* NULL-terminated argv (argv[0] resolved against the config
			       directory when it is relative and contains a '/'), or
			       {"/bin/sh", "-c", TEXT, NULL} for a command given as a string */
	uint32_t timeout_s; /* killed (its whole process group) after this */
};

struct dconf_dc {
	char id[DCONF_NAME_MAX];
	struct dconf_env env; /* the global env plus this datacenter's (which wins) */
	struct dconf_hook hooks[HOOK_KIND_COUNT];
};

struct dconf_instance {
	char name[DCONF_NAME_MAX];
	char *api;	  /* base URL without a trailing '/', e.g. "http://127.0.0.1:8053" */
	char *token_file; /* absolute path */
	char token[DCONF_TOKEN_MAX + 1]; /* the secret (first line, trimmed) */
	char *ca_file;			 /* CA bundle for an https API; NULL = system default */
	uint32_t timeout_s;
};

typedef struct dconf {
	char *path; /* the configuration file */
	char *dir;  /* its directory (hooks run there) */
	struct dconf_instance *instances;
	size_t instance_count;
	struct dconf_dc *dcs; /* in file order: the order of --all */
	size_t dc_count;
	char *log_dir;	  /* per-operation hook logs; created (0750) when missing */
	char *state_file; /* resumable state (JSON, written atomically) */
	uint32_t lease_s;
	uint32_t verify_timeout_s;
	uint32_t drain_slack_s;
	uint32_t poll_ms;
	uint32_t kill_grace_s;
} dconf_t;

/**
 * Reads and validates the file at path. On success returns SOV_OK and a new
 * configuration in *out (free with dconf_free()); otherwise adds every
 * problem to diag and returns SOV_EIO, SOV_EPARSE or SOV_ESEMANTIC.
 */
int dconf_load(const char *path, dconf_t **out, diag_t *diag)
    __attribute__((nonnull, warn_unused_result));

/** Frees a configuration; NULL allowed. The token secrets are wiped. */
void dconf_free(dconf_t *c);

/** The datacenter with this id, or NULL if the file does not list it. */
const struct dconf_dc *dconf_dc_find(const dconf_t *c, const char *id) __attribute__((nonnull));

/** The instance with this name, or NULL. */
const struct dconf_instance *dconf_instance_find(const dconf_t *c, const char *name)
    __attribute__((nonnull));

/** "deploy", "backup", "restore", "tls-renew" (also the API's operation kinds). */
const char *dconf_hook_name(enum dconf_hook_kind k);

/** Parses a hook/job name; returns -1 if unknown. */
int dconf_hook_parse(const char *s) __attribute__((nonnull));

/**
 * Reads a bearer token file as the API does (common/secretfile.h): 16 to
 * min(cap - 1, DCONF_TOKEN_MAX) bytes. Returns SOV_OK, or SOV_EIO/SOV_EINVAL
 * with the reason in why.
 */
int dconf_read_token(const char *path, char *out, size_t cap, char *why, size_t why_cap)
    __attribute__((nonnull, warn_unused_result));

#endif
