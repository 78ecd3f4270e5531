/* notify_out.c — NOTIFY out (RFC 1996), contract in notify_out.h: the
 * target list, the message and reply matching (pure), and the notifier
 * thread that sends, retries and rate-limits.
 *
 * The thread owns two unconnected UDP sockets (IPv4, IPv6) and a pipe it
 * is woken through; it polls them with the time until the next send due.
 * Its work list (zones, each with one job per target) is shared with
 * notifier_zone_changed() under one mutex, which the thread holds only
 * while it sends (non-blocking) or matches a reply, never while it waits.
 */
#include "dns/notify_out.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/net.h"
#include "dns/xfr_conf.h"
#include "wire/wire.h"

/* A SOA's RDATA: two names of at least one byte each, then five 32-bit
 * numbers (RFC 1035 §3.3.13). */
#define SOA_FIXED_LEN 20
#define SOA_RDATA_MIN (2 + SOA_FIXED_LEN)

/* ------------------------------------------------------------- targets */

struct tlist {
	struct notify_target *v;
	size_t n, cap;
	const sov_sockaddr_t *own;
	size_t own_count;
	bool nomem;
};

static bool same_addr(const struct sockaddr *a, const sov_sockaddr_t *b)
{
	return addr_same(a, b, true);
}

/* Appends t unless it is one of ours or already listed. An NS name's
 * address is ours when its IP is one we listen on, whatever our port (it
 * is only assumed to be 53: a server listening on 5353 behind a port
 * forward is still the one named); a notify.also entry only when the port
 * matches too. */
static void tlist_add(struct tlist *l, const struct notify_target *t)
{
	const struct sockaddr *sa = (const struct sockaddr *)&t->addr.ss;
	for (size_t i = 0; i < l->own_count; i++)
		if (addr_same(sa, &l->own[i], !t->from_ns))
			return;
	for (size_t i = 0; i < l->n; i++)
		if (same_addr(sa, &l->v[i].addr))
			return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct notify_target *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL) {
			l->nomem = true;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *t;
}

/* An address record's RDATA (4 or 16 bytes) as a port-53 socket address. */
static bool rdata_addr(uint16_t type, const uint8_t *rd, uint16_t rdlen, sov_sockaddr_t *out)
{
	memset(out, 0, sizeof(*out));
	if (type == DNS_TYPE_A && rdlen == 4) {
		struct sockaddr_in *s = (struct sockaddr_in *)(void *)&out->ss;
		s->sin_family = AF_INET;
		s->sin_port = htons(53);
		memcpy(&s->sin_addr, rd, 4);
		out->len = sizeof(*s);
		return true;
	}
	if (type == DNS_TYPE_AAAA && rdlen == 16) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)(void *)&out->ss;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons(53);
		memcpy(&s->sin6_addr, rd, 16);
		out->len = sizeof(*s);
		return true;
	}
	return false;
}

/* The A and AAAA addresses of name held in any zone of s (an owner of its
 * own, or glue below a cut), appended to *addrs (grown; *n of them). */
static void addrs_of(const snapshot_t *s, const uint8_t *name, sov_sockaddr_t **addrs, size_t *n,
		     bool *nomem)
{
	uint8_t lower[DNAME_MAXLEN];
	dname_lower(lower, name);
	for (size_t k = 0; k < zonedb_count(s->zones); k++) {
		const zone_t *z = zonedb_get(s->zones, k);
		if (!zone_has_data(z) || !dname_is_subdomain(lower, z->origin))
			continue;
		const znode_t *node = zone_find(z, lower);
		if (node == NULL)
			continue;
		static const uint16_t types[2] = {DNS_TYPE_A, DNS_TYPE_AAAA};
		for (int t = 0; t < 2; t++) {
			const zrrset_t *rs = znode_rrset(node, types[t]);
			size_t off = 0;
			for (uint16_t i = 0; rs != NULL && i < rs->count; i++) {
				uint16_t rdlen = wire_read_u16(rs->rdata + off);
				sov_sockaddr_t a;
				if (rdata_addr(types[t], rs->rdata + off + 2, rdlen, &a)) {
					sov_sockaddr_t *v = realloc(*addrs, (*n + 1) * sizeof(*v));
					if (v == NULL) {
						*nomem = true;
						return;
					}
					*addrs = v;
					v[(*n)++] = a;
				}
				off += 2u + rdlen;
			}
		}
	}
}

/* The key of the zone's first transfer rule that names one and whose
 * networks hold a's address: the key that secondary transfers with. */
static const struct tsig_key *ns_key(const struct xfr_conf *x, size_t zi, const sov_sockaddr_t *a)
{
	const struct xfr_zone *xz = &x->zones[zi];
	int family = a->ss.ss_family;
	uint8_t ip[16] = {0};
	if (family == AF_INET)
		memcpy(ip, &((const struct sockaddr_in *)(const void *)&a->ss)->sin_addr, 4);
	else
		memcpy(ip, &((const struct sockaddr_in6 *)(const void *)&a->ss)->sin6_addr, 16);
	for (size_t i = 0; i < xz->allow_count; i++) {
		const struct xfr_rule *r = &xz->allow[i];
		for (size_t j = 0;
		     r->key >= 0 && (size_t)r->key < x->key_count && j < r->from_count; j++)
			if (net_contains(&r->from[j], family, ip))
				return &x->keys[r->key];
	}
	return NULL;
}

/* The NS-derived targets of zone z (number zi) into l. */
static void ns_targets(const snapshot_t *s, size_t zi, const zone_t *z, struct tlist *l)
{
	const znode_t *apex = zone_node(z, 0);
	const zrrset_t *ns = znode_rrset(apex, DNS_TYPE_NS);
	const zrrset_t *soa = znode_rrset(apex, DNS_TYPE_SOA);
	sov_sockaddr_t *master = NULL, *addrs = NULL;
	size_t nmaster = 0;
	/* RFC 1996 §3.6: not the primary master, the SOA MNAME. */
	if (soa != NULL && soa->rdata_len > 2)
		addrs_of(s, soa->rdata + 2, &master, &nmaster, &l->nomem);
	size_t off = 0;
	for (uint16_t i = 0; ns != NULL && i < ns->count && !l->nomem; i++) {
		uint16_t rdlen = wire_read_u16(ns->rdata + off);
		const uint8_t *name = ns->rdata + off + 2;
		off += 2u + rdlen;
		size_t n = 0;
		addrs_of(s, name, &addrs, &n, &l->nomem);
		if (n == 0 && log_enabled(LOG_LVL_DEBUG)) {
			char buf[DNAME_STR_MAX];
			if (dname_to_str(name, buf, sizeof(buf)) < 0)
				snprintf(buf, sizeof(buf), "?");
			log_debug("notify",
				  "%s: no NOTIFY to NS %s: we serve no address for it (names "
				  "are not resolved recursively; list it in notify.also)",
				  z->origin_str, buf);
		}
		for (size_t j = 0; j < n; j++) {
			bool is_master = false;
			for (size_t m = 0; m < nmaster; m++)
				if (same_addr((const struct sockaddr *)&addrs[j].ss, &master[m]))
					is_master = true;
			if (is_master)
				continue;
			struct notify_target t;
			memset(&t, 0, sizeof(t));
			t.addr = addrs[j];
			t.from_ns = true;
			const struct tsig_key *k = ns_key(s->xfr, zi, &addrs[j]);
			if (k != NULL) {
				t.has_key = true;
				t.key = *k;
			}
			tlist_add(l, &t);
			OPENSSL_cleanse(&t.key, sizeof(t.key));
		}
		free(addrs);
		addrs = NULL;
	}
	free(master);
}

int notify_targets_build(const snapshot_t *s, size_t zone_idx, const sov_sockaddr_t *own,
			 size_t own_count, struct notify_target **out, size_t *count)
{
	struct tlist l = {.own = own, .own_count = own ? own_count : 0};
	*out = NULL;
	*count = 0;
	if (s->xfr == NULL || zone_idx >= s->xfr->zone_count || zone_idx >= zonedb_count(s->zones))
		return SOV_OK;
	const zone_t *z = zonedb_get(s->zones, zone_idx);
	if (!zone_has_data(z))
		return SOV_OK;
	const struct xfr_zone *xz = &s->xfr->zones[zone_idx];
	for (size_t i = 0; i < xz->notify_count && !l.nomem; i++) {
		struct notify_target t;
		memset(&t, 0, sizeof(t));
		t.addr = xz->notify[i].addr;
		if (xz->notify[i].key >= 0 && (size_t)xz->notify[i].key < s->xfr->key_count) {
			t.has_key = true;
			t.key = s->xfr->keys[xz->notify[i].key];
		}
		tlist_add(&l, &t);
		OPENSSL_cleanse(&t.key, sizeof(t.key));
	}
	if (xz->notify_ns && !l.nomem)
		ns_targets(s, zone_idx, z, &l);
	if (l.nomem) {
		notify_targets_free(l.v, l.n);
		return SOV_ENOMEM;
	}
	*out = l.v;
	*count = l.n;
	return SOV_OK;
}

void notify_targets_free(struct notify_target *targets, size_t count)
{
	if (targets == NULL)
		return;
	OPENSSL_cleanse(targets, count * sizeof(*targets));
	free(targets);
}

/* ------------------------------------------------------------ messages */

int notify_query_build(uint8_t *buf, size_t cap, uint16_t id, const struct notify_zone *z,
		       const struct tsig_key *key, uint64_t now_s, struct tsig_ctx *ctx,
		       size_t *len)
{
	tsig_ctx_init(ctx, key);
	*len = 0;
	if (z->soa_rdata_len < SOA_RDATA_MIN)
		return SOV_EINVAL;
	size_t olen = dname_len(z->origin);
	size_t need = DNS_HEADER_LEN + olen + 4 + 2 + 10 + z->soa_rdata_len;
	if (need > cap)
		return SOV_ESPACE;
	uint8_t *p = buf;
	wire_write_u16(p, id);
	wire_write_u16(p + 2, (uint16_t)(DNS_OPCODE_NOTIFY << 11) | DNS_FLAG_AA);
	wire_write_u16(p + 4, 1); /* QDCOUNT */
	wire_write_u16(p + 6, 1); /* ANCOUNT: the SOA (§3.7) */
	wire_write_u16(p + 8, 0);
	wire_write_u16(p + 10, 0);
	p += DNS_HEADER_LEN;
	memcpy(p, z->origin, olen);
	p += olen;
	wire_write_u16(p, DNS_TYPE_SOA);
	wire_write_u16(p + 2, DNS_CLASS_IN);
	p += 4;
	wire_write_u16(p, 0xC000 | DNS_HEADER_LEN); /* owner: the question's name */
	wire_write_u16(p + 2, DNS_TYPE_SOA);
	wire_write_u16(p + 4, DNS_CLASS_IN);
	wire_write_u32(p + 6, z->soa_ttl_s);
	wire_write_u16(p + 10, z->soa_rdata_len);
	p += 12;
	memcpy(p, z->soa_rdata, z->soa_rdata_len);
	p += z->soa_rdata_len;
	*len = (size_t)(p - buf);
	if (key == NULL)
		return SOV_OK;
	return tsig_sign(ctx, buf, len, cap, now_s, TSIG_ERR_NONE);
}

enum notify_match notify_reply_match(const uint8_t *msg, size_t len, const struct sockaddr *from,
				     const sov_sockaddr_t *to, uint16_t id, const uint8_t *origin,
				     uint8_t *rcode)
{
	if (len < DNS_HEADER_LEN || !same_addr(from, to) || wire_read_u16(msg) != id)
		return NOTIFY_MATCH_NONE;
	uint16_t flags = wire_read_u16(msg + 2);
	uint16_t qdcount = wire_read_u16(msg + 4);
	if (!(flags & DNS_FLAG_QR) || DNS_OPCODE(flags) != DNS_OPCODE_NOTIFY)
		return NOTIFY_MATCH_NONE;
	uint8_t rc = (uint8_t)(flags & 0xF);
	if (qdcount == 0 && rc != DNS_RCODE_NOERROR) {
		*rcode = rc;
		return NOTIFY_MATCH_REPLY;
	}
	if (qdcount != 1)
		return NOTIFY_MATCH_NONE;
	size_t off = DNS_HEADER_LEN;
	uint8_t qname[DNAME_MAXLEN];
	if (dns_name_read(msg, len, &off, qname) < 0 || off + 4 > len)
		return NOTIFY_MATCH_NONE;
	if (!dname_equal(qname, origin) || wire_read_u16(msg + off) != DNS_TYPE_SOA ||
	    wire_read_u16(msg + off + 2) != DNS_CLASS_IN)
		return NOTIFY_MATCH_NONE;
	*rcode = rc;
	return NOTIFY_MATCH_REPLY;
}

/* ------------------------------------------------------------ notifier */

static const char *rcode_name(uint8_t rc)
{
	static const char *const names[16] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					      "NOTIMP",	 "REFUSED", "YXDOMAIN", "YXRRSET",
					      "NXRRSET", "NOTAUTH", "NOTZONE",	"RCODE11",
					      "RCODE12", "RCODE13", "RCODE14",	"RCODE15"};
	return names[rc & 0xF];
}

/* One target of one zone version. */
struct nt_job {
	struct notify_target t; /* its key copied */
	struct tsig_ctx tsig;	/* the request MAC, to verify the reply with */
	uint8_t msg[NOTIFY_MSG_MAX];
	size_t msg_len; /* 0: not built yet (built at the first send, then resent as is) */
	uint16_t id;
	unsigned tries;	  /* sends so far */
	int64_t first_ms; /* monotonic time of the first send */
	int64_t due_ms;	  /* monotonic time of the next send, or of giving up */
	int64_t wait_ms;  /* the wait after the next send */
	bool done;
	char addr[ADDR_STR_MAX];
};

/* One zone version being notified. */
struct nt_zone {
	struct nt_zone *next;
	uint8_t origin[DNAME_MAXLEN];
	char name[DNAME_STR_MAX];
	uint32_t serial, soa_ttl_s;
	uint8_t soa[2 * DNAME_MAXLEN + SOA_FIXED_LEN];
	uint16_t soa_len;
	struct nt_job *jobs;
	size_t job_count, left; /* left: jobs not done */
	size_t acked_n, failed_n;
};

/* The outcome of the last version of a zone that was notified to the end. */
struct nt_last {
	uint8_t origin[DNAME_MAXLEN];
	struct notifier_zone_state st;
};

struct notifier {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	struct nt_zone *zones;	   /* under lock */
	bool stop;		   /* under lock */
	int fd[2];		   /* UDP: [0] IPv4, [1] IPv6; -1 when unavailable */
	char src[2][ADDR_STR_MAX]; /* the address fd[k] is bound to, "" when the kernel
				      chooses (for messages) */
	int wake[2];		   /* pipe: notifier_zone_changed() and notifier_free() write */
	int64_t last_send_ms;	   /* thread only: rate limit */
	struct nt_last *last;	   /* under lock: one per zone ever finished */
	size_t last_count, last_cap;
	_Atomic uint64_t sent, acked, failed;
};

static void *notifier_main(void *arg);

static void nt_zone_free(struct nt_zone *z)
{
	if (z == NULL)
		return;
	for (size_t i = 0; i < z->job_count; i++)
		tsig_ctx_clear(&z->jobs[i].tsig);
	if (z->jobs != NULL) {
		OPENSSL_cleanse(z->jobs, z->job_count * sizeof(*z->jobs));
		free(z->jobs);
	}
	free(z);
}

static int open_udp(int family, const sov_sockaddr_t *sources, size_t source_count,
		    char src[ADDR_STR_MAX])
{
	src[0] = '\0';
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	if (family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	for (size_t i = 0; i < source_count; i++) {
		const sov_sockaddr_t *a = &sources[i];
		if (a->ss.ss_family != family)
			continue;
		bool wildcard =
		    family == AF_INET
			? ((const struct sockaddr_in *)(const void *)&a->ss)->sin_addr.s_addr ==
			      htonl(INADDR_ANY)
			: IN6_IS_ADDR_UNSPECIFIED(
			      &((const struct sockaddr_in6 *)(const void *)&a->ss)->sin6_addr);
		if (wildcard)
			continue;
		sov_sockaddr_t src_addr = *a;
		addr_set_port(&src_addr, 0);
		char buf[ADDR_STR_MAX];
		if (bind(fd, (const struct sockaddr *)&src_addr.ss, src_addr.len) == 0)
			addr_format_ip((const struct sockaddr *)&src_addr.ss, src, ADDR_STR_MAX);
		else
			log_warn(
			    "notify",
			    "cannot send NOTIFY from %s (%s); the kernel chooses the source "
			    "address, which secondaries may not accept NOTIFY from",
			    addr_format_ip((const struct sockaddr *)&src_addr.ss, buf, sizeof(buf)),
			    strerror(errno));
		break;
	}
	return fd;
}

int notifier_new(const sov_sockaddr_t *sources, size_t source_count, notifier_t **out)
{
	*out = NULL;
	notifier_t *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return SOV_ENOMEM;
	pthread_mutex_init(&n->lock, NULL);
	n->wake[0] = n->wake[1] = -1;
	n->fd[0] = open_udp(AF_INET, sources, sources ? source_count : 0, n->src[0]);
	n->fd[1] = open_udp(AF_INET6, sources, sources ? source_count : 0, n->src[1]);
	const char *what = NULL;
	if (n->fd[1] < 0)
		log_debug("notify", "no IPv6 socket for NOTIFY: %s", strerror(errno));
	if (n->fd[0] < 0 && n->fd[1] < 0)
		what = "cannot open a UDP socket for NOTIFY";
	else if (pipe2(n->wake, O_NONBLOCK | O_CLOEXEC) != 0)
		what = "cannot create the NOTIFY thread's pipe";
	else if ((errno = pthread_create(&n->thread, NULL, notifier_main, n)) != 0)
		what = "cannot start the NOTIFY thread";
	if (what != NULL) {
		log_err("notify", "%s: %s", what, strerror(errno));
		notifier_free(n);
		return SOV_ESYS;
	}
	n->started = true;
	*out = n;
	return SOV_OK;
}

static void wake_thread(notifier_t *n)
{
	char c = 1;
	/* A full pipe already holds a wake-up: nothing lost. */
	ssize_t w = write(n->wake[1], &c, 1);
	(void)w;
}

int notifier_zone_changed(notifier_t *n, const struct notify_zone *z,
			  const struct notify_target *targets, size_t count)
{
	if (z->soa_rdata_len < SOA_RDATA_MIN ||
	    z->soa_rdata_len > sizeof(((struct nt_zone *)0)->soa))
		return SOV_EINVAL;
	struct nt_zone *nz = NULL;
	if (count > 0) {
		nz = calloc(1, sizeof(*nz));
		if (nz == NULL)
			return SOV_ENOMEM;
		nz->jobs = calloc(count, sizeof(*nz->jobs));
		if (nz->jobs == NULL) {
			free(nz);
			return SOV_ENOMEM;
		}
		dname_lower(nz->origin, z->origin);
		if (dname_to_str(nz->origin, nz->name, sizeof(nz->name)) < 0)
			snprintf(nz->name, sizeof(nz->name), "?");
		nz->serial = z->serial;
		nz->soa_ttl_s = z->soa_ttl_s;
		memcpy(nz->soa, z->soa_rdata, z->soa_rdata_len);
		nz->soa_len = z->soa_rdata_len;
		nz->job_count = nz->left = count;
		int64_t now = clock_mono_ms();
		for (size_t i = 0; i < count; i++) {
			struct nt_job *j = &nz->jobs[i];
			j->t = targets[i];
			tsig_ctx_init(&j->tsig, NULL);
			j->due_ms = now;
			j->wait_ms = NOTIFY_FIRST_RETRY_MS;
			addr_format((const struct sockaddr *)&j->t.addr.ss, j->addr,
				    sizeof(j->addr));
		}
	}
	pthread_mutex_lock(&n->lock);
	struct nt_zone **pp = &n->zones, *old = NULL;
	while (*pp != NULL && old == NULL) {
		if (dname_equal((*pp)->origin, z->origin)) {
			old = *pp;
			*pp = old->next;
		} else {
			pp = &(*pp)->next;
		}
	}
	if (nz != NULL) {
		/* Appended: zones are served in the order they changed. */
		while (*pp != NULL)
			pp = &(*pp)->next;
		*pp = nz;
	}
	pthread_mutex_unlock(&n->lock);
	if (old != NULL && old->left > 0)
		log_debug("notify", "%s: serial %u replaces serial %u still being notified",
			  old->name, z->serial, old->serial);
	nt_zone_free(old);
	if (nz != NULL)
		wake_thread(n);
	return SOV_OK;
}

void notifier_stats(const notifier_t *n, struct notifier_stats *st)
{
	st->sent = atomic_load_explicit(&n->sent, memory_order_relaxed);
	st->acked = atomic_load_explicit(&n->acked, memory_order_relaxed);
	st->failed = atomic_load_explicit(&n->failed, memory_order_relaxed);
}

/* Under lock. Ends job j of zone z, counted as acked or failed. */
static void job_end(notifier_t *n, struct nt_zone *z, struct nt_job *j, bool acked)
{
	j->done = true;
	z->left--;
	if (acked)
		z->acked_n++;
	else
		z->failed_n++;
	atomic_fetch_add_explicit(acked ? &n->acked : &n->failed, 1, memory_order_relaxed);
	tsig_ctx_clear(&j->tsig);
}

/* A sendto() error no retry can cure: the destination is not reachable
 * from the socket's address at all (EINVAL: from a loopback address to
 * another network), or not of its family. Unreachable networks and hosts
 * (routes come and go) and full buffers are retried. */
static bool send_error_is_permanent(int e)
{
	return e == EINVAL || e == EAFNOSUPPORT || e == EADDRNOTAVAIL || e == EDESTADDRREQ;
}

/* Under lock: sends job j (its first try or a retry), or gives it up
 * when its tries are used up. */
static void job_send(notifier_t *n, struct nt_zone *z, struct nt_job *j, int64_t now)
{
	if (j->tries >= NOTIFY_MAX_TRIES) {
		log_warn("notify",
			 "%s: NOTIFY of serial %u to %s: no answer after %u tries over %lld s; "
			 "giving up (the secondary's SOA refresh timer still finds the change)",
			 z->name, z->serial, j->addr, j->tries,
			 (long long)((now - j->first_ms) / 1000));
		job_end(n, z, j, false);
		return;
	}
	int k = j->t.addr.ss.ss_family == AF_INET6 ? 1 : 0;
	int fd = n->fd[k];
	if (fd < 0) {
		log_warn("notify", "%s: cannot NOTIFY %s: no socket for its address family",
			 z->name, j->addr);
		job_end(n, z, j, false);
		return;
	}
	if (j->msg_len == 0) {
		/* Built once: a retry is the same message (same ID, same MAC), so a
		 * late answer to any try verifies against j->tsig (RFC 1996 §3.6
		 * resends the query; the TSIG fudge, 300 s, covers every try). */
		struct notify_zone nz = {z->origin, z->serial, z->soa_ttl_s, z->soa, z->soa_len};
		uint16_t id;
		if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
			id = (uint16_t)(now ^ (int64_t)(uintptr_t)j);
		j->id = id;
		int r = notify_query_build(
		    j->msg, sizeof(j->msg), id, &nz, j->t.has_key ? &j->t.key : NULL,
		    (uint64_t)(clock_unix_ms() / 1000), &j->tsig, &j->msg_len);
		if (r != SOV_OK) {
			log_warn("notify", "%s: cannot build the NOTIFY for %s: %s", z->name,
				 j->addr, err_str(r));
			job_end(n, z, j, false);
			return;
		}
	}
	if (j->tries++ == 0)
		j->first_ms = now;
	if (sendto(fd, j->msg, j->msg_len, 0, (const struct sockaddr *)&j->t.addr.ss,
		   j->t.addr.len) < 0) {
		int e = errno;
		if (send_error_is_permanent(e)) {
			/* e.g. a socket bound to 127.0.0.1 cannot reach another
			 * network: no try would ever leave, so none is made again */
			LOG_RATELIMITED(
			    1, log_warn("notify",
					"%s: NOTIFY to %s%s%s cannot be sent: %s; not retried",
					z->name, j->addr, n->src[k][0] ? " from " : "", n->src[k],
					strerror(e)));
			job_end(n, z, j, false);
			return;
		}
		LOG_RATELIMITED(1,
				log_warn("notify", "%s: NOTIFY to %s%s%s: send failed: %s (try %u)",
					 z->name, j->addr, n->src[k][0] ? " from " : "", n->src[k],
					 strerror(e), j->tries));
	} else {
		atomic_fetch_add_explicit(&n->sent, 1, memory_order_relaxed);
	}
	log_debug("notify", "%s: NOTIFY of serial %u to %s%s, id %u, try %u", z->name, z->serial,
		  j->addr, j->t.has_key ? " (signed)" : "", j->id, j->tries);
	/* After the last try, due_ms is when it is given up. */
	j->due_ms = now + j->wait_ms;
	if (j->wait_ms < NOTIFY_MAX_RETRY_MS)
		j->wait_ms *= 2;
}

/* Under lock: the job a reply from `from` with this ID answers, if any. */
static struct nt_job *find_job(notifier_t *n, const uint8_t *msg, size_t len,
			       const struct sockaddr *from, struct nt_zone **zone, uint8_t *rcode)
{
	for (struct nt_zone *z = n->zones; z != NULL; z = z->next)
		for (size_t i = 0; i < z->job_count; i++) {
			struct nt_job *j = &z->jobs[i];
			if (j->done || j->tries == 0)
				continue;
			if (notify_reply_match(msg, len, from, &j->t.addr, j->id, z->origin,
					       rcode) == NOTIFY_MATCH_REPLY) {
				*zone = z;
				return j;
			}
		}
	return NULL;
}

/* Under lock: one datagram received on a NOTIFY socket. */
static void on_reply(notifier_t *n, uint8_t *msg, size_t len, const struct sockaddr *from)
{
	struct nt_zone *z = NULL;
	uint8_t rc = 0;
	struct nt_job *j = find_job(n, msg, len, from, &z, &rc);
	if (j == NULL)
		return; /* not ours: a stray or late datagram, or a spoofing attempt */
	char why[160] = "";
	bool verified = !j->t.has_key;
	if (j->t.has_key)
		verified =
		    tsig_verify_reply(&j->tsig, msg, &len, (uint64_t)(clock_unix_ms() / 1000), why,
				      sizeof(why)) == SOV_OK;
	if (rc == DNS_RCODE_NOERROR && verified) {
		log_info("notify", "%s: NOTIFY of serial %u acknowledged by %s%s (try %u)", z->name,
			 z->serial, j->addr, j->t.has_key ? ", signed" : "", j->tries);
		job_end(n, z, j, true);
		return;
	}
	if (rc == DNS_RCODE_NOERROR) {
		/* Not an ack: keep trying, the genuine answer may still come. */
		LOG_RATELIMITED(1,
				log_warn("notify",
					 "%s: NOTIFY reply from %s fails TSIG verification (%s); "
					 "not counted as an answer",
					 z->name, j->addr, why));
		return;
	}
	if (rc == DNS_RCODE_SERVFAIL) {
		log_debug("notify", "%s: %s answered NOTIFY with SERVFAIL; trying again later",
			  z->name, j->addr);
		return;
	}
	/* NOTIMP, REFUSED, NOTAUTH, FORMERR...: the server will not take it; do
	 * not insist. An unsigned error (a BADKEY/BADSIG NOTAUTH is unsigned by
	 * RFC 8945 §5.2) ends the tries too: a forged one only delays the
	 * secondary to its refresh timer. */
	log_warn("notify",
		 "%s: %s answered NOTIFY of serial %u with %s%s%s%s; not sending it again "
		 "(check that it is a secondary of the zone and accepts NOTIFY from us%s)",
		 z->name, j->addr, z->serial, rcode_name(rc), j->t.has_key ? " (" : "",
		 j->t.has_key ? (verified ? "signed" : why) : "", j->t.has_key ? ")" : "",
		 j->t.has_key ? " with this key" : "");
	job_end(n, z, j, false);
}

static void drain_socket(notifier_t *n, int fd)
{
	uint8_t buf[4096];
	for (int k = 0; k < 64; k++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t r =
		    recvfrom(fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &flen);
		if (r < 0)
			return;
		if ((size_t)r > sizeof(buf))
			continue; /* truncated: not a NOTIFY answer we could check */
		pthread_mutex_lock(&n->lock);
		on_reply(n, buf, (size_t)r, (const struct sockaddr *)&from);
		pthread_mutex_unlock(&n->lock);
	}
}

/* Under lock: keeps the outcome of finished version z for the API. */
static void remember(notifier_t *n, const struct nt_zone *z)
{
	struct nt_last *l = NULL;
	for (size_t i = 0; i < n->last_count && l == NULL; i++)
		if (dname_equal(n->last[i].origin, z->origin))
			l = &n->last[i];
	if (l == NULL) {
		if (n->last_count == n->last_cap) {
			size_t cap = n->last_cap ? 2 * n->last_cap : 8;
			struct nt_last *m = realloc(n->last, cap * sizeof(*m));
			if (m == NULL)
				return; /* only the API's view is lost */
			n->last = m;
			n->last_cap = cap;
		}
		l = &n->last[n->last_count++];
		memcpy(l->origin, z->origin, dname_len(z->origin));
	}
	l->st = (struct notifier_zone_state){.known = true,
					     .pending = false,
					     .serial = z->serial,
					     .targets = z->job_count,
					     .acked = z->acked_n,
					     .failed = z->failed_n,
					     .finished_unix_ms = clock_unix_ms()};
}

void notifier_zone_state(notifier_t *n, const uint8_t *origin, struct notifier_zone_state *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < n->last_count; i++)
		if (dname_equal(n->last[i].origin, origin))
			*out = n->last[i].st;
	for (const struct nt_zone *z = n->zones; z != NULL; z = z->next)
		if (dname_equal(z->origin, origin) && z->left > 0) {
			*out = (struct notifier_zone_state){.known = true,
							    .pending = true,
							    .serial = z->serial,
							    .targets = z->job_count,
							    .acked = z->acked_n,
							    .failed = z->failed_n};
		}
	pthread_mutex_unlock(&n->lock);
}

/* Under lock: sends what is due (within the rate), frees finished zones,
 * and returns how long to wait (ms, -1: until woken). */
static int next_wait(notifier_t *n, int64_t now)
{
	const int64_t gap_ms = 1000 / NOTIFY_SENDS_PER_S;
	for (;;) {
		struct nt_job *best = NULL;
		struct nt_zone *bz = NULL;
		for (struct nt_zone **pp = &n->zones; *pp != NULL;) {
			struct nt_zone *z = *pp;
			if (z->left == 0) {
				*pp = z->next;
				remember(n, z);
				nt_zone_free(z);
				continue;
			}
			for (size_t i = 0; i < z->job_count; i++) {
				struct nt_job *j = &z->jobs[i];
				if (!j->done && (best == NULL || j->due_ms < best->due_ms)) {
					best = j;
					bz = z;
				}
			}
			pp = &z->next;
		}
		if (best == NULL)
			return -1;
		if (best->due_ms > now)
			return (int)(best->due_ms - now);
		/* Giving up sends nothing: not rate-limited. */
		bool gives_up = best->tries >= NOTIFY_MAX_TRIES;
		if (!gives_up && n->last_send_ms != 0 && now < n->last_send_ms + gap_ms)
			return (int)(n->last_send_ms + gap_ms - now);
		job_send(n, bz, best, now);
		if (!gives_up)
			n->last_send_ms = now;
	}
}

static void *notifier_main(void *arg)
{
	notifier_t *n = arg;
	for (;;) {
		pthread_mutex_lock(&n->lock);
		if (n->stop) {
			pthread_mutex_unlock(&n->lock);
			break;
		}
		int wait_ms = next_wait(n, clock_mono_ms());
		pthread_mutex_unlock(&n->lock);
		struct pollfd p[3] = {{.fd = n->wake[0], .events = POLLIN},
				      {.fd = n->fd[0], .events = POLLIN},
				      {.fd = n->fd[1], .events = POLLIN}};
		if (poll(p, 3, wait_ms) < 0 && errno != EINTR) {
			log_err("notify", "poll failed: %s; NOTIFY stops", strerror(errno));
			break;
		}
		if (p[0].revents & POLLIN) {
			char buf[64];
			while (read(n->wake[0], buf, sizeof(buf)) > 0)
				;
		}
		for (int k = 0; k < 2; k++)
			if (n->fd[k] >= 0 && (p[1 + k].revents & POLLIN))
				drain_socket(n, n->fd[k]);
	}
	return NULL;
}

void notifier_free(notifier_t *n)
{
	if (n == NULL)
		return;
	if (n->started) {
		pthread_mutex_lock(&n->lock);
		n->stop = true;
		pthread_mutex_unlock(&n->lock);
		wake_thread(n);
		pthread_join(n->thread, NULL);
	}
	size_t pending = 0;
	while (n->zones != NULL) {
		struct nt_zone *z = n->zones;
		n->zones = z->next;
		pending += z->left;
		nt_zone_free(z);
	}
	free(n->last);
	if (pending > 0)
		log_info("notify", "stopping: %zu NOTIFY not answered yet dropped", pending);
	for (int k = 0; k < 2; k++) {
		if (n->fd[k] >= 0)
			close(n->fd[k]);
		if (n->wake[k] >= 0)
			close(n->wake[k]);
	}
	pthread_mutex_destroy(&n->lock);
	free(n);
}
