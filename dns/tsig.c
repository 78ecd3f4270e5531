/* tsig.c — RFC 8945 transaction signatures (see tsig.h for the contract).
 *
 * The HMAC is OpenSSL's (EVP_MAC "HMAC" with the algorithm's digest); this
 * file only lays out the bytes the RFC says go into it and compares MACs
 * in constant time (CRYPTO_memcmp).
 */
#include "dns/tsig.h"

#include <ctype.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "wire/wire.h"

/* A later message may come unsigned, at most this many in a row
 * (RFC 8945 §5.3.1: "MUST accept up to 99 intermediary messages"). */
#define TSIG_UNSIGNED_RUN_MAX 99

struct alg_info {
	const char *name;    /* as users write it */
	const uint8_t *wire; /* RFC 8945 §6 */
	const char *digest;  /* OpenSSL digest name */
	size_t mac_len;
};

static const struct alg_info algs[TSIG_ALG_COUNT] = {
    [TSIG_HMAC_MD5] = {"hmac-md5", (const uint8_t *)"\x08hmac-md5\x07sig-alg\x03reg\x03int", "MD5",
		       16},
    [TSIG_HMAC_SHA1] = {"hmac-sha1", (const uint8_t *)"\x09hmac-sha1", "SHA1", 20},
    [TSIG_HMAC_SHA224] = {"hmac-sha224", (const uint8_t *)"\x0bhmac-sha224", "SHA224", 28},
    [TSIG_HMAC_SHA256] = {"hmac-sha256", (const uint8_t *)"\x0bhmac-sha256", "SHA256", 32},
    [TSIG_HMAC_SHA384] = {"hmac-sha384", (const uint8_t *)"\x0bhmac-sha384", "SHA384", 48},
    [TSIG_HMAC_SHA512] = {"hmac-sha512", (const uint8_t *)"\x0bhmac-sha512", "SHA512", 64},
};

int tsig_alg_parse(const char *text, enum tsig_alg *out)
{
	size_t n = strlen(text);
	if (n > 0 && text[n - 1] == '.')
		n--;
	if (n == strlen("hmac-md5.sig-alg.reg.int") &&
	    strncasecmp(text, "hmac-md5.sig-alg.reg.int", n) == 0) {
		*out = TSIG_HMAC_MD5;
		return SOV_OK;
	}
	for (int a = 0; a < TSIG_ALG_COUNT; a++) {
		if (strlen(algs[a].name) == n && strncasecmp(text, algs[a].name, n) == 0) {
			*out = (enum tsig_alg)a;
			return SOV_OK;
		}
	}
	return SOV_EINVAL;
}

const uint8_t *tsig_alg_wire(enum tsig_alg alg)
{
	return algs[alg].wire;
}

const char *tsig_alg_name(enum tsig_alg alg)
{
	return algs[alg].name;
}

size_t tsig_alg_mac_len(enum tsig_alg alg)
{
	return algs[alg].mac_len;
}

/* Algorithm of a lowercased wire name, or -1. */
static int alg_from_wire(const uint8_t *lname)
{
	for (int a = 0; a < TSIG_ALG_COUNT; a++)
		if (dname_equal(algs[a].wire, lname))
			return a;
	return -1;
}

/* ------------------------------------------------------------ key parse */

/* Strict RFC 4648 base64 (no white space inside, padding required):
 * EVP_DecodeBlock decodes, but accepts what we check first. Returns the
 * decoded length or -1. */
static int base64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap + 2)
		return -1;
	size_t pad = 0;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == '=') {
			if (i < n - 2)
				return -1;
			pad++;
		} else if (pad > 0 || !(isalnum((unsigned char)c) || c == '+' || c == '/')) {
			return -1;
		}
	}
	uint8_t tmp[TSIG_SECRET_MAX + 3];
	if (n / 4 * 3 > sizeof(tmp))
		return -1;
	int got = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
	if (got < 0 || (size_t)got < pad || (size_t)got - pad > cap)
		return -1;
	memcpy(out, tmp, (size_t)got - pad);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return got - (int)pad;
}

int tsig_key_parse(const char *line, struct tsig_key *out, char *err, size_t errcap)
{
	char buf[DNAME_STR_MAX + 32 + TSIG_SECRET_MAX * 2];
	int rc = SOV_EPARSE;
	while (isspace((unsigned char)*line))
		line++;
	size_t n = strlen(line);
	while (n > 0 && isspace((unsigned char)line[n - 1]))
		n--;
	if (n >= sizeof(buf)) {
		snprintf(err, errcap, "key is longer than %zu characters", sizeof(buf) - 1);
		goto finish;
	}
	memcpy(buf, line, n);
	buf[n] = '\0';

	/* [ALG:]NAME:SECRET — the secret is the part after the last colon. */
	char *last = strrchr(buf, ':');
	if (last == NULL) {
		snprintf(err, errcap, "expected ALGORITHM:NAME:SECRET");
		goto finish;
	}
	*last = '\0';
	char *secret = last + 1;
	char *name = buf;
	char *first = strchr(buf, ':');
	enum tsig_alg alg = TSIG_HMAC_SHA256;
	if (first != NULL) {
		*first = '\0';
		name = first + 1;
		if (tsig_alg_parse(buf, &alg) != SOV_OK) {
			snprintf(err, errcap,
				 "unknown algorithm '%.40s' (hmac-sha256, hmac-sha384, "
				 "hmac-sha512, hmac-sha224, hmac-sha1, hmac-md5)",
				 buf);
			goto finish;
		}
	}
	if (*name == '\0') {
		snprintf(err, errcap, "the key has no name");
		goto finish;
	}
	int nl = dname_from_str(name, out->name);
	if (nl < 0 || nl == 1) {
		snprintf(err, errcap, "key name '%.60s' is not a domain name", name);
		goto finish;
	}
	out->name_len = (uint16_t)nl;
	int sl = base64_decode(secret, strlen(secret), out->secret, sizeof(out->secret));
	if (sl <= 0) {
		snprintf(err, errcap, "the secret of key '%.60s' is not base64 (RFC 4648, padded)",
			 name);
		goto finish;
	}
	out->secret_len = (size_t)sl;
	out->alg = alg;
	rc = SOV_OK;
finish:
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

/* ------------------------------------------------------------ record parse */

int tsig_rr_parse(const uint8_t *msg, size_t len, size_t rr_offset, struct tsig_rr *out)
{
	uint8_t name[DNAME_MAXLEN];
	size_t p = rr_offset;
	if (dns_name_read(msg, len, &p, name) < 0 || len - p < 10)
		return SOV_EMALF;
	dname_lower(out->key_name, name);
	if (wire_read_u16(msg + p) != DNS_TYPE_TSIG ||
	    wire_read_u16(msg + p + 2) != DNS_CLASS_ANY || wire_read_u32(msg + p + 4) != 0)
		return SOV_EMALF;
	size_t rdlen = wire_read_u16(msg + p + 8);
	p += 10;
	if (len - p != rdlen)
		return SOV_EMALF; /* the TSIG record is the last thing in the message */
	size_t end = p + rdlen;
	if (dns_name_read(msg, end, &p, name) < 0 || end - p < 10)
		return SOV_EMALF;
	dname_lower(out->alg_name, name);
	out->time_signed = ((uint64_t)wire_read_u16(msg + p) << 32) | wire_read_u32(msg + p + 2);
	out->fudge = wire_read_u16(msg + p + 6);
	out->mac_len = wire_read_u16(msg + p + 8);
	p += 10;
	if (end - p < (size_t)out->mac_len + 6)
		return SOV_EMALF;
	out->mac = msg + p;
	p += out->mac_len;
	out->orig_id = wire_read_u16(msg + p);
	out->error = wire_read_u16(msg + p + 2);
	out->other_len = wire_read_u16(msg + p + 4);
	p += 6;
	if (end - p != out->other_len)
		return SOV_EMALF;
	out->other = msg + p;
	out->rr_offset = rr_offset;
	return SOV_OK;
}

/* ------------------------------------------------------------ HMAC */

static EVP_MAC_CTX *mac_open(const struct tsig_key *key)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		return NULL;
	EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac); /* the context keeps its own reference */
	if (c == NULL)
		return NULL;
	OSSL_PARAM params[2] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)algs[key->alg].digest,
					     0),
	    OSSL_PARAM_construct_end(),
	};
	if (EVP_MAC_init(c, key->secret, key->secret_len, params) != 1) {
		EVP_MAC_CTX_free(c);
		return NULL;
	}
	return c;
}

static bool mac_add(EVP_MAC_CTX *c, const void *p, size_t n)
{
	return n == 0 || EVP_MAC_update(c, p, n) == 1;
}

static bool mac_add_u16(EVP_MAC_CTX *c, uint16_t v)
{
	uint8_t b[2];
	wire_write_u16(b, v);
	return mac_add(c, b, 2);
}

/* A message as it was before its TSIG record (§4.3.1): header with the
 * original ID and ARCOUNT one less (arcount_less), then the rest up to
 * the record. */
static bool mac_add_message(EVP_MAC_CTX *c, const uint8_t *msg, size_t upto, uint16_t id,
			    bool arcount_less)
{
	uint8_t h[DNS_HEADER_LEN];
	memcpy(h, msg, DNS_HEADER_LEN);
	wire_write_u16(h, id);
	if (arcount_less)
		wire_write_u16(h + 10, (uint16_t)(wire_read_u16(h + 10) - 1));
	return mac_add(c, h, sizeof(h)) && mac_add(c, msg + DNS_HEADER_LEN, upto - DNS_HEADER_LEN);
}

static void put_u48(uint8_t *p, uint64_t v)
{
	wire_write_u16(p, (uint16_t)(v >> 32));
	wire_write_u32(p + 2, (uint32_t)v);
}

/* The TSIG variables (§4.3.3), or only the timers (§4.3.2 for later
 * messages of a multi-message reply). */
static bool mac_add_variables(EVP_MAC_CTX *c, const uint8_t *key_lname, const uint8_t *alg_lname,
			      uint64_t time_signed, uint16_t fudge, uint16_t error,
			      const uint8_t *other, uint16_t other_len, bool timers_only)
{
	uint8_t t[8];
	put_u48(t, time_signed);
	wire_write_u16(t + 6, fudge);
	if (timers_only)
		return mac_add(c, t, 8);
	uint8_t ct[6];
	wire_write_u16(ct, DNS_CLASS_ANY);
	wire_write_u32(ct + 2, 0);
	uint8_t eo[4];
	wire_write_u16(eo, error);
	wire_write_u16(eo + 2, other_len);
	return mac_add(c, key_lname, dname_len(key_lname)) && mac_add(c, ct, 6) &&
	       mac_add(c, alg_lname, dname_len(alg_lname)) && mac_add(c, t, 8) &&
	       mac_add(c, eo, 4) && mac_add(c, other, other_len);
}

static bool mac_final(EVP_MAC_CTX *c, uint8_t *out, size_t *out_len)
{
	return EVP_MAC_final(c, out, out_len, TSIG_MAC_MAX) == 1;
}

/* ------------------------------------------------------------ context */

void tsig_ctx_init(struct tsig_ctx *c, const struct tsig_key *key)
{
	memset(c, 0, sizeof(*c));
	c->key = key;
	c->fudge = TSIG_DEFAULT_FUDGE_S;
}

void tsig_ctx_clear(struct tsig_ctx *c)
{
	EVP_MAC_CTX_free(c->open);
	OPENSSL_cleanse(c->mac, sizeof(c->mac));
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------ server side */

static const struct tsig_key *ring_find(const struct tsig_keyring *ring, const uint8_t *key_lname,
					int alg)
{
	for (size_t i = 0; i < ring->count; i++) {
		const struct tsig_key *k = &ring->keys[i];
		if ((int)k->alg == alg && dname_equal(k->name, key_lname) &&
		    (alg != TSIG_HMAC_MD5 || ring->allow_md5))
			return k;
	}
	return NULL;
}

int tsig_verify_request(const struct tsig_keyring *ring, const uint8_t *msg, size_t len,
			size_t rr_offset, uint64_t now_s, struct tsig_ctx *ctx,
			struct tsig_verdict *v)
{
	memset(v, 0, sizeof(*v));
	if (len < DNS_HEADER_LEN || rr_offset < DNS_HEADER_LEN ||
	    tsig_rr_parse(msg, len, rr_offset, &v->rr) != SOV_OK) {
		v->rcode = DNS_RCODE_FORMERR;
		return SOV_EMALF;
	}
	const struct tsig_rr *rr = &v->rr;
	int alg = alg_from_wire(rr->alg_name);
	const struct tsig_key *key = alg < 0 ? NULL : ring_find(ring, rr->key_name, alg);
	if (key == NULL) {
		v->rcode = DNS_RCODE_NOTAUTH;
		v->error = TSIG_ERR_BADKEY;
		return SOV_OK;
	}
	/* §5.2.2.1: a MAC longer than the hash, or shorter than both 10
	 * octets and half the hash, is malformed; a shorter one than the full
	 * hash is truncation, which our policy (full MACs only, as Knot
	 * without configuration) refuses with BADTRUNC. */
	size_t full = algs[alg].mac_len;
	size_t floor = full / 2 > 10 ? full / 2 : 10;
	if (rr->mac_len > full || rr->mac_len < floor) {
		v->rcode = DNS_RCODE_FORMERR;
		return SOV_OK;
	}
	EVP_MAC_CTX *c = mac_open(key);
	if (c == NULL)
		return SOV_ESYS;
	uint8_t mac[TSIG_MAC_MAX];
	size_t mac_len = 0;
	bool ok = mac_add_message(c, msg, rr_offset, rr->orig_id, true) &&
		  mac_add_variables(c, rr->key_name, rr->alg_name, rr->time_signed, rr->fudge,
				    rr->error, rr->other, rr->other_len, false) &&
		  mac_final(c, mac, &mac_len);
	EVP_MAC_CTX_free(c);
	if (!ok)
		return SOV_ESYS;
	if (CRYPTO_memcmp(mac, rr->mac, rr->mac_len) != 0) {
		v->rcode = DNS_RCODE_NOTAUTH;
		v->error = TSIG_ERR_BADSIG;
		return SOV_OK;
	}
	tsig_ctx_init(ctx, key);
	memcpy(ctx->mac, rr->mac, rr->mac_len);
	ctx->mac_len = rr->mac_len;
	ctx->fudge = rr->fudge;
	ctx->messages = 1;
	if (rr->mac_len < full) {
		v->rcode = DNS_RCODE_NOTAUTH;
		v->error = TSIG_ERR_BADTRUNC;
		return SOV_OK;
	}
	uint64_t diff = now_s > rr->time_signed ? now_s - rr->time_signed : rr->time_signed - now_s;
	if (diff > rr->fudge) {
		v->rcode = DNS_RCODE_NOTAUTH;
		v->error = TSIG_ERR_BADTIME;
	}
	return SOV_OK;
}

/* Writes a TSIG record at msg[*len] and bumps ARCOUNT. */
static int put_record(uint8_t *msg, size_t *len, size_t cap, const uint8_t *key_name,
		      const uint8_t *alg_name, uint64_t time_signed, uint16_t fudge,
		      const uint8_t *mac, uint16_t mac_len, uint16_t orig_id, uint16_t error,
		      const uint8_t *other, uint16_t other_len)
{
	size_t kl = dname_len(key_name), al = dname_len(alg_name);
	size_t rdlen = al + 10 + mac_len + 6 + other_len;
	size_t need = kl + 10 + rdlen;
	if (*len > cap || cap - *len < need || *len < DNS_HEADER_LEN)
		return SOV_ESPACE;
	uint8_t *p = msg + *len;
	memcpy(p, key_name, kl);
	p += kl;
	wire_write_u16(p, DNS_TYPE_TSIG);
	wire_write_u16(p + 2, DNS_CLASS_ANY);
	wire_write_u32(p + 4, 0);
	wire_write_u16(p + 8, (uint16_t)rdlen);
	p += 10;
	memcpy(p, alg_name, al);
	p += al;
	put_u48(p, time_signed);
	wire_write_u16(p + 6, fudge);
	wire_write_u16(p + 8, mac_len);
	p += 10;
	if (mac_len > 0) /* an error record has no MAC (and mac may be NULL) */
		memcpy(p, mac, mac_len);
	p += mac_len;
	wire_write_u16(p, orig_id);
	wire_write_u16(p + 2, error);
	wire_write_u16(p + 4, other_len);
	p += 6;
	if (other_len > 0)
		memcpy(p, other, other_len);
	*len += need;
	wire_write_u16(msg + 10, (uint16_t)(wire_read_u16(msg + 10) + 1));
	return SOV_OK;
}

int tsig_sign(struct tsig_ctx *ctx, uint8_t *msg, size_t *len, size_t cap, uint64_t now_s,
	      uint16_t error)
{
	const struct tsig_key *key = ctx->key;
	if (key == NULL || *len < DNS_HEADER_LEN)
		return SOV_EINVAL;
	uint8_t other[6];
	uint16_t other_len = 0;
	if (error == TSIG_ERR_BADTIME) {
		put_u48(other, now_s);
		other_len = 6;
	}
	const uint8_t *alg_name = algs[key->alg].wire;
	uint16_t id = wire_read_u16(msg);
	/* A request and a reply's first message carry every variable; later
	 * messages of one reply the timers only (§4.3.2). A reply chains the
	 * previous MAC (the request's, then its own previous one). */
	bool reply = ctx->mac_len > 0;
	EVP_MAC_CTX *c = mac_open(key);
	if (c == NULL)
		return SOV_ESYS;
	uint8_t mac[TSIG_MAC_MAX];
	size_t mac_len = 0;
	bool ok = true;
	if (reply)
		ok = mac_add_u16(c, ctx->mac_len) && mac_add(c, ctx->mac, ctx->mac_len);
	ok = ok && mac_add_message(c, msg, *len, id, false) &&
	     mac_add_variables(c, key->name, alg_name, now_s, ctx->fudge, error, other, other_len,
			       ctx->in_reply) &&
	     mac_final(c, mac, &mac_len);
	EVP_MAC_CTX_free(c);
	if (!ok)
		return SOV_ESYS;
	int r = put_record(msg, len, cap, key->name, alg_name, now_s, ctx->fudge, mac,
			   (uint16_t)mac_len, id, error, other, other_len);
	if (r != SOV_OK)
		return r;
	memcpy(ctx->mac, mac, mac_len);
	ctx->mac_len = (uint16_t)mac_len;
	ctx->in_reply = reply;
	ctx->messages++;
	return SOV_OK;
}

int tsig_append_unsigned(uint8_t *msg, size_t *len, size_t cap, const struct tsig_rr *req,
			 uint16_t error)
{
	return put_record(msg, len, cap, req->key_name, req->alg_name, req->time_signed, req->fudge,
			  NULL, 0, req->orig_id, error, NULL, 0);
}

/* ------------------------------------------------------------ client side */

/* Skips one record at msg[*p] (owner, fixed fields, RDATA). */
static int skip_record(const uint8_t *msg, size_t len, size_t *p)
{
	uint8_t name[DNAME_MAXLEN];
	if (dns_name_read(msg, len, p, name) < 0 || len - *p < 10)
		return SOV_EMALF;
	size_t rdlen = wire_read_u16(msg + *p + 8);
	*p += 10;
	if (len - *p < rdlen)
		return SOV_EMALF;
	*p += rdlen;
	return SOV_OK;
}

int tsig_find(const uint8_t *msg, size_t len, size_t *rr_offset)
{
	if (len < DNS_HEADER_LEN)
		return SOV_EMALF;
	unsigned qd = wire_read_u16(msg + 4);
	unsigned rrs =
	    (unsigned)wire_read_u16(msg + 6) + wire_read_u16(msg + 8) + wire_read_u16(msg + 10);
	uint8_t name[DNAME_MAXLEN];
	size_t p = DNS_HEADER_LEN;
	for (unsigned i = 0; i < qd; i++) {
		if (dns_name_read(msg, len, &p, name) < 0 || len - p < 4)
			return SOV_EMALF;
		p += 4;
	}
	if (wire_read_u16(msg + 10) == 0)
		return SOV_ENOENT;
	size_t last = 0;
	for (unsigned i = 0; i < rrs; i++) {
		last = p;
		if (skip_record(msg, len, &p) != SOV_OK)
			return SOV_EMALF;
	}
	if (p != len)
		return SOV_EMALF;
	size_t t = last;
	if (dns_name_read(msg, len, &t, name) < 0 || len - t < 2 ||
	    wire_read_u16(msg + t) != DNS_TYPE_TSIG)
		return SOV_ENOENT;
	*rr_offset = last;
	return SOV_OK;
}

static const char *tsig_error_name(uint16_t e)
{
	switch (e) {
	case TSIG_ERR_BADSIG:
		return "BADSIG";
	case TSIG_ERR_BADKEY:
		return "BADKEY";
	case TSIG_ERR_BADTIME:
		return "BADTIME";
	case TSIG_ERR_BADTRUNC:
		return "BADTRUNC";
	default:
		return "an unknown TSIG error";
	}
}

/* An unsigned message in a multi-message reply: folded into the HMAC that
 * the next signed message closes (§5.3.1). */
static int fold_unsigned(struct tsig_ctx *ctx, const uint8_t *msg, size_t len, char *err,
			 size_t errcap)
{
	if (!ctx->in_reply) {
		snprintf(err, errcap, "the reply is not signed (TSIG key %s expected)",
			 tsig_alg_name(ctx->key->alg));
		return SOV_EINVAL;
	}
	if (ctx->unsigned_run >= TSIG_UNSIGNED_RUN_MAX) {
		snprintf(err, errcap, "more than %d messages in a row without TSIG",
			 TSIG_UNSIGNED_RUN_MAX);
		return SOV_EINVAL;
	}
	if (ctx->open == NULL) {
		EVP_MAC_CTX *c = mac_open(ctx->key);
		if (c == NULL || !mac_add_u16(c, ctx->mac_len) ||
		    !mac_add(c, ctx->mac, ctx->mac_len)) {
			EVP_MAC_CTX_free(c);
			return SOV_ESYS;
		}
		ctx->open = c;
	}
	if (!mac_add(ctx->open, msg, len))
		return SOV_ESYS;
	ctx->unsigned_run++;
	ctx->messages++;
	return SOV_OK;
}

int tsig_verify_reply(struct tsig_ctx *ctx, uint8_t *msg, size_t *len, uint64_t now_s, char *err,
		      size_t errcap)
{
	char dummy[1];
	if (err == NULL) {
		err = dummy;
		errcap = sizeof(dummy);
	}
	if (ctx->key == NULL || ctx->mac_len == 0) {
		snprintf(err, errcap, "no signed request to match the reply with");
		return SOV_EINVAL;
	}
	size_t off;
	int r = tsig_find(msg, *len, &off);
	if (r == SOV_ENOENT)
		return fold_unsigned(ctx, msg, *len, err, errcap);
	struct tsig_rr rr;
	if (r != SOV_OK || tsig_rr_parse(msg, *len, off, &rr) != SOV_OK) {
		snprintf(err, errcap, "the reply's TSIG record is malformed");
		return SOV_EMALF;
	}
	const struct tsig_key *key = ctx->key;
	if (!dname_equal(rr.key_name, key->name) ||
	    !dname_equal(rr.alg_name, algs[key->alg].wire)) {
		snprintf(err, errcap, "the reply is signed with another key or algorithm");
		return SOV_EINVAL;
	}
	if (rr.error != TSIG_ERR_NONE && rr.mac_len == 0) {
		snprintf(err, errcap, "the server answered %s", tsig_error_name(rr.error));
		return SOV_EINVAL;
	}
	if (rr.mac_len != algs[key->alg].mac_len) {
		snprintf(err, errcap, "the reply's MAC is %u bytes, not %zu", rr.mac_len,
			 algs[key->alg].mac_len);
		return SOV_EINVAL;
	}
	EVP_MAC_CTX *c = ctx->open;
	ctx->open = NULL;
	if (c == NULL) {
		c = mac_open(key);
		if (c == NULL || !mac_add_u16(c, ctx->mac_len) ||
		    !mac_add(c, ctx->mac, ctx->mac_len)) {
			EVP_MAC_CTX_free(c);
			return SOV_ESYS;
		}
	}
	uint8_t mac[TSIG_MAC_MAX];
	size_t mac_len = 0;
	bool ok = mac_add_message(c, msg, off, rr.orig_id, true) &&
		  mac_add_variables(c, rr.key_name, rr.alg_name, rr.time_signed, rr.fudge, rr.error,
				    rr.other, rr.other_len, ctx->in_reply) &&
		  mac_final(c, mac, &mac_len);
	EVP_MAC_CTX_free(c);
	if (!ok)
		return SOV_ESYS;
	if (mac_len != rr.mac_len || CRYPTO_memcmp(mac, rr.mac, mac_len) != 0) {
		snprintf(err, errcap, "the reply's TSIG MAC is wrong (BADSIG)");
		return SOV_EINVAL;
	}
	if (rr.error != TSIG_ERR_NONE) {
		snprintf(err, errcap, "the server answered %s", tsig_error_name(rr.error));
		return SOV_EINVAL;
	}
	uint64_t diff = now_s > rr.time_signed ? now_s - rr.time_signed : rr.time_signed - now_s;
	if (diff > rr.fudge) {
		snprintf(err, errcap,
			 "the reply was signed %llu s away from our clock (fudge %u s)",
			 (unsigned long long)diff, rr.fudge);
		return SOV_EINVAL;
	}
	memcpy(ctx->mac, mac, mac_len);
	ctx->mac_len = (uint16_t)mac_len;
	ctx->in_reply = true;
	ctx->unsigned_run = 0;
	ctx->messages++;
	*len = off;
	wire_write_u16(msg + 10, (uint16_t)(wire_read_u16(msg + 10) - 1));
	return SOV_OK;
}

bool tsig_reply_complete(const struct tsig_ctx *ctx)
{
	return ctx->in_reply && ctx->open == NULL;
}

int tsig_keyring_index(const struct tsig_keyring *ring, const char *name)
{
	uint8_t w[DNAME_MAXLEN];
	if (dname_from_str(name, w) < 1)
		return -1;
	dname_lower(w, w);
	for (size_t i = 0; i < ring->count; i++)
		if (dname_equal(ring->keys[i].name, w))
			return (int)i;
	return -1;
}
