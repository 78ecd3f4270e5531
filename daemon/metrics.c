/* metrics.c — the Prometheus text of GET /metrics (exposition format
 * 0.0.4): the DNS counters, the snapshot, datacenters and probes. The API
 * appends its own metrics after these. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "daemon/daemon_int.h"
#include "dns/answer.h"
#include "dns/xfr_history.h"
#include "probe/health.h"

static void metric_line(FILE *out, const char *name, const char *help, const char *type)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The DNS workers' counters, summed. */
static void metrics_queries(const daemon_t *d, FILE *out)
{
	static const char *const rcodes[17] = {
	    "NOERROR",	"FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
	    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "RCODE11",
	    "RCODE12",	"RCODE13", "RCODE14",  "RCODE15",  "BADVERS"};
	struct query_stats st;
	memset(&st, 0, sizeof(st));
	if (d->srv != NULL)
		server_stats(d->srv, &st);

	metric_line(out, "sovdns_queries_total", "DNS queries received, by transport.", "counter");
	fprintf(out, "sovdns_queries_total{transport=\"udp\"} %llu\n",
		(unsigned long long)st.queries[DNS_UDP]);
	fprintf(out, "sovdns_queries_total{transport=\"tcp\"} %llu\n",
		(unsigned long long)st.queries[DNS_TCP]);
	metric_line(out, "sovdns_responses_total", "DNS replies sent, by rcode.", "counter");
	for (int i = 0; i < 17; i++)
		if (st.rcode[i] > 0 || i == 0 || i == 3 || i == 5)
			fprintf(out, "sovdns_responses_total{rcode=\"%s\"} %llu\n", rcodes[i],
				(unsigned long long)st.rcode[i]);
	metric_line(out, "sovdns_dropped_total", "Packets not answered (runts, QR set).",
		    "counter");
	fprintf(out, "sovdns_dropped_total %llu\n", (unsigned long long)st.dropped);
	metric_line(out, "sovdns_truncated_total", "UDP replies sent with TC set.", "counter");
	fprintf(out, "sovdns_truncated_total %llu\n", (unsigned long long)st.truncated);
	metric_line(out, "sovdns_referrals_total", "Referrals to child zones.", "counter");
	fprintf(out, "sovdns_referrals_total %llu\n", (unsigned long long)st.referrals);
	metric_line(out, "sovdns_nodata_total", "NOERROR replies without an answer (NODATA).",
		    "counter");
	fprintf(out, "sovdns_nodata_total %llu\n", (unsigned long long)st.nodata);
	metric_line(out, "sovdns_service_answers_total", "A/AAAA answers chosen from datacenters.",
		    "counter");
	fprintf(out, "sovdns_service_answers_total %llu\n", (unsigned long long)st.service_answers);
	metric_line(out, "sovdns_fail_open_total",
		    "Service answers given while no datacenter was usable (on_all_down applied).",
		    "counter");
	fprintf(out, "sovdns_fail_open_total %llu\n", (unsigned long long)st.fail_open);
	metric_line(out, "sovdns_rrl_dropped_total",
		    "UDP replies withheld by response rate limiting.", "counter");
	fprintf(out, "sovdns_rrl_dropped_total %llu\n", (unsigned long long)st.rrl_dropped);
	metric_line(out, "sovdns_rrl_slipped_total",
		    "UDP replies sent truncated (TC=1) by response rate limiting.", "counter");
	fprintf(out, "sovdns_rrl_slipped_total %llu\n", (unsigned long long)st.rrl_slipped);

	uint64_t ended = 0, failed = 0;
	xfr_history_totals(&ended, &failed);
	metric_line(out, "sovdns_xfr_out_total",
		    "Zone transfers out (AXFR, IXFR over TCP) ended, by result (failed: cut short "
		    "by the time cap, the client or shutdown).",
		    "counter");
	fprintf(out, "sovdns_xfr_out_total{result=\"ok\"} %llu\n",
		(unsigned long long)(ended - failed));
	fprintf(out, "sovdns_xfr_out_total{result=\"failed\"} %llu\n", (unsigned long long)failed);
	metric_line(out, "sovdns_xfr_out_refused_total",
		    "AXFR/IXFR requests turned away: by transfer.allow (REFUSED) or at "
		    "transfers.max_concurrent (SERVFAIL).",
		    "counter");
	fprintf(out, "sovdns_xfr_out_refused_total{reason=\"acl\"} %llu\n",
		(unsigned long long)st.xfr_refused);
	fprintf(out, "sovdns_xfr_out_refused_total{reason=\"busy\"} %llu\n",
		(unsigned long long)st.xfr_busy);
	metric_line(out, "sovdns_xfr_out_active", "Zone transfers out running now.", "gauge");
	fprintf(out, "sovdns_xfr_out_active %u\n", d->srv != NULL ? server_xfr_active(d->srv) : 0);
}

/* The generation and zone serials of snapshot s. */
static void metrics_snapshot(const snapshot_t *s, FILE *out)
{
	metric_line(out, "sovdns_snapshot_generation", "Configuration generation in service.",
		    "gauge");
	fprintf(out, "sovdns_snapshot_generation %llu\n", (unsigned long long)s->generation);
	metric_line(out, "sovdns_zone_serial", "SOA serial of each zone served.", "gauge");
	for (size_t i = 0; i < zonedb_count(s->zones); i++) {
		const zone_t *z = zonedb_get(s->zones, i);
		fprintf(out, "sovdns_zone_serial{zone=\"%s\"} %u\n", z->origin_str, z->serial);
	}
	metric_line(out, "sovdns_zone_serving",
		    "1 when the zone has data; 0 for a secondary zone not transferred yet or "
		    "expired (answering SERVFAIL).",
		    "gauge");
	for (size_t i = 0; i < zonedb_count(s->zones); i++) {
		const zone_t *z = zonedb_get(s->zones, i);
		fprintf(out, "sovdns_zone_serving{zone=\"%s\"} %d\n", z->origin_str,
			zone_has_data(z) ? 1 : 0);
	}
}

/* Per service and datacenter: answers, health, in answers. */
static void metrics_datacenters(const daemon_t *d, const snapshot_t *s, FILE *out)
{
	size_t ndc = geo_dc_count(s->geo);
	metric_line(out, "sovdns_service_datacenter_answers_total",
		    "Answers naming a datacenter, by service (since the last reload).", "counter");
	for (size_t k = 0; k < geo_service_count(s->geo); k++) {
		const struct geo_service_info *si = geo_service(s->geo, k);
		for (size_t i = 0; i < si->dc_count; i++)
			fprintf(
			    out,
			    "sovdns_service_datacenter_answers_total{service=\"%s\","
			    "datacenter=\"%s\"} %llu\n",
			    si->name, geo_dc_id(s->geo, si->dcs[i]),
			    (unsigned long long)atomic_load_explicit(
				&s->svc_dc_answers[k * ndc + si->dcs[i]], memory_order_relaxed));
	}
	metric_line(out, "sovdns_datacenter_health",
		    "Health of each datacenter from the probes: 1 for its current state.", "gauge");
	for (size_t i = 0; i < ndc; i++) {
		enum health_state h = d->mon ? monitor_dc_health(d->mon, i) : HEALTH_UNKNOWN;
		static const char *const names[3] = {"unknown", "up", "down"};
		for (int k = 0; k < 3; k++)
			fprintf(out,
				"sovdns_datacenter_health{datacenter=\"%s\",state=\"%s\"} %d\n",
				geo_dc_id(s->geo, i), names[k], (int)h == k);
	}
	metric_line(out, "sovdns_datacenter_in_answers",
		    "1 if some answer names the datacenter now.", "gauge");
	for (size_t i = 0; i < ndc; i++)
		fprintf(out, "sovdns_datacenter_in_answers{datacenter=\"%s\"} %d\n",
			geo_dc_id(s->geo, i), answer_dc_in_answers(s, i));
}

/* Per probe target: checks, failures, latency, certificate expiry. */
static void metrics_probes(const monitor_t *mon, FILE *out)
{
	const probe_config_t *pc = monitor_probes(mon);
	health_table_t *t = monitor_table(mon);
	/* Prometheus text: each metric's samples form one group. */
	static const struct {
		const char *name, *help, *type;
	} pm[4] = {
	    {"sovdns_probe_checks_total", "Probe results recorded, by target.", "counter"},
	    {"sovdns_probe_failures_total", "Failed probe results, by target.", "counter"},
	    {"sovdns_probe_latency_ms", "Duration of the latest probe, by target.", "gauge"},
	    {"sovdns_certificate_expiry_days",
	     "Days until the probed certificate expires (negative: expired).", "gauge"},
	};
	for (int m = 0; m < 4; m++) {
		metric_line(out, pm[m].name, pm[m].help, pm[m].type);
		for (size_t i = 0; i < pc->target_count; i++) {
			struct health_detail hd;
			if (health_detail_get(t, i, &hd) != SOV_OK)
				continue;
			const char *tn = pc->targets[i].name;
			long long v = m == 0   ? (long long)hd.checks_total
				      : m == 1 ? (long long)hd.failures_total
				      : m == 2 ? (long long)hd.last_latency_ms
					       : (long long)hd.cert_days_left;
			if (m == 3 && hd.cert_days_left == HEALTH_CERT_DAYS_NONE)
				continue;
			fprintf(out, "%s{target=\"%s\"} %lld\n", pm[m].name, tn, v);
		}
	}
}

/* NOTIFY out (dns/notify_out.h). */
static void metrics_notify(const daemon_t *d, FILE *out)
{
	struct notifier_stats st;
	memset(&st, 0, sizeof(st));
	if (d->notifier != NULL)
		notifier_stats(d->notifier, &st);
	metric_line(out, "sovdns_notify_sent_total", "NOTIFY messages sent, retries included.",
		    "counter");
	fprintf(out, "sovdns_notify_sent_total %llu\n", (unsigned long long)st.sent);
	metric_line(out, "sovdns_notify_acked_total",
		    "NOTIFYs of a zone version acknowledged by a secondary.", "counter");
	fprintf(out, "sovdns_notify_acked_total %llu\n", (unsigned long long)st.acked);
	metric_line(out, "sovdns_notify_failed_total",
		    "NOTIFYs of a zone version given up: no answer after every try, or an "
		    "error answer.",
		    "counter");
	fprintf(out, "sovdns_notify_failed_total %llu\n", (unsigned long long)st.failed);
}

int daemon_metrics(void *ctx, FILE *out)
{
	daemon_t *d = ctx;
	metrics_queries(d, out);
	metrics_notify(d, out);
	pthread_mutex_lock(&d->view_lock);
	const snapshot_t *s = snapshot_current();
	if (s != NULL)
		metrics_snapshot(s, out);
	if (s != NULL && s->geo != NULL)
		metrics_datacenters(d, s, out);
	if (s != NULL && d->mon != NULL)
		metrics_probes(d->mon, out);
	pthread_mutex_unlock(&d->view_lock);
	if (d->sec != NULL)
		secondary_metrics(d->sec, out);
	return SOV_OK;
}
