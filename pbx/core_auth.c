/*
 * core_auth.c: digest authentication of requests (RFC 3261 22, RFC 7616,
 * RFC 8760) against the config snapshot.
 *
 * An unknown user and a wrong password get the same answer, a fresh 401,
 * after the same work (the response is checked against a dummy HA1 when the
 * user does not exist), so neither the answer nor its timing tells a
 * scanner which extensions exist. Every failure counts against the source
 * in the throttle.
 */
#include "core_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"

/* HA1 values no password produces in practice; used for unknown users. */
static const char dummy_md5[] = "00000000000000000000000000000000";
static const char dummy_sha256[] = "0000000000000000000000000000000000000000000000000000000000000000";

void core_auth_apply_config(struct core *c)
{
	(void)c; /* realm and lifetime are read from c->cfg at each use */
}

static void challenge(struct core *c, struct sip_txn *st, const struct sip_msg *req,
		      const struct sip_dest *src, bool stale)
{
	char nonce[96], h[512];
	struct sip_buf b;
	c->st.auth_challenges++;
	if (digest_nonce_make(c->nonces, c->now_ms / 1000, nonce, sizeof nonce) != 0) {
		core_reply(c, st, req, src, 500, NULL);
		return;
	}
	core_begin_reply(c, &b, req, src, 401);
	/* RFC 8760 2.4 lists the preferred challenge first. The default leads
	 * with MD5: many deployed phones (and SIPp) read only the first
	 * challenge and give up on SHA-256; clients that do both still find
	 * SHA-256 in the second. Some (libre 1.1, baresip 1.0) refuse any
	 * SHA-256 challenge at all: auth_algorithms "MD5" serves offices with
	 * such phones. */
	const char *algs = c->cfg->auth_algorithms;
	while (*algs) {
		enum digest_alg alg = strncmp(algs, "MD5", 3) == 0 ? DIGEST_MD5 : DIGEST_SHA256;
		if (digest_challenge(h, sizeof h, c->realm, nonce, alg, stale) >= 0) {
			sip_buf_str(&b, "WWW-Authenticate: ");
			sip_buf_str(&b, h);
			sip_buf_str(&b, "\r\n");
		}
		const char *comma = strchr(algs, ',');
		algs = comma ? comma + 1 : "";
	}
	sip_build_end(&b, NULL, 0);
	core_send_built(c, st, req, src, &b, 401);
}

static void failed(struct core *c, const struct sip_dest *src, const char *user, size_t ulen,
		   const char *why)
{
	char a[SIP_ADDRSTR_MAX];
	c->st.auth_failures++;
	sip_addr_str(&src->peer, a, sizeof a);
	log_info("auth: %s for '%.*s' from %s", why, (int)(ulen > 32 ? 32 : ulen), user, a);
	if (throttle_fail(c->thr, &src->peer, c->now_ms))
		log_warn("auth: %s banned for %u s after repeated failures", a, c->cfg->ban_time);
}

/* Pick the credentials for our realm, preferring SHA-256. */
static bool find_creds(struct core *c, const struct sip_msg *req, struct digest_creds *out, bool *bad)
{
	bool found = false;
	*bad = false;
	for (unsigned i = 0; i < req->nhdrs; i++) {
		const struct sip_hdr *h = &req->hdrs[i];
		if (h->id != SIP_HDR_AUTHORIZATION && h->id != SIP_HDR_PROXY_AUTHORIZATION)
			continue;
		/* Another scheme (RFC 4475 regaut01) is not for us: challenge. */
		if (h->value.len < 7 || strncasecmp(h->value.p, "Digest", 6) != 0 ||
		    (h->value.p[6] != ' ' && h->value.p[6] != '\t'))
			continue;
		struct digest_creds cr;
		int err = digest_parse(h->value, &cr);
		if (err == ENOTSUP)
			continue; /* another algorithm or qop: our challenge offers ours */
		if (err) {
			*bad = true;
			continue;
		}
		if (!slice_eq_cstr(cr.realm, c->realm))
			continue;
		if (!found || (cr.alg == DIGEST_SHA256 && out->alg != DIGEST_SHA256))
			*out = cr;
		found = true;
	}
	return found;
}

const struct config_ext *core_auth(struct core *c, struct sip_txn *st, const struct sip_msg *req,
				   const struct sip_dest *src, struct slice want_user)
{
	struct digest_creds cr;
	bool bad;
	if (!find_creds(c, req, &cr, &bad)) {
		if (bad) {
			failed(c, src, "", 0, "unparseable credentials");
			core_reply(c, st, req, src, 400, NULL);
			return NULL;
		}
		challenge(c, st, req, src, false);
		return NULL;
	}
	bool has_nc = cr.qop.p != NULL;
	/* Monotonic: a wall clock stepping back must not make nonces look forged. */
	uint64_t now_s = c->now_ms / 1000;
	enum digest_nonce_verdict v = digest_nonce_check(c->nonces, cr.nonce, has_nc, cr.nc_val, now_s);
	if (v == NONCE_STALE) {
		challenge(c, st, req, src, true);
		return NULL;
	}
	const struct config_ext *ext = config_ext_find(c->cfg, cr.username.p, cr.username.len);
	const char *ha1 = ext ? (cr.alg == DIGEST_SHA256 ? ext->ha1_sha256 : ext->ha1_md5)
			      : (cr.alg == DIGEST_SHA256 ? dummy_sha256 : dummy_md5);
	/* Always do the hashing, so failures of every kind take the same time. */
	bool ok = digest_response_ok(&cr, req->method, ha1);
	if (v != NONCE_OK || !ext || !ok) {
		failed(c, src, cr.username.p, cr.username.len,
		       v == NONCE_INVALID ? "forged or garbled nonce"
		       : v == NONCE_REPLAY ? "replayed nonce count"
		       : "wrong credentials");
		if (v != NONCE_OK) {
			challenge(c, st, req, src, false);
			return NULL;
		}
		/* A fresh nonce and a wrong answer: final. Re-challenging makes
		 * many phones retry the same wrong password in a loop until
		 * their address is banned (libre does); 403 stops them. The
		 * answer is the same for an unknown extension. */
		core_reply(c, st, req, src, 403, NULL);
		return NULL;
	}
	digest_nonce_commit(c->nonces, cr.nonce, has_nc, cr.nc_val);
	if (want_user.p && !slice_eq(want_user, cr.username)) {
		/* Right password, but for somebody else's extension. */
		char a[SIP_ADDRSTR_MAX];
		log_info("auth: '%s' may not act for '%.*s' (from %s)", ext->number,
			 (int)(want_user.len > 32 ? 32 : want_user.len), want_user.p,
			 sip_addr_str(&src->peer, a, sizeof a));
		core_reply(c, st, req, src, 403, NULL);
		return NULL;
	}
	c->st.auth_ok++;
	return ext;
}
