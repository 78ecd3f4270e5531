/* check_dns.c — the dns check: one UDP query (RFC 1035 §4.1) on a connected
 * socket; the reply's rcode and, optionally, an address in the answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ldns/ldns.h>

#include "common/err.h"
#include "probe/check.h"

static void dns_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe_inst *in = arg;
	const struct probe_check *c = in->check;
	uint8_t buf[4096];
	(void)what;

	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (errno == ECONNREFUSED)
			probe_inst_result(in, false,
					  "refused the query (nothing listens on the DNS port)");
		else
			probe_inst_result(in, false, "could not be queried (%s)", strerror(errno));
		return;
	}
	/* A reply to an older query, or a stray datagram: keep waiting. */
	if (n < 12 || buf[0] != (uint8_t)(in->query_id >> 8) || buf[1] != (uint8_t)in->query_id ||
	    !(buf[2] & 0x80))
		return;
	ldns_pkt *pkt = NULL;
	if (ldns_wire2pkt(&pkt, buf, (size_t)n) != LDNS_STATUS_OK) {
		probe_inst_result(in, false, "sent a malformed DNS reply");
		return;
	}
	uint8_t rcode = (uint8_t)ldns_pkt_get_rcode(pkt);
	bool found = !c->has_expect_address;
	const ldns_rr_list *ans = ldns_pkt_answer(pkt);
	for (size_t i = 0; !found && i < ldns_rr_list_rr_count(ans); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ans, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		size_t alen = c->expect_family == AF_INET ? 4 : 16;
		if ((t == LDNS_RR_TYPE_A && c->expect_family == AF_INET) ||
		    (t == LDNS_RR_TYPE_AAAA && c->expect_family == AF_INET6)) {
			const ldns_rdf *rd = ldns_rr_rdf(rr, 0);
			if (rd && ldns_rdf_size(rd) == alen &&
			    memcmp(ldns_rdf_data(rd), c->expect_address, alen) == 0)
				found = true;
		}
	}
	ldns_pkt_free(pkt);
	const ldns_lookup_table *got = ldns_lookup_by_id(ldns_rcodes, rcode);
	const ldns_lookup_table *want = ldns_lookup_by_id(ldns_rcodes, c->expect_rcode);
	if (rcode != c->expect_rcode) {
		probe_inst_result(in, false, "answered %s, expected %s", got ? got->name : "?",
				  want ? want->name : "?");
	} else if (!found) {
		char ip[64];
		inet_ntop(c->expect_family, c->expect_address, ip, sizeof(ip));
		probe_inst_result(in, false, "answered %s without %s in the answer",
				  got ? got->name : "?", ip);
	} else {
		probe_inst_result(in, true, "answered %s in %u ms", got ? got->name : "?",
				  probe_inst_elapsed_ms(in));
	}
}

static void dns_start(struct probe_inst *in)
{
	const struct sockaddr *sa = (const struct sockaddr *)&in->addr.ss;

	in->step = STEP_DNS;
	in->fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (in->fd < 0) {
		probe_inst_fail_soon(in, "could not be queried (socket: %s)", strerror(errno));
		return;
	}
	/* connect() so that the kernel drops datagrams from other sources and
	 * reports ICMP port unreachable as ECONNREFUSED. */
	if (connect(in->fd, sa, in->addr.len) != 0) {
		probe_inst_fail_soon(in, "could not be queried (%s)", strerror(errno));
		return;
	}
	in->query_id = (uint16_t)probe_rng_next(in->rng);
	in->query[0] = (uint8_t)(in->query_id >> 8);
	in->query[1] = (uint8_t)in->query_id;
	if (send(in->fd, in->query, in->query_len, 0) < 0) {
		if (errno == ECONNREFUSED)
			probe_inst_fail_soon(in,
					     "refused the query (nothing listens on the DNS port)");
		else
			probe_inst_fail_soon(in, "could not be queried (%s)", strerror(errno));
		return;
	}
	in->io = event_new(in->base, in->fd, EV_READ | EV_PERSIST, dns_read_cb, in);
	if (in->io == NULL || event_add(in->io, NULL) != 0)
		probe_inst_fail_soon(in, "could not be queried (out of memory)");
}

static int dns_prepare(struct probe_inst *in)
{
	const struct probe_check *c = in->check;
	char ip[64];
	addr_format_ip((const struct sockaddr *)&in->addr.ss, ip, sizeof(ip));
	bool v6 = in->addr.ss.ss_family == AF_INET6;
	char *type = ldns_rr_type2str((ldns_rr_type)c->qtype);
	probe_text_fmt(in->desc, sizeof(in->desc), "dns %s%s%s:%u %s %s", v6 ? "[" : "", ip,
		       v6 ? "]" : "", (unsigned)addr_port(&in->addr), c->qname, type ? type : "?");
	free(type);

	int rc = SOV_OK;
	ldns_rdf *qname = ldns_dname_new_frm_str(c->qname);
	ldns_pkt *q =
	    qname ? ldns_pkt_query_new(qname, (ldns_rr_type)c->qtype, LDNS_RR_CLASS_IN, 0) : NULL;
	if (q == NULL) {
		ldns_rdf_deep_free(qname);
		return SOV_ENOMEM;
	}
	/* No RD: we ask the datacenter's authoritative server about its own data. */
	if (ldns_pkt2wire(&in->query, q, &in->query_len) != LDNS_STATUS_OK)
		rc = SOV_ENOMEM;
	ldns_pkt_free(q);
	return rc;
}

const struct probe_kind probe_kind_dns = {
    .prepare = dns_prepare,
    .start = dns_start,
};
