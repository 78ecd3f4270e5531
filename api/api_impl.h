/* api_impl.h — private to api/: the API object shared by api.c and routes.c. */
#ifndef SOV_API_API_IMPL_H
#define SOV_API_API_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "api/admin.h"
#include "api/api.h"
#include "api/audit.h"
#include "api/auth.h"
#include "api/events.h"
#include "api/http.h"
#include "api/ops.h"
#include "api/store.h"

/* After a failed state write by the timer (draining → drained, lease
 * expiry) it tries again this much later; the change is merely delayed,
 * which is the safe direction for both. */
#define API_RETRY_MS 1000

struct api {
	struct api_config conf; /* deep copy */
	struct api_backend be;
	size_t dc_count;
	char **dc_ids;

	/* The state lock: admin records, operations and their files. Held
	 * across the fsyncs of a change (a few ms; changes are rare), and
	 * across backend calls made to check a change (see api.h). */
	pthread_mutex_t lock;
	struct admin_record *records;
	json_t *orphans; /* admin.json entries for datacenters not configured */
	op_store_t *ops;
	store_t *store;

	admin_table_t *admin; /* lock-free words for DNS workers */
	events_t *events;
	auth_t *auth;
	audit_t *audit;
	http_server_t *http;

	pthread_t ticker;
	bool ticker_started;
	bool stopping;
	pthread_cond_t tick_cond; /* CLOCK_MONOTONIC */

	int64_t started_ms;
	_Atomic uint64_t state_write_failures;
	_Atomic uint64_t reloads_total;
	_Atomic uint64_t reload_failures_total;
	_Atomic uint64_t drains_refused_total; /* 409 for the last usable datacenter */
};

/** Index of datacenter id, or -1. */
int api_dc_find(const api_t *api, const char *id);

/**
 * Under api->lock: writes cand (dc_count records) to admin.json; on success
 * makes it the current state, publishes the words, records events and
 * wakes the timer. SOV_OK, or an error with why (the state is unchanged).
 */
int api_commit_admin(api_t *api, const struct admin_record *cand, char *why, size_t cap);

/** Under api->lock: writes operations.json; counts a failure. */
int api_save_ops(api_t *api, char *why, size_t cap);

/** A new event object for an operation that moved from → op->state (NULL on ENOMEM). */
json_t *api_op_event_new(const op_t *op, enum op_state from, const char *who);
/** Logs and records an event made by api_op_event_new (stolen; NULL ignored). */
void api_op_event_add(api_t *api, json_t *ev);

/** The datacenter object shown by the API. Takes api->lock briefly. NULL on ENOMEM. */
json_t *api_dc_json(api_t *api, size_t dc);

/** The routes (routes.c). */
extern const struct http_route api_routes[];
extern const size_t api_route_count;

#endif
