/* tsig.h — transaction signatures (RFC 8945), with OpenSSL's HMAC.
 *
 * A TSIG record is the last record of a message's additional section. Its
 * MAC is an HMAC, keyed with a secret both ends share, over:
 *   - a request:  the message as it was before the TSIG record was added
 *                 (ARCOUNT one less, ID = the record's original ID) and the
 *                 TSIG variables (§4.3.3);
 *   - a response: the request's MAC (2-byte length, then the MAC), the
 *                 response as above, and the TSIG variables (§4.3.2);
 *   - each later message of a multi-message response (a zone transfer):
 *                 the previous MAC (length, MAC), every message since it
 *                 and the timers only (time signed, fudge) (§5.3.1).
 * The MAC is computed by OpenSSL (EVP_MAC "HMAC"); nothing here hashes by
 * itself. Every function is bounded by the lengths it is given and never
 * reads outside them.
 *
 * Verification order of a request is the RFC's (§5.2): key known (else
 * BADKEY), MAC size sane (else FORMERR), MAC right (else BADSIG), then the
 * time within the fudge (else BADTIME). Errors are answered with NOTAUTH
 * and a TSIG record whose error field says which: unsigned for BADKEY and
 * BADSIG, signed (with our time in Other Data) for BADTIME.
 *
 * All times are Unix seconds. Names are uncompressed wire names; the key
 * and algorithm names inside the MAC are lowercased (canonical, §4.3.3).
 */
#ifndef SOV_DNS_TSIG_H
#define SOV_DNS_TSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/dname.h"

/* TSIG error codes (RFC 8945 §3, the TSIG record's Error field). */
#define TSIG_ERR_NONE 0
#define TSIG_ERR_BADSIG 16
#define TSIG_ERR_BADKEY 17
#define TSIG_ERR_BADTIME 18
#define TSIG_ERR_BADTRUNC 22

/* Fudge we sign with: the time difference we allow (RFC 8945 §10
 * recommends 300 s). */
#define TSIG_DEFAULT_FUDGE_S 300

/* Largest MAC of the algorithms below (HMAC-SHA512). */
#define TSIG_MAC_MAX 64

/* Largest secret we accept: far beyond any hash's block size; generated
 * keys (tsig-keygen, keymgr) are the hash length. */
#define TSIG_SECRET_MAX 512

/* Longest TSIG record we ever write: key name, fixed fields, algorithm
 * name, MAC, 6 bytes of Other Data. */
#define TSIG_RR_MAX (DNAME_MAXLEN + 10 + DNAME_MAXLEN + 16 + TSIG_MAC_MAX + 6)

enum tsig_alg {
	TSIG_HMAC_MD5 = 0, /* RFC 8945 §6: "MUST implement", but weak: off unless allowed */
	TSIG_HMAC_SHA1,
	TSIG_HMAC_SHA224,
	TSIG_HMAC_SHA256, /* the default */
	TSIG_HMAC_SHA384,
	TSIG_HMAC_SHA512,
	TSIG_ALG_COUNT,
};

/** A shared key. name is the lowercased wire name; secret is owned. */
struct tsig_key {
	uint8_t name[DNAME_MAXLEN];
	uint16_t name_len;
	enum tsig_alg alg;
	uint8_t secret[TSIG_SECRET_MAX];
	size_t secret_len;
};

/** The keys a server knows. Borrowed pointers; allow_md5 gates hmac-md5. */
struct tsig_keyring {
	const struct tsig_key *keys;
	size_t count;
	bool allow_md5;
};

/**
 * Algorithm by its name as written in configuration or in `kdig -y`
 * ("hmac-sha256", case-insensitive, optional final dot; "hmac-md5" and
 * "hmac-md5.sig-alg.reg.int" both name MD5). SOV_OK or SOV_EINVAL.
 */
int tsig_alg_parse(const char *text, enum tsig_alg *out) __attribute__((nonnull));

/** The algorithm's wire name (RFC 8945 §6), e.g. "\x0bhmac-sha256\x00"; never NULL. */
const uint8_t *tsig_alg_wire(enum tsig_alg alg);

/** The algorithm's name as users write it ("hmac-sha256"); never NULL. */
const char *tsig_alg_name(enum tsig_alg alg);

/** Full MAC length in bytes (16 for MD5 … 64 for SHA-512). */
size_t tsig_alg_mac_len(enum tsig_alg alg);

/**
 * Parses a key in the one-line form `[ALG:]NAME:SECRET` (what `kdig -y`
 * and `knsupdate -y` take; ALG defaults to hmac-sha256; SECRET is base64,
 * RFC 4648, padding required). Leading/trailing white space is ignored.
 * Returns SOV_OK, or SOV_EPARSE with a reason in err[0..errcap) (which
 * never contains the secret).
 */
int tsig_key_parse(const char *line, struct tsig_key *out, char *err, size_t errcap)
    __attribute__((nonnull(1, 2)));

/** Index in ring->keys of the key named `name` (presentation form, any
 * case, final dot optional), or -1. */
int tsig_keyring_index(const struct tsig_keyring *ring, const char *name)
    __attribute__((nonnull, pure));

/** A received TSIG record (RFC 8945 §4.2). Pointers point into the message. */
struct tsig_rr {
	size_t rr_offset;		/* where the record (its owner) starts */
	uint8_t key_name[DNAME_MAXLEN]; /* lowercased */
	uint8_t alg_name[DNAME_MAXLEN]; /* lowercased */
	uint64_t time_signed;		/* 48 bits */
	uint16_t fudge;
	uint16_t mac_len;
	const uint8_t *mac;
	uint16_t orig_id;
	uint16_t error;
	uint16_t other_len;
	const uint8_t *other;
};

/**
 * Reads the TSIG record that starts at msg[rr_offset] and must end exactly
 * at msg[len] (it is the last record). SOV_OK, or SOV_EMALF if the record
 * is not a well-formed TSIG of class ANY and TTL 0 ending at len.
 */
int tsig_rr_parse(const uint8_t *msg, size_t len, size_t rr_offset, struct tsig_rr *out)
    __attribute__((nonnull, warn_unused_result));

/**
 * The state that ties the messages of one exchange together: which key,
 * the last MAC (to chain the next one), and, while verifying a
 * multi-message response, the HMAC still open over unsigned messages.
 * Zero-initialise with tsig_ctx_init(); release with tsig_ctx_clear().
 */
struct tsig_ctx {
	const struct tsig_key *key;
	uint8_t mac[TSIG_MAC_MAX]; /* the previous MAC in the exchange */
	uint16_t mac_len;	   /* 0: none yet (a request being signed) */
	uint16_t fudge;
	unsigned messages;     /* messages signed or verified so far */
	bool in_reply;	       /* a reply's first message is done: later ones
				  chain the previous MAC and the timers only */
	unsigned unsigned_run; /* consecutive unsigned messages seen (verify) */
	void *open;	       /* private: EVP_MAC_CTX over unsigned messages */
};

void tsig_ctx_init(struct tsig_ctx *c, const struct tsig_key *key) __attribute__((nonnull(1)));
void tsig_ctx_clear(struct tsig_ctx *c) __attribute__((nonnull));

/** The outcome of checking a signed request (server side). */
struct tsig_verdict {
	uint8_t rcode;	   /* 0 (NOERROR: go on), 1 FORMERR, 9 NOTAUTH */
	uint16_t error;	   /* TSIG_ERR_* for the reply's TSIG record */
	struct tsig_rr rr; /* the request's record, as parsed */
};

/**
 * Checks the TSIG record of the request msg[0..len), which starts at
 * rr_offset (dns_query_parse's tsig_offset), against ring at time now_s.
 * Fills *v; when v->rcode is 0 the request is authentic and *ctx is ready
 * to sign the reply (its key and the request MAC). When v->error is
 * BADTIME, *ctx is also ready: that error reply is signed (§5.2.3).
 * Returns SOV_OK (see *v), SOV_EMALF (record unreadable: FORMERR), or
 * SOV_ENOMEM/SOV_ESYS (OpenSSL failed: answer SERVFAIL).
 */
int tsig_verify_request(const struct tsig_keyring *ring, const uint8_t *msg, size_t len,
			size_t rr_offset, uint64_t now_s, struct tsig_ctx *ctx,
			struct tsig_verdict *v) __attribute__((nonnull, warn_unused_result));

/**
 * Signs the message msg[0..*len) (no TSIG record yet) with ctx, appending
 * a TSIG record and incrementing ARCOUNT; *len grows. The first message of
 * a request has no prior MAC; a reply's first message chains the request's
 * MAC (ctx after tsig_verify_request); each later message of a
 * multi-message reply chains the previous one and covers only the timers
 * (RFC 8945 §5.3.1). error is TSIG_ERR_NONE, or BADTIME (then Other Data
 * holds now_s, §5.2.3). orig_id is the message ID to record (the query's).
 * Returns SOV_OK, SOV_ESPACE if cap cannot hold the record, or SOV_ESYS.
 */
int tsig_sign(struct tsig_ctx *ctx, uint8_t *msg, size_t *len, size_t cap, uint64_t now_s,
	      uint16_t error) __attribute__((nonnull, warn_unused_result));

/**
 * Appends the unsigned TSIG record of a BADKEY/BADSIG reply (RFC 8945
 * §5.2.1, §5.2.2): the request's key name, algorithm, time signed and
 * fudge, MAC size 0, the original ID and `error`. Increments ARCOUNT.
 * SOV_OK or SOV_ESPACE.
 */
int tsig_append_unsigned(uint8_t *msg, size_t *len, size_t cap, const struct tsig_rr *req,
			 uint16_t error) __attribute__((nonnull, warn_unused_result));

/**
 * Verifies one message of a reply received by a client (a transfer, a
 * NOTIFY or UPDATE answer) that ctx signed the request of. The first
 * message must be signed; later ones may come without TSIG, up to 99 in a
 * row (§5.3.1), and are folded into the next signed one. A verified
 * message has its TSIG record stripped: *len shrinks and ARCOUNT drops.
 * Returns SOV_OK; SOV_EINVAL (unsigned where a MAC is required, wrong key,
 * bad MAC, a TSIG error from the server, time outside the fudge), with a
 * reason in err; SOV_EMALF (unreadable record).
 */
int tsig_verify_reply(struct tsig_ctx *ctx, uint8_t *msg, size_t *len, uint64_t now_s, char *err,
		      size_t errcap) __attribute__((nonnull(1, 2, 3), warn_unused_result));

/**
 * Finds the TSIG record of msg[0..len): the last record of the additional
 * section when its type is TSIG. SOV_OK with its offset in *rr_offset,
 * SOV_ENOENT when the message has none, SOV_EMALF when the message cannot
 * be walked.
 */
int tsig_find(const uint8_t *msg, size_t len, size_t *rr_offset)
    __attribute__((nonnull, warn_unused_result));

/**
 * True when a client that has verified every message so far may accept
 * the exchange as finished: the last message it saw was signed.
 */
bool tsig_reply_complete(const struct tsig_ctx *ctx) __attribute__((nonnull));

#endif
