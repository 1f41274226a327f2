/*
 * sdp_negotiate.c: offer/answer decisions for one leg (RFC 3264) with
 * SDES keys (RFC 4568).
 *
 * The B2BUA terminates SDP on each leg: a leg's offer is answered from our
 * capabilities (sdp_answer_make, then sdp_answer_write for the text), our
 * own offers come from the same capabilities (sdp_offer_make), and the
 * answer to one of ours is folded back (sdp_answer_apply). The results are
 * struct sdp_neg, what the media thread needs to set up the leg. We carry
 * one audio stream per leg; video is only ever relayed, and only when both
 * legs share a codec (sdp_video_match).
 */
#include "sdp.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <string.h>

/* Payload types we assign in our offers (RFC 3551 dynamic range). */
#define PT_OPUS 111
#define PT_TEL_EVENT_48K 110
#define PT_TEL_EVENT_8K 101

int sdp_origin_init(struct sdp_origin *o, uint64_t sess_id)
{
	if (!o)
		return EINVAL;
	if (sess_id == 0) {
		if (gnutls_rnd(GNUTLS_RND_NONCE, &sess_id, sizeof(sess_id)) != 0)
			return EIO;
		/* Keep it within 63 bits so peers parsing it as signed are happy, never 0. */
		sess_id = (sess_id >> 1) | 1;
	}
	o->sess_id = sess_id;
	o->version = sess_id & 0xffffffffu;
	return 0;
}

static enum sdp_dir dir_or_sendrecv(enum sdp_dir d)
{
	return d == SDP_DIR_UNSET ? SDP_DIR_SENDRECV : d;
}

/* What the remote side's description lets it do: a null address (RFC 2543
 * hold) means it receives nothing whatever the attribute says. */
static unsigned remote_dir(const struct sdp_session *s, const struct sdp_media *m)
{
	unsigned d = (unsigned)sdp_media_dir(s, m);
	if (sdp_media_conn(s, m)->null)
		d &= ~SDP_DIR_RECV;
	return d;
}

/* Our direction given theirs (RFC 3264 6.1): we send only what they
 * receive, we receive only what they send, and only what we can. */
static enum sdp_dir dir_answer(unsigned theirs, enum sdp_dir ours)
{
	unsigned can = (unsigned)dir_or_sendrecv(ours);
	unsigned d = 0;
	if ((theirs & SDP_DIR_RECV) && (can & SDP_DIR_SEND))
		d |= SDP_DIR_SEND;
	if ((theirs & SDP_DIR_SEND) && (can & SDP_DIR_RECV))
		d |= SDP_DIR_RECV;
	return (enum sdp_dir)d;
}

static void remote_fill(const struct sdp_session *s, const struct sdp_media *m,
			struct sdp_neg_media *nm)
{
	nm->remote_conn = *sdp_media_conn(s, m);
	nm->remote_port = m->port;
	if (m->rtcp_port)
		nm->remote_rtcp_port = m->rtcp_port;
	else if (m->port < 65535)
		nm->remote_rtcp_port = (uint16_t)(m->port + 1);
	nm->remote_ptime = m->ptime;
	unsigned d = remote_dir(s, m);
	nm->remote_hold = !(d & SDP_DIR_RECV);
}

static bool local_has(const struct sdp_local *l, enum sdp_codec c)
{
	for (size_t i = 0; i < l->ncodecs; i++)
		if (l->codecs[i] == c)
			return true;
	return false;
}

/* The offered format we use for audio, or NULL. */
static const struct sdp_fmt *pick_codec(const struct sdp_media *m, const struct sdp_local *l)
{
	if (l->local_order) {
		for (size_t i = 0; i < l->ncodecs; i++)
			for (size_t j = 0; j < m->nfmt; j++)
				if (l->codecs[i] != SDP_CODEC_TEL_EVENT &&
				    sdp_fmt_codec(&m->fmt[j]) == l->codecs[i])
					return &m->fmt[j];
		return NULL;
	}
	for (size_t j = 0; j < m->nfmt; j++) {
		enum sdp_codec c = sdp_fmt_codec(&m->fmt[j]);
		if (c != SDP_CODEC_UNKNOWN && c != SDP_CODEC_TEL_EVENT && local_has(l, c))
			return &m->fmt[j];
	}
	return NULL;
}

/* telephone-event at the audio codec's clock (RFC 4733 2.1), else any. */
static const struct sdp_fmt *pick_dtmf(const struct sdp_media *m, uint32_t clock)
{
	const struct sdp_fmt *any = NULL;
	for (size_t j = 0; j < m->nfmt; j++) {
		if (sdp_fmt_codec(&m->fmt[j]) != SDP_CODEC_TEL_EVENT)
			continue;
		if (m->fmt[j].clock == clock)
			return &m->fmt[j];
		if (!any)
			any = &m->fmt[j];
	}
	return any;
}

static const struct sdp_crypto *pick_crypto(const struct sdp_media *m)
{
	for (size_t i = 0; i < m->ncrypto; i++)
		if (m->crypto[i].suite_id != SDP_SRTP_UNKNOWN)
			return &m->crypto[i];
	return NULL;
}

static int fresh_key(const struct sdp_local *l, uint8_t key[SDP_SRTP_KEY_LEN])
{
	if (l->srtp_key) {
		memcpy(key, l->srtp_key, SDP_SRTP_KEY_LEN);
		return 0;
	}
	return gnutls_rnd(GNUTLS_RND_KEY, key, SDP_SRTP_KEY_LEN) == 0 ? 0 : EIO;
}

/* Accept the audio m-line if we can: 0, ENOTSUP (rejected: no codec, or
 * SRTP off/required and not what was offered), EIO (no random key). */
static int audio_answer(const struct sdp_session *s, const struct sdp_media *m,
			const struct sdp_local *l, struct sdp_neg_media *nm)
{
	const struct sdp_crypto *cr = NULL;
	switch (m->proto_id) {
	case SDP_PROTO_RTP_AVP:
		/* Best-effort SDES (crypto in RTP/AVP) is taken up unless SRTP is off. */
		if (l->srtp != SDP_SRTP_OFF)
			cr = pick_crypto(m);
		if (l->srtp == SDP_SRTP_REQUIRED && !cr)
			return ENOTSUP;
		break;
	case SDP_PROTO_RTP_SAVP:
		if (l->srtp == SDP_SRTP_OFF)
			return ENOTSUP;
		cr = pick_crypto(m);
		if (!cr)
			return ENOTSUP;
		break;
	default:
		return ENOTSUP;
	}
	const struct sdp_fmt *f = pick_codec(m, l);
	if (!f)
		return ENOTSUP;
	nm->codec = sdp_fmt_codec(f);
	nm->pt = (uint8_t)f->pt;
	nm->clock = f->clock;
	nm->channels = f->channels;
	nm->remote_fmtp = f->fmtp;
	const struct sdp_fmt *te = l->dtmf ? pick_dtmf(m, f->clock) : NULL;
	if (te) {
		nm->dtmf = true;
		nm->dtmf_pt = (uint8_t)te->pt;
		nm->dtmf_clock = te->clock;
	}
	if (cr) {
		int rc = fresh_key(l, nm->local_key);
		if (rc)
			return rc;
		nm->srtp = true;
		nm->suite = cr->suite_id;
		nm->crypto_tag = cr->tag;
		memcpy(nm->remote_key, cr->key, SDP_SRTP_KEY_LEN);
		nm->remote_lifetime = cr->lifetime;
		nm->remote_mki = cr->mki;
	}
	remote_fill(s, m, nm);
	nm->dir = dir_answer(remote_dir(s, m), l->dir);
	nm->rtcp_mux = m->rtcp_mux && l->rtcp_mux;
	nm->accepted = true;
	return 0;
}

/* Same video codec: encoding name (case-insensitive) and clock rate. */
static bool video_fmt_eq(const struct sdp_fmt *a, const struct sdp_fmt *b)
{
	return a->enc.p && b->enc.p && slice_ieq(a->enc, b->enc) && a->clock == b->clock;
}

static bool video_answer(const struct sdp_session *s, const struct sdp_media *m,
			 const struct sdp_local *l, struct sdp_neg_media *nm)
{
	const struct sdp_media *peer = l->video_peer;
	if (!l->video_port || !peer || m->proto_id != SDP_PROTO_RTP_AVP || !m->rtp)
		return false;
	for (size_t i = 0; i < m->nfmt; i++)
		for (size_t j = 0; j < peer->nfmt; j++)
			if (video_fmt_eq(&m->fmt[i], &peer->fmt[j])) {
				nm->video_fmt[nm->nvideo++] = (uint8_t)i;
				break;
			}
	if (nm->nvideo == 0)
		return false;
	remote_fill(s, m, nm);
	nm->dir = dir_answer(remote_dir(s, m), l->dir);
	nm->rtcp_mux = m->rtcp_mux && l->rtcp_mux;
	nm->accepted = true;
	return true;
}

static bool local_ok(const struct sdp_local *l)
{
	return l && sdp_addr_valid(l->addr) && l->ncodecs <= SDP_MAX_CODECS && l->audio_port != 0 &&
	       (unsigned)l->srtp <= SDP_SRTP_REQUIRED && (unsigned)l->dir <= SDP_DIR_UNSET;
}

int sdp_answer_make(const struct sdp_session *offer, const struct sdp_local *local,
		    struct sdp_neg *out)
{
	if (!offer || !out || !local_ok(local) || offer->nmedia > SDP_MAX_MEDIA)
		return EINVAL;
	memset(out, 0, sizeof(*out));
	out->nmedia = offer->nmedia;
	out->audio = -1;
	bool video_done = false;
	for (size_t i = 0; i < offer->nmedia; i++) {
		const struct sdp_media *m = &offer->media[i];
		struct sdp_neg_media *nm = &out->media[i];
		nm->offer_index = i;
		nm->kind = m->kind;
		nm->dir = SDP_DIR_INACTIVE;
		if (m->port == 0)
			continue;
		if (m->kind == SDP_MEDIA_AUDIO && out->audio < 0) {
			int rc = audio_answer(offer, m, local, nm);
			if (rc == 0) {
				out->audio = (int)i;
				continue;
			}
			if (rc == EIO)
				return rc;
			/* A rejected line keeps nothing but its position. */
			memset(nm, 0, sizeof(*nm));
			nm->offer_index = i;
			nm->kind = m->kind;
			nm->dir = SDP_DIR_INACTIVE;
		} else if (m->kind == SDP_MEDIA_VIDEO && !video_done) {
			video_done = video_answer(offer, m, local, nm);
			if (!video_done) {
				memset(nm, 0, sizeof(*nm));
				nm->offer_index = i;
				nm->kind = m->kind;
				nm->dir = SDP_DIR_INACTIVE;
			}
		}
	}
	return out->audio < 0 ? ENOTSUP : 0;
}

/* ---- our offer ---- */

static void offer_codec(struct sdp_offer *st, enum sdp_codec c, uint8_t pt, uint32_t clock)
{
	st->codec[st->ncodecs].codec = c;
	st->codec[st->ncodecs].pt = pt;
	st->codec[st->ncodecs].clock = clock;
	st->ncodecs++;
}

int sdp_offer_make(const struct sdp_local *local, struct sdp_origin *o, struct sdp_offer *st,
		   struct sip_buf *buf)
{
	if (!local_ok(local) || !o || !st || !buf || local->ncodecs == 0)
		return EINVAL;
	memset(st, 0, sizeof(*st));
	bool opus = false;
	for (size_t i = 0; i < local->ncodecs; i++) {
		enum sdp_codec c = local->codecs[i];
		const struct sdp_codec_info *ci = sdp_codec_info(c);
		bool dup = false;
		for (size_t j = 0; j < st->ncodecs; j++)
			dup |= st->codec[j].codec == c;
		if (dup || c == SDP_CODEC_UNKNOWN || c == SDP_CODEC_TEL_EVENT || ci->name[0] == '\0')
			continue;
		offer_codec(st, c, ci->static_pt >= 0 ? (uint8_t)ci->static_pt : PT_OPUS, ci->clock);
		opus |= c == SDP_CODEC_OPUS;
	}
	if (st->ncodecs == 0)
		return EINVAL;
	if (local->dtmf) {
		if (opus)
			offer_codec(st, SDP_CODEC_TEL_EVENT, PT_TEL_EVENT_48K, 48000);
		offer_codec(st, SDP_CODEC_TEL_EVENT, PT_TEL_EVENT_8K, 8000);
	}
	st->proto = local->srtp == SDP_SRTP_REQUIRED ? SDP_PROTO_RTP_SAVP : SDP_PROTO_RTP_AVP;
	st->srtp = local->srtp != SDP_SRTP_OFF;
	if (st->srtp) {
		/* A caller-supplied key serves both lines: only one is ever used. */
		int rc = fresh_key(local, st->key[0]);
		if (!rc)
			rc = local->srtp_key ? (memcpy(st->key[1], st->key[0], SDP_SRTP_KEY_LEN), 0)
					     : fresh_key(local, st->key[1]);
		if (rc)
			return rc;
	}
	st->rtcp_mux = local->rtcp_mux;
	st->dir = dir_or_sendrecv(local->dir);
	const struct sdp_media *vp = local->video_peer;
	st->video = local->video_port && vp && vp->kind == SDP_MEDIA_VIDEO &&
		    vp->proto_id == SDP_PROTO_RTP_AVP && vp->nfmt > 0;

	/* The text: session, audio, then the relayed video. */
	sdp_write_session(buf, local->addr, o);
	sip_buf_printf(buf, "m=audio %u %s", local->audio_port,
		       st->proto == SDP_PROTO_RTP_SAVP ? "RTP/SAVP" : "RTP/AVP");
	for (size_t i = 0; i < st->ncodecs; i++)
		sip_buf_printf(buf, " %u", st->codec[i].pt);
	sip_buf_str(buf, "\r\n");
	for (size_t i = 0; i < st->ncodecs; i++) {
		const struct sdp_codec_info *ci = sdp_codec_info(st->codec[i].codec);
		sip_buf_printf(buf, "a=rtpmap:%u %s/%u", st->codec[i].pt, ci->name, st->codec[i].clock);
		if (st->codec[i].codec == SDP_CODEC_OPUS)
			sip_buf_str(buf, "/2");
		sip_buf_str(buf, "\r\n");
		if (st->codec[i].codec == SDP_CODEC_OPUS && local->opus_fmtp)
			sip_buf_printf(buf, "a=fmtp:%u %s\r\n", st->codec[i].pt, local->opus_fmtp);
		if (st->codec[i].codec == SDP_CODEC_TEL_EVENT)
			sip_buf_printf(buf, "a=fmtp:%u 0-16\r\n", st->codec[i].pt);
	}
	if (local->ptime)
		sip_buf_printf(buf, "a=ptime:%u\r\n", local->ptime);
	if (local->rtcp_mux)
		sip_buf_str(buf, "a=rtcp-mux\r\n");
	if (st->srtp) {
		char b64[41];
		sdp_key_b64(st->key[0], b64);
		sip_buf_printf(buf, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n", b64);
		sdp_key_b64(st->key[1], b64);
		sip_buf_printf(buf, "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:%s\r\n", b64);
	}
	sip_buf_printf(buf, "a=%s\r\n", sdp_dir_name(st->dir));
	if (st->video) {
		sip_buf_printf(buf, "m=video %u RTP/AVP", local->video_port);
		for (size_t i = 0; i < vp->nfmt; i++) {
			sip_buf_str(buf, " ");
			sip_buf_slice(buf, vp->fmt[i].id);
		}
		sip_buf_str(buf, "\r\n");
		sdp_write_fmt_attrs(buf, vp, NULL, 0);
		sip_buf_printf(buf, "a=%s\r\n", sdp_dir_name(st->dir));
	}
	return sip_buf_ok(buf) ? 0 : ENOSPC;
}

/* ---- the answer to our offer ---- */

static const struct sdp_fmt *answer_fmt(const struct sdp_offer *st, const struct sdp_media *m,
					bool dtmf, size_t *which)
{
	for (size_t j = 0; j < m->nfmt; j++) {
		const struct sdp_fmt *f = &m->fmt[j];
		enum sdp_codec c = sdp_fmt_codec(f);
		for (size_t k = 0; k < st->ncodecs; k++) {
			bool is_dtmf = st->codec[k].codec == SDP_CODEC_TEL_EVENT;
			if (is_dtmf != dtmf)
				continue;
			/* By name and clock; a dynamic type without rtpmap only by our number. */
			bool same = c != SDP_CODEC_UNKNOWN
					    ? c == st->codec[k].codec && f->clock == st->codec[k].clock
					    : !f->enc.p && f->pt == st->codec[k].pt;
			if (same) {
				*which = k;
				return f;
			}
		}
	}
	return NULL;
}

int sdp_answer_apply(const struct sdp_offer *st, const struct sdp_session *answer,
		     struct sdp_neg *out)
{
	if (!st || !answer || !out || st->ncodecs > SDP_MAX_CODECS + 2)
		return EINVAL;
	memset(out, 0, sizeof(*out));
	out->audio = -1;
	size_t want = st->video ? 2 : 1;
	if (answer->nmedia != want)
		return EBADMSG;
	out->nmedia = want;

	const struct sdp_media *m = &answer->media[0];
	struct sdp_neg_media *nm = &out->media[0];
	nm->kind = SDP_MEDIA_AUDIO;
	nm->dir = SDP_DIR_INACTIVE;
	if (m->kind != SDP_MEDIA_AUDIO)
		return EBADMSG;
	if (m->port != 0) {
		if (m->proto_id != st->proto)
			return EBADMSG;
		size_t k;
		const struct sdp_fmt *f = answer_fmt(st, m, false, &k);
		if (!f)
			return EBADMSG;
		nm->codec = st->codec[k].codec;
		nm->pt = (uint8_t)f->pt;
		nm->clock = st->codec[k].clock;
		nm->channels = sdp_codec_info(nm->codec)->channels;
		nm->remote_fmtp = f->fmtp;
		const struct sdp_fmt *te = answer_fmt(st, m, true, &k);
		if (te) {
			nm->dtmf = true;
			nm->dtmf_pt = (uint8_t)te->pt;
			nm->dtmf_clock = st->codec[k].clock;
		}
		if (st->srtp && m->ncrypto > 0) {
			const struct sdp_crypto *c = &m->crypto[0];
			enum sdp_srtp_suite want_suite = c->tag == 1 ? SDP_SRTP_AES_CM_128_HMAC_SHA1_80
						       : c->tag == 2 ? SDP_SRTP_AES_CM_128_HMAC_SHA1_32
								     : SDP_SRTP_UNKNOWN;
			if (want_suite == SDP_SRTP_UNKNOWN || c->suite_id != want_suite)
				return EBADMSG;
			nm->srtp = true;
			nm->suite = c->suite_id;
			nm->crypto_tag = c->tag;
			memcpy(nm->local_key, st->key[c->tag - 1], SDP_SRTP_KEY_LEN);
			memcpy(nm->remote_key, c->key, SDP_SRTP_KEY_LEN);
			nm->remote_lifetime = c->lifetime;
			nm->remote_mki = c->mki;
		} else if (st->proto == SDP_PROTO_RTP_SAVP) {
			return EPROTO;
		}
		remote_fill(answer, m, nm);
		/* The answer's direction is theirs; ours is what it leaves us. */
		nm->dir = dir_answer(remote_dir(answer, m), st->dir);
		nm->rtcp_mux = st->rtcp_mux && m->rtcp_mux;
		nm->accepted = true;
		out->audio = 0;
	}

	if (st->video) {
		m = &answer->media[1];
		nm = &out->media[1];
		nm->kind = SDP_MEDIA_VIDEO;
		nm->offer_index = 1;
		nm->dir = SDP_DIR_INACTIVE;
		if (m->kind != SDP_MEDIA_VIDEO)
			return EBADMSG;
		if (m->port != 0 && m->rtp) {
			for (size_t i = 0; i < m->nfmt; i++)
				nm->video_fmt[nm->nvideo++] = (uint8_t)i;
			remote_fill(answer, m, nm);
			nm->dir = dir_answer(remote_dir(answer, m), st->dir);
			nm->rtcp_mux = st->rtcp_mux && m->rtcp_mux;
			nm->accepted = true;
		}
	}
	return 0;
}

/* ---- video pass-through ---- */

static const struct sdp_media *first_video(const struct sdp_session *s, size_t *idx)
{
	for (size_t i = 0; i < s->nmedia; i++)
		if (s->media[i].kind == SDP_MEDIA_VIDEO && s->media[i].port != 0 && s->media[i].rtp) {
			*idx = i;
			return &s->media[i];
		}
	return NULL;
}

void sdp_video_match(const struct sdp_session *a, const struct sdp_session *b,
		     struct sdp_video_match *out)
{
	memset(out, 0, sizeof(*out));
	if (!a || !b)
		return;
	const struct sdp_media *va = first_video(a, &out->a_media);
	const struct sdp_media *vb = first_video(b, &out->b_media);
	if (!va || !vb)
		return;
	for (size_t i = 0; i < va->nfmt; i++)
		for (size_t j = 0; j < vb->nfmt; j++)
			if (video_fmt_eq(&va->fmt[i], &vb->fmt[j])) {
				out->same = true;
				out->a_fmt = i;
				out->b_fmt = j;
				return;
			}
}
