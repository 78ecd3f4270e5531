/* xfr_history.h — the last transfer out of each zone, for the API.
 *
 * Written once per transfer, when it ends (xfr_out_free: never on the
 * query path), read by GET /v1/zones. One process-wide table guarded by a
 * mutex; it grows by one entry per zone origin ever transferred (a few
 * hundred bytes each) and is freed at exit.
 */
#ifndef SOV_DNS_XFR_HISTORY_H
#define SOV_DNS_XFR_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/addr.h"
#include "wire/dname.h"

struct xfr_history {
	bool known;	    /* a transfer of the zone ended since start */
	int64_t at_unix_ms; /* when it ended */
	char kind[16];	    /* "AXFR", "IXFR", "IXFR (full)" */
	uint32_t serial;    /* the version sent */
	char client[ADDR_STR_MAX];
	uint64_t records;
	int64_t ms;
	bool ok;		  /* false: cut short (time cap, client gone, ...) */
	uint64_t count, failures; /* transfers of the zone since start */
};

/** Records the end of a transfer of origin (lowercased wire name). Any thread. */
void xfr_history_add(const uint8_t *origin, const char *kind, uint32_t serial, const char *client,
		     uint64_t records, int64_t ms, bool ok) __attribute__((nonnull));

/** Transfers out of every zone since start: *ended in all, *failed of them
 *  cut short. Any thread. */
void xfr_history_totals(uint64_t *ended, uint64_t *failed) __attribute__((nonnull));

/** The last transfer of origin into *out (known false: none). Any thread. */
void xfr_history_get(const uint8_t *origin, struct xfr_history *out) __attribute__((nonnull));

#endif
