/* tls.c — TLS for the https check (OpenSSL): the client context per check,
 * SNI and host name verification per connection, the leaf certificate's
 * days to expiry, and failure texts an operator can act on. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/err.h"
#include "common/log.h"
#include "probe/check.h"

#define SUBSYS "probe"

static int ssl_inst_idx = -1;
static pthread_once_t ssl_once = PTHREAD_ONCE_INIT;

static void ssl_once_init(void)
{
	ssl_inst_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int32_t cert_days_left(const X509 *cert, char *date, size_t cap)
{
	int pday = 0, psec = 0;
	const ASN1_TIME *na = X509_get0_notAfter(cert);
	struct tm tm;
	if (date != NULL && cap > 0) {
		date[0] = '\0';
		if (ASN1_TIME_to_tm(na, &tm) == 1)
			strftime(date, cap, "%Y-%m-%d", &tm);
	}
	if (ASN1_TIME_diff(&pday, &psec, NULL, na) != 1)
		return HEALTH_CERT_DAYS_NONE;
	int64_t secs = (int64_t)pday * 86400 + psec;
	/* floor: expired since one second counts as day -1 */
	return (int32_t)(secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400));
}

static int verify_cb(int preverify_ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct probe_inst *in = ssl ? SSL_get_ex_data(ssl, ssl_inst_idx) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(x);
	/* Record the leaf's expiry even when verification fails, so an operator
	 * sees "expired 3 days ago" rather than only "handshake failed". */
	if (in != NULL && leaf != NULL)
		in->cert_days =
		    cert_days_left(leaf, in->cert_not_after, sizeof(in->cert_not_after));
	return preverify_ok;
}

SSL_CTX *probe_tls_ctx_new(const struct probe_check *c)
{
	pthread_once(&ssl_once, ssl_once_init);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	int ok = c->ca_file ? SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL)
			    : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		unsigned long err = ERR_get_error();
		log_err(SUBSYS, "check %s: cannot load CA certificates from %s: %s", c->name,
			c->ca_file ? c->ca_file : "the system store",
			err ? ERR_reason_error_string(err) : "unknown error");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Verify always runs (the callback records expiry); with verify=false a
	 * failed verification does not fail the handshake. */
	SSL_CTX_set_verify(ctx, c->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, verify_cb);
	return ctx;
}

SSL *probe_tls_new(struct probe_inst *in)
{
	const struct probe_check *c = in->check;
	SSL *ssl = SSL_new(in->ssl_ctx);
	if (ssl == NULL)
		return NULL;
	SSL_set_ex_data(ssl, ssl_inst_idx, in);
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	char ip[64];
	sov_sockaddr_t lit;
	if (c->host != NULL && addr_parse(c->host, 0, &lit) != SOV_OK) {
		/* SNI carries names only, never IP literals (RFC 6066 §3). */
		SSL_set_tlsext_host_name(ssl, c->host);
		X509_VERIFY_PARAM_set1_host(param, c->host, 0);
	} else {
		X509_VERIFY_PARAM_set1_ip_asc(
		    param, c->host ? c->host
				   : addr_format_ip((const struct sockaddr *)&in->addr.ss, ip,
						    sizeof(ip)));
	}
	return ssl;
}

void probe_tls_handshake_done(struct probe_inst *in)
{
	X509 *peer = SSL_get1_peer_certificate(in->ssl);
	if (peer != NULL) {
		in->cert_days =
		    cert_days_left(peer, in->cert_not_after, sizeof(in->cert_not_after));
		X509_free(peer);
	}
	const struct probe_check *c = in->check;
	if (in->cert_days != HEALTH_CERT_DAYS_NONE && in->cert_days < (int32_t)c->cert_warn_days) {
		if (!in->cert_warned)
			log_warn(SUBSYS, "%s: %s: certificate expires in %d days (not after %s)",
				 in->target_name, in->desc, in->cert_days, in->cert_not_after);
		in->cert_warned = true;
	} else {
		in->cert_warned = false;
	}
}

void probe_tls_failure_text(struct probe_inst *in, unsigned long ossl_err, int sock_err)
{
	long vr = in->ssl ? SSL_get_verify_result(in->ssl) : X509_V_OK;
	switch (vr) {
	case X509_V_OK:
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED: {
		int ago = in->cert_days == HEALTH_CERT_DAYS_NONE ? 0 : -in->cert_days;
		snprintf(in->text, sizeof(in->text),
			 "presented an expired certificate (expired on %s, %d day%s ago)",
			 in->cert_not_after, ago, ago == 1 ? "" : "s");
		return;
	}
	case X509_V_ERR_CERT_NOT_YET_VALID:
		snprintf(in->text, sizeof(in->text),
			 "presented a certificate that is not valid yet");
		return;
	case X509_V_ERR_HOSTNAME_MISMATCH:
		snprintf(in->text, sizeof(in->text),
			 "presented a certificate not valid for the name %s", in->check->host);
		return;
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		snprintf(in->text, sizeof(in->text),
			 "presented a certificate not valid for its address");
		return;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		snprintf(in->text, sizeof(in->text),
			 "presented a certificate from an untrusted CA (%s)",
			 X509_verify_cert_error_string(vr));
		return;
	default:
		snprintf(in->text, sizeof(in->text),
			 "presented a certificate that failed verification (%s)",
			 X509_verify_cert_error_string(vr));
		return;
	}
	if (ossl_err != 0) {
		char buf[160];
		ERR_error_string_n(ossl_err, buf, sizeof(buf));
		const char *reason = ERR_reason_error_string(ossl_err);
		snprintf(in->text, sizeof(in->text), "failed the TLS handshake (%s)",
			 reason ? reason : buf);
	} else if (sock_err != 0 && probe_errno_text(sock_err) != NULL) {
		snprintf(in->text, sizeof(in->text), "%s during the TLS handshake",
			 probe_errno_text(sock_err));
	} else if (sock_err != 0) {
		snprintf(in->text, sizeof(in->text), "failed during the TLS handshake (%s)",
			 strerror(sock_err));
	} else {
		snprintf(in->text, sizeof(in->text),
			 "closed the connection during the TLS handshake");
	}
}
