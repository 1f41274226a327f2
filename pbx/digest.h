/*
 * digest.h: SIP digest authentication, server side (RFC 2617, RFC 7616 as
 * used by SIP through RFC 3261 and RFC 8760).
 *
 * Three pieces: a parser for the Authorization / Proxy-Authorization value,
 * the response check against a stored HA1, and stateless expiring nonces
 * with nc replay protection. The nonce table is owned by the SIP core thread;
 * nothing here locks.
 */
#ifndef PBX_DIGEST_H
#define PBX_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slice.h"

enum digest_alg { DIGEST_MD5 = 0, DIGEST_SHA256 = 1 };

#define DIGEST_HEX_MAX 65          /* 64 hex digits + NUL */
#define DIGEST_PARAMS_MAX 32       /* parameters accepted in one credentials value */
#define DIGEST_VALUE_MAX 4096      /* longest credentials value parsed */
#define DIGEST_NONCE_LEN 44        /* characters in a nonce from digest_nonce_make */
#define DIGEST_SLOTS_MAX ((size_t)1 << 26) /* largest nc table accepted */

/*
 * Parsed "Digest ..." credentials. Every slice points into the value given to
 * digest_parse and lives as long as that buffer does. Absent parameters are
 * SLICE_NULL. Quoted values are given without their quotes; an escaped quote
 * keeps its backslash.
 */
struct digest_creds {
	struct slice username, realm, nonce, uri, response, algorithm, cnonce, opaque, qop, nc;
	enum digest_alg alg; /* from algorithm=, MD5 when absent */
	uint32_t nc_val;     /* nc parsed as 8 hex digits, 0 if absent */
};

/*
 * Parse an Authorization / Proxy-Authorization header value. Returns 0,
 * EBADMSG (not Digest, bad syntax, duplicate parameter, more than
 * DIGEST_PARAMS_MAX parameters, longer than DIGEST_VALUE_MAX, missing
 * username/realm/nonce/uri/response, qop without nc/cnonce, nc not 8 hex
 * digits) or ENOTSUP (well-formed but an algorithm other than MD5 and SHA-256,
 * such as MD5-sess or SHA-512-256, or a qop other than "auth"): the caller
 * answers ENOTSUP with a fresh challenge. Unknown parameters are skipped.
 */
int digest_parse(struct slice value, struct digest_creds *out);

/* HA1 = H(user:realm:password) as lowercase hex. */
void digest_ha1(enum digest_alg alg, const char *user, const char *realm, const char *password,
		char out[DIGEST_HEX_MAX]);

/*
 * Check the response given the stored HA1 (hex, of c->alg) and the request
 * method: RFC 2617/7616 with qop=auth or without qop. The final compare is
 * constant-time. False on any mismatch, also on an HA1 of the wrong length.
 */
bool digest_response_ok(const struct digest_creds *c, struct slice method, const char *ha1_hex);

/*
 * Stateless expiring nonces with replay protection.
 *
 * A nonce carries its issue time, an instance id (random per
 * digest_nonces_new, so nonces of an earlier run of the daemon are stale even
 * when the key is kept), a 32-bit sequence number and a truncated
 * HMAC-SHA256 over them. The sequence number picks a slot in the nc table
 * (seq & (slots-1)); the slot remembers which sequence owns it and the
 * highest nc accepted. Issuing a nonce takes over its slot, so a nonce whose
 * slot was reused is answered stale and the client retries with a new one:
 * with 1<<20 slots and a 300 s lifetime that needs about 3500 challenges a
 * second. Single-threaded: the owner (the SIP core) is the only caller.
 */
struct digest_nonces;

/* key: 32 secret bytes; lifetime_s > 0; slots: a power of two up to
 * DIGEST_SLOTS_MAX. Memory: slots * 8 bytes. 0, EINVAL or ENOMEM. */
int digest_nonces_new(struct digest_nonces **out, const uint8_t key[32], unsigned lifetime_s,
		      size_t slots);
void digest_nonces_free(struct digest_nonces *n);

/* Write a fresh nonce (DIGEST_NONCE_LEN base64url characters and a NUL) into
 * out. now_s is the caller's clock in seconds (monotonic or wall, always the
 * same one). 0, or ENOSPC when cap is too small. */
int digest_nonce_make(struct digest_nonces *n, uint64_t now_s, char *out, size_t cap);

enum digest_nonce_verdict { NONCE_OK, NONCE_STALE, NONCE_INVALID, NONCE_REPLAY };

/*
 * Check a nonce presented in credentials. INVALID: garbled, MAC fails, or
 * issued in the future. STALE: expired (now_s >= issue + lifetime), issued by
 * an earlier instance, or its slot was taken over by a newer nonce. REPLAY:
 * with has_nc (qop present), nc is not greater than the last nc accepted for
 * this nonce; without, the nonce was already used once (a nonce without qop
 * is single use). Records nothing.
 */
enum digest_nonce_verdict digest_nonce_check(struct digest_nonces *n, struct slice nonce, bool has_nc,
					     uint32_t nc, uint64_t now_s);

/* After the response was verified: record nc (or the single use) so a replay
 * is refused. Does nothing for a nonce that digest_nonce_check would not
 * recognise. */
void digest_nonce_commit(struct digest_nonces *n, struct slice nonce, bool has_nc, uint32_t nc);

/*
 * Format the value of one WWW-Authenticate / Proxy-Authenticate header
 * (without the header name):
 *   Digest realm="pbx", nonce="...", algorithm=SHA-256, qop="auth"[, stale=true]
 * The daemon sends two, SHA-256 first then MD5 (RFC 8760 section 2.4). A
 * quote or backslash in realm is escaped; control characters are refused.
 * Returns the length written (NUL not counted) or -1 when it does not fit or
 * an argument is unusable.
 */
int digest_challenge(char *out, size_t cap, const char *realm, const char *nonce, enum digest_alg alg,
		     bool stale);

#endif
