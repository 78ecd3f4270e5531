/* usable.h — which datacenters may appear in answers: the rule, written once.
 *
 * The answer path (dns/answer_service.c), the API backend (in_answers, /answer:
 * daemon/backend.c) and the API's last-usable check (api/routes.c, the 409
 * of a drain) all decide with the functions below, so they cannot disagree.
 * The rule itself (DESIGN vocabulary, docs/geo.md):
 *   - usable: health up, or unknown (not probed yet), AND admin active;
 *   - held:   admin draining, drained or maintenance: never named, not even
 *             by fail-open, else a drain would not empty the caches by its
 *             safe_at time;
 *   - fail-open (on_all_down "all") and the address family are applied by
 *     geo_select() on top of these state bytes.
 *
 * This header depends on nothing but the C library: health and admin are
 * plain numbers with the values of probe/health.h and api/admin.h, so api/
 * can include it without depending on dns/ or geo's databases.
 */
#ifndef SOV_GEO_USABLE_H
#define SOV_GEO_USABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Health of a target, as probe/health.h `enum health_state` numbers it. */
enum usable_health {
	USABLE_HEALTH_UNKNOWN = 0, /* not probed yet: counts as usable */
	USABLE_HEALTH_UP = 1,
	USABLE_HEALTH_DOWN = 2,
};

/** Admin state of a datacenter, as api/admin.h `enum admin_state` numbers it. */
enum usable_admin {
	USABLE_ADMIN_ACTIVE = 0,
	USABLE_ADMIN_DRAINING = 1,
	USABLE_ADMIN_DRAINED = 2,
	USABLE_ADMIN_MAINTENANCE = 3,
};

/* The admin state's bits in an admin word (api/admin.h ADMIN_WORD_STATE_MASK). */
#define USABLE_ADMIN_WORD_STATE_MASK 0x3u

/*
 * Per-datacenter state byte that geo_select() reads: one byte per
 * datacenter, indexed like the datacenter table. A NULL array means "every
 * datacenter usable, none held" (the state before probes exist).
 */
#define GEO_DC_USABLE 0x01 /* health up (or unknown at start) and admin active */
#define GEO_DC_HELD 0x02   /* admin draining/drained/maintenance: not named even by fail-open */

/**
 * The state byte of one datacenter (for one service) from its health
 * (enum usable_health) and admin state (enum usable_admin). Inline: the
 * answer path calls it once per datacenter of the service.
 */
__attribute__((const)) static inline uint8_t geo_dc_state(unsigned health, unsigned admin)
{
	uint8_t st = 0;
	if (health != USABLE_HEALTH_DOWN && admin == USABLE_ADMIN_ACTIVE)
		st |= GEO_DC_USABLE;
	if (admin != USABLE_ADMIN_ACTIVE)
		st |= GEO_DC_HELD;
	return st;
}

/** True if the datacenter is usable by geo_dc_state()'s rule. */
__attribute__((const)) static inline bool geo_dc_usable(unsigned health, unsigned admin)
{
	return (geo_dc_state(health, admin) & GEO_DC_USABLE) != 0;
}

/**
 * The live health the answer path reads, lock-free: one small state word
 * per (service, datacenter) — the datacenter's own health combined with the
 * service's probes there (daemon/monitor.c writes it on the probe thread
 * with atomic stores; a single writer) — and the "first probe round done"
 * flag. Indexed [svc * dc_count + dc] with the indices of the geo context
 * it was built for. Owned by whoever creates it (the daemon's monitor); a
 * snapshot borrows it.
 */
struct geo_health {
	_Atomic bool ready;	 /* first probe round done: services may be answered */
	size_t dc_count;	 /* datacenters per service row */
	size_t svc_count;	 /* rows */
	_Atomic uint8_t *svc_dc; /* enum usable_health, [svc * dc_count + dc] */
};

/** Health of service svc at datacenter dc; h NULL (no probes) or out of range: unknown. */
static inline unsigned geo_health_get(const struct geo_health *h, size_t svc, size_t dc)
{
	if (h == NULL || svc >= h->svc_count || dc >= h->dc_count)
		return USABLE_HEALTH_UNKNOWN;
	return atomic_load_explicit(&h->svc_dc[svc * h->dc_count + dc], memory_order_acquire);
}

/** True once the first probe round is done (or with no probes at all: h NULL). */
static inline bool geo_health_ready(const struct geo_health *h)
{
	return h == NULL || atomic_load_explicit(&h->ready, memory_order_acquire);
}

struct geo_ctx;

/**
 * Whether some answer of service svc of ctx may name datacenter dc now,
 * given the service's state bytes (state: one GEO_DC_* byte per datacenter,
 * as for geo_select()): dc is usable and chosen by the policy (failover
 * names only the first max_answers usable ones), or, when none of the
 * service's datacenters is usable, named by its on_all_down rule (all: if
 * not held; first: if it is the service's first). For the API's
 * "in_answers" and the sovdns_datacenter_in_answers metric.
 */
bool geo_service_names_dc(const struct geo_ctx *ctx, size_t svc, const uint8_t *state, size_t dc)
    __attribute__((nonnull, pure));

#endif
