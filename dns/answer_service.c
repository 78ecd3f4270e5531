/* answer_service.c — geo services on the answer path (contract in answer.h
 * and answer_int.h): which datacenters may appear (live health from the
 * probes, admin state from the API's table, by the rule of geo/usable.h), geo_select(), and their
 * A/AAAA records.
 */
#include <stdatomic.h>
#include <string.h>

#include "common/err.h"
#include "dns/answer_int.h"
#include "geo/geo.h"
#include "geo/usable.h"
#include "wire/wire.h"

/* The per-datacenter state bytes geo_select() wants for service svc:
 * health from the live table (probes), admin state from the API's table,
 * combined by the usable rule (geo/usable.h). */
static void service_dc_state(const snapshot_t *s, size_t svc, uint8_t *state, bool *degraded)
{
	const struct geo_service_info *si = geo_service(s->geo, svc);
	memset(state, 0, geo_dc_count(s->geo));
	*degraded = false;
	for (size_t k = 0; k < si->dc_count; k++) {
		uint16_t d = si->dcs[k];
		unsigned h = geo_health_get(s->health, svc, d);
		uint32_t admin = s->admin
				     ? (atomic_load_explicit(&s->admin[d], memory_order_acquire) &
					USABLE_ADMIN_WORD_STATE_MASK)
				     : 0;
		state[d] = geo_dc_state(h, admin);
		if (!(state[d] & GEO_DC_USABLE))
			*degraded = true;
	}
}

int answer_service_dc_state(const snapshot_t *snap, size_t svc, uint8_t *state)
{
	bool degraded;
	if (snap->geo == NULL || svc >= geo_service_count(snap->geo))
		return SOV_EINVAL;
	service_dc_state(snap, svc, state, &degraded);
	return SOV_OK;
}

bool answer_dc_in_answers(const snapshot_t *snap, size_t dc)
{
	if (snap->geo == NULL)
		return false;
	for (size_t k = 0; k < geo_service_count(snap->geo); k++) {
		uint8_t state[GEO_DC_MAX];
		if (answer_service_dc_state(snap, k, state) == SOV_OK &&
		    geo_service_names_dc(snap->geo, k, state, dc))
			return true;
	}
	return false;
}

int answer_service_select(const snapshot_t *snap, size_t svc, const struct geo_client *client,
			  uint16_t qtype, struct geo_result *res, uint32_t *ttl_s)
{
	uint8_t state[GEO_DC_MAX];
	bool degraded;
	if (snap->geo == NULL || svc >= geo_service_count(snap->geo))
		return SOV_EINVAL;
	service_dc_state(snap, svc, state, &degraded);
	int r = geo_select(snap->geo, svc, client, qtype, state, res);
	if (r != SOV_OK)
		return r;
	const struct geo_service_info *si = geo_service(snap->geo, svc);
	*ttl_s = degraded ? si->ttl_down_s : si->ttl_s;
	return SOV_OK;
}

/* A/AAAA of a geo service: the datacenters geo_select() chooses for this
 * client (ECS, else the source address). Returns the number of records
 * written (0: NODATA). */
unsigned answer_service(struct answer *a, uint32_t svc, const uint8_t *owner, uint16_t ptr,
			uint16_t qtype)
{
	const snapshot_t *s = a->snap;
	struct geo_client gc;
	const struct geo_client *client = NULL;
	struct geo_result res;
	uint32_t ttl;

	if (a->q->has_ecs) {
		if (geo_client_from_ecs(a->q->ecs.family, a->q->ecs.source_prefix, a->q->ecs.addr,
					&gc) == SOV_OK)
			client = &gc;
	} else if (a->client != NULL && geo_client_from_sockaddr(a->client, &gc) == SOV_OK) {
		client = &gc;
	}
	if (answer_service_select(s, svc, client, qtype, &res, &ttl) != SOV_OK)
		return 0;
	a->stats->service_answers++;
	a->svc_outcome = res.outcome;
	if (res.outcome >= GEO_OUT_DOWN_ALL)
		a->stats->fail_open++;
	/* RFC 7871 §7.4: an empty answer (no datacenter of the service has the
	 * family, or on_all_down "empty") is the same for every client: it
	 * leaves the scope alone (0 unless another service of this reply, e.g.
	 * the A half of a TCP ANY, was chosen by location). Of two choices in
	 * one reply the narrower network wins. */
	if (res.count > 0 && res.ecs_scope > a->ecs_scope)
		a->ecs_scope = res.ecs_scope;
	if (s->svc_dc_answers != NULL) {
		size_t ndc = geo_dc_count(s->geo);
		for (size_t k = 0; k < res.count; k++)
			atomic_fetch_add_explicit(&s->svc_dc_answers[svc * ndc + res.dc[k]], 1,
						  memory_order_relaxed);
	}

	size_t alen = qtype == DNS_TYPE_A ? 4 : 16;
	struct mark m = reply_mark(&a->r);
	unsigned written = 0;
	for (size_t k = 0; k < res.count; k++) {
		size_t n;
		const uint8_t *addrs = geo_result_addrs(s->geo, &res, k, &n);
		for (size_t i = 0; i < n; i++) {
			if (!put_rr_head(&a->r, owner, ptr, qtype, ttl) ||
			    a->r.len + 2 + alen > a->r.limit) {
				reply_rollback(&a->r, &m);
				a->tc = true;
				return 0;
			}
			wire_write_u16(a->r.buf + a->r.len, (uint16_t)alen);
			memcpy(a->r.buf + a->r.len + 2, addrs + i * alen, alen);
			a->r.len += 2 + alen;
			a->r.count[SEC_ANSWER]++;
			written++;
		}
	}
	return written;
}
