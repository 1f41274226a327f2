/*
 * srtp_ctx.c: see srtp_ctx.h. A thin layer: it picks the libsrtp policy for
 * an SDES suite, maps libsrtp's status codes to errnos and checks buffer
 * room before libsrtp writes its trailer.
 */
#include "srtp_ctx.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

_Static_assert(SRTP_CTX_TRAILER >= SRTP_MAX_TRAILER_LEN + 4, "SRTP trailer room");

#define SRTP_CTX_WINDOW 1024 /* replay window, packets (libsrtp allows 64..32768) */

struct srtp_ctx {
	srtp_t session;
	enum srtp_ctx_dir dir;
	enum sdp_srtp_suite suite;
	uint8_t key[SDP_SRTP_KEY_LEN]; /* kept only to tell a changed key */
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t lib_status; /* written once under lib_once, read after it */
/* Never used, never freed: libsrtp2 built on NSS initialises NSS for every
 * HMAC context and shuts it down with the last one, so without a session
 * that lives as long as the process, the first SRTP call after a quiet spell
 * pays a whole NSS start-up (and NSS leaks a little each time). */
static srtp_t lib_keepalive;

static void lib_init_once(void)
{
	lib_status = srtp_init();
	if (lib_status != srtp_err_status_ok)
		return;
	srtp_policy_t pol;
	uint8_t key[SDP_SRTP_KEY_LEN] = { 0 };
	memset(&pol, 0, sizeof pol);
	srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
	srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
	pol.ssrc.type = ssrc_any_outbound;
	pol.key = key;
	pol.window_size = SRTP_CTX_WINDOW;
	lib_status = srtp_create(&lib_keepalive, &pol);
}

int srtp_ctx_lib_init(void)
{
	pthread_once(&lib_once, lib_init_once);
	return lib_status == srtp_err_status_ok ? 0 : EPROTO;
}

int srtp_ctx_new(struct srtp_ctx **out, enum sdp_srtp_suite suite,
		 const uint8_t key[SDP_SRTP_KEY_LEN], enum srtp_ctx_dir dir)
{
	if (!out || !key || (dir != SRTP_CTX_TX && dir != SRTP_CTX_RX))
		return EINVAL;
	*out = NULL;
	srtp_policy_t pol;
	memset(&pol, 0, sizeof pol);
	switch (suite) {
	case SDP_SRTP_AES_CM_128_HMAC_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
		break;
	case SDP_SRTP_AES_CM_128_HMAC_SHA1_32:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&pol.rtp);
		break;
	default:
		return EINVAL;
	}
	/* RFC 4568 6.2: SRTCP keeps the 80-bit tag with either suite */
	srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
	int rc = srtp_ctx_lib_init();
	if (rc)
		return rc;
	struct srtp_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return ENOMEM;
	c->dir = dir;
	c->suite = suite;
	memcpy(c->key, key, SDP_SRTP_KEY_LEN);
	pol.ssrc.type = dir == SRTP_CTX_TX ? ssrc_any_outbound : ssrc_any_inbound;
	pol.key = c->key;
	pol.window_size = SRTP_CTX_WINDOW;
	pol.allow_repeat_tx = 0;
	pol.next = NULL;
	srtp_err_status_t st = srtp_create(&c->session, &pol);
	if (st != srtp_err_status_ok) {
		explicit_bzero(c->key, sizeof c->key);
		free(c);
		return st == srtp_err_status_alloc_fail ? ENOMEM : EPROTO;
	}
	*out = c;
	return 0;
}

void srtp_ctx_free(struct srtp_ctx *c)
{
	if (!c)
		return;
	srtp_dealloc(c->session);
	explicit_bzero(c->key, sizeof c->key);
	free(c);
}

bool srtp_ctx_same(const struct srtp_ctx *c, enum sdp_srtp_suite suite,
		   const uint8_t key[SDP_SRTP_KEY_LEN])
{
	return c && key && c->suite == suite && memcmp(c->key, key, SDP_SRTP_KEY_LEN) == 0;
}

static int status_errno(srtp_err_status_t st)
{
	switch (st) {
	case srtp_err_status_ok:
		return 0;
	case srtp_err_status_auth_fail:
	case srtp_err_status_bad_param:
	case srtp_err_status_parse_err:
	case srtp_err_status_no_ctx:
		return EBADMSG;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
		return EALREADY;
	default:
		return EPROTO;
	}
}

/* libsrtp counts lengths in int; packets come from UDP so they are far below. */
static int run(struct srtp_ctx *c, enum srtp_ctx_dir want, uint8_t *buf, size_t *len, size_t cap,
	       srtp_err_status_t (*fn)(srtp_t, void *, int *))
{
	if (!c || !buf || !len || c->dir != want)
		return EINVAL;
	if (*len > INT_MAX - SRTP_CTX_TRAILER)
		return EBADMSG;
	if (want == SRTP_CTX_TX && (cap < SRTP_CTX_TRAILER || *len > cap - SRTP_CTX_TRAILER))
		return ENOBUFS;
	int n = (int)*len;
	int rc = status_errno(fn(c->session, buf, &n));
	if (rc)
		return rc;
	if (n < 0)
		return EPROTO;
	*len = (size_t)n;
	return 0;
}

int srtp_ctx_protect_rtp(struct srtp_ctx *c, uint8_t *buf, size_t *len, size_t cap)
{
	return run(c, SRTP_CTX_TX, buf, len, cap, srtp_protect);
}

int srtp_ctx_unprotect_rtp(struct srtp_ctx *c, uint8_t *buf, size_t *len)
{
	return run(c, SRTP_CTX_RX, buf, len, 0, srtp_unprotect);
}

int srtp_ctx_protect_rtcp(struct srtp_ctx *c, uint8_t *buf, size_t *len, size_t cap)
{
	return run(c, SRTP_CTX_TX, buf, len, cap, srtp_protect_rtcp);
}

int srtp_ctx_unprotect_rtcp(struct srtp_ctx *c, uint8_t *buf, size_t *len)
{
	return run(c, SRTP_CTX_RX, buf, len, 0, srtp_unprotect_rtcp);
}
