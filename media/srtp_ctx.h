/*
 * srtp_ctx.h: one direction of SDES-keyed SRTP/SRTCP (RFC 3711, RFC 4568)
 * over libsrtp2: AES_CM_128_HMAC_SHA1_80 and _32.
 *
 * A context is made from the 30 bytes of an a=crypto inline key (16 bytes
 * of master key, then 14 of master salt) and either protects what we send
 * (any SSRC, outbound) or checks and decrypts what we receive (any SSRC,
 * inbound, with libsrtp's replay window). SRTCP always carries the 80-bit
 * tag, as RFC 4568 6.2 says for both suites. Packets are processed in place:
 * protecting appends at most SRTP_CTX_TRAILER bytes, so the buffer needs
 * that much room after the packet. One context belongs to one thread.
 */
#ifndef PBX_SRTP_CTX_H
#define PBX_SRTP_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sdp.h"

/* Bytes protecting may add: tag (up to 16), MKI (up to 128), SRTCP index (4). */
#define SRTP_CTX_TRAILER 148

enum srtp_ctx_dir {
	SRTP_CTX_TX, /* protect what we send */
	SRTP_CTX_RX, /* unprotect what we receive */
};

struct srtp_ctx;

/* Initialise libsrtp2 for the process; any thread, any number of times.
 * 0 or EPROTO. srtp_ctx_new calls it too. */
int srtp_ctx_lib_init(void);

/* 0, EINVAL (unknown suite, NULL), ENOMEM or EPROTO (libsrtp refused). */
int srtp_ctx_new(struct srtp_ctx **out, enum sdp_srtp_suite suite,
		 const uint8_t key[SDP_SRTP_KEY_LEN], enum srtp_ctx_dir dir);
/* Wipes the key. NULL is fine. */
void srtp_ctx_free(struct srtp_ctx *c);

/* Whether c was made from this suite and key (a re-offer that kept its
 * key keeps the context, and with it the rollover counter and replay
 * window). */
bool srtp_ctx_same(const struct srtp_ctx *c, enum sdp_srtp_suite suite,
		   const uint8_t key[SDP_SRTP_KEY_LEN]);

/*
 * In place; *len is the packet length before and after. cap is the size of
 * buf (protecting needs *len + SRTP_CTX_TRAILER <= cap). 0, or: EINVAL (wrong
 * direction, NULL), ENOBUFS (no room), EBADMSG (too short, malformed, or
 * the authentication tag does not match), EALREADY (a replayed or too old
 * packet), EPROTO (any other libsrtp failure). On failure buf is
 * unspecified.
 */
int srtp_ctx_protect_rtp(struct srtp_ctx *c, uint8_t *buf, size_t *len, size_t cap);
int srtp_ctx_unprotect_rtp(struct srtp_ctx *c, uint8_t *buf, size_t *len);
int srtp_ctx_protect_rtcp(struct srtp_ctx *c, uint8_t *buf, size_t *len, size_t cap);
int srtp_ctx_unprotect_rtcp(struct srtp_ctx *c, uint8_t *buf, size_t *len);

#endif
